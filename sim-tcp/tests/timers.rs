//! Every timer at its exact virtual time: SYN and SYN-ACK retries, RTO back-off,
//! tcp_retries2 / tcp_orphan_retries, tcp_fin_timeout, TIME_WAIT.
#[macro_use]
mod common;

use common::*;
use sim_tcp::*;

fn syn_times(mut tb: Tb, until: u64) -> (Vec<f64>, f64) {
    tb.connect();
    tb.advance_to(ms(until * 1000));
    let times: Vec<f64> = tb
        .take_timed()
        .iter()
        .map(|(t, _)| t.as_secs_f64())
        .collect();
    let ev = tb
        .events
        .iter()
        .find(|(_, _, e)| *e == AppEvent::Error(Errno::ETIMEDOUT));
    assert!(ev.is_some(), "no ETIMEDOUT");
    let rec = tb.record().unwrap();
    assert_eq!(rec.path.to_string(), "SYN_SENT>CLOSED");
    (times, rec.closed_at.as_secs_f64())
}

#[test]
fn syn_gives_up_at_127s_with_6_retries() {
    let (times, end) = syn_times(Tb::new(cfg()), 200);
    assert_eq!(times, [0.0, 1.0, 3.0, 7.0, 15.0, 31.0, 63.0]);
    assert_eq!(end, 127.0);
}

#[test]
fn syn_gives_up_at_15s_with_3_retries() {
    let (times, end) = syn_times(
        Tb::new(TcpConfig {
            syn_retries: 3,
            ..cfg()
        }),
        30,
    );
    assert_eq!(times, [0.0, 1.0, 3.0, 7.0]);
    assert_eq!(end, 15.0);
}

#[test]
fn syn_linear_timeouts_option() {
    let (times, end) = syn_times(
        Tb::new(TcpConfig {
            syn_linear_timeouts: 4,
            ..cfg()
        }),
        200,
    );
    assert_eq!(
        times,
        [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 7.0, 11.0, 19.0, 35.0, 67.0]
    );
    assert_eq!(end, 131.0);
}

#[test]
fn synack_retries_then_request_dropped_at_63s() {
    let mut tb = Tb::new(cfg());
    tb.host.listen(tb.now, SERVER_PORT, &mut tb.stats).unwrap();
    tb.feed(tb.pkt(S, 0, 0, 0));
    tb.advance_to(ms(100_000));
    let times: Vec<f64> = tb
        .take_timed()
        .iter()
        .map(|(t, _)| t.as_secs_f64())
        .collect();
    assert_eq!(times, [0.0, 1.0, 3.0, 7.0, 15.0, 31.0]);
    state!(tb, None);
    let rec = tb.record().unwrap();
    assert_eq!(rec.closed_at, ms(63_000));
    assert_eq!(rec.path.to_string(), "SYN_RCVD>CLOSED");
    assert!(
        !tb.events
            .iter()
            .any(|(_, _, e)| matches!(e, AppEvent::Error(_)))
    );
    assert_eq!(tb.stats.memory.current, 2368, "listener only");
}

/// RFC 6298: back-off doubles from the measured RTO; Karn: no sample from a
/// retransmitted segment; tcp_retries2 = 15 gives up once 924.6 s have passed.
#[test]
fn data_retransmission_backoff_and_retries2() {
    let mut tb = Tb::new(cfg());
    tb.connect();
    tb.advance_to(ms(100));
    tb.feed(tb.pkt(S | A, 0, 1, 0)); // RTT 100 ms: RTO = 100 + max(200, 200) = 300 ms
    tb.take();
    tb.send(100);
    tb.advance_to(ms(2_000_000));
    let sent = tb.take_timed();
    let t: Vec<f64> = sent
        .iter()
        .map(|(t, _)| (t.as_secs_f64() * 10.0).round() / 10.0)
        .collect();
    assert_eq!(
        t,
        [
            0.1, 0.4, 1.0, 2.2, 4.6, 9.4, 19.0, 38.2, 76.6, 153.4, 273.4, 393.4, 513.4, 633.4,
            753.4, 873.4
        ]
    );
    let rec = tb.record().unwrap();
    assert_eq!(rec.error, Some(Errno::ETIMEDOUT));
    assert_eq!(rec.retransmits, 15);
    // Gave up at the first expiry at least 924.6 s after the first transmission.
    assert!(
        (rec.closed_at.as_secs_f64() - 993.4).abs() < 1e-6,
        "{}",
        rec.closed_at
    );
    assert!(
        sent.iter().all(|(_, s)| !s.flags.rst()),
        "no RST on time-out"
    );
}

/// An ACK resets the back-off: the next RTO is the measured one again.
#[test]
fn ack_resets_backoff() {
    let mut tb = Tb::established_client(cfg());
    tb.send(10);
    tb.advance_to(ms(210));
    assert_eq!(tb.take().len(), 2, "original + one retransmission");
    tb.feed(tb.pkt(A, 1, 11, 0));
    tb.send(10);
    tb.take();
    let t0 = tb.now;
    tb.advance_to(ms(10_000));
    let first = tb.take_timed()[0].0;
    // The sample from the retransmitted segment is not used (Karn): RTO stays ~200 ms.
    assert_eq!((first - t0).as_nanos() / 1_000_000, 200);
}

#[test]
fn orphan_retries_zero_means_8() {
    let mut tb = Tb::established_client(cfg());
    tb.close(Linger::Off);
    tb.advance_to(ms(400_000));
    let rec = tb.record().unwrap();
    // model_timeout(8, 200 ms) = 102.2 s from the FIN's first transmission.
    let end = rec.closed_at.as_secs_f64();
    assert!((102.2..130.0).contains(&end), "{end}");
    assert_eq!(
        rec.path.to_string(),
        "SYN_SENT>ESTABLISHED>FIN_WAIT_1>CLOSED"
    );
    assert_eq!(rec.retransmits, 8);
}

fn orphan_in_fin_wait2(fin_timeout: u64) -> Tb {
    let mut tb = Tb::established_client(TcpConfig {
        fin_timeout: secs(fin_timeout),
        ..cfg()
    });
    tb.close(Linger::Off);
    expect!(tb, [(F | A, 1, 1, 0)]);
    tb.feed(tb.pkt(A, 1, 2, 0));
    state!(tb, FinWait2);
    tb
}

#[test]
fn fin_timeout_60_is_a_mini_socket_for_60s_no_rst() {
    let mut tb = orphan_in_fin_wait2(60);
    assert_eq!(tb.host.mini_sockets(), 1);
    assert_eq!(
        tb.stats.memory.current,
        256 + 88,
        "mini-socket + bind bucket"
    );
    tb.advance_to(ms(59_999));
    state!(tb, FinWait2);
    tb.advance_to(ms(60_000));
    state!(tb, None);
    expect!(tb, []);
    let rec = tb.record().unwrap();
    assert_eq!(
        rec.path.to_string(),
        "SYN_SENT>ESTABLISHED>FIN_WAIT_1>FIN_WAIT_2>CLOSED"
    );
    assert_eq!(tb.stats.counters.fin_wait2_timeouts, 1);
    assert_eq!(tb.stats.memory.current, 0);
}

#[test]
fn fin_timeout_30() {
    let mut tb = orphan_in_fin_wait2(30);
    tb.advance_to(ms(29_999));
    state!(tb, FinWait2);
    tb.advance_to(ms(30_000));
    state!(tb, None);
}

/// F > 60 s: full socket for F−60, then a mini-socket for F−60: 2F−120 in all.
#[test]
fn fin_timeout_90_takes_2f_minus_120() {
    let mut tb = orphan_in_fin_wait2(90);
    assert_eq!(tb.host.mini_sockets(), 0);
    tb.advance_to(ms(30_000));
    assert_eq!(tb.host.mini_sockets(), 1, "mini after F-60 = 30 s");
    assert_eq!(tb.host.full_sockets(), 0);
    tb.advance_to(ms(59_999));
    state!(tb, FinWait2);
    tb.advance_to(ms(60_000));
    state!(tb, None);
    expect!(tb, []);
}

/// A half-closed socket its application still holds waits in FIN_WAIT_2 forever.
#[test]
fn shutdown_socket_waits_in_fin_wait2_forever() {
    let mut tb = Tb::established_client(cfg());
    tb.shutdown();
    tb.feed(tb.pkt(A, 1, 2, 0));
    state!(tb, FinWait2);
    tb.advance_to(ms(10 * 3600 * 1000));
    state!(tb, FinWait2);
    assert_eq!(tb.host.poll_timeout(), None);
    // Once closed, it is an orphan and fin_timeout starts.
    tb.close(Linger::Off);
    let t = tb.now;
    tb.advance_to(t + secs(60));
    state!(tb, None);
}

#[test]
fn time_wait_lasts_exactly_time_wait() {
    for (tw, want) in [(None, 60_000), (Some(5), 5_000)] {
        let mut tb = orphan_in_fin_wait2(60);
        if let Some(s) = tw {
            tb = Tb::established_client(TcpConfig {
                time_wait: Some(secs(s)),
                ..cfg()
            });
            tb.close(Linger::Off);
            tb.feed(tb.pkt(A, 1, 2, 0));
            tb.take();
        }
        tb.feed(tb.pkt(F | A, 1, 2, 0));
        expect!(tb, [(A, 2, 2, 0)]);
        state!(tb, TimeWait);
        tb.advance_to(ms(want - 1));
        state!(tb, TimeWait);
        tb.advance_to(ms(want));
        state!(tb, None);
        assert_eq!(
            tb.stats.state(State::TimeWait).residence,
            u128::from(want) * 1_000_000
        );
    }
}
