//! keepalived 2.2.7's VRRP tuning options on the wire (issue 13 §2), lvsd and Debian's
//! keepalived each run as the subject with the same file, facing keepalived:
//!
//! * `vrrp_garp_interval`: the gratuitous ARPs of a burst are spaced by the interval (or
//!   by the `garp_group` of the interface);
//! * `garp_lower_prio_repeat` / `garp_lower_prio_delay`: a master that hears a
//!   lower-priority advert sends a burst at once and another after the delay;
//! * `lower_prio_no_advert`: and does not answer it with an advert;
//! * `higher_prio_send_advert`: a master that hears a higher priority sends one advert
//!   before it becomes backup;
//! * `vrrp_startup_delay`: the first advert comes the delay plus Master_Down after start.
//!
//! The lower-priority advert is made the way it happens in the field: the peer (keepalived,
//! priority 100, `higher_prio_send_advert`) is master when the subject (150) starts; when
//! the subject preempts, the peer answers with one last priority-100 advert.

mod support;

use std::net::Ipv4Addr;
use std::time::{Duration, SystemTime};
use support::*;

const SEC: Duration = Duration::from_secs(1);

/// `Conf` with extra global_defs and vrrp_instance lines.
fn conf(router: &str, prio: u8, global: &str, inst: &str) -> String {
    let s = Conf::new(router, prio).render();
    let s = s.replacen("global_defs {\n", &format!("global_defs {{\n{global}\n"), 1);
    let cut = s.rfind('}').unwrap_or(s.len());
    format!("{}{inst}\n}}\n", &s[..cut])
}

fn logs(ds: &[&Daemon]) -> String {
    ds.iter()
        .map(|d| format!("--- {} {}:\n{}", d.kind.label(), d.node.name, d.log_text()))
        .collect()
}

fn garps_from(cap: &Capture, mac: [u8; 6], since: SystemTime) -> Vec<SystemTime> {
    cap.frames()
        .into_iter()
        .filter(|f| f.at >= since && f.src_mac == mac && is_garp_for(f, VIP))
        .map(|f| f.at)
        .collect()
}

fn adverts_from(cap: &Capture, src: Ipv4Addr, prio: u8, since: SystemTime) -> Vec<SystemTime> {
    cap.frames()
        .into_iter()
        .filter(|f| f.at >= since && is_advert_from(f, src, |p| p == prio))
        .map(|f| f.at)
        .collect()
}

/// Gaps in seconds between consecutive times.
fn gaps(ts: &[SystemTime]) -> Vec<f64> {
    ts.windows(2).map(|w| secs_between(w[0], w[1])).collect()
}

// ---- vrrp_garp_interval -----------------------------------------------------------------

/// (GARPs of the takeover burst, their gaps) for `subject` alone as master; the pacing
/// of 0.25 s comes from `vrrp_garp_interval`, or from a `garp_group` of eth0 (the global
/// setting then 0.05 s).
fn garp_interval_run(subject: Kind, group: bool) -> (usize, Vec<f64>) {
    let lab = Lab::new("gi", 1);
    let a = lab.node(0).clone();
    let cap = lab.capture();
    let interval = if group { "0.05" } else { "0.25" };
    let c = conf(
        "S",
        150,
        &format!(
            "  vrrp_garp_interval {interval}\n  vrrp_garp_master_repeat 4\n  vrrp_garp_master_delay 0"
        ),
        "",
    );
    let c = if group {
        format!("garp_group {{\n  garp_interval 0.25\n  interfaces {{\n    eth0\n  }}\n}}\n{c}")
    } else {
        c
    };
    let t0 = SystemTime::now();
    let d = lab.spawn(0, subject, "s", &c);
    let mac = mac_of(&a.ns, "eth0").expect("mac");
    assert!(
        wait_addr(&a.ns, VIP, true, 8 * SEC).is_some(),
        "{}: never became master\n{}",
        subject.label(),
        logs(&[&d])
    );
    std::thread::sleep(Duration::from_millis(2000));
    let g = garps_from(&cap, mac, t0);
    (g.len(), gaps(&g))
}

#[test]
fn garp_interval_spaces_the_burst_as_keepalived() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    check_garp_spacing(false);
}

#[test]
fn garp_group_spaces_its_interfaces_as_keepalived() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    check_garp_spacing(true);
}

fn check_garp_spacing(group: bool) {
    let (kn, kg) = garp_interval_run(Kind::Keepalived, group);
    let (ln, lg) = garp_interval_run(Kind::Lvsd, group);
    eprintln!("keepalived: {kn} GARPs, gaps {kg:?}; lvsd: {ln} GARPs, gaps {lg:?}");
    assert!(
        kn >= 2,
        "keepalived sent {kn} GARPs: the harness sees no burst"
    );
    for (who, g) in [("keepalived", &kg), ("lvsd", &lg)] {
        assert!(
            g.iter().all(|s| *s >= 0.24),
            "{who}: GARPs closer than vrrp_garp_interval 0.25 s: {g:?}"
        );
    }
    // lvsd sends the whole burst (garp_master_repeat 4), each 0.25 s after the last.
    assert_eq!(ln, 4, "lvsd: {lg:?}");
    assert!(lg.iter().all(|s| *s < 0.35), "lvsd: gaps {lg:?}");
}

// ---- lower-priority advert: GARP burst, delay, lower_prio_no_advert -------------------

struct LowerRun {
    /// Seconds from the peer's last (lower-priority) advert to the subject's next advert.
    answer_after: f64,
    /// Seconds from the peer's lower advert to each subject GARP since the takeover.
    garps_after: Vec<f64>,
}

fn lower_prio_run(subject: Kind, no_advert: bool) -> LowerRun {
    let lab = Lab::new("lp", 2);
    let (a, b) = (lab.node(0).clone(), lab.node(1).clone());
    let cap = lab.capture();
    let peer = lab.spawn(
        1,
        Kind::Keepalived,
        "peer",
        &conf("P", 100, "  vrrp_higher_prio_send_advert", ""),
    );
    assert!(
        wait_addr(&b.ns, VIP, true, 8 * SEC).is_some(),
        "the peer never became master\n{}",
        logs(&[&peer])
    );
    let inst = format!(
        "  garp_master_repeat 1\n  garp_master_delay 0\n  garp_lower_prio_repeat 2\n  garp_lower_prio_delay 2{}",
        if no_advert { "\n  lower_prio_no_advert" } else { "" }
    );
    let d = lab.spawn(0, subject, "s", &conf("S", 150, "", &inst));
    let mac = mac_of(&a.ns, "eth0").expect("mac");
    let what = format!("{} (lower_prio_no_advert {no_advert})", subject.label());
    assert!(
        wait_addr(&a.ns, VIP, true, 8 * SEC).is_some(),
        "{what}: never took over\n{}",
        logs(&[&d, &peer])
    );
    // The subject's first priority-150 advert, then the peer's last priority-100 one.
    let t_master = cap
        .wait_for(SystemTime::UNIX_EPOCH, 2 * SEC, |f| {
            is_advert_from(f, a.ip, |p| p == 150)
        })
        .unwrap_or_else(|| panic!("{what}: no advert\n{}", logs(&[&d, &peer])))
        .at;
    let lower = cap
        .wait_for(t_master, 2 * SEC, |f| is_advert_from(f, b.ip, |p| p == 100))
        .unwrap_or_else(|| {
            panic!(
                "{what}: the peer sent no lower advert\n{}",
                logs(&[&d, &peer])
            )
        })
        .at;
    std::thread::sleep(Duration::from_millis(3500));
    let next = adverts_from(&cap, a.ip, 150, lower)
        .first()
        .copied()
        .unwrap_or_else(|| panic!("{what}: no advert after the lower one"));
    LowerRun {
        answer_after: secs_between(lower, next),
        garps_after: garps_from(&cap, mac, t_master)
            .into_iter()
            .map(|t| secs_between(lower, t))
            .collect(),
    }
}

fn check_lower(who: &str, r: &LowerRun, no_advert: bool) {
    let what = format!("{who} (lower_prio_no_advert {no_advert})");
    if no_advert {
        assert!(
            r.answer_after > 0.5,
            "{what}: answered the lower advert after {:.3} s",
            r.answer_after
        );
    } else {
        assert!(
            r.answer_after < 0.1,
            "{what}: did not answer the lower advert ({:.3} s)",
            r.answer_after
        );
    }
    // The takeover's garp_master_repeat 1 (lvsd adds the VIP asynchronously, so its GARP
    // may leave just after the peer's advert), garp_lower_prio_repeat 2 at once, and 2
    // more after garp_lower_prio_delay 2 s.
    let at_once = r.garps_after.iter().filter(|s| **s < 0.5).count();
    let later = r
        .garps_after
        .iter()
        .filter(|s| (1.9..2.5).contains(*s))
        .count();
    assert_eq!(
        (at_once, later, r.garps_after.len()),
        (3, 2, 5),
        "{what}: GARPs at {:?} s after the lower advert",
        r.garps_after
    );
}

#[test]
fn lower_prio_advert_burst_and_answer_as_keepalived() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    for no_advert in [false, true] {
        let k = lower_prio_run(Kind::Keepalived, no_advert);
        let l = lower_prio_run(Kind::Lvsd, no_advert);
        eprintln!(
            "no_advert {no_advert}: keepalived answer {:.3} s garps {:?}; lvsd answer {:.3} s garps {:?}",
            k.answer_after, k.garps_after, l.answer_after, l.garps_after
        );
        check_lower("keepalived", &k, no_advert);
        check_lower("lvsd", &l, no_advert);
    }
}

// ---- higher_prio_send_advert ------------------------------------------------------------

/// Priority-100 adverts the subject (master first) sent from 0.5 s before the peer's first
/// priority-150 advert on, in seconds relative to it.
fn higher_prio_run(subject: Kind, send: bool) -> Vec<f64> {
    let lab = Lab::new("hp", 2);
    let (a, b) = (lab.node(0).clone(), lab.node(1).clone());
    let cap = lab.capture();
    let g = if send {
        "  vrrp_higher_prio_send_advert"
    } else {
        ""
    };
    let d = lab.spawn(0, subject, "s", &conf("S", 100, g, ""));
    assert!(
        wait_addr(&a.ns, VIP, true, 8 * SEC).is_some(),
        "{}: never became master\n{}",
        subject.label(),
        logs(&[&d])
    );
    let t = SystemTime::now();
    let peer = lab.spawn(1, Kind::Keepalived, "peer", &conf("P", 150, "", ""));
    let first = cap
        .wait_for(t, 8 * SEC, |f| is_advert_from(f, b.ip, |p| p == 150))
        .unwrap_or_else(|| panic!("the peer never preempted\n{}", logs(&[&d, &peer])))
        .at;
    std::thread::sleep(Duration::from_millis(2500));
    assert!(
        !has_addr(&a.ns, VIP),
        "{}: still holds the VIP\n{}",
        subject.label(),
        logs(&[&d, &peer])
    );
    let since = first - Duration::from_millis(500);
    adverts_from(&cap, a.ip, 100, since)
        .into_iter()
        .map(|t| secs_between(first, t))
        .filter(|s| *s > -0.5)
        .collect()
}

#[test]
fn higher_prio_send_advert_as_keepalived() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    for send in [true, false] {
        let k = higher_prio_run(Kind::Keepalived, send);
        let l = higher_prio_run(Kind::Lvsd, send);
        eprintln!("send {send}: keepalived adverts at {k:?} s, lvsd at {l:?} s (from the peer's)");
        for (who, v) in [("keepalived", &k), ("lvsd", &l)] {
            let after: Vec<&f64> = v.iter().filter(|s| **s >= 0.0).collect();
            if send {
                assert!(
                    after.len() == 1 && *after[0] < 0.1,
                    "{who}: want one advert right after the peer's: {v:?}"
                );
            } else {
                assert!(
                    after.is_empty(),
                    "{who}: want no advert after the peer's: {v:?}"
                );
            }
        }
    }
}

// ---- vrrp_startup_delay -----------------------------------------------------------------

fn startup_delay_run(subject: Kind) -> f64 {
    let lab = Lab::new("sd", 1);
    let a = lab.node(0).clone();
    let cap = lab.capture();
    let t0 = SystemTime::now();
    let d = lab.spawn(
        0,
        subject,
        "s",
        &conf("S", 150, "  vrrp_startup_delay 3", ""),
    );
    let first = cap
        .wait_for(t0, 12 * SEC, |f| is_advert_from(f, a.ip, |_| true))
        .unwrap_or_else(|| panic!("{}: no advert\n{}", subject.label(), logs(&[&d])))
        .at;
    secs_between(t0, first)
}

#[test]
fn startup_delay_as_keepalived() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    let k = startup_delay_run(Kind::Keepalived);
    let l = startup_delay_run(Kind::Lvsd);
    let want = 3.0 + master_down(150, 1.0);
    eprintln!("first advert after start: keepalived {k:.3} s, lvsd {l:.3} s (delay + Master_Down = {want:.3} s)");
    for (who, s) in [("keepalived", k), ("lvsd", l)] {
        assert!(
            s >= want - 0.05 && s < want + 0.6,
            "{who}: first advert {s:.3} s after start, want {want:.3}"
        );
    }
}

// ---- receive buffers ---------------------------------------------------------------------

/// The pid of the process that runs VRRP (keepalived: its VRRP child).
fn vrrp_pid(d: &Daemon) -> i32 {
    let file = d.dir.join("vrrp.pid");
    let t0 = std::time::Instant::now();
    while t0.elapsed() < 10 * SEC {
        if let Some(p) = std::fs::read_to_string(&file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
        {
            return p;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    d.pid().expect("daemon running")
}

/// SO_RCVBUF of every socket of `pid` that `want` picks by (domain, type, protocol),
/// read from a copy of each descriptor (pidfd_getfd).
fn rcvbufs(pid: i32, want: impl Fn(i32, i32, i32) -> bool) -> Vec<i32> {
    fn opt(fd: i32, level: i32, name: i32) -> i32 {
        let mut v: libc::c_int = 0;
        let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
        // SAFETY: an int option read into an int of the right size.
        let rc =
            unsafe { libc::getsockopt(fd, level, name, (&mut v as *mut i32).cast(), &mut len) };
        assert_eq!(rc, 0, "getsockopt {name}");
        v
    }
    // SAFETY: plain syscalls; every descriptor obtained is closed below.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as i32;
    assert!(pidfd >= 0, "pidfd_open {pid}");
    let mut out = Vec::new();
    for e in std::fs::read_dir(format!("/proc/{pid}/fd")).expect("fds") {
        let e = e.expect("fd entry");
        let is_sock = std::fs::read_link(e.path())
            .map(|l| l.to_string_lossy().starts_with("socket:"))
            .unwrap_or(false);
        let Ok(target) = e.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        if !is_sock {
            continue;
        }
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_getfd, pidfd, target, 0) } as i32;
        if fd < 0 {
            continue;
        }
        let (dom, ty, proto) = (
            opt(fd, libc::SOL_SOCKET, libc::SO_DOMAIN),
            opt(fd, libc::SOL_SOCKET, libc::SO_TYPE),
            opt(fd, libc::SOL_SOCKET, libc::SO_PROTOCOL),
        );
        if want(dom, ty, proto) {
            out.push(opt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF));
        }
        unsafe { libc::close(fd) };
    }
    unsafe { libc::close(pidfd) };
    out.sort();
    out.dedup();
    out
}

/// (advert sockets' receive buffers, rtnetlink sockets' receive buffers) of a daemon
/// running the rx-buffer file.
fn rx_bufs_run(subject: Kind) -> (Vec<i32>, Vec<i32>) {
    let lab = Lab::new("rb", 1);
    let global = "  vrrp_rx_bufs_policy MTU\n  vrrp_rx_bufs_multiplier 4\n  \
                  vrrp_netlink_cmd_rcv_bufs 1000000\n  vrrp_netlink_monitor_rcv_bufs 600000\n  \
                  vrrp_netlink_monitor_rcv_bufs_force";
    // VI_1 (MTU policy: 4 × 1500) and VI_2 (its own 3000) share eth0's socket.
    let second = "vrrp_instance VI_2 {\n  interface eth0\n  virtual_router_id 52\n  \
                  priority 100\n  kernel_rx_buf_size 3000\n  \
                  virtual_ipaddress {\n    10.99.0.201/24\n  }\n}\n";
    let c = format!("{}{second}", conf("R", 150, global, ""));
    let d = lab.spawn(0, subject, "s", &c);
    assert!(
        d.wait_log("Entering MASTER STATE", 10 * SEC),
        "{}: never master\n{}",
        subject.label(),
        logs(&[&d])
    );
    let pid = vrrp_pid(&d);
    let adverts = rcvbufs(pid, |dom, ty, proto| {
        dom == libc::AF_INET && ty == libc::SOCK_RAW && proto == 112
    });
    let rtnl = rcvbufs(pid, |dom, _, proto| {
        dom == libc::AF_NETLINK && proto == libc::NETLINK_ROUTE
    });
    (adverts, rtnl)
}

/// `vrrp_rx_bufs_policy`, `vrrp_rx_bufs_multiplier`, `kernel_rx_buf_size` and the
/// `vrrp_netlink_*_rcv_bufs[_force]` settings leave the same receive buffers in the kernel
/// under lvsd as under keepalived (the kernel reports twice the size asked for).
#[test]
fn receive_buffers_as_keepalived() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    let (ka_adv, ka_nl) = rx_bufs_run(Kind::Keepalived);
    let (lv_adv, lv_nl) = rx_bufs_run(Kind::Lvsd);
    eprintln!("advert sockets: keepalived {ka_adv:?}, lvsd {lv_adv:?}; rtnetlink: keepalived {ka_nl:?}, lvsd {lv_nl:?}");
    // (4 × 1500 + 3000) × 2 on the receiving socket
    assert_eq!(ka_adv.last(), Some(&18000), "keepalived {ka_adv:?}");
    assert_eq!(lv_adv.last(), Some(&18000), "lvsd {lv_adv:?}");
    for want in [1_200_000, 2_000_000] {
        assert!(ka_nl.contains(&want), "keepalived rtnetlink {ka_nl:?}");
        assert!(lv_nl.contains(&want), "lvsd rtnetlink {lv_nl:?}");
    }
}

// ---- process tuning --------------------------------------------------------------------

/// (nice, rt_priority, policy, Cpus_allowed_list) of thread `tid` of `pid`.
fn sched_of(pid: i32, tid: i32) -> (i64, i64, i64, String) {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/stat")).expect("stat");
    let after: Vec<&str> = stat
        .rsplit_once(')')
        .expect("stat has a comm")
        .1
        .split_whitespace()
        .collect();
    // fields 19 (nice), 40 (rt_priority), 41 (policy); `after` starts at field 3
    let f = |n: usize| after[n - 3].parse::<i64>().expect("number");
    let status = std::fs::read_to_string(format!("/proc/{pid}/task/{tid}/status")).expect("status");
    let cpus = status
        .lines()
        .find_map(|l| l.strip_prefix("Cpus_allowed_list:"))
        .expect("Cpus_allowed_list")
        .trim()
        .to_string();
    (f(19), f(40), f(41), cpus)
}

/// The threads of `pid` whose name is `comm`.
fn threads_named(pid: i32, comm: &str) -> Vec<i32> {
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .expect("tasks")
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_string_lossy().parse::<i32>().ok())
        .filter(|t| {
            std::fs::read_to_string(format!("/proc/{pid}/task/{t}/comm"))
                .is_ok_and(|c| c.trim() == comm)
        })
        .collect()
}

/// `vrrp_priority`, `vrrp_rt_priority` and `vrrp_cpu_affinity` leave the thread that runs
/// VRRP as keepalived leaves its VRRP process (nice, SCHED_RR priority, CPU set: with a
/// real-time priority the nice value is not set);
/// `checker_priority` and `checker_cpu_affinity` go on lvsd's checkers' thread and the
/// threads of its main runtime (the LVS side), keepalived's checker process.
#[test]
fn vrrp_and_checker_scheduling_as_keepalived() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    let cases = [
        (
            "  vrrp_priority -7\n  vrrp_rt_priority 3\n  vrrp_cpu_affinity 0\n  \
             checker_priority 6\n  checker_cpu_affinity 1",
            // SCHED_RR is policy 2; with a real-time priority the nice value is left alone
            (0, 3, 2, "0"),
        ),
        (
            "  vrrp_priority -7\n  checker_priority 6\n  checker_cpu_affinity 1",
            (-7, 0, 0, "all"),
        ),
    ];
    for (tuning, want) in cases {
        let mut got = Vec::new();
        for kind in [Kind::Keepalived, Kind::Lvsd] {
            let lab = Lab::new("tu", 1);
            let c = conf("T", 150, tuning, "");
            // lvsd with its LVS side too: the checkers' thread is the LVS side's.
            let d = match kind {
                Kind::Lvsd => lab.spawn_both_sides(0, "s", &c, &[]),
                _ => lab.spawn(0, kind, "s", &c),
            };
            assert!(
                d.wait_log("Entering MASTER STATE", 10 * SEC),
                "{}: never master\n{}",
                kind.label(),
                logs(&[&d])
            );
            let pid = vrrp_pid(&d);
            let tid = match kind {
                Kind::Keepalived => pid,
                _ => *threads_named(pid, "lvsd-vrrp")
                    .first()
                    .expect("a thread named lvsd-vrrp"),
            };
            got.push(sched_of(pid, tid));
            if kind == Kind::Lvsd {
                // (the main thread, tid = pid, is named lvsd too: not a runtime thread)
                let workers: Vec<i32> = threads_named(pid, "lvsd")
                    .into_iter()
                    .filter(|t| *t != pid)
                    .collect();
                assert!(!workers.is_empty(), "no LVS side threads");
                // The checkers' own thread, where every check runs.
                let checkers = threads_named(pid, "lvsd-checkers");
                assert_eq!(checkers.len(), 1, "one checkers' thread");
                for t in workers.into_iter().chain(checkers) {
                    let (nice, _, policy, cpus) = sched_of(pid, t);
                    assert_eq!(
                        (nice, policy, cpus.as_str()),
                        (6, 0, "1"),
                        "checker thread {t}"
                    );
                }
            }
        }
        eprintln!(
            "{tuning:?}: VRRP (nice, rt_priority, policy, cpus): keepalived {:?}, lvsd {:?}",
            got[0], got[1]
        );
        // "all": the CPUs this test may use
        let cpus = match want.3 {
            "all" => sched_of(std::process::id() as i32, std::process::id() as i32).3,
            c => c.to_string(),
        };
        let want = (want.0, want.1, want.2, cpus);
        assert_eq!(got[0], want, "keepalived");
        assert_eq!(got[1], got[0], "lvsd differs from keepalived");
    }
}

// ---- dynamic_interfaces ------------------------------------------------------------------

/// Seconds from the creation of eth9 to VI_2's VIP on it, for `subject` running a file
/// whose VI_2 names eth9 before it exists (`dynamic_interfaces`); VI_1 on eth0 runs
/// meanwhile.
fn dynamic_interfaces_run(subject: Kind) -> f64 {
    let lab = Lab::new("dy", 1);
    let ns = lab.node(0).ns.clone();
    let second = "vrrp_instance VI_2 {\n  interface eth9\n  virtual_router_id 52\n  \
                  priority 150\n  virtual_ipaddress {\n    10.98.9.100/24 dev eth9\n  }\n}\n";
    let c = format!("{}{second}", conf("D", 150, "  dynamic_interfaces", ""));
    let d = lab.spawn(0, subject, "s", &c);
    assert!(
        wait_addr(&ns, VIP, true, 10 * SEC).is_some(),
        "{}: VI_1 never master while eth9 is missing\n{}",
        subject.label(),
        logs(&[&d])
    );
    let vip2: Ipv4Addr = "10.98.9.100".parse().unwrap();
    assert!(
        addr_dev(&ns, vip2.into()).is_none(),
        "{}: VI_2's VIP before eth9",
        subject.label()
    );
    let t0 = std::time::Instant::now();
    for args in [
        &[
            "link", "add", "eth9", "type", "veth", "peer", "name", "eth9p",
        ][..],
        &["addr", "add", "10.98.9.1/24", "dev", "eth9"],
        &["link", "set", "eth9p", "up"],
        &["link", "set", "eth9", "up"],
    ] {
        let st = std::process::Command::new("ip")
            .arg("-n")
            .arg(&ns)
            .args(args)
            .status();
        assert!(st.is_ok_and(|s| s.success()), "ip {args:?}");
    }
    assert!(
        wait_addr_any(&ns, vip2.into(), true, 15 * SEC).is_some(),
        "{}: VI_2 never master on eth9 once created\n{}",
        subject.label(),
        logs(&[&d])
    );
    assert_eq!(
        addr_dev(&ns, vip2.into()).as_deref(),
        Some("eth9"),
        "{}",
        subject.label()
    );
    assert!(has_addr(&ns, VIP), "{}: VI_1 lost its VIP", subject.label());
    t0.elapsed().as_secs_f64()
}

/// `dynamic_interfaces`: an instance whose interface does not exist yet waits (FAULT)
/// while the others run, and becomes master once the interface is created, as under
/// keepalived.
#[test]
fn dynamic_interfaces_as_keepalived() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    let k = dynamic_interfaces_run(Kind::Keepalived);
    let l = dynamic_interfaces_run(Kind::Lvsd);
    eprintln!("eth9 created to VI_2 master: keepalived {k:.2} s, lvsd {l:.2} s");
    // BACKUP then Master_Down (3 × 1 s + skew) after the link comes up
    assert!(l < k + 1.5, "lvsd took {l:.2} s, keepalived {k:.2} s");
}

/// `log_unknown_vrids`: an advert for a VRID no instance has on the interface is logged
/// (once a minute per VRID); without the option it is not.
#[test]
fn log_unknown_vrids_names_the_stranger() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    for (on, want) in [(true, true), (false, false)] {
        let lab = Lab::new("uv", 2);
        let global = if on { "  log_unknown_vrids" } else { "" };
        let d = lab.spawn(0, Kind::Lvsd, "s", &conf("U", 150, global, ""));
        let other = conf("O", 100, "", "")
            .replace(&format!("virtual_router_id {VRID}"), "virtual_router_id 77");
        let _peer = lab.spawn(1, Kind::Keepalived, "p", &other);
        let seen = d.wait_log("unknown VRID 77", 8 * SEC);
        assert_eq!(seen, want, "log_unknown_vrids {on}:\n{}", logs(&[&d]));
        if want {
            std::thread::sleep(3 * SEC);
            let n = d.log_text().matches("unknown VRID 77").count();
            assert_eq!(n, 1, "logged more than once a minute:\n{}", logs(&[&d]));
        }
    }
}

/// `promote_secondaries`: the interface's promote_secondaries sysctl is 1 while the daemon
/// runs, and back to its value after it stops, under lvsd as under keepalived.
#[test]
fn promote_secondaries_as_keepalived() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    let read = |ns: &str| {
        let out = std::process::Command::new("ip")
            .args(["netns", "exec", ns, "sysctl", "-n"])
            .arg("net.ipv4.conf.eth0.promote_secondaries")
            .output()
            .expect("sysctl");
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    let mut got = Vec::new();
    for kind in [Kind::Keepalived, Kind::Lvsd] {
        let lab = Lab::new("ps", 1);
        let ns = lab.node(0).ns.clone();
        let before = read(&ns);
        let mut d = lab.spawn(0, kind, "s", &conf("P", 150, "", "  promote_secondaries"));
        assert!(
            wait_addr(&ns, VIP, true, 10 * SEC).is_some(),
            "{}: never master\n{}",
            kind.label(),
            logs(&[&d])
        );
        let running = read(&ns);
        d.sigterm();
        assert!(
            d.wait_exit(10 * SEC).is_some(),
            "{} did not stop",
            kind.label()
        );
        got.push((before, running, read(&ns)));
    }
    eprintln!(
        "(before, running, after): keepalived {:?}, lvsd {:?}",
        got[0], got[1]
    );
    assert_eq!(
        got[0].1, "1",
        "keepalived does not set it: the harness sees nothing"
    );
    assert_eq!(got[1], got[0]);
}

// ---- unicast_ttl, mcast_dst_ip -----------------------------------------------------------

/// A file with three instances, each on its own VRID and VIP (10.99.0.1xx). `me`/`them`:
/// this node's and the other's address; `lead`: this node is the higher priority of
/// U (unicast, `unicast_ttl 7`) and G1 (`mcast_dst_ip 224.0.0.99`), the other of G2
/// (`mcast_dst_ip 224.0.0.98`).
fn groups_conf(me: Ipv4Addr, them: Ipv4Addr, lead: bool) -> String {
    let (hi, lo) = if lead { (150, 100) } else { (100, 150) };
    let inst = |name: &str, vrid: u8, prio: u8, extra: String| {
        format!(
            "vrrp_instance {name} {{\n  state BACKUP\n  interface eth0\n  virtual_router_id {vrid}\n  \
             priority {prio}\n  advert_int 1\n{extra}  virtual_ipaddress {{\n    10.99.0.{vrid}/24 dev eth0\n  }}\n}}\n"
        )
    };
    format!(
        "global_defs {{\n  router_id R{}\n}}\n{}{}{}",
        me.octets()[3],
        inst(
            "U",
            151,
            hi,
            format!(
                "  unicast_src_ip {me}\n  unicast_peer {{\n    {them}\n  }}\n  unicast_ttl 7\n"
            )
        ),
        inst("G1", 152, hi, "  mcast_dst_ip 224.0.0.99\n".to_string()),
        inst("G2", 153, lo, "  mcast_dst_ip 224.0.0.98\n".to_string()),
    )
}

struct GroupsRun {
    /// (VIP .151, .152, .153) held by the subject after the run.
    held: [bool; 3],
    /// TTLs of the subject's unicast adverts (VRID 151).
    unicast_ttls: Vec<u8>,
    /// Destinations of the subject's adverts for VRID 152.
    g1_dsts: Vec<Ipv4Addr>,
    /// The multicast groups joined on the subject's eth0 (`ip maddr`).
    joined: Vec<String>,
}

/// The subject (node 1) leads U and G1, keepalived (node 2) leads G2: each must hear the
/// other on the instance's own group (or by unicast), so each VIP is held by one node.
fn groups_run(subject: Kind) -> GroupsRun {
    let lab = Lab::new("grp", 2);
    let (a, b) = (lab.node(0).clone(), lab.node(1).clone());
    let cap = Capture::start(&a.ns, "eth0");
    let t0 = SystemTime::now();
    let peer = lab.spawn(1, Kind::Keepalived, "peer", &groups_conf(b.ip, a.ip, false));
    let d = lab.spawn(0, subject, "s", &groups_conf(a.ip, b.ip, true));
    std::thread::sleep(Duration::from_millis(6000));
    let vip = |n: u8| Ipv4Addr::new(10, 99, 0, n);
    let held = [151, 152, 153].map(|n| has_addr(&a.ns, vip(n)));
    let peer_held = [151, 152, 153].map(|n| has_addr(&b.ns, vip(n)));
    let frames = cap.frames();
    let mine = |vrid: u8| {
        frames
            .iter()
            .filter(|f| f.at >= t0)
            .filter_map(move |f| match f.what {
                What::Vrrp {
                    src,
                    dst,
                    vrid: v,
                    ttl,
                    ..
                } if src == a.ip && v == vrid => Some((dst, ttl)),
                _ => None,
            })
    };
    let unicast_ttls = mine(151).map(|(_, t)| t).collect();
    let g1_dsts = mine(152).map(|(d, _)| d).collect();
    let maddr = std::process::Command::new("ip")
        .args(["-n", &a.ns, "maddr", "show", "dev", "eth0"])
        .output()
        .expect("ip maddr");
    let mut joined: Vec<String> = String::from_utf8_lossy(&maddr.stdout)
        .lines()
        .filter_map(|l| l.trim().strip_prefix("inet "))
        .map(|g| g.split_whitespace().next().unwrap_or("").to_string())
        .collect();
    joined.sort();
    assert_eq!(
        peer_held,
        held.map(|h| !h),
        "{}: each VIP must be held by one node\n{}",
        subject.label(),
        logs(&[&d, &peer])
    );
    GroupsRun {
        held,
        unicast_ttls,
        g1_dsts,
        joined,
    }
}

#[test]
fn unicast_ttl_and_mcast_dst_ip_as_keepalived() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    let k = groups_run(Kind::Keepalived);
    let l = groups_run(Kind::Lvsd);
    for (who, r) in [("keepalived", &k), ("lvsd", &l)] {
        eprintln!(
            "{who}: held {:?}, unicast TTLs {:?}, G1 destinations {:?}, joined {:?}",
            r.held, r.unicast_ttls, r.g1_dsts, r.joined
        );
        assert_eq!(r.held, [true, true, false], "{who}");
        assert!(!r.unicast_ttls.is_empty(), "{who}: no unicast advert seen");
        assert!(
            r.unicast_ttls.iter().all(|t| *t == 7),
            "{who}: {:?}",
            r.unicast_ttls
        );
        assert!(!r.g1_dsts.is_empty(), "{who}: no G1 advert seen");
        assert!(
            r.g1_dsts.iter().all(|d| *d == Ipv4Addr::new(224, 0, 0, 99)),
            "{who}: {:?}",
            r.g1_dsts
        );
        for g in ["224.0.0.98", "224.0.0.99"] {
            assert!(
                r.joined.iter().any(|j| j == g),
                "{who}: {g} not joined: {:?}",
                r.joined
            );
        }
    }
    assert_eq!(k.joined, l.joined, "the groups joined on eth0");
}

// ---- track_src_ip, unicast_fault_no_peer ------------------------------------------------

/// T: BACKUP, source 10.99.0.50 with `track_src_ip`, VIP .161 (`prio`); N:
/// `unicast_src_ip` and `unicast_fault_no_peer` without any peer, VIP .162.
fn src_conf(prio: u8, src: &str) -> String {
    format!(
        "global_defs {{\n  router_id S{prio}\n}}\n\
         vrrp_instance T {{\n  state BACKUP\n  interface eth0\n  virtual_router_id 161\n  \
         priority {prio}\n  advert_int 1\n  mcast_src_ip {src}\n  track_src_ip\n  \
         virtual_ipaddress {{\n    10.99.0.161/24 dev eth0\n  }}\n}}\n\
         vrrp_instance N {{\n  state MASTER\n  interface eth0\n  virtual_router_id 162\n  \
         priority 150\n  advert_int 1\n  unicast_src_ip {src}\n  unicast_fault_no_peer\n  \
         virtual_ipaddress {{\n    10.99.0.162/24 dev eth0\n  }}\n}}\n"
    )
}

struct SrcRun {
    /// T took the VIP after the master stopped while its source address was gone.
    taken_without_src: bool,
    /// Seconds from the address's return until T held the VIP.
    back: Option<f64>,
    /// N's VIP was ever seen.
    n_held: bool,
}

/// The subject's T is BACKUP to keepalived (priority 200) with its source address in
/// place; the address is deleted and the master stops: a T in FAULT does not take over.
/// The address comes back: T becomes master.
fn src_run(subject: Kind) -> SrcRun {
    let lab = Lab::new("src", 2);
    let a = lab.node(0).clone();
    let ip = |args: &[&str]| {
        let ok = std::process::Command::new("ip")
            .args(["-n", &a.ns])
            .args(args)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "ip {args:?}");
    };
    ip(&["addr", "del", &format!("{}/24", a.ip), "dev", "eth0"]);
    ip(&["addr", "add", "10.99.0.50/24", "dev", "eth0"]);
    let t_vip = Ipv4Addr::new(10, 99, 0, 161);
    let n_vip = Ipv4Addr::new(10, 99, 0, 162);
    let peer = lab.spawn(1, Kind::Keepalived, "peer", &src_conf(200, "10.99.0.2"));
    assert!(
        wait_addr(&lab.node(1).ns, t_vip, true, 6 * SEC).is_some(),
        "the peer never became master\n{}",
        logs(&[&peer])
    );
    let d = lab.spawn(0, subject, "s", &src_conf(100, "10.99.0.50"));
    std::thread::sleep(Duration::from_millis(2000));
    let mut n_held = has_addr(&a.ns, n_vip);
    ip(&["addr", "del", "10.99.0.50/24", "dev", "eth0"]);
    std::thread::sleep(Duration::from_millis(300));
    peer.sigterm();
    let taken_without_src = wait_addr(&a.ns, t_vip, true, 2 * SEC).is_some();
    n_held |= has_addr(&a.ns, n_vip);
    ip(&["addr", "add", "10.99.0.50/24", "dev", "eth0"]);
    let back = wait_addr(&a.ns, t_vip, true, 6 * SEC).map(|d| d.as_secs_f64());
    n_held |= has_addr(&a.ns, n_vip);
    eprintln!("--- {}\n{}", subject.label(), logs(&[&d]));
    SrcRun {
        taken_without_src,
        back,
        n_held,
    }
}

#[test]
fn track_src_ip_and_unicast_fault_no_peer_as_keepalived() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    for subject in [Kind::Keepalived, Kind::Lvsd] {
        let r = src_run(subject);
        let who = subject.label();
        eprintln!(
            "{who}: T took over without its source {}, back after {:?} s; N held {}",
            r.taken_without_src, r.back, r.n_held
        );
        assert!(!r.n_held, "{who}: N left FAULT without a peer");
        if subject == Kind::Keepalived {
            // keepalived 2.2.7 reads track_src_ip but never acts on it: its netlink code
            // compares the instance's socket address structure with the bare address
            // (keepalived_netlink.c, `inaddr_equal(..., &vrrp->saddr, ...)`), which never
            // matches. lvsd does what keepalived.conf(5) says (docs/configuration.md).
            assert!(r.taken_without_src, "keepalived now honours track_src_ip");
            continue;
        }
        assert!(!r.taken_without_src, "{who}: T was not in FAULT");
        // FAULT -> BACKUP -> MASTER after Master_Down_Interval (3 s + skew).
        assert!(
            r.back.is_some_and(|s| s < 5.0),
            "{who}: T did not come back: {:?}",
            r.back
        );
    }
}

// ---- virtual_ipaddress options ----------------------------------------------------------

/// Every `ip address add` option keepalived 2.2.7 reads on a virtual address.
fn vip_opts_conf() -> String {
    "global_defs {\n  router_id S\n}\n\
     vrrp_instance V {\n  state MASTER\n  interface eth0\n  virtual_router_id 171\n  priority 150\n  \
     advert_int 1\n  virtual_ipaddress {\n    \
       10.99.0.171 peer 10.99.0.172 dev eth0\n    \
       10.99.0.173/24 dev eth0 noprefixroute home\n    \
       239.1.2.3/32 dev eth0 autojoin\n  }\n  \
     virtual_ipaddress_excluded {\n    \
       fd00:99::1/64 dev eth0 -nodad preferred_lft 100 home\n    \
       fd00:99::2/128 dev eth0\n    \
       fd00:99::3/64 dev eth0 preferred_lft forever noprefixroute\n    \
       fd00:99::4/64 dev eth0 mngtmpaddr\n  }\n}\n"
        .to_string()
}

/// The addresses on eth0 other than the node's own, one line each: address, peer,
/// prefix, flags and whether the preferred lifetime is 0, finite or forever.
fn eth0_addrs(ns: &str, own: Ipv4Addr) -> Vec<String> {
    let out = std::process::Command::new("ip")
        .args(["-n", ns, "-d", "-j", "addr", "show", "dev", "eth0"])
        .output()
        .expect("ip addr");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("ip -j output");
    let mut lines = Vec::new();
    for a in v[0]["addr_info"].as_array().into_iter().flatten() {
        let local = a["local"].as_str().unwrap_or("");
        if local == own.to_string() || local.starts_with("fe80:") {
            continue;
        }
        let mut s = format!("{local}/{}", a["prefixlen"]);
        if let Some(p) = a["address"].as_str() {
            s.push_str(&format!(" peer {p}"));
        }
        for f in [
            "home",
            "nodad",
            "mngtmpaddr",
            "noprefixroute",
            "autojoin",
            "deprecated",
            "tentative",
        ] {
            if a[f].as_bool() == Some(true) {
                s.push_str(&format!(" {f}"));
            }
        }
        if a["family"] == "inet6" {
            s.push_str(match a["preferred_life_time"].as_u64() {
                Some(0) => " preferred 0",
                Some(4294967295) => " preferred forever",
                Some(n) if n <= 100 && n > 80 => " preferred ~100",
                _ => " preferred ?",
            });
        }
        lines.push(s);
    }
    lines.sort();
    lines
}

/// (addresses while MASTER, addresses left after a stop, keepalived.data's address lines).
fn vip_opts_run(subject: Kind) -> (Vec<String>, Vec<String>, Vec<String>) {
    let lab = Lab::new("vo", 1);
    let a = lab.node(0).clone();
    let d = lab.spawn(0, subject, "s", &vip_opts_conf());
    assert!(
        wait_addr(&a.ns, Ipv4Addr::new(10, 99, 0, 173), true, 6 * SEC).is_some(),
        "{}: never became master\n{}",
        subject.label(),
        logs(&[&d])
    );
    std::thread::sleep(Duration::from_millis(500));
    let held = eth0_addrs(&a.ns, a.ip);
    let dumped = vip_dump_lines(&d);
    d.sigterm();
    std::thread::sleep(Duration::from_millis(1500));
    let left = eth0_addrs(&a.ns, a.ip);
    eprintln!("--- {}\n{}", subject.label(), logs(&[&d]));
    (held, left, dumped)
}

/// The address lines of keepalived.data (SIGUSR1): the five-space lines under
/// "Virtual IP" and "Virtual IP Excluded".
fn vip_dump_lines(d: &Daemon) -> Vec<String> {
    let text = d.data_dump("Virtual IP Excluded");
    let mut out = Vec::new();
    let mut in_vips = false;
    for l in text.lines() {
        if l.starts_with("   Virtual IP") {
            in_vips = true;
        } else if in_vips && l.starts_with("     ") {
            out.push(l.trim().to_string());
        } else {
            in_vips = false;
        }
    }
    out
}

#[test]
fn vip_options_as_keepalived() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    let (kh, kl, kd) = vip_opts_run(Kind::Keepalived);
    let (lh, ll, ld) = vip_opts_run(Kind::Lvsd);
    eprintln!("keepalived.data: keepalived {kd:#?}\nlvsd {ld:#?}");
    eprintln!("keepalived: {kh:#?}\nleft {kl:?}\nlvsd: {lh:#?}\nleft {ll:?}");
    assert_eq!(kh.len(), 7, "keepalived: {kh:#?}");
    assert!(
        kh.iter()
            .any(|l| l.starts_with("fd00:99::4/64 nodad mngtmpaddr")),
        "keepalived did not set mngtmpaddr: {kh:#?}"
    );
    assert_eq!(lh, kh, "the addresses as keepalived sets them");
    assert!(ll.is_empty(), "lvsd left {ll:?}");
    assert_eq!(kd.len(), 7, "keepalived.data: {kd:#?}");
    assert_eq!(ld, kd, "keepalived.data's address lines (lvsd left)");
}

// ---- fifo_write_vrrp_states_on_reload ---------------------------------------------------

/// The lines written to the fifo `path` (made here), read in the background.
fn read_fifo(path: &std::path::Path) -> std::sync::Arc<std::sync::Mutex<Vec<String>>> {
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let (out, path) = (lines.clone(), path.to_path_buf());
    // Opened for writing too, so that a daemon closing and reopening its end (keepalived
    // does on reload) gives no end of file; the thread ends with the test process.
    std::thread::spawn(move || {
        use std::io::BufRead;
        let Ok(f) = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
        else {
            return;
        };
        for l in std::io::BufReader::new(f).lines() {
            match l {
                Ok(l) => out.lock().expect("fifo lines").push(l),
                Err(_) => break,
            }
        }
    });
    lines
}

/// M becomes MASTER alone, F is in FAULT (it tracks trk0, which is down); after a
/// SIGHUP with the file unchanged, the fifo lines written by the reload.
fn fifo_reload_run(subject: Kind) -> Vec<String> {
    let lab = Lab::new("fr", 1);
    let a = lab.node(0).clone();
    let ok = std::process::Command::new("ip")
        .args([
            "-n", &a.ns, "link", "add", "trk0", "type", "veth", "peer", "name", "trk1",
        ])
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "ip link add trk0");
    let fifo = lab.path(&format!("fifo-{}", subject.label()));
    let lines = read_fifo(&fifo);
    let conf = format!(
        "global_defs {{\n  router_id S\n  notify_fifo {}\n  fifo_write_vrrp_states_on_reload\n}}\n\
         vrrp_instance M {{\n  interface eth0\n  virtual_router_id 181\n  priority 150\n  \
         advert_int 1\n  virtual_ipaddress {{\n    10.99.0.181/24 dev eth0\n  }}\n}}\n\
         vrrp_instance F {{\n  interface eth0\n  virtual_router_id 182\n  priority 120\n  \
         advert_int 1\n  track_interface {{\n    trk0\n  }}\n  virtual_ipaddress {{\n    \
         10.99.0.182/24 dev eth0\n  }}\n}}\n",
        fifo.display()
    );
    let d = lab.spawn(0, subject, "s", &conf);
    assert!(
        wait_addr(&a.ns, Ipv4Addr::new(10, 99, 0, 181), true, 8 * SEC).is_some(),
        "{}: M never became master\n{}",
        subject.label(),
        logs(&[&d])
    );
    std::thread::sleep(Duration::from_millis(500));
    let n = lines.lock().expect("fifo lines").len();
    let pid = d.pid().expect("daemon pid");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGHUP,
    )
    .expect("SIGHUP");
    std::thread::sleep(Duration::from_millis(2500));
    let all = lines.lock().expect("fifo lines").clone();
    eprintln!("--- {}: fifo {all:?}\n{}", subject.label(), logs(&[&d]));
    all[n..].to_vec()
}

#[test]
fn fifo_write_vrrp_states_on_reload_as_keepalived() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    let k = fifo_reload_run(Kind::Keepalived);
    let l = fifo_reload_run(Kind::Lvsd);
    eprintln!("after the reload: keepalived {k:?}, lvsd {l:?}");
    assert!(!k.is_empty(), "keepalived wrote nothing on reload");
    assert_eq!(l, k);
}

// ---- interface_up_down_delays -----------------------------------------------------------

/// (VIP lost during a 0.8 s carrier bounce, seconds from carrier loss to VIP removal when
/// it lasts) for the subject alone as master, `eth0 1.5 0.5` delays.
fn delays_run(subject: Kind) -> (bool, Option<f64>) {
    let lab = Lab::new("ud", 1);
    let a = lab.node(0).clone();
    let conf = conf("S", 150, "", "");
    let conf = format!("interface_up_down_delays {{\n  eth0 1.5 0.5\n}}\n{conf}");
    let d = lab.spawn(0, subject, "s", &conf);
    assert!(
        wait_addr(&a.ns, VIP, true, 8 * SEC).is_some(),
        "{}: never became master\n{}",
        subject.label(),
        logs(&[&d])
    );
    let port = |state: &str| {
        let ok = std::process::Command::new("ip")
            .args(["-n", &lab.hub, "link", "set", "p1", state])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "ip link set p1 {state}");
    };
    port("down");
    let lost_in_bounce = wait_addr(&a.ns, VIP, false, Duration::from_millis(800)).is_some();
    port("up");
    std::thread::sleep(Duration::from_millis(1500));
    let lost_in_bounce = lost_in_bounce || !has_addr(&a.ns, VIP);
    port("down");
    let gone = wait_addr(&a.ns, VIP, false, 4 * SEC).map(|d| d.as_secs_f64());
    eprintln!("--- {}\n{}", subject.label(), logs(&[&d]));
    (lost_in_bounce, gone)
}

#[test]
fn interface_up_down_delays_as_keepalived() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    for subject in [Kind::Keepalived, Kind::Lvsd] {
        let (bounce, gone) = delays_run(subject);
        let who = subject.label();
        eprintln!("{who}: VIP lost in the bounce {bounce}, gone {gone:?} s after the carrier");
        assert!(!bounce, "{who}: a 0.8 s bounce reached the instance");
        assert!(
            gone.is_some_and(|s| (1.4..2.2).contains(&s)),
            "{who}: VIP gone after {gone:?} s, want the 1.5 s delay"
        );
    }
}
