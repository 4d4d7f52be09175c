//! keepalived's signal functions and their numbers (`keepalived --signum=NAME`).
//!
//! keepalived 2.2.7 on Linux/glibc: STOP 15 (SIGTERM), RELOAD 1 (SIGHUP), DATA 10
//! (SIGUSR1), STATS 12 (SIGUSR2), STATS_CLEAR SIGRTMAX-1 (63), JSON SIGRTMIN+2 (36).
//! Names are matched exactly (keepalived refuses `stop`).

/// The signal that writes the stats file and then zeroes the counters.
pub fn stats_clear() -> libc::c_int {
    libc::SIGRTMAX() - 1
}

/// The signal that writes `/tmp/keepalived.json`.
pub fn json() -> libc::c_int {
    libc::SIGRTMIN() + 2
}

/// The signal number keepalived uses for the function `name`, None for an unknown name.
pub fn signum(name: &str) -> Option<libc::c_int> {
    Some(match name {
        "STOP" => libc::SIGTERM,
        "RELOAD" => libc::SIGHUP,
        "DATA" => libc::SIGUSR1,
        "STATS" => libc::SIGUSR2,
        "STATS_CLEAR" => stats_clear(),
        "JSON" => json(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keepalived_numbers() {
        // What `keepalived --signum=X` prints for Debian's keepalived 2.2.7 (glibc).
        let want = [
            ("STOP", 15),
            ("RELOAD", 1),
            ("DATA", 10),
            ("STATS", 12),
            ("STATS_CLEAR", 63),
            ("JSON", 36),
        ];
        for (name, n) in want {
            assert_eq!(signum(name), Some(n), "{name}");
        }
    }

    #[test]
    fn unknown_names() {
        for name in ["stop", "", "HUP", "STATS-CLEAR", "JSON "] {
            assert_eq!(signum(name), None, "{name:?}");
        }
    }
}
