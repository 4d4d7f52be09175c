//! Reloads. [`plan`] says what a new configuration changes for the VRRP side (nothing,
//! priorities only, or the instances), [`address_jobs`] what address work follows a
//! rebuild; both are I/O-free. `Runtime::reload` applies them.

use super::addresses::AddrJob;
use super::io::{Clock, VrrpIo};
use super::{addr_job, send_advert};
use super::{make_params, notify_state, Runtime};
use crate::config::model::{SyncGroup, TrackFileDef, TrackProcessDef, VrrpInstance};
use crate::config::{Config, GlobalDefs, VrrpScript};
use crate::vrrp::notify::{StateChange, Who};
use crate::vrrp::routes::{self, NetItem};
use crate::vrrp::state::{Action, Event, State, VipChange};
use crate::vrrp::vip::VipSpec;
use std::net::IpAddr;
use std::sync::Arc;

/// The parts of a configuration the VRRP side runs from (where things were written does
/// not count: `Span`s compare equal).
#[derive(Debug, PartialEq)]
struct VrrpPart<'a> {
    global: GlobalDefs,
    instances: &'a [VrrpInstance],
    sync_groups: &'a [SyncGroup],
    scripts: &'a [VrrpScript],
    track_files: &'a [TrackFileDef],
    track_processes: &'a [TrackProcessDef],
}

fn vrrp_part(c: &Config) -> VrrpPart<'_> {
    let mut global = c.global.clone();
    // Settings of the other side do not concern VRRP.
    global.lvs_sync_daemon = None;
    global.lvs_timeouts = None;
    global.lvs_notify_fifo = None;
    global.smtp_alert_checker = None;
    VrrpPart {
        global,
        instances: &c.instances,
        sync_groups: &c.sync_groups,
        scripts: &c.vrrp_scripts,
        track_files: &c.track_files,
        track_processes: &c.track_processes,
    }
}

/// What a reload changes for the VRRP side.
#[derive(Debug, PartialEq, Eq)]
pub enum Plan {
    /// Nothing VRRP runs from changed.
    Unchanged,
    /// Only instances' priorities changed: the machines are told.
    Priorities(Vec<PriorityChange>),
    /// Anything else: the instances are rebuilt (matched ones keep their state).
    Rebuild,
}

/// A new configured priority for the instance at `index` (the same in both files).
#[derive(Debug, PartialEq, Eq)]
pub struct PriorityChange {
    pub index: usize,
    pub name: String,
    pub from: u8,
    pub to: u8,
}

/// What going from `old` to `new` changes for the VRRP side.
pub fn plan(old: &Config, new: &Config) -> Plan {
    let (a, b) = (vrrp_part(old), vrrp_part(new));
    if a == b {
        return Plan::Unchanged;
    }
    let rest_same = a.instances.len() == b.instances.len()
        && VrrpPart {
            instances: &[],
            ..a
        } == VrrpPart {
            instances: &[],
            ..b
        };
    if !rest_same {
        return Plan::Rebuild;
    }
    let mut changes = Vec::new();
    for (index, (x, y)) in old.instances.iter().zip(&new.instances).enumerate() {
        let mut x2 = x.clone();
        x2.priority = y.priority;
        if x2 != *y {
            return Plan::Rebuild;
        }
        if x.priority != y.priority {
            changes.push(PriorityChange {
                index,
                name: y.name.clone(),
                from: x.priority,
                to: y.priority,
            });
        }
    }
    Plan::Priorities(changes)
}

/// Whether static_ipaddress, static_routes or static_rules changed.
pub fn statics_changed(old: &Config, new: &Config) -> bool {
    old.static_ipaddress != new.static_ipaddress
        || old.static_routes != new.static_routes
        || old.static_rules != new.static_rules
}

/// An instance after a rebuild, as its address work sees it.
#[derive(Debug, Clone, Copy)]
pub struct Holding<'a> {
    pub name: &'a str,
    pub master: bool,
    /// Its addresses (virtual and excluded), devices resolved.
    pub vips: &'a [VipSpec],
    /// Its routes and rules.
    pub net: &'a [NetItem],
}

/// The address work after a rebuild, per instance (index into `now`), in order: each
/// continuing master is told the addresses it holds already (for later gratuitous
/// bursts), drops the routes and rules gone from its configuration (`old_net`, by
/// instance name) and adds the new ones; then each master's VIP changes are applied,
/// removals first (none with -V: `release` false).
pub fn address_jobs(
    now: &[Holding],
    old_net: &[(String, Vec<NetItem>)],
    vip_changes: &[(usize, VipChange)],
    release: bool,
) -> Vec<(usize, AddrJob)> {
    let mut jobs = Vec::new();
    for (i, h) in now.iter().enumerate().filter(|(_, h)| h.master) {
        let added: Vec<IpAddr> = vip_changes
            .iter()
            .filter(|(ci, _)| *ci == i)
            .flat_map(|(_, c)| c.added.iter().map(|v| v.addr))
            .collect();
        let held = h
            .vips
            .iter()
            .filter(|v| !added.contains(&v.addr))
            .cloned()
            .collect();
        jobs.push((i, AddrJob::Assume(held)));
        if let Some((_, old)) = old_net.iter().find(|(n, _)| n == h.name) {
            let gone = routes::stale(old, h.net);
            if !gone.is_empty() {
                jobs.push((i, AddrJob::NetDrop(gone)));
            }
        }
        jobs.push((i, AddrJob::NetAdd(h.net.to_vec())));
    }
    for (i, change) in vip_changes {
        let Some(h) = now.get(*i) else {
            continue;
        };
        let spec_of = |v: &crate::config::VirtualIp| {
            h.vips
                .iter()
                .find(|s| s.addr == v.addr)
                .cloned()
                .or_else(|| {
                    // A removed VIP is no longer in the new list: same device as written.
                    let ifindex = h.vips.first().map(|s| s.ifindex)?;
                    VipSpec::from_config(v, ifindex).ok()
                })
        };
        let removed: Vec<VipSpec> = change.removed.iter().filter_map(spec_of).collect();
        let added: Vec<VipSpec> = change.added.iter().filter_map(spec_of).collect();
        tracing::info!(
            "VRRP_Instance({}) Reload: {} VIP(s) added, {} removed",
            h.name,
            added.len(),
            removed.len()
        );
        if !removed.is_empty() && release {
            jobs.push((*i, AddrJob::Del(removed)));
        }
        if !added.is_empty() {
            jobs.push((*i, AddrJob::Add(added)));
        }
    }
    jobs
}

/// `config_save_dir`: the VRRP data dump before ("pre") and after ("post") reload `n`, in
/// `DIR/keepalived_vrrp.PID.N.pre|post` as keepalived names them (mode 0600).
fn save_config(dir: &std::path::Path, n: u32, when: &str, text: &str) {
    use std::io::Write as _;
    use std::os::unix::fs::OpenOptionsExt;
    let path = dir.join(format!("keepalived_vrrp.{}.{n}.{when}", std::process::id()));
    let res = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&path)
        .and_then(|mut f| f.write_all(text.as_bytes()));
    if let Err(e) = res {
        tracing::warn!(
            "cannot save the configuration state to {}: {e}",
            path.display()
        );
    }
}

impl<I: VrrpIo, C: Clock> Runtime<I, C> {
    /// Applies a new configuration. Unchanged: nothing happens. Only priorities changed:
    /// the machines are told. Otherwise the instances are rebuilt; an instance matched by
    /// (VRID, family, interface, unicast) that was master becomes master again at once,
    /// keeping its addresses, and addresses no longer configured are removed.
    pub(super) async fn reload(&mut self, cfg: Arc<Config>) {
        self.reloads += 1;
        if let Some(dir) = self.side.config.global.config_save_dir.clone() {
            let text = self.data_text().await;
            save_config(&dir, self.reloads, "pre", &text);
        }
        self.reload_inner(cfg).await;
        if let Some(dir) = self.side.config.global.config_save_dir.clone() {
            let text = self.data_text().await;
            save_config(&dir, self.reloads, "post", &text);
        }
    }

    async fn reload_inner(&mut self, cfg: Arc<Config>) {
        let before: Vec<(String, State)> = self
            .side
            .coord
            .instances()
            .iter()
            .map(|i| (i.name().to_string(), i.state()))
            .collect();
        let groups_before: Vec<(String, State)> = self
            .side
            .coord
            .groups()
            .iter()
            .map(|g| (g.name.clone(), g.state))
            .collect();
        self.reload_config(cfg).await;
        if self.side.config.global.fifo_write_vrrp_states_on_reload {
            self.write_states_again(&before, &groups_before);
        }
    }

    /// `fifo_write_vrrp_states_on_reload`, as keepalived 2.2.7 does it: the fifo line
    /// (no script, no mail) of each sync group and of each BACKUP or FAULT instance whose
    /// state the reload did not change (a changed state was notified as usual; an
    /// instance that stays MASTER is not written).
    fn write_states_again(&mut self, before: &[(String, State)], groups: &[(String, State)]) {
        let none = crate::config::model::Notify::default();
        let same = |list: &[(String, State)], name: &str, now: State| {
            list.iter().any(|(n, s)| n == name && *s == now)
        };
        for g in self.side.coord.groups() {
            if let (true, Some(st)) = (same(groups, &g.name, g.state), notify_state(g.state)) {
                let c = StateChange {
                    who: Who::Group,
                    name: g.name.clone(),
                    state: st,
                    priority: 0,
                };
                self.io.notify(&c, &none, false);
            }
        }
        for inst in self.side.coord.instances() {
            let now = inst.state();
            if matches!(now, State::Backup | State::Fault) && same(before, inst.name(), now) {
                if let Some(st) = notify_state(now) {
                    let c = StateChange {
                        who: Who::Instance,
                        name: inst.name().to_string(),
                        state: st,
                        priority: inst.effective_priority(),
                    };
                    self.io.notify(&c, &none, false);
                }
            }
        }
    }

    async fn reload_config(&mut self, cfg: Arc<Config>) {
        let old = self.side.config.clone();
        if Arc::ptr_eq(&old, &cfg) {
            // The very configuration running (the daemon found the files unchanged).
            tracing::info!("Reload: no VRRP change");
            return;
        }
        if statics_changed(&old, &cfg) {
            self.io.set_statics(Some(&old), &cfg).await;
        }
        let changes = match plan(&old, &cfg) {
            Plan::Unchanged => {
                tracing::info!("Reload: no VRRP change");
                self.side.config = cfg;
                return;
            }
            Plan::Priorities(changes) => changes,
            Plan::Rebuild => return self.rebuild(cfg).await,
        };
        let now = self.clock.now();
        let mut outs = Vec::new();
        for c in changes {
            tracing::info!(
                "VRRP_Instance({}) Reload: priority {} -> {}",
                c.name,
                c.from,
                c.to
            );
            outs.extend(
                self.side
                    .coord
                    .handle(now, c.index, Event::SetPriority(c.to)),
            );
        }
        self.side.config = cfg;
        self.perform(outs).await;
    }

    async fn rebuild(&mut self, cfg: Arc<Config>) {
        tracing::info!("Reload: applying VRRP changes");
        let params = match make_params(&cfg) {
            Ok(p) => p,
            Err(e) => {
                tracing::error!("Reload refused for VRRP, keeping the running instances: {e:#}");
                return;
            }
        };
        // I/O for the new instance list first: on error nothing has changed yet.
        let new_io = match self.build_io(&cfg, &params).await {
            Ok(io) => io,
            Err(e) => {
                tracing::error!("Reload refused for VRRP, keeping the running instances: {e:#}");
                return;
            }
        };
        let old_names: Vec<String> = self
            .side
            .coord
            .instances()
            .iter()
            .map(|i| i.name().to_string())
            .collect();
        let now = self.clock.now();
        let reloaded =
            match self
                .side
                .coord
                .reload(now, params, &cfg.sync_groups, &cfg.vrrp_scripts)
            {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(
                        "Reload refused for VRRP, keeping the running instances: {e:#}"
                    );
                    return;
                }
            };
        let mut old_io = std::mem::replace(&mut self.side.io, new_io);
        self.side.config = cfg.clone();
        self.start_trackers();
        // Instances gone: perform their last actions with their old I/O.
        for (inst, actions) in reloaded.removed {
            tracing::info!("VRRP_Instance({}) removed by reload", inst.name());
            let Some(oi) = old_names.iter().position(|n| n == inst.name()) else {
                continue;
            };
            let io = &mut old_io[oi];
            let p = inst.params();
            for action in actions {
                match action {
                    Action::SendAdvert(adv) => {
                        let Some(src) = io.src else { continue };
                        let ip_id = io.next_ip_id();
                        for dst in p.destinations() {
                            if let Ok(b) = super::encode_advert(&adv, p, src, dst, ip_id) {
                                let _ = send_advert(&mut self.io, &io.handle, &b, src, dst).await;
                            }
                        }
                    }
                    Action::DelVips => {
                        addr_job(&mut self.io, &io.handle, AddrJob::NetDel);
                        if !self.opts_dont_release {
                            addr_job(&mut self.io, &io.handle, AddrJob::Del(io.vips.clone()));
                        }
                    }
                    Action::StateChange { to, .. } => {
                        tracing::info!("VRRP_Instance({}) Entering {} STATE", p.name, to);
                    }
                    Action::Notify { state, priority } => {
                        super::notify_instance(&mut self.io, p, state, priority);
                    }
                    _ => {}
                }
            }
        }
        // Routes and rules each old instance had, by name (a continuing master drops those
        // gone and adds the new ones).
        let old_net: Vec<(String, Vec<NetItem>)> = old_names
            .into_iter()
            .zip(old_io.iter().map(|io| io.net.clone()))
            .collect();
        // Old workers finish their queues and end when their senders drop.
        drop(old_io);
        // Continuing masters hold their addresses already: tell the new workers so
        // gratuitous bursts cover them, then apply address changes.
        let holdings: Vec<Holding> = self
            .side
            .coord
            .instances()
            .iter()
            .zip(&self.side.io)
            .map(|(inst, io)| Holding {
                name: inst.name(),
                master: inst.state() == State::Master,
                vips: &io.vips,
                net: &io.net,
            })
            .collect();
        let jobs = address_jobs(
            &holdings,
            &old_net,
            &reloaded.vip_changes,
            !self.opts_dont_release,
        );
        for (i, job) in jobs {
            if let Some(io) = self.side.io.get(i) {
                addr_job(&mut self.io, &io.handle, job);
            }
        }
        // New instances, and interfaces tracked since the reload, learn their links.
        let mut outs = reloaded.outputs;
        outs.extend(self.report_links(now).await);
        // New instances learn their source address.
        for (i, io) in self.side.io.iter().enumerate() {
            if let Some(src) = io.src {
                if self.side.coord.instances()[i].local_addr() != Some(src) {
                    outs.extend(self.side.coord.handle(now, i, Event::LocalAddr(src)));
                }
            }
            // track_src_ip added by the reload, or a source address changed by it.
            if let Some(ev) = io.src_event(self.side.coord.instances()[i].params()) {
                outs.extend(self.side.coord.handle(now, i, ev));
            }
            outs.extend(self.side.coord.handle(now, i, Event::Source(io.no_source)));
        }
        self.perform(outs).await;
        for inst in self.side.coord.instances() {
            tracing::info!(
                "VRRP_Instance({}) Reload: now {} (priority {})",
                inst.name(),
                inst.state(),
                inst.effective_priority()
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn parse(text: &str) -> Config {
        match crate::config::parse_str(text, Path::new("test.conf"), "test") {
            Ok(l) => l.config,
            Err(e) => panic!("test configuration: {:?}", e.errors),
        }
    }

    fn two(prio_a: u8, prio_b: u8, vips_b: &str) -> Config {
        parse(&format!(
            "vrrp_instance A {{\n interface eth0\n virtual_router_id 1\n priority {prio_a}\n \
             virtual_ipaddress {{\n 192.0.2.1/24\n }}\n}}\n\
             vrrp_instance B {{\n interface eth0\n virtual_router_id 2\n priority {prio_b}\n \
             virtual_ipaddress {{\n {vips_b}\n }}\n}}\n"
        ))
    }

    #[test]
    fn lvs_only_changes_are_no_vrrp_change() {
        let a = Config::default();
        let mut b = a.clone();
        b.global.lvs_timeouts = Some(crate::config::LvsTimeouts {
            tcp: Some(900),
            tcpfin: None,
            udp: None,
        });
        b.global.smtp_alert_checker = Some(true);
        assert_eq!(plan(&a, &b), Plan::Unchanged);
        let mut c = a.clone();
        c.global.vrrp_garp_master_repeat = 9;
        assert_eq!(plan(&a, &c), Plan::Rebuild);
    }

    #[test]
    fn priorities_alone_are_told_not_rebuilt() {
        let old = two(100, 100, "192.0.2.2/24");
        let new = two(100, 150, "192.0.2.2/24");
        assert_eq!(
            plan(&old, &new),
            Plan::Priorities(vec![PriorityChange {
                index: 1,
                name: "B".into(),
                from: 100,
                to: 150
            }])
        );
        assert_eq!(plan(&old, &old.clone()), Plan::Unchanged);
    }

    #[test]
    fn a_vip_or_an_instance_changed_is_a_rebuild() {
        let old = two(100, 100, "192.0.2.2/24");
        // A priority and a VIP: not a priority-only change.
        assert_eq!(plan(&old, &two(100, 150, "192.0.2.3/24")), Plan::Rebuild);
        let mut fewer = old.clone();
        fewer.instances.pop();
        assert_eq!(plan(&old, &fewer), Plan::Rebuild);
        let mut renamed = old.clone();
        renamed.instances[0].name = "C".into();
        assert_eq!(plan(&old, &renamed), Plan::Rebuild);
    }

    #[test]
    fn statics_compare_their_own_lists() {
        let a = two(100, 100, "192.0.2.2/24");
        let b = parse(
            "static_ipaddress {\n 198.51.100.1/24 dev eth0\n}\n\
             vrrp_instance A {\n interface eth0\n virtual_router_id 1\n}\n",
        );
        assert!(statics_changed(&a, &b));
        assert!(!statics_changed(&a, &two(1, 2, "192.0.2.9/24")));
    }

    fn spec(addr: &str) -> VipSpec {
        VipSpec {
            addr: addr.parse().expect("test address"),
            prefix_len: 24,
            ifindex: 7,
            brd: None,
            scope: 0,
            label: None,
            opts: Default::default(),
        }
    }

    fn vip(addr: &str) -> crate::config::VirtualIp {
        crate::config::VirtualIp {
            span: Default::default(),
            addr: addr.parse().expect("test address"),
            prefix_len: 24,
            brd: None,
            dev: None,
            scope: None,
            label: None,
            no_track: false,
            opts: Default::default(),
        }
    }

    #[test]
    fn a_continuing_master_assumes_what_it_holds_then_applies_changes() {
        let vips = [spec("192.0.2.1"), spec("192.0.2.3")];
        let now = [
            Holding {
                name: "A",
                master: true,
                vips: &vips,
                net: &[],
            },
            Holding {
                name: "B",
                master: false,
                vips: &vips,
                net: &[],
            },
        ];
        let change = VipChange {
            removed: vec![vip("192.0.2.2")],
            added: vec![vip("192.0.2.3")],
        };
        let jobs = address_jobs(&now, &[], &[(0, change.clone())], true);
        assert_eq!(
            jobs,
            vec![
                (0, AddrJob::Assume(vec![spec("192.0.2.1")])),
                (0, AddrJob::NetAdd(vec![])),
                (0, AddrJob::Del(vec![spec("192.0.2.2")])),
                (0, AddrJob::Add(vec![spec("192.0.2.3")])),
            ]
        );
        // -V: nothing removed.
        let jobs = address_jobs(&now, &[], &[(0, change)], false);
        assert!(!jobs.iter().any(|(_, j)| matches!(j, AddrJob::Del(_))));
    }

    #[test]
    fn routes_gone_from_a_master_are_dropped() {
        let old_route = NetItem::Addr(spec("198.51.100.1"));
        let now = [Holding {
            name: "A",
            master: true,
            vips: &[],
            net: &[],
        }];
        let jobs = address_jobs(&now, &[("A".into(), vec![old_route.clone()])], &[], true);
        assert_eq!(
            jobs,
            vec![
                (0, AddrJob::Assume(vec![])),
                (0, AddrJob::NetDrop(vec![old_route])),
                (0, AddrJob::NetAdd(vec![])),
            ]
        );
    }
}
