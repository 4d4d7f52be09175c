//! An IPVS table as a value (services with their destinations), how two tables compare,
//! and the operations that turn one into the other. Pure: no I/O.

use crate::ipvs::{svc_flags, Dest, DestKey, Forward, Op, Service, ServiceKey, ServiceState};
use rustc_hash::{FxHashMap, FxHashSet};
use std::collections::BTreeMap;

/// One service and its destinations.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub service: Service,
    pub dests: Dests,
}

impl Entry {
    pub fn new(service: Service) -> Entry {
        Entry {
            service,
            dests: Dests::default(),
        }
    }
}

/// A service's destinations ordered by key: one sorted vector of records that carry their
/// own key. The reconciler keeps a copy of the whole kernel table, so its size per real
/// server matters: a `Dest` here costs its 44 bytes, where a B-tree map of key → `Dest`
/// cost ~160 (the key twice, nodes half full after in-order inserts). Lookups are binary
/// searches; a run of changes to one service goes through [`Dests::update`], one merge
/// whatever the run's length, so a service of many destinations is never shifted once per
/// change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Dests {
    sorted: Vec<Dest>,
}

/// How many changes [`Dests::update`] makes one by one before it merges instead.
const MERGE_FROM: usize = 16;

impl Dests {
    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    fn find(&self, k: &DestKey) -> Result<usize, usize> {
        self.sorted.binary_search_by(|d| d.key.cmp(k))
    }

    pub fn get(&self, k: &DestKey) -> Option<&Dest> {
        self.find(k).ok().map(|i| &self.sorted[i])
    }

    pub fn contains_key(&self, k: &DestKey) -> bool {
        self.find(k).is_ok()
    }

    /// Puts `d` in, in place of the destination of the same key if there is one.
    pub fn insert(&mut self, d: Dest) -> Option<Dest> {
        match self.find(&d.key) {
            Ok(i) => Some(std::mem::replace(&mut self.sorted[i], d)),
            Err(i) => {
                self.sorted.insert(i, d);
                None
            }
        }
    }

    pub fn remove(&mut self, k: &DestKey) -> Option<Dest> {
        self.find(k).ok().map(|i| self.sorted.remove(i))
    }

    /// Applies changes in their order (`Some`: put in or replace, `None`: take out), as
    /// that many [`insert`](Self::insert) and [`remove`](Self::remove) calls would, then
    /// gives back the room the vector no longer needs.
    pub fn update(&mut self, changes: impl IntoIterator<Item = (DestKey, Option<Dest>)>) {
        let changes: Vec<(DestKey, Option<Dest>)> = changes.into_iter().collect();
        if changes.len() < MERGE_FROM {
            for (k, d) in changes {
                match d {
                    Some(d) => {
                        self.insert(d);
                    }
                    None => {
                        self.remove(&k);
                    }
                }
            }
        } else {
            // The last change of each key is the one that counts.
            let mut last: FxHashMap<DestKey, Option<Dest>> =
                FxHashMap::with_capacity_and_hasher(changes.len(), Default::default());
            for (k, d) in changes {
                last.insert(k, d);
            }
            let mut kept: Vec<Dest> = Vec::with_capacity(self.sorted.len() + last.len());
            for d in self.sorted.drain(..) {
                match last.remove(&d.key) {
                    Some(Some(new)) => kept.push(new),
                    Some(None) => {}
                    None => kept.push(d),
                }
            }
            let mut added: Vec<Dest> = last.into_values().flatten().collect();
            if added.is_empty() {
                self.sorted = kept;
            } else {
                added.sort_unstable_by_key(|d| d.key);
                self.sorted = merge_sorted(kept, added);
            }
        }
        if self.sorted.capacity() > self.sorted.len() + self.sorted.len() / 4 {
            self.sorted.shrink_to_fit();
        }
    }

    pub fn keys(&self) -> impl Iterator<Item = &DestKey> {
        self.sorted.iter().map(|d| &d.key)
    }

    pub fn values(&self) -> std::slice::Iter<'_, Dest> {
        self.sorted.iter()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&DestKey, &Dest)> {
        self.sorted.iter().map(|d| (&d.key, d))
    }
}

/// Two vectors sorted by key, with no key in both, as one sorted vector.
fn merge_sorted(a: Vec<Dest>, b: Vec<Dest>) -> Vec<Dest> {
    let mut out = Vec::with_capacity(a.len() + b.len());
    let mut a = a.into_iter().peekable();
    let mut b = b.into_iter().peekable();
    loop {
        let take_a = match (a.peek(), b.peek()) {
            (Some(x), Some(y)) => x.key < y.key,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        out.extend(if take_a { a.next() } else { b.next() });
    }
    out
}

impl FromIterator<Dest> for Dests {
    /// The destinations in key order; of two with the same key the later one stays.
    fn from_iter<I: IntoIterator<Item = Dest>>(iter: I) -> Dests {
        let mut sorted: Vec<Dest> = iter.into_iter().collect();
        // stable: equal keys keep their order, so the last of them is the later one
        sorted.sort_by_key(|d| d.key);
        let mut out: Vec<Dest> = Vec::with_capacity(sorted.len());
        for d in sorted {
            match out.last_mut() {
                Some(prev) if prev.key == d.key => *prev = d,
                _ => out.push(d),
            }
        }
        Dests { sorted: out }
    }
}

impl<'a> IntoIterator for &'a Dests {
    type Item = (&'a DestKey, &'a Dest);
    type IntoIter =
        std::iter::Map<std::slice::Iter<'a, Dest>, fn(&'a Dest) -> (&'a DestKey, &'a Dest)>;
    fn into_iter(self) -> Self::IntoIter {
        fn pair(d: &Dest) -> (&DestKey, &Dest) {
            (&d.key, d)
        }
        self.sorted
            .iter()
            .map(pair as fn(&'a Dest) -> (&'a DestKey, &'a Dest))
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
        dump.into_iter().for_each(|s| t.add_dumped(s));
        t
    }

    /// Adds one service of a kernel dump (counters dropped).
    pub fn add_dumped(&mut self, s: ServiceState) {
        let e = Entry {
            service: s.service,
            dests: s.dests.into_iter().map(|d| d.dest).collect(),
        };
        self.services.insert(e.service.key, e);
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
                    e.dests.insert(d.clone());
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
    pub dests: FxHashMap<ServiceKey, KeySet>,
}

/// A set of destination keys, sorted in one vector: 20 bytes a key where a hash set took
/// ~33 (its buckets at most 7/8 full, a control byte each). Lvsd keeps one per service it
/// manages, so a key per real server.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeySet {
    sorted: Vec<DestKey>,
}

impl KeySet {
    pub fn contains(&self, k: &DestKey) -> bool {
        self.sorted.binary_search(k).is_ok()
    }

    pub fn len(&self) -> usize {
        self.sorted.len()
    }

    pub fn is_empty(&self) -> bool {
        self.sorted.is_empty()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, DestKey> {
        self.sorted.iter()
    }

    /// Adds keys (sorted once for all of them) and keeps no spare room.
    pub fn extend(&mut self, keys: impl IntoIterator<Item = DestKey>) {
        let before = self.sorted.len();
        self.sorted.extend(keys);
        if self.sorted.len() == before {
            return;
        }
        self.sorted.sort_unstable();
        self.sorted.dedup();
        self.sorted.shrink_to_fit();
    }
}

impl FromIterator<DestKey> for KeySet {
    fn from_iter<I: IntoIterator<Item = DestKey>>(iter: I) -> KeySet {
        let mut s = KeySet::default();
        s.extend(iter);
        s
    }
}

impl IntoIterator for KeySet {
    type Item = DestKey;
    type IntoIter = std::vec::IntoIter<DestKey>;
    fn into_iter(self) -> Self::IntoIter {
        self.sorted.into_iter()
    }
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
        e.dests.insert(dest(2, 1));
        e.dests.insert(dest(3, 5));
        desired.services.insert(e.service.key, e.clone());

        let mut actual = Table::default();
        let mut a = Entry::new(svc(80));
        a.dests.insert(dest(3, 1)); // weight differs
        a.dests.insert(dest(4, 1)); // ours, not wanted
        a.dests.insert(dest(9, 1)); // foreign
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

    /// A destination of 10.0.x.y:80 from a number, so that keys spread over many services'
    /// worth of addresses.
    fn dest_n(n: u32, weight: u32) -> Dest {
        Dest {
            key: DestKey {
                addr: std::net::Ipv4Addr::from(0x0a00_0000 + n).into(),
                port: 80,
            },
            ..dest(0, weight)
        }
    }

    /// The same changes, one by one and through `update`, leave the same destinations,
    /// whether `update` applies them one by one (a short run) or merges them (a long one,
    /// with keys changed twice, taken out and put back, and new keys before, among and
    /// after the old ones).
    #[test]
    fn an_update_equals_its_changes_one_by_one() {
        let start: Dests = (100..400).step_by(3).map(|n| dest_n(n, 1)).collect();
        let mut seed = 7u64;
        let mut next = || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as u32
        };
        for run in [1usize, 5, 15, 16, 40, 300] {
            let changes: Vec<(DestKey, Option<Dest>)> = (0..run)
                .map(|_| {
                    let d = dest_n(next() % 500, next() % 4);
                    if next() % 3 == 0 {
                        (d.key, None)
                    } else {
                        (d.key, Some(d))
                    }
                })
                .collect();
            let mut one_by_one = start.clone();
            for (k, d) in changes.clone() {
                match d {
                    Some(d) => {
                        one_by_one.insert(d);
                    }
                    None => {
                        one_by_one.remove(&k);
                    }
                }
            }
            let mut merged = start.clone();
            merged.update(changes);
            assert_eq!(merged, one_by_one, "a run of {run} changes");
            let keys: Vec<&DestKey> = merged.keys().collect();
            assert!(keys.windows(2).all(|w| w[0] < w[1]), "sorted, no key twice");
        }
    }

    #[test]
    fn dests_collected_keep_the_later_of_two_with_one_key() {
        let d: Dests = [dest(3, 1), dest(2, 1), dest(3, 7)].into_iter().collect();
        assert_eq!(d.len(), 2);
        assert_eq!(d.get(&dest(3, 0).key).map(|d| d.weight), Some(7));
        assert_eq!(d.keys().next(), Some(&dest(2, 0).key));
    }

    /// The reconciler's copy of the kernel table holds one `Dest` per real server in a
    /// vector, with no more room kept than a quarter over what it holds after an update.
    #[test]
    fn a_destination_costs_its_record_and_little_room() {
        assert!(
            std::mem::size_of::<Dest>() <= 44,
            "{}",
            std::mem::size_of::<Dest>()
        );
        let mut d = Dests::default();
        for n in 0..20 {
            d.update([(dest_n(n, 1).key, Some(dest_n(n, 1)))]);
        }
        assert!(d.sorted.capacity() <= 25, "{}", d.sorted.capacity());
        d.update((20..1000).map(|n| (dest_n(n, 1).key, Some(dest_n(n, 1)))));
        d.update((0..900).map(|n| (dest_n(n, 1).key, None)));
        assert_eq!(d.len(), 100);
        assert!(d.sorted.capacity() <= 125, "{}", d.sorted.capacity());
    }

    /// Keys added in several runs, some twice, are each there once, sorted, with no
    /// spare room kept.
    #[test]
    fn a_key_set_merges_runs_of_keys() {
        let mut set: KeySet = [5, 1, 3].map(|n| dest_n(n, 1).key).into_iter().collect();
        set.extend([3, 9, 0, 9].map(|n| dest_n(n, 1).key));
        let want: Vec<DestKey> = [0, 1, 3, 5, 9].map(|n| dest_n(n, 1).key).to_vec();
        assert_eq!(set.iter().copied().collect::<Vec<_>>(), want);
        assert!(set.contains(&dest_n(9, 1).key));
        assert!(!set.contains(&dest_n(4, 1).key));
        assert_eq!(set.sorted.capacity(), set.len());
    }
}
