//! Loopback ports held for one test, so that tests running in parallel never share one.
//!
//! Binding port 0, reading the number and closing the socket leaves the port free for any
//! other test (or for the kernel's choice of a source port) until it is used again, and a
//! check expected to be refused can then reach someone else's listener. These helpers keep
//! the port bound for the whole test instead.
#![allow(dead_code)]

use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::net::{Ipv4Addr, SocketAddr};

const LOCALHOST: Ipv4Addr = Ipv4Addr::LOCALHOST;

/// A TCP port on 127.0.0.1 held by a bound socket that never listens: a connection to it is
/// refused (RST) until the test opens a listener with [`HeldTcpPort::listen`], and refused
/// again once that listener is dropped. The holder sets SO_REUSEPORT, so no socket without
/// it (other tests' listeners, the kernel's ephemeral source ports) can take the port.
pub struct HeldTcpPort {
    holder: Socket,
    pub port: u16,
}

fn tcp_socket() -> Socket {
    let s = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).expect("tcp socket");
    s.set_reuse_port(true).expect("SO_REUSEPORT");
    // Accepted connections closed by the test side linger in TIME_WAIT on this port.
    s.set_reuse_address(true).expect("SO_REUSEADDR");
    s
}

impl HeldTcpPort {
    pub fn new() -> Self {
        let holder = tcp_socket();
        holder
            .bind(&SockAddr::from(SocketAddr::from((LOCALHOST, 0))))
            .expect("bind a loopback port");
        let port = holder
            .local_addr()
            .ok()
            .and_then(|a| a.as_socket())
            .map(|a| a.port())
            .expect("bound port");
        HeldTcpPort { holder, port }
    }

    /// A listener on the held port (must be called inside a tokio runtime).
    pub fn listen(&self) -> tokio::net::TcpListener {
        let s = tcp_socket();
        s.bind(&SockAddr::from(SocketAddr::from((LOCALHOST, self.port))))
            .expect("bind the held port");
        s.listen(128).expect("listen");
        s.set_nonblocking(true).expect("nonblocking");
        tokio::net::TcpListener::from_std(s.into()).expect("tokio listener")
    }
}

/// A UDP port on 127.0.0.1 that answers every datagram with ICMP port unreachable: the
/// holder is connected to another port, and the kernel delivers to a connected UDP socket
/// only what comes from its peer, so datagrams from anyone else find no socket.
pub struct ClosedUdpPort {
    _holder: std::net::UdpSocket,
    pub port: u16,
}

impl ClosedUdpPort {
    pub fn new() -> Self {
        let holder = std::net::UdpSocket::bind((LOCALHOST, 0)).expect("bind a UDP port");
        // Port 9 (discard): connect() on UDP sends nothing.
        holder.connect((LOCALHOST, 9)).expect("connect the holder");
        let port = holder.local_addr().expect("bound port").port();
        ClosedUdpPort {
            _holder: holder,
            port,
        }
    }
}
