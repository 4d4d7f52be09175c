//! FILE_CHECK: the number in `track_file` gives the real server's weight.
//!
//! The file's first word is read as an integer `v`. The effective value is `v × weight`
//! (weight 1 when none is written), negated with `reverse`. An effective value above 0
//! means up with that weight (capped at 65535); 0 or below means down. A missing or
//! unreadable file, or one that does not start with an integer, is a failure.

use super::{CheckSettings, Verdict};
use crate::config::FileCheck;

pub async fn check(s: &CheckSettings, f: &FileCheck) -> Verdict {
    let target = s.target();
    let text = match tokio::fs::read_to_string(&f.track_file).await {
        Ok(t) => t,
        Err(e) => {
            return Verdict::down(format!(
                "FILE_CHECK {} for {target}: cannot read: {e}.",
                f.track_file
            ))
        }
    };
    let Some(value) = text
        .split_whitespace()
        .next()
        .and_then(|w| w.parse::<i64>().ok())
    else {
        return Verdict::down(format!(
            "FILE_CHECK {} for {target}: no number in the file.",
            f.track_file
        ));
    };
    let mut effective = value.saturating_mul(i64::from(f.weight.unwrap_or(1)));
    if f.reverse {
        effective = effective.saturating_neg();
    }
    if effective <= 0 {
        Verdict::down(format!(
            "FILE_CHECK {} for {target}: value {effective}, down.",
            f.track_file
        ))
    } else {
        let weight = effective.min(65535) as u32;
        Verdict::Up {
            weight: Some(weight),
            msg: format!(
                "FILE_CHECK {} for {target}: value {effective}, up with weight {weight}.",
                f.track_file
            ),
        }
    }
}
