//! HTTP checks per second that lvsd's checker code sustains on one core.
//!
//! `cargo bench --bench checks [-- CHECKERS DELAY_LOOP_MS SECONDS [lvsd|ssl|reqwest] [daemon|workers|thread]]`
//! (defaults 2000 200 10 lvsd daemon; `hyper`, the old name of lvsd's mode, is accepted).
//! `ssl` runs SSL_GET instead of HTTP_GET: the server speaks TLS (rustls, an ECDSA P-256
//! certificate made with the openssl CLI for the run) and every check is a full TLS
//! connection.
//!
//! `daemon` (the default) runs the checkers as the daemon does: the daemon's runtime
//! ([`lvsd::daemon::build_runtime`]) on the main thread, the checkers under the LVS side's
//! `ManagedCheckers` on their own thread ([`lvsd::daemon::managed_checkers`]).
//! `workers` runs them on the daemon's runtime's two workers instead (as before they had
//! a thread of their own). `thread` runs a `CheckerManager` on a current_thread runtime on
//! the main thread. A minimal HTTP/1.0 server runs on another thread (its own current_thread
//! runtime) on 127.0.0.1–127.0.0.8. The checkers' CPU and context switches are the
//! process's (RUSAGE_SELF) less the server thread's own (RUSAGE_THREAD, read on that
//! thread). `reqwest` mode runs the same load through a reqwest client (one connection
//! per check) for comparison.

#[path = "../tests/tls/mod.rs"]
mod tls;

use lvsd::checkers::{CheckerEvent, CheckerManager};
use lvsd::config::*;
use lvsd::lvs::runtime::{CheckerStarter, ManagedCheckers};
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const ADDRS: u8 = 8;

/// CPU and context switches of a process or a thread, as getrusage reports them.
#[derive(Debug, Clone, Copy, Default)]
struct Usage {
    user: Duration,
    system: Duration,
    /// Voluntary + involuntary context switches.
    switches: i64,
    max_rss_kib: i64,
}

impl std::ops::Sub for Usage {
    type Output = Usage;
    fn sub(self, o: Usage) -> Usage {
        Usage {
            user: self.user.saturating_sub(o.user),
            system: self.system.saturating_sub(o.system),
            switches: self.switches - o.switches,
            max_rss_kib: self.max_rss_kib,
        }
    }
}

fn usage(who: libc::c_int) -> Usage {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into the struct we own.
    unsafe { libc::getrusage(who, &mut ru) };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    Usage {
        user: tv(ru.ru_utime),
        system: tv(ru.ru_stime),
        switches: ru.ru_nvcsw + ru.ru_nivcsw,
        max_rss_kib: ru.ru_maxrss,
    }
}

/// The server thread's usage, read on that thread when asked.
type UsageAsk = tokio::sync::mpsc::UnboundedSender<std::sync::mpsc::Sender<Usage>>;

fn server_usage(ask: &UsageAsk) -> Usage {
    let (tx, rx) = std::sync::mpsc::channel();
    let _ = ask.send(tx);
    rx.recv().unwrap_or_default()
}

/// Nanoseconds the process's threads have spent waiting on a run queue (ready to run but
/// not running: the machine's other load, or each other), from
/// /proc/self/task/*/schedstat.
fn runqueue_wait_ns() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .sum()
}

/// Answers one request on `s` (plain or TLS).
async fn answer<S>(mut s: S, served: Arc<AtomicU64>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    let mut buf = [0u8; 1024];
    let mut seen = 0;
    loop {
        match s.read(&mut buf[seen..]).await {
            Ok(0) | Err(_) => return,
            Ok(n) => seen += n,
        }
        if buf[..seen].windows(4).any(|w| w == b"\r\n\r\n") || seen == 1024 {
            break;
        }
    }
    let _ = s
        .write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok")
        .await;
    let _ = s.shutdown().await;
    served.fetch_add(1, Ordering::Relaxed);
}

fn server(
    port_tx: std::sync::mpsc::Sender<(u16, UsageAsk)>,
    served: Arc<AtomicU64>,
    tls: Option<Arc<rustls::ServerConfig>>,
) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("server runtime");
    rt.block_on(async move {
        let (ask, mut asked) =
            tokio::sync::mpsc::unbounded_channel::<std::sync::mpsc::Sender<Usage>>();
        tokio::spawn(async move {
            while let Some(reply) = asked.recv().await {
                let _ = reply.send(usage(libc::RUSAGE_THREAD));
            }
        });
        let first = tokio::net::TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .await
            .expect("bind");
        let port = first.local_addr().expect("addr").port();
        let mut listeners = vec![first];
        for i in 2..=ADDRS {
            let l = tokio::net::TcpListener::bind((Ipv4Addr::new(127, 0, 0, i), port))
                .await
                .expect("bind");
            listeners.push(l);
        }
        port_tx.send((port, ask)).expect("send port");
        let mut tasks = Vec::new();
        let acceptor = tls.map(tokio_rustls::TlsAcceptor::from);
        for l in listeners {
            let served = served.clone();
            let acceptor = acceptor.clone();
            tasks.push(tokio::spawn(async move {
                loop {
                    let Ok((s, _)) = l.accept().await else {
                        continue;
                    };
                    let served = served.clone();
                    let acceptor = acceptor.clone();
                    tokio::spawn(async move {
                        match acceptor {
                            Some(a) => {
                                if let Ok(t) = a.accept(s).await {
                                    answer(t, served).await;
                                }
                            }
                            None => answer(s, served).await,
                        }
                    });
                }
            }));
        }
        for t in tasks {
            let _ = t.await;
        }
    });
}

fn config(n: usize, port: u16, delay_loop: Duration, tls: bool) -> Config {
    let real_servers = (0..n)
        .map(|i| RealServer {
            checkers: vec![Checker {
                span: Span::default(),
                common: CheckCommon::default(),
                kind: CheckerKind::Http(Box::new(HttpCheck {
                    tls,
                    urls: vec![UrlCheck {
                        path: "/health".into(),
                        status_codes: vec![],
                        digest: Some("444bcb3a3fcf8389296c49467f27e1d6".into()), // md5("ok")
                        virtualhost: None,
                        regex: None,
                    }],
                    virtualhost: None,
                    http_protocol: None,
                    enable_sni: false,
                    fast_recovery: false,
                    client: None,
                })),
            }],
            ..RealServer::new(
                IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1 + (i % ADDRS as usize) as u8)),
                Some(port),
            )
        })
        .collect();
    Config {
        virtual_servers: vec![VirtualServer {
            delay_loop,
            retry: Some(0),
            connect_timeout: Some(Duration::from_secs(5)),
            warmup: Some(delay_loop),
            real_servers,
            ..VirtualServer::new(
                Span::default(),
                VsKey::Addr {
                    addr: IpAddr::V4(Ipv4Addr::new(10, 9, 9, 9)),
                    port: 80,
                },
            )
        }],
        ..Config::default()
    }
}

/// The same load through reqwest: one client per checker with no idle pool (a fresh
/// connection per check), HTTP/1.0, the status and MD5 checked.
async fn reqwest_load(n: usize, port: u16, delay_loop: Duration, failures: Arc<AtomicU64>) {
    use md5::Digest;
    for i in 0..n {
        let ip = Ipv4Addr::new(127, 0, 0, 1 + (i % ADDRS as usize) as u8);
        let failures = failures.clone();
        tokio::spawn(async move {
            let client = reqwest::Client::builder()
                .pool_max_idle_per_host(0)
                .http1_only()
                .timeout(Duration::from_secs(5))
                .build()
                .expect("reqwest client");
            let url = format!("http://{ip}:{port}/health");
            tokio::time::sleep(delay_loop.mul_f64(fastrand::f64())).await;
            loop {
                let ok = async {
                    let r = client
                        .get(&url)
                        .version(http::Version::HTTP_10)
                        .send()
                        .await
                        .ok()?;
                    let status = r.status().as_u16();
                    let body = r.bytes().await.ok()?;
                    let digest = hex::encode(md5::Md5::digest(&body));
                    Some(
                        (200..300).contains(&status)
                            && digest == "444bcb3a3fcf8389296c49467f27e1d6",
                    )
                }
                .await;
                if ok != Some(true) {
                    failures.fetch_add(1, Ordering::Relaxed);
                }
                tokio::time::sleep(delay_loop).await;
            }
        });
    }
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| a != "--bench")
        .collect();
    let n: usize = args.first().and_then(|a| a.parse().ok()).unwrap_or(2000);
    let delay_ms: u64 = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(200);
    let secs: u64 = args.get(2).and_then(|a| a.parse().ok()).unwrap_or(10);
    let mode = match args.get(3).map(String::as_str) {
        None | Some("hyper") | Some("lvsd") => "lvsd".to_string(),
        Some(m) => m.to_string(),
    };
    let runtime = args.get(4).map_or("daemon", String::as_str);
    let as_daemon = match runtime {
        "daemon" | "workers" => true,
        "thread" => false,
        other => panic!("runtime {other:?}: daemon, workers or thread"),
    };
    let delay_loop = Duration::from_millis(delay_ms);

    // Room for every client and server socket.
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: plain getrlimit/setrlimit on a struct we own.
    unsafe {
        libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim);
        lim.rlim_cur = lim.rlim_max;
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
    }
    let _ = rustls::crypto::ring::default_provider().install_default();

    let served = Arc::new(AtomicU64::new(0));
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    {
        let served = served.clone();
        let tls = (mode == "ssl").then(|| {
            let dir = tempfile::tempdir().expect("temp dir");
            tls::server_config(dir.path())
        });
        std::thread::spawn(move || server(port_tx, served, tls));
    }
    let (port, ask) = port_rx.recv().expect("server port");

    let rt = if as_daemon {
        lvsd::daemon::build_runtime(&GlobalDefs::default()).expect("the daemon's runtime")
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    };
    let failures = Arc::new(AtomicU64::new(0));
    rt.block_on(async {
        let mut managed = if runtime == "daemon" {
            lvsd::daemon::managed_checkers(&GlobalDefs::default()).expect("the checkers' thread")
        } else {
            ManagedCheckers::default()
        };
        let (tx, mut rx) = tokio::sync::mpsc::channel::<CheckerEvent>(4096);
        let _mgr = if mode == "reqwest" {
            drop(tx);
            reqwest_load(n, port, delay_loop, failures.clone()).await;
            None
        } else {
            let cfg = Arc::new(config(n, port, delay_loop, mode == "ssl"));
            if as_daemon {
                drop(tx);
                rx = managed.start(cfg, &HashMap::new());
                None
            } else {
                Some(CheckerManager::start(&cfg, tx))
            }
        };
        let events = Arc::new(AtomicU64::new(0));
        {
            let events = events.clone();
            tokio::spawn(async move {
                while let Some(e) = rx.recv().await {
                    events.fetch_add(1, Ordering::Relaxed);
                    eprintln!("unexpected event: {e:?}");
                }
            });
        }
        // Let the warm-up spread the checkers, then measure.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let w0 = runqueue_wait_ns();
        let (p0, q0) = (usage(libc::RUSAGE_SELF), server_usage(&ask));
        let s0 = served.load(Ordering::Relaxed);
        let t0 = Instant::now();
        tokio::time::sleep(Duration::from_secs(secs)).await;
        let wall = t0.elapsed();
        let (p1, q1) = (usage(libc::RUSAGE_SELF), server_usage(&ask));
        let waited = runqueue_wait_ns().saturating_sub(w0) as f64 / 1e9 / wall.as_secs_f64() * 100.0;
        let s1 = served.load(Ordering::Relaxed);
        let whole = p1 - p0;
        let checker = whole - (q1 - q0);
        let checks = (s1 - s0) as f64;
        let rate = checks / wall.as_secs_f64();
        let per_check = |d: Duration| d.as_secs_f64() * 1e6 / checks.max(1.0);
        let share = |d: Duration| d.as_secs_f64() / wall.as_secs_f64() * 100.0;
        println!(
            "checkers: mode={mode} runtime={runtime} n={n} delay_loop={delay_ms}ms window={:.1}s",
            wall.as_secs_f64()
        );
        println!(
            "checkers: {rate:.0} checks/s (target {:.0}), checkers' CPU {:.1}% of one core, \
             {:.1} us CPU/check ({:.1} us user + {:.1} us kernel), {:.2} context switches/check, \
             whole process (incl. server) {:.1}%, threads ready but waiting for a CPU {waited:.1}% of the time, peak RSS {} MiB, \
             down events {}, failed checks (reqwest mode) {}",
            n as f64 / delay_loop.as_secs_f64(),
            share(checker.user + checker.system),
            per_check(checker.user + checker.system),
            per_check(checker.user),
            per_check(checker.system),
            checker.switches as f64 / checks.max(1.0),
            share(whole.user + whole.system),
            p1.max_rss_kib / 1024,
            events.load(Ordering::Relaxed),
            failures.load(Ordering::Relaxed),
        );
        drop(managed);
    });
}
