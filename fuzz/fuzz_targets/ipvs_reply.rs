//! What the IPVS client does with a datagram from the kernel: split it into netlink
//! messages, classify each (ACK, error, DONE, generic netlink), parse the attributes of
//! generic replies by their command (service, destination, sync daemon, timeouts, info),
//! then render what parsed as `lvsd-ipvs`/`ipvsadm -Ln` would list it.

#![no_main]

use libfuzzer_sys::fuzz_target;
use lvsd::ipvs::codec::{self, cmd, Reply};
use lvsd::ipvs::listing::{self, ListMode};
use lvsd::ipvs::types::{Family, Info, ServiceState};

fuzz_target!(|data: &[u8]| {
    let Ok(msgs) = codec::split_messages(data) else {
        return;
    };
    let mut info = Info {
        version: 0,
        conn_tab_size: 0,
    };
    let mut table: Vec<ServiceState> = Vec::new();
    for m in &msgs {
        let Ok(Reply::Genl { cmd: c, attrs, .. }) = codec::classify(m) else {
            continue;
        };
        match c {
            cmd::NEW_SERVICE | cmd::GET_SERVICE => {
                if let Ok((service, stats)) = codec::parse_service(attrs) {
                    table.push(ServiceState {
                        service,
                        stats,
                        dests: Vec::new(),
                    });
                }
            }
            cmd::NEW_DEST | cmd::GET_DEST => {
                // A destination dump follows its service's entry.
                let family = table.last().map_or(Family::V4, |s| s.service.key.family());
                if let Ok(d) = codec::parse_dest(attrs, family) {
                    if let Some(s) = table.last_mut() {
                        s.dests.push(d);
                    }
                }
            }
            cmd::NEW_DAEMON | cmd::GET_DAEMON => {
                let _ = codec::parse_daemon(attrs);
            }
            cmd::GET_CONFIG | cmd::SET_CONFIG => {
                let _ = codec::parse_config(attrs);
            }
            cmd::GET_INFO | cmd::SET_INFO => {
                if let Ok(i) = codec::parse_info(attrs) {
                    let _ = i.version_string();
                    info = i;
                }
            }
            _ => {}
        }
    }
    for mode in [ListMode::Plain, ListMode::Stats, ListMode::Rate] {
        let _ = listing::render(&info, &table, mode, None);
    }
});
