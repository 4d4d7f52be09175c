//! Real servers taken out of rotation by the operator (the control socket's `disable`,
//! `drain` and `enable`), owned by [`LvsState`] so that the desired table reflects them.
//! Pure: the runtime passes the time and the kernel's active connection counts in.
//!
//! - **Disabled**: the real server is not in the table (whatever its checkers say, and
//!   also under `inhibit_on_failure`).
//! - **Draining**: the real server stays in the table with weight 0 (no new connections)
//!   until its active connections reach 0 in every service of its virtual server, or its
//!   deadline passes; it is disabled then.
//! - Neither counts towards quorum; neither runs `notify_up` / `notify_down` (quorum
//!   scripts run as quorum changes).
//! - A flag names a real server of a virtual server (matched as a reload matches them:
//!   the virtual server by protocol, address and port / fwmark / group, the real server by
//!   address and port), so it is kept across reloads while the file still has both, and
//!   dropped with them. `enable` removes it.

use super::{ident, Change, LvsState, VsIdent};
use crate::config::{RealServer, VirtualServer};
use crate::ipvs::{DestKey, Proto, ServiceKey};
use crate::lvs::build;
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use thiserror::Error;
use tracing::info;

/// What the operator set on a real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admin {
    /// Out of rotation until enabled.
    Disabled,
    /// Weight 0 until no active connection is left or `deadline` passes.
    Draining { deadline: Instant },
}

/// Which real server a flag belongs to (stable across reloads).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(super) struct AdminKey {
    vs: VsIdent,
    addr: IpAddr,
    port: Option<u16>,
}

fn admin_key(vs: &VirtualServer, rs: &RealServer) -> AdminKey {
    AdminKey {
        vs: ident(vs),
        addr: rs.addr,
        port: rs.port,
    }
}

/// A virtual service as the operator names it: `[tcp:|udp:|sctp:]VIP:PORT` (`[V6]:PORT`
/// for IPv6) or `fwmark:MARK`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServiceSel {
    Addr {
        /// None: any protocol.
        proto: Option<Proto>,
        addr: IpAddr,
        port: u16,
    },
    Fwmark(u32),
}

/// A real server as the operator names it: `RIP:PORT`, `[V6]:PORT`, or the address alone
/// (any port).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerSel {
    pub addr: IpAddr,
    pub port: Option<u16>,
}

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum AdminError {
    #[error("{0:?} is not a virtual service: write VIP:PORT ([V6]:PORT for IPv6), optionally after tcp:, udp: or sctp:, or fwmark:MARK")]
    BadService(String),
    #[error("{0:?} is not a real server: write RIP:PORT, [V6]:PORT or the address alone")]
    BadServer(String),
    #[error("no virtual server for {0} in the running configuration")]
    NoService(String),
    #[error("virtual service {service} has no real server {server} in the running configuration")]
    NoServer { service: String, server: String },
}

impl std::str::FromStr for ServiceSel {
    type Err = AdminError;

    fn from_str(s: &str) -> Result<ServiceSel, AdminError> {
        let bad = || AdminError::BadService(s.to_string());
        let t = s.trim();
        if let Some(m) = t.strip_prefix("fwmark:") {
            return m.trim().parse().map(ServiceSel::Fwmark).map_err(|_| bad());
        }
        let (proto, rest) = match t.split_once(':') {
            Some(("tcp", r)) => (Some(Proto::Tcp), r),
            Some(("udp", r)) => (Some(Proto::Udp), r),
            Some(("sctp", r)) => (Some(Proto::Sctp), r),
            _ => (None, t),
        };
        let sa: SocketAddr = rest.parse().map_err(|_| bad())?;
        Ok(ServiceSel::Addr {
            proto,
            addr: sa.ip(),
            port: sa.port(),
        })
    }
}

impl std::fmt::Display for ServiceSel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ServiceSel::Addr { proto, addr, port } => {
                if let Some(p) = proto {
                    write!(f, "{}:", format!("{p:?}").to_lowercase())?;
                }
                write!(f, "{}", SocketAddr::new(*addr, *port))
            }
            ServiceSel::Fwmark(m) => write!(f, "fwmark:{m}"),
        }
    }
}

impl std::str::FromStr for ServerSel {
    type Err = AdminError;

    fn from_str(s: &str) -> Result<ServerSel, AdminError> {
        let t = s.trim();
        if let Ok(sa) = t.parse::<SocketAddr>() {
            return Ok(ServerSel {
                addr: sa.ip(),
                port: Some(sa.port()),
            });
        }
        let bare = t.strip_prefix('[').and_then(|x| x.strip_suffix(']'));
        match bare.unwrap_or(t).parse::<IpAddr>() {
            Ok(addr) => Ok(ServerSel { addr, port: None }),
            Err(_) => Err(AdminError::BadServer(s.to_string())),
        }
    }
}

impl std::fmt::Display for ServerSel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.port {
            Some(p) => write!(f, "{}", SocketAddr::new(self.addr, p)),
            None => write!(f, "{}", self.addr),
        }
    }
}

impl ServiceSel {
    /// Whether the kernel service `key` is this one.
    pub fn matches(&self, key: &ServiceKey) -> bool {
        match (self, key) {
            (
                ServiceSel::Addr { proto, addr, port },
                ServiceKey::Addr {
                    proto: p,
                    addr: a,
                    port: q,
                },
            ) => proto.is_none_or(|x| x == *p) && addr == a && port == q,
            (ServiceSel::Fwmark(m), ServiceKey::Fwmark { mark, .. }) => m == mark,
            _ => false,
        }
    }
}

/// What the operator asks of a real server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminCmd {
    Disable,
    Enable,
    /// Drain, disabling it at the latest after `timeout`.
    Drain {
        timeout: Duration,
    },
}

/// What an administrative change did: the state's [`Change`] (quorum scripts, virtual
/// servers to reconcile) and the real servers it applied to, as labels.
#[derive(Debug, Default)]
pub struct AdminChange {
    pub change: Change,
    pub servers: Vec<String>,
}

impl LvsState {
    /// The real servers (virtual server index, real server index) that `service` and
    /// `server` name in the running configuration.
    pub fn select(
        &self,
        service: &ServiceSel,
        server: &ServerSel,
    ) -> Result<Vec<(usize, usize)>, AdminError> {
        let mut found_vs = false;
        let mut out = Vec::new();
        for (i, (vs, st)) in self.config.virtual_servers.iter().zip(&self.vs).enumerate() {
            let Some(key) = st.keys.iter().find(|k| service.matches(k)) else {
                continue;
            };
            found_vs = true;
            for (r, rs) in vs.real_servers.iter().enumerate() {
                let port_ok = match server.port {
                    None => true,
                    Some(p) => rs.port == Some(p) || build::rs_key(vs, rs, key).port == p,
                };
                if rs.addr == server.addr && port_ok {
                    out.push((i, r));
                }
            }
        }
        if !found_vs {
            return Err(AdminError::NoService(service.to_string()));
        }
        if out.is_empty() {
            return Err(AdminError::NoServer {
                service: service.to_string(),
                server: server.to_string(),
            });
        }
        Ok(out)
    }

    /// Disables, enables or drains the real servers `service` and `server` name. Setting
    /// what is already set changes nothing (a new drain restarts its deadline).
    pub fn admin(
        &mut self,
        service: &ServiceSel,
        server: &ServerSel,
        cmd: AdminCmd,
        now: Instant,
    ) -> Result<AdminChange, AdminError> {
        let targets = self.select(service, server)?;
        let mut out = AdminChange::default();
        let config = self.config.clone();
        for (i, r) in targets {
            let vs = &config.virtual_servers[i];
            let rs = &vs.real_servers[r];
            let key = admin_key(vs, rs);
            let label = format!("{} of VS {}", build::rs_label(vs, rs), build::VsLabel(vs));
            let before = self.admin.get(&key).copied();
            match cmd {
                AdminCmd::Disable => {
                    self.admin.insert(key, Admin::Disabled);
                    info!("Disabling real server {label} (operator request)");
                }
                AdminCmd::Enable => {
                    self.admin.remove(&key);
                    info!("Enabling real server {label} (operator request)");
                }
                AdminCmd::Drain { timeout } => {
                    self.admin.insert(
                        key,
                        Admin::Draining {
                            deadline: now + timeout,
                        },
                    );
                    info!(
                        "Draining real server {label}: weight 0 until it has no active connection, for at most {}s (operator request)",
                        timeout.as_secs()
                    );
                }
            }
            out.servers.push(label);
            let after = self.admin.get(&admin_key(vs, rs)).copied();
            if before != after {
                self.update_quorum(i, &mut out.change.effects);
                if !out.change.dirty.contains(&i) {
                    out.change.dirty.push(i);
                }
            }
        }
        Ok(out)
    }

    /// Whether a real server is draining (the runtime then reads the kernel's connection
    /// counts and calls [`LvsState::drain_check`]).
    pub fn draining(&self) -> bool {
        self.admin
            .values()
            .any(|a| matches!(a, Admin::Draining { .. }))
    }

    /// Disables every draining real server whose active connections (`active`: the
    /// kernel's count for a destination of a service, None when the kernel has no such
    /// destination) are 0 in every service of its virtual server, or whose deadline has
    /// passed at `now`.
    pub fn drain_check(
        &mut self,
        now: Instant,
        active: &dyn Fn(&ServiceKey, &DestKey) -> Option<u32>,
    ) -> AdminChange {
        let mut out = AdminChange::default();
        if !self.draining() {
            return out;
        }
        let config = self.config.clone();
        for (i, vs) in config.virtual_servers.iter().enumerate() {
            for rs in &vs.real_servers {
                let key = admin_key(vs, rs);
                let Some(Admin::Draining { deadline }) = self.admin.get(&key).copied() else {
                    continue;
                };
                let conns: u64 = self.vs[i]
                    .keys
                    .iter()
                    .map(|k| u64::from(active(k, &build::rs_key(vs, rs, k)).unwrap_or(0)))
                    .sum();
                let label = format!("{} of VS {}", build::rs_label(vs, rs), build::VsLabel(vs));
                if conns == 0 {
                    info!("Real server {label} is drained (no active connection): removing it");
                } else if now >= deadline {
                    info!("Real server {label} still has {conns} active connections at the end of its drain: removing it");
                } else {
                    continue;
                }
                self.admin.insert(key, Admin::Disabled);
                out.servers.push(label);
                if !out.change.dirty.contains(&i) {
                    out.change.dirty.push(i);
                }
            }
        }
        out
    }

    /// The operator's flag on real server `rs` of virtual server `vs`.
    pub fn admin_of(&self, vs: usize, rs: usize) -> Option<Admin> {
        let v = self.config.virtual_servers.get(vs)?;
        let r = v.real_servers.get(rs)?;
        self.admin.get(&admin_key(v, r)).copied()
    }

    /// The verdicts of the checkers of real server `rs` of virtual server `vs`.
    pub fn checker_verdicts(&self, vs: usize, rs: usize) -> Vec<bool> {
        self.vs
            .get(vs)
            .and_then(|v| v.rs.get(rs))
            .map(|r| r.checkers.iter().collect())
            .unwrap_or_default()
    }

    /// The weight the table gives a real server, after the operator's flag: `weight` is
    /// what the checkers and quorum give it (None: not in the table).
    pub(super) fn admin_weight(
        &self,
        vs: &VirtualServer,
        rs: &RealServer,
        weight: Option<u32>,
    ) -> Option<u32> {
        if self.admin.is_empty() {
            return weight;
        }
        match self.admin.get(&admin_key(vs, rs)) {
            None => weight,
            Some(Admin::Disabled) => None,
            Some(Admin::Draining { .. }) => weight.map(|_| 0),
        }
    }

    /// Whether the operator took the real server out of rotation (it then counts for no
    /// quorum).
    pub(super) fn admin_out(&self, vs: &VirtualServer, rs: &RealServer) -> bool {
        !self.admin.is_empty() && self.admin.contains_key(&admin_key(vs, rs))
    }

    /// After a reload: forgets the flags of real servers the new file no longer has.
    pub(super) fn prune_admin(&mut self) {
        if self.admin.is_empty() {
            return;
        }
        let present: std::collections::HashSet<AdminKey> = self
            .config
            .virtual_servers
            .iter()
            .flat_map(|vs| vs.real_servers.iter().map(move |rs| admin_key(vs, rs)))
            .collect();
        self.admin.retain(|k, _| {
            let keep = present.contains(k);
            if !keep {
                info!(
                    "Reload: forgetting the operator's flag on real server {} (no longer in the file)",
                    ServerSel {
                        addr: k.addr,
                        port: k.port
                    }
                );
            }
            keep
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;
    use crate::lvs::fixture::{addr_vs, real_server, tcp_check};
    use std::sync::Arc;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    fn config(n: u8, quorum: u32) -> Arc<Config> {
        let mut vs = addr_vs(ip("10.0.0.1"), 80);
        vs.quorum = quorum;
        vs.quorum_down = Some("/bin/qdown".into());
        for i in 0..n {
            let mut rs = real_server(ip(&format!("10.0.1.{}", i + 2)), Some(80));
            rs.checkers.push(tcp_check());
            vs.real_servers.push(rs);
        }
        Arc::new(Config {
            virtual_servers: vec![vs],
            ..Default::default()
        })
    }

    const SVC: ServiceKey = ServiceKey::Addr {
        proto: Proto::Tcp,
        addr: IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1)),
        port: 80,
    };

    fn dk(last: u8) -> DestKey {
        DestKey {
            addr: ip(&format!("10.0.1.{last}")),
            port: 80,
        }
    }

    fn weights(s: &LvsState) -> Vec<(DestKey, u32)> {
        let t = s.desired();
        t.services[&SVC]
            .dests
            .values()
            .map(|d| (d.key, d.weight))
            .collect()
    }

    fn sel(svc: &str, rs: &str) -> (ServiceSel, ServerSel) {
        (svc.parse().expect("service"), rs.parse().expect("server"))
    }

    #[test]
    fn selectors_parse_and_refuse_in_sentences() {
        assert_eq!(
            "udp:10.0.0.1:53".parse::<ServiceSel>(),
            Ok(ServiceSel::Addr {
                proto: Some(Proto::Udp),
                addr: ip("10.0.0.1"),
                port: 53
            })
        );
        assert_eq!(
            "[2001:db8::1]:443".parse::<ServiceSel>(),
            Ok(ServiceSel::Addr {
                proto: None,
                addr: ip("2001:db8::1"),
                port: 443
            })
        );
        assert_eq!("fwmark:7".parse::<ServiceSel>(), Ok(ServiceSel::Fwmark(7)));
        let e = "10.0.0.1".parse::<ServiceSel>().unwrap_err().to_string();
        assert!(e.contains("is not a virtual service"), "{e}");
        assert_eq!(
            "2001:db8::2".parse::<ServerSel>(),
            Ok(ServerSel {
                addr: ip("2001:db8::2"),
                port: None
            })
        );
        assert_eq!(
            "10.0.1.2:8080".parse::<ServerSel>(),
            Ok(ServerSel {
                addr: ip("10.0.1.2"),
                port: Some(8080)
            })
        );
        assert!("web1".parse::<ServerSel>().is_err());
    }

    #[test]
    fn disable_takes_out_and_enable_puts_back() {
        let (mut s, _) = LvsState::new(config(3, 1));
        let now = Instant::now();
        let (svc, rs) = sel("10.0.0.1:80", "10.0.1.3:80");
        let c = s
            .admin(&svc, &rs, AdminCmd::Disable, now)
            .expect("disabled");
        assert_eq!(c.change.dirty, vec![0]);
        assert_eq!(c.servers.len(), 1);
        assert_eq!(weights(&s), vec![(dk(2), 1), (dk(4), 1)]);
        assert_eq!(s.admin_of(0, 1), Some(Admin::Disabled));
        // Twice: nothing changes.
        let c = s.admin(&svc, &rs, AdminCmd::Disable, now).expect("again");
        assert!(c.change.dirty.is_empty());
        s.admin(&svc, &rs, AdminCmd::Enable, now).expect("enabled");
        assert_eq!(weights(&s), vec![(dk(2), 1), (dk(3), 1), (dk(4), 1)]);
        assert_eq!(s.admin_of(0, 1), None);
    }

    #[test]
    fn disabled_overrides_inhibit_and_checkers() {
        let mut cfg = (*config(2, 1)).clone();
        cfg.virtual_servers[0].inhibit_on_failure = true;
        let (mut s, _) = LvsState::new(Arc::new(cfg));
        let (svc, rs) = sel("tcp:10.0.0.1:80", "10.0.1.2");
        s.admin(&svc, &rs, AdminCmd::Disable, Instant::now())
            .expect("disabled");
        assert_eq!(weights(&s), vec![(dk(3), 1)]);
    }

    #[test]
    fn unknown_targets_are_refused() {
        let (mut s, _) = LvsState::new(config(2, 1));
        let now = Instant::now();
        let (svc, rs) = sel("10.0.0.9:80", "10.0.1.2:80");
        let e = s.admin(&svc, &rs, AdminCmd::Disable, now).unwrap_err();
        assert_eq!(
            e.to_string(),
            "no virtual server for 10.0.0.9:80 in the running configuration"
        );
        let (svc, rs) = sel("udp:10.0.0.1:80", "10.0.1.2:80");
        assert!(s.admin(&svc, &rs, AdminCmd::Disable, now).is_err());
        let (svc, rs) = sel("10.0.0.1:80", "10.0.1.2:81");
        let e = s.admin(&svc, &rs, AdminCmd::Disable, now).unwrap_err();
        assert!(matches!(e, AdminError::NoServer { .. }), "{e}");
    }

    #[test]
    fn drain_is_weight_zero_until_no_connection_is_left() {
        let (mut s, _) = LvsState::new(config(2, 1));
        let t0 = Instant::now();
        let (svc, rs) = sel("10.0.0.1:80", "10.0.1.2:80");
        s.admin(
            &svc,
            &rs,
            AdminCmd::Drain {
                timeout: Duration::from_secs(60),
            },
            t0,
        )
        .expect("draining");
        assert!(s.draining());
        assert_eq!(weights(&s), vec![(dk(2), 0), (dk(3), 1)]);
        // 5 active connections: it stays.
        let busy = |_: &ServiceKey, d: &DestKey| (d.addr == dk(2).addr).then_some(5);
        let c = s.drain_check(t0 + Duration::from_secs(10), &busy);
        assert!(c.change.dirty.is_empty());
        assert_eq!(weights(&s), vec![(dk(2), 0), (dk(3), 1)]);
        // None left: removed, and stays out.
        let idle = |_: &ServiceKey, _: &DestKey| Some(0);
        let c = s.drain_check(t0 + Duration::from_secs(11), &idle);
        assert_eq!(c.change.dirty, vec![0]);
        assert_eq!(weights(&s), vec![(dk(3), 1)]);
        assert!(!s.draining());
        assert_eq!(s.admin_of(0, 0), Some(Admin::Disabled));
    }

    #[test]
    fn drain_ends_at_its_deadline() {
        let (mut s, _) = LvsState::new(config(2, 1));
        let t0 = Instant::now();
        let (svc, rs) = sel("10.0.0.1:80", "10.0.1.2:80");
        let drain = AdminCmd::Drain {
            timeout: Duration::from_secs(30),
        };
        s.admin(&svc, &rs, drain, t0).expect("draining");
        let busy = |_: &ServiceKey, _: &DestKey| Some(3);
        assert!(s
            .drain_check(t0 + Duration::from_secs(29), &busy)
            .servers
            .is_empty());
        let c = s.drain_check(t0 + Duration::from_secs(30), &busy);
        assert_eq!(c.servers.len(), 1);
        assert_eq!(weights(&s), vec![(dk(3), 1)]);
    }

    #[test]
    fn servers_out_of_rotation_count_for_no_quorum() {
        let (mut s, _) = LvsState::new(config(2, 2));
        assert!(s.quorum_up(0));
        let (svc, rs) = sel("10.0.0.1:80", "10.0.1.2:80");
        let c = s
            .admin(&svc, &rs, AdminCmd::Disable, Instant::now())
            .expect("disabled");
        assert!(!s.quorum_up(0));
        assert!(
            c.change
                .effects
                .iter()
                .any(|e| matches!(e, crate::lvs::state::Effect::Script { command, .. } if command == "/bin/qdown")),
            "{:?}",
            c.change.effects
        );
    }

    #[test]
    fn flags_survive_a_reload_while_the_server_is_in_the_file() {
        let (mut s, _) = LvsState::new(config(3, 1));
        let now = Instant::now();
        let (svc, a) = sel("10.0.0.1:80", "10.0.1.2:80");
        let (_, b) = sel("10.0.0.1:80", "10.0.1.4:80");
        s.admin(&svc, &a, AdminCmd::Disable, now).expect("a");
        s.admin(&svc, &b, AdminCmd::Disable, now).expect("b");
        // The new file drops 10.0.1.4 and puts 10.0.1.2 after 10.0.1.3.
        let mut cfg = (*config(2, 1)).clone();
        cfg.virtual_servers[0].real_servers.reverse();
        s.reload(Arc::new(cfg));
        assert_eq!(weights(&s), vec![(dk(3), 1)]);
        assert_eq!(s.admin_of(0, 1), Some(Admin::Disabled));
        // 10.0.1.4 comes back in a later file: its flag was forgotten.
        s.reload(config(3, 1));
        assert_eq!(weights(&s), vec![(dk(3), 1), (dk(4), 1)]);
    }
}
