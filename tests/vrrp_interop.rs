//! Interoperation with Debian's keepalived (issue 3, test b).
//!
//! lvsd at priority 150 with keepalived at 100, then the reverse, in VRRPv2 (PASS auth)
//! and VRRPv3, multicast and unicast: the higher priority holds the VIP, the adverts on the
//! wire have the configured version and destination, and SIGTERM of the master moves the
//! VIP to the other side within about its skew. `keepalived_pair_*` run the same with
//! keepalived on both sides: the reference that proves the harness.

mod support;

use std::net::Ipv4Addr;
use std::time::{Duration, SystemTime};
use support::*;

const SEC: Duration = Duration::from_secs(1);
const MCAST: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);

#[derive(Clone, Copy)]
enum Mode {
    Multicast,
    Unicast,
}

fn logs(ds: &[&Daemon]) -> String {
    ds.iter()
        .map(|d| format!("--- {} {}:\n{}", d.kind.label(), d.node.name, d.log_text()))
        .collect()
}

fn interop(high: Kind, low: Kind, version: u8, mode: Mode) {
    let lab = Lab::new(&format!("io{version}"), 2);
    let (a, b) = (lab.node(0).clone(), lab.node(1).clone());
    // Capture on the ports towards each node: unicast adverts are forwarded port to port
    // and never reach the bridge device itself.
    let cap_to_b = Capture::start(&lab.hub, "p2");
    let cap_to_a = Capture::start(&lab.hub, "p1");
    let mk = |router: &str, prio: u8, me: Ipv4Addr, peer: Ipv4Addr| {
        let mut c = Conf::new(router, prio);
        c.version = version;
        if version == 2 {
            c.auth_pass = Some("secret1".into());
        }
        if let Mode::Unicast = mode {
            c.unicast = Some((me, vec![peer]));
        }
        c.render()
    };
    let mut da = lab.spawn(0, high, "a", &mk("A", 150, a.ip, b.ip));
    let db = lab.spawn(1, low, "b", &mk("B", 100, b.ip, a.ip));
    let what = format!("{} 150 / {} 100, v{version}", high.label(), low.label());

    assert!(
        wait_addr(&a.ns, VIP, true, 8 * SEC).is_some(),
        "{what}: the priority-150 side never took the VIP\n{}",
        logs(&[&da, &db])
    );
    std::thread::sleep(Duration::from_millis(2500));
    assert!(
        has_addr(&a.ns, VIP) && !has_addr(&b.ns, VIP),
        "{what}: VIP not held by the priority-150 side alone after 2.5 s\n{}",
        logs(&[&da, &db])
    );
    // The master's adverts reach the backup with the configured version and destination.
    let want_dst = match mode {
        Mode::Multicast => MCAST,
        Mode::Unicast => b.ip,
    };
    let adv = cap_to_b
        .last_before(SystemTime::now(), |f| is_advert_from(f, a.ip, |p| p == 150))
        .unwrap_or_else(|| panic!("{what}: no advert from A reached B"));
    match adv.what {
        What::Vrrp {
            version: v,
            dst,
            ttl,
            ..
        } => {
            assert_eq!(v, version, "{what}: advert version");
            assert_eq!(dst, want_dst, "{what}: advert destination");
            assert_eq!(ttl, 255, "{what}: advert TTL");
        }
        _ => unreachable!(),
    }

    // SIGTERM of the master: priority-0 advert, then B takes over after its skew.
    let t0 = da.sigterm();
    let resign = cap_to_b
        .wait_for(t0, 2 * SEC, |f| is_advert_from(f, a.ip, |p| p == 0))
        .unwrap_or_else(|| {
            panic!(
                "{what}: no priority-0 advert on SIGTERM\n{}",
                logs(&[&da, &db])
            )
        });
    let t = wait_addr(&b.ns, VIP, true, 3 * SEC).unwrap_or_else(|| {
        panic!(
            "{what}: the priority-100 side did not take over after SIGTERM\n{}",
            logs(&[&da, &db])
        )
    });
    assert!(
        t < Duration::from_millis(1500),
        "{what}: takeover after SIGTERM took {t:?}"
    );
    let adv_b = cap_to_a
        .wait_for(resign.at, 3 * SEC, |f| {
            is_advert_from(f, b.ip, |p| p == 100)
        })
        .unwrap_or_else(|| panic!("{what}: B's adverts never reached A's port"));
    let d = secs_between(resign.at, adv_b.at);
    let sk = skew(100, 1.0);
    assert!(
        d > sk - 0.15 && d < sk + 0.3,
        "{what}: B advertised {d:.3} s after the resignation, expected its skew {sk:.3} s"
    );
    assert!(da.wait_exit(5 * SEC).is_some(), "{what}: A did not exit");
    assert!(!has_addr(&a.ns, VIP), "{what}: A left the VIP behind");
}

macro_rules! case {
    ($name:ident, $high:expr, $low:expr, $v:expr, $mode:expr) => {
        #[test]
        fn $name() {
            interop($high, $low, $v, $mode);
        }
    };
}

use Kind::{Keepalived as K, Lvsd as L};
use Mode::{Multicast as M, Unicast as U};

case!(lvsd_master_v2_pass_multicast, L, K, 2, M);
case!(lvsd_master_v2_pass_unicast, L, K, 2, U);
case!(lvsd_master_v3_multicast, L, K, 3, M);
case!(lvsd_master_v3_unicast, L, K, 3, U);
case!(keepalived_master_v2_pass_multicast, K, L, 2, M);
case!(keepalived_master_v2_pass_unicast, K, L, 2, U);
case!(keepalived_master_v3_multicast, K, L, 3, M);
case!(keepalived_master_v3_unicast, K, L, 3, U);
case!(keepalived_pair_v2_pass_multicast, K, K, 2, M);
case!(keepalived_pair_v3_unicast, K, K, 3, U);
