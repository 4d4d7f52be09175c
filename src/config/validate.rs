//! Checks that need the whole configuration: ranges that depend on other settings,
//! duplicates, and names that must refer to something defined. Where keepalived runs the
//! file anyway, the configuration is mended as keepalived mends it (a warning says how);
//! the rest are errors that refuse the file.

use super::build::InstanceSpans;
use super::diag::Diagnostic;
use super::model::*;
use std::collections::{HashMap, HashSet};

pub fn validate(c: &mut Config, spans: &[InstanceSpans], diags: &mut Vec<Diagnostic>) {
    share_ssl_client(c);
    mend(c, spans, diags);
    super::mend_vrrp::sync_groups(c, diags);
    mend_track_refs(c, diags);
    check(c, spans, diags);
}

/// The `SSL` block applies to every SSL_GET, wherever it was written.
fn share_ssl_client(c: &mut Config) {
    let Some(ssl) = &c.ssl else {
        return;
    };
    for vs in &mut c.virtual_servers {
        for rs in &mut vs.real_servers {
            for ch in &mut rs.checkers {
                if let CheckerKind::Http(h) = &mut ch.kind {
                    if h.tls {
                        h.client = Some(ssl.clone());
                    }
                }
            }
        }
    }
}

/// What keepalived runs with after a warning: each problem's fallback applied.
fn mend(c: &mut Config, spans: &[InstanceSpans], diags: &mut Vec<Diagnostic>) {
    let mut warn = |span: &Span, msg: String| diags.push(Diagnostic::warning(span.clone(), msg));

    // A vrrp_script without a script is dropped (keepalived: "No script set ... removing").
    c.vrrp_scripts.retain(|s| {
        if s.script.is_empty() {
            warn(
                &s.span,
                format!(
                    "vrrp_script {} has no `script`: dropped, as keepalived does",
                    s.name
                ),
            );
        }
        !s.script.is_empty()
    });
    let scripts: HashSet<String> = c.vrrp_scripts.iter().map(|s| s.name.clone()).collect();
    let script_defined = |n: &str| scripts.contains(n);
    let any_interface = |_: &str| true;
    for i in &mut c.instances {
        known_once(
            &mut i.track_script,
            &script_defined,
            "track_script",
            "vrrp_script",
            diags,
        );
        known_once(
            &mut i.track_interface,
            &any_interface,
            "track_interface",
            "",
            diags,
        );
    }
    for g in &mut c.sync_groups {
        known_once(
            &mut g.track_script,
            &script_defined,
            "track_script",
            "vrrp_script",
            diags,
        );
        known_once(
            &mut g.track_interface,
            &any_interface,
            "track_interface",
            "",
            diags,
        );
    }

    super::mend_vrrp::instances(c, spans, diags);
    let mut warn = |span: &Span, msg: String| diags.push(Diagnostic::warning(span.clone(), msg));

    // Sync group members that name no instance, or an instance an earlier group has,
    // are left out; a group left without members is removed (keepalived: "cannot exist
    // in more than one sync group; ignoring", "no matching virtual router ... removing").
    let instances: HashSet<String> = c.instances.iter().map(|i| i.name.clone()).collect();
    let mut member_of: HashMap<String, String> = HashMap::new();
    let mut emptied = HashSet::new();
    for g in &mut c.sync_groups {
        let mut members = Vec::new();
        let mut member_spans = Vec::new();
        let had_members = !g.members.is_empty();
        for (m, at) in g.members.drain(..).zip(g.member_spans.drain(..)) {
            if !instances.contains(&m) {
                warn(
                    &at,
                    format!("vrrp_sync_group {}: unknown vrrp_instance `{m}` (left out, as keepalived does)", g.name),
                );
            } else if let Some(other) = member_of.get(&m) {
                warn(
                    &at,
                    format!("vrrp_sync_group {}: vrrp_instance {m} is already in vrrp_sync_group {other} (left out here, as keepalived does)", g.name),
                );
            } else {
                member_of.insert(m.clone(), g.name.clone());
                members.push(m);
                member_spans.push(at);
            }
        }
        if members.is_empty() {
            // keepalived: "Sync group ... has no virtual router(s). removing"
            let why = if had_members {
                "has no member left"
            } else {
                "has no members (no `group { }` block)"
            };
            warn(
                &g.span,
                format!(
                    "vrrp_sync_group {} {why}: removed, as keepalived does",
                    g.name
                ),
            );
            emptied.insert(g.name.clone());
        }
        g.members = members;
        g.member_spans = member_spans;
    }
    c.sync_groups.retain(|g| !emptied.contains(&g.name));

    let c_groups_fwmark: HashSet<String> = c
        .virtual_server_groups
        .iter()
        .filter(|g| g.entries.iter().any(|e| matches!(e, VsgEntry::Fwmark(..))))
        .map(|g| g.name.clone())
        .collect();
    let c_has_fwmark = |set: &HashSet<String>, n: &str| set.contains(n);
    // FILE_CHECK's `track_file` names a top-level track_file in keepalived: its file (and
    // its weight, unless the checker gives one) are the checker's. (A path still works.)
    let files: HashMap<String, (String, i32, bool)> = c
        .track_files
        .iter()
        .map(|d| (d.name.clone(), (d.file.clone(), d.weight, d.weight_reverse)))
        .collect();
    for vs in &mut c.virtual_servers {
        for rs in &mut vs.real_servers {
            // keepalived drops a FILE_CHECK whose track_file names nothing defined ("track_file
            // X not found"); lvsd also takes an absolute path, which it reads.
            rs.checkers.retain(|ck| match &ck.kind {
                CheckerKind::File(f)
                    if !files.contains_key(&f.track_file) && !f.track_file.starts_with('/') =>
                {
                    warn(&ck.span, format!("FILE_CHECK: track_file `{}` names no track_file: the checker is dropped, as keepalived does", f.track_file));
                    false
                }
                _ => true,
            });
            for ck in &mut rs.checkers {
                if let CheckerKind::File(f) = &mut ck.kind {
                    if let Some((path, weight, reverse)) = files.get(&f.track_file) {
                        f.track_file = path.clone();
                        if f.weight.is_none() {
                            f.weight = Some(*weight);
                            f.reverse = *reverse;
                        }
                    }
                }
            }
        }
    }
    // Virtual servers naming no group are dropped; DR and TUN real servers on another
    // port than the virtual server's are put back on it (only NAT can change ports).
    let groups: HashSet<String> = c
        .virtual_server_groups
        .iter()
        .map(|g| g.name.clone())
        .collect();
    let group_has_addresses: HashMap<String, bool> = c
        .virtual_server_groups
        .iter()
        .map(|g| {
            let addrs = g
                .entries
                .iter()
                .any(|e| matches!(e, VsgEntry::Range { .. }));
            (g.name.clone(), addrs)
        })
        .collect();
    let group_has_portless: HashSet<String> = c
        .virtual_server_groups
        .iter()
        .filter(|g| {
            g.entries.iter().any(|e| {
                matches!(
                    e,
                    VsgEntry::Range {
                        port: None | Some(0),
                        ..
                    }
                )
            })
        })
        .map(|g| g.name.clone())
        .collect();
    c.virtual_servers.retain_mut(|vs| {
        if let VsKey::Group(name) = &vs.key {
            if !groups.contains(name) {
                warn(
                    &vs.span,
                    format!("virtual_server group `{name}`: no virtual_server_group of that name (the virtual server is dropped, as keepalived does)"),
                );
                return false;
            }
        }
        if vs.real_servers.is_empty() {
            warn(
                &vs.span,
                "virtual_server has no real servers: ignored, as keepalived does".into(),
            );
            return false;
        }
        let by_address = match &vs.key {
            VsKey::Addr { .. } => true,
            VsKey::Fwmark { .. } => false,
            VsKey::Group(name) => group_has_addresses.get(name).copied().unwrap_or(false),
        };
        let fwmark = matches!(vs.key, VsKey::Fwmark { .. });
        if vs.ha_suspend
            && (fwmark
                || matches!(&vs.key, VsKey::Group(n) if c_has_fwmark(&c_groups_fwmark, n)))
        {
            warn(&vs.span, "ha_suspend does not work with fwmarks: cleared, as keepalived does".into());
            vs.ha_suspend = false;
        }
        if by_address {
            if !vs.protocol_set {
                warn(
                    &vs.span,
                    "virtual_server has no `protocol`: UDP used, as keepalived does (the kernel's default; write `protocol TCP` for TCP)".into(),
                );
                vs.protocol = Protocol::Udp;
                vs.protocol_set = true;
            }
            if vs.ops && vs.protocol != Protocol::Udp {
                warn(&vs.span, "one-packet scheduling (ops) needs UDP: cleared, as keepalived does".into());
                vs.ops = false;
            }
            if let VsKey::Addr { port: 0, .. } = vs.key {
                if vs.persistence_timeout.is_none() {
                    warn(&vs.span, format!("port 0 needs a persistent service: persistence_timeout {} used, as keepalived does", defaults::PERSISTENCE_TIMEOUT));
                    vs.persistence_timeout = Some(defaults::PERSISTENCE_TIMEOUT);
                }
            }
        }
        if let VsKey::Group(name) = &vs.key {
            if vs.persistence_timeout.is_none() && group_has_portless.contains(name) {
                warn(&vs.span, format!("virtual_server_group {name} has an address without a port, which needs a persistent service: persistence_timeout {} used, as keepalived does", defaults::PERSISTENCE_TIMEOUT));
                vs.persistence_timeout = Some(defaults::PERSISTENCE_TIMEOUT);
            }
        }
        if fwmark && vs.protocol_set {
            warn(&vs.span, "a fwmark virtual_server ignores `protocol`, as keepalived does".into());
        }
        if !vs.lb_kind_set
            && (vs.real_servers.iter().any(|rs| rs.lvs_method.is_none())
                || vs.sorry_server.as_ref().is_some_and(|s| s.lvs_method.is_none()))
        {
            warn(&vs.span, "virtual_server has no `lb_kind`: NAT used, as keepalived does".into());
            vs.lb_kind_set = true;
        }
        // A real server written twice: the second is left out.
        let mut seen_rs: HashSet<(std::net::IpAddr, Option<u16>)> = HashSet::new();
        vs.real_servers.retain(|rs| {
            let fresh = seen_rs.insert((rs.addr, rs.port));
            if !fresh {
                warn(&rs.span, format!("real_server {} is written twice in this virtual_server: the second is left out, as keepalived does", rs.addr));
            }
            fresh
        });
        if let VsKey::Addr { port: vport, .. } = vs.key {
            let vs_kind = vs.lb_kind;
            for rs in &mut vs.real_servers {
                let (method, word) = match rs.lvs_method {
                    Some(m) => (m, "lvs_method"),
                    None => (vs_kind, "lb_kind"),
                };
                let name = match method {
                    LbKind::Dr => "DR",
                    LbKind::Tun => "TUN",
                    LbKind::Nat => continue,
                };
                if let Some(p) = rs.port {
                    if p != vport {
                        warn(
                            &rs.port_span,
                            format!("{word} {name}: real server port {p} differs from the virtual server port {vport} (only NAT can change ports): port {vport} used, as keepalived does"),
                        );
                        rs.port = None;
                    }
                }
            }
        }
        if let VsKey::Fwmark { .. } = vs.key {
            let vs_kind = vs.lb_kind;
            for rs in &mut vs.real_servers {
                let method = rs.lvs_method.unwrap_or(vs_kind);
                if method != LbKind::Nat && rs.port.is_some_and(|p| p != 0) {
                    warn(&rs.port_span, "a fwmark virtual_server's DR/TUN real server takes no port: cleared, as keepalived does".into());
                    rs.port = None;
                }
            }
        }
        if let Some(s) = vs.sorry_server.as_mut() {
            let method = s.lvs_method.unwrap_or(vs.lb_kind);
            if method != LbKind::Nat && s.port != 0 {
                match vs.key {
                    VsKey::Fwmark { .. } => {
                        warn(&vs.span, "a fwmark virtual_server's DR/TUN sorry_server takes no port: cleared, as keepalived does".into());
                        s.port = 0;
                    }
                    VsKey::Addr { port, .. } if port != s.port => {
                        warn(&vs.span, format!("the DR/TUN sorry_server's port {} differs from the virtual server's: port {port} used, as keepalived does", s.port));
                        s.port = port;
                    }
                    _ => {}
                }
            }
        }
        // A real server that is also the sorry server: its inhibit_on_failure wins
        // (keepalived check_data.c: "matches sorry server, but inhibit setting differs").
        if let Some(s) = &vs.sorry_server {
            let vport = match vs.key {
                VsKey::Addr { port, .. } => Some(port),
                _ => None,
            };
            let same = vs.real_servers.iter().find(|rs| {
                rs.addr == s.addr && rs.port.or(vport).unwrap_or(0) == s.port
            });
            if let Some(rs) = same {
                let inhibit = rs.inhibit_on_failure.unwrap_or(vs.inhibit_on_failure);
                if inhibit != vs.sorry_server_inhibit {
                    warn(&rs.span, format!("real_server {} is also the sorry_server, with another inhibit_on_failure setting: {} on the sorry server, as keepalived does", rs.addr, if inhibit { "set" } else { "cleared" }));
                    vs.sorry_server_inhibit = inhibit;
                }
            }
        }
        // The quorum can never be reached above the real servers' total weight, and the
        // hysteresis must stay below the quorum.
        let weight_sum: u64 = vs.real_servers.iter().map(|rs| u64::from(rs.weight)).sum();
        if u64::from(vs.quorum) > weight_sum {
            let w = u32::try_from(weight_sum).unwrap_or(u32::MAX);
            warn(&vs.span, format!("quorum {} exceeds the real servers' total weight {w}: quorum {w} used, as keepalived does", vs.quorum));
            vs.quorum = w;
        }
        if vs.hysteresis >= vs.quorum {
            let h = vs.quorum.saturating_sub(1);
            if vs.hysteresis != h {
                warn(&vs.span, format!("hysteresis {} is not below the quorum {}: hysteresis {h} used, as keepalived does", vs.hysteresis, vs.quorum));
            }
            vs.hysteresis = h;
        }
        if let (Some(s), VsKey::Addr { addr, .. }) = (&vs.sorry_server, &vs.key) {
            if addr.is_ipv4() != s.addr.is_ipv4() {
                warn(
                    &vs.span,
                    "sorry_server address family differs from the virtual server's (ignored)".into(),
                );
                vs.sorry_server = None;
            }
        }
        true
    });
}

/// What refuses the file; and the advert interval, which the VRRP side puts in range.
fn check(c: &Config, spans: &[InstanceSpans], diags: &mut Vec<Diagnostic>) {
    let mut found: Vec<Diagnostic> = Vec::new();

    let mut vrids: HashMap<(&str, u8, bool), &VrrpInstance> = HashMap::new();
    for (idx, i) in c.instances.iter().enumerate() {
        let sp = spans.get(idx).cloned().unwrap_or_default();
        let version = i.effective_version(&c.global);
        if let Some(at) = &sp.advert_int {
            let shown = super::print::seconds(i.advert_int);
            let bad = !super::model::advert_interval_cs(version, i.advert_int).1;
            if bad {
                let range = if version == 2 {
                    "VRRP version 2 needs whole seconds 1-255"
                } else {
                    "VRRP version 3 needs 0.01-40.95 seconds in hundredths"
                };
                found.push(Diagnostic::warning(
                    at.clone(),
                    format!("advert_int {shown} out of range: {range} (the nearest valid interval is used)"),
                ));
            }
        }
        if i.virtual_router_id != 0 && !i.interface.is_empty() {
            let key = (i.interface.as_str(), i.virtual_router_id, i.is_ipv6());
            if let Some(first) = vrids.get(&key) {
                let fam = if key.2 { "IPv6" } else { "IPv4" };
                found.push(Diagnostic::error(
                    i.vrid_span.clone(),
                    format!(
                        "duplicate virtual_router_id {} on interface {} ({fam}): already used by vrrp_instance {} at {}",
                        i.virtual_router_id, i.interface, first.name, first.vrid_span
                    ),
                ));
            } else {
                vrids.insert(key, i);
            }
        }
    }

    diags.extend(found);
}

/// A list of tracked objects as keepalived 2.2.7 takes it: an entry naming nothing
/// `defined` (a `def` of that name), or naming what an earlier entry named, is left out.
fn known_once(
    refs: &mut Vec<TrackRef>,
    defined: &dyn Fn(&str) -> bool,
    word: &str,
    def: &str,
    diags: &mut Vec<Diagnostic>,
) {
    let mut seen = HashSet::new();
    refs.retain(|r| {
        if !defined(&r.name) {
            diags.push(Diagnostic::warning(
                r.span.clone(),
                format!(
                    "{word} `{}`: no {def} of that name (not tracked, as keepalived does)",
                    r.name
                ),
            ));
            return false;
        }
        if !seen.insert(r.name.clone()) {
            diags.push(Diagnostic::warning(
                r.span.clone(),
                format!("duplicate {word} {} (ignored, as keepalived does)", r.name),
            ));
            return false;
        }
        true
    });
}

/// `track_file {}` / `track_process {}` of instances and sync groups, as keepalived 2.2.7
/// resolves them: a name that is not defined, or named twice in one list, is left out
/// ([`known_once`], which the scripts and interfaces went through in [`mend`]); an
/// instance in a sync group without `sync_group_tracking_weight` (or the address owner)
/// cannot have weighted trackers of its own: a weighted script is left out, a weighted
/// interface only faults a member (the owner leaves it out), a file's default weight 1
/// becomes 0 and another weight drops the entry (processes keep theirs); a sync group with
/// an address owner among its members has its tracked files and processes unweighted.
fn mend_track_refs(c: &mut Config, diags: &mut Vec<Diagnostic>) {
    let file_weight: HashMap<String, i32> = c
        .track_files
        .iter()
        .rev()
        .map(|f| (f.name.clone(), f.weight))
        .collect();
    let process_weight: HashMap<String, i32> = c
        .track_processes
        .iter()
        .rev()
        .map(|p| (p.name.clone(), p.weight))
        .collect();
    let file_defined = |n: &str| file_weight.contains_key(n);
    let process_defined = |n: &str| process_weight.contains_key(n);
    for i in &mut c.instances {
        known_once(
            &mut i.track_file,
            &file_defined,
            "track_file",
            "track_file",
            diags,
        );
        known_once(
            &mut i.track_process,
            &process_defined,
            "track_process",
            "vrrp_track_process",
            diags,
        );
    }
    for g in &mut c.sync_groups {
        known_once(
            &mut g.track_file,
            &file_defined,
            "track_file",
            "track_file",
            diags,
        );
        known_once(
            &mut g.track_process,
            &process_defined,
            "track_process",
            "vrrp_track_process",
            diags,
        );
    }
    let mut warn = |span: &Span, msg: String| diags.push(Diagnostic::warning(span.clone(), msg));
    // Members of a sync group without sync_group_tracking_weight.
    let grouped: HashSet<String> = c
        .sync_groups
        .iter()
        .filter(|g| !g.tracking_weight)
        .flat_map(|g| g.members.iter().cloned())
        .collect();
    let script_weight: HashMap<String, i32> = c
        .vrrp_scripts
        .iter()
        .rev()
        .map(|s| (s.name.clone(), s.weight))
        .collect();
    for i in &mut c.instances {
        let in_group = grouped.contains(&i.name);
        let why = if in_group {
            "its sync group (no sync_group_tracking_weight)"
        } else if i.priority == 255 {
            "priority 255 (address owner)"
        } else {
            continue;
        };
        let name = i.name.clone();
        let own = i.interface.clone();
        // A weighted script is dropped.
        i.track_script.retain(|t| {
            let w = t
                .weight
                .unwrap_or_else(|| script_weight.get(&t.name).copied().unwrap_or(0));
            if w != 0 {
                warn(&t.span, format!("vrrp_instance {name}: track_script {} with weight {w} left out because of {why}, as keepalived does", t.name));
            }
            w == 0
        });
        // A weighted interface: only faults a sync group member; the owner drops it.
        i.track_interface.retain_mut(|t| {
            let Some(w) = t.weight.filter(|w| *w != 0) else {
                return true;
            };
            if in_group {
                warn(&t.span, format!("vrrp_instance {name}: weight {w} of track_interface {} ignored because of {why}: link down is FAULT, as keepalived does", t.name));
                t.weight = None;
                t.reverse = None;
                // Unweighted, the own interface is the one always tracked.
                t.name != own
            } else {
                warn(&t.span, format!("vrrp_instance {name}: track_interface {} with weight {w} left out because of {why}, as keepalived does", t.name));
                false
            }
        });
        i.track_file.retain_mut(|r| {
            let w = r.weight.unwrap_or_else(|| file_weight.get(&r.name).copied().unwrap_or(0));
            if w == 1 {
                warn(&r.span, format!("vrrp_instance {name}: weight of track_file {} ignored because of {why}: unweighted (a non-zero value is FAULT), as keepalived does; write `weight 0`", r.name));
                r.weight = Some(0);
            } else if w != 0 {
                warn(&r.span, format!("vrrp_instance {name}: track_file {} with weight {w} left out because of {why}, as keepalived does", r.name));
                return false;
            }
            true
        });
    }
    let owners: HashSet<&str> = c
        .instances
        .iter()
        .filter(|i| i.priority == 255)
        .map(|i| i.name.as_str())
        .collect();
    for g in &mut c.sync_groups {
        if !g.members.iter().any(|m| owners.contains(m.as_str())) {
            continue;
        }
        for (refs, defs, word) in [
            (&mut g.track_file, &file_weight, "track_file"),
            (&mut g.track_process, &process_weight, "track_process"),
        ] {
            for r in refs.iter_mut() {
                let w = r
                    .weight
                    .unwrap_or_else(|| defs.get(&r.name).copied().unwrap_or(0));
                if w != 0 {
                    warn(&r.span, format!("vrrp_sync_group {}: a member has priority 255: weight of {word} {} set to 0, as keepalived does", g.name, r.name));
                    r.weight = Some(0);
                }
            }
        }
        for t in &mut g.track_script {
            let w = t
                .weight
                .unwrap_or_else(|| script_weight.get(&t.name).copied().unwrap_or(0));
            if w != 0 {
                warn(&t.span, format!("vrrp_sync_group {}: a member has priority 255: weight of track_script {} set to 0, as keepalived does", g.name, t.name));
                t.weight = Some(0);
                t.reverse = Some(false);
            }
        }
        for t in &mut g.track_interface {
            if t.weight.is_some_and(|w| w != 0) {
                warn(&t.span, format!("vrrp_sync_group {}: a member has priority 255: weight of track_interface {} set to 0, as keepalived does", g.name, t.name));
                t.weight = None;
                t.reverse = None;
            }
        }
    }
}
