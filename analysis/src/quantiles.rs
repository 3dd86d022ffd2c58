//! Exact nearest-rank quantiles of a long stream of integers, such as the connect
//! times (in nanoseconds) of every connection of a run.
//!
//! Keeping every value costs memory in proportion to the stream, not to what a
//! run holds at once: 4 bytes per connection is 40 MB at 10^7 connections, a
//! tenth of the peak RSS of a run holding 10^6 TIME_WAIT sockets. Yet connect
//! times repeat: without link jitter they are sums
//! of fixed delays and retransmission time-outs, a handful of distinct values. So
//! values are folded a chunk at a time: a chunk with few distinct values goes into a
//! value → count map, which grows only with new values; any other chunk is kept
//! value by value (4 bytes each where the value fits in 32 bits, as before). The
//! quantiles are exact either way, equal to [`percentile_sorted`] of the sorted
//! stream.
//!
//! [`percentile_sorted`]: crate::stats::percentile_sorted

use std::collections::BTreeMap;

use crate::stats::nearest_rank;

/// Values folded at a time (32 KiB of pending values).
const CHUNK: usize = 4096;

/// A chunk goes into the map when it has at most one distinct value in this many:
/// a map entry (16 bytes plus its share of a B-tree node) costs about as much as
/// eight values kept 4 bytes each.
const REPEATS: usize = 8;

/// A stream of `u64` values whose exact quantiles are asked for at the end.
#[derive(Clone, Debug, Default)]
pub struct ExactQuantiles {
    /// Values not yet folded (fewer than [`CHUNK`]).
    pending: Vec<u64>,
    /// Values of chunks that repeated, with how often each occurred.
    counts: BTreeMap<u64, u64>,
    /// Values of the other chunks: those below 2^32 in 4 bytes, the others apart.
    short: Vec<u32>,
    long: Vec<u64>,
    /// Whether `short` and `long` are sorted (false after a fold added to them).
    sorted: bool,
    /// Values folded.
    folded: u64,
}

impl ExactQuantiles {
    /// Adds one value.
    #[inline]
    pub fn push(&mut self, value: u64) {
        if self.pending.capacity() == 0 {
            self.pending.reserve_exact(CHUNK);
        }
        self.pending.push(value);
        if self.pending.len() == CHUNK {
            self.fold();
        }
    }

    /// Values added.
    pub fn len(&self) -> u64 {
        self.folded + self.pending.len() as u64
    }

    /// True if no value was added.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The p-quantile (0 < p ≤ 1) of the values added by the nearest-rank method:
    /// the ⌈p·n⌉-th smallest. `None` if no value was added. Takes `&mut self` to
    /// fold the pending values and sort the kept ones (once, unless more are added).
    pub fn quantile(&mut self, p: f64) -> Option<u64> {
        self.fold();
        if !self.sorted {
            self.short.sort_unstable();
            self.long.sort_unstable();
            self.sorted = true;
        }
        let rank = nearest_rank(p, self.folded)?;
        Some(self.nth_smallest(rank))
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        let entry = std::mem::size_of::<(u64, u64)>();
        self.pending.capacity() * 8
            + self.counts.len() * entry * 3 / 2
            + self.short.capacity() * 4
            + self.long.capacity() * 8
    }

    /// Folds the pending values into the map or the kept values.
    fn fold(&mut self) {
        if self.pending.is_empty() {
            return;
        }
        let chunk = &mut self.pending;
        chunk.sort_unstable();
        let distinct = 1 + chunk.windows(2).filter(|w| w[0] != w[1]).count();
        if distinct * REPEATS <= chunk.len() {
            for run in chunk.chunk_by(|a, b| a == b) {
                *self.counts.entry(run[0]).or_insert(0) += run.len() as u64;
            }
        } else {
            for &v in chunk.iter() {
                match u32::try_from(v) {
                    Ok(short) => self.short.push(short),
                    Err(_) => self.long.push(v),
                }
            }
            self.sorted = false;
        }
        self.folded += chunk.len() as u64;
        chunk.clear();
    }

    /// The `rank`-th smallest value (1-based, at most `folded`), once everything
    /// is folded and the kept values are sorted: a merge of the kept values (every
    /// long one above every short one) with the map's values and counts.
    fn nth_smallest(&self, rank: u64) -> u64 {
        let kept = self.short.len() + self.long.len();
        let kept_at = |i: usize| match self.short.get(i) {
            Some(&v) => u64::from(v),
            None => self.long[i - self.short.len()],
        };
        if self.counts.is_empty() {
            return kept_at(rank as usize - 1);
        }
        let (mut i, mut seen) = (0, 0);
        let mut counts = self.counts.iter().map(|(&v, &n)| (v, n)).peekable();
        loop {
            let next_kept = (i < kept).then(|| kept_at(i));
            let (v, n) = match (next_kept, counts.peek().copied()) {
                (Some(k), Some((m, _))) if k < m => {
                    i += 1;
                    (k, 1)
                }
                (Some(k), None) => {
                    i += 1;
                    (k, 1)
                }
                (_, Some(entry)) => {
                    counts.next();
                    entry
                }
                (None, None) => unreachable!("rank {rank} is at most the {seen} values"),
            };
            seen += n;
            if seen >= rank {
                return v;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::percentile_sorted;

    const PS: [f64; 7] = [0.001, 0.1, 0.5, 0.9, 0.99, 0.999, 1.0];

    /// Checks every quantile of `values` against sorting them all.
    fn check(values: &[u64]) {
        let mut q = ExactQuantiles::default();
        for &v in values {
            q.push(v);
        }
        assert_eq!(q.len(), values.len() as u64);
        let mut sorted = values.to_vec();
        sorted.sort_unstable();
        let as_f64: Vec<f64> = sorted.iter().map(|&v| v as f64).collect();
        for p in PS {
            let want = nearest_rank(p, sorted.len() as u64).map(|r| sorted[r as usize - 1]);
            assert_eq!(q.quantile(p), want, "p {p}, {} values", values.len());
            // The same rank as the slice version (values small enough to be exact
            // as f64).
            if values.iter().all(|&v| v < 1 << 52) {
                assert_eq!(want.map(|v| v as f64), percentile_sorted(&as_f64, p));
            }
        }
    }

    /// A small deterministic generator (xorshift), so the tests need no crate.
    fn stream(seed: u64, n: usize, mut value: impl FnMut(u64) -> u64) -> Vec<u64> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                value(x)
            })
            .collect()
    }

    #[test]
    fn empty_and_tiny_streams() {
        let mut q = ExactQuantiles::default();
        assert!(q.is_empty());
        assert_eq!(q.quantile(0.5), None);
        check(&[7]);
        check(&[3, 1, 2]);
        check(&[u64::MAX, 0, 1 << 40]);
    }

    #[test]
    fn repeating_values_go_to_the_map_and_stay_exact() {
        // Connect times without jitter: a few sums of delays and time-outs.
        let values = stream(1, 50 * CHUNK + 123, |x| {
            [
                4_000_000,
                4_000_000,
                4_000_000,
                1_004_000_000,
                3_004_000_000,
                7_004_000_000,
            ][(x % 6) as usize]
        });
        check(&values);
        let mut q = ExactQuantiles::default();
        values.iter().for_each(|&v| q.push(v));
        assert!(q.short.is_empty() && q.long.is_empty());
        assert_eq!(q.counts.len(), 4);
        assert!(q.heap_bytes() < 40 * 1024, "{} bytes", q.heap_bytes());
    }

    #[test]
    fn distinct_values_are_kept_in_four_bytes_each() {
        // Connect times with jitter: nearly every value differs.
        let n = 20 * CHUNK;
        let values = stream(2, n, |x| 4_000_000 + x % 3_000_000);
        check(&values);
        let mut q = ExactQuantiles::default();
        values.iter().for_each(|&v| q.push(v));
        assert!(q.counts.is_empty());
        assert!(
            q.heap_bytes() <= n * 4 * 2 + CHUNK * 8,
            "{} bytes",
            q.heap_bytes()
        );
    }

    #[test]
    fn mixed_chunks_long_values_and_ties_between_map_and_kept_values() {
        // Chunks alternate between repeating and distinct values, and the same
        // values occur in both (ties between the map and the kept values), some
        // above 2^32.
        let mut values = Vec::new();
        for c in 0..24u64 {
            let chunk = if c % 2 == 0 {
                stream(c + 3, CHUNK, |x| [5, 1 << 33, 900][(x % 3) as usize])
            } else {
                stream(c + 3, CHUNK, |x| match x % 4 {
                    0 => 900,
                    1 => (1 << 33) + x % 1000,
                    _ => x % 100_000,
                })
            };
            values.extend(chunk);
        }
        values.extend([5, 5, 900]); // a last partial chunk
        check(&values);
        let mut q = ExactQuantiles::default();
        values.iter().for_each(|&v| q.push(v));
        q.quantile(0.5);
        assert!(!q.counts.is_empty() && !q.short.is_empty() && !q.long.is_empty());
    }

    #[test]
    fn quantiles_stay_exact_when_values_are_added_after_a_query() {
        let values = stream(9, 3 * CHUNK + 10, |x| x % 50_000);
        let mut q = ExactQuantiles::default();
        let (first, rest) = values.split_at(CHUNK + 5);
        first.iter().for_each(|&v| q.push(v));
        q.quantile(0.5);
        rest.iter().for_each(|&v| q.push(v));
        let mut sorted = values.clone();
        sorted.sort_unstable();
        for p in PS {
            let r = nearest_rank(p, sorted.len() as u64).unwrap();
            assert_eq!(q.quantile(p), Some(sorted[r as usize - 1]), "p {p}");
        }
    }
}
