//! ESTABLISHED: data, windows, RST validation (RFC 5961), SYN challenge, FIN.
#[macro_use]
mod common;

use common::*;
use sim_tcp::*;

#[test]
fn data_is_segmented_by_mss_and_window() {
    let mut tb = Tb::established_client(cfg());
    tb.send(5000);
    expect!(
        tb,
        [
            (A | P, 1, 1, 1460),
            (A | P, 1461, 1, 1460),
            (A | P, 2921, 1, 1460),
            (A | P, 4381, 1, 620)
        ]
    );
    // Fixed initial window of 10 segments: the 11th waits for an ACK.
    let mut tb = Tb::established_client(cfg());
    tb.send(11 * 1460);
    assert_eq!(tb.take().len(), 10);
    tb.feed(tb.pkt(A, 1, 1461, 0));
    expect!(tb, [(A | P, 14601, 1, 1460)]);
}

#[test]
fn peer_window_limits_flight() {
    let mut tb = Tb::new(cfg());
    tb.connect();
    let mut synack = tb.pkt(S | A, 0, 1, 0);
    synack.window = 1000;
    tb.feed(synack);
    tb.take();
    tb.send(3000);
    expect!(tb, [(A | P, 1, 1, 1000)]);
}

#[test]
fn incoming_data_is_acked_and_readable() {
    let mut tb = Tb::established_client(cfg());
    tb.feed(tb.pkt(A | P, 1, 1, 1000));
    expect!(tb, [(A, 1, 1001, 0)]);
    assert_eq!(tb.take_events(), vec![AppEvent::Readable { bytes: 1000 }]);
    assert_eq!(tb.read(), 1000);
    // Out of order (no reassembly queue): duplicate ACK, nothing readable.
    tb.feed(tb.pkt(A | P, 2001, 1, 1000));
    expect!(tb, [(A, 1, 1001, 0)]);
    // Partly old: only the new part counts.
    tb.feed(tb.pkt(A | P, 501, 1, 1000));
    expect!(tb, [(A, 1, 1501, 0)]);
    assert_eq!(tb.read(), 500);
}

#[test]
fn rst_exactly_at_rcv_nxt_resets() {
    let mut tb = Tb::established_client(cfg());
    tb.feed(tb.pkt(R, 1, 0, 0));
    expect!(tb, []);
    state!(tb, None);
    let ev = tb.take_events();
    assert_eq!(ev[0], AppEvent::Error(Errno::ECONNRESET));
    assert!(
        matches!(&ev[1], AppEvent::Finished(r) if r.path.to_string() == "SYN_SENT>ESTABLISHED>CLOSED")
    );
}

/// RFC 5961 §3.2: in window but not exact → challenge ACK, at most one per 500 ms.
#[test]
fn rst_in_window_gets_rate_limited_challenge_ack() {
    let mut tb = Tb::established_client(cfg());
    tb.feed(tb.pkt(R, 100, 0, 0));
    expect!(tb, [(A, 1, 1, 0)]);
    state!(tb, Established);
    tb.feed(tb.pkt(R, 200, 0, 0));
    expect!(tb, []);
    assert_eq!(tb.stats.counters.challenge_acks, 1);
    assert_eq!(tb.stats.counters.acks_rate_limited, 1);
    tb.advance_to(ms(500));
    tb.feed(tb.pkt(R, 300, 0, 0));
    expect!(tb, [(A, 1, 1, 0)]);
}

#[test]
fn rst_out_of_window_is_dropped() {
    let mut tb = Tb::established_client(cfg());
    tb.feed(tb.pkt(R, 1_000_000, 0, 0));
    expect!(tb, []);
    state!(tb, Established);
}

/// RFC 5961 §4: a SYN in a synchronized state → challenge ACK.
#[test]
fn syn_in_established_gets_challenge_ack() {
    let mut tb = Tb::established_client(cfg());
    tb.feed(tb.pkt(S, 1000, 0, 0));
    expect!(tb, [(A, 1, 1, 0)]);
    state!(tb, Established);
    assert_eq!(tb.stats.counters.challenge_acks, 1);
}

#[test]
fn ack_of_unsent_data_is_answered_with_ack() {
    let mut tb = Tb::established_client(cfg());
    tb.feed(tb.pkt(A, 1, 500, 0));
    expect!(tb, [(A, 1, 1, 0)]);
    state!(tb, Established);
}

#[test]
fn out_of_window_data_gets_dup_ack() {
    let mut tb = Tb::established_client(cfg());
    tb.feed(tb.pkt(A | P, 900_000, 1, 100));
    expect!(tb, [(A, 1, 1, 0)]);
}

#[test]
fn fin_moves_to_close_wait() {
    let mut tb = Tb::established_client(cfg());
    tb.feed(tb.pkt(F | A, 1, 1, 0));
    expect!(tb, [(A, 1, 2, 0)]);
    state!(tb, CloseWait);
    assert_eq!(tb.take_events(), vec![AppEvent::EndOfStream]);
    // Sending still works in CLOSE_WAIT.
    tb.send(10);
    expect!(tb, [(A | P, 1, 2, 10)]);
}

#[test]
fn data_and_fin_in_one_segment() {
    let mut tb = Tb::established_client(cfg());
    tb.feed(tb.pkt(F | A | P, 1, 1, 100));
    expect!(tb, [(A, 1, 102, 0)]);
    state!(tb, CloseWait);
    assert_eq!(
        tb.take_events(),
        vec![AppEvent::Readable { bytes: 100 }, AppEvent::EndOfStream]
    );
}

#[test]
fn close_sends_fin() {
    let mut tb = Tb::established_client(cfg());
    tb.close(Linger::Off);
    expect!(tb, [(F | A, 1, 1, 0)]);
    state!(tb, FinWait1);
    // The FIN rides on the last data segment when data is pending.
    let mut tb = Tb::established_client(cfg());
    tb.send(100);
    tb.take();
    tb.shutdown();
    expect!(tb, [(F | A, 101, 1, 0)]);
    let mut tb = Tb::established_client(TcpConfig {
        initial_window: 1,
        ..cfg()
    });
    tb.send(2000);
    tb.take();
    tb.close(Linger::Off);
    expect!(tb, []);
    tb.feed(tb.pkt(A, 1, 1461, 0));
    expect!(tb, [(F | A | P, 1461, 1, 540)]);
}

/// PAWS (RFC 7323 §5): an older TSval is dropped and answered with an ACK.
#[test]
fn paws_rejects_old_timestamps() {
    let mut tb = Tb::new(TcpConfig {
        timestamps: true,
        ..cfg()
    });
    tb.connect();
    assert!(tb.take()[0].ts.is_some(), "SYN offers timestamps");
    let mut synack = tb.pkt(S | A, 0, 1, 0);
    synack.ts = Some((1000, 0));
    tb.feed(synack);
    tb.take();
    tb.take_events();
    let mut old = tb.pkt(A | P, 1, 1, 100);
    old.ts = Some((999, 0));
    tb.feed(old);
    expect!(tb, [(A, 1, 1, 0)]);
    assert_eq!(tb.stats.counters.paws_rejected, 1);
    assert!(tb.take_events().is_empty());
}
