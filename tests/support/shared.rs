//! The shared material beside the repository (`../shared`): operators' real configuration
//! files and keepalived's reference dumps, read from there and never copied in. CI clones
//! the project beside it, so there a missing directory fails the test and says why;
//! elsewhere the tests that need it print SKIP and pass.
//!
//! Included with `mod support;` (as `support::shared`) or
//! `#[path = "support/shared.rs"] mod shared;`.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

/// `../shared/REL` next to the repository, or the directory the variable `overridden_by`
/// names when it is set; `None` (after a SKIP line) when it is not there outside CI.
pub fn dir(rel: &str, overridden_by: Option<&str>) -> Option<PathBuf> {
    let dir = overridden_by
        .and_then(std::env::var_os)
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../shared")
                .join(rel)
        });
    if dir.is_dir() {
        return Some(dir);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "CI runs with shared/ beside the repository: {} is missing",
        dir.display()
    );
    let hint = overridden_by
        .map(|v| format!(" (set {v})"))
        .unwrap_or_default();
    eprintln!("SKIP: {} is not here{hint}", dir.display());
    None
}
