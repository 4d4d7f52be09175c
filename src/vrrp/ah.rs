//! IPsec AH for VRRPv2 (`auth_type AH`), as keepalived 2.2.7 puts it on the wire (RFC 2338
//! §5.3.6.3 with RFC 2402's header). I/O-free: datagrams in, datagrams out.
//!
//! keepalived sends the advert as IP protocol 51 with a 24-byte AH header before the VRRP
//! message (which still carries auth type 2 and eight zero bytes of auth data):
//!
//! | offset | field |
//! |---|---|
//! | 0 | next header: 112 (VRRP) |
//! | 1 | payload length: 4 (32-bit words of the header minus 2) |
//! | 2–3 | reserved, 0 |
//! | 4–7 | SPI: the sender's IPv4 source address |
//! | 8–11 | sequence number: 1, 2, … per advert (see [`crate::vrrp::state`]) |
//! | 12–23 | ICV: HMAC-MD5 truncated to 96 bits |
//!
//! The ICV is keyed by `auth_pass` cut or zero-padded to 8 bytes, and covers the IPv4 header
//! (options included) with TOS, flags/fragment offset and header checksum zeroed — and the
//! TTL zeroed too when the instance is unicast, on both ends — then the AH header with the
//! ICV zeroed, then the VRRP message. The IP id is covered as sent: a sender must choose it
//! itself (an `IP_HDRINCL` socket), not leave it to the kernel. On receive keepalived
//! checks the ICV, then that the SPI is the source address, then the sequence number.
//! AH is IPv4 and VRRPv2 only.

use crate::vrrp::checksum;
use crate::vrrp::packet::pass_auth_data;
use hmac::{Hmac, KeyInit, Mac};
use md5::Md5;
use std::net::Ipv4Addr;

/// IP protocol number of AH.
pub const IPPROTO_AH: u8 = 51;
/// Length of keepalived's AH header (with a 96-bit ICV).
pub const AH_LEN: usize = 24;
/// Length of the truncated HMAC-MD5.
pub const ICV_LEN: usize = 12;
/// The AH payload length field for a 96-bit ICV: (24 / 4) − 2.
pub const AH_PAYLOAD_LEN: u8 = 4;
/// Length of the IPv4 header lvsd sends (no options).
pub const IPV4_HEADER_LEN: usize = 20;
/// TOS of adverts (internetwork control).
const TOS: u8 = 0xc0;

/// The HMAC key: `auth_pass` cut or zero-padded to 8 bytes, as keepalived keeps it.
pub type Key = [u8; 8];

/// The HMAC key for a password (keepalived truncates `auth_pass` at 8 bytes).
pub fn key(pass: &str) -> Key {
    pass_auth_data(pass)
}

/// Why an AH datagram was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AhError {
    #[error("the datagram is too short for its IPv4 and AH headers")]
    Short,
    #[error("the datagram is not IPv4 protocol 51")]
    NotAh,
    #[error("the AH header protects another protocol than VRRP")]
    NotVrrp,
    #[error("the AH header length is not keepalived's 24 bytes")]
    HeaderLength,
    #[error("the AH ICV does not match (a different auth_pass?)")]
    Icv,
    #[error("the AH SPI is not the sender's address")]
    Spi,
}

/// The fields of an AH header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AhHeader {
    pub next_header: u8,
    pub payload_len: u8,
    pub spi: u32,
    pub seq: u32,
    pub icv: [u8; ICV_LEN],
}

/// The parts of a received AH datagram: IPv4 header (with options), AH header, VRRP message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Parts<'a> {
    pub ip_header: &'a [u8],
    pub ah: AhHeader,
    pub ah_bytes: &'a [u8],
    pub vrrp: &'a [u8],
}

/// Splits an IPv4 datagram (as an IPv4 raw socket delivers it, trimmed to its total length)
/// into IP header, AH header and VRRP message. Checks the shape only, not the ICV.
pub fn split(datagram: &[u8]) -> Result<Parts<'_>, AhError> {
    let first = *datagram.first().ok_or(AhError::Short)?;
    if first >> 4 != 4 {
        return Err(AhError::NotAh);
    }
    let ihl = usize::from(first & 0x0f) * 4;
    if ihl < IPV4_HEADER_LEN || datagram.len() < ihl + AH_LEN {
        return Err(AhError::Short);
    }
    if datagram[9] != IPPROTO_AH {
        return Err(AhError::NotAh);
    }
    let (ip_header, rest) = datagram.split_at(ihl);
    let (ah_bytes, vrrp) = rest.split_at(AH_LEN);
    let word = |o: usize| {
        u32::from_be_bytes([
            ah_bytes[o],
            ah_bytes[o + 1],
            ah_bytes[o + 2],
            ah_bytes[o + 3],
        ])
    };
    let mut icv = [0u8; ICV_LEN];
    icv.copy_from_slice(&ah_bytes[12..AH_LEN]);
    let ah = AhHeader {
        next_header: ah_bytes[0],
        payload_len: ah_bytes[1],
        spi: word(4),
        seq: word(8),
        icv,
    };
    if ah.next_header != checksum::PROTO_VRRP {
        return Err(AhError::NotVrrp);
    }
    if ah.payload_len != AH_PAYLOAD_LEN {
        return Err(AhError::HeaderLength);
    }
    Ok(Parts {
        ip_header,
        ah,
        ah_bytes,
        vrrp,
    })
}

/// The ICV of a datagram's parts (the ICV bytes in `ah_bytes` are ignored).
/// `unicast`: the instance sends and receives by unicast (the TTL is then left out too).
pub fn icv(
    key: &Key,
    ip_header: &[u8],
    ah_bytes: &[u8],
    vrrp: &[u8],
    unicast: bool,
) -> [u8; ICV_LEN] {
    let mut ip = ip_header.to_vec();
    // The mutable fields: TOS, flags + fragment offset, header checksum (and TTL for
    // unicast). A header shorter than 20 bytes cannot come from `split`.
    for i in [1, 6, 7, 10, 11] {
        if let Some(b) = ip.get_mut(i) {
            *b = 0;
        }
    }
    if unicast {
        if let Some(b) = ip.get_mut(8) {
            *b = 0;
        }
    }
    let mut ah = [0u8; AH_LEN];
    let n = ah_bytes.len().min(12);
    ah[..n].copy_from_slice(&ah_bytes[..n]);
    // HMAC accepts keys of any length; an 8-byte key cannot fail.
    let mut mac =
        <Hmac<Md5> as KeyInit>::new_from_slice(key).expect("HMAC-MD5 takes a key of any length");
    mac.update(&ip);
    mac.update(&ah);
    mac.update(vrrp);
    let full = mac.finalize().into_bytes();
    let mut out = [0u8; ICV_LEN];
    out.copy_from_slice(&full[..ICV_LEN]);
    out
}

/// Checks a received datagram's ICV (in constant time) and its SPI. The sequence number is
/// the instance's business.
pub fn verify(datagram: &[u8], key: &Key, unicast: bool) -> Result<AhHeader, AhError> {
    let parts = split(datagram)?;
    let want = icv(key, parts.ip_header, parts.ah_bytes, parts.vrrp, unicast);
    let diff = want
        .iter()
        .zip(parts.ah.icv.iter())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    if diff != 0 {
        return Err(AhError::Icv);
    }
    let src = u32::from_be_bytes([
        parts.ip_header[12],
        parts.ip_header[13],
        parts.ip_header[14],
        parts.ip_header[15],
    ]);
    if parts.ah.spi != src {
        return Err(AhError::Spi);
    }
    Ok(parts.ah)
}

/// What [`seal`] needs besides the VRRP message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SealParams {
    pub src: Ipv4Addr,
    pub dst: Ipv4Addr,
    /// The IP id (keepalived: 1, 2, … per advert, never 0, which the kernel would replace).
    pub ip_id: u16,
    pub seq: u32,
    /// The instance is unicast: the TTL is left out of the ICV.
    pub unicast: bool,
}

/// Builds the whole IPv4 datagram keepalived would send for a VRRP message: header (TOS
/// 0xc0, TTL 255, no DF, protocol 51, checksum filled in), AH header, the message.
pub fn seal(vrrp: &[u8], key: &Key, p: &SealParams) -> Vec<u8> {
    let total = IPV4_HEADER_LEN + AH_LEN + vrrp.len();
    let mut out = Vec::with_capacity(total);
    out.push(0x45);
    out.push(TOS);
    out.extend_from_slice(&(total.min(usize::from(u16::MAX)) as u16).to_be_bytes());
    out.extend_from_slice(&p.ip_id.to_be_bytes());
    out.extend_from_slice(&[0, 0]); // flags, fragment offset
    out.push(255); // TTL
    out.push(IPPROTO_AH);
    out.extend_from_slice(&[0, 0]); // header checksum, below
    out.extend_from_slice(&p.src.octets());
    out.extend_from_slice(&p.dst.octets());
    out.push(checksum::PROTO_VRRP);
    out.push(AH_PAYLOAD_LEN);
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&p.src.octets()); // SPI
    out.extend_from_slice(&p.seq.to_be_bytes());
    out.extend_from_slice(&[0; ICV_LEN]);
    out.extend_from_slice(vrrp);
    let mac = icv(
        key,
        &out[..IPV4_HEADER_LEN],
        &out[IPV4_HEADER_LEN..IPV4_HEADER_LEN + AH_LEN],
        vrrp,
        p.unicast,
    );
    out[IPV4_HEADER_LEN + 12..IPV4_HEADER_LEN + AH_LEN].copy_from_slice(&mac);
    let c = checksum::compute(&out[..IPV4_HEADER_LEN], None);
    out[10..12].copy_from_slice(&c.to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// keepalived 2.2.7's first AH advert (tests/data/vrrp-captures/keepalived-2.2.7-v2ah.txt).
    const FIRST: &str = "45c0 0040 0001 0000 ff33 d053 0a63 0001 e000 0012 \
                         7004 0000 0a63 0001 0000 0001 bbd8 46bd dc65 f9d5 0817 14f9 \
                         2133 9601 0201 3c03 0a63 0064 0000 0000 0000 0000";

    fn bytes(s: &str) -> Vec<u8> {
        hex::decode(s.replace(' ', "")).unwrap()
    }

    #[test]
    fn verifies_and_reseals_keepalived_advert() {
        let d = bytes(FIRST);
        let ah = verify(&d, &key("secret1"), false).unwrap();
        assert_eq!((ah.spi, ah.seq), (0x0a63_0001, 1));
        let p = SealParams {
            src: Ipv4Addr::new(10, 99, 0, 1),
            dst: Ipv4Addr::new(224, 0, 0, 18),
            ip_id: 1,
            seq: 1,
            unicast: false,
        };
        assert_eq!(seal(&d[44..], &key("secret1"), &p), d);
    }

    #[test]
    fn refusals() {
        let d = bytes(FIRST);
        let k = key("secret1");
        assert_eq!(verify(&d, &key("secret2"), false), Err(AhError::Icv));
        // The TTL is covered for multicast instances only.
        assert_eq!(verify(&d, &k, true), Err(AhError::Icv));
        // Mutable fields may change on the way.
        let mut m = d.clone();
        m[1] = 0;
        m[6] = 0x40;
        m[10] ^= 0xff;
        assert!(verify(&m, &k, false).is_ok());
        // Anything else may not.
        for i in [4, 8, 12, 19, 24, 30, 44, 46, 63] {
            let mut m = d.clone();
            m[i] ^= 1;
            assert!(verify(&m, &k, false).is_err(), "byte {i} flipped");
        }
        let mut m = d.clone();
        m[20] = 6;
        assert_eq!(verify(&m, &k, false), Err(AhError::NotVrrp));
        let mut m = d.clone();
        m[21] = 5;
        assert_eq!(verify(&m, &k, false), Err(AhError::HeaderLength));
        let mut m = d.clone();
        m[9] = 112;
        assert_eq!(verify(&m, &k, false), Err(AhError::NotAh));
        assert_eq!(verify(&d[..43], &k, false), Err(AhError::Short));
        assert_eq!(verify(&[], &k, false), Err(AhError::Short));
        let mut m = d.clone();
        m[0] = 0x4f; // a 60-byte header in a 64-byte datagram
        assert_eq!(verify(&m, &k, false), Err(AhError::Short));
    }

    #[test]
    fn spi_must_be_the_source() {
        // A sender that signs a datagram whose SPI is not its address.
        let k = key("secret1");
        let p = SealParams {
            src: Ipv4Addr::new(10, 99, 0, 1),
            dst: Ipv4Addr::new(224, 0, 0, 18),
            ip_id: 7,
            seq: 3,
            unicast: false,
        };
        let mut d = seal(&bytes(FIRST)[44..], &k, &p);
        d[27] = 9; // SPI 10.99.0.9
        let (ip, rest) = d.split_at(20);
        let mac = icv(&k, ip, &rest[..AH_LEN], &rest[AH_LEN..], false);
        d[32..44].copy_from_slice(&mac);
        assert_eq!(verify(&d, &k, false), Err(AhError::Spi));
    }
}
