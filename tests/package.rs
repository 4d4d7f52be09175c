//! THIS TEST MODIFIES THE SYSTEM (root): it builds the Debian package with
//! scripts/build-deb.sh, installs it with `dpkg -i` on this machine, checks what it put
//! where, then purges it (also when a check fails). It refuses to run where a package
//! named lvsd or a /usr/sbin/lvsd is already there, so it never removes what it did not
//! install. The binary is built with the dev profile (PROFILE=dev) to spare a release
//! build; the package is otherwise the one `scripts/build-deb.sh` makes.

use std::path::Path;
use std::process::Command;

#[path = "support/root.rs"]
mod root;

fn run(cmd: &mut Command) -> (bool, String) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?}: {e}"));
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

fn installed() -> bool {
    run(Command::new("dpkg-query").args(["-W", "-f=${Status}", "lvsd"]))
        .1
        .contains("ok installed")
}

/// Purges the package when dropped: the machine is left as it was, also on a panic.
struct Purge;

impl Drop for Purge {
    fn drop(&mut self) {
        let (ok, out) = run(Command::new("dpkg").args(["--purge", "lvsd"]));
        if !ok {
            eprintln!("dpkg --purge lvsd failed: {out}");
        }
    }
}

#[test]
fn deb_installs_with_dpkg_and_purges() {
    if root::skip_without_root("dpkg") {
        return;
    }
    let has_cargo_deb = run(Command::new("cargo").args(["deb", "--version"])).0;
    assert!(
        has_cargo_deb,
        "cargo-deb is not installed: run `bash scripts/install-test-deps.sh` (as root) first"
    );
    assert!(
        !installed() && !Path::new("/usr/sbin/lvsd").exists(),
        "a package lvsd or /usr/sbin/lvsd is already on this machine: not touching it"
    );
    let root = env!("CARGO_MANIFEST_DIR");
    let (ok, out) = run(Command::new("bash")
        .arg(format!("{root}/scripts/build-deb.sh"))
        .env("PROFILE", "dev"));
    assert!(ok, "build-deb.sh failed:\n{out}");
    let deb = out
        .lines()
        .rev()
        .find(|l| l.ends_with(".deb"))
        .unwrap_or_else(|| panic!("no .deb named:\n{out}"))
        .trim()
        .to_string();

    // What the package says before it is installed.
    let (_, info) = run(Command::new("dpkg-deb").args(["-I", &deb]));
    assert!(info.contains("Package: lvsd"), "{info}");
    assert!(info.contains("Section: net"), "{info}");
    let ctl = tempfile::tempdir().unwrap();
    let (ok, out) = run(Command::new("dpkg-deb").arg("-e").arg(&deb).arg(ctl.path()));
    assert!(ok, "{out}");
    let conffiles = std::fs::read_to_string(ctl.path().join("conffiles")).unwrap_or_default();
    for f in ["/etc/default/lvsd", "/etc/init.d/lvsd"] {
        assert!(
            conffiles.lines().any(|l| l == f),
            "{f} is not a conffile:\n{conffiles}"
        );
    }
    // An install or upgrade starts and restarts nothing (restarting the master moves the
    // VIPs): no maintainer script starts, restarts or stops the unit.
    for script in ["preinst", "postinst", "prerm", "postrm"] {
        let text = std::fs::read_to_string(ctl.path().join(script)).unwrap_or_default();
        for verb in ["restart", "try-restart", " start", "systemctl start"] {
            assert!(
                !text
                    .lines()
                    .any(|l| l.contains("deb-systemd-invoke") && l.contains(verb)),
                "{script} would {verb} lvsd:\n{text}"
            );
        }
    }

    let _purge = Purge;
    let (ok, out) = run(Command::new("dpkg").args(["-i", &deb]));
    assert!(ok, "dpkg -i failed:\n{out}");
    assert!(installed());
    for f in [
        "/usr/sbin/lvsd",
        "/etc/init.d/lvsd",
        "/etc/default/lvsd",
        "/etc/default/lvsd-real-server",
        "/usr/share/man/man8/lvsd.8.gz",
        "/usr/share/doc/lvsd/examples/keepalived.conf",
    ] {
        assert!(Path::new(f).exists(), "{f} not installed");
    }
    let unit = [
        "/lib/systemd/system/lvsd.service",
        "/usr/lib/systemd/system/lvsd.service",
    ]
    .into_iter()
    .find(|p| Path::new(p).exists())
    .expect("lvsd.service installed");
    let text = std::fs::read_to_string(unit).unwrap();
    assert!(
        text.contains("ExecStart=/usr/sbin/lvsd --dont-fork $DAEMON_ARGS"),
        "{text}"
    );
    // The real-server side's unit, next to it.
    let rs_unit = [
        "/lib/systemd/system/lvsd-real-server.service",
        "/usr/lib/systemd/system/lvsd-real-server.service",
    ]
    .into_iter()
    .find(|p| Path::new(p).exists())
    .expect("lvsd-real-server.service installed");
    let text = std::fs::read_to_string(rs_unit).unwrap();
    assert!(text.contains("real-server $REAL_SERVER_ARGS"), "{text}");
    // The installed binary runs, and checks the shipped example.
    let (ok, out) = run(Command::new("/usr/sbin/lvsd").arg("-v"));
    assert!(ok && out.contains("lvsd"), "{out}");
    let (_, out) = run(Command::new("/usr/sbin/lvsd").args([
        "-t",
        "-f",
        "/usr/share/doc/lvsd/examples/keepalived.conf",
    ]));
    assert!(!out.contains("error:"), "the example config: {out}");
    // The man page is there and reads as lvsd(8).
    let (ok, out) = run(Command::new("sh").args(["-c", "zcat /usr/share/man/man8/lvsd.8.gz"]));
    assert!(
        ok && out.contains(".TH lvsd 8") && out.contains("reload\\-wait"),
        "{out}"
    );
    drop(_purge);
    assert!(!installed(), "still installed after --purge");
    for f in ["/usr/sbin/lvsd", "/etc/default/lvsd", unit] {
        assert!(!Path::new(f).exists(), "{f} left after --purge");
    }
}
