//! The reconciler: brings the kernel's IPVS table to the desired one with the fewest
//! operations, touching only what lvsd owns.
//!
//! It keeps a copy of the kernel table (from the last dump, updated by every operation
//! that succeeded), so a checker event or a reload costs a diff of the affected services
//! and only the differing operations — no dump. After a failed operation or transport
//! error the copy is no longer trusted: the next pass (the runtime retries each second
//! while [`Reconciler::needs_retry`]) dumps the kernel again and diffs everything.
//!
//! Ownership: lvsd manages every service the configuration names (adopting one that
//! already exists) and every service it created; within those, every real and sorry
//! server the configuration names and every destination it added. Services and
//! destinations that are neither — someone else's — are never edited or deleted (as
//! keepalived removes nothing it did not add). At exit, the managed services are deleted
//! whole (with any foreign destination inside them), unless `-I`.

use super::table::{diff, diff_service, Both, Ownership, Table};
use crate::ipvs::{IpvsBackend, Op, ServiceKey};
use rustc_hash::FxHashSet;
use tracing::{debug, info, warn};

/// Counters of the reconciler.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ReconcileStats {
    pub passes: u64,
    pub dumps: u64,
    pub ops_ok: u64,
    pub ops_failed: u64,
    pub transport_errors: u64,
    /// Heal passes run, and those that found the kernel table changed behind lvsd's back.
    pub heals: u64,
    pub heals_with_drift: u64,
    /// Heal passes given up while reading the table back (a reload or a stop came).
    pub heals_given_up: u64,
}

/// The outcome of one pass.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pass {
    pub ops: usize,
    pub failed: usize,
    /// The operations sent, by kind (a heal pass reports them as drift).
    pub kinds: OpKinds,
    /// A heal pass given up before it had read and diffed the whole table: nothing was
    /// sent, or (given up during the diff) only the parts before, booked.
    pub given_up: bool,
}

/// How many operations of each kind a pass sent.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpKinds {
    pub add_service: usize,
    pub edit_service: usize,
    pub del_service: usize,
    pub add_dest: usize,
    pub edit_dest: usize,
    pub del_dest: usize,
}

impl OpKinds {
    pub fn count(&mut self, op: &Op) {
        let n = match op {
            Op::AddService(_) => &mut self.add_service,
            Op::EditService(_) => &mut self.edit_service,
            Op::DelService(_) => &mut self.del_service,
            Op::AddDest(..) => &mut self.add_dest,
            Op::EditDest(..) => &mut self.edit_dest,
            Op::DelDest(..) => &mut self.del_dest,
        };
        *n += 1;
    }

    /// What a heal pass found changed behind lvsd's back, one sentence per kind of drift
    /// with its count (a flushed table of thousands of entries is a few lines).
    pub fn drift_lines(&self) -> Vec<String> {
        let kinds = [
            (
                self.add_service,
                "virtual services lvsd manages were missing from the kernel: added back",
            ),
            (
                self.edit_service,
                "virtual services had been changed (scheduler, flags or persistence): restored",
            ),
            (
                self.del_service,
                "virtual services lvsd no longer wants were present: deleted",
            ),
            (
                self.add_dest,
                "real servers lvsd manages were missing from the kernel: added back",
            ),
            (
                self.edit_dest,
                "real servers had been changed (weight, forwarding or thresholds): restored",
            ),
            (
                self.del_dest,
                "real servers lvsd no longer wants were present: deleted",
            ),
        ];
        kinds
            .iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, what)| format!("IPVS table drift: {n} {what}"))
            .collect()
    }
}

#[derive(Debug, Default)]
pub struct Reconciler {
    actual: Table,
    owned: Ownership,
    /// The copy may differ from the kernel: dump before the next diff.
    stale: bool,
    /// Something failed: the next full pass is due (the runtime's retry).
    retry: bool,
    pub stats: ReconcileStats,
}

/// The kernel's name for an errno (`EEXIST`), for log lines.
pub fn errno_name(e: i32) -> String {
    let errno = nix::errno::Errno::from_raw(e);
    format!("{errno:?} ({})", errno.desc())
}

fn describe(op: &Op) -> String {
    match op {
        Op::AddService(s) => format!("add service {:?}", s.key),
        Op::EditService(s) => format!("edit service {:?}", s.key),
        Op::DelService(k) => format!("delete service {k:?}"),
        Op::AddDest(k, d) => format!("add dest {}:{} to {k:?}", d.key.addr, d.key.port),
        Op::EditDest(k, d) => format!("edit dest {}:{} in {k:?}", d.key.addr, d.key.port),
        Op::DelDest(k, d) => format!("delete dest {}:{} from {k:?}", d.addr, d.port),
    }
}

/// The service a destination operation works on (None for service operations).
fn dest_op_service(op: &Op) -> Option<&ServiceKey> {
    match op {
        Op::AddDest(k, _) | Op::EditDest(k, _) | Op::DelDest(k, _) => Some(k),
        _ => None,
    }
}

/// Operations a full pass sends together once it has found them (services are never
/// split: a part ends after the service that reaches this many).
const PART_OPS: usize = 1024;

/// A pass's closing line: its figures (debug) when everything went through, else how
/// many operations failed.
fn log_outcome(pass: &Pass, figures: impl FnOnce() -> String) {
    if pass.failed == 0 {
        debug!("{}", figures());
    } else {
        info!(
            "IPVS: {} of {} operations failed; retrying on the next pass",
            pass.failed, pass.ops
        );
    }
}

impl Reconciler {
    /// A reconciler that has not seen the kernel yet (its first pass dumps).
    pub fn new() -> Reconciler {
        Reconciler {
            stale: true,
            retry: true,
            ..Default::default()
        }
    }

    /// A reconciler that starts from a table just read from the kernel.
    pub fn from_dump(dump: Vec<crate::ipvs::ServiceState>) -> Reconciler {
        Reconciler {
            actual: Table::from_dump(dump),
            stale: false,
            retry: true,
            ..Default::default()
        }
    }

    /// The kernel table as the reconciler believes it is.
    pub fn actual(&self) -> &Table {
        &self.actual
    }

    pub fn owned(&self) -> &Ownership {
        &self.owned
    }

    /// Adds what the configuration names to what lvsd manages (at start and on reload;
    /// what was claimed before stays claimed, so removed entries get deleted).
    pub fn claim(&mut self, claims: Ownership) {
        if self.owned.services.is_empty() && self.owned.dests.is_empty() {
            self.owned = claims;
            return;
        }
        self.owned.services.extend(claims.services);
        for (k, d) in claims.dests {
            match self.owned.dests.entry(k) {
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(d);
                }
                std::collections::hash_map::Entry::Occupied(mut o) => o.get_mut().extend(d),
            }
        }
    }

    /// Whether the last pass left something undone (retry with [`Reconciler::sync`]).
    pub fn needs_retry(&self) -> bool {
        self.retry
    }

    /// The operations a full pass would send now (pure; for tests and `-d`).
    pub fn plan(&self, desired: &Table) -> Vec<Op> {
        diff(desired, &self.actual, &self.owned)
    }

    /// A full pass: dumps the kernel when the copy is not trusted, then diffs everything.
    pub fn sync<B: IpvsBackend>(
        &mut self,
        backend: &mut B,
        desired: &Table,
    ) -> Result<Pass, B::Error> {
        self.sync_parts(backend, |emit| emit(desired, Ownership::default()))
    }

    /// A full pass over a desired table that `produce` hands over in parts (each part some
    /// services with their destinations, and what the configuration claims among them; a
    /// service in more than one part counts once, as its first part has it; the claims
    /// are added to what lvsd manages, as [`Reconciler::claim`] does). Each part is diffed
    /// against the copy of the kernel table as it comes, and the operations go out about
    /// [`PART_OPS`] at a time, so the whole desired table is never built at once.
    /// The operations come in the same order as [`Reconciler::plan`]'s: services
    /// before their destinations, deletions of unwanted services last. Successes are
    /// booked once every part is sent.
    pub fn sync_parts<B, P>(&mut self, backend: &mut B, produce: P) -> Result<Pass, B::Error>
    where
        B: IpvsBackend,
        P: FnOnce(&mut dyn FnMut(&Table, Ownership)),
    {
        self.sync_parts_unless(backend, produce, &|| false)
    }

    /// [`Reconciler::sync_parts`], asking `give_up` before each part: once it answers true
    /// the parts after are not diffed, nothing unwanted is deleted (the parts not seen may
    /// want it), the operations built and not yet sent are dropped, and the pass ends
    /// `given_up` with what it sent booked.
    fn sync_parts_unless<B, P>(
        &mut self,
        backend: &mut B,
        produce: P,
        give_up: &dyn Fn() -> bool,
    ) -> Result<Pass, B::Error>
    where
        B: IpvsBackend,
        P: FnOnce(&mut dyn FnMut(&Table, Ownership)),
    {
        let started = std::time::Instant::now();
        if self.stale {
            self.refresh(backend)?;
        }
        let dumped = started.elapsed();
        self.retry = false;
        self.stats.passes += 1;
        let (actual, owned) = (&self.actual, &self.owned);
        let mut sent: Vec<(Vec<Op>, Vec<crate::ipvs::OpResult>)> = Vec::new();
        let mut failure = None;
        // After a transport error nothing more is sent.
        let mut kinds = OpKinds::default();
        let mut send = |ops: Vec<Op>| {
            if failure.is_some() || ops.is_empty() {
                return;
            }
            for op in &ops {
                kinds.count(op);
            }
            match backend.apply(&ops) {
                Ok(results) => sent.push((ops, results)),
                Err(e) => failure = Some(e),
            }
        };
        let mut wanted: FxHashSet<ServiceKey> = FxHashSet::default();
        let mut claims = Vec::new();
        let mut ops = Vec::new();
        // Latched: once given up, every part after is passed over.
        let mut given_up = false;
        produce(&mut |part: &Table, claimed: Ownership| {
            given_up = given_up || give_up();
            if given_up {
                return;
            }
            let owns = Both(owned, &claimed);
            for (k, want) in &part.services {
                if !wanted.insert(*k) {
                    continue;
                }
                diff_service(k, Some(want), actual.services.get(k), &owns, &mut ops);
                if ops.len() >= PART_OPS {
                    send(std::mem::take(&mut ops));
                }
            }
            claims.push(claimed);
        });
        if !given_up {
            for (k, have) in &actual.services {
                if !wanted.contains(k) {
                    diff_service(k, None, Some(have), owned, &mut ops);
                }
            }
            send(ops);
        }
        for c in claims {
            self.claim(c);
        }
        let applied = started.elapsed();
        let mut pass = Pass {
            kinds,
            given_up,
            ..Pass::default()
        };
        for (ops, results) in &sent {
            pass.ops += ops.len();
            self.book(ops, results, &mut pass);
        }
        if let Some(e) = failure {
            self.stats.transport_errors += 1;
            self.stale = true;
            self.retry = true;
            warn!("IPVS update failed after {} operations: {e}", pass.ops);
            return Err(e);
        }
        log_outcome(&pass, || {
            format!(
                "IPVS full pass: dump {dumped:.1?}, {} operations built and applied in {:.1?}, booked in {:.1?}",
                pass.ops,
                applied - dumped,
                started.elapsed() - applied
            )
        });
        Ok(pass)
    }

    /// A heal pass: reads the kernel table again (IPVS tells no one about changes, so
    /// someone's `ipvsadm -C` or `-d` shows only in a fresh dump) and runs the full pass of
    /// [`Reconciler::sync_parts`] against it, so what lvsd owns is put back by the same
    /// diff as any other pass and what it does not own is left alone. When nothing
    /// drifted this costs one dump and a diff, and sends nothing. What was found is logged
    /// one line per kind of drift, with its count.
    /// `give_up` is asked between the reads of the dump, once more before the diff and
    /// before each part of it: once it answers true the pass ends (`Pass::given_up`; the
    /// copy as it was, or the table just read when the read was whole; a diff given up
    /// has sent only the parts before, booked), so that a reload or a stop does not wait
    /// for a large table to be read back and diffed.
    pub fn heal<B, P>(
        &mut self,
        backend: &mut B,
        produce: P,
        give_up: &dyn Fn() -> bool,
    ) -> Result<Pass, B::Error>
    where
        B: IpvsBackend,
        P: FnOnce(&mut dyn FnMut(&Table, Ownership)),
    {
        self.stats.heals += 1;
        self.stats.dumps += 1;
        // The new copy is built service by service as the dump comes: beside the old
        // copy (kept, should the pass be given up) there is never more than one service
        // with its counters.
        let mut read = Table::default();
        let read_whole = match backend.dump_each_unless(give_up, &mut |s| read.add_dumped(s)) {
            Ok(whole) => whole,
            Err(e) => return Err(self.dump_failed(e)),
        };
        if read_whole {
            self.took_table(read);
        }
        // Given up also when the table was read whole but a reload came meanwhile: the
        // copy is fresh, and the reload's own pass diffs against it.
        let pass = if read_whole && !give_up() {
            self.sync_parts_unless(backend, produce, give_up)?
        } else {
            Pass {
                given_up: true,
                ..Pass::default()
            }
        };
        if pass.given_up {
            self.stats.heals_given_up += 1;
            debug!("IPVS heal pass given up: a reload or a stop comes first");
        }
        if pass.ops > 0 {
            self.stats.heals_with_drift += 1;
            for line in pass.kinds.drift_lines() {
                warn!("{line}");
            }
        } else if !pass.given_up {
            debug!("IPVS heal pass: the kernel table is as lvsd left it");
        }
        Ok(pass)
    }

    /// An incremental pass over some services only, against the copy (a dump first when
    /// the copy is stale). `desired` needs to hold only the services in `scope`.
    pub fn update<B: IpvsBackend>(
        &mut self,
        backend: &mut B,
        desired: &Table,
        scope: &[ServiceKey],
    ) -> Result<Pass, B::Error> {
        if self.stale {
            self.refresh(backend)?;
        }
        let mut ops = Vec::new();
        for k in scope {
            diff_service(
                k,
                desired.services.get(k),
                self.actual.services.get(k),
                &self.owned,
                &mut ops,
            );
        }
        self.execute(backend, ops)
    }

    fn refresh<B: IpvsBackend>(&mut self, backend: &mut B) -> Result<(), B::Error> {
        self.stats.dumps += 1;
        match backend.dump() {
            Ok(dump) => {
                self.took_dump(dump);
                Ok(())
            }
            Err(e) => Err(self.dump_failed(e)),
        }
    }

    /// The kernel table just read becomes the copy.
    fn took_dump(&mut self, dump: Vec<crate::ipvs::ServiceState>) {
        // The old copy goes before the new one is built: a heal pass reads the whole
        // table (100,000 destinations at 5,000 × 20), and two copies of it beside the
        // dump set the heap's high-water mark that the allocator then keeps.
        self.actual = Table::default();
        self.took_table(Table::from_dump(dump));
    }

    /// The kernel table just read, as a table, becomes the copy.
    fn took_table(&mut self, read: Table) {
        self.actual = read;
        self.stale = false;
        debug!(
            "IPVS table read: {} services, {} destinations",
            self.actual.services.len(),
            self.actual.dest_count()
        );
    }

    /// A dump that failed: the copy is not trusted, a retry is due.
    fn dump_failed<E: std::fmt::Display>(&mut self, e: E) -> E {
        self.stats.transport_errors += 1;
        self.stale = true;
        self.retry = true;
        warn!("Cannot read the IPVS table: {e}");
        e
    }

    /// Books the outcome of one service operation.
    fn note(&mut self, op: &Op, result: &crate::ipvs::OpResult, pass: &mut Pass) {
        match result {
            Ok(()) => {
                self.stats.ops_ok += 1;
                self.actual.apply(op);
                match op {
                    Op::AddService(s) => {
                        self.owned.services.insert(s.key);
                    }
                    Op::DelService(k) => {
                        self.owned.services.remove(k);
                        self.owned.dests.remove(k);
                    }
                    _ => {}
                }
            }
            Err(errno) => self.failed(op, *errno, pass),
        }
    }

    /// Books a failed operation: the copy is no longer trusted, a retry is due.
    fn failed(&mut self, op: &Op, errno: i32, pass: &mut Pass) {
        self.stats.ops_failed += 1;
        pass.failed += 1;
        self.stale = true;
        self.retry = true;
        warn!(
            "IPVS: cannot {}: {} (will retry)",
            describe(op),
            errno_name(errno)
        );
    }

    fn execute<B: IpvsBackend>(&mut self, backend: &mut B, ops: Vec<Op>) -> Result<Pass, B::Error> {
        self.stats.passes += 1;
        let mut pass = Pass {
            ops: ops.len(),
            ..Pass::default()
        };
        for op in &ops {
            pass.kinds.count(op);
        }
        if ops.is_empty() {
            return Ok(pass);
        }
        let started = std::time::Instant::now();
        let results = match backend.apply(&ops) {
            Ok(r) => r,
            Err(e) => {
                self.stats.transport_errors += 1;
                self.stale = true;
                self.retry = true;
                warn!("IPVS update of {} operations failed: {e}", ops.len());
                return Err(e);
            }
        };
        let applied = started.elapsed();
        self.book(&ops, &results, &mut pass);
        log_outcome(&pass, || {
            format!(
                "IPVS: {} operations applied in {applied:.1?}, booked in {:.1?}",
                pass.ops,
                started.elapsed() - applied
            )
        });
        Ok(pass)
    }

    /// Books the outcome of operations sent together: successes update the copy of the
    /// kernel table and what lvsd owns, failures are logged and make a retry due.
    fn book(&mut self, ops: &[Op], results: &[crate::ipvs::OpResult], pass: &mut Pass) {
        if results.len() != ops.len() {
            warn!(
                "IPVS backend answered {} results for {} operations",
                results.len(),
                ops.len()
            );
            self.stale = true;
            self.retry = true;
        }
        // The operations on one service's destinations come in runs (the diff's order):
        // the service's entries are looked up once per run.
        let mut i = 0;
        let n = ops.len().min(results.len());
        while i < n {
            let Some(k) = dest_op_service(&ops[i]) else {
                self.note(&ops[i], &results[i], pass);
                i += 1;
                continue;
            };
            let mut j = i + 1;
            while j < n && dest_op_service(&ops[j]) == Some(k) {
                j += 1;
            }
            for (op, result) in ops[i..j].iter().zip(&results[i..j]) {
                if let Err(errno) = result {
                    self.failed(op, *errno, pass);
                }
            }
            let succeeded = || {
                ops[i..j]
                    .iter()
                    .zip(&results[i..j])
                    .filter(|(_, r)| r.is_ok())
                    .map(|(op, _)| op)
            };
            self.stats.ops_ok += succeeded().count() as u64;
            if let Some(e) = self.actual.services.get_mut(k) {
                e.dests.update(succeeded().filter_map(|op| match op {
                    Op::AddDest(_, d) | Op::EditDest(_, d) => Some((d.key, Some(d.clone()))),
                    Op::DelDest(_, dk) => Some((*dk, None)),
                    _ => None,
                }));
            }
            let mut added = succeeded()
                .filter_map(|op| match op {
                    Op::AddDest(_, d) => Some(d.key),
                    _ => None,
                })
                .peekable();
            if added.peek().is_some() {
                self.owned.dests.entry(*k).or_default().extend(added);
            }
            i = j;
        }
    }

    /// Deletes every service in the kernel, lvsd's or not: `lvs_flush` at start,
    /// `lvs_flush_on_stop` at exit. `why` ends the log line.
    pub fn flush<B: IpvsBackend>(&mut self, backend: &mut B, why: &str) -> Result<Pass, B::Error> {
        self.refresh(backend)?;
        let ops: Vec<Op> = self
            .actual
            .services
            .keys()
            .map(|k| Op::DelService(*k))
            .collect();
        info!("Removing all {} IPVS services {why}", ops.len());
        self.execute(backend, ops)
    }

    /// Deletes every managed service present in the kernel (exit without `-I`).
    pub fn release<B: IpvsBackend>(&mut self, backend: &mut B) -> Result<Pass, B::Error> {
        self.refresh(backend)?;
        let ops: Vec<Op> = self
            .actual
            .services
            .keys()
            .filter(|k| self.owned.owns_service(k))
            .map(|k| Op::DelService(*k))
            .collect();
        info!("Removing {} IPVS services on exit", ops.len());
        self.execute(backend, ops)
    }
}
