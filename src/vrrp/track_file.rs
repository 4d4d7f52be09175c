//! The `track_file` adapter: writes `init_file` values, reads the tracked files, and
//! watches their directories with inotify as keepalived does (a file closed after writing
//! or moved in is read again; one deleted or moved away reads as 0). Each reading goes to
//! the state machines as [`Event::TrackFile`]; what it means is decided in
//! [`crate::vrrp::track`]. Without inotify the files are read every second.

use crate::config::model::{Config, TrackFileDef};
use crate::vrrp::state::Event;
use crate::vrrp::track::parse_file_value;
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};
use std::ffi::OsString;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;
use tokio::io::unix::AsyncFd;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How often the files are read when inotify cannot be used.
const POLL: Duration = Duration::from_secs(1);

/// Whether the VRRP side has already started once (later calls are reloads or restarts,
/// when `init_file overwrite` leaves an existing file alone, as keepalived on reload).
static STARTED: AtomicBool = AtomicBool::new(false);

/// The definitions some instance or sync group tracks.
fn tracked(config: &Config) -> Vec<TrackFileDef> {
    let used = |name: &str| {
        config
            .instances
            .iter()
            .any(|i| i.track_file.iter().any(|r| r.name == name))
            || config
                .sync_groups
                .iter()
                .any(|g| g.track_file.iter().any(|r| r.name == name))
    };
    let mut out: Vec<TrackFileDef> = Vec::new();
    for d in &config.track_files {
        if used(&d.name) && !out.iter().any(|o| o.name == d.name) {
            out.push(d.clone());
        }
    }
    out
}

/// keepalived's `init_file`: the value is written when the file is missing, or with
/// `overwrite` also over an existing regular file (but not on a reload).
fn init_files(config: &Config, reload: bool) {
    for d in &config.track_files {
        let Some(init) = d.init_file else { continue };
        let path = Path::new(&d.file);
        if let Ok(meta) = std::fs::metadata(path) {
            if !init.overwrite || reload {
                continue;
            }
            if !meta.is_file() {
                tracing::warn!(
                    "Cannot initialise track file {}: {} is not a regular file",
                    d.name,
                    d.file
                );
                continue;
            }
        }
        if let Err(e) = std::fs::write(path, format!("{}\n", init.value)) {
            tracing::warn!(
                "Unable to initialise track file {} ({}): {e}",
                d.name,
                d.file
            );
        }
    }
}

/// The number in the file now: 0 when it is missing or unreadable, `None` when it is out
/// of range (the reading is ignored, as keepalived does).
pub fn read_value(path: &Path) -> Option<i64> {
    let mut buf = [0u8; 127];
    let n = match std::fs::File::open(path).and_then(|mut f| f.read(&mut buf)) {
        Ok(n) => n,
        Err(_) => return Some(0),
    };
    let text = String::from_utf8_lossy(&buf[..n]);
    let v = parse_file_value(&text);
    if v.is_none() {
        tracing::warn!(
            "Invalid number `{}` read from {} - ignoring",
            text.trim(),
            path.display()
        );
    }
    v
}

/// The current reading of every tracked file, for the machines before they start.
pub fn initial_events(config: &Config) -> Vec<Event> {
    tracked(config)
        .into_iter()
        .filter_map(|d| {
            read_value(Path::new(&d.file)).map(|value| Event::TrackFile {
                name: d.name,
                value,
            })
        })
        .collect()
}

/// Writes `init_file` values, then watches the tracked files (None when nothing is
/// tracked). The first reading of each is sent at once.
pub fn spawn(config: &Config, tx: &mpsc::Sender<Event>) -> Option<JoinHandle<()>> {
    init_files(config, STARTED.swap(true, Ordering::SeqCst));
    let defs = tracked(config);
    if defs.is_empty() {
        return None;
    }
    let tx = tx.clone();
    Some(tokio::spawn(async move {
        for d in &defs {
            if let Some(value) = read_value(Path::new(&d.file)) {
                let ev = Event::TrackFile {
                    name: d.name.clone(),
                    value,
                };
                if tx.send(ev).await.is_err() {
                    return;
                }
            }
        }
        if let Err(e) = watch(&defs, &tx).await {
            tracing::warn!(
                "track_file: cannot watch the files ({e}); reading them every second instead"
            );
            poll(&defs, &tx).await;
        }
    }))
}

struct Fd(Inotify);

impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

/// The directory to watch and the name in it: symbolic links resolved as keepalived's
/// realpath() does (the file itself when it exists, else its directory).
fn watch_target(file: &str) -> (PathBuf, OsString) {
    let path = Path::new(file);
    let resolved = std::fs::canonicalize(path).unwrap_or_else(|_| {
        let dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        let dir = std::fs::canonicalize(dir).unwrap_or_else(|_| dir.to_path_buf());
        dir.join(path.file_name().unwrap_or_default())
    });
    let name = resolved.file_name().unwrap_or_default().to_os_string();
    let dir = resolved
        .parent()
        .map_or_else(|| PathBuf::from("/"), Path::to_path_buf);
    (dir, name)
}

async fn watch(defs: &[TrackFileDef], tx: &mpsc::Sender<Event>) -> std::io::Result<()> {
    let ino = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)?;
    let mask = AddWatchFlags::IN_CLOSE_WRITE
        | AddWatchFlags::IN_MOVED_TO
        | AddWatchFlags::IN_MOVED_FROM
        | AddWatchFlags::IN_DELETE;
    let mut watched: Vec<(WatchDescriptor, OsString, usize)> = Vec::new();
    for (i, d) in defs.iter().enumerate() {
        let (dir, name) = watch_target(&d.file);
        match ino.add_watch(&dir, mask) {
            Ok(wd) => watched.push((wd, name, i)),
            Err(e) => tracing::warn!(
                "track_file {}: cannot watch directory {}: {e} (changes to {} are not seen)",
                d.name,
                dir.display(),
                d.file
            ),
        }
    }
    // SAFETY: `Fd` owns the inotify descriptor, so it stays open for as long as the
    // AsyncFd that holds it, and nothing else closes it.
    let fd = unsafe { AsyncFd::register(Fd(ino))? };
    loop {
        let mut guard = fd.readable().await?;
        let events = match guard.get_inner().0.read_events() {
            Ok(ev) => ev,
            Err(nix::errno::Errno::EAGAIN) => {
                guard.clear_ready();
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        for ev in events {
            if ev.mask.contains(AddWatchFlags::IN_ISDIR) {
                continue;
            }
            let Some(name) = &ev.name else { continue };
            for (_, _, i) in watched
                .iter()
                .filter(|(wd, n, _)| *wd == ev.wd && n == name)
            {
                let d = &defs[*i];
                let gone = ev
                    .mask
                    .intersects(AddWatchFlags::IN_MOVED_FROM | AddWatchFlags::IN_DELETE);
                let value = if gone {
                    Some(0)
                } else {
                    read_value(Path::new(&d.file))
                };
                if let Some(value) = value {
                    tracing::debug!("track_file {}: {} reads {value}", d.name, d.file);
                    let ev = Event::TrackFile {
                        name: d.name.clone(),
                        value,
                    };
                    if tx.send(ev).await.is_err() {
                        return Ok(());
                    }
                }
            }
        }
    }
}

async fn poll(defs: &[TrackFileDef], tx: &mpsc::Sender<Event>) {
    let mut last: Vec<Option<i64>> = vec![None; defs.len()];
    loop {
        for (d, l) in defs.iter().zip(&mut last) {
            let v = read_value(Path::new(&d.file));
            if v.is_some() && v != *l {
                *l = v;
                let ev = Event::TrackFile {
                    name: d.name.clone(),
                    value: v.unwrap_or(0),
                };
                if tx.send(ev).await.is_err() {
                    return;
                }
            }
        }
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_from_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let f = dir.path().join("v");
        assert_eq!(read_value(&f), Some(0), "missing reads as 0");
        std::fs::write(&f, "  42\n").expect("write");
        assert_eq!(read_value(&f), Some(42));
        std::fs::write(&f, "99999999999\n").expect("write");
        assert_eq!(read_value(&f), None, "out of range is ignored");
        let (d, n) = watch_target(f.to_str().unwrap_or_default());
        assert_eq!(d, std::fs::canonicalize(dir.path()).expect("canon"));
        assert_eq!(n, "v");
        let (d, n) = watch_target("relative-missing");
        assert_eq!(d, std::fs::canonicalize(".").expect("canon"));
        assert_eq!(n, "relative-missing");
    }
}
