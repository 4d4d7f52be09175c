//! The metrics endpoint of a real daemon (VRRP only, in a network namespace this test
//! creates): scraped with curl inside the namespace, the instance's state is MASTER (2);
//! a reload (SIGHUP) is counted with the new file's hash, a refused one as a failure
//! keeping the running file's hash; the text passes promtool's check when promtool is
//! installed.
//! Run: `cargo test --test metrics_daemon` as root.

#[path = "support/root.rs"]
mod root;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

#[path = "support/vrrp_only_daemon.rs"]
mod vrrp_only;
use vrrp_only::{wait_until, Daemon, Ns};

/// The sha256 label of `lvsd_config_info` in a scrape.
fn config_hash(text: &str) -> String {
    text.split("lvsd_config_info{sha256=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap_or_default()
        .to_string()
}

fn scrape(ns: &str) -> (bool, String) {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "curl", "-sS", "-i", "--max-time", "12"])
        .arg("http://127.0.0.1:19650/metrics")
        .output()
        .expect("run curl (install curl)");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

#[test]
fn metrics_of_a_running_daemon() {
    if root::skip_without_root("network namespaces") {
        return;
    }
    let ns = Ns::new("met", 205);
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pid_file = d.join("main.pid");
    std::fs::write(d.join("lvsd.conf"), ns.conf(200)).unwrap();
    let log = std::fs::File::create(d.join("lvsd.log")).unwrap();
    let _daemon = Daemon(
        Command::new("ip")
            .args(["netns", "exec", &ns.0, env!("CARGO_BIN_EXE_lvsd")])
            .args([
                "-P",
                "-n",
                "-l",
                "-G",
                "--metrics-listen",
                "127.0.0.1:19650",
                "-f",
            ])
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
    let want = "keepalived_vrrp_state{iname=\"VI_1\",intf=\"veth0\",vrid=\"62\",ip_address=\"10.205.0.100\"} 2\n";
    let mut last = String::new();
    let master = wait_until(Duration::from_secs(15), || {
        let (ok, text) = scrape(&ns.0);
        last = text;
        ok && last.contains(want)
    });
    assert!(master, "last answer: {last}\nlog:\n{}", daemon_log());
    assert!(last.starts_with("HTTP/1.1 200 OK"), "{last}");
    assert!(last.contains("text/plain; version=0.0.4"), "{last}");
    assert!(last.contains("\nlvsd_up 1\n"), "{last}");
    assert!(daemon_log().contains("Prometheus metrics on http://127.0.0.1:19650/metrics"));
    let first_hash = config_hash(&last);
    assert_eq!(first_hash.len(), 64, "{last}");
    assert!(last.contains("\nlvsd_config_reloads_total 0\n"), "{last}");

    // A reload: counted, applied, the new file's hash.
    let pid = nix::unistd::Pid::from_raw(_daemon.0.id() as i32);
    std::fs::write(d.join("lvsd.conf"), ns.conf(150)).unwrap();
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).unwrap();
    let applied = wait_until(Duration::from_secs(15), || {
        let (ok, text) = scrape(&ns.0);
        last = text;
        ok && last.contains("\nlvsd_config_reloads_total 1\n")
            && last.contains("\nlvsd_config_last_reload_successful 1\n")
    });
    assert!(applied, "last answer: {last}\nlog:\n{}", daemon_log());
    let second_hash = config_hash(&last);
    assert_ne!(second_hash, first_hash, "{last}");
    assert!(
        last.contains("\nlvsd_config_reload_failures_total 0\n"),
        "{last}"
    );
    assert!(
        last.contains("\nlvsd_vrrp_priority{iname=\"VI_1\""),
        "{last}"
    );

    // A file with an error: refused, counted as a failure, the running file's hash kept.
    std::fs::write(
        d.join("lvsd.conf"),
        "vrrp_instance VI_1 {\n  virtual_router_id 999\n}\n",
    )
    .unwrap();
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP).unwrap();
    let refused = wait_until(Duration::from_secs(15), || {
        let (ok, text) = scrape(&ns.0);
        last = text;
        ok && last.contains("\nlvsd_config_reload_failures_total 1\n")
    });
    assert!(refused, "last answer: {last}\nlog:\n{}", daemon_log());
    assert!(last.contains("\nlvsd_config_reloads_total 2\n"), "{last}");
    assert!(
        last.contains("\nlvsd_config_last_reload_successful 0\n"),
        "{last}"
    );
    assert!(
        last.contains("\nlvsd_config_last_reload_duration_seconds "),
        "{last}"
    );
    assert_eq!(config_hash(&last), second_hash, "{last}");

    let body = &last[last.find("\r\n\r\n").unwrap() + 4..];
    if Path::new("/usr/bin/promtool").exists() {
        let mut child = Command::new("promtool")
            .args(["check", "metrics"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(body.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "promtool: {}{}\n{body}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
