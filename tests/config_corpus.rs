//! The corpus under tests/configs/: each file parses, and its model is what the file says.

use lvsd::config::{self, *};
use lvsd::script::ScriptUser;
use std::net::IpAddr;
use std::path::Path;
use std::time::Duration;

fn load(name: &str) -> Loaded {
    load_id(name, "lvs1")
}

fn load_id(name: &str, id: &str) -> Loaded {
    let path = Path::new("tests/configs").join(name);
    match config::load(&path, id) {
        Ok(l) => l,
        Err(e) => panic!("{name} failed:\n{e}"),
    }
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn secs(s: f64) -> Duration {
    Duration::from_secs_f64(s)
}

#[test]
fn master_director() {
    let l = load("master.conf");
    assert!(l.warnings.is_empty(), "{:?}", l.warnings);
    let c = &l.config;
    assert_eq!(c.global.router_id.as_deref(), Some("lvs1"));
    assert_eq!(c.global.notification_email, vec!["ops@example.com"]);
    assert_eq!(
        c.global.smtp_server,
        Some(SmtpServer {
            host: "192.0.2.25".into(),
            port: 25
        })
    );
    assert!(c.global.smtp_alert);
    let i = &c.instances[0];
    assert_eq!(i.name, "VI_1");
    assert_eq!(i.state, InitialState::Master);
    assert_eq!((i.virtual_router_id, i.priority), (51, 150));
    assert_eq!(i.interface, "eth0");
    assert_eq!(
        i.authentication,
        Some(Authentication {
            auth_type: AuthType::Pass,
            auth_pass: "secret12".into()
        })
    );
    let vip = &i.virtual_ipaddress[0];
    assert_eq!((vip.addr, vip.prefix_len), (ip("192.0.2.100"), 24));
    assert_eq!(vip.dev.as_deref(), Some("eth0"));
    assert_eq!(vip.label.as_deref(), Some("eth0:1"));
    // Spans point at the source.
    assert_eq!(i.vrid_span.line, 15);
    assert_eq!(i.vrid_span.col, 23);

    let vs = &c.virtual_servers[0];
    assert_eq!(
        vs.key,
        VsKey::Addr {
            addr: ip("192.0.2.100"),
            port: 80
        }
    );
    assert_eq!(vs.delay_loop, secs(5.0));
    assert_eq!(vs.lb_algo, "wrr");
    assert_eq!(vs.lb_kind, LbKind::Nat);
    assert_eq!(
        vs.persistence_timeout,
        Some(360),
        "bare persistence_timeout is 360 s"
    );
    assert!(vs.inhibit_on_failure);
    assert_eq!(
        vs.sorry_server,
        Some(SorryServer {
            addr: ip("198.51.100.99"),
            port: 8080,
            lvs_method: None
        })
    );
    assert_eq!(vs.real_servers.len(), 2);
    let rs = &vs.real_servers[0];
    assert_eq!(
        (rs.addr, rs.port, rs.weight),
        (ip("198.51.100.1"), Some(8080), 3)
    );
    let CheckerKind::Http(h) = &rs.checkers[0].kind else {
        panic!("not HTTP")
    };
    assert!(!h.tls);
    let u = &h.urls[0];
    assert_eq!(u.path, "/health");
    assert_eq!(
        u.status_codes,
        vec![
            StatusRange { from: 200, to: 299 },
            StatusRange { from: 301, to: 301 }
        ]
    );
    assert_eq!(
        u.digest.as_deref(),
        Some("9e107d9d372bb6826bd81d3542a419d6")
    );
    assert_eq!(rs.checkers[0].common.connect_timeout, Some(secs(2.5)));
    assert_eq!(rs.checkers[0].common.retry, Some(3));
    // Defaults where nothing is written.
    let rs2 = &vs.real_servers[1];
    assert_eq!(rs2.weight, 1);
    assert_eq!(rs2.checkers[0].common, CheckCommon::default());
}

#[test]
fn backup_director() {
    let c = load("backup.conf").config;
    let i = &c.instances[0];
    assert_eq!(i.state, InitialState::Backup);
    assert!(i.state_explicit && i.nopreempt);
    assert_eq!(i.preempt_delay, Some(secs(30.0)));
    assert_eq!(i.priority, 100);
    assert_eq!(i.advert_int, secs(1.0), "default advert_int");
    assert_eq!(
        i.notify.master.as_deref(),
        Some("/usr/local/bin/notify.sh master")
    );
    assert_eq!(
        i.notify.backup.as_deref(),
        Some("/usr/local/bin/notify.sh backup")
    );
    let vs = &c.virtual_servers[0];
    assert_eq!(vs.delay_loop, secs(60.0), "default delay_loop");
    assert_eq!(vs.lb_algo, "wlc", "default lb_algo");
    assert_eq!(vs.sorry_server.as_ref().map(|s| s.port), Some(8080));
}

#[test]
fn dr_with_fwmark() {
    let c = load("dr_fwmark.conf").config;
    let vs = &c.virtual_servers[0];
    assert_eq!(
        vs.key,
        VsKey::Fwmark {
            mark: 100,
            ipv6: false
        }
    );
    assert_eq!(vs.lb_kind, LbKind::Dr);
    assert_eq!(vs.lb_algo, "sh");
    assert!(vs.sched_flags.flag2 && !vs.sched_flags.flag1);
    assert_eq!(vs.persistence_timeout, Some(600));
    assert_eq!(
        vs.persistence_granularity,
        Some(Granularity::V4Mask("255.255.255.0".parse().unwrap()))
    );
    assert_eq!(vs.real_servers[0].port, None);
    assert_eq!(vs.real_servers[0].weight, 2);
    assert_eq!(vs.real_servers[0].checkers[0].kind, CheckerKind::Tcp);
    assert_eq!(
        vs.real_servers[0].checkers[0].common.connect_port,
        Some(443)
    );
    // DR with the same port on the real server is fine.
    assert_eq!(c.virtual_servers[1].real_servers[0].port, Some(443));
}

#[test]
fn tun() {
    let c = load("tun.conf").config;
    let vs = &c.virtual_servers[0];
    assert_eq!(vs.lb_kind, LbKind::Tun);
    assert_eq!(
        vs.tunnel,
        Some(Tunnel {
            tun_type: TunnelType::Gue,
            port: Some(6080),
            csum: TunnelCsum::Csum
        })
    );
    assert_eq!(
        vs.real_servers[0].tunnel.as_ref().map(|t| t.tun_type),
        Some(TunnelType::Ipip)
    );
    assert_eq!(vs.real_servers[0].checkers[0].kind, CheckerKind::Ping);
    assert_eq!(
        vs.real_servers[0].checkers[0].common.delay_loop,
        Some(secs(3.0))
    );
    assert_eq!(vs.real_servers[1].port, None);
}

#[test]
fn every_checker() {
    let c = load("checkers.conf").config;
    let smtp_rs = &c.virtual_servers[0].real_servers[0];
    let kinds: Vec<&CheckerKind> = smtp_rs.checkers.iter().map(|c| &c.kind).collect();
    assert_eq!(
        kinds[0],
        &CheckerKind::Smtp(Box::new(SmtpCheck {
            helo_name: Some("lvs.example.com".into())
        }))
    );
    assert_eq!(smtp_rs.checkers[0].common.connect_timeout, Some(secs(10.0)));
    let CheckerKind::Http(h) = kinds[1] else {
        panic!()
    };
    assert!(h.tls && h.enable_sni);
    assert_eq!(h.http_protocol.as_deref(), Some("1.1"));
    assert_eq!(h.urls[0].virtualhost.as_deref(), Some("www.example.com"));
    assert!(h.urls[0].accepts(204) && !h.urls[0].accepts(301));
    assert_eq!(
        kinds[2],
        &CheckerKind::Misc(Box::new(MiscCheck {
            misc_path: "/usr/local/bin/check.sh --port 25".into(),
            misc_timeout: Some(secs(5.0)),
            misc_dynamic: true,
            user: Some(ScriptUser {
                user: "nobody".into(),
                group: Some("nogroup".into())
            })
        }))
    );
    assert_eq!(
        kinds[3],
        &CheckerKind::File(Box::new(FileCheck {
            track_file: "/run/lvs/weight".into(),
            weight: Some(10),
            reverse: true
        }))
    );
    let vs = &c.virtual_servers[1];
    assert_eq!(vs.protocol, Protocol::Udp);
    let rs = &vs.real_servers[0];
    assert_eq!(
        rs.checkers[0].kind,
        CheckerKind::Dns(Box::new(DnsCheck {
            query_type: "A".into(),
            name: "www.example.com".into()
        }))
    );
    assert_eq!(rs.checkers[0].common.retry, Some(2));
    assert_eq!(
        rs.checkers[1].kind,
        CheckerKind::Udp(Box::new(UdpCheck::new(
            Some(b"hello".to_vec()),
            Some(ReplyPattern {
                data: b"ok".to_vec(),
                mask: Vec::new()
            })
        )))
    );
    assert_eq!(rs.checkers[2].kind, CheckerKind::Ping);
    let tcp = &rs.checkers[3].common;
    assert_eq!(tcp.more().bindto, Some(ip("192.0.2.1")));
    assert_eq!(tcp.more().bind_port, Some(40000));
    assert_eq!(tcp.more().connect_ip, Some(ip("198.51.100.131")));
    assert_eq!(tcp.more().alpha, Some(true));
    assert_eq!(tcp.more().warmup, Some(secs(2.0)));
    // keepalived accepts 0 for a checker's retry.
    assert_eq!(tcp.retry, Some(0));
}

#[test]
fn include_with_globs() {
    let l = load("include/main.conf");
    let c = &l.config;
    assert_eq!(c.global.router_id.as_deref(), Some("inc"));
    assert_eq!(c.instances[0].name, "VI_INC");
    assert_eq!(c.virtual_servers.len(), 1);
    assert_eq!(c.vrrp_scripts[0].name, "chk_inc");
    // Locations name the included file.
    assert!(c.instances[0]
        .span
        .file
        .ends_with("include/conf.d/10-vrrp.conf"));
    assert_eq!(c.instances[0].span.line, 1);
    assert!(c.vrrp_scripts[0].span.file.ends_with("include/single.inc"));
}

#[test]
fn include_cycle_is_reported() {
    let e = config::load(Path::new("tests/configs/cycle/a.conf"), "x").unwrap_err();
    assert_eq!(e.errors.len(), 1, "{e}");
    let d = &e.errors[0];
    assert!(d.span.file.ends_with("cycle/b.conf"));
    assert_eq!((d.span.line, d.span.col), (3, 1));
    let a = std::fs::canonicalize("tests/configs/cycle/a.conf").unwrap();
    let b = std::fs::canonicalize("tests/configs/cycle/b.conf").unwrap();
    assert_eq!(
        d.message,
        format!(
            "include cycle: {} -> {} -> {}",
            a.display(),
            b.display(),
            a.display()
        )
    );
}

#[test]
fn parameters() {
    let c = load("params.conf").config;
    assert_eq!(c.instances[0].virtual_ipaddress[0].addr, ip("203.0.113.20"));
    let vs = &c.virtual_servers[0];
    assert_eq!(
        vs.key,
        VsKey::Addr {
            addr: ip("203.0.113.20"),
            port: 443
        }
    );
    let rs = &vs.real_servers[0];
    assert_eq!(rs.port, Some(443));
    // The multi-line $CHECK became a TCP_CHECK block.
    assert_eq!(rs.checkers[0].kind, CheckerKind::Tcp);
    assert_eq!(rs.checkers[0].common.connect_timeout, Some(secs(4.0)));
}

#[test]
fn config_id_selects_lines() {
    let c = load_id("config_id.conf", "lvs1").config;
    assert_eq!(c.instances[0].state, InitialState::Master);
    assert_eq!(c.instances[0].priority, 200);
    let c = load_id("config_id.conf", "lvs2").config;
    assert_eq!(c.instances[0].state, InitialState::Backup);
    assert_eq!(c.instances[0].priority, 50);
}

#[test]
fn seq_expands_real_servers() {
    let c = load("seq.conf").config;
    let rs = &c.virtual_servers[0].real_servers;
    assert_eq!(rs.len(), 5);
    for (n, r) in rs.iter().enumerate() {
        assert_eq!(r.addr, ip(&format!("198.51.100.{}", n + 1)));
        assert_eq!(r.checkers[0].common.connect_timeout, Some(secs(2.0)));
        assert_eq!(r.span.line, 4);
    }
}

#[test]
fn ipv6() {
    let c = load("ipv6.conf").config;
    let i6 = &c.instances[0];
    assert!(i6.is_ipv6());
    assert_eq!(i6.version, Some(3));
    assert_eq!(i6.advert_int, secs(0.5));
    assert_eq!(i6.virtual_ipaddress[0].prefix_len, 64);
    // The same VRID on the same interface is fine across families.
    assert_eq!(c.instances[1].virtual_router_id, 60);
    assert!(!c.instances[1].is_ipv6());
    assert_eq!(
        c.virtual_servers[0].key,
        VsKey::Addr {
            addr: ip("2001:db8::100"),
            port: 80
        }
    );
    assert_eq!(
        c.virtual_servers[0].real_servers[0].addr,
        ip("2001:db8:1::1")
    );
    assert_eq!(
        c.virtual_servers[1].key,
        VsKey::Fwmark {
            mark: 6,
            ipv6: true
        }
    );
}

#[test]
fn virtual_server_group() {
    let c = load("vsg.conf").config;
    let g = &c.virtual_server_groups[0];
    assert_eq!(g.name, "WEB");
    assert_eq!(g.entries.len(), 3);
    assert_eq!(g.entries[0].expand().len(), 6);
    assert_eq!(
        g.entries[1],
        VsgEntry::Range {
            addr: ip("2001:db8::10"),
            range_end: Some(0x1f),
            port: Some(443)
        }
    );
    assert_eq!(g.entries[2], VsgEntry::Fwmark(7, None));
    assert_eq!(c.virtual_servers[0].key, VsKey::Group("WEB".into()));
    assert_eq!(c.virtual_servers[0].lb_algo, "lc");
}

#[test]
fn unicast_and_vip_options() {
    let c = load("unicast.conf").config;
    let i = &c.instances[0];
    assert_eq!(i.unicast_src_ip, Some(ip("192.0.2.1")));
    assert_eq!(
        i.unicast_peers,
        vec![
            UnicastPeer {
                addr: ip("192.0.2.2"),
                min_ttl: None,
                max_ttl: None
            },
            UnicastPeer {
                addr: ip("192.0.2.3"),
                min_ttl: Some(250),
                max_ttl: Some(255)
            }
        ]
    );
    assert_eq!(i.use_vmac.as_deref(), Some("vrrp.80"));
    assert_eq!(i.accept, Some(false));
    assert_eq!(i.garp_master_delay, Some(secs(2.0)));
    assert_eq!(i.garp_master_refresh, Some(secs(60.0)));
    let v = &i.virtual_ipaddress[0];
    assert_eq!(v.brd, Some(ip("192.0.2.255")));
    assert_eq!(v.scope.as_deref(), Some("global"));
    assert!(i.virtual_ipaddress_excluded[0].no_track);
    assert_eq!(i.virtual_ipaddress_excluded[0].prefix_len, 32);
}

#[test]
fn sync_group_and_tracking() {
    let c = load("sync_group.conf").config;
    let s = &c.vrrp_scripts[0];
    assert_eq!(s.script, "/usr/bin/pgrep haproxy");
    assert_eq!(
        (s.weight, s.weight_reverse, s.rise, s.fall),
        (10, true, 3, 2)
    );
    assert_eq!(s.interval, secs(2.0));
    assert!(s.init_fail);
    let g = &c.sync_groups[0];
    assert_eq!(g.members, vec!["VI_A", "VI_B"]);
    assert_eq!(
        g.notify.master.as_deref(),
        Some("/usr/local/bin/g1-master.sh")
    );
    assert_eq!(g.notify.generic.as_deref(), Some("/usr/local/bin/g1.sh"));
    assert_eq!(g.track_script[0].weight, Some(-5));
    assert!(g.tracking_weight);
    let a = &c.instances[0];
    assert_eq!(a.track_script[0].name, "chk_haproxy");
    assert_eq!(a.track_script[0].weight, None);
    assert_eq!(a.track_interface[0].weight, Some(20));
    assert_eq!(a.track_interface[1].name, "eth3");
}

#[test]
fn vrrp_version_3() {
    let c = load("vrrp_v3.conf").config;
    assert_eq!(c.global.vrrp_version, 3);
    assert!(c.global.vrrp_strict);
    assert_eq!(c.global.vrrp_garp_master_delay, secs(1.0));
    assert_eq!(c.global.vrrp_mcast_group4, Some(ip("224.0.0.18")));
    let i = &c.instances[0];
    assert_eq!(i.effective_version(&c.global), 3);
    assert_eq!(i.advert_int, secs(0.25));
    assert_eq!(i.priority, 255);
}

#[test]
fn global_defs_in_full() {
    let l = load("global_full.conf");
    let g = &l.config.global;
    assert_eq!(g.router_id.as_deref(), Some("lvs full"));
    assert_eq!(g.notification_email, vec!["a@example.com", "b@example.com"]);
    assert_eq!(g.smtp_server.as_ref().map(|s| s.port), Some(2525));
    assert_eq!(g.smtp_connect_timeout, secs(10.0));
    assert!(!g.vrrp_alerts() && g.checker_alerts());
    assert_eq!(
        g.script_user,
        Some(ScriptUser {
            user: "keepalived_script".into(),
            group: Some("users".into())
        })
    );
    assert!(g.enable_script_security && g.vrrp_skip_check_adv_addr);
    assert_eq!(g.vrrp_garp_master_repeat, 3);
    assert_eq!(g.vrrp_garp_master_refresh, Some(secs(30.0)));
    assert_eq!(g.vrrp_garp_master_refresh_repeat, 2);
    assert_eq!(
        g.lvs_sync_daemon,
        Some(LvsSyncDaemon {
            interface: "eth1".into(),
            instance: "VI_1".into(),
            sync_id: Some(5),
            maxlen: Some(1400),
            port: Some(8848),
            ttl: Some(2),
            group: Some(ip("224.0.0.81"))
        })
    );
    assert_eq!(
        g.lvs_timeouts,
        Some(LvsTimeouts {
            tcp: Some(900),
            tcpfin: Some(120),
            udp: Some(300)
        })
    );
    let f = g.notify_fifo.as_ref().unwrap();
    assert_eq!(f.path, Path::new("/run/keepalived.fifo"));
    assert_eq!(f.script.as_deref(), Some("/usr/local/bin/fifo.sh"));
    // vrrp_iptables is run as nftables, as Debian's keepalived 2.2.7 (built without
    // iptables) does, with a warning at its place.
    assert_eq!(g.nftables.as_deref(), Some("keepalived"));
    assert_eq!(l.warnings.len(), 1);
    assert_eq!(
        l.warnings[0].to_string(),
        "tests/configs/global_full.conf:21:5: warning: vrrp_iptables: iptables is not supported, \
         nftables is used instead (table keepalived), as keepalived 2.2.7 does; write `nftables`"
    );
}

#[test]
fn nat_with_misc_check_and_quorum() {
    let l = load("misc_nat.conf");
    let vs = &l.config.virtual_servers[0];
    assert_eq!((vs.quorum, vs.hysteresis), (2, 1));
    assert_eq!(vs.quorum_up.as_deref(), Some("/usr/local/bin/quorum.sh up"));
    assert!(vs.alpha && vs.omega);
    assert_eq!(vs.retry, Some(4));
    assert_eq!(vs.delay_before_retry, Some(secs(3.0)));
    let rs = &vs.real_servers[0];
    assert_eq!(rs.inhibit_on_failure, Some(false));
    assert_eq!(
        rs.more().notify_down.as_deref(),
        Some("/usr/local/bin/rs.sh down")
    );
    assert_eq!((rs.uthreshold, rs.lthreshold), (Some(1000), Some(100)));
    let CheckerKind::Misc(m) = &rs.checkers[0].kind else {
        panic!()
    };
    assert_eq!(m.misc_path, "/usr/local/bin/mysql-check");
    assert_eq!(m.misc_timeout, None);
    // Every script is listed with its location, for the script-security check.
    let cmds: Vec<&str> = l.scripts.iter().map(|s| s.command.as_str()).collect();
    assert_eq!(
        cmds,
        vec![
            "/usr/local/bin/quorum.sh up",
            "/usr/local/bin/quorum.sh down",
            "/usr/local/bin/rs.sh up",
            "/usr/local/bin/rs.sh down",
            "/usr/local/bin/mysql-check"
        ]
    );
    assert_eq!(l.scripts[0].span.line, 8);
}

#[test]
fn examples_load() {
    for f in [
        "examples/keepalived.conf",
        "examples/keepalived-backup.conf",
    ] {
        let l = config::load(Path::new(f), "x").unwrap_or_else(|e| panic!("{f}: {e}"));
        assert!(l.warnings.is_empty(), "{f}: {:?}", l.warnings);
        let c = &l.config;
        assert_eq!(c.instances.len(), 2);
        assert_eq!(c.virtual_servers.len(), 3);
        assert!(c.virtual_servers[0].sorry_server.is_some());
        assert!(c.virtual_servers[0].inhibit_on_failure);
        assert_eq!(c.virtual_servers[2].lb_kind, LbKind::Dr);
        assert!(matches!(
            c.virtual_servers[2].key,
            VsKey::Fwmark { mark: 80, .. }
        ));
    }
}

/// keepalived 2.2.7 syntax from real operators' files (tests/configs/features/).
#[test]
fn keepalived_syntax() {
    let path = Path::new("tests/configs/features/keepalived.conf");
    let l = config::load(path, "node1").unwrap_or_else(|e| panic!("{e}"));
    let c = &l.config;
    assert_eq!(c.global.instance.as_deref(), Some("lb-node1"));
    // ${_PWD}: the include beside this file, and ${_HASH} inside a quoted script.
    assert_eq!(c.vrrp_scripts[0].script, "/bin/true #1");
    let vi = &c.instances[0];
    let brd: Vec<_> = vi.virtual_ipaddress.iter().map(|v| v.brd).collect();
    assert_eq!(
        brd,
        [
            Some(ip("192.0.2.255")),
            Some(ip("192.0.2.0")),
            Some(ip("192.0.2.255"))
        ]
    );
    assert_eq!(vi.unicast_src_ip, Some(ip("192.0.2.1")));
    assert_eq!(vi.unicast_peers[0].addr, ip("192.0.2.2"));
    let g = &c.virtual_server_groups[0];
    assert_eq!(g.entries[1], VsgEntry::Fwmark(22, Some(false)));
    assert_eq!(g.entries[2], VsgEntry::Fwmark(36, Some(true)));
    // ~SEQ inside a multi-line parameter, counting down (step -1 by default), with its
    // bounds from parameters; `protocol udp` in lower case.
    let dns = &c.virtual_servers[0];
    assert_eq!(dns.protocol, Protocol::Udp);
    let addrs: Vec<_> = dns.real_servers.iter().map(|r| r.addr).collect();
    assert_eq!(
        addrs,
        [ip("198.51.100.3"), ip("198.51.100.2"), ip("198.51.100.1")]
    );
    let tun = &c.virtual_servers[1];
    assert_eq!(tun.lb_kind, LbKind::Tun);
    let t = tun.tunnel.as_ref().expect("the tunnel");
    assert_eq!(
        (t.tun_type, t.port, t.csum),
        (TunnelType::Gue, Some(6080), TunnelCsum::Csum)
    );
    // ~SEQx writes hexadecimal; ~SEQ(var, end) starts at 1.
    let addrs: Vec<_> = tun.real_servers.iter().map(|r| r.addr).collect();
    assert_eq!(
        addrs,
        [
            ip("2001:db8::9"),
            ip("2001:db8::a"),
            ip("2001:db8::b"),
            ip("2001:db8:1::1"),
            ip("2001:db8:1::2")
        ]
    );
    // SMTP_CHECK `host` blocks: a checker each, with the block's settings; the block
    // set connect_timeout, so (as keepalived 2.2.7) the real server itself is one too.
    let smtp = &c.virtual_servers[2].real_servers[0].checkers;
    let hosts: Vec<_> = smtp
        .iter()
        .map(|k| {
            (
                k.common.more().connect_ip,
                k.common.connect_port,
                k.common.connect_timeout,
            )
        })
        .collect();
    let t7 = Some(Duration::from_secs(7));
    assert_eq!(
        hosts,
        [
            (None, None, t7),
            (Some(ip("198.51.100.26")), None, t7),
            (Some(ip("198.51.100.27")), Some(587), t7)
        ]
    );
    assert!(smtp
        .iter()
        .all(|k| matches!(&k.kind, CheckerKind::Smtp(s) if s.helo_name.as_deref() == Some("probe.example.org"))));
    // FILE_CHECK's track_file names the top-level track_file: its file and weight.
    let file = &c.virtual_servers[3].real_servers[0].checkers[0].kind;
    assert_eq!(
        file,
        &CheckerKind::File(Box::new(FileCheck {
            track_file: "/run/lvsd-test/weight".into(),
            weight: Some(3),
            reverse: true,
        }))
    );
    // The prefixes written on unicast addresses are the only problems, besides the four
    // virtual servers without `lb_algo` (keepalived: "no scheduler set").
    let (no_sched, msgs): (Vec<_>, Vec<_>) = l
        .warnings
        .iter()
        .map(|w| w.message.as_str())
        .partition(|m| m.contains("has no `lb_algo`"));
    assert_eq!(no_sched.len(), 4, "{no_sched:?}");
    assert_eq!(msgs.len(), 2, "{msgs:?}");
    assert!(msgs
        .iter()
        .all(|m| m.contains("a prefix means nothing here")));
}
