//! The `vrrp_track_process` adapter: counts the running processes that match each tracked
//! definition by scanning /proc once a second (keepalived follows the kernel's process
//! events and scans /proc at start; lvsd only scans, so a change is seen within a second),
//! and sends [`Event::TrackProcess`] when a quorum is gained or lost (after `fork_delay` /
//! `terminate_delay`, see [`ProcessQuorum`]).
//!
//! Matching as keepalived 2.2.7: the process name (`comm`, at most 15 characters) equals
//! `process`, or with `full_command` (or arguments, or `param_match`) argv[0] of
//! /proc/PID/cmdline does and the arguments compare as `param_match` says. Zombies do not
//! count.

use crate::config::model::{Config, ParamMatch, TrackProcessDef};
use crate::vrrp::state::Event;
use crate::vrrp::track::ProcessQuorum;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How often /proc is scanned.
const POLL: Duration = Duration::from_secs(1);

/// What one definition matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matcher {
    pub name: String,
    process: String,
    /// The configured arguments, each followed by a NUL (as in /proc/PID/cmdline).
    params: Vec<u8>,
    param_match: ParamMatch,
    full_command: bool,
}

impl Matcher {
    pub fn new(d: &TrackProcessDef) -> Matcher {
        let mut params = Vec::new();
        for a in &d.params {
            params.extend_from_slice(a.as_bytes());
            params.push(0);
        }
        Matcher {
            name: d.name.clone(),
            process: d.process.clone(),
            params,
            param_match: d.param_match,
            full_command: d.full_command,
        }
    }

    /// Whether a process with this `comm` and this cmdline matches.
    pub fn matches(&self, comm: &str, cmdline: &[u8]) -> bool {
        if !self.full_command {
            return comm == self.process;
        }
        let end = cmdline
            .iter()
            .position(|b| *b == 0)
            .unwrap_or(cmdline.len());
        if &cmdline[..end] != self.process.as_bytes() {
            return false;
        }
        let args = cmdline.get(end + 1..).unwrap_or(&[]);
        let want = &self.params[..];
        match self.param_match {
            ParamMatch::None => true,
            ParamMatch::Exact => args == want,
            ParamMatch::Partial => args.starts_with(want),
            // The last configured argument may be a prefix of the command's.
            ParamMatch::Initial => {
                want.is_empty() || args.starts_with(&want[..want.len().saturating_sub(1)])
            }
        }
    }
}

/// `comm` of a /proc/PID/stat line and whether the process is a zombie.
pub fn parse_stat(stat: &str) -> Option<(&str, bool)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?;
    let zombie = stat.get(close + 1..)?.trim_start().starts_with('Z');
    Some((comm, zombie))
}

/// How many running processes each matcher matches now.
pub fn scan(matchers: &[Matcher]) -> Vec<u32> {
    let mut counts = vec![0u32; matchers.len()];
    let need_cmdline = matchers.iter().any(|m| m.full_command);
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return counts;
    };
    for ent in dir.flatten() {
        let name = ent.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|s| s.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        let Some((comm, zombie)) = parse_stat(&stat) else {
            continue;
        };
        if zombie {
            continue;
        }
        let cmdline = if need_cmdline {
            std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default()
        } else {
            Vec::new()
        };
        for (m, c) in matchers.iter().zip(&mut counts) {
            if m.matches(comm, &cmdline) {
                *c += 1;
            }
        }
    }
    counts
}

/// The definitions some instance or sync group tracks.
fn tracked(config: &Config) -> Vec<TrackProcessDef> {
    let used = |name: &str| {
        config
            .instances
            .iter()
            .any(|i| i.track_process.iter().any(|r| r.name == name))
            || config
                .sync_groups
                .iter()
                .any(|g| g.track_process.iter().any(|r| r.name == name))
    };
    let mut out: Vec<TrackProcessDef> = Vec::new();
    for d in &config.track_processes {
        if used(&d.name) && !out.iter().any(|o| o.name == d.name) {
            out.push(d.clone());
        }
    }
    out
}

/// Whether each tracked process has its quorum now, for the machines before they start.
pub fn initial_events(config: &Config) -> Vec<Event> {
    let defs = tracked(config);
    if defs.is_empty() {
        return Vec::new();
    }
    let matchers: Vec<Matcher> = defs.iter().map(Matcher::new).collect();
    let counts = scan(&matchers);
    defs.iter()
        .zip(counts)
        .map(|(d, n)| Event::TrackProcess {
            name: d.name.clone(),
            up: (d.quorum..=d.quorum_max).contains(&n),
        })
        .collect()
}

/// Scans /proc every second for the tracked processes (None when nothing is tracked).
/// The first scan's quorums are sent at once.
pub fn spawn(config: &Config, tx: &mpsc::Sender<Event>) -> Option<JoinHandle<()>> {
    let defs = tracked(config);
    if defs.is_empty() {
        return None;
    }
    let tx = tx.clone();
    Some(tokio::spawn(async move {
        let matchers: Vec<Matcher> = defs.iter().map(Matcher::new).collect();
        let mut quorums: Vec<ProcessQuorum> = Vec::new();
        loop {
            let m = matchers.clone();
            let Ok(counts) = tokio::task::spawn_blocking(move || scan(&m)).await else {
                return;
            };
            let now = Instant::now();
            let mut events = Vec::new();
            if quorums.is_empty() {
                for (d, n) in defs.iter().zip(&counts) {
                    let q = ProcessQuorum::new(
                        d.quorum,
                        d.quorum_max,
                        d.fork_delay.unwrap_or_default(),
                        d.terminate_delay.unwrap_or_default(),
                        *n,
                    );
                    events.push(Event::TrackProcess {
                        name: d.name.clone(),
                        up: q.have_quorum(),
                    });
                    quorums.push(q);
                }
            } else {
                for ((d, q), n) in defs.iter().zip(&mut quorums).zip(&counts) {
                    if let Some(up) = q.update(*n, now) {
                        tracing::info!(
                            "Quorum {} for tracked process {} ({n} running, quorum {}..{})",
                            if up { "gained" } else { "lost" },
                            d.name,
                            d.quorum,
                            if d.quorum_max == u32::MAX {
                                "unlimited".to_string()
                            } else {
                                d.quorum_max.to_string()
                            }
                        );
                        events.push(Event::TrackProcess {
                            name: d.name.clone(),
                            up,
                        });
                    }
                }
            }
            for ev in events {
                if tx.send(ev).await.is_err() {
                    return;
                }
            }
            let next = quorums
                .iter()
                .filter_map(ProcessQuorum::deadline)
                .fold(now + POLL, Instant::min);
            tokio::time::sleep_until(tokio::time::Instant::from_std(next)).await;
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::Span;

    fn def(process: &str, params: &[&str], pm: ParamMatch, full: bool) -> TrackProcessDef {
        TrackProcessDef {
            process: process.into(),
            params: params.iter().map(|s| s.to_string()).collect(),
            param_match: pm,
            full_command: full,
            ..TrackProcessDef::new(Span::default(), "t".into())
        }
    }

    #[test]
    fn matching_as_keepalived() {
        let cmd = b"/usr/bin/python3\0-m\0http.server\08080\0";
        let m = Matcher::new(&def("python3", &[], ParamMatch::None, false));
        assert!(m.matches("python3", cmd));
        assert!(!m.matches("python", cmd));
        let m = Matcher::new(&def("/usr/bin/python3", &[], ParamMatch::None, true));
        assert!(m.matches("whatever", cmd));
        assert!(!m.matches("python3", b"python3\0"));
        let exact = |p: &[&str]| Matcher::new(&def("/usr/bin/python3", p, ParamMatch::Exact, true));
        assert!(exact(&["-m", "http.server", "8080"]).matches("", cmd));
        assert!(!exact(&["-m", "http.server"]).matches("", cmd));
        assert!(!exact(&[]).matches("", cmd));
        assert!(exact(&[]).matches("", b"/usr/bin/python3\0"));
        let partial =
            |p: &[&str]| Matcher::new(&def("/usr/bin/python3", p, ParamMatch::Partial, true));
        assert!(partial(&["-m", "http.server"]).matches("", cmd));
        assert!(!partial(&["-m", "http.serv"]).matches("", cmd));
        assert!(partial(&[]).matches("", cmd));
        let initial =
            |p: &[&str]| Matcher::new(&def("/usr/bin/python3", p, ParamMatch::Initial, true));
        assert!(initial(&["-m", "http.serv"]).matches("", cmd));
        assert!(!initial(&["-m", "https"]).matches("", cmd));
        assert!(initial(&[]).matches("", cmd));
    }

    #[test]
    fn stat_lines() {
        assert_eq!(parse_stat("12 (sleep) S 1 2 3"), Some(("sleep", false)));
        assert_eq!(parse_stat("12 (a) b)) Z 1"), Some(("a) b)", true)));
        assert_eq!(parse_stat("garbage"), None);
    }

    #[test]
    fn scan_counts_this_process() {
        let comm = std::fs::read_to_string("/proc/self/comm").unwrap_or_default();
        let mut d = def(comm.trim_end(), &[], ParamMatch::None, false);
        d.name = "self".into();
        let n = scan(&[Matcher::new(&d)]);
        assert!(n[0] >= 1, "{n:?}");
    }
}
