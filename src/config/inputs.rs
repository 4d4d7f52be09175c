//! What a load consults outside its text, recorded as it is consulted, so that a reload
//! can tell without parsing whether a load now would give exactly what the last one gave
//! (a no-op SIGHUP then keeps the running configuration: see `crate::daemon::config_load`).
//!
//! A load is a deterministic function of its options and of the answers to the questions
//! it asks the system. Every question is recorded here with its answer, in the order
//! asked; [`Inputs::first_change`] asks them all again. When every answer is the same, a
//! load now would ask the same questions in the same order (each next question depends
//! only on the options and the answers before it) and build the same configuration with
//! the same diagnostics. The questions, by who asks them:
//! - the options, compared by the caller ([`Fingerprint`]): the main file's path, the
//!   configuration id (`-i`, else the hostname up to its first dot: `@ID` lines and
//!   `${_INSTANCE}`), strict mode (`--strict`, or the running file's
//!   `reload_check_config`);
//! - the preprocessor: the bytes of every file read (the main file and each include, in
//!   the order read), each `include` pattern's matches (glob, regular files only, in
//!   order: a file added to or removed from a directory changes them), each path made
//!   canonical (include cycles, `${_PWD}`). `${_RANDOM}` gives a new value on each load:
//!   a file that uses it is never taken as unchanged;
//! - the builder: SSL `ca`, `certificate` and `key` files opened to see that they can be
//!   read; iproute2's name files (`rt_tables`, `rt_protos`, `rt_scopes`, `rt_dsfield`,
//!   `rt_realms`, `group`, in /etc/iproute2, /usr/share/iproute2 and /usr/lib/iproute2, with their
//!   `.d` directories), all of them, once the file has a routes or rules block;
//! - the script vetting: each script's program checked as `check_runnable` checks it
//!   (found along PATH, its mode, and under `enable_script_security` the owner and mode of
//!   it and each directory above it), each script user and group looked up (NSS, with
//!   keepalived's default `keepalived_script`);
//! - the daemon's vetting of tracked files: whether each file an instance or sync group
//!   tracks can be watched (it exists, or its directory does).
//!
//! Nothing else: no other environment variable, no interface, no clock, no random number
//! other than `${_RANDOM}`'s. A question asked twice in one load with two different
//! answers (a file written while it was read) makes the load unrepeatable too.

use crate::script::ScriptUser;
use std::collections::HashMap;
use std::io::Read as _;
use std::path::{Path, PathBuf};

/// One question a load asked.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Query {
    /// A file's bytes.
    Read(PathBuf),
    /// An include pattern's matches.
    Glob(String),
    /// A path made canonical.
    Canonical(PathBuf),
    /// Whether a file opens for reading.
    Open(PathBuf),
    /// iproute2's name files, all of them.
    Iproute2Names,
    /// Whether a script's program can be run (`secure`: under enable_script_security).
    /// Asked by program, not by command line: a hundred thousand MISC_CHECKs that differ
    /// only in their arguments are one question.
    Program { program: String, secure: bool },
    /// A script user (and group) looked up.
    User(ScriptUser),
    /// Whether a tracked file can be watched ([`track_file_watchable`]).
    TrackFile(PathBuf),
}

/// Every question a load asked and its answer, in order (see the module's comment).
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    asked: Vec<(Query, String)>,
    /// Where each question is in `asked` (each is kept once).
    index: HashMap<Query, usize>,
    /// Why a load now could give something else whatever the answers, if it could.
    unrepeatable: Option<String>,
}

impl Inputs {
    /// Adds the questions `later` asked after these.
    pub fn extend(&mut self, later: Inputs) {
        for (q, a) in later.asked {
            self.note(q, a);
        }
        if self.unrepeatable.is_none() {
            self.unrepeatable = later.unrepeatable;
        }
    }

    fn note(&mut self, q: Query, answer: String) {
        match self.index.get(&q) {
            Some(&i) => {
                if self.asked[i].1 != answer && self.unrepeatable.is_none() {
                    self.unrepeatable = Some(format!(
                        "{} changed while the configuration was read",
                        describe(&q)
                    ));
                }
            }
            None => {
                self.index.insert(q.clone(), self.asked.len());
                self.asked.push((q, answer));
            }
        }
    }

    /// A load that used something that differs on every load (`${_RANDOM}`).
    pub fn unrepeatable(&mut self, why: &str) {
        if self.unrepeatable.is_none() {
            self.unrepeatable = Some(why.to_string());
        }
    }

    /// A configuration file's bytes.
    pub fn read(&mut self, path: &Path) -> std::io::Result<Vec<u8>> {
        let (res, answer) = read_whole(path);
        self.note(Query::Read(path.to_path_buf()), answer);
        res
    }

    /// Text given instead of read from `path` (a parse of text), noted as its read.
    pub fn text_given(&mut self, path: &Path, text: &str) {
        self.note(
            Query::Read(path.to_path_buf()),
            digest_answer(text.as_bytes()),
        );
    }

    /// A file already read (by a reload's check), noted as if read now.
    pub fn read_given(&mut self, f: FileRead) -> Vec<u8> {
        self.note(Query::Read(f.path), f.answer);
        f.bytes
    }

    /// One SHA-256 (hex) for every file the load read: over `sha256sum`'s listing of
    /// them (each file's SHA-256, two spaces, its path, a newline), in the order read. A
    /// file that could not be read is listed with why.
    pub fn files_sha256(&self) -> String {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        for (q, answer) in &self.asked {
            if let Query::Read(p) = q {
                ctx.update(answer.as_bytes());
                ctx.update(b"  ");
                ctx.update(p.as_os_str().as_encoded_bytes());
                ctx.update(b"\n");
            }
        }
        hex::encode(ctx.finish())
    }

    /// The regular files an include pattern matches, in glob's order; Err: the pattern's
    /// fault.
    pub fn glob(&mut self, pattern: &str) -> Result<Vec<PathBuf>, String> {
        let res = glob_files(pattern);
        self.note(Query::Glob(pattern.to_string()), glob_answer(&res));
        res
    }

    /// `std::fs::canonicalize`.
    pub fn canonical(&mut self, path: &Path) -> std::io::Result<PathBuf> {
        let res = std::fs::canonicalize(path);
        self.note(Query::Canonical(path.to_path_buf()), canonical_answer(&res));
        res
    }

    /// Whether the file at `path` opens for reading.
    pub fn open(&mut self, path: &Path) -> std::io::Result<()> {
        let res = std::fs::File::open(path).map(drop);
        self.note(Query::Open(path.to_path_buf()), open_answer(&res));
        res
    }

    /// The load may look names up in iproute2's files (a routes or rules block).
    pub fn iproute2_names(&mut self) {
        if !self.index.contains_key(&Query::Iproute2Names) {
            self.note(Query::Iproute2Names, iproute2_answer());
        }
    }

    /// [`crate::script::check_runnable`] (a line that does not split consults nothing).
    pub fn script(
        &mut self,
        command: &str,
        secure: bool,
    ) -> Result<PathBuf, crate::script::ScriptError> {
        let words = crate::script::split_command(command)?;
        if crate::script::is_file_test(&words) {
            // Nothing on disk is checked for it (the shell opens the file when it runs).
            return crate::script::check_runnable(command, secure);
        }
        let program = &words[0];
        let res = crate::script::check_program(program, secure);
        let q = Query::Program {
            program: program.clone(),
            secure,
        };
        self.note(q, script_answer(&res));
        res
    }

    /// [`track_file_watchable`].
    pub fn track_file(&mut self, path: &Path) -> Result<(), String> {
        let res = track_file_watchable(path);
        self.note(
            Query::TrackFile(path.to_path_buf()),
            track_file_answer(&res),
        );
        res
    }

    /// [`crate::script::resolve_user`].
    pub fn user(&mut self, user: &ScriptUser) -> Result<(u32, u32), crate::script::ScriptError> {
        let res = crate::script::resolve_user(user);
        self.note(Query::User(user.clone()), user_answer(&res));
        res
    }

    /// The first question whose answer is not what it was, described; or why a load
    /// cannot be repeated. None: a load now would give what the recorded one gave.
    pub fn first_change(&self) -> Option<String> {
        if let Some(why) = &self.unrepeatable {
            return Some(why.clone());
        }
        first_change_of(&self.asked)
    }
}

/// The first of `asked` whose answer is not what it was, described.
fn first_change_of(asked: &[(Query, String)]) -> Option<String> {
    asked
        .iter()
        .find(|(q, a)| ask(q) != *a)
        .map(|(q, _)| format!("{} changed", describe(q)))
}

/// A daemon's load: its options and what it consulted (see the module's comment).
#[derive(Debug, Clone)]
pub struct Fingerprint {
    pub file: PathBuf,
    pub config_id: String,
    pub strict: bool,
    pub inputs: Inputs,
}

/// Why a load now could differ from the recorded one.
#[derive(Debug)]
pub struct Change {
    /// The first difference found, described.
    pub why: String,
    /// The main file as just read, when its bytes are what changed: the load takes them
    /// as read (the file is read and hashed once per reload, not twice).
    pub main_file: Option<FileRead>,
}

impl Change {
    fn because(why: String) -> Change {
        Change {
            why,
            main_file: None,
        }
    }
}

/// A file read whole, with its recorded answer (its SHA-256).
#[derive(Debug)]
pub struct FileRead {
    pub path: PathBuf,
    bytes: Vec<u8>,
    answer: String,
}

impl Fingerprint {
    /// Why a load of `file` with these options now could differ from the recorded one
    /// (the first difference found); None when it would give exactly the same.
    pub fn first_change(&self, file: &Path, config_id: &str, strict: bool) -> Option<Change> {
        if file != self.file {
            return Some(Change::because(format!(
                "the file is now {}",
                file.display()
            )));
        }
        if config_id != self.config_id {
            return Some(Change::because(format!(
                "the configuration id is now `{config_id}` (was `{}`)",
                self.config_id
            )));
        }
        if strict != self.strict {
            return Some(Change::because(if strict {
                "problems now refuse the file (reload_check_config or --strict)".to_string()
            } else {
                "problems no longer refuse the file".to_string()
            }));
        }
        if let Some(why) = &self.inputs.unrepeatable {
            return Some(Change::because(why.clone()));
        }
        // The main file is the first question: read it whole, so that when it is what
        // changed its load need not read it again.
        let mut rest = self.inputs.asked.as_slice();
        if let Some(((Query::Read(p), recorded), after)) = rest.split_first() {
            if *p == self.file {
                let (res, answer) = read_whole(p);
                if answer != *recorded {
                    return Some(Change {
                        why: format!("{} changed", describe(&Query::Read(p.clone()))),
                        main_file: res.ok().map(|bytes| FileRead {
                            path: p.clone(),
                            bytes,
                            answer,
                        }),
                    });
                }
                rest = after;
            }
        }
        first_change_of(rest).map(Change::because)
    }
}

/// The answer to `q` now.
fn ask(q: &Query) -> String {
    match q {
        Query::Read(p) => read_answer(p),
        Query::Glob(pattern) => glob_answer(&glob_files(pattern)),
        Query::Canonical(p) => canonical_answer(&std::fs::canonicalize(p)),
        Query::Open(p) => open_answer(&std::fs::File::open(p).map(drop)),
        Query::Iproute2Names => iproute2_answer(),
        Query::Program { program, secure } => {
            script_answer(&crate::script::check_program(program, *secure))
        }
        Query::User(u) => user_answer(&crate::script::resolve_user(u)),
        Query::TrackFile(p) => track_file_answer(&track_file_watchable(p)),
    }
}

fn describe(q: &Query) -> String {
    match q {
        Query::Read(p) => format!("the file {}", p.display()),
        Query::Glob(pattern) => format!("the files matching {pattern}"),
        Query::Canonical(p) => format!("the path {}", p.display()),
        Query::Open(p) => format!("whether {} can be read", p.display()),
        Query::Iproute2Names => "iproute2's name files".to_string(),
        Query::Program { program, .. } => format!("the script {program}"),
        Query::User(u) => format!("the user {}", u.user),
        Query::TrackFile(p) => format!("whether {} can be tracked", p.display()),
    }
}

fn failed(e: &impl std::fmt::Display) -> String {
    format!("error: {e}")
}

/// A file's bytes with the answer they give (their SHA-256, or why they cannot be read).
fn read_whole(path: &Path) -> (std::io::Result<Vec<u8>>, String) {
    let res = std::fs::read(path);
    let answer = match &res {
        Ok(bytes) => digest_answer(bytes),
        Err(e) => failed(e),
    };
    (res, answer)
}

fn digest_answer(bytes: &[u8]) -> String {
    hex::encode(ring::digest::digest(&ring::digest::SHA256, bytes))
}

/// A file's digest read in pieces (a reload's check holds no copy of an include).
fn read_answer(path: &Path) -> String {
    let mut file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => return failed(&e),
    };
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    let mut buf = vec![0u8; 1 << 16];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => ctx.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return failed(&e),
        }
    }
    hex::encode(ctx.finish())
}

fn glob_files(pattern: &str) -> Result<Vec<PathBuf>, String> {
    match glob::glob(pattern) {
        Ok(paths) => Ok(paths
            .filter_map(Result::ok)
            .filter(|p| p.is_file())
            .collect()),
        Err(e) => Err(e.msg.to_string()),
    }
}

fn glob_answer(res: &Result<Vec<PathBuf>, String>) -> String {
    match res {
        Ok(paths) => paths.iter().map(|p| format!("{}\n", p.display())).collect(),
        Err(e) => failed(e),
    }
}

fn canonical_answer(res: &std::io::Result<PathBuf>) -> String {
    match res {
        Ok(p) => p.display().to_string(),
        Err(e) => failed(e),
    }
}

fn track_file_answer(res: &Result<(), String>) -> String {
    match res {
        Ok(()) => "ok".to_string(),
        Err(e) => failed(e),
    }
}

/// Whether the daemon can watch a tracked file (`track_file`), as keepalived's
/// init_track_files decides when it starts or reloads (not in `-t`): a file that exists
/// can; a missing one can when its directory exists (it is watched until the file
/// appears); otherwise keepalived removes the tracker from every instance ("Track file
/// directory for ... does not exist - removing", "track file ... is not accessible -
/// ignoring"). As there, a file straight under `/` that does not exist is removed too
/// (the directory is looked up as the text before the last `/`, empty here), and a name
/// without a `/` is in the working directory.
pub fn track_file_watchable(path: &Path) -> Result<(), String> {
    match std::fs::canonicalize(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let text = path.to_string_lossy();
            let dir = match text.rfind('/') {
                Some(i) => &text[..i],
                None => ".",
            };
            match std::fs::metadata(dir) {
                Ok(m) if m.is_dir() => Ok(()),
                _ => Err("its directory does not exist".to_string()),
            }
        }
        Err(e) => Err(format!("it is not accessible ({e})")),
    }
}

fn open_answer(res: &std::io::Result<()>) -> String {
    match res {
        Ok(()) => "ok".to_string(),
        Err(e) => failed(e),
    }
}

fn script_answer(res: &Result<PathBuf, crate::script::ScriptError>) -> String {
    match res {
        Ok(p) => p.display().to_string(),
        Err(e) => failed(e),
    }
}

fn user_answer(res: &Result<(u32, u32), crate::script::ScriptError>) -> String {
    match res {
        Ok((uid, gid)) => format!("{uid}:{gid}"),
        Err(e) => failed(e),
    }
}

/// Where iproute2's name files are (see `build_routes::iproute2_name`, which reads them).
pub(crate) const IPROUTE2_DIRS: [&str; 3] =
    ["/etc/iproute2", "/usr/share/iproute2", "/usr/lib/iproute2"];
/// The name files a configuration's routes and rules may use: every file
/// `build_routes::iproute2_name` is asked to look in.
const IPROUTE2_FILES: [&str; 6] = [
    "rt_tables",
    "rt_protos",
    "rt_scopes",
    "rt_dsfield",
    "rt_realms",
    "group",
];

/// Every iproute2 name file's path and digest (or why it cannot be read), with the
/// entries of each `.d` directory.
fn iproute2_answer() -> String {
    let mut out = String::new();
    for dir in IPROUTE2_DIRS {
        for file in IPROUTE2_FILES {
            let path = PathBuf::from(format!("{dir}/{file}"));
            out.push_str(&format!("{}={}\n", path.display(), read_answer(&path)));
            let d = PathBuf::from(format!("{dir}/{file}.d"));
            if let Ok(rd) = std::fs::read_dir(&d) {
                let mut more: Vec<PathBuf> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
                more.sort();
                for p in more {
                    out.push_str(&format!("{}={}\n", p.display(), read_answer(&p)));
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &Path, text: &str) {
        std::fs::write(path, text).expect("test file written");
    }

    #[test]
    fn the_same_files_give_no_change() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = dir.path().join("a.conf");
        write(&a, "x\n");
        let mut i = Inputs::default();
        assert!(i.read(&a).is_ok());
        assert!(i.glob(&format!("{}/*.conf", dir.path().display())).is_ok());
        assert!(i.canonical(&a).is_ok());
        assert_eq!(i.first_change(), None);
        // Written again with the same bytes: still the same.
        write(&a, "x\n");
        assert_eq!(i.first_change(), None);
    }

    #[test]
    fn a_changed_file_is_found() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = dir.path().join("a.conf");
        write(&a, "x\n");
        let mut i = Inputs::default();
        assert!(i.read(&a).is_ok());
        write(&a, "y\n");
        let change = i.first_change().expect("a change");
        assert!(change.contains("a.conf"), "{change}");
        std::fs::remove_file(&a).expect("removed");
        assert!(i.first_change().is_some());
    }

    #[test]
    fn a_missing_file_that_appears_is_a_change() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = dir.path().join("a.conf");
        let mut i = Inputs::default();
        assert!(i.read(&a).is_err());
        assert_eq!(i.first_change(), None);
        write(&a, "");
        assert!(i.first_change().is_some());
    }

    #[test]
    fn a_glob_that_matches_another_set_is_a_change() {
        let dir = tempfile::tempdir().expect("tempdir");
        write(&dir.path().join("a.conf"), "");
        let pattern = format!("{}/*.conf", dir.path().display());
        let mut i = Inputs::default();
        assert_eq!(i.glob(&pattern).map(|v| v.len()), Ok(1));
        write(&dir.path().join("b.conf"), "");
        assert!(i.first_change().is_some());
        std::fs::remove_file(dir.path().join("b.conf")).expect("removed");
        assert_eq!(i.first_change(), None);
        // A directory that matches is not a file: no change.
        std::fs::create_dir(dir.path().join("c.conf")).expect("dir");
        assert_eq!(i.first_change(), None);
    }

    #[test]
    fn a_script_made_insecure_is_a_change() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let s = dir.path().join("chk.sh");
        write(&s, "#!/bin/sh\nexit 0\n");
        std::fs::set_permissions(&s, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let cmd = s.display().to_string();
        let mut i = Inputs::default();
        let first = i.script(&cmd, false);
        assert!(first.is_ok(), "{first:?}");
        assert_eq!(i.first_change(), None);
        std::fs::set_permissions(&s, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let change = i.first_change().expect("a change");
        assert!(change.contains("chk.sh"), "{change}");
    }

    #[test]
    fn a_user_that_goes_away_is_a_change() {
        let mut i = Inputs::default();
        let root = ScriptUser {
            user: "root".into(),
            group: None,
        };
        assert!(i.user(&root).is_ok());
        assert_eq!(i.first_change(), None);
        // An answer recorded for a user who does not exist now differs from the answer.
        let mut j = Inputs::default();
        j.note(Query::User(root), "error: gone".into());
        assert!(j.first_change().is_some());
    }

    #[test]
    fn an_ssl_file_that_becomes_readable_is_a_change() {
        let dir = tempfile::tempdir().expect("tempdir");
        let key = dir.path().join("key.pem");
        let mut i = Inputs::default();
        assert!(i.open(&key).is_err());
        assert_eq!(i.first_change(), None);
        write(&key, "k");
        assert!(i.first_change().is_some());
    }

    #[test]
    fn two_answers_to_one_question_make_the_load_unrepeatable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = dir.path().join("a.conf");
        write(&a, "x\n");
        let mut i = Inputs::default();
        assert!(i.read(&a).is_ok());
        write(&a, "y\n");
        assert!(i.read(&a).is_ok());
        write(&a, "x\n");
        let why = i.first_change().expect("unrepeatable");
        assert!(why.contains("while the configuration was read"), "{why}");
        let mut r = Inputs::default();
        r.unrepeatable("${_RANDOM}");
        assert!(r.first_change().is_some());
    }

    /// What `load_for_daemon` of `main` consulted.
    fn load(main: &Path) -> Inputs {
        match crate::config::load_for_daemon(main, "lb1", false) {
            Ok(l) => l.inputs,
            Err(e) => panic!("the test file does not load: {e}"),
        }
    }

    fn asked(i: &Inputs, q: &Query) -> bool {
        i.index.contains_key(q)
    }

    const VS: &str = "virtual_server 10.0.0.1 80 {\n lb_algo rr\n lb_kind NAT\n protocol TCP\n real_server 127.0.0.1 8080 {\n  weight 1\n }\n}\n";

    #[test]
    fn a_load_notes_every_file_of_nested_includes_and_their_globs() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        std::fs::create_dir(d.join("conf.d")).expect("dir");
        write(&d.join("keepalived.conf"), "include conf.d/*.conf\n");
        write(&d.join("conf.d/a.conf"), "include ../inner.inc\n");
        write(&d.join("inner.inc"), VS);
        let i = load(&d.join("keepalived.conf"));
        assert_eq!(i.first_change(), None);
        for (file, edit) in [
            ("keepalived.conf", "include conf.d/*.conf\n# a comment\n"),
            ("conf.d/a.conf", "include ../inner.inc\n\n"),
            ("inner.inc", &VS.replace("weight 1", "weight 2")),
        ] {
            let before = std::fs::read_to_string(d.join(file)).expect("read");
            write(&d.join(file), edit);
            let change = i
                .first_change()
                .unwrap_or_else(|| panic!("{file}: no change"));
            assert!(
                change.contains(file.trim_start_matches("conf.d/")),
                "{change}"
            );
            write(&d.join(file), &before);
            assert_eq!(i.first_change(), None, "{file} written back");
        }
        // One more file matching the pattern, even an empty one.
        write(&d.join("conf.d/b.conf"), "");
        let change = i.first_change().expect("a new match");
        assert!(change.contains("matching"), "{change}");
    }

    #[test]
    fn a_load_notes_its_scripts_and_their_users() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let chk = d.join("chk.sh");
        write(&chk, "#!/bin/sh\nexit 0\n");
        std::fs::set_permissions(&chk, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let conf = format!(
            "global_defs {{\n script_user root\n}}\nvrrp_script chk {{\n script \"{}\"\n user nobody\n}}\n",
            chk.display()
        );
        write(&d.join("keepalived.conf"), &conf);
        let i = load(&d.join("keepalived.conf"));
        assert_eq!(i.first_change(), None);
        let root = ScriptUser {
            user: "root".into(),
            group: None,
        };
        let nobody = ScriptUser {
            user: "nobody".into(),
            group: None,
        };
        assert!(asked(&i, &Query::User(root)));
        assert!(asked(&i, &Query::User(nobody)));
        // The script can no longer be run: a load now differs.
        std::fs::set_permissions(&chk, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let change = i.first_change().expect("a change");
        assert!(change.contains("chk.sh"), "{change}");
    }

    #[test]
    fn a_load_notes_ssl_files_and_iproute2_names() {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let key = d.join("key.pem");
        let conf = format!(
            "SSL {{\n key {}\n certificate {}\n}}\nstatic_routes {{\n 10.1.0.0/16 dev lo table main\n}}\n",
            key.display(),
            key.display()
        );
        write(&d.join("keepalived.conf"), &conf);
        let i = load(&d.join("keepalived.conf"));
        assert!(asked(&i, &Query::Iproute2Names));
        assert_eq!(i.first_change(), None);
        // The key now exists: the load's "cannot open" warning would go.
        write(&key, "k");
        let change = i.first_change().expect("a change");
        assert!(change.contains("key.pem"), "{change}");
        // Without routes or rules, iproute2's files are not asked about.
        write(&d.join("keepalived.conf"), VS);
        assert!(!asked(
            &load(&d.join("keepalived.conf")),
            &Query::Iproute2Names
        ));
    }

    #[test]
    fn the_options_are_part_of_the_fingerprint() {
        let f = Fingerprint {
            file: PathBuf::from("/etc/keepalived/keepalived.conf"),
            config_id: "lb1".into(),
            strict: false,
            inputs: Inputs::default(),
        };
        assert!(f.first_change(&f.file.clone(), "lb1", false).is_none());
        assert!(f.first_change(&f.file.clone(), "lb2", false).is_some());
        assert!(f.first_change(&f.file.clone(), "lb1", true).is_some());
        assert!(f
            .first_change(Path::new("/tmp/other.conf"), "lb1", false)
            .is_some());
    }

    /// A load of `file` as the daemon records it.
    fn fingerprint_of(file: &Path) -> (Fingerprint, String) {
        let loaded = crate::config::load_for_daemon(file, "lb1", false).expect("loads");
        let f = Fingerprint {
            file: file.to_path_buf(),
            config_id: "lb1".into(),
            strict: false,
            inputs: loaded.inputs,
        };
        (f, loaded.sha256)
    }

    /// A tracked file the daemon cannot watch is removed from the instances and the sync
    /// group, as keepalived's daemon removes it (`-t` keeps it); the directory made later
    /// makes the next reload a real one, and it is tracked again.
    #[test]
    fn a_track_file_that_cannot_be_watched_is_not_tracked() {
        let dir = tempfile::tempdir().expect("tempdir");
        let main = dir.path().join("keepalived.conf");
        let later = dir.path().join("later");
        let text = format!(
            "vrrp_track_file missing_dir {{\n    file {later}/state\n}}\n\
             vrrp_track_file missing_file {{\n    file {here}/state\n}}\n\
             vrrp_track_file under_root {{\n    file /lvsd-test-no-such-file\n}}\n\
             vrrp_instance VI_1 {{\n    interface eth0\n    virtual_router_id 1\n    \
             track_file {{\n        missing_dir\n        missing_file\n        under_root\n    }}\n}}\n\
             vrrp_sync_group G {{\n    group {{\n        VI_1\n    }}\n    \
             track_file {{\n        missing_dir\n    }}\n}}\n",
            later = later.display(),
            here = dir.path().display()
        );
        write(&main, &text);
        let names = |c: &crate::config::Config| -> (Vec<String>, Vec<String>, Vec<String>) {
            (
                c.track_files.iter().map(|d| d.name.clone()).collect(),
                c.instances[0]
                    .track_file
                    .iter()
                    .map(|r| r.name.clone())
                    .collect(),
                c.sync_groups[0]
                    .track_file
                    .iter()
                    .map(|r| r.name.clone())
                    .collect(),
            )
        };
        let checked = crate::config::load(&main, "lb1").expect("loads");
        assert_eq!(names(&checked.config).0.len(), 3, "-t keeps every tracker");
        let loaded = crate::config::load_for_daemon(&main, "lb1", false).expect("loads");
        assert_eq!(
            names(&loaded.config),
            (
                vec!["missing_file".to_string()],
                vec!["missing_file".to_string()],
                vec![]
            )
        );
        let said: Vec<String> = loaded
            .warnings
            .iter()
            .map(|d| d.message.clone())
            .filter(|m| m.contains("cannot be watched"))
            .collect();
        assert_eq!(said.len(), 2, "{said:?}");
        assert!(said[0].contains("missing_dir") && said[0].contains("directory does not exist"));
        let (f, _) = fingerprint_of(&main);
        assert!(f.first_change(&main, "lb1", false).is_none());
        std::fs::create_dir(&later).expect("mkdir");
        let change = f.first_change(&main, "lb1", false).expect("a change");
        assert!(change.why.contains("can be tracked"), "{}", change.why);
        let again = crate::config::load_for_daemon(&main, "lb1", false).expect("loads");
        assert_eq!(names(&again.config).1, ["missing_dir", "missing_file"]);
        assert_eq!(names(&again.config).2, ["missing_dir"]);
        // A regular file in the way of the directory cannot be watched either.
        assert!(track_file_watchable(&main.join("state")).is_err());
        assert!(track_file_watchable(Path::new("in-the-working-directory")).is_ok());
    }

    #[test]
    fn a_changed_main_file_is_read_once_for_the_check_and_the_load() {
        let dir = tempfile::tempdir().expect("tempdir");
        let main = dir.path().join("keepalived.conf");
        let inc = dir.path().join("more.conf");
        write(
            &main,
            "global_defs {\n    router_id a\n}\ninclude more.conf\n",
        );
        write(&inc, "global_defs {\n    vrrp_version 3\n}\n");
        let (f, _) = fingerprint_of(&main);
        assert!(f.first_change(&main, "lb1", false).is_none());
        write(
            &main,
            "global_defs {\n    router_id b\n}\ninclude more.conf\n",
        );
        let change = f.first_change(&main, "lb1", false).expect("a change");
        assert!(
            change.why.contains("keepalived.conf changed"),
            "{}",
            change.why
        );
        let given = change.main_file.expect("the main file's bytes handed on");
        // The load from the bytes handed on is the load from the disk, record included.
        let from_given =
            crate::config::load_for_daemon_from(&main, "lb1", false, Some(given)).expect("loads");
        let (again, sha) = fingerprint_of(&main);
        assert_eq!(from_given.sha256, sha);
        assert_eq!(from_given.config.global.router_id.as_deref(), Some("b"));
        assert_eq!(from_given.inputs.asked, again.inputs.asked);
        // An include changed: found after the main file, nothing handed on.
        write(&inc, "global_defs {\n    vrrp_version 2\n}\n");
        let change = again.first_change(&main, "lb1", false).expect("a change");
        assert!(change.why.contains("more.conf changed"), "{}", change.why);
        assert!(change.main_file.is_none());
    }

    #[test]
    fn the_files_hash_is_that_of_sha256sums_listing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let main = dir.path().join("keepalived.conf");
        let inc = dir.path().join("more.conf");
        let (m, i) = (
            "global_defs {\n    router_id a\n}\ninclude more.conf\n",
            "global_defs {\n    vrrp_version 3\n}\n",
        );
        write(&main, m);
        write(&inc, i);
        let (_, sha) = fingerprint_of(&main);
        let line = |path: &Path, text: &str| {
            format!("{}  {}\n", digest_answer(text.as_bytes()), path.display())
        };
        let listing = line(&main, m) + &line(&inc, i);
        assert_eq!(sha, digest_answer(listing.as_bytes()));
        // Each file counts: another include, another hash.
        write(&inc, "global_defs {\n    vrrp_version 2\n}\n");
        assert_ne!(fingerprint_of(&main).1, sha);
    }
}
