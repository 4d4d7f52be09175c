//! `lvsd real-server`: the real-server side of the DR and TUN services of
//! keepalived.conf (or of VIPs given on the command line). It puts each VIP on `lo` (DR)
//! or on the tunnel device (TUN) as a host address, loads the tunnel modules, keeps the
//! host from answering ARP for the VIPs and relaxes the tunnel's reverse-path filter;
//! on SIGTERM/SIGINT it undoes all of it, and a state file lets the next start (or
//! `--cleanup`) undo what a `kill -9` left.
//!
//! [`plan`] decides (pure), [`apply`] carries out and undoes (the adapter), [`state`]
//! records, [`listeners`] reads the sockets the real-server doctor checks.

pub mod apply;
pub mod listeners;
pub mod plan;
pub mod state;

use crate::config::RcvBuf;
use crate::vrrp::link::Netlink;
use plan::Plan;
use state::Undo;
use std::path::Path;
use tokio::signal::unix::{signal, SignalKind};

fn connect() -> Result<Netlink, String> {
    Netlink::connect(RcvBuf::default()).map_err(|e| e.to_string())
}

/// Undoes what a previous run left recorded in `state`; the errors, if any.
async fn undo_leftovers(nl: &Netlink, state: &Path) -> Result<(), Vec<String>> {
    let mut undo = match Undo::load(state) {
        Ok(Some(u)) => u,
        Ok(None) => return Ok(()),
        Err(e) => return Err(vec![e]),
    };
    tracing::info!(
        "{} holds the changes of a run that did not stop cleanly: undoing them.",
        state.display()
    );
    let errors = apply::restore(nl, &mut undo, state).await;
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}

/// `lvsd real-server --cleanup`: undoes what the state file records.
pub async fn cleanup(state: &Path) -> Result<(), Vec<String>> {
    let nl = connect().map_err(|e| vec![e])?;
    undo_leftovers(&nl, state).await
}

/// Sets `plan` up, runs until SIGTERM or SIGINT, then undoes it. SIGHUP asks `replan`
/// for a new plan (the file read again): what it no longer asks for is undone, what it
/// adds is made, the rest is left alone; a file that cannot be read keeps the running
/// setup.
pub async fn run(
    plan: Plan,
    state: &Path,
    replan: impl Fn() -> Result<Plan, String>,
) -> Result<(), Vec<String>> {
    let nl = connect().map_err(|e| vec![e])?;
    let mut term = signal(SignalKind::terminate()).map_err(|e| vec![e.to_string()])?;
    let mut int = signal(SignalKind::interrupt()).map_err(|e| vec![e.to_string()])?;
    let mut hup = signal(SignalKind::hangup()).map_err(|e| vec![e.to_string()])?;
    if let Err(errors) = undo_leftovers(&nl, state).await {
        for e in errors {
            tracing::error!("{e}");
        }
    }
    for n in &plan.notes {
        tracing::warn!("{n}");
    }
    let mut undo = Undo::default();
    let mut plan = plan;
    for e in apply::apply(&nl, &plan, &mut undo, state).await {
        tracing::error!("{e}");
    }
    tracing::info!(
        "Real server set up: {} address(es), {} sysctl(s) changed.",
        undo.addresses.len(),
        undo.sysctls.len()
    );
    loop {
        tokio::select! {
            _ = term.recv() => break,
            _ = int.recv() => break,
            _ = hup.recv() => match replan() {
                Ok(new) if new == plan => tracing::info!("Reload: nothing changed."),
                Ok(new) => {
                    tracing::info!("Reload: undoing what the file no longer asks for, adding what it asks for now.");
                    for e in apply::restore_unwanted(&nl, &mut undo, &new, state).await {
                        tracing::error!("{e}");
                    }
                    for e in apply::apply(&nl, &new, &mut undo, state).await {
                        tracing::error!("{e}");
                    }
                    plan = new;
                }
                Err(e) => tracing::error!("Reload refused, the running setup stays: {e}"),
            },
        }
    }
    tracing::info!("Stopping: undoing the real server's setup.");
    let errors = apply::restore(&nl, &mut undo, state).await;
    if errors.is_empty() {
        Ok(())
    } else {
        Err(errors)
    }
}
