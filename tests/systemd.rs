//! lvsd under systemd (issue 16, part 1): the notify protocol against a socket of the
//! test's own (NOTIFY_SOCKET), the watchdog, `lvsd --reload-wait`, and the unit file.
//!
//! lvsd runs both sides in a lab namespace (root) on a VRRP instance and a virtual server.
//! The test reads every datagram lvsd sends: READY=1 once the file is applied, STATUS=
//! lines, RELOADING=1 + MONOTONIC_USEC then READY=1 on a reload (applied or refused, the
//! waiting `--reload-wait` exiting 0 or 4), WATCHDOG=1 only while both sides' loops turn
//! (a test hook, LVSD_TEST_STALL_FILE, blocks one side's loop thread as a hung handler
//! would), and STOPPING=1 on SIGTERM.

mod support;

use std::fs;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::*;

const SEC: Duration = Duration::from_secs(1);

/// A virtual server whose real server nothing answers (its check fails: 1 down).
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

/// The test's notify socket: every datagram lvsd sent, in order, with its arrival time.
struct Notify {
    sock: UnixDatagram,
    path: PathBuf,
    got: Vec<(Instant, String)>,
}

impl Notify {
    fn bind(dir: &Path) -> Notify {
        let path = dir.join("notify.sock");
        let sock = UnixDatagram::bind(&path).expect("bind the notify socket");
        sock.set_read_timeout(Some(Duration::from_millis(50)))
            .expect("read timeout");
        Notify {
            sock,
            path,
            got: Vec::new(),
        }
    }

    /// Reads what has arrived until `until`.
    fn pump_until(&mut self, until: Instant) {
        let mut buf = [0u8; 4096];
        while Instant::now() < until {
            match self.sock.recv(&mut buf) {
                Ok(n) => self.got.push((
                    Instant::now(),
                    String::from_utf8_lossy(&buf[..n]).into_owned(),
                )),
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut => {}
                Err(e) => panic!("notify socket: {e}"),
            }
        }
    }

    /// Waits for a datagram, after the first `from` ones, that `pred` accepts; returns its
    /// index.
    fn wait(
        &mut self,
        from: usize,
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> Option<usize> {
        let end = Instant::now() + timeout;
        loop {
            if let Some(i) = (from..self.got.len()).find(|&i| pred(&self.got[i].1)) {
                return Some(i);
            }
            if Instant::now() >= end {
                return None;
            }
            self.pump_until((Instant::now() + Duration::from_millis(50)).min(end));
        }
    }

    /// Datagrams with the line `line` received after `since`.
    fn count_since(&self, since: Instant, line: &str) -> usize {
        self.got
            .iter()
            .filter(|(t, m)| *t >= since && has_line(m, line))
            .count()
    }

    fn text(&self) -> String {
        self.got
            .iter()
            .map(|(_, m)| m.replace('\n', " | "))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

fn has_line(msg: &str, line: &str) -> bool {
    msg.lines().any(|l| l == line)
}

fn status_of(msg: &str) -> Option<&str> {
    msg.lines().find_map(|l| l.strip_prefix("STATUS="))
}

/// lvsd (both sides, foreground) in `node`'s namespace with NOTIFY_SOCKET and the given
/// watchdog interval; files in `dir`.
fn start(node: &Node, dir: &Path, notify: &Path, watchdog: Option<Duration>) -> Child {
    let log = fs::File::create(dir.join("daemon.log")).expect("log file");
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", &node.ns])
        .arg(env!("CARGO_BIN_EXE_lvsd"))
        .args(["-n", "-l", "-D", "-f"])
        .arg(dir.join("keepalived.conf"))
        .arg("-p")
        .arg(dir.join("main.pid"))
        .arg("-r")
        .arg(dir.join("vrrp.pid"))
        .arg("-c")
        .arg(dir.join("checkers.pid"))
        .env("NOTIFY_SOCKET", notify)
        .env("LVSD_TEST_STALL_FILE", dir.join("stall"))
        .env_remove("WATCHDOG_PID")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log fd"))
        .stderr(log);
    match watchdog {
        Some(w) => cmd.env("WATCHDOG_USEC", w.as_micros().to_string()),
        None => cmd.env_remove("WATCHDOG_USEC"),
    };
    cmd.spawn().expect("start lvsd")
}

/// `lvsd --reload-wait` for the daemon whose pid file is in `dir`: (exit code, stderr).
fn reload_wait(dir: &Path) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_lvsd"))
        .arg("--reload-wait")
        .arg("-p")
        .arg(dir.join("main.pid"))
        .output()
        .expect("run lvsd --reload-wait");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn config(priority: u8) -> String {
    format!("{}{VIRTUAL_SERVER}", Conf::new("A", priority).render())
}

fn log_of(dir: &Path) -> String {
    fs::read_to_string(dir.join("daemon.log")).unwrap_or_default()
}

/// Start, a reload that is applied, a reload that is refused, stop: the datagrams in
/// order, and `--reload-wait`'s exit codes.
#[test]
fn notify_start_reloads_and_stop() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    let lab = Lab::new("sdnotify", 1);
    let dir = lab.path("a");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("keepalived.conf"), config(100)).unwrap();
    let mut n = Notify::bind(lab.dir.path());
    let mut child = start(lab.node(0), &dir, &n.path, None);
    let diag = |n: &Notify| format!("datagrams:\n{}\nlog:\n{}", n.text(), log_of(&dir));

    // READY=1 once both sides have applied the file, with a status line naming the
    // instance, and nothing said to be ready before.
    let ready = n.wait(0, 15 * SEC, |m| has_line(m, "READY=1"));
    let ready = ready.unwrap_or_else(|| panic!("no READY=1\n{}", diag(&n)));
    let status = status_of(&n.got[ready].1).unwrap_or_default().to_string();
    assert!(
        status.contains("VI_1"),
        "READY's STATUS: {status}\n{}",
        diag(&n)
    );
    assert!(
        status.contains("services") || status.contains("waiting for IPVS"),
        "READY's STATUS says nothing of the LVS side: {status}"
    );
    // Alone on its segment it becomes MASTER: a new STATUS line says so.
    let master = n.wait(ready, 10 * SEC, |m| {
        status_of(m).is_some_and(|s| s.contains("VI_1 MASTER"))
    });
    assert!(master.is_some(), "no STATUS with VI_1 MASTER\n{}", diag(&n));
    if status.contains("services") {
        // IPVS here: the real server's check fails, the status counts it down.
        let down = n.wait(ready, 10 * SEC, |m| {
            status_of(m).is_some_and(|s| s.contains("1 services, 1 real servers, 1 down"))
        });
        assert!(
            down.is_some(),
            "no STATUS with the real server down\n{}",
            diag(&n)
        );
    }

    // A reload that is applied: RELOADING=1 with MONOTONIC_USEC, then READY=1 saying so,
    // and --reload-wait exits 0 only after that.
    fs::write(dir.join("keepalived.conf"), config(101)).unwrap();
    let before = n.got.len();
    let (code, err) = reload_wait(&dir);
    assert_eq!(code, 0, "reload-wait on a good file: {err}\n{}", diag(&n));
    let reloading = n
        .wait(before, 5 * SEC, |m| has_line(m, "RELOADING=1"))
        .unwrap_or_else(|| panic!("no RELOADING=1\n{}", diag(&n)));
    assert!(
        n.got[reloading].1.lines().any(|l| l
            .strip_prefix("MONOTONIC_USEC=")
            .is_some_and(|v| v.parse::<u64>().is_ok())),
        "RELOADING=1 without MONOTONIC_USEC: {:?}",
        n.got[reloading].1
    );
    let applied = n
        .wait(reloading, 5 * SEC, |m| has_line(m, "READY=1"))
        .unwrap_or_else(|| panic!("no READY=1 after the reload\n{}", diag(&n)));
    let status = status_of(&n.got[applied].1).unwrap_or_default().to_string();
    assert!(status.starts_with("Reload applied"), "{status}");

    // A reload of unchanged files (the parse skipped, the running configuration handed
    // again): READY=1 still waits for both sides to take it — with the VRRP side's loop
    // stalled, none comes until it turns again — and --reload-wait exits 0.
    fs::write(dir.join("stall"), "VRRP").unwrap();
    let t0 = Instant::now();
    while !log_of(&dir).contains("Test hook: the VRRP side's loop stalls") {
        assert!(
            t0.elapsed() < 5 * SEC,
            "the VRRP side never stalled\n{}",
            diag(&n)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let before = n.got.len();
    let waiter = {
        let dir = dir.clone();
        std::thread::spawn(move || reload_wait(&dir))
    };
    let reloading = n
        .wait(before, 5 * SEC, |m| has_line(m, "RELOADING=1"))
        .unwrap_or_else(|| panic!("no RELOADING=1 for the no-op reload\n{}", diag(&n)));
    let early = n.wait(reloading, 2 * SEC, |m| has_line(m, "READY=1"));
    fs::remove_file(dir.join("stall")).unwrap();
    assert!(
        early.is_none(),
        "READY=1 while the VRRP side had not taken the no-op reload\n{}",
        diag(&n)
    );
    let applied = n
        .wait(reloading, 5 * SEC, |m| has_line(m, "READY=1"))
        .unwrap_or_else(|| panic!("no READY=1 after the no-op reload\n{}", diag(&n)));
    let status = status_of(&n.got[applied].1).unwrap_or_default().to_string();
    assert!(status.starts_with("Reload applied"), "{status}");
    let (code, err) = waiter.join().expect("reload-wait thread");
    assert_eq!(
        code,
        0,
        "reload-wait on unchanged files: {err}\n{}",
        diag(&n)
    );
    assert!(
        log_of(&dir).contains("the configuration files are unchanged"),
        "the no-op reload read the files\n{}",
        diag(&n)
    );

    // A reload that is refused: READY=1 with the reason, --reload-wait exits 4 with it.
    let broken = config(102).replace("10.99.0.100/24", "10.99.0.300/24");
    assert_ne!(broken, config(102));
    fs::write(dir.join("keepalived.conf"), broken).unwrap();
    let before = n.got.len();
    let (code, err) = reload_wait(&dir);
    assert_eq!(code, 4, "reload-wait on a broken file: {err}\n{}", diag(&n));
    assert!(err.contains("refused"), "{err}");
    let reloading = n
        .wait(before, 5 * SEC, |m| has_line(m, "RELOADING=1"))
        .unwrap_or_else(|| panic!("no RELOADING=1 for the refused reload\n{}", diag(&n)));
    let refused = n
        .wait(reloading, 5 * SEC, |m| has_line(m, "READY=1"))
        .unwrap_or_else(|| panic!("no READY=1 after the refused reload\n{}", diag(&n)));
    let status = status_of(&n.got[refused].1).unwrap_or_default().to_string();
    assert!(status.starts_with("Reload refused"), "{status}");
    assert!(
        status.contains("bad IP address"),
        "the reason's first line: {status}"
    );
    assert!(
        err.contains("bad IP address"),
        "reload-wait gives the reason: {err}"
    );
    // The refusal stays in the status line; the running configuration is kept.
    assert!(
        child.try_wait().unwrap().is_none(),
        "lvsd stopped\n{}",
        diag(&n)
    );

    // SIGTERM: STOPPING=1, then a clean exit.
    let before = n.got.len();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();
    let stopping = n.wait(before, 5 * SEC, |m| has_line(m, "STOPPING=1"));
    assert!(stopping.is_some(), "no STOPPING=1\n{}", diag(&n));
    let start = Instant::now();
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        assert!(
            start.elapsed() < 25 * SEC,
            "lvsd did not stop\n{}",
            diag(&n)
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "exit {status:?}\n{}", diag(&n));
    // No READY=1 after STOPPING=1.
    assert!(
        n.got[before..].iter().all(|(_, m)| !has_line(m, "READY=1")),
        "{}",
        diag(&n)
    );
}

/// WATCHDOG=1 every half WATCHDOG_USEC while both sides' loops and the main loop turn;
/// none while one of them is stuck (the VRRP loop, the LVS side's, the main loop), again
/// once it turns. Each stall is logged by the watchdog's own thread.
#[test]
fn watchdog_pings_stop_while_a_side_is_stuck() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    let lab = Lab::new("sdwatch", 1);
    let dir = lab.path("a");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("keepalived.conf"), config(100)).unwrap();
    let mut n = Notify::bind(lab.dir.path());
    let watchdog = 2 * SEC;
    let mut child = start(lab.node(0), &dir, &n.path, Some(watchdog));
    let diag = |n: &Notify| format!("datagrams:\n{}\nlog:\n{}", n.text(), log_of(&dir));
    assert!(
        n.wait(0, 15 * SEC, |m| has_line(m, "READY=1")).is_some(),
        "no READY=1\n{}",
        diag(&n)
    );

    for (side, says) in [
        ("VRRP", "The VRRP side's loop"),
        ("LVS", "The LVS side's loop"),
        ("main", "The daemon's main loop"),
    ] {
        // Both answer: a ping every second (half the interval).
        let t = Instant::now();
        n.pump_until(t + 3 * SEC);
        let pings = n.count_since(t, "WATCHDOG=1");
        assert!(
            (2..=5).contains(&pings),
            "{pings} pings in 3 s with WATCHDOG_USEC=2 s\n{}",
            diag(&n)
        );

        // The side's loop stalls: pings stop within the answer limit (1 s) plus a ping
        // period, and none comes while it stays stuck.
        fs::write(dir.join("stall"), side).unwrap();
        let stalled = Instant::now();
        n.pump_until(stalled + 2500 * Duration::from_millis(1));
        let quiet = Instant::now();
        n.pump_until(quiet + 4 * SEC);
        let during = n.count_since(quiet, "WATCHDOG=1");
        assert_eq!(
            during,
            0,
            "pings while the {side} loop is stuck\n{}",
            diag(&n)
        );
        assert!(
            log_of(&dir).contains(&format!("{says} has not turned")),
            "{}",
            diag(&n)
        );
        if side == "VRRP" {
            // The main loop sends STATUS=: it still runs and says which side is stuck. (The
            // LVS side's hook blocks a thread of the main loop's runtime, which may then stall
            // the main loop too: the watchdog's thread still notices both, as logged.)
            assert!(
                n.got.iter().any(|(t, m)| *t >= stalled
                    && status_of(m)
                        .is_some_and(|s| s.contains(&format!("{side} side not answering")))),
                "no STATUS naming the stuck {side} side\n{}",
                diag(&n)
            );
        }

        // It turns again: pings resume.
        fs::remove_file(dir.join("stall")).unwrap();
        let resumed = Instant::now();
        let again = n.wait(n.got.len(), 3 * SEC, |m| has_line(m, "WATCHDOG=1"));
        assert!(
            again.is_some(),
            "no ping after the {side} loop turned again ({:.1?})\n{}",
            resumed.elapsed(),
            diag(&n)
        );
        assert!(log_of(&dir).contains(&format!("{says} turns again")));
    }
    assert!(
        child.try_wait().unwrap().is_none(),
        "lvsd stopped\n{}",
        diag(&n)
    );
    let _ = child.kill();
    let _ = child.wait();
}

/// The packaged unit passes `systemd-analyze verify` (with this build's binary in place
/// of /usr/sbin/lvsd, which may not be installed here).
#[test]
fn unit_file_verifies() {
    let Some(analyze) = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"]
        .iter()
        .map(Path::new)
        .find(|p| p.exists())
    else {
        eprintln!(
            "SKIPPED unit_file_verifies: systemd-analyze is not installed (scripts/install-test-deps.sh installs systemd)"
        );
        return;
    };
    let unit = fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/dist/lvsd.service"))
        .expect("dist/lvsd.service");
    assert!(unit.contains("Type=notify"), "{unit}");
    assert!(unit.contains("WatchdogSec="), "{unit}");
    assert!(unit.contains("--reload-wait"), "{unit}");
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lvsd.service");
    fs::write(
        &path,
        unit.replace("/usr/sbin/lvsd", env!("CARGO_BIN_EXE_lvsd")),
    )
    .unwrap();
    let out = Command::new(analyze)
        .args(["verify", "--man=no"])
        .arg(&path)
        .output()
        .expect("run systemd-analyze");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // Only lines about our unit count (the host's other units may have their own).
    let ours: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("lvsd.service"))
        .collect();
    assert!(
        out.status.success() && ours.is_empty(),
        "systemd-analyze verify:\n{text}"
    );
}

/// The real-server unit passes `systemd-analyze verify` too, and undoes a crash's
/// leftovers after any stop.
#[test]
fn real_server_unit_file_verifies() {
    let Some(analyze) = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"]
        .iter()
        .map(Path::new)
        .find(|p| p.exists())
    else {
        eprintln!(
            "SKIPPED real_server_unit_file_verifies: systemd-analyze is not installed (scripts/install-test-deps.sh installs systemd)"
        );
        return;
    };
    let unit = fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/dist/lvsd-real-server.service"
    ))
    .expect("dist/lvsd-real-server.service");
    assert!(unit.contains(" real-server $REAL_SERVER_ARGS"), "{unit}");
    assert!(
        unit.contains("ExecStopPost=/usr/sbin/lvsd real-server --cleanup"),
        "{unit}"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lvsd-real-server.service");
    fs::write(
        &path,
        unit.replace("/usr/sbin/lvsd", env!("CARGO_BIN_EXE_lvsd")),
    )
    .unwrap();
    let out = Command::new(analyze)
        .args(["verify", "--man=no"])
        .arg(&path)
        .output()
        .expect("run systemd-analyze");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let ours: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("lvsd-real-server.service"))
        .collect();
    assert!(
        out.status.success() && ours.is_empty(),
        "systemd-analyze verify:\n{text}"
    );
}
