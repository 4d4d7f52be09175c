//! VRRP v2/v3: packet codec, I/O-free state machine, and the adapters around it.

// Protocol core (vrrp-core): codec, parameters, tracking, state machine, sync groups.
pub mod ah;
pub mod checksum;
pub mod ctl_view;
pub mod debounce;
pub mod dump;
pub mod dump_if;
pub mod dump_routes;
pub mod limit;
pub mod packet;
pub mod params;
pub mod state;
pub mod sync_group;
pub mod track;

// I/O adapters, notify and the runtime (vrrp-io).
pub mod firewall;
pub mod garp;
pub mod link;
pub mod linkbeat;
pub mod notify;
pub mod routes;
pub mod runtime;
pub mod sched;
pub mod socket;
pub mod syncd;
pub mod timer;
pub mod track_file;
pub mod track_process;
pub mod vip;
pub mod vmac;
