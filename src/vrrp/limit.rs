//! Rate limits of the VRRP core, free of I/O (time is passed in):
//! - [`LogLimiter`]: one log line per key (a drop reason) per period, the rest counted and
//!   told with the next line ("N more since");
//! - [`Spacing`]: at most one action (a gratuitous ARP/NA burst) per period, so a flood of
//!   packets that each ask for one cannot be amplified.

use std::collections::HashMap;
use std::hash::Hash;
use std::time::{Duration, Instant};

/// How often a drop reason is logged at most, per instance.
pub const DROP_LOG_PERIOD: Duration = Duration::from_secs(60);

/// What [`LogLimiter::hit`] decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogVerdict {
    /// Log this one; `suppressed` more happened since the line before (`since`), or 0 and
    /// None when this is the first.
    Say {
        suppressed: u64,
        since: Option<Instant>,
    },
    /// Counted, not logged.
    Quiet,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    said_at: Instant,
    suppressed: u64,
}

/// One line per key per period: the first occurrence is logged at once, later ones within
/// the period are counted, and the first after the period is logged with that count.
#[derive(Debug, Clone)]
pub struct LogLimiter<K> {
    period: Duration,
    slots: HashMap<K, Slot>,
}

impl<K: Eq + Hash> LogLimiter<K> {
    pub fn new(period: Duration) -> LogLimiter<K> {
        LogLimiter {
            period,
            slots: HashMap::new(),
        }
    }

    pub fn hit(&mut self, now: Instant, key: K) -> LogVerdict {
        match self.slots.get_mut(&key) {
            None => {
                self.slots.insert(
                    key,
                    Slot {
                        said_at: now,
                        suppressed: 0,
                    },
                );
                LogVerdict::Say {
                    suppressed: 0,
                    since: None,
                }
            }
            Some(slot) if now.saturating_duration_since(slot.said_at) >= self.period => {
                let verdict = LogVerdict::Say {
                    suppressed: slot.suppressed,
                    since: Some(slot.said_at),
                };
                *slot = Slot {
                    said_at: now,
                    suppressed: 0,
                };
                verdict
            }
            Some(slot) => {
                slot.suppressed += 1;
                LogVerdict::Quiet
            }
        }
    }
}

/// At most one action per period; the ones refused in between are counted.
#[derive(Debug, Clone, Default)]
pub struct Spacing {
    last: Option<Instant>,
    refused: u64,
}

impl Spacing {
    /// Whether the action may run at `now` (then it is taken as run): Some(refused since
    /// the last one), or None when it comes less than `period` after the last.
    pub fn allow(&mut self, now: Instant, period: Duration) -> Option<u64> {
        if self
            .last
            .is_some_and(|t| now.saturating_duration_since(t) < period)
        {
            self.refused += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.refused))
    }

    /// Forget the last action (a new term as master starts afresh).
    pub fn reset(&mut self) {
        *self = Spacing::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_key_per_period_with_the_count_of_the_rest() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut l = LogLimiter::new(Duration::from_secs(60));
        let first = LogVerdict::Say {
            suppressed: 0,
            since: None,
        };
        assert_eq!(l.hit(t0, "a"), first);
        assert_eq!(l.hit(t0, "b"), first, "keys are limited apart");
        for i in 1..=59 {
            assert_eq!(l.hit(t0 + i * s, "a"), LogVerdict::Quiet);
        }
        assert_eq!(
            l.hit(t0 + 60 * s, "a"),
            LogVerdict::Say {
                suppressed: 59,
                since: Some(t0)
            }
        );
        assert_eq!(l.hit(t0 + 61 * s, "a"), LogVerdict::Quiet);
        // A long silence: the next one is said with what was counted before it.
        assert_eq!(
            l.hit(t0 + 600 * s, "a"),
            LogVerdict::Say {
                suppressed: 1,
                since: Some(t0 + 60 * s)
            }
        );
        assert_eq!(
            l.hit(t0 + 600 * s, "b"),
            LogVerdict::Say {
                suppressed: 0,
                since: Some(t0)
            }
        );
    }

    #[test]
    fn spacing_allows_one_per_period() {
        let t0 = Instant::now();
        let ms = Duration::from_millis(1);
        let period = Duration::from_secs(1);
        let mut sp = Spacing::default();
        assert_eq!(sp.allow(t0, period), Some(0));
        for i in 1..1000 {
            assert_eq!(sp.allow(t0 + i * ms, period), None);
        }
        assert_eq!(sp.allow(t0 + 1000 * ms, period), Some(999));
        assert_eq!(sp.allow(t0 + 1500 * ms, period), None);
        sp.reset();
        assert_eq!(sp.allow(t0 + 1600 * ms, period), Some(0));
    }
}
