//! Config values with keepalived's defaults, built in code: for tests and benchmarks that
//! need a `VirtualServer` or `RealServer` without parsing a file.

use crate::config::{Checker, CheckerKind, RealServer, VirtualServer, VsKey};
use std::net::IpAddr;

/// A virtual server as keepalived defaults it (wlc, NAT, TCP, quorum 1, no real servers).
pub fn virtual_server(key: VsKey) -> VirtualServer {
    VirtualServer::new(Default::default(), key)
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
