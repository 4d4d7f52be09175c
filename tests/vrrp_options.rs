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
