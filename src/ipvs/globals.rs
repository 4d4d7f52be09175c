//! IPVS settings outside the table, from `global_defs`: `lvs_timeouts` and
//! `lvs_sync_daemon`. Pure: the runtime hands the values to an [`IpvsGlobals`].
//!
//! [`IpvsGlobals`]: crate::ipvs::IpvsGlobals

use crate::config::Config;
use crate::ipvs::{SyncDaemon, SyncState, Timeouts};

/// The timeouts to set, None when `lvs_timeouts` is absent or sets nothing.
pub fn timeouts(config: &Config) -> Option<Timeouts> {
    let t = config.global.lvs_timeouts.as_ref()?;
    let v = Timeouts {
        tcp: t.tcp.unwrap_or(0),
        tcp_fin: t.tcpfin.unwrap_or(0),
        udp: t.udp.unwrap_or(0),
    };
    (v != Timeouts::default()).then_some(v)
}

/// The sync daemon for `lvs_sync_daemon`, in the given role. Its sync id defaults, as in
/// keepalived, to the virtual router id of the VRRP instance it names (0 if unknown).
pub fn sync_daemon(config: &Config, state: SyncState) -> Option<SyncDaemon> {
    let d = config.global.lvs_sync_daemon.as_ref()?;
    let vrid = config
        .instances
        .iter()
        .find(|i| i.name == d.instance)
        .map(|i| u32::from(i.virtual_router_id))
        .unwrap_or(0);
    Some(SyncDaemon {
        state,
        interface: d.interface.clone(),
        sync_id: d.sync_id.unwrap_or(vrid),
        maxlen: d.maxlen,
        port: d.port,
        ttl: d.ttl,
        group: d.group,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{LvsSyncDaemon, LvsTimeouts};

    #[test]
    fn timeouts_from_global_defs() {
        let mut c = Config::default();
        assert_eq!(timeouts(&c), None);
        c.global.lvs_timeouts = Some(LvsTimeouts::default());
        assert_eq!(timeouts(&c), None);
        c.global.lvs_timeouts = Some(LvsTimeouts {
            tcp: Some(7200),
            tcpfin: None,
            udp: Some(60),
        });
        assert_eq!(
            timeouts(&c),
            Some(Timeouts {
                tcp: 7200,
                tcp_fin: 0,
                udp: 60
            })
        );
    }

    #[test]
    fn sync_daemon_from_global_defs() {
        let mut c = Config::default();
        assert_eq!(sync_daemon(&c, SyncState::Backup), None);
        c.global.lvs_sync_daemon = Some(LvsSyncDaemon {
            interface: "eth1".into(),
            instance: "VI_1".into(),
            sync_id: None,
            maxlen: Some(1400),
            port: None,
            ttl: None,
            group: None,
        });
        let d = sync_daemon(&c, SyncState::Master).unwrap();
        assert_eq!(
            (d.state, d.interface.as_str(), d.sync_id, d.maxlen),
            (SyncState::Master, "eth1", 0, Some(1400))
        );
        if let Some(s) = c.global.lvs_sync_daemon.as_mut() {
            s.sync_id = Some(42);
        }
        assert_eq!(sync_daemon(&c, SyncState::Backup).unwrap().sync_id, 42);
    }
}
