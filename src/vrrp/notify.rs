//! What a VRRP state change tells the outside: notify scripts, notify_fifo lines and mail.
//!
//! Scripts of one instance (or sync group) run one after the other, in the order of the
//! state changes: the next starts only when the previous has ended or was killed at its
//! timeout (keepalived starts them unordered). Different instances do not wait for each
//! other. Nothing here ever blocks the caller: work is queued to tasks.
//! notify_fifo lines are written in order by one task, keepalived's format:
//! `INSTANCE "VI_1" MASTER 150`.

use crate::alert::{self, Alert, MailSettings, Mailer};
use crate::config::{GlobalDefs, Notify};
use crate::notify_fifo::FifoWriter;
use crate::script::ScriptUser;
use crate::script::{self, Outcome, Script};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// Whose state changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Who {
    Instance,
    Group,
}

impl Who {
    pub fn word(self) -> &'static str {
        match self {
            Who::Instance => "INSTANCE",
            Who::Group => "GROUP",
        }
    }
}

/// The states notify scripts are told about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NotifyState {
    Master,
    Backup,
    Fault,
    Stop,
    Deleted,
    /// notify_priority_changes: the effective priority of a MASTER / BACKUP changed
    /// (fifo only).
    MasterPriority,
    BackupPriority,
}

impl NotifyState {
    pub fn word(self) -> &'static str {
        match self {
            NotifyState::Master => "MASTER",
            NotifyState::Backup => "BACKUP",
            NotifyState::Fault => "FAULT",
            NotifyState::Stop => "STOP",
            NotifyState::Deleted => "DELETED",
            NotifyState::MasterPriority => "MASTER_PRIORITY",
            NotifyState::BackupPriority => "BACKUP_PRIORITY",
        }
    }
}

/// One state change of an instance or sync group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateChange {
    pub who: Who,
    pub name: String,
    pub state: NotifyState,
    pub priority: u8,
}

/// The four arguments keepalived appends to the generic `notify` script.
pub fn generic_args(c: &StateChange) -> Vec<String> {
    vec![
        c.who.word().to_string(),
        c.name.clone(),
        c.state.word().to_string(),
        c.priority.to_string(),
    ]
}

/// The notify_fifo line (with its newline).
pub fn fifo_line(c: &StateChange) -> String {
    format!(
        "{} \"{}\" {} {}\n",
        c.who.word(),
        c.name,
        c.state.word(),
        c.priority
    )
}

/// The scripts to run for a change, in order: the state's own script (no extra
/// arguments), then the generic `notify` with the four arguments.
pub fn scripts_for(n: &Notify, c: &StateChange) -> Vec<(String, Vec<String>)> {
    let own = match c.state {
        NotifyState::Master => &n.master,
        NotifyState::Backup => &n.backup,
        NotifyState::Fault => &n.fault,
        NotifyState::Stop => &n.stop,
        NotifyState::Deleted => &n.deleted,
        // keepalived writes priority changes to the fifos only
        NotifyState::MasterPriority | NotifyState::BackupPriority => return Vec::new(),
    };
    let mut out = Vec::new();
    if let Some(s) = own {
        out.push((s.clone(), Vec::new()));
    }
    if let Some(s) = &n.generic {
        out.push((s.clone(), generic_args(c)));
    }
    out
}

/// Whether a change whose instance or group asks for mail (`smtp_alert`) sends one:
/// `no_email_faults` keeps FAULT quiet; priority lines never mail.
fn mails(asked: bool, no_email_faults: bool, state: NotifyState) -> bool {
    match state {
        NotifyState::Fault => asked && !no_email_faults,
        NotifyState::MasterPriority | NotifyState::BackupPriority => false,
        _ => asked,
    }
}

/// Counters of the notify side.
#[derive(Debug, Default)]
pub struct NotifyStats {
    pub scripts_run: AtomicU64,
    pub scripts_failed: AtomicU64,
    pub scripts_timed_out: AtomicU64,
    pub mails_queued: AtomicU64,
    /// Scripts queued or running.
    pub pending: AtomicU64,
}

struct Job {
    scripts: Vec<(String, Vec<String>)>,
    what: String,
}

#[derive(Clone)]
struct ScriptSettings {
    user: Option<ScriptUser>,
    /// Users given on the scripts' own lines, by command line (`Config::script_users`).
    users: Arc<std::collections::BTreeMap<String, ScriptUser>>,
    timeout: Duration,
    secure: bool,
}

/// Runs notify scripts, writes fifo lines and sends mail for state changes.
pub struct Notifier {
    settings: ScriptSettings,
    queues: HashMap<(Who, String), mpsc::UnboundedSender<Job>>,
    fifos: Vec<FifoWriter>,
    mailer: Option<(Mailer, String)>,
    /// `no_email_faults`: FAULT states send no mail.
    no_email_faults: bool,
    pub stats: Arc<NotifyStats>,
    /// Commands that could not be started (missing, not executable, refused by
    /// `enable_script_security`): named once, as the configuration's check at start
    /// does, not at every state change.
    cannot_run: Arc<std::sync::Mutex<HashSet<String>>>,
}

impl Notifier {
    /// Starts the fifo writers and the mailer the global settings ask for. Needs tokio.
    pub fn new(global: &GlobalDefs) -> Notifier {
        let stats = Arc::new(NotifyStats::default());
        let fifos =
            crate::notify_fifo::writers([&global.notify_fifo, &global.vrrp_notify_fifo], global);
        let mailer = MailSettings::from_global(global).map(|s| {
            let rid = s.router_id.clone();
            (Mailer::start(s), rid)
        });
        Notifier {
            no_email_faults: global.no_email_faults,
            settings: ScriptSettings {
                user: global.script_user.clone(),
                users: Arc::default(),
                timeout: global.notify_script_timeout,
                secure: global.enable_script_security,
            },
            queues: HashMap::new(),
            fifos,
            mailer,
            stats,
            cannot_run: Arc::default(),
        }
    }

    /// Runs each script of `config` that names its user on its own line as that user.
    pub fn use_script_users(&mut self, config: &crate::config::Config) {
        self.settings.users = Arc::new(config.script_users.clone());
    }

    /// Takes note of the notify commands of `config` that cannot be run: loading the
    /// configuration named them already (`vet_scripts`), so a state change that cannot
    /// run one says so at debug level only. A command that breaks later is named once.
    pub fn known_unrunnable(&mut self, config: &crate::config::Config) {
        let notifies = config
            .instances
            .iter()
            .map(|i| &i.notify)
            .chain(config.sync_groups.iter().map(|g| &g.notify));
        let mut bad = Vec::new();
        for n in notifies {
            for command in [
                &n.master,
                &n.backup,
                &n.fault,
                &n.stop,
                &n.deleted,
                &n.generic,
                &n.master_rx_lower_pri,
            ]
            .into_iter()
            .flatten()
            {
                if script::check_runnable(command, self.settings.secure).is_err() {
                    bad.push(command.clone());
                }
            }
        }
        if let Ok(mut set) = self.cannot_run.lock() {
            set.extend(bad);
        }
    }

    /// Reports one change: fifo line, scripts (queued behind earlier ones of the same
    /// instance), and a mail when `mail` is true. Returns at once.
    pub fn state_changed(&mut self, c: &StateChange, scripts: &Notify, mail: bool) {
        let line = fifo_line(c);
        for f in &self.fifos {
            f.send(line.clone());
        }
        let list = scripts_for(scripts, c);
        if !list.is_empty() {
            let key = (c.who, c.name.clone());
            self.stats
                .pending
                .fetch_add(list.len() as u64, Ordering::SeqCst);
            let job = Job {
                scripts: list,
                what: format!("{} {} notify {}", c.who.word(), c.name, c.state.word()),
            };
            let tx = self.queues.entry(key).or_insert_with(|| {
                start_queue(
                    self.settings.clone(),
                    self.stats.clone(),
                    self.cannot_run.clone(),
                )
            });
            if let Err(mpsc::error::SendError(job)) = tx.send(job) {
                // The queue task is gone (runtime shutting down): start a fresh one.
                let tx2 = start_queue(
                    self.settings.clone(),
                    self.stats.clone(),
                    self.cannot_run.clone(),
                );
                let _ = tx2.send(job);
                *tx = tx2;
            }
        }
        if mails(mail, self.no_email_faults, c.state) {
            if let Some((m, rid)) = &self.mailer {
                let subject = match c.who {
                    Who::Instance => alert::vrrp_subject(rid, &c.name, c.state.word()),
                    Who::Group => alert::sync_group_subject(rid, &c.name, c.state.word()),
                };
                let body = format!(
                    "=> VRRP {} {} entering {} state (priority {}) <=",
                    c.who.word().to_lowercase(),
                    c.name,
                    c.state.word(),
                    c.priority
                );
                m.send(Alert { subject, body });
                self.stats.mails_queued.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Waits (bounded) until every queued script has ended, e.g. before exiting so
    /// notify_stop scripts get to run. Returns whether all ended.
    pub async fn drain(&self, limit: Duration) -> bool {
        tokio::time::timeout(limit, async {
            while self.stats.pending.load(Ordering::SeqCst) > 0 {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        })
        .await
        .is_ok()
    }
}

fn start_queue(
    settings: ScriptSettings,
    stats: Arc<NotifyStats>,
    cannot_run: Arc<std::sync::Mutex<HashSet<String>>>,
) -> mpsc::UnboundedSender<Job> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Job>();
    tokio::spawn(async move {
        while let Some(job) = rx.recv().await {
            for (command, args) in job.scripts {
                let s = Script {
                    command: command.clone(),
                    user: settings
                        .users
                        .get(&command)
                        .or(settings.user.as_ref())
                        .cloned(),
                    timeout: settings.timeout,
                    secure: settings.secure,
                };
                stats.scripts_run.fetch_add(1, Ordering::Relaxed);
                match script::run(&s, &args).await {
                    Ok(Outcome::Exited(0)) => {
                        tracing::debug!("{}: {command} exited 0", job.what)
                    }
                    Ok(Outcome::TimedOut) => {
                        stats.scripts_timed_out.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(
                            "{}: {command} killed after {:?}",
                            job.what,
                            settings.timeout
                        );
                    }
                    Ok(o) => {
                        stats.scripts_failed.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!("{}: {command} ended with {o:?}", job.what);
                    }
                    Err(e) => {
                        stats.scripts_failed.fetch_add(1, Ordering::Relaxed);
                        let first = cannot_run
                            .lock()
                            .map(|mut set| set.insert(command.clone()))
                            .unwrap_or(true);
                        if first {
                            tracing::error!(
                                "{}: {e} (said once: later state changes that cannot run it are logged at debug level)",
                                job.what
                            );
                        } else {
                            tracing::debug!("{}: {e}", job.what);
                        }
                    }
                }
                stats.pending.fetch_sub(1, Ordering::SeqCst);
            }
        }
    });
    tx
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::OpenOptionsExt;

    fn change(state: NotifyState) -> StateChange {
        StateChange {
            who: Who::Instance,
            name: "VI_1".into(),
            state,
            priority: 150,
        }
    }

    #[test]
    fn no_email_faults_keeps_fault_quiet() {
        assert!(mails(true, false, NotifyState::Fault));
        assert!(!mails(true, true, NotifyState::Fault));
        assert!(mails(true, true, NotifyState::Master));
        assert!(!mails(false, false, NotifyState::Master));
        assert!(!mails(true, false, NotifyState::MasterPriority));
    }

    #[test]
    fn fifo_line_format() {
        assert_eq!(
            fifo_line(&change(NotifyState::Master)),
            "INSTANCE \"VI_1\" MASTER 150\n"
        );
        let g = StateChange {
            who: Who::Group,
            name: "G1".into(),
            state: NotifyState::Fault,
            priority: 0,
        };
        assert_eq!(fifo_line(&g), "GROUP \"G1\" FAULT 0\n");
    }

    #[test]
    fn generic_argument_order() {
        assert_eq!(
            generic_args(&change(NotifyState::Backup)),
            vec!["INSTANCE", "VI_1", "BACKUP", "150"]
        );
    }

    #[test]
    fn own_script_first_then_generic() {
        let n = Notify {
            master: Some("/bin/m arg".into()),
            backup: Some("/bin/b".into()),
            generic: Some("/bin/g".into()),
            ..Default::default()
        };
        let s = scripts_for(&n, &change(NotifyState::Master));
        assert_eq!(s.len(), 2);
        assert_eq!(s[0], ("/bin/m arg".to_string(), vec![]));
        assert_eq!(s[1].0, "/bin/g");
        assert_eq!(s[1].1, vec!["INSTANCE", "VI_1", "MASTER", "150"]);
        // No notify_fault: only the generic one runs.
        let f = scripts_for(&n, &change(NotifyState::Fault));
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].0, "/bin/g");
        assert!(scripts_for(&Notify::default(), &change(NotifyState::Stop)).is_empty());
    }

    #[tokio::test]
    async fn scripts_of_one_instance_run_in_order_and_fifo_lines_too() {
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("log");
        let fifo = dir.path().join("fifo");
        // The first script is slow: if the second did not wait, its line would come first.
        let slow = format!(
            "/bin/sh -c 'sleep 0.3; echo \"$0 $1 $2 $3\" >> {}'",
            log.display()
        );
        let fast = format!("/bin/sh -c 'echo \"$0 $1 $2 $3\" >> {}'", log.display());
        let global = GlobalDefs {
            vrrp_notify_fifo: Some(crate::config::NotifyFifo {
                path: fifo.clone(),
                script: None,
                script_user: None,
            }),
            ..Default::default()
        };
        let mut n = Notifier::new(&global);
        let master = Notify {
            generic: Some(slow),
            ..Default::default()
        };
        let backup = Notify {
            generic: Some(fast),
            ..Default::default()
        };
        // Open a reader before lines are written (read-write so open never blocks).
        let mut reader = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open({
                // The writer creates the fifo when it starts.
                crate::notify_fifo::ensure_fifo(&fifo).unwrap();
                &fifo
            })
            .unwrap();
        n.state_changed(&change(NotifyState::Master), &master, false);
        n.state_changed(&change(NotifyState::Backup), &backup, false);
        assert!(n.drain(Duration::from_secs(5)).await);
        let got = std::fs::read_to_string(&log).unwrap();
        assert_eq!(
            got, "INSTANCE VI_1 MASTER 150\nINSTANCE VI_1 BACKUP 150\n",
            "scripts ran out of order"
        );
        let mut buf = [0u8; 256];
        let k = std::io::Read::read(&mut reader, &mut buf).unwrap();
        assert_eq!(
            std::str::from_utf8(&buf[..k]).unwrap(),
            "INSTANCE \"VI_1\" MASTER 150\nINSTANCE \"VI_1\" BACKUP 150\n"
        );
        let written: u64 = n
            .fifos
            .iter()
            .map(|f| f.counters.written.load(Ordering::Relaxed))
            .sum();
        assert_eq!(written, 2);
    }

    /// Error lines logged on this thread while `f`'s future runs.
    async fn errors_during<F: std::future::Future<Output = ()>>(f: F) -> Vec<String> {
        #[derive(Clone, Default)]
        struct Sink(Arc<std::sync::Mutex<Vec<u8>>>);
        impl std::io::Write for Sink {
            fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let sink = Sink::default();
        let w = sink.clone();
        let sub = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::WARN)
            .with_ansi(false)
            .with_writer(move || w.clone())
            .finish();
        let guard = tracing::subscriber::set_default(sub);
        f.await;
        drop(guard);
        let text = String::from_utf8_lossy(&sink.0.lock().unwrap()).into_owned();
        text.lines().map(str::to_string).collect()
    }

    /// Issue 17: a notify script that cannot be run is named once, not at every change;
    /// one the configuration check named at start is not named again.
    #[tokio::test]
    async fn a_missing_notify_script_is_named_once() {
        let missing = Notify {
            generic: Some("/nonexistent/lvsd-notify.sh".into()),
            ..Default::default()
        };
        let mut n = Notifier::new(&GlobalDefs::default());
        let lines = errors_during(async {
            for state in [
                NotifyState::Master,
                NotifyState::Backup,
                NotifyState::Master,
            ] {
                n.state_changed(&change(state), &missing, false);
            }
            assert!(n.drain(Duration::from_secs(5)).await);
        })
        .await;
        assert_eq!(lines.len(), 1, "{lines:#?}");
        assert!(
            lines[0].contains("/nonexistent/lvsd-notify.sh"),
            "{}",
            lines[0]
        );
        assert_eq!(n.stats.scripts_failed.load(Ordering::Relaxed), 3);

        // Known at start (the configuration's check named it): never named again.
        let mut config = crate::config::Config::default();
        let mut inst = crate::config::model::VrrpInstance::new("VI_1".into(), Default::default());
        inst.notify = missing.clone();
        config.instances.push(inst);
        let mut n = Notifier::new(&GlobalDefs::default());
        n.known_unrunnable(&config);
        let lines = errors_during(async {
            n.state_changed(&change(NotifyState::Master), &missing, false);
            n.state_changed(&change(NotifyState::Backup), &missing, false);
            assert!(n.drain(Duration::from_secs(5)).await);
        })
        .await;
        assert_eq!(lines, Vec::<String>::new());
    }
}
