//! Tracking: `track_script` (rise/fall, weight, reverse), `track_interface` (link state,
//! weight, reverse), `track_file` (a number times the weight) and `track_process` (a
//! quorum of running processes) folded into an effective priority and a FAULT condition.
//! No I/O: the runtime runs the scripts, watches links and files and counts processes, and
//! feeds raw results in.

use crate::vrrp::params::{
    InstanceParams, TrackedFile, TrackedInterface, TrackedProcess, TrackedScript,
};
use std::time::{Duration, Instant};

/// The rise/fall state of one tracked script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptState {
    pub spec: TrackedScript,
    /// Current (debounced) result.
    pub up: bool,
    /// Whether the script has given a result yet (or starts failed by `init_fail`). As
    /// keepalived 2.2.7 (vrrp_scheduler.c): until then a weighted script moves the
    /// priority neither way, and its first result counts at once, whatever rise and fall.
    pub known: bool,
    /// Consecutive raw results contradicting `up`.
    streak: u32,
}

impl ScriptState {
    pub fn new(spec: TrackedScript) -> Self {
        ScriptState {
            up: !spec.init_fail,
            known: spec.init_fail,
            spec,
            streak: 0,
        }
    }

    /// Feeds one raw result; returns true when what the script means for the instance
    /// (its debounced state, or its first result) changed.
    pub fn record(&mut self, ok: bool) -> bool {
        if !self.known {
            self.known = true;
            self.up = ok;
            self.streak = 0;
            return true;
        }
        if ok == self.up {
            self.streak = 0;
            return false;
        }
        self.streak += 1;
        let need = if self.up {
            self.spec.fall
        } else {
            self.spec.rise
        };
        if self.streak >= need.max(1) {
            self.up = ok;
            self.streak = 0;
            true
        } else {
            false
        }
    }

    /// Whether this script currently puts the instance in FAULT: unweighted, while it
    /// fails (with `reverse`, while it succeeds).
    pub fn faulted(&self) -> bool {
        self.spec.weight == 0 && self.up == self.spec.reverse
    }

    /// What this script adds to the priority now (nothing before its first result).
    pub fn delta(&self) -> i32 {
        if !self.known {
            return 0;
        }
        weight_delta(self.spec.weight, self.spec.reverse, self.up)
    }
}

/// keepalived 2.2.7 (vrrp_track.c): a positive weight applies while "good", a negative one
/// while "bad"; `reverse` negates the weight (it does not change when it applies).
fn weight_delta(weight: i32, reverse: bool, good: bool) -> i32 {
    if (weight > 0) == good && weight != 0 {
        if reverse {
            -weight
        } else {
            weight
        }
    } else {
        0
    }
}

/// The link state of one tracked interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceState {
    pub spec: TrackedInterface,
    pub up: bool,
    /// Named by `track_interface` (or the instance's own interface): false when only an
    /// address, virtual route or rule on it makes the instance track it.
    pub listed: bool,
    /// An address, virtual route or rule of the instance is on it: FAULT while it is
    /// down, whatever weight `track_interface` gives it (keepalived's tracking entry for
    /// the interface takes weight 0).
    pub by_address: bool,
}

impl InterfaceState {
    fn listed(spec: TrackedInterface) -> Self {
        InterfaceState {
            spec,
            up: true,
            listed: true,
            by_address: false,
        }
    }

    /// Unweighted, or by an address: FAULT while the link is down (unweighted with
    /// `reverse`, while it is up).
    pub fn faulted(&self) -> bool {
        match self.spec.weight {
            None => self.up == self.spec.reverse,
            Some(_) => self.by_address && !self.up,
        }
    }
    pub fn delta(&self) -> i32 {
        match self.spec.weight {
            Some(w) if !self.by_address => weight_delta(w, self.spec.reverse, self.up),
            _ => 0,
        }
    }
}

/// keepalived's "status" of a tracked file, capped to −254..=253; −254 is FAULT.
const FILE_FAULT: i64 = -254;

/// The last number read from one tracked file (0 while it is missing or unreadable).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileState {
    pub spec: TrackedFile,
    pub value: i64,
}

impl FileState {
    /// keepalived 2.2.7: weight 0 → FAULT while the number is non-zero (zero, with
    /// `reverse`); otherwise number × weight (negated by `reverse`) capped to −254..=253,
    /// where −254 (or less) is FAULT.
    pub fn status(&self) -> i64 {
        if self.spec.weight == 0 {
            if (self.value != 0) != self.spec.reverse {
                FILE_FAULT
            } else {
                0
            }
        } else {
            let mult = if self.spec.reverse { -1 } else { 1 };
            self.value
                .saturating_mul(i64::from(self.spec.weight))
                .saturating_mul(mult)
                .clamp(FILE_FAULT, 253)
        }
    }
    pub fn faulted(&self) -> bool {
        self.status() <= FILE_FAULT
    }
    pub fn delta(&self) -> i32 {
        if self.faulted() {
            0
        } else {
            self.status() as i32
        }
    }
}

/// Whether one tracked process has its quorum.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessState {
    pub spec: TrackedProcess,
    pub up: bool,
}

impl ProcessState {
    /// Weight 0: FAULT without quorum (with quorum, with `reverse`).
    pub fn faulted(&self) -> bool {
        self.spec.weight == 0 && self.up == self.spec.reverse
    }
    /// A positive weight applies with quorum, a negative one without (see
    /// [`weight_delta`]).
    pub fn delta(&self) -> i32 {
        weight_delta(self.spec.weight, self.spec.reverse, self.up)
    }
}

/// The quorum of one `vrrp_track_process`, with `fork_delay` / `terminate_delay`: a count
/// that gains the quorum counts after `fork_delay`, one that loses it after
/// `terminate_delay`, and a count that returns before then cancels the change (keepalived's
/// timers). Fed with the number of matching processes now and then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessQuorum {
    quorum: u32,
    quorum_max: u32,
    fork_delay: Duration,
    terminate_delay: Duration,
    have: bool,
    pending: Option<Instant>,
}

impl ProcessQuorum {
    /// The first count decides at once (keepalived's start-up scan).
    pub fn new(
        quorum: u32,
        quorum_max: u32,
        fork_delay: Duration,
        terminate_delay: Duration,
        count: u32,
    ) -> Self {
        ProcessQuorum {
            quorum,
            quorum_max,
            fork_delay,
            terminate_delay,
            have: (quorum..=quorum_max).contains(&count),
            pending: None,
        }
    }
    pub fn have_quorum(&self) -> bool {
        self.have
    }
    /// When an unchanged count would next make a difference.
    pub fn deadline(&self) -> Option<Instant> {
        self.pending
    }
    /// Feeds the current count; `Some(quorum)` when the quorum was gained or lost.
    pub fn update(&mut self, count: u32, now: Instant) -> Option<bool> {
        let raw = (self.quorum..=self.quorum_max).contains(&count);
        if raw == self.have {
            self.pending = None;
            return None;
        }
        match self.pending {
            Some(at) if now >= at => {}
            Some(_) => return None,
            None => {
                let delay = if raw {
                    self.fork_delay
                } else {
                    self.terminate_delay
                };
                if !delay.is_zero() {
                    self.pending = Some(now + delay);
                    return None;
                }
            }
        }
        self.pending = None;
        self.have = raw;
        Some(raw)
    }
}

/// keepalived's reading of a tracked file: `strtol(text, NULL, 0)` — leading blanks, a
/// sign, then decimal, `0x` hex or `0` octal digits up to the first other character; no
/// digits is 0. `None` (the reading is ignored) when the number does not fit in a 32-bit
/// int (keepalived accepts up to 2^31 included).
pub fn parse_file_value(text: &str) -> Option<i64> {
    let s = text.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, s) = match s.as_bytes().first() {
        Some(b'-') => (true, &s[1..]),
        Some(b'+') => (false, &s[1..]),
        _ => (false, s),
    };
    let (radix, digits) = if (s.starts_with("0x") || s.starts_with("0X"))
        && s.as_bytes().get(2).is_some_and(u8::is_ascii_hexdigit)
    {
        (16, &s[2..])
    } else if s.starts_with('0') {
        (8, s)
    } else {
        (10, s)
    };
    let end = digits
        .find(|c: char| !c.is_digit(radix))
        .unwrap_or(digits.len());
    let mut v: i64 = 0;
    for c in digits[..end].chars() {
        let d = i64::from(c.to_digit(radix).unwrap_or(0));
        v = v.checked_mul(i64::from(radix))?.checked_add(d)?;
        if v > i64::from(i32::MAX) + 1 + 1 {
            return None;
        }
    }
    let v = if neg { -v } else { v };
    (i64::from(i32::MIN)..=i64::from(i32::MAX) + 1)
        .contains(&v)
        .then_some(v)
}

/// All trackers of one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracking {
    pub scripts: Vec<ScriptState>,
    pub interfaces: Vec<InterfaceState>,
    pub files: Vec<FileState>,
    pub processes: Vec<ProcessState>,
    /// `unicast_fault_no_peer` and no unicast peer: FAULT for as long as it runs.
    pub no_peer: bool,
    /// `track_src_ip`: the configured source address (None: not tracked) and whether it
    /// is on the instance's interface (the runtime reports it before the start).
    pub src: Option<(std::net::IpAddr, bool)>,
    /// Why the instance has no source address for its adverts, if it has none: FAULT
    /// until it has one (the runtime reports it before the start and as addresses come
    /// and go).
    pub no_source: Option<NoSource>,
}

/// Why an instance has no source address for its adverts (keepalived 2.2.7 puts it in
/// FAULT: "no IPv4 address for interface", "src address not configured").
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NoSource {
    /// No unicast_src_ip / mcast_src_ip, and the interface has no address to send from
    /// (IPv4, or an IPv6 link-local address).
    Interface { v6: bool },
    /// The unicast_src_ip is not an address of this host (keepalived cannot bind it).
    NotLocal(std::net::IpAddr),
}

impl std::fmt::Display for NoSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NoSource::Interface { v6 } => {
                write!(f, "no IPv{} address for interface", if *v6 { 6 } else { 4 })
            }
            NoSource::NotLocal(a) => write!(f, "source address {a} is not configured on this host"),
        }
    }
}

impl Tracking {
    /// Interfaces start up: the runtime reports the real link state right after start.
    pub fn new(scripts: &[TrackedScript], interfaces: &[TrackedInterface]) -> Self {
        Tracking {
            scripts: scripts.iter().cloned().map(ScriptState::new).collect(),
            interfaces: interfaces
                .iter()
                .cloned()
                .map(InterfaceState::listed)
                .collect(),
            files: Vec::new(),
            processes: Vec::new(),
            no_peer: false,
            src: None,
            no_source: None,
        }
    }

    /// All trackers of an instance. Files start at 0 (as missing) and processes at the
    /// quorum of no process; the runtime reports the real values before starting it.
    pub fn for_params(p: &InstanceParams) -> Self {
        let mut t = Tracking::new(&p.track_scripts, &p.track_interfaces);
        for name in p.links_of_addresses() {
            match t.interfaces.iter_mut().find(|i| i.spec.name == name) {
                Some(i) => i.by_address = true,
                None => t.interfaces.push(InterfaceState {
                    spec: TrackedInterface {
                        name: name.to_string(),
                        weight: None,
                        reverse: false,
                    },
                    up: true,
                    listed: false,
                    by_address: true,
                }),
            }
        }
        t.files = p
            .track_files
            .iter()
            .cloned()
            .map(|spec| FileState { spec, value: 0 })
            .collect();
        t.processes = p
            .track_processes
            .iter()
            .cloned()
            .map(|spec| ProcessState {
                up: spec.quorum == 0,
                spec,
            })
            .collect();
        t.no_peer = p.no_peer_fault();
        t.src = p.src_ip.filter(|_| p.track_src_ip).map(|a| (a, true));
        t
    }

    /// Whether the tracked source address `addr` is on the interface now; true when that
    /// changed.
    pub fn src_addr(&mut self, addr: std::net::IpAddr, present: bool) -> bool {
        match &mut self.src {
            Some((a, p)) if *a == addr && *p != present => {
                *p = present;
                true
            }
            _ => false,
        }
    }

    /// The number now read from the tracked file `name`; true when what it means for the
    /// instance (its status) changed.
    pub fn file_value(&mut self, name: &str, value: i64) -> bool {
        let mut changed = false;
        for f in self.files.iter_mut().filter(|f| f.spec.name == name) {
            let before = f.status();
            f.value = value;
            changed |= f.status() != before;
        }
        changed
    }

    /// Whether the tracked process `name` has its quorum now; true when that changed.
    pub fn process_quorum(&mut self, name: &str, up: bool) -> bool {
        let mut changed = false;
        for p in self.processes.iter_mut().filter(|p| p.spec.name == name) {
            changed |= p.up != up;
            p.up = up;
        }
        changed
    }

    /// Feeds a raw result of the script `name`; true when any tracker of it flipped.
    pub fn script_result(&mut self, name: &str, ok: bool) -> bool {
        let mut changed = false;
        for s in self.scripts.iter_mut().filter(|s| s.spec.name == name) {
            changed |= s.record(ok);
        }
        changed
    }

    /// Keeps the current state of trackers that existed before a reload (matched by name).
    pub fn carry_over(&mut self, old: &Tracking) {
        for s in &mut self.scripts {
            if let Some(o) = old.scripts.iter().find(|o| o.spec.name == s.spec.name) {
                s.up = o.up;
                s.known = o.known;
                s.streak = o.streak;
            }
        }
        for i in &mut self.interfaces {
            if let Some(o) = old.interfaces.iter().find(|o| o.spec.name == i.spec.name) {
                i.up = o.up;
            }
        }
        for f in &mut self.files {
            if let Some(o) = old.files.iter().find(|o| o.spec.name == f.spec.name) {
                f.value = o.value;
            }
        }
        for p in &mut self.processes {
            if let Some(o) = old.processes.iter().find(|o| o.spec.name == p.spec.name) {
                p.up = o.up;
            }
        }
        if let (Some((a, p)), Some((oa, op))) = (&mut self.src, old.src) {
            if *a == oa {
                *p = op;
            }
        }
    }

    /// Sets the link state of `ifname`; true when a tracker changed.
    pub fn link(&mut self, ifname: &str, up: bool) -> bool {
        let mut changed = false;
        for i in self.interfaces.iter_mut().filter(|i| i.spec.name == ifname) {
            if i.up != up {
                i.up = up;
                changed = true;
            }
        }
        changed
    }

    /// Whether any tracker puts the instance in FAULT.
    pub fn faulted(&self) -> bool {
        self.scripts.iter().any(ScriptState::faulted)
            || self.interfaces.iter().any(InterfaceState::faulted)
            || self.files.iter().any(FileState::faulted)
            || self.processes.iter().any(ProcessState::faulted)
            || self.no_peer
            || matches!(self.src, Some((_, false)))
            || self.no_source.is_some()
    }

    /// Why the instance has no advert source address now (None: it has one); true when
    /// that changed.
    pub fn source(&mut self, why: Option<NoSource>) -> bool {
        let changed = self.no_source != why;
        self.no_source = why;
        changed
    }

    /// Human-readable list of what is faulted (for logs).
    pub fn fault_reasons(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .scripts
            .iter()
            .filter(|s| s.faulted())
            .map(|s| {
                let what = if s.spec.reverse {
                    "succeeded (reverse)"
                } else {
                    "failed"
                };
                format!("script {} {what}", s.spec.name)
            })
            .collect();
        v.extend(
            self.interfaces
                .iter()
                .filter(|i| i.faulted())
                .map(|i| format!("interface {} down", i.spec.name)),
        );
        v.extend(self.files.iter().filter(|f| f.faulted()).map(|f| {
            format!(
                "tracked file {} has status {}",
                f.spec.name,
                if f.spec.weight == 0 {
                    f.value
                } else {
                    f.status()
                }
            )
        }));
        v.extend(
            self.processes
                .iter()
                .filter(|p| p.faulted())
                .map(|p| format!("tracked process {} quorum not achieved", p.spec.name)),
        );
        if self.no_peer {
            v.push("unicast configured without any peer (unicast_fault_no_peer)".to_string());
        }
        if let Some((a, false)) = self.src {
            v.push(format!(
                "source address {a} is not on the interface (track_src_ip)"
            ));
        }
        if let Some(why) = self.no_source {
            v.push(why.to_string());
        }
        v
    }

    /// Sum of the weights that currently apply.
    pub fn delta(&self) -> i32 {
        self.scripts.iter().map(ScriptState::delta).sum::<i32>()
            + self
                .interfaces
                .iter()
                .map(InterfaceState::delta)
                .sum::<i32>()
            + self.files.iter().map(FileState::delta).sum::<i32>()
            + self.processes.iter().map(ProcessState::delta).sum::<i32>()
    }

    /// The effective priority for a base priority: the owner (255) is never changed by
    /// weights (as keepalived); others are clamped to 1..=254.
    pub fn effective_priority(&self, base: u8) -> u8 {
        if base == 255 {
            return 255;
        }
        self.total_priority(base).clamp(1, 254) as u8
    }

    /// Base priority with tracker weights applied, not yet held to 1..=254 (keepalived's
    /// "Total priority").
    pub fn total_priority(&self, base: u8) -> i32 {
        if base == 255 {
            return 255;
        }
        i32::from(base) + self.delta()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn script(weight: i32, reverse: bool, rise: u32, fall: u32) -> TrackedScript {
        TrackedScript {
            name: "chk".into(),
            weight,
            reverse,
            rise,
            fall,
            init_fail: false,
        }
    }

    #[test]
    fn fall_and_rise_debounce() {
        let mut s = ScriptState::new(script(0, false, 3, 2));
        assert!(s.up && !s.known);
        // The first result counts at once (keepalived: result starts at rise - 1).
        assert!(s.record(true));
        assert!(s.up && s.known);
        assert!(!s.record(false));
        assert!(!s.record(true)); // streak broken
        assert!(!s.record(false));
        assert!(s.record(false)); // 2 consecutive failures
        assert!(!s.up);
        assert!(s.faulted());
        assert!(!s.record(true));
        assert!(!s.record(true));
        assert!(s.record(true)); // 3 consecutive successes
        assert!(s.up);
        assert!(!s.faulted());
        // A first failure, whatever `fall`, is a failure.
        let mut s = ScriptState::new(script(-2, false, 2, 10));
        assert_eq!(s.delta(), 0, "no result yet: no weight either way");
        assert!(s.record(false));
        assert_eq!(s.delta(), -2);
        let mut s = ScriptState::new(script(10, false, 4, 5));
        assert_eq!(s.delta(), 0);
        assert!(s.record(true));
        assert_eq!(s.delta(), 10);
    }

    #[test]
    fn weight_table() {
        // (weight, reverse, up) -> delta
        let cases = [
            (10, false, true, 10),
            (10, false, false, 0),
            (-10, false, true, 0),
            (-10, false, false, -10),
            // `reverse` negates the weight (keepalived's Total priority for `weight 5
            // reverse` on a script that succeeds is base − 5).
            (10, true, true, -10),
            (10, true, false, 0),
            (-10, true, true, 0),
            (-10, true, false, 10),
            (0, false, false, 0),
            (0, true, true, 0),
            (0, true, false, 0),
        ];
        for (w, r, up, want) in cases {
            let mut s = ScriptState::new(script(w, r, 1, 1));
            s.record(up);
            assert_eq!(s.delta(), want, "weight {w} reverse {r} up {up}");
            assert_eq!(s.faulted(), w == 0 && up == r);
        }
    }

    #[test]
    fn effective_priority_clamps_and_owner_is_fixed() {
        let mut t = Tracking::new(&[script(-200, false, 1, 1)], &[]);
        assert_eq!(t.effective_priority(100), 100);
        t.script_result("chk", false);
        assert_eq!(t.effective_priority(100), 1);
        assert_eq!(t.total_priority(100), -100);
        assert_eq!(t.effective_priority(255), 255);
        let mut t = Tracking::new(&[script(200, false, 1, 1)], &[]);
        assert_eq!(t.effective_priority(100), 100, "no result yet");
        t.script_result("chk", true);
        assert_eq!(t.effective_priority(100), 254);
        assert_eq!(
            t.total_priority(100),
            300,
            "keepalived's Total priority is not held"
        );
        t.script_result("chk", false);
        assert_eq!(t.effective_priority(100), 100);
    }

    #[test]
    fn an_interface_with_an_address_of_the_instance_faults_whatever_its_weight() {
        let text = "vrrp_instance A {\n interface eth0\n virtual_router_id 7\n\
             track_interface {\n  eth1 weight -30\n }\n\
             virtual_ipaddress {\n  10.0.0.1/24 dev eth1\n }\n\
             virtual_routes {\n  10.5.0.0/16 dev eth2\n }\n}\n";
        let l = crate::config::parse_str(text, std::path::Path::new("k.conf"), "")
            .unwrap_or_else(|e| panic!("{e}"));
        let c = &l.config;
        let p = InstanceParams::from_config(&c.instances[0], &c.global, &c.vrrp_scripts)
            .unwrap_or_else(|e| panic!("{e}"));
        let mut t = Tracking::for_params(&p);
        assert!(t.link("eth1", false));
        assert!(t.faulted(), "eth1 holds an address: FAULT, not -30");
        assert_eq!(t.effective_priority(100), 100);
        t.link("eth1", true);
        assert!(!t.faulted());
        assert!(t.link("eth2", false));
        assert!(t.faulted(), "eth2, tracked by an address alone");
        let listed: Vec<&str> = t
            .interfaces
            .iter()
            .filter(|i| i.listed)
            .map(|i| i.spec.name.as_str())
            .collect();
        assert_eq!(
            listed,
            ["eth0", "eth1"],
            "eth2 is not a track_interface entry"
        );
    }

    #[test]
    fn interface_fault_and_weight() {
        let ifs = [
            TrackedInterface {
                name: "eth0".into(),
                weight: None,
                reverse: false,
            },
            TrackedInterface {
                name: "eth1".into(),
                weight: Some(-30),
                reverse: false,
            },
        ];
        let mut t = Tracking::new(&[], &ifs);
        assert!(!t.faulted());
        assert!(t.link("eth1", false));
        assert!(!t.link("eth1", false));
        assert_eq!(t.effective_priority(100), 70);
        assert!(!t.faulted());
        t.link("eth0", false);
        assert!(t.faulted());
        assert_eq!(t.fault_reasons(), vec!["interface eth0 down".to_string()]);
        t.link("eth0", true);
        assert!(!t.faulted());
        assert!(!t.link("unknown", false));

        // Unweighted with `reverse` (keepalived's `weight 0 reverse`): FAULT while up.
        let reversed = [TrackedInterface {
            name: "eth2".into(),
            weight: None,
            reverse: true,
        }];
        let mut t = Tracking::new(&[], &reversed);
        t.link("eth2", true);
        assert!(t.faulted());
        t.link("eth2", false);
        assert!(!t.faulted());
    }

    #[test]
    fn init_fail_starts_failed() {
        let mut spec = script(0, false, 2, 1);
        spec.init_fail = true;
        let s = ScriptState::new(spec);
        assert!(!s.up);
        assert!(s.faulted());
    }

    fn file(weight: i32, reverse: bool) -> FileState {
        FileState {
            spec: TrackedFile {
                name: "f".into(),
                weight,
                reverse,
            },
            value: 0,
        }
    }

    #[test]
    fn file_status_as_keepalived() {
        // (weight, reverse, value) -> (delta, faulted)
        let cases = [
            (0, false, 0, 0, false),
            (0, false, 1, 0, true),
            (0, false, -3, 0, true),
            (0, true, 0, 0, true),
            (0, true, 5, 0, false),
            (1, false, 10, 10, false),
            (10, false, -2, -20, false),
            (-10, false, 3, -30, false),
            (10, true, 3, -30, false),
            (5, false, 100, 253, false),
            (1, false, -253, -253, false),
            (1, false, -254, 0, true),
            (100, false, -3, 0, true),
            (-1, false, -300, 253, false),
            (-1, true, -300, 0, true),
            (254, false, i64::from(i32::MAX) + 1, 253, false),
        ];
        for (w, r, v, delta, fault) in cases {
            let mut f = file(w, r);
            f.value = v;
            assert_eq!(
                (f.delta(), f.faulted()),
                (delta, fault),
                "weight {w} reverse {r} value {v}"
            );
        }
    }

    #[test]
    fn file_changes_reported_only_when_the_status_changes() {
        let mut t = Tracking::new(&[], &[]);
        t.files.push(file(0, false));
        t.files.push(FileState {
            value: 0,
            ..file(3, false)
        });
        t.files[1].spec.name = "g".into();
        assert!(!t.file_value("f", 0));
        assert!(t.file_value("f", 2));
        assert!(!t.file_value("f", 7)); // still FAULT
        assert!(t.faulted());
        assert_eq!(t.fault_reasons(), vec!["tracked file f has status 7"]);
        assert!(t.file_value("f", 0));
        assert!(!t.faulted());
        assert!(t.file_value("g", 4));
        assert_eq!(t.effective_priority(100), 112);
        assert_eq!(t.effective_priority(255), 255);
        assert!(t.file_value("g", -100));
        assert!(t.faulted());
        assert!(!t.file_value("unknown", 1));
    }

    #[test]
    fn process_weights_as_keepalived() {
        // (weight, reverse, up) -> (delta, faulted)
        let cases = [
            (0, false, true, 0, false),
            (0, false, false, 0, true),
            (0, true, true, 0, true),
            (0, true, false, 0, false),
            (10, false, true, 10, false),
            (10, false, false, 0, false),
            (-10, false, true, 0, false),
            (-10, false, false, -10, false),
            (10, true, true, -10, false),
            (10, true, false, 0, false),
            (-10, true, false, 10, false),
            (-10, true, true, 0, false),
        ];
        for (w, r, up, delta, fault) in cases {
            let p = ProcessState {
                spec: TrackedProcess {
                    name: "p".into(),
                    weight: w,
                    reverse: r,
                    quorum: 1,
                    quorum_max: u32::MAX,
                },
                up,
            };
            assert_eq!(
                (p.delta(), p.faulted()),
                (delta, fault),
                "weight {w} reverse {r} up {up}"
            );
        }
    }

    #[test]
    fn quorum_range_and_delays() {
        let t0 = Instant::now();
        let s = Duration::from_secs(1);
        let mut q = ProcessQuorum::new(2, 3, Duration::ZERO, Duration::ZERO, 0);
        assert!(!q.have_quorum());
        assert_eq!(q.update(1, t0), None);
        assert_eq!(q.update(2, t0), Some(true));
        assert_eq!(q.update(3, t0), None);
        assert_eq!(q.update(4, t0), Some(false)); // above quorum_max
        assert_eq!(q.update(3, t0), Some(true));

        let mut q = ProcessQuorum::new(1, u32::MAX, 2 * s, 3 * s, 1);
        assert!(q.have_quorum());
        // Lost: counts after terminate_delay.
        assert_eq!(q.update(0, t0), None);
        assert_eq!(q.deadline(), Some(t0 + 3 * s));
        assert_eq!(q.update(0, t0 + 2 * s), None);
        assert_eq!(q.update(0, t0 + 3 * s), Some(false));
        assert_eq!(q.deadline(), None);
        // Gained: after fork_delay; back down before it cancels.
        assert_eq!(q.update(1, t0 + 4 * s), None);
        assert_eq!(q.deadline(), Some(t0 + 6 * s));
        assert_eq!(q.update(0, t0 + 5 * s), None);
        assert_eq!(q.deadline(), None);
        assert_eq!(q.update(1, t0 + 7 * s), None);
        assert_eq!(q.update(1, t0 + 9 * s), Some(true));

        // quorum_max 0: quorum while none runs.
        let q = ProcessQuorum::new(0, 0, Duration::ZERO, Duration::ZERO, 0);
        assert!(q.have_quorum());
    }

    #[test]
    fn file_values_read_as_strtol() {
        let cases = [
            ("", Some(0)),
            ("abc", Some(0)),
            ("12\n", Some(12)),
            ("  -7 apples", Some(-7)),
            ("+3", Some(3)),
            ("0x1f", Some(31)),
            ("010", Some(8)),
            ("09", Some(0)),
            ("0x", Some(0)),
            ("2147483648", Some(2_147_483_648)),
            ("2147483649", None),
            ("-2147483648", Some(-2_147_483_648)),
            ("-2147483649", None),
            ("99999999999999999999999", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_file_value(text), want, "{text:?}");
        }
    }
}
