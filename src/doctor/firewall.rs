//! Does the nftables ruleset (`nft -j list ruleset`) let the VRRP adverts in and out?
//! Each base chain on the prerouting and input hooks (adverts arriving on the instance's
//! interface) or on the output and postrouting hooks (adverts this router sends) is
//! walked, rule by rule, for an advert (IP protocol 112, IPv4 or IPv6), as the kernel
//! would: a packet must get through every such chain. A match lvsd can evaluate (the
//! protocol, `meta l4proto`, `iifname`/`oifname`, a transport header that VRRP does not
//! have, a source or destination address the file gives: the unicast peers,
//! `unicast_src_ip`, the multicast group) is evaluated; one it cannot (other addresses,
//! conntrack state, marks…) makes the rule's verdict uncertain. A certain drop is a
//! problem, a drop after an uncertain accept a warning.

use super::{finding, Finding, Level};
use serde_json::Value;
use std::net::IpAddr;

/// What is known of the advert: its family, its direction and the interface it
/// arrives on or leaves by, and its addresses where the file gives them.
#[derive(Debug, Clone, Copy)]
pub struct Advert<'a> {
    pub v6: bool,
    pub iface: &'a str,
    /// Sent to unicast peers (a conntrack entry sees both directions and becomes
    /// established); multicast adverts get no reply, so never are.
    pub unicast: bool,
    /// Sent by this router (output hooks) rather than received (input hooks).
    pub outgoing: bool,
    /// The sender, when known: arriving, a unicast peer of the instance (None for
    /// multicast, where any router of the segment may send); leaving, `unicast_src_ip`.
    pub src: Option<IpAddr>,
    /// The destination, when known: the multicast group; arriving unicast, this router's
    /// `unicast_src_ip`; leaving unicast, the peer.
    pub dst: Option<IpAddr>,
}

impl Advert<'_> {
    /// "arriving on eth0", "arriving on eth0 from unicast peer 10.0.0.2", "sent on eth0
    /// to unicast peer 10.0.0.2", "sent on eth0 to 224.0.0.18".
    pub fn arriving(&self) -> String {
        match (self.outgoing, self.unicast, self.src, self.dst) {
            (false, _, Some(s), _) => format!("arriving on {} from unicast peer {s}", self.iface),
            (false, _, None, _) => format!("arriving on {}", self.iface),
            (true, true, _, Some(d)) => format!("sent on {} to unicast peer {d}", self.iface),
            (true, false, _, Some(d)) => format!("sent on {} to {d}", self.iface),
            (true, _, _, None) => format!("sent on {}", self.iface),
        }
    }

    /// The interface match of a rule that lets the advert pass: `iifname` or `oifname`
    /// (nft), `-i` or `-o` (iptables).
    pub fn if_word(&self, nft: bool) -> &'static str {
        match (self.outgoing, nft) {
            (false, true) => "iifname",
            (true, true) => "oifname",
            (false, false) => "-i",
            (true, false) => "-o",
        }
    }
}

/// Whether `addr` (a value of an address match: `ADDR`, `ADDR/LEN`, or a prefix
/// object) holds `x`; None when it cannot be read.
fn addr_holds(v: &Value, x: IpAddr) -> Option<bool> {
    match v {
        Value::String(net) => addr_in(net, x),
        _ => {
            let p = v.get("prefix")?;
            let addr = p.get("addr")?.as_str()?;
            let len = p.get("len")?.as_u64()?;
            addr_in(&format!("{addr}/{len}"), x)
        }
    }
}

/// Whether `src` is in `net` (an address or `ADDR/LEN`); None when `net` is neither.
pub fn addr_in(net: &str, src: IpAddr) -> Option<bool> {
    if let Ok(n) = net.parse::<ipnet::IpNet>() {
        return Some(n.contains(&src));
    }
    net.parse::<IpAddr>().ok().map(|a| a == src)
}

const VRRP: i64 = 112;

fn proto_number(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => match s.as_str() {
            "vrrp" => Some(VRRP),
            "tcp" => Some(6),
            "udp" => Some(17),
            "icmp" => Some(1),
            "ipv6-icmp" | "icmpv6" => Some(58),
            "sctp" => Some(132),
            "gre" => Some(47),
            "esp" => Some(50),
            "ah" => Some(51),
            "igmp" => Some(2),
            "ipip" | "ipencap" => Some(4),
            _ => s.parse().ok(),
        },
        _ => None,
    }
}

/// Whether `right` (a value, a set, a range) holds `want`; None when it cannot be told.
fn holds(right: &Value, want: &dyn Fn(&Value) -> Option<bool>) -> Option<bool> {
    if let Some(set) = right.get("set").and_then(Value::as_array) {
        let mut unknown = false;
        for e in set {
            match holds(e, want) {
                Some(true) => return Some(true),
                None => unknown = true,
                Some(false) => {}
            }
        }
        return if unknown { None } else { Some(false) };
    }
    if let Some([lo, hi]) = right
        .get("range")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
    {
        let (lo, hi) = (proto_number(lo)?, proto_number(hi)?);
        return Some((lo..=hi).contains(&VRRP));
    }
    want(right)
}

/// A `match` expression evaluated for the advert.
fn eval_match(m: &Value, a: Advert) -> Option<bool> {
    let op = m.get("op").and_then(Value::as_str).unwrap_or("==");
    let left = m.get("left")?;
    let right = m.get("right")?;
    let is_proto = |v: &Value| proto_number(v).map(|n| n == VRRP);
    let result = if let Some(p) = left.get("payload") {
        let proto = p.get("protocol").and_then(Value::as_str);
        let field = p.get("field").and_then(Value::as_str);
        match (proto, field) {
            (Some("ip"), _) if a.v6 => Some(false),
            (Some("ip6"), _) if !a.v6 => Some(false),
            (Some("ip"), Some("protocol")) | (Some("ip6"), Some("nexthdr")) => {
                holds(right, &is_proto)
            }
            (Some("ip" | "ip6"), Some("saddr")) => {
                a.src.and_then(|src| holds(right, &|v| addr_holds(v, src)))
            }
            (Some("ip" | "ip6"), Some("daddr")) => {
                a.dst.and_then(|dst| holds(right, &|v| addr_holds(v, dst)))
            }
            (Some("ip" | "ip6"), _) => None,
            // A transport header (tcp, udp, icmp, th…) that an advert does not have.
            (Some(_), _) => Some(false),
            _ => None,
        }
    } else if let Some(key) = left
        .get("meta")
        .and_then(|x| x.get("key"))
        .and_then(Value::as_str)
    {
        match key {
            "l4proto" => holds(right, &is_proto),
            "iifname" | "iif" if a.outgoing => None,
            "oifname" | "oif" if !a.outgoing => None,
            "iifname" | "iif" | "oifname" | "oif" => holds(right, &|v| {
                let name = v.as_str()?;
                Some(match name.strip_suffix('*') {
                    Some(prefix) => a.iface.starts_with(prefix),
                    None => name == a.iface,
                })
            }),
            "nfproto" | "protocol" => holds(right, &|v| {
                let s = v.as_str()?;
                Some(matches!(
                    (s, a.v6),
                    ("ipv4" | "ip", false) | ("ipv6" | "ip6", true)
                ))
            }),
            _ => None,
        }
    } else if left
        .get("ct")
        .and_then(|x| x.get("key"))
        .and_then(Value::as_str)
        == Some("state")
    {
        holds(right, &|v| match v.as_str()? {
            "established" | "related" if !a.unicast => Some(false),
            _ => None,
        })
    } else {
        None
    };
    match op {
        "==" | "in" => result,
        "!=" => result.map(|r| !r),
        _ => None,
    }
}

/// Where an advert ends in a chain.
#[derive(Debug, Clone, PartialEq, Eq)]
enum End {
    Accept,
    /// Dropped (or rejected): by the rule `handle` of chain `chain`, or by the base
    /// chain's policy (`handle` None).
    Drop {
        chain: String,
        handle: Option<i64>,
    },
    /// Off the end of a non-base chain (or `return`).
    Fallthrough,
}

struct Ruleset<'a> {
    items: &'a [Value],
}

impl<'a> Ruleset<'a> {
    fn rules(&self, family: &str, table: &str, chain: &str) -> impl Iterator<Item = &'a Value> {
        let (family, table, chain) = (family.to_string(), table.to_string(), chain.to_string());
        self.items.iter().filter_map(move |i| {
            let r = i.get("rule")?;
            (r.get("family")?.as_str()? == family
                && r.get("table")?.as_str()? == table
                && r.get("chain")?.as_str()? == chain)
                .then_some(r)
        })
    }

    /// Walks `chain` for the advert; `uncertain` is set when a rule that might have
    /// accepted it could not be evaluated.
    fn walk(
        &self,
        family: &str,
        table: &str,
        chain: &str,
        a: Advert,
        uncertain: &mut bool,
        depth: u8,
    ) -> End {
        if depth > 16 {
            *uncertain = true;
            return End::Fallthrough;
        }
        for r in self.rules(family, table, chain) {
            let Some(exprs) = r.get("expr").and_then(Value::as_array) else {
                continue;
            };
            let mut known = true;
            let mut applies = true;
            let mut end = None;
            for e in exprs {
                if let Some(m) = e.get("match") {
                    match eval_match(m, a) {
                        Some(true) => {}
                        Some(false) => applies = false,
                        None => known = false,
                    }
                } else if e.get("accept").is_some() {
                    end = Some(End::Accept);
                } else if e.get("drop").is_some() || e.get("reject").is_some() {
                    end = Some(End::Drop {
                        chain: format!("{family} {table} {chain}"),
                        handle: r.get("handle").and_then(Value::as_i64),
                    });
                } else if e.get("return").is_some() {
                    end = Some(End::Fallthrough);
                } else if let Some(t) = e
                    .get("jump")
                    .or_else(|| e.get("goto"))
                    .and_then(|j| j.get("target"))
                    .and_then(Value::as_str)
                {
                    if !applies {
                        break;
                    }
                    let mut sub_uncertain = !known;
                    let sub = self.walk(family, table, t, a, &mut sub_uncertain, depth + 1);
                    let goto = e.get("goto").is_some();
                    end = match sub {
                        End::Fallthrough if goto => Some(End::Fallthrough),
                        End::Fallthrough => None,
                        other => Some(other),
                    };
                    if sub_uncertain && end == Some(End::Accept) {
                        // An accept we are not sure of: the walk goes on.
                        *uncertain = true;
                        end = None;
                    } else if sub_uncertain {
                        *uncertain = true;
                    }
                    known = true;
                } else if e.get("queue").is_some() {
                    end = Some(End::Accept);
                }
                if !applies {
                    break;
                }
            }
            if !applies {
                continue;
            }
            match end {
                Some(End::Accept) if !known => *uncertain = true,
                Some(End::Drop { .. }) if !known => {}
                Some(e) => return e,
                None => {}
            }
        }
        End::Fallthrough
    }
}

/// The findings for the VRRP adverts `adverts` against `ruleset` (the JSON of
/// `nft -j list ruleset`): the chains of the input hooks for adverts arriving, of the
/// output hooks for adverts sent.
pub fn vrrp_blocked(ruleset: &Value, adverts: &[Advert]) -> Vec<Finding> {
    let Some(items) = ruleset.get("nftables").and_then(Value::as_array) else {
        return Vec::new();
    };
    let rs = Ruleset { items };
    let mut out = Vec::new();
    for &a in adverts {
        let iface = a.iface;
        for c in items.iter().filter_map(|i| i.get("chain")) {
            let (Some(family), Some(table), Some(name), Some(hook)) = (
                c.get("family").and_then(Value::as_str),
                c.get("table").and_then(Value::as_str),
                c.get("name").and_then(Value::as_str),
                c.get("hook").and_then(Value::as_str),
            ) else {
                continue;
            };
            let family_sees = match family {
                "inet" => true,
                "ip" => !a.v6,
                "ip6" => a.v6,
                _ => false,
            };
            let hooks: &[&str] = if a.outgoing {
                &["output", "postrouting"]
            } else {
                &["prerouting", "input"]
            };
            if !family_sees || !hooks.contains(&hook) {
                continue;
            }
            let mut uncertain = false;
            let end = match rs.walk(family, table, name, a, &mut uncertain, 0) {
                End::Fallthrough if c.get("policy").and_then(Value::as_str) == Some("drop") => {
                    End::Drop {
                        chain: format!("{family} {table} {name}"),
                        handle: None,
                    }
                }
                e => e,
            };
            let End::Drop { chain, handle } = end else {
                continue;
            };
            let by = match handle {
                Some(h) => format!("rule handle {h} of chain `{chain}`"),
                None => format!("the drop policy of chain `{chain}` (no rule accepts it)"),
            };
            out.push(blocked_finding(
                "nftables",
                a,
                &by,
                uncertain,
                format!(
                    "nft insert rule {family} {table} {name} {} \"{iface}\" meta l4proto vrrp accept",
                    a.if_word(true)
                ),
            ));
        }
    }
    out
}

/// The finding for adverts of `a` dropped by `by` (a rule or a policy) of `firewall`
/// (`nftables`, `iptables-legacy`…): a problem, or a warning when an earlier rule lvsd
/// cannot evaluate may accept them. The verdict comes from the rules as read: no packet
/// is sent.
pub fn blocked_finding(
    firewall: &str,
    a: Advert,
    by: &str,
    uncertain: bool,
    fix: String,
) -> Finding {
    let ipv = if a.v6 { "IPv6" } else { "IPv4" };
    finding(
        if uncertain {
            Level::Warning
        } else {
            Level::Problem
        },
        "firewall_vrrp",
        format!(
            "{firewall} drops {ipv} VRRP adverts (protocol 112) {}: {by}{}",
            a.arriving(),
            if uncertain {
                ", unless an earlier rule with conditions lvsd cannot evaluate accepts them"
            } else {
                ""
            }
        ),
        if a.outgoing {
            "this router's adverts never reach the others: they become master too, the VIPs are on two hosts (split brain)"
        } else {
            "the other routers' adverts (multicast or unicast_peer) never arrive: every router becomes master, the VIPs are on two hosts (split brain)"
        },
        fix,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn adv(iface: &str, v6: bool, unicast: bool) -> Advert<'_> {
        Advert {
            v6,
            iface,
            unicast,
            outgoing: false,
            src: None,
            dst: None,
        }
    }

    fn set(v6: bool) -> [Advert<'static>; 1] {
        [adv("eth0", v6, false)]
    }

    fn ruleset(policy: &str, rules: Vec<Value>) -> Value {
        let mut items = vec![
            json!({"table": {"family": "inet", "name": "filter", "handle": 1}}),
            json!({"chain": {"family": "inet", "table": "filter", "name": "input",
                   "type": "filter", "hook": "input", "prio": 0, "policy": policy}}),
            json!({"chain": {"family": "inet", "table": "filter", "name": "other"}}),
        ];
        for (i, (chain, expr)) in rules
            .into_iter()
            .map(|r| (r[0].clone(), r[1].clone()))
            .enumerate()
        {
            items.push(json!({"rule": {"family": "inet", "table": "filter",
                "chain": chain, "handle": i + 10, "expr": expr}}));
        }
        json!({ "nftables": items })
    }

    fn m(left: Value, right: Value) -> Value {
        json!({"match": {"op": "==", "left": left, "right": right}})
    }
    fn ip_proto(v: Value) -> Value {
        m(
            json!({"payload": {"protocol": "ip", "field": "protocol"}}),
            v,
        )
    }

    #[test]
    fn a_rule_dropping_protocol_112_is_named_with_its_fix() {
        let r = ruleset(
            "accept",
            vec![
                json!(["input", [m(json!({"ct": {"key": "state"}}), json!("established")), {"accept": null}]]),
                json!(["input", [m(json!({"payload": {"protocol": "tcp", "field": "dport"}}), json!(22)), {"accept": null}]]),
                json!(["input", [m(json!({"meta": {"key": "iifname"}}), json!("eth0")), ip_proto(json!("vrrp")), {"drop": null}]]),
            ],
        );
        let f = vrrp_blocked(&r, &set(false));
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].level, Level::Problem);
        assert!(f[0].what.contains("rule handle 12"), "{}", f[0].what);
        assert_eq!(
            f[0].fix,
            "nft insert rule inet filter input iifname \"eth0\" meta l4proto vrrp accept"
        );
        // IPv6 adverts do not match `ip protocol`.
        assert!(vrrp_blocked(&r, &set(true)).is_empty());
        // Another interface: not dropped.
        let other = [adv("eth1", false, false)];
        assert!(vrrp_blocked(&r, &other).is_empty());
        // Unicast adverts may be `ct state established`: then it is only a warning.
        let uni = [adv("eth0", false, true)];
        assert_eq!(vrrp_blocked(&r, &uni)[0].level, Level::Warning);
    }

    #[test]
    fn sets_jumps_and_policies() {
        // meta l4proto in a set, rejected.
        let r = ruleset(
            "accept",
            vec![
                json!(["input", [m(json!({"meta": {"key": "l4proto"}}), json!({"set": ["tcp", "vrrp"]})), {"reject": null}]]),
            ],
        );
        assert_eq!(vrrp_blocked(&r, &set(true)).len(), 1);
        // A drop in a chain jumped to.
        let r = ruleset(
            "accept",
            vec![
                json!(["input", [{"jump": {"target": "other"}}]]),
                json!(["other", [ip_proto(json!(112)), {"drop": null}]]),
            ],
        );
        let f = vrrp_blocked(&r, &set(false));
        assert!(f[0].what.contains("chain `inet filter other`"), "{f:?}");
        // A drop policy with an accept for VRRP first: fine; without: the policy named.
        let accept = ruleset(
            "drop",
            vec![json!(["input", [ip_proto(json!("vrrp")), {"accept": null}]])],
        );
        assert!(vrrp_blocked(&accept, &set(false)).is_empty());
        let none = ruleset(
            "drop",
            vec![
                json!(["input", [m(json!({"payload": {"protocol": "tcp", "field": "dport"}}), json!(22)), {"accept": null}]]),
            ],
        );
        let f = vrrp_blocked(&none, &set(false));
        assert!(f[0].what.contains("drop policy"), "{f:?}");
        assert_eq!(f[0].level, Level::Problem);
        // An accept lvsd cannot evaluate (by source address) makes it a warning.
        let maybe = ruleset(
            "drop",
            vec![
                json!(["input", [m(json!({"payload": {"protocol": "ip", "field": "saddr"}}), json!("10.0.0.2")), {"accept": null}]]),
            ],
        );
        assert_eq!(vrrp_blocked(&maybe, &set(false))[0].level, Level::Warning);
        // With the unicast peer known, the source is evaluated: that peer is let in, the
        // other is dropped, named with its address.
        let peer = |p: &str| Advert {
            src: Some(p.parse().expect("ip")),
            ..adv("eth0", false, true)
        };
        assert!(vrrp_blocked(&maybe, &[peer("10.0.0.2")]).is_empty());
        let f = vrrp_blocked(&maybe, &[peer("10.0.0.3")]);
        assert_eq!(f[0].level, Level::Problem);
        assert!(
            f[0].what
                .contains("arriving on eth0 from unicast peer 10.0.0.3"),
            "{}",
            f[0].what
        );
        let by_net = ruleset(
            "accept",
            vec![
                json!(["input", [m(json!({"payload": {"protocol": "ip", "field": "saddr"}}),
                json!({"prefix": {"addr": "10.0.0.0", "len": 24}})), {"drop": null}]]),
            ],
        );
        assert_eq!(vrrp_blocked(&by_net, &[peer("10.0.0.3")]).len(), 1);
        assert!(vrrp_blocked(&by_net, &[peer("10.0.1.3")]).is_empty());
        // Leaving: the output hooks, the destination the peer.
        let out_ruleset = |verdict: &str| {
            json!({"nftables": [
                {"chain": {"family": "inet", "table": "filter", "name": "out",
                           "type": "filter", "hook": "output", "prio": 0, "policy": "accept"}},
                {"rule": {"family": "inet", "table": "filter", "chain": "out", "handle": 5,
                          "expr": [m(json!({"meta": {"key": "oifname"}}), json!("eth0")),
                                   m(json!({"payload": {"protocol": "ip", "field": "daddr"}}),
                                     json!({"set": ["10.0.0.2", "10.0.0.4"]})),
                                   {verdict: null}]}}]})
        };
        let sent = |p: &str| Advert {
            outgoing: true,
            dst: Some(p.parse().expect("ip")),
            ..adv("eth0", false, true)
        };
        let f = vrrp_blocked(&out_ruleset("drop"), &[sent("10.0.0.2")]);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].level, Level::Problem);
        assert!(
            f[0].what
                .contains("sent on eth0 to unicast peer 10.0.0.2: rule handle 5"),
            "{}",
            f[0].what
        );
        assert_eq!(
            f[0].fix,
            "nft insert rule inet filter out oifname \"eth0\" meta l4proto vrrp accept"
        );
        assert!(vrrp_blocked(&out_ruleset("drop"), &[sent("10.0.0.3")]).is_empty());
        // The input hooks are not walked for a sent advert, nor the output for one
        // arriving.
        assert!(vrrp_blocked(&r, &[sent("10.0.0.2")]).is_empty());
        assert!(vrrp_blocked(&out_ruleset("drop"), &[peer("10.0.0.2")]).is_empty());
        // An input policy of drop with an accept by destination (this router's address):
        // decided, not uncertain.
        let to_me = ruleset(
            "drop",
            vec![
                json!(["input", [m(json!({"payload": {"protocol": "ip", "field": "daddr"}}), json!("10.0.0.1")), {"accept": null}]]),
            ],
        );
        let me = |d: &str| Advert {
            dst: Some(d.parse().expect("ip")),
            ..peer("10.0.0.2")
        };
        assert!(vrrp_blocked(&to_me, &[me("10.0.0.1")]).is_empty());
        assert_eq!(
            vrrp_blocked(&to_me, &[me("10.0.0.9")])[0].level,
            Level::Problem
        );
        // Unknown destination: still uncertain.
        assert_eq!(
            vrrp_blocked(&to_me, &[peer("10.0.0.2")])[0].level,
            Level::Warning
        );
        // `!=` and a non-drop verdict.
        let ne = ruleset(
            "accept",
            vec![
                json!(["input", [{"match": {"op": "!=", "left": {"meta": {"key": "l4proto"}}, "right": "vrrp"}}, {"drop": null}]]),
            ],
        );
        assert!(vrrp_blocked(&ne, &set(false)).is_empty());
    }
}
