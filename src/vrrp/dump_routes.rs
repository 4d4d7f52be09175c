//! Routes and rules as keepalived.data shows them (keepalived's `format_iproute` and
//! `format_iprule`): the "Static Routes" and "Static Rules" sections and each instance's
//! "Virtual Routes" and "Virtual Rules". Formatting only; what is installed is
//! `crate::vrrp::routes`'s.
//!
//! Not shown: keepalived's trailing `[dev X]` / `[installed ifindex N]` on a route whose
//! installed interface it took as different from the written one (its own bookkeeping of
//! the kernel's reply).

use crate::config::model::{
    IpPrefix, NextHop, Route, RouteAddMode, RouteMetricKind, Rule, RuleAction,
};
use std::fmt::Write as _;
use std::net::IpAddr;

/// An address as keepalived's `ipaddresstos` writes it: the prefix length only when it is
/// not the whole address.
fn prefix(p: &IpPrefix) -> String {
    let full = if p.addr.is_ipv4() { 32 } else { 128 };
    if p.len == full {
        p.addr.to_string()
    } else {
        format!("{}/{}", p.addr, p.len)
    }
}

fn family(a: &IpAddr) -> &'static str {
    if a.is_ipv4() {
        "inet"
    } else {
        "inet6"
    }
}

/// `realms A/B`, or `realm B` when A is 0. keepalived picks the form for a next hop by
/// the route's own realms (`chooser`).
fn realms(s: &mut String, chooser: u32, value: u32) {
    if chooser & 0xFFFF_0000 != 0 {
        let _ = write!(s, " realms {}/", value >> 16);
    } else {
        s.push_str(" realm ");
    }
    let _ = write!(s, "{}", value & 0xFFFF);
}

/// A C `%g` of a small positive number (the time metrics): no trailing zeros.
fn g(x: f64) -> String {
    let s = format!("{x:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    s.to_string()
}

fn next_hop(s: &mut String, route_realms: u32, nh: &NextHop) {
    s.push_str(" nexthop");
    if let Some(via) = &nh.via {
        let _ = write!(s, " via {} {via}", family(via));
    }
    if let Some(dev) = &nh.dev {
        let _ = write!(s, " dev {dev}");
    }
    if let Some(w) = nh.weight {
        let _ = write!(s, " weight {w}");
    }
    if nh.onlink {
        s.push_str(" onlink");
    }
    if let Some(r) = nh.realms.filter(|r| *r != 0) {
        realms(s, route_realms, r);
    }
}

/// One route, as keepalived writes it after five blanks.
pub fn route_line(r: &Route) -> String {
    let typed = r.rtype.filter(|t| t.name() != "unicast");
    // (keepalived 2.2.7 shows a typed route without a mode as `add`)
    let mut s = String::from(match r.mode {
        RouteAddMode::Add => "add ",
        RouteAddMode::Append => "append ",
        RouteAddMode::Prepend if typed.is_some() => "add ",
        RouteAddMode::Prepend => "prepend ",
    });
    if let Some(t) = typed {
        let _ = write!(s, "{} ", t.name());
    }
    s.push_str(&prefix(&r.dst));
    if let Some(from) = &r.from {
        let _ = write!(s, " from {}", prefix(from));
    }
    if let Some(src) = &r.src {
        let _ = write!(s, " src {src}");
    }
    if let Some(tos) = r.tos {
        let _ = write!(s, " tos {tos}");
    }
    if let Some(via) = &r.via {
        let _ = write!(s, " via {} {via}", family(via));
    }
    if let Some(dev) = &r.dev {
        let _ = write!(s, " dev {dev}");
    }
    if r.table != 254 {
        let _ = write!(s, " table {}", r.table);
    }
    // keepalived shows the protocol it set (every tracked route's) or the one written; a
    // route written `no_track` without one still gets its own in the kernel.
    if !r.no_track || r.protocol.is_some() {
        let _ = write!(s, " proto {}", r.effective_protocol());
    }
    if let Some(scope) = r.scope {
        let _ = write!(s, " scope {scope}");
    }
    if let Some(m) = r.metric {
        let _ = write!(s, " metric {m}");
    }
    if !r.ipv6 && r.onlink {
        s.push_str(" onlink");
    }
    let route_realms = r.realms.unwrap_or(0);
    if route_realms != 0 {
        realms(&mut s, route_realms, route_realms);
    }
    if let Some(e) = r.expires {
        let _ = write!(s, " expires {e}sec");
    }
    if let Some((name, lock)) = &r.congctl {
        // (keepalived writes the lock after the name, without a blank)
        let _ = write!(s, " congctl {name}{}", if *lock { "lock " } else { "" });
    }
    let metric = |k: RouteMetricKind| r.metrics.iter().find(|m| m.kind == k);
    let lock = |locked: bool| if locked { " lock" } else { "" };
    let lock_word = |locked: bool| if locked { "lock " } else { "" };
    if let Some(m) = metric(RouteMetricKind::Rtt) {
        let v = f64::from(m.value);
        let t = if m.value >= 8000 {
            format!("{}s", g(v / 8000.0))
        } else {
            format!("{}ms", g(v / 8.0))
        };
        let _ = write!(s, " rtt{} {t}", lock(m.lock));
    }
    if let Some(m) = metric(RouteMetricKind::Rttvar) {
        let v = f64::from(m.value);
        let t = if m.value >= 4000 {
            format!("{}s", g(v / 4000.0))
        } else {
            format!("{}ms", g(v / 4.0))
        };
        let _ = write!(s, " rttvar{} {t}", lock(m.lock));
    }
    if let Some(m) = metric(RouteMetricKind::RtoMin) {
        let t = if m.value >= 1000 {
            format!("{}s", g(f64::from(m.value) / 1000.0))
        } else {
            format!("{}ms", m.value)
        };
        let _ = write!(s, " rto_min{} {t}", lock(m.lock));
    }
    if metric(RouteMetricKind::Features).is_some_and(|m| m.value & 1 != 0) {
        s.push_str(" features ecn");
    }
    for (kind, word, lockable) in [
        (RouteMetricKind::Mtu, "mtu", true),
        (RouteMetricKind::Window, "window", false),
        (RouteMetricKind::Ssthresh, "ssthresh", true),
        (RouteMetricKind::Cwnd, "cwnd", true),
        (RouteMetricKind::Advmss, "advmss", true),
        (RouteMetricKind::Reordering, "reordering", true),
        (RouteMetricKind::Hoplimit, "hoplimit", false),
        (RouteMetricKind::Initcwnd, "initcwnd", false),
        (RouteMetricKind::Initrwnd, "initrwnd", false),
        (RouteMetricKind::Quickack, "quickack", false),
    ] {
        if let Some(m) = metric(kind) {
            let l = if lockable { lock_word(m.lock) } else { "" };
            let _ = write!(s, " {word} {l}{}", m.value);
        }
    }
    if let Some(p) = r.pref {
        let name = match p {
            3 => "low",
            0 => "medium",
            1 => "high",
            _ => "unknown",
        };
        let _ = write!(s, " pref {name}");
    }
    if let Some(m) = metric(RouteMetricKind::FastopenNoCookie) {
        let _ = write!(s, " fastopen_no_cookie {}", m.value);
    }
    for nh in &r.nexthops {
        next_hop(&mut s, route_realms, nh);
    }
    // keepalived cannot track a route without an interface: it is untracked.
    if r.no_track || r.dev.is_none() {
        s.push_str(" no_track");
    }
    s
}

/// One rule, as keepalived writes it after five blanks.
pub fn rule_line(r: &Rule) -> String {
    let mut s = String::new();
    if r.to.is_none() && r.from.is_none() && r.ipv6 {
        s.push_str("inet6 ");
    }
    if r.invert {
        s.push_str("not ");
    }
    match &r.from {
        Some(p) => {
            let _ = write!(s, "from {}", prefix(p));
        }
        None => s.push_str("from all"),
    }
    if let Some(p) = &r.to {
        let _ = write!(s, " to {}", prefix(p));
    }
    let _ = write!(s, " priority {} tos {:#x}", r.priority, r.tos);
    if r.fwmark.is_some() || r.fwmask.is_some() {
        let _ = write!(s, " fwmark {:#x}", r.fwmark.unwrap_or(0));
        if let Some(m) = r.fwmask.filter(|m| *m != u32::MAX) {
            let _ = write!(s, "/{m:#x}");
        }
    }
    if let Some(i) = &r.iif {
        let _ = write!(s, " iif {i}");
    }
    if let Some(o) = &r.oif {
        let _ = write!(s, " oif {o}");
    }
    if let Some(n) = r.suppress_prefixlen {
        let _ = write!(s, " suppress_prefixlen {n}");
    }
    if let Some(n) = r.suppress_ifgroup {
        let _ = write!(s, " suppress_ifgroup {n}");
    }
    if let Some(n) = r.tunnel_id.filter(|n| *n != 0) {
        let _ = write!(s, " tunnel-id {n}");
    }
    if let Some((a, b)) = r.uidrange {
        let _ = write!(s, " uidrange {a}-{b}");
    }
    if r.action == RuleAction::L3mdev {
        s.push_str(" l3mdev");
    }
    if let Some(p) = r.effective_protocol() {
        let _ = write!(s, " protocol {p}");
    }
    if let Some(p) = r.ipproto {
        let _ = write!(s, " ipproto {p}");
    }
    if let Some((a, b)) = r.sport {
        let _ = write!(s, " sport {a}-{b}");
    }
    if let Some((a, b)) = r.dport {
        let _ = write!(s, " dport {a}-{b}");
    }
    if let Some(v) = r.realms.filter(|v| *v != 0) {
        let _ = write!(s, " realms {}/{}", v >> 16, v & 0xffff);
    }
    match r.action {
        RuleAction::Table(t) => {
            let _ = write!(s, " lookup {t}");
        }
        // keepalived's l3mdev rule is a table lookup whose table is left 0.
        RuleAction::L3mdev => s.push_str(" lookup 0"),
        RuleAction::Goto(t) => {
            let _ = write!(s, " goto {t}");
        }
        RuleAction::Nop => s.push_str(" nop"),
        RuleAction::Blackhole => s.push_str(" type blackhole"),
        RuleAction::Unreachable => s.push_str(" type unreachable"),
        RuleAction::Prohibit => s.push_str(" type prohibit"),
    }
    if r.no_track {
        s.push_str(" no_track");
    }
    s
}

/// Routes, each on its own line after five blanks.
pub fn route_lines(out: &mut String, routes: &[Route]) {
    for r in routes {
        let _ = writeln!(out, "     {}", route_line(r));
    }
}

/// Rules, each on its own line after five blanks.
pub fn rule_lines(out: &mut String, rules: &[Rule]) {
    for r in rules {
        let _ = writeln!(out, "     {}", rule_line(r));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn routes_of(text: &str) -> (Vec<Route>, Vec<Rule>) {
        let loaded =
            crate::config::parse_str(text, std::path::Path::new("t.conf"), "x").expect("parses");
        let c = loaded.config;
        (c.static_routes, c.static_rules)
    }

    /// Lines keepalived 2.2.7 wrote for the same routes and rules in its keepalived.data
    /// (its doc/samples keepalived.conf.vrrp.routes and .rules, and a file of our own run
    /// beside lvsd).
    #[test]
    fn routes_and_rules_as_keepalived_writes_them() {
        let (routes, rules) = routes_of(
            "static_routes {\n\
             192.168.209.0/24 via 192.168.200.254 dev eth0 src 192.168.100.1\n\
             192.168.212.0/24 dev eth3 scope 200\n\
             192.168.113.0/24 via 192.168.100.252 or 192.168.100.253\n\
             blackhole 192.168.113.1/32\n\
             0.0.0.0/0 via 192.168.0.1 table 100\n\
             unreachable 10.1.2.4/32 append\n\
             10.1.4.0/24 via 198.18.0.254 protocol 50\n\
             10.1.5.0/24 dev eth0 realms 3/4 window 5 ssthresh lock 7\n\
             2001:888:2000:29::/64 dev eth1 src 2001:888:2000:29::89 metric 256\n\
             10.0.0.0/8 dev eth0 mtu lock 1400 rtt 300ms rto_min 2s features ecn append\n\
             }\n\
             static_rules {\n\
             from 192.168.100.0/24 table 1\n\
             to 10.1.0.0/16 fwmark 0x10/0xff priority 100 goto 200\n\
             not from 10.9.0.0/16 table 7 no_track\n\
             to 10.8.0.0/16 iif eth0 blackhole\n\
             }\n",
        );
        let lines: Vec<String> = routes.iter().map(route_line).collect();
        assert_eq!(
            lines,
            [
                "prepend 192.168.209.0/24 src 192.168.100.1 via inet 192.168.200.254 dev eth0 proto 18",
                "prepend 192.168.212.0/24 dev eth3 proto 18 scope 200",
                "prepend 192.168.113.0/24 proto 18 nexthop via inet 192.168.100.252 nexthop via inet 192.168.100.253 no_track",
                "add blackhole 192.168.113.1 proto 18 no_track",
                "prepend 0.0.0.0/0 via inet 192.168.0.1 table 100 proto 18 no_track",
                "append unreachable 10.1.2.4 proto 18 no_track",
                "prepend 10.1.4.0/24 via inet 198.18.0.254 proto 18 no_track",
                "prepend 10.1.5.0/24 dev eth0 proto 18 realms 3/4 window 5 ssthresh lock 7",
                "prepend 2001:888:2000:29::/64 src 2001:888:2000:29::89 dev eth1 proto 18 metric 256",
                "append 10.0.0.0/8 dev eth0 proto 18 rtt 300ms rto_min 2s features ecn mtu lock 1400",
            ]
        );
        let lines: Vec<String> = rules.iter().map(rule_line).collect();
        assert_eq!(
            lines,
            [
                "from 192.168.100.0/24 priority 16384 tos 0x0 protocol 18 lookup 1",
                "from all to 10.1.0.0/16 priority 100 tos 0x0 fwmark 0x10/0xff protocol 18 goto 200",
                "not from 10.9.0.0/16 priority 16383 tos 0x0 lookup 7 no_track",
                "from all to 10.8.0.0/16 priority 16382 tos 0x0 iif eth0 protocol 18 type blackhole",
            ]
        );
    }
}
