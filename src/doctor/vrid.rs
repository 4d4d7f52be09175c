//! Other routers on the VRRP segments: the adverts heard for a few seconds on each
//! instance's interface, compared with the instances. A router advertising an
//! instance's VRID with other addresses (or, for a unicast instance, one not among its
//! peers) is another cluster on the same VRID. [`vrid_findings`] is pure; [`listen`]
//! is the raw-socket adapter.

use super::{finding, Finding, Level};
use crate::config::Config;
use crate::vrrp::packet::Advert;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::time::Duration;

/// One advert heard: on which interface, from whom.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Heard {
    pub iface: String,
    pub src: IpAddr,
    pub advert: Advert,
}

fn list(addrs: &BTreeSet<IpAddr>) -> String {
    let v: Vec<String> = addrs.iter().map(IpAddr::to_string).collect();
    v.join(", ")
}

/// The findings for the adverts `heard` (this host's own, from `local`, left out).
pub fn vrid_findings(config: &Config, heard: &[Heard], local: &BTreeSet<IpAddr>) -> Vec<Finding> {
    let mut out = Vec::new();
    let heard: Vec<&Heard> = heard.iter().filter(|h| !local.contains(&h.src)).collect();
    // Per (interface, family): the VRIDs heard, to pick a free one.
    let mut seen: BTreeMap<(&str, bool), BTreeSet<u8>> = BTreeMap::new();
    for h in &heard {
        seen.entry((h.iface.as_str(), h.src.is_ipv6()))
            .or_default()
            .insert(h.advert.vrid);
    }
    // One finding per (instance, sender).
    let mut done = BTreeSet::new();
    for inst in &config.instances {
        let v6 = inst.is_ipv6();
        let vips: BTreeSet<IpAddr> = inst
            .virtual_ipaddress
            .iter()
            .map(|v| v.addr)
            .filter(|a| a.is_ipv6() == v6)
            .collect();
        let peers: BTreeSet<IpAddr> = inst.unicast_peers.iter().map(|p| p.addr).collect();
        for h in &heard {
            if h.iface != inst.interface
                || h.advert.vrid != inst.virtual_router_id
                || h.src.is_ipv6() != v6
                || !done.insert((inst.name.clone(), h.src))
            {
                continue;
            }
            let theirs: BTreeSet<IpAddr> = h.advert.addrs.iter().copied().collect();
            let stranger = !peers.is_empty() && !peers.contains(&h.src);
            // (keepalived sends at most the first 20 addresses)
            let other_vips = !vips.is_empty() && theirs != vips && !theirs.is_subset(&vips);
            if stranger || other_vips {
                let used = seen
                    .get(&(inst.interface.as_str(), v6))
                    .cloned()
                    .unwrap_or_default();
                let free = (1..=255u8).find(|id| !used.contains(id)).unwrap_or(1);
                let why = if other_vips {
                    format!(
                        "with other addresses ({}; this instance has {})",
                        list(&theirs),
                        list(&vips)
                    )
                } else {
                    "and is not among its unicast peers".to_string()
                };
                out.push(finding(
                    Level::Problem,
                    "vrid_conflict",
                    format!(
                        "{} advertises VRID {} on {} (priority {}) {why}: another cluster uses the VRID of instance {}",
                        h.src, h.advert.vrid, inst.interface, h.advert.priority, inst.name
                    ),
                    "the two clusters take each other's adverts for their own: one of them never becomes master, or both hold the same virtual MAC (use_vmac)",
                    format!(
                        "give one of the clusters another virtual_router_id on this segment (heard in use: {}; {free} is free)",
                        used.iter().map(u8::to_string).collect::<Vec<_>>().join(", ")
                    ),
                ));
            } else {
                out.push(finding(
                    Level::Info,
                    "vrrp_peer",
                    format!(
                        "{} advertises VRID {} on {} (priority {}): a peer of instance {}",
                        h.src, h.advert.vrid, inst.interface, h.advert.priority, inst.name
                    ),
                    "the adverts get through",
                    String::new(),
                ));
            }
        }
    }
    out
}

/// Listens for `dur` on each `(interface, IPv6?)` and returns the adverts heard (those
/// that decode; an interface that cannot be listened on is logged and skipped).
pub fn listen(ifaces: &BTreeSet<(String, bool)>, dur: Duration) -> Vec<Heard> {
    use crate::vrrp::packet::RxMeta;
    use crate::vrrp::socket::{AdvertSocket, SocketSpec, VrrpSocket, MCAST_V4, MCAST_V6};
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::warn!("Cannot listen for adverts: no runtime: {e}");
            return Vec::new();
        }
    };
    rt.block_on(async {
        let mut tasks = Vec::new();
        for (ifname, v6) in ifaces {
            let Ok(ifindex) = nix::net::if_::if_nametoindex(ifname.as_str()) else {
                tracing::warn!("Cannot listen for adverts on {ifname}: no such interface.");
                continue;
            };
            let spec = SocketSpec {
                ifname: ifname.clone(),
                ifindex,
                ipv6: *v6,
                group: Some(if *v6 {
                    IpAddr::V6(MCAST_V6)
                } else {
                    IpAddr::V4(MCAST_V4)
                }),
                ah: false,
            };
            let sock = match VrrpSocket::open(spec) {
                Ok(s) => s,
                Err(e) => {
                    tracing::warn!("Cannot listen for adverts: {e}");
                    continue;
                }
            };
            let ifname = ifname.clone();
            tasks.push(tokio::spawn(async move {
                let mut heard = Vec::new();
                let until = tokio::time::Instant::now() + dur;
                while let Ok(Ok(r)) = tokio::time::timeout_at(until, sock.recv()).await {
                    let Some(r) = r else { continue };
                    let meta = RxMeta {
                        src: r.meta.src,
                        dst: r.meta.dst,
                        ttl: r.meta.ttl,
                    };
                    if let Ok(advert) = Advert::decode(&r.payload, &meta) {
                        heard.push(Heard {
                            iface: ifname.clone(),
                            src: r.meta.src,
                            advert,
                        });
                    }
                }
                heard
            }));
        }
        let mut all = Vec::new();
        for t in tasks {
            if let Ok(h) = t.await {
                all.extend(h);
            }
        }
        all
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::parse_str;
    use crate::vrrp::packet::Version;
    use std::path::Path;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    fn heard(src: &str, vrid: u8, addrs: &[&str]) -> Heard {
        Heard {
            iface: "eth0".into(),
            src: ip(src),
            advert: Advert {
                version: Version::V2,
                vrid,
                priority: 100,
                interval_cs: 100,
                auth_type: 0,
                auth_data: [0; 8],
                addrs: addrs.iter().map(|a| ip(a)).collect(),
                ah: None,
            },
        }
    }

    const CONF: &str = "vrrp_instance V { interface eth0\n virtual_router_id 51\n \
                        virtual_ipaddress { 10.0.0.100/24 } }\n";

    #[test]
    fn a_peer_is_info_another_cluster_a_problem() {
        let c = parse_str(CONF, Path::new("t.conf"), "x")
            .expect("loads")
            .config;
        let local = BTreeSet::from([ip("10.0.0.1")]);
        let f = vrid_findings(
            &c,
            &[
                heard("10.0.0.1", 51, &["10.0.0.100"]),
                heard("10.0.0.2", 51, &["10.0.0.100"]),
                heard("10.0.0.7", 51, &["10.0.0.200"]),
                heard("10.0.0.8", 52, &["10.0.0.201"]),
            ],
            &local,
        );
        let checks: Vec<(&str, Level)> = f.iter().map(|f| (f.check, f.level)).collect();
        assert_eq!(
            checks,
            [
                ("vrrp_peer", Level::Info),
                ("vrid_conflict", Level::Problem)
            ],
            "{f:?}"
        );
        assert!(
            f[1].what.starts_with("10.0.0.7 advertises VRID 51"),
            "{}",
            f[1].what
        );
        assert!(
            f[1].fix.contains("heard in use: 51, 52; 1 is free"),
            "{}",
            f[1].fix
        );
    }

    #[test]
    fn a_unicast_instance_knows_its_peers() {
        let c = parse_str(
            "vrrp_instance V { interface eth0\n virtual_router_id 51\n \
             unicast_peer { 10.0.0.2 }\n virtual_ipaddress { 10.0.0.100/24 } }\n",
            Path::new("t.conf"),
            "x",
        )
        .expect("loads")
        .config;
        let f = vrid_findings(
            &c,
            &[heard("10.0.0.9", 51, &["10.0.0.100"])],
            &BTreeSet::new(),
        );
        assert_eq!(f[0].check, "vrid_conflict");
        assert!(f[0].what.contains("not among its unicast peers"));
    }
}
