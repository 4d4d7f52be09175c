//! Checker, real-server and quorum state of every virtual server, and the table it wants.
//!
//! Pure: events (checker verdicts, a new configuration) go in; the desired table and the
//! side effects to perform (notify scripts, mails) come out. Log lines are written here,
//! one per state change, worded as keepalived words them.
//!
//! Semantics (keepalived 2.2's, with the choices documented where keepalived is vague):
//! - A real server is alive when every one of its checkers is up; one without checkers is
//!   always alive. A checker starts up, unless `alpha` applies to it (checker, real server
//!   or virtual server, most specific first), in which case it starts down until its first
//!   success.
//! - A dead real server leaves the table, or stays with weight 0 under
//!   `inhibit_on_failure` (real server setting, else the virtual server's).
//! - Quorum: the sum of the weights of the alive real servers. With quorum up, it is lost
//!   when the sum drops below `quorum − hysteresis` (or to 0); with quorum down, it is
//!   gained when the sum reaches `quorum + hysteresis`. At start (and for a new virtual
//!   server on reload) quorum is up when the sum reaches `quorum`.
//! - Quorum lost runs `quorum_down`; when a `sorry_server` is configured it is added
//!   (weight 1) and the alive real servers are taken out of the table (inhibited ones stay
//!   with weight 0, so they never leave the table while lvsd runs). Quorum gained runs
//!   `quorum_up` and reverses the swap. Without a sorry server, quorum changes only run
//!   the scripts. `sorry_server_inhibit` keeps the sorry server in the table with weight 0
//!   while it is not needed.
//! - `omega`: at exit, `notify_down` of every alive real server and `quorum_down` (when
//!   quorum is up) are run.

use super::build::{self, BuildError};
use super::table::{Entry, Ownership, Table};
use crate::checkers::{CheckerEvent, CheckerId};
use crate::config::{Config, RealServer, VirtualServer, VsKey};
use crate::ipvs::{DestKey, ServiceKey};
use rustc_hash::FxHashMap;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use thiserror::Error;
use tracing::{info, warn};

mod admin;
mod verdicts;
pub use admin::{Admin, AdminChange, AdminCmd, AdminError, ServerSel, ServiceSel};
use verdicts::Verdicts;

/// Virtual servers per part of [`LvsState::desired_parts`].
const PART_VS: usize = 16;

/// Something the runtime must do on behalf of the state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Run a notify or quorum script (no extra arguments, as keepalived).
    Script { command: String, what: String },
    /// Send an alert mail (only produced when smtp_alert applies).
    Mail { subject: String, body: String },
    /// A line for `notify_fifo` and `lvs_notify_fifo` (with its newline), keepalived's
    /// `VS [10.0.0.1]:tcp:80 UP` and `RS [10.0.1.2]:tcp:80 [10.0.0.1]:tcp:80 DOWN`.
    Fifo(String),
}

fn vs_fifo_line(vs: &VirtualServer, up: bool) -> String {
    format!(
        "VS {} {}\n",
        build::VsLabel(vs),
        if up { "UP" } else { "DOWN" }
    )
}

/// What a real server's change tells the outside besides the notify script.
#[derive(Clone, Copy, PartialEq, Eq)]
enum RsMail {
    /// A checker changed the real server's state.
    Check,
    /// Removed by a reload.
    Removed,
    /// Started alive (`rs_init_notifies`), or shut down: no mail, as keepalived.
    None,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum EventError {
    #[error("checker event for an unknown checker {0:?}")]
    UnknownChecker(CheckerId),
}

/// What an event changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Change {
    pub effects: Vec<Effect>,
    /// Virtual servers (indexes) whose table entries may differ now.
    pub dirty: Vec<usize>,
}

/// How a virtual server is matched across reloads.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum VsIdent {
    Addr(crate::ipvs::Proto, IpAddr, u16),
    Fwmark(u32, bool),
    Group(String),
}

fn ident(vs: &VirtualServer) -> VsIdent {
    match &vs.key {
        VsKey::Addr { addr, port } => VsIdent::Addr(build::proto(vs.protocol), *addr, *port),
        VsKey::Fwmark { mark, ipv6 } => VsIdent::Fwmark(*mark, *ipv6),
        VsKey::Group(g) => VsIdent::Group(g.clone()),
    }
}

#[derive(Debug, Clone)]
struct RsState {
    /// Verdict of each checker, parallel to the config's `checkers`.
    checkers: Verdicts,
    /// A weight set by a dynamic checker; None: the configured weight.
    dyn_weight: Option<u32>,
    alive: bool,
}

#[derive(Debug, Clone)]
struct VsState {
    ident: VsIdent,
    keys: Vec<ServiceKey>,
    rs: Vec<RsState>,
    quorum_up: bool,
}

/// Counters of the state machine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StateStats {
    /// Events naming no configured checker (dropped).
    pub bad_events: u64,
    pub rs_up: u64,
    pub rs_down: u64,
    pub quorum_changes: u64,
}

/// The LVS side's view of the world between the config and the kernel.
#[derive(Debug, Clone)]
pub struct LvsState {
    config: Arc<Config>,
    vs: Vec<VsState>,
    /// Real servers the operator took out of rotation ([`admin`]).
    admin: HashMap<admin::AdminKey, Admin>,
    pub stats: StateStats,
}

fn alpha_of(vs: &VirtualServer, rs: &RealServer, checker: usize) -> bool {
    rs.checkers
        .get(checker)
        .and_then(|c| c.common.more().alpha)
        .or(rs.alpha)
        .unwrap_or(vs.alpha)
}

fn initial_rs(vs: &VirtualServer, rs: &RealServer) -> RsState {
    let checkers: Verdicts = (0..rs.checkers.len())
        .map(|i| !alpha_of(vs, rs, i))
        .collect();
    RsState {
        alive: checkers.all_up(),
        checkers,
        dyn_weight: None,
    }
}

fn inhibit(vs: &VirtualServer, rs: &RealServer) -> bool {
    rs.inhibit_on_failure.unwrap_or(vs.inhibit_on_failure)
}

/// The next quorum state: lost below `quorum − hysteresis` (or at 0), gained at
/// `quorum + hysteresis`.
pub fn quorum_next(up: bool, sum: u64, quorum: u32, hysteresis: u32) -> bool {
    let quorum = u64::from(quorum);
    let hysteresis = u64::from(hysteresis);
    if up {
        !((sum == 0 && quorum > 0) || sum < quorum.saturating_sub(hysteresis))
    } else {
        sum >= quorum + hysteresis
    }
}

impl LvsState {
    /// The state at start: checkers at their initial verdicts, quorum from them. The
    /// effects are the quorum scripts of the starting state.
    pub fn new(config: Arc<Config>) -> (LvsState, Vec<Effect>) {
        let mut state = LvsState {
            config: config.clone(),
            vs: Vec::with_capacity(config.virtual_servers.len()),
            admin: HashMap::new(),
            stats: StateStats::default(),
        };
        let mut effects = Vec::new();
        for (i, vs) in config.virtual_servers.iter().enumerate() {
            let v = state.fresh_vs(vs);
            state.vs.push(v);
            state.init_notifies(i, None, &mut effects);
            state.start_quorum(i, &mut effects);
        }
        (state, effects)
    }

    /// `rs_init_notifies`: notify_up and the fifo line for each real server of virtual
    /// server `i` that starts alive (`only`: just these real servers, on a reload).
    fn init_notifies(&self, i: usize, only: Option<&[usize]>, effects: &mut Vec<Effect>) {
        if !self.config.global.rs_init_notifies {
            return;
        }
        let vs = &self.config.virtual_servers[i];
        for (r, st) in self.vs[i].rs.iter().enumerate() {
            if st.alive && only.is_none_or(|o| o.contains(&r)) {
                self.rs_effects(vs, &vs.real_servers[r], true, "", RsMail::None, effects);
            }
        }
    }

    pub fn config(&self) -> &Arc<Config> {
        &self.config
    }

    /// The side's summary for systemd's STATUS= line:
    /// "1000 services, 20000 real servers, 3 down".
    pub fn summary(&self) -> String {
        let (services, real_servers, down) = self.counts();
        summary_line(services, real_servers, down)
    }

    /// (services in the desired table, real servers, real servers down).
    fn counts(&self) -> (usize, usize, usize) {
        let services = self.vs.iter().map(|v| v.keys.len()).sum();
        let real_servers = self.vs.iter().map(|v| v.rs.len()).sum();
        let down = self
            .vs
            .iter()
            .flat_map(|v| v.rs.iter())
            .filter(|r| !r.alive)
            .count();
        (services, real_servers, down)
    }

    fn fresh_vs(&self, vs: &VirtualServer) -> VsState {
        let keys = match build::service_keys(vs, &self.config.virtual_server_groups) {
            Ok(k) => k,
            Err(e @ BuildError::UnknownGroup(_)) => {
                warn!("{}: {e}; virtual server ignored", vs.span);
                Vec::new()
            }
        };
        VsState {
            ident: ident(vs),
            keys,
            rs: vs.real_servers.iter().map(|r| initial_rs(vs, r)).collect(),
            quorum_up: true,
        }
    }

    fn weight(rs: &RealServer, st: &RsState) -> u32 {
        st.dyn_weight.unwrap_or(rs.weight)
    }

    /// Sum of the weights of the alive real servers of virtual server `i`.
    pub fn live_weight(&self, i: usize) -> u64 {
        let (Some(vs), Some(st)) = (self.config.virtual_servers.get(i), self.vs.get(i)) else {
            return 0;
        };
        vs.real_servers
            .iter()
            .zip(&st.rs)
            .filter(|(r, s)| s.alive && !self.admin_out(vs, r))
            .map(|(r, s)| u64::from(Self::weight(r, s)))
            .sum()
    }

    pub fn quorum_up(&self, i: usize) -> bool {
        self.vs.get(i).is_some_and(|v| v.quorum_up)
    }

    /// Whether real server `rs` of virtual server `vs` is alive.
    pub fn rs_alive(&self, vs: usize, rs: usize) -> Option<bool> {
        self.vs.get(vs)?.rs.get(rs).map(|r| r.alive)
    }

    fn start_quorum(&mut self, i: usize, effects: &mut Vec<Effect>) {
        let vs = &self.config.virtual_servers[i];
        let sum = self.live_weight(i);
        let up = sum >= u64::from(vs.quorum) && (sum > 0 || vs.quorum == 0);
        let st = &mut self.vs[i];
        st.quorum_up = up;
        // Quorum up is the normal start: one line per virtual server only at trace level
        // (thousands of them slow a large start); starting without quorum is worth a line.
        if up {
            tracing::trace!(
                "Starting with quorum up for VS {} (live weight {sum}, quorum {}, hysteresis {})",
                build::VsLabel(vs),
                vs.quorum,
                vs.hysteresis
            );
        } else {
            info!(
                "Starting with quorum down for VS {} (live weight {sum}, quorum {}, hysteresis {})",
                build::VsLabel(vs),
                vs.quorum,
                vs.hysteresis
            );
        }
        if !up {
            if let Some(ss) = &vs.sorry_server {
                info!(
                    "Adding sorry server {} to VS {}",
                    build::addr_label(ss.addr, vs.protocol, ss.port),
                    build::VsLabel(vs)
                );
            }
        }
        let script = if up { &vs.quorum_up } else { &vs.quorum_down };
        if let Some(cmd) = script {
            effects.push(Effect::Script {
                command: cmd.clone(),
                what: format!(
                    "{} for VS {}",
                    if up { "quorum_up" } else { "quorum_down" },
                    build::VsLabel(vs)
                ),
            });
        }
        // keepalived tells the fifo of a start with quorum, and of one without quorum
        // only where a sorry server comes in.
        if up || vs.sorry_server.is_some() {
            effects.push(Effect::Fifo(vs_fifo_line(vs, up)));
        }
    }

    /// Re-evaluates quorum of virtual server `i` after a change of live weight.
    fn update_quorum(&mut self, i: usize, effects: &mut Vec<Effect>) {
        let vs = &self.config.virtual_servers[i];
        let sum = self.live_weight(i);
        let st = &mut self.vs[i];
        let next = quorum_next(st.quorum_up, sum, vs.quorum, vs.hysteresis);
        if next == st.quorum_up {
            return;
        }
        st.quorum_up = next;
        self.stats.quorum_changes += 1;
        let ss_label = vs
            .sorry_server
            .as_ref()
            .map(|ss| build::addr_label(ss.addr, vs.protocol, ss.port));
        if next {
            info!(
                "Gained quorum {}+{}={} <= {sum} for VS {}",
                vs.quorum,
                vs.hysteresis,
                u64::from(vs.quorum) + u64::from(vs.hysteresis),
                build::VsLabel(vs)
            );
            if let Some(ss) = ss_label {
                info!(
                    "Adding alive servers to the pool for VS {}",
                    build::VsLabel(vs)
                );
                info!(
                    "{} sorry server {ss} from VS {}",
                    if vs.sorry_server_inhibit {
                        "Disabling"
                    } else {
                        "Removing"
                    },
                    build::VsLabel(vs)
                );
            }
        } else {
            info!(
                "Lost quorum {}-{}={} > {sum} for VS {}",
                vs.quorum,
                vs.hysteresis,
                u64::from(vs.quorum).saturating_sub(u64::from(vs.hysteresis)),
                build::VsLabel(vs)
            );
            if let Some(ss) = ss_label {
                info!(
                    "{} sorry server {ss} to VS {}",
                    if vs.sorry_server_inhibit {
                        "Enabling"
                    } else {
                        "Adding"
                    },
                    build::VsLabel(vs)
                );
                info!(
                    "Removing alive servers from the pool for VS {}",
                    build::VsLabel(vs)
                );
            }
        }
        let script = if next { &vs.quorum_up } else { &vs.quorum_down };
        if let Some(cmd) = script {
            effects.push(Effect::Script {
                command: cmd.clone(),
                what: format!(
                    "{} for VS {}",
                    if next { "quorum_up" } else { "quorum_down" },
                    build::VsLabel(vs)
                ),
            });
        }
        effects.push(Effect::Fifo(vs_fifo_line(vs, next)));
    }

    fn router_id(&self) -> String {
        self.config
            .global
            .router_id
            .clone()
            .unwrap_or_else(crate::alert::hostname)
    }

    /// The effects of real server `rs` of `vs` going up or down: its notify script, the
    /// fifo line, and (as `mail` says) an alert mail.
    fn rs_effects(
        &self,
        vs: &VirtualServer,
        rs: &RealServer,
        up: bool,
        reason: &str,
        mail: RsMail,
        effects: &mut Vec<Effect>,
    ) {
        let label = &build::rs_label(vs, rs);
        let script = if up {
            &rs.more().notify_up
        } else {
            &rs.more().notify_down
        };
        if let Some(cmd) = script {
            effects.push(Effect::Script {
                command: cmd.clone(),
                what: format!(
                    "{} for {label}",
                    if up { "notify_up" } else { "notify_down" }
                ),
            });
        }
        effects.push(Effect::Fifo(format!(
            "RS {label} {} {}\n",
            build::VsLabel(vs),
            if up { "UP" } else { "DOWN" }
        )));
        if mail != RsMail::None && self.mails(vs, rs) {
            effects.push(self.rs_mail(vs, rs, up, reason, mail));
        }
    }

    /// Whether alert mail goes out for real server `rs` of `vs`.
    fn mails(&self, vs: &VirtualServer, rs: &RealServer) -> bool {
        rs.more()
            .smtp_alert
            .or(vs.smtp_alert)
            .unwrap_or_else(|| self.config.global.checker_alerts())
    }

    fn rs_mail(
        &self,
        vs: &VirtualServer,
        rs: &RealServer,
        up: bool,
        reason: &str,
        mail: RsMail,
    ) -> Effect {
        let label = &build::rs_label(vs, rs);
        Effect::Mail {
            subject: crate::alert::realserver_subject(&self.router_id(), label, up),
            body: match (mail, up) {
                (RsMail::Removed, _) => "=> Removing <=".to_string(),
                (_, true) => "=> CHECK succeed on service <=".to_string(),
                (_, false) => format!("=> CHECK failed on service : {reason} <="),
            },
        }
    }

    /// Applies one checker verdict.
    pub fn event(&mut self, ev: &CheckerEvent) -> Result<Change, EventError> {
        let id = ev.id;
        let bad = || EventError::UnknownChecker(id);
        let config = self.config.clone();
        let Some(vs) = config.virtual_servers.get(id.vs) else {
            self.stats.bad_events += 1;
            return Err(bad());
        };
        let Some(rs) = vs.real_servers.get(id.rs) else {
            self.stats.bad_events += 1;
            return Err(bad());
        };
        let st = &mut self.vs[id.vs].rs[id.rs];
        let Some(checker_was_up) = st.checkers.set(id.checker, ev.up) else {
            self.stats.bad_events += 1;
            return Err(bad());
        };
        let mut change = Change::default();
        let old_weight = Self::weight(rs, st);
        if let Some(w) = ev.weight {
            st.dyn_weight = Some(w);
        }
        let new_weight = Self::weight(rs, st);
        let was = st.alive;
        let now = st.checkers.all_up();
        st.alive = now;
        let vs_label = build::VsLabel(vs);
        let rs_label = build::rs_label(vs, rs);
        if old_weight != new_weight {
            info!(
                "Changing weight from {old_weight} to {new_weight} for {} service {} of VS {vs_label}",
                if now { "active" } else { "inactive" },
                rs_label
            );
            if now {
                change.dirty.push(id.vs);
            }
        }
        if was != now {
            let inh = inhibit(vs, rs);
            if now {
                self.stats.rs_up += 1;
                info!(
                    "{} service {} to VS {vs_label} ({})",
                    if inh { "Enabling" } else { "Adding" },
                    rs_label,
                    ev.reason
                );
            } else {
                self.stats.rs_down += 1;
                info!(
                    "{} service {} from VS {vs_label} ({})",
                    if inh { "Disabling" } else { "Removing" },
                    rs_label,
                    ev.reason
                );
            }
            self.rs_effects(vs, rs, now, &ev.reason, RsMail::Check, &mut change.effects);
            change.dirty.push(id.vs);
        } else {
            // keepalived mails each checker's change, not only the real server's,
            // unless `no_checker_emails`.
            if checker_was_up != ev.up && !config.global.no_checker_emails && self.mails(vs, rs) {
                let m = self.rs_mail(vs, rs, now, &ev.reason, RsMail::Check);
                change.effects.push(m);
            }
            info!(
                "Check {} on service {} of VS {vs_label}: {} ({})",
                id.checker,
                rs_label,
                if ev.up { "up" } else { "down" },
                ev.reason
            );
        }
        if was != now || old_weight != new_weight {
            let before = self.vs[id.vs].quorum_up;
            self.update_quorum(id.vs, &mut change.effects);
            if before != self.vs[id.vs].quorum_up && !change.dirty.contains(&id.vs) {
                change.dirty.push(id.vs);
            }
        }
        Ok(change)
    }

    /// The entries of virtual server `i`, added to `table` (first writer of a key wins).
    pub fn desired_vs(&self, i: usize, table: &mut Table) {
        let (Some(vs), Some(st)) = (self.config.virtual_servers.get(i), self.vs.get(i)) else {
            return;
        };
        let sorry_active = vs.sorry_server.is_some() && !st.quorum_up;
        for key in &st.keys {
            if table.services.contains_key(key) {
                continue;
            }
            let mut e = Entry::new(build::service(vs, *key));
            let mut dests = Vec::with_capacity(vs.real_servers.len());
            for (rs, rst) in vs.real_servers.iter().zip(&st.rs) {
                let weight = if rst.alive && !sorry_active {
                    Some(Self::weight(rs, rst))
                } else if inhibit(vs, rs) {
                    Some(0)
                } else {
                    None
                };
                if let Some(w) = self.admin_weight(vs, rs, weight) {
                    let d = build::rs_dest(vs, rs, key, w);
                    dests.push(d);
                }
            }
            // A destination named twice is the first one's: a stable sort keeps them in
            // the order written, and dedup keeps the first.
            dests.sort_by_key(|d| d.key);
            dests.dedup_by(|later, first| later.key == first.key);
            e.dests = dests.into_iter().collect();
            if let Some(ss) = &vs.sorry_server {
                let weight = if sorry_active {
                    Some(1)
                } else if vs.sorry_server_inhibit {
                    Some(0)
                } else {
                    None
                };
                if let Some(w) = weight {
                    let d = build::sorry_dest(vs, ss, key, w);
                    // The sorry server replaces a real server of the same address.
                    e.dests.insert(d);
                }
            }
            table.services.insert(*key, e);
        }
    }

    /// The whole table the configuration and the checkers want.
    pub fn desired(&self) -> Table {
        let mut t = Table::default();
        for i in 0..self.vs.len() {
            self.desired_vs(i, &mut t);
        }
        t
    }

    /// The desired table in parts of [`PART_VS`] virtual servers, each with what the
    /// configuration claims among its services (as [`LvsState::claims`] would: every real
    /// and sorry server of every virtual server naming the service), handed to `emit` in
    /// order (for `Reconciler::sync_parts`, which builds and sends at once). A service key
    /// that two virtual servers name is the first one's, as in [`LvsState::desired`].
    pub fn desired_parts(&self, emit: &mut dyn FnMut(&Table, Ownership)) {
        // Keys named by more than one virtual server, with all of them.
        let mut first: FxHashMap<ServiceKey, usize> = FxHashMap::default();
        let mut shared: FxHashMap<ServiceKey, Vec<usize>> = FxHashMap::default();
        for (i, st) in self.vs.iter().enumerate() {
            for key in &st.keys {
                match first.entry(*key) {
                    std::collections::hash_map::Entry::Vacant(v) => {
                        v.insert(i);
                    }
                    std::collections::hash_map::Entry::Occupied(o) => {
                        shared.entry(*key).or_insert_with(|| vec![*o.get()]).push(i);
                    }
                }
            }
        }
        let mut part = Table::default();
        for start in (0..self.vs.len()).step_by(PART_VS) {
            part.services.clear();
            let mut claims = Ownership::default();
            for i in start..(start + PART_VS).min(self.vs.len()) {
                self.desired_vs(i, &mut part);
                for key in &self.vs[i].keys {
                    match shared.get(key) {
                        Some(all) => all
                            .iter()
                            .for_each(|&j| self.claim_key(j, key, &mut claims)),
                        None => self.claim_key(i, key, &mut claims),
                    }
                }
            }
            emit(&part, claims);
        }
    }

    /// The service keys of virtual server `i`.
    pub fn keys_of(&self, i: usize) -> &[ServiceKey] {
        self.vs.get(i).map(|v| v.keys.as_slice()).unwrap_or(&[])
    }

    /// What the configuration names: every service, and every real and sorry server
    /// under it. lvsd manages these (and what it creates), nothing else.
    pub fn claims(&self) -> Ownership {
        let mut o = Ownership::default();
        for (i, st) in self.vs.iter().enumerate() {
            for key in &st.keys {
                self.claim_key(i, key, &mut o);
            }
        }
        o
    }

    /// Adds what virtual server `i` names under its service `key` to `o`.
    fn claim_key(&self, i: usize, key: &ServiceKey, o: &mut Ownership) {
        let Some(vs) = self.config.virtual_servers.get(i) else {
            return;
        };
        o.services.insert(*key);
        let rs = vs.real_servers.iter().map(|rs| build::rs_key(vs, rs, key));
        let sorry = vs
            .sorry_server
            .iter()
            .map(|ss| build::sorry_key(vs, ss, key));
        o.dests.entry(*key).or_default().extend(rs.chain(sorry));
    }

    /// Every checker's current verdict (for starting checkers after a reload).
    pub fn checker_states(&self) -> HashMap<CheckerId, bool> {
        let mut m = HashMap::new();
        for (vs, v) in self.vs.iter().enumerate() {
            for (rs, r) in v.rs.iter().enumerate() {
                for (checker, up) in r.checkers.iter().enumerate() {
                    m.insert(CheckerId { vs, rs, checker }, up);
                }
            }
        }
        m
    }

    /// Takes `config` in place of the running configuration when the two are equal (a
    /// reload that changed nothing; the caller compares them): every verdict, quorum and
    /// admin state stays as it is, and no effect is due. Returns the configuration it held,
    /// for the caller to drop where its size does not delay anything.
    pub fn adopt_equal(&mut self, config: Arc<Config>) -> Arc<Config> {
        std::mem::replace(&mut self.config, config)
    }

    /// Takes a new configuration: virtual servers matched by (proto, addr, port) / fwmark /
    /// group, real servers by (addr, port), checkers by equal settings; matched checkers
    /// keep their verdicts and matched virtual servers their quorum state.
    pub fn reload(&mut self, config: Arc<Config>) -> Vec<Effect> {
        let old_config = std::mem::replace(&mut self.config, config.clone());
        let mut old: Vec<Option<VsState>> =
            std::mem::take(&mut self.vs).into_iter().map(Some).collect();
        let mut effects = Vec::new();
        let (mut kept, mut added) = (0usize, 0usize);
        // Old positions by identity, first written first matched.
        let mut by_ident: HashMap<VsIdent, std::collections::VecDeque<usize>> = HashMap::new();
        for (pos, o) in old.iter().enumerate() {
            if let Some(o) = o {
                by_ident.entry(o.ident.clone()).or_default().push_back(pos);
            }
        }
        for (i, vs) in config.virtual_servers.iter().enumerate() {
            let id = ident(vs);
            let found = by_ident.get_mut(&id).and_then(|q| q.pop_front());
            let mut fresh = self.fresh_vs(vs);
            let Some(pos) = found else {
                added += 1;
                info!("Reload: new VS {}", build::VsLabel(vs));
                self.vs.push(fresh);
                self.init_notifies(i, None, &mut effects);
                self.start_quorum(i, &mut effects);
                continue;
            };
            kept += 1;
            let Some(prev) = old[pos].take() else {
                continue;
            };
            let old_vs = &old_config.virtual_servers[pos];
            fresh.quorum_up = prev.quorum_up;
            let mut used = vec![false; prev.rs.len()];
            let mut changed_rs = Vec::new();
            let mut new_rs = Vec::new();
            for (r, rs) in vs.real_servers.iter().enumerate() {
                let matched = old_vs
                    .real_servers
                    .iter()
                    .enumerate()
                    .position(|(j, o)| !used[j] && o.addr == rs.addr && o.port == rs.port);
                let Some(j) = matched else {
                    info!(
                        "Reload: new real server {} in VS {}",
                        build::rs_label(vs, rs),
                        build::VsLabel(vs)
                    );
                    new_rs.push(r);
                    continue;
                };
                used[j] = true;
                let old_rs = &old_vs.real_servers[j];
                let pst = &prev.rs[j];
                let mut c_used = vec![false; old_rs.checkers.len()];
                let nst = &mut fresh.rs[r];
                for (c, checker) in rs.checkers.iter().enumerate() {
                    if let Some(k) = old_rs
                        .checkers
                        .iter()
                        .enumerate()
                        .position(|(k, oc)| !c_used[k] && oc == checker)
                    {
                        c_used[k] = true;
                        if let Some(up) = pst.checkers.get(k) {
                            nst.checkers.set(c, up);
                        }
                    }
                }
                if old_rs.weight == rs.weight {
                    nst.dyn_weight = pst.dyn_weight;
                }
                nst.alive = nst.checkers.all_up();
                if nst.alive != pst.alive {
                    changed_rs.push((r, nst.alive));
                }
            }
            for (j, u) in used.iter().enumerate() {
                if !u {
                    let gone = &old_vs.real_servers[j];
                    info!(
                        "Reload: removing real server {} from VS {}",
                        build::rs_label(old_vs, gone),
                        build::VsLabel(old_vs)
                    );
                    // keepalived: a removed real server that was alive goes down with
                    // its notify_down, fifo line and a "Removing" mail.
                    if prev.rs[j].alive {
                        self.rs_effects(old_vs, gone, false, "", RsMail::Removed, &mut effects);
                    }
                }
            }
            self.vs.push(fresh);
            for (r, up) in changed_rs {
                let rs = &vs.real_servers[r];
                self.rs_effects(
                    vs,
                    rs,
                    up,
                    "configuration reloaded",
                    RsMail::Check,
                    &mut effects,
                );
            }
            self.init_notifies(i, Some(&new_rs), &mut effects);
            self.update_quorum(i, &mut effects);
        }
        self.prune_admin();
        let removed = old.iter().flatten().count();
        for (pos, gone) in old.iter().enumerate() {
            let (Some(gone), Some(old_vs)) = (gone, old_config.virtual_servers.get(pos)) else {
                continue;
            };
            info!("Reload: removing VS {}", build::VsLabel(old_vs));
            self.going_down(old_vs, gone, "", RsMail::Removed, &mut effects);
        }
        info!("Reload: {kept} virtual servers kept, {added} added, {removed} removed");
        effects
    }

    /// What exit runs: under `omega`, `notify_down` of alive real servers and
    /// `quorum_down` of virtual servers with quorum.
    pub fn shutdown_effects(&self) -> Vec<Effect> {
        let mut effects = Vec::new();
        for (i, vs) in self.config.virtual_servers.iter().enumerate() {
            if !vs.omega {
                continue;
            }
            self.going_down(vs, &self.vs[i], "shutdown", RsMail::None, &mut effects);
        }
        effects
    }

    /// A virtual server going away (removed by a reload, or at exit under omega), as
    /// keepalived tells of it: its alive real servers go down (notify_down, fifo line,
    /// `mail`), then a quorum it held is lost (quorum_down, fifo line).
    fn going_down(
        &self,
        vs: &VirtualServer,
        st: &VsState,
        reason: &str,
        mail: RsMail,
        effects: &mut Vec<Effect>,
    ) {
        for (r, rst) in st.rs.iter().enumerate() {
            if let (true, Some(rs)) = (rst.alive, vs.real_servers.get(r)) {
                self.rs_effects(vs, rs, false, reason, mail, effects);
            }
        }
        if st.quorum_up {
            if let Some(cmd) = &vs.quorum_down {
                effects.push(Effect::Script {
                    command: cmd.clone(),
                    what: format!("quorum_down for VS {}", build::VsLabel(vs)),
                });
            }
            effects.push(Effect::Fifo(vs_fifo_line(vs, false)));
        }
    }

    /// Configured (service, real server) destination keys, for tests and dumps.
    pub fn rs_keys(&self, i: usize) -> Vec<(ServiceKey, DestKey)> {
        let Some(vs) = self.config.virtual_servers.get(i) else {
            return Vec::new();
        };
        self.keys_of(i)
            .iter()
            .flat_map(|k| {
                vs.real_servers
                    .iter()
                    .map(|rs| (*k, build::rs_key(vs, rs, k)))
            })
            .collect()
    }
}

fn summary_line(services: usize, real_servers: usize, down: usize) -> String {
    format!("{services} services, {real_servers} real servers, {down} down")
}

#[cfg(test)]
mod tests {
    use super::{summary_line, RsState};

    /// One per real server (100,000 at 5,000 × 20): the verdicts inline, no heap block.
    #[test]
    fn a_real_servers_state_stays_small() {
        assert!(std::mem::size_of::<RsState>() <= 32);
    }

    #[test]
    fn the_summary_reads_as_an_operator_would() {
        assert_eq!(
            summary_line(1000, 20000, 3),
            "1000 services, 20000 real servers, 3 down"
        );
    }
}
