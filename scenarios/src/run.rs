//! One run: from a validated [`Scenario`] to a result directory.

use std::path::{Path, PathBuf};

use analysis::schema::{RunInfo, SummaryRow};

use crate::error::CliError;
use crate::spec::Scenario;

/// How to run and where to write.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// The result directory (created; an earlier result directory there is replaced).
    pub out: PathBuf,
    /// Also write `transitions.csv` (every state change).
    pub trace: bool,
    /// Also write every segment to this pcap file.
    pub pcap: Option<PathBuf>,
    /// Show a progress bar on stderr.
    pub progress: bool,
}

impl RunOptions {
    /// Options writing to `out`, without trace, pcap or progress bar.
    pub fn new(out: impl Into<PathBuf>) -> Self {
        RunOptions {
            out: out.into(),
            trace: false,
            pcap: None,
            progress: false,
        }
    }
}

/// What a run produced.
#[derive(Debug, Clone)]
pub struct RunOutcome {
    /// The result directory.
    pub dir: PathBuf,
    /// The `summary.csv` row.
    pub summary: SummaryRow,
    /// The `run.json` record (wall time, speed, peak RSS).
    pub info: RunInfo,
}

/// The default result directory: `out/<scenario>-seed<N>`.
pub fn default_out_dir(sc: &Scenario) -> PathBuf {
    Path::new("out").join(format!("{}-seed{}", sc.name, sc.run.seed))
}

/// Runs the scenario and writes its result directory.
pub fn run(sc: &Scenario, opts: &RunOptions) -> Result<RunOutcome, CliError> {
    Err(CliError::other(format!(
        "run {} into {}: the harness is not wired yet",
        sc.name,
        opts.out.display()
    )))
}
