//! When to try again, and when to say so: the pure part of retrying a side that failed
//! (the VRRP or LVS task) or a resource that is not there (IPVS in a kernel without
//! ip_vs). No clock is read here: callers pass the time in.

use std::time::{Duration, Instant};

/// The first delay after a failure.
pub const FIRST_DELAY: Duration = Duration::from_secs(1);
/// The longest delay: retries never space out further than this.
pub const MAX_DELAY: Duration = Duration::from_secs(60);
/// How often a failure that keeps its reason is logged again (between, retries are
/// logged at debug level only).
pub const REMIND_EVERY: Duration = Duration::from_secs(600);

/// Exponential backoff: `first`, twice that, ... up to `max`, which then repeats.
#[derive(Debug, Clone)]
pub struct Backoff {
    first: Duration,
    max: Duration,
    next: Duration,
}

impl Default for Backoff {
    fn default() -> Backoff {
        Backoff::new(FIRST_DELAY, MAX_DELAY)
    }
}

impl Backoff {
    /// A backoff from `first` doubling up to `max` (`max` below `first` counts as `first`).
    pub fn new(first: Duration, max: Duration) -> Backoff {
        Backoff {
            first,
            max: max.max(first),
            next: first,
        }
    }

    /// The delay before the next attempt; each call doubles the one after, up to the cap.
    pub fn next_delay(&mut self) -> Duration {
        let d = self.next;
        self.next = self.next.saturating_mul(2).min(self.max);
        d
    }

    /// Starts over from the first delay (after a success).
    pub fn reset(&mut self) {
        self.next = self.first;
    }
}

/// What to do after one failed attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryStep {
    /// Wait this long before the next attempt.
    pub delay: Duration,
    /// Failed attempts in a row, this one included.
    pub attempts: u32,
    /// Whether this failure deserves a log line at the normal level: the first one, one
    /// with a reason different from the last, or a reminder after [`REMIND_EVERY`].
    pub log: bool,
}

/// Backoff plus the decision to log: repeated failures for the same reason are said once,
/// then again only when the reason changes or every [`REMIND_EVERY`].
#[derive(Debug, Clone)]
pub struct Retry {
    backoff: Backoff,
    remind_every: Duration,
    attempts: u32,
    /// The reason and time of the last failure that was logged.
    logged: Option<(String, Instant)>,
}

impl Default for Retry {
    fn default() -> Retry {
        Retry::new(Backoff::default(), REMIND_EVERY)
    }
}

impl Retry {
    pub fn new(backoff: Backoff, remind_every: Duration) -> Retry {
        Retry {
            backoff,
            remind_every,
            attempts: 0,
            logged: None,
        }
    }

    /// Notes a failed attempt at `now` for `reason`.
    pub fn failed(&mut self, now: Instant, reason: &str) -> RetryStep {
        self.attempts = self.attempts.saturating_add(1);
        let log = match &self.logged {
            None => true,
            Some((last, at)) => {
                last != reason || now.saturating_duration_since(*at) >= self.remind_every
            }
        };
        if log {
            self.logged = Some((reason.to_string(), now));
        }
        RetryStep {
            delay: self.backoff.next_delay(),
            attempts: self.attempts,
            log,
        }
    }

    /// Notes a success; returns the failed attempts before it (0: it worked first time).
    pub fn succeeded(&mut self) -> u32 {
        let n = self.attempts;
        self.attempts = 0;
        self.logged = None;
        self.backoff.reset();
        n
    }

    /// Failed attempts in a row so far.
    pub fn attempts(&self) -> u32 {
        self.attempts
    }
}

/// A duration as an operator reads it in a log line: "1 s", "500 ms", "1 min 30 s".
pub fn human(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        return format!("{ms} ms");
    }
    let s = d.as_secs();
    match (s / 60, s % 60) {
        (0, s) => format!("{s} s"),
        (m, 0) => format!("{m} min"),
        (m, s) => format!("{m} min {s} s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn doubles_from_one_second_up_to_the_cap() {
        let mut b = Backoff::default();
        let seq: Vec<u64> = (0..9).map(|_| b.next_delay().as_secs()).collect();
        assert_eq!(seq, vec![1, 2, 4, 8, 16, 32, 60, 60, 60]);
        b.reset();
        assert_eq!(b.next_delay(), S);
    }

    #[test]
    fn a_cap_below_the_first_delay_is_the_first_delay() {
        let mut b = Backoff::new(5 * S, S);
        assert_eq!(b.next_delay(), 5 * S);
        assert_eq!(b.next_delay(), 5 * S);
    }

    #[test]
    fn huge_durations_do_not_overflow() {
        let mut b = Backoff::new(Duration::MAX - S, Duration::MAX);
        assert_eq!(b.next_delay(), Duration::MAX - S);
        assert_eq!(b.next_delay(), Duration::MAX);
        assert_eq!(b.next_delay(), Duration::MAX);
    }

    #[test]
    fn the_same_reason_is_logged_once_then_as_a_reminder() {
        let t0 = Instant::now();
        let mut r = Retry::default();
        let first = r.failed(t0, "no ip_vs");
        assert_eq!(
            first,
            RetryStep {
                delay: S,
                attempts: 1,
                log: true
            }
        );
        let mut at = t0;
        let mut logged = 0;
        for _ in 0..8 {
            let step = r.failed(at, "no ip_vs");
            at += step.delay;
            logged += usize::from(step.log);
        }
        assert_eq!(
            logged, 0,
            "the same reason again within the reminder interval"
        );
        assert_eq!(r.attempts(), 9);
        // Ten minutes after the first line: said again, once.
        let late = t0 + REMIND_EVERY;
        assert!(r.failed(late, "no ip_vs").log);
        assert!(!r.failed(late + S, "no ip_vs").log);
    }

    #[test]
    fn a_new_reason_is_logged_at_once() {
        let t0 = Instant::now();
        let mut r = Retry::default();
        assert!(r.failed(t0, "no ip_vs").log);
        assert!(!r.failed(t0 + S, "no ip_vs").log);
        assert!(r.failed(t0 + 2 * S, "permission denied").log);
        assert!(!r.failed(t0 + 3 * S, "permission denied").log);
        assert!(r.failed(t0 + 4 * S, "no ip_vs").log);
    }

    #[test]
    fn success_starts_everything_over() {
        let t0 = Instant::now();
        let mut r = Retry::default();
        for i in 0..5 {
            r.failed(t0 + i * S, "no ip_vs");
        }
        assert_eq!(r.succeeded(), 5);
        assert_eq!(r.succeeded(), 0);
        let step = r.failed(t0 + 10 * S, "no ip_vs");
        assert_eq!(step.delay, S);
        assert_eq!(step.attempts, 1);
        assert!(step.log, "a failure after a success is news");
    }

    #[test]
    fn durations_read_as_sentences() {
        assert_eq!(human(Duration::from_millis(250)), "250 ms");
        assert_eq!(human(S), "1 s");
        assert_eq!(human(60 * S), "1 min");
        assert_eq!(human(90 * S), "1 min 30 s");
    }
}
