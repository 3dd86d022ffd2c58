//! Every built-in scenario runs and shows its effect in the numbers theory gives.

mod common;

use analysis::schema::Outcome;
use common::{assert_near, run};

/// Seed experiment 1: the two paths of the article, in the trace and in
/// connections.csv.
#[test]
fn handshake_traces_the_two_paths() {
    let r = run("handshake", &[], true);
    assert_eq!(r.summary.attempted, 1);
    assert_eq!(r.summary.completed, 1);
    let c = &r.connections[0];
    assert_eq!(c.outcome, Outcome::Completed);
    assert_eq!(
        c.client_path,
        "SYN_SENT>ESTABLISHED>FIN_WAIT_1>FIN_WAIT_2>TIME_WAIT>CLOSED"
    );
    assert_eq!(
        c.server_path,
        "SYN_RCVD>ESTABLISHED>CLOSE_WAIT>LAST_ACK>CLOSED"
    );
    assert_eq!(c.active_closer, "client");
    // The client's transitions, in order, are its path.
    let client: Vec<&str> = r
        .transitions
        .iter()
        .filter(|t| t.host == "clients/0")
        .map(|t| t.to.as_str())
        .collect();
    assert_eq!(
        client,
        [
            "SYN_SENT",
            "ESTABLISHED",
            "FIN_WAIT_1",
            "FIN_WAIT_2",
            "TIME_WAIT",
            "CLOSED"
        ]
    );
    let server: Vec<&str> = r
        .transitions
        .iter()
        .filter(|t| t.host == "server/0")
        .map(|t| t.to.as_str())
        .collect();
    assert_eq!(
        server,
        [
            "LISTEN",
            "SYN_RCVD",
            "ESTABLISHED",
            "CLOSE_WAIT",
            "LAST_ACK",
            "CLOSED"
        ]
    );
    // TIME_WAIT lasts tcp.time_wait = 60 s.
    let tw = r.state("clients", "TIME_WAIT");
    assert_eq!(tw.entered, 1);
    assert_near(
        "TIME_WAIT residence",
        tw.mean_residence_s.unwrap(),
        60.0,
        0.001,
    );
    assert!(
        c.finished_s.unwrap() > 60.0 && c.finished_s.unwrap() < 61.0,
        "{c:?}"
    );
    // The run stops once the connection is gone.
    assert_near(
        "sim time",
        r.summary.sim_time_s,
        c.finished_s.unwrap(),
        1e-9,
    );
}

/// Seed experiment 7, client side: steady TIME_WAIT = rate × time_wait (Little's law).
#[test]
fn client_close_time_wait_follows_littles_law() {
    let r = run("client-close", &[], false);
    let rate = 50.0;
    // Steady state: from one TIME_WAIT length in until arrivals stop at 120 s.
    let tw = r.mean_over("clients", 70.0, 120.0, |t| t.time_wait);
    assert_near("clients' TIME_WAIT", tw, rate * 60.0, 0.08);
    assert_eq!(r.state("server", "TIME_WAIT").peak, 0);
    assert_near(
        "TIME_WAIT residence",
        r.state("clients", "TIME_WAIT").mean_residence_s.unwrap(),
        60.0,
        0.01,
    );
    assert_eq!(r.summary.completed, r.summary.attempted);
    assert!(r.connections.iter().all(|c| c.active_closer == "client"));
    // The modelled memory of the clients: TIME_WAIT mini-sockets plus their ports.
    let mem = r.mean_over("clients", 70.0, 120.0, |t| t.memory_bytes);
    assert!(mem >= tw * 256.0, "memory {mem} below {tw} × 256 B");
}

/// Seed experiment 7, server side: the same load puts TIME_WAIT on the server.
#[test]
fn server_close_moves_time_wait_to_the_server() {
    let r = run("server-close", &[], false);
    let tw = r.mean_over("server", 70.0, 120.0, |t| t.time_wait);
    assert_near("server's TIME_WAIT", tw, 50.0 * 60.0, 0.08);
    assert_eq!(r.state("clients", "TIME_WAIT").peak, 0);
    assert_eq!(r.summary.completed, r.summary.attempted);
    assert!(r.connections.iter().all(|c| c.active_closer == "server"));
}

/// Seed experiment 8: SO_LINGER 0 gives no TIME_WAIT and one RST per connection,
/// and the peer is reset.
#[test]
fn linger_abort_resets_instead_of_time_wait() {
    let r = run("linger-abort", &[], false);
    let n = r.summary.attempted;
    assert!(n > 300, "{n}");
    for g in ["clients", "server"] {
        assert_eq!(r.state(g, "TIME_WAIT").entered, 0, "{g}");
    }
    assert_eq!(r.summary.rst_sent, n, "one RST per connection");
    assert_eq!(r.summary.aborted, n);
    for c in &r.connections {
        assert_eq!(c.client_path, "SYN_SENT>ESTABLISHED>CLOSED", "{c:?}");
        assert_eq!(c.server_path, "SYN_RCVD>ESTABLISHED>CLOSED", "{c:?}");
        assert_eq!(
            c.bytes_discarded, 0,
            "the response was read before the abort"
        );
    }
}

/// What SO_LINGER 0 costs when the server aborts right after answering: the unsent
/// or unacknowledged response is discarded.
#[test]
fn linger_abort_by_the_server_discards_data() {
    let r = run(
        "linger-abort",
        &[
            "workload.closer=server",
            "workload.server_close=abort",
            "workload.response_bytes=100000",
            "run.duration=2s",
        ],
        false,
    );
    assert!(r.summary.bytes_discarded > 0, "{:?}", r.summary);
    assert_eq!(r.summary.completed, 0);
    assert_eq!(r.state("server", "TIME_WAIT").entered, 0);
}

/// Seed experiments 4 and 5: an orphaned FIN_WAIT_2 lasts tcp.fin_timeout; a
/// half-closed one the application holds lasts as long as the run.
#[test]
fn fin_wait_2_times_out_for_orphans_only() {
    let r = run("fin-wait-2", &[], false);
    let fw2 = r.state("server", "FIN_WAIT_2");
    assert_eq!(fw2.entered, r.summary.attempted);
    assert_near(
        "orphan FIN_WAIT_2 residence",
        fw2.mean_residence_s.unwrap(),
        60.0,
        0.02,
    );
    assert_eq!(r.summary.leaked, r.summary.attempted, "clients never close");
    assert_eq!(
        r.state("clients", "CLOSE_WAIT").entered,
        r.summary.attempted
    );

    // A fixed 10-minute drain: the held sockets stay until the run ends.
    let held = run(
        "fin-wait-2",
        &["workload.server_close=shutdown", "run.drain=10m"],
        false,
    );
    let fw2 = held.state("server", "FIN_WAIT_2");
    assert_eq!(fw2.entered, held.summary.attempted);
    assert_eq!(fw2.exited, 0, "no held socket leaves FIN_WAIT_2: {fw2:?}");
    assert_eq!(fw2.mean_residence_s, None, "no residence ended");
    // Time spent per socket up to the end (∫count dt / entries) far beyond 60 s.
    let held_s = fw2.mean * held.summary.sim_time_s / fw2.entered as f64;
    assert!(
        held_s > 4.0 * 60.0,
        "held FIN_WAIT_2 should outlast fin_timeout: {held_s} s, {fw2:?}"
    );
    let last = held.series("server").last().copied().unwrap();
    assert_eq!(
        last.fin_wait_2, held.summary.attempted,
        "still held at the end"
    );
}

/// Seed experiment 10: CLOSE_WAIT grows linearly at the connection rate.
#[test]
fn close_wait_leak_grows_linearly() {
    let r = run("close-wait-leak", &[], false);
    let pts: Vec<(f64, f64)> = r
        .series("server")
        .into_iter()
        .filter(|t| t.time_s >= 5.0 && t.time_s <= 60.0)
        .map(|t| (t.time_s, t.close_wait as f64))
        .collect();
    let n = pts.len() as f64;
    let (mx, my) = (
        pts.iter().map(|p| p.0).sum::<f64>() / n,
        pts.iter().map(|p| p.1).sum::<f64>() / n,
    );
    let slope = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum::<f64>()
        / pts.iter().map(|p| (p.0 - mx).powi(2)).sum::<f64>();
    assert_near("CLOSE_WAIT growth per second", slope, 20.0, 0.1);
    let last = r.series("server").last().copied().unwrap();
    assert_eq!(last.close_wait, r.summary.attempted, "never comes down");
    assert_eq!(r.summary.leaked, r.summary.attempted);
    // A leaked socket's path is the states it went through so far: no CLOSED.
    for c in &r.connections {
        assert_eq!(c.server_path, "SYN_RCVD>ESTABLISHED>CLOSE_WAIT", "{c:?}");
        assert_eq!(
            c.client_path, "SYN_SENT>ESTABLISHED>FIN_WAIT_1>FIN_WAIT_2>CLOSED",
            "{c:?}"
        );
    }
    // Beside it, the clients' orphans wait tcp.fin_timeout in FIN_WAIT_2.
    assert_near(
        "clients' FIN_WAIT_2 residence",
        r.state("clients", "FIN_WAIT_2").mean_residence_s.unwrap(),
        60.0,
        0.02,
    );
}

/// Seed experiment 9: both ends close at once: CLOSING on both sides.
#[test]
fn simultaneous_close_goes_through_closing_on_both_sides() {
    let r = run("simultaneous-close", &[], false);
    let n = r.summary.attempted;
    assert!(n > 20, "{n}");
    for c in &r.connections {
        assert!(
            c.client_path.contains("FIN_WAIT_1>CLOSING>TIME_WAIT"),
            "{c:?}"
        );
        assert!(
            c.server_path.contains("FIN_WAIT_1>CLOSING>TIME_WAIT"),
            "{c:?}"
        );
        assert_eq!(c.active_closer, "both");
        assert_eq!(c.outcome, Outcome::Completed);
    }
    for g in ["clients", "server"] {
        assert_eq!(r.state(g, "CLOSING").entered, n, "{g}");
        assert_eq!(r.state(g, "TIME_WAIT").entered, n, "{g}");
    }
}

/// Seed experiment 3: a SYN flood fills the SYN queue up to the backlog; SYN
/// cookies keep real clients served; without them they are not.
#[test]
fn syn_flood_is_bounded_by_the_backlog_and_cookies_serve_clients() {
    let r = run("syn-flood", &[], false);
    let syn_rcvd = r.state("server", "SYN_RCVD").peak;
    // Linux drops or cookies a SYN when the queue length *exceeds* the limit, so the
    // queue holds up to backlog + 1; a cookie's child passes through SYN_RCVD for an
    // instant on its way to ESTABLISHED (+1).
    assert!(
        syn_rcvd <= 128 + 2,
        "SYN_RCVD peak {syn_rcvd} above the backlog 128"
    );
    assert!(
        syn_rcvd >= 100,
        "the flood should fill the queue: {syn_rcvd}"
    );
    assert!(r.summary.syn_cookies_sent > 0);
    assert!(r.summary.attempted > 100);
    assert_eq!(
        r.summary.completed, r.summary.attempted,
        "cookies serve every client"
    );
    assert!(r.summary.connect_p99_s.unwrap() < 1.0, "{:?}", r.summary);

    let no = run("syn-flood", &["group.server.tcp.syncookies=0"], false);
    assert_eq!(no.summary.syn_cookies_sent, 0);
    assert!(no.summary.listen_drops > 0, "{:?}", no.summary);
    // The SYN queue stays full while the flood lasts, so real clients' SYNs are
    // dropped and they connect only after SYN retransmissions (1 s, 3 s, ...).
    assert!(
        no.summary.connect_p50_s.is_some_and(|p| p > 1.0),
        "without cookies clients must wait for SYN retries: {:?}",
        no.summary
    );
}

/// Seed experiment 7, ports: one client, one destination: completed ≈ ports /
/// time_wait; the rest fail with EADDRNOTAVAIL.
#[test]
fn port_exhaustion_caps_the_rate_at_ports_over_time_wait() {
    let r = run("port-exhaustion", &[], false);
    let s = &r.summary;
    // 1000 ports, each reusable every 60 s: 2 rounds in 120 s of arrivals.
    assert_near("completed", s.completed as f64, 1000.0 * 120.0 / 60.0, 0.05);
    assert!(s.port_exhausted > 0);
    assert_eq!(s.completed + s.port_exhausted, s.attempted, "{s:?}");
    assert_eq!(s.peak_ports_in_use, 1000);
    assert!(
        r.connections
            .iter()
            .filter(|c| c.outcome == Outcome::PortExhausted)
            .all(|c| c.client_port.is_none())
    );
}

/// Seed experiment 2: SYN_SENT piles up toward silent addresses; each attempt
/// gives up with ETIMEDOUT 127 s after connect() (6 retries, classic back-off).
#[test]
fn worm_scan_gives_up_after_127_seconds() {
    let r = run("worm-scan", &[], false);
    let timed_out: Vec<_> = r
        .connections
        .iter()
        .filter(|c| c.outcome == Outcome::ConnectTimeout)
        .collect();
    assert!(
        timed_out.len() as u64 + 1 >= r.summary.attempted,
        "{:?}",
        r.summary
    );
    for c in &timed_out {
        let waited = c.finished_s.unwrap() - c.opened_s;
        assert!(
            (waited - 127.0).abs() < 0.01,
            "gave up after {waited} s: {c:?}"
        );
        assert_eq!(c.retransmits, 6, "{c:?}");
        assert_eq!(c.client_path, "SYN_SENT>CLOSED");
    }
    // While scanning, SYN_SENT grows by the scan rate (10/s) and nothing leaves it
    // before 127 s.
    let at_30 = r
        .series("clients")
        .into_iter()
        .find(|t| t.time_s == 30.0)
        .unwrap()
        .syn_sent;
    assert_near("SYN_SENT after 30 s", at_30 as f64, 300.0, 0.2);
    assert_near(
        "SYN_SENT residence",
        r.state("clients", "SYN_SENT").mean_residence_s.unwrap(),
        127.0,
        0.01,
    );
}

/// Little's law, L = λW, between two sums the run keeps apart: `mean` integrates the
/// count of sockets over time, `mean_residence_s` adds up each socket's time in the
/// state when it leaves. Over a drained run every residence ends, so the two must
/// agree for every state of every group, under loss and retransmission too.
#[test]
fn littles_law_holds_between_the_integral_and_the_residences() {
    let r = run(
        "client-close",
        &["link.loss=0.05", "workload.closer=both"],
        false,
    );
    let mut checked = 0;
    for s in r
        .states
        .iter()
        .filter(|s| s.entered > 0 && s.exited == s.entered)
    {
        let w = s.mean_residence_s.expect("exited, so a residence");
        let l = s.exited as f64 / r.summary.sim_time_s * w;
        assert!(
            (s.mean - l).abs() <= 1e-9 * s.mean.max(1.0),
            "{} {}: mean {} vs λW {l}",
            s.group,
            s.state,
            s.mean
        );
        checked += 1;
    }
    assert!(checked >= 8, "only {checked} states checked");
    // Only the listener is still in its state at the end.
    let open: Vec<_> = r.states.iter().filter(|s| s.exited != s.entered).collect();
    assert!(open.iter().all(|s| s.state == "LISTEN"), "{open:?}");
}
