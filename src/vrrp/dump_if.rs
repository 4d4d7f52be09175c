//! The "Interfaces" part of keepalived.data (keepalived's `dump_if`): what lvsd knows of
//! each link of the namespace, in keepalived's layout. The kernel's side comes in as
//! [`LinkSnapshot`]s (taken over rtnetlink by the link adapter); this module only formats.

use crate::config::model::GlobalDefs;
use crate::vrrp::params::InstanceParams;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::time::Duration;

/// One address of a [`LinkSnapshot`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapAddr {
    pub ip: IpAddr,
    /// The address's scope (RT_SCOPE_*: 0 universe, 253 link, 254 host).
    pub scope: u8,
}

/// Everything the kernel says of one link, for the "Interfaces" part of keepalived.data.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkSnapshot {
    pub index: u32,
    pub name: String,
    /// IFF_* flags.
    pub flags: u32,
    pub mtu: u32,
    /// ARPHRD_* type.
    pub hw_type: u16,
    /// IFLA_ADDRESS (empty if none).
    pub hw_addr: Vec<u8>,
    /// IFLA_BROADCAST (empty if none).
    pub hw_broadcast: Vec<u8>,
    /// The link's addresses in the kernel's order.
    pub addrs: Vec<SnapAddr>,
    /// IPv4 conf keys lvsd changed on the link, with their values before (filled by the
    /// runtime, not by netlink).
    pub changed_conf: Vec<(String, String)>,
    /// IFLA_LINK: the link a macvlan (or vlan, veth peer…) sits on.
    pub parent: Option<u32>,
    /// A macvlan's mode (`private`, `bridge`…); None for any other kind of link.
    pub macvlan_mode: Option<&'static str>,
    /// The link has a kind (IFLA_INFO_KIND: veth, vlan, bridge…; a NIC or `lo` has none),
    /// so keepalived takes its type or base as changeable.
    pub has_kind: bool,
    /// The link's IPv4 settings as the kernel has them now.
    pub ipv4_conf: Option<Ipv4Conf>,
}

/// The IPv4 settings of a link that keepalived's dump shows. keepalived takes them from
/// each netlink link message, so its "Original" values are the current ones.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ipv4Conf {
    pub arp_ignore: i32,
    pub arp_filter: i32,
    pub rp_filter: i32,
    pub promote_secondaries: i32,
}

/// What lvsd remembers of each link from the kernel's messages: whether it is up now,
/// and what keepalived shows: whether the link was ever seen up (a link deleted forgets
/// it), and its rp_filter as the first link message after the start gave it (keepalived
/// reads it from link updates only).
#[derive(Debug, Clone, Default)]
pub struct LinkHistory {
    up: std::collections::BTreeSet<u32>,
    seen_up: std::collections::BTreeSet<u32>,
    rp_filter: std::collections::BTreeMap<u32, i32>,
}

impl LinkHistory {
    /// The links as found at the start.
    pub fn started(links: &[LinkSnapshot]) -> Self {
        let up: std::collections::BTreeSet<u32> = links
            .iter()
            .filter(|l| running(l.flags))
            .map(|l| l.index)
            .collect();
        LinkHistory {
            seen_up: up.clone(),
            up,
            rp_filter: Default::default(),
        }
    }

    /// A link message: link `index` is `up` now (`gone`: deleted), with `rp_filter` if
    /// the message gave it. True when the link has just come up.
    pub fn message(&mut self, index: u32, up: bool, gone: bool, rp_filter: Option<i32>) -> bool {
        if index == 0 {
            return false;
        }
        if gone {
            self.up.remove(&index);
            self.seen_up.remove(&index);
            self.rp_filter.remove(&index);
            return false;
        }
        if let Some(v) = rp_filter {
            self.rp_filter.entry(index).or_insert(v);
        }
        if up {
            self.seen_up.insert(index);
            self.up.insert(index)
        } else {
            self.up.remove(&index);
            false
        }
    }
}

/// Up and running (keepalived's FLAGS_UP), as [`crate::vrrp::link::link_is_up`] says.
fn running(flags: u32) -> bool {
    use netlink_packet_route::link::LinkFlags;
    crate::vrrp::link::link_is_up(LinkFlags::from_bits_retain(flags))
}

/// How lvsd learns whether a link is up (keepalived's linkbeat line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatusSource {
    /// rtnetlink link events.
    Netlink,
    /// Polling ETHTOOL_GLINK.
    Ethtool,
    /// Polling the interface flags (SIOCGIFFLAGS).
    Ioctl,
}

const RT_SCOPE_LINK: u8 = 253;
const ARPHRD_ETHER: u16 = 1;
const ARPHRD_INFINIBAND: u16 = 32;
const ARPHRD_LOOPBACK: u16 = 772;

/// One instance tracking an interface (keepalived's `tracking_obj_t` on `tracking_vrrp`).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Tracker<'a> {
    instance: &'a str,
    weight: i32,
    reverse: bool,
}

/// keepalived's weight for "not tracked" (`dont_track_primary`).
const NOT_TRACKED: i32 = 255;

/// Adds `instance` to `name`'s trackers; an instance already there keeps one entry whose
/// weight follows the newer setting unless either says "not tracked" (keepalived's
/// `add_vrrp_to_interface`).
fn add_tracker<'a>(list: &mut Vec<(String, Vec<Tracker<'a>>)>, name: &str, t: Tracker<'a>) {
    let idx = match list.iter().position(|(n, _)| n == name) {
        Some(i) => i,
        None => {
            list.push((name.to_string(), Vec::new()));
            list.len() - 1
        }
    };
    let trackers = &mut list[idx].1;
    match trackers.iter_mut().find(|x| x.instance == t.instance) {
        Some(x) => {
            if x.weight != 0 && t.weight != NOT_TRACKED {
                x.weight = t.weight;
                x.reverse = t.reverse;
            }
        }
        None => trackers.push(t),
    }
}

/// The instances tracking each interface, in keepalived's order: per instance its
/// track_interface entries, its own interface, then the interfaces of its addresses,
/// virtual routes and rules.
fn trackers<'a>(instances: &[&'a InstanceParams]) -> Vec<(String, Vec<Tracker<'a>>)> {
    let mut list = Vec::new();
    for p in instances {
        let own = p.interface.as_str();
        for t in p.track_interfaces.iter().filter(|t| t.name != own) {
            let tr = Tracker {
                instance: &p.name,
                weight: t.weight.unwrap_or(0),
                reverse: t.reverse,
            };
            add_tracker(&mut list, &t.name, tr);
        }
        let tr = Tracker {
            instance: &p.name,
            weight: if p.dont_track_primary { NOT_TRACKED } else { 0 },
            reverse: false,
        };
        add_tracker(&mut list, own, tr);
        for dev in &p.address_interfaces {
            let tr = Tracker {
                instance: &p.name,
                weight: 0,
                reverse: false,
            };
            add_tracker(&mut list, dev, tr);
        }
    }
    list
}

fn mac(b: &[u8]) -> String {
    b.iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// `UP, RUNNING` with `not ` before each flag a link lacks (keepalived's words).
fn up_running(flags: u32) -> String {
    let has = |f: libc::c_int| flags & f as u32 != 0;
    format!(
        "{}UP, {}RUNNING",
        if has(libc::IFF_UP) { "" } else { "not " },
        if has(libc::IFF_RUNNING) { "" } else { "not " },
    )
}

fn state_line(flags: u32) -> String {
    let has = |f: libc::c_int| flags & f as u32 != 0;
    format!(
        "   State = {}{}{}{}{}{}",
        up_running(flags),
        if has(libc::IFF_BROADCAST) {
            ""
        } else {
            ", no broadcast"
        },
        if has(libc::IFF_LOOPBACK) {
            ", loopback"
        } else {
            ""
        },
        if has(libc::IFF_POINTOPOINT) {
            ", point to point"
        } else {
            ""
        },
        if has(libc::IFF_NOARP) { ", no arp" } else { "" },
        if has(libc::IFF_MULTICAST) {
            ""
        } else {
            ", no multicast"
        },
    )
}

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

/// The "------< Interfaces >------" section: every link in `links` (index order), then
/// the interfaces the configuration names that do not exist (index 0, "deleted").
/// `instances`: the VRRP instances in configuration order; `source`: how each link's
/// state is learnt.
pub fn interfaces(
    links: &[LinkSnapshot],
    instances: &[&InstanceParams],
    static_addresses: &[crate::config::model::VirtualIp],
    global: &GlobalDefs,
    source: &dyn Fn(&str) -> StatusSource,
    history: &LinkHistory,
) -> String {
    let tracking = trackers(instances);
    // Addresses lvsd adds (VIPs, static_ipaddress) are not the interface's own
    // (keepalived ignores them).
    let vips: Vec<IpAddr> = instances
        .iter()
        .flat_map(|p| p.vips.iter().chain(&p.excluded_vips))
        .chain(static_addresses)
        .map(|v| v.addr)
        .collect();
    let missing: Vec<LinkSnapshot> = tracking
        .iter()
        .filter(|(n, _)| !links.iter().any(|l| &l.name == n))
        .map(|(n, _)| LinkSnapshot {
            name: n.clone(),
            ..LinkSnapshot::default()
        })
        .collect();
    let mut all: Vec<&LinkSnapshot> = links.iter().collect();
    all.extend(missing.iter());
    if all.is_empty() {
        return String::new();
    }
    // Interfaces an instance sends on or puts addresses on (keepalived gives those a GARP
    // delay when vrrp_garp_interval or vrrp_gna_interval is set).
    let used: Vec<&str> = instances
        .iter()
        .flat_map(|p| {
            let dev = p.use_vmac.as_deref().unwrap_or(&p.interface);
            std::iter::once(p.interface.as_str()).chain(
                p.vips
                    .iter()
                    .chain(&p.excluded_vips)
                    .map(move |v| v.dev.as_deref().unwrap_or(dev)),
            )
        })
        .collect();
    // The vmacs the instances use, and the links they sit on.
    let vmacs: Vec<&str> = instances
        .iter()
        .filter_map(|p| p.use_vmac.as_deref())
        .collect();
    let vmac_bases: Vec<u32> = links
        .iter()
        .filter(|l| l.macvlan_mode.is_some() && vmacs.contains(&l.name.as_str()))
        .filter_map(|l| l.parent)
        .collect();
    let mut s = String::from("------< Interfaces >------\n");
    for l in all {
        let _ = writeln!(s, " Name = {}", l.name);
        let _ = writeln!(
            s,
            "   index = {}{}",
            l.index,
            if l.index == 0 { " (deleted)" } else { "" }
        );
        for (v4, fam) in [(true, "IPv4"), (false, "IPv6")] {
            // keepalived keeps IPv6 link-local addresses only.
            let addrs: Vec<IpAddr> = l
                .addrs
                .iter()
                .filter(|a| a.ip.is_ipv4() == v4 && !vips.contains(&a.ip))
                .filter(|a| v4 || a.scope == RT_SCOPE_LINK)
                .map(|a| a.ip)
                .collect();
            match addrs.split_first() {
                Some((first, rest)) => {
                    let _ = writeln!(s, "   {fam} address = {first}");
                    if !rest.is_empty() {
                        let _ = writeln!(s, "   Additional {fam} addresses :");
                        for a in rest {
                            let _ = writeln!(s, "     {a}");
                        }
                    }
                }
                None => {
                    let _ = writeln!(s, "   {fam} address = (none)");
                }
            }
        }
        // An all-zero hardware address (loopback) counts as none.
        if l.hw_addr.iter().any(|b| *b != 0) {
            let _ = writeln!(s, "   MAC = {}", mac(&l.hw_addr));
            let _ = writeln!(s, "   MAC broadcast = {}", mac(&l.hw_broadcast));
        }
        s.push_str(&state_line(l.flags));
        s.push('\n');
        let seen_up = running(l.flags) || history.seen_up.contains(&l.index);
        let _ = writeln!(s, "   Seen up = {}", u8::from(seen_up));
        s.push_str("   Delayed state change running = false\n");
        let delays = global
            .interface_delays
            .iter()
            .find(|d| d.interface == l.name);
        let _ = writeln!(
            s,
            "   Up debounce timer = {}us",
            delays.map_or(0, |d| d.up.as_micros())
        );
        let _ = writeln!(
            s,
            "   Down debounce timer = {}us",
            delays.map_or(0, |d| d.down.as_micros())
        );
        let base = l
            .macvlan_mode
            .and(l.parent)
            .and_then(|i| links.iter().find(|b| b.index == i && b.index != l.index));
        if let (Some(mode), Some(base)) = (l.macvlan_mode, base) {
            let _ = writeln!(
                s,
                "   VMAC type {mode}, underlying interface = {}, state = {}",
                base.name,
                up_running(base.flags),
            );
        }
        let ours = l.macvlan_mode.is_some() && vmacs.contains(&l.name.as_str());
        if ours {
            s.push_str("   I/f created by keepalived\n");
        } else if global.allow_if_changes && l.has_kind {
            s.push_str("   Interface type/base can be changed\n");
        }
        let _ = writeln!(s, "   MTU = {}", l.mtu);
        match l.hw_type {
            ARPHRD_LOOPBACK => s.push_str("   HW Type = LOOPBACK\n"),
            ARPHRD_ETHER => s.push_str("   HW Type = ETHERNET\n"),
            // keepalived logs this one instead of writing it.
            ARPHRD_INFINIBAND => {}
            t => {
                let _ = writeln!(s, "   HW Type = UNKNOWN ({t})");
            }
        }
        s.push_str(match source(&l.name) {
            StatusSource::Netlink => "   NIC netlink status update\n",
            StatusSource::Ethtool => "   NIC support ETHTOOL GLINK interface\n",
            StatusSource::Ioctl => "   NIC ioctl refresh polling\n",
        });
        let group = global
            .garp_groups
            .iter()
            .find(|g| g.interfaces.contains(&l.name));
        match group {
            Some(g) => {
                if let Some(d) = g.garp_interval {
                    let _ = writeln!(s, "   Gratuitous ARP interval {}ms", ms(d));
                }
                if let Some(d) = g.gna_interval {
                    let _ = writeln!(s, "   Gratuitous NA interval {}ms", ms(d));
                }
                if let Some(n) = g.aggregation_group {
                    let _ = writeln!(s, "   Gratuitous ARP aggregation group {n}");
                }
            }
            None if used.contains(&l.name.as_str()) => {
                if !global.vrrp_garp_interval.is_zero() {
                    let _ = writeln!(
                        s,
                        "   Gratuitous ARP interval {}ms",
                        ms(global.vrrp_garp_interval)
                    );
                }
                if !global.vrrp_gna_interval.is_zero() {
                    let _ = writeln!(
                        s,
                        "   Gratuitous NA interval {}ms",
                        ms(global.vrrp_gna_interval)
                    );
                }
            }
            None => {}
        }
        let original = |key: &str| {
            l.changed_conf
                .iter()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v.as_str())
        };
        let arp = original("arp_ignore").or(original("arp_filter")).is_some();
        let _ = writeln!(s, "   Reset ARP config counter {}", u8::from(arp));
        // keepalived's "Original" values are the kernel's current ones (it reads them from
        // every link message); without them, what lvsd found before changing them.
        let conf = l.ipv4_conf;
        let now = |live: Option<i32>, key: &str| match live {
            Some(v) => v.to_string(),
            None => original(key).unwrap_or("0").to_string(),
        };
        let _ = writeln!(
            s,
            "   Original arp_ignore {}",
            now(conf.map(|c| c.arp_ignore), "arp_ignore")
        );
        let _ = writeln!(
            s,
            "   Original arp_filter {}",
            now(conf.map(|c| c.arp_filter), "arp_filter")
        );
        if l.index == 0 {
            // keepalived shows rp_filter on the interfaces it made up from the
            // configuration, and on the vmacs and their base interfaces (changed since
            // its start), never on the other links the kernel listed.
            s.push_str("   rp_filter 0\n");
        } else if ours || vmac_bases.contains(&l.index) {
            let _ = writeln!(s, "   rp_filter {}", conf.map_or(0, |c| c.rp_filter));
        } else if let Some(v) = history.rp_filter.get(&l.index) {
            let _ = writeln!(s, "   rp_filter {v}");
        }
        let _ = writeln!(
            s,
            "   Original promote_secondaries {}",
            now(conf.map(|c| c.promote_secondaries), "promote_secondaries")
        );
        let _ = writeln!(
            s,
            "   Reset promote_secondaries counter {}",
            u8::from(original("promote_secondaries").is_some())
        );
        if let Some((_, list)) = tracking.iter().find(|(n, _)| *n == l.name) {
            s.push_str("   Tracking VRRP instances :\n");
            for t in list {
                let _ = writeln!(
                    s,
                    "     {}, weight {}{}",
                    t.instance,
                    t.weight,
                    if t.reverse { " reverse" } else { "" }
                );
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn config(text: &str) -> Config {
        crate::config::parse_str(text, std::path::Path::new("t.conf"), "")
            .expect("parses")
            .config
    }

    fn section(c: &Config, links: &[LinkSnapshot], source: StatusSource) -> String {
        let params: Vec<InstanceParams> = c
            .instances
            .iter()
            .map(|i| InstanceParams::from_config(i, &c.global, &c.vrrp_scripts).expect("params"))
            .collect();
        let refs: Vec<&InstanceParams> = params.iter().collect();
        interfaces(
            links,
            &refs,
            &c.static_ipaddress,
            &c.global,
            &|_| source,
            &LinkHistory::started(links),
        )
    }

    fn eth0() -> LinkSnapshot {
        LinkSnapshot {
            index: 2,
            name: "eth0".into(),
            flags: (libc::IFF_UP | libc::IFF_RUNNING | libc::IFF_BROADCAST | libc::IFF_MULTICAST)
                as u32,
            mtu: 1500,
            hw_type: ARPHRD_ETHER,
            hw_addr: vec![2, 0, 0, 0, 0, 1],
            hw_broadcast: vec![0xff; 6],
            addrs: vec![
                SnapAddr {
                    ip: "10.0.0.1".parse().expect("ip"),
                    scope: 0,
                },
                SnapAddr {
                    ip: "10.0.0.100".parse().expect("ip"),
                    scope: 0,
                },
                SnapAddr {
                    ip: "2001:db8::1".parse().expect("ip"),
                    scope: 0,
                },
                SnapAddr {
                    ip: "fe80::1".parse().expect("ip"),
                    scope: RT_SCOPE_LINK,
                },
            ],
            changed_conf: vec![("promote_secondaries".into(), "0".into())],
            ..LinkSnapshot::default()
        }
    }

    const CONF: &str = "interface_up_down_delays {
 eth0 2 3
}
vrrp_instance A {
 interface eth0
 virtual_router_id 1
 track_interface { eth1 weight 10 }
 virtual_ipaddress {
  10.0.0.100/24
  10.1.0.1/24 dev eth1
 }
}
";

    #[test]
    fn vips_global_ipv6_left_out_debounce_and_conf_shown() {
        let s = section(&config(CONF), &[eth0()], StatusSource::Netlink);
        assert!(s.starts_with("------< Interfaces >------\n Name = eth0\n   index = 2\n"));
        assert!(
            s.contains("   IPv4 address = 10.0.0.1\n   IPv6 address = fe80::1\n"),
            "{s}"
        );
        assert!(s.contains("   MAC = 02:00:00:00:00:01\n"), "{s}");
        assert!(
            s.contains("   Up debounce timer = 3000000us\n   Down debounce timer = 2000000us\n")
        );
        assert!(s.contains(
            "   Original promote_secondaries 0\n   Reset promote_secondaries counter 1\n"
        ));
        assert!(s.contains("   NIC netlink status update\n"));
    }

    #[test]
    fn a_later_address_on_a_tracked_interface_sets_its_weight_to_zero() {
        // keepalived's add_vrrp_to_interface: the VIP's weight 0 replaces track_interface's.
        let s = section(&config(CONF), &[eth0()], StatusSource::Ioctl);
        assert!(s.contains(" Name = eth1\n   index = 0 (deleted)\n"), "{s}");
        assert!(
            s.ends_with("   Tracking VRRP instances :\n     A, weight 0\n"),
            "{s}"
        );
        assert!(s.contains("   NIC ioctl refresh polling\n"));
    }

    #[test]
    fn no_links_no_section() {
        let c = config("global_defs { router_id x }\n");
        assert_eq!(section(&c, &[], StatusSource::Netlink), "");
    }
}
