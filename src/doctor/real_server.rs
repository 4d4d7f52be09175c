//! `lvsd real-server doctor`: the real server's side of the DR and TUN services checked
//! against the live system: the VIPs on `lo` or the tunnel device as host addresses, the
//! tunnel devices there and up, no ARP answered for the VIPs, the tunnel's effective
//! reverse-path filter, and a service listening where the director's packets arrive;
//! for the NAT services, the route of the replies through the director
//! ([`super::nat_route`]).
//! [`real_server`] is pure over an [`RsView`]; [`RsView::read`] reads the system.

use super::nat_route::{NatSide, RouteAnswer};
use super::{finding, Finding, Level, Sysctls};
use crate::config::Protocol;
use crate::realserver::plan::{device_module, Plan};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// What the real-server checks look at.
#[derive(Debug, Clone, Default)]
pub struct RsView {
    /// Every address: (device, address, prefix length).
    pub addrs: Vec<(String, IpAddr, u8)>,
    /// Every link and whether it is up.
    pub links: BTreeMap<String, bool>,
    /// net.ipv4.conf.*.{arp_ignore,arp_announce,rp_filter}, by dotted name.
    pub sysctls: Sysctls,
    /// Listening TCP sockets.
    pub listeners: Vec<(IpAddr, u16)>,
    /// The open GUE/FOU receive ports (`ip fou show`, `ip -6 fou show`), with the family
    /// (true: IPv6); None when they cannot be read (no fou module: nothing is open).
    pub fou_ports: Option<Vec<(u16, bool)>>,
    /// For each NAT real-server address of this host: the address standing for the
    /// clients and the kernel's route toward it from that address.
    pub nat_routes: BTreeMap<IpAddr, (IpAddr, RouteAnswer)>,
}

impl RsView {
    fn conf(&self, conf: &str, key: &str) -> Option<i64> {
        self.sysctls
            .get(&format!("net.ipv4.conf.{conf}.{key}"))
            .copied()
    }

    /// The value the kernel uses: the larger of `all` and the device's.
    fn effective(&self, dev: &str, key: &str) -> (Option<i64>, Option<i64>, Option<i64>) {
        let all = self.conf("all", key);
        let own = self.conf(dev, key);
        (all.max(own), all, own)
    }

    /// Reads the view of this host (its network namespace), with the routes toward
    /// the clients of the NAT services of `nat`.
    pub fn read(nat: &NatSide) -> RsView {
        let mut v = RsView::default();
        if let Ok(addrs) = nix::ifaddrs::getifaddrs() {
            for a in addrs {
                let up = a.flags.contains(nix::net::if_::InterfaceFlags::IFF_UP);
                *v.links.entry(a.interface_name).or_insert(up) |= up;
            }
        }
        v.addrs = super::system::interface_addrs();
        for s in &nat.services {
            if v.nat_routes.contains_key(&s.rip) {
                continue;
            }
            let probe = super::nat_route::client_probe(s.rip.is_ipv6(), &v.addrs);
            if let Some(answer) = super::nat_route::route_get(probe, Some(s.rip)) {
                v.nat_routes.insert(s.rip, (probe, answer));
            }
        }
        if let Ok(dirs) = std::fs::read_dir("/proc/sys/net/ipv4/conf") {
            for d in dirs.flatten() {
                let conf = d.file_name().to_string_lossy().into_owned();
                for key in ["arp_ignore", "arp_announce", "rp_filter"] {
                    if let Some(val) = std::fs::read_to_string(d.path().join(key))
                        .ok()
                        .and_then(|t| t.trim().parse::<i64>().ok())
                    {
                        v.sysctls.insert(format!("net.ipv4.conf.{conf}.{key}"), val);
                    }
                }
            }
        }
        v.listeners = crate::realserver::listeners::read();
        v.fou_ports = read_fou_ports();
        v
    }
}

/// `ip [-6] fou show`: the ports of its `port N` words. Without the fou module the
/// command fails and nothing is open: an empty list.
fn read_fou_ports() -> Option<Vec<(u16, bool)>> {
    let mut ports = Vec::new();
    for v6 in [false, true] {
        let mut cmd = std::process::Command::new("ip");
        if v6 {
            cmd.arg("-6");
        }
        let out = cmd.args(["fou", "show"]).output().ok()?;
        if !out.status.success() {
            continue;
        }
        let text = String::from_utf8_lossy(&out.stdout);
        ports.extend(parse_fou_show(&text).into_iter().map(|p| (p, v6)));
    }
    Some(ports)
}

/// The ports of `ip fou show` lines (`port 6080 gue`).
fn parse_fou_show(text: &str) -> Vec<u16> {
    text.lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            w.by_ref().find(|x| *x == "port")?;
            w.next()?.parse().ok()
        })
        .collect()
}

fn show(v: Option<i64>) -> String {
    v.map_or_else(|| "unknown".into(), |v| v.to_string())
}

/// The network `addr/len` (for the message about a wide mask).
fn network(addr: IpAddr, len: u8) -> String {
    let net = match addr {
        IpAddr::V4(a) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(len)).unwrap_or(0);
            IpAddr::V4((a.to_bits() & mask).into())
        }
        IpAddr::V6(a) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
            IpAddr::V6((a.to_bits() & mask).into())
        }
    };
    format!("{net}/{len}")
}

/// The real server's findings for `plan` (its DR and TUN services) and `nat` (its NAT
/// services) on the system `v`, problems first.
pub fn real_server(plan: &Plan, nat: &NatSide, v: &RsView) -> Vec<Finding> {
    let mut out = Vec::new();
    for n in &plan.notes {
        out.push(finding(
            Level::Info,
            "not_checked",
            n.clone(),
            "its VIPs are not checked",
            String::new(),
        ));
    }
    out.extend(super::nat_route::real_server_side(
        nat,
        &v.addrs,
        &v.nat_routes,
    ));
    if plan.addresses.is_empty() && nat.services.is_empty() {
        out.push(finding(
            Level::Info,
            "no_services",
            "no DR, TUN or NAT service in the file for this host".into(),
            "nothing to set up on this real server",
            String::new(),
        ));
    }
    for a in &plan.addresses {
        let host_len = if a.addr.is_ipv6() { 128 } else { 32 };
        match v.links.get(&a.device) {
            None => {
                let module = device_module(&a.device).unwrap_or("the tunnel module");
                out.push(finding(
                    Level::Problem,
                    "tunnel_device",
                    format!("{} does not exist (the module {module} is not loaded)", a.device),
                    "the tunnelled packets for the VIP have no device to be decapsulated to: dropped",
                    format!("modprobe {module} (and add it to /etc/modules-load.d/), or run lvsd real-server"),
                ));
                continue;
            }
            Some(false) if a.device != "lo" => out.push(finding(
                Level::Problem,
                "tunnel_device",
                format!("{} is down", a.device),
                "the tunnelled packets for the VIP are dropped",
                format!("ip link set {} up (lvsd real-server does it)", a.device),
            )),
            _ => {}
        }
        // A DR VIP on an interface of the segment: arp_ignore=1 still answers ARP for the
        // receiving interface's own addresses.
        for (d, _, len) in v.addrs.iter().filter(|(d, ip, _)| {
            *ip == a.addr && *d != a.device && d != "lo" && device_module(d).is_none()
        }) {
            out.push(finding(
                Level::Problem,
                "vip_on_interface",
                format!("{}/{len} is on {d}, not only on {}", a.addr, a.device),
                "an address of the interface itself is answered in ARP whatever arp_ignore says: the router may send the VIP's traffic here, around the director",
                format!("ip addr del {}/{len} dev {d}", a.addr),
            ));
        }
        let on_dev: Vec<u8> = v
            .addrs
            .iter()
            .filter(|(d, ip, _)| *d == a.device && *ip == a.addr)
            .map(|(_, _, len)| *len)
            .collect();
        if on_dev.contains(&a.prefix_len) {
            continue;
        }
        if let Some(&len) = on_dev.iter().find(|l| **l < host_len) {
            out.push(finding(
                Level::Problem,
                "vip_netmask",
                format!("{}/{len} on {}: a wider mask than /{host_len}", a.addr, a.device),
                &format!(
                    "this host takes all of {} as its own: traffic for the other addresses of that subnet is answered here (or dropped) instead of reaching them",
                    network(a.addr, len)
                ),
                format!(
                    "ip addr del {}/{len} dev {d}; ip addr add {}/{host_len} dev {d}",
                    a.addr,
                    a.addr,
                    d = a.device
                ),
            ));
        } else {
            out.push(finding(
                Level::Problem,
                "vip_missing",
                format!(
                    "{} ({}) is not on {}",
                    a.addr,
                    method_of(plan, a.addr),
                    a.device
                ),
                "the packets the director forwards for this VIP are not for this host: dropped",
                format!(
                    "lvsd real-server (or ip addr add {}/{host_len} dev {})",
                    a.addr, a.device
                ),
            ));
        }
    }
    // ARP: any IPv4 VIP is a local address the host answers ARP for on every interface
    // unless arp_ignore says otherwise (the kernel uses the larger of all and the
    // interface's value, for arp_announce too).
    if plan.addresses.iter().any(|a| a.addr.is_ipv4()) {
        let arp_devs: Vec<&String> = v
            .links
            .iter()
            .filter(|(d, up)| {
                **up && d.as_str() != "lo"
                    && device_module(d).is_none()
                    && v.addrs.iter().any(|(x, ip, _)| x == *d && ip.is_ipv4())
            })
            .map(|(d, _)| d)
            .collect();
        for d in arp_devs {
            let (eff, all, own) = v.effective(d, "arp_ignore");
            if eff.is_some_and(|e| e < 1) {
                out.push(finding(
                    Level::Problem,
                    "arp_ignore",
                    format!("{d} answers ARP for the VIPs (arp_ignore: all {}, {d} {})", show(all), show(own)),
                    "the router may learn this host's MAC for a VIP: clients' traffic bypasses the director and sticks to this real server",
                    "sysctl -w net.ipv4.conf.all.arp_ignore=1 (and set it in /etc/sysctl.d/)".into(),
                ));
            }
            let (eff, all, own) = v.effective(d, "arp_announce");
            if eff.is_some_and(|e| e < 2) {
                out.push(finding(
                    Level::Warning,
                    "arp_announce",
                    format!("{d} may announce a VIP as the source of its ARP requests (arp_announce: all {}, {d} {})", show(all), show(own)),
                    "neighbours that see such a request map the VIP to this host's MAC",
                    "sysctl -w net.ipv4.conf.all.arp_announce=2 (and set it in /etc/sysctl.d/)".into(),
                ));
            }
        }
    }
    // GUE: the UDP port the director encapsulates to must be open for fou.
    if let Some(open) = &v.fou_ports {
        for &(port, v6) in plan.fou_ports.iter().filter(|p| !open.contains(p)) {
            out.push(finding(
                Level::Problem,
                "gue_port",
                format!("GUE port {port} is not open (`ip{} fou show` lists no port {port})", if v6 { " -6" } else { "" }),
                "the director's GUE packets to this port are not decapsulated: dropped (or answered with ICMP port unreachable)",
                format!("ip{} fou add port {port} gue (lvsd real-server does it)", if v6 { " -6" } else { "" }),
            ));
        }
    }
    // The decapsulated packet comes in on the tunnel from the client's address.
    for dev in &plan.tunnel_devices {
        if !v.links.contains_key(dev) || dev.starts_with("ip6") {
            continue;
        }
        let (eff, all, own) = v.effective(dev, "rp_filter");
        if eff == Some(1) {
            let mut fix = format!("sysctl -w net.ipv4.conf.{dev}.rp_filter=0");
            if all == Some(1) {
                fix.push_str(" net.ipv4.conf.all.rp_filter=2");
            }
            out.push(finding(
                Level::Problem,
                "rp_filter",
                format!(
                    "strict reverse-path filter on {dev} (all {}, {dev} {}; the kernel uses the larger)",
                    show(all),
                    show(own)
                ),
                "the route back to the client does not use the tunnel: every tunnelled packet is dropped",
                fix,
            ));
        }
    }
    for s in &plan.services {
        if s.protocol != Protocol::Tcp || s.port == 0 {
            continue;
        }
        let on_port: Vec<IpAddr> = v
            .listeners
            .iter()
            .filter(|(_, p)| *p == s.port)
            .map(|(a, _)| *a)
            .collect();
        let covers =
            |a: &IpAddr| *a == s.vip || a.is_unspecified() && (a.is_ipv6() || s.vip.is_ipv4());
        if on_port.iter().any(covers) {
            continue;
        }
        if on_port.is_empty() {
            out.push(finding(
                Level::Warning,
                "listener",
                format!("nothing listens on TCP port {} (for {})", s.port, s.vip),
                "the connections the director sends here are refused",
                format!("start the service on port {}", s.port),
            ));
        } else {
            let list: Vec<String> = on_port.iter().map(IpAddr::to_string).collect();
            out.push(finding(
                Level::Problem,
                "listener",
                format!(
                    "TCP port {} is listened on {} only, not on the VIP {}",
                    s.port,
                    list.join(", "),
                    s.vip
                ),
                &format!(
                    "connections to {} arrive with the VIP as destination: refused (RST)",
                    s.method
                ),
                format!(
                    "bind the service to {} or to every address ({})",
                    s.vip,
                    if s.vip.is_ipv4() { "0.0.0.0" } else { "::" }
                ),
            ));
        }
    }
    out.sort_by_key(|f| f.level);
    out
}

fn method_of(plan: &Plan, vip: IpAddr) -> String {
    plan.services
        .iter()
        .find(|s| s.vip == vip)
        .map_or_else(String::new, |s| s.method.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_str;
    use std::collections::BTreeSet;
    use std::path::Path;

    fn plan(text: &str) -> Plan {
        let c = parse_str(text, Path::new("t.conf"), "x")
            .expect("loads")
            .config;
        Plan::from_config(&c, &BTreeSet::from(["10.0.0.2".parse().expect("ip")]))
    }

    const DR: &str = "virtual_server 192.0.2.10 80 { lb_kind DR\n protocol TCP\n \
                      real_server 10.0.0.2 80 { } }\n";
    const TUN: &str = "virtual_server 192.0.2.20 80 { lb_kind TUN\n protocol TCP\n \
                       real_server 10.0.0.2 80 { } }\n";

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    /// A real server set up right for `vip` on `dev`.
    fn good(vip: &str, dev: &str) -> RsView {
        let mut v = RsView::default();
        v.links.insert("lo".into(), true);
        v.links.insert("eth0".into(), true);
        v.links.insert(dev.into(), true);
        v.addrs.push(("eth0".into(), ip("10.0.0.2"), 24));
        v.addrs.push((dev.into(), ip(vip), 32));
        for (k, val) in [
            ("all.arp_ignore", 1),
            ("all.arp_announce", 2),
            ("eth0.arp_ignore", 0),
            ("eth0.arp_announce", 0),
            ("all.rp_filter", 2),
            ("tunl0.rp_filter", 0),
        ] {
            v.sysctls.insert(format!("net.ipv4.conf.{k}"), val);
        }
        v.listeners.push((ip("0.0.0.0"), 80));
        v
    }

    use crate::doctor::problem_checks as checks;

    #[test]
    fn a_good_dr_real_server_has_nothing_to_fix() {
        let f = real_server(&plan(DR), &NatSide::default(), &good("192.0.2.10", "lo"));
        assert!(checks(&f).is_empty(), "{f:?}");
    }

    #[test]
    fn a_wide_mask_and_arp_answered_are_named() {
        let mut v = good("192.0.2.10", "lo");
        v.addrs.retain(|(d, _, _)| d != "lo");
        v.addrs.push(("lo".into(), ip("192.0.2.10"), 30));
        v.sysctls.insert("net.ipv4.conf.all.arp_ignore".into(), 0);
        let f = real_server(&plan(DR), &NatSide::default(), &v);
        assert_eq!(checks(&f), ["vip_netmask", "arp_ignore"], "{f:?}");
        assert!(
            f[0].consequence.contains("192.0.2.8/30"),
            "{}",
            f[0].consequence
        );
        assert_eq!(
            f[0].fix,
            "ip addr del 192.0.2.10/30 dev lo; ip addr add 192.0.2.10/32 dev lo"
        );
        assert!(
            f[1].what.contains("arp_ignore: all 0, eth0 0"),
            "{}",
            f[1].what
        );
        // The interface's own value counts too (the larger wins).
        v.sysctls.insert("net.ipv4.conf.eth0.arp_ignore".into(), 1);
        assert_eq!(
            checks(&real_server(&plan(DR), &NatSide::default(), &v)),
            ["vip_netmask"]
        );
    }

    #[test]
    fn a_vip_on_the_segment_interface() {
        let mut v = good("192.0.2.10", "lo");
        v.addrs.push(("eth0".into(), ip("192.0.2.10"), 24));
        let f = real_server(&plan(DR), &NatSide::default(), &v);
        assert_eq!(checks(&f), ["vip_on_interface"]);
        assert_eq!(f[0].fix, "ip addr del 192.0.2.10/24 dev eth0");
    }

    #[test]
    fn a_missing_vip_and_a_listener_on_the_rip_only() {
        let mut v = good("192.0.2.10", "lo");
        v.addrs.retain(|(d, _, _)| d != "lo");
        v.listeners = vec![(ip("10.0.0.2"), 80)];
        let f = real_server(&plan(DR), &NatSide::default(), &v);
        assert_eq!(checks(&f), ["vip_missing", "listener"], "{f:?}");
        assert!(
            f[1].what.contains("listened on 10.0.0.2 only"),
            "{}",
            f[1].what
        );
        v.listeners = vec![];
        let f = real_server(&plan(DR), &NatSide::default(), &v);
        assert_eq!(checks(&f), ["vip_missing", "listener"]);
        assert_eq!(f[1].level, Level::Warning);
        // A listener on the VIP itself, or on :: , will do.
        v.listeners = vec![(ip("::"), 80)];
        assert_eq!(
            checks(&real_server(&plan(DR), &NatSide::default(), &v)),
            ["vip_missing"]
        );
    }

    #[test]
    fn tun_faults() {
        let p = plan(TUN);
        assert!(checks(&real_server(
            &p,
            &NatSide::default(),
            &good("192.0.2.20", "tunl0")
        ))
        .is_empty());
        // No ipip module: no tunl0.
        let mut v = good("192.0.2.20", "tunl0");
        v.links.remove("tunl0");
        let f = real_server(&p, &NatSide::default(), &v);
        assert_eq!(checks(&f), ["tunnel_device"]);
        assert!(f[0].fix.starts_with("modprobe ipip"), "{}", f[0].fix);
        // A strict all.rp_filter wins over tunl0's 0.
        let mut v = good("192.0.2.20", "tunl0");
        v.sysctls.insert("net.ipv4.conf.all.rp_filter".into(), 1);
        let f = real_server(&p, &NatSide::default(), &v);
        assert_eq!(checks(&f), ["rp_filter"]);
        assert_eq!(
            f[0].fix,
            "sysctl -w net.ipv4.conf.tunl0.rp_filter=0 net.ipv4.conf.all.rp_filter=2"
        );
    }

    #[test]
    fn a_gue_port_not_open_is_named() {
        let p = plan(
            "virtual_server 192.0.2.30 80 { lb_kind TUN\n protocol TCP\n \
             real_server 10.0.0.2 80 { lvs_method TUN type gue port 6080 } }\n",
        );
        let mut v = good("192.0.2.30", "tunl0");
        v.fou_ports = Some(vec![(6080, false)]);
        assert!(checks(&real_server(&p, &NatSide::default(), &v)).is_empty());
        // (unreadable: not said either way)
        v.fou_ports = None;
        assert!(checks(&real_server(&p, &NatSide::default(), &v)).is_empty());
        v.fou_ports = Some(vec![(7070, false), (6080, true)]);
        let f = real_server(&p, &NatSide::default(), &v);
        assert_eq!(checks(&f), ["gue_port"]);
        assert_eq!(
            f[0].fix,
            "ip fou add port 6080 gue (lvsd real-server does it)"
        );
        assert_eq!(
            parse_fou_show("port 6080 gue\nport 5555 ipproto 4\n"),
            [6080, 5555]
        );
    }
}
