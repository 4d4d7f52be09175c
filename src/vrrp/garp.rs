//! Gratuitous ARP (IPv4) and unsolicited neighbour advertisements (IPv6), built as whole
//! Ethernet frames and sent over an AF_PACKET socket, so they can leave from a virtual MAC.
//!
//! The frames follow keepalived: an ARP *request* with sender and target address both the
//! VIP, to the broadcast MAC; an NA from the VIP to all-nodes (ff02::1) with the Override
//! flag and a target link-layer address option, hop limit 255.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

pub const ETH_P_ARP: u16 = 0x0806;
pub const ETH_P_IPV6: u16 = 0x86dd;
/// Length of a gratuitous ARP frame (without the Ethernet FCS / padding).
pub const ARP_FRAME_LEN: usize = 42;
/// Length of an unsolicited NA frame.
pub const NA_FRAME_LEN: usize = 14 + 40 + 32;

/// A MAC address.
pub type Mac = [u8; 6];

/// The Ethernet frame of a gratuitous ARP for `ip` announced at `mac`.
pub fn arp_frame(mac: Mac, ip: Ipv4Addr) -> [u8; ARP_FRAME_LEN] {
    let mut f = [0u8; ARP_FRAME_LEN];
    f[0..6].copy_from_slice(&[0xff; 6]);
    f[6..12].copy_from_slice(&mac);
    f[12..14].copy_from_slice(&ETH_P_ARP.to_be_bytes());
    f[14..16].copy_from_slice(&1u16.to_be_bytes()); // hardware: Ethernet
    f[16..18].copy_from_slice(&0x0800u16.to_be_bytes()); // protocol: IPv4
    f[18] = 6;
    f[19] = 4;
    f[20..22].copy_from_slice(&1u16.to_be_bytes()); // request
    f[22..28].copy_from_slice(&mac);
    f[28..32].copy_from_slice(&ip.octets());
    f[32..38].copy_from_slice(&[0xff; 6]);
    f[38..42].copy_from_slice(&ip.octets());
    f
}

/// RFC 1071 one's complement sum, folded and inverted.
fn inet_checksum(chunks: &[&[u8]]) -> u16 {
    let mut sum: u32 = 0;
    for chunk in chunks {
        let mut it = chunk.chunks_exact(2);
        for w in &mut it {
            sum += u32::from(u16::from_be_bytes([w[0], w[1]]));
        }
        if let [last] = it.remainder() {
            sum += u32::from(*last) << 8;
        }
    }
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The all-nodes multicast address unsolicited NAs go to.
pub const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// The Ethernet frame of an unsolicited neighbour advertisement for `ip` at `mac`.
/// `router` sets the R flag (keepalived sets it when the host forwards IPv6).
pub fn na_frame(mac: Mac, ip: Ipv6Addr, router: bool) -> [u8; NA_FRAME_LEN] {
    let mut f = [0u8; NA_FRAME_LEN];
    // Ethernet: 33:33 + low 32 bits of ff02::1.
    f[0..6].copy_from_slice(&[0x33, 0x33, 0, 0, 0, 1]);
    f[6..12].copy_from_slice(&mac);
    f[12..14].copy_from_slice(&ETH_P_IPV6.to_be_bytes());
    // IPv6 header.
    let ip6 = &mut f[14..54];
    ip6[0] = 0x60;
    ip6[4..6].copy_from_slice(&32u16.to_be_bytes());
    ip6[6] = 58; // ICMPv6
    ip6[7] = 255;
    ip6[8..24].copy_from_slice(&ip.octets());
    ip6[24..40].copy_from_slice(&ALL_NODES.octets());
    // ICMPv6 neighbour advertisement.
    let icmp = &mut f[54..86];
    icmp[0] = 136;
    icmp[4] = if router { 0xa0 } else { 0x20 }; // R, S=0, O=1
    icmp[8..24].copy_from_slice(&ip.octets());
    icmp[24] = 2; // target link-layer address
    icmp[25] = 1; // 8 bytes
    icmp[26..32].copy_from_slice(&mac);
    let mut pseudo = [0u8; 40];
    pseudo[0..16].copy_from_slice(&ip.octets());
    pseudo[16..32].copy_from_slice(&ALL_NODES.octets());
    pseudo[32..36].copy_from_slice(&32u32.to_be_bytes());
    pseudo[39] = 58;
    let sum = inet_checksum(&[&pseudo, &f[54..86]]);
    f[56..58].copy_from_slice(&sum.to_be_bytes());
    f
}

/// Whether the host forwards IPv6 on `ifname` (the NA router flag).
pub fn ipv6_forwarding(ifname: &str) -> bool {
    std::fs::read_to_string(format!("/proc/sys/net/ipv6/conf/{ifname}/forwarding"))
        .map(|s| s.trim() == "1")
        .unwrap_or(false)
}

/// Sends whole Ethernet frames out of one interface.
pub trait FrameSender: Send + Sync {
    fn send_frame(&self, frame: &[u8]) -> io::Result<()>;
}

/// An AF_PACKET / SOCK_RAW socket used for sending only (protocol 0: receives nothing).
pub struct PacketSocket {
    fd: OwnedFd,
    ifindex: u32,
}

impl PacketSocket {
    pub fn open(ifindex: u32) -> io::Result<PacketSocket> {
        // SAFETY: plain socket(2) call; the result is checked before use.
        let raw = unsafe {
            libc::socket(
                libc::AF_PACKET,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC | libc::SOCK_NONBLOCK,
                0,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh descriptor we own.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        Ok(PacketSocket { fd, ifindex })
    }
}

impl FrameSender for PacketSocket {
    fn send_frame(&self, frame: &[u8]) -> io::Result<()> {
        if frame.len() < 14 {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "short frame"));
        }
        // SAFETY: sockaddr_ll is plain data; zeroed is a valid value.
        let mut sll: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = u16::from_be_bytes([frame[12], frame[13]]).to_be();
        sll.sll_ifindex = self.ifindex as i32;
        sll.sll_halen = 6;
        sll.sll_addr[..6].copy_from_slice(&frame[..6]);
        // SAFETY: the buffer and address are valid for the given lengths during the call.
        let n = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                frame.as_ptr().cast(),
                frame.len(),
                0,
                (&sll as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
}

/// Sends `repeat` announcements for every address; returns how many frames failed.
pub fn announce(
    sender: &dyn FrameSender,
    mac: Mac,
    v4: &[Ipv4Addr],
    v6: &[Ipv6Addr],
    router: bool,
    repeat: u32,
) -> u32 {
    let mut failed = 0;
    for _ in 0..repeat.max(1) {
        for ip in v4 {
            if let Err(e) = sender.send_frame(&arp_frame(mac, *ip)) {
                failed += 1;
                tracing::warn!("gratuitous ARP for {ip} failed: {e}");
            }
        }
        for ip in v6 {
            if let Err(e) = sender.send_frame(&na_frame(mac, *ip, router)) {
                failed += 1;
                tracing::warn!("unsolicited NA for {ip} failed: {e}");
            }
        }
    }
    failed
}

/// `vrrp_garp_interval` / `vrrp_gna_interval`: least time between two gratuitous ARPs /
/// two unsolicited NAs on the interface (zero: back to back).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pacing {
    pub arp: Duration,
    pub na: Duration,
}

/// One gratuitous message of a burst.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gratuitous {
    Arp(Ipv4Addr),
    Na(Ipv6Addr),
}

/// Times the messages of bursts (I/O free): ARPs are kept `arp` apart and NAs `na` apart,
/// each family on its own clock as keepalived keeps them, also from one burst to the
/// next. Every message of every burst is sent: `repeat` rounds over the addresses, in order.
#[derive(Debug, Clone, Default)]
pub struct Pacer {
    next_arp: Option<Instant>,
    next_na: Option<Instant>,
}

impl Pacer {
    /// When to send each message of a burst of `repeat` rounds over `v4` and `v6`,
    /// started at `now`, sorted by time (rounds in order, ARPs before NAs at equal times).
    pub fn plan(
        &mut self,
        now: Instant,
        pacing: Pacing,
        v4: &[Ipv4Addr],
        v6: &[Ipv6Addr],
        repeat: u32,
    ) -> Vec<(Instant, Gratuitous)> {
        let mut out = Vec::new();
        for _ in 0..repeat.max(1) {
            for ip in v4 {
                let at = self.next_arp.map_or(now, |t| t.max(now));
                self.next_arp = Some(at + pacing.arp);
                out.push((at, Gratuitous::Arp(*ip)));
            }
            for ip in v6 {
                let at = self.next_na.map_or(now, |t| t.max(now));
                self.next_na = Some(at + pacing.na);
                out.push((at, Gratuitous::Na(*ip)));
            }
        }
        out.sort_by_key(|(at, _)| *at);
        out
    }
}

/// Sends one planned message; Err is the sentence to log.
pub fn send_one(
    sender: &dyn FrameSender,
    mac: Mac,
    g: Gratuitous,
    router: bool,
) -> Result<(), String> {
    match g {
        Gratuitous::Arp(ip) => sender
            .send_frame(&arp_frame(mac, ip))
            .map_err(|e| format!("gratuitous ARP for {ip} failed: {e}")),
        Gratuitous::Na(ip) => sender
            .send_frame(&na_frame(mac, ip, router))
            .map_err(|e| format!("unsolicited NA for {ip} failed: {e}")),
    }
}

/// What [`send_paced`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sent {
    pub sent: u32,
    pub failed: u32,
    /// A job that ends the burst arrived before its last message (the rest was dropped).
    pub aborted: bool,
}

/// Sends `plan` at its times. While waiting, jobs arriving on `rx` are queued on
/// `pending`; one for which `stops` is true (the addresses are going away) drops the rest
/// of the burst, as keepalived sends queued gratuitous messages only while master.
pub async fn send_paced<J>(
    sender: &dyn FrameSender,
    mac: Mac,
    router: bool,
    plan: Vec<(Instant, Gratuitous)>,
    rx: &mut tokio::sync::mpsc::UnboundedReceiver<J>,
    pending: &mut std::collections::VecDeque<J>,
    stops: impl Fn(&J) -> bool,
) -> Sent {
    let mut r = Sent::default();
    let mut closed = false;
    for (at, g) in plan {
        while !closed && Instant::now() < at {
            tokio::select! {
                _ = tokio::time::sleep_until(tokio::time::Instant::from_std(at)) => {}
                job = rx.recv() => match job {
                    Some(job) => {
                        let stop = stops(&job);
                        pending.push_back(job);
                        if stop {
                            r.aborted = true;
                            return r;
                        }
                    }
                    None => closed = true,
                },
            }
        }
        if closed {
            tokio::time::sleep_until(tokio::time::Instant::from_std(at)).await;
        }
        match send_one(sender, mac, g, router) {
            Ok(()) => r.sent += 1,
            Err(e) => {
                r.failed += 1;
                tracing::warn!("{e}");
            }
        }
    }
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pacer_spaces_each_family_on_its_own_clock_across_bursts() {
        let t0 = Instant::now();
        let ms = |n: u64| t0 + Duration::from_millis(n);
        let a: Ipv4Addr = "10.0.0.1".parse().unwrap();
        let b: Ipv4Addr = "10.0.0.2".parse().unwrap();
        let n: Ipv6Addr = "fd00::1".parse().unwrap();
        let pacing = Pacing {
            arp: Duration::from_millis(100),
            na: Duration::from_millis(30),
        };
        let mut p = Pacer::default();
        let plan = p.plan(t0, pacing, &[a, b], &[n], 2);
        assert_eq!(
            plan,
            vec![
                (ms(0), Gratuitous::Arp(a)),
                (ms(0), Gratuitous::Na(n)),
                (ms(30), Gratuitous::Na(n)),
                (ms(100), Gratuitous::Arp(b)),
                (ms(200), Gratuitous::Arp(a)),
                (ms(300), Gratuitous::Arp(b)),
            ]
        );
        // A burst asked for before the last one ends waits its turn; one asked for later
        // starts at once.
        assert_eq!(
            p.plan(ms(350), pacing, &[a], &[], 1),
            vec![(ms(400), Gratuitous::Arp(a))]
        );
        assert_eq!(
            p.plan(ms(900), pacing, &[a], &[], 1),
            vec![(ms(900), Gratuitous::Arp(a))]
        );
        // No pacing: everything at once, in announce()'s order.
        let plan = Pacer::default().plan(t0, Pacing::default(), &[a, b], &[], 2);
        assert!(plan.iter().all(|(t, _)| *t == t0));
        assert_eq!(plan.len(), 4);
    }
    use std::sync::Mutex;

    const MAC: Mac = [0x00, 0x00, 0x5e, 0x00, 0x01, 0x33];

    fn hexs(s: &str) -> Vec<u8> {
        hex::decode(s.split_whitespace().collect::<String>()).unwrap()
    }

    #[test]
    fn garp_frame_bytes() {
        let f = arp_frame(MAC, Ipv4Addr::new(10, 99, 0, 100));
        let want = hexs(
            "ffffffffffff 00005e000133 0806
             0001 0800 06 04 0001
             00005e000133 0a630064
             ffffffffffff 0a630064",
        );
        assert_eq!(f.to_vec(), want);
    }

    #[test]
    fn na_frame_bytes() {
        let ip: Ipv6Addr = "fd00::64".parse().unwrap();
        let f = na_frame(MAC, ip, false);
        // Checksum worked by hand: sum of the pseudo-header and message words =
        // fd00 + 0064 (src) + ff02 + 0001 (dst) + 0020 (len) + 003a (nh)
        // + 8800 + 2000 + fd00 + 0064 (target) + 0201 + 0000 + 5e00 + 0133 (option)
        // = 0x40359 → 0x0359 + 0x4 = 0x035d → !0x035d = 0xfca2.
        let want = hexs(
            "333300000001 00005e000133 86dd
             6000 0000 0020 3a ff
             fd00 0000 0000 0000 0000 0000 0000 0064
             ff02 0000 0000 0000 0000 0000 0000 0001
             88 00 fca2 20000000
             fd00 0000 0000 0000 0000 0000 0000 0064
             02 01 00005e000133",
        );
        assert_eq!(f.to_vec(), want);
    }

    #[test]
    fn na_router_flag() {
        let f = na_frame(MAC, "fd00::64".parse().unwrap(), true);
        assert_eq!(f[58], 0xa0);
        // The checksum changes by exactly the flag word (0x8000 more in the sum).
        assert_eq!(u16::from_be_bytes([f[56], f[57]]), 0x7ca2);
    }

    #[test]
    fn checksum_of_odd_length() {
        // RFC 1071 pads an odd trailing byte with zero.
        assert_eq!(inet_checksum(&[&[0x01]]), !0x0100);
        assert_eq!(inet_checksum(&[&[0xff, 0xff]]), 0);
    }

    #[derive(Default)]
    struct Recorder(Mutex<Vec<Vec<u8>>>);
    impl FrameSender for Recorder {
        fn send_frame(&self, frame: &[u8]) -> io::Result<()> {
            self.0.lock().unwrap().push(frame.to_vec());
            Ok(())
        }
    }

    #[test]
    fn announce_repeats_every_address() {
        let r = Recorder::default();
        let v4 = [Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2)];
        let v6: [Ipv6Addr; 1] = ["fd00::1".parse().unwrap()];
        assert_eq!(announce(&r, MAC, &v4, &v6, false, 3), 0);
        let frames = r.0.lock().unwrap();
        assert_eq!(frames.len(), 9);
        assert_eq!(&frames[0][28..32], &[10, 0, 0, 1]);
        assert_eq!(&frames[1][28..32], &[10, 0, 0, 2]);
        assert_eq!(frames[2].len(), NA_FRAME_LEN);
    }
}
