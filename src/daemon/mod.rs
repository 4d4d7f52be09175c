//! Process concerns: logging, pid files, signals, and starting the VRRP and LVS sides.
//!
//! The two sides are tokio tasks in one process. Each is started with its part of the
//! configuration and a [`Control`]: a new configuration arrives on `reload` after SIGHUP
//! (already parsed and validated: a broken file never reaches a side), and `shutdown`
//! turns true on SIGTERM/SIGINT, after which the side resigns and cleans up, then returns.

pub mod backoff;
pub mod logging;
pub mod pidfile;
pub mod report;

use crate::cli::Options;
use crate::config::Config;
use std::sync::Arc;
use std::time::Duration;
use tokio::signal::unix::{signal, SignalKind};
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// What a running side (VRRP or LVS) is told by the daemon.
#[derive(Clone)]
pub struct Control {
    pub opts: Arc<Options>,
    /// The newest accepted configuration; `changed()` fires on each reload.
    pub reload: watch::Receiver<Arc<Config>>,
    /// Turns true once, when the daemon is asked to stop.
    pub shutdown: watch::Receiver<bool>,
}

/// How long the sides get to resign, release addresses and run notify_stop on SIGTERM.
pub const SHUTDOWN_LIMIT: Duration = Duration::from_secs(20);

/// Reads the configuration file again for SIGHUP. A file with errors is refused.
pub fn load_config(opts: &Options) -> anyhow::Result<Config> {
    let id = opts
        .config_id
        .clone()
        .unwrap_or_else(crate::config::default_config_id);
    match crate::config::load(&opts.config_file, &id) {
        Ok(loaded) => {
            for w in &loaded.warnings {
                tracing::warn!("{w}");
            }
            Ok(loaded.config)
        }
        Err(e) => {
            for w in &e.warnings {
                tracing::warn!("{w}");
            }
            Err(anyhow::anyhow!("{e}"))
        }
    }
}

/// Starts the LVS side: health checkers driving the kernel's IPVS table.
fn start_lvs(ctl: Control) -> JoinHandle<anyhow::Result<()>> {
    tokio::spawn(crate::lvs::runtime::run(ctl))
}

/// Forks into the background: the parent exits 0, the child leaves the terminal's session
/// and runs with stdin/stdout/stderr on /dev/null.
fn daemonize() -> anyhow::Result<()> {
    use nix::unistd::{fork, setsid, ForkResult};
    // SAFETY: called before any thread (the tokio runtime) exists.
    match unsafe { fork() }? {
        ForkResult::Parent { .. } => std::process::exit(0),
        ForkResult::Child => {}
    }
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

/// When the process started (set by [`mark_start`] first thing in `main`), for the
/// debug lines that time the start.
static PROCESS_START: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// Notes the process's start time (call first thing in `main`).
pub fn mark_start() {
    PROCESS_START.get_or_init(std::time::Instant::now);
}

/// Time since [`mark_start`] (zero when it was not called).
pub fn since_start() -> Duration {
    PROCESS_START.get().map(|t| t.elapsed()).unwrap_or_default()
}

/// What a daemon that will not fork (`-n`, as the systemd unit runs it) sets up on another
/// thread while `main` reads the configuration: logging and the tokio runtime.
pub struct Early {
    setup: std::thread::JoinHandle<anyhow::Result<tokio::runtime::Runtime>>,
}

impl Early {
    /// None when the daemon will fork (threads do not survive a fork).
    pub fn start(opts: &Options) -> Option<Early> {
        if !opts.dont_fork || opts.dump_conf {
            return None;
        }
        let o = opts.clone();
        Some(Early {
            setup: std::thread::spawn(move || {
                logging::init(&o)?;
                build_runtime()
            }),
        })
    }
}

fn build_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("lvsd")
        .build()?)
}

/// Runs the daemon with an already loaded configuration until it is told to stop.
/// `early`: what was set up while the configuration was read (only without a fork).
pub fn run(opts: Options, config: Config, early: Option<Early>) -> anyhow::Result<()> {
    let loaded_at = since_start();
    let rt = match early {
        Some(e) => match e.setup.join() {
            Ok(rt) => rt?,
            Err(_) => anyhow::bail!("the thread that set up logging and the runtime died"),
        },
        None => {
            if !opts.dont_fork {
                daemonize()?;
            }
            logging::init(&opts)?;
            build_runtime()?
        }
    };
    tracing::debug!("Configuration read {loaded_at:.1?} after the start of the process");
    let mut pids = vec![pidfile::PidFile::create(&opts.pid_file)?];
    if opts.runs_vrrp() {
        pids.push(pidfile::PidFile::create(&opts.vrrp_pid_file)?);
    }
    if opts.runs_checkers() {
        pids.push(pidfile::PidFile::create(&opts.checkers_pid_file)?);
    }
    let res = rt.block_on(serve(opts, config));
    rt.shutdown_timeout(Duration::from_secs(1));
    drop(pids);
    res
}

/// Runs the VRRP side on a thread of its own with a single-threaded runtime, as keepalived
/// runs VRRP in a process of its own: thousands of health checks on the main runtime never
/// delay an advert, and a timer or an advert is handled on the thread that waited for it.
fn start_vrrp(ctl: Control) -> anyhow::Result<JoinHandle<anyhow::Result<()>>> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (done_tx, done_rx) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("lvsd-vrrp".into())
        .spawn(move || {
            // Timers on this thread fire when due, not up to 50 µs later (the default
            // slack the kernel may add to coalesce wake-ups).
            if let Err(e) = nix::sys::prctl::set_timerslack(1) {
                tracing::debug!("cannot set the VRRP thread's timer slack: {e}");
            }
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

async fn serve(opts: Options, config: Config) -> anyhow::Result<()> {
    let opts = Arc::new(opts);
    let (reload_tx, reload_rx) = watch::channel(Arc::new(config));
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let ctl = Control {
        opts: opts.clone(),
        reload: reload_rx,
        shutdown: shutdown_rx,
    };
    let mut hup = signal(SignalKind::hangup())?;
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    let mut usr1 = signal(SignalKind::user_defined1())?;
    let mut usr2 = signal(SignalKind::user_defined2())?;
    let mut json = signal(SignalKind::from_raw(libc::SIGRTMIN() + 2))?;

    let mut sides: Vec<(&'static str, JoinHandle<anyhow::Result<()>>)> = Vec::new();
    if opts.runs_vrrp() {
        sides.push(("VRRP", start_vrrp(ctl.clone())?));
    }
    if opts.runs_checkers() {
        sides.push(("LVS", start_lvs(ctl.clone())));
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

    let mut failed = false;
    loop {
        tokio::select! {
            _ = hup.recv() => {
                tracing::info!("Reloading: SIGHUP received");
                let o = opts.clone();
                match tokio::task::spawn_blocking(move || load_config(&o)).await {
                    Ok(Ok(cfg)) => {
                        reload_tx.send_replace(Arc::new(cfg));
                        tracing::info!("Reload: new configuration handed to the running sides");
                    }
                    Ok(Err(e)) => tracing::error!(
                        "Reload refused, keeping the running configuration: {e:#}"
                    ),
                    Err(e) => tracing::error!("Reload failed: {e}"),
                }
            }
            _ = term.recv() => { tracing::info!("Stopping: SIGTERM received"); break; }
            _ = int.recv() => { tracing::info!("Stopping: SIGINT received"); break; }
            _ = usr1.recv() => { tokio::spawn(report::write(report::DumpKind::Data)); }
            _ = usr2.recv() => { tokio::spawn(report::write(report::DumpKind::Stats)); }
            _ = json.recv() => { tokio::spawn(report::write(report::DumpKind::Json)); }
            (r, idx, _) = futures::future::select_all(sides.iter_mut().map(|(_, h)| h)),
                if !sides.is_empty() => {
                let name = sides[idx].0;
                match r {
                    Ok(Ok(())) => tracing::error!("{name} side ended unexpectedly"),
                    Ok(Err(e)) => tracing::error!("{name} side failed: {e:#}"),
                    Err(e) => tracing::error!("{name} side panicked: {e}"),
                }
                sides.remove(idx);
                failed = true;
                break;
            }
        }
    }
    shutdown_tx.send_replace(true);
    let wait = futures::future::join_all(sides.iter_mut().map(|(_, h)| h));
    match tokio::time::timeout(SHUTDOWN_LIMIT, wait).await {
        Ok(results) => {
            for ((name, _), r) in sides.iter().zip(results) {
                match r {
                    Ok(Ok(())) => {}
                    Ok(Err(e)) => tracing::error!("{name} side: {e:#}"),
                    Err(e) => tracing::error!("{name} side panicked: {e}"),
                }
            }
        }
        Err(_) => tracing::error!("sides did not stop within {SHUTDOWN_LIMIT:?}"),
    }
    tracing::info!("Stopped lvsd");
    if failed {
        anyhow::bail!("a side of the daemon failed");
    }
    Ok(())
}
