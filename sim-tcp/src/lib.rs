//! # sim-tcp: TCP endpoints and a Linux-flavoured host stack, sans-IO
//!
//! Every RFC 9293 state as a pure state machine, plus what a host's kernel adds
//! around it: 4-tuple demultiplexing, listeners with a SYN queue and SYN cookies,
//! ephemeral ports chosen the Linux way, TIME_WAIT as compact mini-sockets, Linux's
//! close path (orphans, `tcp_fin_timeout`, SO_LINGER) and per-state accounting.
//! Facts and defaults come from `shared/REFERENCE.md`; each [`TcpConfig`] field names
//! the sysctl or socket option it mirrors.
//!
//! ## Reading list
//!
//! Before changing the state machine, read at least:
//!
//! - [RFC 9293] (TCP): §3.3.2 state diagram, §3.4 sequence numbers, §3.10 event
//!   processing (the `sock` module follows its "first check ... eighth check" order).
//! - [RFC 5961]: RST and SYN validation with challenge ACKs (§3, §4), ACK range (§5).
//! - [RFC 6298]: the retransmission timer (initial 1 s, back-off, Karn).
//! - [RFC 7323]: timestamps and PAWS; [RFC 6191]: TIME_WAIT reuse by timestamp.
//! - [RFC 6528]: ISN generation; [RFC 6056]: ephemeral port selection (alg. 4).
//! - [RFC 4987]: SYN cookies; [RFC 1337]: TIME_WAIT assassination;
//!   [RFC 2525] §2.17: RST on close with unread data.
//! - Linux `net/ipv4/tcp.c` (`__tcp_close`, `tcp_disconnect`), `tcp_input.c`
//!   (`tcp_rcv_state_process`, `tcp_validate_incoming`), `tcp_minisocks.c`
//!   (`tcp_timewait_state_process`, `tcp_time_wait`), `tcp_timer.c`
//!   (`tcp_write_timeout`, `tcp_model_timeout`), `inet_hashtables.c`
//!   (`__inet_hash_connect`).
//!
//! ## The sans-IO contract
//!
//! Nothing here has a clock, a socket, a thread or a scheduler: time is an argument
//! of every entry point and output is pulled. One [`Host`] is one machine's stack;
//! the harness owns the scheduler and the links and drives each host like this:
//!
//! 1. Build: `TcpConfig::validate()`, then [`Host::new`]`(addr, cfg, cost, seed)`.
//!    `seed` keys the host's ISN, cookie and port secrets and its random stream
//!    (derive it from the master seed and the host's stable name).
//! 2. Inputs, all with `now` (non-decreasing across all hosts sharing a [`Stats`]):
//!    application calls ([`Host::listen`], [`Host::connect`], [`Host::send`],
//!    [`Host::read`], [`Host::shutdown_write`], [`Host::close`]), arriving segments
//!    ([`Host::on_segment`]) and timer expiry ([`Host::on_timeout`]).
//! 3. After **every** input, drain [`Host::poll_transmit`] (segments to put on the
//!    link) and [`Host::poll_event`] (application notifications: `Connected`,
//!    `Accepted`, `Readable`, `EndOfStream`, `Error`, `CloseReturned`, `Finished`),
//!    then re-arm the host's single scheduler entry at [`Host::poll_timeout`].
//! 4. When that deadline comes, call [`Host::on_timeout`]`(deadline)`: it runs every
//!    timer due by then (retransmission, SO_LINGER, FIN_WAIT_2, TIME_WAIT).
//!
//! Segments carry a simulator-internal [`DemuxHint`] (which socket sent them, and
//! which socket of the receiver they are probably for): pass it along unchanged;
//! a segment the harness makes itself uses [`DemuxHint::NONE`]. It only saves
//! the receiver a table lookup and cannot change any result.
//!
//! The application must `read()` after `Readable`: closing with unread data resets
//! the connection, as Linux does. A handle is dead once `close()` was called or its
//! `Finished` was emitted; calls on it return `EBADF` (or do nothing).
//! [`SocketRecord`]s arrive in `Finished` when a connection's last trace (its
//! TIME_WAIT mini-socket included) is gone; passive children start their path at
//! SYN_RCVD (the listener is a separate socket that stays in LISTEN).
//!
//! ## Modules
//!
//! | module | contents |
//! |---|---|
//! | `seq` | [`Seq`]: wrapping sequence numbers, compared only through named helpers |
//! | `segment` | [`Segment`] (`Copy`, ≤ 64 bytes), [`Flags`], [`Addr`], [`SockAddr`], [`ConnId`], [`DemuxHint`] |
//! | `state` | [`State`] (11 states), [`ALLOWED_TRANSITIONS`], [`Cause`] |
//! | `config` | [`TcpConfig`], [`CostModel`], [`Linger`], [`Errno`], [`IsnPolicy`] |
//! | `stats` | [`Stats`], [`StateStats`], [`Counters`], [`Transition`], [`Path`], [`SocketRecord`] |
//! | `rtt` | RFC 6298 estimator, Linux `tcp_model_timeout` |
//! | `sock` | the full socket: TCB, §3.10 processing, close/abort/linger, timers, the one `set_state` |
//! | `tw` | TIME_WAIT / FIN_WAIT_2 mini-sockets, FIFO + heap expiry |
//! | `host` | [`Host`]: slab, demultiplexing, listeners, SYN cookies, port choice, timers |
//! | `demux` | the 4-tuple table: open addressing over 8-byte slots |
//! | `fifo` | a host's output queues: read to the end between calls, then refilled from the first slot |
//! | `ports` | the local ephemeral ports held: a bitmap over the range, counts for shared ones |
//! | `hash` | keyed hashing (ISN, cookies, ports), SplitMix64 stream, the lookup-map hasher |
//!
//! ## Deliberate simplifications (see each item's docs)
//!
//! No reassembly queue, SACK, fast retransmit, delayed ACK, window scaling, Nagle,
//! persist or keepalive timers; congestion control is a fixed window of
//! `initial_window` segments (the `cwnd()` hook is where it would go). RTO after a
//! time-out is go-back-N from SND.UNA, one segment.
//!
//! [RFC 9293]: https://www.rfc-editor.org/rfc/rfc9293
//! [RFC 5961]: https://www.rfc-editor.org/rfc/rfc5961
//! [RFC 6298]: https://www.rfc-editor.org/rfc/rfc6298
//! [RFC 7323]: https://www.rfc-editor.org/rfc/rfc7323
//! [RFC 6191]: https://www.rfc-editor.org/rfc/rfc6191
//! [RFC 6528]: https://www.rfc-editor.org/rfc/rfc6528
//! [RFC 6056]: https://www.rfc-editor.org/rfc/rfc6056
//! [RFC 4987]: https://www.rfc-editor.org/rfc/rfc4987
//! [RFC 1337]: https://www.rfc-editor.org/rfc/rfc1337
//! [RFC 2525]: https://www.rfc-editor.org/rfc/rfc2525

mod config;
mod demux;
mod fifo;
mod hash;
mod host;
mod perturb;
mod portbits;
mod ports;
mod rtt;
mod segment;
mod seq;
mod sock;
mod state;
mod stats;
mod tw;

pub use config::{ConfigError, CostModel, Errno, IsnPolicy, Linger, TcpConfig};
pub use host::{AppEvent, ConnectStep, ExpiryStep, Host, SocketId};
pub use segment::{Addr, ConnId, DemuxHint, Flags, Segment, SockAddr};
pub use seq::Seq;
pub use sim_core::time::{SimDuration, SimTime};
pub use state::{ALLOWED_TRANSITIONS, Cause, State, transition_allowed};
pub use stats::{Counters, Gauge, Path, SocketRecord, StateStats, Stats, Transition};
