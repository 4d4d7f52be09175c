//! Builders for `static_ipaddress`, `static_routes`, `static_rules` (top level) and
//! `virtual_routes`, `virtual_rules` (vrrp_instance), in keepalived 2.2.7's syntax, which is
//! `ip route add` / `ip rule add` without abbreviations.
//!
//! As keepalived, a route or rule line that cannot be used is left out with a warning at
//! the word that is wrong (keepalived runs such files); options keepalived has that lvsd
//! does not implement are warned about as "not supported by lvsd".

use super::build::P;
use super::lexer::Tok;
use super::model::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A problem at word `.0` of a line.
type At = (usize, String);

/// Where rules without a preference start, counting down (per family), as keepalived.
const RULE_START_PRIORITY: u32 = 16384;

impl P<'_> {
    /// `static_ipaddress {}`, `static_routes {}`, `static_rules {}` at the top level.
    pub(crate) fn static_block(&mut self, toks: &[Tok], opens: bool) {
        if let Some(extra) = toks.get(1) {
            let kw = self.txt(toks[0]);
            self.problem(
                *extra,
                format!("`{kw}` takes no name; the words after it are ignored (as keepalived)"),
            );
        }
        if !self.need_block(toks, opens) {
            return;
        }
        match self.txt(toks[0]) {
            "static_ipaddress" => {
                let mut out = std::mem::take(&mut self.config.static_ipaddress);
                self.block(toks[0], |p, l, _| {
                    if let Some(v) = p.vip(l) {
                        out.push(v);
                    }
                });
                self.config.static_ipaddress = out;
            }
            "static_routes" => {
                let mut out = std::mem::take(&mut self.config.static_routes);
                self.routes_block(toks[0], &mut out);
                self.config.static_routes = out;
            }
            _ => {
                let mut out = std::mem::take(&mut self.config.static_rules);
                self.rules_block(toks[0], &mut out);
                self.config.static_rules = out;
            }
        }
    }

    /// The lines of a routes block (we are inside its `{`).
    pub(crate) fn routes_block(&mut self, open: Tok, out: &mut Vec<Route>) {
        // (names in the block may be looked up in iproute2's files)
        self.inputs.iproute2_names();
        self.block(open, |p, l, _| {
            let words: Vec<&str> = l.iter().map(|t| p.txt(*t)).collect();
            let (res, warnings) = parse_route(&words);
            for (i, w) in warnings {
                p.problem(l[i.min(l.len() - 1)], w);
            }
            match res {
                Ok(mut r) => {
                    r.span = p.sp(l[0]);
                    out.push(r);
                }
                Err((i, e)) => p.problem(
                    l[i.min(l.len() - 1)],
                    format!("{e}; the route is left out (as keepalived does)"),
                ),
            }
        });
    }

    /// `virtual_routes { … }` in a vrrp_instance.
    pub(crate) fn virtual_routes(&mut self, t: &[Tok], opens: bool, out: &mut Vec<Route>) {
        self.no_more(t, 1);
        if self.need_block(t, opens) {
            self.routes_block(t[0], out);
        }
    }

    /// `virtual_rules { … }` in a vrrp_instance.
    pub(crate) fn virtual_rules(&mut self, t: &[Tok], opens: bool, out: &mut Vec<Rule>) {
        self.no_more(t, 1);
        if self.need_block(t, opens) {
            self.rules_block(t[0], out);
        }
    }

    /// The lines of a rules block. `out` holds the rules already read in this block's
    /// owner (a preference keepalived assigns counts down over the whole file).
    pub(crate) fn rules_block(&mut self, open: Tok, out: &mut Vec<Rule>) {
        // (names in the block may be looked up in iproute2's files)
        self.inputs.iproute2_names();
        self.block(open, |p, l, _| {
            let words: Vec<&str> = l.iter().map(|t| p.txt(*t)).collect();
            let (res, warnings) = parse_rule(&words);
            for (i, w) in warnings {
                p.problem(l[i.min(l.len() - 1)], w);
            }
            match res {
                Ok(mut r) => {
                    r.span = p.sp(l[0]);
                    if r.auto_priority {
                        let earlier = p
                            .config
                            .static_rules
                            .iter()
                            .chain(p.config.instances.iter().flat_map(|i| &i.virtual_rules))
                            .chain(out.iter())
                            .filter(|o| o.auto_priority && o.ipv6 == r.ipv6)
                            .count() as u32;
                        r.priority = RULE_START_PRIORITY.saturating_sub(earlier);
                        p.problem(
                            l[0],
                            format!(
                                "rule has no preference; keepalived gives it {} (write `preference N` to choose)",
                                r.priority
                            ),
                        );
                    }
                    out.push(r);
                }
                Err((i, e)) => p.problem(
                    l[i.min(l.len() - 1)],
                    format!("{e}; the rule is left out (as keepalived does)"),
                ),
            }
        });
    }
}

// ---- the words of one line -----------------------------------------------------------

/// The next word after `i`, or an error naming the option that needs it.
fn value<'a>(w: &[&'a str], i: usize, what: &str) -> Result<&'a str, At> {
    w.get(i + 1)
        .copied()
        .ok_or_else(|| (i, format!("`{what}` needs a value")))
}

/// A whole number (decimal, or 0x… hex as keepalived's strtoul) up to `max`.
fn number(s: &str, max: u64) -> Option<u64> {
    let v = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(h) => u64::from_str_radix(h, 16).ok()?,
        None => s.parse::<u64>().ok()?,
    };
    (v <= max).then_some(v)
}

fn num_at(w: &[&str], i: usize, what: &str, max: u64) -> Result<u64, At> {
    let s = value(w, i, what)?;
    number(s, max).ok_or_else(|| (i + 1, format!("{what}: `{s}` is not a number 0-{max}")))
}

/// `ADDR[/LEN]`, `default`, `any`, `all` (the family's /0; family None until known).
fn prefix(s: &str) -> Option<(Option<IpAddr>, u8)> {
    if matches!(s, "default" | "any" | "all") {
        return Some((None, 0));
    }
    if s == "default6" {
        return Some((Some(IpAddr::V6(Ipv6Addr::UNSPECIFIED)), 0));
    }
    let (a, len) = match s.split_once('/') {
        Some((a, l)) => (a, Some(l)),
        None => (s, None),
    };
    let addr: IpAddr = a.parse().ok()?;
    let max = if addr.is_ipv4() { 32 } else { 128 };
    let len = match len {
        None => max,
        Some(l) => match l.parse::<u8>() {
            Ok(n) if n <= max => n,
            _ => return None,
        },
    };
    Some((Some(addr), len))
}

fn unspecified(v6: bool) -> IpAddr {
    if v6 {
        IpAddr::V6(Ipv6Addr::UNSPECIFIED)
    } else {
        IpAddr::V4(Ipv4Addr::UNSPECIFIED)
    }
}

/// Sets the line's family (None: not known yet), or says the mix is wrong.
fn family(fam: &mut Option<bool>, v6: bool, at: usize) -> Result<(), At> {
    match *fam {
        None => {
            *fam = Some(v6);
            Ok(())
        }
        Some(f) if f == v6 => Ok(()),
        Some(_) => Err((at, "IPv4 and IPv6 mixed in one line".to_string())),
    }
}

/// Looks `name` up in iproute2's name files (`rt_tables`, `rt_protos`, …), in /etc and
/// /usr/share, with their `.d` directories.
fn iproute2_name(file: &str, name: &str) -> Option<u32> {
    let mut paths = Vec::new();
    for dir in super::inputs::IPROUTE2_DIRS {
        paths.push(std::path::PathBuf::from(format!("{dir}/{file}")));
        if let Ok(rd) = std::fs::read_dir(format!("{dir}/{file}.d")) {
            let mut more: Vec<_> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
            more.sort();
            paths.extend(
                more.into_iter()
                    .filter(|p| p.extension().is_some_and(|e| e == "conf")),
            );
        }
    }
    for p in paths {
        let Ok(text) = std::fs::read_to_string(&p) else {
            continue;
        };
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut it = line.split_whitespace();
            if let (Some(id), Some(n), None) = (it.next(), it.next(), it.next()) {
                if n == name {
                    if let Some(v) = number(id, u32::MAX as u64) {
                        return Some(v as u32);
                    }
                }
            }
        }
    }
    None
}

/// A table: a number or a name (`default` 253, `main` 254, `local` 255, rt_tables).
pub fn table_id(s: &str) -> Option<u32> {
    if let Some(v) = number(s, u32::MAX as u64) {
        return Some(v as u32);
    }
    match s {
        "default" => Some(253),
        "main" => Some(254),
        "local" => Some(255),
        _ => iproute2_name("rt_tables", s),
    }
}

const PROTOCOLS: [(&str, u8); 15] = [
    ("none", 0),
    ("redirect", 1),
    ("kernel", 2),
    ("boot", 3),
    ("static", 4),
    ("gated", 8),
    ("ra", 9),
    ("mrt", 10),
    ("zebra", 11),
    ("bird", 12),
    ("dnrouted", 13),
    ("xorp", 14),
    ("ntk", 15),
    ("dhcp", 16),
    ("babel", 42),
];

/// A route protocol: a number or a name (`kernel`, `static`, `bird`, …, rt_protos).
pub fn protocol_id(s: &str) -> Option<u8> {
    if let Some(v) = number(s, 255) {
        return Some(v as u8);
    }
    if s == "keepalived" {
        return Some(RTPROT_KEEPALIVED);
    }
    PROTOCOLS
        .iter()
        .find(|(n, _)| *n == s)
        .map(|(_, v)| *v)
        .or_else(|| iproute2_name("rt_protos", s).and_then(|v| u8::try_from(v).ok()))
}

/// A protocol number as `ip route` shows it (for the printer).
pub fn protocol_name(p: u8) -> String {
    match PROTOCOLS.iter().find(|(_, v)| *v == p) {
        Some((n, _)) => n.to_string(),
        None => p.to_string(),
    }
}

/// A route scope: a number or `global`, `site`, `link`, `host`, `nowhere`.
pub fn scope_id(s: &str) -> Option<u8> {
    match s {
        "global" | "universe" => Some(0),
        "site" => Some(200),
        "link" => Some(253),
        "host" => Some(254),
        "nowhere" => Some(255),
        _ => number(s, 255)
            .map(|v| v as u8)
            .or_else(|| iproute2_name("rt_scopes", s).and_then(|v| u8::try_from(v).ok())),
    }
}

fn dsfield(s: &str) -> Option<u8> {
    // `tos 22` is hex in iproute2 (and keepalived): rt_dsfield values are hex.
    let h = s.strip_prefix("0x").unwrap_or(s);
    u8::from_str_radix(h, 16)
        .ok()
        .or_else(|| iproute2_name("rt_dsfield", s).and_then(|v| u8::try_from(v).ok()))
}

/// `REALM` or `FROM/TO` (names from rt_realms): TO in the low 16 bits.
fn realms(s: &str) -> Option<u32> {
    let one = |r: &str| -> Option<u32> {
        number(r, 0xffff)
            .map(|v| v as u32)
            .or_else(|| iproute2_name("rt_realms", r).filter(|v| *v <= 0xffff))
    };
    match s.split_once('/') {
        Some((from, to)) => Some((one(from)? << 16) | one(to)?),
        None => one(s),
    }
}

/// keepalived's `rtt`/`rttvar`/`rto_min` value: plain (kernel units) or with `s`/`ms`,
/// clamped to 0.2-120 s. `mult` is the kernel's units per ms (8, 4, 1).
fn time_rtt(s: &str, mult: u32) -> Option<u32> {
    let lower = s.to_ascii_lowercase();
    let (num, unit_ms) = if let Some(n) = lower.strip_suffix("ms") {
        (n, Some(1.0))
    } else if let Some(n) = lower
        .strip_suffix("secs")
        .or_else(|| lower.strip_suffix("sec"))
        .or_else(|| lower.strip_suffix('s'))
    {
        (n, Some(1000.0))
    } else {
        (lower.as_str(), None)
    };
    if num.is_empty() || num.contains(['e', '-', '+']) {
        return None;
    }
    let v: f64 = num.parse().ok()?;
    let raw = match unit_ms {
        Some(ms) => v * ms * mult as f64,
        None if num.contains('.') => return None,
        None => v,
    };
    let (lo, hi) = (200.0 * mult as f64, 120_000.0 * mult as f64);
    if unit_ms.is_none() && raw > hi {
        return None;
    }
    Some(raw.clamp(lo, hi) as u32)
}

/// keepalived 2.2.7 steps over the word after a leading `inet`/`inet6` (a bug: `inet6
/// default dev eth0` loses its destination there); lvsd reads the line as documented.
fn skipped_by_keepalived(w: &[&str], i: usize, warnings: &mut Vec<At>) {
    if let Some(next) = w.get(i + 1) {
        warnings.push((
            i,
            format!(
                "keepalived 2.2.7 skips the word after `{}` (`{next}`) and may drop or change this line; lvsd reads it as written",
                w[i]
            ),
        ));
    }
}

/// Parses one `static_routes` / `virtual_routes` line (keepalived's `alloc_route`).
/// Returns the route (span unset) or the problem that leaves it out, and warnings.
pub fn parse_route(w: &[&str]) -> (Result<Route, At>, Vec<At>) {
    let mut warnings = Vec::new();
    let r = parse_route_inner(w, &mut warnings);
    (r, warnings)
}

fn parse_route_inner(w: &[&str], warnings: &mut Vec<At>) -> Result<Route, At> {
    let mut fam: Option<bool> = None;
    let mut dst: Option<(Option<IpAddr>, u8)> = None;
    let mut r = Route {
        span: Span::default(),
        ipv6: false,
        rtype: None,
        dst: IpPrefix {
            addr: unspecified(false),
            len: 0,
        },
        src: None,
        from: None,
        via: None,
        dev: None,
        table: 254,
        protocol: None,
        scope: None,
        metric: None,
        tos: None,
        onlink: false,
        metrics: Vec::new(),
        congctl: None,
        realms: None,
        pref: None,
        expires: None,
        nexthops: Vec::new(),
        mode: RouteAddMode::Prepend,
        no_track: false,
    };
    let addr_at = |w: &[&str], i: usize, what: &str| -> Result<IpAddr, At> {
        let s = value(w, i, what)?;
        s.parse::<IpAddr>()
            .map_err(|_| (i + 1, format!("{what}: bad IP address `{s}`")))
    };
    let mut i = 0;
    while i < w.len() {
        let word = w[i];
        if let Some(k) = RouteMetricKind::ALL
            .into_iter()
            .find(|k| k.keyword() == word)
        {
            let mut lock = false;
            let mut j = i;
            if k.lockable() && w.get(i + 1) == Some(&"lock") {
                lock = true;
                j += 1;
            }
            let s = value(w, j, word)?;
            let v = match k {
                RouteMetricKind::Features => match s {
                    "ecn" => Some(1),
                    _ => {
                        warnings.push((
                            j + 1,
                            format!("features: `{s}` is not supported (only ecn)"),
                        ));
                        i = j + 2;
                        continue;
                    }
                },
                RouteMetricKind::Rtt => time_rtt(s, 8),
                RouteMetricKind::Rttvar => time_rtt(s, 4),
                RouteMetricKind::RtoMin => time_rtt(s, 1),
                RouteMetricKind::Hoplimit => number(s, 255).map(|v| v as u32),
                RouteMetricKind::Quickack | RouteMetricKind::FastopenNoCookie => {
                    number(s, 1).map(|v| v as u32)
                }
                _ => number(s, u32::MAX as u64).map(|v| v as u32),
            };
            let Some(value) = v else {
                return Err((j + 1, format!("{word}: bad value `{s}`")));
            };
            r.metrics.retain(|m| m.kind != k);
            r.metrics.push(RouteMetricValue {
                kind: k,
                value,
                lock,
            });
            i = j + 2;
            continue;
        }
        match word {
            "inet" | "inet6" => {
                family(&mut fam, word == "inet6", i)?;
                skipped_by_keepalived(w, i, warnings);
            }
            "src" => {
                let a = addr_at(w, i, "src")?;
                family(&mut fam, a.is_ipv6(), i + 1)?;
                r.src = Some(a);
                i += 1;
            }
            "via" | "gw" => {
                if word == "gw" {
                    warnings.push((i, "\"gw\" for routes is deprecated; use \"via\"".into()));
                }
                let mut j = i;
                if matches!(w.get(i + 1), Some(&"inet") | Some(&"inet6")) {
                    j += 1;
                }
                let a = addr_at(w, j, word)?;
                family(&mut fam, a.is_ipv6(), j + 1)?;
                r.via = Some(a);
                i = j + 1;
            }
            "from" => {
                let s = value(w, i, "from")?;
                let Some((Some(a), len)) = prefix(s) else {
                    return Err((i + 1, format!("from: bad prefix `{s}`")));
                };
                if !a.is_ipv6() {
                    return Err((i + 1, "route `from` is only supported with IPv6".into()));
                }
                family(&mut fam, true, i + 1)?;
                r.from = Some(IpPrefix { addr: a, len });
                i += 1;
            }
            "tos" | "dsfield" => {
                let s = value(w, i, word)?;
                r.tos = Some(dsfield(s).ok_or((i + 1, format!("TOS value `{s}` is invalid")))?);
                i += 1;
            }
            "table" => {
                let s = value(w, i, "table")?;
                r.table = table_id(s).ok_or((i + 1, format!("routing table `{s}` not found")))?;
                i += 1;
            }
            "protocol" | "proto" => {
                let s = value(w, i, word)?;
                r.protocol = Some(
                    protocol_id(s)
                        .ok_or((i + 1, format!("protocol `{s}` not found or invalid")))?,
                );
                i += 1;
            }
            "scope" => {
                let s = value(w, i, "scope")?;
                r.scope =
                    Some(scope_id(s).ok_or((i + 1, format!("scope `{s}` not found or invalid")))?);
                i += 1;
            }
            "metric" | "priority" | "preference" => {
                r.metric = Some(num_at(w, i, word, u32::MAX as u64)? as u32);
                i += 1;
            }
            "dev" | "oif" => {
                r.dev = Some(value(w, i, word)?.to_string());
                i += 1;
            }
            "onlink" => r.onlink = true,
            "realms" => {
                let s = value(w, i, "realms")?;
                r.realms = Some(realms(s).ok_or((i + 1, format!("invalid realms `{s}`")))?);
                family(&mut fam, false, i)?;
                i += 1;
            }
            "congctl" => {
                let mut j = i;
                let lock = w.get(i + 1) == Some(&"lock");
                if lock {
                    j += 1;
                }
                r.congctl = Some((value(w, j, "congctl")?.to_string(), lock));
                i = j + 1;
            }
            "pref" => {
                let s = value(w, i, "pref")?;
                let v = match s {
                    "low" => 3,
                    "medium" => 0,
                    "high" => 1,
                    _ => number(s, 255).ok_or((i + 1, format!("invalid pref `{s}`")))? as u8,
                };
                family(&mut fam, true, i)?;
                r.pref = Some(v);
                i += 1;
            }
            "expires" => {
                r.expires = Some(num_at(w, i, "expires", u32::MAX as u64)? as u32);
                family(&mut fam, true, i)?;
                i += 1;
            }
            "add" => r.mode = RouteAddMode::Add,
            "prepend" => r.mode = RouteAddMode::Prepend,
            "append" => r.mode = RouteAddMode::Append,
            "no_track" => r.no_track = true,
            "or" => {
                warnings.push((i, "\"or\" for routes is deprecated; use \"nexthop\"".into()));
                let a = addr_at(w, i, "or")?;
                if !r.nexthops.is_empty() {
                    warnings.push((i, "a second \"or\" is ignored (as keepalived)".into()));
                } else {
                    r.nexthops.push(NextHop {
                        via: r.via.take(),
                        ..NextHop::default()
                    });
                    r.nexthops.push(NextHop {
                        via: Some(a),
                        ..NextHop::default()
                    });
                }
                i += 1;
            }
            "nexthop" => {
                if !r.nexthops.is_empty() {
                    return Err((i, "nexthop cannot follow \"or\"".into()));
                }
                parse_nexthops(w, i, &mut r, &mut fam)?;
                break;
            }
            "track_group" => {
                warnings.push((
                    i,
                    "`track_group` is not supported by lvsd (ignored: the route is not tracked)"
                        .into(),
                ));
                i += 1;
            }
            "encap" | "vrf" | "as" | "ttl-propagate" => {
                return Err((i, format!("route option `{word}` is not supported by lvsd")));
            }
            _ => {
                let mut j = i;
                if word == "to" {
                    j += 1;
                }
                if let Some(t) = w.get(j).and_then(|s| RouteType::from_name(s)) {
                    r.rtype = Some(t);
                    j += 1;
                }
                let Some(s) = w.get(j) else {
                    return Err((i, format!("route: `{word}` needs a destination")));
                };
                let Some(p) = prefix(s) else {
                    return Err((j, format!("unknown route keyword or bad destination `{s}`")));
                };
                if let Some(a) = p.0 {
                    family(&mut fam, a.is_ipv6(), j)?;
                }
                dst = Some(p);
                i = j;
            }
        }
        i += 1;
    }
    let Some((dst_addr, dst_len)) = dst else {
        return Err((0, "route has no destination".into()));
    };
    if r.protocol.is_some_and(|p| p != RTPROT_KEEPALIVED) && !r.no_track {
        warnings.push((
            0,
            "a tracked route gets protocol keepalived (18), as keepalived does; add no_track to keep the protocol written".into(),
        ));
    }
    r.ipv6 = fam.unwrap_or(false);
    r.dst = IpPrefix {
        addr: dst_addr.unwrap_or(unspecified(r.ipv6)),
        len: dst_len,
    };
    Ok(r)
}

fn parse_nexthops(
    w: &[&str],
    mut i: usize,
    r: &mut Route,
    fam: &mut Option<bool>,
) -> Result<(), At> {
    while i < w.len() && w[i] == "nexthop" {
        i += 1;
        let mut nh = NextHop::default();
        while i < w.len() {
            match w[i] {
                "via" => {
                    if matches!(w.get(i + 1), Some(&"inet") | Some(&"inet6")) {
                        i += 1;
                    }
                    let s = value(w, i, "via")?;
                    let a: IpAddr = s
                        .parse()
                        .map_err(|_| (i + 1, format!("invalid nexthop address `{s}`")))?;
                    family(fam, a.is_ipv6(), i + 1)?;
                    nh.via = Some(a);
                    i += 1;
                }
                "dev" => {
                    nh.dev = Some(value(w, i, "dev")?.to_string());
                    i += 1;
                }
                "weight" => {
                    let v = num_at(w, i, "weight", 256)?;
                    if v == 0 {
                        return Err((i + 1, "nexthop weight 0 is invalid (1-256)".into()));
                    }
                    nh.weight = Some(v as u16);
                    i += 1;
                }
                "onlink" => nh.onlink = true,
                "realms" => {
                    let s = value(w, i, "realms")?;
                    nh.realms = Some(realms(s).ok_or((i + 1, format!("invalid realms `{s}`")))?);
                    family(fam, false, i)?;
                    i += 1;
                }
                "encap" | "as" => {
                    return Err((
                        i,
                        format!("nexthop option `{}` is not supported by lvsd", w[i]),
                    ));
                }
                _ => break,
            }
            i += 1;
        }
        r.nexthops.push(nh);
    }
    if let Some(s) = w.get(i) {
        return Err((
            i,
            format!("route has trailing nonsense after nexthops: `{s}`"),
        ));
    }
    Ok(())
}

/// Parses one `static_rules` / `virtual_rules` line (keepalived's `alloc_rule`). A rule
/// without a preference comes back with `auto_priority` set (the caller numbers it).
pub fn parse_rule(w: &[&str]) -> (Result<Rule, At>, Vec<At>) {
    let mut warnings = Vec::new();
    let r = parse_rule_inner(w, &mut warnings);
    (r, warnings)
}

fn parse_rule_inner(w: &[&str], warnings: &mut Vec<At>) -> Result<Rule, At> {
    let mut fam: Option<bool> = None;
    let mut from: Option<(Option<IpAddr>, u8)> = None;
    let mut to: Option<(Option<IpAddr>, u8)> = None;
    let mut action: Option<RuleAction> = None;
    let mut table_option = false;
    let mut r = Rule {
        span: Span::default(),
        ipv6: false,
        invert: false,
        from: None,
        to: None,
        priority: 0,
        auto_priority: true,
        tos: 0,
        fwmark: None,
        fwmask: None,
        realms: None,
        suppress_prefixlen: None,
        suppress_ifgroup: None,
        iif: None,
        oif: None,
        tunnel_id: None,
        uidrange: None,
        protocol: None,
        ipproto: None,
        sport: None,
        dport: None,
        action: RuleAction::Nop,
        no_track: false,
    };
    let set_action = |action: &mut Option<RuleAction>, a: RuleAction, at: usize| {
        if action.is_some() {
            return Err((
                at,
                "only one of table/lookup/goto/nop/blackhole/prohibit/unreachable/l3mdev may be given"
                    .to_string(),
            ));
        }
        *action = Some(a);
        Ok(())
    };
    let port_range = |s: &str| -> Option<(u16, u16)> {
        match s.split_once('-') {
            Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
            None => {
                let p = s.parse().ok()?;
                Some((p, p))
            }
        }
    };
    let mut i = 0;
    while i < w.len() {
        let word = w[i];
        match word {
            "inet" | "inet6" => {
                family(&mut fam, word == "inet6", i)?;
                skipped_by_keepalived(w, i, warnings);
            }
            "from" | "to" => {
                let s = value(w, i, word)?;
                let p = prefix(s).ok_or((i + 1, format!("invalid rule {word} address `{s}`")))?;
                if let Some(a) = p.0 {
                    family(&mut fam, a.is_ipv6(), i + 1)?;
                }
                if word == "from" {
                    from = Some(p);
                } else {
                    to = Some(p);
                }
                i += 1;
            }
            "table" | "lookup" => {
                let s = value(w, i, word)?;
                let t = table_id(s).ok_or((i + 1, format!("routing table `{s}` not found")))?;
                if t == 0 {
                    return Err((i + 1, "table 0 is not valid".into()));
                }
                set_action(&mut action, RuleAction::Table(t), i)?;
                i += 1;
            }
            "not" => r.invert = true,
            "preference" | "order" | "priority" => {
                r.priority = num_at(w, i, word, u32::MAX as u64)? as u32;
                r.auto_priority = false;
                i += 1;
            }
            "tos" | "dsfield" => {
                let s = value(w, i, word)?;
                r.tos = dsfield(s).ok_or((i + 1, format!("TOS value `{s}` is invalid")))?;
                i += 1;
            }
            "fwmark" => {
                let s = value(w, i, "fwmark")?;
                let bad = || (i + 1, format!("invalid rule fwmark `{s}`"));
                let (m, mask) = match s.split_once('/') {
                    Some((m, k)) => (m, Some(k)),
                    None => (s, None),
                };
                r.fwmark = Some(number(m, u32::MAX as u64).ok_or_else(bad)? as u32);
                r.fwmask = match mask {
                    Some(k) => Some(number(k, u32::MAX as u64).ok_or_else(bad)? as u32),
                    None => None,
                };
                i += 1;
            }
            "realms" => {
                let s = value(w, i, "realms")?;
                r.realms = Some(realms(s).ok_or((i + 1, format!("invalid realms `{s}`")))?);
                table_option = true;
                family(&mut fam, false, i)?;
                i += 1;
            }
            "suppress_prefixlength" | "sup_pl" => {
                r.suppress_prefixlen = Some(num_at(w, i, word, i32::MAX as u64)? as u32);
                table_option = true;
                i += 1;
            }
            "suppress_ifgroup" | "sup_group" => {
                let s = value(w, i, word)?;
                let g = number(s, u32::MAX as u64)
                    .map(|v| v as u32)
                    .or_else(|| iproute2_name("group", s))
                    .ok_or((i + 1, format!("suppress_ifgroup `{s}` is invalid")))?;
                r.suppress_ifgroup = Some(g);
                table_option = true;
                i += 1;
            }
            "dev" | "iif" => {
                r.iif = Some(value(w, i, word)?.to_string());
                i += 1;
            }
            "oif" => {
                r.oif = Some(value(w, i, word)?.to_string());
                i += 1;
            }
            "tunnel-id" => {
                r.tunnel_id = Some(num_at(w, i, word, u64::MAX)?);
                i += 1;
            }
            "uidrange" => {
                let s = value(w, i, word)?;
                let range = s
                    .split_once('-')
                    .and_then(|(a, b)| Some((a.parse().ok()?, b.parse().ok()?)))
                    .ok_or((i + 1, format!("invalid uidrange `{s}` (FROM-TO)")))?;
                r.uidrange = Some(range);
                i += 1;
            }
            "l3mdev" => set_action(&mut action, RuleAction::L3mdev, i)?,
            "protocol" => {
                let s = value(w, i, word)?;
                match number(s, 255) {
                    Some(v) => r.protocol = Some(v as u8),
                    None => warnings.push((i + 1, format!("invalid protocol `{s}` (ignored)"))),
                }
                i += 1;
            }
            "ipproto" => {
                let s = value(w, i, word)?;
                let v = number(s, 255)
                    .map(|v| v as u8)
                    .or(match s.to_ascii_lowercase().as_str() {
                        "icmp" => Some(1),
                        "tcp" => Some(6),
                        "udp" => Some(17),
                        "gre" => Some(47),
                        "esp" => Some(50),
                        "ah" => Some(51),
                        "ipv6-icmp" | "icmpv6" => Some(58),
                        "sctp" => Some(132),
                        _ => None,
                    });
                match v {
                    Some(v) => r.ipproto = Some(v),
                    None => warnings.push((i + 1, format!("invalid ipproto `{s}` (ignored)"))),
                }
                i += 1;
            }
            "sport" | "dport" => {
                let s = value(w, i, word)?;
                match port_range(s) {
                    Some(p) if word == "sport" => r.sport = Some(p),
                    Some(p) => r.dport = Some(p),
                    None => warnings.push((i + 1, format!("invalid {word} range `{s}` (ignored)"))),
                }
                i += 1;
            }
            "no_track" => r.no_track = true,
            "track_group" => {
                warnings.push((
                    i,
                    "`track_group` is not supported by lvsd (ignored: the rule is not tracked)"
                        .into(),
                ));
                i += 1;
            }
            _ => {
                let mut j = i;
                if word == "type" {
                    j += 1;
                }
                let a = match w.get(j).copied() {
                    Some("goto") => {
                        let t = num_at(w, j, "goto", u32::MAX as u64)? as u32;
                        j += 1;
                        RuleAction::Goto(t)
                    }
                    Some("nop") => RuleAction::Nop,
                    Some("blackhole") => RuleAction::Blackhole,
                    Some("unreachable") => RuleAction::Unreachable,
                    Some("prohibit") => RuleAction::Prohibit,
                    Some(other) => return Err((j, format!("unknown rule option `{other}`"))),
                    None => return Err((i, format!("`{word}` needs a value"))),
                };
                set_action(&mut action, a, i)?;
                i = j;
            }
        }
        i += 1;
    }
    let Some(action) = action else {
        return Err((0, "no action given for the rule (table, goto, …)".into()));
    };
    if let RuleAction::Goto(t) = action {
        if r.auto_priority {
            return Err((0, format!("goto {t} needs a preference")));
        }
        if r.priority >= t {
            return Err((
                0,
                format!(
                    "preference {} must be below the goto target {t}",
                    r.priority
                ),
            ));
        }
    }
    if table_option && !matches!(action, RuleAction::Table(_)) {
        return Err((0, "realms/suppress_* need a table action".into()));
    }
    if r.protocol.is_some_and(|p| p != RTPROT_KEEPALIVED) && !r.no_track {
        warnings.push((
            0,
            "a tracked rule gets protocol keepalived (18), as keepalived does; add no_track to keep the protocol written".into(),
        ));
    }
    r.action = action;
    r.ipv6 = fam.unwrap_or(false);
    let v6 = r.ipv6;
    let pf = |p: (Option<IpAddr>, u8)| IpPrefix {
        addr: p.0.unwrap_or(unspecified(v6)),
        len: p.1,
    };
    r.from = from.map(pf);
    r.to = to.map(pf);
    Ok(r)
}

// ---- back to text (`lvsd -d`) --------------------------------------------------------

/// A route as one `static_routes` / `virtual_routes` line that parses back to it.
pub fn route_line(r: &Route) -> String {
    let mut s = String::new();
    let mut add = |x: String| {
        if !s.is_empty() {
            s.push(' ');
        }
        s.push_str(&x);
    };
    if r.ipv6 {
        add("inet6".into());
    }
    if let Some(t) = r.rtype {
        add(t.name().into());
    }
    add(r.dst.to_string());
    if let Some(a) = r.src {
        add(format!("src {a}"));
    }
    if let Some(f) = r.from {
        add(format!("from {f}"));
    }
    if let Some(v) = r.via {
        add(format!("via {v}"));
    }
    if let Some(d) = &r.dev {
        add(format!("dev {d}"));
    }
    if r.table != 254 {
        add(format!("table {}", r.table));
    }
    if let Some(p) = r.protocol {
        add(format!("protocol {}", protocol_name(p)));
    }
    if let Some(sc) = r.scope {
        add(format!("scope {sc}"));
    }
    if let Some(m) = r.metric {
        add(format!("metric {m}"));
    }
    if let Some(t) = r.tos {
        add(format!("tos 0x{t:02x}"));
    }
    if r.onlink {
        add("onlink".into());
    }
    for m in &r.metrics {
        let lock = if m.lock { "lock " } else { "" };
        let v = match m.kind {
            RouteMetricKind::Features => "ecn".to_string(),
            RouteMetricKind::Rtt => format!("{}ms", m.value / 8),
            RouteMetricKind::Rttvar => format!("{}ms", m.value / 4),
            RouteMetricKind::RtoMin => format!("{}ms", m.value),
            _ => m.value.to_string(),
        };
        add(format!("{} {lock}{v}", m.kind.keyword()));
    }
    if let Some((c, lock)) = &r.congctl {
        add(format!("congctl {}{c}", if *lock { "lock " } else { "" }));
    }
    if let Some(x) = r.realms {
        add(format!("realms {}/{}", x >> 16, x & 0xffff));
    }
    if let Some(p) = r.pref {
        add(format!("pref {p}"));
    }
    if let Some(e) = r.expires {
        add(format!("expires {e}"));
    }
    match r.mode {
        RouteAddMode::Prepend => {}
        RouteAddMode::Add => add("add".into()),
        RouteAddMode::Append => add("append".into()),
    }
    if r.no_track {
        add("no_track".into());
    }
    for nh in &r.nexthops {
        add("nexthop".into());
        if let Some(v) = nh.via {
            add(format!("via {v}"));
        }
        if let Some(d) = &nh.dev {
            add(format!("dev {d}"));
        }
        if let Some(wt) = nh.weight {
            add(format!("weight {wt}"));
        }
        if nh.onlink {
            add("onlink".into());
        }
        if let Some(x) = nh.realms {
            add(format!("realms {}/{}", x >> 16, x & 0xffff));
        }
    }
    s
}

/// A rule as one `static_rules` / `virtual_rules` line that parses back to it.
pub fn rule_line(r: &Rule) -> String {
    let mut s: Vec<String> = Vec::new();
    if r.ipv6 {
        s.push("inet6".into());
    }
    if r.invert {
        s.push("not".into());
    }
    if let Some(f) = r.from {
        s.push(format!("from {f}"));
    }
    if let Some(t) = r.to {
        s.push(format!("to {t}"));
    }
    if !r.auto_priority {
        s.push(format!("preference {}", r.priority));
    }
    if r.tos != 0 {
        s.push(format!("tos 0x{:02x}", r.tos));
    }
    if let Some(m) = r.fwmark {
        match r.fwmask {
            Some(k) => s.push(format!("fwmark 0x{m:x}/0x{k:x}")),
            None => s.push(format!("fwmark 0x{m:x}")),
        }
    }
    if let Some(x) = r.realms {
        s.push(format!("realms {}/{}", x >> 16, x & 0xffff));
    }
    if let Some(x) = r.suppress_prefixlen {
        s.push(format!("suppress_prefixlength {x}"));
    }
    if let Some(x) = r.suppress_ifgroup {
        s.push(format!("suppress_ifgroup {x}"));
    }
    if let Some(d) = &r.iif {
        s.push(format!("iif {d}"));
    }
    if let Some(d) = &r.oif {
        s.push(format!("oif {d}"));
    }
    if let Some(x) = r.tunnel_id {
        s.push(format!("tunnel-id {x}"));
    }
    if let Some((a, b)) = r.uidrange {
        s.push(format!("uidrange {a}-{b}"));
    }
    if let Some(p) = r.protocol {
        s.push(format!("protocol {p}"));
    }
    if let Some(p) = r.ipproto {
        s.push(format!("ipproto {p}"));
    }
    if let Some((a, b)) = r.sport {
        s.push(format!("sport {a}-{b}"));
    }
    if let Some((a, b)) = r.dport {
        s.push(format!("dport {a}-{b}"));
    }
    s.push(match r.action {
        RuleAction::Table(t) => format!("table {t}"),
        RuleAction::L3mdev => "l3mdev".into(),
        RuleAction::Goto(t) => format!("goto {t}"),
        RuleAction::Nop => "nop".into(),
        RuleAction::Blackhole => "blackhole".into(),
        RuleAction::Unreachable => "unreachable".into(),
        RuleAction::Prohibit => "prohibit".into(),
    });
    if r.no_track {
        s.push("no_track".into());
    }
    s.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(line: &str) -> Route {
        let w: Vec<&str> = line.split_whitespace().collect();
        match parse_route(&w).0 {
            Ok(r) => r,
            Err((i, e)) => panic!("{line}: word {i}: {e}"),
        }
    }

    fn route_err(line: &str) -> At {
        let w: Vec<&str> = line.split_whitespace().collect();
        match parse_route(&w).0 {
            Ok(r) => panic!("{line}: accepted as {r:?}"),
            Err(e) => e,
        }
    }

    fn rule(line: &str) -> Rule {
        let w: Vec<&str> = line.split_whitespace().collect();
        match parse_rule(&w).0 {
            Ok(r) => r,
            Err((i, e)) => panic!("{line}: word {i}: {e}"),
        }
    }

    fn rule_err(line: &str) -> At {
        let w: Vec<&str> = line.split_whitespace().collect();
        match parse_rule(&w).0 {
            Ok(r) => panic!("{line}: accepted as {r:?}"),
            Err(e) => e,
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn pfx(s: &str) -> IpPrefix {
        let (a, l) = s.split_once('/').unwrap();
        IpPrefix {
            addr: ip(a),
            len: l.parse().unwrap(),
        }
    }

    #[test]
    fn man_page_route_forms() {
        let r = route("src 192.168.100.1 to 192.168.109.0/24 via 192.168.200.254 dev eth1");
        assert_eq!(r.src, Some(ip("192.168.100.1")));
        assert_eq!(r.dst, pfx("192.168.109.0/24"));
        assert_eq!(r.via, Some(ip("192.168.200.254")));
        assert_eq!(r.dev.as_deref(), Some("eth1"));
        assert_eq!((r.table, r.ipv6, r.rtype), (254, false, None));
        assert_eq!(r.effective_protocol(), RTPROT_KEEPALIVED);

        let r = route("192.168.111.0/24 dev eth2 no_track");
        assert!(r.no_track && r.via.is_none());

        let r = route("192.168.113.0/24 via 192.168.200.254 or 192.168.100.254 dev eth1");
        assert_eq!(r.via, None);
        assert_eq!(
            r.nexthops.iter().map(|n| n.via).collect::<Vec<_>>(),
            vec![Some(ip("192.168.200.254")), Some(ip("192.168.100.254"))]
        );

        let r = route("blackhole 192.168.114.0/24");
        assert_eq!(r.rtype, Some(RouteType::Blackhole));
        assert_eq!(r.dst, pfx("192.168.114.0/24"));

        let r = route("0.0.0.0/0 gw 192.168.0.1 table 100");
        assert_eq!((r.dst, r.table), (pfx("0.0.0.0/0"), 100));
        assert_eq!(r.via, Some(ip("192.168.0.1")));
    }

    #[test]
    fn types_and_defaults() {
        for t in [
            "blackhole",
            "unreachable",
            "prohibit",
            "throw",
            "local",
            "unicast",
        ] {
            let r = route(&format!("{t} 10.1.0.0/16"));
            assert_eq!(r.rtype.map(|x| x.name()), Some(t));
        }
        let r = route("to unreachable 10.1.0.0/16");
        assert_eq!(r.rtype, Some(RouteType::Unreachable));
        let r = route("default via 10.0.0.1");
        assert_eq!(r.dst, pfx("0.0.0.0/0"));
        let r = route("default via inet6 2001:db8::1 dev eth1");
        assert!(r.ipv6);
        assert_eq!(r.dst, pfx("::/0"));
        let r = route("inet6 default dev eth0");
        assert_eq!(r.dst, pfx("::/0"));
        let r = route("10.2.0.0/16 via 10.0.0.1");
        assert_eq!(r.dst, pfx("10.2.0.0/16"));
        // a bare address is a host route
        assert_eq!(route("10.2.0.7 dev eth0").dst, pfx("10.2.0.7/32"));
        assert_eq!(route("2001:db8::7 dev eth0").dst, pfx("2001:db8::7/128"));
    }

    #[test]
    fn options() {
        let r = route(
            "192.168.200.0/24 dev p33p1.2 table 6909 tos 0x04 protocol bird scope link \
             priority 12 mtu lock 1000 hoplimit 100 advmss 101 rtt 102ms rttvar 103ms \
             reordering 104 window 105 cwnd 106 ssthresh lock 107 realms 1/2 rto_min 300ms \
             initcwnd 109 initrwnd 110 features ecn onlink append no_track",
        );
        assert_eq!(r.table, 6909);
        assert_eq!(r.tos, Some(4));
        assert_eq!(r.protocol, Some(12));
        assert_eq!(
            r.effective_protocol(),
            12,
            "no_track keeps the written protocol"
        );
        assert_eq!(r.scope, Some(253));
        assert_eq!(r.metric, Some(12));
        assert!(r.onlink);
        assert_eq!(r.mode, RouteAddMode::Append);
        assert_eq!(r.realms, Some((1 << 16) | 2));
        let m = |k: RouteMetricKind| r.metrics.iter().find(|m| m.kind == k).copied().unwrap();
        assert_eq!(
            (m(RouteMetricKind::Mtu).value, m(RouteMetricKind::Mtu).lock),
            (1000, true)
        );
        assert_eq!(m(RouteMetricKind::Hoplimit).value, 100);
        assert_eq!(
            m(RouteMetricKind::Rtt).value,
            200 * 8,
            "102 ms is below the 200 ms floor"
        );
        assert_eq!(m(RouteMetricKind::RtoMin).value, 300);
        assert!(m(RouteMetricKind::Ssthresh).lock);
        assert_eq!(m(RouteMetricKind::Features).value, 1);
        assert_eq!(
            r.metrics.len(),
            15 - 2,
            "quickack, fastopen_no_cookie not written"
        );
        // metric names
        assert_eq!(route("10.0.0.0/8 dev e preference 7").metric, Some(7));
        assert_eq!(route("10.0.0.0/8 dev e metric 7").metric, Some(7));
        assert_eq!(route("10.0.0.0/8 dev e table main").table, 254);
        assert_eq!(route("10.0.0.0/8 dev e table local").table, 255);
        assert_eq!(route("10.0.0.0/8 dev e scope host").scope, Some(254));
        assert_eq!(route("10.0.0.0/8 dev e add").mode, RouteAddMode::Add);
        // a tracked route gets keepalived's protocol whatever is written
        let w: Vec<&str> = "10.0.0.0/8 dev e protocol static".split(' ').collect();
        let (r, warn) = parse_route(&w);
        assert_eq!(r.unwrap().effective_protocol(), RTPROT_KEEPALIVED);
        assert_eq!(warn.len(), 1);
    }

    #[test]
    fn ipv6_routes() {
        let r = route("2001:888:2000:29::/64 dev eth1 src 2001:888:2000:29::89 metric 256");
        assert!(r.ipv6);
        assert_eq!(r.src, Some(ip("2001:888:2000:29::89")));
        let r = route(
            "2001:db8:1::/48 from 2001:db8:2::/48 via fe80::1 dev eth0 pref high expires 300",
        );
        assert_eq!(r.from, Some(pfx("2001:db8:2::/48")));
        assert_eq!((r.pref, r.expires), (Some(1), Some(300)));
    }

    #[test]
    fn nexthops() {
        let r = route(
            "192.168.100.0/24 table 6909 nexthop via 192.168.101.1 dev wlan0 onlink weight 1 \
             nexthop via 192.168.101.2 dev wlan0 onlink weight 2",
        );
        assert_eq!(r.nexthops.len(), 2);
        assert_eq!(r.nexthops[1].via, Some(ip("192.168.101.2")));
        assert_eq!(r.nexthops[1].weight, Some(2));
        assert!(r.nexthops[0].onlink);
        assert_eq!(r.nexthops[0].dev.as_deref(), Some("wlan0"));
        assert!(route_err("10.0.0.0/8 nexthop via 10.0.0.1 weight 0")
            .1
            .contains("weight 0"));
        assert!(route_err("10.0.0.0/8 nexthop via 10.0.0.1 metric 3")
            .1
            .contains("trailing"));
    }

    #[test]
    fn bad_routes_name_the_word() {
        assert_eq!(route_err("10.0.0.0/8 via 2001:db8::1").0, 2);
        assert_eq!(route_err("10.0.0.0/8 link src 10.0.0.1").0, 1);
        assert_eq!(route_err("10.0.0.0/8 via 10.0.0.1 restore").0, 3);
        assert_eq!(route_err("10.0.0.0/8 dev eth0 table nosuchtable_x").0, 4);
        assert_eq!(route_err("dev eth0").0, 0, "no destination");
        assert_eq!(
            route_err("10.0.0.0/8 from 10.1.0.0/16").0,
            2,
            "from is IPv6 only"
        );
        assert_eq!(route_err("10.0.0.0/33 dev eth0").0, 0);
        assert_eq!(route_err("10.0.0.0/8 via").0, 1);
        assert!(route_err("10.0.0.0/8 dev e encap ip id 1")
            .1
            .contains("not supported by lvsd"));
        assert!(route_err("10.0.0.0/8 vrf blue")
            .1
            .contains("not supported by lvsd"));
        assert!(route_err("10.0.0.0/8 dev e rtt 4294967295")
            .1
            .contains("rtt"));
    }

    #[test]
    fn man_page_rule_forms() {
        let r = rule("from 192.168.2.0/24 table 1");
        assert_eq!(r.from, Some(pfx("192.168.2.0/24")));
        assert_eq!(r.action, RuleAction::Table(1));
        assert!(r.auto_priority);
        assert_eq!(r.effective_protocol(), Some(RTPROT_KEEPALIVED));
        let r = rule("to 192.168.2.0/24 table 1 no_track");
        assert!(r.no_track);
        assert_eq!(r.effective_protocol(), None);
        let r = rule(
            "from 192.168.28.0/24 to 192.168.29.0/26 table main iif p33p1 oif wlan0 tos 22 \
             fwmark 24/12 preference 39 realms 30/20",
        );
        assert_eq!(r.to, Some(pfx("192.168.29.0/26")));
        assert_eq!(
            (r.iif.as_deref(), r.oif.as_deref()),
            (Some("p33p1"), Some("wlan0"))
        );
        assert_eq!(r.tos, 0x22);
        assert_eq!((r.fwmark, r.fwmask), (Some(24), Some(12)));
        assert_eq!((r.priority, r.auto_priority), (39, false));
        assert_eq!(r.realms, Some((30 << 16) | 20));
        assert_eq!(r.action, RuleAction::Table(254));
        let r = rule("to 1:2:3:4:5:6:7:0/112 from 7:6:5:4:3:2::/96 table 6908 uidrange 10000-19999 priority 5");
        assert!(r.ipv6);
        assert_eq!(r.uidrange, Some((10000, 19999)));
        let r = rule("to 1:2:3:4:6:6:7:0/112 from 8:6:5:4:3:2::/96 l3mdev protocol 12 ipproto udp sport 10-20 dport 20 order 4 no_track");
        assert_eq!(r.action, RuleAction::L3mdev);
        assert_eq!((r.protocol, r.ipproto), (Some(12), Some(17)));
        assert_eq!((r.sport, r.dport), (Some((10, 20)), Some((20, 20))));
        assert_eq!(r.effective_protocol(), Some(12));
        let r = rule("from 1.2.11.0/25 priority 5000 tunnel-id 400 goto 5023");
        assert_eq!((r.action, r.tunnel_id), (RuleAction::Goto(5023), Some(400)));
        let r = rule("not from all fwmark 0x10 lookup 7 priority 1 suppress_prefixlength 0");
        assert!(r.invert);
        assert_eq!(r.from, Some(pfx("0.0.0.0/0")));
        assert_eq!(r.suppress_prefixlen, Some(0));
        for (a, want) in [
            ("blackhole", RuleAction::Blackhole),
            ("type unreachable", RuleAction::Unreachable),
            ("prohibit", RuleAction::Prohibit),
            ("nop", RuleAction::Nop),
        ] {
            assert_eq!(
                rule(&format!("from 10.0.0.0/8 {a} priority 9")).action,
                want
            );
        }
        assert!(rule("inet6 to all table 9 priority 1").ipv6);
    }

    #[test]
    fn bad_rules_name_the_word() {
        assert_eq!(rule_err("to 192.168.100./24 table 1").0, 1);
        assert!(rule_err("from 10.0.0.0/8").1.contains("no action"));
        assert!(rule_err("from 10.0.0.0/8 table 1 goto 9 priority 1")
            .1
            .contains("only one"));
        assert!(rule_err("from 10.0.0.0/8 goto 9").1.contains("preference"));
        assert!(rule_err("from 10.0.0.0/8 goto 9 priority 10")
            .1
            .contains("below"));
        assert!(rule_err("from 10.0.0.0/8 table 0").1.contains("table 0"));
        assert_eq!(rule_err("from 10.0.0.0/8 table 1 restore").0, 4);
        assert!(rule_err("from 10.0.0.0/8 blackhole realms 3")
            .1
            .contains("table"));
        assert!(rule_err("from 10.0.0.0/8 to 2001:db8::/32 table 1")
            .1
            .contains("mixed"));
        assert!(rule_err("from 10.0.0.0/8 table 1 fwmark 0x1/zz")
            .1
            .contains("fwmark"));
    }

    #[test]
    fn lines_parse_back_to_the_same() {
        for l in [
            "src 192.168.100.1 to 192.168.109.0/24 via 192.168.200.254 dev eth1",
            "192.168.113.0/24 via 192.168.200.254 or 192.168.100.254 dev eth1",
            "blackhole 192.168.114.0/24 table 100 metric 5",
            "inet6 default via fe80::1 dev eth0 pref low",
            "10.0.0.0/8 dev e tos 0x10 protocol bird scope link mtu lock 1400 rtt 300ms rttvar 250ms rto_min 210ms features ecn congctl lock cubic realms 3/4 append no_track onlink",
            "10.9.0.0/16 nexthop via 10.0.0.1 dev a weight 3 onlink nexthop via 10.0.0.2 realms 5",
            "2001:db8:1::/48 from 2001:db8:2::/48 dev e expires 60 add",
        ] {
            let r = route(l);
            assert_eq!(route(&route_line(&r)), r, "{l} -> {}", route_line(&r));
        }
        for l in [
            "from 192.168.2.0/24 table 1",
            "not from 10.0.0.0/8 to 10.1.0.0/16 iif a oif b tos 0x22 fwmark 0x18/0xc preference 39 realms 30/20 table 7 no_track",
            "inet6 to 2001:db8::/32 uidrange 1-2 protocol 5 ipproto 6 sport 1-2 dport 3-4 l3mdev priority 3",
            "from 1.2.11.0/25 priority 5000 tunnel-id 400 goto 5023",
            "from all fwmark 0x1 suppress_prefixlength 0 suppress_ifgroup 3 lookup main priority 2",
            "to 10.0.0.0/8 unreachable priority 4",
        ] {
            let r = rule(l);
            assert_eq!(rule(&rule_line(&r)), r, "{l} -> {}", rule_line(&r));
        }
    }
}
