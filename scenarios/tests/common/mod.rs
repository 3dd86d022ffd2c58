//! Shared test helpers: run a scenario through the library API into a temporary
//! directory and read its tables back with the `analysis::schema` row types.

#![allow(dead_code)] // each test binary uses a different subset

use std::path::{Path, PathBuf};

use analysis::schema::{ConnectionRow, StatesRow, SummaryRow, TimeseriesRow, TransitionRow};
use scenarios::run::{self, RunOptions};
use scenarios::spec;

/// The CSV tables of a run directory; the last, `transitions.csv`, only with `--trace`.
pub const TABLES: [&str; 5] = [
    "summary.csv",
    "states.csv",
    "timeseries.csv",
    "connections.csv",
    "transitions.csv",
];

pub struct Run {
    pub tmp: tempfile::TempDir,
    pub dir: PathBuf,
    pub summary: SummaryRow,
    pub states: Vec<StatesRow>,
    pub timeseries: Vec<TimeseriesRow>,
    pub connections: Vec<ConnectionRow>,
    pub transitions: Vec<TransitionRow>,
}

pub fn read<T: serde::de::DeserializeOwned>(path: &Path) -> Vec<T> {
    csv::Reader::from_path(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .deserialize()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Runs built-in scenario `name` with `sets`, with `--trace` if `trace`.
pub fn run(name: &str, sets: &[&str], trace: bool) -> Run {
    run_with(name, sets, trace, None)
}

pub fn run_with(name: &str, sets: &[&str], trace: bool, pcap: Option<&Path>) -> Run {
    let sets: Vec<String> = sets.iter().map(|s| s.to_string()).collect();
    let sc = spec::load(name, &sets).unwrap_or_else(|e| panic!("{name}: {e}"));
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("out");
    let mut opts = RunOptions::new(&dir);
    opts.trace = trace;
    opts.pcap = pcap.map(Path::to_path_buf);
    let outcome = run::run(&sc, &opts).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(outcome.dir, dir);
    let summary: Vec<SummaryRow> = read(&dir.join("summary.csv"));
    assert_eq!(summary.len(), 1);
    assert_eq!(summary[0], outcome.summary);
    let transitions = if trace {
        read(&dir.join("transitions.csv"))
    } else {
        assert!(!dir.join("transitions.csv").exists());
        Vec::new()
    };
    Run {
        summary: summary.into_iter().next().unwrap(),
        states: read(&dir.join("states.csv")),
        timeseries: read(&dir.join("timeseries.csv")),
        connections: read(&dir.join("connections.csv")),
        transitions,
        dir,
        tmp,
    }
}

impl Run {
    pub fn state(&self, group: &str, state: &str) -> &StatesRow {
        self.states
            .iter()
            .find(|s| s.group == group && s.state == state)
            .unwrap_or_else(|| panic!("no states.csv row for {group} {state}"))
    }

    /// The group's time series.
    pub fn series(&self, group: &str) -> Vec<&TimeseriesRow> {
        self.timeseries
            .iter()
            .filter(|t| t.group == group)
            .collect()
    }

    /// Mean of `f` over the group's samples with `from <= time_s <= to`.
    pub fn mean_over(&self, group: &str, from: f64, to: f64, f: fn(&TimeseriesRow) -> u64) -> f64 {
        let xs: Vec<f64> = self
            .series(group)
            .into_iter()
            .filter(|t| t.time_s >= from && t.time_s <= to)
            .map(|t| f(t) as f64)
            .collect();
        assert!(!xs.is_empty(), "no samples of {group} in [{from}, {to}]");
        xs.iter().sum::<f64>() / xs.len() as f64
    }
}

/// `|actual - expected| <= tol × expected`.
pub fn assert_near(what: &str, actual: f64, expected: f64, tol: f64) {
    assert!(
        (actual - expected).abs() <= tol * expected.abs(),
        "{what}: {actual} is not within {:.0}% of {expected}",
        tol * 100.0
    );
}
