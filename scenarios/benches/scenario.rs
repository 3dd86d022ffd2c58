//! Whole scenarios at scale (issue 7): the lossy client-close workload (20,000 new
//! connections per simulated second, 1 % Bernoulli loss on every link, 1,000 client
//! hosts, TIME_WAIT 60 s) at 10^4 and 10^5 connections, through the library API
//! (scheduler, links, TCP stacks, applications and CSV writers together). Criterion
//! reports connections per second. 10^6 connections take several seconds per
//! iteration: set `TCPSIM_BENCH_1M=1` to include them (about 2 minutes).
//!
//! `cargo bench -p scenarios --bench scenario -- --noplot`
//! (`scripts/scale.sh` measures the same workload up to 10^7 with wall time and RSS.)

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use scenarios::run::{RunOptions, run};
use scenarios::spec;

fn lossy_client_close(c: &mut Criterion) {
    let mut sizes = vec![10_000u64, 100_000];
    if std::env::var_os("TCPSIM_BENCH_1M").is_some() {
        sizes.push(1_000_000);
    }
    let mut g = c.benchmark_group("client-close-lossy");
    g.sample_size(10);
    for n in sizes {
        let sets = vec![
            "workload.rate=20000".to_string(),
            format!("run.duration={}s", n as f64 / 20_000.0),
            "link.loss=0.01".to_string(),
            "group.0.count=1000".to_string(),
        ];
        let sc = spec::load("client-close", &sets).expect("valid scenario");
        let tmp = tempfile::tempdir().expect("temp dir");
        let opts = RunOptions::new(tmp.path().join("out"));
        // The exact number of connections (Poisson arrivals: about n).
        let conns = run(&sc, &opts).expect("run").summary.attempted;
        g.throughput(Throughput::Elements(conns));
        g.bench_with_input(BenchmarkId::from_parameter(n), &sc, |b, sc| {
            b.iter(|| run(sc, &opts).expect("run"));
        });
    }
    g.finish();
}

criterion_group!(benches, lossy_client_close);
criterion_main!(benches);
