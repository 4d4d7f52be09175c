//! track_file and vrrp_track_process against Debian's keepalived (issue 13 §2).
//!
//! lvsd and keepalived run the same configuration, each alone on its own bridge (so each is
//! master of its segment and its adverts show its effective priority). Both track the same
//! file: writing it must move both to the same priority, and to FAULT and back. Tracked
//! processes are then checked on lvsd alone (keepalived cannot track processes inside a
//! network namespace, see below).

mod support;

use std::fmt::Write as _;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, SystemTime};
use support::*;

const SEC: Duration = Duration::from_secs(1);

/// A `sleep` under a unique name (its `comm`), killed on drop.
struct Proc(Child);

impl Proc {
    fn start(bin: &Path) -> Proc {
        Proc(
            Command::new(bin)
                .arg("1000")
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", bin.display())),
        )
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn conf(file: &Path, weighted: &str, faulting: &str) -> String {
    let mut s = String::new();
    s.push_str("global_defs {\n  router_id T\n}\n");
    let _ = writeln!(
        s,
        "track_file tf {{\n  file {}\n  weight -10\n  init_file 0\n}}",
        file.display()
    );
    let _ = writeln!(
        s,
        "vrrp_track_process tp {{\n  process {weighted}\n  weight 20\n}}"
    );
    let _ = writeln!(
        s,
        "vrrp_track_process tq {{\n  process {faulting}\n  weight 0 reverse\n}}"
    );
    let _ = writeln!(
        s,
        "vrrp_instance VI_1 {{\n  state BACKUP\n  interface eth0\n  virtual_router_id {VRID}\n  \
         priority 100\n  advert_int 1\n  virtual_ipaddress {{\n    {VIP}/24 dev eth0\n  }}\n  \
         track_file {{\n    tf\n  }}\n  track_process {{\n    tp\n    tq\n  }}\n}}"
    );
    s
}

struct Side {
    lab: Lab,
    cap: Capture,
    d: Daemon,
}

impl Side {
    fn ns(&self) -> &str {
        &self.lab.node(0).ns
    }
    /// An advert with priority `prio` after `since`.
    fn advert(&self, since: SystemTime, prio: u8, timeout: Duration) -> bool {
        let ip = self.lab.node(0).ip;
        self.cap
            .wait_for(since, timeout, |f| is_advert_from(f, ip, |p| p == prio))
            .is_some()
    }
}

#[test]
fn track_file_and_process_as_keepalived() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    let l_lab = Lab::new("trl", 1);
    let k_lab = Lab::new("trk", 1);
    let tag = std::process::id() % 100_000;
    let weighted = format!("lvtw{tag}");
    let faulting = format!("lvtf{tag}");
    let wbin = l_lab.path(&weighted);
    let fbin = l_lab.path(&faulting);
    std::fs::copy(require_tool("sleep"), &wbin).expect("copy sleep");
    std::fs::copy(require_tool("sleep"), &fbin).expect("copy sleep");
    let file = l_lab.path("tf.value");
    let text = conf(&file, &weighted, &faulting);

    let mut sides = Vec::new();
    for (lab, kind) in [(l_lab, Kind::Lvsd), (k_lab, Kind::Keepalived)] {
        let cap = lab.capture();
        let d = lab.spawn(0, kind, "d", &text);
        sides.push(Side { lab, cap, d });
    }
    let logs = |sides: &[Side]| -> String {
        sides
            .iter()
            .map(|s| format!("--- {}:\n{}", s.d.kind.label(), s.d.log_text()))
            .collect()
    };
    let expect_prio = |sides: &[Side], since: SystemTime, prio: u8, step: &str| {
        for s in sides {
            assert!(
                s.advert(since, prio, 6 * SEC),
                "{step}: {} sent no advert with priority {prio}\n{}",
                s.d.kind.label(),
                logs(sides)
            );
        }
    };

    // Start: init_file wrote 0, no tracked process runs: priority 100, master.
    for s in &sides {
        assert!(
            wait_addr(s.ns(), VIP, true, 8 * SEC).is_some(),
            "{} never became master\n{}",
            s.d.kind.label(),
            logs(&sides)
        );
    }
    assert_eq!(
        std::fs::read_to_string(&file).ok().as_deref(),
        Some("0\n"),
        "init_file"
    );
    expect_prio(&sides, SystemTime::now(), 100, "start");

    // The file reads 3, weight -10: priority 70.
    let t = SystemTime::now();
    std::fs::write(&file, "3\n").expect("write");
    expect_prio(&sides, t, 70, "file 3");
    // 30 × −10 = −300 ≤ −254: FAULT, the VIP goes.
    std::fs::write(&file, "30\n").expect("write");
    for s in &sides {
        assert!(
            wait_addr(s.ns(), VIP, false, 6 * SEC).is_some(),
            "file 30: {} kept the VIP (no FAULT)\n{}",
            s.d.kind.label(),
            logs(&sides)
        );
    }
    // Back to 0: master again at 100.
    let t = SystemTime::now();
    std::fs::write(&file, "0\n").expect("write");
    expect_prio(&sides, t, 100, "file back to 0");
    let t = SystemTime::now();
    std::fs::write(&file, "1\n").expect("write");
    expect_prio(&sides, t, 90, "file 1");
    // A deleted file reads 0.
    let t = SystemTime::now();
    std::fs::remove_file(&file).expect("remove");
    expect_prio(&sides, t, 100, "file deleted");

    // Processes. Debian's keepalived follows processes through the kernel's process
    // connector, which exists only in the initial network namespace: here it logs "Failed
    // to set/clear process event listen - errno 111" and never counts a process (not even
    // at start), so it cannot be the reference; lvsd is checked against keepalived's
    // rules (unit tests in src/vrrp/track.rs hold the table).
    drop(sides.pop());
    let lv = &sides[0];
    let expect = |t: SystemTime, prio: u8, step: &str| {
        assert!(
            lv.advert(t, prio, 6 * SEC),
            "{step}: lvsd sent no advert with priority {prio}\n{}",
            lv.d.log_text()
        );
    };
    // The weighted process runs: +20.
    let t = SystemTime::now();
    let w = Proc::start(&wbin);
    expect(t, 120, "weighted process started");
    // `weight 0 reverse`: FAULT while the other process runs.
    let f = Proc::start(&fbin);
    assert!(
        wait_addr(lv.ns(), VIP, false, 6 * SEC).is_some(),
        "faulting process: lvsd kept the VIP\n{}",
        lv.d.log_text()
    );
    let t = SystemTime::now();
    drop(f);
    expect(t, 120, "faulting process gone");
    // The weighted process stops: 100.
    let t = SystemTime::now();
    drop(w);
    expect(t, 100, "weighted process gone");

    let l = lv.d.log_text();
    assert!(
        l.contains("Quorum gained for tracked process") && l.contains("tracked file tf now reads"),
        "lvsd's log lacks the tracking lines\n{l}"
    );
}
