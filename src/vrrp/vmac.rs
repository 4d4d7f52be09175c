//! `use_vmac`: a macvlan (mode private) on the instance's interface carrying the virtual
//! MAC 00:00:5e:00:01:VRID (00:00:5e:00:02:VRID for IPv6); adverts, VIPs and gratuitous
//! ARPs then use it.
//!
//! As keepalived 2.2.7 (vrrp_vmac.c) and RFC 5798 §7.4, the kernel makes no link-local
//! address on it (`addr_gen_mode` 1): one made from the virtual MAC would be the same on
//! every router of the VRID (a DAD failure, and adverts of one source from all). An IPv6
//! instance gets the base interface's link-local address on it instead (its configured
//! source, if one is given); an IPv4 instance has IPv6 off there unless some excluded VIP
//! is IPv6.

use netlink_packet_route::link::MacVlanMode;
use rtnetlink::{LinkMacVlan, LinkUnspec};
use std::net::{IpAddr, Ipv6Addr};

use super::garp::Mac;
use super::link::{IfaceInfo, LinkError, Netlink};

/// The virtual MAC of a VRID (RFC 5798 §7.3).
pub fn virtual_mac(vrid: u8, ipv6: bool) -> Mac {
    [0x00, 0x00, 0x5e, 0x00, if ipv6 { 0x02 } else { 0x01 }, vrid]
}

/// The interface name keepalived gives a vmac without a name.
pub fn default_name(prefix: Option<&str>, vrid: u8) -> String {
    format!("{}.{vrid}", prefix.unwrap_or("vrrp"))
}

/// What the vmac carries besides its MAC.
pub struct VmacIp {
    /// The instance is IPv6 (the IPv6 virtual MAC).
    pub ipv6: bool,
    /// IPv6 stays on for an IPv4 instance (an excluded VIP is IPv6).
    pub keep_ipv6: bool,
    /// The link-local address to put on it (an IPv6 instance that sends from the vmac).
    pub link_local: Option<Ipv6Addr>,
}

/// Creates the macvlan (or reuses one already there with our MAC) and brings it up.
pub async fn ensure(
    nl: &Netlink,
    name: &str,
    parent: u32,
    vrid: u8,
    ip: &VmacIp,
) -> Result<IfaceInfo, LinkError> {
    let mac = virtual_mac(vrid, ip.ipv6);
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
        .build();
    nl.handle().link().add(msg).execute().await?;
    // Before it is up: no link-local address from the virtual MAC (keepalived sets
    // IFLA_INET6_ADDR_GEN_MODE none; the sysctl is the same setting).
    let ipv6_on = ip.ipv6 || ip.keep_ipv6;
    for (key, val) in [
        ("addr_gen_mode", "1"),
        ("disable_ipv6", if ipv6_on { "0" } else { "1" }),
    ] {
        if let Err(e) = write_sysctl(&ipv6_conf(name, key), val) {
            tracing::debug!("cannot set {}: {e}", ipv6_conf(name, key));
        }
    }
    // As keepalived (vrrp_if_config.c): the vmac answers ARP only for its own addresses
    // (the VIPs), accepts packets from a local source address, receives without an
    // address of its own (no reverse-path filter: a peer's advert is routed via the base
    // interface; see [`clear_rp_filter`]) and promotes a secondary VIP when the primary
    // goes.
    for (key, val) in [
        ("arp_ignore", "1"),
        ("accept_local", "1"),
        ("rp_filter", "0"),
        ("promote_secondaries", "1"),
    ] {
        if let Err(e) = write_sysctl(&ipv4_conf(name, key), val) {
            tracing::debug!("cannot set {}: {e}", ipv4_conf(name, key));
        }
    }
    let info = nl.interface(name).await?;
    let up = LinkUnspec::new_with_index(info.index).up().build();
    nl.handle().link().set(up).execute().await?;
    if let Some(ll) = ip.link_local {
        if let Err(e) = nl
            .handle()
            .address()
            .add(info.index, IpAddr::V6(ll), 64)
            .execute()
            .await
        {
            tracing::warn!("cannot add the link-local address {ll} to {name}: {e}");
        }
    }
    nl.interface(name).await
}

/// A link-local address made from a MAC address (modified EUI-64), as keepalived makes
/// one for a vmac when the base interface has none.
pub fn link_local_of(mac: Mac) -> Ipv6Addr {
    Ipv6Addr::from([
        0xfe,
        0x80,
        0,
        0,
        0,
        0,
        0,
        0,
        mac[0] ^ 0x02,
        mac[1],
        mac[2],
        0xff,
        0xfe,
        mac[3],
        mac[4],
        mac[5],
    ])
}

fn ipv6_conf(ifname: &str, key: &str) -> String {
    format!("/proc/sys/net/ipv6/conf/{ifname}/{key}")
}

fn ipv4_conf(ifname: &str, key: &str) -> String {
    format!("/proc/sys/net/ipv4/conf/{ifname}/{key}")
}

fn write_sysctl(path: &str, val: &str) -> std::io::Result<()> {
    std::fs::write(path, val)
}

/// Sets, as keepalived does for a vmac's base interface, `arp_ignore=1` and `arp_filter=1`
/// on `base` so that the base interface does not answer ARP for the VIPs held by the vmac.
/// Returns the previous values of the sysctls it changed (for [`restore_base_sysctls`]);
/// values already recorded in `saved` are not recorded again.
pub fn set_base_sysctls(base: &str, saved: &mut Vec<(String, String)>) {
    set_ipv4_conf_flags(base, &["arp_ignore", "arp_filter"], saved);
}

/// keepalived's clear_rp_filter, before an IPv4 vmac is made: the kernel filters with the
/// larger of `all.rp_filter` and the interface's own, so a vmac's `rp_filter=0` needs
/// `all.rp_filter` at 0. When it is not, each interface's own value (and `default`'s, for
/// links made later) is first raised to `all`'s, which changes no interface's filtering,
/// and then `all` is set to 0. Each old value is noted in `saved` (once) for
/// [`restore_base_sysctls`].
pub fn clear_rp_filter(saved: &mut Vec<(String, String)>) {
    let all_path = ipv4_conf("all", "rp_filter");
    let Some(all) = read_number(&all_path) else {
        return;
    };
    if all == 0 {
        return;
    }
    let mut names: Vec<String> = match std::fs::read_dir("/proc/sys/net/ipv4/conf") {
        Ok(dir) => dir
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != "all")
            .collect(),
        Err(e) => {
            tracing::warn!("cannot list /proc/sys/net/ipv4/conf: {e}");
            return;
        }
    };
    // `default` first, so that a link made meanwhile starts from the raised value.
    names.sort_by_key(|n| n != "default");
    for name in names {
        let path = ipv4_conf(&name, "rp_filter");
        if let Some(v) = read_number(&path).filter(|v| *v < all) {
            set_noted(&path, &all.to_string(), &v.to_string(), saved);
        }
    }
    tracing::info!(
        "net.ipv4.conf.all.rp_filter {all} set to 0 for the vmac interfaces (each interface keeps filtering as before; put back at exit)"
    );
    set_noted(&all_path, "0", &all.to_string(), saved);
}

fn read_number(path: &str) -> Option<u32> {
    match std::fs::read_to_string(path) {
        Ok(v) => v.trim().parse().ok(),
        Err(e) => {
            tracing::debug!("cannot read {path}: {e}");
            None
        }
    }
}

/// Writes `val` to `path`, noting `old` (the value read before) in `saved` (once).
fn set_noted(path: &str, val: &str, old: &str, saved: &mut Vec<(String, String)>) {
    match write_sysctl(path, val) {
        Ok(()) => {
            if !saved.iter().any(|(p, _)| p == path) {
                saved.push((path.to_string(), old.to_string()));
            }
        }
        Err(e) => tracing::warn!("cannot set {path}: {e}"),
    }
}

/// Sets `net.ipv4.conf.IFNAME.KEY` to 1 for each key not 1 already, noting each old value
/// in `saved` (once) for [`restore_base_sysctls`].
pub fn set_ipv4_conf_flags(ifname: &str, keys: &[&str], saved: &mut Vec<(String, String)>) {
    for key in keys {
        let path = ipv4_conf(ifname, key);
        let old = match std::fs::read_to_string(&path) {
            Ok(v) => v.trim().to_string(),
            Err(e) => {
                tracing::debug!("cannot read {path}: {e}");
                continue;
            }
        };
        if old == "1" {
            continue;
        }
        set_noted(&path, "1", &old, saved);
    }
}

/// The IPv4 conf keys of `ifname` in `saved` (as [`set_ipv4_conf_flags`] notes them),
/// with their old values.
pub fn changed_ipv4_conf(saved: &[(String, String)], ifname: &str) -> Vec<(String, String)> {
    let prefix = ipv4_conf(ifname, "");
    saved
        .iter()
        .filter_map(|(p, old)| Some((p.strip_prefix(&prefix)?.to_string(), old.clone())))
        .collect()
}

/// Puts back the values [`set_base_sysctls`] replaced.
pub fn restore_base_sysctls(saved: &[(String, String)]) {
    for (path, old) in saved {
        if let Err(e) = write_sysctl(path, old) {
            tracing::warn!("cannot restore {path}: {e}");
        }
    }
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
    fn link_local_from_a_mac() {
        assert_eq!(
            link_local_of([0x36, 0x57, 0xa0, 0x10, 0x2b, 0xe1]),
            "fe80::3457:a0ff:fe10:2be1".parse::<Ipv6Addr>().unwrap()
        );
    }

    #[test]
    fn macs() {
        assert_eq!(virtual_mac(51, false), [0, 0, 0x5e, 0, 1, 51]);
        assert_eq!(virtual_mac(255, true), [0, 0, 0x5e, 0, 2, 255]);
        assert_eq!(default_name(None, 7), "vrrp.7");
        assert_eq!(default_name(Some("vr"), 7), "vr.7");
    }
}
