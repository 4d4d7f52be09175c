//! HTTP_GET and SSL_GET: for each `url`, a fresh connection, one GET, the status checked
//! against the accepted ranges and, when a digest is configured, the MD5 of the body.
//! Timed as keepalived: each step (the connection with its TLS handshake, the request
//! written, each read of the reply) within connect_timeout of its start; the whole
//! exchange of one URL within [`steps::CAP_STEPS`] × connect_timeout, so that a server
//! that drip-feeds its reply fails in time (see [`super::steps`]).
//!
//! Like keepalived: HTTP/1.0 by default (`http_protocol 1.1` / `1.0C` / `1.0K`), a
//! `Host:` header with the virtualhost (else the address), certificates are not
//! verified, SNI carries the virtualhost only with `enable_sni`.
//!
//! The client is our own minimal HTTP/1.x client on a tokio socket (the response is read
//! by [`super::http_response`], built on `httparse`): it binds (`bindto`, `bind_port`,
//! `bind_if`), chooses SNI, opens exactly one connection per URL, and costs far less
//! CPU per check than hyper's connection machinery. Everything that does not change
//! between checks (request bytes, expected digest, SNI name, success line) is built
//! once per checker in [`HttpProbe::new`].
//!
//! Connections are closed with an RST (SO_LINGER 0) as soon as the verdict is known:
//! the response is complete (Content-Length or last chunk reached), the status is one
//! the URL does not accept, or the check failed. No FIN exchange, and no TIME_WAIT
//! socket is left on the director (at 10,000 checks/s, TIME_WAIT's 60 s would hold
//! ~600,000 sockets, and with a fixed `bind_port` the next check could not reuse the
//! port). The server sees a reset after it has sent its whole reply.

use super::http_response::{Progress, ResponseError, ResponseReader};
use super::steps::{self, Overrun, Steps};
use super::{net, CheckSettings, Verdict};
use crate::config::{HttpCheck, SslClient, UrlCheck};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// keepalived's User-Agent.
const USER_AGENT: &str = "KeepAliveClient";

/// Accepts any certificate (keepalived does not verify either) but still checks the
/// handshake signatures, so the session is consistent with the presented key.
#[derive(Debug)]
struct AcceptAnyCert(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// The TLS client configuration of SSL_GET with the `SSL` block `client` (ring
/// provider): built once per distinct block and shared by every checker using it.
fn tls_config(client: Option<&SslClient>) -> Result<Arc<rustls::ClientConfig>, String> {
    type Cache = Mutex<Vec<(Option<SslClient>, Result<Arc<rustls::ClientConfig>, String>)>>;
    static CONFIGS: OnceLock<Cache> = OnceLock::new();
    let mut cache = CONFIGS
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some((_, built)) = cache.iter().find(|(c, _)| c.as_ref() == client) {
        return built.clone();
    }
    let built = build_tls_config(client);
    if let Err(e) = &built {
        tracing::error!("SSL_GET cannot set up TLS: {e}");
    }
    // A reload with another block replaces the old one (at most a few are kept).
    if cache.len() >= 4 {
        drop(cache.remove(0));
    }
    cache.push((client.cloned(), built.clone()));
    built
}

fn build_tls_config(client: Option<&SslClient>) -> Result<Arc<rustls::ClientConfig>, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::PrivateKeyDer;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider)));
    let Some(client) = client else {
        return Ok(Arc::new(builder.with_no_client_auth()));
    };
    let certs = |path: &std::path::Path| -> Result<Vec<CertificateDer<'static>>, String> {
        let what = |e: &dyn std::fmt::Display| format!("SSL {}: {e}", path.display());
        let certs = CertificateDer::pem_file_iter(path)
            .map_err(|e| what(&e))?
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| what(&e))?;
        if certs.is_empty() {
            return Err(what(&"no certificate in the file"));
        }
        Ok(certs)
    };
    // keepalived reads the CA file without verifying servers with it.
    if let Some(ca) = &client.ca {
        certs(ca)?;
    }
    let config = match (&client.certificate, &client.key) {
        (Some(cert), Some(key)) => {
            let chain = certs(cert)?;
            let key = PrivateKeyDer::from_pem_file(key).map_err(|e| {
                format!(
                    "SSL key {}: {e} (a password-protected key cannot be read)",
                    key.display()
                )
            })?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("SSL certificate and key: {e}"))?
        }
        _ => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// Bytes read from the connection at a time (one buffer per checker).
const READ_BUF: usize = 4096;

/// The request line's version and the Connection header for `http_protocol`.
fn protocol(http: &HttpCheck) -> (&'static str, Option<&'static str>) {
    match http.http_protocol.as_deref() {
        Some("1.1") => ("HTTP/1.1", Some("close")),
        Some("1.0C") | Some("1.0c") => ("HTTP/1.0", Some("close")),
        Some("1.0K") | Some("1.0k") => ("HTTP/1.0", Some("keep-alive")),
        _ => ("HTTP/1.0", None),
    }
}

/// The Host header value: the virtualhost, else the address (with the port when it is
/// not the scheme's default).
fn host_header(s: &CheckSettings, tls: bool, vhost: Option<&str>) -> String {
    if let Some(v) = vhost {
        return v.to_string();
    }
    let default_port = if tls { 443 } else { 80 };
    let ip = match s.addr {
        std::net::IpAddr::V4(a) => a.to_string(),
        std::net::IpAddr::V6(a) => format!("[{a}]"),
    };
    if s.port == default_port {
        ip
    } else {
        format!("{ip}:{}", s.port)
    }
}

/// The request bytes for one URL; an error when the path or Host would not make a
/// valid request line / header (no spaces, no control characters).
fn request(http: &HttpCheck, path: &str, host: &str) -> Result<Box<[u8]>, String> {
    let bad = || format!("bad request for {path:?}");
    if path.is_empty() {
        return Err(bad());
    }
    http::Uri::try_from(path).map_err(|e| format!("{}: {e}", bad()))?;
    http::HeaderValue::from_str(host).map_err(|e| format!("{}: Host {host:?}: {e}", bad()))?;
    let (version, connection) = protocol(http);
    let mut r = format!("GET {path} {version}\r\nUser-Agent: {USER_AGENT}\r\nHost: {host}\r\n");
    if let Some(c) = connection {
        r.push_str("Connection: ");
        r.push_str(c);
        r.push_str("\r\n");
    }
    r.push_str("\r\n");
    Ok(r.into_bytes().into_boxed_slice())
}

/// The digest a URL expects.
enum Digest {
    None,
    Md5([u8; 16]),
    /// Not 32 hex digits: no body can match it (keepalived compares the strings).
    Unmatchable,
}

/// One URL, prepared once per checker.
struct Url {
    check: UrlCheck,
    request: Result<Box<[u8]>, String>,
    digest: Digest,
    /// The SNI name (the virtualhost with `enable_sni`), else the address is used.
    sni: Result<Option<ServerName<'static>>, String>,
    /// `regex`, compiled (the configuration checked that it compiles).
    regex: Option<regex::bytes::Regex>,
}

/// How much of a body a `regex` searches, at most (keepalived searches as it reads; a
/// health page is far smaller).
const REGEX_BODY_LIMIT: usize = 4 << 20;

/// An HTTP_GET / SSL_GET checker's prepared state: built once, used for every check.
pub struct HttpProbe {
    /// "HTTP" or "SSL", for the timeout line.
    name: &'static str,
    urls: Vec<Url>,
    /// SSL_GET's connector (or why TLS could not be set up).
    tls: Option<Result<tokio_rustls::TlsConnector, String>>,
    /// keepalived's success line.
    success: String,
    /// The read buffer, on the heap so that the check's future stays small (futures
    /// are moved as they are built; a buffer inside them would be copied each time).
    buf: Box<[u8]>,
}

impl HttpProbe {
    pub fn new(s: &CheckSettings, http: &HttpCheck) -> HttpProbe {
        let urls = http
            .urls
            .iter()
            .map(|url| {
                let vhost = url
                    .virtualhost
                    .as_deref()
                    .or(http.virtualhost.as_deref())
                    .or(s.virtualhost());
                let digest = match &url.digest {
                    None => Digest::None,
                    Some(hex_digest) => {
                        let mut md5 = [0u8; 16];
                        match hex::decode_to_slice(hex_digest, &mut md5) {
                            Ok(()) => Digest::Md5(md5),
                            Err(_) => Digest::Unmatchable,
                        }
                    }
                };
                let sni = match vhost {
                    Some(v) if http.tls && http.enable_sni => ServerName::try_from(v.to_string())
                        .map(Some)
                        .map_err(|e| format!("bad SNI name {v:?}: {e}")),
                    _ => Ok(None),
                };
                Url {
                    check: url.clone(),
                    request: request(http, &url.path, &host_header(s, http.tls, vhost)),
                    digest,
                    sni,
                    regex: url.regex.as_ref().and_then(|r| r.compile().ok()),
                }
            })
            .collect();
        let tls = http
            .tls
            .then(|| tls_config(http.client.as_deref()).map(tokio_rustls::TlsConnector::from));
        HttpProbe {
            name: if http.tls { "SSL" } else { "HTTP" },
            urls,
            tls,
            success: format!(
                "HTTP status code success to {} url({}).",
                s.target(),
                http.urls.len()
            ),
            buf: vec![0u8; READ_BUF].into_boxed_slice(),
        }
    }

    /// One attempt: every URL in turn, each on its own connection, its steps timed.
    pub async fn check(&mut self, s: &CheckSettings) -> Verdict {
        if self.urls.is_empty() {
            return Verdict::down(format!("{}: HTTP check with no url.", s.target()));
        }
        // One timer for every step of every URL, in the attempt's future.
        let mut timer = std::pin::pin!(steps::timer());
        for (i, url) in self.urls.iter().enumerate() {
            let mut steps = Steps::new(timer.as_mut(), s.connect_timeout);
            let cap = steps.cap();
            let Err(e) = fetch(s, self.tls.as_ref(), url, &mut self.buf, &mut steps).await else {
                continue;
            };
            let (target, n) = (s.target(), i + 1);
            return Verdict::down(match e {
                UrlError::Io(e) => format!("Error connecting server {target} url({n}): {e}."),
                UrlError::Status(code) => {
                    format!("HTTP status code error to {target} url({n}), status_code [{code}].")
                }
                UrlError::Digest(got) => format!(
                    "MD5 digest error to {target} url({n}), expecting {}, got {got}.",
                    url.check.digest.as_deref().unwrap_or("")
                ),
                UrlError::Regex(matched) => format!(
                    "Regex {} on {target} url({n}).",
                    if matched {
                        "matched (regex_no_match)"
                    } else {
                        "did not match"
                    }
                ),
                // keepalived's lines for a step that took longer than connect_timeout.
                UrlError::Timeout(step, Overrun::Step) => {
                    let step = match step {
                        Step::Connect => "connecting",
                        Step::Write => "WEB write",
                        Step::FirstRead => "WEB read",
                        Step::Read if self.name == "SSL" => "SSL read",
                        Step::Read => "HTTP read",
                    };
                    format!("Timeout {step} server {target}.")
                }
                UrlError::Timeout(_, Overrun::Cap) => format!(
                    "Timeout {} read server {target}: url({n}) not answered in full after {} s \
                     ({} x connect_timeout).",
                    self.name,
                    cap.as_secs_f64(),
                    steps::CAP_STEPS
                ),
            });
        }
        Verdict::up(self.success.clone())
    }
}

/// One URL: connect (TLS for SSL_GET), send, read until the verdict is known.
async fn fetch(
    s: &CheckSettings,
    tls: Option<&Result<tokio_rustls::TlsConnector, String>>,
    url: &Url,
    buf: &mut [u8],
    steps: &mut Steps<'_>,
) -> Result<(), UrlError> {
    let request = url
        .request
        .as_deref()
        .map_err(|e| UrlError::Io(e.clone()))?;
    let connect = async {
        let tcp = net::tcp_connect(s)
            .await
            .map_err(|e| UrlError::Io(e.to_string()))?;
        // Close with an RST once the verdict is known: no FIN handshake, no TIME_WAIT.
        let _ = socket2::SockRef::from(&tcp).set_linger(Some(Duration::ZERO));
        Ok::<_, UrlError>(tcp)
    };
    let connector = match tls {
        None => {
            let tcp = steps.run(connect).await.map_err(timeout(Step::Connect))??;
            return exchange(tcp, request, url, buf, steps).await;
        }
        Some(Err(e)) => return Err(UrlError::Io(e.clone())),
        Some(Ok(c)) => c,
    };
    let server_name = match &url.sni {
        Ok(Some(name)) => name.clone(),
        Ok(None) => ServerName::IpAddress(s.addr.into()),
        Err(e) => return Err(UrlError::Io(e.clone())),
    };
    // Boxed: the TLS state is large and would otherwise grow (and be copied with)
    // every plain HTTP check's future too.
    Box::pin(async move {
        // keepalived times the connection and the TLS handshake as one step.
        let handshake = async {
            let tcp = connect.await?;
            // The TLS handshake and the request are several writes: no Nagle delay.
            let _ = tcp.set_nodelay(true);
            connector
                .connect(server_name, tcp)
                .await
                .map_err(|e| UrlError::Io(format!("TLS handshake: {e}")))
        };
        let tls = steps
            .run(handshake)
            .await
            .map_err(timeout(Step::Connect))??;
        exchange(tls, request, url, buf, steps).await
    })
    .await
}

/// The step of an exchange that ran out of time (keepalived names each in its line).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// The connection (and the TLS handshake).
    Connect,
    /// The request.
    Write,
    /// The reply's first bytes.
    FirstRead,
    /// Any later read of the reply.
    Read,
}

fn timeout(step: Step) -> impl Fn(Overrun) -> UrlError {
    move |bound| UrlError::Timeout(step, bound)
}

/// What went wrong with one URL.
enum UrlError {
    /// Connection, TLS or protocol failure.
    Io(String),
    Status(u16),
    /// The body's MD5, in hex.
    Digest(String),
    /// The body matched the regex (true) where it must not, or did not where it must.
    Regex(bool),
    /// A step, or the whole exchange, ran out of time.
    Timeout(Step, Overrun),
}

impl From<ResponseError> for UrlError {
    fn from(e: ResponseError) -> UrlError {
        UrlError::Io(e.to_string())
    }
}

/// One attempt of an HTTP_GET / SSL_GET check (prepares the checker, then checks);
/// the manager keeps an [`HttpProbe`] per checker instead.
pub async fn check(s: &CheckSettings, http: &HttpCheck) -> Verdict {
    HttpProbe::new(s, http).check(s).await
}

/// Sends the request and reads the response until the verdict is known: the body is
/// read to its end (hashed when a digest is expected), as keepalived does, since a
/// server that never finishes its reply is not healthy; a status the URL does not
/// accept ends the exchange at once.
async fn exchange<S>(
    mut stream: S,
    request: &[u8],
    url: &Url,
    buf: &mut [u8],
    steps: &mut Steps<'_>,
) -> Result<(), UrlError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let io = |what: &str, e: std::io::Error| UrlError::Io(format!("{what}: {e}"));
    let send = async {
        stream.write_all(request).await?;
        stream.flush().await
    };
    steps
        .run(send)
        .await
        .map_err(timeout(Step::Write))?
        .map_err(|e| io("sending request", e))?;
    let mut reader = ResponseReader::new(!matches!(url.digest, Digest::None));
    if url.regex.is_some() {
        reader = reader.keeping_body(REGEX_BODY_LIMIT);
    }
    let mut step = Step::FirstRead;
    let response = loop {
        let read = steps.run(stream.read(buf)).await.map_err(timeout(step))?;
        step = Step::Read;
        let n = match read {
            Ok(n) => n,
            // A TLS server closing without close_notify: the end of the reply all the same.
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => 0,
            Err(e) => return Err(io("reading response", e)),
        };
        if n == 0 {
            break reader.eof()?;
        }
        match reader.feed(&buf[..n])? {
            Progress::Done(r) => break r,
            Progress::More => match reader.status() {
                Some(status) if !url.check.accepts(status) => return Err(UrlError::Status(status)),
                _ => {}
            },
        }
    };
    if !url.check.accepts(response.status) {
        return Err(UrlError::Status(response.status));
    }
    match (&url.digest, response.md5) {
        (Digest::None, _) => {}
        (Digest::Md5(want), Some(got)) if *want == got => {}
        (_, got) => return Err(UrlError::Digest(hex::encode(got.unwrap_or_default()))),
    }
    match (&url.regex, &url.check.regex) {
        (Some(re), Some(r)) => {
            let matched = regex_matches(re, r, response.body.as_deref().unwrap_or_default());
            if matched == r.no_match {
                return Err(UrlError::Regex(matched));
            }
            Ok(())
        }
        _ => Ok(()),
    }
}

/// Whether `re` finds a match in `body` starting between `regex_min_offset` and
/// `regex_max_offset`.
fn regex_matches(re: &regex::bytes::Regex, r: &crate::config::UrlRegex, body: &[u8]) -> bool {
    let from = r.min_offset.map_or(0, |o| o as usize).min(body.len());
    match re.find(&body[from..]) {
        // The leftmost match: if it starts too late, so would any other.
        Some(m) => r
            .max_offset
            .is_none_or(|max| from + m.start() <= max as usize),
        None => false,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn regex_offsets_bound_where_a_match_starts() {
        let r = |min: Option<u32>, max: Option<u32>| crate::config::UrlRegex {
            pattern: "pass+ing".into(),
            no_match: false,
            options: vec!["caseless".into()],
            min_offset: min,
            max_offset: max,
        };
        let body = b"status: PASSING\n";
        let re = r(None, None).compile().unwrap();
        assert!(super::regex_matches(&re, &r(None, None), body));
        assert!(super::regex_matches(&re, &r(Some(8), Some(8)), body));
        assert!(!super::regex_matches(&re, &r(Some(9), None), body));
        assert!(!super::regex_matches(&re, &r(None, Some(7)), body));
        assert!(!super::regex_matches(&re, &r(None, None), b"failing"));
    }

    use super::*;

    #[test]
    fn protocols() {
        let mut h = HttpCheck {
            tls: false,
            urls: vec![],
            virtualhost: None,
            http_protocol: None,
            enable_sni: false,
            fast_recovery: false,
            client: None,
        };
        assert_eq!(protocol(&h), ("HTTP/1.0", None));
        h.http_protocol = Some("1.1".into());
        assert_eq!(protocol(&h), ("HTTP/1.1", Some("close")));
        h.http_protocol = Some("1.0C".into());
        assert_eq!(protocol(&h), ("HTTP/1.0", Some("close")));
    }

    #[test]
    fn request_bytes_are_built_once_and_checked() {
        let mut h = HttpCheck {
            tls: false,
            urls: vec![],
            virtualhost: None,
            http_protocol: None,
            enable_sni: false,
            fast_recovery: false,
            client: None,
        };
        assert_eq!(
            &*request(&h, "/health?x=1", "10.0.0.2:8080").unwrap(),
            b"GET /health?x=1 HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: 10.0.0.2:8080\r\n\r\n"
        );
        h.http_protocol = Some("1.0K".into());
        assert_eq!(
            &*request(&h, "/", "www.example.test").unwrap(),
            b"GET / HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: www.example.test\r\nConnection: keep-alive\r\n\r\n"
        );
        // Nothing that would break the request line or inject a header.
        for path in ["", "/a b", "/a\r\nX: y", "/\u{7f}"] {
            assert!(request(&h, path, "h").is_err(), "{path:?}");
        }
        assert!(request(&h, "/", "h\r\nX-Injected: 1").is_err());
    }

    #[test]
    fn tls_config_builds() {
        assert!(tls_config(None).is_ok());
    }
}
