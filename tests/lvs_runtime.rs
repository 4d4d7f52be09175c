//! The LVS runtime loop over the fake kernel: start, checker events, retry of failed
//! operations (synthetic time), reload, shutdown cleanup and `-I`.

use lvsd::checkers::{CheckerEvent, CheckerId};
use lvsd::cli::Options;
use lvsd::config::{Config, FlushOnStop, GlobalDefs, LvsSyncDaemon, LvsTimeouts, VirtualServer};
use lvsd::control::{Control, ReloadReading};
use lvsd::ipvs::{DestKey, Op, Proto, ServiceKey, Timeouts};
use lvsd::lvs::fake::FakeIpvs;
use lvsd::lvs::fixture::{addr_vs, real_server, tcp_check};
use lvsd::lvs::runtime::{run_with, CheckerStarter, EffectSink};
use lvsd::lvs::state::Effect;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{mpsc, watch};

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn web_vs(n: usize) -> VirtualServer {
    let mut vs = addr_vs(ip("10.0.0.1"), 80);
    for i in 0..n {
        let mut rs = real_server(ip(&format!("10.0.1.{}", i + 2)), Some(80));
        rs.checkers.push(tcp_check());
        rs.more_mut().notify_down = Some(format!("/bin/down{i}"));
        vs.real_servers.push(rs);
    }
    vs
}

fn config(n: usize) -> Arc<Config> {
    Arc::new(Config {
        global: GlobalDefs {
            lvs_timeouts: Some(LvsTimeouts {
                tcp: Some(900),
                tcpfin: Some(30),
                udp: None,
            }),
            lvs_sync_daemon: Some(LvsSyncDaemon {
                interface: "eth1".into(),
                instance: "VI_1".into(),
                sync_id: Some(7),
                maxlen: None,
                port: None,
                ttl: None,
                group: None,
            }),
            ..Default::default()
        },
        virtual_servers: vec![web_vs(n)],
        ..Default::default()
    })
}

type Starts = Arc<Mutex<Vec<(HashMap<CheckerId, bool>, mpsc::Sender<CheckerEvent>)>>>;

/// Checkers driven by the test: each start hands the test a sender.
#[derive(Clone, Default)]
struct TestCheckers {
    starts: Starts,
}

impl CheckerStarter for TestCheckers {
    fn start(
        &mut self,
        _config: Arc<Config>,
        initial: &HashMap<CheckerId, bool>,
    ) -> mpsc::Receiver<CheckerEvent> {
        let (tx, rx) = mpsc::channel(64);
        self.starts.lock().unwrap().push((initial.clone(), tx));
        rx
    }

    fn adopt_equal(&mut self, _config: Arc<Config>) {}
}

impl TestCheckers {
    fn sender(&self) -> mpsc::Sender<CheckerEvent> {
        self.starts.lock().unwrap().last().unwrap().1.clone()
    }
    fn count(&self) -> usize {
        self.starts.lock().unwrap().len()
    }
}

#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Effect>>>);

impl EffectSink for Recorder {
    fn effect(&mut self, _config: &Config, effect: Effect) {
        self.0.lock().unwrap().push(effect);
    }
}

fn ev(vs: usize, rs: usize, up: bool) -> CheckerEvent {
    CheckerEvent {
        id: CheckerId { vs, rs, checker: 0 },
        up,
        weight: None,
        reason: "test".into(),
    }
}

const SVC: ServiceKey = ServiceKey::Addr {
    proto: Proto::Tcp,
    addr: IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1)),
    port: 80,
};

fn dests(fake: &FakeIpvs) -> Vec<DestKey> {
    fake.with(|k| {
        k.table
            .services
            .get(&SVC)
            .map(|e| e.dests.keys().copied().collect())
            .unwrap_or_default()
    })
}

/// Waits (in synthetic time) until `cond` holds; fails after a minute of it.
async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..60_000 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    panic!("timed out waiting for: {what}");
}

struct Running {
    fake: FakeIpvs,
    checkers: TestCheckers,
    effects: Recorder,
    reload: watch::Sender<Arc<Config>>,
    shutdown: watch::Sender<bool>,
    /// What the daemon sets while it reads a reloaded file.
    reading: ReloadReading,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

fn start(cfg: Arc<Config>, opts: Options) -> Running {
    start_on(FakeIpvs::new(), cfg, opts)
}

/// As `start`, over a kernel that may already hold a table.
fn start_on(fake: FakeIpvs, cfg: Arc<Config>, opts: Options) -> Running {
    let checkers = TestCheckers::default();
    let effects = Recorder::default();
    let (reload, reload_rx) = watch::channel(cfg);
    let (shutdown, shutdown_rx) = watch::channel(false);
    let ctl = Control {
        opts: Arc::new(opts),
        reload: reload_rx,
        shutdown: shutdown_rx,
        heartbeat: Default::default(),
        reading: ReloadReading::default(),
    };
    let reading = ctl.reading.clone();
    let task = tokio::spawn(run_with(
        ctl,
        fake.clone(),
        checkers.clone(),
        effects.clone(),
    ));
    Running {
        fake,
        checkers,
        effects,
        reload,
        shutdown,
        reading,
        task,
    }
}

#[tokio::test(start_paused = true)]
async fn runtime_follows_events_retries_reloads_and_cleans_up() {
    let r = start(config(2), Options::default());
    let fake = r.fake.clone();
    eventually("cold start", || dests(&fake).len() == 2).await;
    eventually("checkers started", || r.checkers.count() == 1).await;
    fake.with(|k| {
        assert_eq!(
            k.timeouts,
            vec![Timeouts {
                tcp: 900,
                tcp_fin: 30,
                udp: 0
            }]
        );
        // lvs_sync_daemon belongs to the VRRP side (it follows an instance's state).
        assert!(k.daemons.is_empty());
    });

    // A real server fails: removed, its notify_down runs.
    r.checkers.sender().send(ev(0, 0, false)).await.unwrap();
    eventually("rs 0 removed", || dests(&fake).len() == 1).await;
    assert!(r.effects.0.lock().unwrap().contains(&Effect::Script {
        command: "/bin/down0".into(),
        what: "notify_down for [10.0.1.2]:tcp:80".into()
    }));

    // It comes back while the kernel refuses it: retried each second until it lands.
    fake.with(|k| {
        k.rules.push(Box::new(|op| {
            matches!(op, Op::AddDest(..)).then_some(libc::ENOMEM)
        }))
    });
    r.checkers.sender().send(ev(0, 0, true)).await.unwrap();
    eventually("two refused attempts", || {
        fake.with(|k| {
            k.log
                .iter()
                .filter(|o| matches!(o, Op::AddDest(..)))
                .count()
                >= 3
        })
    })
    .await;
    assert_eq!(dests(&fake).len(), 1);
    fake.with(|k| k.rules.clear());
    eventually("retry landed", || dests(&fake).len() == 2).await;

    // Reload: one more real server; the down/up history is kept, checkers restarted
    // with the carried verdicts.
    r.checkers.sender().send(ev(0, 1, false)).await.unwrap();
    eventually("rs 1 removed", || dests(&fake).len() == 1).await;
    fake.with(|k| k.take_log());
    r.reload.send(config(3)).unwrap();
    eventually("reloaded", || r.checkers.count() == 2).await;
    eventually("new rs added", || dests(&fake).len() == 2).await;
    let initial = r.checkers.starts.lock().unwrap()[1].0.clone();
    assert!(
        !initial[&CheckerId {
            vs: 0,
            rs: 1,
            checker: 0
        }]
    );
    assert!(
        initial[&CheckerId {
            vs: 0,
            rs: 2,
            checker: 0
        }]
    );
    let sent = fake.with(|k| k.take_log());
    assert_eq!(sent.len(), 1, "only the difference: {sent:?}");
    assert!(matches!(&sent[0], Op::AddDest(_, d) if d.key.addr == ip("10.0.1.4")));
    // The timeouts did not change: not sent again.
    assert_eq!(fake.with(|k| k.timeouts.len()), 1);

    // Shutdown: everything lvsd made is removed.
    r.shutdown.send(true).unwrap();
    r.task.await.unwrap().unwrap();
    fake.with(|k| {
        assert!(k.table.services.is_empty());
        assert!(k.daemon_stops.is_empty());
    });
}

/// Issue 14 target 6: a verdict after a quiet spell goes to the kernel at once; verdicts
/// that arrive one by one soon after a pass (servers flapping by the hundred, each checker
/// on its own schedule) wait for the rest of `GATHER_VERDICTS` and go in one pass.
#[tokio::test(start_paused = true)]
async fn verdicts_soon_after_a_pass_gather_into_one_pass() {
    let r = start(config(10), Options::default());
    let fake = r.fake.clone();
    eventually("cold start", || dests(&fake).len() == 10).await;
    eventually("checkers started", || r.checkers.count() == 1).await;
    let tx = r.checkers.sender();

    let sent = tokio::time::Instant::now();
    tx.send(ev(0, 0, false)).await.unwrap();
    eventually("rs 0 removed", || dests(&fake).len() == 9).await;
    assert!(
        sent.elapsed() < lvsd::lvs::runtime::GATHER_VERDICTS,
        "a lone verdict waited {:?}",
        sent.elapsed()
    );
    let calls = fake.with(|k| k.apply_calls);

    for rs in 1..6 {
        tx.send(ev(0, rs, false)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    eventually("rs 1-5 removed", || dests(&fake).len() == 4).await;
    assert_eq!(
        fake.with(|k| k.apply_calls),
        calls + 1,
        "five verdicts 5 ms apart went to the kernel in one pass"
    );
    r.shutdown.send(true).unwrap();
    r.task.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn dont_release_ipvs_leaves_the_table() {
    let opts = Options {
        dont_release_ipvs: true,
        ..Default::default()
    };
    let r = start(config(2), opts);
    let fake = r.fake.clone();
    eventually("cold start", || dests(&fake).len() == 2).await;
    r.shutdown.send(true).unwrap();
    r.task.await.unwrap().unwrap();
    assert_eq!(dests(&fake).len(), 2);
}

#[tokio::test(start_paused = true)]
async fn shutdown_keeps_foreign_services() {
    let foreign = ServiceKey::Fwmark {
        family: lvsd::ipvs::Family::V4,
        mark: 99,
    };
    let r = start(config(1), Options::default());
    r.fake.with(|k| {
        k.table.apply(&Op::AddService(lvsd::ipvs::Service {
            key: foreign,
            scheduler: "rr".into(),
            flags: 0,
            timeout: 0,
            netmask: 0xffff_ffff,
            pe_name: None,
        }))
    });
    let fake = r.fake.clone();
    eventually("cold start", || dests(&fake).len() == 1).await;
    r.shutdown.send(true).unwrap();
    r.task.await.unwrap().unwrap();
    fake.with(|k| {
        assert_eq!(
            k.table.services.keys().copied().collect::<Vec<_>>(),
            vec![foreign]
        );
    });
}

/// A fwmark service of someone else's, put in the fake kernel before the side starts.
fn add_foreign(fake: &FakeIpvs) -> ServiceKey {
    let foreign = ServiceKey::Fwmark {
        family: lvsd::ipvs::Family::V4,
        mark: 99,
    };
    fake.with(|k| {
        k.table.apply(&Op::AddService(lvsd::ipvs::Service {
            key: foreign,
            scheduler: "rr".into(),
            flags: 0,
            timeout: 0,
            netmask: 0xffff_ffff,
            pe_name: None,
        }))
    });
    foreign
}

fn services(fake: &FakeIpvs) -> Vec<ServiceKey> {
    fake.with(|k| k.table.services.keys().copied().collect())
}

/// `lvs_flush`: the whole table is emptied at start, others' services too (keepalived's
/// flush); `lvs_flush_on_stop`: the whole table at stop; `lvs_flush_on_stop VS`: only
/// lvsd's services, as without it.
#[tokio::test(start_paused = true)]
async fn lvs_flush_at_start_and_on_stop() {
    let with = |f: &dyn Fn(&mut GlobalDefs)| {
        let mut c = (*config(1)).clone();
        f(&mut c.global);
        Arc::new(c)
    };
    // lvs_flush
    let r = start(with(&|g| g.lvs_flush = true), Options::default());
    let foreign = add_foreign(&r.fake);
    let fake = r.fake.clone();
    eventually("cold start", || dests(&fake).len() == 1).await;
    assert!(
        !services(&fake).contains(&foreign),
        "lvs_flush kept {foreign:?}"
    );
    r.shutdown.send(true).unwrap();
    r.task.await.unwrap().unwrap();
    // without it the foreign service survives the start (and, by default, the stop)
    for (flush, kept) in [
        (FlushOnStop::Disabled, true),
        (FlushOnStop::Vs, true),
        (FlushOnStop::Full, false),
    ] {
        let r = start(with(&|g| g.lvs_flush_on_stop = flush), Options::default());
        let foreign = add_foreign(&r.fake);
        let fake = r.fake.clone();
        eventually("cold start", || dests(&fake).len() == 1).await;
        assert!(
            services(&fake).contains(&foreign),
            "{flush:?}: start removed it"
        );
        r.shutdown.send(true).unwrap();
        r.task.await.unwrap().unwrap();
        let left = services(&fake);
        let want = if kept { vec![foreign] } else { vec![] };
        assert_eq!(left, want, "{flush:?}: after stop");
    }
}

/// `config(n)` without its virtual servers: the global LVS settings stay.
fn no_virtual_servers() -> Arc<Config> {
    let mut c = (*config(1)).clone();
    c.virtual_servers.clear();
    Arc::new(c)
}

/// Opens of the fake kernel so far.
fn opens(fake: &FakeIpvs) -> usize {
    fake.with(|k| k.opens)
}

/// Sleeps (synthetic time) until `at` after `t0`.
async fn at(t0: tokio::time::Instant, ms: u64) {
    tokio::time::sleep_until(t0 + Duration::from_millis(ms)).await;
}

#[tokio::test(start_paused = true)]
async fn a_configuration_without_virtual_servers_never_opens_ipvs() {
    let r = start(no_virtual_servers(), Options::default());
    let fake = r.fake.clone();
    tokio::time::sleep(Duration::from_secs(300)).await;
    fake.with(|k| {
        assert_eq!(k.opens, 0, "IPVS was opened");
        assert_eq!((k.dumps, k.apply_calls), (0, 0));
        assert!(
            k.timeouts.is_empty(),
            "lvs_timeouts were set: {:?}",
            k.timeouts
        );
    });
    assert_eq!(r.checkers.count(), 0);

    // A reload with the same (empty) LVS part: still nothing.
    r.reload.send(no_virtual_servers()).unwrap();
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(opens(&fake), 0);

    // A reload that adds a virtual server: IPVS is opened once and the table programmed.
    r.reload.send(config(2)).unwrap();
    eventually("programmed after the reload", || dests(&fake).len() == 2).await;
    eventually("checkers started", || r.checkers.count() == 1).await;
    assert_eq!(opens(&fake), 1);
    assert_eq!(fake.with(|k| k.timeouts.len()), 1);

    r.shutdown.send(true).unwrap();
    r.task.await.unwrap().unwrap();
    assert!(fake.table().services.is_empty());
}

#[tokio::test(start_paused = true)]
async fn stopping_while_idle_returns_at_once() {
    let r = start(no_virtual_servers(), Options::default());
    tokio::time::sleep(Duration::from_secs(1)).await;
    r.shutdown.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(1), r.task)
        .await
        .expect("the idle LVS side did not stop")
        .unwrap()
        .unwrap();
    assert_eq!(opens(&r.fake), 0);
}

#[tokio::test(start_paused = true)]
async fn ipvs_missing_is_retried_with_backoff_until_it_appears() {
    let fake_reasons = ["no ip_vs", "no ip_vs", "no ip_vs"];
    let t0 = tokio::time::Instant::now();
    let r = start(config(2), Options::default());
    // Before the task first runs: its first three opens fail.
    r.fake.with(|k| {
        k.unavailable
            .extend(fake_reasons.iter().map(|s| s.to_string()))
    });
    let fake = r.fake.clone();
    // Attempts at 0 s, then after 1 s, 2 s and 4 s: at 0, 1, 3 and 7 s.
    for (ms, want) in [(500, 1), (1500, 2), (2500, 2), (3500, 3), (6500, 3)] {
        at(t0, ms).await;
        assert_eq!(opens(&fake), want, "opens at {ms} ms");
        assert!(dests(&fake).is_empty());
        assert_eq!(r.checkers.count(), 0, "checkers run without IPVS");
    }
    at(t0, 7500).await;
    assert_eq!(opens(&fake), 4);
    eventually("programmed once IPVS is there", || dests(&fake).len() == 2).await;
    eventually("checkers started", || r.checkers.count() == 1).await;
    assert!(!r.task.is_finished());

    r.shutdown.send(true).unwrap();
    r.task.await.unwrap().unwrap();
    assert!(fake.table().services.is_empty());
}

#[tokio::test(start_paused = true)]
async fn retries_stop_at_sixty_seconds_apart_and_a_reload_retries_at_once() {
    let t0 = tokio::time::Instant::now();
    let r = start(config(1), Options::default());
    r.fake.with(|k| {
        k.unavailable
            .extend((0..100).map(|_| "no ip_vs".to_string()))
    });
    let fake = r.fake.clone();
    // 0, 1, 3, 7, 15, 31, 63, then every 60 s: 123, 183.
    at(t0, 62_500).await;
    assert_eq!(opens(&fake), 6);
    at(t0, 63_500).await;
    assert_eq!(opens(&fake), 7);
    at(t0, 183_500).await;
    assert_eq!(opens(&fake), 9);
    // A reload does not wait for the next retry.
    r.reload.send(config(2)).unwrap();
    at(t0, 184_000).await;
    assert_eq!(opens(&fake), 10);
    // A reload that removes every virtual server ends the retries.
    r.reload.send(no_virtual_servers()).unwrap();
    at(t0, 184_500).await;
    let n = opens(&fake);
    at(t0, 600_000).await;
    assert_eq!(
        opens(&fake),
        n,
        "still opening IPVS without a virtual server"
    );
    r.shutdown.send(true).unwrap();
    r.task.await.unwrap().unwrap();
}

/// Issue 17: the runtime's heal pass. Entries deleted or changed behind lvsd's back come
/// back within one heal period (default 5 s, `--ipvs-heal-interval`); someone else's
/// service survives; with nothing changed a heal only reads the table; 0 turns it off.
#[tokio::test(start_paused = true)]
async fn the_table_heals_within_the_heal_interval() {
    let opts = Options {
        ipvs_heal_interval: Some(3),
        ..Default::default()
    };
    let r = start(config(3), opts);
    let fake = r.fake.clone();
    eventually("cold start", || dests(&fake).len() == 3).await;
    let foreign = add_foreign(&fake);
    let want = fake.table();
    // Nothing changed: heals read the table and send nothing.
    fake.with(|k| k.take_log());
    let dumps = fake.with(|k| k.dumps);
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(fake.with(|k| k.dumps), dumps + 3, "one read per 3 s");
    assert_eq!(fake.with(|k| k.take_log()), vec![]);

    // `ipvsadm -d` of one real server and `-e` of another.
    let t0 = tokio::time::Instant::now();
    fake.with(|k| {
        let e = k.table.services.get_mut(&SVC).unwrap();
        let first = *e.dests.keys().next().unwrap();
        e.dests.remove(&first);
        let mut edited = e.dests.values().next().unwrap().clone();
        edited.weight = 42;
        e.dests.insert(edited);
    });
    eventually("healed", || fake.table() == want).await;
    assert!(t0.elapsed() <= Duration::from_secs(3), "{:?}", t0.elapsed());
    let sent = fake.with(|k| k.take_log());
    assert_eq!(sent.len(), 2, "only the two drifted entries: {sent:?}");

    // `ipvsadm -C`: lvsd's service back whole, the foreign one stays gone (not lvsd's).
    fake.with(|k| k.table.services.clear());
    eventually("healed after a flush", || dests(&fake).len() == 3).await;
    assert_eq!(services(&fake), vec![SVC]);
    // A foreign service added later is never touched by a heal.
    add_foreign(&fake);
    tokio::time::sleep(Duration::from_secs(7)).await;
    assert_eq!(services(&fake), vec![SVC, foreign]);
    r.shutdown.send(true).unwrap();
    r.task.await.unwrap().unwrap();
    assert_eq!(services(&fake), vec![foreign]);
}

/// Waits (in real time) until `cond` holds; fails after 10 s of it.
async fn until(what: &str, cond: &dyn Fn() -> bool) {
    for _ in 0..1000 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// A side of three real servers whose first heal pass (1 s after the start; heal
/// interval 1 s) is reading the table back, a read of 20 s unless given up.
async fn heal_pass_reading() -> (FakeIpvs, Running) {
    let opts = Options {
        ipvs_heal_interval: Some(1),
        ..Default::default()
    };
    let fake = FakeIpvs::new();
    fake.with(|k| k.dump_pause = Duration::from_secs(20));
    let r = start_on(fake.clone(), config(3), opts);
    until("cold start", &|| dests(&fake).len() == 3).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    (fake, r)
}

/// A reload that comes while a heal pass reads a large table back (seconds in a slow
/// guest) gives the pass up: the reload is applied at once, not after the read, and the
/// next heal pass comes later. Real time: the fake's slow read sleeps on the blocking pool.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reload_does_not_wait_for_a_heal_pass() {
    let (fake, r) = heal_pass_reading().await;
    let t0 = std::time::Instant::now();
    r.reload.send(config(4)).unwrap();
    until("the reload applied", &|| dests(&fake).len() == 4).await;
    assert!(
        t0.elapsed() < Duration::from_secs(10),
        "the reload waited {:?} (the read takes 20 s)",
        t0.elapsed()
    );
    assert_eq!(fake.with(|k| k.dumps_given_up), 1, "the heal pass given up");
    r.shutdown.send(true).unwrap();
    r.task.await.unwrap().unwrap();
    // The stop gives up the heal pass that came a second after the reload, if it had.
    assert!(fake.with(|k| k.dumps_given_up) <= 2);
}

/// While the daemon reads a reloaded file (from the SIGHUP until it hands the result over
/// or refuses it) no heal pass starts, and one that is reading the table gives up: the
/// reload's hashing and parsing do not share the CPU with a dump of the whole table. Once
/// the read is over the passes come again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_heal_pass_while_a_reload_is_read() {
    let (fake, r) = heal_pass_reading().await;
    let dumps = fake.with(|k| k.dumps);
    let read = r.reading.start();
    until("the heal pass given up", &|| {
        fake.with(|k| k.dumps_given_up) == 1
    })
    .await;
    // Three heal periods while the file is read: no pass starts.
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        fake.with(|k| k.dumps),
        dumps,
        "no read while a reload is read"
    );
    assert_eq!(fake.with(|k| k.dumps_given_up), 1);
    // The read is refused (nothing handed over): the passes come again.
    drop(read);
    fake.with(|k| k.dump_pause = Duration::ZERO);
    until("a heal pass after the read", &|| {
        fake.with(|k| k.dumps) > dumps
    })
    .await;
    r.shutdown.send(true).unwrap();
    r.task.await.unwrap().unwrap();
}

#[tokio::test(start_paused = true)]
async fn heal_interval_zero_never_reads_the_table_back() {
    let opts = Options {
        ipvs_heal_interval: Some(0),
        ..Default::default()
    };
    let r = start(config(2), opts);
    let fake = r.fake.clone();
    eventually("cold start", || dests(&fake).len() == 2).await;
    let dumps = fake.with(|k| k.dumps);
    fake.with(|k| k.table.services.clear());
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(fake.with(|k| k.dumps), dumps);
    assert!(services(&fake).is_empty());
    r.shutdown.send(true).unwrap();
    r.task.await.unwrap().unwrap();
}

/// Issue 17: kill -9 while the table is full, then a new start over the same kernel: the
/// start reads the table and finds it right (no flush, no add, no edit, nothing sent).
#[tokio::test(start_paused = true)]
async fn a_restart_over_its_own_table_sends_nothing() {
    let r = start(config(3), Options::default());
    let fake = r.fake.clone();
    eventually("cold start", || dests(&fake).len() == 3).await;
    // kill -9: the task is gone without its shutdown cleanup.
    r.task.abort();
    let _ = r.task.await;
    assert_eq!(dests(&fake).len(), 3, "a killed lvsd removes nothing");
    let before = fake.table();
    fake.with(|k| k.take_log());
    let calls = fake.with(|k| k.apply_calls);
    let r2 = start_on(fake.clone(), config(3), Options::default());
    eventually("second start's checkers", || r2.checkers.count() == 1).await;
    tokio::time::sleep(Duration::from_secs(12)).await;
    assert_eq!(fake.with(|k| k.take_log()), vec![], "nothing sent");
    assert_eq!(fake.with(|k| k.apply_calls), calls);
    assert_eq!(fake.table(), before);
    // It owns what it found: a real server going down is removed, and at stop all goes.
    r2.checkers.sender().send(ev(0, 1, false)).await.unwrap();
    eventually("rs 1 removed", || dests(&fake).len() == 2).await;
    r2.shutdown.send(true).unwrap();
    r2.task.await.unwrap().unwrap();
    assert!(services(&fake).is_empty());
}
