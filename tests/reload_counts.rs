//! Issue 14: the LVS side with real checkers (TCP_CHECK against closed loopback ports)
//! over the fake kernel, through 30 reloads of every kind (no-op, weights, ±real servers,
//! ±virtual servers): open fds and tokio tasks do not grow, a no-op reload restarts no
//! checker and sends nothing to the kernel. Counts only, no timing is asserted (waits are
//! generous upper bounds for things to settle). `benches/reload_soak.rs` is the long form.

use lvsd::checkers::manager::Reloaded;
use lvsd::checkers::{CheckerEvent, CheckerId, CheckerManager};
use lvsd::cli::Options;
use lvsd::config::Config;
use lvsd::control::Control;
use lvsd::lvs::fake::FakeIpvs;
use lvsd::lvs::runtime::{run_with, CheckerStarter, RealEffects};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

const N: usize = 20;
const M: usize = 5;

/// N virtual servers × M real servers on closed 127.0.0.1 ports; `weights` changes three
/// weights, `more_rs` adds a real server to every other virtual server, `more_vs` adds
/// two virtual servers. delay_loop 60 and warmup 0: each checker fails its first check
/// and its retry within a second or two, then stays quiet.
fn text(weights: bool, more_rs: bool, more_vs: bool) -> String {
    let mut s = String::new();
    for i in 0..N + if more_vs { 2 } else { 0 } {
        let _ = writeln!(
            s,
            "virtual_server 10.9.0.{} 80 {{\n lb_algo rr\n lb_kind NAT\n protocol TCP\n delay_loop 60\n warmup 0",
            i + 1
        );
        let extra = usize::from(more_rs && i < N && i % 2 == 0);
        for j in 0..M + extra {
            let w = if weights && j == 0 && i < 3 { 2 } else { 1 };
            let _ = writeln!(
                s,
                " real_server 127.0.0.1 {} {{\n  weight {w}\n  TCP_CHECK {{\n   connect_timeout 1\n  }}\n }}",
                // Port 1..: nothing listens there (a check that connects is fine too).
                1 + j
            );
        }
        s.push_str("}\n");
    }
    s
}

fn parse(text: &str) -> Arc<Config> {
    let loaded = lvsd::config::parse_str(text, Path::new("/etc/keepalived/t.conf"), "")
        .unwrap_or_else(|e| panic!("config refused: {e}"));
    Arc::new(loaded.config)
}

/// What the LVS side did with the checkers for one configuration.
#[derive(Debug, PartialEq, Eq)]
enum Applied {
    Started,
    Reloaded(Reloaded),
    /// The configuration equals the running one: this many checkers kept running as
    /// they were.
    Adopted(usize),
}

/// The daemon's `ManagedCheckers` (same calls), reporting each applied configuration.
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
        let r = match self.current.as_mut() {
            Some(m) => Applied::Reloaded(m.reload(&config, initial, tx)),
            None => {
                self.current = Some(CheckerManager::start_with_states(&config, initial, tx));
                Applied::Started
            }
        };
        let _ = self.applied.send(r);
        rx
    }

    fn adopt_equal(&mut self, config: Arc<Config>) {
        if let Some(m) = self.current.as_mut() {
            let _ = self.applied.send(Applied::Adopted(m.adopt_equal(&config)));
        }
    }
}

fn fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}

fn tasks() -> usize {
    tokio::runtime::Handle::current()
        .metrics()
        .num_alive_tasks()
}

/// Waits (up to 20 s) until fds and tasks are at most `limit`; returns the last counts.
async fn settle_to(limit: (usize, usize)) -> (usize, usize) {
    let mut now = (fds(), tasks());
    for _ in 0..200 {
        if now.0 <= limit.0 && now.1 <= limit.1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        now = (fds(), tasks());
    }
    now
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn thirty_reloads_leave_fds_and_tasks_flat() {
    let (reload_tx, reload_rx) = watch::channel(parse(&text(false, false, false)));
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let (applied_tx, mut applied) = mpsc::unbounded_channel();
    let ctl = Control {
        opts: Arc::new(Options::default()),
        reload: reload_rx,
        shutdown: shutdown_rx,
        heartbeat: Default::default(),
        reading: Default::default(),
    };
    let fake = FakeIpvs::new();
    let side = tokio::spawn(run_with(
        ctl,
        fake.clone(),
        Checkers {
            current: None,
            applied: applied_tx,
        },
        RealEffects::default(),
    ));
    assert_eq!(applied.recv().await, Some(Applied::Started));
    // First checks and their retries done, the heap trim after the start done.
    tokio::time::sleep(Duration::from_secs(4)).await;

    // A no-op reload: nothing restarted, nothing sent to the kernel.
    fake.with(|k| k.log.clear());
    reload_tx.send_replace(parse(&text(false, false, false)));
    // (Parsed again: an equal configuration, not the same one.)
    assert_eq!(
        applied.recv().await,
        Some(Applied::Adopted(N * M)),
        "a no-op reload"
    );
    assert_eq!(
        fake.with(|k| k.log.clone()),
        vec![],
        "a no-op reload's IPVS operations"
    );
    // The same configuration handed again (the daemon found the files unchanged and
    // skipped the parse): adopted as it is, nothing restarted or sent.
    let running = reload_tx.borrow().clone();
    reload_tx.send_replace(running);
    assert_eq!(
        applied.recv().await,
        Some(Applied::Adopted(N * M)),
        "the running configuration handed again"
    );
    assert_eq!(
        fake.with(|k| k.log.clone()),
        vec![],
        "IPVS operations after the running configuration was handed again"
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    let base = (fds(), tasks());

    let mut weights = false;
    for i in 1..30 {
        let (mut more_rs, mut more_vs) = (false, false);
        match i % 6 {
            1 => weights = !weights,
            2 => more_rs = true,
            4 => more_vs = true,
            _ => {}
        }
        reload_tx.send_replace(parse(&text(weights, more_rs, more_vs)));
        let kept = |started, stopped| {
            Applied::Reloaded(Reloaded {
                kept: N * M,
                started,
                stopped,
            })
        };
        let want = match i % 6 {
            // The file of the reload before, again.
            0 => Applied::Adopted(N * M),
            2 => kept(N / 2, 0),
            3 => kept(0, N / 2),
            4 => kept(2 * M, 0),
            5 => kept(0, 2 * M),
            // Weights: a weight is not a checker's setting.
            _ => kept(0, 0),
        };
        assert_eq!(applied.recv().await, Some(want), "reload {i}");
    }
    // Reload 29 removed the two extra virtual servers: as many checkers as at `base`.
    let now = settle_to(base).await;
    assert!(
        now.0 <= base.0 && now.1 <= base.1,
        "after 30 reloads (fds, tasks) = {now:?}, after the first {base:?}"
    );

    shutdown_tx.send_replace(true);
    let _ = tokio::time::timeout(Duration::from_secs(10), side).await;
}
