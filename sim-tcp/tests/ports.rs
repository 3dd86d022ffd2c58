//! Ephemeral ports: Linux's choice (parity split), exhaustion, reuse toward other
//! destinations, TIME_WAIT holding a 4-tuple, tcp_tw_reuse.
#[macro_use]
mod common;

use common::*;
use sim_tcp::*;

fn connect_to(tb: &mut Tb, dst: SockAddr, conn: u64) -> Result<u16, Errno> {
    tb.host.connect(tb.now, dst, ConnId(conn), &mut tb.stats)?;
    let syn = tb.host.poll_transmit().unwrap();
    Ok(syn.src.port)
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
