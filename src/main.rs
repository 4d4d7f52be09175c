//! The lvsd binary: keepalived's command line.

use clap::Parser;
use lvsd::cli::Options;
use lvsd::config::{self, Diagnostic};
use std::path::Path;
use std::process::ExitCode;

/// keepalived's exit code for "errors found in the configuration".
const EXIT_CONFIG_ERRORS: u8 = 4;
/// keepalived's exit code for a command line it refuses (an unknown option or signal name).
const EXIT_USAGE: u8 = 1;
/// keepalived's exit code for "cannot run".
const EXIT_CANNOT_RUN: u8 = 3;

fn main() -> ExitCode {
    lvsd::daemon::mark_start();
    let opts = Options::parse();
    if opts.version {
        // On standard error, as keepalived prints it (tools read it there).
        eprint!("{}", lvsd::cli::version_text());
        return ExitCode::SUCCESS;
    }
    if let Some(name) = &opts.signum {
        // keepalived: the number on standard output, exit 0; an unknown name, exit 1.
        return match lvsd::daemon::signals::signum(name) {
            Some(n) => {
                println!("{n}");
                ExitCode::SUCCESS
            }
            None => {
                eprintln!("Unknown sigfunc {name}");
                ExitCode::from(EXIT_USAGE)
            }
        };
    }
    if opts.json && !opts.dump_conf {
        eprintln!("lvsd: --json only goes with -d (--dump-conf); keepalived has no --json option");
        return ExitCode::from(EXIT_USAGE);
    }
    let config_id = opts
        .config_id
        .clone()
        .unwrap_or_else(config::default_config_id);
    if opts.list {
        // Only what lvsd manages: the services of the configuration. Without a readable
        // configuration, say so and list the whole table.
        let managed = match config::load(&opts.config_file, &config_id) {
            Ok(l) => Some(lvsd::lvs::build::managed_service_keys(&l.config)),
            Err(e) => {
                report(&e.errors);
                eprintln!(
                    "lvsd: cannot read {}: listing every IPVS service",
                    opts.config_file.display()
                );
                None
            }
        };
        return match lvsd::ipvs::listing::list_main(&opts, managed.as_ref()) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("lvsd: {e:#}");
                ExitCode::from(EXIT_CANNOT_RUN)
            }
        };
    }
    if let Some(file) = opts.config_test_file() {
        return test_config(&file, &config_id, opts.log_detail);
    }
    // Without a fork ahead (-n, as the systemd unit runs it), logging and the runtime are
    // set up on another thread while the configuration is read.
    let early = lvsd::daemon::Early::start(&opts);
    let loaded = match config::load(&opts.config_file, &config_id) {
        Ok(l) => l,
        Err(e) => {
            report(&e.errors);
            report(&e.warnings);
            return ExitCode::from(EXIT_CONFIG_ERRORS);
        }
    };
    report(&loaded.warnings);
    if opts.dump_conf {
        if opts.json {
            match serde_json::to_string_pretty(&loaded.config) {
                Ok(s) => println!("{s}"),
                Err(e) => {
                    eprintln!("lvsd: cannot write JSON: {e}");
                    return ExitCode::from(EXIT_CANNOT_RUN);
                }
            }
        } else {
            print!("{}", config::print(&loaded.config));
        }
        return ExitCode::SUCCESS;
    }
    match lvsd::daemon::run(opts, loaded.config, early) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lvsd: {e:#}");
            ExitCode::from(EXIT_CANNOT_RUN)
        }
    }
}

/// `-t`: check the file, print every problem, exit 0 (fine) or 4 (errors). With `-D`, also
/// the CPU time each phase of reading it took.
fn test_config(file: &Path, config_id: &str, detail: bool) -> ExitCode {
    let (loaded, phases) = config::load_timed(file, config_id);
    if detail {
        eprintln!(
            "{}: read {:.1?}, preprocess {:.1?}, lex {:.1?}, build {:.1?}, validate {:.1?} (CPU time)",
            file.display(),
            phases.read,
            phases.preprocess,
            phases.lex,
            phases.build,
            phases.validate
        );
    }
    match loaded {
        Ok(loaded) => {
            let errors = config::check_script_security(&loaded);
            report(&errors);
            report(&loaded.warnings);
            if errors.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(EXIT_CONFIG_ERRORS)
            }
        }
        Err(e) => {
            report(&e.errors);
            report(&e.warnings);
            ExitCode::from(EXIT_CONFIG_ERRORS)
        }
    }
}

fn report(diags: &[Diagnostic]) {
    for d in diags {
        eprintln!("{d}");
    }
}
