//! TIME_WAIT and orphan FIN_WAIT_2 mini-sockets, as Linux's `tcp_timewait_sock`: a
//! closing connection keeps only what TIME_WAIT needs (4-tuple, RCV.NXT, SND.NXT,
//! timestamps, rate-limit stamp) plus the few counters its [`SocketRecord`] still
//! needs: one 64-byte cache line each; with its demultiplexing entry and expiry
//! entry a TIME_WAIT socket costs the simulator about 105 bytes.
//!
//! Expiries: every TIME_WAIT lasts the same `time_wait`, so a FIFO holds them in
//! expiry order in O(1); a restart pushes a new entry and the old one is skipped
//! lazily (each socket carries a `tag` that every reschedule bumps). FIN_WAIT_2
//! mini-sockets have per-socket lengths (`max(fin_timeout, 3.5·RTO)`), so they use a
//! binary heap, again with lazy deletion. The host asks for the next expiry after
//! every call, so the FIFO keeps its front entry inline and [`TwTable::prune`]
//! remembers which fronts it already found current: with 10^6 TIME_WAIT sockets
//! over many hosts, neither the front block nor the oldest socket is in cache.
//!
//! Segment processing follows Linux `tcp_timewait_state_process()`.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use sim_core::time::{SimDuration, SimTime};

use crate::hash::keyed;
use crate::segment::{Addr, ConnId, DemuxHint, Flags, Segment, SockAddr};
use crate::seq::Seq;
use crate::sock::{Cx, OOW_RATELIMIT, Sock, earliest, record_transition, reset_for};
use crate::state::{Cause, State};
use crate::stats::{Path, SocketRecord};

const SUB_FIN_WAIT2: u8 = 1;
const EPHEMERAL: u8 = 2;
const ACTIVE_OPEN: u8 = 4;
const SENT_FIN_FIRST: u8 = 8;
const TS_OK: u8 = 16;
const LIVE: u8 = 32;

/// A mini-socket's demultiplexing value is its index with this bit set (a full
/// socket's is its slab index).
pub(crate) const MINI: u32 = 1 << 31;

/// One mini-socket: 64 bytes, one cache line (aligned), read back once when it
/// expires, long after it was written.
#[repr(align(64))]
pub(crate) struct TwSock {
    path: Path,
    /// When the current state (FIN_WAIT_2 or TIME_WAIT) was entered.
    since: SimTime,
    conn: ConnId,
    remote_addr: Addr,
    remote_port: u16,
    local_port: u16,
    snd_nxt: Seq,
    rcv_nxt: Seq,
    ts_recent: u32,
    retransmits: u32,
    /// Last out-of-window ACK, ms + 1 (0 = never).
    last_oow_ms: u32,
    /// When `ts_recent` was last updated, ms (Linux `tw_ts_recent_stamp`).
    ts_stamp_ms: u32,
    /// Bumped on every (re)schedule: expiry entries with another tag are stale.
    /// In a free slot (not `LIVE`): the next free slot, [`NO_SLOT`] for none.
    tag: u32,
    stale_accepted: u16,
    rsts_sent: u8,
    bits: u8,
}

impl TwSock {
    pub fn state(&self) -> State {
        if self.bits & SUB_FIN_WAIT2 != 0 {
            State::FinWait2
        } else {
            State::TimeWait
        }
    }
    /// The states the connection went through, up to this one.
    pub fn path(&self) -> Path {
        self.path
    }
    pub fn ephemeral(&self) -> bool {
        self.bits & EPHEMERAL != 0
    }
    pub fn local_port(&self) -> u16 {
        self.local_port
    }
    pub fn remote(&self) -> SockAddr {
        SockAddr::new(self.remote_addr, self.remote_port)
    }
    pub fn conn(&self) -> ConnId {
        self.conn
    }
    pub fn snd_nxt(&self) -> Seq {
        self.snd_nxt
    }
    fn ms(now: SimTime) -> u32 {
        (now.as_nanos() / 1_000_000) as u32
    }

    /// Linux `tcp_twsk_unique()` conditions for `tcp_tw_reuse`: timestamps were on,
    /// the last segment is at least a second old (`ts_recent_stamp` in whole seconds),
    /// and it is a real TIME_WAIT, not a FIN_WAIT_2 mini-socket.
    pub fn reusable(&self, now: SimTime) -> bool {
        self.bits & SUB_FIN_WAIT2 == 0
            && self.bits & TS_OK != 0
            && Self::ms(now) / 1000 > self.ts_stamp_ms / 1000
    }

    fn record(&self, addr: Addr, closed_at: SimTime) -> SocketRecord {
        SocketRecord {
            conn: self.conn,
            local: SockAddr::new(addr, self.local_port),
            remote: self.remote(),
            active_open: self.bits & ACTIVE_OPEN != 0,
            path: self.path,
            closed_at,
            retransmits: self.retransmits,
            bytes_discarded: 0,
            stale_accepted: u32::from(self.stale_accepted),
            rsts_sent: u32::from(self.rsts_sent),
            error: None,
            aborted: false,
            sent_fin_first: self.bits & SENT_FIN_FIRST != 0,
        }
    }

    /// Every state change of a mini-socket goes through here (as
    /// `Sock::set_state` for full ones). Inlined: its callers pass constant
    /// states, so the memory delta and the accounting branches fold.
    #[inline(always)]
    fn set_state(&mut self, cx: &mut Cx, to: State, cause: Cause) {
        let from = self.state();
        let delta = if to == State::Closed {
            -(cx.cost.time_wait as i64)
        } else {
            0
        };
        let local = SockAddr::new(cx.addr, self.local_port);
        let remote = self.remote();
        record_transition(
            cx.stats,
            cx.now,
            &mut self.since,
            &mut self.path,
            local,
            remote,
            self.conn,
            from,
            to,
            cause,
            delta,
        );
        if to == State::TimeWait {
            self.bits &= !SUB_FIN_WAIT2;
        }
    }

    /// `<SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>` from mini-socket `idx`
    /// (Linux `tcp_v4_timewait_ack()`). Its demultiplexing hint names the
    /// mini-socket but not the peer's socket: a mini-socket keeps no peer value
    /// (4 more bytes would round it up to 96), and its peer needs a lookup.
    fn ack(&self, idx: u32, cx: &mut Cx, ts_off: u32) {
        let ts = (self.bits & TS_OK != 0).then(|| (cx.tsval(ts_off), self.ts_recent));
        cx.emit(Segment {
            src: SockAddr::new(cx.addr, self.local_port),
            dst: self.remote(),
            seq: self.snd_nxt,
            ack: self.rcv_nxt,
            flags: Flags::ACK,
            window: cx.cfg.rcv_window.min(65535) as u16,
            len: 0,
            mss: None,
            ts,
            conn: self.conn,
            demux: DemuxHint {
                from: MINI | idx,
                to: DemuxHint::UNKNOWN,
            },
        });
    }

    /// Linux `tcp_timewait_check_oow_rate_limit()`: segments with data (and no SYN)
    /// are always answered, others at most once per 500 ms.
    #[cold]
    fn oow_ack(&mut self, idx: u32, cx: &mut Cx, seg: &Segment, ts_off: u32) {
        let now_ms = Self::ms(cx.now);
        let always = seg.seg_len() > 0 && !seg.flags.syn();
        let limit_ms = (OOW_RATELIMIT.as_nanos() / 1_000_000) as u32;
        if !always && self.last_oow_ms != 0 && now_ms.wrapping_sub(self.last_oow_ms - 1) < limit_ms
        {
            cx.stats.counters.acks_rate_limited += 1;
            return;
        }
        self.last_oow_ms = now_ms.wrapping_add(1).max(1);
        self.ack(idx, cx, ts_off);
    }
}

/// Timestamp offset per (local, remote) address pair (Linux `tcp_ts_off()`), so
/// successive incarnations toward one peer have increasing TSvals (what PAWS and
/// RFC 6191 rely on).
pub(crate) fn ts_offset(secret: u64, local: Addr, remote: Addr) -> u32 {
    keyed(secret ^ 0x7473, &[u64::from(local.0), u64::from(remote.0)]) as u32
}

/// What the host must do after a mini-socket saw a segment.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum TwVerdict {
    Keep,
    /// Free it (and emit `Finished`): RST assassination or a reset sent.
    Kill(Cause),
    /// A SYN that may reopen the 4-tuple: kill, then hand the SYN to the listener
    /// with this ISN (old SND.NXT + 65537).
    Reopen(Seq),
}

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
struct Expiry {
    at: SimTime,
    idx: u32,
    tag: u32,
}

/// Mini-sockets are stored in chunks of this many, each allocated exactly, so the
/// table never holds more than one chunk of slack (a doubling `Vec` would hold up
/// to 2×).
const CHUNK: usize = 4096;

/// A host's mini-socket slots, in [`CHUNK`]s. The first chunk is held inline,
/// not in the list of the others: most hosts never need a second, and with
/// thousands of hosts taking turns that list's line is one more miss to memory
/// on every insertion and expiry.
#[derive(Default)]
struct Slots {
    first: Vec<TwSock>,
    rest: Vec<Vec<TwSock>>,
}

impl Slots {
    #[inline]
    fn chunk(&self, c: usize) -> Option<&Vec<TwSock>> {
        match c {
            0 => Some(&self.first),
            c => self.rest.get(c - 1),
        }
    }

    /// Slot `idx`, if it exists (any `idx`: a hint may be garbled).
    #[inline]
    fn get(&self, idx: u32) -> Option<&TwSock> {
        self.chunk(idx as usize / CHUNK)?.get(idx as usize % CHUNK)
    }

    fn get_mut(&mut self, idx: u32) -> &mut TwSock {
        let chunk = match idx as usize / CHUNK {
            0 => &mut self.first,
            c => &mut self.rest[c - 1],
        };
        &mut chunk[idx as usize % CHUNK]
    }

    /// Appends a slot holding `s`; returns its index.
    fn push(&mut self, s: TwSock) -> u32 {
        if self.rest.last().unwrap_or(&self.first).len() == CHUNK {
            self.rest.push(Vec::with_capacity(CHUNK));
        }
        let n = self.rest.len();
        let last = self.rest.last_mut().unwrap_or(&mut self.first);
        if last.capacity() == 0 {
            last.reserve_exact(CHUNK);
        }
        last.push(s);
        (n * CHUNK + last.len() - 1) as u32
    }

    /// Where the next [`Slots::push`] writes, if its chunk is allocated.
    #[inline]
    fn next_push(&self) -> Option<*const TwSock> {
        let last = self.rest.last().unwrap_or(&self.first);
        (last.len() < last.capacity()).then(|| last.as_ptr().wrapping_add(last.len()))
    }

    fn heap_bytes(&self) -> usize {
        let chunks = self.rest.iter().map(Vec::capacity).sum::<usize>() + self.first.capacity();
        chunks * std::mem::size_of::<TwSock>()
            + self.rest.capacity() * std::mem::size_of::<Vec<TwSock>>()
    }
}

/// Entries per block of a [`BlockFifo`] (1 KiB).
const FIFO_BLOCK: usize = 64;

/// A FIFO of expiries in fixed-size blocks: unlike a `VecDeque`, whose capacity
/// doubles (up to 2× slack per host, and a ring buffer touches all of it), it holds
/// at most three partly used or spare blocks beyond its entries. A used-up front
/// block is kept as the spare for the next new back block, so a steady state
/// allocates nothing.
///
/// The block popped from and the block pushed to are held inline, not in the
/// block list, and the front entry is copied inline too: with 10^6 TIME_WAIT
/// sockets over many hosts, a host's queue is out of cache whenever it is used,
/// and each pointer chased (list, then block) is a miss. `poll_timeout` and
/// `prune` read the front after every call into the host.
#[derive(Default)]
struct BlockFifo {
    /// The oldest block; its entries before `head` are gone. When the FIFO is not
    /// empty, `front[head]` is its first entry.
    front: Vec<Expiry>,
    head: usize,
    /// Full blocks between `front` and `back`.
    middle: VecDeque<Vec<Expiry>>,
    /// The newest block, pushed to (empty while everything fits in `front`).
    back: Vec<Expiry>,
    spare: Option<Vec<Expiry>>,
    /// A copy of the first entry.
    first: Option<Expiry>,
}

impl BlockFifo {
    fn new_block(&mut self) -> Vec<Expiry> {
        self.spare
            .take()
            .unwrap_or_else(|| Vec::with_capacity(FIFO_BLOCK))
    }

    fn push_back(&mut self, e: Expiry) {
        if self.first.is_none() {
            // Empty: start over at the front block.
            self.front.clear();
            self.head = 0;
            if self.front.capacity() == 0 {
                self.front = self.new_block();
            }
            self.front.push(e);
            self.first = Some(e);
            return;
        }
        if self.back.len() == FIFO_BLOCK {
            let full = std::mem::take(&mut self.back);
            self.middle.push_back(full);
        }
        if self.back.capacity() == 0 {
            self.back = self.new_block();
        }
        self.back.push(e);
    }

    #[inline]
    fn front(&self) -> Option<&Expiry> {
        self.first.as_ref()
    }

    /// Where the next [`BlockFifo::push_back`] writes, if that block is allocated.
    #[inline]
    fn next_push(&self) -> Option<*const Expiry> {
        if self.first.is_none() {
            (self.front.capacity() > 0).then_some(self.front.as_ptr())
        } else if self.back.len() == FIFO_BLOCK || self.back.capacity() == 0 {
            // push_back() takes the spare block, if any.
            self.spare.as_ref().map(|b| b.as_ptr())
        } else {
            Some(self.back.as_ptr().wrapping_add(self.back.len()))
        }
    }

    /// The entry after the front, if it is in the front block.
    #[inline]
    fn next(&self) -> Option<&Expiry> {
        self.front.get(self.head + 1)
    }

    fn pop_front(&mut self) {
        if self.first.is_none() {
            return;
        }
        self.head += 1;
        if self.head == self.front.len() {
            // Used up: the next block (the oldest full one, else the back block)
            // takes its place.
            let next = match self.middle.pop_front() {
                Some(b) => b,
                None => std::mem::take(&mut self.back),
            };
            let mut used = std::mem::replace(&mut self.front, next);
            used.clear();
            self.spare = Some(used);
            self.head = 0;
        }
        self.first = self.front.get(self.head).copied();
    }

    /// Blocks allocated (entries, partly used and spare ones).
    fn blocks(&self) -> usize {
        usize::from(self.front.capacity() > 0)
            + self.middle.len()
            + usize::from(self.back.capacity() > 0)
            + usize::from(self.spare.is_some())
    }

    fn heap_bytes(&self) -> usize {
        self.blocks() * FIFO_BLOCK * std::mem::size_of::<Expiry>()
            + self.middle.capacity() * std::mem::size_of::<Vec<Expiry>>()
    }
}

/// All mini-sockets of a host.
pub(crate) struct TwTable {
    slots: Slots,
    /// The last freed slot, [`NO_SLOT`] for none: the free slots form a stack
    /// through their `tag`s. Kept in the slots themselves, not in a list apart,
    /// since taking one writes that slot anyway: a list's line is one more miss
    /// per insertion in a big run.
    free: u32,
    /// TIME_WAIT expiries, in order (all have the same length).
    fifo: BlockFifo,
    /// FIN_WAIT_2 mini-socket expiries.
    heap: BinaryHeap<Reverse<Expiry>>,
    /// Live mini-sockets (compared with `tcp_max_tw_buckets`).
    pub live: u32,
    next_tag: u32,
    /// Mini-socket of the FIFO front / heap top entry last found current by
    /// [`TwTable::prune`]: that entry stays current, and need not be checked again,
    /// until it is popped or its socket rescheduled or removed (which clear this).
    /// The front's socket is the oldest TIME_WAIT, long out of cache: without this,
    /// every prune (after each segment to a mini-socket, each time-out) reads it.
    verified: [Option<u32>; 2],
    /// The earlier of the FIFO front's and the heap top's expiry, kept up to date
    /// by every push and pop: the host reads it after every call
    /// ([`TwTable::next_deadline`]), far more often than the fronts change.
    next: Option<SimTime>,
}

/// No slot: the end of the free slots' stack.
const NO_SLOT: u32 = u32::MAX;

impl Default for TwTable {
    fn default() -> Self {
        TwTable {
            slots: Slots::default(),
            free: NO_SLOT,
            fifo: BlockFifo::default(),
            heap: BinaryHeap::new(),
            live: 0,
            next_tag: 0,
            verified: [None; 2],
            next: None,
        }
    }
}

/// [`TwTable::verified`] slots.
const FIFO: usize = 0;
const HEAP: usize = 1;

impl TwTable {
    pub fn get(&self, idx: u32) -> &TwSock {
        self.slots.get(idx).expect("a mini-socket slot")
    }
    /// Mini-socket `idx` if it exists and is live (any `idx`: a hint may be garbled).
    #[inline]
    pub fn get_live(&self, idx: u32) -> Option<&TwSock> {
        let s = self.slots.get(idx)?;
        (s.bits & LIVE != 0).then_some(s)
    }
    fn get_mut(&mut self, idx: u32) -> &mut TwSock {
        self.slots.get_mut(idx)
    }

    /// Heap bytes held by the table: objects and expiry queues.
    pub fn heap_bytes(&self) -> usize {
        self.slots.heap_bytes()
            + self.fifo.heap_bytes()
            + self.heap.capacity() * std::mem::size_of::<Expiry>()
    }

    /// Turns a full socket into a mini-socket in FIN_WAIT_2 (`fin_wait2 = Some(tmo)`)
    /// or TIME_WAIT (the caller has already moved `sock` to TIME_WAIT).
    pub fn insert(
        &mut self,
        sock: &Sock,
        now: SimTime,
        time_wait: SimDuration,
        fin_wait2: Option<SimDuration>,
    ) -> u32 {
        let mut bits = LIVE;
        if fin_wait2.is_some() {
            bits |= SUB_FIN_WAIT2;
        }
        if sock.ephemeral {
            bits |= EPHEMERAL;
        }
        if !sock.passive {
            bits |= ACTIVE_OPEN;
        }
        if sock.tally.sent_fin_first {
            bits |= SENT_FIN_FIRST;
        }
        if sock.ts_ok {
            bits |= TS_OK;
        }
        let t = &sock.tally;
        let tw = TwSock {
            path: sock.path,
            since: sock.since,
            conn: sock.conn,
            remote_addr: sock.remote.addr,
            remote_port: sock.remote.port,
            local_port: sock.local_port,
            snd_nxt: sock.snd_max,
            rcv_nxt: sock.rcv_nxt,
            ts_recent: sock.ts_recent,
            retransmits: t.retransmits,
            last_oow_ms: 0,
            ts_stamp_ms: TwSock::ms(sock.ts_recent_at),
            tag: 0,
            stale_accepted: t.stale_accepted.min(u32::from(u16::MAX)) as u16,
            rsts_sent: t.rsts_sent.min(255) as u8,
            bits,
        };
        let idx = match self.free {
            NO_SLOT => self.slots.push(tw),
            i => {
                let slot = self.slots.get_mut(i);
                self.free = slot.tag;
                *slot = tw;
                i
            }
        };
        self.live += 1;
        match fin_wait2 {
            Some(tmo) => self.schedule(idx, now + tmo, true),
            None => self.schedule(idx, now + time_wait, false),
        }
        idx
    }

    /// Mini-socket `idx` is rescheduled or removed: its queue entries may be stale.
    fn unverify(&mut self, idx: u32) {
        for v in &mut self.verified {
            if *v == Some(idx) {
                *v = None;
            }
        }
    }

    fn schedule(&mut self, idx: u32, at: SimTime, fin_wait2: bool) {
        self.unverify(idx);
        self.next_tag = self.next_tag.wrapping_add(1);
        let tag = self.next_tag;
        self.get_mut(idx).tag = tag;
        let e = Expiry { at, idx, tag };
        if fin_wait2 {
            self.heap.push(Reverse(e));
        } else {
            self.fifo.push_back(e);
        }
        // A push leaves the other front alone and makes its own the earlier of
        // the old one and `at`.
        self.next = earliest(self.next, Some(at));
    }

    fn is_current(&self, e: &Expiry) -> bool {
        let s = self.get(e.idx);
        s.bits & LIVE != 0 && s.tag == e.tag
    }

    /// Drops stale entries at the fronts, so `next_deadline` is exact.
    pub fn prune(&mut self) {
        while let Some(e) = self.fifo.front() {
            if self.verified[FIFO] == Some(e.idx) || self.is_current(e) {
                self.verified[FIFO] = Some(e.idx);
                break;
            }
            self.pop_fifo();
        }
        while let Some(Reverse(e)) = self.heap.peek() {
            if self.verified[HEAP] == Some(e.idx) || self.is_current(e) {
                self.verified[HEAP] = Some(e.idx);
                break;
            }
            self.pop_heap();
        }
    }

    fn pop_fifo(&mut self) {
        self.fifo.pop_front();
        self.verified[FIFO] = None;
        self.next = self.fronts();
    }

    fn pop_heap(&mut self) {
        self.heap.pop();
        self.verified[HEAP] = None;
        self.next = self.fronts();
    }

    /// The earlier of the two fronts' expiries.
    fn fronts(&self) -> Option<SimTime> {
        earliest(
            self.fifo.front().map(|e| e.at),
            self.heap.peek().map(|Reverse(e)| e.at),
        )
    }

    /// The live mini-socket at the front of the TIME_WAIT expiry queue (possibly
    /// through a stale entry: one rescheduled since), for prefetching.
    #[inline]
    pub fn fifo_front(&self) -> Option<&TwSock> {
        self.get_live(self.fifo.front()?.idx)
    }

    /// Prefetches the slot of the TIME_WAIT expiry queue's front entry, without
    /// reading it (a hint; see [`sim_core::prefetch`]).
    #[inline]
    pub fn prefetch_fifo_front(&self) {
        if let Some(s) = self.fifo.front().and_then(|e| self.slots.get(e.idx)) {
            sim_core::prefetch::prefetch(s);
        }
    }

    /// Prefetches what a socket's coming entry writes: the slot
    /// [`TwTable::insert`] takes and the expiry queue's next entry (a hint, for
    /// an active close some round trips ahead).
    #[inline]
    pub fn prefetch_insert(&self) {
        let (slot, expiry) = self.insert_targets();
        if let Some(p) = slot {
            sim_core::prefetch::prefetch_ptr(p);
        }
        if let Some(p) = expiry {
            sim_core::prefetch::prefetch_ptr(p);
        }
    }

    /// Where the next insertion writes its mini-socket, and where its TIME_WAIT
    /// expiry goes in the queue, as far as they are allocated already.
    #[inline]
    fn insert_targets(&self) -> (Option<*const TwSock>, Option<*const Expiry>) {
        let slot = match self.free {
            NO_SLOT => self.slots.next_push(),
            f => self.slots.get(f).map(|s| s as *const TwSock),
        };
        (slot, self.fifo.next_push())
    }

    /// Prefetches the expiry queue's entry after the front, which a pop copies
    /// inline (a hint).
    #[inline]
    pub fn prefetch_fifo_next(&self) {
        if let Some(e) = self.fifo.next() {
            sim_core::prefetch::prefetch(e);
        }
    }

    /// Prefetches the slot of the expiry queue's entry after the front (read from
    /// that entry), which [`TwTable::prune`] checks once the front is popped (a
    /// hint).
    #[inline]
    pub fn prefetch_fifo_next_socket(&self) {
        if let Some(s) = self.fifo.next().and_then(|e| self.slots.get(e.idx)) {
            sim_core::prefetch::prefetch(s);
        }
    }

    /// Earliest expiry (exact once [`TwTable::prune`] ran after the last change).
    #[inline]
    pub fn next_deadline(&self) -> Option<SimTime> {
        debug_assert_eq!(self.next, self.fronts());
        self.next
    }

    /// Pops one live mini-socket whose timer is due at `now`. Prunes the fronts
    /// first: when it returns `None`, [`TwTable::next_deadline`] is exact.
    #[inline]
    pub fn pop_due(&mut self, now: SimTime) -> Option<u32> {
        self.prune();
        let a = self.fifo.front().filter(|e| e.at <= now).copied();
        let b = self
            .heap
            .peek()
            .map(|Reverse(e)| *e)
            .filter(|e| e.at <= now);
        match (a, b) {
            (Some(x), Some(y)) if y < x => {
                self.pop_heap();
                Some(y.idx)
            }
            (Some(x), _) => {
                self.pop_fifo();
                Some(x.idx)
            }
            (None, Some(y)) => {
                self.pop_heap();
                Some(y.idx)
            }
            (None, None) => None,
        }
    }

    /// The mini-socket reaches CLOSED: record it, free the slot, return its record.
    pub fn remove(&mut self, idx: u32, cx: &mut Cx, cause: Cause) -> SocketRecord {
        self.unverify(idx);
        let s = self.slots.get_mut(idx);
        s.set_state(cx, State::Closed, cause);
        s.bits &= !LIVE;
        let rec = s.record(cx.addr, cx.now);
        s.tag = self.free;
        self.free = idx;
        self.live -= 1;
        rec
    }

    /// SEGMENT ARRIVES at a mini-socket (Linux `tcp_timewait_state_process()`).
    /// `ts_off` is the host's timestamp offset toward the peer ([`ts_offset`]);
    /// `has_listener`, whether a SYN's port has a listener (read for a SYN only).
    pub fn on_segment(
        &mut self,
        idx: u32,
        cx: &mut Cx,
        seg: &Segment,
        ts_off: u32,
        has_listener: bool,
    ) -> TwVerdict {
        let tw_len = cx.cfg.time_wait_len();
        let rfc1337 = cx.cfg.rfc1337;
        let s = self.get_mut(idx);
        let f = seg.flags;
        let paws_reject = s.bits & TS_OK != 0
            && !f.rst()
            && seg
                .ts
                .is_some_and(|(tsval, _)| (tsval.wrapping_sub(s.ts_recent) as i32) < 0);
        if paws_reject {
            cx.stats.counters.paws_rejected += 1;
        }
        let end = seg.end_seq();
        if s.bits & SUB_FIN_WAIT2 != 0 {
            let wnd = cx.cfg.rcv_window;
            // tcp_in_window(seq, end_seq, rcv_nxt, rcv_nxt + wnd)
            let in_window = seg.seq == s.rcv_nxt
                || (end.gt(s.rcv_nxt) && seg.seq.lt(s.rcv_nxt + wnd))
                || (seg.seq == s.rcv_nxt + wnd && seg.seq == end);
            if paws_reject || !in_window {
                s.oow_ack(idx, cx, seg, ts_off);
                return TwVerdict::Keep;
            }
            if f.rst() {
                return TwVerdict::Kill(Cause::RecvRst);
            }
            if f.syn() && seg.seq.ge(s.rcv_nxt) {
                return self.reset(idx, cx, seg);
            }
            if !f.ack() || end.le(s.rcv_nxt) || seg.seg_len() == 0 {
                return TwVerdict::Keep;
            }
            // New data after our close, or a FIN beyond a gap: reset.
            if !f.fin() || end != s.rcv_nxt + 1 {
                return self.reset(idx, cx, seg);
            }
            // FIN: enter the real TIME_WAIT.
            if seg.conn != s.conn && seg.conn != ConnId::NONE {
                s.stale_accepted = s.stale_accepted.saturating_add(1);
                cx.stats.counters.stale_accepted += 1;
            }
            s.rcv_nxt = end;
            if let Some((tsval, _)) = seg.ts {
                s.ts_recent = tsval;
                s.ts_stamp_ms = TwSock::ms(cx.now);
            }
            s.set_state(cx, State::TimeWait, Cause::RecvFin);
            s.ack(idx, cx, ts_off);
            self.schedule(idx, cx.now + tw_len, false);
            return TwVerdict::Keep;
        }
        // The real TIME_WAIT. An in-window segment can only be an RST or a bare ACK.
        if !paws_reject && seg.seq == s.rcv_nxt && (seg.seg_len() == 0 || f.rst()) {
            if f.rst() {
                if !rfc1337 {
                    cx.stats.counters.tw_killed += 1;
                    return TwVerdict::Kill(Cause::RecvRst);
                }
            } else {
                self.schedule(idx, cx.now + tw_len, false);
            }
            let s = self.get_mut(idx);
            if let Some((tsval, _)) = seg.ts {
                s.ts_recent = tsval;
                s.ts_stamp_ms = TwSock::ms(cx.now);
            }
            return TwVerdict::Keep;
        }
        // RFC 9293 MAY-2 / RFC 6191: a SYN with a higher sequence number or a newer
        // timestamp may reopen the connection.
        if f.syn()
            && !f.rst()
            && !f.ack()
            && !paws_reject
            && has_listener
            && (seg.seq.gt(s.rcv_nxt)
                || (s.bits & TS_OK != 0
                    && seg
                        .ts
                        .is_some_and(|(tsval, _)| (s.ts_recent.wrapping_sub(tsval) as i32) < 0)))
        {
            let mut isn = s.snd_nxt + 65537;
            if isn == Seq(0) {
                isn = Seq(1);
            }
            return TwVerdict::Reopen(isn);
        }
        if f.rst() {
            return TwVerdict::Keep;
        }
        // Anything else (a retransmitted FIN, an old duplicate): re-ACK, and restart
        // the timer if it carried an ACK (measured: back to a full 60 s).
        if paws_reject || f.ack() {
            self.schedule(idx, cx.now + tw_len, false);
        }
        self.get_mut(idx).oow_ack(idx, cx, seg, ts_off);
        TwVerdict::Keep
    }

    #[cold]
    fn reset(&mut self, idx: u32, cx: &mut Cx, seg: &Segment) -> TwVerdict {
        let s = self.get_mut(idx);
        if let Some(r) = reset_for(seg, s.conn) {
            s.rsts_sent = s.rsts_sent.saturating_add(1);
            cx.emit(r);
        }
        TwVerdict::Kill(Cause::RecvDataAfterClose)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn block_fifo_keeps_order_across_blocks_and_frees_them() {
        use super::{BlockFifo, Expiry, FIFO_BLOCK};
        use sim_core::time::SimTime;
        let e = |i: u32| Expiry {
            at: SimTime::from_nanos(u64::from(i)),
            idx: i,
            tag: 0,
        };
        let mut q = BlockFifo::default();
        let (mut pushed, mut popped) = (0u32, 0u32);
        for round in 0..10u32 {
            for _ in 0..(FIFO_BLOCK as u32 + 37 * round) {
                q.push_back(e(pushed));
                pushed += 1;
            }
            while pushed - popped > 3 {
                assert_eq!(q.front().map(|x| x.idx), Some(popped));
                q.pop_front();
                popped += 1;
            }
            // Three entries span at most two blocks, plus the spare.
            assert!(q.blocks() <= 3, "{} blocks for 3 entries", q.blocks());
        }
        // Emptied and refilled, at every offset in a block.
        for n in 0..3 * FIFO_BLOCK as u32 {
            while q.front().is_some() {
                assert_eq!(q.front().map(|x| x.idx), Some(popped));
                q.pop_front();
                popped += 1;
            }
            for _ in 0..n % 7 + 1 {
                q.push_back(e(pushed));
                pushed += 1;
            }
        }
        while q.front().is_some() {
            assert_eq!(q.front().map(|x| x.idx), Some(popped));
            q.pop_front();
            popped += 1;
        }
        assert_eq!(popped, pushed);
        assert!(
            (1..=3).contains(&q.blocks()),
            "blocks are kept for reuse, not hoarded: {}",
            q.blocks()
        );
    }

    #[test]
    fn object_size() {
        assert_eq!(std::mem::size_of::<super::TwSock>(), 64);
        assert_eq!(std::mem::align_of::<super::TwSock>(), 64);
    }

    /// Slots past the inline first chunk: indices run on across chunks, each
    /// slot holds what was put in it, an index past the last slot is no socket,
    /// and the table holds whole chunks, one more only when the last is full.
    #[test]
    fn slots_span_chunks() {
        use super::*;
        use crate::config::TcpConfig;
        use crate::host::SocketId;

        let cfg = TcpConfig::default();
        let remote = SockAddr::new(Addr::new(10, 0, 0, 2), 80);
        let mut table = TwTable::default();
        let n = 2 * CHUNK as u32 + 5;
        for i in 0..n {
            let sock = Sock::new(
                SocketId::from_bits(0),
                &cfg,
                SimTime::ZERO,
                (i % 60000) as u16,
                remote,
                ConnId(u64::from(i) + 1),
                Seq(0),
                0,
            );
            assert_eq!(
                table.insert(&sock, SimTime::ZERO, cfg.time_wait_len(), None),
                i
            );
        }
        for i in [0, CHUNK as u32 - 1, CHUNK as u32, 2 * CHUNK as u32, n - 1] {
            assert_eq!(
                table.get_live(i).map(TwSock::conn),
                Some(ConnId(u64::from(i) + 1))
            );
        }
        assert!(table.get_live(n).is_none());
        assert!(table.get_live(3 * CHUNK as u32).is_none());
        let chunk_bytes = CHUNK * std::mem::size_of::<TwSock>();
        let slots = table.slots.heap_bytes();
        assert!(
            (3 * chunk_bytes..4 * chunk_bytes).contains(&slots),
            "{slots}"
        );
        table.get_mut(CHUNK as u32 + 1).retransmits = 7;
        assert_eq!(table.get(CHUNK as u32 + 1).retransmits, 7);
        assert_eq!(table.get(1).retransmits, 0);
    }

    /// Against a map of the live mini-sockets' expiries: random TIME_WAIT and
    /// FIN_WAIT_2 inserts, restarts, FIN_WAIT_2 → TIME_WAIT moves, kills and
    /// expiries. After each step (and a prune, as the host does) the next deadline
    /// is exactly the earliest live expiry, and expiries pop in time order: the
    /// fronts `prune` remembers as current never hide a stale one. Slots are
    /// reused last freed first, and new ones made only when none is free.
    #[test]
    fn next_deadline_is_exact_under_restarts_and_kills() {
        use super::*;
        use crate::config::{CostModel, TcpConfig};
        use crate::host::SocketId;
        use crate::sock::Io;
        use crate::stats::Stats;
        use std::collections::BTreeMap;

        let cfg = TcpConfig::default();
        let cost = CostModel::default();
        let tw_len = cfg.time_wait_len();
        let mut io = Io::default();
        let mut stats = Stats::new();
        // Transitions out of states these synthetic sockets never entered.
        for st in [State::TimeWait, State::FinWait2] {
            stats.states[st.index()].current = u64::MAX / 2;
        }
        stats.memory.current = u64::MAX / 2;
        let mut table = TwTable::default();
        // Live mini-socket → (expiry, in FIN_WAIT_2).
        let mut model: BTreeMap<u32, (SimTime, bool)> = BTreeMap::new();
        let mut rng = crate::hash::SplitMix::new(17);
        let mut now = SimTime::ZERO;
        let ms = |n: u32| SimDuration::from_millis(u64::from(n));
        let remote = SockAddr::new(Addr::new(10, 0, 0, 2), 80);
        let (mut popped, mut moved) = (0, 0);
        // Insertions whose mini-socket slot and expiry entry were predicted.
        let mut predicted = [0u32; 2];
        // The free slots, last freed on top, and how many slots were ever made.
        let (mut free, mut made) = (Vec::new(), 0u32);
        for step in 0..20_000u32 {
            let mut cx = Cx {
                now,
                cfg: &cfg,
                cost: &cost,
                addr: Addr::new(10, 0, 0, 1),
                io: &mut io,
                stats: &mut stats,
            };
            let live: Vec<u32> = model.keys().copied().collect();
            let pick = (!live.is_empty()).then(|| live[rng.below(live.len() as u32) as usize]);
            match (rng.below(6), pick) {
                (0 | 1, _) => {
                    let sock = Sock::new(
                        SocketId::from_bits(0),
                        &cfg,
                        now,
                        (step % 60000) as u16,
                        remote,
                        ConnId(u64::from(step)),
                        Seq(0),
                        0,
                    );
                    let fw2 = (rng.below(2) == 0).then(|| ms(rng.below(90_000)));
                    let (slot_at, expiry_at) = table.insert_targets();
                    let idx = table.insert(&sock, now, tw_len, fw2);
                    let want = free.pop().unwrap_or_else(|| {
                        made += 1;
                        made - 1
                    });
                    assert_eq!(idx, want, "step {step}");
                    // The prefetch's targets are where the insertion wrote.
                    if let Some(p) = slot_at {
                        assert!(std::ptr::eq(p, table.get(idx)), "step {step}");
                        predicted[0] += 1;
                    }
                    if let (Some(p), None) = (expiry_at, fw2) {
                        let q = &table.fifo;
                        let last = if q.back.is_empty() { &q.front } else { &q.back };
                        assert!(std::ptr::eq(p, last.last().expect("pushed")), "step {step}");
                        predicted[1] += 1;
                    }
                    model.insert(idx, (now + fw2.unwrap_or(tw_len), fw2.is_some()));
                }
                (2, Some(idx)) => {
                    // A restart (TIME_WAIT) or the FIN that ends FIN_WAIT_2.
                    let (_, fw2) = model[&idx];
                    if fw2 {
                        table
                            .get_mut(idx)
                            .set_state(&mut cx, State::TimeWait, Cause::RecvFin);
                        moved += 1;
                    }
                    table.schedule(idx, now + tw_len, false);
                    model.insert(idx, (now + tw_len, false));
                }
                (3, Some(idx)) => {
                    table.remove(idx, &mut cx, Cause::RecvRst);
                    model.remove(&idx);
                    free.push(idx);
                }
                (4, _) => {
                    let due = model
                        .values()
                        .map(|&(at, _)| at)
                        .min()
                        .filter(|&at| at <= now);
                    match table.pop_due(now) {
                        Some(idx) => {
                            assert_eq!(Some(model[&idx].0), due, "step {step}");
                            table.remove(idx, &mut cx, Cause::TimeWaitExpired);
                            model.remove(&idx);
                            free.push(idx);
                            popped += 1;
                        }
                        None => assert_eq!(due, None, "step {step}"),
                    }
                }
                _ => now += ms(rng.below(2_000)),
            }
            table.prune();
            let earliest = model.values().map(|&(at, _)| at).min();
            assert_eq!(table.next_deadline(), earliest, "step {step}");
            assert_eq!(table.live as usize, model.len());
        }
        assert!(
            popped > 500 && moved > 500,
            "{popped} expiries, {moved} moves"
        );
        assert!(
            predicted.iter().all(|&n| n > 1000),
            "predicted slots and expiry entries: {predicted:?}"
        );
    }
}
