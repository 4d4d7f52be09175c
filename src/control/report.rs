//! The dump files keepalived writes on signals, in keepalived 2.2.7's layouts:
//!
//! * SIGUSR1 (DATA): the VRRP side writes `keepalived.data` (global definitions, VRRP
//!   topology, socket pool, sync groups, scripts), the checker side `keepalived_check.data`
//!   (global definitions, LVS topology, checkers) and the parent `keepalived_parent.data`
//!   (global definitions), as keepalived's three processes do.
//! * SIGUSR2 (STATS): the VRRP side writes `keepalived.stats`; STATS_CLEAR (SIGRTMAX-1) does
//!   the same and then zeroes the counters.
//! * JSON (SIGRTMIN+2): the VRRP side writes `keepalived.json` (nothing without instances).
//!
//! Files go to `$TMPDIR` when it is an absolute path, else `/tmp` (keepalived's rule). Each
//! is written to a temporary file in the same directory, readable and writable by its owner
//! only, then renamed over the old one: a reader sees the old file or the new one, whole.
//!
//! Each side registers a channel and answers from its own loop with text it formats from
//! its state, so a dump never touches protocol work elsewhere; the files are written here.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DumpKind {
    /// SIGUSR1: `keepalived.data` and the checker's and parent's data files.
    Data,
    /// SIGUSR2: `keepalived.stats`.
    Stats,
    /// STATS_CLEAR: `keepalived.stats`, then the counters are zeroed.
    StatsClear,
    /// The JSON signal: `keepalived.json`.
    Json,
    /// No file: the side's state as JSON for the control socket (`lvsd ctl state`), asked
    /// with [`ask`].
    State,
}

/// The parts of the daemon that answer dump requests (keepalived's child processes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Vrrp,
    Checker,
}

impl Side {
    /// The file this side writes for `kind`; None when it writes nothing for it (only the
    /// VRRP side answers STATS, STATS_CLEAR and JSON, as in keepalived).
    pub fn file_name(self, kind: DumpKind) -> Option<&'static str> {
        match (self, kind) {
            (Side::Vrrp, DumpKind::Data) => Some("keepalived.data"),
            (Side::Vrrp, DumpKind::Stats | DumpKind::StatsClear) => Some("keepalived.stats"),
            (Side::Vrrp, DumpKind::Json) => Some("keepalived.json"),
            (Side::Vrrp, DumpKind::State) => None,
            (Side::Checker, DumpKind::Data) => Some("keepalived_check.data"),
            (Side::Checker, _) => None,
        }
    }
}

/// The parent's data file (global definitions).
pub const PARENT_DATA: &str = "keepalived_parent.data";

/// The directory dump files go to: `$TMPDIR` if it is an absolute path, else `/tmp`.
pub fn tmp_dir() -> PathBuf {
    match std::env::var_os("TMPDIR") {
        Some(d) if Path::new(&d).is_absolute() => PathBuf::from(d),
        _ => PathBuf::from("/tmp"),
    }
}

/// A request to a side: put the text of your file into `reply` (None: no file this time).
pub struct DumpRequest {
    pub kind: DumpKind,
    pub reply: oneshot::Sender<Option<String>>,
}

static SIDES: Mutex<Vec<(Side, mpsc::UnboundedSender<DumpRequest>)>> = Mutex::new(Vec::new());

/// Registers a side; it must answer requests arriving on the returned receiver.
pub fn register(side: Side) -> mpsc::UnboundedReceiver<DumpRequest> {
    let (tx, rx) = mpsc::unbounded_channel();
    if let Ok(mut sides) = SIDES.lock() {
        sides.retain(|(s, _)| *s != side);
        sides.push((side, tx));
    }
    rx
}

/// Asks every registered side that writes a file for `kind` (each bounded by `limit`) and
/// returns (file name, text) for each answer.
pub async fn collect(kind: DumpKind, limit: Duration) -> Vec<(&'static str, String)> {
    let sides: Vec<_> = match SIDES.lock() {
        Ok(s) => s.clone(),
        Err(_) => Vec::new(),
    };
    let mut out = Vec::new();
    for (side, tx) in sides {
        let Some(name) = side.file_name(kind) else {
            continue;
        };
        let (reply, rx) = oneshot::channel();
        if tx.send(DumpRequest { kind, reply }).is_err() {
            continue;
        }
        match tokio::time::timeout(limit, rx).await {
            Ok(Ok(Some(text))) => out.push((name, text)),
            Ok(Ok(None)) => {}
            Ok(Err(_)) => tracing::warn!("The {side:?} side stopped before writing {name}"),
            Err(_) => tracing::warn!(
                "The {side:?} side did not answer within {limit:?}: {name} not written"
            ),
        }
    }
    out
}

/// Asks one side for `kind` (for the control socket), waiting at most `limit`: its text
/// (None: it has nothing to say), or why there is no answer (a sentence).
pub async fn ask(side: Side, kind: DumpKind, limit: Duration) -> Result<Option<String>, String> {
    let tx = match SIDES.lock() {
        Ok(s) => s.iter().find(|(s, _)| *s == side).map(|(_, tx)| tx.clone()),
        Err(_) => None,
    };
    let name = match side {
        Side::Vrrp => "VRRP",
        Side::Checker => "LVS",
    };
    let not_running = || format!("the {name} side is not running");
    let tx = tx.ok_or_else(not_running)?;
    let (reply, rx) = oneshot::channel();
    tx.send(DumpRequest { kind, reply })
        .map_err(|_| not_running())?;
    match tokio::time::timeout(limit, rx).await {
        Ok(Ok(text)) => Ok(text),
        Ok(Err(_)) => Err(not_running()),
        Err(_) => Err(format!(
            "the {name} side did not answer within {}s",
            limit.as_secs()
        )),
    }
}

/// Writes `text` to `path` through a temporary file in the same directory (mode 0600),
/// renamed over `path` once complete.
pub fn write_atomic(path: &Path, text: &str) -> std::io::Result<()> {
    let dir = path.parent().unwrap_or(Path::new("/"));
    let prefix = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // tempfile creates the file with O_EXCL and mode 0600.
    let mut tmp = tempfile::Builder::new()
        .prefix(&format!(".{prefix}."))
        .tempfile_in(dir)?;
    tmp.write_all(text.as_bytes())?;
    tmp.flush()?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// The name a dump file is written under: keepalived's, or with `data_use_instance`
/// the network namespace and instance name before the extension
/// (`keepalived.NS_INST.data`, `keepalived.NS.data`, `keepalived.INST.data`).
pub fn file_name(name: &str, g: &crate::config::GlobalDefs) -> String {
    let (ns, inst) = (g.net_namespace.as_deref(), g.instance.as_deref());
    if !g.data_use_instance || (ns.is_none() && inst.is_none()) {
        return name.to_string();
    }
    let (stem, ext) = name.rsplit_once('.').unwrap_or((name, ""));
    let mid = match (ns, inst) {
        (Some(n), Some(i)) => format!("{n}_{i}"),
        (Some(n), None) => n.to_string(),
        (None, Some(i)) => i.to_string(),
        (None, None) => String::new(),
    };
    format!("{stem}.{mid}.{ext}")
}

/// Collects and writes the files for `kind`; for DATA also the parent's file, whose text
/// is `parent` (the global definitions). `global` names them (`data_use_instance`).
pub async fn write(kind: DumpKind, parent: Option<String>, global: crate::config::GlobalDefs) {
    let dir = tmp_dir();
    let mut files = collect(kind, Duration::from_secs(2)).await;
    if let Some(p) = parent {
        files.push((PARENT_DATA, p));
    }
    for (name, text) in files {
        let path = dir.join(file_name(name, &global));
        let p = path.clone();
        match tokio::task::spawn_blocking(move || write_atomic(&p, &text)).await {
            Ok(Ok(())) => tracing::info!("Wrote {}", path.display()),
            Ok(Err(e)) => tracing::error!("Cannot write {}: {e}", path.display()),
            Err(e) => tracing::error!("Cannot write {}: {e}", path.display()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_use_instance_names_the_files() {
        let mut g = crate::config::GlobalDefs::default();
        assert_eq!(file_name("keepalived.data", &g), "keepalived.data");
        g.data_use_instance = true;
        assert_eq!(file_name("keepalived.data", &g), "keepalived.data");
        g.instance = Some("i1".into());
        assert_eq!(file_name("keepalived.stats", &g), "keepalived.i1.stats");
        g.net_namespace = Some("blue".into());
        assert_eq!(
            file_name("keepalived_check.data", &g),
            "keepalived_check.blue_i1.data"
        );
        g.instance = None;
        assert_eq!(file_name("keepalived.json", &g), "keepalived.blue.json");
    }
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn atomic_write_replaces_and_is_private() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("keepalived.data");
        std::fs::write(&path, "old\n").expect("old file");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        write_atomic(&path, "new\n").expect("written");
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "new\n");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "mode {mode:o}");
        // No temporary file left behind.
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .expect("dir")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names.len(), 1, "{names:?}");
    }

    #[test]
    fn only_the_vrrp_side_writes_stats_and_json() {
        assert_eq!(Side::Checker.file_name(DumpKind::Stats), None);
        assert_eq!(Side::Checker.file_name(DumpKind::Json), None);
        assert_eq!(
            Side::Checker.file_name(DumpKind::Data),
            Some("keepalived_check.data")
        );
        assert_eq!(
            Side::Vrrp.file_name(DumpKind::StatsClear),
            Some("keepalived.stats")
        );
    }
}
