//! LISTEN, SYN_RCVD, the SYN queue and SYN cookies, and segments to closed ports.
#[macro_use]
mod common;

use common::*;
use sim_tcp::*;

fn listening(c: TcpConfig) -> Tb {
    let mut tb = Tb::new(c);
    tb.host.listen(tb.now, SERVER_PORT, &mut tb.stats).unwrap();
    assert_eq!(tb.stats.count(State::Listen), 1);
    tb
}

#[test]
fn listen_twice_is_eaddrinuse() {
    let mut tb = listening(cfg());
    assert_eq!(
        tb.host.listen(tb.now, SERVER_PORT, &mut tb.stats),
        Err(Errno::EADDRINUSE)
    );
}

#[test]
fn listen_ignores_rst_and_resets_ack() {
    let mut tb = listening(cfg());
    tb.feed(tb.pkt(R, 5, 0, 0));
    expect!(tb, []);
    tb.feed(tb.pkt(A, 5, 77, 0));
    expect!(tb, [(R, 77, 0, 0)]);
    assert_eq!(tb.stats.count(State::Listen), 1);
}

#[test]
fn syn_creates_child_in_syn_rcvd_then_established() {
    let mut tb = listening(cfg());
    tb.feed(tb.pkt(S, 0, 0, 0));
    expect!(tb, [(S | A, 0, 1, 0)]);
    state!(tb, SynRcvd);
    assert_eq!(
        tb.stats.memory.current,
        2368 + 320,
        "listener + request sock"
    );
    // A retransmitted SYN gets the SYN-ACK again.
    tb.feed(tb.pkt(S, 0, 0, 0));
    expect!(tb, [(S | A, 0, 1, 0)]);
    tb.feed(tb.pkt(A, 1, 1, 0));
    state!(tb, Established);
    assert_eq!(tb.stats.memory.current, 2 * 2368);
    let ev = tb.take_events();
    assert_eq!(
        ev,
        vec![AppEvent::Accepted {
            listener_port: SERVER_PORT
        }]
    );
    assert_eq!(tb.events.len(), 0);
}

#[test]
fn handshake_ack_with_data_is_delivered_after_accept() {
    let mut tb = listening(cfg());
    tb.feed(tb.pkt(S, 0, 0, 0));
    tb.take();
    tb.feed(tb.pkt(A | P, 1, 1, 300));
    expect!(tb, [(A, 1, 301, 0)]);
    assert_eq!(
        tb.take_events(),
        vec![
            AppEvent::Accepted {
                listener_port: SERVER_PORT
            },
            AppEvent::Readable { bytes: 300 }
        ]
    );
}

/// RFC 9293: SYN_RCVD + RST from a passive open → the request is dropped; the
/// listener stays in LISTEN.
#[test]
fn rst_in_syn_rcvd_drops_the_child() {
    let mut tb = listening(cfg());
    tb.feed(tb.pkt(S, 0, 0, 0));
    tb.take();
    tb.feed(tb.pkt(R, 1, 0, 0));
    state!(tb, None);
    assert_eq!(tb.stats.count(State::Listen), 1);
    assert_eq!(tb.stats.count(State::SynRcvd), 0);
    let rec = tb.record().unwrap();
    assert_eq!(rec.path.to_string(), "SYN_RCVD>CLOSED");
    assert!(!rec.active_open);
    assert!(
        !tb.events
            .iter()
            .any(|(_, _, e)| matches!(e, AppEvent::Error(_)))
    );
}

#[test]
fn bad_ack_in_syn_rcvd_gets_rst() {
    let mut tb = listening(cfg());
    tb.feed(tb.pkt(S, 0, 0, 0));
    tb.take();
    tb.feed(tb.pkt(A, 1, 50, 0));
    expect!(tb, [(R, 50, 0, 0)]);
    state!(tb, SynRcvd);
}

#[test]
fn closed_port_answers_with_rst() {
    let mut tb = Tb::new(cfg());
    // No ACK: <SEQ=0><ACK=SEG.SEQ+SEG.LEN><RST,ACK>.
    tb.feed(tb.pkt(S, 100, 0, 0));
    expect!(tb, [(R | A, 0, 101, 0)]);
    tb.feed(tb.pkt(A | P, 100, 7, 10));
    expect!(tb, [(R, 7, 0, 0)]);
    tb.feed(tb.pkt(R, 100, 0, 0));
    expect!(tb, []);
    assert_eq!(tb.stats.counters.no_socket, 3);
    assert_eq!(tb.stats.counters.rst_sent, 2);
}

fn syn_from(tb: &Tb, port: u16) -> Segment {
    let mut s = tb.pkt(S, 0, 0, 0);
    s.src.port = port;
    s
}

/// The SYN queue is full when its length exceeds min(backlog, somaxconn).
#[test]
fn full_syn_queue_without_cookies_drops_syns() {
    let mut tb = listening(TcpConfig {
        backlog: 2,
        syncookies: 0,
        ..cfg()
    });
    for p in 1000..1004 {
        tb.feed(syn_from(&tb, p));
    }
    assert_eq!(tb.take().len(), 3);
    assert_eq!(tb.stats.count(State::SynRcvd), 3);
    assert_eq!(tb.stats.counters.syn_drops, 1);
    // somaxconn caps the backlog the same way.
    let mut tb = listening(TcpConfig {
        somaxconn: 1,
        syncookies: 0,
        ..cfg()
    });
    for p in 1000..1004 {
        tb.feed(syn_from(&tb, p));
    }
    assert_eq!(tb.stats.count(State::SynRcvd), 2);
}

#[test]
fn full_syn_queue_with_cookies_answers_statelessly() {
    let mut tb = listening(TcpConfig {
        backlog: 0,
        syncookies: 1,
        ..cfg()
    });
    tb.feed(syn_from(&tb, 1000)); // queue length 0 is not above 0: a real request
    tb.feed(syn_from(&tb, 1001)); // 1 > 0: cookie
    let out = tb.take();
    assert_eq!(out.len(), 2);
    assert_eq!(tb.stats.count(State::SynRcvd), 1);
    assert_eq!(tb.stats.counters.syn_cookies_sent, 1);
    let cookie = out[1];
    assert!(cookie.flags.syn() && cookie.flags.ack());
    // The ACK of the cookie creates an established child directly.
    let mut ack = tb.pkt(A, 1, cookie.seq.0.wrapping_add(1), 0);
    ack.src.port = 1001;
    tb.feed(ack);
    assert_eq!(
        tb.host.state_of(SERVER_PORT, ack.src),
        Some(State::Established)
    );
    assert_eq!(tb.stats.counters.syn_cookies_accepted, 1);
    assert!(tb.take_events().contains(&AppEvent::Accepted {
        listener_port: SERVER_PORT
    }));
    // A forged ACK fails the check and is reset.
    let mut bad = tb.pkt(A, 1, 12345, 0);
    bad.src.port = 1002;
    tb.feed(bad);
    expect!(tb, [(R, 12345, 0, 0)]);
    assert_eq!(tb.stats.counters.syn_cookies_failed, 1);
}

#[test]
fn syncookies_2_always_uses_cookies() {
    let mut tb = listening(TcpConfig {
        syncookies: 2,
        ..cfg()
    });
    tb.feed(tb.pkt(S, 0, 0, 0));
    assert_eq!(tb.take().len(), 1);
    assert_eq!(tb.stats.count(State::SynRcvd), 0);
    assert_eq!(tb.stats.counters.syn_cookies_sent, 1);
    // Cookie age: valid for up to two more 64 s slots, then not.
    let mut tb2 = listening(TcpConfig {
        syncookies: 2,
        ..cfg()
    });
    tb2.feed(tb2.pkt(S, 0, 0, 0));
    let c = tb2.take()[0].seq.0;
    tb2.advance_to(ms(200_000));
    tb2.feed(tb2.pkt(A, 1, c.wrapping_add(1), 0));
    assert_eq!(tb2.stats.counters.syn_cookies_failed, 1);
}

fn from(tb: &Tb, port: u16, flags: Flags, seq: u32, ack: u32, len: u32) -> Segment {
    let mut s = tb.pkt(flags, seq, ack, len);
    s.src.port = port;
    s
}

/// listen_queued(): children wait in the accept queue; beyond the backlog, SYNs and
/// handshake-completing ACKs are dropped (Linux `ListenOverflows`).
#[test]
fn accept_queue_overflow_drops_and_accept_drains() {
    let mut tb = Tb::new(TcpConfig {
        backlog: 1,
        syncookies: 0,
        ..cfg()
    });
    tb.host
        .listen_queued(tb.now, SERVER_PORT, &mut tb.stats)
        .unwrap();
    tb.feed(from(&tb, 1001, S, 0, 0, 0));
    tb.feed(from(&tb, 1002, S, 0, 0, 0));
    tb.feed(from(&tb, 1001, A, 1, 1, 0));
    // Data and FIN while queued: ACKed, reported at accept() time.
    tb.feed(from(&tb, 1001, F | A | P, 1, 1, 10));
    tb.feed(from(&tb, 1003, S, 0, 0, 0)); // queue 1, not above 1: a third request
    tb.feed(from(&tb, 1002, A, 1, 1, 0)); // queue 2
    tb.take();
    assert!(tb.take_events().is_empty(), "nothing accepted yet");
    tb.feed(from(&tb, 1003, A, 1, 1, 0)); // queue 2 > 1: dropped
    tb.feed(from(&tb, 1004, S, 0, 0, 0)); // dropped too
    expect!(tb, []);
    assert_eq!(tb.stats.counters.listen_drops, 2);
    assert_eq!(
        tb.host.state_of(SERVER_PORT, SockAddr::new(PEER, 1003)),
        Some(State::SynRcvd)
    );
    let (id, conn) = tb.host.accept(tb.now, SERVER_PORT, &mut tb.stats).unwrap();
    assert_eq!(conn, ConnId(1));
    while let Some(e) = tb.host.poll_event() {
        tb.events.push(e);
    }
    assert_eq!(
        tb.take_events(),
        vec![AppEvent::Readable { bytes: 10 }, AppEvent::EndOfStream]
    );
    assert_eq!(tb.host.read(tb.now, id, &mut tb.stats), 10);
    assert!(tb.host.accept(tb.now, SERVER_PORT, &mut tb.stats).is_some());
    assert!(tb.host.accept(tb.now, SERVER_PORT, &mut tb.stats).is_none());
    // The dropped ACK's request retransmits its SYN-ACK; the peer's ACK now fits.
    tb.advance_to(ms(1_000));
    tb.feed(from(&tb, 1003, A, 1, 1, 0));
    assert!(tb.host.accept(tb.now, SERVER_PORT, &mut tb.stats).is_some());
}
