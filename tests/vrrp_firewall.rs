//! Accept mode and its nftables rules, lvsd next to Debian's keepalived 2.2.7 (issue 13 §2).
//!
//! Each daemon runs the same `vrrp_strict` config (no_accept) in its own lab, with a
//! higher-priority keepalived peer started and stopped in the lab's second namespace to
//! move the instance to BACKUP and back. `nft -j list ruleset` of the daemon's namespace,
//! normalised (handles and counter values dropped, set elements sorted), must be the same
//! for both: while MASTER, after becoming BACKUP, after a reload adding a VIP, and after
//! stop. Traffic: a ping from the peer to a VIP is dropped in no_accept mode and answered
//! with `accept`.

mod support;

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;
use std::net::Ipv4Addr;
use std::process::Command;
use std::time::{Duration, Instant};
use support::*;

const SEC: Duration = Duration::from_secs(1);
const VIP2: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 101);

fn conf(extra_vip: bool, accept: bool) -> String {
    format!(
        "global_defs {{\n  router_id fw\n  vrrp_strict\n}}\n\
         vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id {VRID}\n\
         \x20 priority 100\n  advert_int 1\n{}\
         \x20 virtual_ipaddress {{\n    {VIP}/24\n{}  }}\n\
         \x20 virtual_ipaddress_excluded {{\n    10.99.1.5/32\n    fd00::100/64\n    fe80::99/64\n  }}\n}}\n",
        if accept { "  version 3\n  accept\n" } else { "" },
        if extra_vip {
            format!("    {VIP2}\n")
        } else {
            String::new()
        }
    )
}

fn peer_conf() -> String {
    format!(
        "global_defs {{\n  router_id peer\n}}\n\
         vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id {VRID}\n\
         \x20 priority 200\n  advert_int 1\n  virtual_ipaddress {{\n    {VIP}/24\n  }}\n}}\n"
    )
}

/// `nft -j list ruleset` of `ns`, normalised: no metainfo, no handles, counters zeroed,
/// set elements sorted, objects ordered by kind, family, table and name (rules keep their
/// order within a chain).
fn ruleset(ns: &str) -> Vec<Value> {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "nft", "-j", "list", "ruleset"])
        .output()
        .expect("run nft");
    assert!(
        out.status.success(),
        "nft list ruleset failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("nft -j gives JSON");
    let mut objs: Vec<Value> = v["nftables"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|o| o.get("metainfo").is_none())
        .map(|mut o| {
            normalise(&mut o);
            o
        })
        .collect();
    let key = |o: &Value| {
        let (kind, body) = o
            .as_object()
            .and_then(|m| m.iter().next())
            .map(|(k, b)| (k.clone(), b.clone()))
            .unwrap_or_default();
        let s = |f: &str| {
            body.get(f)
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_string()
        };
        let rank = ["table", "set", "chain", "rule"]
            .iter()
            .position(|k| *k == kind)
            .unwrap_or(9);
        (rank, s("family"), s("table"), s("name"), s("chain"))
    };
    objs.sort_by_key(key);
    objs
}

fn normalise(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.remove("handle");
            if let Some(Value::Object(c)) = m.get_mut("counter") {
                c.insert("packets".into(), 0.into());
                c.insert("bytes".into(), 0.into());
            }
            if let Some(Value::Array(e)) = m.get_mut("elem") {
                e.sort_by_key(|x| x.to_string());
            }
            for (_, x) in m.iter_mut() {
                normalise(x);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(normalise),
        _ => {}
    }
}

fn pretty(v: &[Value]) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// Does a ping from `from` to `to` get an answer?
fn ping(from: &str, to: Ipv4Addr) -> bool {
    Command::new("ip")
        .args(["netns", "exec", from, "ping", "-c", "1", "-W", "1"])
        .arg(to.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn hup(d: &Daemon) {
    let pid = d.pid().expect("daemon running");
    kill(Pid::from_raw(pid), Signal::SIGHUP).expect("kill -HUP");
}

/// The rule sets of one run: MASTER, BACKUP, MASTER after the reload, stopped. With an
/// `expect`ed series (keepalived's), each step waits up to 3 s for lvsd's to match.
fn scenario(kind: Kind, expect: Option<&[Vec<Value>]>) -> Vec<Vec<Value>> {
    require_tool("nft");
    require_tool("ping");
    let lab = Lab::new(&format!("fw{}", &kind.label()[..1]), 2);
    let (a, b) = (lab.node(0).clone(), lab.node(1).clone());
    let mut d = lab.spawn(0, kind, "d", &conf(false, false));
    let what = kind.label();
    let mut got = Vec::new();
    let mut snap = |step: usize, name: &str, d: &Daemon| {
        let start = Instant::now();
        loop {
            let now = ruleset(&a.ns);
            let want = expect.map(|e| &e[step]);
            if want.is_none_or(|w| *w == now) {
                got.push(now);
                return;
            }
            if start.elapsed() > 3 * SEC {
                panic!(
                    "{what} {name}: nftables differ from keepalived's\n--- keepalived:\n{}\n--- {what}:\n{}\n{}",
                    pretty(want.unwrap()),
                    pretty(&now),
                    d.log_text()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    };

    assert!(
        wait_addr(&a.ns, VIP, true, 8 * SEC).is_some(),
        "{what}: never became MASTER\n{}",
        d.log_text()
    );
    // keepalived adds the drop rules before the VIPs; let lvsd's worker catch up.
    std::thread::sleep(Duration::from_millis(300));
    snap(0, "MASTER", &d);
    // no_accept: the VIPs do not answer, the node's own address does.
    assert!(
        ping(&b.ns, a.ip),
        "{what}: the node's own address must answer"
    );
    assert!(
        !ping(&b.ns, VIP),
        "{what}: no_accept master answered a ping to its VIP"
    );

    // A higher-priority peer takes over.
    let mut peer = lab.spawn(1, Kind::Keepalived, "peer", &peer_conf());
    assert!(
        wait_addr(&a.ns, VIP, false, 8 * SEC).is_some(),
        "{what}: never left MASTER\n{}",
        d.log_text()
    );
    std::thread::sleep(Duration::from_millis(300));
    snap(1, "BACKUP", &d);
    peer.sigterm();
    assert!(peer.wait_exit(5 * SEC).is_some(), "peer did not stop");
    assert!(
        wait_addr(&a.ns, VIP, true, 8 * SEC).is_some(),
        "{what}: never became MASTER again\n{}",
        d.log_text()
    );

    // A reload adding a VIP.
    std::fs::write(&d.conf, conf(true, false)).expect("write conf");
    hup(&d);
    assert!(
        wait_addr(&a.ns, VIP2, true, 8 * SEC).is_some(),
        "{what}: the reload did not add {VIP2}\n{}",
        d.log_text()
    );
    std::thread::sleep(Duration::from_millis(300));
    snap(2, "after reload", &d);
    assert!(!ping(&b.ns, VIP2), "{what}: the new VIP answered");

    d.sigterm();
    assert!(d.wait_exit(8 * SEC).is_some(), "{what}: did not stop");
    snap(3, "stopped", &d);
    got
}

#[test]
fn nftables_rules_match_keepalived() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    let reference = scenario(Kind::Keepalived, None);
    // The reference itself: the tables exist while MASTER and hold the VIPs, and are gone
    // after stop.
    let text = |v: &Vec<Value>| serde_json::to_string(v).unwrap_or_default();
    assert!(text(&reference[0]).contains("\"10.99.0.100\""));
    assert!(text(&reference[0]).contains("fd00::100"));
    assert!(!text(&reference[1]).contains("\"10.99.0.100\""));
    assert!(text(&reference[1]).contains("\"keepalived\""));
    assert!(text(&reference[2]).contains("\"10.99.0.101\""));
    assert!(reference[3].is_empty(), "{}", pretty(&reference[3]));
    scenario(Kind::Lvsd, Some(&reference));
}

#[test]
fn accept_mode_answers_and_makes_no_rules() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    require_tool("nft");
    require_tool("ping");
    for kind in [Kind::Keepalived, Kind::Lvsd] {
        let lab = Lab::new(&format!("fa{}", &kind.label()[..1]), 2);
        let (a, b) = (lab.node(0).clone(), lab.node(1).clone());
        let d = lab.spawn(0, kind, "d", &conf(false, true));
        assert!(
            wait_addr(&a.ns, VIP, true, 8 * SEC).is_some(),
            "{}: never became MASTER\n{}",
            kind.label(),
            d.log_text()
        );
        std::thread::sleep(Duration::from_millis(300));
        assert!(
            ping(&b.ns, VIP),
            "{}: accept mode must answer",
            kind.label()
        );
        assert!(
            ruleset(&a.ns).is_empty(),
            "{}: rules in accept mode:\n{}",
            kind.label(),
            pretty(&ruleset(&a.ns))
        );
    }
}
