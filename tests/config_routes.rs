//! static_ipaddress / static_routes / static_rules and virtual_routes / virtual_rules: the
//! blocks are read into the model at their place, `lvsd -d` prints them back to the same
//! model, and the real configurations using them load as keepalived runs them.

use lvsd::config::{self, *};
use std::path::Path;

#[path = "support/shared.rs"]
mod shared;

const CONF: &str = "\
static_ipaddress {
    192.0.2.10/24 dev lo scope link
    2001:db8::10/64 dev lo
}
static_routes {
    198.51.100.0/24 via 192.0.2.1 dev eth0
    blackhole 203.0.113.0/24 table 100
}
static_rules {
    from 192.0.2.0/24 table 100 preference 100
    to 198.51.100.0/24 table 100
}
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 51
    virtual_ipaddress {
        192.0.2.100/24
    }
    virtual_routes {
        src 192.0.2.100 to 10.10.0.0/16 via 192.0.2.1 dev eth0
        10.11.0.0/16 via 192.0.2.1 or 192.0.2.2
        inet6 default via fe80::1 dev eth0 metric 1024 no_track
    }
    virtual_rules {
        from 192.0.2.100 table 200
        inet6 from 2001:db8::/64 table 200 priority 50 no_track
    }
}
";

fn parse(text: &str) -> Loaded {
    match config::parse_str(text, Path::new("k.conf"), "x") {
        Ok(l) => l,
        Err(e) => panic!("refused: {e}"),
    }
}

#[test]
fn blocks_land_in_the_model_with_their_places() {
    let l = parse(CONF);
    let c = &l.config;
    assert_eq!(c.static_ipaddress.len(), 2);
    assert_eq!(c.static_ipaddress[0].dev.as_deref(), Some("lo"));
    assert_eq!(c.static_routes.len(), 2);
    assert_eq!(c.static_routes[1].rtype, Some(RouteType::Blackhole));
    assert_eq!(c.static_routes[1].table, 100);
    assert_eq!(
        (c.static_routes[1].span.line, c.static_routes[1].span.col),
        (7, 5)
    );
    assert_eq!(c.static_rules.len(), 2);
    let i = &c.instances[0];
    assert_eq!(i.virtual_routes.len(), 3);
    assert_eq!(i.virtual_routes[1].nexthops.len(), 2);
    assert!(i.virtual_routes[2].ipv6 && i.virtual_routes[2].no_track);
    assert_eq!(i.virtual_rules.len(), 2);
    // Rules without a preference are numbered from 16384 down per family, in file order,
    // with a warning at each, as keepalived does.
    assert_eq!(c.static_rules[1].priority, 16384);
    assert_eq!(i.virtual_rules[0].priority, 16383);
    assert_eq!(i.virtual_rules[1].priority, 50);
    let pref_warnings: Vec<_> = l
        .warnings
        .iter()
        .filter(|d| d.message.contains("no preference"))
        .map(|d| d.span.line)
        .collect();
    assert_eq!(pref_warnings, vec![11, 25]);
}

#[test]
fn dump_parses_back_to_the_same_model() {
    let a = parse(CONF).config;
    let text = config::print(&a);
    assert!(text.contains("static_routes {"), "{text}");
    assert!(text.contains("virtual_rules {"), "{text}");
    let b = parse(&text).config;
    assert_eq!(a, b, "printed:\n{text}");
}

#[test]
fn a_bad_line_is_left_out_with_a_warning_at_its_word() {
    let l = parse(
        "static_routes {\n    10.0.0.0/8 via 10.0.0.1 restore\n    10.1.0.0/16 dev lo\n}\n\
         static_rules {\n    to 192.168.100./24 table 1 priority 3\n}\n",
    );
    assert_eq!(l.config.static_routes.len(), 1);
    assert!(l.config.static_rules.is_empty());
    let at: Vec<_> = l
        .warnings
        .iter()
        .map(|d| (d.span.line, d.span.col, d.message.contains("left out")))
        .collect();
    assert_eq!(at, vec![(2, 29, true), (6, 8, true)]);
}

#[test]
fn brd_plus_and_minus_set_and_clear_the_host_bits() {
    let l = parse(
        "static_ipaddress {\n    192.0.2.10/24 brd + dev lo\n    192.0.2.11/23 brd - dev lo\n}\n",
    );
    let b: Vec<_> = l.config.static_ipaddress.iter().map(|a| a.brd).collect();
    assert_eq!(
        b,
        vec![
            Some("192.0.2.255".parse().unwrap()),
            Some("192.0.2.0".parse().unwrap())
        ]
    );
}

#[test]
fn unsupported_options_are_named() {
    let l = parse("static_routes {\n    10.0.0.0/8 dev lo encap ip id 1 dst 10.0.0.1\n}\n");
    assert!(l.config.static_routes.is_empty());
    assert!(
        l.warnings[0].message.contains("not supported by lvsd"),
        "{:?}",
        l.warnings
    );
    assert_eq!((l.warnings[0].span.line, l.warnings[0].span.col), (2, 23));
}

/// The real configurations that use these blocks (read from ../shared, never copied):
/// those keepalived runs and that are not listed as really wrong load, with every route
/// and rule keepalived keeps.
#[test]
fn real_configs_load() {
    let Some(dir) = shared::dir("real-configs", None) else {
        return;
    };
    // (file, static routes, static rules, static addresses, virtual routes of the first
    // instance with any, virtual rules likewise) as keepalived 2.2.7 keeps them on a
    // machine that has their interfaces.
    let want = [
        ("015-kad-track-interface.conf", 4, 0, 0, 3, 0),
        ("021-kad-vrrp-routes.conf", 5, 0, 0, 7, 0),
        ("022-kad-vrrp-rules.conf", 0, 1, 0, 0, 1),
        ("024-kad-vrrp-static-ipaddress.conf", 0, 0, 3, 4, 0),
        ("051-pq1102-syncgroup.conf", 0, 0, 0, 1, 0),
    ];
    for (f, sr, sl, sa, vr, vl) in want {
        let path = dir.join(f);
        let l = match config::load(&path, "x") {
            Ok(l) => l,
            Err(e) => panic!("{f} refused:\n{e}"),
        };
        let c = &l.config;
        let first =
            |n: fn(&VrrpInstance) -> usize| c.instances.iter().map(n).find(|x| *x > 0).unwrap_or(0);
        assert_eq!(
            (
                c.static_routes.len(),
                c.static_rules.len(),
                c.static_ipaddress.len(),
                first(|i| i.virtual_routes.len()),
                first(|i| i.virtual_rules.len()),
            ),
            (sr, sl, sa, vr, vl),
            "{f}"
        );
    }
}
