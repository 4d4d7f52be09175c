//! The checker side's `keepalived_check.data` (SIGUSR1) in keepalived 2.2.7's layout, free
//! of I/O: global definitions, "LVS Topology" (each virtual server and its real servers
//! with their live state) and "Health checkers" (each checker's verdict).

use super::state::LvsState;
use crate::config::model::{CheckerKind, Granularity, LbKind, Protocol, VirtualServer, VsKey};
use crate::control::dump_global::{global_section, Part};
use std::collections::HashMap;
use std::fmt::Write as _;

fn fwd(k: LbKind) -> &'static str {
    match k {
        LbKind::Nat => "NAT",
        LbKind::Dr => "DR",
        LbKind::Tun => "TUN, type = IPIP",
    }
}

fn proto(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "TCP",
        Protocol::Udp => "UDP",
        Protocol::Sctp => "SCTP",
    }
}

/// keepalived's `format_decimal(x, 6)` of a time in microseconds: `5.000000`.
fn secs6(d: std::time::Duration) -> String {
    format!("{}.{:06}", d.as_secs(), d.subsec_micros())
}

fn vs_line(vs: &VirtualServer) -> String {
    match &vs.key {
        VsKey::Addr { addr, port } => format!(" VS VIP = {addr}, VPORT = {port}"),
        VsKey::Fwmark { mark, .. } => format!(" VS FWMARK = {mark}"),
        VsKey::Group(g) => format!(" VS GROUP = [{g}]:0"),
    }
}

/// "SSL definitions": the `SSL` block, or keepalived's own context when only SSL_GET
/// asks for one. keepalived prints the key's password; so does this file (it is written
/// with mode 0600).
fn ssl_section(s: &mut String, cfg: &crate::config::Config) {
    let ssl_get = cfg.virtual_servers.iter().any(|vs| {
        vs.real_servers.iter().any(|rs| {
            rs.checkers
                .iter()
                .any(|c| matches!(&c.kind, CheckerKind::Http(h) if h.tls))
        })
    });
    if cfg.ssl.is_none() && !ssl_get {
        return;
    }
    s.push_str("------< SSL definitions >------\n");
    let ssl = cfg.ssl.as_deref().cloned().unwrap_or_default();
    if ssl == crate::config::SslClient::default() {
        s.push_str(" Using autogen SSL context\n");
        return;
    }
    if let Some(p) = &ssl.password {
        s.push_str(&format!(" Password : {p}\n"));
    }
    for (name, path) in [
        ("CA-file", &ssl.ca),
        ("Certificate file", &ssl.certificate),
        ("Key file", &ssl.key),
    ] {
        if let Some(p) = path {
            s.push_str(&format!(" {name} : {}\n", p.display()));
        }
    }
}

/// The whole file's text.
pub fn check_data(state: &LvsState) -> String {
    let cfg = state.config();
    let mut s = global_section(&cfg.global, Part::Checker);
    let checker_up: HashMap<_, _> = state.checker_states();
    ssl_section(&mut s, cfg);
    if !cfg.virtual_servers.is_empty() {
        s.push_str("------< LVS Topology >------\n");
        s.push_str(" System is compiled with LVS v1.2.1\n");
    }
    for (i, vs) in cfg.virtual_servers.iter().enumerate() {
        let mut l = |line: String| {
            s.push_str(&line);
            s.push('\n');
        };
        l(" ------< Virtual server >------".into());
        l(vs_line(vs));
        if let Some(h) = &vs.virtualhost {
            l(format!("   VirtualHost = {h}"));
        }
        l(match &vs.key {
            VsKey::Addr { addr, .. } if addr.is_ipv6() => "   Address family = inet6".into(),
            VsKey::Fwmark { ipv6: true, .. } => "   Address family = inet6".into(),
            VsKey::Group(_) => "   Address family = unknown".into(),
            _ => "   Address family = inet".into(),
        });
        l(format!(
            "   connection timeout = {}",
            secs6(
                vs.connect_timeout
                    .unwrap_or(std::time::Duration::from_secs(5))
            )
        ));
        l(format!("   delay_loop = {}", secs6(vs.delay_loop)));
        l(format!("   lvs_sched = {}", vs.lb_algo));
        l("   Hashed = disabled".into());
        let en = |b: bool| if b { "en" } else { "dis" };
        let f = &vs.sched_flags;
        match vs.lb_algo.as_str() {
            "sh" | "mh" => {
                l(format!("   {}-port = {}abled", vs.lb_algo, en(f.flag2)));
                l(format!("   {}-fallback = {}abled", vs.lb_algo, en(f.flag1)));
            }
            _ => {
                l(format!("   flag-1 = {}abled", en(f.flag1)));
                l(format!("   flag-2 = {}abled", en(f.flag2)));
                l(format!("   flag-3 = {}abled", en(f.flag3)));
            }
        }
        let ops_inactive = vs.ops && vs.protocol != Protocol::Udp;
        l(format!(
            "   One packet scheduling = {}abled{}",
            en(vs.ops),
            if ops_inactive {
                " (inactive due to not UDP)"
            } else {
                ""
            }
        ));
        if let Some(t) = vs.persistence_timeout {
            l(format!("   persistence timeout = {t}"));
        }
        match vs.persistence_granularity {
            Some(Granularity::V4Mask(m)) => l(format!("   persistence granularity = {m}")),
            Some(Granularity::V6Prefix(p)) => l(format!("   persistence granularity = {p}")),
            None => {}
        }
        l(format!("   protocol = {}", proto(vs.protocol)));
        l(format!(
            "   alpha is {}",
            if vs.alpha { "ON" } else { "OFF" }
        ));
        l(format!(
            "   omega is {}",
            if vs.omega { "ON" } else { "OFF" }
        ));
        if let Some(r) = vs.retry {
            l(format!("   Retry count = {r}"));
        }
        if let Some(d) = vs.delay_before_retry {
            l(format!("   Retry delay = {}", secs6(d)));
        }
        if let Some(w) = vs.warmup {
            l(format!("   Warmup = {}", secs6(w)));
        }
        l(format!(
            "   Inhibit on failure is {}",
            if vs.inhibit_on_failure { "ON" } else { "OFF" }
        ));
        l(format!(
            "   quorum = {}, hysteresis = {}",
            vs.quorum, vs.hysteresis
        ));
        if let Some(q) = &vs.quorum_up {
            l(format!("   Quorum up notify script = {q}, uid:gid 0:0"));
        }
        if let Some(q) = &vs.quorum_down {
            l(format!("   Quorum down notify script = {q}, uid:gid 0:0"));
        }
        if vs.ha_suspend {
            l("   Using HA suspend".into());
        }
        // keepalived: unset, the global checker setting, else smtp_alert, else no (a real
        // server's: else yes).
        let global_alert = cfg
            .global
            .smtp_alert_checker
            .or(cfg.global.smtp_alert.then_some(true));
        l(format!(
            "   Using smtp notification = {}",
            if vs.smtp_alert.or(global_alert).unwrap_or(false) {
                "yes"
            } else {
                "no"
            }
        ));
        l(format!(
            "   default forwarding method = {}",
            fwd(vs.lb_kind)
        ));
        if let Some(ss) = &vs.sorry_server {
            l(format!(
                "   sorry server = {}",
                crate::lvs::build::addr_label(ss.addr, vs.protocol, ss.port)
            ));
            l(format!(
                "     forwarding method = {}",
                fwd(ss.lvs_method.unwrap_or(vs.lb_kind))
            ));
            l(format!(
                "     Inhibit on failure is {}",
                if vs.sorry_server_inhibit { "ON" } else { "OFF" }
            ));
        }
        let up = state.quorum_up(i);
        l("   alive = 1".into());
        l(format!("   quorum_state_up = {}", u8::from(up)));
        l("   reloaded = 0".into());
        let vport = match &vs.key {
            VsKey::Addr { port, .. } => *port,
            _ => 0,
        };
        for (j, rs) in vs.real_servers.iter().enumerate() {
            let alive = state.rs_alive(i, j).unwrap_or(false);
            l("   ------< Real server >------".into());
            let more = rs.more();
            l(format!(
                "   RIP = {}, RPORT = {}, WEIGHT = {} EFF WEIGHT = {}",
                rs.addr,
                rs.port.unwrap_or(vport),
                rs.weight,
                rs.weight
            ));
            l(format!(
                "   forwarding method = {}",
                fwd(rs.lvs_method.unwrap_or(vs.lb_kind))
            ));
            let ralpha = rs.alpha.unwrap_or(vs.alpha);
            l(format!("   Alpha is {}", if ralpha { "ON" } else { "OFF" }));
            l(format!(
                "   connection timeout = {}",
                secs6(
                    more.connect_timeout
                        .or(vs.connect_timeout)
                        .unwrap_or(std::time::Duration::from_secs(5))
                )
            ));
            l(format!(
                "   connection limit range = {} -> {}",
                rs.lthreshold.unwrap_or(0),
                rs.uthreshold.unwrap_or(0)
            ));
            l(format!(
                "   Delay loop = {}",
                secs6(more.delay_loop.unwrap_or(vs.delay_loop))
            ));
            if let Some(r) = more.retry.or(vs.retry) {
                l(format!("   Retry count = {r}"));
            }
            if let Some(d) = more.delay_before_retry.or(vs.delay_before_retry) {
                l(format!("   Retry delay = {}", secs6(d)));
            }
            if let Some(w) = more.warmup.or(vs.warmup) {
                l(format!("   Warmup = {}", secs6(w)));
            }
            l(format!(
                "   Inhibit on failure is {}",
                if rs.inhibit_on_failure.unwrap_or(vs.inhibit_on_failure) {
                    "ON"
                } else {
                    "OFF"
                }
            ));
            if let Some(n) = &more.notify_up {
                l(format!("     RS up notify script = {n}, uid:gid 0:0"));
            }
            if let Some(n) = &more.notify_down {
                l(format!("     RS down notify script = {n}, uid:gid 0:0"));
            }
            if let Some(h) = more.virtualhost.as_ref().or(vs.virtualhost.as_ref()) {
                l(format!("    VirtualHost = '{h}'"));
            }
            l(format!(
                "   Using smtp notification = {}",
                if more.smtp_alert.or(global_alert).unwrap_or(true) {
                    "yes"
                } else {
                    "no"
                }
            ));
            l(format!("   initial weight = {}", rs.weight));
            l(format!("   effective weight = {}", rs.weight));
            l("   previous effective_weight = 0".into());
            l(format!("   alive = {}", u8::from(alive)));
            let failed = (0..rs.checkers.len())
                .filter(|c| {
                    checker_up.get(&crate::checkers::CheckerId {
                        vs: i,
                        rs: j,
                        checker: *c,
                    }) == Some(&false)
                })
                .count();
            l(format!("   num failed checkers = {failed}"));
            let inhibit = rs.inhibit_on_failure.unwrap_or(vs.inhibit_on_failure);
            l(format!("   RS set = {}", u8::from(alive || inhibit)));
            l("   reloaded = 0".into());
        }
    }
    let mut first = true;
    for (i, vs) in cfg.virtual_servers.iter().enumerate() {
        let vport = match &vs.key {
            VsKey::Addr { port, .. } => *port,
            _ => 0,
        };
        for (j, rs) in vs.real_servers.iter().enumerate() {
            for (c, ch) in rs.checkers.iter().enumerate() {
                if ch.common.disabled {
                    continue; // (keepalived frees a disabled checker)
                }
                if first {
                    s.push_str("------< Health checkers >------\n");
                    first = false;
                }
                let up = checker_up
                    .get(&crate::checkers::CheckerId {
                        vs: i,
                        rs: j,
                        checker: c,
                    })
                    .copied()
                    .unwrap_or(false);
                let _ = writeln!(
                    s,
                    " {} -> {}",
                    crate::lvs::build::vs_label(vs),
                    crate::lvs::build::addr_label(rs.addr, vs.protocol, rs.port.unwrap_or(vport))
                );
                s.push_str("   Enabled = yes\n");
                let _ = writeln!(s, "   Up = {}", if up { "yes" } else { "no" });
                s.push_str("   Has run = yes\n");
                let _ = writeln!(s, "   Current weight = {}", 0);
                let id = crate::checkers::CheckerId {
                    vs: i,
                    rs: j,
                    checker: c,
                };
                if let Some(set) = crate::checkers::CheckSettings::resolve(cfg, id) {
                    checker_details(&mut s, &set, ch);
                }
            }
        }
    }
    s
}

fn us(d: std::time::Duration) -> u128 {
    d.as_micros()
}

/// keepalived's dump_checker after its first lines: the timing (not for FILE_CHECK), the
/// connection, then the kind's own lines.
fn checker_details(
    s: &mut String,
    set: &crate::checkers::CheckSettings,
    checker: &crate::config::Checker,
) {
    let kind = &checker.kind;
    let mut l = |line: String| {
        s.push_str(&line);
        s.push('\n');
    };
    let default_dbr = match kind {
        CheckerKind::Http(_) => 3_000_000,
        CheckerKind::Dns(_) => 0,
        _ => 1_000_000,
    };
    if !matches!(kind, CheckerKind::File(_)) {
        let t = &set.timing;
        l(format!(
            "   Alpha = {}",
            if set.alpha { "yes" } else { "no" }
        ));
        l(format!("   Delay loop = {} us", us(t.delay_loop)));
        l(format!("   Warmup = {} us", us(set.warmup)));
        l(format!("   Retries = {}", t.retry));
        if t.retry > 0 {
            l(format!(
                "   Delay before retry = {} us",
                us(t.delay_before_retry)
            ));
            l("   Retries iterations = 0".into());
        }
        l(format!("   Default delay before retry = {default_dbr} us"));
    }
    l(format!(
        "   Log all failures = {}",
        if checker.common.more().log_all_failures == Some(true) {
            "yes"
        } else {
            "no"
        }
    ));
    if !matches!(kind, CheckerKind::Misc(_) | CheckerKind::File(_)) {
        l("   Connection".into());
        l(format!("     Dest = {}", pair(set.addr, set.port)));
        if let Some(b) = set.bind() {
            l(format!("     Bind to = {}", pair(b.ip(), b.port())));
        }
        if let Some(i) = set.bind_if() {
            l(format!("     Bind i/f = {i}"));
        }
        if let Some(m) = set.fwmark() {
            l(format!("     Mark = {m}"));
        }
        l(format!("     Timeout = {}", secs6(set.connect_timeout)));
    }
    match kind {
        CheckerKind::Http(h) => {
            let proto = match h.http_protocol.as_deref() {
                Some("1.0C") | Some("1.0c") => "1.0C",
                Some("1.1") => "1.1",
                _ => "1.0",
            };
            let name = if h.tls { "SSL" } else { "HTTP" };
            l(format!(
                "   Keepalive method = {name}_GET, http protocol {proto}"
            ));
            if let Some(v) = &h.virtualhost {
                l(format!("   Virtualhost = {v}"));
            }
            l(format!(
                "   Enable SNI {}set",
                if h.enable_sni { "" } else { "un" }
            ));
            l(format!(
                "   Fast recovery {}set",
                if h.fast_recovery { "" } else { "un" }
            ));
            for u in &h.urls {
                l(format!("   Checked url = {}", u.path));
                if let Some(d) = &u.digest {
                    l(format!("     digest = {d}"));
                }
                l("     HTTP Status Code(s)".into());
                if u.status_codes.is_empty() {
                    l("       200-299".into());
                }
                for r in &u.status_codes {
                    l(if r.from == r.to {
                        format!("       {}", r.from)
                    } else {
                        format!("       {}-{}", r.from, r.to)
                    });
                }
                if let Some(v) = &u.virtualhost {
                    l(format!("     Virtual host = {v}"));
                }
            }
        }
        CheckerKind::Smtp(m) => {
            l("   Keepalive method = SMTP_CHECK".into());
            let helo = m.helo_name.clone().unwrap_or_else(|| {
                nix::unistd::gethostname()
                    .map(|h| h.to_string_lossy().into_owned())
                    .unwrap_or_default()
            });
            l(format!("   helo = {helo}"));
        }
        CheckerKind::Dns(d) => {
            l("   Keepalive method = DNS_CHECK".into());
            l(format!("   Type = {}", d.query_type.to_ascii_uppercase()));
            l(format!("   Name = {}", d.name));
        }
        CheckerKind::Udp(u) => {
            l("   Keepalive method = UDP_CHECK".into());
            match &u.payload {
                Some(p) => l(format!("   Payload len = {}", p.len())),
                None => l("   Payload specified = no".into()),
            }
            match &u.require_reply {
                None => l("   Require reply = no".into()),
                Some(r) => {
                    l("   Require reply = yes".into());
                    l(format!("     Min reply length = {}", u.min_reply_length));
                    l(format!("     Max reply length = {}", u.max_reply_length));
                    l(format!("     Reply data len = {}", r.data.len()));
                    if !r.data.is_empty() {
                        l(format!(
                            "     Reply data mask = {}",
                            if r.mask.is_empty() { "no" } else { "yes" }
                        ));
                    }
                }
            }
        }
        CheckerKind::Misc(m) => {
            l("   Keepalive method = MISC_CHECK".into());
            l(format!("   script = {}", m.misc_path));
            let timeout = m.misc_timeout.unwrap_or(set.timing.delay_loop);
            l(format!("   timeout = {}", timeout.as_secs()));
            l(format!(
                "   dynamic = {}",
                if m.misc_dynamic { "YES" } else { "NO" }
            ));
            l("   uid:gid = 0:0".into());
        }
        other => l(format!("   Keepalive method = {}", other.keyword())),
    }
}

/// keepalived's inet_sockaddrtopair: `[addr]:port`.
fn pair(a: std::net::IpAddr, port: u16) -> String {
    format!("[{a}]:{port}")
}
