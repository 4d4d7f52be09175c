//! The VRRP side's dump files in keepalived 2.2.7's layouts, free of I/O: the runtime
//! gathers a [`View`] of each instance and these functions format it.
//!
//! * `keepalived.data` (SIGUSR1): [`data`] — the instance blocks of "VRRP Topology",
//!   "VRRP Sockpool", "VRRP Sync groups", "VRRP Scripts" (keepalived's `dump_vrrp` and
//!   friends, same labels, indentation and value formats);
//! * `keepalived.stats` (SIGUSR2): [`stats`];
//! * `keepalived.json` (JSON signal): [`json`], keepalived's keys in keepalived's order.
//!
//! Exporters parse these: mehdy/keepalived-exporter the text, gen2brain/keepalived_exporter
//! the JSON.

use crate::config::VrrpScript;
use crate::vrrp::packet::{DropReason, Family, RxStats, Version};
use crate::vrrp::state::{Instance, State};
use crate::vrrp::sync_group::Group;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// keepalived's per-instance counters (`vrrp_stats`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    pub advert_rcvd: u64,
    pub advert_sent: u64,
    pub become_master: u64,
    pub release_master: u64,
    pub packet_len_err: u64,
    pub advert_interval_err: u64,
    pub ip_ttl_err: u64,
    pub invalid_type_rcvd: u64,
    pub addr_list_err: u64,
    pub invalid_authtype: u64,
    pub authtype_mismatch: u64,
    pub auth_failure: u64,
    pub pri_zero_rcvd: u64,
    pub pri_zero_sent: u64,
}

impl Counters {
    /// keepalived's per-instance drop and priority-0 counters, by its JSON names.
    pub fn drop_fields(&self) -> [(&'static str, u64); 10] {
        [
            ("packet_len_err", self.packet_len_err),
            ("advert_interval_err", self.advert_interval_err),
            ("ip_ttl_err", self.ip_ttl_err),
            ("invalid_type_rcvd", self.invalid_type_rcvd),
            ("addr_list_err", self.addr_list_err),
            ("invalid_authtype", self.invalid_authtype),
            ("authtype_mismatch", self.authtype_mismatch),
            ("auth_failure", self.auth_failure),
            ("pri_zero_rcvd", self.pri_zero_rcvd),
            ("pri_zero_sent", self.pri_zero_sent),
        ]
    }

    /// Counts a packet dropped for `reason` in keepalived's counter for it (drops keepalived
    /// does not count per instance are left out).
    pub fn count_drop(&mut self, reason: DropReason, n: u64) {
        let c = match reason {
            DropReason::Length => &mut self.packet_len_err,
            DropReason::Ttl => &mut self.ip_ttl_err,
            DropReason::Type => &mut self.invalid_type_rcvd,
            DropReason::IntervalMismatch => &mut self.advert_interval_err,
            DropReason::AddrMismatch => &mut self.addr_list_err,
            DropReason::AuthType => &mut self.authtype_mismatch,
            DropReason::AuthPass | DropReason::AuthAh => &mut self.auth_failure,
            _ => return,
        };
        *c = c.saturating_add(n);
    }

    /// `own` (the runtime's counters) plus what the state machine counted since `base`.
    pub fn combine(own: &Counters, rx: &RxStats, base: &RxStats) -> Counters {
        let mut c = own.clone();
        c.advert_rcvd = c
            .advert_rcvd
            .saturating_add(rx.accepted.saturating_sub(base.accepted));
        for (reason, n) in rx.iter() {
            c.count_drop(reason, n.saturating_sub(base.get(reason)));
        }
        c
    }
}

/// What the runtime knows of one instance besides its state machine.
#[derive(Debug, Clone)]
pub struct View<'a> {
    pub inst: &'a Instance,
    pub sync_group: Option<&'a str>,
    /// When it last changed state (its start before any change).
    pub last_transition: SystemTime,
    /// Its next timer, as a wall-clock time.
    pub read_timeout: Option<SystemTime>,
    /// Its next `garp_extra_if` round, as a wall-clock time.
    pub extra_if_garp_next: Option<SystemTime>,
    /// The source address of its adverts.
    pub src_ip: Option<IpAddr>,
    /// Receive and send socket descriptors.
    pub fds: Option<(i32, i32)>,
    /// The receive buffer lvsd asked for on its socket (0: the kernel's default).
    pub rx_buf: u32,
    /// The index and name of the interface its receive socket is bound to.
    pub rx_if: Option<(u32, String)>,
    /// Whether its virtual addresses are on the interface (MASTER).
    pub vipset: bool,
    pub counters: Counters,
    /// Its `virtual_routes` and `virtual_rules`.
    pub routes: &'a [crate::config::model::Route],
    pub rules: &'a [crate::config::model::Rule],
}

/// What keepalived 2.2.7 shows as the master of a BACKUP instance that has heard none:
/// the address it formatted last (its `inet_sockaddrtos` keeps one buffer), which is the
/// global IPv6 multicast group for the first instance, and for a later one the previous
/// instance's last address shown (its multicast group, or its last unicast peer).
fn unheard_master(views: &[View], i: usize, mcast_group6: Option<IpAddr>) -> String {
    let Some(prev) = i.checked_sub(1).and_then(|j| views.get(j)) else {
        return mcast_group6.map_or_else(|| "ff02::12".to_string(), |a| a.to_string());
    };
    let p = prev.inst.params();
    match p.unicast_peers.last() {
        Some(peer) if p.is_unicast() => peer.addr.to_string(),
        _ => p.mcast_group.to_string(),
    }
}

/// The configuration's `static_ipaddress`, `static_routes` and `static_rules`, for the
/// sections keepalived writes before the topology.
#[derive(Debug, Clone, Copy, Default)]
pub struct Statics<'a> {
    pub addresses: &'a [crate::config::model::VirtualIp],
    pub routes: &'a [crate::config::model::Route],
    pub rules: &'a [crate::config::model::Rule],
    /// The global `vrrp_mcast_group6` (see [`unheard_master`]).
    pub mcast_group6: Option<IpAddr>,
    /// Whether keepalived would follow the routes of each family (IPv4, IPv6) in the
    /// kernel's reports: only when some instance has a virtual route it follows.
    pub routes_followed: [bool; 2],
}

/// keepalived's state names (`get_state_str`): STOP has none.
fn state_str(s: State) -> &'static str {
    match s {
        State::Init => "INIT",
        State::Backup => "BACKUP",
        State::Master => "MASTER",
        State::Fault => "FAULT",
        State::Stop => "unknown",
    }
}

/// keepalived's state numbers (VRRP_STATE_*).
fn state_num(s: State) -> u32 {
    match s {
        State::Init => 0,
        State::Backup => 1,
        State::Master => 2,
        State::Fault => 3,
        State::Stop => 98,
    }
}

/// `secs.usecs (Sat Dec  5 23:18:13.872263 2026)` in local time, as keepalived writes times.
pub fn time_str(t: SystemTime) -> String {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = d.as_secs();
    let us = d.subsec_micros();
    format!("{secs}.{us:06} ({})", ctime_us(secs, us))
}

fn ctime_us(secs: u64, us: u32) -> String {
    let t = libc::time_t::try_from(secs).unwrap_or(0);
    // SAFETY: localtime_r writes only into `tm`, which we own.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    if unsafe { libc::localtime_r(&t, &mut tm) }.is_null() {
        return "invalid time".into();
    }
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let day = usize::try_from(tm.tm_wday).ok().and_then(|i| DAYS.get(i));
    let mon = usize::try_from(tm.tm_mon).ok().and_then(|i| MONTHS.get(i));
    format!(
        "{} {} {:>2} {:02}:{:02}:{:02}.{us:06} {}",
        day.unwrap_or(&"???"),
        mon.unwrap_or(&"???"),
        tm.tm_mday,
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec,
        i64::from(tm.tm_year) + 1900
    )
}

/// A virtual address as keepalived formats it: `10.66.0.100/24 dev eth0 scope global set`.
/// The device keepalived names for a VIP: where it goes ([`vip_place_in`]), a vmac with
/// its base interface (`vrrp.51@eth0`).
fn vip_dev(p: &crate::vrrp::params::InstanceParams, v: &crate::config::model::VirtualIp) -> String {
    use crate::vrrp::params::{vip_place_in, VipPlace};
    match vip_place_in(
        &p.interface,
        p.use_vmac.is_some(),
        p.family == Family::V6,
        v,
    ) {
        VipPlace::Dev(d) => d.to_string(),
        VipPlace::Base => p.interface.clone(),
        VipPlace::Own => match &p.use_vmac {
            Some(vmac) => format!("{vmac}@{}", p.interface),
            None => p.interface.clone(),
        },
    }
}

/// `set`: the VIP is on its interface; then with `drops` (not in accept mode) keepalived
/// also has it in its nftables set (" nftable_set").
fn vip_line(
    p: &crate::vrrp::params::InstanceParams,
    v: &crate::config::model::VirtualIp,
    set: bool,
) -> String {
    let mut s = vip_str(v, &vip_dev(p, v), set);
    if set && crate::vrrp::firewall::drops(p) {
        s.push_str(" nftable_set");
    }
    s
}

fn vip_str(v: &crate::config::model::VirtualIp, dev: &str, set: bool) -> String {
    let full = if v.addr.is_ipv4() { 32 } else { 128 };
    let mut s = v.addr.to_string();
    if v.prefix_len != full {
        let _ = write!(s, "/{}", v.prefix_len);
    }
    if let Some(b) = v.brd {
        let _ = write!(s, " brd {b}");
    }
    let _ = write!(
        s,
        " dev {dev} scope {}",
        v.scope.as_deref().unwrap_or("global")
    );
    if let Some(l) = &v.label {
        let _ = write!(s, " label {l}");
    }
    let o = &v.opts;
    if let Some(p) = o.peer {
        let _ = write!(s, " peer {p}/{}", v.prefix_len);
    }
    for (word, on) in [
        (" home", o.home),
        (" -nodad", o.dad),
        (" mngtmpaddr", o.mngtmpaddr),
        (" noprefixroute", o.noprefixroute),
        (" autojoin", o.autojoin),
    ] {
        if on {
            s.push_str(word);
        }
    }
    if v.no_track {
        s.push_str(" no_track");
    }
    if v.addr.is_ipv6() {
        // keepalived's default: 0 (deprecated) for a /128, forever otherwise.
        match o.preferred_lft {
            Some(0) => s.push_str(" deprecated"),
            None if v.prefix_len == 128 => s.push_str(" deprecated"),
            Some(u32::MAX) | None => s.push_str(" preferred_lft forever"),
            Some(n) => {
                let _ = write!(s, " preferred_lft {n}");
            }
        }
    }
    if set {
        s.push_str(" set");
    }
    s
}

fn notify_lines(out: &mut String, n: &crate::config::model::Notify) {
    for (label, cmd) in [
        ("Backup", &n.backup),
        ("Master", &n.master),
        ("Fault", &n.fault),
        ("Stop", &n.stop),
        ("Deleted", &n.deleted),
        ("Generic", &n.generic),
        ("Master rx lower pri", &n.master_rx_lower_pri),
    ] {
        if let Some(c) = cmd {
            let c = crate::script::shown(c);
            let _ = writeln!(out, "   {label} state transition script = {c}, uid:gid 0:0");
        }
    }
}

/// One instance block of "VRRP Topology" (keepalived's `dump_vrrp`).
pub fn instance_block(out: &mut String, v: &View, unheard: &str) {
    let inst = v.inst;
    let p = inst.params();
    let mut l = |line: String| {
        out.push_str(&line);
        out.push('\n');
    };
    l(format!(" VRRP Instance = {}", p.name));
    l(format!("   VRRP Version = {}", p.version.number()));
    if let Some(g) = v.sync_group {
        l(format!("   Sync group = {g}"));
    }
    if !p.mcast_group.is_ipv4() {
        l("   Using Native IPv6".into());
    }
    let state = inst.state();
    l(format!("   State = {}", state_str(state)));
    if state == State::Backup {
        if let Some((addr, prio)) = inst.current_master() {
            l(format!("   Master router = {addr}"));
            l(format!("   Master priority = {prio}"));
        } else {
            l(format!("   Master router = {unheard}"));
            l("   Master priority = 0".into());
        }
        if p.version == Version::V3 {
            l(format!(
                "   Master advert int = {:.2} sec",
                inst.master_adver_int().as_secs_f64()
            ));
        }
    }
    // keepalived prints "Flags:" when any of its instance flag bits is set, then the
    // unicast ones it names.
    let other_family = p
        .excluded_vips
        .iter()
        .any(|v| v.addr.is_ipv6() != (p.family == Family::V6));
    let any_flag = p.is_unicast()
        || p.unicast_configured
        || p.unicast_fault_no_peer
        || p.dont_track_primary
        || p.skip_check_adv_addr
        || p.src_ip.is_some()
        || p.track_src_ip
        || p.check_unicast_src
        || p.promote_secondaries
        || p.nopreempt
        || p.use_vmac.is_some()
        || other_family;
    if any_flag {
        l("   Flags:".into());
        if p.is_unicast() {
            l("     Using unicast".into());
        } else if p.unicast_configured {
            l("     Unicast config option specified but using multicast".into());
        }
        if p.unicast_fault_no_peer {
            l("     If unicast go to fault state if no peers".into());
        }
    } else {
        l("   Flags: none".into());
    }
    // (keepalived turns a sync group member's wish for MASTER into BACKUP unless every
    // member is an address owner, which is MASTER at once anyway)
    let want = if v.sync_group.is_some() {
        state
    } else {
        inst.wantstate()
    };
    l(format!("   Wantstate = {}", state_str(want)));
    // keepalived counts one config fault: unicast_fault_no_peer without a peer.
    l(format!(
        "   Number of config faults = {}",
        u8::from(p.no_peer_fault())
    ));
    l(format!(
        "   Number of interface and track script faults = {}",
        // keepalived's num_script_if_fault: the trackers that fault it (weighted ones
        // move the priority instead).
        inst.tracking().fault_reasons().len()
    ));
    l("   Number of track scripts init = 0".into());
    l(format!(
        "   Last transition = {}",
        time_str(v.last_transition)
    ));
    match v.read_timeout {
        Some(t) => l(format!("   Read timeout = {}", time_str(t))),
        None => l("   Read timeout = DISABLED".into()),
    }
    // keepalived's Master_Down_Interval (VRRP_MS_DOWN_TIMER): in v2 the skew is
    // (256 − priority)/256 s whatever the interval; in v3 it is not truncated to
    // centiseconds.
    let mai = inst.master_adver_int().as_micros();
    let behind = 256 - u128::from(inst.effective_priority());
    let skew = match p.version {
        Version::V2 => behind * 1_000_000 / 256,
        Version::V3 => behind * mai / 256,
    };
    // (keepalived's short timers: an owner's 1 µs at its start, the skew time)
    let down = match inst.short_down_timer() {
        Some(d) => d.as_micros(),
        None => u128::from(p.down_timer_adverts) * mai + skew,
    };
    l(format!("   Master down timer = {down} usecs"));
    match &p.use_vmac {
        Some(vmac) => {
            l(format!(
                "   Use VMAC, i/f name {vmac}, is_up = true, xmit_base = {}",
                p.vmac_xmit_base
            ));
            l(format!(
                "   Interface = {vmac}, vmac on {}{}",
                p.interface,
                if p.vmac_xmit_base {
                    ", xmit base i/f"
                } else {
                    ""
                }
            ));
        }
        None => l(format!("   Interface = {}", p.interface)),
    }
    if p.skip_check_adv_addr {
        l("   Skip checking advert IP addresses".into());
    }
    if p.strict {
        l("   Enforcing strict VRRP compliance".into());
    }
    l(format!(
        "   Using src_ip = {}{}",
        v.src_ip
            .map_or_else(|| "(none)".to_string(), |a| a.to_string()),
        if p.src_ip.is_some() {
            " (from configuration)"
        } else {
            ""
        }
    ));
    if !p.is_unicast() {
        match (p.family, &v.rx_if) {
            (Family::V6, Some((index, _))) => l(format!(
                "   Multicast address {}, ifindex {index}",
                p.mcast_group
            )),
            _ => l(format!("   Multicast address {}", p.mcast_group)),
        }
    }
    let g = &p.garp;
    l(format!("   Gratuitous ARP delay = {}", g.delay.as_secs()));
    l(format!("   Gratuitous ARP repeat = {}", g.repeat));
    l(format!(
        "   Gratuitous ARP refresh = {}",
        g.refresh.map_or(0, |d| d.as_secs())
    ));
    l(format!(
        "   Gratuitous ARP refresh repeat = {}",
        g.refresh_repeat
    ));
    l(format!(
        "   Gratuitous ARP lower priority delay = {}",
        p.lower_prio.garp_delay.as_secs()
    ));
    l(format!(
        "   Gratuitous ARP lower priority repeat = {}",
        p.lower_prio.garp_repeat
    ));
    l(format!("   Down timer adverts = {}", p.down_timer_adverts));
    if let Some(every) = p.extra_if_garp {
        // (keepalived says "VMAC" for its VMACs for addresses, which lvsd does not make)
        l(format!(
            "   Gratuitous ARP for each secondary i/f = {}",
            every.as_secs()
        ));
        l(format!(
            "   Next gratuitous ARP for such secondary = {}",
            time_str(v.extra_if_garp_next.unwrap_or(UNIX_EPOCH))
        ));
    }
    l(format!(
        "   Send advert after receive lower priority advert = {}",
        !p.lower_prio.no_advert
    ));
    l(format!(
        "   Send advert after receive higher priority advert = {}",
        p.higher_prio_send_advert
    ));
    l(format!("   Virtual Router ID = {}", p.vrid));
    l(format!("   Priority = {}", inst.base_priority()));
    l(format!(
        "   Effective priority = {}",
        inst.effective_priority()
    ));
    l(format!("   Total priority = {}", inst.total_priority()));
    match p.version {
        Version::V2 => l(format!(
            "   Advert interval = {} sec",
            p.advert_int.as_secs()
        )),
        Version::V3 => l(format!(
            "   Advert interval = {} milli-sec",
            p.advert_int.as_millis()
        )),
    }
    if state == State::Backup && p.version == Version::V3 {
        l(format!(
            "   Master advert interval = {} milli-sec",
            inst.master_adver_int().as_millis()
        ));
    }
    l(format!(
        "   Accept = {}",
        if p.accept { "enabled" } else { "disabled" }
    ));
    l(format!(
        "   Preempt = {}",
        if p.nopreempt { "disabled" } else { "enabled" }
    ));
    if !p.preempt_delay.is_zero() {
        l(format!(
            "   Preempt delay = {} secs",
            p.preempt_delay.as_secs_f64()
        ));
    }
    l(format!(
        "   Promote_secondaries = {}",
        if p.promote_secondaries {
            "enabled"
        } else {
            "disabled"
        }
    ));
    match auth_secret(&p.auth) {
        Some((kind, pass)) => {
            l(format!(
                "   Authentication type = {}",
                if kind == 2 {
                    "IPSEC_AH"
                } else {
                    "SIMPLE_PASSWORD"
                }
            ));
            // (keepalived shows an AH key nowhere)
            if kind != 2 {
                l(format!("   Password = {pass}"));
            }
        }
        None if p.version == Version::V2 => l("   Authentication type = none".into()),
        None => {}
    }
    if let Some(b) = p.kernel_rx_buf_size {
        l(format!("   Kernel rx buffer size = {b}"));
    }
    if p.debug > 0 {
        l(format!("   Debug level = {}", p.debug));
    }
    if !p.vips.is_empty() {
        l(format!("   Virtual IP ({}):", p.vips.len()));
        for vip in &p.vips {
            l(format!("     {}", vip_line(p, vip, v.vipset)));
        }
    }
    if !p.excluded_vips.is_empty() {
        l("   Virtual IP Excluded :".into());
        for vip in &p.excluded_vips {
            l(format!("     {}", vip_line(p, vip, v.vipset)));
        }
    }
    if p.is_unicast() {
        // keepalived's default TTL is 255 for IPv4; for IPv6 the kernel's (not shown).
        let ttl = match p.family {
            Family::V4 => Some(p.unicast_ttl.unwrap_or(255)),
            Family::V6 => p.unicast_ttl,
        };
        if let Some(ttl) = ttl {
            l(format!("   Unicast TTL = {ttl}"));
        }
        l(format!(
            "   Check unicast src : {}",
            if p.check_unicast_src { "yes" } else { "no" }
        ));
        l("   Unicast Peer :".into());
        for peer in &p.unicast_peers {
            l(format!(
                "     {} min_ttl {} max_ttl {}",
                peer.addr,
                peer.min_ttl.unwrap_or(0),
                peer.max_ttl.unwrap_or(255)
            ));
        }
        l("   Unicast checksum compatibility = no".into());
    }
    match v.fds {
        Some((i, o)) => l(format!("   fd_in {i}, fd_out {o}")),
        None => l("   No sockets allocated".into()),
    }
    if !v.routes.is_empty() {
        let mut r = String::from("   Virtual Routes :\n");
        crate::vrrp::dump_routes::route_lines(&mut r, v.routes);
        l(r.trim_end().to_string());
    }
    if !v.rules.is_empty() {
        let mut r = String::from("   Virtual Rules :\n");
        crate::vrrp::dump_routes::rule_lines(&mut r, v.rules);
        l(r.trim_end().to_string());
    }
    let tr = inst.tracking();
    // Each list: (title, name, weight, reverse); keepalived writes interfaces and scripts
    // as `NAME weight W`, files and processes as `NAME, weight W`.
    let weighted = |name: &str, w: i32, reverse: bool, comma: bool| {
        format!(
            "     {name}{} weight {w}{}",
            if comma { "," } else { "" },
            if reverse { " reverse" } else { "" }
        )
    };
    let lists: [(&str, Vec<String>); 4] = [
        (
            "   Tracked interfaces :",
            // The instance's own interface is tracked implicitly (keepalived lists it
            // under "Interfaces", not here).
            tr.interfaces
                .iter()
                .filter(|i| i.listed && i.spec.name != p.interface)
                .map(|i| {
                    weighted(
                        &i.spec.name,
                        i.spec.weight.unwrap_or(0),
                        i.spec.reverse,
                        false,
                    )
                })
                .collect(),
        ),
        (
            "   Tracked scripts :",
            tr.scripts
                .iter()
                .map(|t| weighted(&t.spec.name, t.spec.weight, t.spec.reverse, false))
                .collect(),
        ),
        (
            "   Tracked files :",
            tr.files
                .iter()
                .map(|t| weighted(&t.spec.name, t.spec.weight, t.spec.reverse, true))
                .collect(),
        ),
        (
            "   Tracked processes :",
            tr.processes
                .iter()
                .map(|t| weighted(&t.spec.name, t.spec.weight, t.spec.reverse, true))
                .collect(),
        ),
    ];
    for (title, lines) in lists {
        if !lines.is_empty() {
            l(title.into());
            for line in lines {
                l(line);
            }
        }
    }
    l(format!(
        "   Using smtp notification = {}",
        if p.smtp_alert { "yes" } else { "no" }
    ));
    l("   Notify deleted = Fault".into());
    let mut n = String::new();
    notify_lines(&mut n, &p.notify);
    out.push_str(&n);
    out.push_str("   Notify priority changes = false\n");
}

/// The VRRP part of `keepalived.data` (after the global definitions): topology, socket
/// pool, sync groups and scripts.
pub fn data(
    views: &[View],
    groups: &[Group],
    scripts: &[VrrpScript],
    files: &[crate::config::model::TrackFileDef],
    processes: &[(&crate::config::model::TrackProcessDef, u32)],
    statics: Statics,
) -> String {
    let mut s = String::new();
    if !statics.addresses.is_empty() {
        s.push_str("------< Static Addresses >------\n");
        for a in statics.addresses {
            let dev = a.dev.as_deref().unwrap_or_default();
            let _ = writeln!(s, "     {}", vip_str(a, dev, true));
        }
    }
    if !statics.routes.is_empty() {
        s.push_str("------< Static Routes >------\n");
        for r in statics.routes {
            let _ = write!(s, "     {}", crate::vrrp::dump_routes::route_line(r));
            // keepalived learns the interface a route went on from the kernel's report of
            // it, which it reads only for a family it follows; else it shows the index it
            // never learnt beside a route it follows.
            if !r.no_track && r.dev.is_some() && !statics.routes_followed[usize::from(r.ipv6)] {
                s.push_str(" [installed ifindex 0]");
            }
            s.push('\n');
        }
    }
    if !statics.rules.is_empty() {
        s.push_str("------< Static Rules >------\n");
        crate::vrrp::dump_routes::rule_lines(&mut s, statics.rules);
    }
    if !views.is_empty() {
        s.push_str("------< VRRP Topology >------\n");
        for (i, v) in views.iter().enumerate() {
            instance_block(&mut s, v, &unheard_master(views, i, statics.mcast_group6));
        }
        // One entry per socket (fd pair) and, for unicast instances, per source address:
        // keepalived opens a socket for each unicast source, lvsd shares one.
        let mut pools: Vec<((i32, i32), Vec<&View>)> = Vec::new();
        let unicast_src = |v: &View| v.src_ip.filter(|_| v.inst.params().is_unicast());
        for v in views {
            let Some(fds) = v.fds else { continue };
            let pool = pools
                .iter_mut()
                .find(|(f, m)| *f == fds && unicast_src(m[0]) == unicast_src(v));
            match pool {
                Some((_, members)) => members.push(v),
                None => pools.push((fds, vec![v])),
            }
        }
        if !pools.is_empty() {
            s.push_str("------< VRRP Sockpool >------\n");
        }
        for ((fd_in, fd_out), members) in &pools {
            let p = members[0].inst.params();
            let _ = writeln!(s, " fd_in {fd_in} fd_out = {fd_out}");
            let ifname = members[0]
                .rx_if
                .as_ref()
                .map_or(p.interface.as_str(), |(_, n)| n.as_str());
            let _ = writeln!(s, "   Interface = {ifname}");
            let _ = writeln!(
                s,
                "   Family = {}",
                if p.mcast_group.is_ipv4() {
                    "IPv4"
                } else {
                    "IPv6"
                }
            );
            let proto = if p.auth.is_ah() { "AH" } else { "VRRP" };
            let _ = writeln!(s, "   Protocol = {proto}");
            if p.is_unicast() {
                s.push_str("   Type = Unicast\n");
                if let Some(a) = members[0].src_ip {
                    let _ = writeln!(s, "   Address = {a}");
                }
            } else {
                s.push_str("   Type = Multicast\n");
            }
            let _ = writeln!(s, "   Rx buf size = {}", members[0].rx_buf);
            s.push_str("   VRRP instances\n");
            let mut sorted = members.clone();
            sorted.sort_by_key(|v| v.inst.params().vrid);
            for v in sorted {
                let _ = writeln!(s, "     {} vrid {}", v.inst.name(), v.inst.params().vrid);
            }
        }
    }
    if !groups.is_empty() {
        s.push_str("------< VRRP Sync groups >------\n");
        for g in groups {
            let members: Vec<&View> = g.members.iter().filter_map(|i| views.get(*i)).collect();
            let _ = writeln!(s, " VRRP Sync Group = {}, {}", g.name, state_str(g.state));
            let _ = writeln!(
                s,
                "   Num member fault {}, num member init {}",
                members
                    .iter()
                    .filter(|v| v.inst.state() == State::Fault)
                    .count(),
                members
                    .iter()
                    .filter(|v| v.inst.state() == State::Init)
                    .count()
            );
            if !members.is_empty() {
                s.push_str("   VRRP member instances :\n");
                for v in &members {
                    let _ = writeln!(s, "     {}", v.inst.name());
                }
            }
            if g.tracking_weight {
                s.push_str("   sync group tracking weight set\n");
            }
            let _ = writeln!(
                s,
                "   Using smtp notification = {}",
                if g.smtp_alert.unwrap_or(false) {
                    "yes"
                } else {
                    "no"
                }
            );
            if let Some(b) = g.notify_priority_changes {
                let _ = writeln!(
                    s,
                    "   Notify priority changes = {}",
                    if b { "yes" } else { "no" }
                );
            }
            notify_lines(&mut s, &g.notify);
        }
    }
    // keepalived drops a vrrp_script nothing tracks ("script ... is not used").
    let used: Vec<&VrrpScript> = scripts
        .iter()
        .filter(|sc| {
            views.iter().any(|v| {
                v.inst
                    .tracking()
                    .scripts
                    .iter()
                    .any(|t| t.spec.name == sc.name)
            })
        })
        .collect();
    if !used.is_empty() {
        s.push_str("------< VRRP Scripts >------\n");
        for sc in used {
            script_block(&mut s, sc, views);
        }
    }
    track_files_section(&mut s, files, views);
    track_processes_section(&mut s, processes, views);
    s
}

/// "VRRP Track processes" (keepalived's `dump_vprocess`): each definition some instance
/// tracks with the number of its processes running now (`processes`: each with it), its
/// quorum as the instances know it and the instances tracking it. (lvsd's delays are not
/// timers: shown as not running.)
fn track_processes_section(
    s: &mut String,
    processes: &[(&crate::config::model::TrackProcessDef, u32)],
    views: &[View],
) {
    use crate::config::model::ParamMatch;
    let mut head = false;
    for (p, count) in processes {
        let tracking = trackers_named(views, &p.name, |t| &t.processes, |t| &t.spec.name);
        let Some((_, first)) = tracking.first() else {
            continue;
        };
        if !head {
            s.push_str("------< VRRP Track processes >------\n");
            head = true;
        }
        let _ = writeln!(s, " VRRP Track process = {}", p.name);
        let _ = writeln!(s, "   Process = {}", p.process);
        if !p.params.is_empty() {
            let _ = writeln!(s, "   Parameters = {}", p.params.join(" "));
        }
        match p.param_match {
            ParamMatch::None => {}
            ParamMatch::Exact => s.push_str("   Param match\n"),
            ParamMatch::Partial => s.push_str("   Param match = partial\n"),
            ParamMatch::Initial => s.push_str("   Param match = initial\n"),
        }
        let _ = writeln!(s, "   Min processes = {}", p.quorum);
        if p.quorum_max < u32::MAX {
            let _ = writeln!(s, "   Max processes = {}", p.quorum_max);
        }
        let _ = writeln!(s, "   Current processes = {count}");
        let _ = writeln!(s, "   Have quorum = {}", first.up);
        let _ = writeln!(
            s,
            "   Weight = {}{}",
            p.weight,
            if p.weight_reverse { " reverse" } else { "" }
        );
        let secs = |d: Option<std::time::Duration>| d.unwrap_or_default().as_secs_f64();
        let _ = writeln!(s, "   Terminate delay = {:.6}s", secs(p.terminate_delay));
        let _ = writeln!(s, "   Fork delay = {:.6}s", secs(p.fork_delay));
        s.push_str("   Fork delay timer not running\n");
        s.push_str("   Terminate delay timer not running\n");
        let _ = writeln!(s, "   Full command = {}", p.full_command);
        s.push_str("   Tracking instances :\n");
        let list = tracking
            .iter()
            .map(|(v, t)| (v.inst.name(), t.spec.weight, t.spec.reverse));
        tracking_lines(s, list);
    }
}

/// Each instance's tracker named `name` among those `of` gives of its tracking, with the
/// instance's view, in instance order.
fn trackers_named<'a, T>(
    views: &'a [View<'a>],
    name: &str,
    of: impl Fn(&'a crate::vrrp::track::Tracking) -> &'a [T],
    named: impl Fn(&T) -> &str,
) -> Vec<(&'a View<'a>, &'a T)> {
    views
        .iter()
        .flat_map(|v| {
            of(v.inst.tracking())
                .iter()
                .filter(|t| named(t) == name)
                .map(move |t| (v, t))
        })
        .collect()
}

/// keepalived's `dump_tracking_vrrp` lines: each instance with its tracker's weight
/// (and `reverse`).
fn tracking_lines<'a>(s: &mut String, list: impl Iterator<Item = (&'a str, i32, bool)>) {
    for (name, weight, reverse) in list {
        let _ = writeln!(
            s,
            "     {name}, weight {weight}{}",
            if reverse { " reverse" } else { "" }
        );
    }
}

/// "VRRP Track files" (keepalived's `dump_track_file`): each file some instance tracks,
/// its last status and the instances tracking it.
fn track_files_section(
    s: &mut String,
    files: &[crate::config::model::TrackFileDef],
    views: &[View],
) {
    let mut head = false;
    for f in files {
        let tracking = trackers_named(views, &f.name, |t| &t.files, |t| &t.spec.name);
        let Some((_, first)) = tracking.first() else {
            continue;
        };
        if !head {
            s.push_str("------< VRRP Track files >------\n");
            head = true;
        }
        let _ = writeln!(s, " Track file = {}", f.name);
        let _ = writeln!(s, "   File = {}", f.file);
        let _ = writeln!(s, "   Status = {}", first.value);
        let _ = writeln!(
            s,
            "   Weight = {}{}",
            f.weight,
            if f.weight_reverse { " reverse" } else { "" }
        );
        s.push_str("   Tracking instances :\n");
        let list = tracking
            .iter()
            .map(|(v, t)| (v.inst.name(), t.spec.weight, t.spec.reverse));
        tracking_lines(s, list);
    }
}

/// One block of "VRRP Scripts" (keepalived's `dump_vscript`).
fn script_block(s: &mut String, sc: &VrrpScript, views: &[View]) {
    let states = trackers_named(views, &sc.name, |t| &t.scripts, |t| &t.spec.name);
    let good = states.first().map_or(!sc.init_fail, |(_, t)| t.up);
    let known = states.first().is_none_or(|(_, t)| t.known);
    let _ = writeln!(s, " VRRP Script = {}", sc.name);
    let _ = writeln!(s, "   Command = {}", crate::script::shown(&sc.script));
    let _ = writeln!(s, "   Interval = {} sec", sc.interval.as_secs());
    let _ = writeln!(
        s,
        "   Timeout = {} sec",
        sc.timeout.unwrap_or(Duration::ZERO).as_secs()
    );
    let _ = writeln!(
        s,
        "   Weight = {}{}",
        sc.weight,
        if sc.weight_reverse { " reverse" } else { "" }
    );
    let _ = writeln!(s, "   Rise = {}", sc.rise);
    let _ = writeln!(s, "   Fall = {}", sc.fall);
    // keepalived's result counts up to rise + fall - 1 when good, below rise when bad.
    // (before its first result: rise − 1, which is BAD)
    let result = match (known, good) {
        (false, _) => sc.rise.max(1) - 1,
        (true, true) => sc.rise + sc.fall - 1,
        (true, false) => 0,
    };
    let _ = writeln!(s, "   Result = {result}");
    s.push_str("   Insecure = no\n");
    s.push_str("   Init state = unknown\n");
    let shown_good = known && good;
    let _ = writeln!(s, "   Status = {}", if shown_good { "GOOD" } else { "BAD" });
    s.push_str("   Script uid:gid = 0:0\n");
    s.push_str("   VRRP instances :\n");
    if !states.is_empty() {
        s.push_str("   Tracking instances :\n");
    }
    let list = states
        .iter()
        .map(|(v, t)| (v.inst.name(), t.spec.weight, t.spec.reverse));
    tracking_lines(s, list);
    s.push_str("   State = idle\n");
}

/// `keepalived.stats` (keepalived's `vrrp_print_stats`).
pub fn stats(views: &[View]) -> String {
    let mut s = String::new();
    for v in views {
        let c = &v.counters;
        let _ = writeln!(s, "VRRP Instance: {}", v.inst.name());
        s.push_str("  Advertisements:\n");
        let _ = writeln!(s, "    Received: {}", c.advert_rcvd);
        let _ = writeln!(s, "    Sent: {}", c.advert_sent);
        let _ = writeln!(s, "  Became master: {}", c.become_master);
        let _ = writeln!(s, "  Released master: {}", c.release_master);
        s.push_str("  Packet Errors:\n");
        let _ = writeln!(s, "    Length: {}", c.packet_len_err);
        let _ = writeln!(s, "    TTL: {}", c.ip_ttl_err);
        let _ = writeln!(s, "    Invalid Type: {}", c.invalid_type_rcvd);
        let _ = writeln!(s, "    Advertisement Interval: {}", c.advert_interval_err);
        let _ = writeln!(s, "    Address List: {}", c.addr_list_err);
        s.push_str("  Authentication Errors:\n");
        let _ = writeln!(s, "    Invalid Type: {}", c.invalid_authtype);
        let _ = writeln!(s, "    Type Mismatch: {}", c.authtype_mismatch);
        let _ = writeln!(s, "    Failure: {}", c.auth_failure);
        s.push_str("  Priority Zero:\n");
        let _ = writeln!(s, "    Received: {}", c.pri_zero_rcvd);
        let _ = writeln!(s, "    Sent: {}", c.pri_zero_sent);
    }
    s
}

/// A double as keepalived's json writer prints it (`%g`: 1, 0.5, 5).
fn num(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

/// A JSON string, with `/` escaped as keepalived's json writer does ("10.66.0.100\/24").
fn jstr(s: &str) -> String {
    serde_json::to_string(s)
        .unwrap_or_else(|_| "\"\"".into())
        .replace('/', "\\/")
}

/// Writes `{"k":v,...}` from already encoded values, in the given order.
fn object(fields: &[(&str, String)]) -> String {
    let body: Vec<String> = fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
    format!("{{{}}}", body.join(","))
}

/// `keepalived.json` (keepalived's `vrrp_json_dump`): `[{"data":{..},"stats":{..}},..]`
/// with keepalived's keys in its order and its number formats, and a final newline. None
/// without instances (keepalived writes no file then).
pub fn json(views: &[View]) -> Option<String> {
    if views.is_empty() {
        return None;
    }
    let mut items = Vec::new();
    for v in views {
        let inst = v.inst;
        let p = inst.params();
        let b = |x: bool| u8::from(x).to_string();
        let tf = |x: bool| x.to_string();
        let lt = v
            .last_transition
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let g = &p.garp;
        let mut d: Vec<(&str, String)> = vec![
            ("iname", jstr(&p.name)),
            ("dont_track_primary", b(p.dont_track_primary)),
            ("skip_check_adv_addr", b(p.skip_check_adv_addr)),
            ("strict_mode", b(p.strict)),
            ("vmac_ifname", jstr(p.use_vmac.as_deref().unwrap_or(""))),
            (
                "ifp_ifname",
                jstr(p.use_vmac.as_deref().unwrap_or(&p.interface)),
            ),
            (
                "master_priority",
                inst.current_master().map_or(0, |(_, pr)| pr).to_string(),
            ),
            // keepalived prints it with "%f".
            (
                "last_transition",
                format!("{}.{:06}", lt.as_secs(), lt.subsec_micros()),
            ),
            ("garp_delay", num(g.delay.as_secs_f64())),
            (
                "garp_refresh",
                g.refresh.map_or(0, |r| r.as_secs()).to_string(),
            ),
            ("garp_rep", g.repeat.to_string()),
            ("garp_refresh_rep", g.refresh_repeat.to_string()),
            (
                "garp_lower_prio_delay",
                p.lower_prio.garp_delay.as_secs().to_string(),
            ),
            ("garp_lower_prio_rep", p.lower_prio.garp_repeat.to_string()),
            ("lower_prio_no_advert", b(p.lower_prio.no_advert)),
            ("higher_prio_send_advert", b(p.higher_prio_send_advert)),
            ("vrid", p.vrid.to_string()),
            ("base_priority", inst.base_priority().to_string()),
            ("effective_priority", inst.effective_priority().to_string()),
            ("vipset", tf(v.vipset)),
            ("promote_secondaries", "false".into()),
            ("adver_int", num(p.advert_int.as_secs_f64())),
            (
                "master_adver_int",
                num(inst.master_adver_int().as_secs_f64()),
            ),
            ("accept", b(p.accept)),
            ("nopreempt", tf(p.nopreempt)),
            ("preempt_delay", p.preempt_delay.as_secs().to_string()),
            ("state", state_num(inst.state()).to_string()),
            ("wantstate", state_num(inst.state()).to_string()),
            ("version", p.version.number().to_string()),
            ("smtp_alert", tf(p.smtp_alert)),
            ("notify_deleted", "false".into()),
        ];
        for (key, cmd) in [
            ("script_backup", &p.notify.backup),
            ("script_master", &p.notify.master),
            ("script_fault", &p.notify.fault),
            ("script_stop", &p.notify.stop),
            ("script_deleted", &p.notify.deleted),
            ("script", &p.notify.generic),
            ("script_master_rx_lower_pri", &p.notify.master_rx_lower_pri),
        ] {
            if let Some(c) = cmd {
                d.push((key, jstr(c)));
            }
        }
        let list = |xs: Vec<String>| format!("[{}]", xs.join(","));
        if !p.vips.is_empty() {
            let vips = p.vips.iter().map(|x| jstr(&vip_line(p, x, v.vipset)));
            d.push(("vips", list(vips.collect())));
        }
        if !p.excluded_vips.is_empty() {
            let e = p
                .excluded_vips
                .iter()
                .map(|x| jstr(&vip_line(p, x, v.vipset)));
            d.push(("evips", list(e.collect())));
        }
        let tr = inst.tracking();
        // keepalived lists the interfaces tracked by track_interface, not its own.
        let tracked: Vec<String> = tr
            .interfaces
            .iter()
            .filter(|i| i.listed && i.spec.name != p.interface)
            .map(|i| jstr(&i.spec.name))
            .collect();
        if !tracked.is_empty() {
            d.push(("track_ifp", list(tracked)));
        }
        if !tr.scripts.is_empty() {
            let names = tr.scripts.iter().map(|s| jstr(&s.spec.name));
            d.push(("track_script", list(names.collect())));
        }
        match auth_secret(&p.auth) {
            Some((kind, pass)) => {
                d.push(("auth_type", kind.to_string()));
                d.push(("auth_data", jstr(&pass)));
            }
            None => d.push(("auth_type", "0".into())),
        }
        let c = &v.counters;
        let st: Vec<(&str, String)> = [
            ("advert_rcvd", c.advert_rcvd),
            ("advert_sent", c.advert_sent),
            ("become_master", c.become_master),
            ("release_master", c.release_master),
        ]
        .into_iter()
        .chain(c.drop_fields())
        .map(|(k, n)| (k, n.to_string()))
        .collect();
        items.push(object(&[("data", object(&d)), ("stats", object(&st))]));
    }
    Some(format!("[{}]\n", items.join(",")))
}

/// keepalived's auth type number (1 PASS, 2 AH) and the password as it is used (8 bytes at
/// most, up to its first NUL).
fn auth_secret(auth: &crate::vrrp::params::Auth) -> Option<(u8, String)> {
    use crate::vrrp::params::Auth;
    let (kind, bytes): (u8, &[u8]) = match auth {
        Auth::None => return None,
        Auth::Pass(p) => (1, p),
        Auth::Ah(k) => (2, k.as_ref()),
    };
    let end = bytes.iter().position(|b| *b == 0).unwrap_or(bytes.len());
    Some((kind, String::from_utf8_lossy(&bytes[..end]).into_owned()))
}

#[cfg(test)]
mod tests {
    use super::vip_str;

    fn vip(line: &str) -> crate::config::model::VirtualIp {
        let text = format!(
            "vrrp_instance V {{\n interface eth0\n virtual_router_id 1\n \
             virtual_ipaddress {{\n  {line}\n }}\n}}\n"
        );
        let l = crate::config::parse_str(&text, std::path::Path::new("t.conf"), "x")
            .unwrap_or_else(|e| panic!("{e}"));
        l.config.instances[0].virtual_ipaddress[0].clone()
    }

    /// The address options in keepalived 2.2.7's order (format_ipaddress).
    #[test]
    fn vip_lines_as_keepalived_formats_them() {
        assert_eq!(
            vip_str(
                &vip("10.0.0.1/24 noprefixroute home no_track"),
                "eth0",
                true
            ),
            "10.0.0.1/24 dev eth0 scope global home noprefixroute no_track set"
        );
        assert_eq!(
            vip_str(
                &vip("fd00::1/64 dev eth1 mngtmpaddr -nodad autojoin"),
                "eth1",
                false
            ),
            "fd00::1/64 dev eth1 scope global -nodad mngtmpaddr autojoin preferred_lft forever"
        );
        assert_eq!(
            vip_str(&vip("10.0.0.1 peer 10.0.0.2"), "eth0", true),
            "10.0.0.1 dev eth0 scope global peer 10.0.0.2/32 set"
        );
        assert_eq!(
            vip_str(&vip("fd00::2/128"), "eth0", false),
            "fd00::2 dev eth0 scope global deprecated"
        );
        assert_eq!(
            vip_str(&vip("fd00::3/64 preferred_lft 100"), "eth0", false),
            "fd00::3/64 dev eth0 scope global preferred_lft 100"
        );
    }
}
