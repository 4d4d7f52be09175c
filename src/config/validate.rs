//! Checks that need the whole configuration: ranges that depend on other settings,
//! duplicates, and names that must refer to something defined.

use super::build::InstanceSpans;
use super::diag::Diagnostic;
use super::model::*;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

pub fn validate(c: &Config, spans: &[InstanceSpans], diags: &mut Vec<Diagnostic>) {
    let mut err = |span: &Span, msg: String| diags.push(Diagnostic::error(span.clone(), msg));

    // Names defined twice.
    let mut seen: HashMap<&str, &Span> = HashMap::new();
    for s in &c.vrrp_scripts {
        if let Some(first) = seen.insert(&s.name, &s.span) {
            err(
                &s.span,
                format!("vrrp_script {} is already defined at {first}", s.name),
            );
        }
    }
    let mut seen: HashMap<&str, &Span> = HashMap::new();
    for i in &c.instances {
        if let Some(first) = seen.insert(&i.name, &i.span) {
            err(
                &i.span,
                format!("vrrp_instance {} is already defined at {first}", i.name),
            );
        }
    }

    let scripts: HashSet<&str> = c.vrrp_scripts.iter().map(|s| s.name.as_str()).collect();
    let mut vrids: HashMap<(&str, u8, bool), &VrrpInstance> = HashMap::new();
    for (idx, i) in c.instances.iter().enumerate() {
        let sp = spans.get(idx).cloned().unwrap_or_default();
        let version = i.effective_version(&c.global);
        if let Some(at) = &sp.advert_int {
            let cs = i.advert_int.as_micros();
            let shown = super::print::seconds(i.advert_int);
            if version == 2 {
                if i.advert_int.subsec_micros() != 0 || !(1..=255).contains(&i.advert_int.as_secs())
                {
                    err(at, format!("advert_int {shown} out of range: VRRP version 2 needs whole seconds 1-255"));
                }
            } else if cs % 10_000 != 0
                || !(Duration::from_millis(10)..=Duration::from_millis(40_950))
                    .contains(&i.advert_int)
            {
                err(at, format!("advert_int {shown} out of range: VRRP version 3 needs 0.01-40.95 seconds in hundredths"));
            }
        }
        if i.virtual_router_id != 0 && !i.interface.is_empty() {
            let key = (i.interface.as_str(), i.virtual_router_id, i.is_ipv6());
            if let Some(first) = vrids.get(&key) {
                let fam = if key.2 { "IPv6" } else { "IPv4" };
                err(
                    &i.vrid_span,
                    format!(
                        "duplicate virtual_router_id {} on interface {} ({fam}): already used by vrrp_instance {} at {}",
                        i.virtual_router_id, i.interface, first.name, first.vrid_span
                    ),
                );
            } else {
                vrids.insert(key, i);
            }
        }
        let backup = i.state_explicit && i.state == InitialState::Backup;
        if !backup {
            if let Some(at) = &sp.nopreempt {
                err(
                    at,
                    "nopreempt needs `state BACKUP` in the same vrrp_instance".into(),
                );
            }
            if let Some(at) = &sp.preempt_delay {
                err(
                    at,
                    "preempt_delay needs `state BACKUP` in the same vrrp_instance".into(),
                );
            }
        }
        for t in &i.track_script {
            if !scripts.contains(t.name.as_str()) {
                err(
                    &t.span,
                    format!("track_script `{}`: no vrrp_script of that name", t.name),
                );
            }
        }
    }

    let instances: HashSet<&str> = c.instances.iter().map(|i| i.name.as_str()).collect();
    let mut member_of: HashMap<&str, &str> = HashMap::new();
    for g in &c.sync_groups {
        for (m, at) in g.members.iter().zip(&g.member_spans) {
            if !instances.contains(m.as_str()) {
                err(
                    at,
                    format!("vrrp_sync_group {}: unknown vrrp_instance `{m}`", g.name),
                );
            } else if let Some(other) = member_of.insert(m, &g.name) {
                err(
                    at,
                    format!("vrrp_instance {m} is already in vrrp_sync_group {other}"),
                );
            }
        }
        for t in &g.track_script {
            if !scripts.contains(t.name.as_str()) {
                err(
                    &t.span,
                    format!("track_script `{}`: no vrrp_script of that name", t.name),
                );
            }
        }
    }

    let groups: HashSet<&str> = c
        .virtual_server_groups
        .iter()
        .map(|g| g.name.as_str())
        .collect();
    for vs in &c.virtual_servers {
        match &vs.key {
            VsKey::Group(name) if !groups.contains(name.as_str()) => {
                err(
                    &vs.span,
                    format!("virtual_server group `{name}`: no virtual_server_group of that name"),
                );
            }
            VsKey::Addr { port: vport, .. } => {
                for rs in &vs.real_servers {
                    let (method, word) = match rs.lvs_method {
                        Some(m) => (m, "lvs_method"),
                        None => (vs.lb_kind, "lb_kind"),
                    };
                    let name = match method {
                        LbKind::Dr => "DR",
                        LbKind::Tun => "TUN",
                        LbKind::Nat => continue,
                    };
                    if let Some(p) = rs.port {
                        if p != *vport {
                            err(
                                &rs.port_span,
                                format!("{word} {name}: real server port {p} differs from the virtual server port {vport} (only NAT can change ports)"),
                            );
                        }
                    }
                }
            }
            _ => {}
        }
        if let Some(s) = &vs.sorry_server {
            if let VsKey::Addr { addr, .. } = &vs.key {
                if addr.is_ipv4() != s.addr.is_ipv4() {
                    err(
                        &vs.span,
                        "sorry_server address family differs from the virtual server's".into(),
                    );
                }
            }
        }
    }
}
