//! VRRP takeover benchmark (not a test): lvsd and keepalived side by side, in network
//! namespaces, in the same run.
//!
//! Two directors on a private bridge, A at priority 150 and B at 100 (VRID 51, one VIP).
//! Each round stops the master A with SIGTERM or SIGKILL and measures, from kernel
//! timestamps of frames captured on the bridge:
//!   - SIGTERM: A's priority-0 advert → B's first advert (protocol bound: B's skew, for v3
//!     in whole centiseconds as RFC 5798 computes it);
//!   - SIGKILL: A's last advert → B's first advert (bound: 3×advert_int + skew);
//!   - both also from the signal, and the delay from B's first advert to its first GARP.
//!
//! Then A is restarted and preempts, and the next round starts. Prints medians.
//!
//! Run: `cargo bench --bench takeover` (root; keepalived installed), or
//! `scripts/bench-takeover.sh`. ROUNDS=N (default 5) sets the rounds per case.

#[path = "../tests/support/mod.rs"]
mod support;

use std::time::{Duration, SystemTime};
use support::*;

const SEC: Duration = Duration::from_secs(1);

#[derive(Default)]
struct Samples {
    /// Protocol-relative takeover (from the last/priority-0 advert of A), seconds.
    proto: Vec<f64>,
    /// From the signal, seconds.
    from_signal: Vec<f64>,
    /// B's first advert → its first GARP for the VIP, seconds.
    garp: Vec<f64>,
    failures: usize,
}

struct Case {
    kind: Kind,
    version: u8,
    advert_int: f64,
    lab: Lab,
    cap: Capture,
    a: Daemon,
    b: Daemon,
    term: Samples,
    kill: Samples,
    /// False when A never became master at the start: the case is skipped.
    healthy: bool,
}

impl Case {
    fn new(kind: Kind, version: u8, advert_int: f64) -> Case {
        let lab = Lab::new(
            &format!("bench{}", kind.label().chars().next().unwrap_or('x')),
            2,
        );
        let cap = lab.capture();
        let mk = |r: &str, p: u8| {
            let mut c = Conf::new(r, p);
            c.version = version;
            c.advert_int = advert_int;
            c.render()
        };
        let a = lab.spawn(0, kind, "a", &mk("A", 150));
        let b = lab.spawn(1, kind, "b", &mk("B", 100));
        let mut case = Case {
            kind,
            version,
            advert_int,
            lab,
            cap,
            a,
            b,
            term: Samples::default(),
            kill: Samples::default(),
            healthy: false,
        };
        case.healthy = case.wait_a_master();
        case
    }

    fn wait_a_master(&mut self) -> bool {
        let a = self.lab.node(0).ns.clone();
        let b = self.lab.node(1).ns.clone();
        let ok = wait_addr(&a, VIP, true, 15 * SEC).is_some()
            && wait_addr(&b, VIP, false, 5 * SEC).is_some();
        if !ok {
            eprintln!(
                "{}: A did not become master; log:\n{}",
                self.kind.label(),
                self.a.log_text()
            );
        }
        ok
    }

    fn round(&mut self, kill: bool) {
        let (a_ip, b_ip) = (self.lab.node(0).ip, self.lab.node(1).ip);
        // Let a few adverts pass so A is settled, at a random phase of its advert cycle.
        let phase = (SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0) as f64
            / 1e9)
            * self.advert_int;
        std::thread::sleep(Duration::from_secs_f64(2.0 * self.advert_int + phase));
        let t0 = if kill {
            self.a.sigkill()
        } else {
            self.a.sigterm()
        };
        let timeout = Duration::from_secs_f64(master_down(100, self.advert_int) * 2.0 + 1.0);
        let b_adv = self
            .cap
            .wait_for(t0, timeout, |f| is_advert_from(f, b_ip, |p| p == 100));
        let reference = if kill {
            self.cap
                .last_before(t0, |f| is_advert_from(f, a_ip, |p| p > 0))
        } else {
            self.cap
                .wait_for(t0, SEC, |f| is_advert_from(f, a_ip, |p| p == 0))
        };
        let s = if kill { &mut self.kill } else { &mut self.term };
        match (b_adv, reference) {
            (Some(b_adv), Some(r)) => {
                s.proto.push(secs_between(r.at, b_adv.at));
                s.from_signal.push(secs_between(t0, b_adv.at));
                if let Some(g) = self.cap.wait_for(b_adv.at, SEC, |f| is_garp_for(f, VIP)) {
                    s.garp.push(secs_between(b_adv.at, g.at));
                }
            }
            _ => {
                s.failures += 1;
                eprintln!(
                    "{} v{} {}: no takeover seen\n{}",
                    self.kind.label(),
                    self.version,
                    if kill { "SIGKILL" } else { "SIGTERM" },
                    self.b.log_text()
                );
            }
        }
        if !kill {
            let _ = self.a.wait_exit(5 * SEC);
        } else {
            // A killed daemon leaves its VIP configured; remove it as a reboot would.
            let _ = std::process::Command::new("ip")
                .args([
                    "-n",
                    &self.lab.node(0).ns,
                    "addr",
                    "del",
                    &format!("{VIP}/24"),
                    "dev",
                    "eth0",
                ])
                .status();
        }
        self.a.restart();
        self.wait_a_master();
    }
}

fn ms(v: f64) -> String {
    format!("{:8.1}", v * 1000.0)
}

/// Prints a case's medians; returns (SIGTERM, SIGKILL) protocol-relative medians.
fn report(case: &mut Case) -> [Option<f64>; 2] {
    let mut out = [None, None];
    let sk = rfc_skew(case.version, 100, case.advert_int);
    let md = rfc_master_down(case.version, 100, case.advert_int);
    if !case.healthy {
        println!(
            "{:<10} v{} adv {:>5}s  not measured: A never became master at the start",
            case.kind.label(),
            case.version,
            case.advert_int
        );
        return out;
    }
    for (k, (how, s, bound)) in [
        ("SIGTERM", &mut case.term, sk),
        ("SIGKILL", &mut case.kill, md),
    ]
    .into_iter()
    .enumerate()
    {
        if s.proto.is_empty() {
            println!(
                "{:<10} v{} adv {:>5}s {}  no successful rounds ({} failed)",
                case.kind.label(),
                case.version,
                case.advert_int,
                how,
                s.failures
            );
            continue;
        }
        let n = s.proto.len();
        let p = median(&mut s.proto);
        out[k] = Some(p);
        let f = median(&mut s.from_signal);
        let g = if s.garp.is_empty() {
            f64::NAN
        } else {
            median(&mut s.garp)
        };
        println!(
            "{:<10} v{} adv {:>5}s {}  n={} fail={}  takeover {} ms  bound {} ms  diff {} ms  from-signal {} ms  advert→GARP {} ms",
            case.kind.label(),
            case.version,
            case.advert_int,
            how,
            n,
            s.failures,
            ms(p),
            ms(bound),
            ms(p - bound),
            ms(f),
            ms(g)
        );
    }
    out
}

fn main() {
    // `cargo bench` passes --bench; a plain `cargo test` of the bench target does nothing.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let rounds: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(5);
    println!(
        "VRRP takeover, {} rounds per case, medians; takeover = A's priority-0 advert (SIGTERM) or last advert (SIGKILL) → B's first advert, B at priority 100",
        rounds
    );
    // CASES=2:1,3:0.05 runs only those (version:advert_int) cases.
    let only: Option<Vec<(u8, f64)>> = std::env::var("CASES").ok().map(|v| {
        v.split(',')
            .filter_map(|c| {
                let (ver, adv) = c.split_once(':')?;
                Some((ver.trim().parse().ok()?, adv.trim().parse().ok()?))
            })
            .collect()
    });
    let all = [(2u8, 1.0f64), (3, 1.0), (3, 0.05)];
    let selected = all
        .into_iter()
        .filter(|c| only.as_ref().is_none_or(|o| o.contains(c)));
    for (version, adv) in selected {
        let mut cases = [
            Case::new(Kind::Keepalived, version, adv),
            Case::new(Kind::Lvsd, version, adv),
        ];
        for _ in 0..rounds {
            for c in cases.iter_mut().filter(|c| c.healthy) {
                c.round(false);
                c.round(true);
            }
        }
        let ka = report(&mut cases[0]);
        let lv = report(&mut cases[1]);
        for (k, (how, bound)) in [
            ("SIGTERM", rfc_skew(version, 100, adv)),
            ("SIGKILL", rfc_master_down(version, 100, adv)),
        ]
        .into_iter()
        .enumerate()
        {
            if let (Some(l), Some(r)) = (lv[k], ka[k]) {
                println!(
                    "verdict v{version} adv {adv}s {how}: lvsd {} ms from the bound ({}), {} ms vs keepalived ({})",
                    ms(l - bound).trim(),
                    if (l - bound).abs() <= 0.005 { "within 5 ms" } else { "MISSES 5 ms" },
                    ms(l - r).trim(),
                    if l <= r { "no slower" } else { "slower" }
                );
                if adv < 0.1 {
                    println!(
                        "verdict v{version} adv {adv}s {how}: lvsd takeover {} ms ({})",
                        ms(l).trim(),
                        if l < 0.2 {
                            "under 200 ms"
                        } else {
                            "NOT under 200 ms"
                        }
                    );
                }
            }
        }
    }
}
