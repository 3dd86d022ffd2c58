//! Across-seed statistics: per parameter point and metric, the mean, the sample
//! standard deviation and a Student-t 95 % confidence interval (`ci.csv`).
//!
//! Input is a sweep directory (`sweep.csv`: `run`, one column per varied parameter
//! named by its dotted key, then every `summary.csv` column), or a directory whose
//! sub-directories are run directories (then the point is the `scenario` column).

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::ReportError;
use crate::load::{RunData, csv_error, open_csv};
use crate::reference::{Reference, Status, references};
use crate::schema::SummaryRow;
use crate::stats::Interval;
use crate::text::{fmt_num, fmt_opt, write_table};

/// Summary columns that identify a run rather than measure it.
const NOT_METRICS: [&str; 2] = ["scenario", "seed"];

#[derive(Debug, Clone)]
pub struct SweepTable {
    /// Varied parameters, by dotted key, in column order.
    pub params: Vec<String>,
    /// Numeric `summary.csv` columns, in column order.
    pub metrics: Vec<String>,
    pub rows: Vec<SweepRow>,
}

#[derive(Debug, Clone)]
pub struct SweepRow {
    /// The run's directory.
    pub dir: PathBuf,
    /// The parameter values, as written.
    pub point: Vec<String>,
    pub summary: SummaryRow,
    /// One value per metric; `None` for an empty cell (e.g. no connect latency).
    pub values: Vec<Option<f64>>,
}

/// The across-seed statistics of one metric.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricInterval {
    pub metric: String,
    #[serde(flatten)]
    pub interval: Interval,
}

/// The statistics of one parameter point.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PointStats {
    pub point: Vec<String>,
    pub runs: usize,
    /// (metric, interval) for every metric with at least one value.
    pub metrics: Vec<MetricInterval>,
}

impl SweepTable {
    /// Reads `<dir>/sweep.csv`.
    pub fn load(dir: &Path) -> Result<Self, ReportError> {
        let path = dir.join("sweep.csv");
        let mut reader = open_csv(&path)?;
        let headers = reader
            .headers()
            .map_err(|e| csv_error(&path, None, e))?
            .clone();
        if headers.get(0) != Some("run") {
            return Err(ReportError::BadInput(format!(
                "{}: the first column must be `run`",
                path.display()
            )));
        }
        let first_summary = headers
            .iter()
            .position(|h| h == "scenario")
            .ok_or_else(|| {
                ReportError::BadInput(format!(
                    "{}: no `scenario` column (the summary columns must follow the parameters)",
                    path.display()
                ))
            })?;
        let params: Vec<String> = headers
            .iter()
            .skip(1)
            .take(first_summary - 1)
            .map(String::from)
            .collect();
        let summary_headers: csv::StringRecord = headers.iter().skip(first_summary).collect();
        let mut rows = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|e| csv_error(&path, Some(&headers), e))?;
            let summary_part: csv::StringRecord = record.iter().skip(first_summary).collect();
            let row = summary_row(
                &path,
                &headers,
                first_summary,
                &record,
                &summary_headers,
                &summary_part,
            )?;
            rows.push(SweepRow {
                dir: dir.join(&record[0]),
                point: record
                    .iter()
                    .skip(1)
                    .take(first_summary - 1)
                    .map(String::from)
                    .collect(),
                summary: row.0,
                values: row.1,
            });
        }
        Ok(SweepTable {
            params,
            metrics: metric_names(&summary_headers),
            rows,
        })
    }

    /// A directory whose sub-directories (sorted by name) hold `summary.csv`: one
    /// row per run, the point being the scenario name. `None` when there is none.
    pub fn from_run_dirs(dir: &Path) -> Result<Option<Self>, ReportError> {
        let entries = std::fs::read_dir(dir).map_err(|e| ReportError::io(dir, e))?;
        let mut subdirs: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.join("summary.csv").is_file())
            .collect();
        subdirs.sort();
        let mut metrics = Vec::new();
        let mut rows = Vec::new();
        for sub in subdirs {
            let path = sub.join("summary.csv");
            let mut reader = open_csv(&path)?;
            let headers = reader
                .headers()
                .map_err(|e| csv_error(&path, None, e))?
                .clone();
            for record in reader.records() {
                let record = record.map_err(|e| csv_error(&path, Some(&headers), e))?;
                let (summary, values) =
                    summary_row(&path, &headers, 0, &record, &headers, &record)?;
                metrics = metric_names(&headers);
                rows.push(SweepRow {
                    dir: sub.clone(),
                    point: vec![summary.scenario.clone()],
                    summary,
                    values,
                });
            }
        }
        Ok((!rows.is_empty()).then(|| SweepTable {
            params: vec!["scenario".to_string()],
            metrics,
            rows,
        }))
    }

    /// The distinct points in order of first appearance.
    pub fn points(&self) -> Vec<Vec<String>> {
        let mut points: Vec<Vec<String>> = Vec::new();
        for r in &self.rows {
            if !points.contains(&r.point) {
                points.push(r.point.clone());
            }
        }
        points
    }

    /// Mean, sd and 95 % CI per point and metric.
    pub fn intervals(&self) -> Vec<PointStats> {
        self.points()
            .into_iter()
            .map(|point| {
                let rows: Vec<&SweepRow> = self.rows.iter().filter(|r| r.point == point).collect();
                let metrics = self
                    .metrics
                    .iter()
                    .enumerate()
                    .filter_map(|(i, m)| {
                        let xs: Vec<f64> = rows.iter().filter_map(|r| r.values[i]).collect();
                        Some(MetricInterval {
                            metric: m.clone(),
                            interval: Interval::of(&xs)?,
                        })
                    })
                    .collect();
                PointStats {
                    point,
                    runs: rows.len(),
                    metrics,
                }
            })
            .collect()
    }

    /// Computes the analytic references of every run whose directory is present
    /// (a sweep copied without its `runs/` is reported without them). Adds one
    /// metric per (model, group), `ref.<model>.<group>.rel_error`, so that the
    /// across-seed statistics show whether a model is biased at a point (Little's
    /// law, an identity of the accounting, is left out); returns the references
    /// that are flagged, with their run's directory name.
    pub fn add_reference_metrics(&mut self) -> Result<Vec<(String, Reference)>, ReportError> {
        let mut flagged = Vec::new();
        for i in 0..self.rows.len() {
            let dir = &self.rows[i].dir;
            if !dir.join("summary.csv").is_file() {
                continue;
            }
            let run = RunData::load(dir)?;
            let name = dir
                .file_name()
                .map_or(String::new(), |n| n.to_string_lossy().into_owned());
            for r in references(&run) {
                if r.model != "little"
                    && let Some(e) = r.rel_error.filter(|e| e.is_finite())
                {
                    let metric = format!("ref.{}.{}.rel_error", r.model, r.group);
                    let column = match self.metrics.iter().position(|m| *m == metric) {
                        Some(c) => c,
                        None => {
                            self.metrics.push(metric);
                            self.metrics.len() - 1
                        }
                    };
                    let values = &mut self.rows[i].values;
                    values.resize(values.len().max(column + 1), None);
                    values[column] = Some(e);
                }
                if r.status == Status::Flag {
                    flagged.push((name.clone(), r));
                }
            }
        }
        let width = self.metrics.len();
        for row in &mut self.rows {
            row.values.resize(width, None);
        }
        Ok(flagged)
    }

    /// The readable table: per point, every metric that is not zero in all runs.
    pub fn write_table(
        &self,
        stats: &[PointStats],
        flagged: &[(String, Reference)],
        out: &mut dyn Write,
    ) -> std::io::Result<()> {
        writeln!(
            out,
            "sweep: {} runs, {} points, parameters: {}",
            self.rows.len(),
            stats.len(),
            self.params.join(", ")
        )?;
        for p in stats {
            writeln!(
                out,
                "\n{} ({} runs)",
                point_label(&self.params, &p.point),
                p.runs
            )?;
            let rows: Vec<Vec<String>> = p
                .metrics
                .iter()
                .filter(|mi| {
                    mi.metric.starts_with("ref.")
                        || mi.interval.mean != 0.0
                        || mi.interval.sd.is_some_and(|s| s != 0.0)
                })
                .map(|mi| {
                    let iv = &mi.interval;
                    vec![
                        mi.metric.clone(),
                        iv.n.to_string(),
                        fmt_num(iv.mean),
                        fmt_opt(iv.sd),
                        format!("[{}, {}]", fmt_opt(iv.ci_low), fmt_opt(iv.ci_high)),
                    ]
                })
                .collect();
            write_table(
                out,
                &[
                    "metric (all-zero summary columns omitted)",
                    "n",
                    "mean",
                    "sd",
                    "95 % CI",
                ],
                "lrrrr",
                &rows,
            )?;
        }
        writeln!(out, "\n{} reference(s) flagged in the runs", flagged.len())?;
        for (run, r) in flagged {
            writeln!(
                out,
                "  {run}: {} {} {}: measured {} vs reference {} {} ({})",
                r.model,
                r.group,
                r.quantity,
                fmt_opt(r.measured),
                fmt_opt(r.reference),
                r.unit,
                r.note
            )?;
        }
        Ok(())
    }

    pub fn json<'a>(
        &'a self,
        stats: &'a [PointStats],
        flagged: &'a [(String, Reference)],
    ) -> SweepJson<'a> {
        SweepJson {
            params: &self.params,
            points: stats,
            flagged: flagged
                .iter()
                .map(|(run, reference)| FlaggedJson { run, reference })
                .collect(),
        }
    }
}

#[derive(Serialize)]
pub struct SweepJson<'a> {
    pub params: &'a [String],
    pub points: &'a [PointStats],
    pub flagged: Vec<FlaggedJson<'a>>,
}

#[derive(Serialize)]
pub struct FlaggedJson<'a> {
    pub run: &'a str,
    pub reference: &'a Reference,
}

/// `key=value, key=value`.
pub fn point_label(params: &[String], point: &[String]) -> String {
    params
        .iter()
        .zip(point)
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

fn metric_names(summary_headers: &csv::StringRecord) -> Vec<String> {
    summary_headers
        .iter()
        .filter(|h| !NOT_METRICS.contains(h))
        .map(String::from)
        .collect()
}

/// Validates the summary part of a record as a [`SummaryRow`] and extracts the
/// numeric metric cells. `offset` is where the summary columns start in the full
/// record (for error messages).
fn summary_row(
    path: &Path,
    full_headers: &csv::StringRecord,
    offset: usize,
    full: &csv::StringRecord,
    headers: &csv::StringRecord,
    record: &csv::StringRecord,
) -> Result<(SummaryRow, Vec<Option<f64>>), ReportError> {
    let line = full.position().map_or(0, |p| p.line());
    let summary: SummaryRow = record.deserialize(Some(headers)).map_err(|e| {
        let column = match e.kind() {
            csv::ErrorKind::Deserialize { err, .. } => err
                .field()
                .and_then(|f| full_headers.get(offset + f as usize))
                .map(|c| format!(", column `{c}`"))
                .unwrap_or_default(),
            _ => String::new(),
        };
        ReportError::BadInput(format!("{}: line {line}{column}: {e}", path.display()))
    })?;
    let mut values = Vec::new();
    for (h, cell) in headers.iter().zip(record.iter()) {
        if NOT_METRICS.contains(&h) {
            continue;
        }
        values.push(if cell.is_empty() {
            None
        } else {
            Some(cell.parse::<f64>().map_err(|e| {
                ReportError::BadInput(format!(
                    "{}: line {line}, column `{h}`: {e}",
                    path.display()
                ))
            })?)
        });
    }
    Ok((summary, values))
}

/// Writes `ci.csv`: the parameters, then metric, n, mean, sd, ci_low, ci_high
/// (sd and the interval are empty for n = 1).
pub fn write_ci_csv(
    table: &SweepTable,
    stats: &[PointStats],
    out: &mut dyn Write,
) -> Result<(), csv::Error> {
    let mut w = csv::Writer::from_writer(out);
    let mut header: Vec<&str> = table.params.iter().map(String::as_str).collect();
    header.extend(["metric", "n", "mean", "sd", "ci_low", "ci_high"]);
    w.write_record(&header)?;
    let cell = |x: Option<f64>| x.map(|v| v.to_string()).unwrap_or_default();
    for p in stats {
        for MetricInterval {
            metric: m,
            interval: iv,
        } in &p.metrics
        {
            let mut rec: Vec<String> = p.point.clone();
            rec.extend([
                m.clone(),
                iv.n.to_string(),
                iv.mean.to_string(),
                cell(iv.sd),
                cell(iv.ci_low),
                cell(iv.ci_high),
            ]);
            w.write_record(&rec)?;
        }
    }
    w.flush()?;
    Ok(())
}

/// [`write_ci_csv`] into a file, atomically (temporary file, then rename).
pub fn write_ci_csv_file(
    table: &SweepTable,
    stats: &[PointStats],
    path: &Path,
) -> Result<(), ReportError> {
    let mut buf = Vec::new();
    write_ci_csv(table, stats, &mut buf).map_err(|e| ReportError::io(path, e.into()))?;
    write_atomic(path, &buf)
}

/// Writes `bytes` to a temporary file beside `path`, then renames it into place.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ReportError> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(|e| ReportError::io(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| ReportError::io(path, e))
}
