//! Process concerns: logging, pid files, signals, and starting the VRRP and LVS sides.
//!
//! The two sides are tokio tasks in one process. Each is started with its part of the
//! configuration and a [`Control`]: a new configuration arrives on `reload` after SIGHUP
//! (already parsed and validated: a broken file never reaches a side), and `shutdown`
//! turns true on SIGTERM/SIGINT, after which the side resigns and cleans up, then returns.

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

/// Runs the daemon with an already loaded configuration until it is told to stop.
pub fn run(_opts: Options, _config: Config) -> anyhow::Result<()> {
    anyhow::bail!("the daemon is not implemented yet")
}
