//! The VRRP side: a thin tokio loop around the I/O-free [`Coordinator`].
//!
//! receive → decode → `handle(now, event)` → perform the actions; timers → `handle`;
//! link changes, script results → `handle`; shutdown → `handle`, then clean up.
//! Slow work never runs in the loop: VIP changes and gratuitous ARP bursts go to one
//! ordered worker per instance, notify scripts to the [`Notifier`]'s queues, so adverts
//! keep their timing whatever the kernel or the scripts do.

use crate::config::{Config, GlobalDefs, VrrpScript};
use crate::daemon::report::{self, DumpKind, DumpRequest};
use crate::daemon::Control;
use crate::script::{self, Script};
use crate::vrrp::dump::{self, Counters};
use crate::vrrp::garp::{self, Mac, PacketSocket};
use crate::vrrp::link::{self, LinkEvent, Netlink};
use crate::vrrp::notify::{Notifier, NotifyState, StateChange, Who};
use crate::vrrp::packet::{Advert, DropReason, Family, RxMeta, RxStats};
use crate::vrrp::params::{Auth, InstanceParams};
use crate::vrrp::routes::{self, Installed, NetItem, NetOps};
use crate::vrrp::socket::{AdvertSocket, Received, SocketSpec, VrrpSocket};
use crate::vrrp::state::{Action, Event, State};
use crate::vrrp::sync_group::{Coordinator, Output, Target};
use crate::vrrp::syncd::{self, SyncDaemonWorker};
use crate::vrrp::vip::{VipOps, VipSpec};
use crate::vrrp::vmac;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Work for an instance's address worker, done in order.
#[derive(Debug, Clone)]
enum AddrJob {
    Add(Vec<VipSpec>),
    Del(Vec<VipSpec>),
    /// Remove these addresses if the system has them, although this run did not add them.
    Release(Vec<VipSpec>),
    /// Addresses already present (kept over a reload), for later gratuitous bursts.
    Assume(Vec<VipSpec>),
    /// A burst of this many rounds, paced (vrrp_garp_interval / vrrp_gna_interval).
    Garp(u32, garp::Pacing),
    /// Add these routes and rules (virtual_routes, virtual_rules) if not added yet.
    NetAdd(Vec<NetItem>),
    /// Remove the routes and rules this worker added.
    NetDel,
    /// Remove these routes and rules whoever added them (gone by a reload).
    NetDrop(Vec<NetItem>),
}

/// The I/O side of one instance.
struct InstIo {
    /// Index into `Runtime::sockets` (receive socket, and send socket unless vmac).
    sock: usize,
    /// Send socket on the vmac interface, when `use_vmac`.
    vmac_sock: Option<Arc<VrrpSocket>>,
    src: Option<IpAddr>,
    vips: Vec<VipSpec>,
    /// virtual_routes and virtual_rules, interfaces resolved.
    net: Vec<NetItem>,
    addr_tx: mpsc::UnboundedSender<AddrJob>,
    worker: JoinHandle<()>,
    vmac_index: Option<u32>,
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

impl InstIo {
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

struct SockEntry {
    /// (interface index, family, AH).
    key: (u32, Family, bool),
    sock: Arc<VrrpSocket>,
    reader: JoinHandle<()>,
}

/// Everything built from one configuration.
struct Side {
    config: Arc<Config>,
    coord: Coordinator,
    io: Vec<InstIo>,
    scripts: Vec<JoinHandle<()>>,
}

struct Runtime {
    nl: Netlink,
    opts_dont_release: bool,
    sockets: Vec<SockEntry>,
    pkt_tx: mpsc::Sender<(usize, Received)>,
    script_tx: mpsc::Sender<(String, bool)>,
    notifier: Notifier,
    rx_stats: RxStats,
    side: Side,
    /// Base-interface sysctls changed for vmacs, with their previous values.
    base_sysctls: Vec<(String, String)>,
    /// The IPVS sync daemon following the `lvs_sync_daemon` instance (started when first
    /// wanted), and the daemon last asked of it.
    syncd: Option<SyncDaemonWorker>,
    syncd_want: Option<crate::ipvs::SyncDaemon>,
    /// No event is handed to the state machines with an earlier time than this (the end of
    /// the previous event's handling): kernel receive stamps may be older.
    clock_floor: Instant,
    /// static_ipaddress, static_routes and static_rules this run added.
    statics: Installed,
    /// Shutting down: with -V, routes and rules stay (as VIPs).
    stopping: bool,
    /// no_accept's nftables drop rules (see firewall.rs).
    firewall: super::firewall::Firewall,
    /// Readings of tracked files and processes (see `start_trackers`).
    track_tx: mpsc::Sender<Event>,
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

/// Runs the VRRP side until shutdown.
pub async fn run(mut ctl: Control) -> anyhow::Result<()> {
    let nl = Netlink::connect()?;
    let config = ctl.reload.borrow_and_update().clone();
    let (pkt_tx, mut pkt_rx) = mpsc::channel(1024);
    let (script_tx, mut script_rx) = mpsc::channel(256);
    let (track_tx, mut track_rx) = mpsc::channel(256);
    let mut link_rx = link::watch_links()?;
    let mut dump_rx = report::register(report::Side::Vrrp);
    let mut rt = Runtime {
        nl: nl.clone(),
        opts_dont_release: ctl.opts.dont_release_vrrp,
        sockets: Vec::new(),
        pkt_tx,
        script_tx,
        notifier: Notifier::new(&config.global),
        rx_stats: RxStats::default(),
        side: Side {
            config: config.clone(),
            coord: Coordinator::new(Vec::new(), &[], &[])?,
            io: Vec::new(),
            scripts: Vec::new(),
        },
        base_sysctls: Vec::new(),
        clock_floor: Instant::now(),
        syncd: None,
        syncd_want: None,
        statics: Installed::default(),
        stopping: false,
        firewall: super::firewall::Firewall::start(),
        track_tx,
    };
    let side = rt.build_side(config).await?;
    rt.side = side;
    rt.set_statics(None).await;
    rt.start().await;
    rt.update_sync_daemon();

    let timer = super::timer::PreciseTimer::new()?;
    let g = &rt.side.config.global;
    let mut auto_prio =
        super::sched::AutoPriority::new(g.max_auto_priority, g.min_auto_priority_delay);
    let rlimit_rt = g.vrrp_rlimit_rttime;
    loop {
        if *ctl.shutdown.borrow_and_update() {
            break;
        }
        ctl.beat(|| rt.side.coord.summary());
        let deadline = rt.side.coord.next_deadline();
        let sleep = async {
            match deadline {
                Some(d) => {
                    if let Err(e) = timer.sleep_until(d).await {
                        // Never lose a deadline: fall back to tokio's millisecond timer.
                        tracing::warn!("timerfd failed ({e}); using the coarse timer");
                        tokio::time::sleep_until(tokio::time::Instant::from_std(d)).await
                    }
                }
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
                let now = Instant::now();
                if let Some(d) = deadline {
                    super::sched::on_wake(&mut auto_prio, now.saturating_duration_since(d), rlimit_rt);
                }
                let outs = rt.side.coord.handle_all(now, Event::Timer);
                rt.perform(outs).await;
            }
            Some((sock, pkt)) = pkt_rx.recv() => rt.packet(sock, pkt).await,
            Some(ev) = link_rx.recv() => rt.link(ev).await,
            Some((name, ok)) = script_rx.recv() => {
                let outs = rt.side.coord.handle_all(Instant::now(), Event::ScriptResult { name, ok });
                rt.perform(outs).await;
            }
            Some(ev) = track_rx.recv() => {
                let outs = rt.side.coord.handle_all(Instant::now(), ev);
                rt.perform(outs).await;
            }
            Some(req) = dump_rx.recv() => rt.dump(req),
            r = ctl.reload.changed() => {
                if r.is_err() { break; }
                let cfg = ctl.reload.borrow_and_update().clone();
                rt.reload(cfg).await;
                rt.update_sync_daemon();
            }
            _ = ctl.heartbeat.due() => {}
        }
        rt.clock_floor = Instant::now();
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
        if inst.unicast_peers.is_empty() && inst.unicast_src_ip.is_some() {
            tracing::warn!(
                "VRRP_Instance({}) unicast_src_ip is set but unicast_peer is empty: \
                     adverts go to the multicast group {}",
                p.name,
                p.mcast_group
            );
        }
        params.push(p);
    }
    super::params::resolve_files_and_processes(&mut params, config);
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

/// The parts of a configuration the VRRP side runs from (reload compares these; where
/// things were written does not count, `Span`s compare equal).
type VrrpPart = (
    GlobalDefs,
    Vec<crate::config::VrrpInstance>,
    Vec<crate::config::SyncGroup>,
    Vec<VrrpScript>,
    Vec<crate::config::model::TrackFileDef>,
    Vec<crate::config::model::TrackProcessDef>,
);

fn vrrp_part(c: &Config) -> VrrpPart {
    let mut g = c.global.clone();
    // Settings of the other side do not concern VRRP.
    g.lvs_sync_daemon = None;
    g.lvs_timeouts = None;
    g.lvs_notify_fifo = None;
    g.smtp_alert_checker = None;
    (
        g,
        c.instances.clone(),
        c.sync_groups.clone(),
        c.vrrp_scripts.clone(),
        c.track_files.clone(),
        c.track_processes.clone(),
    )
}

impl Runtime {
    fn socket_for(
        &mut self,
        ifindex: u32,
        ifname: &str,
        family: Family,
        group: Option<IpAddr>,
        ah: bool,
    ) -> anyhow::Result<usize> {
        let key = (ifindex, family, ah);
        if let Some(i) = self.sockets.iter().position(|s| s.key == key) {
            return Ok(i);
        }
        let sock = Arc::new(VrrpSocket::open(SocketSpec {
            ifname: ifname.to_string(),
            ifindex,
            ipv6: family == Family::V6,
            group,
            ah,
        })?);
        let idx = self.sockets.len();
        let tx = self.pkt_tx.clone();
        let reader_sock = sock.clone();
        let reader = tokio::spawn(async move {
            loop {
                match reader_sock.recv().await {
                    Ok(Some(pkt)) => {
                        if tx.send((idx, pkt)).await.is_err() {
                            break;
                        }
                    }
                    Ok(None) => {}
                    Err(e) => {
                        tracing::error!("{}: receive failed: {e}", reader_sock.spec().ifname);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                }
            }
        });
        self.sockets.push(SockEntry { key, sock, reader });
        Ok(idx)
    }

    async fn build_side(&mut self, config: Arc<Config>) -> anyhow::Result<Side> {
        let params = make_params(&config)?;
        let coord = Coordinator::new(params, &config.sync_groups, &config.vrrp_scripts)?;
        let params: Vec<InstanceParams> = coord
            .instances()
            .iter()
            .map(|i| i.params().clone())
            .collect();
        let io = self.build_io(&config, &params).await?;
        let mut scripts = self.start_scripts(&config.vrrp_scripts, &coord, &config.global);
        scripts.extend(self.start_trackers(&config));
        Ok(Side {
            config,
            coord,
            io,
            scripts,
        })
    }

    /// Sockets, vmacs, address workers for each instance (in `params` order).
    async fn build_io(
        &mut self,
        config: &Config,
        params: &[InstanceParams],
    ) -> anyhow::Result<Vec<InstIo>> {
        let mut io = Vec::new();
        for p in params {
            let base = self.nl.interface(&p.interface).await?;
            let group = (!p.is_unicast()).then_some(p.mcast_group);
            let (mut out_if, mut mac) = (base.clone(), base.mac.unwrap_or([0; 6]));
            let mut vmac_sock = None;
            let mut vmac_index = None;
            // The socket that receives (and, without a vmac, sends) the adverts.
            let mut rx_if = base.clone();
            if let Some(name) = &p.use_vmac {
                let name = if name.is_empty() {
                    vmac::default_name(p.vrid)
                } else {
                    name.clone()
                };
                let v = vmac::ensure(&self.nl, &name, base.index, p.vrid, p.family == Family::V6)
                    .await?;
                tracing::info!(
                    "VRRP_Instance({}) using vmac {} ({})",
                    p.name,
                    v.name,
                    v.index
                );
                vmac::set_base_sysctls(&base.name, &mut self.base_sysctls);
                mac = vmac::virtual_mac(p.vrid, p.family == Family::V6);
                vmac_index = Some(v.index);
                if !p.vmac_xmit_base {
                    if p.is_unicast() {
                        // Unicast adverts are addressed to the base interface's MAC.
                        vmac_sock = Some(Arc::new(VrrpSocket::open(SocketSpec {
                            ifname: v.name.clone(),
                            ifindex: v.index,
                            ipv6: p.family == Family::V6,
                            group: None,
                            ah: p.auth.is_ah(),
                        })?));
                    } else {
                        // A peer's multicast advert leaves from the same virtual MAC as
                        // ours; the kernel's macvlan code hands such frames to our macvlan
                        // only, never to the base interface: listen (and send) there.
                        rx_if = v.clone();
                    }
                }
                out_if = v;
            }
            // AH adverts are IP protocol 51: their own socket (params keep AH to v2/IPv4).
            let sock =
                self.socket_for(rx_if.index, &rx_if.name, p.family, group, p.auth.is_ah())?;
            if let Some(g) = group {
                // Another instance may have opened the socket for unicast: join anyway.
                join_group(&self.sockets[sock].sock, g);
            }
            let all_vips: Vec<IpAddr> = config
                .instances
                .iter()
                .flat_map(|i| {
                    i.virtual_ipaddress
                        .iter()
                        .chain(&i.virtual_ipaddress_excluded)
                })
                .map(|v| v.addr)
                .collect();
            let src = p.src_ip.or(match p.family {
                Family::V4 => base.primary_v4(&all_vips).map(IpAddr::V4),
                Family::V6 => out_if.ipv6_ll.or(base.ipv6_ll).map(IpAddr::V6),
            });
            if src.is_none() {
                tracing::warn!(
                    "VRRP_Instance({}) {} has no usable source address yet",
                    p.name,
                    base.name
                );
            }
            let mut vips = Vec::new();
            for v in p.vips.iter().chain(p.excluded_vips.iter()) {
                let idx = match &v.dev {
                    Some(dev) => self.nl.interface(dev).await?.index,
                    None => out_if.index,
                };
                vips.push(VipSpec::from_config(v, idx)?);
            }
            let who = format!("VRRP_Instance({})", p.name);
            let net = match config.instances.iter().find(|i| i.name == p.name) {
                Some(i) => {
                    routes::items_for(&self.nl, &who, &i.virtual_routes, &i.virtual_rules).await
                }
                None => Vec::new(),
            };
            let (addr_tx, addr_rx) = mpsc::unbounded_channel();
            let worker = tokio::spawn(addr_worker(
                self.nl.clone(),
                p.name.clone(),
                out_if.index,
                out_if.name.clone(),
                mac,
                addr_rx,
            ));
            io.push(InstIo {
                sock,
                vmac_sock,
                src,
                vips,
                net,
                addr_tx,
                worker,
                vmac_index,
                send_errors: 0,
                sent: 0,
                counters: Counters::default(),
                rx_base: RxStats::default(),
                last_transition: std::time::SystemTime::now(),
                ip_id: 0,
            });
        }
        Ok(io)
    }

    fn start_scripts(
        &self,
        scripts: &[VrrpScript],
        coord: &Coordinator,
        global: &GlobalDefs,
    ) -> Vec<JoinHandle<()>> {
        let mut used: Vec<&VrrpScript> = Vec::new();
        for s in scripts {
            let tracked = coord
                .instances()
                .iter()
                .any(|i| i.params().track_scripts.iter().any(|t| t.name == s.name));
            if tracked {
                used.push(s);
            }
        }
        used.into_iter()
            .map(|s| {
                let tx = self.script_tx.clone();
                let name = s.name.clone();
                let interval = s.interval.max(Duration::from_millis(10));
                let script = Script {
                    command: s.script.clone(),
                    user: s.user.clone().or_else(|| global.script_user.clone()),
                    timeout: s.timeout.unwrap_or(s.interval),
                    secure: global.enable_script_security,
                };
                tokio::spawn(async move {
                    let mut tick = tokio::time::interval(interval);
                    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
                    loop {
                        tick.tick().await;
                        let ok = match script::run(&script, &[]).await {
                            Ok(o) => o.success(),
                            Err(e) => {
                                tracing::error!("vrrp_script {name}: {e}");
                                false
                            }
                        };
                        if tx.send((name.clone(), ok)).await.is_err() {
                            break;
                        }
                    }
                })
            })
            .collect()
    }

    /// The track_file watcher and the track_process scanner (kept with the scripts).
    fn start_trackers(&self, config: &Config) -> Vec<JoinHandle<()>> {
        let file = super::track_file::spawn(config, &self.track_tx);
        file.into_iter()
            .chain(super::track_process::spawn(config, &self.track_tx))
            .collect()
    }

    /// Tells the machines their addresses and links, then starts them.
    async fn start(&mut self) {
        let now = Instant::now();
        let mut outs = Vec::new();
        let mut ifnames: Vec<String> = Vec::new();
        for (i, inst) in self.side.coord.instances().iter().enumerate() {
            let p = inst.params();
            ifnames.push(p.interface.clone());
            ifnames.extend(p.track_interfaces.iter().map(|t| t.name.clone()));
            let _ = i;
        }
        ifnames.sort();
        ifnames.dedup();
        for name in ifnames {
            let up = match self.nl.interface(&name).await {
                Ok(info) => info.up,
                Err(e) => {
                    tracing::warn!("interface {name}: {e}");
                    false
                }
            };
            outs.extend(
                self.side
                    .coord
                    .handle_all(now, Event::Link { ifname: name, up }),
            );
        }
        for i in 0..self.side.io.len() {
            if let Some(src) = self.side.io[i].src {
                outs.extend(self.side.coord.handle(now, i, Event::LocalAddr(src)));
            }
        }
        let config = self.side.config.clone();
        let tracked = super::track_file::initial_events(&config)
            .into_iter()
            .chain(super::track_process::initial_events(&config));
        for ev in tracked {
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
                // keepalived counts these against the instance the VRID names.
                if let Some(&vrid) = pkt.payload.get(1) {
                    for (i, io) in self.side.io.iter_mut().enumerate() {
                        let same = self
                            .side
                            .coord
                            .instances()
                            .get(i)
                            .is_some_and(|inst| inst.params().vrid == vrid);
                        if io.sock == sock && same {
                            io.counters.count_drop(reason, 1);
                        }
                    }
                }
                self.drop_packet(reason, &meta);
                return;
            }
        };
        let targets: Vec<usize> = self
            .side
            .io
            .iter()
            .enumerate()
            .filter(|(i, io)| {
                io.sock == sock && self.side.coord.instances()[*i].params().vrid == advert.vrid
            })
            .map(|(i, _)| i)
            .collect();
        if targets.is_empty() {
            self.drop_packet(DropReason::VridUnknown, &meta);
            return;
        }
        let now = arrival_time(
            pkt.at,
            Instant::now(),
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

    fn drop_packet(&mut self, reason: DropReason, meta: &RxMeta) {
        self.rx_stats.record(reason);
        if reason.is_quiet() {
            tracing::trace!("advert from {} dropped: {reason}", meta.src);
        } else {
            tracing::debug!("advert from {} dropped: {reason}", meta.src);
        }
    }

    async fn link(&mut self, ev: LinkEvent) {
        if ev.name.is_empty() {
            return;
        }
        let outs = self.side.coord.handle_all(
            Instant::now(),
            Event::Link {
                ifname: ev.name,
                up: ev.up && !ev.gone,
            },
        );
        self.perform(outs).await;
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
        self.firewall.set(super::firewall::want(
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
        ));
    }

    /// Moves the IPVS sync daemon to the role the `lvs_sync_daemon` instance's state asks
    /// for (on its own thread: never waits for IPVS).
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
        if want.is_some() && self.syncd.is_none() {
            self.syncd = Some(SyncDaemonWorker::spawn(|| {
                crate::ipvs::client::IpvsClient::connect().map_err(|e| e.to_string())
            }));
        }
        if let Some(w) = &self.syncd {
            w.set(want.clone());
        }
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
                let sock: &VrrpSocket = match &io.vmac_sock {
                    Some(s) => s,
                    None => &self.sockets[io.sock].sock,
                };
                let mut sent_once = false;
                for dst in p.destinations() {
                    let res = match encode_advert(&adv, p, src, dst, ip_id) {
                        Ok(bytes) => sock.send(&bytes, src, dst).await,
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
                let _ = io.addr_tx.send(AddrJob::Add(io.vips.clone()));
                let _ = io.addr_tx.send(AddrJob::NetAdd(io.net.clone()));
            }
            Action::DelVips => {
                // As keepalived: leaving MASTER removes the routes and rules; stopping
                // with -V keeps them.
                if !(self.stopping && self.opts_dont_release) {
                    let _ = io.addr_tx.send(AddrJob::NetDel);
                }
                if !self.opts_dont_release {
                    let _ = io.addr_tx.send(AddrJob::Del(io.vips.clone()));
                }
            }
            Action::SendGratuitous { repeat } => {
                let pacing = garp::Pacing {
                    arp: p.garp_interval,
                    na: p.gna_interval,
                };
                let _ = io.addr_tx.send(AddrJob::Garp(repeat, pacing));
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
                    let _ = io.addr_tx.send(AddrJob::Release(io.vips.clone()));
                }
            }
            Action::Notify { state, priority } => {
                if let Some(st) = notify_state(state) {
                    let c = StateChange {
                        who: Who::Instance,
                        name: p.name.clone(),
                        state: st,
                        priority,
                    };
                    let notify = p.notify.clone();
                    let mail = p.smtp_alert;
                    self.notifier.state_changed(&c, &notify, mail);
                }
            }
            Action::MasterRxLowerPri { from, priority } => {
                if let Some(cmd) = &p.notify.master_rx_lower_pri {
                    let g = &self.side.config.global;
                    script::spawn_detached(
                        Script {
                            command: cmd.clone(),
                            user: g.script_user.clone(),
                            timeout: g.notify_script_timeout,
                            secure: g.enable_script_security,
                        },
                        vec![
                            "INSTANCE".into(),
                            p.name.clone(),
                            "MASTER_RX_LOWER_PRI".into(),
                            priority.to_string(),
                            from.to_string(),
                        ],
                        format!("VRRP_Instance({}) notify_master_rx_lower_pri", p.name),
                    );
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
                    let notify = group.notify.clone();
                    self.notifier.state_changed(&c, &notify, mail);
                }
            }
            _ => {}
        }
    }

    /// What the dump files show of each instance.
    fn views(&self) -> Vec<dump::View<'_>> {
        let coord = &self.side.coord;
        let wall_now = std::time::SystemTime::now();
        let now = Instant::now();
        coord
            .instances()
            .iter()
            .zip(&self.side.io)
            .enumerate()
            .map(|(i, (inst, io))| {
                let fd_in = self.sockets.get(io.sock).map(|e| e.sock.raw_fd());
                let fd_out = io.vmac_sock.as_ref().map(|s| s.raw_fd()).or(fd_in);
                dump::View {
                    inst,
                    sync_group: coord
                        .group_of(i)
                        .and_then(|g| coord.groups().get(g))
                        .map(|g| g.name.as_str()),
                    last_transition: io.last_transition,
                    read_timeout: inst
                        .next_deadline()
                        .map(|d| wall_now + d.saturating_duration_since(now)),
                    src_ip: io.src,
                    fds: fd_in.zip(fd_out),
                    vipset: inst.state() == State::Master,
                    counters: Counters::combine(&io.counters, inst.stats(), &io.rx_base),
                }
            })
            .collect()
    }

    /// Answers a dump request with the text of keepalived's file (formatted in
    /// [`crate::vrrp::dump`]); STATS_CLEAR zeroes the counters once the text is made.
    fn dump(&mut self, req: DumpRequest) {
        let text = {
            let views = self.views();
            match req.kind {
                DumpKind::Data => {
                    let mut s = crate::daemon::dump_global::global_section(
                        &self.side.config.global,
                        crate::daemon::dump_global::Part::Vrrp,
                    );
                    s.push_str(&dump::data(
                        &views,
                        self.side.coord.groups(),
                        &self.side.config.vrrp_scripts,
                    ));
                    Some(s)
                }
                DumpKind::Stats | DumpKind::StatsClear => Some(dump::stats(&views)),
                DumpKind::Json => dump::json(&views),
            }
        };
        if req.kind == DumpKind::StatsClear {
            for (inst, io) in self.side.coord.instances().iter().zip(&mut self.side.io) {
                io.counters = Counters::default();
                io.rx_base = inst.stats().clone();
            }
        }
        let _ = req.reply.send(text);
    }

    /// Applies a new configuration. Unchanged: nothing happens. Only priorities changed:
    /// the machines are told. Otherwise the instances are rebuilt; an instance matched by
    /// (VRID, family, interface, unicast) that was master becomes master again at once,
    /// keeping its addresses, and addresses no longer configured are removed.
    async fn reload(&mut self, cfg: Arc<Config>) {
        let old = self.side.config.clone();
        self.set_statics(Some((&old, &cfg))).await;
        if vrrp_part(&old) == vrrp_part(&cfg) {
            tracing::info!("Reload: no VRRP change");
            self.side.config = cfg;
            return;
        }
        // Priority-only change?
        let mut only_prio = old.instances.len() == cfg.instances.len()
            && vrrp_part(&Config {
                instances: Vec::new(),
                ..(*old).clone()
            }) == vrrp_part(&Config {
                instances: Vec::new(),
                ..(*cfg).clone()
            });
        if only_prio {
            for (a, b) in old.instances.iter().zip(&cfg.instances) {
                let mut a2 = a.clone();
                a2.priority = b.priority;
                if a2 != *b {
                    only_prio = false;
                    break;
                }
            }
        }
        if only_prio {
            let now = Instant::now();
            let mut outs = Vec::new();
            for (i, (a, b)) in old.instances.iter().zip(&cfg.instances).enumerate() {
                if a.priority != b.priority {
                    tracing::info!(
                        "VRRP_Instance({}) Reload: priority {} -> {}",
                        b.name,
                        a.priority,
                        b.priority
                    );
                    outs.extend(
                        self.side
                            .coord
                            .handle(now, i, Event::SetPriority(b.priority)),
                    );
                }
            }
            self.side.config = cfg;
            self.perform(outs).await;
            return;
        }
        tracing::info!("Reload: applying VRRP changes");
        let params = match make_params(&cfg) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!("Reload refused for VRRP, keeping the running instances: {e:#}");
                return;
            }
        };
        // I/O for the new instance list first: on error nothing has changed yet.
        let new_io = match self.build_io(&cfg, &params).await {
            Ok(io) => io,
            Err(e) => {
                tracing::error!("Reload refused for VRRP, keeping the running instances: {e:#}");
                return;
            }
        };
        let old_names: Vec<String> = self
            .side
            .coord
            .instances()
            .iter()
            .map(|i| i.name().to_string())
            .collect();
        let now = Instant::now();
        let reloaded =
            match self
                .side
                .coord
                .reload(now, params, &cfg.sync_groups, &cfg.vrrp_scripts)
            {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(
                        "Reload refused for VRRP, keeping the running instances: {e:#}"
                    );
                    return;
                }
            };
        let mut old_io = std::mem::replace(&mut self.side.io, new_io);
        self.side.config = cfg.clone();
        for s in std::mem::take(&mut self.side.scripts) {
            s.abort();
        }
        self.side.scripts = self.start_scripts(&cfg.vrrp_scripts, &self.side.coord, &cfg.global);
        let trackers = self.start_trackers(&cfg);
        self.side.scripts.extend(trackers);
        // Instances gone: perform their last actions with their old I/O.
        for (inst, actions) in reloaded.removed {
            tracing::info!("VRRP_Instance({}) removed by reload", inst.name());
            let Some(oi) = old_names.iter().position(|n| n == inst.name()) else {
                continue;
            };
            let io = &mut old_io[oi];
            let p = inst.params();
            for action in actions {
                match action {
                    Action::SendAdvert(adv) => {
                        let Some(src) = io.src else { continue };
                        let ip_id = io.next_ip_id();
                        let sock: &VrrpSocket = match &io.vmac_sock {
                            Some(s) => s,
                            None => &self.sockets[io.sock].sock,
                        };
                        for dst in p.destinations() {
                            if let Ok(b) = encode_advert(&adv, p, src, dst, ip_id) {
                                let _ = sock.send(&b, src, dst).await;
                            }
                        }
                    }
                    Action::DelVips => {
                        let _ = io.addr_tx.send(AddrJob::NetDel);
                        if !self.opts_dont_release {
                            let _ = io.addr_tx.send(AddrJob::Del(io.vips.clone()));
                        }
                    }
                    Action::StateChange { to, .. } => {
                        tracing::info!("VRRP_Instance({}) Entering {} STATE", p.name, to);
                    }
                    Action::Notify { state, priority } => {
                        if let Some(st) = notify_state(state) {
                            let c = StateChange {
                                who: Who::Instance,
                                name: p.name.clone(),
                                state: st,
                                priority,
                            };
                            self.notifier.state_changed(&c, &p.notify, p.smtp_alert);
                        }
                    }
                    _ => {}
                }
            }
        }
        // Routes and rules each old instance had, by name (a continuing master drops those
        // gone and adds the new ones).
        let old_net: Vec<(String, Vec<NetItem>)> = old_names
            .iter()
            .cloned()
            .zip(old_io.iter().map(|io| io.net.clone()))
            .collect();
        // Old workers finish their queues and end when their senders drop.
        drop(old_io);
        // Continuing masters hold their addresses already: tell the new workers so
        // gratuitous bursts cover them, then apply address changes.
        for (i, inst) in self.side.coord.instances().iter().enumerate() {
            if inst.state() == State::Master {
                let io = &self.side.io[i];
                let added: Vec<IpAddr> = reloaded
                    .vip_changes
                    .iter()
                    .filter(|(ci, _)| *ci == i)
                    .flat_map(|(_, c)| c.added.iter().map(|v| v.addr))
                    .collect();
                let held = io
                    .vips
                    .iter()
                    .filter(|v| !added.contains(&v.addr))
                    .cloned()
                    .collect();
                let _ = io.addr_tx.send(AddrJob::Assume(held));
                if let Some((_, old)) = old_net.iter().find(|(n, _)| n == inst.name()) {
                    let gone = routes::stale(old, &io.net);
                    if !gone.is_empty() {
                        let _ = io.addr_tx.send(AddrJob::NetDrop(gone));
                    }
                }
                let _ = io.addr_tx.send(AddrJob::NetAdd(io.net.clone()));
            }
        }
        for (i, change) in &reloaded.vip_changes {
            let Some(io) = self.side.io.get(*i) else {
                continue;
            };
            let name = self.side.coord.instances()[*i].name().to_string();
            let spec_of = |v: &crate::config::VirtualIp| {
                io.vips
                    .iter()
                    .find(|s| s.addr == v.addr)
                    .cloned()
                    .or_else(|| {
                        // A removed VIP is no longer in the new list: same device as written.
                        let ifindex = io.vips.first().map(|s| s.ifindex)?;
                        VipSpec::from_config(v, ifindex).ok()
                    })
            };
            let removed: Vec<VipSpec> = change.removed.iter().filter_map(spec_of).collect();
            let added: Vec<VipSpec> = change.added.iter().filter_map(spec_of).collect();
            tracing::info!(
                "VRRP_Instance({name}) Reload: {} VIP(s) added, {} removed",
                added.len(),
                removed.len()
            );
            if !removed.is_empty() && !self.opts_dont_release {
                let _ = io.addr_tx.send(AddrJob::Del(removed));
            }
            if !added.is_empty() {
                let _ = io.addr_tx.send(AddrJob::Add(added));
            }
        }
        // New instances learn their source address.
        let mut outs = reloaded.outputs;
        for (i, io) in self.side.io.iter().enumerate() {
            if let Some(src) = io.src {
                if self.side.coord.instances()[i].local_addr() != Some(src) {
                    outs.extend(self.side.coord.handle(now, i, Event::LocalAddr(src)));
                }
            }
        }
        self.perform(outs).await;
        for inst in self.side.coord.instances() {
            tracing::info!(
                "VRRP_Instance({}) Reload: now {} (priority {})",
                inst.name(),
                inst.state(),
                inst.effective_priority()
            );
        }
    }

    /// static_ipaddress, static_routes, static_rules: at start (`None`) what an earlier run
    /// left is removed and all are added; on a reload from `old` to `new`, those gone are
    /// removed and the new ones added. As keepalived, whatever the VRRP state.
    async fn set_statics(&mut self, reload: Option<(&Config, &Config)>) {
        let config = match reload {
            None => self.side.config.clone(),
            Some((old, new)) => {
                if old.static_ipaddress == new.static_ipaddress
                    && old.static_routes == new.static_routes
                    && old.static_rules == new.static_rules
                {
                    return;
                }
                Arc::new(new.clone())
            }
        };
        let want = routes::static_items(&self.nl, &config).await;
        match reload {
            None => {
                for item in routes::stale(&want, &[]) {
                    if self.nl.net_del(&item).await.is_ok() {
                        tracing::debug!("Static: cleared {} before adding it", item.describe());
                    }
                }
            }
            Some(_) => {
                for item in routes::stale(self.statics.items(), &want) {
                    routes::remove_one(&self.nl, "Static", &item).await;
                    self.statics.removed(&item);
                }
            }
        }
        routes::add_all(&self.nl, "Static", &mut self.statics, &want).await;
    }

    async fn shutdown(mut self) {
        tracing::info!("VRRP: stopping");
        self.stopping = true;
        let outs = self.side.coord.handle_all(Instant::now(), Event::Shutdown);
        self.perform(outs).await;
        for s in &self.side.scripts {
            s.abort();
        }
        let mut workers = Vec::new();
        let mut vmacs = Vec::new();
        for io in self.side.io.drain(..) {
            drop(io.addr_tx);
            workers.push(io.worker);
            vmacs.extend(io.vmac_index);
        }
        if tokio::time::timeout(Duration::from_secs(5), futures::future::join_all(workers))
            .await
            .is_err()
        {
            tracing::warn!("VRRP: address removal did not finish within 5 s");
        }
        let limit = self.side.config.global.notify_script_timeout + Duration::from_secs(1);
        if !self.notifier.drain(limit).await {
            tracing::warn!("VRRP: notify scripts still running at exit");
        }
        if !self.opts_dont_release {
            for idx in vmacs {
                if let Err(e) = vmac::remove(&self.nl, idx).await {
                    tracing::warn!("cannot remove vmac interface {idx}: {e}");
                }
            }
            vmac::restore_base_sysctls(&self.base_sysctls);
        }
        // As keepalived, static entries go whatever -V says; so do the nftables tables.
        routes::remove_all(&self.nl, "Static", &mut self.statics).await;
        self.firewall.stop().await;
        if let Some(w) = self.syncd.take() {
            w.stop();
        }
        for s in &self.sockets {
            s.reader.abort();
        }
        tracing::info!("VRRP: stopped");
    }
}

fn join_group(sock: &VrrpSocket, group: IpAddr) {
    // EADDRINUSE: already joined by the socket's first instance.
    if let Err(e) = sock.join(group) {
        if e.raw_os_error() != Some(libc::EADDRINUSE) {
            tracing::warn!("{}: cannot join {group}: {e}", sock.spec().ifname);
        }
    }
}

/// Performs one instance's address work in order: VIPs, then the GARP/NA bursts.
/// Removes `vips`. `stale`: VIPs this run did not add (left by an earlier run), where
/// "not there" is the normal answer.
async fn remove_vips(nl: &Netlink, name: &str, vips: &[VipSpec], stale: bool) {
    for v in vips {
        match (nl.del(v).await, stale) {
            (Ok(()), false) => {
                tracing::debug!("VRRP_Instance({name}) removed {}/{}", v.addr, v.prefix_len)
            }
            (Ok(()), true) => tracing::info!(
                "VRRP_Instance({name}) released {}/{} left by an earlier run",
                v.addr,
                v.prefix_len
            ),
            (Err(e), false) => tracing::error!("VRRP_Instance({name}) cannot remove VIP: {e}"),
            (Err(e), true) => {
                tracing::debug!("VRRP_Instance({name}) {}: nothing to release: {e}", v.addr)
            }
        }
    }
}

async fn addr_worker(
    nl: Netlink,
    name: String,
    ifindex: u32,
    ifname: String,
    mac: Mac,
    mut rx: mpsc::UnboundedReceiver<AddrJob>,
) {
    let mut sender: Option<PacketSocket> = None;
    let mut present: Vec<VipSpec> = Vec::new();
    let who = format!("VRRP_Instance({name})");
    let mut net = Installed::default();
    let mut pacer = garp::Pacer::default();
    let mut pending = std::collections::VecDeque::new();
    loop {
        let job = match pending.pop_front() {
            Some(job) => job,
            None => match rx.recv().await {
                Some(job) => job,
                None => break,
            },
        };
        match job {
            AddrJob::NetAdd(items) => routes::add_all(&nl, &who, &mut net, &items).await,
            AddrJob::NetDel => routes::remove_all(&nl, &who, &mut net).await,
            AddrJob::NetDrop(items) => {
                for item in items {
                    routes::remove_one(&nl, &who, &item).await;
                    net.removed(&item);
                }
            }
            AddrJob::Add(vips) => {
                for v in &vips {
                    match nl.add(v).await {
                        Ok(()) => tracing::debug!(
                            "VRRP_Instance({name}) added {}/{}",
                            v.addr,
                            v.prefix_len
                        ),
                        Err(e) => tracing::error!("VRRP_Instance({name}) cannot add VIP: {e}"),
                    }
                }
                for v in vips {
                    if !present.contains(&v) {
                        present.push(v);
                    }
                }
            }
            AddrJob::Assume(vips) => present = vips,
            AddrJob::Release(vips) => {
                remove_vips(&nl, &name, &vips, true).await;
                present.retain(|p| !vips.contains(p));
            }
            AddrJob::Del(vips) => {
                remove_vips(&nl, &name, &vips, false).await;
                present.retain(|p| !vips.contains(p));
            }
            AddrJob::Garp(repeat, pacing) => {
                if sender.is_none() {
                    match PacketSocket::open(ifindex) {
                        Ok(s) => sender = Some(s),
                        Err(e) => {
                            tracing::error!(
                                "VRRP_Instance({name}) cannot open a packet socket: {e}"
                            );
                            continue;
                        }
                    }
                }
                let v4: Vec<Ipv4Addr> = present
                    .iter()
                    .filter_map(|v| match v.addr {
                        IpAddr::V4(a) => Some(a),
                        _ => None,
                    })
                    .collect();
                let v6: Vec<Ipv6Addr> = present
                    .iter()
                    .filter_map(|v| match v.addr {
                        IpAddr::V6(a) => Some(a),
                        _ => None,
                    })
                    .collect();
                if let Some(s) = &sender {
                    let router = !v6.is_empty() && garp::ipv6_forwarding(&ifname);
                    let plan = pacer.plan(Instant::now(), pacing, &v4, &v6, repeat);
                    let stops = |j: &AddrJob| matches!(j, AddrJob::Del(_) | AddrJob::Release(_));
                    let r =
                        garp::send_paced(s, mac, router, plan, &mut rx, &mut pending, stops).await;
                    if r.aborted {
                        pacer = garp::Pacer::default();
                    }
                    tracing::debug!(
                        "VRRP_Instance({name}) sent {} gratuitous ARP/NA on {ifname} ({} failed{})",
                        r.sent,
                        r.failed,
                        if r.aborted {
                            ", rest dropped: addresses removed"
                        } else {
                            ""
                        }
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lvs_only_changes_are_no_vrrp_change() {
        let a = Config::default();
        let mut b = a.clone();
        b.global.lvs_timeouts = Some(crate::config::LvsTimeouts {
            tcp: Some(900),
            tcpfin: None,
            udp: None,
        });
        b.global.smtp_alert_checker = Some(true);
        assert!(vrrp_part(&a) == vrrp_part(&b));
        let mut c = a.clone();
        c.global.vrrp_garp_master_repeat = 9;
        assert!(vrrp_part(&a) != vrrp_part(&c));
    }

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
