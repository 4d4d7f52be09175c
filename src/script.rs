//! Running notify, check and misc scripts: split without a shell, as a chosen user,
//! bounded in time, and refused when `enable_script_security` finds them unsafe.
//!
//! A script never blocks its caller's protocol work: `run` is async and bounded by a
//! timeout (the child is killed when it runs over), and `spawn_detached` fires and forgets.

use std::os::unix::fs::MetadataExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use thiserror::Error;

/// A user (and optional group) that scripts run as (`script_user`, a notify's or a
/// checker's `user`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
pub struct ScriptUser {
    pub user: String,
    pub group: Option<String>,
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum ScriptError {
    #[error("cannot split command line {0:?}: unbalanced quotes")]
    BadCommandLine(String),
    #[error("empty command line")]
    Empty,
    #[error("{0}: not found in PATH")]
    NotFound(String),
    #[error("{0}: not found or not executable")]
    NotExecutable(PathBuf),
    #[error("unknown user {0:?}")]
    UnknownUser(String),
    #[error("unknown group {0:?}")]
    UnknownGroup(String),
    #[error("{path}: refused by enable_script_security: {why}")]
    Insecure { path: PathBuf, why: String },
    #[error("cannot start {0}: {1}")]
    Spawn(String, String),
}

/// How a finished script ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Exited(i32),
    Signalled(i32),
    /// Ran past its timeout and was killed.
    TimedOut,
}

impl Outcome {
    pub fn success(self) -> bool {
        self == Outcome::Exited(0)
    }
}

/// What to run and how.
#[derive(Debug, Clone)]
pub struct Script {
    /// The command line as written in the config; split as keepalived does (quotes group
    /// words, no shell expansion). A shell is used only when the line itself runs one.
    pub command: String,
    /// Run as this user (and group); None: as lvsd itself.
    pub user: Option<ScriptUser>,
    pub timeout: Duration,
    /// Refuse scripts writable by non-root users (`enable_script_security`).
    pub secure: bool,
}

/// Splits a command line into words the way keepalived does: whitespace separates,
/// single and double quotes group (and go), a backslash escapes (C escapes such as
/// `\t`, `\x41`, `\101`, `\cA`; any other character stands for itself), no shell
/// expansion.
pub fn split_command(line: &str) -> Result<Vec<String>, ScriptError> {
    let words = split_words(line).ok_or_else(|| ScriptError::BadCommandLine(line.to_string()))?;
    if words.is_empty() {
        return Err(ScriptError::Empty);
    }
    Ok(words)
}

/// keepalived's word splitting of a script line (`alloc_strvec_quoted_escaped`): None
/// when a quote is not closed or the line ends in a lone backslash.
pub fn split_words(line: &str) -> Option<Vec<String>> {
    const SPACE: &[char] = &[' ', '\t', '\n', '\r', '\x0b', '\x0c'];
    let mut words = Vec::new();
    let mut chars = line.chars().peekable();
    loop {
        while chars.next_if(|c| SPACE.contains(c)).is_some() {}
        if chars.peek().is_none() {
            return Some(words);
        }
        let mut word = String::new();
        let mut quote: Option<char> = None;
        while let Some(c) = chars.next() {
            match c {
                '\\' => word.push(unescape(&mut chars)?),
                '\'' | '"' if quote == Some(c) => quote = None,
                '\'' | '"' if quote.is_none() => quote = Some(c),
                c if quote.is_none() && SPACE.contains(&c) => break,
                c => word.push(c),
            }
        }
        if quote.is_some() {
            return None;
        }
        words.push(word);
    }
}

/// The character a backslash stands for, its escape read from `chars` (a byte value
/// above 0x7f stands for that Latin-1 character).
fn unescape(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) -> Option<char> {
    // `v` followed by up to `most` more digits of `radix`, as one byte.
    fn number(
        chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
        mut v: u32,
        radix: u32,
        most: usize,
    ) -> char {
        for _ in 0..most {
            let Some(d) = chars.peek().and_then(|d| d.to_digit(radix)) else {
                break;
            };
            v = v.wrapping_mul(radix).wrapping_add(d);
            chars.next();
        }
        char::from((v & 0xff) as u8)
    }
    let c = chars.next()?;
    Some(match c {
        'x' if chars.peek().is_some_and(|d| d.is_ascii_hexdigit()) => {
            number(chars, 0, 16, usize::MAX)
        }
        'c' if chars.peek().is_some() => char::from((chars.next()? as u32 & 0x1f) as u8),
        '0'..='7' => number(chars, c.to_digit(8).unwrap_or(0), 8, 2),
        'a' => '\x07',
        'b' => '\x08',
        'E' => '\x1b',
        'f' => '\x0c',
        'n' => '\n',
        'r' => '\r',
        't' => '\t',
        'v' => '\x0b',
        other => other,
    })
}

/// Finds `program` as execvp would: a path with a slash as it is, else along PATH.
pub fn resolve_program(program: &str) -> Result<PathBuf, ScriptError> {
    if program.contains('/') {
        return Ok(PathBuf::from(program));
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
        .ok_or_else(|| ScriptError::NotFound(program.to_string()))
}

/// Whether a command line only tests that a file opens (`</dev/tcp/127.0.0.1/80`: its
/// first word is `<`, maybe blanks, then `/`). keepalived runs such a line with
/// `system()`, so `/bin/sh` reads it (bash opens the TCP connection; dash fails to open
/// the file), and checks nothing about it when it loads the file.
pub fn is_file_test(words: &[String]) -> bool {
    words.first().is_some_and(|w| {
        w.strip_prefix('<')
            .is_some_and(|rest| rest.trim_start_matches([' ', '\t']).starts_with('/'))
    })
}

/// The words as keepalived's `cmd_str` writes them: each in single quotes, but a first
/// word that starts with `<` or `>` bare.
fn cmd_str(words: &[String]) -> String {
    words
        .iter()
        .enumerate()
        .map(|(i, w)| {
            if i == 0 && (w.starts_with('<') || w.starts_with('>')) {
                w.clone()
            } else {
                format!("'{w}'")
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// A command line as keepalived's dump files show it: each word in single quotes, the
/// program resolved to its real path (`'/usr/bin/true' 'start'` for `/bin/true start`).
/// A line that does not split is shown as written.
pub fn shown(command: &str) -> String {
    let Ok(mut words) = split_command(command) else {
        return command.to_string();
    };
    if is_file_test(&words) {
        return cmd_str(&words);
    }
    if let Ok((found, real)) = resolve_program(&words[0]).and_then(|p| {
        let real =
            std::fs::canonicalize(&p).map_err(|_| ScriptError::NotFound(words[0].clone()))?;
        Ok((p, real))
    }) {
        // As keepalived's check_script_secure: when the link's name is not the file's
        // (`/usr/bin/pkill` -> `pgrep`), the name is kept in the real directory if it
        // names the same file there (some programs act on the name they are called by);
        // otherwise the real path (`pidof` -> `/usr/sbin/killall5`).
        let same_file = |a: &std::path::Path, b: &std::path::Path| {
            use std::os::unix::fs::MetadataExt;
            match (std::fs::metadata(a), std::fs::metadata(b)) {
                (Ok(x), Ok(y)) => x.dev() == y.dev() && x.ino() == y.ino(),
                _ => false,
            }
        };
        let shown = match (found.file_name(), real.parent()) {
            (Some(name), Some(dir))
                if real.file_name() != Some(name) && same_file(&dir.join(name), &real) =>
            {
                dir.join(name)
            }
            _ => real,
        };
        words[0] = shown.display().to_string();
    }
    cmd_str(&words)
}

/// The shell that runs a file test ([`is_file_test`]), as `system()` does.
const SYSTEM_SHELL: &str = "/bin/sh";

/// Whether a command line can be run at all, as checked when a configuration is loaded:
/// it splits, its program is found and executable, and (`secure`) it passes
/// [`check_secure`]. Answers the program's path.
pub fn check_runnable(command: &str, secure: bool) -> Result<PathBuf, ScriptError> {
    let words = split_command(command)?;
    if is_file_test(&words) {
        return Ok(PathBuf::from(SYSTEM_SHELL));
    }
    check_program(&words[0], secure)
}

/// [`check_runnable`] of a command line's program (its first word).
pub fn check_program(program: &str, secure: bool) -> Result<PathBuf, ScriptError> {
    let path = resolve_program(program)?;
    let runnable = std::fs::metadata(&path)
        .map(|m| {
            use std::os::unix::fs::PermissionsExt;
            m.is_file() && m.permissions().mode() & 0o111 != 0
        })
        .unwrap_or(false);
    if !runnable {
        return Err(ScriptError::NotExecutable(path));
    }
    if secure {
        check_secure(&path)?;
    }
    Ok(path)
}

/// keepalived's rule under `enable_script_security`: the file, and every directory above
/// it, must be owned by root and not writable by group or others (a sticky directory may
/// be world-writable only if the file is root's).
pub fn check_secure(path: &Path) -> Result<(), ScriptError> {
    let insecure = |why: String| ScriptError::Insecure {
        path: path.to_path_buf(),
        why,
    };
    let real = std::fs::canonicalize(path).map_err(|e| insecure(format!("cannot resolve: {e}")))?;
    let mut current = Some(real.as_path());
    let mut is_file = true;
    while let Some(p) = current {
        let meta = std::fs::metadata(p).map_err(|e| insecure(format!("{}: {e}", p.display())))?;
        let mode = meta.mode();
        let sticky = mode & 0o1000 != 0;
        if meta.uid() != 0 {
            return Err(insecure(format!(
                "{} is owned by uid {}",
                p.display(),
                meta.uid()
            )));
        }
        if mode & 0o022 != 0 && (is_file || !sticky) {
            return Err(insecure(format!(
                "{} is writable by group or others (mode {:o})",
                p.display(),
                mode & 0o7777
            )));
        }
        is_file = false;
        current = p.parent();
    }
    Ok(())
}

/// Looks up uid and gid for a script user (the group defaults to the user's own).
pub fn resolve_user(user: &ScriptUser) -> Result<(u32, u32), ScriptError> {
    let (uid, user_gid) =
        crate::nss::user(&user.user).ok_or_else(|| ScriptError::UnknownUser(user.user.clone()))?;
    let gid = match &user.group {
        None => user_gid,
        Some(g) => crate::nss::group(g).ok_or_else(|| ScriptError::UnknownGroup(g.clone()))?,
    };
    Ok((uid, gid))
}

/// Builds the command: split, resolved, checked, with its user set. Extra arguments (the
/// notify arguments) are appended after the configured ones.
pub fn prepare(
    script: &Script,
    extra_args: &[String],
) -> Result<tokio::process::Command, ScriptError> {
    let mut words = split_command(&script.command)?;
    let mut cmd = if is_file_test(&words) {
        words.extend(extra_args.iter().cloned());
        let mut cmd = tokio::process::Command::new(SYSTEM_SHELL);
        cmd.arg("-c").arg(cmd_str(&words));
        cmd
    } else {
        let program = resolve_program(&words[0])?;
        if script.secure {
            check_secure(&program)?;
        }
        let mut cmd = tokio::process::Command::new(&program);
        cmd.args(&words[1..]).args(extra_args);
        cmd
    };
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    if let Some(user) = &script.user {
        let (uid, gid) = resolve_user(user)?;
        cmd.uid(uid).gid(gid);
    }
    close_inherited_fds(&mut cmd);
    Ok(cmd)
}

/// Highest descriptor the fallback of [`close_inherited_fds`] marks.
const FALLBACK_FD_LIMIT: i32 = 65536;

/// A script gets standard input, output and error only: every other descriptor lvsd holds
/// (netlink and VRRP sockets, the control socket, anything a library or lvsd's parent left
/// without close-on-exec) is marked close-on-exec in the child before it runs the script.
/// Marking instead of closing keeps the standard library's own exec-error pipe working.
fn close_inherited_fds(cmd: &mut tokio::process::Command) {
    // Read before the fork: the child may only make async-signal-safe calls.
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit writes the struct it is given.
    let limit = if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) } == 0 {
        rl.rlim_cur.min(FALLBACK_FD_LIMIT as libc::rlim_t) as i32
    } else {
        FALLBACK_FD_LIMIT
    };
    // SAFETY: the closure only makes raw syscalls (close_range, fcntl), which are
    // async-signal-safe, and touches no memory shared with the parent.
    unsafe {
        cmd.pre_exec(move || {
            let marked = libc::syscall(
                libc::SYS_close_range,
                3u32,
                u32::MAX,
                libc::CLOSE_RANGE_CLOEXEC,
            );
            if marked != 0 {
                // Kernels before 5.11: mark them one by one.
                for fd in 3..limit {
                    let flags = libc::fcntl(fd, libc::F_GETFD);
                    if flags >= 0 && flags & libc::FD_CLOEXEC == 0 {
                        libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC);
                    }
                }
            }
            Ok(())
        });
    }
}

/// Runs a script to its end (or its timeout, when it is killed).
pub async fn run(script: &Script, extra_args: &[String]) -> Result<Outcome, ScriptError> {
    let mut cmd = prepare(script, extra_args)?;
    let mut child = cmd
        .spawn()
        .map_err(|e| ScriptError::Spawn(script.command.clone(), e.to_string()))?;
    match tokio::time::timeout(script.timeout, child.wait()).await {
        Ok(Ok(status)) => Ok(match (status.code(), status.signal()) {
            (Some(code), _) => Outcome::Exited(code),
            (None, Some(sig)) => Outcome::Signalled(sig),
            (None, None) => Outcome::Signalled(0),
        }),
        Ok(Err(e)) => Err(ScriptError::Spawn(script.command.clone(), e.to_string())),
        Err(_) => {
            let _ = child.kill().await;
            Ok(Outcome::TimedOut)
        }
    }
}

/// Starts a script and forgets it; failures and timeouts are logged. Needs a tokio runtime.
pub fn spawn_detached(script: Script, extra_args: Vec<String>, what: String) {
    tokio::spawn(async move {
        match run(&script, &extra_args).await {
            Ok(Outcome::Exited(0)) => tracing::debug!("{what}: {} exited 0", script.command),
            Ok(outcome) => tracing::warn!("{what}: {} ended with {outcome:?}", script.command),
            Err(e) => tracing::error!("{what}: {e}"),
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn splits_like_keepalived() {
        assert_eq!(
            split_command(r#"/bin/echo "a b" 'c d' e\ f"#).unwrap(),
            vec!["/bin/echo", "a b", "c d", "e f"]
        );
        assert_eq!(split_command("  "), Err(ScriptError::Empty));
        assert!(matches!(
            split_command("x \"open"),
            Err(ScriptError::BadCommandLine(_))
        ));
        assert!(matches!(
            split_command("x y\\"),
            Err(ScriptError::BadCommandLine(_))
        ));
        // keepalived's escapes, inside and outside quotes; quotes glue to their word.
        assert_eq!(
            split_command(r#"a\tb "c\x41\101" \cA d'e f'g 'h\'' "i'j""#).unwrap(),
            vec!["a\tb", "cAA", "\u{1}", "de fg", "h'", "i'j"]
        );
    }

    fn script(cmd: &str, timeout_ms: u64) -> Script {
        Script {
            command: cmd.into(),
            user: None,
            timeout: Duration::from_millis(timeout_ms),
            secure: false,
        }
    }

    #[tokio::test]
    async fn exit_codes_args_and_timeout() {
        assert_eq!(
            run(&script("true", 5000), &[]).await,
            Ok(Outcome::Exited(0))
        );
        assert_eq!(
            run(&script("sh -c 'exit 7'", 5000), &[]).await,
            Ok(Outcome::Exited(7))
        );
        // Extra arguments follow the configured ones: $0=x, $1=a, $2=b.
        let r = run(
            &script(r#"sh -c "test \"$1-$2\" = a-b" x"#, 5000),
            &["a".into(), "b".into()],
        )
        .await;
        assert_eq!(r, Ok(Outcome::Exited(0)));
        let start = std::time::Instant::now();
        assert_eq!(
            run(&script("sleep 5", 200), &[]).await,
            Ok(Outcome::TimedOut)
        );
        assert!(start.elapsed() < Duration::from_secs(3));
        assert!(matches!(
            run(&script("no-such-program-lvsd", 1000), &[]).await,
            Err(ScriptError::NotFound(_))
        ));
    }

    /// The dumps show a program's real path, but keep the name it was called by when that
    /// name is the same file in the real directory too (keepalived keeps `pkill` for
    /// `/usr/bin/pkill -> pgrep`, and shows `killall5` for `pidof`).
    #[test]
    fn a_command_is_shown_with_its_directory_resolved_and_its_name_kept() {
        let dir = tempfile::tempdir().unwrap();
        let real_dir = dir.path().join("real");
        std::fs::create_dir(&real_dir).unwrap();
        std::fs::write(real_dir.join("pgrep"), "").unwrap();
        let links = dir.path().join("links");
        std::fs::create_dir(&links).unwrap();
        std::os::unix::fs::symlink(real_dir.join("pgrep"), links.join("pkill")).unwrap();
        std::os::unix::fs::symlink(real_dir.join("pgrep"), links.join("pgrep")).unwrap();
        // pkill is also a link in the real directory; pidof is not.
        std::os::unix::fs::symlink("pgrep", real_dir.join("pkill")).unwrap();
        std::os::unix::fs::symlink(real_dir.join("pgrep"), links.join("pidof")).unwrap();
        let real = std::fs::canonicalize(&real_dir).unwrap();
        let cmd = |name: &str| format!("{}/{name} -0 x", links.display());
        assert_eq!(
            shown(&cmd("pkill")),
            format!("'{}/pkill' '-0' 'x'", real.display())
        );
        assert_eq!(
            shown(&cmd("pgrep")),
            format!("'{}/pgrep' '-0' 'x'", real.display())
        );
        assert_eq!(
            shown(&cmd("pidof")),
            format!("'{}/pgrep' '-0' 'x'", real.display())
        );
    }

    /// keepalived's file test (`script "</dev/tcp/127.0.0.1/80"`): run by /bin/sh as
    /// system() runs it, checked for nothing at load, shown bare in the dumps.
    #[tokio::test]
    async fn a_file_test_runs_in_the_shell() {
        assert!(check_runnable("</dev/null", true).is_ok());
        // (a blank splits the line: `<` alone is a program, as in keepalived)
        assert!(check_runnable("< /nonexistent/x", false).is_err());
        assert!(check_runnable("\"< /nonexistent/x\"", false).is_ok());
        assert!(
            check_runnable("<nofile", false).is_err(),
            "not a path: a program"
        );
        assert_eq!(shown("</dev/tcp/127.0.0.1/80"), "</dev/tcp/127.0.0.1/80");
        assert_eq!(
            run(&script("</dev/null", 5000), &[]).await.unwrap(),
            Outcome::Exited(0)
        );
        let missing = run(&script("</nonexistent/lvsd-file-test", 5000), &[])
            .await
            .unwrap();
        assert!(!missing.success(), "{missing:?}");
    }

    #[tokio::test]
    async fn no_shell_expansion() {
        let dir = tempfile::tempdir().unwrap();
        let marker = dir.path().join("m");
        // Without a shell, `;` and `$HOME` are plain arguments to echo, not a second command.
        let line = format!("echo $HOME ; touch {}", marker.display());
        assert_eq!(run(&script(&line, 5000), &[]).await, Ok(Outcome::Exited(0)));
        assert!(!marker.exists());
    }

    #[test]
    fn security_refuses_writable_scripts() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let f = dir.path().join("s.sh");
        std::fs::write(&f, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)).unwrap();
        // /tmp is world-writable but sticky: allowed above a root-owned file.
        if nix::unistd::geteuid().is_root() {
            assert_eq!(check_secure(&f), Ok(()));
        }
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(matches!(
            check_secure(&f),
            Err(ScriptError::Insecure { .. })
        ));
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        assert!(matches!(
            check_secure(&f),
            Err(ScriptError::Insecure { .. })
        ));
    }

    /// A script sees only its standard descriptors: an inheritable descriptor of lvsd's
    /// (no close-on-exec, as a library or a parent may leave one) is not passed on.
    #[tokio::test]
    async fn scripts_inherit_only_fds_0_1_2() {
        use std::os::fd::AsRawFd;
        let dir = tempfile::tempdir().unwrap();
        let secret = dir.path().join("lvsd-private");
        std::fs::write(&secret, "x").unwrap();
        let leak = nix::fcntl::open(
            &secret,
            nix::fcntl::OFlag::O_RDONLY,
            nix::sys::stat::Mode::empty(),
        )
        .unwrap();
        let flags = nix::fcntl::fcntl(&leak, nix::fcntl::FcntlArg::F_GETFD).unwrap();
        assert_eq!(
            flags & libc::FD_CLOEXEC,
            0,
            "the test fd must be inheritable"
        );
        let out = dir.path().join("fds");
        // Each descriptor of the shell with what it points to (readlink runs as a child, so
        // nothing of its own shows); the glob's directory descriptor is closed again by
        // the time readlink looks, so it has no target.
        let line = format!(
            r#"sh -c 'exec > {}; for f in /proc/$$/fd/*; do printf "%s " ${{f##*/}}; readlink $f || echo; done'"#,
            out.display()
        );
        assert_eq!(run(&script(&line, 5000), &[]).await, Ok(Outcome::Exited(0)));
        let listing = std::fs::read_to_string(&out).unwrap();
        let fds: Vec<&str> = listing
            .lines()
            .filter_map(|l| l.split_once(' '))
            .filter(|(_, target)| !target.trim().is_empty())
            .map(|(fd, _)| fd)
            .collect();
        assert_eq!(fds, ["0", "1", "2"], "{listing}");
        assert!(!listing.contains("lvsd-private"), "{listing}");
        assert!(leak.as_raw_fd() > 2);
    }

    /// Under `enable_script_security` a script others may write is not run at all.
    #[tokio::test]
    async fn a_writable_script_is_refused_when_security_is_on() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        let marker = dir.path().join("ran");
        let f = dir.path().join("s.sh");
        std::fs::write(&f, format!("#!/bin/sh\ntouch {}\n", marker.display())).unwrap();
        std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o757)).unwrap();
        let mut s = script(&f.display().to_string(), 5000);
        s.secure = true;
        assert!(matches!(
            run(&s, &[]).await,
            Err(ScriptError::Insecure { .. })
        ));
        assert!(!marker.exists(), "the refused script ran");
        // The same script without the check runs (so the refusal above is the check's).
        s.secure = false;
        assert_eq!(run(&s, &[]).await, Ok(Outcome::Exited(0)));
        assert!(marker.exists());
    }

    #[tokio::test]
    async fn runs_as_script_user() {
        if !nix::unistd::geteuid().is_root() {
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let out = dir.path().join("id");
        let mut s = script(&format!("sh -c 'id -u > {}'", out.display()), 5000);
        s.user = Some(ScriptUser {
            user: "nobody".into(),
            group: None,
        });
        assert_eq!(run(&s, &[]).await, Ok(Outcome::Exited(0)));
        let uid = std::fs::read_to_string(&out).unwrap();
        assert_eq!(uid.trim(), "65534");
    }
}
