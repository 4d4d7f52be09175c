//! systemd's notify protocol (`Type=notify`), and the watchdog.
//!
//! Everything lvsd tells the service manager goes through [`Systemd`], driven by the
//! daemon's main loop; with NOTIFY_SOCKET unset nothing is sent (the crate's `notify` is
//! a no-op then), so the same code runs under an init script or in a terminal.
//!
//! * READY=1 once the file is loaded and every running side has applied it (its loop
//!   turned with that configuration: the LVS side after its first pass over the kernel
//!   table, the VRRP side with its instances started).
//! * On SIGHUP: RELOADING=1 with MONOTONIC_USEC, then READY=1 once the sides have applied
//!   the new file, or at once when it is refused, with the outcome in STATUS=. The outcome
//!   is also written beside the pid file for `lvsd --reload-wait` (see [`super::reload_outcome`]).
//! * STOPPING=1 when told to stop.
//! * STATUS= an operator can read ("VI_1 MASTER; 1 services, 2 real servers, 1 down"),
//!   sent when it changes, at most once a second.
//! * WATCHDOG=1 every half WATCHDOG_USEC, only while the daemon's main loop and every
//!   running side's loop have turned within that half interval (see [`super::heartbeat`]).
//!   The pings come from a thread of their own ([`spawn_watchdog`]), so a loop that blocks
//!   the thread it runs on (and with it, maybe, the main loop's runtime) is still noticed
//!   and logged. A side waiting to be restarted after a failure is excused: lvsd
//!   restarts it itself.

use super::heartbeat::Heartbeat;
use super::reload_outcome::{self, Outcome};
use sd_notify::NotifyState;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// The watchdog interval systemd asked for (WATCHDOG_USEC, for this process), if any.
pub fn watchdog_interval() -> Option<Duration> {
    sd_notify::watchdog_enabled().filter(|d| !d.is_zero())
}

/// Whether a service manager listens (NOTIFY_SOCKET is set).
pub fn listening() -> bool {
    std::env::var_os("NOTIFY_SOCKET").is_some()
}

/// How often the status line is refreshed (and at most how often it is sent).
const STATUS_EVERY: Duration = Duration::from_secs(1);
/// How often a pending start or reload is checked.
const PENDING_EVERY: Duration = Duration::from_millis(50);
/// How long a reload may take to be applied by the sides before READY=1 is sent anyway.
pub const RELOAD_LIMIT: Duration = Duration::from_secs(60);

/// CLOCK_MONOTONIC in microseconds (systemd's MONOTONIC_USEC; the same clock in every
/// process, so `--reload-wait` compares its own reading with the daemon's).
pub fn monotonic_usec() -> u64 {
    match nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC) {
        Ok(ts) => {
            let secs = u64::try_from(ts.tv_sec()).unwrap_or(0);
            let nanos = u64::try_from(ts.tv_nsec()).unwrap_or(0);
            secs.saturating_mul(1_000_000).saturating_add(nanos / 1000)
        }
        Err(_) => 0,
    }
}

/// How long ago `started` (a [`monotonic_usec`] reading) was.
pub fn since_usec(started: u64) -> Duration {
    Duration::from_micros(monotonic_usec().saturating_sub(started))
}

/// A reload that finished in [`Systemd::tick`]: applied by every side, or not confirmed
/// in time; `took` counts from the SIGHUP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReloadDone {
    pub applied: bool,
    pub took: Duration,
}

/// One side as the daemon sees it: its name and its heartbeat.
pub struct SideView<'a> {
    pub name: &'static str,
    pub heartbeat: &'a Heartbeat,
}

/// A start or a reload waiting for the sides to apply its configuration.
struct Pending {
    addr: usize,
    /// The reload's start (MONOTONIC_USEC); None for the start of the daemon.
    reload: Option<u64>,
    since: Instant,
}

/// The daemon's link to systemd. Call [`Systemd::tick`] at [`Systemd::next_wake`].
pub struct Systemd {
    pending: Option<Pending>,
    last_status: String,
    last_status_at: Option<Instant>,
    /// The last refused reload, kept in the status line until a reload is applied.
    refused: Option<String>,
    /// Where reload outcomes are written for `lvsd --reload-wait`.
    outcome_file: PathBuf,
    send_failed: bool,
}

impl Systemd {
    /// `config_addr`: the address of the configuration the sides were started with;
    /// `outcome_file`: where reload outcomes go.
    pub fn new(config_addr: usize, outcome_file: PathBuf) -> Systemd {
        if listening() {
            match watchdog_interval() {
                Some(w) => tracing::info!(
                    "systemd notify socket in use; watchdog every {w:.1?} (pinged every {:.1?} while every loop turns)",
                    w / 2
                ),
                None => tracing::info!("systemd notify socket in use; no watchdog"),
            }
        }
        Systemd {
            pending: Some(Pending {
                addr: config_addr,
                reload: None,
                since: Instant::now(),
            }),
            last_status: String::new(),
            last_status_at: None,
            refused: None,
            outcome_file,
            send_failed: false,
        }
    }

    fn send(&mut self, states: &[NotifyState]) {
        match sd_notify::notify(states) {
            Ok(()) => self.send_failed = false,
            Err(e) if !self.send_failed => {
                self.send_failed = true;
                tracing::warn!("Cannot tell systemd the daemon's state (NOTIFY_SOCKET): {e}");
            }
            Err(e) => tracing::debug!("Cannot tell systemd the daemon's state: {e}"),
        }
    }

    /// SIGHUP received: RELOADING=1. Returns the reload's start (MONOTONIC_USEC).
    pub fn reloading(&mut self) -> u64 {
        let usec = monotonic_usec();
        self.send(&[
            NotifyState::Reloading,
            NotifyState::MonotonicUsec(i128::from(usec)),
            NotifyState::Status("Reloading the configuration"),
        ]);
        usec
    }

    /// The reloaded file was accepted and handed to the sides: READY=1 follows once
    /// they have applied it.
    pub fn reload_handed(&mut self, config_addr: usize, started: u64) {
        self.pending = Some(Pending {
            addr: config_addr,
            reload: Some(started),
            since: Instant::now(),
        });
    }

    /// The reloaded file was refused (`why`): READY=1 at once, the running configuration
    /// stays.
    pub fn reload_refused(&mut self, why: &str, started: u64) {
        let first = why.lines().next().unwrap_or("").trim().to_string();
        self.refused = Some(first.clone());
        let status = format!("Reload refused, running the previous configuration: {first}");
        self.last_status = status.clone();
        self.last_status_at = Some(Instant::now());
        self.send(&[NotifyState::Ready, NotifyState::Status(&status)]);
        self.write_outcome(started, Outcome::Refused, &first);
    }

    /// Told to stop: STOPPING=1.
    pub fn stopping(&mut self, why: &str) {
        self.send(&[NotifyState::Stopping, NotifyState::Status(why)]);
        // A reload someone waits for will not finish now.
        if let Some(Pending {
            reload: Some(started),
            ..
        }) = self.pending.take()
        {
            self.write_outcome(started, Outcome::Unconfirmed, "lvsd is stopping");
        }
    }

    fn write_outcome(&self, started: u64, outcome: Outcome, message: &str) {
        if let Err(e) = reload_outcome::write(&self.outcome_file, started, outcome, message) {
            tracing::warn!(
                "Cannot write the reload's outcome to {}: {e}",
                self.outcome_file.display()
            );
        }
    }

    /// When [`Systemd::tick`] is next due.
    pub fn next_wake(&self) -> tokio::time::Instant {
        let now = Instant::now();
        let mut at = self.last_status_at.map_or(now, |t| t + STATUS_EVERY);
        if self.pending.is_some() {
            at = at.min(now + PENDING_EVERY);
        }
        tokio::time::Instant::from_std(at.max(now))
    }

    /// Checks the sides: finishes a pending start or reload (a reload's end is returned),
    /// refreshes the status line.
    pub fn tick(&mut self, sides: &[SideView<'_>]) -> Option<ReloadDone> {
        let now = Instant::now();
        let mut done = None;
        if let Some((addr, reload, since)) =
            self.pending.as_ref().map(|p| (p.addr, p.reload, p.since))
        {
            let late: Vec<&str> = sides
                .iter()
                .filter(|s| s.heartbeat.running() && !s.heartbeat.has_applied(addr))
                .map(|s| s.name)
                .collect();
            if late.is_empty() {
                self.pending = None;
                if reload.is_some() {
                    self.refused = None;
                }
                let status = self.status_line(sides);
                match reload {
                    None => {
                        tracing::info!(
                            "Ready: every side runs the configuration ({:.1?} after the start of the process)",
                            crate::control::since_start()
                        );
                        self.send(&[NotifyState::Ready, NotifyState::Status(&status)]);
                    }
                    Some(started) => {
                        tracing::info!("Reload applied by every side in {:.1?}", since.elapsed());
                        let text = format!("Reload applied; {status}");
                        self.send(&[NotifyState::Ready, NotifyState::Status(&text)]);
                        self.write_outcome(started, Outcome::Applied, "applied");
                        done = Some(ReloadDone {
                            applied: true,
                            took: since_usec(started),
                        });
                    }
                }
                self.last_status = status;
                self.last_status_at = Some(now);
            } else if let Some(started) =
                reload.filter(|_| now.duration_since(since) >= RELOAD_LIMIT)
            {
                let why = format!(
                    "the {} side has not finished applying the new configuration after {}",
                    late.join(" and "),
                    crate::backoff::human(RELOAD_LIMIT)
                );
                tracing::warn!("Reload: {why}");
                self.send(&[
                    NotifyState::Ready,
                    NotifyState::Status(&format!("Reload unconfirmed: {why}")),
                ]);
                self.write_outcome(started, Outcome::Unconfirmed, &why);
                self.pending = None;
                done = Some(ReloadDone {
                    applied: false,
                    took: since_usec(started),
                });
            }
        }
        if self
            .last_status_at
            .is_none_or(|t| now.duration_since(t) >= STATUS_EVERY)
        {
            for s in sides {
                s.heartbeat.request_summary();
            }
            if self.pending.is_none() {
                let status = self.status_line(sides);
                if status != self.last_status {
                    self.send(&[NotifyState::Status(&status)]);
                    self.last_status = status;
                }
            }
            self.last_status_at = Some(now);
        }
        done
    }

    /// "VI_1 MASTER; 1 services, 2 real servers, 1 down", with what does not answer and
    /// the last refused reload.
    fn status_line(&self, sides: &[SideView<'_>]) -> String {
        let limit = answer_limit();
        let mut parts: Vec<String> = Vec::new();
        for s in sides {
            let hb = s.heartbeat;
            let part = if !hb.running() {
                format!("{} side restarting", s.name)
            } else if hb.age() > limit {
                format!("{} side not answering", s.name)
            } else {
                hb.summary()
                    .unwrap_or_else(|| format!("{} side starting", s.name))
            };
            parts.push(part);
        }
        if let Some(r) = &self.refused {
            parts.push(format!("last reload refused: {r}"));
        }
        parts.join("; ")
    }
}

/// How long a loop may go without turning and still count as answering: half the
/// watchdog interval (the pings' period), at least two heartbeat periods.
pub fn answer_limit() -> Duration {
    let period = super::heartbeat::period();
    match watchdog_interval() {
        Some(w) => (w / 2).max(period * 2),
        None => period * 10,
    }
}

/// Starts the thread that sends WATCHDOG=1 every half WATCHDOG_USEC while every loop in
/// `loops` (the main loop's and each side's heartbeat, with their names) answers. None
/// when systemd asked for no watchdog. The thread ends with the process.
pub fn spawn_watchdog(
    loops: Vec<(&'static str, Heartbeat)>,
) -> Option<std::thread::JoinHandle<()>> {
    let interval = watchdog_interval()?;
    let spawned = std::thread::Builder::new()
        .name("lvsd-watchdog".into())
        .spawn(move || {
            let mut silent: Vec<&'static str> = Vec::new();
            let mut failed = false;
            loop {
                if check_answers(&loops, &mut silent) {
                    match sd_notify::notify(&[NotifyState::Watchdog]) {
                        Ok(()) => failed = false,
                        Err(e) if !failed => {
                            failed = true;
                            tracing::warn!("Cannot send systemd its watchdog ping: {e}");
                        }
                        Err(_) => {}
                    }
                }
                std::thread::sleep(interval / 2);
            }
        });
    match spawned {
        Ok(h) => Some(h),
        Err(e) => {
            tracing::error!(
                "Cannot start the watchdog thread, so systemd gets no watchdog pings: {e}"
            );
            None
        }
    }
}

/// Whether every running loop turned within [`answer_limit`]; logs each loop that stops
/// or starts answering, once (`silent`: those that did not answer last time).
fn check_answers(loops: &[(&'static str, Heartbeat)], silent: &mut Vec<&'static str>) -> bool {
    let limit = answer_limit();
    let mut now_silent = Vec::new();
    for (name, hb) in loops {
        if hb.running() && hb.age() > limit {
            if !silent.contains(name) {
                tracing::error!(
                    "{} has not turned for {:.1?}: no more watchdog pings (systemd restarts lvsd when its watchdog runs out)",
                    loop_name(name),
                    hb.age()
                );
            }
            now_silent.push(*name);
        } else if silent.contains(name) {
            tracing::info!("{} turns again: watchdog pings resume", loop_name(name));
        }
    }
    let ok = now_silent.is_empty();
    *silent = now_silent;
    ok
}

/// "The VRRP side's loop", "The daemon's main loop".
fn loop_name(name: &str) -> String {
    if name == MAIN_LOOP {
        "The daemon's main loop".to_string()
    } else {
        format!("The {name} side's loop")
    }
}

/// The name of the daemon's main loop's heartbeat.
pub const MAIN_LOOP: &str = "main";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_status_line_names_a_silent_or_restarting_side_and_a_refused_reload() {
        let dir = tempfile::tempdir().unwrap();
        let mut sd = Systemd::new(1, dir.path().join("x.reload"));
        let vrrp = Heartbeat::named("VRRP");
        let lvs = Heartbeat::named("LVS");
        vrrp.launched();
        vrrp.beat(Some(1), || "VI_1 MASTER".into());
        let sides = [
            SideView {
                name: "VRRP",
                heartbeat: &vrrp,
            },
            SideView {
                name: "LVS",
                heartbeat: &lvs,
            },
        ];
        assert_eq!(sd.status_line(&sides), "VI_1 MASTER; LVS side restarting");
        lvs.launched();
        assert_eq!(sd.status_line(&sides), "VI_1 MASTER; LVS side starting");
        sd.reload_refused("line 3: unknown keyword\nmore", 7);
        assert_eq!(
            sd.status_line(&sides),
            "VI_1 MASTER; LVS side starting; last reload refused: line 3: unknown keyword"
        );
        let written = reload_outcome::read(&dir.path().join("x.reload")).unwrap();
        assert_eq!(written.started_usec, 7);
        assert_eq!(written.outcome, Outcome::Refused);
        assert_eq!(written.message, "line 3: unknown keyword");
    }

    #[test]
    fn a_start_is_pending_until_every_running_side_has_applied_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut sd = Systemd::new(42, dir.path().join("x.reload"));
        let vrrp = Heartbeat::named("VRRP");
        let lvs = Heartbeat::named("LVS");
        vrrp.launched();
        lvs.launched();
        let sides = [
            SideView {
                name: "VRRP",
                heartbeat: &vrrp,
            },
            SideView {
                name: "LVS",
                heartbeat: &lvs,
            },
        ];
        vrrp.beat(Some(42), String::new);
        assert_eq!(sd.tick(&sides), None);
        assert!(sd.pending.is_some(), "the LVS side has not applied it");
        // A side that failed (waiting for its restart) is not waited for.
        lvs.ended();
        assert_eq!(sd.tick(&sides), None, "a start is no reload");
        assert!(sd.pending.is_none());
        // A reload is pending until applied, and its outcome written.
        lvs.launched();
        let started = monotonic_usec();
        sd.reload_handed(43, 99);
        vrrp.beat(Some(43), String::new);
        assert_eq!(sd.tick(&sides), None);
        assert!(sd.pending.is_some());
        lvs.beat(Some(43), String::new);
        let done = sd.tick(&sides).expect("the reload is done");
        assert!(done.applied);
        // Counted from the reload's start (99 µs after boot here), not from the hand-over.
        assert!(done.took >= Duration::from_micros(started - 99), "{done:?}");
        assert!(sd.pending.is_none());
        let o = reload_outcome::read(&dir.path().join("x.reload")).unwrap();
        assert_eq!((o.started_usec, o.outcome), (99, Outcome::Applied));
    }

    #[test]
    fn monotonic_time_moves_forward() {
        let a = monotonic_usec();
        std::thread::sleep(Duration::from_millis(2));
        assert!(monotonic_usec() > a);
        assert!(a > 0);
    }
}
