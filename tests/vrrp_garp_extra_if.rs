//! `garp_extra_if all SECS` against Debian's keepalived 2.2.7 (issue 13).
//!
//! lvsd and keepalived run the same file, each alone in a lab of its own. The instance
//! runs on eth0; a second address is on eth1 (a veth pair inside the node, captured on
//! its peer). While MASTER, both must send one gratuitous ARP for the eth1 address from
//! eth1's MAC every SECS seconds (keepalived checks the timer at each advert, so a gap
//! may be one advert interval longer), and none on eth0 after the transition's burst.
//! keepalived.data shows the setting the same way.

mod support;

use std::net::Ipv4Addr;
use std::process::Command;
use std::time::{Duration, SystemTime};
use support::*;

const SEC: Duration = Duration::from_secs(1);
const MAIN_VIP: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 50);
const EXTRA_VIP: Ipv4Addr = Ipv4Addr::new(10, 99, 1, 50);
const EVERY: f64 = 2.0;

fn conf() -> String {
    "global_defs {\n  router_id T\n  vrrp_garp_master_delay 0\n  vrrp_garp_master_repeat 1\n}\n\
     vrrp_instance V {\n  state MASTER\n  interface eth0\n  virtual_router_id 50\n  priority 150\n  \
     advert_int 1\n  garp_extra_if all 2\n  virtual_ipaddress {\n    10.99.0.50/24 dev eth0\n    \
     10.99.1.50/24 dev eth1\n  }\n}\n"
        .to_string()
}

fn ip(args: &[&str]) {
    let ok = Command::new("ip")
        .args(args)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "ip {args:?} failed");
}

struct Run {
    /// GARPs for the eth1 address at the transition: (from eth1's MAC on eth1, on eth0).
    burst: (usize, usize),
    /// Gaps (s) between the GARPs for the eth1 address sent from eth1's MAC, after the
    /// transition.
    gaps: Vec<f64>,
    /// GARPs for the eth0 address seen on eth0 after the transition's burst.
    late_on_eth0: usize,
    /// The garp_extra_if lines of keepalived.data.
    dump: Vec<String>,
}

fn run(kind: Kind) -> Run {
    let lab = Lab::new("gx", 1);
    let ns = lab.node(0).ns.clone();
    ip(&[
        "-n", &ns, "link", "add", "eth1", "type", "veth", "peer", "name", "eth1p",
    ]);
    ip(&["-n", &ns, "link", "set", "eth1", "up"]);
    ip(&["-n", &ns, "link", "set", "eth1p", "up"]);
    let eth1_mac = mac_of(&ns, "eth1").expect("eth1 MAC");
    let eth0_mac = mac_of(&ns, "eth0").expect("eth0 MAC");
    let bridge = lab.capture();
    let extra = Capture::start(&ns, "eth1p");
    let d = lab.spawn(0, kind, "d", &conf());
    let who = kind.label();
    assert!(
        wait_addr(&ns, MAIN_VIP, true, 8 * SEC).is_some(),
        "{who} never became master\n{}",
        d.log_text()
    );
    let since_master = SystemTime::now();
    std::thread::sleep(Duration::from_millis(9500));
    let from_eth1: Vec<SystemTime> = extra
        .frames()
        .into_iter()
        .filter(|f| f.src_mac == eth1_mac && is_garp_for(f, EXTRA_VIP))
        .map(|f| f.at)
        .collect();
    let near = |t: SystemTime| secs_between(since_master, t).abs() < 1.0;
    let burst = (
        from_eth1.iter().filter(|t| near(**t)).count(),
        bridge
            .frames()
            .into_iter()
            .filter(|f| is_garp_for(f, EXTRA_VIP))
            .count(),
    );
    let late_on_eth0 = bridge
        .frames()
        .into_iter()
        .filter(|f| {
            f.src_mac == eth0_mac
                && is_garp_for(f, MAIN_VIP)
                && f.at > since_master + Duration::from_millis(500)
        })
        .count();
    eprintln!(
        "--- {who}: GARPs from eth1 at {:?}\n{}",
        from_eth1
            .iter()
            .map(|t| secs_between(since_master, *t))
            .collect::<Vec<_>>(),
        d.log_text()
    );
    // (after the transition's burst, which keepalived also sends there)
    let periodic: Vec<SystemTime> = from_eth1
        .into_iter()
        .filter(|t| *t > since_master + Duration::from_millis(500))
        .collect();
    let gaps: Vec<f64> = periodic
        .windows(2)
        .map(|w| secs_between(w[0], w[1]))
        .collect();
    let dump = dump_lines(&d);
    Run {
        burst,
        gaps,
        late_on_eth0,
        dump,
    }
}

/// The instance's "secondary" lines of keepalived.data (SIGUSR1), times cut off.
fn dump_lines(d: &Daemon) -> Vec<String> {
    let text = d.data_dump("VRRP Instance");
    text.lines()
        .filter(|l| l.contains("secondary"))
        .map(
            |l| match l.split_once("Next gratuitous ARP for such secondary = ") {
                Some((head, _)) => format!("{head}Next gratuitous ARP for such secondary = (time)"),
                None => l.to_string(),
            },
        )
        .collect()
}

#[test]
fn garp_extra_if_as_keepalived() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    require_tool("keepalived");
    let k = run(Kind::Keepalived);
    let l = run(Kind::Lvsd);
    eprintln!(
        "keepalived gaps {:?}, dump {:?}\nlvsd gaps {:?}, dump {:?}",
        k.gaps, k.dump, l.gaps, l.dump
    );
    for (who, r) in [("keepalived", &k), ("lvsd", &l)] {
        assert!(
            r.gaps.len() >= 3,
            "{who}: too few periodic GARPs on eth1 ({:?})",
            r.gaps
        );
        for g in &r.gaps {
            assert!(
                (EVERY - 0.2..=EVERY + 1.2).contains(g),
                "{who}: a gap of {g:.2} s between periodic GARPs (every {EVERY} s): {:?}",
                r.gaps
            );
        }
        // The transition's burst announces the eth1 address on eth1 only.
        assert_eq!(
            r.burst,
            (1, 0),
            "{who}: transition GARPs for the eth1 address (on eth1, on eth0)"
        );
        assert_eq!(
            r.late_on_eth0, 0,
            "{who}: periodic GARPs on the instance's own interface"
        );
    }
    assert_eq!(l.dump, k.dump, "keepalived.data lines (lvsd left)");
    assert!(
        l.dump
            .iter()
            .any(|x| x == "   Gratuitous ARP for each secondary i/f = 2"),
        "{:?}",
        l.dump
    );
}

// ---- when it is on (no root) -----------------------------------------------------------

fn instance_conf(global: &str, inst: &str, vips: &str) -> String {
    format!(
        "global_defs {{\n{global}\n}}\nvrrp_instance V {{\n  interface eth0\n  virtual_router_id 1\n\
         {inst}\n  virtual_ipaddress {{\n{vips}\n  }}\n}}\n"
    )
}

fn resolved(text: &str) -> (Option<Duration>, Vec<String>) {
    let l = lvsd::config::parse_str(text, std::path::Path::new("gx.conf"), "x")
        .unwrap_or_else(|e| panic!("{e}"));
    let c = &l.config;
    (
        lvsd::vrrp::params::extra_if_garp(&c.instances[0], &c.global),
        l.warnings.iter().map(|d| d.message.clone()).collect(),
    )
}

#[test]
fn garp_extra_if_is_on_with_all_and_an_address_elsewhere() {
    let other = "    10.0.0.1/24\n    10.0.1.1/24 dev eth1";
    let only_own = "    10.0.0.1/24\n    10.0.0.2/24 dev eth0";
    let two = Some(Duration::from_secs(2));
    // The instance's setting, the global one, `all` in either place.
    assert_eq!(
        resolved(&instance_conf("", "garp_extra_if all 2", other)).0,
        two
    );
    assert_eq!(
        resolved(&instance_conf("", "garp_extra_if 2 all", other)).0,
        two
    );
    assert_eq!(
        resolved(&instance_conf("vrrp_garp_extra_if all 2", "", other)).0,
        two
    );
    // Without `all` keepalived sends only on VMACs it makes for addresses: off.
    assert_eq!(
        resolved(&instance_conf("", "garp_extra_if 2", other)).0,
        None
    );
    // No address on another interface: off.
    assert_eq!(
        resolved(&instance_conf("", "garp_extra_if all 2", only_own)).0,
        None
    );
    // With use_vmac an address of the instance's family on its interface is on the VMAC;
    // one of the other family stays on the interface under it: another interface.
    let mixed = "use_vmac\n garp_extra_if all 2\n virtual_ipaddress_excluded {\n fd00::1/64\n }";
    assert_eq!(resolved(&instance_conf("", mixed, only_own)).0, two);
    assert_eq!(
        resolved(&instance_conf(
            "",
            "use_vmac\n garp_extra_if all 2",
            only_own
        ))
        .0,
        None
    );
    // An instance's 0 switches the global setting off; the global one must be 1 or more.
    assert_eq!(
        resolved(&instance_conf(
            "vrrp_garp_extra_if all 2",
            "garp_extra_if 0",
            other
        ))
        .0,
        None
    );
    let (v, w) = resolved(&instance_conf("vrrp_garp_extra_if all 0", "", other));
    assert_eq!(v, None);
    assert!(
        w.iter().any(|m| m.contains("out of range 1-86400")),
        "{w:?}"
    );
    // Without a time the line is ignored; the old spellings are read, with a warning.
    let (v, w) = resolved(&instance_conf("", "garp_extra_if all", other));
    assert_eq!(v, None);
    assert!(w.iter().any(|m| m.contains("without a time")), "{w:?}");
    let (v, w) = resolved(&instance_conf(
        "vrrp_vmac_garp_intvl all 3",
        "vmac_garp_intvl all 2",
        other,
    ));
    assert_eq!(v, two);
    assert_eq!(
        w.iter().filter(|m| m.contains("is deprecated")).count(),
        2,
        "{w:?}"
    );
}
