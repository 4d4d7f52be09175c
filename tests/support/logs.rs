//! Log lines written on this thread while a closure runs (tracing, warn level and above),
//! for tests that check what the operator sees. Include with
//! `#[path = "support/logs.rs"] mod logs;`.

use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Sink {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs `f`; returns its result and the warn/error lines it logged.
pub fn warnings_during<R>(f: impl FnOnce() -> R) -> (R, Vec<String>) {
    lines_during(tracing::Level::WARN, f)
}

/// Runs `f`; returns its result and the lines it logged at `level` and above.
pub fn lines_during<R>(level: tracing::Level, f: impl FnOnce() -> R) -> (R, Vec<String>) {
    let sink = Sink::default();
    let writer = sink.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(level)
        .with_ansi(false)
        .without_time()
        .with_writer(move || writer.clone())
        .finish();
    let r = tracing::subscriber::with_default(subscriber, f);
    let bytes = sink.0.lock().unwrap_or_else(|p| p.into_inner()).clone();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    (r, text.lines().map(str::to_string).collect())
}
