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

/// The packet sockets and MACs of the other interfaces `garp_extra_if` sends on, opened
/// on first use.
#[derive(Default)]
struct ExtraIfSenders {
    by_index: HashMap<u32, (PacketSocket, Mac, String)>,
}

impl ExtraIfSenders {
    /// One message for the first address of `present` on each interface but `skip`, as
    /// keepalived's vrrp_send_vmac_update.
    async fn send(&mut self, nl: &Netlink, who: &str, present: &[VipSpec], skip: Option<u32>) {
        let mut done: Vec<u32> = Vec::new();
        for v in present {
            if Some(v.ifindex) == skip || done.contains(&v.ifindex) {
                continue;
            }
            done.push(v.ifindex);
            if let Entry::Vacant(slot) = self.by_index.entry(v.ifindex) {
                let (name, mac) = match nl.name_and_mac(v.ifindex).await {
                    Ok(x) => x,
                    Err(e) => {
                        tracing::warn!("{who} garp_extra_if: {e}");
                        continue;
                    }
                };
                let Some(mac) = mac else {
                    tracing::warn!("{who} garp_extra_if: {name} has no MAC address");
                    continue;
                };
                match PacketSocket::open(v.ifindex) {
                    Ok(s) => {
                        slot.insert((s, mac, name));
                    }
                    Err(e) => {
                        tracing::error!("{who} cannot open a packet socket on {name}: {e}");
                        continue;
                    }
                }
            }
            let Some((sock, mac, ifname)) = self.by_index.get(&v.ifindex) else {
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
    let mut extra_if = ExtraIfSenders::default();
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
                extra_if.send(&nl, &who, &present, skip).await;
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
                let v4: Vec<Ipv4Addr> = present
                    .iter()
                    .filter_map(|v| match v.addr {
                        IpAddr::V4(a) => Some(a),
                        _ => None,
                    })
                    .collect();
                let v6: Vec<Ipv6Addr> = present
                    .iter()
                    .filter_map(|v| match v.addr {
                        IpAddr::V6(a) => Some(a),
                        _ => None,
                    })
                    .collect();
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
