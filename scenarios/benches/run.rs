//! Whole runs through the library API: how fast the harness drives connections
//! (scheduler + links + TCP stacks + applications + CSV writers together).
//!
//! `cargo bench -p scenarios --bench run`

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use scenarios::run::{RunOptions, run};
use scenarios::spec;

fn whole_runs(c: &mut Criterion) {
    let mut g = c.benchmark_group("run");
    g.sample_size(10);
    for rate in [200u32, 2000] {
        let sets = vec![
            format!("workload.rate={rate}"),
            "run.duration=10s".to_string(),
            "group.clients.count=100".to_string(),
        ];
        let sc = spec::load("client-close", &sets).expect("valid scenario");
        // About rate × duration connections per run.
        g.throughput(Throughput::Elements(u64::from(rate) * 10));
        g.bench_with_input(BenchmarkId::new("client-close", rate), &sc, |b, sc| {
            let tmp = tempfile::tempdir().expect("temp dir");
            let opts = RunOptions::new(tmp.path().join("out"));
            b.iter(|| run(sc, &opts).expect("run"));
        });
    }
    g.finish();
}

criterion_group!(benches, whole_runs);
criterion_main!(benches);
