//! One ordered worker per instance for the slow address work: VIPs added and removed,
//! virtual routes and rules, gratuitous ARP/NA bursts (paced, cut short when the
//! addresses go). The loop only queues [`AddrJob`]s, so adverts keep their timing
//! whatever the kernel does.

use crate::vrrp::garp::{self, Mac, PacketSocket};
use crate::vrrp::link::Netlink;
use crate::vrrp::routes::{self, Installed, NetItem};
use crate::vrrp::vip::{VipOps, VipSpec};
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Instant;
use tokio::sync::mpsc;

/// Work for an instance's address worker, done in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddrJob {
    Add(Vec<VipSpec>),
    Del(Vec<VipSpec>),
    /// Remove these addresses if the system has them, although this run did not add them.
    Release(Vec<VipSpec>),
    /// Addresses already present (kept over a reload), for later gratuitous bursts.
    Assume(Vec<VipSpec>),
    /// A burst of this many rounds, paced (vrrp_garp_interval / vrrp_gna_interval).
    Garp(u32, garp::Pacing),
    /// `garp_extra_if`: one gratuitous ARP / NA on each interface other than the
    /// instance's (`own_too`: its own as well) for the first address there, from that
    /// interface's MAC.
    ExtraIfGarp {
        own_too: bool,
    },
    /// Add these routes and rules (virtual_routes, virtual_rules) if not added yet.
    NetAdd(Vec<NetItem>),
    /// Remove the routes and rules this worker added.
    NetDel,
    /// Remove these routes and rules whoever added them (gone by a reload).
    NetDrop(Vec<NetItem>),
}

/// Removes `vips`. `stale`: VIPs this run did not add (left by an earlier run), where
/// "not there" is the normal answer: only those actually found are named at info level.
async fn remove_vips(nl: &Netlink, name: &str, vips: &[VipSpec], stale: bool) {
    for v in vips {
        match (nl.del(v).await, stale) {
            (Ok(_), false) => {
                tracing::debug!("VRRP_Instance({name}) removed {}/{}", v.addr, v.prefix_len)
            }
            (Ok(true), true) => tracing::info!(
                "VRRP_Instance({name}) released {}/{} left by an earlier run",
                v.addr,
                v.prefix_len
            ),
            (Ok(false), true) => tracing::debug!(
                "VRRP_Instance({name}) {}/{}: not on the interface, nothing to release",
                v.addr,
                v.prefix_len
            ),
            (Err(e), false) => tracing::error!("VRRP_Instance({name}) cannot remove VIP: {e}"),
            (Err(e), true) => {
                tracing::debug!("VRRP_Instance({name}) {}: nothing to release: {e}", v.addr)
            }
        }
    }
}

/// The packet sockets and MACs of the interfaces other than the instance's that hold its
/// addresses (`dev`), opened on first use: keepalived announces an address on its own
/// interface, from that interface's MAC.
#[derive(Default)]
struct OtherIfSenders {
    by_index: HashMap<u32, (PacketSocket, Mac, String)>,
}

impl OtherIfSenders {
    /// The socket, MAC and name of interface `ifindex` (None, logged, if it has none).
    async fn get(
        &mut self,
        nl: &Netlink,
        who: &str,
        ifindex: u32,
    ) -> Option<&(PacketSocket, Mac, String)> {
        if let Entry::Vacant(slot) = self.by_index.entry(ifindex) {
            let (name, mac) = match nl.name_and_mac(ifindex).await {
                Ok(x) => x,
                Err(e) => {
                    tracing::warn!("{who} no gratuitous ARP/NA there: {e}");
                    return None;
                }
            };
            let Some(mac) = mac else {
                tracing::warn!("{who} no gratuitous ARP/NA on {name}: it has no MAC address");
                return None;
            };
            match PacketSocket::open(ifindex) {
                Ok(s) => {
                    slot.insert((s, mac, name));
                }
                Err(e) => {
                    tracing::error!("{who} cannot open a packet socket on {name}: {e}");
                    return None;
                }
            }
        }
        self.by_index.get(&ifindex)
    }

    /// `garp_extra_if`: one message for the first address of `present` on each interface
    /// but `skip`, as keepalived's vrrp_send_vmac_update.
    async fn extra_round(
        &mut self,
        nl: &Netlink,
        who: &str,
        present: &[VipSpec],
        skip: Option<u32>,
    ) {
        let mut done: Vec<u32> = Vec::new();
        for v in present {
            if Some(v.ifindex) == skip || done.contains(&v.ifindex) {
                continue;
            }
            done.push(v.ifindex);
            let Some((sock, mac, ifname)) = self.get(nl, who, v.ifindex).await else {
                continue;
            };
            let msg = match v.addr {
                IpAddr::V4(a) => garp::Gratuitous::Arp(a),
                IpAddr::V6(a) => garp::Gratuitous::Na(a),
            };
            let router = v.addr.is_ipv6() && garp::ipv6_forwarding(ifname);
            match garp::send_one(sock, *mac, msg, router) {
                Ok(()) => tracing::debug!("{who} garp_extra_if: sent for {} on {ifname}", v.addr),
                Err(e) => tracing::warn!("{who} garp_extra_if on {ifname}: {e}"),
            }
        }
    }

    /// A burst's messages for the addresses on interfaces other than `own`: `repeat`
    /// rounds on each, back to back (the pacing of `vrrp_garp_interval` is the
    /// instance's interface's).
    async fn burst(&mut self, nl: &Netlink, who: &str, present: &[VipSpec], own: u32, repeat: u32) {
        let mut others: Vec<u32> = present
            .iter()
            .map(|v| v.ifindex)
            .filter(|i| *i != own)
            .collect();
        let mut seen = Vec::new();
        others.retain(|i| {
            let new = !seen.contains(i);
            seen.push(*i);
            new
        });
        for idx in others {
            let (v4, v6) = split(present.iter().filter(|v| v.ifindex == idx));
            let Some((sock, mac, ifname)) = self.get(nl, who, idx).await else {
                continue;
            };
            let router = !v6.is_empty() && garp::ipv6_forwarding(ifname);
            let failed = garp::announce(sock, *mac, &v4, &v6, router, repeat);
            tracing::debug!(
                "{who} sent {} gratuitous ARP/NA on {ifname} ({failed} failed)",
                (v4.len() + v6.len()) as u32 * repeat.max(1)
            );
        }
    }
}

/// The IPv4 and IPv6 addresses of `vips`, in order.
fn split<'a>(vips: impl Iterator<Item = &'a VipSpec>) -> (Vec<Ipv4Addr>, Vec<Ipv6Addr>) {
    let (mut v4, mut v6) = (Vec::new(), Vec::new());
    for v in vips {
        match v.addr {
            IpAddr::V4(a) => v4.push(a),
            IpAddr::V6(a) => v6.push(a),
        }
    }
    (v4, v6)
}

/// Performs one instance's address work in order: VIPs, then the GARP/NA bursts.
pub(super) async fn addr_worker(
    nl: Netlink,
    name: String,
    ifindex: u32,
    ifname: String,
    mac: Mac,
    mut rx: mpsc::UnboundedReceiver<AddrJob>,
) {
    let mut sender: Option<PacketSocket> = None;
    let mut present: Vec<VipSpec> = Vec::new();
    let who = format!("VRRP_Instance({name})");
    let mut net = Installed::default();
    let mut pacer = garp::Pacer::default();
    let mut pending = std::collections::VecDeque::new();
    let mut others = OtherIfSenders::default();
    loop {
        let job = match pending.pop_front() {
            Some(job) => job,
            None => match rx.recv().await {
                Some(job) => job,
                None => break,
            },
        };
        match job {
            AddrJob::NetAdd(items) => routes::add_all(&nl, &who, &mut net, &items).await,
            AddrJob::NetDel => routes::remove_all(&nl, &who, &mut net).await,
            AddrJob::NetDrop(items) => {
                for item in items {
                    routes::remove_one(&nl, &who, &item).await;
                    net.removed(&item);
                }
            }
            AddrJob::Add(vips) => {
                for v in &vips {
                    match nl.add(v).await {
                        Ok(()) => tracing::debug!(
                            "VRRP_Instance({name}) added {}/{}",
                            v.addr,
                            v.prefix_len
                        ),
                        Err(e) => tracing::error!("VRRP_Instance({name}) cannot add VIP: {e}"),
                    }
                }
                for v in vips {
                    if !present.contains(&v) {
                        present.push(v);
                    }
                }
            }
            AddrJob::Assume(vips) => present = vips,
            AddrJob::Release(vips) => {
                remove_vips(&nl, &name, &vips, true).await;
                present.retain(|p| !vips.contains(p));
            }
            AddrJob::Del(vips) => {
                remove_vips(&nl, &name, &vips, false).await;
                present.retain(|p| !vips.contains(p));
            }
            AddrJob::ExtraIfGarp { own_too } => {
                let skip = (!own_too).then_some(ifindex);
                others.extra_round(&nl, &who, &present, skip).await;
            }
            AddrJob::Garp(repeat, pacing) => {
                if sender.is_none() {
                    match PacketSocket::open(ifindex) {
                        Ok(s) => sender = Some(s),
                        Err(e) => {
                            tracing::error!(
                                "VRRP_Instance({name}) cannot open a packet socket: {e}"
                            );
                            continue;
                        }
                    }
                }
                // Addresses on other interfaces go out there, from their MAC.
                others.burst(&nl, &who, &present, ifindex, repeat).await;
                let (v4, v6) = split(present.iter().filter(|v| v.ifindex == ifindex));
                if let Some(s) = &sender {
                    let router = !v6.is_empty() && garp::ipv6_forwarding(&ifname);
                    let plan = pacer.plan(Instant::now(), pacing, &v4, &v6, repeat);
                    let stops = |j: &AddrJob| matches!(j, AddrJob::Del(_) | AddrJob::Release(_));
                    let r =
                        garp::send_paced(s, mac, router, plan, &mut rx, &mut pending, stops).await;
                    if r.aborted {
                        pacer = garp::Pacer::default();
                    }
                    tracing::debug!(
                        "VRRP_Instance({name}) sent {} gratuitous ARP/NA on {ifname} ({} failed{})",
                        r.sent,
                        r.failed,
                        if r.aborted {
                            ", rest dropped: addresses removed"
                        } else {
                            ""
                        }
                    );
                }
            }
        }
    }
}
