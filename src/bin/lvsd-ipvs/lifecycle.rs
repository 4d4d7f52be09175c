//! The steps of the lifecycle benchmark (`tests/vm/lifecycle.sh`): start a daemon or signal
//! it, then wait until it is done by its own account (a line in its log) and by the kernel's
//! (the IPVS table as expected), timed from the action; the resident memory of a daemon's
//! processes; a TCP listener that accepts and drops connections for the TCP_CHECKs.
//!
//!   lvsd-ipvs await [spawn=LOG | signal=PID:SIG] [exit] [log=FILE] [mark=TEXT]...
//!                   [last=ADDR:PORT:M] [entries=N] [weights=SUM] [empty] [gone=PID]
//!                   [timeout=S] [-- CMD ARG...]
//!   lvsd-ipvs rss PID
//!   lvsd-ipvs listen ADDR:PORT

use anyhow::{anyhow, bail, Context, Result};
use lvsd::ipvs::client::{ClientError, IpvsClient};
use lvsd::ipvs::types::{Proto, ServiceKey};
use std::io::{Read, Seek, SeekFrom};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// How often a condition is looked at again.
const POLL: Duration = Duration::from_millis(5);

/// What `await` does and waits for.
#[derive(Default)]
struct Plan {
    /// start the command after `--`, its output to this file
    spawn: Option<PathBuf>,
    /// send this signal to this process
    signal: Option<(i32, nix::sys::signal::Signal)>,
    /// wait until the started command exits
    exit: bool,
    /// the daemon's log, and the lines (any one of them) that say it is done
    log: Option<PathBuf>,
    marks: Vec<String>,
    /// a TCP service and how many destinations it must have
    last: Option<(ServiceKey, usize)>,
    /// entries (services + destinations) the table must hold
    entries: Option<usize>,
    /// the sum of every destination's weight
    weights: Option<u64>,
    /// wait until the table has no service
    empty: bool,
    /// wait until this process is gone (or a zombie)
    gone: Option<i32>,
    timeout: Duration,
    cmd: Vec<String>,
}

fn parse_plan(args: &[String]) -> Result<Plan> {
    let mut p = Plan {
        timeout: Duration::from_secs(900),
        ..Plan::default()
    };
    let mut rest = args.iter();
    for a in rest.by_ref() {
        if a == "--" {
            break;
        }
        let (k, v) = a.split_once('=').unwrap_or((a.as_str(), ""));
        let num =
            |v: &str| -> Result<u64> { v.parse().map_err(|_| anyhow!("{k}: not a number: {v:?}")) };
        match k {
            "spawn" => p.spawn = Some(PathBuf::from(v)),
            "signal" => {
                let (pid, sig) = v
                    .split_once(':')
                    .ok_or_else(|| anyhow!("signal=PID:SIG, not {v:?}"))?;
                let sig: nix::sys::signal::Signal = format!("SIG{sig}")
                    .parse()
                    .map_err(|_| anyhow!("no signal called {sig}"))?;
                p.signal = Some((num(pid)? as i32, sig));
            }
            "exit" => p.exit = true,
            "log" => p.log = Some(PathBuf::from(v)),
            "mark" => p.marks.push(v.to_string()),
            "last" => {
                let (sa, m) = v
                    .rsplit_once(':')
                    .ok_or_else(|| anyhow!("last=ADDR:PORT:M, not {v:?}"))?;
                let sa: std::net::SocketAddr =
                    sa.parse().map_err(|_| anyhow!("not an ADDR:PORT: {sa}"))?;
                let key = ServiceKey::Addr {
                    proto: Proto::Tcp,
                    addr: sa.ip(),
                    port: sa.port(),
                };
                p.last = Some((key, num(m)? as usize));
            }
            "entries" => p.entries = Some(num(v)? as usize),
            "weights" => p.weights = Some(num(v)?),
            "empty" => p.empty = true,
            "gone" => p.gone = Some(num(v)? as i32),
            "timeout" => p.timeout = Duration::from_secs(num(v)?),
            _ => bail!("await: unknown option {a:?}"),
        }
    }
    p.cmd = rest.cloned().collect();
    if p.spawn.is_some() == p.cmd.is_empty() {
        bail!("await: spawn=LOG goes with -- CMD, and only with it");
    }
    if p.spawn.is_some() && p.signal.is_some() {
        bail!("await: spawn= or signal=, not both");
    }
    if !p.marks.is_empty() && p.log.is_none() && p.spawn.is_none() {
        bail!("await: mark= needs log=FILE");
    }
    Ok(p)
}

/// The log's size now: lines written before the action do not count.
fn log_len(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// The first of `marks` written to `path` after byte `from`, if any yet.
fn mark_seen(path: &std::path::Path, from: u64, marks: &[String]) -> Option<String> {
    let mut f = std::fs::File::open(path).ok()?;
    f.seek(SeekFrom::Start(from)).ok()?;
    let mut text = Vec::new();
    f.read_to_end(&mut text).ok()?;
    let text = String::from_utf8_lossy(&text);
    let line = text
        .lines()
        .find(|l| marks.iter().any(|m| l.contains(m.as_str())))?;
    Some(line.trim().to_string())
}

fn process_gone(pid: i32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        Err(_) => true,
        Ok(stat) => stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.trim_start().starts_with('Z'))
            .unwrap_or(false),
    }
}

/// (entries, weight sum) of the whole table.
fn table_figures(c: &mut IpvsClient) -> Result<(usize, u64)> {
    let t = c.dump_all()?;
    let entries = t.len() + t.iter().map(|s| s.dests.len()).sum::<usize>();
    let weights = t
        .iter()
        .flat_map(|s| s.dests.iter())
        .map(|d| u64::from(d.dest.weight))
        .sum();
    Ok((entries, weights))
}

/// Polls `done` every [`POLL`] until it holds; false on timeout.
fn wait_for(t0: Instant, limit: Duration, mut done: impl FnMut() -> Result<bool>) -> Result<bool> {
    loop {
        if done()? {
            return Ok(true);
        }
        if t0.elapsed() > limit {
            return Ok(false);
        }
        std::thread::sleep(POLL);
    }
}

fn ms(d: Duration) -> String {
    format!("{:.1}", d.as_secs_f64() * 1000.0)
}

/// Runs a plan: prints one line, `ms=… pid=…` and each stage's time (or `failed=STAGE`),
/// and returns the exit code (0 when every condition held in time). `ms` is when the last
/// condition waited for held: the exit, the mark, the last service complete, the table
/// empty, the process gone; the table's entries and weights count only when they were
/// not right at the first look after the stages before.
fn await_plan(p: Plan) -> Result<i32> {
    let mut c = IpvsClient::connect()?;
    let log = p.log.clone().or_else(|| p.spawn.clone());
    let from = log.as_deref().map(log_len).unwrap_or(0);
    let t0 = Instant::now();
    let mut child = None;
    let mut line = Vec::new();
    if let (Some(out), Some((prog, args))) = (&p.spawn, p.cmd.split_first()) {
        let f = std::fs::File::create(out).with_context(|| format!("{}", out.display()))?;
        let ch = std::process::Command::new(prog)
            .args(args)
            .stdout(f.try_clone()?)
            .stderr(f)
            .spawn()
            .with_context(|| format!("cannot start {prog}"))?;
        line.push(format!("pid={}", ch.id()));
        child = Some(ch);
    }
    if let Some((pid, sig)) = p.signal {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig)
            .with_context(|| format!("cannot signal {pid}"))?;
    }
    let limit = p.timeout;
    let mut failed = None;
    // when the last stage waited for was over (the table check does not count: see there)
    let mut settled: Option<Duration> = None;
    'stages: {
        if p.exit {
            let Some(ch) = child.as_mut() else {
                bail!("await: exit needs spawn=");
            };
            let mut rc = None;
            if !wait_for(t0, limit, || {
                rc = ch.try_wait()?;
                Ok(rc.is_some())
            })? {
                failed = Some("exit");
                break 'stages;
            }
            settled = Some(t0.elapsed());
            line.push(format!(
                "rc={}",
                rc.and_then(|s| s.code())
                    .map_or("signal".into(), |c| c.to_string())
            ));
        }
        if let (Some(path), false) = (&log, p.marks.is_empty()) {
            let mut seen = None;
            if !wait_for(t0, limit, || {
                seen = mark_seen(path, from, &p.marks);
                Ok(seen.is_some())
            })? {
                failed = Some("mark");
                break 'stages;
            }
            settled = Some(t0.elapsed());
            line.push(format!("mark_ms={}", ms(t0.elapsed())));
            line.push(format!("mark={:?}", seen.unwrap_or_default()));
        }
        if let Some((key, m)) = &p.last {
            if !wait_for(t0, limit, || match c.service(key)? {
                None => Ok(false),
                Some(_) => match c.dests(key) {
                    Ok(d) => Ok(d.len() >= *m),
                    Err(ClientError::Kernel { .. }) => Ok(false), // deleted meanwhile
                    Err(e) => Err(e.into()),
                },
            })? {
                failed = Some("last");
                break 'stages;
            }
            settled = Some(t0.elapsed());
            line.push(format!("last_ms={}", ms(t0.elapsed())));
        }
        if p.entries.is_some() || p.weights.is_some() {
            // A check, not a wait: when the table is right at the first look, the figure
            // is the time of the stage before (reading 21,000 entries back takes longer
            // than most reloads under TCG, and would add as much to either daemon).
            let mut have = (0, 0);
            let mut looks = 0;
            if !wait_for(t0, limit, || {
                looks += 1;
                have = table_figures(&mut c)?;
                Ok(p.entries.is_none_or(|n| have.0 == n) && p.weights.is_none_or(|w| have.1 == w))
            })? {
                line.push(format!("entries={} weights={}", have.0, have.1));
                failed = Some("table");
                break 'stages;
            }
            if looks > 1 || settled.is_none() {
                settled = Some(t0.elapsed());
            }
            line.push(format!(
                "table_ms={} looks={looks} entries={} weights={}",
                ms(t0.elapsed()),
                have.0,
                have.1
            ));
        }
        if p.empty {
            if !wait_for(t0, limit, || Ok(c.services()?.is_empty()))? {
                failed = Some("empty");
                break 'stages;
            }
            settled = Some(t0.elapsed());
            line.push(format!("empty_ms={}", ms(t0.elapsed())));
        }
        if let Some(pid) = p.gone {
            if !wait_for(t0, limit, || Ok(process_gone(pid)))? {
                failed = Some("gone");
                break 'stages;
            }
            settled = Some(t0.elapsed());
            line.push(format!("gone_ms={}", ms(t0.elapsed())));
        }
    }
    let head = match failed {
        None => format!("ms={}", ms(settled.unwrap_or_else(|| t0.elapsed()))),
        Some(stage) => format!("failed={stage} after_ms={}", ms(t0.elapsed())),
    };
    println!("{head} {}", line.join(" "));
    Ok(if failed.is_none() { 0 } else { 1 })
}

/// `pid` and every process descending from it.
pub(crate) fn process_tree(pid: u32) -> Vec<u32> {
    let mut parent_of = Vec::new();
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(p) = e.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
            continue;
        };
        let ppid = std::fs::read_to_string(e.path().join("stat"))
            .ok()
            .and_then(|s| {
                let (_, rest) = s.rsplit_once(')')?;
                rest.split_whitespace().nth(1)?.parse::<u32>().ok()
            });
        if let Some(pp) = ppid {
            parent_of.push((p, pp));
        }
    }
    let mut tree = vec![pid];
    let mut i = 0;
    while i < tree.len() {
        let p = tree[i];
        tree.extend(parent_of.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    tree
}

/// VmRSS (kB) of `pid` and of every process descending from it, and how many there are.
fn tree_rss(pid: u32) -> (u64, usize) {
    let tree = process_tree(pid);
    let rss = tree
        .iter()
        .map(|p| proc_kb(&format!("/proc/{p}/status"), "VmRSS:"))
        .sum();
    (rss, tree.len())
}

/// Where a process tree's resident memory is, in kB summed over its processes: anonymous,
/// file-backed, shared memory (a binary on the guest's initramfs counts here), and the
/// anonymous memory in transparent huge pages.
fn tree_rss_parts(pid: u32) -> [u64; 4] {
    let mut parts = [0; 4];
    for p in process_tree(pid) {
        let status = format!("/proc/{p}/status");
        parts[0] += proc_kb(&status, "RssAnon:");
        parts[1] += proc_kb(&status, "RssFile:");
        parts[2] += proc_kb(&status, "RssShmem:");
        parts[3] += proc_kb(&format!("/proc/{p}/smaps_rollup"), "AnonHugePages:");
    }
    parts
}

/// The kB figure of one `Name:   123 kB` line of a /proc file (0 when absent).
fn proc_kb(path: &str, name: &str) -> u64 {
    std::fs::read_to_string(path)
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix(name))
                .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
        })
        .unwrap_or(0)
}

/// Accepts connections and closes them at once, for ever.
fn listen(addr: &str) -> Result<i32> {
    let l =
        std::net::TcpListener::bind(addr).with_context(|| format!("cannot listen on {addr}"))?;
    loop {
        // a failed accept (the peer gave up) is no reason to stop
        let _ = l.accept();
    }
}

/// The lifecycle subcommands; None when `args` names none of them.
pub fn main(args: &[String]) -> Option<Result<i32>> {
    Some(match args.first().map(String::as_str)? {
        "await" => parse_plan(&args[1..]).and_then(await_plan),
        "rss" => match args.get(1).and_then(|p| p.parse::<u32>().ok()) {
            Some(pid) => {
                let (kb, procs) = tree_rss(pid);
                let [anon, file, shmem, huge] = tree_rss_parts(pid);
                println!(
                    "rss_kb={kb} procs={procs} anon_kb={anon} file_kb={file} shmem_kb={shmem} anon_huge_kb={huge}"
                );
                Ok(if kb > 0 { 0 } else { 1 })
            }
            None => Err(anyhow!("usage: rss PID")),
        },
        "listen" => match args.get(1) {
            Some(a) => listen(a),
            None => Err(anyhow!("usage: listen ADDR:PORT")),
        },
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_plan_reads_its_options() {
        let p = parse_plan(&strings(&[
            "signal=42:HUP",
            "log=/tmp/x.log",
            "mark=Reload complete",
            "mark=refused",
            "last=10.100.3.231:80:20",
            "entries=21000",
            "weights=20010",
        ]))
        .expect("a valid plan");
        assert_eq!(p.signal, Some((42, nix::sys::signal::Signal::SIGHUP)));
        assert_eq!(p.marks, ["Reload complete", "refused"]);
        assert_eq!(p.last.map(|(_, m)| m), Some(20));
        assert_eq!((p.entries, p.weights), (Some(21000), Some(20010)));
        assert!(p.cmd.is_empty());
    }

    #[test]
    fn a_plan_without_its_command_or_with_nonsense_is_refused() {
        assert!(parse_plan(&strings(&["spawn=/tmp/x.log"])).is_err());
        assert!(parse_plan(&strings(&["signal=1:NOPE"])).is_err());
        assert!(parse_plan(&strings(&["entries=many"])).is_err());
        assert!(parse_plan(&strings(&["mark=x"])).is_err());
        assert!(parse_plan(&strings(&["frobnicate"])).is_err());
        let p = parse_plan(&strings(&["spawn=/tmp/x.log", "exit", "--", "true", "-x"]))
            .expect("a valid plan");
        assert_eq!(p.cmd, ["true", "-x"]);
    }

    #[test]
    fn a_mark_counts_only_after_the_offset() {
        let dir = std::env::temp_dir().join(format!("lvsd-await-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let f = dir.join("log");
        std::fs::write(&f, "Reload complete\n").expect("write");
        let from = log_len(&f);
        let marks = strings(&["Reload complete"]);
        assert_eq!(mark_seen(&f, from, &marks), None);
        std::fs::write(&f, "Reload complete\nx: Reload complete (2)\n").expect("write");
        assert_eq!(
            mark_seen(&f, from, &marks).as_deref(),
            Some("x: Reload complete (2)")
        );
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn this_process_counts_in_its_own_tree_and_a_dead_one_is_gone() {
        let (kb, procs) = tree_rss(std::process::id());
        assert!(kb > 0 && procs >= 1);
        assert!(!process_gone(std::process::id() as i32));
        assert!(process_gone(i32::MAX));
    }
}
