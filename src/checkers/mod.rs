//! Health checkers (HTTP_GET, SSL_GET, TCP_CHECK, MISC_CHECK, SMTP_CHECK, DNS_CHECK,
//! UDP_CHECK, PING_CHECK, FILE_CHECK), asynchronous on tokio.
//!
//! Contract with the LVS side: checkers report *transitions* as [`CheckerEvent`]s on a
//! channel; the LVS side owns the real-server state, quorum and the kernel table.

use serde::Serialize;

/// Identifies one checker by its place in the configuration:
/// `config.virtual_servers[vs].real_servers[rs].checkers[checker]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct CheckerId {
    pub vs: usize,
    pub rs: usize,
    pub checker: usize,
}

/// A checker's verdict changed (or, for dynamic checkers, its weight did).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckerEvent {
    pub id: CheckerId,
    pub up: bool,
    /// A new weight for the real server (MISC_CHECK `misc_dynamic`, FILE_CHECK); None:
    /// keep the configured weight.
    pub weight: Option<u32>,
    /// Why, for the log line and the alert mail ("HTTP status code 500", "timeout", …).
    pub reason: String,
}
