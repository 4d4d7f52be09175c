//! The outcome of a reload, for `lvsd --reload-wait` (systemd's ExecReload, the init
//! script's `reload`): the daemon writes it beside its main pid file (`/run/keepalived.pid`
//! → `/run/keepalived.reload-outcome`) when a reload is applied or refused; the waiting command
//! sends SIGHUP and reads it.
//!
//! The file holds the reload's start as CLOCK_MONOTONIC microseconds (taken by the daemon
//! when it handles the SIGHUP, so after the signal was sent): the waiting command notes
//! the clock before it signals and accepts only an outcome that started later. A reload
//! that was already running when the signal came, or a file from an earlier daemon, is
//! thereby never taken for this one's.
//!
//! ```text
//! started_usec=1234567890
//! outcome=refused
//! message=/etc/keepalived/keepalived.conf:12: unknown keyword "virtual_sever"
//! ```

use super::sd_notify::monotonic_usec;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// How a reload ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// The new file runs.
    Applied,
    /// The file has errors: the previous configuration keeps running.
    Refused,
    /// Handed to the sides, but not confirmed applied (too slow, or lvsd stopped).
    Unconfirmed,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Applied => "applied",
            Outcome::Refused => "refused",
            Outcome::Unconfirmed => "unconfirmed",
        }
    }

    fn parse(s: &str) -> Option<Outcome> {
        Some(match s {
            "applied" => Outcome::Applied,
            "refused" => Outcome::Refused,
            "unconfirmed" => Outcome::Unconfirmed,
            _ => return None,
        })
    }
}

/// A reload's outcome as written to the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Written {
    pub started_usec: u64,
    pub outcome: Outcome,
    /// One line: why it was refused, or what it says.
    pub message: String,
}

/// The outcome file of the daemon whose main pid file is `pid_file` (not `.reload`:
/// that is keepalived's `reload_file`).
pub fn path_for(pid_file: &Path) -> PathBuf {
    pid_file.with_extension("reload-outcome")
}

/// Writes an outcome (whole: through a temporary file renamed over the old one).
pub fn write(
    path: &Path,
    started_usec: u64,
    outcome: Outcome,
    message: &str,
) -> std::io::Result<()> {
    let message = message.replace('\n', " ");
    let text = format!(
        "started_usec={started_usec}\noutcome={}\nmessage={message}\n",
        outcome.as_str()
    );
    crate::control::report::write_atomic(path, &text)
}

/// Reads an outcome file; None when it is missing or not one.
pub fn read(path: &Path) -> Option<Written> {
    let text = std::fs::read_to_string(path).ok()?;
    let mut started = None;
    let mut outcome = None;
    let mut message = String::new();
    for line in text.lines() {
        match line.split_once('=') {
            Some(("started_usec", v)) => started = v.parse().ok(),
            Some(("outcome", v)) => outcome = Outcome::parse(v),
            Some(("message", v)) => message = v.to_string(),
            _ => {}
        }
    }
    Some(Written {
        started_usec: started?,
        outcome: outcome?,
        message,
    })
}

/// How long `--reload-wait` waits for the outcome (the daemon itself gives the sides
/// [`super::sd_notify::RELOAD_LIMIT`] to apply a file, and reading it comes first).
pub const WAIT_LIMIT: Duration = Duration::from_secs(80);

/// Why `--reload-wait` did not end with an applied reload.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WaitError {
    #[error("the reload was refused, the previous configuration keeps running: {0}")]
    Refused(String),
    #[error("{0}")]
    Failed(String),
}

/// `lvsd --reload-wait`: sends SIGHUP to the daemon named by `pid_file` and waits for
/// the outcome of that reload.
pub fn reload_and_wait(pid_file: &Path, limit: Duration) -> Result<(), WaitError> {
    let Some(pid) = super::pidfile::holder(pid_file) else {
        return Err(WaitError::Failed(format!(
            "no lvsd is running: {} names no live process",
            pid_file.display()
        )));
    };
    let pid = nix::unistd::Pid::from_raw(pid);
    let outcome_file = path_for(pid_file);
    let sent = monotonic_usec();
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGHUP)
        .map_err(|e| WaitError::Failed(format!("cannot send SIGHUP to lvsd (pid {pid}): {e}")))?;
    let start = Instant::now();
    loop {
        if let Some(w) = read(&outcome_file).filter(|w| w.started_usec >= sent) {
            return match w.outcome {
                Outcome::Applied => Ok(()),
                Outcome::Refused => Err(WaitError::Refused(w.message)),
                Outcome::Unconfirmed => Err(WaitError::Failed(format!(
                    "the reload is not confirmed: {}",
                    w.message
                ))),
            };
        }
        if nix::sys::signal::kill(pid, None).is_err() {
            return Err(WaitError::Failed(format!(
                "lvsd (pid {pid}) stopped before the reload finished"
            )));
        }
        if start.elapsed() >= limit {
            return Err(WaitError::Failed(format!(
                "lvsd (pid {pid}) did not report the reload's outcome in {} ({} stays as it was)",
                crate::backoff::human(limit),
                outcome_file.display()
            )));
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_outcome_reads_back_as_written() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("k.reload");
        assert_eq!(read(&p), None);
        write(&p, 12, Outcome::Refused, "line 1\nline 2").unwrap();
        assert_eq!(
            read(&p),
            Some(Written {
                started_usec: 12,
                outcome: Outcome::Refused,
                message: "line 1 line 2".into()
            })
        );
        std::fs::write(&p, "outcome=applied\n").unwrap();
        assert_eq!(read(&p), None, "no start: not an outcome");
        assert_eq!(
            path_for(Path::new("/run/keepalived.pid")),
            Path::new("/run/keepalived.reload-outcome")
        );
    }

    #[test]
    fn waiting_without_a_daemon_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let err = reload_and_wait(&dir.path().join("none.pid"), Duration::from_secs(1))
            .unwrap_err()
            .to_string();
        assert!(err.contains("no lvsd is running"), "{err}");
    }
}
