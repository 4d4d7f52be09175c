//! Logging: console (-l), a file (-g), syslog unless -G (facility LOCAL0-7 with -S,
//! default DAEMON), detail (-D) raises the level to debug. RUST_LOG overrides the level.
//! Syslog messages carry keepalived's idents (`Keepalived`, `Keepalived_vrrp`,
//! `Keepalived_healthcheckers`) by side, and go through a bounded queue to a thread of
//! their own: a full queue drops and counts, it never blocks the VRRP thread.

use crate::cli::Options;
use std::ffi::CString;
use std::io::{self, Write};
use std::sync::mpsc::{sync_channel, SyncSender};
use std::sync::Mutex;
use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// The syslog idents of keepalived's processes: rsyslog filters select on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ident {
    /// keepalived's parent process.
    Parent,
    /// keepalived's VRRP child.
    Vrrp,
    /// keepalived's checker child.
    Checkers,
}

impl Ident {
    pub fn as_cstr(self) -> &'static std::ffi::CStr {
        match self {
            Ident::Parent => c"Keepalived",
            Ident::Vrrp => c"Keepalived_vrrp",
            Ident::Checkers => c"Keepalived_healthcheckers",
        }
    }

    /// The side an event belongs to: the VRRP thread and module are keepalived's VRRP
    /// process, the LVS side, checkers and IPVS its checker process, the rest the parent.
    pub fn of(target: &str, thread: Option<&str>) -> Ident {
        let in_mod = |m: &str| {
            target
                .strip_prefix("lvsd::")
                .is_some_and(|t| t == m || t.starts_with(&format!("{m}::")))
        };
        if thread == Some("lvsd-vrrp") || in_mod("vrrp") {
            Ident::Vrrp
        } else if in_mod("lvs") || in_mod("checkers") || in_mod("ipvs") {
            Ident::Checkers
        } else {
            Ident::Parent
        }
    }
}

/// Messages waiting for the syslog thread; beyond this they are dropped and counted, so a
/// slow or stuck syslog never blocks the thread that logs (the VRRP thread above all).
const SYSLOG_QUEUE: usize = 1024;

/// Messages dropped because the queue was full.
pub static SYSLOG_DROPPED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

struct Message {
    ident: Ident,
    priority: libc::c_int,
    text: CString,
}

/// Writes each formatted event as one syslog message, handed to the syslog thread.
pub struct SyslogWriter {
    priority: libc::c_int,
    ident: Ident,
    buf: Vec<u8>,
    tx: SyncSender<Message>,
}

impl Write for SyslogWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for SyslogWriter {
    fn drop(&mut self) {
        let text = String::from_utf8_lossy(&self.buf);
        let text = text.trim_end();
        if text.is_empty() {
            return;
        }
        if let Ok(text) = CString::new(text.replace('\0', " ")) {
            let msg = Message {
                ident: self.ident,
                priority: self.priority,
                text,
            };
            if self.tx.try_send(msg).is_err() {
                SYSLOG_DROPPED.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }
}

/// The syslog sink: a thread that owns `openlog`/`syslog`, fed through a bounded queue.
pub struct Syslog {
    tx: SyncSender<Message>,
}

impl Syslog {
    pub fn open(facility: Option<u8>) -> io::Result<Syslog> {
        let fac = match facility {
            Some(n) => libc::LOG_LOCAL0 + (libc::c_int::from(n.min(7)) << 3),
            None => libc::LOG_DAEMON,
        };
        let (tx, rx) = sync_channel::<Message>(SYSLOG_QUEUE);
        std::thread::Builder::new()
            .name("lvsd-syslog".into())
            .spawn(move || {
                let mut current: Option<Ident> = None;
                let mut reported = 0;
                for m in rx {
                    // Only this thread calls openlog and syslog.
                    if current != Some(m.ident) {
                        // SAFETY: the ident is a static string; openlog keeps the pointer.
                        unsafe { libc::openlog(m.ident.as_cstr().as_ptr(), libc::LOG_PID, fac) };
                        current = Some(m.ident);
                    }
                    let dropped = SYSLOG_DROPPED.load(std::sync::atomic::Ordering::Relaxed);
                    if dropped != reported {
                        let note = format!(
                            "{} log messages were dropped: syslog did not keep up",
                            dropped - reported
                        );
                        if let Ok(note) = CString::new(note) {
                            // SAFETY: "%s" with a valid NUL-terminated string.
                            unsafe {
                                libc::syslog(libc::LOG_WARNING, c"%s".as_ptr(), note.as_ptr())
                            };
                        }
                        reported = dropped;
                    }
                    // SAFETY: "%s" with a valid NUL-terminated string.
                    unsafe { libc::syslog(m.priority, c"%s".as_ptr(), m.text.as_ptr()) };
                }
            })?;
        Ok(Syslog { tx })
    }
}

impl<'a> MakeWriter<'a> for Syslog {
    type Writer = SyslogWriter;
    fn make_writer(&'a self) -> SyslogWriter {
        SyslogWriter {
            priority: libc::LOG_INFO,
            ident: Ident::of("", std::thread::current().name()),
            buf: Vec::new(),
            tx: self.tx.clone(),
        }
    }
    fn make_writer_for(&'a self, meta: &Metadata<'_>) -> SyslogWriter {
        let priority = match *meta.level() {
            Level::ERROR => libc::LOG_ERR,
            Level::WARN => libc::LOG_WARNING,
            Level::INFO => libc::LOG_INFO,
            _ => libc::LOG_DEBUG,
        };
        SyslogWriter {
            priority,
            ident: Ident::of(meta.target(), std::thread::current().name()),
            buf: Vec::new(),
            tx: self.tx.clone(),
        }
    }
}

/// Installs the global subscriber. Call once, after forking.
pub fn init(opts: &Options) -> anyhow::Result<()> {
    let level = if opts.log_detail { "debug" } else { "info" };
    let filter = || EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let console = opts.log_console.then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(io::stderr)
            .with_ansi(io::IsTerminal::is_terminal(&io::stderr()))
            .with_target(false)
            .with_filter(filter())
    });
    let file = match &opts.log_file {
        Some(path) => {
            let f = open_log_file(path)
                .map_err(|e| anyhow::anyhow!("log file {}: {e}", path.display()))?;
            Some(
                tracing_subscriber::fmt::layer()
                    .with_writer(Mutex::new(f))
                    .with_ansi(false)
                    .with_target(false)
                    .with_filter(filter()),
            )
        }
        None => None,
    };
    let syslog = match opts.no_syslog {
        true => None,
        false => Some(
            Syslog::open(opts.log_facility)
                .map_err(|e| anyhow::anyhow!("cannot start the syslog thread: {e}"))?,
        ),
    };
    let syslog = syslog.map(|sink| {
        tracing_subscriber::fmt::layer()
            .with_writer(sink)
            .with_ansi(false)
            .with_target(false)
            .without_time()
            .with_level(false)
            .with_filter(filter())
    });
    tracing_subscriber::registry()
        .with(console)
        .with(file)
        .with(syslog)
        .try_init()
        .map_err(|e| anyhow::anyhow!("cannot install the logger: {e}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idents_follow_keepalived_processes() {
        assert_eq!(Ident::of("lvsd::vrrp::runtime", Some("lvsd")), Ident::Vrrp);
        assert_eq!(Ident::of("lvsd::script", Some("lvsd-vrrp")), Ident::Vrrp);
        assert_eq!(
            Ident::of("lvsd::lvs::runtime", Some("lvsd")),
            Ident::Checkers
        );
        assert_eq!(Ident::of("lvsd::checkers::http", None), Ident::Checkers);
        assert_eq!(Ident::of("lvsd::daemon", Some("lvsd")), Ident::Parent);
        assert_eq!(Ident::of("lvsd::vrrpx", None), Ident::Parent);
        assert_eq!(
            Ident::Checkers.as_cstr().to_str().ok(),
            Some("Keepalived_healthcheckers")
        );
    }

    #[test]
    fn a_full_queue_drops_and_counts_without_blocking() {
        let (tx, _rx) = sync_channel::<Message>(1);
        let before = SYSLOG_DROPPED.load(std::sync::atomic::Ordering::Relaxed);
        for _ in 0..3 {
            let mut w = SyslogWriter {
                priority: libc::LOG_INFO,
                ident: Ident::Vrrp,
                buf: Vec::new(),
                tx: tx.clone(),
            };
            let _ = w.write(b"hello");
        }
        let after = SYSLOG_DROPPED.load(std::sync::atomic::Ordering::Relaxed);
        assert!(after >= before + 2, "dropped {before} -> {after}");
    }
}

/// Opens `-g`'s log file for appending, created readable by root only (keepalived's files
/// are mode 0600 under its default umask 0177): the log names addresses, scripts and
/// failures that are nobody else's business. An existing file keeps its mode.
fn open_log_file(path: &std::path::Path) -> io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
}

#[cfg(test)]
mod file_mode_tests {
    #[test]
    fn a_new_log_file_is_private() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("lvsd.log");
        let old = nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(0o022));
        let f = super::open_log_file(&p);
        nix::sys::stat::umask(old);
        drop(f.unwrap());
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "mode {mode:o}");
    }
}
