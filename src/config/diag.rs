//! Diagnostics: an error or warning at `file:line:col`.

use super::model::Span;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Severity {
    /// The file is refused (`-t` exit 4).
    Error,
    /// keepalived runs the file with a fallback, and so does lvsd (`-t` exit 5).
    Warning,
    /// A script-security problem (`-t` exit 6): keepalived runs the file.
    Security,
    /// Something keepalived finds only once it runs (a notify or MISC_CHECK script that
    /// is missing: "Script … cannot be accessed" in its log at start), which its `-t`
    /// neither prints nor counts. lvsd's `-t` prints it and exits as keepalived's;
    /// `--strict` refuses it like any problem.
    Note,
}

/// One problem found in a configuration, printed as `file:line:col: error: message`.
#[derive(Debug, Clone, Serialize)]
pub struct Diagnostic {
    pub span: Span,
    pub severity: Severity,
    pub message: String,
}

impl Diagnostic {
    pub fn error(span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            span,
            severity: Severity::Error,
            message: message.into(),
        }
    }
    pub fn warning(span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            span,
            severity: Severity::Warning,
            message: message.into(),
        }
    }
    pub fn note(span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            span,
            severity: Severity::Note,
            message: message.into(),
        }
    }
    pub fn security(span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            span,
            severity: Severity::Security,
            message: message.into(),
        }
    }
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl std::fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Security => "security",
            Severity::Note => "note",
        };
        write!(f, "{}: {}: {}", self.span, sev, self.message)
    }
}

/// One diagnostic for each problem, however often the text repeats it: a line inside a
/// `~SEQ` or a multi-line parameter makes many statements with the same position, and a
/// mistake in it would otherwise be reported once per statement (a million times for a
/// `~SEQ` of a million). The first report stays where it was, and says how often it
/// happened.
pub fn fold_repeats(diags: Vec<Diagnostic>) -> Vec<Diagnostic> {
    use std::collections::HashMap;
    type Key = (
        std::sync::Arc<std::path::PathBuf>,
        u32,
        u32,
        Severity,
        String,
    );
    let mut first: HashMap<Key, (usize, usize)> = HashMap::new();
    let mut out: Vec<Diagnostic> = Vec::with_capacity(diags.len());
    for d in diags {
        let key = (
            d.span.file.clone(),
            d.span.line,
            d.span.col,
            d.severity,
            d.message.clone(),
        );
        match first.get_mut(&key) {
            Some((_, times)) => *times += 1,
            None => {
                first.insert(key, (out.len(), 1));
                out.push(d);
            }
        }
    }
    for (at, times) in first.into_values() {
        if times > 1 {
            out[at].message.push_str(&format!(" ({times} times)"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;
    use std::sync::Arc;

    fn at(file: &Arc<PathBuf>, line: u32) -> Span {
        Span {
            file: file.clone(),
            line,
            col: 1,
        }
    }

    #[test]
    fn repeats_fold_into_the_first_with_a_count() {
        let f = Arc::new(PathBuf::from("k.conf"));
        let g = Arc::new(PathBuf::from("other.conf"));
        let diags = vec![
            Diagnostic::warning(at(&f, 3), "unknown keyword `foo`"),
            Diagnostic::warning(at(&f, 4), "unknown keyword `bar`"),
            Diagnostic::warning(at(&f, 3), "unknown keyword `foo`"),
            Diagnostic::error(at(&f, 3), "unknown keyword `foo`"),
            Diagnostic::warning(at(&g, 3), "unknown keyword `foo`"),
            Diagnostic::warning(at(&f, 3), "unknown keyword `foo`"),
        ];
        let out: Vec<String> = fold_repeats(diags).iter().map(|d| d.to_string()).collect();
        assert_eq!(
            out,
            [
                "k.conf:3:1: warning: unknown keyword `foo` (3 times)",
                "k.conf:4:1: warning: unknown keyword `bar`",
                "k.conf:3:1: error: unknown keyword `foo`",
                "other.conf:3:1: warning: unknown keyword `foo`",
            ]
        );
    }
}
