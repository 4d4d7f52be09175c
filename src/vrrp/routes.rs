//! Routes and rules (`virtual_routes`, `virtual_rules`, `static_routes`, `static_rules`)
//! and static addresses, added and removed over rtnetlink as keepalived 2.2.7 does it.
//!
//! What to add or remove is decided here without I/O ([`Installed`], [`stale`]); the
//! [`NetOps`] trait does the kernel's part (rtnetlink for the daemon, a recorder in tests).
//! As keepalived: routes are sent with NLM_F_CREATE only (`ip route prepend`; `append` and
//! `add` as written), protocol keepalived (18) unless `no_track` says otherwise, scope
//! global unless written; rules with NLM_F_CREATE|NLM_F_EXCL; a route or rule is removed
//! only when this run added it. Addresses first, then routes, then rules; removal in the
//! reverse order.

use super::link::Netlink;
use super::vip::{VipOps, VipSpec};
use crate::config::{self, IpPrefix, Route, RouteAddMode, Rule, RuleAction};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteFlags, RouteHeader, RouteMessage, RouteMetric, RouteNextHop,
    RouteNextHopFlags, RoutePreference, RouteProtocol, RouteRealm, RouteScope, RouteType, RouteVia,
};
use netlink_packet_route::rule::{
    RuleAttribute, RuleFlags, RuleMessage, RulePortRange, RuleUidRange,
};
use netlink_packet_route::{AddressFamily, IpProtocol, RouteNetlinkMessage};
use rtnetlink::packet_core::{
    NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_APPEND, NLM_F_CREATE, NLM_F_EXCL,
    NLM_F_REQUEST,
};
use std::net::IpAddr;

/// A route with its interfaces resolved to indexes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteSpec {
    pub route: Route,
    /// `dev`'s index.
    pub oif: Option<u32>,
    /// Each nexthop's `dev` index (parallel to `route.nexthops`).
    pub nh_oifs: Vec<Option<u32>>,
}

/// One thing lvsd puts in the kernel on behalf of the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetItem {
    Addr(VipSpec),
    Route(RouteSpec),
    Rule(Rule),
}

impl NetItem {
    /// For log lines: `route 10.0.0.0/8 via 192.0.2.1 dev eth0`.
    pub fn describe(&self) -> String {
        match self {
            NetItem::Addr(a) => format!("address {}/{}", a.addr, a.prefix_len),
            NetItem::Route(r) => format!("route {}", config::route_line(&r.route)),
            NetItem::Rule(r) => format!("rule {}", config::rule_line(r)),
        }
    }
    fn rank(&self) -> u8 {
        match self {
            NetItem::Addr(_) => 0,
            NetItem::Route(_) => 1,
            NetItem::Rule(_) => 2,
        }
    }
    /// The same kernel object (a reload may move a line in the file: spans do not count,
    /// they compare equal).
    pub fn same(&self, other: &NetItem) -> bool {
        self == other
    }
}

/// Puts items in the kernel and takes them out.
pub trait NetOps: Send + Sync {
    /// Adds the item; one already present counts as added.
    fn net_add(
        &self,
        item: &NetItem,
    ) -> impl std::future::Future<Output = Result<(), String>> + Send;
    /// Removes the item; one already absent counts as removed.
    fn net_del(
        &self,
        item: &NetItem,
    ) -> impl std::future::Future<Output = Result<(), String>> + Send;
}

/// What this run has put in the kernel for one owner (an instance, or the static set).
#[derive(Debug, Default, Clone)]
pub struct Installed {
    set: Vec<NetItem>,
}

impl Installed {
    /// The wanted items not yet set, in adding order (addresses, routes, rules).
    pub fn to_add(&self, want: &[NetItem]) -> Vec<NetItem> {
        let mut v: Vec<NetItem> = want
            .iter()
            .filter(|w| !self.set.iter().any(|s| s.same(w)))
            .cloned()
            .collect();
        v.sort_by_key(|i| i.rank());
        v
    }
    /// Everything set, in removing order (rules, routes, addresses).
    pub fn to_remove(&self) -> Vec<NetItem> {
        let mut v = self.set.clone();
        v.reverse();
        v.sort_by_key(|i| std::cmp::Reverse(i.rank()));
        v
    }
    pub fn added(&mut self, item: NetItem) {
        if !self.set.iter().any(|s| s.same(&item)) {
            self.set.push(item);
        }
    }
    pub fn removed(&mut self, item: &NetItem) {
        self.set.retain(|s| !s.same(item));
    }
    pub fn is_empty(&self) -> bool {
        self.set.is_empty()
    }
    pub fn items(&self) -> &[NetItem] {
        &self.set
    }
}

/// The items of `old` that `new` no longer has, in removing order (a reload).
pub fn stale(old: &[NetItem], new: &[NetItem]) -> Vec<NetItem> {
    let mut v: Vec<NetItem> = old
        .iter()
        .filter(|o| !new.iter().any(|n| n.same(o)))
        .cloned()
        .collect();
    v.reverse();
    v.sort_by_key(|i| std::cmp::Reverse(i.rank()));
    v
}

/// Adds what `want` has and `inst` has not; one line per item added or failed.
pub async fn add_all(ops: &impl NetOps, who: &str, inst: &mut Installed, want: &[NetItem]) {
    for item in inst.to_add(want) {
        match ops.net_add(&item).await {
            Ok(()) => {
                tracing::info!("{who} added {}", item.describe());
                inst.added(item);
            }
            Err(e) => tracing::error!("{who} cannot add {}: {e}", item.describe()),
        }
    }
}

/// Removes everything `inst` holds; one line per item.
pub async fn remove_all(ops: &impl NetOps, who: &str, inst: &mut Installed) {
    for item in inst.to_remove() {
        remove_one(ops, who, &item).await;
        inst.removed(&item);
    }
}

/// Removes `item` whether or not this run added it.
pub async fn remove_one(ops: &impl NetOps, who: &str, item: &NetItem) {
    match ops.net_del(item).await {
        Ok(()) => tracing::info!("{who} removed {}", item.describe()),
        Err(e) => tracing::warn!("{who} cannot remove {}: {e}", item.describe()),
    }
}

// ---- rtnetlink ------------------------------------------------------------------------

fn family(v6: bool) -> AddressFamily {
    if v6 {
        AddressFamily::Inet6
    } else {
        AddressFamily::Inet
    }
}

fn addr(a: IpAddr) -> RouteAddress {
    RouteAddress::from(a)
}

/// Whether the kernel's message `m` (a route it reports added or deleted) is about the
/// route `s`: the same family, destination, table, TOS and, when one is written, metric
/// (what tells two routes apart in one table).
pub fn route_is(s: &RouteSpec, m: &RouteMessage) -> bool {
    let r = &s.route;
    let table = m
        .attributes
        .iter()
        .find_map(|a| match a {
            RouteAttribute::Table(t) => Some(*t),
            _ => None,
        })
        .unwrap_or(u32::from(m.header.table));
    let dst = m.attributes.iter().find_map(|a| match a {
        RouteAttribute::Destination(d) => Some(d),
        _ => None,
    });
    m.header.address_family == family(r.ipv6)
        && m.header.destination_prefix_length == r.dst.len
        && m.header.tos == r.tos.unwrap_or(0)
        && table == r.table
        && (r.dst.len == 0 || dst == Some(&addr(r.dst.addr)))
        && r.metric
            .is_none_or(|p| m.attributes.contains(&RouteAttribute::Priority(p)))
}

/// Whether the kernel's message `m` (a rule it reports added or deleted) is about the
/// rule `r`: the same family, action, source and destination, table and priority (lvsd
/// gives every rule its priority).
pub fn rule_is(r: &Rule, m: &RuleMessage) -> bool {
    let want = rule_message(r);
    let (h, w) = (&m.header, &want.header);
    let table = |m: &RuleMessage| {
        m.attributes
            .iter()
            .find_map(|a| match a {
                RuleAttribute::Table(t) => Some(*t),
                _ => None,
            })
            .unwrap_or(u32::from(m.header.table))
    };
    let same = |pick: fn(&RuleAttribute) -> bool| {
        let a: Vec<_> = m.attributes.iter().filter(|a| pick(a)).collect();
        let b: Vec<_> = want.attributes.iter().filter(|a| pick(a)).collect();
        a == b
    };
    h.family == w.family
        && h.action == w.action
        && h.src_len == w.src_len
        && h.dst_len == w.dst_len
        && h.tos == w.tos
        && table(m) == table(&want)
        && same(|a| matches!(a, RuleAttribute::Priority(_)))
        && same(|a| matches!(a, RuleAttribute::Source(_)))
        && same(|a| matches!(a, RuleAttribute::Destination(_)))
}

/// The RTM_NEWROUTE / RTM_DELROUTE message keepalived's `netlink_route` sends.
pub fn route_message(s: &RouteSpec, add: bool) -> RouteMessage {
    let r = &s.route;
    let mut m = RouteMessage::default();
    let mut h = RouteHeader {
        address_family: family(r.ipv6),
        destination_prefix_length: r.dst.len,
        source_prefix_length: r.from.map_or(0, |f| f.len),
        tos: r.tos.unwrap_or(0),
        table: if r.table < 256 { r.table as u8 } else { 0 },
        protocol: RouteProtocol::from(r.effective_protocol()),
        scope: RouteScope::from(r.scope.unwrap_or(if add { 0 } else { 255 })),
        kind: match (r.rtype, add) {
            (Some(t), _) => RouteType::from(t.number()),
            (None, true) => RouteType::Unicast,
            (None, false) => RouteType::Unspec,
        },
        flags: RouteFlags::empty(),
    };
    if r.onlink {
        h.flags |= RouteFlags::Onlink;
    }
    m.header = h;
    let a = &mut m.attributes;
    if r.table >= 256 {
        a.push(RouteAttribute::Table(r.table));
    }
    a.push(RouteAttribute::Destination(addr(r.dst.addr)));
    if let Some(IpPrefix { addr: f, .. }) = r.from {
        a.push(RouteAttribute::Source(addr(f)));
    }
    if let Some(p) = r.src {
        a.push(RouteAttribute::PrefSource(addr(p)));
    }
    if let Some(v) = r.via {
        if v.is_ipv6() == r.ipv6 {
            a.push(RouteAttribute::Gateway(addr(v)));
        } else {
            a.push(RouteAttribute::Via(RouteVia::from(v)));
        }
    }
    if let Some(o) = s.oif {
        a.push(RouteAttribute::Oif(o));
    }
    if let Some(p) = r.metric {
        a.push(RouteAttribute::Priority(p));
    }
    if let Some(x) = r.realms {
        a.push(RouteAttribute::Realm(RouteRealm {
            source: (x >> 16) as u16,
            destination: (x & 0xffff) as u16,
        }));
    }
    if let Some(e) = r.expires {
        a.push(RouteAttribute::Expires(e));
    }
    if let Some(p) = r.pref {
        a.push(RouteAttribute::Preference(RoutePreference::from(p)));
    }
    let mut metrics = Vec::new();
    let mut lock = 0u32;
    if let Some((c, l)) = &r.congctl {
        metrics.push(RouteMetric::CcAlgo(c.clone()));
        if *l {
            lock |= 1 << 16;
        }
    }
    for mv in &r.metrics {
        use config::RouteMetricKind as K;
        let v = mv.value;
        metrics.push(match mv.kind {
            K::Mtu => RouteMetric::Mtu(v),
            K::Window => RouteMetric::Window(v),
            K::Rtt => RouteMetric::Rtt(v),
            K::Rttvar => RouteMetric::RttVar(v),
            K::Ssthresh => RouteMetric::SsThresh(v),
            K::Cwnd => RouteMetric::Cwnd(v),
            K::Advmss => RouteMetric::Advmss(v),
            K::Reordering => RouteMetric::Reordering(v),
            K::Hoplimit => RouteMetric::Hoplimit(v),
            K::Initcwnd => RouteMetric::InitCwnd(v),
            K::Features => RouteMetric::Features(v),
            K::RtoMin => RouteMetric::RtoMin(v),
            K::Initrwnd => RouteMetric::InitRwnd(v),
            K::Quickack => RouteMetric::QuickAck(v),
            K::FastopenNoCookie => RouteMetric::FastopenNoCookie(v),
        });
        if mv.lock {
            lock |= 1 << mv.kind.rtax();
        }
    }
    if !metrics.is_empty() {
        if lock != 0 {
            metrics.push(RouteMetric::Lock(lock));
        }
        a.push(RouteAttribute::Metrics(metrics));
    }
    if !r.nexthops.is_empty() {
        let hops = r
            .nexthops
            .iter()
            .zip(s.nh_oifs.iter().chain(std::iter::repeat(&None)))
            .map(|(nh, oif)| {
                let mut attributes = Vec::new();
                if let Some(v) = nh.via {
                    if v.is_ipv6() == r.ipv6 {
                        attributes.push(RouteAttribute::Gateway(addr(v)));
                    } else {
                        attributes.push(RouteAttribute::Via(RouteVia::from(v)));
                    }
                }
                if let Some(x) = nh.realms {
                    attributes.push(RouteAttribute::Realm(RouteRealm {
                        source: (x >> 16) as u16,
                        destination: (x & 0xffff) as u16,
                    }));
                }
                let mut hop = RouteNextHop::default();
                if nh.onlink {
                    hop.flags = RouteNextHopFlags::Onlink;
                }
                // weight N is sent as N - 1 (rtnh_hops)
                hop.hops = nh.weight.map_or(0, |w| (w.saturating_sub(1)) as u8);
                hop.interface_index = oif.unwrap_or(0);
                hop.attributes = attributes;
                hop
            })
            .collect();
        a.push(RouteAttribute::MultiPath(hops));
    }
    m
}

/// The RTM_NEWRULE / RTM_DELRULE message keepalived's `netlink_rule` sends.
pub fn rule_message(r: &Rule) -> RuleMessage {
    let mut m = RuleMessage::default();
    m.header.family = family(r.ipv6);
    m.header.tos = r.tos;
    m.header.action = match r.action {
        RuleAction::Table(_) | RuleAction::L3mdev => 1u8,
        RuleAction::Goto(_) => 2,
        RuleAction::Nop => 3,
        RuleAction::Blackhole => 6,
        RuleAction::Unreachable => 7,
        RuleAction::Prohibit => 8,
    }
    .into();
    if r.invert {
        m.header.flags |= RuleFlags::Invert;
    }
    let a = &mut m.attributes;
    if let RuleAction::Table(t) = r.action {
        if t < 256 {
            m.header.table = t as u8;
        } else {
            a.push(RuleAttribute::Table(t));
        }
    }
    if let Some(f) = r.from {
        m.header.src_len = f.len;
        if f.len > 0 {
            a.push(RuleAttribute::Source(f.addr));
        }
    }
    if let Some(t) = r.to {
        m.header.dst_len = t.len;
        if t.len > 0 {
            a.push(RuleAttribute::Destination(t.addr));
        }
    }
    a.push(RuleAttribute::Priority(r.priority));
    if let Some(f) = r.fwmark {
        a.push(RuleAttribute::FwMark(f));
    }
    if let Some(k) = r.fwmask {
        a.push(RuleAttribute::FwMask(k));
    }
    if let Some(x) = r.realms {
        a.push(RuleAttribute::Realm(RouteRealm {
            source: (x >> 16) as u16,
            destination: (x & 0xffff) as u16,
        }));
    }
    if let Some(x) = r.suppress_prefixlen {
        a.push(RuleAttribute::SuppressPrefixLen(x));
    }
    if let Some(x) = r.suppress_ifgroup {
        a.push(RuleAttribute::SuppressIfGroup(x));
    }
    if let Some(i) = &r.iif {
        a.push(RuleAttribute::Iifname(i.clone()));
    }
    if let Some(o) = &r.oif {
        a.push(RuleAttribute::Oifname(o.clone()));
    }
    if let Some(t) = r.tunnel_id {
        a.push(RuleAttribute::TunId(t));
    }
    if let Some((start, end)) = r.uidrange {
        a.push(RuleAttribute::UidRange(RuleUidRange { start, end }));
    }
    if r.action == RuleAction::L3mdev {
        a.push(RuleAttribute::L3MDev(true));
    }
    if let Some(p) = r.effective_protocol() {
        a.push(RuleAttribute::Protocol(RouteProtocol::from(p)));
    }
    if let Some(p) = r.ipproto {
        a.push(RuleAttribute::IpProtocol(IpProtocol::from(p)));
    }
    if let Some((start, end)) = r.sport {
        a.push(RuleAttribute::SourcePortRange(RulePortRange { start, end }));
    }
    if let Some((start, end)) = r.dport {
        a.push(RuleAttribute::DestinationPortRange(RulePortRange {
            start,
            end,
        }));
    }
    if let RuleAction::Goto(t) = r.action {
        a.push(RuleAttribute::Goto(t));
    }
    m
}

/// Sends one request and waits for its acknowledgement; the kernel's errno on failure.
async fn talk(nl: &Netlink, msg: RouteNetlinkMessage, flags: u16) -> Result<(), i32> {
    use futures::StreamExt;
    let mut req = NetlinkMessage::from(msg);
    req.header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
    let mut handle = nl.handle().clone();
    let mut resp = handle.request(req).map_err(|_| libc::EIO)?;
    while let Some(m) = resp.next().await {
        if let NetlinkPayload::Error(e) = m.payload {
            if let Some(code) = e.code {
                return Err(-code.get());
            }
        }
    }
    Ok(())
}

fn errno_text(e: i32) -> String {
    std::io::Error::from_raw_os_error(e).to_string()
}

impl NetOps for Netlink {
    async fn net_add(&self, item: &NetItem) -> Result<(), String> {
        let res = match item {
            NetItem::Addr(a) => return VipOps::add(self, a).await.map_err(|e| e.to_string()),
            NetItem::Route(r) => {
                let flags = NLM_F_CREATE
                    | match r.route.mode {
                        RouteAddMode::Prepend => 0,
                        RouteAddMode::Add => NLM_F_EXCL,
                        RouteAddMode::Append => NLM_F_APPEND,
                    };
                talk(
                    self,
                    RouteNetlinkMessage::NewRoute(route_message(r, true)),
                    flags,
                )
                .await
            }
            NetItem::Rule(r) => {
                talk(
                    self,
                    RouteNetlinkMessage::NewRule(rule_message(r)),
                    NLM_F_CREATE | NLM_F_EXCL,
                )
                .await
            }
        };
        match res {
            Ok(()) => Ok(()),
            Err(libc::EEXIST) => Ok(()),
            Err(e) => Err(errno_text(e)),
        }
    }

    async fn net_del(&self, item: &NetItem) -> Result<(), String> {
        let res = match item {
            NetItem::Addr(a) => {
                return VipOps::del(self, a)
                    .await
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            }
            NetItem::Route(r) => {
                talk(
                    self,
                    RouteNetlinkMessage::DelRoute(route_message(r, false)),
                    0,
                )
                .await
            }
            NetItem::Rule(r) => talk(self, RouteNetlinkMessage::DelRule(rule_message(r)), 0).await,
        };
        match res {
            Ok(()) => Ok(()),
            Err(libc::ESRCH | libc::ENOENT | libc::EADDRNOTAVAIL) => Ok(()),
            Err(e) => Err(errno_text(e)),
        }
    }
}

/// Resolves a route's interfaces (`dev`, each nexthop's `dev`) to indexes.
pub async fn route_spec(nl: &Netlink, r: &Route) -> anyhow::Result<RouteSpec> {
    let oif = match &r.dev {
        Some(d) => Some(nl.interface(d).await?.index),
        None => None,
    };
    let mut nh_oifs = Vec::new();
    for nh in &r.nexthops {
        nh_oifs.push(match &nh.dev {
            Some(d) => Some(nl.interface(d).await?.index),
            None => None,
        });
    }
    Ok(RouteSpec {
        route: r.clone(),
        oif,
        nh_oifs,
    })
}

/// The kernel items for routes and rules (addresses are the caller's): a route whose
/// interface does not exist is left out with an error line, as keepalived leaves it out.
pub async fn items_for(nl: &Netlink, who: &str, routes: &[Route], rules: &[Rule]) -> Vec<NetItem> {
    let mut out = Vec::new();
    for r in routes {
        match route_spec(nl, r).await {
            Ok(s) => out.push(NetItem::Route(s)),
            Err(e) => tracing::error!("{who} route {} left out: {e:#}", config::route_line(r)),
        }
    }
    out.extend(rules.iter().cloned().map(NetItem::Rule));
    out
}

/// The static addresses, routes and rules of a configuration (addresses without `dev`
/// go on `default_interface`, eth0 unless set, as keepalived's).
pub async fn static_items(nl: &Netlink, c: &config::Config) -> Vec<NetItem> {
    let mut out = Vec::new();
    for a in &c.static_ipaddress {
        let dev = a
            .dev
            .as_deref()
            .or(c.global.default_interface.as_deref())
            .unwrap_or("eth0");
        match nl.interface(dev).await {
            Ok(i) => match VipSpec::from_config(a, i.index) {
                Ok(s) => out.push(NetItem::Addr(s)),
                Err(e) => tracing::error!("static address {}: {e}", a.addr),
            },
            Err(e) => tracing::error!("static address {}/{} left out: {e}", a.addr, a.prefix_len),
        }
    }
    out.extend(items_for(nl, "Static", &c.static_routes, &c.static_rules).await);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn route(line: &str) -> NetItem {
        let text = format!("static_routes {{\n{line}\n}}\n");
        let l = config::parse_str(&text, std::path::Path::new("t"), "x").unwrap();
        NetItem::Route(RouteSpec {
            route: l.config.static_routes[0].clone(),
            oif: Some(7),
            nh_oifs: vec![],
        })
    }

    fn rule(line: &str) -> NetItem {
        let text = format!("static_rules {{\n{line}\n}}\n");
        let l = config::parse_str(&text, std::path::Path::new("t"), "x").unwrap();
        NetItem::Rule(l.config.static_rules[0].clone())
    }

    /// A deleted route and rule are known as ours by what the kernel reports of them
    /// (the table also as an attribute, an IPv6 metric the kernel chose), and not taken
    /// for another route or rule.
    #[test]
    fn deleted_routes_and_rules_are_recognised() {
        let kernel_route = |line: &str| {
            let NetItem::Route(s) = route(line) else {
                panic!("a route")
            };
            let mut m = route_message(&s, false);
            m.attributes.push(RouteAttribute::Table(s.route.table));
            if s.route.metric.is_none() && s.route.ipv6 {
                m.attributes.push(RouteAttribute::Priority(1024));
            }
            m
        };
        let spec = |line: &str| match route(line) {
            NetItem::Route(s) => s,
            _ => panic!("a route"),
        };
        let ours = spec("10.5.0.0/16 dev eth2 table 100");
        assert!(route_is(
            &ours,
            &kernel_route("10.5.0.0/16 dev eth2 table 100")
        ));
        assert!(!route_is(&ours, &kernel_route("10.5.0.0/16 dev eth2")));
        assert!(!route_is(
            &ours,
            &kernel_route("10.6.0.0/16 dev eth2 table 100")
        ));
        assert!(!route_is(
            &ours,
            &kernel_route("10.5.0.0/24 dev eth2 table 100")
        ));
        let v6 = spec("fd00:5::/64 dev eth2");
        assert!(route_is(&v6, &kernel_route("fd00:5::/64 dev eth2")));
        let metric = spec("10.7.0.0/16 dev eth2 metric 5");
        assert!(route_is(
            &metric,
            &kernel_route("10.7.0.0/16 dev eth2 metric 5")
        ));
        assert!(!route_is(
            &metric,
            &kernel_route("10.7.0.0/16 dev eth2 metric 6")
        ));
        let default = spec("0.0.0.0/0 via 10.0.0.1");
        assert!(route_is(&default, &kernel_route("0.0.0.0/0 via 10.0.0.1")));

        let r = |line: &str| match rule(line) {
            NetItem::Rule(r) => r,
            _ => panic!("a rule"),
        };
        let ours = r("from 10.6.0.0/16 table 9 priority 100");
        let mut m = rule_message(&ours);
        m.attributes.push(RuleAttribute::Table(9));
        assert!(rule_is(&ours, &m));
        assert!(!rule_is(&r("from 10.6.0.0/16 table 9 priority 101"), &m));
        assert!(!rule_is(&r("from 10.6.0.0/16 table 10 priority 100"), &m));
        assert!(!rule_is(&r("to 10.6.0.0/16 table 9 priority 100"), &m));
    }

    fn addr(a: &str) -> NetItem {
        NetItem::Addr(VipSpec {
            addr: a.parse().unwrap(),
            prefix_len: 32,
            ifindex: 7,
            brd: None,
            scope: 0,
            label: None,
            opts: Default::default(),
        })
    }

    #[test]
    fn adds_in_order_and_removes_in_reverse() {
        let want = vec![
            rule("from 10.0.0.0/8 table 5 priority 3"),
            route("10.1.0.0/16 dev x"),
            addr("10.0.0.1"),
            route("10.2.0.0/16 dev x"),
        ];
        let mut inst = Installed::default();
        let add = inst.to_add(&want);
        let kinds: Vec<u8> = add.iter().map(|i| i.rank()).collect();
        assert_eq!(kinds, vec![0, 1, 1, 2]);
        for i in add {
            inst.added(i);
        }
        assert!(inst.to_add(&want).is_empty(), "nothing twice");
        let rm = inst.to_remove();
        assert_eq!(
            rm.iter().map(|i| i.rank()).collect::<Vec<_>>(),
            vec![2, 1, 1, 0]
        );
        assert_eq!(rm[1], route("10.2.0.0/16 dev x"), "later routes go first");
        for i in &rm {
            inst.removed(i);
        }
        assert!(inst.is_empty());
    }

    #[test]
    fn a_failed_add_is_not_removed_later() {
        let mut inst = Installed::default();
        inst.added(route("10.1.0.0/16 dev x"));
        // the second one failed: never marked added
        assert_eq!(inst.to_remove(), vec![route("10.1.0.0/16 dev x")]);
        assert_eq!(
            inst.to_add(&[route("10.1.0.0/16 dev x"), route("10.3.0.0/16 dev x")]),
            vec![route("10.3.0.0/16 dev x")]
        );
    }

    #[test]
    fn reload_removes_only_what_is_gone() {
        let old = vec![
            route("10.1.0.0/16 dev x"),
            rule("to 10.0.0.0/8 table 5 priority 9"),
        ];
        let new = vec![route("10.1.0.0/16 dev x"), route("10.4.0.0/16 dev x")];
        assert_eq!(
            stale(&old, &new),
            vec![rule("to 10.0.0.0/8 table 5 priority 9")]
        );
        assert!(stale(&new, &new).is_empty());
    }

    /// Records what would be sent.
    struct Rec(Mutex<Vec<String>>, &'static str);
    impl NetOps for Rec {
        async fn net_add(&self, item: &NetItem) -> Result<(), String> {
            let d = item.describe();
            if d.contains(self.1) {
                return Err("refused".into());
            }
            self.0.lock().unwrap().push(format!("+{d}"));
            Ok(())
        }
        async fn net_del(&self, item: &NetItem) -> Result<(), String> {
            self.0.lock().unwrap().push(format!("-{}", item.describe()));
            Ok(())
        }
    }

    #[tokio::test]
    async fn add_all_then_remove_all_touch_only_what_was_added() {
        let ops = Rec(Mutex::new(Vec::new()), "10.9.");
        let want = vec![
            route("10.1.0.0/16 dev x"),
            route("10.9.0.0/16 dev x"),
            addr("10.0.0.1"),
        ];
        let mut inst = Installed::default();
        add_all(&ops, "t", &mut inst, &want).await;
        remove_all(&ops, "t", &mut inst).await;
        assert_eq!(
            ops.0.into_inner().unwrap(),
            vec![
                "+address 10.0.0.1/32",
                "+route 10.1.0.0/16 dev x",
                "-route 10.1.0.0/16 dev x",
                "-address 10.0.0.1/32",
            ]
        );
    }

    #[test]
    fn messages_carry_keepalived_defaults() {
        let NetItem::Route(r) =
            route("10.1.0.0/16 via 10.0.0.1 dev x table 300 metric 5 mtu lock 1400")
        else {
            unreachable!()
        };
        let m = route_message(&r, true);
        assert_eq!(m.header.protocol, RouteProtocol::from(18));
        assert_eq!(m.header.scope, RouteScope::Universe);
        assert_eq!(m.header.kind, RouteType::Unicast);
        assert_eq!(m.header.table, 0);
        assert!(m.attributes.contains(&RouteAttribute::Table(300)));
        assert!(m.attributes.contains(&RouteAttribute::Oif(7)));
        assert!(m.attributes.contains(&RouteAttribute::Priority(5)));
        assert!(m.attributes.contains(&RouteAttribute::Metrics(vec![
            RouteMetric::Mtu(1400),
            RouteMetric::Lock(1 << 2)
        ])));
        let d = route_message(&r, false);
        assert_eq!(d.header.scope, RouteScope::NoWhere);
        assert_eq!(d.header.kind, RouteType::Unspec);

        let NetItem::Rule(r) = rule("from 10.0.0.0/8 table 5 priority 3 fwmark 0x10/0xff") else {
            unreachable!()
        };
        let m = rule_message(&r);
        assert_eq!((m.header.table, m.header.src_len), (5, 8));
        assert!(m
            .attributes
            .contains(&RuleAttribute::Protocol(RouteProtocol::from(18))));
        assert!(m.attributes.contains(&RuleAttribute::Priority(3)));
        assert!(m.attributes.contains(&RuleAttribute::FwMask(0xff)));
    }
}
