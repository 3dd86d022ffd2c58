//! A bitmap over a host's ephemeral port range, one bit per port (index = port −
//! the range's low end), that finds the next clear bit of one parity quickly however
//! densely the bits are set.
//!
//! Linux's connect() scans one parity of `ip_local_port_range` from a hashed offset,
//! then the other (`__inet_hash_connect`). Near port exhaustion, the regime this
//! simulator exists to study, most ports are held and a scan crosses long runs of
//! them; when none is free it crosses the whole range twice. A word of the bitmap
//! holds 64 ports; for each parity, a summary bit per word says that all its ports
//! of that parity are held, so a scan skips 64 full words (4,096 ports) per summary
//! word read: a failed connect() reads a few dozen words, not the range's 441 twice.
//!
//! Bits past the end of the range are set, as if held: no scan takes them, and a word
//! is full when all its bits of a parity are set, whether or not it is the last.

/// Summary words per parity: one bit per bitmap word, for up to 65,536 ports (the
/// whole `u16` range: 1,024 words).
const SUMMARY: usize = 16;

/// Bit `k` of a word is index `64w + k`, of the same parity as `k`.
const PARITY: [u64; 2] = [0x5555_5555_5555_5555, 0xAAAA_AAAA_AAAA_AAAA];

/// The bitmap words, then the two parities' summaries ([`SUMMARY`] words each).
/// Empty until [`PortBits::new`]: nothing is allocated for a host that never
/// connects.
#[derive(Clone, Default)]
pub(crate) struct PortBits {
    words: Vec<u64>,
}

impl PortBits {
    /// All clear, for indices `0..len` (at most 65,536).
    pub fn new(len: usize) -> PortBits {
        assert!(len <= SUMMARY * 64 * 64, "{len} ports");
        let n = len.div_ceil(64);
        let mut bits = PortBits {
            words: vec![0; n + 2 * SUMMARY],
        };
        if len % 64 != 0 {
            bits.words[n - 1] = !0 << (len % 64);
            for parity in 0..2 {
                bits.summarize(n - 1, parity);
            }
        }
        bits
    }

    /// Nothing allocated yet.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }

    /// Bitmap words.
    #[inline]
    fn len_words(&self) -> usize {
        self.words.len().saturating_sub(2 * SUMMARY)
    }

    /// Whether bit `i` is set (false if nothing is allocated; true past the
    /// range's end in its last word; false beyond that word).
    #[inline]
    pub fn contains(&self, i: usize) -> bool {
        i / 64 < self.len_words() && self.words[i / 64] & (1 << (i % 64)) != 0
    }

    /// Prefetches the word of bit `i` (a hint; see [`sim_core::prefetch`]).
    #[inline]
    pub fn prefetch(&self, i: usize) {
        if let Some(w) = self.words.get(i / 64) {
            sim_core::prefetch::prefetch(w);
        }
    }

    /// Sets bit `i`; true if it was clear. Reads or writes a summary only when the
    /// word becomes full for `i`'s parity.
    #[inline]
    pub fn insert(&mut self, i: usize) -> bool {
        let (w, b) = (i / 64, 1 << (i % 64));
        let word = &mut self.words[w];
        let was_clear = *word & b == 0;
        *word |= b;
        if *word & PARITY[i % 2] == PARITY[i % 2] {
            self.summarize(w, i % 2);
        }
        was_clear
    }

    /// Clears bit `i`; true if it was set. Reads or writes a summary only when the
    /// word was full for `i`'s parity.
    #[inline]
    pub fn remove(&mut self, i: usize) -> bool {
        let (w, b) = (i / 64, 1 << (i % 64));
        let word = &mut self.words[w];
        let was_full = *word & PARITY[i % 2] == PARITY[i % 2];
        let was_set = *word & b != 0;
        *word &= !b;
        if was_full {
            self.summarize(w, i % 2);
        }
        was_set
    }

    /// Brings word `w`'s summary bit for `parity` up to date.
    fn summarize(&mut self, w: usize, parity: usize) {
        let full = self.words[w] & PARITY[parity] == PARITY[parity];
        let s = self.len_words() + parity * SUMMARY + w / 64;
        let bit = 1 << (w % 64);
        if full {
            self.words[s] |= bit;
        } else {
            self.words[s] &= !bit;
        }
    }

    /// The first clear bit at `start` or after it in steps of two (`start`'s
    /// parity), below `stop`; `None` if all of them are set. Allocated, and
    /// `start < stop <=` the range's length.
    pub fn next_clear(&self, start: usize, stop: usize) -> Option<usize> {
        debug_assert!(start < stop && stop.div_ceil(64) <= self.len_words());
        let parity = start % 2;
        let summary = &self.words[self.len_words() + parity * SUMMARY..][..SUMMARY];
        let last = (stop - 1) / 64;
        let (mut w, mut from) = (start / 64, start % 64);
        while w <= last {
            // The first word from `w` on that is not full for this parity.
            let open = !summary[w / 64] & (!0 << (w % 64));
            if open == 0 {
                (w, from) = ((w / 64 + 1) * 64, 0);
                continue;
            }
            let next = w / 64 * 64 + open.trailing_zeros() as usize;
            if next != w {
                (w, from) = (next, 0);
                continue;
            }
            let free = !self.words[w] & PARITY[parity] & (!0 << from);
            if free != 0 {
                let i = w * 64 + free.trailing_zeros() as usize;
                return (i < stop).then_some(i);
            }
            (w, from) = (w + 1, 0);
        }
        None
    }

    /// The set bits' indices in increasing order, those past the range's end
    /// included.
    pub fn ones(&self) -> impl Iterator<Item = usize> + '_ {
        self.words[..self.len_words()]
            .iter()
            .enumerate()
            .flat_map(|(w, &word)| {
                std::iter::successors((word != 0).then_some(word), |&rest| {
                    let rest = rest & (rest - 1);
                    (rest != 0).then_some(rest)
                })
                .map(move |rest| w * 64 + rest.trailing_zeros() as usize)
            })
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.words.capacity() * 8
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hash::SplitMix;

    /// The first index of `start`'s parity in `start..stop` not in `set`, by
    /// walking.
    fn walk(set: &[bool], start: usize, stop: usize) -> Option<usize> {
        (start..stop).step_by(2).find(|&i| !set[i])
    }

    /// Every summary bit says whether its word is full for its parity (so that
    /// scans do skip full words), and the summaries have no bits past the words.
    fn check_summaries(bits: &PortBits) {
        let n = bits.len_words();
        for (parity, mask) in PARITY.into_iter().enumerate() {
            for w in 0..SUMMARY * 64 {
                let summary = bits.words[n + parity * SUMMARY + w / 64];
                let full = w < n && bits.words[w] & mask == mask;
                assert_eq!(summary & (1 << (w % 64)) != 0, full, "word {w} of {n}");
            }
        }
    }

    /// Sets `set[i]` to `to`; true if it changed.
    fn flip(set: &mut [bool], i: usize, to: bool) -> bool {
        std::mem::replace(&mut set[i], to) != to
    }

    /// Random inserts and removes against a set, at densities from sparse to full,
    /// in ranges whose ends fall inside a word and on its boundary, up to the
    /// whole `u16` range (whose summaries are full-length). Runs of set bits
    /// cross summary words: a dense stretch is filled in order, as connect()'s
    /// sequential scan fills ports.
    #[test]
    fn next_clear_finds_what_a_walk_finds() {
        let mut rng = SplitMix::new(3);
        for len in [1, 2, 63, 64, 65, 300, 4096, 4097, 28_232, 65_536] {
            for density in [0, 50, 97, 100] {
                let mut bits = PortBits::new(len);
                let mut set = vec![false; len];
                for step in 0..3_000 {
                    let i = rng.below(len as u32) as usize;
                    if rng.below(100) < density {
                        // A run from `i`, of the parity of `i`.
                        for j in (i..len.min(i + 400)).step_by(2) {
                            assert_eq!(bits.insert(j), flip(&mut set, j, true), "{len}: {j}");
                        }
                    } else {
                        let removed = flip(&mut set, i, false);
                        assert_eq!(bits.remove(i), removed, "{len}: {i} step {step}");
                    }
                    let start = rng.below(len as u32) as usize;
                    let stop = start + 1 + rng.below((len - start) as u32) as usize;
                    assert_eq!(
                        bits.next_clear(start, stop),
                        walk(&set, start, stop),
                        "{len} ports at {density}%: {start}..{stop}"
                    );
                    assert_eq!(bits.contains(i), set[i]);
                    if step % 500 == 0 {
                        check_summaries(&bits);
                    }
                }
                // Full: no clear bit of either parity anywhere.
                for i in 0..len {
                    bits.insert(i);
                }
                check_summaries(&bits);
                assert_eq!(bits.next_clear(0, len), None, "{len}");
                if len > 1 {
                    assert_eq!(bits.next_clear(1, len), None, "{len}");
                }
                bits.remove(len - 1);
                assert_eq!(bits.next_clear((len - 1) % 2, len), Some(len - 1));
            }
        }
    }

    #[test]
    fn bits_past_the_range_read_as_set() {
        let bits = PortBits::new(70);
        assert!((0..70).all(|i| !bits.contains(i)));
        assert!((70..128).all(|i| bits.contains(i)));
        // Not the summaries that follow the words, set once the words are full.
        let mut bits = bits;
        for i in 0..70 {
            bits.insert(i);
        }
        assert!((128..128 + 2 * SUMMARY * 64).all(|i| !bits.contains(i)));
        assert!(!PortBits::default().contains(0));
    }
}
