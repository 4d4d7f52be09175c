//! Kernel IPVS over generic netlink: value types, message codec and client.

pub mod types;

pub use types::*;
