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

/// keepalived's default pid files (RUNSTATEDIR /run).
const DEFAULT_MAIN: &str = crate::cli::DEFAULT_MAIN_PID_FILE;
const DEFAULT_VRRP: &str = "/run/keepalived_vrrp.pid";
const DEFAULT_CHECKERS: &str = "/run/keepalived_checkers.pid";
/// keepalived's pid directory (`use_pid_dir`, `instance`, `net_namespace`).
pub const PID_DIR: &str = "/run/keepalived";

/// The pid files the daemon writes, and the pid directory it makes (if any).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PidPaths {
    pub main: PathBuf,
    pub vrrp: PathBuf,
    pub checkers: PathBuf,
    pub dir: Option<PathBuf>,
}

/// keepalived's choice of pid files: -p/-r/-c win; else with `instance NAME` they are
/// `/run/keepalived/{keepalived,vrrp,checkers}_NAME.pid`; else with `use_pid_dir` (or
/// `net_namespace`, which implies it) `/run/keepalived/{keepalived,vrrp,checkers}.pid`;
/// else `/run/keepalived{,_vrrp,_checkers}.pid`. The directory is made whenever
/// `use_pid_dir`, `instance` or `net_namespace` is set.
pub fn pid_paths(opts: &crate::cli::Options, g: &crate::config::GlobalDefs) -> PidPaths {
    let in_dir = g.use_pid_dir || g.instance.is_some() || g.net_namespace.is_some();
    let dir = Path::new(PID_DIR);
    let name = |base: &str, default: &str| -> PathBuf {
        match (&g.instance, in_dir) {
            (Some(i), _) => dir.join(format!("{base}_{i}.pid")),
            (None, true) => dir.join(format!("{base}.pid")),
            (None, false) => PathBuf::from(default),
        }
    };
    PidPaths {
        main: opts
            .pid_file
            .clone()
            .unwrap_or_else(|| name("keepalived", DEFAULT_MAIN)),
        vrrp: opts
            .vrrp_pid_file
            .clone()
            .unwrap_or_else(|| name("vrrp", DEFAULT_VRRP)),
        checkers: opts
            .checkers_pid_file
            .clone()
            .unwrap_or_else(|| name("checkers", DEFAULT_CHECKERS)),
        dir: in_dir.then(|| dir.to_path_buf()),
    }
}

/// `reload_file`'s path: the one given, else keepalived's default beside its pid files
/// (`/run/keepalived/keepalived_NAME.reload` with `instance`,
/// `/run/keepalived/keepalived.reload` with `use_pid_dir` or `net_namespace`, else
/// `/run/keepalived.reload`).
pub fn reload_file_path(g: &crate::config::GlobalDefs) -> Option<PathBuf> {
    use crate::config::model::ReloadFile;
    match g.reload_file.as_ref()? {
        ReloadFile::Path(p) => Some(p.clone()),
        ReloadFile::Default => Some(match &g.instance {
            Some(i) => Path::new(PID_DIR).join(format!("keepalived_{i}.reload")),
            None if g.use_pid_dir || g.net_namespace.is_some() => {
                Path::new(PID_DIR).join("keepalived.reload")
            }
            None => PathBuf::from("/run/keepalived.reload"),
        }),
    }
}

/// Makes the pid directory (mode 0755 whatever the umask); returns it if this call made
/// it or it was there (a failure is logged: the pid files then say why they fail).
pub fn make_pid_dir(dir: &Path) -> Option<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    match std::fs::DirBuilder::new().mode(0o755).create(dir) {
        Ok(()) => {
            // The umask may have taken bits away.
            use std::os::unix::fs::PermissionsExt;
            let _ = std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755));
            Some(dir.to_path_buf())
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Some(dir.to_path_buf()),
        Err(e) => {
            tracing::warn!("cannot make the pid directory {}: {e}", dir.display());
            None
        }
    }
}

/// Removes the pid directory at exit unless something else is still in it.
pub fn remove_pid_dir(dir: &Path) {
    if let Err(e) = std::fs::remove_dir(dir) {
        let busy = matches!(
            e.raw_os_error(),
            Some(libc::ENOTEMPTY) | Some(libc::EBUSY) | Some(libc::EEXIST)
        );
        if !busy {
            tracing::info!("cannot remove the pid directory {}: {e}", dir.display());
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

    fn paths(args: &[&str], conf: &str) -> PidPaths {
        use clap::Parser;
        let mut argv = vec!["lvsd"];
        argv.extend_from_slice(args);
        let opts = crate::cli::Options::try_parse_from(argv).expect("options");
        let c = crate::config::parse_str(conf, Path::new("/k.conf"), "t")
            .expect("config")
            .config;
        pid_paths(&opts, &c.global)
    }

    #[test]
    fn pid_files_where_keepalived_puts_them() {
        let p = paths(&[], "global_defs { router_id a }\n");
        assert_eq!(p.main, PathBuf::from("/run/keepalived.pid"));
        assert_eq!(p.vrrp, PathBuf::from("/run/keepalived_vrrp.pid"));
        assert_eq!(p.checkers, PathBuf::from("/run/keepalived_checkers.pid"));
        assert_eq!(p.dir, None);
        let p = paths(&[], "use_pid_dir\n");
        assert_eq!(p.main, PathBuf::from("/run/keepalived/keepalived.pid"));
        assert_eq!(p.vrrp, PathBuf::from("/run/keepalived/vrrp.pid"));
        assert_eq!(p.checkers, PathBuf::from("/run/keepalived/checkers.pid"));
        assert_eq!(p.dir, Some(PathBuf::from("/run/keepalived")));
        let p = paths(&["-r", "/x/v.pid"], "instance web\n");
        assert_eq!(p.main, PathBuf::from("/run/keepalived/keepalived_web.pid"));
        assert_eq!(p.vrrp, PathBuf::from("/x/v.pid"));
        assert_eq!(
            p.checkers,
            PathBuf::from("/run/keepalived/checkers_web.pid")
        );
        let p = paths(&["-p", "/x/m.pid"], "net_namespace blue\n");
        assert_eq!(p.main, PathBuf::from("/x/m.pid"));
        assert_eq!(p.vrrp, PathBuf::from("/run/keepalived/vrrp.pid"));
    }

    #[test]
    fn reload_file_where_keepalived_puts_it() {
        let g = |conf: &str| {
            crate::config::parse_str(conf, Path::new("/k.conf"), "t")
                .expect("config")
                .config
                .global
        };
        assert_eq!(reload_file_path(&g("global_defs { router_id a }\n")), None);
        assert_eq!(
            reload_file_path(&g("global_defs { reload_file }\n")),
            Some(PathBuf::from("/run/keepalived.reload"))
        );
        assert_eq!(
            reload_file_path(&g("instance web\nglobal_defs { reload_file }\n")),
            Some(PathBuf::from("/run/keepalived/keepalived_web.reload"))
        );
        assert_eq!(
            reload_file_path(&g("use_pid_dir\nglobal_defs { reload_file }\n")),
            Some(PathBuf::from("/run/keepalived/keepalived.reload"))
        );
        assert_eq!(
            reload_file_path(&g("global_defs { reload_file /x/r }\n")),
            Some(PathBuf::from("/x/r"))
        );
    }

    #[test]
    fn the_pid_directory_is_made_0755_and_removed_only_when_empty() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path().join("keepalived");
        let made = make_pid_dir(&d);
        assert_eq!(made.as_deref(), Some(d.as_path()));
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&d).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o755);
        std::fs::write(d.join("other.pid"), "1\n").unwrap();
        remove_pid_dir(&d);
        assert!(d.exists(), "a directory with files in it was removed");
        std::fs::remove_file(d.join("other.pid")).unwrap();
        remove_pid_dir(&d);
        assert!(!d.exists());
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
