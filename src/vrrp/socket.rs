//! Raw IP-protocol-112 sockets: one per (interface, family) and mode (multicast/unicast);
//! for VRRPv2 with `auth_type AH`, IPv4 raw sockets of protocol 51 instead (see
//! [`SocketSpec::ah`]).
//!
//! Sending: TTL / hop limit 255, TOS / traffic class 0xc0, the source address given per
//! packet (IP_PKTINFO / IPV6_PKTINFO) so the socket itself stays unbound and receives
//! every advert for the interface. Receiving: IPv4 raw sockets deliver the IP header, which
//! gives source, destination and TTL; IPv6 gives the hop limit and destination as control
//! messages (IPV6_RECVHOPLIMIT, IPV6_RECVPKTINFO). Multicast loopback is off, so a node
//! never hears its own adverts.

use nix::sys::socket::{
    recvmsg, sendmsg, setsockopt, sockopt, ControlMessage, ControlMessageOwned, MsgFlags,
    SockaddrIn, SockaddrIn6, SockaddrStorage,
};
use socket2::{Domain, InterfaceIndexOrAddress, Protocol, Socket, Type};
use std::io::{self, IoSlice, IoSliceMut};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
use std::os::fd::AsRawFd;
use std::time::{Duration, SystemTime};
use thiserror::Error;
use tokio::io::unix::AsyncFd;

/// IANA protocol number of VRRP.
pub const IPPROTO_VRRP: i32 = 112;
/// IANA protocol number of IPsec AH.
pub const IPPROTO_AH: i32 = 51;
/// The VRRP IPv4 multicast group.
pub const MCAST_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// The VRRP IPv6 multicast group.
pub const MCAST_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// TOS / traffic class of adverts (internetwork control).
pub const TOS: u8 = 0xc0;

/// IP-level facts of a received advert that the receive checks need.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecvMeta {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// TTL (IPv4) or hop limit (IPv6).
    pub ttl: u8,
}

/// A received advert: the VRRP payload (IP header stripped) and its IP facts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    pub meta: RecvMeta,
    /// The VRRP message; from an AH socket, the whole IPv4 datagram (header, AH header,
    /// VRRP message), which the AH ICV covers.
    pub payload: Vec<u8>,
    /// From an AH socket (protocol 51): `payload` is the whole datagram.
    pub ah: bool,
    /// When the kernel received it (SO_TIMESTAMPNS, wall clock), when it said.
    pub at: Option<SystemTime>,
}

/// The kernel's receive timestamp among the control messages, if any.
fn kernel_timestamp<'a>(
    cmsgs: impl Iterator<Item = ControlMessageOwned> + 'a,
) -> Option<SystemTime> {
    cmsgs.into_iter().find_map(|c| match c {
        ControlMessageOwned::ScmTimestampns(ts) => {
            let secs = u64::try_from(ts.tv_sec()).ok()?;
            let nanos = u32::try_from(ts.tv_nsec()).ok()?;
            SystemTime::UNIX_EPOCH.checked_add(Duration::new(secs, nanos))
        }
        _ => None,
    })
}

#[derive(Debug, Error)]
pub enum SocketError {
    #[error("cannot open VRRP socket on {ifname}: {what}: {err}")]
    Open {
        ifname: String,
        what: &'static str,
        err: io::Error,
    },
}

/// Why a received IPv4 datagram was not handed on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum Ipv4HeaderError {
    #[error("shorter than an IPv4 header")]
    Short,
    #[error("not IPv4")]
    NotV4,
    #[error("bad header length")]
    BadIhl,
    #[error("not the socket's protocol (112, or 51 for AH)")]
    NotVrrp,
}

/// Splits what an IPv4 raw socket delivers into IP facts and the VRRP payload.
pub fn parse_ipv4(buf: &[u8]) -> Result<(RecvMeta, &[u8]), Ipv4HeaderError> {
    let (meta, ihl, end) = parse_ipv4_header(buf, IPPROTO_VRRP)?;
    Ok((meta, &buf[ihl..end]))
}

/// What an IPv4 AH raw socket delivers: IP facts and the whole datagram (trimmed to its
/// total length), header included, for the AH check.
pub fn parse_ipv4_ah(buf: &[u8]) -> Result<(RecvMeta, &[u8]), Ipv4HeaderError> {
    let (meta, _, end) = parse_ipv4_header(buf, IPPROTO_AH)?;
    Ok((meta, &buf[..end]))
}

/// IP facts, header length and end of the datagram (the total length, or what arrived).
fn parse_ipv4_header(buf: &[u8], proto: i32) -> Result<(RecvMeta, usize, usize), Ipv4HeaderError> {
    if buf.len() < 20 {
        return Err(Ipv4HeaderError::Short);
    }
    if buf[0] >> 4 != 4 {
        return Err(Ipv4HeaderError::NotV4);
    }
    let ihl = usize::from(buf[0] & 0x0f) * 4;
    if ihl < 20 || ihl > buf.len() {
        return Err(Ipv4HeaderError::BadIhl);
    }
    if i32::from(buf[9]) != proto {
        return Err(Ipv4HeaderError::NotVrrp);
    }
    let total = usize::from(u16::from_be_bytes([buf[2], buf[3]]));
    // The kernel delivers the whole datagram; trust the shorter of the two lengths.
    let end = if total >= ihl && total <= buf.len() {
        total
    } else {
        buf.len()
    };
    let src = Ipv4Addr::new(buf[12], buf[13], buf[14], buf[15]);
    let dst = Ipv4Addr::new(buf[16], buf[17], buf[18], buf[19]);
    Ok((
        RecvMeta {
            src: IpAddr::V4(src),
            dst: IpAddr::V4(dst),
            ttl: buf[8],
        },
        ihl,
        end,
    ))
}

/// IP_MULTICAST_IF by interface index (socket2 sets it by address only).
fn set_multicast_if_v4_index(s: &Socket, ifindex: u32) -> io::Result<()> {
    let mreqn = libc::ip_mreqn {
        imr_multiaddr: libc::in_addr { s_addr: 0 },
        imr_address: libc::in_addr { s_addr: 0 },
        imr_ifindex: ifindex as libc::c_int,
    };
    // SAFETY: a valid socket and a properly sized ip_mreqn for the call's duration.
    let rc = unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_MULTICAST_IF,
            (&mreqn as *const libc::ip_mreqn).cast(),
            std::mem::size_of::<libc::ip_mreqn>() as libc::socklen_t,
        )
    };
    if rc < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Where and how a socket sends and listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketSpec {
    pub ifname: String,
    pub ifindex: u32,
    /// IPv6 when true.
    pub ipv6: bool,
    /// The multicast group to join (None: unicast only).
    pub group: Option<IpAddr>,
    /// IPv4 only: IP protocol 51 (AH) instead of 112, with `IP_HDRINCL`: what is sent is a
    /// whole datagram (the AH ICV covers the IP header, id included), what is received is
    /// handed on whole.
    pub ah: bool,
}

/// What the runtime needs from an advert socket (so the loop can run over a fake).
pub trait AdvertSocket: Send + Sync {
    /// Sends one VRRP payload to `dst` with source address `src`.
    fn send(
        &self,
        payload: &[u8],
        src: IpAddr,
        dst: IpAddr,
    ) -> impl std::future::Future<Output = io::Result<()>> + Send;
    /// Waits for the next protocol-112 datagram. An Err is an I/O error of the socket;
    /// a datagram with a broken IP header is returned as `Ok(None)`.
    fn recv(&self) -> impl std::future::Future<Output = io::Result<Option<Received>>> + Send;
}

/// A raw VRRP socket bound to one interface.
pub struct VrrpSocket {
    fd: AsyncFd<Socket>,
    spec: SocketSpec,
}

fn open_err<'a>(
    spec: &'a SocketSpec,
    what: &'static str,
) -> impl FnOnce(io::Error) -> SocketError + 'a {
    move |err| SocketError::Open {
        ifname: spec.ifname.clone(),
        what,
        err,
    }
}

impl VrrpSocket {
    /// Opens the socket: SO_BINDTODEVICE, TTL/hop limit 255, TOS 0xc0, multicast interface,
    /// loopback off, group joined when `spec.group` is set. Must run inside a tokio runtime.
    pub fn open(spec: SocketSpec) -> Result<VrrpSocket, SocketError> {
        let domain = if spec.ipv6 {
            Domain::IPV6
        } else {
            Domain::IPV4
        };
        if spec.ah && spec.ipv6 {
            return Err(SocketError::Open {
                ifname: spec.ifname.clone(),
                what: "socket",
                err: io::Error::new(io::ErrorKind::InvalidInput, "AH is IPv4 only"),
            });
        }
        let proto = if spec.ah { IPPROTO_AH } else { IPPROTO_VRRP };
        let s = Socket::new(domain, Type::RAW, Some(Protocol::from(proto)))
            .map_err(open_err(&spec, "socket"))?;
        if spec.ah {
            s.set_header_included_v4(true)
                .map_err(open_err(&spec, "IP_HDRINCL"))?;
        }
        s.bind_device(Some(spec.ifname.as_bytes()))
            .map_err(open_err(&spec, "SO_BINDTODEVICE"))?;
        s.set_nonblocking(true)
            .map_err(open_err(&spec, "O_NONBLOCK"))?;
        // Timers run from when an advert arrived, not from when we got round to it.
        setsockopt(&s, sockopt::ReceiveTimestampns, &true)
            .map_err(|e| open_err(&spec, "SO_TIMESTAMPNS")(e.into()))?;
        if spec.ipv6 {
            s.set_multicast_hops_v6(255)
                .map_err(open_err(&spec, "IPV6_MULTICAST_HOPS"))?;
            s.set_unicast_hops_v6(255)
                .map_err(open_err(&spec, "IPV6_UNICAST_HOPS"))?;
            s.set_tclass_v6(u32::from(TOS))
                .map_err(open_err(&spec, "IPV6_TCLASS"))?;
            s.set_multicast_loop_v6(false)
                .map_err(open_err(&spec, "IPV6_MULTICAST_LOOP"))?;
            s.set_multicast_if_v6(spec.ifindex)
                .map_err(open_err(&spec, "IPV6_MULTICAST_IF"))?;
            s.set_recv_hoplimit_v6(true)
                .map_err(open_err(&spec, "IPV6_RECVHOPLIMIT"))?;
            setsockopt(&s, sockopt::Ipv6RecvPacketInfo, &true)
                .map_err(|e| open_err(&spec, "IPV6_RECVPKTINFO")(e.into()))?;
            if let Some(IpAddr::V6(g)) = spec.group {
                s.join_multicast_v6(&g, spec.ifindex)
                    .map_err(open_err(&spec, "IPV6_ADD_MEMBERSHIP"))?;
            }
        } else {
            s.set_multicast_ttl_v4(255)
                .map_err(open_err(&spec, "IP_MULTICAST_TTL"))?;
            s.set_ttl_v4(255).map_err(open_err(&spec, "IP_TTL"))?;
            s.set_tos_v4(u32::from(TOS))
                .map_err(open_err(&spec, "IP_TOS"))?;
            s.set_multicast_loop_v4(false)
                .map_err(open_err(&spec, "IP_MULTICAST_LOOP"))?;
            set_multicast_if_v4_index(&s, spec.ifindex)
                .map_err(open_err(&spec, "IP_MULTICAST_IF"))?;
            if let Some(IpAddr::V4(g)) = spec.group {
                s.join_multicast_v4_n(&g, &InterfaceIndexOrAddress::Index(spec.ifindex))
                    .map_err(open_err(&spec, "IP_ADD_MEMBERSHIP"))?;
            }
        }
        // The socket owns its descriptor for as long as it is registered.
        #[allow(deprecated)]
        let fd = AsyncFd::new(s).map_err(open_err(&spec, "register with tokio"))?;
        Ok(VrrpSocket { fd, spec })
    }

    /// Joins a multicast group (on a socket opened for unicast instances first).
    pub fn join(&self, group: IpAddr) -> io::Result<()> {
        let s = self.fd.get_ref();
        match group {
            IpAddr::V4(g) => {
                s.join_multicast_v4_n(&g, &InterfaceIndexOrAddress::Index(self.spec.ifindex))
            }
            IpAddr::V6(g) => s.join_multicast_v6(&g, self.spec.ifindex),
        }
    }

    /// The socket's descriptor number (for the data dump's `fd_in` / `fd_out`).
    pub fn raw_fd(&self) -> i32 {
        self.fd.get_ref().as_raw_fd()
    }

    /// The socket itself (for socket options set after opening).
    pub fn fd_ref(&self) -> std::os::fd::BorrowedFd<'_> {
        use std::os::fd::AsFd;
        self.fd.get_ref().as_fd()
    }

    pub fn spec(&self) -> &SocketSpec {
        &self.spec
    }

    /// Sends like [`AdvertSocket::send`], with TTL / hop limit `ttl` instead of the
    /// socket's 255 when given (`unicast_ttl`; IPv4 1..=255). An AH socket sends the IP
    /// header it is given: `ttl` is not used there.
    pub async fn send_ttl(
        &self,
        payload: &[u8],
        src: IpAddr,
        dst: IpAddr,
        ttl: Option<u8>,
    ) -> io::Result<()> {
        loop {
            let mut guard = self.fd.writable().await?;
            match guard.try_io(|_| self.send_now(payload, src, dst, ttl)) {
                Ok(res) => return res,
                Err(_would_block) => continue,
            }
        }
    }

    fn send_now(
        &self,
        payload: &[u8],
        src: IpAddr,
        dst: IpAddr,
        ttl: Option<u8>,
    ) -> io::Result<()> {
        let fd = self.fd.get_ref().as_raw_fd();
        let iov = [IoSlice::new(payload)];
        let res = match (src, dst) {
            (IpAddr::V4(src), IpAddr::V4(dst)) => {
                let info = libc::in_pktinfo {
                    ipi_ifindex: self.spec.ifindex as libc::c_int,
                    ipi_spec_dst: libc::in_addr {
                        s_addr: u32::from(src).to_be(),
                    },
                    ipi_addr: libc::in_addr { s_addr: 0 },
                };
                let to = SockaddrIn::from(SocketAddrV4::new(dst, 0));
                let hops = ttl.map(libc::c_int::from);
                let mut cmsgs = vec![ControlMessage::Ipv4PacketInfo(&info)];
                if let Some(h) = &hops {
                    cmsgs.push(ControlMessage::Ipv4Ttl(h));
                }
                sendmsg(fd, &iov, &cmsgs, MsgFlags::empty(), Some(&to))
            }
            (IpAddr::V6(src), IpAddr::V6(dst)) => {
                let info = libc::in6_pktinfo {
                    ipi6_addr: libc::in6_addr {
                        s6_addr: src.octets(),
                    },
                    ipi6_ifindex: self.spec.ifindex,
                };
                let to = SockaddrIn6::from(SocketAddrV6::new(dst, 0, 0, self.spec.ifindex));
                let hops = ttl.map(libc::c_int::from);
                let mut cmsgs = vec![ControlMessage::Ipv6PacketInfo(&info)];
                if let Some(h) = &hops {
                    cmsgs.push(ControlMessage::Ipv6HopLimit(h));
                }
                sendmsg(fd, &iov, &cmsgs, MsgFlags::empty(), Some(&to))
            }
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidInput,
                    "source and destination of different families",
                ))
            }
        };
        res.map(|_| ()).map_err(io::Error::from)
    }

    fn recv_now(&self) -> io::Result<Option<Received>> {
        let fd = self.fd.get_ref().as_raw_fd();
        let mut buf = [0u8; 2048];
        if !self.spec.ipv6 {
            let mut cmsg = nix::cmsg_space!(nix::sys::time::TimeSpec);
            let mut iov = [IoSliceMut::new(&mut buf)];
            let msg = recvmsg::<()>(fd, &mut iov, Some(&mut cmsg), MsgFlags::empty())?;
            let (n, at) = (msg.bytes, msg.cmsgs().ok().and_then(kernel_timestamp));
            let parsed = if self.spec.ah {
                parse_ipv4_ah(&buf[..n])
            } else {
                parse_ipv4(&buf[..n])
            };
            return Ok(match parsed {
                Ok((meta, payload)) => Some(Received {
                    meta,
                    payload: payload.to_vec(),
                    ah: self.spec.ah,
                    at,
                }),
                Err(e) => {
                    tracing::debug!("{}: dropped a datagram: {e}", self.spec.ifname);
                    None
                }
            });
        }
        let mut cmsg = nix::cmsg_space!(libc::in6_pktinfo, libc::c_int, nix::sys::time::TimeSpec);
        let mut iov = [IoSliceMut::new(&mut buf)];
        let msg = recvmsg::<SockaddrStorage>(fd, &mut iov, Some(&mut cmsg), MsgFlags::empty())?;
        let mut at = None;
        let n = msg.bytes;
        let src = msg
            .address
            .as_ref()
            .and_then(|a| a.as_sockaddr_in6())
            .map(|a| a.ip());
        let mut dst = None;
        let mut hops = None;
        if let Ok(cmsgs) = msg.cmsgs() {
            for c in cmsgs {
                match c {
                    ControlMessageOwned::Ipv6PacketInfo(info) => {
                        dst = Some(Ipv6Addr::from(info.ipi6_addr.s6_addr));
                    }
                    ControlMessageOwned::Ipv6HopLimit(h) => hops = u8::try_from(h).ok(),
                    other => at = at.or_else(|| kernel_timestamp(std::iter::once(other))),
                }
            }
        }
        match (src, dst, hops) {
            (Some(src), Some(dst), Some(ttl)) => Ok(Some(Received {
                meta: RecvMeta {
                    src: IpAddr::V6(src),
                    dst: IpAddr::V6(dst),
                    ttl,
                },
                payload: buf[..n].to_vec(),
                ah: false,
                at,
            })),
            _ => {
                tracing::debug!(
                    "{}: dropped an IPv6 datagram without source, pktinfo or hop limit",
                    self.spec.ifname
                );
                Ok(None)
            }
        }
    }
}

impl AdvertSocket for VrrpSocket {
    async fn send(&self, payload: &[u8], src: IpAddr, dst: IpAddr) -> io::Result<()> {
        loop {
            let mut guard = self.fd.writable().await?;
            match guard.try_io(|_| self.send_now(payload, src, dst, None)) {
                Ok(r) => return r,
                Err(_would_block) => continue,
            }
        }
    }

    async fn recv(&self) -> io::Result<Option<Received>> {
        loop {
            let mut guard = self.fd.readable().await?;
            match guard.try_io(|_| self.recv_now()) {
                Ok(r) => return r,
                Err(_would_block) => continue,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The v3 capture's IPv4 header and payload (README.txt, frame "v3").
    const V3_IP: &str =
        "45c0 0024 0001 0000 ff70 d032 0a63 0001 e000 0012 3133 9602 0064 37e0 0a63 0064 0a63 0065";

    fn bytes(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    #[test]
    fn ipv4_header_of_the_capture() {
        let b = bytes(V3_IP);
        let (meta, payload) = parse_ipv4(&b).unwrap();
        assert_eq!(meta.src, "10.99.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(meta.dst, "224.0.0.18".parse::<IpAddr>().unwrap());
        assert_eq!(meta.ttl, 255);
        assert_eq!(payload.len(), 16);
        assert_eq!(payload[0], 0x31);
        assert_eq!(payload[1], 51);
    }

    #[test]
    fn ipv4_header_errors() {
        let b = bytes(V3_IP);
        assert_eq!(parse_ipv4(&b[..19]), Err(Ipv4HeaderError::Short));
        let mut v6 = b.clone();
        v6[0] = 0x65;
        assert_eq!(parse_ipv4(&v6), Err(Ipv4HeaderError::NotV4));
        let mut ihl = b.clone();
        ihl[0] = 0x4f; // 60-byte header in a 36-byte datagram
        assert_eq!(parse_ipv4(&ihl), Err(Ipv4HeaderError::BadIhl));
        let mut proto = b.clone();
        proto[9] = 6;
        assert_eq!(parse_ipv4(&proto), Err(Ipv4HeaderError::NotVrrp));
    }

    #[test]
    fn ipv4_ah_datagram_is_handed_on_whole() {
        // keepalived's first AH advert (tests/data/vrrp-captures/keepalived-2.2.7-v2ah.txt),
        // with Ethernet padding after it.
        let mut b = bytes(
            "45c0 0040 0001 0000 ff33 d053 0a63 0001 e000 0012 7004 0000 0a63 0001 0000 0001 \
             bbd8 46bd dc65 f9d5 0817 14f9 2133 9601 0201 3c03 0a63 0064 0000 0000 0000 0000",
        );
        let want = b.clone();
        b.extend_from_slice(&[0, 0]);
        let (meta, d) = parse_ipv4_ah(&b).unwrap();
        assert_eq!(meta.src, "10.99.0.1".parse::<IpAddr>().unwrap());
        assert_eq!(d, &want[..]);
        assert_eq!(parse_ipv4(&b), Err(Ipv4HeaderError::NotVrrp));
        assert_eq!(parse_ipv4_ah(&bytes(V3_IP)), Err(Ipv4HeaderError::NotVrrp));
    }

    #[test]
    fn ipv4_total_length_trims_padding() {
        let mut b = bytes(V3_IP);
        b.extend_from_slice(&[0, 0, 0, 0]); // Ethernet padding a capture could carry
        let (_, payload) = parse_ipv4(&b).unwrap();
        assert_eq!(payload.len(), 16);
    }
}
