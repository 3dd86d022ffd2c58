//! Small deterministic hashing: the keyed mixer behind ISNs (RFC 6528), SYN cookies,
//! timestamp offsets and port offsets (RFC 6056 alg. 4), a tiny seeded PRNG, and the
//! hasher of the lookup-only demultiplexing map.

use std::hash::{BuildHasherDefault, Hasher};

/// The splitmix64 finalizer: a fast bijective 64-bit mixer.
#[inline]
pub(crate) fn mix64(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A keyed hash of a few words (the secret plays the role of Linux's
/// `net_secret`/`ts_secret`; siphash's strength is not needed in a simulator).
#[inline]
pub(crate) fn keyed(secret: u64, words: &[u64]) -> u64 {
    keyed_more(mix64(secret), words)
}

/// Continues a [`keyed`] hash with more words: `keyed_more(keyed(s, a), b)` is
/// `keyed(s, a ++ b)`, so a hash whose first words are fixed (the host's own
/// address) can start from a precomputed prefix.
#[inline]
pub(crate) fn keyed_more(prefix: u64, words: &[u64]) -> u64 {
    words.iter().fold(prefix, |h, &w| {
        mix64(h ^ w.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    })
}

/// A memo of the last argument of a pure function and its value: a client host
/// asks about the same peer again and again, and a keyed hash costs more than
/// the check. It cannot change results.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Memo<K, V>(Option<(K, V)>);

impl<K: Copy + PartialEq, V: Copy> Memo<K, V> {
    /// `f(k)`, remembered for `k` until another key is asked about.
    #[inline]
    pub fn get(&mut self, k: K, f: impl FnOnce(K) -> V) -> V {
        match self.0 {
            Some((key, v)) if key == k => v,
            _ => {
                let v = f(k);
                self.0 = Some((k, v));
                v
            }
        }
    }

    /// The value remembered for `k`, if `k` was the last key asked about.
    #[inline]
    pub fn peek(&self, k: K) -> Option<V> {
        self.0.and_then(|(key, v)| (key == k).then_some(v))
    }
}

/// SplitMix64: the host's seeded stream for random ISNs and port-choice jitter.
#[derive(Clone, Debug)]
pub(crate) struct SplitMix(u64);

impl SplitMix {
    pub fn new(seed: u64) -> SplitMix {
        SplitMix(seed)
    }
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        mix64(self.0)
    }
    /// Uniform in `0..n` (n ≤ 2^32; multiply-shift, bias negligible).
    pub fn below(&mut self, n: u32) -> u32 {
        (((self.next_u64() >> 32) * u64::from(n)) >> 32) as u32
    }
}

/// Hasher for `u64` keys of the demultiplexing table: one mixer round.
#[derive(Default, Clone, Copy)]
pub(crate) struct KeyHasher(u64);

impl Hasher for KeyHasher {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = mix64(self.0 ^ u64::from(b));
        }
    }
    #[inline]
    fn write_u64(&mut self, k: u64) {
        self.0 = mix64(self.0 ^ k);
    }
    #[inline]
    fn write_u32(&mut self, k: u32) {
        self.write_u64(u64::from(k));
    }
    #[inline]
    fn write_u16(&mut self, k: u16) {
        self.write_u64(u64::from(k));
    }
}

pub(crate) type BuildKeyHasher = BuildHasherDefault<KeyHasher>;

/// A hash map used for lookups only: never iterated, so its order cannot reach any
/// output (DESIGN.md principle 1), and keyed by our own fast hasher.
#[allow(clippy::disallowed_types)]
pub(crate) type LookupMap<K, V> = std::collections::HashMap<K, V, BuildKeyHasher>;

#[cfg(test)]
mod tests {
    use super::*;

    /// A hash continued from a prefix is the hash of all the words at once.
    #[test]
    fn keyed_more_continues_keyed() {
        let mut rng = SplitMix::new(9);
        for n in 0..6 {
            let words: Vec<u64> = (0..n).map(|_| rng.next_u64()).collect();
            let secret = rng.next_u64();
            for split in 0..=words.len() {
                let (a, b) = words.split_at(split);
                assert_eq!(keyed_more(keyed(secret, a), b), keyed(secret, &words));
            }
        }
    }

    /// The memo answers what the function would, across repeated and changing keys,
    /// and calls it only when the key changes.
    #[test]
    fn memo_gives_the_function_value() {
        let mut memo = Memo::default();
        let mut calls = 0;
        for k in [1u32, 1, 2, 2, 2, 1, 3, 3] {
            let v = memo.get(k, |k| {
                calls += 1;
                u64::from(k) * 7
            });
            assert_eq!(v, u64::from(k) * 7);
        }
        assert_eq!(calls, 4);
    }
}
