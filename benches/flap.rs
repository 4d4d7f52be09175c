//! Many real servers flapping at once (issue 14, target 6). Prints figures.
//!
//!     cargo bench --bench flap                       # the defaults, 10 minutes
//!     DURATION=90 cargo bench --bench flap           # the short form
//!
//! Knobs (environment): `N` virtual servers (1000) × `M` real servers (21) = 21,000 real
//! servers; `FRACTION` of them down at a time (0.2); a wave every `PERIOD` seconds (5) for
//! `DURATION` seconds (600), after `BASELINE` seconds of checks without flaps (20);
//! `DELAY` the delay_loop (2); a curve line every `INTERVAL` seconds (10); `SEED` (1);
//! `LOG=0` logs nothing (default: the daemon's log at info level to a file, as `-g`).
//!
//! Needs root (network namespaces); skips otherwise. The setup, all inside namespaces this
//! bench creates: a lab (tests/support) with one node; the bench process enters the node's
//! namespace and runs both sides of the daemon as `lvsd` does (the VRRP side on a thread
//! of its own through `daemon::start_vrrp`, the LVS side on `daemon::build_runtime`'s
//! runtime through `lvs::runtime::run_with` with the real checker manager on its own
//! thread, `daemon::managed_checkers`, and the real effects)
//! over the in-memory IPVS backend (`lvs::fake`, the host has no IPVS). Each real server
//! is 127.1.x.y:80 with a TCP_CHECK (keepalived's defaults: retry 1, delay_before_retry
//! 1 s; connect_timeout 1). Child processes (this binary again, `FLAP_FARM`, 8,000 real
//! servers each: the host's fd limit) hold one listener per real server; each wave they
//! close the listeners of a new random `FRACTION` (connections to them are refused) and
//! open again those of the previous wave. The VRRP instance (MASTER, advert_int 1) sends
//! on the node's eth0; its adverts are captured on the lab's bridge with kernel
//! timestamps.
//!
//! Measured: the kernel operations the LVS side sends (per `apply` call: one pass; the
//! netlink sends it would take with `IpvsClient`'s batches of `DEFAULT_BATCH` requests),
//! the time from a flip (the moment the wave is handed to the farm, so the farm's own time
//! counts) to the table showing it, and from the checker's verdict to the table (the
//! verdicts pass through one extra channel hop to be timed), flips the table never showed
//! (the server flipped back first), RSS, heap in use (a counting allocator over lvsd's),
//! tokio tasks alive, threads, fds (the farm's listeners are in its processes, not counted),
//! and the advert inter-arrival deviation from advert_int. One line per interval, then a
//! summary per phase; at the end, with every server up again, whether the table holds
//! exactly the configured servers.

#[path = "../tests/support/mod.rs"]
mod support;

use lvsd::checkers::{CheckerEvent, CheckerId};
use lvsd::cli::Options;
use lvsd::config::Config;
use lvsd::control::Control;
use lvsd::ipvs::Op;
use lvsd::lvs::fake::FakeIpvs;
use lvsd::lvs::runtime::{run_with, CheckerStarter, ManagedCheckers, RealEffects};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write as _};
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};
use tokio::sync::{mpsc, watch};

#[path = "support/process.rs"]
mod process;
use process::{env_or, fds, status_kib};

#[global_allocator]
static GLOBAL: lvsd::heap::Counting = lvsd::heap::Counting;

const ADVERT_INT: f64 = 1.0;

fn mib(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// Real server `k`'s address: 127.1.0.0 + k.
fn rs_addr(k: usize) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(Ipv4Addr::new(127, 1, 0, 0)) + k as u32)
}

fn rs_index(addr: IpAddr) -> Option<usize> {
    match addr {
        IpAddr::V4(a) => u32::from(a)
            .checked_sub(u32::from(Ipv4Addr::new(127, 1, 0, 0)))
            .map(|k| k as usize),
        IpAddr::V6(_) => None,
    }
}

fn config_text(n: usize, m: usize, delay: u64) -> String {
    let mut s = format!(
        "global_defs {{\n router_id flap\n}}\n\nvrrp_instance VI_1 {{\n state MASTER\n interface eth0\n virtual_router_id {}\n priority 150\n advert_int 1\n virtual_ipaddress {{\n  {}/24 dev eth0\n }}\n}}\n\n",
        support::VRID,
        support::VIP
    );
    for i in 0..n {
        let _ = writeln!(
            s,
            "virtual_server 10.{}.{}.{} 80 {{\n lb_algo wlc\n lb_kind NAT\n protocol TCP\n delay_loop {delay}",
            100 + i / 65536,
            i / 256 % 256,
            i % 256
        );
        for j in 0..m {
            let _ = writeln!(
                s,
                " real_server {} 80 {{\n  weight 1\n  TCP_CHECK {{\n   connect_timeout 1\n  }}\n }}",
                rs_addr(i * m + j)
            );
        }
        s.push_str("}\n");
    }
    s
}

// ---------------------------------------------------------------------------------------
// The farm: one listener per real server, in a child process.

/// `FLAP_FARM=<first>,<end>`: listens on the real server addresses `first..end`, then
/// reads waves from stdin (`<down ids,>\t<up ids,>`, ids outside its range ignored) and
/// answers `ok <bind failures>` once the listeners are closed and opened.
fn farm(first: usize, end: usize) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("farm runtime");
    rt.block_on(async move {
        use tokio::io::{AsyncBufReadExt, AsyncWriteExt};
        async fn listen(k: usize) -> Option<tokio::task::JoinHandle<()>> {
            let l = tokio::net::TcpListener::bind((rs_addr(k), 80)).await.ok()?;
            Some(tokio::spawn(async move {
                loop {
                    // Accepted and closed at once: a TCP_CHECK only connects.
                    if l.accept().await.is_err() {
                        tokio::time::sleep(Duration::from_millis(10)).await;
                    }
                }
            }))
        }
        let count = end.saturating_sub(first);
        let mut listeners = Vec::with_capacity(count);
        let mut failed = 0;
        for k in first..end {
            let l = listen(k).await;
            failed += usize::from(l.is_none());
            listeners.push(l);
        }
        let mut out = tokio::io::stdout();
        let _ = out.write_all(format!("ready {failed}\n").as_bytes()).await;
        let _ = out.flush().await;
        let mut lines = tokio::io::BufReader::new(tokio::io::stdin()).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            let (down, up) = line.split_once('\t').unwrap_or((&line, ""));
            let ids =
                |s: &str| -> Vec<usize> { s.split(',').filter_map(|x| x.parse().ok()).collect() };
            let mut failed = 0;
            let local = |k: usize| k.checked_sub(first).filter(|i| *i < count);
            for i in ids(down).into_iter().filter_map(local) {
                if let Some(h) = listeners[i].take() {
                    h.abort();
                    // Resolves once the task (and its listener) is dropped.
                    let _ = h.await;
                }
            }
            for i in ids(up).into_iter().filter_map(local) {
                if listeners[i].is_none() {
                    listeners[i] = listen(first + i).await;
                    failed += usize::from(listeners[i].is_none());
                }
            }
            let _ = out.write_all(format!("ok {failed}\n").as_bytes()).await;
            let _ = out.flush().await;
        }
    });
}

/// Listeners per farm process: under the fd limit of this host (20,000, not raisable).
const PER_FARM: usize = 8000;

struct FarmPart {
    child: std::process::Child,
    to: std::process::ChildStdin,
    from: BufReader<std::process::ChildStdout>,
}

impl FarmPart {
    fn answer(&mut self) -> String {
        let mut line = String::new();
        self.from.read_line(&mut line).expect("farm answer");
        line.trim().to_string()
    }
}

/// The farm's processes, `PER_FARM` real servers each.
struct Farm {
    parts: Vec<FarmPart>,
}

impl Farm {
    fn start(count: usize) -> Farm {
        let exe = std::env::current_exe().expect("own path");
        let mut parts = Vec::new();
        for first in (0..count).step_by(PER_FARM) {
            let end = (first + PER_FARM).min(count);
            let mut child = std::process::Command::new(&exe)
                .env("FLAP_FARM", format!("{first},{end}"))
                .stdin(std::process::Stdio::piped())
                .stdout(std::process::Stdio::piped())
                .spawn()
                .expect("start the farm");
            let to = child.stdin.take().expect("farm stdin");
            let from = BufReader::new(child.stdout.take().expect("farm stdout"));
            parts.push(FarmPart { child, to, from });
        }
        for p in &mut parts {
            let ready = p.answer();
            assert_eq!(
                ready, "ready 0",
                "the farm could not listen on every address"
            );
        }
        Farm { parts }
    }

    /// Closes the listeners of `down`, opens those of `up`; returns once all are done.
    fn wave(&mut self, down: &[usize], up: &[usize]) {
        let join = |v: &[usize]| {
            v.iter()
                .map(|k| k.to_string())
                .collect::<Vec<_>>()
                .join(",")
        };
        let line = format!("{}\t{}\n", join(down), join(up));
        for p in &mut self.parts {
            p.to.write_all(line.as_bytes()).expect("farm wave");
            p.to.flush().expect("farm wave");
        }
        for p in &mut self.parts {
            let a = p.answer();
            assert_eq!(a, "ok 0", "the farm could not listen again");
        }
    }
}

impl Drop for Farm {
    fn drop(&mut self) {
        for p in &mut self.parts {
            let _ = p.child.kill();
            let _ = p.child.wait();
        }
    }
}

// ---------------------------------------------------------------------------------------
// What the bench measures.

/// Durations in 1 ms buckets up to 60 s (the last bucket holds the rest): fixed memory.
struct Hist {
    buckets: Vec<u32>,
    n: u64,
    max: Duration,
}

impl Hist {
    fn new() -> Hist {
        Hist {
            buckets: vec![0; 60_001],
            n: 0,
            max: Duration::ZERO,
        }
    }

    fn add(&mut self, d: Duration) {
        let i = (d.as_millis() as usize).min(self.buckets.len() - 1);
        self.buckets[i] += 1;
        self.n += 1;
        self.max = self.max.max(d);
    }

    fn clear(&mut self) {
        self.buckets.iter_mut().for_each(|b| *b = 0);
        self.n = 0;
        self.max = Duration::ZERO;
    }

    /// The bucket (ms) holding quantile `q`.
    fn q(&self, q: f64) -> Option<usize> {
        if self.n == 0 {
            return None;
        }
        let want = ((self.n as f64 * q).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, b) in self.buckets.iter().enumerate() {
            seen += u64::from(*b);
            if seen >= want {
                return Some(i);
            }
        }
        Some(self.buckets.len() - 1)
    }

    fn show(&self) -> String {
        match (self.q(0.5), self.q(0.99)) {
            (Some(a), Some(b)) => format!("{a:>5}/{b:>5}/{:>5}", self.max.as_millis().to_string()),
            _ => format!("{:>17}", "-"),
        }
    }
}

/// Kernel passes, per interval.
#[derive(Default, Clone, Copy)]
struct Passes {
    calls: u64,
    ops: u64,
    dest_ops: u64,
    sends: u64,
    max_ops: usize,
}

impl Passes {
    fn add(&mut self, o: &Passes) {
        self.calls += o.calls;
        self.ops += o.ops;
        self.dest_ops += o.dest_ops;
        self.sends += o.sends;
        self.max_ops = self.max_ops.max(o.max_ops);
    }
}

struct Tracker {
    /// Per real server: the flip the table has not shown yet (when, and whether the
    /// server is up after it).
    pending: Vec<Option<(Instant, bool)>>,
    /// Per real server: when its checker's last verdict reached the LVS side.
    verdict: Vec<Option<Instant>>,
    /// Per real server: whether the table holds it.
    present: Vec<bool>,
    flip_to_table: Hist,
    verdict_to_table: Hist,
    verdicts: u64,
    /// Flips the table never showed (the server flipped back first).
    unseen: u64,
    /// Destination operations no flip asked for (the start, heal passes).
    other: u64,
    passes: Passes,
    m: usize,
}

impl Tracker {
    fn new(total: usize, m: usize) -> Tracker {
        Tracker {
            pending: vec![None; total],
            verdict: vec![None; total],
            present: vec![false; total],
            flip_to_table: Hist::new(),
            verdict_to_table: Hist::new(),
            verdicts: 0,
            unseen: 0,
            other: 0,
            passes: Passes::default(),
            m,
        }
    }

    fn flip(&mut self, k: usize, at: Instant, up: bool) {
        if self.pending[k].take().is_some() {
            self.unseen += 1;
        }
        if self.present[k] != up {
            self.pending[k] = Some((at, up));
        }
    }

    fn observe(&mut self, ops: &[Op]) {
        let now = Instant::now();
        let mut p = Passes {
            calls: 1,
            ops: ops.len() as u64,
            sends: ops.len().div_ceil(lvsd::ipvs::client::DEFAULT_BATCH) as u64,
            max_ops: ops.len(),
            ..Passes::default()
        };
        for op in ops {
            let (addr, up) = match op {
                Op::AddDest(_, d) => (d.key.addr, true),
                Op::DelDest(_, d) => (d.addr, false),
                Op::EditDest(..) => {
                    p.dest_ops += 1;
                    continue;
                }
                _ => continue,
            };
            p.dest_ops += 1;
            let Some(k) = rs_index(addr).filter(|k| *k < self.present.len()) else {
                continue;
            };
            self.present[k] = up;
            match self.pending[k] {
                Some((at, want)) if want == up => {
                    self.pending[k] = None;
                    self.flip_to_table.add(now - at);
                    if let Some(v) = self.verdict[k].filter(|v| *v >= at) {
                        self.verdict_to_table.add(now - v);
                    }
                }
                _ => self.other += 1,
            }
        }
        self.passes.add(&p);
    }

    fn verdict(&mut self, id: &CheckerId) {
        let k = id.vs * self.m + id.rs;
        if let Some(v) = self.verdict.get_mut(k) {
            *v = Some(Instant::now());
        }
        self.verdicts += 1;
    }
}

type Shared = Arc<Mutex<Tracker>>;

fn lock(t: &Shared) -> std::sync::MutexGuard<'_, Tracker> {
    t.lock().unwrap_or_else(|p| p.into_inner())
}

/// The real checker manager, its verdicts timed on their way to the LVS side.
struct TimedCheckers {
    inner: ManagedCheckers,
    tracker: Shared,
}

impl CheckerStarter for TimedCheckers {
    fn start(
        &mut self,
        config: Arc<Config>,
        initial: &HashMap<CheckerId, bool>,
    ) -> mpsc::Receiver<CheckerEvent> {
        let mut from = self.inner.start(config, initial);
        let (tx, rx) = mpsc::channel(4096);
        let tracker = self.tracker.clone();
        tokio::spawn(async move {
            while let Some(ev) = from.recv().await {
                lock(&tracker).verdict(&ev.id);
                if tx.send(ev).await.is_err() {
                    break;
                }
            }
        });
        rx
    }

    fn adopt_equal(&mut self, config: Arc<Config>) {
        self.inner.adopt_equal(config);
    }

    fn counters(&self) -> HashMap<CheckerId, lvsd::checkers::state::CheckCounts> {
        self.inner.counters()
    }
}

/// Advert inter-arrival deviations from advert_int, in ms.
#[derive(Default)]
struct Jitter {
    devs: Vec<f64>,
    max_gap: f64,
}

impl Jitter {
    fn add(&mut self, gap: f64) {
        self.devs.push((gap - ADVERT_INT).abs() * 1e3);
        self.max_gap = self.max_gap.max(gap);
    }

    fn show(&mut self) -> String {
        if self.devs.is_empty() {
            return format!("{:>5} adverts", 0);
        }
        self.devs.sort_by(|a, b| a.total_cmp(b));
        let q = |p: f64| self.devs[((self.devs.len() as f64 - 1.0) * p).round() as usize];
        format!(
            "{:>5} adverts, |gap-1s| p50 {:6.2} p99 {:6.2} max {:6.2} ms",
            self.devs.len() + 1,
            q(0.5),
            q(0.99),
            self.devs[self.devs.len() - 1]
        )
    }
}

/// The adverts of the node captured since the last call (kernel timestamps).
struct Adverts {
    capture: support::Capture,
    src: Ipv4Addr,
    seen: usize,
    last: Option<SystemTime>,
}

impl Adverts {
    fn take(&mut self, into: &mut [&mut Jitter]) -> usize {
        let frames = self.capture.frames();
        let mut n = 0;
        for f in frames.iter().skip(self.seen) {
            if !support::is_advert_from(f, self.src, |_| true) {
                continue;
            }
            n += 1;
            if let Some(last) = self.last {
                let gap = support::secs_between(last, f.at);
                for j in into.iter_mut() {
                    j.add(gap);
                }
            }
            self.last = Some(f.at);
        }
        self.seen = frames.len();
        n
    }
}

struct Sample {
    rss: usize,
    heap: usize,
    tasks: usize,
    threads: usize,
    fds: usize,
}

fn sample(rt: &tokio::runtime::Handle) -> Sample {
    Sample {
        rss: status_kib("VmRSS:") * 1024,
        heap: lvsd::heap::heap_in_use(),
        tasks: rt.metrics().num_alive_tasks(),
        threads: status_kib("Threads:"),
        fds: fds(),
    }
}

fn main() {
    // First, as in lvsd's main: the allocator's options before any allocation.
    lvsd::heap::tune();
    if let Ok(range) = std::env::var("FLAP_FARM") {
        let (first, end) = range.split_once(',').unwrap_or(("0", "0"));
        farm(first.parse().unwrap_or(0), end.parse().unwrap_or(0));
        return;
    }
    if support::skip_without_root("network namespaces") {
        return;
    }
    let n: usize = env_or("N", 1000);
    let m: usize = env_or("M", 21);
    let fraction: f64 = env_or("FRACTION", 0.2);
    let period: f64 = env_or("PERIOD", 5.0);
    let duration: f64 = env_or("DURATION", 600.0);
    let baseline: f64 = env_or("BASELINE", 20.0);
    let delay: u64 = env_or("DELAY", 2);
    let interval: f64 = env_or("INTERVAL", 10.0);
    let seed: u64 = env_or("SEED", 1);
    let log = env_or("LOG", 1) != 0;
    let total = n * m;
    let down_count = ((total as f64) * fraction).round() as usize;
    println!(
        "flap: {n} virtual servers × {m} = {total} real servers (TCP_CHECK, delay_loop {delay} s), {down_count} ({:.0} %) down at a time, a wave every {period} s for {duration} s after {baseline} s without flaps; allocator {}; load {}",
        fraction * 100.0,
        lvsd::heap::NAME,
        std::fs::read_to_string("/proc/loadavg").unwrap_or_default().trim()
    );

    let lab = support::Lab::new("flap", 1);
    let node = lab.node(0).clone();
    let mut adverts = Adverts {
        capture: lab.capture(),
        src: node.ip,
        seen: 0,
        last: None,
    };
    // Everything from here on (the runtimes' threads, the farm, the checks) runs inside
    // the node's namespace. The main thread goes back before the lab is dropped: the lab
    // kills every process it finds in its namespaces.
    let home = std::fs::File::open("/proc/self/ns/net").expect("this namespace");
    lvsd::netns::enter(&node.ns).expect("enter the node's namespace");
    let t = Instant::now();
    let mut farm = Farm::start(total);
    println!("farm: {total} listeners in {:.1?}", t.elapsed());

    let text = config_text(n, m, delay);
    let t = Instant::now();
    let loaded = lvsd::config::parse_str(&text, Path::new("/etc/keepalived/flap.conf"), "")
        .unwrap_or_else(|e| panic!("bench config refused: {e}"));
    let config = Arc::new(loaded.config);
    println!("parsed in {:.1?}", t.elapsed());

    let mut opts = Options {
        dont_fork: true,
        no_syslog: true,
        ..Options::default()
    };
    if log {
        opts.log_file = Some(lab.path("lvsd.log"));
        lvsd::daemon::logging::init(&opts).expect("logging");
    }
    let rt = lvsd::daemon::build_runtime(&config.global).expect("runtime");
    let handle = rt.handle().clone();
    let tracker: Shared = Arc::new(Mutex::new(Tracker::new(total, m)));
    let fake = FakeIpvs::new();
    {
        let tr = tracker.clone();
        fake.with(|k| {
            k.log_off = true;
            k.observer = Some(Box::new(move |ops| lock(&tr).observe(ops)));
        });
    }
    let (reload_tx, reload_rx) = watch::channel(config.clone());
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let ctl = Control {
        opts: Arc::new(opts),
        reload: reload_rx,
        shutdown: shutdown_rx,
        heartbeat: Default::default(),
        reading: Default::default(),
    };
    let (vrrp, lvs) = {
        let _in_rt = rt.enter();
        let vrrp = lvsd::daemon::start_vrrp(ctl.clone()).expect("VRRP side");
        let lvs = rt.spawn(run_with(
            ctl,
            fake.clone(),
            TimedCheckers {
                inner: lvsd::daemon::managed_checkers(&config.global).expect("checker thread"),
                tracker: tracker.clone(),
            },
            RealEffects::default(),
        ));
        (vrrp, lvs)
    };
    drop(config);
    let t0 = Instant::now();
    // Started: every real server is in the table, the first advert is out.
    while lock(&tracker).present.iter().filter(|p| **p).count() < total
        || adverts.take(&mut []) == 0 && adverts.last.is_none()
    {
        assert!(
            t0.elapsed() < Duration::from_secs(120),
            "the daemon did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    println!(
        "started: {total} real servers in the table and adverts out in {:.1?}",
        t0.elapsed()
    );

    println!(
        "{:>6} {:>5} {:>7} {:>6} {:>6} {:>7} {:>7} {:>6} {:>17} {:>17} {:>8} {:>8} {:>6} {:>4} {:>4}  adverts",
        "t(s)", "waves", "flips", "verd.", "passes", "ops", "dest", "sends", "flip→tbl p50/99/max", "verd→tbl p50/99/max", "RSS MiB", "heap MiB", "tasks", "thr", "fds"
    );
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut down: Vec<usize> = Vec::new();
    let mut is_down = vec![false; total];
    let mut waves = 0u64;
    let mut flips = 0u64;
    let (mut wave_ms, mut wave_ms_max) = (0.0f64, 0.0f64);
    let mut j_interval = Jitter::default();
    let mut j_base = Jitter::default();
    let mut j_flap = Jitter::default();
    let mut all_flip = Hist::new();
    let mut all_verdict = Hist::new();
    // The start's passes (the whole table) apart from those that follow.
    let mut all_passes = std::mem::take(&mut lock(&tracker).passes);
    let mut flap_passes = Passes::default();
    let mut samples: Vec<(f64, Sample)> = Vec::new();
    let flap_start = baseline;
    let flap_end = baseline + duration;
    let start = Instant::now();
    let mut next_wave = flap_start;
    let mut next_line = interval;
    let mut last_line = (0u64, 0u64); // waves, flips at the last line
    loop {
        let now = start.elapsed().as_secs_f64();
        if now >= next_wave && now < flap_end {
            if waves == 0 {
                // The adverts so far make the baseline, whatever the interval.
                adverts.take(&mut [&mut j_interval, &mut j_base]);
            }
            // A new random set goes down; the previous one comes back up.
            let mut new_down = vec![false; total];
            let mut picked = Vec::with_capacity(down_count);
            while picked.len() < down_count {
                let k = rng.usize(..total);
                if !new_down[k] {
                    new_down[k] = true;
                    picked.push(k);
                }
            }
            let go_down: Vec<usize> = picked.iter().copied().filter(|k| !is_down[*k]).collect();
            let go_up: Vec<usize> = down.iter().copied().filter(|k| !new_down[*k]).collect();
            // Marked before the farm is told: a check may see a server flipped before the
            // farm has done the whole wave (the farm's time counts in the latency).
            let at = Instant::now();
            {
                let mut tr = lock(&tracker);
                for &k in &go_down {
                    tr.flip(k, at, false);
                }
                for &k in &go_up {
                    tr.flip(k, at, true);
                }
            }
            farm.wave(&go_down, &go_up);
            let ms = at.elapsed().as_secs_f64() * 1e3;
            wave_ms += ms;
            wave_ms_max = wave_ms_max.max(ms);
            flips += (go_down.len() + go_up.len()) as u64;
            is_down = new_down;
            down = picked;
            waves += 1;
            next_wave += period;
        }
        if now >= next_line {
            let phase_flap = now > flap_start + 1.0 && now <= flap_end + 1.0;
            {
                let mut into: Vec<&mut Jitter> = vec![&mut j_interval];
                if now <= flap_start {
                    into.push(&mut j_base);
                } else if phase_flap {
                    into.push(&mut j_flap);
                }
                adverts.take(&mut into);
            }
            let (p, f, v, verdicts) = {
                let mut tr = lock(&tracker);
                let p = std::mem::take(&mut tr.passes);
                let f = tr.flip_to_table.show();
                let v = tr.verdict_to_table.show();
                for (i, b) in tr.flip_to_table.buckets.iter().enumerate() {
                    all_flip.buckets[i] += b;
                }
                all_flip.n += tr.flip_to_table.n;
                all_flip.max = all_flip.max.max(tr.flip_to_table.max);
                for (i, b) in tr.verdict_to_table.buckets.iter().enumerate() {
                    all_verdict.buckets[i] += b;
                }
                all_verdict.n += tr.verdict_to_table.n;
                all_verdict.max = all_verdict.max.max(tr.verdict_to_table.max);
                tr.flip_to_table.clear();
                tr.verdict_to_table.clear();
                (p, f, v, std::mem::take(&mut tr.verdicts))
            };
            all_passes.add(&p);
            flap_passes.add(&p);
            let s = sample(&handle);
            println!(
                "{:>6.0} {:>5} {:>7} {:>6} {:>6} {:>7} {:>7} {:>6} {f} {v} {:>8.1} {:>8.1} {:>6} {:>4} {:>4}  {}",
                now,
                waves - last_line.0,
                flips - last_line.1,
                verdicts,
                p.calls,
                p.ops,
                p.dest_ops,
                p.sends,
                mib(s.rss),
                mib(s.heap),
                s.tasks,
                s.threads,
                s.fds,
                j_interval.show()
            );
            j_interval = Jitter::default();
            last_line = (waves, flips);
            samples.push((now, s));
            next_line += interval;
            if now > flap_end + (delay + 4) as f64 {
                break;
            }
        }
        let now = start.elapsed().as_secs_f64();
        let next = if now < flap_end {
            next_wave.min(next_line)
        } else {
            next_line
        };
        if next > now {
            std::thread::sleep(Duration::from_secs_f64(next - now));
        }
    }
    // The last wave's servers come back up: the table must end with every one.
    {
        let at = Instant::now();
        let mut tr = lock(&tracker);
        for &k in &down {
            tr.flip(k, at, true);
        }
    }
    farm.wave(&[], &down);
    let settle = Instant::now();
    let settled = loop {
        let present = fake.with(|k| {
            k.table
                .services
                .values()
                .map(|s| s.dests.values().filter(|d| d.weight > 0).count())
                .sum::<usize>()
        });
        if present == total || settle.elapsed() > Duration::from_secs(delay * 3 + 10) {
            break present;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let exact = fake.with(|k| {
        let mut seen = vec![false; total];
        let mut stray = 0;
        for s in k.table.services.values() {
            for d in s.dests.values() {
                match rs_index(d.key.addr).filter(|i| *i < total) {
                    Some(i) if !seen[i] => seen[i] = true,
                    _ => stray += 1,
                }
            }
        }
        k.table.services.len() == n && stray == 0 && seen.iter().all(|s| *s)
    });
    let (unseen, other) = {
        let tr = lock(&tracker);
        (tr.unseen, tr.other)
    };
    shutdown_tx.send_replace(true);
    rt.block_on(async {
        let _ = tokio::time::timeout(Duration::from_secs(10), lvs).await;
        let _ = tokio::time::timeout(Duration::from_secs(10), vrrp).await;
    });
    drop(reload_tx);
    rt.shutdown_timeout(Duration::from_secs(2));

    println!();
    println!(
        "summary: {total} real servers, {waves} waves every {period} s ({flips} flips, {:.0} per wave); the farm took {:.1} ms per wave (max {:.1})",
        flips as f64 / waves.max(1) as f64,
        wave_ms / waves.max(1) as f64,
        wave_ms_max
    );
    println!(
        "  kernel: {} passes, {} operations, {} netlink sends of ≤ {} requests in all; after the start {} passes, {} operations ({} on destinations), {:.1} per pass (max {}), {} sends; per wave {:.1} passes, {:.0} operations, {:.1} sends",
        all_passes.calls,
        all_passes.ops,
        all_passes.sends,
        lvsd::ipvs::client::DEFAULT_BATCH,
        flap_passes.calls,
        flap_passes.ops,
        flap_passes.dest_ops,
        flap_passes.ops as f64 / flap_passes.calls.max(1) as f64,
        flap_passes.max_ops,
        flap_passes.sends,
        flap_passes.calls as f64 / waves.max(1) as f64,
        flap_passes.ops as f64 / waves.max(1) as f64,
        flap_passes.sends as f64 / waves.max(1) as f64,
    );
    println!(
        "  flip → table (ms, p50/p99/max): {} over {} flips; verdict → table: {}; flips the table never showed (flipped back first): {unseen}; other destination operations: {other}",
        all_flip.show(),
        all_flip.n,
        all_verdict.show(),
    );
    let at = |f: f64| {
        samples
            .iter()
            .min_by(|a, b| (a.0 - f).abs().total_cmp(&(b.0 - f).abs()))
            .map(|(t, s)| {
                format!(
                    "t={t:.0}s RSS {:.1} MiB heap {:.1} MiB tasks {} threads {} fds {}",
                    mib(s.rss),
                    mib(s.heap),
                    s.tasks,
                    s.threads,
                    s.fds
                )
            })
            .unwrap_or_default()
    };
    println!("  start of flaps: {}", at(flap_start));
    println!("  middle:         {}", at((flap_start + flap_end) / 2.0));
    println!("  end of flaps:   {}", at(flap_end));
    let max_rss = samples.iter().map(|(_, s)| s.rss).max().unwrap_or(0);
    println!(
        "  peak RSS sampled {:.1} MiB, VmHWM {:.1} MiB",
        mib(max_rss),
        status_kib("VmHWM:") as f64 / 1024.0
    );
    println!("  adverts without flaps: {}", j_base.show());
    println!("  adverts while flapping: {}", j_flap.show());
    println!(
        "  final table: {settled} of {total} real servers with weight after the last wave came back up; {}",
        if exact {
            "exactly the configured virtual and real servers"
        } else {
            "NOT the configured set"
        }
    );
    if log {
        let size = std::fs::metadata(lab.path("lvsd.log")).map_or(0, |m| m.len());
        println!("  log: {:.1} MiB", size as f64 / (1024.0 * 1024.0));
    }
    drop(farm);
    if let Err(e) = nix::sched::setns(&home, nix::sched::CloneFlags::CLONE_NEWNET) {
        println!(
            "cannot go back to the first namespace ({e}): the lab's cleanup ends this process"
        );
    }
}
