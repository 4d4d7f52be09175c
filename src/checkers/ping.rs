//! PING_CHECK: one ICMP (or ICMPv6) echo request; up when the matching echo reply comes
//! back within connect_timeout.
//!
//! An unprivileged ICMP datagram socket is tried first (allowed by
//! net.ipv4.ping_group_range); when the kernel refuses it, a raw socket (root).

use super::{bounded, CheckSettings, Verdict};
use socket2::{Domain, Protocol, SockAddr, Socket, Type};
use std::io;
use std::net::{IpAddr, SocketAddr};

/// Internet checksum (RFC 1071).
pub fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for chunk in data.chunks(2) {
        let word = u16::from_be_bytes([chunk[0], *chunk.get(1).unwrap_or(&0)]);
        sum += u32::from(word);
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An echo request with identifier `ident` and sequence `seq`.
pub fn echo_request(v6: bool, ident: u16, seq: u16) -> Vec<u8> {
    let mut pkt = vec![if v6 { 128 } else { 8 }, 0, 0, 0];
    pkt.extend_from_slice(&ident.to_be_bytes());
    pkt.extend_from_slice(&seq.to_be_bytes());
    pkt.extend_from_slice(b"lvsd-ping-check!");
    if !v6 {
        // ICMPv6 checksums cover a pseudo-header: the kernel fills them in.
        let c = checksum(&pkt);
        pkt[2..4].copy_from_slice(&c.to_be_bytes());
    }
    pkt
}

/// Whether `msg` (as read from the socket) is the echo reply to sequence `seq`.
/// Raw IPv4 sockets deliver the IP header too; datagram sockets and ICMPv6 do not. The
/// identifier is not compared: datagram sockets rewrite it.
pub fn is_reply(v6: bool, raw: bool, msg: &[u8], seq: u16) -> bool {
    let icmp = if raw && !v6 {
        let Some(first) = msg.first() else {
            return false;
        };
        let ihl = usize::from(first & 0x0f) * 4;
        match msg.get(ihl..) {
            Some(rest) => rest,
            None => return false,
        }
    } else {
        msg
    };
    let reply_type = if v6 { 129 } else { 0 };
    icmp.len() >= 8 && icmp[0] == reply_type && icmp[6..8] == seq.to_be_bytes()
}

fn open(addr: IpAddr) -> io::Result<(Socket, bool)> {
    let (domain, proto) = match addr {
        IpAddr::V4(_) => (Domain::IPV4, Protocol::ICMPV4),
        IpAddr::V6(_) => (Domain::IPV6, Protocol::ICMPV6),
    };
    match Socket::new(domain, Type::DGRAM, Some(proto)) {
        Ok(s) => Ok((s, false)),
        Err(_) => Ok((Socket::new(domain, Type::RAW, Some(proto))?, true)),
    }
}

async fn ping(s: &CheckSettings) -> io::Result<bool> {
    let v6 = s.addr.is_ipv6();
    let (socket, raw) = open(s.addr)?;
    socket.set_nonblocking(true)?;
    if let Some(dev) = s.bind_if() {
        socket.bind_device(Some(dev.as_bytes()))?;
    }
    if let Some(bind) = s.bind() {
        socket.bind(&SockAddr::from(SocketAddr::new(bind.ip(), 0)))?;
    }
    socket.connect(&SockAddr::from(SocketAddr::new(s.addr, 0)))?;
    let std_sock: std::net::UdpSocket = socket.into();
    let sock = tokio::net::UdpSocket::from_std(std_sock)?;
    let seq = fastrand::u16(..);
    let ident = fastrand::u16(..);
    sock.send(&echo_request(v6, ident, seq)).await?;
    let mut buf = vec![0u8; 2048];
    loop {
        let n = sock.recv(&mut buf).await?;
        if is_reply(v6, raw, &buf[..n], seq) {
            return Ok(true);
        }
    }
}

pub async fn check(s: &CheckSettings) -> Verdict {
    let target = format!("[{}]", s.addr);
    bounded(
        s.connect_timeout,
        async {
            match ping(s).await {
                Ok(_) => Verdict::up(format!("ICMP echo to {target} success.")),
                Err(e) => Verdict::down(format!("ICMP echo to {target} failed: {e}.")),
            }
        },
        || format!("ICMP echo to [{}] timeout.", s.addr),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_of_a_known_packet() {
        // Echo request id 1 seq 1, no data: checksum 0xf7fd.
        let pkt = [8u8, 0, 0, 0, 0, 1, 0, 1];
        assert_eq!(checksum(&pkt), 0xf7fd);
        let req = echo_request(false, 1, 2);
        assert_eq!(checksum(&req), 0, "a packet with its checksum sums to zero");
    }

    #[test]
    fn recognises_replies() {
        let mut reply = echo_request(false, 9, 77);
        reply[0] = 0;
        assert!(is_reply(false, false, &reply, 77));
        assert!(!is_reply(false, false, &reply, 78));
        let mut with_ip = vec![0x45u8; 20];
        with_ip.extend_from_slice(&reply);
        assert!(is_reply(false, true, &with_ip, 77));
        assert!(!is_reply(false, true, &reply[..4], 77));
        let req = echo_request(false, 9, 77);
        assert!(
            !is_reply(false, false, &req, 77),
            "our own request is no reply"
        );
    }
}
