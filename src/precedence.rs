//! A reload's work before the checks: the calling thread's nice value lowered for as long
//! as it does that work.

/// How many nice levels a reload's own work goes before the checks: 10 levels give a
/// thread about nine times the CPU share of one at the level it came from.
pub const RELOAD_PRECEDENCE: i32 = 10;

/// The calling thread's nice value lowered by some levels (it goes before the threads
/// that stay where they were) until this is dropped. A reload's work takes it: lvsd's
/// checks keep running during a reload (keepalived's stop while its checker process
/// reads the file), and on a director whose CPU the checks keep busy the reload would
/// otherwise get only a fair share with each of their threads. Lowering a nice value
/// needs CAP_SYS_NICE: without it the thread stays as it was.
pub struct Precedence {
    tid: libc::id_t,
    before: Option<libc::c_int>,
    /// Not Send: it is given back on the thread that took it.
    _here: std::marker::PhantomData<*const ()>,
}

impl Precedence {
    pub fn take(levels: i32) -> Precedence {
        // SAFETY: gettid has no preconditions.
        let tid = unsafe { libc::gettid() } as libc::id_t;
        // getpriority answers -1 both for nice -1 and for an error: errno tells them apart.
        // SAFETY: clearing and reading this thread's errno, then plain syscalls on our
        // own thread id.
        let before = unsafe {
            *libc::__errno_location() = 0;
            let nice = libc::getpriority(libc::PRIO_PROCESS, tid);
            if nice == -1 && *libc::__errno_location() != 0 {
                None
            } else if libc::setpriority(libc::PRIO_PROCESS, tid, (nice - levels).max(-20)) == 0 {
                Some(nice)
            } else {
                None
            }
        };
        Precedence {
            tid,
            before,
            _here: std::marker::PhantomData,
        }
    }
}

impl Drop for Precedence {
    fn drop(&mut self) {
        if let Some(nice) = self.before {
            // SAFETY: a plain syscall on our own thread id (`Precedence` is not Send, so
            // it is dropped on the thread that took it).
            unsafe {
                libc::setpriority(libc::PRIO_PROCESS, self.tid, nice);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A thread goes `RELOAD_PRECEDENCE` levels before where it was while it holds the
    /// precedence (as root), and back after; without the privilege it stays put.
    #[test]
    fn precedence_lowers_the_nice_value_until_dropped() {
        let (before, during, after) = std::thread::spawn(|| {
            // SAFETY: reading and setting our own thread's nice value.
            let nice = || unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as u32) };
            // SAFETY: as above (raising a nice value needs no privilege).
            unsafe { libc::setpriority(libc::PRIO_PROCESS, libc::gettid() as u32, 3) };
            let before = nice();
            let p = Precedence::take(RELOAD_PRECEDENCE);
            let during = nice();
            drop(p);
            (before, during, nice())
        })
        .join()
        .unwrap();
        assert_eq!(before, 3);
        if nix::unistd::geteuid().is_root() {
            assert_eq!(during, 3 - RELOAD_PRECEDENCE);
        } else {
            assert_eq!(during, 3);
        }
        assert_eq!(after, 3);
    }
}
