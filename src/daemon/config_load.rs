//! Reading the configuration for the daemon: at the start and on SIGHUP. A reload whose
//! inputs are all unchanged (the files' bytes, the include patterns' matches, the
//! options, the scripts' and users' checks: see [`crate::config::inputs`]) is not parsed
//! again: the running configuration stands, with the diagnostics its load gave.

use crate::cli::Options;
use crate::config::inputs::FileRead;
use crate::config::{Config, Fingerprint, Loaded};
use std::path::Path;

/// What the running configuration's load gave besides the configuration: what it
/// consulted, its hash, its warnings, and the file's own `net_namespace`.
#[derive(Debug, Clone)]
pub struct LoadRecord {
    fingerprint: Fingerprint,
    /// See [`crate::config::Loaded::sha256`].
    pub sha256: String,
    /// The load's warnings, as logged.
    warnings: Vec<String>,
    /// `net_namespace` as the file sets it (the running configuration keeps the one lvsd
    /// started in).
    pub file_net_namespace: Option<String>,
}

impl LoadRecord {
    /// The record of `loaded`, a load of `opts`' file with `config_id` and `strict`
    /// (its inputs are taken out).
    pub fn of(loaded: &mut Loaded, opts: &Options, config_id: &str, strict: bool) -> LoadRecord {
        LoadRecord {
            fingerprint: Fingerprint {
                file: opts.config_file.clone(),
                config_id: config_id.to_string(),
                strict,
                inputs: std::mem::take(&mut loaded.inputs),
            },
            sha256: loaded.sha256.clone(),
            warnings: loaded.warnings.iter().map(|d| d.to_string()).collect(),
            file_net_namespace: loaded.config.global.net_namespace.clone(),
        }
    }
}

/// What a reload read.
#[derive(Debug)]
pub enum Reread {
    /// A configuration read from the files.
    Read(Box<Config>, Box<LoadRecord>),
    /// Nothing the load reads has changed: a load would give the running configuration.
    Unchanged,
}

/// Reads the configuration file again for SIGHUP, unless `running` (the running
/// configuration's record) shows that nothing it read has changed. A file with errors is
/// refused. `check_log` (the running file's `reload_check_config`): as keepalived, which
/// runs its config test first and reloads only when the test passes, any problem at all
/// refuses the file, and every problem is written to that file — the same when the
/// reading is skipped.
pub fn reread(
    opts: &Options,
    check_log: Option<&Path>,
    running: Option<&LoadRecord>,
) -> anyhow::Result<Reread> {
    let id = opts.chosen_config_id();
    let strict = opts.strict || check_log.is_some();
    let mut given = None;
    if let Some(rec) = running {
        match rec.fingerprint.first_change(&opts.config_file, &id, strict) {
            None => {
                tracing::info!(
                    "Reload: the configuration files are unchanged; keeping the running configuration"
                );
                if let Some(log) = check_log {
                    write_check_log(log, &rec.warnings);
                }
                for w in &rec.warnings {
                    tracing::warn!("{w}");
                }
                return Ok(Reread::Unchanged);
            }
            Some(change) => {
                tracing::info!("Reload: {}: reading the configuration", change.why);
                given = change.main_file;
            }
        }
    }
    let (config, record) = load_config(opts, &id, strict, check_log, given)?;
    Ok(Reread::Read(Box::new(config), Box::new(record)))
}

/// Reads and checks the configuration (see [`reread`]), with its record.
fn load_config(
    opts: &Options,
    id: &str,
    strict: bool,
    check_log: Option<&Path>,
    given: Option<FileRead>,
) -> anyhow::Result<(Config, LoadRecord)> {
    let res = crate::config::load_for_daemon_from(&opts.config_file, id, strict, given);
    if let Some(log) = check_log {
        let diags: Vec<String> = match &res {
            Ok(l) => l.warnings.iter().map(|d| d.to_string()).collect(),
            Err(e) => e
                .errors
                .iter()
                .chain(&e.warnings)
                .map(|d| d.to_string())
                .collect(),
        };
        write_check_log(log, &diags);
    }
    match res {
        Ok(mut loaded) => {
            for w in &loaded.warnings {
                tracing::warn!("{w}");
            }
            let record = LoadRecord::of(&mut loaded, opts, id, strict);
            Ok((loaded.config, record))
        }
        Err(e) => {
            for w in &e.warnings {
                tracing::warn!("{w}");
            }
            match check_log {
                Some(log) => Err(anyhow::anyhow!(
                    "New config failed validation, see {} for details: {e}",
                    log.display()
                )),
                None => Err(anyhow::anyhow!("{e}")),
            }
        }
    }
}

/// `reload_check_config`'s report: one problem a line (empty: none).
fn write_check_log(log: &Path, diags: &[String]) {
    let text: String = diags.iter().map(|d| format!("{d}\n")).collect();
    if let Err(e) = std::fs::write(log, text) {
        tracing::warn!("cannot write the reload check log {}: {e}", log.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser as _;

    fn opts(file: &Path) -> Options {
        let f = file.display().to_string();
        Options::try_parse_from(["lvsd", "-f", f.as_str(), "-i", "lb1"]).expect("options")
    }

    fn write(path: &Path, text: &str) {
        std::fs::write(path, text).expect("test file written");
    }

    fn first_read(o: &Options) -> LoadRecord {
        match reread(o, None, None) {
            Ok(Reread::Read(_, rec)) => *rec,
            Ok(Reread::Unchanged) => panic!("no running record, yet unchanged"),
            Err(e) => panic!("the file does not load: {e:#}"),
        }
    }

    fn unchanged(o: &Options, check_log: Option<&Path>, rec: &LoadRecord) -> bool {
        match reread(o, check_log, Some(rec)) {
            Ok(Reread::Unchanged) => true,
            Ok(Reread::Read(..)) => false,
            Err(e) => panic!("the file does not load: {e:#}"),
        }
    }

    const VS: &str = "virtual_server 10.0.0.1 80 {\n lb_algo rr\n lb_kind NAT\n protocol TCP\n real_server 127.0.0.1 8080 {\n  weight 1\n }\n}\n";

    #[test]
    fn the_same_files_skip_the_read_and_an_edited_include_does_not() {
        let dir = tempfile::tempdir().expect("tempdir");
        let main = dir.path().join("keepalived.conf");
        std::fs::create_dir(dir.path().join("conf.d")).expect("dir");
        write(&main, "include conf.d/*.conf\n");
        write(&dir.path().join("conf.d/a.conf"), VS);
        let o = opts(&main);
        let rec = first_read(&o);
        assert!(unchanged(&o, None, &rec));
        // The included file edited: read again.
        write(
            &dir.path().join("conf.d/a.conf"),
            &VS.replace("weight 1", "weight 2"),
        );
        assert!(!unchanged(&o, None, &rec));
        // Back as it was: unchanged again.
        write(&dir.path().join("conf.d/a.conf"), VS);
        assert!(unchanged(&o, None, &rec));
        // Another file matching the glob: read again.
        write(&dir.path().join("conf.d/b.conf"), "");
        assert!(!unchanged(&o, None, &rec));
    }

    #[test]
    fn other_options_read_the_file_again() {
        let dir = tempfile::tempdir().expect("tempdir");
        let main = dir.path().join("keepalived.conf");
        write(&main, VS);
        let o = opts(&main);
        let rec = first_read(&o);
        let f = main.display().to_string();
        let other_id =
            Options::try_parse_from(["lvsd", "-f", f.as_str(), "-i", "lb2"]).expect("options");
        assert!(!unchanged(&other_id, None, &rec));
        // reload_check_config set since: problems now refuse the file.
        let log = dir.path().join("check.log");
        assert!(!unchanged(&o, Some(&log), &rec));
    }

    #[test]
    fn the_check_log_gets_the_same_report_when_the_read_is_skipped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let main = dir.path().join("keepalived.conf");
        let log = dir.path().join("check.log");
        write(&main, VS);
        let o = opts(&main);
        let rec = match reread(&o, Some(&log), None) {
            Ok(Reread::Read(_, rec)) => *rec,
            other => panic!("not read: {other:?}"),
        };
        write(&log, "stale\n");
        assert!(unchanged(&o, Some(&log), &rec));
        assert_eq!(std::fs::read_to_string(&log).expect("log"), "");
    }

    #[test]
    fn a_file_with_random_values_is_always_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        let main = dir.path().join("keepalived.conf");
        write(&main, &VS.replace("weight 1", "weight ${_RANDOM 1 100}"));
        let o = opts(&main);
        let rec = first_read(&o);
        assert!(!unchanged(&o, None, &rec));
    }
}
