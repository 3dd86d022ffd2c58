//! The charts are rendered for real: every file exists, each PNG decodes at the
//! stated size, and each SVG is well-formed XML.

use std::path::{Path, PathBuf};

use analysis::plot::{HEIGHT, WIDTH};
use analysis::report::{Format, ReportOptions, report};

fn fixture_copy(name: &str) -> tempfile::TempDir {
    let from = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let tmp = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), tmp.path().join(entry.file_name())).unwrap();
    }
    tmp
}

fn render(dir: &Path) -> Vec<PathBuf> {
    let opts = ReportOptions {
        dir: dir.to_path_buf(),
        format: Format::Table,
        plots: true,
    };
    report(&opts, &mut Vec::new()).unwrap()
}

/// The trimmed contents of an SVG's `<text>` elements.
fn svg_texts(doc: &roxmltree::Document) -> Vec<String> {
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text().map(|t| t.trim().to_string()))
        .collect()
}

fn texts_of(path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    svg_texts(&roxmltree::Document::parse(&text).unwrap())
}

fn check_files(written: &[PathBuf], dir: &Path, stems: &[&str]) {
    let plots = dir.join("plots");
    let mut expected: Vec<PathBuf> = Vec::new();
    for stem in stems {
        expected.push(plots.join(format!("{stem}.png")));
        expected.push(plots.join(format!("{stem}.svg")));
    }
    let mut got: Vec<PathBuf> = written
        .iter()
        .filter(|p| p.starts_with(&plots))
        .cloned()
        .collect();
    got.sort();
    expected.sort();
    assert_eq!(got, expected);
    for path in &expected {
        let bytes = std::fs::read(path).unwrap();
        if path.extension().unwrap() == "png" {
            let img = image::load_from_memory_with_format(&bytes, image::ImageFormat::Png).unwrap();
            assert_eq!(
                (img.width(), img.height()),
                (WIDTH, HEIGHT),
                "{}",
                path.display()
            );
            // Not a blank canvas: some pixels are neither white nor the same colour.
            let rgb = img.to_rgb8();
            let non_white = rgb.pixels().filter(|p| p.0 != [255, 255, 255]).count();
            assert!(non_white > 1000, "{} is nearly blank", path.display());
        } else {
            let text = String::from_utf8(bytes).unwrap();
            let doc = roxmltree::Document::parse(&text)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            assert_eq!(doc.root_element().tag_name().name(), "svg");
            // Text is drawn (title, axis titles, ticks), not dropped for lack of a
            // font: the chart title and an axis title with a unit are there.
            let texts = svg_texts(&doc);
            assert!(
                texts.iter().any(|t| t.contains(" vs ")
                    || t.contains("over time")
                    || t.contains("CDF")
                    || t.contains("TIME_WAIT sockets")
                    || t.contains("memory")),
                "{}: no title in {texts:?}",
                path.display()
            );
            assert!(
                texts.iter().any(|t| t.ends_with(')') && t.contains(" (")),
                "{}: no axis title with a unit in {texts:?}",
                path.display()
            );
        }
    }
    // No temporary file is left behind.
    for entry in std::fs::read_dir(&plots).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        assert!(!name.contains(".tmp."), "{name}");
    }
}

/// In run_basic the server's sockets all live less than the 10 s sampling
/// interval, so no sample shows one: there is no (empty) stacked chart for it.
#[test]
fn run_plots_render() {
    let tmp = fixture_copy("run_basic");
    let written = render(tmp.path());
    check_files(
        &written,
        tmp.path(),
        &["states_clients", "time_wait", "memory", "connect_cdf"],
    );
}

/// The lossy fixture's latencies span 0.01 s to 3.01 s: the CDF uses a log axis.
#[test]
fn lossy_run_plots_render() {
    let tmp = fixture_copy("run_lossy");
    let written = render(tmp.path());
    check_files(
        &written,
        tmp.path(),
        &[
            "states_clients",
            "states_server",
            "time_wait",
            "memory",
            "connect_cdf",
        ],
    );
    let texts = texts_of(&tmp.path().join("plots/connect_cdf.svg"));
    assert!(
        texts.iter().any(|t| t == "connect latency (s, log scale)"),
        "{texts:?}"
    );
}

#[test]
fn sweep_plots_render() {
    let tmp = fixture_copy("sweep_rate");
    let written = render(tmp.path());
    assert!(written.contains(&tmp.path().join("ci.csv")));
    check_files(
        &written,
        tmp.path(),
        &[
            "sweep_completed_vs_workload_rate",
            "sweep_peak_time_wait_vs_workload_rate",
            "sweep_peak_ports_in_use_vs_workload_rate",
            "sweep_peak_memory_bytes_vs_workload_rate",
            "sweep_connect_p99_s_vs_workload_rate",
        ],
    );
}

/// A categorical parameter (workload.closer) gets one tick per value and error
/// bars; a duration parameter (tcp.time_wait = "30s", "60s") is plotted in
/// seconds.
#[test]
fn sweep_with_categorical_and_duration_parameters() {
    let tmp = fixture_copy("sweep_closer");
    let written = render(tmp.path());
    check_files(
        &written,
        tmp.path(),
        &[
            "sweep_completed_vs_workload_closer",
            "sweep_peak_time_wait_vs_workload_closer",
            "sweep_peak_ports_in_use_vs_workload_closer",
            "sweep_peak_memory_bytes_vs_workload_closer",
            "sweep_connect_p99_s_vs_workload_closer",
            "sweep_completed_vs_tcp_time_wait",
            "sweep_peak_time_wait_vs_tcp_time_wait",
            "sweep_peak_ports_in_use_vs_tcp_time_wait",
            "sweep_peak_memory_bytes_vs_tcp_time_wait",
            "sweep_connect_p99_s_vs_tcp_time_wait",
        ],
    );
    let closer = texts_of(
        &tmp.path()
            .join("plots/sweep_peak_time_wait_vs_workload_closer.svg"),
    );
    for label in ["client", "server", "tcp.time_wait=30s: mean and 95 % CI"] {
        assert!(
            closer.iter().any(|t| t == label),
            "{label} not in {closer:?}"
        );
    }
    let tw = texts_of(
        &tmp.path()
            .join("plots/sweep_peak_time_wait_vs_tcp_time_wait.svg"),
    );
    assert!(
        tw.iter().any(|t| t == "tcp.time_wait (s)"),
        "durations are plotted in seconds: {tw:?}"
    );
}
