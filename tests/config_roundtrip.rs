//! Round trip: model → printed keepalived.conf → parse → the same model.
//! Over the whole corpus, and over random models (proptest picks the seeds).

use lvsd::config::{self, *};
use lvsd::script::ScriptUser;
use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::Path;
use std::time::Duration;

fn round_trip(c: &Config) {
    let text = config::print(c);
    let back = match config::parse_str(&text, Path::new("printed.conf"), "x") {
        Ok(l) => l.config,
        Err(e) => panic!("printed config does not parse:\n{e}\n---\n{text}"),
    };
    if &back != c {
        // Narrow the difference down for the message (locations left out).
        let a = without_spans(c);
        let b = without_spans(&back);
        let first = a
            .lines()
            .zip(b.lines())
            .position(|(x, y)| x != y)
            .unwrap_or(0);
        panic!(
            "round trip changed the model near line {first}:\n{}\n---\n{}\n---\n{text}",
            a.lines()
                .skip(first.saturating_sub(8))
                .take(12)
                .collect::<Vec<_>>()
                .join("\n"),
            b.lines()
                .skip(first.saturating_sub(8))
                .take(12)
                .collect::<Vec<_>>()
                .join("\n"),
        );
    }
}

fn without_spans(c: &Config) -> String {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(m) => {
                m.retain(|k, _| !k.ends_with("span") && !k.ends_with("spans"));
                m.values_mut().for_each(strip);
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut v = serde_json::to_value(c).unwrap();
    strip(&mut v);
    serde_json::to_string_pretty(&v).unwrap()
}

#[test]
fn corpus_round_trips() {
    let mut n = 0;
    let mut files: Vec<_> = std::fs::read_dir("tests/configs")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
        .collect();
    files.push("tests/configs/include/main.conf".into());
    files.push("examples/keepalived.conf".into());
    for f in files {
        let l = config::load(&f, "lvs1").unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        round_trip(&l.config);
        n += 1;
    }
    assert!(n >= 16);
}

/// A small deterministic generator driven by proptest's seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self) -> bool {
        self.next() & 1 == 1
    }
    fn maybe<T>(&mut self, f: impl FnOnce(&mut Self) -> T) -> Option<T> {
        if self.chance() {
            Some(f(self))
        } else {
            None
        }
    }
    fn dur(&mut self) -> Duration {
        // Whole seconds, or with up to six decimals.
        match self.below(3) {
            0 => Duration::from_secs(self.below(100) + 1),
            1 => Duration::from_millis(self.below(100_000) + 1),
            _ => Duration::from_micros(self.below(100_000_000) + 1),
        }
    }
    fn ip(&mut self, v6: bool) -> IpAddr {
        if v6 {
            IpAddr::V6(Ipv6Addr::new(
                0x2001,
                0xdb8,
                0,
                0,
                0,
                0,
                0,
                self.below(0xffff) as u16 + 1,
            ))
        } else {
            IpAddr::V4(Ipv4Addr::new(198, 51, 100, self.below(254) as u8 + 1))
        }
    }
    fn word(&mut self, prefix: &str) -> String {
        format!("{prefix}{}", self.below(1000))
    }
    fn script(&mut self) -> String {
        match self.below(3) {
            0 => self.word("/usr/local/bin/s"),
            1 => format!("{} arg {}", self.word("/usr/bin/x"), self.below(9)),
            _ => format!("/bin/sh -c 'echo {} > /tmp/x'", self.below(9)),
        }
    }
    fn user(&mut self) -> ScriptUser {
        ScriptUser {
            user: self.word("u"),
            group: self.maybe(|r| r.word("g")),
        }
    }
}

fn gen_config(seed: u64) -> Config {
    let r = &mut Rng(seed | 1);
    let mut c = Config::default();
    let g = &mut c.global;
    g.router_id = r.maybe(|r| r.word("lvs "));
    g.notification_email = (0..r.below(3))
        .map(|i| format!("ops{i}@example.com"))
        .collect();
    g.notification_email_from = r.maybe(|r| r.word("from@"));
    g.smtp_server = r.maybe(|r| SmtpServer {
        host: r.word("mail"),
        port: r.below(65535) as u16 + 1,
    });
    g.smtp_connect_timeout = r.dur();
    g.smtp_alert = r.chance();
    g.smtp_alert_vrrp = r.maybe(Rng::chance);
    g.smtp_alert_checker = r.maybe(Rng::chance);
    g.script_user = r.maybe(Rng::user);
    g.enable_script_security = r.chance();
    g.vrrp_strict = r.chance();
    g.vrrp_skip_check_adv_addr = r.chance();
    g.vrrp_check_unicast_src = r.chance();
    g.vrrp_garp_master_delay = r.dur();
    g.vrrp_garp_master_repeat = r.below(10) as u32;
    g.vrrp_garp_master_refresh = r.maybe(Rng::dur);
    g.vrrp_garp_master_refresh_repeat = r.below(10) as u32;
    g.vrrp_garp_interval = r.maybe(Rng::dur).unwrap_or_default();
    g.vrrp_gna_interval = r.maybe(Rng::dur).unwrap_or_default();
    g.vrrp_garp_lower_prio_delay = r.maybe(|r| Duration::from_secs(r.below(30)));
    g.vrrp_garp_lower_prio_repeat = r.maybe(|r| r.below(10) as u32);
    g.vrrp_garp_extra_if = r.maybe(|r| ExtraIfGarp {
        interval_secs: r.below(86_400) as u32 + 1,
        all: r.chance(),
    });
    g.vrrp_lower_prio_no_advert = r.chance();
    g.vrrp_higher_prio_send_advert = r.chance();
    g.vrrp_startup_delay = r.maybe(|r| r.dur().max(Duration::from_millis(1)));
    g.max_auto_priority = r.below(101) as i32 - 1;
    g.min_auto_priority_delay = r.maybe(|r| Duration::from_micros(r.below(10_000_000) + 1));
    g.vrrp_no_swap = r.chance();
    g.netlink_bufs.vrrp_cmd = RcvBuf {
        bytes: r.maybe(|r| r.below(1 << 24) as u32 + 1).unwrap_or(0),
        force: r.chance(),
    };
    g.netlink_bufs.lvs_monitor.bytes = r.below(2) as u32 * 212_992;
    g.vrrp_rx_bufs = match r.below(4) {
        0 => RxBufsPolicy::default(),
        1 => RxBufsPolicy {
            mtu: true,
            ..Default::default()
        },
        2 => RxBufsPolicy {
            advert: true,
            ..Default::default()
        },
        _ => RxBufsPolicy {
            size: Some(r.below(1 << 20) as u32),
            ..Default::default()
        },
    };
    g.vrrp_rx_bufs_multiplier = r.below(6) as u32 + 1;
    g.default_interface = r.maybe(|r| r.word("bond"));
    g.lvs_flush = r.chance();
    g.dynamic_interfaces = r.chance();
    g.log_unknown_vrids = r.chance();
    g.vrrp_notify_priority_changes = r.chance();
    g.fifo_write_vrrp_states_on_reload = r.chance();
    g.vrrp_down_timer_adverts = r.maybe(|r| r.below(100) as u32 + 1);
    g.vmac_prefix = r.maybe(|r| r.word("vr"));
    g.no_email_faults = r.chance();
    g.umask = r.maybe(|r| r.below(0o1000) as u32);
    g.startup_script = r.maybe(|r| LifeScript {
        command: r.script(),
        user: r.maybe(Rng::user),
        timeout: Duration::from_secs(r.below(1000) + 1),
    });
    g.vrrp_tuning = ThreadTuning {
        nice: r.maybe(|r| r.below(40) as i32 - 20),
        rt_priority: r.maybe(|r| r.below(99) as u32 + 1),
        cpus: (0..r.below(3)).map(|c| c as u32 * 2).collect(),
    };
    g.checker_tuning.nice = r.maybe(|r| r.below(40) as i32 - 20);
    g.checker_rlimit_rttime = r.maybe(|r| r.below(100_000) + 2);
    g.lvs_flush_on_stop =
        [FlushOnStop::Disabled, FlushOnStop::Full, FlushOnStop::Vs][r.below(3) as usize];
    g.checker_no_swap = r.chance();
    g.vrrp_rlimit_rttime = r.maybe(|r| r.below(1_000_000) + 2);
    g.vrrp_version = 2 + r.below(2) as u8;
    g.vrrp_v3_checksum_as_v2 = r.chance();
    g.nftables = r.maybe(|r| r.word("tab"));
    g.nftables_priority = r.below(20) as i32 - 10;
    g.nftables_counters = r.chance();
    g.nftables_ifindex = r.chance();
    g.vrrp_mcast_group4 = r.maybe(|_| "224.0.0.18".parse().unwrap());
    g.vrrp_mcast_group6 = r.maybe(|_| "ff02::12".parse().unwrap());
    g.lvs_sync_daemon = r.maybe(|r| LvsSyncDaemon {
        interface: r.word("eth"),
        instance: r.word("VI_"),
        sync_id: r.maybe(|r| r.below(256) as u32),
        maxlen: r.maybe(|r| r.below(1400) as u16 + 1),
        port: r.maybe(|r| r.below(65535) as u16),
        ttl: r.maybe(|r| r.below(255) as u8 + 1),
        group: r.maybe(|r| r.ip(false)),
    });
    g.lvs_timeouts = r.maybe(|r| LvsTimeouts {
        tcp: r.maybe(|r| r.below(1000) as u32),
        tcpfin: r.maybe(|r| r.below(1000) as u32),
        udp: r.maybe(|r| r.below(1000) as u32),
    });
    g.notify_fifo = r.maybe(|r| NotifyFifo {
        path: r.word("/run/fifo").into(),
        script: r.maybe(Rng::script),
        script_user: None,
    });
    g.notify_script_timeout = r.dur();
    let version = g.vrrp_version;

    for i in 0..r.below(3) {
        c.vrrp_scripts.push(VrrpScript {
            span: Span::default(),
            name: format!("chk_{i}"),
            script: r.script(),
            // whole seconds (keepalived reads no fraction here)
            interval: Duration::from_secs(r.below(100) + 1),
            timeout: r.maybe(|r| Duration::from_secs(r.below(100) + 1)),
            weight: r.below(507) as i32 - 253,
            weight_reverse: r.chance(),
            rise: r.below(5) as u32 + 1,
            fall: r.below(5) as u32 + 1,
            user: r.maybe(Rng::user),
            init_fail: r.chance(),
        });
    }
    let nscripts = c.vrrp_scripts.len() as u64;
    for i in 0..r.below(4) {
        let v6 = r.chance();
        let vips = (0..r.below(3) + 1)
            .map(|_| VirtualIp {
                span: Span::default(),
                addr: r.ip(v6),
                prefix_len: if v6 { 64 } else { r.below(33) as u8 },
                brd: if v6 { None } else { r.maybe(|r| r.ip(false)) },
                dev: r.maybe(|r| r.word("eth")),
                scope: r.maybe(|_| "link".to_string()),
                label: r.maybe(|r| r.word("eth0:")),
                no_track: r.chance(),
                opts: Default::default(),
            })
            .collect();
        // Without a `state` line an instance starts as BACKUP.
        let explicit = r.chance();
        let backup = !explicit || r.chance();
        let explicit_backup = explicit && backup;
        let ver = r.maybe(|r| 2 + r.below(2) as u8);
        let advert = if ver.unwrap_or(version) == 2 {
            Duration::from_secs(r.below(255) + 1)
        } else {
            Duration::from_millis(10 * (r.below(4095) + 1))
        };
        let track_script = (0..r.below(nscripts + 1))
            .map(|k| {
                let weight = r.maybe(|r| r.below(507) as i32 - 253);
                TrackScript {
                    span: Span::default(),
                    name: format!("chk_{k}"),
                    weight,
                    reverse: weight.and_then(|_| r.maybe(Rng::chance)),
                }
            })
            .collect();
        c.instances.push(VrrpInstance {
            span: Span::default(),
            name: format!("VI_{i}"),
            state: if backup {
                InitialState::Backup
            } else {
                InitialState::Master
            },
            state_explicit: explicit,
            linkbeat_use_polling: false,
            interface: format!("eth{}", r.below(2)),
            virtual_router_id: i as u8 + 1,
            vrid_span: Span::default(),
            priority: r.below(255) as u8 + 1,
            advert_int: advert,
            version: ver,
            authentication: r.maybe(|r| Authentication {
                auth_type: if r.chance() {
                    AuthType::Pass
                } else {
                    AuthType::Ah
                },
                auth_pass: r.word("pw"),
            }),
            virtual_ipaddress: vips,
            virtual_ipaddress_excluded: (0..r.below(2))
                .map(|_| VirtualIp {
                    span: Span::default(),
                    addr: r.ip(false),
                    prefix_len: 32,
                    brd: None,
                    dev: None,
                    scope: None,
                    label: None,
                    no_track: false,
                    opts: Default::default(),
                })
                .collect(),
            track_script,
            track_interface: (0..r.below(3))
                .map(|k| TrackInterface {
                    span: Span::default(),
                    name: format!("eth{k}"),
                    weight: r.maybe(|r| r.below(100) as i32 - 50),
                    reverse: None,
                })
                .collect(),
            kernel_rx_buf_size: r.maybe(|r| r.below(100_000) as u32 + 1),
            check_unicast_src: r.chance(),
            notify_priority_changes: r.maybe(Rng::chance),
            promote_secondaries: r.chance(),
            down_timer_adverts: r.maybe(|r| r.below(100) as u32 + 1),
            unicast_ttl: r.maybe(|r| r.below(256) as u8),
            mcast_dst_ip: r.maybe(|r| {
                std::net::IpAddr::V4(std::net::Ipv4Addr::new(224, 0, 0, r.below(250) as u8 + 1))
            }),
            unicast_fault_no_peer: r.chance(),
            track_src_ip: r.chance(),
            old_unicast_checksum: r.maybe(|r| {
                if r.chance() {
                    OldUnicastChecksum::Always
                } else {
                    OldUnicastChecksum::Never
                }
            }),
            track_file: Vec::new(),
            track_process: Vec::new(),
            notify: Notify {
                master: r.maybe(Rng::script),
                backup: r.maybe(Rng::script),
                fault: r.maybe(Rng::script),
                stop: r.maybe(Rng::script),
                deleted: r.maybe(Rng::script),
                generic: r.maybe(Rng::script),
                master_rx_lower_pri: r.maybe(Rng::script),
            },
            nopreempt: explicit_backup && r.chance(),
            preempt_delay: if explicit_backup {
                r.maybe(|r| Duration::from_secs(r.below(1000)))
            } else {
                None
            },
            unicast_src_ip: r.maybe(|r| r.ip(false)),
            unicast_peers: (0..r.below(3))
                .map(|_| UnicastPeer {
                    addr: r.ip(false),
                    min_ttl: r.maybe(|r| r.below(256) as u8),
                    max_ttl: r.maybe(|r| r.below(256) as u8),
                })
                .collect(),
            mcast_src_ip: r.maybe(|r| r.ip(false)),
            garp_master_delay: r.maybe(Rng::dur),
            garp_master_repeat: r.maybe(|r| r.below(10) as u32),
            garp_master_refresh: r.maybe(Rng::dur),
            garp_master_refresh_repeat: r.maybe(|r| r.below(10) as u32),
            garp_lower_prio_delay: r.maybe(|r| Duration::from_secs(r.below(30))),
            garp_lower_prio_repeat: r.maybe(|r| r.below(10) as u32),
            lower_prio_no_advert: r.maybe(Rng::chance),
            higher_prio_send_advert: r.maybe(Rng::chance),
            use_vmac: r.maybe(|r| {
                if r.chance() {
                    String::new()
                } else {
                    r.word("vrrp.")
                }
            }),
            vmac_xmit_base: r.chance(),
            garp_extra_if: r.maybe(|r| ExtraIfGarp {
                interval_secs: r.below(86_401) as u32,
                all: r.chance(),
            }),
            accept: r.maybe(Rng::chance),
            smtp_alert: r.maybe(Rng::chance),
            lvs_sync_daemon_interface: r.maybe(|r| r.word("eth")),
            dont_track_primary: r.chance(),
            skip_check_adv_addr: r.maybe(Rng::chance),
            strict_mode: r.maybe(Rng::chance),
            native_ipv6: v6 && r.chance(),
            debug: r.maybe(|r| r.below(5) as u8),
            virtual_routes: Vec::new(),
            virtual_rules: Vec::new(),
            unicast_configured: false,
        });
        // keepalived's fallbacks (src/config/mend_vrrp.rs, as vrrp_complete_instance):
        // strict mode ties MASTER to priority 255 and drops authentication, as VRRPv3 and
        // IPv6 do; AH cannot start as MASTER; the owner, and an explicit MASTER, have no
        // nopreempt (nor, the latter, a preempt_delay); mcast_dst_ip goes
        // with unicast peers; vmac_xmit_base needs use_vmac and comes with a unicast keyword
        // and a vmac; the instance's own interface
        // is always tracked (a track_interface entry naming it is dropped).
        let strict_global = c.global.vrrp_strict;
        let global_version = c.global.vrrp_version;
        if let Some(vi) = c.instances.last_mut() {
            let strict = vi.strict_mode.unwrap_or(strict_global);
            let owner = vi.priority == 255;
            if strict {
                vi.state = if owner {
                    InitialState::Master
                } else {
                    InitialState::Backup
                };
            }
            let v3 = vi.is_ipv6() || vi.version.unwrap_or(global_version) == 3;
            if strict || v3 {
                vi.authentication = None;
            }
            if vi.priority != 255
                && vi.state_explicit
                && vi.state == InitialState::Master
                && matches!(&vi.authentication, Some(a) if a.auth_type == AuthType::Ah)
            {
                vi.state = InitialState::Backup;
            }
            if !vi.unicast_peers.is_empty() {
                vi.mcast_dst_ip = None;
            }
            if owner {
                vi.nopreempt = false;
            }
            if vi.state_explicit && vi.state == InitialState::Master {
                vi.nopreempt = false;
                vi.preempt_delay = None;
            }
            // Any unicast keyword written marks it; with a vmac it sets vmac_xmit_base.
            vi.unicast_configured = vi.unicast_src_ip.is_some()
                || !vi.unicast_peers.is_empty()
                || vi.unicast_fault_no_peer
                || vi.check_unicast_src
                || vi.old_unicast_checksum.is_some();
            if vi.unicast_configured && vi.use_vmac.is_some() {
                vi.vmac_xmit_base = true;
            }
            if vi.use_vmac.is_none() {
                vi.vmac_xmit_base = false;
            }
            let own = vi.interface.clone();
            vi.track_interface.retain(|t| t.name != own);
        }
    }
    if c.instances.len() >= 2 && r.chance() {
        c.sync_groups.push(SyncGroup {
            span: Span::default(),
            name: "G".into(),
            members: vec!["VI_0".into(), "VI_1".into()],
            member_spans: vec![Span::default(), Span::default()],
            notify: Notify {
                master: r.maybe(Rng::script),
                ..Notify::default()
            },
            smtp_alert: r.maybe(Rng::chance),
            tracking_weight: r.chance(),
            notify_priority_changes: r.maybe(Rng::chance),
            track_script: Vec::new(),
            track_interface: Vec::new(),
            track_file: Vec::new(),
            track_process: Vec::new(),
        });
    }
    // keepalived's rule for weighted trackers (see mend_track_refs): a sync group member
    // without sync_group_tracking_weight loses its weighted scripts and its weighted
    // interfaces only fault it; the address owner loses both.
    let unweighted: Vec<String> = c
        .sync_groups
        .iter()
        .filter(|g| !g.tracking_weight)
        .flat_map(|g| g.members.clone())
        .collect();
    let script_weight = |name: &str| {
        c.vrrp_scripts
            .iter()
            .rev()
            .find(|s| s.name == name)
            .map_or(0, |s| s.weight)
    };
    let script_weights: Vec<(String, i32)> = c
        .vrrp_scripts
        .iter()
        .map(|s| (s.name.clone(), script_weight(&s.name)))
        .collect();
    for vi in &mut c.instances {
        let member = unweighted.contains(&vi.name);
        if !member && vi.priority != 255 {
            continue;
        }
        vi.track_script.retain(|t| {
            let w = t.weight.unwrap_or_else(|| {
                script_weights
                    .iter()
                    .find(|(n, _)| *n == t.name)
                    .map_or(0, |(_, w)| *w)
            });
            w == 0
        });
        if member {
            for t in &mut vi.track_interface {
                if t.weight.is_some_and(|w| w != 0) {
                    t.weight = None;
                }
            }
            let own = vi.interface.clone();
            vi.track_interface
                .retain(|t| !(t.name == own && t.weight.is_none()));
        } else {
            vi.track_interface
                .retain(|t| t.weight.is_none_or(|w| w == 0));
        }
    }
    if r.chance() {
        c.virtual_server_groups.push(VirtualServerGroup {
            span: Span::default(),
            name: "VSG".into(),
            entries: vec![
                VsgEntry::Range {
                    addr: r.ip(false),
                    range_end: r.maybe(|_| 255),
                    port: r.maybe(|r| r.below(65535) as u16 + 1),
                },
                VsgEntry::Range {
                    // (a range's end above its start: keepalived skips any other)
                    addr: IpAddr::V6(Ipv6Addr::new(
                        0x2001,
                        0xdb8,
                        0,
                        0,
                        0,
                        0,
                        0,
                        r.below(0xff00) as u16 + 1,
                    )),
                    range_end: r.maybe(|_| 0xfffe),
                    port: Some(443),
                },
                VsgEntry::Fwmark(r.below(1000) as u32 + 1, r.maybe(Rng::chance)),
            ],
        });
    }
    for _ in 0..r.below(4) {
        let v6 = r.chance();
        let key = match r.below(3) {
            0 if !c.virtual_server_groups.is_empty() => VsKey::Group("VSG".into()),
            1 => VsKey::Fwmark {
                mark: r.below(1000) as u32 + 1,
                ipv6: v6,
            },
            _ => VsKey::Addr {
                addr: r.ip(v6),
                port: r.below(65535) as u16 + 1,
            },
        };
        let lb_kind = [LbKind::Nat, LbKind::Dr, LbKind::Tun][r.below(3) as usize];
        let vport = match key {
            VsKey::Addr { port, .. } => Some(port),
            _ => None,
        };
        let mut vs = VirtualServer {
            span: Span::default(),
            key,
            delay_loop: r.dur(),
            lb_algo: ["rr", "wlc", "sh", "mh"][r.below(4) as usize].into(),
            sched_flags: SchedFlags {
                flag1: r.chance(),
                flag2: r.chance(),
                flag3: r.chance(),
            },
            lb_kind,
            lb_kind_span: Span::default(),
            persistence_timeout: r.maybe(|r| r.below(9999) as u32 + 1), // 0 is ignored (a warning)
            persistence_granularity: r.maybe(|r| {
                if r.chance() {
                    Granularity::V4Mask(Ipv4Addr::new(255, 255, 255, 0))
                } else {
                    Granularity::V6Prefix(r.below(128) as u8 + 1)
                }
            }),
            persistence_engine: r.maybe(|_| "sip".into()),
            protocol: [Protocol::Tcp, Protocol::Udp, Protocol::Sctp][r.below(3) as usize],
            protocol_set: true,
            lb_kind_set: true,
            ops: r.chance(),
            sorry_server: r.maybe(|r| SorryServer {
                addr: r.ip(v6),
                port: r.below(65535) as u16,
                lvs_method: r.maybe(|r| [LbKind::Nat, LbKind::Dr][r.below(2) as usize]),
            }),
            sorry_server_inhibit: r.chance(),
            quorum: r.below(10) as u32 + 1,
            hysteresis: r.below(10) as u32,
            quorum_up: r.maybe(Rng::script),
            quorum_down: r.maybe(Rng::script),
            alpha: r.chance(),
            omega: r.chance(),
            inhibit_on_failure: r.chance(),
            virtualhost: r.maybe(|r| r.word("www.example.com")),
            retry: r.maybe(|r| r.below(10) as u32 + 1),
            delay_before_retry: r.maybe(Rng::dur),
            connect_timeout: r.maybe(Rng::dur),
            warmup: r.maybe(Rng::dur),
            ha_suspend: r.chance(),
            smtp_alert: r.maybe(Rng::chance),
            tunnel: r.maybe(|r| Tunnel {
                tun_type: TunnelType::Gue,
                port: Some(r.below(65535) as u16 + 1),
                csum: [TunnelCsum::NoCsum, TunnelCsum::Csum, TunnelCsum::RemCsum]
                    [r.below(3) as usize],
            }),
            real_servers: Vec::new(),
        };
        if let VsKey::Addr { addr, .. } = vs.key {
            if let Some(s) = vs.sorry_server.as_mut() {
                s.addr = r.ip(addr.is_ipv6());
            }
        }
        for _ in 0..r.below(4) + 1 {
            let port = match (lb_kind, vport) {
                (LbKind::Nat, _) => r.maybe(|r| r.below(65535) as u16 + 1),
                (_, Some(p)) => r.maybe(|_| p),
                (_, None) => None,
            };
            let mut rs = RealServer {
                span: Span::default(),
                addr: r.ip(v6),
                port,
                port_span: Span::default(),
                weight: r.below(100) as u32,
                inhibit_on_failure: r.maybe(Rng::chance),
                uthreshold: r.maybe(|r| r.below(1000) as u32),
                lthreshold: r.maybe(|r| r.below(1000) as u32),
                lvs_method: if lb_kind == LbKind::Nat {
                    None
                } else {
                    r.maybe(|_| lb_kind)
                },
                tunnel: r.maybe(|_| Tunnel {
                    tun_type: TunnelType::Ipip,
                    port: None,
                    csum: TunnelCsum::NoCsum,
                }),
                alpha: r.maybe(Rng::chance),
                more: RsMore::default(),
                checkers: Vec::new(),
            };
            // Settings written, or none at all: the two must read back alike (a real
            // server whose settings are all unset prints none and reads back with none).
            if r.chance() {
                *rs.more_mut() = RsSettings {
                    notify_up: r.maybe(Rng::script),
                    notify_down: r.maybe(Rng::script),
                    retry: r.maybe(|r| r.below(10) as u32 + 1),
                    delay_before_retry: r.maybe(Rng::dur),
                    connect_timeout: r.maybe(Rng::dur),
                    delay_loop: r.maybe(Rng::dur),
                    warmup: r.maybe(Rng::dur),
                    smtp_alert: r.maybe(Rng::chance),
                    virtualhost: r.maybe(|r| r.word("host")),
                };
            }
            rs.checkers = (0..r.below(3)).map(|_| gen_checker(r)).collect();
            if !vs
                .real_servers
                .iter()
                .any(|o| (o.addr, o.port) == (rs.addr, rs.port))
            {
                vs.real_servers.push(rs);
            }
        }
        mend_like_keepalived(&mut vs, &c.virtual_server_groups);
        c.virtual_servers.push(vs);
    }
    c
}

/// What the parser's validation makes of a virtual server (keepalived's fallbacks, see
/// docs/configuration.md): random models are made to agree with them, so that a round
/// trip compares like with like.
fn mend_like_keepalived(vs: &mut VirtualServer, groups: &[VirtualServerGroup]) {
    let group = |n: &str| groups.iter().find(|g| g.name == n);
    let (by_address, has_fwmark, portless) = match &vs.key {
        VsKey::Addr { .. } => (true, false, false),
        VsKey::Fwmark { .. } => (false, true, false),
        VsKey::Group(n) => {
            let e = group(n).map(|g| g.entries.as_slice()).unwrap_or(&[]);
            (
                e.iter().any(|e| matches!(e, VsgEntry::Range { .. })),
                e.iter().any(|e| matches!(e, VsgEntry::Fwmark(..))),
                e.iter().any(|e| {
                    matches!(
                        e,
                        VsgEntry::Range {
                            port: None | Some(0),
                            ..
                        }
                    )
                }),
            )
        }
    };
    if by_address && vs.protocol != Protocol::Udp {
        vs.ops = false;
    }
    if has_fwmark {
        vs.ha_suspend = false;
    }
    if (portless || vs.persistence_granularity.is_some()) && vs.persistence_timeout.is_none() {
        vs.persistence_timeout = Some(360);
    }
    let sum: u32 = vs.real_servers.iter().map(|rs| rs.weight).sum();
    vs.quorum = vs.quorum.min(sum);
    if vs.hysteresis >= vs.quorum {
        vs.hysteresis = vs.quorum.saturating_sub(1);
    }
    let kind = vs.lb_kind;
    if let Some(s) = vs.sorry_server.as_mut() {
        if s.lvs_method.unwrap_or(kind) != LbKind::Nat {
            match vs.key {
                VsKey::Addr { port, .. } => s.port = port,
                VsKey::Fwmark { .. } => s.port = 0,
                VsKey::Group(_) => {}
            }
        }
    }
    // A real server that is also the sorry server gives it its inhibit_on_failure.
    let vport = match vs.key {
        VsKey::Addr { port, .. } => Some(port),
        _ => None,
    };
    if let Some(s) = &vs.sorry_server {
        let same = vs
            .real_servers
            .iter()
            .find(|rs| rs.addr == s.addr && rs.port.or(vport).unwrap_or(0) == s.port);
        if let Some(rs) = same {
            vs.sorry_server_inhibit = rs.inhibit_on_failure.unwrap_or(vs.inhibit_on_failure);
        }
    }
}

fn gen_checker(r: &mut Rng) -> Checker {
    // (Drawn in the fields' keyword order.)
    let connect_ip = r.maybe(|r| r.ip(false));
    let connect_port = r.maybe(|r| r.below(65535) as u16 + 1);
    let bindto = r.maybe(|r| r.ip(false));
    let bind_port = r.maybe(|r| r.below(65535) as u16 + 1);
    let bind_if = r.maybe(|r| r.word("eth"));
    let connect_timeout = r.maybe(Rng::dur);
    let retry = r.maybe(|r| r.below(10) as u32 + 1);
    let delay_before_retry = r.maybe(Rng::dur);
    let delay_loop = r.maybe(Rng::dur);
    let more = CheckOptions {
        connect_ip,
        bindto,
        bind_port,
        bind_if,
        warmup: r.maybe(Rng::dur),
        alpha: r.maybe(Rng::chance),
        fwmark: r.maybe(|r| r.below(1000) as u32),
        log_all_failures: r.maybe(Rng::chance),
    };
    let mut common = CheckCommon {
        disabled: false,
        connect_port,
        connect_timeout,
        retry,
        delay_before_retry,
        delay_loop,
        ..CheckCommon::default()
    };
    *common.more_mut() = more;
    let kind = match r.below(9) {
        0 | 1 => CheckerKind::Http(Box::new(HttpCheck {
            tls: r.chance(),
            urls: (0..r.below(2) + 1)
                .map(|_| UrlCheck {
                    path: format!("/{}", r.word("p")),
                    status_codes: (0..r.below(3))
                        .map(|_| {
                            let from = 100 + r.below(400) as u16;
                            StatusRange {
                                from,
                                to: from + r.below(10) as u16,
                            }
                        })
                        .collect(),
                    digest: r.maybe(|r| format!("{:016x}{:016x}", r.next(), r.next())),
                    virtualhost: r.maybe(|r| r.word("vh")),
                    regex: r.maybe(|r| UrlRegex {
                        pattern: format!("{}[0-9]+ ok$", r.word("st")),
                        no_match: r.chance(),
                        options: if r.chance() {
                            vec!["caseless".into(), "multiline".into()]
                        } else {
                            Vec::new()
                        },
                        min_offset: r.maybe(|r| r.below(100) as u32),
                        max_offset: r.maybe(|r| r.below(10000) as u32),
                    }),
                })
                .collect(),
            virtualhost: r.maybe(|r| r.word("vh")),
            http_protocol: r.maybe(|r| ["1.0", "1.1", "1.0C", "1.0K"][r.below(4) as usize].into()),
            enable_sni: r.chance(),
            fast_recovery: r.chance(),
            client: None,
        })),
        2 => CheckerKind::Tcp,
        3 => CheckerKind::Misc(Box::new(MiscCheck {
            misc_path: r.script(),
            misc_timeout: r.maybe(Rng::dur),
            misc_dynamic: r.chance(),
            user: r.maybe(Rng::user),
        })),
        4 => CheckerKind::Smtp(Box::new(SmtpCheck {
            helo_name: r.maybe(|r| r.word("helo")),
        })),
        5 => CheckerKind::Dns(Box::new(DnsCheck {
            query_type: ["A", "AAAA", "SOA", "MX"][r.below(4) as usize].into(),
            name: r.word("name."),
        })),
        6 => CheckerKind::Udp(Box::new(UdpCheck {
            payload: r.maybe(|r| r.next().to_be_bytes().to_vec()),
            require_reply: r
                .maybe(|r| ReplyPattern {
                    data: if r.below(4) == 0 {
                        Vec::new()
                    } else {
                        vec![r.below(256) as u8, r.below(256) as u8]
                    },
                    mask: Vec::new(),
                })
                .map(|mut p| {
                    if p.data.len() == 2 && r.below(2) == 0 {
                        // A wildcard nibble: its data bits are zero, as keepalived reads them.
                        p.data[1] &= 0xf0;
                        p.mask = vec![0, 0x0f];
                    }
                    p
                }),
            min_reply_length: r.below(3) as u16,
            max_reply_length: if r.below(2) == 0 {
                255
            } else {
                300 + r.below(100) as u16
            },
        })),
        7 => CheckerKind::Ping,
        _ => CheckerKind::File(Box::new(FileCheck {
            track_file: r.word("/run/w"),
            weight: r.maybe(|r| r.below(100) as i32 - 50),
            reverse: false,
        })),
    };
    Checker {
        span: Span::default(),
        common,
        kind,
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]
    #[test]
    fn random_models_round_trip(seed in any::<u64>()) {
        round_trip(&gen_config(seed));
    }
}
