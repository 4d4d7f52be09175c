//! Receive buffers of lvsd's sockets, as keepalived's `*_rcv_bufs[_force]`,
//! `vrrp_rx_bufs_policy` and `kernel_rx_buf_size` settings ask for them.

use crate::config::model::{RcvBuf, RxBufsPolicy};
use nix::sys::socket::{getsockopt, setsockopt, sockopt};
use std::io;
use std::os::fd::AsFd;

/// Sets the receive buffer of `fd` to `want` bytes (nothing when 0). With `force`,
/// `SO_RCVBUFFORCE` passes `net.core.rmem_max` (needs CAP_NET_ADMIN); if the kernel
/// refuses that, a warning says so and plain `SO_RCVBUF` (capped at rmem_max) is used.
/// Returns the size the kernel reports afterwards (it doubles the request for its
/// bookkeeping).
pub fn apply<F: AsFd>(fd: &F, what: &str, want: RcvBuf) -> io::Result<usize> {
    if want.bytes == 0 {
        return getsockopt(fd, sockopt::RcvBuf).map_err(io::Error::from);
    }
    let bytes = want.bytes as usize;
    if want.force {
        match setsockopt(fd, sockopt::RcvBufForce, &bytes) {
            Ok(()) => {}
            Err(e) => {
                tracing::warn!(
                    "{what}: cannot force the receive buffer past rmem_max ({e}); \
                     asking for {bytes} bytes within it"
                );
                setsockopt(fd, sockopt::RcvBuf, &bytes)?;
            }
        }
    } else {
        setsockopt(fd, sockopt::RcvBuf, &bytes)?;
    }
    let got = getsockopt(fd, sockopt::RcvBuf)?;
    tracing::debug!("{what}: receive buffer {got} bytes (asked for {bytes})");
    Ok(got)
}

/// One VRRP instance's share of the receive buffer of the advert socket it listens on,
/// in keepalived's order: its `kernel_rx_buf_size`, else the policy's size, else
/// multiplier × its advert's length (ADVERT), else multiplier × its interface's MTU
/// (MTU). 0: no share (the socket keeps the kernel's default unless others add).
pub fn advert_share(
    policy: &RxBufsPolicy,
    multiplier: u32,
    kernel_rx_buf_size: Option<u32>,
    advert_len: usize,
    mtu: u32,
) -> u32 {
    if let Some(b) = kernel_rx_buf_size {
        return b;
    }
    if let Some(b) = policy.size {
        return b;
    }
    let per = if policy.advert {
        u32::try_from(advert_len).unwrap_or(u32::MAX)
    } else if policy.mtu {
        mtu
    } else {
        return 0;
    };
    multiplier.saturating_mul(per)
}

/// An advert's length as keepalived counts it for the ADVERT policy: the VRRP header,
/// the addresses, for IPv4 the IP header, v2's 8-byte authentication field and AH's
/// header.
pub fn advert_len(v2: bool, ipv6: bool, addrs: usize, ah: bool) -> usize {
    if ipv6 {
        return 8 + 16 * addrs;
    }
    8 + 4 * addrs + 20 + if v2 { 8 } else { 0 } + if ah { 24 } else { 0 }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;

    #[test]
    fn shares_follow_keepalived_order() {
        let none = RxBufsPolicy::default();
        let mtu = RxBufsPolicy {
            mtu: true,
            ..Default::default()
        };
        let adv = RxBufsPolicy {
            advert: true,
            ..Default::default()
        };
        let size = RxBufsPolicy {
            size: Some(65536),
            ..Default::default()
        };
        assert_eq!(advert_share(&none, 3, None, 20, 1500), 0);
        assert_eq!(advert_share(&mtu, 3, None, 20, 1500), 4500);
        assert_eq!(advert_share(&adv, 4, None, 20, 1500), 80);
        assert_eq!(advert_share(&size, 3, None, 20, 1500), 65536);
        // the instance's own kernel_rx_buf_size wins over any policy
        assert_eq!(advert_share(&size, 3, Some(1000), 20, 1500), 1000);
        assert_eq!(advert_share(&none, 3, Some(1000), 20, 1500), 1000);
        assert_eq!(advert_share(&mtu, u32::MAX, None, 20, 1500), u32::MAX);
    }

    #[test]
    fn advert_lengths() {
        // v2, one IPv4 address: 8 + 8 auth + 4 + 20 IP header
        assert_eq!(advert_len(true, false, 1, false), 40);
        assert_eq!(advert_len(false, false, 2, false), 36);
        assert_eq!(advert_len(true, false, 1, true), 64);
        assert_eq!(advert_len(false, true, 2, false), 40);
    }

    #[test]
    fn apply_sets_the_kernel_buffer() {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        let before = apply(&s, "test", RcvBuf::default()).unwrap();
        let small = apply(
            &s,
            "test",
            RcvBuf {
                bytes: 4096,
                force: false,
            },
        )
        .unwrap();
        // the kernel doubles the request (and has a floor well under 4096 × 2)
        assert_eq!(small, 8192, "default was {before}");
        // forced past rmem_max when root; otherwise capped at rmem_max
        let rmem_max: usize = std::fs::read_to_string("/proc/sys/net/core/rmem_max")
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let big = (rmem_max * 4) as u32;
        let got = apply(
            &s,
            "test",
            RcvBuf {
                bytes: big,
                force: true,
            },
        )
        .unwrap();
        if nix::unistd::geteuid().is_root() {
            assert_eq!(got, big as usize * 2);
        } else {
            assert_eq!(got, rmem_max * 2);
        }
    }
}
