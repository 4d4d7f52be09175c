//! The LVS side's tokio loop: checker events, reloads and shutdown in; the state and the
//! reconciler do the work. Kernel calls are blocking (netlink), so they run on the
//! blocking pool, one at a time, never on the task that receives events.

use super::reconcile::Reconciler;
use super::state::{Effect, LvsState};
use super::table::Table;
use crate::alert::{Alert, MailSettings, Mailer};
use crate::backoff::{human, Retry};
use crate::checkers::state::CheckCounts;
use crate::checkers::{CheckerEvent, CheckerId};
use crate::config::model::RcvBuf;
use crate::config::{Config, FlushOnStop};
use crate::control::Control;
use crate::ipvs::client::IpvsClient;
use crate::ipvs::globals;
use crate::ipvs::{IpvsBackend, IpvsGlobals, ServiceKey};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tracing::{debug, error, info, warn};

/// How often a pass that left failures is retried.
pub const RETRY_INTERVAL: Duration = Duration::from_secs(1);

/// The shortest time between the starts of two kernel passes for checker verdicts. A
/// verdict after a quiet spell goes to the kernel at once; verdicts that come while
/// servers flap by the hundred (each checker on its own schedule, so one by one) wait for
/// the rest of this time and go together: tens of changes per pass and per netlink send
/// instead of one each.
pub const GATHER_VERDICTS: Duration = Duration::from_millis(50);

/// Starts the health checkers of a configuration. Each call replaces the checkers of
/// the previous one (dropping the old receiver must stop them).
pub trait CheckerStarter: Send {
    /// `initial` is every checker's verdict carried over by the state (reload) or its
    /// starting verdict (alpha): a checker reports only changes from it.
    fn start(
        &mut self,
        config: Arc<Config>,
        initial: &HashMap<CheckerId, bool>,
    ) -> mpsc::Receiver<CheckerEvent>;

    /// A reload whose configuration equals the running one: the checkers keep running as
    /// they are, on the channel they have, and read their settings from `config` from now
    /// on (the same places hold the same settings).
    fn adopt_equal(&mut self, config: Arc<Config>);

    /// Each running checker's counters (attempts, failures, last duration), for
    /// `lvsd ctl state` and the metrics endpoint; none by default.
    fn counters(&self) -> HashMap<CheckerId, CheckCounts> {
        HashMap::new()
    }
}

/// Runs no checker (every real server keeps its starting state).
pub struct NoCheckers;

impl CheckerStarter for NoCheckers {
    fn start(
        &mut self,
        _config: Arc<Config>,
        _initial: &HashMap<CheckerId, bool>,
    ) -> mpsc::Receiver<CheckerEvent> {
        // The sender is dropped: recv() answers None, which the loop treats as "no more
        // events" without spinning.
        let (_tx, rx) = mpsc::channel(1);
        rx
    }

    fn adopt_equal(&mut self, _config: Arc<Config>) {}
}

/// The real health checkers: one [`crate::checkers::CheckerManager`], started with the
/// verdicts the state carries and brought to each reloaded configuration (checkers whose
/// settings did not change keep running: a reload flaps nothing and restarts nothing).
/// The daemon runs them on a thread of their own ([`ManagedCheckers::on_thread`]); by
/// default they run on the caller's runtime.
#[derive(Default)]
pub struct ManagedCheckers {
    current: Option<crate::checkers::CheckerManager>,
    /// Where the checkers run, if not on the caller's runtime. (Declared after
    /// `current`: the checkers stop before their thread does.)
    thread: Option<crate::checkers::CheckerThread>,
}

impl ManagedCheckers {
    /// Checkers that run on `thread`.
    pub fn on_thread(thread: crate::checkers::CheckerThread) -> ManagedCheckers {
        ManagedCheckers {
            current: None,
            thread: Some(thread),
        }
    }
}

/// Room for a burst of verdicts while a kernel pass runs; checkers wait beyond it.
const EVENT_QUEUE: usize = 4096;

impl CheckerStarter for ManagedCheckers {
    fn start(
        &mut self,
        config: Arc<Config>,
        initial: &HashMap<CheckerId, bool>,
    ) -> mpsc::Receiver<CheckerEvent> {
        let (tx, rx) = mpsc::channel(EVENT_QUEUE);
        match self.current.as_mut() {
            // A reload: checkers whose settings did not change keep running.
            Some(manager) => {
                let r = manager.reload(&config, initial, tx);
                info!(
                    "Checkers after the reload: {} kept running, {} started, {} stopped",
                    r.kept, r.started, r.stopped
                );
            }
            None => {
                // The manager's driver is spawned on the checkers' own thread, and with
                // it every attempt.
                let _on_thread = self.thread.as_ref().map(|t| t.handle().enter());
                let manager =
                    crate::checkers::CheckerManager::start_with_states(&config, initial, tx);
                info!("{} checkers started", manager.len());
                self.current = Some(manager);
            }
        }
        rx
    }

    fn adopt_equal(&mut self, config: Arc<Config>) {
        if let Some(manager) = self.current.as_mut() {
            let running = manager.adopt_equal(&config);
            info!("Checkers after the reload: the configuration is unchanged, all {running} kept running");
        }
    }

    fn counters(&self) -> HashMap<CheckerId, CheckCounts> {
        self.current
            .as_ref()
            .map(|m| m.counters().collect())
            .unwrap_or_default()
    }
}

/// How long after a start or a reload the heap is trimmed: the old checkers' tasks are
/// freed once the runtime has seen their abort, and every checker's first attempt of the
/// new configuration has its temporaries by then.
pub const TRIM_AFTER: Duration = Duration::from_secs(2);

/// While real servers flap (verdicts and passes, no reload), the heap is trimmed at most
/// once per this period: each wave of checks and kernel messages leaves freed pages that
/// glibc keeps (a 10-minute flap of 21,000 real servers took RSS from 35 to 45 MiB above a
/// flat 17 MiB heap), and nothing else trims between reloads.
pub const TRIM_EVERY: Duration = Duration::from_secs(60);

/// When the heap was last trimmed, to trim after churn at most once per [`TRIM_EVERY`].
#[derive(Debug, Clone, Copy)]
struct TrimClock {
    last: tokio::time::Instant,
}

impl TrimClock {
    fn new(now: tokio::time::Instant) -> TrimClock {
        TrimClock { last: now }
    }

    /// A pass for verdicts was made at `now`: whether the heap is due a trim (then the
    /// clock restarts).
    fn after_pass(&mut self, now: tokio::time::Instant) -> bool {
        if now.saturating_duration_since(self.last) < TRIM_EVERY {
            return false;
        }
        self.last = now;
        true
    }

    /// A start or a reload trims anyway.
    fn trimmed(&mut self, now: tokio::time::Instant) {
        self.last = now;
    }
}

/// [`crate::heap::release_free`] on the blocking pool after [`TRIM_AFTER`]: a reload
/// frees as much as it allocates, in between live checkers.
fn trim_heap_later() {
    tokio::spawn(async {
        tokio::time::sleep(TRIM_AFTER).await;
        let _ = tokio::task::spawn_blocking(crate::heap::release_free).await;
    });
}

/// Whether a reloaded configuration equals the running one, compared on the blocking pool
/// (about a hundred thousand records at 5,000 × 20: milliseconds the side's task and the
/// checkers' worker need not wait for). A failed comparison counts as a change.
async fn unchanged(running: &Arc<Config>, new: &Arc<Config>) -> bool {
    if Arc::ptr_eq(running, new) {
        return true;
    }
    let (a, b) = (running.clone(), new.clone());
    tokio::task::spawn_blocking(move || *a == *b)
        .await
        .unwrap_or(false)
}

/// Drops a configuration on the blocking pool: when it is the last holder, freeing a
/// large one (a hundred thousand records) takes milliseconds the side need not wait for.
fn drop_later(config: Arc<Config>) {
    if Arc::strong_count(&config) > 1 {
        return;
    }
    tokio::task::spawn_blocking(move || drop(config));
}

/// Carries out the state's effects.
pub trait EffectSink: Send {
    fn effect(&mut self, config: &Config, effect: Effect);
}

/// Scripts through `script::spawn_detached`, mail through the `Mailer`, fifo lines
/// through the shared [`crate::notify_fifo`] writers.
#[derive(Default)]
pub struct RealEffects {
    mailer: Option<Mailer>,
}

impl EffectSink for RealEffects {
    fn effect(&mut self, config: &Config, effect: Effect) {
        match effect {
            Effect::Script { command, what } => {
                let script = crate::script::Script {
                    user: config.script_user_for(&command),
                    command,
                    timeout: config.global.notify_script_timeout,
                    secure: config.global.enable_script_security,
                };
                crate::script::spawn_detached(script, Vec::new(), what);
            }
            Effect::Fifo(line) => {
                let g = &config.global;
                for w in crate::notify_fifo::writers([&g.notify_fifo, &g.lvs_notify_fifo], g) {
                    w.send(line.clone());
                }
            }
            Effect::Mail { subject, body } => {
                if self.mailer.is_none() {
                    match MailSettings::from_global(&config.global) {
                        Some(settings) => self.mailer = Some(Mailer::start(settings)),
                        None => {
                            warn!("smtp_alert is set but no smtp_server / notification_email: {subject} not mailed");
                            return;
                        }
                    }
                }
                if let Some(m) = &self.mailer {
                    m.send(Alert { subject, body });
                }
            }
        }
    }
}

/// The kernel side, moved to the blocking pool for each call.
struct Kernel<B> {
    backend: B,
    rec: Reconciler,
}

enum Job {
    Update(Table, Vec<ServiceKey>),
    Release,
    /// The whole table; the text says why (for the log).
    Flush(&'static str),
}

/// Runs `call` on the blocking pool with the kernel side and `carried` (moved there and
/// back). A transport error is only noted here: the reconciler has logged and counted it,
/// and retries while its copy is stale.
async fn on_blocking_pool<B, T, F>(
    kernel: Kernel<B>,
    carried: T,
    call: F,
) -> anyhow::Result<(Kernel<B>, T)>
where
    B: IpvsBackend + Send + 'static,
    T: Send + 'static,
    F: FnOnce(&mut Kernel<B>, &T) -> Result<super::reconcile::Pass, B::Error> + Send + 'static,
{
    let mut kernel = kernel;
    let joined = tokio::task::spawn_blocking(move || {
        if let Err(e) = call(&mut kernel, &carried) {
            tracing::debug!("IPVS pass ended with a transport error: {e}");
        }
        (kernel, carried)
    })
    .await;
    joined.map_err(|e| anyhow::anyhow!("IPVS worker failed: {e}"))
}

async fn kernel_job<B>(kernel: Kernel<B>, job: Job) -> anyhow::Result<Kernel<B>>
where
    B: IpvsBackend + Send + 'static,
{
    let (kernel, _) = on_blocking_pool(kernel, job, |k, job| match job {
        Job::Update(t, scope) => k.rec.update(&mut k.backend, t, scope),
        Job::Release => k.rec.release(&mut k.backend),
        Job::Flush(why) => k.rec.flush(&mut k.backend, why),
    })
    .await?;
    Ok(kernel)
}

/// Reads the whole kernel table (with connection counts) on the blocking pool, for the
/// control socket and drains; the reconciler's copy is left as it is.
async fn kernel_dump<B>(
    kernel: Kernel<B>,
) -> anyhow::Result<(Kernel<B>, Result<Vec<crate::ipvs::ServiceState>, String>)>
where
    B: IpvsBackend + Send + 'static,
{
    let mut kernel = kernel;
    tokio::task::spawn_blocking(move || {
        let dump = kernel.backend.dump().map_err(|e| e.to_string());
        (kernel, dump)
    })
    .await
    .map_err(|e| anyhow::anyhow!("IPVS worker failed: {e}"))
}

/// Sends what the virtual servers `dirty` (indexes) now want, against the reconciler's copy.
async fn update_dirty<B>(
    kernel: Kernel<B>,
    state: &LvsState,
    dirty: Vec<usize>,
) -> anyhow::Result<Kernel<B>>
where
    B: IpvsBackend + Send + 'static,
{
    if dirty.is_empty() {
        return Ok(kernel);
    }
    let mut partial = Table::default();
    let mut scope = Vec::new();
    for i in dirty {
        state.desired_vs(i, &mut partial);
        scope.extend_from_slice(state.keys_of(i));
    }
    kernel_job(kernel, Job::Update(partial, scope)).await
}

/// Answers one request of the control socket ([`super::ctl`]).
async fn control<B, E, C>(
    kernel: Kernel<B>,
    state: &mut LvsState,
    effects: &mut E,
    checkers: &C,
    req: super::ctl::LvsRequest,
) -> anyhow::Result<Kernel<B>>
where
    B: IpvsBackend + Send + 'static,
    E: EffectSink,
    C: CheckerStarter,
{
    use super::ctl::{self, LvsCmd};
    let now = tokio::time::Instant::now().into_std();
    let (kernel, answer) = match req.cmd {
        LvsCmd::State => {
            let (kernel, dump) = kernel_dump(kernel).await?;
            let counters = checkers.counters();
            let view = ctl::state_view(state, &kernel.rec, dump, &counters, now);
            (
                kernel,
                serde_json::to_value(view).map_err(|e| e.to_string()),
            )
        }
        LvsCmd::Plan(new) => {
            let (kernel, dump) = kernel_dump(kernel).await?;
            let view = ctl::plan(state, &kernel.rec, dump, new);
            (
                kernel,
                serde_json::to_value(view).map_err(|e| e.to_string()),
            )
        }
        LvsCmd::Admin {
            service,
            server,
            cmd,
        } => match state.admin(&service, &server, cmd, now) {
            Ok(change) => {
                let answer = ctl::admin_view(&cmd, &change);
                let cfg = state.config().clone();
                for e in change.change.effects {
                    effects.effect(&cfg, e);
                }
                let kernel = update_dirty(kernel, state, change.change.dirty).await?;
                (kernel, Ok(answer))
            }
            Err(e) => (kernel, Err(e.to_string())),
        },
    };
    let _ = req.reply.send(answer);
    Ok(kernel)
}

/// While a real server drains: reads the kernel's connection counts and removes the
/// drained ones.
async fn drain_check<B, E>(
    kernel: Kernel<B>,
    state: &mut LvsState,
    effects: &mut E,
) -> anyhow::Result<Kernel<B>>
where
    B: IpvsBackend + Send + 'static,
    E: EffectSink,
{
    let (kernel, dump) = kernel_dump(kernel).await?;
    let dump = match dump {
        Ok(d) => d,
        Err(e) => {
            tracing::debug!("Cannot read the IPVS table for draining real servers: {e}");
            return Ok(kernel);
        }
    };
    let conns = super::ctl::active_conns(&dump);
    let now = tokio::time::Instant::now().into_std();
    let change = state.drain_check(now, &|k, d| conns.get(&(*k, *d)).copied());
    let cfg = state.config().clone();
    for e in change.change.effects {
        effects.effect(&cfg, e);
    }
    update_dirty(kernel, state, change.change.dirty).await
}

/// The wait before the next heal pass: the period from the end of the last pass, and at
/// least nine times as long as that pass took, so that reading a large table back (seconds
/// on a slow machine) never takes more than a tenth of the side's time, nor runs back to
/// back.
fn heal_gap(period: Duration, last_pass: Duration) -> Duration {
    period.max(last_pass.saturating_mul(9))
}

/// A heal pass on the blocking pool: the kernel table read again and diffed whole against
/// the desired one ([`Reconciler::heal`]). A reload or a stop that comes while the table
/// is read, or a reload the daemon starts reading meanwhile, gives the pass up (reading
/// 100,000 entries back takes seconds in a slow guest: they would wait that long, and the
/// reload's parsing would share the CPU with it). Answers whether the pass was given up.
async fn heal_pass<B>(
    kernel: Kernel<B>,
    state: LvsState,
    ctl: &Control,
) -> anyhow::Result<(Kernel<B>, LvsState, bool)>
where
    B: IpvsBackend + Send + 'static,
{
    use std::sync::atomic::{AtomicBool, Ordering};
    let give_up = Arc::new(AtomicBool::new(false));
    let asked = give_up.clone();
    // A reload being read also gives the pass up: the daemon's hashing and parsing of a
    // large file would otherwise share the CPU with the kernel's dump of the table.
    let reading = ctl.reading.clone();
    let gave_up = Arc::new(AtomicBool::new(false));
    let told = gave_up.clone();
    let pass = on_blocking_pool(kernel, state, move |k, state| {
        let pass = k
            .rec
            .heal(&mut k.backend, |emit| state.desired_parts(emit), &|| {
                asked.load(Ordering::Relaxed) || reading.now()
            });
        if let Ok(p) = &pass {
            told.store(p.given_up, Ordering::Relaxed);
        }
        pass
    });
    tokio::pin!(pass);
    // Copies: what they see stays unseen for the side's own receivers.
    let (mut reload, mut shutdown) = (ctl.reload.clone(), ctl.shutdown.clone());
    // (A closed channel answers at once, every time: it is then not waited on again.)
    let (mut reload_open, mut shutdown_open) = (true, true);
    let (kernel, state) = loop {
        tokio::select! {
            done = &mut pass => break done?,
            r = reload.changed(), if reload_open => match r {
                Ok(()) => give_up.store(true, Ordering::Relaxed),
                Err(_) => reload_open = false,
            },
            r = shutdown.changed(), if shutdown_open => match r {
                Ok(()) => give_up.store(true, Ordering::Relaxed),
                Err(_) => shutdown_open = false,
            },
        }
    };
    Ok((kernel, state, gave_up.load(Ordering::Relaxed)))
}

/// A full pass on the blocking pool: the desired table is built from the state part by
/// part, each part diffed and sent as it comes. It goes before the checks (at the start
/// and after a reload: see [`crate::precedence`]).
async fn full_pass<B>(kernel: Kernel<B>, state: LvsState) -> anyhow::Result<(Kernel<B>, LvsState)>
where
    B: IpvsBackend + Send + 'static,
{
    on_blocking_pool(kernel, state, |k, state| {
        let _first = crate::precedence::Precedence::take(crate::precedence::RELOAD_PRECEDENCE);
        k.rec
            .sync_parts(&mut k.backend, |emit| state.desired_parts(emit))
    })
    .await
}

fn apply_globals<B: IpvsGlobals>(backend: &mut B, config: &Config, old: Option<&Config>) {
    let new_t = globals::timeouts(config);
    if new_t != old.and_then(globals::timeouts) {
        if let Some(t) = new_t {
            match backend.set_timeouts(&t) {
                Ok(()) => info!(
                    "IPVS timeouts set: tcp {} tcpfin {} udp {}",
                    t.tcp, t.tcp_fin, t.udp
                ),
                Err(e) => error!("Cannot set IPVS timeouts: {e}"),
            }
        }
    }
    // lvs_sync_daemon follows a VRRP instance's state: the VRRP side drives it
    // (src/vrrp/syncd.rs), as keepalived's VRRP process does.
}

/// Where the LVS side gets its IPVS backend, once a configuration needs one: the side
/// asks only then, so a configuration without virtual servers never touches IPVS.
pub trait IpvsSource: Send + 'static {
    type Backend: IpvsBackend + IpvsGlobals + Send + 'static;
    /// Opens IPVS (may block: it runs on the blocking pool). The error says why IPVS
    /// cannot be used, as one sentence.
    fn open(&mut self) -> Result<Self::Backend, String>;
}

/// The kernel's IPVS over generic netlink (`modprobe ip_vs` when it is missing).
/// `rcv_buf`: `lvs_netlink_cmd_rcv_bufs[_force]` of the file the side started with.
/// `netns`: `net_namespace_ipvs` of that file (the socket is opened there).
pub struct KernelIpvs {
    pub rcv_buf: RcvBuf,
    pub netns: Option<String>,
}

impl IpvsSource for KernelIpvs {
    type Backend = IpvsClient;

    fn open(&mut self) -> Result<IpvsClient, String> {
        let buf = self.rcv_buf;
        match &self.netns {
            None => IpvsClient::open_checked(buf).map_err(|e| e.to_string()),
            Some(ns) => crate::netns::run_in(ns, || IpvsClient::open_checked(buf))
                .map_err(|e| format!("{e:#}"))?
                .map_err(|e| e.to_string()),
        }
    }
}

/// Whether a configuration needs IPVS: it has virtual servers (or groups of them).
/// `lvs_sync_daemon` is the VRRP side's (it follows an instance's state).
pub fn needs_ipvs(config: &Config) -> bool {
    !config.virtual_servers.is_empty() || !config.virtual_server_groups.is_empty()
}

/// Runs the LVS side with the kernel's IPVS (the generic netlink client), the real health
/// checkers (`checkers`), and real scripts and mail.
pub async fn run(ctl: Control, checkers: ManagedCheckers) -> anyhow::Result<()> {
    let rcv_buf = ctl.reload.borrow().global.netlink_bufs.lvs_cmd;
    let netns = ctl.reload.borrow().global.net_namespace_ipvs.clone();
    run_with(
        ctl,
        KernelIpvs { rcv_buf, netns },
        checkers,
        RealEffects::default(),
    )
    .await
}

/// Runs the LVS side over any source of a backend until `ctl.shutdown` turns true. The
/// backend is opened once the configuration has a virtual server; while it cannot be,
/// the side retries with backoff (1 s doubling to 60 s) and follows reloads.
pub async fn run_with<S, C, E>(
    mut ctl: Control,
    source: S,
    checkers: C,
    effects: E,
) -> anyhow::Result<()>
where
    S: IpvsSource,
    C: CheckerStarter,
    E: EffectSink,
{
    match wait_for_ipvs(&mut ctl, source).await? {
        Some(backend) => run_from(ctl, backend, checkers, effects).await,
        None => {
            info!("LVS side stopped (it never needed IPVS, or never got it)");
            Ok(())
        }
    }
}

/// Waits until the configuration needs IPVS and IPVS can be opened; None when told to
/// stop first. Failures are logged once per reason (and every ten minutes), each retry at
/// debug level.
async fn wait_for_ipvs<S: IpvsSource>(
    ctl: &mut Control,
    mut source: S,
) -> anyhow::Result<Option<S::Backend>> {
    let mut retry = Retry::default();
    let mut said_idle = false;
    let others = if ctl.opts.runs_vrrp() {
        "; VRRP keeps running"
    } else {
        ""
    };
    let mut waiting_for: Option<String>;
    loop {
        if *ctl.shutdown.borrow() {
            return Ok(None);
        }
        let config = ctl.reload.borrow().clone();
        let wait = if !needs_ipvs(&config) {
            waiting_for = None;
            if !said_idle {
                info!("No virtual server in the configuration: the LVS side leaves IPVS alone until a reload adds one");
                said_idle = true;
            }
            None
        } else {
            said_idle = false;
            let started = std::time::Instant::now();
            let (back, opened) = tokio::task::spawn_blocking(move || {
                let r = source.open();
                (source, r)
            })
            .await
            .map_err(|e| anyhow::anyhow!("the task opening IPVS failed: {e}"))?;
            source = back;
            match opened {
                Ok(backend) => {
                    let failed = retry.succeeded();
                    if failed > 0 {
                        info!("IPVS is available now (after {failed} failed attempts): the LVS side starts");
                    }
                    tracing::debug!("IPVS netlink socket ready in {:.1?}", started.elapsed());
                    return Ok(Some(backend));
                }
                Err(reason) => {
                    waiting_for = Some(reason.clone());
                    let step = retry.failed(tokio::time::Instant::now().into_std(), &reason);
                    let delay = human(step.delay);
                    if !step.log {
                        tracing::debug!(
                            "IPVS is still not available (attempt {}): retrying in {delay}",
                            step.attempts
                        );
                    } else if step.attempts == 1 {
                        error!("{reason}: the LVS side will retry in {delay}{others}");
                    } else {
                        error!(
                            "{reason}: still so after {} attempts, the LVS side retries in {delay}{others}",
                            step.attempts
                        );
                    }
                    Some(step.delay)
                }
            }
        };
        let sleep = async {
            match wait {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::pin!(sleep);
        // Until the next attempt: turns for the heartbeat only.
        loop {
            ctl.beat(|| match &waiting_for {
                Some(why) => format!("LVS side waiting for IPVS: {why}"),
                None => "no virtual server".to_string(),
            });
            tokio::select! {
                r = ctl.shutdown.changed() => {
                    if r.is_err() {
                        return Ok(None);
                    }
                    break;
                }
                // A new configuration: look again at once (it may add or remove the need).
                r = ctl.reload.changed() => {
                    if r.is_err() {
                        return Ok(None);
                    }
                    break;
                }
                _ = &mut sleep => break,
                _ = ctl.heartbeat.due() => {}
            }
        }
    }
}

/// One checker verdict into the state: its effects carried out, the virtual servers it
/// changed added to `dirty`.
fn verdict<E: EffectSink>(
    state: &mut LvsState,
    effects: &mut E,
    ev: &CheckerEvent,
    dirty: &mut Vec<usize>,
) {
    match state.event(ev) {
        Ok(change) => {
            let cfg = state.config().clone();
            for e in change.effects {
                effects.effect(&cfg, e);
            }
            for d in change.dirty {
                if !dirty.contains(&d) {
                    dirty.push(d);
                }
            }
        }
        Err(e) => warn!("{e}: dropped"),
    }
}

/// [`run_with`] once the backend is open.
async fn run_from<B, C, E>(
    mut ctl: Control,
    backend: B,
    mut checkers: C,
    mut effects: E,
) -> anyhow::Result<()>
where
    B: IpvsBackend + IpvsGlobals + Send + 'static,
    C: CheckerStarter,
    E: EffectSink,
{
    let started = std::time::Instant::now();
    let config = ctl.reload.borrow_and_update().clone();
    let (mut state, start_effects) = LvsState::new(config.clone());
    let state_built = started.elapsed();
    for e in start_effects {
        effects.effect(&config, e);
    }
    let mut kernel = Kernel {
        backend,
        rec: Reconciler::new(),
    };
    apply_globals(&mut kernel.backend, &config, None);
    if config.global.lvs_flush {
        kernel = kernel_job(kernel, Job::Flush("at start (lvs_flush)")).await?;
    }
    tracing::debug!("LVS start: state built in {state_built:.1?}");
    (kernel, state) = full_pass(kernel, state).await?;
    info!(
        "LVS side started in {:.1?} ({:.1?} after the start of the process): {} virtual servers, {} services in the kernel table, {} IPVS operations applied",
        started.elapsed(),
        crate::control::since_start(),
        config.virtual_servers.len(),
        kernel.rec.actual().services.len(),
        kernel.rec.stats.ops_ok
    );
    let mut events = checkers.start(config.clone(), &state.checker_states());
    // The state holds the configuration from now on: this copy of the Arc would keep the
    // first configuration alive for the life of the side, beside each reloaded one.
    drop(config);
    trim_heap_later();
    let mut trim = TrimClock::new(tokio::time::Instant::now());
    let mut events_open = true;
    let mut last_verdict_pass: Option<tokio::time::Instant> = None;
    let mut retry = tokio::time::interval(RETRY_INTERVAL);
    retry.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut reload_open = true;
    let mut dump_rx = crate::control::report::register(crate::control::report::Side::Checker);
    let mut ctl_rx = super::ctl::register();
    let mut drain = tokio::time::interval(super::ctl::DRAIN_CHECK);
    drain.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let heal_period = ctl.opts.ipvs_heal_period();
    // The first tick one period after the start (the start's pass has just read the table).
    let mut heal = tokio::time::interval_at(
        tokio::time::Instant::now() + heal_period.unwrap_or(Duration::from_secs(3600)),
        heal_period.unwrap_or(Duration::from_secs(3600)),
    );
    heal.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    match heal_period {
        Some(p) => info!(
            "The IPVS table is read back every {} to put back what someone else changed",
            human(p)
        ),
        None => info!("IPVS heal passes are off (--ipvs-heal-interval 0)"),
    }

    loop {
        if *ctl.shutdown.borrow() {
            break;
        }
        ctl.beat(|| state.summary());
        // In this order: a stop or a reload never waits behind a heal pass that is also
        // due.
        tokio::select! {
            biased;
            r = ctl.shutdown.changed() => {
                if r.is_err() {
                    // The daemon is gone: stop as if told to.
                    break;
                }
            }
            Some(req) = dump_rx.recv() => {
                let _ = req.reply.send(Some(super::dump::check_data(&state)));
            }
            Some(req) = ctl_rx.recv() => {
                kernel = control(kernel, &mut state, &mut effects, &checkers, req).await?;
            }
            _ = drain.tick(), if state.draining() => {
                kernel = drain_check(kernel, &mut state, &mut effects).await?;
            }
            r = ctl.reload.changed(), if reload_open => {
                if r.is_err() {
                    reload_open = false;
                    continue;
                }
                let new = ctl.reload.borrow_and_update().clone();
                let started = std::time::Instant::now();
                if unchanged(state.config(), &new).await {
                    // Nothing to bring anywhere: the running state, checkers and kernel
                    // table are already what the file says.
                    checkers.adopt_equal(new.clone());
                    drop_later(state.adopt_equal(new));
                    trim_heap_later();
                    trim.trimmed(tokio::time::Instant::now());
                    info!(
                        "Reload of the LVS side done in {:?}: the configuration is unchanged, nothing restarted or sent",
                        started.elapsed()
                    );
                    continue;
                }
                let old = state.config().clone();
                for e in state.reload(new.clone()) {
                    effects.effect(&new, e);
                }
                apply_globals(&mut kernel.backend, &new, Some(&old));
                (kernel, state) = full_pass(kernel, state).await?;
                events = checkers.start(new.clone(), &state.checker_states());
                events_open = true;
                trim_heap_later();
                trim.trimmed(tokio::time::Instant::now());
                info!("Reload of the LVS side done in {:?}", started.elapsed());
                drop_later(old);
            }
            ev = events.recv(), if events_open => {
                let Some(ev) = ev else {
                    events_open = false;
                    continue;
                };
                // Take every event already waiting, and those that come until
                // GATHER_VERDICTS after the last pass began, then reconcile once.
                let mut dirty: Vec<usize> = Vec::new();
                let mut next = Some(ev);
                let gather_until = last_verdict_pass.map(|t| t + GATHER_VERDICTS);
                let mut gathered = false;
                loop {
                    while let Some(ev) = next {
                        verdict(&mut state, &mut effects, &ev, &mut dirty);
                        next = events.try_recv().ok();
                    }
                    match gather_until {
                        Some(until) if !gathered && tokio::time::Instant::now() < until => {
                            tokio::time::sleep_until(until).await;
                            gathered = true;
                            next = events.try_recv().ok();
                        }
                        _ => break,
                    }
                }
                let now = tokio::time::Instant::now();
                last_verdict_pass = Some(now);
                kernel = update_dirty(kernel, &state, dirty).await?;
                if trim.after_pass(now) {
                    trim_heap_later();
                }
            }
            _ = retry.tick(), if kernel.rec.needs_retry() => {
                (kernel, state) = full_pass(kernel, state).await?;
            }
            // While a retry is due, its full pass does the same work.
            _ = heal.tick(), if heal_period.is_some() && !kernel.rec.needs_retry() => {
                if ctl.reading.now() {
                    // Put off: a period after now (the reload, once read, comes first).
                    debug!("IPVS heal pass put off: a reload is being read");
                    heal.reset();
                    continue;
                }
                let started = std::time::Instant::now();
                let gave_up;
                (kernel, state, gave_up) = heal_pass(kernel, state, &ctl).await?;
                if let Some(period) = heal_period {
                    // Given up: the next pass a period after the reload or stop.
                    let took = if gave_up { Duration::ZERO } else { started.elapsed() };
                    heal.reset_after(heal_gap(period, took));
                }
            }
            _ = ctl.heartbeat.due() => {}
        }
    }

    info!("LVS side stopping");
    let cfg = state.config().clone();
    for e in state.shutdown_effects() {
        effects.effect(&cfg, e);
    }
    drop(events);
    if ctl.opts.dont_release_ipvs {
        info!("Leaving the IPVS table in place (-I)");
    } else if cfg.global.lvs_flush_on_stop == FlushOnStop::Full {
        kernel_job(kernel, Job::Flush("on stop (lvs_flush_on_stop)")).await?;
    } else {
        kernel_job(kernel, Job::Release).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{heal_gap, TrimClock, TRIM_EVERY};
    use std::time::Duration;

    #[test]
    fn flapping_trims_the_heap_once_a_minute_and_a_reload_restarts_the_clock() {
        let t0 = tokio::time::Instant::now();
        let mut clock = TrimClock::new(t0);
        // A pass every 5 s for 10 minutes: a trim every TRIM_EVERY, none in between.
        let mut trims = Vec::new();
        for i in 1..=120u64 {
            let at = t0 + Duration::from_secs(5 * i);
            if clock.after_pass(at) {
                trims.push(at - t0);
            }
        }
        assert_eq!(trims.len(), 10, "{trims:?}");
        assert!(
            trims.windows(2).all(|w| w[1] - w[0] == TRIM_EVERY),
            "{trims:?}"
        );
        // A reload trims: the next trim for verdicts a full period after it.
        let reload = t0 + Duration::from_secs(630);
        clock.trimmed(reload);
        assert!(!clock.after_pass(reload + TRIM_EVERY - Duration::from_secs(1)));
        assert!(clock.after_pass(reload + TRIM_EVERY));
    }

    #[test]
    fn a_slow_heal_pass_spaces_the_next_one_out() {
        let s = Duration::from_secs;
        // A quick pass: the period.
        assert_eq!(heal_gap(s(5), Duration::from_millis(80)), s(5));
        // A table that takes 15 s to read back (5,000 × 20 in an emulated guest): the
        // next pass 135 s later, not at once.
        assert_eq!(heal_gap(s(5), s(15)), s(135));
    }
}
