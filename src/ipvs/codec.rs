//! IPVS generic-netlink messages as bytes: building requests and parsing replies.
//!
//! Pure code, no sockets: every function appends to / reads from byte buffers so that the
//! wire format can be unit-tested against hand-computed bytes. Facts follow the kernel's
//! `include/uapi/linux/ip_vs.h` (see /work/shared/reference/ipvs-genetlink.md).
//! Byte order: netlink headers and most attributes are host order (little-endian on the
//! machines we target); ports, the IPv4 persistence netmask and the IPv4 sync multicast group
//! are network order.

use super::types::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Generic netlink version of the IPVS family.
pub const IPVS_GENL_VERSION: u8 = 1;
/// Name of the generic netlink family.
pub const IPVS_GENL_NAME: &str = "IPVS";

pub const NLMSG_HDRLEN: usize = 16;
pub const GENL_HDRLEN: usize = 4;
pub const NLA_HDRLEN: usize = 4;

pub const NLMSG_NOOP: u16 = 1;
pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
pub const NLMSG_OVERRUN: u16 = 4;

pub const NLM_F_REQUEST: u16 = 0x1;
pub const NLM_F_MULTI: u16 = 0x2;
pub const NLM_F_ACK: u16 = 0x4;
pub const NLM_F_DUMP: u16 = 0x300;

/// NLA_F_NESTED | NLA_F_NET_BYTEORDER: flag bits of nla_type, masked off when parsing.
const NLA_TYPE_MASK: u16 = !(0x8000 | 0x4000);

/// IPVS_CMD_*
pub mod cmd {
    pub const NEW_SERVICE: u8 = 1;
    pub const SET_SERVICE: u8 = 2;
    pub const DEL_SERVICE: u8 = 3;
    pub const GET_SERVICE: u8 = 4;
    pub const NEW_DEST: u8 = 5;
    pub const SET_DEST: u8 = 6;
    pub const DEL_DEST: u8 = 7;
    pub const GET_DEST: u8 = 8;
    pub const NEW_DAEMON: u8 = 9;
    pub const DEL_DAEMON: u8 = 10;
    pub const GET_DAEMON: u8 = 11;
    pub const SET_CONFIG: u8 = 12;
    pub const GET_CONFIG: u8 = 13;
    pub const SET_INFO: u8 = 14;
    pub const GET_INFO: u8 = 15;
    pub const ZERO: u8 = 16;
    pub const FLUSH: u8 = 17;
}

/// IPVS_CMD_ATTR_*
pub mod cmd_attr {
    pub const SERVICE: u16 = 1;
    pub const DEST: u16 = 2;
    pub const DAEMON: u16 = 3;
    pub const TIMEOUT_TCP: u16 = 4;
    pub const TIMEOUT_TCP_FIN: u16 = 5;
    pub const TIMEOUT_UDP: u16 = 6;
}

/// IPVS_SVC_ATTR_*
pub mod svc_attr {
    pub const AF: u16 = 1;
    pub const PROTOCOL: u16 = 2;
    pub const ADDR: u16 = 3;
    pub const PORT: u16 = 4;
    pub const FWMARK: u16 = 5;
    pub const SCHED_NAME: u16 = 6;
    pub const FLAGS: u16 = 7;
    pub const TIMEOUT: u16 = 8;
    pub const NETMASK: u16 = 9;
    pub const STATS: u16 = 10;
    pub const PE_NAME: u16 = 11;
    pub const STATS64: u16 = 12;
}

/// IPVS_DEST_ATTR_*
pub mod dest_attr {
    pub const ADDR: u16 = 1;
    pub const PORT: u16 = 2;
    pub const FWD_METHOD: u16 = 3;
    pub const WEIGHT: u16 = 4;
    pub const U_THRESH: u16 = 5;
    pub const L_THRESH: u16 = 6;
    pub const ACTIVE_CONNS: u16 = 7;
    pub const INACT_CONNS: u16 = 8;
    pub const PERSIST_CONNS: u16 = 9;
    pub const STATS: u16 = 10;
    pub const ADDR_FAMILY: u16 = 11;
    pub const STATS64: u16 = 12;
    pub const TUN_TYPE: u16 = 13;
    pub const TUN_PORT: u16 = 14;
    pub const TUN_FLAGS: u16 = 15;
}

/// IPVS_DAEMON_ATTR_*
pub mod daemon_attr {
    pub const STATE: u16 = 1;
    pub const MCAST_IFN: u16 = 2;
    pub const SYNC_ID: u16 = 3;
    pub const SYNC_MAXLEN: u16 = 4;
    pub const MCAST_GROUP: u16 = 5;
    pub const MCAST_GROUP6: u16 = 6;
    pub const MCAST_PORT: u16 = 7;
    pub const MCAST_TTL: u16 = 8;
}

/// IPVS_INFO_ATTR_*
pub mod info_attr {
    pub const VERSION: u16 = 1;
    pub const CONN_TAB_SIZE: u16 = 2;
}

/// IPVS_STATS_ATTR_*
pub mod stats_attr {
    pub const CONNS: u16 = 1;
    pub const INPKTS: u16 = 2;
    pub const OUTPKTS: u16 = 3;
    pub const INBYTES: u16 = 4;
    pub const OUTBYTES: u16 = 5;
    pub const CPS: u16 = 6;
    pub const INPPS: u16 = 7;
    pub const OUTPPS: u16 = 8;
    pub const INBPS: u16 = 9;
    pub const OUTBPS: u16 = 10;
}

/// Longest scheduler / persistence engine / interface name the kernel takes (incl. NUL).
pub const NAME_MAX: usize = 16;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CodecError {
    #[error("netlink message truncated: {0}")]
    Truncated(&'static str),
    #[error("bad netlink attribute: {0}")]
    BadAttr(&'static str),
    #[error("missing netlink attribute: {0}")]
    Missing(&'static str),
    #[error("name too long for the kernel (max 15 bytes): {0:?}")]
    NameTooLong(String),
    #[error("unexpected value: {0}")]
    Unexpected(String),
}

// ---------------------------------------------------------------------------------------
// Encoding

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

/// Appends one attribute (header, payload, padding). The attributes of this family are
/// small (16 bytes at most: an IPv6 address, a name): one is put together on the stack and
/// appended at once.
fn put(buf: &mut Vec<u8>, ty: u16, payload: &[u8]) {
    let len = NLA_HDRLEN + payload.len();
    let mut attr = [0u8; NLA_HDRLEN + 16];
    let Some(body) = attr.get_mut(NLA_HDRLEN..len) else {
        buf.extend_from_slice(&(len as u16).to_ne_bytes());
        buf.extend_from_slice(&ty.to_ne_bytes());
        buf.extend_from_slice(payload);
        buf.resize(buf.len() + (align4(len) - len), 0);
        return;
    };
    body.copy_from_slice(payload);
    attr[..2].copy_from_slice(&(len as u16).to_ne_bytes());
    attr[2..4].copy_from_slice(&ty.to_ne_bytes());
    buf.extend_from_slice(&attr[..align4(len)]);
}

fn put_u8(buf: &mut Vec<u8>, ty: u16, v: u8) {
    put(buf, ty, &[v]);
}
fn put_u16(buf: &mut Vec<u8>, ty: u16, v: u16) {
    put(buf, ty, &v.to_ne_bytes());
}
fn put_be16(buf: &mut Vec<u8>, ty: u16, v: u16) {
    put(buf, ty, &v.to_be_bytes());
}
fn put_u32(buf: &mut Vec<u8>, ty: u16, v: u32) {
    put(buf, ty, &v.to_ne_bytes());
}
fn put_name(buf: &mut Vec<u8>, ty: u16, s: &str) -> Result<(), CodecError> {
    if s.len() >= NAME_MAX || s.as_bytes().contains(&0) {
        return Err(CodecError::NameTooLong(s.to_string()));
    }
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    put(buf, ty, &v);
    Ok(())
}
fn put_addr(buf: &mut Vec<u8>, ty: u16, a: &IpAddr) {
    match a {
        IpAddr::V4(a) => put(buf, ty, &a.octets()),
        IpAddr::V6(a) => put(buf, ty, &a.octets()),
    }
}
/// Starts a nested attribute; returns its offset for `end_nest`.
fn begin_nest(buf: &mut Vec<u8>, ty: u16) -> usize {
    let at = buf.len();
    buf.extend_from_slice(&[0, 0]);
    buf.extend_from_slice(&ty.to_ne_bytes());
    at
}
fn end_nest(buf: &mut [u8], at: usize) {
    let len = (buf.len() - at) as u16;
    buf[at..at + 2].copy_from_slice(&len.to_ne_bytes());
}

/// Starts a generic netlink message (nlmsghdr + genlmsghdr); returns its offset.
fn begin_msg(buf: &mut Vec<u8>, family: u16, flags: u16, seq: u32, command: u8) -> usize {
    let at = buf.len();
    buf.extend_from_slice(&[0; 4]); // nlmsg_len, set by end_msg
    buf.extend_from_slice(&family.to_ne_bytes());
    buf.extend_from_slice(&flags.to_ne_bytes());
    buf.extend_from_slice(&seq.to_ne_bytes());
    buf.extend_from_slice(&0u32.to_ne_bytes()); // nlmsg_pid: the kernel is 0
    buf.push(command);
    buf.push(IPVS_GENL_VERSION);
    buf.extend_from_slice(&[0, 0]);
    at
}
fn end_msg(buf: &mut [u8], at: usize) {
    let len = (buf.len() - at) as u32;
    buf[at..at + 4].copy_from_slice(&len.to_ne_bytes());
    // attributes are always padded, so the message is already 4-aligned
}

/// Flags of a request that changes the table, acknowledged even when it succeeds (the
/// client clears NLM_F_ACK on all but the last request of a batch: [`clear_ack_flag`]).
pub const FLAGS_ACKED: u16 = NLM_F_REQUEST | NLM_F_ACK;
/// Flags of a dump request (no ACK: the dump ends with NLMSG_DONE).
pub const FLAGS_DUMP: u16 = NLM_F_REQUEST | NLM_F_DUMP;

fn put_service_key(buf: &mut Vec<u8>, key: &ServiceKey) {
    put_u16(buf, svc_attr::AF, key.family().af());
    match key {
        ServiceKey::Addr { proto, addr, port } => {
            put_u16(buf, svc_attr::PROTOCOL, proto.number());
            put_addr(buf, svc_attr::ADDR, addr);
            put_be16(buf, svc_attr::PORT, *port);
        }
        ServiceKey::Fwmark { mark, .. } => put_u32(buf, svc_attr::FWMARK, *mark),
    }
}

/// CMD_ATTR_SERVICE with only the identity of the service.
fn put_service_ident(buf: &mut Vec<u8>, key: &ServiceKey) {
    let n = begin_nest(buf, cmd_attr::SERVICE);
    put_service_key(buf, key);
    end_nest(buf, n);
}

/// CMD_ATTR_SERVICE with everything NEW/SET_SERVICE need.
fn put_service_full(buf: &mut Vec<u8>, s: &Service) -> Result<(), CodecError> {
    let n = begin_nest(buf, cmd_attr::SERVICE);
    put_service_key(buf, &s.key);
    put_name(buf, svc_attr::SCHED_NAME, &s.scheduler)?;
    if let Some(pe) = &s.pe_name {
        put_name(buf, svc_attr::PE_NAME, pe)?;
    }
    let mut fl = [0u8; 8];
    fl[..4].copy_from_slice(&(s.flags & !svc_flags::HASHED).to_ne_bytes());
    fl[4..].copy_from_slice(&u32::MAX.to_ne_bytes());
    put(buf, svc_attr::FLAGS, &fl);
    put_u32(buf, svc_attr::TIMEOUT, s.timeout);
    match s.key.family() {
        // host-order value, network order on the wire
        Family::V4 => put(buf, svc_attr::NETMASK, &s.netmask.to_be_bytes()),
        Family::V6 => put_u32(buf, svc_attr::NETMASK, s.netmask),
    }
    end_nest(buf, n);
    Ok(())
}

fn put_dest_ident(buf: &mut Vec<u8>, d: &DestKey) {
    put_addr(buf, dest_attr::ADDR, &d.addr);
    put_be16(buf, dest_attr::PORT, d.port);
}

fn put_dest_full(buf: &mut Vec<u8>, d: &Dest) {
    let n = begin_nest(buf, cmd_attr::DEST);
    put_dest_ident(buf, &d.key);
    put_u16(buf, dest_attr::ADDR_FAMILY, Family::of(&d.key.addr).af());
    put_u32(buf, dest_attr::FWD_METHOD, d.forward.code());
    put_u32(buf, dest_attr::WEIGHT, d.weight);
    put_u32(buf, dest_attr::U_THRESH, d.upper_threshold);
    put_u32(buf, dest_attr::L_THRESH, d.lower_threshold);
    if let (Forward::Tunnel, Some(t)) = (d.forward, d.tunnel) {
        put_u8(buf, dest_attr::TUN_TYPE, t.tun_type);
        put_be16(buf, dest_attr::TUN_PORT, t.tun_port);
        put_u16(buf, dest_attr::TUN_FLAGS, t.tun_flags);
    }
    end_nest(buf, n);
}

/// Appends the message for one table operation (flags REQUEST|ACK).
pub fn encode_op(buf: &mut Vec<u8>, family: u16, seq: u32, op: &Op) -> Result<(), CodecError> {
    encode_op_cached(buf, family, seq, op, &mut ServiceIdentCache::default())
}

/// The service attribute of the last destination operation encoded: the operations on one
/// service's destinations (most of a table) copy it instead of encoding it again.
#[derive(Debug, Default)]
pub struct ServiceIdentCache {
    key: Option<ServiceKey>,
    bytes: Vec<u8>,
}

impl ServiceIdentCache {
    fn put(&mut self, buf: &mut Vec<u8>, key: &ServiceKey) {
        if self.key.as_ref() != Some(key) {
            self.bytes.clear();
            put_service_ident(&mut self.bytes, key);
            self.key = Some(*key);
        }
        buf.extend_from_slice(&self.bytes);
    }
}

/// [`encode_op`], with a cache kept from one operation to the next.
pub fn encode_op_cached(
    buf: &mut Vec<u8>,
    family: u16,
    seq: u32,
    op: &Op,
    cache: &mut ServiceIdentCache,
) -> Result<(), CodecError> {
    let command = match op {
        Op::AddService(_) => cmd::NEW_SERVICE,
        Op::EditService(_) => cmd::SET_SERVICE,
        Op::DelService(_) => cmd::DEL_SERVICE,
        Op::AddDest(..) => cmd::NEW_DEST,
        Op::EditDest(..) => cmd::SET_DEST,
        Op::DelDest(..) => cmd::DEL_DEST,
    };
    let m = begin_msg(buf, family, FLAGS_ACKED, seq, command);
    match op {
        Op::AddService(s) | Op::EditService(s) => {
            // (the only part that can fail: then the message is taken back out)
            if let Err(e) = put_service_full(buf, s) {
                buf.truncate(m);
                return Err(e);
            }
        }
        Op::DelService(k) => put_service_ident(buf, k),
        Op::AddDest(k, d) | Op::EditDest(k, d) => {
            cache.put(buf, k);
            put_dest_full(buf, d);
        }
        Op::DelDest(k, d) => {
            cache.put(buf, k);
            let n = begin_nest(buf, cmd_attr::DEST);
            put_dest_ident(buf, d);
            end_nest(buf, n);
        }
    }
    end_msg(buf, m);
    Ok(())
}

/// Clears NLM_F_ACK in the header of the message `msg` starts with: the kernel then
/// answers that request only when it fails.
pub fn clear_ack_flag(msg: &mut [u8]) {
    if let Some(f) = msg.get_mut(6..8) {
        let flags = u16::from_ne_bytes([f[0], f[1]]) & !NLM_F_ACK;
        f.copy_from_slice(&flags.to_ne_bytes());
    }
}

/// GET_SERVICE dump of every service.
pub fn encode_get_services(buf: &mut Vec<u8>, family: u16, seq: u32) {
    let m = begin_msg(buf, family, FLAGS_DUMP, seq, cmd::GET_SERVICE);
    end_msg(buf, m);
}

/// GET_SERVICE of one service (reply NEW_SERVICE, or ESRCH).
pub fn encode_get_service(buf: &mut Vec<u8>, family: u16, seq: u32, key: &ServiceKey) {
    let m = begin_msg(buf, family, FLAGS_ACKED, seq, cmd::GET_SERVICE);
    put_service_ident(buf, key);
    end_msg(buf, m);
}

/// GET_DEST dump of one service's destinations.
pub fn encode_get_dests(buf: &mut Vec<u8>, family: u16, seq: u32, key: &ServiceKey) {
    let m = begin_msg(buf, family, FLAGS_DUMP, seq, cmd::GET_DEST);
    put_service_ident(buf, key);
    end_msg(buf, m);
}

/// NEW_DAEMON: start a sync daemon.
pub fn encode_new_daemon(
    buf: &mut Vec<u8>,
    family: u16,
    seq: u32,
    d: &SyncDaemon,
) -> Result<(), CodecError> {
    let start = buf.len();
    let m = begin_msg(buf, family, FLAGS_ACKED, seq, cmd::NEW_DAEMON);
    let n = begin_nest(buf, cmd_attr::DAEMON);
    put_u32(buf, daemon_attr::STATE, d.state.code());
    if let Err(e) = put_name(buf, daemon_attr::MCAST_IFN, &d.interface) {
        buf.truncate(start);
        return Err(e);
    }
    put_u32(buf, daemon_attr::SYNC_ID, d.sync_id);
    if let Some(l) = d.maxlen {
        put_u16(buf, daemon_attr::SYNC_MAXLEN, l);
    }
    match d.group {
        Some(IpAddr::V4(g)) => put(buf, daemon_attr::MCAST_GROUP, &g.octets()),
        Some(IpAddr::V6(g)) => put(buf, daemon_attr::MCAST_GROUP6, &g.octets()),
        None => {}
    }
    if let Some(p) = d.port {
        put_u16(buf, daemon_attr::MCAST_PORT, p);
    }
    if let Some(t) = d.ttl {
        put_u8(buf, daemon_attr::MCAST_TTL, t);
    }
    end_nest(buf, n);
    end_msg(buf, m);
    Ok(())
}

/// DEL_DAEMON: stop the sync daemon in the given role.
pub fn encode_del_daemon(buf: &mut Vec<u8>, family: u16, seq: u32, state: SyncState) {
    let m = begin_msg(buf, family, FLAGS_ACKED, seq, cmd::DEL_DAEMON);
    let n = begin_nest(buf, cmd_attr::DAEMON);
    put_u32(buf, daemon_attr::STATE, state.code());
    end_nest(buf, n);
    end_msg(buf, m);
}

/// GET_DAEMON dump.
pub fn encode_get_daemons(buf: &mut Vec<u8>, family: u16, seq: u32) {
    let m = begin_msg(buf, family, FLAGS_DUMP, seq, cmd::GET_DAEMON);
    end_msg(buf, m);
}

/// SET_CONFIG: connection timeouts (a 0 leaves that timeout unchanged; omitted).
pub fn encode_set_config(buf: &mut Vec<u8>, family: u16, seq: u32, t: &Timeouts) {
    let m = begin_msg(buf, family, FLAGS_ACKED, seq, cmd::SET_CONFIG);
    if t.tcp != 0 {
        put_u32(buf, cmd_attr::TIMEOUT_TCP, t.tcp);
    }
    if t.tcp_fin != 0 {
        put_u32(buf, cmd_attr::TIMEOUT_TCP_FIN, t.tcp_fin);
    }
    if t.udp != 0 {
        put_u32(buf, cmd_attr::TIMEOUT_UDP, t.udp);
    }
    end_msg(buf, m);
}

/// A request without attributes that the kernel acknowledges (GET_CONFIG, GET_INFO, FLUSH,
/// ZERO of everything).
pub fn encode_simple(buf: &mut Vec<u8>, family: u16, seq: u32, command: u8) {
    let m = begin_msg(buf, family, FLAGS_ACKED, seq, command);
    end_msg(buf, m);
}

/// ZERO the counters of one service (Some) or of all (None).
pub fn encode_zero(buf: &mut Vec<u8>, family: u16, seq: u32, key: Option<&ServiceKey>) {
    let m = begin_msg(buf, family, FLAGS_ACKED, seq, cmd::ZERO);
    if let Some(k) = key {
        put_service_ident(buf, k);
    }
    end_msg(buf, m);
}

// ---------------------------------------------------------------------------------------
// Parsing

/// One netlink message of a receive buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NlMsg<'a> {
    pub ty: u16,
    pub flags: u16,
    pub seq: u32,
    pub pid: u32,
    pub payload: &'a [u8],
}

fn rd_u16(b: &[u8], at: usize) -> Option<u16> {
    b.get(at..at + 2).map(|s| u16::from_ne_bytes([s[0], s[1]]))
}
fn rd_u32(b: &[u8], at: usize) -> Option<u32> {
    b.get(at..at + 4)
        .map(|s| u32::from_ne_bytes([s[0], s[1], s[2], s[3]]))
}

/// Splits a datagram into its netlink messages.
pub fn split_messages(mut buf: &[u8]) -> Result<Vec<NlMsg<'_>>, CodecError> {
    let mut out = Vec::new();
    while !buf.is_empty() {
        let len = rd_u32(buf, 0).ok_or(CodecError::Truncated("nlmsghdr"))? as usize;
        if len < NLMSG_HDRLEN || len > buf.len() {
            return Err(CodecError::Truncated("nlmsg_len"));
        }
        out.push(NlMsg {
            ty: rd_u16(buf, 4).unwrap_or(0),
            flags: rd_u16(buf, 6).unwrap_or(0),
            seq: rd_u32(buf, 8).unwrap_or(0),
            pid: rd_u32(buf, 12).unwrap_or(0),
            payload: &buf[NLMSG_HDRLEN..len],
        });
        let next = align4(len).min(buf.len());
        buf = &buf[next..];
    }
    Ok(out)
}

/// What one received message means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply<'a> {
    /// NLMSG_ERROR with error 0.
    Ack { seq: u32 },
    /// NLMSG_ERROR with a (positive) errno.
    Error { seq: u32, errno: i32 },
    /// End of a dump.
    Done { seq: u32 },
    /// A generic netlink message: command and its top-level attributes.
    Genl {
        seq: u32,
        cmd: u8,
        multi: bool,
        attrs: &'a [u8],
    },
    /// NOOP / OVERRUN or other control messages: ignored.
    Other { seq: u32, ty: u16 },
}

pub fn classify<'a>(m: &NlMsg<'a>) -> Result<Reply<'a>, CodecError> {
    match m.ty {
        NLMSG_ERROR => {
            let e = rd_u32(m.payload, 0).ok_or(CodecError::Truncated("nlmsgerr"))? as i32;
            Ok(if e == 0 {
                Reply::Ack { seq: m.seq }
            } else {
                Reply::Error {
                    seq: m.seq,
                    errno: e.saturating_neg(),
                }
            })
        }
        NLMSG_DONE => Ok(Reply::Done { seq: m.seq }),
        NLMSG_NOOP | NLMSG_OVERRUN => Ok(Reply::Other {
            seq: m.seq,
            ty: m.ty,
        }),
        _ => {
            if m.payload.len() < GENL_HDRLEN {
                return Err(CodecError::Truncated("genlmsghdr"));
            }
            Ok(Reply::Genl {
                seq: m.seq,
                cmd: m.payload[0],
                multi: m.flags & NLM_F_MULTI != 0,
                attrs: &m.payload[GENL_HDRLEN..],
            })
        }
    }
}

/// Attributes of one level, indexed by type (flag bits masked off). Later duplicates win.
#[derive(Debug, Default)]
pub struct Attrs<'a> {
    slots: Vec<Option<&'a [u8]>>,
}

impl<'a> Attrs<'a> {
    pub fn parse(mut b: &'a [u8]) -> Result<Attrs<'a>, CodecError> {
        let mut a = Attrs { slots: Vec::new() };
        while b.len() >= NLA_HDRLEN {
            let len = rd_u16(b, 0).unwrap_or(0) as usize;
            let ty = (rd_u16(b, 2).unwrap_or(0) & NLA_TYPE_MASK) as usize;
            if len < NLA_HDRLEN || len > b.len() {
                return Err(CodecError::BadAttr("nla_len"));
            }
            if ty < 64 {
                if a.slots.len() <= ty {
                    a.slots.resize(ty + 1, None);
                }
                a.slots[ty] = Some(&b[NLA_HDRLEN..len]);
            }
            b = &b[align4(len).min(b.len())..];
        }
        Ok(a)
    }
    pub fn get(&self, ty: u16) -> Option<&'a [u8]> {
        self.slots.get(ty as usize).copied().flatten()
    }
    pub fn u8(&self, ty: u16, name: &'static str) -> Result<Option<u8>, CodecError> {
        self.get(ty)
            .map(|v| v.first().copied().ok_or(CodecError::BadAttr(name)))
            .transpose()
    }
    pub fn u16(&self, ty: u16, name: &'static str) -> Result<Option<u16>, CodecError> {
        self.get(ty)
            .map(|v| rd_u16(v, 0).ok_or(CodecError::BadAttr(name)))
            .transpose()
    }
    pub fn be16(&self, ty: u16, name: &'static str) -> Result<Option<u16>, CodecError> {
        Ok(self.u16(ty, name)?.map(u16::from_be))
    }
    pub fn u32(&self, ty: u16, name: &'static str) -> Result<Option<u32>, CodecError> {
        self.get(ty)
            .map(|v| rd_u32(v, 0).ok_or(CodecError::BadAttr(name)))
            .transpose()
    }
    /// A u32 or u64 counter, whatever width the kernel sent.
    pub fn counter(&self, ty: u16) -> u64 {
        match self.get(ty) {
            Some(v) if v.len() >= 8 => {
                let mut b = [0u8; 8];
                b.copy_from_slice(&v[..8]);
                u64::from_ne_bytes(b)
            }
            Some(v) => rd_u32(v, 0).map(u64::from).unwrap_or(0),
            None => 0,
        }
    }
    pub fn string(&self, ty: u16) -> Option<String> {
        self.get(ty).map(|v| {
            let end = v.iter().position(|&c| c == 0).unwrap_or(v.len());
            String::from_utf8_lossy(&v[..end]).into_owned()
        })
    }
    pub fn nested(&self, ty: u16, name: &'static str) -> Result<Attrs<'a>, CodecError> {
        Attrs::parse(self.get(ty).ok_or(CodecError::Missing(name))?)
    }
    fn must_u32(&self, ty: u16, name: &'static str) -> Result<u32, CodecError> {
        self.u32(ty, name)?.ok_or(CodecError::Missing(name))
    }
}

fn parse_addr(v: &[u8], family: Family) -> Result<IpAddr, CodecError> {
    match family {
        Family::V4 => {
            let o: [u8; 4] = v
                .get(..4)
                .and_then(|s| s.try_into().ok())
                .ok_or(CodecError::BadAttr("IPv4 address"))?;
            Ok(IpAddr::V4(Ipv4Addr::from(o)))
        }
        Family::V6 => {
            let o: [u8; 16] = v
                .get(..16)
                .and_then(|s| s.try_into().ok())
                .ok_or(CodecError::BadAttr("IPv6 address"))?;
            Ok(IpAddr::V6(Ipv6Addr::from(o)))
        }
    }
}

fn family_of_af(af: u16) -> Result<Family, CodecError> {
    match af as i32 {
        libc::AF_INET => Ok(Family::V4),
        libc::AF_INET6 => Ok(Family::V6),
        _ => Err(CodecError::Unexpected(format!("address family {af}"))),
    }
}

fn parse_proto(p: u16) -> Result<Proto, CodecError> {
    match p {
        6 => Ok(Proto::Tcp),
        17 => Ok(Proto::Udp),
        132 => Ok(Proto::Sctp),
        _ => Err(CodecError::Unexpected(format!("protocol {p}"))),
    }
}

/// Parses a nested IPVS_*_ATTR_STATS / STATS64 block.
pub fn parse_stats(a: &Attrs<'_>) -> Stats {
    use stats_attr::*;
    Stats {
        conns: a.counter(CONNS),
        inpkts: a.counter(INPKTS),
        outpkts: a.counter(OUTPKTS),
        inbytes: a.counter(INBYTES),
        outbytes: a.counter(OUTBYTES),
        cps: a.counter(CPS),
        inpps: a.counter(INPPS),
        outpps: a.counter(OUTPPS),
        inbps: a.counter(INBPS),
        outbps: a.counter(OUTBPS),
    }
}

fn stats_of(a: &Attrs<'_>, s64: u16, s32: u16) -> Result<Stats, CodecError> {
    if a.get(s64).is_some() {
        Ok(parse_stats(&a.nested(s64, "STATS64")?))
    } else if a.get(s32).is_some() {
        Ok(parse_stats(&a.nested(s32, "STATS")?))
    } else {
        Ok(Stats::default())
    }
}

/// Parses the top-level attributes of a NEW_SERVICE reply (a dump entry).
pub fn parse_service(top: &[u8]) -> Result<(Service, Stats), CodecError> {
    let t = Attrs::parse(top)?;
    let a = t.nested(cmd_attr::SERVICE, "CMD_ATTR_SERVICE")?;
    parse_service_attrs(&a)
}

fn parse_service_attrs(a: &Attrs<'_>) -> Result<(Service, Stats), CodecError> {
    use svc_attr::*;
    let family = family_of_af(a.u16(AF, "SVC_AF")?.ok_or(CodecError::Missing("SVC_AF"))?)?;
    let key = match a.u32(FWMARK, "SVC_FWMARK")? {
        Some(mark) if mark != 0 || a.get(ADDR).is_none() => ServiceKey::Fwmark { family, mark },
        _ => ServiceKey::Addr {
            proto: parse_proto(
                a.u16(PROTOCOL, "SVC_PROTOCOL")?
                    .ok_or(CodecError::Missing("SVC_PROTOCOL"))?,
            )?,
            addr: parse_addr(a.get(ADDR).ok_or(CodecError::Missing("SVC_ADDR"))?, family)?,
            port: a
                .be16(PORT, "SVC_PORT")?
                .ok_or(CodecError::Missing("SVC_PORT"))?,
        },
    };
    let flags = match a.get(FLAGS) {
        Some(v) => rd_u32(v, 0).ok_or(CodecError::BadAttr("SVC_FLAGS"))?,
        None => 0,
    };
    let netmask = match (family, a.get(NETMASK)) {
        (Family::V4, Some(v)) => {
            let b: [u8; 4] = v
                .get(..4)
                .and_then(|s| s.try_into().ok())
                .ok_or(CodecError::BadAttr("SVC_NETMASK"))?;
            u32::from_be_bytes(b)
        }
        (Family::V6, Some(v)) => rd_u32(v, 0).ok_or(CodecError::BadAttr("SVC_NETMASK"))?,
        (Family::V4, None) => u32::MAX,
        (Family::V6, None) => 128,
    };
    let service = Service {
        key,
        scheduler: a.string(SCHED_NAME).unwrap_or_default(),
        flags: flags & !svc_flags::HASHED,
        timeout: a.u32(TIMEOUT, "SVC_TIMEOUT")?.unwrap_or(0),
        netmask,
        pe_name: a.string(PE_NAME).filter(|s| !s.is_empty()),
    };
    Ok((service, stats_of(a, STATS64, STATS)?))
}

/// Parses the top-level attributes of a NEW_DEST reply (a dump entry); `family` is the
/// service's, used when the kernel does not say the destination's own.
pub fn parse_dest(top: &[u8], family: Family) -> Result<DestState, CodecError> {
    use dest_attr::*;
    let t = Attrs::parse(top)?;
    let a = t.nested(cmd_attr::DEST, "CMD_ATTR_DEST")?;
    let dfam = match a.u16(ADDR_FAMILY, "DEST_ADDR_FAMILY")? {
        Some(af) => family_of_af(af)?,
        None => family,
    };
    let fwd_code = a.must_u32(FWD_METHOD, "DEST_FWD_METHOD")?;
    let forward = Forward::from_code(fwd_code)
        .ok_or_else(|| CodecError::Unexpected(format!("forward method {fwd_code}")))?;
    let tunnel = if forward == Forward::Tunnel {
        let p = TunnelParams {
            tun_type: a.u8(TUN_TYPE, "DEST_TUN_TYPE")?.unwrap_or(0),
            tun_port: a.be16(TUN_PORT, "DEST_TUN_PORT")?.unwrap_or(0),
            tun_flags: a.u16(TUN_FLAGS, "DEST_TUN_FLAGS")?.unwrap_or(0),
        };
        // the kernel's default (IPIP, no port, no checksum) is reported as None
        (p != TunnelParams {
            tun_type: 0,
            tun_port: 0,
            tun_flags: 0,
        })
        .then_some(p)
    } else {
        None
    };
    Ok(DestState {
        dest: Dest {
            key: DestKey {
                addr: parse_addr(a.get(ADDR).ok_or(CodecError::Missing("DEST_ADDR"))?, dfam)?,
                port: a.be16(PORT, "DEST_PORT")?.unwrap_or(0),
            },
            forward,
            weight: a.must_u32(WEIGHT, "DEST_WEIGHT")?,
            upper_threshold: a.u32(U_THRESH, "DEST_U_THRESH")?.unwrap_or(0),
            lower_threshold: a.u32(L_THRESH, "DEST_L_THRESH")?.unwrap_or(0),
            tunnel,
        },
        active_conns: a.u32(ACTIVE_CONNS, "DEST_ACTIVE_CONNS")?.unwrap_or(0),
        inactive_conns: a.u32(INACT_CONNS, "DEST_INACT_CONNS")?.unwrap_or(0),
        persistent_conns: a.u32(PERSIST_CONNS, "DEST_PERSIST_CONNS")?.unwrap_or(0),
        stats: stats_of(&a, STATS64, STATS)?,
    })
}

/// Parses one GET_DAEMON dump entry.
pub fn parse_daemon(top: &[u8]) -> Result<SyncDaemon, CodecError> {
    use daemon_attr::*;
    let t = Attrs::parse(top)?;
    let a = t.nested(cmd_attr::DAEMON, "CMD_ATTR_DAEMON")?;
    let st = a.must_u32(STATE, "DAEMON_STATE")?;
    let group = if let Some(v) = a.get(MCAST_GROUP6) {
        Some(parse_addr(v, Family::V6)?)
    } else if let Some(v) = a.get(MCAST_GROUP) {
        Some(parse_addr(v, Family::V4)?)
    } else {
        None
    };
    Ok(SyncDaemon {
        state: SyncState::from_code(st)
            .ok_or_else(|| CodecError::Unexpected(format!("daemon state {st}")))?,
        interface: a.string(MCAST_IFN).unwrap_or_default(),
        sync_id: a.u32(SYNC_ID, "DAEMON_SYNC_ID")?.unwrap_or(0),
        maxlen: a.u16(SYNC_MAXLEN, "DAEMON_SYNC_MAXLEN")?,
        group,
        port: a.u16(MCAST_PORT, "DAEMON_MCAST_PORT")?,
        ttl: a.u8(MCAST_TTL, "DAEMON_MCAST_TTL")?,
    })
}

/// Parses a GET_CONFIG reply.
pub fn parse_config(top: &[u8]) -> Result<Timeouts, CodecError> {
    let a = Attrs::parse(top)?;
    Ok(Timeouts {
        tcp: a.u32(cmd_attr::TIMEOUT_TCP, "TIMEOUT_TCP")?.unwrap_or(0),
        tcp_fin: a
            .u32(cmd_attr::TIMEOUT_TCP_FIN, "TIMEOUT_TCP_FIN")?
            .unwrap_or(0),
        udp: a.u32(cmd_attr::TIMEOUT_UDP, "TIMEOUT_UDP")?.unwrap_or(0),
    })
}

/// Parses a GET_INFO reply.
pub fn parse_info(top: &[u8]) -> Result<Info, CodecError> {
    let a = Attrs::parse(top)?;
    Ok(Info {
        version: a.must_u32(info_attr::VERSION, "INFO_VERSION")?,
        conn_tab_size: a.must_u32(info_attr::CONN_TAB_SIZE, "INFO_CONN_TAB_SIZE")?,
    })
}

#[cfg(test)]
mod tests;
