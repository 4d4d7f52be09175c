//! Root tests of the VRRP I/O adapters inside network namespaces this test creates (and
//! deletes): raw VRRP sockets (multicast, unicast, TTL, destination), VIPs over rtnetlink,
//! gratuitous ARP frames on the wire, link state and its changes, the vmac interface.
//! Run: `cargo test --test vrrp_adapters` as root (needs `ip` from iproute2).

use lvsd::vrrp::garp::{self, FrameSender, PacketSocket};
use lvsd::vrrp::link::{self, Netlink};
use lvsd::vrrp::socket::{AdvertSocket, SocketSpec, VrrpSocket, MCAST_V4};
use lvsd::vrrp::vip::{VipOps, VipSpec};
use lvsd::vrrp::vmac;
use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;
use std::time::Duration;

#[path = "support/root.rs"]
mod root;

fn ip(args: &[&str]) -> String {
    let out = Command::new("ip")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run `ip` (install iproute2): {e}"));
    assert!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Two namespaces joined by a veth pair: `a` (10.201.N.1/24) and `b` (10.201.N.2/24).
struct Pair {
    a: String,
    b: String,
}

impl Pair {
    fn new(tag: &str, n: u8) -> Pair {
        assert!(
            !root::skip_without_root("network namespaces"),
            "a test that builds a Pair asks skip_without_root first"
        );
        let pid = std::process::id();
        let a = format!("lvsdad-{tag}-{pid}-a");
        let b = format!("lvsdad-{tag}-{pid}-b");
        for ns in [&a, &b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
            ip(&["netns", "add", ns]);
            ip(&["-n", ns, "link", "set", "lo", "up"]);
        }
        let p = Pair { a, b };
        ip(&[
            "link", "add", "vx", "netns", &p.a, "type", "veth", "peer", "name", "vy", "netns", &p.b,
        ]);
        ip(&["-n", &p.a, "link", "set", "vx", "name", "veth0"]);
        ip(&["-n", &p.b, "link", "set", "vy", "name", "veth0"]);
        ip(&[
            "-n",
            &p.a,
            "addr",
            "add",
            &format!("10.201.{n}.1/24"),
            "dev",
            "veth0",
        ]);
        ip(&[
            "-n",
            &p.b,
            "addr",
            "add",
            &format!("10.201.{n}.2/24"),
            "dev",
            "veth0",
        ]);
        ip(&["-n", &p.a, "link", "set", "veth0", "up"]);
        ip(&["-n", &p.b, "link", "set", "veth0", "up"]);
        p
    }
}

impl Drop for Pair {
    fn drop(&mut self) {
        for ns in [&self.a, &self.b] {
            let _ = Command::new("ip").args(["netns", "del", ns]).output();
        }
    }
}

/// Runs `f` on a fresh thread inside namespace `ns`, with a tokio runtime of its own.
fn in_ns<T, F, Fut>(ns: &str, f: F) -> std::thread::JoinHandle<T>
where
    T: Send + 'static,
    F: FnOnce() -> Fut + Send + 'static,
    Fut: std::future::Future<Output = T>,
{
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let fd = std::fs::File::open(&path).expect("netns file");
        nix::sched::setns(&fd, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(f())
    })
}

fn v4(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn vrrp_socket_multicast_and_unicast() {
    if root::skip_without_root("network namespaces") {
        return;
    }
    let p = Pair::new("sock", 1);
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let receiver = in_ns(&p.a, move || async move {
        let nl = Netlink::connect(Default::default()).unwrap();
        let info = nl.interface("veth0").await.unwrap();
        assert_eq!(info.ipv4, Some(Ipv4Addr::new(10, 201, 1, 1)));
        let s = VrrpSocket::open(SocketSpec {
            ifname: "veth0".into(),
            ifindex: info.index,
            ipv6: false,
            group: Some(IpAddr::V4(MCAST_V4)),
            ah: false,
        })
        .unwrap();
        ready_tx.send(()).unwrap();
        let mut got = Vec::new();
        while got.len() < 2 {
            let r = tokio::time::timeout(Duration::from_secs(5), s.recv())
                .await
                .expect("no advert within 5 s")
                .unwrap();
            if let Some(r) = r {
                got.push(r);
            }
        }
        got
    });
    ready_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    in_ns(&p.b, || async {
        let nl = Netlink::connect(Default::default()).unwrap();
        let info = nl.interface("veth0").await.unwrap();
        let s = VrrpSocket::open(SocketSpec {
            ifname: "veth0".into(),
            ifindex: info.index,
            ipv6: false,
            group: Some(IpAddr::V4(MCAST_V4)),
            ah: false,
        })
        .unwrap();
        s.send(b"multicast-payload", v4("10.201.1.2"), IpAddr::V4(MCAST_V4))
            .await
            .unwrap();
        s.send(b"unicast-payload", v4("10.201.1.2"), v4("10.201.1.1"))
            .await
            .unwrap();
    })
    .join()
    .unwrap();
    let got = receiver.join().unwrap();
    assert_eq!(got[0].payload, b"multicast-payload");
    assert_eq!(got[0].meta.src, v4("10.201.1.2"));
    assert_eq!(got[0].meta.dst, IpAddr::V4(MCAST_V4));
    assert_eq!(got[0].meta.ttl, 255);
    assert_eq!(got[1].payload, b"unicast-payload");
    assert_eq!(got[1].meta.dst, v4("10.201.1.1"));
    assert_eq!(got[1].meta.ttl, 255);
}

#[test]
fn vrrp_socket_sends_tos_c0_and_does_not_hear_itself() {
    if root::skip_without_root("network namespaces") {
        return;
    }
    let p = Pair::new("tos", 2);
    // Receive with a plain raw socket in b: the IP header shows TOS and TTL.
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let b = p.b.clone();
    let recv = in_ns(&b, move || async move {
        let s = socket2::Socket::new(
            socket2::Domain::IPV4,
            socket2::Type::RAW,
            Some(socket2::Protocol::from(112)),
        )
        .unwrap();
        s.join_multicast_v4(&MCAST_V4, &Ipv4Addr::new(10, 201, 2, 2))
            .unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        ready_tx.send(()).unwrap();
        let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 256];
        let n = s.recv(&mut buf).expect("no advert within 5 s");
        // SAFETY (test): recv initialised the first n bytes.
        (0..n)
            .map(|i| unsafe { buf[i].assume_init() })
            .collect::<Vec<u8>>()
    });
    ready_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let heard_self = in_ns(&p.a, || async {
        let nl = Netlink::connect(Default::default()).unwrap();
        let info = nl.interface("veth0").await.unwrap();
        let s = VrrpSocket::open(SocketSpec {
            ifname: "veth0".into(),
            ifindex: info.index,
            ipv6: false,
            group: Some(IpAddr::V4(MCAST_V4)),
            ah: false,
        })
        .unwrap();
        s.send(b"x", v4("10.201.2.1"), IpAddr::V4(MCAST_V4))
            .await
            .unwrap();
        tokio::time::timeout(Duration::from_millis(300), s.recv())
            .await
            .is_ok()
    })
    .join()
    .unwrap();
    let pkt = recv.join().unwrap();
    assert_eq!(pkt[1], 0xc0, "TOS");
    assert_eq!(pkt[8], 255, "TTL");
    assert_eq!(&pkt[12..16], &[10, 201, 2, 1], "source");
    assert_eq!(&pkt[16..20], &[224, 0, 0, 18], "destination");
    assert!(!heard_self, "multicast loopback must be off");
}

#[test]
fn vips_added_and_removed_with_label_brd_scope() {
    if root::skip_without_root("network namespaces") {
        return;
    }
    let p = Pair::new("vip", 3);
    let a = p.a.clone();
    in_ns(&p.a, move || async move {
        let nl = Netlink::connect(Default::default()).unwrap();
        let info = nl.interface("veth0").await.unwrap();
        // Another subnet: the kernel wants one scope per subnet (the primary's is global).
        let vip = VipSpec {
            addr: v4("10.201.30.100"),
            prefix_len: 24,
            ifindex: info.index,
            brd: Some(v4("10.201.30.255")),
            scope: 253,
            label: Some("veth0:vip".into()),
            opts: Default::default(),
        };
        nl.add(&vip).await.unwrap();
        nl.add(&vip).await.expect("adding twice is fine");
        let shown = ip(&["-n", &a, "-4", "addr", "show", "dev", "veth0"]);
        let line = shown
            .lines()
            .find(|l| l.contains("10.201.30.100/24"))
            .unwrap_or_else(|| panic!("VIP not added:\n{shown}"));
        assert!(line.contains("brd 10.201.30.255"), "{line}");
        assert!(line.contains("scope link"), "{line}");
        assert!(line.contains("veth0:vip"), "{line}");
        // The VIP (alone in its subnet) is not secondary, but never taken as the primary.
        let now = nl.interface("veth0").await.unwrap();
        assert!(now
            .ipv4_primaries
            .contains(&Ipv4Addr::new(10, 201, 30, 100)));
        assert_eq!(
            now.primary_v4(&[vip.addr]),
            Some(Ipv4Addr::new(10, 201, 3, 1))
        );
        assert!(nl.del(&vip).await.unwrap(), "it was there");
        assert!(
            !nl.del(&vip).await.expect("removing twice is fine"),
            "the second removal finds nothing"
        );
        let shown = ip(&["-n", &a, "-4", "addr", "show", "dev", "veth0"]);
        assert!(!shown.contains("10.201.30.100"), "{shown}");
        let v6 = VipSpec {
            addr: "fd00:201::100".parse().unwrap(),
            prefix_len: 64,
            ifindex: info.index,
            brd: None,
            scope: 0,
            label: None,
            opts: Default::default(),
        };
        nl.add(&v6).await.unwrap();
        assert!(ip(&["-n", &a, "-6", "addr", "show", "dev", "veth0"]).contains("fd00:201::100/64"));
        nl.del(&v6).await.unwrap();
        assert!(!ip(&["-n", &a, "-6", "addr", "show", "dev", "veth0"]).contains("fd00:201::100"));
    })
    .join()
    .unwrap();
}

/// Opens an AF_PACKET socket on veth0 that receives frames of `ethertype`.
fn capture_socket(ethertype: u16, ifindex: u32) -> socket2::Socket {
    let s = socket2::Socket::new(
        socket2::Domain::PACKET,
        socket2::Type::RAW,
        Some(socket2::Protocol::from(i32::from(ethertype.to_be()))),
    )
    .unwrap();
    // SAFETY (test): a zeroed sockaddr_ll filled in below is valid for bind.
    unsafe {
        let mut sll: libc::sockaddr_ll = std::mem::zeroed();
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = ethertype.to_be();
        sll.sll_ifindex = ifindex as i32;
        let rc = libc::bind(
            std::os::fd::AsRawFd::as_raw_fd(&s),
            (&sll as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as u32,
        );
        assert_eq!(rc, 0, "bind AF_PACKET");
    }
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s
}

fn recv_frame(s: &socket2::Socket) -> Vec<u8> {
    let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 1600];
    let n = s.recv(&mut buf).expect("no frame within 5 s");
    // SAFETY (test): recv initialised the first n bytes.
    (0..n).map(|i| unsafe { buf[i].assume_init() }).collect()
}

#[test]
fn gratuitous_arp_and_na_reach_the_wire() {
    if root::skip_without_root("network namespaces") {
        return;
    }
    let p = Pair::new("garp", 4);
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let cap = in_ns(&p.b, move || async move {
        let nl = Netlink::connect(Default::default()).unwrap();
        let info = nl.interface("veth0").await.unwrap();
        let arp = capture_socket(garp::ETH_P_ARP, info.index);
        let v6 = capture_socket(garp::ETH_P_IPV6, info.index);
        ready_tx.send(()).unwrap();
        let a = recv_frame(&arp);
        // Skip any IPv6 traffic of the kernel's own (router solicitations, MLD).
        let mut na = recv_frame(&v6);
        for _ in 0..20 {
            if na.len() > 54 && na[54] == 136 {
                break;
            }
            na = recv_frame(&v6);
        }
        (a, na)
    });
    ready_rx.recv_timeout(Duration::from_secs(10)).unwrap();
    let sent = in_ns(&p.a, || async {
        let nl = Netlink::connect(Default::default()).unwrap();
        let info = nl.interface("veth0").await.unwrap();
        let mac = info.mac.unwrap();
        let s = PacketSocket::open(info.index).unwrap();
        let a = garp::arp_frame(mac, Ipv4Addr::new(10, 201, 4, 100));
        let n = garp::na_frame(mac, "fd00:201::100".parse().unwrap(), false);
        s.send_frame(&a).unwrap();
        s.send_frame(&n).unwrap();
        (a.to_vec(), n.to_vec())
    })
    .join()
    .unwrap();
    let (arp, na) = cap.join().unwrap();
    assert_eq!(&arp[..42], &sent.0[..], "GARP as sent");
    assert_eq!(&na[..garp::NA_FRAME_LEN], &sent.1[..], "NA as sent");
}

#[test]
fn link_state_and_changes() {
    if root::skip_without_root("network namespaces") {
        return;
    }
    let p = Pair::new("link", 5);
    let a = p.a.clone();
    in_ns(&p.a, move || async move {
        let nl = Netlink::connect(Default::default()).unwrap();
        let mut rx = link::watch_links(Default::default()).unwrap();
        let info = nl.interface("veth0").await.unwrap();
        assert!(info.up);
        assert!(info.mac.is_some());
        assert!(matches!(
            nl.interface("nonesuch0").await,
            Err(link::LinkError::NoSuchInterface(_))
        ));
        ip(&["-n", &a, "link", "set", "veth0", "down"]);
        let ev = loop {
            let ev = tokio::time::timeout(Duration::from_secs(5), rx.recv())
                .await
                .expect("no link event within 5 s")
                .unwrap();
            if ev.name == "veth0" && !ev.up {
                break ev;
            }
        };
        assert_eq!(ev.index, info.index);
        assert!(!nl.interface("veth0").await.unwrap().up);
    })
    .join()
    .unwrap();
}

#[test]
fn vmac_interface_created_and_removed() {
    if root::skip_without_root("network namespaces") {
        return;
    }
    let p = Pair::new("vmac", 6);
    let a = p.a.clone();
    in_ns(&p.a, move || async move {
        let nl = Netlink::connect(Default::default()).unwrap();
        let base = nl.interface("veth0").await.unwrap();
        let v4 = vmac::VmacIp {
            ipv6: false,
            keep_ipv6: false,
            link_local: None,
        };
        let v = vmac::ensure(&nl, "vrrp.51", base.index, 51, &v4)
            .await
            .unwrap();
        assert_eq!(v.mac, Some([0, 0, 0x5e, 0, 1, 51]));
        let shown = ip(&["-n", &a, "-d", "link", "show", "vrrp.51"]);
        assert!(shown.contains("macvlan mode private"), "{shown}");
        assert!(shown.contains("00:00:5e:00:01:33"), "{shown}");
        // IPv4: no IPv6 on it (keepalived's link_set_ipv6 false).
        let v6 = ip(&["-n", &a, "-6", "addr", "show", "dev", "vrrp.51"]);
        assert!(!v6.contains("inet6"), "{v6}");
        // Asking again reuses it.
        let again = vmac::ensure(&nl, "vrrp.51", base.index, 51, &v4)
            .await
            .unwrap();
        assert_eq!(again.index, v.index);
        // IPv6: the link-local address given (the base's, in keepalived), none made
        // from the virtual MAC, which every router of the VRID would share.
        let ll: std::net::Ipv6Addr = "fe80::1234:5678:9abc:def0".parse().unwrap();
        let six = vmac::VmacIp {
            ipv6: true,
            keep_ipv6: false,
            link_local: Some(ll),
        };
        let w = vmac::ensure(&nl, "vrrp6.52", base.index, 52, &six)
            .await
            .unwrap();
        let shown = ip(&["-n", &a, "-6", "addr", "show", "dev", "vrrp6.52"]);
        assert!(shown.contains("fe80::1234:5678:9abc:def0/64"), "{shown}");
        assert!(!shown.contains("fe80::200:5eff:fe00:234"), "{shown}");
        vmac::remove(&nl, w.index).await.unwrap();
        vmac::remove(&nl, v.index).await.unwrap();
        assert!(nl.interface("vrrp.51").await.is_err());
    })
    .join()
    .unwrap();
}
