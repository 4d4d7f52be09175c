//! SMTP_CHECK: connect, read the 220 greeting, send `HELO helo_name`, expect 250, QUIT.

use super::steps::{self, Overrun, Steps};
use super::{net, CheckSettings, Verdict};
use crate::config::SmtpCheck;
use tokio::io::{AsyncBufRead, AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

/// Longest reply line accepted (RFC 5321 allows 512 octets).
const MAX_LINE: usize = 4096;

/// Timed as keepalived: the connection, each reply line and each command within
/// connect_timeout of its start; the whole conversation within [`steps::CAP_STEPS`] ×
/// connect_timeout (see [`super::steps`]).
pub async fn check(s: &CheckSettings, smtp: &SmtpCheck) -> Verdict {
    let helo = smtp.helo_name.clone().unwrap_or_else(|| {
        nix::unistd::gethostname()
            .ok()
            .and_then(|h| h.into_string().ok())
            .unwrap_or_else(|| "localhost".to_string())
    });
    let target = s.target();
    let timer = std::pin::pin!(steps::timer());
    let mut steps = Steps::new(timer, s.connect_timeout);
    let cap = steps.cap();
    // keepalived's lines name the server as [address]:port.
    let server = format!("[{}]:{}", s.addr, s.port);
    match converse(s, &helo, &mut steps).await {
        Ok(()) => Verdict::up(format!("SMTP connection to {target} success.")),
        Err(Failure::Other(e)) => Verdict::down(format!("SMTP check to {target} failed: {e}.")),
        Err(Failure::Timeout(step, Overrun::Step)) => Verdict::down(match step {
            Step::Connect => format!("SMTP_CHECK Connection timeout to server {server}."),
            Step::Read => format!("SMTP_CHECK Read timeout from server {server}."),
            Step::Write => format!("SMTP_CHECK Write timeout to server {server}."),
        }),
        Err(Failure::Timeout(_, Overrun::Cap)) => Verdict::down(format!(
            "SMTP_CHECK Read timeout from server {server}: the conversation is not over \
             after {} s ({} x connect_timeout).",
            cap.as_secs_f64(),
            steps::CAP_STEPS
        )),
    }
}

/// The step of a conversation that ran out of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Connect,
    Read,
    Write,
}

/// Why a conversation failed.
#[derive(Debug, PartialEq, Eq)]
pub enum Failure {
    Other(String),
    Timeout(Step, Overrun),
}

fn timeout(step: Step) -> impl Fn(Overrun) -> Failure {
    move |bound| Failure::Timeout(step, bound)
}

async fn converse(s: &CheckSettings, helo: &str, steps: &mut Steps<'_>) -> Result<(), Failure> {
    let stream = steps
        .run(net::tcp_connect(s))
        .await
        .map_err(timeout(Step::Connect))?
        .map_err(|e| Failure::Other(format!("connect: {e}")))?;
    let mut stream = BufReader::new(stream);
    read_reply(&mut stream, 220, "greeting", steps).await?;
    let command = format!("HELO {helo}\r\n");
    steps
        .run(stream.get_mut().write_all(command.as_bytes()))
        .await
        .map_err(timeout(Step::Write))?
        .map_err(|e| Failure::Other(format!("send HELO: {e}")))?;
    read_reply(&mut stream, 250, "HELO", steps).await?;
    // Best effort: the verdict is already known.
    let _ = steps.run(stream.get_mut().write_all(b"QUIT\r\n")).await;
    Ok(())
}

/// Reads one (possibly multi-line `250-…`) reply, each line a step, and checks its code
/// (`what` names the reply in errors). Public for the fuzz target.
pub async fn read_reply<R: AsyncBufRead + Unpin>(
    stream: &mut R,
    want: u16,
    what: &str,
    steps: &mut Steps<'_>,
) -> Result<(), Failure> {
    let fail = |e: String| Failure::Other(e);
    loop {
        let mut line = Vec::new();
        let mut limited = (&mut *stream).take(MAX_LINE as u64);
        let n = steps
            .run(limited.read_until(b'\n', &mut line))
            .await
            .map_err(timeout(Step::Read))?
            .map_err(|e| fail(format!("reading {what} reply: {e}")))?;
        if n == 0 {
            return Err(fail(format!("connection closed before the {what} reply")));
        }
        let code = line
            .get(..3)
            .and_then(|c| std::str::from_utf8(c).ok())
            .and_then(|c| c.parse::<u16>().ok())
            .ok_or_else(|| fail(format!("malformed {what} reply")))?;
        if code != want {
            return Err(fail(format!("{what} reply code {code}, expected {want}")));
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
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let timer = std::pin::pin!(steps::timer());
            let mut steps = Steps::new(timer, std::time::Duration::from_secs(1));
            let mut r = text;
            match read_reply(&mut r, want, "HELO", &mut steps).await {
                Ok(()) => Ok(()),
                Err(Failure::Other(e)) => Err(e),
                Err(t) => Err(format!("{t:?}")),
            }
        })
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
