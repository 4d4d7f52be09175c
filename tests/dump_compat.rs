//! The dump files next to keepalived 2.2.7's (issue 13, section 4).
//!
//! * `reference_*`: the reference dumps of Debian's keepalived 2.2.7
//!   (`../shared/reference/keepalived-dumps`) read with the parsing rules of
//!   mehdy/keepalived-exporter re-implemented below, so that those rules are known to be
//!   the exporter's.
//! * `side_by_side` (root): keepalived and lvsd run the same file, each in a namespace of its
//!   own with its own `$TMPDIR`; both get SIGUSR1, SIGUSR2, the JSON signal and STATS_CLEAR;
//!   the files are compared with times, descriptors and advert counts masked, and lvsd's
//!   are read with the exporter's rules.

mod support;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::*;

// ---------------------------------------------------------------------------------------
// mehdy/keepalived-exporter's parsing rules (internal/collector/parser.go), re-implemented.

/// What the exporter takes from keepalived.data for one instance.
#[derive(Debug, Default, PartialEq, Eq)]
struct Data {
    state: String,
    wantstate: String,
    intf: String,
    garp_delay: String,
    vrid: String,
    vips: Vec<String>,
}

/// ParseVRRPData: an instance starts at a line beginning " VRRP Instance" with "=";
/// lines beginning with three spaces are `key = value` (or `key: value`) of it, lines with
/// five spaces are values of the last key (the "Virtual IP (n):" list); any other line ends
/// the instance. The exporter then requires State/Wantstate to be INIT, BACKUP, MASTER or
/// FAULT, and Virtual Router ID and Gratuitous ARP delay to be integers.
fn parse_data(text: &str) -> Result<BTreeMap<String, Data>, String> {
    let mut out: BTreeMap<String, Data> = BTreeMap::new();
    let mut instance = String::new();
    let mut key = String::new();
    for l in text.lines() {
        if l.starts_with(" VRRP Instance") && l.contains('=') {
            let parts: Vec<&str> = l.trim().split('=').collect();
            instance = parts[1].trim().to_string();
            out.insert(instance.clone(), Data::default());
        } else if l.starts_with("   ") && !instance.is_empty() {
            let val;
            if l.starts_with("     ") {
                val = l.trim().to_string();
            } else {
                let args: Vec<&str> = if l.contains('=') {
                    l.trim().split('=').collect()
                } else if l.contains(':') {
                    l.trim().split(':').collect()
                } else {
                    continue;
                };
                key = args[0].trim().to_string();
                if key == "Virtual IP" {
                    continue;
                }
                val = args[1].trim().to_string();
            }
            let d = out.get_mut(&instance).ok_or("no instance")?;
            if key.starts_with("Virtual IP (") && !val.is_empty() {
                d.vips.push(val.clone());
            }
            let states = ["INIT", "BACKUP", "MASTER", "FAULT"];
            match key.as_str() {
                "State" if !states.contains(&val.as_str()) => {
                    return Err(format!("{instance}: unknown state {val}"))
                }
                "State" => d.state = val,
                "Wantstate" if !states.contains(&val.as_str()) => {
                    return Err(format!("{instance}: unknown wantstate {val}"))
                }
                "Wantstate" => d.wantstate = val,
                "Interface" | "Listening device" => d.intf = val,
                "Gratuitous ARP delay" => {
                    val.parse::<i64>()
                        .map_err(|e| format!("garp delay {val}: {e}"))?;
                    d.garp_delay = val;
                }
                "Virtual Router ID" => {
                    val.parse::<i64>().map_err(|e| format!("vrid {val}: {e}"))?;
                    d.vrid = val;
                }
                _ => {}
            }
        } else if l.starts_with(" VRRP Version") || l.starts_with(" VRRP Script") {
            continue;
        } else {
            instance.clear();
        }
    }
    Ok(out)
}

/// ParseVIP: "addr dev ifname ..." split on single spaces; at least three fields.
fn parse_vip(vip: &str) -> Option<(String, String)> {
    let args: Vec<&str> = vip.split(' ').collect();
    (args.len() >= 3).then(|| (args[0].to_string(), args[2].to_string()))
}

/// ParseStats: "VRRP Instance: NAME" starts an instance; a two-space line ending in ':' is a
/// section; four-space lines are `key: integer` of the section; other two-space lines are
/// `key: integer` of the instance. A value that is not an integer fails the whole scrape.
fn parse_stats(text: &str) -> Result<BTreeMap<String, BTreeMap<String, i64>>, String> {
    let mut out: BTreeMap<String, BTreeMap<String, i64>> = BTreeMap::new();
    let (mut instance, mut section) = (String::new(), String::new());
    for l in text.lines() {
        if l.starts_with("VRRP Instance") && l.contains(':') {
            let sp: Vec<&str> = l.trim().split(':').collect();
            instance = sp[1].trim().to_string();
            out.insert(instance.clone(), BTreeMap::new());
        } else if l.starts_with("  ") && l.ends_with(':') {
            let sp: Vec<&str> = l.trim().split(':').collect();
            section = sp[0].trim().to_string();
        } else if l.starts_with("    ") && !section.is_empty() {
            let sp: Vec<&str> = l.trim().split(':').collect();
            let (k, v) = (sp[0].trim(), sp.get(1).map_or("", |v| v.trim()));
            let n: i64 = v.parse().map_err(|e| format!("{k}: {v:?}: {e}"))?;
            let m = out.get_mut(&instance).ok_or("stats before an instance")?;
            m.insert(format!("{section}/{k}"), n);
        } else if l.starts_with("  ") && !l.ends_with(':') && !l.starts_with("    ") {
            let sp: Vec<&str> = l.trim().split(':').collect();
            let (k, v) = (sp[0].trim(), sp.get(1).map_or("", |v| v.trim()));
            section.clear();
            let n: i64 = v.parse().map_err(|e| format!("{k}: {v:?}: {e}"))?;
            let m = out.get_mut(&instance).ok_or("stats before an instance")?;
            m.insert(k.to_string(), n);
        }
    }
    Ok(out)
}

/// The keys of a JSON text in the order they are written.
fn json_keys(text: &str) -> Vec<String> {
    let mut keys = Vec::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'"' {
            let start = i + 1;
            let mut j = start;
            while j < b.len() && b[j] != b'"' {
                if b[j] == b'\\' {
                    j += 1;
                }
                j += 1;
            }
            if b.get(j + 1) == Some(&b':') {
                keys.push(text[start..j].to_string());
            }
            i = j + 1;
        } else {
            i += 1;
        }
    }
    keys
}

/// A dump keepalived wrote (../shared/reference/keepalived-dumps), when that is here.
fn reference(name: &str) -> Option<String> {
    let p = shared::dir("reference/keepalived-dumps", None)?.join(name);
    Some(std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display())))
}

#[test]
fn reference_data_parses_as_the_exporter_reads_it() {
    let Some(text) = reference("keepalived.data") else {
        return;
    };
    let d = parse_data(&text).expect("parses");
    assert_eq!(d.len(), 2);
    let vi1 = &d["VI_1"];
    assert_eq!(
        (
            vi1.state.as_str(),
            vi1.wantstate.as_str(),
            vi1.intf.as_str(),
            vi1.vrid.as_str(),
            vi1.garp_delay.as_str()
        ),
        ("MASTER", "MASTER", "eth0", "66", "5")
    );
    assert_eq!(vi1.vips, ["10.66.0.100/24 dev eth0 scope global set"]);
    assert_eq!(
        parse_vip(&vi1.vips[0]),
        Some(("10.66.0.100/24".into(), "eth0".into()))
    );
    assert_eq!(d["VI_2"].vips.len(), 2);
}

#[test]
fn reference_stats_parse_as_the_exporter_reads_them() {
    let Some(text) = reference("keepalived.stats") else {
        return;
    };
    let s = parse_stats(&text).expect("parses");
    assert_eq!(s["VI_1"]["Advertisements/Sent"], 4);
    assert_eq!(s["VI_1"]["Became master"], 1);
    assert_eq!(s["VI_2"]["Authentication Errors/Failure"], 0);
    assert_eq!(s["VI_2"].len(), 14);
    // A value that is not an integer is an error, as in the exporter.
    assert!(parse_stats("VRRP Instance: X\n  Advertisements:\n    Sent: many\n").is_err());
}

#[test]
fn reference_json_is_gen2brains_shape() {
    let Some(text) = reference("keepalived.json") else {
        return;
    };
    let v: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    let arr = v.as_array().expect("array");
    assert_eq!(arr[0]["data"]["iname"], "VI_1");
    assert_eq!(arr[0]["stats"]["advert_sent"], 4);
    assert_eq!(
        json_keys(&text)[0..3],
        ["data", "iname", "dont_track_primary"]
    );
}

// ---------------------------------------------------------------------------------------
// Side by side.

const CONF: &str = "global_defs { router_id director1 }
vrrp_sync_group G1 { group { VI_1 VI_2 } }
vrrp_instance VI_1 {
 state BACKUP
 interface eth0
 virtual_router_id 66
 priority 150
 advert_int 1
 authentication { auth_type PASS
  auth_pass secret1 }
 virtual_ipaddress { 10.99.0.100/24 }
}
vrrp_instance VI_2 {
 state BACKUP
 interface eth0
 virtual_router_id 67
 priority 150
 version 3
 virtual_ipaddress { 10.99.0.101/24
  10.99.0.102/24 }
}
";

struct Run {
    tmp: PathBuf,
    pid: i32,
    log: PathBuf,
    child: std::process::Child,
}

impl Drop for Run {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(lab: &Lab, kind: Kind) -> Run {
    start_with(lab, kind, CONF)
}

fn start_with(lab: &Lab, kind: Kind, text: &str) -> Run {
    let dir = lab.path(kind.label());
    let tmp = dir.join("tmp");
    std::fs::create_dir_all(&tmp).expect("tmp dir");
    let conf = dir.join("keepalived.conf");
    std::fs::write(&conf, text).expect("conf");
    let log = dir.join("log");
    let logf = std::fs::File::create(&log).expect("log");
    let pidf = dir.join("main.pid");
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", &lab.node(0).ns, "env"])
        .arg(format!("TMPDIR={}", tmp.display()))
        .arg(kind.binary())
        .args(["-P", "-n", "-l", "-G"]);
    cmd.arg("-f")
        .arg(&conf)
        .arg("-p")
        .arg(&pidf)
        .arg("-r")
        .arg(dir.join("vrrp.pid"));
    cmd.stdin(Stdio::null())
        .stdout(logf.try_clone().expect("fd"))
        .stderr(logf);
    let child = cmd.spawn().expect("spawn");
    let t0 = Instant::now();
    let pid = loop {
        if let Some(p) = std::fs::read_to_string(&pidf)
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
        {
            break p;
        }
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "{} wrote no pid file",
            kind.label()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    Run {
        tmp,
        pid,
        log,
        child,
    }
}

/// `ip -n NS ARGS`, which must succeed.
fn ip_in(ns: &str, args: &[&str]) {
    let st = Command::new("ip")
        .arg("-n")
        .arg(ns)
        .args(args)
        .status()
        .expect("ip");
    assert!(st.success(), "ip -n {ns} {args:?}");
}

/// Waits (10 s at most) until `lab`'s node holds `vip`, which `who` took: else fails
/// saying `what`.
fn wait_vip(lab: &Lab, vip: std::net::Ipv4Addr, who: &str, what: &str) {
    assert!(
        wait_addr(&lab.node(0).ns, vip, true, Duration::from_secs(10)).is_some(),
        "{who}: {what}"
    );
}

fn signal(pid: i32, sig: i32) {
    // SAFETY: kill with a pid this test started.
    let r = unsafe { libc::kill(pid, sig) };
    assert_eq!(r, 0, "kill {sig} {pid}");
}

fn alive(pid: i32) -> bool {
    // SAFETY: signal 0 only checks.
    unsafe { libc::kill(pid, 0) == 0 }
}

/// Waits until `name` exists in the run's TMPDIR and is not older than `after`, returns it.
fn wait_file(r: &Run, name: &str, after: std::time::SystemTime) -> String {
    let p = r.tmp.join(name);
    let t0 = Instant::now();
    loop {
        if let Ok(m) = std::fs::metadata(&p) {
            if m.modified().is_ok_and(|t| t >= after) && m.len() > 0 {
                std::thread::sleep(Duration::from_millis(100));
                return std::fs::read_to_string(&p).expect("read");
            }
        }
        assert!(
            t0.elapsed() < Duration::from_secs(5),
            "{} not written; log:\n{}",
            p.display(),
            std::fs::read_to_string(&r.log).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Masks what differs from run to run: times, descriptors, counts of adverts sent.
fn mask(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for l in text.lines() {
        if l.starts_with(" nftables") || l.starts_with(" libnftnl") {
            continue; // keepalived's build
        }
        let t = l.trim_start();
        let indent = &l[..l.len() - t.len()];
        let masked = if t.starts_with("Last transition = ") {
            "Last transition = <time>".to_string()
        } else if t.starts_with("Read timeout = ") {
            "Read timeout = <time>".to_string()
        } else if t.starts_with("fd_in ") {
            "fd_in <fds>".to_string()
        } else if t.starts_with("MAC = ") {
            // veth addresses are random; so are the link-local addresses made from them.
            "MAC = <mac>".to_string()
        } else if t == "State = running" {
            // A vrrp_script caught while it runs (keepalived); lvsd's runs aside.
            "State = idle".to_string()
        } else if t.starts_with("IPv6 address = fe80:") {
            "IPv6 address = <link-local>".to_string()
        } else {
            t.to_string()
        };
        out.push(format!("{indent}{masked}"));
    }
    out
}

fn mask_stats(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut section = "";
    for l in text.lines() {
        if l.trim_end().ends_with(':') {
            section = if l.contains("Advertisements") {
                "adv"
            } else {
                ""
            };
        }
        if section == "adv" && l.trim_start().starts_with("Sent:") {
            out.push("    Sent: <n>".into());
        } else {
            out.push(l.to_string());
        }
    }
    out
}

fn json_masked(text: &str) -> serde_json::Value {
    let mut v: serde_json::Value = serde_json::from_str(text).expect("valid JSON");
    if let Some(items) = v.as_array_mut() {
        for it in items {
            it["data"]["last_transition"] = serde_json::Value::Null;
            it["stats"]["advert_sent"] = serde_json::Value::Null;
        }
    }
    v
}

fn mode(p: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).expect("meta").permissions().mode() & 0o777
}

#[test]
fn side_by_side() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    require_tool("keepalived");
    let lab_k = Lab::new("dumpk", 1);
    let lab_l = Lab::new("dumpl", 1);
    let k = start(&lab_k, Kind::Keepalived);
    let l = start(&lab_l, Kind::Lvsd);
    for (lab, name) in [(&lab_k, "keepalived"), (&lab_l, "lvsd")] {
        wait_vip(
            lab,
            std::net::Ipv4Addr::new(10, 99, 0, 102),
            name,
            "never became master",
        );
    }
    std::thread::sleep(Duration::from_millis(500));

    let json_sig = libc::SIGRTMIN() + 2;
    let clear_sig = libc::SIGRTMAX() - 1;
    let t = std::time::SystemTime::now() - Duration::from_millis(10);
    for r in [&k, &l] {
        signal(r.pid, libc::SIGUSR1);
        signal(r.pid, libc::SIGUSR2);
        signal(r.pid, json_sig);
    }
    let mut files = Vec::new();
    for r in [&k, &l] {
        let data = wait_file(r, "keepalived.data", t);
        let stats = wait_file(r, "keepalived.stats", t);
        let json = wait_file(r, "keepalived.json", t);
        let parent = wait_file(r, "keepalived_parent.data", t);
        for f in [
            "keepalived.data",
            "keepalived.stats",
            "keepalived.json",
            "keepalived_parent.data",
        ] {
            assert_eq!(mode(&r.tmp.join(f)), 0o600, "{f} is not private");
        }
        files.push((data, stats, json, parent));
    }
    let (kd, ks, kj, kp) = &files[0];
    let (ld, ls, lj, lp) = &files[1];
    assert_eq!(
        mask(ld),
        mask(kd),
        "keepalived.data differs (lvsd left, keepalived right)"
    );
    assert!(
        ld.contains("------< Interfaces >------\n Name = lo\n")
            && ld.contains(
                "   Tracking VRRP instances :\n     VI_1, weight 0\n     VI_2, weight 0\n"
            ),
        "no Interfaces section in lvsd's keepalived.data:\n{ld}"
    );
    assert_eq!(mask(lp), mask(kp), "keepalived_parent.data differs");
    assert_eq!(mask_stats(ls), mask_stats(ks), "keepalived.stats differs");
    assert_eq!(
        json_keys(lj),
        json_keys(kj),
        "keepalived.json keys differ in name or order"
    );
    assert_eq!(
        json_masked(lj),
        json_masked(kj),
        "keepalived.json values differ"
    );
    assert!(lj.ends_with("]\n") && kj.ends_with("]\n"));

    // lvsd's files as the exporters read them.
    let d = parse_data(ld).expect("the exporter reads lvsd's keepalived.data");
    assert_eq!(d["VI_1"].state, "MASTER");
    assert_eq!(d["VI_2"].vrid, "67");
    assert_eq!(
        parse_vip(&d["VI_2"].vips[1]),
        Some(("10.99.0.102/24".into(), "eth0".into()))
    );
    let s = parse_stats(ls).expect("the exporter reads lvsd's keepalived.stats");
    assert_eq!(s["VI_1"]["Became master"], 1);
    assert!(s["VI_1"]["Advertisements/Sent"] >= 1);
    let v: serde_json::Value = serde_json::from_str(lj).expect("JSON");
    assert_eq!(v[1]["data"]["vrid"], 67);
    assert_eq!(v[1]["data"]["state"], 2);

    // STATS_CLEAR: the stats as they were, then zero; both keep running.
    std::thread::sleep(Duration::from_millis(1100));
    let t = std::time::SystemTime::now() - Duration::from_millis(10);
    for r in [&k, &l] {
        signal(r.pid, clear_sig);
    }
    let mut cleared = Vec::new();
    for r in [&k, &l] {
        let before = wait_file(r, "keepalived.stats", t);
        let s = parse_stats(&before).expect("stats");
        assert_eq!(
            s["VI_1"]["Became master"], 1,
            "STATS_CLEAR wrote the stats first"
        );
        std::thread::sleep(Duration::from_millis(300));
        let t2 = std::time::SystemTime::now() - Duration::from_millis(10);
        signal(r.pid, libc::SIGUSR2);
        let after = wait_file(r, "keepalived.stats", t2);
        let s = parse_stats(&after).expect("stats");
        assert_eq!(s["VI_1"]["Became master"], 0, "counters cleared:\n{after}");
        assert!(alive(r.pid), "the daemon died of STATS_CLEAR");
        cleared.push(mask_stats(&after));
    }
    assert_eq!(cleared[1], cleared[0], "stats after STATS_CLEAR differ");
}

/// `data_use_instance` with an `instance` name: the files are named
/// `keepalived.NAME.data` and `keepalived_parent.NAME.data`; the parent's file shows the
/// instance name and the startup/shutdown scripts, the VRRP file the notify scripts, in
/// keepalived's words (each word quoted, the program's real path).
#[test]
fn instance_named_dumps_and_scripts_as_keepalived() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    require_tool("keepalived");
    const NAMED: &str = "global_defs {
 router_id director2
 data_use_instance
 startup_script \"/bin/true start\"
 startup_script_timeout 7
 shutdown_script true
}
instance inst1
vrrp_instance VI_1 {
 interface eth0
 virtual_router_id 68
 priority 150
 notify_master \"/bin/echo master now\"
 notify /bin/true
 virtual_ipaddress { 10.99.0.110/24 }
}
";
    let lab_k = Lab::new("dumpnk", 1);
    let lab_l = Lab::new("dumpnl", 1);
    let k = start_with(&lab_k, Kind::Keepalived, NAMED);
    let l = start_with(&lab_l, Kind::Lvsd, NAMED);
    std::thread::sleep(Duration::from_millis(1500));
    let t = std::time::SystemTime::now() - Duration::from_millis(10);
    for r in [&k, &l] {
        signal(r.pid, libc::SIGUSR1);
    }
    let mut parents = Vec::new();
    let mut scripts = Vec::new();
    for r in [&k, &l] {
        parents.push(mask(&wait_file(r, "keepalived_parent.inst1.data", t)));
        let data = wait_file(r, "keepalived.inst1.data", t);
        scripts.push(
            data.lines()
                .filter(|l| l.contains("script") || l.contains("Instance name"))
                .map(str::to_string)
                .collect::<Vec<_>>(),
        );
        assert!(
            !r.tmp.join("keepalived.data").exists(),
            "keepalived.data written without the instance name"
        );
    }
    assert!(
        parents[1].iter().any(|l| l.contains("Startup script = '")),
        "{:?}",
        parents[1]
    );
    assert_eq!(
        parents[1], parents[0],
        "keepalived_parent.inst1.data differs"
    );
    assert!(scripts[0].len() >= 3, "{:?}", scripts[0]);
    assert_eq!(
        scripts[1], scripts[0],
        "keepalived.inst1.data's script lines differ"
    );
}

/// The "Interfaces" section with more to show: extra addresses (IPv4 secondaries, a
/// global IPv6 address keepalived leaves out), a veth tracked with a weight,
/// a VIP on another interface, GARP pacing and groups, a polled link (linkbeat), an interface that does not
/// exist and a link that is down.
#[test]
fn interfaces_side_by_side() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    require_tool("keepalived");
    const IFS: &str = "global_defs {
 router_id director3
 vrrp_garp_interval 0.25
 dynamic_interfaces
}
linkbeat_interfaces {
 trk0
}
garp_group {
 gna_interval 0.5
 interface vip1
}
garp_group {
 garp_interval 0.1
 interfaces {
  trk0p
 }
}
vrrp_instance VI_1 {
 state BACKUP
 interface eth0
 virtual_router_id 70
 priority 150
 track_interface {
  trk0 weight 10
  nosuch0
 }
 virtual_ipaddress {
  10.99.0.120/24
  10.98.0.5/24 dev vip1
 }
}
vrrp_instance VI_2 {
 state BACKUP
 interface eth0
 dont_track_primary
 virtual_router_id 71
 priority 100
 track_interface {
  trk0 weight -5 reverse
 }
 virtual_ipaddress { 10.99.0.121/24 }
}
";
    let lab_k = Lab::new("dumpik", 1);
    let lab_l = Lab::new("dumpil", 1);
    for lab in [&lab_k, &lab_l] {
        let ns = lab.node(0).ns.clone();
        let ip = |args: &[&str]| ip_in(&ns, args);
        ip(&["addr", "add", "10.99.0.7/24", "dev", "eth0"]);
        ip(&["addr", "add", "fd00:99::1/64", "dev", "eth0", "nodad"]);
        ip(&[
            "link", "add", "trk0", "type", "veth", "peer", "name", "trk0p",
        ]);
        ip(&["link", "set", "trk0", "mtu", "9000", "up"]);
        ip(&["link", "set", "trk0p", "up"]);
        ip(&["addr", "add", "192.0.2.1/24", "dev", "trk0"]);
        ip(&["addr", "add", "192.0.2.2/24", "dev", "trk0"]);
        ip(&[
            "link", "add", "vip1", "type", "veth", "peer", "name", "vip1p",
        ]);
    }
    let k = start_with(&lab_k, Kind::Keepalived, IFS);
    let l = start_with(&lab_l, Kind::Lvsd, IFS);
    std::thread::sleep(Duration::from_millis(1500));
    let t = std::time::SystemTime::now() - Duration::from_millis(10);
    for r in [&k, &l] {
        signal(r.pid, libc::SIGUSR1);
    }
    let mut sections = Vec::new();
    for r in [&k, &l] {
        let data = wait_file(r, "keepalived.data", t);
        let from = data
            .find("------< Interfaces >------")
            .unwrap_or_else(|| panic!("no Interfaces section:\n{data}"));
        sections.push(mask(&data[from..]));
    }
    let lv = sections[1].join("\n");
    for want in [
        " Name = trk0",
        "   MTU = 9000",
        "     192.0.2.2",
        "     VI_1, weight 10",
        "     VI_2, weight -5 reverse",
        " Name = nosuch0",
        "   index = 0 (deleted)",
        "   Gratuitous ARP aggregation group 1",
        "   NIC support ETHTOOL GLINK interface",
        "   Gratuitous NA interval 500ms",
        "   Gratuitous ARP interval 250ms",
    ] {
        assert!(
            lv.contains(want),
            "{want:?} missing from lvsd's section:\n{lv}"
        );
    }
    assert_eq!(
        sections[1], sections[0],
        "the Interfaces sections differ (lvsd left, keepalived right)"
    );
}

/// Tracker weights as keepalived 2.2.7 applies them, in its own words: `reverse` negates a
/// weight (a script's `weight 5` whose vrrp_script says `reverse`, on success, is −5; an
/// interface's `weight -20 reverse` while down is +20), ±254 is ±253, an entry whose second
/// word is not `weight` is left out and a repeated one ignored, and a weighted tracker that
/// is down moves the priority without counting as a fault. The whole keepalived.data of
/// both daemons, once both are master, is the same ("Total priority" unclamped: 378).
#[test]
fn tracker_weights_side_by_side() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    require_tool("keepalived");
    const WEIGHTS: &str = "track_file tf {
 file /tmp/lvsd-dump-compat-tf-never-written
 weight 3
}
vrrp_script good {
 script /bin/true
 interval 1
 weight -3 reverse
}
vrrp_script bad {
 script /bin/false
 interval 1
 weight 4
}
vrrp_instance VI_1 {
 state BACKUP
 interface eth0
 virtual_router_id 73
 priority 100
 track_interface {
  trk1 weight 10 noreverse
  trk2 weight -20 reverse
  trk1 weight 5
 }
 track_script {
  good weight 5
  good weight 9
  bad weight=0
  bad weight -254 reverse
 }
 track_file {
  tf weight 2 reverse
 }
 virtual_ipaddress {
  10.99.0.131/24
 }
}
";
    let lab_k = Lab::new("dumpwk", 1);
    let lab_l = Lab::new("dumpwl", 1);
    for lab in [&lab_k, &lab_l] {
        let ns = lab.node(0).ns.clone();
        let ip = |args: &[&str]| ip_in(&ns, args);
        ip(&["addr", "add", "10.99.0.7/24", "dev", "eth0"]);
        for (name, peer) in [("trk1", "trk1p"), ("trk2", "trk2p")] {
            ip(&["link", "add", name, "type", "veth", "peer", "name", peer]);
            ip(&["link", "set", peer, "up"]);
        }
        // trk2 stays down.
        ip(&["link", "set", "trk1", "up"]);
    }
    let k = start_with(&lab_k, Kind::Keepalived, WEIGHTS);
    let l = start_with(&lab_l, Kind::Lvsd, WEIGHTS);
    for (lab, name) in [(&lab_k, "keepalived"), (&lab_l, "lvsd")] {
        wait_vip(
            lab,
            std::net::Ipv4Addr::new(10, 99, 0, 131),
            name,
            "never became master",
        );
    }
    std::thread::sleep(Duration::from_millis(500));
    let t = std::time::SystemTime::now() - Duration::from_millis(10);
    for r in [&k, &l] {
        signal(r.pid, libc::SIGUSR1);
    }
    let kd = mask(&wait_file(&k, "keepalived.data", t));
    let ld = mask(&wait_file(&l, "keepalived.data", t));
    for want in [
        "   Total priority = 378",
        "     trk2 weight -20 reverse",
        "     good weight 5 reverse",
        "     bad weight -253 reverse",
        "     tf, weight 2 reverse",
        " Track file = tf",
        "   Number of interface and track script faults = 0",
    ] {
        assert!(
            ld.iter().any(|l| l == want),
            "{want:?} missing from lvsd's keepalived.data:\n{}",
            ld.join("\n")
        );
    }
    assert_eq!(
        ld, kd,
        "keepalived.data differs (lvsd left, keepalived right)"
    );
}

/// An instance with no address to send its adverts from is in FAULT, as in keepalived
/// 2.2.7: one whose interface has no IPv4 address ("no IPv4 address for interface") until
/// one is added, then it takes over; one whose unicast_src_ip this host does not have ("src
/// address not configured") stays in FAULT. Both daemons' dumps say the same at each step.
#[test]
fn instances_without_a_source_address_are_in_fault() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    require_tool("keepalived");
    const NO_SRC: &str = "vrrp_instance NOADDR {
 state BACKUP
 interface eth0
 virtual_router_id 74
 priority 100
 virtual_ipaddress {
  10.99.0.141/24
 }
}
vrrp_instance NOTLOCAL {
 state BACKUP
 interface eth0
 virtual_router_id 75
 priority 100
 unicast_src_ip 10.99.0.250
 unicast_peer {
  10.99.0.251
 }
 virtual_ipaddress {
  10.99.0.142/24
 }
}
";
    let lab_k = Lab::new("dumpsk", 1);
    let lab_l = Lab::new("dumpsl", 1);
    for lab in [&lab_k, &lab_l] {
        ip_in(&lab.node(0).ns, &["-4", "addr", "flush", "dev", "eth0"]);
    }
    let k = start_with(&lab_k, Kind::Keepalived, NO_SRC);
    let l = start_with(&lab_l, Kind::Lvsd, NO_SRC);
    let states = |r: &Run| -> Vec<String> {
        let t = std::time::SystemTime::now() - Duration::from_millis(10);
        signal(r.pid, libc::SIGUSR1);
        mask(&wait_file(r, "keepalived.data", t))
            .into_iter()
            .take_while(|l| !l.starts_with("------< Interfaces"))
            .filter(|l| {
                l.starts_with(" VRRP Instance = ")
                    || l.starts_with("   State = ")
                    || l.starts_with("   Number of interface and track script faults")
            })
            .collect()
    };
    // Past the master-down interval: neither instance may take over.
    std::thread::sleep(Duration::from_secs(5));
    let (ks, ls) = (states(&k), states(&l));
    let want: Vec<String> = [
        " VRRP Instance = NOADDR",
        "   State = FAULT",
        "   Number of interface and track script faults = 1",
        " VRRP Instance = NOTLOCAL",
        "   State = FAULT",
        "   Number of interface and track script faults = 1",
    ]
    .map(String::from)
    .to_vec();
    assert_eq!(ks, want, "keepalived");
    assert_eq!(ls, want, "lvsd");
    for lab in [&lab_k, &lab_l] {
        ip_in(
            &lab.node(0).ns,
            &["addr", "add", "10.99.0.7/24", "dev", "eth0"],
        );
    }
    for (lab, name) in [(&lab_k, "keepalived"), (&lab_l, "lvsd")] {
        wait_vip(
            lab,
            std::net::Ipv4Addr::new(10, 99, 0, 141),
            name,
            "NOADDR never took over once eth0 had an address",
        );
    }
    std::thread::sleep(Duration::from_millis(300));
    let (ks, ls) = (states(&k), states(&l));
    assert_eq!(ks[1], "   State = MASTER", "keepalived: {ks:?}");
    assert_eq!(ls, ks, "lvsd left, keepalived right");
}

/// A vmac, a unicast keyword without peers (which sets vmac_xmit_base, as keepalived does)
/// and a `state MASTER` still waiting, side by side
/// with keepalived 2.2.7, the whole keepalived.data compared: the vmac's line in
/// "Interfaces" ("VMAC type private, underlying interface = eth0…", "I/f created by
/// keepalived"), the kernel's current ARP and rp_filter settings of it and its base, the
/// "Unicast config option specified but using multicast" flag, "Debug level", "Wantstate =
/// MASTER" while the first master-down interval runs, "Max auto priority = Disabled",
/// "Allow interface changes", and no "Default script uid:gid" when script security has no
/// user to run scripts as.
#[test]
fn vmac_and_instance_flags_side_by_side() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    require_tool("keepalived");
    if lvsd::nss::user("keepalived_script").is_some() {
        eprintln!("skipped: this host has a keepalived_script user");
        return;
    }
    const FLAGS: &str = "global_defs {
 router_id director5
 max_auto_priority -1
 dynamic_interfaces allow_if_changes
 enable_script_security
}
vrrp_instance VI_1 {
 state MASTER
 interface eth0
 use_vmac
 virtual_router_id 74
 priority 150
 advert_int 10
 debug 2
 unicast_src_ip 10.99.0.7
 virtual_ipaddress {
  10.99.0.141/24
 }
}
";
    // Both still wait out their first master-down interval (30 s and more).
    let (kd, ld) = both_dumps("dumpv", FLAGS, Duration::from_millis(3000));
    assert_lines(
        &ld,
        &[
            "   Interface = vrrp.74, vmac on eth0, xmit base i/f",
            // (keepalived shows the address it formatted last for a master it has not heard)
            "   Master router = ff02::12",
            "   VMAC type private, underlying interface = eth0, state = UP, RUNNING",
            "   I/f created by keepalived",
            "     Unicast config option specified but using multicast",
            "   Debug level = 2",
            "   Wantstate = MASTER",
            " Max auto priority = Disabled",
            " Allow interface changes = true",
            "   Original promote_secondaries 1",
        ],
    );
    assert!(!ld.iter().any(|l| l.starts_with(" Default script uid:gid")));
    assert_eq!(
        ld, kd,
        "keepalived.data differs (lvsd left, keepalived right)"
    );
}

/// static_ipaddress, static_routes, static_rules and an instance's virtual_routes and
/// virtual_rules as keepalived 2.2.7 writes them in keepalived.data (its route and rule
/// formats: the mode, `add` for a typed route, `proto 18`, `no_track` for a route without
/// an interface, rules' priorities given from 16384 down), the whole file compared; and
/// beside them an address owner, whose master-down timer keepalived shows as 1 µs.
#[test]
fn routes_and_rules_side_by_side() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    require_tool("keepalived");
    const ROUTES: &str = "static_ipaddress {
 10.97.0.5/24 dev eth0 scope link
}
static_routes {
 blackhole 10.1.2.3/32
 unreachable 10.1.2.4/32 append
 10.1.3.0/24 via 10.99.0.254 dev eth0 protocol 50
 10.1.4.0/24 via 10.99.0.254
 10.1.5.0/24 dev eth0 realms 3/4 window 5 ssthresh lock 7 mtu lock 1400
}
static_rules {
 not from 10.9.0.0/16 table 7 no_track
 to 10.8.0.0/16 iif eth0 blackhole
 from 10.7.0.0/16 fwmark 0x10/0xff priority 100 goto 200
}
vrrp_instance VI_1 {
 state BACKUP
 interface eth0
 virtual_router_id 75
 priority 100
 virtual_ipaddress {
  10.99.0.151/24
 }
 virtual_routes {
  10.2.0.0/16 dev eth0 metric 5 onlink
  10.3.0.0/16 via 10.99.0.254 or 10.99.0.253
 }
 virtual_rules {
  from 10.2.0.0/16 table 9
 }
}
vrrp_instance VI_2 {
 state MASTER
 interface eth0
 virtual_router_id 76
 priority 255
 virtual_ipaddress {
  10.99.0.152/24
 }
}
";
    let (kd, ld) = both_dumps("dumpr", ROUTES, Duration::from_millis(1500));
    assert_lines(
        &ld,
        &[
        "------< Static Addresses >------",
        "     10.97.0.5/24 dev eth0 scope link set",
        "     add blackhole 10.1.2.3 proto 18 no_track",
        "     prepend 10.1.4.0/24 via inet 10.99.0.254 proto 18 no_track",
        "     from all to 10.8.0.0/16 priority 16383 tos 0x0 iif eth0 protocol 18 type blackhole",
        "   Virtual Routes :",
        "     prepend 10.2.0.0/16 dev eth0 proto 18 metric 5 onlink",
        "   Virtual Rules :",
        // the address owner, MASTER since its start
        "   Master down timer = 1 usecs",
        ],
    );
    assert_eq!(
        ld, kd,
        "keepalived.data differs (lvsd left, keepalived right)"
    );
}

/// keepalived and lvsd each on `text` in a namespace of their own whose eth0 also has
/// 10.99.0.7/24; after `settle`, both dump keepalived.data (SIGUSR1): keepalived's and
/// lvsd's, masked.
fn both_dumps(tag: &str, text: &str, settle: Duration) -> (Vec<String>, Vec<String>) {
    let both = Both::start(tag, text, &[]);
    std::thread::sleep(settle);
    both.dumps()
}

/// keepalived (first) and lvsd running `text`, each in a namespace of its own whose eth0
/// also has 10.99.0.7/24 and where `setup` (arguments of `ip`) ran before.
struct Both {
    // Declared first: the daemons stop before their namespaces go.
    runs: [Run; 2],
    labs: [Lab; 2],
}

impl Both {
    fn start(tag: &str, text: &str, setup: &[&[&str]]) -> Both {
        let labs = [
            Lab::new(&format!("{tag}k"), 1),
            Lab::new(&format!("{tag}l"), 1),
        ];
        for lab in &labs {
            ip_in(
                &lab.node(0).ns,
                &["addr", "add", "10.99.0.7/24", "dev", "eth0"],
            );
            for args in setup {
                ip_in(&lab.node(0).ns, args);
            }
        }
        let runs = [
            start_with(&labs[0], Kind::Keepalived, text),
            start_with(&labs[1], Kind::Lvsd, text),
        ];
        Both { runs, labs }
    }

    /// `ip ARGS` in both namespaces.
    fn ip(&self, args: &[&str]) {
        for lab in &self.labs {
            ip_in(&lab.node(0).ns, args);
        }
    }

    /// keepalived.data of both (SIGUSR1), masked: keepalived's, then lvsd's.
    fn dumps(&self) -> (Vec<String>, Vec<String>) {
        let t = std::time::SystemTime::now() - Duration::from_millis(10);
        for r in &self.runs {
            signal(r.pid, libc::SIGUSR1);
        }
        let kd = mask(&wait_file(&self.runs[0], "keepalived.data", t));
        let ld = mask(&wait_file(&self.runs[1], "keepalived.data", t));
        (kd, ld)
    }
}

/// An instance tracks, with weight 0, the interfaces its addresses, virtual routes and
/// virtual rules are on (keepalived's `vrrp_complete_instance`), unless `no_track`: it is
/// in FAULT while one is down, whatever weight a track_interface entry gives that
/// interface. The whole keepalived.data of both daemons is the same before and after.
#[test]
fn address_route_and_rule_interfaces_are_tracked_side_by_side() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    require_tool("keepalived");
    const TRACKED: &str = "vrrp_instance VI_1 {
 state MASTER
 interface eth0
 virtual_router_id 81
 priority 255
 virtual_ipaddress {
  10.99.0.161/24
  10.98.1.1/24 dev rt1
  10.98.4.1/24 dev rt4 no_track
 }
}
vrrp_instance VI_2 {
 state MASTER
 interface eth0
 virtual_router_id 82
 priority 255
 track_interface {
  rt2 weight -10
 }
 virtual_ipaddress {
  10.99.0.162/24
 }
 virtual_routes {
  10.5.0.0/16 dev rt2
  10.7.0.0/16 dev rt4 no_track
 }
}
vrrp_instance VI_3 {
 state MASTER
 interface eth0
 virtual_router_id 83
 priority 255
 virtual_ipaddress {
  10.99.0.163/24
 }
 virtual_rules {
  from 10.6.0.0/16 table 9 oif rt3
 }
}
";
    let mut setup: Vec<Vec<String>> = Vec::new();
    for n in ["rt1", "rt2", "rt3", "rt4"] {
        let peer = format!("{n}p");
        let n = n.to_string();
        setup.push(vec![
            "link".into(),
            "add".into(),
            n.clone(),
            "type".into(),
            "veth".into(),
            "peer".into(),
            "name".into(),
            peer.clone(),
        ]);
        setup.push(vec!["link".into(), "set".into(), n, "up".into()]);
        setup.push(vec!["link".into(), "set".into(), peer, "up".into()]);
    }
    let setup: Vec<Vec<&str>> = setup
        .iter()
        .map(|a| a.iter().map(String::as_str).collect())
        .collect();
    let setup: Vec<&[&str]> = setup.iter().map(Vec::as_slice).collect();
    let both = Both::start("dumpt", TRACKED, &setup);
    std::thread::sleep(Duration::from_millis(1500));
    let (kd, ld) = both.dumps();
    assert_lines(
        &ld,
        &[
            " Name = rt1",
            "     VI_1, weight 0",
            " Name = rt2",
            "     VI_2, weight 0",
            " Name = rt3",
            "     VI_3, weight 0",
        ],
    );
    assert_eq!(
        ld, kd,
        "keepalived.data differs with every link up (lvsd left, keepalived right)"
    );
    // Each instance faults on its own interface's link; rt4 (no_track) is followed by none.
    for n in ["rt1", "rt2", "rt3", "rt4"] {
        both.ip(&["link", "set", n, "down"]);
    }
    std::thread::sleep(Duration::from_millis(1500));
    let (kd, ld) = both.dumps();
    let faults = ld.iter().filter(|l| *l == "   State = FAULT").count();
    assert_eq!(
        faults,
        3,
        "lvsd's instances are not all in FAULT:\n{}",
        ld.join("\n")
    );
    assert_eq!(
        ld, kd,
        "keepalived.data differs with the links down (lvsd left, keepalived right)"
    );
}

/// An address, virtual route or virtual rule of a MASTER deleted by someone else (`ip
/// addr/route/rule del`): keepalived leaves MASTER and takes it back after its skew time
/// (`set_vrrp_backup`); lvsd the same. A `no_track` address deleted changes nothing
/// (until the instance is MASTER again). A static address, route or rule deleted is added
/// again (`reinstate_static_*`). Both dumps are the same afterwards.
#[test]
fn a_deleted_address_is_taken_back_side_by_side() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    require_tool("keepalived");
    const LOST: &str = "static_ipaddress {
 10.99.0.181/24 dev eth0
}
static_routes {
 10.8.0.0/16 dev eth0
}
static_rules {
 from 10.9.0.0/16 table 7
}
vrrp_instance VI_1 {
 state MASTER
 interface eth0
 virtual_router_id 91
 priority 255
 virtual_ipaddress {
  10.99.0.171/24
  10.99.0.172/24 no_track
 }
 virtual_routes {
  10.5.0.0/16 dev eth0
 }
 virtual_rules {
  from 10.6.0.0/16 table 9
 }
}
";
    let tracked: std::net::Ipv4Addr = "10.99.0.171".parse().expect("ip");
    let untracked: std::net::Ipv4Addr = "10.99.0.172".parse().expect("ip");
    let both = Both::start("dumpd", LOST, &[]);
    for (lab, who) in both.labs.iter().zip(["keepalived", "lvsd"]) {
        wait_vip(lab, tracked, who, "did not take its address at the start");
    }
    // Past lvsd's first second as MASTER (deletions then may be its own release's).
    std::thread::sleep(Duration::from_millis(1500));
    both.ip(&["addr", "del", "10.99.0.172/24", "dev", "eth0"]);
    std::thread::sleep(Duration::from_millis(500));
    for (lab, who) in both.labs.iter().zip(["keepalived", "lvsd"]) {
        assert!(
            !has_addr(&lab.node(0).ns, untracked),
            "{who} took its no_track address back"
        );
    }
    // The tracked one: back, and with it the other (a new MASTER adds them all).
    both.ip(&["addr", "del", "10.99.0.171/24", "dev", "eth0"]);
    for (lab, who) in both.labs.iter().zip(["keepalived", "lvsd"]) {
        wait_vip(lab, tracked, who, "did not take its deleted address back");
        wait_vip(
            lab,
            untracked,
            who,
            "did not add all its addresses as MASTER again",
        );
    }
    // A virtual route, then a virtual rule deleted: taken back the same way.
    let shows = |ns: &str, args: &[&str], what: &str| {
        let out = Command::new("ip")
            .arg("-n")
            .arg(ns)
            .args(args)
            .output()
            .expect("ip");
        String::from_utf8_lossy(&out.stdout).contains(what)
    };
    for (del, show, what) in [
        (
            &["route", "del", "10.5.0.0/16", "dev", "eth0"][..],
            &["route", "show"][..],
            "10.5.0.0/16",
        ),
        (
            &["rule", "del", "from", "10.6.0.0/16", "table", "9"][..],
            &["rule", "show"][..],
            "from 10.6.0.0/16",
        ),
        // Static ones are added again at once.
        (
            &["addr", "del", "10.99.0.181/24", "dev", "eth0"][..],
            &["addr", "show"][..],
            "10.99.0.181/24",
        ),
        (
            &["route", "del", "10.8.0.0/16", "dev", "eth0"][..],
            &["route", "show"][..],
            "10.8.0.0/16",
        ),
        (
            &["rule", "del", "from", "10.9.0.0/16", "table", "7"][..],
            &["rule", "show"][..],
            "from 10.9.0.0/16",
        ),
    ] {
        std::thread::sleep(Duration::from_millis(1500));
        both.ip(del);
        for (lab, who) in both.labs.iter().zip(["keepalived", "lvsd"]) {
            let ns = &lab.node(0).ns;
            let t0 = Instant::now();
            while !shows(ns, show, what) {
                assert!(
                    t0.elapsed() < Duration::from_secs(5),
                    "{who} did not take back its {what}"
                );
                std::thread::sleep(Duration::from_millis(20));
            }
        }
    }
    let (kd, ld) = both.dumps();
    assert_lines(&ld, &["   State = MASTER"]);
    assert_eq!(
        ld, kd,
        "keepalived.data differs after the address came back (lvsd left, keepalived right)"
    );
}

/// A link set down takes the static routes on it (the kernel drops them without a word);
/// when it comes up, keepalived adds its static addresses and routes there again
/// (`interface_up`), and so does lvsd. Both dumps are the same afterwards.
#[test]
fn statics_come_back_with_their_interface_side_by_side() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    require_tool("keepalived");
    const STATICS: &str = "static_ipaddress {
 10.97.1.1/24 dev st1
}
static_routes {
 10.8.0.0/16 dev st1
 10.9.0.0/16 dev st1 no_track
}
vrrp_instance VI_1 {
 state BACKUP
 interface eth0
 virtual_router_id 92
 priority 100
 virtual_ipaddress {
  10.99.0.191/24
 }
}
";
    let setup: [&[&str]; 3] = [
        &["link", "add", "st1", "type", "veth", "peer", "name", "st1p"],
        &["link", "set", "st1", "up"],
        &["link", "set", "st1p", "up"],
    ];
    let both = Both::start("dumps", STATICS, &setup);
    let routes = |ns: &str| {
        let out = Command::new("ip")
            .args(["-n", ns, "route", "show"])
            .output()
            .expect("ip");
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let wait_route = |ns: &str, who: &str, what: &str| {
        let t0 = Instant::now();
        while !routes(ns).contains(what) {
            assert!(
                t0.elapsed() < Duration::from_secs(5),
                "{who}: no {what} in\n{}",
                routes(ns)
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    };
    for (lab, who) in both.labs.iter().zip(["keepalived", "lvsd"]) {
        wait_route(&lab.node(0).ns, who, "10.8.0.0/16");
        wait_route(&lab.node(0).ns, who, "10.9.0.0/16");
    }
    both.ip(&["link", "set", "st1", "down"]);
    std::thread::sleep(Duration::from_millis(300));
    for (lab, who) in both.labs.iter().zip(["keepalived", "lvsd"]) {
        assert!(
            !routes(&lab.node(0).ns).contains("10.8.0.0/16"),
            "{who}: the kernel kept the route of a link set down"
        );
    }
    both.ip(&["link", "set", "st1", "up"]);
    for (lab, who) in both.labs.iter().zip(["keepalived", "lvsd"]) {
        wait_route(&lab.node(0).ns, who, "10.8.0.0/16");
    }
    std::thread::sleep(Duration::from_millis(500));
    for (lab, who) in both.labs.iter().zip(["keepalived", "lvsd"]) {
        assert!(
            !routes(&lab.node(0).ns).contains("10.9.0.0/16"),
            "{who} added its no_track route again"
        );
    }
    // (st1's IPv6 link-local address comes back once its duplicate address detection is
    // over)
    std::thread::sleep(Duration::from_millis(2000));
    let (kd, ld) = both.dumps();
    assert_lines(
        &ld,
        &[
            "     10.97.1.1/24 dev st1 scope global set",
            // (keepalived follows no IPv4 route here, so never learnt where it went)
            "     prepend 10.8.0.0/16 dev st1 proto 18 [installed ifindex 0]",
        ],
    );
    assert_eq!(
        ld, kd,
        "keepalived.data differs after the link came back (lvsd left, keepalived right)"
    );
}

/// Two unicast instances on one interface with different source addresses: keepalived
/// lists a socket for each source in "VRRP Sockpool" (lvsd shares one socket, and lists
/// them as keepalived does). The whole keepalived.data is the same.
#[test]
fn unicast_sources_side_by_side() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    require_tool("keepalived");
    const UNICAST: &str = "vrrp_instance VI_1 {
 state BACKUP
 interface eth0
 virtual_router_id 93
 priority 100
 unicast_src_ip 10.99.0.1
 unicast_peer {
  10.99.0.201
 }
 virtual_ipaddress {
  10.99.0.193/24
 }
}
vrrp_instance VI_2 {
 state BACKUP
 interface eth0
 virtual_router_id 94
 priority 100
 unicast_src_ip 10.99.0.7
 unicast_peer {
  10.99.0.202
 }
 virtual_ipaddress {
  10.99.0.194/24
 }
}
";
    let (kd, ld) = both_dumps("dumpu", UNICAST, Duration::from_millis(1500));
    assert_lines(&ld, &["   Address = 10.99.0.1", "   Address = 10.99.0.7"]);
    assert_eq!(
        ld, kd,
        "keepalived.data differs (lvsd left, keepalived right)"
    );
}

/// A vrrp_track_process in keepalived's "VRRP Track processes" section: its settings, the
/// processes running now, its quorum and the instances tracking it. The whole
/// keepalived.data is the same.
#[test]
fn track_processes_side_by_side() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    require_tool("keepalived");
    const PROCESSES: &str = "vrrp_track_process chk_none {
 process lvsd-test-none
 weight -10
 quorum 2
 quorum_max 5
 delay 0.5
}
vrrp_track_process chk_args {
 process lvsd-test-args -a -b
 param_match partial
}
vrrp_instance VI_1 {
 state BACKUP
 interface eth0
 virtual_router_id 95
 priority 100
 virtual_ipaddress {
  10.99.0.195/24
 }
 track_process {
  chk_none
  chk_args weight 5 reverse
 }
}
";
    let (kd, ld) = both_dumps("dumpp", PROCESSES, Duration::from_millis(1500));
    assert_lines(
        &ld,
        &[
            "------< VRRP Track processes >------",
            " VRRP Track process = chk_none",
            "   Current processes = 0",
            "   Max processes = 5",
            "   Param match = partial",
            "     VI_1, weight 5 reverse",
        ],
    );
    assert_eq!(
        ld, kd,
        "keepalived.data differs (lvsd left, keepalived right)"
    );
}

/// Each of `wants` is a line of lvsd's dump `ld`.
fn assert_lines(ld: &[String], wants: &[&str]) {
    for want in wants {
        assert!(
            ld.iter().any(|l| l == want),
            "{want:?} missing from lvsd's keepalived.data:\n{}",
            ld.join("\n")
        );
    }
}
