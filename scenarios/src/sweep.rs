//! `tcpsim sweep`: many runs of one scenario over a grid of `--set` values and seeds
//! (issue 6). Not implemented yet: another helper takes over this file.

use std::path::PathBuf;

use crate::error::CliError;

/// `tcpsim sweep PLAN [--jobs N] [--shard I/N] [--out DIR]`.
#[derive(Debug, Clone, clap::Args)]
pub struct SweepArgs {
    /// The sweep plan (a TOML file).
    pub plan: PathBuf,
    /// Runs in parallel (default: the number of CPUs).
    #[arg(long)]
    pub jobs: Option<usize>,
    /// Run only shard I of N (`0/4`), for a cluster job array.
    #[arg(long)]
    pub shard: Option<String>,
    /// Output directory of the sweep.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Merge the results of finished shards in this directory.
    #[arg(long)]
    pub merge: Option<PathBuf>,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
}

/// Runs a sweep.
pub fn run(args: &SweepArgs) -> Result<(), CliError> {
    Err(CliError::other(format!(
        "tcpsim sweep {}: sweeps are not implemented yet",
        args.plan.display()
    )))
}
