//! lvsd: VRRP failover and LVS health checking for Linux Virtual Server directors,
//! reading keepalived.conf and taking keepalived's flags.

pub mod alert;
pub mod backoff;
pub mod checkers;
pub mod cli;
pub mod config;
pub mod control;
pub mod ctl;
pub mod daemon;
pub mod doctor;
pub mod heap;
pub mod ipvs;
pub mod lvs;
pub mod metrics;
pub mod netns;
pub mod notify_fifo;
pub mod nss;
pub mod precedence;
pub mod realserver;
pub mod script;
pub mod sockbuf;
pub mod vrrp;
