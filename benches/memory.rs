//! Memory of the checker side at scale, and across reloads. Prints figures.
//!
//!     cargo bench --bench memory                 # N=1000 M=20 K=8 DELAY=6 WAIT=4
//!     N=5000 DELAY=20 cargo bench --bench memory
//!
//! Runs the LVS side as the daemon does (`run_with` with `ManagedCheckers` on a 2-worker
//! multi-thread runtime, configurations parsed on the blocking pool as a SIGHUP does;
//! the checkers run on that runtime too, so that its task count holds their attempts,
//! where the daemon gives them a thread of their own), over the in-memory IPVS backend
//! (no kernel needed). The configuration has N virtual servers × M real servers, each
//! real server with a TCP_CHECK against 127.0.0.1 ports 20000.. (closed: every check
//! fails at once, the real servers go down; with `UP=1`
//! against M listeners of the bench's own on ephemeral ports, which accept and close: the
//! real servers stay up, their destinations in the table, as in a director's steady
//! state). After the
//! first delay_loop (every checker has run) it prints RSS (VmRSS), heap in use (a counting
//! allocator over lvsd's, glibc's malloc; `--features mimalloc`: mimalloc), tokio tasks alive and open fds; then K reloads
//! cycling no-op / all weights changed / one real server added to every virtual server /
//! removed again, with the same figures after each. The fake kernel's copy of the table
//! (which the kernel, not lvsd, holds in a real run) is measured at the end and
//! subtracted in the summary.
//!
//! Heap profile: `heaptrack target/release/deps/memory-*` (the bench binary) with the same
//! variables, then `heaptrack_print --print-peaks 1 -n 20 --merge-backtraces 0`.

use lvsd::cli::Options;
use lvsd::config::Config;
use lvsd::control::Control;
use lvsd::lvs::fake::FakeIpvs;
use lvsd::lvs::runtime::{run_with, ManagedCheckers, RealEffects};
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;

#[path = "support/process.rs"]
mod process;
use process::{env, fds, status_kib};

#[global_allocator]
static GLOBAL: lvsd::heap::Counting = lvsd::heap::Counting;

fn mib(kib: usize) -> f64 {
    kib as f64 / 1024.0
}

/// N virtual servers × M real servers (plus one more per virtual server with `extra`),
/// a TCP_CHECK each against 127.0.0.1, the j-th real server of each on `ports[j]`
/// (`ports` has M + 1 ports).
fn config_text(ports: &[u16], n: usize, delay: usize, weight: u32, extra: bool) -> String {
    let used = &ports[..ports.len() - usize::from(!extra)];
    let mut s = String::new();
    for i in 0..n {
        let _ = writeln!(
            s,
            "virtual_server 10.{}.{}.{} 80 {{\n lb_algo wlc\n lb_kind NAT\n protocol TCP\n delay_loop {delay}",
            100 + i / 65536,
            i / 256 % 256,
            i % 256
        );
        for port in used {
            let _ = writeln!(
                s,
                " real_server 127.0.0.1 {port} {{\n  weight {weight}\n  TCP_CHECK {{\n   connect_timeout 3\n  }}\n }}"
            );
        }
        s.push_str("}\n");
    }
    s
}

async fn parse(text: String) -> Arc<Config> {
    tokio::task::spawn_blocking(move || {
        let loaded = lvsd::config::parse_str(&text, Path::new("/etc/keepalived/bench.conf"), "")
            .unwrap_or_else(|e| panic!("bench config refused: {e}"));
        Arc::new(loaded.config)
    })
    .await
    .unwrap()
}

struct Probe {
    rt: tokio::runtime::Handle,
    first: Option<usize>,
}

impl Probe {
    fn line(&mut self, what: &str) -> usize {
        let rss = status_kib("VmRSS:");
        let heap = lvsd::heap::heap_in_use() / 1024;
        let tasks = self.rt.metrics().num_alive_tasks();
        let vs_first = match self.first {
            Some(f) => format!("{:>6.3}×", rss as f64 / f as f64),
            None => "      -".into(),
        };
        println!(
            "{what:<28} RSS {:>7.1} MiB  heap {:>7.1} MiB  peak {:>7.1} MiB  tasks {tasks:>6}  fds {:>5}  vs 1st reload {vs_first}",
            mib(rss),
            mib(heap),
            mib(status_kib("VmHWM:")),
            fds(),
        );
        rss
    }
}

/// The ports of M + 1 real servers (one more for the reload that adds one): with `up`,
/// listeners on 127.0.0.1 that accept and close each connection, each on a thread of its
/// own; else 20000.. (closed).
fn real_server_ports(m: usize, up: bool) -> Vec<u16> {
    if !up {
        return (0..=m as u16).map(|j| 20000 + j).collect();
    }
    (0..=m)
        .map(|_| {
            let l = std::net::TcpListener::bind("127.0.0.1:0")
                .unwrap_or_else(|e| panic!("cannot listen on 127.0.0.1: {e}"));
            let port = l.local_addr().expect("a bound listener's address").port();
            std::thread::Builder::new()
                .name("real server".into())
                .stack_size(64 * 1024)
                .spawn(move || {
                    for conn in l.incoming() {
                        drop(conn);
                    }
                })
                .expect("a listener thread");
            port
        })
        .collect()
}

fn main() {
    // First, as in lvsd's main: the allocator's options before any allocation.
    lvsd::heap::tune();
    let n = env("N", 1000);
    let m = env("M", 20);
    let k = env("K", 8);
    let delay = env("DELAY", 6);
    let wait = env("WAIT", 4);
    let up = env("UP", 0) != 0;
    println!(
        "memory: {n} virtual servers × {m} real servers (TCP_CHECK each, delay_loop {delay} s, real servers {}), {k} reloads, {wait} s after each; allocator {}",
        if up { "up" } else { "down" },
        lvsd::heap::NAME
    );
    let ports = real_server_ports(m, up);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .thread_name("lvsd")
        .build()
        .unwrap();
    let mut probe = Probe {
        rt: rt.handle().clone(),
        first: None,
    };
    probe.line("before start");
    rt.block_on(async move {
        let variants = [
            ("no-op", 1, false),
            ("weights changed", 2, false),
            ("+1 real server per VS", 1, true),
            ("-1 real server per VS", 1, false),
        ];
        let t = Instant::now();
        let config = parse(config_text(&ports, n, delay, 1, false)).await;
        println!("parsed in {:.1?}", t.elapsed());
        probe.line("config parsed");
        let fake = FakeIpvs::new();
        let (reload_tx, reload_rx) = watch::channel(config);
        let (shutdown_tx, shutdown_rx) = watch::channel(false);
        let ctl = Control {
            opts: Arc::new(Options::default()),
            reload: reload_rx,
            shutdown: shutdown_rx,
            heartbeat: Default::default(),
            reading: Default::default(),
        };
        let side = tokio::spawn(run_with(
            ctl,
            fake.clone(),
            ManagedCheckers::default(),
            RealEffects::default(),
        ));
        // Every checker's first attempt is at a random point of its first delay_loop.
        tokio::time::sleep(Duration::from_secs(delay as u64 + 2)).await;
        let started = probe.line("checks running");
        let mut after = Vec::new();
        for i in 0..k {
            let (name, weight, extra) = variants[i % variants.len()];
            let cfg = parse(config_text(&ports, n, delay, weight, extra)).await;
            reload_tx.send_replace(cfg);
            tokio::time::sleep(Duration::from_secs(wait as u64)).await;
            let rss = probe.line(&format!("reload {} ({name})", i + 1));
            if probe.first.is_none() {
                probe.first = Some(rss);
            }
            after.push(rss);
        }
        let before_fake = lvsd::heap::heap_in_use();
        let fake_dests = fake.with(|k| {
            let d = k.table.services.values().map(|s| s.dests.len()).sum::<usize>();
            k.table = Default::default();
            k.log = Vec::new();
            d
        });
        let fake_heap = before_fake.saturating_sub(lvsd::heap::heap_in_use()) / 1024;
        println!(
            "fake kernel table ({fake_dests} destinations) and op log: {:.1} MiB of heap (held by the kernel in a real run)",
            mib(fake_heap)
        );
        let last = *after.last().unwrap_or(&started);
        let max = after.iter().copied().max().unwrap_or(started);
        println!(
            "summary: N={n} RSS with checks running {:.1} MiB ({:.1} without the fake table, {:.0} B per real server); after {k} reloads {:.1} MiB, max {:.3}× / last {:.3}× the 1st reload",
            mib(started),
            mib(started.saturating_sub(fake_heap)),
            (started.saturating_sub(fake_heap) * 1024) as f64 / (n * m) as f64,
            mib(last),
            max as f64 / probe.first.unwrap_or(started) as f64,
            last as f64 / probe.first.unwrap_or(started) as f64,
        );
        shutdown_tx.send_replace(true);
        let _ = tokio::time::timeout(Duration::from_secs(10), side).await;
    });
}
