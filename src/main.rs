//! The lvsd binary: keepalived's command line.

use clap::Parser;
use lvsd::cli::Options;
use lvsd::config::{self, Diagnostic};
use std::process::ExitCode;

/// keepalived's exit code for "errors found in the configuration".
const EXIT_CONFIG_ERRORS: u8 = 4;
/// keepalived's exit code for a command line it refuses (an unknown option or signal name).
const EXIT_USAGE: u8 = 1;
/// keepalived's exit code for "cannot run".
const EXIT_CANNOT_RUN: u8 = 3;

#[global_allocator]
static ALLOCATOR: lvsd::heap::Allocator = lvsd::heap::ALLOCATOR;

fn main() -> ExitCode {
    lvsd::control::mark_start();
    lvsd::heap::bound_malloc_arenas();
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
    if let Some(lvsd::cli::Command::Ctl { ctl_json, cmd }) = &opts.command {
        let path = lvsd::ctl::socket_path(&opts);
        return ExitCode::from(lvsd::ctl::client::run(&path, cmd, *ctl_json));
    }
    if let Some(lvsd::cli::Command::Doctor { json }) = &opts.command {
        return ExitCode::from(doctor(&opts, *json));
    }
    if opts.reload_wait {
        use lvsd::daemon::reload_outcome::{reload_and_wait, WaitError, WAIT_LIMIT};
        return match reload_and_wait(&opts.pid_file, WAIT_LIMIT) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e @ WaitError::Refused(_)) => {
                eprintln!("lvsd: {e}");
                ExitCode::from(EXIT_CONFIG_ERRORS)
            }
            Err(e @ WaitError::Failed(_)) => {
                eprintln!("lvsd: {e}");
                ExitCode::from(EXIT_CANNOT_RUN)
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
    if opts.config_test.is_some() {
        return test_config(&opts, &config_id);
    }
    let loaded = match config::load_for_daemon(&opts.config_file, &config_id, opts.strict) {
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
    match lvsd::daemon::run(opts, loaded.config, loaded.sha256) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lvsd: {e:#}");
            ExitCode::from(EXIT_CANNOT_RUN)
        }
    }
}

/// `-t[=LOG_FILE]`: check `-f`'s file, report every problem (to LOG_FILE if given) and
/// exit as keepalived does: 0 clean, 5 problems the daemon runs with, 6 script-security
/// problems only, 4 the file is refused. With `-D`, also the CPU time each phase took.
fn test_config(opts: &Options, config_id: &str) -> ExitCode {
    let file = &opts.config_file;
    let mut lines = Vec::new();
    let (loaded, phases) = config::load_timed(file, config_id);
    if opts.log_detail {
        lines.push(format!(
            "{}: read {:.1?}, preprocess {:.1?}, lex {:.1?}, build {:.1?}, validate {:.1?} (CPU time)",
            file.display(),
            phases.read,
            phases.preprocess,
            phases.lex,
            phases.build,
            phases.validate
        ));
    }
    let diags = match loaded {
        Ok(mut loaded) => {
            let vetted = config::vet_scripts(&mut loaded);
            let mut all = loaded.warnings;
            all.extend(vetted);
            all
        }
        Err(e) => e.errors.into_iter().chain(e.warnings).collect(),
    };
    lines.extend(diags.iter().map(|d| d.to_string()));
    let mut code = config::test_exit_code(&diags);
    if opts.strict && code != 0 {
        lines.push(format!("{}: refused: --strict", file.display()));
        code = EXIT_CONFIG_ERRORS;
    }
    match opts.config_test_log() {
        Some(log) => {
            let mut text = lines.join("\n");
            if !text.is_empty() {
                text.push('\n');
            }
            if let Err(e) = std::fs::write(&log, text) {
                eprintln!("lvsd: cannot write {}: {e}", log.display());
            }
        }
        None => {
            for l in &lines {
                eprintln!("{l}");
            }
        }
    }
    ExitCode::from(code)
}

fn report(diags: &[Diagnostic]) {
    for d in diags {
        eprintln!("{d}");
    }
}

/// `lvsd doctor`: the file's findings on this system; 1 when one is a problem, 4 when the
/// file cannot be read.
fn doctor(opts: &Options, json: bool) -> u8 {
    let id = opts
        .config_id
        .clone()
        .unwrap_or_else(lvsd::config::default_config_id);
    let loaded = match lvsd::config::load(&opts.config_file, &id) {
        Ok(l) => l,
        Err(e) => {
            for d in &e.errors {
                eprintln!("{d}");
            }
            return 4;
        }
    };
    let ifs: Vec<&str> = loaded
        .config
        .instances
        .iter()
        .map(|i| i.interface.as_str())
        .collect();
    let sys = lvsd::doctor::SystemView::read(&ifs);
    let findings = lvsd::doctor::director(&loaded.config, &sys);
    if json {
        match serde_json::to_string_pretty(&findings) {
            Ok(t) => println!("{t}"),
            Err(e) => eprintln!("Cannot write the findings as JSON: {e}"),
        }
    } else {
        print!("{}", lvsd::doctor::render(&findings));
    }
    lvsd::doctor::exit_code(&findings)
}
