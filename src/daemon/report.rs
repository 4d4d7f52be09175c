//! SIGUSR1 / SIGUSR2 / SIGRTMIN+2 dumps: each side registers a channel; the daemon asks
//! every registered side for its text and writes /tmp/keepalived.{data,stats,json}.
//! A side answers from its own loop, so a dump never touches protocol work elsewhere.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DumpKind {
    Data,
    Stats,
    Json,
}

impl DumpKind {
    pub fn path(self) -> PathBuf {
        PathBuf::from(match self {
            DumpKind::Data => "/tmp/keepalived.data",
            DumpKind::Stats => "/tmp/keepalived.stats",
            DumpKind::Json => "/tmp/keepalived.json",
        })
    }
}

/// A request to a side: write your part of the dump into `reply`.
pub struct DumpRequest {
    pub kind: DumpKind,
    pub reply: oneshot::Sender<String>,
}

static SIDES: Mutex<Vec<(&'static str, mpsc::UnboundedSender<DumpRequest>)>> =
    Mutex::new(Vec::new());

/// Registers a side; it must answer requests arriving on the returned receiver.
pub fn register(side: &'static str) -> mpsc::UnboundedReceiver<DumpRequest> {
    let (tx, rx) = mpsc::unbounded_channel();
    if let Ok(mut sides) = SIDES.lock() {
        sides.retain(|(n, _)| *n != side);
        sides.push((side, tx));
    }
    rx
}

/// Asks every side (each bounded by `limit`) and returns the joined text.
pub async fn collect(kind: DumpKind, limit: Duration) -> String {
    let sides: Vec<_> = match SIDES.lock() {
        Ok(s) => s.clone(),
        Err(_) => Vec::new(),
    };
    let mut out = String::new();
    for (name, tx) in sides {
        let (reply, rx) = oneshot::channel();
        if tx.send(DumpRequest { kind, reply }).is_err() {
            continue;
        }
        match tokio::time::timeout(limit, rx).await {
            Ok(Ok(text)) => out.push_str(&text),
            _ => out.push_str(&format!("# {name}: no answer\n")),
        }
    }
    out
}

/// Collects and writes the dump file for `kind`.
pub async fn write(kind: DumpKind) {
    let text = collect(kind, Duration::from_secs(2)).await;
    let path = kind.path();
    match tokio::fs::write(&path, text).await {
        Ok(()) => tracing::info!("wrote {}", path.display()),
        Err(e) => tracing::error!("cannot write {}: {e}", path.display()),
    }
}
