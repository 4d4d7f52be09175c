//! keepalived's process tuning for the VRRP side: `max_auto_priority` (real-time
//! scheduling raised step by step when the VRRP thread runs late), `vrrp_rlimit_rttime`,
//! and `vrrp_no_swap` / `checker_no_swap`.
//!
//! lvsd runs VRRP on a thread of its own ("lvsd-vrrp"), so the scheduling policy is set on
//! that thread only (`sched_setscheduler(0, …)` acts on the calling thread), where
//! keepalived sets it on its VRRP process. RLIMIT_RTTIME and memory locking are
//! process-wide in Linux: the rlimit only bites threads that run real-time (here the VRRP
//! thread alone), and `mlockall` locks the whole lvsd process when either side asks.

use std::time::Duration;

/// keepalived's default `min_auto_priority_delay`: 1 s late.
pub const DEFAULT_MIN_DELAY: Duration = Duration::from_secs(1);
/// keepalived's default `vrrp_rlimit_rttime`: 10,000 µs.
pub const DEFAULT_RLIMIT_RTTIME_US: u64 = 10_000;

/// The raise policy (I/O free): each time the thread wakes at least `min_delay` after its
/// deadline, go real-time at SCHED_RR priority 1, then one step higher, up to `max`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AutoPriority {
    max: u32,
    min_delay: Duration,
    cur: u32,
}

impl AutoPriority {
    /// None when `max_auto_priority` is 0 or -1 (keepalived: no automatic raise).
    pub fn new(max_auto_priority: i32, min_delay: Option<Duration>) -> Option<AutoPriority> {
        let max = u32::try_from(max_auto_priority).ok().filter(|m| *m > 0)?;
        Some(AutoPriority {
            max,
            min_delay: min_delay.unwrap_or(DEFAULT_MIN_DELAY),
            cur: 0,
        })
    }

    /// The thread woke `late` after a deadline: the SCHED_RR priority to set now, if any.
    pub fn late(&mut self, late: Duration) -> Option<u32> {
        if late < self.min_delay || self.cur >= self.max {
            return None;
        }
        self.cur += 1;
        Some(self.cur)
    }

    /// The priority set so far (0: not real-time).
    pub fn current(&self) -> u32 {
        self.cur
    }

    /// A raise failed: stop trying (one log line, not one per late wake-up).
    pub fn give_up(&mut self) {
        self.max = self.cur;
    }
}

/// Puts the calling thread in SCHED_RR at `priority` (reset to normal in children it
/// forks), and the first time sets RLIMIT_RTTIME to `rlimit_us` (soft limit half of it, as
/// keepalived, so SIGXCPU warns before SIGKILL). Err is the sentence to log.
pub fn raise_thread(priority: u32, rlimit_us: Option<u64>) -> Result<(), String> {
    let param = libc::sched_param {
        sched_priority: priority as libc::c_int,
    };
    // SAFETY: plain syscall on the calling thread with a valid sched_param.
    let r =
        unsafe { libc::sched_setscheduler(0, libc::SCHED_RR | libc::SCHED_RESET_ON_FORK, &param) };
    if r != 0 {
        return Err(format!(
            "cannot set real-time priority {priority} (SCHED_RR) on the VRRP thread: {}",
            std::io::Error::last_os_error()
        ));
    }
    if let Some(us) = rlimit_us {
        let lim = libc::rlimit {
            rlim_cur: us / 2,
            rlim_max: us,
        };
        // SAFETY: valid rlimit struct.
        if unsafe { libc::setrlimit(libc::RLIMIT_RTTIME, &lim) } != 0 {
            return Err(format!(
                "the VRRP thread is real-time (priority {priority}) but RLIMIT_RTTIME {us} µs \
                 cannot be set: {}",
                std::io::Error::last_os_error()
            ));
        }
    }
    Ok(())
}

/// Locks lvsd's memory (current and future pages, faulted in on use). Err: the sentence.
pub fn lock_memory() -> Result<(), String> {
    // SAFETY: plain syscall.
    let r = unsafe { libc::mlockall(libc::MCL_CURRENT | libc::MCL_FUTURE | libc::MCL_ONFAULT) };
    if r != 0 {
        return Err(format!(
            "cannot lock lvsd in memory (vrrp_no_swap/checker_no_swap): {}",
            std::io::Error::last_os_error()
        ));
    }
    Ok(())
}

/// The VRRP loop woke `late` after its deadline: raise the thread if the policy says so,
/// with one log line either way.
pub fn on_wake(auto: &mut Option<AutoPriority>, late: Duration, rlimit_us: Option<u64>) {
    let Some(a) = auto.as_mut() else {
        return;
    };
    let Some(prio) = a.late(late) else {
        return;
    };
    let rlimit = (prio == 1).then(|| rlimit_us.unwrap_or(DEFAULT_RLIMIT_RTTIME_US));
    match raise_thread(prio, rlimit) {
        Ok(()) => tracing::warn!(
            "the VRRP thread ran {:.3} s late: real-time priority {prio} (SCHED_RR, max_auto_priority)",
            late.as_secs_f64()
        ),
        Err(e) => {
            tracing::error!("{e}; max_auto_priority will not be tried again");
            a.give_up();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raises_one_step_per_late_wakeup_up_to_max() {
        assert_eq!(AutoPriority::new(0, None), None);
        assert_eq!(AutoPriority::new(-1, None), None);
        let mut a = AutoPriority::new(2, Some(Duration::from_millis(100))).unwrap();
        assert_eq!(a.late(Duration::from_millis(99)), None);
        assert_eq!(a.late(Duration::from_millis(100)), Some(1));
        assert_eq!(a.late(Duration::from_secs(3)), Some(2));
        assert_eq!(a.late(Duration::from_secs(3)), None);
        assert_eq!(a.current(), 2);
        let mut b = AutoPriority::new(99, None).unwrap();
        assert_eq!(b.late(Duration::from_millis(999)), None);
        assert_eq!(b.late(Duration::from_secs(1)), Some(1));
        b.give_up();
        assert_eq!(b.late(Duration::from_secs(5)), None);
    }
}
