//! The simulation loop: wires sim-tcp hosts, access links and the workload's
//! applications to sim-core's scheduler.
//!
//! # Topology
//!
//! A star (DESIGN.md): host `h` (numbered across groups in file order) has the IPv4
//! address `10.0.0.0 + h + 1` and two access links to a central switch, an up-link
//! (host → switch) and a down-link (switch → host), both with its group's `link`
//! configuration. A segment from A to B crosses A's up-link at its send time, then B's
//! down-link when it reaches the switch. Silent destinations (worm-scan targets) get
//! the addresses after the last host; segments to them are dropped at the switch.
//!
//! # Events
//!
//! One scheduler deadline per host (id = host index) tracks its TCP stack's earliest
//! timer, re-armed after every call into the host. Events: a group's next open-loop
//! arrival, a closed-loop slot's next start, a segment reaching the switch, a segment
//! reaching its host, a `timeseries.csv` sample, and the end of arrivals.
//!
//! # Randomness (each a [`MasterSeed::stream`] named stably)
//!
//! `arrivals:<group>` (Poisson inter-arrival times), `choice:<group>` (client host,
//! destination, `client_vanish`, spoofed addresses), `link:<group>/<i>:up` and
//! `link:<group>/<i>:down` (each link's loss and jitter), and per host the sub-seed
//! `host:<group>/<i>` (ISN secret, port perturbation).
//!
//! # Applications
//!
//! The client connects and sends `request_bytes`; the server reads them all and
//! answers `response_bytes`. `closer` decides who closes first: the client once it
//! has the whole response, the server right after answering, or both at the instant
//! the client has the response. The other side closes when it reads the FIN. Each
//! side closes in its own mode (`close`, `shutdown`, `abort`, `linger:N`, `never`).
//! An error (reset, time-out, refusal) ends a side: the stack has freed the socket.

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;

use analysis::quantiles::ExactQuantiles;
use analysis::schema::{Outcome, StatesRow, SummaryRow, TimeseriesRow, TransitionRow};
use sim_core::link::Verdict;
use sim_core::rng::{below, chance, exponential};
use sim_core::{Fired, LaneId, MasterSeed, Sim, SimDuration, SimTime, StreamRng};
use sim_tcp::{
    Addr, AppEvent, ConnId, ConnectStep, DemuxHint, Errno, ExpiryStep, Flags, Host, Linger, Path,
    Segment, Seq, SockAddr, SocketId, State, Stats,
};

use crate::error::CliError;
use crate::output::{ConnectionLine, CsvOut, csv_field, destination_text, ending_text};
use crate::pcap::PcapOut;
use crate::spec::{CloseMode, Closer, GroupConfig, LinkConfig, Role, Scenario};

/// 10.0.0.0: host `h` is `NET_BASE + h + 1`.
const NET_BASE: u32 = 10 << 24;
/// 172.16.0.0/12: spoofed SYN-flood sources; no host has such an address.
const SPOOF_BASE: u32 = 0xAC10_0000;
/// Connection ids of spoofed SYNs have this bit set (never a `connections.csv` row).
const SPOOF_CONN: u64 = 1 << 63;
/// Progress callback granularity, in processed events.
const PROGRESS_EVERY: u64 = 1 << 12;

/// Where the streaming outputs go.
pub struct Sinks<'a> {
    pub timeseries: &'a mut CsvOut,
    pub connections: &'a mut CsvOut,
    pub transitions: Option<&'a mut CsvOut>,
    pub pcap: Option<&'a mut PcapOut>,
    /// Called now and then with the current virtual time.
    pub progress: &'a mut dyn FnMut(SimTime),
}

/// What a run produced besides the streamed tables.
pub struct Results {
    pub summary: SummaryRow,
    pub states: Vec<StatesRow>,
}

/// The virtual time at which a run stops at the latest: `run.duration + drain`.
pub fn horizon(sc: &Scenario) -> SimTime {
    SimTime::ZERO
        .saturating_add(sc.run.duration)
        .saturating_add(sc.drain())
}

/// Runs the scenario, streaming `timeseries.csv`, `connections.csv`,
/// `transitions.csv` and the pcap into `sinks`.
pub fn simulate<'a>(sc: &'a Scenario, trace: bool, sinks: Sinks<'a>) -> Result<Results, CliError> {
    let mut w = World::new(sc, trace, sinks)?;
    w.run()?;
    Ok(w.results())
}

#[derive(Debug)]
enum Ev {
    /// The next open-loop arrival of a client or attacker group.
    Arrival(u32),
    /// A closed-loop slot of a client group starts its next connection.
    Start { group: u32, slot: u32 },
    /// A segment (its `Wire` slot) has crossed its sender's up-link.
    AtSwitch(u32),
    /// A segment has crossed its sender's up-link, to be dropped by its
    /// receiver's down-link or addressed to nobody: known when it was sent (see
    /// [`World::two_hop`]), so only the event is left.
    Lost,
    /// A segment (its `Wire` slot) has crossed its receiver's down-link.
    Deliver { host: u32, seg: u32 },
    /// Take a `timeseries.csv` sample.
    Sample,
    /// `run.duration` has passed: no connection starts any more.
    ArrivalsEnd,
}

/// A host with its two access links, side by side in memory (2,240 bytes). A segment
/// touches its sender's up-link and its receiver's down-link along with the hosts,
/// and with thousands of client hosts taking turns, links in an array of their own
/// were, most likely, one more page and cache line to fetch at each turn
/// (`scripts/ab.sh`, lossy client-close at 10^6: wall 0.976, 0.980 and 0.990 in
/// three batches of 10 rounds, the same outputs).
struct Node {
    host: Host,
    /// Host → switch.
    up: Link,
    /// Switch → host.
    down: Link,
}

/// A one-way access link with its own random stream.
struct Link {
    link: sim_core::link::Link,
    rng: StreamRng,
}

impl Link {
    fn new(cfg: &LinkConfig, rng: StreamRng) -> Result<Link, CliError> {
        let link = sim_core::link::Link::new(cfg)
            .map_err(|e| CliError::bad_input(format!("link: {e}")))?;
        Ok(Link { link, rng })
    }

    /// What the link does with `seg` handed to it at `now`.
    fn pass(&mut self, now: SimTime, seg: &Segment) -> Verdict {
        self.link
            .transmit_sized(now, || wire_bytes(seg), &mut self.rng)
    }
}

/// The segments on the wire, in a slab whose slots are reused: events carry a
/// 4-byte slot instead of the 56-byte segment, so the scheduler moves 32-byte
/// entries. Lookup only: slots are never iterated.
#[derive(Default)]
struct Wire {
    segs: Vec<Segment>,
    free: Vec<u32>,
}

impl Wire {
    fn put(&mut self, seg: Segment) -> u32 {
        match self.free.pop() {
            Some(i) => {
                self.segs[i as usize] = seg;
                i
            }
            None => {
                self.segs.push(seg);
                u32::try_from(self.segs.len() - 1).expect("fewer than 2^32 segments in flight")
            }
        }
    }

    /// The segment in slot `i`, read in place (a segment is 64 bytes).
    fn get(&self, i: u32) -> &Segment {
        &self.segs[i as usize]
    }

    /// Slot `i` is free again.
    fn free(&mut self, i: u32) {
        self.free.push(i);
    }
}

/// Bytes a segment occupies on the wire for the bandwidth model: IPv4 and TCP
/// headers (20 + 20), the MSS option (4) and the timestamps option (12, padded), and
/// the payload.
fn wire_bytes(seg: &Segment) -> u32 {
    40 + seg.len + if seg.mss.is_some() { 4 } else { 0 } + if seg.ts.is_some() { 12 } else { 0 }
}

struct GroupRt {
    cfg: GroupConfig,
    first_host: u32,
    stats: Stats,
    arrivals: StreamRng,
    /// Open loop: the mean time between arrivals (`1 / rate`, rounded to the
    /// nanosecond once).
    arrival_mean: Option<SimDuration>,
    choice: StreamRng,
    /// Open loop: the next connections' draws, made ahead (see [`World::start`]).
    ahead: VecDeque<Choice>,
    /// Connections started (attackers: spoofed SYNs sent), for `workload.count`.
    attempts: u64,
}

impl GroupRt {
    /// `workload.count` attempts made: the group starts no more.
    fn quota_reached(&self) -> bool {
        self.cfg.workload.count.is_some_and(|n| self.attempts >= n)
    }

    /// Draws a connection's [`Choice`] among `targets` destinations; its client
    /// host is drawn too unless given (closed loop: the slot's).
    fn draw(&mut self, host: Option<u32>, targets: u64) -> Choice {
        let host = host.unwrap_or_else(|| below(&mut self.choice, self.cfg.count.into()) as u32);
        let pick = below(&mut self.choice, targets);
        let p = self.cfg.workload.client_vanish.0;
        let vanish = p > 0.0 && chance(&mut self.choice, p);
        Choice { host, pick, vanish }
    }
}

/// A connection's draws from its group's `choice` stream, in stream order: the
/// client host (index in the group), the destination ([`World::destination`]),
/// whether the client vanishes.
#[derive(Clone, Copy)]
struct Choice {
    host: u32,
    pick: u64,
    vanish: bool,
}

/// How many open-loop connections' [`Choice`]s are drawn ahead: their client
/// hosts' state is fetched into cache in two steps, one connection apart
/// ([`World::prefetch_starts`]).
const DRAW_AHEAD: usize = 2;

/// What a `connections.csv` row's [`ending_text`] is made of: both sides' paths,
/// the outcome and the active closer (its text's first byte, which tells the four
/// apart).
#[derive(Clone, Copy, PartialEq, Eq)]
struct EndingKey {
    paths: [u64; 2],
    outcome: Outcome,
    closer: u8,
}

// Side bits (one byte per side in `Conn::bits`).
/// The application called close (any mode): it holds the socket no more.
const CLOSED: u8 = 1;
/// The application shut down its write side and still holds the socket.
const SHUT: u8 = 2;
/// The exchange is done on this side (client: response read; server: answered).
const DONE: u8 = 4;
/// The socket ended with a RST it sent itself (SO_LINGER 0, unread data).
const ABORTED: u8 = 8;
/// It sent its FIN before receiving the peer's (an active closer).
const FIN_FIRST: u8 = 16;
/// The socket is gone: its `SocketRecord` arrived (`path` is set, the rest of the
/// record is folded into the connection's sums).
const ENDED: u8 = 32;
/// The side got a socket (connect() succeeded, or the server accepted).
const HAS_SOCK: u8 = 64;

// Connection bits (in `Conn::flags`).
/// The client host drops off the network after sending its request.
const VANISH: u8 = 1;
/// It has: every segment of this connection is dropped.
const SILENCED: u8 = 2;
const PORT_EXHAUSTED: u8 = 4;

/// "No value" of the optional `u32` fields (`server_host`, `slot`).
const NONE_U32: u32 = u32::MAX;

/// A connection in flight: 96 bytes, stored inline in the connection slab, since a
/// run holds one per TIME_WAIT socket (a million at once in big runs). Per-side
/// fields are arrays indexed by [`Who`]; optional values use sentinels (see each
/// field); strings are built only when the row is written.
#[derive(Clone, Copy)]
struct Conn {
    opened: SimTime,
    /// `SimTime::MAX` until established.
    established: SimTime,
    /// Sums over the two sockets' records, as they arrive.
    bytes_discarded: u64,
    /// Per side: the socket handle's bits (`SocketId::to_bits`) while the socket
    /// lives (`HAS_SOCK`), then the bits of the states it went through
    /// (`Path::bits`) once it is gone (`ENDED`).
    handle: [u64; 2],
    /// Payload bytes each application read.
    received: [u64; 2],
    group: u32,
    client_host: u32,
    /// The destination host; `NONE_U32` for a silent destination.
    server_host: u32,
    /// The closed-loop slot (`NONE_U32`: open loop, or already restarted).
    slot: u32,
    dst: SockAddr,
    retransmits: u32,
    stale_accepted: u32,
    /// The client socket's port; 0 if it has none (ephemeral ports are never 0).
    client_port: u16,
    /// The first error each application saw or its socket ended with.
    error: [Option<Errno>; 2],
    /// Side bits (`CLOSED`, `SHUT`, ...).
    bits: [u8; 2],
    /// `VANISH`, `SILENCED`, `PORT_EXHAUSTED`.
    flags: u8,
}

fn some_u32(x: u32) -> Option<u32> {
    (x != NONE_U32).then_some(x)
}

fn some_time(t: SimTime) -> Option<SimTime> {
    (t != SimTime::MAX).then_some(t)
}

impl Conn {
    fn has(&self, who: Who, bit: u8) -> bool {
        self.bits[who as usize] & bit != 0
    }
    fn set(&mut self, who: Who, bit: u8) {
        self.bits[who as usize] |= bit;
    }
    fn flag(&self, bit: u8) -> bool {
        self.flags & bit != 0
    }
    /// The side's socket handle, if it got one. Once the socket is gone
    /// (`ENDED`) that is `SocketId::DETACHED`, which the host treats exactly as the
    /// stale handle: every call on it fails with `EBADF` or does nothing.
    fn sock(&self, who: Who) -> Option<SocketId> {
        if !self.has(who, HAS_SOCK) {
            None
        } else if self.has(who, ENDED) {
            Some(SocketId::DETACHED)
        } else {
            Some(SocketId::from_bits(self.handle[who as usize]))
        }
    }
    fn set_sock(&mut self, who: Who, sock: SocketId) {
        self.handle[who as usize] = sock.to_bits();
        self.set(who, HAS_SOCK);
    }
    fn path(&self, who: Who) -> Option<Path> {
        self.has(who, ENDED)
            .then(|| Path::from_bits(self.handle[who as usize]))
    }
    /// Records `e` unless the side already saw an error.
    fn error_once(&mut self, who: Who, e: Errno) {
        self.error[who as usize].get_or_insert(e);
    }
    fn established(&self) -> Option<SimTime> {
        some_time(self.established)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Who {
    Client = 0,
    Server = 1,
}

#[derive(Default)]
struct Totals {
    attempted: u64,
    established: u64,
    outcomes: [u64; 8],
    bytes_requested: u64,
    bytes_delivered: u64,
    bytes_discarded: u64,
    /// Connect times (ns), for the exact quantiles, in memory that grows with
    /// the distinct times rather than the connections where times repeat.
    connect_ns: ExactQuantiles,
    /// Peaks of the all-groups totals, checked after every event: memory bytes,
    /// TIME_WAIT sockets, ports in use.
    peak_memory: u64,
    peak_time_wait: u64,
    peak_ports: u64,
}

struct World<'a> {
    sc: &'a Scenario,
    sim: Sim<Ev>,
    /// One scheduler lane per distinct link delay (see [`World::schedule`]).
    lanes: Vec<(SimDuration, LaneId)>,
    /// The one lane, when every link delays every segment it passes by the same
    /// fixed time ([`sim_core::link::Link::delays_exactly`]): a segment then
    /// crosses both links when it is sent, since each link's passes happen in the
    /// same order either way, and the scheduler moves it on at the switch
    /// ([`Sim::schedule_in_lane_twice_at`]) in the place an `AtSwitch` event would
    /// have re-scheduled it. Same results, one event fewer to handle per segment.
    two_hop: Option<LaneId>,
    /// Host `h` and its access links.
    nodes: Vec<Node>,
    host_group: Vec<u32>,
    wire: Wire,
    groups: Vec<GroupRt>,
    /// Server host indices, all server groups in order.
    servers: Vec<u32>,
    /// Connections in flight, in a slab whose free slots are reused.
    conns: Vec<Conn>,
    free_conns: Vec<u32>,
    /// Slab slot of connection id `conn_base + i + 1` (`NONE_U32` once it is
    /// finalized). Every id up to `conn_base` is finalized: the window moves on as
    /// the oldest connections finish, so it spans the connections in flight, not
    /// all connections of the run.
    conn_slot: VecDeque<u32>,
    conn_base: u64,
    active: u64,
    arrivals_open: bool,
    /// Whether any group's clients may vanish (`workload.client_vanish` > 0).
    vanishing: bool,
    dirty: Vec<u32>,
    /// The last host deadline expired a TIME_WAIT socket (see
    /// [`World::prefetch_expiries`]).
    expiring: bool,
    trace: bool,
    sinks: Sinks<'a>,
    totals: Totals,
    horizon: SimTime,
    end: SimTime,
    /// Host names (`group/index`), by host index.
    names: Vec<String>,
    /// The same as `connections.csv` fields ([`csv_field`]), formatted once.
    name_fields: Vec<Box<[u8]>>,
    /// `connections.csv`'s `server` and `server_port` fields
    /// ([`destination_text`]), by host index and then port (a few per host),
    /// formatted once ([`interned`]).
    destination_fields: Vec<Vec<(u16, Box<[u8]>)>>,
    /// Its `outcome`, `active_closer`, `client_path` and `server_path` fields
    /// ([`ending_text`]), formatted once under their [`EndingKey`] ([`interned`]):
    /// few distinct endings occur (two in the 10^6 connections of issue 7's run).
    ending_fields: Vec<(EndingKey, Box<[u8]>)>,
    /// The longest close() that blocked (SO_LINGER), by connection id: kept apart
    /// since few connections have one.
    close_blocked: BTreeMap<u64, SimDuration>,
}

/// Appends the host's `group/index` name for `addr` (from `names`, one per host),
/// else the IPv4 address.
fn write_peer(out: &mut String, names: &[String], addr: Addr) {
    match host_of(addr, names.len()) {
        Some(h) => out.push_str(&names[h as usize]),
        None => {
            // Writing into a String cannot fail.
            let _ = write!(out, "{addr}");
        }
    }
}

/// The index in `texts` of the text formatted for `key`, formatting it with `make`
/// on first use. Texts stay in order of first use: few distinct keys occur, and the
/// common ones come first, so a scan finds one sooner than a map would.
fn interned<K: PartialEq>(
    texts: &mut Vec<(K, Box<[u8]>)>,
    key: K,
    make: impl FnOnce() -> Box<[u8]>,
) -> usize {
    texts
        .iter()
        .position(|(k, _)| *k == key)
        .unwrap_or_else(|| {
            texts.push((key, make()));
            texts.len() - 1
        })
}

fn host_of(addr: Addr, hosts: usize) -> Option<u32> {
    let i = addr.0.wrapping_sub(NET_BASE + 1);
    (u64::from(i) < hosts as u64).then_some(i)
}

fn host_addr(h: u32) -> Addr {
    Addr(NET_BASE + h + 1)
}

impl<'a> World<'a> {
    fn new(sc: &'a Scenario, trace: bool, sinks: Sinks<'a>) -> Result<World<'a>, CliError> {
        let master = MasterSeed(sc.run.seed);
        let mut groups = Vec::with_capacity(sc.resolved.len());
        let mut nodes = Vec::with_capacity(sc.resolved.iter().map(|g| g.count as usize).sum());
        let mut host_group = Vec::new();
        let mut servers = Vec::new();
        let mut names = Vec::new();
        for (gi, gc) in sc.resolved.iter().enumerate() {
            let first_host = u32::try_from(nodes.len()).expect("validated host count");
            for i in 0..gc.count {
                let h = first_host + i;
                let name = format!("{}/{i}", gc.name);
                names.push(name.clone());
                let link = |dir: &str| {
                    let rng = master.stream(&format!("link:{name}:{dir}"));
                    Link::new(&gc.link, rng)
                };
                nodes.push(Node {
                    host: Host::new(
                        host_addr(h),
                        gc.tcp.clone(),
                        sc.cost.clone(),
                        master.sub_seed(&format!("host:{name}")),
                    ),
                    up: link("up")?,
                    down: link("down")?,
                });
                host_group.push(gi as u32);
                if gc.role == Role::Server {
                    servers.push(h);
                }
            }
            groups.push(GroupRt {
                cfg: gc.clone(),
                first_host,
                stats: if trace {
                    Stats::with_trace()
                } else {
                    Stats::new()
                },
                arrivals: master.stream(&format!("arrivals:{}", gc.name)),
                arrival_mean: gc.rate().map(|r| SimDuration::from_secs_f64(1.0 / r)),
                choice: master.stream(&format!("choice:{}", gc.name)),
                ahead: VecDeque::new(),
                attempts: 0,
            });
        }
        let mut sim = Sim::new();
        let mut lanes: Vec<(SimDuration, LaneId)> = Vec::new();
        for gc in &sc.resolved {
            if !lanes.iter().any(|&(d, _)| d == gc.link.delay) {
                lanes.push((gc.link.delay, sim.add_lane(gc.link.delay)));
            }
        }
        let two_hop = match *lanes {
            [(_, lane)]
                if nodes
                    .iter()
                    .all(|n| n.up.link.delays_exactly() && n.down.link.delays_exactly()) =>
            {
                Some(lane)
            }
            _ => None,
        };
        let mut w = World {
            sc,
            sim,
            lanes,
            two_hop,
            nodes,
            host_group,
            wire: Wire::default(),
            groups,
            servers,
            conns: Vec::new(),
            free_conns: Vec::new(),
            conn_slot: VecDeque::new(),
            conn_base: 0,
            active: 0,
            arrivals_open: true,
            vanishing: sc.resolved.iter().any(|g| g.workload.client_vanish.0 > 0.0),
            dirty: Vec::new(),
            expiring: false,
            trace,
            sinks,
            totals: Totals::default(),
            horizon: horizon(sc),
            end: SimTime::ZERO,
            name_fields: names.iter().map(|n| csv_field(n)).collect(),
            destination_fields: vec![Vec::new(); names.len()],
            names,
            ending_fields: Vec::new(),
            close_blocked: BTreeMap::new(),
        };
        w.setup()?;
        Ok(w)
    }

    /// Listeners, the first arrivals and closed-loop starts, samples, the end of
    /// arrivals.
    fn setup(&mut self) -> Result<(), CliError> {
        let mut ports: Vec<u16> = self
            .groups
            .iter()
            .filter(|g| g.cfg.role != Role::Server)
            .map(|g| g.cfg.workload.service_port)
            .collect();
        ports.sort_unstable();
        ports.dedup();
        for i in 0..self.servers.len() {
            let h = self.servers[i];
            let g = self.host_group[h as usize] as usize;
            for &port in &ports {
                self.nodes[h as usize]
                    .host
                    .listen(SimTime::ZERO, port, &mut self.groups[g].stats)
                    .map_err(|e| CliError::other(format!("listen on port {port}: {e}")))?;
            }
            self.dirty.push(h);
        }
        for g in 0..self.groups.len() {
            let cfg = &self.groups[g].cfg;
            if cfg.role == Role::Server {
                continue;
            }
            match (cfg.rate(), cfg.workload.concurrency) {
                (Some(_), _) => self.schedule_arrival(g as u32),
                (None, Some(n)) => {
                    for slot in 0..n {
                        self.schedule(
                            SimTime::ZERO,
                            Ev::Start {
                                group: g as u32,
                                slot,
                            },
                        );
                    }
                }
                (None, None) => unreachable!("rate() defaults when neither is set"),
            }
        }
        self.schedule(SimTime::ZERO, Ev::Sample);
        self.schedule(SimTime::ZERO + self.sc.run.duration, Ev::ArrivalsEnd);
        self.settle()
    }

    /// Schedules `ev` at `at`. An event exactly one link delay ahead (a segment
    /// crossing a link without jitter, queueing or extra delay: nearly all of them)
    /// goes through that delay's FIFO lane, which fires it in the same order as the
    /// heap would, for less (`sim_core::lane`). Always inlined: once per segment
    /// hop, and the lane path is a few dozen instructions (the heap path is a call).
    #[inline(always)]
    fn schedule(&mut self, at: SimTime, ev: Ev) {
        let ahead = at - self.sim.now();
        // One delay (the common case) is one comparison, not a search.
        let lane = match *self.lanes {
            [(d, lane)] => (d == ahead).then_some(lane),
            ref lanes => lanes.iter().find(|&&(d, _)| d == ahead).map(|&(_, l)| l),
        };
        match lane {
            Some(lane) => self.sim.schedule_in_lane_at(lane, at, ev),
            None => self
                .sim
                .schedule(at, ev)
                .expect("events are scheduled at or after now"),
        }
    }

    /// The group's next Poisson arrival, unless arrivals are over (`run.duration`,
    /// `workload.count`).
    fn schedule_arrival(&mut self, g: u32) {
        let grp = &mut self.groups[g as usize];
        if grp.quota_reached() {
            return;
        }
        let mean = grp.arrival_mean.expect("open-loop group");
        let at = self.sim.now() + exponential(&mut grp.arrivals, mean);
        if at < SimTime::ZERO + self.sc.run.duration {
            self.schedule(at, Ev::Arrival(g));
        }
    }

    fn run(&mut self) -> Result<(), CliError> {
        let mut next_progress = PROGRESS_EVERY;
        loop {
            let Some(fired) = self.sim.step_until(self.horizon) else {
                self.end = self.horizon;
                break;
            };
            match fired {
                Fired::Deadline(h) => {
                    if self.expiring {
                        self.prefetch_expiries();
                    }
                    let g = self.host_group[h] as usize;
                    let stats = &mut self.groups[g].stats;
                    let held = stats.count(State::TimeWait);
                    self.nodes[h].host.on_timeout(self.sim.now(), stats);
                    self.expiring = stats.count(State::TimeWait) < held;
                    self.dirty.push(h as u32);
                }
                Fired::Event(ev) => self.event(ev)?,
            }
            self.settle()?;
            if !self.arrivals_open && self.active == 0 {
                self.end = self.sim.now();
                break;
            }
            if self.sim.events_processed() >= next_progress {
                next_progress += PROGRESS_EVERY;
                (self.sinks.progress)(self.sim.now());
            }
        }
        self.finish()
    }

    /// When a host deadline fires after one that expired a TIME_WAIT socket,
    /// prefetches for the next two host deadlines before handling this one,
    /// assuming each is an expiry too (mostly so once arrivals stop, when a run
    /// is a string of them): the second's expiring mini-socket, and the next
    /// one's 4-tuple table slot and connection record, read from its
    /// mini-socket, which came in a step earlier as the second. The misses of
    /// one expiry overlap the work of the one before. A hint: results are the
    /// same whatever it fetches.
    fn prefetch_expiries(&self) {
        let [next, second] = self.sim.next_deadline_ids();
        if let Some(h) = second {
            self.nodes[h].host.prefetch_expiry(ExpiryStep::Socket);
        }
        if let Some(conn) =
            next.and_then(|h| self.nodes[h].host.prefetch_expiry(ExpiryStep::Lookup))
            && let Some(s) = self.slot_of(conn)
        {
            sim_core::prefetch::prefetch(&self.conns[s]);
        }
    }

    fn event(&mut self, ev: Ev) -> Result<(), CliError> {
        let now = self.sim.now();
        match ev {
            Ev::Arrival(g) => {
                if self.groups[g as usize].cfg.role == Role::Attacker {
                    self.spoofed_syn(g)?;
                } else {
                    self.start(g, None)?;
                }
                self.schedule_arrival(g);
            }
            Ev::Start { group, slot } => {
                if self.arrivals_open {
                    self.start(group, Some(slot))?;
                }
            }
            Ev::AtSwitch(slot) => {
                let seg = *self.wire.get(slot); // a copy: `switch` borrows all of `self`
                match self.switch(now, &seg) {
                    Some((h, verdict)) => {
                        self.forward(verdict, slot, |seg| Ev::Deliver { host: h, seg })
                    }
                    None => self.wire.free(slot),
                }
            }
            Ev::Lost => {}
            Ev::Deliver { host, seg: slot } => {
                let seg = self.wire.get(slot);
                if !self.is_silenced_client(seg.conn, host) {
                    let g = self.host_group[host as usize] as usize;
                    self.nodes[host as usize]
                        .host
                        .on_segment(now, seg, &mut self.groups[g].stats);
                    self.dirty.push(host);
                }
                self.wire.free(slot);
            }
            Ev::Sample => {
                self.sample()?;
                let next = now + self.sc.run.sample_every;
                if next <= self.horizon {
                    self.schedule(next, Ev::Sample);
                }
            }
            Ev::ArrivalsEnd => self.arrivals_open = false,
        }
        Ok(())
    }

    /// Flushes every host touched since the last call: segments out, application
    /// events handled (which may touch more hosts), deadlines re-armed; then the
    /// transitions recorded meanwhile go to `transitions.csv`. Nothing to do after
    /// an event that called no host (a segment reached the switch, a sample): no
    /// counter or transition changed, and that check is all such an event pays.
    #[inline(always)]
    fn settle(&mut self) -> Result<(), CliError> {
        if self.dirty.is_empty() {
            return Ok(());
        }
        self.settle_dirty()
    }

    /// [`World::settle`] once some host was called.
    #[inline(never)]
    fn settle_dirty(&mut self) -> Result<(), CliError> {
        let mut last = NONE_U32;
        while let Some(h) = self.dirty.pop() {
            // A host popped again right after its flush (the applications' calls
            // into it during the flush pushed it: a quarter of all pops) has
            // nothing to flush: the flush left it drained, with its deadline
            // re-armed last, and nothing has run since.
            if h != last {
                self.flush(h)?;
                last = h;
            } else {
                debug_assert!(self.is_settled(h), "host {h} skipped with work");
            }
        }
        let (memory, time_wait, ports) = self.gauges();
        let t = &mut self.totals;
        t.peak_memory = t.peak_memory.max(memory);
        t.peak_time_wait = t.peak_time_wait.max(time_wait);
        t.peak_ports = t.peak_ports.max(ports);
        if self.trace {
            self.write_transitions()?;
        }
        Ok(())
    }

    /// Modelled memory, TIME_WAIT sockets and ports held, summed over the groups.
    #[inline(always)]
    fn gauges(&self) -> (u64, u64, u64) {
        let of = |g: &GroupRt| {
            let s = &g.stats;
            (s.memory.current, s.count(State::TimeWait), s.ports.current)
        };
        // Two groups (clients and a server: the usual run) skip the loop's set-up:
        // this runs after every event.
        if let [a, b] = &self.groups[..] {
            let ((ma, ta, pa), (mb, tb, pb)) = (of(a), of(b));
            return (ma + mb, ta + tb, pa + pb);
        }
        // By index: iterating the slice would first divide its length in bytes
        // by the size of a group.
        (0..self.groups.len()).fold((0, 0, 0), |(m, t, p), i| {
            let (gm, gt, gp) = of(&self.groups[i]);
            (m + gm, t + gt, p + gp)
        })
    }

    /// Whether host `h` has nothing to flush: no segment, no event, and its
    /// deadline armed at its earliest timer (a check of `settle_dirty`'s skip in
    /// debug builds).
    fn is_settled(&mut self, h: u32) -> bool {
        let host = &mut self.nodes[h as usize].host;
        host.poll_transmit().is_none()
            && host.poll_event().is_none()
            && self.sim.deadline(h as usize) == host.poll_timeout()
    }

    fn flush(&mut self, h: u32) -> Result<(), CliError> {
        loop {
            self.drain_transmit(h)?;
            let mut any = false;
            while let Some((sock, conn, ev)) = self.nodes[h as usize].host.poll_event() {
                any = true;
                self.app_event(h, sock, conn, ev)?;
            }
            // Only the applications' calls queue segments after the drain: with
            // no event, the host has none.
            if !any {
                break;
            }
        }
        let at = self.nodes[h as usize].host.poll_timeout();
        self.sim
            .update_deadline(h as usize, at)
            .map_err(|e| CliError::other(format!("host {h}: {e}")))
    }

    /// Sends every segment host `h` has queued.
    fn drain_transmit(&mut self, h: u32) -> Result<(), CliError> {
        while let Some(seg) = self.nodes[h as usize].host.poll_transmit() {
            self.transmit(h, seg)?;
        }
        Ok(())
    }

    /// A segment leaves host `h` (its pcap record is taken here, as transmitted).
    fn transmit(&mut self, h: u32, seg: Segment) -> Result<(), CliError> {
        let now = self.sim.now();
        if let Some(p) = self.sinks.pcap.as_deref_mut() {
            p.write(now, &seg)?;
        }
        if self.is_silenced(seg.conn) {
            return Ok(());
        }
        let verdict = self.nodes[h as usize].up.pass(now, &seg);
        if let (Some(lane), Verdict::Deliver(at)) = (self.two_hop, verdict) {
            match self.switch(at, &seg) {
                Some((host, Verdict::Deliver(arrival))) => {
                    debug_assert_eq!(arrival, at + self.sim.lane_delay(lane));
                    let seg = self.wire.put(seg);
                    let ev = Ev::Deliver { host, seg };
                    self.sim.schedule_in_lane_twice_at(lane, at, ev);
                }
                _ => self.sim.schedule_in_lane_at(lane, at, Ev::Lost),
            }
            return Ok(());
        }
        let slot = self.wire.put(seg);
        self.forward(verdict, slot, Ev::AtSwitch);
        Ok(())
    }

    /// A segment reaching the switch at `at`: its receiving host and what that
    /// host's down-link does with it, or `None` for an address where nobody is (a
    /// silent or spoofed one).
    #[inline(always)]
    fn switch(&mut self, at: SimTime, seg: &Segment) -> Option<(u32, Verdict)> {
        let h = host_of(seg.dst.addr, self.nodes.len())?;
        Some((h, self.nodes[h as usize].down.pass(at, seg)))
    }

    /// Schedules what comes out of a link for the segment in `slot`: `ev` once,
    /// twice (duplicated: the copy gets its own slot) or never (the slot is freed).
    fn forward(&mut self, verdict: Verdict, slot: u32, ev: impl Fn(u32) -> Ev) {
        match verdict {
            Verdict::Deliver(t) => self.schedule(t, ev(slot)),
            Verdict::Duplicate(t1, t2) => {
                let copy = self.wire.put(*self.wire.get(slot));
                self.schedule(t1, ev(slot));
                self.schedule(t2, ev(copy));
            }
            Verdict::Drop(_) => self.wire.free(slot),
        }
    }

    /// Whether connection `conn`'s client vanished: nothing of it is sent any
    /// more, and its client receives nothing of it (what was sent before is still
    /// in flight). Without `workload.client_vanish` no connection vanishes, and
    /// the connection (a cache miss per segment at scale) is not looked at.
    fn is_silenced(&self, conn: ConnId) -> bool {
        self.silenced(conn).is_some()
    }

    /// Whether `host` is the vanished client of connection `conn`.
    fn is_silenced_client(&self, conn: ConnId, host: u32) -> bool {
        self.silenced(conn).is_some_and(|c| c.client_host == host)
    }

    /// Connection `conn`, if its client vanished (see [`World::is_silenced`]).
    fn silenced(&self, conn: ConnId) -> Option<&Conn> {
        if !self.vanishing {
            return None;
        }
        self.conn(conn).filter(|c| c.flag(SILENCED))
    }

    /// The slab slot of a connection in flight. An application event looks it up
    /// once; the functions it calls take the slot (`s`), valid until the
    /// connection is finalized.
    fn slot_of(&self, id: ConnId) -> Option<usize> {
        let i = usize::try_from(id.0.checked_sub(self.conn_base + 1)?).ok()?;
        some_u32(*self.conn_slot.get(i)?).map(|s| s as usize)
    }

    fn conn(&self, id: ConnId) -> Option<&Conn> {
        self.slot_of(id).map(|s| &self.conns[s])
    }

    /// A client group starts a connection (open loop: `slot` is `None`).
    fn start(&mut self, g: u32, slot: Option<u32>) -> Result<(), CliError> {
        let now = self.sim.now();
        let n_servers = self.servers.len() as u64;
        let grp = &mut self.groups[g as usize];
        if grp.quota_reached() {
            return Ok(());
        }
        grp.attempts += 1;
        let targets = n_servers + u64::from(grp.cfg.workload.silent_destinations);
        let choice = match slot {
            Some(s) => grp.draw(Some(s % grp.cfg.count), targets),
            None => {
                // The next connections' draws are the stream's next either way:
                // made now, the same numbers come in the same order.
                let c = grp.ahead.pop_front();
                let c = c.unwrap_or_else(|| grp.draw(None, targets));
                while grp.ahead.len() < DRAW_AHEAD {
                    let next = grp.draw(None, targets);
                    grp.ahead.push_back(next);
                }
                c
            }
        };
        let client_host = grp.first_host + choice.host;
        let port = grp.cfg.workload.service_port;
        let (server_host, dst_addr) = self.destination(choice.pick);
        let dst = SockAddr::new(dst_addr, port);
        let vanish = choice.vanish;
        let id = self.conn_base + self.conn_slot.len() as u64 + 1;
        self.totals.attempted += 1;
        let stats = &mut self.groups[g as usize].stats;
        let res = self.nodes[client_host as usize]
            .host
            .connect(now, dst, ConnId(id), stats);
        self.dirty.push(client_host);
        if slot.is_none() {
            self.prefetch_starts(g);
        }
        let mut conn = Conn {
            opened: now,
            established: SimTime::MAX,
            bytes_discarded: 0,
            handle: [0; 2],
            received: [0; 2],
            group: g,
            client_host,
            server_host: server_host.unwrap_or(NONE_U32),
            slot: slot.unwrap_or(NONE_U32),
            dst,
            retransmits: 0,
            stale_accepted: 0,
            client_port: 0,
            error: [None; 2],
            bits: [0; 2],
            flags: if vanish { VANISH } else { 0 },
        };
        match res {
            Ok(sock) => {
                conn.set_sock(Who::Client, sock);
                conn.client_port = self.nodes[client_host as usize]
                    .host
                    .local_port(sock)
                    .expect("a socket connect() just made");
            }
            Err(Errno::EADDRNOTAVAIL) => conn.flags |= PORT_EXHAUSTED,
            Err(e) => conn.error_once(Who::Client, e),
        }
        let failed = conn.sock(Who::Client).is_none();
        let s = match self.free_conns.pop() {
            Some(s) => {
                self.conns[s as usize] = conn;
                s
            }
            None => {
                self.conns.push(conn);
                u32::try_from(self.conns.len() - 1).expect("fewer than 2^32 connections in flight")
            }
        };
        self.conn_slot.push_back(s);
        self.active += 1;
        if failed {
            self.finalize(ConnId(id), false)?;
        }
        Ok(())
    }

    /// The destination a connection's `pick` draw names: a server host, or past
    /// the servers a silent address.
    fn destination(&self, pick: u64) -> (Option<u32>, Addr) {
        let n_servers = self.servers.len() as u64;
        if pick < n_servers {
            let s = self.servers[pick as usize];
            (Some(s), host_addr(s))
        } else {
            let k = (pick - n_servers) as u32;
            (None, Addr(NET_BASE + self.nodes.len() as u32 + 1 + k))
        }
    }

    /// Prefetching for group `g`'s next open-loop connects, whose draws were
    /// made ahead: the next one's socket slot and port lines (its host's lines
    /// came in a connection earlier), the one after's host lines. A hint: it
    /// changes no result.
    fn prefetch_starts(&self, g: u32) {
        let grp = &self.groups[g as usize];
        let host = |c: &Choice| (grp.first_host + c.host) as usize;
        if let Some(c) = grp.ahead.front() {
            let remote = SockAddr::new(self.destination(c.pick).1, grp.cfg.workload.service_port);
            self.nodes[host(c)]
                .host
                .prefetch_connect(ConnectStep::Socket(remote));
        }
        if let Some(c) = grp.ahead.get(1) {
            let h = host(c);
            self.nodes[h].host.prefetch_connect(ConnectStep::Host);
            // Its links, which its SYN and the SYN-ACK cross first.
            sim_core::prefetch::prefetch(&self.nodes[h].up.link);
            sim_core::prefetch::prefetch(&self.nodes[h].down.link);
        }
    }

    /// The closed-loop slot of a connection whose client application is done starts
    /// the next one: at once, or after `tcp.rto_min` if this one could not connect
    /// (so a slot facing exhausted ports does not spin at one instant).
    fn client_app_done(&mut self, s: usize, failed: bool) {
        let now = self.sim.now();
        let c = &mut self.conns[s];
        let Some(slot) = some_u32(std::mem::replace(&mut c.slot, NONE_U32)) else {
            return;
        };
        let group = c.group;
        let wait = if failed {
            self.groups[group as usize].cfg.tcp.rto_min
        } else {
            SimDuration::ZERO
        };
        self.schedule(now + wait, Ev::Start { group, slot });
    }

    /// An attacker sends one SYN from a spoofed, silent address (RFC 4987 §2.2).
    fn spoofed_syn(&mut self, g: u32) -> Result<(), CliError> {
        let n_servers = self.servers.len() as u64;
        if n_servers == 0 {
            return Ok(());
        }
        let grp = &mut self.groups[g as usize];
        if grp.quota_reached() {
            return Ok(());
        }
        grp.attempts += 1;
        let host = grp.first_host + below(&mut grp.choice, grp.cfg.count.into()) as u32;
        let server = self.servers[below(&mut grp.choice, n_servers) as usize];
        let src = SockAddr::new(
            Addr(SPOOF_BASE | below(&mut grp.choice, 1 << 20) as u32),
            1024 + below(&mut grp.choice, 64512) as u16,
        );
        let seg = Segment {
            src,
            dst: SockAddr::new(host_addr(server), grp.cfg.workload.service_port),
            seq: Seq(below(&mut grp.choice, 1 << 32) as u32),
            ack: Seq(0),
            flags: Flags::SYN,
            window: 64240,
            len: 0,
            mss: Some(1460),
            ts: None,
            conn: ConnId(SPOOF_CONN | grp.attempts),
            demux: DemuxHint::NONE,
        };
        self.transmit(host, seg)
    }

    fn app_event(
        &mut self,
        h: u32,
        sock: SocketId,
        id: ConnId,
        ev: AppEvent,
    ) -> Result<(), CliError> {
        let g = self.host_group[h as usize] as usize;
        let who = if self.groups[g].cfg.role == Role::Server {
            Who::Server
        } else {
            Who::Client
        };
        let now = self.sim.now();
        let Some(s) = self.slot_of(id) else {
            // Not a connection of ours (a spoofed SYN's child, or one already
            // accounted): the application closes whatever it is handed.
            if matches!(ev, AppEvent::Accepted { .. }) {
                self.nodes[h as usize].host.close(
                    now,
                    sock,
                    Linger::Off,
                    &mut self.groups[g].stats,
                );
                self.dirty.push(h);
            }
            return Ok(());
        };
        match ev {
            AppEvent::Accepted { .. } => {
                let c = &mut self.conns[s];
                c.set_sock(Who::Server, sock);
                if c.server_host == NONE_U32 {
                    c.server_host = h;
                }
                self.server_progress(s)?;
            }
            AppEvent::Connected => {
                let req = self.workload(s).request_bytes;
                let c = &mut self.conns[s];
                c.established = now;
                let (opened, vanish) = (c.opened, c.flag(VANISH));
                self.totals.established += 1;
                self.totals.connect_ns.push((now - opened).as_nanos());
                self.send(s, Who::Client, req);
                if vanish {
                    // The request is on the wire; then the host drops off the network:
                    // its socket disappears without a FIN or a RST reaching anyone.
                    self.drain_transmit(h)?;
                    let c = &mut self.conns[s];
                    c.flags |= SILENCED;
                    c.set(Who::Client, CLOSED);
                    self.nodes[h as usize].host.close(
                        now,
                        sock,
                        Linger::Abort,
                        &mut self.groups[g].stats,
                    );
                    self.client_app_done(s, false);
                    return Ok(());
                }
                self.client_progress(s)?;
            }
            AppEvent::Readable { .. } => {
                let n = self.nodes[h as usize]
                    .host
                    .read(now, sock, &mut self.groups[g].stats);
                self.totals.bytes_delivered += n;
                let c = &mut self.conns[s];
                c.received[who as usize] += n;
                match who {
                    Who::Client => self.client_progress(s)?,
                    Who::Server => self.server_progress(s)?,
                }
            }
            AppEvent::EndOfStream => {
                let c = &self.conns[s];
                if c.has(who, SHUT) {
                    // A half-closed application closes once the peer has finished.
                    self.close_with(s, who, Linger::Off);
                } else if !c.has(who, CLOSED) {
                    let mode = self.close_mode(s, who);
                    self.close_side(s, who, mode, false);
                }
            }
            AppEvent::Error(e) => {
                // The connection is dead and its handle with it (sim-tcp emits
                // `Finished` at once): the application has nothing left to close.
                let c = &mut self.conns[s];
                c.error_once(who, e);
                c.set(who, CLOSED);
                if who == Who::Client {
                    let est = c.established().is_some();
                    self.client_app_done(s, !est);
                }
            }
            AppEvent::CloseReturned { blocked } => {
                let longest = self.close_blocked.entry(id.0).or_insert(blocked);
                *longest = (*longest).max(blocked);
            }
            AppEvent::Finished(rec) => {
                self.totals.bytes_discarded += rec.bytes_discarded;
                let c = &mut self.conns[s];
                c.retransmits = c.retransmits.saturating_add(rec.retransmits);
                c.bytes_discarded += rec.bytes_discarded;
                c.stale_accepted = c.stale_accepted.saturating_add(rec.stale_accepted);
                // A socket's record is handed over when it is freed, so the last
                // one (which ends the connection) closed now.
                debug_assert_eq!(rec.closed_at, now);
                let w = who as usize;
                c.handle[w] = rec.path.bits();
                c.error[w] = c.error[w].or(rec.error);
                let bits = c.bits[w] & !(ABORTED | FIN_FIRST);
                c.bits[w] = bits
                    | ENDED
                    | if rec.aborted { ABORTED } else { 0 }
                    | if rec.sent_fin_first { FIN_FIRST } else { 0 };
                // Once the client is established the server has (or is about to have)
                // its socket: wait for it, unless the client's end already says there
                // is none (a reset or refusal from a host without the socket).
                let no_server = c.sock(Who::Server).is_none()
                    && (c.established().is_none() || c.error[Who::Client as usize].is_some());
                let ended = c.has(Who::Client, ENDED) && (c.has(Who::Server, ENDED) || no_server);
                if ended {
                    self.finalize(id, false)?;
                }
            }
        }
        Ok(())
    }

    fn workload(&self, s: usize) -> &crate::spec::Workload {
        &self.groups[self.conns[s].group as usize].cfg.workload
    }

    /// The host and socket of one side, if that side has a socket.
    fn endpoint(&self, s: usize, who: Who) -> Option<(u32, SocketId)> {
        let c = &self.conns[s];
        let host = match who {
            Who::Client => c.client_host,
            Who::Server => some_u32(c.server_host)?,
        };
        Some((host, c.sock(who)?))
    }

    fn close_mode(&self, s: usize, who: Who) -> CloseMode {
        let w = self.workload(s);
        match who {
            Who::Client => w.client_close,
            Who::Server => w.server_close,
        }
    }

    /// The application hands `bytes` to send() (nothing if 0). Always inlined
    /// into its two callers: 0.8 % fewer instructions in all (callgrind, the
    /// lossy client-close run).
    #[inline(always)]
    fn send(&mut self, s: usize, who: Who, bytes: u64) {
        let Some((h, sock)) = self.endpoint(s, who) else {
            return;
        };
        if bytes == 0 {
            return;
        }
        let g = self.host_group[h as usize] as usize;
        let now = self.sim.now();
        let res = self.nodes[h as usize]
            .host
            .send(now, sock, bytes, &mut self.groups[g].stats);
        self.dirty.push(h);
        match res {
            Ok(()) => self.totals.bytes_requested += bytes,
            Err(e) => {
                self.conns[s].error_once(who, e);
            }
        }
    }

    /// The client has read something: once it has the whole response, the closer
    /// policy decides.
    fn client_progress(&mut self, s: usize) -> Result<(), CliError> {
        let resp = self.workload(s).response_bytes;
        let closer = self.workload(s).closer;
        let c = &mut self.conns[s];
        if c.has(Who::Client, DONE)
            || c.established().is_none()
            || c.received[Who::Client as usize] < resp
        {
            return Ok(());
        }
        c.set(Who::Client, DONE);
        match closer {
            Closer::Client => {
                let mode = self.close_mode(s, Who::Client);
                self.close_side(s, Who::Client, mode, true);
            }
            Closer::Both => {
                // Both applications close at this instant: the FINs cross.
                let cm = self.close_mode(s, Who::Client);
                let sm = self.close_mode(s, Who::Server);
                self.close_side(s, Who::Client, cm, true);
                if !self.conns[s].has(Who::Server, CLOSED) {
                    self.close_side(s, Who::Server, sm, true);
                }
            }
            Closer::Server => {}
        }
        Ok(())
    }

    /// The server has read something (or accepted): once it has the whole request it
    /// answers, and closes first if it is the closer.
    fn server_progress(&mut self, s: usize) -> Result<(), CliError> {
        let (req, resp, closer) = {
            let w = self.workload(s);
            (w.request_bytes, w.response_bytes, w.closer)
        };
        let c = &mut self.conns[s];
        if c.has(Who::Server, DONE)
            || c.sock(Who::Server).is_none()
            || c.received[Who::Server as usize] < req
        {
            return Ok(());
        }
        c.set(Who::Server, DONE);
        self.send(s, Who::Server, resp);
        if closer == Closer::Server {
            let mode = self.close_mode(s, Who::Server);
            self.close_side(s, Who::Server, mode, true);
        }
        Ok(())
    }

    /// One side's application closes in `mode`. `active`: it closes first (a
    /// `shutdown` then only half-closes; as the passive closer, having read the
    /// peer's FIN, it closes).
    fn close_side(&mut self, s: usize, who: Who, mode: CloseMode, active: bool) {
        match mode {
            CloseMode::Never => {}
            CloseMode::Close => self.close_with(s, who, Linger::Off),
            CloseMode::Abort => self.close_with(s, who, Linger::Abort),
            CloseMode::Linger(d) => self.close_with(s, who, Linger::Timeout(d)),
            CloseMode::Shutdown if active => {
                let Some((h, sock)) = self.endpoint(s, who) else {
                    return;
                };
                let g = self.host_group[h as usize] as usize;
                let now = self.sim.now();
                let res = self.nodes[h as usize].host.shutdown_write(
                    now,
                    sock,
                    &mut self.groups[g].stats,
                );
                self.dirty.push(h);
                let c = &mut self.conns[s];
                c.set(who, SHUT);
                if let Err(e) = res {
                    c.error_once(who, e);
                }
            }
            CloseMode::Shutdown => self.close_with(s, who, Linger::Off),
        }
    }

    fn close_with(&mut self, s: usize, who: Who, linger: Linger) {
        let Some((h, sock)) = self.endpoint(s, who) else {
            return;
        };
        if self.conns[s].has(who, CLOSED) {
            return;
        }
        let g = self.host_group[h as usize] as usize;
        let now = self.sim.now();
        self.nodes[h as usize]
            .host
            .close(now, sock, linger, &mut self.groups[g].stats);
        self.dirty.push(h);
        self.conns[s].set(who, CLOSED);
        if who == Who::Client {
            self.client_app_done(s, false);
        }
    }

    /// Writes the connection's row and forgets it. `at_end`: the run is over and it
    /// is still open.
    fn finalize(&mut self, id: ConnId, at_end: bool) -> Result<(), CliError> {
        let Some(slot) = self.slot_of(id) else {
            return Ok(());
        };
        // A connection that never had a client socket frees its closed-loop slot
        // here (with the failure back-off); any other did when its application was
        // done with it.
        if self.conns[slot].sock(Who::Client).is_none() {
            self.client_app_done(slot, true);
        }
        let c = self.conns[slot];
        self.conn_slot[(id.0 - 1 - self.conn_base) as usize] = NONE_U32;
        while self.conn_slot.front() == Some(&NONE_U32) {
            self.conn_slot.pop_front();
            self.conn_base += 1;
        }
        self.free_conns.push(slot as u32);
        self.active -= 1;
        let outcome = self.outcome(&c, at_end);
        self.totals.outcomes[outcome as usize] += 1;
        self.write_row(id, &c, outcome, at_end)
    }

    fn outcome(&self, c: &Conn, at_end: bool) -> Outcome {
        if c.flag(PORT_EXHAUSTED) {
            return Outcome::PortExhausted;
        }
        let saw = |e: Errno| c.error.contains(&Some(e));
        if c.established().is_none() {
            if saw(Errno::ECONNREFUSED) {
                return Outcome::Refused;
            }
            if saw(Errno::ETIMEDOUT) {
                return Outcome::ConnectTimeout;
            }
            if at_end {
                return Outcome::Unfinished;
            }
            return Outcome::Aborted;
        }
        if c.flag(VANISH) || c.has(Who::Client, ABORTED) || c.has(Who::Server, ABORTED) {
            return Outcome::Aborted;
        }
        if saw(Errno::ECONNRESET) || saw(Errno::EPIPE) {
            return Outcome::Reset;
        }
        if saw(Errno::ETIMEDOUT) {
            return Outcome::Aborted;
        }
        if at_end {
            let w = &self.groups[c.group as usize].cfg.workload;
            let leaks = |who: Who, mode: CloseMode| {
                mode == CloseMode::Never && !c.has(who, CLOSED) && c.sock(who).is_some()
            };
            return if leaks(Who::Client, w.client_close) || leaks(Who::Server, w.server_close) {
                Outcome::Leaked
            } else {
                Outcome::Unfinished
            };
        }
        let w = &self.groups[c.group as usize].cfg.workload;
        if c.received[Who::Client as usize] >= w.response_bytes
            && c.received[Who::Server as usize] >= w.request_bytes
        {
            Outcome::Completed
        } else {
            Outcome::Aborted
        }
    }

    /// Writes the `connections.csv` row of connection `id`.
    fn write_row(
        &mut self,
        id: ConnId,
        c: &Conn,
        outcome: Outcome,
        at_end: bool,
    ) -> Result<(), CliError> {
        let active_closer = match (c.has(Who::Client, FIN_FIRST), c.has(Who::Server, FIN_FIRST)) {
            (true, true) => "both",
            (true, false) => "client",
            (false, true) => "server",
            (false, false) => "none",
        };
        // A socket still open at the end reports the states it went through so far.
        let open_path = |who: Who| -> Option<Path> {
            if !at_end || !c.has(who, HAS_SOCK) || c.has(who, ENDED) {
                return None;
            }
            let nodes = &self.nodes;
            match who {
                Who::Client => nodes[c.client_host as usize]
                    .host
                    .path_of(c.client_port, c.dst),
                Who::Server => nodes[some_u32(c.server_host)? as usize].host.path_of(
                    c.dst.port,
                    SockAddr::new(host_addr(c.client_host), c.client_port),
                ),
            }
        };
        // No path is an empty field, as the empty path is.
        let path = |who: Who| {
            c.path(who)
                .or_else(|| open_path(who))
                .unwrap_or(Path::EMPTY)
        };
        let (client_path, server_path) = (path(Who::Client), path(Who::Server));
        let key = EndingKey {
            paths: [client_path.bits(), server_path.bits()],
            outcome,
            closer: active_closer.as_bytes()[0],
        };
        let ending = interned(&mut self.ending_fields, key, || {
            let paths = [client_path, server_path].map(|p| p.to_string());
            ending_text(outcome, [active_closer, &paths[0], &paths[1]])
        });
        // A silent destination has no name: its address, formatted for its rows.
        let address;
        let destination = match host_of(c.dst.addr, self.nodes.len()) {
            Some(h) => {
                let (h, port) = (h as usize, c.dst.port);
                let ports = &mut self.destination_fields[h];
                let i = interned(ports, port, || destination_text(&self.names[h], port));
                &*ports[i].1
            }
            None => {
                address = destination_text(&c.dst.addr.to_string(), c.dst.port);
                &*address
            }
        };
        let line = ConnectionLine {
            id: id.0,
            client: &self.name_fields[c.client_host as usize],
            client_port: (c.client_port != 0).then_some(c.client_port),
            destination,
            opened: c.opened,
            established: c.established(),
            // Finalized when its last socket was freed (or it never had one): now.
            finished: (!at_end).then(|| self.sim.now()),
            ending: &self.ending_fields[ending].1,
            retransmits: c.retransmits.into(),
            bytes_discarded: c.bytes_discarded,
            stale_accepted: c.stale_accepted.into(),
            bytes_delivered: c.received[0] + c.received[1],
            // Looked up only if some close() blocked: the call costs more than
            // the check.
            close_blocked: if self.close_blocked.is_empty() {
                None
            } else {
                self.close_blocked.remove(&id.0)
            },
        };
        self.sinks.connections.connection(&line)
    }

    fn sample(&mut self) -> Result<(), CliError> {
        let t = self.sim.now().as_secs_f64();
        for g in &self.groups {
            let s = &g.stats;
            let n = |st: State| s.count(st);
            let row = TimeseriesRow {
                time_s: t,
                group: g.cfg.name.clone(),
                syn_sent: n(State::SynSent),
                syn_rcvd: n(State::SynRcvd),
                established: n(State::Established),
                fin_wait_1: n(State::FinWait1),
                fin_wait_2: n(State::FinWait2),
                closing: n(State::Closing),
                time_wait: n(State::TimeWait),
                close_wait: n(State::CloseWait),
                last_ack: n(State::LastAck),
                memory_bytes: s.memory.current,
                ports_in_use: s.ports.current,
            };
            self.sinks.timeseries.row(&row)?;
        }
        Ok(())
    }

    fn write_transitions(&mut self) -> Result<(), CliError> {
        let Some(out) = self.sinks.transitions.as_deref_mut() else {
            return Ok(());
        };
        for gi in 0..self.groups.len() {
            let trace = self.groups[gi].stats.take_trace();
            for t in trace {
                let peer = |addr| {
                    let mut s = String::new();
                    write_peer(&mut s, &self.names, addr);
                    s
                };
                out.row(&TransitionRow {
                    time_s: t.time.as_secs_f64(),
                    host: peer(t.local.addr),
                    port: t.local.port,
                    peer: peer(t.remote.addr),
                    peer_port: t.remote.port,
                    from: t.from.name().to_string(),
                    to: t.to.name().to_string(),
                    cause: t.cause.name().to_string(),
                    conn: t.conn.0,
                })?;
            }
        }
        Ok(())
    }

    /// The run is over: what is still open is `leaked` or `unfinished`; integrals
    /// close at the end time.
    fn finish(&mut self) -> Result<(), CliError> {
        let ids = self.conn_base + 1..=self.conn_base + self.conn_slot.len() as u64;
        for id in ids {
            if self.slot_of(ConnId(id)).is_some() {
                self.finalize(ConnId(id), true)?;
            }
        }
        for g in &mut self.groups {
            g.stats.finish(self.end);
        }
        if self.trace {
            self.write_transitions()?;
        }
        (self.sinks.progress)(self.end);
        Ok(())
    }

    fn results(mut self) -> Results {
        let end = self.end;
        let mut states = Vec::new();
        for g in &self.groups {
            for st in State::ALL.into_iter().filter(|&s| s != State::Closed) {
                let ss = g.stats.state(st);
                states.push(StatesRow {
                    group: g.cfg.name.clone(),
                    state: st.name().to_string(),
                    peak: ss.peak,
                    mean: g.stats.mean(st),
                    entered: ss.entered,
                    // Summed at each exit, independently of the ∫count dt behind
                    // `mean`: the two meet in Little's law (analysis checks it).
                    mean_residence_s: (ss.exited > 0)
                        .then(|| ss.residence as f64 / ss.exited as f64 / 1e9),
                    exited: ss.exited,
                });
            }
        }
        let counters = |f: fn(&sim_tcp::Counters) -> u64| {
            self.groups
                .iter()
                .map(|g| f(&g.stats.counters))
                .sum::<u64>()
        };
        let t = &mut self.totals;
        let mut quantile = |q: f64| t.connect_ns.quantile(q).map(|ns| ns as f64 / 1e9);
        let o = |x: Outcome| t.outcomes[x as usize];
        let summary = SummaryRow {
            scenario: self.sc.name.clone(),
            seed: self.sc.run.seed,
            sim_time_s: end.as_secs_f64(),
            events: self.sim.events_processed(),
            attempted: t.attempted,
            established: t.established,
            completed: o(Outcome::Completed),
            port_exhausted: o(Outcome::PortExhausted),
            connect_timeout: o(Outcome::ConnectTimeout),
            refused: o(Outcome::Refused),
            reset: o(Outcome::Reset),
            aborted: o(Outcome::Aborted),
            leaked: o(Outcome::Leaked),
            bytes_requested: t.bytes_requested,
            bytes_delivered: t.bytes_delivered,
            bytes_discarded: t.bytes_discarded,
            stale_accepted: counters(|c| c.stale_accepted),
            tw_overflow: counters(|c| c.tw_overflow),
            connect_p50_s: quantile(0.5),
            connect_p99_s: quantile(0.99),
            peak_memory_bytes: t.peak_memory,
            unfinished: o(Outcome::Unfinished),
            connect_p90_s: quantile(0.9),
            rst_sent: counters(|c| c.rst_sent),
            retransmits: counters(|c| c.retransmits),
            peak_time_wait: t.peak_time_wait,
            peak_ports_in_use: t.peak_ports,
            syn_cookies_sent: counters(|c| c.syn_cookies_sent),
            // Linux's ListenDrops: SYNs dropped at a full SYN queue or accept queue.
            listen_drops: counters(|c| c.listen_drops + c.syn_drops),
        };
        Results { summary, states }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_connection_in_flight_is_96_bytes() {
        assert_eq!(std::mem::size_of::<super::Conn>(), 96);
    }
}
