//! `vrrp_sync_group`: members change state together, and one member in FAULT puts all of
//! them in FAULT. The [`Coordinator`] owns every instance (grouped or not) and is the
//! single entry point of the runtime: it forwards events, and turns a member's own
//! transitions into [`SyncCmd`]s for the other members. No I/O.

use crate::config::model::{Notify, SyncGroup, VrrpScript};
use crate::vrrp::params::{InstanceParams, TrackedInterface, TrackedScript};
use crate::vrrp::state::{Action, Cause, Event, Instance, State, SyncCmd, VipChange};
use std::collections::VecDeque;
use std::time::Instant;

/// Who an [`Output`] is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// Index into [`Coordinator::instances`].
    Instance(usize),
    /// Index into [`Coordinator::groups`]; only `StateChange` and `Notify` are sent to groups.
    Group(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Output {
    pub target: Target,
    pub action: Action,
}

/// The result of [`Coordinator::reload`].
#[derive(Debug, Clone)]
pub struct Reloaded {
    /// Masters whose addresses changed (index in the reloaded coordinator): apply these
    /// before `outputs`.
    pub vip_changes: Vec<(usize, VipChange)>,
    /// Actions of the kept and new instances (indexes in the reloaded coordinator).
    pub outputs: Vec<Output>,
    /// Instances gone from the configuration, already shut down, with the actions to
    /// perform for them (resignation advert, VIP removal, notify STOP).
    pub removed: Vec<(Instance, Vec<Action>)>,
}

/// A sync group and its derived state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Group {
    pub name: String,
    /// Indexes of the member instances.
    pub members: Vec<usize>,
    pub notify: Notify,
    pub smtp_alert: Option<bool>,
    /// `sync_group_tracking_weight` (shown in the dump; the configuration check applied it).
    pub tracking_weight: bool,
    /// The group's own `notify_priority_changes` (shown in the dump; the members took it
    /// as their default).
    pub notify_priority_changes: Option<bool>,
    pub state: State,
    /// Whether some member's own trackers are faulted.
    pub faulted: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncGroupError {
    #[error("sync group {group}: no vrrp_instance named {member}")]
    UnknownMember { group: String, member: String },
    #[error("vrrp_instance {member} is in two sync groups ({first} and {second})")]
    TwoGroups {
        member: String,
        first: String,
        second: String,
    },
    #[error("sync group {group}: track_script {script} names no vrrp_script")]
    UnknownScript { group: String, script: String },
}

/// All instances and sync groups of the VRRP side.
#[derive(Debug, Clone)]
pub struct Coordinator {
    instances: Vec<Instance>,
    groups: Vec<Group>,
    group_of: Vec<Option<usize>>,
}

impl Coordinator {
    /// Builds the instances; a group's track_script / track_interface are added to each of
    /// its members (as keepalived does).
    pub fn new(
        mut params: Vec<InstanceParams>,
        sync_groups: &[SyncGroup],
        scripts: &[VrrpScript],
    ) -> Result<Coordinator, SyncGroupError> {
        let mut group_of: Vec<Option<usize>> = vec![None; params.len()];
        let mut groups = Vec::new();
        for (gi, g) in sync_groups.iter().enumerate() {
            let mut members = Vec::new();
            for m in &g.members {
                let Some(idx) = params.iter().position(|p| &p.name == m) else {
                    return Err(SyncGroupError::UnknownMember {
                        group: g.name.clone(),
                        member: m.clone(),
                    });
                };
                if let Some(other) = group_of[idx] {
                    if other != gi {
                        return Err(SyncGroupError::TwoGroups {
                            member: m.clone(),
                            first: sync_groups[other].name.clone(),
                            second: g.name.clone(),
                        });
                    }
                    continue;
                }
                group_of[idx] = Some(gi);
                members.push(idx);
            }
            let mut extra_scripts = Vec::new();
            for t in &g.track_script {
                let Some(s) = scripts.iter().find(|s| s.name == t.name) else {
                    return Err(SyncGroupError::UnknownScript {
                        group: g.name.clone(),
                        script: t.name.clone(),
                    });
                };
                extra_scripts.push(TrackedScript {
                    name: s.name.clone(),
                    weight: t.weight.unwrap_or(s.weight),
                    reverse: t.reverse.unwrap_or(s.weight_reverse),
                    rise: s.rise.max(1),
                    fall: s.fall.max(1),
                    init_fail: s.init_fail,
                });
            }
            for &idx in &members {
                let p = &mut params[idx];
                for s in &extra_scripts {
                    if !p.track_scripts.iter().any(|x| x.name == s.name) {
                        p.track_scripts.push(s.clone());
                    }
                }
                for t in &g.track_interface {
                    if !p.track_interfaces.iter().any(|x| x.name == t.name) {
                        p.track_interfaces.push(TrackedInterface {
                            name: t.name.clone(),
                            weight: t.weight.filter(|w| *w != 0),
                            reverse: t.reverse.unwrap_or(false),
                        });
                    }
                }
            }
            groups.push(Group {
                name: g.name.clone(),
                members,
                notify: g.notify.clone(),
                smtp_alert: g.smtp_alert,
                tracking_weight: g.tracking_weight,
                notify_priority_changes: g.notify_priority_changes,
                state: State::Init,
                faulted: false,
            });
        }
        Ok(Coordinator {
            instances: params.into_iter().map(Instance::new).collect(),
            groups,
            group_of,
        })
    }

    pub fn instances(&self) -> &[Instance] {
        &self.instances
    }
    /// One line for systemd's STATUS=: "VI_1 MASTER, VI_2 BACKUP".
    pub fn summary(&self) -> String {
        summary_line(
            self.instances
                .iter()
                .map(|i| (i.name(), i.state().as_str())),
        )
    }
    pub fn groups(&self) -> &[Group] {
        &self.groups
    }
    /// Index of the instance named `name`.
    pub fn index_of(&self, name: &str) -> Option<usize> {
        self.instances.iter().position(|i| i.name() == name)
    }
    /// The sync group of an instance.
    pub fn group_of(&self, instance: usize) -> Option<usize> {
        self.group_of.get(instance).copied().flatten()
    }

    /// Applies a reloaded configuration. Instances are matched by
    /// [`InstanceParams::reload_key`]: a matched instance keeps its state (a master stays
    /// master, see [`Instance::reconfigure`]); a new one is started; an old one without a
    /// match is shut down and returned with its final actions (VIP removal, notify STOP)
    /// so the runtime can clean up after it. On error nothing changes.
    pub fn reload(
        &mut self,
        now: Instant,
        params: Vec<InstanceParams>,
        sync_groups: &[SyncGroup],
        scripts: &[VrrpScript],
    ) -> Result<Reloaded, SyncGroupError> {
        let fresh = Coordinator::new(params, sync_groups, scripts)?;
        // vrrp_startup_delay runs from the daemon's start only: new instances get what is
        // left of it (as keepalived, which never restarts the delay on reload).
        let hold = self
            .instances
            .iter()
            .filter_map(Instance::start_hold)
            .max()
            .filter(|h| *h > now);
        let mut old: Vec<Option<Instance>> = std::mem::take(&mut self.instances)
            .into_iter()
            .map(Some)
            .collect();
        let mut outputs = Vec::new();
        let mut instances = Vec::with_capacity(fresh.instances.len());
        let mut to_start = Vec::new();
        let mut vip_changes = Vec::new();
        for (idx, new) in fresh.instances.into_iter().enumerate() {
            let key = new.params().reload_key();
            let matched = old
                .iter_mut()
                .find(|o| o.as_ref().is_some_and(|o| o.params().reload_key() == key))
                .and_then(Option::take);
            match matched {
                Some(mut inst) => {
                    let (actions, change) = inst.reconfigure(now, new.params().clone());
                    if !change.is_empty() {
                        vip_changes.push((idx, change));
                    }
                    for action in actions {
                        outputs.push(Output {
                            target: Target::Instance(idx),
                            action,
                        });
                    }
                    instances.push(inst);
                }
                None => {
                    let mut new = new;
                    new.hold_start_until(hold);
                    to_start.push(idx);
                    instances.push(new);
                }
            }
        }
        let removed = old
            .into_iter()
            .flatten()
            .map(|mut inst| {
                let actions = inst.handle(now, Event::Shutdown);
                (inst, actions)
            })
            .collect();
        self.instances = instances;
        let mut groups = fresh.groups;
        for g in &mut groups {
            if let Some(o) = self.groups.iter().find(|o| o.name == g.name) {
                g.state = o.state;
            }
        }
        self.groups = groups;
        self.group_of = fresh.group_of;
        // Group fault flags restart from the members' own trackers.
        let mut queue: VecDeque<(usize, Event)> =
            to_start.into_iter().map(|i| (i, Event::Start)).collect();
        for g in &mut self.groups {
            let faulted = g.members.iter().any(|&m| self.instances[m].own_fault());
            g.faulted = faulted;
            for &m in &g.members {
                queue.push_back((m, Event::Sync(SyncCmd::Fault(faulted))));
            }
        }
        outputs.extend(self.run(now, queue));
        Ok(Reloaded {
            vip_changes,
            outputs,
            removed,
        })
    }

    /// The earliest deadline of any instance.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.instances
            .iter()
            .filter_map(Instance::next_deadline)
            .min()
    }

    /// Feeds `event` to every instance (Start, Timer, Link, ScriptResult, Shutdown).
    pub fn handle_all(&mut self, now: Instant, event: Event) -> Vec<Output> {
        let queue = (0..self.instances.len())
            .map(|i| (i, event.clone()))
            .collect();
        self.run(now, queue)
    }

    /// Feeds `event` to one instance (an advert for its VRID, LocalAddr, SetPriority).
    /// An out-of-range index yields nothing.
    pub fn handle(&mut self, now: Instant, instance: usize, event: Event) -> Vec<Output> {
        if instance >= self.instances.len() {
            return Vec::new();
        }
        self.run(now, VecDeque::from([(instance, event)]))
    }

    fn run(&mut self, now: Instant, mut queue: VecDeque<(usize, Event)>) -> Vec<Output> {
        let mut out = Vec::new();
        while let Some((idx, ev)) = queue.pop_front() {
            let Some(inst) = self.instances.get_mut(idx) else {
                continue;
            };
            let actions = inst.handle(now, ev);
            let group = self.group_of[idx];
            for a in actions {
                if let (Some(g), Action::StateChange { from, to, cause }) = (group, &a) {
                    if *cause != Cause::Sync {
                        let cmd = match (from, to) {
                            (_, State::Master) => Some(SyncCmd::Master),
                            (State::Master, State::Backup) => Some(SyncCmd::Backup),
                            _ => None,
                        };
                        if let Some(cmd) = cmd {
                            for &m in &self.groups[g].members {
                                if m != idx {
                                    queue.push_back((m, Event::Sync(cmd)));
                                }
                            }
                        }
                    }
                }
                out.push(Output {
                    target: Target::Instance(idx),
                    action: a,
                });
            }
            // Group fault: any member's own trackers.
            if let Some(g) = group {
                let faulted = self.groups[g]
                    .members
                    .iter()
                    .any(|&m| self.instances[m].own_fault());
                if faulted != self.groups[g].faulted {
                    self.groups[g].faulted = faulted;
                    tracing::info!(group = %self.groups[g].name,
                        "sync group {} {}", self.groups[g].name,
                        if faulted { "faulted" } else { "fault cleared" });
                    for &m in &self.groups[g].members {
                        queue.push_back((m, Event::Sync(SyncCmd::Fault(faulted))));
                    }
                }
            }
        }
        self.update_group_states(&mut out);
        out
    }

    fn update_group_states(&mut self, out: &mut Vec<Output>) {
        for (gi, g) in self.groups.iter_mut().enumerate() {
            let states: Vec<State> = g
                .members
                .iter()
                .map(|&m| self.instances[m].state())
                .collect();
            if states.is_empty() {
                continue;
            }
            let new = if states.contains(&State::Fault) {
                State::Fault
            } else if states.iter().all(|s| *s == State::Stop) {
                State::Stop
            } else if states.contains(&State::Init) {
                State::Init
            } else if states.contains(&State::Master) {
                State::Master
            } else {
                State::Backup
            };
            if new != g.state && new != State::Init {
                let from = g.state;
                g.state = new;
                tracing::info!(group = %g.name, "sync group {} entering {} state", g.name, new);
                out.push(Output {
                    target: Target::Group(gi),
                    action: Action::StateChange {
                        from,
                        to: new,
                        cause: Cause::Sync,
                    },
                });
                out.push(Output {
                    target: Target::Group(gi),
                    action: Action::Notify {
                        state: new,
                        priority: 0,
                    },
                });
            }
        }
    }
}

/// The VRRP side's summary: each instance's state ("VI_1 MASTER, VI_2 BACKUP"), or with
/// more than four instances, how many are in each state.
fn summary_line<'a>(instances: impl Iterator<Item = (&'a str, &'static str)>) -> String {
    let all: Vec<(&str, &str)> = instances.collect();
    if all.is_empty() {
        return "no VRRP instance".to_string();
    }
    if all.len() <= 4 {
        return all
            .iter()
            .map(|(n, s)| format!("{n} {s}"))
            .collect::<Vec<_>>()
            .join(", ");
    }
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for (_, s) in &all {
        match counts.iter_mut().find(|(k, _)| k == s) {
            Some((_, n)) => *n += 1,
            None => counts.push((s, 1)),
        }
    }
    let each: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
    format!("{} VRRP instances: {}", all.len(), each.join(", "))
}

#[cfg(test)]
mod tests {
    use super::summary_line;

    #[test]
    fn the_summary_reads_as_an_operator_would() {
        assert_eq!(
            summary_line([("VI_1", "MASTER"), ("VI_2", "BACKUP")].into_iter()),
            "VI_1 MASTER, VI_2 BACKUP"
        );
        let many = (0..6).map(|i| ("VI", if i < 4 { "MASTER" } else { "FAULT" }));
        assert_eq!(summary_line(many), "6 VRRP instances: 4 MASTER, 2 FAULT");
        assert_eq!(summary_line(std::iter::empty()), "no VRRP instance");
    }
}
