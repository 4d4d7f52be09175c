//! Interfaces as the kernel reports them over rtnetlink: index, MAC, primary IPv4 address,
//! IPv6 link-local address, and whether the link is up (IFF_UP and IFF_RUNNING, as
//! keepalived decides). `LinkWatch` follows RTNLGRP_LINK and reports each change.

use crate::config::model::RcvBuf;
use futures::stream::TryStreamExt;
use futures::StreamExt;
use netlink_packet_route::address::{AddressAttribute, AddressHeaderFlags, AddressMessage};
use netlink_packet_route::link::{
    AfSpecInet, AfSpecUnspec, InfoData, InfoMacVlan, LinkAttribute, LinkFlags, LinkInfo,
    LinkMessage, MacVlanMode,
};
use netlink_packet_route::RouteNetlinkMessage;
use rtnetlink::sys::AsyncSocket;
use rtnetlink::{Handle, MulticastGroup};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use thiserror::Error;
use tokio::sync::mpsc;

use super::dump_if::{Ipv4Conf, LinkSnapshot, SnapAddr};
use super::garp::Mac;

#[derive(Debug, Error)]
pub enum LinkError {
    #[error("cannot open an rtnetlink socket: {0}")]
    Socket(std::io::Error),
    #[error("interface {0}: not found")]
    NoSuchInterface(String),
    #[error("rtnetlink: {0}")]
    Netlink(#[from] rtnetlink::Error),
}

/// One rtnetlink connection (its reader runs as a tokio task).
#[derive(Clone)]
pub struct Netlink {
    handle: Handle,
}

/// What lvsd needs to know about an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IfaceInfo {
    pub index: u32,
    pub name: String,
    pub mac: Option<Mac>,
    pub up: bool,
    /// The link's MTU (0 if the kernel did not say).
    pub mtu: u32,
    /// The first non-secondary IPv4 address.
    pub ipv4: Option<Ipv4Addr>,
    /// Every non-secondary IPv4 address, in the kernel's order (a VIP in a subnet of its
    /// own is not secondary either: see [`IfaceInfo::primary_v4`]).
    pub ipv4_primaries: Vec<Ipv4Addr>,
    /// The first fe80::/10 address.
    pub ipv6_ll: Option<Ipv6Addr>,
    /// Every address on the interface, secondaries too.
    pub addrs: Vec<IpAddr>,
}

impl IfaceInfo {
    /// The interface's own primary IPv4 address: the first non-secondary one that is not
    /// one of `vips` (a VIP we added must never become the advert source).
    pub fn primary_v4(&self, vips: &[IpAddr]) -> Option<Ipv4Addr> {
        self.ipv4_primaries
            .iter()
            .copied()
            .find(|a| !vips.contains(&IpAddr::V4(*a)))
    }
}

/// Whether an rtnetlink link message says the link is usable.
pub fn link_is_up(flags: LinkFlags) -> bool {
    flags.contains(LinkFlags::Up) && flags.contains(LinkFlags::Running)
}

fn link_name(msg: &LinkMessage) -> Option<String> {
    msg.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(n) => Some(n.clone()),
        _ => None,
    })
}

fn link_mac(msg: &LinkMessage) -> Option<Mac> {
    msg.attributes.iter().find_map(|a| match a {
        LinkAttribute::Address(b) => <Mac>::try_from(b.as_slice()).ok(),
        _ => None,
    })
}

/// An address added (`added`) or removed on an interface, as a [`LinkEvent`].
fn address_event(m: &AddressMessage, added: bool) -> Option<LinkEvent> {
    Some(LinkEvent {
        index: m.header.index,
        name: String::new(),
        up: false,
        gone: false,
        addr: Some((msg_addr(m)?, added)),
        rp_filter: None,
    })
}

fn msg_addr(m: &AddressMessage) -> Option<IpAddr> {
    // IFA_LOCAL is the interface's own address on point-to-point links; prefer it.
    let local = m.attributes.iter().find_map(|a| match a {
        AddressAttribute::Local(ip) => Some(*ip),
        _ => None,
    });
    local.or_else(|| {
        m.attributes.iter().find_map(|a| match a {
            AddressAttribute::Address(ip) => Some(*ip),
            _ => None,
        })
    })
}

pub fn is_link_local(ip: &Ipv6Addr) -> bool {
    ip.segments()[0] & 0xffc0 == 0xfe80
}

impl Netlink {
    /// Opens a connection; must run inside a tokio runtime.
    /// `buf`: `vrrp_netlink_cmd_rcv_bufs[_force]`.
    pub fn connect(buf: RcvBuf) -> Result<Netlink, LinkError> {
        let (mut conn, handle, _) = rtnetlink::new_connection().map_err(LinkError::Socket)?;
        crate::sockbuf::apply(conn.socket_mut().socket_ref(), "VRRP netlink", buf)
            .map_err(LinkError::Socket)?;
        tokio::spawn(conn);
        Ok(Netlink { handle })
    }

    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    /// The addresses on the interface `index`, each with its prefix length.
    pub async fn prefixed_addrs(&self, index: u32) -> Result<Vec<(IpAddr, u8)>, LinkError> {
        Ok(self
            .link_addr_msgs(index)
            .await?
            .iter()
            .filter_map(|m| msg_addr(m).map(|a| (a, m.header.prefix_len)))
            .collect())
    }

    /// The kernel's address messages for interface `index` (the dump filtered to it: the
    /// kernel may answer with other links' addresses too).
    async fn link_addr_msgs(&self, index: u32) -> Result<Vec<AddressMessage>, LinkError> {
        let mut out = Vec::new();
        let mut addrs = self
            .handle
            .address()
            .get()
            .set_link_index_filter(index)
            .execute();
        while let Some(m) = addrs.try_next().await? {
            if m.header.index == index {
                out.push(m);
            }
        }
        Ok(out)
    }

    /// The name and MAC address of interface `index`.
    pub async fn name_and_mac(&self, index: u32) -> Result<(String, Option<Mac>), LinkError> {
        let mut links = self.handle.link().get().match_index(index).execute();
        let gone = || LinkError::NoSuchInterface(format!("(index {index})"));
        match links.try_next().await {
            Ok(Some(l)) => Ok((
                link_name(&l).unwrap_or_else(|| index.to_string()),
                link_mac(&l),
            )),
            Ok(None) => Err(gone()),
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -libc::ENODEV => Err(gone()),
            Err(e) => Err(e.into()),
        }
    }

    /// Looks an interface up by name.
    pub async fn interface(&self, name: &str) -> Result<IfaceInfo, LinkError> {
        let mut links = self
            .handle
            .link()
            .get()
            .match_name(name.to_string())
            .execute();
        let link = match links.try_next().await {
            Ok(Some(l)) => l,
            Ok(None) => return Err(LinkError::NoSuchInterface(name.to_string())),
            Err(rtnetlink::Error::NetlinkError(e)) if e.raw_code() == -libc::ENODEV => {
                return Err(LinkError::NoSuchInterface(name.to_string()))
            }
            Err(e) => return Err(e.into()),
        };
        let index = link.header.index;
        let mut info = IfaceInfo {
            index,
            name: link_name(&link).unwrap_or_else(|| name.to_string()),
            mac: link_mac(&link),
            up: link_is_up(link.header.flags),
            mtu: link
                .attributes
                .iter()
                .find_map(|a| match a {
                    LinkAttribute::Mtu(m) => Some(*m),
                    _ => None,
                })
                .unwrap_or(0),
            ipv4: None,
            ipv4_primaries: Vec::new(),
            ipv6_ll: None,
            addrs: Vec::new(),
        };
        for m in self.link_addr_msgs(index).await? {
            info.addrs.extend(msg_addr(&m));
            match msg_addr(&m) {
                Some(IpAddr::V4(a)) if !m.header.flags.contains(AddressHeaderFlags::Secondary) => {
                    info.ipv4.get_or_insert(a);
                    info.ipv4_primaries.push(a);
                }
                Some(IpAddr::V6(a)) if info.ipv6_ll.is_none() && is_link_local(&a) => {
                    info.ipv6_ll = Some(a)
                }
                _ => {}
            }
        }
        Ok(info)
    }

    /// Every link of the namespace with its addresses, in index order.
    pub async fn snapshot(&self) -> Result<Vec<LinkSnapshot>, LinkError> {
        let mut out = Vec::new();
        let mut links = self.handle.link().get().execute();
        while let Some(l) = links.try_next().await? {
            let mut snap = LinkSnapshot {
                index: l.header.index,
                name: link_name(&l).unwrap_or_default(),
                flags: l.header.flags.bits(),
                hw_type: u16::from(l.header.link_layer_type),
                ..LinkSnapshot::default()
            };
            for a in &l.attributes {
                match a {
                    LinkAttribute::Mtu(m) => snap.mtu = *m,
                    LinkAttribute::Address(b) => snap.hw_addr = b.clone(),
                    LinkAttribute::Broadcast(b) => snap.hw_broadcast = b.clone(),
                    LinkAttribute::Link(parent) => snap.parent = Some(*parent),
                    LinkAttribute::LinkInfo(infos) => {
                        snap.has_kind = infos.iter().any(|i| matches!(i, LinkInfo::Kind(_)));
                        snap.macvlan_mode = macvlan_mode(infos);
                    }
                    LinkAttribute::AfSpecUnspec(specs) => snap.ipv4_conf = ipv4_conf(specs),
                    _ => {}
                }
            }
            out.push(snap);
        }
        out.sort_by_key(|l| l.index);
        let mut addrs = self.handle.address().get().execute();
        while let Some(m) = addrs.try_next().await? {
            let Some(ip) = msg_addr(&m) else { continue };
            if let Some(l) = out.iter_mut().find(|l| l.index == m.header.index) {
                l.addrs.push(SnapAddr {
                    ip,
                    scope: u8::from(m.header.scope),
                });
            }
        }
        Ok(out)
    }
}

/// A macvlan's mode, as keepalived names it (None: not a macvlan).
fn macvlan_mode(infos: &[LinkInfo]) -> Option<&'static str> {
    infos.iter().find_map(|i| match i {
        LinkInfo::Data(InfoData::MacVlan(data)) => Some(
            data.iter()
                .find_map(|d| match d {
                    InfoMacVlan::Mode(MacVlanMode::Private) => Some("private"),
                    InfoMacVlan::Mode(MacVlanMode::Vepa) => Some("vepa"),
                    InfoMacVlan::Mode(MacVlanMode::Bridge) => Some("bridge"),
                    InfoMacVlan::Mode(MacVlanMode::Passthrough) => Some("passthru"),
                    InfoMacVlan::Mode(MacVlanMode::Source) => Some("source"),
                    InfoMacVlan::Mode(_) => Some("unknown"),
                    _ => None,
                })
                .unwrap_or("unknown"),
        ),
        _ => None,
    })
}

/// The link's IPv4 settings keepalived shows (IFLA_AF_SPEC, AF_INET's IFLA_INET_CONF).
fn ipv4_conf(specs: &[AfSpecUnspec]) -> Option<Ipv4Conf> {
    specs.iter().find_map(|s| match s {
        AfSpecUnspec::Inet(inet) => inet.iter().find_map(|i| match i {
            AfSpecInet::DevConf(c) => Some(Ipv4Conf {
                arp_ignore: c.arp_ignore,
                arp_filter: c.arpfilter,
                rp_filter: c.rp_filter,
                promote_secondaries: c.promote_secondaries,
            }),
            _ => None,
        }),
        _ => None,
    })
}

/// A change of one link, as RTNLGRP_LINK reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkEvent {
    pub index: u32,
    pub name: String,
    pub up: bool,
    /// The link was deleted.
    pub gone: bool,
    /// An address added (true) or deleted (false) on the link; `name` is then empty and
    /// `up`, `gone` say nothing.
    pub addr: Option<(IpAddr, bool)>,
    /// The link's rp_filter as the message gives it (IFLA_AF_SPEC), if it does.
    pub rp_filter: Option<i32>,
}

/// Subscribes to rtnetlink's `groups` (`what`: the monitor's name in messages, `buf`: its
/// receive buffer); each message that `pick` keeps arrives on the returned receiver
/// until it is dropped.
fn watch<T: Send + 'static>(
    groups: &[MulticastGroup],
    what: &str,
    buf: RcvBuf,
    pick: impl Fn(RouteNetlinkMessage) -> Option<T> + Send + 'static,
) -> Result<mpsc::UnboundedReceiver<T>, LinkError> {
    let (mut conn, _handle, mut messages) =
        rtnetlink::new_multicast_connection(groups).map_err(LinkError::Socket)?;
    crate::sockbuf::apply(conn.socket_mut().socket_ref(), what, buf).map_err(LinkError::Socket)?;
    let (tx, rx) = mpsc::unbounded_channel();
    let conn_task = tokio::spawn(conn);
    tokio::spawn(async move {
        while let Some((msg, _)) = messages.next().await {
            let rtnetlink::packet_core::NetlinkPayload::InnerMessage(m) = msg.payload else {
                continue;
            };
            let Some(ev) = pick(m) else { continue };
            if tx.send(ev).is_err() {
                break;
            }
        }
        conn_task.abort();
    });
    Ok(rx)
}

/// Subscribes to link changes; events arrive on the returned receiver until it is dropped.
/// `buf`: `vrrp_netlink_monitor_rcv_bufs[_force]`.
pub fn watch_links(buf: RcvBuf) -> Result<mpsc::UnboundedReceiver<LinkEvent>, LinkError> {
    let groups = [
        MulticastGroup::Link,
        MulticastGroup::Ipv4Ifaddr,
        MulticastGroup::Ipv6Ifaddr,
    ];
    watch(&groups, "VRRP link monitor", buf, |m| match m {
        RouteNetlinkMessage::NewLink(l) => Some(LinkEvent {
            index: l.header.index,
            name: link_name(&l).unwrap_or_default(),
            up: link_is_up(l.header.flags),
            gone: false,
            addr: None,
            rp_filter: l.attributes.iter().find_map(|a| match a {
                LinkAttribute::AfSpecUnspec(specs) => ipv4_conf(specs).map(|c| c.rp_filter),
                _ => None,
            }),
        }),
        RouteNetlinkMessage::DelLink(l) => Some(LinkEvent {
            index: l.header.index,
            name: link_name(&l).unwrap_or_default(),
            up: false,
            gone: true,
            addr: None,
            rp_filter: None,
        }),
        RouteNetlinkMessage::NewAddress(m) => address_event(&m, true),
        RouteNetlinkMessage::DelAddress(m) => address_event(&m, false),
        _ => None,
    })
}

/// A route or rule with lvsd's (keepalived's) protocol number that the kernel deleted.
#[derive(Debug, Clone)]
pub enum NetDeleted {
    Route(netlink_packet_route::route::RouteMessage),
    Rule(netlink_packet_route::rule::RuleMessage),
}

/// keepalived's routing protocol number (RTPROT_KEEPALIVED), which lvsd's routes and
/// rules carry.
const RTPROT_KEEPALIVED: u8 = 18;

/// Subscribes to route and rule changes (IPv4 and IPv6); the deletions of routes and rules
/// with lvsd's protocol arrive on the returned receiver until it is dropped. `buf`:
/// `vrrp_netlink_monitor_rcv_bufs[_force]`.
pub fn watch_routes_and_rules(
    buf: RcvBuf,
) -> Result<mpsc::UnboundedReceiver<NetDeleted>, LinkError> {
    use netlink_packet_route::route::RouteProtocol;
    use netlink_packet_route::rule::RuleAttribute;
    let groups = [
        MulticastGroup::Ipv4Route,
        MulticastGroup::Ipv6Route,
        MulticastGroup::Ipv4Rule,
        MulticastGroup::Ipv6Rule,
    ];
    let ours = RouteProtocol::from(RTPROT_KEEPALIVED);
    watch(&groups, "VRRP route monitor", buf, move |m| match m {
        RouteNetlinkMessage::DelRoute(m) if m.header.protocol == ours => Some(NetDeleted::Route(m)),
        RouteNetlinkMessage::DelRule(m)
            if m.attributes.contains(&RuleAttribute::Protocol(ours)) =>
        {
            Some(NetDeleted::Rule(m))
        }
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn up_needs_up_and_running() {
        assert!(link_is_up(LinkFlags::Up | LinkFlags::Running));
        assert!(!link_is_up(LinkFlags::Up));
        assert!(!link_is_up(LinkFlags::Running));
    }

    #[test]
    fn primary_skips_vips() {
        let info = IfaceInfo {
            index: 2,
            name: "eth0".into(),
            mac: None,
            up: true,
            mtu: 1500,
            ipv4: Some(Ipv4Addr::new(10, 0, 9, 100)),
            ipv4_primaries: vec![Ipv4Addr::new(10, 0, 9, 100), Ipv4Addr::new(10, 0, 0, 1)],
            ipv6_ll: None,
            addrs: Vec::new(),
        };
        let vip: IpAddr = "10.0.9.100".parse().unwrap();
        assert_eq!(info.primary_v4(&[vip]), Some(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(info.primary_v4(&[]), Some(Ipv4Addr::new(10, 0, 9, 100)));
        assert_eq!(info.primary_v4(&[vip, "10.0.0.1".parse().unwrap()]), None);
    }

    #[test]
    fn link_local_detection() {
        assert!(is_link_local(&"fe80::1".parse().unwrap()));
        assert!(is_link_local(&"febf::1".parse().unwrap()));
        assert!(!is_link_local(&"fec0::1".parse().unwrap()));
        assert!(!is_link_local(&"fd00::1".parse().unwrap()));
    }
}
