//! Snapshot tests of `tcpsim report` on the hand-made fixtures of
//! `tests/fixtures/` (see `gen.py` there for how each was designed).

use std::path::{Path, PathBuf};

use analysis::ReportError;
use analysis::report::{Format, ReportOptions, report};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// A copy of a fixture in a temporary directory, since the report writes into it.
fn copy_fixture(name: &str) -> tempfile::TempDir {
    let tmp = tempfile::tempdir().unwrap();
    copy_dir(&fixture(name), tmp.path());
    tmp
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            std::fs::create_dir_all(&target).unwrap();
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

fn run_report(dir: &Path, format: Format) -> (String, Vec<PathBuf>) {
    let mut out = Vec::new();
    let opts = ReportOptions {
        dir: dir.to_path_buf(),
        format,
        plots: false,
    };
    let written = report(&opts, &mut out).unwrap();
    (String::from_utf8(out).unwrap(), written)
}

#[test]
fn basic_run_table() {
    let (text, written) = run_report(&fixture("run_basic"), Format::Table);
    assert!(
        written.is_empty(),
        "a run report without plots writes nothing"
    );
    insta::assert_snapshot!(text);
}

#[test]
fn basic_run_csv() {
    let (text, _) = run_report(&fixture("run_basic"), Format::Csv);
    insta::assert_snapshot!(text);
}

#[test]
fn basic_run_json() {
    let (text, _) = run_report(&fixture("run_basic"), Format::Json);
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let p99 = v["latency"]["p99_s"].as_f64().unwrap();
    assert!((p99 - 0.01).abs() < 1e-9, "{p99}");
    insta::assert_snapshot!(text);
}

#[test]
fn lossy_run_table() {
    let (text, _) = run_report(&fixture("run_lossy"), Format::Table);
    insta::assert_snapshot!(text);
}

/// run_flagged is run_basic with `tcp.max_tw_buckets = 40`: the data hold 60
/// TIME_WAIT sockets, as if the cap had been ignored, so the TIME_WAIT reference
/// (capped at 40) is flagged.
#[test]
fn misconfigured_run_is_flagged() {
    let (text, _) = run_report(&fixture("run_flagged"), Format::Table);
    let line = text
        .lines()
        .find(|l| l.contains("time_wait_steady"))
        .expect("a TIME_WAIT reference line");
    assert!(line.contains("FLAG"), "{line}");
    assert!(line.contains("+50.00 %"), "{line}");
    assert!(text.contains("1 reference(s) flagged"), "{text}");
}

#[test]
fn sweep_table_and_ci_csv() {
    let tmp = copy_fixture("sweep_rate");
    let (text, written) = run_report(tmp.path(), Format::Table);
    insta::assert_snapshot!("sweep_table", text);
    assert_eq!(written, vec![tmp.path().join("ci.csv")]);
    let ci = std::fs::read_to_string(tmp.path().join("ci.csv")).unwrap();
    insta::assert_snapshot!("sweep_ci_csv", ci);
    // The same CSV goes to stdout with --format csv.
    let (csv_out, _) = run_report(tmp.path(), Format::Csv);
    assert_eq!(csv_out, ci);
    // JSON: one object per metric; peak_time_wait at rate 1 is 58, 60, 62:
    // mean 60, sd 2, half-width t(2) · 2 / √3 = 4.3027 · 1.1547 = 4.9683.
    let (json, _) = run_report(tmp.path(), Format::Json);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["params"][0], "workload.rate");
    let point = &v["points"][0];
    assert_eq!(point["point"][0], "1");
    let tw = point["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["metric"] == "peak_time_wait")
        .unwrap();
    assert_eq!(
        (tw["n"].as_u64(), tw["mean"].as_f64(), tw["sd"].as_f64()),
        (Some(3), Some(60.0), Some(2.0))
    );
    let half = 4.3027 * 2.0 / 3f64.sqrt();
    assert!(
        (tw["ci_high"].as_f64().unwrap() - (60.0 + half)).abs() < 1e-9,
        "{tw}"
    );
}

#[test]
fn directory_of_runs_is_a_sweep_over_scenarios() {
    let tmp = tempfile::tempdir().unwrap();
    for name in ["run_basic", "run_lossy"] {
        let sub = tmp.path().join(name);
        std::fs::create_dir(&sub).unwrap();
        copy_dir(&fixture(name), &sub);
    }
    let (text, _) = run_report(tmp.path(), Format::Csv);
    assert!(
        text.starts_with("scenario,metric,n,mean,sd,ci_low,ci_high\n"),
        "{text}"
    );
    assert!(
        text.contains("fixture-basic,peak_time_wait,1,60,,,\n"),
        "{text}"
    );
    assert!(
        text.contains("fixture-lossy,connect_timeout,1,2,,,\n"),
        "{text}"
    );
}

fn bad_input(dir: &Path) -> String {
    let opts = ReportOptions {
        dir: dir.to_path_buf(),
        format: Format::Table,
        plots: false,
    };
    match report(&opts, &mut Vec::new()) {
        Err(ReportError::BadInput(msg)) => msg,
        other => panic!("expected BadInput, got {other:?}"),
    }
}

#[test]
fn missing_directory_is_bad_input() {
    let msg = bad_input(Path::new("/nonexistent/tcpsim-run"));
    assert!(
        msg.contains("/nonexistent/tcpsim-run: not a directory"),
        "{msg}"
    );
}

#[test]
fn missing_file_is_bad_input_naming_it() {
    let tmp = copy_fixture("run_basic");
    std::fs::remove_file(tmp.path().join("states.csv")).unwrap();
    let msg = bad_input(tmp.path());
    assert!(msg.contains("states.csv: cannot open"), "{msg}");
}

#[test]
fn bad_cell_names_file_row_and_column() {
    let tmp = copy_fixture("run_basic");
    let path = tmp.path().join("timeseries.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    // Third data row (line 4): time_wait "10" becomes "ten".
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    lines[3] = lines[3].replace(",10,0,0,4928", ",ten,0,0,4928");
    std::fs::write(&path, lines.join("\n") + "\n").unwrap();
    let msg = bad_input(tmp.path());
    assert!(
        msg.contains("timeseries.csv: line 4, row 3, column `time_wait`"),
        "{msg}"
    );
}

#[test]
fn bad_sweep_cell_names_the_column() {
    let tmp = copy_fixture("sweep_rate");
    let path = tmp.path().join("sweep.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(
        &path,
        text.replacen(",fixture-sweep,1,160,", ",fixture-sweep,one,160,", 1),
    )
    .unwrap();
    let msg = bad_input(tmp.path());
    assert!(msg.contains("sweep.csv: line 2, column `seed`"), "{msg}");
}

/// A sweep whose `runs/` are present reports the references its runs flag:
/// here one run directory is the mis-configured run_flagged.
#[test]
fn sweep_lists_references_flagged_in_its_runs() {
    let tmp = copy_fixture("sweep_rate");
    let run = tmp.path().join("runs/rate1-seed2");
    std::fs::create_dir_all(&run).unwrap();
    copy_dir(&fixture("run_flagged"), &run);
    let (text, _) = run_report(tmp.path(), Format::Table);
    assert!(
        text.contains("1 reference(s) flagged in the runs"),
        "{text}"
    );
    assert!(
        text.contains(
            "rate1-seed2: time_wait_steady clients TIME_WAIT: measured 60 vs reference 40 sockets"
        ),
        "{text}"
    );
    let (json, _) = run_report(tmp.path(), Format::Json);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["flagged"][0]["run"], "rate1-seed2");
    assert_eq!(v["flagged"][0]["reference"]["status"], "FLAG");
    // Its relative error is a metric of its point (one run of three has it).
    let ci = std::fs::read_to_string(tmp.path().join("ci.csv")).unwrap();
    assert!(
        ci.contains("1,ref.time_wait_steady.clients.rel_error,1,0.5,,,\n"),
        "{ci}"
    );
}

#[test]
fn unparsable_scenario_toml_is_bad_input_naming_it() {
    let tmp = copy_fixture("run_basic");
    std::fs::write(tmp.path().join("scenario.toml"), "[run\nseed = 1\n").unwrap();
    let msg = bad_input(tmp.path());
    assert!(msg.contains("scenario.toml"), "{msg}");
}

/// Without scenario.toml the report still works; the references that need the
/// configuration say so.
#[test]
fn missing_scenario_toml_makes_references_not_applicable() {
    let tmp = copy_fixture("run_basic");
    std::fs::remove_file(tmp.path().join("scenario.toml")).unwrap();
    let (text, _) = run_report(tmp.path(), Format::Table);
    assert!(
        text.contains("little"),
        "Little's law needs only the CSVs: {text}"
    );
    assert!(text.contains("no scenario.toml"), "{text}");
    let tw = text
        .lines()
        .find(|l| l.contains("time_wait_steady"))
        .unwrap();
    assert!(tw.trim_end().ends_with("n/a"), "{tw}");
}

/// run_ports (see gen.py): 20 ports, one connection a second, TIME_WAIT 60 s.
/// Hand-computed over the steady window [70, 100] s (first TIME_WAIT sample at
/// 10 s, plus 60 s; arrivals stop at 100 s):
/// - port ceiling 20 / 60 = 1/3 conn/s; opened in [70, 100): 30, of which 70..=80
///   got a port: measured 11/30; reference min(30/30, 1/3) = 1/3; +10 %.
/// - TIME_WAIT: 40 entries / 100 s × 60 s = 24; samples at 70, 80, 90, 100 s hold
///   19, 19, 20, 20 (the connections 10..=19 and 61..=80 still in TIME_WAIT):
///   mean 19.5.
#[test]
fn port_ceiling_and_time_wait_references_by_hand() {
    let run = analysis::load::RunData::load(&fixture("run_ports")).unwrap();
    let refs = analysis::reference::references(&run);
    let find = |model: &str| refs.iter().find(|r| r.model == model).unwrap();
    let port = find("port_ceiling");
    assert!(
        (port.measured.unwrap() - 11.0 / 30.0).abs() < 1e-12,
        "{port:?}"
    );
    assert!(
        (port.reference.unwrap() - 1.0 / 3.0).abs() < 1e-12,
        "{port:?}"
    );
    assert!((port.rel_error.unwrap() - 0.1).abs() < 1e-9, "{port:?}");
    assert!(
        port.note.contains("ceiling 0.333333 conn/s"),
        "{}",
        port.note
    );
    let tw = find("time_wait_steady");
    assert_eq!((tw.measured, tw.reference), (Some(19.5), Some(24.0)));
    assert_eq!(run.summary.port_exhausted, 60);
}
