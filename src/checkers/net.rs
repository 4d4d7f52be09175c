//! Socket helpers shared by the checkers: TCP and UDP sockets bound to `bindto` /
//! `bind_port` / `bind_if` when configured.

use super::CheckSettings;
use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use tokio::net::{TcpSocket, TcpStream, UdpSocket};

fn prepare(settings: &CheckSettings, ty: Type, proto: Protocol) -> io::Result<Option<Socket>> {
    if settings.bind().is_none() && settings.bind_if().is_none() && settings.fwmark().is_none() {
        return Ok(None);
    }
    let target = settings.socket_addr();
    let socket = Socket::new(Domain::for_address(target), ty, Some(proto))?;
    socket.set_nonblocking(true)?;
    if let Some(dev) = settings.bind_if() {
        socket.bind_device(Some(dev.as_bytes()))?;
    }
    if let Some(mark) = settings.fwmark() {
        socket.set_mark(mark)?;
    }
    if let Some(bind) = settings.bind() {
        if bind.port() != 0 {
            socket.set_reuse_address(true)?;
        }
        socket.bind(&bind.into())?;
    }
    Ok(Some(socket))
}

/// Why a check's socket cannot be set up (its `bindto`, `bind_port`, `bind_if` or
/// `fwmark` refused), tried on a UDP socket of the target's family; None when it can, or
/// when the check sets none of them. keepalived counts such an attempt neither way: it
/// logs "Checker bind failed" and tries again after delay_loop.
pub fn setup_error(settings: &CheckSettings) -> Option<io::Error> {
    match settings.kind {
        crate::config::CheckerKind::Misc(_) | crate::config::CheckerKind::File(_) => None,
        _ => prepare(settings, Type::DGRAM, Protocol::UDP).err(),
    }
}

/// Connects to the checker's target over TCP (no timeout: the caller bounds the check).
pub async fn tcp_connect(settings: &CheckSettings) -> io::Result<TcpStream> {
    let target = settings.socket_addr();
    match prepare(settings, Type::STREAM, Protocol::TCP)? {
        None => TcpStream::connect(target).await,
        Some(socket) => {
            let socket = TcpSocket::from_std_stream(socket.into());
            socket.connect(target).await
        }
    }
}

/// A UDP socket connected to the checker's target.
pub async fn udp_connect(settings: &CheckSettings) -> io::Result<UdpSocket> {
    let target = settings.socket_addr();
    let socket = match prepare(settings, Type::DGRAM, Protocol::UDP)? {
        Some(s) => UdpSocket::from_std(s.into())?,
        None => {
            let local: std::net::SocketAddr = if target.is_ipv4() {
                (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
            } else {
                (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
            };
            UdpSocket::bind(local).await?
        }
    };
    socket.connect(target).await?;
    Ok(socket)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `bindto` address the host does not hold is a setup error; none set, none found.
    #[test]
    fn a_bind_address_not_held_is_a_setup_error() {
        let cfg = crate::config::parse_str(
            "virtual_server 127.0.0.1 80 {\n  real_server 127.0.0.1 80 {\n    TCP_CHECK {\n      \
             bindto 192.0.2.77\n    }\n  }\n  real_server 127.0.0.2 80 {\n    TCP_CHECK {\n    }\n  }\n}\n",
            std::path::Path::new("t.conf"),
            "t",
        )
        .expect("config");
        let all = CheckSettings::all(&cfg.config);
        assert_eq!(all.len(), 2);
        let e = setup_error(&all[0]).expect("192.0.2.77 is not ours");
        assert_eq!(e.raw_os_error(), Some(libc::EADDRNOTAVAIL), "{e}");
        assert!(setup_error(&all[1]).is_none());
    }
}
