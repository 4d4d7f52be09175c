//! The IPVS client: one generic netlink socket (neli), the family id (resolved by neli),
//! requests batched several per `send`, every answer (an error, or the acknowledgement
//! that ends a batch) matched to its request by sequence number.
//!
//! Byte-level work is in `codec`; this module only moves buffers and keeps sequence numbers.

use super::codec::{self, cmd, CodecError, Reply};
use super::types::*;
use crate::config::model::RcvBuf;
use neli::consts::socket::{Msg, NlFamily};
use neli::router::synchronous::NlRouter;
use neli::socket::NlSocket;
use neli::utils::Groups;
use std::os::unix::io::AsRawFd;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use tracing::{debug, warn};

/// Messages per `send` by default (the kernel processes them in order and acks each).
pub const DEFAULT_BATCH: usize = 256;
/// Upper bound of the bytes of one batch.
const MAX_BATCH_BYTES: usize = 96 * 1024;
const RECV_BUF: usize = ACK_SLOTS * ACK_SLOT;
/// Acknowledgements taken per `recvmmsg` call, and the room for each: an ack is 36 bytes
/// (NETLINK_CAP_ACK: the failed request's header only).
const ACK_SLOTS: usize = 256;
const ACK_SLOT: usize = 1024;
const NETLINK_CAP_ACK: libc::c_int = 10;
/// The receive buffer lvsd asks for at least on its IPVS socket.
const ACK_ROOM: u32 = 4 << 20;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(transparent)]
    Unavailable(#[from] Unavailable),
    #[error("IPVS netlink socket: {0}")]
    Io(#[from] std::io::Error),
    #[error("bad IPVS netlink message: {0}")]
    Codec(#[from] CodecError),
    #[error("{what}: kernel refused: {} (errno {errno})", errno_text(*errno))]
    Kernel { what: &'static str, errno: i32 },
    #[error("IPVS netlink protocol: {0}")]
    Protocol(String),
}

pub fn errno_text(errno: i32) -> String {
    std::io::Error::from_raw_os_error(errno).to_string()
}

/// Counters of what the client did (for logs and benchmarks).
#[derive(Debug, Default, Clone, Copy)]
pub struct ClientCounters {
    pub sends: u64,
    /// `recvmmsg` calls that collected acknowledgements.
    pub recvs: u64,
    pub ops: u64,
    pub op_errors: u64,
    pub bad_replies: u64,
}

pub struct IpvsClient {
    sock: NlSocket,
    family: u16,
    /// The last sequence number used, shared with the client's [`Encoder`]s.
    seq: Arc<AtomicU32>,
    batch: usize,
    ack_each: bool,
    rbuf: Vec<u8>,
    pub counters: ClientCounters,
}

fn next_seq(seq: &AtomicU32) -> u32 {
    seq.fetch_add(1, Ordering::Relaxed).wrapping_add(1)
}

/// Encodes operations into batches of a client's requests (its family id and sequence
/// numbers), on any thread: a full pass encodes the next operations while the client sends
/// the last ones.
#[derive(Clone)]
pub struct Encoder {
    family: u16,
    seq: Arc<AtomicU32>,
    batch: usize,
    ack_each: bool,
}

/// Operations encoded by an [`Encoder`], for [`IpvsClient::send_encoded`].
pub struct Encoded {
    ops: usize,
    batches: Vec<Batch>,
    /// Operations that could not be encoded (by index): answered EINVAL, never sent.
    unsent: Vec<usize>,
}

/// The requests of one `send`, and which operation each one carries.
struct Batch {
    buf: Vec<u8>,
    /// (sequence number, index of the operation), in the order sent.
    reqs: Vec<(u32, usize)>,
}

impl Encoder {
    /// Splits `ops` into batches of at most `batch` requests and [`MAX_BATCH_BYTES`];
    /// without `ack_each`, only the last request of a batch asks for an acknowledgement.
    pub fn encode(&self, ops: &[Op]) -> Encoded {
        let mut out = Encoded {
            ops: ops.len(),
            batches: Vec::with_capacity(ops.len() / self.batch + 1),
            unsent: Vec::new(),
        };
        let mut i = 0;
        let mut idents = codec::ServiceIdentCache::default();
        while i < ops.len() {
            let mut b = Batch {
                buf: Vec::with_capacity(MAX_BATCH_BYTES.min(ops.len().saturating_sub(i) * 128)),
                reqs: Vec::with_capacity(self.batch.min(ops.len() - i)),
            };
            // Where the last request encoded so far starts.
            let mut last_at = None;
            while i < ops.len() && b.reqs.len() < self.batch && b.buf.len() < MAX_BATCH_BYTES {
                let seq = next_seq(&self.seq);
                let at = b.buf.len();
                match codec::encode_op_cached(&mut b.buf, self.family, seq, &ops[i], &mut idents) {
                    Ok(()) => {
                        if let Some(prev_at) = last_at.replace(at) {
                            if !self.ack_each {
                                codec::clear_ack_flag(&mut b.buf[prev_at..]);
                            }
                        }
                        b.reqs.push((seq, i));
                    }
                    Err(e) => {
                        warn!(op = ?ops[i], "IPVS: operation not sent: {e}");
                        out.unsent.push(i);
                    }
                }
                i += 1;
            }
            if !b.reqs.is_empty() {
                out.batches.push(b);
            }
        }
        out
    }
}

/// Why IPVS cannot be used, as an operator reads it: one sentence, no netlink structures.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unavailable {
    /// The kernel has no "IPVS" generic netlink family and modprobe could not load ip_vs.
    #[error("IPVS is not available in this kernel (the ip_vs module could not be loaded: {0})")]
    NoModule(String),
    /// modprobe loaded ip_vs, yet the family is still missing.
    #[error("IPVS is not available in this kernel (modprobe ip_vs succeeded, but the kernel still has no IPVS netlink family)")]
    MissingAfterModprobe,
    /// The kernel refused the lookup: lvsd lacks CAP_NET_ADMIN (a container without it).
    #[error(
        "IPVS is not available to lvsd (the kernel refused access: {0}; lvsd needs CAP_NET_ADMIN)"
    )]
    NotPermitted(String),
    /// The generic netlink socket could not be opened or used.
    #[error("IPVS is not available (the generic netlink socket failed: {0})")]
    Netlink(String),
}

/// How a family lookup failed.
enum Lookup {
    /// The kernel answered that no such family exists (ENOENT).
    Missing,
    NotPermitted(String),
    Other(String),
}

type GenlRouterError = neli::err::RouterError<
    neli::consts::nl::GenlId,
    neli::genl::Genlmsghdr<neli::consts::genl::CtrlCmd, neli::consts::genl::CtrlAttr>,
>;

/// Sorts a lookup error by its errno (the raw netlink message is never shown).
fn classify(e: &GenlRouterError) -> Lookup {
    use neli::err::RouterError;
    let errno = match e {
        RouterError::Nlmsgerr(m) => Some(-*m.error()),
        _ => None,
    };
    match errno {
        Some(libc::ENOENT) => Lookup::Missing,
        Some(n @ (libc::EPERM | libc::EACCES)) => Lookup::NotPermitted(errno_text(n)),
        Some(n) => Lookup::Other(errno_text(n)),
        // neli's own "family was not found" when the answer carried no id.
        None if matches!(e, RouterError::Msg(_)) => Lookup::Missing,
        None => Lookup::Other(e.to_string()),
    }
}

fn lookup_family() -> Result<u16, Lookup> {
    let (router, _mcast) =
        NlRouter::connect(NlFamily::Generic, None, Groups::empty()).map_err(|e| match e {
            neli::err::RouterError::Socket(s) => Lookup::Other(s.to_string()),
            other => Lookup::Other(other.to_string()),
        })?;
    router
        .resolve_genl_family(codec::IPVS_GENL_NAME)
        .map_err(|e| classify(&e))
}

/// What modprobe said, in one line (its last line of error output, or its exit status).
fn modprobe_ip_vs() -> Result<(), String> {
    let out = std::process::Command::new("modprobe")
        .arg("ip_vs")
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| format!("cannot run modprobe: {e}"))?;
    if out.status.success() {
        return Ok(());
    }
    let said = String::from_utf8_lossy(&out.stderr);
    Err(said
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty())
        .map(str::to_string)
        .unwrap_or_else(|| format!("modprobe ip_vs failed ({})", out.status)))
}

/// Resolves the IPVS family id; loads ip_vs once when it is missing.
fn resolve_family() -> Result<u16, Unavailable> {
    let unavailable = |l: Lookup| match l {
        Lookup::Missing => Unavailable::MissingAfterModprobe,
        Lookup::NotPermitted(e) => Unavailable::NotPermitted(e),
        Lookup::Other(e) => Unavailable::Netlink(e),
    };
    match lookup_family() {
        Ok(id) => Ok(id),
        Err(Lookup::Missing) => {
            debug!("the kernel has no IPVS netlink family: trying modprobe ip_vs");
            modprobe_ip_vs().map_err(Unavailable::NoModule)?;
            lookup_family().map_err(unavailable)
        }
        Err(other) => Err(unavailable(other)),
    }
}

impl IpvsClient {
    /// Opens the socket and resolves the family (modprobing ip_vs when needed).
    pub fn connect() -> Result<IpvsClient, ClientError> {
        IpvsClient::connect_with(RcvBuf::default())
    }

    /// As [`IpvsClient::connect`], with `lvs_netlink_cmd_rcv_bufs[_force]`: the receive
    /// buffer is the larger of that and 4 MiB (room for the acknowledgements of a whole
    /// batch, each an skb of its own), forced past rmem_max when the kernel lets us.
    pub fn connect_with(buf: RcvBuf) -> Result<IpvsClient, ClientError> {
        let family = resolve_family()?;
        let sock = NlSocket::connect(NlFamily::Generic, None, Groups::empty())
            .map_err(|e| Unavailable::Netlink(e.to_string()))?;
        let fd = sock.as_raw_fd();
        let one: libc::c_int = 1;
        // SAFETY: plain setsockopt on our own fd with a correctly sized int option.
        unsafe {
            // acks of failed requests carry only the header, not the whole request
            libc::setsockopt(
                fd,
                libc::SOL_NETLINK,
                NETLINK_CAP_ACK,
                &one as *const _ as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as u32,
            );
        }
        // SAFETY: `sock` owns the descriptor and outlives this borrow.
        let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
        let want = RcvBuf {
            bytes: buf.bytes.max(ACK_ROOM),
            force: true,
        };
        if let Err(e) = crate::sockbuf::apply(&borrowed, "IPVS netlink", want) {
            debug!("IPVS netlink receive buffer left as it was: {e}");
        }
        debug!(family, "IPVS generic netlink family resolved");
        Ok(IpvsClient {
            sock,
            family,
            seq: Arc::new(AtomicU32::new(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs() as u32)
                    .unwrap_or(1),
            )),
            batch: DEFAULT_BATCH,
            ack_each: false,
            rbuf: vec![0; RECV_BUF],
            counters: ClientCounters::default(),
        })
    }

    /// Opens IPVS and checks that the kernel lets lvsd use it (one GET_INFO, which needs
    /// CAP_NET_ADMIN): what the LVS side needs before it manages the table.
    pub fn open_checked(buf: RcvBuf) -> Result<IpvsClient, Unavailable> {
        let mut c = IpvsClient::connect_with(buf).map_err(|e| match e {
            ClientError::Unavailable(u) => u,
            other => Unavailable::Netlink(other.to_string()),
        })?;
        match c.info() {
            Ok(_) => Ok(c),
            Err(ClientError::Kernel { errno, .. })
                if errno == libc::EPERM || errno == libc::EACCES =>
            {
                Err(Unavailable::NotPermitted(errno_text(errno)))
            }
            Err(e) => Err(Unavailable::Netlink(e.to_string())),
        }
    }

    /// Sets the number of messages per send (1 = keepalived's one-at-a-time behaviour).
    pub fn set_batch(&mut self, n: usize) {
        self.batch = n.max(1);
    }

    /// Whether every request asks for an acknowledgement, or only the last of each batch
    /// (the default). Every request's outcome is known either way: the kernel answers a
    /// failed request with its errno whatever its flags, and handles a batch in order before
    /// `send` returns, so once the last request's answer is read, every earlier request
    /// without an error message succeeded. (An answer the kernel cannot queue makes the
    /// receive fail with ENOBUFS: the pass then fails as a whole and is retried after a
    /// dump.) Acking only the last saves the kernel an acknowledgement per request: about
    /// 30 % of the time to program 21,000 entries in the VM benchmark.
    pub fn set_ack_each(&mut self, on: bool) {
        self.ack_each = on;
    }

    pub fn family_id(&self) -> u16 {
        self.family
    }

    fn next_seq(&mut self) -> u32 {
        next_seq(&self.seq)
    }

    /// An encoder of this client's requests, which may run on another thread while this
    /// one sends (see [`IpvsClient::send_encoded`]).
    pub fn encoder(&self) -> Encoder {
        Encoder {
            family: self.family,
            seq: self.seq.clone(),
            batch: self.batch,
            ack_each: self.ack_each,
        }
    }

    fn send(&mut self, buf: &[u8]) -> Result<(), ClientError> {
        let n = self.sock.send(buf, Msg::empty())?;
        self.counters.sends += 1;
        if n != buf.len() {
            return Err(ClientError::Protocol(format!(
                "short send: {n} of {} bytes",
                buf.len()
            )));
        }
        Ok(())
    }

    /// Receives one datagram; returns its length.
    fn recv(&mut self) -> Result<usize, ClientError> {
        loop {
            match self.sock.recv(&mut self.rbuf[..], Msg::empty()) {
                Ok((n, _)) => return Ok(n),
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// Receives the datagrams waiting, up to [`ACK_SLOTS`] in one `recvmmsg` call (blocking
    /// for the first only), into the [`ACK_SLOT`]-sized slots of `rbuf`; `lens` gets each
    /// one's length. A datagram larger than its slot is an error: the batch's outcome is then
    /// unknown, and the caller's pass is retried after a fresh dump.
    fn recv_many(&mut self, lens: &mut Vec<usize>) -> Result<(), ClientError> {
        lens.clear();
        let base = self.rbuf.as_mut_ptr();
        let mut iovs: Vec<libc::iovec> = (0..ACK_SLOTS)
            .map(|i| libc::iovec {
                // SAFETY: slot i lies inside rbuf (RECV_BUF = ACK_SLOTS * ACK_SLOT bytes).
                iov_base: unsafe { base.add(i * ACK_SLOT) }.cast(),
                iov_len: ACK_SLOT,
            })
            .collect();
        // SAFETY: mmsghdr is plain data; all-zero is a valid empty header.
        let mut hdrs: Vec<libc::mmsghdr> = (0..ACK_SLOTS)
            .map(|_| unsafe { std::mem::zeroed::<libc::mmsghdr>() })
            .collect();
        for (h, iov) in hdrs.iter_mut().zip(iovs.iter_mut()) {
            h.msg_hdr.msg_iov = iov;
            h.msg_hdr.msg_iovlen = 1;
        }
        let fd = self.sock.as_raw_fd();
        let n = loop {
            // SAFETY: hdrs holds ACK_SLOTS headers whose iovecs point into rbuf, which
            // outlives the call; no address or control buffers are requested.
            let r = unsafe {
                libc::recvmmsg(
                    fd,
                    hdrs.as_mut_ptr(),
                    ACK_SLOTS as libc::c_uint,
                    libc::MSG_WAITFORONE,
                    std::ptr::null_mut(),
                )
            };
            if r >= 0 {
                break r as usize;
            }
            let e = std::io::Error::last_os_error();
            if e.kind() != std::io::ErrorKind::Interrupted {
                return Err(e.into());
            }
        };
        for h in &hdrs[..n] {
            if h.msg_hdr.msg_flags & libc::MSG_TRUNC != 0 {
                return Err(ClientError::Protocol(format!(
                    "an acknowledgement larger than {ACK_SLOT} bytes"
                )));
            }
            lens.push(h.msg_len as usize);
        }
        Ok(())
    }

    /// Sends one request and collects the attributes of every generic reply until its ACK
    /// (or DONE for dumps).
    fn transact(
        &mut self,
        what: &'static str,
        dump: bool,
        build: impl FnOnce(&mut Vec<u8>, u16, u32) -> Result<(), CodecError>,
    ) -> Result<Vec<Vec<u8>>, ClientError> {
        let seq = self.next_seq();
        let mut buf = Vec::with_capacity(256);
        build(&mut buf, self.family, seq)?;
        self.send(&buf)?;
        let mut out = Vec::new();
        loop {
            let n = self.recv()?;
            let msgs = codec::split_messages(&self.rbuf[..n])?;
            for m in msgs {
                if m.seq != seq {
                    self.counters.bad_replies += 1;
                    warn!(
                        seq = m.seq,
                        expected = seq,
                        "IPVS: dropping reply with an unexpected sequence number"
                    );
                    continue;
                }
                match codec::classify(&m)? {
                    Reply::Genl { attrs, .. } => out.push(attrs.to_vec()),
                    Reply::Ack { .. } if !dump => return Ok(out),
                    Reply::Done { .. } if dump => return Ok(out),
                    Reply::Error { errno, .. } => {
                        return Err(ClientError::Kernel { what, errno });
                    }
                    _ => {}
                }
            }
        }
    }

    /// GET_INFO: version and connection table size.
    pub fn info(&mut self) -> Result<Info, ClientError> {
        let r = self.transact("get info", false, |b, f, s| {
            codec::encode_simple(b, f, s, cmd::GET_INFO);
            Ok(())
        })?;
        let first = r
            .first()
            .ok_or_else(|| ClientError::Protocol("GET_INFO: no reply".into()))?;
        Ok(codec::parse_info(first)?)
    }

    /// Every service with its counters (no destinations).
    pub fn services(&mut self) -> Result<Vec<(Service, Stats)>, ClientError> {
        let r = self.transact("dump services", true, |b, f, s| {
            codec::encode_get_services(b, f, s);
            Ok(())
        })?;
        let mut out = Vec::with_capacity(r.len());
        for a in r {
            match codec::parse_service(&a) {
                Ok(x) => out.push(x),
                Err(e) => {
                    self.counters.bad_replies += 1;
                    warn!("IPVS: dropping unparsable service in dump: {e}");
                }
            }
        }
        Ok(out)
    }

    /// One service, without its destinations (None: there is none with that key). Asked
    /// without a dump, so the kernel answers from a small buffer: cheap enough to poll.
    pub fn service(&mut self, key: &ServiceKey) -> Result<Option<Service>, ClientError> {
        let r = self.transact("get service", false, |b, f, s| {
            codec::encode_get_service(b, f, s, key);
            Ok(())
        });
        match r {
            Ok(replies) => match replies.first() {
                Some(a) => Ok(Some(codec::parse_service(a)?.0)),
                None => Err(ClientError::Protocol("GET_SERVICE: no reply".into())),
            },
            Err(ClientError::Kernel { errno, .. }) if errno == libc::ESRCH => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The destinations of one service.
    pub fn dests(&mut self, key: &ServiceKey) -> Result<Vec<DestState>, ClientError> {
        let r = self.transact("dump destinations", true, |b, f, s| {
            codec::encode_get_dests(b, f, s, key);
            Ok(())
        })?;
        let mut out = Vec::with_capacity(r.len());
        for a in r {
            match codec::parse_dest(&a, key.family()) {
                Ok(x) => out.push(x),
                Err(e) => {
                    self.counters.bad_replies += 1;
                    warn!("IPVS: dropping unparsable destination in dump: {e}");
                }
            }
        }
        Ok(out)
    }

    /// Services with their destinations.
    pub fn dump_all(&mut self) -> Result<Vec<ServiceState>, ClientError> {
        let mut out = Vec::new();
        self.dump_each_unless(&|| false, &mut |s| out.push(s))?;
        Ok(out)
    }

    /// Services with their destinations, handed to `each` one service at a time; given
    /// up (false) when `give_up` answers true before the destinations of a service are
    /// read.
    pub fn dump_each_unless(
        &mut self,
        give_up: &dyn Fn() -> bool,
        each: &mut dyn FnMut(ServiceState),
    ) -> Result<bool, ClientError> {
        for (service, stats) in self.services()? {
            if give_up() {
                return Ok(false);
            }
            let dests = match self.dests(&service.key) {
                Ok(d) => d,
                // removed between the two dumps
                Err(ClientError::Kernel { errno, .. }) if errno == libc::ESRCH => continue,
                Err(e) => return Err(e),
            };
            each(ServiceState {
                service,
                stats,
                dests,
            });
        }
        Ok(true)
    }

    /// Applies operations in order, `batch` messages per send (see [`Self::set_ack_each`]
    /// for which ask for an acknowledgement). Returns one result per operation.
    pub fn apply_ops(&mut self, ops: &[Op]) -> Result<Vec<OpResult>, ClientError> {
        let encoded = self.encoder().encode(ops);
        self.send_encoded(encoded)
    }

    /// Sends operations an [`Encoder`] of this client prepared, one batch per `send`, and
    /// reads the answers: one result per operation, in the order they were encoded. A
    /// request without an answer after its batch's last one succeeded (see
    /// [`Self::set_ack_each`]).
    pub fn send_encoded(&mut self, encoded: Encoded) -> Result<Vec<OpResult>, ClientError> {
        let mut results: Vec<Option<OpResult>> = vec![None; encoded.ops];
        for i in encoded.unsent {
            if let Some(r) = results.get_mut(i) {
                *r = Some(Err(libc::EINVAL));
                self.counters.op_errors += 1;
            }
        }
        let mut lens = Vec::with_capacity(ACK_SLOTS);
        for batch in encoded.batches {
            let (Some(&(first_seq, _)), Some(&(last_seq, _))) =
                (batch.reqs.first(), batch.reqs.last())
            else {
                continue;
            };
            self.send(&batch.buf)?;
            self.counters.ops += batch.reqs.len() as u64;
            // Answers still awaited: with an ack for every request, all of them; otherwise
            // the last request's, which the kernel queues after every earlier one.
            let mut waiting = if self.ack_each { batch.reqs.len() } else { 1 };
            while waiting > 0 {
                self.recv_many(&mut lens)?;
                self.counters.recvs += 1;
                for (slot, len) in lens.iter().enumerate() {
                    let start = slot * ACK_SLOT;
                    let msgs = codec::split_messages(&self.rbuf[start..start + len])?;
                    for m in msgs {
                        let reply = match codec::classify(&m) {
                            Ok(r) => r,
                            Err(e) => {
                                self.counters.bad_replies += 1;
                                warn!("IPVS: dropping malformed reply: {e}");
                                continue;
                            }
                        };
                        let (seq, res) = match reply {
                            Reply::Ack { seq } => (seq, Ok(())),
                            Reply::Error { seq, errno } => (seq, Err(errno)),
                            _ => {
                                self.counters.bad_replies += 1;
                                continue;
                            }
                        };
                        // A batch's sequence numbers come from one counter, in order: their
                        // distances from the first grow along the batch (wrapping included).
                        let found = batch
                            .reqs
                            .binary_search_by_key(&seq.wrapping_sub(first_seq), |(s, _)| {
                                s.wrapping_sub(first_seq)
                            })
                            .ok()
                            .map(|at| batch.reqs[at]);
                        let Some((_, idx)) = found else {
                            self.counters.bad_replies += 1;
                            warn!(seq, "IPVS: acknowledgement for no pending request");
                            continue;
                        };
                        let Some(slot) = results.get_mut(idx) else {
                            continue;
                        };
                        if slot.is_some() {
                            self.counters.bad_replies += 1;
                            continue;
                        }
                        if let Err(errno) = res {
                            self.counters.op_errors += 1;
                            debug!(errno, "IPVS request {seq} failed: {}", errno_text(errno));
                        }
                        *slot = Some(res);
                        if self.ack_each || seq == last_seq {
                            waiting -= 1;
                        }
                    }
                }
            }
            // Requests sent without the ACK flag and answered by no error: they succeeded.
            for &(_, idx) in &batch.reqs {
                if let Some(slot @ None) = results.get_mut(idx) {
                    *slot = Some(Ok(()));
                }
            }
        }
        Ok(results
            .into_iter()
            .map(|r| r.unwrap_or(Err(libc::EIO)))
            .collect())
    }

    /// Removes every service (and its destinations).
    pub fn flush(&mut self) -> Result<(), ClientError> {
        self.transact("flush", false, |b, f, s| {
            codec::encode_simple(b, f, s, cmd::FLUSH);
            Ok(())
        })
        .map(|_| ())
    }

    /// Zeroes the counters of one service, or of all.
    pub fn zero(&mut self, key: Option<&ServiceKey>) -> Result<(), ClientError> {
        self.transact("zero counters", false, |b, f, s| {
            codec::encode_zero(b, f, s, key);
            Ok(())
        })
        .map(|_| ())
    }

    pub fn start_daemon(&mut self, d: &SyncDaemon) -> Result<(), ClientError> {
        self.transact("start sync daemon", false, |b, f, s| {
            codec::encode_new_daemon(b, f, s, d)
        })
        .map(|_| ())
    }

    pub fn stop_daemon(&mut self, state: SyncState) -> Result<(), ClientError> {
        self.transact("stop sync daemon", false, |b, f, s| {
            codec::encode_del_daemon(b, f, s, state);
            Ok(())
        })
        .map(|_| ())
    }

    pub fn daemons(&mut self) -> Result<Vec<SyncDaemon>, ClientError> {
        let r = self.transact("dump sync daemons", true, |b, f, s| {
            codec::encode_get_daemons(b, f, s);
            Ok(())
        })?;
        let mut out = Vec::new();
        for a in r {
            out.push(codec::parse_daemon(&a)?);
        }
        Ok(out)
    }

    pub fn set_timeouts(&mut self, t: &Timeouts) -> Result<(), ClientError> {
        self.transact("set timeouts", false, |b, f, s| {
            codec::encode_set_config(b, f, s, t);
            Ok(())
        })
        .map(|_| ())
    }

    pub fn timeouts(&mut self) -> Result<Timeouts, ClientError> {
        let r = self.transact("get timeouts", false, |b, f, s| {
            codec::encode_simple(b, f, s, cmd::GET_CONFIG);
            Ok(())
        })?;
        let first = r
            .first()
            .ok_or_else(|| ClientError::Protocol("GET_CONFIG: no reply".into()))?;
        Ok(codec::parse_config(first)?)
    }
}

impl IpvsBackend for IpvsClient {
    type Error = ClientError;
    fn dump(&mut self) -> Result<Vec<ServiceState>, ClientError> {
        self.dump_all()
    }
    fn dump_each_unless(
        &mut self,
        give_up: &dyn Fn() -> bool,
        each: &mut dyn FnMut(ServiceState),
    ) -> Result<bool, ClientError> {
        IpvsClient::dump_each_unless(self, give_up, each)
    }
    fn apply(&mut self, ops: &[Op]) -> Result<Vec<OpResult>, ClientError> {
        let encoded = self.encoder().encode(ops);
        self.send_encoded(encoded)
    }
}

impl IpvsGlobals for IpvsClient {
    type Error = ClientError;
    fn set_timeouts(&mut self, timeouts: &Timeouts) -> Result<(), ClientError> {
        IpvsClient::set_timeouts(self, timeouts)
    }
    fn start_sync_daemon(&mut self, daemon: &SyncDaemon) -> Result<(), ClientError> {
        self.start_daemon(daemon)
    }
    fn stop_sync_daemon(&mut self, state: SyncState) -> Result<(), ClientError> {
        self.stop_daemon(state)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::IpAddr;

    fn key(last: u8) -> ServiceKey {
        ServiceKey::Addr {
            proto: Proto::Tcp,
            addr: IpAddr::from([10, 0, 0, last]),
            port: 80,
        }
    }

    fn add_service(last: u8, scheduler: &str) -> Op {
        Op::AddService(Service {
            key: key(last),
            scheduler: scheduler.into(),
            flags: 0,
            timeout: 0,
            netmask: u32::MAX,
            pe_name: None,
        })
    }

    fn encoder(batch: usize, ack_each: bool) -> Encoder {
        Encoder {
            family: 0x1c,
            seq: Arc::new(AtomicU32::new(100)),
            batch,
            ack_each,
        }
    }

    /// (sequence number, asks for an ack) of every message of a batch, read back.
    fn messages(b: &Batch) -> Vec<(u32, bool)> {
        codec::split_messages(&b.buf)
            .unwrap()
            .iter()
            .map(|m| (m.seq, m.flags & 0x4 != 0))
            .collect()
    }

    #[test]
    fn batches_ask_an_ack_only_of_their_last_request_and_map_seqs_to_ops() {
        // 7 operations, 3 per batch; the fourth cannot be encoded (scheduler name too long).
        let mut ops: Vec<Op> = (1..=7).map(|i| add_service(i, "wlc")).collect();
        ops[3] = add_service(4, &"x".repeat(40));
        let enc = encoder(3, false);
        let e = enc.encode(&ops);
        assert_eq!(e.ops, 7);
        assert_eq!(e.unsent, vec![3]);
        let shape: Vec<Vec<usize>> = e
            .batches
            .iter()
            .map(|b| b.reqs.iter().map(|&(_, i)| i).collect())
            .collect();
        assert_eq!(shape, vec![vec![0, 1, 2], vec![4, 5, 6]]);
        for b in &e.batches {
            let msgs = messages(b);
            assert_eq!(msgs.len(), b.reqs.len());
            for (k, ((seq, acked), (req_seq, _))) in msgs.iter().zip(&b.reqs).enumerate() {
                assert_eq!(seq, req_seq, "the batch maps each message's seq");
                assert_eq!(*acked, k + 1 == msgs.len(), "only the last asks for an ack");
            }
        }
        // Sequence numbers are the encoder's shared counter's, one per request tried.
        assert_eq!(e.batches[0].reqs[0].0, 101);
        assert_eq!(e.batches[1].reqs[2].0, 107);
        assert_eq!(enc.seq.load(Ordering::Relaxed), 107);
    }

    #[test]
    fn ack_each_asks_every_request_and_a_clone_shares_the_counter() {
        let ops: Vec<Op> = (1..=4).map(|i| add_service(i, "rr")).collect();
        let enc = encoder(256, true);
        let other = enc.clone();
        let e = enc.encode(&ops);
        assert_eq!(e.batches.len(), 1);
        assert!(messages(&e.batches[0]).iter().all(|&(_, acked)| acked));
        let again = other.encode(&ops[..1]);
        assert_eq!(again.batches[0].reqs[0].0, 105);
    }
}
