//! Issue 17: the VRRP password (`auth_pass`) is masked wherever lvsd shows a configuration
//! or a state of its own accord (debug output that reaches logs, `-d --json`, the control
//! socket's state), and kept where keepalived 2.2.7 itself writes it (keepalived.data's
//! `Password = …`, keepalived.json's `auth_data`, `-d`'s configuration text), for drop-in
//! compatibility.

use lvsd::vrrp::dump::{Counters, View};
use lvsd::vrrp::params::InstanceParams;
use lvsd::vrrp::state::Instance;
use std::path::Path;
use std::time::SystemTime;

const SECRET: &str = "s3cr3tpw";

const CONF: &str = r#"
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority 100
    authentication {
        auth_type PASS
        auth_pass s3cr3tpw
    }
    virtual_ipaddress {
        192.0.2.10/24
    }
}
"#;

#[test]
fn auth_pass_is_masked_except_where_keepalived_prints_it() {
    let loaded = lvsd::config::parse_str(CONF, Path::new("keepalived.conf"), "test")
        .unwrap_or_else(|e| panic!("{:?}", e.errors));
    let config = &loaded.config;
    let inst = &config.instances[0];
    assert_eq!(
        inst.authentication.as_ref().map(|a| a.auth_pass.as_str()),
        Some(SECRET),
        "the configuration keeps the password itself"
    );

    // Shown by lvsd of its own accord: masked.
    let debug = format!("{config:?}");
    assert!(!debug.contains(SECRET), "Debug of the configuration");
    assert!(debug.contains(lvsd::config::model::SECRET_MASK));
    let json = serde_json::to_string(config).unwrap();
    assert!(!json.contains(SECRET), "-d --json: {json}");
    assert!(json.contains("\"auth_pass\":\"********\""), "{json}");
    let params = InstanceParams::from_config(inst, &config.global, &config.vrrp_scripts)
        .expect("parameters");
    assert!(
        !format!("{params:?}").contains(SECRET),
        "Debug of the parameters"
    );
    let instance = Instance::new(params);
    assert!(
        !format!("{instance:?}").contains(SECRET),
        "Debug of the instance"
    );
    let view = View {
        inst: &instance,
        sync_group: None,
        last_transition: SystemTime::now(),
        read_timeout: None,
        extra_if_garp_next: None,
        src_ip: None,
        fds: None,
        rx_buf: 0,
        rx_if: None,
        vipset: false,
        counters: Counters::default(),
        routes: &[],
        rules: &[],
    };
    let ctl = lvsd::vrrp::ctl_view::state_json(std::slice::from_ref(&view));
    assert!(ctl.contains("\"VI_1\""), "{ctl}");
    assert!(!ctl.contains(SECRET), "control socket state: {ctl}");

    // Where keepalived 2.2.7 prints it, lvsd does too (same layout).
    let data = lvsd::vrrp::dump::data(
        std::slice::from_ref(&view),
        &[],
        &[],
        &[],
        &[],
        lvsd::vrrp::dump::Statics::default(),
    );
    assert!(data.contains(&format!("   Password = {SECRET}")), "{data}");
    let kjson = lvsd::vrrp::dump::json(std::slice::from_ref(&view)).unwrap_or_default();
    assert!(
        kjson.contains(SECRET),
        "keepalived.json's auth_data: {kjson}"
    );
    assert!(lvsd::config::print(config).contains(SECRET), "-d's text");
}
