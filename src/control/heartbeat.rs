//! A side's answer to the daemon: a heartbeat its loop bumps on every turn, the
//! configuration it has finished applying, and a one-line summary of its state.
//!
//! The daemon reads these for systemd (see `crate::daemon::sd_notify`): READY=1 once every running
//! side has applied the configuration, WATCHDOG=1 only while every running side's loop has
//! turned lately, and STATUS= from the summaries. A side's loop calls
//! [`super::Control::beat`] at the top of each turn and waits on [`Heartbeat::due`] beside
//! its other events, so an idle loop still turns every [`period`]; a loop stuck in a handler
//! (or a thread blocked in a system call) stops beating.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How often an idle side's loop turns to beat: a quarter of the watchdog interval that
/// systemd asked for (WATCHDOG_USEC), between 20 ms and 1 s; 1 s without a watchdog.
pub fn period() -> Duration {
    static PERIOD: OnceLock<Duration> = OnceLock::new();
    *PERIOD.get_or_init(
        || match sd_notify::watchdog_enabled().filter(|d| !d.is_zero()) {
            Some(w) => (w / 4).clamp(Duration::from_millis(20), Duration::from_secs(1)),
            None => Duration::from_secs(1),
        },
    )
}

/// The process-wide origin of the beat times (an `Instant` does not fit an atomic).
fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

fn now_ms() -> u64 {
    u64::try_from(epoch().elapsed().as_millis()).unwrap_or(u64::MAX)
}

#[derive(Default)]
struct Inner {
    /// The side's name ("VRRP", "LVS"), for the test hook.
    name: &'static str,
    /// Whether the side's task runs (false while it waits to be restarted).
    running: AtomicBool,
    /// When the loop last turned, in ms since [`epoch`].
    last_ms: AtomicU64,
    /// The address of the configuration the side has finished applying (0: none yet).
    applied: AtomicUsize,
    /// The daemon wants a fresh summary: the side writes one on its next turn.
    want_summary: AtomicBool,
    summary: Mutex<Option<String>>,
}

/// One side's heartbeat, shared by the side (which beats) and the daemon (which reads).
#[derive(Clone, Default)]
pub struct Heartbeat {
    inner: Arc<Inner>,
}

impl Heartbeat {
    /// The heartbeat of the side called `name`.
    pub fn named(name: &'static str) -> Heartbeat {
        Heartbeat {
            inner: Arc::new(Inner {
                name,
                ..Inner::default()
            }),
        }
    }

    /// The side's task was (re)started: it counts as alive from now, has applied nothing.
    pub fn launched(&self) {
        self.inner.applied.store(0, Ordering::Release);
        self.inner.last_ms.store(now_ms(), Ordering::Release);
        self.inner.running.store(true, Ordering::Release);
        self.inner.want_summary.store(true, Ordering::Release);
    }

    /// The side's task ended (it will be restarted, or the daemon stops): it is not asked
    /// to answer until [`Heartbeat::launched`] again.
    pub fn ended(&self) {
        self.inner.running.store(false, Ordering::Release);
        if let Ok(mut s) = self.inner.summary.lock() {
            *s = None;
        }
    }

    /// A turn of the side's loop: it is alive, has finished applying `applied` (the
    /// address of its configuration, None while a newer one waits), and writes its
    /// summary when the daemon asked for one.
    pub fn beat(&self, applied: Option<usize>, summary: impl FnOnce() -> String) {
        stall_hook(self);
        self.inner.last_ms.store(now_ms(), Ordering::Release);
        if let Some(a) = applied {
            self.inner.applied.store(a, Ordering::Release);
        }
        if self.inner.want_summary.swap(false, Ordering::AcqRel) {
            let text = summary();
            if let Ok(mut s) = self.inner.summary.lock() {
                *s = Some(text);
            }
        }
    }

    /// Resolves after one [`period`]: the arm an idle loop wakes on to beat.
    pub async fn due(&self) {
        tokio::time::sleep(period()).await
    }

    /// Whether the side's task runs.
    pub fn running(&self) -> bool {
        self.inner.running.load(Ordering::Acquire)
    }

    /// How long since the loop last turned.
    pub fn age(&self) -> Duration {
        let last = self.inner.last_ms.load(Ordering::Acquire);
        Duration::from_millis(now_ms().saturating_sub(last))
    }

    /// The side is handed again the configuration it has applied (a reload that changed
    /// nothing): until its next beat after it took the reload, it has applied none.
    pub fn forget_applied(&self) {
        self.inner.applied.store(0, Ordering::Release);
    }

    /// Whether the side has finished applying the configuration at `addr`.
    pub fn has_applied(&self, addr: usize) -> bool {
        self.inner.applied.load(Ordering::Acquire) == addr
    }

    /// Asks for a fresh summary (written on the side's next turn).
    pub fn request_summary(&self) {
        self.inner.want_summary.store(true, Ordering::Release);
    }

    /// The side's latest summary (None before its first, or while it does not run).
    pub fn summary(&self) -> Option<String> {
        self.inner.summary.lock().ok().and_then(|s| s.clone())
    }
}

/// The address that identifies a configuration for [`Heartbeat::has_applied`].
pub fn config_addr<T>(cfg: &Arc<T>) -> usize {
    Arc::as_ptr(cfg) as usize
}

/// Tests only: with `LVSD_TEST_STALL_FILE` set to a path, the side named in that file
/// ("VRRP" or "LVS") blocks its loop's thread at its next beat, as a hung handler would,
/// until the file is removed. Without the variable this costs one load per turn.
fn stall_hook(hb: &Heartbeat) {
    static FILE: OnceLock<Option<std::path::PathBuf>> = OnceLock::new();
    let Some(path) = FILE
        .get_or_init(|| std::env::var_os("LVSD_TEST_STALL_FILE").map(Into::into))
        .as_ref()
    else {
        return;
    };
    let Ok(side) = std::fs::read_to_string(path) else {
        return;
    };
    if side.trim() != hb.inner.name {
        return;
    }
    tracing::warn!(
        "Test hook: the {} side's loop stalls while {} exists",
        hb.inner.name,
        path.display()
    );
    while path.exists() {
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_beat_records_the_turn_the_configuration_and_a_requested_summary() {
        let hb = Heartbeat::default();
        assert!(!hb.running());
        hb.launched();
        assert!(hb.running());
        assert!(hb.age() < Duration::from_secs(1));
        let cfg = Arc::new(5u8);
        let addr = config_addr(&cfg);
        assert!(!hb.has_applied(addr));
        // Requested at launch: written on the first turn.
        hb.beat(None, || "VI_1 MASTER".into());
        assert!(
            !hb.has_applied(addr),
            "None leaves the applied configuration"
        );
        assert_eq!(hb.summary().as_deref(), Some("VI_1 MASTER"));
        // Not requested: not recomputed.
        hb.beat(Some(addr), || panic!("summary computed unasked"));
        assert!(hb.has_applied(addr));
        hb.request_summary();
        hb.beat(Some(addr), || "VI_1 BACKUP".into());
        assert_eq!(hb.summary().as_deref(), Some("VI_1 BACKUP"));
        hb.ended();
        assert!(!hb.running());
        assert_eq!(hb.summary(), None);
        hb.launched();
        assert!(!hb.has_applied(addr), "a restarted side applies anew");
    }

    #[test]
    fn an_idle_loop_turns_within_a_period() {
        assert!(period() <= Duration::from_secs(1));
        assert!(period() >= Duration::from_millis(20));
    }
}
