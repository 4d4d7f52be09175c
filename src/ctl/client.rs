//! `lvsd ctl`: sends one request to the daemon's control socket and prints the answer,
//! for people (default) or as the daemon's JSON (`--json`).

use super::{CtlCommand, Request, Response};
use serde_json::Value;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

/// Exit codes: the daemon refused the request (bad name, unknown real server, a plan of
/// a file that would be refused).
pub const EXIT_REFUSED: u8 = 1;
/// No answer: no socket, no daemon, or not allowed.
pub const EXIT_NO_ANSWER: u8 = 3;

/// How long the client waits for the daemon.
const WAIT: Duration = Duration::from_secs(60);

/// The request for a command; a relative plan file is made absolute (the daemon's
/// working directory is `/`).
pub fn request(cmd: &CtlCommand) -> Result<Request, String> {
    Ok(match cmd {
        CtlCommand::State => Request::State,
        CtlCommand::Drain {
            service,
            server,
            timeout,
        } => Request::Drain {
            service: service.clone(),
            server: server.clone(),
            timeout: Some(*timeout),
        },
        CtlCommand::Disable { service, server } => Request::Disable {
            service: service.clone(),
            server: server.clone(),
        },
        CtlCommand::Enable { service, server } => Request::Enable {
            service: service.clone(),
            server: server.clone(),
        },
        CtlCommand::Plan { file } => Request::Plan {
            file: std::path::absolute(file).map_err(|e| format!("{}: {e}", file.display()))?,
        },
    })
}

/// Sends `req` on the socket at `path` and reads the answer.
pub fn send(path: &Path, req: &Request) -> Result<Response, String> {
    let mut stream = UnixStream::connect(path).map_err(|e| {
        format!(
            "cannot connect to {} ({e}): is lvsd running, with this -p or --control-socket, and are you root?",
            path.display()
        )
    })?;
    let _ = stream.set_read_timeout(Some(WAIT));
    let mut line = serde_json::to_string(req).map_err(|e| e.to_string())?;
    line.push('\n');
    stream
        .write_all(line.as_bytes())
        .map_err(|e| format!("cannot send to {}: {e}", path.display()))?;
    let mut answer = String::new();
    BufReader::new(&stream)
        .read_line(&mut answer)
        .map_err(|e| format!("no answer from {}: {e}", path.display()))?;
    if answer.trim().is_empty() {
        return Err(format!("{} closed without an answer", path.display()));
    }
    serde_json::from_str(&answer).map_err(|e| format!("unreadable answer from lvsd: {e}"))
}

/// Runs `lvsd ctl`: prints the answer and returns the exit code.
pub fn run(path: &Path, cmd: &CtlCommand, json: bool) -> u8 {
    let req = match request(cmd) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("lvsd: {e}");
            return EXIT_REFUSED;
        }
    };
    let resp = match send(path, &req) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("lvsd: {e}");
            return EXIT_NO_ANSWER;
        }
    };
    if !resp.ok {
        eprintln!(
            "lvsd: {}",
            resp.error
                .as_deref()
                .unwrap_or("the daemon refused the request")
        );
        return EXIT_REFUSED;
    }
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&resp.result).unwrap_or_default()
        );
    } else {
        print!("{}", human(cmd, &resp.result));
    }
    0
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("?")
}

fn n(v: &Value, k: &str) -> u64 {
    v.get(k).and_then(Value::as_u64).unwrap_or(0)
}

fn list(v: &Value, k: &str) -> Vec<Value> {
    v.get(k)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// The answer for people.
pub fn human(cmd: &CtlCommand, r: &Value) -> String {
    match cmd {
        CtlCommand::State => human_state(r),
        CtlCommand::Plan { .. } => human_plan(r),
        _ => {
            let servers: Vec<String> = list(r, "real_servers")
                .iter()
                .filter_map(|v| v.as_str().map(String::from))
                .collect();
            let what = match s(r, "done") {
                "disabled" => "Disabled",
                "enabled" => "Enabled",
                "draining" => "Draining",
                other => other,
            };
            let mut out = String::new();
            for sv in servers {
                let _ = writeln!(out, "{what} real server {sv}");
            }
            if !r.get("changed").and_then(Value::as_bool).unwrap_or(true) {
                out.push_str("(it was so already)\n");
            }
            out
        }
    }
}

fn human_state(r: &Value) -> String {
    let mut out = String::new();
    if let Some(e) = r.get("vrrp_error").and_then(Value::as_str) {
        let _ = writeln!(out, "VRRP: {e}");
    }
    if let Some(insts) = r.get("vrrp").and_then(Value::as_array) {
        let _ = writeln!(out, "VRRP instances:");
        if insts.is_empty() {
            out.push_str("  (none)\n");
        }
        for i in insts {
            let _ = writeln!(
                out,
                "  {:<16} {:<7} priority {} (base {}), vrid {} on {}{}",
                s(i, "name"),
                s(i, "state"),
                n(i, "priority"),
                n(i, "base_priority"),
                n(i, "vrid"),
                s(i, "interface"),
                if i.get("vips_held").and_then(Value::as_bool) == Some(true) {
                    ", holds its addresses"
                } else {
                    ""
                }
            );
        }
    }
    if let Some(e) = r.get("lvs_error").and_then(Value::as_str) {
        let _ = writeln!(out, "LVS: {e}");
    }
    if let Some(lvs) = r.get("lvs") {
        let _ = writeln!(out, "Virtual servers:");
        for vs in list(lvs, "virtual_servers") {
            let _ = writeln!(
                out,
                "  {} quorum {} (live weight {}, quorum {})",
                s(&vs, "name"),
                if vs.get("quorum_up").and_then(Value::as_bool) == Some(true) {
                    "up"
                } else {
                    "down"
                },
                n(&vs, "live_weight"),
                n(&vs, "quorum")
            );
            for rs in list(&vs, "real_servers") {
                let checks: Vec<String> = list(&rs, "checkers")
                    .iter()
                    .filter_map(|c| c.as_str().map(String::from))
                    .collect();
                let mut admin = String::new();
                if let Some(a) = rs.get("admin").and_then(Value::as_str) {
                    admin = format!(", {a}");
                    if let Some(left) = rs.get("drain_seconds_left").and_then(Value::as_u64) {
                        let _ = write!(admin, " ({left}s left)");
                    }
                }
                let _ = writeln!(
                    out,
                    "    {:<24} weight {} {}{}{}",
                    s(&rs, "server"),
                    n(&rs, "weight"),
                    if rs.get("alive").and_then(Value::as_bool) == Some(true) {
                        "up"
                    } else {
                        "down"
                    },
                    if checks.is_empty() {
                        String::new()
                    } else {
                        format!(" (checkers: {})", checks.join(" "))
                    },
                    admin
                );
            }
        }
        let _ = writeln!(out, "IPVS table (what lvsd manages):");
        if let Some(note) = lvs.get("table_note").and_then(Value::as_str) {
            let _ = writeln!(out, "  ({note})");
        }
        for svc in list(lvs, "table") {
            let _ = writeln!(out, "  {} {}", s(&svc, "service"), s(&svc, "scheduler"));
            for d in list(&svc, "dests") {
                let conns = match (d.get("active_conns"), d.get("inactive_conns")) {
                    (Some(a), Some(i)) => format!(", {a} active, {i} inactive"),
                    _ => String::new(),
                };
                let _ = writeln!(
                    out,
                    "    -> {:<24} {} weight {}{conns}",
                    s(&d, "server"),
                    s(&d, "forward"),
                    n(&d, "weight")
                );
            }
        }
    }
    out
}

fn human_plan(r: &Value) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Reloading with {} would change:", s(r, "file"));
    for w in list(r, "warnings") {
        if let Some(w) = w.as_str() {
            let _ = writeln!(out, "  warning: {w}");
        }
    }
    if let Some(v) = r.get("vrrp") {
        let names = |k: &str| -> String {
            list(v, k)
                .iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match s(v, "change") {
            "unchanged" => out.push_str("VRRP: nothing\n"),
            "priorities" => {
                out.push_str("VRRP: priorities only\n");
                for p in list(v, "priorities") {
                    let _ = writeln!(
                        out,
                        "  {}: priority {} -> {}",
                        s(&p, "instance"),
                        n(&p, "from"),
                        n(&p, "to")
                    );
                }
            }
            _ => {
                out.push_str("VRRP: instances rebuilt (those kept keep their state)\n");
                for (k, label) in [
                    ("added", "added"),
                    ("removed", "removed"),
                    ("changed", "changed"),
                ] {
                    let l = names(k);
                    if !l.is_empty() {
                        let _ = writeln!(out, "  {label}: {l}");
                    }
                }
            }
        }
        if v.get("statics_changed").and_then(Value::as_bool) == Some(true) {
            out.push_str("  static addresses, routes or rules change\n");
        }
    }
    if let Some(e) = r.get("lvs_error").and_then(Value::as_str) {
        let _ = writeln!(out, "IPVS: {e}");
    }
    if let Some(l) = r.get("lvs") {
        let lines = list(l, "lines");
        if let Some(note) = l.get("note").and_then(Value::as_str) {
            let _ = writeln!(out, "IPVS: ({note})");
        }
        if lines.is_empty() {
            out.push_str("IPVS: nothing\n");
        } else {
            let n = lines.len();
            let _ = writeln!(out, "IPVS: {n} operation{}", if n == 1 { "" } else { "s" });
            for line in lines {
                if let Some(t) = line.as_str() {
                    let _ = writeln!(out, "  {t}");
                }
            }
        }
    }
    out
}
