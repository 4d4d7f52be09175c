//! Each side stands alone (issue 13, section 3): lvsd run without `-P` in network
//! namespaces (root). A configuration without virtual servers never touches IPVS; on a
//! kernel without IPVS, a virtual server leaves VRRP running while the LVS side retries; a
//! failed VRRP side is restarted while the LVS side runs; forked, a failed start exits
//! non-zero with the reason.

mod support;

use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use support::*;

const SEC: Duration = Duration::from_secs(1);

/// IPVS is there or loadable on this machine (these tests then check the other outcome).
fn ipvs_obtainable() -> bool {
    Path::new("/sys/module/ip_vs").exists()
        || Command::new("modprobe")
            .args(["-n", "-q", "ip_vs"])
            .status()
            .is_ok_and(|s| s.success())
}

/// A virtual server on the VIP, its real server inside the lab.
const VIRTUAL_SERVER: &str = "
virtual_server 10.99.0.100 80 {
  delay_loop 1
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server 10.99.0.1 8080 {
    TCP_CHECK {
      connect_timeout 1
    }
  }
}
";

fn count(log: &str, needle: &str) -> usize {
    log.lines().filter(|l| l.contains(needle)).count()
}

/// Polls `cond` every 20 ms until it holds (true) or `timeout` has passed (false).
fn poll_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// (a) The common VRRP-only director (HAProxy or API-server failover) runs lvsd without
/// `-P`: it becomes MASTER, holds the VIP, and lvsd never opens IPVS (with `-D`, opening it
/// logs either "IPVS netlink socket ready" or why it failed).
#[test]
fn vrrp_only_configuration_runs_without_p() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    let lab = Lab::new("vonly", 1);
    let a = lab.node(0).clone();
    let mut d = lab.spawn_both_sides(0, "a", &Conf::new("A", 100).render(), &["-D"]);
    assert!(
        wait_addr(&a.ns, VIP, true, 8 * SEC).is_some(),
        "lvsd without -P never became master\n{}",
        d.log_text()
    );
    std::thread::sleep(SEC);
    assert!(d.running(), "lvsd stopped\n{}", d.log_text());
    assert!(d.holds_vip());
    let log = d.log_text();
    assert!(log.contains("Entering MASTER STATE"), "{log}");
    assert_eq!(count(&log, "leaves IPVS alone"), 1, "{log}");
    for touched in [
        "IPVS netlink socket ready",
        "IPVS is not available",
        "modprobe",
    ] {
        assert!(
            !log.contains(touched),
            "IPVS was touched ({touched}):\n{log}"
        );
    }
    d.sigterm();
    let st = d.wait_exit(5 * SEC).expect("lvsd did not stop on SIGTERM");
    assert!(st.success(), "exit status {st}");
    assert!(!has_addr(&a.ns, VIP), "the VIP was left behind");
}

/// (b) A virtual server on a kernel without IPVS: VRRP still becomes MASTER, the log says
/// once, in one sentence, why the LVS side waits, and the side keeps retrying (at debug
/// level) while the daemon runs.
#[test]
fn virtual_server_without_ipvs_leaves_vrrp_running() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    let lab = Lab::new("noipvs", 1);
    let a = lab.node(0).clone();
    let conf = Conf::new("A", 100).render() + VIRTUAL_SERVER;
    let mut d = lab.spawn_both_sides(0, "a", &conf, &["-D"]);
    assert!(
        wait_addr(&a.ns, VIP, true, 8 * SEC).is_some(),
        "VRRP never became master\n{}",
        d.log_text()
    );
    if ipvs_obtainable() {
        // The other outcome on a kernel with IPVS: the LVS side starts.
        assert!(d.wait_log("LVS side started", 5 * SEC), "{}", d.log_text());
    } else {
        // Attempts at 0, 1, 3 and 7 s: the fourth has failed 7-8 s after the start.
        assert!(
            d.wait_log("IPVS is still not available (attempt 4)", 10 * SEC),
            "the LVS side did not keep retrying\n{}",
            d.log_text()
        );
        let log = d.log_text();
        let lines: Vec<&str> = log
            .lines()
            .filter(|l| l.contains("IPVS is not available"))
            .collect();
        assert_eq!(lines.len(), 1, "said more than once:\n{log}");
        assert!(
            lines[0].contains(
                "IPVS is not available in this kernel (the ip_vs module could not be loaded: "
            ) && lines[0].ends_with("the LVS side will retry in 1 s; VRRP keeps running"),
            "not the expected sentence: {}",
            lines[0]
        );
        for raw in ["Nlmsgerr", "NlmsghdrErr", "Genlmsghdr", "side failed"] {
            assert!(!log.contains(raw), "{raw} in the log:\n{log}");
        }
    }
    assert!(d.running(), "lvsd stopped\n{}", d.log_text());
    assert!(d.holds_vip(), "the VIP went away\n{}", d.log_text());
    d.sigterm();
    let st = d.wait_exit(5 * SEC).expect("lvsd did not stop on SIGTERM");
    assert!(st.success(), "exit status {st}\n{}", d.log_text());
    assert!(!has_addr(&a.ns, VIP), "the VIP was left behind");
}

/// The configuration of `Conf::new("A", 100)` on `eth1`, which the namespace lacks at first.
fn conf_on_eth1() -> String {
    Conf::new("A", 100)
        .render()
        .replace("interface eth0", "interface eth1")
        .replace("dev eth0", "dev eth1")
}

fn add_eth1(ns: &str) {
    for cmd in [
        "link add eth1 type veth peer name eth1p",
        "link set eth1p up",
        "link set eth1 up",
        "addr add 10.98.0.1/24 dev eth1",
    ] {
        let st = Command::new("ip")
            .args(["-n", ns])
            .args(cmd.split(' '))
            .status()
            .expect("ip");
        assert!(st.success(), "ip -n {ns} {cmd} failed");
    }
}

/// A VRRP side that fails (its interface is missing) is restarted with backoff, logged
/// once, while the LVS side runs on; once the interface is there, VRRP takes the VIP.
#[test]
fn a_failed_vrrp_side_is_restarted_while_the_lvs_side_runs() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    let lab = Lab::new("vrestart", 1);
    let a = lab.node(0).clone();
    let mut d = lab.spawn_both_sides(0, "a", &conf_on_eth1(), &[]);
    assert!(d.wait_log("VRRP side failed", 5 * SEC), "{}", d.log_text());
    // Restarts at 1 and 3 s fail the same way: not logged again.
    std::thread::sleep(4 * SEC);
    assert!(d.running(), "lvsd stopped\n{}", d.log_text());
    let log = d.log_text();
    assert_eq!(count(&log, "VRRP side failed"), 1, "{log}");
    assert!(
        log.contains("VRRP side failed: interface eth1")
            && log.contains("restarting it in 1 s; the LVS side keeps running"),
        "{log}"
    );
    assert!(!log.contains("LVS side stopped"), "{log}");

    add_eth1(&a.ns);
    // Next restart at 7 s (at the latest 15 s), then the master-down interval.
    assert!(
        wait_addr_any(&a.ns, VIP.into(), true, 20 * SEC).is_some(),
        "the restarted VRRP side never became master\n{}",
        d.log_text()
    );
    assert!(d.running());
    let log = d.log_text();
    assert_eq!(count(&log, "Starting lvsd"), 1, "{log}");
    assert_eq!(
        count(&log, "leaves IPVS alone"),
        1,
        "the LVS side restarted:\n{log}"
    );
    d.sigterm();
    let st = d.wait_exit(5 * SEC).expect("lvsd did not stop on SIGTERM");
    assert!(st.success(), "exit status {st}\n{}", d.log_text());
}

/// With `-R` (keepalived's --dont-respawn) a failed side stops lvsd, non-zero.
#[test]
fn dont_respawn_stops_lvsd_when_a_side_fails() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    let lab = Lab::new("norespawn", 1);
    let mut d = lab.spawn_both_sides(0, "a", &conf_on_eth1(), &["-R"]);
    let st = d
        .wait_exit(5 * SEC)
        .unwrap_or_else(|| panic!("lvsd -R kept running\n{}", d.log_text()));
    assert_eq!(st.code(), Some(3), "{}", d.log_text());
    assert!(
        d.log_text()
            .contains("VRRP side failed: interface eth1: not found; stopping lvsd (-R"),
        "{}",
        d.log_text()
    );
}

/// Runs lvsd forked (no `-n`) in `ns`; returns its exit status and standard error.
fn forked(ns: &str, conf: &Path, pid: &Path, dir: &Path) -> (Option<i32>, String) {
    let out = Command::new("ip")
        .args(["netns", "exec", ns])
        .arg(env!("CARGO_BIN_EXE_lvsd"))
        .arg("-f")
        .arg(conf)
        .arg("-p")
        .arg(pid)
        .arg("-r")
        .arg(dir.join("vrrp.pid"))
        .arg("-c")
        .arg(dir.join("checkers.pid"))
        .arg("-G")
        .arg("-g")
        .arg(dir.join("daemon.log"))
        .output()
        .expect("run lvsd");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// No process left in `ns` (within two seconds).
fn ns_empty(ns: &str) -> bool {
    poll_until(2 * SEC, || {
        let out = Command::new("ip")
            .args(["netns", "pids", ns])
            .output()
            .expect("ip netns pids");
        out.stdout.iter().all(u8::is_ascii_whitespace)
    })
}

/// (c) Forked, the parent exits with the daemon's verdict: non-zero with the reason on
/// standard error when the start fails, 0 once the daemon runs.
#[test]
fn forked_start_exits_with_the_daemons_verdict() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    let lab = Lab::new("fork", 1);
    let a = lab.node(0).clone();
    let dir = lab.path("fork");
    std::fs::create_dir_all(&dir).unwrap();
    let conf = dir.join("keepalived.conf");
    std::fs::write(&conf, Conf::new("A", 100).render()).unwrap();
    let pid_file = dir.join("main.pid");

    // The pid file names a live process (this test).
    std::fs::write(&pid_file, format!("{}\n", std::process::id())).unwrap();
    let (code, err) = forked(&a.ns, &conf, &pid_file, &dir);
    assert_eq!(code, Some(3), "stderr: {err}");
    assert!(
        err.starts_with("lvsd: ")
            && err.contains(&format!("process {} is running", std::process::id())),
        "stderr: {err}"
    );
    assert_eq!(err.lines().count(), 1, "stderr: {err}");
    assert!(ns_empty(&a.ns), "a daemon stayed after a failed start");

    // The pid file's directory cannot be made (its parent is a file).
    let bad = conf.join("main.pid");
    let (code, err) = forked(&a.ns, &conf, &bad, &dir);
    assert_eq!(code, Some(3), "stderr: {err}");
    assert!(err.contains("cannot make the directory"), "stderr: {err}");
    assert!(ns_empty(&a.ns), "a daemon stayed after a failed start");

    // A good start: 0, nothing on stderr, and the daemon runs (and becomes master).
    std::fs::remove_file(&pid_file).unwrap();
    let t = Instant::now();
    let (code, err) = forked(&a.ns, &conf, &pid_file, &dir);
    assert_eq!(code, Some(0), "stderr: {err}");
    assert!(err.is_empty(), "stderr: {err}");
    assert!(t.elapsed() < 5 * SEC, "the parent waited {:?}", t.elapsed());
    let pid: i32 = std::fs::read_to_string(&pid_file)
        .expect("pid file")
        .trim()
        .parse()
        .expect("pid");
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    assert_eq!(comm.trim(), "lvsd", "pid {pid} is not the daemon");
    assert!(
        wait_addr(&a.ns, VIP, true, 8 * SEC).is_some(),
        "the forked daemon never became master\n{}",
        std::fs::read_to_string(dir.join("daemon.log")).unwrap_or_default()
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    assert!(
        poll_until(5 * SEC, || !alive(pid)),
        "the daemon did not stop"
    );
    assert!(!pid_file.exists(), "the pid file was left behind");
}

/// The soft and hard open files limits of a process, from /proc/PID/limits.
fn open_files_limits(pid: i32) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/limits")).ok()?;
    let line = text.lines().find(|l| l.starts_with("Max open files"))?;
    let mut nums = line["Max open files".len()..].split_whitespace();
    Some((nums.next()?.parse().ok()?, nums.next()?.parse().ok()?))
}

fn set_open_files(soft: u64, hard: u64) {
    let rl = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: setrlimit reads the struct it is given.
    assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &rl) }, 0);
}

/// A director with many checkers raises its open files limit, as keepalived does, so that
/// checks do not fail with "Too many open files" at the usual soft limit (here started at
/// 512, below what 300 checkers may need: 2 × 300 + 1,024 = 1,624; the hard limit is left
/// as it is, since a container's root may lack CAP_SYS_RESOURCE to raise it back).
#[test]
fn many_checkers_raise_the_open_files_limit() {
    if support::skip_without_root("network namespaces and raising a hard limit") {
        return;
    }
    let lab = Lab::new("nofile", 1);
    let mut conf = Conf::new("A", 100).render();
    conf.push_str(
        "virtual_server 10.99.0.100 80 {\n  delay_loop 60\n  lb_kind NAT\n  protocol TCP\n",
    );
    for i in 0..300 {
        conf.push_str(&format!(
            "  real_server 10.99.{}.{} 8080 {{\n    TCP_CHECK {{\n      connect_timeout 1\n    }}\n  }}\n",
            1 + i / 250,
            1 + i % 250
        ));
    }
    conf.push_str("}\n");
    // The daemon inherits this process's limits at its start.
    let mut own = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct it is given.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut own) }, 0);
    set_open_files(512, own.rlim_max);
    let d = lab.spawn_both_sides(0, "a", &conf, &["-D"]);
    let started = d.wait_log("Open files limit raised from 512 to 1624", 10 * SEC);
    set_open_files(own.rlim_cur, own.rlim_max);
    assert!(started, "no raise logged\n{}", d.log_text());
    let pid = d.pid().expect("lvsd's pid");
    let (soft, hard) = open_files_limits(pid).expect("lvsd's limits");
    assert!(soft >= 1624 && hard >= soft, "limits {soft} / {hard}");
    assert!(
        own.rlim_max >= 1624,
        "the hard limit here ({}) is below what the test needs",
        own.rlim_max
    );
}
