//! `config_save_dir DIR`: before and after each reload the VRRP data dump is saved as
//! `DIR/keepalived_vrrp.PID.N.pre` and `.post`. keepalived and lvsd run the same steps.

mod support;

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};
use support::*;

fn conf(dir: &str, vips: &str) -> String {
    format!(
        "global_defs {{
 router_id csave
 config_save_dir {dir}
}}
vrrp_instance VI_1 {{
 interface eth0
 virtual_router_id 83
 priority 150
 advert_int 1
 virtual_ipaddress {{
{vips} }}
}}
"
    )
}

/// The one file of `dir` whose name starts with keepalived_vrrp. and ends with `suffix`.
fn saved(dir: &std::path::Path, suffix: &str) -> Option<String> {
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(6) {
        let found = std::fs::read_dir(dir).ok().and_then(|rd| {
            rd.flatten().map(|e| e.path()).find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("keepalived_vrrp.") && n.ends_with(suffix))
            })
        });
        if let Some(p) = found {
            std::thread::sleep(Duration::from_millis(200));
            return std::fs::read_to_string(p).ok();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

#[test]
fn the_data_dump_saved_around_a_reload() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    require_tool("keepalived");
    for kind in [Kind::Keepalived, Kind::Lvsd] {
        let lab = Lab::new(&format!("csave{}", &kind.label()[..1]), 1);
        let dir = lab.path(&format!("{}-saved", kind.label()));
        let dir_s = dir.to_string_lossy().to_string();
        let d = lab.spawn(0, kind, "d", &conf(&dir_s, " 10.99.0.150/24\n"));
        let ns = lab.node(0).ns.clone();
        assert!(
            wait_addr(
                &ns,
                Ipv4Addr::new(10, 99, 0, 150),
                true,
                Duration::from_secs(10)
            )
            .is_some(),
            "{} never became master",
            kind.label()
        );
        std::fs::write(&d.conf, conf(&dir_s, " 10.99.0.150/24\n 10.99.0.151/24\n")).expect("conf");
        let pid = d.pid().expect("running");
        // SAFETY: the daemon this test started.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGHUP) }, 0);
        let who = kind.label();
        let pre = saved(&dir, ".1.pre").unwrap_or_else(|| panic!("{who}: no .1.pre"));
        let post = saved(&dir, ".1.post").unwrap_or_else(|| panic!("{who}: no .1.post"));
        assert!(
            pre.contains("------< VRRP Topology >------"),
            "{who}: {pre}"
        );
        assert!(!pre.contains("10.99.0.151"), "{who}: pre has the new VIP");
        assert!(
            post.contains("10.99.0.151/24 dev eth0"),
            "{who}: post lacks the new VIP:\n{post}"
        );
    }
}
