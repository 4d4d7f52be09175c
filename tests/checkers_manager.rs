//! The checker manager end to end on loopback: real servers going down and coming back
//! yield exactly one event each way, after the retries.

#[path = "support/logs.rs"]
#[allow(dead_code)]
mod logs;
mod ports;

use lvsd::checkers::{CheckerEvent, CheckerId, CheckerManager};
use lvsd::config::*;
use ports::HeldTcpPort;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::time::timeout;

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const ID: CheckerId = CheckerId {
    vs: 0,
    rs: 0,
    checker: 0,
};

fn real_server(port: u16, checkers: Vec<Checker>) -> RealServer {
    RealServer {
        checkers,
        ..RealServer::new(LOCALHOST, Some(port))
    }
}

fn config(real_servers: Vec<RealServer>, alpha: bool) -> Config {
    let vs = VirtualServer {
        delay_loop: Duration::from_millis(100),
        alpha,
        retry: Some(2),
        delay_before_retry: Some(Duration::from_millis(50)),
        connect_timeout: Some(Duration::from_millis(500)),
        real_servers,
        ..VirtualServer::new(
            Span::default(),
            VsKey::Addr {
                addr: IpAddr::V4(Ipv4Addr::new(10, 9, 9, 9)),
                port: 80,
            },
        )
    };
    Config {
        virtual_servers: vec![vs],
        ..Config::default()
    }
}

fn tcp_check() -> Checker {
    Checker {
        span: Span::default(),
        common: CheckCommon::default(),
        kind: CheckerKind::Tcp,
    }
}

/// Waits for the next event, at most `secs`.
async fn next(rx: &mut mpsc::Receiver<CheckerEvent>, secs: u64) -> Option<CheckerEvent> {
    timeout(Duration::from_secs(secs), rx.recv())
        .await
        .ok()
        .flatten()
}

/// Asserts nothing arrives for `ms`.
async fn quiet(rx: &mut mpsc::Receiver<CheckerEvent>, ms: u64) {
    if let Ok(Some(e)) = timeout(Duration::from_millis(ms), rx.recv()).await {
        panic!("unexpected event {e:?}");
    }
}

#[tokio::test]
async fn server_down_then_back_gives_one_event_each_way() {
    let held = HeldTcpPort::new();
    let port = held.port;
    let listener = held.listen();
    let cfg = config(vec![real_server(port, vec![tcp_check()])], false);
    assert_eq!(
        CheckerManager::initial_states(&cfg),
        HashMap::from([(ID, true)])
    );
    let (tx, mut rx) = mpsc::channel(16);
    let mgr = CheckerManager::start(&Arc::new(cfg.clone()), tx);
    assert_eq!(mgr.ids().collect::<Vec<_>>(), vec![ID]);
    // Up from the start and passing: nothing to report.
    quiet(&mut rx, 400).await;

    drop(listener);
    let started = tokio::time::Instant::now();
    let down = next(&mut rx, 5).await.expect("a down event");
    assert_eq!(down.id, ID);
    assert!(!down.up);
    assert_eq!(down.weight, None);
    assert!(
        down.reason
            .starts_with(&format!("TCP connection to [127.0.0.1]:tcp:{port} failed")),
        "{}",
        down.reason
    );
    // One failed attempt plus two retries 50 ms apart: at least 100 ms after the first
    // failure, which itself comes within a delay_loop.
    assert!(started.elapsed() >= Duration::from_millis(100));
    quiet(&mut rx, 500).await;

    let _listener = held.listen();
    let up = next(&mut rx, 5).await.expect("an up event");
    assert_eq!((up.id, up.up), (ID, true));
    assert_eq!(
        up.reason,
        format!("TCP connection to [127.0.0.1]:tcp:{port} success.")
    );
    quiet(&mut rx, 500).await;
    mgr.stop().await;
}

#[tokio::test]
async fn alpha_starts_down_and_carried_states_override() {
    let held = HeldTcpPort::new();
    let port = held.port;
    let _listener = held.listen();
    // alpha: starts down, so a passing server yields one up event.
    let cfg = config(vec![real_server(port, vec![tcp_check()])], true);
    assert_eq!(
        CheckerManager::initial_states(&cfg),
        HashMap::from([(ID, false)])
    );
    let (tx, mut rx) = mpsc::channel(16);
    let mgr = CheckerManager::start(&Arc::new(cfg.clone()), tx);
    let e = next(&mut rx, 5).await.expect("an up event");
    assert!(e.up);
    quiet(&mut rx, 300).await;
    mgr.stop().await;

    // A reload that carries "up" over: no event at all.
    let (tx, mut rx) = mpsc::channel(16);
    let mgr =
        CheckerManager::start_with_states(&Arc::new(cfg.clone()), &HashMap::from([(ID, true)]), tx);
    quiet(&mut rx, 400).await;
    mgr.stop().await;

    // Carrying "up" over for a server that is gone: one down event.
    let dead = HeldTcpPort::new();
    let cfg = config(vec![real_server(dead.port, vec![tcp_check()])], true);
    let (tx, mut rx) = mpsc::channel(16);
    let _mgr =
        CheckerManager::start_with_states(&Arc::new(cfg.clone()), &HashMap::from([(ID, true)]), tx);
    let e = next(&mut rx, 5).await.expect("a down event");
    assert!(!e.up);
    quiet(&mut rx, 400).await;
}

#[tokio::test]
async fn many_checkers_and_dynamic_weights() {
    // 50 real servers on one listener, plus a MISC_CHECK with misc_dynamic.
    let held = HeldTcpPort::new();
    let port = held.port;
    let listener = held.listen();
    let mut rss: Vec<RealServer> = (0..50)
        .map(|_| real_server(port, vec![tcp_check()]))
        .collect();
    rss.push(real_server(
        port,
        vec![Checker {
            span: Span::default(),
            common: CheckCommon::default(),
            kind: CheckerKind::Misc(Box::new(MiscCheck {
                misc_path: "sh -c 'exit 12'".into(),
                misc_timeout: Some(Duration::from_secs(5)),
                misc_dynamic: true,
                user: None,
            })),
        }],
    ));
    let cfg = config(rss, false);
    let (tx, mut rx) = mpsc::channel(128);
    let mgr = CheckerManager::start(&Arc::new(cfg.clone()), tx);
    assert_eq!(mgr.len(), 51);
    let e = next(&mut rx, 5).await.expect("the weight event");
    assert_eq!(e.id.rs, 50);
    assert_eq!((e.up, e.weight), (true, Some(10)));
    quiet(&mut rx, 400).await;
    drop(listener);
    let mut down = std::collections::HashSet::new();
    while down.len() < 50 {
        let e = next(&mut rx, 5).await.expect("down events");
        assert!(!e.up);
        assert!(down.insert(e.id.rs), "two events for rs {}", e.id.rs);
    }
    quiet(&mut rx, 400).await;
    mgr.stop().await;
}

/// Changes the channel has no room for wait in the manager, in order, and none is lost
/// (one driver runs every checker: it must not block on a full channel either).
#[tokio::test]
async fn changes_beyond_the_channel_room_wait_and_are_all_delivered() {
    let held = HeldTcpPort::new();
    let port = held.port;
    let listener = held.listen();
    let rss: Vec<RealServer> = (0..40)
        .map(|_| real_server(port, vec![tcp_check()]))
        .collect();
    let cfg = config(rss, true);
    let (tx, mut rx) = mpsc::channel(2);
    let mgr = CheckerManager::start(&Arc::new(cfg.clone()), tx);
    // alpha: every checker starts down and comes up at its first attempt; none is read
    // until all have run several times over.
    tokio::time::sleep(Duration::from_millis(800)).await;
    let mut up = std::collections::HashSet::new();
    while up.len() < 40 {
        let e = next(&mut rx, 5).await.expect("up events");
        assert!(e.up, "{e:?}");
        assert!(up.insert(e.id.rs), "two events for rs {}", e.id.rs);
    }
    quiet(&mut rx, 300).await;
    // Then all go down while nobody reads; each reports down exactly once.
    drop(listener);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let mut down = std::collections::HashSet::new();
    while down.len() < 40 {
        let e = next(&mut rx, 5).await.expect("down events");
        assert!(!e.up, "{e:?}");
        assert!(down.insert(e.id.rs), "two events for rs {}", e.id.rs);
    }
    quiet(&mut rx, 300).await;
    mgr.stop().await;
}

#[test]
fn settings_inherit_checker_then_real_server_then_virtual_server() {
    use lvsd::checkers::CheckSettings;
    let mut ck = tcp_check();
    ck.common.more_mut().connect_ip = Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 9)));
    ck.common.connect_port = Some(8080);
    ck.common.more_mut().bindto = Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3)));
    ck.common.connect_timeout = Some(Duration::from_secs(3));
    let mut rs = real_server(81, vec![ck, tcp_check()]);
    rs.more_mut().delay_loop = Some(Duration::from_secs(7));
    rs.alpha = Some(true);
    rs.port = None;
    let cfg = config(vec![rs], false);

    let s = CheckSettings::resolve(&cfg, ID).unwrap();
    assert_eq!(s.target(), "[127.0.0.9]:tcp:8080");
    assert_eq!(s.bind(), Some("127.0.0.3:0".parse().unwrap()));
    assert_eq!(s.connect_timeout, Duration::from_secs(3));
    assert_eq!(s.timing.delay_loop, Duration::from_secs(7));
    assert_eq!(s.timing.retry, 2);
    assert_eq!(s.timing.delay_before_retry, Duration::from_millis(50));
    assert!(s.alpha);

    // The second checker: the real server's address, the virtual server's port (the
    // real server has none) and timeout.
    let s = CheckSettings::resolve(&cfg, CheckerId { checker: 1, ..ID }).unwrap();
    assert_eq!(s.target(), "[127.0.0.1]:tcp:80");
    assert_eq!(s.bind(), None);
    assert_eq!(s.connect_timeout, Duration::from_millis(500));
    assert!(CheckSettings::resolve(&cfg, CheckerId { checker: 2, ..ID }).is_none());
}

#[tokio::test]
async fn http_get_checker_follows_the_digest() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // A server whose page is "good" or, while `broken` is set, "bad".
    let listener = TcpListener::bind((LOCALHOST, 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let broken = Arc::new(AtomicBool::new(false));
    {
        let broken = broken.clone();
        tokio::spawn(async move {
            loop {
                let (mut s, _) = listener.accept().await.unwrap();
                let body = if broken.load(Ordering::SeqCst) {
                    "bad"
                } else {
                    "good"
                };
                tokio::spawn(async move {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 512];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match s.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let r = format!(
                        "HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n{body}",
                        body.len()
                    );
                    let _ = s.write_all(r.as_bytes()).await;
                });
            }
        });
    }
    let http = Checker {
        span: Span::default(),
        common: CheckCommon::default(),
        kind: CheckerKind::Http(Box::new(HttpCheck {
            tls: false,
            urls: vec![UrlCheck {
                path: "/health".into(),
                status_codes: vec![],
                digest: Some("755f85c2723bb39381c7379a604160d8".into()), // md5("good")
                virtualhost: None,
                regex: None,
            }],
            virtualhost: None,
            http_protocol: None,
            enable_sni: false,
            fast_recovery: false,
            client: None,
        })),
    };
    let cfg = config(vec![real_server(port, vec![http])], false);
    let (tx, mut rx) = mpsc::channel(16);
    let mgr = CheckerManager::start(&Arc::new(cfg.clone()), tx);
    quiet(&mut rx, 400).await;
    broken.store(true, Ordering::SeqCst);
    let down = next(&mut rx, 5).await.expect("a down event");
    assert!(!down.up);
    assert!(
        down.reason.starts_with(&format!(
            "MD5 digest error to [127.0.0.1]:tcp:{port} url(1)"
        )),
        "{}",
        down.reason
    );
    quiet(&mut rx, 400).await;
    broken.store(false, Ordering::SeqCst);
    let up = next(&mut rx, 5).await.expect("an up event");
    assert_eq!(
        up.reason,
        format!("HTTP status code success to [127.0.0.1]:tcp:{port} url(1).")
    );
    mgr.stop().await;
}

/// A reload keeps every checker whose settings did not change running (issue 14): a
/// no-op reload starts and stops nothing; a checker that moved in the file reports under
/// its new place; a changed one is restarted alone; a removed one stops. A checker in the
/// middle of its retries keeps its retry count across the reload.
#[tokio::test]
async fn reload_keeps_unchanged_checkers_running() {
    let held = HeldTcpPort::new();
    let port = held.port;
    let listener = held.listen();
    let other = HeldTcpPort::new();
    let _other_listener = other.listen();
    let mut cfg = config(
        vec![
            real_server(port, vec![tcp_check()]),
            real_server(other.port, vec![tcp_check()]),
        ],
        false,
    );
    // Slow retries: the down event needs 1 failure + 2 retries, 400 ms apart.
    cfg.virtual_servers[0].delay_before_retry = Some(Duration::from_millis(400));
    let (tx, mut rx) = mpsc::channel(16);
    let mut mgr = CheckerManager::start(&Arc::new(cfg.clone()), tx);

    let (tx, mut rx2) = mpsc::channel(16);
    let r = mgr.reload(
        &Arc::new(cfg.clone()),
        &CheckerManager::initial_states(&cfg),
        tx,
    );
    assert_eq!((r.kept, r.started, r.stopped), (2, 0, 0), "a no-op reload");
    quiet(&mut rx2, 300).await;

    // The first server fails; after its first failure and one retry (about 400 ms in),
    // a reload puts a new real server in front of it: it is now real server 1.
    drop(listener);
    let failing_since = tokio::time::Instant::now();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut moved = cfg.clone();
    let third = HeldTcpPort::new();
    let _third_listener = third.listen();
    moved.virtual_servers[0]
        .real_servers
        .insert(0, real_server(third.port, vec![tcp_check()]));
    let states = HashMap::from([
        (ID, true),
        (CheckerId { rs: 1, ..ID }, true),
        (CheckerId { rs: 2, ..ID }, true),
    ]);
    let (tx, mut rx3) = mpsc::channel(16);
    let r = mgr.reload(&Arc::new(moved.clone()), &states, tx);
    assert_eq!(
        (r.kept, r.started, r.stopped),
        (2, 1, 0),
        "one real server added"
    );
    let down = next(&mut rx3, 5).await.expect("the down event");
    assert_eq!((down.id, down.up), (CheckerId { rs: 1, ..ID }, false));
    // Had the reload restarted it, its three attempts would have started over: 800 ms
    // of retries after the reload, at least 1.3 s after the first failure.
    assert!(
        failing_since.elapsed() < Duration::from_millis(1300),
        "the retry count did not carry over: down after {:?}",
        failing_since.elapsed()
    );
    assert!(
        rx.try_recv().is_err() && rx2.try_recv().is_err(),
        "old channels"
    );

    // A changed checker restarts alone; a removed one stops.
    let mut changed = moved.clone();
    changed.virtual_servers[0].real_servers[2].checkers[0]
        .common
        .connect_timeout = Some(Duration::from_secs(1));
    changed.virtual_servers[0].real_servers.remove(1);
    let (tx, _rx4) = mpsc::channel(16);
    let r = mgr.reload(&Arc::new(changed.clone()), &HashMap::new(), tx);
    assert_eq!((r.kept, r.started, r.stopped), (1, 1, 2));
    assert_eq!(mgr.len(), 2);
    mgr.stop().await;
}

/// A reload's work follows what changed: the checkers of virtual servers equal to the ones
/// at their place before are kept as they are; a virtual server put in front moves the
/// others, whose checkers are still kept (found by their settings) at their new places;
/// a global setting checkers take changes every checker's settings, so all restart.
#[tokio::test]
async fn reload_keeps_the_checkers_of_unchanged_virtual_servers() {
    // Nothing listens on the held ports; delay_loop 60 s: the checks never matter here.
    let ports: Vec<HeldTcpPort> = (0..3).map(|_| HeldTcpPort::new()).collect();
    let vs = |n: u8| {
        let mut c = config(
            ports
                .iter()
                .map(|p| real_server(p.port, vec![tcp_check()]))
                .collect(),
            false,
        );
        let mut v = c.virtual_servers.remove(0);
        v.key = VsKey::Addr {
            addr: IpAddr::V4(Ipv4Addr::new(10, 9, 9, n)),
            port: 80,
        };
        v.delay_loop = Duration::from_secs(60);
        v
    };
    let mut cfg = Config {
        virtual_servers: vec![vs(1), vs(2), vs(3)],
        ..Config::default()
    };
    let (tx, _rx) = mpsc::channel(64);
    let mut mgr = CheckerManager::start(&Arc::new(cfg.clone()), tx);
    let ids = |cfg: &Config| -> Vec<CheckerId> {
        lvsd::checkers::CheckSettings::each(cfg)
            .map(|(id, _)| id)
            .collect()
    };

    // One checker of the middle virtual server changed: it alone restarts.
    cfg.virtual_servers[1].real_servers[2].checkers[0]
        .common
        .connect_timeout = Some(Duration::from_secs(2));
    let (tx, _rx) = mpsc::channel(64);
    let r = mgr.reload(&Arc::new(cfg.clone()), &HashMap::new(), tx);
    assert_eq!(
        (r.kept, r.started, r.stopped),
        (8, 1, 1),
        "one checker changed"
    );
    assert_eq!(mgr.ids().collect::<Vec<_>>(), ids(&cfg));

    // A virtual server put in front: the others' checkers move, none restarts.
    cfg.virtual_servers.insert(0, vs(9));
    let (tx, _rx) = mpsc::channel(64);
    let r = mgr.reload(&Arc::new(cfg.clone()), &HashMap::new(), tx);
    assert_eq!(
        (r.kept, r.started, r.stopped),
        (9, 3, 0),
        "a virtual server in front"
    );
    assert_eq!(mgr.ids().collect::<Vec<_>>(), ids(&cfg));

    // The verdict the LVS side carries differs from a kept checker's: it is said again.
    let (tx, mut rx) = mpsc::channel(64);
    let wrong = CheckerId { vs: 2, ..ID };
    let r = mgr.reload(&Arc::new(cfg.clone()), &HashMap::from([(wrong, false)]), tx);
    assert_eq!(
        (r.kept, r.started, r.stopped),
        (12, 0, 0),
        "an equal configuration"
    );
    let again = next(&mut rx, 1)
        .await
        .expect("the carried verdict said again");
    assert_eq!((again.id, again.up), (wrong, true));

    // checker_log_all_failures is part of every checker's settings.
    cfg.global.checker_log_all_failures = true;
    let (tx, _rx) = mpsc::channel(64);
    let r = mgr.reload(&Arc::new(cfg.clone()), &HashMap::new(), tx);
    assert_eq!(
        (r.kept, r.started, r.stopped),
        (0, 12, 12),
        "a global setting"
    );
    mgr.stop().await;
}

/// keepalived's default warm-up: a checker's first check comes at a random point of its
/// delay_loop unless `warmup` says otherwise (0: at once).
#[test]
fn warmup_defaults_to_the_delay_loop() {
    use lvsd::checkers::CheckSettings;
    let mut cfg = config(vec![real_server(80, vec![tcp_check()])], false);
    cfg.virtual_servers[0].delay_loop = Duration::from_secs(7);
    let s = CheckSettings::resolve(&cfg, ID).unwrap();
    assert_eq!(s.warmup, Duration::from_secs(7));
    cfg.virtual_servers[0].real_servers[0].checkers[0]
        .common
        .delay_loop = Some(Duration::from_secs(3));
    assert_eq!(
        CheckSettings::resolve(&cfg, ID).unwrap().warmup,
        Duration::from_secs(3)
    );
    cfg.virtual_servers[0].warmup = Some(Duration::ZERO);
    assert_eq!(
        CheckSettings::resolve(&cfg, ID).unwrap().warmup,
        Duration::ZERO
    );
}

/// keepalived logs a failed check of an up checker only at its state change, unless
/// `log_all_failures` (or the global `checker_log_all_failures`) asks for every one: the
/// retries before the checker goes down are then logged too.
#[test]
fn log_all_failures_logs_each_retry() {
    let run = |global: bool, own: Option<bool>| {
        let closed = HeldTcpPort::new();
        let mut check = tcp_check();
        check.common.more_mut().log_all_failures = own;
        let mut cfg = config(vec![real_server(closed.port, vec![check])], false);
        cfg.global.checker_log_all_failures = global;
        let (_, lines) = logs::lines_during(tracing::Level::INFO, || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let (tx, mut rx) = mpsc::channel(16);
                let m = CheckerManager::start(&Arc::new(cfg.clone()), tx);
                let e = next(&mut rx, 10).await.expect("the checker goes down");
                assert!(!e.up, "{e:?}");
                m.stop().await;
            })
        });
        lines
            .into_iter()
            .filter(|l| l.contains("Retry "))
            .collect::<Vec<_>>()
    };
    // retry 2: two failures retried, then the third takes the checker down.
    let all = run(false, Some(true));
    assert_eq!(all.len(), 2, "{all:?}");
    assert!(all[0].contains("Retry 1/2"), "{all:?}");
    assert_eq!(run(true, None).len(), 2);
    assert_eq!(run(true, Some(false)).len(), 2, "the global setting wins");
    assert!(run(false, None).is_empty());
}
