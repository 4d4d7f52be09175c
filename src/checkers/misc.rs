//! MISC_CHECK: run `misc_path` (split without a shell, as `user`, bounded by
//! `misc_timeout`, else the delay_loop). Exit 0: up; otherwise down — except with
//! `misc_dynamic`, where 1 is down and 2..=255 is up with weight `code − 2`.

use super::{CheckSettings, Verdict};
use crate::config::MiscCheck;
use crate::script::{self, Outcome, Script};

pub async fn check(s: &CheckSettings, m: &MiscCheck) -> Verdict {
    let target = s.target();
    let script = Script {
        command: m.misc_path.clone(),
        user: m.user.clone().or_else(|| s.script_user().cloned()),
        timeout: m.misc_timeout.unwrap_or(s.timing.delay_loop),
        secure: s.script_security(),
    };
    let outcome = match script::run(&script, &[]).await {
        Ok(o) => o,
        Err(e) => return Verdict::down(format!("Misc check for {target} cannot run: {e}.")),
    };
    let cmd = &m.misc_path;
    match outcome {
        Outcome::Exited(0) => Verdict::up(format!("Misc check for [{cmd}] to {target} success.")),
        Outcome::Exited(code) if m.misc_dynamic && (2..=255).contains(&code) => {
            let weight = (code - 2) as u32;
            Verdict::Up {
                weight: Some(weight),
                msg: format!(
                    "Misc check for [{cmd}] to {target} success, exit {code}: weight {weight}."
                ),
            }
        }
        Outcome::Exited(code) => Verdict::down(format!(
            "Misc check for [{cmd}] to {target} failed with exit status {code}."
        )),
        Outcome::Signalled(sig) => Verdict::down(format!(
            "Misc check for [{cmd}] to {target} killed by signal {sig}."
        )),
        Outcome::TimedOut => {
            Verdict::down(format!("Misc check for [{cmd}] to {target} timed out."))
        }
    }
}
