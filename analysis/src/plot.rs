//! Charts, each written as PNG and SVG with plotters. Text uses the DejaVu Sans font
//! embedded by the `dejavu` crate and registered with plotters' `ab_glyph` backend,
//! so no system font library is needed (ECOSYSTEM.md, "plots").
//!
//! A run gives `states_<group>` (stacked sockets per state over time),
//! `time_wait` (TIME_WAIT count against the R × T reference), `memory` (modelled
//! kernel memory over time) and `connect_cdf` (connect-latency CDF). A sweep gives
//! `sweep_<metric>_vs_<param>`: the mean over seeds against a swept parameter with
//! its 95 % confidence band.

use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::error::ReportError;
use crate::load::RunData;
use crate::reference::{Status, steady_window};
use crate::scenario::parse_duration_s;
use crate::schema::STATE_COLUMNS;
use crate::summary::RunReport;
use crate::sweep::{PointStats, SweepTable, point_label};
use crate::text::{byte_unit, fmt_num};

/// Size of every chart, in pixels.
pub const WIDTH: u32 = 1200;
pub const HEIGHT: u32 = 700;

/// Metrics plotted against each swept parameter (those present and not all zero).
pub const SWEEP_METRICS: [&str; 8] = [
    "completed",
    "port_exhausted",
    "connect_timeout",
    "tw_overflow",
    "peak_time_wait",
    "peak_ports_in_use",
    "peak_memory_bytes",
    "connect_p99_s",
];

/// A 2-D chart with a floating-point y axis.
type Chart2d<'a, DB, X> = ChartContext<'a, DB, Cartesian2d<X, RangedCoordf64>>;

/// (time in s, value) samples of one series.
type Samples = Vec<(f64, f64)>;
/// (x, mean, ci_low, ci_high) of one sweep point.
type CiPoint = (f64, f64, f64, f64);

type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// One chart, drawable on any plotters backend.
trait Chart {
    /// File name without extension.
    fn name(&self) -> String;
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB>;
}

static FONT: Once = Once::new();

/// Registers DejaVu Sans as plotters' "sans-serif" (once per process).
fn register_font() {
    FONT.call_once(|| {
        // The embedded font is valid TrueType; a failure would leave text blank,
        // which the plot tests would not catch, so fail loudly instead.
        plotters::style::register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular())
            .unwrap_or_else(|_| panic!("the embedded DejaVu Sans font does not load"));
        plotters::style::register_font("sans-serif", FontStyle::Bold, dejavu::sans::bold())
            .unwrap_or_else(|_| panic!("the embedded DejaVu Sans Bold font does not load"));
    });
}

/// Draws `chart` into `<dir>/<name>.png` and `.svg` (each via a temporary file
/// renamed into place) and returns both paths.
fn save(chart: &impl Chart, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    register_font();
    std::fs::create_dir_all(dir).map_err(|e| ReportError::io(dir, e))?;
    let name = chart.name();
    let png = dir.join(format!("{name}.png"));
    let svg = dir.join(format!("{name}.svg"));
    let plot_err = |path: &Path, e: String| ReportError::Plot {
        path: path.to_path_buf(),
        message: e,
    };
    let tmp_png = dir.join(format!(".{name}.tmp.png"));
    {
        let root = BitMapBackend::new(&tmp_png, (WIDTH, HEIGHT)).into_drawing_area();
        draw_on(chart, &root).map_err(|e| plot_err(&png, e))?;
    }
    std::fs::rename(&tmp_png, &png).map_err(|e| ReportError::io(&png, e))?;
    let tmp_svg = dir.join(format!(".{name}.tmp.svg"));
    {
        let root = SVGBackend::new(&tmp_svg, (WIDTH, HEIGHT)).into_drawing_area();
        draw_on(chart, &root).map_err(|e| plot_err(&svg, e))?;
    }
    std::fs::rename(&tmp_svg, &svg).map_err(|e| ReportError::io(&svg, e))?;
    Ok(vec![png, svg])
}

fn draw_on<DB: DrawingBackend>(
    chart: &impl Chart,
    root: &DrawingArea<DB, Shift>,
) -> Result<(), String> {
    root.fill(&WHITE).map_err(|e| e.to_string())?;
    chart.draw(root).map_err(|e| e.to_string())?;
    root.present().map_err(|e| e.to_string())
}

/// A fixed colour per state, the same in every chart (Tableau 10/20 palette).
fn state_color(state: &str) -> RGBColor {
    match state {
        "syn_sent" => RGBColor(31, 119, 180),
        "syn_rcvd" => RGBColor(174, 199, 232),
        "established" => RGBColor(44, 160, 44),
        "fin_wait_1" => RGBColor(255, 127, 14),
        "fin_wait_2" => RGBColor(255, 187, 120),
        "closing" => RGBColor(148, 103, 189),
        "time_wait" => RGBColor(214, 39, 40),
        "close_wait" => RGBColor(140, 86, 75),
        "last_ack" => RGBColor(227, 119, 194),
        _ => RGBColor(127, 127, 127),
    }
}

/// The i-th colour for series that are not states.
fn series_color(i: usize) -> RGBColor {
    const COLORS: [RGBColor; 8] = [
        RGBColor(31, 119, 180),
        RGBColor(214, 39, 40),
        RGBColor(44, 160, 44),
        RGBColor(148, 103, 189),
        RGBColor(255, 127, 14),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(23, 190, 207),
    ];
    COLORS[i % COLORS.len()]
}

/// Builds a chart with a title. The y range gets headroom for the legend's
/// entries, so that the legend in the upper right does not hide data.
fn cartesian<'a, DB: DrawingBackend, X: AsRangedCoord<Value = f64>>(
    root: &'a DrawingArea<DB, Shift>,
    title: &str,
    x: X,
    y_max: f64,
    legend_entries: usize,
) -> Result<Chart2d<'a, DB, X::CoordDescType>, DrawingAreaErrorKind<DB::ErrorType>> {
    let headroom = 1.1 + 0.07 * legend_entries as f64;
    let y_top = if y_max > 0.0 { y_max * headroom } else { 1.0 };
    ChartBuilder::on(root)
        .caption(title, ("sans-serif", 28))
        .margin(20)
        .x_label_area_size(60)
        .y_label_area_size(90)
        .build_cartesian_2d(x, 0.0..y_top)
}

fn mesh<DB: DrawingBackend, X: Ranged<ValueType = f64> + ValueFormatter<f64>>(
    chart: &mut Chart2d<'_, DB, X>,
    x_desc: &str,
    y_desc: &str,
    x_labels: &[String],
) -> DrawResult<DB> {
    // Categorical x: the label at each integer position, nothing between.
    let x_format = |v: &f64| {
        if x_labels.is_empty() {
            fmt_num(*v)
        } else if (v - v.round()).abs() < 1e-9 && v.round() >= 0.0 {
            x_labels
                .get(v.round() as usize)
                .cloned()
                .unwrap_or_default()
        } else {
            String::new()
        }
    };
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .x_label_formatter(&x_format)
        .y_label_formatter(&|v| fmt_num(*v))
        .axis_desc_style(("sans-serif", 22))
        .label_style(("sans-serif", 17))
        .light_line_style(RGBColor(235, 235, 235))
        .bold_line_style(RGBColor(210, 210, 210))
        .draw()
}

fn legend<'a, DB: DrawingBackend + 'a, X: Ranged<ValueType = f64>>(
    chart: &mut Chart2d<'a, DB, X>,
    position: SeriesLabelPosition,
) -> DrawResult<DB> {
    chart
        .configure_series_labels()
        .position(position)
        .label_font(("sans-serif", 18))
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .draw()
}

/// A legend marker: a filled square in `color`.
fn swatch(color: RGBColor) -> impl Fn((i32, i32)) -> Rectangle<(i32, i32)> {
    move |(x, y)| Rectangle::new([(x, y - 7), (x + 16, y + 7)], color.filled())
}

/// A legend marker: a short line in `style`.
fn stroke(style: ShapeStyle) -> impl Fn((i32, i32)) -> PathElement<(i32, i32)> {
    move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style)
}

/// Time range of the samples, never empty.
fn time_range(times: impl Iterator<Item = f64>) -> std::ops::Range<f64> {
    let (lo, hi) = times.fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), t| {
        (lo.min(t), hi.max(t))
    });
    if lo.is_finite() && hi > lo {
        lo..hi
    } else {
        0.0..1.0
    }
}

// ---------------------------------------------------------------------------------
// Run charts.

struct StackedStates {
    group: String,
    times: Vec<f64>,
    /// (state column, count per sample), bottom layer first.
    layers: Vec<(&'static str, Vec<f64>)>,
}

impl Chart for StackedStates {
    fn name(&self) -> String {
        format!("states_{}", file_safe(&self.group))
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        // tops[i][k]: sum of layers 0..=i at sample k.
        let mut tops: Vec<Vec<f64>> = Vec::new();
        for (_, counts) in &self.layers {
            let below = tops
                .last()
                .cloned()
                .unwrap_or_else(|| vec![0.0; counts.len()]);
            tops.push(below.iter().zip(counts).map(|(b, c)| b + c).collect());
        }
        let y_max = tops
            .last()
            .map_or(0.0, |t| t.iter().copied().fold(0.0, f64::max));
        let mut chart = cartesian(
            root,
            &format!("Sockets per state over time: group {}", self.group),
            time_range(self.times.iter().copied()),
            y_max,
            self.layers.len(),
        )?;
        mesh(&mut chart, "simulated time (s)", "sockets (stacked)", &[])?;
        // Top layer first, so each lower layer paints over the part it owns.
        for (i, (state, _)) in self.layers.iter().enumerate().rev() {
            let color = state_color(state);
            chart
                .draw_series(
                    AreaSeries::new(
                        self.times.iter().copied().zip(tops[i].iter().copied()),
                        0.0,
                        color.filled(),
                    )
                    // An outline in the same colour hides the fill's raster seams.
                    .border_style(color.stroke_width(1)),
                )?
                .label(state.to_uppercase())
                .legend(swatch(color));
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)
    }
}

struct TimeWaitChart {
    /// (group, samples, reference R × T if known)
    series: Vec<(String, Samples, Option<f64>)>,
    /// The steady-state window the reference is compared over, if any.
    window: Option<(f64, f64)>,
}

impl Chart for TimeWaitChart {
    fn name(&self) -> String {
        "time_wait".into()
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let y_max = self
            .series
            .iter()
            .flat_map(|(_, s, r)| s.iter().map(|p| p.1).chain(*r))
            .fold(0.0, f64::max);
        let x = time_range(
            self.series
                .iter()
                .flat_map(|(_, s, _)| s.iter().map(|p| p.0)),
        );
        let (x0, x1) = (x.start, x.end);
        let mut chart = cartesian(
            root,
            "TIME_WAIT sockets against close rate × time_wait",
            x,
            y_max,
            2 * self.series.len() + usize::from(self.window.is_some()),
        )?;
        mesh(
            &mut chart,
            "simulated time (s)",
            "sockets in TIME_WAIT",
            &[],
        )?;
        if let Some((start, end)) = self.window {
            let shade = RGBColor(120, 120, 120).mix(0.12);
            chart
                .draw_series(std::iter::once(Rectangle::new(
                    [(start, 0.0), (end, y_max * 1.3)],
                    shade.filled(),
                )))?
                .label("steady-state window (measured mean)")
                .legend(move |(x, y)| {
                    Rectangle::new([(x, y - 7), (x + 16, y + 7)], shade.filled())
                });
        }
        for (i, (group, samples, reference)) in self.series.iter().enumerate() {
            let style = series_color(i).stroke_width(3);
            chart
                .draw_series(LineSeries::new(samples.iter().copied(), style))?
                .label(format!("{group}: measured"))
                .legend(stroke(style));
            if let Some(r) = reference {
                let dashed = series_color(i).mix(0.8).stroke_width(2);
                chart
                    .draw_series(DashedLineSeries::new([(x0, *r), (x1, *r)], 12, 8, dashed))?
                    .label(format!(
                        "{group}: reference rate × time_wait = {}",
                        fmt_num(*r)
                    ))
                    .legend(move |(x, y)| {
                        EmptyElement::at((x, y))
                            + PathElement::new(vec![(0, 0), (7, 0)], dashed)
                            + PathElement::new(vec![(12, 0), (19, 0)], dashed)
                    });
            }
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)
    }
}

struct MemoryChart {
    /// (label, samples in bytes); the total over groups last.
    series: Vec<(String, Vec<(f64, f64)>)>,
}

impl Chart for MemoryChart {
    fn name(&self) -> String {
        "memory".into()
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let max = self
            .series
            .iter()
            .flat_map(|(_, s)| s.iter().map(|p| p.1))
            .fold(0.0, f64::max);
        let (per, unit) = byte_unit(max);
        let x = time_range(self.series.iter().flat_map(|(_, s)| s.iter().map(|p| p.0)));
        let mut chart = cartesian(
            root,
            "Modelled kernel memory of sockets",
            x,
            max / per,
            self.series.len(),
        )?;
        mesh(
            &mut chart,
            "simulated time (s)",
            &format!("memory ({unit})"),
            &[],
        )?;
        for (i, (label, samples)) in self.series.iter().enumerate() {
            let style = series_color(i).stroke_width(3);
            chart
                .draw_series(LineSeries::new(
                    samples.iter().map(|&(t, b)| (t, b / per)),
                    style,
                ))?
                .label(label.clone())
                .legend(stroke(style));
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)
    }
}

struct LatencyCdf {
    /// (client group, sorted connect latencies in seconds)
    series: Vec<(String, Vec<f64>)>,
}

impl LatencyCdf {
    /// Draws on x coordinates `x` (linear or logarithmic).
    fn draw_on_axis<DB: DrawingBackend, X>(
        &self,
        root: &DrawingArea<DB, Shift>,
        x: X,
        x_desc: &str,
    ) -> DrawResult<DB>
    where
        X: AsRangedCoord<Value = f64>,
        X::CoordDescType: ValueFormatter<f64>,
    {
        let mut chart = ChartBuilder::on(root)
            .caption(
                "Connect latency CDF (connect() to ESTABLISHED)",
                ("sans-serif", 28),
            )
            .margin(20)
            .x_label_area_size(60)
            .y_label_area_size(90)
            .build_cartesian_2d(x, 0.0..1.02)?;
        mesh(
            &mut chart,
            x_desc,
            "fraction of established connections",
            &[],
        )?;
        for (i, (group, xs)) in self.series.iter().enumerate() {
            let style = series_color(i).stroke_width(3);
            chart
                .draw_series(LineSeries::new(cdf_steps(xs, CDF_MAX_STEPS), style))?
                .label(format!("{group} (n = {})", xs.len()))
                .legend(stroke(style));
        }
        legend(&mut chart, SeriesLabelPosition::LowerRight)
    }
}

/// Most steps drawn per CDF: enough for a smooth curve, small enough that an SVG
/// of a million connections stays small.
const CDF_MAX_STEPS: usize = 2000;

/// The empirical CDF of `sorted` as a staircase: at each distinct value the
/// fraction jumps from the share below it to the share up to it. With more than
/// `max_steps` distinct values only every k-th is kept (the last one always), so
/// the staircase is coarser but every drawn point lies on the true CDF.
fn cdf_steps(sorted: &[f64], max_steps: usize) -> Vec<(f64, f64)> {
    let n = sorted.len() as f64;
    // (value, count of observations ≤ value) per distinct value.
    let mut distinct: Vec<(f64, usize)> = Vec::new();
    for (k, &x) in sorted.iter().enumerate() {
        match distinct.last_mut() {
            Some(last) if last.0 == x => last.1 = k + 1,
            _ => distinct.push((x, k + 1)),
        }
    }
    let stride = distinct.len().div_ceil(max_steps.max(1)).max(1);
    let mut points = Vec::with_capacity(2 * (distinct.len() / stride + 1));
    let mut below = 0;
    for (i, &(x, upto)) in distinct.iter().enumerate() {
        if i % stride == stride - 1 || i + 1 == distinct.len() {
            points.push((x, below as f64 / n));
            points.push((x, upto as f64 / n));
            below = upto;
        }
    }
    points
}

impl Chart for LatencyCdf {
    fn name(&self) -> String {
        "connect_cdf".into()
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let all = || self.series.iter().flat_map(|(_, xs)| xs.iter().copied());
        let lo = all().filter(|x| *x > 0.0).fold(f64::INFINITY, f64::min);
        let hi = all().fold(0.0, f64::max);
        // Retransmitted SYNs put latencies 100× the RTT and more on the same chart:
        // a logarithmic axis keeps both the RTT and the back-off steps readable.
        if lo.is_finite() && hi / lo > 100.0 {
            self.draw_on_axis(
                root,
                (lo * 0.8..hi * 1.25).log_scale(),
                "connect latency (s, log scale)",
            )
        } else {
            let top = if hi > 0.0 { hi * 1.1 } else { 1.0 };
            self.draw_on_axis(root, 0.0..top, "connect latency (s)")
        }
    }
}

/// Writes the run charts into `dir`; returns the paths written.
pub fn run_plots(run: &RunData, rep: &RunReport, dir: &Path) -> Result<Vec<PathBuf>, ReportError> {
    let mut written = Vec::new();
    let groups = run.groups();
    let samples =
        |group: &str, f: &dyn Fn(&crate::schema::TimeseriesRow) -> f64| -> Vec<(f64, f64)> {
            run.timeseries
                .iter()
                .filter(|t| t.group == group)
                .map(|t| (t.time_s, f(t)))
                .collect()
        };
    for group in &groups {
        let rows: Vec<_> = run
            .timeseries
            .iter()
            .filter(|t| &t.group == group)
            .collect();
        let layers: Vec<(&'static str, Vec<f64>)> = STATE_COLUMNS
            .iter()
            .enumerate()
            .map(|(i, &state)| {
                (
                    state,
                    rows.iter()
                        .map(|t| t.state_counts()[i] as f64)
                        .collect::<Vec<f64>>(),
                )
            })
            .filter(|(_, counts)| counts.iter().any(|&c| c > 0.0))
            .collect();
        if layers.is_empty() {
            continue;
        }
        let chart = StackedStates {
            group: group.clone(),
            times: rows.iter().map(|t| t.time_s).collect(),
            layers,
        };
        written.extend(save(&chart, dir)?);
    }

    let tw_series: Vec<_> = groups
        .iter()
        .filter(|g| {
            run.timeseries
                .iter()
                .any(|t| &t.group == *g && t.time_wait > 0)
        })
        .map(|g| {
            let reference = rep
                .references
                .iter()
                .find(|r| {
                    r.model == "time_wait_steady"
                        && &r.group == g
                        && r.status != Status::NotApplicable
                })
                .and_then(|r| r.reference);
            (g.clone(), samples(g, &|t| t.time_wait as f64), reference)
        })
        .collect();
    if !tw_series.is_empty() {
        let window = tw_series
            .iter()
            .find_map(|(g, _, r)| r.and_then(|_| steady_window(run, g).ok()));
        let chart = TimeWaitChart {
            series: tw_series,
            window,
        };
        written.extend(save(&chart, dir)?);
    }

    // Groups that never hold memory (e.g. spoofing attackers) are left out.
    let mut memory: Vec<(String, Vec<(f64, f64)>)> = groups
        .iter()
        .map(|g| (g.clone(), samples(g, &|t| t.memory_bytes as f64)))
        .filter(|(_, s)| s.iter().any(|p| p.1 > 0.0))
        .collect();
    if memory.len() > 1 {
        let total = run.sample_totals(|t| t.memory_bytes);
        memory.push(("all groups".into(), total));
    }
    if memory.iter().any(|(_, s)| !s.is_empty()) {
        written.extend(save(&MemoryChart { series: memory }, dir)?);
    }

    let mut clients: Vec<&str> = run
        .connections
        .iter()
        .map(|c| run.hosts.group(c.client))
        .collect();
    clients.dedup();
    clients.sort_unstable();
    clients.dedup();
    let cdf: Vec<(String, Vec<f64>)> = clients
        .into_iter()
        .map(|g| (g.to_string(), run.connect_latencies(Some(g))))
        .filter(|(_, xs)| !xs.is_empty())
        .collect();
    if !cdf.is_empty() {
        written.extend(save(&LatencyCdf { series: cdf }, dir)?);
    }
    Ok(written)
}

// ---------------------------------------------------------------------------------
// Sweep charts.

struct SweepChart {
    metric: String,
    param: String,
    x_desc: String,
    /// For a parameter whose values are not numbers: the value shown at x = i.
    x_labels: Vec<String>,
    /// (label of the other parameters, points by x)
    series: Vec<(String, Vec<CiPoint>)>,
}

impl Chart for SweepChart {
    fn name(&self) -> String {
        format!(
            "sweep_{}_vs_{}",
            file_safe(&self.metric),
            file_safe(&self.param)
        )
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
        let points = || self.series.iter().flat_map(|(_, p)| p.iter());
        let y_max = points().map(|p| p.3.max(p.1)).fold(0.0, f64::max);
        let x = time_range(points().map(|p| p.0));
        let pad = if self.x_labels.is_empty() {
            (x.end - x.start) * 0.05
        } else {
            0.5
        };
        let mut chart = cartesian(
            root,
            &format!(
                "{} vs {} (mean over seeds, 95 % CI)",
                self.metric, self.param
            ),
            x.start - pad..x.end + pad,
            y_max,
            self.series.len(),
        )?;
        mesh(
            &mut chart,
            &self.x_desc,
            &metric_desc(&self.metric),
            &self.x_labels,
        )?;
        let n = self.series.len() as f64;
        for (i, (label, pts)) in self.series.iter().enumerate() {
            let color = series_color(i);
            let style = color.stroke_width(3);
            if self.x_labels.is_empty() {
                // Numeric x: a line through the means inside a shaded 95 % CI band.
                let band: Vec<(f64, f64)> = pts
                    .iter()
                    .map(|p| (p.0, p.3))
                    .chain(pts.iter().rev().map(|p| (p.0, p.2)))
                    .collect();
                chart.draw_series(std::iter::once(Polygon::new(band, color.mix(0.2).filled())))?;
                chart
                    .draw_series(
                        LineSeries::new(pts.iter().map(|p| (p.0, p.1)), style).point_size(5),
                    )?
                    .label(if label.is_empty() {
                        "mean (band: 95 % CI)".to_string()
                    } else {
                        format!("{label}: mean (band: 95 % CI)")
                    })
                    .legend(move |(x, y)| {
                        EmptyElement::at((x, y))
                            + Rectangle::new([(0, -7), (20, 7)], color.mix(0.2).filled())
                            + PathElement::new(vec![(0, 0), (20, 0)], style)
                    });
            } else {
                // Categorical x: no line between categories; the mean with a 95 % CI
                // error bar, series side by side around each category.
                let shift = (i as f64 - (n - 1.0) / 2.0) * 0.12;
                chart
                    .draw_series(
                        pts.iter()
                            .map(|p| ErrorBar::new_vertical(p.0 + shift, p.2, p.1, p.3, style, 14)),
                    )?
                    .label(if label.is_empty() {
                        "mean and 95 % CI".to_string()
                    } else {
                        format!("{label}: mean and 95 % CI")
                    })
                    .legend(stroke(style));
                chart.draw_series(
                    pts.iter()
                        .map(|p| Circle::new((p.0 + shift, p.1), 5, color.filled())),
                )?;
            }
        }
        legend(&mut chart, SeriesLabelPosition::UpperRight)
    }
}

/// Axis title of a summary metric, with its unit.
fn metric_desc(metric: &str) -> String {
    let unit = if metric.ends_with("_s") {
        "s"
    } else if metric.ends_with("_bytes") {
        "bytes"
    } else if metric.contains("ports") {
        "ports"
    } else if metric.starts_with("peak_") {
        "sockets"
    } else {
        "connections"
    };
    format!("{metric} ({unit})")
}

/// Axis title of a numeric swept parameter, with its unit where the key says it
/// (DESIGN.md value formats).
fn param_desc(param: &str) -> String {
    let unit = match param.rsplit('.').next().unwrap_or(param) {
        "rate" => Some("conn/s"),
        "loss" | "duplicate" | "client_vanish" => Some("probability"),
        "concurrency" => Some("connections"),
        "request_bytes" | "response_bytes" | "mss" => Some("bytes"),
        _ => None,
    };
    unit.map_or_else(|| param.to_string(), |u| format!("{param} ({u})"))
}

/// A parameter value as a number: plain numbers as they are, durations in seconds.
/// The flag says whether it was a duration.
fn param_number(value: &str) -> Option<(f64, bool)> {
    value
        .parse::<f64>()
        .ok()
        .map(|v| (v, false))
        .or_else(|| parse_duration_s(value).map(|v| (v, true)))
}

/// The x position of each point on a parameter's axis, the axis title and, for a
/// parameter that is not numeric (e.g. `workload.closer`), the value at each
/// position (distinct values in order of first appearance).
fn param_axis(param: &str, values: &[&str]) -> (Vec<f64>, String, Vec<String>) {
    let numbers: Option<Vec<(f64, bool)>> = values.iter().map(|v| param_number(v)).collect();
    match numbers {
        Some(xs) => {
            let desc = if xs.iter().any(|x| x.1) {
                format!("{param} (s)")
            } else {
                param_desc(param)
            };
            (xs.into_iter().map(|x| x.0).collect(), desc, Vec::new())
        }
        None => {
            let mut labels: Vec<String> = Vec::new();
            let xs = values
                .iter()
                .map(|v| {
                    let i = labels.iter().position(|l| l == v).unwrap_or_else(|| {
                        labels.push(v.to_string());
                        labels.len() - 1
                    });
                    i as f64
                })
                .collect();
            (xs, param.to_string(), labels)
        }
    }
}

/// Writes one chart per (chosen metric, swept parameter) into `dir`: the metric's
/// mean over seeds against the parameter, one series per combination of the
/// other parameters.
pub fn sweep_plots(
    table: &SweepTable,
    stats: &[PointStats],
    dir: &Path,
) -> Result<Vec<PathBuf>, ReportError> {
    let mut written = Vec::new();
    for (pi, param) in table.params.iter().enumerate() {
        let values: Vec<&str> = stats.iter().map(|p| p.point[pi].as_str()).collect();
        let (xs, x_desc, x_labels) = param_axis(param, &values);
        let other_params: Vec<String> = table
            .params
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != pi)
            .map(|(_, v)| v.clone())
            .collect();
        for metric in SWEEP_METRICS
            .iter()
            .filter(|m| table.metrics.iter().any(|t| t == *m))
        {
            let mut series: Vec<(String, Vec<CiPoint>)> = Vec::new();
            let mut any_nonzero = false;
            for (p, &x) in stats.iter().zip(&xs) {
                let Some(iv) = p
                    .metrics
                    .iter()
                    .find(|mi| mi.metric == *metric)
                    .map(|mi| &mi.interval)
                else {
                    continue;
                };
                any_nonzero |= iv.mean != 0.0;
                let others: Vec<String> = p
                    .point
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| *i != pi)
                    .map(|(_, v)| v.clone())
                    .collect();
                let label = point_label(&other_params, &others);
                let point = (
                    x,
                    iv.mean,
                    iv.ci_low.unwrap_or(iv.mean),
                    iv.ci_high.unwrap_or(iv.mean),
                );
                match series.iter_mut().find(|(l, _)| *l == label) {
                    Some((_, pts)) => pts.push(point),
                    None => series.push((label, vec![point])),
                }
            }
            if !any_nonzero {
                continue;
            }
            for (_, pts) in &mut series {
                pts.sort_by(|a, b| a.0.total_cmp(&b.0));
            }
            let chart = SweepChart {
                metric: metric.to_string(),
                param: param.clone(),
                x_desc: x_desc.clone(),
                x_labels: x_labels.clone(),
                series,
            };
            written.extend(save(&chart, dir)?);
        }
    }
    Ok(written)
}

/// A group or key as a file-name part: letters, digits, `-` and `_` kept, the rest `_`.
fn file_safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cdf_staircase() {
        let xs = [1.0, 1.0, 2.0, 4.0];
        assert_eq!(
            cdf_steps(&xs, 10),
            [
                (1.0, 0.0),
                (1.0, 0.5),
                (2.0, 0.5),
                (2.0, 0.75),
                (4.0, 0.75),
                (4.0, 1.0)
            ]
        );
        // Thinned to every second distinct value, the last always kept.
        assert_eq!(
            cdf_steps(&xs, 2),
            [(2.0, 0.0), (2.0, 0.75), (4.0, 0.75), (4.0, 1.0)]
        );
        let many: Vec<f64> = (0..100_000).map(f64::from).collect();
        let steps = cdf_steps(&many, CDF_MAX_STEPS);
        assert!(steps.len() <= 2 * CDF_MAX_STEPS + 2);
        assert_eq!(steps.last(), Some(&(99_999.0, 1.0)));
    }
}
