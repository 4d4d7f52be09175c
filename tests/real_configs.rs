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

#[path = "support/root.rs"]
mod root;
#[path = "support/shared.rs"]
mod shared;

/// Files keepalived runs that lvsd refuses on purpose, beyond those the corpus lists in
/// EXPECT-REFUSE, with the reason (see docs/configuration.md, "Problems and fallbacks").
const ALSO_REFUSED: &[(&str, &str)] = &[(
    "038-pq1715-http-misc-syncd.conf",
    "anonymised: every VIP is `xxx.xxx.xxx.xxx`; keepalived runs its instances without a \
     single address, lvsd refuses a VIP that is not an address",
)];

fn corpus_dir() -> Option<PathBuf> {
    shared::dir("real-configs", Some("LVSD_REAL_CONFIGS"))
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

/// The interface names `file` uses, from lvsd's reading of it (parameters expanded), else
/// from its text.
fn file_interfaces(file: &Path) -> Vec<String> {
    let dumped = Command::new(env!("CARGO_BIN_EXE_lvsd"))
        .args(["-d", "-f"])
        .arg(file)
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned());
    let text = dumped.unwrap_or_else(|| std::fs::read_to_string(file).unwrap_or_default());
    interfaces(&text)
}

/// `(interface, address)` for each instance's `unicast_src_ip`, from lvsd's reading of
/// `file`: a director has that address on the instance's interface.
fn unicast_sources(file: &Path) -> Vec<(String, String)> {
    let text = Command::new(env!("CARGO_BIN_EXE_lvsd"))
        .args(["-d", "-f"])
        .arg(file)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let mut out = Vec::new();
    let mut iface = String::new();
    for line in text.lines() {
        let w: Vec<&str> = line.split_whitespace().collect();
        match w.as_slice() {
            ["vrrp_instance", ..] => iface.clear(),
            ["interface", name] => iface = name.to_string(),
            ["unicast_src_ip", addr] if !iface.is_empty() => {
                out.push((iface.clone(), addr.to_string()))
            }
            _ => {}
        }
    }
    out
}

/// Where the daemon started with `tag` writes its dump files.
fn dump_dir(work: &Path, tag: &str) -> PathBuf {
    work.join(format!("{tag}.tmp"))
}

/// What keepalived.data says of each VRRP instance that its meaning depends on: state,
/// priorities, VRID, version, interval, tracked objects with their weights, VIPs and the
/// fault count (not times, descriptors, interfaces' details or sockets).
fn instance_lines(data: &str) -> Vec<String> {
    const KEEP: &[&str] = &[
        " VRRP Instance = ",
        "   State = ",
        "   VRRP Version = ",
        "   Number of interface and track script faults = ",
        "   Virtual Router ID = ",
        "   Priority = ",
        "   Effective priority = ",
        "   Total priority = ",
        "   Advert interval = ",
    ];
    const LISTS: &[&str] = &[
        "   Tracked interfaces :",
        "   Tracked scripts :",
        "   Tracked files :",
        "   Tracked processes :",
        "   Virtual IP (",
        "   Virtual IP Excluded :",
    ];
    let mut out = Vec::new();
    let mut in_topology = false;
    let mut in_list = false;
    for l in data.lines() {
        if l.starts_with("------<") {
            in_topology = l.contains("VRRP Topology");
            continue;
        }
        if !in_topology {
            continue;
        }
        if l.starts_with("     ") && in_list {
            out.push(l.to_string());
            continue;
        }
        in_list = LISTS.iter().any(|p| l.starts_with(p));
        if in_list || KEEP.iter().any(|p| l.starts_with(p)) {
            out.push(l.to_string());
        }
    }
    out
}

/// A namespace `ns` as a director running `file` would be: its interfaces (veth pairs,
/// up), each with an IPv4 address of the test's own (198.18.K.1/24, a benchmarking range
/// that never leaves the namespace), and each instance's unicast_src_ip on its interface.
fn director_ns(ns: &str, file: &Path) {
    let ip = |args: &[&str]| {
        let _ = Command::new("ip").args(args).output();
    };
    ip(&["netns", "del", ns]);
    ip(&["netns", "add", ns]);
    ip(&["-n", ns, "link", "set", "lo", "up"]);
    for (k, name) in file_interfaces(file).iter().enumerate() {
        let peer = format!("lvsdpeer{k}");
        ip(&[
            "-n", ns, "link", "add", name, "type", "veth", "peer", "name", &peer,
        ]);
        ip(&[
            "-n",
            ns,
            "addr",
            "add",
            &format!("198.18.{k}.1/24"),
            "dev",
            name,
        ]);
        ip(&["-n", ns, "link", "set", name, "up"]);
        ip(&["-n", ns, "link", "set", &peer, "up"]);
    }
    for (iface, addr) in unicast_sources(file) {
        let len = if addr.contains(':') { 128 } else { 32 };
        ip(&[
            "-n",
            ns,
            "addr",
            "add",
            &format!("{addr}/{len}"),
            "dev",
            &iface,
            "nodad",
        ]);
    }
}

/// `keepalived -t` on `file`, now, in a namespace with the file's interfaces.
fn keepalived_now(file: &Path, tag: usize) -> Option<i32> {
    if !nix::unistd::geteuid().is_root() || Command::new("keepalived").arg("-v").output().is_err() {
        return None;
    }
    let ns = format!("lvsdrc-{}-{tag}", std::process::id());
    let ip = |args: &[&str]| Command::new("ip").args(args).output();
    ip(&["netns", "add", &ns]).ok()?;
    for name in file_interfaces(file) {
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

/// Starts `cmd` (a daemon's command line up to its options) on `file`, with its pid files
/// and dump directory in `work`, its output in `work/TAG.log`.
fn spawn_daemon(
    mut cmd: Command,
    file: &Path,
    work: &Path,
    tag: &str,
) -> (std::process::Child, PathBuf) {
    let log = work.join(format!("{tag}.log"));
    let out = std::fs::File::create(&log).unwrap();
    // Its own directory for the dump files (keepalived.data: `dump_dir`).
    let tmp = dump_dir(work, tag);
    std::fs::create_dir_all(&tmp).unwrap();
    let child = cmd
        .arg("-f")
        .arg(file)
        .arg("-p")
        .arg(work.join(format!("{tag}.pid")))
        .arg("-r")
        .arg(work.join(format!("{tag}.vrrp.pid")))
        .arg("-c")
        .arg(work.join(format!("{tag}.check.pid")))
        .env("TMPDIR", &tmp)
        .stdin(std::process::Stdio::null())
        .stdout(out.try_clone().unwrap())
        .stderr(out)
        .spawn()
        .expect("start a daemon");
    (child, log)
}

/// The daemon starts on every file `lvsd -t` passes (what keepalived runs): each file runs
/// as `lvsd -n` for a few seconds in a namespace holding its interfaces (veth pairs), stays
/// up, takes no side down for good and stops cleanly on SIGTERM. (This kernel may have no
/// IPVS: the LVS side then waits for it, which is what it must do.)
#[test]
fn lvsd_starts_on_what_keepalived_runs() {
    let Some(dir) = corpus_dir() else {
        return;
    };
    if root::skip_without_root("network namespaces") {
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let ip = |args: &[&str]| {
        let _ = Command::new("ip").args(args).output();
    };
    let mut failures = Vec::new();
    let mut started = 0;
    let files: Vec<(String, PathBuf)> = entries(&dir)
        .into_iter()
        .filter(|(_, path)| {
            Command::new(env!("CARGO_BIN_EXE_lvsd"))
                .args(["-t", "-f"])
                .arg(path)
                .output()
                .is_ok_and(|o| matches!(o.status.code(), Some(0 | 5 | 6)))
        })
        .collect();
    for (batch_no, batch) in files.chunks(12).enumerate() {
        let mut running = Vec::new();
        for (i, (key, path)) in batch.iter().enumerate() {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            // A file that names its own namespace runs there (lvsd enters it).
            let own_ns = text.lines().find_map(|l| {
                let mut w = l.split_whitespace();
                (w.next() == Some("net_namespace"))
                    .then(|| w.next().map(str::to_string))
                    .flatten()
            });
            let ns = own_ns
                .clone()
                .unwrap_or_else(|| format!("lvsdst-{}-{batch_no}-{i}", std::process::id()));
            director_ns(&ns, path);
            let mut cmd = Command::new("ip");
            cmd.args(["netns", "exec", &ns, env!("CARGO_BIN_EXE_lvsd")]);
            if own_ns.is_some() {
                // (lvsd enters the named namespace itself)
                cmd = Command::new(env!("CARGO_BIN_EXE_lvsd"));
            }
            cmd.args(["-n", "-l", "-G"]);
            let (child, log) = spawn_daemon(cmd, path, work.path(), &format!("{batch_no}-{i}"));
            running.push((key.clone(), ns, child, log));
        }
        std::thread::sleep(std::time::Duration::from_secs(4));
        for (key, ns, mut child, log) in running {
            let alive = child.try_wait().ok().flatten().is_none();
            if alive {
                started += 1;
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(child.id() as i32),
                    nix::sys::signal::Signal::SIGTERM,
                );
            }
            let status = child.wait();
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if !alive {
                failures.push(format!("{key}: lvsd exited at start ({status:?}):\n{text}"));
            } else if !status.as_ref().is_ok_and(|s| s.success()) {
                failures.push(format!(
                    "{key}: lvsd did not stop cleanly ({status:?}):\n{text}"
                ));
            } else if text.contains("VRRP side failed") || text.contains("panicked") {
                failures.push(format!("{key}: a side failed:\n{text}"));
            }
            ip(&["netns", "del", &ns]);
        }
    }
    eprintln!(
        "{started} of {} files started and stopped cleanly",
        files.len()
    );
    assert!(failures.is_empty(), "\n{}", failures.join("\n\n"));
}

/// The addresses a namespace holds beyond its links' own (IPv6 link-local left out):
/// `ifname addr/prefix` lines, sorted.
fn addresses(ns: &str) -> Vec<String> {
    let out = Command::new("ip")
        .args(["-n", ns, "-j", "addr", "show"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
        .unwrap_or_default();
    let v: serde_json::Value = serde_json::from_str(&out).unwrap_or_default();
    let mut got = Vec::new();
    for link in v.as_array().into_iter().flatten() {
        let name = link["ifname"].as_str().unwrap_or_default();
        for a in link["addr_info"].as_array().into_iter().flatten() {
            let local = a["local"].as_str().unwrap_or_default();
            // (the loopback, link-local and the test's own addresses)
            if name == "lo" || local.starts_with("fe80:") || local.starts_with("198.18.") {
                continue;
            }
            got.push(format!("{name} {local}/{}", a["prefixlen"]));
        }
    }
    got.sort();
    got
}

/// The same VRRP effect: each file runs alone under keepalived in one namespace and under
/// lvsd in another (the VRRP side, `-P`), both holding its interfaces; after the instances
/// have settled (a master-down interval and more) both namespaces hold the same addresses,
/// and both daemons' keepalived.data (SIGUSR1) say the same of each instance: state,
/// priorities, trackers and their weights, VIPs ([`instance_lines`]).
#[test]
fn lvsd_and_keepalived_hold_the_same_addresses() {
    let Some(dir) = corpus_dir() else {
        return;
    };
    if root::skip_without_root("network namespaces") {
        return;
    }
    if Command::new("keepalived").arg("-v").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "CI runs with keepalived");
        eprintln!("SKIP: needs Debian's keepalived");
        return;
    }
    let work = tempfile::tempdir().unwrap();
    let ip = |args: &[&str]| {
        let _ = Command::new("ip").args(args).output();
    };
    let wrong = listed_wrong(&dir);
    let files: Vec<(String, PathBuf)> = entries(&dir)
        .into_iter()
        .filter(|(key, path)| {
            let text = std::fs::read_to_string(path).unwrap_or_default();
            // Left out: a file that names its own namespace (it would put both daemons in
            // it); one that runs the IPVS sync daemon (keepalived's VRRP process stops
            // for good without IPVS, which this kernel may lack); one listed as wrong.
            !text
                .lines()
                .any(|l| l.trim_start().starts_with("net_namespace"))
                && !text.contains("lvs_sync_daemon")
                && !is_listed(&wrong, key)
                && Command::new(env!("CARGO_BIN_EXE_lvsd"))
                    .args(["-t", "-f"])
                    .arg(path)
                    .output()
                    .is_ok_and(|o| matches!(o.status.code(), Some(0 | 5 | 6)))
        })
        .collect();
    let mut differ = Vec::new();
    let mut with_vips = 0;
    let mut dumps_differ = Vec::new();
    let mut compared_dumps = 0;
    for (batch_no, batch) in files.chunks(10).enumerate() {
        let mut running = Vec::new();
        for (i, (key, path)) in batch.iter().enumerate() {
            for (side, prog) in [("k", "keepalived"), ("l", env!("CARGO_BIN_EXE_lvsd"))] {
                let ns = format!("lvsdeq{side}-{}-{batch_no}-{i}", std::process::id());
                director_ns(&ns, path);
                let mut cmd = Command::new("ip");
                // (VRRP only: without IPVS, keepalived's checker process fails and takes
                // the whole daemon down)
                cmd.args(["netns", "exec", &ns, prog, "-P", "-n", "-l"]);
                let tag = format!("{side}-{batch_no}-{i}");
                let (child, _) = spawn_daemon(cmd, path, work.path(), &tag);
                running.push((key.clone(), side, ns, child, tag));
            }
        }
        // Settled: with keepalived's default advert_int 1 s, master down within about 3.6 s;
        // `state MASTER` takes over after one interval (advert_int 5: 5.004 s), a BACKUP
        // after three and the skew (advert_int 2: 6.6 s, 3: 9.6 s). 8 s is clear of both
        // by more than either daemon's start-up time.
        std::thread::sleep(std::time::Duration::from_secs(8));
        let mut held: std::collections::BTreeMap<String, [Vec<String>; 2]> = Default::default();
        for (key, side, ns, _, _) in &running {
            held.entry(key.clone()).or_default()[usize::from(*side == "l")] = addresses(ns);
        }
        // Then what each says of its instances (SIGUSR1: keepalived.data).
        for (_, _, _, _, tag) in &running {
            if let Some(pid) = std::fs::read_to_string(work.path().join(format!("{tag}.pid")))
                .ok()
                .and_then(|p| p.trim().parse::<i32>().ok())
            {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGUSR1,
                );
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(1500));
        let mut said: std::collections::BTreeMap<String, [Vec<String>; 2]> = Default::default();
        for (key, side, _, _, tag) in &running {
            let data = std::fs::read_to_string(dump_dir(work.path(), tag).join("keepalived.data"))
                .unwrap_or_default();
            said.entry(key.clone()).or_default()[usize::from(*side == "l")] = instance_lines(&data);
        }
        for (_, _, ns, mut child, _) in running {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(child.id() as i32),
                nix::sys::signal::Signal::SIGTERM,
            );
            let _ = child.wait();
            ip(&["netns", "del", &ns]);
        }
        for (key, [k, l]) in held {
            if !k.is_empty() {
                with_vips += 1;
            }
            if k != l {
                differ.push(format!("{key}:\n  keepalived: {k:?}\n  lvsd:       {l:?}"));
            }
        }
        for (key, [k, l]) in said {
            if k.is_empty() {
                continue; // (keepalived's VRRP process wrote nothing)
            }
            compared_dumps += 1;
            if k != l {
                let only_k: Vec<&String> = k.iter().filter(|x| !l.contains(x)).collect();
                let only_l: Vec<&String> = l.iter().filter(|x| !k.contains(x)).collect();
                dumps_differ.push(format!(
                    "{key} (keepalived.data):\n  only keepalived: {only_k:?}\n  only lvsd:       {only_l:?}"
                ));
            }
        }
    }
    eprintln!(
        "{} files compared, {with_vips} with addresses under keepalived, \
         {compared_dumps} with keepalived.data",
        files.len()
    );
    differ.extend(dumps_differ);
    assert!(differ.is_empty(), "\n{}", differ.join("\n"));
}
