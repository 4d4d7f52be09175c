//! Real-kernel IPVS tests: each boots Debian's kernel (IPVS as modules) under qemu through
//! scripts/vm/run.sh and checks what the guest wrote back on the 9p share.
//! Needs root and the packages of scripts/install-test-deps.sh (run.sh installs them and
//! fetches the kernel and qemu with `apt-get download`); fails with the rig's message if
//! anything is missing.

use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "support/root.rs"]
mod root;
#[path = "support/shared.rs"]
mod shared;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs GUEST_SCRIPT in a fresh VM; returns (exit code, result dir).
fn run_vm(name: &str, script: &str, args: &[&str]) -> (i32, PathBuf) {
    run_vm_with(name, script, args, |_| {})
}

/// As `run_vm`, with `stage` first filling the result dir (the guest's /mnt).
fn run_vm_with(
    name: &str,
    script: &str,
    args: &[&str],
    stage: impl FnOnce(&Path),
) -> (i32, PathBuf) {
    let res = root().join("target/vm-results").join(name);
    let _ = std::fs::remove_dir_all(&res);
    std::fs::create_dir_all(&res).unwrap();
    stage(&res);
    let bins = [env!("CARGO_BIN_EXE_lvsd"), env!("CARGO_BIN_EXE_lvsd-ipvs")].join(" ");
    let st = Command::new("bash")
        .arg(root().join("scripts/vm/run.sh"))
        .arg(script)
        .arg(&res)
        .args(args)
        .env("LVSD_BINS", bins)
        .status()
        .expect("cannot run scripts/vm/run.sh");
    (st.code().unwrap_or(-1), res)
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
}

/// (a) the client itself: every kind of service and destination, edits, deletes, errors
/// mapped to their op inside a batch, timeouts, sync daemon, zero, flush. Each step is
/// checked in the guest against a model of the table (SELFTEST lines); the `ipvsadm -S -n`
/// text after each step must equal tests/vm/expected/selftest/ (checked by hand against
/// the operations of src/bin/lvsd-ipvs/tool.rs).
#[test]
fn client_against_real_kernel() {
    if root::skip_without_root("the qemu rig") {
        return;
    }
    let (rc, res) = run_vm("selftest", "selftest.sh", &[]);
    let out = read(&res.join("selftest/output.txt"));
    let fails: Vec<&str> = out.lines().filter(|l| l.contains(": FAIL")).collect();
    assert!(fails.is_empty(), "failed steps:\n{}", fails.join("\n"));
    assert!(
        out.contains("SELFTEST done: 0 failures"),
        "selftest did not finish:\n{out}"
    );
    assert_eq!(rc, 0, "guest script exit code");
    let exp_dir = root().join("tests/vm/expected/selftest");
    let mut compared = 0;
    for e in std::fs::read_dir(&exp_dir).unwrap() {
        let e = e.unwrap().path();
        let name = e.file_name().unwrap();
        let got = read(&res.join("selftest").join(name));
        let mut got: Vec<&str> = got.lines().collect();
        got.sort();
        let want = read(&e);
        let mut want: Vec<&str> = want.lines().collect();
        want.sort();
        assert_eq!(got, want, "ipvsadm -S -n after step {}", e.display());
        compared += 1;
    }
    assert!(
        compared >= 5,
        "expected files missing in {}",
        exp_dir.display()
    );
    traffic_checks(&res.join("selftest"));
    // the listing of lvsd-ipvs (same code as `lvsd -L`) shows the TUN dests and the mh flag
    let listing = read(&res.join("selftest/listing.txt"));
    assert!(listing.contains("Tunnel"), "{listing}");
    assert!(listing.contains("FWM  7 mh (mh-port)"), "{listing}");
}

fn normalized(p: &Path) -> Vec<String> {
    read(p)
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect()
}

/// Traffic through IPVS NAT (tests/vm/traffic.sh): answers only from the real servers,
/// 64-bit counters and listings equal to ipvsadm's, zero clears them.
fn traffic_checks(dir: &Path) {
    let answers = read(&dir.join("traffic-answers.txt"));
    let lines: Vec<&str> = answers.lines().collect();
    assert_eq!(lines.len(), 20, "answers:\n{answers}");
    assert!(
        lines.iter().all(|l| *l == "rs2" || *l == "rs3"),
        "{answers}"
    );
    assert!(
        lines.contains(&"rs2") && lines.contains(&"rs3"),
        "rr used one server: {answers}"
    );
    let ours = normalized(&dir.join("traffic-lvsd-stats.txt"));
    let theirs = normalized(&dir.join("traffic-ipvsadm-stats.txt"));
    assert_eq!(
        ours, theirs,
        "stats listing differs from ipvsadm --stats --exact"
    );
    let svc = ours
        .iter()
        .find(|l| l.starts_with("TCP 10.251.1.1:80"))
        .expect("service line");
    let f: Vec<u64> = svc.split(' ').skip(2).map(|x| x.parse().unwrap()).collect();
    assert_eq!(f[0], 20, "connections: {svc}");
    assert!(
        f[1] >= 20 * 4 && f[2] >= 20 * 4 && f[3] > 0 && f[4] > 0,
        "{svc}"
    );
    assert_eq!(
        normalized(&dir.join("traffic-lvsd-list.txt")),
        normalized(&dir.join("traffic-ipvsadm-list.txt")),
        "lvsd listing differs from ipvsadm -Ln"
    );
    let zeroed = normalized(&dir.join("traffic-lvsd-zeroed.txt"));
    assert_eq!(zeroed, normalized(&dir.join("traffic-ipvsadm-zeroed.txt")));
    for l in zeroed
        .iter()
        .filter(|l| l.starts_with("TCP") || l.starts_with("->"))
    {
        assert!(l.split(' ').skip(2).all(|x| x == "0"), "not zeroed: {l}");
    }
}

/// (b) the table lvsd programs equals keepalived's for every config of tests/vm/configs.
/// Needs lvsd's LVS side (`lvsd -C`, branches lvs + checkers).
#[test]

fn corpus_lvsd_matches_keepalived() {
    if root::skip_without_root("the qemu rig") {
        return;
    }
    let (rc, res) = run_vm("corpus", "corpus.sh", &[]);
    assert_eq!(rc, 0, "guest script exit code");
    let mut configs: Vec<PathBuf> = std::fs::read_dir(root().join("tests/vm/configs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    configs.sort();
    assert!(configs.len() >= 10);
    let mut bad = Vec::new();
    for c in configs {
        let n = c.file_stem().unwrap().to_string_lossy().to_string();
        // (06-persistence-netmask's second virtual server has no `protocol` line: UDP in
        // keepalived 2.2.7, and in lvsd since it follows keepalived there.)
        let ka = read(&res.join(format!("corpus/{n}.keepalived.txt")));
        let lv = read(&res.join(format!("corpus/{n}.lvsd.txt")));
        assert!(
            ka.lines().any(|l| l.starts_with("-A ")),
            "{n}: keepalived programmed nothing:\n{ka}"
        );
        if ka != lv {
            bad.push(format!("== {n}\n-- keepalived:\n{ka}-- lvsd:\n{lv}"));
        }
    }
    assert!(bad.is_empty(), "tables differ:\n{}", bad.join("\n"));
}

/// (c) lvsd -C with HTTP_GET checkers (delay_loop 1, connect_timeout 1, retry 1) against
/// busybox httpd real servers in a netns of the guest (tests/vm/checkers.sh): a stopped
/// server leaves the table (weight 0 where inhibit_on_failure), comes back when restarted,
/// the sorry server stands in when all are down, and a client fetching the VIP through
/// IPVS NAT only ever gets answers from live servers.
#[test]
fn checkers_drive_the_table() {
    if root::skip_without_root("the qemu rig") {
        return;
    }
    let (rc, res) = run_vm("checkers", "checkers.sh", &[]);
    let dir = res.join("checkers");
    let events = read(&dir.join("events.txt"));
    assert_eq!(rc, 0, "guest script exit code; events:\n{events}");
    // seconds from the action (server stopped/started) to the table change
    let time_of = |name: &str| -> f64 {
        let line = events
            .lines()
            .find(|l| l.starts_with(&format!("EVENT {name} ")))
            .unwrap_or_else(|| panic!("no event {name}:\n{events}"));
        let v = line.rsplit(' ').next().unwrap();
        v.parse()
            .unwrap_or_else(|_| panic!("{name}: {v}; table:\n{}", table_of(&dir, name)))
    };
    // delay_loop 1 + connect_timeout 1 + retry 1 x (delay_before_retry 1 + connect_timeout
    // 1), plus slack for a TCG guest and the 0.1 s polling
    let bound = 1.0 + 1.0 + 2.0 + 2.5;
    for name in [
        "start",
        "rs2_stopped",
        "rs2_restarted",
        "all_stopped",
        "all_restarted",
    ] {
        let t = time_of(name);
        println!("checkers: {name} took {t:.2} s");
        if name != "start" {
            assert!(
                t <= bound,
                "{name} took {t} s > {bound} s; table:\n{}",
                table_of(&dir, name)
            );
        }
    }
    assert!(
        events.contains("LVSD-EXIT 0"),
        "lvsd exit status:\n{events}"
    );
    let answers = |phase: &str| -> Vec<String> {
        let a = read(&dir.join(format!("answers-{phase}.txt")));
        a.lines().map(str::to_string).collect()
    };
    let only = |phase: &str, allowed: &[&str], all_needed: bool| {
        let a = answers(phase);
        assert_eq!(a.len(), 20, "{phase}: {a:?}");
        assert!(
            a.iter().all(|x| allowed.contains(&x.as_str())),
            "{phase}: answer from a server not live: {a:?}"
        );
        if all_needed {
            for s in allowed {
                assert!(
                    a.iter().any(|x| x == s),
                    "{phase}: {s} never answered: {a:?}"
                );
            }
        }
    };
    only("start", &["rs2", "rs3"], true);
    only("rs2_stopped", &["rs3"], true);
    only("rs2_restarted", &["rs2", "rs3"], true);
    only("all_stopped", &["sorry"], true);
    only("all_restarted", &["rs2", "rs3"], true);
    // -C without --dont-release-ipvs: lvsd removes its services on exit, and only its own
    let after = read(&dir.join("table-after-exit.txt"));
    let left: Vec<&str> = after.lines().filter(|l| l.starts_with("-A ")).collect();
    assert_eq!(left, ["-A -t 10.251.9.9:80 -s wlc"], "after exit:\n{after}");
    // `lvsd -L` lists the configured services with their live destinations, not the
    // foreign one
    let list = read(&dir.join("list-managed.txt"));
    assert!(list.contains("TCP  10.251.1.1:80 rr"), "{list}");
    assert!(list.contains("TCP  10.251.1.1:81"), "{list}");
    assert!(list.contains("-> 10.252.0.2:80"), "{list}");
    assert!(list.contains("-> 10.252.0.3:80"), "{list}");
    assert!(
        !list.contains("10.251.9.9"),
        "foreign service listed:\n{list}"
    );
}

/// (issue 3) `lvs_sync_daemon` follows the VRRP state: lvsd -P against a keepalived peer
/// in the guest runs the backup sync daemon while BACKUP, the master one while MASTER,
/// the backup one again after the peer preempts, and none after it exits.
#[test]
fn sync_daemon_follows_vrrp_state() {
    if root::skip_without_root("the qemu rig") {
        return;
    }
    let (rc, res) = run_vm("syncd", "syncd.sh", &[]);
    let dir = res.join("syncd");
    let events = read(&dir.join("events.txt"));
    let log = std::fs::read_to_string(dir.join("lvsd.log")).unwrap_or_default();
    assert_eq!(rc, 0, "guest script; events:\n{events}\nlvsd log:\n{log}");
    for step in ["peer_up", "backup", "master", "backup_again", "stopped"] {
        assert!(
            events
                .lines()
                .any(|l| l.starts_with(&format!("EVENT {step} ")) && !l.ends_with("TIMEOUT")),
            "step {step} not reached:\n{events}"
        );
    }
    assert!(events.contains("LVSD-EXIT 0"), "{events}");
    let daemons = |name: &str| read(&dir.join(format!("daemon-{name}.txt")));
    for (name, role) in [
        ("backup", "backup"),
        ("master", "master"),
        ("backup_again", "backup"),
    ] {
        let d = daemons(name);
        let lines: Vec<&str> = d.lines().collect();
        assert_eq!(lines.len(), 1, "{name}: one daemon expected:\n{d}");
        assert!(
            lines[0].starts_with(&format!("{role} sync daemon (mcast=lvs0, syncid=61")),
            "{name}: {d}"
        );
    }
    assert_eq!(daemons("stopped").trim(), "", "sync daemon left after exit");
}

fn table_of(dir: &Path, name: &str) -> String {
    std::fs::read_to_string(dir.join(format!("table-{name}.txt"))).unwrap_or_default()
}

/// ../shared/real-configs (LVSD_REAL_CONFIGS overrides), when present.
fn real_configs_dir() -> Option<PathBuf> {
    shared::dir("real-configs", Some("LVSD_REAL_CONFIGS"))
}

/// Real files keepalived runs that lvsd refuses on purpose (as tests/real_configs.rs).
const REAL_REFUSED_ON_PURPOSE: &[&str] = &["038-pq1715-http-misc-syncd.conf"];

/// (file, phase, reason): real files whose tables differ for a reason that is not lvsd's.
const REAL_TABLE_EXCEPTIONS: &[(&str, &str, &str)] = &[];

/// The dump test's timing edits, the same for both daemons: connect_timeout at most 5 s,
/// delay_before_retry at most 1 s, warmup 0 (keepalived draws the first check's time at
/// random within it).
fn shorten_timings(text: &str) -> String {
    set_timings(
        text,
        &[
            ("connect_timeout", 5.0),
            ("delay_before_retry", 1.0),
            ("warmup", 0.0),
        ],
        None,
    )
}

/// The real corpus's timing edits, the same for both daemons: every connecting checker
/// gets connect_timeout `PENDING_CONNECT_TIMEOUT` (written at its opening brace, and any
/// value of the file's replaced), so no check can end while the phase "start" is read,
/// however slow the guest; delay_before_retry at most 1 s and warmup 0, so that once the
/// routes go every server fails within `PENDING_CONNECT_TIMEOUT` + its retries.
fn pending_timings(text: &str) -> String {
    let t = PENDING_CONNECT_TIMEOUT;
    set_timings(
        text,
        &[
            ("connect_timeout", t),
            ("delay_before_retry", 1.0),
            ("warmup", 0.0),
        ],
        Some(t),
    )
}

/// connect_timeout of every check in the real corpus (s); the guest waits
/// `REAL_CONVERGE_WAIT` after the routes go.
const PENDING_CONNECT_TIMEOUT: f64 = 20.0;
const REAL_CONVERGE_WAIT: &str = "40";

/// Each `keyword value` of `caps` lowered to its cap (connect_timeout set to `floor` when
/// given, whether lower or higher); with `floor`, each connecting checker's opening brace
/// also gets `connect_timeout floor`, for the checks that use the default.
fn set_timings(text: &str, caps: &[(&str, f64)], floor: Option<f64>) -> String {
    const CONNECTING: &[&str] = &[
        "TCP_CHECK",
        "HTTP_GET",
        "SSL_GET",
        "SMTP_CHECK",
        "DNS_CHECK",
        "UDP_CHECK",
        "PING_CHECK",
    ];
    let mut out = String::new();
    for line in text.split_inclusive('\n') {
        let words: Vec<&str> = line.split_whitespace().collect();
        let capped = caps.iter().find_map(|(k, max)| {
            let v: f64 = words.get(1)?.parse().ok()?;
            let rest = words[2..].join(" ");
            let forced = *k == "connect_timeout" && floor.is_some();
            (words.first() == Some(k) && (v > *max || forced))
                .then(|| format!("{k} {max} {rest}\n"))
        });
        let opened = floor.filter(|_| {
            CONNECTING.iter().any(|c| line.trim_start().starts_with(c)) && line.contains('{')
        });
        match (capped, opened) {
            (Some(c), _) => out.push_str(&c),
            (None, Some(t)) => {
                let at = line.find('{').map_or(line.len(), |k| k + 1);
                out.push_str(&line[..at]);
                out.push_str(&format!(" connect_timeout {t} "));
                out.push_str(&line[at..]);
            }
            (None, None) => out.push_str(line),
        }
    }
    out
}

/// Copies `from` (a file or a tree) to `to` with `edit` applied to each file.
fn stage_copy(from: &Path, to: &Path, edit: fn(&str) -> String) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            stage_copy(&e.path(), &to.join(e.file_name()), edit);
        }
    } else {
        let bytes = std::fs::read(from).unwrap();
        let text = String::from_utf8_lossy(&bytes);
        std::fs::write(to, edit(&text)).unwrap();
    }
}

/// The real files to run: those with a virtual_server that keepalived 2.2.7 runs (its
/// recorded `-t` exit 0, 5 or 6), not listed as really wrong (EXPECT-REFUSE) nor refused
/// by lvsd on purpose; each as the path `lvsd -f` takes (a tree's keepalived.conf).
fn real_lvs_files(dir: &Path) -> Vec<(String, PathBuf)> {
    let text =
        |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned();
    let wrong: Vec<String> = text(&dir.join("EXPECT-REFUSE"))
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_whitespace().next())
        .map(|f| f.trim_end_matches("/keepalived.conf").to_string())
        .collect();
    let runs: Vec<String> = text(&dir.join("KEEPALIVED-RESULTS.tsv"))
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let mut f = l.split('\t');
            let (name, code) = (f.next()?, f.next()?.trim());
            matches!(code, "0" | "5" | "6")
                .then(|| name.trim_end_matches("/keepalived.conf").to_string())
        })
        .collect();
    let has_vs = |p: &Path| -> bool {
        let files: Vec<PathBuf> = if p.is_dir() {
            walk(p)
        } else {
            vec![p.to_path_buf()]
        };
        files.iter().any(|f| {
            text(f)
                .lines()
                .any(|l| l.split_whitespace().next() == Some("virtual_server"))
        })
    };
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        let name = p.file_name().unwrap().to_string_lossy().to_string();
        let rel = if p.is_dir() && p.join("keepalived.conf").is_file() {
            format!("{name}/keepalived.conf")
        } else if name.ends_with(".conf") {
            name.clone()
        } else {
            continue;
        };
        if wrong.contains(&name)
            || REAL_REFUSED_ON_PURPOSE.contains(&name.as_str())
            || !runs.contains(&name)
            || !has_vs(&p)
        {
            continue;
        }
        out.push((rel, p));
    }
    out.sort();
    out
}

fn walk(d: &Path) -> Vec<PathBuf> {
    let mut v = Vec::new();
    for e in std::fs::read_dir(d).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            v.extend(walk(&p));
        } else {
            v.push(p);
        }
    }
    v
}

/// (d) operators' files (../shared/real-configs; tests/vm/real-corpus.sh): for every file
/// with virtual servers that keepalived runs, keepalived -C and lvsd -C on the same copy,
/// each in its own netns of one guest, program the same IPVS table (`ipvsadm -S -n`,
/// sorted) right after the start (checks still pending: their connects hang on a
/// black-hole route) and once every check has failed (route removed). The copy's timings
/// are `pending_timings`', the same for both daemons.
#[test]
fn real_corpus_lvsd_matches_keepalived() {
    let Some(dir) = real_configs_dir() else {
        return;
    };
    let files = real_lvs_files(&dir);
    assert!(
        files.len() >= 20,
        "only {} real files selected",
        files.len()
    );
    for (rel, _) in &files {
        let out = Command::new(env!("CARGO_BIN_EXE_lvsd"))
            .args(["-t", "-f"])
            .arg(dir.join(rel))
            .output()
            .unwrap();
        assert!(
            matches!(out.status.code(), Some(0 | 5 | 6)),
            "{rel}: lvsd -t refuses a file keepalived runs:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (rc, res) = run_vm_with(
        "real-corpus",
        "real-corpus.sh",
        &[REAL_CONVERGE_WAIT],
        |res| {
            let input = res.join("real/in");
            std::fs::create_dir_all(&input).unwrap();
            let mut list = String::new();
            for (rel, p) in &files {
                let name = p.file_name().unwrap();
                stage_copy(p, &input.join(name), pending_timings);
                list.push_str(rel);
                list.push('\n');
            }
            std::fs::write(input.join("LIST"), list).unwrap();
        },
    );
    assert_eq!(rc, 0, "guest script exit code");
    let out = res.join("real/out");
    eprintln!(
        "{}",
        std::fs::read_to_string(out.join("times.txt")).unwrap_or_default()
    );
    let mut bad = Vec::new();
    let mut equal = 0;
    let mut excepted = 0;
    for (rel, _) in &files {
        let n = rel.split('/').next().unwrap().trim_end_matches(".conf");
        let mut same = true;
        for phase in ["start", "converged"] {
            let ka = read(&out.join(format!("{n}.keepalived.{phase}.txt")));
            let lv = read(&out.join(format!("{n}.lvsd.{phase}.txt")));
            assert!(
                ka.lines().any(|l| l.starts_with("-A ")),
                "{n}: keepalived programmed nothing ({phase}):\n{ka}\nlog:\n{}",
                read(&out.join(format!("{n}.keepalived.log")))
            );
            if ka == lv {
                continue;
            }
            same = false;
            if let Some((_, _, why)) = REAL_TABLE_EXCEPTIONS
                .iter()
                .find(|(f, p, _)| n.starts_with(f.trim_end_matches(".conf")) && *p == phase)
            {
                eprintln!("{n} ({phase}): differs, named exception: {why}");
                excepted += 1;
                continue;
            }
            let ka: Vec<&str> = ka.lines().collect();
            let lv: Vec<&str> = lv.lines().collect();
            let only_ka: Vec<&&str> = ka.iter().filter(|l| !lv.contains(l)).collect();
            let only_lv: Vec<&&str> = lv.iter().filter(|l| !ka.contains(l)).collect();
            bad.push(format!(
                "== {n} ({phase})\n-- only keepalived:\n{}\n-- only lvsd:\n{}",
                only_ka
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()
                    .join("\n"),
                only_lv
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()
                    .join("\n")
            ));
        }
        if same {
            equal += 1;
        }
    }
    eprintln!(
        "{} real files compared: {equal} equal in both phases, {excepted} named exceptions",
        files.len()
    );
    assert!(bad.is_empty(), "tables differ:\n{}", bad.join("\n"));
}

/// Real files with different checker kinds for `checker_dump_matches_keepalived`.
const DUMP_REAL_FILES: &[&str] = &[
    "003-kad-ping-check.conf",
    "004-kad-smtp-check.conf",
    "006-kad-udp-check.conf",
    "041-pq1462-dns-check.conf",
];

/// Files whose "Health checkers" section is left out of the comparison, with the reason.
const DUMP_EXCEPTIONS: &[(&str, &str)] = &[(
    "004-kad-smtp-check",
    "keepalived 2.2.7 gives an SMTP_CHECK `host` without its own connect_timeout a timeout \
     of 0 (`Timeout 0.000000`: every check times out at once); lvsd gives it the block's",
)];

/// keepalived_check.data with what differs from run to run masked: the checkers' and
/// servers' live state (the tables are compared by the tests above; keepalived's first
/// check falls at random within the delay loop), retry counters, errno, run times, and
/// the lines that describe keepalived's build (nftables).
fn mask_check_data(text: &str) -> Vec<String> {
    const STATE: &[&str] = &[
        "Up = ",
        "Has run = ",
        "alive = ",
        "quorum_state_up = ",
        "num failed checkers = ",
        "RS set = ",
        "Retries iterations = ",
    ];
    const DROPPED: &[&str] = &[
        "Last errno = ",
        "Failed URL = ",
        "Last ran = ",
        "Last status = ",
        "nftables",
        "libnftnl",
    ];
    text.lines()
        .filter(|l| !DROPPED.iter().any(|d| l.trim_start().starts_with(d)))
        .map(|l| {
            let t = l.trim_start();
            match STATE.iter().find(|p| t.starts_with(*p)) {
                Some(p) => format!("{}{p}<state>", &l[..l.len() - t.len()]),
                None => l.to_string(),
            }
        })
        .collect()
}

/// (e) keepalived_check.data (SIGUSR1, tests/vm/check-dump.sh): keepalived -C and lvsd -C
/// on tests/vm/checkers.conf, tests/vm/checker-options.conf and on real files with PING, SMTP, UDP and DNS checkers, each
/// in its own netns with every real server unreachable, write the same file (live state,
/// counters and times masked: `mask_check_data`).
#[test]
fn checker_dump_matches_keepalived() {
    let real = real_configs_dir();
    if real.is_none() {
        eprintln!("(tests/vm/checkers.conf and checker-options.conf only)");
    }
    let mut files = vec![
        root().join("tests/vm/checkers.conf"),
        root().join("tests/vm/checker-options.conf"),
    ];
    if let Some(d) = &real {
        files.extend(DUMP_REAL_FILES.iter().map(|f| d.join(f)));
    }
    let (rc, res) = run_vm_with("check-dump", "check-dump.sh", &["12"], |res| {
        let input = res.join("dump/in");
        std::fs::create_dir_all(&input).unwrap();
        let mut list = String::new();
        for p in &files {
            let name = p.file_name().unwrap();
            stage_copy(p, &input.join(name), shorten_timings);
            list.push_str(&name.to_string_lossy());
            list.push('\n');
        }
        std::fs::write(input.join("LIST"), list).unwrap();
    });
    assert_eq!(rc, 0, "guest script exit code");
    let out = res.join("dump/out");
    let mut bad = Vec::new();
    for p in &files {
        let n = p.file_stem().unwrap().to_string_lossy().to_string();
        let mut ka = mask_check_data(&read(&out.join(format!("{n}.keepalived.data"))));
        let mut lv = mask_check_data(&read(&out.join(format!("{n}.lvsd.data"))));
        if let Some((_, why)) = DUMP_EXCEPTIONS.iter().find(|(f, _)| *f == n) {
            eprintln!("{n}: Health checkers not compared: {why}");
            for v in [&mut ka, &mut lv] {
                if let Some(k) = v
                    .iter()
                    .position(|l| l.starts_with("------< Health checkers"))
                {
                    v.truncate(k);
                }
            }
        }
        assert!(ka.len() > 10, "{n}: keepalived's file is short: {ka:?}");
        if let Some(at) = (0..ka.len().max(lv.len())).find(|&k| ka.get(k) != lv.get(k)) {
            let from = at.saturating_sub(3);
            let show = |v: &[String]| v[from.min(v.len())..(at + 6).min(v.len())].join("\n");
            bad.push(format!(
                "== {n}: first difference at line {}\n-- keepalived:\n{}\n-- lvsd:\n{}",
                at + 1,
                show(&ka),
                show(&lv)
            ));
        }
    }
    assert!(
        bad.is_empty(),
        "keepalived_check.data differs:\n{}",
        bad.join("\n")
    );
}

/// (issue 16) `lvsd ctl` against lvsd -C on the real kernel (tests/vm/ctl.sh): `plan` of a
/// weight change lists the operation and applies nothing; `drain` of a real server holding
/// a connection sets weight 0 and removes it only once the connection has ended;
/// `disable` / `enable` take a real server out and back; the socket goes with lvsd; the
/// metrics endpoint shows the kernel's connection counter of the held connection.
#[test]
fn ctl_plan_drain_disable_in_the_guest() {
    let (rc, res) = run_vm("ctl", "ctl.sh", &[]);
    let dir = res.join("ctl");
    let events = read(&dir.join("events.txt"));
    let log = std::fs::read_to_string(dir.join("lvsd.log")).unwrap_or_default();
    assert_eq!(
        rc, 0,
        "guest script exit code; events:\n{events}\nlog:\n{log}"
    );
    let plan = read(&dir.join("plan.txt"));
    assert!(events.contains("PLAN-EXIT 0"), "{events}\n{plan}");
    assert!(
        plan.contains("set real server 10.252.0.2:80 in tcp:10.251.1.1:81: weight 2 -> 3"),
        "{plan}"
    );
    assert!(events.contains("PLAN-APPLIED-NOTHING"), "{events}");
    let conns = read(&dir.join("conns-before-drain.txt"));
    assert!(
        conns
            .lines()
            .any(|l| l.contains("10.252.0.2:80") && l.split_whitespace().nth(4) == Some("1")),
        "the held connection is not active:\n{conns}"
    );
    let secs = |name: &str| -> f64 {
        events
            .lines()
            .find_map(|l| l.strip_prefix(&format!("EVENT {name} ")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name}: {events}"))
    };
    // The connection is held about 5 s more after the drain starts.
    let drained = secs("drained");
    println!(
        "ctl: weight 0 after {:.2} s, drained {drained:.2} s later",
        secs("drain_w0")
    );
    assert!(
        drained >= 2.0,
        "removed while its connection was active: {events}"
    );
    // The scrape while the connection was held: the kernel's counters of the real kernel.
    let metrics = read(&dir.join("metrics.txt"));
    assert!(metrics.starts_with("HTTP/1.1 200 OK"), "{metrics}");
    let conns = metrics
        .lines()
        .find_map(|l| {
            l.strip_prefix(
                "keepalived_lvs_rs_conn{addr=\"10.252.0.2:80\",proto=\"tcp\",vip=\"10.251.1.1:81\"} ",
            )
        })
        .and_then(|v| v.parse::<f64>().ok());
    assert!(conns.is_some_and(|n| n >= 1.0), "{metrics}");
    assert!(
        metrics.contains("\nlvsd_real_server_checks_total{"),
        "{metrics}"
    );
    let state = read(&dir.join("state.json"));
    let v: serde_json::Value = serde_json::from_str(&state).expect(&state);
    let rs = &v["lvs"]["virtual_servers"][1]["real_servers"][0];
    assert_eq!(rs["admin"], "draining", "{state}");
    secs("disabled");
    secs("enabled");
    assert!(events.contains("LVSD-EXIT 0"), "{events}");
    assert!(events.contains("SOCKET-REMOVED"), "{events}");
}

/// (issue 17) The table heals on the real kernel (tests/vm/heal.sh): under lvsd -C with
/// `--ipvs-heal-interval 2`, `ipvsadm -d` of a real server, `-e` of a weight, `-D` of a
/// service and `-C` of everything are each put back within the interval (plus slack for a
/// TCG guest); someone else's service and real server survive the heals, and after `-C`
/// lvsd recreates only its own entries. The log names the drift it found.
#[test]
fn the_table_heals_after_ipvsadm_in_the_guest() {
    if root::skip_without_root("the qemu rig") {
        return;
    }
    let (rc, res) = run_vm("heal", "heal.sh", &[]);
    let dir = res.join("heal");
    let events = read(&dir.join("events.txt"));
    let log = std::fs::read_to_string(dir.join("lvsd.log")).unwrap_or_default();
    assert_eq!(
        rc, 0,
        "guest script exit code; events:\n{events}\nlog:\n{log}"
    );
    for name in ["after_d", "after_e", "after_D", "after_C"] {
        let secs: f64 = events
            .lines()
            .find_map(|l| l.strip_prefix(&format!("EVENT {name} ")))
            .and_then(|v| v.parse().ok())
            .unwrap_or_else(|| panic!("{name}: {events}\n{log}"));
        println!("heal: {name} healed in {secs:.2} s");
        assert!(secs <= 2.0 + 2.5, "{name} took {secs} s\n{log}");
    }
    assert!(events.contains("KEPT-FOREIGN"), "{events}");
    assert!(events.contains("FOREIGN-NOT-RECREATED"), "{events}");
    assert!(events.contains("LVSD-EXIT 0"), "{events}");
    for line in [
        "IPVS table drift: 1 real servers lvsd manages were missing",
        "IPVS table drift: 1 real servers had been changed",
        "IPVS table drift: 1 virtual services lvsd manages were missing",
        "IPVS table drift: 2 virtual services lvsd manages were missing",
        "IPVS table drift: 3 real servers lvsd manages were missing",
    ] {
        assert!(log.contains(line), "no `{line}` in the log:\n{log}");
    }
}

/// The EVENT lines of a guest script (without the `EVENT `).
fn events(dir: &Path) -> Vec<String> {
    read(&dir.join("events.txt"))
        .lines()
        .filter_map(|l| l.strip_prefix("EVENT "))
        .map(str::to_string)
        .collect()
}

/// The one event starting with `head` (e.g. `doctor step=ip_forward `).
fn event<'a>(ev: &'a [String], head: &str) -> &'a str {
    let hits: Vec<&String> = ev.iter().filter(|l| l.starts_with(head)).collect();
    assert_eq!(
        hits.len(),
        1,
        "`{head}`: {hits:?}\nevents:\n{}",
        ev.join("\n")
    );
    hits[0]
}

/// `key=value` of an event line.
fn field<'a>(line: &'a str, key: &str) -> &'a str {
    line.split(' ')
        .find_map(|w| w.strip_prefix(&format!("{key}=")))
        .unwrap_or_else(|| panic!("no {key}= in `{line}`"))
}

/// A `traffic` event: (answered, asked, answered by rs2, by rs3).
fn traffic(ev: &[String], step: &str, vip: &str) -> (u32, u32, u32, u32) {
    let l = event(ev, &format!("traffic step={step} vip={vip} "));
    let num = |s: &str| s.parse::<u32>().unwrap_or_else(|_| panic!("`{l}`"));
    let (a, n) = field(l, "answered").split_once('/').expect("a/n");
    (num(a), num(n), num(field(l, "rs2")), num(field(l, "rs3")))
}

/// DR and TUN (ipip, GUE, GRE) real servers set up only by `lvsd real-server`, a NAT
/// service beside them, the director programmed by `lvsd -C` from the same file
/// (tests/vm/realserver.sh). Clean: every VIP answered by both real servers, both doctors
/// find nothing, SIGTERM leaves the real servers as they were. Then each fault alone:
/// the traffic shows it (or the step is marked finding-only), the doctor names exactly
/// that fault, the fix it prints is run as it is, and the traffic flows again.
#[test]
fn real_servers_set_up_by_lvsd_real_server_answer_in_the_guest() {
    if root::skip_without_root("the qemu rig") {
        return;
    }
    let (rc, res) = run_vm("realserver", "realserver.sh", &[]);
    let dir = res.join("realserver");
    let stderr = std::fs::read_to_string(dir.join("stderr.txt")).unwrap_or_default();
    assert_eq!(rc, 0, "guest script:\n{stderr}");
    assert!(dir.join("done.txt").exists(), "{stderr}");
    let ev = events(&dir);
    let all = ev.join("\n");
    let doc = |step: &str| -> Vec<serde_json::Value> {
        let t = read(&dir.join(format!("doc-{step}.json")));
        serde_json::from_str::<serde_json::Value>(&t)
            .unwrap_or_else(|e| panic!("doc-{step}.json: {e}\n{t}"))
            .as_array()
            .cloned()
            .unwrap_or_default()
    };
    let finding = |step: &str, check: &str| -> serde_json::Value {
        doc(step)
            .into_iter()
            .find(|f| f["check"] == check)
            .unwrap_or_else(|| panic!("{step}: no {check} finding"))
    };
    let rr_vips = ["10.251.1.1", "10.251.1.2", "10.251.1.3", "10.251.1.4"];
    let nat_vip = "10.251.1.5";
    // Before lvsd real-server: the real servers drop what the director sends them.
    for vip in rr_vips {
        assert_eq!(traffic(&ev, "unset", vip).0, 0, "{vip}:\n{all}");
    }
    // Clean: DR, TUN ipip, GUE, GRE round robin over both; NAT (sh, persistence) answered.
    for step in ["clean", "final"] {
        for vip in rr_vips {
            let (a, n, r2, r3) = traffic(&ev, step, vip);
            assert!(a == n && r2 > 0 && r3 > 0, "{step} {vip}:\n{all}\n{stderr}");
        }
        let (a, n, _, _) = traffic(&ev, step, nat_vip);
        assert_eq!(a, n, "{step} NAT:\n{all}");
    }
    for side in ["director", "rs2", "rs3"] {
        let l = event(&ev, &format!("doctor step=clean-{side} "));
        assert!(
            l.ends_with("rc=0 checks="),
            "{l}\n{}",
            read(&dir.join(format!("doc-clean-{side}.json")))
        );
    }
    let sync = finding("clean-director", "sync_daemon");
    assert!(
        sync["what"]
            .as_str()
            .is_some_and(|s| s.contains("on sync0 (MTU 1400)")),
        "{sync}"
    );
    let fw = finding("clean-director", "firewall_read");
    assert!(
        fw["what"]
            .as_str()
            .is_some_and(|s| s.ends_with("no packet sent")),
        "{fw}"
    );
    assert_eq!(field(event(&ev, "arp step=clean "), "replies"), "0");
    for n in [2, 3] {
        let during = read(&dir.join(format!("during-rs{n}.txt")));
        for line in [
            "lo inet 10.251.1.1/32",
            "tunl0 inet 10.251.1.2/32",
            "tunl0 inet 10.251.1.3/32",
            "gre0 inet 10.251.1.4/32",
            "fou port 6080 gue",
            "all.arp_ignore=1",
            "all.arp_announce=2",
        ] {
            assert!(during.contains(line), "rs{n}: no `{line}`:\n{during}");
        }
        let log = read(&dir.join(format!("lvsd-rs{n}.log")));
        assert!(log.contains("exit=0"), "rs{n}:\n{log}");
        // (the tunnel devices stay, with their modules: their lines are left out)
        let strip = |t: String| -> Vec<String> {
            t.lines()
                .filter(|l| {
                    !["tunl0", "gre0", "gretap0", "erspan0"]
                        .iter()
                        .any(|d| l.starts_with(&format!("{d} ")))
                })
                .map(str::to_string)
                .collect()
        };
        assert_eq!(
            strip(read(&dir.join(format!("after-rs{n}.txt")))),
            strip(read(&dir.join(format!("before-rs{n}.txt")))),
            "rs{n}: not left as it was; log:\n{log}"
        );
    }
    assert_eq!(traffic(&ev, "stopped", "10.251.1.1").0, 0, "{all}");

    // Each fault alone. Traffic while it is there: None where the traffic does not show
    // it (checked by the finding only), else which VIP and who still answers.
    enum Shows {
        Nothing,
        /// Nobody answers.
        NoAnswer(&'static str),
        /// rs2's share is lost, rs3 still answers.
        Rs2Lost(&'static str),
        /// rs3's share is lost (delivered to the director itself).
        Rs3Lost(&'static str),
    }
    use Shows::*;
    // (step, doctor side, check named, level, traffic, the printed fix run as it is)
    type Step = (
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        Shows,
        Option<&'static str>,
    );
    let steps: &[Step] = &[
        (
            "ipvs_module",
            "director",
            "ipvs_module",
            "problem",
            NoAnswer("10.251.1.1"),
            Some("modprobe ip_vs"),
        ),
        (
            "scheduler_module",
            "director",
            "scheduler_module",
            "problem",
            NoAnswer(nat_vip),
            None,
        ),
        (
            "ip_forward",
            "director",
            "ip_forward",
            "problem",
            NoAnswer(nat_vip),
            Some("sysctl -w net.ipv4.ip_forward=1"),
        ),
        (
            "localnode",
            "director",
            "localnode",
            "warning",
            Rs3Lost("10.251.1.1"),
            None,
        ),
        (
            "expire_nodest_conn",
            "director",
            "expire_nodest_conn",
            "warning",
            Nothing,
            Some("sysctl -w net.ipv4.vs.expire_nodest_conn=1"),
        ),
        (
            "expire_quiescent_template",
            "director",
            "expire_quiescent_template",
            "warning",
            Nothing,
            Some("sysctl -w net.ipv4.vs.expire_quiescent_template=1"),
        ),
        (
            "sync_daemon",
            "director",
            "sync_daemon",
            "warning",
            Nothing,
            Some("ip link set sync0 up"),
        ),
        (
            "port_mapping",
            "director",
            "config",
            "warning",
            Nothing,
            None,
        ),
        (
            "firewall_vrrp",
            "director",
            "firewall_vrrp",
            "problem",
            Nothing,
            Some("iptables-legacy -t filter -I INPUT -i br0 -p vrrp -j ACCEPT"),
        ),
        (
            "vrid_conflict",
            "director",
            "vrid_conflict",
            "problem",
            Nothing,
            None,
        ),
        (
            "vip_missing",
            "rs2",
            "vip_missing",
            "problem",
            Rs2Lost("10.251.1.1"),
            Some("ip addr add 10.251.1.1/32 dev lo"),
        ),
        (
            "vip_netmask",
            "rs2",
            "vip_netmask",
            "problem",
            Nothing,
            Some("ip addr del 10.251.1.1/30 dev lo; ip addr add 10.251.1.1/32 dev lo"),
        ),
        (
            "arp_ignore",
            "rs2",
            "arp_ignore",
            "problem",
            Nothing,
            Some("sysctl -w net.ipv4.conf.all.arp_ignore=1"),
        ),
        (
            "arp_announce",
            "rs2",
            "arp_announce",
            "warning",
            Nothing,
            Some("sysctl -w net.ipv4.conf.all.arp_announce=2"),
        ),
        (
            "rp_filter",
            "rs2",
            "rp_filter",
            "problem",
            Rs2Lost("10.251.1.2"),
            None,
        ),
        (
            "tunl0_down",
            "rs2",
            "tunnel_device",
            "problem",
            Rs2Lost("10.251.1.2"),
            Some("ip link set tunl0 up"),
        ),
        (
            "gue_port",
            "rs2",
            "gue_port",
            "problem",
            Rs2Lost("10.251.1.3"),
            Some("ip fou add port 6080 gue"),
        ),
        (
            "gre0_down",
            "rs2",
            "tunnel_device",
            "problem",
            Rs2Lost("10.251.1.4"),
            Some("ip link set gre0 up"),
        ),
        (
            "listener",
            "rs2",
            "listener",
            "problem",
            Rs2Lost("10.251.1.1"),
            None,
        ),
        (
            "nat_route",
            "rs2",
            "nat_route",
            "problem",
            NoAnswer(nat_vip),
            Some("ip route replace default via 10.253.0.254"),
        ),
    ];
    for (step, side, check, level, shows, fix) in steps {
        // Named, alone, at its level, with a fix.
        let l = event(&ev, &format!("doctor step={step} "));
        assert_eq!(field(l, "side"), *side, "{l}");
        assert_eq!(field(l, "checks"), format!("{check},"), "{step}: {l}");
        assert_eq!(
            field(l, "rc"),
            if *level == "problem" { "1" } else { "0" },
            "{l}"
        );
        let f = finding(step, check);
        assert_eq!(f["level"], *level, "{f}");
        assert!(f["fix"].as_str().is_some_and(|s| !s.is_empty()), "{f}");
        // The traffic with the fault, and after the fix.
        let vip = match shows {
            Nothing => None,
            NoAnswer(v) | Rs2Lost(v) | Rs3Lost(v) => Some(*v),
        };
        if let Some(vip) = vip {
            let (a, n, r2, r3) = traffic(&ev, step, vip);
            match shows {
                NoAnswer(_) => assert_eq!(a, 0, "{step}:\n{all}"),
                Rs2Lost(_) => assert!(a < n && r2 == 0 && r3 > 0, "{step}:\n{all}"),
                Rs3Lost(_) => assert!(a < n && r3 == 0 && r2 > 0, "{step}:\n{all}"),
                Nothing => {}
            }
            let (a, n, r2, r3) = traffic(&ev, &format!("{step}-fixed"), vip);
            assert_eq!(a, n, "{step} fixed:\n{all}\n{stderr}");
            if vip != nat_vip {
                assert!(r2 > 0 && r3 > 0, "{step} fixed:\n{all}");
            }
        }
        match fix {
            Some(cmd) => {
                assert_eq!(
                    event(&ev, &format!("fix step={step} ")),
                    format!("fix step={step} printed={cmd}")
                );
                assert_eq!(
                    event(&ev, &format!("fixed step={step} ")),
                    format!("fixed step={step} rc=0")
                );
                assert!(f["fix"].as_str().is_some_and(|s| s.contains(cmd)), "{f}");
            }
            // (rp_filter: the printed fix, checked below; port_mapping: a file's word)
            None if matches!(*step, "rp_filter" | "port_mapping") => {}
            None => assert!(
                event(&ev, &format!("fix step={step} ")).contains(" by-test="),
                "{step}"
            ),
        }
    }
    // NAT: both real servers' routes went around the director; rs3's doctor names it too
    // and its printed fix (the VRRP VIP on their network) is run there as well.
    let l = event(&ev, "doctor step=nat_route-rs3 ");
    assert!(l.ends_with("rc=1 checks=nat_route,"), "{l}");
    assert_eq!(
        event(&ev, "fix step=nat_route-rs3 "),
        "fix step=nat_route-rs3 printed=ip route replace default via 10.253.0.254"
    );
    assert_eq!(
        event(&ev, "fixed step=nat_route-rs3 "),
        "fixed step=nat_route-rs3 rc=0"
    );
    for step in ["nat_route", "nat_route-rs3"] {
        let w = finding(step, "nat_route")["what"]
            .as_str()
            .unwrap_or("")
            .to_string();
        assert!(
            w.contains("go via 10.253.0.99 dev eth0, not through the director 10.253.0.254"),
            "{step}: {w}"
        );
    }
    // Clean, the route is named as going through the director's VIP.
    for side in ["rs2", "rs3"] {
        let n = finding(&format!("clean-{side}"), "nat_route");
        assert_eq!(n["level"], "info", "{n}");
        assert!(
            n["what"]
                .as_str()
                .is_some_and(|s| s.contains("go via 10.253.0.254 dev eth0: 10.253.0.254 (a virtual_ipaddress of vrrp_instance VI_1)")),
            "{n}"
        );
    }
    // The strict rp_filter's fix: the tunnel's own 0 and a loose `all` (the larger wins).
    let rp = event(&ev, "fix step=rp_filter ");
    assert!(
        rp.starts_with("fix step=rp_filter printed=sysctl -w net.ipv4.conf.")
            && rp.ends_with(".rp_filter=0 net.ipv4.conf.all.rp_filter=2"),
        "{rp}"
    );
    assert_eq!(
        event(&ev, "fixed step=rp_filter "),
        "fixed step=rp_filter rc=0"
    );
    // What the findings say.
    let what = |step: &str, check: &str| {
        finding(step, check)["what"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    assert!(what("port_mapping", "config")
        .contains("real server port 8080 differs from the virtual server port 80"));
    assert!(what("localnode", "localnode").contains("real server 10.253.0.3"));
    assert!(what("sync_daemon", "sync_daemon").contains("sync0 is down"));
    assert!(what("tunl0_down", "tunnel_device").contains("tunl0 is down"));
    assert!(what("gre0_down", "tunnel_device").contains("gre0 is down"));
    assert!(what("listener", "listener").contains("listened on 10.253.0.2 only"));
    assert_eq!(
        field(event(&ev, "fault step=tunl0_missing "), "ipip"),
        "unloaded"
    );
    assert!(what("tunl0_missing", "tunnel_device")
        .contains("tunl0 does not exist (the module ipip is not loaded)"));
    // The module alone is half the fix: a bare tunl0, down, without the VIPs, named so;
    // lvsd real-server run again completes it.
    let half = event(&ev, "doctor step=tunl0_missing-modprobed ");
    assert!(
        half.contains("rc=1") && half.contains("tunnel_device") && half.contains("vip_missing"),
        "{half}"
    );
    assert!(event(&ev, "refix step=tunl0_missing ").contains("by-test="));
    assert!(what("scheduler_module", "scheduler_module").contains("ip_vs_sh"));
    assert_eq!(field(event(&ev, "fault step=ipvs_module "), "ipvs"), "no");
    assert_eq!(
        field(event(&ev, "fault step=scheduler_module "), "services"),
        "4"
    );
    assert!(event(&ev, "doctor step=sync_daemon-fixed ").ends_with("rc=0 checks="));
    assert!(event(&ev, "doctor step=firewall_vrrp-fixed ").ends_with("rc=0 checks="));
    // Another cluster's adverts on the file's VRID, heard from rs3, gone when it stops.
    assert!(event(&ev, "doctor step=vrid_conflict-fixed ").ends_with("rc=0 checks="));
    let w = finding("vrid_conflict", "vrid_conflict");
    assert!(
        w["what"]
            .as_str()
            .is_some_and(|s| s.starts_with("10.253.0.3 advertises VRID 51 on br0 (priority 200)")),
        "{w}"
    );
    assert!(
        what("firewall_vrrp", "firewall_vrrp").starts_with(
            "iptables-legacy drops IPv4 VRRP adverts (protocol 112) arriving on br0: rule 1 of chain INPUT in table filter"
        ),
        "{}",
        what("firewall_vrrp", "firewall_vrrp")
    );
    // The director's strict rp_filter is a note (no VRRP runs here): named with the
    // effective value, the larger of all and br0's.
    let rp = doc("director_rp_filter")
        .into_iter()
        .find(|f| f["check"] == "rp_filter")
        .expect("rp_filter note");
    assert!(
        rp["what"]
            .as_str()
            .is_some_and(|s| s.contains("on br0: 1 (all 1, br0 0")),
        "{rp}"
    );
    // ARP answered for the VIP while arp_ignore is 0, not after the fix.
    assert_ne!(
        field(event(&ev, "arp step=arp_ignore "), "replies"),
        "0",
        "{all}"
    );
    assert_eq!(
        field(event(&ev, "arp step=arp_ignore-fixed "), "replies"),
        "0",
        "{all}"
    );
    // Finding-only faults leave the client's traffic as it was.
    let (a, n, _, _) = traffic(&ev, "vip_netmask", "10.251.1.1");
    assert_eq!(a, n, "{all}");
    // NAT reaches the RIP: the RIP-only listener does not stop it.
    let (a, n, _, _) = traffic(&ev, "listener-nat", nat_vip);
    assert_eq!(a, n, "{all}");
}

/// The real corpus's edit reaches the checks that set connect_timeout, those that use the
/// default, and leaves the others (MISC_CHECK has no connect_timeout) alone.
#[test]
fn pending_timings_reach_every_connecting_check() {
    let text = "TCP_CHECK {\n  connect_timeout 3\n}\nHTTP_GET {\n  url { path / }\n}\n\
                MISC_CHECK {\n  misc_path /bin/true\n}\ndelay_before_retry 3\nwarmup 5\n";
    let want = "TCP_CHECK { connect_timeout 20 \nconnect_timeout 20 \n}\n\
                HTTP_GET { connect_timeout 20 \n  url { path / }\n}\n\
                MISC_CHECK {\n  misc_path /bin/true\n}\ndelay_before_retry 1 \nwarmup 0 \n";
    assert_eq!(pending_timings(text), want);
}
