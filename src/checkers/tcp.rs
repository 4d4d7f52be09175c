//! TCP_CHECK: up when a TCP connection to the target completes within connect_timeout.

use super::{bounded, net, CheckSettings, Verdict};

pub async fn check(s: &CheckSettings) -> Verdict {
    let target = s.target();
    bounded(
        s.connect_timeout,
        async {
            match net::tcp_connect(s).await {
                Ok(_stream) => Verdict::up(format!("TCP connection to {target} success.")),
                Err(e) => Verdict::down(format!("TCP connection to {target} failed ({e}).")),
            }
        },
        || format!("TCP connection to {} timeout.", s.target()),
    )
    .await
}
