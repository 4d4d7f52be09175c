//! What the daemon and the two sides (VRRP, LVS) share: the [`Control`] a side runs
//! under, the dump registry ([`report`]) and the global section of the dump files
//! ([`dump_global`]). A leaf: it imports neither the daemon nor a side, so the sides
//! import it instead of the daemon that starts them.

pub mod dump_global;
pub mod report;

use crate::cli::Options;
use crate::config::Config;
use std::sync::Arc;
use tokio::sync::watch;

/// What a running side (VRRP or LVS) is told by the daemon.
#[derive(Clone)]
pub struct Control {
    pub opts: Arc<Options>,
    /// The newest accepted configuration; `changed()` fires on each reload.
    pub reload: watch::Receiver<Arc<Config>>,
    /// Turns true once, when the daemon is asked to stop.
    pub shutdown: watch::Receiver<bool>,
}
