//! Test helpers shared by the VRRP tests: reading the keepalived captures.
#![allow(dead_code)]

use lvsd::vrrp::packet::RxMeta;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::PathBuf;
use std::time::Duration;

/// A captured IP packet: capture time, source, destination, TTL / hop limit and the VRRP
/// payload.
#[derive(Debug, Clone)]
pub struct Frame {
    /// Capture timestamp since the Unix epoch.
    pub ts: Duration,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub ttl: u8,
    pub payload: Vec<u8>,
}

impl Frame {
    pub fn meta(&self) -> RxMeta {
        RxMeta {
            src: self.src,
            dst: self.dst,
            ttl: self.ttl,
        }
    }
}

/// The (capture time, Ethernet frame) records of a little-endian, Ethernet (linktype 1) pcap
/// from tests/data/vrrp-captures.
fn pcap_records(name: &str) -> Vec<(Duration, Vec<u8>)> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/vrrp-captures")
        .join(name);
    let data = std::fs::read(&path).unwrap();
    assert_eq!(&data[0..4], &[0xd4, 0xc3, 0xb2, 0xa1], "pcap magic");
    assert_eq!(
        u32::from_le_bytes(data[20..24].try_into().unwrap()),
        1,
        "ethernet"
    );
    let mut out = Vec::new();
    let mut off = 24;
    while off + 16 <= data.len() {
        let secs = u32::from_le_bytes(data[off..off + 4].try_into().unwrap());
        let usecs = u32::from_le_bytes(data[off + 4..off + 8].try_into().unwrap());
        let ts = Duration::from_secs(u64::from(secs)) + Duration::from_micros(u64::from(usecs));
        let incl = u32::from_le_bytes(data[off + 8..off + 12].try_into().unwrap()) as usize;
        out.push((ts, data[off + 16..off + 16 + incl].to_vec()));
        off += 16 + incl;
    }
    out
}

/// Reads a little-endian, Ethernet (linktype 1) pcap from tests/data/vrrp-captures and
/// returns its VRRP frames.
pub fn read_pcap(name: &str) -> Vec<Frame> {
    let mut frames = Vec::new();
    for (ts, pkt) in pcap_records(name) {
        let ethertype = u16::from_be_bytes([pkt[12], pkt[13]]);
        let ip = &pkt[14..];
        let frame = match ethertype {
            0x0800 => {
                let ihl = usize::from(ip[0] & 0x0f) * 4;
                let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
                assert_eq!(ip[9], 112, "protocol VRRP");
                Frame {
                    ts,
                    src: IpAddr::V4(Ipv4Addr::new(ip[12], ip[13], ip[14], ip[15])),
                    dst: IpAddr::V4(Ipv4Addr::new(ip[16], ip[17], ip[18], ip[19])),
                    ttl: ip[8],
                    payload: ip[ihl..total].to_vec(),
                }
            }
            0x86dd => {
                let plen = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
                assert_eq!(ip[6], 112, "next header VRRP");
                let s: [u8; 16] = ip[8..24].try_into().unwrap();
                let d: [u8; 16] = ip[24..40].try_into().unwrap();
                Frame {
                    ts,
                    src: IpAddr::V6(Ipv6Addr::from(s)),
                    dst: IpAddr::V6(Ipv6Addr::from(d)),
                    ttl: ip[7],
                    payload: ip[40..40 + plen].to_vec(),
                }
            }
            other => panic!("unexpected ethertype {other:#x}"),
        };
        frames.push(frame);
    }
    frames
}

/// A captured IPv4 datagram, IP header included (for AH, whose ICV covers it).
#[derive(Debug, Clone)]
pub struct Datagram {
    /// Capture timestamp since the Unix epoch.
    pub ts: Duration,
    /// From the IP header to its total length.
    pub bytes: Vec<u8>,
}

impl Datagram {
    pub fn meta(&self) -> RxMeta {
        let b = &self.bytes;
        RxMeta {
            src: IpAddr::V4(Ipv4Addr::new(b[12], b[13], b[14], b[15])),
            dst: IpAddr::V4(Ipv4Addr::new(b[16], b[17], b[18], b[19])),
            ttl: b[8],
        }
    }
    pub fn src4(&self) -> Ipv4Addr {
        Ipv4Addr::new(
            self.bytes[12],
            self.bytes[13],
            self.bytes[14],
            self.bytes[15],
        )
    }
    pub fn dst4(&self) -> Ipv4Addr {
        Ipv4Addr::new(
            self.bytes[16],
            self.bytes[17],
            self.bytes[18],
            self.bytes[19],
        )
    }
    pub fn ip_id(&self) -> u16 {
        u16::from_be_bytes([self.bytes[4], self.bytes[5]])
    }
}

/// Reads the IPv4 datagrams of a little-endian Ethernet pcap from
/// tests/data/vrrp-captures, whatever their protocol.
pub fn read_pcap_ipv4(name: &str) -> Vec<Datagram> {
    pcap_records(name)
        .into_iter()
        .map(|(ts, pkt)| {
            assert_eq!(u16::from_be_bytes([pkt[12], pkt[13]]), 0x0800, "IPv4");
            let ip = &pkt[14..];
            let total = usize::from(u16::from_be_bytes([ip[2], ip[3]]));
            Datagram {
                ts,
                bytes: ip[..total].to_vec(),
            }
        })
        .collect()
}
