//! `reload_check_config LOG_FILE`: keepalived runs its config test before a reload and
//! reloads only when the test passes (exit 0), the test's report in LOG_FILE. A new file
//! with a mere warning is therefore refused and the running state kept; a clean file is
//! taken. lvsd and keepalived run the same steps side by side.

mod support;

use std::net::Ipv4Addr;
use std::time::Duration;
use support::*;

fn conf(log: &str, vips: &str, extra: &str) -> String {
    format!(
        "global_defs {{
 router_id rcheck
 reload_check_config {log}
{extra}}}
vrrp_instance VI_1 {{
 interface eth0
 virtual_router_id 82
 priority 150
 advert_int 1
 virtual_ipaddress {{
{vips} }}
}}
"
    )
}

fn hup(d: &Daemon) {
    let pid = d.pid().expect("running");
    // SAFETY: the daemon this test started (keepalived: its parent).
    assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
}

#[test]
fn a_reload_with_a_warning_is_refused_and_reported() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    require_tool("keepalived");
    let mut outcomes = Vec::new();
    for kind in [Kind::Keepalived, Kind::Lvsd] {
        let lab = Lab::new(&format!("rchk{}", &kind.label()[..1]), 1);
        let log = lab.path(&format!("{}-check.log", kind.label()));
        let log_s = log.to_string_lossy().to_string();
        let v1 = " 10.99.0.140/24\n";
        let d = lab.spawn(0, kind, "d", &conf(&log_s, v1, ""));
        let ns = lab.node(0).ns.clone();
        let a1 = Ipv4Addr::new(10, 99, 0, 140);
        let a2 = Ipv4Addr::new(10, 99, 0, 141);
        assert!(
            wait_addr(&ns, a1, true, Duration::from_secs(10)).is_some(),
            "{} never became master",
            kind.label()
        );
        // A second VIP and an unknown keyword: refused.
        let v2 = " 10.99.0.140/24\n 10.99.0.141/24\n";
        std::fs::write(&d.conf, conf(&log_s, v2, " no_such_keyword_here\n")).expect("conf");
        hup(&d);
        let taken_with_warning = wait_addr(&ns, a2, true, Duration::from_secs(4)).is_some();
        let report = std::fs::read_to_string(&log).unwrap_or_default();
        // The same without the warning: taken, the report empty.
        std::fs::write(&d.conf, conf(&log_s, v2, "")).expect("conf");
        hup(&d);
        let taken_clean = wait_addr(&ns, a2, true, Duration::from_secs(6)).is_some();
        let report_after = std::fs::read_to_string(&log).unwrap_or_default();
        outcomes.push((
            kind.label(),
            taken_with_warning,
            report.contains("no_such_keyword_here"),
            taken_clean,
            report_after.contains("no_such_keyword_here"),
        ));
    }
    for (who, warned_taken, reported, clean_taken, stale) in &outcomes {
        assert!(!warned_taken, "{who}: a file with a warning was reloaded");
        assert!(reported, "{who}: the warning is not in the check log");
        assert!(clean_taken, "{who}: the clean file was not reloaded");
        assert!(!stale, "{who}: the check log kept the old report");
    }
}
