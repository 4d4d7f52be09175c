//! VRRP conformance: the whole runtime ([`run_with`]) driven through a fake I/O, without
//! root, in the style of holo-vrrp's conformance tests.
//!
//! Each directory of `tests/conformance/vrrp/` is a scenario:
//! - `config.conf`: the configuration the daemon starts with;
//! - `input.jsonl`: events, one a line, in order;
//! - `output.jsonl`: the effects expected, one a line, each stamped with `t`, the
//!   milliseconds since the start on tokio's paused clock. tokio's timers tick in whole
//!   milliseconds: a deadline at 3609.375 ms (Master_Down_Interval at priority 100) fires
//!   at 3610.
//!
//! `LVSD_REGENERATE=1 cargo test --test vrrp_conformance` rewrites the outputs from what
//! the runtime does now; read the diff against RFC 5798 / keepalived before committing.
//!
//! Events:
//! - `{"wait": MS}`: time passes (the runtime's timers fire in between);
//! - `{"advert": {...}}`: an advert arrives. Fields: `from` (required), `vrid` (required),
//!   `prio` (100), `ver` (2), `int_cs` (100), `addrs` ([]), `pass` (v2 PASS password,
//!   none), `to` (224.0.0.18 / ff02::12), `on` (the interface, "eth0"), `ttl` (255);
//! - `{"link": IFNAME, "up": BOOL}`: a link changes (ignored for unknown interfaces);
//! - `{"links_at_start": {IFNAME: BOOL}}` (first line only): link states at start,
//!   interfaces not named are up;
//! - `{"script": NAME, "ok": BOOL}`: one result of a vrrp_script;
//! - `{"reload": FILE}`: SIGHUP with the scenario's file FILE as the new configuration;
//! - `{"shutdown": true}`: SIGTERM (added at the end when the input has none).
//!
//! Effects: `open` (an instance's I/O set up: interface, receive socket, source),
//! `advert` (decoded back from the bytes sent), `addr` (address worker jobs: add, del,
//! release, assume), `garp` (a gratuitous ARP/NA burst), `notify` (a state change as the
//! notifier gets it: the scripts it would run, mail or not), `script`
//! (notify_master_rx_lower_pri), `trackers` (the vrrp_scripts run), `sync_daemon`,
//! `firewall` (on changes), `close` (shutdown's clean-up). Virtual routes and rules are
//! not modelled: the fake resolves none.

use lvsd::cli::Options;
use lvsd::config::model::Notify;
use lvsd::config::{Config, VrrpScript};
use lvsd::control::Control;
use lvsd::ipvs::SyncDaemon;
use lvsd::script::Script;
use lvsd::vrrp::firewall::Want;
use lvsd::vrrp::link::LinkEvent;
use lvsd::vrrp::notify::{scripts_for, StateChange};
use lvsd::vrrp::packet::{Advert, ChecksumForm, RxMeta, Version};
use lvsd::vrrp::params::InstanceParams;
use lvsd::vrrp::runtime::{run_with, AddrJob, Inputs, InstSetup, TokioClock, VrrpIo};
use lvsd::vrrp::socket::{Received, RecvMeta};
use lvsd::vrrp::state::Event;
use lvsd::vrrp::vip::VipSpec;
use serde_json::{json, Value};
use std::cell::RefCell;
use std::collections::HashMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// What the fake and the driver share.
#[derive(Default)]
struct Shared {
    start: Option<tokio::time::Instant>,
    effects: Vec<String>,
    /// Receive sockets by (interface, IPv6).
    sockets: Vec<(String, bool)>,
    links: HashMap<String, bool>,
    firewall: Option<Want>,
}

impl Shared {
    fn record(&mut self, kind: &str, body: Value) {
        let start = self.start.unwrap_or_else(tokio::time::Instant::now);
        let us = tokio::time::Instant::now()
            .saturating_duration_since(start)
            .as_micros();
        // Whole milliseconds as integers: tokio's timers have millisecond ticks.
        let t = if us.is_multiple_of(1000) {
            json!(us / 1000)
        } else {
            json!(us as f64 / 1000.0)
        };
        self.effects
            .push(format!("{{\"t\":{t},\"{kind}\":{body}}}"));
    }
}

#[derive(Clone, Default)]
struct FakeIo(Rc<RefCell<Shared>>);

struct FakeInst {
    name: String,
    ah: bool,
}

/// The fake's interfaces: eth0 is index 1, eth1 index 2, ...; every interface has the
/// address 10.0.0.1 and the link-local address fe80::1.
fn ifindex(name: &str) -> u32 {
    name.strip_prefix("eth")
        .and_then(|n| n.parse::<u32>().ok())
        .map_or(99, |n| n + 1)
}

fn vips_json(vips: &[VipSpec]) -> Value {
    json!(vips
        .iter()
        .map(|v| format!("{}/{}", v.addr, v.prefix_len))
        .collect::<Vec<_>>())
}

impl VrrpIo for FakeIo {
    type Inst = FakeInst;

    async fn open_instance(
        &mut self,
        _config: &Config,
        p: &InstanceParams,
    ) -> anyhow::Result<InstSetup<FakeInst>> {
        let mut s = self.0.borrow_mut();
        let v6 = p.family == lvsd::vrrp::packet::Family::V6;
        let key = (p.interface.clone(), v6);
        let rx = match s.sockets.iter().position(|k| *k == key) {
            Some(i) => i,
            None => {
                s.sockets.push(key);
                s.sockets.len() - 1
            }
        };
        let src: IpAddr = match (p.src_ip, v6) {
            (Some(a), _) => a,
            (None, false) => "10.0.0.1".parse()?,
            (None, true) => "fe80::1".parse()?,
        };
        let out = ifindex(&p.interface);
        let mut vips = Vec::new();
        for v in p.vips.iter().chain(&p.excluded_vips) {
            let idx = v.dev.as_deref().map_or(out, ifindex);
            vips.push(VipSpec::from_config(v, idx)?);
        }
        s.record(
            "open",
            json!({"inst": p.name, "iface": p.interface, "rx": rx, "src": src.to_string()}),
        );
        Ok(InstSetup {
            rx,
            src: Some(src),
            no_source: None,
            // The interface has the instance's source address (an `addr` event changes it).
            ifindex: out,
            if_addrs: vec![src],
            vips,
            net: Vec::new(),
            handle: FakeInst {
                name: p.name.clone(),
                ah: p.auth.is_ah(),
            },
        })
    }

    async fn send_advert(
        &mut self,
        inst: &FakeInst,
        bytes: &[u8],
        src: IpAddr,
        dst: IpAddr,
    ) -> std::io::Result<()> {
        let meta = RxMeta { src, dst, ttl: 255 };
        let decoded = if inst.ah {
            Advert::decode_ah(bytes, &meta)
        } else {
            Advert::decode(bytes, &meta)
        };
        let body = match decoded {
            Ok(a) => {
                let mut b = json!({
                    "inst": inst.name,
                    "from": src.to_string(),
                    "to": dst.to_string(),
                    "ver": a.version.number(),
                    "vrid": a.vrid,
                    "prio": a.priority,
                    "int_cs": a.interval_cs,
                    "addrs": a.addrs.iter().map(|x| x.to_string()).collect::<Vec<_>>(),
                });
                if a.auth_type != 0 {
                    b["auth"] = json!(a.auth_type);
                }
                if let Some(ah) = &a.ah {
                    b["ah_seq"] = json!(ah.seq);
                }
                b
            }
            Err(e) => json!({"inst": inst.name, "undecodable": e.to_string()}),
        };
        self.0.borrow_mut().record("advert", body);
        Ok(())
    }

    fn addr_job(&mut self, inst: &FakeInst, job: AddrJob) {
        let mut s = self.0.borrow_mut();
        let (kind, vips) = match &job {
            AddrJob::Add(v) => ("add", v),
            AddrJob::Del(v) => ("del", v),
            AddrJob::Release(v) => ("release", v),
            AddrJob::Assume(v) => ("assume", v),
            AddrJob::Garp(rounds, _) => {
                s.record("garp", json!({"inst": inst.name, "rounds": rounds}));
                return;
            }
            AddrJob::ExtraIfGarp { own_too } => {
                s.record(
                    "garp_extra_if",
                    json!({"inst": inst.name, "own_too": own_too}),
                );
                return;
            }
            // Routes and rules: the fake resolves none.
            AddrJob::NetAdd(_) | AddrJob::NetDel | AddrJob::NetDrop(_) => return,
        };
        s.record(
            "addr",
            json!({"inst": inst.name, "job": kind, "vips": vips_json(vips)}),
        );
    }

    fn notify(&mut self, c: &StateChange, scripts: &Notify, mail: bool) {
        let scripts: Vec<Value> = scripts_for(scripts, c)
            .into_iter()
            .map(|(cmd, args)| {
                let mut v = vec![cmd];
                v.extend(args);
                json!(v)
            })
            .collect();
        self.0.borrow_mut().record(
            "notify",
            json!({"who": c.who.word(), "name": c.name, "state": c.state.word(),
                   "prio": c.priority, "mail": mail, "scripts": scripts}),
        );
    }

    fn run_script(&mut self, script: Script, args: Vec<String>, _what: String) {
        self.0
            .borrow_mut()
            .record("script", json!({"command": script.command, "args": args}));
    }

    async fn link_up(&mut self, ifname: &str) -> Option<bool> {
        Some(self.0.borrow().links.get(ifname).copied().unwrap_or(true))
    }

    fn initial_track_events(&mut self, _config: &Config) -> Vec<Event> {
        Vec::new()
    }

    fn start_trackers(&mut self, _config: &Config, scripts: &[&VrrpScript]) {
        if !scripts.is_empty() {
            let names: Vec<&str> = scripts.iter().map(|s| s.name.as_str()).collect();
            self.0.borrow_mut().record("trackers", json!(names));
        }
    }

    async fn set_statics(&mut self, _old: Option<&Config>, new: &Config) {
        let n = new.static_ipaddress.len() + new.static_routes.len() + new.static_rules.len();
        if n > 0 {
            self.0.borrow_mut().record("statics", json!(n));
        }
    }

    fn set_firewall(&mut self, want: Want) {
        let mut s = self.0.borrow_mut();
        let changed = match &s.firewall {
            Some(w) => *w != want,
            None => !want.elems.is_empty(),
        };
        if changed {
            let elems: Vec<String> = want.elems.iter().map(|e| format!("{e:?}")).collect();
            s.record("firewall", json!(elems));
        }
        s.firewall = Some(want);
    }

    fn set_sync_daemon(&mut self, want: Option<SyncDaemon>) {
        self.0
            .borrow_mut()
            .record("sync_daemon", json!(format!("{want:?}")));
    }

    fn fds(&self, _inst: &FakeInst) -> Option<(i32, i32)> {
        None
    }

    async fn close(&mut self, insts: Vec<FakeInst>, _config: &Config) {
        let names: Vec<String> = insts.into_iter().map(|i| i.name).collect();
        self.0.borrow_mut().record("close", json!(names));
    }
}

fn load(path: &Path) -> Config {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    match lvsd::config::parse_str(&text, path, "conformance") {
        Ok(l) => l.config,
        Err(e) => panic!("{}: {:?}", path.display(), e.errors),
    }
}

fn str_field<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key).and_then(Value::as_str)
}

fn u64_field(v: &Value, key: &str, default: u64) -> u64 {
    v.get(key).and_then(Value::as_u64).unwrap_or(default)
}

/// The bytes a peer sends for `{"advert": {...}}`, with the socket it arrives on.
fn advert_packet(a: &Value, sockets: &[(String, bool)]) -> (usize, Received) {
    let from: IpAddr = str_field(a, "from")
        .and_then(|s| s.parse().ok())
        .expect("advert needs \"from\"");
    let v6 = from.is_ipv6();
    let to: IpAddr = str_field(a, "to")
        .unwrap_or(if v6 { "ff02::12" } else { "224.0.0.18" })
        .parse()
        .expect("advert \"to\"");
    let version = if u64_field(a, "ver", 2) == 3 {
        Version::V3
    } else {
        Version::V2
    };
    let mut auth_data = [0u8; 8];
    let mut auth_type = 0;
    if let Some(pass) = str_field(a, "pass") {
        auth_type = 1;
        for (d, b) in auth_data.iter_mut().zip(pass.bytes()) {
            *d = b;
        }
    }
    let advert = Advert {
        version,
        vrid: u64_field(a, "vrid", 0) as u8,
        priority: u64_field(a, "prio", 100) as u8,
        interval_cs: u64_field(a, "int_cs", 100) as u16,
        auth_type,
        auth_data,
        addrs: a
            .get("addrs")
            .and_then(Value::as_array)
            .map(|v| v.iter().filter_map(|x| x.as_str()?.parse().ok()).collect())
            .unwrap_or_default(),
        ah: None,
    };
    let payload = advert
        .encode(from, to, ChecksumForm::PseudoHeader)
        .expect("advert encodes");
    let on = str_field(a, "on").unwrap_or("eth0");
    let rx = sockets
        .iter()
        .position(|(n, s6)| n == on && *s6 == v6)
        .unwrap_or(usize::MAX);
    let meta = RecvMeta {
        src: from,
        dst: to,
        ttl: u64_field(a, "ttl", 255) as u8,
    };
    (
        rx,
        Received {
            meta,
            payload,
            ah: false,
            at: None,
        },
    )
}

/// Runs one scenario; returns the effects, one JSON line each.
fn run_scenario(dir: &Path) -> Vec<String> {
    let config = Arc::new(load(&dir.join("config.conf")));
    let input = std::fs::read_to_string(dir.join("input.jsonl"))
        .unwrap_or_else(|e| panic!("cannot read {}/input.jsonl: {e}", dir.display()));
    let mut events: Vec<Value> = input
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l}: {e}")))
        .collect();
    if !events.iter().any(|e| e.get("shutdown").is_some()) {
        events.push(json!({"shutdown": true}));
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .expect("tokio runtime");
    let local = tokio::task::LocalSet::new();
    let fake = FakeIo::default();
    local.block_on(&rt, async move {
        fake.0.borrow_mut().start = Some(tokio::time::Instant::now());
        if let Some(links) = events
            .first()
            .and_then(|e| e.get("links_at_start"))
            .and_then(Value::as_object)
        {
            for (name, up) in links {
                fake.0
                    .borrow_mut()
                    .links
                    .insert(name.clone(), up.as_bool().unwrap_or(true));
            }
        }
        let (reload_tx, reload) = watch::channel(config);
        let (shutdown_tx, shutdown) = watch::channel(false);
        let ctl = Control {
            opts: Arc::new(Options::default()),
            reload,
            shutdown,
            heartbeat: Default::default(),
            reading: Default::default(),
        };
        let (pkt_tx, packets) = mpsc::channel(16);
        let (link_tx, links) = mpsc::unbounded_channel();
        let (script_tx, scripts) = mpsc::channel(16);
        let (_track_tx, tracks) = mpsc::channel(16);
        let (_dump_tx, dumps) = mpsc::unbounded_channel();
        let inputs = Inputs {
            packets,
            links,
            scripts,
            tracks,
            dumps,
            linkbeat: Vec::new(),
        };
        let task = tokio::task::spawn_local(run_with(ctl, fake.clone(), TokioClock, inputs));
        // The loop takes each event before the next one is given: it runs whenever this
        // task yields, and nothing in the fake waits.
        let settle = || async {
            for _ in 0..8 {
                tokio::task::yield_now().await;
            }
        };
        settle().await;
        for ev in events {
            if let Some(ms) = ev.get("wait").and_then(Value::as_u64) {
                tokio::time::sleep(Duration::from_millis(ms)).await;
            } else if let Some(a) = ev.get("advert") {
                let sockets = fake.0.borrow().sockets.clone();
                let (rx, pkt) = advert_packet(a, &sockets);
                pkt_tx.send((rx, pkt)).await.expect("runtime running");
            } else if let Some(name) = str_field(&ev, "link") {
                let up = ev.get("up").and_then(Value::as_bool).unwrap_or(true);
                let _ = link_tx.send(LinkEvent {
                    index: ifindex(name),
                    name: name.to_string(),
                    up,
                    gone: false,
                    addr: None,
                    rp_filter: None,
                });
            } else if let Some(addr) = str_field(&ev, "addr") {
                // An address added (`present`, default true) or deleted on `dev`.
                let dev = str_field(&ev, "dev").unwrap_or("eth0");
                let present = ev.get("present").and_then(Value::as_bool).unwrap_or(true);
                let _ = link_tx.send(LinkEvent {
                    index: ifindex(dev),
                    name: String::new(),
                    up: false,
                    gone: false,
                    addr: Some((addr.parse().expect("addr event: an address"), present)),
                    rp_filter: None,
                });
            } else if let Some(name) = str_field(&ev, "script") {
                let ok = ev.get("ok").and_then(Value::as_bool).unwrap_or(true);
                script_tx
                    .send((name.to_string(), ok))
                    .await
                    .expect("runtime running");
            } else if let Some(file) = str_field(&ev, "reload") {
                let _ = reload_tx.send(Arc::new(load(&dir.join(file))));
            } else if ev.get("shutdown").is_some() {
                let _ = shutdown_tx.send(true);
                break;
            } else if ev.get("links_at_start").is_none() {
                panic!("{}: unknown event {ev}", dir.display());
            }
            settle().await;
        }
        match tokio::time::timeout(Duration::from_secs(60), task).await {
            Ok(Ok(Ok(()))) => {}
            Ok(Ok(Err(e))) => panic!("{}: the runtime failed: {e:#}", dir.display()),
            Ok(Err(e)) => panic!("{}: the runtime panicked: {e}", dir.display()),
            Err(_) => panic!("{}: the runtime did not stop", dir.display()),
        }
        drop((pkt_tx, link_tx, script_tx));
        std::mem::take(&mut fake.0.borrow_mut().effects)
    })
}

fn scenarios() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/vrrp");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("cannot list {}: {e}", root.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("input.jsonl").exists())
        .collect();
    dirs.sort();
    dirs
}

#[test]
fn vrrp_conformance() {
    let regenerate = std::env::var_os("LVSD_REGENERATE").is_some_and(|v| v == "1");
    let mut failures = Vec::new();
    let dirs = scenarios();
    assert!(
        dirs.len() >= 10,
        "expected the scenarios in tests/conformance/vrrp"
    );
    for dir in dirs {
        let got = run_scenario(&dir);
        let out = dir.join("output.jsonl");
        if regenerate {
            std::fs::write(&out, got.join("\n") + "\n").expect("write output.jsonl");
            continue;
        }
        let want = std::fs::read_to_string(&out).unwrap_or_default();
        let want: Vec<&str> = want.lines().filter(|l| !l.is_empty()).collect();
        if want != got {
            let at = want
                .iter()
                .zip(&got)
                .position(|(w, g)| w != g)
                .unwrap_or(want.len().min(got.len()));
            failures.push(format!(
                "{}: line {}\n  expected: {}\n  got:      {}",
                dir.display(),
                at + 1,
                want.get(at).copied().unwrap_or("(end)"),
                got.get(at).map_or("(end)", String::as_str)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{}\n(LVSD_REGENERATE=1 rewrites the expected outputs; check them before committing)",
        failures.join("\n")
    );
}
