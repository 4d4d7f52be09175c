//! Tests that need root (network namespaces, raw and ICMP sockets, dpkg, the qemu rig,
//! files owned by root) begin with
//!
//! ```ignore
//! if skip_without_root("network namespaces") {
//!     return;
//! }
//! ```
//!
//! As root nothing is skipped, whatever the environment says: CI runs as root and runs
//! everything. Not root, with `LVSD_SKIP_ROOT=1` (`LVSD_SKIP_ROOT=1 cargo test`), the test
//! prints `skipped: needs root (WHY): TEST` on stderr, past the test harness's capture, and
//! passes; without it the test fails and says how to run or skip it.
//!
//! Included with `mod support;` (re-exported there) or `#[path = "support/root.rs"] mod root;`.
#![allow(dead_code)]

use std::io::Write;

/// The variable that lets a developer without root skip the tests that need it.
pub const SKIP_VAR: &str = "LVSD_SKIP_ROOT";

/// True when the calling test should return now: not root and `LVSD_SKIP_ROOT=1`.
/// Panics when not root and not asked to skip. `why` names what needs root.
pub fn skip_without_root(why: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return false;
    }
    let test = std::thread::current()
        .name()
        .map(|n| format!(": {n}"))
        .unwrap_or_default();
    if std::env::var_os(SKIP_VAR).is_some_and(|v| v == "1") {
        // io::stderr() directly: the harness captures only the print macros, and a skip
        // must be seen; one write, so that parallel tests do not interleave their lines.
        let line = format!("skipped: needs root ({why}){test}\n");
        let _ = std::io::stderr().write_all(line.as_bytes());
        return true;
    }
    panic!(
        "this test needs root ({why}){test}: run it as root, or set {SKIP_VAR}=1 to skip \
         the tests that need root (`{SKIP_VAR}=1 cargo test`)"
    );
}
