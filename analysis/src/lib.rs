//! analysis: reads the result CSVs of tcpsim runs. It depends on no simulator crate,
//! so it works on results copied back from a cluster.
//!
//! Module map:
//! - [`schema`]: the row types of the CSV contract (shared with the writer).
//! - [`load`]: reading a run directory or a sweep directory, with errors that name
//!   the file, the row and the column.
//! - [`scenario`]: the effective `scenario.toml` read as a generic TOML value.
//! - [`stats`]: percentiles, time-weighted means, Student-t confidence intervals.
//! - [`quantiles`]: exact quantiles of a long stream of integers in memory that
//!   grows with its distinct values (the simulator's connect times).
//! - [`reference`](mod@reference): the analytic reference models (Little's law,
//!   TIME_WAIT steady state, port ceiling, SYN give-up, connect time under loss).
//! - [`summary`]: one run's report (outcomes, per-group states, memory, ports,
//!   latency, references) and its table / CSV / JSON renderings.
//! - [`sweep`]: across-seed statistics per parameter point (`ci.csv`).
//! - [`plot`]: PNG + SVG charts.
//! - [`text`]: number formatting and aligned text tables.
//! - [`report`]: the entry point behind `tcpsim report DIR`.

pub mod error;
pub mod load;
pub mod plot;
pub mod quantiles;
pub mod reference;
pub mod report;
pub mod scenario;
pub mod schema;
pub mod stats;
pub mod summary;
pub mod sweep;
pub mod text;

pub use error::ReportError;
