//! The static build (scripts/build-static.sh) where nsswitch.conf names NSS modules, as
//! Debian's default does (`passwd: files systemd`). A static glibc loads such a module
//! with dlopen and crashes in it; lvsd's static build must read /etc/passwd and
//! /etc/group itself (src/nss.rs). Before that, `lvsd -t` on any file with a script
//! (whose default user, keepalived_script, is usually not in /etc/passwd) died with
//! SIGSEGV in `_nss_systemd_is_blocked`.
//!
//! The binary: `LVSD_STATIC_BIN` (scripts/test.sh builds it with the dev profile and sets
//! it; CI must have it). Runs `lvsd -t` in a private mount namespace in which
//! /etc/nsswitch.conf names modules for every database (root: unshare and mount).

use std::path::PathBuf;
use std::process::Command;

#[path = "support/root.rs"]
mod root;

fn static_bin() -> Option<PathBuf> {
    match std::env::var_os("LVSD_STATIC_BIN") {
        Some(p) => Some(PathBuf::from(p)),
        None => {
            assert!(
                std::env::var_os("CI").is_none(),
                "CI runs scripts/test.sh, which sets LVSD_STATIC_BIN to the static build"
            );
            eprintln!("SKIP: LVSD_STATIC_BIN is not set (scripts/test.sh sets it)");
            None
        }
    }
}

/// `lvsd -t -f CONF` with `nsswitch` as /etc/nsswitch.conf: (exit code or None when
/// killed by a signal, stderr).
fn config_test(bin: &PathBuf, conf: &str, nsswitch: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let conf_path = dir.path().join("keepalived.conf");
    let ns_path = dir.path().join("nsswitch.conf");
    std::fs::write(&conf_path, conf).expect("write conf");
    std::fs::write(&ns_path, nsswitch).expect("write nsswitch.conf");
    let out = Command::new("unshare")
        .args(["-m", "--propagation", "private", "sh", "-c"])
        .arg(r#"mount --bind "$1" /etc/nsswitch.conf && exec "$2" -t -f "$3""#)
        .arg("sh")
        .arg(&ns_path)
        .arg(bin)
        .arg(&conf_path)
        .output()
        .expect("cannot run unshare");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const NSSWITCH: &str = "passwd: files systemd\ngroup: files systemd\n\
                        hosts: files mdns4_minimal [NOTFOUND=return] resolve dns myhostname\n";

#[test]
fn static_build_resolves_script_users_without_nss_modules() {
    let Some(bin) = static_bin() else { return };
    if root::skip_without_root("a private mount namespace") {
        return;
    }
    // The default script user (keepalived_script, absent here): lvsd -t ends (6: the
    // scripts run without enable_script_security) and says so.
    let conf = "vrrp_script chk {\n  script \"/bin/true\"\n}\n";
    let (code, err) = config_test(&bin, conf, NSSWITCH);
    assert!(code.is_some(), "lvsd -t was killed by a signal:\n{err}");
    assert!(err.contains("enable_script_security"), "{err}");

    // A script user from /etc/passwd, and one nobody has: the second is an error, not a
    // crash, and names the user.
    let conf = "global_defs {\n  script_user root root\n  enable_script_security\n}\n\
                vrrp_script chk {\n  script \"/bin/true\"\n}\n";
    let (code, err) = config_test(&bin, conf, NSSWITCH);
    assert_eq!(code, Some(0), "script_user root:\n{err}");
    let conf = "global_defs {\n  script_user no_such_user_lvsd\n}\n\
                vrrp_script chk {\n  script \"/bin/true\"\n}\n";
    let (code, err) = config_test(&bin, conf, NSSWITCH);
    assert!(
        code.is_some() && code != Some(0),
        "an unknown script_user must be refused, not crash:\n{err}"
    );
    assert!(err.contains("no_such_user_lvsd"), "{err}");
}
