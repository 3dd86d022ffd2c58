//! One run's report: outcomes, per-group peak and time-weighted mean of each state,
//! modelled memory and ports, connect latency, and the analytic references; rendered
//! as a table for people, or as tidy CSV or JSON for machines.

use std::io::Write;

use serde::Serialize;

use crate::load::RunData;
use crate::reference::{Reference, Status, references};
use crate::schema::{STATE_COLUMNS, TimeseriesRow};
use crate::stats::{mean, percentile_sorted, time_weighted_mean};
use crate::text::{fmt_bytes, fmt_num, fmt_opt, write_table};

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RunReport {
    pub scenario: String,
    pub seed: u64,
    pub sim_time_s: f64,
    pub events: u64,
    /// `attempted`, `established`, then the connection outcomes.
    pub outcomes: Vec<Count>,
    /// Other `summary.csv` counters (TIME_WAIT overflow, stale segments, RSTs, ...).
    pub counters: Vec<Count>,
    pub groups: Vec<GroupReport>,
    /// All groups together: peak from `summary.csv` (exact, not sampled), mean
    /// from the per-sample totals of `timeseries.csv`.
    pub total_memory_bytes: Usage,
    pub total_ports_in_use: Usage,
    pub latency: Latency,
    pub references: Vec<Reference>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Count {
    pub name: &'static str,
    pub value: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GroupReport {
    pub name: String,
    pub role: String,
    /// From `states.csv`: exact peak and time-weighted mean per state.
    pub states: Vec<StateStat>,
    /// From `timeseries.csv` samples (peak of the samples, time-weighted mean).
    pub memory_bytes: Usage,
    pub ports_in_use: Usage,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StateStat {
    pub state: String,
    pub peak: u64,
    pub mean: f64,
    pub entered: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Usage {
    pub peak: Option<f64>,
    pub mean: Option<f64>,
}

/// Connect latency: `established_s − opened_s` of every connection that
/// established (`connections.csv`); percentiles by nearest rank.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Latency {
    pub n: usize,
    pub mean_s: Option<f64>,
    pub p50_s: Option<f64>,
    pub p90_s: Option<f64>,
    pub p99_s: Option<f64>,
}

impl Latency {
    pub fn of_sorted(sorted: &[f64]) -> Self {
        Latency {
            n: sorted.len(),
            mean_s: mean(sorted),
            p50_s: percentile_sorted(sorted, 0.50),
            p90_s: percentile_sorted(sorted, 0.90),
            p99_s: percentile_sorted(sorted, 0.99),
        }
    }
}

impl RunReport {
    pub fn build(run: &RunData) -> Self {
        let s = &run.summary;
        let count = |pairs: &[(&'static str, u64)]| -> Vec<Count> {
            pairs
                .iter()
                .map(|&(name, value)| Count { name, value })
                .collect()
        };
        let mut outcomes = count(&[("attempted", s.attempted), ("established", s.established)]);
        outcomes.extend(s.outcome_counts().map(|(o, value)| Count {
            name: o.as_str(),
            value,
        }));
        let counters = count(&[
            ("tw_overflow", s.tw_overflow),
            ("stale_accepted", s.stale_accepted),
            ("retransmits", s.retransmits),
            ("rst_sent", s.rst_sent),
            ("listen_drops", s.listen_drops),
            ("syn_cookies_sent", s.syn_cookies_sent),
            ("bytes_discarded", s.bytes_discarded),
        ]);
        let groups = run
            .groups()
            .into_iter()
            .map(|name| {
                let usage = |f: fn(&TimeseriesRow) -> u64| {
                    let samples: Vec<(f64, f64)> = run
                        .timeseries
                        .iter()
                        .filter(|t| t.group == name)
                        .map(|t| (t.time_s, f(t) as f64))
                        .collect();
                    Usage {
                        peak: samples.iter().map(|p| p.1).reduce(f64::max),
                        mean: time_weighted_mean(&samples, s.sim_time_s),
                    }
                };
                GroupReport {
                    role: run.group_role(&name),
                    states: run
                        .states
                        .iter()
                        .filter(|st| st.group == name)
                        .map(|st| StateStat {
                            state: st.state.clone(),
                            peak: st.peak,
                            mean: st.mean,
                            entered: st.entered,
                        })
                        .collect(),
                    memory_bytes: usage(|t| t.memory_bytes),
                    ports_in_use: usage(|t| t.ports_in_use),
                    name,
                }
            })
            .collect();
        RunReport {
            scenario: s.scenario.clone(),
            seed: s.seed,
            sim_time_s: s.sim_time_s,
            events: s.events,
            outcomes,
            counters,
            groups,
            total_memory_bytes: Usage {
                peak: Some(s.peak_memory_bytes as f64),
                mean: time_weighted_mean(&run.sample_totals(|t| t.memory_bytes), s.sim_time_s),
            },
            total_ports_in_use: Usage {
                peak: Some(s.peak_ports_in_use as f64),
                mean: time_weighted_mean(&run.sample_totals(|t| t.ports_in_use), s.sim_time_s),
            },
            latency: Latency::of_sorted(&run.connect_latencies(None)),
            references: references(run),
        }
    }

    /// The readable table.
    pub fn write_table(&self, out: &mut dyn Write) -> std::io::Result<()> {
        writeln!(
            out,
            "run: scenario {}, seed {}, {} s simulated, {} events",
            self.scenario,
            self.seed,
            fmt_num(self.sim_time_s),
            self.events
        )?;
        writeln!(out, "\nOutcomes")?;
        let attempted = self.outcomes[0].value;
        let rows: Vec<Vec<String>> = self
            .outcomes
            .iter()
            .map(|c| {
                let share = if attempted > 0 {
                    format!("{:.1} %", 100.0 * c.value as f64 / attempted as f64)
                } else {
                    "-".to_string()
                };
                vec![c.name.to_string(), c.value.to_string(), share]
            })
            .collect();
        write_table(out, &["outcome", "count", "of attempted"], "lrr", &rows)?;
        writeln!(out, "\nCounters")?;
        let rows: Vec<Vec<String>> = self
            .counters
            .iter()
            .map(|c| vec![c.name.to_string(), c.value.to_string()])
            .collect();
        write_table(out, &["counter", "count"], "lr", &rows)?;
        writeln!(
            out,
            "\nSockets per state (states.csv; states never occupied omitted): peak / time-weighted mean"
        )?;
        // States no socket of any group was ever in are left out.
        let mut states: Vec<&str> = Vec::new();
        for st in self.groups.iter().flat_map(|g| &g.states) {
            if (st.peak > 0 || st.entered > 0) && !states.contains(&st.state.as_str()) {
                states.push(&st.state);
            }
        }
        // In the order of the state diagram: LISTEN, then the timeseries.csv columns;
        // any other name after them, in order of appearance.
        let rank = |state: &str| {
            std::iter::once("listen")
                .chain(STATE_COLUMNS)
                .position(|c| c.eq_ignore_ascii_case(state))
                .unwrap_or(usize::MAX)
        };
        states.sort_by_key(|s| rank(s));
        let mut header = vec!["state".to_string()];
        header.extend(self.groups.iter().map(group_label));
        let rows: Vec<Vec<String>> = states
            .iter()
            .map(|state| {
                let mut row = vec![state.to_string()];
                row.extend(self.groups.iter().map(|g| {
                    g.states
                        .iter()
                        .find(|s| s.state == *state)
                        .map_or("-".to_string(), |s| {
                            format!("{} / {}", s.peak, fmt_num(s.mean))
                        })
                }));
                row
            })
            .collect();
        let header: Vec<&str> = header.iter().map(String::as_str).collect();
        let align = format!("l{}", "r".repeat(self.groups.len()));
        write_table(out, &header, &align, &rows)?;

        writeln!(
            out,
            "\nModelled memory and ports (timeseries.csv samples): peak / time-weighted mean"
        )?;
        let usage_row = |label: String, memory: &Usage, ports: &Usage| {
            vec![
                label,
                format!("{} / {}", fmt_bytes(memory.peak), fmt_bytes(memory.mean)),
                format!("{} / {}", fmt_opt(ports.peak), fmt_opt(ports.mean)),
            ]
        };
        let mut rows: Vec<Vec<String>> = self
            .groups
            .iter()
            .map(|g| usage_row(group_label(g), &g.memory_bytes, &g.ports_in_use))
            .collect();
        rows.push(usage_row(
            "all (peak: summary.csv)".to_string(),
            &self.total_memory_bytes,
            &self.total_ports_in_use,
        ));
        write_table(out, &["group", "memory", "ports in use"], "lrr", &rows)?;

        let l = &self.latency;
        writeln!(
            out,
            "\nConnect latency (established - opened, {} connections): mean {} s, p50 {} s, p90 {} s, p99 {} s",
            l.n,
            fmt_opt(l.mean_s),
            fmt_opt(l.p50_s),
            fmt_opt(l.p90_s),
            fmt_opt(l.p99_s)
        )?;

        writeln!(
            out,
            "\nAnalytic references (FLAG: |rel. error| > tolerance)"
        )?;
        let rows: Vec<Vec<String>> = self
            .references
            .iter()
            .enumerate()
            .map(|(i, r)| {
                vec![
                    format!("[{}]", i + 1),
                    r.model.clone(),
                    r.group.clone(),
                    r.quantity.clone(),
                    fmt_opt(r.measured),
                    fmt_opt(r.reference),
                    r.unit.to_string(),
                    r.rel_error
                        .map_or("-".into(), |e| format!("{:+.2} %", 100.0 * e)),
                    if r.status == Status::NotApplicable {
                        "-".to_string()
                    } else {
                        format!("{:.0} %", 100.0 * r.tolerance)
                    },
                    r.status.as_str().to_string(),
                ]
            })
            .collect();
        write_table(
            out,
            &[
                "",
                "model",
                "group",
                "quantity",
                "measured",
                "reference",
                "unit",
                "rel. error",
                "tol.",
                "status",
            ],
            "llllrrlrrl",
            &rows,
        )?;
        for (i, r) in self.references.iter().enumerate() {
            writeln!(out, "  [{}] {}", i + 1, r.note)?;
        }
        let flagged = self.flagged();
        writeln!(out, "\n{flagged} reference(s) flagged")?;
        Ok(())
    }

    /// How many references are outside their tolerance.
    pub fn flagged(&self) -> usize {
        self.references
            .iter()
            .filter(|r| r.status == Status::Flag)
            .count()
    }

    /// Tidy CSV: one row per (section, group, item, statistic).
    pub fn write_csv(&self, out: &mut dyn Write) -> Result<(), csv::Error> {
        let mut w = csv::Writer::from_writer(out);
        w.write_record([
            "section",
            "group",
            "item",
            "statistic",
            "value",
            "reference",
            "rel_error",
            "tolerance",
            "status",
            "note",
        ])?;
        let mut plain = |section: &str, group: &str, item: &str, stat: &str, value: String| {
            w.write_record([section, group, item, stat, &value, "", "", "", "", ""])
        };
        plain("run", "", "scenario", "value", self.scenario.clone())?;
        plain("run", "", "seed", "value", self.seed.to_string())?;
        plain("run", "", "sim_time_s", "value", fmt_num(self.sim_time_s))?;
        plain("run", "", "events", "value", self.events.to_string())?;
        for c in &self.outcomes {
            plain("outcome", "", c.name, "count", c.value.to_string())?;
        }
        for c in &self.counters {
            plain("counter", "", c.name, "count", c.value.to_string())?;
        }
        for g in &self.groups {
            for s in &g.states {
                plain("state", &g.name, &s.state, "peak", s.peak.to_string())?;
                plain("state", &g.name, &s.state, "mean", fmt_num(s.mean))?;
                plain("state", &g.name, &s.state, "entered", s.entered.to_string())?;
            }
            for (item, u) in [
                ("memory_bytes", &g.memory_bytes),
                ("ports_in_use", &g.ports_in_use),
            ] {
                plain("usage", &g.name, item, "peak", opt_cell(u.peak))?;
                plain("usage", &g.name, item, "mean", opt_cell(u.mean))?;
            }
        }
        for (item, u) in [
            ("memory_bytes", &self.total_memory_bytes),
            ("ports_in_use", &self.total_ports_in_use),
        ] {
            plain("usage", "all", item, "peak", opt_cell(u.peak))?;
            plain("usage", "all", item, "mean", opt_cell(u.mean))?;
        }
        let l = &self.latency;
        plain("latency", "", "connect_s", "n", l.n.to_string())?;
        for (stat, v) in [
            ("mean", l.mean_s),
            ("p50", l.p50_s),
            ("p90", l.p90_s),
            ("p99", l.p99_s),
        ] {
            plain("latency", "", "connect_s", stat, opt_cell(v))?;
        }
        for r in &self.references {
            w.write_record([
                "reference",
                &r.group,
                &r.quantity,
                &r.model,
                &opt_cell(r.measured),
                &opt_cell(r.reference),
                &opt_cell(r.rel_error),
                &fmt_num(r.tolerance),
                r.status.as_str(),
                &r.note,
            ])?;
        }
        w.flush()?;
        Ok(())
    }
}

fn group_label(g: &GroupReport) -> String {
    if g.role.is_empty() {
        g.name.clone()
    } else {
        format!("{} ({})", g.name, g.role)
    }
}

fn opt_cell(x: Option<f64>) -> String {
    x.map(fmt_num).unwrap_or_default()
}
