//! `lvsd-ipvs`: drives the IPVS client directly, for the VM tests and benchmarks.
//!
//!   lvsd-ipvs selftest OUTDIR   every kind of service/dest/daemon/timeout operation, each
//!                               step checked against an in-memory model of the table and
//!                               `ipvsadm -S -n` saved to OUTDIR/NN-step.txt
//!   lvsd-ipvs bench N M [BATCH] [ack-each] program N services x M dests (ack-each: every
//!                            request asks for an ack, not only each batch's last), print the
//!                            figures, flush
//!   lvsd-ipvs time-to-table ADDR:PORT M TOTAL LOG -- CMD [ARG...]
//!                            start CMD (output to LOG), time until the kernel's TCP
//!                            service ADDR:PORT has M destinations and the table TOTAL
//!                            entries, print the figure, then stop CMD with SIGTERM
//!   lvsd-ipvs await | rss | listen  the lifecycle benchmark's steps (see `lifecycle`)
//!   lvsd-ipvs list [stats|rate] same as `lvsd -L`
//!   lvsd-ipvs zero | flush

use anyhow::{anyhow, bail, Context, Result};
use lvsd::ipvs::client::{ClientError, IpvsClient, DEFAULT_BATCH};
use lvsd::ipvs::listing::{render, ListMode};
use lvsd::ipvs::types::*;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Instant;

type Model = BTreeMap<ServiceKey, (Service, BTreeMap<DestKey, Dest>)>;

fn model_apply(m: &mut Model, op: &Op) {
    match op {
        Op::AddService(s) | Op::EditService(s) => {
            let e = m
                .entry(s.key)
                .or_insert_with(|| (s.clone(), BTreeMap::new()));
            e.0 = s.clone();
        }
        Op::DelService(k) => {
            m.remove(k);
        }
        Op::AddDest(k, d) | Op::EditDest(k, d) => {
            if let Some(e) = m.get_mut(k) {
                e.1.insert(d.key, d.clone());
            }
        }
        Op::DelDest(k, d) => {
            if let Some(e) = m.get_mut(k) {
                e.1.remove(d);
            }
        }
    }
}

fn model_of_dump(t: &[ServiceState]) -> Model {
    t.iter()
        .map(|s| {
            (
                s.service.key,
                (
                    s.service.clone(),
                    s.dests
                        .iter()
                        .map(|d| (d.dest.key, d.dest.clone()))
                        .collect(),
                ),
            )
        })
        .collect()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
}

fn tcp(a: &str, port: u16) -> ServiceKey {
    ServiceKey::Addr {
        proto: Proto::Tcp,
        addr: ip(a),
        port,
    }
}
fn udp(a: &str, port: u16) -> ServiceKey {
    ServiceKey::Addr {
        proto: Proto::Udp,
        addr: ip(a),
        port,
    }
}

fn svc(key: ServiceKey, sched: &str) -> Service {
    Service {
        key,
        scheduler: sched.into(),
        flags: 0,
        timeout: 0,
        netmask: match key.family() {
            Family::V4 => u32::MAX,
            Family::V6 => 128,
        },
        pe_name: None,
    }
}

fn dest(a: &str, port: u16, forward: Forward, weight: u32) -> Dest {
    Dest {
        key: DestKey { addr: ip(a), port },
        forward,
        weight,
        upper_threshold: 0,
        lower_threshold: 0,
        tunnel: None,
    }
}

struct SelfTest {
    c: IpvsClient,
    model: Model,
    out: PathBuf,
    step: usize,
    failures: usize,
}

impl SelfTest {
    fn save_ipvsadm(&mut self, name: &str) -> Result<()> {
        let o = std::process::Command::new("ipvsadm")
            .args(["-S", "-n"])
            .output()
            .context("running ipvsadm -S -n")?;
        let path = self.out.join(format!("{:02}-{name}.txt", self.step));
        std::fs::write(&path, &o.stdout)?;
        Ok(())
    }

    fn check(&mut self, name: &str, ok: bool, detail: String) {
        if ok {
            println!("SELFTEST {:02} {name}: OK", self.step);
        } else {
            self.failures += 1;
            println!("SELFTEST {:02} {name}: FAIL {detail}", self.step);
        }
    }

    /// Applies ops expecting the given results, then compares the kernel with the model.
    fn step(&mut self, name: &str, ops: &[Op], want: &[OpResult]) -> Result<()> {
        self.step += 1;
        let got = self.c.apply_ops(ops)?;
        for (op, r) in ops.iter().zip(&got) {
            if r.is_ok() {
                model_apply(&mut self.model, op);
            }
        }
        let want: Vec<OpResult> = if want.is_empty() {
            vec![Ok(()); ops.len()]
        } else {
            want.to_vec()
        };
        self.check(
            &format!("{name} results"),
            got == want,
            format!("got {got:?} want {want:?}"),
        );
        let dumped = model_of_dump(&self.c.dump_all()?);
        let same = dumped == self.model;
        self.check(
            &format!("{name} table"),
            same,
            format!("kernel {dumped:#?}\nmodel {:#?}", self.model),
        );
        self.save_ipvsadm(name)
    }
}

fn selftest(out: &Path) -> Result<i32> {
    std::fs::create_dir_all(out)?;
    let mut c = IpvsClient::connect()?;
    c.flush()?;
    let info = c.info()?;
    println!(
        "SELFTEST info version={} conn_tab_size={}",
        info.version_string(),
        info.conn_tab_size
    );
    let mut t = SelfTest {
        c,
        model: Model::new(),
        out: out.to_path_buf(),
        step: 0,
        failures: 0,
    };
    t.check(
        "info",
        info.version >= 0x010200 && info.conn_tab_size > 0,
        format!("{info:?}"),
    );

    // --- services of every kind -----------------------------------------------------
    let fw4 = ServiceKey::Fwmark {
        family: Family::V4,
        mark: 7,
    };
    let fw6 = ServiceKey::Fwmark {
        family: Family::V6,
        mark: 8,
    };
    let sctp = ServiceKey::Addr {
        proto: Proto::Sctp,
        addr: ip("10.0.0.1"),
        port: 3868,
    };
    let v6 = tcp("fd00::1", 443);
    let mut s_udp = svc(udp("10.0.0.1", 53), "rr");
    s_udp.flags = svc_flags::PERSISTENT;
    s_udp.timeout = 300;
    s_udp.netmask = 0xffff_ff00;
    let mut s_sctp = svc(sctp, "sh");
    s_sctp.flags = svc_flags::SCHED1 | svc_flags::SCHED2;
    let mut s_fw4 = svc(fw4, "mh");
    s_fw4.flags = svc_flags::SCHED2;
    let mut s_v6 = svc(v6, "lc");
    s_v6.flags = svc_flags::PERSISTENT;
    s_v6.timeout = 600;
    s_v6.netmask = 64;
    let mut s_ops = svc(udp("10.0.0.2", 514), "sed");
    s_ops.flags = svc_flags::ONEPACKET;
    let mut ops = vec![
        Op::AddService(svc(tcp("10.0.0.1", 80), "wlc")),
        Op::AddService(s_udp.clone()),
        Op::AddService(s_sctp),
        Op::AddService(s_fw4),
        Op::AddService(svc(fw6, "wrr")),
        Op::AddService(s_v6.clone()),
        Op::AddService(s_ops),
    ];
    // one service per remaining scheduler
    for (i, s) in ["lblc", "lblcr", "dh", "nq", "fo", "ovf", "rr"]
        .iter()
        .enumerate()
    {
        ops.push(Op::AddService(svc(tcp("10.0.1.1", 1000 + i as u16), s)));
    }
    t.step("add-services", &ops, &[])?;

    // --- destinations: NAT with thresholds, DR, TUN ipip/gue/gre, IPv6 -----------------
    let mut nat = dest("10.1.0.2", 8080, Forward::Masq, 3);
    nat.upper_threshold = 100;
    nat.lower_threshold = 10;
    let mut gue = dest("10.1.0.5", 80, Forward::Tunnel, 1);
    gue.tunnel = Some(TunnelParams {
        tun_type: 1,
        tun_port: 6080,
        tun_flags: 1,
    });
    let mut gre = dest("10.1.0.6", 80, Forward::Tunnel, 1);
    gre.tunnel = Some(TunnelParams {
        tun_type: 2,
        tun_port: 0,
        tun_flags: 2,
    });
    let ops = vec![
        Op::AddDest(tcp("10.0.0.1", 80), nat.clone()),
        Op::AddDest(
            tcp("10.0.0.1", 80),
            dest("10.1.0.3", 80, Forward::DirectRoute, 0),
        ),
        Op::AddDest(
            tcp("10.0.0.1", 80),
            dest("10.1.0.4", 80, Forward::Tunnel, 2),
        ),
        Op::AddDest(tcp("10.0.0.1", 80), gue.clone()),
        Op::AddDest(tcp("10.0.0.1", 80), gre),
        Op::AddDest(udp("10.0.0.1", 53), dest("10.1.0.2", 53, Forward::Masq, 1)),
        Op::AddDest(sctp, dest("10.1.0.2", 3868, Forward::DirectRoute, 5)),
        Op::AddDest(fw4, dest("10.1.0.7", 0, Forward::DirectRoute, 1)),
        Op::AddDest(fw4, dest("10.1.0.8", 0, Forward::DirectRoute, 1)),
        Op::AddDest(fw6, dest("fd00::7", 0, Forward::DirectRoute, 2)),
        Op::AddDest(v6, dest("fd00::2", 443, Forward::Masq, 1)),
        Op::AddDest(v6, dest("fd00::3", 8443, Forward::Masq, 65535)),
    ];
    t.step("add-dests", &ops, &[])?;

    // --- edits ---------------------------------------------------------------------------
    let mut s_udp2 = s_udp.clone();
    s_udp2.scheduler = "wrr".into();
    s_udp2.timeout = 1800;
    s_udp2.netmask = 0xffff_0000;
    let mut s_v6b = s_v6.clone();
    s_v6b.flags = 0;
    s_v6b.timeout = 0;
    s_v6b.netmask = 128;
    let mut nat2 = nat.clone();
    nat2.weight = 7;
    nat2.upper_threshold = 0;
    nat2.lower_threshold = 0;
    let mut gue2 = gue.clone();
    gue2.tunnel = Some(TunnelParams {
        tun_type: 1,
        tun_port: 7070,
        tun_flags: 0,
    });
    let ops = vec![
        Op::EditService(s_udp2),
        Op::EditService(s_v6b),
        Op::EditDest(tcp("10.0.0.1", 80), nat2),
        Op::EditDest(tcp("10.0.0.1", 80), gue2),
        Op::EditDest(
            tcp("10.0.0.1", 80),
            dest("10.1.0.3", 80, Forward::DirectRoute, 9),
        ),
    ];
    t.step("edit", &ops, &[])?;

    // --- errors mapped to their op within one batch ---------------------------------------
    let ops = vec![
        Op::AddService(svc(tcp("10.0.0.1", 80), "wlc")), // exists
        Op::AddDest(tcp("10.0.0.1", 80), dest("10.1.0.9", 80, Forward::Masq, 1)),
        Op::DelDest(
            tcp("10.0.0.1", 80),
            DestKey {
                addr: ip("10.9.9.9"),
                port: 80,
            },
        ), // no such dest
        Op::DelService(tcp("10.9.9.9", 80)), // no such service
        Op::AddService(svc(tcp("10.0.0.3", 80), "no-such-sched")),
        Op::AddDest(tcp("10.0.0.1", 80), dest("10.1.0.10", 80, Forward::Masq, 1)),
    ];
    let want = vec![
        Err(libc::EEXIST),
        Ok(()),
        Err(libc::ENOENT),
        Err(libc::ESRCH),
        Err(libc::ENOENT),
        Ok(()),
    ];
    t.step("errors-in-batch", &ops, &want)?;

    // --- deletes --------------------------------------------------------------------------
    let ops = vec![
        Op::DelDest(
            tcp("10.0.0.1", 80),
            DestKey {
                addr: ip("10.1.0.6"),
                port: 80,
            },
        ),
        Op::DelDest(
            v6,
            DestKey {
                addr: ip("fd00::3"),
                port: 8443,
            },
        ),
        Op::DelService(fw6),
        Op::DelService(tcp("10.0.1.1", 1000)),
    ];
    t.step("delete", &ops, &[])?;

    // --- batching sizes: the same 300 ops one per send and 64 per send -------------------
    for batch in [1usize, 64] {
        let key = tcp("10.0.2.1", 80);
        let mut ops = vec![Op::AddService(svc(key, "rr"))];
        for i in 0..299u32 {
            let a = format!("10.2.{}.{}", i / 200, 1 + i % 200);
            ops.push(Op::AddDest(key, dest(&a, 80, Forward::DirectRoute, 1)));
        }
        t.c.set_batch(batch);
        let (sends0, recvs0) = (t.c.counters.sends, t.c.counters.recvs);
        t.step(&format!("batch-{batch}-add"), &ops, &[])?;
        let sends = t.c.counters.sends - sends0;
        let recvs = t.c.counters.recvs - recvs0;
        t.step(&format!("batch-{batch}-del"), &[Op::DelService(key)], &[])?;
        println!(
            "SELFTEST batch={batch}: 300 ops in {sends} sends (incl. dumps), acks in {recvs} receives"
        );
        // The kernel handles a whole send before it returns, so a batch's acks are all
        // queued when the client reads them: one recvmmsg per batch.
        if recvs > 300usize.div_ceil(batch) as u64 {
            bail!("batch {batch}: acks of 300 ops took {recvs} receives");
        }
    }
    t.c.set_batch(DEFAULT_BATCH);

    // --- 3 per send (three batches), in both ack modes (each batch's last request acked,
    // the default, and every request): errors map to their op also when the last request
    // of a batch is the one that fails -----------------------------------------------------
    for ack_each in [false, true] {
        let key = tcp("10.0.3.1", 80);
        let d1 = dest("10.3.0.1", 80, Forward::Masq, 1);
        let d2 = dest("10.3.0.2", 80, Forward::Masq, 2);
        let ops = vec![
            Op::AddService(svc(key, "wlc")),
            Op::AddService(svc(key, "wlc")), // exists
            Op::AddDest(key, d1.clone()),
            Op::AddDest(key, d1.clone()),        // exists
            Op::DelService(tcp("10.9.9.9", 80)), // no such service
            Op::AddDest(key, d1),                // exists, last of its batch
            Op::AddDest(key, d2),
            Op::DelDest(
                key,
                DestKey {
                    addr: ip("10.9.9.9"),
                    port: 80,
                },
            ), // no such dest, last of all
        ];
        let want = vec![
            Ok(()),
            Err(libc::EEXIST),
            Ok(()),
            Err(libc::EEXIST),
            Err(libc::ESRCH),
            Err(libc::EEXIST),
            Ok(()),
            Err(libc::ENOENT),
        ];
        t.c.set_batch(3);
        t.c.set_ack_each(ack_each);
        let sends0 = t.c.counters.sends;
        let got = t.c.apply_ops(&ops)?;
        let sends = t.c.counters.sends - sends0;
        t.c.set_ack_each(false);
        t.c.set_batch(DEFAULT_BATCH);
        t.check(
            &format!("batch-3 ack_each={ack_each} results"),
            got == want && sends == 3,
            format!("got {got:?} in {sends} sends, want {want:?} in 3"),
        );
        for (op, r) in ops.iter().zip(&got) {
            if r.is_ok() {
                model_apply(&mut t.model, op);
            }
        }
        t.step(
            &format!("batch-3-ack-each-{ack_each}-del"),
            &[Op::DelService(key)],
            &[],
        )?;
    }

    // --- timeouts ------------------------------------------------------------------------
    t.step += 1;
    let before = t.c.timeouts()?;
    let want = Timeouts {
        tcp: 901,
        tcp_fin: 121,
        udp: 301,
    };
    t.c.set_timeouts(&want)?;
    let got = t.c.timeouts()?;
    t.check("timeouts", got == want, format!("{before:?} -> {got:?}"));
    t.c.set_timeouts(&Timeouts {
        tcp: 0,
        tcp_fin: 0,
        udp: 302,
    })?;
    let got = t.c.timeouts()?;
    t.check(
        "timeouts-partial",
        got == Timeouts { udp: 302, ..want },
        format!("{got:?}"),
    );

    // --- sync daemon -----------------------------------------------------------------------
    t.step += 1;
    let ifname = std::env::var("SYNC_IF").unwrap_or_else(|_| "lvsync0".into());
    let master = SyncDaemon {
        state: SyncState::Master,
        interface: ifname.clone(),
        sync_id: 42,
        maxlen: Some(1400),
        group: Some(ip("224.0.0.81")),
        port: Some(8849),
        ttl: Some(2),
    };
    let backup = SyncDaemon {
        state: SyncState::Backup,
        interface: ifname,
        sync_id: 42,
        maxlen: None,
        group: None,
        port: None,
        ttl: None,
    };
    let r = t.c.start_daemon(&master);
    t.check("daemon-master-start", r.is_ok(), format!("{r:?}"));
    let r = t.c.start_daemon(&backup);
    t.check("daemon-backup-start", r.is_ok(), format!("{r:?}"));
    let r = t.c.start_daemon(&master);
    t.check(
        "daemon-master-twice-EEXIST",
        matches!(r, Err(ClientError::Kernel { errno, .. }) if errno == libc::EEXIST),
        format!("{r:?}"),
    );
    let ds = t.c.daemons()?;
    println!("SELFTEST daemons {ds:?}");
    let m = ds.iter().find(|d| d.state == SyncState::Master);
    t.check(
        "daemon-dump-master",
        m.is_some_and(|m| {
            m.interface == master.interface
                && m.sync_id == 42
                && m.maxlen == Some(1400)
                && m.group == master.group
                && m.port == Some(8849)
                && m.ttl == Some(2)
        }),
        format!("{m:?}"),
    );
    t.check(
        "daemon-dump-backup",
        ds.iter()
            .any(|d| d.state == SyncState::Backup && d.sync_id == 42),
        format!("{ds:?}"),
    );
    let o = std::process::Command::new("ipvsadm")
        .args(["-L", "--daemon"])
        .output()?;
    std::fs::write(t.out.join("daemon.txt"), &o.stdout)?;
    let r = t.c.stop_daemon(SyncState::Master);
    t.check("daemon-master-stop", r.is_ok(), format!("{r:?}"));
    let r = t.c.stop_daemon(SyncState::Backup);
    t.check("daemon-backup-stop", r.is_ok(), format!("{r:?}"));
    let ds = t.c.daemons()?;
    t.check("daemon-stopped", ds.is_empty(), format!("{ds:?}"));

    // --- zero and stats ---------------------------------------------------------------------
    t.step += 1;
    t.c.zero(Some(&tcp("10.0.0.1", 80)))?;
    t.c.zero(None)?;
    let table = t.c.dump_all()?;
    let all_zero = table.iter().all(|s| {
        s.stats == Stats::default() && s.dests.iter().all(|d| d.stats == Stats::default())
    });
    t.check("zero", all_zero, String::new());
    let r = t.c.zero(Some(&tcp("10.9.9.9", 1)));
    t.check(
        "zero-missing-ESRCH",
        matches!(r, Err(ClientError::Kernel { errno, .. }) if errno == libc::ESRCH),
        format!("{r:?}"),
    );
    let info = t.c.info()?;
    std::fs::write(
        t.out.join("listing.txt"),
        render(&info, &table, ListMode::Plain, None),
    )?;

    // --- flush ------------------------------------------------------------------------------
    t.step += 1;
    t.c.flush()?;
    let n = t.c.dump_all()?.len();
    t.check("flush", n == 0, format!("{n} services left"));
    t.save_ipvsadm("flushed")?;
    println!(
        "SELFTEST done: {} failures, counters {:?}",
        t.failures, t.c.counters
    );
    Ok(if t.failures == 0 { 0 } else { 1 })
}

fn bench(n: usize, m: usize, batch: usize, ack_each: bool) -> Result<i32> {
    let mut c = IpvsClient::connect()?;
    c.set_batch(batch);
    c.set_ack_each(ack_each);
    c.flush()?;
    let t0 = Instant::now();
    let mut ops = Vec::with_capacity(n * (m + 1));
    for i in 0..n {
        let key = ServiceKey::Addr {
            proto: Proto::Tcp,
            addr: IpAddr::from([
                10,
                100 + (i / 65536) as u8,
                (i / 256 % 256) as u8,
                (i % 256) as u8,
            ]),
            port: 80,
        };
        ops.push(Op::AddService(svc(key, "wlc")));
        for j in 0..m {
            let d = Dest {
                key: DestKey {
                    addr: IpAddr::from([192, 168, (j / 250) as u8, (1 + j % 250) as u8]),
                    port: 8080,
                },
                forward: Forward::Masq,
                weight: 1,
                upper_threshold: 0,
                lower_threshold: 0,
                tunnel: None,
            };
            ops.push(Op::AddDest(key, d));
        }
    }
    let t_build = t0.elapsed();
    let res = c.apply_ops(&ops)?;
    let t_apply = t0.elapsed();
    let failed = res.iter().filter(|r| r.is_err()).count();
    let table = c.dump_all()?;
    let t_dump = t0.elapsed() - t_apply;
    let dests: usize = table.iter().map(|s| s.dests.len()).sum();
    println!(
        "BENCH client services={n} dests_per_service={m} batch={batch} ack_each={ack_each} ops={} failed={failed} \
         build_ms={} apply_ms={} ops_per_s={:.0} sends={} ack_recvs={} dump_ms={} table_services={} table_dests={dests}",
        ops.len(),
        t_build.as_millis(),
        t_apply.as_millis(),
        ops.len() as f64 / t_apply.as_secs_f64(),
        c.counters.sends,
        c.counters.recvs,
        t_dump.as_millis(),
        table.len(),
    );
    if table.len() != n || dests != n * m || failed != 0 {
        bail!("table incomplete");
    }
    Ok(0)
}

/// How often [`time_to_table`] asks the kernel about the last service.
const POLL: std::time::Duration = std::time::Duration::from_millis(5);

/// Entries (services and destinations) in the kernel table.
fn table_entries(c: &mut IpvsClient) -> Result<usize> {
    let t = c.dump_all()?;
    Ok(t.len() + t.iter().map(|s| s.dests.len()).sum::<usize>())
}

/// CLOCK_MONOTONIC now, in seconds.
fn monotonic_s() -> f64 {
    nix::time::clock_gettime(nix::time::ClockId::CLOCK_MONOTONIC)
        .map(|t| t.tv_sec() as f64 + t.tv_nsec() as f64 / 1e9)
        .unwrap_or(0.0)
}

/// The machine's CPU time so far, in clock ticks: (busy, idle), from /proc/stat's `cpu`
/// line (idle and iowait count as idle).
fn guest_cpu_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let nums: Vec<u64> = stat
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .skip(1)
        .filter_map(|v| v.parse().ok())
        .collect();
    let idle = nums.get(3).copied().unwrap_or(0) + nums.get(4).copied().unwrap_or(0);
    (nums.iter().sum::<u64>().saturating_sub(idle), idle)
}

/// A `/proc/PID/stat` (or task) line: the command name and the fields after it (`state`
/// first: `ppid` is field 1, `minflt` 7, `utime` 11, `stime` 12).
fn stat_fields(stat: &str) -> Option<(&str, Vec<&str>)> {
    let (head, rest) = stat.rsplit_once(')')?;
    let comm = head.split_once('(').map(|(_, c)| c).unwrap_or("?");
    Some((comm, rest.split_whitespace().collect()))
}

/// One line on where the CPU went since `before` (from [`guest_cpu_ticks`]): the whole
/// machine's busy and idle time; process `pid`'s user and system time (its ended threads
/// included) and page faults; each of its live threads' and each child process's times
/// (ms; the kernel counts in clock ticks, 10 ms at the usual 100 Hz).
fn cpu_figures(pid: u32, before: &(u64, u64)) -> String {
    let tick_ms = 1000.0
        / nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
            .ok()
            .flatten()
            .unwrap_or(100) as f64;
    let now = guest_cpu_ticks();
    let mut line = format!(
        "cpu machine busy_ms={:.0} idle_ms={:.0}",
        now.0.saturating_sub(before.0) as f64 * tick_ms,
        now.1.saturating_sub(before.1) as f64 * tick_ms
    );
    let read = |p: PathBuf| std::fs::read_to_string(p).ok();
    let ms = |f: &[&str], i: usize| {
        f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0) * tick_ms
    };
    // "comm:user/sys" of a stat line
    let times = |stat: &str| {
        stat_fields(stat).map(|(comm, f)| format!("{comm}:{:.0}/{:.0}", ms(&f, 11), ms(&f, 12)))
    };
    if let Some(stat) = read(PathBuf::from(format!("/proc/{pid}/stat"))) {
        if let Some((_, f)) = stat_fields(&stat) {
            line += &format!(
                " daemon user_ms={:.0} sys_ms={:.0} page_faults={}",
                ms(&f, 11),
                ms(&f, 12),
                f.get(7).unwrap_or(&"?")
            );
        }
    }
    if let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) {
        let threads: Vec<String> = tasks
            .flatten()
            .filter_map(|t| read(t.path().join("stat")).and_then(|s| times(&s)))
            .collect();
        line += &format!(" live_threads(user/sys)=[{}]", threads.join(" "));
    }
    // its children (keepalived -C programs the table from a child process)
    let pid = pid.to_string();
    let children: Vec<String> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| read(e.path().join("stat")))
        .filter(|stat| stat_fields(stat).is_some_and(|(_, f)| f.get(1) == Some(&pid.as_str())))
        .filter_map(|stat| times(&stat))
        .collect();
    if !children.is_empty() {
        line += &format!(" children(user/sys)=[{}]", children.join(" "));
    }
    line
}

/// Starts a daemon and times it until the kernel table is complete: until the service
/// `last` (which both daemons program last) has `m` destinations, asked of the kernel every
/// [`POLL`] on a netlink socket opened beforehand (a process per poll, as `ipvsadm`, costs
/// tens of ms under TCG and blurs the figure by as much), then confirmed by counting the
/// whole table (`total` entries; if it is short, polled on until complete).
fn time_to_table(last: &str, m: usize, total: usize, log: &Path, cmd: &[String]) -> Result<i32> {
    let sa: std::net::SocketAddr = last
        .parse()
        .map_err(|_| anyhow!("not an ADDR:PORT: {last}"))?;
    let key = ServiceKey::Addr {
        proto: Proto::Tcp,
        addr: sa.ip(),
        port: sa.port(),
    };
    let (prog, args) = cmd.split_first().ok_or_else(|| anyhow!("no command"))?;
    let out = std::fs::File::create(log).with_context(|| format!("{}", log.display()))?;
    let mut c = IpvsClient::connect()?;
    let guest_before = guest_cpu_ticks();
    let mono_start = monotonic_s();
    let t0 = Instant::now();
    let mut child = std::process::Command::new(prog)
        .args(args)
        .stdout(out.try_clone()?)
        .stderr(out)
        .spawn()
        .with_context(|| format!("cannot start {prog}"))?;
    let limit = std::time::Duration::from_secs(600);
    let done = loop {
        // Until the service exists, a plain GET (the kernel's answer fits a small buffer);
        // then its destinations, a dump (each one a 32 KiB buffer the kernel zeroes).
        let last_complete = match c.service(&key)? {
            None => false,
            Some(_) => match c.dests(&key) {
                Ok(d) => d.len() >= m,
                Err(ClientError::Kernel { .. }) => false, // deleted meanwhile
                Err(e) => return Err(e.into()),
            },
        };
        if last_complete {
            let at = t0.elapsed();
            let cpu_at = cpu_figures(child.id(), &guest_before);
            let have = table_entries(&mut c)?;
            if have >= total {
                println!("BENCH-NOTE {cpu_at}");
                // for `perf report --time START,END` on a `perf record -k CLOCK_MONOTONIC`
                println!(
                    "BENCH-NOTE monotonic start={mono_start:.6} complete={:.6}",
                    mono_start + at.as_secs_f64()
                );
                break Some(at);
            }
            println!(
                "BENCH-NOTE the last service was complete before the table ({have} of {total})"
            );
            while table_entries(&mut c)? < total {
                std::thread::sleep(POLL);
            }
            break Some(t0.elapsed());
        }
        if let Some(st) = child.try_wait()? {
            println!("BENCH-NOTE {prog} exited early ({st})");
            break None;
        }
        if t0.elapsed() > limit {
            println!("BENCH-NOTE timeout");
            break None;
        }
        std::thread::sleep(POLL);
    };
    if let Some(t) = done {
        println!(
            "ms={:.1} entries={total} per_s={:.0}",
            t.as_secs_f64() * 1000.0,
            total as f64 / t.as_secs_f64()
        );
    }
    let pid = nix::unistd::Pid::from_raw(child.id() as libc::pid_t);
    if let Err(e) = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM) {
        println!("BENCH-NOTE cannot stop {prog}: {e}");
    }
    child.wait()?;
    Ok(if done.is_some() { 0 } else { 1 })
}

/// Entry point of the `lvsd-ipvs` binary.
pub fn tool_main(args: &[String]) -> Result<i32> {
    if let Some(r) = crate::lifecycle::main(args) {
        return r;
    }
    if let Some(r) = crate::checkload::main(args) {
        return r;
    }
    let num = |i: usize, d: usize| -> Result<usize> {
        match args.get(i) {
            Some(s) => s.parse().map_err(|_| anyhow!("not a number: {s}")),
            None => Ok(d),
        }
    };
    match args.first().map(String::as_str) {
        Some("selftest") => selftest(Path::new(
            args.get(1).map(String::as_str).unwrap_or("/tmp/selftest"),
        )),
        Some("bench") => bench(
            num(1, 1000)?,
            num(2, 20)?,
            num(3, DEFAULT_BATCH)?,
            args.get(4).map(String::as_str) == Some("ack-each"),
        ),
        Some("time-to-table") => {
            let (Some(last), Some(log)) = (args.get(1), args.get(4)) else {
                bail!("usage: time-to-table ADDR:PORT M TOTAL LOG -- CMD [ARG...]");
            };
            let cmd = match args.iter().position(|a| a == "--") {
                Some(i) => &args[i + 1..],
                None => bail!("time-to-table: no -- before the command"),
            };
            time_to_table(last, num(2, 20)?, num(3, 21000)?, Path::new(log), cmd)
        }
        Some("list") => {
            let mode = match args.get(1).map(String::as_str) {
                Some("stats") => ListMode::Stats,
                Some("rate") => ListMode::Rate,
                _ => ListMode::Plain,
            };
            let mut c = IpvsClient::connect()?;
            let info = c.info()?;
            let t = c.dump_all()?;
            print!("{}", render(&info, &t, mode, None));
            Ok(0)
        }
        Some("zero") => {
            IpvsClient::connect()?.zero(None)?;
            Ok(0)
        }
        Some("flush") => {
            IpvsClient::connect()?.flush()?;
            Ok(0)
        }
        _ => {
            eprintln!("usage: lvsd-ipvs selftest OUTDIR | bench N M [BATCH] [ack-each] | time-to-table ADDR:PORT M TOTAL LOG -- CMD... | list [plain|stats|rate] | zero | flush | serve ADDR:PORT COUNTFILE | cpu PID");
            Ok(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::stat_fields;

    #[test]
    fn stat_line_fields_after_the_command_name() {
        // a command name may hold blanks and parentheses: the last `)` ends it
        let stat = "136 (lvsd (x) y) S 120 136 120 0 -1 4194560 3587 0 0 0 15 38 0 0 20 0 4";
        let (comm, f) = stat_fields(stat).unwrap();
        assert_eq!(comm, "lvsd (x) y");
        assert_eq!(
            (f[0], f[1], f[7], f[11], f[12]),
            ("S", "120", "3587", "15", "38")
        );
        assert!(stat_fields("no parenthesis").is_none());
    }
}
