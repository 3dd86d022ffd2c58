//! Charts (PNG + SVG) with plotters, using the embedded DejaVu Sans font.

use std::path::{Path, PathBuf};

use crate::error::ReportError;
use crate::load::RunData;
use crate::summary::RunReport;
use crate::sweep::{PointStats, SweepTable};

pub fn run_plots(
    _run: &RunData,
    _rep: &RunReport,
    _dir: &Path,
) -> Result<Vec<PathBuf>, ReportError> {
    Ok(Vec::new())
}

pub fn sweep_plots(
    _t: &SweepTable,
    _s: &[PointStats],
    _dir: &Path,
) -> Result<Vec<PathBuf>, ReportError> {
    Ok(Vec::new())
}
