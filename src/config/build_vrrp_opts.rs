//! Values of the VRRP tuning keywords (GARP pacing, lower/higher-priority advert handling,
//! start-up delay, real-time scheduling), read as keepalived 2.2.7 reads them.

use super::build::P;
use super::lexer::Tok;
use std::time::Duration;

/// `sched_get_priority_max(SCHED_RR)` on Linux.
pub const SCHED_RR_MAX: i32 = 99;

impl P<'_> {
    /// `KEYWORD [BOOL]`: no value is true; a value that is not a boolean leaves the setting
    /// as it was (keepalived reports it and ignores the line).
    pub(crate) fn opt_bool(&mut self, t: &[Tok]) -> Option<bool> {
        let Some(v) = t.get(1).copied() else {
            return Some(true);
        };
        self.no_more(t, 2);
        match self.txt(v).to_ascii_lowercase().as_str() {
            "yes" | "true" | "on" => Some(true),
            "no" | "false" | "off" => Some(false),
            other => {
                let kw = self.txt(t[0]);
                self.problem(
                    v,
                    format!("{kw}: `{other}` is not true/false/on/off/yes/no (ignored)"),
                );
                None
            }
        }
    }

    /// A whole number of seconds (keepalived reads `garp_lower_prio_delay` as an integer).
    pub(crate) fn whole_secs(&mut self, t: &[Tok]) -> Option<Duration> {
        self.int(t, 0, i64::from(u32::MAX) / 1000)
            .map(|v| Duration::from_secs(v as u64))
    }

    /// Seconds with microseconds; 0 (which keepalived refuses, keeping its default of 0)
    /// is taken quietly as 0.
    pub(crate) fn interval(&mut self, t: &[Tok]) -> Option<Duration> {
        self.dur(t)
    }

    /// `max_auto_priority [N]`: no value is the maximum; -1..=99.
    pub(crate) fn max_auto_priority(&mut self, t: &[Tok]) -> Option<i32> {
        if t.len() < 2 {
            return Some(SCHED_RR_MAX);
        }
        self.int(t, -1, i64::from(SCHED_RR_MAX)).map(|v| v as i32)
    }

    /// `min_auto_priority_delay USECS`: 1..=10,000,000.
    pub(crate) fn min_auto_priority_delay(&mut self, t: &[Tok]) -> Option<Duration> {
        self.int(t, 1, 10_000_000)
            .map(|v| Duration::from_micros(v as u64))
    }

    /// `vrrp_rlimit_rttime USECS` (also the deprecated `vrrp_rlimit_rtime`): 1 counts as 2
    /// (keepalived halves it for the soft limit).
    pub(crate) fn rlimit_rttime(&mut self, t: &[Tok]) -> Option<u64> {
        self.int(t, 1, i64::from(u32::MAX))
            .map(|v| (v as u64).max(2))
    }
}
