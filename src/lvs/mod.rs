//! The LVS side: desired table from config + checker states, reconciled with the kernel.
//!
//! - [`build`]: config → kernel values (`Service`, `Dest`), as keepalived builds them.
//! - [`state`]: checker / real-server / quorum state; events in, desired table and
//!   effects (scripts, mails) out. Pure.
//! - [`table`]: tables as values, comparison, and the diff into `Op`s. Pure.
//! - [`reconcile`]: applies the diff through an `IpvsBackend`, with ownership and retry.
//! - `lvs_timeouts` and `lvs_sync_daemon` become kernel values in [`crate::ipvs::globals`],
//!   which the VRRP side (it drives the sync daemon) imports too.
//! - [`runtime`]: the thin tokio loop (`run`).
//! - `fake`: an in-memory kernel table for tests; `fixture`: config values in code. Both
//!   only with the `testing` feature (on in every test and bench build, off in release).

pub mod build;
pub mod ctl;
pub mod dump;
#[cfg(feature = "testing")]
pub mod fake;
#[cfg(feature = "testing")]
pub mod fixture;
pub mod reconcile;
pub mod runtime;
pub mod state;
pub mod table;
