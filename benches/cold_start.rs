//! Benchmark of lvsd's own (user-space) work to program a table from nothing, phase by
//! phase, as `lvsd -C` does at start: read and parse the configuration, build the checker /
//! quorum state, build the desired table, diff it against the empty kernel table, and encode
//! every operation as the netlink messages the client sends (the kernel's side is left out:
//! it is measured in the VM by scripts/vm/bench-programming.sh). Prints figures.
//!
//!     cargo bench --bench cold_start          # N=1000 M=20 ROUNDS=5 by default

use lvsd::ipvs::codec::{encode_op_cached, ServiceIdentCache};
use lvsd::ipvs::{IpvsBackend, Op, OpResult, ServiceState};
use lvsd::lvs::reconcile::Reconciler;
use lvsd::lvs::state::LvsState;
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The configuration tests/vm/bench.sh gives both daemons.
#[path = "support/process.rs"]
mod process;
use process::env;

fn config_text(n: usize, m: usize) -> String {
    let mut s = String::new();
    for i in 0..n {
        let _ = writeln!(
            s,
            "virtual_server 10.{}.{}.{} 80 {{\n lb_algo wlc\n lb_kind NAT\n protocol TCP",
            100 + i / 65536,
            i / 256 % 256,
            i % 256
        );
        for j in 0..m {
            let _ = writeln!(
                s,
                " real_server 192.168.{}.{} 8080 {{ weight 1 }}",
                j / 250,
                1 + j % 250
            );
        }
        s.push_str("}\n");
    }
    s
}

/// A kernel that is empty and acknowledges everything; it encodes each batch of
/// operations into netlink messages, 256 per buffer, as the client's encoder does.
struct EncodeOnly {
    bytes: usize,
}

impl IpvsBackend for EncodeOnly {
    type Error = std::io::Error;
    fn dump(&mut self) -> Result<Vec<ServiceState>, Self::Error> {
        Ok(Vec::new())
    }
    fn apply(&mut self, ops: &[Op]) -> Result<Vec<OpResult>, Self::Error> {
        let mut buf = Vec::new();
        let mut idents = ServiceIdentCache::default();
        for (n, op) in ops.iter().enumerate() {
            if n % 256 == 0 {
                self.bytes += buf.len();
                buf.clear();
            }
            encode_op_cached(&mut buf, 0x20, n as u32, op, &mut idents)
                .map_err(|e| std::io::Error::other(e.to_string()))?;
        }
        self.bytes += buf.len();
        Ok(vec![Ok(()); ops.len()])
    }
}

#[derive(Default)]
struct Phases {
    parse: Duration,
    state: Duration,
    desired: Duration,
    sync: Duration,
    /// Parts of `sync`, measured apart.
    diff: Duration,
    encode: Duration,
    /// `desired` + `sync` as the runtime does them: in parts, on two threads.
    parts: Duration,
}

fn main() {
    let (n, m, rounds) = (env("N", 1000), env("M", 20), env("ROUNDS", 5));
    let dir = std::env::temp_dir().join(format!("lvsd-cold-start-{}", std::process::id()));
    let _ = std::fs::create_dir_all(&dir);
    let path = dir.join("keepalived.conf");
    let text = config_text(n, m);
    if let Err(e) = std::fs::write(&path, &text) {
        eprintln!("cannot write {}: {e}", path.display());
        return;
    }
    println!(
        "cold start benchmark: {n} VS x {m} RS ({} KiB of config), {rounds} rounds, best / mean",
        text.len() / 1024
    );
    let mut runs: Vec<Phases> = Vec::new();
    let mut ops = 0;
    for _ in 0..rounds {
        let mut p = Phases::default();
        let t = Instant::now();
        let loaded = match lvsd::config::load(&path, "bench") {
            Ok(l) => l,
            Err(e) => {
                eprintln!("the generated config does not load: {:?}", e.errors.first());
                return;
            }
        };
        p.parse = t.elapsed();
        let t = Instant::now();
        let config = Arc::new(loaded.config);
        let (state, _) = LvsState::new(config);
        p.state = t.elapsed();
        let t = Instant::now();
        let desired = state.desired();
        p.desired = t.elapsed();
        {
            let rec = Reconciler::new();
            let t = Instant::now();
            let ops = rec.plan(&desired);
            p.diff = t.elapsed();
            let mut k = EncodeOnly { bytes: 0 };
            let t = Instant::now();
            let _ = k.apply(&ops);
            p.encode = t.elapsed();
        }
        let t = Instant::now();
        let mut rec = Reconciler::new();
        rec.claim(state.claims());
        let mut kernel = EncodeOnly { bytes: 0 };
        match rec.sync(&mut kernel, &desired) {
            Ok(pass) => ops = pass.ops,
            Err(e) => {
                eprintln!("sync failed: {e}");
                return;
            }
        }
        p.sync = t.elapsed();
        // The runtime's pass: the table built, claimed, diffed and encoded in parts on a
        // second thread while this one takes them.
        let t = Instant::now();
        let mut rec = Reconciler::new();
        let mut kernel = EncodeOnly { bytes: 0 };
        if let Err(e) = rec.sync_parts(&mut kernel, |emit| state.desired_parts(emit)) {
            eprintln!("sync failed: {e}");
            return;
        }
        p.parts = t.elapsed();
        runs.push(p);
    }
    let _ = std::fs::remove_dir_all(&dir);
    let show = |name: &str, f: fn(&Phases) -> Duration| {
        let best = runs.iter().map(f).min().unwrap_or_default();
        let mean = runs.iter().map(f).sum::<Duration>() / runs.len().max(1) as u32;
        println!("  {name:<40} {best:>10.2?} / {mean:>10.2?}");
    };
    show("read + parse the configuration", |p| p.parse);
    show("checker / quorum state", |p| p.state);
    show("desired table", |p| p.desired);
    show("diff + encode + bookkeeping", |p| p.sync);
    show("  of which the diff alone", |p| p.diff);
    show("  of which the encoding alone", |p| p.encode);
    show("total", |p| p.parse + p.state + p.desired + p.sync);
    show("the runtime's pass in parts (desired + sync)", |p| p.parts);
    show("total with it", |p| p.parse + p.state + p.parts);
    println!("  {ops} operations");
}
