//! Reads one HTTP/1.x response as it arrives, without doing any I/O: the caller feeds
//! the bytes it read and is told when the response is complete. The status line and
//! headers are parsed with `httparse`; the body (Content-Length, chunked, or until the
//! connection closes) is streamed into MD5 when a digest is wanted and never stored.
//!
//! Interim 1xx responses (other than 101) are skipped. Bytes after the end of the
//! response are ignored: the checker closes the connection once it knows its verdict.

use md5::{Digest, Md5};

/// The largest response head (status line and headers) accepted.
pub const MAX_HEAD: usize = 64 * 1024;
/// The most headers a response may have.
const MAX_HEADERS: usize = 64;
/// The longest chunk-size line (with extensions) accepted.
const MAX_CHUNK_LINE: usize = 1024;

/// A complete response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    /// MD5 of the body, when the reader was asked to hash it.
    pub md5: Option<[u8; 16]>,
    /// The body's first bytes, when the reader was asked to keep them.
    pub body: Option<Vec<u8>>,
}

/// Why the bytes are not an acceptable HTTP/1.x response.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResponseError {
    #[error("bad response head: {0}")]
    Head(httparse::Error),
    #[error("response head larger than {MAX_HEAD} bytes")]
    HeadTooLarge,
    #[error("bad Content-Length")]
    BadContentLength,
    #[error("bad chunked body")]
    BadChunk,
    #[error("connection closed before a response")]
    NoResponse,
    #[error("connection closed before the end of the body")]
    Truncated,
}

/// What a call to [`ResponseReader::feed`] found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Progress {
    /// The response is not complete yet: read more.
    More,
    /// The response is complete.
    Done(Response),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Head,
    /// This many body bytes still to come.
    Length(u64),
    /// The body ends when the connection closes.
    UntilClose,
    Chunked(Chunk),
    Done,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Chunk {
    /// Reading a chunk-size line.
    Size,
    /// This many bytes of the current chunk still to come.
    Data(u64),
    /// The CRLF after a chunk's data; the number of its bytes still to come.
    DataEnd(u8),
}

/// How the body of a parsed head is delimited.
enum Framing {
    /// 1xx: another head follows.
    Interim,
    Length(u64),
    Chunked,
    UntilClose,
}

/// One response being read.
pub struct ResponseReader {
    state: State,
    /// Bytes of an incomplete head or chunk-size line carried over to the next feed.
    pending: Vec<u8>,
    md5: Option<Md5>,
    /// The body kept so far, and how much of it to keep at most.
    kept: Option<(Vec<u8>, usize)>,
    status: Option<u16>,
}

impl ResponseReader {
    /// A reader for one response; `hash`: compute the MD5 of the body.
    pub fn new(hash: bool) -> ResponseReader {
        ResponseReader {
            state: State::Head,
            pending: Vec::new(),
            md5: hash.then(Md5::new),
            kept: None,
            status: None,
        }
    }

    /// Also keeps the body's first `limit` bytes (for a regular expression to search).
    pub fn keeping_body(mut self, limit: usize) -> ResponseReader {
        self.kept = Some((Vec::new(), limit));
        self
    }

    /// The final status, once the head has been read.
    pub fn status(&self) -> Option<u16> {
        self.status
    }

    /// Feeds the next bytes read from the connection.
    pub fn feed(&mut self, mut data: &[u8]) -> Result<Progress, ResponseError> {
        loop {
            match self.state {
                State::Done => return Ok(Progress::Done(self.response())),
                State::Head => {
                    let Some(used) = self.head(data)? else {
                        return Ok(Progress::More);
                    };
                    data = &data[used..];
                }
                State::Length(left) => {
                    let n = take(left, data);
                    self.hash(&data[..n]);
                    let left = left - n as u64;
                    self.state = if left == 0 {
                        State::Done
                    } else {
                        State::Length(left)
                    };
                    data = &data[n..];
                }
                State::UntilClose => {
                    self.hash(data);
                    return Ok(Progress::More);
                }
                State::Chunked(Chunk::Size) => {
                    let Some(used) = self.chunk_size(data)? else {
                        return Ok(Progress::More);
                    };
                    data = &data[used..];
                }
                State::Chunked(Chunk::Data(left)) => {
                    let n = take(left, data);
                    self.hash(&data[..n]);
                    let left = left - n as u64;
                    self.state = State::Chunked(if left == 0 {
                        Chunk::DataEnd(2)
                    } else {
                        Chunk::Data(left)
                    });
                    data = &data[n..];
                }
                State::Chunked(Chunk::DataEnd(k)) => {
                    let Some(&b) = data.first() else {
                        return Ok(Progress::More);
                    };
                    let want = if k == 2 { b'\r' } else { b'\n' };
                    if b != want {
                        return Err(ResponseError::BadChunk);
                    }
                    self.state = State::Chunked(if k == 2 {
                        Chunk::DataEnd(1)
                    } else {
                        Chunk::Size
                    });
                    data = &data[1..];
                }
            }
            if data.is_empty() && self.state != State::Done {
                return Ok(Progress::More);
            }
        }
    }

    /// The connection was closed by the server.
    pub fn eof(&mut self) -> Result<Response, ResponseError> {
        match self.state {
            State::Done | State::UntilClose => {
                self.state = State::Done;
                Ok(self.response())
            }
            State::Head => Err(ResponseError::NoResponse),
            State::Length(_) | State::Chunked(_) => Err(ResponseError::Truncated),
        }
    }

    fn response(&mut self) -> Response {
        Response {
            status: self.status.unwrap_or(0),
            md5: self.md5.take().map(|h| h.finalize().into()),
            body: self.kept.take().map(|(b, _)| b),
        }
    }

    fn hash(&mut self, data: &[u8]) {
        if let Some(h) = self.md5.as_mut() {
            h.update(data);
        }
        if let Some((body, limit)) = self.kept.as_mut() {
            let room = limit.saturating_sub(body.len()).min(data.len());
            body.extend_from_slice(&data[..room]);
        }
    }

    /// Parses a head from `pending` + `data`; Some(bytes of `data` used) once complete.
    fn head(&mut self, data: &[u8]) -> Result<Option<usize>, ResponseError> {
        let carried = self.pending.len();
        let parsed = if carried == 0 {
            parse_head(data)?
        } else {
            self.pending.extend_from_slice(data);
            parse_head(&self.pending)?
        };
        let Some((end, status, framing)) = parsed else {
            if carried == 0 {
                self.pending.extend_from_slice(data);
            }
            if self.pending.len() > MAX_HEAD {
                return Err(ResponseError::HeadTooLarge);
            }
            return Ok(None);
        };
        self.pending.clear();
        self.state = match framing {
            Framing::Interim => State::Head,
            Framing::Length(0) => State::Done,
            Framing::Length(n) => State::Length(n),
            Framing::Chunked => State::Chunked(Chunk::Size),
            Framing::UntilClose => State::UntilClose,
        };
        if !matches!(framing, Framing::Interim) {
            self.status = Some(status);
        }
        // The head ends past the carried bytes (they alone were incomplete).
        Ok(Some(end - carried))
    }

    /// Parses a chunk-size line from `pending` + `data`; Some(bytes of `data` used).
    fn chunk_size(&mut self, data: &[u8]) -> Result<Option<usize>, ResponseError> {
        let carried = self.pending.len();
        let parsed = if carried == 0 {
            httparse::parse_chunk_size(data)
        } else {
            self.pending.extend_from_slice(data);
            httparse::parse_chunk_size(&self.pending)
        };
        match parsed {
            Ok(httparse::Status::Complete((end, size))) => {
                self.pending.clear();
                // The last chunk: the body is complete (trailers are not needed).
                self.state = if size == 0 {
                    State::Done
                } else {
                    State::Chunked(Chunk::Data(size))
                };
                Ok(Some(end - carried))
            }
            Ok(httparse::Status::Partial) => {
                if carried == 0 {
                    self.pending.extend_from_slice(data);
                }
                if self.pending.len() > MAX_CHUNK_LINE {
                    return Err(ResponseError::BadChunk);
                }
                Ok(None)
            }
            Err(_) => Err(ResponseError::BadChunk),
        }
    }
}

/// How many of `data`'s bytes belong to a body part of which `left` bytes remain.
fn take(left: u64, data: &[u8]) -> usize {
    usize::try_from(left).map_or(data.len(), |l| l.min(data.len()))
}

/// Parses a complete head: (its length, status, framing), or None if incomplete.
fn parse_head(buf: &[u8]) -> Result<Option<(usize, u16, Framing)>, ResponseError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut resp = httparse::Response::new(&mut headers);
    let end = match resp.parse(buf).map_err(ResponseError::Head)? {
        httparse::Status::Complete(n) => n,
        httparse::Status::Partial => return Ok(None),
    };
    // httparse only completes a head with a status code.
    let status = resp.code.unwrap_or(0);
    let framing = framing(status, resp.headers)?;
    Ok(Some((end, status, framing)))
}

/// The body's framing (RFC 9112 section 6.3).
fn framing(status: u16, headers: &[httparse::Header]) -> Result<Framing, ResponseError> {
    if (100..200).contains(&status) && status != 101 {
        return Ok(Framing::Interim);
    }
    if status == 204 || status == 304 {
        return Ok(Framing::Length(0));
    }
    let mut chunked = None;
    let mut length: Option<u64> = None;
    for h in headers {
        if h.name.eq_ignore_ascii_case("transfer-encoding") {
            // Chunked only when it is the last coding applied.
            let last = h.value.rsplit(|&b| b == b',').next().unwrap_or(&[]);
            chunked = Some(last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if h.name.eq_ignore_ascii_case("content-length") {
            for part in h.value.split(|&b| b == b',') {
                let n = parse_length(part.trim_ascii())?;
                if length.is_some_and(|l| l != n) {
                    return Err(ResponseError::BadContentLength);
                }
                length = Some(n);
            }
        }
    }
    Ok(match (chunked, length) {
        (Some(true), _) => Framing::Chunked,
        // Another transfer coding: only the end of the connection delimits the body.
        (Some(false), _) => Framing::UntilClose,
        (None, Some(n)) => Framing::Length(n),
        (None, None) => Framing::UntilClose,
    })
}

fn parse_length(digits: &[u8]) -> Result<u64, ResponseError> {
    if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
        return Err(ResponseError::BadContentLength);
    }
    Ok(digits
        .iter()
        .fold(0u64, |n, &d| n * 10 + u64::from(d - b'0')))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn md5(data: &[u8]) -> [u8; 16] {
        Md5::digest(data).into()
    }

    /// Feeds `parts` in order, then EOF if still incomplete.
    fn run(parts: &[&[u8]], hash: bool) -> Result<Response, ResponseError> {
        let mut r = ResponseReader::new(hash);
        for p in parts {
            if let Progress::Done(resp) = r.feed(p)? {
                return Ok(resp);
            }
        }
        r.eof()
    }

    /// Feeds `data` in pieces of `size` bytes.
    fn split(data: &[u8], size: usize, hash: bool) -> Result<Response, ResponseError> {
        let parts: Vec<&[u8]> = data.chunks(size).collect();
        run(&parts, hash)
    }

    #[test]
    fn content_length_body_is_hashed_and_ends_the_response() {
        let resp = b"HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\nhello";
        let want = Response {
            status: 200,
            md5: Some(md5(b"hello")),
            body: None,
        };
        let mut r = ResponseReader::new(true);
        // Complete without EOF: the verdict is known at the last body byte.
        assert_eq!(r.feed(resp).unwrap(), Progress::Done(want));
        // Without hashing, no digest.
        let mut r = ResponseReader::new(false);
        assert_eq!(
            r.feed(resp).unwrap(),
            Progress::Done(Response {
                status: 200,
                md5: None,
                body: None,
            })
        );
    }

    #[test]
    fn every_split_point_and_one_byte_reads_give_the_same_result() {
        let resp = b"HTTP/1.1 503 Busy\r\nServer: x\r\nContent-Length: 11\r\n\r\nhello world";
        let want = Response {
            status: 503,
            md5: Some(md5(b"hello world")),
            body: None,
        };
        for cut in 0..=resp.len() {
            let (a, b) = resp.split_at(cut);
            assert_eq!(run(&[a, b], true), Ok(want.clone()), "cut at {cut}");
        }
        assert_eq!(split(resp, 1, true), Ok(want.clone()));
    }

    #[test]
    fn bytes_after_the_body_are_ignored() {
        let resp = b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nokGARBAGE";
        assert_eq!(
            run(&[resp], true).unwrap().md5,
            Some(md5(b"ok")),
            "only Content-Length bytes are the body"
        );
    }

    #[test]
    fn body_until_close() {
        let resp = b"HTTP/1.0 200 OK\r\nServer: x\r\n\r\nno length here";
        let mut r = ResponseReader::new(true);
        assert_eq!(r.feed(resp).unwrap(), Progress::More);
        assert_eq!(r.status(), Some(200));
        assert_eq!(r.eof().unwrap().md5, Some(md5(b"no length here")));
        // No body at all.
        let resp = b"HTTP/1.0 200 OK\r\n\r\n";
        assert_eq!(run(&[resp], true).unwrap().md5, Some(md5(b"")));
    }

    #[test]
    fn chunked_body_with_extensions_and_trailers() {
        let resp = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                     5;name=value\r\nhello\r\n1\r\n \r\nB\r\nchunked wor\r\n2\r\nld\r\n\
                     0\r\nX-Trailer: t\r\n\r\n";
        let want = Response {
            status: 200,
            md5: Some(md5(b"hello chunked world")),
            body: None,
        };
        let mut r = ResponseReader::new(true);
        assert_eq!(r.feed(resp).unwrap(), Progress::Done(want.clone()));
        for size in 1..resp.len() {
            assert_eq!(
                split(resp, size, true),
                Ok(want.clone()),
                "pieces of {size}"
            );
        }
    }

    #[test]
    fn chunked_wins_over_content_length_and_other_codings_read_until_close() {
        let resp =
            b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: gzip, chunked\r\n\r\n\
                     2\r\nok\r\n0\r\n\r\n";
        assert_eq!(run(&[resp], true).unwrap().md5, Some(md5(b"ok")));
        let resp = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 2\r\n\r\nokmore";
        let mut r = ResponseReader::new(true);
        assert_eq!(r.feed(resp).unwrap(), Progress::More);
        assert_eq!(r.eof().unwrap().md5, Some(md5(b"okmore")));
    }

    #[test]
    fn bad_chunks_are_errors() {
        for body in [
            &b"zz\r\nhello\r\n0\r\n\r\n"[..],
            b"5\r\nhelloXX0\r\n\r\n",
            b"5\r\nhello\rX",
        ] {
            let mut resp = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
            resp.extend_from_slice(body);
            assert_eq!(
                run(&[&resp], false),
                Err(ResponseError::BadChunk),
                "{body:?}"
            );
        }
        // A chunk-size line that never ends.
        let mut resp = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;".to_vec();
        resp.extend(std::iter::repeat_n(b'x', 2000));
        assert_eq!(split(&resp, 100, false), Err(ResponseError::BadChunk));
    }

    #[test]
    fn head_larger_than_one_read() {
        let mut resp = b"HTTP/1.0 200 OK\r\n".to_vec();
        for i in 0..40 {
            resp.extend_from_slice(format!("X-Filler-{i}: {}\r\n", "v".repeat(200)).as_bytes());
        }
        resp.extend_from_slice(b"Content-Length: 3\r\n\r\nabc");
        assert!(resp.len() > 8000);
        for size in [100, 1000, 4096] {
            assert_eq!(
                split(&resp, size, true),
                Ok(Response {
                    status: 200,
                    md5: Some(md5(b"abc")),
                    body: None,
                }),
                "reads of {size}"
            );
        }
    }

    #[test]
    fn oversized_or_malformed_heads_are_errors() {
        let mut resp = b"HTTP/1.0 200 OK\r\n".to_vec();
        while resp.len() <= MAX_HEAD {
            resp.extend_from_slice(b"X-Filler: 0123456789012345678901234567890123456789\r\n");
        }
        // Fewer than MAX_HEADERS headers per read, but too many bytes in all.
        let r = split(&resp, 1000, false);
        assert!(
            matches!(
                r,
                Err(ResponseError::HeadTooLarge)
                    | Err(ResponseError::Head(httparse::Error::TooManyHeaders))
            ),
            "{r:?}"
        );
        assert!(matches!(
            run(&[b"SSH-2.0-OpenSSH_9.2\r\n\r\n"], false),
            Err(ResponseError::Head(_))
        ));
        assert!(matches!(
            run(&[b"HTTP/1.0 2x0 OK\r\n\r\n"], false),
            Err(ResponseError::Head(_))
        ));
    }

    #[test]
    fn content_length_checks() {
        let r = |cl: &str| {
            let resp = format!("HTTP/1.0 200 OK\r\nContent-Length: {cl}\r\n\r\nok");
            run(&[resp.as_bytes()], true)
        };
        assert_eq!(r("2").unwrap().md5, Some(md5(b"ok")));
        assert_eq!(r("2, 2").unwrap().md5, Some(md5(b"ok")));
        assert_eq!(r("2, 3"), Err(ResponseError::BadContentLength));
        assert_eq!(r("-1"), Err(ResponseError::BadContentLength));
        assert_eq!(r("0x2"), Err(ResponseError::BadContentLength));
        assert_eq!(r(""), Err(ResponseError::BadContentLength));
        assert_eq!(
            r("99999999999999999999"),
            Err(ResponseError::BadContentLength)
        );
        let resp = b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nok";
        assert_eq!(run(&[resp], true), Err(ResponseError::BadContentLength));
    }

    #[test]
    fn early_close_is_an_error_unless_the_body_runs_to_the_close() {
        assert_eq!(run(&[b""], false), Err(ResponseError::NoResponse));
        assert_eq!(
            run(&[b"HTTP/1.0 200 OK\r\nContent-"], false),
            Err(ResponseError::NoResponse)
        );
        assert_eq!(
            run(
                &[b"HTTP/1.0 200 OK\r\nContent-Length: 10\r\n\r\nshort"],
                false
            ),
            Err(ResponseError::Truncated)
        );
        assert_eq!(
            run(
                &[b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel"],
                false
            ),
            Err(ResponseError::Truncated)
        );
    }

    #[test]
    fn interim_responses_are_skipped_and_no_body_statuses_end_at_the_head() {
        let resp = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\n\r\n\
                     HTTP/1.1 404 Not Found\r\nContent-Length: 1\r\n\r\nx";
        let mut r = ResponseReader::new(false);
        assert_eq!(
            r.feed(resp).unwrap(),
            Progress::Done(Response {
                status: 404,
                md5: None,
                body: None,
            })
        );
        for size in 1..resp.len() {
            assert_eq!(split(resp, size, false).unwrap().status, 404);
        }
        // The status is not reported until the final head.
        let mut r = ResponseReader::new(false);
        assert_eq!(
            r.feed(b"HTTP/1.1 100 Continue\r\n\r\n").unwrap(),
            Progress::More
        );
        assert_eq!(r.status(), None);
        for code in [204, 304] {
            let resp = format!("HTTP/1.1 {code} X\r\nContent-Length: 5\r\n\r\n");
            let mut r = ResponseReader::new(true);
            assert_eq!(
                r.feed(resp.as_bytes()).unwrap(),
                Progress::Done(Response {
                    status: code,
                    md5: Some(md5(b"")),
                    body: None,
                })
            );
        }
    }

    proptest! {
        /// Any body, framed either way and cut anywhere, hashes to the body's MD5.
        #[test]
        fn any_split_hashes_the_body(
            body in proptest::collection::vec(any::<u8>(), 0..3000),
            chunk in 1usize..700,
            cuts in proptest::collection::vec(1usize..500, 1..40),
            chunked in any::<bool>(),
        ) {
            let mut resp = Vec::new();
            if chunked {
                resp.extend_from_slice(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
                for c in body.chunks(chunk) {
                    resp.extend_from_slice(format!("{:x}\r\n", c.len()).as_bytes());
                    resp.extend_from_slice(c);
                    resp.extend_from_slice(b"\r\n");
                }
                resp.extend_from_slice(b"0\r\n\r\n");
            } else {
                resp.extend_from_slice(
                    format!("HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).as_bytes(),
                );
                resp.extend_from_slice(&body);
            }
            let mut parts = Vec::new();
            let mut rest = &resp[..];
            for c in cuts.iter().cycle() {
                if rest.is_empty() {
                    break;
                }
                let (a, b) = rest.split_at((*c).min(rest.len()));
                parts.push(a);
                rest = b;
            }
            let mut r = ResponseReader::new(true);
            let mut done = None;
            for (i, p) in parts.iter().enumerate() {
                if let Progress::Done(resp) = r.feed(p).unwrap() {
                    // A Content-Length body completes at its last byte, not before (a
                    // chunked one at its last chunk, before the final CRLF).
                    if !chunked {
                        prop_assert_eq!(i, parts.len() - 1);
                    }
                    done = Some(resp);
                    break;
                }
            }
            prop_assert_eq!(done, Some(Response { status: 200, md5: Some(md5(&body)), body: None }));
        }
    }
}
