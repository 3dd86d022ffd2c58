//! The one error type of the crate. The CLI maps [`ReportError::BadInput`] to exit
//! status 2 (DESIGN.md "The command-line contract") and everything else to 1.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// A missing directory or file, or a file that does not parse. The message names
    /// the file and, where it applies, the row and the column.
    #[error("{0}")]
    BadInput(String),
    /// Reading or writing failed for a reason other than bad input.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// plotters could not draw or save a chart.
    #[error("plot {path}: {message}")]
    Plot { path: PathBuf, message: String },
}

impl ReportError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        ReportError::Io {
            path: path.into(),
            source,
        }
    }
}
