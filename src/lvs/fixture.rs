//! Config values with keepalived's defaults, built in code: for tests and benchmarks that
//! need a `VirtualServer` or `RealServer` without parsing a file.

use crate::config::{
    Checker, CheckerKind, LbKind, Protocol, RealServer, SchedFlags, VirtualServer, VsKey,
};
use std::net::IpAddr;
use std::time::Duration;

/// A virtual server as keepalived defaults it (wlc, NAT, TCP, quorum 1, no real servers).
pub fn virtual_server(key: VsKey) -> VirtualServer {
    VirtualServer {
        span: Default::default(),
        key,
        delay_loop: Duration::from_secs(60),
        lb_algo: "wlc".into(),
        sched_flags: SchedFlags::default(),
        lb_kind: LbKind::Nat,
        lb_kind_span: Default::default(),
        persistence_timeout: None,
        persistence_granularity: None,
        persistence_engine: None,
        protocol: Protocol::Tcp,
        ops: false,
        sorry_server: None,
        sorry_server_inhibit: false,
        quorum: 1,
        hysteresis: 0,
        quorum_up: None,
        quorum_down: None,
        alpha: false,
        omega: false,
        inhibit_on_failure: false,
        virtualhost: None,
        retry: None,
        delay_before_retry: None,
        connect_timeout: None,
        warmup: None,
        ha_suspend: false,
        smtp_alert: None,
        tunnel: None,
        real_servers: vec![],
    }
}

/// `virtual_server ADDR PORT`.
pub fn addr_vs(addr: IpAddr, port: u16) -> VirtualServer {
    virtual_server(VsKey::Addr { addr, port })
}

/// `real_server ADDR [PORT]` with weight 1 and no checker.
pub fn real_server(addr: IpAddr, port: Option<u16>) -> RealServer {
    RealServer::new(addr, port)
}

/// A TCP_CHECK with every setting inherited.
pub fn tcp_check() -> Checker {
    Checker {
        span: Default::default(),
        common: Default::default(),
        kind: CheckerKind::Tcp,
    }
}
