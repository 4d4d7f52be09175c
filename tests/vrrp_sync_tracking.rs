//! `sync_group_tracking_weight` and a sync group's `notify_priority_changes` against
//! Debian's keepalived 2.2.7 (issue 13).
//!
//! lvsd and keepalived run the same file, each alone on its own bridge (each is master of
//! its segment, so its adverts show its effective priority). Two sync groups of two
//! instances each; the first instance of each tracks the same weighted script:
//!
//! * group GW has `sync_group_tracking_weight` and `notify_priority_changes`: when the
//!   script fails, VW_1's priority drops by the weight, and the change is written to the
//!   notify fifo (`INSTANCE "VW_1" MASTER_PRIORITY 90`);
//! * group GN has neither: the weighted script of VN_1 is left out (keepalived: "ignoring
//!   tracked script … with weights due to SYNC group"), its priority stays.
//!
//! The sync group section of keepalived.data (SIGUSR1) must read the same.

mod support;

use std::net::Ipv4Addr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use support::*;

const SEC: Duration = Duration::from_secs(1);

/// (instance, vrid, tracks the script)
const INSTANCES: [(&str, u8, bool); 4] = [
    ("VW_1", 61, true),
    ("VW_2", 62, false),
    ("VN_1", 63, true),
    ("VN_2", 64, false),
];

fn vip(vrid: u8) -> Ipv4Addr {
    Ipv4Addr::new(10, 99, 0, vrid)
}

fn conf(flag: &Path, fifo: &Path) -> String {
    let mut s = format!(
        "global_defs {{\n  router_id T\n  script_user root\n  vrrp_notify_fifo {}\n}}\n\
         vrrp_script chk {{\n  script \"/usr/bin/test -e {}\"\n  interval 1\n  weight -10\n  \
         fall 1\n  rise 1\n}}\n\
         vrrp_sync_group GW {{\n  group {{\n    VW_1\n    VW_2\n  }}\n  \
         sync_group_tracking_weight\n  notify_priority_changes\n}}\n\
         vrrp_sync_group GN {{\n  group {{\n    VN_1\n    VN_2\n  }}\n}}\n",
        fifo.display(),
        flag.display()
    );
    for (name, vrid, tracks) in INSTANCES {
        let track = if tracks {
            "  track_script {\n    chk\n  }\n"
        } else {
            ""
        };
        s.push_str(&format!(
            "vrrp_instance {name} {{\n  state BACKUP\n  interface eth0\n  virtual_router_id {vrid}\n  \
             priority 100\n  advert_int 1\n  virtual_ipaddress {{\n    {}/24 dev eth0\n  }}\n{track}}}\n",
            vip(vrid)
        ));
    }
    s
}

/// Reads the lines written to a fifo (opened read-write, so a writer closing its end
/// gives no end of file).
fn read_fifo(path: &Path) -> Arc<Mutex<Vec<String>>> {
    nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    let lines = Arc::new(Mutex::new(Vec::new()));
    let (out, path) = (lines.clone(), path.to_path_buf());
    std::thread::spawn(move || {
        use std::io::BufRead;
        let Ok(f) = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(&path)
        else {
            return;
        };
        for l in std::io::BufReader::new(f).lines() {
            match l {
                Ok(l) => out.lock().expect("fifo lines").push(l),
                Err(_) => break,
            }
        }
    });
    lines
}

struct Side {
    lab: Lab,
    cap: Capture,
    fifo: Arc<Mutex<Vec<String>>>,
    d: Daemon,
}

impl Side {
    fn label(&self) -> &'static str {
        self.d.kind.label()
    }
    fn prios(&self, vrid: u8, since: SystemTime) -> Vec<u8> {
        let ip = self.lab.node(0).ip;
        self.cap
            .frames()
            .into_iter()
            .filter(|f| f.at >= since)
            .filter_map(|f| match f.what {
                What::Vrrp {
                    src, vrid: v, prio, ..
                } if src == ip && v == vrid => Some(prio),
                _ => None,
            })
            .collect()
    }
    fn fifo_lines(&self) -> Vec<String> {
        self.fifo.lock().expect("fifo lines").clone()
    }
    /// The "VRRP Sync groups" section of a SIGUSR1 dump.
    fn sync_group_dump(&self) -> String {
        let text = self.d.data_dump("VRRP Scripts");
        let start = text.find("------< VRRP Sync groups >------");
        let Some(start) = start else {
            panic!("{}: no sync group section in\n{text}", self.label());
        };
        let rest = &text[start..];
        let end = rest[1..].find("------<").map_or(rest.len(), |e| e + 1);
        rest[..end].to_string()
    }
}

fn logs(sides: &[Side]) -> String {
    sides
        .iter()
        .map(|s| format!("--- {}:\n{}", s.label(), s.d.log_text()))
        .collect()
}

#[test]
fn sync_group_tracking_weight_and_notify_priority_changes_as_keepalived() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    require_tool("keepalived");
    let mut sides = Vec::new();
    for (tag, kind) in [("sgl", Kind::Lvsd), ("sgk", Kind::Keepalived)] {
        let lab = Lab::new(tag, 1);
        let flag = lab.path("ok");
        std::fs::write(&flag, "").expect("flag file");
        let fifo_path = lab.path("fifo");
        let fifo = read_fifo(&fifo_path);
        let cap = lab.capture();
        let d = lab.spawn(0, kind, "d", &conf(&flag, &fifo_path));
        sides.push(Side { lab, cap, fifo, d });
    }
    for s in &sides {
        for (name, vrid, _) in INSTANCES {
            assert!(
                wait_addr(&s.lab.node(0).ns, vip(vrid), true, 10 * SEC).is_some(),
                "{}: {name} never became master\n{}",
                s.label(),
                logs(&sides)
            );
        }
    }
    // The script succeeds: all at 100.
    std::thread::sleep(2 * SEC);
    let t = SystemTime::now();
    std::thread::sleep(2 * SEC);
    for s in &sides {
        for (name, vrid, _) in INSTANCES {
            let p = s.prios(vrid, t);
            assert!(
                !p.is_empty() && p.iter().all(|p| *p == 100),
                "{}: {name} adverts {p:?} while the script succeeds\n{}",
                s.label(),
                logs(&sides)
            );
        }
    }
    let fifo_before: Vec<usize> = sides.iter().map(|s| s.fifo_lines().len()).collect();

    // The script fails: VW_1 (tracking weight kept) goes to 90; VN_1 (weight dropped)
    // stays at 100, and so do the others.
    for s in &sides {
        std::fs::remove_file(s.lab.path("ok")).expect("remove flag");
    }
    let t = SystemTime::now();
    std::thread::sleep(4 * SEC);
    let settled = SystemTime::now() - Duration::from_millis(1500);
    for s in &sides {
        let vw1 = s.prios(61, settled);
        assert!(
            !vw1.is_empty() && vw1.iter().all(|p| *p == 90),
            "{}: VW_1 adverts {vw1:?} after the script failed (want 90)\n{}",
            s.label(),
            logs(&sides)
        );
        for (name, vrid, _) in &INSTANCES[1..] {
            let p = s.prios(*vrid, t);
            assert!(
                !p.is_empty() && p.iter().all(|p| *p == 100),
                "{}: {name} adverts {p:?} after the script failed (want 100)\n{}",
                s.label(),
                logs(&sides)
            );
        }
    }
    // Only VW_1's change reaches the fifo: its group asks for priority changes.
    let mut written = Vec::new();
    for (s, n) in sides.iter().zip(&fifo_before) {
        let lines = s.fifo_lines();
        let new: Vec<String> = lines[*n..].to_vec();
        eprintln!("{}: fifo {lines:?}", s.label());
        written.push(new);
    }
    assert_eq!(
        written[0],
        vec![r#"INSTANCE "VW_1" MASTER_PRIORITY 90"#.to_string()],
        "lvsd's fifo lines after the script failed\n{}",
        logs(&sides)
    );
    assert_eq!(
        written[0], written[1],
        "fifo lines differ (lvsd left, keepalived right)"
    );

    // keepalived.data: the sync groups read the same.
    let dumps: Vec<String> = sides.iter().map(Side::sync_group_dump).collect();
    assert!(
        dumps[0].contains("   sync group tracking weight set\n")
            && dumps[0].contains("   Notify priority changes = yes\n"),
        "lvsd's dump lacks the group's lines:\n{}",
        dumps[0]
    );
    assert_eq!(
        dumps[0], dumps[1],
        "the sync group dump differs (lvsd left, keepalived right)"
    );
}

// ---- the configuration rules (no root) ------------------------------------------------

const RULES: &str = "\
vrrp_script w {
  script /bin/true
  weight -10
}
vrrp_script u {
  script /bin/true
}
vrrp_sync_group KEEP {
  group {
    A
  }
  sync_group_tracking_weight
}
vrrp_sync_group DROP {
  group {
    B
  }
  notify_priority_changes no
}
vrrp_sync_group LEGACY {
  group {
    C
  }
  global_tracking
}
";

fn member(name: &str, vrid: u8, prio: u8) -> String {
    format!(
        "vrrp_instance {name} {{\n  interface eth0\n  virtual_router_id {vrid}\n  priority {prio}\n  \
         virtual_ipaddress {{\n    192.0.2.{vrid}\n  }}\n  track_script {{\n    w\n    u\n    \
         u2 weight 5\n  }}\n  track_interface {{\n    eth1 weight 20\n    eth2\n  }}\n}}\n"
    )
}

#[test]
fn members_keep_weights_only_with_sync_group_tracking_weight() {
    let text = format!(
        "{}vrrp_script u2 {{\n  script /bin/true\n}}\n{}{}{}{}",
        RULES,
        member("A", 1, 100),
        member("B", 2, 100),
        member("C", 3, 100),
        member("OWNER", 4, 255)
    );
    let loaded =
        lvsd::config::parse_str(&text, Path::new("sg.conf"), "x").unwrap_or_else(|e| panic!("{e}"));
    let c = &loaded.config;
    let inst = |n: &str| {
        c.instances
            .iter()
            .find(|i| i.name == n)
            .unwrap_or_else(|| panic!("no instance {n}"))
    };
    let scripts = |n: &str| -> Vec<String> {
        inst(n)
            .track_script
            .iter()
            .map(|t| t.name.clone())
            .collect()
    };
    let ifaces = |n: &str| -> Vec<(String, Option<i32>)> {
        inst(n)
            .track_interface
            .iter()
            .map(|t| (t.name.clone(), t.weight))
            .collect()
    };
    let all = vec!["w".to_string(), "u".to_string(), "u2".to_string()];
    // sync_group_tracking_weight, and its deprecated spelling: nothing changes.
    for n in ["A", "C"] {
        assert_eq!(scripts(n), all, "{n}");
        assert_eq!(
            ifaces(n),
            vec![("eth1".into(), Some(20)), ("eth2".into(), None)],
            "{n}"
        );
    }
    // A member without it: weighted scripts left out, a weighted interface only faults.
    assert_eq!(scripts("B"), vec!["u".to_string()]);
    assert_eq!(
        ifaces("B"),
        vec![("eth1".into(), None), ("eth2".into(), None)]
    );
    // The address owner (no group): weighted scripts and interfaces left out.
    assert_eq!(scripts("OWNER"), vec!["u".to_string()]);
    assert_eq!(ifaces("OWNER"), vec![("eth2".into(), None)]);

    let g = |n: &str| {
        c.sync_groups
            .iter()
            .find(|g| g.name == n)
            .unwrap_or_else(|| panic!("no group {n}"))
    };
    assert!(g("KEEP").tracking_weight && g("LEGACY").tracking_weight);
    assert!(!g("DROP").tracking_weight);
    assert_eq!(g("DROP").notify_priority_changes, Some(false));
    assert_eq!(g("KEEP").notify_priority_changes, None);

    let w: Vec<String> = loaded.warnings.iter().map(|d| d.to_string()).collect();
    let has = |needle: &str| w.iter().any(|l| l.contains(needle));
    assert!(
        has("global_tracking is deprecated"),
        "no deprecation warning: {w:#?}"
    );
    assert!(
        has("vrrp_instance B: track_script w with weight -10 left out because of its sync group"),
        "{w:#?}"
    );
    assert!(
        !w.iter()
            .any(|l| l.contains("not supported yet") || l.contains("instance A:")),
        "{w:#?}"
    );
}

#[test]
fn a_group_gives_notify_priority_changes_to_members_that_do_not_set_it() {
    let text = "\
global_defs {
  vrrp_notify_priority_changes true
}
vrrp_sync_group G {
  group {
    A
    B
  }
  notify_priority_changes false
}
vrrp_instance A {
  interface eth0
  virtual_router_id 1
  virtual_ipaddress {
    192.0.2.1
  }
}
vrrp_instance B {
  interface eth0
  virtual_router_id 2
  notify_priority_changes
  virtual_ipaddress {
    192.0.2.2
  }
}
vrrp_instance C {
  interface eth0
  virtual_router_id 3
  virtual_ipaddress {
    192.0.2.3
  }
}
";
    let loaded =
        lvsd::config::parse_str(text, Path::new("np.conf"), "x").unwrap_or_else(|e| panic!("{e}"));
    let c = &loaded.config;
    let mut params: Vec<lvsd::vrrp::params::InstanceParams> = c
        .instances
        .iter()
        .map(|i| {
            lvsd::vrrp::params::InstanceParams::from_config(i, &c.global, &c.vrrp_scripts)
                .unwrap_or_else(|e| panic!("{e}"))
        })
        .collect();
    lvsd::vrrp::params::apply_sync_group_defaults(&mut params, c);
    let got: Vec<(String, bool)> = params
        .iter()
        .map(|p| (p.name.clone(), p.notify_priority_changes))
        .collect();
    assert_eq!(
        got,
        vec![
            ("A".to_string(), false),
            ("B".to_string(), true),
            ("C".to_string(), true)
        ]
    );
}
