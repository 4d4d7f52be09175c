//! `lvsd -L`: the kernel's IPVS table in the layout of `ipvsadm -Ln` (and `--stats`).

use super::client::IpvsClient;
use super::types::*;
use std::collections::HashSet;
use std::fmt::Write;
use std::net::IpAddr;

/// Which columns to print.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ListMode {
    /// Forward method, weight, active/inactive connections (`ipvsadm -Ln`).
    Plain,
    /// 64-bit counters (`ipvsadm -Ln --stats`).
    Stats,
    /// Rates (`ipvsadm -Ln --rate`).
    Rate,
}

fn proto_name(k: &ServiceKey) -> &'static str {
    match k {
        ServiceKey::Addr {
            proto: Proto::Tcp, ..
        } => "TCP",
        ServiceKey::Addr {
            proto: Proto::Udp, ..
        } => "UDP",
        ServiceKey::Addr {
            proto: Proto::Sctp, ..
        } => "SCTP",
        ServiceKey::Fwmark { .. } => "FWM",
    }
}

fn addr_port(a: &IpAddr, port: u16) -> String {
    match a {
        IpAddr::V4(a) => format!("{a}:{port}"),
        IpAddr::V6(a) => format!("[{a}]:{port}"),
    }
}

fn service_id(k: &ServiceKey) -> String {
    match k {
        ServiceKey::Addr { addr, port, .. } => addr_port(addr, *port),
        ServiceKey::Fwmark { family, mark } => match family {
            Family::V4 => format!("{mark}"),
            Family::V6 => format!("{mark} IPv6"),
        },
    }
}

pub fn forward_name(f: Forward) -> &'static str {
    match f {
        Forward::Masq => "Masq",
        Forward::Local => "Local",
        Forward::Tunnel => "Tunnel",
        Forward::DirectRoute => "Route",
        Forward::Bypass => "Bypass",
    }
}

/// Scheduler flag names as ipvsadm shows them for the scheduler.
fn sched_flag_names(s: &Service) -> Vec<&'static str> {
    let mut v = Vec::new();
    let prefix = match s.scheduler.as_str() {
        "sh" => "sh",
        "mh" => "mh",
        _ => "",
    };
    if s.flags & svc_flags::SCHED1 != 0 {
        v.push(match prefix {
            "sh" => "sh-fallback",
            "mh" => "mh-fallback",
            _ => "flag-1",
        });
    }
    if s.flags & svc_flags::SCHED2 != 0 {
        v.push(match prefix {
            "sh" => "sh-port",
            "mh" => "mh-port",
            _ => "flag-2",
        });
    }
    if s.flags & svc_flags::SCHED3 != 0 {
        v.push("flag-3");
    }
    v
}

fn service_line(s: &ServiceState, mode: ListMode) -> String {
    let svc = &s.service;
    let id = format!("{}  {}", proto_name(&svc.key), service_id(&svc.key));
    match mode {
        ListMode::Plain => {
            let mut l = format!("{id} {}", svc.scheduler);
            let fl = sched_flag_names(svc);
            if !fl.is_empty() {
                let _ = write!(l, " ({})", fl.join(","));
            }
            if svc.flags & svc_flags::PERSISTENT != 0 {
                let _ = write!(l, " persistent {}", svc.timeout);
                match svc.key.family() {
                    Family::V4 if svc.netmask != u32::MAX => {
                        let _ = write!(l, " mask {}", std::net::Ipv4Addr::from(svc.netmask));
                    }
                    Family::V6 if svc.netmask != 128 => {
                        let _ = write!(l, " mask {}", svc.netmask);
                    }
                    _ => {}
                }
            }
            if let Some(pe) = &svc.pe_name {
                let _ = write!(l, " pe {pe}");
            }
            if svc.flags & svc_flags::ONEPACKET != 0 {
                l.push_str(" ops");
            }
            l
        }
        ListMode::Stats => format!(
            "{id:<33} {:>8} {:>8} {:>8} {:>8} {:>8}",
            s.stats.conns, s.stats.inpkts, s.stats.outpkts, s.stats.inbytes, s.stats.outbytes
        ),
        ListMode::Rate => format!(
            "{id:<33} {:>8} {:>8} {:>8} {:>8} {:>8}",
            s.stats.cps, s.stats.inpps, s.stats.outpps, s.stats.inbps, s.stats.outbps
        ),
    }
}

fn dest_line(d: &DestState, mode: ListMode) -> String {
    let id = addr_port(&d.dest.key.addr, d.dest.key.port);
    match mode {
        ListMode::Plain => format!(
            "  -> {id:<28} {:<7} {:<6} {:<10} {:<10}",
            forward_name(d.dest.forward),
            d.dest.weight,
            d.active_conns,
            d.inactive_conns
        )
        .trim_end()
        .to_string(),
        ListMode::Stats => format!(
            "  -> {id:<28} {:>8} {:>8} {:>8} {:>8} {:>8}",
            d.stats.conns, d.stats.inpkts, d.stats.outpkts, d.stats.inbytes, d.stats.outbytes
        ),
        ListMode::Rate => format!(
            "  -> {id:<28} {:>8} {:>8} {:>8} {:>8} {:>8}",
            d.stats.cps, d.stats.inpps, d.stats.outpps, d.stats.inbps, d.stats.outbps
        ),
    }
}

/// Renders the table. `only`: restrict to these services (the ones a config manages).
/// Services and destinations are sorted for a stable output.
pub fn render(
    info: &Info,
    table: &[ServiceState],
    mode: ListMode,
    only: Option<&HashSet<ServiceKey>>,
) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "IP Virtual Server version {} (size={})",
        info.version_string(),
        info.conn_tab_size
    );
    match mode {
        ListMode::Plain => {
            out.push_str("Prot LocalAddress:Port Scheduler Flags\n");
            out.push_str("  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n");
        }
        ListMode::Stats => {
            out.push_str(
                "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n",
            );
            out.push_str("  -> RemoteAddress:Port\n");
        }
        ListMode::Rate => {
            out.push_str(
                "Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS\n",
            );
            out.push_str("  -> RemoteAddress:Port\n");
        }
    }
    let mut svcs: Vec<&ServiceState> = table
        .iter()
        .filter(|s| only.is_none_or(|o| o.contains(&s.service.key)))
        .collect();
    svcs.sort_by_key(|s| s.service.key);
    for s in svcs {
        out.push_str(&service_line(s, mode));
        out.push('\n');
        let mut dests: Vec<&DestState> = s.dests.iter().collect();
        dests.sort_by_key(|d| d.dest.key);
        for d in dests {
            out.push_str(&dest_line(d, mode));
            out.push('\n');
        }
    }
    out
}

/// Entry point of `lvsd -L`: prints the services of the kernel table, only those in `only`
/// when given (the services of the configuration). `-D` (log detail) adds the 64-bit
/// counters, and LVSD_LIST=rate shows rates instead.
pub fn list_main(
    opts: &crate::cli::Options,
    only: Option<&HashSet<ServiceKey>>,
) -> anyhow::Result<()> {
    let mode = match std::env::var("LVSD_LIST").as_deref() {
        Ok("rate") => ListMode::Rate,
        Ok("stats") => ListMode::Stats,
        _ if opts.log_detail => ListMode::Stats,
        _ => ListMode::Plain,
    };
    let mut c = IpvsClient::connect()?;
    let info = c.info()?;
    let table = c.dump_all()?;
    print!("{}", render(&info, &table, mode, only));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Vec<ServiceState> {
        let svc = |key, sched: &str, flags, timeout, netmask| Service {
            key,
            scheduler: sched.into(),
            flags,
            timeout,
            netmask,
            pe_name: None,
        };
        let dest = |a: &str, port, forward, weight, act| DestState {
            dest: Dest {
                key: DestKey {
                    addr: a.parse().unwrap(),
                    port,
                },
                forward,
                weight,
                upper_threshold: 0,
                lower_threshold: 0,
                tunnel: None,
            },
            active_conns: act,
            inactive_conns: 2,
            persistent_conns: 0,
            stats: Stats {
                conns: 7,
                ..Default::default()
            },
        };
        vec![
            ServiceState {
                service: svc(
                    ServiceKey::Fwmark {
                        family: Family::V4,
                        mark: 7,
                    },
                    "sh",
                    svc_flags::SCHED1 | svc_flags::SCHED2,
                    0,
                    u32::MAX,
                ),
                stats: Stats::default(),
                dests: vec![],
            },
            ServiceState {
                service: svc(
                    ServiceKey::Addr {
                        proto: Proto::Tcp,
                        addr: "10.0.0.1".parse().unwrap(),
                        port: 80,
                    },
                    "wlc",
                    svc_flags::PERSISTENT,
                    300,
                    0xffff_ff00,
                ),
                stats: Stats {
                    conns: 12,
                    ..Default::default()
                },
                dests: vec![
                    dest("10.0.0.3", 8080, Forward::Masq, 1, 0),
                    dest("10.0.0.2", 80, Forward::DirectRoute, 3, 5),
                ],
            },
        ]
    }

    const INFO: Info = Info {
        version: 0x010201,
        conn_tab_size: 4096,
    };

    #[test]
    fn plain_listing_like_ipvsadm() {
        let out = render(&INFO, &table(), ListMode::Plain, None);
        let want = "IP Virtual Server version 1.2.1 (size=4096)
Prot LocalAddress:Port Scheduler Flags
  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
TCP  10.0.0.1:80 wlc persistent 300 mask 255.255.255.0
  -> 10.0.0.2:80                  Route   3      5          2
  -> 10.0.0.3:8080                Masq    1      0          2
FWM  7 sh (sh-fallback,sh-port)
";
        assert_eq!(out, want);
    }

    #[test]
    fn filter_and_stats() {
        let only: HashSet<ServiceKey> = [ServiceKey::Fwmark {
            family: Family::V4,
            mark: 7,
        }]
        .into();
        let out = render(&INFO, &table(), ListMode::Plain, Some(&only));
        assert!(out.contains("FWM  7"));
        assert!(!out.contains("10.0.0.1"));
        let out = render(&INFO, &table(), ListMode::Stats, None);
        assert!(out.contains("TCP  10.0.0.1:80                        12"));
        assert!(out.contains("  -> 10.0.0.2:80                         7"));
    }
}
