//! keepalived.conf: preprocessor, pest grammar, typed model and validation.
//!
//! [`load`] reads a file (and its includes) and returns the typed [`Config`] or every
//! problem found, each at `file:line:col`. It only reads files, so the SIGHUP reload path
//! can call it again at any time.

mod build;
mod build_lvs;
mod build_routes;
mod build_track;
mod build_vrrp;
mod build_vrrp_opts;
pub mod diag;
pub mod inputs;
pub mod keywords;
mod lexer;
mod mend_vrrp;
pub mod model;
mod preprocess;
pub mod print;
mod validate;

pub use build::ScriptRef;
pub use build_routes::{route_line, rule_line};
pub use diag::{Diagnostic, Severity};
pub use inputs::{Fingerprint, Inputs};
pub use model::*;
pub use print::print;

use crate::script::ScriptUser;
use std::path::Path;
use std::time::Duration;

/// CPU time used by the calling thread so far (zero if the clock cannot be read). The
/// phase figures are CPU time, so they stay meaningful on a shared, loaded machine.
pub fn thread_cpu() -> Duration {
    match nix::time::clock_gettime(nix::time::ClockId::CLOCK_THREAD_CPUTIME_ID) {
        Ok(t) => Duration::new(
            u64::try_from(t.tv_sec()).unwrap_or(0),
            u32::try_from(t.tv_nsec()).unwrap_or(0),
        ),
        Err(_) => Duration::ZERO,
    }
}

/// Where one [`load_timed`] spent its time, in CPU time of the calling thread (for the
/// parse benchmark). Lexing runs interleaved with building (chunk by chunk); `build`
/// excludes the time spent lexing.
#[derive(Debug, Clone, Copy, Default)]
pub struct Phases {
    pub read: Duration,
    pub preprocess: Duration,
    pub lex: Duration,
    pub build: Duration,
    pub validate: Duration,
}

/// A configuration that loaded without errors.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub config: Config,
    pub warnings: Vec<Diagnostic>,
    /// Every script command line with where it was written (for `enable_script_security`).
    pub scripts: Vec<ScriptRef>,
    /// SHA-256 (hex) of the files read, the main file and its includes (see
    /// [`Inputs::files_sha256`]; what the metrics endpoint reports as the loaded file).
    pub sha256: String,
    /// What the load consulted outside its text (see [`inputs`]).
    pub inputs: Inputs,
}

/// Why a configuration was refused: every error, plus the warnings.
#[derive(Debug, Clone)]
pub struct LoadErrors {
    pub errors: Vec<Diagnostic>,
    pub warnings: Vec<Diagnostic>,
}

impl std::fmt::Display for LoadErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, d) in self.errors.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{d}")?;
        }
        Ok(())
    }
}

impl std::error::Error for LoadErrors {}

/// Reads and checks the configuration at `path`; `config_id` selects `@ID` lines.
pub fn load(path: &Path, config_id: &str) -> Result<Loaded, LoadErrors> {
    load_timed(path, config_id).0
}

/// What a daemon reads at start and on reload: [`load`], then the scripts vetted as
/// keepalived vets them ([`vet_scripts`]; its findings join the warnings). `strict`
/// (`--strict`): any problem at all refuses the file.
pub fn load_for_daemon(path: &Path, config_id: &str, strict: bool) -> Result<Loaded, LoadErrors> {
    load_for_daemon_from(path, config_id, strict, None)
}

/// [`load_for_daemon`], with the main file's bytes when a reload's check has just read
/// them (`given`, see [`inputs::Change`]).
pub fn load_for_daemon_from(
    path: &Path,
    config_id: &str,
    strict: bool,
    given: Option<inputs::FileRead>,
) -> Result<Loaded, LoadErrors> {
    let mut loaded = load_timed_from(path, config_id, given).0?;
    let vetted = vet_scripts(&mut loaded);
    loaded.warnings.extend(vetted);
    if strict && !loaded.warnings.is_empty() {
        let errors = std::mem::take(&mut loaded.warnings)
            .into_iter()
            .map(|mut d| {
                d.severity = Severity::Error;
                d.message.push_str(" (refused: --strict)");
                d
            })
            .collect();
        return Err(LoadErrors {
            errors,
            warnings: Vec::new(),
        });
    }
    // After the strict test: keepalived's `-t` (and so reload_check_config) does not
    // look at tracked files' directories; its daemon does.
    let untracked = vet_track_files(&mut loaded);
    loaded.warnings.extend(untracked);
    Ok(loaded)
}

/// The daemon's check of each tracked file an instance or sync group tracks
/// ([`inputs::track_file_watchable`]): one that cannot be watched is removed from every
/// instance and sync group, and its definition with it, as keepalived's daemon does.
pub fn vet_track_files(loaded: &mut Loaded) -> Vec<Diagnostic> {
    let c = &mut loaded.config;
    let used = |name: &str, c: &Config| {
        c.instances
            .iter()
            .flat_map(|i| &i.track_file)
            .chain(c.sync_groups.iter().flat_map(|g| &g.track_file))
            .any(|r| r.name == name)
    };
    let mut out = Vec::new();
    let mut removed = std::collections::HashSet::new();
    for d in &c.track_files {
        if !used(&d.name, c) || removed.contains(&d.name) {
            continue;
        }
        if let Err(why) = loaded.inputs.track_file(Path::new(&d.file)) {
            out.push(Diagnostic::warning(
                d.span.clone(),
                format!(
                    "track_file {}: {} cannot be watched: {why}; not tracked, as keepalived does",
                    d.name, d.file
                ),
            ));
            removed.insert(d.name.clone());
        }
    }
    if removed.is_empty() {
        return out;
    }
    c.track_files.retain(|d| !removed.contains(&d.name));
    for refs in c
        .instances
        .iter_mut()
        .map(|i| &mut i.track_file)
        .chain(c.sync_groups.iter_mut().map(|g| &mut g.track_file))
    {
        refs.retain(|r| !removed.contains(&r.name));
    }
    out
}

/// [`load`], also returning the time each phase took.
pub fn load_timed(path: &Path, config_id: &str) -> (Result<Loaded, LoadErrors>, Phases) {
    load_timed_from(path, config_id, None)
}

/// [`load_timed`]; `given`: the main file as already read, if it was.
fn load_timed_from(
    path: &Path,
    config_id: &str,
    given: Option<inputs::FileRead>,
) -> (Result<Loaded, LoadErrors>, Phases) {
    let mut phases = Phases::default();
    let t = thread_cpu();
    let mut inputs = Inputs::default();
    let text = match given {
        Some(f) if f.path == path => Ok(preprocess::text_of(inputs.read_given(f))),
        _ => preprocess::read_text(path, &mut inputs),
    };
    phases.read = thread_cpu().saturating_sub(t);
    let res = match text {
        Ok(text) => parse_owned(text, path, config_id, &mut phases, inputs),
        Err(e) => Err(LoadErrors {
            errors: vec![Diagnostic::error(
                preprocess::Source::file_span(path),
                format!("cannot read {}: {e}", path.display()),
            )],
            warnings: Vec::new(),
        }),
    };
    (res, phases)
}

/// Parses configuration text as if read from `file_name` (includes are relative to it).
pub fn parse_str(text: &str, file_name: &Path, config_id: &str) -> Result<Loaded, LoadErrors> {
    let mut diags = Vec::new();
    let src = preprocess::preprocess(file_name, text, config_id, &mut diags);
    let mut inputs = Inputs::default();
    inputs.text_given(file_name, text);
    finish(src, diags, &mut Phases::default(), inputs)
}

/// What `lvsd -t` does with the file `path` whose text is `text` (not read from disk),
/// except that includes may only read files under `root` (see
/// [`preprocess::preprocess_owned_in`]): preprocess, parse, validate, then vet the scripts
/// of a configuration that loaded. For the fuzzers.
#[cfg(feature = "testing")]
pub fn check_text_confined(
    text: String,
    path: &Path,
    config_id: &str,
    root: &Path,
) -> (Result<Loaded, LoadErrors>, Vec<Diagnostic>) {
    let mut diags = Vec::new();
    let src = preprocess::preprocess_owned_in(path, text, config_id, &mut diags, Some(root));
    let mut res = finish(src, diags, &mut Phases::default(), Inputs::default());
    let vetted = match &mut res {
        Ok(loaded) => vet_scripts(loaded),
        Err(_) => Vec::new(),
    };
    (res, vetted)
}

/// Like [`parse_str`], but frees the file's text as soon as it has been preprocessed, so
/// the raw text and the typed model are never in memory together.
fn parse_owned(
    text: String,
    file_name: &Path,
    config_id: &str,
    phases: &mut Phases,
    inputs: Inputs,
) -> Result<Loaded, LoadErrors> {
    let mut diags = Vec::new();
    let t = thread_cpu();
    let src = preprocess::preprocess_owned(file_name, text, config_id, &mut diags);
    phases.preprocess = thread_cpu().saturating_sub(t);
    finish(src, diags, phases, inputs)
}

/// Builds and validates the model from preprocessed text; `inputs`: what was consulted
/// before the preprocessor ran (the main file's read).
fn finish(
    mut src: preprocess::Source,
    mut diags: Vec<Diagnostic>,
    phases: &mut Phases,
    mut inputs: Inputs,
) -> Result<Loaded, LoadErrors> {
    inputs.extend(std::mem::take(&mut src.inputs));
    let t = thread_cpu();
    let mut p = build::P::new(&src);
    p.top();
    phases.lex = p.lex_time();
    let build::P {
        diags: more,
        mut config,
        scripts,
        inst_spans,
        inputs: built,
        ..
    } = p;
    diags.extend(more);
    inputs.extend(built);
    // Positions are resolved by now; the preprocessed text is no longer needed.
    drop(src);
    config.virtual_servers.shrink_to_fit();
    phases.build = thread_cpu().saturating_sub(t).saturating_sub(phases.lex);
    let t = thread_cpu();
    validate::validate(&mut config, &inst_spans, &mut diags);
    let diags = diag::fold_repeats(diags);
    let (errors, warnings): (Vec<_>, Vec<_>) = diags.into_iter().partition(|d| d.is_error());
    phases.validate = thread_cpu().saturating_sub(t);
    if errors.is_empty() {
        Ok(Loaded {
            config,
            warnings,
            scripts,
            sha256: inputs.files_sha256(),
            inputs,
        })
    } else {
        Err(LoadErrors { errors, warnings })
    }
}

/// Checks every configured script the way keepalived does when it loads a file, and
/// mends the configuration as keepalived does:
/// - a vrrp_script whose program cannot be found or run, or that `enable_script_security`
///   finds unsafe, is disabled: it and the track_script entries naming it are dropped
///   (keepalived: "Disabling track script ... since not found/accessible");
/// - a MISC_CHECK whose script cannot be found or run, or is unsafe, is disabled: it
///   never runs and keeps its starting state (keepalived: "Disabling misc script ... since
///   not found/accessible"; its real server stays up, or down for good under `alpha`);
/// - any other script that cannot be found or run is named and dropped: keepalived never
///   runs it, even once it appears (until a reload);
/// - under `enable_script_security`, an unsafe script is a security problem (`-t` exit
///   6; lvsd refuses to run it, as keepalived does); without it, configured scripts are
///   one too (keepalived: "SECURITY VIOLATION - scripts are being executed but
///   script_security not enabled").
pub fn vet_scripts(loaded: &mut Loaded) -> Vec<Diagnostic> {
    // Every check is noted in the load's inputs (a reload may be skipped only when each
    // answer is still the same).
    let mut inputs = std::mem::take(&mut loaded.inputs);
    let out = vet_scripts_noted(loaded, &mut inputs);
    loaded.inputs = inputs;
    out
}

fn vet_scripts_noted(loaded: &mut Loaded, inputs: &mut Inputs) -> Vec<Diagnostic> {
    let secure = loaded.config.global.enable_script_security;
    let mut problem = |command: &str| -> Option<(bool, String)> {
        inputs.script(command, secure).err().map(|e| {
            (
                matches!(e, crate::script::ScriptError::Insecure { .. }),
                e.to_string(),
            )
        })
    };
    let mut out = Vec::new();
    let mut disabled = std::collections::HashSet::new();
    // Commands that will never run (missing, or a vrrp_script disabled): no
    // script-security problem of theirs (keepalived's "SECURITY VIOLATION" counts only
    // the scripts it keeps).
    let mut not_run: std::collections::HashSet<String> = std::collections::HashSet::new();
    for s in &loaded.config.vrrp_scripts {
        if let Some((insecure, why)) = problem(&s.script) {
            if !insecure {
                not_run.insert(s.script.clone());
            }
            let msg = format!(
                "vrrp_script {}: {why}: disabled, and not tracked, as keepalived does",
                s.name
            );
            out.push(if insecure {
                Diagnostic::security(s.span.clone(), msg)
            } else {
                Diagnostic::warning(s.span.clone(), msg)
            });
            disabled.insert(s.name.clone());
        }
    }
    let track_commands: std::collections::HashSet<&str> = loaded
        .config
        .vrrp_scripts
        .iter()
        .map(|s| s.script.as_str())
        .collect();
    let misc_commands: std::collections::HashSet<&str> = loaded
        .config
        .virtual_servers
        .iter()
        .flat_map(|vs| &vs.real_servers)
        .flat_map(|rs| &rs.checkers)
        .filter_map(|c| match &c.kind {
            model::CheckerKind::Misc(m) => Some(m.misc_path.as_str()),
            _ => None,
        })
        .collect();
    let mut disabled_misc = std::collections::HashSet::new();
    let mut missing = std::collections::HashSet::new();
    for r in &loaded.scripts {
        if track_commands.contains(r.command.as_str()) {
            continue;
        }
        if let Some((insecure, why)) = problem(&r.command) {
            if !insecure {
                not_run.insert(r.command.clone());
            }
            let msg = format!("script `{}`: {why}", r.command);
            if misc_commands.contains(r.command.as_str()) {
                disabled_misc.insert(r.command.clone());
                let msg = format!("MISC_CHECK {msg}: the checker is disabled, as keepalived does");
                out.push(if insecure {
                    Diagnostic::security(r.span.clone(), msg)
                } else {
                    Diagnostic::note(r.span.clone(), msg)
                });
                continue;
            }
            out.push(if insecure {
                Diagnostic::security(r.span.clone(), format!("{msg} (it will not be run)"))
            } else {
                missing.insert(r.command.clone());
                Diagnostic::note(
                    r.span.clone(),
                    format!("{msg}: not run, as keepalived does"),
                )
            });
        }
    }
    // keepalived frees a notify, startup, shutdown or fifo script it cannot find or run
    // (check_notify_script_secure): it is not run even once it appears.
    drop_scripts(&mut loaded.config, &missing);
    // The users scripts run as, as keepalived sets them while it reads the file: a
    // script's own user (`notify_master CMD USER [GROUP]`, a vrrp_script's or
    // MISC_CHECK's `user`), else `script_user`, else `keepalived_script` when that user
    // exists, else root. A script whose user cannot be set is not run at all (keepalived:
    // "Unable to set default user for ... - removing", "Invalid user/group for ... script
    // - ignoring"): an unknown user, an unknown `script_user`, or, under
    // enable_script_security, no script_user and no `keepalived_script` user.
    let default_fails = default_script_user(&mut loaded.config.global, inputs);
    // Why a script with this user of its own (or none) cannot run, if it cannot.
    let mut user_problem = |own: Option<&ScriptUser>| match own {
        Some(u) => inputs
            .user(u)
            .is_err()
            .then(|| format!("its user `{}` does not exist", user_words(u))),
        None => default_fails.clone(),
    };
    for s in &loaded.config.vrrp_scripts {
        let Some(why) = user_problem(s.user.as_ref()).filter(|_| !disabled.contains(&s.name))
        else {
            continue;
        };
        let msg = format!(
            "vrrp_script {}: {why}: not run, and not tracked, as keepalived does",
            s.name
        );
        out.push(Diagnostic::warning(s.span.clone(), msg));
        disabled.insert(s.name.clone());
    }
    let mut unset = std::collections::HashSet::new();
    for r in loaded
        .scripts
        .iter()
        .filter(|r| r.kind == build::AfterCommand::UserGroup)
    {
        if let Some(why) = user_problem(r.user.as_ref()) {
            let msg = format!(
                "script `{}`: {why}: never run, as keepalived does",
                r.command
            );
            // keepalived logs it ("Invalid user/group for ... script - ignoring") and its
            // -t does not count it.
            out.push(Diagnostic::note(r.span.clone(), msg));
            unset.insert(r.command.clone());
        }
    }
    drop_scripts(&mut loaded.config, &unset);
    // MISC_CHECKs whose user cannot be set are removed ("Failed to set uid/gid for misc
    // checker script - removing"); keepalived leaves their real server as if it never had
    // them, unlike a disabled one.
    let global_user = loaded.config.global.script_user.clone();
    let misc_user_fails = |m: &model::MiscCheck, inputs: &mut Inputs| match m.user.as_ref() {
        Some(u) => inputs
            .user(u)
            .is_err()
            .then(|| format!("its user `{}` does not exist", user_words(u))),
        None => default_fails.clone().or_else(|| {
            global_user
                .as_ref()
                .filter(|u| inputs.user(u).is_err())
                .map(|u| format!("script_user `{}` does not exist", user_words(u)))
        }),
    };
    let mut removed_misc = std::collections::HashSet::new();
    let scripts = &loaded.scripts;
    for rs in loaded
        .config
        .virtual_servers
        .iter_mut()
        .flat_map(|vs| &mut vs.real_servers)
    {
        rs.checkers.retain(|c| {
            let model::CheckerKind::Misc(m) = &c.kind else {
                return true;
            };
            let Some(why) = misc_user_fails(m, inputs) else {
                return true;
            };
            if removed_misc.insert(m.misc_path.clone()) {
                if let Some(r) = scripts.iter().find(|r| r.command == m.misc_path) {
                    out.push(Diagnostic::warning(
                        r.span.clone(),
                        format!(
                            "MISC_CHECK script `{}`: {why}: the checker is removed, as \
                             keepalived does",
                            m.misc_path
                        ),
                    ));
                }
            }
            false
        });
        for c in &mut rs.checkers {
            if let model::CheckerKind::Misc(m) = &c.kind {
                c.common.disabled |= disabled_misc.contains(&m.misc_path);
            }
        }
    }
    // The script-security problem, once the scripts that will never run are known
    // (keepalived drops a script whose user it cannot set as it reads the file, before it
    // looks for scripts without security).
    for s in loaded
        .config
        .vrrp_scripts
        .iter()
        .filter(|s| disabled.contains(&s.name))
    {
        not_run.insert(s.script.clone());
    }
    if !secure {
        if let Some(first) = loaded.scripts.iter().find(|r| {
            !not_run.contains(&r.command)
                && !unset.contains(&r.command)
                && !removed_misc.contains(&r.command)
        }) {
            out.push(Diagnostic::security(
                first.span.clone(),
                "scripts are configured without enable_script_security: nothing checks that \
                 only root can change the scripts lvsd runs",
            ));
        }
    }
    if !disabled.is_empty() {
        let c = &mut loaded.config;
        c.vrrp_scripts.retain(|s| !disabled.contains(&s.name));
        for i in &mut c.instances {
            i.track_script.retain(|t| !disabled.contains(&t.name));
        }
        for g in &mut c.sync_groups {
            g.track_script.retain(|t| !disabled.contains(&t.name));
        }
    }
    out
}

/// keepalived's default script user: `script_user`, else `keepalived_script` when that
/// user exists (written into `script_user`), else root. Some(reason) when scripts
/// without a user of their own cannot run: `script_user` names no user, or
/// enable_script_security is on and neither is set nor exists.
fn default_script_user(g: &mut model::GlobalDefs, inputs: &mut Inputs) -> Option<String> {
    match &g.script_user {
        Some(u) => inputs
            .user(u)
            .is_err()
            .then(|| format!("script_user `{}` does not exist", user_words(u))),
        None => {
            let ka = ScriptUser {
                user: "keepalived_script".into(),
                group: None,
            };
            if inputs.user(&ka).is_ok() {
                g.script_user = Some(ka);
                None
            } else {
                g.enable_script_security.then(|| {
                    "enable_script_security is on, script_user is not set and keepalived's \
                     default script user `keepalived_script` does not exist (set script_user)"
                        .to_string()
                })
            }
        }
    }
}

fn user_words(u: &ScriptUser) -> String {
    match &u.group {
        Some(g) => format!("{} {g}", u.user),
        None => u.user.clone(),
    }
}

/// Unsets every notify, quorum, fifo and startup/shutdown script whose command line is
/// in `commands`.
fn drop_scripts(c: &mut Config, commands: &std::collections::HashSet<String>) {
    if commands.is_empty() {
        return;
    }
    let clear = |slot: &mut Option<String>| {
        if slot.as_ref().is_some_and(|s| commands.contains(s)) {
            *slot = None;
        }
    };
    let notifies = c
        .instances
        .iter_mut()
        .map(|i| &mut i.notify)
        .chain(c.sync_groups.iter_mut().map(|g| &mut g.notify));
    for n in notifies {
        for slot in [
            &mut n.master,
            &mut n.backup,
            &mut n.fault,
            &mut n.stop,
            &mut n.deleted,
            &mut n.generic,
            &mut n.master_rx_lower_pri,
        ] {
            clear(slot);
        }
    }
    for vs in &mut c.virtual_servers {
        clear(&mut vs.quorum_up);
        clear(&mut vs.quorum_down);
        for rs in &mut vs.real_servers {
            if rs.more().notify_up.is_some() || rs.more().notify_down.is_some() {
                let more = rs.more_mut();
                clear(&mut more.notify_up);
                clear(&mut more.notify_down);
            }
        }
    }
    let g = &mut c.global;
    for f in [
        &mut g.notify_fifo,
        &mut g.vrrp_notify_fifo,
        &mut g.lvs_notify_fifo,
    ]
    .into_iter()
    .flatten()
    {
        clear(&mut f.script);
    }
    for life in [&mut g.startup_script, &mut g.shutdown_script] {
        if life.as_ref().is_some_and(|l| commands.contains(&l.command)) {
            *life = None;
        }
    }
}

/// How `-t` ends: 4 the file is refused, else 6 a script-security problem, else 5
/// problems the daemon runs with, else 0 (notes do not count). As keepalived, whose worst
/// problem wins and the missing `enable_script_security` ranks above every problem it
/// runs with (a file with both ends 6); lvsd's refusal ranks above all, so that 4 always
/// means "lvsd will not run this file".
pub fn test_exit_code(diags: &[Diagnostic]) -> u8 {
    let any = |s: Severity| diags.iter().any(|d| d.severity == s);
    if any(Severity::Error) {
        4
    } else if any(Severity::Security) {
        6
    } else if any(Severity::Warning) {
        5
    } else {
        0
    }
}
