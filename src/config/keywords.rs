//! Keyword tables, one per block. They drive "did you mean" suggestions and the
//! "not supported yet" warnings; the builders match on the same names.

/// The keywords of one kind of block.
pub struct Table {
    /// The block's name as written in messages (`vrrp_instance`, `HTTP_GET`, …).
    pub name: &'static str,
    /// Keywords lvsd reads.
    pub supported: &'static [&'static str],
    /// Keywords keepalived 2.2.7 has that lvsd does not implement yet: a warning, not an
    /// error. tests/keepalived_keywords.rs holds every table to keepalived's list, and
    /// docs/configuration.md ("Not supported") says why for each.
    pub unsupported: &'static [&'static str],
}

impl Table {
    /// The closest keyword to `word`, if one is close enough to be a likely typo.
    pub fn suggest(&self, word: &str) -> Option<&'static str> {
        let lower = word.to_ascii_lowercase();
        // The distance is at least the difference in length: keywords too long or too
        // short to pass the bound below are not measured.
        let close_in_length = |k: &&&str| {
            let bound = 3.max(k.len() / 4);
            k.len().abs_diff(lower.len()) <= bound
        };
        self.supported
            .iter()
            .chain(self.unsupported)
            .filter(close_in_length)
            .map(|k| {
                (
                    strsim::damerau_levenshtein(&lower, &k.to_ascii_lowercase()),
                    *k,
                )
            })
            .filter(|(d, k)| *d <= 3.max(k.len() / 4) && *d < k.len())
            .min_by_key(|(d, _)| *d)
            .map(|(_, k)| k)
    }
}

pub const TOP: Table = Table {
    name: "the top level",
    supported: &[
        "global_defs",
        "vrrp_script",
        "vrrp_sync_group",
        "vrrp_instance",
        "virtual_server_group",
        "virtual_server",
        "include",
        "includer",
        "includem",
        "includew",
        "includeb",
        "includea",
        "net_namespace",
        "instance",
        "use_pid_dir",
        "net_namespace_ipvs",
        "linkbeat_use_polling",
        "linkbeat_interfaces",
        "child_wait_time",
        "namespace_with_ipsets",
        "static_ipaddress",
        "static_routes",
        "static_rules",
        "track_file",
        "vrrp_track_file",
        "vrrp_track_process",
        "garp_group",
        "SSL",
        "interface_up_down_delays",
    ],
    unsupported: &[
        // Blocks lvsd skips whole, with what they hold.
        "track_group",
        "bfd_instance",
    ],
};

pub const GLOBAL: Table = Table {
    name: "global_defs",
    supported: &[
        "router_id",
        "smtp_helo_name",
        "notification_email",
        "notification_email_from",
        "smtp_server",
        "smtp_connect_timeout",
        "smtp_alert",
        "smtp_alert_vrrp",
        "smtp_alert_checker",
        "script_user",
        "enable_script_security",
        "vrrp_strict",
        "vrrp_skip_check_adv_addr",
        "vrrp_check_unicast_src",
        "vrrp_garp_master_delay",
        "vrrp_garp_master_repeat",
        "vrrp_garp_master_refresh",
        "vrrp_garp_master_refresh_repeat",
        "vrrp_version",
        "vrrp_v3_checksum_as_v2",
        "vrrp_iptables",
        "nftables",
        "nftables_priority",
        "nftables_counters",
        "nftables_ifindex",
        "vrrp_mcast_group4",
        "vrrp_mcast_group6",
        "lvs_sync_daemon",
        "lvs_timeouts",
        "notify_fifo",
        "notify_fifo_script",
        "vrrp_notify_fifo",
        "vrrp_notify_fifo_script",
        "lvs_notify_fifo",
        "lvs_notify_fifo_script",
        "notify_script_timeout",
        "vrrp_no_swap",
        "checker_no_swap",
        "vrrp_lower_prio_no_advert",
        "vrrp_higher_prio_send_advert",
        "max_auto_priority",
        "min_auto_priority_delay",
        "vrrp_garp_lower_prio_delay",
        "vrrp_garp_lower_prio_repeat",
        "vrrp_garp_interval",
        "vrrp_gna_interval",
        "vrrp_garp_extra_if",
        "vrrp_vmac_garp_intvl",
        "vrrp_startup_delay",
        "vrrp_rlimit_rttime",
        "vrrp_rlimit_rtime",
        // Receive buffers (lvs_netlink_monitor and process_monitor name sockets lvsd does
        // not have: read and shown in the dump, nothing to size).
        "vrrp_netlink_cmd_rcv_bufs",
        "vrrp_netlink_cmd_rcv_bufs_force",
        "vrrp_netlink_monitor_rcv_bufs",
        "vrrp_netlink_monitor_rcv_bufs_force",
        "lvs_netlink_cmd_rcv_bufs",
        "lvs_netlink_cmd_rcv_bufs_force",
        "lvs_netlink_monitor_rcv_bufs",
        "lvs_netlink_monitor_rcv_bufs_force",
        "process_monitor_rcv_bufs",
        "process_monitor_rcv_bufs_force",
        "vrrp_rx_bufs_policy",
        "vrrp_rx_bufs_multiplier",
        "default_interface",
        "dynamic_interfaces",
        "vrrp_min_garp",
        "umask",
        "log_unknown_vrids",
        "vrrp_down_timer_adverts",
        "vmac_prefix",
        "no_email_faults",
        "checker_log_all_failures",
        "rs_init_notifies",
        "data_use_instance",
        "no_checker_emails",
        "vrrp_notify_priority_changes",
        "fifo_write_vrrp_states_on_reload",
        "startup_script",
        "startup_script_timeout",
        "shutdown_script",
        "shutdown_script_timeout",
        "lvs_flush",
        "lvs_flush_on_stop",
        "lvs_flush_onstop",
        "vrrp_priority",
        "checker_priority",
        "vrrp_rt_priority",
        "checker_rt_priority",
        "vrrp_cpu_affinity",
        "checker_cpu_affinity",
        "checker_rlimit_rttime",
        "checker_rlimit_rtime",
        "reload_check_config",
        "config_save_dir",
        "reload_file",
        "reload_time_file",
        "reload_repeat",
        "process_names",
        "process_name",
        "vrrp_process_name",
        "checker_process_name",
        "lvs_process_name",
    ],
    unsupported: &[
        // Firewall rules (no_accept, IGMP/MLD on VMACs) and fwmarks for groups.
        "vrrp_ipsets",
        "nftables_ipvs",
        "nftables_ipvs_priority",
        "nftables_ipvs_start_fwmark",
        "disable_local_igmp",
        // The IPVS table at start and stop.
        // VRRP behaviour.
        "vmac_addr_prefix",
        // Notifications and email.
        // Programs run once at start and at stop.
        // Scheduling of keepalived's vrrp, checker and bfd processes.
        "bfd_priority",
        "bfd_no_swap",
        "bfd_cpu_affinity",
        "bfd_rt_priority",
        "bfd_rlimit_rttime",
        "bfd_rlimit_rtime",
        // Names of keepalived's processes.
        "bfd_process_name",
        // SNMP and DBus.
        "snmp_socket",
        "enable_traps",
        "enable_snmp_vrrp",
        "enable_snmp_keepalived",
        "enable_snmp_checker",
        "enable_snmp_rfc",
        "enable_snmp_rfcv2",
        "enable_snmp_rfcv3",
        "enable_dbus",
        "dbus_service_name",
        // Reading, reloading and dumping the configuration.
        "tmp_config_directory",
        "include_check",
        "random_seed",
    ],
};

pub const GARP_GROUP: Table = Table {
    name: "garp_group",
    supported: &["garp_interval", "gna_interval", "interface", "interfaces"],
    unsupported: &[],
};

pub const VRRP_SCRIPT: Table = Table {
    name: "vrrp_script",
    supported: &[
        "script",
        "interval",
        "timeout",
        "weight",
        "rise",
        "fall",
        "user",
        "init_fail",
    ],
    unsupported: &[],
};

pub const TRACK_FILE: Table = Table {
    name: "track_file",
    supported: &["file", "weight", "init_file"],
    unsupported: &[],
};

pub const TRACK_PROCESS: Table = Table {
    name: "vrrp_track_process",
    supported: &[
        "process",
        "param_match",
        "weight",
        "quorum",
        "quorum_max",
        "delay",
        "terminate_delay",
        "fork_delay",
        "full_command",
    ],
    unsupported: &[],
};

pub const SYNC_GROUP: Table = Table {
    name: "vrrp_sync_group",
    supported: &[
        "group",
        "notify_master",
        "notify_backup",
        "notify_fault",
        "notify_stop",
        "notify_deleted",
        "notify",
        "smtp_alert",
        "global_tracking",
        "sync_group_tracking_weight",
        "notify_priority_changes",
        "track_script",
        "track_interface",
        "track_file",
        "track_process",
    ],
    unsupported: &["track_bfd"],
};

pub const INSTANCE: Table = Table {
    name: "vrrp_instance",
    supported: &[
        "state",
        "interface",
        "virtual_router_id",
        "priority",
        "advert_int",
        "version",
        "authentication",
        "virtual_ipaddress",
        "virtual_ipaddress_excluded",
        "track_script",
        "track_interface",
        "notify_master",
        "notify_backup",
        "notify_fault",
        "notify_stop",
        "notify_deleted",
        "notify",
        "notify_master_rx_lower_pri",
        "nopreempt",
        "preempt",
        "preempt_delay",
        "unicast_src_ip",
        "unicast_peer",
        "mcast_src_ip",
        "garp_master_delay",
        "garp_master_repeat",
        "garp_master_refresh",
        "garp_master_refresh_repeat",
        "garp_lower_prio_delay",
        "garp_lower_prio_repeat",
        "garp_extra_if",
        "vmac_garp_intvl",
        "lower_prio_no_advert",
        "higher_prio_send_advert",
        "use_vmac",
        "vmac_xmit_base",
        "accept",
        "no_accept",
        "smtp_alert",
        "lvs_sync_daemon_interface",
        "dont_track_primary",
        "skip_check_adv_addr",
        "kernel_rx_buf_size",
        "check_unicast_src",
        "promote_secondaries",
        "down_timer_adverts",
        "notify_priority_changes",
        "strict_mode",
        "native_ipv6",
        "debug",
        "virtual_routes",
        "virtual_rules",
        "track_file",
        "track_process",
        "unicast_ttl",
        "old_unicast_checksum",
        "unicast_fault_no_peer",
        "track_src_ip",
        "mcast_dst_ip",
        "linkbeat_use_polling",
    ],
    unsupported: &["track_bfd", "use_ipvlan", "vrf", "use_vmac_addr"],
};

pub const AUTH: Table = Table {
    name: "authentication",
    supported: &["auth_type", "auth_pass"],
    unsupported: &[],
};

pub const VSG: Table = Table {
    name: "virtual_server_group",
    supported: &["fwmark"],
    unsupported: &[],
};

pub const VS: Table = Table {
    name: "virtual_server",
    supported: &[
        "delay_loop",
        "lb_algo",
        "lvs_sched",
        "lb_kind",
        "lvs_method",
        "persistence_timeout",
        "persistence_granularity",
        "persistence_engine",
        "protocol",
        "ops",
        "one_packet",
        "sorry_server",
        "sorry_server_inhibit",
        "sorry_server_lvs_method",
        "quorum",
        "hysteresis",
        "quorum_up",
        "quorum_down",
        "alpha",
        "omega",
        "inhibit_on_failure",
        "virtualhost",
        "retry",
        "delay_before_retry",
        "connect_timeout",
        "warmup",
        "ha_suspend",
        "smtp_alert",
        "tun_type",
        "ip_family",
        "flag-1",
        "flag-2",
        "flag-3",
        "sh-fallback",
        "sh-port",
        "mh-fallback",
        "mh-port",
        "real_server",
        // Read and, as in keepalived 2.2.7, without effect.
        "weight",
    ],
    unsupported: &[
        "snmp_name",
        // Accepted by keepalived 2.2.7 with a complaint and no effect.
        "hashed",
    ],
};

/// The top-level `SSL` block.
pub const SSL_BLOCK: Table = Table {
    name: "SSL",
    supported: &["password", "ca", "certificate", "key"],
    unsupported: &[],
};

pub const RS: Table = Table {
    name: "real_server",
    supported: &[
        "weight",
        "inhibit_on_failure",
        "notify_up",
        "notify_down",
        "uthreshold",
        "lthreshold",
        "lvs_method",
        "tun_type",
        "alpha",
        "retry",
        "delay_before_retry",
        "connect_timeout",
        "delay_loop",
        "warmup",
        "smtp_alert",
        "virtualhost",
        "HTTP_GET",
        "SSL_GET",
        "TCP_CHECK",
        "MISC_CHECK",
        "SMTP_CHECK",
        "DNS_CHECK",
        "UDP_CHECK",
        "PING_CHECK",
        "FILE_CHECK",
    ],
    unsupported: &["snmp_name", "BFD_CHECK"],
};

/// Keywords every checker takes.
pub const CHECK_COMMON: &[&str] = &[
    "connect_ip",
    "connect_port",
    "bindto",
    "bind_port",
    "bind_if",
    "connect_timeout",
    "retry",
    "delay_before_retry",
    "delay_loop",
    "warmup",
    "alpha",
    "fwmark",
    "log_all_failures",
];

macro_rules! checker_table {
    ($name:ident, $label:expr, [$($kw:expr),*], [$($un:expr),*]) => {
        pub const $name: Table = Table {
            name: $label,
            supported: &[
                "connect_ip", "connect_port", "bindto", "bind_port", "bind_if",
                "connect_timeout", "retry", "delay_before_retry",
                "delay_loop", "warmup", "alpha", "fwmark", "log_all_failures" $(, $kw)*
            ],
            unsupported: &[$($un),*],
        };
    };
}

checker_table!(
    HTTP,
    "HTTP_GET",
    [
        "url",
        "virtualhost",
        "http_protocol",
        "enable_sni",
        "nb_get_retry",
        "fast_recovery"
    ],
    []
);
checker_table!(
    SSL,
    "SSL_GET",
    [
        "url",
        "virtualhost",
        "http_protocol",
        "enable_sni",
        "nb_get_retry",
        "fast_recovery"
    ],
    []
);
checker_table!(TCP, "TCP_CHECK", [], []);
checker_table!(
    MISC,
    "MISC_CHECK",
    ["misc_path", "misc_timeout", "misc_dynamic", "user"],
    []
);
checker_table!(SMTP, "SMTP_CHECK", ["helo_name", "host"], []);
// SMTP_CHECK's deprecated `host { … }` block: the connection settings of one more checker.
checker_table!(SMTP_HOST, "host", [], []);
checker_table!(DNS, "DNS_CHECK", ["type", "name"], []);
checker_table!(
    UDP,
    "UDP_CHECK",
    [
        "payload",
        "require_reply",
        "min_reply_length",
        "max_reply_length"
    ],
    []
);
checker_table!(PING, "PING_CHECK", [], []);
checker_table!(FILE, "FILE_CHECK", ["track_file", "weight"], []);

pub const URL: Table = Table {
    name: "url",
    supported: &[
        "path",
        "status_code",
        "digest",
        "virtualhost",
        "regex",
        "regex_no_match",
        "regex_options",
        "regex_stack",
        "regex_min_offset",
        "regex_max_offset",
    ],
    unsupported: &[],
};

/// The keywords that open a block in keepalived 2.2.7, in any block. A block after any
/// other keyword is one keepalived does not expect (see `P::unexpected_block`); after
/// one of these it is read, or skipped, whole.
pub const BLOCK_KEYWORDS: &[&str] = &[
    // the top level
    "global_defs",
    "vrrp_script",
    "vrrp_track_file",
    "track_file",
    "vrrp_track_process",
    "vrrp_sync_group",
    "vrrp_instance",
    "virtual_server_group",
    "virtual_server",
    "garp_group",
    "SSL",
    "static_ipaddress",
    "static_routes",
    "static_rules",
    "linkbeat_interfaces",
    "bfd_instance",
    // global_defs
    "notification_email",
    "interface_up_down_delays",
    // vrrp_sync_group, vrrp_instance
    "group",
    "track_script",
    "track_interface",
    "track_process",
    "track_bfd",
    "authentication",
    "virtual_ipaddress",
    "virtual_ipaddress_excluded",
    "virtual_routes",
    "virtual_rules",
    "unicast_peer",
    // garp_group
    "interfaces",
    // virtual_server, real_server and checkers
    "real_server",
    "HTTP_GET",
    "SSL_GET",
    "TCP_CHECK",
    "SMTP_CHECK",
    "MISC_CHECK",
    "DNS_CHECK",
    "UDP_CHECK",
    "PING_CHECK",
    "FILE_CHECK",
    "BFD_CHECK",
    "url",
    "host",
];

/// Every table, for tests and documentation.
pub const ALL: &[&Table] = &[
    &TOP,
    &GLOBAL,
    &GARP_GROUP,
    &SSL_BLOCK,
    &VRRP_SCRIPT,
    &TRACK_FILE,
    &TRACK_PROCESS,
    &SYNC_GROUP,
    &INSTANCE,
    &AUTH,
    &VSG,
    &VS,
    &RS,
    &HTTP,
    &SSL,
    &TCP,
    &MISC,
    &SMTP,
    &SMTP_HOST,
    &DNS,
    &UDP,
    &PING,
    &FILE,
    &URL,
];
