//! Chaos, the short run (issue 17): a few rounds of random faults per mix, asserting after
//! each settled round that the highest-priority node alone holds the VIP and that no lvsd
//! exited. `CHAOS_SEED=N` replays; the long run is `cargo bench --bench chaos`.

#[path = "chaos/mod.rs"]
mod chaos;
mod support;

use chaos::*;
use support::Kind;

const ROUNDS: usize = 3;

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

/// Every kind of fault once, in order, on an lvsd pair (the node hit is drawn).
#[test]
fn chaos_lvsd_pair_v3_every_fault() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    let seed = seed_from_env();
    let mix = Mix::new(
        "lvsd+lvsd v3 every fault",
        &[Kind::Lvsd, Kind::Lvsd],
        3,
        false,
    );
    let mut cl = Cluster::start("chev", mix, seed);
    let mut rng = fastrand::Rng::with_seed(seed);
    let faults = [
        Fault::LinkFlap(rng.usize(0..2)),
        Fault::Kill(rng.usize(0..2)),
        Fault::Stop(rng.usize(0..2)),
        Fault::Loss(rng.usize(0..2), 50),
        Fault::Partition(0, 1),
        Fault::HupStorm(rng.usize(0..2)),
        Fault::Reorder(0),
        Fault::Double(Box::new(Fault::Stop(0)), Box::new(Fault::LinkFlap(1))),
    ];
    for f in faults {
        let r = cl.round_with(Some(f));
        eprintln!(
            "chaos {} round {}: {} -> {:?}",
            cl.mix.name, r.round, r.fault, r.outcome
        );
        assert!(r.ok(), "{}", cl.describe(&r));
    }
    // The master's adverts did go through the delay-and-reorder queue.
    assert!(
        cl.reordered > 0,
        "no advert was queued by the reorder fault"
    );
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

#[test]
fn chaos_lvsd_keepalived_v3_ipv6() {
    run(
        "ch6",
        Mix::new(
            "lvsd+keepalived v3 IPv6",
            &[Kind::Lvsd, Kind::Keepalived],
            3,
            false,
        )
        .ipv6(),
    );
}

#[test]
fn chaos_lvsd_pair_v2_use_vmac() {
    run(
        "chvm",
        Mix::new("lvsd+lvsd v2 use_vmac", &[Kind::Lvsd, Kind::Lvsd], 2, false).vmac(),
    );
}
