//! Command-line options: keepalived's flags with keepalived's meanings.

use clap::Parser;
use std::path::PathBuf;

/// lvsd: VRRP failover and LVS health checking, a drop-in for keepalived.
#[derive(Debug, Clone, Parser, Default)]
#[command(name = "lvsd", version, about, disable_version_flag = true)]
pub struct Options {
    /// Use the configuration file FILE.
    #[arg(
        short = 'f',
        long = "use-file",
        value_name = "FILE",
        default_value = "/etc/keepalived/keepalived.conf"
    )]
    pub config_file: PathBuf,
    /// Only run the VRRP side.
    #[arg(short = 'P', long = "vrrp")]
    pub vrrp_only: bool,
    /// Only run the health checkers (LVS side).
    #[arg(short = 'C', long = "check")]
    pub check_only: bool,
    /// Do not fork; stay in the foreground.
    #[arg(short = 'n', long = "dont-fork")]
    pub dont_fork: bool,
    /// Log to the console (standard error).
    #[arg(short = 'l', long = "log-console")]
    pub log_console: bool,
    /// Detailed log messages.
    #[arg(short = 'D', long = "log-detail")]
    pub log_detail: bool,
    /// Syslog facility local0..local7.
    #[arg(short = 'S', long = "log-facility", value_name = "0-7",
          value_parser = clap::value_parser!(u8).range(0..=7))]
    pub log_facility: Option<u8>,
    /// Also log to FILE.
    #[arg(short = 'g', long = "log-file", value_name = "FILE")]
    pub log_file: Option<PathBuf>,
    /// Do not log to syslog.
    #[arg(short = 'G', long = "no-syslog")]
    pub no_syslog: bool,
    /// keepalived's "drop VIPs on a transition caused by a reload". Accepted for
    /// compatibility; lvsd keeps VIP ownership over a reload, so an instance leaving MASTER
    /// always removes its VIPs (as keepalived 2.2.7 does with or without -X).
    #[arg(short = 'X', long = "release-vips")]
    pub release_vips: bool,
    /// Do not remove VRRP VIPs and routes on exit.
    #[arg(short = 'V', long = "dont-release-vrrp")]
    pub dont_release_vrrp: bool,
    /// Do not remove IPVS entries on exit.
    #[arg(short = 'I', long = "dont-release-ipvs")]
    pub dont_release_ipvs: bool,
    /// Do not restart a side (VRRP or LVS) that failed: stop lvsd instead.
    #[arg(short = 'R', long = "dont-respawn")]
    pub dont_respawn: bool,
    /// Dump the parsed configuration.
    #[arg(short = 'd', long = "dump-conf")]
    pub dump_conf: bool,
    /// With -d: dump as JSON.
    #[arg(long = "json")]
    pub json: bool,
    /// Main pid file.
    #[arg(
        short = 'p',
        long = "pid",
        value_name = "FILE",
        default_value = "/run/keepalived.pid"
    )]
    pub pid_file: PathBuf,
    /// VRRP pid file.
    #[arg(
        short = 'r',
        long = "vrrp_pid",
        value_name = "FILE",
        default_value = "/run/keepalived_vrrp.pid"
    )]
    pub vrrp_pid_file: PathBuf,
    /// Checkers pid file.
    #[arg(
        short = 'c',
        long = "checkers_pid",
        value_name = "FILE",
        default_value = "/run/keepalived_checkers.pid"
    )]
    pub checkers_pid_file: PathBuf,
    /// Configuration id for `@ID` lines (default: the hostname up to the first dot).
    #[arg(short = 'i', long = "config-id", value_name = "ID")]
    pub config_id: Option<String>,
    /// Test the configuration (of FILE, or of -f) and exit: 0 fine, 4 errors.
    #[arg(short = 't', long = "config-test", value_name = "FILE", num_args = 0..=1,
          require_equals = true, default_missing_value = "", value_parser = any_path)]
    pub config_test: Option<PathBuf>,
    /// Send SIGNAL to the running lvsd (STOP, RELOAD, DATA, STATS, JSON) and exit.
    #[arg(long = "signum", value_name = "SIGNAL")]
    pub signum: Option<String>,
    /// List the IPVS table lvsd manages (like `ipvsadm -Ln`) and exit.
    #[arg(short = 'L', long = "list")]
    pub list: bool,
    /// Print the version and exit.
    #[arg(short = 'v', long = "version")]
    pub version: bool,
}

/// A path that may be empty (clap's PathBuf parser refuses "", which `-t` alone stands for).
fn any_path(s: &str) -> Result<PathBuf, std::convert::Infallible> {
    Ok(PathBuf::from(s))
}

impl Options {
    /// The file `-t` should test: `-t=FILE` if given, else `-f`.
    pub fn config_test_file(&self) -> Option<PathBuf> {
        self.config_test.as_ref().map(|p| {
            if p.as_os_str().is_empty() {
                self.config_file.clone()
            } else {
                p.clone()
            }
        })
    }

    /// Whether the VRRP side runs (not `-C` alone).
    pub fn runs_vrrp(&self) -> bool {
        !self.check_only || self.vrrp_only
    }

    /// Whether the checker / IPVS side runs (not `-P` alone).
    pub fn runs_checkers(&self) -> bool {
        !self.vrrp_only || self.check_only
    }
}
