//! Reading result directories. Every error names the file and, for a cell that does
//! not parse, the line, the data row and the column, so a user can fix a hand-edited
//! or truncated file.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;

use crate::error::ReportError;
use crate::scenario::Scenario;
use crate::schema::{ConnectionRow, Outcome, StatesRow, SummaryRow, TimeseriesRow};

/// Everything one run directory holds that the report uses.
#[derive(Debug, Clone)]
pub struct RunData {
    pub dir: PathBuf,
    pub summary: SummaryRow,
    pub states: Vec<StatesRow>,
    pub timeseries: Vec<TimeseriesRow>,
    /// `connections.csv`, compacted (see [`Connection`]).
    pub connections: Vec<Connection>,
    /// The host names the connections name.
    pub hosts: HostNames,
    /// `None` when the directory has no `scenario.toml`: references become "n/a".
    pub scenario: Option<Scenario>,
}

/// A `connections.csv` row as the report keeps it: the columns it uses, with host
/// names as indices into [`RunData::hosts`]. 56 bytes, where a whole
/// [`ConnectionRow`] with its five strings takes about 480: a report on 10^7
/// connections holds 0.5 GB instead of 4.8. Every column of every row is still
/// read and checked.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Connection {
    pub client: HostId,
    pub server: HostId,
    pub client_port: Option<u16>,
    pub server_port: u16,
    pub outcome: Outcome,
    pub opened_s: f64,
    pub established_s: Option<f64>,
    pub finished_s: Option<f64>,
}

/// A host of [`HostNames`]. Ids follow the names' order, so ordering by id orders
/// by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct HostId(u32);

/// Host names (`group/index`), each stored once, sorted.
#[derive(Debug, Clone, Default)]
pub struct HostNames {
    names: Vec<String>,
}

impl HostNames {
    /// The name of `id`.
    pub fn name(&self, id: HostId) -> &str {
        &self.names[id.0 as usize]
    }

    /// The group of `id` (the part of its name before `/`).
    pub fn group(&self, id: HostId) -> &str {
        host_group(self.name(id))
    }
}

/// Reads `connections.csv` row by row into [`Connection`]s and their host names.
fn read_connections(path: &Path) -> Result<(Vec<Connection>, HostNames), ReportError> {
    // Ids in order of first appearance while reading, renumbered in name order
    // after.
    let mut ids: BTreeMap<String, u32> = BTreeMap::new();
    let mut id_of = |name: String| {
        let next = ids.len() as u32;
        HostId(*ids.entry(name).or_insert(next))
    };
    let mut connections = Vec::new();
    for_each_row(path, |r: ConnectionRow| {
        connections.push(Connection {
            client: id_of(r.client),
            server: id_of(r.server),
            client_port: r.client_port,
            server_port: r.server_port,
            outcome: r.outcome,
            opened_s: r.opened_s,
            established_s: r.established_s,
            finished_s: r.finished_s,
        });
    })?;
    let mut renumber = vec![HostId(0); ids.len()];
    let names = ids
        .into_iter()
        .enumerate()
        .map(|(sorted, (name, first_seen))| {
            renumber[first_seen as usize] = HostId(sorted as u32);
            name
        })
        .collect();
    for c in &mut connections {
        c.client = renumber[c.client.0 as usize];
        c.server = renumber[c.server.0 as usize];
    }
    Ok((connections, HostNames { names }))
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
        let (connections, hosts) = read_connections(&dir.join("connections.csv"))?;
        Ok(RunData {
            dir: dir.to_path_buf(),
            summary,
            states: read_csv(&dir.join("states.csv"))?,
            timeseries: read_csv(&dir.join("timeseries.csv"))?,
            connections,
            hosts,
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
            .filter(|c| group.is_none_or(|g| self.hosts.group(c.client) == g))
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
    let mut rows = Vec::new();
    for_each_row(path, |row| rows.push(row))?;
    Ok(rows)
}

/// Reads a CSV file with a header row, handing each typed row to `f` as it is
/// read (one row in memory at a time).
fn for_each_row<T: DeserializeOwned>(path: &Path, mut f: impl FnMut(T)) -> Result<(), ReportError> {
    let mut reader = open_csv(path)?;
    let headers = reader
        .headers()
        .map_err(|e| csv_error(path, None, e))?
        .clone();
    for record in reader.deserialize() {
        f(record.map_err(|e| csv_error(path, Some(&headers), e))?);
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: u64, client: &str, server: &str, opened_s: f64) -> ConnectionRow {
        ConnectionRow {
            id,
            client: client.into(),
            client_port: (id % 2 == 0).then_some(40000 + id as u16),
            server: server.into(),
            server_port: 80,
            opened_s,
            established_s: Some(opened_s + 0.004),
            finished_s: None,
            outcome: Outcome::Completed,
            active_closer: "client".into(),
            client_path: "SYN_SENT>ESTABLISHED".into(),
            server_path: String::new(),
            retransmits: 0,
            bytes_discarded: 0,
            stale_accepted: 0,
            bytes_delivered: 0,
            close_blocked_s: None,
        }
    }

    #[test]
    fn connections_keep_their_columns_and_host_ids_order_as_names() {
        // Hosts first seen out of name order: `clients/10` before `clients/2`.
        let rows = [
            row(1, "clients/10", "server/0", 0.5),
            row(2, "clients/2", "server/0", 0.25),
            row(3, "clients/10", "server/1", 1.0),
            row(4, "attackers/0", "server/1", 2.0),
        ];
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("connections.csv");
        let mut w = csv::Writer::from_path(&path).unwrap();
        rows.iter().for_each(|r| w.serialize(r).unwrap());
        w.flush().unwrap();

        let (conns, hosts) = read_connections(&path).unwrap();
        assert_eq!(conns.len(), rows.len());
        for (c, r) in conns.iter().zip(&rows) {
            assert_eq!(hosts.name(c.client), r.client);
            assert_eq!(hosts.name(c.server), r.server);
            assert_eq!(hosts.group(c.client), r.client.split('/').next().unwrap());
            assert_eq!(
                (c.client_port, c.server_port, c.outcome),
                (r.client_port, r.server_port, r.outcome)
            );
            assert_eq!(
                (c.opened_s, c.established_s, c.finished_s),
                (r.opened_s, r.established_s, r.finished_s)
            );
        }
        let mut by_id: Vec<(HostId, &str)> = conns
            .iter()
            .flat_map(|c| [c.client, c.server])
            .map(|h| (h, hosts.name(h)))
            .collect();
        by_id.sort();
        assert!(by_id.windows(2).all(|w| w[0].1 <= w[1].1), "{by_id:?}");
        assert_eq!(std::mem::size_of::<Connection>(), 56);
    }

    #[test]
    fn a_bad_connection_row_names_file_row_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("connections.csv");
        let mut w = csv::Writer::from_path(&path).unwrap();
        w.serialize(row(1, "clients/0", "server/0", 0.5)).unwrap();
        w.flush().unwrap();
        drop(w);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replace(",0.5,", ",half,")).unwrap();
        let e = read_connections(&path).unwrap_err().to_string();
        assert!(e.contains("connections.csv") && e.contains("row 1"), "{e}");
        assert!(e.contains("column `opened_s`"), "{e}");
    }
}
