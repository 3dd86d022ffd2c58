//! TIME_WAIT as a mini-socket (Linux `tcp_timewait_state_process()`), its limits,
//! and the hazard it exists to prevent (stale segments of an earlier incarnation).
#[macro_use]
mod common;

use common::*;
use sim_tcp::*;

/// Client in TIME_WAIT at t = 0: our FIN was seq 1 (ACKed), theirs seq 1.
fn time_wait_client(c: TcpConfig) -> Tb {
    let mut tb = Tb::established_client(c);
    tb.close(Linger::Off);
    tb.feed(tb.pkt(F | A, 1, 2, 0));
    state!(tb, TimeWait);
    tb.take();
    tb
}

/// packetdrill psp/psp-tw-rtx-ack: a retransmitted FIN is re-ACKed and the timer
/// restarts from it.
#[test]
fn retransmitted_fin_is_acked_and_restarts_timer() {
    let mut tb = time_wait_client(cfg());
    assert_eq!(tb.host.mini_sockets(), 1);
    assert_eq!(tb.host.full_sockets(), 0);
    assert_eq!(tb.stats.memory.current, 256 + 88);
    tb.advance_to(ms(30_000));
    tb.feed(tb.pkt(F | A, 1, 2, 0));
    expect!(tb, [(A, 2, 2, 0)]);
    // Not rate-limited: a FIN occupies sequence space.
    tb.feed(tb.pkt(F | A, 1, 2, 0));
    expect!(tb, [(A, 2, 2, 0)]);
    tb.advance_to(ms(89_999));
    state!(tb, TimeWait);
    tb.advance_to(ms(90_000));
    state!(tb, None);
    let rec = tb.record().unwrap();
    assert_eq!(
        rec.path.to_string(),
        "SYN_SENT>ESTABLISHED>FIN_WAIT_1>TIME_WAIT>CLOSED"
    );
    assert_eq!(rec.closed_at, ms(90_000));
    assert_eq!(tb.stats.memory.current, 0);
}

/// Out-of-window segment with ACK: ACKed at most once per 500 ms, timer restarted.
#[test]
fn out_of_window_ack_is_rate_limited_and_restarts() {
    let mut tb = time_wait_client(cfg());
    tb.advance_to(ms(10_000));
    tb.feed(tb.pkt(A, 5000, 2, 0));
    expect!(tb, [(A, 2, 2, 0)]);
    tb.feed(tb.pkt(A, 5000, 2, 0));
    expect!(tb, []);
    assert_eq!(tb.stats.counters.acks_rate_limited, 1);
    tb.advance_to(ms(69_999));
    state!(tb, TimeWait);
    tb.advance_to(ms(70_000));
    state!(tb, None);
}

/// An in-window bare ACK restarts the timer silently.
#[test]
fn in_window_ack_restarts_silently() {
    let mut tb = time_wait_client(cfg());
    tb.advance_to(ms(50_000));
    tb.feed(tb.pkt(A, 2, 2, 0));
    expect!(tb, []);
    tb.advance_to(ms(109_999));
    state!(tb, TimeWait);
}

/// tcp_rfc1337 = 0: an RST at RCV.NXT kills TIME_WAIT (assassination).
#[test]
fn rst_assassinates_time_wait_unless_rfc1337() {
    let mut tb = time_wait_client(cfg());
    tb.feed(tb.pkt(R, 2, 0, 0));
    state!(tb, None);
    assert_eq!(tb.stats.counters.tw_killed, 1);
    let last = tb.stats.trace().last().unwrap();
    assert_eq!(
        (last.from, last.to, last.cause),
        (State::TimeWait, State::Closed, Cause::RecvRst)
    );

    let mut tb = time_wait_client(TcpConfig {
        rfc1337: true,
        ..cfg()
    });
    tb.feed(tb.pkt(R, 2, 0, 0));
    state!(tb, TimeWait);
    // An RST off RCV.NXT is ignored either way.
    let mut tb = time_wait_client(cfg());
    tb.feed(tb.pkt(R, 50, 0, 0));
    state!(tb, TimeWait);
}

/// Server that closed first, in TIME_WAIT (our FIN seq 1, theirs seq 1).
fn time_wait_server(c: TcpConfig) -> Tb {
    let mut tb = Tb::established_server(c);
    tb.close(Linger::Off);
    tb.feed(tb.pkt(A, 1, 2, 0));
    tb.feed(tb.pkt(F | A, 1, 2, 0));
    state!(tb, TimeWait);
    tb.take();
    tb.take_events();
    tb
}

/// Linux: a SYN without ACK above RCV.NXT reopens the 4-tuple; new ISN =
/// old SND.NXT + 65537 (RFC 9293 MAY-2).
#[test]
fn syn_above_rcv_nxt_reopens_time_wait() {
    let mut tb = time_wait_server(cfg());
    let mut syn = tb.pkt(S, 1000, 0, 0);
    syn.conn = ConnId(2);
    tb.feed(syn);
    expect!(tb, [(S | A, 2 + 65537, 1001, 0)]);
    state!(tb, SynRcvd);
    assert_eq!(tb.stats.counters.tw_reopened, 1);
    let rec = tb.record().unwrap();
    assert_eq!(rec.conn, ConnId(1));
    assert_eq!(
        rec.path.to_string(),
        "SYN_RCVD>ESTABLISHED>FIN_WAIT_1>FIN_WAIT_2>TIME_WAIT>CLOSED"
    );
    let last = tb.stats.trace().last().unwrap();
    assert_eq!(
        (last.to, last.cause, last.conn),
        (State::SynRcvd, Cause::TimeWaitSyn, ConnId(2))
    );
}

#[test]
fn syn_below_rcv_nxt_is_acked() {
    let mut tb = time_wait_server(cfg());
    tb.feed(tb.pkt(S, 0, 0, 0));
    expect!(tb, [(A, 2, 2, 0)]);
    state!(tb, TimeWait);
    // And a SYN to a client's TIME_WAIT (no listener) is ACKed, not accepted.
    let mut tb = time_wait_client(cfg());
    tb.feed(tb.pkt(S, 1000, 0, 0));
    expect!(tb, [(A, 2, 2, 0)]);
    state!(tb, TimeWait);
}

/// RFC 6191: with timestamps, a newer TSval reopens even with a lower sequence.
#[test]
fn syn_with_newer_timestamp_reopens() {
    let c = TcpConfig {
        timestamps: true,
        ..cfg()
    };
    let mut tb = Tb::new(c);
    tb.host.listen(tb.now, SERVER_PORT, &mut tb.stats).unwrap();
    let mut syn = tb.pkt(S, 0, 0, 0);
    syn.ts = Some((100, 0));
    tb.feed(syn);
    let mut ack = tb.pkt(A, 1, 1, 0);
    ack.ts = Some((101, 0));
    tb.feed(ack);
    tb.sock = tb
        .events
        .iter()
        .find_map(|(id, _, e)| matches!(e, AppEvent::Accepted { .. }).then_some(*id));
    tb.close(Linger::Off);
    let mut a = tb.pkt(A, 1, 2, 0);
    a.ts = Some((102, 0));
    tb.feed(a);
    let mut fin = tb.pkt(F | A, 1, 2, 0);
    fin.ts = Some((103, 0));
    tb.feed(fin);
    state!(tb, TimeWait);
    tb.take();
    let mut old = tb.pkt(S, 0, 0, 0);
    old.ts = Some((50, 0));
    tb.feed(old);
    state!(tb, TimeWait);
    let mut newer = tb.pkt(S, 0, 0, 0);
    newer.ts = Some((5000, 0));
    tb.feed(newer);
    state!(tb, SynRcvd);
}

/// tcp_max_tw_buckets reached: no TIME_WAIT, counted.
#[test]
fn max_tw_buckets_overflow() {
    let mut tb = Tb::established_client(TcpConfig {
        max_tw_buckets: 0,
        ..cfg()
    });
    tb.shutdown();
    tb.feed(tb.pkt(A, 1, 2, 0));
    tb.feed(tb.pkt(F | A, 1, 2, 0));
    expect!(tb, [(F | A, 1, 1, 0), (A, 2, 2, 0)]);
    state!(tb, None);
    assert_eq!(tb.stats.counters.tw_overflow, 1);
    let last = tb.stats.trace().last().unwrap();
    assert_eq!(
        (last.from, last.to, last.cause),
        (State::FinWait2, State::Closed, Cause::TimeWaitOverflow)
    );
    assert_eq!(tb.stats.memory.current, 0);
}

/// The hazard TIME_WAIT prevents: with TIME_WAIT shortened to 1 s, a new incarnation
/// of the same 4-tuple accepts a delayed data segment of the old one.
#[test]
fn stale_segment_accepted_after_short_time_wait() {
    let c = TcpConfig {
        local_port_range: [40000, 40000],
        time_wait: Some(secs(1)),
        ..cfg()
    };
    let mut tb = time_wait_client(c.clone());
    // The old incarnation (conn 1) had data in flight from the peer: seq 1, 100 bytes.
    let mut delayed = tb.pkt(A | P, 1, 1, 100);
    delayed.conn = ConnId(1);
    tb.advance_to(ms(2_000));
    state!(tb, None);
    // New incarnation on the same port (the range has one port), same ISNs (isn = zero).
    let id = tb
        .host
        .connect(tb.now, tb.peer, ConnId(2), &mut tb.stats)
        .unwrap();
    tb.sock = Some(id);
    let mut synack = tb.pkt(S | A, 0, 1, 0);
    synack.conn = ConnId(2);
    tb.feed(synack);
    state!(tb, Established);
    tb.feed(delayed);
    assert_eq!(tb.stats.counters.stale_accepted, 1);
    tb.host.close(tb.now, id, Linger::Abort, &mut tb.stats);
    while let Some(e) = tb.host.poll_event() {
        tb.events.push(e);
    }
    let rec = tb.events.iter().rev().find_map(|(_, _, e)| match e {
        AppEvent::Finished(r) if r.conn == ConnId(2) => Some(*r),
        _ => None,
    });
    assert_eq!(rec.unwrap().stale_accepted, 1);

    // With the real 60 s TIME_WAIT the 4-tuple is still held: the port is not free.
    let c = TcpConfig {
        local_port_range: [40000, 40000],
        ..cfg()
    };
    let mut tb = time_wait_client(c);
    tb.advance_to(ms(2_000));
    assert_eq!(
        tb.host.connect(tb.now, tb.peer, ConnId(2), &mut tb.stats),
        Err(Errno::EADDRNOTAVAIL)
    );
}

/// Simulator memory per TIME_WAIT socket, its share of the lookup table and the
/// expiry queue included: a server that closes first toward many clients.
#[test]
fn time_wait_costs_the_simulator_little() {
    const N: u32 = 20_000;
    let mut tb = Tb::new(TcpConfig {
        isn: IsnPolicy::Zero,
        timestamps: false,
        ..TcpConfig::default()
    });
    tb.host.listen(tb.now, SERVER_PORT, &mut tb.stats).unwrap();
    let base = tb.host.heap_bytes();
    for i in 0..N {
        tb.peer = SockAddr::new(Addr(PEER.0 + i / 20_000), 10_000 + (i % 20_000) as u16);
        tb.local = SockAddr::new(US, SERVER_PORT);
        tb.feed(tb.pkt(S, 0, 0, 0));
        tb.feed(tb.pkt(A, 1, 1, 0));
        let id = tb
            .events
            .iter()
            .rev()
            .find_map(|(id, _, e)| matches!(e, AppEvent::Accepted { .. }).then_some(*id))
            .unwrap();
        tb.host.close(tb.now, id, Linger::Off, &mut tb.stats);
        tb.feed(tb.pkt(F | A, 1, 2, 0));
        tb.events.clear();
        tb.sent.clear();
    }
    assert_eq!(tb.host.mini_sockets(), N);
    assert_eq!(tb.host.full_sockets(), 0);
    let per_tw = (tb.host.heap_bytes() - base) as f64 / f64::from(N);
    // 88 B object (chunked, no doubling slack) + 16 B expiry entry (in 1 KiB
    // blocks) + 8-16 B demultiplexing slot (8 bytes, at most 3/4 full).
    assert!(per_tw < 130.0, "{per_tw:.0} bytes per TIME_WAIT");
    println!("{per_tw:.0} simulator bytes per TIME_WAIT at {N}");
    assert_eq!(tb.stats.memory.current, u64::from(N) * 256 + 2368);
}

/// poll_timeout() is exact: after a restart the host wakes at the new expiry only.
#[test]
fn poll_timeout_is_exact_after_restart() {
    let mut tb = time_wait_client(cfg());
    assert_eq!(tb.host.poll_timeout(), Some(ms(60_000)));
    tb.advance_to(ms(20_000));
    tb.feed(tb.pkt(F | A, 1, 2, 0));
    assert_eq!(tb.host.poll_timeout(), Some(ms(80_000)));
}

/// `prefetch_expiry` names the connection whose TIME_WAIT expires next, in expiry
/// order, and changes nothing; `Socket` steps return nothing, and nothing is named
/// once no mini-socket is left.
#[test]
fn prefetch_expiry_names_the_next_time_wait_to_expire() {
    let mut l = Lifecycles::new();
    l.run(3, SimDuration::from_millis(1));
    assert_eq!(l.client.mini_sockets(), 3);
    for next in 1..=3 {
        let due = l.client.poll_timeout().expect("a TIME_WAIT armed");
        assert_eq!(l.client.prefetch_expiry(ExpiryStep::Socket), None);
        assert_eq!(
            l.client.prefetch_expiry(ExpiryStep::Lookup),
            Some(ConnId(next))
        );
        assert_eq!(
            l.client.poll_timeout(),
            Some(due),
            "prefetching changed nothing"
        );
        l.client.on_timeout(due, &mut l.cs);
        let finished: Vec<ConnId> = std::iter::from_fn(|| l.client.poll_event())
            .filter_map(|(_, _, e)| match e {
                AppEvent::Finished(r) => Some(r.conn),
                _ => None,
            })
            .collect();
        assert_eq!(finished, [ConnId(next)]);
    }
    assert_eq!(l.client.prefetch_expiry(ExpiryStep::Lookup), None);
}
