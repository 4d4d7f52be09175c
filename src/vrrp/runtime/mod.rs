//! The VRRP side: a thin tokio loop around the I/O-free [`Coordinator`].
//!
//! receive → decode → `handle(now, event)` → perform the actions; timers → `handle`;
//! link changes, script results → `handle`; shutdown → `handle`, then clean up.
//! Everything the loop does to the system goes through one [`VrrpIo`] and its time
//! through one [`Clock`]: [`run`] gives the real ones, tests a fake ([`run_with`]).
//!
//! ```text
//!  socket readers ─ (rx, packet) ─┐
//!  link watcher ──── LinkEvent ───┤      ┌─ run_with: one task ───────────────────┐
//!  vrrp_script runners (name, ok) ┼─────▶│ Coordinator::handle(now, event)        │
//!  track_file / _process ─ Event ─┤      │ perform(outputs) through VrrpIo:       │
//!  dump registry ─ DumpRequest ───┘      │   send_advert ─────────────▶ sockets   │
//!  Control: reload, shutdown ───────────▶│   addr_job ─▶ address worker (a task   │
//!  Clock: next deadline ────────────────▶│     per instance: VIPs, routes, GARP)  │
//!                                        │   notify ──▶ notifier queues (scripts, │
//!                                        │     fifo, mail)                        │
//!                                        │ reload.rs: plan, then rebuild          │
//!                                        │ dumps.rs: answer the dump registry     │
//!                                        └────────────────────────────────────────┘
//! ```
//!
//! Slow work never runs in the loop: VIP changes and gratuitous ARP bursts go to one
//! ordered worker per instance (addresses.rs), notify scripts to the notifier's queues,
//! so adverts keep their timing whatever the kernel or the scripts do.

mod addresses;
mod dumps;
mod io;
pub mod reload;

pub use addresses::AddrJob;
pub use io::{Clock, InstSetup, RealClock, RealIo, TokioClock, VrrpIo};

use crate::config::{Config, VrrpScript};
use crate::control::report::{self, DumpRequest};
use crate::control::Control;
use crate::script::Script;
use crate::vrrp::debounce::Debounce;
use crate::vrrp::dump::Counters;
use crate::vrrp::dump_if::StatusSource;
use crate::vrrp::garp;
use crate::vrrp::link::{self, LinkEvent, Netlink};
use crate::vrrp::linkbeat;
use crate::vrrp::notify::{NotifyState, StateChange, Who};
use crate::vrrp::packet::{Advert, DropReason, RxMeta, RxStats};
use crate::vrrp::params::{Auth, InstanceParams};
use crate::vrrp::routes::{self, NetItem};
use crate::vrrp::socket::Received;
use crate::vrrp::state::{Action, Event, State};
use crate::vrrp::sync_group::{Coordinator, Output, Target};
use crate::vrrp::syncd;
use crate::vrrp::track::NoSource;
use crate::vrrp::vip::VipSpec;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// The runtime's bookkeeping for one instance, around the adapter's handle.
struct InstIo<H> {
    /// The receive socket's number (see [`InstSetup::rx`]).
    rx: usize,
    /// None while its interface does not exist (dynamic_interfaces): it stays in FAULT
    /// and is opened when the interface appears.
    handle: Option<H>,
    src: Option<IpAddr>,
    /// Why there is no source address (FAULT until there is one).
    no_source: Option<NoSource>,
    /// The source address's interface and its addresses (`track_src_ip`).
    ifindex: u32,
    if_addrs: Vec<IpAddr>,
    vips: Vec<VipSpec>,
    /// virtual_routes and virtual_rules, interfaces resolved.
    net: Vec<NetItem>,
    send_errors: u64,
    sent: u64,
    /// keepalived's counters kept here (adverts sent, transitions, priority 0, packet-level
    /// drops); the state machine's receive counts are added at dump time.
    counters: Counters,
    /// The state machine's receive counts when the counters were last cleared.
    rx_base: RxStats,
    /// When the instance last changed state (its start before that).
    last_transition: std::time::SystemTime,
    /// The IP id of the last AH advert (keepalived: 1, 2, ... per advert, never 0).
    ip_id: u16,
}

impl<H> InstIo<H> {
    fn new(s: InstSetup<H>) -> InstIo<H> {
        InstIo {
            rx: s.rx,
            handle: Some(s.handle),
            src: s.src,
            no_source: s.no_source,
            ifindex: s.ifindex,
            if_addrs: s.if_addrs,
            vips: s.vips,
            net: s.net,
            send_errors: 0,
            sent: 0,
            counters: Counters::default(),
            rx_base: RxStats::default(),
            last_transition: std::time::SystemTime::now(),
            ip_id: 0,
        }
    }

    /// An instance whose interface is missing: no socket, no addresses yet.
    fn pending() -> InstIo<H> {
        InstIo {
            rx: usize::MAX,
            handle: None,
            src: None,
            no_source: None,
            ifindex: 0,
            if_addrs: Vec::new(),
            vips: Vec::new(),
            net: Vec::new(),
            send_errors: 0,
            sent: 0,
            counters: Counters::default(),
            rx_base: RxStats::default(),
            last_transition: std::time::SystemTime::now(),
            ip_id: 0,
        }
    }

    /// Takes the sockets and addresses of an instance opened late, keeping its counters.
    fn opened(&mut self, s: InstSetup<H>) {
        self.rx = s.rx;
        self.handle = Some(s.handle);
        self.src = s.src;
        self.no_source = s.no_source;
        self.ifindex = s.ifindex;
        self.if_addrs = s.if_addrs;
        self.vips = s.vips;
        self.net = s.net;
    }

    /// `track_src_ip`: whether the instance's configured source address is on its
    /// interface now (None: not tracked, or the interface is not open).
    fn src_event(&self, p: &InstanceParams) -> Option<Event> {
        let addr = p
            .src_ip
            .filter(|_| p.track_src_ip && self.handle.is_some())?;
        Some(Event::SrcAddr {
            addr,
            present: self.if_addrs.contains(&addr),
        })
    }

    /// The IP id for the next AH advert.
    fn next_ip_id(&mut self) -> u16 {
        self.ip_id = self.ip_id.wrapping_add(1).max(1);
        self.ip_id
    }
}

/// The bytes to send for one advert to `dst`: the VRRP message, or with AH the whole IPv4
/// datagram (the AH socket includes the header). `ip_id` is used by AH only.
fn encode_advert(
    adv: &Advert,
    p: &InstanceParams,
    src: IpAddr,
    dst: IpAddr,
    ip_id: u16,
) -> Result<Vec<u8>, String> {
    match (p.auth, src, dst) {
        (Auth::Ah(key), IpAddr::V4(s), IpAddr::V4(d)) if adv.ah.is_some() => adv
            .encode_ah(s, d, ip_id, &key, p.is_unicast())
            .map_err(|e| e.to_string()),
        _ => adv
            .encode(src, dst, p.checksum_form)
            .map_err(|e| e.to_string()),
    }
}

/// Everything built from one configuration.
struct Side<H> {
    config: Arc<Config>,
    coord: Coordinator,
    io: Vec<InstIo<H>>,
}

struct Runtime<I: VrrpIo, C: Clock> {
    io: I,
    clock: C,
    opts_dont_release: bool,
    rx_stats: RxStats,
    side: Side<I::Inst>,
    /// The IPVS sync daemon last asked of the adapter.
    syncd_want: Option<crate::ipvs::SyncDaemon>,
    /// No event is handed to the state machines with an earlier time than this (the end of
    /// the previous event's handling): kernel receive stamps may be older.
    clock_floor: Instant,
    /// Shutting down: with -V, routes and rules stay (as VIPs).
    stopping: bool,
    /// log_unknown_vrids: when each (socket, VRID) was last logged.
    unknown_vrids_logged: std::collections::HashMap<(usize, u8), Instant>,
    /// interface_up_down_delays: link changes held back until they have lasted.
    debounce: Debounce,
    /// Reloads so far (numbers `config_save_dir`'s files).
    reloads: u32,
    /// The polled interfaces and how each is read (the data dump shows it).
    linkbeat: Vec<(String, StatusSource)>,
    /// What the dump shows of the links' past (keepalived.data's "Seen up", rp_filter).
    link_history: crate::vrrp::dump_if::LinkHistory,
}

/// The next item of `rx`; never, while there is none.
async fn recv_some<T>(rx: &mut Option<mpsc::UnboundedReceiver<T>>) -> Option<T> {
    match rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Whether lvsd follows route `r`'s deletion (keepalived: not `no_track`, and with an
/// interface, as it does not track a route without one).
fn route_followed(r: &crate::config::Route) -> bool {
    !r.no_track && r.dev.is_some()
}

/// Whether `config` has a route or rule whose deletion lvsd follows (keepalived's
/// monitor_ipv4/6_routes/rules): a virtual or static one, see [`route_followed`]; a rule
/// not `no_track`.
fn tracks_routes(config: &Config) -> bool {
    let routes = |r: &[crate::config::Route]| r.iter().any(route_followed);
    let rules = |r: &[crate::config::Rule]| r.iter().any(|r| !r.no_track);
    routes(&config.static_routes)
        || rules(&config.static_rules)
        || config
            .instances
            .iter()
            .any(|i| routes(&i.virtual_routes) || rules(&i.virtual_rules))
}

/// Whether lvsd follows static address `addr` (keepalived: unless `no_track`).
fn static_addr_followed(config: &Config, addr: IpAddr) -> bool {
    config
        .static_ipaddress
        .iter()
        .any(|s| s.addr == addr && !s.no_track)
}

/// Whether the deleted route or rule `ev` is `item`, one whose deletion lvsd follows.
fn followed_deletion(item: &NetItem, ev: &link::NetDeleted) -> bool {
    match (item, ev) {
        (NetItem::Route(s), link::NetDeleted::Route(m)) => {
            route_followed(&s.route) && routes::route_is(s, m)
        }
        (NetItem::Rule(r), link::NetDeleted::Rule(m)) => !r.no_track && routes::rule_is(r, m),
        _ => false,
    }
}

/// How often log_unknown_vrids logs one socket's VRID.
const UNKNOWN_VRID_LOG_EVERY: Duration = Duration::from_secs(60);

/// The runtime's inputs besides [`Control`].
pub struct Inputs {
    /// Received adverts, with the number of the socket they came in on.
    pub packets: mpsc::Receiver<(usize, Received)>,
    pub links: mpsc::UnboundedReceiver<LinkEvent>,
    /// vrrp_script results: (script name, success).
    pub scripts: mpsc::Receiver<(String, bool)>,
    /// track_file and track_process readings.
    pub tracks: mpsc::Receiver<Event>,
    pub dumps: mpsc::UnboundedReceiver<DumpRequest>,
    /// The interfaces whose link state is polled (`linkbeat_*`), and how.
    pub linkbeat: Vec<(String, StatusSource)>,
}

/// The monotonic time at which the kernel received a packet it stamped `at` (wall clock):
/// `now` minus the packet's age, never before `floor`. Without a stamp, or with an
/// implausible one (in the future, or older than a second: a clock step), `now`.
fn arrival_time(
    at: Option<std::time::SystemTime>,
    now: Instant,
    wall_now: std::time::SystemTime,
    floor: Instant,
) -> Instant {
    let age = at.and_then(|at| wall_now.duration_since(at).ok());
    match age {
        Some(age) if age <= Duration::from_secs(1) => {
            now.checked_sub(age).map_or(now, |t| t.max(floor).min(now))
        }
        _ => now,
    }
}

/// The polled interfaces (`linkbeat_*`) and how each is read.
type Polled = Vec<(String, StatusSource)>;

/// The link events the runtime follows: rtnetlink's, and with `linkbeat_*` the pollers'
/// in place of rtnetlink's up/down reports for the polled interfaces (which are returned
/// with how each is read). The polled set is the one of the configuration the VRRP side
/// started with.
fn linkbeat_links(
    config: &Config,
    mut netlink: mpsc::UnboundedReceiver<LinkEvent>,
) -> anyhow::Result<(mpsc::UnboundedReceiver<LinkEvent>, Polled)> {
    let polled = linkbeat::polled(config);
    if polled.is_empty() {
        return Ok((netlink, Vec::new()));
    }
    let prober = linkbeat::Prober::new()?;
    let ifs: Vec<(String, StatusSource)> = polled
        .iter()
        .map(|(name, kind)| {
            let method = prober.method(name, *kind);
            let asked = match kind {
                Some(crate::config::model::LinkbeatKind::Mii) => Some("MII"),
                Some(crate::config::model::LinkbeatKind::Ethtool) => Some("ETHTOOL"),
                _ => None,
            };
            let used = if method == StatusSource::Ethtool {
                "ETHTOOL"
            } else {
                "IOCTL"
            };
            if let Some(asked) = asked.filter(|a| *a != used) {
                tracing::info!(
                    "({name}): Configured linkbeat type {asked} not supported, using {used}"
                );
            }
            (name.clone(), method)
        })
        .collect();
    tracing::info!("Using MII-BMSR/ETHTOOL NIC polling thread(s)...");
    let (tx, rx) = mpsc::unbounded_channel();
    let keep = ifs.clone();
    let fwd = tx.clone();
    tokio::spawn(async move {
        while let Some(ev) = netlink.recv().await {
            if !linkbeat::filter(&ev, &keep) && fwd.send(ev).is_err() {
                break;
            }
        }
    });
    linkbeat::spawn(prober, ifs.clone(), tx);
    Ok((rx, ifs))
}

/// Runs the VRRP side until shutdown, on the real system.
pub async fn run(ctl: Control) -> anyhow::Result<()> {
    let config = ctl.reload.borrow().clone();
    let nl = Netlink::connect(config.global.netlink_bufs.vrrp_cmd)?;
    let (pkt_tx, packets) = mpsc::channel(1024);
    let (script_tx, scripts) = mpsc::channel(256);
    let (track_tx, tracks) = mpsc::channel(256);
    let netlink_links = link::watch_links(config.global.netlink_bufs.vrrp_monitor)?;
    let (links, linkbeat) = linkbeat_links(&config, netlink_links)?;
    let inputs = Inputs {
        packets,
        links,
        scripts,
        tracks,
        dumps: report::register(report::Side::Vrrp),
        linkbeat,
    };
    let io = RealIo::new(
        nl,
        &config,
        ctl.opts.dont_release_vrrp,
        pkt_tx,
        script_tx,
        track_tx,
    );
    run_with(ctl, io, RealClock::new()?, inputs).await
}

/// Runs the VRRP side until shutdown with `io` and `clock`: the whole runtime, whatever
/// performs its effects.
pub async fn run_with<I: VrrpIo, C: Clock>(
    mut ctl: Control,
    io: I,
    clock: C,
    inputs: Inputs,
) -> anyhow::Result<()> {
    let Inputs {
        packets: mut pkt_rx,
        links: mut link_rx,
        scripts: mut script_rx,
        tracks: mut track_rx,
        dumps: mut dump_rx,
        linkbeat,
    } = inputs;
    let config = ctl.reload.borrow_and_update().clone();
    let mut rt = Runtime {
        io,
        clock: clock.clone(),
        opts_dont_release: ctl.opts.dont_release_vrrp,
        rx_stats: RxStats::default(),
        unknown_vrids_logged: Default::default(),
        side: Side {
            config: config.clone(),
            coord: Coordinator::new(Vec::new(), &[], &[])?,
            io: Vec::new(),
        },
        clock_floor: clock.now(),
        syncd_want: None,
        stopping: false,
        debounce: Debounce::default(),
        reloads: 0,
        linkbeat,
        link_history: Default::default(),
    };
    rt.build_side(config.clone()).await?;
    rt.link_history = crate::vrrp::dump_if::LinkHistory::started(&rt.io.links().await);
    rt.debounce = rt.new_debounce();
    rt.io.set_statics(None, &config).await;
    rt.start().await;
    rt.update_sync_daemon();
    let mut route_rx = rt.watch_routes(None);

    let g = &rt.side.config.global;
    let mut auto_prio =
        super::sched::AutoPriority::new(g.max_auto_priority, g.min_auto_priority_delay);
    let rlimit_rt = g.vrrp_rlimit_rttime;
    loop {
        if *ctl.shutdown.borrow_and_update() {
            break;
        }
        ctl.beat(|| rt.side.coord.summary());
        let deadline = match (rt.side.coord.next_deadline(), rt.debounce.next_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let sleep = async {
            match deadline {
                Some(d) => clock.sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            biased;
            r = ctl.shutdown.changed() => {
                if r.is_err() || *ctl.shutdown.borrow_and_update() {
                    break;
                }
            }
            _ = sleep => {
                let now = clock.now();
                if let Some(d) = deadline {
                    super::sched::on_wake(&mut auto_prio, now.saturating_duration_since(d), rlimit_rt);
                }
                for (ifname, up) in rt.debounce.due(now) {
                    let outs = rt.side.coord.handle_all(now, Event::Link { ifname, up });
                    rt.perform(outs).await;
                }
                let outs = rt.side.coord.handle_all(now, Event::Timer);
                rt.perform(outs).await;
            }
            Some((sock, pkt)) = pkt_rx.recv() => rt.packet(sock, pkt).await,
            Some(ev) = link_rx.recv() => rt.link(ev).await,
            Some((name, ok)) = script_rx.recv() => {
                let outs = rt.side.coord.handle_all(clock.now(), Event::ScriptResult { name, ok });
                rt.perform(outs).await;
            }
            Some(ev) = track_rx.recv() => {
                let outs = rt.side.coord.handle_all(clock.now(), ev);
                rt.perform(outs).await;
            }
            Some(req) = dump_rx.recv() => rt.dump(req).await,
            Some(ev) = recv_some(&mut route_rx) => rt.net_deleted(ev).await,
            r = ctl.reload.changed() => {
                if r.is_err() { break; }
                let cfg = ctl.reload.borrow_and_update().clone();
                rt.reload(cfg).await;
                route_rx = rt.watch_routes(route_rx);
                let d = rt.new_debounce();
                rt.debounce.reconfigure(d);
                rt.update_sync_daemon();
            }
            _ = ctl.heartbeat.due() => {}
        }
        rt.clock_floor = clock.now();
    }
    rt.shutdown().await;
    Ok(())
}

/// Resolves every instance's parameters (warnings logged).
fn make_params(config: &Config) -> anyhow::Result<Vec<InstanceParams>> {
    let global = &config.global;
    let mut params = Vec::new();
    for inst in &config.instances {
        let p = InstanceParams::from_config(inst, global, &config.vrrp_scripts)?;
        for w in &p.warnings {
            tracing::warn!("VRRP_Instance({}) {w}", p.name);
        }
        if p.no_peer_fault() {
            tracing::warn!(
                "VRRP_Instance({}) unicast_fault_no_peer and no unicast_peer: the instance \
                 stays in FAULT",
                p.name
            );
        }
        params.push(p);
    }
    super::params::resolve_files_and_processes(&mut params, config);
    super::params::apply_sync_group_defaults(&mut params, config);
    Ok(params)
}

fn notify_state(s: State) -> Option<NotifyState> {
    match s {
        State::Master => Some(NotifyState::Master),
        State::Backup => Some(NotifyState::Backup),
        State::Fault => Some(NotifyState::Fault),
        State::Stop => Some(NotifyState::Stop),
        State::Init => None,
    }
}

/// Reports an instance's state change (scripts, fifo, mail).
fn notify_instance<I: VrrpIo>(io: &mut I, p: &InstanceParams, state: State, priority: u8) {
    if let Some(st) = notify_state(state) {
        let c = StateChange {
            who: Who::Instance,
            name: p.name.clone(),
            state: st,
            priority,
        };
        io.notify(&c, &p.notify, p.smtp_alert);
    }
}

/// Whether `e` says that interface `ifname` does not exist.
fn missing(e: &anyhow::Error, ifname: &str) -> bool {
    matches!(
        e.downcast_ref::<crate::vrrp::link::LinkError>(),
        Some(crate::vrrp::link::LinkError::NoSuchInterface(n)) if n == ifname
    )
}

/// Queues address work for an instance that has its I/O (none yet: nothing to do).
pub(super) fn addr_job<I: VrrpIo>(io: &mut I, h: &Option<I::Inst>, job: AddrJob) {
    if let Some(h) = h {
        io.addr_job(h, job);
    }
}

/// Sends an advert from an instance that has its I/O.
pub(super) async fn send_advert<I: VrrpIo>(
    io: &mut I,
    h: &Option<I::Inst>,
    bytes: &[u8],
    src: IpAddr,
    dst: IpAddr,
) -> std::io::Result<()> {
    match h {
        Some(h) => io.send_advert(h, bytes, src, dst).await,
        None => Err(std::io::Error::other("its interface does not exist")),
    }
}

impl<I: VrrpIo, C: Clock> Runtime<I, C> {
    async fn build_side(&mut self, config: Arc<Config>) -> anyhow::Result<()> {
        let params = make_params(&config)?;
        let coord = Coordinator::new(params, &config.sync_groups, &config.vrrp_scripts)?;
        let params: Vec<InstanceParams> = coord
            .instances()
            .iter()
            .map(|i| i.params().clone())
            .collect();
        let io = self.build_io(&config, &params).await?;
        self.side = Side { config, coord, io };
        self.start_trackers();
        Ok(())
    }

    /// The I/O of each instance (in `params` order).
    async fn build_io(
        &mut self,
        config: &Config,
        params: &[InstanceParams],
    ) -> anyhow::Result<Vec<InstIo<I::Inst>>> {
        let mut io = Vec::new();
        for p in params {
            match self.io.open_instance(config, p).await {
                Ok(s) => io.push(InstIo::new(s)),
                Err(e) if config.global.dynamic_interfaces && missing(&e, &p.interface) => {
                    tracing::warn!(
                        "VRRP_Instance({}) interface {} does not exist: FAULT until it is \
                         created (dynamic_interfaces)",
                        p.name,
                        p.interface
                    );
                    io.push(InstIo::pending());
                }
                Err(e) => return Err(e),
            }
        }
        Ok(io)
    }

    /// Starts the vrrp_scripts some instance tracks, and the file and process trackers.
    fn start_trackers(&mut self) {
        let config = &self.side.config;
        let used: Vec<&VrrpScript> = config
            .vrrp_scripts
            .iter()
            .filter(|s| {
                self.side
                    .coord
                    .instances()
                    .iter()
                    .any(|i| i.params().track_scripts.iter().any(|t| t.name == s.name))
            })
            .collect();
        self.io.start_trackers(config, &used);
    }

    /// Tells the instances the link state of every interface one of them tracks (its own,
    /// track_interface, those of its addresses, virtual routes and rules): the state they
    /// were told before, or for a link not told yet (at start, or tracked since a
    /// reload) the one the kernel gives now.
    async fn report_links(&mut self, now: Instant) -> Vec<Output> {
        let mut ifnames: Vec<(String, bool)> = Vec::new();
        for inst in self.side.coord.instances() {
            let p = inst.params();
            ifnames.push((p.interface.clone(), true));
            ifnames.extend(p.track_interfaces.iter().map(|t| (t.name.clone(), true)));
            ifnames.extend(p.links_of_addresses().map(|n| (n.to_string(), false)));
        }
        // By name, a named one (own or track_interface) first.
        ifnames.sort_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        ifnames.dedup_by(|a, b| a.0 == b.0);
        let dynamic = self.side.config.global.dynamic_interfaces;
        let mut outs = Vec::new();
        for (name, named) in ifnames {
            let up = match self.debounce.told(&name) {
                Some(up) => up,
                None => match self.io.link_up(&name).await {
                    Some(up) => {
                        self.debounce.initial(&name, up);
                        up
                    }
                    // keepalived leaves out an address, route or rule on an interface that
                    // does not exist (unless dynamic_interfaces), so nothing tracks it.
                    None if !named && !dynamic => continue,
                    None => {
                        tracing::warn!("interface {name}: no such interface");
                        self.debounce.initial(&name, false);
                        false
                    }
                },
            };
            outs.extend(
                self.side
                    .coord
                    .handle_all(now, Event::Link { ifname: name, up }),
            );
        }
        outs
    }

    /// Tells the machines their addresses and links, then starts them.
    async fn start(&mut self) {
        let now = self.clock.now();
        let mut outs = self.report_links(now).await;
        for i in 0..self.side.io.len() {
            if let Some(src) = self.side.io[i].src {
                outs.extend(self.side.coord.handle(now, i, Event::LocalAddr(src)));
            }
            let p = self.side.coord.instances()[i].params();
            if let Some(ev) = self.side.io[i].src_event(p) {
                outs.extend(self.side.coord.handle(now, i, ev));
            }
            let why = self.side.io[i].no_source;
            outs.extend(self.side.coord.handle(now, i, Event::Source(why)));
        }
        for ev in self.io.initial_track_events(&self.side.config) {
            outs.extend(self.side.coord.handle_all(now, ev));
        }
        outs.extend(self.side.coord.handle_all(now, Event::Start));
        self.perform(outs).await;
    }

    async fn packet(&mut self, sock: usize, pkt: Received) {
        let meta = RxMeta {
            src: pkt.meta.src,
            dst: pkt.meta.dst,
            ttl: pkt.meta.ttl,
        };
        let decoded = if pkt.ah {
            Advert::decode_ah(&pkt.payload, &meta)
        } else {
            Advert::decode(&pkt.payload, &meta)
        };
        let advert = match decoded {
            Ok(a) => a,
            Err(reason) => {
                // keepalived counts these against the instance the VRID names; the
                // instance tells the operator (rate-limited).
                let mut named = Vec::new();
                if let Some(&vrid) = pkt.payload.get(1) {
                    for (i, io) in self.side.io.iter_mut().enumerate() {
                        let same = self
                            .side
                            .coord
                            .instances()
                            .get(i)
                            .is_some_and(|inst| inst.params().vrid == vrid);
                        if io.rx == sock && same {
                            io.counters.count_drop(reason, 1);
                            named.push(i);
                        }
                    }
                }
                self.drop_packet(reason, &meta);
                if !named.is_empty() && !reason.is_quiet() {
                    let now = self.clock.now();
                    for i in named {
                        let outs = self.side.coord.handle(
                            now,
                            i,
                            Event::Undecodable {
                                reason,
                                src: meta.src,
                            },
                        );
                        self.perform(outs).await;
                    }
                }
                return;
            }
        };
        let targets: Vec<usize> = self
            .side
            .io
            .iter()
            .enumerate()
            .filter(|(i, io)| {
                io.rx == sock && self.side.coord.instances()[*i].params().vrid == advert.vrid
            })
            .map(|(i, _)| i)
            .collect();
        if targets.is_empty() {
            if self.side.config.global.log_unknown_vrids {
                self.log_unknown_vrid(sock, advert.vrid, &meta);
            }
            self.drop_packet(DropReason::VridUnknown, &meta);
            return;
        }
        let now = arrival_time(
            pkt.at,
            self.clock.now(),
            std::time::SystemTime::now(),
            self.clock_floor,
        );
        for i in targets {
            let before = self.side.coord.instances()[i].stats().accepted;
            let outs = self.side.coord.handle(
                now,
                i,
                Event::Advert {
                    advert: advert.clone(),
                    meta,
                },
            );
            let accepted = self.side.coord.instances()[i].stats().accepted > before;
            if accepted && advert.priority == 0 {
                if let Some(io) = self.side.io.get_mut(i) {
                    io.counters.pri_zero_rcvd += 1;
                }
            }
            self.perform(outs).await;
        }
    }

    /// log_unknown_vrids: one line per socket and VRID a minute at most (a peer advertises
    /// every second).
    fn log_unknown_vrid(&mut self, sock: usize, vrid: u8, meta: &RxMeta) {
        let now = self.clock.now();
        let due = self
            .unknown_vrids_logged
            .get(&(sock, vrid))
            .is_none_or(|t| now.saturating_duration_since(*t) >= UNKNOWN_VRID_LOG_EVERY);
        if !due {
            return;
        }
        self.unknown_vrids_logged.insert((sock, vrid), now);
        let ifname = self
            .side
            .io
            .iter()
            .position(|io| io.rx == sock)
            .map(|i| self.side.coord.instances()[i].params().interface.clone())
            .unwrap_or_default();
        tracing::info!(
            "advert for unknown VRID {vrid} received on {ifname} from {}: ignored \
             (log_unknown_vrids; logged once a minute)",
            meta.src
        );
    }

    fn drop_packet(&mut self, reason: DropReason, meta: &RxMeta) {
        self.rx_stats.record(reason);
        if reason.is_quiet() {
            tracing::trace!("advert from {} dropped: {reason}", meta.src);
        } else {
            tracing::debug!("advert from {} dropped: {reason}", meta.src);
        }
    }

    async fn link(&mut self, ev: LinkEvent) {
        if let Some((addr, present)) = ev.addr {
            self.address(ev.index, addr, present).await;
            return;
        }
        if ev.name.is_empty() {
            return;
        }
        let came_up = self
            .link_history
            .message(ev.index, ev.up, ev.gone, ev.rp_filter);
        if came_up {
            self.statics_back_on(ev.index).await;
        }
        if !ev.gone {
            self.open_pending(&ev.name).await;
        }
        let up = if ev.gone {
            self.debounce.gone(&ev.name);
            false
        } else {
            match self.debounce.link(self.clock.now(), &ev.name, ev.up) {
                Some(up) => up,
                // No change, or held back by interface_up_down_delays.
                None => return,
            }
        };
        let outs = self.side.coord.handle_all(
            self.clock.now(),
            Event::Link {
                ifname: ev.name,
                up,
            },
        );
        self.perform(outs).await;
    }

    /// interface_up_down_delays of the running configuration.
    fn new_debounce(&self) -> Debounce {
        let params: Vec<InstanceParams> = self
            .side
            .coord
            .instances()
            .iter()
            .map(|i| i.params().clone())
            .collect();
        Debounce::new(&self.side.config.global.interface_delays, &params)
    }

    /// An address was added (`present`) or deleted on interface `index`: the instances
    /// whose source address is on that interface note it, and `track_src_ip` follows it.
    async fn address(&mut self, index: u32, addr: IpAddr, present: bool) {
        let now = self.clock.now();
        let mut outs = Vec::new();
        if !present {
            // A static address someone deleted is added again (keepalived's
            // reinstate_static_address), unless `no_track`.
            if static_addr_followed(&self.side.config, addr) {
                let lost = self.io.statics().into_iter().find(
                    |item| matches!(item, NetItem::Addr(v) if v.addr == addr && v.ifindex == index),
                );
                if let Some(item) = lost {
                    self.io.restore_static(item, "it was deleted").await;
                }
            }
            for i in 0..self.side.io.len() {
                let inst = &self.side.coord.instances()[i];
                let p = inst.params();
                let held = self.side.io[i]
                    .vips
                    .iter()
                    .any(|v| v.addr == addr && v.ifindex == index);
                let tracked = p
                    .vips
                    .iter()
                    .chain(&p.excluded_vips)
                    .any(|v| v.addr == addr && !v.no_track);
                if inst.state() == State::Master && held && tracked {
                    let what = format!("address {addr}");
                    outs.extend(self.side.coord.handle(now, i, Event::Lost(what)));
                }
            }
        }
        for i in 0..self.side.io.len() {
            let io = &mut self.side.io[i];
            if io.handle.is_none() || io.ifindex != index {
                continue;
            }
            io.if_addrs.retain(|a| *a != addr);
            if present {
                io.if_addrs.push(addr);
            }
            let p = self.side.coord.instances()[i].params();
            let mut evs = Vec::new();
            // Without a configured source, the interface's addresses give one (keepalived:
            // an instance without one leaves FAULT when an address comes, and goes back
            // when the one it used goes with no other to take).
            if p.src_ip.is_none() {
                let v6 = p.family == crate::vrrp::packet::Family::V6;
                let usable = |a: &IpAddr| match a {
                    IpAddr::V4(_) => !v6,
                    IpAddr::V6(a) => v6 && link::is_link_local(a),
                };
                let before = io.src;
                if present && io.src.is_none() && usable(&addr) {
                    io.src = Some(addr);
                } else if !present && io.src == Some(addr) {
                    io.src = io.if_addrs.iter().copied().find(|a| usable(a));
                }
                if io.src != before {
                    io.no_source = io.src.is_none().then_some(NoSource::Interface { v6 });
                    evs.extend(io.src.map(Event::LocalAddr));
                    evs.push(Event::Source(io.no_source));
                }
            }
            if p.src_ip == Some(addr) {
                evs.extend(io.src_event(p));
            }
            for ev in evs {
                outs.extend(self.side.coord.handle(now, i, ev));
            }
        }
        if !outs.is_empty() {
            self.perform(outs).await;
        }
    }

    /// The watch of route and rule deletions: `running`, or one started now if the
    /// configuration has routes or rules to follow (it then runs until the end).
    fn watch_routes(
        &mut self,
        running: Option<mpsc::UnboundedReceiver<link::NetDeleted>>,
    ) -> Option<mpsc::UnboundedReceiver<link::NetDeleted>> {
        if running.is_some() || !tracks_routes(&self.side.config) {
            return running;
        }
        self.io
            .watch_routes(self.side.config.global.netlink_bufs.vrrp_monitor)
    }

    /// Interface `index` came up: the static addresses and routes on it are added again
    /// (the kernel drops routes, and IPv6 addresses, with a link set down; keepalived's
    /// interface_up), unless `no_track`.
    async fn statics_back_on(&mut self, index: u32) {
        let config = &self.side.config;
        let back: Vec<NetItem> = self
            .io
            .statics()
            .into_iter()
            .filter(|item| match item {
                NetItem::Addr(v) => v.ifindex == index && static_addr_followed(config, v.addr),
                NetItem::Route(s) => s.oif == Some(index) && route_followed(&s.route),
                NetItem::Rule(_) => false,
            })
            .collect();
        for item in back {
            self.io.restore_static(item, "its interface came up").await;
        }
    }

    /// The kernel deleted a route or rule of lvsd's: a MASTER instance that installed it
    /// (and follows it) takes it back, as when an address of it is deleted; a static one
    /// is added again.
    async fn net_deleted(&mut self, ev: link::NetDeleted) {
        if let Some(item) = self
            .io
            .statics()
            .into_iter()
            .find(|item| followed_deletion(item, &ev))
        {
            self.io.restore_static(item, "it was deleted").await;
            return;
        }
        let now = self.clock.now();
        let mut outs = Vec::new();
        for i in 0..self.side.io.len() {
            if self.side.coord.instances()[i].state() != State::Master {
                continue;
            }
            let lost = self.side.io[i]
                .net
                .iter()
                .find(|item| followed_deletion(item, &ev));
            if let Some(item) = lost {
                let what = item.describe();
                outs.extend(self.side.coord.handle(now, i, Event::Lost(what)));
            }
        }
        if !outs.is_empty() {
            self.perform(outs).await;
        }
    }

    /// Opens the instances waiting for interface `ifname` (dynamic_interfaces), now that it
    /// exists.
    async fn open_pending(&mut self, ifname: &str) {
        let now = self.clock.now();
        let mut outs = Vec::new();
        for i in 0..self.side.io.len() {
            let p = self.side.coord.instances()[i].params();
            if self.side.io[i].handle.is_some() || p.interface != ifname {
                continue;
            }
            let p = p.clone();
            match self.io.open_instance(&self.side.config, &p).await {
                Ok(s) => {
                    tracing::info!(
                        "VRRP_Instance({}) interface {ifname} created: instance opened",
                        p.name
                    );
                    self.side.io[i].opened(s);
                    if let Some(src) = self.side.io[i].src {
                        outs.extend(self.side.coord.handle(now, i, Event::LocalAddr(src)));
                    }
                    if let Some(ev) = self.side.io[i].src_event(&p) {
                        outs.extend(self.side.coord.handle(now, i, ev));
                    }
                    let why = self.side.io[i].no_source;
                    outs.extend(self.side.coord.handle(now, i, Event::Source(why)));
                }
                Err(e) => tracing::error!(
                    "VRRP_Instance({}) interface {ifname} created, but the instance cannot use \
                     it yet: {e:#}",
                    p.name
                ),
            }
        }
        if !outs.is_empty() {
            self.perform(outs).await;
        }
    }

    async fn perform(&mut self, outs: Vec<Output>) {
        let mut state_changed = false;
        // Adverts first: a new master's advert must not wait behind log lines, notify
        // scripts or address changes decided in the same step.
        let (adverts, rest): (Vec<Output>, Vec<Output>) = outs
            .into_iter()
            .partition(|o| matches!(o.action, Action::SendAdvert(_)));
        for o in adverts.into_iter().chain(rest) {
            state_changed |= matches!(o.action, Action::StateChange { .. });
            match o.target {
                Target::Instance(i) => self.perform_instance(i, o.action).await,
                Target::Group(g) => self.perform_group(g, o.action),
            }
        }
        if state_changed {
            self.update_sync_daemon();
        }
        let want = super::firewall::want(
            &self.side.config.global,
            self.side
                .coord
                .instances()
                .iter()
                .zip(&self.side.io)
                .map(|(inst, io)| super::firewall::Holder {
                    params: inst.params(),
                    master: inst.state() == State::Master,
                    vips: &io.vips,
                }),
        );
        self.io.set_firewall(want);
    }

    /// Moves the IPVS sync daemon to the role the `lvs_sync_daemon` instance's state asks
    /// for (the adapter never waits for IPVS).
    fn update_sync_daemon(&mut self) {
        let config = &self.side.config;
        let state = config.global.lvs_sync_daemon.as_ref().and_then(|d| {
            self.side
                .coord
                .instances()
                .iter()
                .find(|i| i.name() == d.instance)
                .map(|i| i.state())
        });
        let want = syncd::wanted(config, state);
        if want == self.syncd_want {
            return;
        }
        self.io.set_sync_daemon(want.clone());
        self.syncd_want = want;
    }

    async fn perform_instance(&mut self, i: usize, action: Action) {
        let Some(inst) = self.side.coord.instances().get(i) else {
            return;
        };
        let p = inst.params();
        let Some(io) = self.side.io.get_mut(i) else {
            return;
        };
        match action {
            Action::SendAdvert(adv) => {
                let Some(src) = io.src else {
                    io.send_errors += 1;
                    return;
                };
                // One IP id per advert, whatever the number of unicast peers (keepalived).
                let ip_id = io.next_ip_id();
                let mut sent_once = false;
                for dst in p.destinations() {
                    let res = match encode_advert(&adv, p, src, dst, ip_id) {
                        Ok(bytes) => send_advert(&mut self.io, &io.handle, &bytes, src, dst).await,
                        Err(e) => Err(std::io::Error::other(e)),
                    };
                    match res {
                        Ok(()) => {
                            io.sent += 1;
                            sent_once = true;
                        }
                        Err(e) => {
                            io.send_errors += 1;
                            if io.send_errors.is_power_of_two() {
                                tracing::warn!(
                                    "VRRP_Instance({}) advert to {dst} failed ({} so far): {e}",
                                    p.name,
                                    io.send_errors
                                );
                            }
                        }
                    }
                }
                if sent_once {
                    io.counters.advert_sent += 1;
                    if adv.priority == 0 {
                        io.counters.pri_zero_sent += 1;
                    }
                }
            }
            Action::AddVips => {
                addr_job(&mut self.io, &io.handle, AddrJob::Add(io.vips.clone()));
                addr_job(&mut self.io, &io.handle, AddrJob::NetAdd(io.net.clone()));
            }
            Action::DelVips => {
                // As keepalived: leaving MASTER removes the routes and rules; stopping
                // with -V keeps them.
                if !(self.stopping && self.opts_dont_release) {
                    addr_job(&mut self.io, &io.handle, AddrJob::NetDel);
                }
                if !self.opts_dont_release {
                    addr_job(&mut self.io, &io.handle, AddrJob::Del(io.vips.clone()));
                }
            }
            Action::SendGratuitous { repeat } => {
                let pacing = garp::Pacing {
                    arp: p.garp_interval,
                    na: p.gna_interval,
                };
                addr_job(&mut self.io, &io.handle, AddrJob::Garp(repeat, pacing));
            }
            Action::SendExtraIfGratuitous => {
                // With vmac_xmit_base the VMAC holding the addresses sends no adverts:
                // keepalived refreshes it too.
                let own_too = p.use_vmac.is_some() && p.vmac_xmit_base;
                addr_job(&mut self.io, &io.handle, AddrJob::ExtraIfGarp { own_too });
            }
            Action::StateChange { from, to, cause } => {
                io.last_transition = std::time::SystemTime::now();
                if to == State::Master {
                    io.counters.become_master += 1;
                }
                if from == State::Master {
                    io.counters.release_master += 1;
                }
                tracing::info!(instance = %p.name, from = %from, to = %to,
                    priority = inst.effective_priority(),
                    "VRRP_Instance({}) Entering {} STATE ({})", p.name, to, cause.as_str());
                // As keepalived: an instance that starts as BACKUP or FAULT removes VIPs an
                // earlier run left behind (a SIGKILL, or -V). Leaving MASTER removes them in
                // any case (DelVips), after a reload too (older keepalived needed -X for it).
                if from == State::Init && matches!(to, State::Backup | State::Fault) {
                    addr_job(&mut self.io, &io.handle, AddrJob::Release(io.vips.clone()));
                }
            }
            Action::Notify { state, priority } => {
                notify_instance(&mut self.io, p, state, priority);
            }
            Action::PriorityChanged { state, priority } => {
                if p.notify_priority_changes {
                    let st = if state == State::Master {
                        NotifyState::MasterPriority
                    } else {
                        NotifyState::BackupPriority
                    };
                    let c = StateChange {
                        who: Who::Instance,
                        name: p.name.clone(),
                        state: st,
                        priority,
                    };
                    self.io.notify(&c, &p.notify, false);
                }
            }
            Action::MasterRxLowerPri { from, priority } => {
                if let Some(cmd) = &p.notify.master_rx_lower_pri {
                    let g = &self.side.config.global;
                    let script = Script {
                        command: cmd.clone(),
                        user: self.side.config.script_user_for(cmd),
                        timeout: g.notify_script_timeout,
                        secure: g.enable_script_security,
                    };
                    let args = vec![
                        "INSTANCE".into(),
                        p.name.clone(),
                        "MASTER_RX_LOWER_PRI".into(),
                        priority.to_string(),
                        from.to_string(),
                    ];
                    let what = format!("VRRP_Instance({}) notify_master_rx_lower_pri", p.name);
                    self.io.run_script(script, args, what);
                }
            }
        }
    }

    fn perform_group(&mut self, g: usize, action: Action) {
        let Some(group) = self.side.coord.groups().get(g) else {
            return;
        };
        match action {
            Action::StateChange { to, .. } => {
                tracing::info!(
                    "VRRP_Group({}) Syncing instances to {} state",
                    group.name,
                    to
                );
            }
            Action::Notify { state, priority } => {
                if let Some(st) = notify_state(state) {
                    let c = StateChange {
                        who: Who::Group,
                        name: group.name.clone(),
                        state: st,
                        priority,
                    };
                    let mail = group
                        .smtp_alert
                        .unwrap_or_else(|| self.side.config.global.vrrp_alerts());
                    self.io.notify(&c, &group.notify, mail);
                }
            }
            _ => {}
        }
    }

    async fn shutdown(mut self) {
        tracing::info!("VRRP: stopping");
        self.stopping = true;
        let outs = self
            .side
            .coord
            .handle_all(self.clock.now(), Event::Shutdown);
        self.perform(outs).await;
        let handles = self.side.io.drain(..).filter_map(|io| io.handle).collect();
        self.io.close(handles, &self.side.config).await;
        tracing::info!("VRRP: stopped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrival_time_uses_the_kernel_stamp_within_bounds() {
        let now = Instant::now();
        let wall = std::time::SystemTime::now();
        let floor = now - Duration::from_millis(10);
        let ms = Duration::from_millis;
        // 2 ms old: two milliseconds before now
        assert_eq!(
            arrival_time(Some(wall - ms(2)), now, wall, floor),
            now - ms(2)
        );
        // older than the previous event: the previous event's time
        assert_eq!(arrival_time(Some(wall - ms(50)), now, wall, floor), floor);
        // no stamp, a stamp from the future, a stamp from before a clock step: now
        assert_eq!(arrival_time(None, now, wall, floor), now);
        assert_eq!(arrival_time(Some(wall + ms(5)), now, wall, floor), now);
        assert_eq!(arrival_time(Some(wall - ms(5000)), now, wall, floor), now);
    }

    #[test]
    fn notify_states() {
        assert_eq!(notify_state(State::Master), Some(NotifyState::Master));
        assert_eq!(notify_state(State::Stop), Some(NotifyState::Stop));
        assert_eq!(notify_state(State::Init), None);
    }
}
