//! A full socket: the RFC 9293 transmission control block and its event processing
//! (§3.10: OPEN, SEND, RECEIVE, CLOSE, ABORT, SEGMENT ARRIVES, time-outs), with
//! Linux's choices where the RFC leaves room. The [`crate::Host`] owns sockets in a
//! slab, demultiplexes segments to them and applies the [`Fate`] each call returns
//! (free the slot, turn into a TIME_WAIT / FIN_WAIT_2 mini-socket).
//!
//! TIME_WAIT is never a full socket here: as in Linux (`tcp_time_wait()`), reaching it
//! hands the connection to a compact mini-socket ([`crate::tw`]).

use sim_core::time::{SimDuration, SimTime};

use crate::config::{CostModel, Errno, TcpConfig};
use crate::fifo::Fifo;
use crate::host::{AppEvent, SocketId};
use crate::rtt::{Rtt, model_timeout};
use crate::segment::{Addr, ConnId, DemuxHint, Flags, Segment, SockAddr};
use crate::seq::Seq;
use crate::state::{Cause, State, transition_allowed};
use crate::stats::{Path, SocketRecord, Stats};

/// Linux `tcp_invalid_ratelimit`: at most one out-of-window ACK (or challenge ACK)
/// per 500 ms per socket.
pub(crate) const OOW_RATELIMIT: SimDuration = SimDuration::from_millis(500);

/// Linux `TCP_RTO_MIN` (200 ms): the base of `tcp_model_timeout()` whatever the
/// configured `rto_min`.
const LINUX_RTO_MIN: SimDuration = SimDuration::from_millis(200);

/// Output queues, shared by all sockets of a host (reused; never reallocated per
/// segment once warm).
#[derive(Default)]
pub(crate) struct Io {
    pub out: Fifo<Segment>,
    pub events: Fifo<(SocketId, ConnId, AppEvent)>,
}

impl Io {
    /// Queues with room for `n` items each.
    pub fn with_capacity(n: usize) -> Io {
        Io {
            out: Fifo::with_capacity(n),
            events: Fifo::with_capacity(n),
        }
    }
}

/// What a socket call needs from its host.
pub(crate) struct Cx<'a> {
    pub now: SimTime,
    pub cfg: &'a TcpConfig,
    pub cost: &'a CostModel,
    pub addr: Addr,
    pub io: &'a mut Io,
    pub stats: &'a mut Stats,
}

impl Cx<'_> {
    #[inline]
    pub fn emit(&mut self, seg: Segment) {
        self.stats.counters.segments_out += 1;
        if seg.flags.rst() {
            self.stats.counters.rst_sent += 1;
        }
        self.io.out.push_back(seg);
    }
    /// TSval: a millisecond clock plus a per host-pair offset (Linux `tcp_ts_off`).
    #[inline]
    pub fn tsval(&self, offset: u32) -> u32 {
        ((self.now.as_nanos() / 1_000_000) as u32).wrapping_add(offset)
    }
}

/// The one place a connection's state changes (full or mini-socket): statistics,
/// trace, path, residence, memory. Debug builds assert the RFC allows the change.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub(crate) fn record_transition(
    stats: &mut Stats,
    now: SimTime,
    since: &mut SimTime,
    path: &mut Path,
    local: SockAddr,
    remote: SockAddr,
    conn: ConnId,
    from: State,
    to: State,
    cause: Cause,
    mem_delta: i64,
) {
    debug_assert!(
        transition_allowed(from, to),
        "illegal transition {from} -> {to} ({cause})"
    );
    stats.transition(now, *since, local, remote, conn, from, to, cause);
    stats.mem(mem_delta);
    *since = now;
    path.push(to);
}

/// What the host must do with a socket after a call.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Fate {
    Live,
    /// Reached CLOSED: free the slot, emit `Finished`.
    Dead,
    /// Enter TIME_WAIT (a mini-socket), or CLOSED if `tcp_max_tw_buckets` is reached.
    TimeWait(Cause),
    /// An orphan in FIN_WAIT_2 becomes a mini-socket for this long.
    FinWait2Mini(SimDuration),
}

impl Fate {
    /// Stays a full socket. (A match on the discriminant: the derived `==` would
    /// also compare payloads, a call per check on the per-segment path.)
    #[inline]
    pub fn is_live(self) -> bool {
        matches!(self, Fate::Live)
    }
}

/// The earlier of two optional deadlines, branch-free (`None` is later than any
/// time; no deadline is ever `SimTime::MAX`, which `SimTime + SimDuration` would
/// have refused to overflow into).
#[inline]
pub(crate) fn earliest(a: Option<SimTime>, b: Option<SimTime>) -> Option<SimTime> {
    let ns = |t: Option<SimTime>| t.map_or(u64::MAX, SimTime::as_nanos);
    let m = ns(a).min(ns(b));
    (m != u64::MAX).then_some(SimTime::from_nanos(m))
}

/// One timer of a full socket: a time, or [`Deadline::NONE`]. A `u64` of
/// nanoseconds with `u64::MAX` for "not armed" (no deadline is `SimTime::MAX`, see
/// [`earliest`]): half the size of an `Option<SimTime>`, and the socket's earliest
/// timer is a plain `min`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) struct Deadline(u64);

impl Deadline {
    pub const NONE: Deadline = Deadline(u64::MAX);

    #[inline]
    pub fn at(t: SimTime) -> Deadline {
        debug_assert_ne!(t, SimTime::MAX);
        Deadline(t.as_nanos())
    }
    #[inline]
    pub fn is_set(self) -> bool {
        self != Deadline::NONE
    }
    #[inline]
    pub fn get(self) -> Option<SimTime> {
        self.is_set().then_some(SimTime::from_nanos(self.0))
    }
    /// Armed and due at `now`.
    #[inline]
    pub fn due(self, now: SimTime) -> bool {
        self.is_set() && self.0 <= now.as_nanos()
    }
    #[inline]
    pub fn min(self, other: Deadline) -> Deadline {
        Deadline(self.0.min(other.0))
    }
}

/// Per-connection counters that end up in the [`SocketRecord`].
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Tally {
    pub retransmits: u32,
    pub bytes_discarded: u64,
    pub stale_accepted: u32,
    pub rsts_sent: u32,
    pub error: Option<Errno>,
    pub aborted: bool,
    pub sent_fin_first: bool,
}

/// A full socket (Linux `tcp_sock`): RFC 9293 §3.3.1 variables plus timers.
pub(crate) struct Sock {
    pub id: SocketId,
    pub local_port: u16,
    pub remote: SockAddr,
    pub conn: ConnId,
    pub state: State,
    pub since: SimTime,
    pub path: Path,
    pub tally: Tally,
    /// A listener's child (passive open).
    pub passive: bool,
    /// Holds an ephemeral port (active open).
    pub ephemeral: bool,
    /// Counted in its listener's SYN queue.
    pub in_synq: bool,
    /// Handed to the application (`Accepted` emitted, accept() returned it, or
    /// active open): only then are events delivered.
    pub accepted: bool,
    /// A passive child accepted by the stack as soon as it is established (the
    /// listener's auto-accept mode); otherwise it waits in the accept queue.
    pub auto_accept: bool,
    /// Waiting in its listener's accept queue.
    pub queued: bool,
    /// The application called close(): no more reads (Linux `RCV_SHUTDOWN`).
    pub app_closed: bool,
    /// Orphaned (Linux `SOCK_DEAD`): closed and not blocked in a lingering close().
    pub orphan: bool,
    /// Counted in the host's orphan count (`tcp_max_orphans`).
    pub orphan_counted: bool,
    /// shutdown(SHUT_WR) or close() queued our FIN after `write_seq`.
    pub fin_queued: bool,
    /// Peer's FIN received.
    pub fin_rcvd: bool,
    /// Timestamps negotiated (RFC 7323).
    pub ts_ok: bool,

    // Send sequence space (RFC 9293 §3.3.1).
    pub iss: Seq,
    pub snd_una: Seq,
    pub snd_nxt: Seq,
    /// Highest sequence number sent (snd_nxt is rewound on a time-out).
    pub snd_max: Seq,
    /// End of the data the application wrote (Linux `write_seq`); FIN goes here.
    pub write_seq: Seq,
    pub snd_wnd: u32,
    pub mss: u32,

    // Receive sequence space.
    pub irs: Seq,
    pub rcv_nxt: Seq,
    /// Bytes received in order and not yet read.
    pub rcv_unread: u64,
    pub ts_recent: u32,
    pub ts_recent_at: SimTime,
    pub ts_offset: u32,

    // Timers (one slot each; the host keeps the earliest in its queue).
    pub rto_at: Deadline,
    /// Orphan FIN_WAIT_2 with `fin_timeout` > TIME_WAIT length: first phase
    /// (Linux keepalive timer).
    pub fw2_at: Deadline,
    /// SO_LINGER N: when the blocked close() gives up; with `linger_from`.
    pub linger_at: Deadline,
    pub linger_from: SimTime,
    /// The deadline currently in the host's timer queue.
    pub armed: Deadline,

    pub rtt: Rtt,
    /// A segment being timed (end sequence, send time); cleared by retransmission
    /// (Karn's rule).
    pub timed: Option<(Seq, SimTime)>,
    /// When the current RTO period for the oldest unacknowledged segment began.
    pub rto_started: SimTime,
    /// Linux `retrans_stamp`: first transmission time of the head being retried.
    pub retrans_stamp: Option<SimTime>,
    /// Consecutive time-outs of the current head (Linux `icsk_retransmits`).
    pub retries: u8,
    pub last_oow_ack: Option<SimTime>,
    /// The peer's demultiplexing value for this connection, from the latest
    /// segment received: sent back as a hint (simulator-internal, see
    /// [`DemuxHint`]; it cannot change results).
    pub peer_demux: u32,
}

impl Sock {
    /// A new socket in CLOSED; the caller moves it on with [`Sock::set_state`].
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        id: SocketId,
        cfg: &TcpConfig,
        now: SimTime,
        local_port: u16,
        remote: SockAddr,
        conn: ConnId,
        iss: Seq,
        ts_offset: u32,
    ) -> Sock {
        Sock {
            id,
            local_port,
            remote,
            conn,
            state: State::Closed,
            since: now,
            path: Path::EMPTY,
            tally: Tally::default(),
            passive: false,
            ephemeral: false,
            in_synq: false,
            accepted: false,
            auto_accept: false,
            queued: false,
            app_closed: false,
            orphan: false,
            orphan_counted: false,
            fin_queued: false,
            fin_rcvd: false,
            ts_ok: false,
            iss,
            snd_una: iss,
            snd_nxt: iss,
            snd_max: iss,
            write_seq: iss + 1,
            snd_wnd: 0,
            mss: 536,
            irs: Seq(0),
            rcv_nxt: Seq(0),
            rcv_unread: 0,
            ts_recent: 0,
            ts_recent_at: now,
            ts_offset,
            rto_at: Deadline::NONE,
            fw2_at: Deadline::NONE,
            linger_at: Deadline::NONE,
            linger_from: now,
            armed: Deadline::NONE,
            rtt: Rtt::new(cfg),
            timed: None,
            rto_started: now,
            retrans_stamp: None,
            retries: 0,
            last_oow_ack: None,
            peer_demux: DemuxHint::UNKNOWN,
        }
    }

    pub fn local(&self, addr: Addr) -> SockAddr {
        SockAddr::new(addr, self.local_port)
    }

    /// Modelled kernel bytes for this socket in `state`: a passive SYN_RCVD is a
    /// request sock, CLOSED costs nothing, anything else a full `tcp_sock`.
    pub fn cost_in(&self, state: State, cost: &CostModel) -> i64 {
        match state {
            State::Closed => 0,
            State::SynRcvd if self.passive => cost.syn_request as i64,
            _ => cost.full_socket as i64,
        }
    }

    /// Every state change of a full socket goes through here. Inlined: its
    /// callers pass constant states, so `cost_in` and the accounting branches fold.
    #[inline(always)]
    pub fn set_state(&mut self, cx: &mut Cx, to: State, cause: Cause) {
        let from = self.state;
        let delta = self.cost_in(to, cx.cost) - self.cost_in(from, cx.cost);
        let local = self.local(cx.addr);
        record_transition(
            cx.stats,
            cx.now,
            &mut self.since,
            &mut self.path,
            local,
            self.remote,
            self.conn,
            from,
            to,
            cause,
            delta,
        );
        self.state = to;
    }

    /// The record of this connection, now that it is over.
    pub fn record(&self, addr: Addr, closed_at: SimTime) -> SocketRecord {
        let t = &self.tally;
        SocketRecord {
            conn: self.conn,
            local: self.local(addr),
            remote: self.remote,
            active_open: !self.passive,
            path: self.path,
            closed_at,
            retransmits: t.retransmits,
            bytes_discarded: t.bytes_discarded,
            stale_accepted: t.stale_accepted,
            rsts_sent: t.rsts_sent,
            error: t.error,
            aborted: t.aborted,
            sent_fin_first: t.sent_fin_first,
        }
    }

    /// Whether the host has bookkeeping to do for this socket after a call
    /// (`Host::settle`): a listener's child leaving SYN_RCVD (the SYN queue
    /// count) or established and neither accepted nor queued (the accept queue),
    /// or an orphan not yet in the orphan count (`tcp_max_orphans`). Accepted
    /// and active-open sockets are checked first: they owe nothing until close().
    #[inline(always)]
    pub fn owes_host(&self) -> bool {
        ((self.in_synq || !(self.accepted || self.queued))
            && self.passive
            && self.state != State::SynRcvd)
            || (self.orphan && !self.orphan_counted)
    }

    /// Notes the socket's earliest deadline as the one its host files it under
    /// (`armed`) and returns it with whether an earlier one was filed, if it
    /// changed (the host then re-files it).
    #[inline(always)]
    pub fn refile(&mut self) -> Option<(Deadline, bool)> {
        let d = self.deadline();
        if d == self.armed {
            return None;
        }
        let was_armed = self.armed.is_set();
        self.armed = d;
        Some((d, was_armed))
    }

    /// Earliest pending deadline.
    #[inline]
    pub fn deadline(&self) -> Deadline {
        self.rto_at.min(self.fw2_at).min(self.linger_at)
    }

    /// Queues an application event (none once the application has closed, or
    /// before its socket was accepted). Always inlined, as are `send_ack`,
    /// `send_syn` and `queue_fin`: short, and on every connection's path; inlined
    /// they take 1.2 % fewer instructions (callgrind, the lossy client-close run).
    #[inline(always)]
    fn event(&self, cx: &mut Cx, ev: AppEvent) {
        if !self.app_closed && self.accepted {
            cx.io.events.push_back((self.id, self.conn, ev));
        }
    }

    // ---------------------------------------------------------------- output

    fn segment(&self, cx: &Cx, flags: Flags, seq: Seq, len: u32) -> Segment {
        let syn = flags.syn();
        let ts = if self.ts_ok || (syn && !flags.ack() && cx.cfg.timestamps) {
            Some((
                cx.tsval(self.ts_offset),
                if flags.ack() { self.ts_recent } else { 0 },
            ))
        } else {
            None
        };
        Segment {
            src: self.local(cx.addr),
            dst: self.remote,
            seq,
            ack: if flags.ack() { self.rcv_nxt } else { Seq(0) },
            flags,
            window: cx.cfg.rcv_window.min(65535) as u16,
            len,
            mss: if syn { Some(cx.cfg.mss) } else { None },
            ts,
            conn: self.conn,
            demux: DemuxHint {
                from: self.id.index(),
                to: self.peer_demux,
            },
        }
    }

    /// `<SEQ=SND.NXT><ACK=RCV.NXT><CTL=ACK>`.
    #[inline(always)]
    fn send_ack(&mut self, cx: &mut Cx) {
        let s = self.segment(cx, Flags::ACK, self.snd_nxt, 0);
        cx.emit(s);
    }

    /// Linux `tcp_oow_rate_limited()`: segments occupying sequence space (data,
    /// FIN) are always answered; pure
    /// ACKs and SYNs at most once per 500 ms.
    fn oow_allowed(&mut self, cx: &mut Cx, seg: Option<&Segment>) -> bool {
        if let Some(seg) = seg
            && seg.seg_len() > 0
            && !seg.flags.syn()
        {
            return true;
        }
        if let Some(last) = self.last_oow_ack
            && cx.now.saturating_since(last) < OOW_RATELIMIT
        {
            cx.stats.counters.acks_rate_limited += 1;
            return false;
        }
        self.last_oow_ack = Some(cx.now);
        true
    }

    /// The ACK an unacceptable segment gets (RFC 9293 §3.10.7.4), rate-limited.
    /// This and the other answers to out-of-window segments (`challenge_ack`, a
    /// mini-socket's `oow_ack` and `reset`) are `#[cold]`: rare on the common
    /// path, which is then laid out without them (0.2 % fewer instructions).
    #[cold]
    fn send_dup_ack(&mut self, cx: &mut Cx, seg: &Segment) {
        if self.oow_allowed(cx, Some(seg)) {
            self.send_ack(cx);
        }
    }

    /// RFC 5961 §3.2/§4: challenge ACK, rate-limited (Linux 1 per 500 ms per socket).
    #[cold]
    fn challenge_ack(&mut self, cx: &mut Cx) {
        if self.oow_allowed(cx, None) {
            cx.stats.counters.challenge_acks += 1;
            self.send_ack(cx);
        }
    }

    /// RST,ACK at SND.NXT (Linux `tcp_send_active_reset()`).
    fn send_active_rst(&mut self, cx: &mut Cx) {
        let s = self.segment(cx, Flags::RST | Flags::ACK, self.snd_nxt, 0);
        self.tally.rsts_sent += 1;
        cx.emit(s);
    }

    /// SYN (active) or SYN,ACK (passive or simultaneous open) at ISS.
    #[inline(always)]
    fn send_syn(&mut self, cx: &mut Cx) {
        let flags = if self.state == State::SynSent {
            Flags::SYN
        } else {
            Flags::SYN | Flags::ACK
        };
        let s = self.segment(cx, flags, self.iss, 0);
        cx.emit(s);
        self.snd_nxt = self.iss + 1;
        if self.snd_max.lt(self.snd_nxt) {
            self.snd_max = self.snd_nxt;
        }
        if self.retries == 0 {
            self.timed = Some((self.snd_nxt, cx.now));
        }
        self.arm_rto(cx.now, cx.cfg);
    }

    /// Congestion window: fixed at `initial_window` segments (the hook where
    /// congestion control would go).
    fn cwnd(&self, cfg: &TcpConfig) -> u32 {
        cfg.initial_window.saturating_mul(self.mss)
    }

    /// Our FIN is queued and next to send (at SND.NXT).
    fn fin_due(&self) -> bool {
        self.fin_queued && self.snd_nxt == self.write_seq
    }

    fn our_fin_sent(&self) -> bool {
        self.fin_queued && self.snd_max == self.write_seq + 1
    }

    fn our_fin_acked(&self) -> bool {
        self.fin_queued && self.snd_una == self.write_seq + 1
    }

    /// Send what the windows allow: data in MSS pieces, then the FIN (piggybacked on
    /// the last data segment when it fits). `budget` caps segments (1 after an RTO).
    /// Returns whether anything was sent (which then carried our ACK). The checks
    /// that most calls stop at (two of three: an ACK that leaves nothing to send)
    /// are inlined into the callers; the loop is a call.
    #[inline(always)]
    fn transmit(&mut self, cx: &mut Cx, budget: u32) -> bool {
        // Only once the peer's SYN is in (its window is known); a close() in
        // SYN_RCVD sends its FIN at once (RFC 9293 §3.10.4, SYN-RECEIVED STATE).
        // And only with something unsent or a FIN due: else the loop would send
        // nothing either.
        matches!(
            self.state,
            State::Established
                | State::CloseWait
                | State::FinWait1
                | State::Closing
                | State::LastAck
        ) && (self.snd_nxt.lt(self.write_seq) || self.fin_due())
            && self.transmit_some(cx, budget)
    }

    /// [`Sock::transmit`]'s loop, for a socket with something to send.
    #[inline(never)]
    fn transmit_some(&mut self, cx: &mut Cx, mut budget: u32) -> bool {
        let limit = self.snd_wnd.min(self.cwnd(cx.cfg)).max(1);
        let mut sent = false;
        while budget > 0 {
            let flight = self.snd_nxt.wrapping_sub(self.snd_una);
            let unsent = if self.snd_nxt.lt(self.write_seq) {
                self.write_seq.wrapping_sub(self.snd_nxt)
            } else {
                0
            };
            let fin_pending = self.fin_due();
            let len = if unsent > 0 {
                let room = limit.saturating_sub(flight);
                unsent.min(self.mss).min(room)
            } else {
                0
            };
            if len == 0 && !fin_pending {
                break;
            }
            let fin = self.fin_queued && self.snd_nxt + len == self.write_seq;
            let mut flags = Flags::ACK;
            if len > 0 {
                flags |= Flags::PSH;
            }
            if fin {
                flags |= Flags::FIN;
                if !self.our_fin_sent() {
                    self.tally.sent_fin_first = !self.fin_rcvd;
                }
            }
            let s = self.segment(cx, flags, self.snd_nxt, len);
            cx.emit(s);
            let end = self.snd_nxt + len + fin as u32;
            if self.snd_nxt.lt(self.snd_max) {
                self.tally.retransmits += 1;
                cx.stats.counters.retransmits += 1;
            } else if self.timed.is_none() {
                self.timed = Some((end, cx.now));
            }
            self.snd_nxt = end;
            if self.snd_max.lt(end) {
                self.snd_max = end;
            }
            self.arm_rto(cx.now, cx.cfg);
            sent = true;
            budget -= 1;
            if fin {
                break;
            }
        }
        sent
    }

    fn arm_rto(&mut self, now: SimTime, cfg: &TcpConfig) {
        if !self.rto_at.is_set() {
            self.rto_started = now;
            self.rto_at = Deadline::at(now + self.rtt.current(cfg));
        }
    }

    // ---------------------------------------------------------- user calls

    /// OPEN (active): CLOSED → SYN_SENT, send SYN (RFC 9293 §3.10.1).
    #[inline]
    pub fn open_active(&mut self, cx: &mut Cx) {
        self.accepted = true;
        self.set_state(cx, State::SynSent, Cause::AppConnect);
        self.send_syn(cx);
    }

    /// SEND (§3.10.2): queue `bytes` and transmit what the window allows.
    pub fn send(&mut self, cx: &mut Cx, bytes: u64) -> Result<(), Errno> {
        if self.fin_queued || self.app_closed {
            return Err(Errno::EPIPE);
        }
        let n = u32::try_from(bytes).map_err(|_| Errno::EPIPE)?;
        self.write_seq += n;
        self.transmit(cx, u32::MAX);
        Ok(())
    }

    /// accept() handed this queued child to the application: tell it what it
    /// missed while queued.
    pub fn accept(&mut self, cx: &mut Cx) {
        self.queued = false;
        self.accepted = true;
        if self.rcv_unread > 0 {
            let bytes = self.rcv_unread;
            self.event(cx, AppEvent::Readable { bytes });
        }
        if self.fin_rcvd {
            self.event(cx, AppEvent::EndOfStream);
        }
    }

    /// RECEIVE (§3.10.3): consume everything readable.
    pub fn read(&mut self) -> u64 {
        std::mem::take(&mut self.rcv_unread)
    }

    /// Queue our FIN and move ESTABLISHED/SYN_RCVD → FIN_WAIT_1, CLOSE_WAIT →
    /// LAST_ACK (Linux `tcp_close_state()`); `false` if there is nothing to close.
    #[inline(always)]
    fn queue_fin(&mut self, cx: &mut Cx, cause: Cause) -> bool {
        let to = match self.state {
            State::SynRcvd | State::Established => State::FinWait1,
            State::CloseWait => State::LastAck,
            _ => return false,
        };
        self.fin_queued = true;
        self.set_state(cx, to, cause);
        self.transmit(cx, u32::MAX);
        true
    }

    /// shutdown(SHUT_WR).
    pub fn shutdown_write(&mut self, cx: &mut Cx) -> Result<(), Errno> {
        if self.state == State::SynSent {
            return Err(Errno::ENOTCONN);
        }
        self.queue_fin(cx, Cause::AppShutdown);
        Ok(())
    }

    /// Send data bytes not yet acknowledged (lost on an abort), excluding SYN/FIN.
    fn unacked_data(&self) -> u64 {
        let data_start = if self.snd_una == self.iss {
            self.iss + 1
        } else {
            self.snd_una
        };
        if data_start.lt(self.write_seq) {
            u64::from(self.write_seq.wrapping_sub(data_start))
        } else {
            0
        }
    }

    /// Purge both queues, counting the bytes lost; reach CLOSED with an RST sent
    /// (when `rst`).
    fn abort(&mut self, cx: &mut Cx, rst: bool, cause: Cause) -> Fate {
        self.tally.bytes_discarded += self.unacked_data() + std::mem::take(&mut self.rcv_unread);
        if rst {
            self.send_active_rst(cx);
            self.tally.aborted = true;
        }
        self.finish_blocked_close(cx);
        self.set_state(cx, State::Closed, cause);
        Fate::Dead
    }

    /// CLOSE (§3.10.4) as Linux `__tcp_close()`: unread data → RST; SO_LINGER 0 →
    /// `tcp_disconnect()`; else FIN. `linger` is `Some(N)` for SO_LINGER N > 0: the
    /// call blocks while FIN_WAIT_1/CLOSING/LAST_ACK, up to N (Linux
    /// `sk_stream_wait_close()`); `CloseReturned` reports how long.
    pub fn close(&mut self, cx: &mut Cx, abort: bool, linger: Option<SimDuration>) -> Fate {
        self.app_closed = true;
        self.linger_from = cx.now;
        if let Some(n) = linger {
            self.linger_at = Deadline::at(cx.now + n);
        }
        if self.rcv_unread > 0 {
            // RFC 9293 SHLD-3 / RFC 2525 §2.17; checked before SO_LINGER (Linux).
            self.abort(cx, true, Cause::CloseUnread)
        } else if abort {
            // tcp_disconnect(): RST only where tcp_need_reset() says so.
            let rst = matches!(
                self.state,
                State::Established
                    | State::CloseWait
                    | State::FinWait1
                    | State::FinWait2
                    | State::SynRcvd
            );
            self.abort(cx, rst, Cause::AppAbort)
        } else if self.state == State::SynSent {
            // Delete the TCB, send nothing (packetdrill close-on-syn-sent).
            self.finish_blocked_close(cx);
            self.set_state(cx, State::Closed, Cause::AppClose);
            Fate::Dead
        } else {
            self.queue_fin(cx, Cause::AppClose);
            if !matches!(
                self.state,
                State::FinWait1 | State::Closing | State::LastAck
            ) {
                self.finish_blocked_close(cx);
            }
            if self.linger_at.is_set() {
                Fate::Live
            } else {
                self.orphaned(cx)
            }
        }
    }

    /// `tcp_max_orphans` exceeded: RST and CLOSED (Linux `tcp_check_oom()`).
    pub fn abort_orphan(&mut self, cx: &mut Cx) -> Fate {
        self.abort(cx, true, Cause::TooManyOrphans)
    }

    /// A lingering close() returns (FIN acknowledged, time-out, or reset); the
    /// socket is an orphan from then on.
    fn finish_blocked_close(&mut self, cx: &mut Cx) {
        if std::mem::replace(&mut self.linger_at, Deadline::NONE).is_set() {
            self.orphan = true;
            let blocked = cx.now.saturating_since(self.linger_from);
            cx.io
                .events
                .push_back((self.id, self.conn, AppEvent::CloseReturned { blocked }));
        }
    }

    /// The socket has just become an orphan (Linux `sock_orphan()` at the end of
    /// `__tcp_close()`): FIN_WAIT_2 gets its `tcp_fin_timeout` treatment.
    fn orphaned(&mut self, cx: &mut Cx) -> Fate {
        self.orphan = true;
        if self.state == State::FinWait2 {
            self.orphan_fin_wait2(cx)
        } else {
            Fate::Live
        }
    }

    /// Linux `tcp_fin_time()`: max(fin_timeout, 3.5 RTO).
    fn fin_time(&self, cfg: &TcpConfig) -> SimDuration {
        let rto = self.rtt.current(cfg);
        cfg.fin_timeout.max(SimDuration::from_nanos(
            rto.as_nanos().saturating_mul(7) / 2,
        ))
    }

    /// An orphan in FIN_WAIT_2 (Linux `__tcp_close()` / `tcp_rcv_state_process()`):
    /// if the time-out exceeds the TIME_WAIT length, wait `tmo - TW` as a full socket
    /// first, else become a FIN_WAIT_2 mini-socket for `tmo`.
    fn orphan_fin_wait2(&mut self, cx: &mut Cx) -> Fate {
        let tmo = self.fin_time(cx.cfg);
        let tw = cx.cfg.time_wait_len();
        if tmo > tw {
            self.fw2_at = Deadline::at(cx.now + (tmo - tw));
            Fate::Live
        } else {
            Fate::FinWait2Mini(tmo)
        }
    }

    // ------------------------------------------------------------ timers

    /// Runs whichever of this socket's timers are due at `cx.now`.
    pub fn on_timer(&mut self, cx: &mut Cx) -> Fate {
        let now = cx.now;
        if self.linger_at.due(now) {
            // SO_LINGER expired: nothing sent, nothing discarded; an orphan now.
            self.finish_blocked_close(cx);
        }
        if self.fw2_at.due(now) {
            // Linux tcp_keepalive_timer() for an orphaned FIN_WAIT_2.
            self.fw2_at = Deadline::NONE;
            let tw = cx.cfg.time_wait_len();
            let rest = self.fin_time(cx.cfg).saturating_sub(tw);
            return Fate::FinWait2Mini(rest.max(SimDuration::from_nanos(1)));
        }
        if self.rto_at.due(now) {
            self.rto_at = Deadline::NONE;
            return self.on_rto(cx);
        }
        Fate::Live
    }

    /// Retransmission time-out (RFC 6298 (5.4)-(5.6); Linux `tcp_retransmit_timer()`
    /// and `tcp_write_timeout()`).
    fn on_rto(&mut self, cx: &mut Cx) -> Fate {
        let cfg = cx.cfg;
        // Our SYN (or SYN-ACK) is not yet acknowledged: retry it.
        if self.snd_una == self.iss {
            let linear = if self.state == State::SynSent {
                cfg.syn_linear_timeouts
            } else {
                0
            };
            let limit = if self.passive {
                cfg.synack_retries
            } else {
                cfg.syn_retries
            };
            if self.retries >= limit.saturating_add(linear) {
                return self.timed_out(cx);
            }
            self.retries += 1;
            if self.retries > linear {
                self.rtt.backoff = self.rtt.backoff.saturating_add(1);
            }
            self.timed = None;
            self.tally.retransmits += 1;
            cx.stats.counters.retransmits += 1;
            self.send_syn(cx);
            return Fate::Live;
        }
        if self.snd_una == self.snd_max {
            return Fate::Live;
        }
        let stamp = *self.retrans_stamp.get_or_insert(self.rto_started);
        let boundary = if self.orphan {
            cfg.orphan_retries_effective()
        } else {
            cfg.retries2
        };
        // Linux retransmits_timed_out(): the base is the constant TCP_RTO_MIN, not
        // the route's rto_min.
        let limit = model_timeout(boundary, LINUX_RTO_MIN, cfg.rto_max);
        if cx.now.saturating_since(stamp) >= limit {
            return self.timed_out(cx);
        }
        self.retries = self.retries.saturating_add(1);
        self.rtt.backoff = self.rtt.backoff.saturating_add(1);
        self.timed = None;
        // Go back to the oldest unacknowledged byte and resend one segment.
        self.snd_nxt = self.snd_una;
        self.transmit(cx, 1);
        Fate::Live
    }

    /// Retransmissions exhausted: ETIMEDOUT, CLOSED, no RST (Linux `tcp_write_err()`).
    /// A passive request is dropped silently.
    fn timed_out(&mut self, cx: &mut Cx) -> Fate {
        if !(self.passive && self.state == State::SynRcvd) {
            self.fail(cx, Errno::ETIMEDOUT);
        }
        self.tally.bytes_discarded += self.unacked_data();
        self.finish_blocked_close(cx);
        self.set_state(cx, State::Closed, Cause::RetransmitTimeout);
        Fate::Dead
    }

    fn fail(&mut self, cx: &mut Cx, e: Errno) {
        self.tally.error = Some(e);
        self.event(cx, AppEvent::Error(e));
    }

    // ------------------------------------------------------ segment arrives

    /// SEGMENT ARRIVES for a socket in SYN_SENT or a synchronized state / SYN_RCVD.
    pub fn on_segment(&mut self, cx: &mut Cx, seg: &Segment) -> Fate {
        self.peer_demux = seg.demux.from;
        match self.state {
            State::SynSent => self.rcv_syn_sent(cx, seg),
            _ => self.rcv_other(cx, seg),
        }
    }

    fn take_peer_options(&mut self, cx: &Cx, seg: &Segment) {
        self.irs = seg.seq;
        self.rcv_nxt = seg.seq + 1;
        self.snd_wnd = u32::from(seg.window);
        self.mss = u32::from(seg.mss.unwrap_or(536).min(cx.cfg.mss));
        if let Some((tsval, _)) = seg.ts
            && cx.cfg.timestamps
        {
            self.ts_ok = true;
            self.ts_recent = tsval;
            self.ts_recent_at = cx.now;
        }
    }

    /// Passive child just created from a SYN (RFC 9293 §3.10.7.2): CLOSED →
    /// SYN_RCVD, send SYN,ACK.
    pub fn open_passive(&mut self, cx: &mut Cx, syn: &Segment, cause: Cause) {
        self.passive = true;
        self.peer_demux = syn.demux.from;
        self.take_peer_options(cx, syn);
        self.set_state(cx, State::SynRcvd, cause);
        if cause == Cause::SynCookie {
            // The cookie SYN-ACK was sent statelessly: its ISS is already used.
            self.snd_nxt = self.iss + 1;
            self.snd_max = self.snd_nxt;
        } else {
            self.send_syn(cx);
        }
    }

    /// RFC 9293 §3.10.7.3.
    fn rcv_syn_sent(&mut self, cx: &mut Cx, seg: &Segment) -> Fate {
        let f = seg.flags;
        let ack_ok = f.ack() && seg.ack.gt(self.iss) && seg.ack.le(self.snd_max);
        if f.ack() && !ack_ok {
            if !f.rst() {
                self.reply_rst(cx, seg);
            }
            return Fate::Live;
        }
        if f.rst() {
            if ack_ok {
                self.fail(cx, Errno::ECONNREFUSED);
                self.set_state(cx, State::Closed, Cause::RecvRst);
                return Fate::Dead;
            }
            return Fate::Live;
        }
        if !f.syn() {
            return Fate::Live;
        }
        self.take_peer_options(cx, seg);
        if ack_ok {
            let syn_retransmitted = self.retries > 0;
            self.ack_advance(cx, seg.ack);
            if syn_retransmitted {
                self.rtt.fallback_after_syn_timeout(cx.cfg);
            }
            self.set_state(cx, State::Established, Cause::RecvSynAck);
            self.event(cx, AppEvent::Connected);
            if !self.transmit(cx, u32::MAX) {
                self.send_ack(cx);
            }
        } else {
            // Simultaneous open: SYN,ACK with the same ISS.
            self.set_state(cx, State::SynRcvd, Cause::RecvSyn);
            self.rto_at = Deadline::NONE;
            self.snd_nxt = self.iss;
            self.send_syn(cx);
        }
        Fate::Live
    }

    /// `<SEQ=SEG.ACK><CTL=RST>` (or `<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>`).
    fn reply_rst(&mut self, cx: &mut Cx, seg: &Segment) {
        if let Some(r) = reset_for(seg, self.conn) {
            self.tally.rsts_sent += 1;
            cx.emit(r);
        }
    }

    /// RFC 9293 §3.10.7.4 window test on SEG.SEQ and SEG.LEN.
    fn seq_acceptable(&self, cfg: &TcpConfig, seg: &Segment) -> bool {
        let wnd = cfg.rcv_window;
        let lo = self.rcv_nxt;
        let hi = lo + wnd;
        match seg.seg_len() {
            0 => seg.seq.in_range(lo, hi),
            n => seg.seq.in_range(lo, hi) || (seg.seq + (n - 1)).in_range(lo, hi),
        }
    }

    /// Counts a segment of another incarnation accepted as data or FIN.
    fn note_stale(&mut self, cx: &mut Cx, seg: &Segment) {
        if seg.conn != self.conn && seg.conn != ConnId::NONE {
            self.tally.stale_accepted += 1;
            cx.stats.counters.stale_accepted += 1;
        }
    }

    /// New cumulative ACK: RFC 6298 RTT sample (Karn), timer restart.
    fn ack_advance(&mut self, cx: &mut Cx, ack: Seq) {
        self.snd_una = ack;
        if self.snd_nxt.lt(ack) {
            self.snd_nxt = ack;
        }
        if let Some((end, at)) = self.timed
            && end.le(ack)
        {
            self.rtt.sample(cx.now.saturating_since(at), cx.cfg);
            self.timed = None;
        }
        self.rtt.backoff = 0;
        self.retries = 0;
        self.retrans_stamp = None;
        self.rto_at = Deadline::NONE;
        if self.snd_una != self.snd_max {
            self.arm_rto(cx.now, cx.cfg);
        }
    }

    /// SEGMENT ARRIVES in SYN_RCVD and the synchronized states (RFC 9293 §3.10.7.4,
    /// first check sequence number ... eighth check the FIN bit).
    fn rcv_other(&mut self, cx: &mut Cx, seg: &Segment) -> Fate {
        let f = seg.flags;
        // A retransmitted SYN for a passive request: resend the SYN-ACK
        // (Linux tcp_check_req(), rate-limited).
        if self.state == State::SynRcvd && f.syn() && !f.ack() && !f.rst() && seg.seq == self.irs {
            if self.oow_allowed(cx, None) {
                let s = self.segment(cx, Flags::SYN | Flags::ACK, self.iss, 0);
                cx.emit(s);
            }
            return Fate::Live;
        }
        // PAWS (RFC 7323 §5): an older TSval is a duplicate from the past.
        if self.ts_ok
            && !f.rst()
            && let Some((tsval, _)) = seg.ts
            && (tsval.wrapping_sub(self.ts_recent) as i32) < 0
        {
            cx.stats.counters.paws_rejected += 1;
            self.send_dup_ack(cx, seg);
            return Fate::Live;
        }
        // First: sequence number.
        if !self.seq_acceptable(cx.cfg, seg) {
            if !f.rst() {
                if f.syn() {
                    self.challenge_ack(cx);
                } else {
                    self.send_dup_ack(cx, seg);
                }
            }
            return Fate::Live;
        }
        // Second: RST (RFC 5961 §3.2).
        if f.rst() {
            if seg.seq != self.rcv_nxt {
                self.challenge_ack(cx);
                return Fate::Live;
            }
            return self.on_reset(cx);
        }
        // Fourth: SYN in a synchronized state → challenge ACK (RFC 5961 §4).
        if f.syn() {
            self.challenge_ack(cx);
            return Fate::Live;
        }
        // Fifth: ACK.
        if !f.ack() {
            return Fate::Live;
        }
        if let Some((tsval, _)) = seg.ts
            && self.ts_ok
            && seg.seq.le(self.rcv_nxt)
        {
            self.ts_recent = tsval;
            self.ts_recent_at = cx.now;
        }
        if self.state == State::SynRcvd {
            if !(seg.ack.gt(self.snd_una) && seg.ack.le(self.snd_max)) {
                self.reply_rst(cx, seg);
                return Fate::Live;
            }
            self.ack_advance(cx, seg.ack);
            self.snd_wnd = u32::from(seg.window);
            self.set_state(cx, State::Established, Cause::RecvAck);
            if self.passive {
                // Auto-accept: the harness is the application. Otherwise the host
                // puts the child in its listener's accept queue.
                if self.auto_accept {
                    self.accepted = true;
                    let listener_port = self.local_port;
                    self.event(cx, AppEvent::Accepted { listener_port });
                }
            } else {
                self.event(cx, AppEvent::Connected);
            }
        } else if seg.ack.gt(self.snd_max) {
            // Acknowledges something not yet sent (RFC 5961 §5): ACK and drop.
            self.send_dup_ack(cx, seg);
            return Fate::Live;
        } else if seg.ack.gt(self.snd_una) {
            self.ack_advance(cx, seg.ack);
        }
        if seg.ack.ge(self.snd_una) {
            self.snd_wnd = u32::from(seg.window);
        }
        // Whether this segment's FIN directly follows what we have received.
        let fin_in_order = f.fin()
            && !self.fin_rcvd
            && seg.seq.le(self.rcv_nxt)
            && (seg.seq + seg.len).ge(self.rcv_nxt);
        if self.our_fin_acked() {
            match self.state {
                State::FinWait1 => {
                    self.finish_blocked_close(cx);
                    // A FIN that also acknowledges ours goes straight to TIME_WAIT
                    // (Figure 5 "rcv FIN, ACK"); an orphan reaching FIN_WAIT_2 gets
                    // its fin_timeout at the end of this function.
                    if !fin_in_order {
                        self.set_state(cx, State::FinWait2, Cause::RecvAck);
                    }
                }
                State::Closing => {
                    self.finish_blocked_close(cx);
                    return Fate::TimeWait(Cause::RecvAck);
                }
                State::LastAck => {
                    self.finish_blocked_close(cx);
                    self.set_state(cx, State::Closed, Cause::RecvAck);
                    return Fate::Dead;
                }
                _ => {}
            }
        }
        // Seventh: segment text.
        let mut ack_now = false;
        if seg.len > 0 {
            match self.state {
                State::Established | State::FinWait1 | State::FinWait2 => {
                    let new = self.overlap_new(seg);
                    if self.app_closed && new > 0 {
                        // RFC 1122 4.2.2.13 / Linux: new data after close() → reset.
                        self.reply_rst(cx, seg);
                        self.tally.aborted = true;
                        return self.abort(cx, false, Cause::RecvDataAfterClose);
                    }
                    if seg.seq.le(self.rcv_nxt) && new > 0 {
                        self.rcv_nxt += new;
                        self.rcv_unread += u64::from(new);
                        self.note_stale(cx, seg);
                        self.event(
                            cx,
                            AppEvent::Readable {
                                bytes: u64::from(new),
                            },
                        );
                    }
                    // In order, duplicate or out of order (no reassembly queue):
                    // acknowledge at once either way.
                    ack_now = true;
                }
                _ => {}
            }
        }
        // Eighth: FIN.
        let mut fate = Fate::Live;
        if fin_in_order && seg.seq + seg.len == self.rcv_nxt {
            self.rcv_nxt += 1;
            self.fin_rcvd = true;
            if seg.len == 0 {
                self.note_stale(cx, seg);
            }
            self.event(cx, AppEvent::EndOfStream);
            ack_now = true;
            match self.state {
                State::SynRcvd | State::Established => {
                    self.set_state(cx, State::CloseWait, Cause::RecvFin)
                }
                State::FinWait1 if self.our_fin_acked() => fate = Fate::TimeWait(Cause::RecvFinAck),
                State::FinWait1 => self.set_state(cx, State::Closing, Cause::RecvFin),
                State::FinWait2 => fate = Fate::TimeWait(Cause::RecvFin),
                _ => {}
            }
        } else if f.fin() {
            // A FIN already received (retransmitted, reordered) or beyond a gap.
            ack_now = true;
        }
        if !self.transmit(cx, u32::MAX) && ack_now {
            self.send_ack(cx);
        }
        if fate.is_live() && self.state == State::FinWait2 && self.orphan && !self.fw2_at.is_set() {
            return self.orphan_fin_wait2(cx);
        }
        fate
    }

    /// Bytes of `seg`'s payload beyond RCV.NXT when it starts at or before RCV.NXT.
    fn overlap_new(&self, seg: &Segment) -> u32 {
        if seg.seq.gt(self.rcv_nxt) {
            return 0;
        }
        let end = seg.seq + seg.len;
        if end.gt(self.rcv_nxt) {
            end.wrapping_sub(self.rcv_nxt)
        } else {
            0
        }
    }

    /// A valid RST (RFC 9293 §3.10.7.4 second check; Linux `tcp_reset()`).
    fn on_reset(&mut self, cx: &mut Cx) -> Fate {
        let err = match self.state {
            State::SynRcvd if self.passive => None,
            State::SynRcvd => Some(Errno::ECONNREFUSED),
            State::CloseWait => Some(Errno::EPIPE),
            _ => Some(Errno::ECONNRESET),
        };
        if let Some(e) = err {
            self.fail(cx, e);
        }
        self.tally.bytes_discarded += self.unacked_data();
        self.finish_blocked_close(cx);
        self.set_state(cx, State::Closed, Cause::RecvRst);
        Fate::Dead
    }
}

/// The reset RFC 9293 §3.10.7.1 sends for a segment to a CLOSED port (or one that
/// is otherwise unacceptable): `<SEQ=SEG.ACK><CTL=RST>` if it carries ACK, else
/// `<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>`; nothing for an RST.
pub(crate) fn reset_for(seg: &Segment, conn: ConnId) -> Option<Segment> {
    if seg.flags.rst() {
        return None;
    }
    let (seq, ack, flags) = if seg.flags.ack() {
        (seg.ack, Seq(0), Flags::RST)
    } else {
        (Seq(0), seg.end_seq(), Flags::RST | Flags::ACK)
    };
    Some(Segment {
        src: seg.dst,
        dst: seg.src,
        seq,
        ack,
        flags,
        window: 0,
        len: 0,
        mss: None,
        ts: None,
        conn,
        demux: DemuxHint::reply_to(seg),
    })
}
