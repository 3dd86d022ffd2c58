//! The one error type of the `tcpsim` binary and library, with its exit status.

use std::path::Path;

/// What went wrong, sorted by who has to act: the user (bad input, exit status 2) or
/// the environment (I/O and everything else, exit status 1). The message is complete
/// for a user: it names the file, the key, the value and what would be valid.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// Bad input: unknown key, wrong type, value out of range, unparsable duration,
    /// missing file, unknown scenario, TOML syntax error. Nothing has been written.
    #[error("{0}")]
    BadInput(String),
    /// Anything else (I/O while writing results, an internal failure).
    #[error("{0}")]
    Other(String),
}

impl CliError {
    /// The process exit status: 2 for bad input, 1 for anything else.
    pub fn exit_code(&self) -> i32 {
        match self {
            CliError::BadInput(_) => 2,
            CliError::Other(_) => 1,
        }
    }

    pub fn bad_input(msg: impl Into<String>) -> Self {
        CliError::BadInput(msg.into())
    }

    pub fn other(msg: impl Into<String>) -> Self {
        CliError::Other(msg.into())
    }

    /// An I/O failure on `path` (exit status 1).
    pub fn io(what: &str, path: &Path, err: std::io::Error) -> Self {
        CliError::Other(format!("{what} {}: {err}", path.display()))
    }
}
