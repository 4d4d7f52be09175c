//! Diagnostics: an error or warning at `file:line:col`.

use super::model::Span;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Severity {
    /// The file is refused (`-t` exit 4).
    Error,
    /// keepalived runs the file with a fallback, and so does lvsd (`-t` exit 5).
    Warning,
    /// A script-security problem only (`-t` exit 6): keepalived runs the file.
    Security,
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
        };
        write!(f, "{}: {}: {}", self.span, sev, self.message)
    }
}
