//! Real operators' keepalived.conf files (../shared/real-configs, never copied into the
//! repository): whatever keepalived 2.2.7 runs, `lvsd -t` must pass (exit 0, 5 or 6),
//! except the files listed as really wrong, which lvsd may refuse but must name the
//! mistake in (a non-zero exit, and every message at file:line:col).
//!
//! keepalived is the oracle: its recorded verdict (KEEPALIVED-RESULTS.tsv, taken in a
//! network namespace holding the file's interfaces), or, for a file with none recorded,
//! `keepalived -t` run now the same way (as root, in a namespace of this test's own with
//! a dummy interface for each one the file names). Files added to the directory later are
//! picked up.
//!
//! Run: `cargo test --test real_configs` (the live oracle needs root and keepalived).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Files keepalived runs that lvsd refuses on purpose, beyond those the corpus lists in
/// EXPECT-REFUSE, with the reason (see docs/configuration.md, "Problems and fallbacks").
const ALSO_REFUSED: &[(&str, &str)] = &[(
    "038-pq1715-http-misc-syncd.conf",
    "anonymised: every VIP is `xxx.xxx.xxx.xxx`; keepalived runs its instances without a \
     single address, lvsd refuses a VIP that is not an address",
)];

fn corpus_dir() -> Option<PathBuf> {
    let dir = match std::env::var_os("LVSD_REAL_CONFIGS") {
        Some(d) => PathBuf::from(d),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/real-configs"),
    };
    dir.is_dir().then_some(dir)
}

/// Each configuration: a `.conf` file, or a directory holding `keepalived.conf` (one
/// that includes others). Keyed as KEEPALIVED-RESULTS.tsv keys them.
fn entries(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut v: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| {
            let p = e.ok()?.path();
            let name = p.file_name()?.to_str()?.to_string();
            if p.is_dir() && p.join("keepalived.conf").is_file() {
                Some((format!("{name}/keepalived.conf"), p.join("keepalived.conf")))
            } else if p.is_file() && name.ends_with(".conf") {
                Some((name, p))
            } else {
                None
            }
        })
        .collect();
    v.sort();
    v
}

/// `file → keepalived -t exit` as recorded.
fn recorded(dir: &Path) -> HashMap<String, i32> {
    let text = std::fs::read_to_string(dir.join("KEEPALIVED-RESULTS.tsv")).unwrap_or_default();
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let mut f = l.split('\t');
            Some((f.next()?.to_string(), f.next()?.trim().parse().ok()?))
        })
        .collect()
}

/// The files listed as really wrong (EXPECT-REFUSE: `file reason`).
fn listed_wrong(dir: &Path) -> HashMap<String, String> {
    let text = std::fs::read_to_string(dir.join("EXPECT-REFUSE")).unwrap_or_default();
    let mut m: HashMap<String, String> = text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .filter_map(|l| {
            let (f, why) = l.split_once(char::is_whitespace)?;
            Some((f.to_string(), why.trim().to_string()))
        })
        .collect();
    for (f, why) in ALSO_REFUSED {
        m.insert(f.to_string(), why.to_string());
    }
    m
}

fn is_listed(wrong: &HashMap<String, String>, key: &str) -> bool {
    wrong.contains_key(key) || wrong.contains_key(key.trim_end_matches("/keepalived.conf"))
}

/// The interface names a file uses (for the live oracle's namespace).
fn interfaces(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut in_track = false;
    for line in text.lines() {
        let line = line.split(['#', '!']).next().unwrap_or("");
        let words: Vec<&str> = line.split_whitespace().collect();
        if in_track {
            if words.first() == Some(&"}") {
                in_track = false;
            } else if let Some(w) = words.first() {
                out.push(w.trim_end_matches('}').to_string());
            }
            if line.contains('}') {
                in_track = false;
            }
            continue;
        }
        for pair in words.windows(2) {
            if matches!(
                pair[0],
                "interface" | "dev" | "lvs_sync_daemon_interface" | "lvs_sync_daemon"
            ) {
                out.push(pair[1].to_string());
            }
        }
        if words.first() == Some(&"track_interface") && !line.contains('}') {
            in_track = true;
        }
    }
    out.retain(|n| {
        !n.is_empty()
            && n.len() <= 15
            && n.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-@".contains(&b))
            && n != "lo"
    });
    out.sort();
    out.dedup();
    out
}

/// `keepalived -t` on `file`, now, in a namespace with the file's interfaces.
fn keepalived_now(file: &Path, tag: usize) -> Option<i32> {
    if !nix::unistd::geteuid().is_root() || Command::new("keepalived").arg("-v").output().is_err() {
        return None;
    }
    let ns = format!("lvsdrc-{}-{tag}", std::process::id());
    let ip = |args: &[&str]| Command::new("ip").args(args).output();
    ip(&["netns", "add", &ns]).ok()?;
    for name in interfaces(&std::fs::read_to_string(file).ok()?) {
        let _ = ip(&["-n", &ns, "link", "add", &name, "type", "dummy"]);
        let _ = ip(&["-n", &ns, "link", "set", &name, "up"]);
    }
    let out = Command::new("ip")
        .args(["netns", "exec", &ns, "keepalived", "-t", "-f"])
        .arg(file)
        .output();
    let _ = ip(&["netns", "del", &ns]);
    out.ok()?.status.code()
}

#[test]
fn lvsd_runs_what_keepalived_runs() {
    let Some(dir) = corpus_dir() else {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI runs with shared/ beside the repository: ../shared/real-configs is missing"
        );
        eprintln!("SKIP: ../shared/real-configs is not here (set LVSD_REAL_CONFIGS)");
        return;
    };
    let recorded = recorded(&dir);
    let wrong = listed_wrong(&dir);
    let mut failures = Vec::new();
    let mut counts: HashMap<(i32, i32), usize> = HashMap::new();
    let mut live = 0;
    for (i, (key, path)) in entries(&dir).iter().enumerate() {
        let ka = match recorded.get(key) {
            Some(code) => *code,
            None => match keepalived_now(path, i) {
                Some(code) => {
                    live += 1;
                    code
                }
                None => {
                    failures.push(format!(
                        "{key}: no recorded keepalived verdict, and keepalived cannot be run here (root and Debian's keepalived are needed)"
                    ));
                    continue;
                }
            },
        };
        let out = Command::new(env!("CARGO_BIN_EXE_lvsd"))
            .args(["-t", "-f"])
            .arg(path)
            .output()
            .unwrap();
        let code = out.status.code().unwrap_or(-1);
        let report = String::from_utf8_lossy(&out.stderr);
        *counts.entry((ka, code)).or_default() += 1;
        // Every message names its place: path:line:col: severity: text.
        for l in report.lines() {
            let mut f = l.splitn(4, ':');
            let (file, line, col) = (f.next(), f.next(), f.next());
            let placed = file.is_some_and(|f| !f.is_empty())
                && line.is_some_and(|n| n.parse::<u32>().is_ok())
                && col.is_some_and(|n| n.parse::<u32>().is_ok());
            if !placed {
                failures.push(format!("{key}: a message without file:line:col: {l}"));
            }
        }
        let keepalived_runs = matches!(ka, 0 | 5 | 6);
        let lvsd_runs = matches!(code, 0 | 5 | 6);
        if is_listed(&wrong, key) {
            if code == 0 {
                failures.push(format!(
                    "{key}: listed as really wrong ({}), but lvsd -t found nothing",
                    wrong
                        .get(key)
                        .or_else(|| wrong.get(key.trim_end_matches("/keepalived.conf")))
                        .map(String::as_str)
                        .unwrap_or("")
                ));
            }
        } else if keepalived_runs && !lvsd_runs {
            failures.push(format!(
                "{key}: keepalived -t exits {ka} (it runs the file), lvsd -t exits {code}:\n{report}"
            ));
        }
    }
    let mut table: Vec<_> = counts.into_iter().collect();
    table.sort();
    eprintln!("(keepalived -t, lvsd -t): files — {live} judged by keepalived now");
    for ((ka, lv), n) in table {
        eprintln!("  ({ka}, {lv}): {n}");
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn interfaces_are_found_where_keepalived_reads_them() {
    let text = "vrrp_instance V {\n  interface eth0 # main\n  track_interface {\n    \
                bond0 weight 10\n    eth2\n  }\n  virtual_ipaddress {\n    10.0.0.1/24 dev \
                eth1 label eth1:0\n  }\n  lvs_sync_daemon_interface eth3\n}\n";
    assert_eq!(interfaces(text), ["bond0", "eth0", "eth1", "eth2", "eth3"]);
}
