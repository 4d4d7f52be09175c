//! A checker's effective settings: the checker's own value, else the real server's, else
//! the virtual server's, else keepalived's default.

use super::state::Timing;
use super::CheckerId;
use crate::config::{defaults, CheckerKind, Config, Protocol, RealServer, VirtualServer, VsKey};
use crate::script::ScriptUser;
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// Everything a running checker needs, resolved from the config. Its place in the
/// configuration ([`CheckerId`]) is not part of it: two checkers with equal settings are
/// the same check, wherever they are written (a reload that moves one keeps it running).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CheckSettings {
    pub kind: CheckerKind,
    /// Where to connect (`connect_ip` / `connect_port`, else the real server's).
    pub addr: IpAddr,
    /// 0 when neither the checker, the real server nor the virtual server gives one.
    pub port: u16,
    pub connect_timeout: Duration,
    pub timing: Timing,
    pub warmup: Duration,
    /// Starting state: down with `alpha`, up otherwise.
    pub alpha: bool,
    /// `tcp` / `udp` as keepalived prints it in `[ip]:tcp:port`.
    pub proto: &'static str,
    /// Never runs: keeps its starting state (see `CheckCommon::disabled`).
    pub disabled: bool,
    /// `log_all_failures` (or the global `checker_log_all_failures`): every failed
    /// attempt of an up checker is logged, not only state changes.
    pub log_all_failures: bool,
    /// The settings few checkers have, boxed: None when none is set (every checker
    /// keeps its settings while it runs, so the common case stays small).
    pub rare: Option<Box<RareSettings>>,
}

/// A checker's settings that are usually not set. An empty one is never stored (see
/// [`RareSettings::boxed`]), so two equal checkers compare equal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct RareSettings {
    /// `bindto` / `bind_port`.
    pub bind: Option<SocketAddr>,
    pub bind_if: Option<String>,
    pub fwmark: Option<u32>,
    /// The real server's (else the virtual server's) virtualhost.
    pub virtualhost: Option<String>,
    /// For MISC_CHECK only: script user default and enable_script_security.
    pub script_user: Option<ScriptUser>,
    pub script_security: bool,
}

impl RareSettings {
    /// None when nothing is set.
    pub fn boxed(self) -> Option<Box<RareSettings>> {
        (self != RareSettings::default()).then(|| Box::new(self))
    }
}

impl CheckSettings {
    /// Resolves checker `id`; None if the id is not in the config.
    pub fn resolve(config: &Config, id: CheckerId) -> Option<CheckSettings> {
        let vs = config.virtual_servers.get(id.vs)?;
        let rs = vs.real_servers.get(id.rs)?;
        let ck = rs.checkers.get(id.checker)?;
        Some(Self::from_parts(config, vs, rs, ck))
    }

    fn from_parts(
        config: &Config,
        vs: &VirtualServer,
        rs: &RealServer,
        ck: &crate::config::Checker,
    ) -> CheckSettings {
        let c = &ck.common;
        let o = c.more();
        let vs_port = match vs.key {
            VsKey::Addr { port, .. } => Some(port),
            _ => None,
        };
        let addr = o.connect_ip.unwrap_or(rs.addr);
        let port = c.connect_port.or(rs.port).or(vs_port).unwrap_or(0);
        let bind = match (o.bindto, o.bind_port) {
            (Some(ip), p) => Some(SocketAddr::new(ip, p.unwrap_or(0))),
            (None, Some(p)) => Some(SocketAddr::new(unspecified_like(addr), p)),
            (None, None) => None,
        };
        let is_misc = matches!(ck.kind, CheckerKind::Misc(_));
        let proto = match (&ck.kind, vs.protocol) {
            (CheckerKind::Udp(_) | CheckerKind::Dns(_), _) => "udp",
            (_, Protocol::Udp) => "udp",
            (_, Protocol::Sctp) => "sctp",
            _ => "tcp",
        };
        CheckSettings {
            kind: ck.kind.clone(),
            addr,
            port,
            disabled: c.disabled,
            connect_timeout: c
                .connect_timeout
                .or(rs.more().connect_timeout)
                .or(vs.connect_timeout)
                .unwrap_or(defaults::CONNECT_TIMEOUT),
            timing: Timing {
                delay_loop: c
                    .delay_loop
                    .or(rs.more().delay_loop)
                    .unwrap_or(vs.delay_loop),
                retry: c
                    .retry
                    .or(rs.more().retry)
                    .or(vs.retry)
                    // keepalived's defaults per kind: DNS_CHECK 3, MISC_CHECK 0, others 1.
                    .unwrap_or(match ck.kind {
                        CheckerKind::Dns(_) => 3,
                        CheckerKind::Misc(_) => 0,
                        _ => defaults::RETRY,
                    }),
                delay_before_retry: c
                    .delay_before_retry
                    .or(rs.more().delay_before_retry)
                    .or(vs.delay_before_retry)
                    .unwrap_or(match ck.kind {
                        // keepalived's defaults per kind: HTTP_GET / SSL_GET 3 s,
                        // DNS_CHECK its delay_loop, the others 1 s.
                        CheckerKind::Http(_) => Duration::from_secs(3),
                        CheckerKind::Dns(_) => c
                            .delay_loop
                            .or(rs.more().delay_loop)
                            .unwrap_or(vs.delay_loop),
                        _ => defaults::DELAY_BEFORE_RETRY,
                    }),
            },
            // keepalived's default: the first check at a random point of the delay
            // loop, so real servers never see every check at once.
            warmup: o.warmup.or(rs.more().warmup).or(vs.warmup).unwrap_or(
                c.delay_loop
                    .or(rs.more().delay_loop)
                    .unwrap_or(vs.delay_loop),
            ),
            alpha: o.alpha.or(rs.alpha).unwrap_or(vs.alpha),
            // keepalived: the global setting or the checker's own.
            log_all_failures: config.global.checker_log_all_failures
                || o.log_all_failures == Some(true),
            proto,
            rare: RareSettings {
                bind,
                bind_if: o.bind_if.clone(),
                fwmark: o.fwmark,
                virtualhost: rs
                    .more()
                    .virtualhost
                    .clone()
                    .or_else(|| vs.virtualhost.clone()),
                script_user: is_misc.then(|| config.global.script_user.clone()).flatten(),
                script_security: is_misc && config.global.enable_script_security,
            }
            .boxed(),
        }
    }

    /// `bindto` / `bind_port`.
    pub fn bind(&self) -> Option<SocketAddr> {
        self.rare.as_ref().and_then(|r| r.bind)
    }

    pub fn bind_if(&self) -> Option<&str> {
        self.rare.as_ref().and_then(|r| r.bind_if.as_deref())
    }

    pub fn fwmark(&self) -> Option<u32> {
        self.rare.as_ref().and_then(|r| r.fwmark)
    }

    /// The real server's (else the virtual server's) virtualhost.
    pub fn virtualhost(&self) -> Option<&str> {
        self.rare.as_ref().and_then(|r| r.virtualhost.as_deref())
    }

    /// The global script user (MISC_CHECK only).
    pub fn script_user(&self) -> Option<&ScriptUser> {
        self.rare.as_ref().and_then(|r| r.script_user.as_ref())
    }

    /// enable_script_security (MISC_CHECK only).
    pub fn script_security(&self) -> bool {
        self.rare.as_ref().is_some_and(|r| r.script_security)
    }

    /// Changes the rare settings in place (a test's or a caller's override); an empty
    /// result is stored as None.
    pub fn set_rare(&mut self, f: impl FnOnce(&mut RareSettings)) {
        let mut r = self.rare.take().map(|b| *b).unwrap_or_default();
        f(&mut r);
        self.rare = r.boxed();
    }

    /// The target as keepalived prints it: `[10.0.0.2]:tcp:80`.
    pub fn target(&self) -> String {
        format!("[{}]:{}:{}", self.addr, self.proto, self.port)
    }

    /// The socket address to connect to.
    pub fn socket_addr(&self) -> SocketAddr {
        SocketAddr::new(self.addr, self.port)
    }

    /// Every checker of the config, in config order.
    pub fn all(config: &Config) -> Vec<CheckSettings> {
        Self::each(config).map(|(_, s)| s).collect()
    }

    /// [`CheckSettings::all`] one at a time, each with its place in the configuration
    /// (nothing collected: at scale the whole list
    /// is megabytes for a moment).
    pub fn each(config: &Config) -> impl Iterator<Item = (CheckerId, CheckSettings)> + '_ {
        config
            .virtual_servers
            .iter()
            .enumerate()
            .flat_map(move |(vi, vs)| {
                vs.real_servers
                    .iter()
                    .enumerate()
                    .flat_map(move |(ri, rs)| {
                        rs.checkers.iter().enumerate().map(move |(ci, ck)| {
                            let id = CheckerId {
                                vs: vi,
                                rs: ri,
                                checker: ci,
                            };
                            (id, Self::from_parts(config, vs, rs, ck))
                        })
                    })
            })
    }

    /// Every checker of virtual server `vs` (an index), in configuration order.
    pub fn each_in(
        config: &Config,
        vs: usize,
    ) -> impl Iterator<Item = (CheckerId, CheckSettings)> + '_ {
        config
            .virtual_servers
            .get(vs)
            .into_iter()
            .flat_map(move |v| {
                v.real_servers.iter().enumerate().flat_map(move |(ri, rs)| {
                    rs.checkers.iter().enumerate().map(move |(ci, ck)| {
                        let id = CheckerId {
                            vs,
                            rs: ri,
                            checker: ci,
                        };
                        (id, Self::from_parts(config, v, rs, ck))
                    })
                })
            })
    }

    /// Whether every checker of virtual server `vs` (an index in both) has the same
    /// settings at the same place in `old` and `new`: the virtual server is equal, and so
    /// are the global settings a checker takes (see `from_parts`). Much cheaper than
    /// resolving and comparing each checker's settings.
    pub fn same_at(old: &Config, new: &Config, vs: usize) -> bool {
        let (g, h) = (&old.global, &new.global);
        g.checker_log_all_failures == h.checker_log_all_failures
            && g.script_user == h.script_user
            && g.enable_script_security == h.enable_script_security
            && old
                .virtual_servers
                .get(vs)
                .is_some_and(|v| new.virtual_servers.get(vs) == Some(v))
    }

    /// How many checkers the config has.
    pub fn count(config: &Config) -> usize {
        config
            .virtual_servers
            .iter()
            .flat_map(|vs| &vs.real_servers)
            .map(|rs| rs.checkers.len())
            .sum()
    }
}

fn unspecified_like(addr: IpAddr) -> IpAddr {
    match addr {
        IpAddr::V4(_) => IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED),
        IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::UNSPECIFIED),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// keepalived 2.2.7's per-kind defaults: retry 3 for DNS_CHECK, 0 for MISC_CHECK, else
    /// 1; delay_before_retry 3 s for HTTP_GET, the delay_loop for DNS_CHECK, else 1 s.
    #[test]
    fn retry_defaults_follow_the_checker_kind() {
        let text = "virtual_server 10.0.0.1 53 {\n  delay_loop 7\n  protocol UDP\n  \
                    real_server 10.0.0.2 53 {\n    DNS_CHECK {\n      name x.\n    }\n    \
                    MISC_CHECK {\n      misc_path /bin/true\n    }\n    HTTP_GET {\n      \
                    url {\n        path /\n      }\n    }\n    TCP_CHECK {\n    }\n  }\n}\n";
        let loaded =
            crate::config::parse_str(text, std::path::Path::new("t.conf"), "t").expect("config");
        let got: Vec<(u32, u64)> = CheckSettings::all(&loaded.config)
            .iter()
            .map(|s| (s.timing.retry, s.timing.delay_before_retry.as_secs()))
            .collect();
        assert_eq!(got, [(3, 7), (0, 1), (1, 3), (1, 1)]);
    }
}
