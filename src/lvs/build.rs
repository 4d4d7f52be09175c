//! Building kernel values (`Service`, `Dest`) from the configuration, as keepalived does.
//! Pure: the same config always gives the same values.

use crate::config::{
    Granularity, LbKind, Protocol, RealServer, SorryServer, Tunnel, TunnelCsum, TunnelType,
    VirtualServer, VirtualServerGroup, VsKey, VsgMember,
};
use crate::ipvs::{
    svc_flags, Dest, DestKey, Family, Forward, Proto, Service, ServiceKey, TunnelParams,
};
use std::net::IpAddr;
use thiserror::Error;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum BuildError {
    #[error("virtual_server group {0:?}: no virtual_server_group of that name")]
    UnknownGroup(String),
}

pub fn proto(p: Protocol) -> Proto {
    match p {
        Protocol::Tcp => Proto::Tcp,
        Protocol::Udp => Proto::Udp,
        Protocol::Sctp => Proto::Sctp,
    }
}

pub fn forward(k: LbKind) -> Forward {
    match k {
        LbKind::Nat => Forward::Masq,
        LbKind::Dr => Forward::DirectRoute,
        LbKind::Tun => Forward::Tunnel,
    }
}

/// The address family of a fwmark or group virtual server: written (`fwmark N` + ipv6)
/// or, for a group, that of its first real server (IPv4 when it has none).
fn vs_family(vs: &VirtualServer) -> Family {
    match &vs.key {
        VsKey::Addr { addr, .. } => Family::of(addr),
        VsKey::Fwmark { ipv6, .. } => {
            if *ipv6 {
                Family::V6
            } else {
                Family::V4
            }
        }
        VsKey::Group(_) => vs
            .real_servers
            .first()
            .map(|rs| Family::of(&rs.addr))
            .unwrap_or(Family::V4),
    }
}

/// The kernel service keys a virtual server stands for: one, or one per group member.
pub fn service_keys(
    vs: &VirtualServer,
    groups: &[VirtualServerGroup],
) -> Result<Vec<ServiceKey>, BuildError> {
    let p = proto(vs.protocol);
    Ok(match &vs.key {
        VsKey::Addr { addr, port } => vec![ServiceKey::Addr {
            proto: p,
            addr: *addr,
            port: *port,
        }],
        VsKey::Fwmark { mark, .. } => vec![ServiceKey::Fwmark {
            family: vs_family(vs),
            mark: *mark,
        }],
        VsKey::Group(name) => {
            let g = groups
                .iter()
                .find(|g| &g.name == name)
                .ok_or_else(|| BuildError::UnknownGroup(name.clone()))?;
            let family = vs_family(vs);
            let mut keys = Vec::new();
            for entry in &g.entries {
                for m in entry.expand() {
                    let k = match m {
                        VsgMember::Addr(addr, port) => ServiceKey::Addr {
                            proto: p,
                            addr,
                            port,
                        },
                        VsgMember::Fwmark(mark, v6) => ServiceKey::Fwmark {
                            family: match v6 {
                                Some(true) => Family::V6,
                                Some(false) => Family::V4,
                                None => family,
                            },
                            mark,
                        },
                    };
                    if !keys.contains(&k) {
                        keys.push(k);
                    }
                }
            }
            keys
        }
    })
}

/// Every kernel service key the configuration's virtual servers stand for (what lvsd
/// manages; `lvsd -L` lists only these). Virtual servers naming an unknown group add none.
pub fn managed_service_keys(
    config: &crate::config::Config,
) -> std::collections::HashSet<ServiceKey> {
    config
        .virtual_servers
        .iter()
        .filter_map(|vs| service_keys(vs, &config.virtual_server_groups).ok())
        .flatten()
        .collect()
}

/// The service settings of a virtual server, for one of its keys.
pub fn service(vs: &VirtualServer, key: ServiceKey) -> Service {
    let v6 = key.family() == Family::V6;
    let mut flags = 0;
    if vs.persistence_timeout.is_some() {
        flags |= svc_flags::PERSISTENT;
    }
    if vs.sched_flags.flag1 {
        flags |= svc_flags::SCHED1;
    }
    if vs.sched_flags.flag2 {
        flags |= svc_flags::SCHED2;
    }
    if vs.sched_flags.flag3 {
        flags |= svc_flags::SCHED3;
    }
    // One-packet scheduling only means something for UDP (keepalived ignores it otherwise).
    if vs.ops && vs.protocol == Protocol::Udp {
        flags |= svc_flags::ONEPACKET;
    }
    let netmask = match (vs.persistence_granularity, v6) {
        (Some(Granularity::V4Mask(m)), false) => u32::from(m),
        (Some(Granularity::V6Prefix(p)), true) => u32::from(p),
        (_, false) => 0xffff_ffff,
        (_, true) => 128,
    };
    Service {
        key,
        scheduler: vs.lb_algo.clone(),
        flags,
        timeout: vs.persistence_timeout.unwrap_or(0),
        netmask,
        pe_name: vs.persistence_engine.clone(),
    }
}

fn tunnel_params(t: &Tunnel) -> TunnelParams {
    TunnelParams {
        tun_type: match t.tun_type {
            TunnelType::Ipip => 0,
            TunnelType::Gue => 1,
            TunnelType::Gre => 2,
        },
        tun_port: t.port.unwrap_or(0),
        tun_flags: match t.csum {
            TunnelCsum::NoCsum => 0,
            TunnelCsum::Csum => 1,
            TunnelCsum::RemCsum => 2,
        },
    }
}

/// The port a destination gets when none is written: the service's port (0 for fwmark
/// services, as ipvsadm and keepalived send them).
fn default_port(key: &ServiceKey) -> u16 {
    match key {
        ServiceKey::Addr { port, .. } => *port,
        ServiceKey::Fwmark { .. } => 0,
    }
}

/// The identity of a real server under one service. Like keepalived (and ipvsadm), only
/// a NAT destination keeps its own port: DR and TUN ones take the service's (0 for fwmark),
/// which matters for groups, whose members have different ports.
pub fn rs_key(vs: &VirtualServer, rs: &RealServer, key: &ServiceKey) -> DestKey {
    let fwd = forward(rs.lvs_method.unwrap_or(vs.lb_kind));
    DestKey {
        addr: rs.addr,
        port: match rs.port {
            Some(p) if fwd == Forward::Masq => p,
            _ => default_port(key),
        },
    }
}

/// A real server as a kernel destination with the given weight.
pub fn rs_dest(vs: &VirtualServer, rs: &RealServer, key: &ServiceKey, weight: u32) -> Dest {
    let fwd = forward(rs.lvs_method.unwrap_or(vs.lb_kind));
    Dest {
        key: rs_key(vs, rs, key),
        forward: fwd,
        weight,
        upper_threshold: rs.uthreshold.unwrap_or(0),
        lower_threshold: rs.lthreshold.unwrap_or(0),
        tunnel: if fwd == Forward::Tunnel {
            rs.tunnel.as_ref().or(vs.tunnel.as_ref()).map(tunnel_params)
        } else {
            None
        },
    }
}

/// The identity of the sorry server under one service (port 0 written = the service's).
/// DR and TUN sorry servers take the service's port, as real servers do.
pub fn sorry_key(vs: &VirtualServer, ss: &SorryServer, key: &ServiceKey) -> DestKey {
    let fwd = forward(ss.lvs_method.unwrap_or(vs.lb_kind));
    DestKey {
        addr: ss.addr,
        port: if ss.port == 0 || fwd != Forward::Masq {
            default_port(key)
        } else {
            ss.port
        },
    }
}

/// The sorry server as a destination (keepalived gives it weight 1).
pub fn sorry_dest(vs: &VirtualServer, ss: &SorryServer, key: &ServiceKey, weight: u32) -> Dest {
    let fwd = forward(ss.lvs_method.unwrap_or(vs.lb_kind));
    Dest {
        key: sorry_key(vs, ss, key),
        forward: fwd,
        weight,
        upper_threshold: 0,
        lower_threshold: 0,
        tunnel: if fwd == Forward::Tunnel {
            vs.tunnel.as_ref().map(tunnel_params)
        } else {
            None
        },
    }
}

/// keepalived's way of naming a virtual server in logs: `[10.0.0.1]:tcp:80`, `FWM 1`,
/// `[group NAME]`.
pub fn vs_label(vs: &VirtualServer) -> String {
    VsLabel(vs).to_string()
}

/// [`vs_label`] written only when a log line is: nothing is formatted for a virtual
/// server that never logs.
pub struct VsLabel<'a>(pub &'a VirtualServer);

impl std::fmt::Display for VsLabel<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let vs = self.0;
        match &vs.key {
            VsKey::Addr { addr, port } => {
                write!(f, "[{addr}]:{}:{port}", protocol_name(vs.protocol))
            }
            VsKey::Fwmark { mark, .. } => write!(f, "FWM {mark}"),
            VsKey::Group(name) => write!(f, "[{name}]"),
        }
    }
}

fn protocol_name(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
        Protocol::Sctp => "sctp",
    }
}

/// `[10.0.0.2]:tcp:80` as keepalived writes a real server.
pub fn addr_label(addr: IpAddr, p: Protocol, port: u16) -> String {
    format!("[{addr}]:{}:{port}", protocol_name(p))
}

/// A real server's label within its virtual server.
pub fn rs_label(vs: &VirtualServer, rs: &RealServer) -> String {
    let port = rs.port.unwrap_or(match &vs.key {
        VsKey::Addr { port, .. } => *port,
        _ => 0,
    });
    addr_label(rs.addr, vs.protocol, port)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::VsgEntry;

    use crate::lvs::fixture::virtual_server as vs;

    fn rs(addr: &str, port: Option<u16>) -> RealServer {
        crate::lvs::fixture::real_server(addr.parse().unwrap(), port)
    }

    fn addr_vs(a: &str, port: u16) -> VirtualServer {
        vs(VsKey::Addr {
            addr: a.parse().unwrap(),
            port,
        })
    }

    #[test]
    fn managed_keys_cover_plain_fwmark_and_expanded_groups() {
        let text = "virtual_server_group WEB {\n  192.0.2.70-72 80\n  fwmark 7\n}\n\
                    virtual_server group WEB {\n  real_server 198.51.100.70 80 {\n  }\n}\n\
                    virtual_server 192.0.2.1 443 {\n  protocol TCP\n  \
                    real_server 198.51.100.71 443 {\n  }\n}\n\
                    virtual_server fwmark 9 {\n  real_server 198.51.100.72 80 {\n  }\n}\n";
        let cfg = crate::config::parse_str(text, std::path::Path::new("t.conf"), "id")
            .unwrap()
            .config;
        let keys = managed_service_keys(&cfg);
        let addr = |a: &str, port| ServiceKey::Addr {
            proto: Proto::Tcp,
            addr: a.parse().unwrap(),
            port,
        };
        // The group's virtual server names no protocol: UDP, as keepalived makes it.
        let mut want: std::collections::HashSet<ServiceKey> =
            ["192.0.2.70", "192.0.2.71", "192.0.2.72"]
                .iter()
                .map(|a| ServiceKey::Addr {
                    proto: Proto::Udp,
                    addr: a.parse().unwrap(),
                    port: 80,
                })
                .collect();
        want.insert(ServiceKey::Fwmark {
            family: Family::V4,
            mark: 7,
        });
        want.insert(addr("192.0.2.1", 443));
        want.insert(ServiceKey::Fwmark {
            family: Family::V4,
            mark: 9,
        });
        assert_eq!(keys, want);
    }

    #[test]
    fn service_flags_table() {
        // (setup, expected flags, timeout, netmask)
        type Setup = fn(&mut VirtualServer);
        let cases: Vec<(&str, Setup, u32, u32, u32)> = vec![
            ("plain", |_| {}, 0, 0, 0xffff_ffff),
            (
                "persistent",
                |v| v.persistence_timeout = Some(360),
                svc_flags::PERSISTENT,
                360,
                0xffff_ffff,
            ),
            (
                "granularity",
                |v| {
                    v.persistence_timeout = Some(50);
                    v.persistence_granularity =
                        Some(Granularity::V4Mask("255.255.255.0".parse().unwrap()));
                },
                svc_flags::PERSISTENT,
                50,
                0xffff_ff00,
            ),
            (
                "sh-port (flag-2)",
                |v| {
                    v.lb_algo = "sh".into();
                    v.sched_flags.flag2 = true;
                },
                svc_flags::SCHED2,
                0,
                0xffff_ffff,
            ),
            (
                "sh-fallback (flag-1) + flag-3",
                |v| {
                    v.sched_flags.flag1 = true;
                    v.sched_flags.flag3 = true;
                },
                svc_flags::SCHED1 | svc_flags::SCHED3,
                0,
                0xffff_ffff,
            ),
            (
                "ops on UDP",
                |v| {
                    v.protocol = Protocol::Udp;
                    v.ops = true;
                },
                svc_flags::ONEPACKET,
                0,
                0xffff_ffff,
            ),
            ("ops on TCP is ignored", |v| v.ops = true, 0, 0, 0xffff_ffff),
        ];
        for (name, setup, flags, timeout, netmask) in cases {
            let mut v = addr_vs("10.0.0.1", 80);
            setup(&mut v);
            let keys = service_keys(&v, &[]).unwrap();
            let s = service(&v, keys[0]);
            assert_eq!(s.flags, flags, "{name}");
            assert_eq!(s.timeout, timeout, "{name}");
            assert_eq!(s.netmask, netmask, "{name}");
        }
    }

    #[test]
    fn v6_netmask_and_pe() {
        let mut v = addr_vs("2001:db8::1", 80);
        v.persistence_timeout = Some(10);
        v.persistence_engine = Some("sip".into());
        let s = service(&v, service_keys(&v, &[]).unwrap()[0]);
        assert_eq!(s.netmask, 128);
        assert_eq!(s.pe_name.as_deref(), Some("sip"));
        v.persistence_granularity = Some(Granularity::V6Prefix(64));
        let s = service(&v, service_keys(&v, &[]).unwrap()[0]);
        assert_eq!(s.netmask, 64);
    }

    #[test]
    fn dest_ports_and_forwarding() {
        let mut dr = addr_vs("10.0.0.1", 80);
        dr.lb_kind = LbKind::Dr;
        let k = service_keys(&dr, &[]).unwrap()[0];
        // DR without a port keeps the virtual port.
        let d = rs_dest(&dr, &rs("10.0.1.2", None), &k, 3);
        assert_eq!(d.key.port, 80);
        assert_eq!(d.forward, Forward::DirectRoute);
        assert_eq!(d.weight, 3);
        // NAT with a port keeps it; lvs_method overrides lb_kind.
        let mut r = rs("10.0.1.2", Some(8080));
        r.lvs_method = Some(LbKind::Nat);
        r.uthreshold = Some(100);
        r.lthreshold = Some(10);
        let d = rs_dest(&dr, &r, &k, 1);
        assert_eq!((d.key.port, d.forward), (8080, Forward::Masq));
        assert_eq!((d.upper_threshold, d.lower_threshold), (100, 10));
        // fwmark: port 0 when none is written.
        let fw = vs(VsKey::Fwmark {
            mark: 7,
            ipv6: false,
        });
        let fk = service_keys(&fw, &[]).unwrap()[0];
        assert_eq!(
            fk,
            ServiceKey::Fwmark {
                family: Family::V4,
                mark: 7
            }
        );
        assert_eq!(rs_dest(&fw, &rs("10.0.1.2", None), &fk, 1).key.port, 0);
    }

    #[test]
    fn tunnel_params_from_rs_or_vs() {
        let mut v = addr_vs("10.0.0.1", 80);
        v.lb_kind = LbKind::Tun;
        v.tunnel = Some(Tunnel {
            tun_type: TunnelType::Gue,
            port: Some(6080),
            csum: TunnelCsum::RemCsum,
        });
        let k = service_keys(&v, &[]).unwrap()[0];
        let d = rs_dest(&v, &rs("10.0.1.2", None), &k, 1);
        assert_eq!(
            d.tunnel,
            Some(TunnelParams {
                tun_type: 1,
                tun_port: 6080,
                tun_flags: 2
            })
        );
        let mut r = rs("10.0.1.3", None);
        r.tunnel = Some(Tunnel {
            tun_type: TunnelType::Gre,
            port: None,
            csum: TunnelCsum::Csum,
        });
        assert_eq!(
            rs_dest(&v, &r, &k, 1).tunnel,
            Some(TunnelParams {
                tun_type: 2,
                tun_port: 0,
                tun_flags: 1
            })
        );
        r.lvs_method = Some(LbKind::Dr);
        assert_eq!(rs_dest(&v, &r, &k, 1).tunnel, None);
    }

    #[test]
    fn groups_expand_ranges_and_fwmarks() {
        let g = VirtualServerGroup {
            span: Default::default(),
            name: "G".into(),
            entries: vec![
                VsgEntry::Range {
                    addr: "10.0.0.1".parse().unwrap(),
                    range_end: Some(3),
                    port: Some(80),
                },
                VsgEntry::Range {
                    addr: "10.0.0.9".parse().unwrap(),
                    range_end: None,
                    port: Some(443),
                },
                VsgEntry::Fwmark(5, None),
            ],
        };
        let mut v = vs(VsKey::Group("G".into()));
        v.real_servers.push(rs("10.0.1.2", None));
        let keys = service_keys(&v, std::slice::from_ref(&g)).unwrap();
        let addr = |a: &str, port| ServiceKey::Addr {
            proto: Proto::Tcp,
            addr: a.parse().unwrap(),
            port,
        };
        assert_eq!(
            keys,
            vec![
                addr("10.0.0.1", 80),
                addr("10.0.0.2", 80),
                addr("10.0.0.3", 80),
                addr("10.0.0.9", 443),
                ServiceKey::Fwmark {
                    family: Family::V4,
                    mark: 5
                },
            ]
        );
        // A real server without a port takes each member's port.
        assert_eq!(rs_key(&v, &v.real_servers[0], &keys[3]).port, 443);
        // keepalived: DR/TUN destinations take each member's port whatever is written
        // (fwmark: 0); NAT ones keep their own.
        let mut v2 = v.clone();
        v2.lb_kind = LbKind::Dr;
        v2.real_servers[0].port = Some(8080);
        assert_eq!(rs_key(&v2, &v2.real_servers[0], &keys[0]).port, 80);
        assert_eq!(rs_key(&v2, &v2.real_servers[0], &keys[3]).port, 443);
        assert_eq!(rs_key(&v2, &v2.real_servers[0], &keys[4]).port, 0);
        v2.lb_kind = LbKind::Nat;
        assert_eq!(rs_key(&v2, &v2.real_servers[0], &keys[3]).port, 8080);
        assert_eq!(
            service_keys(&vs(VsKey::Group("nope".into())), &[g]),
            Err(BuildError::UnknownGroup("nope".into()))
        );
    }

    #[test]
    fn labels_like_keepalived() {
        let v = addr_vs("10.0.0.1", 80);
        assert_eq!(vs_label(&v), "[10.0.0.1]:tcp:80");
        assert_eq!(rs_label(&v, &rs("10.0.0.2", None)), "[10.0.0.2]:tcp:80");
        let f = vs(VsKey::Fwmark {
            mark: 3,
            ipv6: false,
        });
        assert_eq!(vs_label(&f), "FWM 3");
        let mut u = addr_vs("2001:db8::1", 53);
        u.protocol = Protocol::Udp;
        assert_eq!(vs_label(&u), "[2001:db8::1]:udp:53");
        assert_eq!(
            rs_label(&u, &rs("2001:db8::2", Some(5353))),
            "[2001:db8::2]:udp:5353"
        );
        let g = vs(VsKey::Group("web".into()));
        assert_eq!(format!("VS {}", VsLabel(&g)), "VS [web]");
    }
}
