//! Virtual IP addresses added and removed over rtnetlink, with the prefix, `brd`, `dev`,
//! `scope` and `label` written in `virtual_ipaddress`.

use crate::config::{VipOptions, VirtualIp};
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags, AddressHeaderFlags, AddressScope, CacheInfo,
};
use std::net::IpAddr;
use thiserror::Error;

use super::link::Netlink;

#[derive(Debug, Error, PartialEq, Eq)]
pub enum VipError {
    #[error("unknown scope {0:?} (host, link, global, site, nowhere or 0-255)")]
    BadScope(String),
    #[error("{addr}/{prefix}: rtnetlink: {msg}")]
    Netlink {
        addr: IpAddr,
        prefix: u8,
        msg: String,
    },
}

/// One address as the kernel gets it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VipSpec {
    pub addr: IpAddr,
    pub prefix_len: u8,
    pub ifindex: u32,
    pub brd: Option<IpAddr>,
    /// rtnetlink scope number (0 global, 200 site, 253 link, 254 host, 255 nowhere).
    pub scope: u8,
    pub label: Option<String>,
    /// `peer`, `home`, `-nodad`, `mngtmpaddr`, `noprefixroute`, `autojoin`, `preferred_lft` (the
    /// latter resolved: keepalived deprecates an IPv6 /128 without it, preferred 0).
    pub opts: VipOptions,
}

/// keepalived's scope names (as iproute2's rt_scopes).
pub fn parse_scope(s: &str) -> Result<u8, VipError> {
    match s {
        "global" | "universe" => Ok(0),
        "site" => Ok(200),
        "link" => Ok(253),
        "host" => Ok(254),
        "nowhere" => Ok(255),
        n => n
            .parse::<u8>()
            .map_err(|_| VipError::BadScope(s.to_string())),
    }
}

impl VipSpec {
    /// The spec for a configured address; `ifindex` is the `dev` if written, else the
    /// instance's interface (resolved by the caller).
    pub fn from_config(v: &VirtualIp, ifindex: u32) -> Result<VipSpec, VipError> {
        let scope = match &v.scope {
            Some(s) => parse_scope(s)?,
            None => 0,
        };
        Ok(VipSpec {
            addr: v.addr,
            prefix_len: v.prefix_len,
            ifindex,
            brd: v.brd,
            scope,
            label: v.label.clone(),
            opts: VipOptions {
                // keepalived 2.2.7: an IPv6 address without preferred_lft gets 0 (it is
                // deprecated, so not picked as a source address) when it is a /128, and
                // forever otherwise; an IPv4 one has no lifetimes.
                preferred_lft: match v.opts.preferred_lft {
                    _ if v.addr.is_ipv4() => None,
                    Some(n) => Some(n),
                    None if v.prefix_len == 128 => Some(0),
                    None => None,
                },
                ..v.opts.clone()
            },
        })
    }
}

/// Adds and removes addresses (a fake records them in tests).
pub trait VipOps: Send + Sync {
    /// Adds the address; one already present counts as added.
    fn add(&self, vip: &VipSpec) -> impl std::future::Future<Output = Result<(), VipError>> + Send;
    /// Removes the address: Ok(true) when it was there, Ok(false) when it was already
    /// absent (which counts as removed).
    fn del(
        &self,
        vip: &VipSpec,
    ) -> impl std::future::Future<Output = Result<bool, VipError>> + Send;
}

fn nl_err(vip: &VipSpec, e: rtnetlink::Error) -> VipError {
    VipError::Netlink {
        addr: vip.addr,
        prefix: vip.prefix_len,
        msg: e.to_string(),
    }
}

fn errno_of(e: &rtnetlink::Error) -> Option<i32> {
    match e {
        rtnetlink::Error::NetlinkError(m) => Some(-m.raw_code()),
        _ => None,
    }
}

impl VipOps for Netlink {
    async fn add(&self, vip: &VipSpec) -> Result<(), VipError> {
        let mut req = self
            .handle()
            .address()
            .add(vip.ifindex, vip.addr, vip.prefix_len);
        let msg = req.message_mut();
        msg.header.scope = AddressScope::from(vip.scope);
        // Like `ip addr add`: a broadcast address only when `brd` is written.
        msg.attributes
            .retain(|a| !matches!(a, AddressAttribute::Broadcast(_)));
        if let Some(IpAddr::V4(b)) = vip.brd {
            msg.attributes.push(AddressAttribute::Broadcast(b));
        }
        if let Some(l) = &vip.label {
            msg.attributes.push(AddressAttribute::Label(l.clone()));
        }
        set_addresses(&mut msg.attributes, vip);
        let o = &vip.opts;
        let mut flags = AddressFlags::empty();
        // As keepalived: IPv6 addresses without duplicate address detection (VRRP is
        // the detection; a split brain must not leave an address "dadfailed"), unless
        // `-nodad`.
        if vip.addr.is_ipv6() && !o.dad {
            msg.header.flags |= AddressHeaderFlags::Nodad;
            flags |= AddressFlags::Nodad;
        }
        if o.home {
            msg.header.flags |= AddressHeaderFlags::Homeaddress;
            flags |= AddressFlags::Homeaddress;
        }
        if o.mngtmpaddr {
            flags |= AddressFlags::Managetempaddr;
        }
        if o.noprefixroute {
            flags |= AddressFlags::Noprefixroute;
        }
        if o.autojoin {
            flags |= AddressFlags::Mcautojoin;
        }
        // (the header's 8 bits cannot hold the later flags: IFA_FLAGS, as keepalived)
        if !flags.is_empty() {
            msg.attributes.push(AddressAttribute::Flags(flags));
        }
        // A finite preferred lifetime, valid forever (IPv6: from_config leaves IPv4 None).
        if let Some(p) = o.preferred_lft.filter(|p| *p != u32::MAX) {
            let mut ci = CacheInfo::default();
            ci.ifa_preferred = p;
            ci.ifa_valid = u32::MAX;
            msg.attributes.push(AddressAttribute::CacheInfo(ci));
        }
        match req.execute().await {
            Ok(()) => Ok(()),
            Err(e) if errno_of(&e) == Some(libc::EEXIST) => Ok(()),
            Err(e) => Err(nl_err(vip, e)),
        }
    }

    async fn del(&self, vip: &VipSpec) -> Result<bool, VipError> {
        let mut req = self
            .handle()
            .address()
            .add(vip.ifindex, vip.addr, vip.prefix_len);
        let mut msg = req.message_mut().clone();
        set_addresses(&mut msg.attributes, vip);
        match self.handle().address().del(msg).execute().await {
            Ok(()) => Ok(true),
            Err(e) if matches!(errno_of(&e), Some(libc::EADDRNOTAVAIL | libc::ENOENT)) => Ok(false),
            Err(e) => Err(nl_err(vip, e)),
        }
    }
}

/// IFA_LOCAL is the address and IFA_ADDRESS the peer (the address itself without one),
/// on add and on delete. rtnetlink's builder gives a multicast address (`autojoin`)
/// neither, and a deletion without them would remove the interface's first address.
fn set_addresses(attrs: &mut Vec<AddressAttribute>, vip: &VipSpec) {
    attrs.retain(|a| {
        !matches!(
            a,
            AddressAttribute::Address(_)
                | AddressAttribute::Local(_)
                | AddressAttribute::Multicast(_)
        )
    });
    attrs.push(AddressAttribute::Local(vip.addr));
    attrs.push(AddressAttribute::Address(vip.opts.peer.unwrap_or(vip.addr)));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes() {
        assert_eq!(parse_scope("host"), Ok(254));
        assert_eq!(parse_scope("link"), Ok(253));
        assert_eq!(parse_scope("global"), Ok(0));
        assert_eq!(parse_scope("site"), Ok(200));
        assert_eq!(parse_scope("nowhere"), Ok(255));
        assert_eq!(parse_scope("17"), Ok(17));
        assert!(parse_scope("galaxy").is_err());
        assert!(parse_scope("256").is_err());
    }

    #[test]
    fn spec_from_config() {
        let v = VirtualIp {
            span: Default::default(),
            addr: "10.0.0.5".parse().unwrap(),
            prefix_len: 24,
            brd: Some("10.0.0.255".parse().unwrap()),
            dev: None,
            scope: Some("link".into()),
            label: Some("eth0:vip".into()),
            no_track: false,
            opts: Default::default(),
        };
        let s = VipSpec::from_config(&v, 7).unwrap();
        assert_eq!(s.scope, 253);
        assert_eq!(s.ifindex, 7);
        assert_eq!(s.label.as_deref(), Some("eth0:vip"));
        assert_eq!(s.prefix_len, 24);
    }
}
