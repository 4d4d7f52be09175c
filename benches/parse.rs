//! Config parsing benchmark: a generated keepalived.conf of 5,000 virtual servers × 20
//! real servers, each with an HTTP_GET check. Prints the parse time and the peak memory
//! (getrusage maxrss): the best wall-clock time, the least CPU time of a round (the
//! figure that holds on a shared machine), and that round's CPU time per phase (read,
//! preprocess, lex, build, validate; a file this large is lexed on a second thread while
//! the model is built, so lex and build overlap in wall time). Run: `cargo bench --bench parse` (release build; `ROUNDS=N` for N
//! rounds instead of 3).

use std::fmt::Write;
use std::time::Instant;

/// lvsd's allocator, counting bytes: what one load allocates and holds.
#[global_allocator]
static GLOBAL: lvsd::heap::Counting = lvsd::heap::Counting;

/// The process's resource usage so far.
fn rusage() -> libc::rusage {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct we own.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    ru
}

/// CPU time of the whole process (a large file is lexed on a second thread).
fn process_cpu() -> std::time::Duration {
    let ru = rusage();
    let tv = |t: libc::timeval| std::time::Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

const VIRTUAL_SERVERS: usize = 5_000;
const REAL_SERVERS: usize = 20;

/// Writes the generated configuration to `out` (a file: lvsd reads its config from one).
fn generate(out: &mut impl std::io::Write) {
    let mut s = String::with_capacity(64 * 1024);
    s.push_str("global_defs {\n    router_id bench\n}\n");
    for v in 0..VIRTUAL_SERVERS {
        // Addresses from 198.18.0.0/15 (the benchmarking range); nothing is sent.
        let _ = writeln!(
            s,
            "virtual_server 198.18.{}.{} {} {{\n    delay_loop 6\n    lb_algo wlc\n    lb_kind NAT\n    protocol TCP",
            v / 250,
            v % 250 + 1,
            80 + (v % 100)
        );
        for r in 0..REAL_SERVERS {
            let _ = writeln!(
                s,
                "    real_server 198.19.{}.{} 8080 {{\n        weight 1\n        HTTP_GET {{\n            url {{\n                path /health\n                status_code 200\n            }}\n            connect_timeout 3\n            retry 2\n        }}\n    }}",
                (v * REAL_SERVERS + r) / 250 % 256,
                r + 1
            );
        }
        s.push_str("}\n");
        if s.len() > 60 * 1024 {
            out.write_all(s.as_bytes())
                .expect("write the generated config");
            s.clear();
        }
    }
    out.write_all(s.as_bytes())
        .expect("write the generated config");
}

fn maxrss_kib() -> i64 {
    rusage().ru_maxrss
}

/// Minor page faults of the process so far (pages the kernel had to hand over).
fn minor_faults() -> i64 {
    rusage().ru_minflt
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("bench.conf");
    {
        let f = std::fs::File::create(&path).expect("create the generated config");
        let mut w = std::io::BufWriter::new(f);
        generate(&mut w);
    }
    let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    let before = maxrss_kib();
    let mut best = f64::MAX;
    let mut best_cpu = f64::MAX;
    let mut best_phases = lvsd::config::Phases::default();
    let mut rounds = 0;
    let mut walls = Vec::new();
    let mut faults = Vec::new();
    let trim = std::env::var_os("TRIM").is_some_and(|v| v != "0");
    let want: usize = std::env::var("ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    for _ in 0..want.max(1) {
        if trim {
            lvsd::heap::release_free();
        }
        let base = lvsd::heap::heap_in_use();
        lvsd::heap::reset_heap_peak();
        let allocated = lvsd::heap::heap_allocated();
        let f0 = minor_faults();
        let t = Instant::now();
        let cpu = process_cpu();
        let (loaded, phases) = lvsd::config::load_timed(&path, "bench");
        let loaded = loaded.unwrap_or_else(|e| panic!("generated config failed: {e}"));
        let secs = t.elapsed().as_secs_f64();
        let cpu = (process_cpu() - cpu).as_secs_f64();
        if rounds == 0 {
            println!(
                "  heap: {:.1} MiB allocated in all, peak {:.1} MiB above the start, {:.1} MiB held by the result",
                (lvsd::heap::heap_allocated() - allocated) as f64 / 1048576.0,
                (lvsd::heap::heap_peak() - base) as f64 / 1048576.0,
                lvsd::heap::heap_in_use().saturating_sub(base) as f64 / 1048576.0
            );
        }
        walls.push(secs);
        faults.push(minor_faults() - f0);
        let rs: usize = loaded
            .config
            .virtual_servers
            .iter()
            .map(|v| v.real_servers.len())
            .sum();
        assert_eq!(rs, VIRTUAL_SERVERS * REAL_SERVERS);
        best = best.min(secs);
        if cpu < best_cpu {
            best_cpu = cpu;
            best_phases = phases;
        }
        rounds += 1;
        drop(loaded);
    }
    let after = maxrss_kib();
    println!(
        "config load: {VIRTUAL_SERVERS} virtual servers x {REAL_SERVERS} real servers (HTTP_GET), {:.1} MiB file",
        size as f64 / 1048576.0
    );
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "  best of {rounds}: {best:.3} s wall, {best_cpu:.3} s CPU of the process, every thread (load average {})",
        load.split(' ').next().unwrap_or("?")
    );
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1000.0;
    let p = best_phases;
    println!(
        "  CPU per phase of the round with the least CPU (ms): read {:.1}, preprocess {:.1}, lex (pest) {:.1}, build {:.1}, validate {:.1}",
        ms(p.read),
        ms(p.preprocess),
        ms(p.lex),
        ms(p.build),
        ms(p.validate)
    );
    println!(
        "  peak RSS: {:.1} MiB (of which {:.1} MiB before loading)",
        after as f64 / 1024.0,
        before as f64 / 1024.0
    );
    // The rounds' steadiness: the same text each round, so what varies is the machine and
    // the allocator (TRIM=1 hands free memory back before each round, as the daemon does
    // 2 s after each reload; the next round then faults its pages in again).
    let mut sorted = walls.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    let spread = walls
        .iter()
        .map(|w| (w / median - 1.0).abs())
        .fold(0.0, f64::max);
    let outside = walls
        .iter()
        .filter(|w| (*w / median - 1.0).abs() > 0.2)
        .count();
    println!(
        "  rounds{}: median {:.1} ms, slowest {:.1} ms, spread {:.0} %, {outside} of {rounds} outside ±20 %; minor page faults per round {}",
        if trim { " (heap trimmed before each)" } else { "" },
        median * 1000.0,
        sorted[sorted.len() - 1] * 1000.0,
        spread * 100.0,
        faults
            .iter()
            .map(|f| f.to_string())
            .collect::<Vec<_>>()
            .join(" ")
    );
    if std::env::var_os("EACH").is_some() {
        let each: Vec<String> = walls.iter().map(|w| format!("{:.1}", w * 1000.0)).collect();
        println!("  each round (ms): {}", each.join(" "));
    }
}
