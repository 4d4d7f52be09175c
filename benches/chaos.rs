//! Chaos, the long run (issue 17; not a test): VRRP pairs and trios in network namespaces
//! under random faults (see tests/chaos/mod.rs), round-robin over the mixes below. Prints
//! the rounds that ended in split brain (two holders after the settle time), with no
//! holder, with the wrong holder or flapping, lvsd crashes (an lvsd that exited on its
//! own), keepalived crashes (counted only), and the time from the heal to the start of a
//! stable single holder: min / median / p95 / max, overall and per fault. `2during`
//! counts the rounds in which two nodes held the VIP just before the heal (the fault did
//! split the cluster, as a partition or a link flap longer than master-down should).
//!
//! Run: `cargo bench --bench chaos` (root; keepalived and nft installed). `ROUNDS=N`
//! (default 1000) rounds in all; `CHAOS_SECS=S` stops after S seconds of wall time;
//! `CHAOS_SEED=N` replays (mix i runs with seed N + i × 1000003, the seed its failure
//! lines print; round r of a mix draws from its seed + r).

#[path = "../tests/chaos/mod.rs"]
mod chaos;
#[path = "../tests/support/mod.rs"]
mod support;

use chaos::*;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use support::Kind;

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|s| s.parse().ok())
}

fn pct(v: &[f64], p: f64) -> f64 {
    let i = ((v.len() as f64 - 1.0) * p).round() as usize;
    v[i.min(v.len() - 1)]
}

fn dist(label: &str, v: &mut [f64]) {
    if v.is_empty() {
        println!("  {label:<12} n=0");
        return;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    println!(
        "  {label:<12} n={:<4} min {:7.0} ms  median {:7.0} ms  p95 {:7.0} ms  max {:7.0} ms",
        v.len(),
        v[0] * 1e3,
        support::median(v) * 1e3,
        pct(v, 0.95) * 1e3,
        v[v.len() - 1] * 1e3
    );
}

#[derive(Default)]
struct Tally {
    rounds: usize,
    split: usize,
    none: usize,
    wrong: usize,
    flapping: usize,
    lvsd_crashes: usize,
    keepalived_crashes: usize,
    /// Rounds with two or more holders while the fault lasted.
    two_during: usize,
}

fn row(name: &str, t: &Tally) {
    println!(
        "{:<28} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>7}",
        name,
        t.rounds,
        t.split,
        t.none,
        t.wrong,
        t.flapping,
        t.lvsd_crashes,
        t.keepalived_crashes,
        t.two_during
    );
}

fn main() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    let rounds = env_u64("ROUNDS").unwrap_or(1000) as usize;
    let budget = env_u64("CHAOS_SECS").map(Duration::from_secs);
    let seed = seed_from_env();
    use Kind::{Keepalived as K, Lvsd as L};
    let mixes = [
        Mix::new("lvsd+lvsd v2", &[L, L], 2, false),
        Mix::new("lvsd+lvsd v3 unicast", &[L, L], 3, true),
        Mix::new("lvsd+keepalived v3", &[L, K], 3, false),
        Mix::new("keepalived+lvsd v2 unicast", &[K, L], 2, true),
        Mix::new("lvsd trio v3", &[L, L, L], 3, false),
        Mix::new("lvsd+keepalived+lvsd v2", &[L, K, L], 2, false),
        Mix::new("keepalived+lvsd v3 IPv6", &[K, L], 3, false).ipv6(),
        Mix::new("lvsd+lvsd v3 IPv6", &[L, L], 3, false).ipv6(),
        Mix::new("lvsd+keepalived v2 use_vmac", &[L, K], 2, false).vmac(),
    ];
    let mut clusters: Vec<Cluster> = mixes
        .iter()
        .enumerate()
        .map(|(i, m)| {
            Cluster::start(
                &format!("cb{i}"),
                m.clone(),
                seed.wrapping_add(i as u64 * 1_000_003),
            )
        })
        .collect();
    let start = Instant::now();
    let mut total = Tally::default();
    let mut per_mix: Vec<Tally> = mixes.iter().map(|_| Tally::default()).collect();
    let mut all = Vec::new();
    let mut per_fault: BTreeMap<&'static str, Vec<f64>> = BTreeMap::new();
    let mut failures = Vec::new();
    for r in 0..rounds {
        if budget.is_some_and(|b| start.elapsed() > b) {
            break;
        }
        let m = r % clusters.len();
        let cl = &mut clusters[m];
        let res = cl.round();
        for t in [&mut total, &mut per_mix[m]] {
            t.rounds += 1;
            match res.outcome {
                Outcome::Settled(_) => {}
                Outcome::SplitBrain => t.split += 1,
                Outcome::NoHolder => t.none += 1,
                Outcome::WrongHolder => t.wrong += 1,
                Outcome::Flapping => t.flapping += 1,
            }
            t.lvsd_crashes += res.lvsd_crashes.len();
            t.keepalived_crashes += res.keepalived_crashes;
            t.two_during += usize::from(res.during >= 2);
        }
        if let Outcome::Settled(d) = res.outcome {
            all.push(d.as_secs_f64());
            per_fault
                .entry(res.fault.kind())
                .or_default()
                .push(d.as_secs_f64());
        }
        if !res.ok() {
            let msg = cl.describe(&res);
            eprintln!("FAILED {msg}");
            failures.push(format!(
                "{} CHAOS_SEED={} round {}: {} -> {:?}, lvsd crashed {:?}",
                cl.mix.name, cl.seed, res.round, res.fault, res.outcome, res.lvsd_crashes
            ));
        }
        if (r + 1) % 20 == 0 {
            eprintln!(
                "chaos: {} rounds, {:.0} s, {} failed",
                r + 1,
                start.elapsed().as_secs_f64(),
                failures.len()
            );
        }
    }
    println!(
        "chaos: seed {seed}, {} rounds in {:.0} s",
        total.rounds,
        start.elapsed().as_secs_f64()
    );
    println!(
        "{:<28} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>6} {:>7}",
        "mix", "rounds", "split", "none", "wrong", "flap", "lvsd!", "ka!", "2during"
    );
    for (m, t) in mixes.iter().zip(&per_mix) {
        row(m.name, t);
    }
    row("TOTAL", &total);
    println!("time from heal to a stable single holder:");
    dist("all", &mut all);
    for (k, v) in per_fault.iter_mut() {
        dist(k, v);
    }
    for f in &failures {
        println!("failed: {f}");
    }
}
