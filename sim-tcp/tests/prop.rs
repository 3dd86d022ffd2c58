//! Property tests: random segment and call sequences never panic, only make
//! transitions RFC 9293 allows (the same table the code asserts in `set_state`),
//! keep the accounting consistent, and leak nothing once every socket is closed.
#[macro_use]
mod common;

use common::*;
use proptest::prelude::*;
use sim_tcp::*;

#[derive(Clone, Debug)]
enum Op {
    Seg {
        flags: u8,
        seq: u32,
        ack: u32,
        len: u32,
    },
    Advance(u64),
    Connect,
    Listen,
    Send(u64),
    Read,
    Shutdown,
    Close(u8),
}

fn num() -> impl Strategy<Value = u32> {
    prop_oneof![
        Just(0u32),
        Just(1),
        Just(2),
        Just(3),
        Just(1001),
        Just(1002),
        Just(65539),
        any::<u32>()
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..32, num(), num(), prop_oneof![Just(0u32), Just(1), Just(100), Just(1460)])
            .prop_map(|(flags, seq, ack, len)| Op::Seg { flags, seq, ack, len }),
        3 => prop_oneof![Just(1u64), Just(300), Just(1_000), Just(30_000), Just(200_000)].prop_map(Op::Advance),
        1 => Just(Op::Connect),
        1 => Just(Op::Listen),
        1 => (1u64..5000).prop_map(Op::Send),
        1 => Just(Op::Read),
        1 => Just(Op::Shutdown),
        1 => (0u8..3).prop_map(Op::Close),
    ]
}

fn linger(k: u8) -> Linger {
    match k {
        0 => Linger::Off,
        1 => Linger::Abort,
        _ => Linger::Timeout(secs(2)),
    }
}

fn check_trace(stats: &Stats) {
    for t in stats.trace() {
        assert!(
            transition_allowed(t.from, t.to),
            "{} -> {} ({})",
            t.from,
            t.to,
            t.cause
        );
    }
    for s in State::ALL {
        let st = stats.state(s);
        if s != State::Closed {
            assert_eq!(st.entered - st.exited, st.current, "{s}");
            assert!(st.peak >= st.current);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_scripts_follow_the_rfc(ops in prop::collection::vec(op(), 1..60), ts in any::<bool>(), fin in 0u64..3) {
        let c = TcpConfig { timestamps: ts, fin_timeout: secs([30, 60, 90][fin as usize]), ..cfg() };
        let mut tb = Tb::new(c);
        for op in ops {
            match op {
                Op::Seg { flags, seq, ack, len } => {
                    let mut s = tb.pkt(Flags(flags), seq, ack, len);
                    if ts { s.ts = Some((tb.now.as_nanos() as u32 / 1_000_000, 0)); }
                    tb.feed(s);
                }
                Op::Advance(d) => { let t = tb.now + SimDuration::from_millis(d); tb.advance_to(t); }
                Op::Connect => {
                    if tb.state().is_none() {
                        let dst = tb.peer;
                        if let Ok(id) = tb.host.connect(tb.now, dst, ConnId(1), &mut tb.stats) {
                            tb.sock = Some(id);
                            tb.local = tb.host.poll_transmit().unwrap().src;
                        }
                    }
                }
                Op::Listen => {
                    let now = tb.now;
                    let _ = tb.host.listen(now, SERVER_PORT, &mut tb.stats);
                }
                Op::Send(n) => if let Some(id) = tb.sock { let _ = tb.host.send(tb.now, id, n, &mut tb.stats); },
                Op::Read => if let Some(id) = tb.sock { tb.host.read(tb.now, id, &mut tb.stats); },
                Op::Shutdown => if let Some(id) = tb.sock { let _ = tb.host.shutdown_write(tb.now, id, &mut tb.stats); },
                Op::Close(k) => if let Some(id) = tb.sock { tb.host.close(tb.now, id, linger(k), &mut tb.stats); },
            }
            // Accepted children become the socket under test.
            while let Some(e) = tb.host.poll_event() {
                if matches!(e.2, AppEvent::Accepted { .. }) { tb.sock = Some(e.0); }
            }
            while tb.host.poll_transmit().is_some() {}
        }
        check_trace(&tb.stats);
    }

    /// Two hosts, random losses and application calls; then every socket is closed
    /// and after an hour nothing is left but the listener.
    #[test]
    fn pair_lifecycles_leak_nothing(
        drops in prop::collection::vec(prop::bool::weighted(0.15), 0..400),
        calls in prop::collection::vec((0usize..2, 0u8..6, 1u64..20_000), 0..40),
        delay_ms in 1u64..200,
    ) {
        let mut p = Pair::new(cfg(), cfg(), SimDuration::from_millis(delay_ms));
        p.drops = drops.into();
        p.call(1, |h, now, st| h.listen(now, 80, st)).unwrap();
        let server = SockAddr::new(p.addr(1), 80);
        let mut socks: [Vec<SocketId>; 2] = [Vec::new(), Vec::new()];
        for (i, (who, what, n)) in calls.into_iter().enumerate() {
            for (_, id, _, e) in p.events[1].iter() {
                if matches!(e, AppEvent::Accepted { .. }) && !socks[1].contains(id) { socks[1].push(*id); }
            }
            match what {
                0 => {
                    let id = p.call(0, |h, now, st| h.connect(now, server, ConnId(i as u64 + 1), st));
                    if let Ok(id) = id { socks[0].push(id); }
                }
                k => if let Some(&id) = socks[who].last() {
                    p.call(who, |h, now, st| match k {
                        1 => { let _ = h.send(now, id, n, st); }
                        2 => { h.read(now, id, st); }
                        3 => { let _ = h.shutdown_write(now, id, st); }
                        4 => h.close(now, id, Linger::Off, st),
                        _ => h.close(now, id, if n % 2 == 0 { Linger::Abort } else { Linger::Timeout(secs(1)) }, st),
                    });
                }
            }
            let t = p.now + SimDuration::from_millis(n / 10);
            p.run_until(t);
        }
        // Everyone reads and closes everything.
        for (_, id, _, e) in p.events[1].iter() {
            if matches!(e, AppEvent::Accepted { .. }) && !socks[1].contains(id) { socks[1].push(*id); }
        }
        for (who, list) in socks.iter().enumerate() {
            for &id in list {
                p.call(who, |h, now, st| { h.read(now, id, st); h.close(now, id, Linger::Off, st) });
            }
        }
        let end = p.now + SimDuration::from_secs(3600);
        p.run_until(end);
        // Late arrivals (accepted after we closed everything) are closed too.
        for (_, id, _, e) in p.events[1].clone() {
            if matches!(e, AppEvent::Accepted { .. }) {
                p.call(1, |h, now, st| { h.read(now, id, st); h.close(now, id, Linger::Off, st) });
            }
        }
        let end = p.now + SimDuration::from_secs(3600);
        p.run_until(end);
        for i in 0..2 {
            check_trace(&p.stats[i]);
            for s in State::ALL {
                let want = u64::from(i == 1 && s == State::Listen);
                prop_assert_eq!(p.stats[i].count(s), want, "host {} state {}", i, s);
            }
            prop_assert_eq!(p.stats[i].ports.current, 0);
            prop_assert_eq!(p.stats[i].memory.current, if i == 1 { 2368 } else { 0 });
            prop_assert_eq!(p.hosts[i].poll_timeout(), None);
            // Every connection that had a socket produced exactly one record.
            let recs = p.records(i);
            let mut conns: Vec<ConnId> = recs.iter().map(|r| r.conn).collect();
            let n = conns.len();
            conns.sort();
            conns.dedup();
            prop_assert_eq!(conns.len(), n, "one record per connection per host");
            for r in &recs {
                prop_assert_eq!(r.path.last(), Some(State::Closed));
            }
        }
    }
}
