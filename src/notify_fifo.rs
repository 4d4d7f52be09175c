//! notify_fifo writers, shared by both sides: keepalived's VRRP process writes
//! `INSTANCE`/`GROUP` lines to `notify_fifo` and `vrrp_notify_fifo`, its checker process
//! `VS`/`RS` lines to `notify_fifo` and `lvs_notify_fifo`. In lvsd both sides live in one
//! process, so each fifo path has one writer task (lines of both sides arrive whole and
//! in order) and its `notify_fifo_script` is started once, when the writer starts.
//!
//! The fifo is opened read-write and non-blocking, as keepalived does: a write never
//! blocks and never fails for want of a reader; a full pipe drops the line (counted and
//! logged).

use crate::config::{GlobalDefs, NotifyFifo};
use crate::script::{self, Script};
use std::collections::HashMap;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::sync::mpsc;

/// Lines one fifo took and lost.
#[derive(Debug, Default)]
pub struct FifoCounters {
    pub written: AtomicU64,
    pub dropped: AtomicU64,
}

/// A handle on the writer of one fifo path. Cheap to clone.
#[derive(Clone)]
pub struct FifoWriter {
    tx: mpsc::UnboundedSender<String>,
    pub counters: Arc<FifoCounters>,
}

impl FifoWriter {
    /// Queues one line (with its newline). Never blocks.
    pub fn send(&self, line: String) {
        if self.tx.send(line).is_err() {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn registry() -> &'static Mutex<HashMap<PathBuf, FifoWriter>> {
    static WRITERS: OnceLock<Mutex<HashMap<PathBuf, FifoWriter>>> = OnceLock::new();
    WRITERS.get_or_init(Default::default)
}

/// The writer of `f`'s path, started (with its script) on first use. Needs tokio.
pub fn writer(f: &NotifyFifo, global: &GlobalDefs) -> FifoWriter {
    let mut writers = registry().lock().unwrap_or_else(|e| e.into_inner());
    if let Some(w) = writers.get(&f.path) {
        if !w.tx.is_closed() {
            return w.clone();
        }
    }
    let w = start(f, global);
    writers.insert(f.path.clone(), w.clone());
    w
}

/// The writers a side writes to: `notify_fifo` and the side's own fifo (the same path
/// written twice is written once).
pub fn writers(fifos: [&Option<NotifyFifo>; 2], global: &GlobalDefs) -> Vec<FifoWriter> {
    let mut out: Vec<(PathBuf, FifoWriter)> = Vec::new();
    for f in fifos.into_iter().flatten() {
        if out.iter().all(|(p, _)| *p != f.path) {
            out.push((f.path.clone(), writer(f, global)));
        }
    }
    out.into_iter().map(|(_, w)| w).collect()
}

/// Creates the fifo if it does not exist yet (mode 0600).
pub fn ensure_fifo(path: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::FileTypeExt;
    match std::fs::metadata(path) {
        Ok(m) if m.file_type().is_fifo() => Ok(()),
        Ok(_) => Err(std::io::Error::new(
            std::io::ErrorKind::AlreadyExists,
            "exists and is not a fifo",
        )),
        Err(_) => nix::unistd::mkfifo(path, nix::sys::stat::Mode::from_bits_truncate(0o600))
            .map_err(std::io::Error::from),
    }
}

fn start(f: &NotifyFifo, global: &GlobalDefs) -> FifoWriter {
    let (tx, mut rx) = mpsc::unbounded_channel::<String>();
    let counters = Arc::new(FifoCounters::default());
    let path = f.path.clone();
    if let Err(e) = ensure_fifo(&path) {
        tracing::error!("notify_fifo {}: {e}", path.display());
    }
    if let Some(cmd) = &f.script {
        // The fifo script reads the fifo; keepalived passes it the fifo's path.
        script::spawn_detached(
            Script {
                command: cmd.clone(),
                user: f.script_user.clone().or_else(|| global.script_user.clone()),
                timeout: Duration::from_secs(u64::from(u32::MAX)),
                secure: global.enable_script_security,
            },
            vec![path.display().to_string()],
            "notify_fifo_script".to_string(),
        );
    }
    let c = counters.clone();
    tokio::spawn(async move {
        let mut file = None;
        while let Some(line) = rx.recv().await {
            if file.is_none() {
                file = std::fs::OpenOptions::new()
                    .read(true)
                    .write(true)
                    .custom_flags(libc::O_NONBLOCK)
                    .open(&path)
                    .map_err(|e| tracing::warn!("notify_fifo {}: {e}", path.display()))
                    .ok();
            }
            let ok = match file.as_mut() {
                Some(fh) => fh.write_all(line.as_bytes()).is_ok(),
                None => false,
            };
            if ok {
                c.written.fetch_add(1, Ordering::Relaxed);
            } else {
                c.dropped.fetch_add(1, Ordering::Relaxed);
                tracing::warn!("notify_fifo {}: line dropped", path.display());
            }
        }
    });
    FifoWriter { tx, counters }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[tokio::test]
    async fn one_writer_per_path_shared_by_both_sides() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("fifo");
        let f = NotifyFifo {
            path: path.clone(),
            script: None,
            script_user: None,
        };
        let global = GlobalDefs::default();
        ensure_fifo(&path).unwrap();
        let mut reader = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NONBLOCK)
            .open(&path)
            .unwrap();
        // notify_fifo and the side's own fifo on one path: one writer, written once.
        let vrrp = writers([&Some(f.clone()), &Some(f.clone())], &global);
        assert_eq!(vrrp.len(), 1);
        let lvs = writer(&f, &global);
        vrrp[0].send("INSTANCE \"VI_1\" MASTER 100\n".into());
        lvs.send("RS [10.0.0.2]:tcp:80 [10.0.0.1]:tcp:80 UP\n".into());
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while lvs.counters.written.load(Ordering::Relaxed) < 2 {
            assert!(std::time::Instant::now() < deadline, "lines not written");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(Arc::ptr_eq(&vrrp[0].counters, &lvs.counters));
        let mut buf = [0u8; 256];
        let k = reader.read(&mut buf).unwrap();
        assert_eq!(
            std::str::from_utf8(&buf[..k]).unwrap(),
            "INSTANCE \"VI_1\" MASTER 100\nRS [10.0.0.2]:tcp:80 [10.0.0.1]:tcp:80 UP\n"
        );
    }
}
