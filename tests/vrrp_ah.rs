//! VRRPv2 with IPsec AH (`auth_type AH`): keepalived 2.2.7's adverts captured on the wire
//! (tests/data/vrrp-captures/keepalived-2.2.7-v2ah.txt tells how) decoded and verified, the
//! same bytes encoded from the same inputs, and the instance's AH receive checks and
//! sequence numbers.

use lvsd::vrrp::ah;
use lvsd::vrrp::packet::{Advert, AhFields, DropReason, RxMeta, Version, AUTH_AH};
use lvsd::vrrp::params::{Auth, InstanceParams};
use lvsd::vrrp::state::{Action, Event, Instance, State};
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;
use std::time::{Duration, Instant};

mod common;
use common::{read_pcap_ipv4, Datagram};

const MULTICAST_CONF: &str = "
vrrp_instance VI_1 {
  state BACKUP
  interface va
  virtual_router_id 51
  priority 150
  advert_int 1
  authentication { auth_type AH
  auth_pass secret1 }
  virtual_ipaddress { 10.99.0.100/24 dev va }
}
";

const UNICAST_CONF: &str = "
vrrp_instance VI_1 {
  state BACKUP
  interface va
  virtual_router_id 51
  priority 150
  advert_int 1
  authentication { auth_type AH
  auth_pass longpassword }
  unicast_src_ip 10.99.0.1
  unicast_peer { 10.99.0.2 }
  virtual_ipaddress { 10.99.0.100/24 dev va }
}
";

/// The instance parameters lvsd resolves from a keepalived.conf text, `edit`ed first.
fn params(conf: &str, edit: impl Fn(&str) -> String) -> InstanceParams {
    let text = edit(conf);
    let loaded =
        lvsd::config::parse_str(&text, Path::new("ah.conf"), "x").unwrap_or_else(|e| panic!("{e}"));
    let c = &loaded.config;
    InstanceParams::from_config(&c.instances[0], &c.global, &c.vrrp_scripts).unwrap()
}

fn same(s: &str) -> String {
    s.to_string()
}

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

/// Every captured frame decodes, verifies with the instance's key, and encodes back to the
/// same bytes from (advert, addresses, IP id, sequence number).
fn golden(frames: &[Datagram], p: &InstanceParams, unicast: bool) {
    let Auth::Ah(key) = p.auth else {
        panic!("AH expected, got {:?}", p.auth)
    };
    assert_eq!(p.is_unicast(), unicast);
    assert!(!frames.is_empty());
    for (i, f) in frames.iter().enumerate() {
        let n = i as u32 + 1;
        let adv = Advert::decode_ah(&f.bytes, &f.meta()).unwrap();
        let last = i == frames.len() - 1;
        let mut want = p.advert_seq(if last { 0 } else { 150 }, n);
        assert_eq!(f.ip_id(), n as u16, "keepalived's IP ids count 1, 2, ...");
        want.ah = Some(AhFields {
            seq: n,
            spi: u32::from(f.src4()),
            datagram: f.bytes.clone(),
        });
        assert_eq!(adv, want, "frame {i}");
        assert_eq!((adv.version, adv.auth_type), (Version::V2, AUTH_AH));
        let hdr = ah::verify(&f.bytes, &key, unicast).unwrap();
        assert_eq!((hdr.spi, hdr.seq), (u32::from(f.src4()), n));
        // Encoding: the advert lvsd would send at that priority and sequence number.
        let mine = p.advert_seq(adv.priority, n);
        let bytes = mine
            .encode_ah(f.src4(), f.dst4(), f.ip_id(), &key, unicast)
            .unwrap();
        assert_eq!(bytes, f.bytes, "frame {i} re-encoded");
    }
}

#[test]
fn golden_v2_ah_multicast() {
    let frames = read_pcap_ipv4("keepalived-2.2.7-v2ah.pcap");
    assert_eq!(frames.len(), 6, "five adverts and the resignation");
    assert_eq!(frames[0].dst4(), Ipv4Addr::new(224, 0, 0, 18));
    assert_eq!(frames[0].bytes[9], 51, "protocol AH");
    golden(&frames, &params(MULTICAST_CONF, same), false);
    // The first frame, as in the capture's text dump (ICV bbd8...14f9).
    assert_eq!(
        hex::encode(&frames[0].bytes[32..44]),
        "bbd846bddc65f9d5081714f9"
    );
}

#[test]
fn golden_v2_ah_unicast_long_password() {
    let frames = read_pcap_ipv4("keepalived-2.2.7-v2ah-unicast.pcap");
    assert_eq!(frames[0].dst4(), Ipv4Addr::new(10, 99, 0, 2));
    let p = params(UNICAST_CONF, same);
    assert_eq!(p.auth, Auth::Ah(*b"longpass"), "cut at 8 bytes");
    golden(&frames, &p, true);
    // The TTL is out of a unicast instance's ICV, in a multicast one's.
    let f = &frames[0];
    assert!(ah::verify(&f.bytes, &ah::key("longpass"), false).is_err());
    let mut ttl = f.bytes.clone();
    ttl[8] = 64;
    assert!(ah::verify(&ttl, &ah::key("longpass"), true).is_ok());
}

#[test]
fn decode_ah_refusals() {
    let f = &read_pcap_ipv4("keepalived-2.2.7-v2ah.pcap")[0];
    let meta = f.meta();
    let mut b = f.bytes.clone();
    b[20] = 6; // AH for TCP: real IPsec, not ours
    assert_eq!(Advert::decode_ah(&b, &meta), Err(DropReason::AhNotVrrp));
    assert!(DropReason::AhNotVrrp.is_quiet());
    assert_eq!(
        Advert::decode_ah(&f.bytes[..40], &meta),
        Err(DropReason::Length)
    );
    let mut b = f.bytes.clone();
    b[50] ^= 1; // VRRP checksum
    assert_eq!(Advert::decode_ah(&b, &meta), Err(DropReason::Checksum));
    let ttl = RxMeta { ttl: 64, ..meta };
    assert_eq!(Advert::decode_ah(&f.bytes, &ttl), Err(DropReason::Ttl));
    // An advert without AH fields cannot be encoded as AH.
    let adv = Advert::decode_ah(&f.bytes, &meta).unwrap();
    let plain = Advert { ah: None, ..adv };
    assert!(plain
        .encode_ah(f.src4(), f.dst4(), 1, &ah::key("secret1"), false)
        .is_err());
}

// ---------------------------------------------------------------------------------------
// The instance: lvsd as keepalived's backup, fed keepalived's own frames.

fn rx(f: &Datagram) -> Event {
    Event::Advert {
        advert: Advert::decode_ah(&f.bytes, &f.meta()).unwrap(),
        meta: f.meta(),
    }
}

/// A backup at priority 100 (below the capture's 150) with the capture's password, started.
fn backup(pass: &str) -> (Instance, Instant) {
    let p = params(MULTICAST_CONF, |c| {
        c.replace("priority 150", "priority 100")
            .replace("secret1", pass)
    });
    let mut i = Instance::new(p);
    let t0 = Instant::now();
    i.handle(t0, Event::LocalAddr(ip("10.99.0.2")));
    i.handle(t0, Event::Start);
    assert_eq!(i.state(), State::Backup);
    (i, t0)
}

fn sent_seq(actions: &[Action]) -> Vec<(u8, u32)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::SendAdvert(adv) => Some((adv.priority, adv.ah.as_ref().map(|a| a.seq)?)),
            _ => None,
        })
        .collect()
}

#[test]
fn backup_accepts_keepalived_and_continues_its_sequence_on_takeover() {
    let frames = read_pcap_ipv4("keepalived-2.2.7-v2ah.pcap");
    let (mut i, t0) = backup("secret1");
    for (n, f) in frames[..5].iter().enumerate() {
        let at = t0 + Duration::from_secs(n as u64);
        assert!(i.handle(at, rx(f)).is_empty());
        assert_eq!(i.ah_seq(), n as u32 + 1);
    }
    assert_eq!(i.stats().accepted, 5);
    // A replayed advert is dropped and counted; the timer is not reset by it.
    i.handle(t0 + Duration::from_secs(5), rx(&frames[2]));
    assert_eq!(i.stats().get(DropReason::AhSequence), 1);
    assert_eq!(i.state(), State::Backup);
    // The resignation (priority 0, sequence 6): take over after the skew, and continue the
    // sequence from the master's number.
    let t6 = t0 + Duration::from_secs(6);
    assert!(i.handle(t6, rx(&frames[5])).is_empty());
    let out = i.handle(t6 + i.skew(), Event::Timer);
    assert_eq!(i.state(), State::Master);
    assert_eq!(sent_seq(&out), vec![(100, 7)]);
    let out = i.handle(t6 + i.skew() + Duration::from_secs(1), Event::Timer);
    assert_eq!(sent_seq(&out), vec![(100, 8)]);
    // Resigning sends the next number at priority 0.
    let out = i.handle(t6 + Duration::from_secs(3), Event::Shutdown);
    assert_eq!(sent_seq(&out), vec![(0, 9)]);
}

#[test]
fn wrong_password_is_dropped_and_counted() {
    let frames = read_pcap_ipv4("keepalived-2.2.7-v2ah.pcap");
    let (mut i, t0) = backup("secret2");
    for f in &frames[..5] {
        assert!(i.handle(t0, rx(f)).is_empty());
    }
    assert_eq!(i.stats().get(DropReason::AuthAh), 5);
    assert_eq!(i.stats().accepted, 0);
    assert_eq!(i.ah_seq(), 0, "an unauthenticated number is not taken");
    // Nothing heard: the backup takes over at Master_Down and starts from 1.
    let out = i.handle(t0 + i.master_down_interval(), Event::Timer);
    assert_eq!(i.state(), State::Master);
    assert_eq!(sent_seq(&out), vec![(100, 1)]);
}

#[test]
fn ah_and_plain_adverts_do_not_mix() {
    let frames = read_pcap_ipv4("keepalived-2.2.7-v2ah.pcap");
    // An AH instance hearing a protocol-112 advert (no AH header), whatever its auth type.
    let (mut i, t0) = backup("secret1");
    let mut plain = i.params().advert(150);
    plain.ah = None;
    let meta = frames[0].meta();
    i.handle(
        t0,
        Event::Advert {
            advert: plain,
            meta,
        },
    );
    assert_eq!(i.stats().get(DropReason::AuthType), 1);
    // A PASS instance hearing AH adverts.
    let p = params(MULTICAST_CONF, |c| {
        c.replace("auth_type AH", "auth_type PASS")
    });
    assert_eq!(p.auth, Auth::Pass(*b"secret1\0"));
    let mut j = Instance::new(p);
    j.handle(t0, Event::Start);
    j.handle(t0, rx(&frames[0]));
    assert_eq!(j.stats().get(DropReason::AuthType), 1);
    // A SPI that is not the source address fails like a bad ICV.
    let (mut k, _) = backup("secret1");
    let other = RxMeta {
        src: ip("10.99.0.9"),
        ..meta
    };
    let mut b = frames[0].bytes.clone();
    b[15] = 9; // IP source 10.99.0.9, SPI still 10.99.0.1
    let Auth::Ah(key) = k.params().auth else {
        unreachable!()
    };
    let (hdr, rest) = b.split_at(20);
    let mac = ah::icv(&key, hdr, &rest[..24], &rest[24..], false);
    b[32..44].copy_from_slice(&mac);
    let adv = Advert::decode_ah(&b, &other).unwrap();
    k.handle(
        t0,
        Event::Advert {
            advert: adv,
            meta: other,
        },
    );
    assert_eq!(k.stats().get(DropReason::AuthAh), 1);
}

#[test]
fn master_syncs_its_sequence_past_a_lower_priority_advert() {
    // keepalived: a master hearing a lower priority AH advert takes its number + 1, so its
    // next advert goes past it.
    let frames = read_pcap_ipv4("keepalived-2.2.7-v2ah.pcap");
    let p = params(MULTICAST_CONF, |c| {
        c.replace("priority 150", "priority 200")
    });
    let mut i = Instance::new(p);
    let t0 = Instant::now();
    i.handle(t0, Event::LocalAddr(ip("10.99.0.2")));
    i.handle(t0, Event::Start);
    let out = i.handle(t0 + i.master_down_interval(), Event::Timer);
    assert_eq!(sent_seq(&out), vec![(200, 1)]);
    // keepalived's advert 3 (priority 150): newer than our 1, lower priority.
    let out = i.handle(t0 + Duration::from_secs(5), rx(&frames[2]));
    assert_eq!(i.state(), State::Master);
    assert_eq!(sent_seq(&out), vec![(200, 5)]);
    // Its advert 4 is not newer than our 5 now: dropped.
    i.handle(t0 + Duration::from_secs(6), rx(&frames[3]));
    assert_eq!(i.stats().get(DropReason::AhSequence), 1);
}

#[test]
fn ah_params_follow_keepalived() {
    // VRRPv3 ignores authentication (keepalived: "VRRP version 3 does not support
    // authentication. Ignoring.").
    let p = params(MULTICAST_CONF, |c| {
        c.replace("advert_int 1", "advert_int 1\n  version 3")
    });
    assert_eq!((p.version, p.auth), (Version::V3, Auth::None));
    assert_eq!(p.advert(100).ah, None);
    // IPv6 instances are VRRPv3: no AH either.
    let p = params(MULTICAST_CONF, |c| {
        c.replace("10.99.0.100/24", "fd00::100/64")
    });
    assert_eq!(p.auth, Auth::None);
    // state MASTER is turned into BACKUP by the configuration layer (as keepalived does).
    let p = params(MULTICAST_CONF, |c| {
        c.replace("state BACKUP", "state MASTER")
    });
    assert_eq!(p.initial_state, lvsd::config::model::InitialState::Backup);
    assert!(p.auth.is_ah());
}

#[test]
fn state_master_with_ah_is_kept_for_the_owner_only() {
    // keepalived 2.2.7: "(VI_1) Initial state master is incompatible with AH authentication
    // - clearing" below priority 255; an owner at 255 enters MASTER at once.
    let owner = params(MULTICAST_CONF, |c| {
        c.replace("state BACKUP", "state MASTER")
            .replace("priority 150", "priority 255")
    });
    assert_eq!(
        owner.initial_state,
        lvsd::config::model::InitialState::Master
    );
    let mut i = Instance::new(owner);
    let out = i.handle(Instant::now(), Event::Start);
    assert_eq!(i.state(), State::Master);
    assert_eq!(sent_seq(&out), vec![(255, 1)]);
}
