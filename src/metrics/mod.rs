//! The Prometheus endpoint (`--metrics-listen ADDR:PORT`, off unless given): each
//! `GET /metrics` asks both sides for their state exactly as `lvsd ctl state` does
//! ([`crate::ctl::server::state_of`]) and renders it in the text exposition format
//! (version 0.0.4), written by hand here: the format is small and the state is already a
//! value.
//!
//! Names follow mehdy/keepalived-exporter where they overlap (`keepalived_vrrp_state`
//! with `iname`, `intf`, `vrid`, `ip_address`; the advert and error counters; the IPVS
//! counters `keepalived_lvs_vip_*` and `keepalived_lvs_rs_*` with `addr` and `proto`), so
//! its dashboards keep working; the rest is `lvsd_…`. The exporter's IPVS counters have
//! no `_total` suffix: they are typed `untyped` here, which keeps `promtool check metrics`
//! quiet and `rate()` working.

pub mod config_status;
pub mod server;

use config_status::ConfigStatus;
use serde_json::Value;
use std::fmt::Write;

/// keepalived's number for a VRRP state (vrrp.h), as keepalived-exporter exports it.
fn state_number(s: &str) -> Option<u64> {
    Some(match s {
        "INIT" => 0,
        "BACKUP" => 1,
        "MASTER" => 2,
        "FAULT" => 3,
        "STOP" => 98,
        _ => return None,
    })
}

/// keepalived's per-instance drop counters (the names of lvsd's state) and the names
/// keepalived-exporter gives them.
const DROPS: &[(&str, &str, &str)] = &[
    (
        "packet_len_err",
        "keepalived_packet_length_errors_total",
        "Adverts dropped for their length",
    ),
    (
        "advert_interval_err",
        "keepalived_advertisements_interval_errors_total",
        "Adverts with another advertisement interval",
    ),
    (
        "ip_ttl_err",
        "keepalived_ip_ttl_errors_total",
        "Adverts dropped for their TTL / hop limit",
    ),
    (
        "invalid_type_rcvd",
        "keepalived_invalid_type_received_total",
        "Packets of an invalid VRRP type",
    ),
    (
        "addr_list_err",
        "keepalived_address_list_errors_total",
        "Adverts whose address list differs",
    ),
    (
        "invalid_authtype",
        "keepalived_authentication_invalid_total",
        "Adverts with an invalid authentication type",
    ),
    (
        "authtype_mismatch",
        "keepalived_authentication_mismatch_total",
        "Adverts with another authentication type",
    ),
    (
        "auth_failure",
        "keepalived_authentication_failure_total",
        "Adverts failing authentication",
    ),
    (
        "pri_zero_rcvd",
        "keepalived_priority_zero_received_total",
        "Adverts with priority 0 received",
    ),
    (
        "pri_zero_sent",
        "keepalived_priority_zero_sent_total",
        "Adverts with priority 0 sent",
    ),
];

/// One metric family being written: its HELP and TYPE lines, then its samples.
struct Family {
    name: &'static str,
    help: &'static str,
    kind: &'static str,
    samples: Vec<(Vec<(&'static str, String)>, f64)>,
}

impl Family {
    fn new(name: &'static str, kind: &'static str, help: &'static str) -> Family {
        Family {
            name,
            help,
            kind,
            samples: Vec::new(),
        }
    }

    fn push(&mut self, labels: Vec<(&'static str, String)>, value: f64) {
        self.samples.push((labels, value));
    }

    fn write(&self, out: &mut String) {
        if self.samples.is_empty() {
            return;
        }
        let _ = writeln!(out, "# HELP {} {}", self.name, self.help);
        let _ = writeln!(out, "# TYPE {} {}", self.name, self.kind);
        for (labels, value) in &self.samples {
            out.push_str(self.name);
            if !labels.is_empty() {
                out.push('{');
                for (i, (k, v)) in labels.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "{k}=\"{}\"", escape(v));
                }
                out.push('}');
            }
            let _ = writeln!(out, " {value}");
        }
    }
}

/// A label value as the exposition format wants it: `\`, `"` and newlines escaped.
fn escape(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

fn num(v: &Value) -> f64 {
    v.as_f64().unwrap_or(0.0)
}

fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        v => v.to_string(),
    }
}

fn items(v: &Value) -> &[Value] {
    v.as_array().map(Vec::as_slice).unwrap_or(&[])
}

/// The kernel's counters of a service or destination under keepalived-exporter's names
/// (`keepalived_lvs_vip_…` / `keepalived_lvs_rs_…` + these) and the `Stats` field each
/// comes from.
const IPVS_COUNTERS: &[(&str, &str, &str)] = &[
    ("conn", "conns", "Connections scheduled (kernel counter)"),
    ("in_packets", "inpkts", "Packets in (kernel counter)"),
    ("out_packets", "outpkts", "Packets out (kernel counter)"),
    ("in_bytes", "inbytes", "Bytes in (kernel counter)"),
    ("out_bytes", "outbytes", "Bytes out (kernel counter)"),
];

/// The kernel's rate estimates of a service or destination: three families
/// (`…_connections_per_second`, `…_packets_per_second`, `…_bytes_per_second`) and their
/// help.
const IPVS_RATE_HELP: [&str; 3] = [
    "Connection rate (kernel estimate)",
    "Packet rate (kernel estimate)",
    "Byte rate (kernel estimate)",
];

/// Each rate: its family (index in [`IPVS_RATE_HELP`]), the `Stats` field, the
/// `direction` label ("" for none).
const IPVS_RATES: &[(usize, &str, &str)] = &[
    (0, "cps", ""),
    (1, "inpps", "in"),
    (1, "outpps", "out"),
    (2, "inbps", "in"),
    (2, "outbps", "out"),
];

/// keepalived-exporter's `addr` and `proto` labels of a service named as `lvsd ctl` names
/// it (`tcp:10.0.0.1:80`, `tcp:[2001:db8::1]:80`, `fwmark:7`): the address and port
/// joined by a colon (no brackets, as the exporter writes IPv6) and the protocol in
/// lower case; a firewall-mark service is `fwmark:MARK` with proto `fwmark`.
fn exporter_service_labels(service: &str) -> (String, String) {
    match service.split_once(':') {
        Some(("fwmark", _)) => (service.to_string(), "fwmark".to_string()),
        Some((proto, rest)) => (exporter_addr(rest), proto.to_string()),
        None => (service.to_string(), String::new()),
    }
}

/// `10.0.0.1:80` → `10.0.0.1:80`, `[2001:db8::1]:80` → `2001:db8::1:80` (the exporter's
/// form); anything else as it is.
fn exporter_addr(addr: &str) -> String {
    match addr.parse::<std::net::SocketAddr>() {
        Ok(a) => format!("{}:{}", a.ip(), a.port()),
        Err(_) => addr.to_string(),
    }
}

/// The families of one kind of IPVS entry (`vip` for services, `rs` for destinations).
struct IpvsFamilies {
    counters: Vec<Family>,
    rates: Vec<Family>,
}

impl IpvsFamilies {
    fn new(counter_names: [&'static str; 5], rate_names: [&'static str; 3]) -> IpvsFamilies {
        IpvsFamilies {
            counters: IPVS_COUNTERS
                .iter()
                .zip(counter_names)
                .map(|((_, _, help), name)| Family::new(name, "untyped", help))
                .collect(),
            rates: rate_names
                .iter()
                .zip(IPVS_RATE_HELP)
                .map(|(name, help)| Family::new(name, "gauge", help))
                .collect(),
        }
    }

    /// The samples of one entry's `stats` (a `Stats` as JSON): the counters with
    /// `exporter_labels`, the rates with `labels`.
    fn push(
        &mut self,
        stats: &Value,
        exporter_labels: &[(&'static str, String)],
        labels: &[(&'static str, String)],
    ) {
        for ((_, field, _), fam) in IPVS_COUNTERS.iter().zip(self.counters.iter_mut()) {
            fam.push(exporter_labels.to_vec(), num(&stats[*field]));
        }
        for (family, field, direction) in IPVS_RATES {
            let mut l = labels.to_vec();
            if !direction.is_empty() {
                l.push(("direction", (*direction).to_string()));
            }
            if let Some(fam) = self.rates.get_mut(*family) {
                fam.push(l, num(&stats[*field]));
            }
        }
    }

    fn write(&self, out: &mut String) {
        for f in self.counters.iter().chain(&self.rates) {
            f.write(out);
        }
    }
}

/// The exposition text for `state`, the value `lvsd ctl state` answers with, and the
/// configuration's status when the daemon keeps one.
pub fn render(state: &Value, config: Option<&ConfigStatus>) -> String {
    let mut up = Family::new("lvsd_up", "gauge", "1: lvsd answers");
    up.push(vec![], 1.0);
    let mut ka_up = Family::new(
        "keepalived_up",
        "gauge",
        "1: lvsd answers (keepalived-exporter's name)",
    );
    ka_up.push(vec![], 1.0);
    let mut side_ok = Family::new(
        "lvsd_side_up",
        "gauge",
        "1: the side (vrrp, checkers) answered this scrape",
    );

    let mut vstate = Family::new(
        "keepalived_vrrp_state",
        "gauge",
        "VRRP state per virtual address: 0 INIT, 1 BACKUP, 2 MASTER, 3 FAULT, 98 STOP",
    );
    let mut prio = Family::new(
        "lvsd_vrrp_priority",
        "gauge",
        "VRRP priority after tracking",
    );
    let mut base = Family::new(
        "lvsd_vrrp_base_priority",
        "gauge",
        "VRRP priority as configured",
    );
    let mut held = Family::new(
        "lvsd_vrrp_vips_held",
        "gauge",
        "1: the instance holds its virtual addresses",
    );
    let mut last = Family::new(
        "lvsd_vrrp_last_transition_timestamp_seconds",
        "gauge",
        "Unix time of the instance's last change of state",
    );
    let mut became = Family::new(
        "keepalived_become_master_total",
        "counter",
        "Times the instance became master",
    );
    let mut release = Family::new(
        "keepalived_release_master_total",
        "counter",
        "Times the instance left master",
    );
    let mut sent = Family::new(
        "keepalived_advertisements_sent_total",
        "counter",
        "Adverts sent",
    );
    let mut rcvd = Family::new(
        "keepalived_advertisements_received_total",
        "counter",
        "Adverts received",
    );
    let mut drops: Vec<Family> = DROPS
        .iter()
        .map(|(_, name, help)| Family::new(name, "counter", help))
        .collect();

    match state.get("vrrp") {
        Some(_) => side_ok.push(vec![("side", "vrrp".into())], 1.0),
        None if state.get("vrrp_error").is_some() => {
            side_ok.push(vec![("side", "vrrp".into())], 0.0)
        }
        None => {}
    }
    for inst in items(state.get("vrrp").unwrap_or(&Value::Null)) {
        let iname = text(&inst["name"]);
        let intf = text(&inst["interface"]);
        let vrid = text(&inst["vrid"]);
        let common = || {
            vec![
                ("iname", iname.clone()),
                ("intf", intf.clone()),
                ("vrid", vrid.clone()),
            ]
        };
        if let Some(n) = inst["state"].as_str().and_then(state_number) {
            let vips = items(&inst["vips"]);
            if vips.is_empty() {
                let mut l = common();
                l.push(("ip_address", String::new()));
                vstate.push(l, n as f64);
            }
            for vip in vips {
                vstate.push(
                    vec![
                        ("iname", iname.clone()),
                        ("intf", text(&vip["interface"])),
                        ("vrid", vrid.clone()),
                        ("ip_address", text(&vip["address"])),
                    ],
                    n as f64,
                );
            }
        }
        prio.push(common(), num(&inst["priority"]));
        base.push(common(), num(&inst["base_priority"]));
        held.push(
            common(),
            if inst["vips_held"].as_bool() == Some(true) {
                1.0
            } else {
                0.0
            },
        );
        last.push(common(), num(&inst["last_transition"]));
        became.push(common(), num(&inst["become_master"]));
        release.push(common(), num(&inst["release_master"]));
        sent.push(common(), num(&inst["adverts_sent"]));
        rcvd.push(common(), num(&inst["adverts_received"]));
        for ((key, _, _), fam) in DROPS.iter().zip(drops.iter_mut()) {
            fam.push(common(), num(&inst["drops"][key]));
        }
    }

    let mut rs_up = Family::new(
        "lvsd_real_server_up",
        "gauge",
        "1: every checker of the real server says up",
    );
    let mut rs_weight = Family::new(
        "lvsd_real_server_weight",
        "gauge",
        "The real server's configured weight",
    );
    let mut rs_admin = Family::new(
        "lvsd_real_server_admin_out",
        "gauge",
        "1: taken out of rotation by lvsd ctl (state: disabled or draining)",
    );
    let mut rs_checker = Family::new(
        "lvsd_real_server_checker_up",
        "gauge",
        "Each checker's verdict (1 up), by its place in the file",
    );
    let mut vs_quorum = Family::new(
        "lvsd_virtual_server_quorum_up",
        "gauge",
        "1: the virtual server has its quorum",
    );
    let mut vs_weight = Family::new(
        "lvsd_virtual_server_live_weight",
        "gauge",
        "Sum of the weights of the live real servers",
    );
    let mut d_active = Family::new(
        "lvsd_ipvs_destination_active_connections",
        "gauge",
        "Active connections of the IPVS destination (kernel)",
    );
    let mut d_inactive = Family::new(
        "lvsd_ipvs_destination_inactive_connections",
        "gauge",
        "Inactive connections of the IPVS destination (kernel)",
    );
    let mut d_weight = Family::new(
        "lvsd_ipvs_destination_weight",
        "gauge",
        "Weight of the IPVS destination in the kernel table",
    );
    let mut rs_checks = Family::new(
        "lvsd_real_server_checks_total",
        "counter",
        "Attempts of each checker, by its place in the file",
    );
    let mut rs_check_failures = Family::new(
        "lvsd_real_server_check_failures_total",
        "counter",
        "Failed attempts of each checker (retries included)",
    );
    let mut rs_check_duration = Family::new(
        "lvsd_real_server_last_check_duration_seconds",
        "gauge",
        "How long each checker's last attempt took",
    );
    let mut vip = IpvsFamilies::new(
        [
            "keepalived_lvs_vip_conn",
            "keepalived_lvs_vip_in_packets",
            "keepalived_lvs_vip_out_packets",
            "keepalived_lvs_vip_in_bytes",
            "keepalived_lvs_vip_out_bytes",
        ],
        [
            "lvsd_ipvs_service_connections_per_second",
            "lvsd_ipvs_service_packets_per_second",
            "lvsd_ipvs_service_bytes_per_second",
        ],
    );
    let mut rs_ipvs = IpvsFamilies::new(
        [
            "keepalived_lvs_rs_conn",
            "keepalived_lvs_rs_in_packets",
            "keepalived_lvs_rs_out_packets",
            "keepalived_lvs_rs_in_bytes",
            "keepalived_lvs_rs_out_bytes",
        ],
        [
            "lvsd_ipvs_destination_connections_per_second",
            "lvsd_ipvs_destination_packets_per_second",
            "lvsd_ipvs_destination_bytes_per_second",
        ],
    );

    match state.get("lvs") {
        Some(_) => side_ok.push(vec![("side", "checkers".into())], 1.0),
        None if state.get("lvs_error").is_some() => {
            side_ok.push(vec![("side", "checkers".into())], 0.0)
        }
        None => {}
    }
    let lvs = state.get("lvs").unwrap_or(&Value::Null);
    for vs in items(&lvs["virtual_servers"]) {
        let name = text(&vs["name"]);
        let vl = || vec![("virtual_server", name.clone())];
        vs_quorum.push(
            vl(),
            if vs["quorum_up"].as_bool() == Some(true) {
                1.0
            } else {
                0.0
            },
        );
        vs_weight.push(vl(), num(&vs["live_weight"]));
        for rs in items(&vs["real_servers"]) {
            let server = text(&rs["server"]);
            let rl = || {
                vec![
                    ("virtual_server", name.clone()),
                    ("real_server", server.clone()),
                ]
            };
            rs_up.push(
                rl(),
                if rs["alive"].as_bool() == Some(true) {
                    1.0
                } else {
                    0.0
                },
            );
            rs_weight.push(rl(), num(&rs["weight"]));
            let admin = rs["admin"].as_str().unwrap_or("");
            for st in ["disabled", "draining"] {
                let mut l = rl();
                l.push(("state", st.into()));
                rs_admin.push(l, if admin == st { 1.0 } else { 0.0 });
            }
            for (i, c) in items(&rs["checkers"]).iter().enumerate() {
                let mut l = rl();
                l.push(("checker", i.to_string()));
                rs_checker.push(l, if c.as_str() == Some("up") { 1.0 } else { 0.0 });
            }
            for (i, c) in items(&rs["checker_counts"]).iter().enumerate() {
                if c.is_null() {
                    continue;
                }
                let l = || {
                    let mut l = rl();
                    l.push(("checker", i.to_string()));
                    l
                };
                let checks = num(&c["checks"]);
                rs_checks.push(l(), checks);
                rs_check_failures.push(l(), num(&c["failures"]));
                if checks > 0.0 {
                    rs_check_duration.push(l(), num(&c["last_duration_us"]) / 1e6);
                }
            }
        }
    }
    for svc in items(&lvs["table"]) {
        let service = text(&svc["service"]);
        let (addr, proto) = exporter_service_labels(&service);
        if let Some(stats) = svc.get("stats") {
            vip.push(
                stats,
                &[("addr", addr.clone()), ("proto", proto.clone())],
                &[("service", service.clone())],
            );
        }
        for d in items(&svc["dests"]) {
            let l = || vec![("service", service.clone()), ("server", text(&d["server"]))];
            if let Some(stats) = d.get("stats") {
                rs_ipvs.push(
                    stats,
                    &[
                        ("addr", exporter_addr(&text(&d["server"]))),
                        ("proto", proto.clone()),
                        ("vip", addr.clone()),
                    ],
                    &l(),
                );
            }
            d_weight.push(l(), num(&d["weight"]));
            if let Some(n) = d["active_conns"].as_f64() {
                d_active.push(l(), n);
            }
            if let Some(n) = d["inactive_conns"].as_f64() {
                d_inactive.push(l(), n);
            }
        }
    }

    let mut out = String::new();
    for f in [
        &up, &ka_up, &side_ok, &vstate, &prio, &base, &held, &last, &became, &release, &sent, &rcvd,
    ] {
        f.write(&mut out);
    }
    for f in &drops {
        f.write(&mut out);
    }
    for f in [
        &vs_quorum,
        &vs_weight,
        &rs_up,
        &rs_weight,
        &rs_admin,
        &rs_checker,
        &rs_checks,
        &rs_check_failures,
        &rs_check_duration,
        &d_weight,
        &d_active,
        &d_inactive,
    ] {
        f.write(&mut out);
    }
    vip.write(&mut out);
    rs_ipvs.write(&mut out);
    if let Some(c) = config {
        write_config(c, &mut out);
    }
    out
}

/// The configuration's families: its hash, when it was loaded, the reloads.
fn write_config(c: &ConfigStatus, out: &mut String) {
    let mut info = Family::new(
        "lvsd_config_info",
        "gauge",
        "1, with the SHA-256 of the running configuration (includes applied)",
    );
    info.push(vec![("sha256", c.sha256.clone())], 1.0);
    let mut loaded = Family::new(
        "lvsd_config_last_reload_success_timestamp_seconds",
        "gauge",
        "Unix time the running configuration was loaded (start or applied reload)",
    );
    loaded.push(vec![], c.loaded_at);
    let mut reloads = Family::new(
        "lvsd_config_reloads_total",
        "counter",
        "Reloads asked for (SIGHUP)",
    );
    reloads.push(vec![], c.reloads as f64);
    let mut failures = Family::new(
        "lvsd_config_reload_failures_total",
        "counter",
        "Reloads refused, or not confirmed applied by every side in time",
    );
    failures.push(vec![], c.failures as f64);
    let mut duration = Family::new(
        "lvsd_config_last_reload_duration_seconds",
        "gauge",
        "How long the last reload took, from SIGHUP to applied or refused",
    );
    let mut ok = Family::new(
        "lvsd_config_last_reload_successful",
        "gauge",
        "1: the last reload was applied",
    );
    if let Some((took, applied)) = c.last {
        duration.push(vec![], took.as_secs_f64());
        ok.push(vec![], if applied { 1.0 } else { 0.0 });
    }
    for f in [&info, &loaded, &reloads, &failures, &duration, &ok] {
        f.write(out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fixed() -> Value {
        json!({
            "vrrp": [{
                "name": "VI_1", "state": "MASTER", "vrid": 51, "interface": "eth0",
                "base_priority": 100, "priority": 90, "vips_held": true,
                "last_transition": 1700000000u64, "become_master": 2, "release_master": 1,
                "adverts_sent": 40, "adverts_received": 7,
                "vips": [
                    {"address": "10.0.0.100", "prefix_len": 24, "interface": "eth0"},
                    {"address": "10.0.1.100", "prefix_len": 24, "interface": "eth1"}
                ],
                "drops": {"packet_len_err": 0, "advert_interval_err": 0, "ip_ttl_err": 3,
                          "invalid_type_rcvd": 0, "addr_list_err": 0, "invalid_authtype": 0,
                          "authtype_mismatch": 0, "auth_failure": 1, "pri_zero_rcvd": 0,
                          "pri_zero_sent": 0}
            }, {
                "name": "VI_\"2\"", "state": "BACKUP", "vrid": 52, "interface": "eth0",
                "base_priority": 50, "priority": 50, "vips_held": false,
                "last_transition": 0, "become_master": 0, "release_master": 0,
                "adverts_sent": 0, "adverts_received": 9, "vips": [], "drops": {}
            }],
            "lvs": {
                "virtual_servers": [{
                    "name": "[10.0.0.1]:tcp:80", "services": ["[10.0.0.1]:tcp:80"],
                    "quorum": 1, "quorum_up": true, "live_weight": 3,
                    "real_servers": [
                        {"server": "[10.0.1.2]:tcp:80", "weight": 3, "alive": true,
                         "checkers": ["up"],
                         "checker_counts": [{"checks": 10, "failures": 2,
                                             "last_duration_us": 1500}]},
                        {"server": "[10.0.1.3]:tcp:80", "weight": 1, "alive": false,
                         "checkers": ["down", "up"], "admin": "draining",
                         "drain_seconds_left": 12,
                         "checker_counts": [null, {"checks": 0, "failures": 0,
                                                   "last_duration_us": 0}]}
                    ]
                }],
                "table": [{
                    "service": "[10.0.0.1]:tcp:80", "scheduler": "wrr",
                    "dests": [{"server": "[10.0.1.2]:tcp:80", "weight": 3,
                               "forward": "masq", "active_conns": 5, "inactive_conns": 2}]
                }, {
                    "service": "tcp:[2001:db8::1]:443", "scheduler": "rr",
                    "stats": {"conns": 70, "inpkts": 700, "outpkts": 650, "inbytes": 7000,
                              "outbytes": 9000, "cps": 3, "inpps": 30, "outpps": 25,
                              "inbps": 300, "outbps": 400},
                    "dests": [{"server": "[2001:db8::2]:443", "weight": 2, "forward": "droute",
                               "stats": {"conns": 40, "inpkts": 400, "outpkts": 0,
                                         "inbytes": 4000, "outbytes": 0, "cps": 2,
                                         "inpps": 20, "outpps": 0, "inbps": 200,
                                         "outbps": 0}}]
                }, {
                    "service": "fwmark:7", "scheduler": "rr",
                    "stats": {"conns": 1, "inpkts": 2, "outpkts": 3, "inbytes": 4,
                              "outbytes": 5, "cps": 0, "inpps": 0, "outpps": 0,
                              "inbps": 0, "outbps": 0},
                    "dests": []
                }]
            }
        })
    }

    /// Every line a comment (`# HELP` / `# TYPE`) or `name{labels} value` / `name value`,
    /// every family's samples after its TYPE line.
    pub fn check_exposition(text: &str) {
        let mut typed = std::collections::HashSet::new();
        let mut seen = std::collections::HashSet::new();
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("# TYPE ") {
                let mut w = rest.split(' ');
                let name = w.next().unwrap();
                assert!(
                    matches!(w.next(), Some("gauge" | "counter" | "untyped")),
                    "{line}"
                );
                assert!(typed.insert(name.to_string()), "TYPE twice: {line}");
                continue;
            }
            if line.starts_with("# HELP ") {
                continue;
            }
            let (series, value) = line.rsplit_once(' ').expect(line);
            value.parse::<f64>().expect(line);
            let name = series.split('{').next().unwrap();
            assert!(
                !name.is_empty()
                    && name
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
                "{line}"
            );
            assert!(typed.contains(name), "no TYPE before {line}");
            if let Some(labels) = series.strip_prefix(name) {
                if !labels.is_empty() {
                    assert!(labels.starts_with('{') && labels.ends_with('}'), "{line}");
                }
            }
            assert!(seen.insert(series.to_string()), "series twice: {line}");
        }
    }

    #[test]
    fn renders_a_fixed_state() {
        let text = render(&fixed(), None);
        check_exposition(&text);
        for want in [
            "lvsd_up 1\n",
            "keepalived_up 1\n",
            "lvsd_side_up{side=\"vrrp\"} 1\n",
            "lvsd_side_up{side=\"checkers\"} 1\n",
            "keepalived_vrrp_state{iname=\"VI_1\",intf=\"eth0\",vrid=\"51\",ip_address=\"10.0.0.100\"} 2\n",
            "keepalived_vrrp_state{iname=\"VI_1\",intf=\"eth1\",vrid=\"51\",ip_address=\"10.0.1.100\"} 2\n",
            "keepalived_vrrp_state{iname=\"VI_\\\"2\\\"\",intf=\"eth0\",vrid=\"52\",ip_address=\"\"} 1\n",
            "lvsd_vrrp_priority{iname=\"VI_1\",intf=\"eth0\",vrid=\"51\"} 90\n",
            "lvsd_vrrp_base_priority{iname=\"VI_1\",intf=\"eth0\",vrid=\"51\"} 100\n",
            "keepalived_become_master_total{iname=\"VI_1\",intf=\"eth0\",vrid=\"51\"} 2\n",
            "keepalived_release_master_total{iname=\"VI_1\",intf=\"eth0\",vrid=\"51\"} 1\n",
            "keepalived_advertisements_sent_total{iname=\"VI_1\",intf=\"eth0\",vrid=\"51\"} 40\n",
            "keepalived_advertisements_received_total{iname=\"VI_\\\"2\\\"\",intf=\"eth0\",vrid=\"52\"} 9\n",
            "keepalived_ip_ttl_errors_total{iname=\"VI_1\",intf=\"eth0\",vrid=\"51\"} 3\n",
            "keepalived_authentication_failure_total{iname=\"VI_1\",intf=\"eth0\",vrid=\"51\"} 1\n",
            "lvsd_virtual_server_quorum_up{virtual_server=\"[10.0.0.1]:tcp:80\"} 1\n",
            "lvsd_real_server_up{virtual_server=\"[10.0.0.1]:tcp:80\",real_server=\"[10.0.1.2]:tcp:80\"} 1\n",
            "lvsd_real_server_up{virtual_server=\"[10.0.0.1]:tcp:80\",real_server=\"[10.0.1.3]:tcp:80\"} 0\n",
            "lvsd_real_server_weight{virtual_server=\"[10.0.0.1]:tcp:80\",real_server=\"[10.0.1.3]:tcp:80\"} 1\n",
            "lvsd_real_server_admin_out{virtual_server=\"[10.0.0.1]:tcp:80\",real_server=\"[10.0.1.3]:tcp:80\",state=\"draining\"} 1\n",
            "lvsd_real_server_checker_up{virtual_server=\"[10.0.0.1]:tcp:80\",real_server=\"[10.0.1.3]:tcp:80\",checker=\"1\"} 1\n",
            "lvsd_ipvs_destination_active_connections{service=\"[10.0.0.1]:tcp:80\",server=\"[10.0.1.2]:tcp:80\"} 5\n",
            "lvsd_ipvs_destination_inactive_connections{service=\"[10.0.0.1]:tcp:80\",server=\"[10.0.1.2]:tcp:80\"} 2\n",
            "lvsd_ipvs_destination_weight{service=\"[10.0.0.1]:tcp:80\",server=\"[10.0.1.2]:tcp:80\"} 3\n",
            "# TYPE keepalived_vrrp_state gauge\n",
            "# TYPE keepalived_advertisements_sent_total counter\n",
        ] {
            assert!(text.contains(want), "missing {want:?} in\n{text}");
        }
    }

    #[test]
    fn renders_checker_counts_ipvs_counters_and_the_configuration() {
        let mut config = ConfigStatus::started("ab12".into(), 1700000000.5);
        config.reload_asked();
        config.reload_failed(std::time::Duration::from_millis(250));
        let text = render(&fixed(), Some(&config));
        check_exposition(&text);
        let rs2 =
            "virtual_server=\"[10.0.0.1]:tcp:80\",real_server=\"[10.0.1.2]:tcp:80\",checker=\"0\"";
        let rs3 = "virtual_server=\"[10.0.0.1]:tcp:80\",real_server=\"[10.0.1.3]:tcp:80\"";
        let svc = "service=\"tcp:[2001:db8::1]:443\"";
        let dest = "service=\"tcp:[2001:db8::1]:443\",server=\"[2001:db8::2]:443\"";
        for want in [
            format!("lvsd_real_server_checks_total{{{rs2}}} 10\n"),
            format!("lvsd_real_server_check_failures_total{{{rs2}}} 2\n"),
            format!("lvsd_real_server_last_check_duration_seconds{{{rs2}}} 0.0015\n"),
            // A checker that has not run yet: counted, no duration.
            format!("lvsd_real_server_checks_total{{{rs3},checker=\"1\"}} 0\n"),
            "# TYPE keepalived_lvs_vip_conn untyped\n".into(),
            "keepalived_lvs_vip_conn{addr=\"2001:db8::1:443\",proto=\"tcp\"} 70\n".into(),
            "keepalived_lvs_vip_in_packets{addr=\"2001:db8::1:443\",proto=\"tcp\"} 700\n".into(),
            "keepalived_lvs_vip_out_packets{addr=\"2001:db8::1:443\",proto=\"tcp\"} 650\n".into(),
            "keepalived_lvs_vip_in_bytes{addr=\"2001:db8::1:443\",proto=\"tcp\"} 7000\n".into(),
            "keepalived_lvs_vip_out_bytes{addr=\"2001:db8::1:443\",proto=\"tcp\"} 9000\n".into(),
            "keepalived_lvs_vip_conn{addr=\"fwmark:7\",proto=\"fwmark\"} 1\n".into(),
            "keepalived_lvs_rs_conn{addr=\"2001:db8::2:443\",proto=\"tcp\",vip=\"2001:db8::1:443\"} 40\n".into(),
            "keepalived_lvs_rs_in_bytes{addr=\"2001:db8::2:443\",proto=\"tcp\",vip=\"2001:db8::1:443\"} 4000\n".into(),
            format!("lvsd_ipvs_service_connections_per_second{{{svc}}} 3\n"),
            format!("lvsd_ipvs_service_packets_per_second{{{svc},direction=\"out\"}} 25\n"),
            format!("lvsd_ipvs_service_bytes_per_second{{{svc},direction=\"in\"}} 300\n"),
            format!("lvsd_ipvs_destination_connections_per_second{{{dest}}} 2\n"),
            format!("lvsd_ipvs_destination_packets_per_second{{{dest},direction=\"in\"}} 20\n"),
            format!("lvsd_ipvs_destination_bytes_per_second{{{dest},direction=\"in\"}} 200\n"),
            format!("lvsd_ipvs_destination_weight{{{dest}}} 2\n"),
            "lvsd_config_info{sha256=\"ab12\"} 1\n".into(),
            "lvsd_config_last_reload_success_timestamp_seconds 1700000000.5\n".into(),
            "lvsd_config_reloads_total 1\n".into(),
            "lvsd_config_reload_failures_total 1\n".into(),
            "lvsd_config_last_reload_duration_seconds 0.25\n".into(),
            "lvsd_config_last_reload_successful 0\n".into(),
        ] {
            assert!(text.contains(&want), "missing {want:?} in\n{text}");
        }
        assert!(
            !text.contains(&format!(
                "lvsd_real_server_last_check_duration_seconds{{{rs3}"
            )),
            "{text}"
        );
        // Without the kernel's numbers (lvsd's copy of the table), no IPVS counter.
        assert!(
            !text.contains("keepalived_lvs_rs_conn{addr=\"10.0.1.2:80\""),
            "{text}"
        );
        // Before any reload: no last reload.
        let text = render(&fixed(), Some(&ConfigStatus::started("ab12".into(), 1.0)));
        check_exposition(&text);
        assert!(text.contains("lvsd_config_reloads_total 0\n"), "{text}");
        assert!(
            !text.contains("lvsd_config_last_reload_duration_seconds"),
            "{text}"
        );
    }

    #[test]
    fn the_documentation_lists_every_metric() {
        let doc = include_str!("../../docs/control-socket.md");
        let mut config = ConfigStatus::started("ab12".into(), 1.0);
        config.reload_asked();
        config.reload_applied(std::time::Duration::from_millis(3), 2.0);
        let text = render(&fixed(), Some(&config));
        let names: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE ")?.split(' ').next())
            .collect();
        assert!(names.len() > 40, "{names:?}");
        for name in names {
            assert!(
                doc.contains(&format!("`{name}`")),
                "docs/control-socket.md does not list {name}"
            );
        }
    }

    #[test]
    fn a_side_that_does_not_answer() {
        let text = render(&json!({"vrrp_error": "no answer"}), None);
        check_exposition(&text);
        assert!(text.contains("lvsd_side_up{side=\"vrrp\"} 0\n"), "{text}");
        assert!(!text.contains("keepalived_vrrp_state"), "{text}");
        assert!(!text.contains("side=\"checkers\""), "{text}");
    }
}
