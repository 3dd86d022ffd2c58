//! The passive close: CLOSE_WAIT, LAST_ACK; and CLOSING.
#[macro_use]
mod common;

use common::*;
use sim_tcp::*;

/// packetdrill close/close-remote-fin-then-close.
#[test]
fn remote_fin_then_close() {
    let mut tb = Tb::established_server(cfg());
    tb.feed(tb.pkt(F | A, 1, 1, 0));
    expect!(tb, [(A, 1, 2, 0)]);
    state!(tb, CloseWait);
    assert_eq!(tb.read(), 0);
    tb.close(Linger::Off);
    expect!(tb, [(F | A, 1, 2, 0)]);
    state!(tb, LastAck);
    tb.feed(tb.pkt(A, 2, 2, 0));
    state!(tb, None);
    let rec = tb.record().unwrap();
    assert_eq!(
        rec.path.to_string(),
        "SYN_RCVD>ESTABLISHED>CLOSE_WAIT>LAST_ACK>CLOSED"
    );
    assert!(!rec.sent_fin_first);
    // Any later segment → R.
    tb.feed(tb.pkt(A, 2, 2, 0));
    expect!(tb, [(R, 2, 0, 0)]);
}

#[test]
fn last_ack_retransmits_fin_then_gives_up() {
    let mut tb = Tb::established_server(cfg());
    tb.feed(tb.pkt(F | A, 1, 1, 0));
    tb.close(Linger::Off);
    tb.take();
    tb.advance_to(ms(1_000));
    // RTO from the handshake sample (0 RTT): 200 ms, doubling.
    let t: Vec<u64> = tb
        .take_timed()
        .iter()
        .map(|(t, _)| t.as_nanos() / 1_000_000)
        .collect();
    assert_eq!(t, [200, 600]);
    tb.feed(tb.pkt(A, 2, 2, 0));
    state!(tb, None);
}

#[test]
fn rst_in_close_wait_is_epipe() {
    let mut tb = Tb::established_client(cfg());
    tb.feed(tb.pkt(F | A, 1, 1, 0));
    tb.take_events();
    tb.feed(tb.pkt(R, 2, 0, 0));
    state!(tb, None);
    assert_eq!(tb.take_events()[0], AppEvent::Error(Errno::EPIPE));
}

#[test]
fn rst_in_last_ack_and_closing_closes() {
    let mut tb = Tb::established_server(cfg());
    tb.feed(tb.pkt(F | A, 1, 1, 0));
    tb.close(Linger::Off);
    tb.feed(tb.pkt(R, 2, 0, 0));
    state!(tb, None);
    assert_eq!(
        tb.record().unwrap().path.to_string(),
        "SYN_RCVD>ESTABLISHED>CLOSE_WAIT>LAST_ACK>CLOSED"
    );

    let mut tb = Tb::established_client(cfg());
    tb.close(Linger::Off);
    tb.feed(tb.pkt(F | A, 1, 1, 0));
    state!(tb, Closing);
    tb.feed(tb.pkt(R, 2, 0, 0));
    state!(tb, None);
}

#[test]
fn closing_retransmits_fin_until_acked() {
    let mut tb = Tb::established_client(cfg());
    tb.close(Linger::Off);
    tb.feed(tb.pkt(F | A, 1, 1, 0));
    tb.take();
    tb.advance_to(ms(250));
    expect!(tb, [(F | A, 1, 2, 0)]);
    tb.feed(tb.pkt(A, 2, 2, 0));
    state!(tb, TimeWait);
}
