//! `reload_time_file PATH`: a reload at the time PATH names. keepalived and lvsd run the
//! same file; the time is written (UTC, a few seconds ahead) after the new configuration;
//! both apply it when the time comes, not before, and remove PATH.

mod support;

use std::net::Ipv4Addr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use support::*;

fn conf(file: &str, vips: &str) -> String {
    format!(
        "global_defs {{
 router_id rtime
 reload_time_file {file}
}}
vrrp_instance VI_1 {{
 interface eth0
 virtual_router_id 86
 priority 150
 advert_int 1
 virtual_ipaddress {{
{vips} }}
}}
"
    )
}

#[test]
fn a_reload_at_the_time_in_the_file() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    require_tool("keepalived");
    let new_vip = Ipv4Addr::new(10, 99, 0, 181);
    for kind in [Kind::Keepalived, Kind::Lvsd] {
        let who = kind.label();
        let lab = Lab::new(&format!("rtime{}", &who[..1]), 1);
        let file = lab.path(&format!("{who}.time"));
        let f = file.to_string_lossy().to_string();
        let d = lab.spawn(0, kind, "d", &conf(&f, " 10.99.0.180/24\n"));
        let ns = lab.node(0).ns.clone();
        assert!(
            wait_addr(
                &ns,
                Ipv4Addr::new(10, 99, 0, 180),
                true,
                Duration::from_secs(10)
            )
            .is_some(),
            "{who} never became master"
        );
        std::fs::write(&d.conf, conf(&f, " 10.99.0.180/24\n 10.99.0.181/24\n")).expect("conf");
        let at = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_secs()
            + 4;
        let line = format!(
            "{:02}:{:02}:{:02}Z\n",
            at % 86_400 / 3600,
            at % 3600 / 60,
            at % 60
        );
        std::fs::write(&file, line).expect("time file");
        // Not before the time (two seconds early at least)...
        assert!(
            wait_addr(&ns, new_vip, true, Duration::from_secs(2)).is_none(),
            "{who} reloaded before the time"
        );
        // ...but once it has come.
        assert!(
            wait_addr(&ns, new_vip, true, Duration::from_secs(8)).is_some(),
            "{who} did not reload at the time:\n{}",
            d.log_text()
        );
        assert!(!file.exists(), "{who} kept the time file");
    }
}
