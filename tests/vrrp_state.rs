//! The VRRP state machine driven with synthetic time: "event in → actions out".

use lvsd::config::model::{
    InitialState, Notify, Span, SyncGroup, TrackScript, UnicastPeer, VirtualIp, VrrpScript,
};
use lvsd::vrrp::packet::{Advert, ChecksumForm, DropReason, Family, RxMeta, Version};
use lvsd::vrrp::params::{
    Auth, GarpParams, InstanceParams, LowerPrio, TrackedInterface, TrackedScript,
};
use lvsd::vrrp::state::{Action, Cause, Event, Instance, State, SyncCmd, VipChange};
use lvsd::vrrp::sync_group::{Coordinator, Output, SyncGroupError, Target};
use std::net::IpAddr;
use std::time::{Duration, Instant};

mod common;
#[path = "support/logs.rs"]
mod logs;

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn vip(s: &str) -> VirtualIp {
    VirtualIp {
        span: Span::default(),
        addr: ip(s),
        prefix_len: 32,
        brd: None,
        dev: None,
        scope: None,
        label: None,
        no_track: false,
        opts: Default::default(),
    }
}

fn params() -> InstanceParams {
    InstanceParams {
        name: "VI_1".into(),
        vrid: 51,
        version: Version::V2,
        family: Family::V4,
        interface: "eth0".into(),
        initial_state: InitialState::Backup,
        priority: 100,
        advert_int: Duration::from_secs(1),
        auth: Auth::None,
        vips: vec![vip("10.0.0.100")],
        excluded_vips: vec![],
        nopreempt: false,
        preempt_delay: Duration::ZERO,
        src_ip: None,
        unicast_peers: vec![],
        mcast_group: ip("224.0.0.18"),
        garp: GarpParams {
            delay: Duration::from_secs(5),
            repeat: 5,
            refresh: None,
            refresh_repeat: 1,
        },
        garp_interval: Duration::ZERO,
        gna_interval: Duration::ZERO,
        lower_prio: LowerPrio {
            no_advert: false,
            garp_repeat: 5,
            garp_delay: Duration::from_secs(5),
        },
        higher_prio_send_advert: false,
        startup_delay: Duration::ZERO,
        accept: true,
        dont_track_primary: false,
        strict: false,
        skip_check_adv_addr: false,
        checksum_form: ChecksumForm::PseudoHeader,
        unicast_ttl: None,
        unicast_fault_no_peer: false,
        unicast_configured: false,
        debug: 0,
        track_src_ip: false,
        track_scripts: vec![],
        track_interfaces: vec![TrackedInterface {
            name: "eth0".into(),
            weight: None,
            reverse: false,
        }],
        address_interfaces: Vec::new(),
        track_files: Vec::new(),
        track_processes: Vec::new(),
        notify: Notify::default(),
        smtp_alert: false,
        use_vmac: None,
        vmac_xmit_base: false,
        extra_if_garp: None,
        kernel_rx_buf_size: None,
        check_unicast_src: false,
        notify_priority_changes: false,
        promote_secondaries: false,
        down_timer_adverts: 3,
        warnings: vec![],
    }
}

/// Synthetic clock: milliseconds since an arbitrary origin.
struct Clock(Instant);
impl Clock {
    fn new() -> Clock {
        Clock(Instant::now())
    }
    fn ms(&self, ms: u64) -> Instant {
        self.0 + Duration::from_millis(ms)
    }
}

fn advert_from(p: &InstanceParams, prio: u8) -> Advert {
    p.advert(prio)
}

fn rx(p: &InstanceParams, prio: u8, src: &str) -> Event {
    Event::Advert {
        advert: advert_from(p, prio),
        meta: RxMeta {
            src: ip(src),
            dst: p.mcast_group,
            ttl: 255,
        },
    }
}

fn become_master(p: &InstanceParams, from: State, cause: Cause, prio: u8) -> Vec<Action> {
    vec![
        Action::StateChange {
            from,
            to: State::Master,
            cause,
        },
        Action::SendAdvert(p.advert(prio)),
        Action::AddVips,
        Action::SendGratuitous {
            repeat: p.garp.repeat,
        },
        Action::Notify {
            state: State::Master,
            priority: prio,
        },
    ]
}

fn state_change(from: State, to: State, cause: Cause, prio: u8) -> Vec<Action> {
    vec![
        Action::StateChange { from, to, cause },
        Action::Notify {
            state: to,
            priority: prio,
        },
    ]
}

/// Starts an instance at t=0 and checks it entered BACKUP.
fn started_backup(p: InstanceParams, c: &Clock) -> Instance {
    let mut i = Instance::new(p);
    let a = i.handle(c.ms(0), Event::Start);
    assert_eq!(
        a,
        state_change(
            State::Init,
            State::Backup,
            Cause::Startup,
            i.effective_priority()
        )
    );
    i
}

/// A started instance that became master at t = master down (3610 ms for v2 prio 100).
fn master(p: InstanceParams, c: &Clock) -> (Instance, u64) {
    let mut i = started_backup(p, c);
    let t = (i.master_down_interval().as_micros() as u64).div_ceil(1000);
    let a = i.handle(c.ms(t), Event::Timer);
    assert_eq!(i.state(), State::Master, "{a:?}");
    (i, t)
}

#[test]
fn timers_match_rfc_values() {
    let c = Clock::new();
    let i = started_backup(params(), &c);
    // v2: 3 × 1 s + (256 − 100)/256 s
    assert_eq!(i.skew(), Duration::from_micros(609_375));
    assert_eq!(i.master_down_interval(), Duration::from_micros(3_609_375));
    let mut p = params();
    p.version = Version::V3;
    let i = started_backup(p, &c);
    // v3: 3 × 100 cs + (156 × 100)/256 cs = 300 + 60 cs
    assert_eq!(i.master_down_interval(), Duration::from_millis(3600));
    let mut p = params();
    p.priority = 254;
    let i = started_backup(p, &c);
    assert_eq!(i.skew(), Duration::from_micros(7812));
}

#[test]
fn non_owner_starts_backup_and_takes_over_after_master_down() {
    let c = Clock::new();
    let p = params();
    let mut i = started_backup(p.clone(), &c);
    assert_eq!(
        i.next_deadline(),
        Some(c.ms(0) + Duration::from_micros(3_609_375))
    );
    assert_eq!(i.handle(c.ms(3609), Event::Timer), vec![]);
    assert_eq!(i.state(), State::Backup);
    let a = i.handle(c.ms(3610), Event::Timer);
    assert_eq!(a, become_master(&p, State::Backup, Cause::MasterDown, 100));
    // Next: an advert after one interval (the GARP second burst is later).
    assert_eq!(i.next_deadline(), Some(c.ms(4610)));
}

#[test]
fn state_master_below_255_still_starts_in_backup() {
    let c = Clock::new();
    let mut p = params();
    p.initial_state = InitialState::Master;
    p.priority = 254;
    let i = started_backup(p, &c);
    // keepalived (vrrp_init_state) waits the whole master-down interval too: only a sync
    // group member wanting MASTER while its group is BACKUP waits one interval (seen on
    // 218-ansible: BACKUP at :53, MASTER at :59 with advert_int 2).
    assert_eq!(
        i.next_deadline(),
        Some(c.ms(0) + Duration::from_micros(3_007_812))
    );
}

#[test]
fn owner_with_state_master_takes_over_at_once() {
    let c = Clock::new();
    let mut p = params();
    p.initial_state = InitialState::Master;
    p.priority = 255;
    let mut i = Instance::new(p.clone());
    let a = i.handle(c.ms(0), Event::Start);
    assert_eq!(a, become_master(&p, State::Init, Cause::Startup, 255));
}

#[test]
fn master_adverts_garp_second_burst_and_refresh() {
    let c = Clock::new();
    let mut p = params();
    p.garp.refresh = Some(Duration::from_secs(10));
    p.garp.refresh_repeat = 2;
    let (mut i, t0) = master(p.clone(), &c);
    let mut adverts = 0;
    let mut garps = vec![];
    let mut now = t0;
    while now <= t0 + 21_000 {
        let Some(d) = i.next_deadline() else {
            panic!("master has no deadline")
        };
        now = (d - c.ms(0)).as_millis() as u64;
        if now > t0 + 21_000 {
            break;
        }
        for a in i.handle(c.ms(now), Event::Timer) {
            match a {
                Action::SendAdvert(adv) => {
                    assert_eq!(adv.priority, 100);
                    adverts += 1;
                }
                Action::SendGratuitous { repeat } => garps.push((now - t0, repeat)),
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    assert_eq!(adverts, 21);
    // Second burst after garp_master_delay (5 s), refresh every 10 s.
    assert_eq!(garps, vec![(5000, 5), (10_000, 2), (20_000, 2)]);
}

/// `garp_extra_if all 3`: a round every 3 s from the transition while MASTER, none after
/// it steps down.
#[test]
fn master_sends_extra_if_garps_at_their_interval() {
    let c = Clock::new();
    let mut p = params();
    p.garp.delay = Duration::ZERO;
    p.extra_if_garp = Some(Duration::from_secs(3));
    let (mut i, t0) = master(p.clone(), &c);
    let mut rounds = vec![];
    let mut now;
    loop {
        let Some(d) = i.next_deadline() else {
            panic!("master has no deadline")
        };
        now = (d - c.ms(0)).as_millis() as u64;
        if now > t0 + 10_000 {
            break;
        }
        for a in i.handle(c.ms(now), Event::Timer) {
            match a {
                Action::SendAdvert(_) => {}
                Action::SendExtraIfGratuitous => rounds.push(now - t0),
                other => panic!("unexpected {other:?}"),
            }
        }
    }
    assert_eq!(rounds, vec![3000, 6000, 9000]);
    // A higher priority takes over: no more rounds.
    let a = i.handle(c.ms(now), rx(&p, 200, "10.0.0.2"));
    assert!(
        a.iter().any(|a| matches!(
            a,
            Action::StateChange {
                to: State::Backup,
                ..
            }
        )),
        "{a:?}"
    );
    assert_eq!(i.extra_if_garp_at(), None);
}

#[test]
fn no_second_burst_when_delay_is_zero() {
    let c = Clock::new();
    let mut p = params();
    p.garp.delay = Duration::ZERO;
    let (mut i, t0) = master(p, &c);
    for k in 1..=10 {
        let a = i.handle(c.ms(t0 + k * 1000), Event::Timer);
        assert!(
            a.iter().all(|a| matches!(a, Action::SendAdvert(_))),
            "{a:?}"
        );
    }
}

/// Table: a backup receiving adverts of various priorities — does it reset its timer?
#[test]
fn backup_advert_table() {
    struct Case {
        name: &'static str,
        nopreempt: bool,
        their_prio: u8,
        /// Expected master-down deadline (ms after the advert at t=1000), None: unchanged.
        deadline_after: Option<u64>,
    }
    let cases = [
        Case {
            name: "higher",
            nopreempt: false,
            their_prio: 150,
            deadline_after: Some(3609),
        },
        Case {
            name: "equal",
            nopreempt: false,
            their_prio: 100,
            deadline_after: Some(3609),
        },
        Case {
            name: "lower, preempt",
            nopreempt: false,
            their_prio: 50,
            deadline_after: None,
        },
        Case {
            name: "lower, nopreempt",
            nopreempt: true,
            their_prio: 50,
            deadline_after: Some(3609),
        },
        Case {
            name: "priority 0",
            nopreempt: false,
            their_prio: 0,
            deadline_after: Some(609),
        },
        Case {
            name: "priority 0, nopreempt",
            nopreempt: true,
            their_prio: 0,
            deadline_after: Some(609),
        },
    ];
    for case in cases {
        let c = Clock::new();
        let mut p = params();
        p.nopreempt = case.nopreempt;
        let mut i = started_backup(p.clone(), &c);
        let before = i.next_deadline();
        let a = i.handle(c.ms(1000), rx(&p, case.their_prio, "10.0.0.2"));
        assert_eq!(a, vec![], "{}", case.name);
        assert_eq!(i.state(), State::Backup, "{}", case.name);
        let want = match case.deadline_after {
            Some(ms) => Some(c.ms(1000) + Duration::from_micros(ms * 1000 + 375)),
            None => before,
        };
        assert_eq!(i.next_deadline(), want, "{}", case.name);
        assert_eq!(i.stats().accepted, 1);
    }
}

#[test]
fn backup_with_preempt_takes_over_from_lower_master() {
    let c = Clock::new();
    let p = params();
    let mut i = started_backup(p.clone(), &c);
    // A higher master keeps it backup...
    i.handle(c.ms(1000), rx(&p, 150, "10.0.0.2"));
    assert_eq!(i.current_master(), Some((ip("10.0.0.2"), 150)));
    // ... then the master drops to 50: its adverts are ignored, Master_Down expires.
    for k in 2..=4 {
        assert_eq!(i.handle(c.ms(k * 1000), rx(&p, 50, "10.0.0.2")), vec![]);
    }
    assert_eq!(i.handle(c.ms(4609), Event::Timer), vec![]);
    let a = i.handle(c.ms(4610), Event::Timer);
    assert_eq!(a, become_master(&p, State::Backup, Cause::MasterDown, 100));
}

#[test]
fn nopreempt_backup_never_takes_over_from_live_lower_master() {
    let c = Clock::new();
    let mut p = params();
    p.nopreempt = true;
    let mut i = started_backup(p.clone(), &c);
    for k in 1..=20 {
        i.handle(c.ms(k * 1000), rx(&p, 50, "10.0.0.2"));
        assert_eq!(i.handle(c.ms(k * 1000 + 999), Event::Timer), vec![]);
    }
    assert_eq!(i.state(), State::Backup);
    // When that master goes silent, it takes over.
    let a = i.handle(c.ms(20_000 + 3610), Event::Timer);
    assert_eq!(a, become_master(&p, State::Backup, Cause::MasterDown, 100));
}

#[test]
fn preempt_delay_postpones_preemption() {
    let c = Clock::new();
    let mut p = params();
    p.preempt_delay = Duration::from_secs(10);
    let mut i = started_backup(p.clone(), &c);
    // Start-up counts as the beginning of the delay: lower adverts are honoured until t=10 s.
    for k in 1..=9 {
        i.handle(c.ms(k * 1000), rx(&p, 50, "10.0.0.2"));
        assert_eq!(i.handle(c.ms(k * 1000 + 999), Event::Timer), vec![]);
    }
    // From t=10 s on they are ignored: master at 9 s + Master_Down.
    for k in 10..=12 {
        i.handle(c.ms(k * 1000), rx(&p, 50, "10.0.0.2"));
    }
    assert_eq!(i.handle(c.ms(12_609), Event::Timer), vec![]);
    let a = i.handle(c.ms(12_610), Event::Timer);
    assert_eq!(a, become_master(&p, State::Backup, Cause::MasterDown, 100));
}

#[test]
fn preempt_delay_restarts_after_a_higher_master() {
    let c = Clock::new();
    let mut p = params();
    p.preempt_delay = Duration::from_secs(5);
    let mut i = started_backup(p.clone(), &c);
    // A higher master until t=20 s clears the start-up delay.
    for k in 1..=20 {
        i.handle(c.ms(k * 1000), rx(&p, 150, "10.0.0.2"));
    }
    // It drops to 50 at 21 s: honoured until 26 s, then Master_Down from 25 s.
    for k in 21..=27 {
        i.handle(c.ms(k * 1000), rx(&p, 50, "10.0.0.2"));
        assert_eq!(i.state(), State::Backup);
    }
    assert_eq!(i.handle(c.ms(28_609), Event::Timer), vec![]);
    assert_eq!(
        i.handle(c.ms(28_610), Event::Timer)[0],
        Action::StateChange {
            from: State::Backup,
            to: State::Master,
            cause: Cause::MasterDown
        }
    );
}

#[test]
fn master_advert_table() {
    // (their priority, their source, expected state, expected actions)
    let p = {
        let mut p = params();
        p.priority = 100;
        p
    };
    let cases: Vec<(&str, u8, &str, State, Vec<Action>)> = vec![
        (
            "higher priority",
            150,
            "10.0.0.2",
            State::Backup,
            [
                vec![Action::DelVips],
                state_change(State::Master, State::Backup, Cause::HigherPriority, 100),
            ]
            .concat(),
        ),
        (
            "equal priority, higher address",
            100,
            "10.0.0.9",
            State::Backup,
            [
                vec![Action::DelVips],
                state_change(State::Master, State::Backup, Cause::HigherPriority, 100),
            ]
            .concat(),
        ),
        (
            "equal priority, lower address",
            100,
            "10.0.0.1",
            State::Master,
            vec![
                Action::SendAdvert(p.advert(100)),
                Action::SendGratuitous { repeat: 5 },
                Action::MasterRxLowerPri {
                    from: ip("10.0.0.1"),
                    priority: 100,
                },
            ],
        ),
        (
            "lower priority",
            50,
            "10.0.0.9",
            State::Master,
            vec![
                Action::SendAdvert(p.advert(100)),
                Action::SendGratuitous { repeat: 5 },
                Action::MasterRxLowerPri {
                    from: ip("10.0.0.9"),
                    priority: 50,
                },
            ],
        ),
        (
            "priority 0",
            0,
            "10.0.0.9",
            State::Master,
            vec![Action::SendAdvert(p.advert(100))],
        ),
    ];
    for (name, prio, src, want_state, want) in cases {
        let c = Clock::new();
        let (mut i, t) = master(p.clone(), &c);
        i.handle(c.ms(t), Event::LocalAddr(ip("10.0.0.5")));
        let a = i.handle(c.ms(t + 500), rx(&p, prio, src));
        assert_eq!(a, want, "{name}");
        assert_eq!(i.state(), want_state, "{name}");
        if want_state == State::Master {
            // The advert sent at once restarts the advert timer.
            assert_eq!(i.next_deadline(), Some(c.ms(t + 1500)), "{name}");
        } else {
            assert_eq!(
                i.next_deadline(),
                Some(c.ms(t + 500) + i.master_down_interval()),
                "{name}"
            );
        }
    }
}

#[test]
fn two_equal_masters_resolve_by_address() {
    let c = Clock::new();
    let p = params();
    let mut a = Instance::new(p.clone());
    let mut b = Instance::new(p.clone());
    a.handle(c.ms(0), Event::LocalAddr(ip("10.0.0.1")));
    b.handle(c.ms(0), Event::LocalAddr(ip("10.0.0.2")));
    a.handle(c.ms(0), Event::Start);
    b.handle(c.ms(0), Event::Start);
    a.handle(c.ms(3610), Event::Timer);
    b.handle(c.ms(3610), Event::Timer);
    assert_eq!((a.state(), b.state()), (State::Master, State::Master));
    // Each hears the other's advert.
    a.handle(c.ms(3611), rx(&p, 100, "10.0.0.2"));
    b.handle(c.ms(3611), rx(&p, 100, "10.0.0.1"));
    assert_eq!((a.state(), b.state()), (State::Backup, State::Master));
}

#[test]
fn resignation_backup_takes_over_after_skew() {
    let c = Clock::new();
    let p = params();
    let mut i = started_backup(p.clone(), &c);
    i.handle(c.ms(1000), rx(&p, 150, "10.0.0.2"));
    i.handle(c.ms(2000), rx(&p, 0, "10.0.0.2"));
    assert_eq!(i.handle(c.ms(2609), Event::Timer), vec![]);
    let a = i.handle(c.ms(2610), Event::Timer);
    assert_eq!(a, become_master(&p, State::Backup, Cause::MasterDown, 100));
}

#[test]
fn v3_backup_adopts_master_interval() {
    let c = Clock::new();
    let mut p = params();
    p.version = Version::V3;
    let mut i = started_backup(p.clone(), &c);
    let mut adv = p.advert(200);
    adv.interval_cs = 50;
    i.handle(
        c.ms(1000),
        Event::Advert {
            advert: adv,
            meta: RxMeta {
                src: ip("10.0.0.2"),
                dst: p.mcast_group,
                ttl: 255,
            },
        },
    );
    assert_eq!(i.master_adver_int(), Duration::from_millis(500));
    // 3 × 50 cs + (156 × 50)/256 cs = 150 + 30 cs
    assert_eq!(i.master_down_interval(), Duration::from_millis(1800));
    assert_eq!(i.next_deadline(), Some(c.ms(2800)));
    // Once master it advertises its own interval.
    let a = i.handle(c.ms(2800), Event::Timer);
    assert_eq!(a, become_master(&p, State::Backup, Cause::MasterDown, 100));
    assert_eq!(i.next_deadline(), Some(c.ms(3800)));
}

#[test]
fn v2_does_not_adopt_but_drops_interval_mismatch() {
    let c = Clock::new();
    let p = params();
    let mut i = started_backup(p.clone(), &c);
    let mut adv = p.advert(200);
    adv.interval_cs = 200;
    let before = i.next_deadline();
    let ev = Event::Advert {
        advert: adv,
        meta: RxMeta {
            src: ip("10.0.0.2"),
            dst: p.mcast_group,
            ttl: 255,
        },
    };
    assert_eq!(i.handle(c.ms(1000), ev), vec![]);
    assert_eq!(i.next_deadline(), before);
    assert_eq!(i.stats().get(DropReason::IntervalMismatch), 1);
    assert_eq!(i.stats().accepted, 0);
}

/// Table: instance-level receive checks. Every dropped advert leaves the timer alone.
#[test]
fn receive_checks_table() {
    type Setup = fn(&mut InstanceParams);
    type Mutate = fn(&mut Advert, &mut RxMeta);
    let none: Setup = |_| {};
    let cases: Vec<(&str, Setup, Mutate, Option<DropReason>)> = vec![
        ("valid", none, |_, _| {}, None),
        (
            "other vrid",
            none,
            |a, _| a.vrid = 52,
            Some(DropReason::VridUnknown),
        ),
        (
            "v3 to a v2 instance",
            none,
            |a, _| a.version = Version::V3,
            Some(DropReason::WrongVersion),
        ),
        (
            "auth type pass, we have none",
            none,
            |a, _| a.auth_type = 1,
            Some(DropReason::AuthType),
        ),
        (
            "wrong password",
            |p| p.auth = Auth::Pass(*b"secret1\0"),
            |a, _| {
                a.auth_type = 1;
                a.auth_data = *b"secret2\0"
            },
            Some(DropReason::AuthPass),
        ),
        (
            "right password",
            |p| p.auth = Auth::Pass(*b"secret1\0"),
            |a, _| {
                a.auth_type = 1;
                a.auth_data = *b"secret1\0"
            },
            None,
        ),
        (
            "no auth, we want PASS",
            |p| p.auth = Auth::Pass(*b"secret1\0"),
            |a, _| a.auth_type = 0,
            Some(DropReason::AuthType),
        ),
        (
            "interval",
            none,
            |a, _| a.interval_cs = 300,
            Some(DropReason::IntervalMismatch),
        ),
        (
            "extra address",
            none,
            |a, _| a.addrs.push(ip("10.0.0.101")),
            Some(DropReason::AddrMismatch),
        ),
        (
            "other address",
            none,
            |a, _| a.addrs = vec![ip("10.0.0.99")],
            Some(DropReason::AddrMismatch),
        ),
        (
            "no address",
            none,
            |a, _| a.addrs.clear(),
            Some(DropReason::AddrMismatch),
        ),
        (
            "other address, skip_check_adv_addr",
            |p| p.skip_check_adv_addr = true,
            |a, _| a.addrs = vec![ip("10.0.0.99")],
            None,
        ),
        (
            "address order does not matter",
            |p| p.vips = vec![vip("10.0.0.100"), vip("10.0.0.101")],
            |a, _| a.addrs = vec![ip("10.0.0.101"), ip("10.0.0.100")],
            None,
        ),
        (
            "unicast from a peer",
            |p| {
                p.unicast_peers = vec![UnicastPeer {
                    addr: ip("10.0.0.2"),
                    min_ttl: None,
                    max_ttl: None,
                }]
            },
            |_, m| m.dst = ip("10.0.0.1"),
            None,
        ),
        (
            "unicast from a stranger, check_unicast_src",
            |p| {
                p.check_unicast_src = true;
                p.unicast_peers = vec![UnicastPeer {
                    addr: ip("10.0.0.3"),
                    min_ttl: None,
                    max_ttl: None,
                }]
            },
            |_, m| m.dst = ip("10.0.0.1"),
            Some(DropReason::UnicastPeer),
        ),
        (
            // keepalived takes a unicast advert from anyone unless told to check
            "unicast from a stranger, no check_unicast_src",
            |p| {
                p.unicast_peers = vec![UnicastPeer {
                    addr: ip("10.0.0.3"),
                    min_ttl: None,
                    max_ttl: None,
                }]
            },
            |_, m| m.dst = ip("10.0.0.1"),
            None,
        ),
        (
            "unicast peer TTL below min_ttl",
            |p| {
                p.check_unicast_src = true; // (a peer's min_ttl/max_ttl turns it on)
                p.unicast_peers = vec![UnicastPeer {
                    addr: ip("10.0.0.2"),
                    min_ttl: Some(250),
                    max_ttl: None,
                }]
            },
            |_, m| {
                m.dst = ip("10.0.0.1");
                m.ttl = 249
            },
            Some(DropReason::Ttl),
        ),
        (
            "unicast peer TTL above max_ttl",
            |p| {
                p.check_unicast_src = true; // (a peer's min_ttl/max_ttl turns it on)
                p.unicast_peers = vec![UnicastPeer {
                    addr: ip("10.0.0.2"),
                    min_ttl: None,
                    max_ttl: Some(64),
                }]
            },
            |_, m| {
                m.dst = ip("10.0.0.1");
                m.ttl = 65
            },
            Some(DropReason::Ttl),
        ),
    ];
    for (name, setup, mutate, want) in cases {
        let c = Clock::new();
        let mut p = params();
        setup(&mut p);
        let mut i = started_backup(p.clone(), &c);
        let before = i.next_deadline();
        let mut adv = p.advert(150);
        let mut meta = RxMeta {
            src: ip("10.0.0.2"),
            dst: p.mcast_group,
            ttl: 255,
        };
        mutate(&mut adv, &mut meta);
        let a = i.handle(c.ms(1000), Event::Advert { advert: adv, meta });
        assert_eq!(a, vec![], "{name}");
        match want {
            Some(reason) => {
                assert_eq!(i.stats().get(reason), 1, "{name}");
                assert_eq!(i.stats().total_dropped(), 1, "{name}");
                assert_eq!(i.stats().accepted, 0, "{name}");
                assert_eq!(
                    i.next_deadline(),
                    before,
                    "{name}: a dropped advert reset the timer"
                );
            }
            None => {
                assert_eq!(i.stats().total_dropped(), 0, "{name}");
                assert_eq!(i.stats().accepted, 1, "{name}");
                assert_ne!(i.next_deadline(), before, "{name}");
            }
        }
    }
}

fn script(name: &str, weight: i32, rise: u32, fall: u32) -> TrackedScript {
    TrackedScript {
        name: name.into(),
        weight,
        reverse: false,
        rise,
        fall,
        init_fail: false,
    }
}

fn result(name: &str, ok: bool) -> Event {
    Event::ScriptResult {
        name: name.into(),
        ok,
    }
}

#[test]
fn script_weight_zero_fault_with_fall_and_rise() {
    let c = Clock::new();
    let mut p = params();
    p.track_scripts = vec![script("chk", 0, 2, 3)];
    let (mut i, t) = master(p.clone(), &c);
    // Its first result (counted at once); then `fall` failures make the fault.
    assert_eq!(i.handle(c.ms(t), result("chk", true)), vec![]);
    assert_eq!(i.handle(c.ms(t + 1), result("chk", false)), vec![]);
    assert_eq!(i.handle(c.ms(t + 2), result("chk", false)), vec![]);
    let a = i.handle(c.ms(t + 3), result("chk", false));
    assert_eq!(
        a,
        [
            vec![Action::SendAdvert(p.advert(0)), Action::DelVips],
            state_change(State::Master, State::Fault, Cause::Fault, 100)
        ]
        .concat()
    );
    assert_eq!(i.next_deadline(), None);
    // Adverts are ignored in FAULT.
    assert_eq!(i.handle(c.ms(t + 4), rx(&p, 0, "10.0.0.2")), vec![]);
    assert_eq!(i.handle(c.ms(t + 5), result("chk", true)), vec![]);
    let a = i.handle(c.ms(t + 6), result("chk", true));
    assert_eq!(
        a,
        state_change(State::Fault, State::Backup, Cause::FaultCleared, 100)
    );
    assert_eq!(
        i.next_deadline(),
        Some(c.ms(t + 6) + i.master_down_interval())
    );
}

#[test]
fn script_weights_change_priority_and_master_readvertises() {
    let c = Clock::new();
    let mut p = params();
    p.track_scripts = vec![script("up", 20, 1, 1), script("down", -30, 1, 1)];
    let (mut i, t) = master(p.clone(), &c);
    // No weight either way before a script's first result (keepalived).
    assert_eq!(i.effective_priority(), 100);
    i.handle(c.ms(t), result("up", true));
    i.handle(c.ms(t), result("down", true));
    assert_eq!(i.effective_priority(), 120);
    let a = i.handle(c.ms(t + 100), result("down", false));
    assert_eq!(
        a,
        vec![
            Action::SendAdvert(p.advert(90)),
            Action::PriorityChanged {
                state: State::Master,
                priority: 90
            }
        ]
    );
    let a = i.handle(c.ms(t + 200), result("up", false));
    assert_eq!(
        a,
        vec![
            Action::SendAdvert(p.advert(70)),
            Action::PriorityChanged {
                state: State::Master,
                priority: 70
            }
        ]
    );
    // The same result again changes nothing.
    assert_eq!(i.handle(c.ms(t + 300), result("up", false)), vec![]);
    // Unknown scripts are ignored.
    assert_eq!(i.handle(c.ms(t + 400), result("nope", false)), vec![]);
    // A peer at 100 now wins against our 70.
    let a = i.handle(c.ms(t + 500), rx(&p, 100, "10.0.0.2"));
    assert_eq!(
        a[1],
        Action::StateChange {
            from: State::Master,
            to: State::Backup,
            cause: Cause::HigherPriority
        }
    );
}

#[test]
fn script_weight_lets_backup_preempt() {
    let c = Clock::new();
    let mut p = params();
    p.track_scripts = vec![script("chk", 60, 1, 1)];
    p.track_scripts[0].init_fail = true;
    let mut i = started_backup(p.clone(), &c);
    assert_eq!(i.effective_priority(), 100);
    i.handle(c.ms(1000), rx(&p, 150, "10.0.0.2"));
    i.handle(c.ms(1500), result("chk", true));
    assert_eq!(i.effective_priority(), 160);
    // 150 is now lower: ignored, so Master_Down (at the new skew) expires.
    i.handle(c.ms(2000), rx(&p, 150, "10.0.0.2"));
    let a = i.handle(c.ms(1000 + 3610), Event::Timer);
    assert_eq!(a, become_master(&p, State::Backup, Cause::MasterDown, 160));
}

#[test]
fn interface_down_faults_and_up_recovers() {
    let c = Clock::new();
    let mut p = params();
    p.track_interfaces.push(TrackedInterface {
        name: "eth1".into(),
        weight: Some(-50),
        reverse: false,
    });
    let (mut i, t) = master(p.clone(), &c);
    let a = i.handle(
        c.ms(t + 1),
        Event::Link {
            ifname: "eth1".into(),
            up: false,
        },
    );
    assert_eq!(
        a,
        vec![
            Action::SendAdvert(p.advert(50)),
            Action::PriorityChanged {
                state: State::Master,
                priority: 50
            }
        ]
    );
    let a = i.handle(
        c.ms(t + 2),
        Event::Link {
            ifname: "eth0".into(),
            up: false,
        },
    );
    assert_eq!(
        a,
        [
            vec![Action::SendAdvert(p.advert(0)), Action::DelVips],
            state_change(State::Master, State::Fault, Cause::Fault, 50)
        ]
        .concat()
    );
    assert_eq!(
        i.handle(
            c.ms(t + 3),
            Event::Link {
                ifname: "lo".into(),
                up: false
            }
        ),
        vec![]
    );
    let a = i.handle(
        c.ms(t + 4),
        Event::Link {
            ifname: "eth0".into(),
            up: true,
        },
    );
    assert_eq!(
        a,
        state_change(State::Fault, State::Backup, Cause::FaultCleared, 50)
    );
}

#[test]
fn start_in_fault_when_link_is_down() {
    let c = Clock::new();
    let mut p = params();
    p.initial_state = InitialState::Master;
    p.priority = 255;
    let mut i = Instance::new(p.clone());
    i.handle(
        c.ms(0),
        Event::Link {
            ifname: "eth0".into(),
            up: false,
        },
    );
    let a = i.handle(c.ms(0), Event::Start);
    assert_eq!(
        a,
        state_change(State::Init, State::Fault, Cause::Startup, 255)
    );
    // The owner goes straight to MASTER when the link comes back.
    let a = i.handle(
        c.ms(10),
        Event::Link {
            ifname: "eth0".into(),
            up: true,
        },
    );
    assert_eq!(a, become_master(&p, State::Fault, Cause::FaultCleared, 255));
}

#[test]
fn shutdown_master_resigns() {
    let c = Clock::new();
    let p = params();
    let (mut i, t) = master(p.clone(), &c);
    let a = i.handle(c.ms(t + 10), Event::Shutdown);
    assert_eq!(
        a,
        [
            vec![Action::SendAdvert(p.advert(0)), Action::DelVips],
            state_change(State::Master, State::Stop, Cause::Shutdown, 100)
        ]
        .concat()
    );
    assert_eq!(i.next_deadline(), None);
    assert_eq!(i.handle(c.ms(t + 20), Event::Shutdown), vec![]);
    assert_eq!(i.handle(c.ms(t + 5000), Event::Timer), vec![]);
}

#[test]
fn shutdown_backup_only_notifies() {
    let c = Clock::new();
    let mut i = started_backup(params(), &c);
    let a = i.handle(c.ms(10), Event::Shutdown);
    assert_eq!(
        a,
        state_change(State::Backup, State::Stop, Cause::Shutdown, 100)
    );
    assert_eq!(i.next_deadline(), None);
}

#[test]
fn set_priority_changes_adverts() {
    let c = Clock::new();
    let p = params();
    let (mut i, t) = master(p.clone(), &c);
    assert_eq!(i.handle(c.ms(t + 1), Event::SetPriority(0)), vec![]);
    let a = i.handle(c.ms(t + 2), Event::SetPriority(120));
    assert_eq!(
        a,
        vec![
            Action::SendAdvert(p.advert(120)),
            Action::PriorityChanged {
                state: State::Master,
                priority: 120
            }
        ]
    );
    assert_eq!(i.base_priority(), 120);
}

#[test]
fn events_before_start_do_not_transition() {
    let c = Clock::new();
    let p = params();
    let mut i = Instance::new(p.clone());
    assert_eq!(i.handle(c.ms(0), Event::Timer), vec![]);
    assert_eq!(i.handle(c.ms(0), rx(&p, 0, "10.0.0.2")), vec![]);
    assert_eq!(
        i.handle(
            c.ms(0),
            Event::Link {
                ifname: "eth0".into(),
                up: false
            }
        ),
        vec![]
    );
    assert_eq!(i.state(), State::Init);
    assert_eq!(i.next_deadline(), None);
}

// ---------------------------------------------------------------- sync groups

fn group(members: &[&str]) -> SyncGroup {
    SyncGroup {
        span: Span::default(),
        name: "G1".into(),
        members: members.iter().map(|s| s.to_string()).collect(),
        member_spans: members.iter().map(|_| Span::default()).collect(),
        notify: Notify::default(),
        smtp_alert: None,
        tracking_weight: false,
        notify_priority_changes: None,
        track_script: vec![],
        track_interface: vec![],
        track_file: Vec::new(),
        track_process: Vec::new(),
    }
}

fn two_members() -> (Vec<InstanceParams>, InstanceParams, InstanceParams) {
    let a = params();
    let mut b = params();
    b.name = "VI_2".into();
    b.vrid = 52;
    b.interface = "eth1".into();
    b.track_interfaces[0].name = "eth1".into();
    b.vips = vec![vip("10.1.0.100")];
    (vec![a.clone(), b.clone()], a, b)
}

fn states(c: &Coordinator) -> Vec<State> {
    c.instances().iter().map(Instance::state).collect()
}

fn group_notifies(out: &[Output]) -> Vec<State> {
    out.iter()
        .filter_map(|o| match (o.target, &o.action) {
            (Target::Group(0), Action::Notify { state, .. }) => Some(*state),
            _ => None,
        })
        .collect()
}

#[test]
fn sync_group_members_follow_master_and_backup() {
    let c = Clock::new();
    let (ps, a, _b) = two_members();
    let mut co = Coordinator::new(ps, &[group(&["VI_1", "VI_2"])], &[]).unwrap();
    let out = co.handle_all(c.ms(0), Event::Start);
    assert_eq!(states(&co), vec![State::Backup, State::Backup]);
    assert_eq!(group_notifies(&out), vec![State::Backup]);
    // VI_2 keeps hearing a master; VI_1 does not: VI_1's timer pulls VI_2 along.
    co.handle(c.ms(2000), 1, rx(&two_members().2, 150, "10.1.0.2"));
    let out = co.handle_all(c.ms(3610), Event::Timer);
    assert_eq!(states(&co), vec![State::Master, State::Master]);
    let vi2: Vec<&Action> = out
        .iter()
        .filter(|o| o.target == Target::Instance(1))
        .map(|o| &o.action)
        .collect();
    assert_eq!(
        vi2[0],
        &Action::StateChange {
            from: State::Backup,
            to: State::Master,
            cause: Cause::Sync
        }
    );
    assert!(vi2.contains(&&Action::AddVips));
    assert_eq!(group_notifies(&out), vec![State::Master]);
    // A higher master on VI_1 sends both back to BACKUP.
    let out = co.handle(c.ms(4000), 0, rx(&a, 200, "10.0.0.2"));
    assert_eq!(states(&co), vec![State::Backup, State::Backup]);
    assert!(out.contains(&Output {
        target: Target::Instance(1),
        action: Action::DelVips
    }));
    assert_eq!(group_notifies(&out), vec![State::Backup]);
}

#[test]
fn sync_group_one_fault_faults_all() {
    let c = Clock::new();
    let (ps, _a, _b) = two_members();
    let mut co = Coordinator::new(ps, &[group(&["VI_1", "VI_2"])], &[]).unwrap();
    co.handle_all(c.ms(0), Event::Start);
    co.handle_all(c.ms(3610), Event::Timer);
    assert_eq!(states(&co), vec![State::Master, State::Master]);
    let out = co.handle_all(
        c.ms(5000),
        Event::Link {
            ifname: "eth1".into(),
            up: false,
        },
    );
    assert_eq!(states(&co), vec![State::Fault, State::Fault]);
    assert!(co.groups()[0].faulted);
    assert_eq!(group_notifies(&out), vec![State::Fault]);
    // VI_1 (healthy) resigned with a priority-0 advert and removed its VIPs.
    assert!(out.contains(&Output {
        target: Target::Instance(0),
        action: Action::DelVips
    }));
    // Recovery: both to BACKUP, then they take over together.
    let out = co.handle_all(
        c.ms(6000),
        Event::Link {
            ifname: "eth1".into(),
            up: true,
        },
    );
    assert_eq!(states(&co), vec![State::Backup, State::Backup]);
    assert_eq!(group_notifies(&out), vec![State::Backup]);
    co.handle_all(c.ms(9610), Event::Timer);
    assert_eq!(states(&co), vec![State::Master, State::Master]);
}

#[test]
fn sync_group_track_script_applies_to_members() {
    let c = Clock::new();
    let (ps, _a, _b) = two_members();
    let mut g = group(&["VI_1", "VI_2"]);
    g.track_script = vec![TrackScript {
        span: Span::default(),
        name: "chk".into(),
        weight: None,
        reverse: None,
    }];
    let scripts = vec![VrrpScript {
        span: Span::default(),
        name: "chk".into(),
        script: "/bin/true".into(),
        interval: Duration::from_secs(1),
        timeout: None,
        weight: 0,
        weight_reverse: false,
        rise: 1,
        fall: 1,
        user: None,
        init_fail: false,
    }];
    let mut co = Coordinator::new(ps, &[g], &scripts).unwrap();
    assert_eq!(co.instances()[1].params().track_scripts.len(), 1);
    co.handle_all(c.ms(0), Event::Start);
    co.handle_all(c.ms(100), result("chk", false));
    assert_eq!(states(&co), vec![State::Fault, State::Fault]);
}

#[test]
fn ungrouped_instances_are_independent() {
    let c = Clock::new();
    let (ps, _a, b) = two_members();
    let mut co = Coordinator::new(ps, &[], &[]).unwrap();
    co.handle_all(c.ms(0), Event::Start);
    co.handle(c.ms(2000), 1, rx(&b, 150, "10.1.0.2"));
    co.handle_all(c.ms(3610), Event::Timer);
    assert_eq!(states(&co), vec![State::Master, State::Backup]);
    assert_eq!(co.next_deadline(), Some(c.ms(4610)));
    assert_eq!(co.index_of("VI_2"), Some(1));
    assert!(co.handle(c.ms(0), 7, Event::Timer).is_empty());
}

#[test]
fn sync_group_config_errors() {
    let (ps, _, _) = two_members();
    let e = Coordinator::new(ps.clone(), &[group(&["VI_1", "VI_9"])], &[]).unwrap_err();
    assert!(matches!(e, SyncGroupError::UnknownMember { .. }));
    let mut g2 = group(&["VI_1"]);
    g2.name = "G2".into();
    let e = Coordinator::new(ps, &[group(&["VI_1"]), g2], &[]).unwrap_err();
    assert!(matches!(e, SyncGroupError::TwoGroups { .. }));
}

#[test]
fn sync_cmd_fault_false_without_own_fault_recovers() {
    let c = Clock::new();
    let mut i = started_backup(params(), &c);
    let a = i.handle(c.ms(1), Event::Sync(SyncCmd::Fault(true)));
    assert_eq!(
        a,
        state_change(State::Backup, State::Fault, Cause::Sync, 100)
    );
    // A Master command is ignored while faulted.
    assert_eq!(i.handle(c.ms(2), Event::Sync(SyncCmd::Master)), vec![]);
    let a = i.handle(c.ms(3), Event::Sync(SyncCmd::Fault(false)));
    assert_eq!(
        a,
        state_change(State::Fault, State::Backup, Cause::Sync, 100)
    );
}

// ---------------------------------------------------------------- keepalived interop

/// Replays the adverts of keepalived host 10.99.0.1 from the failover capture into our
/// machine configured like keepalived host 10.99.0.2 (priority 100, VRRPv2), and checks that
/// we send the same adverts as that keepalived did, at the same times (±5 ms), byte for byte.
#[test]
fn keepalived_failover_capture_replayed() {
    let frames = common::read_pcap("keepalived-2.2.7-v2-failover.pcap");
    let peer = ip("10.99.0.1");
    let me = ip("10.99.0.2");
    let mut p = params();
    p.interface = "va".into();
    p.track_interfaces[0].name = "va".into();
    p.vips = vec![vip("10.99.0.100")];
    let base = Instant::now();
    let t0 = frames[0].ts - Duration::from_millis(500);
    let at = |ts: Duration| base + (ts - t0);
    let end = at(frames.last().unwrap().ts + Duration::from_millis(500));
    let mut inst = Instance::new(p.clone());
    inst.handle(base, Event::LocalAddr(me));
    inst.handle(base, Event::Start);
    let mut sent: Vec<(Instant, Vec<u8>)> = Vec::new();
    let mut incoming = frames.iter().filter(|f| f.src == peer).peekable();
    loop {
        let next_rx = incoming.peek().map(|f| at(f.ts));
        let next_timer = inst.next_deadline();
        let (now, event) = match (next_rx, next_timer) {
            (Some(r), Some(t)) if t < r => (t, Event::Timer),
            (None, Some(t)) => (t, Event::Timer),
            (Some(r), _) => {
                let f = incoming.next().unwrap();
                let advert = Advert::decode(&f.payload, &f.meta()).unwrap();
                (
                    r,
                    Event::Advert {
                        advert,
                        meta: f.meta(),
                    },
                )
            }
            (None, None) => break,
        };
        if now > end {
            break;
        }
        for a in inst.handle(now, event) {
            if let Action::SendAdvert(adv) = a {
                sent.push((now, adv.encode(me, p.mcast_group, p.checksum_form).unwrap()));
            }
        }
    }
    let theirs: Vec<(Instant, Vec<u8>)> = frames
        .iter()
        .filter(|f| f.src == me)
        .map(|f| (at(f.ts), f.payload.clone()))
        .collect();
    assert_eq!(sent.len(), theirs.len(), "advert count: ours {sent:?}");
    for (k, ((t_ours, b_ours), (t_theirs, b_theirs))) in sent.iter().zip(&theirs).enumerate() {
        let diff = if t_ours > t_theirs {
            *t_ours - *t_theirs
        } else {
            *t_theirs - *t_ours
        };
        eprintln!("advert {k}: {diff:?} from keepalived's send time");
        assert!(
            diff < Duration::from_millis(5),
            "advert {k}: {diff:?} off keepalived's time"
        );
        assert_eq!(b_ours, b_theirs, "advert {k} bytes");
    }
    assert_eq!(inst.state(), State::Master);
}

// ---------------------------------------------------------------- reload

#[test]
fn reconfigure_keeps_master_and_replaces_vips() {
    let c = Clock::new();
    let mut p = params();
    p.track_scripts = vec![script("chk", -10, 1, 1)];
    let (mut i, t) = master(p.clone(), &c);
    i.handle(c.ms(t + 1), result("chk", false));
    assert_eq!(i.effective_priority(), 90);
    let mut q = p.clone();
    q.vips = vec![vip("10.0.0.100"), vip("10.0.0.101")];
    let (a, change) = i.reconfigure(c.ms(t + 2), q.clone());
    assert_eq!(
        change,
        VipChange {
            removed: vec![],
            added: vec![vip("10.0.0.101")]
        }
    );
    assert_eq!(
        a,
        vec![
            Action::SendGratuitous { repeat: 5 },
            Action::SendAdvert(q.advert(90)),
        ]
    );
    assert_eq!(i.state(), State::Master);
    // The failed script stays failed across the reload.
    assert_eq!(i.effective_priority(), 90);
    // New priority, fewer VIPs.
    let mut r = p.clone();
    r.priority = 120;
    let (a, change) = i.reconfigure(c.ms(t + 3), r.clone());
    assert_eq!(
        change,
        VipChange {
            removed: vec![vip("10.0.0.101")],
            added: vec![]
        }
    );
    assert_eq!(
        a,
        vec![
            Action::SendAdvert(r.advert(110)),
            Action::PriorityChanged {
                state: State::Master,
                priority: 110
            }
        ]
    );
    // Unchanged configuration: nothing to do.
    assert_eq!(
        i.reconfigure(c.ms(t + 4), r),
        (vec![], VipChange::default())
    );
    assert_eq!(i.state(), State::Master);
}

#[test]
fn reconfigure_backup_keeps_timer_and_can_fault() {
    let c = Clock::new();
    let p = params();
    let mut i = started_backup(p.clone(), &c);
    let before = i.next_deadline();
    assert_eq!(
        i.reconfigure(c.ms(100), p.clone()),
        (vec![], VipChange::default())
    );
    assert_eq!(i.next_deadline(), before);
    let mut q = p.clone();
    q.track_scripts = vec![TrackedScript {
        init_fail: true,
        ..script("chk", 0, 1, 1)
    }];
    let (a, change) = i.reconfigure(c.ms(200), q);
    assert!(change.is_empty());
    assert_eq!(
        a,
        state_change(State::Backup, State::Fault, Cause::Fault, 100)
    );
}

#[test]
fn coordinator_reload_matches_keeps_adds_and_removes() {
    let c = Clock::new();
    let (ps, _a, b) = two_members();
    let mut co = Coordinator::new(ps.clone(), &[], &[]).unwrap();
    co.handle_all(c.ms(0), Event::Start);
    co.handle(c.ms(2000), 1, rx(&b, 150, "10.1.0.2"));
    co.handle_all(c.ms(3610), Event::Timer);
    assert_eq!(states(&co), vec![State::Master, State::Backup]);
    // New config: VI_1 renamed and reprioritised (same VRID/interface: same instance),
    // VI_2 gone, VI_3 new.
    let mut a2 = ps[0].clone();
    a2.name = "VI_A".into();
    a2.priority = 110;
    let mut n = params();
    n.name = "VI_3".into();
    n.vrid = 60;
    let r = co
        .reload(c.ms(5000), vec![n.clone(), a2.clone()], &[], &[])
        .unwrap();
    assert_eq!(states(&co), vec![State::Backup, State::Master]);
    assert_eq!(co.instances()[1].name(), "VI_A");
    assert!(r.outputs.contains(&Output {
        target: Target::Instance(1),
        action: Action::SendAdvert(a2.advert(110))
    }));
    assert!(r.outputs.contains(&Output {
        target: Target::Instance(0),
        action: Action::StateChange {
            from: State::Init,
            to: State::Backup,
            cause: Cause::Startup
        }
    }));
    assert!(r.vip_changes.is_empty());
    assert_eq!(r.removed.len(), 1);
    assert_eq!(r.removed[0].0.name(), "VI_2");
    assert_eq!(
        r.removed[0].1,
        state_change(State::Backup, State::Stop, Cause::Shutdown, 100)
    );
    // A bad config changes nothing.
    let e = co.reload(c.ms(6000), vec![n], &[group(&["VI_X"])], &[]);
    assert!(e.is_err());
    assert_eq!(states(&co), vec![State::Backup, State::Master]);
}

// ---------------------------------------------------------------- invariants

mod invariants {
    use super::*;
    use proptest::prelude::*;

    #[derive(Debug, Clone)]
    enum Step {
        /// Advance this many ms and deliver a timer.
        Wait(u16),
        /// An advert (priority, last octet of the source).
        Rx(u8, u8),
        Link(bool),
        /// (the weighted script or the vital one, result)
        Script(bool, bool),
        Prio(u8),
        Shutdown,
    }

    fn step() -> impl Strategy<Value = Step> {
        prop_oneof![
            6 => (0u16..5000).prop_map(Step::Wait),
            4 => (any::<u8>(), any::<u8>()).prop_map(|(p, s)| Step::Rx(p, s)),
            1 => any::<bool>().prop_map(Step::Link),
            1 => (any::<bool>(), any::<bool>()).prop_map(|(w, ok)| Step::Script(w, ok)),
            1 => any::<u8>().prop_map(Step::Prio),
            1 => Just(Step::Shutdown),
        ]
    }

    proptest! {
        /// Whatever happens: VIPs are held exactly while MASTER, state changes chain and are
        /// each followed by their notify, deadlines are never in the past, a master always
        /// has a deadline, and STOP is final.
        #[test]
        fn random_event_sequences(
            steps in prop::collection::vec(step(), 1..80),
            v3 in any::<bool>(),
            owner in any::<bool>(),
            nopreempt in any::<bool>(),
            delay in 0u64..3,
        ) {
            let mut p = params();
            if v3 {
                p.version = Version::V3;
            }
            if owner {
                p.initial_state = InitialState::Master;
                p.priority = 255;
            }
            p.nopreempt = nopreempt;
            p.preempt_delay = Duration::from_secs(delay);
            p.track_scripts = vec![script("chk", -20, 2, 2), script("vital", 0, 1, 1)];
            let base = Instant::now();
            let mut now = base;
            let mut i = Instance::new(p.clone());
            i.handle(now, Event::LocalAddr(ip("10.0.0.128")));
            let mut state = State::Init;
            let mut vips = false;
            let mut all = vec![(now, Event::Start)];
            for s in steps {
                let ev = match s {
                    Step::Wait(ms) => {
                        now += Duration::from_millis(u64::from(ms));
                        Event::Timer
                    }
                    Step::Rx(prio, last) => {
                        let mut adv = p.advert(prio);
                        adv.interval_cs = if v3 { u16::from(last % 200) + 1 } else { 100 };
                        Event::Advert {
                            advert: adv,
                            meta: RxMeta { src: ip(&format!("10.0.0.{last}")), dst: p.mcast_group, ttl: 255 },
                        }
                    }
                    Step::Link(up) => Event::Link { ifname: "eth0".into(), up },
                    Step::Script(weighted, ok) => Event::ScriptResult {
                        name: if weighted { "chk".into() } else { "vital".into() },
                        ok,
                    },
                    Step::Prio(x) => Event::SetPriority(x),
                    Step::Shutdown => Event::Shutdown,
                };
                all.push((now, ev));
            }
            for (t, ev) in all {
                // Timers are delivered at every deadline passed while waiting, as a runtime would.
                while let Some(d) = i.next_deadline() {
                    if d > t {
                        break;
                    }
                    let acts = i.handle(d, Event::Timer);
                    check(&acts, &mut state, &mut vips, &i);
                    prop_assert!(i.next_deadline().is_none_or(|n| n > d || i.state() != State::Master));
                }
                let was_stop = state == State::Stop;
                let acts = i.handle(t, ev);
                check(&acts, &mut state, &mut vips, &i);
                if was_stop {
                    prop_assert!(acts.is_empty());
                }
                prop_assert_eq!(vips, i.state() == State::Master);
                prop_assert!(i.next_deadline().is_none_or(|d| d >= t));
                if i.state() == State::Master {
                    prop_assert!(i.next_deadline().is_some());
                }
                if matches!(i.state(), State::Fault | State::Stop | State::Init) {
                    prop_assert!(i.next_deadline().is_none());
                }
            }
        }
    }

    fn check(acts: &[Action], state: &mut State, vips: &mut bool, i: &Instance) {
        for (k, a) in acts.iter().enumerate() {
            match a {
                Action::AddVips => {
                    assert!(!*vips, "VIPs added twice");
                    *vips = true;
                }
                Action::DelVips => {
                    assert!(*vips, "VIPs removed while not held");
                    *vips = false;
                }
                Action::StateChange { from, to, .. } => {
                    assert_eq!(from, state, "state changes must chain");
                    assert_ne!(from, to);
                    *state = *to;
                    assert!(
                        acts[k..]
                            .iter()
                            .any(|x| matches!(x, Action::Notify { state: s, .. } if s == to)),
                        "no notify for {to}"
                    );
                }
                Action::SendAdvert(adv) => {
                    assert_eq!(adv.vrid, i.params().vrid);
                    assert!(adv.priority == 0 || *state == State::Master);
                }
                _ => {}
            }
        }
        assert_eq!(*state, i.state());
    }
}

// ---- lower/higher-priority advert options, start-up delay (keepalived 2.2.7) ----------

/// Actions of a master (local address 10.0.0.5) receiving an advert `ms` after `t`.
fn master_rx(p: &InstanceParams, c: &Clock, prio: u8, src: &str) -> (Instance, u64, Vec<Action>) {
    let (mut i, t) = master(p.clone(), c);
    i.handle(c.ms(t), Event::LocalAddr(ip("10.0.0.5")));
    let a = i.handle(c.ms(t + 500), rx(p, prio, src));
    (i, t, a)
}

#[test]
fn lower_prio_garp_burst_then_second_burst_after_delay() {
    let c = Clock::new();
    let mut p = params();
    p.lower_prio = LowerPrio {
        no_advert: false,
        garp_repeat: 2,
        garp_delay: Duration::from_secs(3),
    };
    let (mut i, t, a) = master_rx(&p, &c, 50, "10.0.0.9");
    assert_eq!(
        a,
        vec![
            Action::SendAdvert(p.advert(100)),
            Action::SendGratuitous { repeat: 2 },
            Action::MasterRxLowerPri {
                from: ip("10.0.0.9"),
                priority: 50
            },
        ]
    );
    // A second lower advert 1 s later owes a second delayed burst of its own.
    i.handle(c.ms(t + 1500), rx(&p, 50, "10.0.0.9"));
    let mut bursts = Vec::new();
    for ms in (t + 1501..t + 6000).step_by(10) {
        for a in i.handle(c.ms(ms), Event::Timer) {
            if let Action::SendGratuitous { repeat } = a {
                bursts.push((ms - t, repeat));
            }
        }
    }
    // The master's own second burst (garp_master_delay 5 s after it became master at t)
    // and one lower-priority burst 3 s after each lower advert.
    assert_eq!(bursts, vec![(3501, 2), (4501, 2), (5001, 5)]);
}

#[test]
fn lower_prio_repeat_zero_sends_no_burst() {
    let c = Clock::new();
    let mut p = params();
    p.lower_prio.garp_repeat = 0;
    let (mut i, t, a) = master_rx(&p, &c, 50, "10.0.0.9");
    assert!(
        !a.iter().any(|a| matches!(a, Action::SendGratuitous { .. })),
        "{a:?}"
    );
    // Nothing owed either: the next deadline is the advert timer.
    assert_eq!(i.next_deadline(), Some(c.ms(t + 1500)));
    assert!(!i
        .handle(c.ms(t + 5600), Event::Timer)
        .iter()
        .any(|a| matches!(a, Action::SendGratuitous { repeat: 0 })));
}

#[test]
fn lower_prio_no_advert_keeps_the_advert_schedule() {
    let c = Clock::new();
    let mut p = params();
    p.lower_prio.no_advert = true;
    let (mut i, t, a) = master_rx(&p, &c, 50, "10.0.0.9");
    assert_eq!(
        a,
        vec![
            Action::SendGratuitous { repeat: 5 },
            Action::MasterRxLowerPri {
                from: ip("10.0.0.9"),
                priority: 50
            },
        ]
    );
    assert_eq!(i.state(), State::Master);
    // The regular advert stays where it was: one interval after becoming master.
    assert_eq!(i.next_deadline(), Some(c.ms(t + 1000)));
    // Equal priority from a lower address is "lower" too.
    let a = i.handle(c.ms(t + 600), rx(&p, 100, "10.0.0.1"));
    assert!(
        !a.iter().any(|a| matches!(a, Action::SendAdvert(_))),
        "{a:?}"
    );
    // A priority-0 advert is still answered, without moving the schedule.
    let a = i.handle(c.ms(t + 700), rx(&p, 0, "10.0.0.9"));
    assert_eq!(a, vec![Action::SendAdvert(p.advert(100))]);
    assert_eq!(i.next_deadline(), Some(c.ms(t + 1000)));
}

#[test]
fn higher_prio_send_advert_sends_one_advert_before_backup() {
    let c = Clock::new();
    let mut p = params();
    p.higher_prio_send_advert = true;
    for (prio, src) in [(150, "10.0.0.1"), (100, "10.0.0.9")] {
        let (i, _, a) = master_rx(&p, &c, prio, src);
        assert_eq!(
            a,
            [
                vec![Action::SendAdvert(p.advert(100)), Action::DelVips],
                state_change(State::Master, State::Backup, Cause::HigherPriority, 100),
            ]
            .concat(),
            "{prio} from {src}"
        );
        assert_eq!(i.state(), State::Backup);
    }
    // Without the option: no advert.
    let (_, _, a) = master_rx(&params(), &c, 150, "10.0.0.1");
    assert!(
        !a.iter().any(|a| matches!(a, Action::SendAdvert(_))),
        "{a:?}"
    );
}

#[test]
fn startup_delay_holds_backup_then_master_down_counts_from_its_end() {
    let c = Clock::new();
    let mut p = params();
    p.startup_delay = Duration::from_secs(5);
    let mut i = started_backup(p.clone(), &c);
    assert_eq!(i.start_hold(), Some(c.ms(5000)));
    assert_eq!(
        i.next_deadline(),
        Some(c.ms(5000) + Duration::from_micros(3_609_375))
    );
    // A lower-priority master heard during the delay does not bring the takeover forward.
    i.handle(c.ms(2000), rx(&p, 50, "10.0.0.9"));
    assert_eq!(i.handle(c.ms(8609), Event::Timer), vec![]);
    assert_eq!(i.state(), State::Backup);
    let a = i.handle(c.ms(8610), Event::Timer);
    assert_eq!(a, become_master(&p, State::Backup, Cause::MasterDown, 100));
}

#[test]
fn startup_delay_higher_master_heard_after_the_delay_counts_from_now() {
    let c = Clock::new();
    let mut p = params();
    p.startup_delay = Duration::from_millis(500);
    let mut i = started_backup(p.clone(), &c);
    i.handle(c.ms(400), rx(&p, 150, "10.0.0.9"));
    assert_eq!(
        i.next_deadline(),
        Some(c.ms(500) + i.master_down_interval())
    );
    i.handle(c.ms(1400), rx(&p, 150, "10.0.0.9"));
    assert_eq!(
        i.next_deadline(),
        Some(c.ms(1400) + i.master_down_interval())
    );
    assert_eq!(i.start_hold(), None);
}

#[test]
fn startup_delay_owner_waits_in_backup_until_the_end() {
    let c = Clock::new();
    let mut p = params();
    p.initial_state = InitialState::Master;
    p.priority = 255;
    p.startup_delay = Duration::from_secs(2);
    let mut i = Instance::new(p.clone());
    let a = i.handle(c.ms(0), Event::Start);
    assert_eq!(
        a,
        state_change(State::Init, State::Backup, Cause::Startup, 255)
    );
    assert_eq!(i.next_deadline(), Some(c.ms(2000)));
    assert_eq!(i.handle(c.ms(1999), Event::Timer), vec![]);
    let a = i.handle(c.ms(2000), Event::Timer);
    assert_eq!(a, become_master(&p, State::Backup, Cause::MasterDown, 255));
}

#[test]
fn startup_delay_given_hold_replaces_the_own_one() {
    // An instance added by a reload waits only for what is left of the daemon's delay.
    let c = Clock::new();
    let mut p = params();
    p.startup_delay = Duration::from_secs(5);
    let mut i = Instance::new(p.clone());
    i.hold_start_until(None);
    i.handle(c.ms(0), Event::Start);
    assert_eq!(i.start_hold(), None);
    assert_eq!(i.next_deadline(), Some(c.ms(0) + i.master_down_interval()));
}

/// Issue 17: why adverts are dropped is said at warn level (no `-D` needed), one line per
/// reason per instance per minute, the next line with the count of those in between.
#[test]
fn drops_are_warned_once_per_reason_a_minute() {
    let c = Clock::new();
    let mut p = params();
    p.auth = Auth::Pass(*b"secret1\0");
    let mut i = started_backup(p.clone(), &c);
    let advert = |pass: &[u8; 8], interval_cs: u16| {
        let mut a = p.advert(200);
        a.auth_type = 1;
        a.auth_data = *pass;
        a.interval_cs = interval_cs;
        Event::Advert {
            advert: a,
            meta: RxMeta {
                src: ip("10.0.0.2"),
                dst: p.mcast_group,
                ttl: 255,
            },
        }
    };
    let (_, warned) = logs::warnings_during(|| {
        // A peer with another password, once a second for two minutes; from 30 s on
        // another with the right password and another interval.
        for s in 0..120u64 {
            i.handle(c.ms(s * 1000), advert(b"wrong\0\0\0", 100));
            if s >= 30 {
                i.handle(c.ms(s * 1000 + 1), advert(b"secret1\0", 300));
            }
        }
        // A packet that failed to decode, for this VRID (the runtime's report).
        for k in 0..3 {
            i.handle(
                c.ms(121_000 + k),
                Event::Undecodable {
                    reason: DropReason::Ttl,
                    src: ip("10.0.0.3"),
                },
            );
        }
    });
    assert_eq!(i.stats().get(DropReason::AuthPass), 120);
    assert_eq!(i.stats().get(DropReason::IntervalMismatch), 90);
    let with =
        |needle: &str| -> Vec<&String> { warned.iter().filter(|l| l.contains(needle)).collect() };
    let pass = with("wrong password (auth_pass)");
    assert_eq!(pass.len(), 2, "{warned:#?}");
    assert!(pass[0].contains("VRRP_Instance(VI_1) advert from 10.0.0.2 dropped"));
    assert!(!pass[0].contains("more since"), "{}", pass[0]);
    assert!(
        pass[1].contains("(59 more since the last such warning 60 s ago)"),
        "{}",
        pass[1]
    );
    let interval = with("advert interval differs from ours");
    assert_eq!(interval.len(), 2, "{warned:#?}");
    assert!(interval[1].contains("59 more since"), "{}", interval[1]);
    let ttl = with("wrong TTL / hop limit");
    assert_eq!(ttl.len(), 1, "{warned:#?}");
    assert!(ttl[0].contains("from 10.0.0.3"), "{}", ttl[0]);
    assert_eq!(warned.len(), 5, "{warned:#?}");
}
