//! The VRRP instance state machine, free of I/O.
//!
//! # API (stable; the runtime in `vrrp::runtime` drives it)
//!
//! ```text
//! let mut inst = Instance::new(params);           // params: InstanceParams::from_config(..)
//! inst.handle(now, Event::LocalAddr(addr));        // optional, before or after Start
//! inst.handle(now, Event::Link { ifname, up });    // real link states, before Start ideally
//! let actions = inst.handle(now, Event::Start);    // INIT -> BACKUP / MASTER / FAULT
//! loop {
//!     // sleep until inst.next_deadline() (None: nothing timed), then:
//!     inst.handle(now, Event::Timer);
//!     // on a packet: match Advert::decode(payload, &meta) {
//!     //     Ok(advert) => inst.handle(now, Event::Advert { advert, meta }),
//!     //     Err(reason) => stats.record(reason) }
//!     // on a script run: inst.handle(now, Event::ScriptResult { name, ok })
//! }
//! inst.handle(now, Event::Shutdown);               // -> STOP (prio-0 advert, DelVips, Notify)
//! ```
//!
//! * Time is passed in (`std::time::Instant`, synthetic in tests); the machine never reads
//!   the clock. `Event::Timer` may be delivered early or spuriously: only due deadlines act.
//! * `handle` returns [`Action`]s to perform **in order**:
//!   - `SendAdvert(advert)`: encode with `advert.encode(src, dst, params.checksum_form)`
//!     for each of `params.destinations()` (multicast group or every unicast peer) and send.
//!   - `AddVips` / `DelVips`: add / remove `params.vips` (and `excluded_vips`).
//!   - `SendGratuitous { repeat }`: one burst of `repeat` GARPs (IPv4) / unsolicited NAs
//!     (IPv6) per VIP.
//!   - `StateChange { from, to, cause }`: informational (status, sync groups); the machine
//!     already logged it.
//!   - `Notify { state, priority }`: run notify scripts / fifo / SMTP alert for `state`.
//!   - `MasterRxLowerPri { from, priority }`: the `notify_master_rx_lower_pri` script.
//! * Reload: [`Instance::reconfigure`] (or [`crate::vrrp::sync_group::Coordinator::reload`])
//!   keeps the state and returns a [`VipChange`] for a master whose VIPs changed.
//! * Packet-level drops are counted by the runtime ([`crate::vrrp::packet::RxStats`]);
//!   instance-level drops (auth, interval, address list, unicast peer, peer TTL) are
//!   counted in [`Instance::stats`].
//! * Sync groups: use [`crate::vrrp::sync_group::Coordinator`], which owns the instances
//!   and turns one member's transitions into `Event::Sync` for the others.

use crate::config::model::{InitialState, VirtualIp};
use crate::vrrp::ah;
use crate::vrrp::limit::{self, LogLimiter, LogVerdict, Spacing};
use crate::vrrp::packet::{self, Advert, DropReason, RxMeta, RxStats, Version};
use crate::vrrp::params::{Auth, InstanceParams};
use crate::vrrp::track::Tracking;
use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, Instant};

/// Instance states (keepalived's, plus STOP after shutdown).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    Init,
    Backup,
    Master,
    Fault,
    Stop,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Init => "INIT",
            State::Backup => "BACKUP",
            State::Master => "MASTER",
            State::Fault => "FAULT",
            State::Stop => "STOP",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a state changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Cause {
    /// Start-up: priority 255 + `state MASTER` takes over at once, others wait in BACKUP.
    Startup,
    /// No advert from a master within Master_Down_Interval.
    MasterDown,
    /// A higher-priority advert (or equal priority from a higher address) reached a master.
    HigherPriority,
    /// A tracker (script, interface) failed.
    Fault,
    /// All trackers are fine again.
    FaultCleared,
    /// Another member of the sync group moved.
    Sync,
    /// Someone else deleted an address, route or rule of the instance while it was
    /// MASTER.
    Lost,
    Shutdown,
}

impl Cause {
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Startup => "startup",
            Cause::MasterDown => "master down timer expired",
            Cause::HigherPriority => "higher priority advert received",
            Cause::Fault => "fault",
            Cause::FaultCleared => "fault cleared",
            Cause::Sync => "sync group",
            Cause::Lost => "an address, route or rule of the instance was deleted",
            Cause::Shutdown => "shutdown",
        }
    }
}

/// What a sync group tells a member.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SyncCmd {
    /// Another member became master: become master too (from BACKUP).
    Master,
    /// Another member left MASTER for BACKUP: do the same.
    Backup,
    /// The group is (true) / is no longer (false) faulted by some member.
    Fault(bool),
}

/// Inputs to the machine.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Leave INIT. Before it, only tracking/address updates are taken.
    Start,
    /// A deadline was (maybe) reached; see [`Instance::next_deadline`].
    Timer,
    /// An advert that passed [`Advert::decode`], with its IP facts.
    Advert { advert: Advert, meta: RxMeta },
    /// A packet for this instance's VRID that failed [`Advert::decode`] (the runtime
    /// counts it): only logged, rate-limited as the instance's own drops.
    Undecodable { reason: DropReason, src: IpAddr },
    /// Link state of an interface (own or tracked; others are ignored).
    Link { ifname: String, up: bool },
    /// The raw result of one run of a `vrrp_script` (rise/fall is applied here).
    ScriptResult { name: String, ok: bool },
    /// The number now in the file of the `track_file` `name` (0 when missing).
    TrackFile { name: String, value: i64 },
    /// Whether the `vrrp_track_process` `name` has its quorum now.
    TrackProcess { name: String, up: bool },
    /// Our primary address on the interface (tie-break on equal priority).
    LocalAddr(IpAddr),
    /// Whether an address is on the instance's interface now (`track_src_ip`; other
    /// addresses are ignored).
    SrcAddr { addr: IpAddr, present: bool },
    /// Why the instance has no source address for its adverts now (None: it has one).
    Source(Option<crate::vrrp::track::NoSource>),
    /// Someone else deleted an address, virtual route or rule the instance holds (one it
    /// follows: not `no_track`), described here: a MASTER leaves for BACKUP and comes back
    /// after its skew time, adding it again (keepalived's `set_vrrp_backup`). Ignored in
    /// the first [`LOST_GRACE`] as MASTER.
    Lost(String),
    /// New configured base priority (1..=255; 0 ignored).
    SetPriority(u8),
    /// From the sync group coordinator.
    Sync(SyncCmd),
    /// Resign (priority-0 advert if master), remove VIPs, go to STOP.
    Shutdown,
}

/// Outputs of the machine, to perform in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    SendAdvert(Advert),
    AddVips,
    DelVips,
    SendGratuitous {
        repeat: u32,
    },
    /// `garp_extra_if`: one gratuitous ARP / NA on each other interface holding an
    /// address of the instance.
    SendExtraIfGratuitous,
    StateChange {
        from: State,
        to: State,
        cause: Cause,
    },
    Notify {
        state: State,
        priority: u8,
    },
    MasterRxLowerPri {
        from: IpAddr,
        priority: u8,
    },
    /// The effective priority of a MASTER or BACKUP changed (for notify_priority_changes).
    PriorityChanged {
        state: State,
        priority: u8,
    },
}

/// How a reload changed the addresses a MASTER holds (empty otherwise): remove `removed`,
/// add `added`, before performing the actions returned with it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VipChange {
    pub removed: Vec<VirtualIp>,
    pub added: Vec<VirtualIp>,
}

impl VipChange {
    pub fn is_empty(&self) -> bool {
        self.removed.is_empty() && self.added.is_empty()
    }
}

/// How long after becoming MASTER a deleted address is not taken for someone else's
/// doing: the deletions of the instance's own last release (performed by the address
/// worker, reported by the link watcher) may still be on their way.
pub const LOST_GRACE: Duration = Duration::from_secs(1);

/// One VRRP instance.
#[derive(Debug, Clone)]
pub struct Instance {
    params: InstanceParams,
    state: State,
    base_priority: u8,
    tracking: Tracking,
    local_addr: Option<IpAddr>,
    group_fault: bool,
    /// The master's advert interval (cs): v3 adopts the master's, v2 is always ours.
    master_adver_cs: u16,
    /// The current master seen in BACKUP (address, priority).
    master: Option<(IpAddr, u8)>,
    adver_at: Option<Instant>,
    master_down_at: Option<Instant>,
    garp_delay_at: Option<Instant>,
    garp_refresh_at: Option<Instant>,
    /// The next `garp_extra_if` round.
    extra_if_garp_at: Option<Instant>,
    /// Second bursts owed after lower-priority adverts (`garp_lower_prio_delay`), one per
    /// advert as keepalived schedules them.
    lower_prio_garp_at: Vec<Instant>,
    preempt_at: Option<Instant>,
    /// `vrrp_startup_delay`: no master-down expiry before this time.
    start_hold: Option<Instant>,
    /// `start_hold` was given by [`Instance::hold_start_until`] (a reload: the daemon's hold).
    start_hold_given: bool,
    stats: RxStats,
    /// v2 AH: the sequence number last sent or accepted (keepalived keeps one counter for
    /// both: a backup that takes over continues from the master's number).
    ah_seq: u32,
    /// v2 AH: the counter ran out (keepalived's `cycle`): it restarts from 0 on becoming
    /// master.
    ah_cycle: bool,
    /// Warnings of dropped adverts: one line per reason per [`limit::DROP_LOG_PERIOD`].
    drop_log: LogLimiter<DropReason>,
    /// Bursts in answer to lower-priority adverts: one per advert interval (1 s at
    /// least), so a flood of them cannot be amplified.
    lower_prio_bursts: Spacing,
    /// `state MASTER` and still in its first wait as BACKUP (no state change since the
    /// start, no master heard): keepalived's wantstate is then MASTER.
    wants_master: bool,
    /// When the instance last became MASTER.
    master_at: Option<Instant>,
    /// A short master-down timer keepalived set to take over, and shows until the
    /// instance next changes state (other than to MASTER) or hears a master: 1 µs for an
    /// address owner at its start, the skew time after a master resigned or an address
    /// of the instance was deleted.
    short_down_timer: Option<Duration>,
}

impl Instance {
    pub fn new(params: InstanceParams) -> Instance {
        let tracking = Tracking::for_params(&params);
        let wants_master = params.initial_state == InitialState::Master;
        Instance {
            base_priority: params.priority,
            master_adver_cs: params.advert_int_cs(),
            local_addr: params.src_ip,
            tracking,
            params,
            state: State::Init,
            group_fault: false,
            master: None,
            adver_at: None,
            master_down_at: None,
            garp_delay_at: None,
            garp_refresh_at: None,
            extra_if_garp_at: None,
            lower_prio_garp_at: Vec::new(),
            preempt_at: None,
            start_hold: None,
            start_hold_given: false,
            stats: RxStats::default(),
            ah_seq: 0,
            ah_cycle: false,
            drop_log: LogLimiter::new(limit::DROP_LOG_PERIOD),
            lower_prio_bursts: Spacing::default(),
            wants_master,
            short_down_timer: None,
            master_at: None,
        }
    }

    /// keepalived's "Wantstate": the state, except MASTER for an instance written as
    /// `state MASTER` that still waits as BACKUP after its start with no master heard.
    /// The master-down timer keepalived shows when it set a short one to take over
    /// (None: the usual Master_Down_Interval).
    pub fn short_down_timer(&self) -> Option<Duration> {
        self.short_down_timer
    }

    pub fn wantstate(&self) -> State {
        if self.state == State::Backup && self.wants_master && self.master.is_none() {
            State::Master
        } else {
            self.state
        }
    }

    pub fn params(&self) -> &InstanceParams {
        &self.params
    }
    pub fn name(&self) -> &str {
        &self.params.name
    }
    pub fn state(&self) -> State {
        self.state
    }
    pub fn stats(&self) -> &RxStats {
        &self.stats
    }
    /// v2 AH: the sequence number last sent or accepted.
    pub fn ah_seq(&self) -> u32 {
        self.ah_seq
    }
    pub fn tracking(&self) -> &Tracking {
        &self.tracking
    }
    pub fn local_addr(&self) -> Option<IpAddr> {
        self.local_addr
    }
    /// The master heard while BACKUP: (source address, priority).
    pub fn current_master(&self) -> Option<(IpAddr, u8)> {
        self.master
    }
    /// The configured priority (after `SetPriority`).
    pub fn base_priority(&self) -> u8 {
        self.base_priority
    }
    /// Base priority with tracker weights applied (255 stays 255).
    pub fn effective_priority(&self) -> u8 {
        self.tracking.effective_priority(self.base_priority)
    }
    /// Base priority with tracker weights applied, before it is held to 1..=254.
    pub fn total_priority(&self) -> i32 {
        self.tracking.total_priority(self.base_priority)
    }
    /// Whether the instance's own trackers put it in FAULT (not counting its sync group).
    pub fn own_fault(&self) -> bool {
        self.tracking.faulted()
    }
    /// The master's advert interval this backup uses (v3: adopted from the master).
    pub fn master_adver_int(&self) -> Duration {
        Duration::from_millis(u64::from(self.master_adver_cs) * 10)
    }

    /// Skew_Time. v2: (256 − prio)/256 s. v3: ((256 − prio) × Master_Adver_Interval)/256 cs.
    pub fn skew(&self) -> Duration {
        let p = u64::from(256 - u16::from(self.effective_priority()));
        match self.params.version {
            Version::V2 => Duration::from_micros(p * 1_000_000 / 256),
            Version::V3 => Duration::from_millis(p * u64::from(self.master_adver_cs) / 256 * 10),
        }
    }

    /// Master_Down_Interval = 3 × Master_Adver_Interval + Skew_Time.
    pub fn master_down_interval(&self) -> Duration {
        self.master_adver_int() * self.params.down_timer_adverts + self.skew()
    }

    /// When the next `garp_extra_if` round is due (MASTER only).
    pub fn extra_if_garp_at(&self) -> Option<Instant> {
        self.extra_if_garp_at
    }

    /// The earliest time the machine wants an `Event::Timer`.
    pub fn next_deadline(&self) -> Option<Instant> {
        [
            self.adver_at,
            self.master_down_at,
            self.garp_delay_at,
            self.garp_refresh_at,
            self.extra_if_garp_at,
            self.lower_prio_garp_at.iter().min().copied(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// Until when `vrrp_startup_delay` keeps this instance from taking over (None: no hold).
    pub fn start_hold(&self) -> Option<Instant> {
        self.start_hold
    }

    /// Before `Event::Start`: use the daemon's start hold instead of one counted from this
    /// start (an instance added by a reload waits only for what is left of the daemon's
    /// `vrrp_startup_delay`, as keepalived).
    pub fn hold_start_until(&mut self, until: Option<Instant>) {
        self.start_hold = until;
        self.start_hold_given = true;
    }

    /// When the master-down timer started at `now` with `interval` expires: never before
    /// the start hold ends (keepalived counts it from the end of `vrrp_startup_delay`).
    fn down_at(&mut self, now: Instant, interval: Duration) -> Instant {
        match self.start_hold {
            Some(h) if now < h => h + interval,
            _ => {
                self.start_hold = None;
                now + interval
            }
        }
    }

    /// Feeds one event at time `now`; returns the actions to perform in order.
    pub fn handle(&mut self, now: Instant, event: Event) -> Vec<Action> {
        let mut out = Vec::new();
        match event {
            Event::Start => self.on_start(now, &mut out),
            Event::Timer => self.on_timer(now, &mut out),
            Event::Advert { advert, meta } => self.on_advert(now, &advert, &meta, &mut out),
            Event::Undecodable { reason, src } => self.warn_drop(now, reason, src),
            Event::Link { ifname, up } => {
                let before = self.effective_priority();
                if self.tracking.link(&ifname, up) {
                    tracing::info!(instance = %self.params.name, interface = %ifname,
                        "tracked interface {} is {}", ifname, if up { "up" } else { "down" });
                    self.reevaluate(now, before, &mut out);
                }
            }
            Event::ScriptResult { name, ok } => {
                let before = self.effective_priority();
                if self.tracking.script_result(&name, ok) {
                    tracing::info!(instance = %self.params.name, script = %name,
                        "tracked script {} is now {}", name, if ok { "OK" } else { "failing" });
                    self.reevaluate(now, before, &mut out);
                }
            }
            Event::TrackFile { name, value } => {
                let before = self.effective_priority();
                if self.tracking.file_value(&name, value) {
                    tracing::info!(instance = %self.params.name, track_file = %name,
                        "tracked file {} now reads {}", name, value);
                    self.reevaluate(now, before, &mut out);
                }
            }
            Event::TrackProcess { name, up } => {
                let before = self.effective_priority();
                if self.tracking.process_quorum(&name, up) {
                    tracing::info!(instance = %self.params.name, track_process = %name,
                        "tracked process {} quorum {}", name, if up { "gained" } else { "lost" });
                    self.reevaluate(now, before, &mut out);
                }
            }
            Event::LocalAddr(a) => self.local_addr = Some(a),
            Event::SrcAddr { addr, present } => {
                let before = self.effective_priority();
                if self.tracking.src_addr(addr, present) {
                    tracing::info!(instance = %self.params.name,
                        "source address {} {} the interface", addr,
                        if present { "is back on" } else { "is gone from" });
                    self.reevaluate(now, before, &mut out);
                }
            }
            Event::Source(why) => {
                let before = self.effective_priority();
                if self.tracking.source(why) {
                    match why {
                        Some(why) => tracing::warn!(instance = %self.params.name,
                            "no source address for adverts: {why}"),
                        None => tracing::info!(instance = %self.params.name,
                            "the instance has a source address for its adverts again"),
                    }
                    self.reevaluate(now, before, &mut out);
                }
            }
            Event::Lost(what) => {
                let settled = self
                    .master_at
                    .is_none_or(|t| now.saturating_duration_since(t) >= LOST_GRACE);
                if self.state == State::Master && settled {
                    tracing::warn!(instance = %self.params.name,
                        "VRRP_Instance({}) {} was deleted: leaving MASTER to take it back",
                        self.params.name, what);
                    self.enter_backup(now, Cause::Lost, &mut out);
                    self.take_over_after_skew(now);
                }
            }
            Event::SetPriority(p) => {
                if p != 0 && p != self.base_priority {
                    let before = self.effective_priority();
                    tracing::info!(instance = %self.params.name,
                        "priority changed from {} to {}", self.base_priority, p);
                    self.base_priority = p;
                    self.reevaluate(now, before, &mut out);
                }
            }
            Event::Sync(cmd) => self.on_sync(now, cmd, &mut out),
            Event::Shutdown => self.on_shutdown(&mut out),
        }
        out
    }

    /// Applies a reloaded configuration to a running instance (the caller matched it with
    /// [`InstanceParams::reload_key`]). The state is kept: a master stays master (unless the
    /// new trackers fault it); tracker states carry over by name; a master whose VIPs changed
    /// gets a non-empty [`VipChange`] (apply it first) and a gratuitous burst when VIPs were
    /// added; a new priority or address list is advertised at once.
    pub fn reconfigure(
        &mut self,
        now: Instant,
        params: InstanceParams,
    ) -> (Vec<Action>, VipChange) {
        let mut out = Vec::new();
        let mut change = VipChange::default();
        let before = self.effective_priority();
        let mut tracking = Tracking::for_params(&params);
        tracking.carry_over(&self.tracking);
        self.tracking = tracking;
        if self.state == State::Master {
            let old_all: Vec<&VirtualIp> = self
                .params
                .vips
                .iter()
                .chain(&self.params.excluded_vips)
                .collect();
            let new_all: Vec<&VirtualIp> =
                params.vips.iter().chain(&params.excluded_vips).collect();
            change.removed = old_all
                .iter()
                .filter(|v| !new_all.contains(v))
                .map(|v| (*v).clone())
                .collect();
            change.added = new_all
                .iter()
                .filter(|v| !old_all.contains(v))
                .map(|v| (*v).clone())
                .collect();
            if !change.added.is_empty() {
                out.push(Action::SendGratuitous {
                    repeat: params.garp.repeat,
                });
            }
            if params.advert_int != self.params.advert_int {
                self.adver_at = Some(now + params.advert_int);
            }
            if params.garp.refresh != self.params.garp.refresh {
                self.garp_refresh_at = params.garp.refresh.map(|r| now + r);
            }
            if params.extra_if_garp != self.params.extra_if_garp {
                self.extra_if_garp_at = params.extra_if_garp.map(|r| now + r);
            }
        }
        if self.state != State::Backup || params.version == Version::V2 {
            self.master_adver_cs = params.advert_int_cs();
        }
        self.base_priority = params.priority;
        let vips_changed = self.params.vips != params.vips;
        self.params = params;
        tracing::info!(instance = %self.params.name, state = %self.state, "configuration reloaded");
        let prio_changed = self.effective_priority() != before;
        self.reevaluate(now, before, &mut out);
        // A master advertises its new address list at once (the priority path already did).
        if self.state == State::Master && vips_changed && !prio_changed {
            self.send_advert(now, &mut out);
        }
        if self.state != State::Master {
            // Faulted by the new trackers: the old VIPs were removed by DelVips.
            change = VipChange::default();
        }
        (out, change)
    }

    fn faulted(&self) -> bool {
        self.tracking.faulted() || self.group_fault
    }

    fn on_start(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.state != State::Init {
            return;
        }
        if !self.params.preempt_delay.is_zero() {
            self.preempt_at = Some(now + self.params.preempt_delay);
        }
        if !self.start_hold_given && !self.params.startup_delay.is_zero() {
            self.start_hold = Some(now + self.params.startup_delay);
        }
        if let Some(h) = self.start_hold.filter(|h| *h > now) {
            tracing::info!(instance = %self.params.name,
                "delaying startup for {:.3} s (vrrp_startup_delay)", (h - now).as_secs_f64());
        }
        let held = self.start_hold.is_some_and(|h| h > now);
        if self.faulted() {
            tracing::warn!(instance = %self.params.name, "fault at start: {}",
                self.tracking.fault_reasons().join(", "));
            self.enter_fault(Cause::Startup, out);
        } else if self.is_owner_master() && held {
            // keepalived: the owner waits in BACKUP for the end of the delay, then takes over.
            self.enter_backup(now, Cause::Startup, out);
            self.master_down_at = self.start_hold;
        } else if self.is_owner_master() {
            self.enter_master(now, Cause::Startup, out);
            self.short_down_timer = Some(Duration::from_micros(1));
        } else {
            self.enter_backup(now, Cause::Startup, out);
        }
    }

    fn is_owner_master(&self) -> bool {
        self.params.initial_state == InitialState::Master
            && self.base_priority == packet::PRIO_OWNER
    }

    fn on_timer(&mut self, now: Instant, out: &mut Vec<Action>) {
        match self.state {
            State::Backup => {
                if self.master_down_at.is_some_and(|t| t <= now) {
                    self.enter_master(now, Cause::MasterDown, out);
                }
            }
            State::Master => {
                if self.adver_at.is_some_and(|t| t <= now) {
                    self.send_advert(now, out);
                }
                if self.garp_delay_at.is_some_and(|t| t <= now) {
                    self.garp_delay_at = None;
                    out.push(Action::SendGratuitous {
                        repeat: self.params.garp.repeat,
                    });
                }
                if let (Some(t), Some(period)) = (self.garp_refresh_at, self.params.garp.refresh) {
                    if t <= now {
                        self.garp_refresh_at = Some(now + period);
                        out.push(Action::SendGratuitous {
                            repeat: self.params.garp.refresh_repeat,
                        });
                    }
                }
                if let (Some(t), Some(period)) = (self.extra_if_garp_at, self.params.extra_if_garp)
                {
                    if t <= now {
                        self.extra_if_garp_at = Some(now + period);
                        out.push(Action::SendExtraIfGratuitous);
                    }
                }
                let owed = self.lower_prio_garp_at.len();
                self.lower_prio_garp_at.retain(|t| *t > now);
                for _ in self.lower_prio_garp_at.len()..owed {
                    if self.params.lower_prio.garp_repeat > 0 {
                        out.push(Action::SendGratuitous {
                            repeat: self.params.lower_prio.garp_repeat,
                        });
                    }
                }
            }
            State::Init | State::Fault | State::Stop => {}
        }
    }

    fn send_advert(&mut self, now: Instant, out: &mut Vec<Action>) {
        let adv = self.advert_to_send(self.effective_priority());
        out.push(Action::SendAdvert(adv));
        self.adver_at = Some(now + self.params.advert_int);
    }

    /// The advert to send at `priority`; with AH, the next sequence number (keepalived:
    /// one more per advert, stuck at 0xfffffffe once it has run out).
    fn advert_to_send(&mut self, priority: u8) -> Advert {
        if self.params.auth.is_ah() && self.params.version == Version::V2 {
            if self.ah_seq > 0xffff_fffd {
                self.ah_cycle = true;
            } else {
                self.ah_seq += 1;
            }
        }
        self.params.advert_seq(priority, self.ah_seq)
    }

    fn count_drop(&mut self, now: Instant, reason: DropReason, meta: &RxMeta) {
        self.stats.record(reason);
        self.warn_drop(now, reason, meta.src);
    }

    /// Tells the operator why adverts are dropped (a password or an interval differing
    /// between routers makes two masters), without `-D`: one warning per reason per
    /// [`limit::DROP_LOG_PERIOD`], the next one with the count of those in between.
    /// Packets that are not VRRP adverts at all (CARP, other AH) stay at debug level.
    fn warn_drop(&mut self, now: Instant, reason: DropReason, src: IpAddr) {
        if reason.is_quiet() || reason == DropReason::VridUnknown {
            tracing::debug!(instance = %self.params.name, src = %src, "advert dropped: {}", reason);
            return;
        }
        match self.drop_log.hit(now, reason) {
            LogVerdict::Quiet => {
                tracing::debug!(instance = %self.params.name, src = %src, "advert dropped: {}", reason)
            }
            LogVerdict::Say { suppressed, since } => {
                let more = match since {
                    Some(t) if suppressed > 0 => format!(
                        " ({suppressed} more since the last such warning {} s ago)",
                        now.saturating_duration_since(t).as_secs()
                    ),
                    _ => String::new(),
                };
                tracing::warn!(instance = %self.params.name, src = %src,
                    "VRRP_Instance({}) advert from {} dropped: {}{more}",
                    self.params.name, src, reason.describe());
            }
        }
    }

    /// v2 AH: the ICV and SPI (with our key), then the sequence number, which must be newer
    /// than the last one sent or accepted; an accepted number becomes the counter (as
    /// keepalived does, before the checks that follow).
    fn check_ah(&mut self, key: &ah::Key, adv: &Advert) -> Result<(), DropReason> {
        let Some(fields) = &adv.ah else {
            return Err(DropReason::AuthType);
        };
        let hdr = ah::verify(&fields.datagram, key, self.params.is_unicast())
            .map_err(|_| DropReason::AuthAh)?;
        if hdr.seq <= self.ah_seq {
            return Err(DropReason::AhSequence);
        }
        self.ah_seq = hdr.seq;
        if self.state == State::Backup {
            self.ah_cycle = false;
        }
        Ok(())
    }

    /// The instance-level receive checks; Err is the drop reason.
    fn check(&mut self, adv: &Advert, meta: &RxMeta) -> Result<(), DropReason> {
        let p = &self.params;
        if adv.vrid != p.vrid {
            return Err(DropReason::VridUnknown);
        }
        if adv.version != p.version || packet::Family::of(&meta.src) != p.family {
            return Err(DropReason::WrongVersion);
        }
        if p.is_unicast() && p.check_unicast_src {
            let Some(peer) = p.unicast_peers.iter().find(|x| x.addr == meta.src) else {
                return Err(DropReason::UnicastPeer);
            };
            if peer.min_ttl.is_some_and(|m| meta.ttl < m)
                || peer.max_ttl.is_some_and(|m| meta.ttl > m)
            {
                return Err(DropReason::Ttl);
            }
        }
        if adv.version == Version::V2 {
            // AH or not, as ours (keepalived checks the IP protocol first), then the type
            // field of the VRRP header.
            if adv.ah.is_some() != p.auth.is_ah() || adv.auth_type != p.auth.auth_type() {
                return Err(DropReason::AuthType);
            }
            match p.auth {
                Auth::Pass(want) if adv.auth_data != want => return Err(DropReason::AuthPass),
                Auth::Ah(key) => self.check_ah(&key, adv)?,
                _ => {}
            }
            let p = &self.params;
            if adv.interval_cs != p.advert_int_cs() {
                return Err(DropReason::IntervalMismatch);
            }
        } else if adv.ah.is_some() {
            return Err(DropReason::AuthType);
        }
        let p = &self.params;
        if !p.skip_check_adv_addr {
            let mut theirs = adv.addrs.clone();
            let mut ours = p.vip_addrs();
            theirs.sort();
            ours.sort();
            if theirs != ours {
                return Err(DropReason::AddrMismatch);
            }
        }
        Ok(())
    }

    fn on_advert(&mut self, now: Instant, adv: &Advert, meta: &RxMeta, out: &mut Vec<Action>) {
        if let Err(reason) = self.check(adv, meta) {
            self.count_drop(now, reason, meta);
            return;
        }
        self.stats.accepted += 1;
        let eff = self.effective_priority();
        match self.state {
            State::Backup => {
                if adv.priority == packet::PRIO_STOP {
                    tracing::info!(instance = %self.params.name, src = %meta.src,
                        "master {} resigned (priority 0): taking over after skew", meta.src);
                    self.master = None;
                    self.take_over_after_skew(now);
                    return;
                }
                let lower = adv.priority < eff;
                let accept = if !lower || self.params.nopreempt {
                    true
                } else if !self.params.preempt_delay.is_zero() {
                    let until = *self
                        .preempt_at
                        .get_or_insert(now + self.params.preempt_delay);
                    now < until
                } else {
                    false
                };
                if !lower {
                    self.preempt_at = None;
                }
                if accept {
                    if adv.version == Version::V3
                        && adv.interval_cs > 0
                        && adv.interval_cs != self.master_adver_cs
                    {
                        tracing::info!(instance = %self.params.name,
                            "adopting the master's advert interval of {} cs", adv.interval_cs);
                        self.master_adver_cs = adv.interval_cs;
                    }
                    self.master = Some((meta.src, adv.priority));
                    let interval = self.master_down_interval();
                    self.master_down_at = Some(self.down_at(now, interval));
                    self.short_down_timer = None;
                }
            }
            State::Master => {
                let no_advert = self.params.lower_prio.no_advert;
                if adv.priority == packet::PRIO_STOP {
                    if no_advert {
                        // keepalived answers, but (lower_prio_no_advert) keeps its schedule.
                        out.push(Action::SendAdvert(self.params.advert(eff)));
                    } else {
                        self.send_advert(now, out);
                    }
                    return;
                }
                let local = self.local_addr;
                let higher = adv.priority > eff
                    || (adv.priority == eff && local.is_none_or(|l| meta.src > l));
                if higher {
                    self.ah_cycle = false;
                    if self.params.higher_prio_send_advert {
                        // Our advert makes the new master (garp_lower_prio_repeat) refresh
                        // the neighbours' caches that last heard us.
                        out.push(Action::SendAdvert(self.params.advert(eff)));
                    }
                    if adv.version == Version::V3 && adv.interval_cs > 0 {
                        self.master_adver_cs = adv.interval_cs;
                    }
                    self.master = Some((meta.src, adv.priority));
                    self.enter_backup(now, Cause::HigherPriority, out);
                } else {
                    // A flood of valid lower-priority adverts must not be amplified: one
                    // burst (and one info line) per advert interval, 1 s at least.
                    let spacing = self.params.advert_int.max(Duration::from_secs(1));
                    let fresh = self.lower_prio_bursts.allow(now, spacing);
                    match fresh {
                        Some(skipped) => {
                            tracing::info!(instance = %self.params.name, src = %meta.src,
                            "lower priority advert ({}, ours {}) received as master{}{}", adv.priority,
                            eff, if no_advert { "" } else { ": asserting" },
                            if skipped > 0 {
                                format!(" ({skipped} more since the last one, answered without a gratuitous ARP/NA burst)")
                            } else {
                                String::new()
                            })
                        }
                        None => tracing::debug!(instance = %self.params.name, src = %meta.src,
                            "lower priority advert ({}) received as master: no gratuitous burst, one was sent less than {spacing:?} ago",
                            adv.priority),
                    }
                    if let Some(a) = &adv.ah {
                        // keepalived: "Syncing seq_num": our next advert goes past theirs.
                        self.ah_seq = a.seq.wrapping_add(1);
                        self.ah_cycle = false;
                    }
                    // Another node thought it was master: assert mastership (unless
                    // lower_prio_no_advert) and refresh the neighbours' ARP / ND caches.
                    if !no_advert {
                        self.send_advert(now, out);
                    }
                    let lp = &self.params.lower_prio;
                    if lp.garp_repeat > 0 && fresh.is_some() {
                        out.push(Action::SendGratuitous {
                            repeat: lp.garp_repeat,
                        });
                        if !lp.garp_delay.is_zero() {
                            self.lower_prio_garp_at.push(now + lp.garp_delay);
                        }
                    }
                    out.push(Action::MasterRxLowerPri {
                        from: meta.src,
                        priority: adv.priority,
                    });
                }
            }
            State::Init | State::Fault | State::Stop => {}
        }
    }

    /// After a tracker or priority change: enter/leave FAULT, or re-advertise a new priority.
    fn reevaluate(&mut self, now: Instant, prio_before: u8, out: &mut Vec<Action>) {
        let faulted = self.faulted();
        match self.state {
            State::Backup | State::Master if faulted => {
                tracing::warn!(instance = %self.params.name, "fault: {}",
                    self.tracking.fault_reasons().join(", "));
                self.enter_fault(Cause::Fault, out)
            }
            State::Fault if !faulted => self.leave_fault(now, Cause::FaultCleared, out),
            State::Master if self.effective_priority() != prio_before => {
                tracing::info!(instance = %self.params.name,
                    "effective priority {} -> {}", prio_before, self.effective_priority());
                self.send_advert(now, out);
                out.push(Action::PriorityChanged {
                    state: State::Master,
                    priority: self.effective_priority(),
                });
            }
            State::Backup if self.effective_priority() != prio_before => {
                tracing::info!(instance = %self.params.name,
                    "effective priority {} -> {}", prio_before, self.effective_priority());
                out.push(Action::PriorityChanged {
                    state: State::Backup,
                    priority: self.effective_priority(),
                });
            }
            _ => {}
        }
    }

    fn on_sync(&mut self, now: Instant, cmd: SyncCmd, out: &mut Vec<Action>) {
        match cmd {
            SyncCmd::Master => {
                if self.state == State::Backup && !self.faulted() {
                    self.enter_master(now, Cause::Sync, out);
                }
            }
            SyncCmd::Backup => {
                if self.state == State::Master {
                    self.enter_backup(now, Cause::Sync, out);
                }
            }
            SyncCmd::Fault(f) => {
                self.group_fault = f;
                match self.state {
                    State::Backup | State::Master if f => self.enter_fault(Cause::Sync, out),
                    State::Fault if !self.faulted() => self.leave_fault(now, Cause::Sync, out),
                    _ => {}
                }
            }
        }
    }

    fn on_shutdown(&mut self, out: &mut Vec<Action>) {
        if self.state == State::Stop {
            return;
        }
        if self.state == State::Master {
            let adv = self.advert_to_send(packet::PRIO_STOP);
            out.push(Action::SendAdvert(adv));
            out.push(Action::DelVips);
        }
        self.set_state(State::Stop, Cause::Shutdown, out);
        self.clear_timers();
        self.master_down_at = None;
    }

    fn clear_timers(&mut self) {
        self.adver_at = None;
        self.garp_delay_at = None;
        self.garp_refresh_at = None;
        self.extra_if_garp_at = None;
        self.lower_prio_garp_at.clear();
        self.lower_prio_bursts.reset();
    }

    fn set_state(&mut self, to: State, cause: Cause, out: &mut Vec<Action>) {
        let from = self.state;
        self.state = to;
        if from != State::Init {
            self.wants_master = false;
        }
        self.short_down_timer = None;
        let prio = self.effective_priority();
        // The runtime logs the change (one line), after any advert is on the wire.
        out.push(Action::StateChange { from, to, cause });
        out.push(Action::Notify {
            state: to,
            priority: prio,
        });
    }

    fn enter_master(&mut self, now: Instant, cause: Cause, out: &mut Vec<Action>) {
        // Order: state change, advert, VIPs, gratuitous burst, notify.
        let from = self.state;
        self.state = State::Master;
        self.master_at = Some(now);
        self.wants_master = false;
        if self.ah_cycle {
            // keepalived resets an exhausted AH counter on becoming master.
            self.ah_cycle = false;
            self.ah_seq = 0;
        }
        let prio = self.effective_priority();
        out.push(Action::StateChange {
            from,
            to: State::Master,
            cause,
        });
        self.master = None;
        self.master_down_at = None;
        self.preempt_at = None;
        self.master_adver_cs = self.params.advert_int_cs();
        self.send_advert(now, out);
        out.push(Action::AddVips);
        out.push(Action::SendGratuitous {
            repeat: self.params.garp.repeat,
        });
        self.garp_delay_at =
            (!self.params.garp.delay.is_zero()).then(|| now + self.params.garp.delay);
        self.garp_refresh_at = self.params.garp.refresh.map(|r| now + r);
        self.extra_if_garp_at = self.params.extra_if_garp.map(|r| now + r);
        out.push(Action::Notify {
            state: State::Master,
            priority: prio,
        });
    }

    /// A BACKUP's master-down timer set to the skew time alone (keepalived's
    /// VRRP_TIMER_SKEW: a master resigned, or an address of this one was deleted), shown
    /// so in the dump.
    fn take_over_after_skew(&mut self, now: Instant) {
        let skew = self.skew();
        self.master_down_at = Some(self.down_at(now, skew));
        self.short_down_timer = Some(skew);
    }

    fn enter_backup(&mut self, now: Instant, cause: Cause, out: &mut Vec<Action>) {
        let from = self.state;
        if from == State::Master {
            out.push(Action::DelVips);
        }
        self.clear_timers();
        if from != State::Master {
            self.master_adver_cs = self.params.advert_int_cs();
        }
        self.set_state(State::Backup, cause, out);
        let interval = self.master_down_interval();
        self.master_down_at = Some(self.down_at(now, interval));
    }

    fn enter_fault(&mut self, cause: Cause, out: &mut Vec<Action>) {
        if self.state == State::Master {
            let adv = self.advert_to_send(packet::PRIO_STOP);
            out.push(Action::SendAdvert(adv));
            out.push(Action::DelVips);
        }
        self.clear_timers();
        self.master_down_at = None;
        self.master = None;
        self.set_state(State::Fault, cause, out);
    }

    fn leave_fault(&mut self, now: Instant, cause: Cause, out: &mut Vec<Action>) {
        if self.is_owner_master() {
            self.enter_master(now, cause, out);
        } else {
            self.enter_backup(now, cause, out);
        }
    }
}
