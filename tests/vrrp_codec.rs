//! VRRP codec: golden frames captured from keepalived 2.2.7 (decode, re-encode to the same
//! bytes), receive checks, and proptest round trips.

use lvsd::vrrp::packet::{
    Advert, ChecksumForm, DropReason, RxMeta, RxStats, Version, AUTH_NONE, AUTH_PASS,
};
use proptest::prelude::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

mod common;
use common::{read_pcap, Frame};

fn v4(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Decodes a frame, checks it, re-encodes it and compares the bytes.
fn golden_one(frame: &Frame, form: ChecksumForm, want: &Advert) {
    let adv = Advert::decode(&frame.payload, &frame.meta()).unwrap();
    assert_eq!(&adv, want);
    let again = adv.encode(frame.src, frame.dst, form).unwrap();
    assert_eq!(again, frame.payload, "re-encoded bytes differ");
}

/// Every frame of a capture is the same advert (a master's periodic adverts).
fn golden(frames: &[Frame], form: ChecksumForm, want: &Advert) {
    assert!(!frames.is_empty());
    for f in frames {
        golden_one(f, form, want);
    }
}

#[test]
fn golden_v3_two_addresses() {
    let f = read_pcap("keepalived-2.2.7-v3.pcap");
    assert_eq!(f[0].ttl, 255);
    golden(
        &f,
        ChecksumForm::PseudoHeader,
        &Advert {
            version: Version::V3,
            vrid: 51,
            priority: 150,
            interval_cs: 100,
            auth_type: 0,
            auth_data: [0; 8],
            addrs: vec![v4("10.99.0.100"), v4("10.99.0.101")],
            ah: None,
        },
    );
    // The capture uses keepalived's pseudo-header form.
    assert_eq!(
        Advert::checksum_form(&f[0].payload, &f[0].meta()),
        Some(ChecksumForm::PseudoHeader)
    );
    // Checksum bytes as in the README hex dump (37e0).
    assert_eq!(&f[0].payload[6..8], &[0x37, 0xe0]);
}

#[test]
fn golden_v3_half_second() {
    let f = read_pcap("keepalived-2.2.7-v3c50.pcap");
    golden(
        &f,
        ChecksumForm::PseudoHeader,
        &Advert {
            version: Version::V3,
            vrid: 51,
            priority: 150,
            interval_cs: 50,
            auth_type: 0,
            auth_data: [0; 8],
            addrs: vec![v4("10.99.0.100")],
            ah: None,
        },
    );
}

#[test]
fn golden_v2_pass() {
    let f = read_pcap("keepalived-2.2.7-v2pass.pcap");
    golden(
        &f,
        ChecksumForm::PseudoHeader,
        &Advert {
            version: Version::V2,
            vrid: 51,
            priority: 150,
            interval_cs: 100,
            auth_type: AUTH_PASS,
            auth_data: *b"secret1\0",
            addrs: vec![v4("10.99.0.100")],
            ah: None,
        },
    );
    assert_eq!(lvsd::vrrp::packet::pass_auth_data("secret1"), *b"secret1\0");
}

#[test]
fn golden_v3_unicast() {
    let f = read_pcap("keepalived-2.2.7-v3uni.pcap");
    assert_eq!(f[0].dst, v4("10.99.0.2"));
    golden(
        &f,
        ChecksumForm::PseudoHeader,
        &Advert {
            version: Version::V3,
            vrid: 51,
            priority: 150,
            interval_cs: 100,
            auth_type: 0,
            auth_data: [0; 8],
            addrs: vec![v4("10.99.0.100")],
            ah: None,
        },
    );
}

#[test]
fn golden_v3_ipv6() {
    let f = read_pcap("keepalived-2.2.7-v3v6.pcap");
    assert_eq!(f[0].src, "fe80::1".parse::<IpAddr>().unwrap());
    assert_eq!(f[0].dst, "ff02::12".parse::<IpAddr>().unwrap());
    golden(
        &f,
        ChecksumForm::PseudoHeader,
        &Advert {
            version: Version::V3,
            vrid: 51,
            priority: 150,
            interval_cs: 100,
            auth_type: 0,
            auth_data: [0; 8],
            addrs: vec!["fd00::100".parse().unwrap()],
            ah: None,
        },
    );
    // The checksum form setting does not apply to IPv6: still the pseudo-header.
    let adv = Advert::decode(&f[0].payload, &f[0].meta()).unwrap();
    assert_eq!(
        adv.encode(f[0].src, f[0].dst, ChecksumForm::MessageOnly)
            .unwrap(),
        f[0].payload
    );
}

#[test]
fn golden_v2_failover_sequence() {
    let f = read_pcap("keepalived-2.2.7-v2-failover.pcap");
    // (last octet of the source, priority) of each frame: .1 at 150 resigns with priority
    // 0, .2 takes over at 100, .1 comes back at 150 and later dies silently.
    let seq: Vec<(u8, u8)> = f
        .iter()
        .map(|fr| {
            let IpAddr::V4(src) = fr.src else {
                panic!("not IPv4")
            };
            (
                src.octets()[3],
                Advert::decode(&fr.payload, &fr.meta()).unwrap().priority,
            )
        })
        .collect();
    let mut want = vec![(1, 150); 4];
    want.push((1, 0));
    want.extend([(2, 100); 6]);
    want.extend([(1, 150); 4]);
    want.extend([(2, 100); 2]);
    assert_eq!(seq, want);
    for fr in &f {
        let adv = Advert::decode(&fr.payload, &fr.meta()).unwrap();
        assert_eq!(adv.auth_type, AUTH_NONE);
        assert_eq!(adv.addrs, vec![v4("10.99.0.100")]);
        assert_eq!(
            adv.encode(fr.src, fr.dst, ChecksumForm::PseudoHeader)
                .unwrap(),
            fr.payload
        );
    }
}

#[test]
fn v3_ipv4_accepts_both_checksum_forms() {
    let f = &read_pcap("keepalived-2.2.7-v3.pcap")[0];
    let adv = Advert::decode(&f.payload, &f.meta()).unwrap();
    let msg_only = adv.encode(f.src, f.dst, ChecksumForm::MessageOnly).unwrap();
    assert_ne!(msg_only, f.payload, "the two forms differ");
    assert_eq!(
        Advert::checksum_form(&msg_only, &f.meta()),
        Some(ChecksumForm::MessageOnly)
    );
    assert_eq!(Advert::decode(&msg_only, &f.meta()).unwrap(), adv);
}

/// `old_unicast_checksum`: a unicast VRRPv3/IPv4 advert summed with the multicast group
/// as the pseudo-header's destination (keepalived up to 1.3.6). Sent when configured,
/// accepted on receive (as keepalived 2.2.7 does unless `old_unicast_checksum never`).
#[test]
fn old_unicast_checksum_form() {
    let f = &read_pcap("keepalived-2.2.7-v3.pcap")[0];
    let adv = Advert::decode(&f.payload, &f.meta()).unwrap();
    let src: IpAddr = "10.0.0.1".parse().unwrap();
    let peer: IpAddr = "10.0.0.2".parse().unwrap();
    let group = lvsd::vrrp::packet::MCAST_V4;
    let old = adv
        .encode(src, peer, ChecksumForm::OldUnicast(group))
        .unwrap();
    let new = adv.encode(src, peer, ChecksumForm::PseudoHeader).unwrap();
    let as_mcast = adv
        .encode(src, IpAddr::V4(group), ChecksumForm::PseudoHeader)
        .unwrap();
    assert_ne!(old, new, "the old form differs for unicast");
    assert_eq!(old, as_mcast, "the old form sums the group as destination");
    let unicast = RxMeta {
        src,
        dst: peer,
        ttl: 255,
    };
    assert_eq!(Advert::decode(&old, &unicast).unwrap(), adv);
    assert_eq!(Advert::decode(&new, &unicast).unwrap(), adv);
    // Summed for another destination than the group: still a bad checksum.
    let other = adv
        .encode(src, "10.0.0.3".parse().unwrap(), ChecksumForm::PseudoHeader)
        .unwrap();
    assert_eq!(Advert::decode(&other, &unicast), Err(DropReason::Checksum));
}

/// Table of corrupted packets and the drop reason each must give.
#[test]
fn receive_checks_table() {
    let v3 = read_pcap("keepalived-2.2.7-v3.pcap").remove(0);
    let v2 = read_pcap("keepalived-2.2.7-v2pass.pcap").remove(0);
    let v6 = read_pcap("keepalived-2.2.7-v3v6.pcap").remove(0);
    type Mutate = fn(&mut Frame);
    let cases: Vec<(&str, &Frame, Mutate, DropReason)> = vec![
        ("ttl 254 multicast", &v3, |f| f.ttl = 254, DropReason::Ttl),
        ("hop limit 1", &v6, |f| f.ttl = 1, DropReason::Ttl),
        (
            "version 1",
            &v3,
            |f| f.payload[0] = 0x11,
            DropReason::Version,
        ),
        (
            "CARP-like version 4",
            &v2,
            |f| f.payload[0] = 0x41,
            DropReason::Version,
        ),
        ("type 2", &v3, |f| f.payload[0] = 0x32, DropReason::Type),
        ("empty", &v3, |f| f.payload.clear(), DropReason::Length),
        (
            "short header",
            &v3,
            |f| f.payload.truncate(6),
            DropReason::Length,
        ),
        (
            "truncated address",
            &v3,
            |f| f.payload.truncate(14),
            DropReason::Length,
        ),
        ("extra byte", &v3, |f| f.payload.push(0), DropReason::Length),
        (
            "count too high",
            &v3,
            |f| f.payload[3] = 3,
            DropReason::Length,
        ),
        (
            "v2 missing auth",
            &v2,
            |f| f.payload.truncate(12),
            DropReason::Length,
        ),
        (
            "flipped address",
            &v3,
            |f| f.payload[9] ^= 0x40,
            DropReason::Checksum,
        ),
        (
            "flipped v2 password",
            &v2,
            |f| f.payload[13] ^= 1,
            DropReason::Checksum,
        ),
        (
            "wrong pseudo dst",
            &v3,
            |f| f.dst = "224.0.0.19".parse().unwrap(),
            DropReason::Checksum,
        ),
        (
            "v6 wrong src",
            &v6,
            |f| f.src = "fe80::2".parse().unwrap(),
            DropReason::Checksum,
        ),
        (
            "v2 over ipv6",
            &v6,
            |f| f.payload[0] = 0x21,
            DropReason::Version,
        ),
    ];
    let mut stats = RxStats::default();
    for (name, base, mutate, want) in cases {
        let mut f = base.clone();
        mutate(&mut f);
        let got = Advert::decode(&f.payload, &f.meta());
        assert_eq!(got, Err(want), "{name}");
        stats.record(want);
    }
    assert_eq!(stats.get(DropReason::Length), 6);
    assert_eq!(stats.total_dropped(), 16);
    assert!(DropReason::Version.is_quiet() && DropReason::Type.is_quiet());
    assert!(!DropReason::Checksum.is_quiet());
}

#[test]
fn unicast_ttl_is_not_checked_by_the_codec() {
    let mut f = read_pcap("keepalived-2.2.7-v3uni.pcap").remove(0);
    f.ttl = 64;
    assert!(Advert::decode(&f.payload, &f.meta()).is_ok());
}

#[test]
fn encode_rejects_inconsistent_adverts() {
    let base = Advert {
        version: Version::V2,
        vrid: 1,
        priority: 100,
        interval_cs: 100,
        auth_type: 0,
        auth_data: [0; 8],
        addrs: vec![v4("10.0.0.1")],
        ah: None,
    };
    let (s, d) = (v4("10.0.0.2"), v4("224.0.0.18"));
    let f = ChecksumForm::PseudoHeader;
    assert!(base.encode(s, d, f).is_ok());
    let mut a = base.clone();
    a.interval_cs = 150;
    assert!(a.encode(s, d, f).is_err(), "v2 needs whole seconds");
    let mut a = base.clone();
    a.addrs.push("fd00::1".parse().unwrap());
    assert!(a.encode(s, d, f).is_err(), "mixed families");
    assert!(base.encode(s, "ff02::12".parse().unwrap(), f).is_err());
    let mut a = base.clone();
    a.version = Version::V3;
    a.interval_cs = 4096;
    assert!(a.encode(s, d, f).is_err(), "12-bit interval");
}

fn arb_advert() -> impl Strategy<Value = (Advert, IpAddr, IpAddr, ChecksumForm)> {
    let v4s = prop::collection::vec(
        any::<u32>().prop_map(|x| IpAddr::V4(Ipv4Addr::from(x))),
        0..20,
    );
    let v6s = prop::collection::vec(
        any::<u128>().prop_map(|x| IpAddr::V6(Ipv6Addr::from(x))),
        0..20,
    );
    let v2 = (
        any::<u8>(),
        any::<u8>(),
        1u16..=255,
        any::<u8>(),
        any::<[u8; 8]>(),
        v4s.clone(),
        any::<u32>(),
        any::<bool>(),
    )
        .prop_map(|(vrid, prio, secs, at, ad, addrs, src, mcast)| {
            let dst = if mcast {
                v4("224.0.0.18")
            } else {
                IpAddr::V4(Ipv4Addr::from(src.wrapping_add(1)))
            };
            (
                Advert {
                    version: Version::V2,
                    vrid,
                    priority: prio,
                    interval_cs: secs * 100,
                    auth_type: at,
                    auth_data: ad,
                    addrs,
                    ah: None,
                },
                IpAddr::V4(Ipv4Addr::from(src)),
                dst,
                ChecksumForm::PseudoHeader,
            )
        });
    let v3v4 = (
        any::<u8>(),
        any::<u8>(),
        0u16..=4095,
        v4s,
        any::<u32>(),
        any::<bool>(),
    )
        .prop_map(|(vrid, prio, cs, addrs, src, msg_only)| {
            let form = if msg_only {
                ChecksumForm::MessageOnly
            } else {
                ChecksumForm::PseudoHeader
            };
            (
                Advert {
                    version: Version::V3,
                    vrid,
                    priority: prio,
                    interval_cs: cs,
                    auth_type: 0,
                    auth_data: [0; 8],
                    addrs,
                    ah: None,
                },
                IpAddr::V4(Ipv4Addr::from(src)),
                v4("224.0.0.18"),
                form,
            )
        });
    let v3v6 = (any::<u8>(), any::<u8>(), 0u16..=4095, v6s, any::<u128>()).prop_map(
        |(vrid, prio, cs, addrs, src)| {
            (
                Advert {
                    version: Version::V3,
                    vrid,
                    priority: prio,
                    interval_cs: cs,
                    auth_type: 0,
                    auth_data: [0; 8],
                    addrs,
                    ah: None,
                },
                IpAddr::V6(Ipv6Addr::from(src)),
                "ff02::12".parse().unwrap(),
                ChecksumForm::PseudoHeader,
            )
        },
    );
    prop_oneof![v2, v3v4, v3v6]
}

proptest! {
    #[test]
    fn round_trip((adv, src, dst, form) in arb_advert()) {
        let bytes = adv.encode(src, dst, form).unwrap();
        let meta = RxMeta { src, dst, ttl: 255 };
        let back = Advert::decode(&bytes, &meta).unwrap();
        prop_assert_eq!(&back, &adv);
        prop_assert_eq!(back.encode(src, dst, form).unwrap(), bytes);
    }

    #[test]
    fn decode_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..200), ttl in any::<u8>(), v6 in any::<bool>()) {
        let (src, dst) = if v6 {
            ("fe80::1".parse().unwrap(), "ff02::12".parse().unwrap())
        } else {
            (v4("10.0.0.1"), v4("224.0.0.18"))
        };
        let _ = Advert::decode(&bytes, &RxMeta { src, dst, ttl });
    }

    #[test]
    fn any_single_bit_flip_is_rejected((adv, src, dst, form) in arb_advert(), pos in any::<prop::sample::Index>(), bit in 0u8..8) {
        let mut bytes = adv.encode(src, dst, form).unwrap();
        let i = pos.index(bytes.len());
        bytes[i] ^= 1 << bit;
        let meta = RxMeta { src, dst, ttl: 255 };
        // The one's complement sum catches every single-bit error. For v3/IPv4 the other
        // checksum form may match by chance, so only the form we sent must no longer verify.
        if adv.version == Version::V3 && src.is_ipv4() {
            prop_assert_ne!(Advert::checksum_form(&bytes, &meta), Some(form));
        } else {
            prop_assert!(Advert::decode(&bytes, &meta).is_err());
        }
    }
}
