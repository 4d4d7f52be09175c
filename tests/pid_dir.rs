//! `use_pid_dir` and `instance`: the pid files under /run/keepalived/ with keepalived's
//! names, next to Debian's keepalived 2.2.7 run on the same file; both remove them (and the
//! directory when nothing else is in it) when they stop.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use support::*;

const NAME: &str = "lvsdpiddirtest";

fn conf() -> String {
    format!(
        "use_pid_dir
instance {NAME}
global_defs {{ router_id piddir }}
vrrp_instance VI_1 {{
 interface eth0
 virtual_router_id 80
 priority 100
 virtual_ipaddress {{ 10.99.0.130/24 }}
}}
"
    )
}

fn wait_pid(p: &Path, limit: Duration) -> Option<i32> {
    let t0 = Instant::now();
    while t0.elapsed() < limit {
        if let Some(pid) = std::fs::read_to_string(p)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            return Some(pid);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// Runs `kind` on the file without -p/-r/-c; returns which of the expected pid files it
/// wrote and whether they were gone after SIGTERM.
fn run(kind: Kind) -> (Vec<PathBuf>, bool) {
    let lab = Lab::new(&format!("piddir{}", &kind.label()[..1]), 1);
    let dir = lab.path(kind.label());
    std::fs::create_dir_all(&dir).expect("dir");
    let conf = dir.join("keepalived.conf");
    std::fs::write(&conf, self::conf()).expect("conf");
    let log = std::fs::File::create(dir.join("log")).expect("log");
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", &lab.node(0).ns])
        .arg(kind.binary())
        .args(["-P", "-n", "-l"]);
    if kind == Kind::Keepalived {
        cmd.arg("-G");
    }
    cmd.arg("-f").arg(&conf);
    cmd.stdin(Stdio::null())
        .stdout(log.try_clone().expect("fd"))
        .stderr(log);
    let mut child = cmd.spawn().expect("spawn");
    let main = PathBuf::from(format!("/run/keepalived/keepalived_{NAME}.pid"));
    let vrrp = PathBuf::from(format!("/run/keepalived/vrrp_{NAME}.pid"));
    let mut seen = Vec::new();
    for p in [&main, &vrrp] {
        if wait_pid(p, Duration::from_secs(5)).is_some() {
            seen.push(p.clone());
        }
    }
    let pid = wait_pid(&main, Duration::from_millis(10));
    if let Some(pid) = pid {
        // SAFETY: the daemon this test started.
        unsafe { libc::kill(pid, libc::SIGTERM) };
    }
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(10) {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    let gone = !main.exists() && !vrrp.exists();
    (seen, gone)
}

#[test]
fn pid_files_in_the_pid_dir_as_keepalived() {
    if support::skip_without_root("network namespaces and /run/keepalived") {
        return;
    }
    require_tool("keepalived");
    for p in ["keepalived", "vrrp"] {
        let _ = std::fs::remove_file(format!("/run/keepalived/{p}_{NAME}.pid"));
    }
    let (k_seen, k_gone) = run(Kind::Keepalived);
    let (l_seen, l_gone) = run(Kind::Lvsd);
    assert_eq!(k_seen.len(), 2, "keepalived wrote {k_seen:?}");
    assert_eq!(l_seen, k_seen, "lvsd's pid files differ from keepalived's");
    assert!(k_gone, "keepalived left its pid files");
    assert!(l_gone, "lvsd left its pid files");
}
