//! Do the iptables-legacy rules (`iptables-legacy-save` / `ip6tables-legacy-save`) let
//! the VRRP adverts in and out? The legacy tables are a second firewall beside nftables:
//! the kernel runs both, so an advert must get through each. The built-in PREROUTING and
//! INPUT chains (adverts arriving) or OUTPUT and POSTROUTING chains (adverts sent) of the
//! raw, mangle and filter tables are walked rule by rule, as [`super::firewall`] walks
//! nftables: what lvsd can evaluate (`-p`, `-i`/`-o`, conntrack states an advert cannot
//! have, a transport match VRRP does not have, `-s`/`-d` against the addresses the file
//! gives) is evaluated, the rest (other addresses, marks, other modules…) makes a rule's
//! verdict uncertain.

use super::firewall::{blocked_finding, Advert};
use super::Finding;
use std::collections::BTreeMap;

const VRRP: &str = "112";

/// One table of a save file: each chain's policy (None for user chains) and rules
/// (the words after `-A CHAIN`).
#[derive(Debug, Default)]
struct Table {
    policies: BTreeMap<String, Option<String>>,
    rules: BTreeMap<String, Vec<Vec<String>>>,
}

/// The tables of `iptables-save` text, by name. Lines that do not split as shell words
/// are left out.
fn parse(save: &str) -> BTreeMap<String, Table> {
    let mut tables: BTreeMap<String, Table> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in save.lines().map(str::trim) {
        if let Some(name) = line.strip_prefix('*') {
            current = Some(name.to_string());
            tables.entry(name.to_string()).or_default();
            continue;
        }
        let Some(t) = current.as_ref().and_then(|n| tables.get_mut(n)) else {
            continue;
        };
        if let Some(decl) = line.strip_prefix(':') {
            let mut w = decl.split_whitespace();
            if let (Some(chain), Some(policy)) = (w.next(), w.next()) {
                let policy = (policy != "-").then(|| policy.to_string());
                t.policies.insert(chain.to_string(), policy);
            }
        } else if line.starts_with("-A ") {
            let Ok(words) = shell_words::split(line) else {
                continue;
            };
            if let [_, chain, rest @ ..] = words.as_slice() {
                t.rules
                    .entry(chain.clone())
                    .or_default()
                    .push(rest.to_vec());
            }
        } else if line == "COMMIT" {
            current = None;
        }
    }
    tables
}

fn is_vrrp(proto: &str) -> bool {
    matches!(proto.to_ascii_lowercase().as_str(), "vrrp" | VRRP)
}

/// How a rule's matches fare for the advert, and its target.
struct Rule {
    /// Some(false): certainly not for the advert; None: cannot be told.
    applies: Option<bool>,
    /// `-j` or `-g` (and which).
    target: Option<(String, bool)>,
}

fn eval(words: &[String], a: Advert) -> Rule {
    let mut applies = Some(true);
    let mut target = None;
    let mut and = |r: Option<bool>| {
        applies = match (applies, r) {
            (Some(false), _) | (_, Some(false)) => Some(false),
            (None, _) | (_, None) => None,
            _ => Some(true),
        }
    };
    let mut i = 0;
    let mut negate = false;
    while i < words.len() {
        let w = words[i].as_str();
        let arg = words.get(i + 1).map(String::as_str);
        i += 1;
        let result = match w {
            "!" => {
                negate = true;
                continue;
            }
            "-p" | "--protocol" => {
                i += 1;
                arg.map(|p| is_vrrp(p) || p == "all" || p == "0")
            }
            "-i" | "--in-interface" | "-o" | "--out-interface" => {
                i += 1;
                // (the other direction's interface is not known for the advert)
                let ours = matches!(w, "-o" | "--out-interface") == a.outgoing;
                arg.filter(|_| ours).map(|n| match n.strip_suffix('+') {
                    Some(prefix) => a.iface.starts_with(prefix),
                    None => n == a.iface,
                })
            }
            "-m" | "--match" => {
                i += 1;
                // Loading a match module says nothing; its options are read below.
                Some(true)
            }
            "--state" | "--ctstate" => {
                i += 1;
                // Multicast adverts get no reply: never established nor related.
                arg.and_then(|s| {
                    let only_est = s.split(',').all(|x| matches!(x, "ESTABLISHED" | "RELATED"));
                    (only_est && !a.unicast).then_some(false)
                })
            }
            "-s" | "--source" | "-d" | "--destination" => {
                i += 1;
                let addr = if matches!(w, "-s" | "--source") {
                    a.src
                } else {
                    a.dst
                };
                arg.and_then(|net| {
                    let x = addr?;
                    net.split(',')
                        .try_fold(false, |any, n| Some(any || super::firewall::addr_in(n, x)?))
                })
            }
            "--comment" => {
                i += 1;
                Some(true)
            }
            // A transport port or ICMP type: VRRP has neither.
            "--dport" | "--sport" | "--destination-port" | "--source-port" | "--dports"
            | "--sports" | "--tcp-flags" | "--syn" | "--icmp-type" | "--icmpv6-type" => {
                if w != "--syn" {
                    i += 1;
                }
                if w == "--tcp-flags" {
                    i += 1;
                }
                Some(false)
            }
            "-j" | "--jump" | "-g" | "--goto" => {
                target = arg.map(|t| (t.to_string(), matches!(w, "-g" | "--goto")));
                // The target's own options follow: the matches are done.
                break;
            }
            // Addresses, marks and the rest: not known for an advert.
            _ => {
                if words.get(i).is_some_and(|n| !n.starts_with('-')) {
                    i += 1;
                }
                None
            }
        };
        and(if negate { result.map(|r| !r) } else { result });
        negate = false;
    }
    Rule { applies, target }
}

#[derive(Debug, PartialEq, Eq)]
enum End {
    Accept,
    /// Dropped by rule number `n` (1-based) of `chain`, or by its policy (None).
    Drop(String, Option<usize>),
    Fallthrough,
}

fn walk(t: &Table, chain: &str, a: Advert, uncertain: &mut bool, depth: u8) -> End {
    if depth > 16 {
        *uncertain = true;
        return End::Fallthrough;
    }
    let Some(rules) = t.rules.get(chain) else {
        return End::Fallthrough;
    };
    for (n, words) in rules.iter().enumerate() {
        let r = eval(words, a);
        if r.applies == Some(false) {
            continue;
        }
        let known = r.applies == Some(true);
        let Some((target, goto)) = r.target else {
            continue;
        };
        let end = match target.as_str() {
            "ACCEPT" => End::Accept,
            "DROP" | "REJECT" => End::Drop(chain.to_string(), Some(n + 1)),
            "RETURN" => End::Fallthrough,
            user if t.policies.contains_key(user) => {
                let mut sub_uncertain = !known;
                let sub = walk(t, user, a, &mut sub_uncertain, depth + 1);
                *uncertain |= sub_uncertain;
                match sub {
                    End::Fallthrough if !goto => continue,
                    End::Accept if sub_uncertain => continue,
                    other => other,
                }
            }
            // LOG, MARK, CT, NOTRACK…: the walk goes on.
            _ => continue,
        };
        match end {
            End::Accept if !known => *uncertain = true,
            // A drop under conditions lvsd cannot tell is not counted.
            End::Drop(..) if !known => {}
            e => return e,
        }
    }
    End::Fallthrough
}

/// The findings for the adverts `adverts` against `save`, the output of
/// `iptables-legacy-save` (`v6` false) or `ip6tables-legacy-save` (`v6` true); adverts
/// of the other family are not looked at.
pub fn vrrp_blocked(save: &str, v6: bool, adverts: &[Advert]) -> Vec<Finding> {
    let tables = parse(save);
    let tool = if v6 {
        "ip6tables-legacy"
    } else {
        "iptables-legacy"
    };
    let mut out = Vec::new();
    for a in adverts.iter().filter(|a| a.v6 == v6) {
        let hooks: [(&str, &[&str]); 3] = if a.outgoing {
            [
                ("raw", &["OUTPUT"]),
                ("mangle", &["OUTPUT", "POSTROUTING"]),
                ("filter", &["OUTPUT"]),
            ]
        } else {
            [
                ("raw", &["PREROUTING"]),
                ("mangle", &["PREROUTING", "INPUT"]),
                ("filter", &["INPUT"]),
            ]
        };
        for (table, chains) in hooks {
            let Some(t) = tables.get(table) else { continue };
            for chain in chains {
                let mut uncertain = false;
                let end = match walk(t, chain, *a, &mut uncertain, 0) {
                    End::Fallthrough
                        if t.policies.get(*chain).and_then(Option::as_deref) == Some("DROP") =>
                    {
                        End::Drop(chain.to_string(), None)
                    }
                    e => e,
                };
                let End::Drop(by_chain, rule) = end else {
                    continue;
                };
                let by = match rule {
                    Some(n) => format!("rule {n} of chain {by_chain} in table {table}"),
                    None => format!(
                        "the DROP policy of chain {by_chain} in table {table} (no rule accepts it)"
                    ),
                };
                out.push(blocked_finding(
                    tool,
                    *a,
                    &by,
                    uncertain,
                    format!(
                        "{tool} -t {table} -I {chain} {} {} -p vrrp -j ACCEPT",
                        a.if_word(false),
                        a.iface
                    ),
                ));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doctor::Level;

    const EMPTY: &str = "*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n\
                         :OUTPUT ACCEPT [0:0]\nCOMMIT\n";

    fn adv(unicast: bool) -> Advert<'static> {
        Advert {
            v6: false,
            iface: "eth0",
            unicast,
            outgoing: false,
            src: None,
            dst: None,
        }
    }

    fn with(policy: &str, rules: &str) -> String {
        format!(
            "# Generated by iptables-save v1.8.9\n*filter\n:INPUT {policy} [0:0]\n\
             :FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n:VR - [0:0]\n{rules}COMMIT\n"
        )
    }

    fn levels(f: &[Finding]) -> Vec<Level> {
        f.iter().map(|f| f.level).collect()
    }

    #[test]
    fn nothing_dropped_nothing_said() {
        assert!(vrrp_blocked(EMPTY, false, &[adv(false)]).is_empty());
        assert!(vrrp_blocked("", false, &[adv(false)]).is_empty());
        let ok = with("DROP", "-A INPUT -i eth0 -p vrrp -j ACCEPT\n");
        assert!(vrrp_blocked(&ok, false, &[adv(false)]).is_empty());
    }

    #[test]
    fn a_drop_of_protocol_112_is_named_with_its_rule_and_fix() {
        let save = with(
            "ACCEPT",
            "-A INPUT -p tcp -m tcp --dport 22 -j ACCEPT\n\
             -A INPUT -m state --state RELATED,ESTABLISHED -j ACCEPT\n\
             -A INPUT -i eth0 -p vrrp -j DROP\n",
        );
        let f = vrrp_blocked(&save, false, &[adv(false)]);
        assert_eq!(levels(&f), [Level::Problem], "{f:?}");
        assert!(
            f[0].what
                .contains("iptables-legacy drops IPv4 VRRP adverts (protocol 112) arriving on eth0: rule 3 of chain INPUT in table filter"),
            "{}",
            f[0].what
        );
        assert_eq!(
            f[0].fix,
            "iptables-legacy -t filter -I INPUT -i eth0 -p vrrp -j ACCEPT"
        );
        // Another interface's drop, a negated protocol: not for the advert.
        let other = with(
            "ACCEPT",
            "-A INPUT -i eth1 -p 112 -j DROP\n-A INPUT ! -p vrrp -j DROP\n",
        );
        assert!(vrrp_blocked(&other, false, &[adv(false)]).is_empty());
        // The IPv6 file says nothing of IPv4 adverts.
        assert!(vrrp_blocked(&save, true, &[adv(false)]).is_empty());
    }

    #[test]
    fn policies_user_chains_and_uncertain_accepts() {
        let policy = with("DROP", "-A INPUT -p tcp --dport 22 -j ACCEPT\n");
        let f = vrrp_blocked(&policy, false, &[adv(false)]);
        assert_eq!(levels(&f), [Level::Problem]);
        assert!(
            f[0].what.contains("the DROP policy of chain INPUT"),
            "{}",
            f[0].what
        );
        // A drop in a user chain the advert jumps to.
        let jump = with(
            "ACCEPT",
            "-A INPUT -i eth+ -j VR\n-A VR -p vrrp -j REJECT --reject-with icmp-port-unreachable\n",
        );
        let f = vrrp_blocked(&jump, false, &[adv(false)]);
        assert_eq!(levels(&f), [Level::Problem]);
        assert!(f[0].what.contains("rule 1 of chain VR"), "{}", f[0].what);
        // An accept only for one source address: lvsd cannot tell, so a warning.
        let src = with("DROP", "-A INPUT -s 10.0.0.2/32 -p vrrp -j ACCEPT\n");
        assert_eq!(
            levels(&vrrp_blocked(&src, false, &[adv(false)])),
            [Level::Warning]
        );
        // The unicast peer known: its source is evaluated.
        let peer = |p: &str| Advert {
            src: Some(p.parse().expect("ip")),
            ..adv(true)
        };
        assert!(vrrp_blocked(&src, false, &[peer("10.0.0.2")]).is_empty());
        let drop_peer = with(
            "ACCEPT",
            "-A INPUT -s 10.0.0.0/24 -i eth0 -p vrrp -j DROP\n",
        );
        let f = vrrp_blocked(&drop_peer, false, &[peer("10.0.0.3")]);
        assert_eq!(levels(&f), [Level::Problem]);
        assert!(
            f[0].what.contains("from unicast peer 10.0.0.3: rule 1"),
            "{}",
            f[0].what
        );
        assert!(vrrp_blocked(&drop_peer, false, &[peer("10.0.9.3")]).is_empty());
        // Established is never a multicast advert; a unicast one may be.
        let est = with(
            "DROP",
            "-A INPUT -m conntrack --ctstate ESTABLISHED -j ACCEPT\n",
        );
        assert_eq!(
            levels(&vrrp_blocked(&est, false, &[adv(false)])),
            [Level::Problem]
        );
        assert_eq!(
            levels(&vrrp_blocked(&est, false, &[adv(true)])),
            [Level::Warning]
        );
        // A comment with spaces splits as one word.
        let comment = with(
            "ACCEPT",
            "-A INPUT -p vrrp -m comment --comment \"no vrrp here\" -j DROP\n",
        );
        assert_eq!(
            levels(&vrrp_blocked(&comment, false, &[adv(false)])),
            [Level::Problem]
        );
    }

    /// The adverts of a unicast instance (unicast_src_ip 10.0.0.1, peer `peer`) each way.
    fn unicast_pair(peer: &str) -> [Advert<'static>; 2] {
        let (me, peer) = (
            Some("10.0.0.1".parse().expect("ip")),
            Some(peer.parse().expect("ip")),
        );
        let inbound = Advert {
            src: peer,
            dst: me,
            ..adv(true)
        };
        let outbound = Advert {
            outgoing: true,
            src: me,
            dst: peer,
            ..adv(true)
        };
        [inbound, outbound]
    }

    #[test]
    fn destinations_are_decided_from_the_file() {
        // Adverts to this router's unicast_src_ip let in, the rest dropped: decided.
        let by_dst = with("DROP", "-A INPUT -d 10.0.0.1/32 -p vrrp -j ACCEPT\n");
        assert!(vrrp_blocked(&by_dst, false, &unicast_pair("10.0.0.2")).is_empty());
        let other = with("DROP", "-A INPUT -d 10.0.0.9 -p vrrp -j ACCEPT\n");
        let f = vrrp_blocked(&other, false, &unicast_pair("10.0.0.2")[..1]);
        assert_eq!(levels(&f), [Level::Problem], "{f:?}");
        // An OUTPUT rule dropping the adverts to one peer: that peer's are named, sent.
        let out = "*filter\n:INPUT ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n\
                   -A OUTPUT -d 10.0.0.2/32 -o eth0 -p vrrp -j DROP\nCOMMIT\n";
        let f = vrrp_blocked(out, false, &unicast_pair("10.0.0.2"));
        assert_eq!(levels(&f), [Level::Problem], "{f:?}");
        assert!(
            f[0].what
                .contains("adverts (protocol 112) sent on eth0 to unicast peer 10.0.0.2: rule 1 of chain OUTPUT in table filter"),
            "{}",
            f[0].what
        );
        assert!(f[0]
            .consequence
            .starts_with("this router's adverts never reach the others"));
        assert_eq!(
            f[0].fix,
            "iptables-legacy -t filter -I OUTPUT -o eth0 -p vrrp -j ACCEPT"
        );
        assert!(vrrp_blocked(out, false, &unicast_pair("10.0.0.3")).is_empty());
        // Multicast adverts go to the group: a rule for it is decided both ways.
        let group = with("DROP", "-A INPUT -d 224.0.0.18/32 -p vrrp -j ACCEPT\n");
        let mcast = Advert {
            dst: Some("224.0.0.18".parse().expect("ip")),
            ..adv(false)
        };
        assert!(vrrp_blocked(&group, false, &[mcast]).is_empty());
        let other_group = Advert {
            dst: Some("224.0.0.19".parse().expect("ip")),
            ..mcast
        };
        assert_eq!(
            levels(&vrrp_blocked(&group, false, &[other_group])),
            [Level::Problem]
        );
        // An input interface says nothing of a sent advert: a drop under it is not counted.
        let in_only = "*filter\n:OUTPUT ACCEPT [0:0]\n-A OUTPUT -i eth0 -p vrrp -j DROP\nCOMMIT\n";
        assert!(vrrp_blocked(in_only, false, &unicast_pair("10.0.0.2")).is_empty());
    }

    #[test]
    fn raw_and_mangle_drop_too() {
        let save = "*raw\n:PREROUTING ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n\
                    -A PREROUTING -p vrrp -j DROP\nCOMMIT\n";
        let f = vrrp_blocked(save, false, &[adv(false)]);
        assert_eq!(levels(&f), [Level::Problem]);
        assert_eq!(
            f[0].fix,
            "iptables-legacy -t raw -I PREROUTING -i eth0 -p vrrp -j ACCEPT"
        );
    }
}
