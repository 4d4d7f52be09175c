//! Issue 14, target 3: a SIGHUP whose files and outside facts are all unchanged skips the
//! parse and keeps the running configuration; any change takes the full read. lvsd (VRRP
//! side) and keepalived run the same steps on the same files, one instance whose VIPs
//! and track_script come from an included file:
//! 1. SIGHUP, nothing changed: lvsd logs that it kept the running configuration, the VRRP
//!    side changes nothing, the VIP stays;
//! 2. the included file gains a VIP, SIGHUP: read again, the VIP appears;
//! 3. the tracked script starts failing: the instance goes to FAULT, the VIPs go;
//! 4. the script is made writable by others (no file changed), SIGHUP: under
//!    enable_script_security a load now disables the script, as keepalived does, so the
//!    reload must read the files again — the instance is no longer tracked and the VIPs
//!    come back.

mod support;

use std::net::Ipv4Addr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;
use support::*;

const A1: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 150);
const A2: Ipv4Addr = Ipv4Addr::new(10, 99, 0, 151);

fn main_conf(script: &Path, include: &str) -> String {
    format!(
        "global_defs {{
 router_id noop
 enable_script_security
 script_user root
}}
vrrp_script chk {{
 script \"{}\"
 interval 1
 fall 1
 rise 1
}}
include {include}
",
        script.display()
    )
}

fn instance(vips: &str) -> String {
    format!(
        "vrrp_instance VI_1 {{
 interface eth0
 virtual_router_id 86
 priority 150
 advert_int 1
 track_script {{
  chk
 }}
 virtual_ipaddress {{
{vips} }}
}}
"
    )
}

/// Writes the script (mode `mode`) by renaming a new file over it.
fn write_script(path: &Path, exit: u8, mode: u32) {
    let tmp = path.with_extension("new");
    std::fs::write(&tmp, format!("#!/bin/sh\nexit {exit}\n")).expect("script");
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode)).expect("chmod");
    std::fs::rename(&tmp, path).expect("rename");
}

fn hup(d: &Daemon) {
    let pid = d.pid().expect("running");
    // SAFETY: the daemon this test started (keepalived: its parent).
    assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
}

/// What each step left, per daemon.
#[derive(Debug, PartialEq)]
struct Outcome {
    a1_after_noop: bool,
    a2_after_include_edit: bool,
    gone_when_failing: bool,
    back_after_insecure: bool,
}

#[test]
fn an_unchanged_reload_keeps_the_running_configuration_and_any_change_is_read() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    require_tool("keepalived");
    let mut outcomes = Vec::new();
    for kind in [Kind::Lvsd, Kind::Keepalived] {
        let who = kind.label();
        let lab = Lab::new(&format!("noop{}", &who[..1]), 1);
        let ns = lab.node(0).ns.clone();
        let script = lab.path("chk.sh");
        write_script(&script, 0, 0o755);
        let inc_dir = lab.path("conf.d");
        std::fs::create_dir(&inc_dir).expect("conf.d");
        let inc = inc_dir.join("vi_1.conf");
        std::fs::write(&inc, instance(" 10.99.0.150/24\n")).expect("include");
        let pattern = format!("{}/*.conf", inc_dir.display());
        let d = lab.spawn(0, kind, "d", &main_conf(&script, &pattern));
        assert!(
            wait_addr(&ns, A1, true, Duration::from_secs(10)).is_some(),
            "{who} never became master: {}",
            d.log_text()
        );

        // 1. Nothing changed.
        let before = d.log_text();
        hup(&d);
        if kind == Kind::Lvsd {
            assert!(
                d.wait_log(
                    "the configuration files are unchanged; keeping the running configuration",
                    Duration::from_secs(5)
                ),
                "lvsd did not skip the read: {}",
                d.log_text()
            );
            assert!(
                d.wait_log("Reload: no VRRP change", Duration::from_secs(5)),
                "{}",
                d.log_text()
            );
        } else {
            std::thread::sleep(Duration::from_secs(3));
        }
        let a1_after_noop = has_addr(&ns, A1);
        if kind == Kind::Lvsd {
            let new = d.log_text()[before.len()..].to_string();
            assert!(!new.contains("applying VRRP changes"), "{new}");
            assert!(!new.contains("Entering"), "a state changed: {new}");
        }

        // 2. The included file gains a VIP.
        let before = d.log_text();
        std::fs::write(&inc, instance(" 10.99.0.150/24\n 10.99.0.151/24\n")).expect("include");
        hup(&d);
        let a2_after_include_edit = wait_addr(&ns, A2, true, Duration::from_secs(8)).is_some();
        if kind == Kind::Lvsd {
            let new = d.log_text()[before.len()..].to_string();
            assert!(
                new.contains("vi_1.conf changed: reading the configuration"),
                "{new}"
            );
            assert!(!new.contains("files are unchanged"), "{new}");
        }

        // 3. The script fails: FAULT, the VIPs go.
        write_script(&script, 1, 0o755);
        let gone_when_failing = wait_addr(&ns, A1, false, Duration::from_secs(8)).is_some();

        // 4. The script is made insecure: a load now disables it.
        let before = d.log_text();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o777)).expect("chmod");
        hup(&d);
        let back_after_insecure = wait_addr(&ns, A1, true, Duration::from_secs(10)).is_some();
        if kind == Kind::Lvsd {
            let new = d.log_text()[before.len()..].to_string();
            assert!(new.contains("chk.sh"), "{new}");
            assert!(!new.contains("files are unchanged"), "{new}");
        }
        outcomes.push((
            who,
            Outcome {
                a1_after_noop,
                a2_after_include_edit,
                gone_when_failing,
                back_after_insecure,
            },
        ));
    }
    let want = Outcome {
        a1_after_noop: true,
        a2_after_include_edit: true,
        gone_when_failing: true,
        back_after_insecure: true,
    };
    for (who, got) in &outcomes {
        assert_eq!(got, &want, "{who}");
    }
}
