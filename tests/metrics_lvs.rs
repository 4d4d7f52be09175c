//! The metrics endpoint over the LVS side on the fake kernel (no root): real TCP_CHECK
//! checkers against loopback (one port listening, one closed) count their attempts and
//! failures, the fake kernel's counters and rates come out under keepalived-exporter's
//! names and lvsd's, the text passes `promtool check metrics`, and a real Prometheus
//! (Debian's `prometheus`, started here on loopback with a temporary storage directory)
//! scrapes it: `up` is 1 and a kernel counter reads back through its query API.
//!
//! One test: the LVS side registers itself with the control path process-wide.
//! Run: `cargo test --test metrics_lvs`.

use lvsd::cli::Options;
use lvsd::config::Config;
use lvsd::control::Control;
use lvsd::ipvs::{DestKey, Proto, ServiceKey, Stats};
use lvsd::lvs::fake::FakeIpvs;
use lvsd::lvs::runtime::{run_with, ManagedCheckers, RealEffects};
use lvsd::metrics::config_status::{ConfigStatus, SharedStatus};
use std::net::{IpAddr, SocketAddr};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

fn config(open_port: u16) -> Arc<Config> {
    // Port 1 on loopback: nothing listens there, every check fails.
    let text = format!(
        "virtual_server 10.0.0.1 80 {{
 lb_algo rr
 lb_kind NAT
 protocol TCP
 delay_loop 1
 warmup 0
 real_server 127.0.0.1 {open_port} {{
  TCP_CHECK {{
   connect_timeout 1
  }}
 }}
 real_server 127.0.0.1 1 {{
  TCP_CHECK {{
   connect_timeout 1
   retry 0
  }}
 }}
}}
"
    );
    let loaded = lvsd::config::parse_str(&text, Path::new("/etc/keepalived/t.conf"), "")
        .unwrap_or_else(|e| panic!("config refused: {e}"));
    Arc::new(loaded.config)
}

/// One HTTP/1.0 GET on loopback: (status line, body), None when nothing answers.
async fn get(addr: SocketAddr, target: &str) -> Option<(String, String)> {
    let mut s = tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect(addr))
        .await
        .ok()?
        .ok()?;
    let req = format!("GET {target} HTTP/1.0\r\nHost: {addr}\r\n\r\n");
    s.write_all(req.as_bytes()).await.ok()?;
    let mut buf = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), s.read_to_end(&mut buf))
        .await
        .ok()?
        .ok()?;
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n")?;
    Some((head.lines().next()?.to_string(), body.to_string()))
}

/// The value of the sample `series` (exactly as written, labels included) in `text`.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|v| v.parse().ok())
}

/// Percent-encodes a query for a URL.
fn encode(q: &str) -> String {
    q.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'_' {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A child process killed (by its own pid) when dropped.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn promtool_check(text: &str) {
    if Command::new("promtool").arg("--version").output().is_err() {
        eprintln!("skipped: promtool check (install Debian's prometheus package)");
        return;
    }
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    use std::io::Write;
    child
        .stdin
        .take()
        .expect("promtool's stdin")
        .write_all(text.as_bytes())
        .expect("text written to promtool");
    let out = child.wait_with_output().expect("promtool ends");
    assert!(
        out.status.success(),
        "promtool: {}{}\n{text}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The value of the first result of a Prometheus instant query, if any yet.
async fn query(prom: SocketAddr, q: &str) -> Option<f64> {
    let (status, body) = get(prom, &format!("/api/v1/query?query={}", encode(q))).await?;
    if !status.contains(" 200") {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(&body).ok()?;
    v["data"]["result"][0]["value"][1].as_str()?.parse().ok()
}

/// A real Prometheus scraping `target` every second; None (with a note) when the
/// `prometheus` binary is not installed.
fn start_prometheus(dir: &Path, target: SocketAddr) -> Option<(Killed, SocketAddr)> {
    if Command::new("prometheus")
        .arg("--version")
        .output()
        .is_err()
    {
        eprintln!(
            "skipped: the Prometheus scrape (no `prometheus` binary; install Debian's prometheus package)"
        );
        return None;
    }
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free loopback port")
        .port();
    let listen: SocketAddr = SocketAddr::new(IpAddr::from([127, 0, 0, 1]), port);
    let cfg = dir.join("prometheus.yml");
    std::fs::write(
        &cfg,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: lvsd\n    static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .expect("prometheus.yml written");
    let log = std::fs::File::create(dir.join("prometheus.log")).expect("log file");
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", cfg.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address={listen}"))
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log file"))
        .stderr(log)
        .spawn()
        .expect("start prometheus");
    Some((Killed(child), listen))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_of_the_lvs_side_and_a_prometheus_scrape() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let open_port = listener.local_addr().unwrap().port();
    // Accept and close: the TCP_CHECK only needs the connection.
    let acceptor = tokio::spawn(async move {
        while let Ok((s, _)) = listener.accept().await {
            drop(s);
        }
    });

    let fake = FakeIpvs::new();
    let svc = ServiceKey::Addr {
        proto: Proto::Tcp,
        addr: "10.0.0.1".parse().unwrap(),
        port: 80,
    };
    let dest = DestKey {
        addr: "127.0.0.1".parse().unwrap(),
        port: open_port,
    };
    fake.with(|k| {
        k.service_stats.insert(
            svc,
            Stats {
                conns: 1234,
                inpkts: 5000,
                outpkts: 4000,
                inbytes: 600_000,
                outbytes: 9_000_000,
                cps: 12,
                inpps: 50,
                outpps: 40,
                inbps: 6000,
                outbps: 90_000,
            },
        );
        k.dest_stats.insert(
            (svc, dest),
            Stats {
                conns: 1000,
                inpkts: 4000,
                outpkts: 3000,
                inbytes: 500_000,
                outbytes: 8_000_000,
                cps: 10,
                inpps: 45,
                outpps: 35,
                inbps: 5000,
                outbps: 80_000,
            },
        );
    });

    let (_reload, reload_rx) = watch::channel(config(open_port));
    let (shutdown, shutdown_rx) = watch::channel(false);
    let opts = Arc::new(Options {
        // The LVS side only: no VRRP side answers in this process.
        check_only: true,
        ..Default::default()
    });
    let ctl = Control {
        opts: opts.clone(),
        reload: reload_rx,
        shutdown: shutdown_rx,
        heartbeat: Default::default(),
        reading: Default::default(),
    };
    let side = tokio::spawn(run_with(
        ctl,
        fake.clone(),
        ManagedCheckers::default(),
        RealEffects::default(),
    ));
    let status: SharedStatus = Arc::new(Mutex::new(ConfigStatus::started(
        "0123abcd".into(),
        1_700_000_000.0,
    )));
    let server =
        lvsd::metrics::server::start("127.0.0.1:0".parse().unwrap(), opts.clone(), status.clone())
            .await
            .expect("metrics endpoint listening");
    let addr = server.local_addr();

    let up = format!(
        "{{virtual_server=\"[10.0.0.1]:tcp:80\",real_server=\"127.0.0.1:{open_port}\",checker=\"0\"}}"
    );
    let down = "{virtual_server=\"[10.0.0.1]:tcp:80\",real_server=\"127.0.0.1:1\",checker=\"0\"}";
    // Both checkers have run at least twice (delay_loop 1, warmup 0).
    let deadline = Instant::now() + Duration::from_secs(20);
    let text = loop {
        let last = get(addr, "/metrics").await;
        if let Some((_, body)) = &last {
            let checks = |rs: &str| sample(body, &format!("lvsd_real_server_checks_total{rs}"));
            if checks(&up).unwrap_or(0.0) >= 2.0 && checks(down).unwrap_or(0.0) >= 2.0 {
                break body.clone();
            }
        }
        assert!(Instant::now() < deadline, "checkers did not run: {last:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let val =
        |series: &str| sample(&text, series).unwrap_or_else(|| panic!("no {series} in\n{text}"));
    assert_eq!(
        val(&format!("lvsd_real_server_check_failures_total{up}")),
        0.0
    );
    assert_eq!(
        val(&format!(
            "lvsd_real_server_up{{virtual_server=\"[10.0.0.1]:tcp:80\",real_server=\"127.0.0.1:{open_port}\"}}"
        )),
        1.0
    );
    let (down_checks, down_failures) = (
        val(&format!("lvsd_real_server_checks_total{down}")),
        val(&format!("lvsd_real_server_check_failures_total{down}")),
    );
    assert!(down_checks >= 2.0 && down_failures == down_checks, "{text}");
    let took = val(&format!("lvsd_real_server_last_check_duration_seconds{up}"));
    assert!(took > 0.0 && took < 1.0, "{took}");
    // The kernel's numbers, under the exporter's names and lvsd's.
    assert_eq!(
        val("keepalived_lvs_vip_conn{addr=\"10.0.0.1:80\",proto=\"tcp\"}"),
        1234.0
    );
    assert_eq!(
        val("keepalived_lvs_vip_out_bytes{addr=\"10.0.0.1:80\",proto=\"tcp\"}"),
        9_000_000.0
    );
    let rs = format!("{{addr=\"127.0.0.1:{open_port}\",proto=\"tcp\",vip=\"10.0.0.1:80\"}}");
    assert_eq!(val(&format!("keepalived_lvs_rs_conn{rs}")), 1000.0);
    assert_eq!(val(&format!("keepalived_lvs_rs_in_packets{rs}")), 4000.0);
    let d = format!("{{service=\"tcp:10.0.0.1:80\",server=\"127.0.0.1:{open_port}\"}}");
    assert_eq!(
        val(&format!("lvsd_ipvs_destination_connections_per_second{d}")),
        10.0
    );
    assert_eq!(
        val(&format!(
            "lvsd_ipvs_destination_bytes_per_second{}",
            d.replace('}', ",direction=\"out\"}")
        )),
        80_000.0
    );
    assert_eq!(
        val("lvsd_ipvs_service_packets_per_second{service=\"tcp:10.0.0.1:80\",direction=\"in\"}"),
        50.0
    );
    assert_eq!(val(&format!("lvsd_ipvs_destination_weight{d}")), 1.0);
    // The destination of the failing server is out of the table: no series for it.
    assert!(!text.contains(",server=\"127.0.0.1:1\""), "{text}");
    assert!(!text.contains("addr=\"127.0.0.1:1\""), "{text}");
    assert_eq!(val("lvsd_config_info{sha256=\"0123abcd\"}"), 1.0);
    assert_eq!(val("lvsd_config_reloads_total"), 0.0);
    promtool_check(&text);

    // A real Prometheus scrapes the endpoint.
    let dir = tempfile::tempdir().unwrap();
    if let Some((prom, prom_addr)) = start_prometheus(dir.path(), addr) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let q = format!("keepalived_lvs_rs_conn{rs}");
        let (mut up_value, mut conn) = (None, None);
        while Instant::now() < deadline {
            up_value = query(prom_addr, "up{job=\"lvsd\"}").await;
            conn = query(prom_addr, &q).await;
            if up_value.is_some() && conn.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
        let log = || std::fs::read_to_string(dir.path().join("prometheus.log")).unwrap_or_default();
        assert_eq!(up_value, Some(1.0), "prometheus log:\n{}", log());
        assert_eq!(conn, Some(1000.0), "prometheus log:\n{}", log());
        let failures = query(
            prom_addr,
            &format!("lvsd_real_server_check_failures_total{down}"),
        )
        .await;
        assert!(
            failures.is_some_and(|f| f >= 2.0),
            "{failures:?}\n{}",
            log()
        );
        drop(prom);
    }

    drop(server);
    shutdown.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(10), side)
        .await
        .expect("the LVS side stops")
        .unwrap()
        .unwrap();
    acceptor.abort();
}
