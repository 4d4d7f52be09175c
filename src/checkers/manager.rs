//! Runs every checker of a configuration as its own tokio task and reports changes.
//!
//! Each task: an optional random warm-up delay (up to `warmup`), then attempts paced by
//! the retry state machine ([`super::state`]). Only changes are sent: up→down,
//! down→up, and a new weight from a dynamic checker (sent as `up: true` with the
//! weight). Every change is one log line with keepalived's wording.

use super::state::{Attempt, CheckState};
use super::{dns, file, http, misc, ping, smtp, tcp, udp};
use super::{CheckSettings, CheckerEvent, CheckerId, Verdict};
use crate::config::{CheckerKind, Config};
use std::collections::HashMap;
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
enum Probe {
    Http(http::HttpProbe),
    Other,
}

impl Probe {
    fn new(s: &CheckSettings) -> Probe {
        match &s.kind {
            CheckerKind::Http(h) if s.port != 0 => Probe::Http(http::HttpProbe::new(s, h)),
            _ => Probe::Other,
        }
    }

    async fn check(&mut self, s: &CheckSettings) -> Verdict {
        match self {
            Probe::Http(p) => p.check(s).await,
            Probe::Other => check_once(s).await,
        }
    }
}

/// The running checkers. Dropping it (or [`CheckerManager::stop`]) stops them all.
pub struct CheckerManager {
    tasks: Vec<(CheckerId, JoinHandle<()>)>,
}

impl CheckerManager {
    /// The state each checker starts in when nothing is carried over: down with `alpha`,
    /// up otherwise. The LVS side uses it to build its initial table.
    pub fn initial_states(config: &Config) -> HashMap<CheckerId, bool> {
        CheckSettings::all(config)
            .into_iter()
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
        let tasks = CheckSettings::all(config)
            .into_iter()
            .map(|s| {
                let up = states.get(&s.id).copied().unwrap_or(!s.alpha);
                let id = s.id;
                (id, tokio::spawn(run(s, up, events.clone())))
            })
            .collect();
        CheckerManager { tasks }
    }

    /// The ids of the running checkers.
    pub fn ids(&self) -> impl Iterator<Item = CheckerId> + '_ {
        self.tasks.iter().map(|(id, _)| *id)
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
        for (_, t) in &tasks {
            t.abort();
        }
        for (_, t) in tasks {
            let _ = t.await;
        }
    }
}

impl Drop for CheckerManager {
    fn drop(&mut self) {
        for (_, t) in &self.tasks {
            t.abort();
        }
    }
}

async fn run(s: CheckSettings, up: bool, events: mpsc::Sender<CheckerEvent>) {
    let mut state = CheckState::new(s.timing, up);
    let mut probe = Probe::new(&s);
    if !s.warmup.is_zero() {
        let ms = u64::try_from(s.warmup.as_millis()).unwrap_or(u64::MAX);
        tokio::time::sleep(Duration::from_millis(fastrand::u64(0..=ms))).await;
    }
    loop {
        let verdict = probe.check(&s).await;
        let (attempt, text) = match verdict {
            Verdict::Up { weight, msg } => (Attempt::Success { weight }, msg),
            Verdict::Down { reason } => (Attempt::Failure, reason),
        };
        let step = state.on_attempt(attempt);
        if let Some(change) = step.change {
            if change.up {
                tracing::info!("{text}");
            } else {
                tracing::warn!("{text}");
            }
            let event = CheckerEvent {
                id: s.id,
                up: change.up,
                weight: change.weight,
                reason: text,
            };
            if events.send(event).await.is_err() {
                // Nobody listens any more: the daemon is going away.
                return;
            }
        } else if let Some(n) = step.retrying {
            tracing::debug!("{text} Retry {n}/{}.", s.timing.retry);
        }
        tokio::time::sleep(step.next_in).await;
    }
}
