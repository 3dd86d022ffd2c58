//! The entry point behind `tcpsim report DIR [--plots] [--format table|csv|json]`.

use std::io::Write;
use std::path::{Path, PathBuf};

pub use crate::error::ReportError;
use crate::load::RunData;
use crate::summary::RunReport;
use crate::sweep::SweepTable;

/// Output format of the report on stdout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Aligned text for people.
    #[default]
    Table,
    /// Tidy CSV (one observation per row) for machines.
    Csv,
    /// One JSON document.
    Json,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportOptions {
    /// A run directory (holds `summary.csv`), a sweep directory (holds `sweep.csv`),
    /// or a directory whose sub-directories are run directories.
    pub dir: PathBuf,
    pub format: Format,
    /// Write PNG + SVG charts into `<dir>/plots/`.
    pub plots: bool,
}

/// What kind of directory `report` was given.
enum Input {
    Run(Box<RunData>),
    Sweep(SweepTable),
}

fn classify(dir: &Path) -> Result<Input, ReportError> {
    if !dir.is_dir() {
        return Err(ReportError::BadInput(format!(
            "{}: not a directory",
            dir.display()
        )));
    }
    if dir.join("sweep.csv").exists() {
        Ok(Input::Sweep(SweepTable::load(dir)?))
    } else if dir.join("summary.csv").exists() {
        Ok(Input::Run(Box::new(RunData::load(dir)?)))
    } else {
        match SweepTable::from_run_dirs(dir)? {
            Some(table) => Ok(Input::Sweep(table)),
            None => Err(ReportError::BadInput(format!(
                "{}: neither a run directory (summary.csv), a sweep directory (sweep.csv) nor a directory of runs",
                dir.display()
            ))),
        }
    }
}

/// Reads a run or sweep directory, writes the report to `out`, writes plots (PNG +
/// SVG) into `<dir>/plots/` when asked and `<dir>/ci.csv` for sweeps; returns the
/// paths written.
pub fn report(opts: &ReportOptions, out: &mut dyn Write) -> Result<Vec<PathBuf>, ReportError> {
    let stdout = |e: std::io::Error| ReportError::io("<output>", e);
    let mut written = Vec::new();
    match classify(&opts.dir)? {
        Input::Run(run) => {
            let rep = RunReport::build(&run);
            match opts.format {
                Format::Table => rep.write_table(out).map_err(stdout)?,
                Format::Csv => rep.write_csv(out).map_err(|e| stdout(e.into()))?,
                Format::Json => write_json(out, &rep).map_err(stdout)?,
            }
            if opts.plots {
                written.extend(crate::plot::run_plots(&run, &rep, &opts.dir.join("plots"))?);
            }
        }
        Input::Sweep(mut table) => {
            let flagged = table.add_reference_metrics()?;
            let stats = table.intervals();
            let ci_path = opts.dir.join("ci.csv");
            crate::sweep::write_ci_csv_file(&table, &stats, &ci_path)?;
            written.push(ci_path);
            match opts.format {
                Format::Table => table.write_table(&stats, &flagged, out).map_err(stdout)?,
                Format::Csv => crate::sweep::write_ci_csv(&table, &stats, &mut *out)
                    .map_err(|e| stdout(e.into()))?,
                Format::Json => write_json(out, &table.json(&stats, &flagged)).map_err(stdout)?,
            }
            if opts.plots {
                written.extend(crate::plot::sweep_plots(
                    &table,
                    &stats,
                    &opts.dir.join("plots"),
                )?);
            }
        }
    }
    Ok(written)
}

fn write_json<T: serde::Serialize>(out: &mut dyn Write, value: &T) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *out, value)?;
    writeln!(out)
}
