//! UDP_CHECK: send `payload` to the target. With `require_reply`, up when a reply
//! arrives that starts with the expected bytes within connect_timeout. Without it, up
//! unless the kernel reports an ICMP port unreachable (ECONNREFUSED on the connected
//! socket) within connect_timeout.

use super::{net, CheckSettings, Verdict};
use crate::config::UdpCheck;
use std::io::ErrorKind;

/// Whether a reply satisfies `require_reply`: it starts with the expected bytes.
pub fn reply_matches(reply: &[u8], want: &[u8]) -> bool {
    reply.starts_with(want)
}

pub async fn check(s: &CheckSettings, u: &UdpCheck) -> Verdict {
    let target = s.target();
    let sock = match net::udp_connect(s).await {
        Ok(sock) => sock,
        Err(e) => return Verdict::down(format!("UDP check to {target} failed: {e}.")),
    };
    let payload = u.payload.as_deref().unwrap_or(&[]);
    if let Err(e) = sock.send(payload).await {
        return Verdict::down(format!("UDP check to {target} send failed: {e}."));
    }
    let mut buf = vec![0u8; 65536];
    match tokio::time::timeout(s.connect_timeout, sock.recv(&mut buf)).await {
        Err(_) => match &u.require_reply {
            Some(_) => Verdict::down(format!("UDP check to {target}: no reply.")),
            None => Verdict::up(format!("UDP check to {target} success.")),
        },
        Ok(Err(e)) if e.kind() == ErrorKind::ConnectionRefused => {
            Verdict::down(format!("UDP check to {target} failed: port unreachable."))
        }
        Ok(Err(e)) => Verdict::down(format!("UDP check to {target} failed: {e}.")),
        Ok(Ok(n)) => match &u.require_reply {
            None => Verdict::up(format!("UDP check to {target} success.")),
            Some(want) if reply_matches(&buf[..n], want) => {
                Verdict::up(format!("UDP check to {target} success."))
            }
            Some(_) => Verdict::down(format!(
                "UDP check to {target}: reply does not match require_reply."
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_reply_matches_when_it_starts_with_the_expected_bytes() {
        assert!(super::reply_matches(b"PONG and more", b"PONG"));
        assert!(super::reply_matches(b"anything", b""));
        assert!(!super::reply_matches(b"PON", b"PONG"));
        assert!(!super::reply_matches(b"pong", b"PONG"));
    }
}
