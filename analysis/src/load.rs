//! Reading result directories. Every error names the file and, for a cell that does
//! not parse, the line, the data row and the column, so a user can fix a hand-edited
//! or truncated file.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use crate::error::ReportError;
use crate::scenario::Scenario;
use crate::schema::{ConnectionRow, StatesRow, SummaryRow, TimeseriesRow};

/// Everything one run directory holds that the report uses.
#[derive(Debug, Clone)]
pub struct RunData {
    pub dir: PathBuf,
    pub summary: SummaryRow,
    pub states: Vec<StatesRow>,
    pub timeseries: Vec<TimeseriesRow>,
    pub connections: Vec<ConnectionRow>,
    /// `None` when the directory has no `scenario.toml`: references become "n/a".
    pub scenario: Option<Scenario>,
}

impl RunData {
    /// Reads `summary.csv`, `states.csv`, `timeseries.csv`, `connections.csv` and
    /// (if present) `scenario.toml` from `dir`.
    pub fn load(dir: &Path) -> Result<Self, ReportError> {
        let summary_path = dir.join("summary.csv");
        let mut summaries: Vec<SummaryRow> = read_csv(&summary_path)?;
        if summaries.len() != 1 {
            return Err(ReportError::BadInput(format!(
                "{}: expected exactly one data row, found {}",
                summary_path.display(),
                summaries.len()
            )));
        }
        let summary = summaries.remove(0);
        let scenario_path = dir.join("scenario.toml");
        let scenario = if scenario_path.exists() {
            Some(Scenario::load(&scenario_path)?)
        } else {
            None
        };
        Ok(RunData {
            dir: dir.to_path_buf(),
            summary,
            states: read_csv(&dir.join("states.csv"))?,
            timeseries: read_csv(&dir.join("timeseries.csv"))?,
            connections: read_csv(&dir.join("connections.csv"))?,
            scenario,
        })
    }

    /// The groups of a run in the order of `states.csv` (first appearance), then any
    /// other group of the time series.
    pub fn groups(&self) -> Vec<String> {
        let mut groups: Vec<String> = Vec::new();
        let names = self
            .states
            .iter()
            .map(|s| &s.group)
            .chain(self.timeseries.iter().map(|t| &t.group));
        for name in names {
            if !groups.contains(name) {
                groups.push(name.clone());
            }
        }
        groups
    }

    /// The role of a group from `scenario.toml`; without it, guessed from the name.
    pub fn group_role(&self, group: &str) -> String {
        self.scenario
            .as_ref()
            .and_then(|s| s.groups().into_iter().find(|g| g.name == group))
            .map(|g| g.role)
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| {
                if group.starts_with("client") {
                    "client".to_string()
                } else if group.starts_with("server") {
                    "server".to_string()
                } else {
                    String::new()
                }
            })
    }

    /// The per-sample sum over all groups of one `timeseries.csv` column, in time
    /// order.
    pub fn sample_totals(&self, f: fn(&TimeseriesRow) -> u64) -> Vec<(f64, f64)> {
        let mut totals: Vec<(f64, f64)> = Vec::new();
        for t in &self.timeseries {
            match totals.iter_mut().rev().find(|p| p.0 == t.time_s) {
                Some(p) => p.1 += f(t) as f64,
                None => totals.push((t.time_s, f(t) as f64)),
            }
        }
        totals.sort_by(|a, b| a.0.total_cmp(&b.0));
        totals
    }

    /// Connect latencies of the connections whose client is in `group` (all when
    /// `None`), sorted ascending.
    pub fn connect_latencies(&self, group: Option<&str>) -> Vec<f64> {
        let mut xs: Vec<f64> = self
            .connections
            .iter()
            .filter(|c| group.is_none_or(|g| host_group(&c.client) == g))
            .filter_map(|c| Some(c.established_s? - c.opened_s))
            .collect();
        xs.sort_by(f64::total_cmp);
        xs
    }
}

/// The group part of a host name `group/index`.
pub fn host_group(host: &str) -> &str {
    host.split_once('/').map_or(host, |(g, _)| g)
}

/// Reads a whole CSV file with a header row into typed rows.
pub fn read_csv<T: DeserializeOwned>(path: &Path) -> Result<Vec<T>, ReportError> {
    let mut reader = open_csv(path)?;
    let headers = reader
        .headers()
        .map_err(|e| csv_error(path, None, e))?
        .clone();
    let mut rows = Vec::new();
    for record in reader.deserialize() {
        rows.push(record.map_err(|e| csv_error(path, Some(&headers), e))?);
    }
    Ok(rows)
}

/// Opens a CSV file; a missing or unreadable file is bad input.
pub(crate) fn open_csv(path: &Path) -> Result<csv::Reader<BufReader<File>>, ReportError> {
    let file = File::open(path)
        .map_err(|e| ReportError::BadInput(format!("{}: cannot open: {e}", path.display())))?;
    Ok(csv::Reader::from_reader(BufReader::new(file)))
}

/// Turns a csv/serde error into a message naming the file, the line, the data row
/// (1 = first row after the header) and the column.
pub(crate) fn csv_error(
    path: &Path,
    headers: Option<&csv::StringRecord>,
    err: csv::Error,
) -> ReportError {
    let file = path.display();
    let msg = match err.kind() {
        csv::ErrorKind::Deserialize { pos, err: de } => {
            let column = de
                .field()
                .and_then(|f| headers.and_then(|h| h.get(f as usize)))
                .map(|c| format!(", column `{c}`"))
                .unwrap_or_default();
            let place = pos
                .as_ref()
                .map(|p| format!("line {}, row {}", p.line(), p.record()))
                .unwrap_or_else(|| "unknown row".to_string());
            format!("{file}: {place}{column}: {}", de.kind())
        }
        csv::ErrorKind::UnequalLengths {
            pos,
            expected_len,
            len,
        } => {
            let place = pos
                .as_ref()
                .map(|p| format!("line {}, row {}", p.line(), p.record()))
                .unwrap_or_else(|| "unknown row".to_string());
            format!("{file}: {place}: {len} fields, the header has {expected_len}")
        }
        _ => format!("{file}: {err}"),
    };
    ReportError::BadInput(msg)
}
