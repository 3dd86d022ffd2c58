//! Ephemeral ports: Linux's choice (parity split), exhaustion, reuse toward other
//! destinations, TIME_WAIT holding a 4-tuple, tcp_tw_reuse.
#[macro_use]
mod common;

use common::*;
use sim_tcp::*;

fn connect_to(tb: &mut Tb, dst: SockAddr, conn: u64) -> Result<u16, Errno> {
    connect_sock(tb, dst, conn).map(|(port, _)| port)
}

/// connect(): the port its SYN leaves from, and the socket.
fn connect_sock(tb: &mut Tb, dst: SockAddr, conn: u64) -> Result<(u16, SocketId), Errno> {
    let id = tb.host.connect(tb.now, dst, ConnId(conn), &mut tb.stats)?;
    let syn = tb.host.poll_transmit().unwrap();
    Ok((syn.src.port, id))
}

#[test]
fn parity_split_then_exhaustion() {
    let mut tb = Tb::new(TcpConfig {
        local_port_range: [40000, 40005],
        ..cfg()
    });
    let dst = tb.peer;
    let ports: Vec<u16> = (0..6)
        .map(|i| connect_to(&mut tb, dst, i + 1).unwrap())
        .collect();
    // Ports of the low end's parity (even) first, then the odd ones.
    assert!(ports[..3].iter().all(|p| p % 2 == 0), "{ports:?}");
    assert!(ports[3..].iter().all(|p| p % 2 == 1), "{ports:?}");
    let mut sorted = ports.clone();
    sorted.sort();
    assert_eq!(sorted, [40000, 40001, 40002, 40003, 40004, 40005]);
    assert_eq!(connect_to(&mut tb, dst, 7), Err(Errno::EADDRNOTAVAIL));
    assert_eq!(tb.stats.counters.port_exhausted, 1);
    assert_eq!(tb.stats.ports.current, 6);
    assert_eq!(tb.stats.memory.current, 6 * (2368 + 88));
    // A port is reusable toward another destination.
    let other = SockAddr::new(PEER, 443);
    assert!(connect_to(&mut tb, other, 8).is_ok());
    assert_eq!(
        tb.stats.ports.current, 6,
        "no new port: shared with the first destination"
    );
}

/// Near exhaustion toward one destination, connect() jumps over the ports held
/// toward it a word at a time; it must still take exactly what Linux's scan,
/// port by port, takes: every port, the low end's parity first, then the freed
/// ones, that parity first, with or without a socket toward another destination
/// (whose ports are tracked apart: a port held toward it alone is usable), and
/// with more destinations than are tracked.
#[test]
fn crowded_range_yields_the_freed_ports_low_parity_first() {
    // 300 ports over five bitmap words, starting at an odd port.
    let (lo, hi) = (40001u16, 40300u16);
    let mut tb = Tb::new(TcpConfig {
        local_port_range: [lo, hi],
        ..cfg()
    });
    let dst = tb.peer;
    let mut socks = std::collections::BTreeMap::new();
    let mut order = Vec::new();
    for i in 0..300 {
        let (port, id) = connect_sock(&mut tb, dst, i + 1).unwrap();
        assert!(socks.insert(port, id).is_none(), "port {port} taken twice");
        order.push(port);
    }
    assert!(order[..150].iter().all(|p| p % 2 == lo % 2), "{order:?}");
    assert!(order[150..].iter().all(|p| p % 2 != lo % 2), "{order:?}");
    assert_eq!(connect_to(&mut tb, dst, 999), Err(Errno::EADDRNOTAVAIL));
    let mut free_then_take = |tb: &mut Tb, freed: [u16; 2], why: &str| {
        for port in freed {
            let (now, id) = (tb.now, socks[&port]);
            tb.host.close(now, id, Linger::Abort, &mut tb.stats);
        }
        tb.take();
        // The low end's parity first.
        let mut want = freed;
        want.sort_by_key(|p| p % 2 != lo % 2);
        for want in want {
            let (port, id) = connect_sock(tb, dst, 2000).unwrap();
            assert_eq!(port, want, "{why}");
            socks.insert(port, id);
        }
        assert_eq!(
            connect_to(tb, dst, 2001),
            Err(Errno::EADDRNOTAVAIL),
            "{why}"
        );
    };
    free_then_take(
        &mut tb,
        [40100, 40263],
        "every socket toward one destination",
    );
    // A socket toward another destination shares a port, which then stays held
    // by it alone: usable toward the first destination, though held.
    let shared = connect_to(&mut tb, SockAddr::new(PEER, 443), 3000).unwrap();
    let other_parity = if shared % 2 == 0 { 40263 } else { 40100 };
    free_then_take(
        &mut tb,
        [shared, other_parity],
        "a port held toward another",
    );
    // Eight more destinations: past the eight tracked at once, the scan looks
    // every held port up again, with the same result.
    for k in 1..=8 {
        let other = SockAddr::new(Addr(PEER.0 + k), 80);
        assert!(connect_to(&mut tb, other, 4000 + u64::from(k)).is_ok());
    }
    free_then_take(&mut tb, [40050, 40151], "ten destinations");
}

#[test]
fn default_range_uses_even_ports_first() {
    let mut tb = Tb::new(cfg());
    let dst = tb.peer;
    for i in 0..200 {
        let p = connect_to(&mut tb, dst, i + 1).unwrap();
        assert!((32768..=60999).contains(&p) && p % 2 == 0, "{p}");
    }
}

#[test]
fn choice_depends_on_host_secret_and_destination() {
    let a = Host::new(US, cfg(), CostModel::default(), 1);
    let b = Host::new(US, cfg(), CostModel::default(), 2);
    let mut ports = Vec::new();
    for mut h in [a, b] {
        let mut st = Stats::new();
        h.connect(SimTime::ZERO, SockAddr::new(PEER, 80), ConnId(1), &mut st)
            .unwrap();
        ports.push(h.poll_transmit().unwrap().src.port);
    }
    assert_ne!(ports[0], ports[1]);
}

/// With one port, TIME_WAIT blocks the 4-tuple for its whole length.
#[test]
fn time_wait_holds_the_port_until_it_expires() {
    let mut tb = Tb::established_client(TcpConfig {
        local_port_range: [40000, 40000],
        ..cfg()
    });
    tb.close(Linger::Off);
    tb.feed(tb.pkt(F | A, 1, 2, 0));
    state!(tb, TimeWait);
    assert_eq!(tb.stats.ports.current, 1);
    let dst = tb.peer;
    tb.advance_to(ms(59_000));
    assert_eq!(connect_to(&mut tb, dst, 2), Err(Errno::EADDRNOTAVAIL));
    tb.advance_to(ms(60_000));
    assert_eq!(tb.stats.ports.current, 0);
    assert_eq!(connect_to(&mut tb, dst, 2), Ok(40000));
}

fn tw_with_timestamps(reuse: u8, peer: SockAddr) -> Tb {
    let c = TcpConfig {
        local_port_range: [40000, 40000],
        tw_reuse: reuse,
        timestamps: true,
        ..cfg()
    };
    let mut tb = Tb::new(c);
    tb.peer = peer;
    tb.connect();
    let mut synack = tb.pkt(S | A, 0, 1, 0);
    synack.ts = Some((10, 0));
    tb.feed(synack);
    tb.close(Linger::Off);
    let mut fin = tb.pkt(F | A, 1, 2, 0);
    fin.ts = Some((11, 0));
    tb.feed(fin);
    state!(tb, TimeWait);
    tb.take();
    tb.take_events();
    tb
}

/// tcp_tw_reuse = 1: after ≥ 1 s a TIME_WAIT 4-tuple is taken over, ISN = old
/// SND.NXT + 65537.
#[test]
fn tw_reuse_takes_over_time_wait_after_one_second() {
    let mut tb = tw_with_timestamps(1, SockAddr::new(PEER, PEER_PORT));
    let dst = tb.peer;
    tb.advance_to(ms(500));
    assert_eq!(connect_to(&mut tb, dst, 2), Err(Errno::EADDRNOTAVAIL));
    tb.advance_to(ms(1_000));
    tb.host
        .connect(tb.now, dst, ConnId(2), &mut tb.stats)
        .unwrap();
    let syn = tb.host.poll_transmit().unwrap();
    assert_eq!((syn.src.port, syn.seq), (40000, Seq(2 + 65537)));
    assert_eq!(tb.stats.counters.tw_reused, 1);
    while let Some(e) = tb.host.poll_event() {
        tb.events.push(e);
    }
    let rec = tb.record().unwrap();
    assert_eq!(rec.conn, ConnId(1));
    assert_eq!(
        rec.path.to_string(),
        "SYN_SENT>ESTABLISHED>FIN_WAIT_1>TIME_WAIT>CLOSED"
    );
    assert_eq!(
        tb.stats
            .trace()
            .iter()
            .find(|t| t.conn == ConnId(1) && t.to == State::Closed)
            .unwrap()
            .cause,
        Cause::TimeWaitReused
    );
    assert_eq!(tb.stats.ports.current, 1);
}

#[test]
fn tw_reuse_needs_timestamps_and_respects_mode() {
    // Without timestamps: never.
    let c = TcpConfig {
        local_port_range: [40000, 40000],
        tw_reuse: 1,
        ..cfg()
    };
    let mut tb = Tb::established_client(c);
    tb.close(Linger::Off);
    tb.feed(tb.pkt(F | A, 1, 2, 0));
    tb.advance_to(ms(5_000));
    let dst = tb.peer;
    assert_eq!(connect_to(&mut tb, dst, 2), Err(Errno::EADDRNOTAVAIL));
    // Mode 2 (default): loopback only.
    let mut tb = tw_with_timestamps(2, SockAddr::new(PEER, PEER_PORT));
    tb.advance_to(ms(5_000));
    let dst = tb.peer;
    assert_eq!(connect_to(&mut tb, dst, 2), Err(Errno::EADDRNOTAVAIL));
    let lo = SockAddr::new(Addr::new(127, 0, 0, 1), PEER_PORT);
    let mut tb = tw_with_timestamps(2, lo);
    tb.advance_to(ms(5_000));
    assert_eq!(connect_to(&mut tb, lo, 2), Ok(40000));
}

/// Mode 1 never reuses a FIN_WAIT_2 mini-socket.
#[test]
fn tw_reuse_skips_fin_wait2_mini() {
    let c = TcpConfig {
        local_port_range: [40000, 40000],
        tw_reuse: 1,
        timestamps: true,
        ..cfg()
    };
    let mut tb = Tb::new(c);
    tb.connect();
    let mut synack = tb.pkt(S | A, 0, 1, 0);
    synack.ts = Some((10, 0));
    tb.feed(synack);
    tb.close(Linger::Off);
    let mut ack = tb.pkt(A, 1, 2, 0);
    ack.ts = Some((11, 0));
    tb.feed(ack);
    assert_eq!(tb.host.mini_sockets(), 1);
    tb.advance_to(ms(5_000));
    let dst = tb.peer;
    assert_eq!(connect_to(&mut tb, dst, 2), Err(Errno::EADDRNOTAVAIL));
}
