//! Logging: console (-l), a file (-g), syslog unless -G (facility LOCAL0-7 with -S,
//! default DAEMON), detail (-D) raises the level to debug. RUST_LOG overrides the level.

use crate::cli::Options;
use std::ffi::CString;
use std::io::{self, Write};
use std::sync::Mutex;
use tracing::{Level, Metadata};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Writes each formatted event as one syslog message.
pub struct SyslogWriter {
    priority: libc::c_int,
    buf: Vec<u8>,
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
        if let Ok(msg) = CString::new(text.replace('\0', " ")) {
            // SAFETY: "%s" with a valid NUL-terminated string.
            unsafe { libc::syslog(self.priority, c"%s".as_ptr(), msg.as_ptr()) };
        }
    }
}

/// The syslog sink; `openlog` is called once when it is made.
pub struct Syslog;

impl Syslog {
    pub fn open(facility: Option<u8>) -> Syslog {
        let fac = match facility {
            Some(n) => libc::LOG_LOCAL0 + (libc::c_int::from(n.min(7)) << 3),
            None => libc::LOG_DAEMON,
        };
        // SAFETY: the ident is a static string; openlog keeps the pointer.
        unsafe { libc::openlog(c"Keepalived_vrrp".as_ptr(), libc::LOG_PID, fac) };
        Syslog
    }
}

impl<'a> MakeWriter<'a> for Syslog {
    type Writer = SyslogWriter;
    fn make_writer(&'a self) -> SyslogWriter {
        SyslogWriter {
            priority: libc::LOG_INFO,
            buf: Vec::new(),
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
            buf: Vec::new(),
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
            let f = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
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
    let syslog = (!opts.no_syslog).then(|| {
        tracing_subscriber::fmt::layer()
            .with_writer(Syslog::open(opts.log_facility))
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
