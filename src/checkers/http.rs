//! HTTP_GET and SSL_GET: for each `url`, a fresh connection, one GET, the status checked
//! against the accepted ranges and, when a digest is configured, the MD5 of the body.
//! The whole check (connect, TLS, every URL, every body) is bounded by connect_timeout,
//! so a server that drip-feeds its reply still fails in time.
//!
//! Like keepalived: HTTP/1.0 by default (`http_protocol 1.1` / `1.0C` / `1.0K`), a
//! `Host:` header with the virtualhost (else the address), certificates are not
//! verified, SNI carries the virtualhost only with `enable_sni`.
//!
//! The client is hyper's HTTP/1 connection API on our own socket: it lets the checker
//! bind (`bindto`, `bind_port`, `bind_if`), choose SNI, and opens exactly one
//! connection per request, with no pool.

use super::{bounded, net, CheckSettings, Verdict};
use crate::config::{HttpCheck, UrlCheck};
use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper_util::rt::TokioIo;
use md5::{Digest, Md5};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::sync::{Arc, OnceLock};
use tokio::io::{AsyncRead, AsyncWrite};

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

/// The TLS client configuration shared by every SSL_GET (built once, ring provider).
fn tls_config() -> Result<Arc<rustls::ClientConfig>, String> {
    static CONFIG: OnceLock<Result<Arc<rustls::ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider.clone())
                .with_safe_default_protocol_versions()
                .map_err(|e| format!("TLS setup: {e}"))?
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider)))
                .with_no_client_auth();
            Ok(Arc::new(config))
        })
        .clone()
}

/// The request line's version and the Connection header for `http_protocol`.
fn protocol(http: &HttpCheck) -> (http::Version, Option<&'static str>) {
    match http.http_protocol.as_deref() {
        Some("1.1") => (http::Version::HTTP_11, Some("close")),
        Some("1.0C") | Some("1.0c") => (http::Version::HTTP_10, Some("close")),
        Some("1.0K") | Some("1.0k") => (http::Version::HTTP_10, Some("keep-alive")),
        _ => (http::Version::HTTP_10, None),
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

/// What went wrong with one URL.
enum UrlError {
    /// Connection, TLS or protocol failure.
    Io(String),
    Status(u16),
    Digest(String),
}

pub async fn check(s: &CheckSettings, http: &HttpCheck) -> Verdict {
    let name = if http.tls { "SSL" } else { "HTTP" };
    bounded(s.connect_timeout, check_urls(s, http), || {
        format!("Timeout {name} read from server {}.", s.target())
    })
    .await
}

async fn check_urls(s: &CheckSettings, http: &HttpCheck) -> Verdict {
    let target = s.target();
    if http.urls.is_empty() {
        return Verdict::down(format!("{target}: HTTP check with no url."));
    }
    for (i, url) in http.urls.iter().enumerate() {
        let n = i + 1;
        let vhost = url
            .virtualhost
            .as_deref()
            .or(http.virtualhost.as_deref())
            .or(s.virtualhost.as_deref());
        match fetch(s, http, url, vhost).await {
            Ok(()) => {}
            Err(UrlError::Io(e)) => {
                return Verdict::down(format!("Error connecting server {target} url({n}): {e}."))
            }
            Err(UrlError::Status(code)) => {
                return Verdict::down(format!(
                    "HTTP status code error to {target} url({n}), status_code [{code}]."
                ))
            }
            Err(UrlError::Digest(got)) => {
                return Verdict::down(format!(
                    "MD5 digest error to {target} url({n}), expecting {}, got {got}.",
                    url.digest.as_deref().unwrap_or("")
                ))
            }
        }
    }
    Verdict::up(format!(
        "HTTP status code success to {target} url({}).",
        http.urls.len()
    ))
}

async fn fetch(
    s: &CheckSettings,
    http: &HttpCheck,
    url: &UrlCheck,
    vhost: Option<&str>,
) -> Result<(), UrlError> {
    let (version, connection) = protocol(http);
    let mut req = http::Request::builder()
        .method(http::Method::GET)
        .uri(url.path.as_str())
        .version(version)
        .header(http::header::USER_AGENT, USER_AGENT)
        .header(http::header::HOST, host_header(s, http.tls, vhost));
    if let Some(c) = connection {
        req = req.header(http::header::CONNECTION, c);
    }
    let req = req
        .body(Empty::<Bytes>::new())
        .map_err(|e| UrlError::Io(format!("bad request for {:?}: {e}", url.path)))?;
    let tcp = net::tcp_connect(s)
        .await
        .map_err(|e| UrlError::Io(e.to_string()))?;
    // keepalived's own reads are not delayed by Nagle either way; a GET is one write.
    let _ = tcp.set_nodelay(true);
    if !http.tls {
        return exchange(tcp, req, url).await;
    }
    let config = tls_config().map_err(UrlError::Io)?;
    let server_name = match vhost {
        Some(v) if http.enable_sni => ServerName::try_from(v.to_string())
            .map_err(|e| UrlError::Io(format!("bad SNI name {v:?}: {e}")))?,
        _ => ServerName::IpAddress(s.addr.into()),
    };
    let tls = tokio_rustls::TlsConnector::from(config)
        .connect(server_name, tcp)
        .await
        .map_err(|e| UrlError::Io(format!("TLS handshake: {e}")))?;
    exchange(tls, req, url).await
}

/// Sends one request on a fresh connection, reads the whole body (hashing it when a
/// digest is expected), and checks status and digest.
async fn exchange<S>(
    stream: S,
    req: http::Request<Empty<Bytes>>,
    url: &UrlCheck,
) -> Result<(), UrlError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| UrlError::Io(e.to_string()))?;
    let work = async move {
        let resp = sender
            .send_request(req)
            .await
            .map_err(|e| UrlError::Io(e.to_string()))?;
        let status = resp.status().as_u16();
        let mut body = resp.into_body();
        let mut hasher = url.digest.as_ref().map(|_| Md5::new());
        // Read the body to its end even without a digest, as keepalived does: a server
        // that never finishes its reply is not healthy.
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|e| UrlError::Io(format!("reading body: {e}")))?;
            if let (Some(h), Some(data)) = (hasher.as_mut(), frame.data_ref()) {
                h.update(data);
            }
        }
        if !url.accepts(status) {
            return Err(UrlError::Status(status));
        }
        if let (Some(want), Some(h)) = (&url.digest, hasher) {
            let got = hex::encode(h.finalize());
            if !got.eq_ignore_ascii_case(want) {
                return Err(UrlError::Digest(got));
            }
        }
        Ok(())
    };
    let mut conn = std::pin::pin!(conn);
    let mut work = std::pin::pin!(work);
    tokio::select! {
        biased;
        r = &mut work => r,
        c = &mut conn => match c {
            // The connection ended cleanly: the response is complete, finish reading it.
            Ok(()) => work.await,
            Err(e) => Err(UrlError::Io(e.to_string())),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocols() {
        let mut h = HttpCheck {
            tls: false,
            urls: vec![],
            virtualhost: None,
            http_protocol: None,
            enable_sni: false,
        };
        assert_eq!(protocol(&h), (http::Version::HTTP_10, None));
        h.http_protocol = Some("1.1".into());
        assert_eq!(protocol(&h), (http::Version::HTTP_11, Some("close")));
        h.http_protocol = Some("1.0C".into());
        assert_eq!(protocol(&h), (http::Version::HTTP_10, Some("close")));
    }

    #[test]
    fn tls_config_builds() {
        assert!(tls_config().is_ok());
    }
}
