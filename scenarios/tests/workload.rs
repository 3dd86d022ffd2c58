//! Workload mechanics beyond the built-in scenarios: closed loop, vanishing clients,
//! SO_LINGER with a time-out, workload.count.

mod common;

use analysis::schema::Outcome;
use common::run;

/// A closed loop of one connection opens the next only when the client has closed
/// the last one.
#[test]
fn closed_loop_runs_one_connection_after_another() {
    let r = run("handshake", &["workload.count=5"], true);
    assert_eq!(r.summary.attempted, 5);
    assert_eq!(r.summary.completed, 5);
    let mut conns = r.connections.clone();
    conns.sort_by_key(|c| c.id);
    for pair in conns.windows(2) {
        // The next connect() is the previous client's close() (app_close).
        let close = r
            .transitions
            .iter()
            .find(|t| t.conn == pair[0].id && t.cause == "app_close" && t.host == "clients/0")
            .unwrap();
        assert_eq!(pair[1].opened_s, close.time_s, "{pair:?}");
    }
    assert_eq!(r.state("clients", "ESTABLISHED").peak, 1);
}

/// A vanished client sends no FIN and no RST: the server keeps its connection,
/// retransmitting its response into the void, until the run ends.
#[test]
fn vanished_clients_leave_the_server_retransmitting() {
    let r = run(
        "client-close",
        &[
            "workload.client_vanish=1.0",
            "run.duration=2s",
            "run.drain=60s",
        ],
        false,
    );
    let n = r.summary.attempted;
    assert!(n > 50, "{n}");
    assert_eq!(r.summary.aborted, n);
    assert_eq!(r.summary.rst_sent, n, "the vanishing clients' RSTs ...");
    assert_eq!(
        r.state("server", "CLOSE_WAIT").entered,
        0,
        "... never arrive"
    );
    let last = r.series("server").last().copied().unwrap();
    assert_eq!(
        last.established, n,
        "the server still holds every connection"
    );
    assert!(r.summary.retransmits >= n, "{:?}", r.summary);
    for c in &r.connections {
        assert_eq!(c.client_path, "SYN_SENT>ESTABLISHED>CLOSED");
        assert_eq!(c.outcome, Outcome::Aborted);
        assert!(
            c.finished_s.is_none(),
            "the server side is still open: {c:?}"
        );
    }
}

/// SO_LINGER {1, N}: close() returns once the FIN is acknowledged (one round trip
/// of 4 ms on the default links), and the close is otherwise normal.
#[test]
fn linger_with_a_timeout_blocks_close_for_a_round_trip() {
    let r = run(
        "client-close",
        &["workload.client_close=linger:5s", "run.duration=2s"],
        false,
    );
    assert_eq!(r.summary.completed, r.summary.attempted);
    for c in &r.connections {
        let blocked = c.close_blocked_s.unwrap();
        assert!((blocked - 0.004).abs() < 1e-9, "{c:?}");
    }
    assert_eq!(r.state("clients", "TIME_WAIT").entered, r.summary.attempted);
}

/// workload.count caps the attempts of an open-loop group.
#[test]
fn count_caps_open_loop_attempts() {
    let r = run("client-close", &["workload.count=7"], false);
    assert_eq!(r.summary.attempted, 7);
    assert_eq!(r.connections.len(), 7);
}
