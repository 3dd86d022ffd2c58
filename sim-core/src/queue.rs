//! The pending-event queue: a min-heap ([`QuadHeap`], 4-ary) keyed by [`Key`] =
//! (time, insertion sequence), with lazy cancellation through [`EventKey`] handles.
//!
//! Ties in time are broken by the insertion sequence number, so events scheduled for
//! the same instant run first-in first-out and every run is reproducible (the same
//! rule as ns-3's `EventKey { m_ts, m_uid }` and nexosim's `(key, epoch)` ordering).
//!
//! Cancellation is lazy, as in ns-3's `Simulator::Cancel`: cancelling marks the
//! event's slot vacant in O(1) and the heap entry is skipped when it reaches the top.
//! Only events scheduled with [`EventQueue::push_cancellable`] carry a slot; plain
//! [`EventQueue::push`] events pay nothing for cancellation.
//!
//! A heap entry is 16 bytes, `time << 64 | seq << 24 | slot` in one `u128`, so a
//! node's four children take 64 bytes. That sets two limits, both checked:
//! sequence numbers must be below [`SEQ_LIMIT`] = 2^40, and at most
//! [`MAX_PENDING`] = 2^24 events can be pending at once. [`EventQueue::push`]
//! panics past them; [`crate::Sim`] checks first and returns a
//! [`crate::ScheduleError`].

use std::cmp::Ordering;

use crate::heap::QuadHeap;
use crate::time::SimTime;

/// The total order of pending events: by time, then by insertion sequence number.
///
/// `seq` is unique per scheduler, so no two pending events compare equal and the
/// order never depends on heap internals.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Key {
    /// When the event fires.
    pub time: SimTime,
    /// Insertion sequence number: earlier insertions fire first at equal times.
    pub seq: u64,
}

impl Key {
    /// `(time, seq)` as one integer, so comparing keys is a single branch-free
    /// 128-bit comparison (the same order as comparing the pair).
    #[inline]
    pub(crate) fn packed(self) -> u128 {
        (u128::from(self.time.as_nanos()) << 64) | u128::from(self.seq)
    }

    /// The key [`Key::packed`] made `p` from (not [`NO_KEY`]).
    #[inline]
    pub(crate) fn unpacked(p: u128) -> Key {
        Key {
            time: SimTime::from_nanos((p >> 64) as u64),
            seq: p as u64,
        }
    }
}

/// A packed key ([`Key::packed`]) above every real one, whose `seq` is below
/// [`SEQ_LIMIT`]: stands for "nothing pending".
pub(crate) const NO_KEY: u128 = u128::MAX;

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Key {
    /// By time, then by sequence number.
    #[inline]
    fn cmp(&self, other: &Self) -> Ordering {
        self.packed().cmp(&other.packed())
    }
}

/// Handle to a cancellable pending event, returned by
/// [`EventQueue::push_cancellable`] and [`crate::Sim::schedule_cancellable`].
///
/// Dropping it is harmless (the event still fires) but almost always a bug: keep it
/// if you may need to cancel, or schedule with the non-cancellable call instead.
#[must_use = "an EventKey is the only way to cancel this event; use the non-cancellable schedule call if you will never cancel it"]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EventKey {
    slot: u32,
    seq: u64,
}

impl EventKey {
    /// The event's insertion sequence number (unique per scheduler), e.g. for tracing.
    pub fn seq(self) -> u64 {
        self.seq
    }
}

/// Slot content meaning "no live event here".
const VACANT: u64 = u64::MAX;

/// Sequence numbers must be below this: a heap entry keeps 40 bits of `seq`, so one
/// queue accepts 2^40 (about 1.1 * 10^12) insertions.
pub const SEQ_LIMIT: u64 = 1 << 40;

/// Bits of an [`Entry`] below the sequence number: the tag.
const TAG_BITS: u32 = 24;

/// Tags (slab slots here, ids in [`crate::LazyDeadlines`]) must be below this.
pub(crate) const TAG_LIMIT: usize = 1 << TAG_BITS;

/// At most this many events can be pending at once (cancelled ones excluded): a heap
/// entry keeps 24 bits of slab slot index.
pub const MAX_PENDING: usize = TAG_LIMIT;

/// A heap entry: `time << 64 | seq << 24 | tag` in one 16-byte integer, so four
/// entries (a node's children) take 64 bytes and comparing two entries is one
/// 128-bit comparison. Ordering by the whole integer orders by (time, seq): `seq` is
/// unique, so the tag never decides. The tag says what the key belongs to: a slab
/// slot here, an id in [`crate::LazyDeadlines`]. `Copy`, so sifting never moves
/// payloads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Entry(u128);

impl Entry {
    /// Packs `key` and `tag`; panics (with what was out of range) unless
    /// `key.seq < SEQ_LIMIT` and `tag < TAG_LIMIT`.
    #[inline]
    pub(crate) fn new(key: Key, tag: usize) -> Self {
        assert!(
            key.seq < SEQ_LIMIT,
            "sequence number {} is not below 2^40",
            key.seq
        );
        assert!(tag < TAG_LIMIT, "{tag} is not below 2^24");
        Entry(
            (u128::from(key.time.as_nanos()) << 64) | u128::from(key.seq << TAG_BITS | tag as u64),
        )
    }

    #[inline]
    pub(crate) fn key(self) -> Key {
        Key {
            time: SimTime::from_nanos((self.0 >> 64) as u64),
            seq: self.0 as u64 >> TAG_BITS,
        }
    }

    #[inline]
    pub(crate) fn tag(self) -> usize {
        (self.0 as u32 & (TAG_LIMIT as u32 - 1)) as usize
    }
}

/// A payload slot: the `seq` of the live event in it (the generation check for
/// cancellation and stale heap entries), or `VACANT`.
struct Slot<E> {
    seq: u64,
    event: Option<E>,
}

/// A min-heap of events of payload type `E`, ordered by [`Key`], with lazy
/// cancellation. The caller supplies the keys (see [`crate::Sim`], which hands out
/// sequence numbers); keys must be unique.
///
/// Payloads live in a slab whose vacant slots are reused last-freed-first (so the
/// slots in use stay few and cache-warm); the heap holds only keys and slot indices.
pub struct EventQueue<E> {
    heap: QuadHeap<Entry, true>,
    slots: Vec<Slot<E>>,
    /// Vacant slot indices available for reuse.
    free: Vec<u32>,
    /// Heap entries whose event was cancelled but which are still in the heap.
    stale: usize,
    /// At most this many live events ([`MAX_PENDING`] unless lowered).
    max_pending: usize,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> EventQueue<E> {
    /// An empty queue.
    pub fn new() -> Self {
        Self::with_capacity(0)
    }

    /// An empty queue with room for `n` events before reallocating.
    pub fn with_capacity(n: usize) -> Self {
        EventQueue {
            heap: QuadHeap::with_capacity(n),
            slots: Vec::with_capacity(n),
            free: Vec::new(),
            stale: 0,
            max_pending: MAX_PENDING,
        }
    }

    /// An empty queue that holds at most `limit` pending events (at most
    /// [`MAX_PENDING`]): a lower cap than the representation's, e.g. to test what a
    /// caller does when the queue is full.
    pub fn with_max_pending(limit: usize) -> Self {
        EventQueue {
            max_pending: limit.min(MAX_PENDING),
            ..Self::new()
        }
    }

    /// Number of live (not cancelled) pending events.
    pub fn len(&self) -> usize {
        self.heap.len() - self.stale
    }

    /// True if no live event is pending.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most events that can be pending at once ([`MAX_PENDING`] unless lowered
    /// by [`EventQueue::with_max_pending`]).
    pub fn max_pending(&self) -> usize {
        self.max_pending
    }

    /// True if a push now would exceed [`EventQueue::max_pending`].
    #[inline]
    pub fn is_full(&self) -> bool {
        self.len() >= self.max_pending
    }

    #[inline]
    fn store(&mut self, key: Key, event: E) -> u32 {
        assert!(
            !self.is_full(),
            "event queue full: {} events pending (the limit)",
            self.max_pending
        );
        // Vacant slots are fewer than the live events, so while fewer than
        // `max_pending` (at most 2^24) are live every index fits in 24 bits.
        let index = self.free.last().map_or(self.slots.len(), |&s| s as usize);
        // Packed first: it checks `key.seq` before anything changes.
        let entry = Entry::new(key, index);
        let slot = Slot {
            seq: key.seq,
            event: Some(event),
        };
        if self.free.pop().is_some() {
            self.slots[index] = slot;
        } else {
            self.slots.push(slot);
        }
        self.heap.push(entry);
        index as u32
    }

    /// Adds an event (use [`EventQueue::push_cancellable`] to keep a handle).
    ///
    /// Panics if the queue is full ([`EventQueue::is_full`]) or if `key.seq` is
    /// not below [`SEQ_LIMIT`]; [`crate::Sim`] checks both and returns a
    /// [`crate::ScheduleError`] instead.
    #[inline]
    pub fn push(&mut self, key: Key, event: E) {
        self.store(key, event);
    }

    /// Adds an event and returns a handle that can cancel it. Panics like
    /// [`EventQueue::push`].
    #[inline]
    pub fn push_cancellable(&mut self, key: Key, event: E) -> EventKey {
        let slot = self.store(key, event);
        EventKey { slot, seq: key.seq }
    }

    /// Cancels a pending event (its payload is dropped now). Returns `true` if it
    /// was pending, `false` if it had already fired or been cancelled (cancelling
    /// twice is harmless).
    pub fn cancel(&mut self, handle: EventKey) -> bool {
        match self.slots.get_mut(handle.slot as usize) {
            Some(s) if s.seq == handle.seq => {
                *s = Slot {
                    seq: VACANT,
                    event: None,
                };
                self.free.push(handle.slot);
                self.stale += 1;
                self.purge_top();
                true
            }
            _ => false,
        }
    }

    /// The key of the earliest live event.
    #[inline]
    pub fn peek_key(&self) -> Option<Key> {
        self.heap.peek().map(Entry::key)
    }

    /// Removes and returns the earliest live event.
    #[inline]
    pub fn pop(&mut self) -> Option<(Key, E)> {
        let e = self.heap.pop()?;
        let s = &mut self.slots[e.tag()];
        s.seq = VACANT;
        let event = s.event.take().expect("the heap top is always live");
        self.free.push(e.tag() as u32);
        self.purge_top();
        Some((e.key(), event))
    }

    /// Keeps the invariant "the heap top, if any, is live" so that `peek_key` can
    /// take `&self`.
    #[inline]
    fn purge_top(&mut self) {
        while self.stale > 0 {
            match self.heap.peek() {
                Some(e) if self.slots[e.tag()].seq != e.key().seq => {
                    self.heap.pop();
                    self.stale -= 1;
                }
                _ => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(t: u64, seq: u64) -> Key {
        Key {
            time: SimTime::from_nanos(t),
            seq,
        }
    }

    fn drain(q: &mut EventQueue<&'static str>) -> Vec<&'static str> {
        std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect()
    }

    #[test]
    fn pops_in_time_then_sequence_order() {
        let mut q = EventQueue::new();
        q.push(k(30, 0), "c");
        q.push(k(10, 1), "a1");
        q.push(k(20, 2), "b");
        q.push(k(10, 3), "a2");
        q.push(k(10, 4), "a3");
        assert_eq!(q.len(), 5);
        assert_eq!(drain(&mut q), ["a1", "a2", "a3", "b", "c"]);
        assert!(q.is_empty());
    }

    #[test]
    fn cancelled_events_never_fire_and_slots_are_reused_safely() {
        let mut q = EventQueue::new();
        let a = q.push_cancellable(k(10, 0), "a");
        let b = q.push_cancellable(k(20, 1), "b");
        q.push(k(15, 2), "plain");
        assert!(q.cancel(a));
        assert!(!q.cancel(a), "second cancel reports not pending");
        assert_eq!(q.len(), 2);
        assert_eq!(q.peek_key(), Some(k(15, 2)), "cancelled top was purged");
        // `a`'s slot is reused by `c`; the old handle must not cancel `c`.
        let c = q.push_cancellable(k(5, 3), "c");
        assert!(!q.cancel(a));
        assert_eq!(drain(&mut q), ["c", "plain", "b"]);
        assert!(!q.cancel(b), "already fired");
        assert!(!q.cancel(c), "already fired");
    }

    #[test]
    fn random_operations_match_an_ordered_map_model() {
        use crate::rng::{MasterSeed, below};
        use std::collections::BTreeMap;
        let mut rng = MasterSeed(11).stream("queue-model");
        let mut q = EventQueue::new();
        let mut model: BTreeMap<Key, u64> = BTreeMap::new();
        let mut handles: Vec<EventKey> = Vec::new();
        let (mut now, mut seq) = (0u64, 0u64);
        for _ in 0..50_000 {
            match below(&mut rng, 10) {
                0..=3 => {
                    // Few distinct times, so FIFO ties are exercised constantly.
                    let key = k(now + below(&mut rng, 4), seq);
                    if below(&mut rng, 2) == 0 {
                        handles.push(q.push_cancellable(key, seq));
                    } else {
                        q.push(key, seq);
                    }
                    model.insert(key, seq);
                    seq += 1;
                }
                4 | 5 if !handles.is_empty() => {
                    let h = handles.swap_remove(below(&mut rng, handles.len() as u64) as usize);
                    let was_pending = model.keys().any(|key| key.seq == h.seq());
                    assert_eq!(q.cancel(h), was_pending);
                    model.retain(|key, _| key.seq != h.seq());
                }
                _ => {
                    let got = q.pop();
                    let want = model.pop_first();
                    assert_eq!(got, want);
                    if let Some((key, _)) = got {
                        now = key.time.as_nanos();
                    }
                }
            }
            assert_eq!(q.len(), model.len());
            assert_eq!(q.peek_key(), model.keys().next().copied());
        }
    }

    #[test]
    fn order_and_handles_survive_packing_at_the_sequence_limit() {
        let mut q = EventQueue::new();
        let top = SEQ_LIMIT - 1;
        let a = q.push_cancellable(k(5, top), "5-last-seq");
        q.push(k(5, 1 << 39), "5-mid-seq");
        q.push(k(5, 3), "5-small-seq");
        q.push(k(4, top - 1), "4");
        q.push(k(u64::MAX, 0), "end of time");
        assert_eq!(a.seq(), top);
        assert_eq!(q.peek_key(), Some(k(4, top - 1)));
        let got: Vec<_> = std::iter::from_fn(|| q.pop()).collect();
        assert_eq!(
            got,
            [
                (k(4, top - 1), "4"),
                (k(5, 3), "5-small-seq"),
                (k(5, 1 << 39), "5-mid-seq"),
                (k(5, top), "5-last-seq"),
                (k(u64::MAX, 0), "end of time"),
            ]
        );
    }

    #[test]
    fn entries_round_trip_at_the_field_limits_and_order_by_time_then_seq() {
        let (seq, tag) = (SEQ_LIMIT - 1, TAG_LIMIT - 1);
        let e = Entry::new(k(u64::MAX, seq), tag);
        assert_eq!((e.key(), e.tag()), (k(u64::MAX, seq), tag));
        let small = Entry::new(k(3, 0), 0);
        assert_eq!((small.key(), small.tag()), (k(3, 0), 0));
        // The tag never outweighs the sequence number, nor the seq the time.
        assert!(Entry::new(k(3, 1), 0) > Entry::new(k(3, 0), tag));
        assert!(Entry::new(k(4, 0), 0) > Entry::new(k(3, seq), tag));
    }

    #[test]
    #[should_panic(expected = "is not below 2^40")]
    fn a_sequence_number_past_the_limit_panics() {
        EventQueue::new().push(k(1, SEQ_LIMIT), ());
    }

    #[test]
    fn the_pending_cap_counts_live_events_only() {
        let mut q = EventQueue::with_max_pending(3);
        assert_eq!(q.max_pending(), 3);
        assert_eq!(EventQueue::<()>::new().max_pending(), MAX_PENDING);
        let h = q.push_cancellable(k(1, 0), "a");
        q.push(k(2, 1), "b");
        q.push(k(3, 2), "c");
        assert!(q.is_full());
        assert!(q.cancel(h));
        assert!(!q.is_full(), "a cancelled event frees its place");
        q.push(k(4, 3), "d");
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| q.push(k(5, 4), "e")));
        let msg = *r.unwrap_err().downcast::<String>().unwrap();
        assert_eq!(msg, "event queue full: 3 events pending (the limit)");
        assert_eq!(drain(&mut q), ["b", "c", "d"]);
    }

    #[test]
    fn cancelling_a_buried_event_keeps_len_right() {
        let mut q = EventQueue::new();
        q.push(k(1, 0), "first");
        let x = q.push_cancellable(k(9, 1), "x");
        q.push(k(10, 2), "last");
        assert!(q.cancel(x));
        assert_eq!(q.len(), 2);
        assert_eq!(drain(&mut q), ["first", "last"]);
        assert_eq!(q.len(), 0);
    }
}
