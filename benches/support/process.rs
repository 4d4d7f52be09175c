//! The benches' knobs and what they read about their own process (memory, reload_soak,
//! flap, cold_start share them).
#![allow(dead_code)]

/// The environment variable `name` parsed, else `default`.
pub fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// A count from the environment variable `name`, else `default`.
pub fn env(name: &str, default: usize) -> usize {
    env_or(name, default)
}

/// A number field of /proc/self/status (kB for sizes); 0 when it cannot be read.
pub fn status_kib(field: &str) -> usize {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}

/// Open file descriptors of this process.
pub fn fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| d.count())
}
