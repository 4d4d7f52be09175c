//! The checkers' own thread: a single-threaded tokio runtime that runs the checker
//! manager's driver and every attempt, as keepalived runs its checkers in a process of
//! their own with one thread.
//!
//! Why not the daemon's multi-threaded runtime: there, each attempt spawned, and each
//! socket or timer waking one, while the other worker is idle, unparks that worker to
//! look for work to steal (a futex wake and a context switch, then the woken worker's
//! search in user time, for nothing): measured with `cargo bench --bench checks`, that
//! was most of the checkers' user time and about one context switch per check. On one
//! thread an attempt is spawned, woken and finished without waking any other.

use std::time::Duration;
use tokio::runtime::Handle;
use tokio::sync::oneshot;

/// The thread and its runtime; dropping this stops them and waits until they have
/// stopped (attempts still in flight are dropped with the runtime: their sockets closed,
/// MISC scripts killed), so that a daemon that exits next leaves no script behind.
pub struct CheckerThread {
    handle: Handle,
    /// Dropped first: the thread's wait ends and it shuts its runtime down.
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl CheckerThread {
    /// Starts the thread named `name`; `on_start` runs on it first (its scheduling
    /// settings).
    pub fn start(
        name: &str,
        on_start: impl FnOnce() + Send + 'static,
    ) -> std::io::Result<CheckerThread> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let handle = rt.handle().clone();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(name.to_string())
            .spawn(move || {
                on_start();
                // Err: the sender was dropped, which is how it is told to stop.
                let _ = rt.block_on(stopped);
                rt.shutdown_timeout(Duration::from_secs(1));
            })?;
        Ok(CheckerThread {
            handle,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// The runtime to start checkers on (enter it, then start the manager).
    pub fn handle(&self) -> &Handle {
        &self.handle
    }
}

impl Drop for CheckerThread {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            // (Never dropped on its own thread; if it were, joining would wait forever.)
            if t.thread().id() != std::thread::current().id() {
                let _ = t.join();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Tasks started through the handle run on the named thread, and dropping the
    /// thread's owner stops what still runs there before it returns.
    #[test]
    fn tasks_run_on_the_thread_and_stop_with_it() {
        let t = CheckerThread::start("lvsd-test-chk", || {}).unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        let (dropped_tx, dropped_rx) = std::sync::mpsc::channel::<()>();
        t.handle().spawn(async move {
            let _ = tx.send(std::thread::current().name().map(str::to_string));
            // Held until the task is dropped with the runtime.
            let _dropped = dropped_tx;
            std::future::pending::<()>().await;
        });
        let name = rx.recv_timeout(Duration::from_secs(5)).unwrap();
        assert_eq!(name.as_deref(), Some("lvsd-test-chk"));
        drop(t);
        // The pending task has been dropped by then: its end of the channel is gone.
        assert_eq!(
            dropped_rx.try_recv(),
            Err(std::sync::mpsc::TryRecvError::Disconnected)
        );
    }
}
