//! Where a no-op reload's time goes, stage by stage, against what `lvsd -t` does on the
//! same file (issue 14, target 3: a no-op reload within 1.2× of `lvsd -t`). Prints
//! figures; asserts nothing.
//!
//!     cargo bench --bench reload_stages              # N=5000 M=20 ROUNDS=5
//!
//! The file is the lifecycle bench's (tests/vm/benchlib.sh `lifecycle_conf`): N virtual
//! servers × M real servers, a TCP_CHECK each (delay_loop 300 s: no check runs during the
//! bench). Stages, each timed on its own (best / mean of ROUNDS, and the round farthest
//! from the median in % of it):
//! - `-t`: what `lvsd -t` does after the process starts (read, parse, validate, vet the
//!   scripts, drop the result);
//! - reading the file for a reload, as the daemon's SIGHUP handler does;
//! - the LVS side's reload as `lvs::runtime` runs it: the new configuration compared with
//!   the running one; when equal (a no-op reload), the state and the checker manager
//!   adopt it; else the state is brought to it, the full pass runs over the in-memory
//!   kernel and the checker manager is brought to it; then the old configuration is
//!   dropped. Once for the same file again (no-op), once for 10 weights changed and back;
//! - a no-op reload as the daemon runs it when nothing the load reads has changed: the
//!   inputs checked again without parsing (`daemon::config_load::reread`: the file's
//!   digest), then the running configuration itself handed to the LVS side (pointer-equal:
//!   adopted without a comparison). Printed against `-t`'s work.

use lvsd::checkers::CheckerManager;
use lvsd::config::{self, Config};
use lvsd::daemon::config_load::{self, LoadRecord, Reread};
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

/// The lifecycle bench's base file; `weights`: its variant with the first real server of
/// the first 10 virtual servers at weight 2.
fn config_text(n: usize, m: usize, weights: bool) -> String {
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
            let w = if weights && i < 10 && j == 0 { 2 } else { 1 };
            let _ = write!(
                s,
                " real_server 192.168.{}.{} 8080 {{\n  weight {w}\n  TCP_CHECK {{\n   connect_timeout 3\n  }}\n }}\n",
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
        // The round farthest from the median, in % of it (issue 14: within ±20 %).
        let mut sorted = self.all.clone();
        sorted.sort();
        let median = sorted.get(sorted.len() / 2).copied().unwrap_or_default();
        let spread = sorted
            .iter()
            .map(|d| (d.as_secs_f64() - median.as_secs_f64()).abs())
            .fold(0.0, f64::max)
            / median.as_secs_f64().max(1e-12);
        println!(
            "  {what:<44} {best:>10.1?} / {mean:>10.1?}  (spread ±{:.0} %)",
            spread * 100.0
        );
    }
}

fn load(path: &Path) -> Arc<Config> {
    match config::load_for_daemon(path, "bench", false) {
        Ok(l) => Arc::new(l.config),
        Err(e) => panic!("the bench's file does not load: {e}"),
    }
}

/// The LVS side as `lvs::runtime` runs it, over the in-memory kernel.
struct Side {
    state: LvsState,
    kernel: FakeIpvs,
    rec: Reconciler,
    manager: CheckerManager,
}

/// Each stage's figures over the rounds.
struct Stages {
    read: Timing,
    compare: Timing,
    adopt: Timing,
    state: Timing,
    pass: Timing,
    checkers: Timing,
    drop_old: Timing,
    total: Timing,
}

impl Stages {
    fn new() -> Stages {
        Stages {
            read: Timing::new(),
            compare: Timing::new(),
            adopt: Timing::new(),
            state: Timing::new(),
            pass: Timing::new(),
            checkers: Timing::new(),
            drop_old: Timing::new(),
            total: Timing::new(),
        }
    }

    fn print(&self) {
        self.read.line("read the file (load_for_daemon)");
        self.compare.line("LVS: compared with the running one");
        if !self.adopt.all.is_empty() {
            self.adopt.line("LVS: adopted (state and checkers)");
        }
        if !self.state.all.is_empty() {
            self.state
                .line("LVS: state brought to the new configuration");
            self.pass.line("LVS: full pass (desired table, diff, ops)");
            self.checkers.line("LVS: checker manager reload");
        }
        self.drop_old.line("LVS: old configuration dropped");
        self.total.line("the whole reload");
    }
}

impl Side {
    /// One reload of unchanged files: the inputs checked against `record` (the parse
    /// skipped), the running configuration handed again to the LVS side.
    fn reload_unchanged(
        &mut self,
        opts: &lvsd::cli::Options,
        record: &LoadRecord,
        st: &mut Stages,
    ) {
        let t0 = Instant::now();
        let res = config_load::reread(opts, None, Some(record));
        st.read.add(t0.elapsed());
        assert!(
            matches!(res, Ok(Reread::Unchanged)),
            "the bench's unchanged file was read again"
        );
        let new = self.state.config().clone();
        let t = Instant::now();
        let same = Arc::ptr_eq(self.state.config(), &new);
        st.compare.add(t.elapsed());
        assert!(same, "not the running configuration");
        let t = Instant::now();
        self.manager.adopt_equal(&new);
        let old = self.state.adopt_equal(new);
        st.adopt.add(t.elapsed());
        let t = Instant::now();
        drop(old);
        st.drop_old.add(t.elapsed());
        st.total.add(t0.elapsed());
    }

    /// One reload to the file at `path`, as the LVS side's reload does it.
    fn reload(&mut self, path: &Path, st: &mut Stages) {
        let t0 = Instant::now();
        let new = load(path);
        st.read.add(t0.elapsed());
        let t = Instant::now();
        let same = **self.state.config() == *new;
        st.compare.add(t.elapsed());
        let old = if same {
            let t = Instant::now();
            self.manager.adopt_equal(&new);
            let old = self.state.adopt_equal(new.clone());
            st.adopt.add(t.elapsed());
            old
        } else {
            let t = Instant::now();
            let old = self.state.config().clone();
            let _ = self.state.reload(new.clone());
            st.state.add(t.elapsed());
            let t = Instant::now();
            let state = &self.state;
            let p = self
                .rec
                .sync_parts(&mut self.kernel, |emit| state.desired_parts(emit));
            assert!(p.is_ok(), "the in-memory kernel failed");
            st.pass.add(t.elapsed());
            let t = Instant::now();
            let (tx, _rx) = tokio::sync::mpsc::channel(4096);
            let r = self.manager.reload(&new, &self.state.checker_states(), tx);
            assert_eq!(r.started, 0, "a reload of weights started a checker");
            st.checkers.add(t.elapsed());
            old
        };
        let t = Instant::now();
        drop(old);
        drop(new);
        st.drop_old.add(t.elapsed());
        st.total.add(t0.elapsed());
    }
}

fn main() {
    let n = env("N", 5000);
    let m = env("M", 20);
    let rounds = env("ROUNDS", 5);
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("keepalived.conf");
    std::fs::write(&path, config_text(n, m, false)).expect("the bench's file written");
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

    let weights = dir.path().join("weights.conf");
    std::fs::write(&weights, config_text(n, m, true)).expect("the bench's file written");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    let _guard = rt.enter();
    let first = load(&path);
    let (state, _) = LvsState::new(first.clone());
    let mut kernel = FakeIpvs::new();
    let mut rec = Reconciler::new();
    let _ = rec.sync_parts(&mut kernel, |emit| state.desired_parts(emit));
    let (tx, _rx) = tokio::sync::mpsc::channel(4096);
    let manager = CheckerManager::start_with_states(&first, &state.checker_states(), tx);
    drop(first);
    let mut side = Side {
        state,
        kernel,
        rec,
        manager,
    };

    let mut noop = Stages::new();
    for _ in 0..rounds {
        side.reload(&path, &mut noop);
    }
    println!(" no-op reload (the same file again):");
    noop.print();
    let mut changed = Stages::new();
    for _ in 0..rounds {
        side.reload(&weights, &mut changed);
        side.reload(&path, &mut changed);
    }
    println!(" 10 weights changed, and back (each reload counted):");
    changed.print();

    let opts = lvsd::cli::Options {
        config_file: path.clone(),
        config_id: Some("bench".into()),
        ..Default::default()
    };
    let record = match config::load_for_daemon(&path, "bench", false) {
        Ok(mut l) => LoadRecord::of(&mut l, &opts, "bench", false),
        Err(e) => panic!("the bench's file does not load: {e}"),
    };
    let mut fast = Stages::new();
    for _ in 0..rounds {
        side.reload_unchanged(&opts, &record, &mut fast);
    }
    println!(" no-op reload, files unchanged (the parse skipped):");
    fast.read.line("inputs checked again (reread: digests)");
    fast.compare.line("LVS: pointer-equal to the running one");
    fast.adopt.line("LVS: adopted (state and checkers)");
    fast.total.line("the whole reload");
    let best = |t: &Timing| t.all.iter().min().copied().unwrap_or_default();
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!(
        "  file {:.1} MiB; the whole reload / -t (best): {:.3}; full no-op reload / -t (best): {:.2}",
        size as f64 / f64::from(1 << 20),
        best(&fast.total).as_secs_f64() / best(&test).as_secs_f64().max(1e-9),
        best(&noop.total).as_secs_f64() / best(&test).as_secs_f64().max(1e-9),
    );
}
