//! Golden outputs: a fingerprint of every output table of every built-in scenario
//! (with 2 % loss and `--trace`, so retransmission and every state change count),
//! and of variants that exercise what the built-ins do not (vanishing clients,
//! duplication and jitter).
//!
//! A speed-up must leave these bytes alone; this test is how "byte-identical
//! before and after each optimisation" is checked. A deliberate change of the model
//! changes them: review with `cargo insta review` (or rerun with
//! `INSTA_UPDATE=always`) and say why in the commit. `summary.csv`'s `events` column
//! (how many scheduler events the run took, an implementation detail) is left out.

mod common;

use scenarios::builtin::ALL;

/// FNV-1a, 64 bits: a stable fingerprint (no dependency on std's hasher).
fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// `text` without the CSV column named `name` (no field here holds a comma).
fn without_column(text: &str, name: &str) -> String {
    let col = text
        .lines()
        .next()
        .and_then(|h| h.split(',').position(|c| c == name))
        .unwrap_or_else(|| panic!("no column {name}"));
    text.lines()
        .map(|l| {
            let mut f: Vec<&str> = l.split(',').collect();
            f.remove(col);
            f.join(",") + "\n"
        })
        .collect()
}

#[test]
fn every_builtin_scenario_gives_its_recorded_bytes() {
    // Every built-in scenario, then variants for paths the built-ins leave idle.
    let variants: &[(&str, &[&str])] = &[
        ("client-close+vanish", &["workload.client_vanish=0.3"]),
        (
            "client-close+dup",
            &["link.duplicate=0.05", "link.jitter=300us"],
        ),
    ];
    let runs = ALL
        .iter()
        .map(|b| (b.name, b.name, &[][..]))
        .chain(variants.iter().map(|&(label, sets)| {
            let name = label.split('+').next().expect("a scenario name");
            (label, name, sets)
        }));
    let mut lines = Vec::new();
    for (label, name, more) in runs {
        let sets: Vec<&str> = ["link.loss=0.02"].iter().chain(more).copied().collect();
        let r = common::run(name, &sets, true);
        for f in common::TABLES {
            let bytes = std::fs::read(r.dir.join(f)).unwrap();
            let bytes = if f == "summary.csv" {
                without_column(std::str::from_utf8(&bytes).unwrap(), "events").into_bytes()
            } else {
                bytes
            };
            lines.push(format!(
                "{:<20} {:<16} {:>9} bytes  {:016x}",
                label,
                f,
                bytes.len(),
                fnv(&bytes)
            ));
        }
    }
    insta::assert_snapshot!(lines.join("\n"));
}
