//! One run: from a validated [`Scenario`] to a result directory.

use std::path::{Path, PathBuf};

use analysis::schema::{RunInfo, SummaryRow};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use sim_core::SimTime;

use crate::error::CliError;
use crate::harness::{self, Sinks};
use crate::output::{Staging, peak_rss_bytes};
use crate::pcap::PcapOut;
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

/// Runs the scenario and writes its result directory: `scenario.toml`,
/// `summary.csv`, `states.csv`, `timeseries.csv`, `connections.csv`, `run.json`, and
/// with `trace` `transitions.csv`. Everything is written into a hidden sibling
/// directory first and renamed into place at the end; the pcap likewise.
pub fn run(sc: &Scenario, opts: &RunOptions) -> Result<RunOutcome, CliError> {
    // Wall-clock time only measures the run for run.json, which is documented as
    // the one non-deterministic file; it never reaches the simulation.
    #[allow(clippy::disallowed_methods)]
    let started = std::time::Instant::now();
    let staging = Staging::create(&opts.out)?;
    let result = write_run(sc, opts, &staging, started);
    match result {
        Ok((summary, info)) => {
            let dir = staging.commit()?;
            Ok(RunOutcome { dir, summary, info })
        }
        Err(e) => {
            staging.abandon();
            Err(e)
        }
    }
}

fn write_run(
    sc: &Scenario,
    opts: &RunOptions,
    staging: &Staging,
    started: std::time::Instant,
) -> Result<(SummaryRow, RunInfo), CliError> {
    staging.write("scenario.toml", sc.to_toml().as_bytes())?;
    let mut timeseries = staging.csv("timeseries.csv")?;
    let mut connections = staging.csv("connections.csv")?;
    let mut transitions = if opts.trace {
        Some(staging.csv("transitions.csv")?)
    } else {
        None
    };
    let mut pcap = opts.pcap.as_deref().map(PcapOut::create).transpose()?;
    let bar = progress_bar(sc, opts.progress);
    let total_s = harness::horizon(sc).as_secs_f64();
    let mut progress = |t: SimTime| {
        bar.set_position(t.as_nanos() / 1_000_000);
        bar.set_message(format!(
            "{:.0} s of at most {total_s:.0} s",
            t.as_secs_f64()
        ));
    };
    let results = harness::simulate(
        sc,
        opts.trace,
        Sinks {
            timeseries: &mut timeseries,
            connections: &mut connections,
            transitions: transitions.as_mut(),
            pcap: pcap.as_mut(),
            progress: &mut progress,
        },
    );
    bar.finish_and_clear();
    let results = results?;
    timeseries.finish()?;
    connections.finish()?;
    if let Some(t) = transitions {
        t.finish()?;
    }
    let mut states = staging.csv("states.csv")?;
    states.rows(&results.states)?;
    states.finish()?;
    let mut summary = staging.csv("summary.csv")?;
    summary.row(&results.summary)?;
    summary.finish()?;
    if let Some(p) = pcap {
        p.finish()?;
    }
    let wall = started.elapsed().as_secs_f64();
    let s = &results.summary;
    let per_s = |n: u64| if wall > 0.0 { n as f64 / wall } else { 0.0 };
    let info = RunInfo {
        version: env!("CARGO_PKG_VERSION").to_string(),
        scenario: sc.name.clone(),
        seed: sc.run.seed,
        wall_time_s: wall,
        events: s.events,
        events_per_s: per_s(s.events),
        connections: s.attempted,
        connections_per_s: per_s(s.attempted),
        peak_rss_bytes: peak_rss_bytes(),
    };
    let json = serde_json::to_string_pretty(&info)
        .map_err(|e| CliError::other(format!("run.json: {e}")))?;
    staging.write("run.json", format!("{json}\n").as_bytes())?;
    Ok((results.summary, info))
}

/// Simulated time against the end of the run, on stderr (hidden unless `show`).
fn progress_bar(sc: &Scenario, show: bool) -> ProgressBar {
    if !show {
        return ProgressBar::hidden();
    }
    let total_ms = harness::horizon(sc).as_nanos() / 1_000_000;
    let bar = ProgressBar::with_draw_target(Some(total_ms), ProgressDrawTarget::stderr());
    bar.set_style(
        ProgressStyle::with_template("{prefix} [{bar:40}] {msg} simulated, {elapsed} wall")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(sc.name.clone());
    bar
}

impl RunOutcome {
    /// A short human summary: what happened and where the files are.
    pub fn describe(&self) -> String {
        let s = &self.summary;
        let mut out = format!(
            "{} (seed {}): {} connections in {:.1} s of simulated time ({:.2} s wall, {:.0} events/s)\n",
            s.scenario,
            s.seed,
            s.attempted,
            s.sim_time_s,
            self.info.wall_time_s,
            self.info.events_per_s
        );
        let listed: Vec<String> = s
            .outcome_counts()
            .iter()
            .filter(|(_, n)| *n > 0)
            .map(|(o, n)| format!("{} {n}", o.as_str()))
            .collect();
        if !listed.is_empty() {
            out.push_str(&format!("  outcomes: {}\n", listed.join(", ")));
        }
        out.push_str(&format!(
            "  peak TIME_WAIT {}, peak ports in use {}, peak modelled memory {:.1} KiB, RSTs sent {}, retransmits {}\n",
            s.peak_time_wait,
            s.peak_ports_in_use,
            s.peak_memory_bytes as f64 / 1024.0,
            s.rst_sent,
            s.retransmits
        ));
        let notable: Vec<String> = [
            ("SYN cookies sent", s.syn_cookies_sent),
            ("listen drops", s.listen_drops),
            ("TIME_WAIT overflows", s.tw_overflow),
            ("stale segments accepted", s.stale_accepted),
            ("bytes discarded", s.bytes_discarded),
        ]
        .iter()
        .filter(|(_, n)| *n > 0)
        .map(|(k, n)| format!("{k} {n}"))
        .collect();
        if !notable.is_empty() {
            out.push_str(&format!("  {}\n", notable.join(", ")));
        }
        if let (Some(p50), Some(p99)) = (s.connect_p50_s, s.connect_p99_s) {
            out.push_str(&format!(
                "  connect time p50 {:.1} ms, p99 {:.1} ms\n",
                p50 * 1e3,
                p99 * 1e3
            ));
        }
        out.push_str(&format!(
            "results in {}/ (summary.csv, states.csv, timeseries.csv, connections.csv, scenario.toml, run.json); `tcpsim report {}` summarizes them",
            self.dir.display(),
            self.dir.display()
        ));
        out
    }
}
