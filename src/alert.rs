//! Email alerts (`smtp_alert`): sent in order by one background task, so that a slow or
//! dead SMTP server delays only other mail, never VRRP or the checkers.

use crate::config::GlobalDefs;
use lettre::message::Mailbox;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// One mail to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub subject: String,
    pub body: String,
}

/// Counters of the mail queue.
#[derive(Debug, Default)]
pub struct MailStats {
    pub sent: AtomicU64,
    pub failed: AtomicU64,
    /// Dropped because the queue was full.
    pub dropped: AtomicU64,
}

/// Where alerts go, from `global_defs`.
#[derive(Debug, Clone)]
pub struct MailSettings {
    pub host: String,
    pub port: u16,
    pub from: String,
    pub to: Vec<String>,
    pub timeout: Duration,
    /// `router_id`, else the hostname: the `[…]` at the start of every subject.
    pub router_id: String,
    /// What the SMTP greeting names this host: `smtp_helo_name`, else the hostname.
    pub helo_name: String,
}

impl MailSettings {
    /// None when no SMTP server or no recipient is configured.
    pub fn from_global(global: &GlobalDefs) -> Option<MailSettings> {
        let server = global.smtp_server.as_ref()?;
        if global.notification_email.is_empty() {
            return None;
        }
        Some(MailSettings {
            host: server.host.clone(),
            port: server.port,
            from: email_from(global).unwrap_or_else(|| format!("keepalived@{}", hostname())),
            to: global.notification_email.clone(),
            timeout: global.smtp_connect_timeout,
            router_id: global.router_id.clone().unwrap_or_else(hostname),
            helo_name: helo_name(global).unwrap_or_else(hostname),
        })
    }
}

/// The sender of alerts: `notification_email_from`, else (with an smtp_server)
/// keepalived's default `USER@LOCAL_NAME`, the user lvsd runs as.
pub fn email_from(global: &GlobalDefs) -> Option<String> {
    if let Some(from) = &global.notification_email_from {
        return Some(from.clone());
    }
    global.smtp_server.as_ref()?;
    let name = known_local_name()?;
    let user = crate::nss::user_name(nix::unistd::getuid().as_raw())?;
    Some(format!("{user}@{name}"))
}

/// The name the SMTP greeting gives: `smtp_helo_name`, else (with an smtp_server)
/// keepalived's local name.
pub fn helo_name(global: &GlobalDefs) -> Option<String> {
    if let Some(h) = &global.smtp_helo_name {
        return Some(h.clone());
    }
    global.smtp_server.as_ref()?;
    known_local_name()
}

/// The local name, unless the host has none (keepalived then sets no default sender or
/// HELO name).
fn known_local_name() -> Option<String> {
    Some(crate::nss::local_name()).filter(|n| n != crate::nss::UNKNOWN_NAME)
}

/// The machine's hostname (keepalived's default router_id).
pub fn hostname() -> String {
    nix::unistd::gethostname()
        .ok()
        .and_then(|h| h.into_string().ok())
        .unwrap_or_else(|| "localhost".to_string())
}

/// Subject of a VRRP state change, as keepalived writes it.
pub fn vrrp_subject(router_id: &str, instance: &str, state: &str) -> String {
    format!("[{router_id}] VRRP Instance {instance} - Entering {state} state")
}

/// Subject of a VRRP sync group state change.
pub fn sync_group_subject(router_id: &str, group: &str, state: &str) -> String {
    format!("[{router_id}] VRRP Group {group} - Entering {state} state")
}

/// Subject of a real server going up or down, as keepalived writes it
/// (`[lvs1] Realserver [10.0.0.2]:tcp:80 - DOWN`).
pub fn realserver_subject(router_id: &str, rs: &str, up: bool) -> String {
    format!(
        "[{router_id}] Realserver {rs} - {}",
        if up { "UP" } else { "DOWN" }
    )
}

/// A handle that queues alerts; cheap to clone. Sending never waits.
#[derive(Clone)]
pub struct Mailer {
    queue: mpsc::Sender<Alert>,
    pub stats: Arc<MailStats>,
}

/// Mail waiting beyond this is dropped (and counted): a dead server must not eat memory.
const QUEUE_DEPTH: usize = 256;

impl Mailer {
    /// Starts the sending task on the current tokio runtime.
    pub fn start(settings: MailSettings) -> Mailer {
        let (tx, mut rx) = mpsc::channel::<Alert>(QUEUE_DEPTH);
        let stats = Arc::new(MailStats::default());
        let task_stats = stats.clone();
        tokio::spawn(async move {
            let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
                .port(settings.port)
                .timeout(Some(settings.timeout))
                .hello_name(lettre::transport::smtp::extension::ClientId::Domain(
                    settings.helo_name.clone(),
                ))
                .build();
            // A static build must not look a host name up through an NSS module (it
            // would crash: see crate::nss).
            let unresolvable = settings.host.parse::<std::net::IpAddr>().is_err()
                && !crate::nss::host_lookup_safe();
            while let Some(alert) = rx.recv().await {
                // lettre's own timeout does not cover a server that accepts and then
                // never greets: bound the whole exchange.
                let whole = settings.timeout.saturating_mul(2);
                let result = if unresolvable {
                    Err(anyhow::anyhow!(
                        "this static build of lvsd looks host names up only when \
                         nsswitch.conf's hosts line names files and dns alone; give \
                         smtp_server an address"
                    ))
                } else {
                    match tokio::time::timeout(whole, send_one(&transport, &settings, &alert)).await
                    {
                        Ok(r) => r,
                        Err(_) => Err(anyhow::anyhow!("no answer within {whole:?}")),
                    }
                };
                match result {
                    Ok(()) => {
                        task_stats.sent.fetch_add(1, Ordering::Relaxed);
                        tracing::info!("SMTP alert sent: {}", alert.subject);
                    }
                    Err(e) => {
                        task_stats.failed.fetch_add(1, Ordering::Relaxed);
                        tracing::warn!(
                            "SMTP alert to {}:{} failed: {e} ({})",
                            settings.host,
                            settings.port,
                            alert.subject
                        );
                    }
                }
            }
        });
        Mailer { queue: tx, stats }
    }

    /// Queues a mail; returns at once.
    pub fn send(&self, alert: Alert) {
        if self.queue.try_send(alert).is_err() {
            self.stats.dropped.fetch_add(1, Ordering::Relaxed);
            tracing::warn!("SMTP alert queue full or closed: alert dropped");
        }
    }
}

async fn send_one(
    transport: &AsyncSmtpTransport<Tokio1Executor>,
    settings: &MailSettings,
    alert: &Alert,
) -> anyhow::Result<()> {
    let from: Mailbox = settings.from.parse()?;
    let mut builder = Message::builder().from(from).subject(alert.subject.clone());
    for to in &settings.to {
        builder = builder.to(to.parse()?);
    }
    let message = builder.body(alert.body.clone())?;
    transport.send(message).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_match_keepalived() {
        assert_eq!(
            vrrp_subject("lvs1", "VI_1", "MASTER"),
            "[lvs1] VRRP Instance VI_1 - Entering MASTER state"
        );
        assert_eq!(
            realserver_subject("lvs1", "[10.0.0.2]:tcp:80", false),
            "[lvs1] Realserver [10.0.0.2]:tcp:80 - DOWN"
        );
    }

    #[tokio::test]
    async fn unreachable_server_never_blocks_send() {
        // A listener that accepts and never answers: the worst kind of SMTP server.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let _hold = tokio::spawn(async move {
            let mut conns = Vec::new();
            while let Ok((c, _)) = listener.accept().await {
                conns.push(c);
            }
        });
        let mailer = Mailer::start(MailSettings {
            host: "127.0.0.1".into(),
            port,
            from: "lvsd@example.test".into(),
            to: vec!["ops@example.test".into()],
            timeout: Duration::from_millis(300),
            router_id: "t".into(),
            helo_name: "t".into(),
        });
        let start = std::time::Instant::now();
        for i in 0..1000 {
            mailer.send(Alert {
                subject: format!("s{i}"),
                body: String::new(),
            });
        }
        assert!(
            start.elapsed() < Duration::from_millis(100),
            "send() must not wait"
        );
        // The queue is bounded: most of the 1000 were dropped and counted.
        assert!(mailer.stats.dropped.load(Ordering::Relaxed) >= 1000 - QUEUE_DEPTH as u64 - 1);
        // The silent server makes the first mail fail by its timeout, not hang the queue.
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while mailer.stats.failed.load(Ordering::Relaxed) < 2
            && std::time::Instant::now() < deadline
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(mailer.stats.failed.load(Ordering::Relaxed) >= 2);
        assert_eq!(mailer.stats.sent.load(Ordering::Relaxed), 0);
    }
}
