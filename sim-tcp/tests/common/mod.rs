//! Scripted-exchange harness in the manner of packetdrill and smoltcp's tests: one
//! [`Host`] under test, a scripted peer whose segments we write by hand, virtual
//! time we advance explicitly (timers fire at their exact deadlines on the way),
//! and macros to expect segments, states and events. Plus a two-host loop.
#![allow(dead_code, unused_macros)]

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use sim_core::time::{SimDuration, SimTime};
use sim_tcp::*;

pub const US: Addr = Addr::new(10, 0, 0, 1);
pub const PEER: Addr = Addr::new(10, 0, 0, 2);
pub const PEER_PORT: u16 = 5555;
pub const SERVER_PORT: u16 = 80;

pub fn ms(n: u64) -> SimTime {
    SimTime::from_nanos(n * 1_000_000)
}
pub fn secs(n: u64) -> SimDuration {
    SimDuration::from_secs(n)
}

/// Readable config for scripts: ISN 0 (so numbers match packetdrill's relative
/// ones), no timestamps.
pub fn cfg() -> TcpConfig {
    TcpConfig {
        isn: IsnPolicy::Zero,
        timestamps: false,
        ..TcpConfig::default()
    }
}

/// The host under test plus its clock, stats and captured output.
pub struct Tb {
    pub host: Host,
    pub stats: Stats,
    pub now: SimTime,
    /// Segments sent, with the time they left, not yet checked.
    pub sent: Vec<(SimTime, Segment)>,
    pub events: Vec<(SocketId, ConnId, AppEvent)>,
    /// The peer's address as seen by the host (where scripted segments come from).
    pub peer: SockAddr,
    /// Our local address of the connection under test.
    pub local: SockAddr,
    pub sock: Option<SocketId>,
}

impl Tb {
    pub fn new(cfg: TcpConfig) -> Tb {
        cfg.validate().unwrap();
        Tb {
            host: Host::new(US, cfg, CostModel::default(), 42),
            stats: Stats::with_trace(),
            now: SimTime::ZERO,
            sent: Vec::new(),
            events: Vec::new(),
            peer: SockAddr::new(PEER, PEER_PORT),
            local: SockAddr::new(US, SERVER_PORT),
            sock: None,
        }
    }

    fn drain(&mut self) {
        while let Some(s) = self.host.poll_transmit() {
            self.sent.push((self.now, s));
        }
        while let Some(e) = self.host.poll_event() {
            self.events.push(e);
        }
    }

    /// Advances the clock to `t`, running every timer at its exact deadline.
    pub fn advance_to(&mut self, t: SimTime) {
        assert!(t >= self.now, "time goes forward");
        while let Some(d) = self.host.poll_timeout() {
            if d > t {
                break;
            }
            self.now = self.now.max(d);
            self.host.on_timeout(self.now, &mut self.stats);
            self.drain();
        }
        self.now = t;
    }

    /// A segment from the scripted peer arrives at `self.now`.
    pub fn feed(&mut self, seg: Segment) {
        self.host.on_segment(self.now, &seg, &mut self.stats);
        self.drain();
    }

    /// Takes the unchecked sent segments.
    pub fn take(&mut self) -> Vec<Segment> {
        self.sent.drain(..).map(|(_, s)| s).collect()
    }
    pub fn take_timed(&mut self) -> Vec<(SimTime, Segment)> {
        std::mem::take(&mut self.sent)
    }
    pub fn take_events(&mut self) -> Vec<AppEvent> {
        self.events.drain(..).map(|(_, _, e)| e).collect()
    }

    pub fn state(&self) -> Option<State> {
        self.host.state_of(self.local.port, self.peer)
    }

    pub fn connect(&mut self) -> SocketId {
        let id = self
            .host
            .connect(self.now, self.peer, ConnId(1), &mut self.stats)
            .unwrap();
        self.drain();
        let syn = self.sent.last().unwrap().1;
        self.local = syn.src;
        self.sock = Some(id);
        id
    }
    pub fn send(&mut self, n: u64) {
        self.host
            .send(self.now, self.sock.unwrap(), n, &mut self.stats)
            .unwrap();
        self.drain();
    }
    pub fn read(&mut self) -> u64 {
        let n = self
            .host
            .read(self.now, self.sock.unwrap(), &mut self.stats);
        self.drain();
        n
    }
    pub fn shutdown(&mut self) {
        self.host
            .shutdown_write(self.now, self.sock.unwrap(), &mut self.stats)
            .unwrap();
        self.drain();
    }
    pub fn close(&mut self, l: Linger) {
        self.host
            .close(self.now, self.sock.unwrap(), l, &mut self.stats);
        self.drain();
    }

    /// A segment from the peer to us: `flags seq ack len`.
    pub fn pkt(&self, flags: Flags, seq: u32, ack: u32, len: u32) -> Segment {
        Segment {
            src: self.peer,
            dst: self.local,
            seq: Seq(seq),
            ack: Seq(ack),
            flags,
            window: 65535,
            len,
            mss: if flags.syn() { Some(1460) } else { None },
            ts: None,
            conn: ConnId(1),
            demux: DemuxHint::NONE,
        }
    }

    /// The record of the connection under test, once finished.
    pub fn record(&self) -> Option<SocketRecord> {
        self.events.iter().find_map(|(_, _, e)| match e {
            AppEvent::Finished(r) => Some(*r),
            _ => None,
        })
    }

    /// Client in ESTABLISHED: connect, SYN-ACK (peer ISN 0), our ACK consumed.
    /// Our data starts at seq 1, the peer's at 1.
    pub fn established_client(cfg: TcpConfig) -> Tb {
        let mut tb = Tb::new(cfg);
        tb.connect();
        let synack = tb.pkt(Flags::SYN | Flags::ACK, 0, 1, 0);
        tb.feed(synack);
        assert_eq!(tb.state(), Some(State::Established));
        tb.take();
        tb.take_events();
        tb
    }

    /// Server child in ESTABLISHED on port 80 (peer ISN 0, ours 0).
    pub fn established_server(cfg: TcpConfig) -> Tb {
        let mut tb = Tb::new(cfg);
        tb.host.listen(tb.now, SERVER_PORT, &mut tb.stats).unwrap();
        let syn = tb.pkt(Flags::SYN, 0, 0, 0);
        tb.feed(syn);
        let ack = tb.pkt(Flags::ACK, 1, 1, 0);
        tb.feed(ack);
        assert_eq!(tb.state(), Some(State::Established));
        tb.sock = tb
            .events
            .iter()
            .find_map(|(id, _, e)| matches!(e, AppEvent::Accepted { .. }).then_some(*id));
        assert!(tb.sock.is_some());
        tb.take();
        tb.take_events();
        tb
    }

    /// Transitions recorded so far as `FROM>TO` strings.
    pub fn transitions(&self) -> Vec<String> {
        self.stats
            .trace()
            .iter()
            .map(|t| format!("{}>{}", t.from, t.to))
            .collect()
    }
}

/// Checks one sent segment: `flags seq ack len` (seq/ack as packetdrill numbers).
pub fn check(seg: &Segment, flags: Flags, seq: u32, ack: u32, len: u32) {
    assert_eq!(
        (
            seg.flags,
            seg.seq.0,
            if seg.flags.ack() { seg.ack.0 } else { 0 },
            seg.len
        ),
        (flags, seq, ack, len),
        "segment {seg}"
    );
}

/// `expect!(tb, [(FLAGS, seq, ack, len), ...])`: exactly these segments were sent.
macro_rules! expect {
    ($tb:expr, []) => {{
        let got = $tb.take();
        assert!(got.is_empty(), "expected nothing, got {:?}", got.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    }};
    ($tb:expr, [$(($f:expr, $seq:expr, $ack:expr, $len:expr)),+ $(,)?]) => {{
        let got = $tb.take();
        let want: Vec<(Flags, u32, u32, u32)> = vec![$(($f, $seq, $ack, $len)),+];
        assert_eq!(got.len(), want.len(), "got {:?}", got.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        for (g, w) in got.iter().zip(want) {
            common::check(g, w.0, w.1, w.2, w.3);
        }
    }};
}

/// `state!(tb, STATE)` / `state!(tb, None)`.
macro_rules! state {
    ($tb:expr, None) => {
        assert_eq!($tb.state(), None)
    };
    ($tb:expr, $s:ident) => {
        assert_eq!($tb.state(), Some(State::$s))
    };
}

pub const S: Flags = Flags::SYN;
pub const A: Flags = Flags::ACK;
pub const F: Flags = Flags::FIN;
pub const R: Flags = Flags::RST;
pub const P: Flags = Flags::PSH;

pub fn fl(parts: &[Flags]) -> Flags {
    parts.iter().fold(Flags::NONE, |a, b| a | *b)
}

/// Two hosts joined by a fixed one-way delay (a tiny test loop; the real harness
/// lives in `scenarios`).
pub struct Pair {
    pub hosts: [Host; 2],
    pub stats: [Stats; 2],
    pub now: SimTime,
    pub delay: SimDuration,
    wire: BinaryHeap<Reverse<(SimTime, u64, usize, SegKey)>>,
    segs: Vec<Option<Segment>>,
    seq: u64,
    pub events: [Vec<(SimTime, SocketId, ConnId, AppEvent)>; 2],
    pub delivered: u64,
    /// Loss script: each delivery pops one entry; `true` drops that segment.
    pub drops: std::collections::VecDeque<bool>,
    /// Every segment sent: (time, sending host, segment).
    pub log: Vec<(SimTime, usize, Segment)>,
    /// When set (an xorshift state), every delivered segment's demultiplexing
    /// hint (`demux.to`) is replaced by a garbled one: unknown, a low full or
    /// mini-socket index (often another live socket), a neighbour of the true
    /// value, or random bits.
    pub garble_hints: Option<u64>,
    /// Delivered segments whose hint named their socket (checked before delivery).
    pub hints_verified: u64,
}

#[derive(PartialEq, Eq, PartialOrd, Ord, Clone, Copy)]
struct SegKey(usize);

impl Pair {
    pub fn new(a: TcpConfig, b: TcpConfig, delay: SimDuration) -> Pair {
        Pair::with_seeds(a, b, delay, [1, 2])
    }

    pub fn with_seeds(a: TcpConfig, b: TcpConfig, delay: SimDuration, seeds: [u64; 2]) -> Pair {
        Pair {
            hosts: [
                Host::new(Addr::new(10, 0, 0, 1), a, CostModel::default(), seeds[0]),
                Host::new(Addr::new(10, 0, 0, 2), b, CostModel::default(), seeds[1]),
            ],
            stats: [Stats::with_trace(), Stats::with_trace()],
            now: SimTime::ZERO,
            delay,
            wire: BinaryHeap::new(),
            segs: Vec::new(),
            seq: 0,
            events: [Vec::new(), Vec::new()],
            delivered: 0,
            drops: Default::default(),
            log: Vec::new(),
            garble_hints: None,
            hints_verified: 0,
        }
    }

    pub fn addr(&self, i: usize) -> Addr {
        self.hosts[i].addr()
    }

    fn flush(&mut self) {
        for i in 0..2 {
            while let Some(s) = self.hosts[i].poll_transmit() {
                self.seq += 1;
                self.log.push((self.now, i, s));
                self.segs.push(Some(s));
                let k = SegKey(self.segs.len() - 1);
                self.wire
                    .push(Reverse((self.now + self.delay, self.seq, 1 - i, k)));
            }
            while let Some((id, c, e)) = self.hosts[i].poll_event() {
                self.events[i].push((self.now, id, c, e));
            }
        }
    }

    /// Calls `f` on host `i` at the current time, then collects its output.
    pub fn call<R>(&mut self, i: usize, f: impl FnOnce(&mut Host, SimTime, &mut Stats) -> R) -> R {
        let now = self.now;
        let r = f(&mut self.hosts[i], now, &mut self.stats[i]);
        self.flush();
        r
    }

    /// Runs deliveries and timers in time order until `t` (jumping to each event).
    pub fn run_until(&mut self, t: SimTime) {
        loop {
            let wire = self.wire.peek().map(|Reverse((at, ..))| *at);
            let timers = [self.hosts[0].poll_timeout(), self.hosts[1].poll_timeout()];
            let next = [wire, timers[0], timers[1]].into_iter().flatten().min();
            let Some(next) = next.filter(|n| *n <= t) else {
                break;
            };
            self.now = self.now.max(next);
            if wire == Some(next) {
                let Reverse((_, _, dst, k)) = self.wire.pop().unwrap();
                let mut seg = self.segs[k.0].take().unwrap();
                if self.drops.pop_front().unwrap_or(false) {
                    continue;
                }
                self.delivered += 1;
                if let Some(x) = &mut self.garble_hints {
                    *x ^= *x << 13;
                    *x ^= *x >> 7;
                    *x ^= *x << 17;
                    let r = (*x >> 8) as u32;
                    seg.demux.to = match *x % 6 {
                        0 => DemuxHint::UNKNOWN,
                        1 => r % 4,
                        2 => (1 << 31) | (r % 4),
                        3 => seg.demux.to ^ 1,
                        4 => seg.demux.to.wrapping_add(1),
                        _ => r,
                    };
                }
                self.hints_verified += u64::from(self.hosts[dst].hint_verifies(&seg));
                let now = self.now;
                self.hosts[dst].on_segment(now, &seg, &mut self.stats[dst]);
            } else {
                let i = if timers[0] == Some(next) { 0 } else { 1 };
                let now = self.now;
                self.hosts[i].on_timeout(now, &mut self.stats[i]);
            }
            self.flush();
        }
        self.now = self.now.max(t);
    }

    /// Records (Finished events) of host `i`.
    pub fn records(&self, i: usize) -> Vec<SocketRecord> {
        self.events[i]
            .iter()
            .filter_map(|(_, _, _, e)| match e {
                AppEvent::Finished(r) => Some(*r),
                _ => None,
            })
            .collect()
    }

    pub fn find_event(
        &self,
        i: usize,
        pred: impl Fn(&AppEvent) -> bool,
    ) -> Option<(SimTime, SocketId)> {
        self.events[i]
            .iter()
            .find(|(_, _, _, e)| pred(e))
            .map(|(t, id, _, _)| (*t, *id))
    }
}

/// A client host and a server host exchanging full lifecycles with immediate
/// delivery: connect, `request` bytes, `response` bytes, the client closes first
/// (TIME_WAIT on the client), then the server. Used by the allocation test and the
/// `endpoint_pair` bench.
pub struct Lifecycles {
    pub client: Host,
    pub server: Host,
    pub cs: Stats,
    pub ss: Stats,
    pub now: SimTime,
    pub next_conn: u64,
    /// Segments delivered so far.
    pub segments: u64,
}

impl Lifecycles {
    pub fn new() -> Lifecycles {
        let mut server = Host::new(PEER, TcpConfig::default(), CostModel::default(), 2);
        let mut ss = Stats::new();
        server.listen(SimTime::ZERO, SERVER_PORT, &mut ss).unwrap();
        Lifecycles {
            client: Host::new(US, TcpConfig::default(), CostModel::default(), 1),
            server,
            cs: Stats::new(),
            ss,
            now: SimTime::ZERO,
            next_conn: 1,
            segments: 0,
        }
    }

    /// Runs `n` lifecycles, one every `gap`.
    pub fn run(&mut self, n: u64, gap: SimDuration) {
        let dst = SockAddr::new(PEER, SERVER_PORT);
        for _ in 0..n {
            self.now += gap;
            let now = self.now;
            if self.client.poll_timeout().is_some_and(|t| t <= now) {
                self.client.on_timeout(now, &mut self.cs);
            }
            if self.server.poll_timeout().is_some_and(|t| t <= now) {
                self.server.on_timeout(now, &mut self.ss);
            }
            self.client
                .connect(now, dst, ConnId(self.next_conn), &mut self.cs)
                .unwrap();
            self.next_conn += 1;
            self.pump(100, 1000);
        }
    }

    fn pump(&mut self, request: u64, response: u64) {
        let now = self.now;
        let (c, s) = (&mut self.client, &mut self.server);
        loop {
            let mut moved = false;
            while let Some(seg) = c.poll_transmit() {
                s.on_segment(now, &seg, &mut self.ss);
                self.segments += 1;
                moved = true;
            }
            while let Some(seg) = s.poll_transmit() {
                c.on_segment(now, &seg, &mut self.cs);
                self.segments += 1;
                moved = true;
            }
            while let Some((id, _, e)) = c.poll_event() {
                moved = true;
                match e {
                    AppEvent::Connected => c.send(now, id, request, &mut self.cs).unwrap(),
                    AppEvent::Readable { .. } => {
                        c.read(now, id, &mut self.cs);
                        c.close(now, id, Linger::Off, &mut self.cs);
                    }
                    _ => {}
                }
            }
            while let Some((id, _, e)) = s.poll_event() {
                moved = true;
                match e {
                    AppEvent::Readable { .. } => {
                        s.read(now, id, &mut self.ss);
                        s.send(now, id, response, &mut self.ss).unwrap();
                    }
                    AppEvent::EndOfStream => s.close(now, id, Linger::Off, &mut self.ss),
                    _ => {}
                }
            }
            if !moved {
                break;
            }
        }
    }

    /// Runs every remaining timer (TIME_WAIT expiries) by jumping far ahead.
    pub fn drain(&mut self) {
        self.now += SimDuration::from_secs(3600);
        let now = self.now;
        self.client.on_timeout(now, &mut self.cs);
        self.server.on_timeout(now, &mut self.ss);
    }
}
