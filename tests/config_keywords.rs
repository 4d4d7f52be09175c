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
    let mut n = 0;
    for t in keywords::ALL {
        for kw in t.unsupported {
            n += 1;
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
    assert!(n > 50);
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

/// keepalived's ranges for `retry`: 0 and up in a checker (also as `nb_get_retry`), 1 and
/// up on a virtual or real server.
#[test]
fn retry_ranges_match_keepalived() {
    let checker = |kw: &str, v: &str| {
        let text = place("TCP_CHECK", &format!("{kw} {v}"));
        config::parse_str(&text, Path::new("k.conf"), "x")
    };
    for kw in ["retry", "nb_get_retry"] {
        let l = checker(kw, "0").unwrap_or_else(|e| panic!("{kw} 0 refused: {e}"));
        let rs = &l.config.virtual_servers[0].real_servers[0];
        assert_eq!(rs.checkers[0].common.retry, Some(0), "{kw} 0");
        let l = checker(kw, "4294967295").unwrap_or_else(|e| panic!("{kw} max: {e}"));
        let rs = &l.config.virtual_servers[0].real_servers[0];
        assert_eq!(rs.checkers[0].common.retry, Some(u32::MAX));
        let e = checker(kw, "4294967296").unwrap_err();
        assert_eq!(
            e.errors[0].message,
            format!("{kw} 4294967296 out of range 0-4294967295")
        );
        let e = checker(kw, "-1").unwrap_err();
        assert_eq!(
            e.errors[0].message,
            format!("{kw} -1 out of range 0-4294967295")
        );
    }
    for table in ["virtual_server", "real_server"] {
        let text = place(table, "retry 0");
        let e = config::parse_str(&text, Path::new("k.conf"), "x").unwrap_err();
        assert_eq!(e.errors[0].message, "retry 0 out of range 1-4294967295");
        assert_eq!(
            e.errors[0].span.line,
            if table == "real_server" { 3 } else { 2 }
        );
        let text = place(table, "retry 1");
        assert!(config::parse_str(&text, Path::new("k.conf"), "x").is_ok());
    }
}
