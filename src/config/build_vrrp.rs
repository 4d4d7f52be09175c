//! Builders for global_defs, vrrp_script, vrrp_sync_group and vrrp_instance.

use super::build::{AfterCommand, InstanceSpans, P};
use super::build_track::RefKind;
use super::build_vrrp_opts::MICRO;
use super::diag::Diagnostic;
use super::keywords;
use super::lexer::Tok;
use super::model::*;
use std::time::Duration;

impl P<'_> {
    pub(crate) fn global_defs(&mut self, open: Tok) {
        let mut g = std::mem::take(&mut self.config.global);
        self.block(open, |p, t, opens| {
            let kw = p.txt(t[0]);
            match kw {
                "router_id" => g.router_id = p.string(t),
                "smtp_helo_name" => g.smtp_helo_name = p.string(t),
                "notification_email" => {
                    if p.need_block(t, opens) {
                        p.block(t[0], |p, l, _| {
                            for a in l {
                                g.notification_email.push(p.txt(*a).to_string());
                            }
                        });
                    }
                }
                "notification_email_from" => g.notification_email_from = p.string(t),
                "smtp_server" => {
                    if let Some(h) = p.arg(t, 1) {
                        p.no_more(t, 3);
                        let port = match t.get(2) {
                            Some(pt) => p.port_tok(t[0], *pt),
                            None => Some(25),
                        };
                        g.smtp_server = Some(SmtpServer {
                            host: p.txt(h).to_string(),
                            port: port.unwrap_or(25),
                        });
                    }
                }
                "smtp_connect_timeout" => set(&mut g.smtp_connect_timeout, p.dur(t)),
                "smtp_alert" => g.smtp_alert = p.flag(t),
                "smtp_alert_vrrp" => g.smtp_alert_vrrp = Some(p.flag(t)),
                "smtp_alert_checker" => g.smtp_alert_checker = Some(p.flag(t)),
                "script_user" => g.script_user = p.user(t),
                "enable_script_security" => g.enable_script_security = p.flag(t),
                "vrrp_strict" => g.vrrp_strict = p.flag(t),
                "vrrp_skip_check_adv_addr" => g.vrrp_skip_check_adv_addr = p.flag(t),
                "vrrp_check_unicast_src" => g.vrrp_check_unicast_src = p.flag(t),
                "vrrp_garp_master_delay" => set(&mut g.vrrp_garp_master_delay, p.dur(t)),
                "vrrp_garp_master_repeat" => set(&mut g.vrrp_garp_master_repeat, p.u32v(t)),
                "vrrp_garp_master_refresh" => g.vrrp_garp_master_refresh = p.dur(t),
                "vrrp_garp_master_refresh_repeat" => {
                    set(&mut g.vrrp_garp_master_refresh_repeat, p.u32v(t))
                }
                "vrrp_garp_interval" => set(&mut g.vrrp_garp_interval, p.interval(t, MICRO)),
                "vrrp_gna_interval" => set(&mut g.vrrp_gna_interval, p.interval(t, MICRO)),
                "vrrp_garp_lower_prio_delay" => {
                    set(&mut g.vrrp_garp_lower_prio_delay, p.whole_secs(t).map(Some))
                }
                "vrrp_garp_extra_if" | "vrrp_vmac_garp_intvl" => {
                    if let Some(x) = p.extra_if_garp(t, 1) {
                        g.vrrp_garp_extra_if = Some(x);
                    }
                }
                "vrrp_garp_lower_prio_repeat" => {
                    set(&mut g.vrrp_garp_lower_prio_repeat, p.u32v(t).map(Some))
                }
                "vrrp_lower_prio_no_advert" => set(&mut g.vrrp_lower_prio_no_advert, p.opt_bool(t)),
                "vrrp_higher_prio_send_advert" => {
                    set(&mut g.vrrp_higher_prio_send_advert, p.opt_bool(t))
                }
                "vrrp_startup_delay" => set(
                    &mut g.vrrp_startup_delay,
                    p.interval(t, Duration::from_millis(1)).map(Some),
                ),
                "max_auto_priority" => set(&mut g.max_auto_priority, p.max_auto_priority(t)),
                "min_auto_priority_delay" => set(
                    &mut g.min_auto_priority_delay,
                    p.min_auto_priority_delay(t).map(Some),
                ),
                "vrrp_no_swap" => g.vrrp_no_swap = p.flag(t),
                "checker_no_swap" => g.checker_no_swap = p.flag(t),
                "vrrp_rlimit_rttime" | "vrrp_rlimit_rtime" => {
                    set(&mut g.vrrp_rlimit_rttime, p.rlimit_rttime(t).map(Some))
                }
                "vrrp_version" => set(&mut g.vrrp_version, p.int(t, 2, 3).map(|v| v as u8)),
                "vrrp_v3_checksum_as_v2" => g.vrrp_v3_checksum_as_v2 = p.flag(t),
                // As keepalived 2.2.7 (built without iptables): nftables, table "keepalived".
                "vrrp_iptables" => {
                    p.problem(
                        t[0],
                        "vrrp_iptables: iptables is not supported, nftables is used instead \
                         (table keepalived), as keepalived 2.2.7 does; write `nftables`",
                    );
                    g.nftables = Some("keepalived".to_string());
                    g.nftables_priority = -1;
                }
                "nftables" => {
                    if g.nftables.is_some() {
                        p.problem(t[0], "nftables already specified: ignored");
                    } else {
                        let name = match p.arg(t, 1) {
                            Some(n) => p.txt(n).to_string(),
                            None => "keepalived".to_string(),
                        };
                        // NFT_TABLE_MAXNAMELEN is 256 with the terminating NUL.
                        if name.len() >= 256 {
                            p.problem(t[1], "nftables table name too long: ignored");
                        } else {
                            g.nftables = Some(name);
                            g.nftables_priority = -1;
                        }
                    }
                }
                "nftables_priority" => set(
                    &mut g.nftables_priority,
                    p.int(t, i64::from(i32::MIN), i64::from(i32::MAX))
                        .map(|v| v as i32),
                ),
                "nftables_counters" => g.nftables_counters = p.flag(t),
                "nftables_ifindex" => g.nftables_ifindex = p.flag(t),
                "vrrp_mcast_group4" => g.vrrp_mcast_group4 = p.ip_family(t, false),
                "vrrp_mcast_group6" => g.vrrp_mcast_group6 = p.ip_family(t, true),
                "lvs_sync_daemon" => g.lvs_sync_daemon = p.lvs_sync_daemon(t),
                "lvs_timeouts" => g.lvs_timeouts = p.lvs_timeouts(t),
                "notify_fifo" => fifo_path(p, t, &mut g.notify_fifo),
                "vrrp_notify_fifo" => fifo_path(p, t, &mut g.vrrp_notify_fifo),
                "lvs_notify_fifo" => fifo_path(p, t, &mut g.lvs_notify_fifo),
                "notify_fifo_script" => fifo_script(p, t, &mut g.notify_fifo),
                "vrrp_notify_fifo_script" => fifo_script(p, t, &mut g.vrrp_notify_fifo),
                "lvs_notify_fifo_script" => fifo_script(p, t, &mut g.lvs_notify_fifo),
                "notify_script_timeout" => set(&mut g.notify_script_timeout, p.dur(t)),
                "vrrp_netlink_cmd_rcv_bufs" => p.rcv_bufs(t, &mut g.netlink_bufs.vrrp_cmd),
                "vrrp_netlink_monitor_rcv_bufs" => p.rcv_bufs(t, &mut g.netlink_bufs.vrrp_monitor),
                "lvs_netlink_cmd_rcv_bufs" => p.rcv_bufs(t, &mut g.netlink_bufs.lvs_cmd),
                "lvs_netlink_monitor_rcv_bufs" => p.rcv_bufs(t, &mut g.netlink_bufs.lvs_monitor),
                "process_monitor_rcv_bufs" => p.rcv_bufs(t, &mut g.netlink_bufs.process_monitor),
                "vrrp_netlink_cmd_rcv_bufs_force" => {
                    set(&mut g.netlink_bufs.vrrp_cmd.force, p.opt_bool(t))
                }
                "vrrp_netlink_monitor_rcv_bufs_force" => {
                    set(&mut g.netlink_bufs.vrrp_monitor.force, p.opt_bool(t))
                }
                "lvs_netlink_cmd_rcv_bufs_force" => {
                    set(&mut g.netlink_bufs.lvs_cmd.force, p.opt_bool(t))
                }
                "lvs_netlink_monitor_rcv_bufs_force" => {
                    set(&mut g.netlink_bufs.lvs_monitor.force, p.opt_bool(t))
                }
                "process_monitor_rcv_bufs_force" => {
                    set(&mut g.netlink_bufs.process_monitor.force, p.opt_bool(t))
                }
                "vrrp_priority" => set(&mut g.vrrp_tuning.nice, p.nice(t).map(Some)),
                "checker_priority" => set(&mut g.checker_tuning.nice, p.nice(t).map(Some)),
                "vrrp_rt_priority" => {
                    set(&mut g.vrrp_tuning.rt_priority, p.rt_priority(t).map(Some))
                }
                "checker_rt_priority" => set(
                    &mut g.checker_tuning.rt_priority,
                    p.rt_priority(t).map(Some),
                ),
                "vrrp_cpu_affinity" => g.vrrp_tuning.cpus = p.cpu_list(t),
                "checker_cpu_affinity" => g.checker_tuning.cpus = p.cpu_list(t),
                "checker_rlimit_rttime" | "checker_rlimit_rtime" => {
                    set(&mut g.checker_rlimit_rttime, p.rlimit_rttime(t).map(Some))
                }
                // One gratuitous ARP/NA, no second burst: the settings still at their
                // defaults change, as keepalived (later lines win).
                "umask" => set(&mut g.umask, p.umask(t).map(Some)),
                "reload_check_config" => {
                    p.no_more(t, 2);
                    let log = t.get(1).map_or("/dev/null", |f| p.txt(*f));
                    g.reload_check_config = Some(log.into());
                }
                "reload_time_file" => {
                    if let Some(f) = p.string(t) {
                        g.reload_time_file = Some(f.into());
                    }
                }
                "reload_repeat" => {
                    p.no_more(t, 1);
                    g.reload_repeat = true;
                }
                "reload_file" => {
                    p.no_more(t, 2);
                    g.reload_file = Some(match t.get(1) {
                        Some(f) => crate::config::model::ReloadFile::Path(p.txt(*f).into()),
                        None => crate::config::model::ReloadFile::Default,
                    });
                }
                "config_save_dir" => {
                    if let Some(d) = p.string(t) {
                        g.config_save_dir = Some(d.into());
                    }
                }
                "process_names" => {
                    p.no_more(t, 1);
                    g.process_names.vrrp = Some("keepalived_vrrp".into());
                    g.process_names.checker = Some("keepalived_lvs".into());
                }
                "process_name" => set(&mut g.process_names.main, p.process_name(t).map(Some)),
                "vrrp_process_name" => set(&mut g.process_names.vrrp, p.process_name(t).map(Some)),
                "checker_process_name" | "lvs_process_name" => {
                    set(&mut g.process_names.checker, p.process_name(t).map(Some))
                }
                "log_unknown_vrids" => g.log_unknown_vrids = p.flag(t),
                "vrrp_down_timer_adverts" => set(
                    &mut g.vrrp_down_timer_adverts,
                    p.int(t, 1, 100).map(|v| Some(v as u32)),
                ),
                "vmac_prefix" => g.vmac_prefix = p.string(t),
                "no_email_faults" => g.no_email_faults = p.flag(t),
                "rs_init_notifies" => g.rs_init_notifies = p.flag(t),
                "checker_log_all_failures" => g.checker_log_all_failures = p.flag(t),
                "data_use_instance" => g.data_use_instance = p.flag(t),
                "no_checker_emails" => g.no_checker_emails = p.flag(t),
                "fifo_write_vrrp_states_on_reload" => {
                    p.no_more(t, 1);
                    g.fifo_write_vrrp_states_on_reload = true;
                }
                "vrrp_notify_priority_changes" => {
                    set(&mut g.vrrp_notify_priority_changes, p.opt_bool(t))
                }
                "startup_script" => p.life_script(t, &mut g.startup_script),
                "shutdown_script" => p.life_script(t, &mut g.shutdown_script),
                "startup_script_timeout" => p.life_timeout(t, &mut g.startup_script),
                "shutdown_script_timeout" => p.life_timeout(t, &mut g.shutdown_script),
                "vrrp_min_garp" => {
                    if p.opt_bool(t) == Some(true) {
                        let d = GlobalDefs::default();
                        if g.vrrp_garp_master_repeat == d.vrrp_garp_master_repeat {
                            g.vrrp_garp_master_repeat = 1;
                        }
                        if g.vrrp_garp_master_refresh_repeat == d.vrrp_garp_master_refresh_repeat {
                            g.vrrp_garp_master_refresh_repeat = 0;
                        }
                        if g.vrrp_garp_master_delay == d.vrrp_garp_master_delay {
                            g.vrrp_garp_master_delay = Duration::ZERO;
                        }
                    }
                }
                "dynamic_interfaces" => {
                    if let Some(w) = t.get(1) {
                        // allow_if_changes: keepalived then allows a VRID twice on an
                        // interface that may change; lvsd checks VRIDs by name anyway.
                        if p.txt(*w) == "allow_if_changes" {
                            g.allow_if_changes = true;
                        } else {
                            let s = p.txt(*w);
                            p.problem(
                                *w,
                                format!("dynamic_interfaces: unknown option `{s}` (ignored)"),
                            );
                        }
                        p.no_more(t, 2);
                    }
                    g.dynamic_interfaces = true;
                }
                "lvs_flush" => g.lvs_flush = p.flag(t),
                "lvs_flush_on_stop" | "lvs_flush_onstop" => match t.get(1) {
                    None => g.lvs_flush_on_stop = FlushOnStop::Full,
                    Some(w) if p.txt(*w) == "VS" => {
                        p.no_more(t, 2);
                        g.lvs_flush_on_stop = FlushOnStop::Vs;
                    }
                    Some(w) => {
                        let s = p.txt(*w);
                        p.problem(
                            *w,
                            format!("lvs_flush_on_stop: unknown type `{s}` (only VS; ignored)"),
                        );
                    }
                },
                "default_interface" => g.default_interface = p.string(t),
                "vrrp_rx_bufs_policy" => p.rx_bufs_policy(t, &mut g.vrrp_rx_bufs),
                "vrrp_rx_bufs_multiplier" => set(
                    &mut g.vrrp_rx_bufs_multiplier,
                    p.int(t, 1, i64::from(u32::MAX)).map(|v| v as u32),
                ),
                _ => p.unknown(t, opens, &keywords::GLOBAL),
            }
        });
        self.config.global = g;
    }

    fn ip_family(&mut self, t: &[Tok], v6: bool) -> Option<std::net::IpAddr> {
        let a = self.ip(t)?;
        if a.is_ipv6() != v6 {
            let fam = if v6 { "IPv6" } else { "IPv4" };
            self.problem(
                t[1],
                format!("{}: needs an {fam} address (ignored)", self.txt(t[0])),
            );
            return None;
        }
        Some(a)
    }

    fn lvs_sync_daemon(&mut self, t: &[Tok]) -> Option<LvsSyncDaemon> {
        let ifc = self.arg(t, 1)?;
        let inst = self.arg(t, 2)?;
        let mut d = LvsSyncDaemon {
            interface: self.txt(ifc).to_string(),
            instance: self.txt(inst).to_string(),
            sync_id: None,
            maxlen: None,
            port: None,
            ttl: None,
            group: None,
        };
        let mut i = 3;
        while i < t.len() {
            let opt = self.txt(t[i]);
            let v = self.arg(t, i + 1)?;
            match opt {
                "id" => d.sync_id = self.int_tok(t[i], v, 0, 255).map(|x| x as u32),
                "maxlen" => d.maxlen = self.int_tok(t[i], v, 1, 65535 - 20).map(|x| x as u16),
                "port" => d.port = self.port_tok(t[i], v),
                "ttl" => d.ttl = self.int_tok(t[i], v, 1, 255).map(|x| x as u8),
                "group" => d.group = self.ip_tok(v),
                _ => {
                    self.problem(t[i], format!("lvs_sync_daemon: unknown option `{opt}`"));
                    return None;
                }
            }
            i += 2;
        }
        Some(d)
    }

    fn lvs_timeouts(&mut self, t: &[Tok]) -> Option<LvsTimeouts> {
        let mut lt = LvsTimeouts::default();
        let mut i = 1;
        while i < t.len() {
            let opt = self.txt(t[i]);
            let v = self.arg(t, i + 1)?;
            let n = self.int_tok(t[i], v, 0, 86400 * 365).map(|x| x as u32);
            match opt {
                "tcp" => lt.tcp = n,
                "tcpfin" => lt.tcpfin = n,
                "udp" => lt.udp = n,
                _ => {
                    self.problem(t[i], format!("lvs_timeouts: unknown option `{opt}`"));
                    return None;
                }
            }
            i += 2;
        }
        Some(lt)
    }

    /// A second block of a name already defined (`first` finds the first's place):
    /// keepalived uses the first and skips this one ("already defined"), and so does
    /// lvsd, with a warning.
    fn skip_second_definition(
        &mut self,
        toks: &[Tok],
        what: &str,
        name: Option<&str>,
        first: impl Fn(&Config, &str) -> Option<Span>,
    ) -> bool {
        let Some((name, first)) = name.and_then(|n| Some((n, first(&self.config, n)?))) else {
            return false;
        };
        self.problem(
            toks[0],
            format!("{what} {name} is already defined at {first}: this one is ignored, as keepalived does"),
        );
        self.skip_block(toks[0]);
        true
    }

    pub(crate) fn vrrp_script(&mut self, toks: &[Tok], opens: bool) {
        let name = self.block_name(toks);
        if !self.need_block(toks, opens) {
            return;
        }
        let first = |c: &Config, n: &str| {
            c.vrrp_scripts
                .iter()
                .find(|x| x.name == n)
                .map(|x| x.span.clone())
        };
        if self.skip_second_definition(toks, "vrrp_script", name.as_deref(), first) {
            return;
        }
        let mut s = VrrpScript {
            span: self.sp(toks[0]),
            name: name.unwrap_or_default(),
            script: String::new(),
            interval: Duration::from_secs(1),
            timeout: None,
            weight: 0,
            weight_reverse: false,
            rise: 1,
            fall: 1,
            user: None,
            init_fail: false,
        };
        let mut script_at: Option<usize> = None;
        self.block(toks[0], |p, t, opens| match p.txt(t[0]) {
            "script" => {
                script_at = Some(p.scripts.len());
                if let Some(c) = p.script(t, AfterCommand::Nothing) {
                    s.script = c;
                }
            }
            // Whole seconds, read as keepalived's daemon reads them (`.2` is 0, `2.5` is
            // 2); keepalived takes 0 as 1 second (backward compatibility).
            "interval" | "timeout" => match p.uint_prefix(t, 0, i64::from(u32::MAX / 1_000_000)) {
                Some(0) => {
                    let k = p.txt(t[0]);
                    let msg = format!("vrrp_script {}: {k} must be greater than 0: 1 second used, as keepalived does", s.name);
                    p.problem(t[1], msg);
                    script_secs(&mut s, k, Duration::from_secs(1));
                }
                Some(secs) => script_secs(&mut s, p.txt(t[0]), Duration::from_secs(secs as u64)),
                None => {}
            },
            "weight" => {
                if let Some((w, r)) = p.weight(t, 1, -253, 253) {
                    s.weight = w;
                    s.weight_reverse = r;
                }
            }
            "rise" => set(&mut s.rise, p.int(t, 1, u32::MAX as i64).map(|v| v as u32)),
            "fall" => set(&mut s.fall, p.int(t, 1, u32::MAX as i64).map(|v| v as u32)),
            "user" => s.user = p.user(t),
            "init_fail" => s.init_fail = p.flag(t),
            _ => p.unknown(t, opens, &keywords::VRRP_SCRIPT),
        });
        if s.script.is_empty() {
            self.problem(toks[0], format!("vrrp_script {} has no `script`", s.name));
        }
        if let Some(i) = script_at {
            if let Some(r) = self.scripts.get_mut(i) {
                r.user = s.user.clone();
            }
        }
        self.config.vrrp_scripts.push(s);
    }

    /// `weight N [reverse]` starting at token `i`.
    fn weight(&mut self, t: &[Tok], i: usize, lo: i64, hi: i64) -> Option<(i32, bool)> {
        let v = self.arg(t, i)?;
        let w = self.int_tok(t[0], v, lo, hi)? as i32;
        let reverse = match t.get(i + 1) {
            Some(r) if self.txt(*r) == "reverse" => {
                self.no_more(t, i + 2);
                true
            }
            Some(_) => {
                self.no_more(t, i + 1);
                false
            }
            None => false,
        };
        Some((w, reverse))
    }

    fn notify(&mut self, t: &[Tok], n: &mut Notify) -> bool {
        let slot = match self.txt(t[0]) {
            "notify_master" => &mut n.master,
            "notify_backup" => &mut n.backup,
            "notify_fault" => &mut n.fault,
            "notify_stop" => &mut n.stop,
            "notify_deleted" => &mut n.deleted,
            "notify" => &mut n.generic,
            "notify_master_rx_lower_pri" => &mut n.master_rx_lower_pri,
            _ => return false,
        };
        if slot.is_some() {
            let kw = self.txt(t[0]);
            self.problem(
                t[0],
                format!("{kw} is given twice: the first is kept, as keepalived does"),
            );
        } else {
            *slot = self.script(t, AfterCommand::UserGroup);
        }
        true
    }

    pub(crate) fn sync_group(&mut self, toks: &[Tok], opens: bool) {
        let name = self.block_name(toks);
        if !self.need_block(toks, opens) {
            return;
        }
        let first = |c: &Config, n: &str| {
            c.sync_groups
                .iter()
                .find(|x| x.name == n)
                .map(|x| x.span.clone())
        };
        if self.skip_second_definition(toks, "vrrp_sync_group", name.as_deref(), first) {
            return;
        }
        let mut g = SyncGroup {
            span: self.sp(toks[0]),
            name: name.unwrap_or_default(),
            members: Vec::new(),
            member_spans: Vec::new(),
            notify: Notify::default(),
            smtp_alert: None,
            tracking_weight: false,
            notify_priority_changes: None,
            track_script: Vec::new(),
            track_interface: Vec::new(),
            track_file: Vec::new(),
            track_process: Vec::new(),
        };
        self.block(toks[0], |p, t, opens| {
            if p.notify(t, &mut g.notify) {
                return;
            }
            match p.txt(t[0]) {
                "group" => {
                    if p.need_block(t, opens) {
                        p.block(t[0], |p, l, _| {
                            for m in l {
                                g.members.push(p.txt(*m).to_string());
                                g.member_spans.push(p.sp(*m));
                            }
                        });
                    }
                }
                "smtp_alert" => g.smtp_alert = Some(p.flag(t)),
                "sync_group_tracking_weight" => {
                    p.no_more(t, 1);
                    g.tracking_weight = true;
                }
                "global_tracking" => {
                    p.no_more(t, 1);
                    p.problem(
                        t[0],
                        format!(
                            "vrrp_sync_group {}: global_tracking is deprecated: read as \
                             sync_group_tracking_weight (use track_interface/script/file on \
                             the sync group)",
                            g.name
                        ),
                    );
                    g.tracking_weight = true;
                }
                "notify_priority_changes" => {
                    if let Some(b) = p.opt_bool(t) {
                        g.notify_priority_changes = Some(b);
                    }
                }
                "track_script" => p.track_refs(t, opens, RefKind::Script, &mut g.track_script),
                "track_interface" => {
                    p.track_refs(t, opens, RefKind::Interface, &mut g.track_interface)
                }
                "track_file" => p.track_refs(t, opens, RefKind::File, &mut g.track_file),
                "track_process" => p.track_refs(t, opens, RefKind::Process, &mut g.track_process),
                _ => p.unknown(t, opens, &keywords::SYNC_GROUP),
            }
        });
        self.config.sync_groups.push(g);
    }

    fn vips(&mut self, t: &[Tok], opens: bool, out: &mut Vec<VirtualIp>) {
        if !self.need_block(t, opens) {
            return;
        }
        self.block(t[0], |p, l, _| {
            if let Some(v) = p.vip(l) {
                out.push(v);
            }
        });
    }

    /// The VIPs from `vips[from..]` that are not of the instance's address family are
    /// dropped with a warning, as keepalived does ("address family must match VRRP
    /// instance - ignoring"): the family is IPv6 with `native_ipv6` given before, else
    /// the first VIP's. (`virtual_ipaddress_excluded` may mix families.)
    fn vips_of_one_family(
        &mut self,
        instance: &str,
        native_ipv6: bool,
        vips: &mut Vec<VirtualIp>,
        from: usize,
    ) {
        let Some(v6) = (if native_ipv6 {
            Some(true)
        } else {
            vips.first().map(|v| v.addr.is_ipv6())
        }) else {
            return;
        };
        let fam = if v6 { "IPv6" } else { "IPv4" };
        for v in vips.split_off(from) {
            if v.addr.is_ipv6() == v6 {
                vips.push(v);
            } else {
                self.diags.push(Diagnostic::warning(
                    v.span,
                    format!(
                        "vrrp_instance {instance}: VIP {} is not of the instance's address family \
                         ({fam}): ignored, as keepalived does",
                        v.addr
                    ),
                ));
            }
        }
    }

    /// `ADDR[/LEN] [brd X] [dev IF] [scope S] [label L] [no_track]`.
    pub(crate) fn vip(&mut self, l: &[Tok]) -> Option<VirtualIp> {
        let text = self.txt(l[0]);
        let (a, len) = match text.split_once('/') {
            Some((a, n)) => (a, Some(n)),
            None => (text, None),
        };
        let Ok(addr) = a.parse::<std::net::IpAddr>() else {
            // keepalived skips it and runs without the address: a director that silently
            // lacks a VIP its operator listed.
            self.refuse(l[0], format!("bad IP address `{a}`"));
            return None;
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix_len = match len {
            None => max,
            Some(n) => match n.parse::<u8>() {
                Ok(v) if v <= max => v,
                _ => {
                    self.refuse(l[0], format!("bad prefix length `/{n}` (0-{max})"));
                    return None;
                }
            },
        };
        let mut v = VirtualIp {
            span: self.sp(l[0]),
            addr,
            prefix_len,
            brd: None,
            dev: None,
            scope: None,
            label: None,
            no_track: false,
            opts: VipOptions::default(),
        };
        // `brd +` / `brd -` (true: +), computed at the end from the address or the peer.
        let mut brd_edge: Option<bool> = None;
        let mut prefix_written = len.is_some();
        let mut i = 1;
        while i < l.len() {
            let opt = self.txt(l[i]);
            let flag = match opt {
                "no_track" => Some(&mut v.no_track),
                "home" => Some(&mut v.opts.home),
                "-nodad" => Some(&mut v.opts.dad),
                "mngtmpaddr" => Some(&mut v.opts.mngtmpaddr),
                "noprefixroute" => Some(&mut v.opts.noprefixroute),
                "autojoin" => Some(&mut v.opts.autojoin),
                _ => None,
            };
            if let Some(f) = flag {
                *f = true;
                i += 1;
                continue;
            }
            if opt == "nodad" {
                // keepalived: "Unknown configuration entry", the word skipped.
                self.problem(
                    l[i],
                    "virtual_ipaddress: `nodad` is not a keepalived option (ignored; IPv6 \
                     addresses get nodad unless `-nodad`)",
                );
                i += 1;
                continue;
            }
            let known = ["brd", "dev", "scope", "label", "peer", "preferred_lft"];
            if !known.contains(&opt) {
                if ["track_group", "use_vmac"].contains(&opt) {
                    self.problem(l[i], format!("virtual_ipaddress option `{opt}` is not supported yet by lvsd (ignored)"));
                    i += if opt == "track_group" { 2 } else { 1 };
                    continue;
                }
                self.problem(l[i], format!("virtual_ipaddress: unknown option `{opt}`"));
                return None;
            }
            let val = self.arg(l, i + 1)?;
            let s = self.txt(val).to_string();
            match opt {
                "brd" if s == "+" || s == "-" => {
                    // As ip(8): the prefix's broadcast address (`+`: host bits set) or
                    // its network address (`-`).
                    brd_edge = Some(s == "+");
                }
                "peer" => {
                    if v.opts.peer.is_some() {
                        self.problem(
                            val,
                            format!("peer {s}: another peer is already given (ignored)"),
                        );
                    } else if let Some((peer, plen)) = self.vip_peer(val, addr) {
                        if prefix_written && prefix_len != max {
                            self.problem(
                                l[0],
                                "a prefix means nothing with `peer`: the peer's is used (as keepalived)",
                            );
                        }
                        prefix_written = false;
                        v.opts.peer = Some(peer);
                        v.prefix_len = plen;
                    }
                }
                "preferred_lft" => {
                    if s == "forever" {
                        v.opts.preferred_lft = Some(u32::MAX);
                    } else if let Some(n) = self.int_tok(l[i], val, 0, i64::from(u32::MAX)) {
                        v.opts.preferred_lft = Some(n as u32);
                    }
                }
                "brd" => {
                    let b = self.ip_tok(val)?;
                    if b.is_ipv4() != addr.is_ipv4() {
                        self.problem(val, "brd: address family differs from the VIP's");
                        return None;
                    }
                    v.brd = Some(b);
                }
                "dev" => v.dev = Some(s),
                "scope" => v.scope = Some(s),
                _ => v.label = Some(s),
            }
            i += 2;
        }
        if let Some(high) = brd_edge {
            v.brd = Some(prefix_edge(v.opts.peer.unwrap_or(addr), v.prefix_len, high));
        }
        if v.opts.peer.is_some() && v.brd.is_some() && brd_edge.is_none() {
            self.problem(
                l[0],
                "a broadcast address cannot go with `peer` (brd ignored, as keepalived)",
            );
            v.brd = None;
        }
        Some(v)
    }

    /// `peer ADDR` of a virtual address `addr`: the peer and the prefix length the
    /// address then has (32 / 128). As keepalived 2.2.7, a peer written with a prefix
    /// or of the other family is ignored with a warning (the address is still set).
    fn vip_peer(&mut self, t: Tok, addr: std::net::IpAddr) -> Option<(std::net::IpAddr, u8)> {
        let text = self.txt(t).to_string();
        let Ok(peer) = text.parse::<std::net::IpAddr>() else {
            self.problem(t, format!("invalid peer address `{text}` (ignored)"));
            return None;
        };
        if peer.is_ipv4() != addr.is_ipv4() {
            self.problem(
                t,
                format!("peer {text}: not the address's family (ignored)"),
            );
            return None;
        }
        Some((peer, if peer.is_ipv4() { 32 } else { 128 }))
    }

    pub(crate) fn instance(&mut self, toks: &[Tok], opens: bool) {
        let name = self.block_name(toks);
        if !self.need_block(toks, opens) {
            return;
        }
        let first = |c: &Config, n: &str| {
            c.instances
                .iter()
                .find(|x| x.name == n)
                .map(|x| x.span.clone())
        };
        if self.skip_second_definition(toks, "vrrp_instance", name.as_deref(), first) {
            return;
        }
        let mut sp = InstanceSpans::default();
        let mut vi = VrrpInstance::new(name.unwrap_or_default(), self.sp(toks[0]));
        let mut have_vrid = false;
        self.block(toks[0], |p, t, opens| {
            if p.notify(t, &mut vi.notify) {
                return;
            }
            match p.txt(t[0]) {
                "state" => {
                    if let Some(s) = p.arg(t, 1) {
                        p.no_more(t, 2);
                        match p.txt(s) {
                            "MASTER" => vi.state = InitialState::Master,
                            "BACKUP" => vi.state = InitialState::Backup,
                            other => {
                                p.problem(s, format!("state must be MASTER or BACKUP, not `{other}`: BACKUP used, as keepalived does"));
                                return;
                            }
                        }
                        vi.state_explicit = true;
                        sp.state = Some(p.sp(t[0]));
                    }
                }
                "interface" => set(&mut vi.interface, p.string(t)),
                "virtual_router_id" => {
                    have_vrid = true;
                    if let Some(v) = p.int(t, 1, 255) {
                        vi.virtual_router_id = v as u8;
                        vi.vrid_span = p.sp(t[1]);
                    }
                }
                "priority" => {
                    if let Some(v) = p.int(t, 1, 255) {
                        vi.priority = v as u8;
                        sp.priority = Some(p.sp(t[0]));
                    }
                }
                "advert_int" => {
                    if let Some(d) = p.dur(t) {
                        vi.advert_int = d;
                        sp.advert_int = Some(p.sp(t[1]));
                    }
                }
                "version" => {
                    vi.version = p.int(t, 2, 3).map(|v| v as u8);
                    sp.version = Some(p.sp(t[0]));
                }
                "authentication" => {
                    if p.need_block(t, opens) {
                        vi.authentication = p.authentication(t[0]);
                        sp.authentication = Some(p.sp(t[0]));
                    }
                }
                "virtual_ipaddress" => {
                    let before = vi.virtual_ipaddress.len();
                    p.vips(t, opens, &mut vi.virtual_ipaddress);
                    p.vips_of_one_family(&vi.name, vi.native_ipv6, &mut vi.virtual_ipaddress, before);
                }
                "virtual_ipaddress_excluded" => {
                    p.vips(t, opens, &mut vi.virtual_ipaddress_excluded)
                }
                "track_script" => p.track_refs(t, opens, RefKind::Script, &mut vi.track_script),
                "track_interface" => p.track_refs(t, opens, RefKind::Interface, &mut vi.track_interface),
                "track_file" => p.track_refs(t, opens, RefKind::File, &mut vi.track_file),
                "track_process" => p.track_refs(t, opens, RefKind::Process, &mut vi.track_process),
                "virtual_routes" => p.virtual_routes(t, opens, &mut vi.virtual_routes),
                "virtual_rules" => p.virtual_rules(t, opens, &mut vi.virtual_rules),
                "nopreempt" => {
                    p.no_more(t, 1);
                    vi.nopreempt = true;
                    sp.nopreempt = Some(p.sp(t[0]));
                }
                "preempt" => {
                    p.no_more(t, 1);
                    vi.nopreempt = false;
                    sp.nopreempt = None;
                }
                "preempt_delay" => {
                    if let Some(t1) = p.arg(t, 1) {
                        p.no_more(t, 2);
                        match p.dur_tok(t[0], t1) {
                            Some(d) if d <= Duration::from_secs(1000) => {
                                vi.preempt_delay = Some(d);
                                sp.preempt_delay = Some(p.sp(t[0]));
                            }
                            Some(_) => {
                                let s = p.txt(t1);
                                p.problem(t1, format!("preempt_delay {s} out of range 0-1000"));
                            }
                            None => {}
                        }
                    }
                }
                "unicast_src_ip" => {
                    vi.unicast_configured = true;
                    if let Some(a) = p.arg(t, 1) {
                        p.no_more(t, 2);
                        vi.unicast_src_ip = p.ip_drop_prefix(a);
                        sp.unicast_src_ip = Some(p.sp(t[0]));
                    }
                }
                "mcast_src_ip" => vi.mcast_src_ip = p.ip(t),
                "unicast_peer" => {
                    vi.unicast_configured = true;
                    if p.need_block(t, opens) {
                        p.block(t[0], |p, l, _| {
                            if let Some(u) = p.unicast_peer(l) {
                                vi.unicast_peers.push(u);
                            }
                        });
                    }
                }
                "garp_master_delay" => vi.garp_master_delay = p.dur(t),
                "garp_master_repeat" => vi.garp_master_repeat = p.u32v(t),
                "garp_master_refresh" => vi.garp_master_refresh = p.dur(t),
                "garp_master_refresh_repeat" => vi.garp_master_refresh_repeat = p.u32v(t),
                "garp_lower_prio_delay" => set(&mut vi.garp_lower_prio_delay, p.whole_secs(t).map(Some)),
                "garp_lower_prio_repeat" => set(&mut vi.garp_lower_prio_repeat, p.u32v(t).map(Some)),
                "garp_extra_if" | "vmac_garp_intvl" => {
                    if let Some(x) = p.extra_if_garp(t, 0) {
                        vi.garp_extra_if = Some(x);
                    }
                }
                "lower_prio_no_advert" => set(&mut vi.lower_prio_no_advert, p.opt_bool(t).map(Some)),
                "higher_prio_send_advert" => {
                    set(&mut vi.higher_prio_send_advert, p.opt_bool(t).map(Some))
                }
                "use_vmac" => {
                    p.no_more(t, 2);
                    vi.use_vmac = Some(t.get(1).map(|n| p.txt(*n).to_string()).unwrap_or_default());
                }
                "vmac_xmit_base" => {
                    vi.vmac_xmit_base = p.flag(t);
                    sp.vmac_xmit_base = Some(p.sp(t[0]));
                }
                "accept" => {
                    p.no_more(t, 1);
                    vi.accept = Some(true)
                }
                "no_accept" => {
                    p.no_more(t, 1);
                    vi.accept = Some(false)
                }
                "smtp_alert" => vi.smtp_alert = Some(p.flag(t)),
                "lvs_sync_daemon_interface" => vi.lvs_sync_daemon_interface = p.string(t),
                "dont_track_primary" => vi.dont_track_primary = p.flag(t),
                "linkbeat_use_polling" => {
                    p.no_more(t, 1);
                    let name = vi.name.clone();
                    p.problem(
                        t[0],
                        format!("({name}) 'linkbeat_use_polling' in vrrp instance deprecated - use linkbeat_interfaces block"),
                    );
                    vi.linkbeat_use_polling = true;
                }
                "skip_check_adv_addr" => vi.skip_check_adv_addr = Some(p.flag(t)),
                "check_unicast_src" => {
                    vi.unicast_configured = true;
                    vi.check_unicast_src = p.flag(t)
                }
                "promote_secondaries" => vi.promote_secondaries = p.flag(t),
                "down_timer_adverts" => {
                    set(&mut vi.down_timer_adverts, p.int(t, 1, 100).map(|v| Some(v as u32)))
                }
                "notify_priority_changes" => {
                    if let Some(b) = p.opt_bool(t) {
                        vi.notify_priority_changes = Some(b);
                    }
                }
                "unicast_ttl" => set(&mut vi.unicast_ttl, p.int(t, 0, 255).map(|v| Some(v as u8))),
                "mcast_dst_ip" => {
                    vi.mcast_dst_ip = p.mcast_dst_ip(t).or(vi.mcast_dst_ip);
                    sp.mcast_dst_ip = Some(p.sp(t[0]));
                }
                "unicast_fault_no_peer" => {
                    vi.unicast_configured = true;
                    p.no_more(t, 1);
                    vi.unicast_fault_no_peer = true;
                }
                "track_src_ip" => {
                    p.no_more(t, 1);
                    vi.track_src_ip = true;
                }
                "old_unicast_checksum" => {
                    vi.unicast_configured = true;
                    p.no_more(t, 2);
                    match t.get(1).map(|w| p.txt(*w)) {
                        None => vi.old_unicast_checksum = Some(OldUnicastChecksum::Always),
                        Some("never") => vi.old_unicast_checksum = Some(OldUnicastChecksum::Never),
                        Some(other) => {
                            let msg = format!("old_unicast_checksum: unknown mode `{other}` (ignored)");
                            p.problem(t[1], msg);
                        }
                    }
                }
                "kernel_rx_buf_size" => vi.kernel_rx_buf_size = p.u32v(t).filter(|b| *b > 0),
                "strict_mode" => vi.strict_mode = Some(p.flag(t)),
                "native_ipv6" => vi.native_ipv6 = p.flag(t),
                "debug" => {
                    vi.debug = match t.get(1) {
                        None => Some(1),
                        Some(_) => p.int(t, 0, 4).map(|v| v as u8),
                    }
                }
                _ => p.unknown(t, opens, &keywords::INSTANCE),
            }
        });
        if vi.interface.is_empty() {
            self.refuse(
                toks[0],
                format!("vrrp_instance {} has no `interface`", vi.name),
            );
        } else if vi.interface == "lo" {
            // keepalived drops such an instance ("cannot use a loopback interface").
            self.refuse(
                toks[0],
                format!(
                    "vrrp_instance {}: VRRP cannot run on the loopback interface `lo`",
                    vi.name
                ),
            );
        }
        if !have_vrid {
            self.refuse(
                toks[0],
                format!("vrrp_instance {} has no `virtual_router_id`", vi.name),
            );
        } else if vi.virtual_router_id == 0 {
            // (the value itself was named as a problem) keepalived would drop the
            // instance: its addresses would have no VRRP at all.
            self.refuse(
                toks[0],
                format!("vrrp_instance {} has no valid `virtual_router_id`", vi.name),
            );
        }
        self.config.instances.push(vi);
        self.inst_spans.push(sp);
    }

    fn authentication(&mut self, open: Tok) -> Option<Authentication> {
        let mut ty = None;
        let mut pass = String::new();
        self.block(open, |p, t, opens| match p.txt(t[0]) {
            "auth_type" => {
                if let Some(v) = p.arg(t, 1) {
                    p.no_more(t, 2);
                    ty = match p.txt(v) {
                        "PASS" => Some(AuthType::Pass),
                        "AH" => Some(AuthType::Ah),
                        other => {
                            p.problem(v, format!("auth_type must be PASS or AH, not `{other}`"));
                            None
                        }
                    }
                }
            }
            "auth_pass" => {
                if let Some(s) = p.string(t) {
                    // keepalived sends the first 8 bytes (see packet::pass_auth_data).
                    if s.len() > 8 {
                        let at = t.get(1).copied().unwrap_or(t[0]);
                        p.problem(at, "auth_pass is longer than 8 characters: only the first 8 are used, as keepalived does");
                    }
                    pass = s;
                }
            }
            _ => p.unknown(t, opens, &keywords::AUTH),
        });
        match ty {
            Some(auth_type) => Some(Authentication {
                auth_type,
                auth_pass: pass,
            }),
            None => {
                self.problem(
                    open,
                    "authentication needs `auth_type PASS` or `auth_type AH`",
                );
                None
            }
        }
    }

    /// An address that may be written with a prefix (`10.0.0.1/24`), which keepalived
    /// drops (unicast_src_ip, unicast_peer).
    fn ip_drop_prefix(&mut self, t: Tok) -> Option<std::net::IpAddr> {
        let text = self.txt(t);
        if let Some((a, n)) = text.split_once('/') {
            if let (Ok(addr), Ok(_)) = (a.parse::<std::net::IpAddr>(), n.parse::<u8>()) {
                let kw = text.to_string();
                self.problem(
                    t,
                    format!("`{kw}`: a prefix means nothing here; {addr} used, as keepalived does"),
                );
                return Some(addr);
            }
        }
        self.ip_tok(t)
    }

    /// `mcast_dst_ip ADDR`: an IPv4 multicast or IPv6 link-local multicast address
    /// (keepalived skips another one with an error).
    fn mcast_dst_ip(&mut self, t: &[Tok]) -> Option<std::net::IpAddr> {
        let a = self.ip(t)?;
        let ok = match a {
            std::net::IpAddr::V4(v4) => v4.is_multicast(),
            // ff02::/16 (IN6_IS_ADDR_MC_LINKLOCAL)
            std::net::IpAddr::V6(v6) => v6.segments()[0] & 0xff0f == 0xff02,
        };
        if !ok {
            let what = if a.is_ipv6() {
                "link-local multicast"
            } else {
                "multicast"
            };
            self.problem(t[1], format!("mcast_dst_ip {a} is not {what} (ignored)"));
            return None;
        }
        Some(a)
    }

    /// `ADDR [min_ttl N] [max_ttl N]`.
    fn unicast_peer(&mut self, l: &[Tok]) -> Option<UnicastPeer> {
        let addr = self.ip_drop_prefix(l[0])?;
        let mut u = UnicastPeer {
            addr,
            min_ttl: None,
            max_ttl: None,
        };
        let mut i = 1;
        while i < l.len() {
            let v = self.arg(l, i + 1)?;
            let n = self.int_tok(l[i], v, 0, 255).map(|x| x as u8);
            match self.txt(l[i]) {
                "min_ttl" => u.min_ttl = n,
                "max_ttl" => u.max_ttl = n,
                other => {
                    self.problem(l[i], format!("unicast_peer: unknown option `{other}`"));
                    return None;
                }
            }
            i += 2;
        }
        Some(u)
    }
}

/// Stores a parsed value; a value that failed to parse keeps the default (the error is
/// already recorded).
pub(crate) fn set<T>(slot: &mut T, v: Option<T>) {
    if let Some(v) = v {
        *slot = v;
    }
}

fn fifo_path(p: &mut P<'_>, t: &[Tok], slot: &mut Option<NotifyFifo>) {
    if let Some(path) = p.arg(t, 1) {
        p.no_more(t, 4);
        let path = std::path::PathBuf::from(p.txt(path));
        match slot {
            Some(f) => f.path = path,
            None => {
                *slot = Some(NotifyFifo {
                    path,
                    script: None,
                    script_user: None,
                })
            }
        }
    }
}

fn fifo_script(p: &mut P<'_>, t: &[Tok], slot: &mut Option<NotifyFifo>) {
    let Some(cmd) = p.script(t, AfterCommand::UserGroup) else {
        return;
    };
    let user = p.config.script_users.get(&cmd).cloned();
    match slot {
        Some(f) => {
            f.script = Some(cmd);
            f.script_user = user;
        }
        None => {
            let kw = p.txt(t[0]);
            p.problem(t[0], format!("`{kw}` given before its fifo"));
        }
    }
}

/// The first (`high` false: network) or last (`high` true: broadcast) address of the
/// prefix `addr/len`.
fn prefix_edge(addr: std::net::IpAddr, len: u8, high: bool) -> std::net::IpAddr {
    match addr {
        std::net::IpAddr::V4(a) => {
            let host = u32::MAX.checked_shr(u32::from(len)).unwrap_or(0);
            let n = u32::from(a);
            let v = if high { n | host } else { n & !host };
            std::net::IpAddr::V4(v.into())
        }
        std::net::IpAddr::V6(a) => {
            let host = u128::MAX.checked_shr(u32::from(len)).unwrap_or(0);
            let n = u128::from(a);
            let v = if high { n | host } else { n & !host };
            std::net::IpAddr::V6(v.into())
        }
    }
}

/// A vrrp_script's `interval` or `timeout` (named by `k`).
fn script_secs(s: &mut VrrpScript, k: &str, d: Duration) {
    if k == "interval" {
        s.interval = d;
    } else {
        s.timeout = Some(d);
    }
}
