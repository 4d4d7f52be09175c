//! Accept mode (RFC 5798 `Accept_Mode`): the nftables rules keepalived 2.2.7 keeps so that
//! a MASTER not in accept mode (`no_accept`, or `vrrp_strict` without `accept`; never the
//! address owner, priority 255) neither receives nor sends traffic of its VIPs.
//!
//! What keepalived builds (read from its vrrp_nftables.c and `nft -j list ruleset` of
//! Debian's keepalived 2.2.7; `tests/vrrp_firewall.rs` compares the two):
//! - table `ip TABLE` (default `keepalived`), made with the first IPv4 VIP dropped: base
//!   chains `out` (hook output) and `in` (hook input), type filter, priority
//!   `nftables_priority` (default -1), policy accept; set `vips` (ipv4_addr); rules
//!   `in: ip daddr @vips drop` and `out: ip saddr @vips drop`.
//! - table `ip6 TABLE`, made with the first IPv6 VIP: the same base chains, chains
//!   `in_link_local` and `out_link_local`, set `vips` (ipv6_addr), constant set
//!   `neighbor-discovery` (nd-neighbor-solicit, nd-neighbor-advert); rules `in: icmpv6 type
//!   @neighbor-discovery accept` (matched on the IPv6 next header, not meta l4proto), `in: ip6 daddr fe80::/10 goto in_link_local`, the same
//!   two in `out` on saddr, then `in: ip6 daddr @vips drop`, `out: ip6 saddr @vips drop`.
//!   Link-local VIPs go in `vips_link_local` (ipv6_addr . iface_index, rules `ip6 daddr .
//!   iif` / `ip6 saddr . oif` in the link-local chains), or with `dont_track_primary` (and
//!   no `nftables_ifindex`) in `vips_link_local_name` (ipv6_addr . ifname, `iifname` /
//!   `oifname`), each made with its first element.
//! - `nftables_counters` puts a counter before each rule's verdict.
//! - Elements are added when an instance becomes MASTER (before its VIPs) and removed when
//!   it leaves MASTER; the tables stay, empty, until the daemon stops, when they are
//!   deleted. Tables of the same name left by an earlier run are deleted when first made.
//!
//! Which elements exist is decided here without I/O ([`want`], [`Applied::plan`]); the
//! [`Firewall`] worker applies the plan with `nft -f -`, off the VRRP loop and bounded in
//! time. Why `nft` and not a netlink crate: the rules must be the ones keepalived makes,
//! including concatenated set keys (`ipv6_addr . iface_index`) and the set type metadata
//! that lets `nft list` show them, which the maintained pure-Rust crate (rustables) does not
//! build, while nftnl needs the C libraries libnftnl/libmnl on every director; `nft` (Debian
//! package nftables) is the reference encoder, and these rules change only on state
//! transitions and reloads, so one short process per change costs nothing that matters.

use crate::config::GlobalDefs;
use crate::vrrp::params::InstanceParams;
use crate::vrrp::vip::VipSpec;
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;
use tokio::sync::watch;

/// The global nftables settings (`nftables`, `nftables_priority`, `nftables_counters`,
/// `nftables_ifindex`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub table: String,
    pub priority: i32,
    pub counters: bool,
    pub force_ifindex: bool,
}

impl Settings {
    pub fn from_global(g: &GlobalDefs) -> Settings {
        Settings {
            table: g
                .nftables
                .clone()
                .unwrap_or_else(|| "keepalived".to_string()),
            priority: g.nftables_priority,
            counters: g.nftables_counters,
            force_ifindex: g.nftables_ifindex,
        }
    }
}

/// One element of a drop set.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Elem {
    /// In `ip TABLE vips`.
    V4(Ipv4Addr),
    /// In `ip6 TABLE vips`.
    V6(Ipv6Addr),
    /// In `ip6 TABLE vips_link_local`.
    LinkLocal(Ipv6Addr, u32),
    /// In `ip6 TABLE vips_link_local_name`.
    LinkLocalName(Ipv6Addr, String),
}

impl Elem {
    fn set(&self) -> (&'static str, &'static str) {
        match self {
            Elem::V4(_) => ("ip", "vips"),
            Elem::V6(_) => ("ip6", "vips"),
            Elem::LinkLocal(..) => ("ip6", "vips_link_local"),
            Elem::LinkLocalName(..) => ("ip6", "vips_link_local_name"),
        }
    }
    fn render(&self) -> String {
        match self {
            Elem::V4(a) => a.to_string(),
            Elem::V6(a) => a.to_string(),
            Elem::LinkLocal(a, i) => format!("{a} . {i}"),
            Elem::LinkLocalName(a, n) => format!("{a} . {}", quote(n)),
        }
    }
}

fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace(['"', '\\'], ""))
}

/// The rules wanted now: the settings and every element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Want {
    pub settings: Settings,
    pub elems: BTreeSet<Elem>,
}

/// One instance as the firewall sees it.
pub struct Holder<'a> {
    pub params: &'a InstanceParams,
    pub master: bool,
    /// The instance's addresses (VIPs, then excluded VIPs), interfaces resolved.
    pub vips: &'a [VipSpec],
}

/// Whether an instance's VIPs are dropped while it is MASTER (keepalived: not in accept
/// mode and not the address owner).
pub fn drops(p: &InstanceParams) -> bool {
    !p.accept && p.priority != 255
}

/// The elements for the instances as they are: the addresses of each MASTER that drops.
pub fn want<'a>(g: &GlobalDefs, holders: impl IntoIterator<Item = Holder<'a>>) -> Want {
    let settings = Settings::from_global(g);
    let mut elems = BTreeSet::new();
    for h in holders {
        if !h.master || !drops(h.params) {
            continue;
        }
        let p = h.params;
        let configured = p.vips.iter().chain(&p.excluded_vips);
        for (spec, conf) in h.vips.iter().zip(configured) {
            let e = match spec.addr {
                IpAddr::V4(a) => Elem::V4(a),
                IpAddr::V6(a) if !crate::vrrp::link::is_link_local(&a) => Elem::V6(a),
                IpAddr::V6(a) => {
                    let ifname = conf.dev.as_deref().unwrap_or(&p.interface);
                    if !settings.force_ifindex
                        && p.dont_track_primary
                        && (ifname == p.interface || conf.no_track)
                    {
                        Elem::LinkLocalName(a, ifname.to_string())
                    } else {
                        Elem::LinkLocal(a, spec.ifindex)
                    }
                }
            };
            elems.insert(e);
        }
    }
    Want { settings, elems }
}

/// What this run has made in the kernel.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    pub settings: Option<Settings>,
    pub v4: bool,
    pub v6: bool,
    pub ll_index: bool,
    pub ll_name: bool,
    pub elems: BTreeSet<Elem>,
}

impl Applied {
    /// The nft script that takes the kernel from `self` to `want` (None: nothing to do),
    /// and the state after it.
    pub fn plan(&self, want: &Want) -> (Option<String>, Applied) {
        let mut s = String::new();
        let mut next = self.clone();
        if self.settings.as_ref() != Some(&want.settings) {
            // New settings (a reload): the old tables go, the new ones are made as needed.
            if let Some(old) = &self.settings {
                s.push_str(&self.teardown_script(&old.table));
            }
            next = Applied {
                settings: Some(want.settings.clone()),
                ..Applied::default()
            };
        }
        let st = &want.settings;
        let t = &st.table;
        let ctr = if st.counters { "counter " } else { "" };
        let removed: Vec<&Elem> = next.elems.difference(&want.elems).collect();
        let added: Vec<&Elem> = want.elems.difference(&next.elems).collect();
        let need_v4 = added.iter().any(|e| matches!(e, Elem::V4(_)));
        let need_v6 = added.iter().any(|e| !matches!(e, Elem::V4(_)));
        if (need_v4 || need_v6) && !next.v4 && !next.v6 {
            // As keepalived: tables of this name left by an earlier run go first ("add"
            // then "delete" removes a table whether or not it is there).
            for fam in ["ip", "ip6"] {
                let _ = writeln!(s, "add table {fam} {t}\ndelete table {fam} {t}");
            }
        }
        let base = |s: &mut String, fam: &str, chain: &str, hook: &str| {
            let _ = writeln!(
                s,
                "add chain {fam} {t} {chain} {{ type filter hook {hook} priority {}; policy accept; }}",
                st.priority
            );
        };
        if need_v4 && !next.v4 {
            let _ = writeln!(s, "add table ip {t}");
            base(&mut s, "ip", "out", "output");
            base(&mut s, "ip", "in", "input");
            let _ = writeln!(s, "add set ip {t} vips {{ type ipv4_addr; }}");
            let _ = writeln!(s, "add rule ip {t} in ip daddr @vips {ctr}drop");
            let _ = writeln!(s, "add rule ip {t} out ip saddr @vips {ctr}drop");
            next.v4 = true;
        }
        if need_v6 && !next.v6 {
            let _ = writeln!(s, "add table ip6 {t}");
            base(&mut s, "ip6", "out", "output");
            base(&mut s, "ip6", "in", "input");
            let _ = writeln!(s, "add chain ip6 {t} in_link_local");
            let _ = writeln!(s, "add chain ip6 {t} out_link_local");
            let _ = writeln!(s, "add set ip6 {t} vips {{ type ipv6_addr; }}");
            let _ = writeln!(
                s,
                "add set ip6 {t} neighbor-discovery {{ type icmpv6_type; flags constant; \
                 elements = {{ nd-neighbor-solicit, nd-neighbor-advert }}; }}"
            );
            let _ = writeln!(
                s,
                "add rule ip6 {t} in ip6 nexthdr ipv6-icmp icmpv6 type @neighbor-discovery {ctr}accept"
            );
            let _ = writeln!(
                s,
                "add rule ip6 {t} in ip6 daddr fe80::/10 {ctr}goto in_link_local"
            );
            let _ = writeln!(
                s,
                "add rule ip6 {t} out ip6 nexthdr ipv6-icmp icmpv6 type @neighbor-discovery {ctr}accept"
            );
            let _ = writeln!(
                s,
                "add rule ip6 {t} out ip6 saddr fe80::/10 {ctr}goto out_link_local"
            );
            let _ = writeln!(s, "add rule ip6 {t} in ip6 daddr @vips {ctr}drop");
            let _ = writeln!(s, "add rule ip6 {t} out ip6 saddr @vips {ctr}drop");
            next.v6 = true;
        }
        let ll = |s: &mut String, set: &str, ty: &str, iif: &str, oif: &str| {
            let _ = writeln!(s, "add set ip6 {t} {set} {{ type ipv6_addr . {ty}; }}");
            let _ = writeln!(
                s,
                "add rule ip6 {t} in_link_local ip6 daddr . {iif} @{set} {ctr}drop"
            );
            let _ = writeln!(
                s,
                "add rule ip6 {t} out_link_local ip6 saddr . {oif} @{set} {ctr}drop"
            );
        };
        if !next.ll_index && added.iter().any(|e| matches!(e, Elem::LinkLocal(..))) {
            ll(&mut s, "vips_link_local", "iface_index", "iif", "oif");
            next.ll_index = true;
        }
        if !next.ll_name && added.iter().any(|e| matches!(e, Elem::LinkLocalName(..))) {
            ll(
                &mut s,
                "vips_link_local_name",
                "ifname",
                "iifname",
                "oifname",
            );
            next.ll_name = true;
        }
        for (verb, list) in [("delete", &removed), ("add", &added)] {
            for e in list.iter() {
                let (fam, set) = e.set();
                let _ = writeln!(s, "{verb} element {fam} {t} {set} {{ {} }}", e.render());
            }
        }
        next.elems = want.elems.clone();
        ((!s.is_empty()).then_some(s), next)
    }

    fn teardown_script(&self, table: &str) -> String {
        let mut s = String::new();
        if self.v4 {
            let _ = writeln!(s, "delete table ip {table}");
        }
        if self.v6 {
            let _ = writeln!(s, "delete table ip6 {table}");
        }
        s
    }

    /// The nft script that deletes the tables this run made (at stop), if any.
    pub fn teardown(&self) -> Option<String> {
        let s = self
            .settings
            .as_ref()
            .map(|st| self.teardown_script(&st.table))
            .unwrap_or_default();
        (!s.is_empty()).then_some(s)
    }
}

/// How long one `nft` run may take.
const NFT_TIMEOUT: Duration = Duration::from_secs(5);
/// How soon a failed change is tried again.
const RETRY: Duration = Duration::from_secs(2);

/// The handle of the firewall worker: the VRRP loop only publishes what it wants.
pub struct Firewall {
    tx: watch::Sender<Option<Want>>,
    worker: tokio::task::JoinHandle<()>,
}

impl Firewall {
    /// Starts the worker (it does nothing until an element is wanted).
    pub fn start() -> Firewall {
        let (tx, rx) = watch::channel(None);
        let worker = tokio::spawn(worker(rx));
        Firewall { tx, worker }
    }

    /// Publishes the rules wanted now; returns at once.
    pub fn set(&self, want: Want) {
        self.tx.send_if_modified(|cur| {
            if cur.as_ref() == Some(&want) {
                false
            } else {
                *cur = Some(want);
                true
            }
        });
    }

    /// Deletes the tables this run made and ends the worker (bounded in time).
    pub async fn stop(self) {
        drop(self.tx);
        if tokio::time::timeout(NFT_TIMEOUT + Duration::from_secs(1), self.worker)
            .await
            .is_err()
        {
            tracing::warn!("nftables: removing the tables did not finish in time");
        }
    }
}

async fn worker(mut rx: watch::Receiver<Option<Want>>) {
    let mut applied = Applied::default();
    let mut last_error: Option<String> = None;
    loop {
        let want = rx.borrow_and_update().clone();
        if let Some(want) = want {
            let (script, next) = applied.plan(&want);
            match script {
                None => applied = next,
                Some(script) => match run_nft(&script).await {
                    Ok(()) => {
                        if last_error.take().is_some() || applied.elems != next.elems {
                            tracing::info!(
                                "nftables: table {} now drops {} VIP(s) (no_accept)",
                                want.settings.table,
                                next.elems.len()
                            );
                        }
                        applied = next;
                    }
                    Err(e) => {
                        if last_error.as_deref() != Some(e.as_str()) {
                            tracing::error!(
                                "nftables: cannot update the no_accept drop rules ({e}); \
                                 trying again every {} s",
                                RETRY.as_secs()
                            );
                            last_error = Some(e);
                        }
                        // Retry unless something new comes first.
                        tokio::select! {
                            r = rx.changed() => if r.is_err() { break },
                            _ = tokio::time::sleep(RETRY) => {}
                        }
                        continue;
                    }
                },
            }
        }
        if rx.changed().await.is_err() {
            break;
        }
    }
    // Stopping: as keepalived, the tables go.
    if let Some(script) = applied.teardown() {
        match run_nft(&script).await {
            Ok(()) => tracing::info!("nftables: tables removed"),
            Err(e) => tracing::error!("nftables: cannot remove the tables: {e}"),
        }
    }
}

/// Runs `nft -f -` with `script` on its standard input, at most [`NFT_TIMEOUT`].
async fn run_nft(script: &str) -> Result<(), String> {
    use tokio::io::AsyncWriteExt;
    let mut child = tokio::process::Command::new("nft")
        .args(["-f", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::NotFound {
                "the nft command is not installed (Debian package nftables)".to_string()
            } else {
                format!("cannot run nft: {e}")
            }
        })?;
    let run = async {
        if let Some(mut stdin) = child.stdin.take() {
            stdin
                .write_all(script.as_bytes())
                .await
                .map_err(|e| format!("cannot write to nft: {e}"))?;
        }
        child
            .wait_with_output()
            .await
            .map_err(|e| format!("nft failed: {e}"))
    };
    let out = tokio::time::timeout(NFT_TIMEOUT, run)
        .await
        .map_err(|_| format!("nft did not finish within {} s", NFT_TIMEOUT.as_secs()))??;
    if out.status.success() {
        Ok(())
    } else {
        let err = String::from_utf8_lossy(&out.stderr);
        let first = err.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        Err(format!("nft said {}: {first}", out.status))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn config(text: &str) -> Config {
        crate::config::parse_str(text, std::path::Path::new("/x.conf"), "t")
            .expect("config")
            .config
    }

    /// The parameters of every instance, with each VIP on interface index 2 (or 7 with a
    /// `dev`).
    fn holders(c: &Config) -> Vec<(InstanceParams, Vec<VipSpec>)> {
        c.instances
            .iter()
            .map(|i| {
                let p = InstanceParams::from_config(i, &c.global, &c.vrrp_scripts).unwrap();
                let specs = p
                    .vips
                    .iter()
                    .chain(&p.excluded_vips)
                    .map(|v| VipSpec::from_config(v, if v.dev.is_some() { 7 } else { 2 }).unwrap())
                    .collect();
                (p, specs)
            })
            .collect()
    }

    fn want_with(c: &Config, masters: &[&str]) -> Want {
        let hs = holders(c);
        want(
            &c.global,
            hs.iter().map(|(p, v)| Holder {
                params: p,
                master: masters.contains(&p.name.as_str()),
                vips: v,
            }),
        )
    }

    const STRICT: &str = "global_defs {\n vrrp_strict\n}\n\
        vrrp_instance A {\n interface eth0\n virtual_router_id 1\n priority 100\n\
         virtual_ipaddress {\n 10.0.0.1/24\n 10.0.0.2\n }\n\
         virtual_ipaddress_excluded {\n 10.1.0.5\n fd00::5/64\n }\n}\n\
        vrrp_instance B {\n interface eth0\n virtual_router_id 2\n priority 100\n\
         virtual_ipaddress {\n fe80::1:2\n fd00::200/64\n fe80::9 dev eth1\n }\n}\n\
        vrrp_instance OWNER {\n interface eth0\n virtual_router_id 3\n priority 255\n\
         virtual_ipaddress {\n 10.0.0.3\n }\n}\n\
        vrrp_instance ACCEPT {\n interface eth0\n virtual_router_id 4\n priority 100\n\
         version 3\n accept\n virtual_ipaddress {\n 10.0.0.4\n }\n}\n";

    #[test]
    fn only_masters_not_in_accept_mode_drop_their_addresses() {
        let c = config(STRICT);
        let none = want_with(&c, &[]);
        assert!(none.elems.is_empty());
        assert_eq!(none.settings.table, "keepalived");
        assert_eq!(none.settings.priority, -1);
        // The owner and the instance in accept mode never drop.
        assert!(want_with(&c, &["OWNER", "ACCEPT"]).elems.is_empty());
        let a = want_with(&c, &["A", "OWNER"]);
        let v4 = |s: &str| Elem::V4(s.parse().unwrap());
        let v6 = |s: &str| s.parse::<Ipv6Addr>().unwrap();
        assert_eq!(
            a.elems,
            [
                v4("10.0.0.1"),
                v4("10.0.0.2"),
                v4("10.1.0.5"),
                Elem::V6(v6("fd00::5"))
            ]
            .into_iter()
            .collect()
        );
        let b = want_with(&c, &["B"]);
        assert_eq!(
            b.elems,
            [
                Elem::V6(v6("fd00::200")),
                Elem::LinkLocal(v6("fe80::1:2"), 2),
                Elem::LinkLocal(v6("fe80::9"), 7)
            ]
            .into_iter()
            .collect()
        );
    }

    #[test]
    fn without_strict_mode_only_no_accept_drops() {
        let c = config(
            "vrrp_instance A {\n interface eth0\n virtual_router_id 1\n\
             virtual_ipaddress {\n 10.0.0.1\n }\n}\n\
             vrrp_instance B {\n interface eth0\n virtual_router_id 2\n no_accept\n\
             virtual_ipaddress {\n 10.0.0.2\n }\n}\n",
        );
        assert_eq!(
            want_with(&c, &["A", "B"]).elems,
            [Elem::V4("10.0.0.2".parse().unwrap())]
                .into_iter()
                .collect()
        );
    }

    #[test]
    fn dont_track_primary_keys_link_local_by_name_unless_nftables_ifindex() {
        let text = "global_defs {\n vrrp_strict\n XX\n}\n\
            vrrp_instance B {\n interface eth0\n virtual_router_id 2\n dont_track_primary\n\
             virtual_ipaddress {\n fe80::1:2\n fe80::9 dev eth1\n fe80::a dev eth1 no_track\n }\n}\n";
        let c = config(&text.replace("XX", ""));
        let ll = |s: &str| s.parse::<Ipv6Addr>().unwrap();
        assert_eq!(
            want_with(&c, &["B"]).elems,
            [
                Elem::LinkLocal(ll("fe80::9"), 7),
                Elem::LinkLocalName(ll("fe80::1:2"), "eth0".into()),
                Elem::LinkLocalName(ll("fe80::a"), "eth1".into()),
            ]
            .into_iter()
            .collect()
        );
        let c = config(&text.replace("XX", "nftables_ifindex"));
        assert!(want_with(&c, &["B"])
            .elems
            .iter()
            .all(|e| matches!(e, Elem::LinkLocal(..))));
    }

    #[test]
    fn global_settings_are_read_as_keepalived() {
        let c =
            config("global_defs {\n nftables_priority 7\n nftables mine\n nftables_counters\n}\n");
        // `nftables` resets the priority written before it.
        assert_eq!(
            Settings::from_global(&c.global),
            Settings {
                table: "mine".into(),
                priority: -1,
                counters: true,
                force_ifindex: false
            }
        );
        let c =
            config("global_defs {\n nftables mine\n nftables_priority -20\n vrrp_iptables\n}\n");
        // vrrp_iptables: nftables, table keepalived (keepalived 2.2.7 has no iptables).
        assert_eq!(Settings::from_global(&c.global).table, "keepalived");
        assert_eq!(Settings::from_global(&c.global).priority, -1);
        let c = config("global_defs {\n nftables\n nftables_priority -20\n}\n");
        assert_eq!(Settings::from_global(&c.global).table, "keepalived");
        assert_eq!(Settings::from_global(&c.global).priority, -20);
    }

    #[test]
    fn plan_makes_tables_lazily_keeps_them_and_tears_them_down() {
        let c = config(STRICT);
        let start = Applied::default();
        // Nothing wanted: nothing to run, no table made.
        let (s, a0) = start.plan(&want_with(&c, &[]));
        assert_eq!(s, None);
        assert!(!a0.v4 && !a0.v6);
        assert_eq!(a0.teardown(), None);
        // A becomes MASTER: leftovers deleted, both tables made, elements added.
        let (s, a1) = a0.plan(&want_with(&c, &["A"]));
        let s = s.unwrap();
        let lines: Vec<&str> = s.lines().collect();
        assert_eq!(
            &lines[..6],
            [
                "add table ip keepalived",
                "delete table ip keepalived",
                "add table ip6 keepalived",
                "delete table ip6 keepalived",
                "add table ip keepalived",
                "add chain ip keepalived out { type filter hook output priority -1; policy accept; }",
            ]
        );
        assert!(lines.contains(&"add rule ip keepalived in ip daddr @vips drop"));
        assert!(
            lines.contains(&"add rule ip6 keepalived out ip6 saddr fe80::/10 goto out_link_local")
        );
        assert!(lines.contains(&"add element ip keepalived vips { 10.0.0.1 }"));
        assert!(lines.contains(&"add element ip6 keepalived vips { fd00::5 }"));
        assert!(!s.contains("link_local {"), "no link-local set yet: {s}");
        assert!(a1.v4 && a1.v6 && !a1.ll_index);
        // The same again: nothing to do.
        assert_eq!(a1.plan(&want_with(&c, &["A"])).0, None);
        // B too: only its elements and the link-local set.
        let (s, a2) = a1.plan(&want_with(&c, &["A", "B"]));
        let s = s.unwrap();
        assert!(!s.contains("add table"), "{s}");
        assert!(
            s.contains("add set ip6 keepalived vips_link_local { type ipv6_addr . iface_index; }")
        );
        assert!(s.contains(
            "add rule ip6 keepalived in_link_local ip6 daddr . iif @vips_link_local drop"
        ));
        assert!(s.contains("add element ip6 keepalived vips_link_local { fe80::1:2 . 2 }"));
        // Both leave MASTER: elements deleted, the tables stay.
        let (s, a3) = a2.plan(&want_with(&c, &[]));
        let s = s.unwrap();
        assert!(s.lines().all(|l| l.starts_with("delete element ")), "{s}");
        assert_eq!(s.lines().count(), 7);
        assert!(a3.v4 && a3.v6 && a3.ll_index && a3.elems.is_empty());
        // Master again: no set made twice.
        let (s, a4) = a3.plan(&want_with(&c, &["B"]));
        assert!(s.unwrap().lines().all(|l| l.starts_with("add element ")));
        // Stop: both tables deleted.
        assert_eq!(
            a4.teardown().as_deref(),
            Some("delete table ip keepalived\ndelete table ip6 keepalived\n")
        );
    }

    #[test]
    fn plan_with_counters_priority_and_a_new_table_name() {
        let c = config(&STRICT.replace(
            " vrrp_strict\n",
            " vrrp_strict\n nftables fw\n nftables_priority -150\n nftables_counters\n",
        ));
        let (s, a) = Applied::default().plan(&want_with(&c, &["A"]));
        let s = s.unwrap();
        assert!(s.contains(
            "add chain ip fw in { type filter hook input priority -150; policy accept; }"
        ));
        assert!(s.contains("add rule ip fw in ip daddr @vips counter drop"));
        assert!(s.contains("add rule ip6 fw in ip6 nexthdr ipv6-icmp icmpv6 type @neighbor-discovery counter accept"));
        // A reload naming another table: the old tables go, the new ones are made.
        let c2 = config(STRICT);
        let (s, b) = a.plan(&want_with(&c2, &["A"]));
        let s = s.unwrap();
        assert!(
            s.starts_with("delete table ip fw\ndelete table ip6 fw\n"),
            "{s}"
        );
        assert!(s.contains("add table ip keepalived\n"));
        assert!(s.contains("add element ip keepalived vips { 10.0.0.1 }"));
        assert_eq!(b.settings.unwrap().table, "keepalived");
    }

    #[test]
    fn link_local_by_name_uses_ifname_rules() {
        let c = config(
            "global_defs {\n vrrp_strict\n}\n\
             vrrp_instance B {\n interface eth0\n virtual_router_id 2\n dont_track_primary\n\
             virtual_ipaddress {\n fe80::1:2\n }\n}\n",
        );
        let (s, _) = Applied::default().plan(&want_with(&c, &["B"]));
        let s = s.unwrap();
        assert!(
            s.contains("add set ip6 keepalived vips_link_local_name { type ipv6_addr . ifname; }")
        );
        assert!(s.contains("ip6 saddr . oifname @vips_link_local_name drop"));
        assert!(
            s.contains("add element ip6 keepalived vips_link_local_name { fe80::1:2 . \"eth0\" }")
        );
    }
}
