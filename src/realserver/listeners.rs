//! The TCP sockets listening on this host, from /proc/net/tcp and /proc/net/tcp6.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The listening sockets (address, port) in the text of /proc/net/tcp or tcp6.
pub fn parse(text: &str) -> Vec<(IpAddr, u16)> {
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let local = f.nth(1)?;
            let state = f.nth(1)?;
            if state != "0A" {
                return None;
            }
            let (addr, port) = local.split_once(':')?;
            let port = u16::from_str_radix(port, 16).ok()?;
            Some((parse_addr(addr)?, port))
        })
        .collect()
}

/// The kernel prints each 32-bit word of the address as a number in host order.
fn parse_addr(hex: &str) -> Option<IpAddr> {
    let word = |i: usize| -> Option<[u8; 4]> {
        let w = u32::from_str_radix(hex.get(i * 8..i * 8 + 8)?, 16).ok()?;
        Some(w.to_ne_bytes())
    };
    match hex.len() {
        8 => Some(IpAddr::V4(Ipv4Addr::from(word(0)?))),
        32 => {
            let mut b = [0u8; 16];
            for i in 0..4 {
                b[i * 4..i * 4 + 4].copy_from_slice(&word(i)?);
            }
            Some(IpAddr::V6(Ipv6Addr::from(b)))
        }
        _ => None,
    }
}

/// This host's listening TCP sockets (in its network namespace).
pub fn read() -> Vec<(IpAddr, u16)> {
    ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .flat_map(|t| parse(&t))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn listeners_are_read_in_host_order() {
        // Written as the kernel would on this machine's byte order.
        let v4 = u32::from_ne_bytes([10, 0, 0, 2]);
        let any6 = "00000000000000000000000000000000";
        let lo6 = format!(
            "{:08X}{:08X}{:08X}{:08X}",
            0,
            0,
            0,
            u32::from_ne_bytes([0, 0, 0, 1])
        );
        let text = format!(
            "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n\
             0: {v4:08X}:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1\n\
             1: {v4:08X}:0051 0300000A:9C40 01 00000000:00000000 00:00000000 00000000     0        0 2\n\
             2: {any6}:01BB {any6}:0000 0A 0 0 0 0 0 3\n\
             3: {lo6}:0016 {any6}:0000 0A 0 0 0 0 0 4\n"
        );
        let l = parse(&text);
        assert_eq!(
            l,
            [
                ("10.0.0.2".parse().expect("ip"), 80),
                ("::".parse().expect("ip"), 443),
                ("::1".parse().expect("ip"), 22),
            ]
        );
    }
}
