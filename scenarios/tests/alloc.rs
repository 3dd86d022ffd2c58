//! Whole runs allocate per run, not per segment or per connection: a run four
//! times longer (four times the connections, segments and events) allocates
//! almost nothing more. Counted with a wrapping global allocator around
//! `scenarios::run::run` only.

use scenarios::run::{RunOptions, run};
use scenarios::spec;
use sim_core::alloc_count::CountingAlloc;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc::new();

/// Allocations made by one lossy client-close run of `secs` seconds of arrivals at
/// 1,000 connections/s, and its connection count.
fn allocations(secs: u32) -> (u64, u64) {
    let sets: Vec<String> = [
        "workload.rate=1000".to_string(),
        format!("run.duration={secs}s"),
        "link.loss=0.01".to_string(),
    ]
    .to_vec();
    let sc = spec::load("client-close", &sets).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let opts = RunOptions::new(tmp.path().join("out"));
    let before = ALLOC.allocations();
    let out = run(&sc, &opts).unwrap();
    (ALLOC.allocations() - before, out.summary.attempted)
}

#[test]
fn allocations_do_not_grow_with_connections() {
    let (short, short_conns) = allocations(4);
    let (long, long_conns) = allocations(16);
    let extra_conns = long_conns - short_conns;
    assert!(
        extra_conns > 10_000,
        "{short_conns} vs {long_conns} connections"
    );
    // Each extra connection brings ~11 segments and ~24 events, so one allocation
    // per segment would add over 100,000, and one per connection over 10,000. What
    // may grow: one expiry-FIFO block per 64 TIME_WAIT sockets held, amortized
    // table doubling, one timeseries row per group per extra second (about 0.03
    // per extra connection when this was written).
    let extra = long.saturating_sub(short);
    assert!(
        extra * 16 < extra_conns,
        "{extra} more allocations for {extra_conns} more connections ({short} vs {long})"
    );
}
