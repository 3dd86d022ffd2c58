//! The same scenario and seed give byte-identical files (all but run.json); another
//! seed gives other numbers.

mod common;

use std::path::Path;

use common::run;

const FILES: [&str; 6] = [
    "summary.csv",
    "states.csv",
    "timeseries.csv",
    "connections.csv",
    "transitions.csv",
    "scenario.toml",
];

fn bytes(dir: &Path, f: &str) -> Vec<u8> {
    std::fs::read(dir.join(f)).unwrap_or_else(|e| panic!("{f}: {e}"))
}

#[test]
fn same_seed_same_bytes_other_seed_other_numbers() {
    // Loss and jitter make every random stream matter.
    let sets = [
        "run.duration=10s",
        "link.loss=0.02",
        "link.jitter=2ms",
        "workload.client_vanish=0.05",
    ];
    let a = run("client-close", &sets, true);
    let b = run("client-close", &sets, true);
    for f in FILES {
        assert!(
            bytes(&a.dir, f) == bytes(&b.dir, f),
            "{f} differs between two runs with the same seed"
        );
    }
    let mut other = sets.to_vec();
    other.push("run.seed=2");
    let c = run("client-close", &other, true);
    assert_ne!(
        bytes(&a.dir, "connections.csv"),
        bytes(&c.dir, "connections.csv")
    );
    assert_ne!(a.summary.events, c.summary.events);
    assert!(
        a.summary.retransmits > 0,
        "loss should cause retransmissions"
    );
}
