//! `process_name`, `vrrp_process_name`, `checker_process_name`: keepalived names its
//! parent, VRRP and checker processes; lvsd, one process, names its main thread (the
//! process name) and the threads of each side. Both run the same file; the names are read
//! from /proc; the over-long checker name is cut to 15 bytes.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::*;

const CONF: &str = "global_defs {
 router_id names
 process_name lb_main
 vrrp_process_name lb_vrrp
 checker_process_name lb_checker_name_too_long
}
vrrp_instance VI_1 {
 interface eth0
 virtual_router_id 81
 priority 100
 virtual_ipaddress { 10.99.0.131/24 }
}
";

fn comm(path: &Path) -> String {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// The comm of the process and of every thread of every process in its session.
fn names_of(pid: i32) -> Vec<String> {
    let mut names = vec![comm(Path::new(&format!("/proc/{pid}/comm")))];
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return names;
    };
    for p in procs.flatten() {
        let Some(n) = p.file_name().to_str().and_then(|s| s.parse::<i32>().ok()) else {
            continue;
        };
        let stat = std::fs::read_to_string(format!("/proc/{n}/stat")).unwrap_or_default();
        // Field 4 (after the comm in parentheses) is the parent pid.
        let ppid = stat
            .rsplit_once(')')
            .and_then(|(_, r)| r.split_whitespace().nth(1))
            .and_then(|x| x.parse::<i32>().ok());
        if n != pid && ppid != Some(pid) {
            continue;
        }
        if let Ok(tasks) = std::fs::read_dir(format!("/proc/{n}/task")) {
            for t in tasks.flatten() {
                names.push(comm(&t.path().join("comm")));
            }
        }
    }
    names
}

fn run(kind: Kind) -> Vec<String> {
    let lab = Lab::new(&format!("pname{}", &kind.label()[..1]), 1);
    let dir = lab.path(kind.label());
    std::fs::create_dir_all(&dir).expect("dir");
    let conf = dir.join("keepalived.conf");
    std::fs::write(&conf, CONF).expect("conf");
    let log = std::fs::File::create(dir.join("log")).expect("log");
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", &lab.node(0).ns])
        .arg(kind.binary())
        .args(["-n", "-l"]);
    if kind == Kind::Keepalived {
        cmd.arg("-G");
    }
    cmd.arg("-f").arg(&conf);
    for (flag, f) in [
        ("-p", "main.pid"),
        ("-r", "vrrp.pid"),
        ("-c", "checkers.pid"),
    ] {
        cmd.arg(flag).arg(dir.join(f));
    }
    cmd.stdin(Stdio::null())
        .stdout(log.try_clone().expect("fd"))
        .stderr(log);
    let mut child = cmd.spawn().expect("spawn");
    let main = dir.join("main.pid");
    let t0 = Instant::now();
    let mut names = Vec::new();
    while t0.elapsed() < Duration::from_secs(5) {
        if let Some(pid) = std::fs::read_to_string(&main)
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
        {
            std::thread::sleep(Duration::from_millis(700));
            names = names_of(pid);
            // SAFETY: the daemon this test started.
            unsafe { libc::kill(pid, libc::SIGTERM) };
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(5) && !matches!(child.try_wait(), Ok(Some(_))) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    names
}

#[test]
fn process_and_side_names_as_configured() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    require_tool("keepalived");
    let k = run(Kind::Keepalived);
    let l = run(Kind::Lvsd);
    // keepalived starts no checker process without a virtual_server (and this host's
    // kernel has no IPVS for one): its checker name is lvsd's alone here.
    for (who, names, wanted) in [
        ("keepalived", &k, &["lb_vrrp"][..]),
        ("lvsd", &l, &["lb_vrrp", "lb_checker_name"][..]),
    ] {
        assert_eq!(
            names.first().map(String::as_str),
            Some("lb_main"),
            "{who}: {names:?}"
        );
        for want in wanted {
            assert!(
                names.iter().any(|n| n == want),
                "{who}: no {want} in {names:?}"
            );
        }
    }
}
