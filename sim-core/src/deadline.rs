//! Re-armable deadlines: at most one pending deadline per id (per host, in tcpsim).
//!
//! A TCP host has many timers (RTO, delayed ACK, TIME_WAIT, FIN_WAIT_2, keepalive,
//! linger) but the harness only needs the earliest of them: after every call into a
//! host it re-arms that host's single deadline (STYLE.md "Model timers as deadlines
//! that the caller polls"). Re-arming happens far more often than firing, so the
//! structure holding these deadlines is on the hot path. Three designs are provided
//! behind [`DeadlineSet`]:
//!
//! * [`LazyDeadlines`]: a min-heap ([`QuadHeap`]) plus the armed key per id and the
//!   key of the id's one authoritative heap entry. Re-arming to a key at or after
//!   that entry's (the common case: a host's earliest timer is unchanged, only the
//!   sequence number moves on) touches no heap at all: the entry is a lower bound,
//!   re-keyed to the armed key when it reaches the top. Re-arming earlier pushes a
//!   new entry; the old one becomes stale, skipped when it reaches the top. The heap
//!   is compacted when stale entries outnumber the others, so memory stays O(ids).
//!   The order is exactly that of the armed keys. A heap entry packs the key and
//!   the id into 16 bytes (as [`crate::EventQueue`]'s do), so ids must be below
//!   [`LAZY_ID_LIMIT`] = 2^24 and sequence numbers below 2^40; `set` panics past
//!   either.
//! * [`InPlaceDeadlines`]: a four-ary heap of the same packed entries that tracks
//!   where each id's one entry sits, so re-arming moves it up or down in place: no
//!   stale entries, and a pop needs no re-keying.
//! * [`IndexedDeadlines`]: the `priority-queue` crate's indexed heap, which updates
//!   the id's priority in place (`push` on an existing item = `change_priority`),
//!   behind a hash map from id to position.
//!
//! `benches/scheduler.rs` measures them; [`FastDeadlines`] names the faster one,
//! which [`crate::Sim`] uses by default.

use std::cmp::Reverse;
use std::hash::{BuildHasherDefault, Hasher};

use priority_queue::PriorityQueue;

use crate::heap::{QuadHeap, tournament};
use crate::queue::{Entry, Key, TAG_LIMIT};

/// [`LazyDeadlines`] ids must be below this (2^24): a heap entry packs the id with
/// the key into 16 bytes.
pub const LAZY_ID_LIMIT: usize = TAG_LIMIT;

/// The deadline set [`crate::Sim`] uses by default: the faster design for a
/// workload like tcpsim's, where deadlines are re-armed far more often than they
/// fire (the 40,307-connection `client-close` run re-arms host deadlines 219,878
/// times and pops 46,960). `benches/scheduler.rs`, thread CPU time
/// (`BENCH_CLOCK=cpu`, 2-vCPU VM), M operations/s at 10^3 and 10^4 ids:
/// `deadline_rearm` (pop the earliest, re-arm it, re-arm one more id) 17.1 / 12.7
/// in place vs 11.8 / 9.3 lazy; `deadline_hold` (pop and re-arm only) 23.3 / 16.2
/// in place vs 24.9 / 20.7 lazy. On that run, in place takes 0.6 % fewer
/// instructions in all (callgrind); 1.8 % fewer since its sift-down plays the
/// four children's tournament (1.1425 vs 1.1629 G). Earlier runs of the same benchmarks put
/// [`IndexedDeadlines`] at about half of lazy.
pub type FastDeadlines = InPlaceDeadlines;

/// At most one pending deadline per `usize` id, ordered by [`Key`].
pub trait DeadlineSet: Default {
    /// Arms `id`'s deadline at `key`, replacing any deadline it had.
    fn set(&mut self, id: usize, key: Key);
    /// Disarms `id`'s deadline; returns whether one was armed.
    fn clear(&mut self, id: usize) -> bool;
    /// `id`'s armed deadline, if any.
    fn get(&self, id: usize) -> Option<Key>;
    /// The earliest armed deadline and its id.
    fn peek(&self) -> Option<(Key, usize)>;
    /// The ids of the two earliest armed deadlines, earliest first, as far as the
    /// design can tell cheaply (at least the earliest when one is armed): for a
    /// caller that prefetches what they will touch.
    fn next_ids(&self) -> [Option<usize>; 2] {
        [self.peek().map(|(_, id)| id), None]
    }
    /// Removes and returns the earliest armed deadline and its id.
    fn pop(&mut self) -> Option<(Key, usize)>;
    /// Number of armed deadlines.
    fn len(&self) -> usize;
    /// True if no deadline is armed.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Sequence number marking "no deadline armed" in [`LazyDeadlines::armed`] and "no
/// heap entry" in [`LazyDeadlines::entry`].
const DISARMED: u64 = u64::MAX;

const NONE: Key = Key {
    time: crate::SimTime::ZERO,
    seq: DISARMED,
};

/// A min-heap with lazy cancellation and lazy re-keying: see the module docs.
#[derive(Default)]
pub struct LazyDeadlines {
    /// Keys packed with their id (16-byte entries; ids below 2^24).
    heap: QuadHeap<Entry, true>,
    /// The armed key per id; `seq == DISARMED` when none.
    armed: Vec<Key>,
    /// The key of the id's one authoritative heap entry (`seq == DISARMED`: none).
    /// While the id is armed, that key is at most `armed[id]`: a lower bound, fixed
    /// up when it reaches the top. Other entries of the id are stale.
    entry: Vec<Key>,
    /// Armed ids.
    live: usize,
    /// Ids with an authoritative entry (armed or not).
    held: usize,
}

impl LazyDeadlines {
    /// Restores "the heap top, if any, is armed at exactly its key" and bounds the
    /// stale entries.
    fn tidy(&mut self) {
        while let Some(e) = self.heap.peek() {
            let (key, id) = (e.key(), e.tag());
            if self.entry[id] != key {
                self.heap.pop(); // stale: the id has a newer entry, or none
            } else if self.armed[id].seq == DISARMED {
                self.heap.pop();
                self.entry[id] = NONE;
                self.held -= 1;
            } else if self.armed[id] == key {
                break;
            } else {
                // Re-armed later since this entry was pushed: re-key it.
                let real = self.armed[id];
                self.heap.pop();
                self.heap.push(Entry::new(real, id));
                self.entry[id] = real;
            }
        }
        // Compaction is O(n) and happens only after at least `held + 64` stale
        // entries accumulated, so its amortized cost per re-arm is O(1).
        if self.heap.len() > 2 * self.held + 64 {
            let entry = &self.entry;
            self.heap.retain(|e| entry[e.tag()] == e.key());
        }
    }
}

impl DeadlineSet for LazyDeadlines {
    /// Panics if `id` is not below [`LAZY_ID_LIMIT`] (2^24) or `key.seq` not
    /// below [`SEQ_LIMIT`](crate::queue::SEQ_LIMIT) (2^40): they share a 16-byte
    /// heap entry with the time.
    fn set(&mut self, id: usize, key: Key) {
        // Packed first: it checks `id` and `key.seq` before anything changes.
        let packed = Entry::new(key, id);
        if id >= self.armed.len() {
            self.armed.resize(id + 1, NONE);
            self.entry.resize(id + 1, NONE);
        }
        if self.armed[id].seq == DISARMED {
            self.live += 1;
        }
        self.armed[id] = key;
        let e = self.entry[id];
        if e.seq == DISARMED || e > key {
            // No entry, or one that would fire too late: a new authoritative entry.
            if e.seq == DISARMED {
                self.held += 1;
            }
            self.entry[id] = key;
            self.heap.push(packed);
        }
        self.tidy();
    }

    fn clear(&mut self, id: usize) -> bool {
        match self.armed.get_mut(id) {
            Some(k) if k.seq != DISARMED => {
                k.seq = DISARMED;
                self.live -= 1;
                self.tidy();
                true
            }
            _ => false,
        }
    }

    #[inline]
    fn get(&self, id: usize) -> Option<Key> {
        self.armed.get(id).copied().filter(|k| k.seq != DISARMED)
    }

    #[inline]
    fn peek(&self) -> Option<(Key, usize)> {
        self.heap.peek().map(|e| (e.key(), e.tag()))
    }

    fn pop(&mut self) -> Option<(Key, usize)> {
        let e = self.heap.pop()?;
        let (key, id) = (e.key(), e.tag());
        self.armed[id].seq = DISARMED;
        self.entry[id] = NONE;
        self.live -= 1;
        self.held -= 1;
        self.tidy();
        Some((key, id))
    }

    fn len(&self) -> usize {
        self.live
    }
}

/// Marks an id without a heap entry in [`InPlaceDeadlines::pos`].
const NOWHERE: u32 = u32::MAX;

/// A four-ary min-heap of packed entries that knows where each id's one entry
/// sits: re-arming rewrites that entry and moves it up or down in place, so the heap
/// never holds stale entries and a pop needs no re-keying. Ids below
/// [`LAZY_ID_LIMIT`], sequence numbers below 2^40 (the same packing as
/// [`LazyDeadlines`]).
#[derive(Default)]
pub struct InPlaceDeadlines {
    heap: Vec<Entry>,
    /// Index in `heap` of each id's entry; [`NOWHERE`] when it is not armed.
    pos: Vec<u32>,
}

impl InPlaceDeadlines {
    #[inline]
    fn put(&mut self, i: usize, e: Entry) {
        self.heap[i] = e;
        self.pos[e.tag()] = i as u32;
    }

    /// Writes `e` into the hole at `i`, or higher up while its parent is later.
    fn sift_up(&mut self, mut i: usize, e: Entry) {
        while i > 0 {
            let parent = (i - 1) / 4;
            let p = self.heap[parent];
            if p <= e {
                break;
            }
            self.put(i, p);
            i = parent;
        }
        self.put(i, e);
    }

    /// Writes `e` into the hole at `i`, or lower down while a child is earlier.
    fn sift_down(&mut self, mut i: usize, e: Entry) {
        let n = self.heap.len();
        loop {
            let first = 4 * i + 1;
            if first >= n {
                break;
            }
            // A full group of four: the heap's branch-free tournament.
            let (child, best) = match self.heap.get(first..first + 4) {
                Some(k) => {
                    let (child, j) = tournament::<_, true>(k.try_into().expect("four"));
                    (child, first + j)
                }
                None => (first..n)
                    .map(|c| (self.heap[c], c))
                    .min()
                    .expect("a child"),
            };
            if child >= e {
                break;
            }
            self.put(i, child);
            i = best;
        }
        self.put(i, e);
    }

    /// Writes `e` into the hole at `i` and restores the heap order around it.
    fn fill(&mut self, i: usize, e: Entry) {
        if i > 0 && self.heap[(i - 1) / 4] > e {
            self.sift_up(i, e);
        } else {
            self.sift_down(i, e);
        }
    }

    /// Removes and returns the entry at `i`.
    fn remove_at(&mut self, i: usize) -> Entry {
        let e = self.heap[i];
        self.pos[e.tag()] = NOWHERE;
        let last = self.heap.pop().expect("an entry at i");
        if i < self.heap.len() {
            self.fill(i, last);
        }
        e
    }
}

impl DeadlineSet for InPlaceDeadlines {
    /// Panics if `id` is not below [`LAZY_ID_LIMIT`] (2^24) or `key.seq` not
    /// below [`SEQ_LIMIT`](crate::queue::SEQ_LIMIT) (2^40).
    fn set(&mut self, id: usize, key: Key) {
        let e = Entry::new(key, id);
        if id >= self.pos.len() {
            self.pos.resize(id + 1, NOWHERE);
        }
        match self.pos[id] {
            NOWHERE => {
                self.heap.push(e);
                self.sift_up(self.heap.len() - 1, e);
            }
            i => self.fill(i as usize, e),
        }
    }

    fn clear(&mut self, id: usize) -> bool {
        match self.pos.get(id) {
            Some(&i) if i != NOWHERE => {
                self.remove_at(i as usize);
                true
            }
            _ => false,
        }
    }

    #[inline]
    fn get(&self, id: usize) -> Option<Key> {
        let i = *self.pos.get(id)?;
        (i != NOWHERE).then(|| self.heap[i as usize].key())
    }

    #[inline]
    fn peek(&self) -> Option<(Key, usize)> {
        self.heap.first().map(|e| (e.key(), e.tag()))
    }

    /// The root and the least of its children.
    fn next_ids(&self) -> [Option<usize>; 2] {
        let h = &self.heap;
        let second = match h.get(1..5) {
            Some(k) => Some(tournament::<_, true>(k.try_into().expect("four")).0),
            None => h.get(1..).and_then(|k| k.iter().min().copied()),
        };
        [h.first().map(|e| e.tag()), second.map(|e| e.tag())]
    }

    fn pop(&mut self) -> Option<(Key, usize)> {
        if self.heap.is_empty() {
            return None;
        }
        let e = self.remove_at(0);
        Some((e.key(), e.tag()))
    }

    fn len(&self) -> usize {
        self.heap.len()
    }
}

/// A fast, fixed (hence deterministic) hasher for dense integer ids: one
/// multiply-rotate per word, as in rustc's FxHasher.
#[derive(Default, Clone, Copy)]
pub struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.write_u64(u64::from(b));
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = (self.0.rotate_left(5) ^ n).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
    fn write_usize(&mut self, n: usize) {
        self.write_u64(n as u64);
    }
}

/// The `priority-queue` crate's indexed heap: re-arming updates in place.
pub struct IndexedDeadlines {
    pq: PriorityQueue<usize, Reverse<Key>, BuildHasherDefault<IdHasher>>,
}

impl Default for IndexedDeadlines {
    fn default() -> Self {
        IndexedDeadlines {
            pq: PriorityQueue::with_default_hasher(),
        }
    }
}

impl DeadlineSet for IndexedDeadlines {
    fn set(&mut self, id: usize, key: Key) {
        // `push` on an item already present changes its priority in place.
        self.pq.push(id, Reverse(key));
    }

    fn clear(&mut self, id: usize) -> bool {
        self.pq.remove(&id).is_some()
    }

    fn get(&self, id: usize) -> Option<Key> {
        self.pq.get_priority(&id).map(|r| r.0)
    }

    fn peek(&self) -> Option<(Key, usize)> {
        self.pq.peek().map(|(&id, r)| (r.0, id))
    }

    fn pop(&mut self) -> Option<(Key, usize)> {
        self.pq.pop().map(|(id, r)| (r.0, id))
    }

    fn len(&self) -> usize {
        self.pq.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SimTime;

    fn k(t: u64, seq: u64) -> Key {
        Key {
            time: SimTime::from_nanos(t),
            seq,
        }
    }

    /// The same script against both designs: they must agree exactly.
    fn script<D: DeadlineSet>() -> Vec<(Key, usize)> {
        let mut d = D::default();
        d.set(3, k(50, 0));
        d.set(1, k(40, 1));
        d.set(3, k(10, 2)); // re-arm earlier
        d.set(7, k(40, 3)); // same time as id 1, later seq
        d.set(1, k(60, 4)); // re-arm later
        assert_eq!(d.len(), 3);
        assert_eq!(d.get(1), Some(k(60, 4)));
        assert!(d.clear(7));
        assert!(!d.clear(7));
        assert!(!d.clear(99), "never-armed id");
        d.set(2, k(60, 5)); // tie with id 1: FIFO by seq
        let mut out = Vec::new();
        while let Some(x) = d.pop() {
            out.push(x);
        }
        assert!(d.is_empty());
        assert_eq!(d.get(3), None);
        out
    }

    #[test]
    fn every_design_fires_the_latest_arming_in_key_order() {
        let want = vec![(k(10, 2), 3), (k(60, 4), 1), (k(60, 5), 2)];
        assert_eq!(script::<LazyDeadlines>(), want);
        assert_eq!(script::<IndexedDeadlines>(), want);
        assert_eq!(script::<InPlaceDeadlines>(), want);
    }

    #[test]
    fn every_design_agrees_under_random_rearming() {
        use crate::rng::{MasterSeed, below};
        let mut rng = MasterSeed(5).stream("deadline-model");
        let (mut lazy, mut indexed) = (LazyDeadlines::default(), IndexedDeadlines::default());
        let mut in_place = InPlaceDeadlines::default();
        let (mut now, mut seq) = (0u64, 0u64);
        for _ in 0..50_000 {
            let id = below(&mut rng, 50) as usize;
            match below(&mut rng, 6) {
                0..=2 => {
                    let key = k(now + below(&mut rng, 8), seq);
                    seq += 1;
                    lazy.set(id, key);
                    indexed.set(id, key);
                    in_place.set(id, key);
                }
                3 => {
                    let cleared = lazy.clear(id);
                    assert_eq!(cleared, indexed.clear(id));
                    assert_eq!(cleared, in_place.clear(id));
                }
                _ => {
                    let got = lazy.pop();
                    assert_eq!(got, indexed.pop());
                    assert_eq!(got, in_place.pop());
                    if let Some((key, _)) = got {
                        now = key.time.as_nanos();
                    }
                }
            }
            assert_eq!(lazy.len(), indexed.len());
            assert_eq!(lazy.len(), in_place.len());
            assert_eq!(lazy.peek(), indexed.peek());
            assert_eq!(lazy.peek(), in_place.peek());
            assert_eq!(lazy.get(id), indexed.get(id));
            assert_eq!(lazy.get(id), in_place.get(id));
            assert_eq!(in_place.next_ids(), two_earliest(&in_place));
            assert_eq!(lazy.next_ids()[0], in_place.next_ids()[0]);
        }
    }

    /// The ids of the two earliest armed deadlines, by sorting every id's.
    fn two_earliest(d: &InPlaceDeadlines) -> [Option<usize>; 2] {
        let mut armed: Vec<(Key, usize)> = (0..d.pos.len())
            .filter_map(|id| d.get(id).map(|key| (key, id)))
            .collect();
        armed.sort();
        std::array::from_fn(|i| armed.get(i).map(|&(_, id)| id))
    }

    #[test]
    fn lazy_sequence_numbers_up_to_the_packing_limit_keep_their_order() {
        let top = crate::queue::SEQ_LIMIT - 1;
        let mut d = LazyDeadlines::default();
        d.set(1000, k(7, top));
        d.set(0, k(7, top - 1));
        d.set(5, k(6, top - 2));
        assert_eq!(d.peek(), Some((k(6, top - 2), 5)));
        assert_eq!(d.pop(), Some((k(6, top - 2), 5)));
        assert_eq!(d.pop(), Some((k(7, top - 1), 0)));
        assert_eq!(d.pop(), Some((k(7, top), 1000)));
        assert_eq!(d.pop(), None);
    }

    #[test]
    #[should_panic(expected = "16777216 is not below 2^24")]
    fn a_lazy_id_past_the_limit_panics() {
        LazyDeadlines::default().set(LAZY_ID_LIMIT, k(1, 0));
    }

    #[test]
    fn lazy_heap_stays_bounded_under_constant_rearming() {
        let mut d = LazyDeadlines::default();
        for seq in 0..100_000u64 {
            let id = (seq % 10) as usize;
            d.set(id, k(1_000_000 - seq, seq));
        }
        assert_eq!(d.len(), 10);
        assert!(d.heap.len() <= 2 * 10 + 64 + 1, "heap {}", d.heap.len());
        assert_eq!(d.pop().map(|x| x.1), Some(9));
    }
}
