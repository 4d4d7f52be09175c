//! `interface_up_down_delays`: an interface's link change reaches the instances only once
//! it has lasted the interface's delay; a change that is undone within the delay is never
//! seen (keepalived 2.2.7's debounce timers). No I/O: the runtime feeds link states and
//! the time, and asks when the next pending change is due.

use crate::config::model::IfDelays;
use crate::vrrp::params::InstanceParams;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Default)]
struct Link {
    /// The state the instances know.
    up: bool,
    /// keepalived delays only after the interface was once seen up.
    seen_up: bool,
    /// A change waiting for its delay: the new state and when it is due.
    pending: Option<(bool, Instant)>,
}

/// The delays per interface, and the link states the instances were told.
#[derive(Debug, Clone, Default)]
pub struct Debounce {
    /// (down, up) per interface.
    delays: BTreeMap<String, (Duration, Duration)>,
    links: BTreeMap<String, Link>,
}

impl Debounce {
    /// The delays of `config`; as keepalived, each is cut to just under
    /// (down_timer_adverts − 1) advert intervals of the instances on that interface
    /// (else a backup would take over before the master saw its own link go), with a
    /// warning.
    pub fn new(config: &[IfDelays], params: &[InstanceParams]) -> Debounce {
        let mut delays = BTreeMap::new();
        for d in config {
            let mut dl = (d.down, d.up);
            for p in params.iter().filter(|p| p.interface == d.interface) {
                let cap = p.advert_int * p.down_timer_adverts.saturating_sub(1);
                let under = cap.saturating_sub(p.advert_int / 256);
                if dl.0 >= cap || dl.1 >= cap {
                    tracing::warn!(
                        "VRRP_Instance({}) interface {} up/down delays not less than {} advert \
                         intervals: cut to {:.6} s",
                        p.name,
                        d.interface,
                        p.down_timer_adverts.saturating_sub(1),
                        under.as_secs_f64()
                    );
                    dl = (dl.0.min(under), dl.1.min(under));
                }
            }
            delays.insert(d.interface.clone(), dl);
        }
        Debounce {
            delays,
            links: BTreeMap::new(),
        }
    }

    /// Takes the delays of `new` (after a reload), keeping the link states.
    pub fn reconfigure(&mut self, new: Debounce) {
        self.delays = new.delays;
    }

    /// The state of `ifname` the instances were told (None: never told).
    pub fn told(&self, ifname: &str) -> Option<bool> {
        self.links.get(ifname).map(|l| l.up)
    }

    /// The link state found at start (or when the interface appeared): told at once.
    pub fn initial(&mut self, ifname: &str, up: bool) {
        let l = self.links.entry(ifname.to_string()).or_default();
        l.up = up;
        l.seen_up |= up;
        l.pending = None;
    }

    /// The kernel says `ifname` is `up` now. Some(state): tell the instances now; None:
    /// nothing to tell yet (no change, or the change waits for its delay).
    pub fn link(&mut self, now: Instant, ifname: &str, up: bool) -> Option<bool> {
        let delay = self.delays.get(ifname).map(|d| if up { d.1 } else { d.0 });
        let l = self.links.entry(ifname.to_string()).or_insert(Link {
            up: !up,
            ..Link::default()
        });
        if let Some((to, _)) = l.pending {
            if to == up {
                return None;
            }
            l.pending = None;
            tracing::info!("{ifname}: delayed link change cancelled");
        }
        if l.up == up {
            return None;
        }
        match delay {
            Some(d) if l.seen_up && !d.is_zero() => {
                tracing::info!(
                    "{ifname}: link {} told to the instances in {:.6} s unless it changes back",
                    if up { "up" } else { "down" },
                    d.as_secs_f64()
                );
                l.pending = Some((up, now + d));
                None
            }
            _ => {
                l.up = up;
                l.seen_up |= up;
                Some(up)
            }
        }
    }

    /// The interface is gone: told at once, any pending change dropped.
    pub fn gone(&mut self, ifname: &str) {
        if let Some(l) = self.links.get_mut(ifname) {
            l.up = false;
            l.pending = None;
        }
    }

    /// When the next delayed change is due.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.links
            .values()
            .filter_map(|l| l.pending.map(|p| p.1))
            .min()
    }

    /// The delayed changes due at `now`, to tell the instances.
    pub fn due(&mut self, now: Instant) -> Vec<(String, bool)> {
        let mut out = Vec::new();
        for (name, l) in &mut self.links {
            if let Some((up, at)) = l.pending {
                if at <= now {
                    l.pending = None;
                    l.up = up;
                    l.seen_up |= up;
                    out.push((name.clone(), up));
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deb(down: u64, up: u64) -> Debounce {
        let d = IfDelays {
            interface: "eth0".into(),
            down: Duration::from_millis(down),
            up: Duration::from_millis(up),
        };
        Debounce::new(&[d], &[])
    }

    #[test]
    fn a_bounce_shorter_than_the_delay_is_never_told() {
        let t0 = Instant::now();
        let ms = Duration::from_millis;
        let mut d = deb(2000, 1000);
        d.initial("eth0", true);
        assert_eq!(d.link(t0, "eth0", false), None);
        assert_eq!(d.next_deadline(), Some(t0 + ms(2000)));
        assert_eq!(
            d.link(t0 + ms(500), "eth0", true),
            None,
            "back up: cancelled"
        );
        assert_eq!(d.next_deadline(), None);
        assert!(d.due(t0 + ms(3000)).is_empty());
        // Down for longer than the delay: told when it is due, not before.
        assert_eq!(d.link(t0 + ms(4000), "eth0", false), None);
        assert!(d.due(t0 + ms(5999)).is_empty());
        assert_eq!(d.due(t0 + ms(6000)), vec![("eth0".to_string(), false)]);
        // Up again: the up delay.
        assert_eq!(d.link(t0 + ms(7000), "eth0", true), None);
        assert_eq!(d.next_deadline(), Some(t0 + ms(8000)));
        assert_eq!(d.due(t0 + ms(8000)), vec![("eth0".to_string(), true)]);
    }

    #[test]
    fn other_interfaces_and_first_up_are_told_at_once() {
        let t0 = Instant::now();
        let mut d = deb(2000, 2000);
        d.initial("eth0", false);
        // Never seen up: no delay (keepalived's seen_up).
        assert_eq!(d.link(t0, "eth0", true), Some(true));
        assert_eq!(d.link(t0, "eth0", true), None, "no change");
        d.initial("eth1", true);
        assert_eq!(d.link(t0, "eth1", false), Some(false));
    }

    #[test]
    fn delays_are_cut_below_the_master_down_margin() {
        let mut p = crate::vrrp::params::InstanceParams::from_config(
            &{
                let mut i = crate::config::model::VrrpInstance::new("V".into(), Default::default());
                i.interface = "eth0".into();
                i.virtual_router_id = 1;
                i
            },
            &Default::default(),
            &[],
        )
        .expect("params");
        p.advert_int = Duration::from_secs(1);
        let d = IfDelays {
            interface: "eth0".into(),
            down: Duration::from_secs(5),
            up: Duration::from_millis(100),
        };
        let deb = Debounce::new(&[d], &[p]);
        // (3 − 1) × 1 s − 1 s / 256
        let cut = Duration::from_secs(2) - Duration::from_secs(1) / 256;
        assert_eq!(deb.delays["eth0"], (cut, Duration::from_millis(100)));
    }
}
