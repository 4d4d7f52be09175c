//! UDP_CHECK, as keepalived 2.2.7: send `payload` to the target, then wait
//! connect_timeout. An ICMP port unreachable (ECONNREFUSED on the connected socket) is
//! down. Without `require_reply`, silence and any reply are up; with it, a reply must
//! come, and with reply data it must pass [`UdpCheck::reply_passes`] (length bounds,
//! then the leading bytes outside the wildcards).

use super::{net, CheckSettings, Verdict};
use crate::config::UdpCheck;
use std::io::ErrorKind;

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
    // keepalived reads at most one byte more than the longest reply it accepts: a
    // longer datagram is cut there and fails the length bound.
    let wants_data = u.require_reply.as_ref().is_some_and(|r| !r.data.is_empty());
    let mut buf = vec![
        0u8;
        if wants_data {
            usize::from(u.max_reply_length) + 1
        } else {
            1
        }
    ];
    match tokio::time::timeout(s.connect_timeout, sock.recv(&mut buf)).await {
        Err(_) => match &u.require_reply {
            Some(_) => Verdict::down(format!("UDP check to {target}: no reply.")),
            None => Verdict::up(format!("UDP check to {target} success.")),
        },
        Ok(Err(e)) if e.kind() == ErrorKind::ConnectionRefused => {
            Verdict::down(format!("UDP check to {target} failed: port unreachable."))
        }
        Ok(Err(e)) => Verdict::down(format!("UDP check to {target} failed: {e}.")),
        Ok(Ok(n)) if u.reply_passes(&buf[..n.min(buf.len())]) => {
            Verdict::up(format!("UDP check to {target} success."))
        }
        Ok(Ok(_)) => Verdict::down(format!("UDP check to {target} reply data mismatch.")),
    }
}
