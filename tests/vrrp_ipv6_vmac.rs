//! VRRP end to end over IPv6 and with `use_vmac` (issue 3), in network namespaces.
//!
//! IPv6: two directors run a VRRPv3 instance whose VIP is an IPv6 address. The higher
//! priority must hold the VIP, advertise to ff02::12 from its link-local address with hop
//! limit 255, announce the VIP with an unsolicited neighbour advertisement carrying its MAC,
//! and SIGTERM must move the VIP (and a fresh NA) to the other side. Run with lvsd on both
//! sides, lvsd with Debian's keepalived in both roles, and keepalived alone (the reference
//! that proves the harness).
//!
//! vmac: the same for IPv4 with `use_vmac`: the master's adverts and gratuitous ARPs leave
//! from the virtual MAC 00:00:5e:00:01:VRID, the VIP sits on the `vrrp.VRID` macvlan with
//! keepalived's ARP sysctls, the backup (whose own vmac has the same MAC) still hears the
//! master, a client on the segment reaches the VIP before and after the failover, and the
//! vmac interface is removed when the daemon stops.

mod support;

use std::net::{IpAddr, Ipv6Addr};
use std::process::Command;
use std::time::{Duration, SystemTime};
use support::*;

const SEC: Duration = Duration::from_secs(1);
const VRRP6_GROUP: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
const VMAC: [u8; 6] = [0x00, 0x00, 0x5e, 0x00, 0x01, VRID];

fn logs(ds: &[&Daemon]) -> String {
    ds.iter()
        .map(|d| format!("--- {} {}:\n{}", d.kind.label(), d.node.name, d.log_text()))
        .collect()
}

fn conf_v6(router: &str, prio: u8) -> String {
    format!(
        "global_defs {{\n  router_id {router}\n}}\n\n\
         vrrp_instance VI_6 {{\n  state BACKUP\n  interface eth0\n  \
         virtual_router_id {VRID}\n  priority {prio}\n  version 3\n  advert_int 1\n  \
         virtual_ipaddress {{\n    {VIP6}/64\n  }}\n}}\n"
    )
}

fn conf_vmac(router: &str, prio: u8) -> String {
    format!(
        "global_defs {{\n  router_id {router}\n}}\n\n\
         vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  use_vmac\n  \
         virtual_router_id {VRID}\n  priority {prio}\n  advert_int 1\n  \
         virtual_ipaddress {{\n    {VIP}/24\n  }}\n}}\n"
    )
}

fn is_advert6(f: &Frame, from: Ipv6Addr, prio: u8) -> bool {
    matches!(f.what, What::Vrrp6 { src, vrid, prio: p, .. } if src == from && vrid == VRID && p == prio)
}

fn is_na_for(f: &Frame, target: Ipv6Addr, mac: [u8; 6]) -> bool {
    matches!(f.what, What::Na { target: t, mac: Some(m), .. } if t == target && m == mac)
        && f.src_mac == mac
}

fn ipv6_failover(high: Kind, low: Kind) {
    if support::skip_without_root("network namespaces") {
        return;
    }
    let lab = Lab::new("v6", 2);
    let (a, b) = (lab.node(0).clone(), lab.node(1).clone());
    let a_ll = wait_link_local(&a.ns, 10 * SEC).expect("A has no link-local address");
    let b_ll = wait_link_local(&b.ns, 10 * SEC).expect("B has no link-local address");
    let a_mac = mac_of(&a.ns, "eth0").expect("A's MAC");
    let b_mac = mac_of(&b.ns, "eth0").expect("B's MAC");
    let cap = lab.capture();
    let vip = IpAddr::V6(VIP6);

    let mut da = lab.spawn(0, high, "a", &conf_v6("A", 150));
    let db = lab.spawn(1, low, "b", &conf_v6("B", 100));
    assert!(
        wait_addr_any(&a.ns, vip, true, 8 * SEC).is_some(),
        "A never took the IPv6 VIP\n{}",
        logs(&[&da, &db])
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(addr_dev(&a.ns, vip).as_deref(), Some("eth0"));
    assert!(
        addr_dev(&b.ns, vip).is_none(),
        "B holds the VIP too\n{}",
        logs(&[&da, &db])
    );

    // A's adverts: VRRPv3 to ff02::12 from its link-local address, hop limit 255.
    let adv = cap
        .last_before(SystemTime::now(), |f| is_advert6(f, a_ll, 150))
        .unwrap_or_else(|| panic!("no IPv6 advert from A\n{}", logs(&[&da, &db])));
    match adv.what {
        What::Vrrp6 {
            dst,
            version,
            hop_limit,
            ..
        } => {
            assert_eq!(dst, VRRP6_GROUP, "advert destination");
            assert_eq!(version, 3, "advert version");
            assert_eq!(hop_limit, 255, "advert hop limit");
        }
        _ => unreachable!(),
    }
    assert_eq!(adv.src_mac, a_mac, "advert not sent from A's eth0");
    // The VIP was announced with an unsolicited NA carrying A's MAC, to all nodes.
    let na = cap
        .frames()
        .into_iter()
        .find(|f| is_na_for(f, VIP6, a_mac))
        .unwrap_or_else(|| panic!("no unsolicited NA for the VIP from A"));
    match na.what {
        What::Na { dst, hop_limit, .. } => {
            assert_eq!(dst, ALL_NODES, "NA destination");
            assert_eq!(hop_limit, 255, "NA hop limit");
        }
        _ => unreachable!(),
    }
    // Nothing from B as master once A advertises. Both start in BACKUP at the same time, so
    // B may win the first election when A's daemon is slow to start; it must then step
    // down as soon as it hears A (0.2 s of grace for an advert already on its way).
    let a_first = cap
        .frames()
        .into_iter()
        .find(|f| is_advert6(f, a_ll, 150))
        .map(|f| f.at)
        .unwrap_or_else(|| panic!("no advert from A as master\n{}", logs(&[&da, &db])));
    let late = cap
        .frames()
        .into_iter()
        .find(|f| is_advert6(f, b_ll, 100) && secs_between(a_first, f.at) > 0.2);
    assert!(
        late.is_none(),
        "B advertised as master {:.3} s after A's first advert\n{}",
        late.map(|f| secs_between(a_first, f.at)).unwrap_or(0.0),
        logs(&[&da, &db])
    );

    // SIGTERM: A resigns, B takes over after its skew and announces the VIP.
    let t0 = da.sigterm();
    let t = wait_addr_any(&b.ns, vip, true, 3 * SEC)
        .unwrap_or_else(|| panic!("B did not take the VIP\n{}", logs(&[&da, &db])));
    assert!(t < Duration::from_millis(1500), "takeover took {t:?}");
    let first = cap
        .wait_for(t0, 2 * SEC, |f| is_advert6(f, b_ll, 100))
        .unwrap_or_else(|| panic!("B never advertised as master"));
    let na = cap
        .wait_for(t0, 2 * SEC, |f| is_na_for(f, VIP6, b_mac))
        .unwrap_or_else(|| panic!("no unsolicited NA from B after the takeover"));
    let gap = secs_between(first.at, na.at).abs();
    assert!(
        gap < 0.1,
        "NA {gap:.3} s away from B's first advert as master"
    );
    assert!(da.wait_exit(5 * SEC).is_some(), "A did not exit");
    assert!(
        addr_dev(&a.ns, vip).is_none(),
        "A left its IPv6 VIP behind on SIGTERM"
    );
    // A resigned with priority 0 before leaving.
    assert!(
        cap.frames()
            .iter()
            .any(|f| f.at >= t0 && is_advert6(f, a_ll, 0)),
        "A sent no priority-0 advert on SIGTERM"
    );
}

#[test]
fn ipv6_lvsd_pair() {
    ipv6_failover(Kind::Lvsd, Kind::Lvsd);
}

#[test]
fn ipv6_lvsd_master_keepalived_backup() {
    ipv6_failover(Kind::Lvsd, Kind::Keepalived);
}

#[test]
fn ipv6_keepalived_master_lvsd_backup() {
    ipv6_failover(Kind::Keepalived, Kind::Lvsd);
}

#[test]
fn ipv6_keepalived_pair_reference() {
    ipv6_failover(Kind::Keepalived, Kind::Keepalived);
}

/// Pings the VIP from the client node once, with a fresh ARP resolution.
fn client_reaches_vip(client: &Node) -> bool {
    let _ = Command::new("ip")
        .args(["-n", &client.ns, "neigh", "flush", "dev", "eth0"])
        .status();
    Command::new("ip")
        .args(["netns", "exec", &client.ns, "ping", "-c", "1", "-W", "1"])
        .arg(VIP.to_string())
        .stdout(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// The sysctl `key` of interface `dev` in namespace `ns`.
fn ipv4_conf(ns: &str, dev: &str, key: &str) -> String {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "cat"])
        .arg(format!("/proc/sys/net/ipv4/conf/{dev}/{key}"))
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_default();
    out
}

/// Sets the sysctl `key` of interface `dev` in namespace `ns`.
fn set_ipv4_conf(ns: &str, dev: &str, key: &str, val: &str) {
    let ok = Command::new("ip")
        .args(["netns", "exec", ns, "sysctl", "-qw"])
        .arg(format!("net.ipv4.conf.{dev}.{key}={val}"))
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "cannot set {dev}.{key} in {ns}");
}

fn link_exists(ns: &str, dev: &str) -> bool {
    Command::new("ip")
        .args(["-n", ns, "link", "show", "dev", dev])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn vmac_failover(high: Kind, low: Kind) {
    require_tool("ping");
    if support::skip_without_root("network namespaces") {
        return;
    }
    let lab = Lab::new("vmac", 3);
    let (a, b, client) = (
        lab.node(0).clone(),
        lab.node(1).clone(),
        lab.node(2).clone(),
    );
    let vmac_dev = format!("vrrp.{VRID}");
    let cap = lab.capture();
    let vip = IpAddr::V4(VIP);
    // Strict reverse-path filtering, as RHEL-family hosts set it: a peer's advert reaches
    // the vmac (which has no address on the peer's subnet) only once the daemon has cleared
    // all.rp_filter and the vmac's own, as keepalived does.
    for node in [&a, &b] {
        for dev in ["all", "default", "eth0"] {
            set_ipv4_conf(&node.ns, dev, "rp_filter", "1");
        }
    }

    let mut da = lab.spawn(0, high, "a", &conf_vmac("A", 150));
    let db = lab.spawn(1, low, "b", &conf_vmac("B", 100));
    assert!(
        wait_addr_any(&a.ns, vip, true, 8 * SEC).is_some(),
        "A never took the VIP\n{}",
        logs(&[&da, &db])
    );
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        addr_dev(&a.ns, vip).as_deref(),
        Some(vmac_dev.as_str()),
        "the VIP is not on A's vmac interface"
    );
    assert_eq!(mac_of(&a.ns, &vmac_dev), Some(VMAC), "A's vmac MAC");
    assert!(addr_dev(&b.ns, vip).is_none(), "B holds the VIP too");
    // Adverts and the gratuitous ARP leave from the virtual MAC.
    let adv = cap
        .last_before(SystemTime::now(), |f| is_advert_from(f, a.ip, |p| p == 150))
        .unwrap_or_else(|| panic!("no advert from A\n{}", logs(&[&da, &db])));
    assert_eq!(adv.src_mac, VMAC, "A's advert does not come from the vmac");
    let garp = cap
        .frames()
        .into_iter()
        .find(|f| is_garp_for(f, VIP))
        .expect("no gratuitous ARP for the VIP");
    assert_eq!(garp.src_mac, VMAC, "GARP frame not from the vmac");
    match garp.what {
        What::Garp { mac, .. } => assert_eq!(mac, VMAC, "GARP sender MAC"),
        _ => unreachable!(),
    }
    assert!(
        client_reaches_vip(&client),
        "the client cannot reach the VIP\n{}",
        logs(&[&da, &db])
    );
    // As keepalived: only the vmac answers ARP for the VIP (arp_ignore on both, arp_filter
    // on the base interface), and the vmac accepts local source addresses.
    for (dev, key) in [
        ("eth0", "arp_ignore"),
        ("eth0", "arp_filter"),
        (vmac_dev.as_str(), "arp_ignore"),
        (vmac_dev.as_str(), "accept_local"),
        (vmac_dev.as_str(), "promote_secondaries"),
        // each interface keeps its own filtering; all's goes to 0 for the vmac's sake
        ("eth0", "rp_filter"),
        ("default", "rp_filter"),
    ] {
        assert_eq!(ipv4_conf(&a.ns, dev, key), "1", "A's {dev} {key}");
    }
    for dev in ["all", vmac_dev.as_str()] {
        assert_eq!(
            ipv4_conf(&a.ns, dev, "rp_filter"),
            "0",
            "A's {dev} rp_filter"
        );
    }

    let t0 = da.sigterm();
    assert!(
        wait_addr_any(&b.ns, vip, true, 3 * SEC).is_some(),
        "B did not take the VIP\n{}",
        logs(&[&da, &db])
    );
    assert_eq!(addr_dev(&b.ns, vip).as_deref(), Some(vmac_dev.as_str()));
    let adv = cap
        .wait_for(t0, 2 * SEC, |f| is_advert_from(f, b.ip, |p| p == 100))
        .expect("B never advertised as master");
    assert_eq!(adv.src_mac, VMAC, "B's advert does not come from the vmac");
    assert!(da.wait_exit(5 * SEC).is_some(), "A did not exit");
    assert!(
        !link_exists(&a.ns, &vmac_dev),
        "A left its vmac interface behind"
    );
    // lvsd puts the base interface's ARP sysctls and all.rp_filter back; keepalived 2.2.7
    // leaves the ARP ones set.
    for (dev, key, was) in [
        ("eth0", "arp_ignore", "0"),
        ("eth0", "arp_filter", "0"),
        ("all", "rp_filter", "1"),
    ]
    .iter()
    .filter(|_| high == Kind::Lvsd)
    {
        assert_eq!(
            ipv4_conf(&a.ns, dev, key),
            *was,
            "A did not restore {dev} {key} on exit"
        );
    }
    assert!(
        client_reaches_vip(&client),
        "after the failover the client cannot reach the VIP\n{}",
        logs(&[&da, &db])
    );
}

#[test]
fn vmac_lvsd_pair() {
    vmac_failover(Kind::Lvsd, Kind::Lvsd);
}

#[test]
fn vmac_lvsd_master_keepalived_backup() {
    vmac_failover(Kind::Lvsd, Kind::Keepalived);
}

#[test]
fn vmac_keepalived_pair_reference() {
    vmac_failover(Kind::Keepalived, Kind::Keepalived);
}

#[test]
fn vmac_keepalived_master_lvsd_backup() {
    vmac_failover(Kind::Keepalived, Kind::Lvsd);
}
