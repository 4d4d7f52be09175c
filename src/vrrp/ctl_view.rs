//! The VRRP side's state for the control socket (`lvsd ctl state`), as JSON: one object
//! per instance with its state, priorities and counters. I/O-free, from the same
//! [`View`]s the dump files are made from.

use crate::vrrp::dump::View;
use crate::vrrp::state::State;
use serde::Serialize;
use std::time::UNIX_EPOCH;

#[derive(Debug, Serialize)]
pub struct InstanceView<'a> {
    pub name: &'a str,
    /// "INIT", "BACKUP", "MASTER", "FAULT" or "STOP".
    pub state: &'static str,
    pub vrid: u8,
    pub interface: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sync_group: Option<&'a str>,
    /// The configured priority.
    pub base_priority: u8,
    /// The priority after tracking.
    pub priority: u8,
    /// Whether it holds its virtual addresses.
    pub vips_held: bool,
    /// Seconds since the Unix epoch of its last change of state.
    pub last_transition: u64,
    pub become_master: u64,
    pub release_master: u64,
    pub adverts_sent: u64,
    pub adverts_received: u64,
}

fn state_name(s: State) -> &'static str {
    match s {
        State::Init => "INIT",
        State::Backup => "BACKUP",
        State::Master => "MASTER",
        State::Fault => "FAULT",
        State::Stop => "STOP",
    }
}

/// The instances as a JSON array.
pub fn state_json(views: &[View]) -> String {
    let items: Vec<InstanceView> = views
        .iter()
        .map(|v| {
            let p = v.inst.params();
            InstanceView {
                name: &p.name,
                state: state_name(v.inst.state()),
                vrid: p.vrid,
                interface: &p.interface,
                sync_group: v.sync_group,
                base_priority: v.inst.base_priority(),
                priority: v.inst.effective_priority(),
                vips_held: v.vipset,
                last_transition: v
                    .last_transition
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default()
                    .as_secs(),
                become_master: v.counters.become_master,
                release_master: v.counters.release_master,
                adverts_sent: v.counters.advert_sent,
                adverts_received: v.counters.advert_rcvd,
            }
        })
        .collect();
    serde_json::to_string(&items).unwrap_or_else(|_| "[]".to_string())
}
