//! An in-memory IPVS table with the kernel's answers (EEXIST, ESRCH, ENOENT), for tests
//! of the reconciler and the runtime. Failures can be injected per operation.

use super::runtime::IpvsSource;
use super::table::Table;
use crate::ipvs::{
    DestState, IpvsBackend, IpvsGlobals, Op, OpResult, ServiceState, Stats, SyncDaemon, SyncState,
    Timeouts,
};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

#[derive(Debug, thiserror::Error)]
#[error("fake IPVS transport failure")]
pub struct FakeError;

type Rule = Box<dyn Fn(&Op) -> Option<i32> + Send>;
/// Sees each `apply` call's operations once they are applied (benchmarks time them).
type Observer = Box<dyn FnMut(&[Op]) + Send>;

/// The fake kernel's state, shared between the test and the backend it hands out.
#[derive(Default)]
pub struct FakeKernel {
    pub table: Table,
    /// Every operation the backend was asked to apply, in order (failed ones too), unless
    /// `log_off` is set.
    pub log: Vec<Op>,
    /// Keep no log: a long benchmark would otherwise hold every operation it ever sent.
    pub log_off: bool,
    /// Called at the end of each `apply` call with its operations (outside of a transport
    /// failure), while the kernel's lock is held.
    pub observer: Option<Observer>,
    pub dumps: usize,
    /// How long a dump that may be given up takes (a large table in a slow guest), with
    /// `give_up` asked every few milliseconds; those given up are counted.
    pub dump_pause: std::time::Duration,
    pub dumps_given_up: usize,
    pub apply_calls: usize,
    /// Operations matching a rule fail with its errno (the rule stays until removed).
    pub rules: Vec<Rule>,
    /// The next `apply` / `dump` calls fail as a transport error.
    pub transport_failures: VecDeque<()>,
    /// The `apply` call with this number (`apply_calls` counted from 1) fails as a
    /// transport error.
    pub transport_failure_at_apply: Option<usize>,
    pub timeouts: Vec<Timeouts>,
    pub daemons: Vec<SyncDaemon>,
    pub daemon_stops: Vec<SyncState>,
    /// The next this many sync-daemon starts fail.
    pub daemon_start_failures: usize,
    /// Times the LVS runtime opened this kernel (through [`IpvsSource`]).
    pub opens: usize,
    /// The next opens fail with these reasons (IPVS not available yet).
    pub unavailable: VecDeque<String>,
    /// Active connections a dump reports per destination (0 when not listed).
    pub active_conns:
        std::collections::HashMap<(crate::ipvs::ServiceKey, crate::ipvs::DestKey), u32>,
    /// The counters and rates a dump reports per service (zero when not listed).
    pub service_stats: std::collections::HashMap<crate::ipvs::ServiceKey, Stats>,
    /// The counters and rates a dump reports per destination (zero when not listed).
    pub dest_stats:
        std::collections::HashMap<(crate::ipvs::ServiceKey, crate::ipvs::DestKey), Stats>,
}

impl FakeKernel {
    fn errno_for(&self, op: &Op) -> Option<i32> {
        if let Some(e) = self.rules.iter().find_map(|r| r(op)) {
            return Some(e);
        }
        let t = &self.table.services;
        match op {
            Op::AddService(s) if t.contains_key(&s.key) => Some(libc::EEXIST),
            Op::EditService(s) if !t.contains_key(&s.key) => Some(libc::ESRCH),
            Op::DelService(k) if !t.contains_key(k) => Some(libc::ESRCH),
            Op::AddDest(k, d) => match t.get(k) {
                None => Some(libc::ESRCH),
                Some(e) if e.dests.contains_key(&d.key) => Some(libc::EEXIST),
                _ => None,
            },
            Op::EditDest(k, d) => match t.get(k) {
                None => Some(libc::ESRCH),
                Some(e) if !e.dests.contains_key(&d.key) => Some(libc::ENOENT),
                _ => None,
            },
            Op::DelDest(k, d) => match t.get(k) {
                None => Some(libc::ESRCH),
                Some(e) if !e.dests.contains_key(d) => Some(libc::ENOENT),
                _ => None,
            },
            _ => None,
        }
    }

    /// Clears the operation log (to look at what one step sent).
    pub fn take_log(&mut self) -> Vec<Op> {
        std::mem::take(&mut self.log)
    }
}

/// A backend over a shared [`FakeKernel`].
#[derive(Clone, Default)]
pub struct FakeIpvs {
    pub kernel: Arc<Mutex<FakeKernel>>,
}

impl FakeIpvs {
    pub fn new() -> FakeIpvs {
        FakeIpvs::default()
    }

    /// Runs `f` on the kernel state.
    pub fn with<R>(&self, f: impl FnOnce(&mut FakeKernel) -> R) -> R {
        let mut k = match self.kernel.lock() {
            Ok(k) => k,
            Err(poisoned) => poisoned.into_inner(),
        };
        f(&mut k)
    }

    /// A copy of the table.
    pub fn table(&self) -> Table {
        self.with(|k| k.table.clone())
    }
}

impl IpvsBackend for FakeIpvs {
    type Error = FakeError;
    fn dump_each_unless(
        &mut self,
        give_up: &dyn Fn() -> bool,
        each: &mut dyn FnMut(ServiceState),
    ) -> Result<bool, FakeError> {
        let pause = self.with(|k| k.dump_pause);
        let until = std::time::Instant::now() + pause;
        loop {
            if give_up() {
                self.with(|k| k.dumps_given_up += 1);
                return Ok(false);
            }
            let left = until.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                break;
            }
            std::thread::sleep(left.min(std::time::Duration::from_millis(5)));
        }
        self.dump()?.into_iter().for_each(each);
        Ok(true)
    }
    fn dump(&mut self) -> Result<Vec<ServiceState>, FakeError> {
        self.with(|k| {
            k.dumps += 1;
            if k.transport_failures.pop_front().is_some() {
                return Err(FakeError);
            }
            Ok(k.table
                .services
                .values()
                .map(|e| ServiceState {
                    service: e.service.clone(),
                    stats: k
                        .service_stats
                        .get(&e.service.key)
                        .copied()
                        .unwrap_or_default(),
                    dests: e
                        .dests
                        .values()
                        .map(|d| DestState {
                            dest: d.clone(),
                            active_conns: k
                                .active_conns
                                .get(&(e.service.key, d.key))
                                .copied()
                                .unwrap_or(0),
                            inactive_conns: 0,
                            persistent_conns: 0,
                            stats: k
                                .dest_stats
                                .get(&(e.service.key, d.key))
                                .copied()
                                .unwrap_or_default(),
                        })
                        .collect(),
                })
                .collect())
        })
    }

    fn apply(&mut self, ops: &[Op]) -> Result<Vec<OpResult>, FakeError> {
        self.with(|k| {
            k.apply_calls += 1;
            if k.transport_failures.pop_front().is_some()
                || k.transport_failure_at_apply == Some(k.apply_calls)
            {
                return Err(FakeError);
            }
            let mut results = Vec::with_capacity(ops.len());
            for op in ops {
                match k.errno_for(op) {
                    Some(e) => results.push(Err(e)),
                    None => {
                        k.table.apply(op);
                        results.push(Ok(()));
                    }
                }
                if !k.log_off {
                    k.log.push(op.clone());
                }
            }
            if let Some(observe) = k.observer.as_mut() {
                observe(ops);
            }
            Ok(results)
        })
    }
}

/// The fake as the LVS runtime's source of IPVS: each open is counted, and fails while
/// [`FakeKernel::unavailable`] holds reasons.
impl IpvsSource for FakeIpvs {
    type Backend = FakeIpvs;

    fn open(&mut self) -> Result<FakeIpvs, String> {
        self.with(|k| {
            k.opens += 1;
            match k.unavailable.pop_front() {
                Some(reason) => Err(reason),
                None => Ok(()),
            }
        })?;
        Ok(self.clone())
    }
}

impl IpvsGlobals for FakeIpvs {
    type Error = FakeError;

    fn set_timeouts(&mut self, timeouts: &Timeouts) -> Result<(), FakeError> {
        self.with(|k| k.timeouts.push(*timeouts));
        Ok(())
    }

    fn start_sync_daemon(&mut self, daemon: &SyncDaemon) -> Result<(), FakeError> {
        self.with(|k| {
            if k.daemon_start_failures > 0 {
                k.daemon_start_failures -= 1;
                return Err(FakeError);
            }
            k.daemons.push(daemon.clone());
            Ok(())
        })
    }

    fn stop_sync_daemon(&mut self, state: SyncState) -> Result<(), FakeError> {
        self.with(|k| k.daemon_stops.push(state));
        Ok(())
    }
}
