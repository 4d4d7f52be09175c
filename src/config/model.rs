//! Typed model of a keepalived.conf, as produced by the parser in this module.
//!
//! Every default below is keepalived's default, so a model built from a minimal config
//! behaves like keepalived would. Fields that keepalived leaves to a global default are
//! `Option` here and resolved by the consumer (`VrrpInstance::effective_version`, …).

use crate::script::ScriptUser;
use serde::Serialize;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// Where something was written: `file:line:col` (1-based).
///
/// Locations compare equal whatever their values: two models are the same configuration
/// when their values are, wherever they were written (the printer's round trip relies on it).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Span {
    pub file: Arc<PathBuf>,
    pub line: u32,
    pub col: u32,
}

impl PartialEq for Span {
    fn eq(&self, _other: &Self) -> bool {
        true
    }
}

impl Eq for Span {}

impl std::fmt::Display for Span {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}:{}", self.file.display(), self.line, self.col)
    }
}

/// A whole configuration after includes, parameters and conditionals are applied.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Config {
    pub global: GlobalDefs,
    pub vrrp_scripts: Vec<VrrpScript>,
    /// `track_file NAME {…}` / `vrrp_track_file NAME {…}`.
    pub track_files: Vec<TrackFileDef>,
    /// `vrrp_track_process NAME {…}`.
    pub track_processes: Vec<TrackProcessDef>,
    pub sync_groups: Vec<SyncGroup>,
    pub instances: Vec<VrrpInstance>,
    pub virtual_server_groups: Vec<VirtualServerGroup>,
    pub virtual_servers: Vec<VirtualServer>,
    /// `static_ipaddress {}`: installed at start whatever the VRRP state.
    pub static_ipaddress: Vec<VirtualIp>,
    /// `static_routes {}`.
    pub static_routes: Vec<Route>,
    /// `static_rules {}`.
    pub static_rules: Vec<Rule>,
    /// The top-level `SSL {}` block: what every SSL_GET presents (also copied into
    /// each SSL_GET's [`HttpCheck::client`]).
    pub ssl: Option<Arc<SslClient>>,
    /// The users given on scripts' own lines (`notify_master CMD USER [GROUP]`), by
    /// command line: see [`Config::script_user_for`].
    pub script_users: std::collections::BTreeMap<String, ScriptUser>,
}

impl Config {
    /// The user a script runs as: the one on its own line, else `script_user`.
    pub fn script_user_for(&self, command: &str) -> Option<ScriptUser> {
        self.script_users
            .get(command)
            .or(self.global.script_user.as_ref())
            .cloned()
    }

    /// Every health checker of the file: each real server's, of every virtual server.
    pub fn checker_count(&self) -> usize {
        self.virtual_servers
            .iter()
            .flat_map(|vs| &vs.real_servers)
            .map(|rs| rs.checkers.len())
            .sum()
    }
}

/// keepalived's `SSL { password, ca, certificate, key }`: the client certificate chain
/// and key SSL_GET presents when a server asks for one. Server certificates are not
/// verified (keepalived does not either): `ca` is only read.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Default)]
pub struct SslClient {
    pub password: Option<String>,
    pub ca: Option<PathBuf>,
    pub certificate: Option<PathBuf>,
    pub key: Option<PathBuf>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SmtpServer {
    pub host: String,
    /// keepalived's default SMTP port is 25.
    pub port: u16,
}

/// `notify_fifo PATH [username [groupname]]` plus the optional `notify_fifo_script`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NotifyFifo {
    pub path: PathBuf,
    pub script: Option<String>,
    /// `notify_fifo_script CMD USER [GROUP]`: whom the script runs as (else script_user).
    pub script_user: Option<ScriptUser>,
}

/// `lvs_sync_daemon INTERFACE VRRP_INSTANCE [id ID] [maxlen LEN] [port PORT] [ttl TTL] [group IP]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LvsSyncDaemon {
    pub interface: String,
    pub instance: String,
    pub sync_id: Option<u32>,
    pub maxlen: Option<u16>,
    pub port: Option<u16>,
    pub ttl: Option<u8>,
    pub group: Option<IpAddr>,
}

/// `lvs_timeouts tcp N tcpfin N udp N` (seconds; absent = leave the kernel's value).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct LvsTimeouts {
    pub tcp: Option<u32>,
    pub tcpfin: Option<u32>,
    pub udp: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GlobalDefs {
    pub router_id: Option<String>,
    pub notification_email: Vec<String>,
    pub notification_email_from: Option<String>,
    pub smtp_server: Option<SmtpServer>,
    /// Default 30 s.
    pub smtp_connect_timeout: Duration,
    /// Global default for every instance, sync group and checker.
    pub smtp_alert: bool,
    pub smtp_alert_vrrp: Option<bool>,
    pub smtp_alert_checker: Option<bool>,
    pub script_user: Option<ScriptUser>,
    pub enable_script_security: bool,
    pub vrrp_strict: bool,
    pub vrrp_skip_check_adv_addr: bool,
    pub vrrp_check_unicast_src: bool,
    /// Default 5 s.
    pub vrrp_garp_master_delay: Duration,
    /// Default 5.
    pub vrrp_garp_master_repeat: u32,
    /// Default: no periodic refresh.
    pub vrrp_garp_master_refresh: Option<Duration>,
    /// Default 1.
    pub vrrp_garp_master_refresh_repeat: u32,
    /// `vrrp_garp_interval`: least time between two gratuitous ARPs on one interface
    /// (default 0: back to back).
    pub vrrp_garp_interval: Duration,
    /// `vrrp_gna_interval`: least time between two unsolicited NAs on one interface.
    pub vrrp_gna_interval: Duration,
    /// `vrrp_garp_extra_if [all] SECS` (also the deprecated `vrrp_vmac_garp_intvl`): every
    /// instance's default `garp_extra_if`.
    pub vrrp_garp_extra_if: Option<ExtraIfGarp>,
    /// `vrrp_garp_lower_prio_delay`: None: `vrrp_garp_master_delay`.
    pub vrrp_garp_lower_prio_delay: Option<Duration>,
    /// `vrrp_garp_lower_prio_repeat`: None: `vrrp_garp_master_repeat`.
    pub vrrp_garp_lower_prio_repeat: Option<u32>,
    /// A master answers a lower-priority advert with no advert of its own.
    pub vrrp_lower_prio_no_advert: bool,
    /// A master sends one advert before yielding to a higher-priority advert.
    pub vrrp_higher_prio_send_advert: bool,
    /// `vrrp_startup_delay`: instances wait this long after start (not on reload).
    pub vrrp_startup_delay: Option<Duration>,
    /// `max_auto_priority [N]`: highest SCHED_RR priority the VRRP thread is raised to when
    /// it runs late (0: never; -1: never, and no startup notice; no value: the maximum).
    pub max_auto_priority: i32,
    /// `min_auto_priority_delay` (µs): lateness that raises the priority (default 1 s).
    pub min_auto_priority_delay: Option<Duration>,
    /// `vrrp_no_swap` / `checker_no_swap`: lock the (whole) lvsd process in memory.
    pub vrrp_no_swap: bool,
    pub checker_no_swap: bool,
    /// `vrrp_rlimit_rttime` (µs, default 10000): RLIMIT_RTTIME once real-time.
    pub vrrp_rlimit_rttime: Option<u64>,
    /// Default 2.
    pub vrrp_version: u8,
    /// Send the VRRPv3/IPv4 checksum over the message only (RFC 9568), not keepalived's
    /// pseudo-header form.
    pub vrrp_v3_checksum_as_v2: bool,
    /// `nftables [TABLE]` (`vrrp_iptables`, which keepalived 2.2.7 runs as nftables, sets
    /// "keepalived"): the nftables table for no_accept's drop rules. None: "keepalived" once
    /// an instance needs it.
    pub nftables: Option<String>,
    /// `nftables_priority`: the base chains' priority (default -1; `nftables` resets it).
    pub nftables_priority: i32,
    /// `nftables_counters`: a counter in every rule.
    pub nftables_counters: bool,
    /// `nftables_ifindex`: link-local VIPs keyed by interface index even with
    /// `dont_track_primary`.
    pub nftables_ifindex: bool,
    pub vrrp_mcast_group4: Option<IpAddr>,
    pub vrrp_mcast_group6: Option<IpAddr>,
    pub lvs_sync_daemon: Option<LvsSyncDaemon>,
    pub lvs_timeouts: Option<LvsTimeouts>,
    pub notify_fifo: Option<NotifyFifo>,
    pub vrrp_notify_fifo: Option<NotifyFifo>,
    pub lvs_notify_fifo: Option<NotifyFifo>,
    /// How long a notify script may run before lvsd kills it (default 30 s), so that a
    /// hung script can never pile up processes.
    pub notify_script_timeout: Duration,
    /// `smtp_helo_name`: the name alerts greet the SMTP server with (default: the
    /// hostname).
    pub smtp_helo_name: Option<String>,
    /// `net_namespace NAME` (top level): the network namespace the daemon runs in.
    pub net_namespace: Option<String>,
    /// `net_namespace_ipvs [NAME]` (top level): the network namespace of the IPVS table
    /// the LVS side manages ("": the default namespace).
    pub net_namespace_ipvs: Option<String>,
    /// `instance NAME` (top level): names this daemon among several in one namespace.
    pub instance: Option<String>,
    /// `use_pid_dir` (top level): pid files under /run/keepalived/.
    pub use_pid_dir: bool,
    /// `process_name`, `vrrp_process_name`, `checker_process_name` (`lvs_process_name`),
    /// `process_names`.
    pub process_names: ProcessNames,
    /// `reload_check_config [LOG_FILE]`: a reload with any problem is refused, the
    /// problems written to LOG_FILE (default /dev/null).
    pub reload_check_config: Option<std::path::PathBuf>,
    /// `config_save_dir DIR`: the VRRP data dump saved before and after each reload
    /// (made 0700 when missing).
    pub config_save_dir: Option<std::path::PathBuf>,
    /// `reload_file [PATH]`: a file that exists (empty) while a reload reads the
    /// configuration.
    pub reload_file: Option<ReloadFile>,
    /// `reload_time_file PATH`: a reload at the time PATH names (see
    /// `daemon::reload_time`); `reload_repeat`: kept for a daily reload.
    pub reload_time_file: Option<std::path::PathBuf>,
    pub reload_repeat: bool,
    /// `linkbeat_use_polling` (top level): every instance's interface is polled.
    pub linkbeat_use_polling: bool,
    /// `linkbeat_interfaces { IF [MII|ETHTOOL|IOCTL] … }` (top level).
    pub linkbeat_interfaces: Vec<LinkbeatIf>,
    /// `*_netlink_*_rcv_bufs[_force]`: receive buffers of the netlink sockets.
    pub netlink_bufs: NetlinkBufs,
    /// `vrrp_rx_bufs_policy`: how the advert sockets' receive buffers are sized.
    pub vrrp_rx_bufs: RxBufsPolicy,
    /// `vrrp_priority`, `vrrp_rt_priority`, `vrrp_cpu_affinity`: the VRRP thread's.
    pub vrrp_tuning: ThreadTuning,
    /// `checker_priority`, `checker_rt_priority`, `checker_cpu_affinity`: the threads of
    /// the main runtime (checkers, the LVS side).
    pub checker_tuning: ThreadTuning,
    /// `checker_rlimit_rttime` (µs): RLIMIT_RTTIME once the checker threads run real-time.
    pub checker_rlimit_rttime: Option<u64>,
    /// `startup_script SCRIPT [USER [GROUP]]`: run once before the sides start.
    pub startup_script: Option<LifeScript>,
    /// `shutdown_script SCRIPT [USER [GROUP]]`: run once after the sides stopped.
    pub shutdown_script: Option<LifeScript>,
    /// `vrrp_down_timer_adverts N` (1..=100, default 3): every instance's default.
    pub vrrp_down_timer_adverts: Option<u32>,
    /// `vmac_prefix STRING`: names of made VMACs (default "vrrp": vrrp.VRID).
    pub vmac_prefix: Option<String>,
    /// `no_email_faults`: no mail for FAULT states.
    pub no_email_faults: bool,
    /// `rs_init_notifies`: notify_up (and the fifo line) for each real server that
    /// starts alive.
    pub rs_init_notifies: bool,
    /// `checker_log_all_failures`: `log_all_failures` for every checker.
    pub checker_log_all_failures: bool,
    /// `data_use_instance`: the dump files' names carry the namespace and instance name
    /// (`keepalived.NS_INST.data`).
    pub data_use_instance: bool,
    /// `no_checker_emails`: mail only when a real server is added or removed, not when
    /// one of its checkers changes state.
    pub no_checker_emails: bool,
    /// `vrrp_notify_priority_changes [BOOL]`: every instance's default.
    pub vrrp_notify_priority_changes: bool,
    /// `fifo_write_vrrp_states_on_reload`: after a reload, the states that did not change
    /// are written to the notify fifos again.
    pub fifo_write_vrrp_states_on_reload: bool,
    /// `log_unknown_vrids`: log adverts for VRIDs no instance has on the interface.
    pub log_unknown_vrids: bool,
    /// `umask NUMBER|BITS`: the umask of the files lvsd creates (None: as started; `-u`
    /// wins).
    pub umask: Option<u32>,
    /// `dynamic_interfaces [allow_if_changes]`: an instance whose interface does not exist
    /// yet waits in FAULT for it (without: the VRRP side cannot start, and retries).
    pub dynamic_interfaces: bool,
    /// `allow_if_changes` after `dynamic_interfaces` (shown in the dump, as keepalived).
    pub allow_if_changes: bool,
    /// `garp_group {}` blocks (top level): gratuitous ARP/NA pacing per interface.
    pub garp_groups: Vec<GarpGroup>,
    /// `interface_up_down_delays {}` (top level): link changes debounced per interface.
    pub interface_delays: Vec<IfDelays>,
    /// `lvs_flush`: empty the whole IPVS table (others' entries too) when the LVS side
    /// starts.
    pub lvs_flush: bool,
    /// `lvs_flush_on_stop [VS]`: what the LVS side removes when it stops.
    pub lvs_flush_on_stop: FlushOnStop,
    /// `default_interface`: where static addresses without `dev` go (None: eth0).
    pub default_interface: Option<String>,
    /// `vrrp_rx_bufs_multiplier` (default 3).
    pub vrrp_rx_bufs_multiplier: u32,
}

/// The names (comm, at most 15 bytes) lvsd gives its main thread (the process name `ps`
/// shows), the VRRP thread and the checker threads, where keepalived names its parent,
/// VRRP and checker processes. None: lvsd's own names (lvsd, lvsd-vrrp, lvsd).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ProcessNames {
    pub main: Option<String>,
    pub vrrp: Option<String>,
    pub checker: Option<String>,
}

/// `reload_file` with its path, or keepalived's default beside the pid files.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ReloadFile {
    Default,
    Path(std::path::PathBuf),
}

/// How a polled interface's link is read (`linkbeat_interfaces`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum LinkbeatKind {
    Mii,
    Ethtool,
    Ioctl,
}

/// One line of `linkbeat_interfaces {}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LinkbeatIf {
    pub name: String,
    /// None: the first that works (keepalived: MII, ETHTOOL, IOCTL).
    pub kind: Option<LinkbeatKind>,
}

/// `garp_group { garp_interval T gna_interval T interface IF | interfaces { IF … } }`:
/// the pacing of gratuitous ARPs / unsolicited NAs on those interfaces, in place of the
/// global `vrrp_garp_interval` / `vrrp_gna_interval` (unset here: back to back).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GarpGroup {
    pub garp_interval: Option<Duration>,
    pub gna_interval: Option<Duration>,
    pub interfaces: Vec<String>,
    /// The group's number among those given with an `interfaces {}` block (keepalived
    /// numbers only those, from 1; the data dump shows it).
    pub aggregation_group: Option<u32>,
}

impl GlobalDefs {
    /// The (ARP, NA) pacing on `ifname`: its garp_group's, else the global settings.
    pub fn garp_pacing(&self, ifname: &str) -> (Duration, Duration) {
        match self
            .garp_groups
            .iter()
            .find(|g| g.interfaces.iter().any(|i| i == ifname))
        {
            Some(g) => (
                g.garp_interval.unwrap_or_default(),
                g.gna_interval.unwrap_or_default(),
            ),
            None => (self.vrrp_garp_interval, self.vrrp_gna_interval),
        }
    }
}

/// Scheduling of a set of threads, as keepalived's `*_priority`, `*_rt_priority` and
/// `*_cpu_affinity` set it for its child processes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ThreadTuning {
    /// Nice value, -20..=19.
    pub nice: Option<i32>,
    /// SCHED_RR priority, 1..=99.
    pub rt_priority: Option<u32>,
    /// CPUs the threads may run on (empty: all).
    pub cpus: Vec<u32>,
}

impl ThreadTuning {
    pub fn is_empty(&self) -> bool {
        self.nice.is_none() && self.rt_priority.is_none() && self.cpus.is_empty()
    }
}

/// `startup_script` / `shutdown_script` with its `*_timeout` (1..=1000 s, default 10).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LifeScript {
    pub command: String,
    pub user: Option<ScriptUser>,
    pub timeout: Duration,
}

/// What the LVS side removes from the IPVS table when it stops (without `-I`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub enum FlushOnStop {
    /// Each virtual server lvsd manages (the default; keepalived removes each real
    /// server then each virtual server, with the same result).
    #[default]
    Disabled,
    /// `lvs_flush_on_stop`: the whole table, others' entries too.
    Full,
    /// `lvs_flush_on_stop VS`: each managed virtual server, whole.
    Vs,
}

/// A socket's receive buffer as the file sets it: `BYTES` (0: the kernel's default) and
/// whether to pass rmem_max (`SO_RCVBUFFORCE`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RcvBuf {
    pub bytes: u32,
    pub force: bool,
}

/// The netlink receive buffers keepalived's global_defs set, one per socket.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct NetlinkBufs {
    /// Address, route and link requests of the VRRP side.
    pub vrrp_cmd: RcvBuf,
    /// The VRRP side's link-change subscription.
    pub vrrp_monitor: RcvBuf,
    /// The IPVS generic netlink socket.
    pub lvs_cmd: RcvBuf,
    /// keepalived's checker-side link monitor (lvsd has none).
    pub lvs_monitor: RcvBuf,
    /// keepalived's process-event connector for track_process (lvsd scans /proc).
    pub process_monitor: RcvBuf,
}

/// `vrrp_rx_bufs_policy MTU|ADVERT|BYTES`: each instance adds, to the receive buffer of
/// the socket it listens on, its `kernel_rx_buf_size`, else BYTES, else multiplier × its
/// advert's length (ADVERT), else multiplier × its interface's MTU (MTU). Nothing set:
/// the kernel's default.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RxBufsPolicy {
    pub mtu: bool,
    pub advert: bool,
    pub size: Option<u32>,
}

impl Default for GlobalDefs {
    fn default() -> Self {
        GlobalDefs {
            router_id: None,
            notification_email: Vec::new(),
            notification_email_from: None,
            smtp_server: None,
            smtp_connect_timeout: Duration::from_secs(30),
            smtp_alert: false,
            smtp_alert_vrrp: None,
            smtp_alert_checker: None,
            script_user: None,
            enable_script_security: false,
            vrrp_strict: false,
            vrrp_skip_check_adv_addr: false,
            vrrp_check_unicast_src: false,
            vrrp_garp_master_delay: Duration::from_secs(5),
            vrrp_garp_master_repeat: 5,
            vrrp_garp_master_refresh: None,
            vrrp_garp_master_refresh_repeat: 1,
            vrrp_garp_interval: Duration::ZERO,
            vrrp_gna_interval: Duration::ZERO,
            vrrp_garp_lower_prio_delay: None,
            vrrp_garp_lower_prio_repeat: None,
            vrrp_garp_extra_if: None,
            vrrp_lower_prio_no_advert: false,
            vrrp_higher_prio_send_advert: false,
            vrrp_startup_delay: None,
            max_auto_priority: 0,
            min_auto_priority_delay: None,
            vrrp_no_swap: false,
            checker_no_swap: false,
            vrrp_rlimit_rttime: None,
            vrrp_version: 2,
            vrrp_v3_checksum_as_v2: false,
            nftables: None,
            nftables_priority: -1,
            nftables_counters: false,
            nftables_ifindex: false,
            vrrp_mcast_group4: None,
            vrrp_mcast_group6: None,
            lvs_sync_daemon: None,
            lvs_timeouts: None,
            notify_fifo: None,
            vrrp_notify_fifo: None,
            lvs_notify_fifo: None,
            notify_script_timeout: Duration::from_secs(30),
            smtp_helo_name: None,
            net_namespace: None,
            instance: None,
            net_namespace_ipvs: None,
            use_pid_dir: false,
            process_names: ProcessNames::default(),
            reload_check_config: None,
            config_save_dir: None,
            linkbeat_use_polling: false,
            linkbeat_interfaces: Vec::new(),
            reload_file: None,
            reload_time_file: None,
            reload_repeat: false,
            netlink_bufs: NetlinkBufs::default(),
            vrrp_rx_bufs: RxBufsPolicy::default(),
            vrrp_rx_bufs_multiplier: 3,
            default_interface: None,
            garp_groups: Vec::new(),
            interface_delays: Vec::new(),
            dynamic_interfaces: false,
            allow_if_changes: false,
            umask: None,
            log_unknown_vrids: false,
            vrrp_notify_priority_changes: false,
            fifo_write_vrrp_states_on_reload: false,
            vrrp_down_timer_adverts: None,
            vmac_prefix: None,
            no_email_faults: false,
            rs_init_notifies: false,
            checker_log_all_failures: false,
            data_use_instance: false,
            no_checker_emails: false,
            startup_script: None,
            shutdown_script: None,
            vrrp_tuning: ThreadTuning::default(),
            checker_tuning: ThreadTuning::default(),
            checker_rlimit_rttime: None,
            lvs_flush: false,
            lvs_flush_on_stop: FlushOnStop::Disabled,
        }
    }
}

impl GlobalDefs {
    /// Whether VRRP state changes send mail (`smtp_alert_vrrp` overrides `smtp_alert`).
    pub fn vrrp_alerts(&self) -> bool {
        self.smtp_alert_vrrp.unwrap_or(self.smtp_alert)
    }
    /// Whether checker up/down changes send mail.
    pub fn checker_alerts(&self) -> bool {
        self.smtp_alert_checker.unwrap_or(self.smtp_alert)
    }
}

/// `vrrp_script NAME { … }`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VrrpScript {
    pub span: Span,
    pub name: String,
    /// The command line, split without a shell when run.
    pub script: String,
    /// Default 1 s.
    pub interval: Duration,
    /// Default: the interval.
    pub timeout: Option<Duration>,
    /// −253..=253. 0 (default): a failing script puts the instance in FAULT.
    pub weight: i32,
    /// `weight N reverse`: the weight applies while failing instead of while succeeding.
    pub weight_reverse: bool,
    /// Default 1.
    pub rise: u32,
    /// Default 1.
    pub fall: u32,
    pub user: Option<ScriptUser>,
    /// `init_fail`: start in the failed state.
    pub init_fail: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SyncGroup {
    pub span: Span,
    pub name: String,
    pub members: Vec<String>,
    /// Where each member was named, parallel to `members` (for errors).
    pub member_spans: Vec<Span>,
    pub notify: Notify,
    pub smtp_alert: Option<bool>,
    /// `sync_group_tracking_weight` (or the deprecated `global_tracking`): the members keep
    /// the weights of their own tracked scripts, interfaces and files. Without it, as
    /// keepalived, a member's weighted script is dropped and its weighted interface or
    /// file only faults it (see `config::validate`).
    pub tracking_weight: bool,
    /// `notify_priority_changes [BOOL]`: the default of the members that do not set it
    /// (None: the global `vrrp_notify_priority_changes`).
    pub notify_priority_changes: Option<bool>,
    pub track_script: Vec<TrackScript>,
    pub track_interface: Vec<TrackInterface>,
    pub track_file: Vec<TrackRef>,
    pub track_process: Vec<TrackRef>,
}

/// The notify scripts of an instance or sync group.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Notify {
    pub master: Option<String>,
    pub backup: Option<String>,
    pub fault: Option<String>,
    pub stop: Option<String>,
    pub deleted: Option<String>,
    /// `notify`: gets keepalived's four extra arguments.
    pub generic: Option<String>,
    pub master_rx_lower_pri: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum InitialState {
    Master,
    Backup,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AuthType {
    Pass,
    Ah,
}

/// What stands for a secret (`auth_pass`) wherever lvsd shows a configuration or its
/// state of its own accord: debug output, `-d --json`. The dump files keepalived itself
/// writes with the password (keepalived.data, keepalived.json) keep it, and so does
/// `-d`'s configuration text, for drop-in compatibility (docs/configuration.md).
pub const SECRET_MASK: &str = "********";

#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct Authentication {
    pub auth_type: AuthType,
    /// At most 8 bytes are sent (keepalived truncates). Masked in JSON and debug output.
    #[serde(serialize_with = "serialize_secret")]
    pub auth_pass: String,
}

impl std::fmt::Debug for Authentication {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authentication")
            .field("auth_type", &self.auth_type)
            .field("auth_pass", &SECRET_MASK)
            .finish()
    }
}

/// A secret as [`SECRET_MASK`] (an empty one stays empty: nothing to hide).
fn serialize_secret<S: serde::Serializer>(secret: &str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(if secret.is_empty() { "" } else { SECRET_MASK })
}

/// `garp_extra_if [all] SECS`: while MASTER, one gratuitous ARP / unsolicited NA every
/// `interval_secs` on each interface, other than the instance's, that holds one of its
/// addresses. keepalived 2.2.7 sends them on its own VMACs for addresses, and with `all`
/// on any interface; lvsd makes no such VMACs, so only the `all` form sends anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct ExtraIfGarp {
    /// 0 switches it off (an instance's way to override the global setting).
    pub interval_secs: u32,
    pub all: bool,
}

/// One line of `virtual_ipaddress { … }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VirtualIp {
    pub span: Span,
    pub addr: IpAddr,
    /// Default 32 (IPv4) or 128 (IPv6).
    pub prefix_len: u8,
    pub brd: Option<IpAddr>,
    pub dev: Option<String>,
    /// `host`, `link`, `global` (default), `site`, `nowhere`, or a number.
    pub scope: Option<String>,
    pub label: Option<String>,
    pub no_track: bool,
    /// `peer`, `home`, `-nodad`, `mngtmpaddr`, `noprefixroute`, `autojoin`, `preferred_lft`.
    pub opts: VipOptions,
}

/// The `ip address add` options of a virtual address, as keepalived 2.2.7 reads them.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize)]
pub struct VipOptions {
    /// `peer ADDR[/LEN]`: the other end of a point-to-point address (IFA_ADDRESS); the
    /// address then has the peer's prefix length.
    pub peer: Option<IpAddr>,
    /// `home`: IFA_F_HOMEADDRESS (Mobile IPv6).
    pub home: bool,
    /// `-nodad`: IPv6 duplicate address detection left on (keepalived adds IPv6 VIPs
    /// with IFA_F_NODAD otherwise).
    pub dad: bool,
    /// `mngtmpaddr`: IFA_F_MANAGETEMPADDR (the kernel makes RFC 4941 temporary addresses
    /// from this IPv6 prefix when the interface has `use_tempaddr` set).
    pub mngtmpaddr: bool,
    /// `noprefixroute`: IFA_F_NOPREFIXROUTE.
    pub noprefixroute: bool,
    /// `autojoin`: IFA_F_MCAUTOJOIN (a multicast address joined by the kernel).
    pub autojoin: bool,
    /// `preferred_lft N|forever` (forever: u32::MAX); used for IPv6 only.
    pub preferred_lft: Option<u32>,
}

/// An entry of `track_script { … }` or `track_interface { … }` in an instance or sync
/// group: a [`TrackRef`]. A script's unset weight and reverse are the vrrp_script's; an
/// interface's unset (or 0) weight puts the instance in FAULT while the link is down.
pub type TrackScript = TrackRef;
pub type TrackInterface = TrackRef;

// ---- track_file and vrrp_track_process -------------------------------------------------

/// `track_file NAME { file PATH; weight N [reverse]; init_file [VALUE] [overwrite] }` (also
/// spelt `vrrp_track_file`): the number in the file, times the weight, is added to the
/// priority of the instances tracking it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrackFileDef {
    pub span: Span,
    pub name: String,
    pub file: String,
    /// −254..=254, default 1. 0: a non-zero number puts the instances in FAULT.
    pub weight: i32,
    pub weight_reverse: bool,
    /// `init_file`: write the value to the file at start when it is missing (or always,
    /// with `overwrite`, except on reload).
    pub init_file: Option<TrackFileInit>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct TrackFileInit {
    /// Default 0.
    pub value: i32,
    pub overwrite: bool,
}

/// How `vrrp_track_process` compares the arguments after the program name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ParamMatch {
    /// Arguments are not compared.
    None,
    /// The arguments are exactly the configured ones.
    Exact,
    /// The configured arguments begin the command's; the last one may be a prefix.
    Initial,
    /// The configured arguments begin the command's.
    Partial,
}

/// `vrrp_track_process NAME { process NAME [ARG…]; param_match …; weight N [reverse];
/// quorum N; quorum_max N; fork_delay S; terminate_delay S; delay S; full_command }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrackProcessDef {
    pub span: Span,
    pub name: String,
    /// The process name (`comm`), or argv[0] with `full_command`.
    pub process: String,
    /// Arguments given after the name (they imply `full_command` and exact matching).
    pub params: Vec<String>,
    pub param_match: ParamMatch,
    /// −254..=254, default 0 (no quorum: FAULT).
    pub weight: i32,
    pub weight_reverse: bool,
    /// Default 1 (0 when `quorum_max 0`).
    pub quorum: u32,
    /// Default unlimited (`u32::MAX`).
    pub quorum_max: u32,
    /// Wait before quorum gained by new processes counts.
    pub fork_delay: Option<Duration>,
    /// Wait before quorum lost by exiting processes counts.
    pub terminate_delay: Option<Duration>,
    /// Match `/proc/PID/cmdline` instead of the process name.
    pub full_command: bool,
}

impl TrackProcessDef {
    /// `vrrp_track_process NAME` written at `span` with keepalived's defaults and no
    /// process named yet.
    pub fn new(span: Span, name: String) -> TrackProcessDef {
        TrackProcessDef {
            span,
            name,
            process: String::new(),
            params: Vec::new(),
            param_match: ParamMatch::None,
            weight: 0,
            weight_reverse: false,
            quorum: 1,
            quorum_max: u32::MAX,
            fork_delay: None,
            terminate_delay: None,
            full_command: false,
        }
    }
}

/// An entry of `track_script`, `track_interface`, `track_file` or `track_process { … }`
/// in an instance or sync group: `NAME [weight N [reverse|noreverse]]`; unset parts come
/// from the definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TrackRef {
    pub span: Span,
    pub name: String,
    pub weight: Option<i32>,
    pub reverse: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnicastPeer {
    pub addr: IpAddr,
    pub min_ttl: Option<u8>,
    pub max_ttl: Option<u8>,
}

/// One line of `interface_up_down_delays { IF DOWN [UP] }`: the instances hear of the
/// interface going down (up) only once it has stayed so for `down` (`up`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct IfDelays {
    pub interface: String,
    pub down: Duration,
    pub up: Duration,
}

/// `vrrp_instance NAME { … }`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VrrpInstance {
    pub span: Span,
    pub name: String,
    /// Default BACKUP.
    pub state: InitialState,
    /// Whether `state` was written (for the nopreempt/preempt_delay check).
    pub state_explicit: bool,
    pub interface: String,
    pub virtual_router_id: u8,
    pub vrid_span: Span,
    /// Default 100.
    pub priority: u8,
    /// Default 1 s. Centisecond resolution.
    pub advert_int: Duration,
    /// None: `global_defs vrrp_version`.
    pub version: Option<u8>,
    pub authentication: Option<Authentication>,
    pub virtual_ipaddress: Vec<VirtualIp>,
    pub virtual_ipaddress_excluded: Vec<VirtualIp>,
    pub track_script: Vec<TrackScript>,
    pub track_interface: Vec<TrackInterface>,
    pub track_file: Vec<TrackRef>,
    pub track_process: Vec<TrackRef>,
    pub notify: Notify,
    pub nopreempt: bool,
    /// Default none (0 s).
    pub preempt_delay: Option<Duration>,
    pub unicast_src_ip: Option<IpAddr>,
    pub unicast_peers: Vec<UnicastPeer>,
    pub mcast_src_ip: Option<IpAddr>,
    /// None: the global value.
    pub garp_master_delay: Option<Duration>,
    pub garp_master_repeat: Option<u32>,
    pub garp_master_refresh: Option<Duration>,
    pub garp_master_refresh_repeat: Option<u32>,
    /// None: the global `vrrp_garp_lower_prio_*` value.
    pub garp_lower_prio_delay: Option<Duration>,
    pub garp_lower_prio_repeat: Option<u32>,
    /// None: the global `vrrp_lower_prio_no_advert` / `vrrp_higher_prio_send_advert`.
    pub lower_prio_no_advert: Option<bool>,
    pub higher_prio_send_advert: Option<bool>,
    /// `garp_extra_if [all] SECS` (also the deprecated `vmac_garp_intvl`); None: the global
    /// `vrrp_garp_extra_if`.
    pub garp_extra_if: Option<ExtraIfGarp>,
    /// `use_vmac [NAME]`: Some("") when no name was given (keepalived names it vrrp.VRID).
    pub use_vmac: Option<String>,
    pub vmac_xmit_base: bool,
    /// `accept` / `no_accept`; None: keepalived's default (accept unless vrrp_strict).
    pub accept: Option<bool>,
    pub smtp_alert: Option<bool>,
    pub lvs_sync_daemon_interface: Option<String>,
    pub dont_track_primary: bool,
    /// `linkbeat_use_polling` in the instance (deprecated by keepalived): its interface is
    /// polled.
    pub linkbeat_use_polling: bool,
    pub skip_check_adv_addr: Option<bool>,
    pub strict_mode: Option<bool>,
    pub native_ipv6: bool,
    pub debug: Option<u8>,
    /// `virtual_routes {}`: installed while MASTER.
    pub virtual_routes: Vec<Route>,
    /// `virtual_rules {}`: installed while MASTER.
    pub virtual_rules: Vec<Rule>,
    /// `kernel_rx_buf_size BYTES`: this instance's share of its socket's receive buffer
    /// (see [`RxBufsPolicy`]).
    pub kernel_rx_buf_size: Option<u32>,
    /// `check_unicast_src`: adverts of a unicast instance must come from a listed peer
    /// (also on with the global `vrrp_check_unicast_src`, or a peer's min_ttl/max_ttl).
    pub check_unicast_src: bool,
    /// `notify_priority_changes [BOOL]` (None: the global vrrp_notify_priority_changes).
    pub notify_priority_changes: Option<bool>,
    /// `promote_secondaries`: the interface's promote_secondaries sysctl set while lvsd runs.
    pub promote_secondaries: bool,
    /// `down_timer_adverts N` (1..=100): Master_Down_Interval in adverts (RFC: 3).
    pub down_timer_adverts: Option<u32>,
    /// `unicast_ttl N` (0..=255): the TTL / hop limit of unicast adverts (default 255).
    pub unicast_ttl: Option<u8>,
    /// `mcast_dst_ip ADDR`: this instance's multicast group in place of the global one.
    pub mcast_dst_ip: Option<std::net::IpAddr>,
    /// `unicast_fault_no_peer`: an instance with no unicast peer stays in FAULT instead
    /// of falling back to multicast.
    pub unicast_fault_no_peer: bool,
    /// Some unicast keyword was written (`unicast_src_ip`, `unicast_peer`,
    /// `unicast_fault_no_peer`, `check_unicast_src`, `old_unicast_checksum`), even one
    /// whose value was dropped: without peers keepalived then uses multicast and says so.
    pub unicast_configured: bool,
    /// `track_src_ip`: FAULT while the configured source address is not on the interface.
    pub track_src_ip: bool,
    /// `old_unicast_checksum [never]`: the VRRPv3 unicast checksum of keepalived up to
    /// 1.3.6 (pseudo-header with the multicast group as destination).
    pub old_unicast_checksum: Option<OldUnicastChecksum>,
}

/// `old_unicast_checksum` (`Always`) or `old_unicast_checksum never` (`Never`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum OldUnicastChecksum {
    Always,
    Never,
}

/// The advert interval VRRP `version` sends for `advert_int`, in centiseconds, and whether
/// it is `advert_int` exactly. Version 2 sends whole seconds, 1-255 (the nearest is used);
/// version 3 hundredths of a second, 0.01-40.95 s (clamped). The one home of this rule:
/// validation warns with it, the VRRP parameters use it.
pub fn advert_interval_cs(version: u8, advert_int: Duration) -> (u16, bool) {
    let cs = (advert_int.as_millis() / 10).min(u128::from(u16::MAX)) as u16;
    let used = if version == 2 {
        ((u32::from(cs) + 50) / 100).clamp(1, 255) as u16 * 100
    } else {
        cs.clamp(1, 0x0fff)
    };
    (
        used,
        Duration::from_millis(u64::from(used) * 10) == advert_int,
    )
}

impl VrrpInstance {
    /// Every address the instance holds as master: `virtual_ipaddress` then
    /// `virtual_ipaddress_excluded`.
    pub fn all_vips(&self) -> impl Iterator<Item = &VirtualIp> {
        self.virtual_ipaddress
            .iter()
            .chain(&self.virtual_ipaddress_excluded)
    }

    /// An instance as keepalived 2.2.7 starts one before reading its block: BACKUP,
    /// priority 100, advert_int 1 s, everything else unset.
    pub fn new(name: String, span: Span) -> VrrpInstance {
        VrrpInstance {
            span: span.clone(),
            name,
            state: InitialState::Backup,
            state_explicit: false,
            interface: String::new(),
            virtual_router_id: 0,
            vrid_span: span,
            priority: 100,
            advert_int: Duration::from_secs(1),
            version: None,
            authentication: None,
            virtual_ipaddress: Vec::new(),
            virtual_ipaddress_excluded: Vec::new(),
            track_script: Vec::new(),
            track_interface: Vec::new(),
            track_file: Vec::new(),
            track_process: Vec::new(),
            notify: Notify::default(),
            nopreempt: false,
            preempt_delay: None,
            unicast_src_ip: None,
            unicast_peers: Vec::new(),
            mcast_src_ip: None,
            garp_master_delay: None,
            garp_master_repeat: None,
            garp_master_refresh: None,
            garp_master_refresh_repeat: None,
            garp_lower_prio_delay: None,
            garp_lower_prio_repeat: None,
            lower_prio_no_advert: None,
            higher_prio_send_advert: None,
            use_vmac: None,
            vmac_xmit_base: false,
            garp_extra_if: None,
            accept: None,
            smtp_alert: None,
            lvs_sync_daemon_interface: None,
            dont_track_primary: false,
            linkbeat_use_polling: false,
            skip_check_adv_addr: None,
            strict_mode: None,
            native_ipv6: false,
            debug: None,
            virtual_routes: Vec::new(),
            virtual_rules: Vec::new(),
            kernel_rx_buf_size: None,
            check_unicast_src: false,
            notify_priority_changes: None,
            promote_secondaries: false,
            down_timer_adverts: None,
            unicast_ttl: None,
            mcast_dst_ip: None,
            unicast_fault_no_peer: false,
            unicast_configured: false,
            track_src_ip: false,
            old_unicast_checksum: None,
        }
    }
    /// The VRRP version this instance speaks.
    pub fn effective_version(&self, global: &GlobalDefs) -> u8 {
        self.version.unwrap_or(global.vrrp_version)
    }

    /// IPv6 when `native_ipv6` is set or the first VIP is IPv6 (as keepalived decides).
    pub fn is_ipv6(&self) -> bool {
        self.native_ipv6
            || self
                .virtual_ipaddress
                .first()
                .is_some_and(|v| v.addr.is_ipv6())
    }

    /// Whether state changes of this instance send mail.
    pub fn smtp_alert_enabled(&self, global: &GlobalDefs) -> bool {
        self.smtp_alert.unwrap_or_else(|| global.vrrp_alerts())
    }
}

/// One line of `virtual_server_group NAME { … }`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum VsgEntry {
    /// `IP[-LAST] [PORT]`: LAST replaces the last octet (IPv4) or last 16-bit group (IPv6).
    Range {
        addr: IpAddr,
        range_end: Option<u16>,
        port: Option<u16>,
    },
    /// `fwmark N [inet|inet6]`: the family when written (true: inet6), else the
    /// virtual server's.
    Fwmark(u32, Option<bool>),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VirtualServerGroup {
    pub span: Span,
    pub name: String,
    pub entries: Vec<VsgEntry>,
}

impl VsgEntry {
    /// The (address, port) pairs or fwmarks this entry stands for.
    pub fn expand(&self) -> Vec<VsgMember> {
        match self {
            VsgEntry::Fwmark(m, v6) => vec![VsgMember::Fwmark(*m, *v6)],
            VsgEntry::Range {
                addr,
                range_end,
                port,
            } => {
                let port = port.unwrap_or(0);
                let Some(end) = range_end else {
                    return vec![VsgMember::Addr(*addr, port)];
                };
                match addr {
                    IpAddr::V4(a) => {
                        let o = a.octets();
                        let first = o[3] as u16;
                        (first..=(*end).min(255))
                            .map(|last| {
                                let ip = std::net::Ipv4Addr::new(o[0], o[1], o[2], last as u8);
                                VsgMember::Addr(IpAddr::V4(ip), port)
                            })
                            .collect()
                    }
                    IpAddr::V6(a) => {
                        let mut seg = a.segments();
                        let first = seg[7];
                        (first..=*end)
                            .map(|last| {
                                seg[7] = last;
                                VsgMember::Addr(IpAddr::V6(std::net::Ipv6Addr::from(seg)), port)
                            })
                            .collect()
                    }
                }
            }
        }
    }
}

/// One concrete service of a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum VsgMember {
    Addr(IpAddr, u16),
    /// A mark, and its family when written (true: inet6).
    Fwmark(u32, Option<bool>),
}

/// What a `virtual_server` line names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub enum VsKey {
    Addr { addr: IpAddr, port: u16 },
    Fwmark { mark: u32, ipv6: bool },
    Group(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum LbKind {
    Nat,
    Dr,
    Tun,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum TunnelType {
    Ipip,
    Gue,
    Gre,
}

/// `tun_type` and its companions on a real server (or virtual server default).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Tunnel {
    pub tun_type: TunnelType,
    /// GUE only.
    pub port: Option<u16>,
    /// `nocsum` (default), `csum`, `remcsum`.
    pub csum: TunnelCsum,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum TunnelCsum {
    NoCsum,
    Csum,
    RemCsum,
}

/// Scheduler flags written as `lb_algo` companions (`sh-port`, `flag-1`, …).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
pub struct SchedFlags {
    pub flag1: bool,
    pub flag2: bool,
    pub flag3: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SorryServer {
    pub addr: IpAddr,
    pub port: u16,
    pub lvs_method: Option<LbKind>,
}

/// `persistence_granularity`: an IPv4 netmask or an IPv6 prefix length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Granularity {
    V4Mask(std::net::Ipv4Addr),
    V6Prefix(u8),
}

/// `virtual_server … { … }`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct VirtualServer {
    pub span: Span,
    pub key: VsKey,
    /// Default 60 s.
    pub delay_loop: Duration,
    /// Default `wlc`.
    pub lb_algo: String,
    pub sched_flags: SchedFlags,
    /// Default NAT.
    pub lb_kind: LbKind,
    pub lb_kind_span: Span,
    /// Seconds; None: not persistent. `persistence_timeout` alone means 360 s.
    pub persistence_timeout: Option<u32>,
    pub persistence_granularity: Option<Granularity>,
    pub persistence_engine: Option<String>,
    /// Default (keepalived's): UDP for a service by address, none for a fwmark.
    pub protocol: Protocol,
    /// Whether `protocol` was written (validation applies keepalived's default).
    #[serde(skip)]
    pub protocol_set: bool,
    /// Whether `lb_kind` was written.
    #[serde(skip)]
    pub lb_kind_set: bool,
    pub ops: bool,
    pub sorry_server: Option<SorryServer>,
    pub sorry_server_inhibit: bool,
    /// Default 1.
    pub quorum: u32,
    /// Default 0.
    pub hysteresis: u32,
    pub quorum_up: Option<String>,
    pub quorum_down: Option<String>,
    pub alpha: bool,
    pub omega: bool,
    pub inhibit_on_failure: bool,
    pub virtualhost: Option<String>,
    /// Checker defaults for the real servers below.
    pub retry: Option<u32>,
    pub delay_before_retry: Option<Duration>,
    pub connect_timeout: Option<Duration>,
    pub warmup: Option<Duration>,
    pub ha_suspend: bool,
    pub smtp_alert: Option<bool>,
    pub tunnel: Option<Tunnel>,
    pub real_servers: Vec<RealServer>,
}

/// `real_server IP [PORT] { … }`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RealServer {
    pub span: Span,
    pub addr: IpAddr,
    /// None: no port written (fwmark services, DR with the virtual port).
    pub port: Option<u16>,
    pub port_span: Span,
    /// Default 1.
    pub weight: u32,
    /// None: the virtual server's setting.
    pub inhibit_on_failure: Option<bool>,
    pub uthreshold: Option<u32>,
    pub lthreshold: Option<u32>,
    /// None: the virtual server's lb_kind.
    pub lvs_method: Option<LbKind>,
    pub tunnel: Option<Tunnel>,
    pub alpha: Option<bool>,
    /// Its scripts and the checker settings it hands down ([`RealServer::more`]).
    #[serde(flatten)]
    pub more: RsMore,
    pub checkers: Vec<Checker>,
}

/// What few real servers set: their scripts and the checker settings they hand down to
/// their checkers. None: not written (inherited from the virtual server, then
/// keepalived's default).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RsSettings {
    pub notify_up: Option<String>,
    pub notify_down: Option<String>,
    pub retry: Option<u32>,
    pub delay_before_retry: Option<Duration>,
    pub connect_timeout: Option<Duration>,
    pub delay_loop: Option<Duration>,
    pub warmup: Option<Duration>,
    pub smtp_alert: Option<bool>,
    pub virtualhost: Option<String>,
}

/// The settings of a real server that has none.
static NO_RS_SETTINGS: RsSettings = RsSettings {
    notify_up: None,
    notify_down: None,
    retry: None,
    delay_before_retry: None,
    connect_timeout: None,
    delay_loop: None,
    warmup: None,
    smtp_alert: None,
    virtualhost: None,
};

/// A real server's [`RsSettings`], kept out of line and only when one is written: a large
/// configuration has tens of thousands of real servers, each read, stored and copied
/// whole, and this keeps each to about half its size. No settings and settings all unset
/// are the same (equal, and written out alike).
#[derive(Debug, Clone, Default)]
pub struct RsMore(Option<Box<RsSettings>>);

impl RsMore {
    fn get(&self) -> &RsSettings {
        self.0.as_deref().unwrap_or(&NO_RS_SETTINGS)
    }
}

impl PartialEq for RsMore {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl Serialize for RsMore {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.get().serialize(s)
    }
}

impl VirtualServer {
    /// `virtual_server KEY` written at `span` with keepalived's defaults (delay_loop 60 s,
    /// wlc, NAT, TCP, quorum 1, every checker setting left to the checkers) and no real
    /// server.
    pub fn new(span: Span, key: VsKey) -> VirtualServer {
        VirtualServer {
            lb_kind_span: span.clone(),
            span,
            key,
            delay_loop: defaults::DELAY_LOOP,
            lb_algo: "wlc".into(),
            sched_flags: SchedFlags::default(),
            lb_kind: LbKind::Nat,
            persistence_timeout: None,
            persistence_granularity: None,
            persistence_engine: None,
            protocol: Protocol::Tcp,
            protocol_set: false,
            lb_kind_set: false,
            ops: false,
            sorry_server: None,
            sorry_server_inhibit: false,
            quorum: 1,
            hysteresis: 0,
            quorum_up: None,
            quorum_down: None,
            alpha: false,
            omega: false,
            inhibit_on_failure: false,
            virtualhost: None,
            retry: None,
            delay_before_retry: None,
            connect_timeout: None,
            warmup: None,
            ha_suspend: false,
            smtp_alert: None,
            tunnel: None,
            real_servers: Vec::new(),
        }
    }
}

impl RealServer {
    /// `real_server ADDR [PORT]` with keepalived's defaults (weight 1, every checker
    /// setting inherited) and no checker.
    pub fn new(addr: IpAddr, port: Option<u16>) -> RealServer {
        RealServer::new_at(Span::default(), Span::default(), addr, port)
    }

    /// [`RealServer::new`] written at `span`, its port at `port_span`.
    pub fn new_at(span: Span, port_span: Span, addr: IpAddr, port: Option<u16>) -> RealServer {
        RealServer {
            span,
            addr,
            port,
            port_span,
            weight: 1,
            inhibit_on_failure: None,
            uthreshold: None,
            lthreshold: None,
            lvs_method: None,
            tunnel: None,
            alpha: None,
            more: RsMore::default(),
            checkers: Vec::new(),
        }
    }

    /// Its scripts and the checker settings it hands down (all None when none is written).
    pub fn more(&self) -> &RsSettings {
        self.more.get()
    }

    /// The same, to set.
    pub fn more_mut(&mut self) -> &mut RsSettings {
        self.more.0.get_or_insert_with(Box::default)
    }
}

/// Settings every checker shares; None: inherited from the real / virtual server, then
/// keepalived's default (connect_timeout 5 s, retry 1, delay_before_retry 1 s). Those
/// few checkers set are kept apart ([`CheckCommon::more`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CheckCommon {
    pub connect_port: Option<u16>,
    pub connect_timeout: Option<Duration>,
    pub retry: Option<u32>,
    pub delay_before_retry: Option<Duration>,
    pub delay_loop: Option<Duration>,
    /// Disabled at load (a MISC_CHECK script missing or unsafe): it never runs and keeps
    /// its starting state, as keepalived's removed checker leaves its real server.
    pub disabled: bool,
    /// Its address, bind and other rarely written settings ([`CheckCommon::more`]).
    #[serde(flatten)]
    pub more: CheckMore,
}

/// A checker's settings that few configurations write. None: not written (inherited or
/// keepalived's default).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CheckOptions {
    pub connect_ip: Option<IpAddr>,
    pub bindto: Option<IpAddr>,
    pub bind_port: Option<u16>,
    pub bind_if: Option<String>,
    pub warmup: Option<Duration>,
    pub alpha: Option<bool>,
    pub fwmark: Option<u32>,
    /// `log_all_failures`: every failed check is logged, not only state changes.
    pub log_all_failures: Option<bool>,
}

/// The options of a checker that has none.
static NO_CHECK_OPTIONS: CheckOptions = CheckOptions {
    connect_ip: None,
    bindto: None,
    bind_port: None,
    bind_if: None,
    warmup: None,
    alpha: None,
    fwmark: None,
    log_all_failures: None,
};

/// A checker's [`CheckOptions`], kept out of line and only when one is written (a large
/// configuration has one checker per real server, tens of thousands). None and all unset
/// are the same (equal, and written out alike).
#[derive(Debug, Clone, Default)]
pub struct CheckMore(Option<Box<CheckOptions>>);

impl CheckMore {
    fn get(&self) -> &CheckOptions {
        self.0.as_deref().unwrap_or(&NO_CHECK_OPTIONS)
    }
}

impl PartialEq for CheckMore {
    fn eq(&self, other: &Self) -> bool {
        self.get() == other.get()
    }
}

impl Eq for CheckMore {}

impl Serialize for CheckMore {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.get().serialize(s)
    }
}

impl CheckCommon {
    /// Its rarely written settings (all None when none is written).
    pub fn more(&self) -> &CheckOptions {
        self.more.get()
    }

    /// The same, to set.
    pub fn more_mut(&mut self) -> &mut CheckOptions {
        self.more.0.get_or_insert_with(Box::default)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checker {
    pub span: Span,
    pub common: CheckCommon,
    pub kind: CheckerKind,
}

/// Each kind's settings are boxed: the kind is kept twice per checker (in the
/// configuration and in the running checker's settings), and TCP_CHECK, the common one at
/// scale, has none (unboxed, the largest kind made every kind ~100 bytes).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub enum CheckerKind {
    /// HTTP_GET (`tls` false) and SSL_GET (`tls` true).
    Http(Box<HttpCheck>),
    Tcp,
    Misc(Box<MiscCheck>),
    Smtp(Box<SmtpCheck>),
    Dns(Box<DnsCheck>),
    Udp(Box<UdpCheck>),
    Ping,
    File(Box<FileCheck>),
}

impl CheckerKind {
    /// The checker's keyword in keepalived.conf (`SSL_GET` for HTTP over TLS).
    pub fn keyword(&self) -> &'static str {
        match self {
            CheckerKind::Http(h) if h.tls => "SSL_GET",
            CheckerKind::Http(_) => "HTTP_GET",
            CheckerKind::Tcp => "TCP_CHECK",
            CheckerKind::Misc(_) => "MISC_CHECK",
            CheckerKind::Smtp(_) => "SMTP_CHECK",
            CheckerKind::Dns(_) => "DNS_CHECK",
            CheckerKind::Udp(_) => "UDP_CHECK",
            CheckerKind::Ping => "PING_CHECK",
            CheckerKind::File(_) => "FILE_CHECK",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct HttpCheck {
    pub tls: bool,
    pub urls: Vec<UrlCheck>,
    pub virtualhost: Option<String>,
    /// `http_protocol 1.0|1.1|1.0C|1.0K`; None: 1.0.
    pub http_protocol: Option<String>,
    pub enable_sni: bool,
    /// `fast_recovery`: every URL checked without `delay_loop` between them. lvsd
    /// always checks every URL in one attempt; the flag is kept for the dump.
    pub fast_recovery: bool,
    /// SSL_GET: the top-level `SSL` block, when there is one.
    pub client: Option<Arc<SslClient>>,
}

/// Inclusive ranges of accepted status codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct StatusRange {
    pub from: u16,
    pub to: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct UrlCheck {
    pub path: String,
    /// Empty: 200-299.
    pub status_codes: Vec<StatusRange>,
    /// Lower-case hex MD5 of the body.
    pub digest: Option<String>,
    pub virtualhost: Option<String>,
    /// `regex …`: the body must match (or, with `regex_no_match`, must not).
    pub regex: Option<UrlRegex>,
}

/// A URL's `regex` and its settings (PCRE2 options keepalived takes that mean something
/// to lvsd's regular expressions: caseless, multiline, dotall, extended, ungreedy).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct UrlRegex {
    pub pattern: String,
    pub no_match: bool,
    pub options: Vec<String>,
    /// Where in the body a match may start: from `min_offset`, up to `max_offset`.
    pub min_offset: Option<u32>,
    pub max_offset: Option<u32>,
}

impl UrlRegex {
    /// The pattern with its options, as the `regex` crate takes it.
    pub fn compile(&self) -> Result<regex::bytes::Regex, String> {
        let mut b = regex::bytes::RegexBuilder::new(&self.pattern);
        for o in &self.options {
            match o.as_str() {
                "caseless" => b.case_insensitive(true),
                "multiline" => b.multi_line(true),
                "dotall" => b.dot_matches_new_line(true),
                "extended" => b.ignore_whitespace(true),
                "ungreedy" => b.swap_greed(true),
                "never_utf" => b.unicode(false),
                _ => &mut b,
            };
        }
        b.size_limit(1 << 22)
            .build()
            .map_err(|e| format!("regex `{}`: {e}", self.pattern))
    }
}

/// regex_options keepalived takes that only tune PCRE2 (or its JIT) and change no match
/// lvsd makes: accepted, nothing to do.
pub const REGEX_TUNING_OPTIONS: &[&str] = &[
    "utf",
    "ucp",
    "never_ucp",
    "no_auto_capture",
    "no_auto_possess",
    "no_dotstar_anchor",
    "no_start_optimize",
    "auto_callout",
    "dupnames",
    "never_backslash_c",
    "use_offset_limit",
];

/// regex_options lvsd reads: see [`UrlRegex::compile`].
pub const REGEX_OPTIONS: &[&str] = &[
    "caseless",
    "multiline",
    "dotall",
    "extended",
    "ungreedy",
    "never_utf",
];

impl UrlCheck {
    /// Whether `status` is one this URL accepts.
    pub fn accepts(&self, status: u16) -> bool {
        if self.status_codes.is_empty() {
            (200..=299).contains(&status)
        } else {
            self.status_codes
                .iter()
                .any(|r| (r.from..=r.to).contains(&status))
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct MiscCheck {
    /// The command line, split without a shell when run.
    pub misc_path: String,
    /// None: the delay_loop.
    pub misc_timeout: Option<Duration>,
    pub misc_dynamic: bool,
    pub user: Option<ScriptUser>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct SmtpCheck {
    /// Default: the hostname.
    pub helo_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct DnsCheck {
    /// Default `SOA`.
    pub query_type: String,
    /// Default `.`.
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct UdpCheck {
    pub payload: Option<Vec<u8>>,
    /// `require_reply [HEX]`: a reply must come within connect_timeout; with HEX, its
    /// first bytes must match and its length lie within the bounds below.
    pub require_reply: Option<ReplyPattern>,
    /// `min_reply_length` (keepalived's default 0).
    pub min_reply_length: u16,
    /// `max_reply_length` (keepalived's default 255: a longer reply fails a check with
    /// reply data).
    pub max_reply_length: u16,
}

impl UdpCheck {
    /// keepalived's defaults for a UDP_CHECK block.
    pub const DEFAULT_MIN_REPLY: u16 = 0;
    pub const DEFAULT_MAX_REPLY: u16 = 255;

    pub fn new(payload: Option<Vec<u8>>, require_reply: Option<ReplyPattern>) -> UdpCheck {
        UdpCheck {
            payload,
            require_reply,
            min_reply_length: Self::DEFAULT_MIN_REPLY,
            max_reply_length: Self::DEFAULT_MAX_REPLY,
        }
    }

    /// Whether `reply` (as received, at most `max_reply_length + 1` bytes) passes, as
    /// keepalived 2.2.7 judges it: without reply data any reply passes; with it, the
    /// length must lie within the bounds and the bytes both have (the shorter of the
    /// reply and the data) must match outside the wildcards.
    pub fn reply_passes(&self, reply: &[u8]) -> bool {
        let Some(want) = &self.require_reply else {
            return true;
        };
        if want.data.is_empty() {
            return true;
        }
        let len = reply.len();
        if len < usize::from(self.min_reply_length) || len > usize::from(self.max_reply_length) {
            return false;
        }
        reply
            .iter()
            .zip(&want.data)
            .enumerate()
            .all(|(i, (got, exp))| (got ^ exp) & !want.mask.get(i).copied().unwrap_or(0) == 0)
    }
}

/// The reply data of `require_reply`: bytes, and a wildcard mask (a set bit is not
/// compared; empty when the data has no `x` nibbles).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Default)]
pub struct ReplyPattern {
    pub data: Vec<u8>,
    pub mask: Vec<u8>,
}

impl ReplyPattern {
    /// Reads keepalived's hex string: hex digits in pairs, spaces between bytes allowed
    /// (a lone digit before a space or the end is a byte of its own), and, where
    /// `wildcards`, `x`/`X` for a nibble not compared. `None` for an empty or invalid
    /// string.
    pub fn parse(s: &str, wildcards: bool) -> Option<ReplyPattern> {
        fn nibble(c: u8, wildcards: bool) -> Option<(u8, u8)> {
            match c {
                b'0'..=b'9' => Some((c - b'0', 0)),
                b'a'..=b'f' => Some((c - b'a' + 10, 0)),
                b'A'..=b'F' => Some((c - b'A' + 10, 0)),
                b'x' | b'X' if wildcards => Some((0, 0x0f)),
                _ => None,
            }
        }
        let b = s.as_bytes();
        let mut i = 0;
        let mut out = ReplyPattern::default();
        let mut masked = false;
        loop {
            while i < b.len() && (b[i] == b' ' || b[i] == b'\t') {
                i += 1;
            }
            if i == b.len() {
                break;
            }
            let (mut val, mut mask) = nibble(b[i], wildcards)?;
            i += 1;
            if i < b.len() && b[i] != b' ' && b[i] != b'\t' {
                let (lo, lo_mask) = nibble(b[i], wildcards)?;
                i += 1;
                val = val << 4 | lo;
                mask = mask << 4 | lo_mask;
            }
            masked |= mask != 0;
            out.data.push(val);
            out.mask.push(mask);
        }
        if out.data.is_empty() {
            return None;
        }
        if !masked {
            out.mask.clear();
        }
        Some(out)
    }

    /// The data as keepalived's hex string reads it back (`x` for a wildcard nibble).
    pub fn to_hex(&self) -> String {
        let digit = |v: u8, m: u8| {
            if m != 0 {
                'x'
            } else {
                char::from_digit(u32::from(v), 16).unwrap_or('0')
            }
        };
        let mut s = String::with_capacity(self.data.len() * 2);
        for (i, v) in self.data.iter().enumerate() {
            let m = self.mask.get(i).copied().unwrap_or(0);
            s.push(digit(v >> 4, m >> 4));
            s.push(digit(v & 0x0f, m & 0x0f));
        }
        s
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct FileCheck {
    /// Path of the file whose number is the weight (keepalived's track_file).
    pub track_file: String,
    pub weight: Option<i32>,
    pub reverse: bool,
}

// ---- routes and rules: static_routes / static_rules / virtual_routes / virtual_rules ----

/// An address prefix of a route or rule (`10.0.0.0/8`; `default` is the family's `/0`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct IpPrefix {
    pub addr: IpAddr,
    pub len: u8,
}

impl std::fmt::Display for IpPrefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.addr, self.len)
    }
}

/// `rtm_protocol` keepalived gives its routes and rules (RTPROT_KEEPALIVED).
pub const RTPROT_KEEPALIVED: u8 = 18;

/// A route's type (rtnetlink `RTN_*`), as `ip route` names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum RouteType {
    Unicast,
    Local,
    Broadcast,
    Anycast,
    Multicast,
    Blackhole,
    Unreachable,
    Prohibit,
    Throw,
    Nat,
    Xresolve,
}

impl RouteType {
    pub const ALL: [RouteType; 11] = [
        RouteType::Unicast,
        RouteType::Local,
        RouteType::Broadcast,
        RouteType::Anycast,
        RouteType::Multicast,
        RouteType::Blackhole,
        RouteType::Unreachable,
        RouteType::Prohibit,
        RouteType::Throw,
        RouteType::Nat,
        RouteType::Xresolve,
    ];
    pub fn name(self) -> &'static str {
        match self {
            RouteType::Unicast => "unicast",
            RouteType::Local => "local",
            RouteType::Broadcast => "broadcast",
            RouteType::Anycast => "anycast",
            RouteType::Multicast => "multicast",
            RouteType::Blackhole => "blackhole",
            RouteType::Unreachable => "unreachable",
            RouteType::Prohibit => "prohibit",
            RouteType::Throw => "throw",
            RouteType::Nat => "nat",
            RouteType::Xresolve => "xresolve",
        }
    }
    /// The kernel's `RTN_*` number.
    pub fn number(self) -> u8 {
        match self {
            RouteType::Unicast => 1,
            RouteType::Local => 2,
            RouteType::Broadcast => 3,
            RouteType::Anycast => 4,
            RouteType::Multicast => 5,
            RouteType::Blackhole => 6,
            RouteType::Unreachable => 7,
            RouteType::Prohibit => 8,
            RouteType::Throw => 9,
            RouteType::Nat => 10,
            RouteType::Xresolve => 11,
        }
    }
    /// `brd` is keepalived's other name for `broadcast`.
    pub fn from_name(s: &str) -> Option<RouteType> {
        if s == "brd" {
            return Some(RouteType::Broadcast);
        }
        RouteType::ALL.into_iter().find(|t| t.name() == s)
    }
}

/// How a route is added when a matching one exists: `prepend` (keepalived's default, the
/// kernel's NLM_F_CREATE alone), `add` (fails if one exists) or `append`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
pub enum RouteAddMode {
    #[default]
    Prepend,
    Add,
    Append,
}

/// A route metric (`RTAX_*`) keepalived lets a route set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum RouteMetricKind {
    Mtu,
    Window,
    Rtt,
    Rttvar,
    Ssthresh,
    Cwnd,
    Advmss,
    Reordering,
    Hoplimit,
    Initcwnd,
    Features,
    RtoMin,
    Initrwnd,
    Quickack,
    FastopenNoCookie,
}

impl RouteMetricKind {
    pub const ALL: [RouteMetricKind; 15] = [
        RouteMetricKind::Mtu,
        RouteMetricKind::Window,
        RouteMetricKind::Rtt,
        RouteMetricKind::Rttvar,
        RouteMetricKind::Ssthresh,
        RouteMetricKind::Cwnd,
        RouteMetricKind::Advmss,
        RouteMetricKind::Reordering,
        RouteMetricKind::Hoplimit,
        RouteMetricKind::Initcwnd,
        RouteMetricKind::Features,
        RouteMetricKind::RtoMin,
        RouteMetricKind::Initrwnd,
        RouteMetricKind::Quickack,
        RouteMetricKind::FastopenNoCookie,
    ];
    /// The keyword in a route line.
    pub fn keyword(self) -> &'static str {
        match self {
            RouteMetricKind::Mtu => "mtu",
            RouteMetricKind::Window => "window",
            RouteMetricKind::Rtt => "rtt",
            RouteMetricKind::Rttvar => "rttvar",
            RouteMetricKind::Ssthresh => "ssthresh",
            RouteMetricKind::Cwnd => "cwnd",
            RouteMetricKind::Advmss => "advmss",
            RouteMetricKind::Reordering => "reordering",
            RouteMetricKind::Hoplimit => "hoplimit",
            RouteMetricKind::Initcwnd => "initcwnd",
            RouteMetricKind::Features => "features",
            RouteMetricKind::RtoMin => "rto_min",
            RouteMetricKind::Initrwnd => "initrwnd",
            RouteMetricKind::Quickack => "quickack",
            RouteMetricKind::FastopenNoCookie => "fastopen_no_cookie",
        }
    }
    /// The kernel's `RTAX_*` number.
    pub fn rtax(self) -> u16 {
        match self {
            RouteMetricKind::Mtu => 2,
            RouteMetricKind::Window => 3,
            RouteMetricKind::Rtt => 4,
            RouteMetricKind::Rttvar => 5,
            RouteMetricKind::Ssthresh => 6,
            RouteMetricKind::Cwnd => 7,
            RouteMetricKind::Advmss => 8,
            RouteMetricKind::Reordering => 9,
            RouteMetricKind::Hoplimit => 10,
            RouteMetricKind::Initcwnd => 11,
            RouteMetricKind::Features => 12,
            RouteMetricKind::RtoMin => 13,
            RouteMetricKind::Initrwnd => 14,
            RouteMetricKind::Quickack => 15,
            RouteMetricKind::FastopenNoCookie => 17,
        }
    }
    /// Whether `lock` may precede the value (as keepalived accepts it).
    pub fn lockable(self) -> bool {
        matches!(
            self,
            RouteMetricKind::Mtu
                | RouteMetricKind::Rtt
                | RouteMetricKind::Rttvar
                | RouteMetricKind::Ssthresh
                | RouteMetricKind::Cwnd
                | RouteMetricKind::Advmss
                | RouteMetricKind::Reordering
                | RouteMetricKind::RtoMin
        )
    }
}

/// One metric of a route, in the kernel's units (`rtt` in 1/8 ms, `rttvar` in 1/4 ms,
/// `rto_min` in ms, `features ecn` = 1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct RouteMetricValue {
    pub kind: RouteMetricKind,
    pub value: u32,
    pub lock: bool,
}

/// `nexthop via ADDR [dev IF] [weight N] [onlink] [realms R]` of a multipath route (the
/// deprecated `via A or B` makes two).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize)]
pub struct NextHop {
    pub via: Option<IpAddr>,
    pub dev: Option<String>,
    /// 1-256 as written.
    pub weight: Option<u16>,
    pub onlink: bool,
    pub realms: Option<u32>,
}

/// One line of `static_routes {}` / `virtual_routes {}` (the `ip route add` syntax).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Route {
    pub span: Span,
    pub ipv6: bool,
    /// Written type (`blackhole`, …); None: unicast.
    pub rtype: Option<RouteType>,
    pub dst: IpPrefix,
    /// `src ADDR`: the preferred source (RTA_PREFSRC).
    pub src: Option<IpAddr>,
    /// `from PREFIX`: the source prefix (IPv6 only).
    pub from: Option<IpPrefix>,
    /// `via` / `gw`.
    pub via: Option<IpAddr>,
    /// `dev` / `oif`.
    pub dev: Option<String>,
    /// Default 254 (main).
    pub table: u32,
    /// `protocol` as written (only used with `no_track`, as keepalived).
    pub protocol: Option<u8>,
    pub scope: Option<u8>,
    /// `metric` / `priority` / `preference`.
    pub metric: Option<u32>,
    /// `tos` / `dsfield`.
    pub tos: Option<u8>,
    pub onlink: bool,
    pub metrics: Vec<RouteMetricValue>,
    /// `congctl [lock] NAME`.
    pub congctl: Option<(String, bool)>,
    pub realms: Option<u32>,
    /// `pref low|medium|high|N` (IPv6): the RA preference number (low 3, medium 0, high 1).
    pub pref: Option<u8>,
    /// `expires N` (IPv6), seconds.
    pub expires: Option<u32>,
    pub nexthops: Vec<NextHop>,
    pub mode: RouteAddMode,
    pub no_track: bool,
}

impl Route {
    /// The protocol the kernel gets: keepalived's own (18) unless `no_track` and a protocol
    /// is written.
    pub fn effective_protocol(&self) -> u8 {
        match (self.no_track, self.protocol) {
            (true, Some(p)) => p,
            _ => RTPROT_KEEPALIVED,
        }
    }
}

/// What a rule does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum RuleAction {
    /// `table N` / `lookup N`.
    Table(u32),
    /// `l3mdev`: the table of the L3 master device.
    L3mdev,
    /// `goto PREF`.
    Goto(u32),
    Nop,
    Blackhole,
    Unreachable,
    Prohibit,
}

/// One line of `static_rules {}` / `virtual_rules {}` (the `ip rule add` syntax).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rule {
    pub span: Span,
    pub ipv6: bool,
    /// `not`.
    pub invert: bool,
    pub from: Option<IpPrefix>,
    pub to: Option<IpPrefix>,
    pub priority: u32,
    /// No preference was written: keepalived gave this one from 16384 down.
    pub auto_priority: bool,
    pub tos: u8,
    pub fwmark: Option<u32>,
    pub fwmask: Option<u32>,
    pub realms: Option<u32>,
    pub suppress_prefixlen: Option<u32>,
    pub suppress_ifgroup: Option<u32>,
    /// `iif` / `dev`.
    pub iif: Option<String>,
    pub oif: Option<String>,
    pub tunnel_id: Option<u64>,
    pub uidrange: Option<(u32, u32)>,
    /// `protocol N` as written (used with `no_track` only, as keepalived).
    pub protocol: Option<u8>,
    pub ipproto: Option<u8>,
    pub sport: Option<(u16, u16)>,
    pub dport: Option<(u16, u16)>,
    pub action: RuleAction,
    pub no_track: bool,
}

impl Rule {
    /// The protocol the kernel gets: keepalived's own (18) unless `no_track`.
    pub fn effective_protocol(&self) -> Option<u8> {
        if self.no_track {
            self.protocol
        } else {
            Some(RTPROT_KEEPALIVED)
        }
    }
}

/// keepalived's checker defaults, where nothing more specific is written.
pub mod defaults {
    use std::time::Duration;
    pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
    pub const RETRY: u32 = 1;
    pub const DELAY_BEFORE_RETRY: Duration = Duration::from_secs(1);
    pub const DELAY_LOOP: Duration = Duration::from_secs(60);
    pub const PERSISTENCE_TIMEOUT: u32 = 360;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn advert_interval_rule() {
        let ms = Duration::from_millis;
        // v2: whole seconds 1-255, the nearest used.
        assert_eq!(advert_interval_cs(2, ms(1000)), (100, true));
        assert_eq!(advert_interval_cs(2, ms(1500)), (200, false));
        assert_eq!(advert_interval_cs(2, ms(1004)), (100, false));
        assert_eq!(advert_interval_cs(2, ms(0)), (100, false));
        assert_eq!(advert_interval_cs(2, ms(300_000)), (25_500, false));
        // Beyond u16 centiseconds: no overflow.
        assert_eq!(advert_interval_cs(2, ms(700_000)), (25_500, false));
        // v3: hundredths, 0.01-40.95 s.
        assert_eq!(advert_interval_cs(3, ms(250)), (25, true));
        assert_eq!(advert_interval_cs(3, ms(40_950)), (4095, true));
        assert_eq!(advert_interval_cs(3, ms(41_000)), (4095, false));
        assert_eq!(advert_interval_cs(3, ms(15)), (1, false));
        assert_eq!(advert_interval_cs(3, ms(0)), (1, false));
    }

    fn rs() -> RealServer {
        RealServer::new(IpAddr::from([10, 0, 0, 1]), Some(80))
    }

    #[test]
    fn hex_strings_read_as_keepalived_reads_them() {
        let p = |s, w| ReplyPattern::parse(s, w);
        let data = |s, w| p(s, w).map(|r: ReplyPattern| r.data);
        assert_eq!(data("0a0B", false), Some(vec![0x0a, 0x0b]));
        // Spaces between bytes; a lone digit before a space or the end is a byte.
        assert_eq!(data("41 42  43", false), Some(vec![0x41, 0x42, 0x43]));
        assert_eq!(data("1 23 4", false), Some(vec![0x01, 0x23, 0x04]));
        assert_eq!(data("abc", false), Some(vec![0xab, 0x0c]));
        // Not hex, or nothing: invalid.
        assert_eq!(p("zz", false), None);
        assert_eq!(p("0x41", false), None);
        assert_eq!(p("", false), None);
        assert_eq!(p("   ", false), None);
        // Wildcards only where allowed, per nibble.
        assert_eq!(p("4x", false), None);
        let w = p("4x X1 22", true).unwrap();
        assert_eq!(w.data, vec![0x40, 0x01, 0x22]);
        assert_eq!(w.mask, vec![0x0f, 0xf0, 0x00]);
        assert_eq!(w.to_hex(), "4xx122");
        let back = w.to_hex();
        assert_eq!(p(&back, true), Some(w));
        // No wildcard: no mask.
        assert!(p("4142", true).unwrap().mask.is_empty());
    }

    #[test]
    fn udp_replies_judged_as_keepalived_judges_them() {
        let with = |s: &str| UdpCheck::new(None, ReplyPattern::parse(s, true));
        let u = with("4142");
        assert!(u.reply_passes(b"AB"));
        assert!(
            u.reply_passes(b"ABCD"),
            "only the data's length is compared"
        );
        assert!(
            u.reply_passes(b"A"),
            "a shorter reply is compared as far as it goes"
        );
        assert!(!u.reply_passes(b"AC"));
        assert!(
            u.reply_passes(b""),
            "min_reply_length 0 lets an empty reply pass"
        );
        // Length bounds: the default maximum is 255.
        let mut long = vec![b'A', b'B'];
        long.resize(255, 0);
        assert!(u.reply_passes(&long));
        long.push(0);
        assert!(
            !u.reply_passes(&long),
            "256 bytes: over the default maximum"
        );
        let mut bounded = with("41");
        bounded.min_reply_length = 3;
        bounded.max_reply_length = 4;
        assert!(!bounded.reply_passes(b"AB"));
        assert!(bounded.reply_passes(b"ABC"));
        assert!(bounded.reply_passes(b"ABCD"));
        assert!(!bounded.reply_passes(b"ABCDE"));
        // Wildcards: the masked nibble is not compared.
        let w = with("4x42");
        assert!(w.reply_passes(b"AB"));
        assert!(w.reply_passes(b"OB"));
        assert!(!w.reply_passes(b"aB"), "0x61: the high nibble differs");
        // require_reply without data, and no require_reply: any reply passes.
        let any = UdpCheck::new(None, Some(ReplyPattern::default()));
        assert!(any.reply_passes(&[0u8; 1000]));
        assert!(UdpCheck::new(None, None).reply_passes(b"x"));
    }

    #[test]
    fn a_real_server_stays_small() {
        // 256 bytes with its scripts and checker settings inline; a large configuration
        // has tens of thousands of real servers.
        assert!(
            std::mem::size_of::<RealServer>() <= 128,
            "{} bytes",
            std::mem::size_of::<RealServer>()
        );
    }

    #[test]
    fn a_checker_kind_is_a_pointer_wide() {
        // One checker per real server in a large configuration; unboxed, the largest
        // kind (MISC_CHECK's) made each ~100 bytes, and the rarely written options
        // inline another ~80.
        assert_eq!(std::mem::size_of::<CheckerKind>(), 16);
        assert!(
            std::mem::size_of::<Checker>() <= 112,
            "{} bytes",
            std::mem::size_of::<Checker>()
        );
    }

    #[test]
    fn settings_are_set_where_written_and_none_elsewhere() {
        let mut a = rs();
        assert_eq!(a.more(), &RsSettings::default());
        a.more_mut().retry = Some(3);
        assert_eq!(a.more().retry, Some(3));
        assert_eq!(a.more().notify_up, None);
        // no settings and settings all unset are the same
        let mut b = rs();
        b.more_mut();
        assert_eq!(b, rs());
        assert_ne!(a, rs());
    }

    #[test]
    fn json_has_every_setting_of_a_real_server_with_or_without_them() {
        let plain = serde_json::to_value(rs()).unwrap();
        let mut set = rs();
        set.more_mut().notify_down = Some("/bin/down".into());
        let set = serde_json::to_value(set).unwrap();
        let keys = serde_json::to_value(RsSettings::default()).unwrap();
        let keys = keys.as_object().unwrap().keys();
        assert_eq!(keys.len(), 9);
        for key in keys {
            assert_eq!(plain.get(key), Some(&serde_json::Value::Null), "{key}");
            assert!(set.get(key).is_some(), "{key}");
        }
        assert_eq!(set["notify_down"], "/bin/down");
        assert!(plain.get("more").is_none());
    }
}
