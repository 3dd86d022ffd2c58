//! Segments processed per second through a client/server Host pair doing full
//! connection lifecycles: connect, 100-byte request, 1000-byte response, client
//! closes first (TIME_WAIT on the client), server closes; TIME_WAIT expiries run.
//! Delivery is immediate (zero delay) so the bench measures the stack, not a queue.
//!
//! `cargo bench -p sim-tcp --bench endpoint_pair -- --noplot`

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use sim_tcp::*;

const CLIENT: Addr = Addr::new(10, 0, 0, 1);
const SERVER: Addr = Addr::new(10, 0, 0, 2);

/// Runs `n` lifecycles; returns the number of segments delivered.
fn lifecycles(n: u64) -> u64 {
    let mut c = Host::new(CLIENT, TcpConfig::default(), CostModel::default(), 1);
    let mut s = Host::new(SERVER, TcpConfig::default(), CostModel::default(), 2);
    let (mut cs, mut ss) = (Stats::new(), Stats::new());
    let mut now = SimTime::ZERO;
    s.listen(now, 80, &mut ss).unwrap();
    let dst = SockAddr::new(SERVER, 80);
    let mut segs = 0;
    for i in 0..n {
        now += SimDuration::from_millis(5);
        for (h, st) in [(&mut c, &mut cs), (&mut s, &mut ss)] {
            if h.poll_timeout().is_some_and(|t| t <= now) {
                h.on_timeout(now, st);
            }
        }
        c.connect(now, dst, ConnId(i + 1), &mut cs).unwrap();
        loop {
            let mut moved = false;
            while let Some(seg) = c.poll_transmit() {
                s.on_segment(now, &seg, &mut ss);
                segs += 1;
                moved = true;
            }
            while let Some(seg) = s.poll_transmit() {
                c.on_segment(now, &seg, &mut cs);
                segs += 1;
                moved = true;
            }
            while let Some((id, _, e)) = c.poll_event() {
                moved = true;
                match e {
                    AppEvent::Connected => c.send(now, id, 100, &mut cs).unwrap(),
                    AppEvent::Readable { .. } => {
                        c.read(now, id, &mut cs);
                        c.close(now, id, Linger::Off, &mut cs);
                    }
                    _ => {}
                }
            }
            while let Some((id, _, e)) = s.poll_event() {
                moved = true;
                match e {
                    AppEvent::Readable { .. } => {
                        s.read(now, id, &mut ss);
                        s.send(now, id, 1000, &mut ss).unwrap();
                    }
                    AppEvent::EndOfStream => s.close(now, id, Linger::Off, &mut ss),
                    _ => {}
                }
            }
            if !moved {
                break;
            }
        }
    }
    now += SimDuration::from_secs(120);
    c.on_timeout(now, &mut cs);
    s.on_timeout(now, &mut ss);
    assert_eq!(cs.count(State::TimeWait), 0);
    assert_eq!(cs.state(State::TimeWait).entered, n);
    segs
}

fn bench(cr: &mut Criterion) {
    const N: u64 = 10_000;
    let per_run = lifecycles(N);
    let mut g = cr.benchmark_group("endpoint_pair");
    g.throughput(Throughput::Elements(per_run));
    g.sample_size(20);
    g.bench_function("segments_10k_lifecycles", |b| {
        b.iter(|| black_box(lifecycles(black_box(N))))
    });
    g.finish();
    println!(
        "{per_run} segments per {N} lifecycles ({} per lifecycle)",
        per_run / N
    );
}

criterion_group!(benches, bench);
criterion_main!(benches);
