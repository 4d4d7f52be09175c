//! `use_vmac`: a macvlan (mode private) on the instance's interface carrying the virtual
//! MAC 00:00:5e:00:01:VRID (00:00:5e:00:02:VRID for IPv6); adverts, VIPs and gratuitous
//! ARPs then use it.

use netlink_packet_route::link::MacVlanMode;
use rtnetlink::LinkMacVlan;

use super::garp::Mac;
use super::link::{IfaceInfo, LinkError, Netlink};

/// The virtual MAC of a VRID (RFC 5798 §7.3).
pub fn virtual_mac(vrid: u8, ipv6: bool) -> Mac {
    [0x00, 0x00, 0x5e, 0x00, if ipv6 { 0x02 } else { 0x01 }, vrid]
}

/// The interface name keepalived gives a vmac without a name.
pub fn default_name(vrid: u8) -> String {
    format!("vrrp.{vrid}")
}

/// Creates the macvlan (or reuses one already there with our MAC) and brings it up.
pub async fn ensure(
    nl: &Netlink,
    name: &str,
    parent: u32,
    vrid: u8,
    ipv6: bool,
) -> Result<IfaceInfo, LinkError> {
    let mac = virtual_mac(vrid, ipv6);
    if let Ok(info) = nl.interface(name).await {
        if info.mac == Some(mac) {
            return Ok(info);
        }
        tracing::warn!(
            "{name} exists with another MAC address: deleting it to create the vmac interface"
        );
        nl.handle().link().del(info.index).execute().await?;
    }
    let msg = LinkMacVlan::new(name, parent, MacVlanMode::Private)
        .address(mac.to_vec())
        .up()
        .build();
    nl.handle().link().add(msg).execute().await?;
    // keepalived sets these so only the vmac answers ARP for the VIPs.
    for (key, val) in [("arp_ignore", "1"), ("arp_filter", "1")] {
        let path = format!("/proc/sys/net/ipv4/conf/{name}/{key}");
        if let Err(e) = std::fs::write(&path, val) {
            tracing::debug!("cannot set {path}: {e}");
        }
    }
    nl.interface(name).await
}

/// Deletes the macvlan.
pub async fn remove(nl: &Netlink, index: u32) -> Result<(), LinkError> {
    nl.handle().link().del(index).execute().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs() {
        assert_eq!(virtual_mac(51, false), [0, 0, 0x5e, 0, 1, 51]);
        assert_eq!(virtual_mac(255, true), [0, 0, 0x5e, 0, 2, 255]);
        assert_eq!(default_name(7), "vrrp.7");
    }
}
