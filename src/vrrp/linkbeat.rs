//! `linkbeat_use_polling` / `linkbeat_interfaces`: the link state of some interfaces read
//! by polling every second (keepalived's POLLING_DELAY) instead of from rtnetlink events.
//! [`polled`] decides which interfaces (pure); [`Prober`] reads one link with
//! ETHTOOL_GLINK or the interface flags (SIOCGIFFLAGS); [`spawn`] polls and reports each
//! change as a [`LinkEvent`], and [`filter`] drops rtnetlink's up/down events of polled
//! interfaces, as keepalived ignores them.

use crate::config::model::LinkbeatKind;
use crate::config::Config;
use crate::vrrp::dump_if::StatusSource;
use crate::vrrp::link::LinkEvent;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;
use tokio::sync::mpsc;

/// keepalived's POLLING_DELAY.
pub const POLL_EVERY: Duration = Duration::from_secs(1);

/// The interfaces to poll, with the method asked for (None: the first that works), in
/// configuration order: `linkbeat_interfaces` entries, then the interfaces of instances
/// with `linkbeat_use_polling` (or all instances' with the top-level keyword). As
/// keepalived, an interface no instance tracks (its own interface, track_interface, a
/// VIP's, a virtual route's or rule's) is not polled.
pub fn polled(config: &Config) -> Vec<(String, Option<LinkbeatKind>)> {
    let g = &config.global;
    let mut out: Vec<(String, Option<LinkbeatKind>)> = g
        .linkbeat_interfaces
        .iter()
        .map(|l| (l.name.clone(), l.kind))
        .collect();
    for i in &config.instances {
        if (g.linkbeat_use_polling || i.linkbeat_use_polling)
            && !out.iter().any(|(n, _)| *n == i.interface)
        {
            out.push((i.interface.clone(), None));
        }
    }
    let tracked = |name: &str| {
        config.instances.iter().any(|i| {
            i.interface == name
                || i.track_interface.iter().any(|t| t.name == name)
                || crate::vrrp::params::address_interfaces(i, None)
                    .iter()
                    .any(|d| d == name)
        })
    };
    out.retain(|(n, _)| {
        let keep = tracked(n);
        if !keep {
            tracing::info!("Turning off linkbeat for {n} since not used for tracking");
        }
        keep
    });
    out
}

/// Reads links with ioctls on one datagram socket.
pub struct Prober {
    fd: OwnedFd,
}

const ETHTOOL_GLINK: u32 = 0x0000_000a;

#[repr(C)]
struct EthtoolValue {
    cmd: u32,
    data: u32,
}

fn ifreq(name: &str) -> Option<libc::ifreq> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes.len() >= libc::IFNAMSIZ || bytes.contains(&0) {
        return None;
    }
    // SAFETY: ifreq is plain old data; all zeroes is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (d, s) in req.ifr_name.iter_mut().zip(bytes) {
        *d = *s as libc::c_char;
    }
    Some(req)
}

impl Prober {
    pub fn new() -> std::io::Result<Prober> {
        let fd = nix::sys::socket::socket(
            nix::sys::socket::AddressFamily::Inet,
            nix::sys::socket::SockType::Datagram,
            nix::sys::socket::SockFlag::SOCK_CLOEXEC,
            None,
        )?;
        Ok(Prober { fd })
    }

    /// IFF_UP and IFF_RUNNING both set (None: no such interface, or the ioctl failed).
    fn flags_up(&self, name: &str) -> Option<bool> {
        let mut req = ifreq(name)?;
        // SAFETY: SIOCGIFFLAGS reads the name and writes ifru_flags of `req`.
        let r = unsafe { libc::ioctl(self.fd.as_raw_fd(), libc::SIOCGIFFLAGS, &mut req) };
        if r < 0 {
            return None;
        }
        // SAFETY: the kernel filled ifru_flags.
        let flags = i32::from(unsafe { req.ifr_ifru.ifru_flags });
        let want = libc::IFF_UP | libc::IFF_RUNNING;
        Some(flags & want == want)
    }

    /// ETHTOOL_GLINK: the driver's link state (None: not supported).
    fn ethtool_link(&self, name: &str) -> Option<bool> {
        let mut req = ifreq(name)?;
        let mut val = EthtoolValue {
            cmd: ETHTOOL_GLINK,
            data: 0,
        };
        req.ifr_ifru.ifru_data = (&mut val as *mut EthtoolValue).cast();
        // SAFETY: SIOCETHTOOL with ETHTOOL_GLINK writes one ethtool_value through
        // ifru_data, which points at `val`, alive for the call.
        let r = unsafe { libc::ioctl(self.fd.as_raw_fd(), libc::SIOCETHTOOL, &mut req) };
        (r >= 0).then_some(val.data != 0)
    }

    /// The method that works on `name` for the kind asked (MII is not probed by lvsd: it
    /// falls back to ETHTOOL, then to the flags, as keepalived falls back).
    pub fn method(&self, name: &str, kind: Option<LinkbeatKind>) -> StatusSource {
        match kind {
            Some(LinkbeatKind::Ioctl) => StatusSource::Ioctl,
            _ if self.ethtool_link(name).is_some() => StatusSource::Ethtool,
            _ => StatusSource::Ioctl,
        }
    }

    /// Whether the link is up by `method` (then also IFF_UP and IFF_RUNNING, as
    /// keepalived checks the flags after the driver said up); a missing interface is down.
    pub fn up(&self, name: &str, method: StatusSource) -> bool {
        let link = match method {
            StatusSource::Ethtool => self.ethtool_link(name).unwrap_or(false),
            _ => true,
        };
        link && self.flags_up(name).unwrap_or(false)
    }
}

/// Polls each of `ifs` every [`POLL_EVERY`]; sends its state first, then each change
/// (logged "Linkbeat reports IF up|down", as keepalived).
pub fn spawn(
    prober: Prober,
    ifs: Vec<(String, StatusSource)>,
    tx: mpsc::UnboundedSender<LinkEvent>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut last: Vec<Option<bool>> = vec![None; ifs.len()];
        let mut tick = tokio::time::interval(POLL_EVERY);
        loop {
            tick.tick().await;
            for ((name, method), was) in ifs.iter().zip(last.iter_mut()) {
                let up = prober.up(name, *method);
                if *was == Some(up) {
                    continue;
                }
                if was.is_some() {
                    tracing::info!("Linkbeat reports {name} {}", if up { "up" } else { "down" });
                }
                *was = Some(up);
                let ev = LinkEvent {
                    index: 0,
                    name: name.clone(),
                    up,
                    gone: false,
                    addr: None,
                    rp_filter: None,
                };
                if tx.send(ev).is_err() {
                    return;
                }
            }
        }
    })
}

/// Whether an rtnetlink event is to be dropped: an up/down report of a polled interface
/// (addresses and deletions still count).
pub fn filter(ev: &LinkEvent, polled: &[(String, StatusSource)]) -> bool {
    ev.addr.is_none() && !ev.gone && polled.iter().any(|(n, _)| *n == ev.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Config {
        crate::config::parse_str(text, std::path::Path::new("/k.conf"), "t")
            .expect("config")
            .config
    }

    const INSTANCES: &str = "vrrp_instance A {
 interface eth0
 virtual_router_id 1
 track_interface { eth1 }
 virtual_ipaddress {
  10.0.0.1/24
  10.1.0.1/24 dev eth2
 }
}
vrrp_instance B {
 interface eth3
 virtual_router_id 2
 virtual_ipaddress { 10.0.3.1/24 }
}
";

    #[test]
    fn the_interfaces_keepalived_polls() {
        let c = config(&format!(
            "linkbeat_interfaces {{\n eth1 IOCTL\n eth2\n eth9 ETHTOOL\n}}\n{INSTANCES}"
        ));
        // eth9: no instance tracks it.
        assert_eq!(
            polled(&c),
            [
                ("eth1".to_string(), Some(LinkbeatKind::Ioctl)),
                ("eth2".to_string(), None)
            ]
        );
        let c = config(&format!("linkbeat_use_polling\n{INSTANCES}"));
        let names: Vec<String> = polled(&c).into_iter().map(|(n, _)| n).collect();
        assert_eq!(names, ["eth0", "eth3"]);
        assert!(polled(&config(INSTANCES)).is_empty());
    }

    #[test]
    fn netlink_up_down_of_polled_links_is_dropped() {
        let polled = [("eth0".to_string(), StatusSource::Ioctl)];
        let ev = |name: &str, gone: bool, addr: bool| LinkEvent {
            index: 2,
            name: name.into(),
            up: true,
            gone,
            addr: addr.then(|| ("10.0.0.1".parse().expect("ip"), true)),
            rp_filter: None,
        };
        assert!(filter(&ev("eth0", false, false), &polled));
        assert!(!filter(&ev("eth0", true, false), &polled));
        assert!(!filter(&ev("eth0", false, true), &polled));
        assert!(!filter(&ev("eth1", false, false), &polled));
    }

    #[test]
    fn loopback_is_up_by_its_flags_and_a_missing_link_is_down() {
        let p = Prober::new().expect("socket");
        assert!(p.up("lo", StatusSource::Ioctl));
        assert!(!p.up("nosuchif0", StatusSource::Ioctl));
        assert!(ifreq("a-name-longer-than-ifnamsiz").is_none());
    }
}
