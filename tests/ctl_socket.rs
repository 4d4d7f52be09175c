//! The control socket over the LVS side running on the fake kernel (no root): `state`,
//! `disable` / `enable` kept across a reload, `drain` ended by the connection count and
//! by its timeout, and `plan` of a new file, all through the real server and the real
//! `lvsd ctl` client code on a socket in a temporary directory.
//!
//! One test: the LVS side registers itself with the control server process-wide.

use lvsd::checkers::{CheckerEvent, CheckerId};
use lvsd::cli::Options;
use lvsd::config::{Config, VirtualServer};
use lvsd::control::Control;
use lvsd::ctl::server::{self, Context};
use lvsd::ctl::{client, Request, Response};
use lvsd::ipvs::{DestKey, Proto, ServiceKey};
use lvsd::lvs::fake::FakeIpvs;
use lvsd::lvs::fixture::{addr_vs, real_server, tcp_check};
use lvsd::lvs::runtime::{run_with, CheckerStarter, EffectSink};
use lvsd::lvs::state::Effect;
use serde_json::Value;
use std::collections::HashMap;
use std::net::IpAddr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
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
        vs.real_servers.push(rs);
    }
    vs
}

fn config(n: usize) -> Arc<Config> {
    Arc::new(Config {
        virtual_servers: vec![web_vs(n)],
        ..Default::default()
    })
}

type Senders = Arc<Mutex<Vec<mpsc::Sender<CheckerEvent>>>>;

#[derive(Clone, Default)]
struct TestCheckers(Senders);

impl CheckerStarter for TestCheckers {
    fn start(
        &mut self,
        _config: Arc<Config>,
        _initial: &HashMap<CheckerId, bool>,
    ) -> mpsc::Receiver<CheckerEvent> {
        let (tx, rx) = mpsc::channel(64);
        self.0.lock().unwrap().push(tx);
        rx
    }

    /// An equal configuration: the checkers keep their channel, listed again so that
    /// the test sees the reload applied.
    fn adopt_equal(&mut self, _config: Arc<Config>) {
        let mut senders = self.0.lock().unwrap();
        if let Some(last) = senders.last().cloned() {
            senders.push(last);
        }
    }
}

struct NoEffects;
impl EffectSink for NoEffects {
    fn effect(&mut self, _config: &Config, _effect: Effect) {}
}

const SVC: ServiceKey = ServiceKey::Addr {
    proto: Proto::Tcp,
    addr: IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1)),
    port: 80,
};

fn dk(last: u8) -> DestKey {
    DestKey {
        addr: ip(&format!("10.0.1.{last}")),
        port: 80,
    }
}

/// The kernel's destinations of the service with their weights.
fn weights(fake: &FakeIpvs) -> Vec<(u8, u32)> {
    fake.with(|k| {
        k.table
            .services
            .get(&SVC)
            .map(|e| {
                e.dests
                    .values()
                    .map(|d| {
                        let last = match d.key.addr {
                            IpAddr::V4(a) => a.octets()[3],
                            IpAddr::V6(_) => 0,
                        };
                        (last, d.weight)
                    })
                    .collect()
            })
            .unwrap_or_default()
    })
}

async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..1000 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// One request through the real client (blocking, so on the blocking pool).
async fn ask(path: &Path, req: Request) -> Response {
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || client::send(&path, &req))
        .await
        .unwrap()
        .expect("an answer")
}

async fn ok(path: &Path, req: Request) -> Value {
    let r = ask(path, req).await;
    assert!(r.ok, "{:?}", r.error);
    r.result
}

fn rs_view(state: &Value, i: usize) -> Value {
    state["lvs"]["virtual_servers"][0]["real_servers"][i].clone()
}

fn target(server: &str) -> (String, String) {
    ("10.0.0.1:80".into(), server.into())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_socket_over_the_fake_kernel() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("lvsd.ctl");
    let fake = FakeIpvs::new();
    let (reload, reload_rx) = watch::channel(config(3));
    let (shutdown, shutdown_rx) = watch::channel(false);
    let opts = Arc::new(Options {
        // The LVS side only: no VRRP side answers in this process.
        check_only: true,
        ..Default::default()
    });
    let ctl = Control {
        opts: opts.clone(),
        reload: reload_rx.clone(),
        shutdown: shutdown_rx,
        heartbeat: Default::default(),
        reading: Default::default(),
    };
    let checkers = TestCheckers::default();
    let task = tokio::spawn(run_with(ctl, fake.clone(), checkers.clone(), NoEffects));
    eventually("cold start", || weights(&fake).len() == 3).await;
    eventually("checkers started", || {
        !checkers.0.lock().unwrap().is_empty()
    })
    .await;

    let srv = server::start(
        &path,
        Context {
            opts,
            config: reload_rx,
        },
    )
    .expect("listening");
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "mode {mode:o}");

    // state: the real servers with their checkers, the kernel table with weights.
    let st = ok(&path, Request::State).await;
    assert!(st.get("vrrp").is_none(), "{st}");
    assert_eq!(rs_view(&st, 0)["server"], "10.0.1.2:80");
    assert_eq!(rs_view(&st, 0)["alive"], true);
    assert_eq!(rs_view(&st, 0)["checkers"], serde_json::json!(["up"]));
    let table = &st["lvs"]["table"][0];
    assert_eq!(table["service"], "tcp:10.0.0.1:80");
    assert_eq!(table["dests"].as_array().unwrap().len(), 3);
    assert_eq!(table["dests"][0]["weight"], 1);
    assert_eq!(table["dests"][0]["active_conns"], 0);
    let text = client::human(&lvsd::ctl::CtlCommand::State, &st);
    assert!(text.contains("10.0.1.3:80"), "{text}");

    // disable: out of the table; kept across a reload; enable puts it back.
    let (service, server) = target("10.0.1.3:80");
    let r = ok(&path, Request::Disable { service, server }).await;
    assert_eq!(r["done"], "disabled");
    eventually("10.0.1.3 removed", || {
        weights(&fake) == vec![(2, 1), (4, 1)]
    })
    .await;
    assert_eq!(
        rs_view(&ok(&path, Request::State).await, 1)["admin"],
        "disabled"
    );
    // A checker verdict does not bring it back.
    let tx = checkers.0.lock().unwrap().last().unwrap().clone();
    tx.send(CheckerEvent {
        id: CheckerId {
            vs: 0,
            rs: 1,
            checker: 0,
        },
        up: true,
        weight: None,
        reason: "test".into(),
    })
    .await
    .unwrap();
    reload.send(config(3)).unwrap();
    eventually("reloaded", || checkers.0.lock().unwrap().len() == 2).await;
    assert_eq!(weights(&fake), vec![(2, 1), (4, 1)]);
    let (service, server) = target("10.0.1.3");
    ok(&path, Request::Enable { service, server }).await;
    eventually("10.0.1.3 back", || weights(&fake).len() == 3).await;

    // Refusals are sentences.
    let r = ask(
        &path,
        Request::Disable {
            service: "10.0.0.9:80".into(),
            server: "10.0.1.2:80".into(),
        },
    )
    .await;
    assert!(!r.ok);
    assert_eq!(
        r.error.as_deref(),
        Some("no virtual server for 10.0.0.9:80 in the running configuration")
    );
    let r = ask(
        &path,
        Request::Drain {
            service: "10.0.0.1".into(),
            server: "10.0.1.2:80".into(),
            timeout: None,
        },
    )
    .await;
    assert!(r.error.unwrap().contains("is not a virtual service"));

    // drain: weight 0 while connections remain, removed once none is left.
    fake.with(|k| k.active_conns.insert((SVC, dk(2)), 5));
    let (service, server) = target("10.0.1.2:80");
    ok(
        &path,
        Request::Drain {
            service,
            server,
            timeout: Some(600),
        },
    )
    .await;
    eventually("10.0.1.2 at weight 0", || {
        weights(&fake) == vec![(2, 0), (3, 1), (4, 1)]
    })
    .await;
    let st = ok(&path, Request::State).await;
    assert_eq!(rs_view(&st, 0)["admin"], "draining");
    assert_eq!(st["lvs"]["table"][0]["dests"][0]["active_conns"], 5);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(weights(&fake)[0], (2, 0), "still draining");
    fake.with(|k| k.active_conns.insert((SVC, dk(2)), 0));
    eventually("10.0.1.2 drained", || {
        weights(&fake) == vec![(3, 1), (4, 1)]
    })
    .await;
    assert_eq!(
        rs_view(&ok(&path, Request::State).await, 0)["admin"],
        "disabled"
    );

    // drain with connections that never end: removed at the timeout.
    fake.with(|k| k.active_conns.insert((SVC, dk(4)), 3));
    let (service, server) = target("10.0.1.4:80");
    ok(
        &path,
        Request::Drain {
            service,
            server,
            timeout: Some(1),
        },
    )
    .await;
    eventually("10.0.1.4 removed at its timeout", || {
        weights(&fake) == vec![(3, 1)]
    })
    .await;

    // plan: a new file adds a real server; nothing is applied.
    let file = dir.path().join("new.conf");
    std::fs::write(
        &file,
        "virtual_server 10.0.0.1 80 {\n  lb_algo wlc\n  lb_kind NAT\n  protocol TCP\n\
         real_server 10.0.1.2 80 {\n    TCP_CHECK {\n    }\n  }\n\
         real_server 10.0.1.3 80 {\n    TCP_CHECK {\n    }\n  }\n\
         real_server 10.0.1.4 80 {\n    TCP_CHECK {\n    }\n  }\n\
         real_server 10.0.1.5 80 {\n    TCP_CHECK {\n    }\n  }\n}\n",
    )
    .unwrap();
    let before = fake.with(|k| (k.apply_calls, k.table.clone()));
    let plan = ok(&path, Request::Plan { file: file.clone() }).await;
    let lines: Vec<String> = plan["lvs"]["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect();
    // The disabled real servers stay out; the new one would be added.
    assert!(
        lines.contains(&"add real server 10.0.1.5:80 to tcp:10.0.0.1:80 (weight 1, masq)".into()),
        "{lines:?}"
    );
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("10.0.1.2") || l.contains("10.0.1.4")),
        "{lines:?}"
    );
    assert!(plan["lvs"]["ops"].as_array().unwrap().len() == lines.len());
    // -C: no VRRP side, no VRRP part.
    assert!(plan.get("vrrp").is_none(), "{plan}");
    assert_eq!(fake.with(|k| (k.apply_calls, k.table.clone())), before);
    let text = client::human(&lvsd::ctl::CtlCommand::Plan { file: file.clone() }, &plan);
    assert!(text.contains("IPVS: "), "{text}");

    // A file the daemon would refuse.
    std::fs::write(&file, "virtual_server 10.0.0.1 80 {\n  lb_algo\n").unwrap();
    let r = ask(&path, Request::Plan { file: file.clone() }).await;
    assert!(!r.ok);
    assert!(
        r.error.as_deref().unwrap().contains("would be refused"),
        "{:?}",
        r.error
    );
    // A relative path is the client's to resolve.
    let r = ask(
        &path,
        Request::Plan {
            file: "new.conf".into(),
        },
    )
    .await;
    assert!(r.error.unwrap().contains("absolute path"));

    // Not JSON, or not a request: an answer, and the connection stays usable.
    {
        use std::io::{BufRead, BufReader, Write};
        let mut s = std::os::unix::net::UnixStream::connect(&path).unwrap();
        s.write_all(b"hello\n{\"cmd\":\"state\"}\n").unwrap();
        let mut r = BufReader::new(s);
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        let first: Response = serde_json::from_str(&line).unwrap();
        assert!(!first.ok);
        line.clear();
        r.read_line(&mut line).unwrap();
        let second: Response = serde_json::from_str(&line).unwrap();
        assert!(second.ok);
    }

    // The socket file goes with the server.
    drop(srv);
    assert!(!path.exists());
    shutdown.send(true).unwrap();
    task.await.unwrap().unwrap();
}
