//! Process concerns: logging, pid files, signals, and starting the VRRP and LVS sides.
//!
//! The two sides are tokio tasks in one process. Each is started with its part of the
//! configuration and a [`Control`]: a new configuration arrives on `reload` after SIGHUP
//! (already parsed and validated: a broken file never reaches a side), and `shutdown`
//! turns true on SIGTERM/SIGINT, after which the side resigns and cleans up, then returns.

pub mod config_load;
pub mod logging;

pub mod pidfile;
pub mod reload_outcome;
pub mod reload_time;
pub mod sd_notify;
pub mod signals;
pub mod tuning;

use crate::control::{dump_global, heartbeat, report, since_start, Control};

use crate::backoff::{self, Retry};
use crate::cli::Options;
use crate::config::Config;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How long the sides get to resign, release addresses and run notify_stop on SIGTERM.
///
/// Long enough for the LVS side to remove a large table from a slow kernel (100,000
/// destinations took up to 19 s in the emulated test guest) before lvsd gives up on it
/// and leaves entries behind; the systemd unit's TimeoutStopSec is longer.
pub const SHUTDOWN_LIMIT: Duration = Duration::from_secs(60);

/// Starts the LVS side: health checkers (on a thread of their own) driving the kernel's
/// IPVS table.
fn start_lvs(ctl: Control) -> anyhow::Result<JoinHandle<anyhow::Result<()>>> {
    let checkers = managed_checkers(&ctl.reload.borrow().global)?;
    Ok(tokio::spawn(crate::lvs::runtime::run(ctl, checkers)))
}

/// The health checkers as the daemon runs them: on a thread of their own (named
/// `checker_process_name`, else lvsd-checkers) with a single-threaded runtime, as
/// keepalived runs them in a process of their own, with `checker_priority`,
/// `checker_rt_priority` and `checker_cpu_affinity`. Public for `benches/checks.rs`.
pub fn managed_checkers(
    g: &crate::config::GlobalDefs,
) -> anyhow::Result<crate::lvs::runtime::ManagedCheckers> {
    let name = g
        .process_names
        .checker
        .as_deref()
        .unwrap_or("lvsd-checkers");
    let tuning = g.checker_tuning.clone();
    let rlimit = tuning::rlimit_rttime(g);
    let thread = crate::checkers::CheckerThread::start(name, move || {
        tuning::apply_and_log("checker thread", &tuning, rlimit);
    })
    .map_err(|e| anyhow::anyhow!("cannot start the checkers' thread: {e}"))?;
    Ok(crate::lvs::runtime::ManagedCheckers::on_thread(thread))
}

/// keepalived's exit code for "cannot run", also the waiting parent's when the daemon
/// could not start.
pub const EXIT_CANNOT_RUN: i32 = 3;

/// How long the parent of a forked daemon waits for its verdict.
const START_WAIT: Duration = Duration::from_secs(30);

/// The forked daemon's word to its parent, which waits in the foreground so that init
/// scripts and operators see a failed start: "ok" once the daemon runs, or why it could
/// not start. Without a fork (`-n`) there is no one to tell.
#[derive(Default)]
pub struct StartReport {
    pipe: Option<std::fs::File>,
}

impl StartReport {
    /// The daemon runs: pid files written, signals handled, both sides started.
    pub fn ok(&mut self) {
        self.send("ok\n");
    }

    /// The daemon cannot start, for `why`.
    pub fn failed(&mut self, why: &str) {
        // One line: the parent prints it as is.
        self.send(&format!("error: {}\n", why.replace('\n', " ")));
    }

    fn send(&mut self, text: &str) {
        use std::io::Write;
        if let Some(mut f) = self.pipe.take() {
            // The parent may be gone (killed): nothing more to do then.
            let _ = f.write_all(text.as_bytes());
        }
    }
}

/// What the parent makes of the text its child sent before closing the pipe.
pub fn start_verdict(text: &str) -> Result<(), String> {
    let text = text.trim();
    if text == "ok" {
        return Ok(());
    }
    match text.strip_prefix("error: ") {
        Some(why) => Err(why.to_string()),
        None if text.is_empty() => {
            Err("the daemon stopped before it finished starting (see its log)".to_string())
        }
        None => Err(format!("the daemon said something unexpected: {text}")),
    }
}

/// The parent's part after the fork: waits for the child's verdict, then exits 0 (the
/// daemon runs) or prints the reason and exits [`EXIT_CANNOT_RUN`].
fn await_child(pipe: std::fs::File, child: nix::unistd::Pid) -> ! {
    use std::io::Read;
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::Builder::new().spawn(move || {
        let mut text = String::new();
        let mut pipe = pipe;
        let _ = pipe.read_to_string(&mut text);
        let _ = tx.send(text);
    });
    let verdict = match reader {
        Ok(_) => match rx.recv_timeout(START_WAIT) {
            Ok(text) => start_verdict(&text),
            Err(_) => Err(format!(
                "the daemon (pid {child}) did not report its start within {}",
                backoff::human(START_WAIT)
            )),
        },
        Err(e) => Err(format!("cannot wait for the daemon (pid {child}): {e}")),
    };
    match verdict {
        Ok(()) => std::process::exit(0),
        Err(why) => {
            eprintln!("lvsd: {why}");
            std::process::exit(EXIT_CANNOT_RUN)
        }
    }
}

/// Forks into the background. The parent waits for the child's [`StartReport`] and exits
/// with it; the child (returning here, with the pipe in `verdict`) leaves the terminal's
/// session and runs with stdin/stdout/stderr on /dev/null.
fn daemonize(verdict: &mut StartReport) -> anyhow::Result<()> {
    use nix::unistd::{fork, setsid, ForkResult};
    // Close-on-exec: scripts the daemon runs must not hold the parent's wait open.
    let (read, write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| anyhow::anyhow!("cannot make the pipe to report the start: {e}"))?;
    // SAFETY: called before any thread (the tokio runtime) exists.
    match unsafe { fork() }? {
        ForkResult::Parent { child } => {
            drop(write);
            await_child(std::fs::File::from(read), child)
        }
        ForkResult::Child => {}
    }
    drop(read);
    verdict.pipe = Some(std::fs::File::from(write));
    setsid()?;
    std::env::set_current_dir("/")?;
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    nix::unistd::dup2_stdin(&null)?;
    nix::unistd::dup2_stdout(&null)?;
    nix::unistd::dup2_stderr(&null)?;
    Ok(())
}

/// `reload_time_file`'s follower, restarted when a reload changes the setting (as
/// keepalived restarts its reload monitor).
#[derive(Default)]
struct ReloadTimer {
    setting: Option<(std::path::PathBuf, bool)>,
    task: Option<JoinHandle<()>>,
}

impl ReloadTimer {
    fn follow(&mut self, g: &crate::config::GlobalDefs) {
        let want = g.reload_time_file.clone().map(|f| (f, g.reload_repeat));
        if want == self.setting && (want.is_none() || self.task.is_some()) {
            return;
        }
        if let Some(t) = self.task.take() {
            t.abort();
        }
        self.task = want
            .clone()
            .map(|(file, repeat)| reload_time::spawn(file, repeat));
        self.setting = want;
    }
}

impl Drop for ReloadTimer {
    fn drop(&mut self) {
        if let Some(t) = self.task.take() {
            t.abort();
        }
    }
}

/// `reload_file`: made (or emptied) when a reload starts reading the configuration,
/// removed when it is read.
struct ReadingMarker(std::path::PathBuf);

impl ReadingMarker {
    fn create(path: &Path) -> ReadingMarker {
        use std::os::unix::fs::OpenOptionsExt;
        let res = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o644)
            .open(path);
        if let Err(e) = res {
            tracing::info!("Failed to create reload file ({}): {e}", path.display());
        }
        ReadingMarker(path.to_path_buf())
    }
}

impl Drop for ReadingMarker {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// `config_save_dir`: made (0700) when missing, as keepalived's parent does; a failure is
/// logged (the saves then fail with their own warning).
fn make_save_dir(dir: &Path) {
    use std::os::unix::fs::DirBuilderExt;
    match std::fs::DirBuilder::new().mode(0o700).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => tracing::warn!("cannot make config_save_dir {}: {e}", dir.display()),
    }
}

/// Names the calling thread (`process_name`: on the main thread, the name `ps` and
/// `pidof` see); a failure is logged.
fn name_this_thread(name: &str) {
    let res = std::ffi::CString::new(name)
        .map_err(|_| nix::errno::Errno::EINVAL)
        .and_then(|c| nix::sys::prctl::set_name(&c));
    match res {
        Ok(()) => tracing::debug!("process name set to {name}"),
        Err(e) => tracing::warn!("cannot set the process name to {name}: {e}"),
    }
}

/// The main runtime (the LVS side, the daemon's tasks; the checkers have a thread of
/// their own, [`managed_checkers`]); its threads take
/// `checker_priority`, `checker_rt_priority` and `checker_cpu_affinity`. Public for
/// `benches/flap.rs`.
pub fn build_runtime(g: &crate::config::GlobalDefs) -> anyhow::Result<tokio::runtime::Runtime> {
    let mut b = tokio::runtime::Builder::new_multi_thread();
    let name = g.process_names.checker.as_deref().unwrap_or("lvsd");
    b.worker_threads(2).enable_all().thread_name(name);
    if !g.checker_tuning.is_empty() {
        let tuning = g.checker_tuning.clone();
        let rlimit = tuning::rlimit_rttime(g);
        let logged = std::sync::atomic::AtomicBool::new(false);
        b.on_thread_start(move || {
            if logged.swap(true, std::sync::atomic::Ordering::Relaxed) {
                for r in tuning::apply_to_this_thread(&tuning, rlimit) {
                    if let Err(e) = r {
                        tracing::debug!("checker thread: {e}");
                    }
                }
            } else {
                tuning::apply_and_log("checker threads", &tuning, rlimit);
            }
        });
    }
    Ok(b.build()?)
}

/// Raises the open files limit to what the configuration's checkers may need (logged).
fn open_files_for(config: &Config) {
    let needed = tuning::open_files_needed(config.checker_count());
    match tuning::raise_open_files(needed) {
        Some(Ok(line)) => tracing::info!("{line}"),
        Some(Err(why)) => tracing::warn!("Cannot give the checkers enough files: {why}"),
        None => {}
    }
}

/// Runs the daemon with an already loaded configuration (`record`: what its load read,
/// see [`config_load::LoadRecord`]) until it is told to stop.
/// Forked, the parent waits for the child's verdict: a start that fails here (logging,
/// pid files, the sides) makes it exit non-zero with the reason.
pub fn run(opts: Options, config: Config, record: config_load::LoadRecord) -> anyhow::Result<()> {
    let mut verdict = StartReport::default();
    let res = start_and_serve(opts, config, record, &mut verdict);
    if let Err(e) = &res {
        verdict.failed(&format!("{e:#}"));
    }
    res
}

fn start_and_serve(
    opts: Options,
    config: Config,
    record: config_load::LoadRecord,
    verdict: &mut StartReport,
) -> anyhow::Result<()> {
    let loaded_at = since_start();
    // Before any thread exists: every thread and socket of the daemon is in it.
    if let Some(name) = &config.global.net_namespace {
        crate::netns::enter(name)?;
    }
    if !opts.dont_fork {
        daemonize(verdict)?;
    }
    logging::init(&opts)?;
    if let Some(name) = &config.global.process_names.main {
        name_this_thread(name);
    }
    open_files_for(&config);
    let rt = build_runtime(&config.global)?;
    if let Some(name) = &config.global.net_namespace {
        tracing::info!("Running in network namespace {name}");
    }
    tracing::debug!("Configuration read {loaded_at:.1?} after the start of the process");
    if let Some(mask) = opts.umask.or(config.global.umask) {
        let mode = nix::sys::stat::Mode::from_bits_truncate(mask as nix::libc::mode_t);
        nix::sys::stat::umask(mode);
        tracing::debug!("umask {mask:04o}");
    }
    if let Some(dir) = &config.global.config_save_dir {
        make_save_dir(dir);
    }
    let paths = pidfile::pid_paths(&opts, &config.global);
    let pid_dir = paths.dir.as_deref().and_then(pidfile::make_pid_dir);
    let mut pids = vec![pidfile::PidFile::create(&paths.main)?];
    if opts.runs_vrrp() {
        pids.push(pidfile::PidFile::create(&paths.vrrp)?);
    }
    if opts.runs_checkers() {
        pids.push(pidfile::PidFile::create(&paths.checkers)?);
    }
    // The control socket and the reload outcome file sit beside the main pid file.
    let mut opts = opts;
    opts.pid_file = Some(paths.main);
    let res = rt.block_on(serve(opts, config, record, verdict));
    rt.shutdown_timeout(Duration::from_secs(1));
    drop(pids);
    if let Some(dir) = pid_dir {
        pidfile::remove_pid_dir(&dir);
    }
    res
}

/// Runs the VRRP side on a thread of its own with a single-threaded runtime, as keepalived
/// runs VRRP in a process of its own: thousands of health checks on the main runtime never
/// delay an advert, and a timer or an advert is handled on the thread that waited for it.
/// Public for `benches/flap.rs`, which runs both sides in one process as the daemon does.
pub fn start_vrrp(ctl: Control) -> anyhow::Result<JoinHandle<anyhow::Result<()>>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    let name = ctl.reload.borrow().global.process_names.vrrp.clone();
    std::thread::Builder::new()
        .name(name.unwrap_or_else(|| "lvsd-vrrp".into()))
        .spawn(move || {
            // Timers on this thread fire when due, not up to 50 µs later (the default
            // slack the kernel may add to coalesce wake-ups).
            if let Err(e) = nix::sys::prctl::set_timerslack(1) {
                tracing::debug!("cannot set the VRRP thread's timer slack: {e}");
            }
            let g = ctl.reload.borrow().global.clone();
            if !g.vrrp_tuning.is_empty() {
                tuning::apply_and_log("VRRP thread", &g.vrrp_tuning, tuning::rlimit_rttime(&g));
            }
            drop(g);
            let res = rt.block_on(crate::vrrp::runtime::run(ctl));
            rt.shutdown_timeout(Duration::from_secs(1));
            let _ = done_tx.send(res);
        })?;
    Ok(tokio::spawn(async move {
        done_rx
            .await
            .unwrap_or_else(|_| Err(anyhow::anyhow!("the VRRP thread died")))
    }))
}

type SideTask = JoinHandle<anyhow::Result<()>>;

/// How long a restarted side must run before it counts as back (its failures forgotten).
const STABLE_RUN: Duration = backoff::MAX_DELAY;

/// One side of the daemon (VRRP or LVS), restarted with backoff when it fails, as
/// keepalived's parent respawns a child that died.
struct Side {
    name: &'static str,
    start: fn(Control) -> anyhow::Result<SideTask>,
    task: Option<SideTask>,
    /// When the running task started.
    started: tokio::time::Instant,
    /// Failures in a row: the delay before the next restart, and whether to say so.
    retry: Retry,
    /// When a failed side is started again.
    restart_at: Option<tokio::time::Instant>,
    /// The running task's answer to the daemon.
    heartbeat: heartbeat::Heartbeat,
}

impl Side {
    fn new(name: &'static str, start: fn(Control) -> anyhow::Result<SideTask>) -> Side {
        Side {
            name,
            start,
            task: None,
            started: tokio::time::Instant::now(),
            retry: Retry::default(),
            restart_at: None,
            heartbeat: heartbeat::Heartbeat::named(name),
        }
    }

    /// Starts the task.
    fn launch(&mut self, ctl: &Control) -> anyhow::Result<()> {
        let mut ctl = ctl.clone();
        ctl.heartbeat = self.heartbeat.clone();
        self.heartbeat.launched();
        self.task = match (self.start)(ctl) {
            Ok(t) => Some(t),
            Err(e) => {
                self.heartbeat.ended();
                return Err(e);
            }
        };
        self.started = tokio::time::Instant::now();
        self.restart_at = None;
        Ok(())
    }

    /// When this side next needs the daemon: its restart, or the moment a restarted side
    /// has run long enough to count as back.
    fn next_wake(&self) -> Option<tokio::time::Instant> {
        match (&self.task, self.restart_at) {
            (None, at) => at,
            (Some(_), _) if self.retry.attempts() > 0 => Some(self.started + STABLE_RUN),
            (Some(_), _) => None,
        }
    }

    /// Notes a failure (`why`, a sentence) and plans the restart; logs it once per reason
    /// (and every ten minutes), else at debug level. `others`: what keeps running.
    fn failed(&mut self, why: &str, others: &str) {
        self.task = None;
        self.heartbeat.ended();
        let step = self
            .retry
            .failed(tokio::time::Instant::now().into_std(), why);
        self.restart_at = Some(tokio::time::Instant::now() + step.delay);
        let name = self.name;
        let delay = backoff::human(step.delay);
        if !step.log {
            tracing::debug!(
                "{name} side {why} (failure {} in a row); restarting it in {delay}",
                step.attempts
            );
        } else if step.attempts == 1 {
            tracing::error!("{name} side {why}; restarting it in {delay}{others}");
        } else {
            tracing::error!(
                "{name} side {why} (failure {} in a row); restarting it in {delay}{others}",
                step.attempts
            );
        }
    }

    /// Does what is due at `now`: the restart of a failed side, or noting that a restarted
    /// side is back.
    fn wake(&mut self, now: tokio::time::Instant, ctl: &Control, others: &str) {
        let name = self.name;
        match self.task {
            None if self.restart_at.is_some_and(|t| t <= now) => {
                tracing::debug!(
                    "Restarting the {name} side ({} failures in a row)",
                    self.retry.attempts()
                );
                if let Err(e) = self.launch(ctl) {
                    self.failed(&format!("cannot be started: {e:#}"), others);
                }
            }
            Some(_) if self.retry.attempts() > 0 && self.started + STABLE_RUN <= now => {
                let n = self.retry.succeeded();
                tracing::info!(
                    "{name} side is back: it has run for {} since its restart (after {n} failures)",
                    backoff::human(STABLE_RUN)
                );
            }
            _ => {}
        }
    }
}

/// The first side task to end: its index in `sides` and how it ended. Pending while no
/// side runs.
async fn next_end(
    sides: &mut [Side],
) -> (usize, Result<anyhow::Result<()>, tokio::task::JoinError>) {
    let (idx, tasks): (Vec<usize>, Vec<&mut SideTask>) = sides
        .iter_mut()
        .enumerate()
        .filter_map(|(i, s)| s.task.as_mut().map(|t| (i, t)))
        .unzip();
    if tasks.is_empty() {
        return std::future::pending().await;
    }
    let (r, k, _) = futures::future::select_all(tasks).await;
    (idx[k], r)
}

/// "; the LVS side keeps running" when the side other than `idx` runs.
fn others_running(sides: &[Side], idx: usize) -> String {
    sides
        .iter()
        .enumerate()
        .filter(|(i, s)| *i != idx && s.task.is_some())
        .map(|(_, s)| format!("; the {} side keeps running", s.name))
        .collect()
}

async fn serve(
    opts: Options,
    config: Config,
    record: config_load::LoadRecord,
    verdict: &mut StartReport,
) -> anyhow::Result<()> {
    let opts = Arc::new(opts);
    let config_status: crate::metrics::config_status::SharedStatus = Arc::new(
        std::sync::Mutex::new(crate::metrics::config_status::ConfigStatus::started(
            record.sha256.clone(),
            crate::metrics::config_status::unix_now(),
        )),
    );
    let note = |f: &dyn Fn(&mut crate::metrics::config_status::ConfigStatus)| {
        if let Ok(mut s) = config_status.lock() {
            f(&mut s);
        }
    };
    // vrrp_no_swap / checker_no_swap: one process, so the side that asks locks it all.
    if (opts.runs_vrrp() && config.global.vrrp_no_swap)
        || (opts.runs_checkers() && config.global.checker_no_swap)
    {
        match crate::vrrp::sched::lock_memory() {
            Ok(()) => tracing::info!("lvsd is locked in memory (no swap)"),
            Err(e) => tracing::warn!("{e}"),
        }
    }
    if let Some(s) = &config.global.startup_script {
        run_life_script("startup_script", s, &config.global).await;
    }
    let shutdown_script = config
        .global
        .shutdown_script
        .clone()
        .map(|s| (s, config.global.clone()));
    let (reload_tx, reload_rx) = watch::channel(Arc::new(config));
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let reading = crate::control::ReloadReading::default();
    let ctl = Control {
        opts: opts.clone(),
        reload: reload_rx,
        shutdown: shutdown_rx,
        heartbeat: heartbeat::Heartbeat::default(),
        reading: reading.clone(),
    };
    let mut hup = signal(SignalKind::hangup())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut usr1 = signal(SignalKind::user_defined1())?;
    let mut usr2 = signal(SignalKind::user_defined2())?;
    let mut json = signal(SignalKind::from_raw(signals::json()))?;
    let mut stats_clear = signal(SignalKind::from_raw(signals::stats_clear()))?;

    let mut sides: Vec<Side> = Vec::new();
    if opts.runs_vrrp() {
        sides.push(Side::new("VRRP", start_vrrp));
    }
    if opts.runs_checkers() {
        sides.push(Side::new("LVS", start_lvs));
    }
    for side in &mut sides {
        side.launch(&ctl)?;
    }
    tracing::info!(
        "Starting lvsd {} (pid {})",
        env!("CARGO_PKG_VERSION"),
        std::process::id()
    );
    tracing::debug!(
        "Sides started {:.1?} after the start of the process",
        since_start()
    );
    let control_socket = crate::ctl::server::start_for_daemon(crate::ctl::server::Context {
        opts: opts.clone(),
        config: reload_tx.subscribe(),
    });
    let metrics_server =
        crate::metrics::server::start_for_daemon(opts.clone(), config_status.clone()).await;
    verdict.ok();
    let outcome_file = reload_outcome::path_for(&opts.main_pid_file());
    let mut sd = sd_notify::Systemd::new(
        heartbeat::config_addr(&reload_tx.borrow()),
        outcome_file.clone(),
    );
    let main_beat = heartbeat::Heartbeat::named(sd_notify::MAIN_LOOP);
    main_beat.launched();
    let mut loops = vec![(sd_notify::MAIN_LOOP, main_beat.clone())];
    loops.extend(sides.iter().map(|s| (s.name, s.heartbeat.clone())));
    sd_notify::spawn_watchdog(loops);

    let mut failed = false;
    // What the running configuration's load read (a reload that finds all of it
    // unchanged keeps the running configuration without parsing).
    let mut running_load = Arc::new(record);
    let mut reload_timer = ReloadTimer::default();
    reload_timer.follow(&reload_tx.borrow().global);
    loop {
        main_beat.beat(None, String::new);
        let next_wake = sides.iter().filter_map(Side::next_wake).min();
        tokio::select! {
            _ = main_beat.due() => {}
            _ = hup.recv() => {
                tracing::info!("Reloading: SIGHUP received");
                // Until this arm ends: the file read and parsed, the result handed over or
                // refused.
                let _reading = reading.start();
                let started = sd.reloading();
                note(&|s| s.reload_asked());
                let o = opts.clone();
                let check = reload_tx.borrow().global.reload_check_config.clone();
                let reload_file = pidfile::reload_file_path(&reload_tx.borrow().global);
                let running = running_load.clone();
                let read = move || {
                    let _first = crate::precedence::Precedence::take(crate::precedence::RELOAD_PRECEDENCE);
                    // As keepalived: the file exists, empty, while the files are read.
                    let marker = reload_file.as_deref().map(ReadingMarker::create);
                    let res = config_load::reread(&o, check.as_deref(), Some(&running));
                    drop(marker);
                    res
                };
                match tokio::task::spawn_blocking(read).await {
                    Ok(Ok(reread)) => {
                        // Unchanged: the running configuration itself (the same Arc: each
                        // side sees at once that nothing changed).
                        let (cfg, record) = match reread {
                            config_load::Reread::Read(cfg, record) => (Some(*cfg), Arc::new(*record)),
                            config_load::Reread::Unchanged => (None, running_load.clone()),
                        };
                        let same = cfg.is_none();
                        let running = reload_tx.borrow().global.net_namespace.clone();
                        if record.file_net_namespace != running {
                            tracing::warn!(
                                "Reload: net_namespace cannot change while running (as in keepalived); staying in {}",
                                running.as_deref().unwrap_or("the namespace lvsd started in")
                            );
                        }
                        let cfg = match cfg {
                            Some(mut cfg) => {
                                cfg.global.net_namespace = running;
                                let was = reload_tx.borrow().global.process_names.main.clone();
                                if cfg.global.process_names.main != was {
                                    // As keepalived: the main name follows a reload (the
                                    // threads' names are set when they start).
                                    name_this_thread(cfg.global.process_names.main.as_deref().unwrap_or("lvsd"));
                                }
                                Arc::new(cfg)
                            }
                            None => reload_tx.borrow().clone(),
                        };
                        open_files_for(&cfg);
                        sd.reload_handed(heartbeat::config_addr(&cfg), started);
                        note(&|s| s.reload_handed(record.sha256.clone()));
                        reload_timer.follow(&cfg.global);
                        reload_tx.send_replace(cfg);
                        running_load = record;
                        if same {
                            // The very configuration the sides run: a side counts as done
                            // once it has taken this reload (after the send, so that no
                            // beat from before it counts).
                            for s in &sides {
                                s.heartbeat.forget_applied();
                            }
                            tracing::info!("Reload: the running configuration handed again to the running sides");
                        } else {
                            tracing::info!("Reload: new configuration handed to the running sides");
                        }
                        // A side waiting to restart tries the new configuration at once.
                        let now = tokio::time::Instant::now();
                        for s in sides.iter_mut().filter(|s| s.restart_at.is_some()) {
                            s.restart_at = Some(now);
                        }
                    }
                    Ok(Err(e)) => {
                        tracing::error!("Reload refused, keeping the running configuration: {e:#}");
                        sd.reload_refused(&format!("{e:#}"), started);
                        note(&|s| s.reload_failed(sd_notify::since_usec(started)));
                    }
                    Err(e) => {
                        tracing::error!("Reload failed: {e}");
                        sd.reload_refused(&format!("the reload failed: {e}"), started);
                        note(&|s| s.reload_failed(sd_notify::since_usec(started)));
                    }
                }
            }
            _ = term.recv() => {
                tracing::info!("Stopping: SIGTERM received");
                sd.stopping("Stopping: SIGTERM received");
                break;
            }
            _ = int.recv() => {
                tracing::info!("Stopping: SIGINT received");
                sd.stopping("Stopping: SIGINT received");
                break;
            }
            _ = tokio::time::sleep_until(sd.next_wake()) => {
                let views: Vec<sd_notify::SideView> = sides
                    .iter()
                    .map(|s| sd_notify::SideView { name: s.name, heartbeat: &s.heartbeat })
                    .collect();
                match sd.tick(&views) {
                    Some(d) if d.applied => note(&|s| {
                        s.reload_applied(d.took, crate::metrics::config_status::unix_now())
                    }),
                    Some(d) => note(&|s| s.reload_failed(d.took)),
                    None => {}
                }
            }
            _ = usr1.recv() => {
                let cfg = reload_tx.borrow().clone();
                let parent = dump_global::global_section(&cfg.global, dump_global::Part::Parent);
                let g = cfg.global.clone();
                tokio::spawn(report::write(report::DumpKind::Data, Some(parent), g));
            }
            _ = usr2.recv() => {
                let g = reload_tx.borrow().global.clone();
                tokio::spawn(report::write(report::DumpKind::Stats, None, g));
            }
            _ = stats_clear.recv() => {
                let g = reload_tx.borrow().global.clone();
                tokio::spawn(report::write(report::DumpKind::StatsClear, None, g));
            }
            _ = json.recv() => {
                let g = reload_tx.borrow().global.clone();
                tokio::spawn(report::write(report::DumpKind::Json, None, g));
            }
            (idx, r) = next_end(&mut sides) => {
                let why = match r {
                    Ok(Ok(())) => "ended unexpectedly".to_string(),
                    Ok(Err(e)) => format!("failed: {e:#}"),
                    Err(e) => format!("panicked: {e}"),
                };
                sides[idx].task = None;
                sides[idx].heartbeat.ended();
                if opts.dont_respawn {
                    tracing::error!(
                        "{} side {why}; stopping lvsd (-R: a failed side is not restarted)",
                        sides[idx].name
                    );
                    sd.stopping(&format!("Stopping: the {} side {why}", sides[idx].name));
                    failed = true;
                    break;
                }
                let others = others_running(&sides, idx);
                sides[idx].failed(&why, &others);
            }
            _ = tokio::time::sleep_until(next_wake.unwrap_or_else(tokio::time::Instant::now)),
                if next_wake.is_some() => {
                let now = tokio::time::Instant::now();
                for idx in 0..sides.len() {
                    let others = others_running(&sides, idx);
                    sides[idx].wake(now, &ctl, &others);
                }
            }
        }
    }
    main_beat.ended();
    shutdown_tx.send_replace(true);
    let running: Vec<(&'static str, SideTask)> = sides
        .into_iter()
        .filter_map(|s| s.task.map(|t| (s.name, t)))
        .collect();
    let names: Vec<&'static str> = running.iter().map(|(n, _)| *n).collect();
    let wait = futures::future::join_all(running.into_iter().map(|(_, t)| t));
    match tokio::time::timeout(SHUTDOWN_LIMIT, wait).await {
        Ok(results) => {
            for (name, r) in names.into_iter().zip(results) {
                match r {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => tracing::error!("{name} side: {e:#}"),
                    Err(e) => tracing::error!("{name} side panicked: {e}"),
                }
            }
        }
        Err(_) => tracing::error!("sides did not stop within {SHUTDOWN_LIMIT:?}"),
    }
    let _ = std::fs::remove_file(&outcome_file);
    drop(control_socket);
    drop(metrics_server);
    if let Some((s, g)) = &shutdown_script {
        run_life_script("shutdown_script", s, g).await;
    }
    tracing::info!("Stopped lvsd");
    if failed {
        anyhow::bail!("a side of the daemon failed");
    }
    Ok(())
}

/// Runs `startup_script` / `shutdown_script` to its end or its timeout (killed), as
/// keepalived does around its children; the outcome is logged.
async fn run_life_script(
    which: &str,
    s: &crate::config::LifeScript,
    g: &crate::config::GlobalDefs,
) {
    if s.command.is_empty() {
        return;
    }
    let script = crate::script::Script {
        command: s.command.clone(),
        user: s.user.clone().or_else(|| g.script_user.clone()),
        timeout: s.timeout,
        secure: g.enable_script_security,
    };
    match crate::script::run(&script, &[]).await {
        Ok(crate::script::Outcome::Exited(0)) => tracing::info!("{which} {} done", s.command),
        Ok(crate::script::Outcome::TimedOut) => tracing::warn!(
            "{which} {} did not end within {} s and was killed",
            s.command,
            s.timeout.as_secs()
        ),
        Ok(o) => tracing::warn!("{which} {} ended with {o:?}", s.command),
        Err(e) => tracing::error!("{which}: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_parent_reads_the_childs_verdict() {
        assert_eq!(start_verdict("ok\n"), Ok(()));
        assert_eq!(
            start_verdict("error: /run/x.pid: process 7 is running\n"),
            Err("/run/x.pid: process 7 is running".to_string())
        );
        let died = start_verdict("").unwrap_err();
        assert!(
            died.contains("stopped before it finished starting"),
            "{died}"
        );
        assert!(start_verdict("okay").is_err());
    }

    #[test]
    fn a_failure_is_sent_as_one_line() {
        use std::io::Read;
        let (read, write) = nix::unistd::pipe().unwrap();
        let mut r = StartReport {
            pipe: Some(std::fs::File::from(write)),
        };
        r.failed("first\nsecond");
        // Only the first word counts: the pipe is closed after it.
        r.ok();
        let mut text = String::new();
        std::fs::File::from(read).read_to_string(&mut text).unwrap();
        assert_eq!(text, "error: first second\n");
        assert_eq!(start_verdict(&text), Err("first second".to_string()));
    }
}
