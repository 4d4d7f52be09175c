//! Chaos, the short run (issue 17): a few rounds of random faults per mix, asserting after
//! each settled round that the highest-priority node alone holds the VIP and that no lvsd
//! exited. `CHAOS_SEED=N` replays; the long run is `cargo bench --bench chaos`.

#[path = "chaos/mod.rs"]
mod chaos;
mod support;

use chaos::*;
use support::Kind;

const ROUNDS: usize = 4;

fn run(tag: &str, mix: Mix) {
    if support::skip_without_root("network namespaces") {
        return;
    }
    let seed = seed_from_env();
    let mut cl = Cluster::start(tag, mix, seed);
    for _ in 0..ROUNDS {
        let r = cl.round();
        eprintln!(
            "chaos {} round {}: {} -> {:?}",
            cl.mix.name, r.round, r.fault, r.outcome
        );
        assert!(r.ok(), "{}", cl.describe(&r));
    }
}

#[test]
fn chaos_lvsd_pair_v2_multicast() {
    run(
        "chl2",
        Mix::new("lvsd+lvsd v2", &[Kind::Lvsd, Kind::Lvsd], 2, false),
    );
}

#[test]
fn chaos_lvsd_keepalived_v3_unicast() {
    run(
        "chk3",
        Mix::new(
            "lvsd+keepalived v3 unicast",
            &[Kind::Lvsd, Kind::Keepalived],
            3,
            true,
        ),
    );
}

#[test]
fn chaos_lvsd_trio_v3_multicast() {
    run(
        "cht3",
        Mix::new(
            "lvsd trio v3",
            &[Kind::Lvsd, Kind::Lvsd, Kind::Lvsd],
            3,
            false,
        ),
    );
}

#[test]
fn chaos_keepalived_lvsd_v2_multicast() {
    run(
        "chk2",
        Mix::new(
            "keepalived+lvsd v2",
            &[Kind::Keepalived, Kind::Lvsd],
            2,
            false,
        ),
    );
}
