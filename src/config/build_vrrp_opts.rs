//! Values of the VRRP tuning keywords (GARP pacing, lower/higher-priority advert handling,
//! start-up delay, real-time scheduling), read as keepalived 2.2.7 reads them.

use super::build::P;
use super::keywords;
use super::lexer::Tok;
use super::model::{
    ExtraIfGarp, GarpGroup, IfDelays, LifeScript, LinkbeatIf, LinkbeatKind, RcvBuf, RxBufsPolicy,
};
use crate::script::ScriptUser;

/// keepalived's default startup/shutdown script timeout.
pub(crate) const LIFE_SCRIPT_TIMEOUT: Duration = Duration::from_secs(10);

/// keepalived's least interval (its timers count microseconds).
pub(crate) const MICRO: Duration = Duration::from_micros(1);
use std::time::Duration;

/// `sched_get_priority_max(SCHED_RR)` on Linux.
pub const SCHED_RR_MAX: i32 = 99;

impl P<'_> {
    /// `[vrrp_]garp_extra_if [all] SECS` (and the deprecated `[vrrp_]vmac_garp_intvl`):
    /// the words in any order, seconds from `lo` to 86400. Without seconds the line is
    /// ignored, as keepalived does.
    pub(crate) fn extra_if_garp(&mut self, t: &[Tok], lo: i64) -> Option<ExtraIfGarp> {
        let kw = self.txt(t[0]).to_string();
        if kw.contains("vmac_garp_intvl") {
            let new = if kw.starts_with("vrrp_") {
                "vrrp_garp_extra_if"
            } else {
                "garp_extra_if"
            };
            self.problem(t[0], format!("`{kw}` is deprecated: write `{new}`"));
        }
        let mut all = false;
        let mut secs = None;
        for w in &t[1..] {
            if self.txt(*w) == "all" {
                all = true;
            } else {
                secs = Some(self.int_tok(t[0], *w, lo, 86_400)?);
            }
        }
        let Some(secs) = secs else {
            self.problem(t[0], format!("`{kw}` without a time (ignored)"));
            return None;
        };
        Some(ExtraIfGarp {
            interval_secs: secs as u32,
            all,
        })
    }

    /// `KEYWORD [BOOL]`: no value is true; a value that is not a boolean leaves the setting
    /// as it was (keepalived reports it and ignores the line).
    pub(crate) fn opt_bool(&mut self, t: &[Tok]) -> Option<bool> {
        let Some(v) = t.get(1).copied() else {
            return Some(true);
        };
        self.no_more(t, 2);
        match self.txt(v).to_ascii_lowercase().as_str() {
            "yes" | "true" | "on" => Some(true),
            "no" | "false" | "off" => Some(false),
            other => {
                let kw = self.txt(t[0]);
                self.problem(
                    v,
                    format!("{kw}: `{other}` is not true/false/on/off/yes/no (ignored)"),
                );
                None
            }
        }
    }

    /// A whole number of seconds (keepalived reads `garp_lower_prio_delay` as an integer).
    pub(crate) fn whole_secs(&mut self, t: &[Tok]) -> Option<Duration> {
        self.int(t, 0, i64::from(u32::MAX) / 1000)
            .map(|v| Duration::from_secs(v as u64))
    }

    /// Seconds with microseconds, at least `min` and at most 4294.967295 (keepalived's
    /// range: outside it, a warning and the setting keeps its default).
    pub(crate) fn interval(&mut self, t: &[Tok], min: Duration) -> Option<Duration> {
        let d = self.dur(t)?;
        let max = Duration::from_micros(u64::from(u32::MAX));
        if d < min || d > max {
            let kw = self.txt(t[0]);
            self.problem(
                t[1],
                format!(
                    "{kw} {} out of range {}-4294.967295 (ignored)",
                    self.txt(t[1]),
                    min.as_secs_f64()
                ),
            );
            return None;
        }
        Some(d)
    }

    /// `max_auto_priority [N]`: no value is the maximum; -1..=99.
    pub(crate) fn max_auto_priority(&mut self, t: &[Tok]) -> Option<i32> {
        if t.len() < 2 {
            return Some(SCHED_RR_MAX);
        }
        self.int(t, -1, i64::from(SCHED_RR_MAX)).map(|v| v as i32)
    }

    /// `min_auto_priority_delay USECS`: 1..=10,000,000.
    pub(crate) fn min_auto_priority_delay(&mut self, t: &[Tok]) -> Option<Duration> {
        self.int(t, 1, 10_000_000)
            .map(|v| Duration::from_micros(v as u64))
    }

    /// `vrrp_rlimit_rttime USECS` (also the deprecated `vrrp_rlimit_rtime`): 1 counts as 2
    /// (keepalived halves it for the soft limit).
    pub(crate) fn rlimit_rttime(&mut self, t: &[Tok]) -> Option<u64> {
        self.int(t, 1, i64::from(u32::MAX))
            .map(|v| (v as u64).max(2))
    }

    /// `*_rcv_bufs BYTES`: 0 leaves the kernel's default, as keepalived.
    pub(crate) fn rcv_bufs(&mut self, t: &[Tok], buf: &mut RcvBuf) {
        if let Some(b) = self.u32v(t).filter(|b| *b > 0) {
            buf.bytes = b;
        }
    }

    /// `vrrp_rx_bufs_policy MTU|ADVERT|BYTES …`: words add up as in keepalived; BYTES wins
    /// over a policy, MTU over ADVERT (each a warning).
    pub(crate) fn rx_bufs_policy(&mut self, t: &[Tok], pol: &mut RxBufsPolicy) {
        if self.arg(t, 1).is_none() {
            return;
        }
        for w in &t[1..] {
            let s = self.txt(*w);
            if s.eq_ignore_ascii_case("MTU") {
                pol.mtu = true;
            } else if s.eq_ignore_ascii_case("ADVERT") {
                pol.advert = true;
            } else if let Ok(b) = s.parse::<u32>() {
                pol.size = Some(b);
            } else {
                self.problem(
                    *w,
                    format!("vrrp_rx_bufs_policy: `{s}` is not MTU, ADVERT or a size (ignored)"),
                );
            }
        }
        if pol.size.is_some() && (pol.mtu || pol.advert) {
            self.problem(
                t[0],
                "vrrp_rx_bufs_policy: a size and MTU/ADVERT both given; the size is used",
            );
            pol.mtu = false;
            pol.advert = false;
        } else if pol.mtu && pol.advert {
            self.problem(
                t[0],
                "vrrp_rx_bufs_policy: MTU and ADVERT both given; MTU is used, as keepalived does",
            );
            pol.advert = false;
        }
    }

    /// `vrrp_priority` / `checker_priority`: a nice value, -20..=19.
    pub(crate) fn nice(&mut self, t: &[Tok]) -> Option<i32> {
        self.int(t, -20, 19).map(|v| v as i32)
    }

    /// `vrrp_rt_priority` / `checker_rt_priority`: a SCHED_RR priority.
    pub(crate) fn rt_priority(&mut self, t: &[Tok]) -> Option<u32> {
        self.int(t, 1, i64::from(SCHED_RR_MAX)).map(|v| v as u32)
    }

    /// `*_cpu_affinity CPU …`: CPU numbers (one that is not a number is ignored with a
    /// warning; one the machine does not have is said when applied).
    pub(crate) fn cpu_list(&mut self, t: &[Tok]) -> Vec<u32> {
        if self.arg(t, 1).is_none() {
            return Vec::new();
        }
        let mut cpus = Vec::new();
        for w in &t[1..] {
            if let Some(c) = self.int_tok(t[0], *w, 0, 4095) {
                cpus.push(c as u32);
            }
        }
        cpus
    }

    /// `umask NUMBER` (C's base 0: 0177, 0x7f, 127) or `umask BITS` (IRUSR … IXOTH joined
    /// by `|`, spaces allowed).
    pub(crate) fn umask(&mut self, t: &[Tok]) -> Option<u32> {
        self.arg(t, 1)?;
        let text: String = t[1..].iter().map(|w| self.txt(*w)).collect();
        if let Some(n) = crate::cli::parse_c_number(&text) {
            if n <= 0o777 {
                return Some(n);
            }
        }
        let mut mask = 0;
        for bit in text.split('|') {
            mask |= match bit {
                "IRUSR" => 0o400,
                "IWUSR" => 0o200,
                "IXUSR" => 0o100,
                "IRGRP" => 0o040,
                "IWGRP" => 0o020,
                "IXGRP" => 0o010,
                "IROTH" => 0o004,
                "IWOTH" => 0o002,
                "IXOTH" => 0o001,
                _ => {
                    self.problem(t[1], format!("umask: `{text}` is not a mask (ignored)"));
                    return None;
                }
            };
        }
        Some(mask)
    }

    /// `startup_script SCRIPT [USER [GROUP]]` (SCRIPT quoted when it has arguments).
    pub(crate) fn life_script(&mut self, t: &[Tok], slot: &mut Option<LifeScript>) {
        let Some(c) = self.arg(t, 1) else {
            return;
        };
        self.no_more(t, 4);
        let timeout = slot.as_ref().map_or(LIFE_SCRIPT_TIMEOUT, |s| s.timeout);
        let user = t.get(2).map(|u| ScriptUser {
            user: self.txt(*u).to_string(),
            group: t.get(3).map(|g| self.txt(*g).to_string()),
        });
        let command = self.txt(c).to_string();
        // Vetted with the other scripts (missing, unsafe, script security).
        self.scripts.push(super::build::ScriptRef {
            span: self.sp(c),
            command: command.clone(),
            user: user.clone(),
            kind: super::build::AfterCommand::UserGroup,
        });
        *slot = Some(LifeScript {
            command,
            user,
            timeout,
        });
    }

    /// `startup_script_timeout SECONDS` (1..=1000), before or after its script.
    pub(crate) fn life_timeout(&mut self, t: &[Tok], slot: &mut Option<LifeScript>) {
        let Some(secs) = self.int(t, 1, 1000) else {
            return;
        };
        let d = Duration::from_secs(secs as u64);
        match slot {
            Some(s) => s.timeout = d,
            None => {
                *slot = Some(LifeScript {
                    command: String::new(),
                    user: None,
                    timeout: d,
                })
            }
        }
    }

    /// `garp_group { … }` (top level). An interface already in an earlier group stays
    /// there (a warning); a group without interfaces is ignored, as keepalived does.
    /// `interface_up_down_delays { IF DOWN [UP] … }`: seconds (µs resolution) up to 255;
    /// UP defaults to DOWN. A bad line is left out with a warning, as keepalived.
    /// `linkbeat_interfaces { IF [MII|ETHTOOL|IOCTL] … }`.
    pub(crate) fn linkbeat_interfaces(&mut self, toks: &[Tok], opens: bool) {
        self.no_more(toks, 1);
        if !self.need_block(toks, opens) {
            return;
        }
        let mut out: Vec<LinkbeatIf> = Vec::new();
        self.block(toks[0], |p, l, _| {
            let name = p.txt(l[0]).to_string();
            let kind = match l.get(1).map(|t| p.txt(*t).to_ascii_uppercase()) {
                None => None,
                Some(k) if k == "MII" => Some(LinkbeatKind::Mii),
                Some(k) if k == "ETHTOOL" => Some(LinkbeatKind::Ethtool),
                Some(k) if k == "IOCTL" => Some(LinkbeatKind::Ioctl),
                Some(k) => {
                    p.problem(l[1], format!("extra characters {k} in linkbeat interface"));
                    None
                }
            };
            p.no_more(l, 2);
            out.retain(|o| o.name != name);
            out.push(LinkbeatIf { name, kind });
        });
        self.config.global.linkbeat_interfaces.extend(out);
    }

    pub(crate) fn interface_delays(&mut self, toks: &[Tok], opens: bool) {
        self.no_more(toks, 1);
        if !self.need_block(toks, opens) {
            return;
        }
        let mut out = Vec::new();
        self.block(toks[0], |p, l, _| {
            let Some(d) = p.arg(l, 1) else {
                return;
            };
            p.no_more(l, 3);
            let max = Duration::from_secs(255);
            let read = |p: &mut P<'_>, t: Tok| match p.dur_tok(l[0], t) {
                Some(v) if v <= max => Some(v),
                Some(_) => {
                    let s = p.txt(t).to_string();
                    p.problem(
                        t,
                        format!("interface_up_down_delays: {s} is above 255 s (line ignored)"),
                    );
                    None
                }
                None => None,
            };
            let Some(down) = read(p, d) else {
                return;
            };
            let up = match l.get(2) {
                Some(u) => match read(p, *u) {
                    Some(v) => v,
                    None => return,
                },
                None => down,
            };
            out.push(IfDelays {
                interface: p.txt(l[0]).to_string(),
                down,
                up,
            });
        });
        self.config.global.interface_delays.extend(out);
    }

    pub(crate) fn garp_group(&mut self, toks: &[Tok], opens: bool) {
        self.no_more(toks, 1);
        if !self.need_block(toks, opens) {
            return;
        }
        let mut g = GarpGroup::default();
        let mut named: Vec<Tok> = Vec::new();
        self.block(toks[0], |p, t, opens| match p.txt(t[0]) {
            "garp_interval" => g.garp_interval = p.interval(t, MICRO),
            "gna_interval" => g.gna_interval = p.interval(t, MICRO),
            "interface" => {
                if let Some(n) = p.arg(t, 1) {
                    p.no_more(t, 2);
                    named.push(n);
                }
            }
            "interfaces" => {
                if p.need_block(t, opens) {
                    g.aggregation_group = Some(0);
                    p.block(t[0], |_, l, _| named.extend_from_slice(l));
                }
            }
            _ => p.unknown(t, opens, &keywords::GARP_GROUP),
        });
        for n in named {
            let name = self.txt(n).to_string();
            let taken = self
                .config
                .global
                .garp_groups
                .iter()
                .any(|o| o.interfaces.contains(&name))
                || g.interfaces.contains(&name);
            if taken {
                self.problem(
                    n,
                    format!("garp_group: interface {name} is already in a garp_group (ignored)"),
                );
            } else {
                g.interfaces.push(name);
            }
        }
        if g.interfaces.is_empty() {
            self.problem(toks[0], "garp_group has no interfaces (ignored)");
            return;
        }
        if g.aggregation_group.is_some() {
            let before = self.config.global.garp_groups.iter();
            let n = before.filter(|o| o.aggregation_group.is_some()).count();
            g.aggregation_group = u32::try_from(n + 1).ok();
        }
        self.config.global.garp_groups.push(g);
    }
}

#[cfg(test)]
mod tests {
    use crate::config::model::{RcvBuf, RxBufsPolicy};
    use crate::config::parse_str;
    use std::path::Path;

    fn global(lines: &str) -> (crate::config::model::GlobalDefs, Vec<String>) {
        let text = format!("global_defs {{\n{lines}\n}}\n");
        let l = parse_str(&text, Path::new("t.conf"), "x").expect("loads");
        let w = l.warnings.iter().map(|d| d.to_string()).collect();
        (l.config.global.clone(), w)
    }

    #[test]
    fn receive_buffer_settings() {
        let (g, w) = global(
            "vrrp_netlink_cmd_rcv_bufs 1000000\nvrrp_netlink_cmd_rcv_bufs_force\n\
             lvs_netlink_cmd_rcv_bufs 0\nprocess_monitor_rcv_bufs 500000\n\
             process_monitor_rcv_bufs_force off\nvrrp_rx_bufs_policy 65536\n\
             vrrp_rx_bufs_multiplier 5",
        );
        assert!(w.is_empty(), "{w:?}");
        let b = g.netlink_bufs;
        assert_eq!(
            b.vrrp_cmd,
            RcvBuf {
                bytes: 1_000_000,
                force: true
            }
        );
        assert_eq!(b.lvs_cmd, RcvBuf::default(), "0 keeps the default");
        assert_eq!(b.process_monitor.bytes, 500_000);
        assert!(!b.process_monitor.force);
        assert_eq!(
            g.vrrp_rx_bufs,
            RxBufsPolicy {
                size: Some(65536),
                ..Default::default()
            }
        );
        assert_eq!(g.vrrp_rx_bufs_multiplier, 5);
    }

    #[test]
    fn rx_bufs_policy_conflicts_and_bad_words() {
        let (g, w) = global("vrrp_rx_bufs_policy mtu 4096");
        assert_eq!(g.vrrp_rx_bufs.size, Some(4096));
        assert!(!g.vrrp_rx_bufs.mtu);
        assert!(w[0].contains("a size and MTU/ADVERT both given"), "{w:?}");
        let (g, w) = global("vrrp_rx_bufs_policy ADVERT bogus");
        assert!(g.vrrp_rx_bufs.advert);
        assert!(
            w[0].contains("`bogus` is not MTU, ADVERT or a size"),
            "{w:?}"
        );
        let (_, w) = global("vrrp_rx_bufs_multiplier 0");
        assert!(w[0].contains("out of range"), "{w:?}");
    }

    #[test]
    fn garp_groups_pace_their_interfaces() {
        let text = "global_defs {\n vrrp_garp_interval 0.5\n}\n\
                    garp_group {\n garp_interval 0.01\n gna_interval 0.02\n \
                    interfaces {\n  eth0\n  eth1\n }\n}\n\
                    garp_group {\n garp_interval 0.03\n interface eth1\n}\n\
                    garp_group {\n gna_interval 0.03\n}\n";
        let l = parse_str(text, Path::new("t.conf"), "x").expect("loads");
        let w: Vec<String> = l.warnings.iter().map(|d| d.to_string()).collect();
        assert_eq!(w.len(), 3, "{w:?}");
        assert!(
            w[0].contains("interface eth1 is already in a garp_group"),
            "{w:?}"
        );
        assert!(w[1].contains("garp_group has no interfaces"), "{w:?}");
        let g = &l.config.global;
        let ms = std::time::Duration::from_millis;
        assert_eq!(g.garp_pacing("eth0"), (ms(10), ms(20)));
        assert_eq!(g.garp_pacing("eth1"), (ms(10), ms(20)));
        // an interface in no group keeps the global settings
        assert_eq!(g.garp_pacing("eth2"), (ms(500), ms(0)));
    }

    #[test]
    fn min_garp_changes_only_defaults() {
        let (g, w) = global("vrrp_min_garp");
        assert!(w.is_empty(), "{w:?}");
        assert_eq!(g.vrrp_garp_master_repeat, 1);
        assert_eq!(g.vrrp_garp_master_refresh_repeat, 0);
        assert_eq!(g.vrrp_garp_master_delay, std::time::Duration::ZERO);
        // a setting written before it stays; one written after wins
        let (g, _) = global("vrrp_garp_master_repeat 3\nvrrp_min_garp\nvrrp_garp_master_delay 2");
        assert_eq!(g.vrrp_garp_master_repeat, 3);
        assert_eq!(g.vrrp_garp_master_delay, std::time::Duration::from_secs(2));
        let (g, _) = global("vrrp_min_garp false");
        assert_eq!(g.vrrp_garp_master_repeat, 5);
    }

    #[test]
    fn umask_forms() {
        for (text, want) in [
            ("umask 0177", Some(0o177)),
            ("umask 0x12", Some(0o22)),
            ("umask 18", Some(0o22)),
            ("umask IWGRP|IWOTH", Some(0o22)),
            ("umask IWGRP | IWOTH | IRWXO", None),
        ] {
            let (g, w) = global(text);
            assert_eq!(g.umask, want, "{text}: {w:?}");
            assert_eq!(w.is_empty(), want.is_some(), "{text}: {w:?}");
        }
    }

    #[test]
    fn startup_and_shutdown_scripts() {
        let (g, w) = global(
            "shutdown_script_timeout 3\nstartup_script \"/bin/echo up\" nobody nogroup\n\
             shutdown_script /bin/true\nstartup_script_timeout 1000",
        );
        assert!(w.is_empty(), "{w:?}");
        let s = g.startup_script.expect("startup");
        assert_eq!(s.command, "/bin/echo up");
        assert_eq!(s.user.expect("user").group.as_deref(), Some("nogroup"));
        assert_eq!(s.timeout.as_secs(), 1000);
        let d = g.shutdown_script.expect("shutdown");
        assert_eq!((d.command.as_str(), d.timeout.as_secs()), ("/bin/true", 3));
        let (_, w) = global("startup_script_timeout 0");
        assert!(w[0].contains("out of range"), "{w:?}");
    }

    #[test]
    fn startup_script_is_vetted_as_keepalived() {
        let text = "global_defs {\n startup_script /bin/true\n}\n";
        let mut l = parse_str(text, Path::new("t.conf"), "x").expect("loads");
        let d = crate::config::vet_scripts(&mut l);
        // keepalived -t: "SECURITY VIOLATION - start/shutdown scripts are being executed
        // but script_security not enabled" (exit 6)
        assert!(
            d.iter()
                .any(|d| d.severity == crate::config::Severity::Security),
            "{d:?}"
        );
        let text = "global_defs {\n shutdown_script /nonexistent/lvsd-down\n}\n";
        let mut l = parse_str(text, Path::new("t.conf"), "x").expect("loads");
        let d = crate::config::vet_scripts(&mut l);
        assert!(
            d.iter().any(|d| d.to_string().contains("not found")),
            "{d:?}"
        );
        // keepalived frees a script it cannot find (check_notify_script_secure): dropped.
        assert!(l.config.global.shutdown_script.is_none());
        let text = "vrrp_instance VI {\n interface eth0\n virtual_router_id 1\n \
                    notify_master /nonexistent/lvsd-master\n notify_backup /bin/true\n}\n";
        let mut l = parse_str(text, Path::new("t.conf"), "x").expect("loads");
        crate::config::vet_scripts(&mut l);
        let n = &l.config.instances[0].notify;
        assert_eq!(
            (n.master.as_deref(), n.backup.as_deref()),
            (None, Some("/bin/true"))
        );
    }
}
