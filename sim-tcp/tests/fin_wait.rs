//! FIN_WAIT_1 and FIN_WAIT_2: the active close (packetdrill close/ and shutdown/).
#[macro_use]
mod common;

use common::*;
use sim_tcp::*;

/// packetdrill close/close-local-close-then-remote-fin.
#[test]
fn local_close_then_remote_fin() {
    let mut tb = Tb::established_client(cfg());
    tb.send(1000);
    expect!(tb, [(A | P, 1, 1, 1000)]);
    tb.feed(tb.pkt(A, 1, 1001, 0));
    tb.close(Linger::Off);
    expect!(tb, [(F | A, 1001, 1, 0)]);
    state!(tb, FinWait1);
    tb.feed(tb.pkt(A, 1, 1002, 0));
    state!(tb, FinWait2);
    tb.feed(tb.pkt(F | A, 1, 1002, 0));
    expect!(tb, [(A, 1002, 2, 0)]);
    state!(tb, TimeWait);
    assert_eq!(
        tb.transitions(),
        [
            "CLOSED>SYN_SENT",
            "SYN_SENT>ESTABLISHED",
            "ESTABLISHED>FIN_WAIT_1",
            "FIN_WAIT_1>FIN_WAIT_2",
            "FIN_WAIT_2>TIME_WAIT"
        ]
    );
    let causes: Vec<String> = tb
        .stats
        .trace()
        .iter()
        .map(|t| t.cause.to_string())
        .collect();
    assert_eq!(causes[2..], ["app_close", "recv_ack", "recv_fin"]);
}

/// Simultaneous close (measured): FIN_WAIT_1 + FIN → ACK, CLOSING; + ACK → TIME_WAIT.
#[test]
fn simultaneous_close_through_closing() {
    let mut tb = Tb::established_client(cfg());
    tb.close(Linger::Off);
    tb.take();
    tb.feed(tb.pkt(F | A, 1, 1, 0));
    expect!(tb, [(A, 2, 2, 0)]);
    state!(tb, Closing);
    tb.feed(tb.pkt(A, 2, 2, 0));
    expect!(tb, []);
    state!(tb, TimeWait);
    tb.advance_to(ms(60_000));
    assert_eq!(
        tb.record().unwrap().path.to_string(),
        "SYN_SENT>ESTABLISHED>FIN_WAIT_1>CLOSING>TIME_WAIT>CLOSED"
    );
}

/// FIN_WAIT_1 + a FIN that also ACKs our FIN → TIME_WAIT directly.
#[test]
fn fin_ack_in_fin_wait1_goes_straight_to_time_wait() {
    let mut tb = Tb::established_client(cfg());
    tb.close(Linger::Off);
    tb.take();
    tb.feed(tb.pkt(F | A, 1, 2, 0));
    expect!(tb, [(A, 2, 2, 0)]);
    state!(tb, TimeWait);
    let last = tb.stats.trace().last().unwrap();
    assert_eq!(
        (last.from, last.to, last.cause),
        (State::FinWait1, State::TimeWait, Cause::RecvFinAck)
    );
}

/// Linux selftest tcp_disorder_fin_in_FIN_WAIT: after our FIN is ACKed, a
/// reordered (old) copy of the peer's FIN must still be ACKed.
#[test]
fn reordered_old_fin_is_acked() {
    let mut tb = Tb::established_client(cfg());
    tb.close(Linger::Off);
    tb.take();
    tb.feed(tb.pkt(F | A, 1, 1, 0)); // their FIN, before the ACK of ours: CLOSING
    tb.take();
    tb.feed(tb.pkt(A, 2, 2, 0)); // our FIN ACKed: TIME_WAIT
    state!(tb, TimeWait);
    tb.feed(tb.pkt(F | A, 1, 1, 0)); // the old FIN, reordered
    expect!(tb, [(A, 2, 2, 0)]);
    state!(tb, TimeWait);
}

/// packetdrill shutdown/shutdown-wr-close.
#[test]
fn shutdown_wr_then_close() {
    let mut tb = Tb::established_client(cfg());
    tb.shutdown();
    expect!(tb, [(F | A, 1, 1, 0)]);
    state!(tb, FinWait1);
    let id = tb.sock.unwrap();
    assert_eq!(
        tb.host.send(tb.now, id, 10, &mut tb.stats),
        Err(Errno::EPIPE)
    );
    tb.feed(tb.pkt(A, 1, 2, 0));
    state!(tb, FinWait2);
    // Incoming data is still ACKed and readable.
    tb.feed(tb.pkt(A | P, 1, 2, 500));
    expect!(tb, [(A, 2, 501, 0)]);
    assert_eq!(tb.read(), 500);
    tb.close(Linger::Off);
    tb.feed(tb.pkt(F | A, 501, 2, 0));
    expect!(tb, [(A, 2, 502, 0)]);
    state!(tb, TimeWait);
}

/// Data arriving at an orphaned FIN_WAIT_2 (mini-socket) → RST.
#[test]
fn data_to_orphaned_fin_wait2_gets_rst() {
    let mut tb = Tb::established_client(cfg());
    tb.close(Linger::Off);
    tb.take();
    tb.feed(tb.pkt(A, 1, 2, 0));
    assert_eq!(tb.host.mini_sockets(), 1);
    tb.feed(tb.pkt(A | P, 1, 2, 100));
    expect!(tb, [(R, 2, 0, 0)]);
    state!(tb, None);
    let rec = tb.record().unwrap();
    assert_eq!(
        rec.path.to_string(),
        "SYN_SENT>ESTABLISHED>FIN_WAIT_1>FIN_WAIT_2>CLOSED"
    );
    assert_eq!(rec.rsts_sent, 1);
}

/// The same for a full-socket orphan (fin_timeout > 60 s keeps it full) and for
/// FIN_WAIT_1 after close(): Linux `tcp_rcv_state_process()` resets.
#[test]
fn data_after_close_in_full_socket_gets_rst() {
    let mut tb = Tb::established_client(TcpConfig {
        fin_timeout: secs(120),
        ..cfg()
    });
    tb.close(Linger::Off);
    tb.take();
    tb.feed(tb.pkt(A | P, 1, 1, 100));
    expect!(tb, [(R, 1, 0, 0)]);
    state!(tb, None);
    assert!(tb.record().unwrap().aborted);
}

/// In FIN_WAIT_2 (mini) a retransmitted duplicate ACK is ignored; the FIN moves on.
#[test]
fn fin_wait2_mini_handles_dup_ack_then_fin() {
    let mut tb = Tb::established_client(cfg());
    tb.close(Linger::Off);
    tb.take();
    tb.feed(tb.pkt(A, 1, 2, 0));
    tb.feed(tb.pkt(A, 1, 2, 0));
    expect!(tb, []);
    tb.feed(tb.pkt(F | A, 1, 2, 0));
    expect!(tb, [(A, 2, 2, 0)]);
    state!(tb, TimeWait);
    // RST in an orphaned FIN_WAIT_2 kills it.
    let mut tb = Tb::established_client(cfg());
    tb.close(Linger::Off);
    tb.feed(tb.pkt(A, 1, 2, 0));
    tb.feed(tb.pkt(R, 1, 0, 0));
    state!(tb, None);
}

#[test]
fn valid_rst_in_fin_wait1_closes() {
    let mut tb = Tb::established_client(cfg());
    tb.shutdown();
    tb.take();
    tb.feed(tb.pkt(R, 1, 0, 0));
    state!(tb, None);
    assert_eq!(tb.take_events()[0], AppEvent::Error(Errno::ECONNRESET));
}
