//! The HTTP_GET/SSL_GET response reader (`checkers::http_response`). The first byte picks
//! the reader's options (MD5 of the body, keeping its first bytes) and the second where
//! the response is cut into two reads; the rest is the response. Cutting the same bytes
//! elsewhere must not change the outcome: the whole response fed at once and fed in two
//! pieces must give the same response or error.

#![no_main]

use libfuzzer_sys::fuzz_target;
use lvsd::checkers::http_response::{Progress, Response, ResponseError, ResponseReader};

fn reader(opts: u8) -> ResponseReader {
    let r = ResponseReader::new(opts & 1 != 0);
    if opts & 2 != 0 {
        r.keeping_body(usize::from(opts >> 2) * 16)
    } else {
        r
    }
}

/// Feeds `pieces` one after another, then the end of the connection.
fn read(opts: u8, pieces: &[&[u8]]) -> Result<Response, ResponseError> {
    let mut r = reader(opts);
    for p in pieces {
        if let Progress::Done(resp) = r.feed(p)? {
            return Ok(resp);
        }
    }
    r.eof()
}

fuzz_target!(|data: &[u8]| {
    let [opts, cut, body @ ..] = data else {
        return;
    };
    let whole = read(*opts, &[body]);
    let at = usize::from(*cut).min(body.len());
    let (a, b) = body.split_at(at);
    let split = read(*opts, &[a, b]);
    assert_eq!(
        whole, split,
        "the response depends on where the reads were cut ({at})"
    );
    // And one byte at a time, for the short ones.
    if body.len() <= 512 {
        let bytes: Vec<&[u8]> = body.chunks(1).collect();
        assert_eq!(whole, read(*opts, &bytes), "fed one byte at a time");
    }
});
