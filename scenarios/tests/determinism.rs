//! The same scenario and seed give byte-identical files (all but run.json); another
//! seed gives other numbers.

mod common;

use std::path::Path;

use common::{TABLES, run};

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
    for f in TABLES.into_iter().chain(["scenario.toml"]) {
        assert!(
            bytes(&a.dir, f) == bytes(&b.dir, f),
            "{f} differs between two runs with the same seed"
        );
    }
    // Tracing observes the run without changing it.
    let untraced = run("client-close", &sets, false);
    for f in &TABLES[..4] {
        assert!(
            bytes(&a.dir, f) == bytes(&untraced.dir, f),
            "{f} changes with --trace"
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

/// `tcpsim show` output fed back to `run` is the same scenario: the same bytes.
#[test]
fn shown_scenario_runs_identically() {
    let sets = ["run.duration=5s", "link.loss=0.01"];
    let a = run("server-close", &sets, false);
    let owned: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let shown = scenarios::spec::load("server-close", &owned)
        .unwrap()
        .to_toml();
    // The file is named after the scenario, so the `scenario` column matches too.
    let file = a.tmp.path().join("server-close.toml");
    std::fs::write(&file, &shown).unwrap();
    let b = run(file.to_str().unwrap(), &[], false);
    for f in [
        "summary.csv",
        "states.csv",
        "timeseries.csv",
        "connections.csv",
        "scenario.toml",
    ] {
        assert!(bytes(&a.dir, f) == bytes(&b.dir, f), "{f} differs");
    }
}
