//! `tcpsim sweep`: many independent runs of one scenario over a grid of parameter
//! values times seeds, in parallel on this machine or spread over a cluster as a
//! job array (issue 6).
//!
//! # Layout of a sweep directory (`--out DIR`)
//!
//! ```text
//! DIR/plan.toml              the plan, verbatim (a re-run or merge checks it is the same)
//! DIR/runs/p003-s02/         one complete `tcpsim run` result directory per run
//! DIR/sweep.csv              run, one column per varied key, every summary.csv column
//! ```
//!
//! Run order, directory names and seeds are fixed by the plan ([`plan`] module
//! docs); `sweep.csv` is assembled from the run directories in run order, so it is
//! byte-identical whatever `--jobs`, sharding or interruptions happened.
//!
//! # Resuming
//!
//! A run directory appears under its final name only when the run is complete
//! ([`crate::run::run`] stages everything in a hidden sibling and renames it into
//! place), so a run whose directory holds `summary.csv` is done and is skipped.
//! A killed run leaves only a hidden `.pPPP-sSS.tmp-PID` staging directory, which
//! the next attempt at that run removes.
//!
//! # Sharding
//!
//! `--shard I/N` runs only the runs whose index is `I` modulo `N` and does not
//! write `sweep.csv`; `--merge DIR` assembles it once every shard is done.

pub mod plan;

use std::collections::BTreeSet;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use analysis::schema::SummaryRow;
use indicatif::{ProgressBar, ProgressStyle};
use rayon::prelude::*;

pub use self::plan::{MAX_RUNS, Param, Plan, RunSpec, Shard, derived_seed, value_text};
use crate::error::CliError;
use crate::output;
use crate::run::{self, RunOptions};

/// The plan format, for `tcpsim sweep --help`.
const PLAN_HELP: &str = r#"Plan file (TOML):
  scenario = "client-close"            built-in name, or a file relative to the plan
  set = ["run.duration=30s"]           base overrides, as `tcpsim run --set`
  seeds = [1, 2, 3]                    or { count = 10, master = 42 } (derived seeds)
  [vary]                               dotted scenario key = values
  "workload.rate" = [100, 200, 400]
  "tcp.fin_timeout" = { from = "10s", to = "60s", step = "10s" }
  "link.loss" = { from = 0.0, to = 0.02, step = 0.005, values = [0.1] }

Every point of the grid (the cartesian product, the first key the outer loop) runs
once per seed, into DIR/runs/pPPP-sSS; DIR/sweep.csv has one row per run: run,
the varied keys, then the summary.csv columns. Complete runs in DIR are skipped, so
an interrupted sweep is finished by running the same command again."#;

/// `tcpsim sweep PLAN [--jobs N] [--shard I/N] [--out DIR] [--merge DIR] [--quiet]`.
#[derive(Debug, Clone, clap::Args)]
#[command(after_long_help = PLAN_HELP)]
pub struct SweepArgs {
    /// The sweep plan (a TOML file: scenario, set, vary, seeds).
    pub plan: PathBuf,
    /// Runs at once (default: the number of CPUs).
    #[arg(long, value_name = "N")]
    pub jobs: Option<usize>,
    /// Run only shard I of N (0-based, `--shard 0/4`): the runs whose index is I
    /// modulo N. For a Slurm job array: `--shard $SLURM_ARRAY_TASK_ID/$SLURM_ARRAY_TASK_COUNT`.
    /// A shard does not write sweep.csv: merge when all shards are done.
    #[arg(long, value_name = "I/N", conflicts_with = "merge")]
    pub shard: Option<String>,
    /// Sweep directory [default: out/PLAN-STEM, the plan file name without .toml]. Complete runs already there
    /// are kept and skipped.
    #[arg(long, value_name = "DIR", conflicts_with = "merge")]
    pub out: Option<PathBuf>,
    /// Run nothing: write DIR/sweep.csv from the run directories of the shards in
    /// DIR (fails, listing them, if any run is missing).
    #[arg(long, value_name = "DIR")]
    pub merge: Option<PathBuf>,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Runs (or merges) a sweep.
pub fn run(args: &SweepArgs) -> Result<(), CliError> {
    let plan = Plan::load(&args.plan)?;
    let shard = args.shard.as_deref().map(Shard::parse).transpose()?;
    if args.jobs == Some(0) {
        return Err(CliError::bad_input("--jobs 0: expected at least 1"));
    }
    let runs = plan.runs();
    if let Some(dir) = &args.merge {
        check_sweep_dir(dir, &plan)?;
        let csv = write_sweep_csv(&plan, &runs, dir)?;
        println!("merged {} runs into {}", runs.len(), csv.display());
        return Ok(());
    }
    let scenarios = plan.scenarios()?;
    let dir = args
        .out
        .clone()
        .unwrap_or_else(|| default_out_dir(&plan.path));
    prepare_sweep_dir(&dir, &plan)?;

    let mine: Vec<&RunSpec> = runs
        .iter()
        .filter(|r| shard.is_none_or(|s| s.owns(r.index)))
        .collect();
    let todo: Vec<&RunSpec> = mine
        .iter()
        .copied()
        .filter(|r| !is_complete(&dir.join(&r.dir)))
        .collect();
    remove_stale_staging(&dir, &todo)?;

    let jobs = args.jobs.unwrap_or_else(|| {
        std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get)
    });
    let progress = if args.quiet || !std::io::stderr().is_terminal() {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(todo.len() as u64).with_style(
            ProgressStyle::with_template("{bar:40} {pos}/{len} runs  {elapsed} eta {eta}")
                .expect("a valid progress template"),
        )
    };
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .map_err(|e| CliError::other(format!("cannot start {jobs} worker threads: {e}")))?;
    // Every run goes ahead even if another fails: complete runs are kept for the
    // next attempt. Results come back in run order, whatever order they finish in.
    let failures: Vec<(&RunSpec, CliError)> = pool.install(|| {
        todo.par_iter()
            .filter_map(|r| {
                let mut sc = scenarios[r.point].clone();
                sc.run.seed = r.seed;
                let result = run::run(&sc, &RunOptions::new(dir.join(&r.dir)));
                progress.inc(1);
                result.err().map(|e| (*r, e))
            })
            .collect()
    });
    progress.finish_and_clear();

    let which = shard.map_or(String::new(), |s| format!(" shard {s}:"));
    println!(
        "sweep {}:{which} {} runs ({} points x {} seeds), {} in this {}: ran {}, {} already complete",
        plan.path.display(),
        runs.len(),
        plan.points(),
        plan.seeds.len(),
        mine.len(),
        if shard.is_some() { "shard" } else { "sweep" },
        todo.len() - failures.len(),
        mine.len() - todo.len(),
    );
    if let Some((first, e)) = failures.first() {
        return Err(CliError::other(format!(
            "{} of {} runs failed (the complete ones are kept: re-run to retry the others); first: {}: {e}",
            failures.len(),
            todo.len(),
            first.dir
        )));
    }
    if let Some(s) = shard {
        println!(
            "shard {s} done; when every shard is: tcpsim sweep {} --merge {}",
            plan.path.display(),
            dir.display()
        );
    } else {
        let csv = write_sweep_csv(&plan, &runs, &dir)?;
        println!("wrote {}", csv.display());
    }
    Ok(())
}

/// The default sweep directory: `out/<plan file stem>`.
pub fn default_out_dir(plan: &Path) -> PathBuf {
    let stem = plan
        .file_stem()
        .map_or_else(|| "sweep".into(), |s| s.to_string_lossy().into_owned());
    Path::new("out").join(stem)
}

/// A run directory is complete when it holds `summary.csv` (it only appears under
/// its final name once the whole run is written).
fn is_complete(run_dir: &Path) -> bool {
    run_dir.join("summary.csv").is_file()
}

/// Names a sweep directory may hold besides hidden staging files.
const SWEEP_ENTRIES: [&str; 3] = ["plan.toml", "runs", "sweep.csv"];

/// Creates the sweep directory and `plan.toml`, or checks that an existing one
/// belongs to this plan. Several shards may do this at the same time.
fn prepare_sweep_dir(dir: &Path, plan: &Plan) -> Result<(), CliError> {
    let copy = dir.join("plan.toml");
    match std::fs::read(&copy) {
        Ok(_) => check_sweep_dir(dir, plan),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            if let Ok(entries) = std::fs::read_dir(dir) {
                let foreign = entries.filter_map(Result::ok).find(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    !(SWEEP_ENTRIES.contains(&name.as_str()) || name.starts_with('.'))
                });
                if let Some(f) = foreign {
                    return Err(CliError::other(format!(
                        "{} exists and is not a sweep directory (it holds {:?}): choose another --out",
                        dir.display(),
                        f.file_name()
                    )));
                }
            }
            std::fs::create_dir_all(dir.join("runs"))
                .map_err(|e| CliError::io("cannot create directory", dir, e))?;
            // Shards on several nodes may race here (even with equal PIDs, hence
            // equal temporary names): whoever loses finds the same plan in place.
            write_atomic(&copy, plan.text.as_bytes())
                .or_else(|e| check_sweep_dir(dir, plan).map_err(|_| e))
        }
        Err(e) => Err(CliError::io("cannot read", &copy, e)),
    }
}

/// Checks that `dir` is a sweep directory of exactly this plan.
fn check_sweep_dir(dir: &Path, plan: &Plan) -> Result<(), CliError> {
    let copy = dir.join("plan.toml");
    match std::fs::read(&copy) {
        Ok(bytes) if bytes == plan.text.as_bytes() => Ok(()),
        Ok(_) => Err(CliError::bad_input(format!(
            "{} differs from {}: {} belongs to another sweep (choose another directory, or delete it)",
            copy.display(),
            plan.path.display(),
            dir.display()
        ))),
        Err(e) => Err(CliError::bad_input(format!(
            "{}: not a sweep directory of {} ({}: {e})",
            dir.display(),
            plan.path.display(),
            copy.display()
        ))),
    }
}

/// Removes the hidden staging directories that killed attempts at `todo`'s runs
/// left behind (`.p003-s02.tmp-PID`, see [`output::temp_path`]). Staging directories
/// of other runs are left alone: another shard may be writing them.
fn remove_stale_staging(dir: &Path, todo: &[&RunSpec]) -> Result<(), CliError> {
    let runs_dir = dir.join("runs");
    let names: BTreeSet<&str> = todo
        .iter()
        .filter_map(|r| r.dir.strip_prefix("runs/"))
        .collect();
    let entries =
        std::fs::read_dir(&runs_dir).map_err(|e| CliError::io("cannot read", &runs_dir, e))?;
    for entry in entries.filter_map(Result::ok) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let stale = name
            .strip_prefix('.')
            .and_then(|n| n.split_once(".tmp-"))
            .is_some_and(|(run, _)| names.contains(run));
        if stale {
            let p = entry.path();
            std::fs::remove_dir_all(&p).map_err(|e| CliError::io("cannot remove stale", &p, e))?;
        }
    }
    Ok(())
}

/// Writes `bytes` to `path` through a temporary sibling and a rename, so `path`
/// never holds a partial file.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), CliError> {
    let tmp = output::temp_path(path);
    std::fs::write(&tmp, bytes).map_err(|e| CliError::io("cannot write", &tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| CliError::io("cannot rename into place", path, e))
}

/// Reads the one row of a run's `summary.csv`.
fn read_summary(path: &Path) -> Result<SummaryRow, CliError> {
    let bad = |what: String| CliError::other(format!("{}: {what}", path.display()));
    let mut reader = csv::Reader::from_path(path).map_err(|e| bad(e.to_string()))?;
    let mut rows = reader.deserialize::<SummaryRow>();
    match (rows.next(), rows.next()) {
        (Some(Ok(row)), None) => Ok(row),
        (Some(Err(e)), _) => Err(bad(e.to_string())),
        (None, _) => Err(bad("no data row".into())),
        (Some(Ok(_)), Some(_)) => Err(bad("more than one data row".into())),
    }
}

/// The column names of `summary.csv`, as csv's serde support writes them.
fn summary_header(row: &SummaryRow) -> Result<csv::StringRecord, CliError> {
    let fail = |e: String| CliError::other(format!("summary header: {e}"));
    let mut w = csv::Writer::from_writer(Vec::new());
    w.serialize(row).map_err(|e| fail(e.to_string()))?;
    let bytes = w.into_inner().map_err(|e| fail(e.to_string()))?;
    csv::Reader::from_reader(bytes.as_slice())
        .headers()
        .cloned()
        .map_err(|e| fail(e.to_string()))
}

/// Assembles `<dir>/sweep.csv` from every run's `summary.csv`, in run order: the
/// `run` column (the run directory relative to `dir`), one column per varied key
/// (its value as in [`value_text`]), then every summary column. Fails, listing them,
/// if runs are missing; writes nothing then.
fn write_sweep_csv(plan: &Plan, runs: &[RunSpec], dir: &Path) -> Result<PathBuf, CliError> {
    let missing: Vec<&str> = runs
        .iter()
        .filter(|r| !is_complete(&dir.join(&r.dir)))
        .map(|r| r.dir.as_str())
        .collect();
    if !missing.is_empty() {
        const SHOWN: usize = 20;
        let more = missing.len().saturating_sub(SHOWN);
        return Err(CliError::other(format!(
            "{}: {} of {} runs are missing or incomplete: {}{}; run their shards (or `tcpsim sweep {} --out {}`) first",
            dir.display(),
            missing.len(),
            runs.len(),
            missing[..missing.len().min(SHOWN)].join(", "),
            if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            },
            plan.path.display(),
            dir.display(),
        )));
    }
    let rows = runs
        .iter()
        .map(|r| read_summary(&dir.join(&r.dir).join("summary.csv")))
        .collect::<Result<Vec<_>, _>>()?;
    let path = dir.join("sweep.csv");
    let fail = |e: csv::Error| CliError::other(format!("cannot write {}: {e}", path.display()));
    let mut w = csv::WriterBuilder::new()
        .has_headers(false)
        .from_writer(Vec::new());
    let mut header = vec!["run".to_string()];
    header.extend(plan.params.iter().map(|p| p.key.clone()));
    header.extend(summary_header(&rows[0])?.iter().map(String::from));
    w.write_record(&header).map_err(fail)?;
    for (r, row) in runs.iter().zip(&rows) {
        w.write_field(&r.dir).map_err(fail)?;
        for v in plan.point_values(r.point) {
            w.write_field(value_text(v)).map_err(fail)?;
        }
        w.serialize(row).map_err(fail)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| CliError::other(format!("cannot write {}: {e}", path.display())))?;
    write_atomic(&path, &bytes)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fake complete run directory holding a summary row.
    fn fake_run(dir: &Path, run: &RunSpec, events: u64) {
        let d = dir.join(&run.dir);
        std::fs::create_dir_all(&d).unwrap();
        let row = SummaryRow {
            scenario: "handshake".into(),
            seed: run.seed,
            sim_time_s: 1.5,
            events,
            attempted: 1,
            established: 1,
            completed: 1,
            port_exhausted: 0,
            connect_timeout: 0,
            refused: 0,
            reset: 0,
            aborted: 0,
            leaked: 0,
            bytes_requested: 100,
            bytes_delivered: 1100,
            bytes_discarded: 0,
            stale_accepted: 0,
            tw_overflow: 0,
            connect_p50_s: Some(0.01),
            connect_p99_s: None,
            peak_memory_bytes: 4096,
            unfinished: 0,
            connect_p90_s: Some(0.1),
            rst_sent: 0,
            retransmits: 0,
            peak_time_wait: 1,
            peak_ports_in_use: 1,
            syn_cookies_sent: 0,
            listen_drops: 0,
        };
        let mut w = csv::Writer::from_path(d.join("summary.csv")).unwrap();
        w.serialize(&row).unwrap();
        w.flush().unwrap();
    }

    fn plan(text: &str) -> Plan {
        Plan::parse(Path::new("p.toml"), text.to_string()).unwrap()
    }

    #[test]
    fn sweep_csv_has_run_params_then_summary_columns_in_run_order() {
        let plan = plan(
            "scenario = \"handshake\"\nseeds = [7, 8]\n[vary]\n\"workload.closer\" = [\"client\", \"server\"]\n\"tcp.local_port_range\" = [[1, 2]]\n",
        );
        let tmp = tempfile::tempdir().unwrap();
        let runs = plan.runs();
        // Written in reverse: completion order must not matter.
        for r in runs.iter().rev() {
            fake_run(tmp.path(), r, 10 + r.index as u64);
        }
        let path = write_sweep_csv(&plan, &runs, tmp.path()).unwrap();
        let text = std::fs::read_to_string(path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with(
                "run,workload.closer,tcp.local_port_range,scenario,seed,sim_time_s,events,"
            ),
            "{}",
            lines[0]
        );
        assert!(lines[0].ends_with(",syn_cookies_sent,listen_drops"));
        assert_eq!(lines.len(), 5);
        assert!(
            lines[1].starts_with("runs/p000-s00,client,\"[1, 2]\",handshake,7,1.5,10,"),
            "{}",
            lines[1]
        );
        assert!(
            lines[4].starts_with("runs/p001-s01,server,\"[1, 2]\",handshake,8,1.5,13,"),
            "{}",
            lines[4]
        );
        // Empty cell for a missing percentile, as in summary.csv.
        assert!(lines[1].contains(",0.01,,4096,"), "{}", lines[1]);
        // The analysis crate reads it back.
        let table = analysis::sweep::SweepTable::load(tmp.path()).unwrap();
        assert_eq!(table.params, ["workload.closer", "tcp.local_port_range"]);
        assert_eq!(table.rows.len(), 4);
        assert_eq!(table.rows[3].summary.events, 13);
    }

    #[test]
    fn merging_with_missing_runs_lists_them_and_writes_nothing() {
        let plan = plan("scenario = \"handshake\"\nseeds = { count = 3, master = 1 }\n");
        let tmp = tempfile::tempdir().unwrap();
        let runs = plan.runs();
        fake_run(tmp.path(), &runs[1], 1);
        let e = write_sweep_csv(&plan, &runs, tmp.path()).unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("2 of 3 runs are missing"), "{msg}");
        assert!(msg.contains("runs/p000-s00, runs/p000-s02"), "{msg}");
        assert!(!tmp.path().join("sweep.csv").exists());
    }

    #[test]
    fn stale_staging_of_pending_runs_is_removed_and_others_kept() {
        let plan = plan("scenario = \"handshake\"\nseeds = [1, 2]\n");
        let tmp = tempfile::tempdir().unwrap();
        let runs = plan.runs();
        let stale = tmp.path().join("runs/.p000-s00.tmp-4242");
        let other = tmp.path().join("runs/.p000-s01.tmp-4243");
        std::fs::create_dir_all(&stale).unwrap();
        std::fs::create_dir_all(&other).unwrap();
        remove_stale_staging(tmp.path(), &[&runs[0]]).unwrap();
        assert!(!stale.exists());
        assert!(other.exists());
    }

    #[test]
    fn a_directory_of_another_plan_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let a = plan("scenario = \"handshake\"\nseeds = [1]\n");
        let b = plan("scenario = \"handshake\"\nseeds = [2]\n");
        prepare_sweep_dir(tmp.path(), &a).unwrap();
        prepare_sweep_dir(tmp.path(), &a).unwrap();
        let e = prepare_sweep_dir(tmp.path(), &b).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert!(e.to_string().contains("another sweep"), "{e}");
        let foreign = tempfile::tempdir().unwrap();
        std::fs::write(foreign.path().join("notes.txt"), b"x").unwrap();
        let e = prepare_sweep_dir(foreign.path(), &a).unwrap_err();
        assert!(e.to_string().contains("not a sweep directory"), "{e}");
        assert!(!foreign.path().join("plan.toml").exists());
    }
}
