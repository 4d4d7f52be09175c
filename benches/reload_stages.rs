//! Where a no-op reload's time goes, stage by stage, against what `lvsd -t` does on the
//! same file (issue 14, target 3: a no-op reload within 1.2× of `lvsd -t`). Prints
//! figures; asserts nothing.
//!
//!     cargo bench --bench reload_stages              # N=5000 M=20 ROUNDS=5
//!
//! The file is the lifecycle bench's (tests/vm/benchlib.sh `lifecycle_conf`): N virtual
//! servers × M real servers, a TCP_CHECK each (delay_loop 300 s: no check runs during the
//! bench). Stages, each timed on its own (best / mean of ROUNDS):
//! - `-t`: what `lvsd -t` does after the process starts (read, parse, validate, vet the
//!   scripts, drop the result);
//! - reading the file for a reload, as the daemon's SIGHUP handler does;
//! - the LVS side's reload as `lvs::runtime` runs it: the state brought to the new
//!   configuration, the full pass over the in-memory kernel (nothing to send), the checker
//!   manager brought to it (every checker kept), and the old configuration dropped.

use lvsd::checkers::CheckerManager;
use lvsd::config::{self, Config};
use lvsd::lvs::fake::FakeIpvs;
use lvsd::lvs::reconcile::Reconciler;
use lvsd::lvs::state::LvsState;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn env(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The lifecycle bench's base file.
fn config_text(n: usize, m: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        let _ = write!(
            s,
            "virtual_server 10.{}.{}.{} 80 {{\n lb_algo wlc\n lb_kind NAT\n protocol TCP\n delay_loop 300\n",
            100 + i / 65536,
            (i / 256) % 256,
            i % 256
        );
        for j in 0..m {
            let _ = write!(
                s,
                " real_server 192.168.{}.{} 8080 {{\n  weight 1\n  TCP_CHECK {{\n   connect_timeout 3\n  }}\n }}\n",
                j / 250,
                1 + j % 250
            );
        }
        s.push_str("}\n");
    }
    s
}

struct Timing {
    all: Vec<Duration>,
}

impl Timing {
    fn new() -> Timing {
        Timing { all: Vec::new() }
    }
    fn add(&mut self, d: Duration) {
        self.all.push(d);
    }
    fn line(&self, what: &str) {
        let best = self.all.iter().min().copied().unwrap_or_default();
        let n = u32::try_from(self.all.len().max(1)).unwrap_or(1);
        let mean = self.all.iter().sum::<Duration>() / n;
        println!("  {what:<44} {best:>10.1?} / {mean:>10.1?}");
    }
}

fn load(path: &Path) -> Arc<Config> {
    match config::load_for_daemon(path, "bench", false) {
        Ok(l) => Arc::new(l.config),
        Err(e) => panic!("the bench's file does not load: {e}"),
    }
}

fn main() {
    let n = env("N", 5000);
    let m = env("M", 20);
    let rounds = env("ROUNDS", 5);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("keepalived.conf");
    std::fs::write(&path, config_text(n, m)).expect("the bench's file written");
    println!("reload stages: {n} VS x {m} RS, a TCP_CHECK each, {rounds} rounds (best / mean)");

    let mut test = Timing::new();
    for _ in 0..rounds {
        let t = Instant::now();
        let (loaded, _) = config::load_timed(&path, "bench");
        if let Ok(mut l) = loaded {
            let _ = config::vet_scripts(&mut l);
            drop(l);
        }
        test.add(t.elapsed());
    }
    test.line("-t (read, parse, validate, drop)");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let _guard = rt.enter();
    let first = load(&path);
    let (mut state, _) = LvsState::new(first.clone());
    let mut kernel = FakeIpvs::new();
    let mut rec = Reconciler::new();
    let _ = rec.sync_parts(&mut kernel, |emit| state.desired_parts(emit));
    let (tx, _rx) = tokio::sync::mpsc::channel(4096);
    let mut manager = CheckerManager::start_with_states(&first, &state.checker_states(), tx);
    drop(first);

    let (mut read, mut st, mut pass, mut chk, mut drop_old, mut total) = (
        Timing::new(),
        Timing::new(),
        Timing::new(),
        Timing::new(),
        Timing::new(),
        Timing::new(),
    );
    for _ in 0..rounds {
        let t0 = Instant::now();
        let new = load(&path);
        read.add(t0.elapsed());
        let t = Instant::now();
        let old = state.config().clone();
        let _ = state.reload(new.clone());
        st.add(t.elapsed());
        let t = Instant::now();
        let p = rec.sync_parts(&mut kernel, |emit| state.desired_parts(emit));
        assert!(p.is_ok_and(|p| p.ops == 0), "a no-op reload sent something");
        pass.add(t.elapsed());
        let t = Instant::now();
        let (tx, _rx) = tokio::sync::mpsc::channel(4096);
        let r = manager.reload(&new, &state.checker_states(), tx);
        assert_eq!(r.started, 0, "a no-op reload started a checker");
        chk.add(t.elapsed());
        let t = Instant::now();
        drop(old);
        drop(new);
        drop_old.add(t.elapsed());
        total.add(t0.elapsed());
    }
    read.line("reload: read the file (load_for_daemon)");
    st.line("LVS: state brought to the new configuration");
    pass.line("LVS: full pass (desired table, diff, 0 ops)");
    chk.line("LVS: checker manager reload (all kept)");
    drop_old.line("LVS: old configuration dropped");
    total.line("the whole no-op reload");
    drop(manager);
}
