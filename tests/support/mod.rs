//! Test support for VRRP integration tests and the takeover benchmark.
//!
//! A [`Lab`] is a private layer-2 segment: one "hub" network namespace holding a bridge
//! `br0`, and N node namespaces, each with an `eth0` veth whose peer is a port of the bridge.
//! Every address lives inside these namespaces (10.99.0.0/24), so nothing reaches the host's
//! interfaces. All namespaces (and the processes started in them) are removed on Drop, also
//! when a test panics.
//!
//! [`Daemon`] runs lvsd or Debian's keepalived inside a node namespace with
//! `ip netns exec`; [`Capture`] records ARP and VRRP frames seen on the bridge with kernel
//! timestamps (AF_PACKET, no tcpdump needed); [`SmtpSink`] runs aiosmtpd inside a namespace.
#![allow(dead_code)]

use std::fmt::Write as _;
use std::fs;
use std::io::IoSliceMut;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

/// The virtual address every scenario uses.
pub const VIP: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 100);
/// The VRID every scenario uses.
pub const VRID: u8 = 51;
/// The IPv6 VIP of [`Conf::vip6`] instances.
pub const VIP6: std::net::Ipv6Addr = std::net::Ipv6Addr::new(0xfd00, 0x99, 0, 0, 0, 0, 0, 0x100);

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// Panics with a clear message when a tool the test needs is missing.
pub fn require_tool(name: &str) -> PathBuf {
    for dir in [
        "/usr/sbin",
        "/usr/bin",
        "/sbin",
        "/bin",
        "/usr/local/sbin",
        "/usr/local/bin",
    ] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    panic!("`{name}` is not installed: run `bash scripts/install-test-deps.sh` (as root) first");
}

pub mod root;
pub use root::skip_without_root;
pub mod shared;

fn run(cmd: &[&str]) {
    let out = Command::new(cmd[0])
        .args(&cmd[1..])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    if !out.status.success() {
        panic!(
            "{cmd:?} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

fn output(cmd: &[&str]) -> String {
    let out = Command::new(cmd[0])
        .args(&cmd[1..])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// One node of a lab: a namespace with `eth0` at `ip`.
#[derive(Clone, Debug)]
pub struct Node {
    pub ns: String,
    pub ip: Ipv4Addr,
    pub name: String,
}

/// A bridge in its own namespace plus N node namespaces attached to it.
pub struct Lab {
    pub hub: String,
    pub nodes: Vec<Node>,
    pub dir: tempfile::TempDir,
    all_ns: Vec<String>,
}

impl Lab {
    /// Creates a lab with `n` nodes at 10.99.0.1 .. 10.99.0.n. `tag` names the test.
    pub fn new(tag: &str, n: usize) -> Lab {
        assert!(
            !skip_without_root("network namespaces"),
            "a test that builds a Lab asks skip_without_root first"
        );
        require_tool("ip");
        let id = format!(
            "lvt{}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst),
            tag
        );
        let hub = format!("{id}-hub");
        let mut lab = Lab {
            hub: hub.clone(),
            nodes: Vec::new(),
            dir: tempfile::Builder::new()
                .prefix(&format!("{id}-"))
                .tempdir()
                .expect("tempdir"),
            all_ns: Vec::new(),
        };
        run(&["ip", "netns", "add", &hub]);
        lab.all_ns.push(hub.clone());
        run(&["ip", "-n", &hub, "link", "set", "lo", "up"]);
        run(&[
            "ip",
            "-n",
            &hub,
            "link",
            "add",
            "br0",
            "type",
            "bridge",
            "stp_state",
            "0",
            "mcast_snooping",
            "0",
        ]);
        run(&["ip", "-n", &hub, "link", "set", "br0", "up"]);
        for i in 1..=n {
            let ns = format!("{id}-n{i}");
            run(&["ip", "netns", "add", &ns]);
            lab.all_ns.push(ns.clone());
            let port = format!("p{i}");
            run(&[
                "ip", "-n", &ns, "link", "add", "eth0", "type", "veth", "peer", "name", &port,
                "netns", &hub,
            ]);
            run(&[
                "ip", "-n", &hub, "link", "set", &port, "master", "br0", "up",
            ]);
            let ip = Ipv4Addr::new(10, 99, 0, i as u8);
            run(&[
                "ip",
                "-n",
                &ns,
                "addr",
                "add",
                &format!("{ip}/24"),
                "dev",
                "eth0",
            ]);
            run(&["ip", "-n", &ns, "link", "set", "lo", "up"]);
            run(&["ip", "-n", &ns, "link", "set", "eth0", "up"]);
            lab.nodes.push(Node {
                ns,
                ip,
                name: format!("n{i}"),
            });
        }
        lab
    }

    pub fn node(&self, i: usize) -> &Node {
        &self.nodes[i]
    }

    /// A path inside the lab's private temporary directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Starts a daemon of kind `kind` in node `i` with the given keepalived.conf text.
    pub fn spawn(&self, i: usize, kind: Kind, tag: &str, conf: &str) -> Daemon {
        Daemon::start(&self.nodes[i], kind, &self.dir.path().join(tag), conf, &[])
    }

    /// [`Lab::spawn`] with extra command-line arguments.
    pub fn spawn_with(&self, i: usize, kind: Kind, tag: &str, conf: &str, args: &[&str]) -> Daemon {
        Daemon::start(&self.nodes[i], kind, &self.dir.path().join(tag), conf, args)
    }

    /// lvsd with both sides (no `-P`) in node `i`, with extra command-line arguments.
    pub fn spawn_both_sides(&self, i: usize, tag: &str, conf: &str, args: &[&str]) -> Daemon {
        let dir = self.dir.path().join(tag);
        let mut d = Daemon::prepare(&self.nodes[i], Kind::Lvsd, &dir, conf, args);
        d.vrrp_only = false;
        d.restart();
        d
    }

    /// Captures ARP and VRRP on the bridge.
    pub fn capture(&self) -> Capture {
        Capture::start(&self.hub, "br0")
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for ns in &self.all_ns {
            // Only processes inside our own namespaces: all were started by this test.
            for pid in output(&["ip", "netns", "pids", ns]).split_whitespace() {
                if let Ok(pid) = pid.parse::<i32>() {
                    let _ = nix::sys::signal::kill(
                        nix::unistd::Pid::from_raw(pid),
                        nix::sys::signal::Signal::SIGKILL,
                    );
                }
            }
        }
        for ns in &self.all_ns {
            let _ = Command::new("ip")
                .args(["netns", "del", ns])
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// The MAC address of `dev` in namespace `ns`.
pub fn mac_of(ns: &str, dev: &str) -> Option<[u8; 6]> {
    let out = output(&["ip", "-n", ns, "-o", "link", "show", "dev", dev]);
    let hex = out.split("link/ether ").nth(1)?.split_whitespace().next()?;
    let mut mac = [0u8; 6];
    let mut parts = hex.split(':');
    for b in &mut mac {
        *b = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    Some(mac)
}

/// Waits until eth0 of `ns` has a usable (no longer tentative) IPv6 link-local address.
pub fn wait_link_local(ns: &str, timeout: Duration) -> Option<Ipv6Addr> {
    let start = Instant::now();
    loop {
        let out = output(&["ip", "-n", ns, "-o", "-6", "addr", "show", "dev", "eth0"]);
        let ll = out
            .lines()
            .filter(|l| l.contains("scope link") && !l.contains("tentative"))
            .find_map(|l| l.split("inet6 ").nth(1)?.split('/').next()?.parse().ok());
        if ll.is_some() {
            return ll;
        }
        if start.elapsed() > timeout {
            return None;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// The interface of namespace `ns` that holds `addr` (IPv4 or IPv6), if any.
pub fn addr_dev(ns: &str, addr: std::net::IpAddr) -> Option<String> {
    let out = output(&["ip", "-n", ns, "-o", "addr", "show"]);
    let needle = format!(" {addr}/");
    out.lines().find(|l| l.contains(&needle)).and_then(|l| {
        // "2: eth0    inet6 fd00::1/64 ..." or "5: vrrp.51@eth0    inet ..."
        let name = l.split_whitespace().nth(1)?;
        Some(name.split('@').next().unwrap_or(name).to_string())
    })
}

/// Polls until `addr` is (or, with `want == false`, is no longer) on some interface of
/// `ns`; returns the time it took, or None after `timeout`.
pub fn wait_addr_any(
    ns: &str,
    addr: std::net::IpAddr,
    want: bool,
    timeout: Duration,
) -> Option<Duration> {
    let start = Instant::now();
    loop {
        if addr_dev(ns, addr).is_some() == want {
            return Some(start.elapsed());
        }
        if start.elapsed() > timeout {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Does namespace `ns` hold `addr` on eth0?
pub fn has_addr(ns: &str, addr: Ipv4Addr) -> bool {
    let out = output(&["ip", "-n", ns, "-o", "-4", "addr", "show", "dev", "eth0"]);
    let needle = format!(" {addr}/");
    out.contains(&needle)
}

/// Polls until `ns` holds (or, with `want == false`, no longer holds) `addr`; returns the
/// time it took, or None after `timeout`.
pub fn wait_addr(ns: &str, addr: Ipv4Addr, want: bool, timeout: Duration) -> Option<Duration> {
    let start = Instant::now();
    loop {
        if has_addr(ns, addr) == want {
            return Some(start.elapsed());
        }
        if start.elapsed() > timeout {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Which implementation runs a node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Lvsd,
    Keepalived,
}

impl Kind {
    pub fn binary(self) -> PathBuf {
        match self {
            Kind::Lvsd => PathBuf::from(env!("CARGO_BIN_EXE_lvsd")),
            Kind::Keepalived => require_tool("keepalived"),
        }
    }
    pub fn label(self) -> &'static str {
        match self {
            Kind::Lvsd => "lvsd",
            Kind::Keepalived => "keepalived",
        }
    }
}

/// A VRRP daemon running in a node namespace. Killed (SIGKILL) on Drop.
pub struct Daemon {
    pub kind: Kind,
    pub node: Node,
    pub dir: PathBuf,
    pub conf: PathBuf,
    pub log: PathBuf,
    /// Extra command-line arguments.
    args: Vec<String>,
    /// `-P`: the VRRP side only (else both sides, with the checkers' pid file in `dir`).
    vrrp_only: bool,
    child: Option<Child>,
}

impl Daemon {
    fn start(node: &Node, kind: Kind, dir: &Path, conf: &str, args: &[&str]) -> Daemon {
        let mut d = Daemon::prepare(node, kind, dir, conf, args);
        d.restart();
        d
    }

    /// Writes the configuration; starts nothing.
    fn prepare(node: &Node, kind: Kind, dir: &Path, conf: &str, args: &[&str]) -> Daemon {
        fs::create_dir_all(dir).expect("daemon dir");
        let conf_path = dir.join("keepalived.conf");
        fs::write(&conf_path, conf).expect("write conf");
        let log = dir.join("daemon.log");
        Daemon {
            kind,
            node: node.clone(),
            dir: dir.to_path_buf(),
            conf: conf_path,
            log,
            args: args.iter().map(|a| a.to_string()).collect(),
            vrrp_only: true,
            child: None,
        }
    }

    /// (Re)starts the daemon with the same config; the previous process must be gone.
    pub fn restart(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let logf = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log file");
        let bin = self.kind.binary();
        let pid = self.dir.join("main.pid");
        let vpid = self.dir.join("vrrp.pid");
        // Like a reboot clearing /run: a killed daemon's stale pid files (whose pids may
        // still be unreaped zombies) must not block the restart.
        let _ = fs::remove_file(&pid);
        let _ = fs::remove_file(&vpid);
        // Dumps (SIGUSR1/SIGUSR2) go to the daemon's own $TMPDIR, not the shared /tmp.
        let tmp = self.tmp_dir();
        fs::create_dir_all(&tmp).expect("daemon tmp dir");
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.node.ns, "env"])
            .arg(format!("TMPDIR={}", tmp.display()))
            .arg(&bin);
        if self.vrrp_only {
            cmd.arg("-P");
        } else {
            cmd.arg("-c").arg(self.dir.join("checkers.pid"));
        }
        cmd.args(["-n", "-l"]);
        if self.kind == Kind::Keepalived {
            // No syslog; a killed VRRP child must stay dead (silent-death scenarios).
            cmd.args(["-G", "-R"]);
        }
        cmd.args(&self.args);
        cmd.arg("-f").arg(&self.conf);
        cmd.arg("-p").arg(&pid).arg("-r").arg(&vpid);
        cmd.stdin(Stdio::null())
            .stdout(logf.try_clone().expect("log fd"))
            .stderr(logf);
        let child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display()));
        self.child = Some(child);
    }

    pub fn pid(&self) -> Option<i32> {
        self.child.as_ref().map(|c| c.id() as i32)
    }

    /// The daemon's `$TMPDIR`: where keepalived.data and keepalived.stats are written.
    pub fn tmp_dir(&self) -> PathBuf {
        self.dir.join("tmp")
    }

    /// The VRRP data dump (SIGUSR1 → `$TMPDIR/keepalived.data`), read once it holds
    /// `until` (5 s at most; what was there by then otherwise).
    pub fn data_dump(&self, until: &str) -> String {
        let file = self.tmp_dir().join("keepalived.data");
        let _ = std::fs::remove_file(&file);
        let pid = self.pid().expect("daemon pid");
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGUSR1,
        )
        .expect("SIGUSR1");
        let mut text = String::new();
        for _ in 0..50 {
            std::thread::sleep(Duration::from_millis(100));
            text = std::fs::read_to_string(&file).unwrap_or_default();
            if text.contains(until) {
                break;
            }
        }
        text
    }

    /// Sends SIGTERM to the daemon (keepalived: its parent, which stops the VRRP child).
    /// Returns the wall-clock time just before the signal.
    pub fn sigterm(&self) -> SystemTime {
        let pid = self.pid().expect("daemon not running");
        let t = SystemTime::now();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGTERM,
        )
        .expect("kill -TERM");
        t
    }

    /// SIGKILLs the daemon and every descendant (keepalived's VRRP child first, so it
    /// cannot resign), and reaps it. Returns the wall-clock time just before the first kill.
    pub fn sigkill(&mut self) -> SystemTime {
        let pid = self.pid().expect("daemon not running");
        let mut tree = descendants(pid);
        tree.reverse();
        tree.push(pid);
        let t = SystemTime::now();
        for &p in &tree {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(p),
                nix::sys::signal::Signal::SIGKILL,
            );
        }
        if let Some(mut c) = self.child.take() {
            let _ = c.wait();
        }
        // Orphaned children are reaped by init: wait until they are gone (or zombies).
        let start = Instant::now();
        while tree.iter().any(|&p| alive(p)) && start.elapsed() < Duration::from_secs(3) {
            std::thread::sleep(Duration::from_millis(5));
        }
        t
    }

    /// Waits for the daemon to exit; returns its exit status, None on timeout.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        loop {
            let c = self.child.as_mut()?;
            if let Ok(Some(st)) = c.try_wait() {
                self.child = None;
                return Some(st);
            }
            if start.elapsed() > timeout {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    pub fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the log contains `needle`.
    pub fn wait_log(&self, needle: &str, timeout: Duration) -> bool {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if self.log_text().contains(needle) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    pub fn holds_vip(&self) -> bool {
        has_addr(&self.node.ns, VIP)
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.sigkill();
        }
    }
}

/// Is `pid` a live (not zombie) process?
pub fn alive(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, r)| r.split_whitespace().next())
            .is_some_and(|st| st != "Z" && st != "X"),
        Err(_) => false,
    }
}

/// All descendants of `pid`, parents before children.
fn descendants(pid: i32) -> Vec<i32> {
    let mut parent_of = Vec::new();
    if let Ok(rd) = fs::read_dir("/proc") {
        for e in rd.flatten() {
            let Ok(p) = e.file_name().to_string_lossy().parse::<i32>() else {
                continue;
            };
            let Ok(stat) = fs::read_to_string(format!("/proc/{p}/stat")) else {
                continue;
            };
            // pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'.
            if let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r) {
                if let Some(ppid) = rest.split_whitespace().nth(1) {
                    if let Ok(ppid) = ppid.parse::<i32>() {
                        parent_of.push((p, ppid));
                    }
                }
            }
        }
    }
    let mut out = Vec::new();
    let mut frontier = vec![pid];
    while let Some(p) = frontier.pop() {
        for &(c, pp) in &parent_of {
            if pp == p && !out.contains(&c) {
                out.push(c);
                frontier.push(c);
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// keepalived.conf text

/// One vrrp_instance plus the global_defs around it.
#[derive(Clone, Debug)]
pub struct Conf {
    pub router_id: String,
    pub priority: u8,
    pub version: u8,
    /// Advert interval in seconds (v3 may be fractional).
    pub advert_int: f64,
    pub nopreempt: bool,
    pub state_master: bool,
    pub auth_pass: Option<String>,
    /// `auth_type AH` instead of PASS (with `auth_pass`).
    pub auth_ah: bool,
    /// (our address, peers): unicast instead of multicast.
    pub unicast: Option<(Ipv4Addr, Vec<Ipv4Addr>)>,
    pub notify: Option<PathBuf>,
    pub notify_master: Option<String>,
    pub notify_backup: Option<String>,
    pub notify_stop: Option<String>,
    /// (server ip, port, recipients)
    pub smtp: Option<(String, u16, Vec<String>)>,
    pub smtp_connect_timeout: Option<u32>,
    /// `track_interface { eth0 }`.
    pub track_eth0: bool,
    /// The VIP is [`VIP6`] (VRRPv3 over IPv6) instead of [`VIP`].
    pub vip6: bool,
    /// `use_vmac`: the VIP on the `vrrp.VRID` macvlan instead of eth0.
    pub use_vmac: bool,
}

impl Conf {
    pub fn new(router_id: &str, priority: u8) -> Conf {
        Conf {
            router_id: router_id.to_string(),
            priority,
            version: 2,
            advert_int: 1.0,
            nopreempt: false,
            state_master: false,
            auth_pass: None,
            auth_ah: false,
            unicast: None,
            notify: None,
            notify_master: None,
            notify_backup: None,
            notify_stop: None,
            smtp: None,
            smtp_connect_timeout: None,
            track_eth0: false,
            vip6: false,
            use_vmac: false,
        }
    }

    pub fn render(&self) -> String {
        let mut s = String::new();
        s.push_str("global_defs {\n");
        let _ = writeln!(s, "  router_id {}", self.router_id);
        if let Some((ip, port, rcpts)) = &self.smtp {
            s.push_str("  notification_email {\n");
            for r in rcpts {
                let _ = writeln!(s, "    {r}");
            }
            s.push_str("  }\n");
            s.push_str("  notification_email_from lvsd-test@example.org\n");
            s.push_str("  smtp_helo_name helo.lvsd-test.example.org\n");
            let _ = writeln!(s, "  smtp_server {ip} {port}");
            if let Some(t) = self.smtp_connect_timeout {
                let _ = writeln!(s, "  smtp_connect_timeout {t}");
            }
        }
        s.push_str("}\n\nvrrp_instance VI_1 {\n");
        let _ = writeln!(
            s,
            "  state {}",
            if self.state_master {
                "MASTER"
            } else {
                "BACKUP"
            }
        );
        s.push_str("  interface eth0\n");
        if self.use_vmac {
            s.push_str("  use_vmac\n");
        }
        let _ = writeln!(s, "  virtual_router_id {VRID}");
        let _ = writeln!(s, "  priority {}", self.priority);
        let _ = writeln!(s, "  version {}", self.version);
        let _ = writeln!(s, "  advert_int {}", self.advert_int);
        if self.nopreempt {
            s.push_str("  nopreempt\n");
        }
        if let Some(p) = &self.auth_pass {
            let ty = if self.auth_ah { "AH" } else { "PASS" };
            let _ = writeln!(
                s,
                "  authentication {{\n    auth_type {ty}\n    auth_pass {p}\n  }}"
            );
        }
        if let Some((src, peers)) = &self.unicast {
            let _ = writeln!(s, "  unicast_src_ip {src}");
            s.push_str("  unicast_peer {\n");
            for p in peers {
                let _ = writeln!(s, "    {p}");
            }
            s.push_str("  }\n");
        }
        let vip = match (self.vip6, self.use_vmac) {
            (true, false) => format!("{VIP6}/64 dev eth0"),
            (true, true) => format!("{VIP6}/64"),
            (false, false) => format!("{VIP}/24 dev eth0"),
            (false, true) => format!("{VIP}/24"),
        };
        let _ = writeln!(s, "  virtual_ipaddress {{\n    {vip}\n  }}");
        if let Some(n) = &self.notify {
            let _ = writeln!(s, "  notify {}", n.display());
        }
        if let Some(n) = &self.notify_master {
            let _ = writeln!(s, "  notify_master \"{n}\"");
        }
        if let Some(n) = &self.notify_backup {
            let _ = writeln!(s, "  notify_backup \"{n}\"");
        }
        if let Some(n) = &self.notify_stop {
            let _ = writeln!(s, "  notify_stop \"{n}\"");
        }
        if self.smtp.is_some() {
            s.push_str("  smtp_alert\n");
        }
        if self.track_eth0 {
            s.push_str("  track_interface {\n    eth0\n  }\n");
        }
        s.push_str("}\n");
        s
    }
}

/// v2 skew in seconds for `prio` (also v3 with the interval in seconds).
pub fn skew(prio: u8, advert_int: f64) -> f64 {
    (256.0 - prio as f64) * advert_int / 256.0
}

/// Master_Down_Interval in seconds.
pub fn master_down(prio: u8, advert_int: f64) -> f64 {
    3.0 * advert_int + skew(prio, advert_int)
}

/// Skew as the RFC for `version` defines it: v2 in seconds (exact), v3 in whole
/// centiseconds ((256 − prio) × Master_Adver_Interval / 256, integer arithmetic).
/// keepalived computes the v3 skew without the truncation (e.g. 609.4 ms, not 600 ms).
pub fn rfc_skew(version: u8, prio: u8, advert_int: f64) -> f64 {
    if version == 3 {
        let cs = (advert_int * 100.0).round() as u64;
        ((256 - prio as u64) * cs / 256) as f64 / 100.0
    } else {
        skew(prio, advert_int)
    }
}

/// Master_Down_Interval as the RFC for `version` defines it (see [`rfc_skew`]).
pub fn rfc_master_down(version: u8, prio: u8, advert_int: f64) -> f64 {
    3.0 * advert_int + rfc_skew(version, prio, advert_int)
}

// ---------------------------------------------------------------------------------------
// capture

/// What a captured frame was.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum What {
    Vrrp {
        src: Ipv4Addr,
        dst: Ipv4Addr,
        version: u8,
        vrid: u8,
        prio: u8,
        ttl: u8,
        /// Sent with IPsec AH (protocol 51): its sequence number.
        ah_seq: Option<u32>,
    },
    /// Gratuitous ARP (sender IP == target IP).
    Garp { ip: Ipv4Addr, mac: [u8; 6] },
    /// A VRRP advert over IPv6.
    Vrrp6 {
        src: Ipv6Addr,
        dst: Ipv6Addr,
        version: u8,
        vrid: u8,
        prio: u8,
        hop_limit: u8,
    },
    /// An unsolicited neighbour advertisement (ICMPv6 136, Override set) with its target
    /// and the target link-layer address option (None when absent).
    Na {
        target: Ipv6Addr,
        dst: Ipv6Addr,
        mac: Option<[u8; 6]>,
        hop_limit: u8,
    },
}

#[derive(Clone, Debug)]
pub struct Frame {
    /// Kernel receive timestamp (CLOCK_REALTIME).
    pub at: SystemTime,
    pub src_mac: [u8; 6],
    pub what: What,
}

/// Parses an Ethernet frame into a VRRP advert or a gratuitous ARP.
pub fn parse_frame(b: &[u8]) -> Option<([u8; 6], What)> {
    if b.len() < 14 {
        return None;
    }
    let mut src_mac = [0u8; 6];
    src_mac.copy_from_slice(&b[6..12]);
    let et = u16::from_be_bytes([b[12], b[13]]);
    let p = &b[14..];
    match et {
        0x0800 => {
            if p.len() < 20 {
                return None;
            }
            let ihl = (p[0] & 0x0f) as usize * 4;
            // VRRP, or VRRP behind keepalived's 24-byte AH header (protocol 51).
            let (v, ah_seq) = match p[9] {
                112 if p.len() >= ihl + 8 => (&p[ihl..], None),
                51 if p.len() >= ihl + 32 && p[ihl] == 112 => {
                    let a = &p[ihl..];
                    (
                        &a[24..],
                        Some(u32::from_be_bytes([a[8], a[9], a[10], a[11]])),
                    )
                }
                _ => return None,
            };
            Some((
                src_mac,
                What::Vrrp {
                    src: Ipv4Addr::new(p[12], p[13], p[14], p[15]),
                    dst: Ipv4Addr::new(p[16], p[17], p[18], p[19]),
                    version: v[0] >> 4,
                    vrid: v[1],
                    prio: v[2],
                    ttl: p[8],
                    ah_seq,
                },
            ))
        }
        0x0806 => {
            if p.len() < 28 {
                return None;
            }
            let sip = Ipv4Addr::new(p[14], p[15], p[16], p[17]);
            let tip = Ipv4Addr::new(p[24], p[25], p[26], p[27]);
            if sip != tip {
                return None;
            }
            let mut mac = [0u8; 6];
            mac.copy_from_slice(&p[8..14]);
            Some((src_mac, What::Garp { ip: sip, mac }))
        }
        0x86dd => parse_ipv6(p).map(|w| (src_mac, w)),
        _ => None,
    }
}

fn ipv6_at(b: &[u8], at: usize) -> Option<Ipv6Addr> {
    let o: [u8; 16] = b.get(at..at + 16)?.try_into().ok()?;
    Some(Ipv6Addr::from(o))
}

/// An IPv6 packet (no extension headers: neither keepalived nor lvsd sends any) carrying a
/// VRRP advert or an unsolicited neighbour advertisement.
fn parse_ipv6(p: &[u8]) -> Option<What> {
    if p.len() < 40 || p[0] >> 4 != 6 {
        return None;
    }
    let (next, hop_limit) = (p[6], p[7]);
    let (src, dst) = (ipv6_at(p, 8)?, ipv6_at(p, 24)?);
    let body = &p[40..];
    match next {
        112 if body.len() >= 8 => Some(What::Vrrp6 {
            src,
            dst,
            version: body[0] >> 4,
            vrid: body[1],
            prio: body[2],
            hop_limit,
        }),
        58 if body.len() >= 24 && body[0] == 136 => {
            let target = ipv6_at(body, 8)?;
            // options after the 24-byte header: type 2 = target link-layer address
            let mut mac = None;
            let mut opts = &body[24..];
            while opts.len() >= 8 && opts[1] > 0 {
                let len = opts[1] as usize * 8;
                if opts[0] == 2 && len >= 8 {
                    let mut m = [0u8; 6];
                    m.copy_from_slice(&opts[2..8]);
                    mac = Some(m);
                }
                opts = opts.get(len..).unwrap_or(&[]);
            }
            Some(What::Na {
                target,
                dst,
                mac,
                hop_limit,
            })
        }
        _ => None,
    }
}

/// AF_PACKET capture on an interface inside a namespace, in a background thread.
pub struct Capture {
    frames: Arc<Mutex<Vec<Frame>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

fn enter_netns(ns: &str) {
    let f = fs::File::open(format!("/run/netns/{ns}")).expect("open netns");
    // SAFETY: setns on a valid namespace fd only changes this thread's network namespace.
    let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
    assert_eq!(rc, 0, "setns {ns}: {}", std::io::Error::last_os_error());
}

/// Runs `f` in a fresh thread that has entered namespace `ns`.
pub fn in_netns<T: Send + 'static>(ns: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let ns = ns.to_string();
    std::thread::spawn(move || {
        enter_netns(&ns);
        f()
    })
    .join()
    .expect("netns thread panicked")
}

fn open_packet_socket(ifname: &str) -> OwnedFd {
    let proto = (libc::ETH_P_ALL as u16).to_be();
    // SAFETY: plain socket(2) call; the fd is owned right after.
    let fd = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_RAW, proto as i32) };
    assert!(
        fd >= 0,
        "AF_PACKET socket: {}",
        std::io::Error::last_os_error()
    );
    // SAFETY: fd is a fresh valid descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let cname = std::ffi::CString::new(ifname).expect("ifname");
    // SAFETY: valid NUL-terminated string.
    let idx = unsafe { libc::if_nametoindex(cname.as_ptr()) };
    assert!(idx > 0, "no interface {ifname}");
    // SAFETY: zeroed sockaddr_ll is a valid value; filled below.
    let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = proto;
    sll.sll_ifindex = idx as i32;
    // SAFETY: sll is a properly sized sockaddr_ll.
    let rc = unsafe {
        libc::bind(
            fd.as_raw_fd(),
            &sll as *const libc::sockaddr_ll as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        )
    };
    assert_eq!(rc, 0, "bind AF_PACKET: {}", std::io::Error::last_os_error());
    nix::sys::socket::setsockopt(&fd, nix::sys::socket::sockopt::ReceiveTimestampns, &true)
        .expect("SO_TIMESTAMPNS");
    nix::sys::socket::setsockopt(
        &fd,
        nix::sys::socket::sockopt::ReceiveTimeout,
        &nix::sys::time::TimeVal::new(0, 20_000),
    )
    .expect("SO_RCVTIMEO");
    let _ = nix::sys::socket::setsockopt(&fd, nix::sys::socket::sockopt::RcvBuf, &(4 << 20));
    fd
}

impl Capture {
    pub fn start(ns: &str, ifname: &str) -> Capture {
        let frames = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (f2, s2, ns, ifname) = (
            frames.clone(),
            stop.clone(),
            ns.to_string(),
            ifname.to_string(),
        );
        let thread = std::thread::spawn(move || {
            enter_netns(&ns);
            let fd = open_packet_socket(&ifname);
            let _ = ready_tx.send(());
            let mut buf = vec![0u8; 65536];
            while !s2.load(Ordering::Relaxed) {
                let mut cmsg = nix::cmsg_space!(nix::sys::time::TimeSpec);
                let mut iov = [IoSliceMut::new(&mut buf)];
                let r = nix::sys::socket::recvmsg::<()>(
                    fd.as_raw_fd(),
                    &mut iov,
                    Some(&mut cmsg),
                    nix::sys::socket::MsgFlags::empty(),
                );
                let Ok(msg) = r else { continue };
                let mut at = SystemTime::now();
                if let Ok(cm) = msg.cmsgs() {
                    for c in cm {
                        if let nix::sys::socket::ControlMessageOwned::ScmTimestampns(ts) = c {
                            at = SystemTime::UNIX_EPOCH
                                + Duration::new(ts.tv_sec() as u64, ts.tv_nsec() as u32);
                        }
                    }
                }
                let n = msg.bytes;
                if let Some((src_mac, what)) = parse_frame(&buf[..n]) {
                    f2.lock()
                        .expect("capture lock")
                        .push(Frame { at, src_mac, what });
                }
            }
        });
        ready_rx
            .recv_timeout(Duration::from_secs(5))
            .expect("capture thread did not start");
        Capture {
            frames,
            stop,
            thread: Some(thread),
        }
    }

    pub fn frames(&self) -> Vec<Frame> {
        self.frames.lock().expect("capture lock").clone()
    }

    /// First frame at or after `since` matching `pred`, waiting up to `timeout`.
    pub fn wait_for(
        &self,
        since: SystemTime,
        timeout: Duration,
        pred: impl Fn(&Frame) -> bool,
    ) -> Option<Frame> {
        let start = Instant::now();
        loop {
            if let Some(f) = self.frames().into_iter().find(|f| f.at >= since && pred(f)) {
                return Some(f);
            }
            if start.elapsed() > timeout {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Last frame before `before` matching `pred`.
    pub fn last_before(&self, before: SystemTime, pred: impl Fn(&Frame) -> bool) -> Option<Frame> {
        self.frames()
            .into_iter()
            .filter(|f| f.at <= before && pred(f))
            .last()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Is `f` a VRRP advert from `src` with priority `prio_pred`?
pub fn is_advert_from(f: &Frame, src: Ipv4Addr, prio_pred: impl Fn(u8) -> bool) -> bool {
    matches!(f.what, What::Vrrp { src: s, vrid, prio, .. } if s == src && vrid == VRID && prio_pred(prio))
}

pub fn is_garp_for(f: &Frame, ip: Ipv4Addr) -> bool {
    matches!(f.what, What::Garp { ip: i, .. } if i == ip)
}

/// Seconds from `a` to `b` (negative when b is earlier).
pub fn secs_between(a: SystemTime, b: SystemTime) -> f64 {
    match b.duration_since(a) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

// ---------------------------------------------------------------------------------------
// notify recorder and SMTP sink

/// Writes a notify script that appends its arguments (one line, `|`-separated, prefixed
/// by `tag`) to `out`. Returns the script path.
pub fn notify_recorder(dir: &Path, name: &str, out: &Path) -> PathBuf {
    let p = dir.join(name);
    let body = format!("#!/bin/sh\nIFS='|'\necho \"$*\" >> '{}'\n", out.display());
    fs::write(&p, body).expect("write notify script");
    let mut perm = fs::metadata(&p).expect("meta").permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perm, 0o755);
    fs::set_permissions(&p, perm).expect("chmod");
    p
}

/// Lines a notify recorder wrote so far.
pub fn read_lines(p: &Path) -> Vec<String> {
    fs::read_to_string(p)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// aiosmtpd (Debian's python3-aiosmtpd) listening inside a namespace; each message is one
/// JSON line {"from", "to": [...], "data"} in `out`.
pub struct SmtpSink {
    child: Child,
    pub out: PathBuf,
}

#[derive(Debug, Clone)]
pub struct Mail {
    /// The name in the client's HELO/EHLO.
    pub helo: String,
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

impl Mail {
    pub fn subject(&self) -> Option<String> {
        self.data
            .lines()
            .find_map(|l| l.strip_prefix("Subject: ").map(|s| s.trim().to_string()))
    }
}

const SMTP_SINK_PY: &str = include_str!("smtp_sink.py");

impl SmtpSink {
    pub fn start(ns: &str, dir: &Path, host: &str, port: u16) -> SmtpSink {
        let py = "/usr/bin/python3";
        let ok = Command::new(py)
            .args(["-c", "import aiosmtpd"])
            .stderr(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(
            ok,
            "python3-aiosmtpd is not installed: run `bash scripts/install-test-deps.sh` first"
        );
        let script = dir.join("smtp_sink.py");
        fs::write(&script, SMTP_SINK_PY).expect("write smtp sink");
        let out = dir.join("mail.jsonl");
        let ready = dir.join("smtp.ready");
        let child = Command::new("ip")
            .args(["netns", "exec", ns, py])
            .arg(&script)
            .args([host, &port.to_string()])
            .arg(&out)
            .arg(&ready)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start smtp sink");
        let start = Instant::now();
        while !ready.exists() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "SMTP sink did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        SmtpSink { child, out }
    }

    pub fn mails(&self) -> Vec<Mail> {
        read_lines(&self.out)
            .iter()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .map(|v| Mail {
                helo: v["helo"].as_str().unwrap_or_default().to_string(),
                from: v["from"].as_str().unwrap_or_default().to_string(),
                to: v["to"]
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default(),
                data: v["data"].as_str().unwrap_or_default().to_string(),
            })
            .collect()
    }

    /// Waits for a mail whose subject contains `needle`.
    pub fn wait_subject(&self, needle: &str, timeout: Duration) -> Option<Mail> {
        let start = Instant::now();
        loop {
            if let Some(m) = self
                .mails()
                .into_iter()
                .find(|m| m.subject().is_some_and(|s| s.contains(needle)))
            {
                return Some(m);
            }
            if start.elapsed() > timeout {
                return None;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------------------------------
// statistics

pub fn median(v: &mut [f64]) -> f64 {
    assert!(!v.is_empty(), "median of nothing");
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}
