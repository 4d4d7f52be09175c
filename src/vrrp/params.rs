//! Resolved parameters of one VRRP instance: the config model with every keepalived default
//! applied, so the state machine and the I/O adapters never look at `Option`s or globals.

use crate::config::model::{
    AuthType, Config, GlobalDefs, InitialState, Notify, OldUnicastChecksum, TrackRef, UnicastPeer,
    VirtualIp, VrrpInstance, VrrpScript,
};
use crate::vrrp::ah;
use crate::vrrp::packet::{self, Advert, AhFields, ChecksumForm, Family, Version};
use std::net::IpAddr;
use std::time::Duration;

/// Gratuitous ARP / unsolicited NA settings (keepalived: `garp_master_*`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GarpParams {
    /// Delay of the second burst after becoming master; zero: no second burst.
    pub delay: Duration,
    /// Gratuitous messages per VIP in each burst.
    pub repeat: u32,
    /// Period of the refresh bursts while master; None: no refresh.
    pub refresh: Option<Duration>,
    /// Gratuitous messages per VIP in each refresh burst.
    pub refresh_repeat: u32,
}

/// What a master does on a lower-priority advert (keepalived: `lower_prio_no_advert`,
/// `garp_lower_prio_delay`, `garp_lower_prio_repeat`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LowerPrio {
    /// Do not answer with an advert of our own.
    pub no_advert: bool,
    /// Gratuitous messages per VIP in the burst sent at once (0: no burst, and no second).
    pub garp_repeat: u32,
    /// Delay of a second burst of `garp_repeat`; zero: none.
    pub garp_delay: Duration,
}

/// A `track_script` entry resolved against its `vrrp_script`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackedScript {
    pub name: String,
    /// 0: failing puts the instance in FAULT. >0: added while succeeding, <0: added while
    /// failing (swapped by `reverse`).
    pub weight: i32,
    pub reverse: bool,
    /// Consecutive successes needed to go from failed to OK.
    pub rise: u32,
    /// Consecutive failures needed to go from OK to failed.
    pub fall: u32,
    /// Start in the failed state (`init_fail`).
    pub init_fail: bool,
}

/// A `track_interface` entry (or the instance's own interface, unless `dont_track_primary`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackedInterface {
    pub name: String,
    /// None (or 0): link down puts the instance in FAULT. Otherwise: <0 added while down,
    /// >0 added while up (swapped by `reverse`).
    pub weight: Option<i32>,
    pub reverse: bool,
}

/// A `track_file` entry resolved against its definition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackedFile {
    pub name: String,
    /// 0: a non-zero number puts the instance in FAULT; otherwise the number times the
    /// weight (negated by `reverse`) is added to the priority.
    pub weight: i32,
    pub reverse: bool,
}

/// A `track_process` entry resolved against its `vrrp_track_process`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackedProcess {
    pub name: String,
    /// 0: no quorum puts the instance in FAULT. >0 added with quorum, <0 added without
    /// (negated by `reverse`).
    pub weight: i32,
    pub reverse: bool,
    pub quorum: u32,
    pub quorum_max: u32,
}

/// Everything one instance needs, defaults resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceParams {
    pub name: String,
    pub vrid: u8,
    pub version: Version,
    pub family: Family,
    pub interface: String,
    pub initial_state: InitialState,
    /// Configured (base) priority 1..=255.
    pub priority: u8,
    /// Our advert interval. v2: whole seconds 1..=255; v3: 10 ms..=40.95 s, in centiseconds.
    pub advert_int: Duration,
    /// v2 authentication (always [`Auth::None`] for v3).
    pub auth: Auth,
    pub vips: Vec<VirtualIp>,
    pub excluded_vips: Vec<VirtualIp>,
    pub nopreempt: bool,
    /// Zero when not set.
    pub preempt_delay: Duration,
    /// Source address of adverts when set (`unicast_src_ip`, else `mcast_src_ip`).
    pub src_ip: Option<IpAddr>,
    /// Non-empty: adverts go to each peer by unicast, and only peers are accepted.
    pub unicast_peers: Vec<UnicastPeer>,
    /// Multicast destination (224.0.0.18 / ff02::12 unless `vrrp_mcast_group4/6`).
    pub mcast_group: IpAddr,
    pub garp: GarpParams,
    /// Least time between two gratuitous ARPs (`vrrp_garp_interval`) / unsolicited NAs
    /// (`vrrp_gna_interval`) on the interface; zero: back to back.
    pub garp_interval: Duration,
    pub gna_interval: Duration,
    pub lower_prio: LowerPrio,
    /// A master sends one advert before yielding to a higher-priority one.
    pub higher_prio_send_advert: bool,
    /// `vrrp_startup_delay`: after start, the instance stays BACKUP at least this long.
    pub startup_delay: Duration,
    /// Accept packets to VIPs when master (keepalived: on unless strict mode, or when the
    /// address owner). Off: while MASTER, firewall rules drop traffic to the VIPs (unless
    /// priority 255), see [`crate::vrrp::firewall`].
    pub accept: bool,
    /// `dont_track_primary` (also chooses how link-local VIPs are keyed in the firewall).
    pub dont_track_primary: bool,
    pub strict: bool,
    pub skip_check_adv_addr: bool,
    /// Checksum form of v3/IPv4 adverts we send.
    pub checksum_form: ChecksumForm,
    pub track_scripts: Vec<TrackedScript>,
    /// Tracked interfaces, including the instance's own (first) unless `dont_track_primary`.
    pub track_interfaces: Vec<TrackedInterface>,
    /// The interfaces tracked through the instance's addresses, virtual routes and rules
    /// (see [`address_interfaces`]), as the dump shows them; their links:
    /// [`InstanceParams::links_of_addresses`].
    pub address_interfaces: Vec<String>,
    /// Filled by [`resolve_files_and_processes`].
    pub track_files: Vec<TrackedFile>,
    pub track_processes: Vec<TrackedProcess>,
    pub notify: Notify,
    pub smtp_alert: bool,
    /// `use_vmac`: the vmac's name (the default one when none is given).
    pub use_vmac: Option<String>,
    pub vmac_xmit_base: bool,
    /// `garp_extra_if all SECS` (or the global `vrrp_garp_extra_if`): while MASTER, one
    /// gratuitous ARP / unsolicited NA this often on each interface other than the
    /// instance's that holds one of its addresses (None: off, as keepalived when no
    /// address is on another interface, or without `all`: see [`extra_if_garp`]).
    pub extra_if_garp: Option<Duration>,
    /// Master_Down_Interval in adverts: `down_timer_adverts` (RFC 5798: 3).
    pub down_timer_adverts: u32,
    /// `promote_secondaries`: set on the interface the VIPs go on.
    pub promote_secondaries: bool,
    /// Write MASTER_PRIORITY / BACKUP_PRIORITY lines to the notify fifos.
    pub notify_priority_changes: bool,
    /// Unicast adverts only from a listed peer (keepalived's check_unicast_src).
    pub check_unicast_src: bool,
    /// `kernel_rx_buf_size`: its share of its socket's receive buffer.
    pub kernel_rx_buf_size: Option<u32>,
    /// `debug N` (0–4): shown in the dump, as keepalived (which logs nothing more for it).
    pub debug: u8,
    /// `unicast_ttl`: the TTL / hop limit of unicast adverts (None: 255).
    pub unicast_ttl: Option<u8>,
    /// `unicast_fault_no_peer` as written (the dump's flag, peers or not; see
    /// [`InstanceParams::no_peer_fault`]).
    pub unicast_fault_no_peer: bool,
    /// A unicast keyword was written (see the model's field): without peers, the dump
    /// says multicast is used anyway.
    pub unicast_configured: bool,
    /// `track_src_ip` with a configured source address: FAULT while it is not on the
    /// instance's interface.
    pub track_src_ip: bool,
    /// Things resolved differently from what was written (to be logged as warnings).
    pub warnings: Vec<String>,
}

/// VRRPv2 authentication, with the password as keepalived keeps it: cut or zero-padded to
/// 8 bytes.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    None,
    /// `auth_type PASS`: the 8 bytes sent in every advert.
    Pass([u8; 8]),
    /// `auth_type AH`: the HMAC-MD5 key of the IPsec AH header ([`crate::vrrp::ah`]).
    Ah(ah::Key),
}

/// The secrets are never shown (debug output reaches logs).
impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use crate::config::model::SECRET_MASK;
        match self {
            Auth::None => f.write_str("None"),
            Auth::Pass(_) => write!(f, "Pass({SECRET_MASK})"),
            Auth::Ah(_) => write!(f, "Ah({SECRET_MASK})"),
        }
    }
}

impl Auth {
    /// The auth type field of the VRRPv2 header.
    pub fn auth_type(&self) -> u8 {
        match self {
            Auth::None => packet::AUTH_NONE,
            Auth::Pass(_) => packet::AUTH_PASS,
            Auth::Ah(_) => packet::AUTH_AH,
        }
    }
    pub fn is_ah(&self) -> bool {
        matches!(self, Auth::Ah(_))
    }
}

/// keepalived's resolution: the instance's value, else the global one (whose own default is
/// the `garp_master_*` global); strict mode forces no burst and no advert in answer.
fn lower_prio(
    inst: &VrrpInstance,
    global: &GlobalDefs,
    strict: bool,
    warnings: &mut Vec<String>,
) -> LowerPrio {
    let mut strict_clear = |what: &str| {
        warnings.push(format!("strict mode requires {what}: ignored"));
    };
    let garp_repeat = match inst.garp_lower_prio_repeat {
        Some(n) if strict && n != 0 => {
            strict_clear("garp_lower_prio_repeat 0");
            0
        }
        Some(n) => n,
        None if strict => 0,
        None => global
            .vrrp_garp_lower_prio_repeat
            .unwrap_or(global.vrrp_garp_master_repeat),
    };
    let garp_delay = match inst.garp_lower_prio_delay {
        Some(d) if strict && !d.is_zero() => {
            strict_clear("garp_lower_prio_delay 0");
            Duration::ZERO
        }
        Some(d) => d,
        None if strict => Duration::ZERO,
        None => global
            .vrrp_garp_lower_prio_delay
            .unwrap_or(global.vrrp_garp_master_delay),
    };
    let no_advert = match inst.lower_prio_no_advert {
        Some(false) if strict => {
            strict_clear("lower_prio_no_advert");
            true
        }
        Some(v) => v,
        None => strict || global.vrrp_lower_prio_no_advert,
    };
    LowerPrio {
        no_advert,
        garp_repeat,
        garp_delay,
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParamsError {
    #[error("{instance}: track_script {script} names no vrrp_script")]
    UnknownScript { instance: String, script: String },
    #[error("{instance}: virtual_router_id 0 is invalid (1..255)")]
    Vrid0 { instance: String },
    #[error("{instance}: priority 0 is invalid (1..255)")]
    Priority0 { instance: String },
    #[error("{instance}: VRRP version {version} is invalid (2 or 3)")]
    BadVersion { instance: String, version: u8 },
    #[error("{instance}: virtual address {addr} is not of the instance's address family")]
    MixedFamily { instance: String, addr: IpAddr },
}

/// What `vrrp_strict` / `strict_mode` changes in an instance's accept mode, as keepalived
/// 2.2.7's vrrp_complete_instance: off by default (on for the address owner), never on for
/// VRRPv2. (The state and authentication fix-ups were made when the file was loaded:
/// `config::mend_vrrp`.)
fn strict_accept(
    inst: &VrrpInstance,
    strict: bool,
    version: Version,
    warnings: &mut Vec<String>,
) -> bool {
    let owner = inst.priority == 255;
    if strict && inst.preempt_delay.is_some_and(|d| !d.is_zero()) {
        warnings.push("preempt_delay is incompatible with strict mode: reset".to_string());
    }
    let accept = inst.accept.unwrap_or(owner || !strict);
    if accept && !owner && strict && version == Version::V2 {
        warnings.push(
            "accept mode for VRRP version 2 does not comply with RFC 3768 in strict mode: \
             reset (no_accept)"
                .to_string(),
        );
        return false;
    }
    accept
}

/// Adds the `track_file` / `track_process` entries of each instance and of its sync group
/// to its parameters (names were checked when the configuration was loaded; one that is
/// not defined is skipped). As keepalived, an entry in both the instance and its group
/// takes the group's weight unless the instance's is 0 (for a process, the instance's
/// `reverse` stays).
/// The multicast group the adverts of `inst` go to: its `mcast_dst_ip` when of the
/// family, else `vrrp_mcast_group4/6`, else 224.0.0.18 / ff02::12.
pub fn mcast_group(global: &GlobalDefs, inst: &VrrpInstance, v6: bool) -> IpAddr {
    if let Some(g) = inst.mcast_dst_ip.filter(|g| g.is_ipv6() == v6) {
        return g;
    }
    if v6 {
        global
            .vrrp_mcast_group6
            .filter(|a| a.is_ipv6())
            .unwrap_or(IpAddr::V6(packet::MCAST_V6))
    } else {
        global
            .vrrp_mcast_group4
            .filter(|a| a.is_ipv4())
            .unwrap_or(IpAddr::V4(packet::MCAST_V4))
    }
}

pub fn resolve_files_and_processes(params: &mut [InstanceParams], config: &Config) {
    let file = |r: &TrackRef| {
        let d = config.track_files.iter().find(|d| d.name == r.name)?;
        Some(TrackedFile {
            name: d.name.clone(),
            weight: r.weight.unwrap_or(d.weight),
            reverse: r.reverse.unwrap_or(d.weight_reverse),
        })
    };
    let process = |r: &TrackRef| {
        let d = config.track_processes.iter().find(|d| d.name == r.name)?;
        Some(TrackedProcess {
            name: d.name.clone(),
            weight: r.weight.unwrap_or(d.weight),
            reverse: r.reverse.unwrap_or(d.weight_reverse),
            quorum: d.quorum,
            quorum_max: d.quorum_max,
        })
    };
    for p in params.iter_mut() {
        let Some(inst) = config.instances.iter().find(|i| i.name == p.name) else {
            continue;
        };
        p.track_files = inst.track_file.iter().filter_map(file).collect();
        p.track_processes = inst.track_process.iter().filter_map(process).collect();
        let Some(g) = config
            .sync_groups
            .iter()
            .find(|g| g.members.contains(&p.name))
        else {
            continue;
        };
        for f in g.track_file.iter().filter_map(file) {
            match p.track_files.iter_mut().find(|x| x.name == f.name) {
                Some(x) if x.weight != 0 => *x = f,
                Some(_) => {}
                None => p.track_files.push(f),
            }
        }
        for t in g.track_process.iter().filter_map(process) {
            match p.track_processes.iter_mut().find(|x| x.name == t.name) {
                Some(x) if x.weight != 0 => x.weight = t.weight,
                Some(_) => {}
                None => p.track_processes.push(t),
            }
        }
    }
}

/// Which interface an address of an instance goes on, as keepalived 2.2.7 decides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VipPlace<'a> {
    /// The instance's interface: its VMAC with `use_vmac`.
    Own,
    /// The configured interface under the instance's VMAC: an address of the other family
    /// without `dev` (or with `dev` the configured interface).
    Base,
    /// Another interface, named by `dev`.
    Dev(&'a str),
}

/// Where `v` goes: without `dev`, or with `dev` the configured interface, the instance's
/// own interface (with `use_vmac` its VMAC, for an address of the instance's family, else
/// the configured interface under it); else the named interface.
pub fn vip_place<'a>(inst: &VrrpInstance, v: &'a VirtualIp) -> VipPlace<'a> {
    vip_place_in(&inst.interface, inst.use_vmac.is_some(), inst.is_ipv6(), v)
}

/// [`vip_place`] for an instance on `interface`, with a vmac or not, of IPv6 or not.
pub fn vip_place_in<'a>(interface: &str, vmac: bool, ipv6: bool, v: &'a VirtualIp) -> VipPlace<'a> {
    match v.dev.as_deref() {
        Some(d) if d != interface => VipPlace::Dev(d),
        _ if !vmac => VipPlace::Own,
        _ if v.addr.is_ipv6() == ipv6 => VipPlace::Own,
        _ => VipPlace::Base,
    }
}

/// keepalived 2.2.7's `garp_extra_if` (the instance's, else the global
/// `vrrp_garp_extra_if`): on only with a non-zero interval and an address on another
/// interface than the instance's (see [`vip_place`]). Without `all` keepalived sends
/// only on the VMACs it makes for addresses (the address option `use_vmac`), which lvsd
/// does not make: off.
pub fn extra_if_garp(inst: &VrrpInstance, global: &GlobalDefs) -> Option<Duration> {
    let x = inst.garp_extra_if.or(global.vrrp_garp_extra_if)?;
    let elsewhere = inst.all_vips().any(|v| vip_place(inst, v) != VipPlace::Own);
    (x.all && x.interval_secs > 0 && elsewhere)
        .then(|| Duration::from_secs(u64::from(x.interval_secs)))
}

/// The interfaces an instance tracks through what it installs, in keepalived 2.2.7's order
/// (`vrrp_complete_instance`, each `add_vrrp_to_interface` with weight 0): the interface
/// of each address and excluded address (see [`vip_place`]; `vmac`: the instance's vmac),
/// then each virtual route's `dev`, then each virtual rule's `iif` and
/// `oif`. An entry with `no_track` adds nothing; with `dont_track_primary`, neither does
/// an address on the instance's own interface or vmac. Each interface once.
pub fn address_interfaces(inst: &VrrpInstance, vmac: Option<&str>) -> Vec<String> {
    let own = inst.interface.as_str();
    let vip_default = vmac.unwrap_or(own);
    let vips = inst.all_vips().filter(|v| !v.no_track).filter_map(|v| {
        let dev = match vip_place_in(own, vmac.is_some(), inst.is_ipv6(), v) {
            VipPlace::Own => vip_default,
            VipPlace::Base => own,
            VipPlace::Dev(d) => d,
        };
        let primary = dev == own || dev == vip_default;
        (!(inst.dont_track_primary && primary)).then_some(dev)
    });
    let routes = inst
        .virtual_routes
        .iter()
        .filter(|r| !r.no_track)
        .filter_map(|r| r.dev.as_deref());
    let rules = inst
        .virtual_rules
        .iter()
        .filter(|r| !r.no_track)
        .flat_map(|r| [r.iif.as_deref(), r.oif.as_deref()].into_iter().flatten());
    let mut out: Vec<String> = Vec::new();
    for dev in vips.chain(routes).chain(rules) {
        if !out.iter().any(|d| d == dev) {
            out.push(dev.to_string());
        }
    }
    out
}

/// The settings a sync group gives its members when they do not set them: as keepalived,
/// `notify_priority_changes` is the instance's, else its sync group's, else the global
/// `vrrp_notify_priority_changes`.
pub fn apply_sync_group_defaults(params: &mut [InstanceParams], config: &Config) {
    for p in params.iter_mut() {
        let Some(inst) = config.instances.iter().find(|i| i.name == p.name) else {
            continue;
        };
        if inst.notify_priority_changes.is_some() {
            continue;
        }
        let group = config
            .sync_groups
            .iter()
            .find(|g| g.members.contains(&p.name));
        if let Some(b) = group.and_then(|g| g.notify_priority_changes) {
            p.notify_priority_changes = b;
        }
    }
}

impl InstanceParams {
    /// The interfaces whose link the instance follows because an address, route or rule
    /// of it is there: [`InstanceParams::address_interfaces`] but its own vmac, which
    /// lvsd makes and whose link is the interface's under it (tracked already).
    pub fn links_of_addresses(&self) -> impl Iterator<Item = &str> {
        self.address_interfaces
            .iter()
            .map(String::as_str)
            .filter(|n| Some(*n) != self.use_vmac.as_deref())
    }

    /// `unicast_fault_no_peer` with no unicast peer: the instance stays in FAULT.
    pub fn no_peer_fault(&self) -> bool {
        self.unicast_fault_no_peer && self.unicast_peers.is_empty()
    }

    /// Resolves an instance against the global settings and the `vrrp_script`s.
    pub fn from_config(
        inst: &VrrpInstance,
        global: &GlobalDefs,
        scripts: &[VrrpScript],
    ) -> Result<InstanceParams, ParamsError> {
        let name = inst.name.clone();
        let mut warnings = Vec::new();
        if inst.virtual_router_id == 0 {
            return Err(ParamsError::Vrid0 { instance: name });
        }
        if inst.priority == 0 {
            return Err(ParamsError::Priority0 { instance: name });
        }
        let family = if inst.is_ipv6() {
            Family::V6
        } else {
            Family::V4
        };
        for v in &inst.virtual_ipaddress {
            if Family::of(&v.addr) != family {
                return Err(ParamsError::MixedFamily {
                    instance: name,
                    addr: v.addr,
                });
            }
        }
        let mut version = match inst.effective_version(global) {
            2 => Version::V2,
            3 => Version::V3,
            v => {
                return Err(ParamsError::BadVersion {
                    instance: name,
                    version: v,
                })
            }
        };
        if version == Version::V2 && family == Family::V6 {
            warnings.push("VRRPv2 has no IPv6: using version 3".to_string());
            version = Version::V3;
        }
        let (advert_cs, exact) =
            crate::config::model::advert_interval_cs(version.number(), inst.advert_int);
        if !exact {
            warnings.push(match version {
                Version::V2 => format!(
                    "VRRPv2 advert_int must be whole seconds: using {} s",
                    advert_cs / 100
                ),
                Version::V3 => format!("advert_int out of range: using {advert_cs} cs"),
            });
        }
        let strict = inst.strict_mode.unwrap_or(global.vrrp_strict);
        // (Authentication that keepalived ignores was dropped when the file was loaded:
        // config::mend_vrrp; VRRPv3 never sends it.)
        let auth = match (&inst.authentication, version) {
            (Some(a), Version::V2) => {
                let data = packet::pass_auth_data(&a.auth_pass);
                match a.auth_type {
                    AuthType::Pass => Auth::Pass(data),
                    AuthType::Ah => Auth::Ah(data),
                }
            }
            _ => Auth::None,
        };
        let accept = strict_accept(inst, strict, version, &mut warnings);
        let nopreempt = inst.nopreempt;
        let preempt_delay = match inst.preempt_delay {
            Some(d) if !strict => d,
            _ => Duration::ZERO,
        };
        let mut track_scripts = Vec::new();
        for t in &inst.track_script {
            let Some(s) = scripts.iter().find(|s| s.name == t.name) else {
                return Err(ParamsError::UnknownScript {
                    instance: name,
                    script: t.name.clone(),
                });
            };
            track_scripts.push(TrackedScript {
                name: s.name.clone(),
                weight: t.weight.unwrap_or(s.weight),
                reverse: t.reverse.unwrap_or(s.weight_reverse),
                rise: s.rise.max(1),
                fall: s.fall.max(1),
                init_fail: s.init_fail,
            });
        }
        let mut track_interfaces = Vec::new();
        if !inst.dont_track_primary {
            track_interfaces.push(TrackedInterface {
                name: inst.interface.clone(),
                weight: None,
                reverse: false,
            });
        }
        for t in &inst.track_interface {
            track_interfaces.push(TrackedInterface {
                name: t.name.clone(),
                weight: t.weight.filter(|w| *w != 0),
                reverse: t.reverse.unwrap_or(false),
            });
        }
        let use_vmac = inst.use_vmac.as_ref().map(|n| {
            if n.is_empty() {
                // A vmac without a name is `vmac_prefix.VRID` (keepalived: vrrp.VRID).
                crate::vrrp::vmac::default_name(
                    global.vmac_prefix.as_deref(),
                    inst.virtual_router_id,
                )
            } else {
                n.clone()
            }
        });
        let address_interfaces = address_interfaces(inst, use_vmac.as_deref());
        let mcast_group = mcast_group(global, inst, family == Family::V6);
        if let Some(g) = inst.mcast_dst_ip.filter(|g| Family::of(g) != family) {
            warnings.push(format!(
                "mcast_dst_ip {g} is not of the instance's address family (ignored)"
            ));
        }
        let unicast_ttl = match inst.unicast_ttl {
            Some(_) if inst.unicast_peers.is_empty() => {
                // keepalived 2.2.7 "resets" it to 0 and then sends its multicast adverts
                // with TTL 0, which every peer drops: lvsd keeps 255.
                warnings.push("unicast_ttl without unicast peers (ignored)".to_string());
                None
            }
            // Linux refuses an IP_TTL of 0 on a socket that does not build the IP header.
            Some(0) if family == Family::V4 => {
                warnings.push("unicast_ttl 0: IPv4 adverts are sent with TTL 1".to_string());
                Some(1)
            }
            t => t,
        };
        let src_ip = inst.unicast_src_ip.or(inst.mcast_src_ip);
        let checksum_form = if global.vrrp_v3_checksum_as_v2 {
            ChecksumForm::MessageOnly
        } else if inst.old_unicast_checksum == Some(OldUnicastChecksum::Always)
            && !inst.unicast_peers.is_empty()
        {
            ChecksumForm::OldUnicast(match global.vrrp_mcast_group4 {
                Some(IpAddr::V4(g)) => g,
                _ => packet::MCAST_V4,
            })
        } else {
            ChecksumForm::PseudoHeader
        };
        Ok(InstanceParams {
            unicast_ttl,
            unicast_fault_no_peer: inst.unicast_fault_no_peer,
            unicast_configured: inst.unicast_configured,
            track_src_ip: inst.track_src_ip && src_ip.is_some(),
            vrid: inst.virtual_router_id,
            version,
            family,
            interface: inst.interface.clone(),
            initial_state: inst.state,
            priority: inst.priority,
            advert_int: Duration::from_millis(u64::from(advert_cs) * 10),
            auth,
            vips: inst.virtual_ipaddress.clone(),
            excluded_vips: inst.virtual_ipaddress_excluded.clone(),
            nopreempt,
            preempt_delay,
            src_ip,
            unicast_peers: inst.unicast_peers.clone(),
            mcast_group,
            garp: GarpParams {
                delay: inst
                    .garp_master_delay
                    .unwrap_or(global.vrrp_garp_master_delay),
                repeat: inst
                    .garp_master_repeat
                    .unwrap_or(global.vrrp_garp_master_repeat),
                refresh: inst
                    .garp_master_refresh
                    .or(global.vrrp_garp_master_refresh)
                    .filter(|d| !d.is_zero()),
                refresh_repeat: inst
                    .garp_master_refresh_repeat
                    .unwrap_or(global.vrrp_garp_master_refresh_repeat),
            },
            garp_interval: global.garp_pacing(&inst.interface).0,
            gna_interval: global.garp_pacing(&inst.interface).1,
            lower_prio: lower_prio(inst, global, strict, &mut warnings),
            higher_prio_send_advert: match inst.higher_prio_send_advert {
                Some(true) if strict => {
                    warnings.push(
                        "strict mode requires higher_prio_send_advert to be clear: cleared"
                            .to_string(),
                    );
                    false
                }
                Some(v) => v,
                None => !strict && global.vrrp_higher_prio_send_advert,
            },
            startup_delay: global.vrrp_startup_delay.unwrap_or(Duration::ZERO),
            accept,
            dont_track_primary: inst.dont_track_primary,
            strict,
            skip_check_adv_addr: inst
                .skip_check_adv_addr
                .unwrap_or(global.vrrp_skip_check_adv_addr),
            kernel_rx_buf_size: inst.kernel_rx_buf_size,
            debug: inst.debug.unwrap_or(0),
            promote_secondaries: inst.promote_secondaries,
            down_timer_adverts: inst
                .down_timer_adverts
                .or(global.vrrp_down_timer_adverts)
                .unwrap_or(3),
            notify_priority_changes: inst
                .notify_priority_changes
                .unwrap_or(global.vrrp_notify_priority_changes),
            check_unicast_src: inst.check_unicast_src
                || global.vrrp_check_unicast_src
                || inst
                    .unicast_peers
                    .iter()
                    .any(|u| u.min_ttl.is_some() || u.max_ttl.is_some()),
            checksum_form,
            track_scripts,
            track_interfaces,
            address_interfaces,
            track_files: Vec::new(),
            track_processes: Vec::new(),
            notify: inst.notify.clone(),
            smtp_alert: inst.smtp_alert_enabled(global),
            use_vmac,
            vmac_xmit_base: inst.vmac_xmit_base,
            extra_if_garp: extra_if_garp(inst, global),
            warnings,
            name,
        })
    }

    /// What identifies "the same instance" across a reload (as keepalived matches them):
    /// VRID, family, interface and unicast or not.
    pub fn reload_key(&self) -> (u8, Family, &str, bool) {
        (self.vrid, self.family, &self.interface, self.is_unicast())
    }

    /// Our advert interval in centiseconds.
    pub fn advert_int_cs(&self) -> u16 {
        (self.advert_int.as_millis() / 10).min(u128::from(packet::MAX_V3_INTERVAL_CS)) as u16
    }

    /// Whether adverts go by unicast.
    pub fn is_unicast(&self) -> bool {
        !self.unicast_peers.is_empty()
    }

    /// Where adverts are sent: every unicast peer, or the multicast group.
    pub fn destinations(&self) -> Vec<IpAddr> {
        if self.is_unicast() {
            self.unicast_peers.iter().map(|p| p.addr).collect()
        } else {
            vec![self.mcast_group]
        }
    }

    /// The VIP addresses (the advert's address list), in config order.
    pub fn vip_addrs(&self) -> Vec<IpAddr> {
        self.vips.iter().map(|v| v.addr).collect()
    }

    /// The advert this instance sends at `priority`.
    /// The advert this instance sends at `priority`. With AH, `ah_seq` is the sequence
    /// number to send (ignored otherwise).
    pub fn advert(&self, priority: u8) -> Advert {
        self.advert_seq(priority, 0)
    }

    /// [`InstanceParams::advert`] with the AH sequence number to send.
    pub fn advert_seq(&self, priority: u8, ah_seq: u32) -> Advert {
        let v2 = self.version == Version::V2;
        let auth = if v2 { self.auth } else { Auth::None };
        Advert {
            version: self.version,
            vrid: self.vrid,
            priority,
            interval_cs: self.advert_int_cs(),
            auth_type: auth.auth_type(),
            auth_data: match auth {
                Auth::Pass(d) => d,
                Auth::None | Auth::Ah(_) => [0; 8],
            },
            addrs: self.vip_addrs(),
            ah: auth.is_ah().then(|| AhFields {
                seq: ah_seq,
                spi: 0,
                datagram: Vec::new(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::{Authentication, Span, TrackInterface, TrackScript, UnicastPeer};

    fn vip(s: &str) -> VirtualIp {
        VirtualIp {
            span: Span::default(),
            addr: s.parse().unwrap(),
            prefix_len: 24,
            brd: None,
            dev: None,
            scope: None,
            label: None,
            no_track: false,
            opts: Default::default(),
        }
    }

    fn inst() -> VrrpInstance {
        VrrpInstance {
            interface: "eth0".into(),
            virtual_router_id: 51,
            virtual_ipaddress: vec![vip("10.0.0.100")],
            ..VrrpInstance::new("VI_1".into(), Span::default())
        }
    }

    fn script(name: &str) -> VrrpScript {
        VrrpScript {
            span: Span::default(),
            name: name.into(),
            script: "/bin/true".into(),
            interval: Duration::from_secs(2),
            timeout: None,
            weight: -20,
            weight_reverse: false,
            rise: 3,
            fall: 0,
            user: None,
            init_fail: true,
        }
    }

    #[test]
    fn defaults_resolve_like_keepalived() {
        let g = GlobalDefs::default();
        let p = InstanceParams::from_config(&inst(), &g, &[]).unwrap();
        assert_eq!(p.version, Version::V2);
        assert_eq!(p.family, Family::V4);
        assert_eq!(p.advert_int_cs(), 100);
        assert_eq!(p.mcast_group, IpAddr::V4(packet::MCAST_V4));
        assert_eq!(
            p.garp,
            GarpParams {
                delay: Duration::from_secs(5),
                repeat: 5,
                refresh: None,
                refresh_repeat: 1
            }
        );
        assert!(p.accept);
        assert!(!p.strict);
        assert_eq!(p.checksum_form, ChecksumForm::PseudoHeader);
        assert_eq!(p.destinations(), vec![IpAddr::V4(packet::MCAST_V4)]);
        assert_eq!(
            p.track_interfaces,
            vec![TrackedInterface {
                name: "eth0".into(),
                weight: None,
                reverse: false
            }]
        );
        assert!(p.warnings.is_empty());
        let adv = p.advert(100);
        assert_eq!((adv.auth_type, adv.interval_cs, adv.vrid), (0, 100, 51));
    }

    #[test]
    fn globals_and_overrides() {
        let g = GlobalDefs {
            vrrp_version: 3,
            vrrp_strict: true,
            vrrp_v3_checksum_as_v2: true,
            vrrp_garp_master_refresh: Some(Duration::from_secs(60)),
            vrrp_skip_check_adv_addr: true,
            vrrp_mcast_group4: Some("224.0.0.19".parse().unwrap()),
            ..GlobalDefs::default()
        };
        let mut i = inst();
        i.garp_master_repeat = Some(2);
        i.advert_int = Duration::from_millis(250);
        i.unicast_src_ip = Some("10.0.0.1".parse().unwrap());
        i.unicast_peers = vec![UnicastPeer {
            addr: "10.0.0.2".parse().unwrap(),
            min_ttl: None,
            max_ttl: None,
        }];
        let p = InstanceParams::from_config(&i, &g, &[]).unwrap();
        assert_eq!(p.version, Version::V3);
        assert!(p.strict && !p.accept);
        assert_eq!(p.checksum_form, ChecksumForm::MessageOnly);
        assert_eq!(p.garp.repeat, 2);
        assert_eq!(p.garp.refresh, Some(Duration::from_secs(60)));
        assert!(p.skip_check_adv_addr);
        assert_eq!(p.advert_int_cs(), 25);
        assert_eq!(p.mcast_group, "224.0.0.19".parse::<IpAddr>().unwrap());
        assert_eq!(
            p.destinations(),
            vec!["10.0.0.2".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(p.src_ip, Some("10.0.0.1".parse().unwrap()));
    }

    #[test]
    fn unicast_keywords_as_keepalived() {
        let g = GlobalDefs::default();
        let peer = UnicastPeer {
            addr: "10.0.0.2".parse().unwrap(),
            min_ttl: None,
            max_ttl: None,
        };
        let mut i = inst();
        i.version = Some(3);
        i.unicast_ttl = Some(10);
        i.unicast_fault_no_peer = true;
        i.old_unicast_checksum = Some(OldUnicastChecksum::Always);
        i.mcast_dst_ip = Some("224.0.0.99".parse().unwrap());
        // Without peers: multicast to mcast_dst_ip, the TTL left alone, FAULT.
        let p = InstanceParams::from_config(&i, &g, &[]).unwrap();
        assert_eq!(
            p.destinations(),
            vec!["224.0.0.99".parse::<IpAddr>().unwrap()]
        );
        assert_eq!(p.unicast_ttl, None);
        assert!(p.no_peer_fault());
        assert_eq!(p.checksum_form, ChecksumForm::PseudoHeader);
        assert_eq!(
            p.warnings,
            vec!["unicast_ttl without unicast peers (ignored)"]
        );
        // With a peer: unicast with the TTL and the old checksum, no fault.
        i.unicast_peers = vec![peer];
        let p = InstanceParams::from_config(&i, &g, &[]).unwrap();
        assert_eq!(p.unicast_ttl, Some(10));
        assert!(!p.no_peer_fault());
        assert_eq!(p.checksum_form, ChecksumForm::OldUnicast(packet::MCAST_V4));
        i.old_unicast_checksum = Some(OldUnicastChecksum::Never);
        i.unicast_ttl = Some(0);
        let p = InstanceParams::from_config(&i, &g, &[]).unwrap();
        assert_eq!(p.checksum_form, ChecksumForm::PseudoHeader);
        assert_eq!(p.unicast_ttl, Some(1), "Linux sends no IPv4 TTL 0");
        // An IPv6 group on an IPv4 instance is ignored.
        i.mcast_dst_ip = Some("ff02::99".parse().unwrap());
        i.unicast_peers.clear();
        i.unicast_ttl = None;
        let p = InstanceParams::from_config(&i, &g, &[]).unwrap();
        assert_eq!(p.mcast_group, IpAddr::V4(packet::MCAST_V4));
        assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
    }

    #[test]
    fn track_src_ip_needs_a_configured_source() {
        let g = GlobalDefs::default();
        let mut i = inst();
        i.track_src_ip = true;
        assert!(
            !InstanceParams::from_config(&i, &g, &[])
                .unwrap()
                .track_src_ip
        );
        i.mcast_src_ip = Some("10.0.0.5".parse().unwrap());
        assert!(
            InstanceParams::from_config(&i, &g, &[])
                .unwrap()
                .track_src_ip
        );
    }

    #[test]
    fn check_unicast_src_as_keepalived_turns_it_on() {
        let peer = |min_ttl| UnicastPeer {
            addr: "10.0.0.2".parse().unwrap(),
            min_ttl,
            max_ttl: None,
        };
        let g = GlobalDefs::default();
        let mut i = inst();
        i.unicast_peers = vec![peer(None)];
        let on = |i: &VrrpInstance, g: &GlobalDefs| {
            InstanceParams::from_config(i, g, &[])
                .unwrap()
                .check_unicast_src
        };
        assert!(!on(&i, &g), "off by default");
        let g_on = GlobalDefs {
            vrrp_check_unicast_src: true,
            ..GlobalDefs::default()
        };
        assert!(on(&i, &g_on), "the global setting");
        i.check_unicast_src = true;
        assert!(on(&i, &g), "the instance's");
        i.check_unicast_src = false;
        i.unicast_peers = vec![peer(None), peer(Some(200))];
        assert!(on(&i, &g), "a peer's min_ttl");
    }

    /// The first instance of `text` as loaded (fix-ups of config::mend_vrrp applied),
    /// resolved, with the load's warnings as `line: message`.
    fn loaded(text: &str) -> (InstanceParams, Vec<String>) {
        let l = crate::config::parse_str(text, std::path::Path::new("k.conf"), "")
            .unwrap_or_else(|e| panic!("{e}"));
        let c = &l.config;
        let p = InstanceParams::from_config(&c.instances[0], &c.global, &c.vrrp_scripts)
            .unwrap_or_else(|e| panic!("{e}"));
        let w = l
            .warnings
            .iter()
            .map(|d| format!("{}: {}", d.span.line, d.message))
            .collect();
        (p, w)
    }

    #[test]
    fn addresses_routes_and_rules_name_the_interfaces_they_track() {
        let conf = |extra: &str| {
            format!(
                "vrrp_instance A {{\n interface eth0\n virtual_router_id 7\n{extra}\
                 virtual_ipaddress {{\n 10.0.0.1/24\n 10.1.0.1/24 dev eth1\n \
                 10.2.0.1/24 dev eth2 no_track\n 10.3.0.1/24 dev eth0\n }}\n\
                 virtual_ipaddress_excluded {{\n 10.4.0.1/24 dev eth3\n }}\n\
                 virtual_routes {{\n 10.5.0.0/16 dev eth4\n 10.6.0.0/16 dev eth5 no_track\n \
                 10.7.0.0/16 via 10.0.0.254\n 10.8.0.0/16 dev eth1\n }}\n\
                 virtual_rules {{\n from 10.9.0.0/16 table 9 iif eth6 oif eth7\n \
                 from 10.10.0.0/16 table 9 iif eth8 no_track\n }}\n}}\n"
            )
        };
        let (p, _) = loaded(&conf(""));
        assert_eq!(
            p.address_interfaces,
            ["eth0", "eth1", "eth3", "eth4", "eth6", "eth7"]
        );
        // dont_track_primary: the addresses on the instance's own interface add nothing,
        // a route on it would (keepalived applies the option to addresses alone).
        let (p, _) = loaded(&conf(" dont_track_primary\n"));
        assert_eq!(
            p.address_interfaces,
            ["eth1", "eth3", "eth4", "eth6", "eth7"]
        );
        // With a vmac, addresses without `dev`, or with the instance's interface, go on it.
        let (p, _) = loaded(&conf(" use_vmac vm1\n"));
        assert_eq!(
            p.address_interfaces,
            ["vm1", "eth1", "eth3", "eth4", "eth6", "eth7"]
        );
    }

    const STRICT_MASTER: &str = "global_defs {\n vrrp_strict\n}\n\
        vrrp_instance A {\n interface eth0\n state MASTER\n virtual_router_id 7\n\
         priority 100\n preempt_delay 3\n authentication {\n  auth_type PASS\n\
          auth_pass secret\n }\n virtual_ipaddress {\n  10.0.0.1\n }\n}\n";

    #[test]
    fn strict_mode_adjusts_like_keepalived() {
        let g = GlobalDefs {
            vrrp_strict: true,
            ..GlobalDefs::default()
        };
        // Not the owner: no_accept by default, state MASTER turned to BACKUP, no auth,
        // no preempt_delay; the load names the state and the authentication.
        let (p, w) = loaded(STRICT_MASTER);
        assert!(!p.accept);
        assert_eq!(p.initial_state, InitialState::Backup);
        assert_eq!(p.auth, Auth::None);
        assert_eq!(p.preempt_delay, Duration::ZERO);
        assert!(
            w.iter()
                .any(|w| w.starts_with("6: ") && w.contains("state BACKUP used")),
            "{w:?}"
        );
        assert!(
            w.iter().any(|w| w.starts_with("10: ")
                && w.contains("strict mode does not support authentication")),
            "{w:?}"
        );
        assert_eq!(p.warnings.len(), 1, "{:?}", p.warnings);
        // The owner accepts, and BACKUP becomes MASTER.
        let (p, _) = loaded(
            &STRICT_MASTER
                .replace("priority 100", "priority 255")
                .replace("state MASTER", "state BACKUP"),
        );
        assert!(p.accept);
        assert_eq!(p.initial_state, InitialState::Master);
        // `accept` is kept with VRRPv3, reset with VRRPv2.
        let mut i = inst();
        i.accept = Some(true);
        let p = InstanceParams::from_config(&i, &g, &[]).unwrap();
        assert!(!p.accept);
        i.version = Some(3);
        let p = InstanceParams::from_config(&i, &g, &[]).unwrap();
        assert!(p.accept);
        // Without strict mode, no_accept is kept and nothing else changes.
        let mut i = inst();
        i.accept = Some(false);
        i.state = InitialState::Master;
        let p = InstanceParams::from_config(&i, &GlobalDefs::default(), &[]).unwrap();
        assert!(!p.accept);
        assert_eq!(p.initial_state, InitialState::Master);
    }

    #[test]
    fn v2_rounds_fractional_interval_and_ipv6_forces_v3() {
        let g = GlobalDefs::default();
        let mut i = inst();
        i.advert_int = Duration::from_millis(1500);
        let p = InstanceParams::from_config(&i, &g, &[]).unwrap();
        assert_eq!(p.advert_int, Duration::from_secs(2));
        assert_eq!(p.warnings.len(), 1);
        let mut i = inst();
        i.virtual_ipaddress = vec![vip("fd00::100")];
        let p = InstanceParams::from_config(&i, &g, &[]).unwrap();
        assert_eq!((p.version, p.family), (Version::V3, Family::V6));
        assert_eq!(p.mcast_group, IpAddr::V6(packet::MCAST_V6));
    }

    #[test]
    fn auth_pass_and_ah() {
        let g = GlobalDefs::default();
        let mut i = inst();
        i.authentication = Some(Authentication {
            auth_type: AuthType::Pass,
            auth_pass: "longpassword".into(),
        });
        let p = InstanceParams::from_config(&i, &g, &[]).unwrap();
        assert_eq!(p.auth, Auth::Pass(*b"longpass"));
        assert_eq!(p.advert(100).auth_type, packet::AUTH_PASS);
        assert_eq!(p.advert(100).ah, None);
        i.version = Some(3);
        let p = InstanceParams::from_config(&i, &g, &[]).unwrap();
        assert_eq!(p.auth, Auth::None);
        i.version = None;
        i.authentication = Some(Authentication {
            auth_type: AuthType::Ah,
            auth_pass: "secret1".into(),
        });
        let p = InstanceParams::from_config(&i, &g, &[]).unwrap();
        assert_eq!(p.auth, Auth::Ah(*b"secret1\0"));
        let adv = p.advert_seq(100, 7);
        assert_eq!((adv.auth_type, adv.auth_data), (packet::AUTH_AH, [0; 8]));
        assert_eq!(adv.ah.map(|a| a.seq), Some(7));
        // keepalived ignores authentication with VRRPv3, in strict mode and without a
        // password: the load drops it and says so.
        let text = "vrrp_instance A {\n interface eth0\n virtual_router_id 7\n VERSION\n\
            authentication {\n  auth_type AH\n  PASS\n }\n virtual_ipaddress {\n  10.0.0.1\n }\n}\n";
        for (version, pass, why) in [
            (
                "version 3",
                "auth_pass secret1",
                "VRRP version 3 does not support authentication",
            ),
            (
                "strict_mode",
                "auth_pass secret1",
                "strict mode does not support authentication",
            ),
            ("version 2", "", "authentication without auth_pass"),
        ] {
            let (p, w) = loaded(&text.replace("VERSION", version).replace("PASS", pass));
            assert_eq!((p.auth, p.advert(100).ah), (Auth::None, None), "{version}");
            assert!(
                w.iter().any(|w| w.starts_with("5: ") && w.contains(why)),
                "{w:?}"
            );
        }
    }

    #[test]
    fn a_vmac_without_a_name_gets_keepalived_s() {
        let mut g = GlobalDefs::default();
        let mut i = inst();
        i.use_vmac = Some(String::new());
        let p = InstanceParams::from_config(&i, &g, &[]).unwrap();
        assert_eq!(p.use_vmac.as_deref(), Some("vrrp.51"));
        g.vmac_prefix = Some("vm".into());
        let p = InstanceParams::from_config(&i, &g, &[]).unwrap();
        assert_eq!(p.use_vmac.as_deref(), Some("vm.51"));
        i.use_vmac = Some("vmac1".into());
        let p = InstanceParams::from_config(&i, &g, &[]).unwrap();
        assert_eq!(p.use_vmac.as_deref(), Some("vmac1"));
    }

    #[test]
    fn tracking_resolution() {
        let g = GlobalDefs::default();
        let mut i = inst();
        i.track_script = vec![
            TrackScript {
                span: Span::default(),
                name: "chk".into(),
                weight: None,
                reverse: None,
            },
            TrackScript {
                span: Span::default(),
                name: "chk2".into(),
                weight: Some(10),
                reverse: Some(true),
            },
        ];
        i.track_interface = vec![TrackInterface {
            span: Span::default(),
            name: "eth1".into(),
            weight: Some(-50),
            reverse: None,
        }];
        let p = InstanceParams::from_config(&i, &g, &[script("chk"), script("chk2")]).unwrap();
        assert_eq!(p.track_scripts[0].weight, -20);
        assert_eq!(p.track_scripts[0].rise, 3);
        assert_eq!(p.track_scripts[0].fall, 1, "fall 0 is treated as 1");
        assert!(p.track_scripts[0].init_fail);
        assert_eq!(
            (p.track_scripts[1].weight, p.track_scripts[1].reverse),
            (10, true)
        );
        // The own interface (FAULT when down), then the tracked one with its weight.
        assert_eq!(p.track_interfaces.len(), 2);
        assert_eq!(p.track_interfaces[0].weight, None);
        assert_eq!(p.track_interfaces[1].weight, Some(-50));
        let e = InstanceParams::from_config(&i, &g, &[script("chk")]).unwrap_err();
        assert!(matches!(e, ParamsError::UnknownScript { .. }));
        i.dont_track_primary = true;
        i.track_interface.clear();
        let p = InstanceParams::from_config(&i, &g, &[script("chk"), script("chk2")]).unwrap();
        assert!(p.track_interfaces.is_empty());
    }

    #[test]
    fn nopreempt_needs_state_backup() {
        let text = "vrrp_instance A {\n interface eth0\n virtual_router_id 7\n STATE\n\
            nopreempt\n preempt_delay 30\n virtual_ipaddress {\n  10.0.0.1\n }\n}\n";
        let (p, w) = loaded(&text.replace("STATE", "state BACKUP"));
        assert!(p.nopreempt);
        assert_eq!(p.preempt_delay, Duration::from_secs(30));
        assert!(w.is_empty(), "{w:?}");
        let (p, w) = loaded(&text.replace("STATE", "state MASTER"));
        assert!(!p.nopreempt);
        assert_eq!(p.preempt_delay, Duration::ZERO);
        assert!(
            w.iter()
                .any(|w| w.starts_with("5: ") && w.contains("nopreempt")),
            "{w:?}"
        );
        assert!(
            w.iter()
                .any(|w| w.starts_with("6: ") && w.contains("preempt_delay")),
            "{w:?}"
        );
        // keepalived clears nopreempt for the address owner too.
        let (p, w) = loaded(&text.replace("STATE", "priority 255"));
        assert!(!p.nopreempt);
        assert!(
            w.iter()
                .any(|w| w.starts_with("5: ") && w.contains("priority 255")),
            "{w:?}"
        );
    }

    #[test]
    fn invalid_values_are_errors() {
        let g = GlobalDefs::default();
        let mut i = inst();
        i.virtual_router_id = 0;
        assert!(InstanceParams::from_config(&i, &g, &[]).is_err());
        let mut i = inst();
        i.virtual_ipaddress.push(vip("fd00::1"));
        assert!(matches!(
            InstanceParams::from_config(&i, &g, &[]),
            Err(ParamsError::MixedFamily { .. })
        ));
        let mut i = inst();
        i.version = Some(4);
        assert!(InstanceParams::from_config(&i, &g, &[]).is_err());
    }

    #[test]
    fn lower_and_higher_prio_options_resolve_like_keepalived() {
        // Defaults: the lower-priority burst follows the global garp_master_* values (not
        // the instance's), answered with an advert; no advert before yielding.
        let mut g = GlobalDefs {
            vrrp_garp_master_repeat: 3,
            ..GlobalDefs::default()
        };
        let mut i = inst();
        i.garp_master_repeat = Some(7);
        i.garp_master_delay = Some(Duration::from_secs(9));
        let p = InstanceParams::from_config(&i, &g, &[]).unwrap();
        assert_eq!(
            p.lower_prio,
            LowerPrio {
                no_advert: false,
                garp_repeat: 3,
                garp_delay: Duration::from_secs(5),
            }
        );
        assert!(!p.higher_prio_send_advert);
        // Global values, then the instance's over them.
        g.vrrp_garp_lower_prio_repeat = Some(2);
        g.vrrp_garp_lower_prio_delay = Some(Duration::from_secs(1));
        g.vrrp_lower_prio_no_advert = true;
        g.vrrp_higher_prio_send_advert = true;
        g.vrrp_garp_interval = Duration::from_millis(10);
        g.vrrp_startup_delay = Some(Duration::from_secs(4));
        let p = InstanceParams::from_config(&i, &g, &[]).unwrap();
        assert_eq!(
            (p.lower_prio.garp_repeat, p.lower_prio.no_advert),
            (2, true)
        );
        assert!(p.higher_prio_send_advert);
        assert_eq!(p.garp_interval, Duration::from_millis(10));
        assert_eq!(p.startup_delay, Duration::from_secs(4));
        i.garp_lower_prio_repeat = Some(0);
        i.lower_prio_no_advert = Some(false);
        i.higher_prio_send_advert = Some(false);
        let p = InstanceParams::from_config(&i, &g, &[]).unwrap();
        assert_eq!(
            (p.lower_prio.garp_repeat, p.lower_prio.no_advert),
            (0, false)
        );
        assert!(!p.higher_prio_send_advert);
        // Strict mode: no burst, no answer, no advert before yielding (warned when written).
        i.strict_mode = Some(true);
        i.garp_lower_prio_repeat = None;
        let p = InstanceParams::from_config(&i, &g, &[]).unwrap();
        assert_eq!(
            p.lower_prio,
            LowerPrio {
                no_advert: true,
                garp_repeat: 0,
                garp_delay: Duration::ZERO,
            }
        );
        assert!(!p.higher_prio_send_advert);
        assert!(p
            .warnings
            .iter()
            .any(|w| w.contains("lower_prio_no_advert")));
    }
}
