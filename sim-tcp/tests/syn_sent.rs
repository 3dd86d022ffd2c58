//! SYN_SENT (RFC 9293 §3.10.7.3) and the active open.
#[macro_use]
mod common;

use common::*;
use sim_tcp::*;

#[test]
fn connect_sends_syn_with_mss() {
    let mut tb = Tb::new(cfg());
    tb.connect();
    let out = tb.take();
    assert_eq!(out.len(), 1);
    check(&out[0], S, 0, 0, 0);
    assert_eq!(out[0].mss, Some(1460));
    state!(tb, SynSent);
    assert_eq!(tb.stats.count(State::SynSent), 1);
}

#[test]
fn synack_completes_the_handshake() {
    let mut tb = Tb::new(cfg());
    tb.connect();
    tb.take();
    tb.feed(tb.pkt(S | A, 0, 1, 0));
    expect!(tb, [(A, 1, 1, 0)]);
    state!(tb, Established);
    assert_eq!(tb.take_events(), vec![AppEvent::Connected]);
}

#[test]
fn unacceptable_ack_gets_rst_and_stays() {
    let mut tb = Tb::new(cfg());
    tb.connect();
    tb.take();
    tb.feed(tb.pkt(S | A, 0, 5, 0));
    expect!(tb, [(R, 5, 0, 0)]);
    state!(tb, SynSent);
    // An unacceptable RST,ACK is dropped silently.
    tb.feed(tb.pkt(R | A, 0, 9, 0));
    expect!(tb, []);
    state!(tb, SynSent);
}

#[test]
fn rst_with_acceptable_ack_is_connection_refused() {
    let mut tb = Tb::new(cfg());
    tb.connect();
    tb.take();
    tb.feed(tb.pkt(R | A, 0, 1, 0));
    expect!(tb, []);
    state!(tb, None);
    let ev = tb.take_events();
    assert_eq!(ev[0], AppEvent::Error(Errno::ECONNREFUSED));
    match &ev[1] {
        AppEvent::Finished(r) => {
            assert_eq!(r.path.to_string(), "SYN_SENT>CLOSED");
            assert_eq!(r.error, Some(Errno::ECONNREFUSED));
        }
        e => panic!("{e:?}"),
    }
}

#[test]
fn rst_without_ack_is_dropped() {
    let mut tb = Tb::new(cfg());
    tb.connect();
    tb.take();
    tb.feed(tb.pkt(R, 0, 0, 0));
    expect!(tb, []);
    state!(tb, SynSent);
}

#[test]
fn simultaneous_open_goes_through_syn_rcvd() {
    let mut tb = Tb::new(cfg());
    tb.connect();
    tb.take();
    tb.feed(tb.pkt(S, 0, 0, 0));
    // SYN,ACK with the same ISS.
    expect!(tb, [(S | A, 0, 1, 0)]);
    state!(tb, SynRcvd);
    tb.feed(tb.pkt(S | A, 0, 1, 0));
    // Their SYN,ACK: its SYN is a duplicate (challenge ACK), the ACK is what counts.
    tb.take();
    tb.feed(tb.pkt(A, 1, 1, 0));
    state!(tb, Established);
    assert!(tb.take_events().contains(&AppEvent::Connected));
    assert_eq!(
        tb.transitions(),
        [
            "CLOSED>SYN_SENT",
            "SYN_SENT>SYN_RCVD",
            "SYN_RCVD>ESTABLISHED"
        ]
    );
}

/// packetdrill close/close-on-syn-sent: close() sends nothing; a later SYN-ACK gets R.
#[test]
fn close_in_syn_sent_sends_nothing_then_rst() {
    let mut tb = Tb::new(cfg());
    tb.connect();
    tb.take();
    tb.close(Linger::Off);
    expect!(tb, []);
    state!(tb, None);
    assert_eq!(tb.record().unwrap().path.to_string(), "SYN_SENT>CLOSED");
    tb.feed(tb.pkt(S | A, 0, 1, 0));
    expect!(tb, [(R, 1, 0, 0)]);
    assert_eq!(tb.stats.counters.no_socket, 1);
    assert_eq!(tb.stats.ports.current, 0);
}

#[test]
fn data_written_before_established_goes_out_after() {
    let mut tb = Tb::new(cfg());
    tb.connect();
    tb.take();
    tb.send(100);
    expect!(tb, []);
    tb.feed(tb.pkt(S | A, 0, 1, 0));
    expect!(tb, [(A | P, 1, 1, 100)]);
}
