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
    if support::skip_without_root("network namespaces") {
        return;
    }
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
    resign_and_take_over(&what, &mut da, &db, &cap_to_b, &cap_to_a);
}

/// SIGTERM of A, the master at priority 150: its priority-0 advert reaches B, B (priority
/// 100) takes the VIP within 1.5 s and advertises after its skew, A exits without the VIP.
/// Returns A's resignation and B's first advert after it.
fn resign_and_take_over(
    what: &str,
    da: &mut Daemon,
    db: &Daemon,
    cap_to_b: &Capture,
    cap_to_a: &Capture,
) -> (Frame, Frame) {
    let (a, b) = (da.node.clone(), db.node.clone());
    let t0 = da.sigterm();
    let resign = cap_to_b
        .wait_for(t0, 2 * SEC, |f| is_advert_from(f, a.ip, |p| p == 0))
        .unwrap_or_else(|| {
            panic!(
                "{what}: no priority-0 advert on SIGTERM\n{}",
                logs(&[da, db])
            )
        });
    let t = wait_addr(&b.ns, VIP, true, 3 * SEC).unwrap_or_else(|| {
        panic!(
            "{what}: the priority-100 side did not take over after SIGTERM\n{}",
            logs(&[da, db])
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
    (resign, adv_b)
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

// ---------------------------------------------------------------------------------------
// VRRPv2 with IPsec AH (`auth_type AH`)

/// The AH sequence number of a captured advert (None: not sent with AH).
fn ah_seq(f: &Frame) -> Option<u32> {
    match f.what {
        What::Vrrp { ah_seq, .. } => ah_seq,
        _ => None,
    }
}

fn ah_conf(router: &str, prio: u8, pass: &str, me: Ipv4Addr, peer: Ipv4Addr, mode: Mode) -> String {
    let mut c = Conf::new(router, prio);
    c.auth_pass = Some(pass.into());
    c.auth_ah = true;
    if let Mode::Unicast = mode {
        c.unicast = Some((me, vec![peer]));
    }
    c.render()
}

/// The low-priority side runs alone and becomes master; the high-priority side starts
/// later, learns the AH sequence number from the adverts as a backup, preempts (its
/// adverts continue that sequence, so the old master accepts them and steps down), then
/// resigns on SIGTERM, and the low side takes over after its skew, again continuing the
/// sequence. Neither side drops an advert of the other's for authentication.
fn ah_interop(high: Kind, low: Kind, mode: Mode) {
    if support::skip_without_root("network namespaces") {
        return;
    }
    let lab = Lab::new("ah", 2);
    let (a, b) = (lab.node(0).clone(), lab.node(1).clone());
    let cap_to_b = Capture::start(&lab.hub, "p2");
    let cap_to_a = Capture::start(&lab.hub, "p1");
    let what = format!("AH: {} 150 / {} 100", high.label(), low.label());

    let db = lab.spawn(1, low, "b", &ah_conf("B", 100, "secret1", b.ip, a.ip, mode));
    assert!(
        wait_addr(&b.ns, VIP, true, 8 * SEC).is_some(),
        "{what}: the priority-100 side, alone, never took the VIP\n{}",
        logs(&[&db])
    );
    std::thread::sleep(2 * SEC);
    let mut da = lab.spawn(
        0,
        high,
        "a",
        &ah_conf("A", 150, "secret1", a.ip, b.ip, mode),
    );
    let t_start = SystemTime::now();
    assert!(
        wait_addr(&a.ns, VIP, true, 8 * SEC).is_some(),
        "{what}: the priority-150 side never preempted\n{}",
        logs(&[&da, &db])
    );
    assert!(
        wait_addr(&b.ns, VIP, false, 3 * SEC).is_some(),
        "{what}: the priority-100 side kept the VIP after A's adverts\n{}",
        logs(&[&da, &db])
    );
    std::thread::sleep(2 * SEC);
    assert!(
        has_addr(&a.ns, VIP) && !has_addr(&b.ns, VIP),
        "{what}: VIP not held by A alone\n{}",
        logs(&[&da, &db])
    );
    // On the wire: AH adverts (protocol 51) at TTL 255 to the configured destination; A's
    // first advert continues B's sequence.
    let want_dst = match mode {
        Mode::Multicast => MCAST,
        Mode::Unicast => b.ip,
    };
    let a_first = cap_to_b
        .frames()
        .into_iter()
        .find(|f| f.at >= t_start && is_advert_from(f, a.ip, |p| p == 150))
        .unwrap_or_else(|| panic!("{what}: no advert from A reached B"));
    let b_before = cap_to_a
        .last_before(a_first.at, |f| is_advert_from(f, b.ip, |p| p == 100))
        .unwrap_or_else(|| panic!("{what}: no advert from B before A took over"));
    let (sa, sb) = (ah_seq(&a_first), ah_seq(&b_before));
    assert!(
        sa.is_some() && sb.is_some() && sa > sb,
        "{what}: A's first sequence number {sa:?} does not follow B's {sb:?}"
    );
    match a_first.what {
        What::Vrrp {
            version, dst, ttl, ..
        } => {
            assert_eq!((version, dst, ttl), (2, want_dst, 255), "{what}");
        }
        _ => unreachable!(),
    }

    // SIGTERM of A: a priority-0 AH advert, B takes over after its skew and continues.
    let (resign, b_next) = resign_and_take_over(&what, &mut da, &db, &cap_to_b, &cap_to_a);
    assert!(
        ah_seq(&b_next) > ah_seq(&resign),
        "{what}: B's sequence number {:?} does not follow A's resignation {:?}",
        ah_seq(&b_next),
        ah_seq(&resign)
    );
    // No authentication failure on either side (keepalived logs each at INFO).
    for d in [&da, &db] {
        let log = d.log_text();
        assert!(
            !log.contains("IPSEC-AH") && !log.contains("authentication drops"),
            "{what}: {} {} dropped adverts:\n{log}",
            d.kind.label(),
            d.node.name
        );
    }
}

macro_rules! ah_case {
    ($name:ident, $high:expr, $low:expr, $mode:expr) => {
        #[test]
        fn $name() {
            ah_interop($high, $low, $mode);
        }
    };
}

ah_case!(lvsd_master_v2_ah_multicast, L, K, M);
ah_case!(lvsd_master_v2_ah_unicast, L, K, U);
ah_case!(keepalived_master_v2_ah_multicast, K, L, M);
ah_case!(keepalived_master_v2_ah_unicast, K, L, U);
ah_case!(keepalived_pair_v2_ah_multicast, K, K, M);

/// Different passwords: each side drops the other's adverts as unauthenticated (lvsd
/// counts and logs them, keepalived logs them), so both end up master.
#[test]
fn v2_ah_wrong_password_is_dropped_both_ways() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    let lab = Lab::new("ahpw", 2);
    let (a, b) = (lab.node(0).clone(), lab.node(1).clone());
    // A keepalived master postpones its next advert whenever it receives one, even one it
    // refuses: lvsd advertising every 3 s leaves it room to send every second or so.
    let slow = ah_conf("A", 150, "secret1", a.ip, b.ip, M).replace("advert_int 1", "advert_int 3");
    let da = lab.spawn(0, L, "a", &slow);
    let db = lab.spawn(1, K, "b", &ah_conf("B", 100, "secret2", b.ip, a.ip, M));
    assert!(
        wait_addr(&a.ns, VIP, true, 15 * SEC).is_some()
            && wait_addr(&b.ns, VIP, true, 8 * SEC).is_some(),
        "both sides should be master when neither authenticates the other\n{}",
        logs(&[&da, &db])
    );
    assert!(
        da.wait_log("AH authentication failed", 5 * SEC),
        "lvsd did not report keepalived's adverts as unauthenticated\n{}",
        logs(&[&da])
    );
    // The drops are counted in keepalived's `auth_failure` (as keepalived counts a bad
    // ICV); the log says so once a minute, the control socket's state has the count.
    let auth_failures = || -> u64 {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_lvsd"))
            .arg("-p")
            .arg(da.dir.join("main.pid"))
            .args(["ctl", "state", "--json"])
            .output()
            .expect("lvsd ctl");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        v.pointer("/vrrp/0/drops/auth_failure")
            .and_then(|n| n.as_u64())
            .unwrap_or(0)
    };
    let t = std::time::Instant::now();
    while auth_failures() < 4 && t.elapsed() < 10 * SEC {
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    let state = std::process::Command::new(env!("CARGO_BIN_EXE_lvsd"))
        .arg("-p")
        .arg(da.dir.join("main.pid"))
        .args(["ctl", "state", "--json"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    assert!(
        auth_failures() >= 4,
        "lvsd's drop count did not reach 4: {state}\n{}",
        logs(&[&da, &db])
    );
    assert!(
        db.wait_log("IPSEC-AH : invalid IPSEC HMAC-MD5 value", 5 * SEC),
        "keepalived did not refuse lvsd's adverts\n{}",
        logs(&[&db])
    );
}
