//! Every checker kind against real servers on loopback started by the test.

mod ports;
mod tls;

use lvsd::checkers::manager::check_once;
use lvsd::checkers::state::Timing;
use lvsd::checkers::{CheckSettings, Verdict};
use lvsd::config::{
    CheckerKind, DnsCheck, FileCheck, HttpCheck, MiscCheck, ReplyPattern, SmtpCheck, SslClient,
    StatusRange, UdpCheck, UrlCheck, UrlRegex,
};
use ports::{ClosedUdpPort, HeldTcpPort};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::mpsc;

#[path = "support/root.rs"]
mod root;

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn settings(kind: CheckerKind, port: u16, timeout_ms: u64) -> CheckSettings {
    CheckSettings {
        disabled: false,
        kind,
        addr: LOCALHOST,
        port,
        connect_timeout: Duration::from_millis(timeout_ms),
        timing: Timing {
            delay_loop: Duration::from_secs(1),
            retry: 1,
            delay_before_retry: Duration::from_millis(100),
        },
        warmup: Duration::ZERO,
        alpha: false,
        log_all_failures: false,
        proto: "tcp",
        rare: None,
    }
}

/// One HTTP_GET of `/` (no status or digest configured) against `port`.
async fn get_root(port: u16, timeout_ms: u64) -> Verdict {
    check_once(&settings(
        CheckerKind::Http(http(vec![url("/")])),
        port,
        timeout_ms,
    ))
    .await
}

fn url(path: &str) -> UrlCheck {
    UrlCheck {
        path: path.into(),
        status_codes: vec![],
        digest: None,
        virtualhost: None,
        regex: None,
    }
}

fn http(urls: Vec<UrlCheck>) -> Box<HttpCheck> {
    Box::new(HttpCheck {
        tls: false,
        urls,
        virtualhost: None,
        http_protocol: None,
        enable_sni: false,
        fast_recovery: false,
        client: None,
    })
}

fn reason(v: &Verdict) -> &str {
    match v {
        Verdict::Up { msg, .. } => msg,
        Verdict::Down { reason } => reason,
    }
}

/// How the test HTTP server answers.
#[derive(Clone)]
enum Reply {
    /// Status and body, then close.
    Full(u16, &'static str),
    /// Headers announcing `len` bytes, then one byte every `every`.
    Drip { len: usize, every: Duration },
}

/// A plain (or TLS) HTTP server on 127.0.0.1 that sends every request head it reads to
/// the returned channel (with the SNI name for TLS) and answers with `reply`.
async fn http_server(
    reply: Reply,
    tls: Option<Arc<rustls::ServerConfig>>,
) -> (u16, mpsc::UnboundedReceiver<(String, Option<String>)>) {
    let listener = TcpListener::bind((LOCALHOST, 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let (sock, _) = listener.accept().await.unwrap();
            let (reply, tx, tls) = (reply.clone(), tx.clone(), tls.clone());
            tokio::spawn(async move {
                match tls {
                    None => serve(sock, reply, tx, None).await,
                    Some(cfg) => {
                        let Ok(s) = tokio_rustls::TlsAcceptor::from(cfg).accept(sock).await else {
                            return;
                        };
                        let sni = s.get_ref().1.server_name().map(str::to_string);
                        serve(s, reply, tx, Some(sni)).await
                    }
                }
            });
        }
    });
    (port, rx)
}

async fn serve<S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin>(
    mut s: S,
    reply: Reply,
    tx: mpsc::UnboundedSender<(String, Option<String>)>,
    sni: Option<Option<String>>,
) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match s.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
    }
    let _ = tx.send((String::from_utf8_lossy(&head).into_owned(), sni.flatten()));
    match reply {
        Reply::Full(code, body) => {
            let r = format!(
                "HTTP/1.0 {code} X\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            let _ = s.write_all(r.as_bytes()).await;
        }
        Reply::Drip { len, every } => {
            let h = format!("HTTP/1.0 200 OK\r\nContent-Length: {len}\r\n\r\n");
            let _ = s.write_all(h.as_bytes()).await;
            for _ in 0..len {
                let _ = s.flush().await;
                tokio::time::sleep(every).await;
                if s.write_all(b"x").await.is_err() {
                    return;
                }
            }
        }
    }
    let _ = s.shutdown().await;
}

fn md5_hex(s: &str) -> String {
    use md5::Digest;
    hex::encode(md5::Md5::digest(s.as_bytes()))
}

#[tokio::test]
async fn http_status_and_ranges() {
    let (ok, _r1) = http_server(Reply::Full(200, "hello"), None).await;
    let (err, _r2) = http_server(Reply::Full(500, "oops"), None).await;
    let kind = CheckerKind::Http(http(vec![url("/")]));
    let v = check_once(&settings(kind.clone(), ok, 2000)).await;
    assert!(v.is_up(), "{v:?}");
    let v = check_once(&settings(kind, err, 2000)).await;
    assert_eq!(
        reason(&v),
        format!("HTTP status code error to [127.0.0.1]:tcp:{err} url(1), status_code [500].")
    );
    assert!(!v.is_up());
    // status_code 500-503 accepts it, and then 200 is an error.
    let mut u = url("/");
    u.status_codes = vec![StatusRange { from: 500, to: 503 }];
    let kind = CheckerKind::Http(http(vec![u]));
    assert!(check_once(&settings(kind.clone(), err, 2000)).await.is_up());
    assert!(!check_once(&settings(kind, ok, 2000)).await.is_up());
}

/// `regex`: the body must match (case-insensitively here), or with `regex_no_match`
/// must not; the offsets bound where the match starts (keepalived 2.2.7's HTTP_GET).
#[tokio::test]
async fn http_regex() {
    let (port, _rx) = http_server(Reply::Full(200, "consul: Passing\n"), None).await;
    let with = |pattern: &str, no_match: bool, min: Option<u32>| {
        let mut u = url("/");
        u.regex = Some(UrlRegex {
            pattern: pattern.into(),
            no_match,
            options: vec!["caseless".into()],
            min_offset: min,
            max_offset: None,
        });
        settings(CheckerKind::Http(http(vec![u])), port, 2000)
    };
    assert!(check_once(&with("passing", false, None)).await.is_up());
    let v = check_once(&with("critical", false, None)).await;
    assert_eq!(
        reason(&v),
        format!("Regex did not match on [127.0.0.1]:tcp:{port} url(1).")
    );
    let v = check_once(&with("pass+ing", true, None)).await;
    assert!(
        reason(&v).starts_with("Regex matched (regex_no_match)"),
        "{v:?}"
    );
    assert!(!check_once(&with("passing", false, Some(9))).await.is_up());
}

#[tokio::test]
async fn http_digest() {
    let (port, _rx) = http_server(Reply::Full(200, "hello world"), None).await;
    let mut good = url("/");
    good.digest = Some(md5_hex("hello world"));
    let mut bad = url("/other");
    bad.digest = Some(md5_hex("something else"));
    let v = check_once(&settings(
        CheckerKind::Http(http(vec![good.clone()])),
        port,
        2000,
    ))
    .await;
    assert!(v.is_up(), "{v:?}");
    // The second URL's digest is wrong: the whole check fails, naming url(2).
    let v = check_once(&settings(
        CheckerKind::Http(http(vec![good, bad])),
        port,
        2000,
    ))
    .await;
    assert!(!v.is_up());
    let r = reason(&v);
    assert!(r.starts_with("MD5 digest error to "), "{r}");
    assert!(r.contains("url(2)"), "{r}");
    assert!(r.contains(&md5_hex("hello world")), "{r}");
}

/// Each step of an HTTP_GET (connect, request, each read) has connect_timeout, as in
/// keepalived: a server that answers in pieces, each well within connect_timeout of the
/// last, passes although the whole reply takes 2.4 × connect_timeout.
#[tokio::test]
async fn http_slow_reply_in_pieces_passes_each_step_within_connect_timeout() {
    let pause = || Step::Pause(Duration::from_millis(600));
    let script = vec![
        pause(),
        Step::Send(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\n".to_vec()),
        pause(),
        Step::Send(b"a".to_vec()),
        pause(),
        Step::Send(b"b".to_vec()),
        pause(),
        Step::Send(b"c".to_vec()),
    ];
    let (port, _rx) = scripted_server(script, false).await;
    let start = Instant::now();
    let v = check_once(&settings(digest_check("abc"), port, 1000)).await;
    assert!(v.is_up(), "{v:?}");
    assert!(
        start.elapsed() >= Duration::from_millis(2400),
        "{:?}",
        start.elapsed()
    );
}

/// One step longer than connect_timeout fails the check, with keepalived's line naming
/// the step: no reply at all ("WEB read"), a reply that stops after its head ("HTTP read").
#[tokio::test]
async fn http_step_longer_than_connect_timeout_fails_naming_the_step() {
    let stall = Step::Pause(Duration::from_secs(5));
    let head = b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\n".to_vec();
    for (script, step) in [
        (vec![stall.clone()], "WEB read"),
        (vec![Step::Send(head), stall], "HTTP read"),
    ] {
        let (port, _rx) = scripted_server(script, false).await;
        let start = Instant::now();
        let v = get_root(port, 400).await;
        let took = start.elapsed();
        assert_eq!(
            reason(&v),
            format!("Timeout {step} server [127.0.0.1]:tcp:{port}.")
        );
        assert!(took >= Duration::from_millis(390), "ended early: {took:?}");
        assert!(took < Duration::from_millis(1500), "ran long: {took:?}");
    }
}

/// A server drip-feeding its body for ever, each byte well within connect_timeout of the
/// last: keepalived would wait as long as it goes on; lvsd caps the whole exchange at
/// 5 × connect_timeout (`steps::CAP_STEPS`) and fails it there.
#[tokio::test]
async fn http_endless_drip_fails_at_five_connect_timeouts() {
    let (port, _rx) = http_server(
        Reply::Drip {
            len: 1000,
            every: Duration::from_millis(100),
        },
        None,
    )
    .await;
    let start = Instant::now();
    let v = get_root(port, 400).await;
    let took = start.elapsed();
    assert_eq!(
        reason(&v),
        format!(
            "Timeout HTTP read server [127.0.0.1]:tcp:{port}: url(1) not answered in full \
             after 2 s (5 x connect_timeout)."
        )
    );
    assert!(took >= Duration::from_millis(1950), "ended early: {took:?}");
    assert!(took < Duration::from_millis(3500), "ran long: {took:?}");
    // The same drip, finite and within the cap, passes.
    let (port, _rx) = http_server(
        Reply::Drip {
            len: 10,
            every: Duration::from_millis(100),
        },
        None,
    )
    .await;
    let v = get_root(port, 400).await;
    assert!(v.is_up(), "{v:?}");
}

/// SSL_GET: the same cap, and keepalived's SSL read line.
#[tokio::test]
async fn ssl_get_endless_drip_fails_at_five_connect_timeouts() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = tls::server_config(dir.path());
    let (port, _rx) = http_server(
        Reply::Drip {
            len: 1000,
            every: Duration::from_millis(100),
        },
        Some(cfg),
    )
    .await;
    let mut h = http(vec![url("/")]);
    h.tls = true;
    let start = Instant::now();
    let v = check_once(&settings(CheckerKind::Http(h), port, 400)).await;
    let took = start.elapsed();
    assert_eq!(
        reason(&v),
        format!(
            "Timeout SSL read server [127.0.0.1]:tcp:{port}: url(1) not answered in full \
             after 2 s (5 x connect_timeout)."
        )
    );
    assert!(took >= Duration::from_millis(1950), "ended early: {took:?}");
    assert!(took < Duration::from_millis(3500), "ran long: {took:?}");
}

#[tokio::test]
async fn http_refused_port() {
    let closed = HeldTcpPort::new();
    let v = get_root(closed.port, 2000).await;
    assert!(!v.is_up());
    assert!(reason(&v).starts_with("Error connecting server [127.0.0.1]:tcp:"));
}

#[tokio::test]
async fn http_host_header_and_protocol() {
    let (port, mut rx) = http_server(Reply::Full(200, ""), None).await;
    // No virtualhost: the address and port; HTTP/1.0 by default.
    let v = check_once(&settings(
        CheckerKind::Http(http(vec![url("/a")])),
        port,
        2000,
    ))
    .await;
    assert!(v.is_up());
    let (head, _) = rx.recv().await.unwrap();
    assert!(head.starts_with("GET /a HTTP/1.0\r\n"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains(&format!("host: 127.0.0.1:{port}\r\n")),
        "{head}"
    );
    // The checker's virtualhost, then a url's own one overriding it; HTTP/1.1.
    let mut h = http(vec![url("/b"), url("/c")]);
    h.urls[1].virtualhost = Some("other.example.test".into());
    h.virtualhost = Some("www.example.test".into());
    h.http_protocol = Some("1.1".into());
    let mut s = settings(CheckerKind::Http(h), port, 2000);
    s.set_rare(|r| r.virtualhost = Some("rs-level.example.test".into()));
    assert!(check_once(&s).await.is_up());
    let (head, _) = rx.recv().await.unwrap();
    let lower = head.to_ascii_lowercase();
    assert!(head.starts_with("GET /b HTTP/1.1\r\n"), "{head}");
    assert!(lower.contains("host: www.example.test\r\n"), "{head}");
    assert!(lower.contains("connection: close\r\n"), "{head}");
    let (head, _) = rx.recv().await.unwrap();
    assert!(
        head.to_ascii_lowercase()
            .contains("host: other.example.test\r\n"),
        "{head}"
    );
}

/// SSL_GET against a server with a self-signed certificate (tests/tls), SNI sent.
#[tokio::test]
async fn ssl_get_with_self_signed_cert_and_sni() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = tls::server_config(dir.path());
    let (port, mut rx) = http_server(Reply::Full(200, "secure"), Some(cfg)).await;
    let mut u = url("/tls");
    u.digest = Some(md5_hex("secure"));
    let mut h = http(vec![u]);
    h.tls = true;
    h.virtualhost = Some("secure.example.test".into());
    // Without enable_sni no server name is sent.
    let v = check_once(&settings(CheckerKind::Http(h.clone()), port, 3000)).await;
    assert!(v.is_up(), "{v:?}");
    let (head, sni) = rx.recv().await.unwrap();
    assert!(head.starts_with("GET /tls HTTP/1.0\r\n"), "{head}");
    assert_eq!(sni, None);
    h.enable_sni = true;
    let v = check_once(&settings(CheckerKind::Http(h.clone()), port, 3000)).await;
    assert!(v.is_up(), "{v:?}");
    let (_, sni) = rx.recv().await.unwrap();
    assert_eq!(sni.as_deref(), Some("secure.example.test"));
    // SSL_GET against a plain HTTP server fails in the handshake.
    let (plain, _rx) = http_server(Reply::Full(200, "secure"), None).await;
    let v = check_once(&settings(CheckerKind::Http(h), plain, 3000)).await;
    assert!(!v.is_up(), "{v:?}");
}

/// SSL_GET presents the `SSL` block's client certificate to a server that requires
/// one (signed by its CA); without the block the handshake is refused.
#[tokio::test]
async fn ssl_get_presents_the_ssl_blocks_client_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = tls::mutual_tls(dir.path());
    let (port, _rx) = http_server(Reply::Full(200, "mutual"), Some(cfg)).await;
    let mut h = http(vec![url("/mtls")]);
    h.tls = true;
    let v = check_once(&settings(CheckerKind::Http(h.clone()), port, 3000)).await;
    assert!(!v.is_up(), "no client certificate: {v:?}");
    h.client = Some(Arc::new(SslClient {
        password: None,
        ca: Some(dir.path().join("ca.pem")),
        certificate: Some(dir.path().join("client.pem")),
        key: Some(dir.path().join("client.key")),
    }));
    let v = check_once(&settings(CheckerKind::Http(h.clone()), port, 3000)).await;
    assert!(v.is_up(), "{v:?}");
    // A key file that is not a key: the check fails and says why.
    h.client = Some(Arc::new(SslClient {
        key: Some(dir.path().join("client.csr")),
        ..SslClient::clone(h.client.as_deref().unwrap())
    }));
    let v = check_once(&settings(CheckerKind::Http(h), port, 3000)).await;
    assert!(reason(&v).contains("client.csr"), "{v:?}");
}

#[tokio::test]
async fn tcp_check_up_and_refused() {
    let held = HeldTcpPort::new();
    let port = held.port;
    let v = check_once(&settings(CheckerKind::Tcp, port, 1000)).await;
    assert!(!v.is_up(), "nothing listens yet: {v:?}");
    let l = held.listen();
    let v = check_once(&settings(CheckerKind::Tcp, port, 1000)).await;
    assert_eq!(
        reason(&v),
        format!("TCP connection to [127.0.0.1]:tcp:{port} success.")
    );
    drop(l);
    let v = check_once(&settings(CheckerKind::Tcp, port, 1000)).await;
    assert!(!v.is_up());
    assert!(reason(&v).starts_with(&format!("TCP connection to [127.0.0.1]:tcp:{port} failed")));
}

#[tokio::test]
async fn tcp_check_binds_to_bindto_and_bind_port() {
    let l = TcpListener::bind((LOCALHOST, 0)).await.unwrap();
    let port = l.local_addr().unwrap().port();
    let free = std::net::TcpListener::bind((Ipv4Addr::new(127, 0, 0, 2), 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut s = settings(CheckerKind::Tcp, port, 1000);
    s.set_rare(|r| {
        r.bind = Some(SocketAddr::new(
            IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)),
            free,
        ))
    });
    let accept = tokio::spawn(async move { l.accept().await.unwrap().1 });
    assert!(check_once(&s).await.is_up());
    assert_eq!(accept.await.unwrap(), s.bind().unwrap());
}

fn misc(cmd: &str, dynamic: bool, timeout_ms: u64) -> CheckerKind {
    CheckerKind::Misc(Box::new(MiscCheck {
        misc_path: cmd.into(),
        misc_timeout: Some(Duration::from_millis(timeout_ms)),
        misc_dynamic: dynamic,
        user: None,
    }))
}

#[tokio::test]
async fn misc_check_exit_codes_dynamic_weight_and_timeout() {
    let run = |cmd: &str, dynamic: bool| {
        let s = settings(misc(cmd, dynamic, 5000), 0, 1000);
        async move { check_once(&s).await }
    };
    assert_eq!(
        run("true", false).await,
        Verdict::Up {
            weight: None,
            msg: "Misc check for [true] to [127.0.0.1]:tcp:0 success.".into()
        }
    );
    assert!(!run("false", false).await.is_up());
    assert!(!run("sh -c 'exit 7'", false).await.is_up());
    // misc_dynamic: 0 up (weight kept), 1 down, 2..=255 up with weight code - 2.
    assert!(matches!(
        run("true", true).await,
        Verdict::Up { weight: None, .. }
    ));
    assert!(!run("sh -c 'exit 1'", true).await.is_up());
    for (code, weight) in [(2, 0), (7, 5), (255, 253)] {
        match run(&format!("sh -c 'exit {code}'"), true).await {
            Verdict::Up { weight: w, .. } => assert_eq!(w, Some(weight), "exit {code}"),
            v => panic!("exit {code}: {v:?}"),
        }
    }
    // Runs over misc_timeout: killed, down, promptly.
    let start = Instant::now();
    let v = check_once(&settings(misc("sleep 10", false, 300), 0, 1000)).await;
    assert!(reason(&v).ends_with("timed out."), "{v:?}");
    assert!(start.elapsed() < Duration::from_secs(3));
    // No shell unless the command runs one: `;` is an argument to echo.
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("m");
    let cmd = format!("echo x ; touch {}", marker.display());
    assert!(run(&cmd, false).await.is_up());
    assert!(!marker.exists());
}

async fn udp_echo_server(reply: Option<&'static [u8]>) -> u16 {
    let sock = UdpSocket::bind((LOCALHOST, 0)).await.unwrap();
    let port = sock.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut buf = [0u8; 1500];
        loop {
            let (_, from) = sock.recv_from(&mut buf).await.unwrap();
            if let Some(r) = reply {
                sock.send_to(r, from).await.unwrap();
            }
        }
    });
    port
}

fn udp(payload: &[u8], require: Option<&[u8]>) -> CheckerKind {
    CheckerKind::Udp(Box::new(UdpCheck::new(
        Some(payload.to_vec()),
        require.map(|r| ReplyPattern {
            data: r.to_vec(),
            mask: Vec::new(),
        }),
    )))
}

#[tokio::test]
async fn udp_check_with_and_without_require_reply() {
    let replying = udp_echo_server(Some(b"PONG ok")).await;
    let silent = udp_echo_server(None).await;
    let closed_port = ClosedUdpPort::new();
    let closed = closed_port.port;
    let check = |kind, port| {
        let mut s = settings(kind, port, 400);
        s.proto = "udp";
        async move { check_once(&s).await }
    };
    assert!(check(udp(b"PING", Some(b"PONG")), replying).await.is_up());
    let v = check(udp(b"PING", Some(b"NOPE")), replying).await;
    assert!(reason(&v).contains("reply data mismatch"), "{v:?}");
    let v = check(udp(b"PING", Some(b"PONG")), silent).await;
    assert!(reason(&v).contains("no reply"), "{v:?}");
    // keepalived compares as far as the shorter of reply and data goes.
    assert!(check(udp(b"PING", Some(b"PONG ok, more")), replying)
        .await
        .is_up());
    // Length bounds: the default maximum is 255 bytes.
    let long = udp_echo_server(Some(&[b'P'; 256])).await;
    let v = check(udp(b"PING", Some(b"PP")), long).await;
    assert!(reason(&v).contains("reply data mismatch"), "{v:?}");
    let mut wide = UdpCheck::new(Some(b"PING".to_vec()), ReplyPattern::parse("50 5x", true));
    wide.max_reply_length = 256;
    assert!(check(CheckerKind::Udp(Box::new(wide.clone())), long)
        .await
        .is_up());
    wide.min_reply_length = 300;
    wide.max_reply_length = 400;
    assert!(!check(CheckerKind::Udp(Box::new(wide)), long).await.is_up());
    // require_reply without data: any reply is up, silence down.
    let any = CheckerKind::Udp(Box::new(UdpCheck::new(
        Some(b"PING".to_vec()),
        Some(ReplyPattern::default()),
    )));
    assert!(check(any.clone(), long).await.is_up());
    assert!(!check(any, silent).await.is_up());
    // Without require_reply: silence is up, a port unreachable is down.
    assert!(check(udp(b"PING", None), silent).await.is_up());
    let v = check(udp(b"PING", None), closed).await;
    assert_eq!(
        reason(&v),
        format!("UDP check to [127.0.0.1]:udp:{closed} failed: port unreachable.")
    );
}

/// A line-based SMTP responder: `greeting` first, then `helo_reply` to HELO; it records
/// the lines it reads.
async fn smtp_server(
    greeting: &'static str,
    helo_reply: &'static str,
) -> (u16, mpsc::UnboundedReceiver<String>) {
    use tokio::io::AsyncBufReadExt;
    let l = TcpListener::bind((LOCALHOST, 0)).await.unwrap();
    let port = l.local_addr().unwrap().port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let (sock, _) = l.accept().await.unwrap();
            let tx = tx.clone();
            tokio::spawn(async move {
                let (r, mut w) = sock.into_split();
                let mut lines = tokio::io::BufReader::new(r).lines();
                w.write_all(greeting.as_bytes()).await.unwrap();
                while let Ok(Some(line)) = lines.next_line().await {
                    let _ = tx.send(line.clone());
                    let answer = if line.starts_with("HELO ") {
                        helo_reply
                    } else {
                        "221 bye\r\n"
                    };
                    if w.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, rx)
}

#[tokio::test]
async fn smtp_check() {
    let kind = CheckerKind::Smtp(Box::new(SmtpCheck {
        helo_name: Some("lvsd.test".into()),
    }));
    let (good, mut rx) = smtp_server(
        "220-mx.test ESMTP\r\n220 ready\r\n",
        "250-mx.test\r\n250 PIPELINING\r\n",
    )
    .await;
    let v = check_once(&settings(kind.clone(), good, 2000)).await;
    assert!(v.is_up(), "{v:?}");
    assert_eq!(rx.recv().await.unwrap(), "HELO lvsd.test");
    assert_eq!(rx.recv().await.unwrap(), "QUIT");
    let (busy, _rx) = smtp_server("554 go away\r\n", "250 ok\r\n").await;
    let v = check_once(&settings(kind.clone(), busy, 2000)).await;
    assert!(reason(&v).contains("greeting reply code 554"), "{v:?}");
    let (rude, _rx) = smtp_server("220 ready\r\n", "501 who are you\r\n").await;
    let v = check_once(&settings(kind, rude, 2000)).await;
    assert!(reason(&v).contains("HELO reply code 501"), "{v:?}");
}

/// SMTP_CHECK times each step as keepalived: a greeting in two lines, each within
/// connect_timeout, passes although it takes longer in all; a server silent for longer
/// than connect_timeout fails with keepalived's read timeout line.
#[tokio::test]
async fn smtp_check_bounds_each_step_by_connect_timeout() {
    let kind = CheckerKind::Smtp(Box::new(SmtpCheck {
        helo_name: Some("lvsd.test".into()),
    }));
    let (port, _rx) = slow_smtp_server(Duration::from_millis(600)).await;
    let start = Instant::now();
    let v = check_once(&settings(kind.clone(), port, 1000)).await;
    assert!(v.is_up(), "{v:?}");
    assert!(
        start.elapsed() >= Duration::from_millis(1200),
        "{:?}",
        start.elapsed()
    );
    let (port, _rx) = slow_smtp_server(Duration::from_millis(1500)).await;
    let v = check_once(&settings(kind, port, 1000)).await;
    assert_eq!(
        reason(&v),
        format!("SMTP_CHECK Read timeout from server [127.0.0.1]:{port}.")
    );
}

/// An SMTP server that sends each greeting line after `pause`, then accepts HELO.
async fn slow_smtp_server(pause: Duration) -> (u16, tokio::task::JoinHandle<()>) {
    let l = TcpListener::bind((LOCALHOST, 0)).await.unwrap();
    let port = l.local_addr().unwrap().port();
    let server = tokio::spawn(async move {
        loop {
            let (mut sock, _) = l.accept().await.unwrap();
            tokio::spawn(async move {
                for line in ["220-mx.test ESMTP\r\n", "220 ready\r\n"] {
                    tokio::time::sleep(pause).await;
                    if sock.write_all(line.as_bytes()).await.is_err() {
                        return;
                    }
                }
                let mut buf = [0u8; 256];
                while let Ok(n) = sock.read(&mut buf).await {
                    if n == 0 || sock.write_all(b"250 ok\r\n").await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, server)
}

/// A DNS responder: answers each query with `rcode` (echoing id and question), or not
/// at all when `rcode` is None. Sends the queries it gets to the channel.
async fn dns_server(rcode: Option<u8>) -> (u16, mpsc::UnboundedReceiver<Vec<u8>>) {
    let sock = UdpSocket::bind((LOCALHOST, 0)).await.unwrap();
    let port = sock.local_addr().unwrap().port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        let mut buf = [0u8; 512];
        loop {
            let (n, from) = sock.recv_from(&mut buf).await.unwrap();
            let q = buf[..n].to_vec();
            let _ = tx.send(q.clone());
            let Some(rcode) = rcode else { continue };
            // First a datagram with the wrong id: it must be ignored.
            let mut stray = q.clone();
            stray[0] ^= 0xff;
            stray[2] |= 0x80;
            sock.send_to(&stray, from).await.unwrap();
            let mut r = q;
            r[2] |= 0x80; // QR
            r[3] = (r[3] & 0xf0) | 0x80 | rcode; // RA + rcode
            if rcode == 0 {
                r[7] = 1; // one answer: A 127.0.0.1, name by pointer to the question
                r.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 127, 0, 0, 1]);
            }
            sock.send_to(&r, from).await.unwrap();
        }
    });
    (port, rx)
}

#[tokio::test]
async fn dns_check_answer_error_and_silence() {
    let kind = CheckerKind::Dns(Box::new(DnsCheck {
        query_type: "A".into(),
        name: "www.example.test".into(),
    }));
    let (answering, mut rx) = dns_server(Some(0)).await;
    let v = check_once(&settings(kind.clone(), answering, 1000)).await;
    assert!(v.is_up(), "{v:?}");
    let q = rx.recv().await.unwrap();
    assert_eq!(&q[12..], b"\x03www\x07example\x04test\x00\x00\x01\x00\x01");
    let (nx, _rx) = dns_server(Some(3)).await;
    let v = check_once(&settings(kind.clone(), nx, 1000)).await;
    assert!(reason(&v).contains("RCODE 3"), "{v:?}");
    let (silent, _rx) = dns_server(None).await;
    let start = Instant::now();
    let v = check_once(&settings(kind, silent, 500)).await;
    assert!(reason(&v).contains("timeout"), "{v:?}");
    assert!(start.elapsed() >= Duration::from_millis(450));
}

#[tokio::test]
async fn ping_localhost() {
    if root::skip_without_root("an ICMP socket") {
        return;
    }
    let v = check_once(&settings(CheckerKind::Ping, 0, 2000)).await;
    assert_eq!(v, Verdict::up("ICMP echo to [127.0.0.1] success."));
}

#[tokio::test]
async fn file_check_weights() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("w");
    let kind = |weight, reverse| {
        CheckerKind::File(Box::new(FileCheck {
            track_file: path.display().to_string(),
            weight,
            reverse,
        }))
    };
    let run = |k| async move { check_once(&settings(k, 0, 1000)).await };
    let v = run(kind(None, false)).await;
    assert!(reason(&v).contains("cannot read"), "{v:?}");
    std::fs::write(&path, "5\n").unwrap();
    assert!(matches!(
        run(kind(None, false)).await,
        Verdict::Up {
            weight: Some(5),
            ..
        }
    ));
    assert!(matches!(
        run(kind(Some(3), false)).await,
        Verdict::Up {
            weight: Some(15),
            ..
        }
    ));
    assert!(!run(kind(Some(3), true)).await.is_up());
    std::fs::write(&path, "-4").unwrap();
    assert!(matches!(
        run(kind(Some(2), true)).await,
        Verdict::Up {
            weight: Some(8),
            ..
        }
    ));
    std::fs::write(&path, "0").unwrap();
    assert!(!run(kind(None, false)).await.is_up());
    std::fs::write(&path, "junk").unwrap();
    assert!(reason(&run(kind(None, false)).await).contains("no number"));
}

/// One step of a scripted HTTP server's reply.
#[derive(Clone)]
enum Step {
    /// Write these bytes as their own segment (TCP_NODELAY).
    Send(Vec<u8>),
    Pause(Duration),
}

/// How the client ended the connection, as the scripted server saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    /// RST: the checker's SO_LINGER 0 close.
    Reset,
    /// FIN: an orderly close.
    Fin,
    /// The client is still connected after 3 s.
    Open,
}

/// A plain HTTP server on 127.0.0.1 that, for each connection, reads the request head,
/// plays `steps`, closes its own side if `close`, then reports the client's address and
/// how the client ended the connection.
async fn scripted_server(
    steps: Vec<Step>,
    close: bool,
) -> (u16, mpsc::UnboundedReceiver<(SocketAddr, Ended)>) {
    let listener = TcpListener::bind((LOCALHOST, 0)).await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        loop {
            let (mut s, peer) = listener.accept().await.unwrap();
            let (steps, tx) = (steps.clone(), tx.clone());
            tokio::spawn(async move {
                s.set_nodelay(true).unwrap();
                let mut head = Vec::new();
                let mut buf = [0u8; 1024];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                for step in steps {
                    let ok = match step {
                        Step::Send(b) => s.write_all(&b).await.is_ok(),
                        Step::Pause(d) => {
                            tokio::time::sleep(d).await;
                            true
                        }
                    };
                    if !ok {
                        let _ = tx.send((peer, Ended::Reset));
                        return;
                    }
                }
                if close {
                    let _ = s.shutdown().await;
                }
                let ended = loop {
                    match tokio::time::timeout(Duration::from_secs(3), s.read(&mut buf)).await {
                        Err(_) => break Ended::Open,
                        Ok(Ok(0)) => break Ended::Fin,
                        Ok(Ok(_)) => continue,
                        Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                            break Ended::Reset
                        }
                        Ok(Err(e)) => panic!("server read: {e}"),
                    }
                };
                let _ = tx.send((peer, ended));
            });
        }
    });
    (port, rx)
}

/// `bytes` as one Send step per `size` bytes, each after a 1 ms pause.
fn trickle(bytes: &[u8], size: usize) -> Vec<Step> {
    bytes
        .chunks(size)
        .flat_map(|c| {
            [
                Step::Pause(Duration::from_millis(1)),
                Step::Send(c.to_vec()),
            ]
        })
        .collect()
}

fn digest_check(body: &str) -> CheckerKind {
    let mut u = url("/");
    u.digest = Some(md5_hex(body));
    CheckerKind::Http(http(vec![u]))
}

#[tokio::test]
async fn http_closes_with_rst_once_the_response_is_complete() {
    // The server keeps its side open after a Content-Length reply: the checker must not
    // wait for its FIN, and must reset the connection (no TIME_WAIT on the director).
    let reply = b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec();
    let (port, mut rx) = scripted_server(vec![Step::Send(reply)], false).await;
    let start = Instant::now();
    let v = check_once(&settings(digest_check("ok"), port, 5000)).await;
    assert!(v.is_up(), "{v:?}");
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "waited for the server's close"
    );
    let (_, ended) = rx.recv().await.unwrap();
    assert_eq!(ended, Ended::Reset);
    // A failed check resets too (here: a status it does not accept).
    let reply = b"HTTP/1.0 404 Not Found\r\nContent-Length: 2\r\n\r\nno".to_vec();
    let (port, mut rx) = scripted_server(vec![Step::Send(reply)], false).await;
    let v = check_once(&settings(digest_check("ok"), port, 5000)).await;
    assert!(reason(&v).contains("status_code [404]"), "{v:?}");
    assert_eq!(rx.recv().await.unwrap().1, Ended::Reset);
}

#[tokio::test]
async fn http_chunked_body_split_across_many_reads() {
    let body = "chunked health page body ".repeat(20);
    let mut reply = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for c in body.as_bytes().chunks(37) {
        reply.extend_from_slice(format!("{:x};ext=1\r\n", c.len()).as_bytes());
        reply.extend_from_slice(c);
        reply.extend_from_slice(b"\r\n");
    }
    reply.extend_from_slice(b"0\r\nX-Trailer: yes\r\n\r\n");
    // 7 bytes per segment: chunk-size lines, data and CRLFs all cut across reads.
    let (port, _rx) = scripted_server(trickle(&reply, 7), false).await;
    let v = check_once(&settings(digest_check(&body), port, 10_000)).await;
    assert!(v.is_up(), "{v:?}");
    // The same reply with one byte of the body changed fails on the digest.
    let mut wrong = reply.clone();
    let at = wrong.len() - 30;
    wrong[at] ^= 0x20;
    let (port, _rx) = scripted_server(trickle(&wrong, 50), false).await;
    let v = check_once(&settings(digest_check(&body), port, 10_000)).await;
    assert!(reason(&v).starts_with("MD5 digest error"), "{v:?}");
}

#[tokio::test]
async fn http_content_length_body_split_across_many_reads() {
    let body = "x".repeat(3000);
    let mut reply =
        format!("HTTP/1.0 200 OK\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
    reply.extend_from_slice(body.as_bytes());
    let (port, _rx) = scripted_server(trickle(&reply, 200), false).await;
    let v = check_once(&settings(digest_check(&body), port, 10_000)).await;
    assert!(v.is_up(), "{v:?}");
}

#[tokio::test]
async fn http_body_until_the_server_closes() {
    // No Content-Length, no chunking: the body ends with the connection.
    let reply = b"HTTP/1.0 200 OK\r\nServer: old\r\n\r\nuntil close".to_vec();
    let (port, mut rx) = scripted_server(trickle(&reply, 10), true).await;
    let v = check_once(&settings(digest_check("until close"), port, 5000)).await;
    assert!(v.is_up(), "{v:?}");
    assert_eq!(rx.recv().await.unwrap().1, Ended::Reset);
    // Until the close means until the close: a server that keeps the connection open
    // times out.
    let (port, _rx) = scripted_server(trickle(&reply, 10), false).await;
    let v = check_once(&settings(digest_check("until close"), port, 500)).await;
    assert!(reason(&v).contains("Timeout"), "{v:?}");
}

#[tokio::test]
async fn http_header_block_larger_than_one_read() {
    let mut reply = b"HTTP/1.1 200 OK\r\n".to_vec();
    for i in 0..50 {
        reply.extend_from_slice(format!("X-Filler-{i}: {}\r\n", "h".repeat(300)).as_bytes());
    }
    reply.extend_from_slice(b"Content-Length: 4\r\nConnection: close\r\n\r\nbody");
    assert!(reply.len() > 15_000);
    let (port, _rx) = scripted_server(trickle(&reply, 1500), false).await;
    let v = check_once(&settings(digest_check("body"), port, 10_000)).await;
    assert!(v.is_up(), "{v:?}");
    // A head beyond the limit is refused rather than buffered without end.
    let mut huge = b"HTTP/1.1 200 OK\r\n".to_vec();
    while huge.len() < 80 * 1024 {
        huge.extend_from_slice(format!("X-Filler: {}\r\n", "h".repeat(1000)).as_bytes());
    }
    let (port, _rx) = scripted_server(vec![Step::Send(huge)], false).await;
    let v = check_once(&settings(digest_check("body"), port, 5000)).await;
    assert!(reason(&v).starts_with("Error connecting server"), "{v:?}");
}

#[tokio::test]
async fn http_server_closing_early() {
    // Fewer body bytes than announced, then the close.
    let reply = b"HTTP/1.0 200 OK\r\nContent-Length: 100\r\n\r\nshort".to_vec();
    let (port, _rx) = scripted_server(vec![Step::Send(reply)], true).await;
    let v = get_root(port, 5000).await;
    assert!(!v.is_up());
    assert!(
        reason(&v).contains("closed before the end of the body"),
        "{v:?}"
    );
    // Closed before any response, and closed in the middle of the head.
    for reply in [vec![], b"HTTP/1.0 200 OK\r\nContent-Le".to_vec()] {
        let (port, _rx) = scripted_server(vec![Step::Send(reply)], true).await;
        let v = get_root(port, 5000).await;
        assert!(reason(&v).contains("closed before a response"), "{v:?}");
    }
    // Not HTTP at all.
    let (port, _rx) = scripted_server(vec![Step::Send(b"SSH-2.0-x\r\n\r\n".to_vec())], true).await;
    let v = get_root(port, 5000).await;
    assert!(reason(&v).contains("bad response head"), "{v:?}");
}

#[tokio::test]
async fn http_wrong_status_does_not_wait_for_the_body() {
    // A 503 head, then a body dripping for 5 s: the verdict is known at the head.
    let mut steps = vec![Step::Send(
        b"HTTP/1.0 503 Busy\r\nContent-Length: 50\r\n\r\n".to_vec(),
    )];
    steps.extend(trickle(&[b'x'; 50], 1).into_iter().map(|s| match s {
        Step::Pause(_) => Step::Pause(Duration::from_millis(100)),
        s => s,
    }));
    let (port, mut rx) = scripted_server(steps, false).await;
    let start = Instant::now();
    let v = get_root(port, 3000).await;
    assert!(reason(&v).contains("status_code [503]"), "{v:?}");
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(rx.recv().await.unwrap().1, Ended::Reset);
}

#[tokio::test]
async fn http_binds_to_bindto() {
    let reply = b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec();
    let (port, mut rx) = scripted_server(vec![Step::Send(reply)], false).await;
    let free = std::net::TcpListener::bind((Ipv4Addr::new(127, 0, 0, 3), 0))
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut s = settings(digest_check("ok"), port, 2000);
    s.set_rare(|r| {
        r.bind = Some(SocketAddr::new(
            IpAddr::V4(Ipv4Addr::new(127, 0, 0, 3)),
            free,
        ))
    });
    // Twice with the same bind_port: the RST close leaves no TIME_WAIT to collide with.
    for _ in 0..2 {
        let v = check_once(&s).await;
        assert!(v.is_up(), "{v:?}");
        assert_eq!(rx.recv().await.unwrap(), (s.bind().unwrap(), Ended::Reset));
    }
}

#[tokio::test]
async fn http_bad_path_or_digest_in_config() {
    let (port, _rx) = http_server(Reply::Full(200, "fine"), None).await;
    // A path that would break the request line is refused, not sent.
    let v = check_once(&settings(
        CheckerKind::Http(http(vec![url("/a b\r\nX-Injected: 1")])),
        port,
        2000,
    ))
    .await;
    assert!(reason(&v).contains("bad request"), "{v:?}");
    // A digest that is not 32 hex digits can never match.
    let mut u = url("/");
    u.digest = Some("not-a-digest".into());
    let v = check_once(&settings(CheckerKind::Http(http(vec![u])), port, 2000)).await;
    assert!(
        reason(&v).starts_with("MD5 digest error") && reason(&v).contains(&md5_hex("fine")),
        "{v:?}"
    );
}
