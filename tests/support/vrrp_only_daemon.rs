//! A VRRP-only lvsd in a network namespace of its own, for the tests of its control
//! socket and metrics endpoint (tests/ctl_daemon.rs, tests/metrics_daemon.rs).
#![allow(dead_code)]

use std::path::Path;
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

pub fn ip(args: &[&str]) {
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

/// A namespace with veth0 at 10.NET.0.1/24 (`.1` is the test's name for it).
pub struct Ns(pub String, u8);

impl Ns {
    pub fn new(tag: &str, net: u8) -> Ns {
        assert!(
            nix::unistd::geteuid().is_root(),
            "{tag} needs root (network namespaces)"
        );
        let name = format!("lvsd{tag}-{}", std::process::id());
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        ip(&["netns", "add", &name]);
        ip(&["-n", &name, "link", "set", "lo", "up"]);
        ip(&[
            "-n", &name, "link", "add", "veth0", "type", "veth", "peer", "name", "veth1",
        ]);
        let addr = format!("10.{net}.0.1/24");
        ip(&["-n", &name, "addr", "add", &addr, "dev", "veth0"]);
        ip(&["-n", &name, "link", "set", "veth0", "up"]);
        ip(&["-n", &name, "link", "set", "veth1", "up"]);
        Ns(name, net)
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).output();
    }
}

impl Ns {
    /// A VRRP-only file: VI_1 (VRID 62) MASTER on veth0 with VIP 10.NET.0.100/24.
    pub fn conf(&self, priority: u8) -> String {
        let net = self.1;
        format!(
            "global_defs {{ router_id CTL }}\n\
         vrrp_instance VI_1 {{\n  state MASTER\n  interface veth0\n  virtual_router_id 62\n  \
         priority {priority}\n  advert_int 1\n  virtual_ipaddress {{ 10.{net}.0.100/24 }}\n}}\n"
        )
    }
}

/// The daemon process, killed on drop.
pub struct Daemon(pub Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn ctl(pid_file: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_lvsd"))
        .arg("-p")
        .arg(pid_file)
        .arg("ctl")
        .args(args)
        .output()
        .expect("run lvsd ctl")
}

pub fn wait_until(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let t = Instant::now();
    while t.elapsed() < limit {
        if f() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}
