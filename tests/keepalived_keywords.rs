//! Every configuration keyword of keepalived 2.2.7 is either read by lvsd or named in its
//! block's table as "not supported yet": none is unknown to lvsd, none passes `-t` in
//! silence. The keywords, per block, are in tests/data/keepalived-2.2.7-keywords.txt
//! (taken from keepalived.conf(5) of 2.2.7 and checked with `keepalived -t`).

use lvsd::config::keywords::{self, Table};
use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

const DATA: &str = include_str!("data/keepalived-2.2.7-keywords.txt");

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Mark {
    /// Documented in keepalived.conf(5) and read by keepalived 2.2.7.
    Documented,
    /// Read by keepalived 2.2.7, not documented (old names, deprecated synonyms).
    Undocumented,
    /// Documented, but keepalived 2.2.7 reports it as an unknown keyword.
    NotRead,
}

struct Entry {
    line: usize,
    block: &'static str,
    kw: &'static str,
    mark: Mark,
}

fn entries() -> Vec<Entry> {
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, raw) in DATA.lines().enumerate() {
        let text = raw.split('#').next().unwrap_or("");
        let words: Vec<&str> = text.split_whitespace().collect();
        let (block, kw, mark) = match words[..] {
            [] => continue,
            [b, k] => (b, k, Mark::Documented),
            [b, k, "+"] => (b, k, Mark::Undocumented),
            [b, k, "-"] => (b, k, Mark::NotRead),
            _ => panic!("line {}: `{raw}` is not `BLOCK KEYWORD [+|-]`", i + 1),
        };
        assert!(
            seen.insert((block, kw)),
            "line {}: {block} {kw} twice",
            i + 1
        );
        out.push(Entry {
            line: i + 1,
            block,
            kw,
            mark,
        });
    }
    out
}

/// lvsd's table for a block of the data file.
fn table(block: &str) -> Option<&'static Table> {
    let name = if block == "top" {
        "the top level"
    } else {
        block
    };
    keywords::ALL.iter().copied().find(|t| t.name == name)
}

/// Blocks lvsd has no table for because it skips them whole: the table of the block they
/// sit in, which must name their opening keyword as not supported.
fn enclosing(block: &str) -> Option<&'static Table> {
    match block {
        "track_group" | "track_file" | "vrrp_track_process" | "bfd_instance" => {
            Some(&keywords::TOP)
        }
        "BFD_CHECK" => Some(&keywords::RS),
        _ => None,
    }
}

#[test]
fn the_list_is_whole() {
    let e = entries();
    let blocks: BTreeSet<&str> = e.iter().map(|e| e.block).collect();
    // A truncated or emptied data file must not pass.
    assert!(blocks.len() >= 27, "{blocks:?}");
    let documented = e.iter().filter(|e| e.mark != Mark::Undocumented).count();
    assert!(documented >= 460, "{documented}");
    for t in keywords::ALL {
        let b = if t.name == "the top level" {
            "top"
        } else {
            t.name
        };
        assert!(blocks.contains(b), "no keepalived keywords listed for {b}");
    }
}

#[test]
fn every_keepalived_keyword_is_read_or_named_unsupported() {
    let mut bad = Vec::new();
    for e in entries() {
        if e.mark == Mark::NotRead {
            continue;
        }
        if let Some(t) = table(e.block) {
            if !t.supported.contains(&e.kw) && !t.unsupported.contains(&e.kw) {
                bad.push(format!(
                    "line {}: `{}` in {}: neither supported nor unsupported",
                    e.line, e.kw, e.block
                ));
            }
        } else if let Some(parent) = enclosing(e.block) {
            if !parent.unsupported.contains(&e.block) {
                bad.push(format!(
                    "line {}: `{}` is skipped whole but {} does not name it unsupported",
                    e.line, e.block, parent.name
                ));
            }
        } else {
            bad.push(format!("line {}: no lvsd table for {}", e.line, e.block));
        }
    }
    assert!(bad.is_empty(), "\n{}", bad.join("\n"));
}

/// "Not supported yet" says keepalived has the keyword: the tables may not say it of a
/// keyword keepalived 2.2.7 does not read in that block.
#[test]
fn every_unsupported_keyword_is_keepalived_s() {
    let mut read: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for e in entries() {
        if e.mark != Mark::NotRead {
            let b = if e.block == "top" {
                "the top level"
            } else {
                e.block
            };
            read.entry(b).or_default().insert(e.kw);
        }
    }
    let mut bad = Vec::new();
    for t in keywords::ALL {
        for kw in t.unsupported {
            if !read.get(t.name).is_some_and(|s| s.contains(kw)) {
                bad.push(format!("{}: {kw}", t.name));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "keepalived 2.2.7 has no:\n{}",
        bad.join("\n")
    );
}

/// `lvsd -t` on a file using keywords lvsd does not implement: exit 5, each named at its
/// line and column. (The tables drive the builders' `unknown()`; config_keywords.rs
/// checks every table entry through the parser.)
#[test]
fn lvsd_t_names_each_unsupported_keyword_at_its_place() {
    let text = "\
global_defs {
    router_id lvs1
    vrrp_ipsets keepalived
    enable_snmp_vrrp
}
bfd_instance b1 {
    neighbor_ip 192.0.2.9
}
vrrp_instance v1 {
    interface eth0
    virtual_router_id 51
    priority 100
      use_ipvlan
    virtual_ipaddress {
        192.0.2.10/24
    }
}
virtual_server 192.0.2.10 80 {
    protocol TCP
    lb_algo rr
    lb_kind NAT
    snmp_name web
    hashed
    real_server 192.0.2.20 80 {
        HTTP_GET {
            url {
                path /
            }
            log_all_failures
        }
    }
}
";
    let dir = std::env::temp_dir().join(format!("lvsd-kk-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("keepalived.conf");
    std::fs::write(&path, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lvsd"))
        .arg("-t")
        .arg("-f")
        .arg(&path)
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).ok();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    let want = [
        (3, 5, "vrrp_ipsets"),
        (4, 5, "enable_snmp_vrrp"),
        (6, 1, "bfd_instance"),
        (13, 7, "use_ipvlan"),
        (22, 5, "snmp_name"),
        (23, 5, "hashed"),
    ];
    let p = path.display();
    for (line, col, kw) in want {
        let w = format!("{p}:{line}:{col}: warning: `{kw}` is not supported yet by lvsd (ignored)");
        assert!(stderr.lines().any(|l| l == w), "want {w}\ngot:\n{stderr}");
    }
    // Nothing else: the keywords inside the skipped blocks give no second warning.
    assert_eq!(stderr.lines().count(), want.len(), "{stderr}");
}

/// `lvsd -t` on a file using the keywords issue 13 implemented: exit 0, nothing
/// said (each was "not supported yet", exit 5, before).
#[test]
fn lvsd_t_accepts_the_implemented_instance_keywords() {
    let text = "\
global_defs {
    fifo_write_vrrp_states_on_reload
}
interface_up_down_delays {
    eth0 0.5 0.25
    eth1 1
}
vrrp_instance v1 {
    interface eth0
    virtual_router_id 51
    version 3
    unicast_src_ip 10.0.0.1
    unicast_peer {
        10.0.0.2
    }
    unicast_ttl 5
    unicast_fault_no_peer
    track_src_ip
    old_unicast_checksum never
    virtual_ipaddress {
        192.0.2.10/24
        192.0.2.11 peer 192.0.2.12 dev eth0 noprefixroute home
        239.1.2.3/32 autojoin
    }
    virtual_ipaddress_excluded {
        fd00::1/64 -nodad preferred_lft 100
        fd00::2/64 preferred_lft forever
    }
}
vrrp_instance v2 {
    interface eth1
    virtual_router_id 52
    mcast_dst_ip 224.0.0.19
    virtual_ipaddress {
        192.0.2.20/24
    }
}
";
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("keepalived.conf");
    std::fs::write(&path, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lvsd"))
        .arg("-t")
        .arg("-f")
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert_eq!(stderr, "");
}

/// The virtual address options, read as keepalived 2.2.7 reads them (what each does to
/// the kernel's address: tests/vrrp_options.rs `vip_options_as_keepalived`).
#[test]
fn vip_options_are_read() {
    let text = "\
vrrp_instance v1 {
    interface eth0
    virtual_router_id 51
    virtual_ipaddress {
        192.0.2.11 peer 192.0.2.12 noprefixroute home autojoin
        192.0.2.13/24 peer 192.0.2.14
        192.0.2.15 peer 192.0.2.16/24
        192.0.2.17/24 brd + peer 192.0.2.18
    }
    virtual_ipaddress_excluded {
        fd00::1/64 -nodad preferred_lft 100
        fd00::2/64 preferred_lft forever
        fd00::3/64 nodad
        fd00::4/64 mngtmpaddr
    }
}
";
    let parsed =
        lvsd::config::parse_str(text, std::path::Path::new("k.conf"), "x").expect("parses");
    let i = &parsed.config.instances[0];
    let v = &i.virtual_ipaddress;
    let peer = |s: &str| Some(s.parse::<std::net::IpAddr>().unwrap());
    assert_eq!(v[0].opts.peer, peer("192.0.2.12"));
    assert!(v[0].opts.home && v[0].opts.noprefixroute && v[0].opts.autojoin);
    assert!(!v[0].opts.dad);
    // With a peer the prefix is the peer's (a written one is dropped with a warning).
    assert_eq!((v[1].prefix_len, v[1].opts.peer), (32, peer("192.0.2.14")));
    // A peer with a prefix is invalid to keepalived: ignored, the address kept.
    assert_eq!(
        (v[2].opts.peer, v[2].addr),
        (None, "192.0.2.15".parse().unwrap())
    );
    // `brd +` is computed from the peer.
    assert_eq!(v[3].brd, peer("192.0.2.18"));
    let x = &i.virtual_ipaddress_excluded;
    assert!(x[0].opts.dad);
    assert_eq!(x[0].opts.preferred_lft, Some(100));
    assert_eq!(x[1].opts.preferred_lft, Some(u32::MAX));
    assert_eq!(
        x.len(),
        4,
        "`nodad` (not a keepalived option) is skipped, the address kept"
    );
    assert!(x[3].opts.mngtmpaddr && !x[2].opts.mngtmpaddr);
    let words: Vec<String> = parsed.warnings.iter().map(|d| d.message.clone()).collect();
    assert_eq!(words.len(), 4, "{words:#?}");
    // What -d prints reads back the same.
    let printed = lvsd::config::print(&parsed.config);
    let again = lvsd::config::parse_str(&printed, std::path::Path::new("p.conf"), "x")
        .expect("printed file parses");
    assert_eq!(
        again.config.instances[0].virtual_ipaddress_excluded,
        parsed.config.instances[0].virtual_ipaddress_excluded
    );
    let opts = |c: &lvsd::config::Config| {
        c.instances[0]
            .virtual_ipaddress
            .iter()
            .map(|v| (v.addr, v.prefix_len, v.opts.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(opts(&again.config), opts(&parsed.config), "{printed}");
}

/// docs/configuration.md's "Not supported" table names every keyword the tables call
/// unsupported (as `KEYWORD`), so that the reference is whole.
#[test]
fn the_docs_name_every_unsupported_keyword() {
    let doc = include_str!("../docs/configuration.md");
    let start = doc
        .find("\n## Not supported")
        .expect("docs/configuration.md has no \"Not supported\" section");
    let section = &doc[start + 1..];
    let section = section[1..]
        .find("\n## ")
        .map_or(section, |end| &section[..end + 1]);
    let named: BTreeSet<&str> = section
        .lines()
        .filter(|l| l.starts_with('|'))
        .flat_map(|l| l.split('`').skip(1).step_by(2))
        .collect();
    let mut bad = Vec::new();
    for t in keywords::ALL {
        for kw in t.unsupported {
            if !named.contains(kw) {
                bad.push(format!("{}: {kw}", t.name));
            }
        }
    }
    assert!(
        bad.is_empty(),
        "not in the docs' table:\n{}",
        bad.join("\n")
    );
}
