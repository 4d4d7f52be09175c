//! Issue 14, target 6, the short form: real servers flapping in waves (a new random fifth
//! of them refusing connections every wave, the previous fifth accepting again) under the
//! LVS side as the daemon runs it (`run_with`, the real checker manager) over the fake
//! kernel. After the last wave the table must hold exactly the servers that accept:
//! no flip lost, none applied twice, nothing left behind. Correctness only; no time is
//! asserted (the wait for the table to settle is a generous upper bound).
//! `benches/flap.rs` is the long form, with figures and VRRP beside it.

use lvsd::cli::Options;
use lvsd::control::Control;
use lvsd::lvs::fake::FakeIpvs;
use lvsd::lvs::runtime::{run_with, ManagedCheckers, RealEffects};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;

const N: usize = 10;
const M: usize = 10;
const WAVES: usize = 5;
const DOWN: usize = N * M / 5;

/// Real server `k`: 127.77.0.1 + k on one port (loopback only).
fn rs_addr(k: usize) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(Ipv4Addr::new(127, 77, 0, 1)) + k as u32)
}

async fn listen(k: usize, port: u16) -> JoinHandle<()> {
    let l = TcpListener::bind((rs_addr(k), port))
        .await
        .unwrap_or_else(|e| panic!("cannot listen on {}:{port}: {e}", rs_addr(k)));
    tokio::spawn(async move {
        loop {
            if l.accept().await.is_err() {
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    })
}

/// Closes the listener (connections to it are refused from then on).
async fn close(h: JoinHandle<()>) {
    h.abort();
    let _ = h.await;
}

fn config_text(port: u16) -> String {
    let mut s = String::new();
    for i in 0..N {
        let _ = writeln!(
            s,
            "virtual_server 10.9.1.{} 80 {{\n lb_algo rr\n lb_kind NAT\n protocol TCP\n delay_loop 1",
            i + 1
        );
        for j in 0..M {
            let _ = writeln!(
                s,
                " real_server {} {port} {{\n  TCP_CHECK {{\n   connect_timeout 1\n   retry 0\n  }}\n }}",
                rs_addr(i * M + j)
            );
        }
        s.push_str("}\n");
    }
    s
}

/// The real servers the table holds with a weight (indexes).
fn in_table(fake: &FakeIpvs) -> BTreeSet<usize> {
    fake.with(|k| {
        k.table
            .services
            .values()
            .flat_map(|s| s.dests.values())
            .filter(|d| d.weight > 0)
            .filter_map(|d| match d.key.addr {
                IpAddr::V4(a) => Some((u32::from(a) - u32::from(rs_addr(0))) as usize),
                IpAddr::V6(_) => None,
            })
            .collect()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn table_follows_waves_of_flapping_real_servers() {
    // One free port, then every address on it.
    let probe = TcpListener::bind(SocketAddr::from((rs_addr(0), 0)))
        .await
        .expect("a loopback port");
    let port = probe.local_addr().expect("its address").port();
    drop(probe);
    let mut listeners: Vec<Option<JoinHandle<()>>> = Vec::new();
    for k in 0..N * M {
        listeners.push(Some(listen(k, port).await));
    }
    let loaded =
        lvsd::config::parse_str(&config_text(port), Path::new("/etc/keepalived/t.conf"), "")
            .unwrap_or_else(|e| panic!("config refused: {e}"));
    let fake = FakeIpvs::new();
    let (_reload_tx, reload_rx) = watch::channel(Arc::new(loaded.config));
    let (shutdown_tx, shutdown_rx) = watch::channel(false);
    let side = tokio::spawn(run_with(
        Control {
            opts: Arc::new(Options::default()),
            reload: reload_rx,
            shutdown: shutdown_rx,
            heartbeat: Default::default(),
            reading: Default::default(),
        },
        fake.clone(),
        ManagedCheckers::default(),
        RealEffects::default(),
    ));
    let all: BTreeSet<usize> = (0..N * M).collect();
    let mut waited = 0;
    while in_table(&fake) != all {
        assert!(waited < 100, "the start never put every real server in");
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += 1;
    }

    let mut rng = fastrand::Rng::with_seed(14);
    let mut down: BTreeSet<usize> = BTreeSet::new();
    for _ in 0..WAVES {
        let mut next = BTreeSet::new();
        while next.len() < DOWN {
            next.insert(rng.usize(..N * M));
        }
        for &k in next.difference(&down) {
            if let Some(h) = listeners[k].take() {
                close(h).await;
            }
        }
        for &k in down.difference(&next) {
            listeners[k] = Some(listen(k, port).await);
        }
        down = next;
        // Less than the time to see every flip: waves overlap in the checkers.
        tokio::time::sleep(Duration::from_millis(1500)).await;
    }

    let want: BTreeSet<usize> = all.difference(&down).copied().collect();
    let mut waited = 0;
    let mut got = in_table(&fake);
    while got != want && waited < 150 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        waited += 1;
        got = in_table(&fake);
    }
    let missing: Vec<_> = want.difference(&got).collect();
    let extra: Vec<_> = got.difference(&want).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "after the last wave the table lacks {missing:?} and holds {extra:?} too much"
    );
    let services = fake.with(|k| k.table.services.len());
    assert_eq!(services, N, "every virtual server stays in the table");

    shutdown_tx.send_replace(true);
    let _ = tokio::time::timeout(Duration::from_secs(10), side).await;
}
