//! Segments processed per second through a client/server Host pair doing full
//! connection lifecycles (connect, 100-byte request, 1000-byte response, client
//! closes first, server closes; TIME_WAIT expiries run): 11 segments each. Delivery
//! is immediate, so this measures the stack, not a scheduler.
//!
//! Also prints the simulator's heap bytes per TIME_WAIT socket at 10^6, and times
//! connect() on a client host holding 90 % of its ports toward one destination
//! (`connect_near_exhaustion`): alone (the scan jumps over the ports held toward it),
//! with one more socket toward a second destination (still tracked apart, still
//! jumps), with one toward each of 8 more (tracked too), with one toward each of
//! 64 more, past the 64 destinations tracked at once (untracked: the scan looks
//! each held port up, as Linux does), and on a host holding every port
//! toward it (`full_range`: the connect() fails with EADDRNOTAVAIL after scanning
//! both parities, skipping full words 64 at a time).
//!
//! `cargo bench -p sim-tcp --bench endpoint_pair -- --noplot`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sim_tcp::*;

#[path = "../tests/common/mod.rs"]
mod common;

use common::Lifecycles;

fn lifecycles(n: u64) -> u64 {
    let mut l = Lifecycles::new();
    // 5 ms apart: 12,000 in TIME_WAIT at steady state, well within the port range.
    l.run(n, SimDuration::from_millis(5));
    l.drain();
    assert_eq!(l.cs.state(State::TimeWait).entered, n);
    assert_eq!(l.cs.count(State::TimeWait), 0);
    l.segments
}

/// 10^6 TIME_WAIT sockets on one server (it closes first toward 10^6 clients).
fn time_wait_footprint() {
    const N: u32 = 1_000_000;
    let cfg = TcpConfig {
        isn: IsnPolicy::Zero,
        timestamps: false,
        max_tw_buckets: u32::MAX,
        ..TcpConfig::default()
    };
    let mut h = Host::new(common::US, cfg, CostModel::default(), 1);
    let mut st = Stats::new();
    let now = SimTime::ZERO;
    h.listen(now, 80, &mut st).unwrap();
    let base = h.heap_bytes();
    let local = SockAddr::new(common::US, 80);
    for i in 0..N {
        let peer = SockAddr::new(
            Addr(common::PEER.0 + i / 50_000),
            10_000 + (i % 50_000) as u16,
        );
        let seg = |flags, seq, ack| Segment {
            src: peer,
            dst: local,
            seq: Seq(seq),
            ack: Seq(ack),
            flags,
            window: 65535,
            len: 0,
            mss: None,
            ts: None,
            conn: ConnId(u64::from(i) + 1),
            demux: DemuxHint::NONE,
        };
        h.on_segment(now, &seg(Flags::SYN, 0, 0), &mut st);
        h.on_segment(now, &seg(Flags::ACK, 1, 1), &mut st);
        while let Some((id, _, e)) = h.poll_event() {
            if matches!(e, AppEvent::Accepted { .. }) {
                h.close(now, id, Linger::Off, &mut st);
            }
        }
        h.on_segment(now, &seg(Flags::FIN | Flags::ACK, 1, 2), &mut st);
        while h.poll_transmit().is_some() {}
    }
    assert_eq!(h.mini_sockets(), N);
    let per = (h.heap_bytes() - base) as f64 / f64::from(N);
    println!("time_wait_footprint: {N} TIME_WAIT sockets, {per:.0} simulator heap bytes each");
}

/// A client host holding 90 % of the default port range toward one destination
/// (every port of it if `full`), plus one socket toward each of `others` more;
/// the measured step is a connect() toward the first and its abort, which frees
/// the port again, or (`full`) a connect() that fails with EADDRNOTAVAIL after
/// scanning both parities of the range.
fn crowded_host(full: bool, others: u32) -> impl FnMut() -> Option<u16> {
    let mut h = Host::new(common::US, TcpConfig::default(), CostModel::default(), 1);
    let mut st = Stats::new();
    let now = SimTime::ZERO;
    let dst = SockAddr::new(common::PEER, 80);
    let held = if full { u64::MAX } else { 25_400 };
    for i in 0..held {
        match h.connect(now, dst, ConnId(i), &mut st) {
            Err(_) if full => break,
            r => {
                r.expect("a free port below 90 % of the range");
            }
        }
    }
    for k in 1..=others {
        let other = SockAddr::new(Addr(common::PEER.0 + k), 80);
        h.connect(now, other, ConnId(0), &mut st).unwrap();
    }
    while h.poll_transmit().is_some() {}
    move || {
        let Ok(id) = h.connect(now, dst, ConnId(1), &mut st) else {
            assert!(full, "a free port");
            return None;
        };
        let port = h.local_port(id);
        h.close(now, id, Linger::Abort, &mut st);
        while h.poll_transmit().is_some() {}
        while h.poll_event().is_some() {}
        port
    }
}

fn bench(cr: &mut Criterion) {
    const N: u64 = 10_000;
    let per_run = lifecycles(N);
    println!(
        "{per_run} segments per {N} lifecycles ({} per lifecycle)",
        per_run / N
    );
    time_wait_footprint();
    let mut g = cr.benchmark_group("endpoint_pair");
    g.throughput(Throughput::Elements(per_run));
    g.sample_size(20);
    g.bench_function("segments_10k_lifecycles", |b| {
        b.iter(|| black_box(lifecycles(black_box(N))))
    });
    g.finish();
    let mut g = cr.benchmark_group("connect_near_exhaustion");
    g.throughput(Throughput::Elements(1));
    for (name, full, others) in [
        ("one_destination", false, 0),
        ("two_destinations", false, 1),
        ("nine_destinations", false, 8),
        ("sixty_five_destinations", false, 64),
        ("full_range", true, 0),
    ] {
        let mut step = crowded_host(full, others);
        g.bench_function(name, |b| b.iter(|| black_box(step())));
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
