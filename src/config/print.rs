//! The printer: a model back to keepalived.conf text that parses to the same model.

use super::build_routes::{route_line, rule_line};
use super::model::*;
use crate::script::ScriptUser;
use std::fmt::Write;
use std::time::Duration;

/// Seconds as keepalived.conf writes them: `1`, `0.5`, `2.000001`.
pub fn seconds(d: Duration) -> String {
    let micros = d.subsec_micros();
    if micros == 0 {
        return d.as_secs().to_string();
    }
    let frac = format!("{micros:06}");
    format!("{}.{}", d.as_secs(), frac.trim_end_matches('0'))
}

/// A value as one token: bare when it can be, else in double quotes.
fn q(s: &str) -> String {
    let plain = !s.is_empty()
        && !s
            .chars()
            .any(|c| c.is_whitespace() || matches!(c, '#' | '!' | '{' | '}' | '"' | '$'));
    if plain || s.contains('"') {
        s.to_string()
    } else {
        format!("\"{s}\"")
    }
}

fn yn(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn kind(k: LbKind) -> &'static str {
    match k {
        LbKind::Nat => "NAT",
        LbKind::Dr => "DR",
        LbKind::Tun => "TUN",
    }
}

/// A script's command line as one word keepalived's splitting gives back whole: bare
/// when it can be, else in double quotes with `"` and `\` escaped.
fn qs(s: &str) -> String {
    let plain = !s.is_empty()
        && !s.chars().any(|c| {
            c.is_ascii_whitespace() || matches!(c, '#' | '!' | '{' | '}' | '"' | '\'' | '\\' | '$')
        });
    if plain {
        s.to_string()
    } else {
        format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

struct W<'c> {
    out: String,
    indent: usize,
    /// Users given on scripts' own lines (`Config::script_users`).
    script_users: &'c std::collections::BTreeMap<String, ScriptUser>,
}

impl W<'_> {
    fn line(&mut self, s: impl AsRef<str>) {
        for _ in 0..self.indent {
            self.out.push_str("    ");
        }
        self.out.push_str(s.as_ref());
        self.out.push('\n');
    }
    fn open(&mut self, s: impl AsRef<str>) {
        self.line(format!("{} {{", s.as_ref()));
        self.indent += 1;
    }
    fn close(&mut self) {
        self.indent = self.indent.saturating_sub(1);
        self.line("}");
    }
    fn opt<T>(&mut self, kw: &str, v: &Option<T>, f: impl Fn(&T) -> String) {
        if let Some(v) = v {
            self.line(format!("{kw} {}", f(v)));
        }
    }
    /// `KW COMMAND [USER [GROUP]]`.
    fn script(&mut self, kw: &str, v: &Option<String>) {
        if let Some(cmd) = v {
            let user = self.script_users.get(cmd).map(|u| format!(" {}", user(u)));
            self.line(format!("{kw} {}{}", qs(cmd), user.unwrap_or_default()));
        }
    }
    fn flag(&mut self, kw: &str, v: bool) {
        if v {
            self.line(kw);
        }
    }
    fn dur(&mut self, kw: &str, v: &Option<Duration>) {
        self.opt(kw, v, |d| seconds(*d));
    }
}

/// Prints `c` as keepalived.conf.
pub fn print(c: &Config) -> String {
    let mut w = W {
        out: String::new(),
        indent: 0,
        script_users: &c.script_users,
    };
    global(&mut w, &c.global);
    vips(&mut w, "static_ipaddress", &c.static_ipaddress);
    lines(
        &mut w,
        "static_routes",
        c.static_routes.iter().map(route_line),
    );
    lines(&mut w, "static_rules", c.static_rules.iter().map(rule_line));
    if let Some(ssl) = &c.ssl {
        w.open("SSL");
        w.opt("password", &ssl.password, |p| q(p));
        for (kw, path) in [
            ("ca", &ssl.ca),
            ("certificate", &ssl.certificate),
            ("key", &ssl.key),
        ] {
            w.opt(kw, path, |p| q(&p.display().to_string()));
        }
        w.close();
    }
    for s in &c.vrrp_scripts {
        vrrp_script(&mut w, s);
    }
    for f in &c.track_files {
        track_file_def(&mut w, f);
    }
    for p in &c.track_processes {
        track_process_def(&mut w, p);
    }
    for i in &c.instances {
        instance(&mut w, i);
    }
    for g in &c.sync_groups {
        sync_group(&mut w, g);
    }
    for g in &c.virtual_server_groups {
        w.open(format!("virtual_server_group {}", q(&g.name)));
        for e in &g.entries {
            match e {
                VsgEntry::Fwmark(m, v6) => w.line(match v6 {
                    None => format!("fwmark {m}"),
                    Some(false) => format!("fwmark {m} inet"),
                    Some(true) => format!("fwmark {m} inet6"),
                }),
                VsgEntry::Range {
                    addr,
                    range_end,
                    port,
                } => {
                    let mut s = addr.to_string();
                    if let Some(e) = range_end {
                        if addr.is_ipv4() {
                            let _ = write!(s, "-{e}");
                        } else {
                            let _ = write!(s, "-{e:x}");
                        }
                    }
                    if let Some(p) = port {
                        let _ = write!(s, " {p}");
                    }
                    w.line(s);
                }
            }
        }
        w.close();
    }
    for vs in &c.virtual_servers {
        virtual_server(&mut w, vs);
    }
    w.out
}

fn user(u: &ScriptUser) -> String {
    match &u.group {
        Some(g) => format!("{} {}", q(&u.user), q(g)),
        None => q(&u.user),
    }
}

fn fifo(w: &mut W<'_>, kw: &str, f: &Option<NotifyFifo>) {
    if let Some(f) = f {
        w.line(format!("{kw} {}", q(&f.path.to_string_lossy())));
        w.script(&format!("{kw}_script"), &f.script);
    }
}

fn global(w: &mut W<'_>, g: &GlobalDefs) {
    if let Some(n) = &g.net_namespace {
        w.line(format!("net_namespace {}", q(n)));
    }
    if let Some(n) = &g.instance {
        w.line(format!("instance {}", q(n)));
    }
    if g.use_pid_dir {
        w.line("use_pid_dir");
    }
    match g.net_namespace_ipvs.as_deref() {
        Some("") => w.line("net_namespace_ipvs"),
        Some(n) => w.line(format!("net_namespace_ipvs {}", q(n))),
        None => {}
    }
    if g.linkbeat_use_polling {
        w.line("linkbeat_use_polling");
    }
    if !g.linkbeat_interfaces.is_empty() {
        w.open("linkbeat_interfaces");
        for l in &g.linkbeat_interfaces {
            let kind = match l.kind {
                None => "",
                Some(crate::config::model::LinkbeatKind::Mii) => " MII",
                Some(crate::config::model::LinkbeatKind::Ethtool) => " ETHTOOL",
                Some(crate::config::model::LinkbeatKind::Ioctl) => " IOCTL",
            };
            w.line(format!("{}{kind}", q(&l.name)));
        }
        w.close();
    }
    w.open("global_defs");
    w.opt("process_name", &g.process_names.main, |s| q(s));
    w.opt("config_save_dir", &g.config_save_dir, |p| {
        q(&p.to_string_lossy())
    });
    w.opt("reload_check_config", &g.reload_check_config, |p| {
        q(&p.to_string_lossy())
    });
    w.opt("vrrp_process_name", &g.process_names.vrrp, |s| q(s));
    w.opt("checker_process_name", &g.process_names.checker, |s| q(s));
    w.opt("smtp_helo_name", &g.smtp_helo_name, |s| q(s));
    w.opt("router_id", &g.router_id, |s| q(s));
    if !g.notification_email.is_empty() {
        w.open("notification_email");
        for e in &g.notification_email {
            w.line(q(e));
        }
        w.close();
    }
    w.opt("notification_email_from", &g.notification_email_from, |s| {
        q(s)
    });
    w.opt("smtp_server", &g.smtp_server, |s| {
        format!("{} {}", q(&s.host), s.port)
    });
    w.line(format!(
        "smtp_connect_timeout {}",
        seconds(g.smtp_connect_timeout)
    ));
    w.flag("smtp_alert", g.smtp_alert);
    w.opt("smtp_alert_vrrp", &g.smtp_alert_vrrp, |b| yn(*b).into());
    w.opt("smtp_alert_checker", &g.smtp_alert_checker, |b| {
        yn(*b).into()
    });
    w.opt("script_user", &g.script_user, user);
    w.flag("enable_script_security", g.enable_script_security);
    w.flag("vrrp_strict", g.vrrp_strict);
    w.flag("vrrp_skip_check_adv_addr", g.vrrp_skip_check_adv_addr);
    w.flag("vrrp_check_unicast_src", g.vrrp_check_unicast_src);
    w.line(format!(
        "vrrp_garp_master_delay {}",
        seconds(g.vrrp_garp_master_delay)
    ));
    w.line(format!(
        "vrrp_garp_master_repeat {}",
        g.vrrp_garp_master_repeat
    ));
    w.dur("vrrp_garp_master_refresh", &g.vrrp_garp_master_refresh);
    w.line(format!(
        "vrrp_garp_master_refresh_repeat {}",
        g.vrrp_garp_master_refresh_repeat
    ));
    if !g.vrrp_garp_interval.is_zero() {
        w.line(format!(
            "vrrp_garp_interval {}",
            seconds(g.vrrp_garp_interval)
        ));
    }
    if !g.vrrp_gna_interval.is_zero() {
        w.line(format!(
            "vrrp_gna_interval {}",
            seconds(g.vrrp_gna_interval)
        ));
    }
    w.opt("vrrp_garp_extra_if", &g.vrrp_garp_extra_if, extra_if_garp);
    w.dur("vrrp_garp_lower_prio_delay", &g.vrrp_garp_lower_prio_delay);
    w.opt(
        "vrrp_garp_lower_prio_repeat",
        &g.vrrp_garp_lower_prio_repeat,
        |v| v.to_string(),
    );
    w.flag("vrrp_lower_prio_no_advert", g.vrrp_lower_prio_no_advert);
    w.flag(
        "vrrp_higher_prio_send_advert",
        g.vrrp_higher_prio_send_advert,
    );
    w.dur("vrrp_startup_delay", &g.vrrp_startup_delay);
    if g.max_auto_priority != 0 {
        w.line(format!("max_auto_priority {}", g.max_auto_priority));
    }
    w.opt("min_auto_priority_delay", &g.min_auto_priority_delay, |d| {
        d.as_micros().to_string()
    });
    w.flag("vrrp_no_swap", g.vrrp_no_swap);
    w.flag("checker_no_swap", g.checker_no_swap);
    w.opt("vrrp_rlimit_rttime", &g.vrrp_rlimit_rttime, |v| {
        v.to_string()
    });
    let b = &g.netlink_bufs;
    for (name, buf) in [
        ("vrrp_netlink_cmd", b.vrrp_cmd),
        ("vrrp_netlink_monitor", b.vrrp_monitor),
        ("lvs_netlink_cmd", b.lvs_cmd),
        ("lvs_netlink_monitor", b.lvs_monitor),
        ("process_monitor", b.process_monitor),
    ] {
        if buf.bytes != 0 {
            w.line(format!("{name}_rcv_bufs {}", buf.bytes));
        }
        w.flag(&format!("{name}_rcv_bufs_force"), buf.force);
    }
    w.opt("default_interface", &g.default_interface, |s| q(s));
    for (who, t) in [("vrrp", &g.vrrp_tuning), ("checker", &g.checker_tuning)] {
        w.opt(&format!("{who}_priority"), &t.nice, |v| v.to_string());
        w.opt(&format!("{who}_rt_priority"), &t.rt_priority, |v| {
            v.to_string()
        });
        if !t.cpus.is_empty() {
            let l: Vec<String> = t.cpus.iter().map(u32::to_string).collect();
            w.line(format!("{who}_cpu_affinity {}", l.join(" ")));
        }
    }
    w.opt("checker_rlimit_rttime", &g.checker_rlimit_rttime, |v| {
        v.to_string()
    });
    w.flag("dynamic_interfaces", g.dynamic_interfaces);
    w.flag("log_unknown_vrids", g.log_unknown_vrids);
    w.opt("vrrp_down_timer_adverts", &g.vrrp_down_timer_adverts, |v| {
        v.to_string()
    });
    w.opt("vmac_prefix", &g.vmac_prefix, |s| q(s));
    w.flag("no_email_faults", g.no_email_faults);
    w.flag("rs_init_notifies", g.rs_init_notifies);
    w.flag("checker_log_all_failures", g.checker_log_all_failures);
    w.flag("data_use_instance", g.data_use_instance);
    w.flag("no_checker_emails", g.no_checker_emails);
    w.flag(
        "vrrp_notify_priority_changes",
        g.vrrp_notify_priority_changes,
    );
    w.flag(
        "fifo_write_vrrp_states_on_reload",
        g.fifo_write_vrrp_states_on_reload,
    );
    w.opt("umask", &g.umask, |m| format!("0{m:o}"));
    for (kw, s) in [
        ("startup_script", &g.startup_script),
        ("shutdown_script", &g.shutdown_script),
    ] {
        if let Some(s) = s {
            if !s.command.is_empty() {
                let mut line = format!("{kw} {}", q(&s.command));
                if let Some(u) = &s.user {
                    line.push(' ');
                    line.push_str(&user(u));
                }
                w.line(line);
            }
            w.line(format!("{kw}_timeout {}", s.timeout.as_secs()));
        }
    }
    w.flag("lvs_flush", g.lvs_flush);
    match g.lvs_flush_on_stop {
        FlushOnStop::Disabled => {}
        FlushOnStop::Full => w.line("lvs_flush_on_stop"),
        FlushOnStop::Vs => w.line("lvs_flush_on_stop VS"),
    }
    let rx = &g.vrrp_rx_bufs;
    if rx.mtu {
        w.line("vrrp_rx_bufs_policy MTU");
    } else if rx.advert {
        w.line("vrrp_rx_bufs_policy ADVERT");
    } else if let Some(n) = rx.size {
        w.line(format!("vrrp_rx_bufs_policy {n}"));
    }
    if g.vrrp_rx_bufs_multiplier != 3 {
        w.line(format!(
            "vrrp_rx_bufs_multiplier {}",
            g.vrrp_rx_bufs_multiplier
        ));
    }
    w.line(format!("vrrp_version {}", g.vrrp_version));
    w.flag("vrrp_v3_checksum_as_v2", g.vrrp_v3_checksum_as_v2);
    // `nftables` resets the priority: it goes first.
    w.opt("nftables", &g.nftables, |n| n.clone());
    if g.nftables_priority != -1 {
        w.line(format!("nftables_priority {}", g.nftables_priority));
    }
    w.flag("nftables_counters", g.nftables_counters);
    w.flag("nftables_ifindex", g.nftables_ifindex);
    w.opt("vrrp_mcast_group4", &g.vrrp_mcast_group4, |a| a.to_string());
    w.opt("vrrp_mcast_group6", &g.vrrp_mcast_group6, |a| a.to_string());
    w.opt("lvs_sync_daemon", &g.lvs_sync_daemon, |d| {
        let mut s = format!("{} {}", q(&d.interface), q(&d.instance));
        if let Some(v) = d.sync_id {
            let _ = write!(s, " id {v}");
        }
        if let Some(v) = d.maxlen {
            let _ = write!(s, " maxlen {v}");
        }
        if let Some(v) = d.port {
            let _ = write!(s, " port {v}");
        }
        if let Some(v) = d.ttl {
            let _ = write!(s, " ttl {v}");
        }
        if let Some(v) = d.group {
            let _ = write!(s, " group {v}");
        }
        s
    });
    if let Some(t) = &g.lvs_timeouts {
        let mut s = "lvs_timeouts".to_string();
        for (k, v) in [("tcp", t.tcp), ("tcpfin", t.tcpfin), ("udp", t.udp)] {
            if let Some(v) = v {
                let _ = write!(s, " {k} {v}");
            }
        }
        w.line(s);
    }
    fifo(w, "notify_fifo", &g.notify_fifo);
    fifo(w, "vrrp_notify_fifo", &g.vrrp_notify_fifo);
    fifo(w, "lvs_notify_fifo", &g.lvs_notify_fifo);
    w.line(format!(
        "notify_script_timeout {}",
        seconds(g.notify_script_timeout)
    ));
    w.close();
}

fn vrrp_script(w: &mut W<'_>, s: &VrrpScript) {
    w.open(format!("vrrp_script {}", q(&s.name)));
    w.line(format!("script {}", qs(&s.script)));
    w.line(format!("interval {}", seconds(s.interval)));
    w.dur("timeout", &s.timeout);
    if s.weight != 0 || s.weight_reverse {
        let r = if s.weight_reverse { " reverse" } else { "" };
        w.line(format!("weight {}{r}", s.weight));
    }
    w.line(format!("rise {}", s.rise));
    w.line(format!("fall {}", s.fall));
    w.opt("user", &s.user, user);
    w.flag("init_fail", s.init_fail);
    w.close();
}

fn notify(w: &mut W<'_>, n: &Notify) {
    w.script("notify_master", &n.master);
    w.script("notify_backup", &n.backup);
    w.script("notify_fault", &n.fault);
    w.script("notify_stop", &n.stop);
    w.script("notify_deleted", &n.deleted);
    w.script("notify", &n.generic);
    w.script("notify_master_rx_lower_pri", &n.master_rx_lower_pri);
}

/// A list of tracked objects (`NAME [weight N [reverse|noreverse]]`), left out when empty.
fn track_refs(w: &mut W<'_>, kw: &str, refs: &[TrackRef]) {
    if refs.is_empty() {
        return;
    }
    w.open(kw);
    for r in refs {
        let mut s = q(&r.name);
        if let Some(wt) = r.weight {
            let _ = write!(s, " weight {wt}");
            match r.reverse {
                Some(true) => s.push_str(" reverse"),
                Some(false) => s.push_str(" noreverse"),
                None => {}
            }
        }
        w.line(s);
    }
    w.close();
}

fn track_file_def(w: &mut W<'_>, f: &TrackFileDef) {
    w.open(format!("track_file {}", q(&f.name)));
    w.line(format!("file {}", q(&f.file)));
    if f.weight_reverse {
        w.line(format!("weight {} reverse", f.weight));
    } else {
        w.line(format!("weight {}", f.weight));
    }
    if let Some(i) = &f.init_file {
        w.line(format!(
            "init_file {}{}",
            i.value,
            if i.overwrite { " overwrite" } else { "" }
        ));
    }
    w.close();
}

fn track_process_def(w: &mut W<'_>, p: &TrackProcessDef) {
    w.open(format!("vrrp_track_process {}", q(&p.name)));
    let mut s = format!("process {}", q(&p.process));
    for a in &p.params {
        s.push(' ');
        s.push_str(&q(a));
    }
    w.line(s);
    match p.param_match {
        ParamMatch::None => {}
        ParamMatch::Exact => w.line("param_match"),
        ParamMatch::Initial => w.line("param_match initial"),
        ParamMatch::Partial => w.line("param_match partial"),
    }
    if p.weight != 0 || p.weight_reverse {
        if p.weight_reverse {
            w.line(format!("weight {} reverse", p.weight));
        } else {
            w.line(format!("weight {}", p.weight));
        }
    }
    // quorum_max first: it resets quorum when 0.
    if p.quorum_max != u32::MAX {
        w.line(format!("quorum_max {}", p.quorum_max));
    }
    if p.quorum != 1 && p.quorum_max != 0 {
        w.line(format!("quorum {}", p.quorum));
    }
    w.dur("fork_delay", &p.fork_delay);
    w.dur("terminate_delay", &p.terminate_delay);
    w.flag("full_command", p.full_command);
    w.close();
}

fn lines(w: &mut W<'_>, kw: &str, l: impl Iterator<Item = String>) {
    let l: Vec<String> = l.collect();
    if l.is_empty() {
        return;
    }
    w.open(kw);
    for s in l {
        w.line(s);
    }
    w.close();
}

fn vips(w: &mut W<'_>, kw: &str, v: &[VirtualIp]) {
    if v.is_empty() {
        return;
    }
    w.open(kw);
    for a in v {
        let o = &a.opts;
        let mut s = match o.peer {
            // (the prefix is the peer's: 32 / 128)
            Some(p) => format!("{} peer {p}", a.addr),
            None => format!("{}/{}", a.addr, a.prefix_len),
        };
        // (keepalived refuses an explicit broadcast address with a peer)
        if let Some(b) = a.brd.filter(|_| o.peer.is_none()) {
            let _ = write!(s, " brd {b}");
        }
        for (k, v) in [("dev", &a.dev), ("scope", &a.scope), ("label", &a.label)] {
            if let Some(v) = v {
                let _ = write!(s, " {k} {}", q(v));
            }
        }
        for (k, on) in [
            ("no_track", a.no_track),
            ("home", o.home),
            ("-nodad", o.dad),
            ("mngtmpaddr", o.mngtmpaddr),
            ("noprefixroute", o.noprefixroute),
            ("autojoin", o.autojoin),
        ] {
            if on {
                let _ = write!(s, " {k}");
            }
        }
        match o.preferred_lft {
            Some(u32::MAX) => s.push_str(" preferred_lft forever"),
            Some(n) => {
                let _ = write!(s, " preferred_lft {n}");
            }
            None => {}
        }
        w.line(s);
    }
    w.close();
}

fn instance(w: &mut W<'_>, i: &VrrpInstance) {
    w.open(format!("vrrp_instance {}", q(&i.name)));
    if i.state_explicit {
        w.line(match i.state {
            InitialState::Master => "state MASTER",
            InitialState::Backup => "state BACKUP",
        });
    }
    w.line(format!("interface {}", q(&i.interface)));
    w.line(format!("virtual_router_id {}", i.virtual_router_id));
    w.line(format!("priority {}", i.priority));
    w.line(format!("advert_int {}", seconds(i.advert_int)));
    w.opt("version", &i.version, |v| v.to_string());
    if let Some(a) = &i.authentication {
        w.open("authentication");
        w.line(match a.auth_type {
            AuthType::Pass => "auth_type PASS",
            AuthType::Ah => "auth_type AH",
        });
        if !a.auth_pass.is_empty() {
            w.line(format!("auth_pass {}", q(&a.auth_pass)));
        }
        w.close();
    }
    vips(w, "virtual_ipaddress", &i.virtual_ipaddress);
    vips(
        w,
        "virtual_ipaddress_excluded",
        &i.virtual_ipaddress_excluded,
    );
    lines(w, "virtual_routes", i.virtual_routes.iter().map(route_line));
    lines(w, "virtual_rules", i.virtual_rules.iter().map(rule_line));
    track_refs(w, "track_script", &i.track_script);
    track_refs(w, "track_interface", &i.track_interface);
    track_refs(w, "track_file", &i.track_file);
    track_refs(w, "track_process", &i.track_process);
    notify(w, &i.notify);
    w.flag("nopreempt", i.nopreempt);
    w.dur("preempt_delay", &i.preempt_delay);
    w.opt("unicast_src_ip", &i.unicast_src_ip, |a| a.to_string());
    if !i.unicast_peers.is_empty() {
        w.open("unicast_peer");
        for u in &i.unicast_peers {
            let mut s = u.addr.to_string();
            if let Some(t) = u.min_ttl {
                let _ = write!(s, " min_ttl {t}");
            }
            if let Some(t) = u.max_ttl {
                let _ = write!(s, " max_ttl {t}");
            }
            w.line(s);
        }
        w.close();
    }
    w.opt("mcast_src_ip", &i.mcast_src_ip, |a| a.to_string());
    w.dur("garp_master_delay", &i.garp_master_delay);
    w.opt("garp_master_repeat", &i.garp_master_repeat, |v| {
        v.to_string()
    });
    w.dur("garp_master_refresh", &i.garp_master_refresh);
    w.opt(
        "garp_master_refresh_repeat",
        &i.garp_master_refresh_repeat,
        |v| v.to_string(),
    );
    w.dur("garp_lower_prio_delay", &i.garp_lower_prio_delay);
    w.opt("garp_extra_if", &i.garp_extra_if, extra_if_garp);
    w.opt("garp_lower_prio_repeat", &i.garp_lower_prio_repeat, |v| {
        v.to_string()
    });
    w.opt("lower_prio_no_advert", &i.lower_prio_no_advert, |b| {
        yn(*b).into()
    });
    w.opt("higher_prio_send_advert", &i.higher_prio_send_advert, |b| {
        yn(*b).into()
    });
    match &i.use_vmac {
        Some(n) if n.is_empty() => w.line("use_vmac"),
        Some(n) => w.line(format!("use_vmac {}", q(n))),
        None => {}
    }
    w.flag("vmac_xmit_base", i.vmac_xmit_base);
    match i.accept {
        Some(true) => w.line("accept"),
        Some(false) => w.line("no_accept"),
        None => {}
    }
    w.opt("smtp_alert", &i.smtp_alert, |b| yn(*b).into());
    w.opt(
        "lvs_sync_daemon_interface",
        &i.lvs_sync_daemon_interface,
        |s| q(s),
    );
    w.flag("dont_track_primary", i.dont_track_primary);
    w.opt("skip_check_adv_addr", &i.skip_check_adv_addr, |b| {
        yn(*b).into()
    });
    w.opt("strict_mode", &i.strict_mode, |b| yn(*b).into());
    w.flag("native_ipv6", i.native_ipv6);
    w.opt("debug", &i.debug, |v| v.to_string());
    w.opt("kernel_rx_buf_size", &i.kernel_rx_buf_size, |v| {
        v.to_string()
    });
    w.flag("check_unicast_src", i.check_unicast_src);
    w.opt("unicast_ttl", &i.unicast_ttl, |v| v.to_string());
    w.opt("mcast_dst_ip", &i.mcast_dst_ip, |v| v.to_string());
    w.flag("unicast_fault_no_peer", i.unicast_fault_no_peer);
    w.flag("track_src_ip", i.track_src_ip);
    match i.old_unicast_checksum {
        Some(OldUnicastChecksum::Always) => w.line("old_unicast_checksum"),
        Some(OldUnicastChecksum::Never) => w.line("old_unicast_checksum never"),
        None => {}
    }
    w.flag("promote_secondaries", i.promote_secondaries);
    w.opt("down_timer_adverts", &i.down_timer_adverts, |v| {
        v.to_string()
    });
    w.opt("notify_priority_changes", &i.notify_priority_changes, |b| {
        yn(*b).into()
    });
    w.close();
}

/// The arguments of `[vrrp_]garp_extra_if`.
fn extra_if_garp(x: &ExtraIfGarp) -> String {
    if x.all {
        format!("all {}", x.interval_secs)
    } else {
        x.interval_secs.to_string()
    }
}

fn sync_group(w: &mut W<'_>, g: &SyncGroup) {
    w.open(format!("vrrp_sync_group {}", q(&g.name)));
    w.open("group");
    for m in &g.members {
        w.line(q(m));
    }
    w.close();
    notify(w, &g.notify);
    w.opt("smtp_alert", &g.smtp_alert, |b| yn(*b).into());
    w.flag("sync_group_tracking_weight", g.tracking_weight);
    w.opt("notify_priority_changes", &g.notify_priority_changes, |b| {
        yn(*b).into()
    });
    track_refs(w, "track_script", &g.track_script);
    track_refs(w, "track_interface", &g.track_interface);
    track_refs(w, "track_file", &g.track_file);
    track_refs(w, "track_process", &g.track_process);
    w.close();
}

fn tunnel(t: &Tunnel) -> String {
    let ty = match t.tun_type {
        TunnelType::Ipip => "ipip",
        TunnelType::Gue => "gue",
        TunnelType::Gre => "gre",
    };
    let mut s = ty.to_string();
    if let Some(p) = t.port {
        let _ = write!(s, " port {p}");
    }
    s.push_str(match t.csum {
        TunnelCsum::NoCsum => " nocsum",
        TunnelCsum::Csum => " csum",
        TunnelCsum::RemCsum => " remcsum",
    });
    s
}

fn virtual_server(w: &mut W<'_>, vs: &VirtualServer) {
    match &vs.key {
        VsKey::Addr { addr, port } => w.open(format!("virtual_server {addr} {port}")),
        VsKey::Fwmark { mark, .. } => w.open(format!("virtual_server fwmark {mark}")),
        VsKey::Group(g) => w.open(format!("virtual_server group {}", q(g))),
    }
    if let VsKey::Fwmark { ipv6: true, .. } = vs.key {
        w.line("ip_family inet6");
    }
    w.line(format!("delay_loop {}", seconds(vs.delay_loop)));
    w.line(format!("lb_algo {}", vs.lb_algo));
    w.flag("flag-1", vs.sched_flags.flag1);
    w.flag("flag-2", vs.sched_flags.flag2);
    w.flag("flag-3", vs.sched_flags.flag3);
    if vs.lb_kind_set {
        w.line(format!("lb_kind {}", kind(vs.lb_kind)));
    }
    w.opt("persistence_timeout", &vs.persistence_timeout, |v| {
        v.to_string()
    });
    w.opt(
        "persistence_granularity",
        &vs.persistence_granularity,
        |g| match g {
            Granularity::V4Mask(m) => m.to_string(),
            Granularity::V6Prefix(p) => p.to_string(),
        },
    );
    w.opt("persistence_engine", &vs.persistence_engine, |s| q(s));
    if vs.protocol_set {
        w.line(match vs.protocol {
            Protocol::Tcp => "protocol TCP",
            Protocol::Udp => "protocol UDP",
            Protocol::Sctp => "protocol SCTP",
        });
    }
    w.flag("ops", vs.ops);
    if let Some(s) = &vs.sorry_server {
        w.line(format!("sorry_server {} {}", s.addr, s.port));
        w.opt("sorry_server_lvs_method", &s.lvs_method, |k| {
            kind(*k).into()
        });
    }
    w.flag("sorry_server_inhibit", vs.sorry_server_inhibit);
    w.line(format!("quorum {}", vs.quorum));
    w.line(format!("hysteresis {}", vs.hysteresis));
    w.script("quorum_up", &vs.quorum_up);
    w.script("quorum_down", &vs.quorum_down);
    w.flag("alpha", vs.alpha);
    w.flag("omega", vs.omega);
    w.flag("inhibit_on_failure", vs.inhibit_on_failure);
    w.opt("virtualhost", &vs.virtualhost, |s| q(s));
    w.opt("retry", &vs.retry, |v| v.to_string());
    w.dur("delay_before_retry", &vs.delay_before_retry);
    w.dur("connect_timeout", &vs.connect_timeout);
    w.dur("warmup", &vs.warmup);
    w.flag("ha_suspend", vs.ha_suspend);
    w.opt("smtp_alert", &vs.smtp_alert, |b| yn(*b).into());
    w.opt("tun_type", &vs.tunnel, tunnel);
    for rs in &vs.real_servers {
        real_server(w, rs);
    }
    w.close();
}

fn real_server(w: &mut W<'_>, rs: &RealServer) {
    match rs.port {
        Some(p) => w.open(format!("real_server {} {p}", rs.addr)),
        None => w.open(format!("real_server {}", rs.addr)),
    }
    w.line(format!("weight {}", rs.weight));
    w.opt("inhibit_on_failure", &rs.inhibit_on_failure, |b| {
        yn(*b).into()
    });
    w.script("notify_up", &rs.more().notify_up);
    w.script("notify_down", &rs.more().notify_down);
    w.opt("uthreshold", &rs.uthreshold, |v| v.to_string());
    w.opt("lthreshold", &rs.lthreshold, |v| v.to_string());
    w.opt("lvs_method", &rs.lvs_method, |k| kind(*k).into());
    w.opt("tun_type", &rs.tunnel, tunnel);
    w.opt("alpha", &rs.alpha, |b| yn(*b).into());
    w.opt("retry", &rs.more().retry, |v| v.to_string());
    w.dur("delay_before_retry", &rs.more().delay_before_retry);
    w.dur("connect_timeout", &rs.more().connect_timeout);
    w.dur("delay_loop", &rs.more().delay_loop);
    w.dur("warmup", &rs.more().warmup);
    w.opt("smtp_alert", &rs.more().smtp_alert, |b| yn(*b).into());
    w.opt("virtualhost", &rs.more().virtualhost, |s| q(s));
    for c in &rs.checkers {
        checker(w, c);
    }
    w.close();
}

fn checker(w: &mut W<'_>, c: &Checker) {
    w.open(c.kind.keyword());
    let m = &c.common;
    let o = m.more();
    w.opt("connect_ip", &o.connect_ip, |a| a.to_string());
    w.opt("connect_port", &m.connect_port, |v| v.to_string());
    w.opt("bindto", &o.bindto, |a| a.to_string());
    w.opt("bind_port", &o.bind_port, |v| v.to_string());
    w.opt("bind_if", &o.bind_if, |s| q(s));
    w.dur("connect_timeout", &m.connect_timeout);
    w.opt("retry", &m.retry, |v| v.to_string());
    w.dur("delay_before_retry", &m.delay_before_retry);
    w.dur("delay_loop", &m.delay_loop);
    w.dur("warmup", &o.warmup);
    w.opt("alpha", &o.alpha, |b| yn(*b).into());
    w.opt("fwmark", &o.fwmark, |v| v.to_string());
    w.opt("log_all_failures", &o.log_all_failures, |b| yn(*b).into());
    match &c.kind {
        CheckerKind::Http(h) => {
            for u in &h.urls {
                w.open("url");
                w.line(format!("path {}", q(&u.path)));
                w.opt("digest", &u.digest, |s| s.clone());
                if !u.status_codes.is_empty() {
                    let codes: Vec<String> = u
                        .status_codes
                        .iter()
                        .map(|r| {
                            if r.from == r.to {
                                r.from.to_string()
                            } else {
                                format!("{}-{}", r.from, r.to)
                            }
                        })
                        .collect();
                    w.line(format!("status_code {}", codes.join(" ")));
                }
                w.opt("virtualhost", &u.virtualhost, |s| q(s));
                if let Some(r) = &u.regex {
                    w.line(format!("regex {}", q(&r.pattern)));
                    w.flag("regex_no_match", r.no_match);
                    if !r.options.is_empty() {
                        w.line(format!("regex_options {}", r.options.join(" ")));
                    }
                    w.opt("regex_min_offset", &r.min_offset, |n| n.to_string());
                    w.opt("regex_max_offset", &r.max_offset, |n| n.to_string());
                }
                w.close();
            }
            w.opt("virtualhost", &h.virtualhost, |s| q(s));
            w.opt("http_protocol", &h.http_protocol, |s| s.clone());
            w.flag("enable_sni", h.enable_sni);
            w.flag("fast_recovery", h.fast_recovery);
        }
        CheckerKind::Misc(m) => {
            w.line(format!("misc_path {}", qs(&m.misc_path)));
            w.dur("misc_timeout", &m.misc_timeout);
            w.flag("misc_dynamic", m.misc_dynamic);
            w.opt("user", &m.user, user);
        }
        CheckerKind::Smtp(s) => w.opt("helo_name", &s.helo_name, |s| q(s)),
        CheckerKind::Dns(d) => {
            w.line(format!("type {}", d.query_type));
            w.line(format!("name {}", q(&d.name)));
        }
        CheckerKind::Udp(u) => {
            w.opt("payload", &u.payload, |b| hex::encode(b));
            if let Some(r) = &u.require_reply {
                if r.data.is_empty() {
                    w.line("require_reply");
                } else {
                    w.line(format!("require_reply {}", r.to_hex()));
                }
            }
            if u.min_reply_length != UdpCheck::DEFAULT_MIN_REPLY {
                w.line(format!("min_reply_length {}", u.min_reply_length));
            }
            if u.max_reply_length != UdpCheck::DEFAULT_MAX_REPLY {
                w.line(format!("max_reply_length {}", u.max_reply_length));
            }
        }
        CheckerKind::File(f) => {
            w.line(format!("track_file {}", q(&f.track_file)));
            if let Some(wt) = f.weight {
                let r = if f.reverse { " reverse" } else { "" };
                w.line(format!("weight {wt}{r}"));
            }
        }
        CheckerKind::Tcp | CheckerKind::Ping => {}
    }
    w.close();
}
