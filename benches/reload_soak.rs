//! Issue 14, targets 2 and 4: a 1,000-reload soak of the LVS side with real checkers, and
//! the burst of first checks after a start and after a reload. Prints figures; asserts
//! nothing.
//!
//!     cargo bench --bench reload_soak                  # N=1000 M=20 RELOADS=1000
//!     QUICK=1 cargo bench --bench reload_soak          # N=50 RELOADS=50 EVERY=10
//!
//! Variables: N virtual servers × M real servers (a TCP_CHECK each), RELOADS, EVERY (a
//! line of the curve every EVERY reloads), DELAY (delay_loop, s), SETTLE (s waited before
//! each line: longer than the side's 2 s heap trim), GAP (s between two reloads; 0: back to
//! back, each reload's heap trim then falls in a later reload), WAIT (s from the start to the
//! first reload; default DELAY + SETTLE, every checker's first check done), BURST=0 skips
//! the burst part.
//!
//! Soak: the LVS side as the daemon runs it (`run_with` over the in-memory IPVS backend,
//! a `CheckerManager` brought to each configuration as `ManagedCheckers` does, two tokio
//! workers, each configuration parsed from text on the blocking pool as a SIGHUP does).
//! The checks go to closed 127.0.0.1 ports (20000..): each fails at once with a reset, as
//! in `benches/memory.rs`. Reloads follow each other as soon as the previous one is
//! applied, cycling through six kinds: no-op, 10 weights changed, +100 real servers, the
//! same removed, +10 virtual servers (20 real servers each), the same removed. Every
//! EVERY reloads, after SETTLE, one line: RSS (VmRSS, its anonymous and file parts), heap
//! in use (a counting allocator over lvsd's), threads, tokio tasks alive, open fds (the fewest over
//! half a second: checks in flight hold sockets), checkers running, and RSS against the
//! first reload's. At the end, per kind of reload: checkers kept, started and stopped, and
//! its steadiness (target 3): the time from the text handed to the parser until the side
//! has applied it, median, fastest, slowest and the largest distance from the median.
//!
//! Burst: the same side against listening 127.0.0.1 ports (21000..) that accept and close;
//! every accepted connection is one check started (counted where the listener accepts
//! it). For the default warmup (a random point of delay_loop) and for `warmup 0`: the
//! peak number of checks in any 100 ms window during the first delay_loop + 2 s after the
//! start, and after a reload that changes every checker (connect_timeout 3 → 4 s, so all
//! restart).

use lvsd::checkers::manager::Reloaded;
use lvsd::checkers::{CheckerEvent, CheckerId, CheckerManager};
use lvsd::cli::Options;
use lvsd::config::Config;
use lvsd::control::{Control, ReadingNow, ReloadReading};
use lvsd::lvs::fake::FakeIpvs;
use lvsd::lvs::runtime::{run_with, CheckerStarter, RealEffects};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

#[path = "support/process.rs"]
mod process;
use process::{env, fds, status_kib};

#[global_allocator]
static GLOBAL: lvsd::heap::Counting = lvsd::heap::Counting;

/// The fewest open fds over 10 looks 50 ms apart: a check in flight holds a socket for
/// a moment, and on a loaded machine a few are often in flight at any look.
async fn fds_settled() -> usize {
    let mut least = fds();
    for _ in 0..9 {
        tokio::time::sleep(Duration::from_millis(50)).await;
        least = least.min(fds());
    }
    least
}

fn mib(kib: usize) -> f64 {
    kib as f64 / 1024.0
}

/// One configuration of the cycle.
#[derive(Clone, Copy)]
struct Shape {
    n: usize,
    m: usize,
    delay: usize,
    port0: usize,
    /// 10 real servers (the first of every N/10-th virtual server) at weight 2, not 1.
    weights: bool,
    /// 100 more real servers, spread over the virtual servers.
    more_rs: bool,
    /// 10 more virtual servers of M real servers.
    more_vs: bool,
    connect_timeout: u32,
    /// `warmup` of every virtual server; None: the default (delay_loop).
    warmup: Option<u32>,
}

fn config_text(p: Shape) -> String {
    let mut s = String::new();
    let step = (p.n / 10).max(1);
    for i in 0..p.n + if p.more_vs { 10 } else { 0 } {
        let _ = writeln!(
            s,
            "virtual_server 10.{}.{}.{} 80 {{\n lb_algo wlc\n lb_kind NAT\n protocol TCP\n delay_loop {}",
            100 + i / 65536,
            i / 256 % 256,
            i % 256,
            p.delay
        );
        if let Some(w) = p.warmup {
            let _ = writeln!(s, " warmup {w}");
        }
        // Extra real servers j = 0..100 go to virtual server j % N.
        let extra = if p.more_rs && i < p.n {
            100 / p.n + usize::from(i < 100 % p.n)
        } else {
            0
        };
        for j in 0..p.m + extra {
            let weight = if p.weights && j == 0 && i % step == 0 && i / step < 10 {
                2
            } else {
                1
            };
            let _ = writeln!(
                s,
                " real_server 127.0.0.1 {} {{\n  weight {weight}\n  TCP_CHECK {{\n   connect_timeout {}\n  }}\n }}",
                p.port0 + j,
                p.connect_timeout
            );
        }
        s.push_str("}\n");
    }
    s
}

async fn parse(text: String) -> Arc<Config> {
    tokio::task::spawn_blocking(move || {
        let loaded = lvsd::config::parse_str(&text, Path::new("/etc/keepalived/soak.conf"), "")
            .unwrap_or_else(|e| panic!("bench config refused: {e}"));
        Arc::new(loaded.config)
    })
    .await
    .unwrap()
}

/// What the side did with one configuration.
struct Applied {
    checkers: usize,
    reloaded: Option<Reloaded>,
}

/// `ManagedCheckers` as the daemon uses it (the same calls), telling the bench when a
/// start or reload has been applied and what it did to the checkers.
struct Checkers {
    current: Option<CheckerManager>,
    applied: mpsc::UnboundedSender<Applied>,
}

impl CheckerStarter for Checkers {
    fn start(
        &mut self,
        config: Arc<Config>,
        initial: &HashMap<CheckerId, bool>,
    ) -> mpsc::Receiver<CheckerEvent> {
        let (tx, rx) = mpsc::channel(4096);
        let reloaded = match self.current.as_mut() {
            Some(m) => Some(m.reload(&config, initial, tx)),
            None => {
                self.current = Some(CheckerManager::start_with_states(&config, initial, tx));
                None
            }
        };
        let checkers = self.current.as_ref().map_or(0, CheckerManager::len);
        let _ = self.applied.send(Applied { checkers, reloaded });
        rx
    }

    fn adopt_equal(&mut self, config: Arc<Config>) {
        if let Some(m) = self.current.as_mut() {
            let checkers = m.adopt_equal(&config);
            let reloaded = Some(Reloaded {
                kept: checkers,
                started: 0,
                stopped: 0,
            });
            let _ = self.applied.send(Applied { checkers, reloaded });
        }
    }
}

/// A running LVS side over the fake kernel.
struct Side {
    fake: FakeIpvs,
    reload: watch::Sender<Arc<Config>>,
    shutdown: watch::Sender<bool>,
    /// What the daemon sets while it reads a reloaded file.
    reading: ReloadReading,
    applied: mpsc::UnboundedReceiver<Applied>,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Side {
    async fn start(config: Arc<Config>) -> (Side, usize) {
        let (reload, reload_rx) = watch::channel(config);
        let (shutdown, shutdown_rx) = watch::channel(false);
        let (applied_tx, applied) = mpsc::unbounded_channel();
        let ctl = Control {
            opts: Arc::new(Options::default()),
            reload: reload_rx,
            shutdown: shutdown_rx,
            heartbeat: Default::default(),
            reading: ReloadReading::default(),
        };
        let reading = ctl.reading.clone();
        let fake = FakeIpvs::new();
        let task = tokio::spawn(run_with(
            ctl,
            fake.clone(),
            Checkers {
                current: None,
                applied: applied_tx,
            },
            RealEffects::default(),
        ));
        let mut side = Side {
            fake,
            reload,
            shutdown,
            reading,
            applied,
            task,
        };
        let checkers = side.applied.recv().await.map_or(0, |a| a.checkers);
        (side, checkers)
    }

    /// Sends a configuration and waits until the side has applied it.
    async fn reload(&mut self, config: Arc<Config>) -> Applied {
        let reading = self.reading.start();
        self.reload_read(config, reading).await
    }

    /// [`Side::reload`] of a configuration read while `reading` was held (the read is
    /// over once it is handed, as in the daemon).
    async fn reload_read(&mut self, config: Arc<Config>, reading: ReadingNow) -> Applied {
        self.reload.send_replace(config);
        drop(reading);
        let applied = self.applied.recv().await.expect("the LVS side stopped");
        // The fake kernel logs every operation (the kernel keeps no such log).
        self.fake.with(|k| k.log.clear());
        applied
    }

    async fn stop(self) {
        self.shutdown.send_replace(true);
        let _ = tokio::time::timeout(Duration::from_secs(30), self.task).await;
    }
}

fn tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

struct Sample {
    rss: usize,
    /// RSS of the heap and stacks, and of mapped files (the binary's pages).
    anon: usize,
    file: usize,
    threads: usize,
    heap: usize,
    tasks: usize,
    fds: usize,
}

async fn sample() -> Sample {
    let fds = fds_settled().await;
    Sample {
        rss: status_kib("VmRSS:"),
        anon: status_kib("RssAnon:"),
        file: status_kib("RssFile:"),
        threads: status_kib("Threads:"),
        heap: lvsd::heap::heap_in_use() / 1024,
        tasks: tasks(),
        fds,
    }
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

/// Median, fastest, slowest, the largest |x / median − 1| and how many are more than
/// 20 % off the median.
fn steadiness(v: &mut [Duration]) -> (Duration, Duration, Duration, f64, usize) {
    let med = median(v);
    let (lo, hi) = (
        v.first().copied().unwrap_or_default(),
        v.last().copied().unwrap_or_default(),
    );
    let off = |x: &Duration| {
        if med.is_zero() {
            0.0
        } else {
            (x.as_secs_f64() / med.as_secs_f64() - 1.0).abs()
        }
    };
    let spread = v.iter().map(off).fold(0.0, f64::max);
    let outside = v.iter().filter(|x| off(x) > 0.20).count();
    (med, lo, hi, spread, outside)
}

/// The soak's knobs (the variables above).
#[derive(Clone, Copy)]
struct Run {
    n: usize,
    m: usize,
    delay: usize,
    reloads: usize,
    every: usize,
    settle: u64,
    gap: u64,
    wait: u64,
}

async fn soak(run: Run) {
    let Run {
        n,
        m,
        delay,
        reloads,
        every,
        settle,
        gap,
        wait,
    } = run;
    const KINDS: [&str; 6] = [
        "no-op",
        "10 weights",
        "+100 RS",
        "-100 RS",
        "+10 VS",
        "-10 VS",
    ];
    let mut shape = Shape {
        n,
        m,
        delay,
        port0: 20000,
        weights: false,
        more_rs: false,
        more_vs: false,
        connect_timeout: 3,
        warmup: None,
    };
    let (mut side, checkers) = Side::start(parse(config_text(shape)).await).await;
    // Every checker's first attempt is at a random point of its first delay_loop.
    tokio::time::sleep(Duration::from_secs(wait)).await;
    let line = |what: &str, s: &Sample, checkers: usize, first: Option<&Sample>| {
        let vs = first.map_or("      -".to_string(), |f| {
            format!("{:>6.3}×", s.rss as f64 / f.rss as f64)
        });
        println!(
            "{what:<14} RSS {:>6.1} MiB (anon {:>6.1}, file {:>4.1})  heap {:>6.1} MiB  threads {:>2}  tasks {:>6}  fds {:>4}  checkers {checkers:>6}  RSS vs 1st reload {vs}",
            mib(s.rss),
            mib(s.anon),
            mib(s.file),
            mib(s.heap),
            s.threads,
            s.tasks,
            s.fds
        );
    };
    let started = sample().await;
    line("checks running", &started, checkers, None);
    let mut first: Option<Sample> = None;
    let mut max_rss = 0;
    let mut min_rss = usize::MAX;
    let mut took: Vec<Vec<Duration>> = vec![Vec::new(); KINDS.len()];
    // The text parsed and applied: what a SIGHUP of a changed file costs after the read.
    let mut whole: Vec<Vec<Duration>> = vec![Vec::new(); KINDS.len()];
    let mut work: Vec<(usize, usize, usize)> = vec![(0, 0, 0); KINDS.len()];
    let mut last = None;
    for r in 1..=reloads {
        let kind = (r - 1) % KINDS.len();
        match kind {
            0 => {}
            1 => shape.weights = !shape.weights,
            2 | 3 => shape.more_rs = kind == 2,
            _ => shape.more_vs = kind == 4,
        }
        if gap > 0 {
            tokio::time::sleep(Duration::from_secs(gap)).await;
        }
        let text = config_text(shape);
        let t_read = Instant::now();
        // As the daemon's SIGHUP: the side knows a reload is being read until it is
        // handed over (its heal pass waits meanwhile).
        let reading = side.reading.start();
        let cfg = parse(text).await;
        let t = Instant::now();
        let applied = side.reload_read(cfg, reading).await;
        took[kind].push(t.elapsed());
        whole[kind].push(t_read.elapsed());
        let done = applied.reloaded.unwrap_or_default();
        let w = &mut work[kind];
        w.0 += done.kept;
        w.1 += done.started;
        w.2 += done.stopped;
        if r == 1 || r % every == 0 || r == reloads {
            tokio::time::sleep(Duration::from_secs(settle)).await;
            let s = sample().await;
            line(&format!("reload {r}"), &s, applied.checkers, first.as_ref());
            max_rss = max_rss.max(s.rss);
            min_rss = min_rss.min(s.rss);
            if first.is_none() {
                first = Some(s);
            } else {
                last = Some(s);
            }
        }
    }
    println!("per kind of reload (over the run): checkers kept / started / stopped per reload, median time (noisy: shared machine)");
    for (i, name) in KINDS.iter().enumerate() {
        let count = took[i].len().max(1);
        println!(
            "  {name:<10} {:>5} reloads  kept {:>6}  started {:>4}  stopped {:>4}  median {:>6.1?}",
            took[i].len(),
            work[i].0 / count,
            work[i].1 / count,
            work[i].2 / count,
            median(&mut took[i])
        );
    }
    println!("steadiness per kind (target 3: each reload within ±20 % of the kind's median): parse + apply, median, fastest, slowest, largest |x / median - 1|, reloads outside ±20 %");
    for (i, name) in KINDS.iter().enumerate() {
        let (med, lo, hi, spread, outside) = steadiness(&mut whole[i]);
        println!(
            "  {name:<10} {:>5} reloads  median {med:>8.1?}  fastest {lo:>8.1?}  slowest {hi:>8.1?}  spread {:>5.1} %  outside ±20 % {outside}",
            whole[i].len(),
            spread * 100.0
        );
    }
    if let (Some(f), Some(l)) = (first, last) {
        println!(
            "soak summary: N={n} M={m}, {reloads} reloads: RSS after the 1st reload {:.1} MiB, after the last {:.1} MiB = {:.3}× (target ≤ 1.15×; max {:.3}×, min {:.3}×); heap {:.1} → {:.1} MiB; tasks {} → {}; fds {} → {}",
            mib(f.rss),
            mib(l.rss),
            l.rss as f64 / f.rss as f64,
            max_rss as f64 / f.rss as f64,
            min_rss as f64 / f.rss as f64,
            mib(f.heap),
            mib(l.heap),
            f.tasks,
            l.tasks,
            f.fds,
            l.fds,
        );
    }
    side.stop().await;
}

/// Listeners on 127.0.0.1 ports `port0..port0+count` on a thread of their own: each
/// accepted connection is closed at once and its time noted.
fn listeners(port0: usize, count: usize) -> Arc<Mutex<Vec<Instant>>> {
    let seen: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let mut socks = Vec::new();
    for p in port0..port0 + count {
        let sock = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)
            .expect("socket");
        sock.set_reuse_address(true).expect("SO_REUSEADDR");
        let addr: std::net::SocketAddr = format!("127.0.0.1:{p}").parse().expect("address");
        sock.bind(&addr.into())
            .unwrap_or_else(|e| panic!("cannot listen on {addr}: {e}"));
        // Room for every check of a burst (the kernel caps it at somaxconn).
        sock.listen(65535).expect("listen");
        sock.set_nonblocking(true).expect("nonblocking");
        socks.push(std::net::TcpListener::from(sock));
    }
    let record = seen.clone();
    std::thread::Builder::new()
        .name("listeners".into())
        .spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("listener runtime");
            rt.block_on(async move {
                let mut all = Vec::new();
                for s in socks {
                    let l = tokio::net::TcpListener::from_std(s).expect("listener");
                    let record = record.clone();
                    all.push(tokio::spawn(async move {
                        loop {
                            if let Ok((c, _)) = l.accept().await {
                                let now = Instant::now();
                                drop(c);
                                if let Ok(mut v) = record.lock() {
                                    v.push(now);
                                }
                            }
                        }
                    }));
                }
                for t in all {
                    let _ = t.await;
                }
            });
        })
        .expect("listener thread");
    seen
}

/// The checks seen since `since` until `until`: how many, the peak in any 100 ms window
/// and when that window starts (after `since`).
fn peak(seen: &Mutex<Vec<Instant>>, since: Instant, until: Instant) -> (usize, usize, Duration) {
    let mut v: Vec<Instant> = seen
        .lock()
        .map(|v| {
            v.iter()
                .copied()
                .filter(|t| *t >= since && *t < until)
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    let window = Duration::from_millis(100);
    let (mut best, mut at, mut lo) = (0, Duration::ZERO, 0);
    for hi in 0..v.len() {
        while v[hi] - v[lo] >= window {
            lo += 1;
        }
        if hi + 1 - lo > best {
            best = hi + 1 - lo;
            at = v[lo] - since;
        }
    }
    (v.len(), best, at)
}

async fn burst(n: usize, m: usize, delay: usize, settle: u64) {
    let port0 = 21000;
    let seen = listeners(port0, m);
    let span = Duration::from_secs(delay as u64 + 2);
    let mean = (n * m) as f64 * 0.1 / delay as f64;
    println!(
        "burst: {n} × {m} TCP_CHECKs against listeners, delay_loop {delay} s: checks started (accepted) in any 100 ms window over the {} s after each event; an even spread is {mean:.0} per 100 ms",
        span.as_secs()
    );
    for warmup in [None, Some(0)] {
        let mut shape = Shape {
            n,
            m,
            delay,
            port0,
            weights: false,
            more_rs: false,
            more_vs: false,
            connect_timeout: 3,
            warmup,
        };
        let name = match warmup {
            None => format!("warmup default ({delay} s)"),
            Some(w) => format!("warmup {w}"),
        };
        let cfg = parse(config_text(shape)).await;
        let t0 = Instant::now();
        let (mut side, checkers) = Side::start(cfg).await;
        tokio::time::sleep(span).await;
        let (total, top, at) = peak(&seen, t0, t0 + span);
        println!(
            "  {name:<24} after start : peak {top:>6} checks / 100 ms (at +{at:.1?}), {total} checks in {} s, {checkers} checkers",
            span.as_secs()
        );
        shape.connect_timeout = 4;
        let cfg = parse(config_text(shape)).await;
        let t1 = Instant::now();
        let applied = side.reload(cfg).await;
        tokio::time::sleep(span).await;
        let (total, top, at) = peak(&seen, t1, t1 + span);
        let r = applied.reloaded.unwrap_or_default();
        println!(
            "  {name:<24} after reload: peak {top:>6} checks / 100 ms (at +{at:.1?}), {total} checks in {} s, {} checkers restarted",
            span.as_secs(),
            r.started
        );
        side.stop().await;
        if let Ok(mut v) = seen.lock() {
            v.clear();
        }
        tokio::time::sleep(Duration::from_secs(settle)).await;
    }
}

fn main() {
    // First, as in lvsd's main: the allocator's options before any allocation.
    lvsd::heap::tune();
    let quick = std::env::var_os("QUICK").is_some_and(|v| v != "0");
    let delay = env("DELAY", 6).max(1);
    let settle = env("SETTLE", 3) as u64;
    let run = Run {
        n: env("N", if quick { 50 } else { 1000 }),
        m: env("M", 20),
        delay,
        reloads: env("RELOADS", if quick { 50 } else { 1000 }),
        every: env("EVERY", if quick { 10 } else { 50 }).max(1),
        settle,
        gap: env("GAP", 0) as u64,
        wait: env("WAIT", delay + settle as usize) as u64,
    };
    let do_burst = env("BURST", 1) != 0;
    println!(
        "reload_soak: {} virtual servers × {} real servers (TCP_CHECK each, delay_loop {delay} s), {} reloads {} s apart, a line every {} after {settle} s; allocator {}",
        run.n,
        run.m,
        run.reloads,
        run.gap,
        run.every,
        lvsd::heap::NAME
    );
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("lvsd")
        .build()
        .unwrap();
    rt.block_on(async move {
        soak(run).await;
        if do_burst {
            burst(run.n, run.m, delay, settle).await;
        }
    });
}
