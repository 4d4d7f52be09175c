//! The VRRP receive path: `Advert::decode` (v2/v3, IPv4/IPv6) and `Advert::decode_ah` with
//! `ah::verify`. The first byte chooses the packet's addressing and what to repair so the
//! fuzzer gets past the checks a random packet fails (the VRRP checksum, the AH ICV); the
//! rest is the packet. An advert that decodes and re-encodes must decode to itself.

#![no_main]

use libfuzzer_sys::fuzz_target;
use lvsd::vrrp::packet::{Advert, ChecksumForm, RxMeta};
use lvsd::vrrp::{ah, checksum};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const V4_SRC: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 99, 0, 1));
const V4_MCAST: IpAddr = IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18));
const V4_PEER: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 99, 0, 2));
const V6_SRC: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 1));
const V6_MCAST: IpAddr = IpAddr::V6(Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12));
const V6_PEER: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0, 0, 2));

/// Puts the checksum `decode` wants into a VRRP message (a no-op on a short one).
fn fix_checksum(msg: &mut [u8], meta: &RxMeta, pseudo: bool) {
    if msg.len() < 8 {
        return;
    }
    msg[6] = 0;
    msg[7] = 0;
    let v3 = msg[0] >> 4 == 3;
    let with_pseudo = v3 && (meta.src.is_ipv6() || pseudo);
    let c = checksum::compute(msg, with_pseudo.then_some((meta.src, meta.dst)));
    msg[6..8].copy_from_slice(&c.to_be_bytes());
}

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    let (src, dst) = match sel & 3 {
        0 => (V4_SRC, V4_MCAST),
        1 => (V4_SRC, V4_PEER),
        2 => (V6_SRC, V6_MCAST),
        _ => (V6_SRC, V6_PEER),
    };
    let meta = RxMeta {
        src,
        dst,
        ttl: if sel & 4 == 0 { 255 } else { 64 },
    };
    let fix = sel & 8 != 0;
    let pseudo = sel & 16 != 0;
    let unicast = sel & 64 != 0;
    let mut pkt = rest.to_vec();
    if sel & 32 == 0 {
        if fix {
            fix_checksum(&mut pkt, &meta, pseudo);
        }
        let _ = Advert::checksum_form(&pkt, &meta);
        let Ok(adv) = Advert::decode(&pkt, &meta) else {
            return;
        };
        let form = Advert::checksum_form(&pkt, &meta).unwrap_or(ChecksumForm::MessageOnly);
        if let Ok(again) = adv.encode(src, dst, form) {
            let back = Advert::decode(&again, &meta);
            assert_eq!(
                back.as_ref(),
                Ok(&adv),
                "re-encoded advert decodes differently"
            );
        }
    } else {
        let key = ah::key("fuzzpass");
        if fix {
            if let Ok(parts) = ah::split(&pkt) {
                // The SPI is the sender's address; the VRRP checksum and the ICV are redone.
                let ihl = parts.ip_header.len();
                let at = ihl + parts.ah_bytes.len();
                let mut vrrp = parts.vrrp.to_vec();
                fix_checksum(&mut vrrp, &meta, false);
                pkt[at..].copy_from_slice(&vrrp);
                let spi: [u8; 4] = [pkt[12], pkt[13], pkt[14], pkt[15]];
                pkt[ihl + 4..ihl + 8].copy_from_slice(&spi);
                let icv = ah::icv(&key, &pkt[..ihl], &pkt[ihl..at], &vrrp, unicast);
                pkt[ihl + 12..ihl + 12 + icv.len()].copy_from_slice(&icv);
            }
        }
        let _ = ah::verify(&pkt, &key, unicast);
        let _ = Advert::decode_ah(&pkt, &meta);
    }
});
