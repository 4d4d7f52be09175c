//! What the daemon and the two sides (VRRP, LVS) share: the [`Control`] a side runs
//! under, the dump registry ([`report`]) and the global section of the dump files
//! ([`dump_global`]), and the process's start time ([`since_start`]). A leaf: it imports neither the daemon nor a side, so the sides
//! import it instead of the daemon that starts them.

pub mod dump_global;
pub mod heartbeat;
pub mod report;

use crate::cli::Options;
use crate::config::Config;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// What a running side (VRRP or LVS) is told by the daemon.
#[derive(Clone)]
pub struct Control {
    pub opts: Arc<Options>,
    /// The newest accepted configuration; `changed()` fires on each reload.
    pub reload: watch::Receiver<Arc<Config>>,
    /// Turns true once, when the daemon is asked to stop.
    pub shutdown: watch::Receiver<bool>,
    /// The side's answer to the daemon (its own per side): see [`Control::beat`].
    pub heartbeat: heartbeat::Heartbeat,
    /// Whether the daemon is reading a reloaded file now (from the SIGHUP until the
    /// configuration is handed over or refused): background work that can wait, waits.
    pub reading: ReloadReading,
}

/// Whether a reload is being read: set by the daemon for as long as a [`ReadingNow`] it
/// took lives, seen by the sides (clones share it). The LVS side gives up or puts off
/// its heal pass meanwhile: reading a large table back (seconds in a slow guest) would
/// compete with the reload's own reading and parsing for the CPU.
#[derive(Clone, Debug, Default)]
pub struct ReloadReading(Arc<AtomicBool>);

impl ReloadReading {
    /// A reload is being read until the answer is dropped (whatever way the read ends).
    pub fn start(&self) -> ReadingNow {
        self.0.store(true, Ordering::Relaxed);
        ReadingNow(self.0.clone())
    }

    /// Whether a reload is being read now.
    pub fn now(&self) -> bool {
        self.0.load(Ordering::Relaxed)
    }
}

/// A reload being read (see [`ReloadReading::start`]); dropping it says the read is over.
#[must_use = "the read is over when this is dropped"]
pub struct ReadingNow(Arc<AtomicBool>);

impl Drop for ReadingNow {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Relaxed);
    }
}

impl Control {
    /// Called by a side's loop at the top of every turn (and the loop also wakes on
    /// `heartbeat.due()`): the side is alive, has finished applying the configuration it
    /// last took from `reload` (unless a newer one waits), and gives its one-line summary
    /// when the daemon asked for one.
    pub fn beat(&self, summary: impl FnOnce() -> String) {
        let applied = match self.reload.has_changed() {
            Ok(false) => Some(heartbeat::config_addr(&self.reload.borrow())),
            _ => None,
        };
        self.heartbeat.beat(applied, summary);
    }
}

/// When the process started (set by [`mark_start`] first thing in `main`), for the
/// debug lines that time the start.
static PROCESS_START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// Notes the process's start time (call first thing in `main`).
pub fn mark_start() {
    PROCESS_START.get_or_init(std::time::Instant::now);
}

/// Time since [`mark_start`] (zero when it was not called).
pub fn since_start() -> Duration {
    PROCESS_START.get().map(|t| t.elapsed()).unwrap_or_default()
}
