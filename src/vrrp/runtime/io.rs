//! The runtime's seam with the system: [`VrrpIo`] (everything the VRRP loop does outside
//! itself) and [`Clock`] (what time it is, and waiting for a deadline), with the real
//! adapters [`RealIo`] and [`RealClock`]. Tests put a fake behind the same traits and
//! drive the loop without root (tests/vrrp_conformance.rs).

use super::addresses::{addr_worker, AddrJob};
use crate::config::model::Notify;
use crate::config::{Config, VrrpScript};
use crate::ipvs::SyncDaemon;
use crate::script::{self, Script};
use crate::vrrp::dump_if::LinkSnapshot;
use crate::vrrp::firewall::{Firewall, Want};
use crate::vrrp::link::Netlink;
use crate::vrrp::notify::{Notifier, StateChange};
use crate::vrrp::packet::Family;
use crate::vrrp::params::{vip_place, InstanceParams, VipPlace};
use crate::vrrp::routes::{self, Installed, NetItem, NetOps};
use crate::vrrp::socket::{AdvertSocket, Received, SocketSpec, VrrpSocket};
use crate::vrrp::state::Event;
use crate::vrrp::syncd::SyncDaemonWorker;
use crate::vrrp::timer::PreciseTimer;
use crate::vrrp::track::NoSource;
use crate::vrrp::vip::VipSpec;
use crate::vrrp::vmac;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// What time it is for the state machines, and waiting until a deadline.
#[allow(async_fn_in_trait)]
pub trait Clock: Clone {
    fn now(&self) -> Instant;
    /// Returns at `deadline` (at once when it has passed).
    async fn sleep_until(&self, deadline: Instant);
}

/// The monotonic clock, deadlines kept with a timerfd (microsecond wake-ups).
#[derive(Clone)]
pub struct RealClock {
    timer: Arc<PreciseTimer>,
}

impl RealClock {
    pub fn new() -> std::io::Result<RealClock> {
        Ok(RealClock {
            timer: Arc::new(PreciseTimer::new()?),
        })
    }
}

impl Clock for RealClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
    async fn sleep_until(&self, deadline: Instant) {
        if let Err(e) = self.timer.sleep_until(deadline).await {
            // Never lose a deadline: fall back to tokio's millisecond timer.
            tracing::warn!("timerfd failed ({e}); using the coarse timer");
            tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)).await
        }
    }
}

/// tokio's clock: under `tokio::time::pause` tests decide when time moves.
#[derive(Clone, Copy, Debug, Default)]
pub struct TokioClock;

impl Clock for TokioClock {
    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }
    async fn sleep_until(&self, deadline: Instant) {
        tokio::time::sleep_until(tokio::time::Instant::from_std(deadline)).await
    }
}

/// What [`VrrpIo::open_instance`] set up for one instance.
pub struct InstSetup<H> {
    /// The receive socket's number: packets arrive as `(rx, Received)` on the runtime's
    /// packet input, and go to the instances with this number and the advert's VRID.
    pub rx: usize,
    /// The advert source address (None: none usable yet, adverts are not sent).
    pub src: Option<IpAddr>,
    /// Why there is no usable source address, if there is none (the instance is in FAULT
    /// until there is one, as in keepalived).
    pub no_source: Option<NoSource>,
    /// The index of the interface the instance's source address belongs on, and the
    /// addresses it has now (for `track_src_ip`; then address events say).
    pub ifindex: u32,
    pub if_addrs: Vec<IpAddr>,
    /// virtual_ipaddress and virtual_ipaddress_excluded, devices resolved.
    pub vips: Vec<VipSpec>,
    /// virtual_routes and virtual_rules, interfaces resolved.
    pub net: Vec<NetItem>,
    /// The adapter's own handle (sockets, address worker).
    pub handle: H,
}

/// Everything the VRRP runtime does to the system. The runtime decides, this performs:
/// sends adverts, queues address work (VIPs, routes, gratuitous ARP/NA) in order per
/// instance, reports state changes (notify scripts, fifo, mail), and sets up and tears
/// down what instances need. Calls return quickly: slow work belongs to workers.
#[allow(async_fn_in_trait)]
pub trait VrrpIo {
    /// One instance's I/O (sockets, address worker).
    type Inst;

    /// Sets up instance `p` of `config`: interfaces looked up, vmac made, sockets opened,
    /// address worker started. An error refuses the start or the reload.
    async fn open_instance(
        &mut self,
        config: &Config,
        p: &InstanceParams,
    ) -> anyhow::Result<InstSetup<Self::Inst>>;

    /// Sends one encoded advert (with AH, the whole IPv4 datagram) from `src` to `dst`.
    async fn send_advert(
        &mut self,
        inst: &Self::Inst,
        bytes: &[u8],
        src: IpAddr,
        dst: IpAddr,
    ) -> std::io::Result<()>;

    /// Queues address work for the instance; jobs are done in order.
    fn addr_job(&mut self, inst: &Self::Inst, job: AddrJob);

    /// Reports a state change: fifo line, notify scripts (`scripts`), mail when `mail`.
    fn notify(&mut self, change: &StateChange, scripts: &Notify, mail: bool);

    /// Runs a script without waiting for it (notify_master_rx_lower_pri).
    fn run_script(&mut self, script: Script, args: Vec<String>, what: String);

    /// Whether interface `ifname` is up now (at start; then link events say); None when
    /// there is no such interface.
    async fn link_up(&mut self, ifname: &str) -> Option<bool>;

    /// The readings of track_file and track_process at start.
    fn initial_track_events(&mut self, config: &Config) -> Vec<Event>;

    /// Starts running `scripts` (the vrrp_scripts some instance tracks) and watching the
    /// tracked files and processes of `config`, in place of those started before.
    fn start_trackers(&mut self, config: &Config, scripts: &[&VrrpScript]);

    /// static_ipaddress, static_routes, static_rules: at start (`old` None) what an
    /// earlier run left is cleared and all are added; on a reload those gone are removed
    /// and the new ones added.
    async fn set_statics(&mut self, old: Option<&Config>, new: &Config);

    /// The static addresses, routes and rules in the kernel now (as added).
    fn statics(&self) -> Vec<crate::vrrp::routes::NetItem> {
        Vec::new()
    }

    /// Adds again a static address, route or rule (`why`: what made it go).
    async fn restore_static(&mut self, _item: crate::vrrp::routes::NetItem, _why: &str) {}

    /// The nftables rules no_accept wants now.
    fn set_firewall(&mut self, want: Want);

    /// Starts following the kernel's deletions of lvsd's routes and rules (`buf`: the
    /// monitor socket's receive buffer); None when they cannot be followed.
    fn watch_routes(
        &mut self,
        _buf: crate::config::model::RcvBuf,
    ) -> Option<mpsc::UnboundedReceiver<crate::vrrp::link::NetDeleted>> {
        None
    }

    /// The IPVS sync daemon wanted now (called on changes only).
    fn set_sync_daemon(&mut self, want: Option<SyncDaemon>);

    /// The receive and send sockets' descriptors, for the dump files.
    fn fds(&self, inst: &Self::Inst) -> Option<(i32, i32)>;

    /// The receive buffer asked for on the instance's receive socket (0: the kernel's
    /// default), for the dump files.
    fn rx_buf(&self, _inst: &Self::Inst) -> u32 {
        0
    }

    /// The index and name of the interface the instance's receive socket is bound to, for
    /// the dump files.
    fn rx_if(&self, _inst: &Self::Inst) -> Option<(u32, String)> {
        None
    }

    /// Every link of the namespace as the kernel reports it now, for the "Interfaces"
    /// part of keepalived.data (none where there is no kernel).
    async fn links(&mut self) -> Vec<LinkSnapshot> {
        Vec::new()
    }

    /// Shutdown, after the last adverts and address jobs were queued: lets the address
    /// work and notify scripts finish (bounded), removes vmacs (unless -V), statics, the
    /// firewall tables, stops the sync daemon and the trackers.
    async fn close(&mut self, insts: Vec<Self::Inst>, config: &Config);
}

/// One instance's sockets and address worker.
pub struct RealInst {
    /// Its receive socket's number in `RealIo::sockets`.
    rx: usize,
    /// Receives and sends the adverts.
    sock: Arc<VrrpSocket>,
    addr_tx: mpsc::UnboundedSender<AddrJob>,
    worker: JoinHandle<()>,
    vmac_index: Option<u32>,
    /// `unicast_ttl` of a unicast instance (None: the socket's 255).
    ttl: Option<u8>,
}

struct SockEntry {
    /// (interface index, family, AH).
    key: (u32, Family, bool),
    sock: Arc<VrrpSocket>,
    reader: JoinHandle<()>,
    /// Each instance's share of the receive buffer (vrrp_rx_bufs_policy,
    /// kernel_rx_buf_size), by instance name; the socket's buffer is their sum.
    rx_shares: std::collections::BTreeMap<String, u32>,
    /// The receive buffer asked for (0: the kernel's default).
    rx_buf: u32,
}

impl SockEntry {
    /// Sets instance `name`'s share and the socket's buffer to the sum of the shares.
    fn share_rx_buf(&mut self, name: &str, share: u32) {
        self.rx_shares.insert(name.to_string(), share);
        let bytes = self
            .rx_shares
            .values()
            .fold(0u32, |a, b| a.saturating_add(*b));
        if bytes == 0 || bytes == self.rx_buf {
            return;
        }
        self.rx_buf = bytes;
        let what = format!("VRRP socket on {}", self.sock.spec().ifname);
        let buf = crate::config::model::RcvBuf {
            bytes,
            force: false,
        };
        if let Err(e) = crate::sockbuf::apply(&self.sock.fd_ref(), &what, buf) {
            tracing::warn!("{what}: cannot set the receive buffer to {bytes} bytes: {e}");
        }
    }
}

/// The real system: rtnetlink, raw sockets, packet sockets, scripts, nftables, IPVS.
pub struct RealIo {
    nl: Netlink,
    dont_release: bool,
    sockets: Vec<SockEntry>,
    pkt_tx: mpsc::Sender<(usize, Received)>,
    script_tx: mpsc::Sender<(String, bool)>,
    track_tx: mpsc::Sender<Event>,
    notifier: Notifier,
    trackers: Vec<JoinHandle<()>>,
    /// Base-interface sysctls changed for vmacs, with their previous values.
    base_sysctls: Vec<(String, String)>,
    /// The IPVS sync daemon following the `lvs_sync_daemon` instance (started when first
    /// wanted).
    syncd: Option<SyncDaemonWorker>,
    /// static_ipaddress, static_routes and static_rules this run added.
    statics: Installed,
    /// no_accept's nftables drop rules (see firewall.rs).
    firewall: Option<Firewall>,
}

impl RealIo {
    /// Received adverts go to `pkt_tx`, script results to `script_tx`, track_file and
    /// track_process readings to `track_tx`. `dont_release`: -V.
    pub fn new(
        nl: Netlink,
        config: &Config,
        dont_release: bool,
        pkt_tx: mpsc::Sender<(usize, Received)>,
        script_tx: mpsc::Sender<(String, bool)>,
        track_tx: mpsc::Sender<Event>,
    ) -> RealIo {
        RealIo {
            nl,
            dont_release,
            sockets: Vec::new(),
            pkt_tx,
            script_tx,
            track_tx,
            notifier: {
                let mut n = Notifier::new(&config.global);
                n.known_unrunnable(config);
                n.use_script_users(config);
                n
            },
            trackers: Vec::new(),
            base_sysctls: Vec::new(),
            syncd: None,
            statics: Installed::default(),
            firewall: Some(Firewall::start()),
        }
    }

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
        self.sockets.push(SockEntry {
            key,
            sock,
            reader,
            rx_shares: Default::default(),
            rx_buf: 0,
        });
        Ok(idx)
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

impl VrrpIo for RealIo {
    fn watch_routes(
        &mut self,
        buf: crate::config::model::RcvBuf,
    ) -> Option<mpsc::UnboundedReceiver<crate::vrrp::link::NetDeleted>> {
        match crate::vrrp::link::watch_routes_and_rules(buf) {
            Ok(rx) => Some(rx),
            Err(e) => {
                tracing::error!(
                    "Cannot follow route and rule deletions, so a deleted virtual route or \
                     rule is not taken back: {e}"
                );
                None
            }
        }
    }

    type Inst = RealInst;

    async fn open_instance(
        &mut self,
        config: &Config,
        p: &InstanceParams,
    ) -> anyhow::Result<InstSetup<RealInst>> {
        let base = self.nl.interface(&p.interface).await?;
        let group = (!p.is_unicast()).then_some(p.mcast_group);
        let (mut out_if, mut mac) = (base.clone(), base.mac.unwrap_or([0; 6]));
        let mut vmac_index = None;
        // The socket that receives (and, without a vmac, sends) the adverts.
        let mut rx_if = base.clone();
        if let Some(name) = &p.use_vmac {
            let name = if name.is_empty() {
                vmac::default_name(config.global.vmac_prefix.as_deref(), p.vrid)
            } else {
                name.clone()
            };
            let ipv6 = p.family == Family::V6;
            // keepalived: the configured IPv6 source, else the base interface's link-local
            // address, else one made from its MAC.
            let link_local = (ipv6 && !p.vmac_xmit_base).then(|| match p.src_ip {
                Some(IpAddr::V6(a)) => a,
                _ => base
                    .ipv6_ll
                    .unwrap_or_else(|| vmac::link_local_of(base.mac.unwrap_or_default())),
            });
            let ip = vmac::VmacIp {
                ipv6,
                keep_ipv6: p.excluded_vips.iter().any(|v| v.addr.is_ipv6() != ipv6),
                link_local,
            };
            if !ipv6 {
                vmac::clear_rp_filter(&mut self.base_sysctls);
            }
            let v = vmac::ensure(&self.nl, &name, base.index, p.vrid, &ip).await?;
            tracing::info!(
                "VRRP_Instance({}) using vmac {} ({})",
                p.name,
                v.name,
                v.index
            );
            vmac::set_base_sysctls(&base.name, &mut self.base_sysctls);
            mac = vmac::virtual_mac(p.vrid, p.family == Family::V6);
            vmac_index = Some(v.index);
            // (A unicast instance always sends from its base interface: the load sets
            // vmac_xmit_base for it, as keepalived does.)
            if !p.vmac_xmit_base {
                // A peer's multicast advert leaves from the same virtual MAC as ours; the
                // kernel's macvlan code hands such frames to our macvlan only, never to
                // the base interface: listen (and send) there.
                rx_if = v.clone();
            }
            out_if = v;
        }
        if p.promote_secondaries {
            // Removing one VIP keeps the others of its subnet (put back at exit).
            vmac::set_ipv4_conf_flags(
                &out_if.name,
                &["promote_secondaries"],
                &mut self.base_sysctls,
            );
        }
        // AH adverts are IP protocol 51: their own socket (params keep AH to v2/IPv4).
        let rx = self.socket_for(rx_if.index, &rx_if.name, p.family, group, p.auth.is_ah())?;
        let share = crate::sockbuf::advert_share(
            &config.global.vrrp_rx_bufs,
            config.global.vrrp_rx_bufs_multiplier,
            p.kernel_rx_buf_size,
            crate::sockbuf::advert_len(
                p.version == crate::vrrp::packet::Version::V2,
                p.family == Family::V6,
                p.vips.len(),
                p.auth.is_ah(),
            ),
            rx_if.mtu,
        );
        self.sockets[rx].share_rx_buf(&p.name, share);
        let sock = self.sockets[rx].sock.clone();
        if let Some(g) = group {
            // Another instance may have opened the socket for unicast: join anyway.
            join_group(&sock, g);
        }
        let all_vips: Vec<IpAddr> = config
            .instances
            .iter()
            .flat_map(|i| i.all_vips())
            .map(|v| v.addr)
            .collect();
        let src = p.src_ip.or(match p.family {
            Family::V4 => base.primary_v4(&all_vips).map(IpAddr::V4),
            Family::V6 => out_if.ipv6_ll.or(base.ipv6_ll).map(IpAddr::V6),
        });
        let no_source = match src {
            None => Some(NoSource::Interface {
                v6: p.family == Family::V6,
            }),
            Some(a) if p.src_ip == Some(a) && p.is_unicast() && !is_local(a) => {
                Some(NoSource::NotLocal(a))
            }
            Some(_) => None,
        };
        if let Some(why) = no_source {
            tracing::warn!(
                "VRRP_Instance({}) on {}: {why}: FAULT until it has one, as keepalived",
                p.name,
                base.name
            );
        }
        let mut vips = Vec::new();
        let inst_conf = config.instances.iter().find(|i| i.name == p.name);
        for v in p.vips.iter().chain(p.excluded_vips.iter()) {
            let place = match inst_conf {
                Some(i) => vip_place(i, v),
                None => VipPlace::Own,
            };
            let idx = match place {
                VipPlace::Own => out_if.index,
                VipPlace::Base => base.index,
                VipPlace::Dev(dev) => self.nl.interface(dev).await?.index,
            };
            vips.push(VipSpec::from_config(v, idx)?);
        }
        let who = format!("VRRP_Instance({})", p.name);
        let net = match config.instances.iter().find(|i| i.name == p.name) {
            Some(i) => routes::items_for(&self.nl, &who, &i.virtual_routes, &i.virtual_rules).await,
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
        Ok(InstSetup {
            rx,
            src,
            no_source,
            ifindex: base.index,
            if_addrs: base.addrs.clone(),
            vips,
            net,
            handle: RealInst {
                rx,
                sock,
                addr_tx,
                worker,
                vmac_index,
                ttl: p.unicast_ttl.filter(|_| p.is_unicast()),
            },
        })
    }

    async fn send_advert(
        &mut self,
        inst: &RealInst,
        bytes: &[u8],
        src: IpAddr,
        dst: IpAddr,
    ) -> std::io::Result<()> {
        inst.sock.send_ttl(bytes, src, dst, inst.ttl).await
    }

    fn addr_job(&mut self, inst: &RealInst, job: AddrJob) {
        // The worker ends only when its sender drops: a send cannot fail before that.
        let _ = inst.addr_tx.send(job);
    }

    fn notify(&mut self, change: &StateChange, scripts: &Notify, mail: bool) {
        self.notifier.state_changed(change, scripts, mail);
    }

    fn run_script(&mut self, script: Script, args: Vec<String>, what: String) {
        script::spawn_detached(script, args, what);
    }

    async fn link_up(&mut self, ifname: &str) -> Option<bool> {
        match self.nl.interface(ifname).await {
            Ok(info) => Some(info.up),
            Err(crate::vrrp::link::LinkError::NoSuchInterface(_)) => None,
            Err(e) => {
                tracing::warn!("interface {ifname}: {e}");
                Some(false)
            }
        }
    }

    fn initial_track_events(&mut self, config: &Config) -> Vec<Event> {
        let mut events = crate::vrrp::track_file::initial_events(config);
        events.extend(crate::vrrp::track_process::initial_events(config));
        events
    }

    fn start_trackers(&mut self, config: &Config, scripts: &[&VrrpScript]) {
        for t in self.trackers.drain(..) {
            t.abort();
        }
        let global = &config.global;
        for s in scripts {
            let tx = self.script_tx.clone();
            let name = s.name.clone();
            let interval = s.interval.max(Duration::from_millis(10));
            let script = Script {
                command: s.script.clone(),
                user: s.user.clone().or_else(|| global.script_user.clone()),
                timeout: s.timeout.unwrap_or(s.interval),
                secure: global.enable_script_security,
            };
            self.trackers.push(tokio::spawn(async move {
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
            }));
        }
        // The track_file watcher and the track_process scanner (kept with the scripts).
        self.trackers
            .extend(crate::vrrp::track_file::spawn(config, &self.track_tx));
        self.trackers
            .extend(crate::vrrp::track_process::spawn(config, &self.track_tx));
    }

    async fn set_statics(&mut self, old: Option<&Config>, new: &Config) {
        let want = routes::static_items(&self.nl, new).await;
        match old {
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

    fn statics(&self) -> Vec<routes::NetItem> {
        self.statics.items().to_vec()
    }

    async fn restore_static(&mut self, item: routes::NetItem, why: &str) {
        match self.nl.net_add(&item).await {
            Ok(()) => tracing::info!("Static: {} added again ({why})", item.describe()),
            Err(e) => tracing::error!(
                "Static: {} cannot be added again ({why}): {e}",
                item.describe()
            ),
        }
    }

    fn set_firewall(&mut self, want: Want) {
        if let Some(f) = &self.firewall {
            f.set(want);
        }
    }

    fn set_sync_daemon(&mut self, want: Option<SyncDaemon>) {
        if want.is_some() && self.syncd.is_none() {
            self.syncd = Some(SyncDaemonWorker::spawn(|| {
                crate::ipvs::client::IpvsClient::connect().map_err(|e| e.to_string())
            }));
        }
        if let Some(w) = &self.syncd {
            w.set(want);
        }
    }

    async fn links(&mut self) -> Vec<LinkSnapshot> {
        let mut links = match self.nl.snapshot().await {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!("cannot list the interfaces for the data dump: {e}");
                return Vec::new();
            }
        };
        for l in &mut links {
            l.changed_conf = vmac::changed_ipv4_conf(&self.base_sysctls, &l.name);
        }
        links
    }

    fn rx_buf(&self, inst: &RealInst) -> u32 {
        self.sockets.get(inst.rx).map_or(0, |s| s.rx_buf)
    }

    fn rx_if(&self, inst: &RealInst) -> Option<(u32, String)> {
        let s = self.sockets.get(inst.rx)?;
        Some((s.key.0, s.sock.spec().ifname.clone()))
    }

    fn fds(&self, inst: &RealInst) -> Option<(i32, i32)> {
        let fd = inst.sock.raw_fd();
        Some((fd, fd))
    }

    async fn close(&mut self, insts: Vec<RealInst>, config: &Config) {
        for t in self.trackers.drain(..) {
            t.abort();
        }
        let mut workers = Vec::new();
        let mut vmacs = Vec::new();
        for inst in insts {
            drop(inst.addr_tx);
            workers.push(inst.worker);
            vmacs.extend(inst.vmac_index);
        }
        if tokio::time::timeout(Duration::from_secs(5), futures::future::join_all(workers))
            .await
            .is_err()
        {
            tracing::warn!("VRRP: address removal did not finish within 5 s");
        }
        let limit = config.global.notify_script_timeout + Duration::from_secs(1);
        if !self.notifier.drain(limit).await {
            tracing::warn!("VRRP: notify scripts still running at exit");
        }
        if !self.dont_release {
            for idx in vmacs {
                if let Err(e) = vmac::remove(&self.nl, idx).await {
                    tracing::warn!("cannot remove vmac interface {idx}: {e}");
                }
            }
            vmac::restore_base_sysctls(&self.base_sysctls);
        }
        // As keepalived, static entries go whatever -V says; so do the nftables tables.
        routes::remove_all(&self.nl, "Static", &mut self.statics).await;
        if let Some(f) = self.firewall.take() {
            f.stop().await;
        }
        if let Some(w) = self.syncd.take() {
            w.stop();
        }
        for s in &self.sockets {
            s.reader.abort();
        }
    }
}

/// Whether `addr` is an address of this host: keepalived binds its unicast socket to the
/// unicast_src_ip, which the kernel refuses (EADDRNOTAVAIL) for an address it does not
/// have. An IPv6 link-local address is left to the interface (true).
fn is_local(addr: IpAddr) -> bool {
    if let IpAddr::V6(a) = addr {
        if crate::vrrp::link::is_link_local(&a) {
            return true;
        }
    }
    match std::net::UdpSocket::bind((addr, 0)) {
        Ok(_) => true,
        Err(e) => e.raw_os_error() != Some(libc::EADDRNOTAVAIL),
    }
}
