//! Command-line options: keepalived's flags with keepalived's meanings.

use clap::Parser;
use std::path::PathBuf;

/// lvsd: VRRP failover and LVS health checking, a drop-in for keepalived.
#[derive(Debug, Clone, Parser, Default)]
// args_override_self: a repeated option takes its last value, as keepalived's getopt does
// (the init script passes -f and -p before /etc/default/lvsd's DAEMON_ARGS).
#[command(
    name = "lvsd",
    version,
    about,
    disable_version_flag = true,
    args_override_self = true
)]
pub struct Options {
    /// Use the configuration file FILE.
    #[arg(
        short = 'f',
        long = "use-file",
        value_name = "FILE",
        default_value = "/etc/keepalived/keepalived.conf",
        global = true
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
    /// umask for the files lvsd creates (numeric: 0177, 0x7f, 127); wins over the file's
    /// `umask`.
    #[arg(short = 'u', long = "umask", value_name = "MASK", value_parser = parse_umask_arg)]
    pub umask: Option<u32>,
    /// Do not remove VRRP VIPs and routes on exit.
    #[arg(short = 'V', long = "dont-release-vrrp")]
    pub dont_release_vrrp: bool,
    /// Do not remove IPVS entries on exit.
    #[arg(short = 'I', long = "dont-release-ipvs")]
    pub dont_release_ipvs: bool,
    /// How often the LVS side reads the kernel's IPVS table back and puts back what it owns
    /// that someone else deleted or changed (`ipvsadm -C`, `-d`, `-e`): seconds, 0 for
    /// never (default 5; an lvsd extension: keepalived does not heal its table).
    #[arg(long = "ipvs-heal-interval", value_name = "SECS")]
    pub ipvs_heal_interval: Option<u64>,
    /// Do not restart a side (VRRP or LVS) that failed: stop lvsd instead.
    #[arg(short = 'R', long = "dont-respawn")]
    pub dont_respawn: bool,
    /// Dump the parsed configuration.
    #[arg(short = 'd', long = "dump-conf")]
    pub dump_conf: bool,
    /// With -d: dump as JSON (an lvsd extension: keepalived has no --json; alone it is an
    /// error).
    #[arg(long = "json")]
    pub json: bool,
    /// Main pid file (default /run/keepalived.pid; under /run/keepalived/ with `use_pid_dir`,
    /// `instance` or `net_namespace`, as keepalived).
    #[arg(short = 'p', long = "pid", value_name = "FILE")]
    pub pid_file: Option<PathBuf>,
    /// VRRP pid file (default /run/keepalived_vrrp.pid; under /run/keepalived/ with `use_pid_dir`,
    /// `instance` or `net_namespace`, as keepalived).
    #[arg(short = 'r', long = "vrrp_pid", value_name = "FILE")]
    pub vrrp_pid_file: Option<PathBuf>,
    /// Checkers pid file (default /run/keepalived_checkers.pid; under /run/keepalived/ with `use_pid_dir`,
    /// `instance` or `net_namespace`, as keepalived).
    #[arg(short = 'c', long = "checkers_pid", value_name = "FILE")]
    pub checkers_pid_file: Option<PathBuf>,
    /// Configuration id for `@ID` lines (default: the hostname up to the first dot).
    #[arg(short = 'i', long = "config-id", value_name = "ID")]
    pub config_id: Option<String>,
    /// Test the configuration of -f and exit, writing the report to LOG_FILE if given
    /// (else standard error): 0 clean, 5 problems lvsd runs with (as keepalived),
    /// 6 script-security problems only, 4 the file is refused.
    #[arg(short = 't', long = "config-test", value_name = "LOG_FILE", num_args = 0..=1,
          require_equals = true, default_missing_value = "", value_parser = any_path)]
    pub config_test: Option<PathBuf>,
    /// Refuse a configuration with any problem at all, also those keepalived (and lvsd
    /// without this) runs with: for checking files in CI.
    #[arg(long = "strict")]
    pub strict: bool,
    /// Print the number of the signal for SIGFUNC (STOP, RELOAD, DATA, STATS, STATS_CLEAR,
    /// JSON), as keepalived does, and exit.
    #[arg(long = "signum", value_name = "SIGFUNC")]
    pub signum: Option<String>,
    /// Tell the running lvsd (its pid from -p's file) to reload, wait until the new file
    /// is applied or refused, and exit: 0 applied, 4 refused (the reason on standard
    /// error), 3 no answer. For systemd's ExecReload and the init script (an lvsd
    /// extension: keepalived has no such option).
    #[arg(long = "reload-wait")]
    pub reload_wait: bool,
    /// List the IPVS table lvsd manages (like `ipvsadm -Ln`) and exit.
    #[arg(short = 'L', long = "list")]
    pub list: bool,
    /// Print the version and exit.
    #[arg(short = 'v', long = "version")]
    pub version: bool,
    /// The control socket the daemon listens on and `lvsd ctl` talks to (default: the
    /// main pid file's path with `.ctl`, e.g. /run/keepalived.ctl; an lvsd extension).
    #[arg(long = "control-socket", value_name = "PATH")]
    pub control_socket: Option<PathBuf>,
    /// Serve Prometheus metrics on http://ADDR:PORT/metrics (off unless given; an lvsd
    /// extension), e.g. 127.0.0.1:9650 or [::1]:9650.
    #[arg(long = "metrics-listen", value_name = "ADDR:PORT")]
    pub metrics_listen: Option<std::net::SocketAddr>,
    /// `lvsd ctl …`: talk to the running daemon (an lvsd extension).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What lvsd does instead of running the daemon.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum Command {
    /// Ask the running lvsd over its control socket: its state, drain / disable / enable
    /// a real server, or plan a reload.
    Ctl {
        /// Print the daemon's JSON answer as it is.
        #[arg(long = "json", global = true)]
        ctl_json: bool,
        #[command(subcommand)]
        cmd: CtlCommand,
    },
    /// Check the live system against the configuration (`-f`): IPVS and its schedulers,
    /// forwarding for NAT, NAT real servers on its networks, localnode, the expiry sysctls, the sync daemon's interface, the
    /// VRRP interfaces' reverse-path filter, VRRP adverts dropped by nftables or
    /// iptables-legacy rules, other routers on the VRIDs, the file's warnings. Each
    /// problem with its consequence and fix; exit 1 when any is a problem.
    Doctor {
        /// The findings as JSON.
        #[arg(long = "json")]
        json: bool,
        /// Listen this many seconds for other routers' adverts on each VRRP interface
        /// (0: not at all).
        #[arg(long = "listen", value_name = "SECS", default_value_t = 3)]
        listen: u64,
    },
    /// Set this host up as a real server of the DR and TUN services of the file (`-f`),
    /// or of the `--vip` addresses: each VIP on `lo` (DR) or the tunnel device (TUN) as
    /// a /32 or /128, the tunnel module loaded, ARP for the VIPs not answered
    /// (arp_ignore=1, arp_announce=2), the tunnel's rp_filter relaxed. Runs until
    /// SIGTERM/SIGINT, then undoes everything; SIGHUP reads the file again.
    #[command(name = "real-server")]
    RealServer {
        /// A VIP to set up instead of the file's services (repeatable).
        #[arg(long = "vip", value_name = "ADDR")]
        vips: Vec<std::net::IpAddr>,
        /// How the director forwards to the `--vip` addresses.
        #[arg(long = "method", value_enum, default_value = "dr")]
        method: RsMethod,
        /// The GUE port of `--method gue`.
        #[arg(long = "gue-port", value_name = "PORT")]
        gue_port: Option<u16>,
        /// Undo what the state file records (a run killed with -9) and exit.
        #[arg(long = "cleanup")]
        cleanup: bool,
        /// Where the changes to undo are recorded.
        #[arg(long = "state-file", value_name = "PATH", default_value = DEFAULT_RS_STATE_FILE)]
        state_file: PathBuf,
        #[command(subcommand)]
        action: Option<RealServerAction>,
    },
}

/// Where `lvsd real-server` records what it changed, by default.
pub const DEFAULT_RS_STATE_FILE: &str = "/run/lvsd-real-server.json";

/// `lvsd real-server --method`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RsMethod {
    Dr,
    Ipip,
    Gue,
    Gre,
}

/// What `lvsd real-server` does instead of the setup.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum RealServerAction {
    /// Check this real server: the VIPs on lo or the tunnel device with a host mask, the
    /// tunnel device up, the GUE port open, ARP not answered for the VIPs, the tunnel's
    /// rp_filter, a service listening on the VIP, a NAT real server's replies routed
    /// through the director. Exit 1 when any is a problem.
    Doctor {
        /// The findings as JSON.
        #[arg(long = "json")]
        json: bool,
    },
}

/// A path that may be empty (clap's PathBuf parser refuses "", which `-t` alone stands for).
fn any_path(s: &str) -> Result<PathBuf, std::convert::Infallible> {
    Ok(PathBuf::from(s))
}

impl Options {
    /// The configuration id a load uses (what `@ID` lines select): `-i`, else the
    /// hostname up to its first dot.
    pub fn chosen_config_id(&self) -> String {
        self.config_id.clone().unwrap_or_else(|| {
            let host = nix::unistd::gethostname()
                .ok()
                .and_then(|h| h.into_string().ok())
                .unwrap_or_default();
            host.split('.').next().unwrap_or_default().to_string()
        })
    }

    /// Where `-t` writes its report: `-t=LOG_FILE`, or None for standard error.
    pub fn config_test_log(&self) -> Option<PathBuf> {
        self.config_test
            .as_ref()
            .filter(|p| !p.as_os_str().is_empty())
            .cloned()
    }

    /// The period of the LVS side's heal pass (None: never).
    pub fn ipvs_heal_period(&self) -> Option<std::time::Duration> {
        match self.ipvs_heal_interval.unwrap_or(DEFAULT_IPVS_HEAL_SECS) {
            0 => None,
            s => Some(std::time::Duration::from_secs(s)),
        }
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

/// Seconds between two heal passes of the IPVS table unless `--ipvs-heal-interval` says.
pub const DEFAULT_IPVS_HEAL_SECS: u64 = 5;

/// The keepalived release whose command line, signals and dump files lvsd follows.
pub const KEEPALIVED_COMPAT_VERSION: &str = "2.2.7";

/// What `lvsd -v` prints (on standard error, as keepalived does). Tools read keepalived's
/// version from the first word after `Keepalived` on the first line (`v2.2.7`), and look for
/// `--enable-json` among the build options before they use the JSON signal; the rest says
/// that this is lvsd, and which.
pub fn version_text() -> String {
    format!(
        "Keepalived v{KEEPALIVED_COMPAT_VERSION} (lvsd {lvsd}, compatible with keepalived {KEEPALIVED_COMPAT_VERSION})\n\
         \n\
         lvsd {lvsd}: VRRP and LVS health checking, a drop-in for keepalived\n\
         \n\
         configure options: --enable-json\n\
         \n\
         Config options:  LVS VRRP VRRP_AUTH VRRP_VMAC JSON\n",
        lvsd = env!("CARGO_PKG_VERSION"),
    )
}

/// How long `lvsd ctl drain` waits for a real server's connections by default (s).
pub const DEFAULT_DRAIN_TIMEOUT: u64 = 300;

/// `lvsd ctl …`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum CtlCommand {
    /// Print the whole state: VRRP instances, real servers and their checkers, and the
    /// IPVS table lvsd manages.
    State,
    /// Give a real server weight 0, and remove it once it has no active connection or
    /// the timeout passes (it stays out until `enable`).
    Drain {
        /// The virtual service: [tcp:|udp:|sctp:]VIP:PORT, [V6]:PORT or fwmark:MARK.
        service: String,
        /// The real server: RIP:PORT, [V6]:PORT or its address alone.
        server: String,
        /// Remove it after this many seconds even with connections left.
        #[arg(long, value_name = "SECONDS", default_value_t = DEFAULT_DRAIN_TIMEOUT)]
        timeout: u64,
    },
    /// Take a real server out of rotation (kept across reloads until `enable`).
    Disable {
        /// The virtual service: [tcp:|udp:|sctp:]VIP:PORT, [V6]:PORT or fwmark:MARK.
        service: String,
        /// The real server: RIP:PORT, [V6]:PORT or its address alone.
        server: String,
    },
    /// Put a disabled or draining real server back into rotation.
    Enable {
        /// The virtual service: [tcp:|udp:|sctp:]VIP:PORT, [V6]:PORT or fwmark:MARK.
        service: String,
        /// The real server: RIP:PORT, [V6]:PORT or its address alone.
        server: String,
    },
    /// Show what reloading with FILE would change (IPVS operations, VRRP changes),
    /// without applying anything.
    Plan {
        /// The configuration file to compare with the running one.
        file: PathBuf,
    },
}

/// A number as C's strtoul with base 0 reads it: `0x…` hex, `0…` octal, else decimal.
/// keepalived's default main pid file (RUNSTATEDIR /run).
pub const DEFAULT_MAIN_PID_FILE: &str = "/run/keepalived.pid";

impl Options {
    /// The main pid file: -p's, else keepalived's default (the daemon puts the one it
    /// writes back here, see `daemon::pidfile::pid_paths`).
    pub fn main_pid_file(&self) -> PathBuf {
        self.pid_file
            .clone()
            .unwrap_or_else(|| PathBuf::from(DEFAULT_MAIN_PID_FILE))
    }
}

pub fn parse_c_number(s: &str) -> Option<u32> {
    if let Some(h) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        u32::from_str_radix(h, 16).ok()
    } else if s.len() > 1 && s.starts_with('0') {
        u32::from_str_radix(&s[1..], 8).ok()
    } else {
        s.parse().ok()
    }
}

fn parse_umask_arg(s: &str) -> Result<u32, String> {
    parse_c_number(s)
        .filter(|m| *m <= 0o777)
        .ok_or_else(|| format!("`{s}` is not a umask (0 to 0777, e.g. 0177)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// mehdy/keepalived-exporter (internal/types/utils/version.go) takes the first line of
    /// `keepalived -v`'s standard error, splits it on spaces and parses the second field
    /// without its first character as a version; it needs a second line to exist.
    #[test]
    fn version_parses_as_keepalived_does() {
        let text = version_text();
        let (first, rest) = text.split_once('\n').expect("two lines at least");
        assert!(!rest.is_empty());
        let fields: Vec<&str> = first.split(' ').collect();
        assert_eq!(fields[0], "Keepalived");
        assert_eq!(&fields[1][1..], KEEPALIVED_COMPAT_VERSION);
        assert!(fields[1].starts_with('v'));
        // Its JSON mode is allowed only when `keepalived --version` mentions --enable-json.
        assert!(text.contains("--enable-json"));
        assert!(text.contains(&format!("lvsd {}", env!("CARGO_PKG_VERSION"))));
    }

    #[test]
    fn a_repeated_option_takes_its_last_value() {
        let o = Options::try_parse_from(["lvsd", "-f", "/a", "-p", "/x.pid", "-f", "/b"])
            .expect("parses");
        assert_eq!(o.config_file, PathBuf::from("/b"));
        assert_eq!(o.pid_file, Some(PathBuf::from("/x.pid")));
    }

    #[test]
    fn signum_and_json_parse() {
        let o = Options::try_parse_from(["lvsd", "--signum=JSON"]).expect("parses");
        assert_eq!(o.signum.as_deref(), Some("JSON"));
        let o = Options::try_parse_from(["lvsd", "--json"]).expect("parses");
        assert!(o.json && !o.dump_conf);
    }
}
