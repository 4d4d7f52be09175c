//! An IPVS table as a value (services with their destinations), how two tables compare,
//! and the operations that turn one into the other. Pure: no I/O.

use crate::ipvs::{svc_flags, Dest, DestKey, Forward, Op, Service, ServiceKey, ServiceState};
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::BTreeMap;

/// One service and its destinations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub service: Service,
    pub dests: BTreeMap<DestKey, Dest>,
}

impl Entry {
    pub fn new(service: Service) -> Entry {
        Entry {
            service,
            dests: BTreeMap::new(),
        }
    }
}

/// A whole table, ordered so that the operations derived from it are deterministic.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    pub services: BTreeMap<ServiceKey, Entry>,
}

impl Table {
    /// The table a kernel dump describes (counters dropped).
    pub fn from_dump(dump: Vec<ServiceState>) -> Table {
        let mut t = Table::default();
        for s in dump {
            let mut e = Entry::new(s.service);
            for d in s.dests {
                e.dests.insert(d.dest.key, d.dest);
            }
            t.services.insert(e.service.key, e);
        }
        t
    }

    pub fn dest_count(&self) -> usize {
        self.services.values().map(|e| e.dests.len()).sum()
    }

    /// Updates this table as the kernel did when `op` succeeded.
    pub fn apply(&mut self, op: &Op) {
        match op {
            Op::AddService(s) | Op::EditService(s) => match self.services.entry(s.key) {
                std::collections::btree_map::Entry::Vacant(v) => {
                    v.insert(Entry::new(s.clone()));
                }
                std::collections::btree_map::Entry::Occupied(mut o) => {
                    o.get_mut().service = s.clone();
                }
            },
            Op::DelService(k) => {
                self.services.remove(k);
            }
            Op::AddDest(k, d) | Op::EditDest(k, d) => {
                if let Some(e) = self.services.get_mut(k) {
                    e.dests.insert(d.key, d.clone());
                }
            }
            Op::DelDest(k, dk) => {
                if let Some(e) = self.services.get_mut(k) {
                    e.dests.remove(dk);
                }
            }
        }
    }
}

/// Whether the kernel's service `actual` already is `wanted` (HASHED is the kernel's own
/// bit; the persistence netmask matters only to persistent services).
pub fn service_matches(actual: &Service, wanted: &Service) -> bool {
    let flags = |s: &Service| s.flags & !svc_flags::HASHED;
    let persistent = wanted.flags & svc_flags::PERSISTENT != 0;
    actual.scheduler == wanted.scheduler
        && flags(actual) == flags(wanted)
        && actual.timeout == wanted.timeout
        && (!persistent || actual.netmask == wanted.netmask)
        && actual.pe_name.as_deref().unwrap_or("") == wanted.pe_name.as_deref().unwrap_or("")
}

/// Whether the kernel's destination `actual` already is `wanted`. Tunnel parameters matter
/// only to TUN destinations, and no parameters means the kernel's default (IPIP, no csum).
pub fn dest_matches(actual: &Dest, wanted: &Dest) -> bool {
    let tunnel = |d: &Dest| {
        if d.forward == Forward::Tunnel {
            d.tunnel.unwrap_or(crate::ipvs::TunnelParams {
                tun_type: 0,
                tun_port: 0,
                tun_flags: 0,
            })
        } else {
            crate::ipvs::TunnelParams {
                tun_type: 0,
                tun_port: 0,
                tun_flags: 0,
            }
        }
    };
    actual.forward == wanted.forward
        && actual.weight == wanted.weight
        && actual.upper_threshold == wanted.upper_threshold
        && actual.lower_threshold == wanted.lower_threshold
        && tunnel(actual) == tunnel(wanted)
}

/// What lvsd may change: the services it manages, and within them the destinations it
/// manages. Everything else in the kernel is someone else's and is left alone.
/// (Fx hashing: the keys come from the configuration and the kernel, and a cold start
/// hashes every destination a few times.)
#[derive(Debug, Clone, Default)]
pub struct Ownership {
    pub services: FxHashSet<ServiceKey>,
    pub dests: FxHashMap<ServiceKey, FxHashSet<DestKey>>,
}

impl Ownership {
    pub fn owns_service(&self, k: &ServiceKey) -> bool {
        self.services.contains(k)
    }
    pub fn owns_dest(&self, k: &ServiceKey, d: &DestKey) -> bool {
        self.dests.get(k).is_some_and(|s| s.contains(d))
    }
}

/// What lvsd may remove, as the diff asks it.
pub trait Owns {
    fn owns_service(&self, k: &ServiceKey) -> bool;
    fn owns_dest(&self, k: &ServiceKey, d: &DestKey) -> bool;
}

impl Owns for Ownership {
    fn owns_service(&self, k: &ServiceKey) -> bool {
        Ownership::owns_service(self, k)
    }
    fn owns_dest(&self, k: &ServiceKey, d: &DestKey) -> bool {
        Ownership::owns_dest(self, k, d)
    }
}

/// Two ownerships as one: what lvsd owned before a pass, and what the part of the
/// configuration being diffed claims.
pub struct Both<'a>(pub &'a Ownership, pub &'a Ownership);

impl Owns for Both<'_> {
    fn owns_service(&self, k: &ServiceKey) -> bool {
        self.0.owns_service(k) || self.1.owns_service(k)
    }
    fn owns_dest(&self, k: &ServiceKey, d: &DestKey) -> bool {
        self.0.owns_dest(k, d) || self.1.owns_dest(k, d)
    }
}

/// The operations that make `actual` look like `desired`, touching only what `owned`
/// allows to be removed. Services come before their destinations; deletions of
/// destinations come before additions within a service (so a swap never overshoots a
/// threshold), and services are deleted last.
pub fn diff(desired: &Table, actual: &Table, owned: &Ownership) -> Vec<Op> {
    let mut ops = Vec::new();
    for (k, want) in &desired.services {
        diff_service(k, Some(want), actual.services.get(k), owned, &mut ops);
    }
    for (k, have) in &actual.services {
        if !desired.services.contains_key(k) {
            diff_service(k, None, Some(have), owned, &mut ops);
        }
    }
    ops
}

/// The operations for one service: `want` None means the service should not exist.
pub fn diff_service<O: Owns>(
    k: &ServiceKey,
    want: Option<&Entry>,
    have: Option<&Entry>,
    owned: &O,
    ops: &mut Vec<Op>,
) {
    match (want, have) {
        (None, None) => {}
        (None, Some(_)) => {
            if owned.owns_service(k) {
                ops.push(Op::DelService(*k));
            }
        }
        (Some(want), None) => {
            ops.push(Op::AddService(want.service.clone()));
            for d in want.dests.values() {
                ops.push(Op::AddDest(*k, d.clone()));
            }
        }
        (Some(want), Some(have)) => {
            if !service_matches(&have.service, &want.service) {
                ops.push(Op::EditService(want.service.clone()));
            }
            for dk in have.dests.keys() {
                if !want.dests.contains_key(dk) && owned.owns_dest(k, dk) {
                    ops.push(Op::DelDest(*k, *dk));
                }
            }
            for (dk, d) in &want.dests {
                match have.dests.get(dk) {
                    None => ops.push(Op::AddDest(*k, d.clone())),
                    Some(h) if !dest_matches(h, d) => ops.push(Op::EditDest(*k, d.clone())),
                    Some(_) => {}
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipvs::{Proto, TunnelParams};

    fn svc(port: u16) -> Service {
        Service {
            key: ServiceKey::Addr {
                proto: Proto::Tcp,
                addr: "10.0.0.1".parse().unwrap(),
                port,
            },
            scheduler: "wlc".into(),
            flags: 0,
            timeout: 0,
            netmask: 0xffff_ffff,
            pe_name: None,
        }
    }

    fn dest(last: u8, weight: u32) -> Dest {
        Dest {
            key: DestKey {
                addr: format!("10.0.1.{last}").parse().unwrap(),
                port: 80,
            },
            forward: Forward::Masq,
            weight,
            upper_threshold: 0,
            lower_threshold: 0,
            tunnel: None,
        }
    }

    #[test]
    fn service_compare_ignores_hashed_and_unused_netmask() {
        let a = svc(80);
        let mut b = a.clone();
        b.flags |= svc_flags::HASHED;
        b.netmask = 0;
        assert!(service_matches(&b, &a));
        let mut p = a.clone();
        p.flags = svc_flags::PERSISTENT;
        p.timeout = 300;
        let mut q = p.clone();
        q.netmask = 0xffff_ff00;
        assert!(!service_matches(&q, &p));
        let mut r = a.clone();
        r.scheduler = "rr".into();
        assert!(!service_matches(&r, &a));
        let mut s = a.clone();
        s.pe_name = Some(String::new());
        assert!(service_matches(&s, &a));
    }

    #[test]
    fn dest_compare_defaults_tunnel_params() {
        let mut a = dest(2, 1);
        a.forward = Forward::Tunnel;
        let mut b = a.clone();
        b.tunnel = Some(TunnelParams {
            tun_type: 0,
            tun_port: 0,
            tun_flags: 0,
        });
        assert!(dest_matches(&b, &a));
        b.tunnel = Some(TunnelParams {
            tun_type: 1,
            tun_port: 6080,
            tun_flags: 0,
        });
        assert!(!dest_matches(&b, &a));
        // Tunnel params on a DR dest are noise.
        let mut c = dest(2, 1);
        c.forward = Forward::DirectRoute;
        let mut d = c.clone();
        d.tunnel = b.tunnel;
        assert!(dest_matches(&d, &c));
        let mut w = c.clone();
        w.weight = 0;
        assert!(!dest_matches(&w, &c));
    }

    #[test]
    fn diff_orders_and_respects_ownership() {
        let mut desired = Table::default();
        let mut e = Entry::new(svc(80));
        e.dests.insert(dest(2, 1).key, dest(2, 1));
        e.dests.insert(dest(3, 5).key, dest(3, 5));
        desired.services.insert(e.service.key, e.clone());

        let mut actual = Table::default();
        let mut a = Entry::new(svc(80));
        a.dests.insert(dest(3, 1).key, dest(3, 1)); // weight differs
        a.dests.insert(dest(4, 1).key, dest(4, 1)); // ours, not wanted
        a.dests.insert(dest(9, 1).key, dest(9, 1)); // foreign
        actual.services.insert(a.service.key, a);
        actual.services.insert(svc(443).key, Entry::new(svc(443))); // ours, not wanted
        actual.services.insert(svc(8080).key, Entry::new(svc(8080))); // foreign

        let mut owned = Ownership::default();
        owned.services.insert(svc(80).key);
        owned.services.insert(svc(443).key);
        owned.dests.entry(svc(80).key).or_default().extend([
            dest(2, 1).key,
            dest(3, 1).key,
            dest(4, 1).key,
        ]);

        let ops = diff(&desired, &actual, &owned);
        assert_eq!(
            ops,
            vec![
                Op::DelDest(svc(80).key, dest(4, 1).key),
                Op::AddDest(svc(80).key, dest(2, 1)),
                Op::EditDest(svc(80).key, dest(3, 5)),
                Op::DelService(svc(443).key),
            ]
        );
        // Applying the ops to the actual table gives the desired one, plus foreign entries.
        for op in &ops {
            actual.apply(op);
        }
        assert!(diff(&desired, &actual, &owned).is_empty());
        assert!(actual.services.contains_key(&svc(8080).key));
        assert!(actual.services[&svc(80).key]
            .dests
            .contains_key(&dest(9, 1).key));
    }
}
