//! One host's TCP stack: the socket slab, 4-tuple demultiplexing, listeners (SYN
//! queue, SYN cookies), ephemeral ports, the TIME_WAIT table, timers and the
//! application interface. Sans-IO: every call takes `now`; segments to send and
//! application events are drained with [`Host::poll_transmit`] / [`Host::poll_event`];
//! [`Host::poll_timeout`] says when to call [`Host::on_timeout`] next.

use std::collections::VecDeque;

use arrayvec::ArrayVec;
use sim_core::heap::QuadHeap;
use sim_core::time::{SimDuration, SimTime};

use crate::config::{CostModel, Errno, IsnPolicy, Linger, TcpConfig};
use crate::demux::Demux;
use crate::hash::{Memo, SplitMix, keyed, keyed_more};
use crate::perturb::{PERTURB_SIZE, Perturb};
use crate::ports::{PortMap, PortSet};
use crate::segment::{Addr, ConnId, DemuxHint, Flags, Segment, SockAddr};
use crate::seq::Seq;
use crate::sock::{Cx, Deadline, Fate, Io, Sock, earliest, record_transition, reset_for};
use crate::state::{Cause, State};
use crate::stats::{Path, SocketRecord, Stats};
use crate::tw::{MINI, TwTable, TwVerdict, ts_offset};

/// Handle to a socket of one host: slab index plus generation, so a handle to a
/// freed-and-reused slot is detected (calls on it fail with `EBADF`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct SocketId {
    index: u32,
    generation: u32,
}

impl SocketId {
    /// The id in `Finished` events of connections that ended as a TIME_WAIT or
    /// FIN_WAIT_2 mini-socket (their full socket, and its id, were gone by then).
    pub const DETACHED: SocketId = SocketId {
        index: u32::MAX,
        generation: 0,
    };

    /// Slab index: the socket's demultiplexing value.
    #[inline]
    pub(crate) fn index(self) -> u32 {
        self.index
    }

    /// The handle packed in a `u64` (for compact application records).
    pub fn to_bits(self) -> u64 {
        (u64::from(self.generation) << 32) | u64::from(self.index)
    }

    /// The handle packed by [`SocketId::to_bits`].
    pub fn from_bits(bits: u64) -> SocketId {
        SocketId {
            index: bits as u32,
            generation: (bits >> 32) as u32,
        }
    }
}

/// The two steps of [`Host::prefetch_expiry`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ExpiryStep {
    /// The expiring mini-socket and the expiry queue's next entry.
    Socket,
    /// Read from those: its 4-tuple table slot and held-port word, and the next
    /// entry's mini-socket.
    Lookup,
}

/// The two steps of [`Host::prefetch_connect`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ConnectStep {
    /// The host's own lines.
    Host,
    /// Read from those: the slab slot the new socket takes, and the 4-tuple table
    /// line and held-port word of the port a connect() toward this destination
    /// tries first.
    Socket(SockAddr),
}

/// What the stack tells the application (the harness).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AppEvent {
    /// A listener's child completed its handshake and was accepted (auto-accept).
    Accepted { listener_port: u16 },
    /// Our connect() completed.
    Connected,
    /// New in-order data is readable.
    Readable { bytes: u64 },
    /// The peer's FIN: read() would return 0.
    EndOfStream,
    /// ECONNRESET, ECONNREFUSED, ETIMEDOUT or EPIPE: the connection is gone.
    Error(Errno),
    /// A close() with SO_LINGER N returned after blocking this long.
    CloseReturned { blocked: SimDuration },
    /// The connection is over and its socket (mini-socket included) freed.
    Finished(SocketRecord),
}

/// A listening socket (children are ordinary sockets in the slab).
#[derive(Clone, Debug, Default)]
struct Listener {
    /// Children in SYN_RCVD (Linux `inet_csk_reqsk_queue_len`).
    synq: u32,
    since: SimTime,
    /// Children accepted by the stack at once (`Accepted` event), or queued
    /// until [`Host::accept`].
    auto_accept: bool,
    /// Established children not yet accepted (Linux `sk_ack_backlog`), slab indices.
    acceptq: VecDeque<u32>,
}

/// SYN-cookie time slot (Linux counts minutes: `tcp_cookie_time()`, 64 s).
const COOKIE_SLOT_SECS: u64 = 64;

/// A socket slab slot.
struct Slot {
    generation: u32,
    sock: Option<Sock>,
    /// While the slot is free: the demultiplexing value of the mini-socket its
    /// last socket became (`MINI | index`), else [`DemuxHint::UNKNOWN`]. Its peer
    /// still names the slot in its hints (see [`Host::hinted`]).
    became: u32,
    /// While the slot is free: the next free slot ([`NO_SLOT`]: none).
    next_free: u32,
}

/// No slot: the end of the free slots' stack.
const NO_SLOT: u32 = u32::MAX;

/// Entries a host's socket slab and output queues are made with: what their first
/// push would allocate anyway (Rust's least capacity for items of these sizes), and
/// all a client host with a connection or three needs. Allocated with the host, in
/// one go, they lie side by side instead of wherever each first push finds room:
/// with thousands of client hosts taking turns, each page a connection's work
/// touches is a miss in the translation buffer (`scripts/tlb.sh 1000 2s`: 6.39 →
/// 5.90 page walks per connection; `scripts/ab.sh`: wall 0.984 and 0.980 in two
/// batches, the same outputs).
const FIRST_ALLOC: usize = 4;

/// One host's TCP stack. See the crate docs for the call order.
///
/// Laid out by hand (`repr(C)`), on cache-line boundaries: what every segment,
/// call and timer reads (address, slab, output queues, cost model, configuration,
/// timers' top and short list) comes first, in the first seven of its 21 lines;
/// what only connect(), TIME_WAIT or a listener reads comes after. In a big run
/// thousands of client hosts take turns and each is out of cache when its turn
/// comes, so every line a segment touches is a miss: the compiler's own order
/// spread those fields over about nine lines, from the host's first to its last
/// (`scripts/ab.sh`, lossy client-close at 10^6: wall 0.962, 0.965 and 0.975 in
/// three batches, the same outputs).
#[repr(C, align(64))]
pub struct Host {
    addr: Addr,
    /// The last freed slot ([`NO_SLOT`]: none): the free slots form a stack
    /// through their `next_free`, so the top is known from this line of the host
    /// ([`Host::prefetch_connect`]) and taking it reads only the slot it takes.
    free: u32,
    /// How many slots are free (in the stack).
    free_slots: u32,
    /// Orphaned full sockets (Linux `tcp_orphan_count`; mini-sockets are not orphans).
    orphans: u32,
    slots: Vec<Slot>,
    io: Io,
    cost: CostModel,
    cfg: TcpConfig,
    timers: Timers,
    /// The last peer address's timestamp offset (see [`Host::ts_offset`]).
    last_ts_offset: Memo<Addr, u32>,
    /// The ISN hash's fixed prefix: `keyed(secret, [own address])` (see [`Host::isn`]).
    isn_prefix: u64,
    secret: u64,
    rng: SplitMix,
    tw: TwTable,
    /// 4-tuple → socket (see [`key`], [`MINI`]).
    demux: Demux,
    listeners: PortMap<Listener>,
    /// Local ephemeral ports held by sockets (full or mini).
    ports: PortSet,
    perturb: Perturb,
    /// The last connect() destination's port-choice hash (see [`Host::pick_port`]).
    last_port_offset: Memo<SockAddr, u64>,
}

/// The full sockets' deadlines (each socket's earliest timer, `Sock::armed`).
///
/// While at most [`SMALL`] sockets are armed (a client host's usual state: a
/// connection or a few at a time), their deadlines are a short list, changed in
/// place: no stale entries, and the earliest is found by a scan of a few entries.
///
/// Once more are armed, they move to a min-heap of `(time, slab index, filing)`
/// with lazy deletion, until no socket is armed again. Each slab index has at most
/// one valid entry (its filing counter's), no later than its socket's deadline if
/// armed: a disarmed socket's entry stays (an orphan), and a socket armed at or
/// after its entry's time keeps it instead of filing a new one (a server's FIN
/// goes out an RTO after its response, whose entry is still there). Only when
/// the top entry is early (re-filed at the deadline) or an orphan (dropped) does
/// it matter. Filing anew bumps the counter, so older entries are stale and
/// skipped; the heap is compacted when stale entries and orphans outnumber the
/// armed sockets three to one. The top entry is always exact, and entries are
/// unique per socket, so pops come in `(time, slab index)` order.
///
/// The top is also kept inline (`poll_timeout` reads it after every call into the
/// host), and it is the only heap entry whose validity matters: arming or
/// disarming another socket than the earliest (nearly every change: timers are
/// mostly disarmed by an ACK long before they would fire) needs no look at the
/// heap beyond a push, if any.
#[derive(Default)]
#[repr(C)]
struct Timers {
    /// The earliest `(time, slab index)` of the armed sockets.
    top: Option<(SimTime, u32)>,
    armed: usize,
    in_heap: bool,
    /// Small mode (`!in_heap`): the armed sockets' `(deadline, slab index)`.
    /// Inline, in the host: a list apart is one more miss per timer change when
    /// thousands of hosts take turns.
    small: ArrayVec<(SimTime, u32), SMALL>,
    /// Heap mode: every armed socket has one valid entry here.
    heap: QuadHeap<(SimTime, u32, u32)>,
    /// Per slab index (heap mode).
    filing: Vec<Filing>,
    #[cfg(test)]
    compactions: usize,
}

/// A slab index's place in [`Timers`]' heap.
#[derive(Clone, Copy)]
struct Filing {
    /// Counter of its valid entry: older ones are stale.
    counter: u32,
    /// Time of its valid entry, nanoseconds ([`UNSET`]: none).
    filed: u64,
    /// Its socket's deadline, nanoseconds ([`UNSET`]: disarmed).
    due: u64,
}

/// No time in [`Filing`].
const UNSET: u64 = u64::MAX;

const NO_FILING: Filing = Filing {
    counter: 0,
    filed: UNSET,
    due: UNSET,
};

/// Armed sockets at most in [`Timers`]' small mode.
const SMALL: usize = 8;

impl Timers {
    /// The filing of slab index `idx` (created unset).
    fn filing(&mut self, idx: u32) -> &mut Filing {
        let i = idx as usize;
        if i >= self.filing.len() {
            self.filing.resize(i + 1, NO_FILING);
        }
        &mut self.filing[i]
    }

    /// Whether `idx` holds the top entry (which a change of `idx` makes stale).
    fn at_top(&self, idx: u32) -> bool {
        self.top.is_some_and(|(_, i)| i == idx)
    }

    /// Arms (or re-arms, `was_armed`) socket `idx` at `t`. Always inlined, as is
    /// [`Timers::disarm`]: every timer change of every socket calls one, from a
    /// handful of places, and inlined they take 0.9 % fewer instructions in all
    /// (callgrind, the lossy client-close run).
    #[inline(always)]
    fn arm(&mut self, idx: u32, t: SimTime, was_armed: bool) {
        if !self.in_heap {
            if was_armed {
                let e = self
                    .small
                    .iter_mut()
                    .find(|e| e.1 == idx)
                    .expect("armed socket listed");
                e.0 = t;
                if self.at_top(idx) {
                    self.small_top();
                    return;
                }
            } else if self.small.len() < SMALL {
                self.small.push((t, idx));
                self.armed += 1;
            } else {
                self.spill();
                return self.arm(idx, t, was_armed);
            }
            if self.top.is_none_or(|top| (t, idx) < top) {
                self.top = Some((t, idx));
            }
            return;
        }
        if !was_armed {
            self.armed += 1;
        }
        let f = self.filing(idx);
        f.due = t.as_nanos();
        if f.filed <= f.due {
            // Its entry, no later than the deadline, stands for it: every other
            // entry comes after the top, so only the top's own socket changes it.
            if self.at_top(idx) {
                self.tidy();
            }
            return;
        }
        self.file(idx, t);
        if was_armed && self.at_top(idx) {
            self.tidy();
        } else if self.top.is_none_or(|top| (t, idx) < top) {
            self.top = Some((t, idx)); // the push put it at the top
        }
        self.bound();
    }

    /// Files a new entry for `idx` at `t`, its deadline: the older ones are stale.
    fn file(&mut self, idx: u32, t: SimTime) {
        let f = &mut self.filing[idx as usize];
        f.counter = f.counter.wrapping_add(1);
        f.filed = t.as_nanos();
        self.heap.push((t, idx, f.counter));
    }

    /// Small mode: the earliest listed deadline becomes the top.
    fn small_top(&mut self) {
        self.top = self.small.iter().copied().min();
    }

    /// Leaves small mode: files every listed socket in the heap.
    #[inline(never)]
    fn spill(&mut self) {
        self.in_heap = true;
        for (t, idx) in std::mem::take(&mut self.small) {
            self.filing(idx).due = t.as_nanos();
            self.file(idx, t);
        }
    }

    /// Files socket `idx` under its new deadline `d` ([`Sock::refile`]).
    #[inline]
    fn refile(&mut self, idx: u32, d: Deadline, was_armed: bool) {
        match d.get() {
            Some(t) => self.arm(idx, t, was_armed),
            None => self.disarm(idx),
        }
    }

    /// Disarms an armed socket.
    #[inline(always)]
    fn disarm(&mut self, idx: u32) {
        self.armed -= 1;
        if !self.in_heap {
            let pos = self
                .small
                .iter()
                .position(|e| e.1 == idx)
                .expect("armed socket listed");
            self.small.swap_remove(pos);
            if self.at_top(idx) {
                self.small_top();
            }
            return;
        }
        // Its entry stays, an orphan, for a later arming to reuse.
        self.filing[idx as usize].due = UNSET;
        if self.armed == 0 {
            self.clear();
        } else if self.at_top(idx) {
            self.tidy();
        }
        self.bound();
    }

    /// No socket is armed any more, so no entry is needed: drops them all at
    /// once, without popping them one by one, and returns to small mode.
    fn clear(&mut self) {
        let filing = &mut self.filing;
        self.heap.retain(|&(_, idx, g)| {
            let f = &mut filing[idx as usize];
            if f.counter == g {
                f.filed = UNSET;
            }
            false
        });
        self.top = None;
        self.in_heap = false;
    }

    /// Makes the top entry exact: pops stale entries and orphans, re-files early
    /// ones at their socket's deadline, and notes the first exact one.
    fn tidy(&mut self) {
        while let Some((t, idx, g)) = self.heap.peek() {
            let f = &mut self.filing[idx as usize];
            if f.counter == g {
                if f.due == t.as_nanos() {
                    self.top = Some((t, idx));
                    return;
                }
                self.heap.pop();
                f.filed = f.due;
                if f.due != UNSET {
                    self.heap.push((SimTime::from_nanos(f.due), idx, g));
                }
            } else {
                self.heap.pop();
            }
        }
        self.top = None;
    }

    /// Compacts once stale entries and orphans outnumber the armed sockets three
    /// to one (plus 64): each pass over the heap then drops at least three
    /// quarters of it (with 2:1, half, at a third more cost per entry dropped).
    #[inline]
    fn bound(&mut self) {
        if self.heap.len() > 4 * self.armed + 64 {
            self.compact();
        }
    }

    /// Drops every stale entry and orphan (the top is exact: it stays): O(n),
    /// once at least `3 × armed + 64` accumulated, so O(1) amortized per arming.
    #[inline(never)]
    fn compact(&mut self) {
        #[cfg(test)]
        {
            self.compactions += 1;
        }
        let filing = &mut self.filing;
        self.heap.retain(|&(_, idx, g)| {
            let f = &mut filing[idx as usize];
            if f.counter != g {
                return false;
            }
            if f.due == UNSET {
                f.filed = UNSET;
                return false;
            }
            true
        });
    }

    /// The earliest deadline and its socket.
    #[inline]
    fn peek(&self) -> Option<(SimTime, u32)> {
        self.top
    }

    /// Removes the earliest deadline (the socket is disarmed).
    fn pop(&mut self) -> Option<(SimTime, u32)> {
        let top = self.top?;
        if self.in_heap {
            let popped = self.heap.pop().map(|(t, idx, _)| (t, idx));
            debug_assert_eq!(popped, Some(top));
            let f = &mut self.filing[top.1 as usize];
            f.filed = UNSET;
            f.due = UNSET;
            self.armed -= 1;
            if self.armed == 0 {
                self.clear();
            } else {
                self.tidy();
            }
            self.bound();
        } else {
            self.disarm(top.1);
        }
        Some(top)
    }

    fn heap_bytes(&self) -> usize {
        self.heap.capacity() * std::mem::size_of::<(SimTime, u32, u32)>()
            + self.filing.capacity() * std::mem::size_of::<Filing>()
    }
}

/// Where `__inet_hash_connect()`'s scan starts, as an offset into the `remaining`
/// ports of the range: `(table_perturb[index] + (port_offset >> 32)) % remaining`,
/// made even (`perturb` is that table entry).
fn start_offset(perturb: u32, port_offset: u64, remaining: u32) -> u32 {
    ((u64::from(perturb) + (port_offset >> 32)) % u64::from(remaining)) as u32 & !1
}

/// `(local port, remote address, remote port)` packed for the demultiplexing table.
#[inline]
fn key(local_port: u16, remote: SockAddr) -> u64 {
    (u64::from(local_port) << 48) | (u64::from(remote.addr.0) << 16) | u64::from(remote.port)
}

impl Host {
    /// A host at `addr`. `seed` keys its ISN/cookie/timestamp secrets and seeds its
    /// random stream; derive it from the master seed and the host's stable name.
    pub fn new(addr: Addr, cfg: TcpConfig, cost: CostModel, seed: u64) -> Host {
        let secret = keyed(seed, &[0x5eed, u64::from(addr.0)]);
        let ports = cfg.local_port_range;
        Host {
            addr,
            cfg,
            cost,
            secret,
            rng: SplitMix::new(secret ^ 0x726e67),
            slots: Vec::with_capacity(FIRST_ALLOC),
            free: NO_SLOT,
            free_slots: 0,
            demux: Demux::default(),
            listeners: PortMap::default(),
            tw: TwTable::default(),
            timers: Timers::default(),
            ports: PortSet::new(ports),
            perturb: Perturb::default(),
            orphans: 0,
            last_ts_offset: Memo::default(),
            last_port_offset: Memo::default(),
            isn_prefix: keyed(secret, &[u64::from(addr.0)]),
            io: Io::with_capacity(FIRST_ALLOC),
        }
    }

    pub fn addr(&self) -> Addr {
        self.addr
    }
    pub fn config(&self) -> &TcpConfig {
        &self.cfg
    }

    // ------------------------------------------------------------ plumbing

    fn sock(&self, id: SocketId) -> Option<&Sock> {
        let slot = self.slots.get(id.index as usize)?;
        if slot.generation != id.generation {
            return None;
        }
        slot.sock.as_ref()
    }

    /// Runs `f` on the socket at slab index `idx` with a context, then applies the
    /// returned fate (timers, mini-socket, freeing).
    fn with_sock<R>(
        &mut self,
        now: SimTime,
        idx: u32,
        stats: &mut Stats,
        f: impl FnOnce(&mut Sock, &mut Cx) -> (Fate, R),
    ) -> R {
        let (sock, mut cx) = self.sock_cx(now, idx, stats);
        let (fate, r) = f(sock, &mut cx);
        // The common case, a socket that stays and owes its listener and the
        // orphan count nothing, only re-files its deadline: done here, on the
        // socket at hand, without looking it up again.
        if fate.is_live() && !sock.owes_host() {
            if let Some((d, was_armed)) = sock.refile() {
                self.timers.refile(idx, d, was_armed);
            }
        } else {
            self.settle(now, idx, fate, stats);
        }
        r
    }

    /// The live socket at slab index `idx` and a context to drive it.
    fn sock_cx<'a>(
        &'a mut self,
        now: SimTime,
        idx: u32,
        stats: &'a mut Stats,
    ) -> (&'a mut Sock, Cx<'a>) {
        let Host {
            cfg,
            cost,
            addr,
            io,
            slots,
            ..
        } = self;
        let sock = slots[idx as usize].sock.as_mut().expect("live slot");
        let cx = Cx {
            now,
            cfg,
            cost,
            addr: *addr,
            io,
            stats,
        };
        (sock, cx)
    }

    fn cx<'a>(&'a mut self, now: SimTime, stats: &'a mut Stats) -> (Cx<'a>, &'a mut TwTable) {
        let Host {
            cfg,
            cost,
            addr,
            io,
            tw,
            ..
        } = self;
        (
            Cx {
                now,
                cfg,
                cost,
                addr: *addr,
                io,
                stats,
            },
            tw,
        )
    }

    /// Applies a socket's fate after a call: the listener's SYN and accept
    /// queues, the orphan count, the deadline, the socket's end.
    #[inline(never)]
    fn settle(&mut self, now: SimTime, idx: u32, fate: Fate, stats: &mut Stats) {
        let sock = self.slots[idx as usize].sock.as_mut().expect("live slot");
        if sock.passive
            && sock.state != State::SynRcvd
            && (sock.in_synq || (!sock.accepted && !sock.queued))
            && let Some(l) = self.listeners.get_mut(&sock.local_port)
        {
            if sock.in_synq {
                sock.in_synq = false;
                l.synq -= 1;
            }
            if !sock.accepted && !sock.queued && fate.is_live() && sock.state.is_synchronized() {
                sock.queued = true;
                l.acceptq.push_back(idx);
            }
        }
        if fate.is_live() && sock.orphan && !sock.orphan_counted {
            // Linux __tcp_close(): the orphan count includes this socket; over
            // tcp_max_orphans, tcp_check_oom() resets it ("too many orphaned sockets").
            sock.orphan_counted = true;
            self.orphans += 1;
            if self.orphans > self.cfg.max_orphans {
                stats.counters.orphan_resets += 1;
                self.with_sock(now, idx, stats, |s, cx| (s.abort_orphan(cx), ()));
                return;
            }
        }
        match fate {
            Fate::Live => {
                if let Some((d, was_armed)) = sock.refile() {
                    self.timers.refile(idx, d, was_armed);
                }
            }
            Fate::Dead => self.free_full(now, idx, stats),
            Fate::TimeWait(cause) => self.make_mini(now, idx, None, Some(cause), stats),
            Fate::FinWait2Mini(tmo) => self.make_mini(now, idx, Some(tmo), None, stats),
        }
    }

    /// Removes the full socket at `idx` from the slab (the slot is reused under a
    /// new generation) with its timer, accept-queue entry and orphan count. The
    /// callers take what they need from it first: it is dropped in place, not
    /// moved out (a 312-byte copy).
    fn drop_sock(&mut self, idx: u32) {
        let slot = &mut self.slots[idx as usize];
        let sock = slot.sock.as_ref().expect("live slot");
        let (armed, queued, port, orphan_counted) = (
            sock.armed.is_set(),
            sock.queued,
            sock.local_port,
            sock.orphan_counted,
        );
        slot.sock = None;
        slot.became = DemuxHint::UNKNOWN;
        slot.generation = slot.generation.wrapping_add(1);
        slot.next_free = self.free;
        self.free = idx;
        self.free_slots += 1;
        if armed {
            self.timers.disarm(idx);
        }
        if queued && let Some(l) = self.listeners.get_mut(&port) {
            l.acceptq.retain(|&i| i != idx);
        }
        if orphan_counted {
            self.orphans -= 1;
        }
    }

    /// Frees a full socket that reached CLOSED, emitting its record.
    fn free_full(&mut self, now: SimTime, idx: u32, stats: &mut Stats) {
        let sock = self.slots[idx as usize].sock.as_ref().expect("live slot");
        let (id, conn, port, remote, ephemeral) = (
            sock.id,
            sock.conn,
            sock.local_port,
            sock.remote,
            sock.ephemeral,
        );
        let rec = sock.record(self.addr, now);
        self.drop_sock(idx);
        let gone = self.demux.remove(key(port, remote), idx);
        debug_assert!(gone);
        if ephemeral {
            self.release_port(port, remote, stats);
        }
        self.io
            .events
            .push_back((id, conn, AppEvent::Finished(rec)));
    }

    /// TIME_WAIT (entered for `cause`) or an orphan's FIN_WAIT_2 (for `fin_wait2`)
    /// as a mini-socket, unless `tcp_max_tw_buckets` is reached (then CLOSED,
    /// `TCPTimeWaitOverflow`).
    fn make_mini(
        &mut self,
        now: SimTime,
        idx: u32,
        fin_wait2: Option<SimDuration>,
        cause: Option<Cause>,
        stats: &mut Stats,
    ) {
        if self.tw.live >= self.cfg.max_tw_buckets {
            stats.counters.tw_overflow += 1;
            self.with_sock(now, idx, stats, |s, cx| {
                s.set_state(cx, State::Closed, Cause::TimeWaitOverflow);
                (Fate::Dead, ())
            });
            return;
        }
        if let Some(cause) = cause {
            let (sock, mut cx) = self.sock_cx(now, idx, &mut *stats);
            sock.set_state(&mut cx, State::TimeWait, cause);
        }
        stats.mem(self.cost.time_wait as i64 - self.cost.full_socket as i64);
        let sock = self.slots[idx as usize].sock.as_ref().expect("live slot");
        let t = self
            .tw
            .insert(sock, now, self.cfg.time_wait_len(), fin_wait2);
        let k = key(sock.local_port, sock.remote);
        self.drop_sock(idx);
        self.slots[idx as usize].became = MINI | t;
        let moved = self.demux.replace(k, idx, MINI | t);
        debug_assert!(moved);
    }

    /// Frees a mini-socket, emitting its record.
    fn free_mini(&mut self, now: SimTime, t: u32, cause: Cause, stats: &mut Stats) {
        let (mut cx, tw) = self.cx(now, stats);
        let rec = tw.remove(t, &mut cx, cause);
        let s = tw.get(t);
        let (port, remote, eph, conn) = (s.local_port(), s.remote(), s.ephemeral(), rec.conn);
        let gone = self.demux.remove(key(port, remote), MINI | t);
        debug_assert!(gone);
        if eph {
            self.release_port(port, remote, stats);
        }
        self.io
            .events
            .push_back((SocketId::DETACHED, conn, AppEvent::Finished(rec)));
    }

    fn acquire_port(&mut self, port: u16, remote: SockAddr, stats: &mut Stats) {
        if self.ports.acquire(port, remote) {
            stats.ports.add(1);
            stats.mem(self.cost.bind_bucket as i64);
        }
    }

    fn release_port(&mut self, port: u16, remote: SockAddr, stats: &mut Stats) {
        if self.ports.release(port, remote) {
            stats.ports.add(-1);
            stats.mem(-(self.cost.bind_bucket as i64));
        }
    }

    /// The demultiplexing value of `local_port ↔ remote`: a full socket's slab
    /// index, or a mini-socket's index with `MINI` set.
    #[inline]
    fn lookup(&self, local_port: u16, remote: SockAddr) -> Option<u32> {
        let (slots, tw) = (&self.slots, &self.tw);
        self.demux.get(key(local_port, remote), |v| {
            if v & MINI != 0 {
                let m = tw.get(v & !MINI);
                key(m.local_port(), m.remote())
            } else {
                let s = slots[v as usize]
                    .sock
                    .as_ref()
                    .expect("demultiplexed socket");
                key(s.local_port, s.remote)
            }
        })
    }

    /// The demultiplexing value the segment's [`DemuxHint::to`] leads to, if it
    /// names a live socket (full, or mini with its live bit) whose 4-tuple is the
    /// segment's: then it is what [`Host::lookup`] would return, since the table
    /// holds every live socket under its own 4-tuple and each 4-tuple once. A
    /// free slot leads to the mini-socket its last socket became (the peer of a
    /// connection that just entered FIN_WAIT_2 or TIME_WAIT still names the
    /// slot). A stale hint (slot reused by another connection, freed
    /// mini-socket) or a garbled one fails the check. Reads the socket, which
    /// segment processing reads next anyway, instead of a table slot: with 10^6
    /// TIME_WAIT sockets the table line is a cache miss.
    #[inline(always)]
    fn hinted(&self, seg: &Segment) -> Option<u32> {
        let is_its = |port: u16, remote: SockAddr| port == seg.dst.port && remote == seg.src;
        let mut v = seg.demux.to;
        if v & MINI == 0 {
            let slot = self.slots.get(v as usize)?;
            match &slot.sock {
                Some(s) => return is_its(s.local_port, s.remote).then_some(v),
                // What the slot's last socket became ([`DemuxHint::UNKNOWN`]: no
                // mini-socket index reaches it, so the lookup below fails).
                None => v = slot.became,
            }
        }
        let m = self.tw.get_live(v & !MINI)?;
        is_its(m.local_port(), m.remote()).then_some(v)
    }

    /// Whether `seg`'s demultiplexing hint names its socket on this host (for
    /// tests of the hint's effectiveness: it never changes results).
    #[doc(hidden)]
    pub fn hint_verifies(&self, seg: &Segment) -> bool {
        seg.dst.addr == self.addr && self.hinted(seg).is_some()
    }

    fn alloc_slot(&mut self) -> SocketId {
        match self.free {
            NO_SLOT => {
                self.slots.push(Slot {
                    generation: 0,
                    sock: None,
                    became: DemuxHint::UNKNOWN,
                    next_free: NO_SLOT,
                });
                SocketId {
                    index: (self.slots.len() - 1) as u32,
                    generation: 0,
                }
            }
            index => {
                let slot = &self.slots[index as usize];
                self.free = slot.next_free;
                self.free_slots -= 1;
                SocketId {
                    index,
                    generation: slot.generation,
                }
            }
        }
    }

    /// ISN per `tcp.isn` (RFC 6528: keyed hash of the 4-tuple + a 4 µs clock).
    fn isn(&mut self, now: SimTime, local_port: u16, remote: SockAddr) -> Seq {
        match self.cfg.isn {
            IsnPolicy::Zero => Seq(0),
            IsnPolicy::Random => Seq(self.rng.next_u64() as u32),
            IsnPolicy::Linux => {
                // keyed(secret, [own address, local port, remote address,
                // remote port]), from the precomputed prefix.
                let h = keyed_more(
                    self.isn_prefix,
                    &[
                        u64::from(local_port),
                        u64::from(remote.addr.0),
                        u64::from(remote.port),
                    ],
                );
                Seq((h as u32).wrapping_add((now.as_nanos() / 4000) as u32))
            }
        }
    }

    /// The timestamp offset toward `remote` (Linux `tcp_ts_off()`, see
    /// [`ts_offset`]), remembered for the last peer asked about: a client host
    /// talks to few servers, and the keyed hash costs more than the check. A memo
    /// of a pure function of (secret, addresses): it cannot change results.
    fn ts_offset(&mut self, remote: Addr) -> u32 {
        let (secret, addr) = (self.secret, self.addr);
        self.last_ts_offset
            .get(remote, |remote| ts_offset(secret, addr, remote))
    }

    /// SYN-cookie ISN for `client_isn` in time slot `slot` (RFC 4987 §3.6).
    fn cookie(&self, local_port: u16, remote: SockAddr, client_isn: Seq, slot: u64) -> Seq {
        Seq(keyed(
            self.secret ^ 0xc00c1e,
            &[
                u64::from(local_port),
                u64::from(remote.addr.0),
                u64::from(remote.port),
                u64::from(client_isn.0),
                slot,
            ],
        ) as u32)
    }

    fn new_sock(
        &mut self,
        now: SimTime,
        local_port: u16,
        remote: SockAddr,
        conn: ConnId,
        iss: Seq,
    ) -> u32 {
        let id = self.alloc_slot();
        let off = self.ts_offset(remote.addr);
        let sock = Sock::new(id, &self.cfg, now, local_port, remote, conn, iss, off);
        self.slots[id.index as usize].sock = Some(sock);
        debug_assert!(self.lookup(local_port, remote).is_none());
        self.demux.insert(key(local_port, remote), id.index);
        id.index
    }

    // ------------------------------------------------------- application

    /// listen() on `port` (backlog `min(tcp.backlog, net.core.somaxconn)`), with
    /// auto-accept: each child is handed over (`AppEvent::Accepted`) as soon as its
    /// handshake completes, so the accept queue never fills.
    pub fn listen(&mut self, now: SimTime, port: u16, stats: &mut Stats) -> Result<(), Errno> {
        self.listen_with(now, port, true, stats)
    }

    /// listen() whose children wait in the accept queue until [`Host::accept`]:
    /// models a slow application. When the queue holds more than the backlog, new
    /// SYNs and handshake-completing ACKs are dropped (`ListenOverflows`).
    pub fn listen_queued(
        &mut self,
        now: SimTime,
        port: u16,
        stats: &mut Stats,
    ) -> Result<(), Errno> {
        self.listen_with(now, port, false, stats)
    }

    fn listen_with(
        &mut self,
        now: SimTime,
        port: u16,
        auto_accept: bool,
        stats: &mut Stats,
    ) -> Result<(), Errno> {
        if self.listeners.contains_key(&port) {
            return Err(Errno::EADDRINUSE);
        }
        let mut l = Listener {
            since: now,
            auto_accept,
            ..Listener::default()
        };
        let mut path = Path::EMPTY;
        let local = SockAddr::new(self.addr, port);
        record_transition(
            stats,
            now,
            &mut l.since,
            &mut path,
            local,
            SockAddr::default(),
            ConnId::NONE,
            State::Closed,
            State::Listen,
            Cause::AppListen,
            self.cost.full_socket as i64,
        );
        self.listeners.insert(port, l);
        Ok(())
    }

    /// accept() on a [`Host::listen_queued`] listener: the oldest established child,
    /// if any. Data or a FIN that arrived while it waited are reported as events now.
    pub fn accept(
        &mut self,
        now: SimTime,
        port: u16,
        stats: &mut Stats,
    ) -> Option<(SocketId, ConnId)> {
        let idx = self.listeners.get_mut(&port)?.acceptq.pop_front()?;
        self.with_sock(now, idx, stats, |s, cx| {
            s.accept(cx);
            (Fate::Live, Some((s.id, s.conn)))
        })
    }

    /// [`Host::queue_full`] for the listener on `port`, if any.
    fn accept_queue_full(&self, port: u16) -> bool {
        self.listeners
            .get(&port)
            .is_some_and(|l| self.queue_full(l))
    }

    /// Linux `sk_acceptq_is_full()`: more established children waiting than the
    /// backlog.
    fn queue_full(&self, l: &Listener) -> bool {
        l.acceptq.len() as u64 > u64::from(self.cfg.listen_limit())
    }

    /// connect() to `remote`: picks an ephemeral port the Linux way
    /// (`__inet_hash_connect()`), sends the SYN. `conn` must be unique per attempt.
    pub fn connect(
        &mut self,
        now: SimTime,
        remote: SockAddr,
        conn: ConnId,
        stats: &mut Stats,
    ) -> Result<SocketId, Errno> {
        let Some((port, reuse)) = self.pick_port(now, remote) else {
            stats.counters.port_exhausted += 1;
            return Err(Errno::EADDRNOTAVAIL);
        };
        let iss = match reuse {
            Some(t) => {
                // tcp_twsk_unique(): write_seq = tw_snd_nxt + 65535 + 2.
                let isn = self.tw.get(t).snd_nxt() + 65537;
                stats.counters.tw_reused += 1;
                self.free_mini(now, t, Cause::TimeWaitReused, stats);
                self.tw.prune();
                isn
            }
            None => self.isn(now, port, remote),
        };
        self.acquire_port(port, remote, stats);
        let idx = self.new_sock(now, port, remote, conn, iss);
        let id = self.with_sock(now, idx, stats, |s, cx| {
            s.ephemeral = true;
            s.open_active(cx);
            (Fate::Live, s.id)
        });
        Ok(id)
    }

    /// `ip_local_port_range` for [`Host::pick_port`]'s scan: `(low, high,
    /// remaining)`, the ports `low..high`, of which the scan tries `remaining`
    /// (an even number, as Linux does, unless the range is one port).
    fn scan_range(&self) -> (u32, u32, u32) {
        let [lo, hi] = self.cfg.local_port_range;
        let low = u32::from(lo);
        let high = u32::from(hi) + 1;
        let mut remaining = high - low;
        if remaining > 1 {
            remaining &= !1;
        }
        (low, high, remaining)
    }

    /// The port [`Host::pick_port`]'s scan toward `remote` starts at, if it was
    /// the last destination and its perturbation entry is the one in use (a
    /// client host's usual state); `None` otherwise.
    fn likely_port(&self, remote: SockAddr) -> Option<u16> {
        let port_offset = self.last_port_offset.peek(remote)?;
        let perturb = self
            .perturb
            .hot((port_offset as usize) & (PERTURB_SIZE - 1))?;
        let (low, _, remaining) = self.scan_range();
        Some((low + start_offset(perturb, port_offset, remaining)) as u16)
    }

    /// Prefetches what a connect() that tries `port` toward `remote` reads: its
    /// 4-tuple table line and its held-port word.
    fn prefetch_port(&self, port: u16, remote: SockAddr) {
        self.demux.prefetch(key(port, remote));
        self.ports.prefetch(port);
    }

    /// Linux `__inet_hash_connect()`: start at a hashed offset (RFC 6056 alg. 4 with a
    /// perturbation table), scan ports of the low end's parity first, then the
    /// other; a port is usable unless a socket (TIME_WAIT included, unless
    /// `tcp_tw_reuse` allows taking it) holds this 4-tuple. Returns the port and the
    /// TIME_WAIT to take over, if any.
    ///
    /// Linux tries the ports one by one, and so does this, except where that
    /// would only cost time: when no TIME_WAIT may be taken over, a port held
    /// toward `remote` is unusable, and where the ports held toward it are
    /// tracked ([`PortSet::toward`]) the scan jumps to the next port not held
    /// toward it ([`PortSet::next_untaken`]), with the same result and the same
    /// count of ports tried (which moves the perturbation table on). A client
    /// host near exhaustion otherwise tries thousands of ports per connect().
    fn pick_port(&mut self, now: SimTime, remote: SockAddr) -> Option<(u16, Option<u32>)> {
        let (low, high, remaining) = self.scan_range();
        // Remembered for the last destination (a client host connects to few).
        let (secret, addr) = (self.secret, self.addr);
        let port_offset = self.last_port_offset.get(remote, |remote| {
            keyed(
                secret ^ 0x9017,
                &[
                    u64::from(addr.0),
                    u64::from(remote.addr.0),
                    u64::from(remote.port),
                ],
            )
        });
        let index = (port_offset as usize) & (PERTURB_SIZE - 1);
        let mut offset = start_offset(*self.perturb.entry(index), port_offset, remaining);
        // `tcp_tw_reuse` takes over only TIME_WAITs that had timestamps
        // (`TwSock::reusable`): without them on this host, no port held toward
        // `remote` can be, and the scan skips those as it does without reuse
        // (the same ports, without a lookup each).
        let reuse_ok = self.cfg.timestamps
            && match self.cfg.tw_reuse {
                1 => true,
                2 => remote.addr.is_loopback() || remote.addr == self.addr,
                _ => false,
            };
        let toward = if reuse_ok {
            None
        } else {
            self.ports.toward(remote)
        };
        loop {
            let mut port = low + offset;
            let mut i = 0;
            while i < remaining {
                if port >= high {
                    port -= remaining;
                }
                let p = port as u16;
                let found = if self.listeners.contains_key(&p) {
                    None
                } else if !self.ports.held(p) {
                    // Only connect()ed sockets (all in `ports`) and listeners'
                    // children (on the listener's port) have local ports: no
                    // socket, full or mini, uses this one (nor the table line).
                    Some(None)
                } else if let Some(t) = toward
                    && self.ports.taken(t, p)
                {
                    let next = self.ports.next_untaken(t, port, high);
                    i += next - port;
                    port = next;
                    continue;
                } else {
                    match self.lookup(p, remote) {
                        None => Some(None),
                        Some(v) if v & MINI != 0 => {
                            let t = v & !MINI;
                            (reuse_ok && self.tw.get(t).reusable(now)).then_some(Some(t))
                        }
                        Some(_) => None,
                    }
                };
                if let Some(reuse) = found {
                    // Linux: a little randomness in the next starting point.
                    let jitter = self.rng.below(8) * 2;
                    let e = self.perturb.entry(index);
                    *e = e.wrapping_add(i.max(jitter) + 2);
                    // The next connect() toward `remote` most likely takes the
                    // port its scan starts at. Its 4-tuple table line and its word
                    // of the held-port bitmap, at random places, are misses to
                    // memory in a big run; fetched now, they are still in the
                    // last-level cache by then (thousands of other hosts' calls
                    // later). A hint: it changes no result.
                    let next = (low + start_offset(*e, port_offset, remaining)) as u16;
                    self.prefetch_port(next, remote);
                    return Some((p, reuse));
                }
                i += 2;
                port += 2;
            }
            offset += 1;
            if offset & 1 == 0 || remaining <= 1 {
                return None;
            }
        }
    }

    fn live_index(&self, id: SocketId) -> Result<u32, Errno> {
        match self.sock(id) {
            Some(s) if !s.app_closed => Ok(id.index),
            _ => Err(Errno::EBADF),
        }
    }

    /// send(): queue `bytes` (byte count only) and transmit what the windows allow.
    pub fn send(
        &mut self,
        now: SimTime,
        sock: SocketId,
        bytes: u64,
        stats: &mut Stats,
    ) -> Result<(), Errno> {
        let idx = self.live_index(sock)?;
        self.with_sock(now, idx, stats, |s, cx| (Fate::Live, s.send(cx, bytes)))
    }

    /// read(): consume every readable byte; returns how many (0 on a dead handle).
    #[inline]
    pub fn read(&mut self, _now: SimTime, sock: SocketId, _stats: &mut Stats) -> u64 {
        match self.live_index(sock) {
            Ok(idx) => self.slots[idx as usize].sock.as_mut().map_or(0, Sock::read),
            Err(_) => 0,
        }
    }

    /// shutdown(SHUT_WR): send FIN; the socket stays the application's (and waits
    /// in FIN_WAIT_2 for as long as the peer keeps its side open).
    pub fn shutdown_write(
        &mut self,
        now: SimTime,
        sock: SocketId,
        stats: &mut Stats,
    ) -> Result<(), Errno> {
        let idx = self.live_index(sock)?;
        self.with_sock(now, idx, stats, |s, cx| (Fate::Live, s.shutdown_write(cx)))
    }

    /// close() with the given SO_LINGER. A no-op on a dead handle.
    pub fn close(&mut self, now: SimTime, sock: SocketId, linger: Linger, stats: &mut Stats) {
        let Ok(idx) = self.live_index(sock) else {
            return;
        };
        let (abort, timeout) = match linger {
            Linger::Off => (false, None),
            Linger::Abort => (true, None),
            Linger::Timeout(n) => (false, Some(n)),
        };
        let s = self.slots[idx as usize].sock.as_ref().expect("live slot");
        if !abort && !s.fin_rcvd && s.state.is_synchronized() {
            // An active close: in a round trip or two the socket becomes a
            // mini-socket (FIN_WAIT_2, then TIME_WAIT). Those lines are out of
            // cache in a big run; fetch them now.
            self.demux.prefetch(key(s.local_port, s.remote));
            self.tw.prefetch_insert();
        }
        self.with_sock(now, idx, stats, |s, cx| (s.close(cx, abort, timeout), ()));
    }

    // ------------------------------------------------------------ network

    /// A segment arrives from the network.
    pub fn on_segment(&mut self, now: SimTime, seg: &Segment, stats: &mut Stats) {
        stats.counters.segments_in += 1;
        if seg.dst.addr != self.addr {
            return;
        }
        let found = match self.hinted(seg) {
            Some(v) => Some(v),
            None => self.lookup(seg.dst.port, seg.src),
        };
        match found {
            Some(v) if v & MINI != 0 => self.mini_segment(now, v & !MINI, seg, stats),
            Some(idx) => {
                let s = self.slots[idx as usize].sock.as_ref().expect("live slot");
                if s.passive
                    && s.state == State::SynRcvd
                    && seg.flags.ack()
                    && self.accept_queue_full(s.local_port)
                {
                    // tcp_v4_syn_recv_sock(): no room for the child; the request
                    // stays and its SYN-ACK timer runs on.
                    stats.counters.listen_drops += 1;
                    return;
                }
                self.with_sock(now, idx, stats, |s, cx| (s.on_segment(cx, seg), ()))
            }
            None => self.listen_segment(now, seg, None, stats),
        }
    }

    /// Answers `seg` with the RST of RFC 9293 §3.10.7.1 (none for an RST).
    fn reply_reset(&mut self, now: SimTime, seg: &Segment, stats: &mut Stats) {
        if let Some(r) = reset_for(seg, ConnId::NONE) {
            let (mut cx, _) = self.cx(now, stats);
            cx.emit(r);
        }
    }

    fn mini_segment(&mut self, now: SimTime, t: u32, seg: &Segment, stats: &mut Stats) {
        // Only a SYN may reopen the 4-tuple for a listener: skip the lookup otherwise.
        let has_listener = seg.flags.syn() && self.listeners.contains_key(&seg.dst.port);
        let ts_off = self.ts_offset(seg.src.addr);
        let (mut cx, tw) = self.cx(now, stats);
        match tw.on_segment(t, &mut cx, seg, ts_off, has_listener) {
            TwVerdict::Keep => {}
            TwVerdict::Kill(cause) => self.free_mini(now, t, cause, stats),
            TwVerdict::Reopen(isn) => {
                stats.counters.tw_reopened += 1;
                self.free_mini(now, t, Cause::TimeWaitSyn, stats);
                self.listen_segment(now, seg, Some(isn), stats);
            }
        }
        // Restarts and kills leave stale expiry entries: drop those at the fronts
        // so poll_timeout() stays exact.
        self.tw.prune();
    }

    /// RFC 9293 §3.10.7.2 LISTEN, with Linux's SYN queue, SYN cookies and
    /// `tcp_conn_request()` checks; §3.10.7.1 CLOSED (a reset) if no socket
    /// listens on the port. `isn` is forced for a SYN that reopened a TIME_WAIT
    /// 4-tuple. The listener is looked up once: nothing below changes it before
    /// the SYN queue count.
    fn listen_segment(&mut self, now: SimTime, seg: &Segment, isn: Option<Seq>, stats: &mut Stats) {
        let f = seg.flags;
        let port = seg.dst.port;
        let Some(l) = self.listeners.get(&port) else {
            stats.counters.no_socket += 1;
            self.reply_reset(now, seg, stats);
            return;
        };
        let (synq, auto_accept, queue_full) = (l.synq, l.auto_accept, self.queue_full(l));
        if f.rst() {
            return;
        }
        if f.ack() {
            if !f.syn() && self.cfg.syncookies != 0 && self.cookie_ok(now, seg) {
                if queue_full {
                    stats.counters.listen_drops += 1;
                    return;
                }
                stats.counters.syn_cookies_accepted += 1;
                let synth = Segment {
                    seq: seg.seq + u32::MAX, // client ISN = SEG.SEQ - 1
                    flags: Flags::SYN,
                    len: 0,
                    mss: Some(self.cfg.mss),
                    ..*seg
                };
                let iss = seg.ack + u32::MAX;
                let idx = self.new_sock(now, port, seg.src, seg.conn, iss);
                self.with_sock(now, idx, stats, |s, cx| {
                    s.auto_accept = auto_accept;
                    s.open_passive(cx, &synth, Cause::SynCookie);
                    (s.on_segment(cx, seg), ())
                });
                return;
            }
            if !f.syn() && self.cfg.syncookies != 0 {
                stats.counters.syn_cookies_failed += 1;
            }
            self.reply_reset(now, seg, stats);
            return;
        }
        if !f.syn() {
            return;
        }
        let limit = self.cfg.listen_limit();
        let want_cookie = isn.is_none()
            && (self.cfg.syncookies == 2 || (synq > limit && self.cfg.syncookies == 1));
        if !want_cookie && synq > limit && isn.is_none() {
            stats.counters.syn_drops += 1;
            return;
        }
        if queue_full {
            stats.counters.listen_drops += 1;
            return;
        }
        if want_cookie {
            stats.counters.syn_cookies_sent += 1;
            let slot = now.as_nanos() / 1_000_000_000 / COOKIE_SLOT_SECS;
            let cookie = self.cookie(port, seg.src, seg.seq, slot);
            let off = self.ts_offset(seg.src.addr);
            let ts = match (seg.ts, self.cfg.timestamps) {
                (Some((tsval, _)), true) => Some((
                    ((now.as_nanos() / 1_000_000) as u32).wrapping_add(off),
                    tsval,
                )),
                _ => None,
            };
            let synack = Segment {
                src: seg.dst,
                dst: seg.src,
                seq: cookie,
                ack: seg.seq + 1,
                flags: Flags::SYN | Flags::ACK,
                window: self.cfg.rcv_window.min(65535) as u16,
                len: 0,
                mss: Some(self.cfg.mss),
                ts,
                conn: seg.conn,
                demux: DemuxHint::reply_to(seg),
            };
            let (mut cx, _) = self.cx(now, stats);
            cx.emit(synack);
            return;
        }
        let iss = isn.unwrap_or_else(|| self.isn(now, port, seg.src));
        let idx = self.new_sock(now, port, seg.src, seg.conn, iss);
        if let Some(l) = self.listeners.get_mut(&port) {
            l.synq += 1;
        }
        let cause = if isn.is_some() {
            Cause::TimeWaitSyn
        } else {
            Cause::RecvSyn
        };
        self.with_sock(now, idx, stats, |s, cx| {
            s.in_synq = true;
            s.auto_accept = auto_accept;
            s.open_passive(cx, seg, cause);
            (Fate::Live, ())
        });
    }

    /// Linux `cookie_v4_check()`: the ACK acknowledges a cookie of this or one of
    /// the two previous slots.
    fn cookie_ok(&self, now: SimTime, seg: &Segment) -> bool {
        let cur = now.as_nanos() / 1_000_000_000 / COOKIE_SLOT_SECS;
        let client_isn = seg.seq + u32::MAX;
        let isn = seg.ack + u32::MAX;
        (0..3).any(|age| {
            cur >= age && self.cookie(seg.dst.port, seg.src, client_isn, cur - age) == isn
        })
    }

    // ------------------------------------------------------------- timers

    /// The earliest pending deadline of any socket on this host.
    #[inline]
    pub fn poll_timeout(&self) -> Option<SimTime> {
        earliest(self.timers.peek().map(|(t, _)| t), self.tw.next_deadline())
    }

    /// Prefetching for a coming [`Host::on_timeout`] that expires a TIME_WAIT
    /// socket, in two calls some work apart: with [`ExpiryStep::Socket`], the
    /// mini-socket at the front of the expiry queue and the queue's next entry;
    /// with [`ExpiryStep::Lookup`] (once those are in cache), the 4-tuple table's
    /// slot its removal probes, its held-port word, and the next entry's
    /// mini-socket (checked once the front is gone), returning its connection id
    /// for the caller's own records. In a big run all are cache misses otherwise
    /// (last touched 2·MSL ago). Reads only; changes nothing.
    pub fn prefetch_expiry(&self, step: ExpiryStep) -> Option<ConnId> {
        match step {
            ExpiryStep::Socket => {
                self.tw.prefetch_fifo_front();
                self.tw.prefetch_fifo_next();
                None
            }
            ExpiryStep::Lookup => {
                let s = self.tw.fifo_front()?;
                self.demux.prefetch(key(s.local_port(), s.remote()));
                if s.ephemeral() {
                    self.ports.prefetch(s.local_port());
                }
                self.tw.prefetch_fifo_next_socket();
                Some(s.conn())
            }
        }
    }

    /// Prefetching for a coming [`Host::connect`], in two calls some work apart
    /// and some work before it: [`ConnectStep::Host`], then (once those lines
    /// are in cache) [`ConnectStep::Socket`]. In a big run, where thousands of
    /// client hosts take turns, all of it has left the cache since the host's
    /// last call. Reads only; changes nothing.
    pub fn prefetch_connect(&self, step: ConnectStep) {
        match step {
            ConnectStep::Host => sim_core::prefetch::prefetch(self),
            ConnectStep::Socket(remote) => {
                if let Some(slot) = self.slots.get(self.free as usize) {
                    sim_core::prefetch::prefetch(slot);
                }
                if let Some(port) = self.likely_port(remote) {
                    self.prefetch_port(port, remote);
                }
            }
        }
    }

    /// Runs every timer due at or before `now`.
    pub fn on_timeout(&mut self, now: SimTime, stats: &mut Stats) {
        loop {
            let full_due = self.timers.peek().is_some_and(|(t, _)| t <= now);
            if full_due {
                let (_, idx) = self.timers.pop().expect("peeked");
                if let Some(s) = self.slots[idx as usize].sock.as_mut() {
                    s.armed = Deadline::NONE;
                }
                self.with_sock(now, idx, stats, |s, cx| (s.on_timer(cx), ()));
                continue;
            }
            match self.tw.pop_due(now) {
                Some(t) => {
                    let cause = if self.tw.get(t).state() == State::FinWait2 {
                        stats.counters.fin_wait2_timeouts += 1;
                        Cause::FinWait2Timeout
                    } else {
                        Cause::TimeWaitExpired
                    };
                    self.free_mini(now, t, cause, stats);
                }
                // pop_due() pruned the fronts, and nothing changed since.
                None => break,
            }
        }
    }

    // ------------------------------------------------------------ outputs

    /// The next segment to put on the wire.
    #[inline]
    pub fn poll_transmit(&mut self) -> Option<Segment> {
        self.io.out.pop_front()
    }

    /// The next application event: `(socket, connection id, event)`.
    #[inline]
    pub fn poll_event(&mut self) -> Option<(SocketId, ConnId, AppEvent)> {
        self.io.events.pop_front()
    }

    // -------------------------------------------------------- inspection

    /// State of a socket handle (None once it is gone or became a mini-socket).
    pub fn state(&self, id: SocketId) -> Option<State> {
        self.sock(id).map(|s| s.state)
    }

    /// Local port of a socket handle (None once it is gone or became a mini-socket):
    /// for a connect()ed socket, the ephemeral port it was given.
    pub fn local_port(&self, id: SocketId) -> Option<u16> {
        self.sock(id).map(|s| s.local_port)
    }

    /// State of the connection `local_port ↔ remote`, mini-sockets included.
    pub fn state_of(&self, local_port: u16, remote: SockAddr) -> Option<State> {
        self.view(local_port, remote).map(|(state, _)| state)
    }

    /// The states the connection `local_port ↔ remote` has gone through so far,
    /// mini-sockets included (for a socket still open when a run ends).
    pub fn path_of(&self, local_port: u16, remote: SockAddr) -> Option<Path> {
        self.view(local_port, remote).map(|(_, path)| path)
    }

    /// Current state and path of a demultiplexed connection.
    fn view(&self, local_port: u16, remote: SockAddr) -> Option<(State, Path)> {
        match self.lookup(local_port, remote)? {
            v if v & MINI != 0 => {
                let m = self.tw.get(v & !MINI);
                Some((m.state(), m.path()))
            }
            idx => self.slots[idx as usize]
                .sock
                .as_ref()
                .map(|s| (s.state, s.path)),
        }
    }

    /// Number of mini-sockets (TIME_WAIT and FIN_WAIT_2) alive.
    pub fn mini_sockets(&self) -> u32 {
        self.tw.live
    }

    /// Number of full sockets alive (listeners excluded).
    pub fn full_sockets(&self) -> usize {
        self.slots.len() - self.free_slots as usize
    }

    /// Estimated heap bytes of this host's tables (socket slab, mini-sockets,
    /// expiry queues, demultiplexing and port maps, timer queue): the simulator's
    /// own memory, not the modelled kernel memory in [`Stats::memory`]. Hash tables
    /// are counted as `capacity × 8/7` buckets of entry + control byte.
    pub fn heap_bytes(&self) -> usize {
        self.slots.capacity() * std::mem::size_of::<Slot>()
            + self.tw.heap_bytes()
            + self.demux.heap_bytes()
            + self.ports.heap_bytes()
            + self.timers.heap_bytes()
            + self.perturb.heap_bytes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// A host at 10.0.0.1 with the default stack and costs, seeded by `seed`.
    fn host(seed: u64) -> Host {
        let addr = Addr::new(10, 0, 0, 1);
        Host::new(addr, TcpConfig::default(), CostModel::default(), seed)
    }

    /// What every segment reads lies in the host's first seven cache lines, and
    /// hosts start on line boundaries (see [`Host`]): a field added in front, or a
    /// layout left to the compiler, fails here.
    #[test]
    fn per_segment_fields_share_the_first_lines() {
        use std::mem::{align_of, offset_of, size_of};
        assert_eq!(align_of::<Host>(), 64);
        let hot_end = offset_of!(Host, timers)
            + offset_of!(Timers, small)
            + size_of::<ArrayVec<(SimTime, u32), SMALL>>();
        assert!(hot_end <= 7 * 64, "hot fields end at byte {hot_end}");
        for cold in [
            offset_of!(Host, tw),
            offset_of!(Host, demux),
            offset_of!(Host, ports),
        ] {
            assert!(
                cold >= hot_end,
                "a cold field at {cold} inside the hot lines"
            );
        }
    }

    /// The remembered timestamp offset is the keyed hash's, for a repeated peer
    /// and after switching peers back and forth.
    #[test]
    fn ts_offset_memo_gives_the_hash() {
        let mut h = host(5);
        let offs: Vec<u32> = [2, 2, 3, 2, 3, 3, 4]
            .into_iter()
            .map(|d| {
                let peer = Addr::new(10, 0, 0, d);
                let off = h.ts_offset(peer);
                assert_eq!(off, ts_offset(h.secret, h.addr, peer));
                off
            })
            .collect();
        assert_ne!(offs[0], offs[2], "peers have distinct offsets");
    }

    /// `likely_port` (for prefetching) names the port connect() takes unless
    /// that port is already in use toward the same destination; it knows only
    /// the last destination. Freed slab slots are taken again last freed first.
    #[test]
    fn connect_predictions_hold() {
        let mut h = host(9);
        let mut stats = Stats::new();
        let now = SimTime::ZERO;
        let r1 = SockAddr::new(Addr::new(10, 0, 0, 2), 80);
        let r2 = SockAddr::new(Addr::new(10, 0, 0, 3), 80);
        assert_eq!(h.likely_port(r1), None);
        let (mut hits, mut open, mut last) = (0, Vec::new(), r1);
        for i in 0..300u64 {
            let remote = if i % 10 == 9 { r2 } else { r1 };
            let guess = h.likely_port(remote);
            let not_last = if last == r1 { r2 } else { r1 };
            assert_eq!(h.likely_port(not_last), None, "connect {i}");
            last = remote;
            let id = h
                .connect(now, remote, ConnId(i + 1), &mut stats)
                .expect("ports free");
            let port = h.local_port(id).expect("bound");
            if let Some(g) = guess {
                assert!(g == port || h.state_of(g, remote).is_some(), "connect {i}");
                hits += usize::from(g == port);
            }
            open.push(id);
        }
        // Every connect after one toward the same destination had a guess.
        assert!(hits >= 200, "{hits} guesses taken");

        let full = h.full_sockets();
        let freed: Vec<SocketId> = open[10..13].to_vec();
        for &id in &freed {
            h.close(now, id, Linger::Abort, &mut stats);
        }
        assert_eq!(h.full_sockets(), full - 3);
        for (i, want) in freed.iter().rev().enumerate() {
            let id = h
                .connect(now, r1, ConnId(1000 + i as u64), &mut stats)
                .expect("ports free");
            assert_eq!(id.index, want.index);
            assert_ne!(id.generation, want.generation);
        }
        assert_eq!(h.full_sockets(), full);
    }

    /// The ISN from the precomputed prefix is RFC 6528's keyed hash of the whole
    /// 4-tuple plus the 4 µs clock.
    #[test]
    fn isn_is_the_keyed_hash_of_the_4_tuple() {
        let mut h = host(5);
        for (port, d, rport, ns) in [(40000u16, 2u8, 80u16, 0u64), (1, 3, 443, 123_456_789)] {
            let remote = SockAddr::new(Addr::new(10, 0, 0, d), rport);
            let want = keyed(
                h.secret,
                &[
                    u64::from(h.addr.0),
                    u64::from(port),
                    u64::from(remote.addr.0),
                    u64::from(remote.port),
                ],
            ) as u32;
            let isn = h.isn(SimTime::from_nanos(ns), port, remote);
            assert_eq!(isn, Seq(want.wrapping_add((ns / 4000) as u32)));
        }
    }

    /// `Timers` against a sorted set of `(deadline, slab index)`: random armings
    /// (a few RTO classes, a far one and random ones, ties included), re-armings
    /// (earlier and later), disarmings (of the earliest socket and of others) and
    /// pops over `sockets` slab indices; `arms` of 8 steps arm, and the number
    /// armed is held in `keep`. The cached top is always the set's first element,
    /// and pops follow the set's order. Returns (pops, compactions, clears: the
    /// heap emptied with several entries in it, switches from small mode to the
    /// heap).
    fn timers_against_a_sorted_set(
        sockets: u32,
        arms: u32,
        keep: std::ops::Range<usize>,
    ) -> (usize, usize, usize, usize) {
        let mut timers = Timers::default();
        let mut model: BTreeSet<(SimTime, u32)> = BTreeSet::new();
        let mut armed: Vec<Option<SimTime>> = vec![None; sockets as usize];
        let mut rng = SplitMix::new(3);
        let (mut now, mut pops, mut clears, mut to_heap) = (0u64, 0, 0, 0);
        for step in 0..300_000 {
            let idx = match model.first() {
                // Often the earliest socket: its ACK arrives first.
                Some(&(_, first)) if rng.below(4) == 0 => first,
                _ => rng.below(sockets),
            };
            let cur = armed[idx as usize];
            let before = timers.heap.len();
            let was_in_heap = timers.in_heap;
            // Between `keep.start` and `keep.end` armed: arm or disarm if not.
            let op = match model.len() {
                n if n < keep.start => 0,
                n if n >= keep.end => 5,
                _ => rng.below(8),
            };
            match op {
                op if op < arms => {
                    let rto = match rng.below(7) {
                        0 => 1_000,
                        1 | 2 => 204,
                        3 => 408,
                        4 => 3_000,
                        // Far off (a SYN-ACK's initial RTO among data RTOs): its
                        // orphan stays long after the socket is disarmed.
                        5 => 1_000_000,
                        _ => u64::from(rng.below(5_000)),
                    };
                    let t = SimTime::from_nanos(now + rto);
                    timers.arm(idx, t, cur.is_some());
                    if let Some(c) = cur {
                        model.remove(&(c, idx));
                    }
                    model.insert((t, idx));
                    armed[idx as usize] = Some(t);
                }
                0..=5 => {
                    // This socket, or else any armed one.
                    let pick = match cur {
                        Some(c) => Some((c, idx)),
                        None if model.is_empty() => None,
                        None => model
                            .iter()
                            .nth(rng.below(model.len() as u32) as usize)
                            .copied(),
                    };
                    if let Some((c, i)) = pick {
                        timers.disarm(i);
                        model.remove(&(c, i));
                        armed[i as usize] = None;
                    }
                }
                6 => {
                    let want = model.pop_first();
                    assert_eq!(timers.pop(), want, "step {step}");
                    if let Some((t, i)) = want {
                        armed[i as usize] = None;
                        now = now.max(t.as_nanos());
                        pops += 1;
                    }
                }
                _ => now += u64::from(rng.below(50)),
            }
            if timers.in_heap && !was_in_heap {
                to_heap += 1;
            }
            assert!(timers.in_heap || (timers.heap.is_empty() && timers.armed <= SMALL));
            if timers.heap.is_empty() && before > 1 {
                clears += 1;
            }
            assert_eq!(timers.peek(), model.first().copied(), "step {step}");
            assert_eq!(timers.armed, model.len());
            assert!(timers.heap.len() <= 4 * timers.armed + 64);
            assert!(timers.armed > 0 || timers.heap.is_empty());
        }
        while let Some(want) = model.pop_first() {
            assert_eq!(timers.pop(), Some(want));
        }
        assert_eq!(timers.pop(), None);
        (pops, timers.compactions, clears, to_heap)
    }

    /// Many sockets armed at once: entries re-filed, reused and stale.
    #[test]
    fn timers_fire_in_the_order_of_a_sorted_set() {
        let (pops, _, _, _) = timers_against_a_sorted_set(300, 4, 0..usize::MAX);
        assert!(pops > 10_000, "{pops} pops");
    }

    /// Few of many slab indices armed at a time: orphans and stale entries pile
    /// up and are compacted away.
    #[test]
    fn timers_compact_orphans_of_many_sockets() {
        let (pops, compactions, _, _) = timers_against_a_sorted_set(3000, 2, 20..40);
        assert!(
            pops > 10_000 && compactions > 100,
            "{pops} pops, {compactions} compactions"
        );
    }

    /// A client host's pattern, one or two sockets: small mode throughout.
    #[test]
    fn timers_of_few_sockets_fire_in_order() {
        let (pops, _, _, to_heap) = timers_against_a_sorted_set(2, 4, 0..usize::MAX);
        assert!(pops > 10_000 && to_heap == 0, "{pops} pops, {to_heap}");
    }

    /// Around `SMALL` armed sockets: back and forth between small mode and the
    /// heap, whose last disarm or pop empties it at once.
    #[test]
    fn timers_switching_modes_fire_in_order_and_clear() {
        let (pops, _, clears, to_heap) = timers_against_a_sorted_set(12, 4, 0..usize::MAX);
        assert!(
            pops > 10_000 && clears > 100 && to_heap > 100,
            "{pops} pops, {clears} clears, {to_heap} switches to the heap"
        );
    }
}
