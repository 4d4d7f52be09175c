//! `lvs_sync_daemon`: the kernel's IPVS connection-sync daemon follows the VRRP state of
//! the instance it names, as keepalived's VRRP process drives it: a backup daemon from the
//! start, the master daemon while that instance is MASTER, back to backup when it leaves
//! MASTER (BACKUP or FAULT), stopped at exit.
//!
//! [`wanted`] and [`plan`] are pure; [`SyncDaemonWorker`] is the thin adapter that applies
//! the plan through an [`IpvsGlobals`] on its own thread, so a slow or missing IPVS never
//! holds up the VRRP loop.

use crate::config::Config;
use crate::ipvs::globals;
use crate::ipvs::{IpvsGlobals, SyncDaemon, SyncState};
use crate::vrrp::state::State;
use std::sync::mpsc;
use std::thread::JoinHandle;

/// The sync daemon the configuration wants while the named instance is in `state`
/// (None: no `lvs_sync_daemon`, or `state` unknown because the instance is not there).
pub fn wanted(config: &Config, state: Option<State>) -> Option<SyncDaemon> {
    let role = match state? {
        State::Master => SyncState::Master,
        _ => SyncState::Backup,
    };
    globals::sync_daemon(config, role)
}

/// One step towards the wanted daemon.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncOp {
    Stop(SyncState),
    Start(SyncDaemon),
}

/// The steps from the daemon running now to the one wanted: nothing when they are equal,
/// else stop the running one (the kernel keeps one per role) and start the wanted one.
pub fn plan(running: Option<&SyncDaemon>, want: Option<&SyncDaemon>) -> Vec<SyncOp> {
    if running == want {
        return Vec::new();
    }
    let mut ops = Vec::new();
    if let Some(r) = running {
        ops.push(SyncOp::Stop(r.state));
    }
    if let Some(w) = want {
        ops.push(SyncOp::Start(w.clone()));
    }
    ops
}

fn role(s: SyncState) -> &'static str {
    match s {
        SyncState::Master => "master",
        SyncState::Backup => "backup",
    }
}

/// Applies `want` from `running`; returns what runs afterwards (a failed start leaves
/// nothing running, so the next request retries it).
pub fn apply<B: IpvsGlobals>(
    backend: &mut B,
    running: Option<SyncDaemon>,
    want: Option<&SyncDaemon>,
) -> Option<SyncDaemon> {
    let mut now = running;
    for op in plan(now.as_ref(), want) {
        match op {
            SyncOp::Stop(state) => {
                match backend.stop_sync_daemon(state) {
                    Ok(()) => tracing::info!("IPVS sync daemon ({}) stopped", role(state)),
                    Err(e) => {
                        tracing::error!("Cannot stop the IPVS sync daemon ({}): {e}", role(state))
                    }
                }
                now = None;
            }
            SyncOp::Start(d) => match backend.start_sync_daemon(&d) {
                Ok(()) => {
                    tracing::info!(
                        "IPVS sync daemon ({}) started on {} with sync id {}",
                        role(d.state),
                        d.interface,
                        d.sync_id
                    );
                    now = Some(d);
                }
                Err(e) => tracing::error!(
                    "Cannot start the IPVS sync daemon ({}) on {}: {e}",
                    role(d.state),
                    d.interface
                ),
            },
        }
    }
    now
}

/// A thread that owns the IPVS connection and moves the sync daemon to the last wanted
/// state. Requests are coalesced: only the latest matters.
pub struct SyncDaemonWorker {
    tx: Option<mpsc::Sender<Option<SyncDaemon>>>,
    thread: Option<JoinHandle<()>>,
}

impl SyncDaemonWorker {
    /// Starts the worker; `connect` opens the backend on the worker's thread (retried on
    /// the next request when it fails).
    pub fn spawn<B, C>(mut connect: C) -> SyncDaemonWorker
    where
        B: IpvsGlobals,
        C: FnMut() -> Result<B, String> + Send + 'static,
    {
        let (tx, rx) = mpsc::channel::<Option<SyncDaemon>>();
        let thread = std::thread::Builder::new()
            .name("lvsd-syncd".into())
            .spawn(move || {
                let mut backend: Option<B> = None;
                let mut running: Option<SyncDaemon> = None;
                while let Ok(mut want) = rx.recv() {
                    while let Ok(later) = rx.try_recv() {
                        want = later;
                    }
                    if backend.is_none() {
                        match connect() {
                            Ok(b) => backend = Some(b),
                            Err(e) => {
                                tracing::error!("IPVS sync daemon: cannot reach IPVS: {e}");
                                continue;
                            }
                        }
                    }
                    if let Some(b) = backend.as_mut() {
                        running = apply(b, running.take(), want.as_ref());
                    }
                }
            });
        match thread {
            Ok(t) => SyncDaemonWorker {
                tx: Some(tx),
                thread: Some(t),
            },
            Err(e) => {
                tracing::error!("IPVS sync daemon: cannot start its thread: {e}");
                SyncDaemonWorker {
                    tx: None,
                    thread: None,
                }
            }
        }
    }

    /// Asks for `want` (None: no sync daemon). Never blocks.
    pub fn set(&self, want: Option<SyncDaemon>) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(want);
        }
    }

    /// Stops the daemon and waits for the worker to finish.
    pub fn stop(mut self) {
        self.set(None);
        self.tx = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::LvsSyncDaemon;
    use crate::ipvs::Timeouts;

    /// The kernel's sync daemons as the worker leaves them (what the LVS side's fake kernel
    /// records, without reaching into the LVS side).
    #[derive(Default)]
    struct Kernel {
        daemons: Vec<SyncState>,
        stops: Vec<SyncState>,
        start_failures: usize,
    }

    #[derive(Debug, thiserror::Error)]
    #[error("start refused")]
    struct Refused;

    impl IpvsGlobals for Kernel {
        type Error = Refused;
        fn set_timeouts(&mut self, _: &Timeouts) -> Result<(), Refused> {
            Ok(())
        }
        fn start_sync_daemon(&mut self, daemon: &SyncDaemon) -> Result<(), Refused> {
            if self.start_failures > 0 {
                self.start_failures -= 1;
                return Err(Refused);
            }
            self.daemons.push(daemon.state);
            Ok(())
        }
        fn stop_sync_daemon(&mut self, state: SyncState) -> Result<(), Refused> {
            self.stops.push(state);
            Ok(())
        }
    }

    fn config() -> Config {
        let mut c = Config::default();
        c.global.lvs_sync_daemon = Some(LvsSyncDaemon {
            interface: "eth1".into(),
            instance: "VI_1".into(),
            sync_id: Some(9),
            maxlen: None,
            port: None,
            ttl: None,
            group: None,
        });
        c
    }

    #[test]
    fn role_follows_the_instance_state() {
        let c = config();
        let role_of = |s| wanted(&c, s).map(|d| d.state);
        assert_eq!(role_of(Some(State::Master)), Some(SyncState::Master));
        assert_eq!(role_of(Some(State::Backup)), Some(SyncState::Backup));
        assert_eq!(role_of(Some(State::Fault)), Some(SyncState::Backup));
        assert_eq!(role_of(Some(State::Init)), Some(SyncState::Backup));
        assert_eq!(role_of(None), None);
        assert_eq!(wanted(&Config::default(), Some(State::Master)), None);
    }

    #[test]
    fn plan_table() {
        let c = config();
        let b = wanted(&c, Some(State::Backup));
        let m = wanted(&c, Some(State::Master));
        let (b, m) = (b.as_ref(), m.as_ref());
        assert_eq!(plan(None, None), vec![]);
        assert_eq!(plan(b, b), vec![]);
        assert_eq!(plan(None, b), vec![SyncOp::Start(b.unwrap().clone())]);
        assert_eq!(
            plan(b, m),
            vec![
                SyncOp::Stop(SyncState::Backup),
                SyncOp::Start(m.unwrap().clone())
            ]
        );
        assert_eq!(plan(m, None), vec![SyncOp::Stop(SyncState::Master)]);
        // a changed interface restarts the daemon in the same role
        let mut moved = b.unwrap().clone();
        moved.interface = "eth2".into();
        assert_eq!(
            plan(b, Some(&moved)),
            vec![
                SyncOp::Stop(SyncState::Backup),
                SyncOp::Start(moved.clone())
            ]
        );
    }

    #[test]
    fn apply_through_a_kernel_and_retry_after_a_failed_start() {
        let c = config();
        let mut kernel = Kernel::default();
        let b = wanted(&c, Some(State::Backup));
        let m = wanted(&c, Some(State::Master));
        let running = apply(&mut kernel, None, b.as_ref());
        assert_eq!(running, b);
        let running = apply(&mut kernel, running, m.as_ref());
        assert_eq!(running, m);
        let running = apply(&mut kernel, running, None);
        assert_eq!(running, None);
        assert_eq!(kernel.daemons, vec![SyncState::Backup, SyncState::Master]);
        assert_eq!(kernel.stops, vec![SyncState::Backup, SyncState::Master]);
        kernel.start_failures = 1;
        assert_eq!(apply(&mut kernel, None, b.as_ref()), None, "failed start");
        assert_eq!(apply(&mut kernel, None, b.as_ref()), b, "retried");
    }
}
