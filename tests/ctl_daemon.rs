//! `lvsd ctl` against a real daemon (VRRP only, in a network namespace this test
//! creates): `state` as JSON and for people, `plan` of a priority change, a request the
//! daemon refuses, and the socket's mode and removal at exit.
//! Run: `cargo test --test ctl_daemon` as root.

#[path = "support/root.rs"]
mod root;

use std::process::{Command, Stdio};
use std::time::Duration;

#[path = "support/vrrp_only_daemon.rs"]
mod vrrp_only;
use vrrp_only::{ctl, wait_until, Daemon, Ns};

#[test]
fn ctl_state_and_plan_against_a_running_daemon() {
    if root::skip_without_root("network namespaces") {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let ns = Ns::new("ctl", 204);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pid_file = d.join("main.pid");
    std::fs::write(d.join("lvsd.conf"), ns.conf(200)).unwrap();
    let log = std::fs::File::create(d.join("lvsd.log")).unwrap();
    let mut daemon = Daemon(
        Command::new("ip")
            .args(["netns", "exec", &ns.0, env!("CARGO_BIN_EXE_lvsd")])
            .args(["-P", "-n", "-l", "-G", "-f"])
            .arg(d.join("lvsd.conf"))
            .arg("-p")
            .arg(&pid_file)
            .arg("-r")
            .arg(d.join("vrrp.pid"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start lvsd"),
    );
    let daemon_log = || std::fs::read_to_string(d.join("lvsd.log")).unwrap_or_default();
    let socket = d.join("main.ctl");

    // The instance becomes master; `ctl state --json` says so.
    let mut last = String::new();
    let master = wait_until(Duration::from_secs(15), || {
        let out = ctl(&pid_file, &["state", "--json"]);
        last = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        out.status.success() && last.contains("\"MASTER\"")
    });
    assert!(master, "last answer: {last}\nlog:\n{}", daemon_log());
    let mode = std::fs::metadata(&socket).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "mode {mode:o}");
    let out = ctl(&pid_file, &["state", "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    let inst = &v["vrrp"][0];
    assert_eq!(inst["name"], "VI_1");
    assert_eq!(inst["state"], "MASTER");
    assert_eq!(inst["priority"], 200);
    assert_eq!(inst["vrid"], 62);
    assert_eq!(inst["interface"], "veth0");
    // -P: no LVS part.
    assert!(v.get("lvs").is_none(), "{v}");

    // For people.
    let out = ctl(&pid_file, &["state"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("VI_1") && text.contains("MASTER"), "{text}");

    // plan: a priority change, nothing applied.
    std::fs::write(d.join("new.conf"), ns.conf(150)).unwrap();
    let out = ctl(&pid_file, &["plan", d.join("new.conf").to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("VRRP: priorities only"), "{text}");
    assert!(text.contains("VI_1: priority 200 -> 150"), "{text}");
    let v: serde_json::Value =
        serde_json::from_slice(&ctl(&pid_file, &["state", "--json"]).stdout).unwrap();
    assert_eq!(v["vrrp"][0]["priority"], 200);

    // Refused: exit 1 with the reason on standard error.
    let out = ctl(&pid_file, &["disable", "10.0.0.1:80", "10.0.1.2:80"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("only the VRRP side"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // SIGTERM: the socket goes with the daemon; the client then says it cannot connect.
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(daemon.0.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let status = daemon.0.wait().unwrap();
    assert!(status.success(), "{}", daemon_log());
    assert!(!socket.exists());
    let out = ctl(&pid_file, &["state"]);
    assert_eq!(out.status.code(), Some(3));
}
