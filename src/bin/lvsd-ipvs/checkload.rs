//! The pieces of the checks-under-load benchmark (`tests/vm/checks-load.sh`): a real server
//! for TCP_CHECK and HTTP_GET that counts the connections it accepts (the checks done,
//! counted the same way whichever daemon checks), and the CPU time of a daemon's processes.
//!
//!   lvsd-ipvs serve ADDR:PORT COUNTFILE
//!   lvsd-ipvs cpu PID

use anyhow::{anyhow, Context, Result};
use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// What the server answers to any request; its MD5 is the digest the HTTP_GET checks expect.
const ANSWER: &[u8] =
    b"HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 3\r\n\r\nok\n";

/// How long a connection may stay silent before the server drops it.
const IDLE: Duration = Duration::from_secs(10);

/// How often the counts are written to the count file.
const COUNT_EVERY: Duration = Duration::from_millis(500);

/// The counts so far.
#[derive(Default)]
struct Counts {
    accepted: Cell<u64>,
    answered: Cell<u64>,
}

/// Whether `head` holds a complete request head.
fn head_complete(head: &[u8]) -> bool {
    head.windows(4).any(|w| w == b"\r\n\r\n")
}

/// One connection: a TCP_CHECK closes it without a word; an HTTP_GET sends a request head
/// and gets [`ANSWER`], then the server closes.
async fn connection(mut s: tokio::net::TcpStream, counts: Rc<Counts>) {
    let mut head = Vec::with_capacity(256);
    let mut buf = [0u8; 1024];
    loop {
        let n = match tokio::time::timeout(IDLE, s.read(&mut buf)).await {
            Ok(Ok(n)) => n,
            // reset by the checker, or silent too long: nothing to answer
            Ok(Err(_)) | Err(_) => return,
        };
        if n == 0 {
            return;
        }
        head.extend_from_slice(&buf[..n]);
        if head_complete(&head) {
            break;
        }
        if head.len() > 64 * 1024 {
            return;
        }
    }
    if s.write_all(ANSWER).await.is_ok() {
        counts.answered.set(counts.answered.get() + 1);
    }
}

/// Writes the counts to `path` (through a temporary file: a reader sees a whole line).
fn write_counts(path: &std::path::Path, c: &Counts) {
    let tmp = path.with_extension("tmp");
    let line = format!(
        "accepted={} answered={}\n",
        c.accepted.get(),
        c.answered.get()
    );
    if std::fs::write(&tmp, line).is_ok() {
        let _ = std::fs::rename(&tmp, path);
    }
}

/// Connections the kernel may hold for the server before it drops SYNs: as many as
/// `net.core.somaxconn` allows by default, so that a server starved of CPU for a moment
/// is not what fails a check.
const BACKLOG: u32 = 4096;

fn listener(addr: &str) -> Result<tokio::net::TcpListener> {
    let addr: std::net::SocketAddr = addr.parse()?;
    let s = if addr.is_ipv4() {
        tokio::net::TcpSocket::new_v4()?
    } else {
        tokio::net::TcpSocket::new_v6()?
    };
    s.set_reuseaddr(true)?;
    s.bind(addr)?;
    Ok(s.listen(BACKLOG)?)
}

/// Serves for ever on one thread, as small a share of the guest's CPU as it can.
fn serve(addr: &str, count_file: &str) -> Result<i32> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let local = tokio::task::LocalSet::new();
    let path = std::path::PathBuf::from(count_file);
    local.block_on(&rt, async move {
        let l = listener(addr).with_context(|| format!("cannot listen on {addr}"))?;
        let counts = Rc::new(Counts::default());
        let mut tick = tokio::time::interval(COUNT_EVERY);
        loop {
            tokio::select! {
                got = l.accept() => {
                    // a failed accept (the peer gave up) is no reason to stop
                    if let Ok((s, _)) = got {
                        counts.accepted.set(counts.accepted.get() + 1);
                        tokio::task::spawn_local(connection(s, counts.clone()));
                    }
                }
                _ = tick.tick() => write_counts(&path, &counts),
            }
        }
    })
}

/// User plus system time (ms) of `pid` and of every process descending from it.
fn tree_cpu_ms(pid: u32) -> (f64, usize) {
    let tick_ms = 1000.0
        / nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
            .ok()
            .flatten()
            .unwrap_or(100) as f64;
    let tree = crate::lifecycle::process_tree(pid);
    let ticks: u64 = tree
        .iter()
        .filter_map(|p| std::fs::read_to_string(format!("/proc/{p}/stat")).ok())
        .filter_map(|s| {
            let (_, rest) = s.rsplit_once(')')?;
            let f: Vec<&str> = rest.split_whitespace().collect();
            // after the command name: utime is the 12th field, stime the 13th
            Some(f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?)
        })
        .sum();
    (ticks as f64 * tick_ms, tree.len())
}

/// The checks-under-load subcommands; None when `args` names none of them.
pub fn main(args: &[String]) -> Option<Result<i32>> {
    Some(match args.first().map(String::as_str)? {
        "serve" => match (args.get(1), args.get(2)) {
            (Some(a), Some(f)) => serve(a, f),
            _ => Err(anyhow!("usage: serve ADDR:PORT COUNTFILE")),
        },
        "cpu" => match args.get(1).and_then(|p| p.parse::<u32>().ok()) {
            Some(pid) => {
                let (ms, procs) = tree_cpu_ms(pid);
                println!("cpu_ms={ms:.0} procs={procs}");
                Ok(if procs > 0 && ms >= 0.0 { 0 } else { 1 })
            }
            None => Err(anyhow!("usage: cpu PID")),
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_head_is_complete_at_its_blank_line() {
        assert!(head_complete(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n"));
        assert!(!head_complete(b"GET / HTTP/1.0\r\nHost: x\r\n"));
        assert!(!head_complete(b""));
    }

    #[test]
    fn this_process_has_used_some_cpu() {
        // spin until the kernel has counted 50 ms of this process's CPU (several clock
        // ticks; wall time says nothing on a loaded machine)
        let cpu = || {
            nix::time::clock_gettime(nix::time::ClockId::CLOCK_PROCESS_CPUTIME_ID)
                .map(Duration::from)
                .unwrap_or_default()
        };
        let start = cpu();
        let mut x = 0u64;
        while cpu() < start + Duration::from_millis(50) {
            x = x.wrapping_add(std::hint::black_box(1));
        }
        std::hint::black_box(x);
        let (ms, procs) = tree_cpu_ms(std::process::id());
        assert!(procs >= 1);
        assert!(ms > 0.0, "{ms}");
    }
}
