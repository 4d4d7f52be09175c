//! The daemon process around the VRRP side, in a network namespace this test creates:
//! pid files (written, refused while held, removed on exit), SIGUSR1/SIGUSR2 dumps,
//! SIGHUP with a broken file (refused, state kept) and with a priority change (applied
//! without a state change), SIGTERM (VIP removed, notify STOP run, exit 0).
//! Run: `cargo test --test vrrp_daemon` as root.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

#[path = "support/root.rs"]
mod root;

fn ip(args: &[&str]) -> String {
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
    String::from_utf8_lossy(&out.stdout).into_owned()
}

struct Ns(String);

impl Ns {
    fn new(tag: &str) -> Ns {
        assert!(
            !root::skip_without_root("network namespaces"),
            "a test that builds an Ns asks skip_without_root first"
        );
        let name = format!("lvsd{tag}-{}", std::process::id());
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        ip(&["netns", "add", &name]);
        ip(&["-n", &name, "link", "set", "lo", "up"]);
        ip(&[
            "-n", &name, "link", "add", "veth0", "type", "veth", "peer", "name", "veth1",
        ]);
        ip(&["-n", &name, "addr", "add", "10.203.0.1/24", "dev", "veth0"]);
        ip(&["-n", &name, "link", "set", "veth0", "up"]);
        ip(&["-n", &name, "link", "set", "veth1", "up"]);
        Ns(name)
    }
    fn addrs(&self) -> String {
        ip(&["-n", &self.0, "-4", "addr", "show", "dev", "veth0"])
    }
}

impl Drop for Ns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).output();
    }
}

fn conf(dir: &Path, priority: u8) -> String {
    format!(
        "global_defs {{ router_id T1 }}\n\
         vrrp_instance VI_1 {{\n  state MASTER\n  interface veth0\n  virtual_router_id 61\n  \
         priority {priority}\n  advert_int 1\n  \
         notify \"/bin/sh -c 'echo $1 $2 $3 $4 >> {n}' x\"\n  \
         virtual_ipaddress {{ 10.203.0.100/24 }}\n}}\n",
        n = dir.join("notify.log").display()
    )
}

struct Daemon {
    child: Child,
    log: PathBuf,
}

fn start(ns: &Ns, dir: &Path, tag: &str) -> Daemon {
    let pids = [dir.join("main.pid"), dir.join("vrrp.pid")];
    launch(
        Some(ns),
        &dir.join("lvsd.conf"),
        &pids,
        &dir.join(format!("{tag}.log")),
    )
}

/// `lvsd -P -n -l -G` on `conf` with pid files `pids` (main, VRRP), in `ns` or where the
/// test runs, its output in `log`.
fn launch(ns: Option<&Ns>, conf: &Path, pids: &[PathBuf; 2], log: &Path) -> Daemon {
    let f = std::fs::File::create(log).unwrap();
    let mut cmd = match ns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", &ns.0, env!("CARGO_BIN_EXE_lvsd")]);
            c
        }
        None => Command::new(env!("CARGO_BIN_EXE_lvsd")),
    };
    let child = cmd
        .args(["-P", "-n", "-l", "-G", "-f"])
        .arg(conf)
        .arg("-p")
        .arg(&pids[0])
        .arg("-r")
        .arg(&pids[1])
        .stdin(Stdio::null())
        .stdout(f.try_clone().unwrap())
        .stderr(f)
        .spawn()
        .expect("start lvsd");
    Daemon {
        child,
        log: log.to_path_buf(),
    }
}

impl Daemon {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
    fn wait_log(&self, needle: &str, count: usize, limit: Duration) -> bool {
        let t = Instant::now();
        while t.elapsed() < limit {
            if self.log().matches(needle).count() >= count {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
    fn signal(&self, sig: nix::sys::signal::Signal) {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(self.child.id() as i32), sig).unwrap();
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
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

#[test]
fn daemon_lifecycle_pidfiles_signals_reload() {
    use nix::sys::signal::Signal;
    if root::skip_without_root("network namespaces") {
        return;
    }
    let ns = Ns::new("d");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(d.join("lvsd.conf"), conf(d, 255)).unwrap();
    let mut lvsd = start(&ns, d, "first");
    assert!(
        lvsd.wait_log(
            "VRRP_Instance(VI_1) Entering MASTER STATE",
            1,
            Duration::from_secs(10)
        ),
        "never became master:\n{}",
        lvsd.log()
    );
    assert!(wait_until(Duration::from_secs(5), || ns
        .addrs()
        .contains("10.203.0.100/24")));
    let pid = lvsd.child.id();
    for f in ["main.pid", "vrrp.pid"] {
        assert_eq!(
            std::fs::read_to_string(d.join(f)).unwrap().trim(),
            pid.to_string(),
            "{f}"
        );
    }

    // A second daemon with the same pid files is refused.
    let mut second = start(&ns, d, "second");
    let status = second.child.wait().unwrap();
    assert!(!status.success());
    assert!(second.log().contains("is running"), "{}", second.log());
    assert_eq!(
        std::fs::read_to_string(d.join("main.pid")).unwrap().trim(),
        pid.to_string()
    );

    // SIGUSR1 / SIGUSR2 dumps.
    let _ = std::fs::remove_file("/tmp/keepalived.data");
    let _ = std::fs::remove_file("/tmp/keepalived.stats");
    lvsd.signal(Signal::SIGUSR1);
    lvsd.signal(Signal::SIGUSR2);
    assert!(wait_until(Duration::from_secs(5), || {
        std::fs::read_to_string("/tmp/keepalived.data").is_ok_and(|s| s.contains("State = MASTER"))
    }));
    assert!(wait_until(Duration::from_secs(5), || {
        std::fs::read_to_string("/tmp/keepalived.stats").is_ok_and(|s| s.contains("Sent:"))
    }));
    // Not readable by others (keepalived: 0666 & ~umask 0177).
    for f in ["/tmp/keepalived.data", "/tmp/keepalived.stats"] {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode & 0o077, 0, "{f} has mode {mode:o}");
    }

    // A broken file is refused and the instance stays master.
    std::fs::write(d.join("lvsd.conf"), conf(d, 255) + "nonsense {\n").unwrap();
    lvsd.signal(Signal::SIGHUP);
    assert!(
        lvsd.wait_log("Reload refused", 1, Duration::from_secs(5)),
        "{}",
        lvsd.log()
    );
    // A priority change is applied without leaving MASTER.
    std::fs::write(d.join("lvsd.conf"), conf(d, 200)).unwrap();
    lvsd.signal(Signal::SIGHUP);
    assert!(
        lvsd.wait_log("priority 255 -> 200", 1, Duration::from_secs(5)),
        "{}",
        lvsd.log()
    );
    // A VIP added: instances rebuilt, the master stays master, the new VIP appears.
    std::fs::write(
        d.join("lvsd.conf"),
        conf(d, 200).replace("10.203.0.100/24 }", "10.203.0.100/24\n 10.203.0.101/24 }"),
    )
    .unwrap();
    lvsd.signal(Signal::SIGHUP);
    assert!(
        lvsd.wait_log(
            "VRRP_Instance(VI_1) Reload: now MASTER",
            1,
            Duration::from_secs(5)
        ),
        "{}",
        lvsd.log()
    );
    assert!(wait_until(Duration::from_secs(5), || ns
        .addrs()
        .contains("10.203.0.101/24")));
    assert_eq!(
        lvsd.log().matches("Entering MASTER STATE").count(),
        1,
        "reload must not re-enter MASTER:\n{}",
        lvsd.log()
    );

    // SIGTERM: VIPs removed, notify STOP, pid files gone, exit 0.
    lvsd.signal(Signal::SIGTERM);
    let t = Instant::now();
    let status = loop {
        if let Some(s) = lvsd.child.try_wait().unwrap() {
            break s;
        }
        assert!(
            t.elapsed() < Duration::from_secs(10),
            "lvsd did not exit after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}\n{}", lvsd.log());
    let addrs = ns.addrs();
    assert!(
        !addrs.contains("10.203.0.100") && !addrs.contains("10.203.0.101"),
        "{addrs}"
    );
    assert!(!d.join("main.pid").exists() && !d.join("vrrp.pid").exists());
    let notes = std::fs::read_to_string(d.join("notify.log")).unwrap();
    assert_eq!(
        notes, "INSTANCE VI_1 MASTER 255\nINSTANCE VI_1 STOP 200\n",
        "notify calls in order, none repeated by the reloads"
    );
}

/// `net_namespace NAME`: lvsd, started in the root namespace, runs its VRRP instance in
/// the named one (the VIP appears there); a name that does not exist yet is made, as
/// `ip netns add` would.
#[test]
fn net_namespace_runs_the_daemon_in_it() {
    if root::skip_without_root("network namespaces") {
        return;
    }
    let ns = Ns::new("n");
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    std::fs::write(
        d.join("lvsd.conf"),
        format!("net_namespace {}\n{}", ns.0, conf(d, 255)),
    )
    .unwrap();
    // (started where the test runs: lvsd enters the namespace itself)
    let spawn = |conf: &Path, tag: &str| {
        let pids = [
            d.join(format!("{tag}.pid")),
            d.join(format!("{tag}.vrrp.pid")),
        ];
        launch(None, conf, &pids, &d.join(format!("{tag}.log")))
    };
    let lvsd = spawn(&d.join("lvsd.conf"), "ns");
    assert!(
        wait_until(Duration::from_secs(10), || ns
            .addrs()
            .contains("10.203.0.100/24")),
        "the VIP never appeared in {}:\n{}",
        ns.0,
        lvsd.log()
    );
    assert!(lvsd.log().contains(&format!("network namespace {}", ns.0)));
    drop(lvsd);

    let fresh = format!("lvsdn-{}", std::process::id());
    let _ = Command::new("ip").args(["netns", "del", &fresh]).output();
    std::fs::write(d.join("fresh.conf"), format!("net_namespace {fresh}\n")).unwrap();
    let lvsd = spawn(&d.join("fresh.conf"), "fresh");
    let made = wait_until(Duration::from_secs(10), || {
        ip(&["netns", "list"])
            .lines()
            .any(|l| l.starts_with(&fresh))
    });
    drop(lvsd);
    let _ = Command::new("ip").args(["netns", "del", &fresh]).output();
    assert!(made, "namespace {fresh} was not made");
}

/// `umask` in global_defs sets the mode of the files lvsd creates (its pid files here),
/// as keepalived's does.
#[test]
fn umask_sets_the_mode_of_created_files() {
    if root::skip_without_root("network namespaces") {
        return;
    }
    use std::os::unix::fs::PermissionsExt;
    let ns = Ns::new("um");
    let dir = tempfile::tempdir().unwrap();
    let text = conf(dir.path(), 150).replacen(
        "global_defs { router_id T1 }",
        "global_defs {\n  router_id T1\n  umask IWGRP|IWOTH|IRGRP|IROTH\n}",
        1,
    );
    std::fs::write(dir.path().join("lvsd.conf"), text).unwrap();
    let d = start(&ns, dir.path(), "um");
    let pid = dir.path().join("main.pid");
    assert!(
        wait_until(Duration::from_secs(10), || pid.exists()),
        "no pid file\n{}",
        d.log()
    );
    let mode = std::fs::metadata(&pid).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode & 0o066, 0, "pid file mode {mode:o} under umask 066");
    assert_ne!(mode & 0o600, 0, "pid file mode {mode:o}");
}

/// `startup_script` runs before the VRRP side starts (the VIP is not there yet when it
/// runs), `shutdown_script` after the daemon stopped (the VIP is gone by then).
#[test]
fn startup_and_shutdown_scripts_run_around_the_daemon() {
    if root::skip_without_root("network namespaces") {
        return;
    }
    let ns = Ns::new("ls");
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("life.log");
    let script = dir.path().join("life.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$1 $(ip -4 addr show dev veth0 | grep -c 10.203.0.100)\" >> {}\n",
            log.display()
        ),
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let s = script.display();
    let text = conf(dir.path(), 150).replacen(
        "global_defs { router_id T1 }",
        &format!(
            "global_defs {{\n  router_id T1\n  startup_script \"{s} start\"\n  \
             shutdown_script \"{s} stop\"\n  shutdown_script_timeout 5\n}}"
        ),
        1,
    );
    std::fs::write(dir.path().join("lvsd.conf"), text).unwrap();
    let mut d = start(&ns, dir.path(), "ls");
    assert!(
        wait_until(Duration::from_secs(10), || ns
            .addrs()
            .contains("10.203.0.100")),
        "never master\n{}",
        d.log()
    );
    d.signal(nix::sys::signal::Signal::SIGTERM);
    let _ = d.child.wait();
    let got = std::fs::read_to_string(&log).unwrap_or_default();
    assert_eq!(got, "start 0\nstop 0\n", "log:\n{}", d.log());
}
