//! The metrics endpoint of a real daemon (VRRP only, in a network namespace this test
//! creates): scraped with curl inside the namespace, the instance's state is MASTER (2),
//! the text passes promtool's check when promtool is installed.
//! Run: `cargo test --test metrics_daemon` as root.

#[path = "support/root.rs"]
mod root;

use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

fn ip(args: &[&str]) {
    let out = Command::new("ip")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `ip` (install iproute2): {e}"));
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
}

struct Ns(String);

impl Ns {
    fn new() -> Ns {
        assert!(
            nix::unistd::geteuid().is_root(),
            "metrics_daemon needs root (network namespaces)"
        );
        let name = format!("lvsdmet-{}", std::process::id());
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        ip(&["netns", "add", &name]);
        ip(&["-n", &name, "link", "set", "lo", "up"]);
        ip(&[
            "-n", &name, "link", "add", "veth0", "type", "veth", "peer", "name", "veth1",
        ]);
        ip(&["-n", &name, "addr", "add", "10.205.0.1/24", "dev", "veth0"]);
        ip(&["-n", &name, "link", "set", "veth0", "up"]);
        ip(&["-n", &name, "link", "set", "veth1", "up"]);
        Ns(name)
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).output();
    }
}

fn conf(priority: u8) -> String {
    format!(
        "global_defs {{ router_id CTL }}\n\
         vrrp_instance VI_1 {{\n  state MASTER\n  interface veth0\n  virtual_router_id 62\n  \
         priority {priority}\n  advert_int 1\n  virtual_ipaddress {{ 10.205.0.100/24 }}\n}}\n"
    )
}

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[allow(dead_code)]
fn ctl(pid_file: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lvsd"))
        .arg("-p")
        .arg(pid_file)
        .arg("ctl")
        .args(args)
        .output()
        .expect("run lvsd ctl")
}

fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let t = Instant::now();
    while t.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
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
    let ns = Ns::new();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let pid_file = d.join("main.pid");
    std::fs::write(d.join("lvsd.conf"), conf(200)).unwrap();
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
