//! What the metrics endpoint says about the configuration: the running file's hash and
//! when it was loaded, and the reloads (SIGHUP) so far. The daemon's main loop records
//! each step here; the endpoint reads a copy. No I/O: times are given by the caller.

use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The configuration's story since the daemon started.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ConfigStatus {
    /// SHA-256 (hex) of the configuration the sides were last handed.
    pub sha256: String,
    /// Unix time (seconds) at which the running configuration was loaded: the start, or
    /// the last reload every side applied.
    pub loaded_at: f64,
    /// Reloads asked for (SIGHUP handled).
    pub reloads: u64,
    /// Reloads refused (the file has errors or could not be read) or not confirmed
    /// applied by every side in time.
    pub failures: u64,
    /// The last finished reload: how long it took (from SIGHUP to applied or refused) and
    /// whether it was applied.
    pub last: Option<(Duration, bool)>,
}

impl ConfigStatus {
    /// The daemon started with the configuration hashed `sha256` at `now` (Unix seconds).
    pub fn started(sha256: String, now: f64) -> ConfigStatus {
        ConfigStatus {
            sha256,
            loaded_at: now,
            ..Default::default()
        }
    }

    /// SIGHUP received.
    pub fn reload_asked(&mut self) {
        self.reloads += 1;
    }

    /// The reloaded file (hashed `sha256`) was accepted and handed to the sides.
    pub fn reload_handed(&mut self, sha256: String) {
        self.sha256 = sha256;
    }

    /// Every side applied the reload, `took` after the SIGHUP, at `now` (Unix seconds).
    pub fn reload_applied(&mut self, took: Duration, now: f64) {
        self.loaded_at = now;
        self.last = Some((took, true));
    }

    /// The reload was refused, or not confirmed applied, `took` after the SIGHUP.
    pub fn reload_failed(&mut self, took: Duration) {
        self.failures += 1;
        self.last = Some((took, false));
    }
}

/// The status as the daemon shares it with the endpoint.
pub type SharedStatus = Arc<Mutex<ConfigStatus>>;

/// A copy of the shared status (a poisoned lock still holds the last value written).
pub fn snapshot(shared: &SharedStatus) -> ConfigStatus {
    match shared.lock() {
        Ok(s) => s.clone(),
        Err(poisoned) => poisoned.into_inner().clone(),
    }
}

/// Unix time now, in seconds.
pub fn unix_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_reload_keeps_the_running_file() {
        let mut s = ConfigStatus::started("aa".into(), 100.0);
        s.reload_asked();
        s.reload_failed(Duration::from_millis(5));
        assert_eq!(
            (s.sha256.as_str(), s.loaded_at, s.reloads, s.failures),
            ("aa", 100.0, 1, 1)
        );
        assert_eq!(s.last, Some((Duration::from_millis(5), false)));
        s.reload_asked();
        s.reload_handed("bb".into());
        s.reload_applied(Duration::from_millis(40), 200.0);
        assert_eq!(
            (s.sha256.as_str(), s.loaded_at, s.reloads, s.failures),
            ("bb", 200.0, 2, 1)
        );
        assert_eq!(s.last, Some((Duration::from_millis(40), true)));
    }
}
