//! RFC 1071 Internet checksum over a VRRP message, with or without an IP pseudo-header.
//!
//! * VRRPv2 and keepalived's `v3_checksum_as_v2`: the VRRP message only.
//! * VRRPv3/IPv4: keepalived (its default), FRR and Wireshark add the pseudo-header
//!   `{src, dst, 0, 112, length}`; RFC 9568 says message only. Both are accepted on receive.
//! * VRRPv3/IPv6: the IPv6 pseudo-header `{src, dst, length (u32), 0, 0, 0, 112}`.

use std::net::IpAddr;

/// IP protocol number of VRRP.
pub const PROTO_VRRP: u8 = 112;

/// Adds `data` as big-endian 16-bit words (an odd last byte is padded with zero) to `sum`.
fn add_words(mut sum: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum = sum.wrapping_add(u32::from(u16::from_be_bytes([c[0], c[1]])));
        // Fold early so that even very long inputs cannot overflow.
        if sum > 0xffff_0000 {
            sum = (sum & 0xffff) + (sum >> 16);
        }
    }
    if let [last] = chunks.remainder() {
        sum = sum.wrapping_add(u32::from(*last) << 8);
    }
    sum
}

/// Folds carries into 16 bits (not yet complemented).
fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    sum as u16
}

/// The partial sum of the pseudo-header for a message of `len` bytes from `src` to `dst`.
/// Mixed families (which cannot happen on the wire) sum both addresses as they are.
fn pseudo_sum(src: IpAddr, dst: IpAddr, len: usize) -> u32 {
    let mut sum = 0u32;
    for a in [src, dst] {
        sum = match a {
            IpAddr::V4(v4) => add_words(sum, &v4.octets()),
            IpAddr::V6(v6) => add_words(sum, &v6.octets()),
        };
    }
    if src.is_ipv6() {
        let len = len as u32;
        sum = add_words(sum, &len.to_be_bytes());
        sum = add_words(sum, &[0, 0, 0, PROTO_VRRP]);
    } else {
        sum = add_words(sum, &[0, PROTO_VRRP]);
        sum = add_words(sum, &(len as u16).to_be_bytes());
    }
    sum
}

/// The checksum to put in a message whose checksum field (bytes 6–7) holds zero.
/// `pseudo`: the (src, dst) of the IP header to include, or None for the message only.
pub fn compute(msg: &[u8], pseudo: Option<(IpAddr, IpAddr)>) -> u16 {
    let start = pseudo.map_or(0, |(s, d)| pseudo_sum(s, d, msg.len()));
    !fold(add_words(start, msg))
}

/// Whether a received message (checksum field as received) sums to zero.
pub fn verify(msg: &[u8], pseudo: Option<(IpAddr, IpAddr)>) -> bool {
    let start = pseudo.map_or(0, |(s, d)| pseudo_sum(s, d, msg.len()));
    fold(add_words(start, msg)) == 0xffff
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 section 3 example: words 0001 f203 f4f5 f6f7 sum to ddf2 (before
        // complement).
        let data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        assert_eq!(compute(&data, None), !0xddf2);
    }

    #[test]
    fn odd_length_pads_with_zero() {
        assert_eq!(compute(&[0x12], None), compute(&[0x12, 0x00], None));
    }

    #[test]
    fn verify_accepts_own_checksum_and_rejects_flip() {
        let src: IpAddr = "10.0.0.1".parse().unwrap();
        let dst: IpAddr = "224.0.0.18".parse().unwrap();
        let mut msg = vec![0x31, 0x33, 0x96, 0x01, 0x00, 0x64, 0, 0, 10, 99, 0, 100];
        let c = compute(&msg, Some((src, dst)));
        msg[6..8].copy_from_slice(&c.to_be_bytes());
        assert!(verify(&msg, Some((src, dst))));
        assert!(!verify(&msg, None));
        msg[11] ^= 1;
        assert!(!verify(&msg, Some((src, dst))));
    }
}
