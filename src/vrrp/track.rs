//! Tracking: `track_script` (rise/fall, weight, reverse) and `track_interface` (link state,
//! weight, reverse) folded into an effective priority and a FAULT condition. No I/O: the
//! runtime runs the scripts and watches links, and feeds raw results in.

use crate::vrrp::params::{TrackedInterface, TrackedScript};

/// The rise/fall state of one tracked script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptState {
    pub spec: TrackedScript,
    /// Current (debounced) result.
    pub up: bool,
    /// Consecutive raw results contradicting `up`.
    streak: u32,
}

impl ScriptState {
    pub fn new(spec: TrackedScript) -> Self {
        ScriptState {
            up: !spec.init_fail,
            spec,
            streak: 0,
        }
    }

    /// Feeds one raw result; returns true when the debounced state flipped.
    pub fn record(&mut self, ok: bool) -> bool {
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

    /// Whether this script currently puts the instance in FAULT.
    pub fn faulted(&self) -> bool {
        self.spec.weight == 0 && !self.up
    }

    /// What this script adds to the priority now.
    pub fn delta(&self) -> i32 {
        weight_delta(self.spec.weight, self.spec.reverse, self.up)
    }
}

/// A weight applies while "good" when positive and while "bad" when negative; `reverse`
/// swaps good and bad.
fn weight_delta(weight: i32, reverse: bool, good: bool) -> i32 {
    let good = good != reverse;
    if (weight > 0 && good) || (weight < 0 && !good) {
        weight
    } else {
        0
    }
}

/// The link state of one tracked interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceState {
    pub spec: TrackedInterface,
    pub up: bool,
}

impl InterfaceState {
    pub fn faulted(&self) -> bool {
        self.spec.weight.is_none() && !self.up
    }
    pub fn delta(&self) -> i32 {
        self.spec
            .weight
            .map_or(0, |w| weight_delta(w, self.spec.reverse, self.up))
    }
}

/// All trackers of one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tracking {
    pub scripts: Vec<ScriptState>,
    pub interfaces: Vec<InterfaceState>,
}

impl Tracking {
    /// Interfaces start up: the runtime reports the real link state right after start.
    pub fn new(scripts: &[TrackedScript], interfaces: &[TrackedInterface]) -> Self {
        Tracking {
            scripts: scripts.iter().cloned().map(ScriptState::new).collect(),
            interfaces: interfaces
                .iter()
                .cloned()
                .map(|spec| InterfaceState { spec, up: true })
                .collect(),
        }
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
                s.streak = o.streak;
            }
        }
        for i in &mut self.interfaces {
            if let Some(o) = old.interfaces.iter().find(|o| o.spec.name == i.spec.name) {
                i.up = o.up;
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
    }

    /// Human-readable list of what is faulted (for logs).
    pub fn fault_reasons(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .scripts
            .iter()
            .filter(|s| s.faulted())
            .map(|s| format!("script {} failed", s.spec.name))
            .collect();
        v.extend(
            self.interfaces
                .iter()
                .filter(|i| i.faulted())
                .map(|i| format!("interface {} down", i.spec.name)),
        );
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
    }

    /// The effective priority for a base priority: the owner (255) is never changed by
    /// weights (as keepalived); others are clamped to 1..=254.
    pub fn effective_priority(&self, base: u8) -> u8 {
        if base == 255 {
            return 255;
        }
        (i32::from(base) + self.delta()).clamp(1, 254) as u8
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
        assert!(s.up);
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
    }

    #[test]
    fn weight_table() {
        // (weight, reverse, up) -> delta
        let cases = [
            (10, false, true, 10),
            (10, false, false, 0),
            (-10, false, true, 0),
            (-10, false, false, -10),
            (10, true, true, 0),
            (10, true, false, 10),
            (-10, true, true, -10),
            (-10, true, false, 0),
            (0, false, false, 0),
        ];
        for (w, r, up, want) in cases {
            let mut s = ScriptState::new(script(w, r, 1, 1));
            s.up = up;
            assert_eq!(s.delta(), want, "weight {w} reverse {r} up {up}");
            assert_eq!(s.faulted(), w == 0 && !up);
        }
    }

    #[test]
    fn effective_priority_clamps_and_owner_is_fixed() {
        let mut t = Tracking::new(&[script(-200, false, 1, 1)], &[]);
        assert_eq!(t.effective_priority(100), 100);
        t.script_result("chk", false);
        assert_eq!(t.effective_priority(100), 1);
        assert_eq!(t.effective_priority(255), 255);
        let mut t = Tracking::new(&[script(200, false, 1, 1)], &[]);
        assert_eq!(t.effective_priority(100), 254);
        t.script_result("chk", false);
        assert_eq!(t.effective_priority(100), 100);
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
    }

    #[test]
    fn init_fail_starts_failed() {
        let mut spec = script(0, false, 2, 1);
        spec.init_fail = true;
        let s = ScriptState::new(spec);
        assert!(!s.up);
        assert!(s.faulted());
    }
}
