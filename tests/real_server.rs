//! `lvsd real-server` in a network namespace of its own (addresses and the
//! net.ipv4.conf sysctls are per namespace): it sets up the DR VIPs and the ARP sysctls
//! of the file's services, and leaves no trace after SIGTERM, nor after a `kill -9`
//! followed by `--cleanup` or by the next start. `lvsd real-server doctor` names the
//! classic faults with their fixes.

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::Lab;

const SYSCTLS: [&str; 9] = [
    "net.ipv4.conf.all.arp_ignore",
    "net.ipv4.conf.all.arp_announce",
    "net.ipv4.conf.all.rp_filter",
    "net.ipv4.conf.lo.arp_ignore",
    "net.ipv4.conf.lo.arp_announce",
    "net.ipv4.conf.lo.rp_filter",
    "net.ipv4.conf.eth0.arp_ignore",
    "net.ipv4.conf.eth0.arp_announce",
    "net.ipv4.conf.eth0.rp_filter",
];

/// The namespace's addresses (`ip -j addr`: interface, address, prefix, scope; the
/// IPv6 link-local addresses, which come and go with the link's carrier on their own,
/// left out) and sysctls: what must be the same before and after.
fn snapshot(ns: &str) -> (Vec<String>, Vec<String>) {
    let out = Command::new("ip")
        .args(["-n", ns, "-j", "addr"])
        .output()
        .expect("ip addr");
    let links: serde_json::Value = serde_json::from_slice(&out.stdout).expect("ip -j addr");
    let mut addrs = Vec::new();
    for link in links.as_array().into_iter().flatten() {
        for a in link["addr_info"].as_array().into_iter().flatten() {
            let local = a["local"].as_str().unwrap_or_default();
            if local.starts_with("fe80:") {
                continue;
            }
            addrs.push(format!(
                "{} {local}/{} scope {}",
                link["ifname"].as_str().unwrap_or_default(),
                a["prefixlen"],
                a["scope"].as_str().unwrap_or_default()
            ));
        }
    }
    addrs.sort();
    let sysctls = SYSCTLS
        .iter()
        .map(|k| format!("{k}={}", sysctl_get(ns, k)))
        .collect();
    (addrs, sysctls)
}

fn sysctl_get(ns: &str, key: &str) -> String {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "sysctl", "-n", key])
        .output()
        .expect("sysctl");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

fn sysctl_set(ns: &str, kv: &str) {
    let st = Command::new("ip")
        .args(["netns", "exec", ns, "sysctl", "-q", "-w", kv])
        .status()
        .expect("sysctl");
    assert!(st.success(), "sysctl -w {kv} in {ns}");
}

fn lvsd(ns: &str, conf: &Path, args: &[&str]) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns])
        .arg(env!("CARGO_BIN_EXE_lvsd"))
        .arg("-f")
        .arg(conf)
        .arg("real-server")
        .args(args);
    c
}

fn start(ns: &str, conf: &Path, state: &Path, log: &Path) -> Child {
    let log = std::fs::File::create(log).expect("log");
    lvsd(ns, conf, &["--state-file", state.to_str().expect("utf-8")])
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("lvsd real-server")
}

/// The address `addr/len` on `dev` in `ns`.
fn has(ns: &str, dev: &str, cidr: &str) -> bool {
    let out = Command::new("ip")
        .args(["-n", ns, "-o", "addr", "show", "dev", dev])
        .output()
        .expect("ip addr");
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .any(|w| w == cidr)
}

fn wait_for(what: &str, f: impl Fn() -> bool) {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < Duration::from_secs(10), "timed out: {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn sigterm_and_wait(c: &mut Child) -> std::process::ExitStatus {
    // (`ip netns exec` execs lvsd: the child's pid is lvsd's)
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(c.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("kill");
    c.wait().expect("wait")
}

/// A DR service this node serves, and one of another real server (not set up here).
fn conf(lab: &Lab, rip: std::net::Ipv4Addr) -> std::path::PathBuf {
    let p = lab.path("rs.conf");
    std::fs::write(
        &p,
        format!(
            "virtual_server 192.0.2.10 80 {{\n lb_kind DR\n protocol TCP\n \
             real_server {rip} 80 {{ }}\n}}\n\
             virtual_server 2001:db8::10 80 {{\n lb_kind DR\n protocol TCP\n \
             real_server 2001:db8::99 80 {{ }}\n}}\n\
             virtual_server 192.0.2.20 80 {{\n lb_kind DR\n protocol TCP\n \
             real_server 10.99.0.250 80 {{ }}\n}}\n"
        ),
    )
    .expect("conf");
    p
}

#[test]
fn dr_setup_and_no_trace_after_sigterm() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    let lab = Lab::new("rsdr", 1);
    let node = lab.node(0);
    let ns = node.ns.as_str();
    let conf = conf(&lab, node.ip);
    let state = lab.path("rs.state");
    // A value stricter than the one needed stays as it is.
    sysctl_set(ns, "net.ipv4.conf.lo.arp_ignore=2");
    let before = snapshot(ns);

    let mut rs = start(ns, &conf, &state, &lab.path("rs.log"));
    wait_for("the VIP on lo", || has(ns, "lo", "192.0.2.10/32"));
    wait_for("the last sysctl", || {
        sysctl_get(ns, "net.ipv4.conf.lo.arp_announce") == "2"
    });
    assert_eq!(sysctl_get(ns, "net.ipv4.conf.all.arp_ignore"), "1");
    assert_eq!(sysctl_get(ns, "net.ipv4.conf.all.arp_announce"), "2");
    assert_eq!(sysctl_get(ns, "net.ipv4.conf.lo.arp_ignore"), "2");
    // Only this node's service: not the one of 10.99.0.250, nor the IPv6 one.
    assert!(!has(ns, "lo", "192.0.2.20/32"));
    assert!(!has(ns, "lo", "2001:db8::10/128"));
    assert!(state.exists(), "the state file records the changes");

    // The doctor agrees: nothing is a problem (nothing listens on port 80: a warning).
    let out = lvsd(ns, &conf, &["doctor", "--json"])
        .output()
        .expect("doctor");
    let f: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(out.status.code(), Some(0), "{f:?}");
    assert!(f.iter().all(|x| x["level"] != "problem"), "{f:?}");

    let st = sigterm_and_wait(&mut rs);
    assert!(st.success(), "{st:?}");
    assert_eq!(snapshot(ns), before, "everything undone");
    assert!(!state.exists(), "nothing left to undo");
}

#[test]
fn kill_9_then_cleanup_or_the_next_start_restores() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    let lab = Lab::new("rskill", 1);
    let node = lab.node(0);
    let ns = node.ns.as_str();
    let conf = conf(&lab, node.ip);
    let state = lab.path("rs.state");
    let before = snapshot(ns);

    for how in ["--cleanup", "the next start"] {
        let mut rs = start(ns, &conf, &state, &lab.path("rs.log"));
        wait_for("the setup", || {
            has(ns, "lo", "192.0.2.10/32") && sysctl_get(ns, "net.ipv4.conf.lo.arp_ignore") == "1"
        });
        rs.kill().expect("kill -9");
        rs.wait().expect("wait");
        assert!(has(ns, "lo", "192.0.2.10/32"), "kill -9 leaves it");
        assert_ne!(snapshot(ns), before);
        if how == "--cleanup" {
            let st = lvsd(
                ns,
                &conf,
                &["--cleanup", "--state-file", state.to_str().expect("utf-8")],
            )
            .stderr(Stdio::null())
            .status()
            .expect("cleanup");
            assert!(st.success());
        } else {
            // The next start undoes the leftovers first: what it then records as the
            // previous values are the original ones, and the VIP is its own to remove.
            let mut rs = start(ns, &conf, &state, &lab.path("rs2.log"));
            wait_for("the log of the second start", || {
                std::fs::read_to_string(lab.path("rs2.log"))
                    .is_ok_and(|t| t.contains("Real server set up"))
            });
            assert!(sigterm_and_wait(&mut rs).success());
            let log = std::fs::read_to_string(lab.path("rs2.log")).unwrap_or_default();
            assert!(log.contains("did not stop cleanly"), "{log}");
        }
        assert_eq!(snapshot(ns), before, "after {how}");
        assert!(!state.exists());
    }
}

#[test]
fn tun_setup_or_the_missing_module_named() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    let lab = Lab::new("rstun", 1);
    let node = lab.node(0);
    let ns = node.ns.as_str();
    let conf = lab.path("tun.conf");
    std::fs::write(
        &conf,
        format!(
            "virtual_server 192.0.2.30 80 {{\n lb_kind TUN\n protocol TCP\n \
             real_server {} 80 {{ }}\n}}\n",
            node.ip
        ),
    )
    .expect("conf");
    let state = lab.path("tun.state");
    sysctl_set(ns, "net.ipv4.conf.all.rp_filter=1");
    let ipip = Command::new("modprobe")
        .arg("ipip")
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
        || Path::new("/sys/module/ipip").exists();
    if !ipip {
        // This kernel has no ipip: the doctor names the missing module and its fix.
        let out = lvsd(ns, &conf, &["doctor", "--json"])
            .output()
            .expect("doctor");
        let f: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("json");
        assert_eq!(out.status.code(), Some(1));
        let t = f
            .iter()
            .find(|x| x["check"] == "tunnel_device")
            .expect("tunnel_device named");
        assert!(
            t["fix"]
                .as_str()
                .is_some_and(|s| s.starts_with("modprobe ipip")),
            "{t}"
        );
        eprintln!(
            "skipped (partly): the ipip module cannot be loaded on this kernel: \
             the TUN setup itself is not exercised, only the doctor's finding"
        );
        return;
    }
    let before = snapshot(ns);
    let mut rs = start(ns, &conf, &state, &lab.path("tun.log"));
    wait_for("the VIP on tunl0", || has(ns, "tunl0", "192.0.2.30/32"));
    wait_for("rp_filter relaxed", || {
        sysctl_get(ns, "net.ipv4.conf.tunl0.rp_filter") == "0"
    });
    assert_eq!(sysctl_get(ns, "net.ipv4.conf.all.rp_filter"), "2");
    let out = lvsd(ns, &conf, &["doctor", "--json"])
        .output()
        .expect("doctor");
    let f: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("json");
    assert!(f.iter().all(|x| x["level"] != "problem"), "{f:?}");
    assert!(sigterm_and_wait(&mut rs).success());
    // (tunl0 itself stays, as the module does: its addresses and sysctls are compared)
    let after = snapshot(ns);
    assert_eq!(after.1, before.1);
    assert!(!has(ns, "tunl0", "192.0.2.30/32"));
}

#[test]
fn doctor_names_a_wide_vip_mask_arp_answered_and_a_listener_on_the_rip() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    let lab = Lab::new("rsdoc", 1);
    let node = lab.node(0);
    let ns = node.ns.as_str();
    let conf = conf(&lab, node.ip);
    // The classic hand-made real server: the VIP with the director's /30 on lo, the
    // ARP sysctls left alone, the service bound to the real server's own address.
    let st = Command::new("ip")
        .args(["-n", ns, "addr", "add", "192.0.2.10/30", "dev", "lo"])
        .status()
        .expect("ip addr add");
    assert!(st.success());
    sysctl_set(ns, "net.ipv4.conf.all.arp_ignore=0");
    sysctl_set(ns, "net.ipv4.conf.eth0.arp_ignore=0");
    let mut server = Command::new("ip")
        .args(["netns", "exec", ns, "python3", "-c"])
        .arg(format!(
            "import socket,time\ns=socket.socket()\ns.bind(('{}',80))\ns.listen()\ntime.sleep(60)",
            node.ip
        ))
        .spawn()
        .expect("python3");
    wait_for("the listener", || {
        std::fs::read_to_string(format!("/proc/{}/net/tcp", server.id()))
            .is_ok_and(|t| t.contains(":0050 00000000:0000 0A"))
    });
    let out = lvsd(ns, &conf, &["doctor", "--json"])
        .output()
        .expect("doctor");
    let _ = server.kill();
    let _ = server.wait();
    let f: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(out.status.code(), Some(1), "{f:?}");
    let get = |c: &str| {
        f.iter()
            .find(|x| x["check"] == c)
            .unwrap_or_else(|| panic!("{c} not named: {f:?}"))
    };
    let mask = get("vip_netmask");
    assert_eq!(
        mask["fix"],
        "ip addr del 192.0.2.10/30 dev lo; ip addr add 192.0.2.10/32 dev lo"
    );
    assert!(
        mask["consequence"]
            .as_str()
            .is_some_and(|s| s.contains("192.0.2.8/30")),
        "{mask}"
    );
    let arp = get("arp_ignore");
    assert!(
        arp["what"]
            .as_str()
            .is_some_and(|s| s.contains("eth0") && s.contains("all 0, eth0 0")),
        "{arp}"
    );
    assert!(
        arp["fix"]
            .as_str()
            .is_some_and(|s| s.contains("net.ipv4.conf.all.arp_ignore=1")),
        "{arp}"
    );
    let l = get("listener");
    assert_eq!(l["level"], "problem");
    assert!(
        l["what"]
            .as_str()
            .is_some_and(|s| s.contains(&format!("listened on {} only", node.ip))),
        "{l}"
    );

    // Fixed as the findings say: no problem left.
    for args in [
        vec!["addr", "del", "192.0.2.10/30", "dev", "lo"],
        vec!["addr", "add", "192.0.2.10/32", "dev", "lo"],
    ] {
        assert!(Command::new("ip")
            .args(["-n", ns])
            .args(&args)
            .status()
            .expect("ip")
            .success());
    }
    sysctl_set(ns, "net.ipv4.conf.all.arp_ignore=1");
    let out = lvsd(ns, &conf, &["doctor", "--json"])
        .output()
        .expect("doctor");
    let f: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).expect("json");
    assert!(f.iter().all(|x| x["level"] != "problem"), "{f:?}");
    assert_eq!(out.status.code(), Some(0));
}

#[test]
fn command_line_vips_and_a_reload() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    let lab = Lab::new("rsvip", 1);
    let node = lab.node(0);
    let ns = node.ns.as_str();
    let before = snapshot(ns);
    let state = lab.path("vip.state");
    let missing = lab.path("none.conf");
    // --vip replaces the file's services (the file is not even read).
    let mut rs = lvsd(
        ns,
        &missing,
        &[
            "--vip",
            "192.0.2.50",
            "--vip",
            "2001:db8::50",
            "--state-file",
            state.to_str().expect("utf-8"),
        ],
    )
    .stdout(Stdio::null())
    .stderr(Stdio::null())
    .spawn()
    .expect("lvsd real-server --vip");
    wait_for("both VIPs on lo", || {
        has(ns, "lo", "192.0.2.50/32") && has(ns, "lo", "2001:db8::50/128")
    });
    assert!(sigterm_and_wait(&mut rs).success());
    assert_eq!(snapshot(ns), before);

    // SIGHUP reads the file again: the VIP that stays is left alone, the old one goes,
    // the new one comes.
    let conf = lab.path("hup.conf");
    let vs = |vip: &str| {
        format!(
            "virtual_server {vip} 80 {{\n lb_kind DR\n protocol TCP\n \
             real_server {} 80 {{ }}\n}}\n",
            node.ip
        )
    };
    std::fs::write(&conf, vs("192.0.2.10") + &vs("192.0.2.12")).expect("conf");
    let mut rs = start(ns, &conf, &state, &lab.path("hup.log"));
    wait_for("the first VIPs", || {
        has(ns, "lo", "192.0.2.10/32") && has(ns, "lo", "192.0.2.12/32")
    });
    std::fs::write(&conf, vs("192.0.2.11") + &vs("192.0.2.12")).expect("conf");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(rs.id() as i32),
        nix::sys::signal::Signal::SIGHUP,
    )
    .expect("kill -HUP");
    wait_for("the new VIP, the old one gone", || {
        has(ns, "lo", "192.0.2.11/32") && !has(ns, "lo", "192.0.2.10/32")
    });
    let log = std::fs::read_to_string(lab.path("hup.log")).unwrap_or_default();
    assert!(!log.contains("Removed 192.0.2.12/32"), "{log}");
    assert!(
        !log.contains("Restored net.ipv4.conf.all.arp_ignore"),
        "{log}"
    );
    // A file that cannot be read keeps the running setup.
    std::fs::write(&conf, "virtual_server {\n").expect("conf");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(rs.id() as i32),
        nix::sys::signal::Signal::SIGHUP,
    )
    .expect("kill -HUP");
    wait_for("the refusal logged", || {
        std::fs::read_to_string(lab.path("hup.log")).is_ok_and(|t| t.contains("Reload refused"))
    });
    assert!(has(ns, "lo", "192.0.2.11/32"));
    assert!(sigterm_and_wait(&mut rs).success());
    assert_eq!(snapshot(ns), before);
}

/// A NAT real server's replies must go back through the director: with no default
/// route, then with one to another router, `lvsd real-server doctor` names the route and
/// prints `ip route replace default via` the file's VRRP VIP on this network; that fix
/// run as it is leaves only the info line saying the replies go through the VIP.
#[test]
fn doctor_names_a_nat_real_servers_route_around_the_director() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    let lab = Lab::new("rsnat", 1);
    let node = lab.node(0);
    let ns = node.ns.as_str();
    let conf = lab.path("nat.conf");
    std::fs::write(
        &conf,
        format!(
            "vrrp_instance V {{\n interface eth0\n virtual_router_id 51\n \
             virtual_ipaddress {{ 192.0.2.50/24 dev eth1\n 10.99.0.254/24 }}\n}}\n\
             virtual_server 192.0.2.50 80 {{\n lb_kind NAT\n protocol TCP\n \
             real_server {} 80 {{ }}\n}}\n",
            node.ip
        ),
    )
    .expect("conf");
    let doctor = || -> (i32, Vec<serde_json::Value>) {
        let out = lvsd(ns, &conf, &["doctor", "--json"])
            .output()
            .expect("doctor");
        let v: serde_json::Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&out.stderr)));
        (
            out.status.code().unwrap_or(-1),
            v.as_array().cloned().unwrap_or_default(),
        )
    };
    let nat = |f: &[serde_json::Value]| -> serde_json::Value {
        f.iter()
            .find(|x| x["check"] == "nat_route")
            .cloned()
            .unwrap_or_else(|| panic!("no nat_route finding: {f:?}"))
    };
    let ip = |args: &str| {
        let st = Command::new("ip")
            .args(["-n", ns])
            .args(args.split_whitespace())
            .status()
            .expect("ip");
        assert!(st.success(), "ip {args}");
    };
    ip("route flush default");
    let (code, f) = doctor();
    assert_eq!(code, 1, "{f:?}");
    let n = nat(&f);
    assert_eq!(n["level"], "problem", "{n}");
    assert!(
        n["what"].as_str().is_some_and(|w| w.contains(&format!(
            "no route from {} toward the clients (198.51.100.1: Network is unreachable)",
            node.ip
        ))),
        "{n}"
    );
    assert_eq!(n["fix"], "ip route replace default via 10.99.0.254");
    ip("route add default via 10.99.0.9");
    let (code, f) = doctor();
    assert_eq!(code, 1, "{f:?}");
    let n = nat(&f);
    assert!(
        n["what"].as_str().is_some_and(|w| w.contains(
            "go via 10.99.0.9 dev eth0, not through the director 10.99.0.254 (a virtual_ipaddress of vrrp_instance V)"
        )),
        "{n}"
    );
    let fix = n["fix"].as_str().expect("fix").to_string();
    ip(fix.strip_prefix("ip ").expect("an ip command"));
    let (code, f) = doctor();
    assert_eq!(code, 0, "{f:?}");
    let n = nat(&f);
    assert_eq!(n["level"], "info", "{n}");
}
