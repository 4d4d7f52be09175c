//! Kernel IPVS over generic netlink: value types, message codec and client.

pub mod client;
pub mod codec;
pub mod listing;
pub mod types;

pub use types::*;
