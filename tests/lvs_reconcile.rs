//! The LVS state and reconciler against the in-memory kernel table: every keepalived
//! semantic the LVS side implements, checked by the operations sent and the table left.

use lvsd::checkers::{CheckerEvent, CheckerId};
use lvsd::config::{
    Config, GlobalDefs, LbKind, SorryServer, VirtualServer, VirtualServerGroup, VsKey, VsgEntry,
};
use lvsd::ipvs::{Dest, DestKey, Forward, IpvsBackend, Op, Proto, ServiceKey};
use lvsd::lvs::fake::FakeIpvs;
use lvsd::lvs::fixture::{addr_vs, real_server, tcp_check, virtual_server};
use lvsd::lvs::reconcile::Reconciler;
use lvsd::lvs::state::{quorum_next, Effect, LvsState};
use lvsd::lvs::table::Table;
use std::net::IpAddr;
use std::sync::Arc;

#[path = "support/logs.rs"]
mod logs;
use logs::warnings_during;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn skey(addr: &str, port: u16) -> ServiceKey {
    ServiceKey::Addr {
        proto: Proto::Tcp,
        addr: ip(addr),
        port,
    }
}

fn dkey(addr: &str, port: u16) -> DestKey {
    DestKey {
        addr: ip(addr),
        port,
    }
}

/// A VS 10.0.0.1:80 with real servers 10.0.1.N:80 (weights given), one TCP_CHECK each.
fn web_vs(weights: &[u32]) -> VirtualServer {
    let mut vs = addr_vs(ip("10.0.0.1"), 80);
    for (i, w) in weights.iter().enumerate() {
        let mut rs = real_server(ip(&format!("10.0.1.{}", i + 2)), Some(80));
        rs.weight = *w;
        rs.checkers.push(tcp_check());
        vs.real_servers.push(rs);
    }
    vs
}

fn config(vss: Vec<VirtualServer>) -> Arc<Config> {
    Arc::new(Config {
        virtual_servers: vss,
        ..Default::default()
    })
}

fn ev(vs: usize, rs: usize, checker: usize, up: bool) -> CheckerEvent {
    CheckerEvent {
        id: CheckerId { vs, rs, checker },
        up,
        weight: None,
        reason: if up {
            "check succeeded"
        } else {
            "connection refused"
        }
        .into(),
    }
}

/// State + reconciler + fake kernel, stepping like the runtime does.
struct H {
    state: LvsState,
    rec: Reconciler,
    fake: FakeIpvs,
    backend: FakeIpvs,
    effects: Vec<Effect>,
}

impl H {
    fn start(config: Arc<Config>) -> H {
        H::start_on(config, FakeIpvs::new())
    }

    fn start_on(config: Arc<Config>, fake: FakeIpvs) -> H {
        let (state, effects) = LvsState::new(config);
        let mut h = H {
            state,
            rec: Reconciler::new(),
            backend: fake.clone(),
            fake,
            effects,
        };
        h.rec.claim(h.state.claims());
        h.rec.sync(&mut h.backend, &h.state.desired()).unwrap();
        h
    }

    /// Applies one event, reconciles the touched services, returns the operations sent.
    fn step(&mut self, e: CheckerEvent) -> Vec<Op> {
        self.fake.with(|k| k.take_log());
        let change = self.state.event(&e).unwrap();
        self.effects.extend(change.effects);
        let mut partial = Table::default();
        let mut scope = Vec::new();
        for i in change.dirty {
            self.state.desired_vs(i, &mut partial);
            scope.extend_from_slice(self.state.keys_of(i));
        }
        self.rec
            .update(&mut self.backend, &partial, &scope)
            .unwrap();
        self.fake.with(|k| k.take_log())
    }

    /// A full pass as the runtime makes it: the desired table built in parts while the
    /// operations found so far are sent.
    fn sync(&mut self) -> Vec<Op> {
        self.fake.with(|k| k.take_log());
        let state = &self.state;
        self.rec
            .sync_parts(&mut self.backend, |emit| state.desired_parts(emit))
            .unwrap();
        self.fake.with(|k| k.take_log())
    }

    fn reload(&mut self, config: Arc<Config>) -> Vec<Op> {
        let effects = self.state.reload(config);
        self.effects.extend(effects);
        self.rec.claim(self.state.claims());
        self.sync()
    }

    fn dests(&self, k: ServiceKey) -> Vec<(DestKey, u32)> {
        self.fake.with(|f| {
            f.table
                .services
                .get(&k)
                .map(|e| e.dests.values().map(|d| (d.key, d.weight)).collect())
                .unwrap_or_default()
        })
    }

    fn scripts(&mut self) -> Vec<String> {
        let out = self
            .effects
            .iter()
            .filter_map(|e| match e {
                Effect::Script { command, .. } => Some(command.clone()),
                _ => None,
            })
            .collect();
        self.effects.clear();
        out
    }
}

fn dest(addr: &str, port: u16, weight: u32) -> Dest {
    Dest {
        key: dkey(addr, port),
        forward: Forward::Masq,
        weight,
        upper_threshold: 0,
        lower_threshold: 0,
        tunnel: None,
    }
}

#[test]
fn cold_start_adds_everything_then_an_equal_table_sends_nothing() {
    let mut h = H::start(config(vec![web_vs(&[1, 2])]));
    let k = skey("10.0.0.1", 80);
    assert_eq!(
        h.fake.with(|f| f.log.clone()),
        vec![
            Op::AddService(lvsd::ipvs::Service {
                key: k,
                scheduler: "wlc".into(),
                flags: 0,
                timeout: 0,
                netmask: 0xffff_ffff,
                pe_name: None,
            }),
            Op::AddDest(k, dest("10.0.1.2", 80, 1)),
            Op::AddDest(k, dest("10.0.1.3", 80, 2)),
        ]
    );
    assert!(!h.rec.needs_retry());
    assert_eq!(h.sync(), vec![]);
    // A fresh reconciler (next start) dumps and finds nothing to do either.
    let mut rec = Reconciler::new();
    rec.claim(h.state.claims());
    let mut b = h.fake.clone();
    let pass = rec.sync(&mut b, &h.state.desired()).unwrap();
    assert_eq!(pass.ops, 0);
}

#[test]
fn real_server_down_and_up_removes_and_re_adds() {
    let mut h = H::start(config(vec![web_vs(&[1, 1])]));
    let k = skey("10.0.0.1", 80);
    assert_eq!(
        h.step(ev(0, 0, 0, false)),
        vec![Op::DelDest(k, dkey("10.0.1.2", 80))]
    );
    assert_eq!(h.dests(k), vec![(dkey("10.0.1.3", 80), 1)]);
    // Same verdict again: nothing.
    assert_eq!(h.step(ev(0, 0, 0, false)), vec![]);
    assert_eq!(
        h.step(ev(0, 0, 0, true)),
        vec![Op::AddDest(k, dest("10.0.1.2", 80, 1))]
    );
}

#[test]
fn inhibit_on_failure_sets_weight_zero_instead_of_deleting() {
    // (vs setting, rs setting, expected op on failure)
    let k = skey("10.0.0.1", 80);
    let cases: Vec<(bool, Option<bool>, Op)> = vec![
        (true, None, Op::EditDest(k, dest("10.0.1.2", 80, 0))),
        (false, Some(true), Op::EditDest(k, dest("10.0.1.2", 80, 0))),
        (true, Some(false), Op::DelDest(k, dkey("10.0.1.2", 80))),
        (false, None, Op::DelDest(k, dkey("10.0.1.2", 80))),
    ];
    for (vs_inh, rs_inh, expected) in cases {
        let mut vs = web_vs(&[3, 1]);
        vs.inhibit_on_failure = vs_inh;
        vs.real_servers[0].inhibit_on_failure = rs_inh;
        let mut h = H::start(config(vec![vs]));
        assert_eq!(h.step(ev(0, 0, 0, false)), vec![expected.clone()]);
        let back = h.step(ev(0, 0, 0, true));
        match expected {
            Op::EditDest(..) => assert_eq!(back, vec![Op::EditDest(k, dest("10.0.1.2", 80, 3))]),
            _ => assert_eq!(back, vec![Op::AddDest(k, dest("10.0.1.2", 80, 3))]),
        }
    }
}

#[test]
fn alpha_starts_servers_down_until_first_success() {
    // (vs alpha, rs alpha, checker alpha, starts in table)
    let cases = [
        (true, None, None, false),
        (false, Some(true), None, false),
        (true, Some(false), None, true),
        (true, None, Some(false), true),
        (false, None, Some(true), false),
        (false, None, None, true),
    ];
    let k = skey("10.0.0.1", 80);
    for (vs_a, rs_a, c_a, present) in cases {
        let mut vs = web_vs(&[1]);
        vs.alpha = vs_a;
        vs.real_servers[0].alpha = rs_a;
        vs.real_servers[0].checkers[0].common.more_mut().alpha = c_a;
        let mut h = H::start(config(vec![vs]));
        assert_eq!(
            h.dests(k).len(),
            usize::from(present),
            "alpha vs={vs_a} rs={rs_a:?} checker={c_a:?}"
        );
        if !present {
            assert_eq!(
                h.step(ev(0, 0, 0, true)),
                vec![Op::AddDest(k, dest("10.0.1.2", 80, 1))]
            );
        }
    }
}

#[test]
fn several_checkers_all_must_be_up_and_none_means_always_up() {
    let mut vs = web_vs(&[1]);
    vs.real_servers[0].checkers.push(tcp_check());
    vs.real_servers[0].checkers.push(tcp_check());
    vs.real_servers.push(real_server(ip("10.0.1.9"), Some(80))); // no checker
    let mut h = H::start(config(vec![vs]));
    let k = skey("10.0.0.1", 80);
    // (checker, verdict, alive afterwards)
    let steps = [
        (1, false, false),
        (0, false, false),
        (1, true, false),
        (0, true, true),
        (2, false, false),
        (2, true, true),
    ];
    for (c, up, alive) in steps {
        h.step(ev(0, 0, c, up));
        assert_eq!(h.state.rs_alive(0, 0), Some(alive), "checker {c} -> {up}");
        let present = h.dests(k).iter().any(|(d, _)| *d == dkey("10.0.1.2", 80));
        assert_eq!(present, alive);
        assert!(h.dests(k).iter().any(|(d, _)| *d == dkey("10.0.1.9", 80)));
    }
}

#[test]
fn quorum_hysteresis_edges() {
    // (up before, live weight, quorum, hysteresis, up after)
    let cases = [
        (true, 3, 3, 0, true),
        (true, 2, 3, 0, false),
        (true, 2, 3, 1, true),   // 2 ≥ 3−1
        (true, 1, 3, 1, false),  // 1 < 3−1
        (false, 3, 3, 1, false), // 3 < 3+1
        (false, 4, 3, 1, true),
        (false, 3, 3, 0, true),
        (true, 0, 1, 5, false), // 0 always loses (quorum > 0)
        (true, 0, 0, 0, true),  // quorum 0: nothing to lose
        (false, 0, 0, 0, true),
    ];
    for (up, sum, q, h, next) in cases {
        assert_eq!(
            quorum_next(up, sum, q, h),
            next,
            "up={up} sum={sum} q={q} h={h}"
        );
    }
}

fn sorry_vs(inhibit: bool) -> VirtualServer {
    let mut vs = web_vs(&[1, 1, 1]);
    vs.quorum = 2;
    vs.hysteresis = 1;
    vs.quorum_up = Some("/bin/qup".into());
    vs.quorum_down = Some("/bin/qdown".into());
    vs.sorry_server = Some(SorryServer {
        addr: ip("10.0.9.9"),
        port: 8080,
        lvs_method: None,
    });
    vs.sorry_server_inhibit = inhibit;
    vs
}

#[test]
fn quorum_loss_swaps_in_the_sorry_server_and_back() {
    let mut h = H::start(config(vec![sorry_vs(false)]));
    let k = skey("10.0.0.1", 80);
    assert_eq!(h.scripts(), vec!["/bin/qup".to_string()]); // starting with quorum
    assert!(h.state.quorum_up(0));
    // 3 → 2: 2 ≥ 2−1, still up.
    assert_eq!(
        h.step(ev(0, 0, 0, false)),
        vec![Op::DelDest(k, dkey("10.0.1.2", 80))]
    );
    assert!(h.state.quorum_up(0));
    // 2 → 1: 1 ≥ 1, still up (hysteresis edge).
    h.step(ev(0, 1, 0, false));
    assert!(h.state.quorum_up(0));
    assert_eq!(h.scripts(), Vec::<String>::new());
    // 1 → 0: lost. The alive server leaves, the sorry server comes in.
    let ops = h.step(ev(0, 2, 0, false));
    assert!(!h.state.quorum_up(0));
    assert_eq!(h.scripts(), vec!["/bin/qdown".to_string()]);
    assert_eq!(
        ops,
        vec![
            Op::DelDest(k, dkey("10.0.1.4", 80)),
            Op::AddDest(k, dest("10.0.9.9", 8080, 1)),
        ]
    );
    // 0 → 1 → 2: below 2+1, the sorry server stays, no real server enters.
    assert_eq!(h.step(ev(0, 0, 0, true)), vec![]);
    assert_eq!(h.step(ev(0, 1, 0, true)), vec![]);
    assert_eq!(h.dests(k), vec![(dkey("10.0.9.9", 8080), 1)]);
    // 3 ≥ 3: gained. Alive servers back, sorry server out.
    let ops = h.step(ev(0, 2, 0, true));
    assert!(h.state.quorum_up(0));
    assert_eq!(h.scripts(), vec!["/bin/qup".to_string()]);
    assert_eq!(
        ops,
        vec![
            Op::DelDest(k, dkey("10.0.9.9", 8080)),
            Op::AddDest(k, dest("10.0.1.2", 80, 1)),
            Op::AddDest(k, dest("10.0.1.3", 80, 1)),
            Op::AddDest(k, dest("10.0.1.4", 80, 1)),
        ]
    );
}

#[test]
fn sorry_server_inhibit_keeps_it_at_weight_zero() {
    let mut vs = sorry_vs(true);
    vs.hysteresis = 0;
    vs.quorum = 3;
    let mut h = H::start(config(vec![vs]));
    let k = skey("10.0.0.1", 80);
    assert!(h.dests(k).contains(&(dkey("10.0.9.9", 8080), 0)));
    let ops = h.step(ev(0, 0, 0, false));
    assert!(ops.contains(&Op::EditDest(k, dest("10.0.9.9", 8080, 1))));
    assert_eq!(h.dests(k), vec![(dkey("10.0.9.9", 8080), 1)]);
    let ops = h.step(ev(0, 0, 0, true));
    assert!(ops.contains(&Op::EditDest(k, dest("10.0.9.9", 8080, 0))));
    assert_eq!(h.dests(k).len(), 4);
}

#[test]
fn starting_without_quorum_puts_the_sorry_server_in() {
    let mut vs = sorry_vs(false);
    vs.alpha = true;
    let mut h = H::start(config(vec![vs]));
    assert_eq!(h.scripts(), vec!["/bin/qdown".to_string()]);
    assert_eq!(
        h.dests(skey("10.0.0.1", 80)),
        vec![(dkey("10.0.9.9", 8080), 1)]
    );
}

#[test]
fn quorum_without_sorry_server_only_runs_scripts() {
    let mut vs = web_vs(&[1]);
    vs.quorum_down = Some("/bin/qdown".into());
    let mut h = H::start(config(vec![vs]));
    h.scripts();
    let ops = h.step(ev(0, 0, 0, false));
    assert_eq!(
        ops,
        vec![Op::DelDest(skey("10.0.0.1", 80), dkey("10.0.1.2", 80))]
    );
    assert_eq!(h.scripts(), vec!["/bin/qdown".to_string()]);
}

#[test]
fn notify_scripts_and_mail_on_up_and_down() {
    let mut vs = web_vs(&[1]);
    vs.real_servers[0].more_mut().notify_up = Some("/bin/up".into());
    vs.real_servers[0].more_mut().notify_down = Some("/bin/down arg".into());
    let cfg = Config {
        global: GlobalDefs {
            router_id: Some("lvs1".into()),
            smtp_alert: true,
            ..Default::default()
        },
        virtual_servers: vec![vs],
        ..Default::default()
    };
    let mut h = H::start(Arc::new(cfg));
    h.effects.clear();
    h.step(ev(0, 0, 0, false));
    assert_eq!(
        h.effects,
        vec![
            Effect::Script {
                command: "/bin/down arg".into(),
                what: "notify_down for [10.0.1.2]:tcp:80".into()
            },
            Effect::Fifo("RS [10.0.1.2]:tcp:80 [10.0.0.1]:tcp:80 DOWN\n".into()),
            Effect::Mail {
                subject: "[lvs1] Realserver [10.0.1.2]:tcp:80 - DOWN".into(),
                body: "=> CHECK failed on service : connection refused <=".into()
            },
            // Its only real server gone, the virtual server loses quorum.
            Effect::Fifo("VS [10.0.0.1]:tcp:80 DOWN\n".into()),
        ]
    );
    h.effects.clear();
    h.step(ev(0, 0, 0, true));
    assert_eq!(h.effects.len(), 4);
    assert_eq!(
        h.effects[2],
        Effect::Mail {
            subject: "[lvs1] Realserver [10.0.1.2]:tcp:80 - UP".into(),
            body: "=> CHECK succeed on service <=".into()
        }
    );
    // smtp_alert off on the real server: no mail.
    let mut vs = web_vs(&[1]);
    vs.real_servers[0].more_mut().smtp_alert = Some(false);
    let mut h = H::start(Arc::new(Config {
        global: GlobalDefs {
            smtp_alert: true,
            ..Default::default()
        },
        virtual_servers: vec![vs],
        ..Default::default()
    }));
    h.step(ev(0, 0, 0, false));
    assert!(h.effects.iter().all(|e| !matches!(e, Effect::Mail { .. })));
}

#[test]
fn omega_runs_down_scripts_at_exit() {
    let mut vs = web_vs(&[1, 1]);
    vs.omega = true;
    vs.quorum_down = Some("/bin/qdown".into());
    vs.real_servers[0].more_mut().notify_down = Some("/bin/down0".into());
    vs.real_servers[1].more_mut().notify_down = Some("/bin/down1".into());
    let mut h = H::start(config(vec![vs.clone()]));
    h.step(ev(0, 1, 0, false));
    let cmds: Vec<String> = h
        .state
        .shutdown_effects()
        .into_iter()
        .filter_map(|e| match e {
            Effect::Script { command, .. } => Some(command),
            Effect::Fifo(_) => None,
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        cmds,
        vec!["/bin/down0".to_string(), "/bin/qdown".to_string()]
    );
    vs.omega = false;
    let h = H::start(config(vec![vs]));
    assert!(h.state.shutdown_effects().is_empty());
}

#[test]
fn dynamic_weight_edits_the_destination_and_counts_for_quorum() {
    let mut vs = web_vs(&[1]);
    vs.quorum = 5;
    vs.quorum_up = Some("/bin/qup".into());
    let mut h = H::start(config(vec![vs]));
    assert!(!h.state.quorum_up(0));
    h.scripts();
    let mut e = ev(0, 0, 0, true);
    e.weight = Some(7);
    assert_eq!(
        h.step(e),
        vec![Op::EditDest(skey("10.0.0.1", 80), dest("10.0.1.2", 80, 7))]
    );
    assert!(h.state.quorum_up(0));
    assert_eq!(h.scripts(), vec!["/bin/qup".to_string()]);
}

#[test]
fn unknown_checker_events_are_dropped_and_counted() {
    let mut h = H::start(config(vec![web_vs(&[1])]));
    for id in [(1, 0, 0), (0, 1, 0), (0, 0, 1)] {
        assert!(h.state.event(&ev(id.0, id.1, id.2, false)).is_err());
    }
    assert_eq!(h.state.stats.bad_events, 3);
    assert_eq!(h.state.rs_alive(0, 0), Some(true));
}

#[test]
fn groups_expand_into_one_service_per_member() {
    let g = VirtualServerGroup {
        span: Default::default(),
        name: "web".into(),
        entries: vec![
            VsgEntry::Range {
                addr: ip("10.0.0.10"),
                range_end: Some(12),
                port: Some(80),
            },
            VsgEntry::Fwmark(9, None),
        ],
    };
    let mut vs = virtual_server(VsKey::Group("web".into()));
    vs.lb_kind = LbKind::Dr;
    let mut rs = real_server(ip("10.0.1.2"), None);
    rs.checkers.push(tcp_check());
    vs.real_servers.push(rs);
    let cfg = Arc::new(Config {
        virtual_server_groups: vec![g],
        virtual_servers: vec![vs],
        ..Default::default()
    });
    let mut h = H::start(cfg);
    let fw = ServiceKey::Fwmark {
        family: lvsd::ipvs::Family::V4,
        mark: 9,
    };
    let keys = [
        skey("10.0.0.10", 80),
        skey("10.0.0.11", 80),
        skey("10.0.0.12", 80),
    ];
    for k in keys {
        assert_eq!(h.dests(k), vec![(dkey("10.0.1.2", 80), 1)]);
    }
    assert_eq!(h.dests(fw), vec![(dkey("10.0.1.2", 0), 1)]);
    // One checker event touches every member.
    let ops = h.step(ev(0, 0, 0, false));
    assert_eq!(ops.len(), 4);
    assert!(ops.iter().all(|o| matches!(o, Op::DelDest(..))));
}

#[test]
fn foreign_entries_are_left_alone() {
    let fake = FakeIpvs::new();
    let foreign_svc = skey("192.0.2.1", 443);
    let managed = skey("10.0.0.1", 80);
    // Before lvsd starts: someone else's service, and their dest in our configured service,
    // and our configured service with the wrong scheduler.
    fake.with(|k| {
        let mut svc = lvsd::ipvs::Service {
            key: foreign_svc,
            scheduler: "rr".into(),
            flags: 0,
            timeout: 0,
            netmask: 0xffff_ffff,
            pe_name: None,
        };
        k.table.apply(&Op::AddService(svc.clone()));
        k.table
            .apply(&Op::AddDest(foreign_svc, dest("192.0.2.7", 443, 1)));
        svc.key = managed;
        k.table.apply(&Op::AddService(svc));
        k.table
            .apply(&Op::AddDest(managed, dest("10.0.7.7", 80, 5)));
    });
    let mut h = H::start_on(config(vec![web_vs(&[1])]), fake);
    let log = h.fake.with(|k| k.take_log());
    assert!(matches!(&log[0], Op::EditService(s) if s.scheduler == "wlc"));
    assert_eq!(log[1..], [Op::AddDest(managed, dest("10.0.1.2", 80, 1))]);
    assert_eq!(h.dests(foreign_svc), vec![(dkey("192.0.2.7", 443), 1)]);
    assert!(h.dests(managed).contains(&(dkey("10.0.7.7", 80), 5)));
    // Down and up again: the foreign dest is never touched.
    h.step(ev(0, 0, 0, false));
    assert_eq!(h.dests(managed), vec![(dkey("10.0.7.7", 80), 5)]);
    // At exit the managed service goes (whole); the foreign one stays.
    let mut b = h.fake.clone();
    h.rec.release(&mut b).unwrap();
    let t = h.fake.table();
    assert!(!t.services.contains_key(&managed));
    assert!(t.services.contains_key(&foreign_svc));
}

#[test]
fn failed_operations_are_retried_on_the_next_pass() {
    let fake = FakeIpvs::new();
    fake.with(|k| {
        k.rules.push(Box::new(|op| match op {
            Op::AddDest(_, d) if d.key.addr == "10.0.1.3".parse::<IpAddr>().unwrap() => {
                Some(libc::ENOMEM)
            }
            _ => None,
        }))
    });
    let mut h = H::start_on(config(vec![web_vs(&[1, 1])]), fake);
    let k = skey("10.0.0.1", 80);
    assert_eq!(h.dests(k), vec![(dkey("10.0.1.2", 80), 1)]);
    assert!(h.rec.needs_retry());
    assert_eq!(h.rec.stats.ops_failed, 1);
    // Still failing: retried, still pending.
    let ops = h.sync();
    assert_eq!(ops, vec![Op::AddDest(k, dest("10.0.1.3", 80, 1))]);
    assert!(h.rec.needs_retry());
    // The kernel recovers: the retry lands and nothing more is pending.
    h.fake.with(|k| k.rules.clear());
    let dumps = h.fake.with(|k| k.dumps);
    assert_eq!(h.sync(), vec![Op::AddDest(k, dest("10.0.1.3", 80, 1))]);
    assert_eq!(
        h.fake.with(|k| k.dumps),
        dumps + 1,
        "a retry re-reads the kernel"
    );
    assert!(!h.rec.needs_retry());
    assert_eq!(h.dests(k).len(), 2);
    assert_eq!(h.sync(), vec![]);
}

#[test]
fn transport_errors_and_external_changes_are_repaired_by_a_retry() {
    let mut h = H::start(config(vec![web_vs(&[1, 1])]));
    let k = skey("10.0.0.1", 80);
    h.fake.with(|f| f.transport_failures.push_back(()));
    let change = h.state.event(&ev(0, 0, 0, false)).unwrap();
    let mut partial = Table::default();
    h.state.desired_vs(change.dirty[0], &mut partial);
    let mut b = h.fake.clone();
    assert!(h.rec.update(&mut b, &partial, h.state.keys_of(0)).is_err());
    assert!(h.rec.needs_retry());
    // Meanwhile someone deletes our other dest behind our back.
    h.fake
        .with(|f| f.table.apply(&Op::DelDest(k, dkey("10.0.1.3", 80))));
    let ops = h.sync();
    assert_eq!(
        ops,
        vec![
            Op::DelDest(k, dkey("10.0.1.2", 80)),
            Op::AddDest(k, dest("10.0.1.3", 80, 1))
        ]
    );
    assert!(!h.rec.needs_retry());
}

#[test]
fn reload_keeps_state_and_sends_only_the_difference() {
    let mut other = addr_vs(ip("10.0.0.2"), 443);
    other
        .real_servers
        .push(real_server(ip("10.0.2.2"), Some(443)));
    let mut h = H::start(config(vec![web_vs(&[1, 1, 1]), other]));
    let k = skey("10.0.0.1", 80);
    h.step(ev(0, 1, 0, false)); // 10.0.1.3 down
                                // New config: VS order changed, 10.0.0.2 gone, a new VS, a new real server,
                                // a changed weight, a removed real server (10.0.1.4), the down one unchanged.
    let mut web = web_vs(&[5, 1]);
    let mut new_rs = real_server(ip("10.0.1.8"), Some(80));
    new_rs.checkers.push(tcp_check());
    web.real_servers.push(new_rs);
    let mut third = addr_vs(ip("10.0.0.3"), 25);
    third
        .real_servers
        .push(real_server(ip("10.0.3.2"), Some(25)));
    let before = h.state.checker_states();
    let ops = h.reload(config(vec![third, web]));
    assert_eq!(
        ops,
        vec![
            Op::DelDest(k, dkey("10.0.1.4", 80)),
            Op::EditDest(k, dest("10.0.1.2", 80, 5)),
            Op::AddDest(k, dest("10.0.1.8", 80, 1)),
            Op::AddService(lvsd::ipvs::Service {
                key: skey("10.0.0.3", 25),
                scheduler: "wlc".into(),
                flags: 0,
                timeout: 0,
                netmask: 0xffff_ffff,
                pe_name: None,
            }),
            Op::AddDest(skey("10.0.0.3", 25), dest("10.0.3.2", 25, 1)),
            Op::DelService(skey("10.0.0.2", 443)),
        ]
    );
    // The down server stayed down across the reload (now VS 1, RS 1).
    assert!(
        !before[&CheckerId {
            vs: 0,
            rs: 1,
            checker: 0
        }]
    );
    assert_eq!(h.state.rs_alive(1, 1), Some(false));
    assert!(
        !h.state.checker_states()[&CheckerId {
            vs: 1,
            rs: 1,
            checker: 0
        }]
    );
    // Reloading the same config again sends nothing.
    let same = h.state.config().clone();
    assert_eq!(h.reload(Arc::new((*same).clone())), vec![]);
    // And events after the reload use the new indexes.
    assert_eq!(
        h.step(ev(1, 1, 0, true)),
        vec![Op::AddDest(k, dest("10.0.1.3", 80, 1))]
    );
}

#[test]
fn reload_of_a_changed_checker_restarts_its_verdict() {
    let mut h = H::start(config(vec![web_vs(&[1])]));
    h.step(ev(0, 0, 0, false));
    let mut vs = web_vs(&[1]);
    vs.real_servers[0].checkers[0].common.connect_port = Some(8080);
    let ops = h.reload(config(vec![vs]));
    // A new checker starts up (no alpha): the server is back.
    assert_eq!(
        ops,
        vec![Op::AddDest(skey("10.0.0.1", 80), dest("10.0.1.2", 80, 1))]
    );
}

#[test]
fn big_reload_is_quick() {
    // Not a timed assertion: prints the figure; the benchmark measures properly.
    let make = |w: u32| {
        (0..500)
            .map(|i| {
                let mut vs = addr_vs(ip(&format!("10.1.{}.{}", i / 250, i % 250 + 1)), 80);
                for r in 0..20 {
                    let mut rs = real_server(ip(&format!("10.2.{}.{}", i / 250, r + 1)), Some(80));
                    rs.weight = if r == 0 { w } else { 1 };
                    vs.real_servers.push(rs);
                }
                vs
            })
            .collect::<Vec<_>>()
    };
    let mut h = H::start(config(make(1)));
    let t = std::time::Instant::now();
    let ops = h.reload(config(make(2)));
    println!(
        "reload of 500 VS x 20 RS changing 500 weights: {:?}",
        t.elapsed()
    );
    assert_eq!(ops.len(), 500);
    assert!(ops
        .iter()
        .all(|o| matches!(o, Op::EditDest(_, d) if d.weight == 2)));
}

/// `n` virtual servers 10.3.X.Y:80, each with `m` real servers 10.4.0.R:80 (weight 1).
fn many_vs(n: usize, m: usize) -> Vec<VirtualServer> {
    (0..n)
        .map(|i| {
            let mut vs = addr_vs(ip(&format!("10.3.{}.{}", i / 250, i % 250 + 1)), 80);
            for r in 0..m {
                vs.real_servers
                    .push(real_server(ip(&format!("10.4.0.{}", r + 1)), Some(80)));
            }
            vs
        })
        .collect()
}

#[test]
fn pass_built_in_parts_sends_what_the_plan_says_in_its_order() {
    // 100 x 30 at start, then a reload that drops ten virtual servers, adds a hundred and
    // reweights one: over 1,024 operations, so several parts of operations go out.
    let mut h = H::start(config(many_vs(100, 30)));
    assert_eq!(h.fake.with(|f| f.table.dest_count()), 3000);
    let mut next = many_vs(200, 30);
    next.drain(0..10);
    for rs in &mut next[40].real_servers {
        rs.weight = 2;
    }
    let _ = h.state.reload(config(next));
    h.rec.claim(h.state.claims());
    let planned = h.rec.plan(&h.state.desired());
    let calls = h.fake.with(|f| f.apply_calls);
    let ops = h.sync();
    assert_eq!(ops, planned);
    assert!(ops.len() > 2 * 1024, "{} operations", ops.len());
    assert!(h.fake.with(|f| f.apply_calls) - calls >= 3);
    assert_eq!(h.fake.table(), h.state.desired());
    assert!(!h.rec.needs_retry());
    assert_eq!(h.sync(), vec![]);
}

#[test]
fn service_named_twice_is_its_first_virtual_servers_across_parts() {
    // The second definition of 10.3.0.1:80 comes three parts of the table later.
    let mut vss = many_vs(40, 2);
    let mut again = addr_vs(ip("10.3.0.1"), 80);
    again
        .real_servers
        .push(real_server(ip("10.5.0.1"), Some(80)));
    vss.push(again);
    let h = H::start(config(vss));
    let k = skey("10.3.0.1", 80);
    assert_eq!(
        h.dests(k),
        vec![(dkey("10.4.0.1", 80), 1), (dkey("10.4.0.2", 80), 1)]
    );
    assert_eq!(h.fake.table(), h.state.desired());
    assert_eq!(
        h.fake.with(|f| f
            .log
            .iter()
            .filter(|o| matches!(o, Op::AddService(s) if s.key == k))
            .count()),
        1
    );
    assert!(!h.rec.needs_retry());

    // The claims travel with the parts: a destination in the kernel that only the second
    // definition names is lvsd's, and goes, though the first definition's part is diffed
    // before the second's is built (no claim() beforehand here).
    let fake = h.fake.clone();
    fake.with(|f| f.table.apply(&Op::AddDest(k, dest("10.5.0.1", 80, 1))));
    let mut rec = Reconciler::new();
    let mut b = fake.clone();
    fake.with(|f| f.take_log());
    rec.sync_parts(&mut b, |emit| h.state.desired_parts(emit))
        .unwrap();
    assert_eq!(
        fake.with(|f| f.take_log()),
        vec![Op::DelDest(k, dkey("10.5.0.1", 80))]
    );
    assert!(rec.owned().owns_dest(&k, &dkey("10.5.0.1", 80)));
    assert_eq!(rec.owned().services.len(), 40);
}

#[test]
fn transport_error_in_a_pass_in_parts_books_what_went_out_and_retries() {
    let fake = FakeIpvs::new();
    fake.with(|f| f.transport_failure_at_apply = Some(2));
    let (state, _) = LvsState::new(config(many_vs(100, 30)));
    let mut rec = Reconciler::new();
    rec.claim(state.claims());
    let mut b = fake.clone();
    assert!(rec
        .sync_parts(&mut b, |emit| state.desired_parts(emit))
        .is_err());
    assert!(rec.needs_retry());
    // The first part reached the kernel and is booked; the producer stopped after the
    // failed one (nothing more was sent).
    let sent = fake.with(|f| f.log.len());
    assert!((1024..3100).contains(&sent), "{sent} operations sent");
    assert_eq!(fake.with(|f| f.apply_calls), 2);
    assert_eq!(rec.stats.ops_ok, sent as u64);
    assert_eq!(rec.actual(), &fake.table());
    // The retry reads the kernel again and finishes the table.
    rec.sync_parts(&mut b, |emit| state.desired_parts(emit))
        .unwrap();
    assert_eq!(fake.table(), state.desired());
    assert_eq!(fake.with(|f| f.dumps), 2);
    assert!(!rec.needs_retry());
}

#[test]
fn reconciler_from_an_early_read_of_the_table_does_not_read_it_again() {
    let fake = FakeIpvs::new();
    let foreign = lvsd::ipvs::Service {
        key: skey("10.9.9.9", 80),
        scheduler: "rr".into(),
        flags: 0,
        timeout: 0,
        netmask: u32::MAX,
        pe_name: None,
    };
    fake.with(|f| f.table.apply(&Op::AddService(foreign)));
    let mut b = fake.clone();
    let mut rec = Reconciler::from_dump(b.dump().unwrap());
    let (state, _) = LvsState::new(config(vec![web_vs(&[1, 1])]));
    rec.claim(state.claims());
    rec.sync_parts(&mut b, |emit| state.desired_parts(emit))
        .unwrap();
    assert_eq!(fake.with(|f| f.dumps), 1, "only the early read");
    let mut want = state.desired();
    want.services.insert(
        skey("10.9.9.9", 80),
        fake.table().services[&skey("10.9.9.9", 80)].clone(),
    );
    assert_eq!(fake.table(), want);
    assert!(!rec.needs_retry());
}

#[test]
fn real_server_named_twice_is_its_first_definition() {
    // 10.0.1.3:80 twice (weights 2, then 7), between others written out of order; the
    // second one is ignored wherever it comes in the sorted table.
    let mut vs = web_vs(&[1, 2, 3]);
    let mut again = real_server(ip("10.0.1.3"), Some(80));
    again.weight = 7;
    again.checkers.push(tcp_check());
    vs.real_servers
        .insert(0, real_server(ip("10.0.1.9"), Some(80)));
    vs.real_servers.push(again);
    vs.real_servers.push(real_server(ip("10.0.1.1"), Some(80)));
    let h = H::start(config(vec![vs]));
    assert_eq!(
        h.dests(skey("10.0.0.1", 80)),
        vec![
            (dkey("10.0.1.1", 80), 1),
            (dkey("10.0.1.2", 80), 1),
            (dkey("10.0.1.3", 80), 2),
            (dkey("10.0.1.4", 80), 3),
            (dkey("10.0.1.9", 80), 1),
        ]
    );
    assert_eq!(h.fake.table(), h.state.desired());
}

fn fifo_lines(effects: &[Effect]) -> Vec<&str> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Fifo(l) => Some(l.as_str()),
            _ => None,
        })
        .collect()
}

fn mails(effects: &[Effect]) -> Vec<(&str, &str)> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Mail { subject, body } => Some((subject.as_str(), body.as_str())),
            _ => None,
        })
        .collect()
}

/// keepalived's checker process writes `VS` and `RS` lines to notify_fifo and
/// lvs_notify_fifo: a start with quorum, each real server's change, each quorum change,
/// and under omega the exit.
#[test]
fn fifo_lines_as_keepalived_writes_them() {
    let mut vs = web_vs(&[1, 1]);
    vs.omega = true;
    let mut h = H::start(config(vec![vs]));
    assert_eq!(fifo_lines(&h.effects), ["VS [10.0.0.1]:tcp:80 UP\n"]);
    h.effects.clear();
    h.step(ev(0, 0, 0, false));
    assert_eq!(
        fifo_lines(&h.effects),
        ["RS [10.0.1.2]:tcp:80 [10.0.0.1]:tcp:80 DOWN\n"]
    );
    h.effects.clear();
    h.step(ev(0, 1, 0, false));
    assert_eq!(
        fifo_lines(&h.effects),
        [
            "RS [10.0.1.3]:tcp:80 [10.0.0.1]:tcp:80 DOWN\n",
            "VS [10.0.0.1]:tcp:80 DOWN\n"
        ]
    );
    h.effects.clear();
    h.step(ev(0, 1, 0, true));
    assert_eq!(
        fifo_lines(&h.effects),
        [
            "RS [10.0.1.3]:tcp:80 [10.0.0.1]:tcp:80 UP\n",
            "VS [10.0.0.1]:tcp:80 UP\n"
        ]
    );
    // omega: the exit takes the alive real server and the quorum down.
    assert_eq!(
        fifo_lines(&h.state.shutdown_effects()),
        [
            "RS [10.0.1.3]:tcp:80 [10.0.0.1]:tcp:80 DOWN\n",
            "VS [10.0.0.1]:tcp:80 DOWN\n"
        ]
    );
    // A start without quorum is told only where a sorry server comes in.
    let mut down = web_vs(&[1]);
    down.quorum = 5;
    assert!(fifo_lines(&H::start(config(vec![down.clone()])).effects).is_empty());
    down.sorry_server = Some(SorryServer {
        addr: ip("10.0.9.9"),
        port: 80,
        lvs_method: None,
    });
    assert_eq!(
        fifo_lines(&H::start(config(vec![down])).effects),
        ["VS [10.0.0.1]:tcp:80 DOWN\n"]
    );
}

/// `rs_init_notifies`: notify_up and an `RS … UP` line for each real server that starts
/// alive, at start and for real servers a reload adds; none without it.
#[test]
fn rs_init_notifies_tells_of_real_servers_starting_alive() {
    let mut vs = web_vs(&[1, 1]);
    for rs in &mut vs.real_servers {
        rs.more_mut().notify_up = Some(format!("/bin/up {}", rs.addr));
    }
    // The second real server starts down (alpha).
    vs.real_servers[1].alpha = Some(true);
    let plain = H::start(config(vec![vs.clone()]));
    assert!(plain
        .effects
        .iter()
        .all(|e| !matches!(e, Effect::Script { .. })));
    let with = |vss: Vec<VirtualServer>| {
        Arc::new(Config {
            global: GlobalDefs {
                rs_init_notifies: true,
                ..Default::default()
            },
            virtual_servers: vss,
            ..Default::default()
        })
    };
    let mut h = H::start(with(vec![vs.clone()]));
    assert_eq!(h.scripts(), ["/bin/up 10.0.1.2"]);
    // A reload adding a real server tells of it alone.
    let mut more = vs.clone();
    let mut rs = real_server(ip("10.0.1.9"), Some(80));
    rs.checkers.push(tcp_check());
    rs.more_mut().notify_up = Some("/bin/up 10.0.1.9".into());
    more.real_servers.push(rs);
    h.reload(with(vec![more]));
    assert_eq!(h.scripts(), ["/bin/up 10.0.1.9"]);
}

/// keepalived mails each checker's change (a real server with two checkers: one going
/// down takes the server down; the second going down mails again), unless
/// `no_checker_emails`.
#[test]
fn checker_mails_unless_no_checker_emails() {
    let mut vs = web_vs(&[1]);
    vs.real_servers[0].checkers.push(tcp_check());
    let cfg = |no_checker_emails| {
        Arc::new(Config {
            global: GlobalDefs {
                router_id: Some("lvs1".into()),
                smtp_alert: true,
                no_checker_emails,
                ..Default::default()
            },
            virtual_servers: vec![vs.clone()],
            ..Default::default()
        })
    };
    for quiet in [false, true] {
        let mut h = H::start(cfg(quiet));
        h.effects.clear();
        h.step(ev(0, 0, 0, false));
        h.step(ev(0, 0, 1, false));
        // A repeated verdict is no change: no mail.
        h.step(ev(0, 0, 1, false));
        let got = mails(&h.effects);
        let down = (
            "[lvs1] Realserver [10.0.1.2]:tcp:80 - DOWN",
            "=> CHECK failed on service : connection refused <=",
        );
        if quiet {
            assert_eq!(got, [down], "no_checker_emails");
        } else {
            assert_eq!(got, [down, down]);
        }
    }
}

/// keepalived: a reload that removes an alive real server runs its notify_down, writes
/// its `RS … DOWN` line and mails "=> Removing <="; removing a whole virtual server does
/// so for each of its alive real servers and takes its quorum down.
#[test]
fn a_reload_removing_real_servers_tells_of_them() {
    let mut vs = web_vs(&[1, 1]);
    vs.quorum_down = Some("/bin/qdown".into());
    for rs in &mut vs.real_servers {
        rs.more_mut().notify_down = Some(format!("/bin/down {}", rs.addr));
    }
    let mut other = addr_vs(ip("10.0.0.5"), 80);
    let mut rs = real_server(ip("10.0.5.2"), Some(80));
    rs.checkers.push(tcp_check());
    rs.more_mut().notify_down = Some("/bin/down 10.0.5.2".into());
    other.real_servers.push(rs);
    let cfg = |vss: Vec<VirtualServer>| {
        Arc::new(Config {
            global: GlobalDefs {
                router_id: Some("lvs1".into()),
                smtp_alert: true,
                ..Default::default()
            },
            virtual_servers: vss,
            ..Default::default()
        })
    };
    let mut h = H::start(cfg(vec![vs.clone(), other]));
    // The second real server is down before the reload: nothing to tell of it.
    h.step(ev(0, 1, 0, false));
    h.effects.clear();
    let mut kept = vs.clone();
    kept.real_servers.truncate(1);
    kept.real_servers.push({
        let mut rs = real_server(ip("10.0.1.7"), Some(80));
        rs.checkers.push(tcp_check());
        rs
    });
    h.reload(cfg(vec![kept]));
    let effects = std::mem::take(&mut h.effects);
    assert_eq!(
        fifo_lines(&effects),
        [
            "RS [10.0.5.2]:tcp:80 [10.0.0.5]:tcp:80 DOWN\n",
            "VS [10.0.0.5]:tcp:80 DOWN\n"
        ],
        "{effects:?}"
    );
    h.effects = effects;
    assert_eq!(h.scripts(), ["/bin/down 10.0.5.2"]);
    // The alive one removed from a kept virtual server.
    let mut last = vs.clone();
    last.real_servers.remove(0);
    let mut h = H::start(cfg(vec![vs]));
    h.effects.clear();
    h.reload(cfg(vec![last]));
    assert_eq!(
        mails(&h.effects),
        [(
            "[lvs1] Realserver [10.0.1.2]:tcp:80 - DOWN",
            "=> Removing <="
        )]
    );
    assert_eq!(
        fifo_lines(&h.effects),
        ["RS [10.0.1.2]:tcp:80 [10.0.0.1]:tcp:80 DOWN\n"]
    );
    assert_eq!(h.scripts(), ["/bin/down 10.0.1.2"]);
}

/// Issue 17: someone else's `ipvsadm -C` / `-d` / `-e` behind lvsd's back. A heal pass reads
/// the kernel again and puts back what lvsd owns (through the same diff as any pass), leaves
/// someone else's service and real server alone, and says what it found one line per kind
/// of drift with counts; a second heal finds nothing and sends nothing.
#[test]
fn heal_puts_back_what_lvsd_owns_and_leaves_the_rest() {
    let weights: Vec<u32> = (0..50).map(|i| 1 + i % 3).collect();
    let mut h = H::start(config(vec![web_vs(&weights), {
        let mut vs = web_vs(&[1]);
        vs.key = VsKey::Addr {
            addr: ip("10.0.0.2"),
            port: 80,
        };
        vs
    }]));
    let ours = skey("10.0.0.1", 80);
    let second = skey("10.0.0.2", 80);
    let foreign = skey("10.9.9.9", 80);
    // Someone else's service, and someone else's real server inside lvsd's service.
    h.fake.with(|f| {
        f.table.apply(&Op::AddService(lvsd::ipvs::Service {
            key: foreign,
            scheduler: "rr".into(),
            flags: 0,
            timeout: 0,
            netmask: 0xffff_ffff,
            pe_name: None,
        }));
        f.table
            .apply(&Op::AddDest(foreign, dest("10.9.9.10", 80, 1)));
        f.table.apply(&Op::AddDest(ours, dest("10.9.9.11", 80, 7)));
    });
    let before = h.fake.table();
    // Nothing drifted yet: a heal sends nothing and logs nothing at warn.
    let state = &h.state;
    let (pass, warned) = warnings_during(|| {
        h.rec
            .heal(&mut h.backend, |emit| state.desired_parts(emit), &|| false)
            .unwrap()
    });
    assert_eq!(pass.ops, 0);
    assert!(warned.is_empty(), "{warned:?}");

    // Behind lvsd's back: the second service deleted whole, 20 real servers of the first
    // deleted (`ipvsadm -d`), 5 re-weighted (`ipvsadm -e`), the scheduler changed.
    h.fake.with(|f| {
        f.table.apply(&Op::DelService(second));
        let e = f.table.services.get_mut(&ours).unwrap();
        e.service.scheduler = "rr".into();
        for i in 0..20 {
            e.dests.remove(&dkey(&format!("10.0.1.{}", i + 2), 80));
        }
        for i in 20..25 {
            let mut d = e
                .dests
                .get(&dkey(&format!("10.0.1.{}", i + 2), 80))
                .unwrap()
                .clone();
            d.weight = 100;
            e.dests.insert(d);
        }
        f.take_log();
    });
    let dumps = h.fake.with(|f| f.dumps);
    let state = &h.state;
    let (pass, warned) = warnings_during(|| {
        h.rec
            .heal(&mut h.backend, |emit| state.desired_parts(emit), &|| false)
            .unwrap()
    });
    assert_eq!(
        h.fake.with(|f| f.dumps),
        dumps + 1,
        "a heal reads the kernel"
    );
    assert_eq!(pass.failed, 0);
    assert_eq!(
        (
            pass.kinds.add_service,
            pass.kinds.edit_service,
            pass.kinds.add_dest,
            pass.kinds.edit_dest,
            pass.kinds.del_dest + pass.kinds.del_service
        ),
        (1, 1, 21, 5, 0)
    );
    assert_eq!(h.fake.table(), before, "the table is back as it was");
    // One line per kind of drift, with the counts.
    assert_eq!(warned.len(), 4, "{warned:#?}");
    for (n, what) in [
        (1, "virtual services lvsd manages were missing"),
        (1, "virtual services had been changed"),
        (21, "real servers lvsd manages were missing"),
        (5, "real servers had been changed"),
    ] {
        assert!(
            warned
                .iter()
                .any(|l| l.contains(&format!("IPVS table drift: {n} {what}"))),
            "{n} {what}: {warned:#?}"
        );
    }

    // `ipvsadm -C`: everything goes, someone else's too; lvsd puts back only its own.
    h.fake.with(|f| f.table.services.clear());
    let state = &h.state;
    h.rec
        .heal(&mut h.backend, |emit| state.desired_parts(emit), &|| false)
        .unwrap();
    let after = h.fake.table();
    assert!(!after.services.contains_key(&foreign));
    assert_eq!(after.services[&ours].dests.len(), 50);
    assert!(after.services.contains_key(&second));
    assert_eq!(h.rec.stats.heals, 3);
    assert_eq!(h.rec.stats.heals_with_drift, 2);
}

/// A heal pass of `h`'s state that asks `give_up` (a reload coming).
fn heal_unless(h: &mut H, give_up: &dyn Fn() -> bool) -> lvsd::lvs::reconcile::Pass {
    let state = &h.state;
    h.rec
        .heal(&mut h.backend, |emit| state.desired_parts(emit), give_up)
        .unwrap()
}

/// A reload that comes while a heal pass diffs a large table gives the pass up between two
/// parts of the diff: what it sent is booked, the operations built after are dropped,
/// nothing is deleted for the parts it did not see, and the next pass (the reload's) puts
/// the rest back.
#[test]
fn heal_given_up_during_its_diff_books_what_it_sent_and_deletes_nothing() {
    // 40 virtual servers of 70 real servers: parts of 16 virtual servers, each more
    // operations than go out at once.
    let vss: Vec<_> = (0..40)
        .map(|i| {
            let mut vs = web_vs(&[1; 70]);
            vs.key = VsKey::Addr {
                addr: ip(&format!("10.0.0.{}", i + 1)),
                port: 80,
            };
            vs
        })
        .collect();
    let mut h = H::start(config(vss));
    let whole = h.fake.table();
    // `ipvsadm -e` of every real server: the heal has every weight to put back (and every
    // service is still there: one taken for unwanted would be deleted).
    h.fake.with(|f| {
        for e in f.table.services.values_mut() {
            let edited: Vec<_> = e
                .dests
                .values()
                .map(|d| {
                    let mut d = d.clone();
                    d.weight = 5;
                    d
                })
                .collect();
            for d in edited {
                e.dests.insert(d);
            }
        }
        f.take_log();
    });
    // A reload comes as soon as the kernel has taken the first operations.
    let fake = h.fake.clone();
    let reload_came = move || fake.with(|f| !f.log.is_empty());
    let pass = heal_unless(&mut h, &reload_came);
    assert!(pass.given_up);
    let sent = h.fake.with(|f| f.take_log());
    assert!(
        !sent.is_empty() && sent.len() < 40 * 70,
        "{} sent",
        sent.len()
    );
    assert_eq!(pass.ops, sent.len(), "what was sent is booked");
    assert!(
        sent.iter().all(|op| matches!(op, Op::EditDest(..))),
        "nothing but the weights put back: {:?}",
        sent.iter().find(|op| !matches!(op, Op::EditDest(..)))
    );
    assert_eq!(h.fake.table().services.len(), 40, "no service deleted");
    assert_eq!(h.rec.stats.heals_given_up, 1);
    // The reload's pass: the rest, from the copy the given-up pass left.
    let state = &h.state;
    let rest = h
        .rec
        .sync_parts(&mut h.backend, |emit| state.desired_parts(emit))
        .unwrap();
    assert_eq!(rest.ops + pass.ops, 40 * 70, "each weight sent once");
    assert_eq!(h.fake.table(), whole);
}

/// A reload that comes after a heal pass has read the table whole, but before its diff,
/// still gives the pass up: nothing is sent (the reload's own pass does the diff, against
/// the table just read, which the copy now is).
#[test]
fn heal_given_up_after_the_read_sends_nothing_and_keeps_the_table_read() {
    let mut h = H::start(config(vec![web_vs(&[1, 1, 1])]));
    let ours = skey("10.0.0.1", 80);
    // Behind lvsd's back: one real server deleted.
    h.fake.with(|f| {
        let e = f.table.services.get_mut(&ours).unwrap();
        let first = *e.dests.keys().next().unwrap();
        e.dests.remove(&first);
        f.take_log();
    });
    let drifted = h.fake.table();
    let dumps = h.fake.with(|f| f.dumps);
    // A reload asks as soon as the kernel has been read (the fake counts the dump first).
    let fake = h.fake.clone();
    let reload_came = move || fake.with(|f| f.dumps) > dumps;
    let pass = heal_unless(&mut h, &reload_came);
    assert!(pass.given_up);
    assert_eq!(pass.ops, 0);
    assert_eq!(h.fake.with(|f| f.take_log()), vec![], "nothing sent");
    assert_eq!(
        h.fake.with(|f| f.dumps),
        dumps + 1,
        "the table was read whole"
    );
    assert_eq!(h.fake.with(|f| f.dumps_given_up), 0);
    assert_eq!(h.rec.stats.heals_given_up, 1);
    assert_eq!(h.fake.table(), drifted, "the drift is still there");
    // The reload's pass: the copy is the table just read, so it puts the real server back
    // without reading the kernel again.
    let state = &h.state;
    let pass = h
        .rec
        .sync_parts(&mut h.backend, |emit| state.desired_parts(emit))
        .unwrap();
    assert_eq!(pass.kinds.add_dest, 1);
    assert_eq!(h.fake.with(|f| f.dumps), dumps + 1, "no second read");
    assert_eq!(h.fake.table().services[&ours].dests.len(), 3);
}
