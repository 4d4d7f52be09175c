//! What `lvsd real-server` changed, to undo it: the sysctls with their previous values,
//! the addresses it added, the tunnel devices it set up, the fou ports it opened. Kept in
//! memory and in a state file (under /run) written before each change, so that after a
//! `kill -9` the next start or `lvsd real-server --cleanup` puts everything back.

use super::plan::{ConfSysctl, HostAddr};
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The changes made, each recorded before it is made.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Undo {
    /// Sysctls changed and their values before the change (the first one seen).
    pub sysctls: Vec<(ConfSysctl, i64)>,
    /// Addresses added (one that was already there is not listed: it stays).
    pub addresses: Vec<HostAddr>,
    /// Tunnel devices set up (they were down).
    pub links_up: Vec<String>,
    /// GUE ports opened (`ip fou add`), with the family (true: IPv6).
    pub fou_ports: Vec<(u16, bool)>,
}

impl Undo {
    pub fn is_empty(&self) -> bool {
        self.sysctls.is_empty()
            && self.addresses.is_empty()
            && self.links_up.is_empty()
            && self.fou_ports.is_empty()
    }

    /// Records a sysctl's previous value, unless one is already recorded (the value
    /// before lvsd first changed it is the one to restore).
    pub fn note_sysctl(&mut self, s: &ConfSysctl, previous: i64) {
        if !self.sysctls.iter().any(|(k, _)| k == s) {
            self.sysctls.push((s.clone(), previous));
        }
    }

    /// Reads a state file; Ok(None) when there is none.
    pub fn load(path: &Path) -> Result<Option<Undo>, String> {
        match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text)
                .map(Some)
                .map_err(|e| format!("{}: not a state file lvsd wrote: {e}", path.display())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(format!("cannot read {}: {e}", path.display())),
        }
    }

    /// Writes the state file (atomically: a temporary file renamed over it); an empty
    /// record removes the file.
    pub fn save(&self, path: &Path) -> Result<(), String> {
        if self.is_empty() {
            return match std::fs::remove_file(path) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(e) => Err(format!("cannot remove {}: {e}", path.display())),
            };
        }
        let text = serde_json::to_string_pretty(self)
            .map_err(|e| format!("cannot write the state as JSON: {e}"))?;
        let tmp = path.with_extension("tmp");
        std::fs::write(&tmp, text)
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| format!("cannot write {}: {e}", path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_previous_value_is_kept_and_the_file_round_trips() {
        let mut u = Undo::default();
        let s = ConfSysctl::new("all", "arp_ignore");
        u.note_sysctl(&s, 0);
        u.note_sysctl(&s, 1);
        assert_eq!(u.sysctls, [(s, 0)]);
        u.addresses.push(HostAddr {
            addr: "192.0.2.1".parse().expect("ip"),
            prefix_len: 32,
            device: "lo".into(),
        });
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("state.json");
        u.save(&path).expect("save");
        assert_eq!(Undo::load(&path).expect("load"), Some(u));
        Undo::default().save(&path).expect("save empty");
        assert!(!path.exists(), "an empty record removes the file");
        assert_eq!(Undo::load(&path).expect("load"), None);
        std::fs::write(&path, "garbage").expect("write");
        assert!(Undo::load(&path)
            .unwrap_err()
            .contains("not a state file lvsd wrote"));
    }
}
