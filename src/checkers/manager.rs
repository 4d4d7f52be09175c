//! Runs every checker of a configuration and reports changes.
//!
//! One driver task per manager schedules every checker from a slab of small records
//! (its place in the configuration, retry state, next due time in a binary heap); an
//! attempt runs as a task of its own only while it is in flight, with the checker's
//! settings resolved from the configuration when it starts (the configuration is shared
//! with the rest of the daemon: no checker keeps a copy of its settings between attempts). Each checker: an optional random warm-up delay (up
//! to `warmup`), then attempts paced by the retry state machine ([`super::state`]). Only
//! changes are sent: up→down, down→up, and a new weight from a dynamic checker (sent as
//! `up: true` with the weight). Every change is one log line with keepalived's wording.

use super::state::{Attempt, CheckCounts, CheckState};
use super::{dns, file, http, misc, ping, smtp, tcp, udp};
use super::{CheckSettings, CheckerEvent, CheckerId, Verdict};
use crate::config::{CheckerKind, Config};
use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::hash::{BuildHasher, RandomState};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::sync::{mpsc, Notify};
use tokio::task::JoinHandle;
use tokio::time::Instant;

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
/// The HTTP prober is boxed: it lives as long as the checker, in its record.
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

    /// One attempt. Its future (the largest of every kind's, about 1.5 KB) lives in the
    /// attempt's task, which exists only while the attempt runs.
    async fn check(&mut self, s: &CheckSettings) -> Verdict {
        match self {
            Probe::Http(p) => p.check(s).await,
            Probe::Other => check_once(s).await,
        }
    }
}

/// One checker between attempts: what the driver keeps for it.
struct Record {
    /// Its place in the newest configuration (a reload may move it), where its settings
    /// are read.
    id: CheckerId,
    state: CheckState,
    /// Built at the first attempt, kept between attempts; taken by the attempt in flight.
    probe: Option<Probe>,
    /// The attempt in flight, if any.
    attempt: Option<JoinHandle<()>>,
}

/// A record's place in the slab; `gen` tells a reused place from the checker that held
/// it before (timers and attempt results of a stopped checker are ignored).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Key {
    slot: u32,
    gen: u32,
}

struct Slot {
    gen: u32,
    record: Option<Record>,
}

/// What an attempt hands back to the driver. `verdict` None: the socket could not be
/// set up (no verdict either way, tried again after delay_loop).
struct Done {
    key: Key,
    verdict: Option<Verdict>,
    /// When the driver started the attempt: how long it took (for the metrics and `lvsd
    /// ctl state`) is counted from there to when the driver takes its result, with the
    /// clock the driver reads anyway (each read is a system call on a virtual machine
    /// whose clock source is not the TSC).
    began: Instant,
    probe: Probe,
    /// The settings the attempt ran with (its timing paces the next).
    settings: Arc<CheckSettings>,
}

/// The running checkers, shared by the manager (reloads, lookups) and its driver task
/// (timers, attempt results). Locked only for short synchronous steps.
struct Sched {
    /// The configuration the checkers run from (the newest start's or reload's).
    config: Arc<Config>,
    slots: Vec<Slot>,
    free: Vec<u32>,
    /// The live checkers in configuration order.
    order: Vec<Key>,
    /// When each checker's next attempt is due (entries of stopped checkers are skipped).
    due: BinaryHeap<Reverse<(Instant, Key)>>,
    /// The channel of the newest start or reload.
    events: mpsc::Sender<CheckerEvent>,
    /// Changes the channel had no room for, in order; sent before any newer one.
    overflow: VecDeque<CheckerEvent>,
    done: mpsc::UnboundedSender<Done>,
}

/// The running checkers with the same settings (almost always one: no allocation).
#[derive(Default)]
struct Same {
    first: Option<Key>,
    more: Vec<Key>,
}

impl Same {
    fn push(&mut self, k: Key) {
        if self.first.is_none() {
            self.first = Some(k);
        } else {
            self.more.push(k);
        }
    }

    /// Takes the first (in configuration order) that `is` says is the one.
    fn take_first(&mut self, mut is: impl FnMut(Key) -> bool) -> Option<Key> {
        if let Some(k) = self.first.filter(|&k| is(k)) {
            self.first = None;
            return Some(k);
        }
        let i = self.more.iter().position(|&k| is(k))?;
        Some(self.more.remove(i))
    }
}

impl Sched {
    fn get(&self, k: Key) -> Option<&Record> {
        let slot = self.slots.get(k.slot as usize)?;
        (slot.gen == k.gen)
            .then_some(slot.record.as_ref())
            .flatten()
    }

    fn get_mut(&mut self, k: Key) -> Option<&mut Record> {
        let slot = self.slots.get_mut(k.slot as usize)?;
        if slot.gen != k.gen {
            return None;
        }
        slot.record.as_mut()
    }

    fn insert(&mut self, r: Record) -> Key {
        match self.free.pop() {
            Some(i) => {
                let slot = &mut self.slots[i as usize];
                slot.gen = slot.gen.wrapping_add(1);
                slot.record = Some(r);
                Key {
                    slot: i,
                    gen: slot.gen,
                }
            }
            None => {
                let i = u32::try_from(self.slots.len()).unwrap_or(u32::MAX);
                if self.slots.len() == self.slots.capacity() {
                    // By an eighth, not by doubling: a reload adding a few checkers to
                    // many would otherwise leave most of a second slab unused.
                    self.slots.reserve_exact((self.slots.len() / 8).max(64));
                }
                self.slots.push(Slot {
                    gen: 0,
                    record: Some(r),
                });
                Key { slot: i, gen: 0 }
            }
        }
    }

    /// Stops a checker: its attempt in flight is aborted, its timer left to expire.
    fn remove(&mut self, k: Key) {
        let Some(slot) = self.slots.get_mut(k.slot as usize) else {
            return;
        };
        if slot.gen != k.gen {
            return;
        }
        if let Some(r) = slot.record.take() {
            if let Some(a) = r.attempt {
                a.abort();
            }
            self.free.push(k.slot);
        }
    }

    /// Sends a change on the newest channel, after those still waiting for room.
    fn emit(&mut self, event: CheckerEvent) {
        if !self.overflow.is_empty() {
            self.overflow.push_back(event);
            return;
        }
        match self.events.try_send(event) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(e)) => self.overflow.push_back(e),
            // Nobody listens any more: the daemon is going away.
            Err(mpsc::error::TrySendError::Closed(_)) => {}
        }
    }

    /// Starts every attempt due by `now`; answers when the next one is due.
    fn start_due(&mut self, now: Instant) -> Option<Instant> {
        while let Some(&Reverse((at, key))) = self.due.peek() {
            if at > now {
                return Some(at);
            }
            self.due.pop();
            let done = self.done.clone();
            let config = self.config.clone();
            let Some(r) = self.get_mut(key) else {
                continue;
            };
            if r.attempt.is_some() {
                continue;
            }
            // (A running checker's id is always in the configuration it runs from.)
            let Some(settings) = CheckSettings::resolve(&config, r.id) else {
                continue;
            };
            let settings = Arc::new(settings);
            let probe = r.probe.take();
            r.attempt = Some(tokio::spawn(attempt(key, settings, probe, done, now)));
        }
        None
    }

    /// Feeds an attempt's result to its checker's retry state and schedules the next.
    fn finish(&mut self, d: Done, now: Instant) {
        let Some(r) = self.get_mut(d.key) else {
            return;
        };
        r.attempt = None;
        r.probe = Some(d.probe);
        let mut change = None;
        let timing = &d.settings.timing;
        let next_in = match d.verdict {
            None => timing.delay_loop,
            Some(verdict) => {
                let (attempt, text) = match verdict {
                    Verdict::Up { weight, msg } => (Attempt::Success { weight }, msg),
                    Verdict::Down { reason } => (Attempt::Failure, reason),
                };
                let took = now.saturating_duration_since(d.began);
                let step = r.state.on_timed_attempt(timing, attempt, took);
                if let Some(c) = step.change {
                    if c.up {
                        tracing::info!("{text}");
                    } else {
                        tracing::warn!("{text}");
                    }
                    change = Some(CheckerEvent {
                        id: r.id,
                        up: c.up,
                        weight: c.weight,
                        reason: text,
                    });
                } else if let Some(n) = step.retrying {
                    // keepalived logs these only with (checker_)log_all_failures.
                    if d.settings.log_all_failures {
                        tracing::info!("{text} Retry {n}/{}.", timing.retry);
                    } else {
                        tracing::debug!("{text} Retry {n}/{}.", timing.retry);
                    }
                }
                step.next_in
            }
        };
        self.due.push(Reverse((now + next_in, d.key)));
        if let Some(e) = change {
            self.emit(e);
        }
    }
}

/// One attempt, as a task of its own while it runs.
async fn attempt(
    key: Key,
    s: Arc<CheckSettings>,
    probe: Option<Probe>,
    done: mpsc::UnboundedSender<Done>,
    began: Instant,
) {
    let mut probe = probe.unwrap_or_else(|| Probe::new(&s));
    let verdict = match super::net::setup_error(&s) {
        Some(e) => {
            tracing::info!(
                "Checker for {} cannot bind its socket ({e}); no verdict, trying again after delay_loop.",
                s.target()
            );
            None
        }
        None => Some(probe.check(&s).await),
    };
    let _ = done.send(Done {
        key,
        verdict,
        began,
        probe,
        settings: s,
    });
}

/// A verdict sent on the old channel may not have been read: the event that says it again
/// when the LVS side's carried state (`states`) differs from the running checker's.
fn carried_differs(
    config: &Config,
    r: &Record,
    states: &HashMap<CheckerId, bool>,
) -> Option<CheckerEvent> {
    let up = r.state.is_up();
    if states.get(&r.id).is_none_or(|&want| want == up) {
        return None;
    }
    let target = CheckSettings::resolve(config, r.id).map_or_else(String::new, |s| s.target());
    Some(CheckerEvent {
        id: r.id,
        up,
        weight: None,
        reason: format!(
            "{target} is {} (carried over a reload).",
            if up { "up" } else { "down" }
        ),
    })
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
    sched: Arc<Mutex<Sched>>,
    /// Tells the driver that the schedule changed (a reload).
    wake: Arc<Notify>,
    driver: JoinHandle<()>,
}

fn lock(sched: &Mutex<Sched>) -> MutexGuard<'_, Sched> {
    // A panic while locked leaves the schedule consistent enough to go on with.
    sched.lock().unwrap_or_else(|e| e.into_inner())
}

impl CheckerManager {
    /// The state each checker starts in when nothing is carried over: down with `alpha`,
    /// up otherwise. The LVS side uses it to build its initial table.
    pub fn initial_states(config: &Config) -> HashMap<CheckerId, bool> {
        CheckSettings::each(config)
            .map(|(id, s)| (id, !s.alpha))
            .collect()
    }

    /// Starts every checker in its configured initial state. Needs a tokio runtime.
    pub fn start(config: &Arc<Config>, events: mpsc::Sender<CheckerEvent>) -> CheckerManager {
        Self::start_with_states(config, &HashMap::new(), events)
    }

    /// Starts every checker; those named in `states` start in that state instead (a
    /// reload carries the known up/down states over, so an unchanged server that is up
    /// is not flapped, and one that is down is not brought up before it passes).
    pub fn start_with_states(
        config: &Arc<Config>,
        states: &HashMap<CheckerId, bool>,
        events: mpsc::Sender<CheckerEvent>,
    ) -> CheckerManager {
        let (done, results) = mpsc::unbounded_channel();
        let sched = Arc::new(Mutex::new(Sched {
            config: config.clone(),
            slots: Vec::new(),
            free: Vec::new(),
            order: Vec::new(),
            due: BinaryHeap::new(),
            events: events.clone(),
            overflow: VecDeque::new(),
            done,
        }));
        let wake = Arc::new(Notify::new());
        let driver = tokio::spawn(drive(sched.clone(), wake.clone(), results));
        let mut m = CheckerManager {
            sched,
            wake,
            driver,
        };
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
        config: &Arc<Config>,
        states: &HashMap<CheckerId, bool>,
        events: mpsc::Sender<CheckerEvent>,
    ) -> Reloaded {
        let mut guard = lock(&self.sched);
        let sched = &mut *guard;
        // Changes not yet sent were for the old channel: the carried-over states below
        // say again what the LVS side has not seen.
        sched.overflow.clear();
        sched.events = events.clone();
        let old_config = std::mem::replace(&mut sched.config, config.clone());
        // A virtual server equal to the one at its place before (and the global settings
        // checkers take unchanged) keeps its running checkers as they are, at the same
        // ids, without resolving their settings: a reload's work follows what changed.
        let same: Vec<bool> = (0..config.virtual_servers.len())
            .map(|i| CheckSettings::same_at(&old_config, config, i))
            .collect();
        // The other running checkers by the hash of their settings, read from the
        // configuration they ran from; a candidate is compared whole when a new checker's
        // hash matches. Nothing is kept per checker but its key (each allocation here
        // would be a hole in the heap once freed, between the new configuration's
        // long-lived ones).
        let hasher = RandomState::new();
        let mut old: HashMap<u64, Same> = HashMap::new();
        let mut in_place = Vec::new();
        let mut orphans = Vec::new();
        for k in std::mem::take(&mut sched.order) {
            let Some(r) = sched.get(k) else { continue };
            if same.get(r.id.vs).copied().unwrap_or(false) {
                in_place.push(k);
                continue;
            }
            match CheckSettings::resolve(&old_config, r.id) {
                Some(s) => old.entry(hasher.hash_one(&s)).or_default().push(k),
                None => orphans.push(k),
            }
        }
        let mut done = Reloaded::default();
        let count = CheckSettings::count(config);
        sched.order.reserve_exact(count);
        if sched.slots.is_empty() {
            // The first start: exactly as many records and timers as checkers (growing by
            // doubling would leave up to half of each unused).
            sched.slots.reserve_exact(count);
            sched.due.reserve_exact(count);
        }
        let now = Instant::now();
        // Virtual server by virtual server, each in configuration order (the running order
        // is the configuration's already: the sort only checks it).
        in_place.sort_by_key(|&k| sched.get(k).map(|r| r.id));
        let mut in_place = in_place.into_iter().peekable();
        for vi in 0..config.virtual_servers.len() {
            let mut kept_here = 0;
            while let Some(&k) = in_place.peek() {
                let Some(id) = sched.get(k).map(|r| r.id) else {
                    in_place.next();
                    continue;
                };
                if id.vs != vi {
                    break;
                }
                in_place.next();
                if let Some(e) = sched
                    .get(k)
                    .and_then(|r| carried_differs(config, r, states))
                {
                    sched.emit(e);
                }
                kept_here += 1;
                sched.order.push(k);
            }
            done.kept += kept_here;
            if kept_here > 0 {
                continue;
            }
            for (id, key) in CheckSettings::each_in(config, vi) {
                let alpha = key.alpha;
                let kept = old.get_mut(&hasher.hash_one(&key)).and_then(|same| {
                    same.take_first(|k| {
                        sched
                            .get(k)
                            .and_then(|r| CheckSettings::resolve(&old_config, r.id))
                            .is_some_and(|was| was == key)
                    })
                });
                if let Some(k) = kept {
                    let mut resend = None;
                    if let Some(r) = sched.get_mut(k) {
                        r.id = id;
                        resend = carried_differs(config, r, states);
                    }
                    if let Some(e) = resend {
                        sched.emit(e);
                    }
                    done.kept += 1;
                    sched.order.push(k);
                    continue;
                }
                let up = states.get(&id).copied().unwrap_or(!alpha);
                let first = if key.disabled {
                    None
                } else if key.warmup.is_zero() {
                    Some(now)
                } else {
                    let ms = u64::try_from(key.warmup.as_millis()).unwrap_or(u64::MAX);
                    Some(now + Duration::from_millis(fastrand::u64(0..=ms)))
                };
                let k = sched.insert(Record {
                    state: CheckState::new(up),
                    id,
                    probe: None,
                    attempt: None,
                });
                if let Some(at) = first {
                    if sched.due.len() == sched.due.capacity() {
                        sched.due.reserve_exact((sched.due.len() / 8).max(64));
                    }
                    sched.due.push(Reverse((at, k)));
                }
                done.started += 1;
                sched.order.push(k);
            }
        }
        orphans.extend(in_place);
        for k in old
            .into_values()
            .flat_map(|same| same.first.into_iter().chain(same.more))
            .chain(orphans)
        {
            sched.remove(k);
            done.stopped += 1;
        }
        // Timers of stopped checkers are dropped when they come due; after a reload that
        // replaced many, drop them now rather than hold them for up to a delay_loop.
        if sched.due.len() > 2 * sched.order.len() + 64 {
            let slots = &sched.slots;
            sched.due.retain(|Reverse((_, k))| {
                slots
                    .get(k.slot as usize)
                    .is_some_and(|s| s.gen == k.gen && s.record.is_some())
            });
        }
        drop(guard);
        self.wake.notify_one();
        done
    }

    /// Takes `config` in place of the one the checkers run from when the two are equal (a
    /// reload that changed nothing; the caller compares them): every checker keeps running
    /// as it is, on the same channel. Returns how many run.
    pub fn adopt_equal(&mut self, config: &Arc<Config>) -> usize {
        let mut sched = lock(&self.sched);
        let old = std::mem::replace(&mut sched.config, config.clone());
        let running = sched.order.len();
        // Released before the old configuration goes: the driver never waits behind it.
        drop(sched);
        drop(old);
        running
    }

    /// The ids of the running checkers, in configuration order.
    pub fn ids(&self) -> impl Iterator<Item = CheckerId> + '_ {
        let sched = lock(&self.sched);
        let ids: Vec<CheckerId> = sched
            .order
            .iter()
            .filter_map(|&k| sched.get(k).map(|r| r.id))
            .collect();
        ids.into_iter()
    }

    /// Each running checker's counters, by its id.
    pub fn counters(&self) -> impl Iterator<Item = (CheckerId, CheckCounts)> + '_ {
        let sched = lock(&self.sched);
        let counts: Vec<(CheckerId, CheckCounts)> = sched
            .order
            .iter()
            .filter_map(|&k| sched.get(k).map(|r| (r.id, r.state.counts())))
            .collect();
        counts.into_iter()
    }

    pub fn len(&self) -> usize {
        lock(&self.sched).order.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Stops every checker (in-flight attempts are dropped, their sockets closed and
    /// MISC scripts killed) and waits until they are gone.
    pub async fn stop(self) {
        self.driver.abort();
        let attempts: Vec<JoinHandle<()>> = {
            let mut sched = lock(&self.sched);
            sched.order.clear();
            sched.due.clear();
            sched
                .slots
                .iter_mut()
                .filter_map(|s| s.record.as_mut().and_then(|r| r.attempt.take()))
                .collect()
        };
        for a in &attempts {
            a.abort();
        }
        for a in attempts {
            let _ = a.await;
        }
        // (Drop aborts the driver again, harmlessly.)
    }
}

impl Drop for CheckerManager {
    fn drop(&mut self) {
        self.driver.abort();
        let mut sched = lock(&self.sched);
        for s in &mut sched.slots {
            if let Some(a) = s.record.as_mut().and_then(|r| r.attempt.take()) {
                a.abort();
            }
        }
    }
}

/// The driver: starts attempts as they come due, feeds their results back, and sends
/// what could not be sent at once when the channel has room again.
async fn drive(
    sched: Arc<Mutex<Sched>>,
    wake: Arc<Notify>,
    mut results: mpsc::UnboundedReceiver<Done>,
) {
    // The clock is read once per turn, and one timer serves every turn (moved, not made
    // anew): both are system calls' worth of work for each check otherwise.
    let mut now = Instant::now();
    let mut timer = std::pin::pin!(tokio::time::sleep_until(now));
    loop {
        let (next, waiting) = {
            let mut s = lock(&sched);
            let next = s.start_due(now);
            let waiting = (!s.overflow.is_empty()).then(|| s.events.clone());
            (next, waiting)
        };
        let room = async {
            match &waiting {
                Some(tx) => tx.reserve().await.ok(),
                None => std::future::pending().await,
            }
        };
        if let Some(at) = next {
            timer.as_mut().reset(at);
        }
        tokio::select! {
            () = timer.as_mut(), if next.is_some() => now = Instant::now(),
            () = wake.notified() => now = Instant::now(),
            got = results.recv() => {
                // (The manager holds a sender: None does not happen while it lives.)
                let Some(d) = got else { return };
                now = Instant::now();
                let mut s = lock(&sched);
                s.finish(d, now);
                // Take what else has finished, up to a bound, under the same lock.
                for _ in 0..255 {
                    match results.try_recv() {
                        Ok(d) => s.finish(d, now),
                        Err(_) => break,
                    }
                }
            }
            permit = room => {
                now = Instant::now();
                let mut s = lock(&sched);
                match permit {
                    Some(p) if waiting.as_ref().is_some_and(|tx| tx.same_channel(&s.events)) => {
                        if let Some(e) = s.overflow.pop_front() {
                            p.send(e);
                        }
                        while let Some(e) = s.overflow.pop_front() {
                            match s.events.try_send(e) {
                                Ok(()) => {}
                                Err(mpsc::error::TrySendError::Full(e)) => {
                                    s.overflow.push_front(e);
                                    break;
                                }
                                Err(mpsc::error::TrySendError::Closed(_)) => {
                                    s.overflow.clear();
                                    break;
                                }
                            }
                        }
                    }
                    // The channel was closed: nobody listens any more.
                    None if waiting.as_ref().is_some_and(|tx| tx.same_channel(&s.events)) => {
                        s.overflow.clear();
                    }
                    // A reload replaced the channel meanwhile.
                    _ => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every checker keeps its record between attempts: at 100,000 checkers each 100
    /// bytes is 10 MB. Its settings are read from the configuration when an attempt
    /// starts, and the attempt itself (about 1.5 KB) is a task only while it runs.
    #[test]
    fn a_checker_record_stays_small() {
        let slot = std::mem::size_of::<Slot>();
        assert!(slot <= 96, "{slot}");
        assert!(std::mem::size_of::<Reverse<(Instant, Key)>>() <= 24);
        // Made for each attempt, not kept: the rare settings boxed apart, the kind's own
        // settings boxed (240 bytes when they were inline).
        assert!(
            std::mem::size_of::<CheckSettings>() <= 136,
            "{}",
            std::mem::size_of::<CheckSettings>()
        );
    }
}
