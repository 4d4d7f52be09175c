//! The VRRP side's state for the control socket (`lvsd ctl state`), as JSON: one object
//! per instance with its state, priorities and counters. I/O-free, from the same
//! [`View`]s the dump files are made from.

use crate::vrrp::dump::View;
use crate::vrrp::state::State;
use serde::Serialize;
use std::collections::BTreeMap;
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
    /// Its virtual addresses and the interface each goes on.
    pub vips: Vec<VipView>,
    /// Adverts dropped or refused, per keepalived counter (`packet_len_err`,
    /// `advert_interval_err`, `ip_ttl_err`, `invalid_type_rcvd`, `addr_list_err`,
    /// `invalid_authtype`, `authtype_mismatch`, `auth_failure`), and `pri_zero_rcvd` /
    /// `pri_zero_sent`.
    pub drops: BTreeMap<&'static str, u64>,
}

#[derive(Debug, Serialize)]
pub struct VipView {
    pub address: String,
    pub prefix_len: u8,
    pub interface: String,
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

fn drops(c: &crate::vrrp::dump::Counters) -> BTreeMap<&'static str, u64> {
    c.drop_fields().into_iter().collect()
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
                vips: p
                    .vips
                    .iter()
                    .map(|ip| VipView {
                        address: ip.addr.to_string(),
                        prefix_len: ip.prefix_len,
                        interface: ip.dev.clone().unwrap_or_else(|| p.interface.clone()),
                    })
                    .collect(),
                drops: drops(&v.counters),
            }
        })
        .collect();
    serde_json::to_string(&items).unwrap_or_else(|_| "[]".to_string())
}
