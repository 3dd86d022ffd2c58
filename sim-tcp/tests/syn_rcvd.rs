//! SYN_RCVD rows of the RFC table not covered elsewhere, and a few Linux-table
//! rows: tcp_fin_time()'s 3.5·RTO floor, the ports/TIME_WAIT capacity arithmetic.
#[macro_use]
mod common;

use common::*;
use sim_tcp::*;

fn simultaneous_syn_rcvd() -> Tb {
    let mut tb = Tb::new(cfg());
    tb.connect();
    tb.feed(tb.pkt(S, 0, 0, 0));
    state!(tb, SynRcvd);
    tb.take();
    tb
}

/// Active open in SYN_RCVD + RST → connection refused.
#[test]
fn rst_in_active_syn_rcvd_is_refused() {
    let mut tb = simultaneous_syn_rcvd();
    tb.feed(tb.pkt(R, 1, 0, 0));
    state!(tb, None);
    assert_eq!(tb.take_events()[0], AppEvent::Error(Errno::ECONNREFUSED));
}

/// SYN_RCVD + close() → FIN, FIN_WAIT_1 (RFC 9293 §3.10.4).
#[test]
fn close_in_syn_rcvd_sends_fin() {
    let mut tb = simultaneous_syn_rcvd();
    tb.close(Linger::Off);
    expect!(tb, [(F | A, 1, 1, 0)]);
    state!(tb, FinWait1);
    // The peer ACKs SYN and FIN together: FIN_WAIT_2.
    tb.feed(tb.pkt(A, 1, 2, 0));
    state!(tb, FinWait2);
}

/// SYN_RCVD + FIN (with the ACK that completes the handshake) → CLOSE_WAIT.
#[test]
fn fin_in_syn_rcvd_goes_to_close_wait() {
    let mut tb = Tb::new(cfg());
    tb.host.listen(tb.now, SERVER_PORT, &mut tb.stats).unwrap();
    tb.feed(tb.pkt(S, 0, 0, 0));
    tb.take();
    tb.feed(tb.pkt(F | A, 1, 1, 0));
    expect!(tb, [(A, 1, 2, 0)]);
    state!(tb, CloseWait);
    assert_eq!(
        tb.take_events(),
        vec![
            AppEvent::Accepted {
                listener_port: SERVER_PORT
            },
            AppEvent::EndOfStream
        ]
    );
}

/// A half-closed (not orphaned) FIN_WAIT_2 + RST → ECONNRESET to the application.
#[test]
fn rst_in_held_fin_wait2_is_connreset() {
    let mut tb = Tb::established_client(cfg());
    tb.shutdown();
    tb.feed(tb.pkt(A, 1, 2, 0));
    state!(tb, FinWait2);
    tb.feed(tb.pkt(R, 1, 0, 0));
    state!(tb, None);
    assert_eq!(tb.take_events()[0], AppEvent::Error(Errno::ECONNRESET));
}

/// SO_LINGER 0 in CLOSE_WAIT also resets.
#[test]
fn abort_in_close_wait_sends_rst() {
    let mut tb = Tb::established_client(cfg());
    tb.feed(tb.pkt(F | A, 1, 1, 0));
    tb.take();
    tb.close(Linger::Abort);
    expect!(tb, [(R | A, 1, 2, 0)]);
}

/// Linux tcp_fin_time() = max(tcp_fin_timeout, 3.5·RTO): with a 20 s RTO the
/// effective time is 70 s > 60 s, so the full socket waits 10 s, then a mini-socket
/// 10 s more.
#[test]
fn fin_timeout_is_at_least_3_5_rto() {
    let c = TcpConfig {
        fin_timeout: secs(30),
        rto_min: secs(20),
        rto_initial: secs(20),
        ..cfg()
    };
    let mut tb = Tb::established_client(c);
    tb.close(Linger::Off);
    tb.feed(tb.pkt(A, 1, 2, 0));
    state!(tb, FinWait2);
    assert_eq!(tb.host.mini_sockets(), 0);
    tb.advance_to(ms(10_001));
    assert_eq!(tb.host.mini_sockets(), 1);
    tb.advance_to(ms(20_001));
    state!(tb, None);
    let closed = tb.record().unwrap().closed_at;
    assert!(closed >= ms(20_000) && closed < ms(20_001), "{closed}");
}

/// Capacity arithmetic (REFERENCE.md): a client that closes first can sustain
/// ports / TIME_WAIT length connections per second toward one destination.
/// With 100 ports and a 60 s TIME_WAIT: 100 per 60 s, whatever the offered load.
#[test]
fn ports_over_time_wait_bounds_the_connection_rate() {
    let c = TcpConfig {
        local_port_range: [40000, 40099],
        ..TcpConfig::default()
    };
    let mut p = Pair::new(c, TcpConfig::default(), SimDuration::from_millis(1));
    p.call(1, |h, now, st| h.listen(now, 80, st)).unwrap();
    let server = SockAddr::new(p.addr(1), 80);
    let (mut ok, mut refused) = (0u64, 0u64);
    // Offer 4 connections per second for 180 s; each closes as soon as it connects.
    for i in 0..720u64 {
        p.run_until(ms(i * 250));
        let r = p.call(0, |h, now, st| h.connect(now, server, ConnId(i + 1), st));
        match r {
            Ok(_) => ok += 1,
            Err(Errno::EADDRNOTAVAIL) => refused += 1,
            Err(e) => panic!("{e}"),
        }
        p.run_until(ms(i * 250 + 10));
        let connected: Vec<SocketId> = p.events[0]
            .drain(..)
            .filter_map(|(_, id, _, e)| (e == AppEvent::Connected).then_some(id))
            .collect();
        for id in connected {
            p.call(0, |h, now, st| h.close(now, id, Linger::Off, st));
        }
        let accepted: Vec<SocketId> = p.events[1]
            .drain(..)
            .filter_map(|(_, id, _, e)| (e == AppEvent::EndOfStream).then_some(id))
            .collect();
        for id in accepted {
            p.call(1, |h, now, st| h.close(now, id, Linger::Off, st));
        }
    }
    // The 100 ports are first taken within 25 s; each is free again 60 s after its
    // connection closed, so in 180 s every port serves exactly 3 connections.
    assert_eq!(ok, 300, "{ok} ok, {refused} refused");
    assert_eq!(p.stats[0].state(State::TimeWait).peak, 100);
    assert_eq!(
        p.stats[1].count(State::TimeWait),
        0,
        "the server never holds TIME_WAIT"
    );
}
