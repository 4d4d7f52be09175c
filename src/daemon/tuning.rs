//! keepalived's `vrrp_priority` / `checker_priority`, `*_rt_priority` and
//! `*_cpu_affinity`. keepalived sets them on its VRRP and checker child processes; lvsd is
//! one process, so they go on the VRRP thread ("lvsd-vrrp"), and on the checkers' thread
//! ("lvsd-checkers") and the threads of the main runtime (the LVS side) respectively. Nice values, scheduling policies and
//! CPU sets are per thread in Linux; RLIMIT_RTTIME is per process, so when both sides run
//! real-time it is the larger of their limits.

use crate::config::model::{GlobalDefs, ThreadTuning};
use crate::vrrp::sched::DEFAULT_RLIMIT_RTTIME_US;
use nix::sched::{sched_setaffinity, CpuSet};
use nix::unistd::Pid;

/// RLIMIT_RTTIME (µs) for the process: the larger limit of the sides that run real-time.
pub fn rlimit_rttime(g: &GlobalDefs) -> Option<u64> {
    let vrrp = g
        .vrrp_tuning
        .rt_priority
        .map(|_| g.vrrp_rlimit_rttime.unwrap_or(DEFAULT_RLIMIT_RTTIME_US));
    let checker = g
        .checker_tuning
        .rt_priority
        .map(|_| g.checker_rlimit_rttime.unwrap_or(DEFAULT_RLIMIT_RTTIME_US));
    vrrp.max(checker)
}

/// Applies `t` to the calling thread. Returns one line per change made, or the sentence
/// saying why one could not be made (Err).
pub fn apply_to_this_thread(
    t: &ThreadTuning,
    rlimit_us: Option<u64>,
) -> Vec<Result<String, String>> {
    let mut out = Vec::new();
    // As keepalived: a real-time priority leaves the nice value alone.
    if let Some(nice) = t.nice.filter(|_| t.rt_priority.is_none()) {
        // SAFETY: gettid and setpriority on our own thread id.
        let r = unsafe {
            let tid = libc::gettid() as libc::id_t;
            libc::setpriority(libc::PRIO_PROCESS, tid, nice)
        };
        out.push(if r == 0 {
            Ok(format!("nice {nice}"))
        } else {
            Err(format!(
                "cannot set nice {nice}: {}",
                std::io::Error::last_os_error()
            ))
        });
    }
    if !t.cpus.is_empty() {
        let mut set = CpuSet::new();
        let mut bad = Vec::new();
        for c in &t.cpus {
            if set.set(*c as usize).is_err() {
                bad.push(*c);
            }
        }
        let list = t
            .cpus
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(" ");
        out.push(match sched_setaffinity(Pid::from_raw(0), &set) {
            Ok(()) if bad.is_empty() => Ok(format!("CPUs {list}")),
            Ok(()) => Err(format!(
                "CPU numbers {bad:?} are out of range; CPUs {list} otherwise"
            )),
            Err(e) => Err(format!("cannot bind to CPUs {list}: {e}")),
        });
    }
    if let Some(prio) = t.rt_priority {
        let param = libc::sched_param {
            sched_priority: prio as libc::c_int,
        };
        // SAFETY: plain syscall on the calling thread with a valid sched_param.
        let r = unsafe {
            libc::sched_setscheduler(0, libc::SCHED_RR | libc::SCHED_RESET_ON_FORK, &param)
        };
        out.push(if r == 0 {
            Ok(format!("real-time priority {prio} (SCHED_RR)"))
        } else {
            Err(format!(
                "cannot set real-time priority {prio}: {}",
                std::io::Error::last_os_error()
            ))
        });
        if let Some(us) = rlimit_us {
            let lim = libc::rlimit {
                rlim_cur: us / 2,
                rlim_max: us,
            };
            // SAFETY: valid rlimit struct.
            if unsafe { libc::setrlimit(libc::RLIMIT_RTTIME, &lim) } != 0 {
                out.push(Err(format!(
                    "cannot set RLIMIT_RTTIME {us} µs: {}",
                    std::io::Error::last_os_error()
                )));
            }
        }
    }
    out
}

/// Applies `t` to the calling thread and logs what was done as one line (`who`: "VRRP
/// thread", "checker threads"), each failure as an error line.
pub fn apply_and_log(who: &str, t: &ThreadTuning, rlimit_us: Option<u64>) {
    let mut done = Vec::new();
    for r in apply_to_this_thread(t, rlimit_us) {
        match r {
            Ok(s) => done.push(s),
            Err(e) => tracing::error!("{who}: {e}"),
        }
    }
    if !done.is_empty() {
        tracing::info!("{who}: {}", done.join(", "));
    }
}

/// Open files a configuration may need at once: each checker holds at most a socket or a
/// script's pipes during an attempt (two), plus lvsd's own (VRRP sockets, netlink, logs,
/// the control socket) and room for scripts.
pub fn open_files_needed(checkers: usize) -> u64 {
    (checkers as u64).saturating_mul(2).saturating_add(1024)
}

/// Raises RLIMIT_NOFILE so that `needed` files can be open, as keepalived raises it for its
/// checkers: the soft limit up to the hard one, and the hard one too when it is lower and
/// the process may (root, up to `fs.nr_open`). Without it a director with thousands of
/// checkers runs out of descriptors at the usual soft limit of 1,024 and its checks fail
/// ("Too many open files") on healthy real servers. Returns the line to log when the limit
/// changed (Ok) or why it could not reach `needed` (Err); None when it was enough.
pub fn raise_open_files(needed: u64) -> Option<Result<String, String>> {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct it is given.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) } != 0 {
        return Some(Err(format!(
            "cannot read the open files limit: {}",
            std::io::Error::last_os_error()
        )));
    }
    if rl.rlim_cur >= needed {
        return None;
    }
    let was = rl.rlim_cur;
    let nr_open = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(rl.rlim_max);
    let hard = rl.rlim_max.max(needed.min(nr_open));
    let want = libc::rlimit {
        rlim_cur: needed.min(hard),
        rlim_max: hard,
    };
    // SAFETY: setrlimit reads the struct it is given.
    let set = if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &want) } == 0 {
        want.rlim_cur
    } else {
        // Not allowed to raise the hard limit: the soft one up to it.
        let soft = libc::rlimit {
            rlim_cur: needed.min(rl.rlim_max),
            rlim_max: rl.rlim_max,
        };
        // SAFETY: as above.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &soft) } != 0 {
            return Some(Err(format!(
                "cannot raise the open files limit from {was} to {needed}: {}",
                std::io::Error::last_os_error()
            )));
        }
        soft.rlim_cur
    };
    Some(if set >= needed {
        Ok(format!("Open files limit raised from {was} to {set}"))
    } else {
        Err(format!(
            "open files limit raised from {was} to {set} only, below the {needed} the checkers may need: checks may fail with \"Too many open files\""
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rttime_limit_is_the_larger_of_the_real_time_sides() {
        let mut g = GlobalDefs::default();
        assert_eq!(rlimit_rttime(&g), None);
        g.checker_tuning.rt_priority = Some(5);
        assert_eq!(rlimit_rttime(&g), Some(DEFAULT_RLIMIT_RTTIME_US));
        g.vrrp_tuning.rt_priority = Some(10);
        g.vrrp_rlimit_rttime = Some(50_000);
        assert_eq!(rlimit_rttime(&g), Some(50_000));
        g.checker_rlimit_rttime = Some(80_000);
        assert_eq!(rlimit_rttime(&g), Some(80_000));
    }

    #[test]
    fn nice_and_cpus_on_a_thread_of_its_own() {
        let t = ThreadTuning {
            nice: Some(7),
            rt_priority: None,
            cpus: vec![0],
        };
        let (res, nice, allowed) = std::thread::spawn(move || {
            let res = apply_to_this_thread(&t, None);
            // SAFETY: reading our own thread's nice value.
            let nice = unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as u32) };
            let allowed = nix::sched::sched_getaffinity(Pid::from_raw(0)).unwrap();
            (res, nice, allowed)
        })
        .join()
        .unwrap();
        assert!(res.iter().all(|r| r.is_ok()), "{res:?}");
        assert_eq!(nice, 7);
        assert!(allowed.is_set(0).unwrap());
        assert!(!allowed.is_set(1).unwrap_or(false));
    }
}
