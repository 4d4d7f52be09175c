//! The reply parsers of the DNS_CHECK, SMTP_CHECK and UDP_CHECK checkers. The first byte
//! selects the checker; the rest is what the server sent.

#![no_main]

use libfuzzer_sys::fuzz_target;
use lvsd::checkers::steps::{self, Steps};
use lvsd::checkers::{dns, smtp};
use lvsd::config::{ReplyPattern, UdpCheck};

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
            // (the bytes are always ready: no step waits, so no timer and no runtime)
            let mut stream = rest;
            futures::executor::block_on(async {
                let timer = std::pin::pin!(steps::timer());
                let mut steps = Steps::new(timer, std::time::Duration::from_secs(1));
                if smtp::read_reply(&mut stream, 220, "greeting", &mut steps)
                    .await
                    .is_ok()
                {
                    let _ = smtp::read_reply(&mut stream, 250, "HELO", &mut steps).await;
                }
            });
        }
        _ => {
            // require_reply: a hex string (with `x` wildcards) of up to 32 bytes after a
            // length byte, read as keepalived reads it; then the reply, judged.
            let Some((&n, rest)) = rest.split_first() else {
                return;
            };
            let (pattern, reply) = rest.split_at(usize::from(n % 33).min(rest.len()));
            let Ok(text) = std::str::from_utf8(pattern) else {
                return;
            };
            let mut u = UdpCheck::new(None, ReplyPattern::parse(text, true));
            u.min_reply_length = u16::from(n >> 6);
            let _ = u.reply_passes(reply);
        }
    }
});
