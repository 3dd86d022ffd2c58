//! Result files: buffered writers into a staging directory that is renamed into place
//! when the run is complete, so an interrupted run never leaves a result directory
//! (or a truncated file under a final name).

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use analysis::schema::Outcome;
use serde::Serialize;
use sim_core::{SimDuration, SimTime};

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
        let p = self.path(name);
        Ok(CsvOut {
            file: File::create(&p).map_err(|e| CliError::io("cannot create", &p, e))?,
            path: p,
            wrote: false,
            buf: Vec::with_capacity(CSV_FLUSH_AT + 1024),
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
    file: File,
    path: PathBuf,
    /// A row (and so the header) has been written.
    wrote: bool,
    /// Rows not yet written to `file`: rows are formatted straight into it, and it
    /// goes out once it holds [`CSV_FLUSH_AT`] bytes.
    buf: Vec<u8>,
}

/// How many bytes of rows [`CsvOut`] gathers before writing them to its file.
const CSV_FLUSH_AT: usize = 1 << 16;

impl CsvOut {
    /// Writes `row` through csv's serializer (the header row first, once).
    pub fn row<T: Serialize>(&mut self, row: &T) -> Result<(), CliError> {
        // A serializer per row, over the rows' buffer, with a small buffer of its
        // own that is flushed before it is dropped: rows written by
        // [`CsvOut::connection`] go into the same buffer in between.
        let mut w = csv::WriterBuilder::new()
            .has_headers(!self.wrote)
            .buffer_capacity(256)
            .from_writer(&mut self.buf);
        let res = w.serialize(row).and_then(|()| Ok(w.flush()?));
        drop(w);
        self.wrote = true;
        res.map_err(|e| CliError::other(format!("cannot write {}: {e}", self.path.display())))?;
        self.written()
    }

    /// A `connections.csv` row: the bytes [`CsvOut::row`] writes for the
    /// `ConnectionRow` it stands for, formatted here without serde, from texts
    /// formatted once and with a fast text for times (a million rows per second of
    /// wall time matter), straight into the rows' buffer. The header goes first,
    /// once.
    pub fn connection(&mut self, r: &ConnectionLine) -> Result<(), CliError> {
        if !self.wrote {
            self.buf.extend_from_slice(CONNECTIONS_HEADER);
            self.wrote = true;
        }
        write_connection(&mut self.buf, r);
        self.written()
    }

    /// Writes the buffered rows out once there are enough of them.
    #[inline]
    fn written(&mut self) -> Result<(), CliError> {
        if self.buf.len() < CSV_FLUSH_AT {
            return Ok(());
        }
        self.write_out()
    }

    /// Writes every buffered row to the file.
    fn write_out(&mut self) -> Result<(), CliError> {
        let res = self.file.write_all(&self.buf);
        self.buf.clear();
        res.map_err(|e| CliError::io("cannot write", &self.path, e))
    }

    /// Writes every row of `rows`.
    pub fn rows<'a, T: Serialize + 'a>(
        &mut self,
        rows: impl IntoIterator<Item = &'a T>,
    ) -> Result<(), CliError> {
        rows.into_iter().try_for_each(|r| self.row(r))
    }

    pub fn finish(mut self) -> Result<(), CliError> {
        self.write_out()
    }
}

/// The header serde writes for `ConnectionRow` (a test holds them together).
const CONNECTIONS_HEADER: &[u8] = b"id,client,client_port,server,server_port,opened_s,\
established_s,finished_s,outcome,active_closer,client_path,server_path,retransmits,\
bytes_discarded,stale_accepted,bytes_delivered,close_blocked_s\n";

/// A `connections.csv` row (`analysis::schema::ConnectionRow`) as the harness has
/// it: texts already as CSV fields, since they repeat from row to row (host names,
/// and the runs of fields [`destination_text`] and [`ending_text`] join), and times
/// as they are, written as serde writes their `as_secs_f64()`.
pub struct ConnectionLine<'a> {
    pub id: u64,
    /// The `client` field ([`csv_field`]).
    pub client: &'a [u8],
    pub client_port: Option<u16>,
    /// The `server` and `server_port` fields and their commas ([`destination_text`]).
    pub destination: &'a [u8],
    pub opened: SimTime,
    pub established: Option<SimTime>,
    pub finished: Option<SimTime>,
    /// The `outcome`, `active_closer`, `client_path` and `server_path` fields and
    /// their commas ([`ending_text`]).
    pub ending: &'a [u8],
    pub retransmits: u64,
    pub bytes_discarded: u64,
    pub stale_accepted: u64,
    pub bytes_delivered: u64,
    pub close_blocked: Option<SimDuration>,
}

/// `text` as a field of a CSV row (see [`put_field`]).
pub fn csv_field(text: &str) -> Box<[u8]> {
    let mut field = Vec::with_capacity(text.len());
    put_field(&mut field, text.as_bytes());
    field.into_boxed_slice()
}

/// [`ConnectionLine::destination`]: `server,server_port,`.
pub fn destination_text(server: &str, port: u16) -> Box<[u8]> {
    let mut text = Vec::new();
    put_field(&mut text, server.as_bytes());
    text.push(b',');
    put_u64(&mut text, port.into());
    text.push(b',');
    text.into_boxed_slice()
}

/// [`ConnectionLine::ending`]: `outcome,active_closer,client_path,server_path,`.
pub fn ending_text(outcome: Outcome, texts: [&str; 3]) -> Box<[u8]> {
    // No outcome's text needs quotes (a test checks).
    let mut text = outcome.as_str().as_bytes().to_vec();
    for t in texts {
        text.push(b',');
        put_field(&mut text, t.as_bytes());
    }
    text.push(b',');
    text.into_boxed_slice()
}

/// Appends the line of `r`: its fields in `ConnectionRow` order, as csv's
/// serializer writes them (`None` is an empty field), and the terminator.
fn write_connection(line: &mut Vec<u8>, r: &ConnectionLine) {
    let secs = |line: &mut Vec<u8>, nanos: Option<u64>| {
        if let Some(n) = nanos {
            put_secs(line, n);
        }
        line.push(b',');
    };
    let int = |line: &mut Vec<u8>, v: Option<u64>| {
        if let Some(v) = v {
            put_u64(line, v);
        }
        line.push(b',');
    };
    int(line, Some(r.id));
    line.extend_from_slice(r.client);
    line.push(b',');
    int(line, r.client_port.map(u64::from));
    line.extend_from_slice(r.destination);
    secs(line, Some(r.opened.as_nanos()));
    secs(line, r.established.map(SimTime::as_nanos));
    secs(line, r.finished.map(SimTime::as_nanos));
    line.extend_from_slice(r.ending);
    int(line, Some(r.retransmits));
    int(line, Some(r.bytes_discarded));
    int(line, Some(r.stale_accepted));
    int(line, Some(r.bytes_delivered));
    secs(line, r.close_blocked.map(SimDuration::as_nanos));
    *line.last_mut().expect("17 fields") = b'\n';
}

/// Appends `field` as csv writes it by default (`QuoteStyle::Necessary`): in
/// quotes, with inner quotes doubled, when it holds `,` `"` `\r` or `\n`.
fn put_field(line: &mut Vec<u8>, field: &[u8]) {
    if has_byte_at_most_comma(field)
        && field
            .iter()
            .any(|b| matches!(b, b',' | b'"' | b'\r' | b'\n'))
    {
        line.push(b'"');
        for &b in field {
            if b == b'"' {
                line.push(b'"');
            }
            line.push(b);
        }
        line.push(b'"');
    } else {
        line.extend_from_slice(field);
    }
}

/// Whether `field` holds a byte `<= b','`, as all four that need quoting are: a
/// scan eight bytes at a time (a word has such a byte iff subtracting 0x2D from each
/// byte borrows into the top bit of one that had it clear), which spares the exact
/// test for the usual field.
fn has_byte_at_most_comma(field: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    let words = field.chunks_exact(8);
    let tail = words.remainder();
    words
        .map(|w| u64::from_ne_bytes(w.try_into().expect("8 bytes")))
        .any(|x| x.wrapping_sub(ONES * (b',' as u64 + 1)) & !x & HIGH != 0)
        || tail.iter().any(|&b| b <= b',')
}

/// `"00"` to `"99"`: digits are written two per division, as `itoa` does.
const PAIRS: [u8; 200] = {
    let mut t = [0u8; 200];
    let mut i = 0;
    while i < 100 {
        t[2 * i] = b'0' + (i / 10) as u8;
        t[2 * i + 1] = b'0' + (i % 10) as u8;
        i += 1;
    }
    t
};

/// The two digits of `v < 100`.
fn pair(v: u64) -> [u8; 2] {
    let i = v as usize * 2;
    [PAIRS[i], PAIRS[i + 1]]
}

/// Appends the decimal digits of `v` (what `itoa`, csv's serializer, writes),
/// straight into `line`: one digit (as the zeros of most counters) is one push;
/// for more, room for the longest number is added with a fixed-size copy, the
/// digits are written in place and the rest cut, so no call to `memcpy` copies a
/// few bytes.
#[inline]
fn put_u64(line: &mut Vec<u8>, v: u64) {
    if v < 10 {
        line.push(b'0' + v as u8);
    } else {
        put_digits(line, v);
    }
}

/// [`put_u64`] for `v >= 10`.
#[inline(never)]
fn put_digits(line: &mut Vec<u8>, mut v: u64) {
    let len = decimal_len(v);
    let start = line.len();
    line.extend_from_slice(&[0; 20]);
    line.truncate(start + len);
    let digits = &mut line[start..];
    let mut i = len;
    while v >= 100 {
        i -= 2;
        digits[i..i + 2].copy_from_slice(&pair(v % 100));
        v /= 100;
    }
    if v >= 10 {
        digits[..2].copy_from_slice(&pair(v));
    } else {
        digits[0] = b'0' + v as u8;
    }
}

/// How many decimal digits `v > 0` has: from its bit length (`log10(2)` is about
/// 1233 / 4096), then one more if it reaches the next power of ten. A few
/// instructions, where `u64::ilog10` compares its way down.
fn decimal_len(v: u64) -> usize {
    const POW10: [u64; 20] = {
        let mut t = [1u64; 20];
        let mut i = 1;
        while i < 20 {
            t[i] = t[i - 1] * 10;
            i += 1;
        }
        t
    };
    let guess = (((64 - (v | 1).leading_zeros()) * 1233) >> 12) as usize;
    guess + usize::from(v >= POW10[guess])
}

/// Appends the text csv's serializer (`ryu`) writes for `nanos / 1e9` seconds as
/// an `f64` (`SimTime::as_secs_f64`, `SimDuration::as_secs_f64`). Between 10 µs
/// and 2^49 ns (6.5 days) it is the decimal `nanos / 1e9`, written directly: there
/// the gap between doubles is under 1e-9 / 4, so no other decimal of at most nine
/// fractional digits rounds to that `f64`, and the shortest round-trip text `ryu`
/// picks is that decimal (in fixed notation, trailing zeros trimmed). Anything else
/// goes through `ryu` itself.
fn put_secs(line: &mut Vec<u8>, nanos: u64) {
    if (10_000..1 << 49).contains(&nanos) {
        let (int, frac) = (nanos / 1_000_000_000, nanos % 1_000_000_000);
        put_u64(line, int);
        // The nine fractional digits, then without their trailing zeros (at least
        // one digit stays).
        let (lead, mut rest) = (frac / 100_000_000, frac % 100_000_000);
        let mut digits = [b'.', b'0' + lead as u8, 0, 0, 0, 0, 0, 0, 0, 0];
        for i in (0..4).rev() {
            digits[2 + 2 * i..4 + 2 * i].copy_from_slice(&pair(rest % 100));
            rest /= 100;
        }
        let keep = digits
            .iter()
            .rposition(|&d| d != b'0')
            .map_or(2, |p| p.max(1) + 1);
        // All ten bytes, then cut: a fixed-size copy instead of a call to memcpy.
        line.extend_from_slice(&digits);
        line.truncate(line.len() - digits.len() + keep);
        return;
    }
    let mut r = ryu::Buffer::new();
    line.extend_from_slice(r.format(nanos as f64 / 1e9).as_bytes());
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

    fn serde_bytes<T: Serialize>(rows: &[T]) -> Vec<u8> {
        let mut w = csv::Writer::from_writer(Vec::new());
        rows.iter().for_each(|r| w.serialize(r).unwrap());
        w.into_inner().unwrap()
    }

    #[test]
    fn time_text_matches_the_serializer() {
        let mut rng = sim_core::MasterSeed(7).stream("secs");
        let mut values: Vec<u64> = vec![
            0,
            1,
            9_999,
            10_000,
            34_425,
            1_000_000_000,
            60_012_034_425,
            (1 << 49) - 1,
            1 << 49,
            u64::MAX,
        ];
        for bits in [20, 30, 40, 49, 50, 53, 60, 64] {
            for _ in 0..20_000 {
                values.push(sim_core::rng::below(&mut rng, 1 << (bits - 1)) << 1 | 1);
                values.push(sim_core::rng::below(&mut rng, 1 << (bits - 1)));
            }
        }
        let mut ours = Vec::new();
        for &n in &values {
            put_secs(&mut ours, n);
            ours.push(b'\n');
        }
        let rows: Vec<(f64,)> = values
            .iter()
            .map(|&n| (SimDuration::from_nanos(n).as_secs_f64(),))
            .collect();
        let theirs = serde_bytes(&rows);
        assert_eq!(
            String::from_utf8(ours).unwrap(),
            String::from_utf8(theirs).unwrap()
        );
    }

    #[test]
    fn integer_text_matches_the_serializer() {
        let mut values: Vec<u64> = vec![0, 9, 10, 99, 100, 999, 1000, u64::MAX];
        values.extend((0..20).map(|k| 10u64.pow(k)));
        values.extend((1..20).map(|k| 10u64.pow(k) - 1));
        values.extend((0..64).flat_map(|b| [1u64 << b, (1u64 << b) - 1, (1u64 << b) + 1]));
        let mut ours = Vec::new();
        for &v in &values {
            put_u64(&mut ours, v);
            ours.push(b'\n');
        }
        let rows: Vec<(u64,)> = values.iter().map(|&v| (v,)).collect();
        assert_eq!(ours, serde_bytes(&rows));
    }

    #[test]
    fn the_word_scan_finds_exactly_the_bytes_up_to_a_comma() {
        // Every byte value at every position of fields of 0..=24 bytes (words and
        // tails), in a field of otherwise high bytes ('z' and UTF-8 0xC3).
        for len in 0..=24 {
            for filler in [b'z', 0xC3] {
                assert!(!has_byte_at_most_comma(&vec![filler; len]));
                for pos in 0..len {
                    for b in 0..=255u8 {
                        let mut f = vec![filler; len];
                        f[pos] = b;
                        assert_eq!(has_byte_at_most_comma(&f), b <= b',', "{f:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn connection_lines_match_serde_byte_for_byte() {
        use analysis::schema::ConnectionRow;
        let t = SimTime::from_nanos;
        let cases = [
            (1, true, "clients/1", Outcome::Completed),
            (2, false, "odd,\"name\"", Outcome::PortExhausted),
            (3, true, "line\nbreak", Outcome::Reset),
            (4, false, "", Outcome::Unfinished),
            (5, true, "carriage\rreturn", Outcome::Aborted),
            (6, false, "just\"quotes\"", Outcome::Leaked),
        ];
        let mut rows = Vec::new();
        let mut ours = CONNECTIONS_HEADER.to_vec();
        for (id, some, name, outcome) in cases {
            let texts = [
                name,
                if some { "server/0" } else { name },
                if some { "client" } else { name },
                if some { "SYN_SENT>CLOSED" } else { name },
                if some { "" } else { name },
            ];
            let [client, server, closer, client_path, server_path] = texts;
            let server_port = if some { 80 } else { 65_535 };
            let line = ConnectionLine {
                id,
                client: &csv_field(client),
                client_port: some.then_some(40_000 + id as u16),
                destination: &destination_text(server, server_port),
                opened: t(id * 1_234_567_891),
                established: some.then_some(t(4_034_425)),
                finished: some.then_some(t(60_012_034_425)),
                ending: &ending_text(outcome, [closer, client_path, server_path]),
                retransmits: id,
                bytes_discarded: 0,
                stale_accepted: u64::MAX,
                bytes_delivered: 1100,
                close_blocked: some.then_some(SimDuration::from_secs(2)),
            };
            write_connection(&mut ours, &line);
            let [client, server, active_closer, client_path, server_path] = texts.map(String::from);
            rows.push(ConnectionRow {
                id,
                client,
                client_port: line.client_port,
                server,
                server_port,
                opened_s: line.opened.as_secs_f64(),
                established_s: line.established.map(SimTime::as_secs_f64),
                finished_s: line.finished.map(SimTime::as_secs_f64),
                outcome,
                active_closer,
                client_path,
                server_path,
                retransmits: line.retransmits,
                bytes_discarded: line.bytes_discarded,
                stale_accepted: line.stale_accepted,
                bytes_delivered: line.bytes_delivered,
                close_blocked_s: line.close_blocked.map(SimDuration::as_secs_f64),
            });
        }
        assert_eq!(
            String::from_utf8(ours).unwrap(),
            String::from_utf8(serde_bytes(&rows)).unwrap()
        );
    }

    #[test]
    fn outcome_texts_need_no_quotes() {
        for o in Outcome::ALL {
            assert_eq!(&*csv_field(o.as_str()), o.as_str().as_bytes());
        }
    }

    #[test]
    fn reads_peak_rss() {
        if Path::new("/proc/self/status").exists() {
            assert!(peak_rss_bytes() > 0);
        }
    }
}
