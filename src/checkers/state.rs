//! keepalived's retry logic as an I/O-free state machine.
//!
//! A checker is up or down. After each attempt the machine says whether the verdict
//! changed and how long to wait before the next attempt:
//! - success: up (one success is enough), next attempt after `delay_loop`;
//! - failure while up (or before the first attempt): retried after `delay_before_retry`,
//!   up to `retry` times; when the retries are used up the checker is declared down and
//!   the next attempt comes after `delay_loop`;
//! - failure while down: stays down, next attempt after `delay_loop`.
//!
//! Dynamic checkers (MISC_CHECK `misc_dynamic`, FILE_CHECK) report a weight with their
//! success; a new weight while up is reported as a change too.
//!
//! Each machine also counts its attempts ([`CheckCounts`]), read by whoever reports on the
//! checker (`lvsd ctl state`, the metrics endpoint) through its owner. The timing is the
//! caller's (the checker's settings): the machine keeps only what changes, so a record
//! per checker stays small at 100,000 checkers.

use serde::Serialize;
use std::time::Duration;

/// A checker's attempts so far: how many, how many failed, how long the last one took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CheckCounts {
    pub checks: u64,
    pub failures: u64,
    /// How long the last attempt took, in microseconds (0 before the first).
    pub last_duration_us: u64,
}

impl CheckCounts {
    /// Counts one attempt that took `took`.
    pub fn record(&mut self, failed: bool, took: Duration) {
        self.checks = self.checks.saturating_add(1);
        if failed {
            self.failures = self.failures.saturating_add(1);
        }
        self.last_duration_us = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
    }
}

/// The result of one attempt, as the state machine needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Attempt {
    Success { weight: Option<u32> },
    Failure,
}

/// A change to report to the LVS side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    pub up: bool,
    /// The weight the checker reported with its success (dynamic checkers only).
    pub weight: Option<u32>,
}

/// What to do after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Step {
    /// Some: the verdict (or the weight) changed.
    pub change: Option<Change>,
    /// Wait this long before the next attempt.
    pub next_in: Duration,
    /// The failure was not final: this is retry number `retrying` of `retry`.
    pub retrying: Option<u32>,
}

/// Timing and retry parameters of one checker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Timing {
    pub delay_loop: Duration,
    pub retry: u32,
    pub delay_before_retry: Duration,
}

#[derive(Debug, Clone)]
pub struct CheckState {
    up: bool,
    has_run: bool,
    /// Failed attempts retried since the last success.
    retries_used: u32,
    weight: Option<u32>,
    counts: CheckCounts,
}

impl CheckState {
    /// A checker starting `up` (keepalived: down with `alpha`, up otherwise).
    pub fn new(up: bool) -> CheckState {
        CheckState {
            up,
            has_run: false,
            retries_used: 0,
            weight: None,
            counts: CheckCounts::default(),
        }
    }

    /// Its attempts so far.
    pub fn counts(&self) -> CheckCounts {
        self.counts
    }

    /// Feeds one attempt's result and how long the attempt took (counted).
    pub fn on_timed_attempt(&mut self, timing: &Timing, attempt: Attempt, took: Duration) -> Step {
        self.counts
            .record(matches!(attempt, Attempt::Failure), took);
        self.on_attempt(timing, attempt)
    }

    pub fn is_up(&self) -> bool {
        self.up
    }

    /// The last weight a dynamic checker reported.
    pub fn weight(&self) -> Option<u32> {
        self.weight
    }

    /// Feeds one attempt's result, paced by the checker's `timing`.
    pub fn on_attempt(&mut self, timing: &Timing, attempt: Attempt) -> Step {
        let first = !self.has_run;
        self.has_run = true;
        match attempt {
            Attempt::Success { weight } => {
                self.retries_used = 0;
                let weight_changed = weight.is_some() && weight != self.weight;
                if weight.is_some() {
                    self.weight = weight;
                }
                let change = if !self.up || weight_changed {
                    self.up = true;
                    Some(Change { up: true, weight })
                } else {
                    None
                };
                Step {
                    change,
                    next_in: timing.delay_loop,
                    retrying: None,
                }
            }
            Attempt::Failure => {
                if (self.up || first) && self.retries_used < timing.retry {
                    self.retries_used += 1;
                    return Step {
                        change: None,
                        next_in: timing.delay_before_retry,
                        retrying: Some(self.retries_used),
                    };
                }
                self.retries_used = 0;
                let change = if self.up {
                    self.up = false;
                    Some(Change {
                        up: false,
                        weight: None,
                    })
                } else {
                    None
                };
                Step {
                    change,
                    next_in: timing.delay_loop,
                    retrying: None,
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing(retry: u32) -> Timing {
        Timing {
            delay_loop: Duration::from_secs(6),
            retry,
            delay_before_retry: Duration::from_secs(2),
        }
    }

    /// A machine with its timing, as a checker's record and settings hold them.
    struct Checker {
        st: CheckState,
        timing: Timing,
    }

    impl Checker {
        fn new(timing: Timing, up: bool) -> Checker {
            Checker {
                st: CheckState::new(up),
                timing,
            }
        }
        fn on_attempt(&mut self, a: Attempt) -> Step {
            self.st.on_attempt(&self.timing, a)
        }
        fn on_timed_attempt(&mut self, a: Attempt, took: Duration) -> Step {
            self.st.on_timed_attempt(&self.timing, a, took)
        }
        fn is_up(&self) -> bool {
            self.st.is_up()
        }
        fn weight(&self) -> Option<u32> {
            self.st.weight()
        }
    }

    const OK: Attempt = Attempt::Success { weight: None };
    const KO: Attempt = Attempt::Failure;

    /// Drives the machine on synthetic time: the server is reachable when `alive(t)`;
    /// returns (time, up) for every change within `horizon`.
    fn simulate(
        st: &mut Checker,
        horizon: Duration,
        alive: impl Fn(Duration) -> bool,
    ) -> Vec<(Duration, bool)> {
        let mut t = Duration::ZERO;
        let mut changes = Vec::new();
        while t <= horizon {
            let step = st.on_attempt(if alive(t) { OK } else { KO });
            if let Some(c) = step.change {
                changes.push((t, c.up));
            }
            t += step.next_in;
        }
        changes
    }

    #[test]
    fn one_success_is_enough_and_steady_up_reports_nothing() {
        let mut st = Checker::new(timing(3), false);
        let s = st.on_attempt(OK);
        assert_eq!(
            s.change,
            Some(Change {
                up: true,
                weight: None
            })
        );
        assert_eq!(s.next_in, Duration::from_secs(6));
        for _ in 0..10 {
            assert_eq!(st.on_attempt(OK).change, None);
        }
        assert!(st.is_up());
    }

    #[test]
    fn failures_are_retried_before_going_down() {
        let mut st = Checker::new(timing(3), true);
        for n in 1..=3 {
            let s = st.on_attempt(KO);
            assert_eq!(s.change, None, "retry {n} must not change the verdict");
            assert_eq!(s.retrying, Some(n));
            assert_eq!(s.next_in, Duration::from_secs(2));
        }
        let s = st.on_attempt(KO);
        assert_eq!(
            s.change,
            Some(Change {
                up: false,
                weight: None
            })
        );
        assert_eq!(s.next_in, Duration::from_secs(6));
        // Down: further failures are not retried and report nothing.
        let s = st.on_attempt(KO);
        assert_eq!((s.change, s.retrying), (None, None));
        assert_eq!(s.next_in, Duration::from_secs(6));
    }

    #[test]
    fn a_success_between_failures_resets_the_retries() {
        let mut st = Checker::new(timing(2), true);
        assert_eq!(st.on_attempt(KO).retrying, Some(1));
        assert_eq!(st.on_attempt(KO).retrying, Some(2));
        assert_eq!(st.on_attempt(OK).change, None);
        assert_eq!(st.on_attempt(KO).retrying, Some(1));
        assert!(st.is_up());
    }

    #[test]
    fn retry_zero_goes_down_at_the_first_failure() {
        let mut st = Checker::new(timing(0), true);
        assert_eq!(st.on_attempt(KO).change.map(|c| c.up), Some(false));
    }

    #[test]
    fn alpha_starts_down_and_retries_its_first_attempt() {
        // alpha: start down; the first attempt still gets its retries (keepalived's
        // has_run), and the checker never reports "down" since it already is.
        let mut st = Checker::new(timing(1), false);
        assert_eq!(st.on_attempt(KO).retrying, Some(1));
        let s = st.on_attempt(KO);
        assert_eq!((s.change, s.retrying), (None, None));
        assert_eq!(st.on_attempt(OK).change.map(|c| c.up), Some(true));
    }

    #[test]
    fn outage_on_synthetic_time_gives_one_down_and_one_up() {
        // Server dies at t=10 s and comes back at t=40 s. retry 2, delay_before_retry
        // 2 s, delay_loop 6 s: attempts at 0, 6, 12 (fail), 14, 16 (down), 22, 28, 34,
        // 40 (up).
        let mut st = Checker::new(timing(2), true);
        let changes = simulate(&mut st, Duration::from_secs(100), |t| {
            t < Duration::from_secs(10) || t >= Duration::from_secs(40)
        });
        assert_eq!(
            changes,
            vec![
                (Duration::from_secs(16), false),
                (Duration::from_secs(40), true)
            ]
        );
    }

    #[test]
    fn a_blip_shorter_than_the_retries_is_ignored() {
        // Down from 11 s to 14 s: the attempt at 12 fails, the retry at 14 succeeds.
        let mut st = Checker::new(timing(2), true);
        let changes = simulate(&mut st, Duration::from_secs(60), |t| {
            !(Duration::from_secs(11)..Duration::from_secs(14)).contains(&t)
        });
        assert_eq!(changes, vec![]);
    }

    #[test]
    fn timed_attempts_are_counted() {
        let mut st = Checker::new(timing(1), true);
        assert_eq!(st.st.counts(), CheckCounts::default());
        st.on_timed_attempt(OK, Duration::from_millis(3));
        st.on_timed_attempt(KO, Duration::from_micros(1500));
        st.on_timed_attempt(KO, Duration::from_micros(250));
        assert!(!st.is_up());
        assert_eq!(
            st.st.counts(),
            CheckCounts {
                checks: 3,
                failures: 2,
                last_duration_us: 250
            }
        );
        // An untimed attempt (the machine alone) counts nothing.
        st.on_attempt(OK);
        assert_eq!(st.st.counts().checks, 3);
    }

    #[test]
    fn dynamic_weight_changes_are_reported_once() {
        let mut st = Checker::new(timing(1), true);
        let w = |w| Attempt::Success { weight: Some(w) };
        assert_eq!(
            st.on_attempt(w(5)).change,
            Some(Change {
                up: true,
                weight: Some(5)
            })
        );
        assert_eq!(st.on_attempt(w(5)).change, None);
        assert_eq!(st.on_attempt(w(7)).change.and_then(|c| c.weight), Some(7));
        assert_eq!(st.weight(), Some(7));
        // A plain success keeps the last weight and reports nothing.
        assert_eq!(st.on_attempt(OK).change, None);
    }
}
