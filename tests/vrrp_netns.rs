//! VRRP between two directors in network namespaces (issue 3: tests a, c, d).
//!
//! Every scenario is written once and run twice: with lvsd on both sides (`lvsd_*`, the
//! real tests) and with Debian's keepalived on both sides (`keepalived_*`, the reference
//! run that proves the harness and the expectations against the implementation lvsd
//! replaces). Each test builds its own namespaces, so they run in parallel.

mod support;

use std::time::{Duration, SystemTime};
use support::*;

const SEC: Duration = Duration::from_secs(1);

fn conf(router: &str, prio: u8) -> Conf {
    Conf::new(router, prio)
}

fn assert_only_holder(lab: &Lab, holder: usize, why: &str) {
    for (i, n) in lab.nodes.iter().enumerate() {
        let has = has_addr(&n.ns, VIP);
        if i == holder {
            assert!(has, "{why}: node {} should hold the VIP", n.name);
        } else {
            assert!(!has, "{why}: node {} should not hold the VIP", n.name);
        }
    }
}

fn logs(ds: &[&Daemon]) -> String {
    ds.iter()
        .map(|d| format!("--- {} {}:\n{}", d.kind.label(), d.node.name, d.log_text()))
        .collect()
}

/// a. Election, SIGTERM (resignation), restart + preemption, SIGKILL (silent death),
/// restart + preemption again.
fn election_failover_preempt(kind: Kind) {
    if support::skip_without_root("network namespaces") {
        return;
    }
    let lab = Lab::new("elect", 2);
    let (a, b) = (lab.node(0).clone(), lab.node(1).clone());
    let mut da = lab.spawn(0, kind, "a", &conf("A", 150).render());
    let db = lab.spawn(1, kind, "b", &conf("B", 100).render());

    // Both start in BACKUP; A's master-down timer (3.41 s) fires first.
    let t = wait_addr(&a.ns, VIP, true, 8 * SEC);
    assert!(t.is_some(), "A never became master\n{}", logs(&[&da, &db]));
    std::thread::sleep(Duration::from_millis(1500));
    assert_only_holder(&lab, 0, "after election");

    // SIGTERM: A resigns (priority 0); B takes over after its skew (0.61 s).
    da.sigterm();
    let t = wait_addr(&b.ns, VIP, true, 3 * SEC)
        .unwrap_or_else(|| panic!("B did not take over after SIGTERM\n{}", logs(&[&da, &db])));
    assert!(
        t < Duration::from_millis(1500),
        "takeover after SIGTERM took {t:?}, expected about the skew (0.61 s)"
    );
    assert!(
        da.wait_exit(5 * SEC).is_some(),
        "A did not exit after SIGTERM"
    );
    assert!(!has_addr(&a.ns, VIP), "A left its VIP behind on SIGTERM");

    // A comes back with the higher priority and preempts.
    da.restart();
    let t = wait_addr(&a.ns, VIP, true, 8 * SEC);
    assert!(t.is_some(), "A did not preempt\n{}", logs(&[&da, &db]));
    assert!(
        wait_addr(&b.ns, VIP, false, 3 * SEC).is_some(),
        "B kept the VIP after A preempted\n{}",
        logs(&[&da, &db])
    );
    std::thread::sleep(SEC);
    assert_only_holder(&lab, 0, "after preemption");

    // SIGKILL: no resignation; B waits the master-down interval (3.61 s after the last
    // advert, so 2.61..3.61 s after the kill).
    da.sigkill();
    let t = wait_addr(&b.ns, VIP, true, 6 * SEC)
        .unwrap_or_else(|| panic!("B did not take over after SIGKILL\n{}", logs(&[&da, &db])));
    assert!(
        t >= Duration::from_millis(2500) && t <= Duration::from_millis(4600),
        "takeover after SIGKILL took {t:?}, expected 2.6..3.6 s (master-down interval)"
    );

    // The old master returns and preempts again. The killed process could not remove its
    // VIP, so it is still configured in A's namespace: take it away as a reboot would.
    let _ = std::process::Command::new("ip")
        .args([
            "-n",
            &a.ns,
            "addr",
            "del",
            &format!("{VIP}/24"),
            "dev",
            "eth0",
        ])
        .status();
    da.restart();
    assert!(
        wait_addr(&a.ns, VIP, true, 8 * SEC).is_some(),
        "A did not preempt after coming back\n{}",
        logs(&[&da, &db])
    );
    assert!(
        wait_addr(&b.ns, VIP, false, 3 * SEC).is_some(),
        "B kept the VIP after A came back"
    );
}

/// A VIP left on the interface by an earlier run (killed with SIGKILL) is removed when the
/// instance starts in BACKUP, and added back when it becomes master after the master-down
/// interval (3.6 s, nobody else on the segment).
fn stale_vip_released_at_start(kind: Kind) {
    if support::skip_without_root("network namespaces") {
        return;
    }
    let lab = Lab::new("stale", 1);
    let a = lab.node(0).clone();
    add_stale_vip(&a);
    let d = lab.spawn(0, kind, "a", &conf("A", 100).render());
    assert!(
        wait_addr(&a.ns, VIP, false, 2 * SEC).is_some(),
        "the stale VIP was not released in BACKUP\n{}",
        logs(&[&d])
    );
    assert!(
        wait_addr(&a.ns, VIP, true, 6 * SEC).is_some(),
        "the VIP did not come back when A became master\n{}",
        logs(&[&d])
    );
}

/// A master whose priority a reload (SIGHUP) drops below its peer's hands over and
/// removes its VIPs, so they are never on both directors: keepalived 2.2.7 does (with or
/// without `-X`, which older versions needed for it), and so does lvsd, `-X` or not.
fn reload_to_backup_releases_vips(kind: Kind, args: &[&str]) {
    if support::skip_without_root("network namespaces") {
        return;
    }
    let lab = Lab::new("rlx", 2);
    let (a, b) = (lab.node(0).clone(), lab.node(1).clone());
    let da = lab.spawn_with(0, kind, "a", &conf("A", 150).render(), args);
    let db = lab.spawn(1, kind, "b", &conf("B", 100).render());
    assert!(
        wait_addr(&a.ns, VIP, true, 8 * SEC).is_some(),
        "A never became master\n{}",
        logs(&[&da, &db])
    );
    std::thread::sleep(SEC);
    std::fs::write(&da.conf, conf("A", 50).render()).expect("rewrite A's config");
    let pid = da.pid().expect("A running");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGHUP,
    )
    .expect("kill -HUP");
    assert!(
        wait_addr(&b.ns, VIP, true, 8 * SEC).is_some(),
        "B did not take over after A's reload\n{}",
        logs(&[&da, &db])
    );
    assert!(
        wait_addr(&a.ns, VIP, false, 3 * SEC).is_some(),
        "A kept the VIP after going BACKUP on reload: on both directors\n{}",
        logs(&[&da, &db])
    );
}

#[test]
fn lvsd_reload_to_backup_releases_vips() {
    reload_to_backup_releases_vips(Kind::Lvsd, &[]);
}

#[test]
fn lvsd_reload_to_backup_releases_vips_with_x() {
    reload_to_backup_releases_vips(Kind::Lvsd, &["-X"]);
}

#[test]
fn keepalived_reload_to_backup_releases_vips() {
    reload_to_backup_releases_vips(Kind::Keepalived, &[]);
}

/// Issue 17: "released … left by an earlier run" only when the address was there. A fresh
/// node (A, the master-to-be) never says it; a backup (B) that finds the VIP added by hand
/// names it and removes it.
#[test]
fn lvsd_names_only_vips_actually_left_by_an_earlier_run() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    let lab = Lab::new("left", 2);
    let (a, b) = (lab.node(0).clone(), lab.node(1).clone());
    add_stale_vip(&b);
    let da = lab.spawn(0, Kind::Lvsd, "a", &conf("A", 150).render());
    let db = lab.spawn(1, Kind::Lvsd, "b", &conf("B", 100).render());
    assert!(
        wait_addr(&b.ns, VIP, false, 2 * SEC).is_some(),
        "B did not release the VIP left on its interface\n{}",
        logs(&[&da, &db])
    );
    assert!(
        wait_addr(&a.ns, VIP, true, 8 * SEC).is_some(),
        "A never became master\n{}",
        logs(&[&da, &db])
    );
    let said = |d: &Daemon| {
        d.log_text()
            .lines()
            .filter(|l| l.contains("left by an earlier run"))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert_eq!(said(&da), Vec::<String>::new(), "{}", logs(&[&da]));
    let lines = said(&db);
    assert_eq!(lines.len(), 1, "{}", logs(&[&db]));
    assert!(lines[0].contains(&format!("released {VIP}/")), "{lines:?}");
    assert!(!has_addr(&b.ns, VIP), "B holds the VIP as a backup");
}

fn add_stale_vip(n: &Node) {
    let st = std::process::Command::new("ip")
        .args([
            "-n",
            &n.ns,
            "addr",
            "add",
            &format!("{VIP}/24"),
            "dev",
            "eth0",
        ])
        .status()
        .expect("ip addr add");
    assert!(st.success());
}

/// a (nopreempt). B is master; A (higher priority, nopreempt) joins and must not take over.
fn nopreempt(kind: Kind) {
    if support::skip_without_root("network namespaces") {
        return;
    }
    let lab = Lab::new("nopre", 2);
    let (a, b) = (lab.node(0).clone(), lab.node(1).clone());
    let db = lab.spawn(1, kind, "b", &conf("B", 100).render());
    assert!(
        wait_addr(&b.ns, VIP, true, 8 * SEC).is_some(),
        "B alone never became master\n{}",
        logs(&[&db])
    );
    let mut ca = conf("A", 150);
    ca.nopreempt = true;
    let da = lab.spawn(0, kind, "a", &ca.render());
    // Twice A's master-down interval: a preempting A would have taken over by now.
    std::thread::sleep(Duration::from_secs_f64(2.0 * master_down(150, 1.0)));
    assert!(
        has_addr(&b.ns, VIP) && !has_addr(&a.ns, VIP),
        "nopreempt: A took the VIP from B\n{}",
        logs(&[&da, &db])
    );
}

/// c. A gratuitous ARP for the VIP from the new master within 100 ms of its first advert,
/// both after SIGTERM and after SIGKILL of the master.
fn garp_on_takeover(kind: Kind) {
    if support::skip_without_root("network namespaces") {
        return;
    }
    let lab = Lab::new("garp", 2);
    let (a, b) = (lab.node(0).clone(), lab.node(1).clone());
    let cap = lab.capture();
    let mut da = lab.spawn(0, kind, "a", &conf("A", 150).render());
    let db = lab.spawn(1, kind, "b", &conf("B", 100).render());
    assert!(
        wait_addr(&a.ns, VIP, true, 8 * SEC).is_some(),
        "A never became master\n{}",
        logs(&[&da, &db])
    );
    // A's own takeover must be announced with a GARP too.
    let first_a = cap
        .wait_for(SystemTime::UNIX_EPOCH, SEC, |f| {
            is_advert_from(f, a.ip, |p| p == 150)
        })
        .expect("no advert from A");
    let garp_a = cap
        .wait_for(first_a.at, SEC, |f| is_garp_for(f, VIP))
        .expect("no GARP for the VIP when A became master");
    let d = secs_between(first_a.at, garp_a.at);
    assert!(d <= 0.1, "GARP {d:.3} s after A's first advert");

    for how in ["SIGTERM", "SIGKILL"] {
        std::thread::sleep(Duration::from_millis(1200));
        let t0 = if how == "SIGTERM" {
            da.sigterm()
        } else {
            da.sigkill()
        };
        let adv = cap
            .wait_for(t0, 6 * SEC, |f| is_advert_from(f, b.ip, |p| p == 100))
            .unwrap_or_else(|| panic!("no advert from B after {how}\n{}", logs(&[&da, &db])));
        let garp = cap
            .wait_for(adv.at, 2 * SEC, |f| is_garp_for(f, VIP))
            .unwrap_or_else(|| panic!("no GARP after {how} takeover\n{}", logs(&[&da, &db])));
        let d = secs_between(adv.at, garp.at);
        assert!(
            d <= 0.1,
            "after {how}: GARP {d:.3} s after B's first advert (limit 0.100)"
        );
        // The GARP carries B's MAC: the sender is the new master.
        let b_mac = cap
            .frames()
            .into_iter()
            .find(|f| is_advert_from(f, b.ip, |_| true))
            .map(|f| f.src_mac)
            .expect("B's MAC");
        match garp.what {
            What::Garp { mac, .. } => assert_eq!(mac, b_mac, "GARP not from B"),
            _ => unreachable!(),
        }
        if how == "SIGTERM" {
            assert!(da.wait_exit(5 * SEC).is_some(), "A did not exit");
            da.restart();
            assert!(
                wait_addr(&a.ns, VIP, true, 8 * SEC).is_some(),
                "A did not preempt"
            );
            assert!(wait_addr(&b.ns, VIP, false, 3 * SEC).is_some());
        }
    }
}

/// d. Notify scripts get keepalived's arguments in order, and an email with keepalived's
/// subject reaches a real SMTP server (aiosmtpd on the namespace's loopback) for every
/// recipient.
fn notify_and_email(kind: Kind) {
    if support::skip_without_root("network namespaces") {
        return;
    }
    let lab = Lab::new("notify", 1);
    let n = lab.node(0).clone();
    let dir = lab.path("scripts");
    std::fs::create_dir_all(&dir).unwrap();
    let log = |name: &str| dir.join(format!("{name}.log"));
    let rec = |name: &str| notify_recorder(&dir, &format!("{name}.sh"), &log(name));
    let smtp = SmtpSink::start(&n.ns, lab.dir.path(), "127.0.0.1", 2525);
    let rcpts = vec![
        "ops@example.org".to_string(),
        "oncall@example.org".to_string(),
    ];
    let mut c = Conf::new("LVT", 150);
    c.notify = Some(rec("notify"));
    c.notify_master = Some(format!("{} master-only", rec("master").display()));
    c.notify_backup = Some(format!("{} backup-only", rec("backup").display()));
    c.notify_stop = Some(format!("{} stop-only", rec("stop").display()));
    c.smtp = Some(("127.0.0.1".into(), 2525, rcpts.clone()));
    let mut d = lab.spawn(0, kind, "a", &c.render());
    assert!(
        wait_addr(&n.ns, VIP, true, 8 * SEC).is_some(),
        "never became master\n{}",
        d.log_text()
    );
    let mail = smtp
        .wait_subject("Entering MASTER state", 10 * SEC)
        .unwrap_or_else(|| panic!("no MASTER mail; got {:?}\n{}", smtp.mails(), d.log_text()));
    assert_eq!(
        mail.subject().as_deref(),
        Some("[LVT] VRRP Instance VI_1 - Entering MASTER state")
    );
    assert_eq!(mail.to, rcpts, "recipients");
    assert_eq!(mail.from, "lvsd-test@example.org");
    assert_eq!(mail.helo, "helo.lvsd-test.example.org", "smtp_helo_name");
    assert!(
        mail.data
            .contains("To: ops@example.org, oncall@example.org"),
        "To header: {}",
        mail.data
    );
    d.sigterm();
    assert!(d.wait_exit(5 * SEC).is_some(), "did not exit on SIGTERM");
    // Scripts are fire-and-forget: give the last one a moment to write.
    let start = std::time::Instant::now();
    while read_lines(&log("notify")).len() < 3 && start.elapsed() < 3 * SEC {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        read_lines(&log("notify")),
        vec![
            "INSTANCE|VI_1|BACKUP|150",
            "INSTANCE|VI_1|MASTER|150",
            "INSTANCE|VI_1|STOP|150"
        ],
        "`notify` arguments (type, name, state, priority) in order\n{}",
        d.log_text()
    );
    assert_eq!(read_lines(&log("master")), vec!["master-only"]);
    assert_eq!(read_lines(&log("backup")), vec!["backup-only"]);
    assert_eq!(read_lines(&log("stop")), vec!["stop-only"]);
}

/// d. With the SMTP server unreachable (a black hole: SYNs to a MAC nobody owns, never
/// answered) on both directors, failover timing is unchanged: election, takeover after
/// SIGTERM within the skew, steady adverts from the new master, and takeover after SIGKILL
/// at the master-down interval.
fn smtp_down_timing(kind: Kind) {
    if support::skip_without_root("network namespaces") {
        return;
    }
    let lab = Lab::new("smtpdown", 2);
    let (a, b) = (lab.node(0).clone(), lab.node(1).clone());
    let hole = "10.99.0.250";
    for n in [&a, &b] {
        std::process::Command::new("ip")
            .args([
                "-n",
                &n.ns,
                "neigh",
                "add",
                hole,
                "lladdr",
                "02:00:00:00:00:fa",
            ])
            .args(["dev", "eth0", "nud", "permanent"])
            .status()
            .unwrap();
    }
    let cap = lab.capture();
    let mk = |r: &str, p: u8| {
        let mut c = Conf::new(r, p);
        c.smtp = Some((hole.into(), 25, vec!["ops@example.org".into()]));
        c.render()
    };
    let mut da = lab.spawn(0, kind, "a", &mk("A", 150));
    let db = lab.spawn(1, kind, "b", &mk("B", 100));
    let t = wait_addr(&a.ns, VIP, true, 8 * SEC);
    assert!(t.is_some(), "A never became master\n{}", logs(&[&da, &db]));
    std::thread::sleep(Duration::from_millis(1500));
    assert_only_holder(&lab, 0, "election with SMTP down");

    let t0 = da.sigterm();
    let resign = cap
        .wait_for(t0, 2 * SEC, |f| is_advert_from(f, a.ip, |p| p == 0))
        .unwrap_or_else(|| {
            panic!(
                "no priority-0 advert: SIGTERM blocked?\n{}",
                logs(&[&da, &db])
            )
        });
    assert!(
        secs_between(t0, resign.at) < 0.2,
        "resignation {:.3} s after SIGTERM",
        secs_between(t0, resign.at)
    );
    let adv = cap
        .wait_for(resign.at, 3 * SEC, |f| {
            is_advert_from(f, b.ip, |p| p == 100)
        })
        .unwrap_or_else(|| panic!("B did not take over\n{}", logs(&[&da, &db])));
    let d = secs_between(resign.at, adv.at);
    let sk = skew(100, 1.0);
    assert!(
        d > sk - 0.15 && d < sk + 0.3,
        "takeover {d:.3} s after resignation, expected skew {sk:.3} s"
    );
    // The new master keeps advertising every second while its mail hangs.
    std::thread::sleep(Duration::from_millis(3500));
    let ts: Vec<_> = cap
        .frames()
        .into_iter()
        .filter(|f| f.at >= adv.at && is_advert_from(f, b.ip, |p| p == 100))
        .map(|f| f.at)
        .collect();
    assert!(ts.len() >= 3, "only {} adverts from B in 3.5 s", ts.len());
    for w in ts.windows(2) {
        let gap = secs_between(w[0], w[1]);
        assert!(gap < 1.3, "advert gap {gap:.3} s from the new master");
    }
    assert!(da.wait_exit(5 * SEC).is_some(), "A did not exit");

    da.restart();
    assert!(
        wait_addr(&a.ns, VIP, true, 8 * SEC).is_some(),
        "A did not preempt\n{}",
        logs(&[&da, &db])
    );
    std::thread::sleep(Duration::from_millis(1300));
    let t0 = da.sigkill();
    let last = cap
        .last_before(t0, |f| is_advert_from(f, a.ip, |p| p == 150))
        .expect("A's last advert");
    let adv = cap
        .wait_for(t0, 6 * SEC, |f| is_advert_from(f, b.ip, |p| p == 100))
        .unwrap_or_else(|| panic!("B did not take over after SIGKILL\n{}", logs(&[&da, &db])));
    let d = secs_between(last.at, adv.at);
    let md = master_down(100, 1.0);
    assert!(
        d > md - 0.15 && d < md + 0.3,
        "takeover {d:.3} s after A's last advert, expected master-down {md:.3} s"
    );
}

macro_rules! both {
    ($scenario:ident, $lvsd:ident, $ka:ident) => {
        #[test]
        fn $lvsd() {
            $scenario(Kind::Lvsd);
        }
        #[test]
        fn $ka() {
            $scenario(Kind::Keepalived);
        }
    };
}

both!(
    election_failover_preempt,
    lvsd_election_failover_preempt,
    keepalived_election_failover_preempt
);
both!(nopreempt, lvsd_nopreempt, keepalived_nopreempt);
both!(
    stale_vip_released_at_start,
    lvsd_stale_vip_released_at_start,
    keepalived_stale_vip_released_at_start
);
both!(
    garp_on_takeover,
    lvsd_garp_on_takeover,
    keepalived_garp_on_takeover
);
both!(
    notify_and_email,
    lvsd_notify_and_email,
    keepalived_notify_and_email
);
both!(
    smtp_down_timing,
    lvsd_smtp_down_timing,
    keepalived_smtp_down_timing
);
