//! The VRRP runtime: placeholder until the state machine lands.
use crate::daemon::Control;

pub async fn run(mut ctl: Control) -> anyhow::Result<()> {
    let _ = ctl.shutdown.wait_for(|s| *s).await;
    Ok(())
}
