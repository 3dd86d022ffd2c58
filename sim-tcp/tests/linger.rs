//! Close modes: SO_LINGER off / {1,0} / {1,N}, close() with unread data.
#[macro_use]
mod common;

use common::*;
use sim_tcp::*;

/// SO_LINGER {1,0}: RST,ACK at SND.NXT, no FIN, no TIME_WAIT, bytes discarded.
#[test]
fn linger_zero_aborts_with_rst() {
    let mut tb = Tb::established_client(cfg());
    tb.send(3000);
    tb.take();
    tb.feed(tb.pkt(A, 1, 1001, 0));
    tb.close(Linger::Abort);
    expect!(tb, [(R | A, 3001, 1, 0)]);
    state!(tb, None);
    let rec = tb.record().unwrap();
    assert_eq!(rec.path.to_string(), "SYN_SENT>ESTABLISHED>CLOSED");
    assert_eq!(rec.bytes_discarded, 2000, "sent but unacknowledged");
    assert!(rec.aborted);
    assert_eq!(rec.rsts_sent, 1);
    assert_eq!(tb.stats.count(State::TimeWait), 0);
    assert_eq!(tb.stats.trace().last().unwrap().cause, Cause::AppAbort);
}

#[test]
fn linger_zero_in_syn_sent_sends_nothing() {
    let mut tb = Tb::new(cfg());
    tb.connect();
    tb.take();
    tb.close(Linger::Abort);
    expect!(tb, []);
    state!(tb, None);
}

/// The peer of an abort sees ECONNRESET; in CLOSE_WAIT, EPIPE.
#[test]
fn abort_seen_by_peer() {
    for shutdown_first in [false, true] {
        let mut p = Pair::new(
            TcpConfig::default(),
            TcpConfig::default(),
            SimDuration::from_millis(5),
        );
        p.call(1, |h, now, st| h.listen(now, 80, st)).unwrap();
        let server = SockAddr::new(p.addr(1), 80);
        let c = p
            .call(0, |h, now, st| h.connect(now, server, ConnId(1), st))
            .unwrap();
        p.run_until(ms(50));
        if shutdown_first {
            p.call(0, |h, now, st| h.shutdown_write(now, c, st))
                .unwrap();
            p.run_until(ms(100));
        }
        p.call(0, |h, now, st| h.close(now, c, Linger::Abort, st));
        p.run_until(ms(200));
        let want = if shutdown_first {
            Errno::EPIPE
        } else {
            Errno::ECONNRESET
        };
        assert!(
            p.find_event(1, |e| *e == AppEvent::Error(want)).is_some(),
            "{want}"
        );
        let srv = &p.records(1)[0];
        assert_eq!(srv.error, Some(want));
    }
}

/// packetdrill ts_recent/reset_tsval: 1000 bytes unread, close() → `R. 1:1 ack 1001`,
/// whatever SO_LINGER says (checked first).
#[test]
fn close_with_unread_data_sends_rst() {
    for l in [Linger::Off, Linger::Timeout(secs(5))] {
        let mut tb = Tb::established_server(cfg());
        tb.feed(tb.pkt(A | P, 1, 1, 1000));
        tb.take();
        tb.close(l);
        expect!(tb, [(R | A, 1, 1001, 0)]);
        state!(tb, None);
        let rec = tb.record().unwrap();
        assert_eq!(rec.bytes_discarded, 1000);
        assert_eq!(tb.stats.trace().last().unwrap().cause, Cause::CloseUnread);
        let returned = tb
            .events
            .iter()
            .filter(|(_, _, e)| matches!(e, AppEvent::CloseReturned { .. }))
            .count();
        assert_eq!(returned, usize::from(l != Linger::Off));
    }
}

/// SO_LINGER {1,N}: close() blocks until the FIN is ACKed.
#[test]
fn linger_n_blocks_until_fin_acked() {
    let mut tb = Tb::established_client(cfg());
    tb.close(Linger::Timeout(secs(5)));
    expect!(tb, [(F | A, 1, 1, 0)]);
    assert!(tb.take_events().is_empty());
    tb.advance_to(ms(150));
    tb.take();
    tb.feed(tb.pkt(A, 1, 2, 0));
    assert_eq!(
        tb.take_events(),
        vec![AppEvent::CloseReturned {
            blocked: SimDuration::from_millis(150)
        }]
    );
    // An orphan now: fin_timeout applies (a FIN_WAIT_2 mini-socket).
    assert_eq!(tb.host.mini_sockets(), 1);
}

/// On expiry nothing is sent or discarded: the socket goes on as an orphan and the
/// peer still reads everything (measured: all 16384 bytes, then EOF).
#[test]
fn linger_n_expiry_sends_nothing_and_loses_nothing() {
    let mut p = Pair::new(
        TcpConfig::default(),
        TcpConfig::default(),
        SimDuration::from_millis(1500),
    );
    p.call(1, |h, now, st| h.listen(now, 80, st)).unwrap();
    let server = SockAddr::new(p.addr(1), 80);
    let c = p
        .call(0, |h, now, st| h.connect(now, server, ConnId(1), st))
        .unwrap();
    p.run_until(ms(3_100));
    p.call(0, |h, now, st| h.send(now, c, 16384, st)).unwrap();
    p.call(0, |h, now, st| {
        h.close(now, c, Linger::Timeout(secs(1)), st)
    });
    p.run_until(ms(4_099));
    assert!(
        p.find_event(0, |e| matches!(e, AppEvent::CloseReturned { .. }))
            .is_none()
    );
    let before = p.stats[0].counters.segments_out;
    p.run_until(ms(4_100));
    let (t, _) = p
        .find_event(0, |e| matches!(e, AppEvent::CloseReturned { .. }))
        .unwrap();
    assert_eq!(t, ms(4_100));
    assert!(
        p.find_event(0, |e| *e == AppEvent::CloseReturned { blocked: secs(1) })
            .is_some()
    );
    // Nothing is sent at the expiry itself.
    assert_eq!(p.stats[0].counters.segments_out, before);
    assert_eq!(p.stats[0].counters.rst_sent, 0);
    p.run_until(ms(20_000));
    let (_, s) = p
        .find_event(1, |e| matches!(e, AppEvent::Accepted { .. }))
        .unwrap();
    let total: u64 = p.events[1]
        .iter()
        .filter_map(|(_, id, _, e)| match e {
            AppEvent::Readable { bytes } if *id == s => Some(*bytes),
            _ => None,
        })
        .sum();
    assert_eq!(total, 16384);
    assert!(p.find_event(1, |e| *e == AppEvent::EndOfStream).is_some());
    let rec = &p.records(0);
    assert!(rec.is_empty() || rec[0].bytes_discarded == 0);
}

/// tcp_max_orphans: the orphan over the limit is reset at close().
#[test]
fn too_many_orphans_are_reset() {
    let mut tb = Tb::established_client(TcpConfig {
        max_orphans: 0,
        ..cfg()
    });
    tb.close(Linger::Off);
    expect!(tb, [(F | A, 1, 1, 0), (R | A, 2, 1, 0)]);
    state!(tb, None);
    assert_eq!(tb.stats.counters.orphan_resets, 1);
    assert_eq!(
        tb.stats.trace().last().unwrap().cause,
        Cause::TooManyOrphans
    );
    // Within the limit nothing happens; the count drops when the orphan is gone.
    let mut tb = Tb::established_client(TcpConfig {
        max_orphans: 1,
        ..cfg()
    });
    tb.close(Linger::Off);
    state!(tb, FinWait1);
    assert_eq!(tb.stats.counters.orphan_resets, 0);
}
