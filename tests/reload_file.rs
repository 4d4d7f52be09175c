//! `reload_file PATH`: a configuration updater touches PATH (non-empty) before SIGHUP and
//! waits for it to go away: keepalived empties it when it starts reading the files and
//! removes it once they are read. keepalived and lvsd run the same steps; the reload is
//! then applied (a new VIP).

mod support;

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};
use support::*;

fn conf(marker: &str, vips: &str) -> String {
    format!(
        "global_defs {{
 router_id rfile
 reload_file {marker}
}}
vrrp_instance VI_1 {{
 interface eth0
 virtual_router_id 85
 priority 150
 advert_int 1
 virtual_ipaddress {{
{vips} }}
}}
"
    )
}

#[test]
fn the_reload_file_goes_away_once_the_files_are_read() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    require_tool("keepalived");
    for kind in [Kind::Keepalived, Kind::Lvsd] {
        let who = kind.label();
        let lab = Lab::new(&format!("rfile{}", &who[..1]), 1);
        let marker = lab.path(&format!("{who}.reload"));
        let m = marker.to_string_lossy().to_string();
        let d = lab.spawn(0, kind, "d", &conf(&m, " 10.99.0.170/24\n"));
        let ns = lab.node(0).ns.clone();
        assert!(
            wait_addr(
                &ns,
                Ipv4Addr::new(10, 99, 0, 170),
                true,
                Duration::from_secs(10)
            )
            .is_some(),
            "{who} never became master"
        );
        std::fs::write(&d.conf, conf(&m, " 10.99.0.170/24\n 10.99.0.171/24\n")).expect("conf");
        std::fs::write(&marker, "updating\n").expect("marker");
        let pid = d.pid().expect("running");
        // SAFETY: the daemon this test started.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
        let t0 = Instant::now();
        while marker.exists() && t0.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(!marker.exists(), "{who} left the reload file");
        assert!(
            wait_addr(
                &ns,
                Ipv4Addr::new(10, 99, 0, 171),
                true,
                Duration::from_secs(5)
            )
            .is_some(),
            "{who} did not apply the reload"
        );
    }
}
