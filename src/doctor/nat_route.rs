//! The way back of NAT services: a NAT real server's replies must pass through the
//! director, whose IPVS puts the VIP back as their source; replies that go around it
//! reach the clients from the real server's own address and are dropped there.
//!
//! Both ends are checked from the same keepalived.conf. On a real server
//! ([`real_server_side`]): the route it uses toward the clients (the kernel's answer for
//! an address outside all its networks, from its real-server address) must have as
//! gateway an address the file gives the director — a VRRP `virtual_ipaddress` on this
//! host's network first, else a `unicast_src_ip` or `unicast_peer`. On the director
//! ([`director_side`]): each NAT real server must be on a network of this director (an
//! address it holds, or a VRRP VIP of the file with that network), else its replies go
//! to another router. The checks are pure; [`route_get`] asks the kernel (`ip route get`).

use super::{finding, Finding, Level};
use crate::config::{Config, LbKind, VsKey, VsgMember};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;

/// An address the file gives the director, and where it comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectorAddr {
    pub addr: IpAddr,
    /// The prefix length written (a VRRP VIP); None for unicast_src_ip and peers.
    pub prefix_len: Option<u8>,
    pub instance: String,
    pub kind: AddrKind,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum AddrKind {
    /// A `virtual_ipaddress` (or `_excluded`): held by whichever director is master.
    Vip,
    /// `unicast_src_ip`: one director's own address.
    UnicastSrc,
    /// A `unicast_peer`: the other director's own address.
    Peer,
}

impl fmt::Display for DirectorAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.kind {
            AddrKind::Vip => "a virtual_ipaddress",
            AddrKind::UnicastSrc => "the unicast_src_ip",
            AddrKind::Peer => "a unicast_peer",
        };
        write!(
            f,
            "{} ({what} of vrrp_instance {})",
            self.addr, self.instance
        )
    }
}

/// One NAT service this host is a real server of.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct NatService {
    /// This host's address as the file names it.
    pub rip: IpAddr,
    pub vip: Option<IpAddr>,
    pub label: String,
}

/// What the file says of the NAT services of this host and of the director's addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NatSide {
    pub services: Vec<NatService>,
    pub director: Vec<DirectorAddr>,
}

fn is_nat(vs: &crate::config::VirtualServer, kind: Option<LbKind>) -> bool {
    kind.unwrap_or(vs.lb_kind) == LbKind::Nat
}

/// The director's addresses the file names: every instance's VIPs, unicast_src_ip and
/// unicast peers.
pub fn director_addrs(config: &Config) -> Vec<DirectorAddr> {
    let mut out = Vec::new();
    for i in &config.instances {
        for v in i.all_vips() {
            out.push(DirectorAddr {
                addr: v.addr,
                prefix_len: Some(v.prefix_len),
                instance: i.name.clone(),
                kind: AddrKind::Vip,
            });
        }
        if let Some(a) = i.unicast_src_ip {
            out.push(DirectorAddr {
                addr: a,
                prefix_len: None,
                instance: i.name.clone(),
                kind: AddrKind::UnicastSrc,
            });
        }
        for p in &i.unicast_peers {
            out.push(DirectorAddr {
                addr: p.addr,
                prefix_len: None,
                instance: i.name.clone(),
                kind: AddrKind::Peer,
            });
        }
    }
    out
}

impl NatSide {
    /// The NAT services of `config` whose real server (or sorry server) is one of
    /// `local`, and the director's addresses.
    pub fn from_config(config: &Config, local: &BTreeSet<IpAddr>) -> NatSide {
        let mut services = BTreeSet::new();
        for vs in &config.virtual_servers {
            let label = crate::lvs::build::VsLabel(vs).to_string();
            let vip = match &vs.key {
                VsKey::Addr { addr, .. } => Some(*addr),
                VsKey::Fwmark { .. } => None,
                VsKey::Group(name) => config
                    .virtual_server_groups
                    .iter()
                    .filter(|g| &g.name == name)
                    .flat_map(|g| g.entries.iter().flat_map(|e| e.expand()))
                    .find_map(|m| match m {
                        VsgMember::Addr(a, _) => Some(a),
                        VsgMember::Fwmark(..) => None,
                    }),
            };
            let rss = vs
                .real_servers
                .iter()
                .map(|r| (r.addr, r.lvs_method))
                .chain(vs.sorry_server.iter().map(|s| (s.addr, s.lvs_method)));
            for (rip, kind) in rss {
                if is_nat(vs, kind) && local.contains(&rip) {
                    services.insert(NatService {
                        rip,
                        vip,
                        label: label.clone(),
                    });
                }
            }
        }
        NatSide {
            services: services.into_iter().collect(),
            director: director_addrs(config),
        }
    }
}

/// The kernel's route toward an address: its gateway (None: on the link) and device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteTo {
    pub gateway: Option<IpAddr>,
    pub dev: String,
}

/// The kernel's answer: the route, or why there is none (its message).
pub type RouteAnswer = Result<RouteTo, String>;

/// An address that stands for the clients: outside every network of `addrs` (this
/// host's addresses with their prefix lengths), so that its route is the one replies to
/// any outside client take (the default route, or a policy rule's).
pub fn client_probe(v6: bool, addrs: &[(String, IpAddr, u8)]) -> IpAddr {
    use std::net::{Ipv4Addr, Ipv6Addr};
    // (documentation ranges: TEST-NET-2, TEST-NET-3, TEST-NET-1; 2001:db8::/32)
    let candidates: [IpAddr; 3] = if v6 {
        [0xffff, 0xfffe, 0xfffd].map(|n| IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, n, 0, 0, 0, 0, 1)))
    } else {
        [[198, 51, 100], [203, 0, 113], [192, 0, 2]]
            .map(|[a, b, c]| IpAddr::V4(Ipv4Addr::new(a, b, c, 1)))
    };
    candidates
        .iter()
        .copied()
        .find(|p| !addrs.iter().any(|(_, a, len)| in_net(*a, *len, *p)))
        .unwrap_or(candidates[0])
}

/// Whether `x` is in the network of `addr/len`.
fn in_net(addr: IpAddr, len: u8, x: IpAddr) -> bool {
    ipnet::IpNet::new(addr, len).is_ok_and(|n| n.contains(&x))
}

/// `ip -j route get DST from SRC`: the route, the kernel's refusal, or None when `ip`
/// cannot be run or its answer read.
pub fn route_get(dst: IpAddr, src: Option<IpAddr>) -> Option<RouteAnswer> {
    let mut cmd = std::process::Command::new("ip");
    cmd.args(["-j", "route", "get", &dst.to_string()]);
    if let Some(s) = src {
        cmd.args(["from", &s.to_string()]);
    }
    let out = cmd.output().ok()?;
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stderr).trim().to_string();
        let msg = msg.strip_prefix("RTNETLINK answers: ").unwrap_or(&msg);
        return Some(Err(msg.to_string()));
    }
    parse_route_get(&String::from_utf8_lossy(&out.stdout)).map(Ok)
}

/// The first route of `ip -j route get` output.
pub fn parse_route_get(json: &str) -> Option<RouteTo> {
    let v: serde_json::Value = serde_json::from_str(json).ok()?;
    let r = v.as_array()?.first()?;
    Some(RouteTo {
        gateway: r
            .get("gateway")
            .and_then(|g| g.as_str())
            .and_then(|g| g.parse().ok()),
        dev: r.get("dev")?.as_str()?.to_string(),
    })
}

/// The real server's findings: for each of its NAT addresses, the route toward the
/// clients (`routes`, by real-server address: the answer for [`client_probe`]) must go
/// through the director. `addrs` are this host's addresses with their prefix lengths.
pub fn real_server_side(
    nat: &NatSide,
    addrs: &[(String, IpAddr, u8)],
    routes: &BTreeMap<IpAddr, (IpAddr, RouteAnswer)>,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let rips: BTreeSet<IpAddr> = nat.services.iter().map(|s| s.rip).collect();
    for rip in rips {
        let Some((probe, answer)) = routes.get(&rip) else {
            continue;
        };
        let labels: Vec<&str> = nat
            .services
            .iter()
            .filter(|s| s.rip == rip)
            .map(|s| s.label.as_str())
            .collect();
        let services = labels.join(", ");
        // The director's addresses on this host's networks, the VIPs first.
        let mut near: Vec<&DirectorAddr> = nat
            .director
            .iter()
            .filter(|d| {
                d.addr.is_ipv6() == rip.is_ipv6()
                    && addrs.iter().any(|(_, a, len)| {
                        *len < if a.is_ipv6() { 128 } else { 32 }
                            && in_net(*a, *len, d.addr)
                            && *a != d.addr
                    })
            })
            .collect();
        near.sort_by_key(|d| d.kind);
        let best = near.first();
        let fix_via = |dev: Option<&str>| match best {
            Some(d) => format!("ip route replace default via {}", d.addr),
            None => format!(
                "ip route replace default via <the director's address{}>",
                dev.map_or_else(String::new, |d| format!(" on {d}"))
            ),
        };
        let bypass = "the replies of the NAT services reach the clients with this host's own address as source instead of the VIP: the clients drop them, connections hang";
        let route = match answer {
            Err(msg) => {
                out.push(finding(
                    Level::Problem,
                    "nat_route",
                    format!(
                        "no route from {rip} toward the clients ({probe}: {msg}), real server of {services}"
                    ),
                    "the replies of the NAT services cannot leave this host",
                    fix_via(None),
                ));
                continue;
            }
            Ok(r) => r,
        };
        let via = match route.gateway {
            Some(g) => format!("via {g} dev {}", route.dev),
            None => format!("directly on {} (no gateway)", route.dev),
        };
        let known = route
            .gateway
            .and_then(|g| nat.director.iter().find(|d| d.addr == g));
        match (known, best) {
            (Some(d), Some(vip))
                if d.kind != AddrKind::Vip && vip.kind == AddrKind::Vip =>
            {
                out.push(finding(
                    Level::Warning,
                    "nat_route",
                    format!(
                        "replies from {rip} toward the clients go {via}: {d}, one director's own address, not the VIP {vip}"
                    ),
                    "after a failover the replies still go to that director, which no longer holds the VIPs: the NAT services stop answering",
                    fix_via(None),
                ));
            }
            (Some(d), _) => out.push(finding(
                Level::Info,
                "nat_route",
                format!("replies from {rip} toward the clients go {via}: {d}"),
                "the NAT services' replies pass through the director",
                String::new(),
            )),
            (None, Some(d)) => out.push(finding(
                Level::Problem,
                "nat_route",
                format!(
                    "replies from {rip} toward the clients ({probe}) go {via}, not through the director {d}; real server of {services}"
                ),
                bypass,
                fix_via(None),
            )),
            (None, None) => out.push(finding(
                Level::Warning,
                "nat_route",
                format!(
                    "replies from {rip} toward the clients ({probe}) go {via}; the file names no address of the director on this host's networks (no virtual_ipaddress, unicast_src_ip or unicast_peer there), so whether that is the director cannot be told; real server of {services}"
                ),
                &format!("if that is not the director, {bypass}"),
                format!(
                    "check that {} is the director (or its VIP); if not: {}",
                    route
                        .gateway
                        .map_or_else(|| route.dev.clone(), |g| g.to_string()),
                    fix_via(Some(&route.dev))
                ),
            )),
        }
    }
    out
}

/// The director's findings: each NAT real server on a network of this director.
/// `nets` are its addresses with their prefix lengths (and devices).
pub fn director_side(config: &Config, nets: &[(String, IpAddr, u8)]) -> Vec<Finding> {
    let vips: Vec<(String, IpAddr, u8)> = config
        .instances
        .iter()
        .flat_map(|i| {
            i.all_vips().map(move |v| {
                (
                    v.dev.clone().unwrap_or_else(|| i.interface.clone()),
                    v.addr,
                    v.prefix_len,
                )
            })
        })
        .collect();
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for vs in &config.virtual_servers {
        let servers = vs
            .real_servers
            .iter()
            .map(|r| (r.addr, r.lvs_method, "real server"))
            .chain(
                vs.sorry_server
                    .iter()
                    .map(|r| (r.addr, r.lvs_method, "sorry server")),
            );
        for (addr, method, what) in servers {
            if !is_nat(vs, method) || !seen.insert(addr) {
                continue;
            }
            let host = if addr.is_ipv6() { 128 } else { 32 };
            let on = nets
                .iter()
                .chain(&vips)
                .find(|(_, a, len)| *a == addr || (*len < host && in_net(*a, *len, addr)));
            if on.is_some() {
                continue;
            }
            out.push(finding(
                Level::Warning,
                "nat_real_server_route",
                format!(
                    "NAT {what} {addr} of {} is on no network of this director (no address of it here, nor a virtual_ipaddress with its network)",
                    crate::lvs::build::VsLabel(vs)
                ),
                "its replies go to its own default gateway, not to this director, unless that router sends them back here: without the director they reach the clients from the real server's address and are dropped",
                format!(
                    "put the director on {addr}'s network: a VRRP VIP of that network on the interface facing it (virtual_ipaddress {{ <address>/<prefix> dev <interface> }}), the real server's default gateway (ip route replace default via <that VIP>, on {addr})"
                ),
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_str;
    use crate::doctor::problem_checks as checks;
    use std::path::Path;

    fn conf(text: &str) -> Config {
        parse_str(text, Path::new("t.conf"), "x")
            .expect("loads")
            .config
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    const NAT: &str = "vrrp_instance V { interface eth0\n virtual_router_id 1\n \
        unicast_src_ip 10.0.1.252\n unicast_peer { 10.0.1.253 }\n \
        virtual_ipaddress { 192.0.2.10/24 dev eth1\n 10.0.1.254/24 } }\n\
        virtual_server 192.0.2.10 80 { lb_kind NAT\n protocol TCP\n \
        real_server 10.0.1.2 80 { }\n real_server 10.0.1.3 80 { } }\n\
        virtual_server 192.0.2.11 80 { lb_kind DR\n protocol TCP\n real_server 10.0.1.2 80 { } }\n";

    fn rs_addrs() -> Vec<(String, IpAddr, u8)> {
        vec![
            ("lo".into(), ip("127.0.0.1"), 8),
            ("eth0".into(), ip("10.0.1.2"), 24),
        ]
    }

    fn side() -> NatSide {
        NatSide::from_config(&conf(NAT), &BTreeSet::from([ip("10.0.1.2")]))
    }

    fn via(gw: Option<&str>) -> BTreeMap<IpAddr, (IpAddr, RouteAnswer)> {
        BTreeMap::from([(
            ip("10.0.1.2"),
            (
                ip("198.51.100.1"),
                Ok(RouteTo {
                    gateway: gw.map(ip),
                    dev: "eth0".into(),
                }),
            ),
        )])
    }

    #[test]
    fn the_nat_services_of_this_host_and_the_directors_addresses() {
        let s = side();
        assert_eq!(s.services.len(), 1, "the DR service is not NAT: {s:?}");
        assert_eq!(s.services[0].vip, Some(ip("192.0.2.10")));
        let d: Vec<String> = s.director.iter().map(|d| d.to_string()).collect();
        assert_eq!(
            d,
            [
                "192.0.2.10 (a virtual_ipaddress of vrrp_instance V)",
                "10.0.1.254 (a virtual_ipaddress of vrrp_instance V)",
                "10.0.1.252 (the unicast_src_ip of vrrp_instance V)",
                "10.0.1.253 (a unicast_peer of vrrp_instance V)",
            ]
        );
        // Not a real server of any NAT service here: nothing to check.
        let none = NatSide::from_config(&conf(NAT), &BTreeSet::from([ip("10.0.1.9")]));
        assert!(none.services.is_empty());
    }

    #[test]
    fn a_default_route_through_the_vip_is_right() {
        let f = real_server_side(&side(), &rs_addrs(), &via(Some("10.0.1.254")));
        assert!(checks(&f).is_empty(), "{f:?}");
        assert!(f[0].what.contains("go via 10.0.1.254 dev eth0"), "{f:?}");
    }

    #[test]
    fn a_default_route_around_the_director_is_named_with_the_vip_as_fix() {
        let f = real_server_side(&side(), &rs_addrs(), &via(Some("10.0.1.1")));
        assert_eq!(checks(&f), ["nat_route"]);
        assert_eq!(f[0].level, Level::Problem);
        assert_eq!(f[0].fix, "ip route replace default via 10.0.1.254");
        assert!(
            f[0].what
                .contains("go via 10.0.1.1 dev eth0, not through the director 10.0.1.254"),
            "{}",
            f[0].what
        );
        // No gateway at all: on the link, around the director too.
        let f = real_server_side(&side(), &rs_addrs(), &via(None));
        assert_eq!(checks(&f), ["nat_route"]);
        assert!(f[0].what.contains("directly on eth0"), "{}", f[0].what);
        // No route: named, the same fix.
        let mut r = via(None);
        r.insert(
            ip("10.0.1.2"),
            (ip("198.51.100.1"), Err("Network is unreachable".into())),
        );
        let f = real_server_side(&side(), &rs_addrs(), &r);
        assert_eq!(checks(&f), ["nat_route"]);
        assert!(
            f[0].what.contains("Network is unreachable"),
            "{}",
            f[0].what
        );
    }

    #[test]
    fn a_gateway_that_is_one_directors_own_address_is_a_warning() {
        let f = real_server_side(&side(), &rs_addrs(), &via(Some("10.0.1.252")));
        assert_eq!(checks(&f), ["nat_route"]);
        assert_eq!(f[0].level, Level::Warning);
        assert!(f[0].consequence.contains("after a failover"));
        assert_eq!(f[0].fix, "ip route replace default via 10.0.1.254");
    }

    #[test]
    fn without_a_director_address_in_the_file_it_is_uncertain() {
        let c = conf(
            "virtual_server 192.0.2.10 80 { lb_kind NAT\n protocol TCP\n \
             real_server 10.0.1.2 80 { } }\n",
        );
        let s = NatSide::from_config(&c, &BTreeSet::from([ip("10.0.1.2")]));
        let f = real_server_side(&s, &rs_addrs(), &via(Some("10.0.1.1")));
        assert_eq!(checks(&f), ["nat_route"]);
        assert_eq!(f[0].level, Level::Warning);
        assert_eq!(
            f[0].fix,
            "check that 10.0.1.1 is the director (or its VIP); if not: ip route replace default via <the director's address on eth0>"
        );
    }

    #[test]
    fn the_client_probe_is_outside_this_hosts_networks() {
        assert_eq!(client_probe(false, &rs_addrs()), ip("198.51.100.1"));
        let taken = vec![("eth0".into(), ip("198.51.100.7"), 24)];
        assert_eq!(client_probe(false, &taken), ip("203.0.113.1"));
        assert_eq!(client_probe(true, &rs_addrs()), ip("2001:db8:ffff::1"));
        assert_eq!(
            parse_route_get(
                r#"[{"dst":"198.51.100.1","gateway":"10.0.1.254","dev":"eth0","prefsrc":"10.0.1.2","flags":[],"uid":0,"cache":[]}]"#
            ),
            Some(RouteTo {
                gateway: Some(ip("10.0.1.254")),
                dev: "eth0".into()
            })
        );
        assert_eq!(parse_route_get("[]"), None);
    }

    #[test]
    fn the_director_needs_each_nat_real_server_on_one_of_its_networks() {
        let c = conf(NAT);
        // The VIP 10.0.1.254/24 of the file covers both, held or not.
        assert!(checks(&director_side(&c, &[])).is_empty());
        let c = conf(
            "virtual_server 192.0.2.10 80 { lb_kind NAT\n protocol TCP\n \
             real_server 10.0.1.2 80 { }\n real_server 10.9.0.2 80 { } }\n",
        );
        let nets = vec![("eth1".into(), ip("10.0.1.1"), 24)];
        let f = director_side(&c, &nets);
        assert_eq!(checks(&f), ["nat_real_server_route"]);
        assert!(
            f[0].what.starts_with("NAT real server 10.9.0.2 of"),
            "{}",
            f[0].what
        );
        // A host address (/32) does not make a network.
        let host = vec![("lo".into(), ip("10.9.0.1"), 32)];
        assert_eq!(director_side(&c, &host).len(), 2);
        // A NAT sorry server too.
        let c = conf(
            "virtual_server 192.0.2.10 80 { lb_kind NAT\n protocol TCP\n \
             sorry_server 10.8.0.2 80\n real_server 10.0.1.2 80 { } }\n",
        );
        let f = director_side(&c, &nets);
        assert_eq!(checks(&f), ["nat_real_server_route"]);
        assert!(
            f[0].what.starts_with("NAT sorry server 10.8.0.2 of"),
            "{}",
            f[0].what
        );
    }
}
