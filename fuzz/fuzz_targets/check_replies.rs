//! The reply parsers of the DNS_CHECK, SMTP_CHECK and UDP_CHECK checkers. The first byte
//! selects the checker; the rest is what the server sent.

#![no_main]

use libfuzzer_sys::fuzz_target;
use lvsd::checkers::{dns, smtp, udp};

fuzz_target!(|data: &[u8]| {
    let Some((&sel, rest)) = data.split_first() else {
        return;
    };
    match sel % 3 {
        0 => {
            // The id asked: the one the datagram carries, or another.
            let id = match rest {
                [a, b, ..] if sel & 0x80 != 0 => u16::from_be_bytes([*a, *b]),
                _ => 0x1234,
            };
            if let Some(rcode) = dns::response_rcode(rest, id) {
                assert!(rcode < 16, "an RCODE is four bits");
            }
        }
        1 => {
            // The conversation: the 220 greeting, then the 250 answer to HELO.
            let mut stream = rest;
            futures::executor::block_on(async {
                if smtp::read_reply(&mut stream, 220, "greeting").await.is_ok() {
                    let _ = smtp::read_reply(&mut stream, 250, "HELO").await;
                }
            });
        }
        _ => {
            // require_reply: up to the first 16 bytes after a length byte; then the reply.
            let Some((&n, rest)) = rest.split_first() else {
                return;
            };
            let (want, reply) = rest.split_at(usize::from(n % 17).min(rest.len()));
            let _ = udp::reply_matches(reply, want);
        }
    }
});
