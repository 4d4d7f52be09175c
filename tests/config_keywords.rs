//! The keyword tables and the builders agree: every keyword a table calls supported is
//! read by its block (never "unknown"), and every "not supported yet" keyword gives that
//! warning (never an error, never silence).

use lvsd::config::{self, keywords, Diagnostic};
use std::path::Path;

/// A config with `kw` placed inside the block the table describes.
fn place(table: &str, kw: &str) -> String {
    let rs = |inner: &str| {
        format!("virtual_server 192.0.2.1 80 {{\n real_server 192.0.2.2 80 {{\n{inner}\n }}\n}}\n")
    };
    match table {
        "the top level" => format!("{kw} x {{\n}}\n"),
        "global_defs" => format!("global_defs {{\n{kw}\n}}\n"),
        "vrrp_script" => format!("vrrp_script s {{\n{kw}\n}}\n"),
        "vrrp_sync_group" => format!("vrrp_sync_group g {{\n{kw}\n}}\n"),
        "vrrp_instance" => format!("vrrp_instance v {{\n{kw}\n}}\n"),
        "authentication" => format!("vrrp_instance v {{\nauthentication {{\n{kw}\n}}\n}}\n"),
        "virtual_server_group" => format!("virtual_server_group g {{\n{kw}\n}}\n"),
        "virtual_server" => format!("virtual_server 192.0.2.1 80 {{\n{kw}\n}}\n"),
        "real_server" => rs(kw),
        "url" => rs(&format!("HTTP_GET {{\nurl {{\n{kw}\n}}\n}}")),
        "host" => rs(&format!("SMTP_CHECK {{\nhost {{\n{kw}\n}}\n}}")),
        checker => rs(&format!("{checker} {{\n{kw}\n}}")),
    }
}

fn diags(text: &str) -> Vec<Diagnostic> {
    match config::parse_str(text, Path::new("k.conf"), "x") {
        Ok(l) => l.warnings,
        Err(e) => e.errors.into_iter().chain(e.warnings).collect(),
    }
}

#[test]
fn every_supported_keyword_is_read() {
    let mut bad = Vec::new();
    for t in keywords::ALL {
        for kw in t.supported {
            let text = place(t.name, kw);
            for d in diags(&text) {
                if d.message.contains(&format!("keyword `{kw}`"))
                    || d.message.contains("not supported yet")
                {
                    bad.push(format!("{}: {kw}: {d}", t.name));
                }
            }
        }
    }
    assert!(bad.is_empty(), "\n{}", bad.join("\n"));
}

#[test]
fn every_unsupported_keyword_warns() {
    let mut bad = Vec::new();
    for t in keywords::ALL {
        for kw in t.unsupported {
            let text = place(t.name, kw);
            let ds = diags(&text);
            let want = format!("`{kw}` is not supported yet by lvsd (ignored)");
            let hit = ds.iter().find(|d| d.message == want);
            match hit {
                Some(d) if !d.is_error() && d.span.line >= 1 => {}
                _ => bad.push(format!("{}: {kw}: {ds:?}", t.name)),
            }
        }
    }
    assert!(bad.is_empty(), "\n{}", bad.join("\n"));
}

#[test]
fn suggestions_come_from_the_right_table() {
    assert_eq!(
        keywords::INSTANCE.suggest("virtual_routerid"),
        Some("virtual_router_id")
    );
    assert_eq!(keywords::VS.suggest("lb_algorithm"), None);
    assert_eq!(keywords::VS.suggest("delay_lop"), Some("delay_loop"));
    assert_eq!(keywords::HTTP.suggest("conect_port"), Some("connect_port"));
    assert_eq!(keywords::RS.suggest("http_get"), Some("HTTP_GET"));
}

/// keepalived's ranges for `retry`: 0 and up in a checker (also as `nb_get_retry` in
/// HTTP_GET and SSL_GET, the only checkers keepalived 2.2.7 still reads it in), 1 and up on
/// a virtual or real server. A value out of range is ignored with a warning.
#[test]
fn retry_ranges_match_keepalived() {
    let checker = |check: &str, kw: &str, v: &str| {
        let body = if check == "TCP_CHECK" {
            format!("{kw} {v}")
        } else {
            format!("{kw} {v}\n url {{ path / }}")
        };
        let text = place(check, &body);
        config::parse_str(&text, Path::new("k.conf"), "x").unwrap_or_else(|e| panic!("{e}"))
    };
    let retry = |l: &config::Loaded| {
        l.config.virtual_servers[0].real_servers[0].checkers[0]
            .common
            .retry
    };
    for (check, kw) in [("TCP_CHECK", "retry"), ("HTTP_GET", "nb_get_retry")] {
        assert_eq!(retry(&checker(check, kw, "0")), Some(0), "{kw} 0");
        assert_eq!(retry(&checker(check, kw, "4294967295")), Some(u32::MAX));
        for bad in ["4294967296", "-1"] {
            let l = checker(check, kw, bad);
            assert_eq!(retry(&l), None);
            assert!(
                l.warnings.iter().any(|w| w.message
                    == format!("{kw} {bad} out of range 0-4294967295 (ignored)")),
                "{:?}",
                l.warnings
            );
        }
    }
    // Elsewhere nb_get_retry is unknown to keepalived 2.2.7: ignored, the default stays.
    let l = checker("TCP_CHECK", "nb_get_retry", "3");
    assert_eq!(retry(&l), None);
    assert!(l.warnings[0]
        .message
        .starts_with("unknown keyword `nb_get_retry` in TCP_CHECK"));
    for table in ["virtual_server", "real_server"] {
        let text = place(table, "retry 0");
        let l = config::parse_str(&text, Path::new("k.conf"), "x").unwrap();
        let w = &l.warnings[0];
        assert_eq!(w.message, "retry 0 out of range 1-4294967295 (ignored)");
        assert_eq!(w.span.line, if table == "real_server" { 3 } else { 2 });
        let text = place(table, "retry 1");
        assert!(config::parse_str(&text, Path::new("k.conf"), "x").is_ok());
    }
}

/// As keepalived 2.2.7: `persistence_granularity` alone makes the service persistent (360 s,
/// a later persistence_timeout still wins), and a fwmark service without ip_family takes
/// its real servers' family (so `fwmark 80` may be both an IPv4 and an IPv6 service; IPv4
/// when tunnelled servers mix families).
#[test]
fn granularity_implies_persistence_and_fwmark_takes_its_servers_family() {
    let text = "virtual_server 2001:db8::1 443 {\n  persistence_granularity 64\n  \
                real_server 2001:db8::2 443 {\n  }\n}\n\
                virtual_server 10.0.0.1 80 {\n  persistence_granularity 255.255.255.0\n  \
                persistence_timeout 50\n  real_server 10.0.0.3 80 {\n  }\n}\n\
                virtual_server fwmark 80 {\n  real_server 10.0.0.2 80 {\n  }\n}\n\
                virtual_server fwmark 80 {\n  sorry_server 2001:db8::9 80\n  \
                real_server 2001:db8::3 80 {\n  }\n}\n\
                virtual_server fwmark 81 {\n  ip_family inet\n  real_server 10.0.0.4 80 {\n  }\n}\n\
                virtual_server fwmark 82 {\n  lb_kind TUN\n  sorry_server 2001:db8::9 80\n  \
                real_server 2001:db8::3 80 {\n  }\n  real_server 10.0.0.5 80 {\n  }\n}\n";
    let loaded = config::parse_str(text, Path::new("t.conf"), "t").expect("parses");
    let vs = &loaded.config.virtual_servers;
    assert_eq!(vs[0].persistence_timeout, Some(360));
    assert_eq!(vs[1].persistence_timeout, Some(50));
    let fams: Vec<_> = vs[2..]
        .iter()
        .map(|v| match v.key {
            config::VsKey::Fwmark { mark, ipv6 } => (mark, ipv6),
            _ => panic!("{:?}", v.key),
        })
        .collect();
    assert_eq!(fams, [(80, false), (80, true), (81, false), (82, false)]);
}
