//! VRRP advertisement codec (v2 and v3, IPv4 and IPv6) and the packet-level receive checks.
//!
//! Only the VRRP payload is encoded/decoded: the IP header is the kernel's. Decoding takes
//! the payload plus the IP-level facts the checks need ([`RxMeta`]: src, dst, TTL / hop
//! limit). Checks that need an instance's configuration (auth, interval, address list,
//! unicast peer) are done by [`crate::vrrp::state::Instance`]; every failure is a
//! [`DropReason`] counted in [`RxStats`].

use crate::vrrp::ah;
use crate::vrrp::checksum;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The VRRP IPv4 multicast group.
pub const MCAST_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// The VRRP IPv6 multicast group.
pub const MCAST_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// TTL / hop limit of every advert; multicast adverts with another value are dropped.
pub const TTL: u8 = 255;
/// The only VRRP packet type.
pub const TYPE_ADVERT: u8 = 1;
/// Priority of the address owner.
pub const PRIO_OWNER: u8 = 255;
/// Priority sent by a master that resigns.
pub const PRIO_STOP: u8 = 0;
/// v2 authentication types.
pub const AUTH_NONE: u8 = 0;
pub const AUTH_PASS: u8 = 1;
pub const AUTH_AH: u8 = 2;
/// Largest v3 interval (12 bits of centiseconds).
pub const MAX_V3_INTERVAL_CS: u16 = 0x0fff;

/// VRRP protocol version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    V2,
    V3,
}

impl Version {
    pub fn number(self) -> u8 {
        match self {
            Version::V2 => 2,
            Version::V3 => 3,
        }
    }
}

/// Address family of an instance / advert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub fn of(addr: &IpAddr) -> Family {
        if addr.is_ipv4() {
            Family::V4
        } else {
            Family::V6
        }
    }
    fn addr_len(self) -> usize {
        match self {
            Family::V4 => 4,
            Family::V6 => 16,
        }
    }
}

/// A decoded VRRP advertisement (the VRRP payload only).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Advert {
    pub version: Version,
    pub vrid: u8,
    pub priority: u8,
    /// The advertisement interval in centiseconds. v3: the 12-bit Max Adver Int field.
    /// v2: the 8-bit seconds field × 100 (so always a multiple of 100, 100..=25500).
    pub interval_cs: u16,
    /// v2 only (0 in v3): 0 none, 1 simple password, 2 IP AH.
    pub auth_type: u8,
    /// v2 only: the 8 bytes of authentication data as sent (password, zero padded).
    pub auth_data: [u8; 8],
    /// The virtual addresses, all of the packet's family.
    pub addrs: Vec<IpAddr>,
    /// v2 with `auth_type AH`: the AH header's facts (None for protocol-112 adverts).
    pub ah: Option<AhFields>,
}

/// The IPsec AH side of a VRRPv2 advert (see [`crate::vrrp::ah`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AhFields {
    /// The AH sequence number.
    pub seq: u32,
    /// Received: the SPI as sent. To send: ignored (the encoder puts the source address).
    pub spi: u32,
    /// Received: the whole IPv4 datagram (header, AH header, VRRP message) that the ICV
    /// covers, for the instance to check with its key. Empty in adverts to send.
    pub datagram: Vec<u8>,
}

/// Why a packet was dropped. Every reason has its own counter in [`RxStats`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// TTL / hop limit not 255 on multicast, or outside a unicast peer's min/max TTL.
    Ttl,
    /// Version not 2 or 3 (CARP uses the same protocol number: dropped quietly).
    Version,
    /// Type not 1 (advertisement).
    Type,
    /// Too short, or length not matching the address count.
    Length,
    Checksum,
    /// No instance with this VRID (and family / interface).
    VridUnknown,
    /// Auth type differs from ours (v2).
    AuthType,
    /// Password differs from ours (v2 PASS).
    AuthPass,
    /// Advert interval differs from ours (v2 only).
    IntervalMismatch,
    /// Address count or list differs from our virtual_ipaddress (unless skip_check_adv_addr).
    AddrMismatch,
    /// Unicast instance: the source is not a configured unicast_peer.
    UnicastPeer,
    /// Version differs from the instance's, or the packet's family from the instance's.
    WrongVersion,
    /// v2 AH: the ICV does not match our key (a different auth_pass), or the SPI is not the
    /// sender's address.
    AuthAh,
    /// v2 AH: the sequence number is not newer than the last one seen (a replay, or a
    /// sender that restarted while another was master).
    AhSequence,
    /// An AH datagram protecting another protocol than VRRP (real IPsec traffic).
    AhNotVrrp,
}

impl DropReason {
    pub const ALL: [DropReason; 15] = [
        DropReason::Ttl,
        DropReason::Version,
        DropReason::Type,
        DropReason::Length,
        DropReason::Checksum,
        DropReason::VridUnknown,
        DropReason::AuthType,
        DropReason::AuthPass,
        DropReason::IntervalMismatch,
        DropReason::AddrMismatch,
        DropReason::UnicastPeer,
        DropReason::WrongVersion,
        DropReason::AuthAh,
        DropReason::AhSequence,
        DropReason::AhNotVrrp,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::Ttl => "ttl",
            DropReason::Version => "version",
            DropReason::Type => "type",
            DropReason::Length => "length",
            DropReason::Checksum => "checksum",
            DropReason::VridUnknown => "vrid_unknown",
            DropReason::AuthType => "auth_type",
            DropReason::AuthPass => "auth_pass",
            DropReason::IntervalMismatch => "interval_mismatch",
            DropReason::AddrMismatch => "addr_mismatch",
            DropReason::UnicastPeer => "unicast_peer",
            DropReason::WrongVersion => "wrong_version",
            DropReason::AuthAh => "auth_ah",
            DropReason::AhSequence => "ah_sequence",
            DropReason::AhNotVrrp => "ah_not_vrrp",
        }
    }

    /// Drops that are not worth a warning: other protocols sharing protocol 112 (CARP) or
    /// 51 (IPsec).
    pub fn is_quiet(self) -> bool {
        matches!(
            self,
            DropReason::Version | DropReason::Type | DropReason::AhNotVrrp
        )
    }

    /// Failed authentication: worth telling the operator (a password differing between
    /// routers gives two masters).
    pub fn is_auth(self) -> bool {
        matches!(
            self,
            DropReason::AuthType
                | DropReason::AuthPass
                | DropReason::AuthAh
                | DropReason::AhSequence
        )
    }

    /// The reason as a sentence fragment for logs.
    pub fn describe(self) -> &'static str {
        match self {
            DropReason::Ttl => "wrong TTL / hop limit",
            DropReason::Version => "not VRRP version 2 or 3",
            DropReason::Type => "not an advertisement",
            DropReason::Length => "wrong length",
            DropReason::Checksum => "bad checksum",
            DropReason::VridUnknown => "no instance with this VRID",
            DropReason::AuthType => "authentication type differs from ours",
            DropReason::AuthPass => "wrong password (auth_pass)",
            DropReason::IntervalMismatch => "advert interval differs from ours",
            DropReason::AddrMismatch => "virtual addresses differ from ours",
            DropReason::UnicastPeer => "source is not a unicast_peer",
            DropReason::WrongVersion => "VRRP version or address family differs from ours",
            DropReason::AuthAh => "AH authentication failed (different auth_pass?)",
            DropReason::AhSequence => "AH sequence number already seen",
            DropReason::AhNotVrrp => "AH datagram for another protocol",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One counter per [`DropReason`], plus accepted packets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RxStats {
    pub accepted: u64,
    dropped: [u64; DropReason::ALL.len()],
}

impl RxStats {
    pub fn record(&mut self, reason: DropReason) {
        let c = &mut self.dropped[reason.index()];
        *c = c.saturating_add(1);
    }
    pub fn get(&self, reason: DropReason) -> u64 {
        self.dropped[reason.index()]
    }
    pub fn total_dropped(&self) -> u64 {
        self.dropped.iter().sum()
    }
    /// (reason, count) for every reason, in [`DropReason::ALL`] order.
    pub fn iter(&self) -> impl Iterator<Item = (DropReason, u64)> + '_ {
        DropReason::ALL.iter().map(|r| (*r, self.get(*r)))
    }
}

/// IP-level facts about a received packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RxMeta {
    pub src: IpAddr,
    pub dst: IpAddr,
    /// TTL (IPv4) or hop limit (IPv6).
    pub ttl: u8,
}

/// Which checksum a v3/IPv4 advert carries (v2 is always message-only, v3/IPv6 always
/// pseudo-header).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChecksumForm {
    /// keepalived's default: with the IPv4 pseudo-header.
    PseudoHeader,
    /// `v3_checksum_as_v2` / RFC 9568: the VRRP message only.
    MessageOnly,
    /// keepalived up to 1.3.6 for unicast (`old_unicast_checksum`): the pseudo-header
    /// with the multicast group (`vrrp_mcast_group4`) as destination.
    OldUnicast(Ipv4Addr),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    #[error("virtual addresses of mixed families")]
    MixedFamilies,
    #[error("advert family differs from the source/destination address family")]
    FamilyMismatch,
    #[error("too many virtual addresses ({0}, at most 255)")]
    TooManyAddrs(usize),
    #[error("VRRPv2 carries IPv4 only")]
    V2Ipv6,
    #[error("advert interval {0} cs out of range for this version")]
    Interval(u16),
    #[error("an AH advert needs VRRPv2 over IPv4 and a sequence number")]
    NotAh,
}

impl Advert {
    /// The family of the packet, from its addresses (or `fallback` when it has none).
    fn family(&self, fallback: Family) -> Result<Family, EncodeError> {
        let mut fam = None;
        for a in &self.addrs {
            let f = Family::of(a);
            if fam.is_some_and(|x| x != f) {
                return Err(EncodeError::MixedFamilies);
            }
            fam = Some(f);
        }
        Ok(fam.unwrap_or(fallback))
    }

    /// Encodes the VRRP payload sent from `src` to `dst` (needed for the pseudo-header).
    /// `form` matters for v3/IPv4 only.
    pub fn encode(
        &self,
        src: IpAddr,
        dst: IpAddr,
        form: ChecksumForm,
    ) -> Result<Vec<u8>, EncodeError> {
        let ip_family = Family::of(&src);
        if Family::of(&dst) != ip_family {
            return Err(EncodeError::FamilyMismatch);
        }
        let family = self.family(ip_family)?;
        if family != ip_family {
            return Err(EncodeError::FamilyMismatch);
        }
        if self.addrs.len() > 255 {
            return Err(EncodeError::TooManyAddrs(self.addrs.len()));
        }
        let mut out = Vec::with_capacity(8 + self.addrs.len() * family.addr_len() + 8);
        out.push((self.version.number() << 4) | TYPE_ADVERT);
        out.push(self.vrid);
        out.push(self.priority);
        out.push(self.addrs.len() as u8);
        match self.version {
            Version::V2 => {
                if family == Family::V6 {
                    return Err(EncodeError::V2Ipv6);
                }
                let secs = self.interval_cs / 100;
                if !self.interval_cs.is_multiple_of(100) || secs == 0 || secs > 255 {
                    return Err(EncodeError::Interval(self.interval_cs));
                }
                out.push(self.auth_type);
                out.push(secs as u8);
            }
            Version::V3 => {
                if self.interval_cs > MAX_V3_INTERVAL_CS {
                    return Err(EncodeError::Interval(self.interval_cs));
                }
                out.extend_from_slice(&self.interval_cs.to_be_bytes());
            }
        }
        out.extend_from_slice(&[0, 0]);
        for a in &self.addrs {
            match a {
                IpAddr::V4(v4) => out.extend_from_slice(&v4.octets()),
                IpAddr::V6(v6) => out.extend_from_slice(&v6.octets()),
            }
        }
        if self.version == Version::V2 {
            out.extend_from_slice(&self.auth_data);
        }
        let pseudo = match (self.version, family, form) {
            (Version::V2, _, _) | (Version::V3, Family::V4, ChecksumForm::MessageOnly) => None,
            (Version::V3, Family::V4, ChecksumForm::OldUnicast(g)) => Some((src, IpAddr::V4(g))),
            _ => Some((src, dst)),
        };
        let c = checksum::compute(&out, pseudo);
        out[6..8].copy_from_slice(&c.to_be_bytes());
        Ok(out)
    }

    /// Decodes and checks a received VRRP payload: version, type, TTL (multicast
    /// destinations only: unicast TTLs are the instance's business), length and checksum
    /// (for v3/IPv4 both checksum forms are accepted).
    pub fn decode(payload: &[u8], meta: &RxMeta) -> Result<Advert, DropReason> {
        let first = *payload.first().ok_or(DropReason::Length)?;
        let version = match first >> 4 {
            2 => Version::V2,
            3 => Version::V3,
            _ => return Err(DropReason::Version),
        };
        if first & 0x0f != TYPE_ADVERT {
            return Err(DropReason::Type);
        }
        if meta.dst.is_multicast() && meta.ttl != TTL {
            return Err(DropReason::Ttl);
        }
        if payload.len() < 8 {
            return Err(DropReason::Length);
        }
        let family = Family::of(&meta.src);
        if version == Version::V2 && family == Family::V6 {
            return Err(DropReason::Version);
        }
        let count = usize::from(payload[3]);
        let auth_len = if version == Version::V2 { 8 } else { 0 };
        let want = 8 + count * family.addr_len() + auth_len;
        if payload.len() != want {
            return Err(DropReason::Length);
        }
        let ok = match (version, family) {
            (Version::V2, _) => checksum::verify(payload, None),
            (Version::V3, Family::V4) => {
                checksum::verify(payload, Some((meta.src, meta.dst)))
                    || checksum::verify(payload, None)
                    || (!meta.dst.is_multicast()
                        && checksum::verify(payload, Some((meta.src, IpAddr::V4(MCAST_V4)))))
            }
            (Version::V3, Family::V6) => checksum::verify(payload, Some((meta.src, meta.dst))),
        };
        if !ok {
            return Err(DropReason::Checksum);
        }
        let (interval_cs, auth_type) = match version {
            Version::V2 => (u16::from(payload[5]) * 100, payload[4]),
            Version::V3 => (
                u16::from_be_bytes([payload[4], payload[5]]) & MAX_V3_INTERVAL_CS,
                0,
            ),
        };
        let body = &payload[8..8 + count * family.addr_len()];
        let addrs = match family {
            Family::V4 => body
                .chunks_exact(4)
                .map(|c| IpAddr::V4(Ipv4Addr::new(c[0], c[1], c[2], c[3])))
                .collect(),
            Family::V6 => body
                .chunks_exact(16)
                .map(|c| {
                    let mut o = [0u8; 16];
                    o.copy_from_slice(c);
                    IpAddr::V6(Ipv6Addr::from(o))
                })
                .collect(),
        };
        let mut auth_data = [0u8; 8];
        if version == Version::V2 {
            auth_data.copy_from_slice(&payload[want - 8..]);
        }
        Ok(Advert {
            version,
            vrid: payload[1],
            priority: payload[2],
            interval_cs,
            auth_type,
            auth_data,
            addrs,
            ah: None,
        })
    }

    /// Decodes a received AH datagram (IPv4 header, AH header, VRRP message; see
    /// [`crate::vrrp::ah`]): the AH header's shape, then the VRRP message as [`Advert::decode`]
    /// does. The ICV, SPI and sequence number are checked by the instance, which has the key.
    pub fn decode_ah(datagram: &[u8], meta: &RxMeta) -> Result<Advert, DropReason> {
        let parts = ah::split(datagram).map_err(|e| match e {
            ah::AhError::NotVrrp => DropReason::AhNotVrrp,
            _ => DropReason::Length,
        })?;
        let mut adv = Advert::decode(parts.vrrp, meta)?;
        adv.ah = Some(AhFields {
            seq: parts.ah.seq,
            spi: parts.ah.spi,
            datagram: datagram.to_vec(),
        });
        Ok(adv)
    }

    /// Encodes a v2 AH advert as the whole IPv4 datagram (for an `IP_HDRINCL` socket):
    /// the VRRP message, then [`ah::seal`] with the sequence number of `self.ah`.
    pub fn encode_ah(
        &self,
        src: Ipv4Addr,
        dst: Ipv4Addr,
        ip_id: u16,
        key: &ah::Key,
        unicast: bool,
    ) -> Result<Vec<u8>, EncodeError> {
        let Some(fields) = &self.ah else {
            return Err(EncodeError::NotAh);
        };
        if self.version != Version::V2 {
            return Err(EncodeError::NotAh);
        }
        let vrrp = self.encode(IpAddr::V4(src), IpAddr::V4(dst), ChecksumForm::MessageOnly)?;
        Ok(ah::seal(
            &vrrp,
            key,
            &ah::SealParams {
                src,
                dst,
                ip_id,
                seq: fields.seq,
                unicast,
            },
        ))
    }

    /// Which checksum form a valid v3/IPv4 payload used (None for other kinds or if neither
    /// matches).
    pub fn checksum_form(payload: &[u8], meta: &RxMeta) -> Option<ChecksumForm> {
        if payload.first().map(|b| b >> 4) != Some(3) || !meta.src.is_ipv4() {
            return None;
        }
        if checksum::verify(payload, Some((meta.src, meta.dst))) {
            Some(ChecksumForm::PseudoHeader)
        } else if checksum::verify(payload, None) {
            Some(ChecksumForm::MessageOnly)
        } else {
            None
        }
    }
}

/// The 8 bytes of v2 PASS authentication data for a password (truncated at 8 bytes, zero
/// padded), as keepalived sends it.
pub fn pass_auth_data(pass: &str) -> [u8; 8] {
    let mut out = [0u8; 8];
    for (o, b) in out.iter_mut().zip(pass.as_bytes()) {
        *o = *b;
    }
    out
}
