//! keepalived.conf: preprocessor, pest grammar, typed model and validation.
//!
//! [`load`] reads a file (and its includes) and returns the typed [`Config`] or every
//! problem found, each at `file:line:col`. It only reads files, so the SIGHUP reload path
//! can call it again at any time.

mod build;
mod build_lvs;
mod build_routes;
mod build_vrrp;
pub mod diag;
pub mod keywords;
mod lexer;
pub mod model;
mod preprocess;
pub mod print;
mod validate;

pub use build::ScriptRef;
pub use build_routes::{route_line, rule_line};
pub use diag::{Diagnostic, Severity};
pub use model::*;
pub use print::print;

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

/// [`load`], also returning the time each phase took.
pub fn load_timed(path: &Path, config_id: &str) -> (Result<Loaded, LoadErrors>, Phases) {
    let mut phases = Phases::default();
    let t = thread_cpu();
    let text = std::fs::read_to_string(path);
    phases.read = thread_cpu().saturating_sub(t);
    let res = match text {
        Ok(text) => parse_owned(text, path, config_id, &mut phases),
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
    finish(src, diags, &mut Phases::default())
}

/// Like [`parse_str`], but frees the file's text as soon as it has been preprocessed, so
/// the raw text and the typed model are never in memory together.
fn parse_owned(
    text: String,
    file_name: &Path,
    config_id: &str,
    phases: &mut Phases,
) -> Result<Loaded, LoadErrors> {
    let mut diags = Vec::new();
    let t = thread_cpu();
    let src = preprocess::preprocess_owned(file_name, text, config_id, &mut diags);
    phases.preprocess = thread_cpu().saturating_sub(t);
    finish(src, diags, phases)
}

/// Builds and validates the model from preprocessed text.
fn finish(
    src: preprocess::Source,
    mut diags: Vec<Diagnostic>,
    phases: &mut Phases,
) -> Result<Loaded, LoadErrors> {
    let t = thread_cpu();
    let mut p = build::P::new(&src);
    p.top();
    phases.lex = p.lex_time();
    let build::P {
        diags: more,
        mut config,
        scripts,
        inst_spans,
        ..
    } = p;
    diags.extend(more);
    // Positions are resolved by now; the preprocessed text is no longer needed.
    drop(src);
    config.virtual_servers.shrink_to_fit();
    phases.build = thread_cpu().saturating_sub(t).saturating_sub(phases.lex);
    let t = thread_cpu();
    validate::validate(&config, &inst_spans, &mut diags);
    let (errors, warnings): (Vec<_>, Vec<_>) = diags.into_iter().partition(|d| d.is_error());
    phases.validate = thread_cpu().saturating_sub(t);
    if errors.is_empty() {
        Ok(Loaded {
            config,
            warnings,
            scripts,
        })
    } else {
        Err(LoadErrors { errors, warnings })
    }
}

/// The configuration id keepalived uses by default: the hostname up to its first dot.
pub fn default_config_id() -> String {
    let host = nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_default();
    host.split('.').next().unwrap_or_default().to_string()
}

/// Under `enable_script_security`, every configured script whose program (first word,
/// looked up along PATH) fails [`crate::script::check_secure`] is an error at its location.
pub fn check_script_security(loaded: &Loaded) -> Vec<Diagnostic> {
    if !loaded.config.global.enable_script_security {
        return Vec::new();
    }
    let mut out = Vec::new();
    for s in &loaded.scripts {
        let problem = crate::script::split_command(&s.command)
            .and_then(|words| crate::script::resolve_program(&words[0]))
            .and_then(|path| crate::script::check_secure(&path));
        if let Err(e) = problem {
            out.push(Diagnostic::error(
                s.span.clone(),
                format!("script `{}`: {e}", s.command),
            ));
        }
    }
    out
}
