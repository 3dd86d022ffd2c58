//! Accounting: [`Stats`] (per host group: sockets per state over time, modelled kernel
//! memory, ports in use, counters, optional transition trace), [`Path`] (a
//! connection's states, packed in a `u64`) and [`SocketRecord`] (one connection's
//! outcome, emitted when its socket, TIME_WAIT mini-socket included, is gone).

use std::fmt;

use sim_core::time::SimTime;

use crate::config::Errno;
use crate::segment::{ConnId, SockAddr};
use crate::state::{Cause, State};

/// The states a connection went through, in order, packed four bits each (code =
/// state index + 1, 0 = empty) into a `u64`: up to 16 states, no allocation. Real
/// paths have at most 8; a 17th state would be dropped (the path keeps its first 16).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Path(u64);

impl Path {
    pub const EMPTY: Path = Path(0);
    pub const CAPACITY: usize = 16;

    /// Number of states recorded.
    pub fn len(self) -> usize {
        Self::CAPACITY - (self.0.leading_zeros() as usize / 4)
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    /// Appends `s` (a no-op once 16 states are recorded).
    pub fn push(&mut self, s: State) {
        let n = self.len();
        if n < Self::CAPACITY {
            self.0 |= (s.index() as u64 + 1) << (4 * n);
        }
    }
    /// The states in order.
    pub fn states(self) -> impl Iterator<Item = State> {
        (0..self.len())
            .filter_map(move |i| State::from_index(((self.0 >> (4 * i)) & 0xf) as usize - 1))
    }
    /// The last state recorded.
    pub fn last(self) -> Option<State> {
        self.states().last()
    }
    /// The raw packed value.
    pub fn bits(self) -> u64 {
        self.0
    }
    /// The path whose packed value is `bits` (the inverse of [`Path::bits`]).
    pub fn from_bits(bits: u64) -> Path {
        Path(bits)
    }
}

impl fmt::Display for Path {
    /// `SYN_SENT>ESTABLISHED>FIN_WAIT_1>FIN_WAIT_2>TIME_WAIT>CLOSED`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.states().enumerate() {
            if i > 0 {
                f.write_str(">")?;
            }
            f.write_str(s.name())?;
        }
        Ok(())
    }
}
impl fmt::Debug for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Path({self})")
    }
}

/// One connection's accounting, emitted in [`crate::AppEvent::Finished`] when the
/// socket (including its TIME_WAIT or FIN_WAIT_2 mini-socket) is gone. It holds
/// what a mini-socket keeps to the end, which, as in Linux's `tcp_timewait_sock`,
/// is what TIME_WAIT needs plus these counters: the transfer's byte counts and
/// establishment time are not among them (the applications see those as they
/// happen: `Connected`, `Accepted`, `Readable`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SocketRecord {
    pub conn: ConnId,
    pub local: SockAddr,
    pub remote: SockAddr,
    /// connect() (true) or a listener's child (false).
    pub active_open: bool,
    /// States from the first after CLOSED to the final CLOSED. A passive child
    /// starts at SYN_RCVD: the listener is a separate socket that stays in LISTEN.
    pub path: Path,
    pub closed_at: SimTime,
    /// Segments (SYN, data, FIN) sent again by the retransmission timer.
    pub retransmits: u32,
    /// Bytes lost to an abortive close: unsent or unacknowledged send data plus
    /// unread received data.
    pub bytes_discarded: u64,
    /// Segments of another incarnation of this 4-tuple accepted as in-window
    /// data or FIN.
    pub stale_accepted: u32,
    pub rsts_sent: u32,
    /// The error the connection ended with, if any (reported to the application
    /// unless it had already closed the socket).
    pub error: Option<Errno>,
    /// Ended by an RST we sent (SO_LINGER 0, close with unread data, data after close).
    pub aborted: bool,
    /// We sent our FIN before receiving the peer's (the active closer).
    pub sent_fin_first: bool,
}

/// A current/peak pair.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Gauge {
    pub current: u64,
    pub peak: u64,
}

impl Gauge {
    #[inline]
    pub fn add(&mut self, delta: i64) {
        self.current = self
            .current
            .checked_add_signed(delta)
            .expect("gauge below zero");
        self.peak = self.peak.max(self.current);
    }
}

/// Sockets in one state, over time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StateStats {
    /// Sockets in this state now.
    pub current: u64,
    /// Largest `current` seen.
    pub peak: u64,
    /// Transitions into this state.
    pub entered: u64,
    /// Transitions out of this state.
    pub exited: u64,
    /// Sum over exits of the time spent in this state, nanoseconds.
    pub residence: u128,
    /// The times of the exits from this state minus those of the entries into
    /// it, nanoseconds: with `current`, all [`StateStats::integral`] needs, an add
    /// or a subtraction per change. It reads only the times of the changes, not
    /// the sockets' entry times that `residence` sums, so that Little's law
    /// (`tcpsim report`) checks two independent sums.
    flow: i128,
}

impl StateStats {
    /// ∫ current dt over `[0, end]`, in socket·nanoseconds, for `end` at or after
    /// every change: each residence that ended, exit minus entry, plus `end -
    /// entry` for each socket still here.
    pub fn integral(&self, end: SimTime) -> u128 {
        let open = i128::from(self.current) * i128::from(end.as_nanos());
        u128::try_from(open + self.flow).expect("no exit before its entry")
    }
    /// Mean time spent in this state per exit, seconds (0 if none exited).
    pub fn mean_residence_s(&self) -> f64 {
        if self.exited == 0 {
            0.0
        } else {
            self.residence as f64 / self.exited as f64 / 1e9
        }
    }
}

/// Event counters (Linux MIB names in the docs where one exists).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    pub segments_in: u64,
    pub segments_out: u64,
    /// Retransmitted segments (`TCPRetransSegs`-like, timer driven only).
    pub retransmits: u64,
    pub rst_sent: u64,
    /// RFC 5961 challenge ACKs sent (`TCPChallengeACK`).
    pub challenge_acks: u64,
    /// Out-of-window ACKs suppressed by the 500 ms rate limit (`tcp_invalid_ratelimit`).
    pub acks_rate_limited: u64,
    /// Segments dropped by PAWS (`PAWSEstabRejected`).
    pub paws_rejected: u64,
    /// Connections closed without TIME_WAIT: `tcp_max_tw_buckets` (`TCPTimeWaitOverflow`).
    pub tw_overflow: u64,
    /// TIME_WAIT sockets taken over by connect() (`tcp_tw_reuse`, `TWRecycled`).
    pub tw_reused: u64,
    /// TIME_WAIT sockets killed by an RST (assassination, `tcp_rfc1337 = 0`).
    pub tw_killed: u64,
    /// TIME_WAIT sockets replaced by a new connection's SYN.
    pub tw_reopened: u64,
    pub syn_cookies_sent: u64,
    pub syn_cookies_accepted: u64,
    pub syn_cookies_failed: u64,
    /// SYNs dropped because the SYN queue was full and cookies are off.
    pub syn_drops: u64,
    /// SYNs or handshake ACKs dropped on a full accept queue (`ListenOverflows`).
    pub listen_drops: u64,
    /// Segments from an earlier incarnation accepted as data/FIN.
    pub stale_accepted: u64,
    /// connect() failures with EADDRNOTAVAIL.
    pub port_exhausted: u64,
    /// Orphaned FIN_WAIT_2 sockets freed by `tcp_fin_timeout`.
    pub fin_wait2_timeouts: u64,
    /// Segments to no socket and no listener, answered with RST (or dropped if RST).
    pub no_socket: u64,
    /// Orphans reset because `tcp_max_orphans` was exceeded (`TCPAbortOnMemory`).
    pub orphan_resets: u64,
}

/// One state change (the `transitions.csv` row), recorded when tracing is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Transition {
    pub time: SimTime,
    pub local: SockAddr,
    pub remote: SockAddr,
    pub conn: ConnId,
    pub from: State,
    pub to: State,
    pub cause: Cause,
}

/// Accounting shared by all hosts of a group; the harness owns it and passes it by
/// `&mut` into every [`crate::Host`] call. Calls must come in non-decreasing time.
#[derive(Clone, Debug, Default)]
pub struct Stats {
    /// Indexed by [`State::index`]. CLOSED's `current` stays 0; its `entered` counts
    /// connections that ended.
    pub states: [StateStats; 11],
    /// Modelled kernel memory, bytes (by the host's [`crate::CostModel`]).
    pub memory: Gauge,
    /// Local ephemeral ports held by outgoing connections (TIME_WAIT included).
    pub ports: Gauge,
    pub counters: Counters,
    trace: Option<Vec<Transition>>,
    finished_at: Option<SimTime>,
}

impl Stats {
    pub fn new() -> Stats {
        Stats::default()
    }
    /// Also record every transition (for `transitions.csv`).
    pub fn with_trace() -> Stats {
        Stats {
            trace: Some(Vec::new()),
            ..Stats::default()
        }
    }
    /// The recorded transitions (empty unless built with [`Stats::with_trace`]).
    pub fn trace(&self) -> &[Transition] {
        self.trace.as_deref().unwrap_or(&[])
    }
    /// Takes the recorded transitions, leaving an empty trace (still enabled).
    pub fn take_trace(&mut self) -> Vec<Transition> {
        self.trace.as_mut().map(std::mem::take).unwrap_or_default()
    }
    /// Sockets in `s` now.
    pub fn count(&self, s: State) -> u64 {
        self.states[s.index()].current
    }
    pub fn state(&self, s: State) -> &StateStats {
        &self.states[s.index()]
    }

    /// Ends the run at `end`, every change done (call once, before reading
    /// [`Stats::mean`]).
    pub fn finish(&mut self, end: SimTime) {
        self.finished_at = Some(end);
    }

    /// Time-weighted mean number of sockets in `s` over `[0, end]` (after
    /// [`Stats::finish`]).
    pub fn mean(&self, s: State) -> f64 {
        match self.finished_at {
            Some(end) if end > SimTime::ZERO => {
                self.states[s.index()].integral(end) as f64 / end.as_nanos() as f64
            }
            _ => 0.0,
        }
    }

    /// The accounting half of `set_state`: counts, integrals, residence, trace.
    /// `since` is when the socket entered `from`. Inlined into its one caller,
    /// `record_transition`, so its nine arguments are not marshalled per change.
    #[allow(clippy::too_many_arguments)]
    #[inline(always)]
    pub(crate) fn transition(
        &mut self,
        now: SimTime,
        since: SimTime,
        local: SockAddr,
        remote: SockAddr,
        conn: ConnId,
        from: State,
        to: State,
        cause: Cause,
    ) {
        if from != State::Closed {
            let f = &mut self.states[from.index()];
            f.current -= 1;
            f.exited += 1;
            f.residence += now.saturating_since(since).as_nanos() as u128;
            f.flow += i128::from(now.as_nanos());
        }
        let t = &mut self.states[to.index()];
        t.entered += 1;
        if to != State::Closed {
            t.current += 1;
            t.flow -= i128::from(now.as_nanos());
            t.peak = t.peak.max(t.current);
        }
        if let Some(tr) = &mut self.trace {
            tr.push(Transition {
                time: now,
                local,
                remote,
                conn,
                from,
                to,
                cause,
            });
        }
    }

    /// Memory change by `delta` bytes (most state changes cost none: skipped).
    #[inline]
    pub(crate) fn mem(&mut self, delta: i64) {
        if delta != 0 {
            self.memory.add(delta);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim_core::time::SimDuration;

    #[test]
    fn path_packs_and_prints() {
        let mut p = Path::EMPTY;
        for s in [
            State::SynSent,
            State::Established,
            State::TimeWait,
            State::Closed,
        ] {
            p.push(s);
        }
        assert_eq!(p.len(), 4);
        assert_eq!(p.to_string(), "SYN_SENT>ESTABLISHED>TIME_WAIT>CLOSED");
        assert_eq!(p.last(), Some(State::Closed));
        let mut full = Path::EMPTY;
        for _ in 0..20 {
            full.push(State::TimeWait);
        }
        assert_eq!(full.len(), 16);
    }

    #[test]
    fn integrals_and_residence() {
        let mut st = Stats::with_trace();
        let a = SockAddr::default();
        let t = |s| SimTime::ZERO + SimDuration::from_secs(s);
        st.transition(
            t(0),
            t(0),
            a,
            a,
            ConnId(1),
            State::Closed,
            State::SynSent,
            Cause::AppConnect,
        );
        st.transition(
            t(2),
            t(0),
            a,
            a,
            ConnId(1),
            State::SynSent,
            State::Closed,
            Cause::RetransmitTimeout,
        );
        st.finish(t(4));
        assert_eq!(st.mean(State::SynSent), 0.5);
        assert_eq!(st.state(State::SynSent).mean_residence_s(), 2.0);
        assert_eq!(st.state(State::Closed).entered, 1);
        assert_eq!(st.trace().len(), 2);
    }

    /// The integral kept from the times of the changes equals `current` summed
    /// over every nanosecond: sockets moving through random states at random
    /// times, against a step-by-step integration of the counts.
    #[test]
    fn integral_matches_stepwise_integration() {
        use sim_core::rng::{MasterSeed, below};
        let mut rng = MasterSeed(3).stream("integral");
        let mut st = Stats::new();
        let a = SockAddr::default();
        // Per socket: its state and when it entered it.
        let mut socks = vec![(State::Closed, SimTime::ZERO); 50];
        let mut stepwise = [0u128; 11];
        let mut now = SimTime::ZERO;
        for _ in 0..5_000 {
            let dt = below(&mut rng, 1_000_000);
            for s in State::ALL {
                stepwise[s.index()] += u128::from(st.count(s)) * u128::from(dt);
            }
            now += SimDuration::from_nanos(dt);
            let i = below(&mut rng, socks.len() as u64) as usize;
            let to = State::ALL[below(&mut rng, State::ALL.len() as u64) as usize];
            let (from, since) = socks[i];
            if to != from {
                let c = Cause::AppConnect;
                st.transition(now, since, a, a, ConnId(i as u64), from, to, c);
                socks[i] = (to, now);
            }
        }
        let end = now + SimDuration::from_secs(1);
        st.finish(end);
        for s in State::ALL {
            let rest = u128::from(st.count(s)) * 1_000_000_000;
            assert_eq!(st.state(s).integral(end), stepwise[s.index()] + rest, "{s}");
            if s != State::Closed {
                assert!(st.state(s).exited > 10, "{s} exercised");
            }
        }
    }

    /// The integral reads only the times of the changes: an entry time reported
    /// wrong (`since` a second late) moves the residence, not the integral, so
    /// Little's law, which compares the two, still catches it.
    #[test]
    fn the_integral_does_not_read_entry_times() {
        let a = SockAddr::default();
        let t = |s| SimTime::ZERO + SimDuration::from_secs(s);
        let run = |late: u64| {
            let mut st = Stats::new();
            let (open, timeout) = (Cause::AppConnect, Cause::RetransmitTimeout);
            st.transition(
                t(1),
                t(0),
                a,
                a,
                ConnId(1),
                State::Closed,
                State::SynSent,
                open,
            );
            let since = t(1 + late);
            st.transition(
                t(3),
                since,
                a,
                a,
                ConnId(1),
                State::SynSent,
                State::Closed,
                timeout,
            );
            st.finish(t(4));
            let s = st.state(State::SynSent);
            (s.integral(t(4)), s.residence)
        };
        let (right, wrong) = (run(0), run(1));
        assert_eq!(right, (2_000_000_000, 2_000_000_000));
        assert_eq!(wrong.0, right.0, "the integral ignores `since`");
        assert_eq!(wrong.1, 1_000_000_000, "the residence reads it");
    }
}
