//! IPVS table entries as values: what the reconciler wants and what the kernel reports.
//! The netlink client (`ipvs::client`) encodes these; the LVS side (`lvs`) builds and
//! compares them. Nothing here does I/O.

use serde::Serialize;
use std::net::IpAddr;

/// Address family of a service or destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub fn of(addr: &IpAddr) -> Family {
        if addr.is_ipv4() {
            Family::V4
        } else {
            Family::V6
        }
    }
    /// AF_INET / AF_INET6 as the kernel wants it.
    pub fn af(self) -> u16 {
        match self {
            Family::V4 => libc::AF_INET as u16,
            Family::V6 => libc::AF_INET6 as u16,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Proto {
    Tcp,
    Udp,
    Sctp,
}

impl Proto {
    /// IPPROTO_* number.
    pub fn number(self) -> u16 {
        match self {
            Proto::Tcp => 6,
            Proto::Udp => 17,
            Proto::Sctp => 132,
        }
    }
}

/// What identifies a service in the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum ServiceKey {
    Addr {
        proto: Proto,
        addr: IpAddr,
        port: u16,
    },
    Fwmark {
        family: Family,
        mark: u32,
    },
}

impl ServiceKey {
    pub fn family(&self) -> Family {
        match self {
            ServiceKey::Addr { addr, .. } => Family::of(addr),
            ServiceKey::Fwmark { family, .. } => *family,
        }
    }
}

/// IP_VS_SVC_F_* service flags.
pub mod svc_flags {
    pub const PERSISTENT: u32 = 0x1;
    pub const HASHED: u32 = 0x2;
    pub const ONEPACKET: u32 = 0x4;
    pub const SCHED1: u32 = 0x8;
    pub const SCHED2: u32 = 0x10;
    pub const SCHED3: u32 = 0x20;
}

/// A virtual service and its settings (not its destinations).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Service {
    pub key: ServiceKey,
    /// Scheduler name, e.g. "wlc".
    pub scheduler: String,
    /// IP_VS_SVC_F_* bits (PERSISTENT, ONEPACKET, SCHED1..3); HASHED is the kernel's own.
    pub flags: u32,
    /// Persistence timeout in seconds (0 when not persistent).
    pub timeout: u32,
    /// IPv4: the netmask as a host-order u32 (0xffffffff default); IPv6: the prefix length (128).
    pub netmask: u32,
    /// Persistence engine, e.g. "sip".
    pub pe_name: Option<String>,
}

/// IP_VS_CONN_F_FWD_MASK values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub enum Forward {
    Masq,
    Local,
    Tunnel,
    DirectRoute,
    Bypass,
}

impl Forward {
    pub fn code(self) -> u32 {
        match self {
            Forward::Masq => 0,
            Forward::Local => 1,
            Forward::Tunnel => 2,
            Forward::DirectRoute => 3,
            Forward::Bypass => 4,
        }
    }
    pub fn from_code(code: u32) -> Option<Forward> {
        Some(match code & 0x7 {
            0 => Forward::Masq,
            1 => Forward::Local,
            2 => Forward::Tunnel,
            3 => Forward::DirectRoute,
            4 => Forward::Bypass,
            _ => return None,
        })
    }
}

/// IPVS tunnel encapsulation of a TUN destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct TunnelParams {
    /// IPIP 0, GUE 1, GRE 2.
    pub tun_type: u8,
    /// GUE port (host order here; network order on the wire).
    pub tun_port: u16,
    /// NOCSUM 0, CSUM 1, REMCSUM 2.
    pub tun_flags: u16,
}

/// What identifies a destination within its service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct DestKey {
    pub addr: IpAddr,
    pub port: u16,
}

/// A real server as the kernel holds it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Dest {
    pub key: DestKey,
    pub forward: Forward,
    pub weight: u32,
    pub upper_threshold: u32,
    pub lower_threshold: u32,
    pub tunnel: Option<TunnelParams>,
}

/// Counters of a service or destination (64-bit, from STATS64 when the kernel has it).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    pub conns: u64,
    pub inpkts: u64,
    pub outpkts: u64,
    pub inbytes: u64,
    pub outbytes: u64,
    pub cps: u64,
    pub inpps: u64,
    pub outpps: u64,
    pub inbps: u64,
    pub outbps: u64,
}

/// A destination as dumped, with its live counters.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DestState {
    pub dest: Dest,
    pub active_conns: u32,
    pub inactive_conns: u32,
    pub persistent_conns: u32,
    pub stats: Stats,
}

/// A service as dumped, with its destinations.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServiceState {
    pub service: Service,
    pub stats: Stats,
    pub dests: Vec<DestState>,
}

/// One change to the kernel table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Op {
    AddService(Service),
    EditService(Service),
    DelService(ServiceKey),
    AddDest(ServiceKey, Dest),
    EditDest(ServiceKey, Dest),
    DelDest(ServiceKey, DestKey),
}

/// The outcome of one operation: Ok, or the kernel's errno.
pub type OpResult = Result<(), i32>;

/// The kernel side as the reconciler sees it: the real netlink client implements it, and
/// tests use an in-memory table.
pub trait IpvsBackend {
    type Error: std::error::Error + Send + Sync + 'static;
    /// Every service with its destinations.
    fn dump(&mut self) -> Result<Vec<ServiceState>, Self::Error>;
    /// [`IpvsBackend::dump`] handed over one service at a time (so that a heal pass never
    /// holds the whole table with its counters), given up as soon as `give_up` answers
    /// true between two reads: a heal pass reading a large table back makes way for a
    /// reload or a stop. True when every service was handed over, false when given up.
    /// By default `give_up` is asked once, before the whole dump.
    fn dump_each_unless(
        &mut self,
        give_up: &dyn Fn() -> bool,
        each: &mut dyn FnMut(ServiceState),
    ) -> Result<bool, Self::Error> {
        if give_up() {
            return Ok(false);
        }
        self.dump()?.into_iter().for_each(each);
        Ok(true)
    }
    /// Applies operations in order (batched where the transport can), returning one
    /// result per operation; a transport failure is the outer error.
    fn apply(&mut self, ops: &[Op]) -> Result<Vec<OpResult>, Self::Error>;
}

/// The sync daemon role (IPVS_DAEMON_ATTR_STATE).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum SyncState {
    Master,
    Backup,
}

impl SyncState {
    /// IP_VS_STATE_MASTER 1 / IP_VS_STATE_BACKUP 2.
    pub fn code(self) -> u32 {
        match self {
            SyncState::Master => 1,
            SyncState::Backup => 2,
        }
    }
    pub fn from_code(code: u32) -> Option<SyncState> {
        match code {
            1 => Some(SyncState::Master),
            2 => Some(SyncState::Backup),
            _ => None,
        }
    }
}

/// One connection-sync daemon (`lvs_sync_daemon` in global_defs).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SyncDaemon {
    pub state: SyncState,
    /// Multicast interface (≤ 15 bytes).
    pub interface: String,
    pub sync_id: u32,
    pub maxlen: Option<u16>,
    pub port: Option<u16>,
    pub ttl: Option<u8>,
    pub group: Option<IpAddr>,
}

/// IPVS connection timeouts in seconds (`lvs_timeouts`); 0 leaves the kernel's value.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Timeouts {
    pub tcp: u32,
    pub tcp_fin: u32,
    pub udp: u32,
}

/// IPVS settings outside the service table: connection timeouts (IPVS_CMD_SET_CONFIG) and
/// the sync daemon (IPVS_CMD_NEW_DAEMON / DEL_DAEMON). Implemented by the netlink client
/// next to [`IpvsBackend`]; the LVS side calls it at start, on reload and at exit.
pub trait IpvsGlobals {
    type Error: std::error::Error + Send + Sync + 'static;
    /// IPVS_CMD_SET_CONFIG with the three timeouts (0 = unchanged).
    fn set_timeouts(&mut self, timeouts: &Timeouts) -> Result<(), Self::Error>;
    /// IPVS_CMD_NEW_DAEMON.
    fn start_sync_daemon(&mut self, daemon: &SyncDaemon) -> Result<(), Self::Error>;
    /// IPVS_CMD_DEL_DAEMON for the daemon of that role.
    fn stop_sync_daemon(&mut self, state: SyncState) -> Result<(), Self::Error>;
}

/// GET_INFO: IPVS version and connection hash table size.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Info {
    /// e.g. 0x010201 for 1.2.1
    pub version: u32,
    pub conn_tab_size: u32,
}

impl Info {
    pub fn version_string(&self) -> String {
        format!(
            "{}.{}.{}",
            (self.version >> 16) & 0xff,
            (self.version >> 8) & 0xff,
            self.version & 0xff
        )
    }
}
