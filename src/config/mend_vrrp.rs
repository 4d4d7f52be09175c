//! The fix-ups keepalived 2.2.7 makes to each VRRP instance when it completes its
//! configuration (vrrp.c `vrrp_complete_instance`, vrrp_sync.c `vrrp_sync_set_group`):
//! each is applied to the model here, once, with a warning at the keyword it concerns, so
//! `-t` names it and the daemon runs what keepalived runs.

use super::build::InstanceSpans;
use super::diag::Diagnostic;
use super::model::*;

/// Mends every instance as keepalived does (in keepalived's order).
pub fn instances(c: &mut Config, spans: &[InstanceSpans], diags: &mut Vec<Diagnostic>) {
    let global = &c.global;
    for i in &c.instances {
        let strict = i.strict_mode.unwrap_or(global.vrrp_strict);
        let v3 = i.is_ipv6() || i.effective_version(global) == 3;
        if i.virtual_ipaddress.is_empty() && (v3 || strict) {
            // keepalived's VRRP process exits at start ("at least one is required").
            diags.push(Diagnostic::error(
                i.span.clone(),
                format!(
                    "vrrp_instance {} has no virtual_ipaddress, which {} requires \
                     (keepalived's VRRP side exits at start)",
                    i.name,
                    if strict {
                        "strict mode"
                    } else {
                        "VRRP version 3"
                    }
                ),
            ));
        } else if i.virtual_ipaddress.is_empty() {
            diags.push(Diagnostic::warning(
                i.span.clone(),
                format!(
                    "vrrp_instance {}: no virtual_ipaddress: it runs without addresses, as \
                     keepalived does (at least one is sensible)",
                    i.name
                ),
            ));
        }
    }
    for (idx, i) in c.instances.iter_mut().enumerate() {
        let sp = spans.get(idx).cloned().unwrap_or_default();
        let (name, whole) = (i.name.clone(), i.span.clone());
        if sp.priority.is_none() && i.state_explicit && i.state == InitialState::Master {
            diags.push(Diagnostic::note(
                sp.state.clone().unwrap_or_else(|| whole.clone()),
                format!(
                    "vrrp_instance {name}: `state MASTER` without a priority makes it the \
                     address owner (priority 255), as keepalived does"
                ),
            ));
            i.priority = 255;
        }
        let mut warn = |at: Option<&Span>, msg: String| {
            let span = at.unwrap_or(&whole).clone();
            diags.push(Diagnostic::warning(
                span,
                format!("vrrp_instance {name}: {msg}"),
            ));
        };
        let strict = i.strict_mode.unwrap_or(global.vrrp_strict);
        // keepalived uses version 3 for IPv6 whatever was written.
        let v3 = i.is_ipv6() || i.effective_version(global) == 3;
        let owner = i.priority == 255;

        if strict && (i.state == InitialState::Master) != owner {
            if i.state_explicit {
                warn(
                    sp.state.as_ref(),
                    format!(
                        "strict mode: state MASTER must match being the address owner \
                         (priority 255): state {} used, as keepalived does",
                        if owner { "MASTER" } else { "BACKUP" }
                    ),
                );
            }
            i.state = if owner {
                InitialState::Master
            } else {
                InitialState::Backup
            };
        }
        if let Some(a) = &i.authentication {
            let at = sp.authentication.as_ref();
            let ignored = if strict {
                Some("strict mode does not support authentication")
            } else if v3 {
                Some("VRRP version 3 does not support authentication")
            } else if a.auth_pass.is_empty() {
                Some("authentication without auth_pass")
            } else if i.is_ipv6() && a.auth_type == AuthType::Ah {
                Some("AH authentication does not work with IPv6")
            } else {
                None
            };
            if let Some(why) = ignored {
                warn(at, format!("{why}: ignored, as keepalived does"));
                i.authentication = None;
            } else if a.auth_type == AuthType::Ah
                && !owner
                && i.state_explicit
                && i.state == InitialState::Master
            {
                // It must hear an advert (for the AH sequence number) before taking over.
                warn(
                    sp.state.as_ref(),
                    "`state MASTER` does not work with AH authentication: BACKUP used, as \
                     keepalived does"
                        .into(),
                );
                i.state = InitialState::Backup;
            }
        }
        if i.unicast_peers.is_empty() && !i.unicast_fault_no_peer {
            if let Some(at) = &sp.unicast_src_ip {
                warn(
                    Some(at),
                    "unicast_src_ip without any unicast_peer: adverts go to the multicast \
                     group, as keepalived does"
                        .into(),
                );
            }
        }
        if !i.unicast_peers.is_empty() && i.mcast_dst_ip.is_some() {
            warn(
                sp.mcast_dst_ip.as_ref(),
                "mcast_dst_ip does nothing with unicast peers: ignored, as keepalived does".into(),
            );
            i.mcast_dst_ip = None;
        }
        if owner && i.nopreempt {
            warn(
                sp.nopreempt.as_ref(),
                "nopreempt does not work with priority 255: cleared, as keepalived does".into(),
            );
            i.nopreempt = false;
        }
        if i.state_explicit && i.state == InitialState::Master {
            if i.nopreempt {
                warn(
                    sp.nopreempt.as_ref(),
                    "nopreempt does not work with `state MASTER`: cleared, as keepalived does"
                        .into(),
                );
                i.nopreempt = false;
            }
            if i.preempt_delay.is_some() {
                warn(
                    sp.preempt_delay.as_ref(),
                    "preempt_delay does not work with `state MASTER`: cleared, as keepalived \
                     does"
                        .into(),
                );
                i.preempt_delay = None;
            }
        }
        let own = i.interface.clone();
        let mut dropped = Vec::new();
        i.track_interface.retain(|t| {
            let mine = t.name == own;
            if mine {
                dropped.push(t.span.clone());
            }
            !mine
        });
        for at in dropped {
            warn(
                Some(&at),
                format!(
                    "track_interface {own} is the instance's own interface, which it always \
                     tracks: ignored (with its weight), as keepalived does"
                ),
            );
        }
        if i.unicast_configured && i.use_vmac.is_some() && !i.vmac_xmit_base {
            // keepalived's vrrp_end_handler: unicast adverts go to the peers' own MACs, so
            // they are sent and received on the base interface.
            warn(
                sp.unicast_src_ip.as_ref(),
                "unicast with use_vmac requires vmac_xmit_base: set, as keepalived does".into(),
            );
            i.vmac_xmit_base = true;
        }
        if i.vmac_xmit_base && i.use_vmac.is_none() {
            warn(
                sp.vmac_xmit_base.as_ref(),
                "vmac_xmit_base needs use_vmac: cleared, as keepalived does".into(),
            );
            i.vmac_xmit_base = false;
        }
    }
}

/// A sync group of one instance is kept, but keepalived names it.
pub fn sync_groups(c: &Config, diags: &mut Vec<Diagnostic>) {
    for g in &c.sync_groups {
        if g.members.len() == 1 {
            diags.push(Diagnostic::warning(
                g.span.clone(),
                format!(
                    "vrrp_sync_group {} has only one vrrp_instance: it synchronises nothing \
                     (keepalived warns the same)",
                    g.name
                ),
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::config::model::InitialState;
    use std::path::Path;

    fn first_instance(text: &str) -> crate::config::model::VrrpInstance {
        let l = crate::config::parse_str(text, Path::new("k.conf"), "")
            .unwrap_or_else(|e| panic!("{e}"));
        l.config.instances[0].clone()
    }

    const BASE: &str = "vrrp_instance A {\n interface eth0\n virtual_router_id 7\n EXTRA\n\
                        virtual_ipaddress {\n  10.0.0.1\n }\n}\n";

    #[test]
    fn what_keepalived_clears_is_cleared() {
        let i = first_instance(&BASE.replace(
            "EXTRA",
            "mcast_dst_ip 224.0.0.20\n unicast_peer {\n  10.0.0.3\n }",
        ));
        assert_eq!(i.mcast_dst_ip, None);
        let i = first_instance(&BASE.replace("EXTRA", "mcast_dst_ip 224.0.0.20"));
        assert!(i.mcast_dst_ip.is_some(), "kept without unicast peers");
        let i = first_instance(&BASE.replace("EXTRA", "vmac_xmit_base"));
        assert!(!i.vmac_xmit_base);
        let i = first_instance(&BASE.replace("EXTRA", "use_vmac\n vmac_xmit_base"));
        assert!(i.vmac_xmit_base, "kept with use_vmac");
        let i = first_instance(&BASE.replace(
            "EXTRA",
            "track_interface {\n  eth0 weight 5\n  eth1 weight 7\n }",
        ));
        let names: Vec<&str> = i.track_interface.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["eth1"]);
        let i = first_instance(&BASE.replace("EXTRA", "priority 255\n nopreempt"));
        assert!(!i.nopreempt);
        let i = first_instance(&BASE.replace("EXTRA", "strict_mode\n priority 100\n state MASTER"));
        assert_eq!(i.state, InitialState::Backup);
        // Without a priority, `state MASTER` is the address owner (keepalived derives it
        // before strict mode compares the two).
        let i = first_instance(&BASE.replace("EXTRA", "strict_mode\n state MASTER"));
        assert_eq!((i.state, i.priority), (InitialState::Master, 255));
        let i = first_instance(&BASE.replace("EXTRA", "state MASTER"));
        assert_eq!(i.priority, 255);
        let i = first_instance(&BASE.replace("EXTRA", "state BACKUP"));
        assert_eq!(i.priority, 100);
        let i = first_instance(&BASE.replace("EXTRA", "state MASTER\n priority 0"));
        assert_eq!(i.priority, 255, "an out-of-range priority is no priority");
    }
}
