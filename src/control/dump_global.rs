//! The "Global definitions" section that opens each of keepalived 2.2.7's data files,
//! with lvsd's values where lvsd has the setting and keepalived's defaults where it has
//! none (process priorities, SNMP, D-Bus, netlink buffers). keepalived's nftables lines
//! describe its build and are left out: lvsd does not use nftables.

use crate::config::{FlushOnStop, GlobalDefs};

/// Which process of keepalived the section is written for: only the VRRP process prints
/// its default interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    Parent,
    Vrrp,
    Checker,
}

fn on_off(v: Option<bool>) -> &'static str {
    match v {
        None => "unset",
        Some(true) => "on",
        Some(false) => "off",
    }
}

fn tf(v: bool) -> &'static str {
    if v {
        "true"
    } else {
        "false"
    }
}

/// keepalived's router_id default: its local name.
fn router_id(g: &GlobalDefs) -> String {
    g.router_id.clone().unwrap_or_else(crate::nss::local_name)
}

/// The section's text, each line ending in a newline.
pub fn global_section(g: &GlobalDefs, part: Part) -> String {
    let mut s = String::new();
    let mut l = |line: String| {
        s.push_str(&line);
        s.push('\n');
    };
    l("------< Global definitions >------".into());
    l(format!(
        " Network namespace = {}",
        g.net_namespace.as_deref().unwrap_or("(default)")
    ));
    l(" Network namespace ipvs = (main namespace)".into());
    if let Some(i) = &g.instance {
        l(format!(" Instance name = {i}"));
    }
    l(format!(" Router ID = {}", router_id(g)));
    if let Some(smtp) = &g.smtp_server {
        l(format!(" Smtp server = {}", smtp.host));
        l(format!(" Smtp server port = {}", smtp.port));
    }
    if let Some(helo) = crate::alert::helo_name(g) {
        l(format!(" Smtp HELO name = {helo}"));
    }
    if g.smtp_server.is_some() {
        l(format!(
            " Smtp server connection timeout = {}",
            g.smtp_connect_timeout.as_secs()
        ));
    }
    if let Some(from) = crate::alert::email_from(g) {
        l(format!(" Email notification from = {from}"));
        l(" Email notification to:".into());
        for e in &g.notification_email {
            l(format!("   {e}"));
        }
    }
    l(format!(
        " Default smtp_alert = {}",
        on_off(g.smtp_alert.then_some(true))
    ));
    l(format!(
        " Default smtp_alert_vrrp = {}",
        on_off(g.smtp_alert_vrrp)
    ));
    l(format!(
        " Default smtp_alert_checker = {}",
        on_off(g.smtp_alert_checker)
    ));
    l(format!(
        " Checkers log all failures = {}",
        tf(g.checker_log_all_failures)
    ));
    l(" No test config before reload".into());
    if g.data_use_instance {
        l(" Use instance name in data dumps".into());
    }
    // Only the parent runs them, and only its file shows them (keepalived's too).
    for (label, sep, script) in [
        ("Startup", ",", &g.startup_script),
        ("Shutdown", "", &g.shutdown_script),
    ] {
        if let (Some(s), Part::Parent) = (script, part) {
            let (uid, gid) = match &s.user {
                Some(u) => user_ids(u),
                None => script_ids(g).unwrap_or((0, 0)),
            };
            l(format!(
                " {label} script = {}, uid:gid {uid}:{gid}{sep} timeout {}",
                crate::script::shown(&s.command),
                s.timeout.as_secs()
            ));
        }
    }
    l(format!(
        " Dynamic interfaces = {}",
        tf(g.dynamic_interfaces)
    ));
    if g.dynamic_interfaces {
        l(format!(
            " Allow interface changes = {}",
            tf(g.allow_if_changes)
        ));
    }
    if let Some(t) = &g.lvs_timeouts {
        if let Some(v) = t.tcp {
            l(format!(" LVS TCP timeout = {v}"));
        }
        if let Some(v) = t.tcpfin {
            l(format!(" LVS TCP FIN timeout = {v}"));
        }
        if let Some(v) = t.udp {
            // keepalived 2.2.7 labels the UDP timeout "TCP" too.
            l(format!(" LVS TCP timeout = {v}"));
        }
    }
    if part == Part::Vrrp {
        l(format!(
            " Default interface = {}",
            g.default_interface.as_deref().unwrap_or("eth0")
        ));
    }
    l(" Disable local IGMP = no".into());
    if let Some(d) = &g.lvs_sync_daemon {
        l(format!(" LVS syncd vrrp instance = {}", d.instance));
        l(format!(" LVS syncd interface = {}", d.interface));
        l(format!(" LVS syncd syncid = {}", d.sync_id.unwrap_or(0)));
        if let Some(m) = d.maxlen {
            l(format!(" LVS syncd maxlen = {m}"));
        }
        if let Some(gr) = d.group {
            l(format!(" LVS mcast group {gr}"));
        }
        if let Some(p) = d.port {
            l(format!(" LVS syncd mcast port = {p}"));
        }
        if let Some(t) = d.ttl {
            l(format!(" LVS syncd mcast ttl = {t}"));
        }
    }
    l(format!(" LVS flush = {}", tf(g.lvs_flush)));
    l(format!(
        " LVS flush on stop = {}",
        match g.lvs_flush_on_stop {
            FlushOnStop::Disabled => "disabled",
            FlushOnStop::Full => "full",
            FlushOnStop::Vs => "VS",
        }
    ));
    for (label, fifo) in [
        ("Global notify fifo", &g.notify_fifo),
        ("VRRP notify fifo", &g.vrrp_notify_fifo),
        ("LVS notify fifo", &g.lvs_notify_fifo),
    ] {
        if let Some(f) = fifo {
            l(format!(" {label} = {}, uid:gid 0:0", f.path.display()));
            if let Some(sc) = &f.script {
                l(format!(" {label} script = {sc}, uid:gid 0:0"));
            }
        }
    }
    l(" FIFO write vrrp states on reload = false".into());
    l(" VRRP notify priority changes = false".into());
    l(format!(
        " VRRP IPv4 mcast group = {}",
        g.vrrp_mcast_group4
            .map_or_else(|| "224.0.0.18".to_string(), |a| a.to_string())
    ));
    l(format!(
        " VRRP IPv6 mcast group = {}",
        g.vrrp_mcast_group6
            .map_or_else(|| "ff02::12".to_string(), |a| a.to_string())
    ));
    let delay = g.vrrp_garp_master_delay.as_secs();
    l(format!(" Gratuitous ARP delay = {delay}"));
    l(format!(
        " Gratuitous ARP repeat = {}",
        g.vrrp_garp_master_repeat
    ));
    l(format!(
        " Gratuitous ARP refresh timer = {}",
        g.vrrp_garp_master_refresh.map_or(0, |d| d.as_secs())
    ));
    l(format!(
        " Gratuitous ARP refresh repeat = {}",
        g.vrrp_garp_master_refresh_repeat
    ));
    if part != Part::Vrrp {
        // keepalived's parent and checker process leave these unresolved
        // (PARAMETER_UNSET): only its VRRP process resolves them.
        l(format!(
            " Gratuitous ARP lower priority delay = {}",
            u32::MAX
        ));
        l(format!(
            " Gratuitous ARP lower priority repeat = {}",
            u32::MAX
        ));
    } else {
        l(format!(" Gratuitous ARP lower priority delay = {delay}"));
        l(format!(
            " Gratuitous ARP lower priority repeat = {}",
            g.vrrp_garp_master_repeat
        ));
    }
    l(" Num adverts before down = 3".into());
    let extra = g.vrrp_garp_extra_if;
    l(format!(
        " Gratuitous ARP for each secondary {} = {}s",
        if extra.is_some_and(|x| x.all) {
            "i/f"
        } else {
            "VMAC"
        },
        extra.map_or(0, |x| x.interval_secs)
    ));
    l(" Send advert after receive lower priority advert = true".into());
    l(" Send advert after receive higher priority advert = false".into());
    l(format!(
        " Gratuitous ARP interval = {:.6}",
        g.vrrp_garp_interval.as_secs_f64()
    ));
    l(format!(
        " Gratuitous NA interval = {:.6}",
        g.vrrp_gna_interval.as_secs_f64()
    ));
    l(format!(
        " VRRP default protocol version = {}",
        g.vrrp_version
    ));
    l(format!(
        " VRRP check unicast_src = {}",
        tf(g.vrrp_check_unicast_src)
    ));
    l(format!(
        " VRRP skip check advert addresses = {}",
        tf(g.vrrp_skip_check_adv_addr)
    ));
    l(format!(" VRRP strict mode = {}", tf(g.vrrp_strict)));
    if g.max_auto_priority == -1 {
        l(" Max auto priority = Disabled".into());
    } else {
        l(format!(" Max auto priority = {}", g.max_auto_priority));
    }
    l(format!(
        " Min auto priority delay = {} usecs",
        g.min_auto_priority_delay
            .map_or(1_000_000, |d| d.as_micros())
    ));
    for (who, t, no_swap, rlimit) in [
        ("VRRP", &g.vrrp_tuning, g.vrrp_no_swap, g.vrrp_rlimit_rttime),
        (
            "Checker",
            &g.checker_tuning,
            g.checker_no_swap,
            g.checker_rlimit_rttime,
        ),
    ] {
        l(format!(" {who} process priority = {}", t.nice.unwrap_or(0)));
        l(format!(" {who} don't swap = {}", tf(no_swap)));
        l(format!(
            " {who} realtime priority = {}",
            t.rt_priority.unwrap_or(0)
        ));
        l(format!(
            " {who} realtime limit = {}",
            rlimit.unwrap_or(10_000)
        ));
    }
    for line in [
        " BFD process priority = 0",
        " BFD don't swap = false",
        " BFD realtime priority = 0",
        " BFD realtime limit = 10000",
        " SNMP vrrp disabled",
        " SNMP checker disabled",
        " SNMP RFCv2 disabled",
        " SNMP RFCv3 disabled",
        " SNMP traps disabled",
        " SNMP socket = default (unix:/var/agentx/master)",
        " DBus disabled",
        " DBus service name = ",
    ] {
        l(line.into());
    }
    l(format!(
        " Script security {}",
        if g.enable_script_security {
            "enabled"
        } else {
            "disabled"
        }
    ));
    if let Some((uid, gid)) = script_ids(g) {
        l(format!(" Default script uid:gid {uid}:{gid}"));
    }
    let b = &g.netlink_bufs;
    for (name, buf) in [
        ("vrrp_netlink_cmd", b.vrrp_cmd),
        ("vrrp_netlink_monitor", b.vrrp_monitor),
        ("process_monitor", b.process_monitor),
        ("lvs_netlink_cmd", b.lvs_cmd),
        ("lvs_netlink_monitor", b.lvs_monitor),
    ] {
        l(format!(" {name}_rcv_bufs = {}", buf.bytes));
        l(format!(" {name}_rcv_bufs_force = {}", u8::from(buf.force)));
    }
    l(format!(
        " rs_init_notifies = {}",
        u8::from(g.rs_init_notifies)
    ));
    l(format!(
        " no_checker_emails = {}",
        u8::from(g.no_checker_emails)
    ));
    let p = &g.vrrp_rx_bufs;
    if p.mtu {
        l(" rx_bufs_policy = MTU".into());
    } else if p.advert {
        l(" rx_bufs_policy = ADVERT".into());
    } else if let Some(n) = p.size {
        l(format!(" rx_bufs_size = {n}"));
    }
    l(format!(
        " rx_bufs_multiples = {}",
        g.vrrp_rx_bufs_multiplier
    ));
    l(format!(" umask = {:04o}", g.umask.unwrap_or(0o177)));
    s
}

/// The uid and gid scripts run as by default: `script_user` when it resolves, else root.
/// The default script user's uid and gid; None when it cannot be set, where keepalived
/// leaves the line out: a `script_user` (or its group) that does not resolve, or script
/// security on without a `script_user` and without `keepalived_script` (the load sets
/// `script_user` to that user when it exists). Otherwise root: the daemon's own ids.
fn script_ids(g: &GlobalDefs) -> Option<(u32, u32)> {
    match &g.script_user {
        Some(su) => crate::script::resolve_user(su).ok(),
        None => (!g.enable_script_security).then_some((0, 0)),
    }
}

/// The uid and gid of `su` (root when the user does not resolve).
fn user_ids(su: &crate::script::ScriptUser) -> (u32, u32) {
    let Some((uid, user_gid)) = crate::nss::user(&su.user) else {
        return (0, 0);
    };
    let gid = su
        .group
        .as_deref()
        .and_then(crate::nss::group)
        .unwrap_or(user_gid);
    (uid, gid)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference keepalived.data (keepalived 2.2.7, router_id director1, everything
    /// else default) opens with this section; lvsd's lacks only the nftables build lines.
    #[test]
    fn defaults_match_keepalived_reference() {
        let reference = include_str!("../../tests/data/keepalived-2.2.7-global.txt");
        let g = GlobalDefs {
            router_id: Some("director1".into()),
            ..GlobalDefs::default()
        };
        let ours = global_section(&g, Part::Vrrp);
        let want: Vec<&str> = reference
            .lines()
            .filter(|l| !l.starts_with(" nftables") && !l.starts_with(" libnftnl"))
            .collect();
        let got: Vec<&str> = ours.lines().collect();
        assert_eq!(got, want);
    }

    #[test]
    fn default_interface_only_for_vrrp() {
        let g = GlobalDefs::default();
        assert!(global_section(&g, Part::Vrrp).contains(" Default interface = eth0\n"));
        assert!(!global_section(&g, Part::Checker).contains("Default interface"));
    }
}
