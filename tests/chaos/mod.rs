//! Chaos harness (issue 17): VRRP pairs and trios in network namespaces on one bridge
//! (IPv4 or IPv6, multicast or unicast, with or without `use_vmac`),
//! random faults, and after each fault has been healed and the cluster has settled, the
//! invariant: exactly one node holds the VIP (the highest-priority node that runs, since
//! every instance preempts), and no lvsd exited on its own.
//!
//! Used by `tests/chaos.rs` (a short CI run) and `benches/chaos.rs` (the long run). Needs
//! `crate::support` (tests/support/mod.rs) in the including crate.
//!
//! Faults: link flap (eth0 down/up), kill -9 and restart, SIGSTOP/SIGCONT, packet loss
//! (nftables `numgen random` drop on the node's input and output), delay and reordering
//! of the node's adverts (this kernel has no sch_netem: an iptables NFQUEUE rule hands
//! them to a thread of the harness, which lets each go after a random hold of up to 1.5
//! advert intervals, so later adverts overtake earlier ones), a partition of two nodes
//! (nftables drops of each other's source address) then healed, a SIGHUP storm (10
//! reloads in a second), and two of these at once on different nodes.
//!
//! Every round draws from `fastrand::Rng::with_seed(seed + round)`; the seed is printed
//! and `CHAOS_SEED=N` replays a run.
#![allow(dead_code)]

use crate::support::*;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;
use std::time::{Duration, Instant};

/// Which daemons, which protocol version, multicast or unicast.
#[derive(Clone, Debug)]
pub struct Mix {
    pub name: &'static str,
    /// One kind per node; node i has priority 150 − 50·i.
    pub kinds: Vec<Kind>,
    pub version: u8,
    pub unicast: bool,
    pub advert_int: f64,
    /// The VIP is IPv6 (VRRPv3 to ff02::12 from link-local addresses).
    pub ipv6: bool,
    /// `use_vmac`: the VIP on the `vrrp.VRID` macvlan, adverts from the virtual MAC.
    pub vmac: bool,
}

impl Mix {
    pub fn new(name: &'static str, kinds: &[Kind], version: u8, unicast: bool) -> Mix {
        Mix {
            name,
            kinds: kinds.to_vec(),
            version,
            unicast,
            // v2 takes whole seconds only; v3 settles faster at 0.5 s.
            advert_int: if version == 3 { 0.5 } else { 1.0 },
            ipv6: false,
            vmac: false,
        }
    }

    /// The same over IPv6 (VRRPv3, multicast).
    pub fn ipv6(mut self) -> Mix {
        assert!(
            self.version == 3 && !self.unicast,
            "IPv6 mixes are v3 multicast"
        );
        self.ipv6 = true;
        self
    }

    /// The same with `use_vmac`.
    pub fn vmac(mut self) -> Mix {
        self.vmac = true;
        self
    }

    /// The address the nodes compete for.
    pub fn vip(&self) -> IpAddr {
        if self.ipv6 {
            IpAddr::V6(VIP6)
        } else {
            IpAddr::V4(VIP)
        }
    }
}

pub fn priority(i: usize) -> u8 {
    150 - 50 * i as u8
}

/// One fault.
#[derive(Clone, Debug)]
pub enum Fault {
    LinkFlap(usize),
    Kill(usize),
    Stop(usize),
    /// Node, percentage dropped both ways.
    Loss(usize, u32),
    /// The node's outgoing adverts held back a random time each, so they arrive late and
    /// out of order.
    Reorder(usize),
    Partition(usize, usize),
    HupStorm(usize),
    Double(Box<Fault>, Box<Fault>),
}

impl Fault {
    pub fn kind(&self) -> &'static str {
        match self {
            Fault::LinkFlap(_) => "link-flap",
            Fault::Kill(_) => "kill-9",
            Fault::Stop(_) => "stop-cont",
            Fault::Loss(..) => "loss",
            Fault::Reorder(_) => "delay-reorder",
            Fault::Partition(..) => "partition",
            Fault::HupStorm(_) => "hup-storm",
            Fault::Double(..) => "double",
        }
    }

    fn nodes(&self) -> Vec<usize> {
        match self {
            Fault::LinkFlap(n)
            | Fault::Kill(n)
            | Fault::Stop(n)
            | Fault::Loss(n, _)
            | Fault::Reorder(n)
            | Fault::HupStorm(n) => vec![*n],
            Fault::Partition(a, b) => vec![*a, *b],
            Fault::Double(a, b) => {
                let mut v = a.nodes();
                v.extend(b.nodes());
                v
            }
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::LinkFlap(n) => write!(f, "link-flap n{}", n + 1),
            Fault::Kill(n) => write!(f, "kill-9 n{}", n + 1),
            Fault::Stop(n) => write!(f, "stop-cont n{}", n + 1),
            Fault::Loss(n, p) => write!(f, "loss {p}% n{}", n + 1),
            Fault::Reorder(n) => write!(f, "delay-reorder n{}", n + 1),
            Fault::Partition(a, b) => write!(f, "partition n{}|n{}", a + 1, b + 1),
            Fault::HupStorm(n) => write!(f, "hup-storm n{}", n + 1),
            Fault::Double(a, b) => write!(f, "{a} + {b}"),
        }
    }
}

fn single(rng: &mut fastrand::Rng, nodes: usize, avoid: Option<usize>) -> Fault {
    let pick = |rng: &mut fastrand::Rng| loop {
        let n = rng.usize(0..nodes);
        if Some(n) != avoid || nodes == 1 {
            return n;
        }
    };
    let n = pick(rng);
    match rng.u8(0..7) {
        0 => Fault::LinkFlap(n),
        1 => Fault::Kill(n),
        2 => Fault::Stop(n),
        3 => Fault::Loss(n, rng.u32(20..=70)),
        4 => {
            let mut m = rng.usize(0..nodes);
            if m == n {
                m = (n + 1) % nodes;
            }
            Fault::Partition(n.min(m), n.max(m))
        }
        5 => Fault::HupStorm(n),
        _ => Fault::Reorder(n),
    }
}

/// A random fault: one in six rounds two faults at once (on different nodes where the
/// first names one node).
pub fn random_fault(rng: &mut fastrand::Rng, nodes: usize) -> Fault {
    if rng.u8(0..6) == 0 {
        let a = single(rng, nodes, None);
        let first = a.nodes()[0];
        let b = single(rng, nodes, Some(first));
        Fault::Double(Box::new(a), Box::new(b))
    } else {
        single(rng, nodes, None)
    }
}

/// How a round ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The expected node alone held the VIP, stably, this long after the heal.
    Settled(Duration),
    /// Two or more holders when the settle time ran out.
    SplitBrain,
    /// Nobody held the VIP when the settle time ran out.
    NoHolder,
    /// One holder, but not the highest-priority running node.
    WrongHolder,
    /// The holder set kept changing until the end.
    Flapping,
}

pub struct RoundResult {
    pub round: u64,
    pub fault: Fault,
    pub outcome: Outcome,
    /// lvsd processes that exited without being told to (node indexes).
    pub lvsd_crashes: Vec<usize>,
    pub keepalived_crashes: usize,
    /// Holders at the end, for the message.
    pub holders: Vec<usize>,
    /// How many nodes held the VIP just before the heal (2+: the fault made two masters).
    pub during: usize,
}

impl RoundResult {
    pub fn ok(&self) -> bool {
        matches!(self.outcome, Outcome::Settled(_)) && self.lvsd_crashes.is_empty()
    }
}

pub struct Cluster {
    pub mix: Mix,
    pub lab: Lab,
    pub daemons: Vec<Daemon>,
    pub seed: u64,
    round: u64,
    /// Running delay-and-reorder faults, by node.
    reorders: Vec<(usize, Reorder)>,
    /// Adverts that went through a delay-and-reorder fault so far.
    pub reordered: u64,
    /// Each node's IPv6 link-local address on eth0, read once settled at the start (a
    /// link set down loses it for a while, and a partition may come with a link flap).
    link_locals: Vec<std::net::Ipv6Addr>,
}

/// A delay-and-reorder fault on one node: an iptables rule queues the node's outgoing
/// VRRP packets (NFQUEUE, a queue number not used before in this run: a queue the
/// kernel still holds for an earlier fault refuses a new bind) to a thread that joined the
/// node's network namespace; the thread lets each packet go after its own random hold
/// (0 to `max_hold`), so a packet held long is overtaken by the next ones. Stopping it
/// lets every held packet go and removes the rule.
struct Reorder {
    ns: String,
    rule: Vec<String>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<Result<u64, String>>>,
}

impl Reorder {
    fn start(ns: &str, ipv6: bool, max_hold: Duration, seed: u64) -> Reorder {
        use std::sync::atomic::{AtomicBool, Ordering};
        static NEXT_QUEUE: std::sync::atomic::AtomicU16 = std::sync::atomic::AtomicU16::new(1);
        let queue = NEXT_QUEUE
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |q| {
                Some(q.checked_add(1).unwrap_or(1))
            })
            .unwrap_or(1);
        let tool = if ipv6 { "ip6tables" } else { "iptables" };
        let rule: Vec<String> = [tool, "OUTPUT", "-p", "112", "-j", "NFQUEUE"]
            .iter()
            .map(|s| s.to_string())
            .chain([
                "--queue-num".into(),
                queue.to_string(),
                "--queue-bypass".into(),
            ])
            .collect();
        let stop = std::sync::Arc::new(AtomicBool::new(false));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<(), String>>();
        let ns_path = format!("/run/netns/{ns}");
        let stop2 = stop.clone();
        let thread = std::thread::spawn(move || -> Result<u64, String> {
            let setup = || -> Result<nfq::Queue, String> {
                let f = std::fs::File::open(&ns_path).map_err(|e| format!("{ns_path}: {e}"))?;
                nix::sched::setns(f, nix::sched::CloneFlags::CLONE_NEWNET)
                    .map_err(|e| format!("setns {ns_path}: {e}"))?;
                let mut q = nfq::Queue::open().map_err(|e| format!("nfqueue: {e}"))?;
                q.bind(queue)
                    .map_err(|e| format!("nfqueue bind {queue}: {e}"))?;
                q.set_nonblocking(true);
                Ok(q)
            };
            let mut q = match setup() {
                Ok(q) => {
                    let _ = ready_tx.send(Ok(()));
                    q
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e.clone()));
                    return Err(e);
                }
            };
            let mut rng = fastrand::Rng::with_seed(seed);
            let mut held: Vec<(Instant, nfq::Message)> = Vec::new();
            let mut passed = 0u64;
            loop {
                let stopping = stop2.load(Ordering::Relaxed);
                loop {
                    match q.recv() {
                        Ok(m) => {
                            let hold = max_hold.mul_f64(rng.f64());
                            held.push((Instant::now() + hold, m));
                        }
                        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                        // The queue went away under the thread (seen once in 620 rounds
                        // as ENOENT): the fault ends early; held packets are lost, as
                        // a lossy link would lose them, and the rule's --queue-bypass
                        // lets the next ones through.
                        Err(e) => {
                            eprintln!("chaos: delay-reorder queue {queue} ended early: {e}");
                            return Ok(passed);
                        }
                    }
                }
                let now = Instant::now();
                let mut i = 0;
                while i < held.len() {
                    if stopping || held[i].0 <= now {
                        let (_, mut m) = held.swap_remove(i);
                        m.set_verdict(nfq::Verdict::Accept);
                        q.verdict(m).map_err(|e| format!("nfqueue verdict: {e}"))?;
                        passed += 1;
                    } else {
                        i += 1;
                    }
                }
                if stopping {
                    return Ok(passed);
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        });
        match ready_rx.recv() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => panic!("delay-reorder fault in {ns}: {e}"),
            Err(_) => panic!("delay-reorder fault in {ns}: the queue thread died"),
        }
        let mut args = vec![
            "netns".to_string(),
            "exec".into(),
            ns.to_string(),
            rule[0].clone(),
            "-A".into(),
        ];
        args.extend(rule[1..].iter().cloned());
        let ok = Command::new("ip")
            .args(&args)
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "{} in {ns} failed: {}", rule[0], rule.join(" "));
        Reorder {
            ns: ns.to_string(),
            rule,
            stop,
            thread: Some(thread),
        }
    }

    /// Removes the rule, lets the held packets go; the number of packets that went
    /// through the queue.
    fn stop(mut self) -> u64 {
        let mut args = vec![
            "netns".to_string(),
            "exec".into(),
            self.ns.clone(),
            self.rule[0].clone(),
            "-D".into(),
        ];
        args.extend(self.rule[1..].iter().cloned());
        let _ = Command::new("ip").args(&args).status();
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        match self.thread.take().map(|t| t.join()) {
            Some(Ok(Ok(n))) => n,
            Some(Ok(Err(e))) => panic!("delay-reorder fault in {}: {e}", self.ns),
            _ => panic!(
                "delay-reorder fault in {}: the queue thread panicked",
                self.ns
            ),
        }
    }
}

fn sh(args: &[&str]) -> bool {
    Command::new(args[0])
        .args(&args[1..])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// The link-local address of eth0 in `ns`.
fn link_local(ns: &str) -> std::net::Ipv6Addr {
    let out = Command::new("ip")
        .args([
            "-n", ns, "-o", "-6", "addr", "show", "dev", "eth0", "scope", "link",
        ])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    out.split_whitespace()
        .skip_while(|w| *w != "inet6")
        .nth(1)
        .and_then(|a| a.split('/').next())
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no link-local address on eth0 in {ns}: {out}"))
}

fn nft(ns: &str, script: &str) {
    let ok = Command::new("ip")
        .args(["netns", "exec", ns, "nft", "-f", "-"])
        .stdin(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin
                .take()
                .expect("stdin")
                .write_all(script.as_bytes())?;
            c.wait()
        })
        .map(|s| s.success())
        .unwrap_or(false);
    assert!(ok, "nft in {ns} failed:\n{script}");
}

/// The seed of a run: `CHAOS_SEED` or the clock; printed either way.
pub fn seed_from_env() -> u64 {
    let seed = std::env::var("CHAOS_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_nanos() as u64)
                .unwrap_or(1)
        });
    eprintln!("chaos: CHAOS_SEED={seed}");
    seed
}

impl Cluster {
    /// Builds the lab and starts the daemons; waits until node 0 holds the VIP.
    pub fn start(tag: &str, mix: Mix, seed: u64) -> Cluster {
        require_tool("nft");
        let n = mix.kinds.len();
        let lab = Lab::new(tag, n);
        let ips: Vec<Ipv4Addr> = lab.nodes.iter().map(|x| x.ip).collect();
        let mut daemons = Vec::new();
        for (i, kind) in mix.kinds.iter().enumerate() {
            let mut c = Conf::new(&format!("R{}", i + 1), priority(i));
            c.version = mix.version;
            c.advert_int = mix.advert_int;
            c.vip6 = mix.ipv6;
            c.use_vmac = mix.vmac;
            if mix.unicast {
                let peers = ips
                    .iter()
                    .enumerate()
                    .filter(|(j, _)| *j != i)
                    .map(|(_, ip)| *ip)
                    .collect();
                c.unicast = Some((ips[i], peers));
            }
            daemons.push(lab.spawn(i, *kind, &format!("d{}", i + 1), &c.render()));
        }
        let mut cl = Cluster {
            mix,
            lab,
            daemons,
            seed,
            round: 0,
            reorders: Vec::new(),
            reordered: 0,
            link_locals: Vec::new(),
        };
        let t = cl.settle_timeout();
        let out = cl.settle(t);
        assert!(
            matches!(out, Outcome::Settled(_)),
            "{}: never settled at start ({out:?}, holders {:?})\n{}",
            cl.mix.name,
            cl.holders(),
            cl.logs()
        );
        if cl.mix.ipv6 {
            cl.link_locals = (0..n).map(|i| link_local(&cl.ns(i))).collect();
        }
        cl
    }

    pub fn master_down(&self) -> Duration {
        Duration::from_secs_f64(master_down(
            priority(self.daemons.len() - 1),
            self.mix.advert_int,
        ))
    }

    /// Bounded wait for settling: enough for a restart plus two master-down intervals.
    fn settle_timeout(&self) -> Duration {
        Duration::from_secs(6) + self.master_down() * 3
    }

    pub fn holders(&self) -> Vec<usize> {
        (0..self.lab.nodes.len())
            .filter(|&i| addr_dev(&self.lab.node(i).ns, self.mix.vip()).is_some())
            .collect()
    }

    pub fn logs(&self) -> String {
        self.daemons
            .iter()
            .map(|d| {
                let t = d.log_text();
                let tail: Vec<&str> = t.lines().rev().take(40).collect();
                let tail: Vec<&str> = tail.into_iter().rev().collect();
                format!(
                    "--- {} {} (last 40 lines):\n{}\n",
                    d.kind.label(),
                    d.node.name,
                    tail.join("\n")
                )
            })
            .collect()
    }

    /// Polls until the highest-priority node alone holds the VIP for two advert
    /// intervals; returns how long it took until that stable stretch began.
    fn settle(&self, timeout: Duration) -> Outcome {
        let start = Instant::now();
        let stable_for = Duration::from_secs_f64(2.0 * self.mix.advert_int);
        let mut since: Option<Instant> = None;
        let mut last = self.holders();
        let mut changes = 0u32;
        loop {
            let h = self.holders();
            if h != last {
                changes += 1;
                last = h.clone();
            }
            // Every node runs at the end of a round: node 0 has the highest priority.
            if h == [0] {
                let s = *since.get_or_insert_with(Instant::now);
                if s.elapsed() >= stable_for {
                    return Outcome::Settled(s - start);
                }
            } else {
                since = None;
            }
            if start.elapsed() > timeout {
                return match h.len() {
                    0 => Outcome::NoHolder,
                    1 if changes > 3 => Outcome::Flapping,
                    1 => Outcome::WrongHolder,
                    _ => Outcome::SplitBrain,
                };
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn pids(&self, i: usize) -> Vec<i32> {
        let d = &self.daemons[i];
        let mut v: Vec<i32> = d.pid().into_iter().collect();
        // keepalived's VRRP child (lvsd may write its own pid there).
        if let Some(p) = std::fs::read_to_string(d.dir.join("vrrp.pid"))
            .ok()
            .and_then(|s| s.trim().parse::<i32>().ok())
        {
            if !v.contains(&p) {
                v.push(p);
            }
        }
        v
    }

    fn signal(&self, i: usize, sig: nix::sys::signal::Signal) {
        let pids = self.pids(i);
        for p in pids {
            let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), sig);
        }
    }

    fn ns(&self, i: usize) -> String {
        self.lab.node(i).ns.clone()
    }

    /// What a reboot would clear after a daemon died: the VIP it held, and the vmac it
    /// made.
    fn wipe(&self, i: usize) {
        let ns = self.ns(i);
        let vip = self.mix.vip();
        if let Some(dev) = addr_dev(&ns, vip) {
            let pfx = if self.mix.ipv6 { 64 } else { 24 };
            sh(&[
                "ip",
                "-n",
                &ns,
                "addr",
                "del",
                &format!("{vip}/{pfx}"),
                "dev",
                &dev,
            ]);
        }
        if self.mix.vmac {
            sh(&["ip", "-n", &ns, "link", "del", &format!("vrrp.{VRID}")]);
        }
    }

    fn apply(&mut self, f: &Fault) {
        use nix::sys::signal::Signal;
        match f {
            Fault::LinkFlap(n) => {
                sh(&["ip", "-n", &self.ns(*n), "link", "set", "eth0", "down"]);
            }
            Fault::Kill(n) => {
                self.daemons[*n].sigkill();
                self.wipe(*n);
            }
            Fault::Stop(n) => self.signal(*n, Signal::SIGSTOP),
            Fault::Loss(n, p) => nft(
                &self.ns(*n),
                &format!(
                    "table inet chaosloss {{\n chain i {{ type filter hook input priority 0; \
                     numgen random mod 100 < {p} drop; }}\n chain o {{ type filter hook \
                     output priority 0; numgen random mod 100 < {p} drop; }}\n}}\n"
                ),
            ),
            Fault::Partition(a, b) => {
                for (x, y) in [(*a, *b), (*b, *a)] {
                    // Adverts come from the peer's address on eth0: its link-local one over
                    // IPv6 (multicast only, so nothing is sent to the peer's address).
                    let (family, peer) = if self.mix.ipv6 {
                        let ll = self.link_locals.get(y).copied();
                        let ll = ll.unwrap_or_else(|| link_local(&self.ns(y)));
                        ("ip6", ll.to_string())
                    } else {
                        ("ip", self.lab.node(y).ip.to_string())
                    };
                    nft(
                        &self.ns(x),
                        &format!(
                            "table inet chaospart {{\n chain i {{ type filter hook input \
                             priority 0; {family} saddr {peer} drop; }}\n chain o {{ type \
                             filter hook output priority 0; {family} daddr {peer} drop; }}\n}}\n"
                        ),
                    );
                }
            }
            Fault::Reorder(n) => {
                let hold = Duration::from_secs_f64(1.5 * self.mix.advert_int);
                let seed = self.seed.wrapping_add(self.round).wrapping_add(*n as u64);
                let r = Reorder::start(&self.ns(*n), self.mix.ipv6, hold, seed);
                self.reorders.push((*n, r));
            }
            Fault::HupStorm(n) => {
                for _ in 0..10 {
                    if let Some(p) = self.daemons[*n].pid() {
                        let _ =
                            nix::sys::signal::kill(nix::unistd::Pid::from_raw(p), Signal::SIGHUP);
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            }
            Fault::Double(a, b) => {
                self.apply(a);
                self.apply(b);
            }
        }
    }

    fn heal(&mut self, f: &Fault) {
        match f {
            Fault::LinkFlap(n) => {
                sh(&["ip", "-n", &self.ns(*n), "link", "set", "eth0", "up"]);
            }
            Fault::Kill(n) => self.daemons[*n].restart(),
            Fault::Stop(n) => self.signal(*n, nix::sys::signal::Signal::SIGCONT),
            Fault::Loss(n, _) => {
                sh(&[
                    "ip",
                    "netns",
                    "exec",
                    &self.ns(*n),
                    "nft",
                    "delete",
                    "table",
                    "inet",
                    "chaosloss",
                ]);
            }
            Fault::Partition(a, b) => {
                for x in [*a, *b] {
                    sh(&[
                        "ip",
                        "netns",
                        "exec",
                        &self.ns(x),
                        "nft",
                        "delete",
                        "table",
                        "inet",
                        "chaospart",
                    ]);
                }
            }
            Fault::Reorder(n) => {
                if let Some(at) = self.reorders.iter().position(|(m, _)| m == n) {
                    let (_, r) = self.reorders.swap_remove(at);
                    self.reordered += r.stop();
                }
            }
            Fault::HupStorm(_) => {}
            Fault::Double(a, b) => {
                self.heal(b);
                self.heal(a);
            }
        }
    }

    /// Daemons that are not running: lvsd ones are crashes; all are restarted.
    fn reap(&mut self) -> (Vec<usize>, usize) {
        let mut lvsd = Vec::new();
        let mut ka = 0;
        for i in 0..self.daemons.len() {
            if !self.daemons[i].running() {
                match self.daemons[i].kind {
                    Kind::Lvsd => lvsd.push(i),
                    Kind::Keepalived => ka += 1,
                }
                self.wipe(i);
                self.daemons[i].restart();
            }
        }
        (lvsd, ka)
    }

    /// One round: a random fault held for a while, healed, then the bounded wait for the
    /// invariant.
    pub fn round(&mut self) -> RoundResult {
        self.round_with(None)
    }

    /// [`Cluster::round`], with a given fault instead of a random one.
    pub fn round_with(&mut self, fault: Option<Fault>) -> RoundResult {
        let round = self.round;
        self.round += 1;
        let mut rng = fastrand::Rng::with_seed(self.seed.wrapping_add(round));
        let drawn = random_fault(&mut rng, self.daemons.len());
        let fault = fault.unwrap_or(drawn);
        // 0.3–1.8 master-down intervals: some faults end before a backup takes over,
        // most last long enough for two masters (a partition, a flap) or a takeover.
        let hold = self.master_down().mul_f64(0.3 + 1.5 * rng.f64());
        self.apply(&fault);
        std::thread::sleep(hold);
        let during = self.holders().len();
        self.heal(&fault);
        let mut outcome = self.settle(self.settle_timeout());
        let (mut lvsd_crashes, mut keepalived_crashes) = self.reap();
        if !lvsd_crashes.is_empty() || keepalived_crashes > 0 {
            // Give the restarted ones a chance; the round still counts as failed for lvsd.
            let o = self.settle(self.settle_timeout());
            if matches!(outcome, Outcome::Settled(_)) {
                outcome = o;
            }
            let (l, k) = self.reap();
            lvsd_crashes.extend(l);
            keepalived_crashes += k;
        }
        RoundResult {
            round,
            fault,
            outcome,
            lvsd_crashes,
            keepalived_crashes,
            holders: self.holders(),
            during,
        }
    }

    /// A failure message: seed, round, fault, outcome and the daemons' log tails.
    pub fn describe(&self, r: &RoundResult) -> String {
        format!(
            "{} CHAOS_SEED={} round {}: {} -> {:?}, holders {:?}, lvsd crashed {:?}\n{}",
            self.mix.name,
            self.seed,
            r.round,
            r.fault,
            r.outcome,
            r.holders
                .iter()
                .map(|i| format!("n{}", i + 1))
                .collect::<Vec<_>>(),
            r.lvsd_crashes
                .iter()
                .map(|i| format!("n{}", i + 1))
                .collect::<Vec<_>>(),
            self.logs()
        )
    }
}
