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
    // First: the allocator's options take effect only before its first allocation.
    lvsd::heap::tune();
    lvsd::control::mark_start();
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
    if let Some(lvsd::cli::Command::Doctor { json, listen }) = &opts.command {
        return ExitCode::from(doctor(&opts, *json, *listen));
    }
    if let Some(lvsd::cli::Command::RealServer { .. }) = &opts.command {
        return ExitCode::from(real_server(&opts));
    }
    if opts.reload_wait {
        use lvsd::daemon::reload_outcome::{reload_and_wait, WaitError, WAIT_LIMIT};
        return match reload_and_wait(&opts.main_pid_file(), WAIT_LIMIT) {
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
    let config_id = opts.chosen_config_id();
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
    let mut loaded = match config::load_for_daemon(&opts.config_file, &config_id, opts.strict) {
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
    let record =
        lvsd::daemon::config_load::LoadRecord::of(&mut loaded, &opts, &config_id, opts.strict);
    match lvsd::daemon::run(opts, loaded.config, record) {
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
    if opts.strict && !diags.is_empty() {
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
        None => print_lines(&lines),
    }
    ExitCode::from(code)
}

fn report(diags: &[Diagnostic]) {
    print_lines(diags);
}

/// Lines to standard error through one buffer: a file with many problems is reported in a
/// few writes, not one per line.
fn print_lines<T: std::fmt::Display>(lines: &[T]) {
    use std::io::Write;
    let mut err = std::io::BufWriter::new(std::io::stderr().lock());
    for l in lines {
        if writeln!(err, "{l}").is_err() {
            return;
        }
    }
    let _ = err.flush();
}

/// `lvsd doctor`: the file's findings on this system; 1 when one is a problem, 4 when the
/// file cannot be read.
fn doctor(opts: &Options, json: bool, listen: u64) -> u8 {
    let id = opts.chosen_config_id();
    let loaded = match lvsd::config::load(&opts.config_file, &id) {
        Ok(l) => l,
        Err(e) => {
            for d in &e.errors {
                eprintln!("{d}");
            }
            return 4;
        }
    };
    let vmacs: Vec<String> = loaded
        .config
        .instances
        .iter()
        .filter_map(|i| {
            let n = i.use_vmac.as_deref()?;
            Some(lvsd::doctor::vmac_name(
                &loaded.config,
                n,
                i.virtual_router_id,
            ))
        })
        .collect();
    let ifs: Vec<&str> = loaded
        .config
        .instances
        .iter()
        .map(|i| i.interface.as_str())
        .chain(vmacs.iter().map(String::as_str))
        .chain(
            loaded
                .config
                .global
                .lvs_sync_daemon
                .iter()
                .map(|s| s.interface.as_str()),
        )
        .collect();
    let mut sys = lvsd::doctor::SystemView::read(&ifs);
    if listen > 0 && !loaded.config.instances.is_empty() {
        let ifaces = loaded
            .config
            .instances
            .iter()
            .map(|i| (i.interface.clone(), i.is_ipv6()))
            .collect();
        sys.adverts = lvsd::doctor::vrid::listen(&ifaces, std::time::Duration::from_secs(listen));
    }
    let mut findings = lvsd::doctor::config_warnings(&loaded.warnings);
    findings.extend(lvsd::doctor::director(&loaded.config, &sys));
    findings.sort_by_key(|f| f.level);
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

/// The real-server plan: of `--vip` when given, else of the file's DR/TUN services as
/// seen from this host's addresses.
fn real_server_plan(opts: &Options) -> Result<lvsd::realserver::plan::Plan, String> {
    use lvsd::cli::{Command, RsMethod};
    use lvsd::realserver::plan::{Method, Plan};
    let Some(Command::RealServer {
        vips,
        method,
        gue_port,
        ..
    }) = &opts.command
    else {
        return Err("not the real-server command".into());
    };
    if !vips.is_empty() {
        let m = match (method, gue_port) {
            (RsMethod::Dr, _) => Method::Dr,
            (RsMethod::Ipip, _) => Method::Ipip,
            (RsMethod::Gre, _) => Method::Gre,
            (RsMethod::Gue, Some(port)) => Method::Gue { port: *port },
            (RsMethod::Gue, None) => return Err("--method gue needs --gue-port".into()),
        };
        return Ok(Plan::for_vips(vips, m));
    }
    let config = real_server_config(opts)?;
    let local = lvsd::doctor::system::local_addrs();
    Ok(Plan::from_config(&config, &local))
}

/// The file of `lvsd real-server`, loaded.
fn real_server_config(opts: &Options) -> Result<lvsd::config::Config, String> {
    let id = opts.chosen_config_id();
    let loaded = lvsd::config::load(&opts.config_file, &id).map_err(|e| {
        e.errors
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join("\n")
    })?;
    Ok(loaded.config)
}

/// The NAT side of the real-server doctor: of the file, unless `--vip` replaces it.
fn real_server_nat(opts: &Options) -> Result<lvsd::doctor::nat_route::NatSide, String> {
    use lvsd::cli::Command;
    let Some(Command::RealServer { vips, .. }) = &opts.command else {
        return Err("not the real-server command".into());
    };
    if !vips.is_empty() {
        return Ok(Default::default());
    }
    let config = real_server_config(opts)?;
    let local = lvsd::doctor::system::local_addrs();
    Ok(lvsd::doctor::nat_route::NatSide::from_config(
        &config, &local,
    ))
}

/// `lvsd real-server [--cleanup] [doctor]`: 0 done (or nothing wrong), 1 a problem or a
/// step that failed, 4 the file cannot be read.
fn real_server(opts: &Options) -> u8 {
    use lvsd::cli::{Command, RealServerAction};
    let Some(Command::RealServer {
        cleanup,
        state_file,
        action,
        ..
    }) = &opts.command
    else {
        return EXIT_USAGE;
    };
    let _ = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .try_init();
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("lvsd: cannot start the runtime: {e}");
            return EXIT_CANNOT_RUN;
        }
    };
    let report_errors = |r: Result<(), Vec<String>>| match r {
        Ok(()) => 0,
        Err(errors) => {
            for e in errors {
                tracing::error!("{e}");
            }
            1
        }
    };
    if *cleanup {
        return report_errors(rt.block_on(lvsd::realserver::cleanup(state_file)));
    }
    let plan = match real_server_plan(opts) {
        Ok(p) => p,
        Err(e) => {
            eprintln!("{e}");
            return EXIT_CONFIG_ERRORS;
        }
    };
    if let Some(RealServerAction::Doctor { json }) = action {
        let nat = match real_server_nat(opts) {
            Ok(n) => n,
            Err(e) => {
                eprintln!("{e}");
                return EXIT_CONFIG_ERRORS;
            }
        };
        let view = lvsd::doctor::real_server::RsView::read(&nat);
        let findings = lvsd::doctor::real_server::real_server(&plan, &nat, &view);
        if *json {
            match serde_json::to_string_pretty(&findings) {
                Ok(t) => println!("{t}"),
                Err(e) => eprintln!("Cannot write the findings as JSON: {e}"),
            }
        } else {
            print!("{}", lvsd::doctor::render(&findings));
        }
        return lvsd::doctor::exit_code(&findings);
    }
    if plan.addresses.is_empty() {
        eprintln!(
            "lvsd: no DR or TUN service in {} (and no --vip): nothing to set up",
            opts.config_file.display()
        );
        return EXIT_CONFIG_ERRORS;
    }
    report_errors(rt.block_on(lvsd::realserver::run(plan, state_file, || {
        real_server_plan(opts)
    })))
}
