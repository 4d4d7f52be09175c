//! `linkbeat_interfaces`: the link state of eth0 read by polling (ETHTOOL_GLINK and the
//! interface flags, every second) instead of rtnetlink. The carrier goes away (the veth's
//! peer is set down) and comes back; keepalived and lvsd, each in a namespace of its own
//! on the same file, both report it ("Linkbeat reports eth0 down|up"), give up the VIP
//! and take it back.

mod support;

use std::net::Ipv4Addr;
use std::process::Command;
use std::time::Duration;
use support::*;

const CONF: &str = "global_defs { router_id lbeat }
linkbeat_interfaces {
 eth0
}
vrrp_instance VI_1 {
 interface eth0
 virtual_router_id 84
 priority 150
 advert_int 1
 virtual_ipaddress { 10.99.0.160/24 }
}
";

fn port(lab: &Lab, up: bool) {
    let state = if up { "up" } else { "down" };
    let out = Command::new("ip")
        .args(["-n", &lab.hub, "link", "set", "p1", state])
        .output()
        .expect("ip");
    assert!(
        out.status.success(),
        "ip -n {} link set p1: {}",
        lab.hub,
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_polled_link_going_down_and_up() {
    if support::skip_without_root("network namespaces") {
        return;
    }
    require_tool("keepalived");
    let vip = Ipv4Addr::new(10, 99, 0, 160);
    for kind in [Kind::Keepalived, Kind::Lvsd] {
        let who = kind.label();
        let lab = Lab::new(&format!("lbeat{}", &who[..1]), 1);
        let d = lab.spawn(0, kind, "d", CONF);
        let ns = lab.node(0).ns.clone();
        assert!(
            wait_addr(&ns, vip, true, Duration::from_secs(10)).is_some(),
            "{who} never became master"
        );
        port(&lab, false);
        assert!(
            wait_addr(&ns, vip, false, Duration::from_secs(5)).is_some(),
            "{who} kept the VIP with eth0's carrier gone"
        );
        assert!(
            d.wait_log("Linkbeat reports eth0 down", Duration::from_secs(3)),
            "{who}: no linkbeat report:\n{}",
            d.log_text()
        );
        port(&lab, true);
        assert!(
            wait_addr(&ns, vip, true, Duration::from_secs(10)).is_some(),
            "{who} did not take the VIP back"
        );
        assert!(
            d.wait_log("Linkbeat reports eth0 up", Duration::from_secs(3)),
            "{who}: no linkbeat up report"
        );
    }
}
