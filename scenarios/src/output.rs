//! Result files: buffered writers into a staging directory that is renamed into place
//! when the run is complete, so an interrupted run never leaves a result directory
//! (or a truncated file under a final name).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::CliError;

/// A temporary name beside `path` (same directory, so the final rename is atomic).
pub fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// A result directory being written: files go to a hidden sibling directory, which
/// [`Staging::commit`] renames to the final name.
pub struct Staging {
    tmp: PathBuf,
    dir: PathBuf,
}

impl Staging {
    /// Creates the staging directory for `dir` (and `dir`'s parents). An existing
    /// `dir` that is not an earlier result is bad input, and nothing is created.
    pub fn create(dir: &Path) -> Result<Staging, CliError> {
        if dir.exists() && !is_replaceable(dir) {
            return Err(CliError::bad_input(format!(
                "{} exists and is not a tcpsim result directory: not replacing it (choose another --out)",
                dir.display()
            )));
        }
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .map_err(|e| CliError::io("cannot create directory", parent, e))?;
        }
        let tmp = temp_path(dir);
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp)
                .map_err(|e| CliError::io("cannot remove stale", &tmp, e))?;
        }
        std::fs::create_dir(&tmp).map_err(|e| CliError::io("cannot create directory", &tmp, e))?;
        Ok(Staging {
            tmp,
            dir: dir.to_path_buf(),
        })
    }

    /// The path of file `name` inside the staging directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.tmp.join(name)
    }

    /// A buffered writer for file `name`.
    pub fn file(&self, name: &str) -> Result<BufWriter<File>, CliError> {
        let p = self.path(name);
        File::create(&p)
            .map(|f| BufWriter::with_capacity(1 << 16, f))
            .map_err(|e| CliError::io("cannot create", &p, e))
    }

    /// A CSV writer for table `name` (header row from the row type).
    pub fn csv(&self, name: &str) -> Result<CsvOut, CliError> {
        Ok(CsvOut {
            writer: csv::Writer::from_writer(self.file(name)?),
            path: self.path(name),
        })
    }

    /// Writes a whole file at once.
    pub fn write(&self, name: &str, bytes: &[u8]) -> Result<(), CliError> {
        let p = self.path(name);
        let mut f = self.file(name)?;
        f.write_all(bytes)
            .and_then(|()| f.flush())
            .map_err(|e| CliError::io("cannot write", &p, e))
    }

    /// Replaces the result directory (an earlier result there) with the staged one.
    pub fn commit(self) -> Result<PathBuf, CliError> {
        if self.dir.exists() {
            std::fs::remove_dir_all(&self.dir)
                .map_err(|e| CliError::io("cannot replace", &self.dir, e))?;
        }
        std::fs::rename(&self.tmp, &self.dir)
            .map_err(|e| CliError::io("cannot rename into place", &self.dir, e))?;
        Ok(self.dir)
    }

    /// Removes the staging directory (after a failure).
    pub fn abandon(self) {
        // Best effort: the error that made us abandon the run is the one to report.
        let _ = std::fs::remove_dir_all(&self.tmp);
    }
}

/// An existing directory may be replaced if it is empty or an earlier tcpsim result
/// (it holds `summary.csv`): never someone's unrelated directory.
fn is_replaceable(dir: &Path) -> bool {
    dir.is_dir()
        && (dir.join("summary.csv").is_file()
            || std::fs::read_dir(dir).is_ok_and(|mut it| it.next().is_none()))
}

/// A CSV table being written row by row.
pub struct CsvOut {
    writer: csv::Writer<BufWriter<File>>,
    path: PathBuf,
}

impl CsvOut {
    pub fn row<T: Serialize>(&mut self, row: &T) -> Result<(), CliError> {
        self.writer
            .serialize(row)
            .map_err(|e| CliError::other(format!("cannot write {}: {e}", self.path.display())))
    }

    /// Writes every row of `rows`.
    pub fn rows<'a, T: Serialize + 'a>(
        &mut self,
        rows: impl IntoIterator<Item = &'a T>,
    ) -> Result<(), CliError> {
        rows.into_iter().try_for_each(|r| self.row(r))
    }

    pub fn finish(mut self) -> Result<(), CliError> {
        self.writer
            .flush()
            .map_err(|e| CliError::io("cannot write", &self.path, e))
    }
}

/// Peak resident set size of this process in bytes (`VmHWM` of /proc/self/status),
/// 0 where that file does not exist.
pub fn peak_rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staging_commits_atomically_and_replaces_an_earlier_result() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("a/b/run");
        let s = Staging::create(&dir).unwrap();
        s.write("summary.csv", b"x\n").unwrap();
        assert!(!dir.exists(), "nothing under the final name before commit");
        s.commit().unwrap();
        assert_eq!(std::fs::read(dir.join("summary.csv")).unwrap(), b"x\n");

        let s = Staging::create(&dir).unwrap();
        s.write("summary.csv", b"y\n").unwrap();
        s.commit().unwrap();
        assert_eq!(std::fs::read(dir.join("summary.csv")).unwrap(), b"y\n");
        let leftovers: Vec<_> = std::fs::read_dir(dir.parent().unwrap())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(leftovers.len(), 1, "{leftovers:?}");
    }

    #[test]
    fn refuses_to_replace_an_unrelated_directory() {
        let root = tempfile::tempdir().unwrap();
        std::fs::write(root.path().join("precious.txt"), b"keep").unwrap();
        let e = Staging::create(root.path()).err().unwrap();
        assert!(e.to_string().contains("not a tcpsim result"), "{e}");
        assert!(root.path().join("precious.txt").exists());
    }

    #[test]
    fn reads_peak_rss() {
        if Path::new("/proc/self/status").exists() {
            assert!(peak_rss_bytes() > 0);
        }
    }
}
