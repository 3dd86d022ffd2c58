//! FIFO lanes: pending events that all fire a fixed delay after they are
//! scheduled, kept in a queue instead of the heap.
//!
//! Events scheduled at `now + d` for one fixed `d` are pushed in nondecreasing
//! (time, sequence) order, because virtual time never goes back and sequence numbers
//! only grow. A FIFO queue per delay is then already sorted: push and pop are O(1)
//! and touch one cache line, where the heap pays O(log n) with a cache miss per
//! level. The scheduler merges each lane's front with the heap's top by [`Key`], so
//! the order in which events fire is exactly the order a single heap would give.
//!
//! This is the constant-delay special case of a calendar queue. With constant
//! propagation delays and no jitter almost every event of a TCP simulation is a
//! segment crossing a link, so almost every event goes through a lane.

use crate::queue::{Key, NO_KEY};
use crate::time::SimDuration;

/// Handle of a lane of a [`crate::Sim`], from [`crate::Sim::add_lane`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LaneId(pub(crate) u32);

/// Slots a lane starts with (a power of two, as every capacity is).
const FIRST_CAPACITY: usize = 16;

/// What a lane slot holds.
pub(crate) enum Slot<E> {
    /// Nothing: the slot is not pending.
    Free,
    /// An event that fires when its key comes up.
    Fire(E),
    /// An event that crosses the lane once more when its key comes up (see
    /// [`crate::Sim::schedule_in_lane_twice_at`]).
    Again(E),
}

/// One lane: events that fire `delay` after they were scheduled, in key order.
///
/// A ring buffer whose capacity is a power of two, so wrapping an index is one
/// `and`. Each slot holds a packed key ([`Key::packed`]) next to its event, so the
/// new front key after a pop is one load.
pub(crate) struct Lane<E> {
    /// The front event's packed key, [`NO_KEY`] when the lane is empty: the plain
    /// integer [`crate::Sim::step`] compares, kept here so that firing from a
    /// lane touches one element of the lanes' vector.
    pub(crate) front: u128,
    pub(crate) delay: SimDuration,
    /// The `i`-th pending event is in slot `(head + i) & (capacity - 1)`.
    slots: Box<[(u128, Slot<E>)]>,
    /// Events ever popped, wrapping: the front event's slot, unmasked.
    head: usize,
    /// Events ever pushed, wrapping: `tail - head` are pending.
    tail: usize,
}

impl<E> Lane<E> {
    pub(crate) fn new(delay: SimDuration) -> Self {
        Lane {
            front: NO_KEY,
            delay,
            slots: Self::free_slots(FIRST_CAPACITY).collect(),
            head: 0,
            tail: 0,
        }
    }

    fn free_slots(n: usize) -> impl Iterator<Item = (u128, Slot<E>)> {
        std::iter::repeat_with(|| (NO_KEY, Slot::Free)).take(n)
    }

    pub(crate) fn len(&self) -> usize {
        self.tail.wrapping_sub(self.head)
    }

    /// The slot of the event `n` events after the front, wrapped.
    #[inline]
    fn slot(&self, n: usize) -> usize {
        n & (self.slots.len() - 1)
    }

    /// Appends an event (a [`Slot::Fire`] or [`Slot::Again`]); its key is above
    /// every key already in the lane.
    #[inline]
    pub(crate) fn push(&mut self, key: Key, event: Slot<E>) {
        let key = key.packed();
        debug_assert!(self.len() == 0 || self.slots[self.slot(self.tail - 1)].0 < key);
        if self.len() == self.slots.len() {
            self.grow();
        }
        let slot = self.slot(self.tail);
        self.slots[slot] = (key, event);
        self.tail = self.tail.wrapping_add(1);
        if self.len() == 1 {
            self.front = key;
        }
    }

    /// Removes and returns the front event (updating [`Lane::front`]). The lane
    /// must not be empty.
    #[inline]
    pub(crate) fn pop(&mut self) -> Slot<E> {
        let slot = self.slot(self.head);
        let event = std::mem::replace(&mut self.slots[slot].1, Slot::Free);
        debug_assert!(!matches!(event, Slot::Free), "a pending event");
        self.head = self.head.wrapping_add(1);
        self.front = if self.head == self.tail {
            NO_KEY
        } else {
            self.slots[self.slot(self.head)].0
        };
        event
    }

    /// Doubles the capacity, moving the pending events to slots `0..len`.
    #[cold]
    fn grow(&mut self) {
        let len = self.len();
        let capacity = 2 * self.slots.len();
        let mut slots = Vec::with_capacity(capacity);
        for i in 0..len {
            let slot = self.slot(self.head.wrapping_add(i));
            slots.push(std::mem::replace(
                &mut self.slots[slot],
                (NO_KEY, Slot::Free),
            ));
        }
        slots.extend(Self::free_slots(capacity - len));
        self.slots = slots.into_boxed_slice();
        (self.head, self.tail) = (0, len);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SimTime;
    use std::collections::VecDeque;

    /// Against a `VecDeque` model: interleaved pushes and pops that wrap the ring
    /// and grow it while wrapped keep FIFO order, the front keys and the length.
    #[test]
    fn the_ring_is_fifo_across_wrapping_and_growth() {
        use crate::rng::{MasterSeed, below};
        let mut rng = MasterSeed(4).stream("lane-ring");
        let mut lane = Lane::new(SimDuration::ZERO);
        let mut model = VecDeque::new();
        let mut seq = 0u64;
        for _ in 0..20_000 {
            // Pushes slightly outnumber pops, so the ring grows several times.
            if below(&mut rng, 9) < 5 {
                let key = Key {
                    time: SimTime::from_nanos(seq / 3),
                    seq,
                };
                lane.push(key, Slot::Fire(seq));
                model.push_back((key, seq));
                seq += 1;
            } else if let Some((_, want)) = model.pop_front() {
                assert!(matches!(lane.pop(), Slot::Fire(got) if got == want));
            }
            assert_eq!(lane.len(), model.len());
            let front = model.front().map_or(NO_KEY, |(k, _)| k.packed());
            assert_eq!(lane.front, front);
        }
        assert!(lane.slots.len() >= 1024, "grew: {}", lane.slots.len());
    }
}
