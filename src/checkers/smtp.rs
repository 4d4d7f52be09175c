//! SMTP_CHECK: connect, read the 220 greeting, send `HELO helo_name`, expect 250, QUIT.

use super::{bounded, net, CheckSettings, Verdict};
use crate::config::SmtpCheck;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// Longest reply line accepted (RFC 5321 allows 512 octets).
const MAX_LINE: usize = 4096;

pub async fn check(s: &CheckSettings, smtp: &SmtpCheck) -> Verdict {
    let helo = smtp.helo_name.clone().unwrap_or_else(|| {
        nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_else(|| "localhost".to_string())
    });
    bounded(
        s.connect_timeout,
        async {
            let target = s.target();
            match converse(s, &helo).await {
                Ok(()) => Verdict::up(format!("SMTP connection to {target} success.")),
                Err(e) => Verdict::down(format!("SMTP check to {target} failed: {e}.")),
            }
        },
        || format!("SMTP connection to {} timeout.", s.target()),
    )
    .await
}

async fn converse(s: &CheckSettings, helo: &str) -> Result<(), String> {
    let stream = net::tcp_connect(s)
        .await
        .map_err(|e| format!("connect: {e}"))?;
    let mut stream = BufReader::new(stream);
    read_reply(&mut stream, 220, "greeting").await?;
    stream
        .get_mut()
        .write_all(format!("HELO {helo}\r\n").as_bytes())
        .await
        .map_err(|e| format!("send HELO: {e}"))?;
    read_reply(&mut stream, 250, "HELO").await?;
    // Best effort: the verdict is already known.
    let _ = stream.get_mut().write_all(b"QUIT\r\n").await;
    Ok(())
}

/// Reads one (possibly multi-line `250-…`) reply and checks its code (`what` names the
/// reply in errors).
pub async fn read_reply<R: AsyncBufRead + Unpin>(
    stream: &mut R,
    want: u16,
    what: &str,
) -> Result<(), String> {
    loop {
        let mut line = Vec::new();
        let n = (&mut *stream)
            .take(MAX_LINE as u64)
            .read_until(b'\n', &mut line)
            .await
            .map_err(|e| format!("reading {what} reply: {e}"))?;
        if n == 0 {
            return Err(format!("connection closed before the {what} reply"));
        }
        let code = line
            .get(..3)
            .and_then(|c| std::str::from_utf8(c).ok())
            .and_then(|c| c.parse::<u16>().ok())
            .ok_or_else(|| format!("malformed {what} reply"))?;
        if code != want {
            return Err(format!("{what} reply code {code}, expected {want}"));
        }
        // `250-` continues the reply; `250 ` (or a bare code) ends it.
        if line.get(3) != Some(&b'-') {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(text: &[u8], want: u16) -> Result<(), String> {
        let mut r = text;
        futures::executor::block_on(read_reply(&mut r, want, "HELO"))
    }

    #[test]
    fn reads_single_and_multi_line_replies() {
        assert_eq!(reply(b"250 ok\r\n", 250), Ok(()));
        assert_eq!(reply(b"250", 250), Ok(()));
        assert_eq!(reply(b"250-a\r\n250-b\r\n250 c\r\n", 250), Ok(()));
        assert_eq!(
            reply(b"250-a\r\n", 250),
            Err("connection closed before the HELO reply".into())
        );
        assert_eq!(
            reply(b"250-a\r\n554 no\r\n", 250),
            Err("HELO reply code 554, expected 250".into())
        );
        assert_eq!(
            reply(b"2x0 ok\r\n", 250),
            Err("malformed HELO reply".into())
        );
        assert_eq!(
            reply(b"", 250),
            Err("connection closed before the HELO reply".into())
        );
    }
}
