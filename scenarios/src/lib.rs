//! `scenarios`: the `tcpsim` binary's library — scenario files, workloads, the run
//! harness that wires hosts (sim-tcp) and links (sim-core) to the scheduler, and the
//! output writers.
//!
//! # Module map
//!
//! - [`spec`]: the scenario schema (serde, unknown keys rejected), `--set` overrides,
//!   validation, the effective scenario (`tcpsim show`).
//! - [`builtin`]: the ten built-in scenarios, embedded TOML files.
//! - [`run`]: one run from a [`spec::Scenario`] to a result directory.
//! - `harness`: the simulation loop — star topology, workload, outcomes.
//! - `output`: atomic, buffered CSV/JSON/TOML writers; `pcap`: `--pcap` encoding.
//! - [`sweep`]: `tcpsim sweep` (issue 6).
//! - [`error`]: [`CliError`] and exit codes.
//!
//! # Stable library API (used by sweeps)
//!
//! ```no_run
//! use scenarios::{spec, run::{self, RunOptions}};
//! // A built-in name or a path; `--set`-style overrides, applied in order.
//! let sc = spec::load("client-close", &["workload.rate=200".into()])?;
//! let outcome = run::run(&sc, &RunOptions::new("out/client-close-200"))?;
//! println!("{} completed", outcome.summary.completed);
//! # Ok::<(), scenarios::CliError>(())
//! ```
//!
//! - [`spec::load`]`(source, sets) -> Result<Scenario, CliError>`: reads a built-in
//!   scenario or a file, applies every `KEY=VALUE` of `sets`, validates. Bad input is
//!   [`CliError::BadInput`] (exit status 2) and nothing is written.
//! - [`spec::apply_set`]`(&mut toml::Value, "key=value")`: the dotted-path override
//!   of `--set`, on a parsed scenario (e.g. to build a sweep's variants).
//! - [`spec::Scenario::from_value`]: validation of such a value.
//! - [`run::run`]`(&Scenario, &RunOptions) -> Result<RunOutcome, CliError>`: runs the
//!   simulation and writes the result directory atomically (everything goes to a
//!   temporary sibling directory that is renamed into place at the end);
//!   [`run::RunOutcome`] carries the `summary.csv` row and the `run.json` record.
//!   [`run::RunOutcome::describe`] is the human summary `tcpsim run` prints;
//!   [`run::default_out_dir`] is `out/<scenario>-seed<N>`.
//! - [`spec::Scenario::to_toml`]: the effective scenario (`tcpsim show`, and
//!   `scenario.toml` in every run directory).
//! - [`CliError::exit_code`]: 2 for bad input, 1 for anything else.
//!
//! A run is single-threaded and deterministic: the same scenario and seed give
//! byte-identical files (all but `run.json`), whatever else runs in the process, so
//! sweeps may run many of them on a thread pool.

pub mod builtin;
pub mod error;
mod harness;
mod output;
mod pcap;
pub mod run;
pub mod spec;
pub mod sweep;

pub use error::CliError;
