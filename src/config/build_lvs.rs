//! Builders for virtual_server_group, virtual_server, real_server and the checkers.

use super::build::{AfterCommand, P};
use super::build_vrrp::set;
use super::keywords::{self, Table};
use super::lexer::Tok;
use super::model::*;
use std::net::IpAddr;

/// Pushes onto a vector that usually holds one element: the first push allocates room for
/// exactly one (a plain push allocates four, which the block's end would then shrink).
fn push_one<T>(v: &mut Vec<T>, x: T) {
    if v.capacity() == 0 {
        v.reserve_exact(1);
    }
    v.push(x);
}

impl P<'_> {
    pub(crate) fn vs_group(&mut self, toks: &[Tok], opens: bool) {
        let name = self.block_name(toks);
        if !self.need_block(toks, opens) {
            return;
        }
        let mut g = VirtualServerGroup {
            span: self.sp(toks[0]),
            name: name.unwrap_or_default(),
            entries: Vec::new(),
        };
        self.block(toks[0], |p, l, opens| {
            let first = p.txt(l[0]);
            if first == "fwmark" {
                let Some(t) = p.arg(l, 1) else {
                    return;
                };
                let family = match l.get(2).map(|f| p.txt(*f)) {
                    None => None,
                    Some("inet") => Some(false),
                    Some("inet6") => Some(true),
                    Some(o) => {
                        let o = o.to_string();
                        p.problem(
                            l[2],
                            format!("fwmark: `{o}` is not inet or inet6 (ignored)"),
                        );
                        None
                    }
                };
                p.no_more(l, 3);
                if let Some(m) = p.int_tok(l[0], t, 1, u32::MAX as i64) {
                    g.entries.push(VsgEntry::Fwmark(m as u32, family));
                }
                return;
            }
            if opens {
                p.unknown(l, opens, &keywords::VSG);
                return;
            }
            let (a, end) = match first.rsplit_once('-') {
                Some((a, e)) if a.parse::<IpAddr>().is_ok() => (a, Some(e)),
                _ => (first, None),
            };
            let Ok(addr) = a.parse::<IpAddr>() else {
                p.problem(l[0], format!("bad IP address `{first}`"));
                return;
            };
            let range_end = match end {
                None => None,
                Some(e) => {
                    let max = if addr.is_ipv4() { 255 } else { 65535 };
                    let v = if addr.is_ipv4() {
                        e.parse::<u16>().ok()
                    } else {
                        u16::from_str_radix(e, 16).ok()
                    };
                    let start = match addr {
                        IpAddr::V4(a) => u16::from(a.octets()[3]),
                        IpAddr::V6(a) => a.segments()[7],
                    };
                    match v {
                        Some(v) if v <= max && v > start => Some(v),
                        Some(v) if v <= max => {
                            p.problem(l[0], format!("`{first}`: the range end is not greater than its start: skipped, as keepalived does"));
                            return;
                        }
                        _ => {
                            p.problem(l[0], format!("bad range end `{e}` in `{first}`"));
                            return;
                        }
                    }
                }
            };
            let port = match l.get(1) {
                Some(t) => match p.port_tok(l[0], *t) {
                    Some(v) => Some(v),
                    None => return,
                },
                None => None,
            };
            p.no_more(l, 2);
            g.entries.push(VsgEntry::Range {
                addr,
                range_end,
                port,
            });
        });
        if g.entries.is_empty() {
            // (a virtual_server naming it is then dropped: see validate)
            self.problem(
                toks[0],
                format!(
                    "virtual_server_group {} has no entries: removed, as keepalived does",
                    g.name
                ),
            );
            return;
        }
        self.config.virtual_server_groups.push(g);
    }

    pub(crate) fn virtual_server(&mut self, toks: &[Tok], opens: bool) {
        let key = self.vs_key(toks);
        if !self.need_block(toks, opens) {
            return;
        }
        let mut vs = VirtualServer::new(
            self.sp(toks[0]),
            key.clone().unwrap_or(VsKey::Group(String::new())),
        );
        let mut sorry_method = None;
        let mut family_set = false;
        // The real servers gather in the builder's scratch vector (kept from one virtual
        // server to the next) and move into one exactly sized vector at the end: growing
        // each virtual server's own vector push by push, then shrinking it, copied every
        // real server four times.
        let first_rs = self.rs_scratch.len();
        let mut vs_weight: Option<u32> = None;
        let mut sched_set = false;
        // (Arms are tried in order, and a large configuration is mostly real servers.)
        self.block(toks[0], |p, t, opens| match p.txt(t[0]) {
            "real_server" => p.real_server(t, opens),
            "delay_loop" => set(&mut vs.delay_loop, p.nonzero_dur(t, None)),
            "lb_algo" | "lvs_sched" => {
                if let Some(a) = p.arg(t, 1) {
                    sched_set = true;
                    p.no_more(t, 2);
                    let s = p.txt(a);
                    const ALGOS: &[&str] = &[
                        "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "mh",
                        "fo", "ovf", "twos",
                    ];
                    if ALGOS.contains(&s) {
                        vs.lb_algo = s.to_string();
                    } else {
                        p.problem(
                            a,
                            format!("unknown lb_algo `{s}` (one of {})", ALGOS.join(" ")),
                        );
                    }
                }
            }
            "lb_kind" | "lvs_method" => {
                let (kind, tunnel) = p.lb_kind_tunnel(t);
                if let Some(k) = kind {
                    vs.lb_kind = k;
                    vs.lb_kind_set = true;
                    vs.lb_kind_span = p.sp(t[1]);
                }
                if tunnel.is_some() {
                    vs.tunnel = tunnel;
                }
            }
            "persistence_timeout" => {
                vs.persistence_timeout = match t.get(1) {
                    None => Some(defaults::PERSISTENCE_TIMEOUT),
                    // keepalived's range: up to 31 days.
                    Some(_) => p.int(t, 1, 2_678_400).map(|v| v as u32),
                }
            }
            "persistence_granularity" => {
                if let Some(g) = p.arg(t, 1) {
                    p.no_more(t, 2);
                    let s = p.txt(g);
                    vs.persistence_granularity = if s.contains('.') {
                        match s.parse() {
                            Ok(m) => Some(Granularity::V4Mask(m)),
                            Err(_) => {
                                p.problem(g, format!("bad persistence_granularity netmask `{s}`"));
                                None
                            }
                        }
                    } else {
                        p.int_tok(t[0], g, 1, 128)
                            .map(|v| Granularity::V6Prefix(v as u8))
                    };
                    // keepalived: a granularity makes the service persistent.
                    if vs.persistence_granularity.is_some() && vs.persistence_timeout.is_none() {
                        vs.persistence_timeout = Some(defaults::PERSISTENCE_TIMEOUT);
                    }
                }
            }
            "persistence_engine" => vs.persistence_engine = p.string(t),
            "protocol" => {
                if let Some(a) = p.arg(t, 1) {
                    p.no_more(t, 2);
                    // keepalived compares the protocol's name in any case.
                    let proto = match p.txt(a).to_ascii_uppercase().as_str() {
                        "TCP" => Some(Protocol::Tcp),
                        "UDP" => Some(Protocol::Udp),
                        "SCTP" => Some(Protocol::Sctp),
                        _ => None,
                    };
                    match proto {
                        Some(pr) => {
                            vs.protocol = pr;
                            vs.protocol_set = true;
                        }
                        None => {
                            let o = p.txt(a);
                            p.problem(
                                a,
                                format!("protocol must be TCP, UDP or SCTP, not `{o}` (ignored)"),
                            )
                        }
                    }
                }
            }
            "ops" | "one_packet" => vs.ops = p.flag(t),
            "sorry_server" => {
                if let Some(a) = p.arg(t, 1) {
                    p.no_more(t, 3);
                    let addr = p.ip_tok(a);
                    let port = match t.get(2) {
                        Some(pt) => p.port_tok(t[0], *pt),
                        None => Some(0),
                    };
                    if let (Some(addr), Some(port)) = (addr, port) {
                        vs.sorry_server = Some(SorryServer {
                            addr,
                            port,
                            lvs_method: None,
                        });
                    }
                }
            }
            "sorry_server_inhibit" => vs.sorry_server_inhibit = p.flag(t),
            "sorry_server_lvs_method" => sorry_method = p.lb_kind(t),
            "quorum" => set(
                &mut vs.quorum,
                p.int(t, 1, u32::MAX as i64).map(|v| v as u32),
            ),
            "hysteresis" => set(&mut vs.hysteresis, p.u32v(t)),
            "quorum_up" => vs.quorum_up = p.script(t, AfterCommand::UserGroup),
            "quorum_down" => vs.quorum_down = p.script(t, AfterCommand::UserGroup),
            "alpha" => vs.alpha = p.flag(t),
            "omega" => vs.omega = p.flag(t),
            "inhibit_on_failure" => vs.inhibit_on_failure = p.flag(t),
            "virtualhost" => vs.virtualhost = p.string(t),
            "retry" => vs.retry = p.int(t, 1, u32::MAX as i64).map(|v| v as u32),
            "delay_before_retry" => vs.delay_before_retry = p.dur(t),
            "connect_timeout" => vs.connect_timeout = p.nonzero_dur(t, vs.connect_timeout),
            "warmup" => vs.warmup = p.dur(t),
            "ha_suspend" => vs.ha_suspend = p.flag(t),
            // The weight of its real servers that set none (keepalived 2.2.7: 1-65535).
            "weight" => {
                if let Some(w) = p.int(t, 1, 65535) {
                    vs_weight = Some(w as u32);
                }
            }
            "smtp_alert" => vs.smtp_alert = Some(p.flag(t)),
            "tun_type" => vs.tunnel = p.tunnel(t),
            "ip_family" => {
                if let Some(f) = p.arg(t, 1) {
                    p.no_more(t, 2);
                    let v6 = match p.txt(f) {
                        "inet" => false,
                        "inet6" => true,
                        o => {
                            p.problem(f, format!("ip_family must be inet or inet6, not `{o}`"));
                            return;
                        }
                    };
                    family_set = true;
                    match &mut vs.key {
                        VsKey::Fwmark { ipv6, .. } => *ipv6 = v6,
                        VsKey::Addr { addr, .. } if addr.is_ipv6() != v6 => {
                            p.problem(f, "ip_family differs from the virtual server's address")
                        }
                        _ => {}
                    }
                }
            }
            "flag-1" | "sh-fallback" | "mh-fallback" => vs.sched_flags.flag1 = p.flag(t),
            "flag-2" | "sh-port" | "mh-port" => vs.sched_flags.flag2 = p.flag(t),
            "flag-3" => vs.sched_flags.flag3 = p.flag(t),
            _ => p.unknown(t, opens, &keywords::VS),
        });
        if !sched_set {
            let msg = format!(
                "virtual_server has no `lb_algo`: {} used, as keepalived does",
                vs.lb_algo
            );
            self.problem(toks[0], msg);
        }
        if let (Some(s), Some(m)) = (vs.sorry_server.as_mut(), sorry_method) {
            s.lvs_method = Some(m);
        }
        let unweighted = std::mem::take(&mut self.rs_unweighted);
        if let Some(w) = vs_weight {
            for &i in unweighted.iter().filter(|&&i| i >= first_rs) {
                if let Some(rs) = self.rs_scratch.get_mut(i) {
                    rs.weight = w;
                }
            }
        }
        let gathered = self.rs_scratch.len().saturating_sub(first_rs);
        vs.real_servers = Vec::with_capacity(gathered);
        vs.real_servers.extend(self.rs_scratch.drain(first_rs..));
        // keepalived: without ip_family, a fwmark service takes its servers' family.
        if !family_set {
            if let Some(v6) = fwmark_family(&vs) {
                if let VsKey::Fwmark { ipv6, .. } = &mut vs.key {
                    *ipv6 = v6;
                }
            }
        }
        if key.is_some() {
            self.config.virtual_servers.push(vs);
        }
    }

    fn vs_key(&mut self, t: &[Tok]) -> Option<VsKey> {
        let a = self.arg(t, 1)?;
        match self.txt(a) {
            "fwmark" => {
                let m = self.arg(t, 2)?;
                self.no_more(t, 3);
                let mark = self.int_tok(t[0], m, 1, u32::MAX as i64)? as u32;
                Some(VsKey::Fwmark { mark, ipv6: false })
            }
            "group" => {
                let n = self.arg(t, 2)?;
                self.no_more(t, 3);
                Some(VsKey::Group(self.txt(n).to_string()))
            }
            _ => {
                let addr = self.ip_tok(a)?;
                let port = match t.get(2) {
                    Some(p) => self.port_tok(t[0], *p)?,
                    None => 0,
                };
                self.no_more(t, 3);
                Some(VsKey::Addr { addr, port })
            }
        }
    }

    /// `lb_kind|lvs_method KIND [type {ipip|gue port N|gre} [nocsum|csum|remcsum]]`: the
    /// kind, and the tunnel when TUN names one.
    fn lb_kind_tunnel(&mut self, t: &[Tok]) -> (Option<LbKind>, Option<Tunnel>) {
        let kind = self.lb_kind_word(t);
        let tunnel = match t.get(2) {
            Some(w) if kind == Some(LbKind::Tun) && self.txt(*w) == "type" => self.tunnel_at(t, 3),
            _ => {
                self.no_more(t, 2);
                None
            }
        };
        (kind, tunnel)
    }

    fn lb_kind(&mut self, t: &[Tok]) -> Option<LbKind> {
        let (kind, tunnel) = self.lb_kind_tunnel(t);
        if tunnel.is_some() {
            self.problem(
                t[2],
                "a tunnel type for the sorry server is not supported yet by lvsd (ipip used)",
            );
        }
        kind
    }

    fn lb_kind_word(&mut self, t: &[Tok]) -> Option<LbKind> {
        let a = self.arg(t, 1)?;
        let kw = self.txt(t[0]);
        match self.txt(a) {
            "NAT" => Some(LbKind::Nat),
            "DR" => Some(LbKind::Dr),
            "TUN" => Some(LbKind::Tun),
            o if o.eq_ignore_ascii_case("NAT") => {
                // keepalived does not know the word and falls back to NAT: the same.
                self.problem(
                    a,
                    format!("{kw} `{o}` is written NAT (keepalived reads only capitals; NAT used)"),
                );
                Some(LbKind::Nat)
            }
            o => {
                // keepalived runs any other word as NAT: a DR or TUN service would go out
                // as NAT, which its real servers cannot answer.
                let meant = if o.eq_ignore_ascii_case("DR") || o.eq_ignore_ascii_case("TUN") {
                    format!(" (write `{}`)", o.to_ascii_uppercase())
                } else {
                    String::new()
                };
                self.refuse(a, format!("{kw} must be NAT, DR or TUN, not `{o}`{meant}: keepalived would run this service as NAT"));
                None
            }
        }
    }

    /// `tun_type ipip|gue|gre [port N] [nocsum|csum|remcsum]`.
    fn tunnel(&mut self, t: &[Tok]) -> Option<Tunnel> {
        self.tunnel_at(t, 1)
    }

    /// The tunnel written from token `first` on: `ipip|gue|gre [port N] [csum…]`.
    fn tunnel_at(&mut self, t: &[Tok], first: usize) -> Option<Tunnel> {
        let a = self.arg(t, first)?;
        let tun_type = match self.txt(a) {
            "ipip" => TunnelType::Ipip,
            "gue" => TunnelType::Gue,
            "gre" => TunnelType::Gre,
            o => {
                self.problem(a, format!("tun_type must be ipip, gue or gre, not `{o}`"));
                return None;
            }
        };
        let mut tun = Tunnel {
            tun_type,
            port: None,
            csum: TunnelCsum::NoCsum,
        };
        let mut i = first + 1;
        while i < t.len() {
            match self.txt(t[i]) {
                "port" => {
                    let v = self.arg(t, i + 1)?;
                    tun.port = Some(self.port_tok(t[i], v)?);
                    i += 2;
                    continue;
                }
                "nocsum" => tun.csum = TunnelCsum::NoCsum,
                "csum" => tun.csum = TunnelCsum::Csum,
                "remcsum" => tun.csum = TunnelCsum::RemCsum,
                o => {
                    self.problem(t[i], format!("tun_type: unknown option `{o}`"));
                    return None;
                }
            }
            i += 1;
        }
        if tun.tun_type == TunnelType::Gue && tun.port.is_none() {
            self.problem(t[0], "tun_type gue needs `port N`");
            return None;
        }
        Some(tun)
    }

    /// Reads a real server into `rs_scratch` (moved there, not returned: it is large and a
    /// configuration may have tens of thousands).
    fn real_server(&mut self, t: &[Tok], opens: bool) {
        let Some(a) = self.arg(t, 1) else {
            return;
        };
        let addr = self.ip_tok(a);
        let port = match t.get(2) {
            Some(pt) => match self.port_tok(t[0], *pt) {
                Some(p) => Some(p),
                None => return,
            },
            None => None,
        };
        self.no_more(t, 3);
        // (Built with its spans: a default span would allocate, only to be dropped.)
        let mut rs = RealServer::new_at(
            self.sp(t[0]),
            self.sp(*t.get(2).unwrap_or(&a)),
            addr.unwrap_or(IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)),
            port,
        );
        let mut weighted = false;
        if opens {
            self.block(t[0], |p, t, opens| match p.txt(t[0]) {
                "weight" => {
                    weighted = true;
                    set(&mut rs.weight, p.int(t, 0, 65535).map(|v| v as u32))
                }
                "inhibit_on_failure" => rs.inhibit_on_failure = Some(p.flag(t)),
                "notify_up" => rs.more_mut().notify_up = p.script(t, AfterCommand::UserGroup),
                "notify_down" => rs.more_mut().notify_down = p.script(t, AfterCommand::UserGroup),
                "uthreshold" => rs.uthreshold = p.u32v(t),
                "lthreshold" => rs.lthreshold = p.u32v(t),
                "lvs_method" => {
                    let (kind, tunnel) = p.lb_kind_tunnel(t);
                    rs.lvs_method = kind;
                    if tunnel.is_some() {
                        rs.tunnel = tunnel;
                    }
                }
                "tun_type" => rs.tunnel = p.tunnel(t),
                "alpha" => rs.alpha = Some(p.flag(t)),
                "retry" => rs.more_mut().retry = p.int(t, 1, u32::MAX as i64).map(|v| v as u32),
                "delay_before_retry" => rs.more_mut().delay_before_retry = p.dur(t),
                "connect_timeout" => {
                    let had = rs.more_mut().connect_timeout;
                    rs.more_mut().connect_timeout = p.nonzero_dur(t, had);
                }
                "delay_loop" => {
                    let had = rs.more_mut().delay_loop;
                    rs.more_mut().delay_loop = p.nonzero_dur(t, had);
                }
                "warmup" => rs.more_mut().warmup = p.dur(t),
                "smtp_alert" => rs.more_mut().smtp_alert = Some(p.flag(t)),
                "virtualhost" => rs.more_mut().virtualhost = p.string(t),
                kw @ ("HTTP_GET" | "SSL_GET" | "TCP_CHECK" | "MISC_CHECK" | "SMTP_CHECK"
                | "DNS_CHECK" | "UDP_CHECK" | "PING_CHECK" | "FILE_CHECK") => {
                    p.no_more(t, 1);
                    if p.need_block(t, opens) {
                        if let Some(c) = p.checker(kw, t[0]) {
                            push_one(&mut rs.checkers, c);
                        }
                        rs.checkers.append(&mut p.extra_checkers);
                    }
                }
                _ => p.unknown(t, opens, &keywords::RS),
            });
        }
        rs.checkers.shrink_to_fit();
        if addr.is_some() {
            if !weighted {
                self.rs_unweighted.push(self.rs_scratch.len());
            }
            self.rs_scratch.push(rs);
        }
    }

    /// Handles a keyword every checker takes; false when `t` is not one.
    fn check_common(&mut self, t: &[Tok], c: &mut CheckCommon) -> bool {
        match self.txt(t[0]) {
            // keepalived skips a connect_ip or bindto of the other's address family.
            "connect_ip" => {
                if let Some(a) = self.ip(t) {
                    if c.more().bindto.is_some_and(|b| b.is_ipv4() != a.is_ipv4()) {
                        self.problem(t[1], "connect_ip is not of bindto's address family: ignored, as keepalived does");
                    } else {
                        c.more_mut().connect_ip = Some(a);
                    }
                }
            }
            "connect_port" => {
                c.connect_port = match self.arg(t, 1) {
                    Some(v) => {
                        self.no_more(t, 2);
                        self.port_tok(t[0], v)
                    }
                    None => None,
                }
            }
            "bindto" => {
                if let Some(a) = self.ip(t) {
                    if c.more()
                        .connect_ip
                        .is_some_and(|b| b.is_ipv4() != a.is_ipv4())
                    {
                        self.problem(t[1], "bindto is not of connect_ip's address family: ignored, as keepalived does");
                    } else {
                        c.more_mut().bindto = Some(a);
                    }
                }
            }
            "bind_port" => {
                c.more_mut().bind_port = match self.arg(t, 1) {
                    Some(v) => {
                        self.no_more(t, 2);
                        self.port_tok(t[0], v)
                    }
                    None => None,
                }
            }
            "bind_if" => c.more_mut().bind_if = self.string(t),
            "connect_timeout" => c.connect_timeout = self.nonzero_dur(t, c.connect_timeout),
            // keepalived takes 0 for a checker's retry (no retry: the first failure counts),
            // unlike the virtual / real server's `retry`, which starts at 1.
            "retry" => c.retry = self.int(t, 0, u32::MAX as i64).map(|v| v as u32),
            "delay_before_retry" => c.delay_before_retry = self.dur(t),
            "delay_loop" => c.delay_loop = self.nonzero_dur(t, c.delay_loop),
            "warmup" => c.more_mut().warmup = self.dur(t),
            "alpha" => c.more_mut().alpha = Some(self.flag(t)),
            "log_all_failures" => c.more_mut().log_all_failures = Some(self.flag(t)),
            "fwmark" => c.more_mut().fwmark = self.u32v(t),
            _ => return false,
        }
        true
    }

    fn checker(&mut self, kw: &str, open: Tok) -> Option<Checker> {
        let mut common = CheckCommon::default();
        let span = self.sp(open);
        let kind = match kw {
            "HTTP_GET" | "SSL_GET" => {
                let tls = kw == "SSL_GET";
                let table = if tls { &keywords::SSL } else { &keywords::HTTP };
                let mut h = HttpCheck {
                    tls,
                    urls: Vec::new(),
                    virtualhost: None,
                    http_protocol: None,
                    enable_sni: false,
                    fast_recovery: false,
                    client: None,
                };
                self.block(open, |p, t, opens| {
                    if p.check_common(t, &mut common) {
                        return;
                    }
                    match p.txt(t[0]) {
                        "url" => {
                            p.no_more(t, 1);
                            if p.need_block(t, opens) {
                                if let Some(u) = p.url(t[0]) {
                                    push_one(&mut h.urls, u);
                                }
                            }
                        }
                        "virtualhost" => h.virtualhost = p.string(t),
                        // keepalived 2.2.7 still reads it here (only here).
                        "nb_get_retry" => {
                            p.problem(t[0], "nb_get_retry is deprecated: write `retry`");
                            common.retry = p.int(t, 0, u32::MAX as i64).map(|v| v as u32);
                        }
                        "http_protocol" => {
                            if let Some(v) = p.arg(t, 1) {
                                p.no_more(t, 2);
                                let s = p.txt(v);
                                if ["1.0", "1.1", "1.0C", "1.0K"].contains(&s) {
                                    h.http_protocol = Some(s.to_string());
                                } else {
                                    p.problem(v, format!("http_protocol must be 1.0, 1.1, 1.0C or 1.0K, not `{s}`"));
                                }
                            }
                        }
                        "enable_sni" => h.enable_sni = p.flag(t),
                        "fast_recovery" => h.fast_recovery = p.flag(t),
                        _ => p.unknown(t, opens, table),
                    }
                });
                if h.urls.is_empty() {
                    self.problem(open, format!("{kw} needs at least one `url {{ … }}`"));
                }
                h.urls.shrink_to_fit();
                CheckerKind::Http(Box::new(h))
            }
            "TCP_CHECK" => {
                self.simple_checker(open, &keywords::TCP, &mut common);
                CheckerKind::Tcp
            }
            "PING_CHECK" => {
                self.simple_checker(open, &keywords::PING, &mut common);
                CheckerKind::Ping
            }
            "MISC_CHECK" => {
                let mut m = MiscCheck {
                    misc_path: String::new(),
                    misc_timeout: None,
                    misc_dynamic: false,
                    user: None,
                };
                let mut at = None;
                self.block(open, |p, t, opens| {
                    if p.check_common(t, &mut common) {
                        return;
                    }
                    match p.txt(t[0]) {
                        "misc_path" => {
                            at = Some(p.scripts.len());
                            set(&mut m.misc_path, p.script(t, AfterCommand::Nothing));
                        }
                        "misc_timeout" => m.misc_timeout = p.dur(t),
                        "misc_dynamic" => m.misc_dynamic = p.flag(t),
                        "user" => m.user = p.user(t),
                        _ => p.unknown(t, opens, &keywords::MISC),
                    }
                });
                if let Some(r) = at.and_then(|i| self.scripts.get_mut(i)) {
                    r.user = m.user.clone();
                }
                if m.misc_path.is_empty() {
                    self.problem(open, "MISC_CHECK needs `misc_path`");
                }
                CheckerKind::Misc(Box::new(m))
            }
            "SMTP_CHECK" => {
                let mut s = SmtpCheck { helo_name: None };
                let mut hosts: Vec<(Span, CheckCommon)> = Vec::new();
                self.block(open, |p, t, opens| {
                    if p.check_common(t, &mut common) {
                        return;
                    }
                    match p.txt(t[0]) {
                        "helo_name" => s.helo_name = p.string(t),
                        "host" => {
                            p.no_more(t, 1);
                            if p.need_block(t, opens) {
                                let mut host = CheckCommon::default();
                                p.block(t[0], |p, l, opens| {
                                    if !p.check_common(l, &mut host) {
                                        p.unknown(l, opens, &keywords::SMTP_HOST);
                                    }
                                });
                                hosts.push((p.sp(t[0]), host));
                            }
                        }
                        _ => p.unknown(t, opens, &keywords::SMTP),
                    }
                });
                // keepalived 2.2.7: each `host` block is a checker of its own, with the
                // block's other settings; the block's own connection stays a checker too
                // when it set any connection setting (or has no hosts).
                let more = common.more();
                let own = more.connect_ip.is_some()
                    || common.connect_port.is_some()
                    || more.bindto.is_some()
                    || more.bind_port.is_some()
                    || more.bind_if.is_some()
                    || more.fwmark.is_some()
                    || common.connect_timeout.is_some();
                let hosts: Vec<_> = hosts
                    .into_iter()
                    .map(|(at, h)| (at, smtp_host(&common, h)))
                    .collect();
                let mut hosts = hosts.into_iter();
                if !own {
                    if let Some((_, first)) = hosts.next() {
                        common = first;
                    }
                }
                for (at, host) in hosts {
                    self.extra_checkers.push(Checker {
                        span: at,
                        common: host,
                        kind: CheckerKind::Smtp(Box::new(s.clone())),
                    });
                }
                CheckerKind::Smtp(Box::new(s))
            }
            "DNS_CHECK" => {
                let mut d = DnsCheck {
                    query_type: "SOA".into(),
                    name: ".".into(),
                };
                self.block(open, |p, t, opens| {
                    if p.check_common(t, &mut common) {
                        return;
                    }
                    match p.txt(t[0]) {
                        "type" => {
                            if let Some(v) = p.arg(t, 1) {
                                p.no_more(t, 2);
                                let s = p.txt(v).to_ascii_uppercase();
                                const TYPES: &[&str] =
                                    &["A", "NS", "CNAME", "SOA", "MX", "TXT", "AAAA"];
                                if TYPES.contains(&s.as_str()) {
                                    d.query_type = s;
                                } else {
                                    p.problem(
                                        v,
                                        format!(
                                            "DNS_CHECK type must be one of {}",
                                            TYPES.join(" ")
                                        ),
                                    );
                                }
                            }
                        }
                        "name" => set(&mut d.name, p.string(t)),
                        _ => p.unknown(t, opens, &keywords::DNS),
                    }
                });
                CheckerKind::Dns(Box::new(d))
            }
            "UDP_CHECK" => {
                let mut u = UdpCheck::new(None, None);
                self.block(open, |p, t, opens| {
                    if p.check_common(t, &mut common) {
                        return;
                    }
                    match p.txt(t[0]) {
                        "payload" => {
                            if p.arg(t, 1).is_some() {
                                u.payload = p.hex(t, false).map(|h| h.data);
                            }
                        }
                        // keepalived: the keyword alone requires a reply; invalid data
                        // leaves the reply required and unchecked.
                        "require_reply" => {
                            u.require_reply = Some(if t.len() > 1 {
                                p.hex(t, true).unwrap_or_default()
                            } else {
                                ReplyPattern::default()
                            })
                        }
                        "min_reply_length" => {
                            if let Some(v) = p.int(t, 0, 65535) {
                                u.min_reply_length = v as u16;
                            }
                        }
                        "max_reply_length" => {
                            if let Some(v) = p.int(t, 0, 65535) {
                                u.max_reply_length = v as u16;
                            }
                        }
                        _ => p.unknown(t, opens, &keywords::UDP),
                    }
                });
                if u.min_reply_length > u.max_reply_length {
                    self.problem(
                        open,
                        format!(
                            "UDP_CHECK min_reply_length {} > max_reply_length {}: every check will fail",
                            u.min_reply_length, u.max_reply_length
                        ),
                    );
                }
                CheckerKind::Udp(Box::new(u))
            }
            _ => {
                let mut f = FileCheck {
                    track_file: String::new(),
                    weight: None,
                    reverse: false,
                };
                self.block(open, |p, t, opens| {
                    if p.check_common(t, &mut common) {
                        return;
                    }
                    match p.txt(t[0]) {
                        "track_file" => set(&mut f.track_file, p.string(t)),
                        "weight" => {
                            if let Some(v) = p.arg(t, 1) {
                                if let Some(w) = p.int_tok(t[0], v, -254, 254) {
                                    f.weight = Some(w as i32);
                                }
                                match t.get(2) {
                                    Some(r) if p.txt(*r) == "reverse" => {
                                        f.reverse = true;
                                        p.no_more(t, 3);
                                    }
                                    _ => p.no_more(t, 2),
                                }
                            }
                        }
                        _ => p.unknown(t, opens, &keywords::FILE),
                    }
                });
                if f.track_file.is_empty() {
                    self.problem(open, "FILE_CHECK needs `track_file`");
                }
                CheckerKind::File(Box::new(f))
            }
        };
        Some(Checker { span, common, kind })
    }

    fn simple_checker(&mut self, open: Tok, table: &Table, common: &mut CheckCommon) {
        self.block(open, |p, t, opens| {
            if !p.check_common(t, common) {
                p.unknown(t, opens, table);
            }
        });
    }

    /// The top-level `SSL { password, ca, certificate, key }` block. Each file must be
    /// readable now (keepalived fails SSL_GET's setup when one is not: a warning here).
    pub(crate) fn ssl_block(&mut self, toks: &[Tok], opens: bool) {
        self.no_more(toks, 1);
        if !self.need_block(toks, opens) {
            return;
        }
        let mut ssl = SslClient::default();
        self.block(toks[0], |p, t, opens| {
            let kw = p.txt(t[0]);
            let slot = match kw {
                "password" => {
                    ssl.password = p.string(t);
                    if ssl.password.is_some() {
                        p.problem(
                            t[0],
                            "SSL `password`: lvsd cannot read password-protected keys \
                             (decrypt the key, e.g. `openssl pkey -in KEY -out PLAIN`)",
                        );
                    }
                    return;
                }
                "ca" => &mut ssl.ca,
                "certificate" => &mut ssl.certificate,
                "key" => &mut ssl.key,
                _ => return p.unknown(t, opens, &keywords::SSL_BLOCK),
            };
            let Some(path) = p.string(t).map(std::path::PathBuf::from) else {
                return;
            };
            if let Err(e) = p.inputs.open(&path) {
                p.problem(t[1], format!("SSL {kw} {}: {e}", path.display()));
            }
            *slot = Some(path);
        });
        if ssl.key.is_some() != ssl.certificate.is_some() {
            self.problem(
                toks[0],
                "SSL: a client `certificate` needs its `key` and the other way round: none is presented",
            );
        }
        self.config.ssl = Some(std::sync::Arc::new(ssl));
    }

    /// keepalived's hex string: every word after the keyword (spaces between bytes),
    /// `x` nibbles as wildcards where `wildcards`.
    fn hex(&mut self, t: &[Tok], wildcards: bool) -> Option<ReplyPattern> {
        let words: Vec<&str> = t[1..].iter().map(|w| self.txt(*w)).collect();
        let s = words.join(" ");
        let parsed = ReplyPattern::parse(&s, wildcards);
        if parsed.is_none() {
            let kw = self.txt(t[0]);
            self.problem(t[1], format!("{kw}: `{s}` is not a hex string (ignored)"));
        }
        parsed
    }

    fn url(&mut self, open: Tok) -> Option<UrlCheck> {
        let mut u = UrlCheck {
            path: String::new(),
            status_codes: Vec::new(),
            digest: None,
            virtualhost: None,
            regex: None,
        };
        let mut rx = UrlRegex {
            pattern: String::new(),
            no_match: false,
            options: Vec::new(),
            min_offset: None,
            max_offset: None,
        };
        let mut regex_at = None;
        self.block(open, |p, t, opens| match p.txt(t[0]) {
            "path" => set(&mut u.path, p.string(t)),
            "regex" => {
                if let Some(v) = p.rest_of_line(t) {
                    // (read as the rest of the line, like keepalived)
                    rx.pattern = v;
                    regex_at = Some(t[0]);
                }
            }
            "regex_no_match" => rx.no_match = p.flag(t),
            "regex_options" => {
                for o in &t[1..] {
                    let name = p.txt(*o);
                    if REGEX_OPTIONS.contains(&name) {
                        rx.options.push(name.to_string());
                    } else if !REGEX_TUNING_OPTIONS.contains(&name) {
                        p.problem(
                            *o,
                            format!("regex_options: `{name}` is not supported by lvsd (ignored)"),
                        );
                    }
                }
            }
            // The PCRE2 JIT stack: lvsd's regular expressions need none.
            "regex_stack" => {}
            "regex_min_offset" => rx.min_offset = p.u32v(t),
            "regex_max_offset" => rx.max_offset = p.u32v(t),
            "digest" => {
                if let Some(v) = p.arg(t, 1) {
                    p.no_more(t, 2);
                    let s = p.txt(v);
                    if u.digest.is_some() {
                        p.problem(v, "this url already has a digest: the second is ignored, as keepalived does");
                    } else if s.len() == 32 && s.bytes().all(|b| b.is_ascii_hexdigit()) {
                        u.digest = Some(s.to_ascii_lowercase());
                    } else {
                        p.problem(v, format!("digest `{s}` is not 32 hex digits (an MD5)"));
                    }
                }
            }
            "status_code" => {
                if p.arg(t, 1).is_none() {
                    return;
                }
                for c in &t[1..] {
                    let s = p.txt(*c);
                    let (a, b) = s.split_once('-').unwrap_or((s, s));
                    match (a.parse::<u16>(), b.parse::<u16>()) {
                        (Ok(from), Ok(to))
                            if (100..=599).contains(&from) && (from..=599).contains(&to) =>
                        {
                            push_one(&mut u.status_codes, StatusRange { from, to })
                        }
                        _ => p.problem(
                            *c,
                            format!("status_code `{s}` is not a code or range within 100-599"),
                        ),
                    }
                }
            }
            "virtualhost" => u.virtualhost = p.string(t),
            _ => p.unknown(t, opens, &keywords::URL),
        });
        if let Some(at) = regex_at {
            match rx.compile() {
                Ok(_) => u.regex = Some(rx),
                Err(e) => self.problem(at, format!("{e} (ignored)")),
            }
        }
        if u.path.is_empty() {
            self.problem(open, "url needs a `path`");
            return None;
        }
        u.status_codes.shrink_to_fit();
        Some(u)
    }
}

/// keepalived's family of a fwmark service without ip_family: its first real server not
/// tunnelled, else its sorry server not tunnelled, else (all tunnelled) the family they
/// all share, IPv4 when they mix. None: not a fwmark service.
fn fwmark_family(vs: &VirtualServer) -> Option<bool> {
    if !matches!(vs.key, VsKey::Fwmark { .. }) {
        return None;
    }
    let tun = |m: Option<LbKind>| m.unwrap_or(vs.lb_kind) == LbKind::Tun;
    let sorry = vs.sorry_server.iter().map(|s| (s.addr, tun(s.lvs_method)));
    let real = vs.real_servers.iter().map(|r| (r.addr, tun(r.lvs_method)));
    let not_tun = real.clone().chain(sorry.clone()).find(|(_, t)| !t);
    if let Some((a, _)) = not_tun {
        return Some(a.is_ipv6());
    }
    let mut all = sorry.chain(real).map(|(a, _)| a.is_ipv6());
    let first = all.next().unwrap_or(false);
    Some(first && all.all(|v6| v6))
}

/// A deprecated SMTP_CHECK `host` block's checker: its own connection (the real server's
/// address and port unless it names others; no bind settings of the block's), the
/// block's other settings. keepalived 2.2.7 gives such a checker a connect timeout of 0
/// unless the host sets one (every check times out at once); lvsd uses the block's.
fn smtp_host(block: &CheckCommon, host: CheckCommon) -> CheckCommon {
    let (h, b) = (host.more(), block.more());
    let more = CheckOptions {
        connect_ip: h.connect_ip,
        bindto: h.bindto,
        bind_port: h.bind_port,
        bind_if: h.bind_if.clone(),
        fwmark: h.fwmark,
        warmup: h.warmup.or(b.warmup),
        alpha: h.alpha.or(b.alpha),
        log_all_failures: h.log_all_failures.or(b.log_all_failures),
    };
    let mut c = CheckCommon {
        connect_port: host.connect_port,
        connect_timeout: host.connect_timeout.or(block.connect_timeout),
        retry: host.retry.or(block.retry),
        delay_before_retry: host.delay_before_retry.or(block.delay_before_retry),
        delay_loop: host.delay_loop.or(block.delay_loop),
        ..block.clone()
    };
    if more != CheckOptions::default() {
        *c.more_mut() = more;
    } else {
        c.more = CheckMore::default();
    }
    c
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;
    use std::time::Duration;

    fn smtp_checkers(block: &str) -> Vec<CheckCommon> {
        let text = format!(
            "virtual_server 10.0.0.1 25 {{\n lb_kind NAT\n real_server 10.0.1.1 25 {{\n  \
             SMTP_CHECK {{\n{block}\n  }}\n }}\n}}\n"
        );
        let l = crate::config::parse_str(&text, Path::new("t.conf"), "x").expect("loads");
        l.config.virtual_servers[0].real_servers[0]
            .checkers
            .iter()
            .map(|c| c.common.clone())
            .collect()
    }

    /// A virtual server's `weight` is its real servers' default, before or after them.
    #[test]
    fn virtual_server_weight_is_the_real_servers_default() {
        let text = "virtual_server 10.0.0.1 80 {\n real_server 10.0.1.1 80 {\n }\n \
                    real_server 10.0.1.2 80 {\n weight 3\n }\n weight 7\n \
                    real_server 10.0.1.3 80\n}\nvirtual_server 10.0.0.2 80 {\n \
                    real_server 10.0.1.1 80\n}\n";
        let l = crate::config::parse_str(text, Path::new("t.conf"), "x").expect("loads");
        let w = |v: usize| -> Vec<u32> {
            l.config.virtual_servers[v]
                .real_servers
                .iter()
                .map(|r| r.weight)
                .collect()
        };
        assert_eq!(w(0), [7, 3, 7]);
        assert_eq!(w(1), [1]);
        assert!(
            l.warnings.iter().all(|d| !d.message.contains("weight")),
            "{:?}",
            l.warnings
        );
    }

    /// keepalived 2.2.7's `host` blocks: one checker each; the block's own connection
    /// is a checker too when it set any connection setting, connect_timeout included.
    #[test]
    fn smtp_host_blocks_make_checkers_as_keepalived() {
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        // No connection setting of its own: the first host takes the block's place.
        let c = smtp_checkers(
            "retry 3\n host {\n connect_ip 10.0.2.1\n }\n host {\n connect_ip 10.0.2.2\n }",
        );
        assert_eq!(c.len(), 2);
        assert_eq!(
            (c[0].more().connect_ip, c[1].more().connect_ip),
            (ip("10.0.2.1"), ip("10.0.2.2"))
        );
        assert!(c.iter().all(|h| h.retry == Some(3)));
        // connect_timeout set: the real server itself is checked too, and the hosts
        // (no timeout of their own) use the block's, settings after them included.
        let c = smtp_checkers(
            "connect_timeout 10\n host {\n connect_ip 10.0.2.1\n bindto 10.0.0.9\n }\n \
             delay_before_retry 4",
        );
        assert_eq!(c.len(), 2);
        assert_eq!(c[0].more().connect_ip, None);
        assert_eq!(c[1].more().connect_ip, ip("10.0.2.1"));
        assert_eq!(c[1].more().bindto, ip("10.0.0.9"));
        for h in &c {
            assert_eq!(h.connect_timeout, Some(Duration::from_secs(10)));
            assert_eq!(h.delay_before_retry, Some(Duration::from_secs(4)));
        }
        // A host does not take the block's bind settings.
        let c = smtp_checkers("bindto 10.0.0.8\n host {\n connect_ip 10.0.2.1\n }");
        assert_eq!(c.len(), 2);
        assert_eq!(
            (c[0].more().bindto, c[1].more().bindto),
            (ip("10.0.0.8"), None)
        );
    }
}
