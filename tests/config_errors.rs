//! Bad configurations: each file in tests/configs/bad/ names, on its first line, the
//! problem it must produce (`# expect: LINE:COL: error|warning: MESSAGE`). Both the
//! library and `lvsd -t` must report it there; `lvsd -t` exits 4 when it is an error (the
//! file is refused) and 5 when it is a warning (keepalived runs the file with a fallback,
//! and so does lvsd).

use std::path::{Path, PathBuf};
use std::process::Command;

#[path = "support/root.rs"]
mod root;

fn bad_files() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir("tests/configs/bad")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "conf"))
        .collect();
    v.sort();
    v
}

fn expected(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let first = text.lines().next().unwrap();
    let want = first
        .strip_prefix("# expect: ")
        .unwrap_or_else(|| panic!("{} has no `# expect:` line", path.display()));
    format!("{}:{want}", path.display())
}

fn refuses(want: &str) -> bool {
    want.contains(": error: ")
}

#[test]
fn at_least_twenty_bad_configs_of_both_kinds() {
    let files = bad_files();
    let refused = files.iter().filter(|p| refuses(&expected(p))).count();
    assert!(files.len() >= 20, "only {}", files.len());
    assert!(refused >= 5, "only {refused} refused");
    assert!(
        files.len() - refused >= 10,
        "only {} run",
        files.len() - refused
    );
}

#[test]
fn each_bad_config_gives_its_precise_problem() {
    let mut failures = Vec::new();
    for path in bad_files() {
        let want = expected(&path);
        match lvsd::config::load(&path, "lvs1") {
            Ok(l) if refuses(&want) => failures.push(format!(
                "{}: loaded, with warnings {:?}",
                path.display(),
                l.warnings
            )),
            Ok(l) => {
                if !l.warnings.iter().any(|d| d.to_string() == want) {
                    let got: Vec<String> = l.warnings.iter().map(|d| d.to_string()).collect();
                    failures.push(format!("want: {want}\n got: {}", got.join("\n      ")));
                }
            }
            Err(e) => {
                let first = e.errors[0].to_string();
                if first != want {
                    failures.push(format!("want: {want}\n got: {e}"));
                }
            }
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn lvsd_t_exits_4_5_or_6_and_prints_the_problem() {
    for path in bad_files() {
        let want = expected(&path);
        let out = Command::new(env!("CARGO_BIN_EXE_lvsd"))
            .arg("-t")
            .arg("-f")
            .arg(&path)
            .args(["-i", "lvs1"])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        // As keepalived: a script-security problem outranks the ones it runs with.
        let code = if refuses(&want) {
            4
        } else if stderr.lines().any(|l| l.contains(": security: ")) {
            6
        } else {
            5
        };
        assert_eq!(
            out.status.code(),
            Some(code),
            "{}: {stderr}",
            path.display()
        );
        assert!(
            stderr.lines().any(|l| l == want),
            "{}: want {want}\ngot:\n{stderr}",
            path.display()
        );
        // --strict refuses whatever keepalived would run with a problem.
        let strict = Command::new(env!("CARGO_BIN_EXE_lvsd"))
            .args(["-t", "--strict", "-f"])
            .arg(&path)
            .args(["-i", "lvs1"])
            .output()
            .unwrap();
        assert_eq!(strict.status.code(), Some(4), "{}", path.display());
    }
}

#[test]
fn lvsd_t_accepts_the_examples() {
    for f in [
        "examples/keepalived.conf",
        "examples/keepalived-backup.conf",
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_lvsd"))
            .args(["-t", "-f", f])
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{f}: {stderr}");
        assert!(stderr.is_empty(), "{f}: {stderr}");
    }
}

#[test]
fn lvsd_t_reports_warnings_and_still_passes() {
    let out = Command::new(env!("CARGO_BIN_EXE_lvsd"))
        .args(["-t", "-f", "tests/configs/global_full.conf"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // global_full.conf enables script security; its fifo script does not exist: a note
    // (keepalived's -t does not report it; it logs it at start and never runs it), beside
    // its warnings.
    assert_eq!(out.status.code(), Some(5), "{stderr}");
    assert!(stderr.contains(
        "tests/configs/global_full.conf:21:5: warning: vrrp_iptables: iptables is not supported, \
         nftables is used instead (table keepalived), as keepalived 2.2.7 does; write `nftables`"
    ));
    assert!(
        stderr.contains(
            "tests/configs/global_full.conf:20:24: note: script `/usr/local/bin/fifo.sh`: /usr/local/bin/fifo.sh: not found or not executable"
        ),
        "{stderr}"
    );
}

/// `lvsd -t [FLAGS] -f FILE` on `text` written to a file of its own: (exit code, stderr).
fn config_test(text: &str, flags: &[&str]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("keepalived.conf");
    std::fs::write(&conf, text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lvsd"))
        .arg("-t")
        .args(flags)
        .arg("-f")
        .arg(&conf)
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A notify script that is missing is a note: `keepalived -t` neither prints nor counts
/// it (it logs "Script … cannot be accessed" at start), so `lvsd -t` prints it and exits 0
/// as keepalived's; `--strict` still refuses the file.
#[test]
fn a_missing_notify_script_is_a_note_that_exits_0() {
    let text = "global_defs {\n  enable_script_security\n  script_user root\n}\n\
         vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n  priority 100\n  \
         virtual_ipaddress {\n    10.9.9.9/24\n  }\n  notify_master /nonexistent/lvsd-master.sh\n}\n";
    let (code, err) = config_test(text, &[]);
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains(":12:17: note: script `/nonexistent/lvsd-master.sh`"),
        "{err}"
    );
    let (code, err) = config_test(text, &["--strict"]);
    assert_eq!(code, Some(4), "{err}");
}

/// Without enable_script_security, keepalived's "SECURITY VIOLATION" (exit 6) counts only
/// the scripts it found: a file whose every script is missing has none (exit 0 with a
/// notify script, 5 with a vrrp_script it disables); one found script brings it.
#[test]
fn only_scripts_that_exist_raise_the_security_problem() {
    let code = |body: &str| {
        let (code, err) = config_test(
            &format!(
                "vrrp_script chk {{\n  script \"{body}\"\n}}\n\
                 vrrp_instance VI_1 {{\n  interface eth0\n  virtual_router_id 51\n  \
                 priority 100\n  virtual_ipaddress {{\n    10.9.9.9/24\n  }}\n  \
                 notify_master /nonexistent/lvsd-master.sh\n  track_script {{\n    chk\n  }}\n}}\n"
            ),
            &[],
        );
        (code, err.contains(": security: "))
    };
    // Both missing: the vrrp_script is disabled (5), nothing is a security problem.
    assert_eq!(code("/nonexistent/lvsd-chk.sh"), (Some(5), false));
    // The tracked script exists: keepalived's SECURITY VIOLATION.
    assert_eq!(code("/bin/true"), (Some(6), true));
}

/// Scripts whose user does not exist, as keepalived 2.2.7 treats them: a notify script is
/// dropped without a word from its `-t` (a note, exit 0); a MISC_CHECK is removed with a
/// message (5); neither counts for the script-security problem.
#[test]
fn scripts_with_an_unknown_user_as_keepalived() {
    let run = |text: &str| config_test(text, &[]);
    let (code, err) = run(
        "vrrp_instance VI_1 {\n  interface eth0\n  virtual_router_id 51\n  priority 100\n  \
         virtual_ipaddress {\n    10.9.9.9/24\n  }\n  \
         notify_master \"/bin/true\" nosuchuser_lvsd\n}\n",
    );
    assert_eq!(code, Some(0), "{err}");
    assert!(
        err.contains("note: script `/bin/true`: its user `nosuchuser_lvsd`"),
        "{err}"
    );
    let (code, err) = run(
        "virtual_server 10.9.9.9 80 {\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n  \
         real_server 10.9.9.10 80 {\n    MISC_CHECK {\n      misc_path /bin/true\n      \
         user nosuchuser_lvsd\n    }\n  }\n}\n",
    );
    assert_eq!(code, Some(5), "{err}");
    assert!(
        err.contains("warning: MISC_CHECK script `/bin/true`: its user `nosuchuser_lvsd` does not exist: the checker is removed"),
        "{err}"
    );
    assert!(!err.contains(": security: "), "{err}");
}

/// keepalived's classes for scripts: an unsafe script under enable_script_security is a
/// security problem only (exit 6), and a vrrp_script found unsafe is disabled; scripts
/// without enable_script_security are one too; a script that is fine passes clean.
#[test]
fn script_security_classes() {
    // enable_script_security refuses a script that root does not own
    if root::skip_without_root("scripts owned by root") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("check.sh");
    std::fs::write(&script, "#!/bin/sh\nexit 0\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o777)).unwrap();
    let conf = dir.path().join("k.conf");
    let text = format!(
        "global_defs {{\n    enable_script_security\n    script_user root\n}}\nvrrp_script chk {{\n    script \"{} arg\"\n}}\n",
        script.display()
    );
    std::fs::write(&conf, &text).unwrap();
    let test = |conf: &Path| {
        let out = Command::new(env!("CARGO_BIN_EXE_lvsd"))
            .args(["-t", "-f"])
            .arg(conf)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, stderr) = test(&conf);
    assert_eq!(code, Some(6), "{stderr}");
    let want = format!("{}:5:1: security: vrrp_script chk:", conf.display());
    assert!(stderr.starts_with(&want), "want {want}\ngot {stderr}");
    assert!(stderr.contains("writable by group or others"), "{stderr}");
    assert!(stderr.contains("disabled, and not tracked"), "{stderr}");
    let mut loaded = lvsd::config::load(&conf, "x").unwrap();
    lvsd::config::vet_scripts(&mut loaded);
    assert!(loaded.config.vrrp_scripts.is_empty());

    // Without enable_script_security: the scripts themselves are the security problem.
    std::fs::write(&conf, text.replace("    enable_script_security\n", "")).unwrap();
    let (code, stderr) = test(&conf);
    assert_eq!(code, Some(6), "{stderr}");
    assert!(
        stderr.contains("without enable_script_security"),
        "{stderr}"
    );

    // A safe script (root's, not writable by others: /bin/true) passes clean; a missing
    // one is disabled with a warning.
    std::fs::write(
        &conf,
        "global_defs {\n    enable_script_security\n    script_user root\n}\nvrrp_script chk {\n    script /bin/true\n}\n",
    )
    .unwrap();
    let (code, stderr) = test(&conf);
    assert_eq!(code, Some(0), "{stderr}");
    std::fs::write(
        &conf,
        "global_defs {\n    enable_script_security\n    script_user root\n}\nvrrp_script chk {\n    script /nonexistent/chk\n}\n",
    )
    .unwrap();
    let (code, stderr) = test(&conf);
    assert_eq!(code, Some(5), "{stderr}");
    assert!(
        stderr.contains("not found or not executable: disabled"),
        "{stderr}"
    );
}

/// The words of a script line as keepalived reads them: the first is the command line
/// (quotes, single or double, group it; split again when it runs), a notify script's
/// next ones are the user and group it runs as, and other scripts' are ignored. A script
/// whose user cannot be set never runs: an unknown user, an unknown script_user, or
/// enable_script_security with neither script_user nor a `keepalived_script` user.
#[test]
fn script_words_and_users_as_keepalived() {
    let load = |name: &str| {
        let path = Path::new("tests/configs/scripts").join(name);
        let mut l = lvsd::config::load(&path, "x").unwrap();
        let diags = lvsd::config::vet_scripts(&mut l);
        let text: Vec<String> = l
            .warnings
            .iter()
            .chain(&diags)
            .map(|d| format!("{}:{}: {}", d.span.line, d.span.col, d.message))
            .collect();
        (l.config, text)
    };
    let (c, said) = load("words.conf");
    let script = |n: &str| {
        c.vrrp_scripts
            .iter()
            .find(|s| s.name == n)
            .map(|s| s.script.clone())
    };
    assert_eq!(script("quoted").as_deref(), Some("/bin/kill -0 1"));
    assert_eq!(
        lvsd::script::split_command("/bin/kill -0 1").unwrap(),
        ["/bin/kill", "-0", "1"]
    );
    assert_eq!(script("unquoted").as_deref(), Some("/bin/kill"));
    assert!(
        said.iter().any(|l| l.starts_with("8:22: ")
            && l.contains("only `/bin/kill` is the command; `-0 1` is ignored")),
        "{said:#?}"
    );
    let n = &c.instances[0].notify;
    assert_eq!(n.master.as_deref(), Some("/bin/logger became master"));
    assert_eq!(n.backup.as_deref(), Some("/bin/logger"));
    assert_eq!(
        c.script_user_for("/bin/logger"),
        Some(lvsd::script::ScriptUser {
            user: "nobody".into(),
            group: Some("nogroup".into())
        })
    );
    assert_eq!(n.fault, None, "an unknown user: never run");
    assert!(
        said.iter().any(|l| l.starts_with("20:18: ")
            && l.contains("its user `nosuchuser-lvsd` does not exist: never run")),
        "{said:#?}"
    );
    assert!(
        said.iter()
            .any(|l| l.contains("notify_stop is given twice")),
        "{said:#?}"
    );
    assert_eq!(n.stop.as_deref(), Some("/bin/true first"));
    let fifo = c.global.notify_fifo.as_ref().unwrap();
    assert_eq!(fifo.script.as_deref(), Some("/bin/cat"));
    assert_eq!(
        fifo.script_user.as_ref().map(|u| u.user.as_str()),
        Some("nobody")
    );
    // Printed back, the file reads the same.
    let printed = lvsd::config::print(&c);
    assert!(
        printed.contains("notify_backup /bin/logger nobody nogroup\n"),
        "{printed}"
    );
    assert!(printed.contains("script \"/bin/kill -0 1\"\n"), "{printed}");

    // enable_script_security without script_user: keepalived's default user
    // `keepalived_script` does not exist here, so no script runs.
    let (c, said) = load("no-default-user.conf");
    assert!(c.vrrp_scripts.is_empty() && c.instances[0].track_script.is_empty());
    assert_eq!(c.instances[0].notify.master, None);
    assert_eq!(
        said.iter()
            .filter(|l| l.contains("`keepalived_script` does not exist"))
            .count(),
        2,
        "{said:#?}"
    );
}

/// A name defined twice: keepalived uses the first definition and skips the others
/// ("already defined"); an instance in two sync groups stays in the first, and a group
/// left without members is removed. lvsd the same, each with a warning at its line.
#[test]
fn second_definitions_are_skipped_as_keepalived() {
    let path = Path::new("tests/configs/duplicates.conf");
    let l = lvsd::config::load(path, "x").unwrap();
    let said: Vec<String> = l
        .warnings
        .iter()
        .map(|d| format!("{}: {}", d.span.line, d.message))
        .collect();
    let c = &l.config;
    assert_eq!(c.vrrp_scripts.len(), 1);
    assert_eq!(c.vrrp_scripts[0].script, "/bin/true");
    let names: Vec<(&str, u8)> = c
        .instances
        .iter()
        .map(|i| (i.name.as_str(), i.virtual_router_id))
        .collect();
    assert_eq!(names, [("A", 7), ("B", 8)]);
    let groups: Vec<(&str, Vec<String>)> = c
        .sync_groups
        .iter()
        .map(|g| (g.name.as_str(), g.members.clone()))
        .collect();
    assert_eq!(groups, [("G1", vec!["A".to_string(), "B".to_string()])]);
    for want in [
        "6: vrrp_script chk is already defined at",
        "22: vrrp_instance A is already defined at",
        "39: vrrp_sync_group G1 is already defined at",
        "36: vrrp_sync_group G2: vrrp_instance B is already in vrrp_sync_group G1",
        "34: vrrp_sync_group G2 has no member left: removed",
    ] {
        assert!(
            said.iter().any(|l| l.starts_with(want)),
            "{want}\n{said:#?}"
        );
    }
}

/// keepalived's comments: `\#` is a `#`, and a backslash that ends a line, even one in
/// its comment, is glued to the line's last word (here the instance runs without
/// authentication, as keepalived's does: "unknown authentication type 'PASS\'").
#[test]
fn backslashes_in_comments_as_keepalived() {
    let l = lvsd::config::load(
        Path::new("tests/configs/bad/backslash_ends_comment.conf"),
        "x",
    )
    .unwrap();
    assert_eq!(l.config.global.router_id.as_deref(), Some("lb#1"));
    assert_eq!(l.config.instances[0].authentication, None);
}

#[test]
fn dump_as_json_and_as_text() {
    let out = Command::new(env!("CARGO_BIN_EXE_lvsd"))
        .args(["-d", "--json", "-f", "examples/keepalived.conf"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["instances"][0]["virtual_router_id"], 51);
    assert_eq!(v["global"]["router_id"], "lvs-director-1");

    let out = Command::new(env!("CARGO_BIN_EXE_lvsd"))
        .args(["-d", "-f", "examples/keepalived.conf"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let reparsed = lvsd::config::parse_str(&text, Path::new("dump.conf"), "x").unwrap();
    let orig = lvsd::config::load(Path::new("examples/keepalived.conf"), "x").unwrap();
    assert_eq!(reparsed.config, orig.config);
}

#[test]
fn config_id_flag_selects_lines() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("k.conf");
    std::fs::write(
        &conf,
        "@node1 global_defs {\n@node1 }\n@^node1 bogus_keyword\n",
    )
    .unwrap();
    let run = |id: &str| {
        Command::new(env!("CARGO_BIN_EXE_lvsd"))
            .arg("-t")
            .arg("-f")
            .arg(&conf)
            .args(["-i", id])
            .output()
            .unwrap()
            .status
            .code()
    };
    assert_eq!(run("node1"), Some(0));
    // An unknown keyword: keepalived runs the file without it.
    assert_eq!(run("node2"), Some(5));
}

#[test]
fn a_missing_file_is_an_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_lvsd"))
        .args(["-t", "-f", "/nonexistent/keepalived.conf"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr)
        .starts_with("/nonexistent/keepalived.conf:1:1: error: cannot read"));
}

/// `-t[=LOG_FILE]` as keepalived's: the file tested is always `-f`'s; the argument is
/// where the report goes.
#[test]
fn t_tests_the_f_file_and_t_equals_names_the_report() {
    let ok = Command::new(env!("CARGO_BIN_EXE_lvsd"))
        .args(["-f", "examples/keepalived.conf", "-t"])
        .output()
        .unwrap();
    assert_eq!(ok.status.code(), Some(0));
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("report.txt");
    let bad = Command::new(env!("CARGO_BIN_EXE_lvsd"))
        .arg(format!("-t={}", log.display()))
        .args(["-f", "tests/configs/bad/unclosed.conf"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(4));
    assert!(
        bad.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&bad.stderr)
    );
    let report = std::fs::read_to_string(&log).unwrap();
    assert!(
        report.starts_with(
            "tests/configs/bad/unclosed.conf:2:1: error: `vrrp_instance` block is never closed"
        ),
        "{report}"
    );
}

/// A configuration this large is lexed in many chunks (src/config/lexer.rs, CHUNK): the
/// model and the error positions must be the same as for a small one.
#[test]
fn a_large_config_loads_whole_and_keeps_exact_positions() {
    let n = 2_000;
    let mut text = String::new();
    for i in 0..n {
        text.push_str(&format!(
            "virtual_server 10.{}.{}.1 80 {{\n    lb_algo wlc\n    protocol TCP\n",
            i / 250,
            i % 250
        ));
        for j in 0..5 {
            text.push_str(&format!(
                "    real_server 192.168.0.{} 80 {{\n        weight {}\n        TCP_CHECK {{\n            connect_timeout 3\n        }}\n    }}\n",
                j + 1,
                j + 1
            ));
        }
        text.push_str("}\n");
    }
    assert!(text.len() > 2 * 256 * 1024, "{} bytes", text.len());
    let file = Path::new("/nonexistent/large.conf");
    let loaded = lvsd::config::parse_str(&text, file, "lvs1").unwrap_or_else(|e| panic!("{e}"));
    let vs = &loaded.config.virtual_servers;
    assert_eq!(vs.len(), n);
    assert!(vs.iter().all(|v| v.real_servers.len() == 5));
    assert_eq!(vs[n - 1].real_servers[4].weight, 5);
    assert!(
        format!("{:?}", vs[n - 1].key).contains("10.7.249.1"),
        "{:?}",
        vs[n - 1].key
    );
    // A typo in the very last checker, in the last chunk.
    let lines_before = text.lines().count();
    let typo = text.rfind("connect_timeout 3").unwrap();
    text.replace_range(typo..typo + "connect_timeout".len(), "conect_timeout");
    let l = lvsd::config::parse_str(&text, file, "lvs1").unwrap_or_else(|e| panic!("{e}"));
    let line = text[..typo].matches('\n').count() + 1;
    assert!(line > lines_before - 10);
    assert_eq!(
        l.warnings[0].to_string(),
        format!(
            "{}:{line}:13: warning: unknown keyword `conect_timeout` in TCP_CHECK; did you mean `connect_timeout`?",
            file.display()
        )
    );
}

/// A MISC_CHECK whose script is missing is disabled at load, as keepalived does ("Disabling
/// misc script ... since not found/accessible"): it never runs (its real server keeps its
/// starting state), the other checkers stay.
#[test]
fn misc_check_with_a_missing_script_is_disabled() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("k.conf");
    std::fs::write(
        &conf,
        "virtual_server 10.9.0.1 80 {\n    protocol TCP\n    real_server 10.9.1.1 80 {\n        \
         MISC_CHECK {\n            misc_path /nonexistent/check.sh\n        }\n        \
         TCP_CHECK {\n            connect_timeout 2\n        }\n    }\n    \
         real_server 10.9.1.2 80 {\n        MISC_CHECK {\n            misc_path \"/bin/true x\"\n        }\n    }\n}\n",
    )
    .unwrap();
    let mut loaded = lvsd::config::load(&conf, "x").unwrap();
    let diags = lvsd::config::vet_scripts(&mut loaded);
    let rs = &loaded.config.virtual_servers[0].real_servers;
    let disabled: Vec<bool> = rs
        .iter()
        .flat_map(|r| &r.checkers)
        .map(|c| c.common.disabled)
        .collect();
    assert_eq!(disabled, [true, false, false], "{rs:?}");
    assert!(
        diags
            .iter()
            .any(|d| d.message.contains("/nonexistent/check.sh")
                && d.message.contains("checker is disabled")),
        "{diags:?}"
    );
}

/// A MISC_CHECK run as a user that does not exist is removed at load, as keepalived does
/// ("Unable to set default user for misc script ... - removing").
#[test]
fn misc_check_with_an_unknown_user_is_removed() {
    let dir = tempfile::tempdir().unwrap();
    let conf = dir.path().join("k.conf");
    std::fs::write(
        &conf,
        "global_defs {\n    script_user nosuchuser-lvsd\n}\nvirtual_server 10.9.0.1 80 {\n    \
         real_server 10.9.1.1 80 {\n        MISC_CHECK {\n            misc_path /bin/true\n        \
         }\n    }\n    real_server 10.9.1.2 80 {\n        MISC_CHECK {\n            \
         misc_path /bin/true\n            user root\n        }\n    }\n}\n",
    )
    .unwrap();
    let mut loaded = lvsd::config::load(&conf, "x").unwrap();
    lvsd::config::vet_scripts(&mut loaded);
    let counts: Vec<usize> = loaded.config.virtual_servers[0]
        .real_servers
        .iter()
        .map(|r| r.checkers.len())
        .collect();
    assert_eq!(counts, [0, 1]);
}

/// A 0 `connect_timeout` / `delay_loop` is ignored (the default stays) and a vrrp_script's
/// 0 `interval` / `timeout` becomes 1 second, as in keepalived 2.2.7.
#[test]
fn zero_durations_are_mended_as_keepalived_does() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/configs/bad");
    let load = |name: &str| {
        lvsd::config::load(&dir.join(name), "lvs1")
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .config
    };
    let c = load("zero_connect_timeout.conf");
    let ck = &c.virtual_servers[0].real_servers[0].checkers[0].common;
    assert_eq!((ck.connect_timeout, ck.delay_loop), (None, None));
    let c = load("zero_vs_delay_loop.conf");
    let vs = &c.virtual_servers[0];
    assert_eq!(vs.delay_loop, std::time::Duration::from_secs(60));
    assert_eq!(vs.connect_timeout, None);
    let c = load("zero_script_interval.conf");
    let s = &c.vrrp_scripts[0];
    let one = std::time::Duration::from_secs(1);
    assert_eq!((s.interval, s.timeout), (one, Some(one)));
}

/// VIPs of the other address family than the instance's are dropped, as keepalived 2.2.7
/// does (vrrp_parser.c, alloc_vrrp_vip): the first VIP or `native_ipv6` sets it; the
/// excluded VIPs may mix families.
#[test]
fn vips_of_another_family_are_dropped() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/configs/bad");
    let vips = |name: &str| {
        let c = lvsd::config::load(&dir.join(name), "lvs1")
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .config;
        let i = &c.instances[0];
        let show = |v: &[lvsd::config::VirtualIp]| {
            v.iter().map(|v| v.addr.to_string()).collect::<Vec<_>>()
        };
        (
            show(&i.virtual_ipaddress),
            show(&i.virtual_ipaddress_excluded),
        )
    };
    assert_eq!(
        vips("vip_family_mixed.conf"),
        (
            vec!["10.0.0.1".into(), "10.0.0.2".into(), "10.0.0.3".into()],
            vec!["2001:db8::10".into()]
        )
    );
    assert_eq!(
        vips("vip_family_native_ipv6.conf"),
        (vec!["2001:db8::1".into()], vec![])
    );
}

/// LVS fix-ups of keepalived 2.2.7 (check_data.c, check_parser.c): no lb_algo is wlc; a
/// group range whose end is not above its start is skipped and an empty group removed
/// (with the virtual server naming it); a real server that is the sorry server gives it
/// its inhibit_on_failure setting.
#[test]
fn lvs_fixups_as_keepalived() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/configs/bad");
    let load = |name: &str| {
        lvsd::config::load(&dir.join(name), "lvs1")
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .config
    };
    assert_eq!(load("no_lb_algo.conf").virtual_servers[0].lb_algo, "wlc");
    let c = load("vsg_range_not_greater.conf");
    assert!(c.virtual_server_groups.is_empty());
    assert!(c.virtual_servers.is_empty());
    let c = load("sorry_server_is_real_server.conf");
    assert!(c.virtual_servers[0].sorry_server_inhibit);
}

/// Checker fix-ups of keepalived 2.2.7 (check_api.c, check_file.c, check_http.c): a
/// FILE_CHECK naming no track_file is dropped; a bindto of another family than connect_ip
/// is skipped; a url's second digest is ignored (the first kept).
#[test]
fn checker_fixups_as_keepalived() {
    use lvsd::config::CheckerKind;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/configs/bad");
    let load = |name: &str| {
        lvsd::config::load(&dir.join(name), "lvs1")
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .config
    };
    let c = load("file_check_undefined.conf");
    assert!(c.virtual_servers[0].real_servers[0].checkers.is_empty());
    let c = load("bindto_family.conf");
    let ck = &c.virtual_servers[0].real_servers[0].checkers[0].common;
    assert_eq!(ck.more().bindto, None);
    assert_eq!(ck.more().connect_ip, "2001:db8::1".parse().ok());
    let c = load("digest_twice.conf");
    match &c.virtual_servers[0].real_servers[0].checkers[0].kind {
        CheckerKind::Http(h) => assert_eq!(
            h.urls[0].digest.as_deref(),
            Some("0123456789abcdef0123456789abcdef")
        ),
        other => panic!("{other:?}"),
    }
}

/// A vrrp_script's `interval` and `timeout` are whole seconds, read as keepalived's daemon
/// reads them (C's strtoul prefix, with a warning): `2.5` is 2 seconds, `.2` is 0 and so 1
/// second, `3s` is 3; lvsd once ran `.2` every 200 ms where keepalived runs it every second
/// (found on a real file).
#[test]
fn vrrp_script_seconds_are_read_as_keepalived_reads_them() {
    let text = |interval: &str| {
        format!("vrrp_script chk {{\n    script /bin/true\n    interval {interval}\n    timeout {interval}\n}}\n")
    };
    for (written, secs) in [("2.5", 2), (".2", 1), ("3s", 3), ("4", 4), ("0", 1)] {
        let l = lvsd::config::parse_str(&text(written), Path::new("k.conf"), "x")
            .unwrap_or_else(|e| panic!("{written}: {e}"));
        let s = &l.config.vrrp_scripts[0];
        assert_eq!(
            s.interval,
            std::time::Duration::from_secs(secs),
            "interval {written}"
        );
        assert_eq!(
            s.timeout,
            Some(std::time::Duration::from_secs(secs)),
            "timeout {written}"
        );
        assert_eq!(
            l.warnings.is_empty(),
            written == "4",
            "{written}: {:?}",
            l.warnings
        );
    }
    // A negative one is ignored: keepalived's default, 1 second.
    let l = lvsd::config::parse_str(&text("-2"), Path::new("k.conf"), "x").expect("parses");
    assert_eq!(
        l.config.vrrp_scripts[0].interval,
        std::time::Duration::from_secs(1)
    );
}
