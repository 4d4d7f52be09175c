//! The LVS side's part of the control socket (`lvsd ctl`): the requests the socket's
//! server hands it, and the answers made from its state, its reconciler and a dump of
//! the kernel table. The answers are built here, I/O-free; the runtime's loop takes the
//! requests, reads the kernel and applies what `disable` / `enable` / `drain` change.

use super::build;
use super::reconcile::Reconciler;
use super::state::{Admin, AdminChange, AdminCmd, LvsState, ServerSel, ServiceSel};
use super::table::{diff, Ownership, Table};
use crate::checkers::state::CheckCounts;
use crate::checkers::CheckerId;
use crate::config::Config;
use crate::ipvs::{Op, ServiceKey, ServiceState, Stats};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// How often the kernel's connection counts are read while a real server drains.
pub const DRAIN_CHECK: Duration = Duration::from_secs(1);

/// A request to the LVS side.
#[derive(Debug)]
pub enum LvsCmd {
    /// Its state, as [`StateView`].
    State,
    /// Disable, enable or drain real servers.
    Admin {
        service: ServiceSel,
        server: ServerSel,
        cmd: AdminCmd,
    },
    /// What this configuration would change in the kernel table ([`PlanView`]).
    Plan(Arc<Config>),
}

/// A request with where its answer goes: JSON, or why there is none (a sentence).
pub struct LvsRequest {
    pub cmd: LvsCmd,
    pub reply: oneshot::Sender<Result<Value, String>>,
}

static SIDE: Mutex<Option<mpsc::UnboundedSender<LvsRequest>>> = Mutex::new(None);

/// Registers the running LVS side (replacing an earlier one); it answers the requests
/// arriving on the returned receiver.
pub fn register() -> mpsc::UnboundedReceiver<LvsRequest> {
    let (tx, rx) = mpsc::unbounded_channel();
    if let Ok(mut side) = SIDE.lock() {
        *side = Some(tx);
    }
    rx
}

/// Asks the LVS side, waiting at most `limit` for its answer.
pub async fn ask(cmd: LvsCmd, limit: Duration) -> Result<Value, String> {
    let not_running = || {
        "the LVS side is not running (no virtual server in the configuration, IPVS not available, or lvsd runs with -P)".to_string()
    };
    let tx = SIDE
        .lock()
        .ok()
        .and_then(|s| s.clone())
        .ok_or_else(not_running)?;
    let (reply, rx) = oneshot::channel();
    tx.send(LvsRequest { cmd, reply })
        .map_err(|_| not_running())?;
    match tokio::time::timeout(limit, rx).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(_)) => Err(not_running()),
        Err(_) => Err(format!(
            "the LVS side did not answer within {}s",
            limit.as_secs()
        )),
    }
}

/// A service as `lvsd ctl` names it (`tcp:10.0.0.1:80`, `fwmark:7`).
pub fn service_name(k: &ServiceKey) -> String {
    match k {
        ServiceKey::Addr { proto, addr, port } => format!(
            "{}:{}",
            format!("{proto:?}").to_lowercase(),
            std::net::SocketAddr::new(*addr, *port)
        ),
        ServiceKey::Fwmark { mark, .. } => format!("fwmark:{mark}"),
    }
}

fn dest_name(d: &crate::ipvs::DestKey) -> String {
    std::net::SocketAddr::new(d.addr, d.port).to_string()
}

/// The LVS side's state for `lvsd ctl state`.
#[derive(Debug, Serialize)]
pub struct StateView {
    pub virtual_servers: Vec<VsView>,
    /// The services lvsd manages in the kernel table, with the destinations it manages.
    pub table: Vec<ServiceView>,
    /// Why `table` is the reconciler's copy rather than a fresh dump (None: a dump).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub table_note: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct VsView {
    pub name: String,
    pub services: Vec<String>,
    pub quorum: u32,
    pub quorum_up: bool,
    pub live_weight: u64,
    pub real_servers: Vec<RsView>,
}

#[derive(Debug, Serialize)]
pub struct RsView {
    pub server: String,
    /// The configured weight.
    pub weight: u32,
    /// Every checker up.
    pub alive: bool,
    /// Each checker's verdict, "up" or "down", in the order of the file.
    pub checkers: Vec<&'static str>,
    /// "disabled" or "draining" when the operator took it out of rotation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin: Option<&'static str>,
    /// Seconds left before a draining real server is removed anyway.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drain_seconds_left: Option<u64>,
    /// Each checker's attempts so far, in the order of `checkers` (null: not running).
    pub checker_counts: Vec<Option<CheckCounts>>,
}

#[derive(Debug, Serialize)]
pub struct ServiceView {
    pub service: String,
    pub scheduler: String,
    /// The kernel's counters and rates for the service (absent with lvsd's copy).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<Stats>,
    pub dests: Vec<DestView>,
}

#[derive(Debug, Serialize)]
pub struct DestView {
    pub server: String,
    pub weight: u32,
    pub forward: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub active_conns: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inactive_conns: Option<u32>,
    /// The kernel's counters and rates for the destination (absent with lvsd's copy).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stats: Option<Stats>,
}

/// `lvsd ctl state`'s LVS part: `dump` is the kernel table just read (or why it could not
/// be; the reconciler's copy is shown then, without connection counts).
pub fn state_view(
    state: &LvsState,
    rec: &Reconciler,
    dump: Result<Vec<ServiceState>, String>,
    counters: &HashMap<CheckerId, CheckCounts>,
    now: Instant,
) -> StateView {
    let config = state.config();
    let mut virtual_servers = Vec::with_capacity(config.virtual_servers.len());
    for (i, vs) in config.virtual_servers.iter().enumerate() {
        let real_servers = vs
            .real_servers
            .iter()
            .enumerate()
            .map(|(r, rs)| {
                let admin = state.admin_of(i, r);
                let checker_counts = (0..rs.checkers.len())
                    .map(|c| {
                        counters
                            .get(&CheckerId {
                                vs: i,
                                rs: r,
                                checker: c,
                            })
                            .copied()
                    })
                    .collect();
                RsView {
                    server: match rs.port {
                        Some(p) => dest_name(&crate::ipvs::DestKey {
                            addr: rs.addr,
                            port: p,
                        }),
                        None => rs.addr.to_string(),
                    },
                    weight: rs.weight,
                    alive: state.rs_alive(i, r).unwrap_or(false),
                    checkers: state
                        .checker_verdicts(i, r)
                        .into_iter()
                        .map(|u| if u { "up" } else { "down" })
                        .collect(),
                    admin: admin.map(|a| match a {
                        Admin::Disabled => "disabled",
                        Admin::Draining { .. } => "draining",
                    }),
                    drain_seconds_left: match admin {
                        Some(Admin::Draining { deadline }) => {
                            Some(deadline.saturating_duration_since(now).as_secs())
                        }
                        _ => None,
                    },
                    checker_counts,
                }
            })
            .collect();
        virtual_servers.push(VsView {
            name: build::VsLabel(vs).to_string(),
            services: state.keys_of(i).iter().map(service_name).collect(),
            quorum: vs.quorum,
            quorum_up: state.quorum_up(i),
            live_weight: state.live_weight(i),
            real_servers,
        });
    }
    let owned = rec.owned();
    let (services, table_note) = match dump {
        Ok(d) => (d, None),
        Err(why) => (
            copy_as_dump(rec.actual()),
            Some(format!("the kernel table could not be read ({why}): lvsd's copy of it, without connection counts")),
        ),
    };
    let known = table_note.is_none();
    let table = services
        .into_iter()
        .filter(|s| owned.owns_service(&s.service.key))
        .map(|s| {
            let k = s.service.key;
            ServiceView {
                service: service_name(&k),
                scheduler: s.service.scheduler.clone(),
                stats: known.then_some(s.stats),
                dests: s
                    .dests
                    .iter()
                    .filter(|d| owned.owns_dest(&k, &d.dest.key))
                    .map(|d| DestView {
                        server: dest_name(&d.dest.key),
                        weight: d.dest.weight,
                        forward: format!("{:?}", d.dest.forward).to_lowercase(),
                        active_conns: known.then_some(d.active_conns),
                        inactive_conns: known.then_some(d.inactive_conns),
                        stats: known.then_some(d.stats),
                    })
                    .collect(),
            }
        })
        .collect();
    StateView {
        virtual_servers,
        table,
        table_note,
    }
}

fn copy_as_dump(t: &Table) -> Vec<ServiceState> {
    t.services
        .values()
        .map(|e| ServiceState {
            service: e.service.clone(),
            stats: Default::default(),
            dests: e
                .dests
                .values()
                .map(|d| crate::ipvs::DestState {
                    dest: d.clone(),
                    active_conns: 0,
                    inactive_conns: 0,
                    persistent_conns: 0,
                    stats: Default::default(),
                })
                .collect(),
        })
        .collect()
}

/// The answer to `disable` / `enable` / `drain`.
pub fn admin_view(cmd: &AdminCmd, change: &AdminChange) -> Value {
    let done = match cmd {
        AdminCmd::Disable => "disabled",
        AdminCmd::Enable => "enabled",
        AdminCmd::Drain { .. } => "draining",
    };
    serde_json::json!({
        "done": done,
        "real_servers": change.servers,
        "changed": !change.change.dirty.is_empty(),
    })
}

/// The kernel's active connections per (service, destination), from a dump.
pub fn active_conns(
    dump: &[ServiceState],
) -> std::collections::HashMap<(ServiceKey, crate::ipvs::DestKey), u32> {
    dump.iter()
        .flat_map(|s| {
            s.dests
                .iter()
                .map(move |d| ((s.service.key, d.dest.key), d.active_conns))
        })
        .collect()
}

/// What a new configuration would change in the kernel table.
#[derive(Debug, Serialize)]
pub struct PlanView {
    /// The operations, in the order the reconciler would send them.
    pub ops: Vec<Op>,
    /// The same, one sentence each.
    pub lines: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// `lvsd ctl plan`'s LVS part: the state taken to `new` as a reload would take it (checker
/// verdicts and the operator's flags kept for what the file still has), its desired table
/// diffed against the kernel's (`dump`, else the reconciler's copy) with what lvsd manages
/// now and what the new file names. Nothing is applied and nothing is logged.
pub fn plan(
    state: &LvsState,
    rec: &Reconciler,
    dump: Result<Vec<ServiceState>, String>,
    new: Arc<Config>,
) -> PlanView {
    let mut preview = state.clone();
    // A reload logs what it does: a plan does nothing.
    tracing::subscriber::with_default(tracing::subscriber::NoSubscriber::default(), || {
        let _ = preview.reload(new);
    });
    let (actual, note) = match dump {
        Ok(d) => (Table::from_dump(d), None),
        Err(why) => (
            rec.actual().clone(),
            Some(format!(
                "the kernel table could not be read ({why}): planned against lvsd's copy of it"
            )),
        ),
    };
    let mut owned: Ownership = rec.owned().clone();
    let claims = preview.claims();
    owned.services.extend(claims.services);
    for (k, d) in claims.dests {
        owned.dests.entry(k).or_default().extend(d);
    }
    let ops = diff(&preview.desired(), &actual, &owned);
    let lines = ops.iter().map(|op| describe(op, &actual)).collect();
    PlanView { ops, lines, note }
}

/// One operation as a sentence, with the kernel's current values where it changes them.
pub fn describe(op: &Op, actual: &Table) -> String {
    let fwd = |d: &crate::ipvs::Dest| format!("{:?}", d.forward).to_lowercase();
    match op {
        Op::AddService(s) => format!(
            "add service {} (scheduler {})",
            service_name(&s.key),
            s.scheduler
        ),
        Op::EditService(s) => {
            let was = actual
                .services
                .get(&s.key)
                .map(|e| e.service.scheduler.clone())
                .unwrap_or_default();
            format!(
                "change service {} (scheduler {was} -> {}, flags, timeout or netmask)",
                service_name(&s.key),
                s.scheduler
            )
        }
        Op::DelService(k) => format!("delete service {}", service_name(k)),
        Op::AddDest(k, d) => format!(
            "add real server {} to {} (weight {}, {})",
            dest_name(&d.key),
            service_name(k),
            d.weight,
            fwd(d)
        ),
        Op::EditDest(k, d) => {
            let was = actual
                .services
                .get(k)
                .and_then(|e| e.dests.get(&d.key))
                .map(|h| h.weight);
            match was {
                Some(w) if w != d.weight => format!(
                    "set real server {} in {}: weight {w} -> {}",
                    dest_name(&d.key),
                    service_name(k),
                    d.weight
                ),
                _ => format!(
                    "change real server {} in {} (weight {}, {}, thresholds or tunnel)",
                    dest_name(&d.key),
                    service_name(k),
                    d.weight,
                    fwd(d)
                ),
            }
        }
        Op::DelDest(k, dk) => format!(
            "remove real server {} from {}",
            dest_name(dk),
            service_name(k)
        ),
    }
}
