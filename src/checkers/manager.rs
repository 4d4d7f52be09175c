//! Runs every checker of a configuration as its own tokio task and reports changes.
//!
//! Each task: an optional random warm-up delay (up to `warmup`), then attempts paced by
//! the retry state machine ([`super::state`]). Only changes are sent: up→down,
//! down→up, and a new weight from a dynamic checker (sent as `up: true` with the
//! weight). Every change is one log line with keepalived's wording.

use super::state::{Attempt, CheckCounters, CheckCounts, CheckState};
use super::{dns, file, http, misc, ping, smtp, tcp, udp};
use super::{CheckSettings, CheckerEvent, CheckerId, Verdict};
use crate::config::{CheckerKind, Config};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// One attempt of a checker, whatever its kind, bounded in time.
pub async fn check_once(s: &CheckSettings) -> Verdict {
    let needs_port = !matches!(
        s.kind,
        CheckerKind::Misc(_) | CheckerKind::Ping | CheckerKind::File(_) | CheckerKind::Dns(_)
    );
    if needs_port && s.port == 0 {
        return Verdict::down(format!("{}: no port to check.", s.target()));
    }
    match &s.kind {
        CheckerKind::Http(h) => http::check(s, h).await,
        CheckerKind::Tcp => tcp::check(s).await,
        CheckerKind::Misc(m) => misc::check(s, m).await,
        CheckerKind::Smtp(m) => smtp::check(s, m).await,
        CheckerKind::Dns(d) => dns::check(s, d).await,
        CheckerKind::Udp(u) => udp::check(s, u).await,
        CheckerKind::Ping => ping::check(s).await,
        CheckerKind::File(f) => file::check(s, f).await,
    }
}

/// A checker's prober, prepared once: HTTP_GET / SSL_GET build their requests, digests
/// and TLS connector up front; the other kinds have nothing worth keeping between
/// attempts.
/// The HTTP prober is boxed: it lives as long as the checker, inside its task's future.
enum Probe {
    Http(Box<http::HttpProbe>),
    Other,
}

impl Probe {
    fn new(s: &CheckSettings) -> Probe {
        match &s.kind {
            CheckerKind::Http(h) if s.port != 0 => {
                Probe::Http(Box::new(http::HttpProbe::new(s, h)))
            }
            _ => Probe::Other,
        }
    }

    /// One attempt. Its future (the largest of every kind's, about 1.5 KB) is boxed for
    /// the time of the attempt only: the task's own future, held between attempts by
    /// every checker, stays small.
    async fn check(&mut self, s: &CheckSettings) -> Verdict {
        match self {
            Probe::Http(p) => Box::pin(p.check(s)).await,
            Probe::Other => Box::pin(check_once(s)).await,
        }
    }
}

/// Where a running checker reports: its current id (its place in the newest
/// configuration) and the channel of the newest start or reload.
struct Link {
    id: CheckerId,
    events: mpsc::Sender<CheckerEvent>,
}

/// One running checker task.
struct Running {
    /// Its settings with the id left out: what a reload compares. Shared with the task.
    settings: Arc<CheckSettings>,
    link: Arc<Mutex<Link>>,
    /// The verdict it last reached (or started with).
    up: Arc<AtomicBool>,
    /// Its attempts, counted by its state machine.
    counters: Arc<CheckCounters>,
    task: JoinHandle<()>,
}

/// The running checkers with the same settings (almost always one: no allocation).
#[derive(Default)]
struct Same {
    first: Option<Running>,
    more: Vec<Running>,
}

impl Same {
    fn push(&mut self, r: Running) {
        if self.first.is_none() {
            self.first = Some(r);
        } else {
            self.more.push(r);
        }
    }

    fn pop(&mut self) -> Option<Running> {
        self.more.pop().or_else(|| self.first.take())
    }
}

/// What a reload did to the running checkers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reloaded {
    /// Left running: same settings, the same schedule and retry count.
    pub kept: usize,
    pub started: usize,
    pub stopped: usize,
}

/// The running checkers. Dropping it (or [`CheckerManager::stop`]) stops them all.
pub struct CheckerManager {
    tasks: Vec<Running>,
}

/// Settings without the id (which is only the checker's place in the file).
fn without_id(mut s: CheckSettings) -> CheckSettings {
    s.id = CheckerId::default();
    s
}

impl CheckerManager {
    /// The state each checker starts in when nothing is carried over: down with `alpha`,
    /// up otherwise. The LVS side uses it to build its initial table.
    pub fn initial_states(config: &Config) -> HashMap<CheckerId, bool> {
        CheckSettings::each(config)
            .map(|s| (s.id, !s.alpha))
            .collect()
    }

    /// Starts every checker in its configured initial state. Needs a tokio runtime.
    pub fn start(config: &Config, events: mpsc::Sender<CheckerEvent>) -> CheckerManager {
        Self::start_with_states(config, &HashMap::new(), events)
    }

    /// Starts every checker; those named in `states` start in that state instead (a
    /// reload carries the known up/down states over, so an unchanged server that is up
    /// is not flapped, and one that is down is not brought up before it passes).
    pub fn start_with_states(
        config: &Config,
        states: &HashMap<CheckerId, bool>,
        events: mpsc::Sender<CheckerEvent>,
    ) -> CheckerManager {
        let mut m = CheckerManager { tasks: Vec::new() };
        m.reload(config, states, events);
        m
    }

    /// Brings the running checkers to `config`'s: a checker whose settings did not change
    /// keeps running (its schedule, retry count and verdict carry over; only its id and
    /// channel are updated), one that is gone or changed is stopped, and a new or changed
    /// one starts in its state from `states` (else its initial state). From now on every
    /// checker reports on `events`.
    pub fn reload(
        &mut self,
        config: &Config,
        states: &HashMap<CheckerId, bool>,
        events: mpsc::Sender<CheckerEvent>,
    ) -> Reloaded {
        // Looked up by value: a reload of a large configuration allocates nothing per
        // kept checker (each allocation there is a hole in the heap once freed, between
        // the new configuration's long-lived ones).
        let mut old: HashMap<Arc<CheckSettings>, Same> = HashMap::with_capacity(self.tasks.len());
        for r in std::mem::take(&mut self.tasks) {
            old.entry(r.settings.clone()).or_default().push(r);
        }
        let mut done = Reloaded::default();
        self.tasks.reserve_exact(CheckSettings::count(config));
        for s in CheckSettings::each(config) {
            let id = s.id;
            let alpha = s.alpha;
            let key = without_id(s);
            let kept = old.get_mut(&key).and_then(Same::pop);
            match kept {
                Some(r) => {
                    if let Ok(mut link) = r.link.lock() {
                        link.id = id;
                        link.events = events.clone();
                    }
                    // A verdict sent on the old channel may not have been read: say it
                    // again where the LVS side's carried state differs.
                    let up = r.up.load(Ordering::Relaxed);
                    if states.get(&id).is_some_and(|&want| want != up) {
                        let _ = events.try_send(CheckerEvent {
                            id,
                            up,
                            weight: None,
                            reason: format!(
                                "{} is {} (carried over a reload).",
                                key.target(),
                                if up { "up" } else { "down" }
                            ),
                        });
                    }
                    done.kept += 1;
                    self.tasks.push(r);
                }
                None => {
                    let key = Arc::new(key);
                    let up = states.get(&id).copied().unwrap_or(!alpha);
                    let link = Arc::new(Mutex::new(Link {
                        id,
                        events: events.clone(),
                    }));
                    let state = Arc::new(AtomicBool::new(up));
                    let counters = Arc::new(CheckCounters::default());
                    let task = tokio::spawn(run(
                        key.clone(),
                        up,
                        link.clone(),
                        state.clone(),
                        counters.clone(),
                    ));
                    done.started += 1;
                    self.tasks.push(Running {
                        settings: key,
                        link,
                        up: state,
                        counters,
                        task,
                    });
                }
            }
        }
        for r in old
            .into_values()
            .flat_map(|same| same.first.into_iter().chain(same.more))
        {
            r.task.abort();
            done.stopped += 1;
        }
        done
    }

    /// The ids of the running checkers.
    pub fn ids(&self) -> impl Iterator<Item = CheckerId> + '_ {
        self.tasks
            .iter()
            .filter_map(|r| r.link.lock().ok().map(|l| l.id))
    }

    /// Each running checker's counters, by its id.
    pub fn counters(&self) -> impl Iterator<Item = (CheckerId, CheckCounts)> + '_ {
        self.tasks
            .iter()
            .filter_map(|r| r.link.lock().ok().map(|l| (l.id, r.counters.snapshot())))
    }

    pub fn len(&self) -> usize {
        self.tasks.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tasks.is_empty()
    }

    /// Stops every checker (in-flight attempts are dropped, their sockets closed and
    /// MISC scripts killed) and waits until they are gone.
    pub async fn stop(mut self) {
        let tasks = std::mem::take(&mut self.tasks);
        for r in &tasks {
            r.task.abort();
        }
        for r in tasks {
            let _ = r.task.await;
        }
    }
}

impl Drop for CheckerManager {
    fn drop(&mut self) {
        for r in &self.tasks {
            r.task.abort();
        }
    }
}

async fn run(
    s: Arc<CheckSettings>,
    up: bool,
    link: Arc<Mutex<Link>>,
    current: Arc<AtomicBool>,
    counters: Arc<CheckCounters>,
) {
    if s.disabled {
        return std::future::pending().await;
    }
    let mut state = CheckState::with_counters(s.timing, up, counters);
    let mut probe = Probe::new(&s);
    if !s.warmup.is_zero() {
        let ms = u64::try_from(s.warmup.as_millis()).unwrap_or(u64::MAX);
        tokio::time::sleep(Duration::from_millis(fastrand::u64(0..=ms))).await;
    }
    loop {
        if let Some(e) = super::net::setup_error(&s) {
            tracing::info!(
                "Checker for {} cannot bind its socket ({e}); no verdict, trying again after delay_loop.",
                s.target()
            );
            tokio::time::sleep(s.timing.delay_loop).await;
            continue;
        }
        let began = tokio::time::Instant::now();
        let verdict = probe.check(&s).await;
        let took = began.elapsed();
        let (attempt, text) = match verdict {
            Verdict::Up { weight, msg } => (Attempt::Success { weight }, msg),
            Verdict::Down { reason } => (Attempt::Failure, reason),
        };
        let step = state.on_timed_attempt(attempt, took);
        if let Some(change) = step.change {
            if change.up {
                tracing::info!("{text}");
            } else {
                tracing::warn!("{text}");
            }
            current.store(change.up, Ordering::Relaxed);
            // (A reload may have moved this checker, or changed the channel.)
            let Ok((id, events)) = link.lock().map(|l| (l.id, l.events.clone())) else {
                return;
            };
            let event = CheckerEvent {
                id,
                up: change.up,
                weight: change.weight,
                reason: text,
            };
            // (Boxed: a change is rare, the send's future would sit in every task.)
            if Box::pin(events.send(event)).await.is_err() {
                // Nobody listens any more: the daemon is going away.
                return;
            }
        } else if let Some(n) = step.retrying {
            tracing::debug!("{text} Retry {n}/{}.", s.timing.retry);
        }
        tokio::time::sleep(step.next_in).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every checker holds its task's future between attempts: at 100,000 checkers each
    /// 100 bytes is 10 MB. The attempt itself (about 1.5 KB) is boxed only while it runs.
    #[test]
    fn a_checker_task_stays_small() {
        let s = CheckSettings {
            id: CheckerId::default(),
            kind: CheckerKind::Tcp,
            disabled: false,
            addr: std::net::Ipv4Addr::LOCALHOST.into(),
            port: 1,
            bind: None,
            bind_if: None,
            connect_timeout: Duration::from_secs(1),
            timing: super::super::state::Timing {
                delay_loop: Duration::from_secs(1),
                retry: 1,
                delay_before_retry: Duration::from_secs(1),
            },
            warmup: Duration::ZERO,
            alpha: false,
            virtualhost: None,
            proto: "tcp",
            fwmark: None,
            script_user: None,
            script_security: false,
        };
        let (tx, _rx) = mpsc::channel(1);
        let link = Arc::new(Mutex::new(Link {
            id: CheckerId::default(),
            events: tx,
        }));
        let task = run(Arc::new(s), true, link, Arc::default(), Arc::default());
        assert!(
            std::mem::size_of_val(&task) <= 640,
            "{}",
            std::mem::size_of_val(&task)
        );
        assert!(std::mem::size_of::<Running>() <= 40);
    }
}
