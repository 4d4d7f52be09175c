//! The start-up pass that overlaps reading the configuration (`lvsd -n`).
//!
//! While the configuration is read, a thread opens the IPVS socket and reads the kernel's
//! table. When that table is empty (nothing to lose, nothing lvsd did not create), the
//! same thread programs the virtual servers as the configuration's builder reads them, in
//! batches of sixteen ([`crate::config::load_streaming`]): the kernel's work, most of the time
//! to a complete table, then overlaps the reading of the rest of the file instead of
//! following it.
//!
//! A virtual server is programmed ahead only when the rest of the file cannot change what
//! it stands for: the early pass stops at the first one that names a
//! `virtual_server_group` (the group may come later, and it would win any service it
//! shares with a later virtual server). A service two virtual servers name is the first
//! one's, as in any pass. The entries are what [`LvsState`] makes of each virtual server at
//! start, so the daemon's first full pass, over the same reconciler, finds them in place
//! and sends only what is left.
//!
//! Should the configuration turn out invalid, or the daemon fail to start, the
//! [`EarlyKernel`] is dropped unused, and its drop removes every service the early pass
//! added (even with `-I`: they come from a configuration that was refused).

use super::reconcile::{Pass, Reconciler};
use super::state::LvsState;
use crate::config::{Config, VirtualServer, VsSink};
use crate::ipvs::client::IpvsClient;
use crate::ipvs::IpvsBackend;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::sync::Arc;
use std::time::Duration;

/// Virtual servers the builder's sink hands over at a time: one wake-up of the early
/// pass's thread, and one state built, for each batch.
const BATCH_VS: usize = 16;

/// Programs the virtual servers `incoming` delivers, batch after batch as they come, until
/// the channel closes or `stop` is set; `None` when the kernel's table was not empty
/// (nothing done, `incoming` dropped). Successes are booked in `rec` as by any pass.
pub fn early_pass<B: IpvsBackend>(
    rec: &mut Reconciler,
    backend: &mut B,
    incoming: Receiver<Vec<VirtualServer>>,
    stop: &AtomicBool,
) -> Option<Result<Pass, B::Error>> {
    if !rec.actual().services.is_empty() {
        return None;
    }
    Some(rec.sync_parts(backend, move |emit| {
        while let Ok(mut batch) = incoming.recv() {
            if stop.load(Ordering::Acquire) {
                return;
            }
            // Up to the first that names a group (its members are known only once the
            // whole file is read, and it would win any service it shares with a later one).
            let named_group = batch
                .iter()
                .position(|vs| super::build::service_keys(vs, &[]).is_err());
            if let Some(at) = named_group {
                batch.truncate(at);
            }
            if !batch.is_empty() {
                let config = Config {
                    virtual_servers: batch,
                    ..Config::default()
                };
                // Start effects (quorum scripts) are the daemon's, from the whole file.
                let (state, _effects) = LvsState::new(Arc::new(config));
                state.desired_parts(emit);
            }
            if named_group.is_some() {
                return;
            }
        }
    }))
}

/// The builder's end of the channel: virtual servers gathered [`BATCH_VS`] at a time, the
/// last ones sent when it is dropped (the file read). Once the early pass no longer takes
/// any, it sends nothing more.
struct BatchingSink {
    tx: Option<Sender<Vec<VirtualServer>>>,
    pending: Vec<VirtualServer>,
}

impl BatchingSink {
    fn take(&mut self, vs: &VirtualServer) {
        if self.tx.is_none() {
            return;
        }
        self.pending.push(vs.clone());
        if self.pending.len() >= BATCH_VS {
            self.flush();
        }
    }

    fn flush(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let batch = std::mem::replace(&mut self.pending, Vec::with_capacity(BATCH_VS));
        if let Some(tx) = &self.tx {
            if tx.send(batch).is_err() {
                self.tx = None;
            }
        }
    }
}

impl Drop for BatchingSink {
    fn drop(&mut self) {
        self.flush();
    }
}

/// What the early thread did, for the daemon's log.
#[derive(Debug, Default)]
pub struct EarlyReport {
    /// Opening the socket and reading the table.
    pub opened_in: Duration,
    /// Services found in the kernel's table.
    pub found: usize,
    /// The early pass: `None` when it did not run (a table not empty).
    pub pass: Option<Result<Pass, String>>,
    /// From the start of the thread to the end of the early pass.
    pub done_in: Duration,
}

/// What the early thread hands over: the backend, the reconciler and its report.
pub type Opened<B> = (B, Reconciler, EarlyReport);

/// The IPVS socket, the kernel's table and the early pass, on a thread of their own while
/// the configuration is read (`lvsd -n`: nothing forks afterwards). Should the table
/// change between the read and the first full pass, an operation fails, and the retry a
/// second later reads the table again.
pub struct EarlyKernel<B: IpvsBackend + Send + 'static = IpvsClient> {
    thread: Option<std::thread::JoinHandle<Result<Opened<B>, String>>>,
    sink: Option<Sender<Vec<VirtualServer>>>,
    stop: Arc<AtomicBool>,
}

impl EarlyKernel<IpvsClient> {
    /// On the kernel's IPVS, over generic netlink.
    pub fn open() -> Self {
        Self::start(|| IpvsClient::connect().map_err(|e| e.to_string()))
    }
}

impl<B: IpvsBackend + Send + 'static> EarlyKernel<B> {
    /// On the backend `connect` opens (on the new thread).
    pub fn start<F>(connect: F) -> Self
    where
        F: FnOnce() -> Result<B, String> + Send + 'static,
    {
        let (sink, incoming) = std::sync::mpsc::channel();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = stop.clone();
        let thread = std::thread::spawn(move || {
            let started = std::time::Instant::now();
            let mut backend = connect()?;
            let table = backend.dump().map_err(|e| e.to_string())?;
            let mut report = EarlyReport {
                opened_in: started.elapsed(),
                found: table.len(),
                ..EarlyReport::default()
            };
            let mut rec = Reconciler::from_dump(table);
            report.pass = early_pass(&mut rec, &mut backend, incoming, &stopped)
                .map(|r| r.map_err(|e| e.to_string()));
            report.done_in = started.elapsed();
            Ok((backend, rec, report))
        });
        EarlyKernel {
            thread: Some(thread),
            sink: Some(sink),
            stop,
        }
    }

    /// The configuration builder's end (once): each virtual server read is cloned to the
    /// early thread, [`BATCH_VS`] at a time.
    pub fn vs_sink(&mut self) -> Option<VsSink> {
        let mut sink = BatchingSink {
            tx: Some(self.sink.take()?),
            pending: Vec::with_capacity(BATCH_VS),
        };
        Some(Box::new(move |vs: &VirtualServer| sink.take(vs)))
    }

    /// Waits for the thread (the early pass goes on until the configuration's sink is
    /// dropped) and takes what it opened: from now on the caller owns what it added.
    pub fn join(mut self) -> Option<std::thread::Result<Result<Opened<B>, String>>> {
        self.sink = None;
        self.thread.take().map(|t| t.join())
    }
}

impl<B: IpvsBackend + Send + 'static> Drop for EarlyKernel<B> {
    /// Unused: the configuration was refused or the daemon did not start. Whatever the
    /// early pass added goes.
    fn drop(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        self.stop.store(true, Ordering::Release);
        self.sink = None;
        let Ok(Ok((mut backend, mut rec, _))) = thread.join() else {
            return;
        };
        if rec.stats.ops_ok == 0 {
            return;
        }
        tracing::warn!(
            "Start abandoned: removing the IPVS services added while the configuration was read"
        );
        if let Err(e) = rec.release(&mut backend) {
            tracing::error!("Cannot remove the IPVS services added at start: {e}");
        }
    }
}
