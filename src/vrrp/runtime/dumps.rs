//! The runtime's answers to dump requests (SIGUSR1, SIGUSR2, SIGJSON): the text of
//! keepalived's files, formatted in [`crate::vrrp::dump`] from the instances' views.

use super::io::{Clock, VrrpIo};
use super::Runtime;
use crate::control::report::{DumpKind, DumpRequest};
use crate::vrrp::dump::{self, Counters};
use crate::vrrp::dump_if;
use crate::vrrp::state::State;

impl<I: VrrpIo, C: Clock> Runtime<I, C> {
    /// What the dump files show of each instance.
    fn views(&self) -> Vec<dump::View<'_>> {
        let coord = &self.side.coord;
        let wall_now = std::time::SystemTime::now();
        let now = self.clock.now();
        coord
            .instances()
            .iter()
            .zip(&self.side.io)
            .enumerate()
            .map(|(i, (inst, io))| {
                let config_inst = self
                    .side
                    .config
                    .instances
                    .iter()
                    .find(|c| c.name == inst.name());
                dump::View {
                    inst,
                    sync_group: coord
                        .group_of(i)
                        .and_then(|g| coord.groups().get(g))
                        .map(|g| g.name.as_str()),
                    last_transition: io.last_transition,
                    read_timeout: inst
                        .next_deadline()
                        .map(|d| wall_now + d.saturating_duration_since(now)),
                    extra_if_garp_next: inst
                        .extra_if_garp_at()
                        .map(|d| wall_now + d.saturating_duration_since(now)),
                    src_ip: io.src,
                    fds: io.handle.as_ref().and_then(|h| self.io.fds(h)),
                    rx_buf: io.handle.as_ref().map_or(0, |h| self.io.rx_buf(h)),
                    rx_if: io.handle.as_ref().and_then(|h| self.io.rx_if(h)),
                    vipset: inst.state() == State::Master,
                    counters: Counters::combine(&io.counters, inst.stats(), &io.rx_base),
                    routes: config_inst.map_or(&[], |c| c.virtual_routes.as_slice()),
                    rules: config_inst.map_or(&[], |c| c.virtual_rules.as_slice()),
                }
            })
            .collect()
    }

    /// The text of keepalived.data (SIGUSR1, and `config_save_dir`'s files).
    pub(super) async fn data_text(&mut self) -> String {
        let links = self.io.links().await;
        // The processes each vrrp_track_process matches now (one scan of /proc).
        let defs = &self.side.config.track_processes;
        let counts = if defs.is_empty() {
            Vec::new()
        } else {
            let matchers: Vec<_> = defs
                .iter()
                .map(crate::vrrp::track_process::Matcher::new)
                .collect();
            crate::vrrp::track_process::scan(&matchers)
        };
        let process_counts: Vec<_> = defs.iter().zip(counts).collect();
        let views = self.views();
        let mut s = crate::control::dump_global::global_section(
            &self.side.config.global,
            crate::control::dump_global::Part::Vrrp,
        );
        s.push_str(&dump::data(
            &views,
            self.side.coord.groups(),
            &self.side.config.vrrp_scripts,
            &self.side.config.track_files,
            &process_counts,
            dump::Statics {
                routes_followed: [false, true].map(|v6| {
                    self.side.config.instances.iter().any(|i| {
                        i.virtual_routes
                            .iter()
                            .any(|r| r.ipv6 == v6 && super::route_followed(r))
                    })
                }),
                addresses: &self.side.config.static_ipaddress,
                routes: &self.side.config.static_routes,
                rules: &self.side.config.static_rules,
                mcast_group6: self.side.config.global.vrrp_mcast_group6,
            },
        ));
        let params: Vec<_> = views.iter().map(|v| v.inst.params()).collect();
        s.push_str(&dump_if::interfaces(
            &links,
            &params,
            &self.side.config.static_ipaddress,
            &self.side.config.global,
            &|name| {
                self.linkbeat
                    .iter()
                    .find(|(n, _)| n == name)
                    .map_or(dump_if::StatusSource::Netlink, |(_, s)| *s)
            },
            &self.link_history,
        ));
        s
    }

    /// Answers a dump request with the text of keepalived's file; STATS_CLEAR zeroes the
    /// counters once the text is made.
    pub(super) async fn dump(&mut self, req: DumpRequest) {
        let data = match req.kind {
            DumpKind::Data => Some(self.data_text().await),
            _ => None,
        };
        let text = {
            let views = self.views();
            match req.kind {
                DumpKind::Data => data,
                DumpKind::Stats | DumpKind::StatsClear => Some(dump::stats(&views)),
                DumpKind::Json => dump::json(&views),
                DumpKind::State => Some(crate::vrrp::ctl_view::state_json(&views)),
            }
        };
        if req.kind == DumpKind::StatsClear {
            for (inst, io) in self.side.coord.instances().iter().zip(&mut self.side.io) {
                io.counters = Counters::default();
                io.rx_base = inst.stats().clone();
            }
        }
        let _ = req.reply.send(text);
    }
}
