//! Bad configurations: each file in tests/configs/bad/ names, on its first line, the exact
//! error it must produce (`# expect: LINE:COL: error: MESSAGE`); both the library and
//! `lvsd -t` must report it there, and `lvsd -t` must exit 4.

use std::path::{Path, PathBuf};
use std::process::Command;

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

#[test]
fn at_least_twenty_bad_configs() {
    assert!(bad_files().len() >= 20, "only {}", bad_files().len());
}

#[test]
fn each_bad_config_gives_its_precise_error() {
    let mut failures = Vec::new();
    for path in bad_files() {
        let want = expected(&path);
        match lvsd::config::load(&path, "lvs1") {
            Ok(_) => failures.push(format!("{}: loaded without error", path.display())),
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
fn lvsd_t_exits_4_and_prints_the_error() {
    for path in bad_files() {
        let want = expected(&path);
        let out = Command::new(env!("CARGO_BIN_EXE_lvsd"))
            .arg(format!("-t={}", path.display()))
            .arg("-i")
            .arg("lvs1")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(4), "{}: {stderr}", path.display());
        assert!(
            stderr.lines().any(|l| l == want),
            "{}: want {want}\ngot:\n{stderr}",
            path.display()
        );
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
        .arg("-t=tests/configs/global_full.conf")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // global_full.conf enables script security; its fifo script does not exist.
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    assert!(stderr.contains(
        "tests/configs/global_full.conf:21:5: warning: `vrrp_iptables` is not supported yet by lvsd (ignored)"
    ));
    assert!(
        stderr.contains(
            "tests/configs/global_full.conf:20:24: error: script `/usr/local/bin/fifo.sh`:"
        ),
        "{stderr}"
    );
}

#[test]
fn script_security_refuses_a_writable_script() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("check.sh");
    std::fs::write(&script, "#!/bin/sh\nexit 0\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o777)).unwrap();
    let conf = dir.path().join("k.conf");
    let text = format!(
        "global_defs {{\n    enable_script_security\n}}\nvrrp_script chk {{\n    script \"{} arg\"\n}}\n",
        script.display()
    );
    std::fs::write(&conf, &text).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lvsd"))
        .arg(format!("-t={}", conf.display()))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "{stderr}");
    let want = format!(
        "{}:5:12: error: script `{} arg`:",
        conf.display(),
        script.display()
    );
    assert!(stderr.starts_with(&want), "want {want}\ngot {stderr}");
    assert!(stderr.contains("writable by group or others"), "{stderr}");

    // The same file without enable_script_security passes.
    std::fs::write(&conf, text.replace("    enable_script_security\n", "")).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_lvsd"))
        .arg(format!("-t={}", conf.display()))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0));
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
            .arg(format!("-t={}", conf.display()))
            .args(["-i", id])
            .output()
            .unwrap()
            .status
            .code()
    };
    assert_eq!(run("node1"), Some(0));
    assert_eq!(run("node2"), Some(4));
}

#[test]
fn a_missing_file_is_an_error() {
    let out = Command::new(env!("CARGO_BIN_EXE_lvsd"))
        .arg("-t=/nonexistent/keepalived.conf")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&out.stderr)
        .starts_with("/nonexistent/keepalived.conf:1:1: error: cannot read"));
}

#[test]
fn t_alone_tests_the_f_file_and_t_equals_names_one() {
    let ok = Command::new(env!("CARGO_BIN_EXE_lvsd"))
        .args(["-f", "examples/keepalived.conf", "-t"])
        .output()
        .unwrap();
    assert_eq!(ok.status.code(), Some(0));
    // -t=FILE wins over -f.
    let bad = Command::new(env!("CARGO_BIN_EXE_lvsd"))
        .args([
            "-t=tests/configs/bad/bad_state.conf",
            "-f",
            "examples/keepalived.conf",
        ])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(4));
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
    let e = lvsd::config::parse_str(&text, file, "lvs1").expect_err("the typo");
    let line = text[..typo].matches('\n').count() + 1;
    assert!(line > lines_before - 10);
    assert_eq!(
        e.errors[0].to_string(),
        format!(
            "{}:{line}:13: error: unknown keyword `conect_timeout` in TCP_CHECK; did you mean `connect_timeout`?",
            file.display()
        )
    );
}
