//! Benchmark of the pure LVS path: build the desired table of 5,000 virtual servers ×
//! 20 real servers from the configuration and diff it against an empty kernel table
//! (cold start) and against an equal one (steady state / no-op reload), and the heal pass
//! that reads the table back (the fake kernel's dump, then the diff) when nothing
//! drifted. Prints figures.

use lvsd::config::Config;
use lvsd::lvs::fixture::{addr_vs, real_server, tcp_check};
use lvsd::lvs::reconcile::Reconciler;
use lvsd::lvs::state::LvsState;
use lvsd::lvs::table::{diff, Table};
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::{Duration, Instant};

const VS: usize = 5_000;
const RS: usize = 20;

fn config() -> Arc<Config> {
    let mut c = Config::default();
    for i in 0..VS {
        let addr = IpAddr::V4(Ipv4Addr::new(10, 1, (i / 250) as u8, (i % 250 + 1) as u8));
        let mut vs = addr_vs(addr, 80);
        for r in 0..RS {
            let ra = IpAddr::V4(Ipv4Addr::new(10, 2, (i / 250) as u8, (r + 1) as u8));
            let mut rs = real_server(ra, Some(80));
            rs.weight = (r % 5 + 1) as u32;
            rs.checkers.push(tcp_check());
            vs.real_servers.push(rs);
        }
        c.virtual_servers.push(vs);
    }
    Arc::new(c)
}

fn time<T>(rounds: u32, mut f: impl FnMut() -> T) -> (Duration, Duration) {
    let mut best = Duration::MAX;
    let mut total = Duration::ZERO;
    for _ in 0..rounds {
        let t = Instant::now();
        black_box(f());
        let d = t.elapsed();
        best = best.min(d);
        total += d;
    }
    (best, total / rounds)
}

fn main() {
    let rounds = std::env::var("ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(5u32);
    let cfg = config();
    let (state, _) = LvsState::new(cfg.clone());
    let empty = Table::default();
    let desired = state.desired();
    let equal = desired.clone();
    let owned = state.claims();
    println!(
        "lvs reconcile benchmark: {VS} VS x {RS} RS = {} destinations, {rounds} rounds (best / mean)",
        desired.dest_count()
    );
    let (b, m) = time(rounds, || LvsState::new(cfg.clone()).0);
    println!("  state from config           {b:>12.3?} / {m:>12.3?}");
    let (b, m) = time(rounds, || state.desired());
    println!("  build desired table         {b:>12.3?} / {m:>12.3?}");
    let (b, m) = time(rounds, || diff(&desired, &empty, &owned));
    let n = diff(&desired, &empty, &owned).len();
    println!("  diff vs empty ({n} ops) {b:>12.3?} / {m:>12.3?}");
    let (b, m) = time(rounds, || diff(&desired, &equal, &owned));
    let n = diff(&desired, &equal, &owned).len();
    println!("  diff vs equal ({n} ops)       {b:>12.3?} / {m:>12.3?}");
    let (b, m) = time(rounds, || {
        let d = state.desired();
        diff(&d, &equal, &owned)
    });
    println!("  build + diff vs equal       {b:>12.3?} / {m:>12.3?}");
    // A whole cold start through the reconciler and the in-memory kernel.
    let (b, m) = time(rounds, || {
        let mut fake = lvsd::lvs::fake::FakeIpvs::new();
        let mut rec = Reconciler::new();
        rec.claim(state.claims());
        rec.sync(&mut fake, &state.desired()).map(|p| p.ops)
    });
    println!("  cold start on the fake      {b:>12.3?} / {m:>12.3?}");
    // A no-op reload: same configuration, state carried over, diff against the copy.
    let new_cfg = Arc::new((*cfg).clone());
    let mut states: Vec<LvsState> = (0..rounds).map(|_| LvsState::new(cfg.clone()).0).collect();
    let (b, m) = time(rounds, || {
        let mut s = states.pop()?;
        s.reload(new_cfg.clone());
        Some(diff(&s.desired(), &equal, &owned).len())
    });
    println!("  no-op reload + build + diff {b:>12.3?} / {m:>12.3?}");
    // The periodic heal pass when nothing drifted: dump of the (fake) kernel, desired
    // table built in parts, diff; nothing is sent.
    let mut fake = lvsd::lvs::fake::FakeIpvs::new();
    let mut rec = Reconciler::new();
    rec.claim(state.claims());
    let _ = rec.sync(&mut fake, &state.desired());
    let (b, m) = time(rounds, || {
        rec.heal(&mut fake, |emit| state.desired_parts(emit), &|| false)
            .map(|p| p.ops)
            .ok()
    });
    let sent = rec
        .heal(&mut fake, |emit| state.desired_parts(emit), &|| false)
        .map(|p| p.ops)
        .unwrap_or(usize::MAX);
    println!("  heal pass, no drift ({sent} ops) {b:>12.3?} / {m:>12.3?}");
}
