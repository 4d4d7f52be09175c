//! DNS_CHECK: send one query (`type` for `name`, class IN, recursion desired) over UDP;
//! up when a response with the same id, the QR bit and RCODE NOERROR comes back.
//!
//! The query is a fixed 12-byte header, one question, nothing else, so it is encoded
//! here rather than pulling in a full DNS library.

use super::{bounded, net, CheckSettings, Verdict};
use crate::config::DnsCheck;

/// The record types keepalived's DNS_CHECK accepts, with their codes.
pub fn type_code(name: &str) -> Option<u16> {
    Some(match name.to_ascii_uppercase().as_str() {
        "A" => 1,
        "NS" => 2,
        "CNAME" => 5,
        "SOA" => 6,
        "MX" => 15,
        "TXT" => 16,
        "AAAA" => 28,
        _ => return None,
    })
}

/// Encodes a query; Err when the name cannot be encoded (a label over 63 bytes, the
/// whole name over 255).
pub fn encode_query(id: u16, name: &str, qtype: u16) -> Result<Vec<u8>, String> {
    let mut q = Vec::with_capacity(32 + name.len());
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&0x0100u16.to_be_bytes()); // RD
    q.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]); // QD=1 AN=NS=AR=0
    let start = q.len();
    for label in name
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        if label.len() > 63 {
            return Err(format!("label {label:?} is longer than 63 bytes"));
        }
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    if q.len() - start > 255 {
        return Err(format!("name {name:?} is longer than 255 bytes"));
    }
    q.extend_from_slice(&qtype.to_be_bytes());
    q.extend_from_slice(&1u16.to_be_bytes()); // IN
    Ok(q)
}

/// What a datagram says about our query `id`: None when it is not a response to it.
pub fn response_rcode(msg: &[u8], id: u16) -> Option<u8> {
    if msg.len() < 12 || msg[0..2] != id.to_be_bytes() || msg[2] & 0x80 == 0 {
        return None;
    }
    Some(msg[3] & 0x0f)
}

pub async fn check(s: &CheckSettings, d: &DnsCheck) -> Verdict {
    let mut s = s.clone();
    if s.port == 0 {
        s.port = 53;
    }
    let target = s.target();
    let Some(qtype) = type_code(&d.query_type) else {
        return Verdict::down(format!(
            "DNS_CHECK to {target}: unknown query type {}.",
            d.query_type
        ));
    };
    let id = fastrand::u16(..);
    let query = match encode_query(id, &d.name, qtype) {
        Ok(q) => q,
        Err(e) => return Verdict::down(format!("DNS_CHECK to {target}: {e}.")),
    };
    let s = &s;
    bounded(
        s.connect_timeout,
        async {
            let sock = match net::udp_connect(s).await {
                Ok(sock) => sock,
                Err(e) => return Verdict::down(format!("DNS_CHECK to {target} failed: {e}.")),
            };
            if let Err(e) = sock.send(&query).await {
                return Verdict::down(format!("DNS_CHECK to {target} send failed: {e}."));
            }
            let mut buf = vec![0u8; 4096];
            loop {
                let n = match sock.recv(&mut buf).await {
                    Ok(n) => n,
                    Err(e) => return Verdict::down(format!("DNS_CHECK to {target} failed: {e}.")),
                };
                match response_rcode(&buf[..n], id) {
                    None => continue, // stray or malformed datagram: keep waiting
                    Some(0) => {
                        return Verdict::up(format!(
                            "DNS_CHECK to {target} ({} {}) success.",
                            d.query_type, d.name
                        ))
                    }
                    Some(rcode) => {
                        return Verdict::down(format!(
                            "DNS_CHECK to {target} ({} {}) failed: RCODE {rcode}.",
                            d.query_type, d.name
                        ))
                    }
                }
            }
        },
        || format!("DNS_CHECK to {} timeout.", s.target()),
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_a_query() {
        let q = encode_query(0x1234, "www.example.com.", 1).unwrap();
        let mut want = vec![0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        want.extend_from_slice(b"\x03www\x07example\x03com\x00\x00\x01\x00\x01");
        assert_eq!(q, want);
        // The root: a single zero byte.
        let q = encode_query(1, ".", 6).unwrap();
        assert_eq!(&q[12..], &[0, 0, 6, 0, 1]);
        assert!(encode_query(1, &"a".repeat(64), 1).is_err());
    }

    #[test]
    fn reads_the_rcode_of_our_response_only() {
        let mut r = encode_query(7, "x", 1).unwrap();
        assert_eq!(response_rcode(&r, 7), None, "a query is not a response");
        r[2] |= 0x80;
        assert_eq!(response_rcode(&r, 7), Some(0));
        assert_eq!(response_rcode(&r, 8), None);
        r[3] |= 3;
        assert_eq!(response_rcode(&r, 7), Some(3));
        assert_eq!(response_rcode(&r[..5], 7), None);
    }
}
