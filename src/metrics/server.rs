//! A minimal HTTP/1.x server for the scrape: answers `GET /metrics` (and `HEAD`) with the
//! exposition text, anything else with 404 or 405, one request per connection. A request
//! head longer than [`MAX_HEAD`] or slower than [`READ_LIMIT`] closes the connection.

use super::config_status::{self, SharedStatus};
use crate::cli::Options;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

/// The longest request head read.
pub const MAX_HEAD: usize = 8 * 1024;
/// How long a client gets to send its request head.
pub const READ_LIMIT: Duration = Duration::from_secs(10);

pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A listening endpoint; dropping it stops listening.
pub struct Server {
    addr: SocketAddr,
    task: JoinHandle<()>,
}

impl Server {
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Binds `addr` and serves the scrape on the current runtime; `status`: the
/// configuration's hash and reloads, kept by the daemon.
pub async fn start(
    addr: SocketAddr,
    opts: Arc<Options>,
    status: SharedStatus,
) -> std::io::Result<Server> {
    let listener = TcpListener::bind(addr).await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(accept_loop(listener, opts, status));
    Ok(Server { addr, task })
}

/// The daemon's endpoint when `--metrics-listen` is given; a failure is logged and the
/// daemon runs without it.
pub async fn start_for_daemon(opts: Arc<Options>, status: SharedStatus) -> Option<Server> {
    let addr = opts.metrics_listen?;
    match start(addr, opts, status).await {
        Ok(s) => {
            info!("Prometheus metrics on http://{}/metrics", s.local_addr());
            Some(s)
        }
        Err(e) => {
            tracing::error!("No metrics endpoint: cannot listen on {addr}: {e}");
            None
        }
    }
}

async fn accept_loop(listener: TcpListener, opts: Arc<Options>, status: SharedStatus) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let opts = opts.clone();
                let status = status.clone();
                tokio::spawn(async move {
                    if let Err(e) = serve_conn(stream, &opts, &status).await {
                        debug!("Metrics connection from {peer} ended: {e}");
                    }
                });
            }
            Err(e) => {
                warn!("Metrics endpoint: cannot accept a connection: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Reads up to the end of the request head; None if the client went away, was too slow
/// or sent too much.
async fn read_head(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let mut buf = Vec::with_capacity(1024);
    let read = async {
        let mut chunk = [0u8; 1024];
        loop {
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
            if buf.windows(4).any(|w| w == b"\r\n\r\n") || buf.windows(2).any(|w| w == b"\n\n") {
                return Some(());
            }
            if buf.len() > MAX_HEAD {
                return None;
            }
        }
    };
    tokio::time::timeout(READ_LIMIT, read).await.ok()??;
    Some(buf)
}

/// What to answer to a request line: (status, whether to send the metrics).
pub fn route(request_line: &str) -> (&'static str, bool, bool) {
    let mut w = request_line.split_ascii_whitespace();
    let (Some(method), Some(target)) = (w.next(), w.next()) else {
        return ("400 Bad Request", false, true);
    };
    let path = target.split('?').next().unwrap_or("");
    let head = method == "HEAD";
    if path != "/metrics" {
        return ("404 Not Found", false, !head);
    }
    if method != "GET" && !head {
        return ("405 Method Not Allowed", false, true);
    }
    ("200 OK", true, !head)
}

async fn serve_conn(
    mut stream: TcpStream,
    opts: &Options,
    shared: &SharedStatus,
) -> std::io::Result<()> {
    let Some(head) = read_head(&mut stream).await else {
        return Ok(());
    };
    let text = String::from_utf8_lossy(&head);
    let line = text.lines().next().unwrap_or("");
    let (status, metrics, send_body) = route(line);
    let (ctype, body) = if metrics {
        let state = crate::ctl::server::state_of(opts).await;
        let config = config_status::snapshot(shared);
        (CONTENT_TYPE, super::render(&state, Some(&config)))
    } else {
        ("text/plain; charset=utf-8", format!("{status}\n"))
    };
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    if status.starts_with("405") {
        out.push_str("Allow: GET, HEAD\r\n");
    }
    out.push_str("\r\n");
    if send_body {
        out.push_str(&body);
    }
    stream.write_all(out.as_bytes()).await?;
    stream.shutdown().await
}

#[cfg(test)]
mod tests {
    use super::route;

    #[test]
    fn routes() {
        assert_eq!(route("GET /metrics HTTP/1.1"), ("200 OK", true, true));
        assert_eq!(route("GET /metrics?x=1 HTTP/1.0"), ("200 OK", true, true));
        assert_eq!(route("HEAD /metrics HTTP/1.1"), ("200 OK", true, false));
        assert_eq!(route("GET / HTTP/1.1").0, "404 Not Found");
        assert_eq!(route("POST /metrics HTTP/1.1").0, "405 Method Not Allowed");
        assert_eq!(route("").0, "400 Bad Request");
    }
}
