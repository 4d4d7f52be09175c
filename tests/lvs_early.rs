//! The early IPVS pass (src/lvs/early.rs): virtual servers programmed while the
//! configuration is still being read, against the in-memory fake kernel.
//!
//! What must hold: the early pass and the full pass after it send, together, exactly the
//! operations one full pass would have sent on its own (nothing twice, nothing edited
//! back), leaving the same table; a refused configuration leaves nothing behind; a table
//! that was not empty is not touched before the file is read.

use lvsd::config::{self, Loaded, VirtualServer};
use lvsd::ipvs::{IpvsBackend, Op, ServiceKey};
use lvsd::lvs::early::{early_pass, EarlyKernel, EarlyReport};
use lvsd::lvs::fake::FakeIpvs;
use lvsd::lvs::reconcile::Reconciler;
use lvsd::lvs::state::LvsState;
use lvsd::lvs::table::Table;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

fn plain_vs(i: usize) -> String {
    format!(
        "virtual_server 10.0.{}.{} 80 {{\n lb_algo wlc\n lb_kind NAT\n protocol TCP\n \
         real_server 192.168.0.1 8080 {{ weight 1 }}\n real_server 192.168.0.2 8080 {{ weight 2 }}\n}}\n",
        i / 250,
        1 + i % 250
    )
}

/// Every start-up case the state knows, then, past the first batch of 16, a virtual
/// server naming the first one's service again, one naming a group, one after it, and one
/// naming a member of the group again.
fn mixed_config() -> String {
    let mut s = String::new();
    // 0: the same service as number 24 below
    s.push_str(
        "virtual_server 10.1.0.1 80 {\n lb_algo rr\n lb_kind NAT\n protocol TCP\n \
         real_server 192.168.1.1 80 { weight 3 }\n}\n",
    );
    // 1: alpha (a checked server starts down), inhibit_on_failure (down = weight 0)
    s.push_str(
        "virtual_server 10.1.0.2 443 {\n lb_algo wrr\n lb_kind DR\n protocol TCP\n alpha\n \
         real_server 192.168.1.2 443 { weight 5\n TCP_CHECK { connect_timeout 1 } }\n \
         real_server 192.168.1.3 443 { weight 5\n inhibit_on_failure\n TCP_CHECK { connect_timeout 1 } }\n \
         real_server 192.168.1.4 443 { weight 1 }\n}\n",
    );
    // 2: quorum not reached at start: the sorry server is in
    s.push_str(
        "virtual_server 10.1.0.3 80 {\n lb_algo rr\n lb_kind NAT\n protocol TCP\n quorum 10\n \
         sorry_server 192.168.9.9 80\n real_server 192.168.1.5 80 { weight 1 }\n}\n",
    );
    // 3: fwmark, 4: IPv6 with persistence
    s.push_str(
        "virtual_server fwmark 7 {\n lb_algo sh\n lb_kind DR\n \
         real_server 192.168.1.6 0 { weight 1 }\n}\n",
    );
    s.push_str(
        "virtual_server 2001:db8::1 80 {\n lb_algo lc\n lb_kind NAT\n protocol TCP\n \
         persistence_timeout 60\n real_server 2001:db8::10 8080 { weight 1 }\n}\n",
    );
    for i in 5..24 {
        s.push_str(&plain_vs(i));
    }
    // 24: the service of number 0 again, with other real servers (number 0's wins)
    s.push_str(
        "virtual_server 10.1.0.1 80 {\n lb_algo wlc\n lb_kind NAT\n protocol TCP\n \
         real_server 192.168.2.1 80 { weight 7 }\n real_server 192.168.2.2 80 { weight 7 }\n}\n",
    );
    // 25: a group defined further down; 26: after it
    s.push_str(
        "virtual_server group G {\n lb_algo rr\n lb_kind NAT\n protocol TCP\n \
         real_server 192.168.3.1 80 { weight 1 }\n}\n",
    );
    s.push_str(&plain_vs(26));
    // 27: a member of the group again (the group's wins: it comes first)
    s.push_str(
        "virtual_server 10.2.0.2 80 {\n lb_algo wlc\n lb_kind NAT\n protocol TCP\n \
         real_server 192.168.4.1 80 { weight 4 }\n}\n",
    );
    s.push_str("virtual_server_group G {\n 10.2.0.1-3 80\n}\n");
    s
}

fn write(text: &str) -> tempfile::NamedTempFile {
    let f = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(f.path(), text).expect("write config");
    f
}

fn full_pass<B: IpvsBackend>(rec: &mut Reconciler, backend: &mut B, loaded: &Loaded) {
    let (state, _) = LvsState::new(Arc::new(loaded.config.clone()));
    assert!(rec
        .sync_parts(backend, |emit| state.desired_parts(emit))
        .is_ok());
}

fn table(fake: &FakeIpvs) -> Table {
    fake.kernel.lock().expect("fake kernel").table.clone()
}

fn take_log(fake: &FakeIpvs) -> Vec<Op> {
    fake.kernel.lock().expect("fake kernel").take_log()
}

fn sorted(ops: &[Op]) -> Vec<String> {
    let mut v: Vec<String> = ops.iter().map(|o| format!("{o:?}")).collect();
    v.sort();
    v
}

fn service_added(ops: &[Op], key: &ServiceKey) -> bool {
    ops.iter()
        .any(|o| matches!(o, Op::AddService(s) if s.key == *key))
}

fn addr_key(addr: &str, port: u16) -> ServiceKey {
    ServiceKey::Addr {
        proto: lvsd::ipvs::Proto::Tcp,
        addr: addr.parse().expect("address"),
        port,
    }
}

/// What one full pass alone sends for `text` on an empty table, and the table it leaves.
fn reference(text: &str) -> (Vec<Op>, Table) {
    let file = write(text);
    let loaded = config::load(file.path(), "x").expect("config");
    let mut fake = FakeIpvs::default();
    full_pass(&mut Reconciler::new(), &mut fake, &loaded);
    (take_log(&fake), table(&fake))
}

/// The early pass in its production shape: its own thread on `fake`, fed while `file` is
/// read; what it hands over once the file has been read.
fn load_with_early_kernel(
    fake: &FakeIpvs,
    file: &tempfile::NamedTempFile,
) -> (Loaded, FakeIpvs, Reconciler, EarlyReport) {
    let mut early = EarlyKernel::start({
        let f = fake.clone();
        move || Ok(f)
    });
    let loaded = config::load_streaming(file.path(), "x", early.vs_sink()).expect("config");
    let (backend, rec, report) = early
        .join()
        .expect("started")
        .expect("thread")
        .expect("opened");
    (loaded, backend, rec, report)
}

/// The early pass in its production shape: on its own thread, fed while the file is read.
#[test]
fn early_then_full_pass_send_what_one_full_pass_sends() {
    let text = mixed_config();
    let (want_ops, want_table) = reference(&text);
    let file = write(&text);
    let fake = FakeIpvs::default();
    let (loaded, mut backend, mut rec, report) = load_with_early_kernel(&fake, &file);
    let early_ops = take_log(&fake);
    let pass = report
        .pass
        .expect("ran on an empty table")
        .expect("no error");
    assert_eq!(pass.ops, early_ops.len());
    assert_eq!(pass.failed, 0);
    full_pass(&mut rec, &mut backend, &loaded);
    let later_ops = take_log(&fake);

    assert_eq!(table(&fake), want_table);
    let all: Vec<Op> = early_ops.iter().chain(&later_ops).cloned().collect();
    assert_eq!(sorted(&all), sorted(&want_ops));
    // Early: the plain ones, the sorry server, fwmark and IPv6; not the group's members
    // nor anything after the group.
    assert!(service_added(&early_ops, &addr_key("10.1.0.1", 80)));
    assert!(service_added(&early_ops, &addr_key("10.1.0.3", 80)));
    assert!(service_added(&early_ops, &addr_key("10.0.0.24", 80)));
    assert!(!service_added(&early_ops, &addr_key("10.2.0.2", 80)));
    assert!(service_added(&later_ops, &addr_key("10.2.0.2", 80)));
    assert!(service_added(&later_ops, &addr_key("10.0.0.27", 80)));
}

/// Fed in whole batches of 16 (the file read first), so that the repeated service comes
/// in a later batch than the first one's: the first one's must win there too, or the full
/// pass would have to put it back; and nothing after the group may go early, or the
/// group's member named again would be the later virtual server's until the full pass.
#[test]
fn batches_keep_the_first_one_and_stop_at_a_group() {
    let text = mixed_config();
    let (want_ops, want_table) = reference(&text);
    let file = write(&text);
    let read = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink: config::VsSink = Box::new({
        let read = read.clone();
        move |vs: &VirtualServer| read.lock().expect("list").push(vs.clone())
    });
    let loaded = config::load_streaming(file.path(), "x", Some(sink)).expect("config");
    let (tx, rx) = std::sync::mpsc::channel::<Vec<VirtualServer>>();
    for batch in read.lock().expect("list").chunks(16) {
        assert!(tx.send(batch.to_vec()).is_ok());
    }
    drop(tx);
    let mut fake = FakeIpvs::default();
    let mut rec = Reconciler::from_dump(Vec::new());
    let stop = AtomicBool::new(false);
    let pass = early_pass(&mut rec, &mut fake, rx, &stop)
        .expect("empty table")
        .expect("no error");
    let early_ops = take_log(&fake);
    assert_eq!(pass.ops, early_ops.len());
    full_pass(&mut rec, &mut fake, &loaded);
    let later_ops = take_log(&fake);
    assert_eq!(table(&fake), want_table);
    let all: Vec<Op> = early_ops.iter().chain(&later_ops).cloned().collect();
    assert_eq!(sorted(&all), sorted(&want_ops));
    assert!(
        later_ops
            .iter()
            .all(|o| matches!(o, Op::AddService(_) | Op::AddDest(..))),
        "the full pass changed what the early pass did: {later_ops:?}"
    );
}

/// A configuration refused by validation after every virtual server was handed over:
/// dropping the unused early kernel removes all that the early pass added.
#[test]
fn a_refused_configuration_leaves_nothing_behind() {
    // 100 virtual servers of 20 real servers: 2,100 operations, so that the early pass
    // sends its first ~1,024 while the file is still being read.
    let mut text = String::new();
    for i in 0..100 {
        text.push_str(&format!(
            "virtual_server 10.0.{}.{} 80 {{\n protocol TCP\n",
            i / 250,
            1 + i % 250
        ));
        for j in 0..20 {
            text.push_str(&format!(
                " real_server 192.168.0.{} 80 {{ weight 1 }}\n",
                1 + j
            ));
        }
        text.push_str("}\n");
    }
    // Found only by validation, once the whole file is read.
    text.push_str(
        "vrrp_script chk { script \"/bin/true\" }\nvrrp_script chk { script \"/bin/true\" }\n",
    );
    let file = write(&text);
    let fake = FakeIpvs::default();
    let mut early = EarlyKernel::start({
        let f = fake.clone();
        move || Ok(f)
    });
    // Past the 80th virtual server (64 handed over in batches of 16: 1,344 operations),
    // the builder waits until the kernel has seen the first part (~1,024 operations), so
    // that there is something to remove whatever the threads' timing.
    let mut inner = early.vs_sink().expect("sink");
    let watched = fake.clone();
    let mut handed = 0;
    let sink: config::VsSink = Box::new(move |vs: &VirtualServer| {
        inner(vs);
        handed += 1;
        if handed == 80 {
            let until = std::time::Instant::now() + std::time::Duration::from_secs(10);
            while watched.kernel.lock().expect("fake kernel").log.is_empty()
                && std::time::Instant::now() < until
            {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
        }
    });
    let res = config::load_streaming(file.path(), "x", Some(sink));
    assert!(res.is_err(), "the duplicate vrrp_script must be refused");
    drop(early);
    let log = take_log(&fake);
    let added = log
        .iter()
        .filter(|o| matches!(o, Op::AddService(_)))
        .count();
    let deleted = log
        .iter()
        .filter(|o| matches!(o, Op::DelService(_)))
        .count();
    assert!(
        added > 0,
        "the early pass programmed nothing: the test shows nothing"
    );
    assert_eq!(added, deleted);
    assert!(table(&fake).services.is_empty());
}

/// An error while building: the virtual servers after it never reach the kernel.
#[test]
fn nothing_after_a_build_error_is_handed_over() {
    let mut text = String::new();
    for i in 0..5 {
        text.push_str(&plain_vs(i));
    }
    text.push_str("virtual_server 10.3.0.1 80 {\n protocol FOO\n}\n");
    for i in 5..10 {
        text.push_str(&plain_vs(i));
    }
    let file = write(&text);
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sink: config::VsSink = Box::new({
        let seen = seen.clone();
        move |vs: &VirtualServer| seen.lock().expect("list").push(vs.key.clone())
    });
    assert!(config::load_streaming(file.path(), "x", Some(sink)).is_err());
    let seen = seen.lock().expect("list");
    // The five before the error; the one with the error is finished after it, so neither
    // it nor any later one is handed over.
    assert_eq!(seen.len(), 5, "{seen:?}");
}

/// A table that holds anything already: the early pass does not run, and the first full
/// pass leaves the foreign service alone.
#[test]
fn a_table_not_empty_is_left_to_the_full_pass() {
    let text = mixed_config();
    let file = write(&text);
    let fake = FakeIpvs::default();
    let foreign = addr_key("10.99.0.1", 80);
    {
        let mut other = fake.clone();
        let (ops, _) = reference("virtual_server 10.99.0.1 80 {\n lb_algo rr\n protocol TCP\n}\n");
        assert!(other.apply(&ops).is_ok());
        take_log(&fake);
    }
    let (loaded, mut backend, mut rec, report) = load_with_early_kernel(&fake, &file);
    assert!(report.pass.is_none());
    assert_eq!(report.found, 1);
    assert!(take_log(&fake).is_empty());
    full_pass(&mut rec, &mut backend, &loaded);
    assert!(table(&fake).services.contains_key(&foreign));
    assert!(service_added(&take_log(&fake), &addr_key("10.1.0.1", 80)));
}
