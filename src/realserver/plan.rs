//! What a real server needs for the DR and TUN services of keepalived.conf (or for VIPs
//! given on the command line): the VIPs as host addresses on `lo` or on the tunnel
//! device, the tunnel modules, and the sysctls that keep the real server from answering
//! ARP for them. A pure function of the file and this host's addresses.
//!
//! Which services: when one of this host's addresses is a DR/TUN real server (or sorry
//! server) in the file, the services it serves; otherwise every DR/TUN service of the
//! file (the real server may know itself under another address, behind a NAT).

use crate::config::{Config, LbKind, Protocol, TunnelType, VsKey, VsgMember};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::net::IpAddr;

/// How the director forwards to this real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Direct routing: the frame is sent to this host's MAC, the VIP unchanged.
    Dr,
    /// IP-in-IP (`lvs_method TUN`, `type ipip`, the default).
    Ipip,
    /// GUE over UDP to `port` (`type gue port N`): decapsulated by fou, then ipip.
    Gue { port: u16 },
    /// GRE (`type gre`).
    Gre,
}

impl fmt::Display for Method {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Method::Dr => f.write_str("DR"),
            Method::Ipip => f.write_str("TUN ipip"),
            Method::Gue { port } => write!(f, "TUN gue port {port}"),
            Method::Gre => f.write_str("TUN gre"),
        }
    }
}

impl Method {
    /// The device the VIP goes on: `lo` for DR, the family's fallback tunnel device for
    /// TUN (created by loading the module, in every network namespace).
    pub fn device(self, v6: bool) -> &'static str {
        match (self, v6) {
            (Method::Dr, _) => "lo",
            (Method::Ipip | Method::Gue { .. }, false) => "tunl0",
            (Method::Ipip | Method::Gue { .. }, true) => "ip6tnl0",
            (Method::Gre, false) => "gre0",
            (Method::Gre, true) => "ip6gre0",
        }
    }

    /// The kernel modules the method needs on the real server.
    pub fn modules(self, v6: bool) -> &'static [&'static str] {
        match (self, v6) {
            (Method::Dr, _) => &[],
            (Method::Ipip, false) => &["ipip"],
            (Method::Ipip, true) => &["ip6_tunnel"],
            (Method::Gue { .. }, false) => &["fou", "ipip"],
            (Method::Gue { .. }, true) => &["fou6", "ip6_tunnel"],
            (Method::Gre, false) => &["ip_gre"],
            (Method::Gre, true) => &["ip6_gre"],
        }
    }

    fn from_config(kind: LbKind, tunnel: Option<&crate::config::Tunnel>) -> Option<Method> {
        match kind {
            LbKind::Nat => None,
            LbKind::Dr => Some(Method::Dr),
            LbKind::Tun => Some(match tunnel.map(|t| (t.tun_type, t.port)) {
                None | Some((TunnelType::Ipip, _)) => Method::Ipip,
                Some((TunnelType::Gre, _)) => Method::Gre,
                // (validation refuses gue without a port; 0 stays visible if it slips by)
                Some((TunnelType::Gue, port)) => Method::Gue {
                    port: port.unwrap_or(0),
                },
            }),
        }
    }
}

/// The module whose loading creates the fallback tunnel device `dev`.
pub fn device_module(dev: &str) -> Option<&'static str> {
    match dev {
        "tunl0" => Some("ipip"),
        "ip6tnl0" => Some("ip6_tunnel"),
        "gre0" => Some("ip_gre"),
        "ip6gre0" => Some("ip6_gre"),
        _ => None,
    }
}

/// One service this real server answers for.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Service {
    pub vip: IpAddr,
    /// The virtual port (what arrives here for DR and TUN); 0: every port.
    pub port: u16,
    pub protocol: Protocol,
    pub method: Method,
}

/// A sysctl under net.ipv4.conf: `conf` is `all` or an interface name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ConfSysctl {
    pub conf: String,
    pub key: String,
}

impl ConfSysctl {
    pub fn new(conf: &str, key: &str) -> ConfSysctl {
        ConfSysctl {
            conf: conf.to_string(),
            key: key.to_string(),
        }
    }

    /// The file under /proc/sys (built, not derived from the dotted name: an interface
    /// name may hold dots).
    pub fn path(&self) -> std::path::PathBuf {
        std::path::Path::new("/proc/sys/net/ipv4/conf")
            .join(&self.conf)
            .join(&self.key)
    }
}

impl fmt::Display for ConfSysctl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "net.ipv4.conf.{}.{}", self.conf, self.key)
    }
}

/// What a sysctl must hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Want {
    /// At least this value (a stricter one the administrator set is kept).
    AtLeast(i64),
    /// Exactly this value.
    Exactly(i64),
    /// Not strict reverse-path filtering (1): a strict `all` becomes loose (2), which is
    /// enough for the tunnel device since the kernel uses the larger of the two.
    NotStrict,
}

impl Want {
    /// The value to write given the current one; None: it already holds.
    pub fn change(self, current: i64) -> Option<i64> {
        match self {
            Want::AtLeast(v) if current < v => Some(v),
            Want::Exactly(v) if current != v => Some(v),
            Want::NotStrict if current == 1 => Some(2),
            _ => None,
        }
    }
}

/// One planned address: a host address (/32, /128) on `device`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct HostAddr {
    pub addr: IpAddr,
    pub prefix_len: u8,
    pub device: String,
}

impl fmt::Display for HostAddr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{} on {}", self.addr, self.prefix_len, self.device)
    }
}

/// Everything the real server needs, in the order it is applied: modules, fou ports,
/// tunnel devices up, sysctls, addresses.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Plan {
    pub services: Vec<Service>,
    pub modules: Vec<String>,
    /// GUE receive ports (`ip fou add port N gue`), with the family (true: IPv6).
    pub fou_ports: Vec<(u16, bool)>,
    pub tunnel_devices: Vec<String>,
    pub sysctls: Vec<(ConfSysctl, Want)>,
    pub addresses: Vec<HostAddr>,
    /// What the file holds that cannot be planned (fwmark services: no address).
    pub notes: Vec<String>,
}

impl Plan {
    /// The plan for `services`.
    pub fn for_services(mut services: Vec<Service>, notes: Vec<String>) -> Plan {
        services.sort();
        services.dedup();
        let mut modules = BTreeSet::new();
        let mut fou = BTreeSet::new();
        let mut tunnels = BTreeSet::new();
        let mut addrs = BTreeSet::new();
        let mut sysctls: BTreeMap<ConfSysctl, Want> = BTreeMap::new();
        for s in &services {
            let v6 = s.vip.is_ipv6();
            let dev = s.method.device(v6);
            modules.extend(s.method.modules(v6).iter().map(|m| m.to_string()));
            if let Method::Gue { port } = s.method {
                fou.insert((port, v6));
            }
            if s.method != Method::Dr {
                tunnels.insert(dev.to_string());
                if !v6 {
                    // The decapsulated packet arrives on the tunnel device from the
                    // client's address, which routes out of another interface.
                    sysctls.insert(ConfSysctl::new(dev, "rp_filter"), Want::Exactly(0));
                    sysctls.insert(ConfSysctl::new("all", "rp_filter"), Want::NotStrict);
                }
            }
            if !v6 {
                // A VIP on any device is a local address the host answers ARP for on
                // every interface: answer only for the receiving interface's own
                // addresses, and never use a VIP as an ARP source.
                for conf in ["all", "lo"] {
                    sysctls.insert(ConfSysctl::new(conf, "arp_ignore"), Want::AtLeast(1));
                    sysctls.insert(ConfSysctl::new(conf, "arp_announce"), Want::AtLeast(2));
                }
            }
            addrs.insert(HostAddr {
                addr: s.vip,
                prefix_len: if v6 { 128 } else { 32 },
                device: dev.to_string(),
            });
        }
        Plan {
            services,
            modules: modules.into_iter().collect(),
            fou_ports: fou.into_iter().collect(),
            tunnel_devices: tunnels.into_iter().collect(),
            sysctls: sysctls.into_iter().collect(),
            addresses: addrs.into_iter().collect(),
            notes,
        }
    }

    /// The plan for VIPs given on the command line, all with one method (every port).
    pub fn for_vips(vips: &[IpAddr], method: Method) -> Plan {
        let services = vips
            .iter()
            .map(|&vip| Service {
                vip,
                port: 0,
                protocol: Protocol::Tcp,
                method,
            })
            .collect();
        Plan::for_services(services, Vec::new())
    }

    /// The plan for the DR/TUN services of `config`, seen from a host with `local`
    /// addresses (see the module's note on which services).
    pub fn from_config(config: &Config, local: &BTreeSet<IpAddr>) -> Plan {
        struct Cand {
            rs: IpAddr,
            vip: IpAddr,
            port: u16,
            protocol: Protocol,
            method: Method,
        }
        let mut cands = Vec::new();
        let mut notes = Vec::new();
        for vs in &config.virtual_servers {
            let members: Vec<(IpAddr, u16)> = match &vs.key {
                VsKey::Addr { addr, port } => vec![(*addr, *port)],
                VsKey::Fwmark { mark, .. } => {
                    if vs.lb_kind != LbKind::Nat {
                        notes.push(format!(
                            "virtual_server fwmark {mark}: its addresses are not in the file; give them with --vip"
                        ));
                    }
                    continue;
                }
                VsKey::Group(name) => config
                    .virtual_server_groups
                    .iter()
                    .filter(|g| &g.name == name)
                    .flat_map(|g| g.entries.iter().flat_map(|e| e.expand()))
                    .filter_map(|m| match m {
                        VsgMember::Addr(a, p) => Some((a, p)),
                        VsgMember::Fwmark(..) => None,
                    })
                    .collect(),
            };
            let servers = vs
                .real_servers
                .iter()
                .map(|r| {
                    (
                        r.addr,
                        r.lvs_method.unwrap_or(vs.lb_kind),
                        r.tunnel.as_ref().or(vs.tunnel.as_ref()),
                    )
                })
                .chain(vs.sorry_server.iter().map(|s| {
                    (
                        s.addr,
                        s.lvs_method.unwrap_or(vs.lb_kind),
                        vs.tunnel.as_ref(),
                    )
                }));
            for (rs, kind, tunnel) in servers {
                let Some(method) = Method::from_config(kind, tunnel) else {
                    continue;
                };
                for &(vip, port) in &members {
                    cands.push(Cand {
                        rs,
                        vip,
                        port,
                        protocol: vs.protocol,
                        method,
                    });
                }
            }
        }
        let mine = cands.iter().any(|c| local.contains(&c.rs));
        let services = cands
            .into_iter()
            .filter(|c| !mine || local.contains(&c.rs))
            .map(|c| Service {
                vip: c.vip,
                port: c.port,
                protocol: c.protocol,
                method: c.method,
            })
            .collect();
        Plan::for_services(services, notes)
    }
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

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    const FILE: &str = "\
virtual_server 192.0.2.10 80 { lb_kind DR\n protocol TCP\n\
  real_server 10.0.0.2 80 { }\n real_server 10.0.0.3 80 { } }\n\
virtual_server 192.0.2.20 443 { lb_kind TUN\n protocol TCP\n\
  real_server 10.0.0.3 443 { }\n real_server 10.0.0.4 443 { lvs_method TUN type gre } }\n\
virtual_server 192.0.2.30 53 { lb_kind NAT\n protocol UDP\n real_server 10.0.0.2 53 { } }\n\
virtual_server 2001:db8::10 80 { lb_kind DR\n protocol TCP\n real_server 2001:db8::2 8080 { } }\n\
virtual_server fwmark 7 { lb_kind DR\n real_server 10.0.0.2 { } }\n";

    #[test]
    fn a_dr_real_server_gets_its_vips_on_lo_and_the_arp_sysctls() {
        let local = BTreeSet::from([ip("10.0.0.2"), ip("127.0.0.1")]);
        let p = Plan::from_config(&conf(FILE), &local);
        // Only the DR service 10.0.0.2 serves; not the NAT one, not 10.0.0.3's TUN one.
        assert_eq!(
            p.addresses,
            [HostAddr {
                addr: ip("192.0.2.10"),
                prefix_len: 32,
                device: "lo".into()
            }]
        );
        assert!(p.modules.is_empty() && p.tunnel_devices.is_empty());
        let names: Vec<String> = p
            .sysctls
            .iter()
            .map(|(s, w)| format!("{s}={w:?}"))
            .collect();
        assert_eq!(
            names,
            [
                "net.ipv4.conf.all.arp_announce=AtLeast(2)",
                "net.ipv4.conf.all.arp_ignore=AtLeast(1)",
                "net.ipv4.conf.lo.arp_announce=AtLeast(2)",
                "net.ipv4.conf.lo.arp_ignore=AtLeast(1)",
            ]
        );
        assert_eq!(p.notes.len(), 1, "the fwmark service: {:?}", p.notes);
    }

    #[test]
    fn a_real_server_of_dr_and_tun_services_gets_both_devices() {
        let local = BTreeSet::from([ip("10.0.0.3")]);
        let p = Plan::from_config(&conf(FILE), &local);
        let a: Vec<String> = p.addresses.iter().map(|a| a.to_string()).collect();
        assert_eq!(a, ["192.0.2.10/32 on lo", "192.0.2.20/32 on tunl0"]);
        assert_eq!(p.modules, ["ipip"]);
        assert_eq!(p.tunnel_devices, ["tunl0"]);
        assert!(p
            .sysctls
            .contains(&(ConfSysctl::new("tunl0", "rp_filter"), Want::Exactly(0))));
        assert!(p
            .sysctls
            .contains(&(ConfSysctl::new("all", "rp_filter"), Want::NotStrict)));
    }

    #[test]
    fn a_host_not_named_in_the_file_gets_every_dr_and_tun_service() {
        let p = Plan::from_config(&conf(FILE), &BTreeSet::new());
        let a: Vec<String> = p.addresses.iter().map(|a| a.to_string()).collect();
        assert_eq!(
            a,
            [
                "192.0.2.10/32 on lo",
                "192.0.2.20/32 on gre0",
                "192.0.2.20/32 on tunl0",
                "2001:db8::10/128 on lo"
            ]
        );
        assert_eq!(p.modules, ["ip_gre", "ipip"]);
    }

    #[test]
    fn gue_needs_fou_and_its_port() {
        let c = conf(
            "virtual_server 192.0.2.40 80 { lb_kind TUN\n protocol TCP\n \
             real_server 10.0.0.5 80 { lvs_method TUN type gue port 6080 } }\n",
        );
        let p = Plan::from_config(&c, &BTreeSet::new());
        assert_eq!(p.modules, ["fou", "ipip"]);
        assert_eq!(p.fou_ports, [(6080, false)]);
        assert_eq!(p.addresses[0].device, "tunl0");
    }

    #[test]
    fn groups_are_expanded() {
        let c = conf(
            "virtual_server_group G { 192.0.2.50-51 80\n fwmark 3 }\n\
             virtual_server group G { lb_kind DR\n protocol TCP\n real_server 10.0.0.9 80 { } }\n",
        );
        let p = Plan::from_config(&c, &BTreeSet::new());
        let a: Vec<IpAddr> = p.addresses.iter().map(|a| a.addr).collect();
        assert_eq!(a, [ip("192.0.2.50"), ip("192.0.2.51")]);
    }

    #[test]
    fn command_line_vips() {
        let p = Plan::for_vips(&[ip("192.0.2.1"), ip("2001:db8::1")], Method::Ipip);
        let a: Vec<String> = p.addresses.iter().map(|a| a.to_string()).collect();
        assert_eq!(a, ["192.0.2.1/32 on tunl0", "2001:db8::1/128 on ip6tnl0"]);
        assert_eq!(p.modules, ["ip6_tunnel", "ipip"]);
    }

    #[test]
    fn wants() {
        assert_eq!(Want::AtLeast(1).change(0), Some(1));
        assert_eq!(Want::AtLeast(1).change(2), None);
        assert_eq!(Want::Exactly(0).change(2), Some(0));
        assert_eq!(Want::Exactly(0).change(0), None);
        assert_eq!(Want::NotStrict.change(1), Some(2));
        assert_eq!(Want::NotStrict.change(0), None);
        assert_eq!(Want::NotStrict.change(2), None);
    }
}
