//! Pid files: refused when a live process holds one, removed on exit (if still ours).

use std::io;
use std::path::{Path, PathBuf};
use thiserror::Error;

#[derive(Debug, Error)]
pub enum PidFileError {
    #[error("{path}: process {pid} is running (remove the pid file if it is not lvsd)")]
    Held { path: PathBuf, pid: i32 },
    #[error("cannot write the pid file {path}: {err}")]
    Io { path: PathBuf, err: io::Error },
    #[error("cannot make the directory {dir} for the pid file: {err}")]
    Dir { dir: PathBuf, err: io::Error },
}

/// A pid file we wrote; removed when dropped.
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
    pid: i32,
}

/// The live process a pid file names, if any (not counting ourselves).
pub fn holder(path: &Path) -> Option<i32> {
    let text = std::fs::read_to_string(path).ok()?;
    let pid: i32 = text.trim().parse().ok()?;
    if pid <= 0 || pid == std::process::id() as i32 {
        return None;
    }
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), None) {
        Ok(()) | Err(nix::errno::Errno::EPERM) => Some(pid),
        Err(_) => None,
    }
}

impl PidFile {
    /// Writes our pid to `path` unless a live process holds it.
    pub fn create(path: &Path) -> Result<PidFile, PidFileError> {
        if let Some(pid) = holder(path) {
            return Err(PidFileError::Held {
                path: path.to_path_buf(),
                pid,
            });
        }
        let pid = std::process::id() as i32;
        let io_err = |err| PidFileError::Io {
            path: path.to_path_buf(),
            err,
        };
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                std::fs::create_dir_all(dir).map_err(|err| PidFileError::Dir {
                    dir: dir.to_path_buf(),
                    err,
                })?;
            }
        }
        std::fs::write(path, format!("{pid}\n")).map_err(io_err)?;
        Ok(PidFile {
            path: path.to_path_buf(),
            pid,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let ours = std::fs::read_to_string(&self.path)
            .ok()
            .and_then(|t| t.trim().parse::<i32>().ok())
            == Some(self.pid);
        if ours {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/lvsd.pid");
        let f = PidFile::create(&p).unwrap();
        assert_eq!(
            std::fs::read_to_string(&p).unwrap(),
            format!("{}\n", std::process::id())
        );
        drop(f);
        assert!(!p.exists());
    }

    #[test]
    fn refused_when_a_live_process_holds_it() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("lvsd.pid");
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .spawn()
            .unwrap();
        std::fs::write(&p, format!("{}\n", child.id())).unwrap();
        let r = PidFile::create(&p);
        child.kill().unwrap();
        child.wait().unwrap();
        assert!(matches!(r, Err(PidFileError::Held { .. })), "{r:?}");
        // The holder is gone now: the stale file is taken over.
        let f = PidFile::create(&p).unwrap();
        drop(f);
        assert!(!p.exists());
    }

    #[test]
    fn a_replaced_file_is_not_removed() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("lvsd.pid");
        let f = PidFile::create(&p).unwrap();
        std::fs::write(&p, "1\n").unwrap();
        drop(f);
        assert!(p.exists());
    }
}
