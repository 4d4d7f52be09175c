//! `lvsd doctor`: what keepalived.conf asks of the director, checked against the live
//! system, each problem with its consequence and the exact fix.
//!
//! The checks are I/O-free ([`director`] over a [`SystemView`]); [`system`] reads the
//! view from /proc and /sys. This first part covers the kernel side of a director: IPVS
//! and its schedulers, forwarding for NAT services, this director being a real server of
//! its own services (localnode), the expiry sysctls weight-0 draining relies on, and the
//! effective reverse-path filter of the VRRP interfaces, VRRP adverts dropped by
//! nftables ([`firewall`]) or the legacy iptables tables ([`iptables`]), read from the
//! rules alone, other routers on the instances' VRIDs ([`vrid`]), and the file's own load
//! warnings ([`config_warnings`]), and the way back of the NAT services' replies
//! ([`nat_route`]).
//! [`real_server`] checks the real servers' side (`lvsd real-server doctor`).

pub mod firewall;
pub mod iptables;
pub mod nat_route;
pub mod real_server;
pub mod system;
pub mod vrid;

use crate::config::{Config, LbKind, VsKey};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

pub use system::SystemView;

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// The configuration cannot work as written on this system.
    Problem,
    /// Works, with a known risk.
    Warning,
    /// Worth knowing (nothing to fix).
    Info,
}

/// One thing found: what, what it does, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub level: Level,
    /// A short stable name for tools (`ip_forward`, `ipvs_module`, …).
    pub check: &'static str,
    pub what: String,
    pub consequence: String,
    /// The command or setting that fixes it (empty for `Info`).
    pub fix: String,
}

fn finding(
    level: Level,
    check: &'static str,
    what: String,
    consequence: &str,
    fix: String,
) -> Finding {
    Finding {
        level,
        check,
        what,
        consequence: consequence.to_string(),
        fix,
    }
}

/// The director's findings for `config` on the system `sys`, problems first.
pub fn director(config: &Config, sys: &SystemView) -> Vec<Finding> {
    let mut out = Vec::new();
    let vss = &config.virtual_servers;
    if !vss.is_empty() && !sys.ipvs {
        out.push(finding(
            Level::Problem,
            "ipvs_module",
            "IPVS is not available in this kernel (no /proc/net/ip_vs)".into(),
            "no virtual server can be set up: the LVS side retries and logs, VRRP runs on",
            "modprobe ip_vs (and add ip_vs to /etc/modules-load.d/)".into(),
        ));
    }
    if sys.ipvs {
        let scheds: BTreeSet<&str> = vss.iter().map(|v| v.lb_algo.as_str()).collect();
        for s in scheds {
            let module = format!("ip_vs_{s}");
            if !sys.modules.contains(&module) && !sys.module_files.contains(&module) {
                out.push(finding(
                    Level::Problem,
                    "scheduler_module",
                    format!("the scheduler `{s}` has no kernel module ({module})"),
                    "services with this lb_algo cannot be added",
                    format!(
                        "install the kernel's ip_vs modules, or choose another lb_algo than {s}"
                    ),
                ));
            }
        }
    }
    let nat = |v: &crate::config::VirtualServer| {
        v.lb_kind == LbKind::Nat
            || v.real_servers
                .iter()
                .any(|r| r.lvs_method == Some(LbKind::Nat))
    };
    let family = |v: &crate::config::VirtualServer| match v.key {
        VsKey::Addr { addr, .. } => Some(addr.is_ipv6()),
        VsKey::Fwmark { ipv6, .. } => Some(ipv6),
        VsKey::Group(_) => None,
    };
    for (v6, key, name) in [
        (false, "net.ipv4.ip_forward", "IPv4"),
        (true, "net.ipv6.conf.all.forwarding", "IPv6"),
    ] {
        let wanted = vss
            .iter()
            .any(|v| nat(v) && family(v).is_none_or(|f| f == v6));
        if wanted && sys.sysctl(key) != Some(1) {
            out.push(finding(
                Level::Problem,
                "ip_forward",
                format!("{name} forwarding is off ({key} = {}) on a NAT director", show(sys.sysctl(key))),
                "the real servers' replies are not forwarded back to the clients: NAT services answer nothing",
                format!("sysctl -w {key}=1 (and set it in /etc/sysctl.d/)"),
            ));
        }
    }
    // The NAT real servers on a network of this director (their replies come back).
    out.extend(nat_route::director_side(config, &sys.local_nets));
    // This director as a real server of its own services (localnode).
    for v in vss {
        for r in &v.real_servers {
            if sys.local_addrs.contains(&r.addr) {
                out.push(finding(
                    Level::Warning,
                    "localnode",
                    format!(
                        "real server {} of {} is an address of this director",
                        r.addr,
                        crate::lvs::build::VsLabel(v)
                    ),
                    "with two directors that are real servers of each other, the backup's IPVS sends connections back to the master: SYN loops",
                    "sysctl -w net.ipv4.vs.backup_only=1 on the backup (or mark with fwmark by MAC so only the master's traffic is balanced)".into(),
                ));
            }
        }
    }
    // Draining by weight 0 (inhibit_on_failure) and persistence templates.
    let inhibits = vss.iter().any(|v| {
        v.inhibit_on_failure
            || v.real_servers
                .iter()
                .any(|r| r.inhibit_on_failure == Some(true))
    });
    if sys.ipvs && inhibits && vss.iter().any(|v| v.persistence_timeout.is_some()) {
        let key = "net.ipv4.vs.expire_quiescent_template";
        if sys.sysctl(key) != Some(1) {
            out.push(finding(
                Level::Warning,
                "expire_quiescent_template",
                format!("{key} = {} with persistence and inhibit_on_failure", show(sys.sysctl(key))),
                "clients with a persistence template keep going to a real server at weight 0 (failed) until the template expires",
                format!("sysctl -w {key}=1"),
            ));
        }
    }
    if sys.ipvs && !vss.is_empty() {
        let key = "net.ipv4.vs.expire_nodest_conn";
        if sys.sysctl(key) != Some(1) {
            out.push(finding(
                Level::Warning,
                "expire_nodest_conn",
                format!("{key} = {}", show(sys.sysctl(key))),
                "connections to a real server lvsd removed hang until their timeout instead of being reset",
                format!("sysctl -w {key}=1"),
            ));
        }
    }
    // The IPVS sync daemon's interface.
    if let Some(sd) = &config.global.lvs_sync_daemon {
        match sys.links.get(&sd.interface) {
            None => out.push(finding(
                Level::Problem,
                "sync_daemon",
                format!("lvs_sync_daemon's interface {} does not exist", sd.interface),
                "the IPVS sync daemon cannot start: the backup has no connection table, so a failover drops every established connection",
                format!("write an existing interface in lvs_sync_daemon (the one facing the other director), or create {}", sd.interface),
            )),
            Some((false, _)) => out.push(finding(
                Level::Warning,
                "sync_daemon",
                format!("lvs_sync_daemon's interface {} is down", sd.interface),
                "connection states are not synchronised while it is down: a failover drops the established connections",
                format!("ip link set {} up", sd.interface),
            )),
            Some((true, mtu)) => {
                let maxlen = sd
                    .maxlen
                    .map_or_else(String::new, |m| format!(", maxlen {m}"));
                out.push(finding(
                    Level::Info,
                    "sync_daemon",
                    format!(
                        "lvs_sync_daemon on {} (MTU {mtu}{maxlen}): the kernel sizes sync messages to fit the MTU",
                        sd.interface
                    ),
                    "both directors need the same MTU on the sync interface, or the larger side's messages are fragmented or lost",
                    String::new(),
                ));
            }
        }
    }
    // VRRP adverts let in by the firewalls, read from their rules alone.
    out.extend(firewall_findings(config, sys));
    // use_vmac: the sysctls keepalived (and lvsd) set on the vmac and its base interface.
    for inst in &config.instances {
        let Some(name) = &inst.use_vmac else { continue };
        let vmac = vmac_name(config, name, inst.virtual_router_id);
        if sys
            .sysctl(&format!("net.ipv4.conf.{vmac}.arp_ignore"))
            .is_none()
        {
            continue; // (not there: the daemon creates it and sets them)
        }
        let base = inst.interface.as_str();
        let eff = |dev: &str, key: &str| {
            sys.sysctl(&format!("net.ipv4.conf.all.{key}"))
                .max(sys.sysctl(&format!("net.ipv4.conf.{dev}.{key}")))
        };
        let either = |dev: &str, key: &str| {
            sys.sysctl(&format!("net.ipv4.conf.all.{key}")) == Some(1)
                || sys.sysctl(&format!("net.ipv4.conf.{dev}.{key}")) == Some(1)
        };
        let mut wrong = Vec::new();
        if eff(&vmac, "arp_ignore").is_some_and(|v| v < 1) {
            wrong.push(format!("net.ipv4.conf.{vmac}.arp_ignore=1"));
        }
        if !either(&vmac, "accept_local") {
            wrong.push(format!("net.ipv4.conf.{vmac}.accept_local=1"));
        }
        if eff(&vmac, "rp_filter").is_some_and(|v| v != 0) {
            wrong.push(format!("net.ipv4.conf.{vmac}.rp_filter=0"));
            if sys
                .sysctl("net.ipv4.conf.all.rp_filter")
                .is_some_and(|v| v != 0)
            {
                wrong.push("net.ipv4.conf.all.rp_filter=0 (the kernel uses the larger of all and the interface's; set the other interfaces' own value instead)".into());
            }
        }
        if eff(base, "arp_ignore").is_some_and(|v| v < 1) {
            wrong.push(format!("net.ipv4.conf.{base}.arp_ignore=1"));
        }
        if !either(base, "arp_filter") {
            wrong.push(format!("net.ipv4.conf.{base}.arp_filter=1"));
        }
        if !wrong.is_empty() {
            out.push(finding(
                Level::Problem,
                "vmac_sysctls",
                format!(
                    "use_vmac {vmac} of instance {} (on {base}) lacks the settings keepalived gives it",
                    inst.name
                ),
                "the base interface answers ARP for the VIPs with its own MAC instead of the virtual one, or the vmac drops adverts and traffic that arrive on it",
                format!("sysctl -w {}", wrong.join(" ")),
            ));
        }
    }
    // Other routers on the instances' VRIDs.
    out.extend(vrid::vrid_findings(config, &sys.adverts, &sys.local_addrs));
    // The effective reverse-path filter: the larger of `all` and the interface's.
    let ifs: BTreeSet<&str> = config
        .instances
        .iter()
        .map(|i| i.interface.as_str())
        .collect();
    for i in ifs {
        let all = sys.sysctl("net.ipv4.conf.all.rp_filter");
        let own = sys.sysctl(&format!("net.ipv4.conf.{i}.rp_filter"));
        let eff = all.max(own);
        out.push(finding(
            Level::Info,
            "rp_filter",
            format!(
                "reverse-path filter on {i}: {} (all {}, {i} {}; the kernel uses the larger)",
                show(eff),
                show(all),
                show(own)
            ),
            if eff == Some(1) {
                "strict: packets arriving on an interface the route back does not use are dropped"
            } else {
                "loose or off"
            },
            String::new(),
        ));
    }
    out.sort_by_key(|f| f.level);
    out
}

/// The warnings of loading the file, each a finding (with its file:line:col): among them
/// what keepalived reads differently from what is written, such as a DR or TUN real
/// server's port that differs from the virtual server's (only NAT can change ports).
pub fn config_warnings(warnings: &[crate::config::Diagnostic]) -> Vec<Finding> {
    warnings
        .iter()
        .map(|d| {
            finding(
                Level::Warning,
                "config",
                format!("{}: {}", d.span, d.message),
                "the file is read as this says, which may not be what was meant",
                format!("edit {} so that it says what is meant", d.span),
            )
        })
        .collect()
}

/// The adverts of the instances, arriving and sent, checked against the nftables
/// ruleset and the legacy iptables rules, with one note of what was read (nothing is sent: a rule lvsd cannot
/// evaluate makes its verdict a warning, not a probe).
fn firewall_findings(config: &Config, sys: &SystemView) -> Vec<Finding> {
    if config.instances.is_empty() {
        return Vec::new();
    }
    // For a multicast instance one advert each way, to its group; for a unicast one, one
    // each way per peer. The same advert twice is checked once.
    type Key<'a> = (&'a str, bool, bool, bool, Option<IpAddr>, Option<IpAddr>);
    let mut keys: BTreeSet<Key> = BTreeSet::new();
    for i in &config.instances {
        let (iface, v6) = (i.interface.as_str(), i.is_ipv6());
        let own = i.unicast_src_ip.or(i.mcast_src_ip);
        if i.unicast_peers.is_empty() {
            let group = crate::vrrp::params::mcast_group(&config.global, i, v6);
            keys.insert((iface, v6, false, false, None, Some(group)));
            keys.insert((iface, v6, false, true, own, Some(group)));
        }
        for p in &i.unicast_peers {
            keys.insert((iface, v6, true, false, Some(p.addr), i.unicast_src_ip));
            keys.insert((iface, v6, true, true, i.unicast_src_ip, Some(p.addr)));
        }
    }
    let adverts: Vec<firewall::Advert> = keys
        .iter()
        .map(
            |&(iface, v6, unicast, outgoing, src, dst)| firewall::Advert {
                v6,
                iface,
                unicast,
                outgoing,
                src,
                dst,
            },
        )
        .collect();
    let mut out = Vec::new();
    let mut read = Vec::new();
    match &sys.nft_ruleset {
        Some(rules) => {
            out.extend(firewall::vrrp_blocked(rules, &adverts));
            read.push("the nftables ruleset");
        }
        None => read.push("no nftables ruleset (no nft, or it failed)"),
    }
    for (save, v6, name) in [
        (&sys.iptables_legacy, false, "the iptables-legacy rules"),
        (&sys.ip6tables_legacy, true, "the ip6tables-legacy rules"),
    ] {
        if let Some(save) = save {
            out.extend(iptables::vrrp_blocked(save, v6, &adverts));
            read.push(name);
        }
    }
    out.push(finding(
        Level::Info,
        "firewall_read",
        format!(
            "VRRP adverts (protocol 112), arriving and sent, checked against {}, from the rules alone: no packet sent",
            read.join(", ")
        ),
        "a drop found is certain when every earlier rule could be evaluated, else a warning",
        String::new(),
    ));
    out
}

/// The interface name of `use_vmac [NAME]` (keepalived's default: `vrrp.VRID`, or the
/// `vmac_prefix` of global_defs).
pub fn vmac_name(config: &Config, written: &str, vrid: u8) -> String {
    if written.is_empty() {
        crate::vrrp::vmac::default_name(config.global.vmac_prefix.as_deref(), vrid)
    } else {
        written.to_string()
    }
}

fn show(v: Option<i64>) -> String {
    v.map_or_else(|| "unknown".into(), |v| v.to_string())
}

/// The findings as an operator reads them, one block each.
pub fn render(findings: &[Finding]) -> String {
    let mut s = String::new();
    for f in findings {
        let tag = match f.level {
            Level::Problem => "PROBLEM",
            Level::Warning => "WARNING",
            Level::Info => "info",
        };
        s.push_str(&format!("{tag} [{}]: {}\n", f.check, f.what));
        s.push_str(&format!("    consequence: {}\n", f.consequence));
        if !f.fix.is_empty() {
            s.push_str(&format!("    fix: {}\n", f.fix));
        }
    }
    let problems = findings
        .iter()
        .filter(|f| f.level == Level::Problem)
        .count();
    let warnings = findings
        .iter()
        .filter(|f| f.level == Level::Warning)
        .count();
    s.push_str(&format!("{problems} problem(s), {warnings} warning(s)\n"));
    s
}

/// The exit status: 1 when anything is a problem, else 0.
pub fn exit_code(findings: &[Finding]) -> u8 {
    u8::from(findings.iter().any(|f| f.level == Level::Problem))
}

/// Sysctl values by dotted name, as [`SystemView`] holds them.
pub type Sysctls = BTreeMap<String, i64>;

/// The checks of `f` that found something (not the info lines), for tests.
#[cfg(test)]
pub(crate) fn problem_checks(f: &[Finding]) -> Vec<&'static str> {
    f.iter()
        .filter(|f| f.level != Level::Info)
        .map(|f| f.check)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_str;
    use std::path::Path;

    fn conf(text: &str) -> Config {
        parse_str(text, Path::new("t.conf"), "x")
            .expect("loads")
            .config
    }

    fn healthy() -> SystemView {
        let mut v = SystemView {
            ipvs: true,
            local_nets: vec![("eth1".into(), "10.0.1.1".parse().expect("ip"), 24)],
            ..Default::default()
        };
        v.modules.insert("ip_vs_wlc".into());
        for (k, val) in [
            ("net.ipv4.ip_forward", 1),
            ("net.ipv4.vs.expire_nodest_conn", 1),
            ("net.ipv4.vs.expire_quiescent_template", 1),
            ("net.ipv4.conf.all.rp_filter", 0),
            ("net.ipv4.conf.eth0.rp_filter", 2),
        ] {
            v.sysctls.insert(k.into(), val);
        }
        v
    }

    const NAT: &str = "vrrp_instance V { interface eth0\n virtual_router_id 1\n \
        virtual_ipaddress { 10.0.0.1/24 } }\n\
        virtual_server 10.0.0.1 80 { lb_algo wlc\n lb_kind NAT\n protocol TCP\n \
        persistence_timeout 60\n inhibit_on_failure\n real_server 10.0.1.2 80 { } }\n";

    use crate::doctor::problem_checks as checks;

    #[test]
    fn a_healthy_nat_director_has_nothing_to_fix() {
        let f = director(&conf(NAT), &healthy());
        assert_eq!(checks(&f), Vec::<&str>::new(), "{f:?}");
        assert_eq!(exit_code(&f), 0);
        // The effective rp_filter is the larger of all and the interface's.
        let rp = f
            .iter()
            .find(|f| f.check == "rp_filter")
            .expect("rp_filter");
        assert!(rp.what.contains("eth0: 2 (all 0, eth0 2"), "{}", rp.what);
    }

    #[test]
    fn each_fault_is_named_with_its_fix() {
        let c = conf(NAT);
        let mut sys = healthy();
        sys.sysctls.insert("net.ipv4.ip_forward".into(), 0);
        let f = director(&c, &sys);
        assert_eq!(checks(&f), ["ip_forward"]);
        assert_eq!(
            f[0].fix,
            "sysctl -w net.ipv4.ip_forward=1 (and set it in /etc/sysctl.d/)"
        );
        assert_eq!(exit_code(&f), 1);

        let mut sys = healthy();
        sys.ipvs = false;
        assert_eq!(checks(&director(&c, &sys)), ["ipvs_module"]);

        let mut sys = healthy();
        sys.modules.clear();
        assert_eq!(checks(&director(&c, &sys)), ["scheduler_module"]);
        sys.module_files.insert("ip_vs_wlc".into());
        assert!(
            checks(&director(&c, &sys)).is_empty(),
            "a loadable module will do"
        );

        let mut sys = healthy();
        sys.local_addrs.insert("10.0.1.2".parse().expect("ip"));
        sys.sysctls.remove("net.ipv4.vs.expire_quiescent_template");
        sys.sysctls
            .insert("net.ipv4.vs.expire_nodest_conn".into(), 0);
        let f = director(&c, &sys);
        assert_eq!(
            checks(&f),
            [
                "localnode",
                "expire_quiescent_template",
                "expire_nodest_conn"
            ]
        );
        assert_eq!(exit_code(&f), 0, "warnings only");
        assert!(render(&f).contains("0 problem(s), 3 warning(s)"));
    }

    #[test]
    fn the_sync_daemon_interface() {
        let c = conf(&format!("global_defs {{ lvs_sync_daemon eth1 V }}\n{NAT}"));
        let mut sys = healthy();
        assert_eq!(checks(&director(&c, &sys)), ["sync_daemon"]);
        sys.links.insert("eth1".into(), (false, 1500));
        let f = director(&c, &sys);
        assert_eq!(checks(&f), ["sync_daemon"]);
        assert_eq!(f[0].level, Level::Warning);
        sys.links.insert("eth1".into(), (true, 1500));
        let f = director(&c, &sys);
        assert!(checks(&f).is_empty());
        let info = f.iter().find(|f| f.check == "sync_daemon").expect("info");
        assert!(info.what.contains("on eth1 (MTU 1500):"), "{}", info.what);
    }

    #[test]
    fn use_vmac_sysctls() {
        let c = conf(
            "vrrp_instance V { interface eth0\n virtual_router_id 7\n use_vmac\n \
             virtual_ipaddress { 10.0.0.1/24 } }\n",
        );
        let mut sys = healthy();
        // The vmac is not there: nothing to say.
        assert!(checks(&director(&c, &sys)).is_empty());
        for (k, v) in [
            ("vrrp.7.arp_ignore", 1),
            ("vrrp.7.accept_local", 1),
            ("vrrp.7.rp_filter", 0),
            ("eth0.arp_ignore", 1),
            ("eth0.arp_filter", 1),
        ] {
            sys.sysctls.insert(format!("net.ipv4.conf.{k}"), v);
        }
        assert!(checks(&director(&c, &sys)).is_empty());
        sys.sysctls
            .insert("net.ipv4.conf.eth0.arp_filter".into(), 0);
        sys.sysctls.insert("net.ipv4.conf.all.rp_filter".into(), 2);
        let f = director(&c, &sys);
        assert_eq!(checks(&f), ["vmac_sysctls"]);
        assert!(
            f[0].fix.starts_with(
                "sysctl -w net.ipv4.conf.vrrp.7.rp_filter=0 net.ipv4.conf.all.rp_filter=0"
            ) && f[0].fix.ends_with("net.ipv4.conf.eth0.arp_filter=1"),
            "{}",
            f[0].fix
        );
    }

    #[test]
    fn a_dr_port_mapping_is_named_from_the_load_warning() {
        let loaded = parse_str(
            "virtual_server 10.0.0.1 80 { lb_kind DR\n protocol TCP\n lb_algo rr\n \
             real_server 10.0.1.2 8080 { } }\n",
            Path::new("t.conf"),
            "x",
        )
        .expect("loads");
        let f = config_warnings(&loaded.warnings);
        assert_eq!(checks(&f), ["config"]);
        assert!(
            f[0].what.starts_with("t.conf:4:23: lb_kind DR:")
                && f[0].what.contains("real server port 8080 differs")
                && f[0].what.contains("only NAT can change ports"),
            "{}",
            f[0].what
        );
    }

    #[test]
    fn the_firewall_check_says_what_it_read() {
        let c = conf(
            "vrrp_instance V { interface eth0\n virtual_router_id 1\n \
                      virtual_ipaddress { 10.0.0.1/24 } }\n",
        );
        let mut sys = healthy();
        sys.iptables_legacy =
            Some("*filter\n:INPUT ACCEPT [0:0]\n-A INPUT -p vrrp -j DROP\nCOMMIT\n".into());
        let f = director(&c, &sys);
        assert_eq!(checks(&f), ["firewall_vrrp"]);
        assert!(
            f[0].what.starts_with("iptables-legacy drops"),
            "{}",
            f[0].what
        );
        let read = f.iter().find(|f| f.check == "firewall_read").expect("note");
        assert_eq!(
            read.what,
            "VRRP adverts (protocol 112), arriving and sent, checked against no nftables ruleset (no nft, or it failed), the iptables-legacy rules, from the rules alone: no packet sent"
        );
    }

    #[test]
    fn adverts_are_checked_both_ways_with_the_files_addresses() {
        let uni = conf(
            "vrrp_instance V { interface eth0\n virtual_router_id 1\n \
             unicast_src_ip 10.0.0.1\n unicast_peer { 10.0.0.2\n 10.0.0.3 }\n \
             virtual_ipaddress { 10.0.0.10/24 } }\n",
        );
        let mut sys = healthy();
        sys.iptables_legacy = Some(
            "*filter\n:INPUT DROP [0:0]\n:OUTPUT ACCEPT [0:0]\n\
             -A INPUT -d 10.0.0.1/32 -p vrrp -j ACCEPT\n\
             -A OUTPUT -d 10.0.0.3/32 -p vrrp -j DROP\nCOMMIT\n"
                .into(),
        );
        let f = director(&uni, &sys);
        assert_eq!(checks(&f), ["firewall_vrrp"], "{f:?}");
        assert_eq!(f[0].level, Level::Problem);
        assert!(
            f[0].what.contains("sent on eth0 to unicast peer 10.0.0.3"),
            "{}",
            f[0].what
        );
        // Multicast: the group of the file (vrrp_mcast_group4) is the destination.
        let mcast = conf(
            "global_defs { vrrp_mcast_group4 224.0.0.19 }\n\
             vrrp_instance V { interface eth0\n virtual_router_id 1\n \
             virtual_ipaddress { 10.0.0.10/24 } }\n",
        );
        sys.iptables_legacy = Some(
            "*filter\n:INPUT DROP [0:0]\n-A INPUT -d 224.0.0.19 -p vrrp -j ACCEPT\nCOMMIT\n".into(),
        );
        assert!(checks(&director(&mcast, &sys)).is_empty());
        sys.iptables_legacy = Some(
            "*filter\n:INPUT DROP [0:0]\n-A INPUT -d 224.0.0.18 -p vrrp -j ACCEPT\nCOMMIT\n".into(),
        );
        let f = director(&mcast, &sys);
        assert_eq!(checks(&f), ["firewall_vrrp"]);
        assert_eq!(f[0].level, Level::Problem, "decided: {f:?}");
    }

    #[test]
    fn a_vrrp_only_file_asks_nothing_of_ipvs() {
        let c = conf(
            "vrrp_instance V { interface eth0\n virtual_router_id 1\n \
                      virtual_ipaddress { 10.0.0.1/24 } }\n",
        );
        let sys = SystemView::default();
        let f = director(&c, &sys);
        assert!(checks(&f).is_empty(), "{f:?}");
    }

    #[test]
    fn a_nat_real_server_on_no_network_of_the_director() {
        let mut sys = healthy();
        sys.local_nets.clear();
        let f = director(&conf(NAT), &sys);
        assert_eq!(checks(&f), ["nat_real_server_route"]);
        assert!(f[0].what.contains("10.0.1.2"), "{}", f[0].what);
    }
}
