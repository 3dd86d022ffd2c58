//! The eleven states of RFC 9293 §3.3.2 (Figure 5), the transitions between them that
//! the RFC allows, and the causes the simulator records with each change.

use std::fmt;

/// A connection state, named as in RFC 9293 §3.3.2.
///
/// IMPORTANT: the discriminants are used as array indices (per-state statistics) and
/// as 4-bit codes in [`crate::Path`] (code = discriminant + 1); do not reorder.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
#[repr(u8)]
pub enum State {
    Closed = 0,
    Listen = 1,
    SynSent = 2,
    SynRcvd = 3,
    Established = 4,
    FinWait1 = 5,
    FinWait2 = 6,
    CloseWait = 7,
    Closing = 8,
    LastAck = 9,
    TimeWait = 10,
}

impl State {
    /// All states, in discriminant order.
    pub const ALL: [State; 11] = [
        State::Closed,
        State::Listen,
        State::SynSent,
        State::SynRcvd,
        State::Established,
        State::FinWait1,
        State::FinWait2,
        State::CloseWait,
        State::Closing,
        State::LastAck,
        State::TimeWait,
    ];

    /// The name used in every output: `SYN_SENT`, `TIME_WAIT`, ...
    pub const fn name(self) -> &'static str {
        match self {
            State::Closed => "CLOSED",
            State::Listen => "LISTEN",
            State::SynSent => "SYN_SENT",
            State::SynRcvd => "SYN_RCVD",
            State::Established => "ESTABLISHED",
            State::FinWait1 => "FIN_WAIT_1",
            State::FinWait2 => "FIN_WAIT_2",
            State::CloseWait => "CLOSE_WAIT",
            State::Closing => "CLOSING",
            State::LastAck => "LAST_ACK",
            State::TimeWait => "TIME_WAIT",
        }
    }

    /// Index into per-state arrays.
    #[inline]
    pub const fn index(self) -> usize {
        self as usize
    }

    /// Inverse of [`State::index`].
    pub fn from_index(i: usize) -> Option<State> {
        State::ALL.get(i).copied()
    }

    /// RFC 9293 §3.3.2: a connection is synchronized once the handshake is done.
    pub const fn is_synchronized(self) -> bool {
        !matches!(
            self,
            State::Closed | State::Listen | State::SynSent | State::SynRcvd
        )
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Every transition RFC 9293 Figure 5 and §3.10 allow, as `(from, to)`. The one
/// table both the endpoint's debug assertion (in `set_state`) and the property tests
/// use.
///
/// Modelling notes: a passive child starts at `CLOSED → SYN_RCVD` (the listener is a
/// separate socket that stays in LISTEN, so "SYN_RCVD → LISTEN" is recorded as the
/// child's `SYN_RCVD → CLOSED`); `FIN_WAIT_1 → TIME_WAIT` is the FIN that also
/// acknowledges our FIN (Figure 5's "rcv FIN, ACK"); any synchronized state may go to
/// CLOSED on a valid RST, an abort or a retransmission time-out (§3.10.7.4, §3.10.4).
pub const ALLOWED_TRANSITIONS: &[(State, State)] = &[
    (State::Closed, State::Listen),
    (State::Closed, State::SynSent),
    (State::Closed, State::SynRcvd),
    (State::Listen, State::Closed),
    (State::Listen, State::SynRcvd),
    (State::Listen, State::SynSent),
    (State::SynSent, State::SynRcvd),
    (State::SynSent, State::Established),
    (State::SynSent, State::Closed),
    (State::SynRcvd, State::Established),
    (State::SynRcvd, State::FinWait1),
    (State::SynRcvd, State::CloseWait),
    (State::SynRcvd, State::Listen),
    (State::SynRcvd, State::Closed),
    (State::Established, State::FinWait1),
    (State::Established, State::CloseWait),
    (State::Established, State::Closed),
    (State::FinWait1, State::FinWait2),
    (State::FinWait1, State::Closing),
    (State::FinWait1, State::TimeWait),
    (State::FinWait1, State::Closed),
    (State::FinWait2, State::TimeWait),
    (State::FinWait2, State::Closed),
    (State::CloseWait, State::LastAck),
    (State::CloseWait, State::Closed),
    (State::Closing, State::TimeWait),
    (State::Closing, State::Closed),
    (State::LastAck, State::Closed),
    (State::TimeWait, State::Closed),
];

/// Whether `from → to` appears in [`ALLOWED_TRANSITIONS`].
pub fn transition_allowed(from: State, to: State) -> bool {
    ALLOWED_TRANSITIONS.contains(&(from, to))
}

/// Why a state changed: recorded with every transition (`transitions.csv` `cause`).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Cause {
    /// connect(): CLOSED → SYN_SENT.
    AppConnect,
    /// listen(): CLOSED → LISTEN.
    AppListen,
    /// close() with SO_LINGER off or N > 0 (FIN sent, or nothing in SYN_SENT).
    AppClose,
    /// shutdown(SHUT_WR).
    AppShutdown,
    /// close() with SO_LINGER {1, 0}: RST, queues purged.
    AppAbort,
    /// close() with unread received data: RST (RFC 9293 SHLD-3, RFC 2525 §2.17).
    CloseUnread,
    /// A SYN arrived (passive open, simultaneous open).
    RecvSyn,
    /// A SYN-ACK arrived (active open completes).
    RecvSynAck,
    /// An ACK arrived (handshake completes, our FIN acknowledged).
    RecvAck,
    /// A FIN arrived.
    RecvFin,
    /// A FIN that also acknowledges our FIN arrived (FIN_WAIT_1 → TIME_WAIT).
    RecvFinAck,
    /// A valid RST arrived (RFC 9293 §3.10.7.4, RFC 5961 §3).
    RecvRst,
    /// New data arrived at a socket closed for receiving: reset (Linux
    /// `LINUX_MIB_TCPABORTONDATA`, RFC 1122 4.2.2.13).
    RecvDataAfterClose,
    /// A child socket created by a valid SYN cookie (RFC 4987 §3.6).
    SynCookie,
    /// Retransmissions exhausted (`tcp_syn_retries`, `tcp_synack_retries`,
    /// `tcp_retries2`, `tcp_orphan_retries`).
    RetransmitTimeout,
    /// An orphan's FIN_WAIT_2 time-out (`tcp_fin_timeout`), freed silently.
    FinWait2Timeout,
    /// The TIME_WAIT timer expired (`TCP_TIMEWAIT_LEN`).
    TimeWaitExpired,
    /// A TIME_WAIT socket reused by an outgoing connect() (`tcp_tw_reuse`).
    TimeWaitReused,
    /// A SYN accepted in TIME_WAIT reopened the 4-tuple (RFC 9293 MAY-2, RFC 6191).
    TimeWaitSyn,
    /// `tcp_max_tw_buckets` reached: closed without TIME_WAIT (`TCPTimeWaitOverflow`).
    TimeWaitOverflow,
    /// `tcp_max_orphans` exceeded when the socket was orphaned: RST
    /// (`TCPAbortOnMemory`, "too many orphaned sockets").
    TooManyOrphans,
}

impl Cause {
    pub const fn name(self) -> &'static str {
        match self {
            Cause::AppConnect => "app_connect",
            Cause::AppListen => "app_listen",
            Cause::AppClose => "app_close",
            Cause::AppShutdown => "app_shutdown",
            Cause::AppAbort => "app_abort",
            Cause::CloseUnread => "close_unread",
            Cause::RecvSyn => "recv_syn",
            Cause::RecvSynAck => "recv_synack",
            Cause::RecvAck => "recv_ack",
            Cause::RecvFin => "recv_fin",
            Cause::RecvFinAck => "recv_fin_ack",
            Cause::RecvRst => "recv_rst",
            Cause::RecvDataAfterClose => "recv_data_after_close",
            Cause::SynCookie => "syn_cookie",
            Cause::RetransmitTimeout => "retransmit_timeout",
            Cause::FinWait2Timeout => "fin_wait2_timeout",
            Cause::TimeWaitExpired => "time_wait_expired",
            Cause::TimeWaitReused => "time_wait_reused",
            Cause::TimeWaitSyn => "time_wait_syn",
            Cause::TimeWaitOverflow => "time_wait_overflow",
            Cause::TooManyOrphans => "too_many_orphans",
        }
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_indices_round_trip() {
        for (i, s) in State::ALL.iter().enumerate() {
            assert_eq!(s.index(), i);
            assert_eq!(State::from_index(i), Some(*s));
        }
        assert_eq!(State::FinWait1.to_string(), "FIN_WAIT_1");
        assert!(transition_allowed(State::FinWait1, State::TimeWait));
        assert!(!transition_allowed(State::TimeWait, State::Established));
    }
}
