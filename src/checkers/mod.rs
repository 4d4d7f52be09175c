//! Health checkers (HTTP_GET, SSL_GET, TCP_CHECK, MISC_CHECK, SMTP_CHECK, DNS_CHECK,
//! UDP_CHECK, PING_CHECK, FILE_CHECK), asynchronous on tokio.
//!
//! Contract with the LVS side: checkers report *transitions* as [`CheckerEvent`]s on a
//! channel; the LVS side owns the real-server state, quorum and the kernel table.

use serde::Serialize;

/// Identifies one checker by its place in the configuration:
/// `config.virtual_servers[vs].real_servers[rs].checkers[checker]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
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

pub mod dns;
pub mod file;
pub mod http;
pub mod http_response;
pub mod manager;
pub mod misc;
pub mod net;
pub mod ping;
pub mod settings;
pub mod smtp;
pub mod state;
pub mod steps;
pub mod tcp;
pub mod thread;
pub mod udp;

pub use manager::CheckerManager;
pub use settings::CheckSettings;
pub use thread::CheckerThread;

/// What one attempt of a check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The check passed. `weight`: a new weight for dynamic checkers (MISC_CHECK
    /// `misc_dynamic`, FILE_CHECK); `msg`: keepalived's success line.
    Up { weight: Option<u32>, msg: String },
    /// The check failed; `reason` is keepalived's error line
    /// (`TCP connection to [10.0.0.2]:tcp:80 failed.`).
    Down { reason: String },
}

impl Verdict {
    pub fn up(msg: impl Into<String>) -> Verdict {
        Verdict::Up {
            weight: None,
            msg: msg.into(),
        }
    }
    pub fn down(reason: impl Into<String>) -> Verdict {
        Verdict::Down {
            reason: reason.into(),
        }
    }
    pub fn is_up(&self) -> bool {
        matches!(self, Verdict::Up { .. })
    }
}

/// Runs one attempt bounded by `limit`; past it the attempt is dropped (its sockets
/// closed) and the check fails with `on_timeout`'s reason.
pub async fn bounded(
    limit: std::time::Duration,
    attempt: impl std::future::Future<Output = Verdict>,
    on_timeout: impl FnOnce() -> String,
) -> Verdict {
    match tokio::time::timeout(limit, attempt).await {
        Ok(v) => v,
        Err(_) => Verdict::down(on_timeout()),
    }
}
