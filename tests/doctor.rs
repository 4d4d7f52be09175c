//! `lvsd doctor` on a live system: a director in a network namespace of its own (the
//! sysctls it reads are per namespace), each fault set up by the test, named with its
//! fix, and gone once the fix is applied.

mod support;

use std::process::Command;
use support::Lab;

fn sysctl(ns: &str, kv: &str) {
    let st = Command::new("ip")
        .args(["netns", "exec", ns, "sysctl", "-q", "-w", kv])
        .status()
        .expect("sysctl");
    assert!(st.success(), "sysctl -w {kv} in {ns}");
}

/// Runs `lvsd doctor --json --listen 0` in `ns` on `conf`; the exit code and the findings.
fn doctor(ns: &str, conf: &std::path::Path) -> (i32, Vec<serde_json::Value>) {
    doctor_listening(ns, conf, 0)
}

/// `lvsd doctor --json --listen SECS`.
fn doctor_listening(ns: &str, conf: &std::path::Path, secs: u32) -> (i32, Vec<serde_json::Value>) {
    let out = Command::new("ip")
        .args(["netns", "exec", ns])
        .arg(env!("CARGO_BIN_EXE_lvsd"))
        .arg("-f")
        .arg(conf)
        .args(["doctor", "--json", "--listen", &secs.to_string()])
        .output()
        .expect("lvsd doctor");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "not JSON ({e}): {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (
        out.status.code().unwrap_or(-1),
        v.as_array().cloned().unwrap_or_default(),
    )
}

fn find<'a>(f: &'a [serde_json::Value], check: &str) -> Option<&'a serde_json::Value> {
    f.iter().find(|x| x["check"] == check)
}

#[test]
fn doctor_names_each_fault_and_its_fix() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    let lab = Lab::new("doctor", 1);
    let node = lab.node(0);
    let ns = node.ns.as_str();
    // A NAT director whose real server is one of its own addresses (localnode).
    let conf = lab.path("doctor.conf");
    std::fs::write(
        &conf,
        format!(
            "vrrp_instance V {{\n interface eth0\n virtual_router_id 51\n \
             virtual_ipaddress {{ 10.99.0.100/24 }}\n}}\n\
             virtual_server 10.99.0.100 80 {{\n lb_algo rr\n lb_kind NAT\n protocol TCP\n \
             real_server {} 80 {{ }}\n}}\n",
            node.ip
        ),
    )
    .expect("conf");

    sysctl(ns, "net.ipv4.ip_forward=0");
    sysctl(ns, "net.ipv4.conf.all.rp_filter=1");
    sysctl(ns, "net.ipv4.conf.eth0.rp_filter=0");
    let (code, f) = doctor(ns, &conf);
    assert_eq!(code, 1, "{f:?}");
    let fwd = find(&f, "ip_forward").expect("ip_forward named");
    assert_eq!(fwd["level"], "problem");
    assert!(
        fwd["fix"]
            .as_str()
            .is_some_and(|s| s.contains("sysctl -w net.ipv4.ip_forward=1")),
        "{fwd}"
    );
    let local = find(&f, "localnode").expect("localnode named");
    assert!(
        local["what"]
            .as_str()
            .is_some_and(|s| s.contains(&node.ip.to_string())),
        "{local}"
    );
    // The effective reverse-path filter is the larger of `all` and the interface's.
    let rp = find(&f, "rp_filter").expect("rp_filter");
    assert!(
        rp["what"]
            .as_str()
            .is_some_and(|s| s.contains("eth0: 1 (all 1, eth0 0")),
        "{rp}"
    );

    // The fix applied: that problem is gone (IPVS itself may still be missing here).
    sysctl(ns, "net.ipv4.ip_forward=1");
    let (_, f) = doctor(ns, &conf);
    assert!(find(&f, "ip_forward").is_none(), "{f:?}");
    if std::path::Path::new("/proc/net/ip_vs").exists() {
        // (A kernel with IPVS: nothing else is a problem for this file.)
        assert!(f.iter().all(|x| x["level"] != "problem"), "{f:?}");
    } else {
        assert!(find(&f, "ipvs_module").is_some(), "{f:?}");
    }
}

#[test]
fn doctor_finds_an_nft_rule_dropping_vrrp_and_its_fix_works() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    support::require_tool("nft");
    let lab = Lab::new("docfw", 1);
    let node = lab.node(0);
    let ns = node.ns.as_str();
    let conf = lab.path("fw.conf");
    std::fs::write(
        &conf,
        "vrrp_instance V {\n interface eth0\n virtual_router_id 51\n \
         virtual_ipaddress { 10.99.0.100/24 }\n}\n",
    )
    .expect("conf");
    let nft = |script: &str| {
        let st = Command::new("ip")
            .args(["netns", "exec", ns, "sh", "-c", script])
            .status()
            .expect("nft");
        assert!(st.success(), "{script}");
    };
    nft(
        "nft add table inet filter && \
         nft add chain inet filter input '{ type filter hook input priority 0; policy accept; }' && \
         nft add rule inet filter input ct state established accept && \
         nft add rule inet filter input tcp dport 22 accept && \
         nft add rule inet filter input iifname eth0 ip protocol vrrp drop",
    );
    let (code, f) = doctor(ns, &conf);
    assert_eq!(code, 1, "{f:?}");
    let fw = find(&f, "firewall_vrrp").expect("the firewall named");
    assert_eq!(fw["level"], "problem");
    assert!(
        fw["what"]
            .as_str()
            .is_some_and(|s| s.contains("arriving on eth0") && s.contains("rule handle")),
        "{fw}"
    );
    // The fix as written, run as it is: the finding is gone.
    let fix = fw["fix"].as_str().expect("fix").to_string();
    assert!(
        fix.starts_with("nft insert rule inet filter input"),
        "{fix}"
    );
    nft(&fix);
    let (_, f) = doctor(ns, &conf);
    assert!(find(&f, "firewall_vrrp").is_none(), "{f:?}");
    // A drop policy with nothing that lets VRRP in is named too.
    nft("nft flush chain inet filter input && nft add chain inet filter input '{ policy drop; }'");
    let (_, f) = doctor(ns, &conf);
    let fw = find(&f, "firewall_vrrp").expect("the drop policy named");
    assert!(
        fw["what"]
            .as_str()
            .is_some_and(|s| s.contains("drop policy")),
        "{fw}"
    );
    // A unicast instance, the input chain open only to adverts for its unicast_src_ip
    // (decided from the file: nothing said), an output chain dropping the adverts to one
    // peer by its address: that peer named, sent; the printed fix (oifname) run as it is.
    let uni = lab.path("fw-uni.conf");
    std::fs::write(
        &uni,
        "vrrp_instance V {\n interface eth0\n virtual_router_id 51\n \
         unicast_src_ip 10.99.0.1\n unicast_peer {\n 10.99.0.7\n 10.99.0.8\n }\n \
         virtual_ipaddress { 10.99.0.100/24 }\n}\n",
    )
    .expect("conf");
    nft("nft add rule inet filter input ip daddr 10.99.0.1 meta l4proto vrrp accept && \
         nft add chain inet filter output '{ type filter hook output priority 0; policy accept; }' && \
         nft add rule inet filter output ip daddr 10.99.0.8 meta l4proto vrrp drop");
    let (code, f) = doctor(ns, &uni);
    assert_eq!(code, 1, "{f:?}");
    let named: Vec<&serde_json::Value> =
        f.iter().filter(|x| x["check"] == "firewall_vrrp").collect();
    assert_eq!(named.len(), 1, "{f:?}");
    assert_eq!(named[0]["level"], "problem");
    assert!(
        named[0]["what"].as_str().is_some_and(|s| s.starts_with(
            "nftables drops IPv4 VRRP adverts (protocol 112) sent on eth0 to unicast peer 10.99.0.8: rule handle"
        ) && s.ends_with("of chain `inet filter output`")),
        "{}",
        named[0]
    );
    let fix = named[0]["fix"].as_str().expect("fix").to_string();
    assert_eq!(
        fix,
        "nft insert rule inet filter output oifname \"eth0\" meta l4proto vrrp accept"
    );
    nft(&fix);
    let (code, f) = doctor(ns, &uni);
    assert!(find(&f, "firewall_vrrp").is_none(), "{f:?}");
    assert_eq!(code, 0, "{f:?}");
}

/// The legacy iptables tables are a firewall of their own beside nftables: a rule there
/// dropping protocol 112 is named from the rules alone (nothing is sent), and the fix
/// the doctor prints, run as it is, lets the adverts in.
#[test]
fn doctor_finds_an_iptables_legacy_rule_dropping_vrrp_and_its_fix_works() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    support::require_tool("iptables-legacy");
    let lab = Lab::new("doclg", 1);
    let node = lab.node(0);
    let ns = node.ns.as_str();
    let conf = lab.path("lg.conf");
    std::fs::write(
        &conf,
        "vrrp_instance V {\n interface eth0\n virtual_router_id 51\n \
         virtual_ipaddress { 10.99.0.100/24 }\n}\n",
    )
    .expect("conf");
    let sh = |script: &str| {
        let st = Command::new("ip")
            .args(["netns", "exec", ns, "sh", "-c", script])
            .status()
            .expect("sh");
        assert!(st.success(), "{script}");
    };
    // Nothing dropped yet; the note says what was read, and that nothing was sent.
    let (_, f) = doctor(ns, &conf);
    assert!(find(&f, "firewall_vrrp").is_none(), "{f:?}");
    let read = find(&f, "firewall_read").expect("what was read");
    assert!(
        read["what"]
            .as_str()
            .is_some_and(|s| s.contains("iptables-legacy rules")
                && s.ends_with("from the rules alone: no packet sent")),
        "{read}"
    );
    sh("iptables-legacy -A INPUT -p tcp --dport 22 -j ACCEPT && \
        iptables-legacy -A INPUT -m state --state ESTABLISHED,RELATED -j ACCEPT && \
        iptables-legacy -A INPUT -i eth0 -p 112 -j DROP");
    let (code, f) = doctor(ns, &conf);
    assert_eq!(code, 1, "{f:?}");
    let fw = find(&f, "firewall_vrrp").expect("the legacy rule named");
    assert_eq!(fw["level"], "problem");
    assert_eq!(
        fw["what"],
        "iptables-legacy drops IPv4 VRRP adverts (protocol 112) arriving on eth0: rule 3 of chain INPUT in table filter"
    );
    let fix = fw["fix"].as_str().expect("fix").to_string();
    assert_eq!(
        fix,
        "iptables-legacy -t filter -I INPUT -i eth0 -p vrrp -j ACCEPT"
    );
    sh(&fix);
    let (code, f) = doctor(ns, &conf);
    assert!(find(&f, "firewall_vrrp").is_none(), "{f:?}");
    assert_eq!(code, 0, "{f:?}");
    // A DROP policy with nothing letting VRRP in, in the legacy raw table's view too.
    sh("iptables-legacy -F INPUT && iptables-legacy -P INPUT DROP");
    let (_, f) = doctor(ns, &conf);
    let fw = find(&f, "firewall_vrrp").expect("the drop policy named");
    assert!(
        fw["what"]
            .as_str()
            .is_some_and(|s| s.contains("the DROP policy of chain INPUT in table filter")),
        "{fw}"
    );
    // A unicast instance: the rule that drops one peer's adverts is named with that
    // peer, the other peer's adverts are let in.
    let uni = lab.path("lg-uni.conf");
    std::fs::write(
        &uni,
        "vrrp_instance V {\n interface eth0\n virtual_router_id 51\n \
         unicast_peer {\n 10.99.0.7\n 10.99.1.8\n }\n \
         virtual_ipaddress { 10.99.0.100/24 }\n}\n",
    )
    .expect("conf");
    sh("iptables-legacy -P INPUT ACCEPT && iptables-legacy -A INPUT -s 10.99.0.0/24 -p vrrp -j DROP");
    let (code, f) = doctor(ns, &uni);
    assert_eq!(code, 1, "{f:?}");
    let named: Vec<&serde_json::Value> =
        f.iter().filter(|x| x["check"] == "firewall_vrrp").collect();
    assert_eq!(named.len(), 1, "{f:?}");
    assert_eq!(
        named[0]["what"],
        "iptables-legacy drops IPv4 VRRP adverts (protocol 112) arriving on eth0 from unicast peer 10.99.0.7: rule 1 of chain INPUT in table filter"
    );
}

/// The fault's effect, not only its finding: with a legacy rule dropping VRRP on the
/// backup, the backup never hears the master and takes the VIP too (split brain); the
/// doctor names the rule, the fix it prints, run as it is, lets the adverts in and the
/// backup gives the VIP back. Run with lvsd on both sides and, as the reference, with
/// keepalived on both sides (the doctor is lvsd's either way).
fn legacy_vrrp_drop_splits_the_brain_until_the_fix(kind: support::Kind) {
    if support::skip_without_root("network namespaces") {
        return;
    }
    support::require_tool("iptables-legacy");
    use std::time::Duration;
    use support::{wait_addr, Conf, VIP};
    let lab = Lab::new(
        if kind == support::Kind::Lvsd {
            "lgsbl"
        } else {
            "lgsbk"
        },
        2,
    );
    let (a, b) = (lab.node(0).clone(), lab.node(1).clone());
    let conf_b = Conf::new("B", 100).render();
    let path_b = lab.path("b.conf");
    std::fs::write(&path_b, &conf_b).expect("conf");
    let st = Command::new("ip")
        .args([
            "netns",
            "exec",
            &b.ns,
            "iptables-legacy",
            "-A",
            "INPUT",
            "-i",
            "eth0",
            "-p",
            "112",
            "-j",
            "DROP",
        ])
        .status()
        .expect("iptables-legacy");
    assert!(st.success());
    let da = lab.spawn(0, kind, "a", &Conf::new("A", 150).render());
    let db = lab.spawn(1, kind, "b", &conf_b);
    let logs = || format!("--- a:\n{}\n--- b:\n{}", da.log_text(), db.log_text());
    let sec = Duration::from_secs(1);
    assert!(
        wait_addr(&a.ns, VIP, true, 8 * sec).is_some(),
        "A never became master\n{}",
        logs()
    );
    // B hears nothing: master too.
    assert!(
        wait_addr(&b.ns, VIP, true, 8 * sec).is_some(),
        "B did not take the VIP behind the drop\n{}",
        logs()
    );
    let (code, f) = doctor(&b.ns, &path_b);
    assert_eq!(code, 1, "{f:?}");
    let fw = find(&f, "firewall_vrrp").expect("the rule named");
    let fix = fw["fix"].as_str().expect("fix").to_string();
    assert_eq!(
        fix,
        "iptables-legacy -t filter -I INPUT -i eth0 -p vrrp -j ACCEPT"
    );
    let st = Command::new("ip")
        .args(["netns", "exec", &b.ns, "sh", "-c", &fix])
        .status()
        .expect("fix");
    assert!(st.success());
    // The next advert of A (priority 150) sends B back to BACKUP.
    assert!(
        wait_addr(&b.ns, VIP, false, 4 * sec).is_some(),
        "B kept the VIP after the fix\n{}",
        logs()
    );
    assert!(support::has_addr(&a.ns, VIP), "A lost the VIP\n{}", logs());
    let (code, f) = doctor(&b.ns, &path_b);
    assert!(find(&f, "firewall_vrrp").is_none(), "{f:?}");
    assert_eq!(code, 0, "{f:?}");
}

#[test]
fn lvsd_split_brain_behind_a_legacy_vrrp_drop_ends_with_the_printed_fix() {
    legacy_vrrp_drop_splits_the_brain_until_the_fix(support::Kind::Lvsd);
}

#[test]
fn keepalived_split_brain_behind_a_legacy_vrrp_drop_ends_with_the_printed_fix() {
    legacy_vrrp_drop_splits_the_brain_until_the_fix(support::Kind::Keepalived);
}

/// A unicast pair, the master's adverts to its peer dropped on the way out by a legacy
/// OUTPUT rule matching the peer's address, and its own INPUT closed but for adverts to
/// its unicast_src_ip: the doctor decides both from the file's addresses (the OUTPUT
/// drop a problem named with the peer, the INPUT accept certain: no warning), the peer
/// takes the VIP too (split brain), and the printed fix ends it. lvsd on both sides and,
/// as the reference, keepalived on both sides.
fn unicast_output_drop_by_destination(kind: support::Kind) {
    if support::skip_without_root("network namespaces") {
        return;
    }
    support::require_tool("iptables-legacy");
    use std::net::Ipv4Addr;
    use std::time::Duration;
    use support::{wait_addr, Conf, VIP};
    let lab = Lab::new(
        if kind == support::Kind::Lvsd {
            "uodl"
        } else {
            "uodk"
        },
        2,
    );
    let (a, b) = (lab.node(0).clone(), lab.node(1).clone());
    let (ip_a, ip_b) = (Ipv4Addr::new(10, 99, 0, 1), Ipv4Addr::new(10, 99, 0, 2));
    let conf = |id: &str, prio: u8, me: Ipv4Addr, peer: Ipv4Addr| {
        let mut c = Conf::new(id, prio);
        c.unicast = Some((me, vec![peer]));
        c.render()
    };
    let conf_a = conf("A", 150, ip_a, ip_b);
    let path_a = lab.path("a.conf");
    std::fs::write(&path_a, &conf_a).expect("conf");
    let sh = |script: &str| {
        let st = Command::new("ip")
            .args(["netns", "exec", &a.ns, "sh", "-c", script])
            .status()
            .expect("sh");
        assert!(st.success(), "{script}");
    };
    sh(&format!(
        "iptables-legacy -A INPUT -d {ip_a}/32 -p vrrp -j ACCEPT && \
         iptables-legacy -P INPUT DROP && \
         iptables-legacy -A OUTPUT -d {ip_b}/32 -p vrrp -j DROP"
    ));
    let da = lab.spawn(0, kind, "a", &conf_a);
    let db = lab.spawn(1, kind, "b", &conf("B", 100, ip_b, ip_a));
    let logs = || format!("--- a:\n{}\n--- b:\n{}", da.log_text(), db.log_text());
    let sec = Duration::from_secs(1);
    assert!(
        wait_addr(&a.ns, VIP, true, 8 * sec).is_some(),
        "A never became master\n{}",
        logs()
    );
    assert!(
        wait_addr(&b.ns, VIP, true, 8 * sec).is_some(),
        "B did not take the VIP though A's adverts are dropped\n{}",
        logs()
    );
    let (code, f) = doctor(&a.ns, &path_a);
    assert_eq!(code, 1, "{f:?}");
    let named: Vec<&serde_json::Value> =
        f.iter().filter(|x| x["check"] == "firewall_vrrp").collect();
    assert_eq!(named.len(), 1, "only the OUTPUT drop, decided: {f:?}");
    assert_eq!(named[0]["level"], "problem");
    assert_eq!(
        named[0]["what"],
        "iptables-legacy drops IPv4 VRRP adverts (protocol 112) sent on eth0 to unicast peer 10.99.0.2: rule 1 of chain OUTPUT in table filter"
    );
    let fix = named[0]["fix"].as_str().expect("fix").to_string();
    assert_eq!(
        fix,
        "iptables-legacy -t filter -I OUTPUT -o eth0 -p vrrp -j ACCEPT"
    );
    sh(&fix);
    assert!(
        wait_addr(&b.ns, VIP, false, 4 * sec).is_some(),
        "B kept the VIP after the fix\n{}",
        logs()
    );
    assert!(support::has_addr(&a.ns, VIP), "A lost the VIP\n{}", logs());
    let (code, f) = doctor(&a.ns, &path_a);
    assert!(find(&f, "firewall_vrrp").is_none(), "{f:?}");
    assert_eq!(code, 0, "{f:?}");
}

#[test]
fn lvsd_unicast_adverts_dropped_by_destination_on_the_way_out() {
    unicast_output_drop_by_destination(support::Kind::Lvsd);
}

#[test]
fn keepalived_unicast_adverts_dropped_by_destination_on_the_way_out() {
    unicast_output_drop_by_destination(support::Kind::Keepalived);
}

#[test]
fn doctor_hears_another_cluster_on_the_same_vrid() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    // Node 0 is the director being checked; keepalived on node 1 is its peer (same VRID,
    // same VIP); keepalived on node 2 is another cluster that took VRID 51 too.
    let lab = Lab::new("docvrid", 3);
    let conf = |prio: u8, vip: &str| {
        format!(
            "global_defs {{\n router_id r{prio}\n}}\n\
             vrrp_instance V {{\n state BACKUP\n interface eth0\n virtual_router_id 51\n \
             priority {prio}\n advert_int 1\n virtual_ipaddress {{ {vip}/24 }}\n}}\n"
        )
    };
    let _peer = lab.spawn(
        1,
        support::Kind::Keepalived,
        "peer",
        &conf(100, "10.99.0.100"),
    );
    let mine = lab.path("mine.conf");
    std::fs::write(&mine, conf(150, "10.99.0.100")).expect("conf");

    // The peer alone: heard, and it is no problem.
    let (_, f) = doctor_listening(&lab.node(0).ns, &mine, 6);
    let peer = find(&f, "vrrp_peer").expect("the peer heard");
    assert!(
        peer["what"]
            .as_str()
            .is_some_and(|s| s.contains(&lab.node(1).ip.to_string())),
        "{peer}"
    );
    assert!(find(&f, "vrid_conflict").is_none(), "{f:?}");

    let _other = lab.spawn(
        2,
        support::Kind::Keepalived,
        "other",
        &conf(100, "10.99.0.200"),
    );
    let (code, f) = doctor_listening(&lab.node(0).ns, &mine, 6);
    assert_eq!(code, 1, "{f:?}");
    let c = find(&f, "vrid_conflict").expect("the other cluster named");
    let what = c["what"].as_str().unwrap_or_default();
    assert!(
        what.contains(&lab.node(2).ip.to_string()) && what.contains("10.99.0.200"),
        "{c}"
    );
    assert!(
        c["fix"]
            .as_str()
            .is_some_and(|s| s.contains("virtual_router_id")),
        "{c}"
    );
}

#[test]
fn doctor_agrees_with_the_vmac_sysctls_keepalived_sets() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    let lab = Lab::new("docvmac", 1);
    let node = lab.node(0);
    let ns = node.ns.as_str();
    let text = "global_defs {\n router_id v\n}\n\
        vrrp_instance V {\n state MASTER\n interface eth0\n virtual_router_id 51\n \
        priority 150\n advert_int 1\n use_vmac\n virtual_ipaddress { 10.99.0.100/24 }\n}\n";
    let conf = lab.path("vmac.conf");
    std::fs::write(&conf, text).expect("conf");
    // keepalived 2.2.7 creates vrrp.51 and sets the sysctls: the doctor finds them right.
    let _k = lab.spawn(0, support::Kind::Keepalived, "vmac", text);
    // (/proc/sys is per namespace: looked at from inside the node's)
    let t = std::time::Instant::now();
    loop {
        let made = Command::new("ip")
            .args([
                "netns",
                "exec",
                ns,
                "test",
                "-e",
                "/proc/sys/net/ipv4/conf/vrrp.51",
            ])
            .status()
            .is_ok_and(|s| s.success());
        let filter = Command::new("ip")
            .args([
                "netns",
                "exec",
                ns,
                "sysctl",
                "-n",
                "net.ipv4.conf.eth0.arp_filter",
            ])
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "1");
        if made && filter {
            break;
        }
        assert!(
            t.elapsed() < std::time::Duration::from_secs(15),
            "keepalived made no vmac"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let (_, f) = doctor(ns, &conf);
    assert!(find(&f, "vmac_sysctls").is_none(), "{f:?}");
    // Undo one of keepalived's settings: named, with the sysctl that puts it back.
    sysctl(ns, "net.ipv4.conf.eth0.arp_filter=0");
    let (code, f) = doctor(ns, &conf);
    assert_eq!(code, 1, "{f:?}");
    let v = find(&f, "vmac_sysctls").expect("named");
    assert_eq!(v["fix"], "sysctl -w net.ipv4.conf.eth0.arp_filter=1", "{v}");
}
