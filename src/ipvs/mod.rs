//! Kernel IPVS over generic netlink: value types, message codec and client, and the
//! settings outside the table (`lvs_timeouts`, `lvs_sync_daemon`) as kernel values.

pub mod client;
pub mod codec;
pub mod globals;
pub mod listing;
pub mod types;

pub use types::*;
