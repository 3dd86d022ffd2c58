//! A 4-ary min-heap of small `Copy` entries: the storage under
//! [`crate::EventQueue`] and [`crate::LazyDeadlines`] (whose entries are 16-byte
//! packed keys) and sim-tcp's timer heap.
//!
//! Why not `std::collections::BinaryHeap`: in the hold benchmark
//! (`benches/scheduler.rs`, `hold/quad_heap` vs `hold/std_binary_heap`: the event
//! queue on this heap vs the same events in a `BinaryHeap`; thread CPU time,
//! `BENCH_CLOCK=cpu`, on the 2-vCPU build VM) this heap is faster at every size:
//! 36.9 vs 26.5 M events/s at 10^3 pending, 24.8 vs 17.1 at 10^4, 20.4 vs 9.9 at
//! 10^5 and 6.7 vs 2.9 at 10^6, because:
//! * four children per node halve the levels, and the four children are adjacent
//!   in memory (64 bytes of 16-byte entries: one or two cache lines);
//! * sifts move a "hole" rather than swapping, and because entries are `Copy`
//!   (keys and slab indices; payloads live elsewhere) this needs no `unsafe` (the
//!   only `unsafe` here is the prefetch hint);
//! * pops are *deferred*: `pop` moves the last entry into the root and only marks
//!   the root dirty. A `push` that follows (the common case: an event handler
//!   schedules the next event) writes the new entry at the root, returns the
//!   displaced one to the end it came from, and sifts once — one sift per event
//!   instead of two, like Python's `heapreplace`. Any other operation sifts first;
//! * the smallest of four children is found by a branch-free tournament, and for
//!   single-integer entries the winners are picked as values, so a level waits for
//!   one load ([`QuadHeap`]'s `BY_VALUE`);
//! * heaps larger than the L1 cache prefetch the grandchildren while comparing the
//!   children, so the next level's load overlaps this level's comparisons.
//!
//! The sift after a pop is Floyd's bottom-up variant: the hole goes down along the
//! smallest children to a leaf, then the entry climbs back up, which saves
//! comparisons because a new event usually belongs near the bottom.
//!
//! Cost per event (1 / the rates above): 27, 40, 49 and 149 ns at 10^3..10^6. Up to
//! 10^5 (1.6 MB of entries, inside the L2/L3 caches) it grows with the number of
//! levels, log n; at 10^6 (16 MB) every level below the cached top misses to memory
//! and the prefetch hides only part of it.

/// A min-heap with four children per node. Entries equal under `Ord` come out in
/// unspecified order: give every entry a unique key (the scheduler does).
///
/// `BY_VALUE` picks how a sift takes the smallest of four children. `true` selects
/// the winners as values with conditional moves, so a level waits for one load:
/// for entries that are a single integer, like the scheduler's packed `u128` keys
/// (about +20% events/s at 10^4 in `hold/quad_heap`). The default `false` re-reads
/// the winners by index: for tuples and other types whose comparisons branch,
/// which value selection makes twice as slow. Either way the order is the same.
#[derive(Clone, Debug)]
pub struct QuadHeap<T, const BY_VALUE: bool = false> {
    v: Vec<T>,
    /// `v[0]` may be out of order (a pop was deferred); the rest is a valid heap.
    dirty: bool,
}

impl<T: Copy + Ord, const BY_VALUE: bool> Default for QuadHeap<T, BY_VALUE> {
    fn default() -> Self {
        Self::with_capacity(0)
    }
}

impl<T: Copy + Ord, const BY_VALUE: bool> QuadHeap<T, BY_VALUE> {
    /// An empty heap with room for `n` entries.
    pub fn with_capacity(n: usize) -> Self {
        QuadHeap {
            v: Vec::with_capacity(n),
            dirty: false,
        }
    }

    /// Entries the heap can hold without reallocating.
    pub fn capacity(&self) -> usize {
        self.v.capacity()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.v.len()
    }

    /// True if empty.
    pub fn is_empty(&self) -> bool {
        self.v.is_empty()
    }

    /// The smallest entry. With a pop deferred, every entry but the root is at
    /// least its ancestor among the root's children, so the minimum is among the
    /// root and its (at most four) children.
    #[inline]
    pub fn peek(&self) -> Option<T> {
        if self.dirty {
            match self.v.get(1..5) {
                // The usual case: a tournament of the four children, then the root.
                Some(k) => {
                    let (child, _) = tournament::<T, BY_VALUE>(k.try_into().expect("four"));
                    Some(child.min(self.v[0]))
                }
                None => self.v.iter().min().copied(),
            }
        } else {
            self.v.first().copied()
        }
    }

    /// Adds an entry.
    #[inline]
    pub fn push(&mut self, x: T) {
        if self.dirty {
            // Put `x` at the dirty root and the displaced entry back at the end,
            // where it was in order before the pop moved it (its parent there is
            // unchanged unless that parent is the root: `sift_up` checks).
            self.dirty = false;
            let displaced = std::mem::replace(&mut self.v[0], x);
            self.v.push(displaced);
            if self.v.len() <= 5 {
                self.sift_up(self.v.len() - 1);
            }
            self.sink_root();
        } else {
            self.v.push(x);
            self.sift_up(self.v.len() - 1);
        }
    }

    /// Removes and returns the smallest entry.
    #[inline]
    pub fn pop(&mut self) -> Option<T> {
        self.settle();
        if self.v.is_empty() {
            return None;
        }
        let top = self.v.swap_remove(0);
        self.dirty = self.v.len() > 1;
        Some(top)
    }

    /// Keeps only the entries for which `keep` is true, then restores the heap
    /// order in O(n).
    pub fn retain(&mut self, keep: impl FnMut(&T) -> bool) {
        self.dirty = false;
        self.v.retain(keep);
        for i in (0..self.v.len().div_ceil(4)).rev() {
            self.sift_down(i);
        }
    }

    /// Performs a deferred sift, if any.
    #[inline]
    fn settle(&mut self) {
        if self.dirty {
            self.dirty = false;
            self.sink_root();
        }
    }

    #[inline]
    fn sift_up(&mut self, mut i: usize) {
        let v = &mut self.v[..];
        let x = v[i];
        while i > 0 {
            let parent = (i - 1) / 4;
            if x >= v[parent] {
                break;
            }
            v[i] = v[parent];
            i = parent;
        }
        v[i] = x;
    }

    /// Index of the smallest child of `i`, if it has any.
    #[inline(always)]
    fn min_child(v: &[T], i: usize) -> Option<usize> {
        let c = 4 * i + 1;
        if let Some(k) = v.get(c..c + 4) {
            Some(c + tournament::<T, BY_VALUE>(k.try_into().expect("four children")).1)
        } else if c < v.len() {
            (c..v.len()).min_by_key(|&j| v[j])
        } else {
            None
        }
    }

    /// Restores order when only the root may be out of place (Floyd): move the
    /// hole down along the smallest children to a leaf, then sift the entry up.
    fn sink_root(&mut self) {
        let v = &mut self.v[..];
        let Some(&x) = v.first() else { return };
        let mut i = 0;
        let deep = v.len() > PREFETCH_FROM;
        // Full groups of four children: the hot loop.
        while let Some(k) = v.get(4 * i + 1..4 * i + 5) {
            if deep && let Some(grandchildren) = v.get(16 * i + 5..16 * i + 21) {
                prefetch(grandchildren);
            }
            let (child, best) = tournament::<T, BY_VALUE>(k.try_into().expect("four children"));
            v[i] = child;
            i = 4 * i + 1 + best;
        }
        // At most one partial group, at the bottom.
        if let Some(c) = Self::min_child(v, i) {
            v[i] = v[c];
            i = c;
        }
        v[i] = x;
        self.sift_up(i);
    }

    /// Classic sift-down, used when rebuilding after `retain`.
    fn sift_down(&mut self, mut i: usize) {
        let v = &mut self.v[..];
        let x = v[i];
        while let Some(c) = Self::min_child(v, i) {
            if v[c] >= x {
                break;
            }
            v[i] = v[c];
            i = c;
        }
        v[i] = x;
    }
}

/// The smallest of four entries and its index: a two-round tournament, three
/// comparisons, no loop; `BY_VALUE` as in [`QuadHeap`].
#[inline(always)]
pub(crate) fn tournament<T: Copy + Ord, const BY_VALUE: bool>(k: &[T; 4]) -> (T, usize) {
    if BY_VALUE {
        let (x0, i0) = if k[1] < k[0] { (k[1], 1) } else { (k[0], 0) };
        let (x1, i1) = if k[3] < k[2] { (k[3], 3) } else { (k[2], 2) };
        if x1 < x0 { (x1, i1) } else { (x0, i0) }
    } else {
        let a = usize::from(k[1] < k[0]);
        let b = 2 + usize::from(k[3] < k[2]);
        let best = if k[b] < k[a] { b } else { a };
        (k[best], best)
    }
}

/// Heaps longer than this (64 KiB of 16-byte entries, more than the L1 data cache)
/// prefetch while sifting; shorter ones are cache-resident anyway.
const PREFETCH_FROM: usize = 4096;

/// Asks the CPU to start loading every cache line of `s`: while a sift compares a
/// node's children, the 16 grandchildren (the next level, 256 bytes, four or five
/// lines) arrive, so a level costs a comparison instead of a cache miss. A hint
/// only: no effect on results, and none off x86-64.
#[inline(always)]
fn prefetch<T>(s: &[T]) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let (p, bytes) = (s.as_ptr().cast::<i8>(), std::mem::size_of_val(s));
        // Every 64 bytes from the first, and the last byte (`s` need not start on
        // a line boundary).
        let mut offset = 0;
        while offset < bytes + 63 {
            // SAFETY: `_mm_prefetch` is `unsafe` only for its `sse` target feature,
            // which every x86-64 CPU has; a prefetch never faults, and the address
            // lies inside `s` anyway.
            unsafe {
                _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(offset.min(bytes.saturating_sub(1))))
            };
            offset += 64;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = s;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::{MasterSeed, below};

    /// Grows past [`PREFETCH_FROM`], so both sift paths run.
    fn pops_in_sorted_order<const BY_VALUE: bool>() {
        let mut rng = MasterSeed(3).stream("heap");
        let mut h = QuadHeap::<_, BY_VALUE>::default();
        let mut model = std::collections::BTreeSet::new();
        let mut peak = 0;
        for i in 0..20_000u64 {
            if below(&mut rng, 3) < 2 {
                let x = (below(&mut rng, 1000), i);
                h.push(x);
                model.insert(x);
            } else {
                assert_eq!(h.pop(), model.pop_first());
            }
            assert_eq!(h.peek(), model.first().copied());
            assert_eq!(h.len(), model.len());
            peak = peak.max(h.len());
        }
        assert!(
            peak > PREFETCH_FROM,
            "the heap grew past PREFETCH_FROM: {peak}"
        );
        h.retain(|&(k, _)| k % 3 != 0);
        model.retain(|&(k, _)| k % 3 != 0);
        while let Some(x) = h.pop() {
            assert_eq!(Some(x), model.pop_first());
        }
        assert!(model.is_empty() && h.is_empty());
    }

    #[test]
    fn pops_in_sorted_order_under_random_pushes_and_pops() {
        pops_in_sorted_order::<false>();
        pops_in_sorted_order::<true>();
    }
}
