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

use std::collections::VecDeque;

use crate::queue::Key;
use crate::time::SimDuration;

/// Handle of a lane of a [`crate::Sim`], from [`crate::Sim::add_lane`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LaneId(pub(crate) u32);

/// One lane: events that fire `delay` after they were scheduled, in key order.
pub(crate) struct Lane<E> {
    pub(crate) delay: SimDuration,
    queue: VecDeque<(Key, E)>,
}

impl<E> Lane<E> {
    pub(crate) fn new(delay: SimDuration) -> Self {
        Lane {
            delay,
            queue: VecDeque::new(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.queue.len()
    }

    /// Appends an event; its key is at least every key already in the lane.
    #[inline]
    pub(crate) fn push(&mut self, key: Key, event: E) {
        debug_assert!(self.queue.back().is_none_or(|(k, _)| *k < key));
        self.queue.push_back((key, event));
    }

    /// The key of the earliest event.
    #[inline]
    pub(crate) fn front(&self) -> Option<Key> {
        self.queue.front().map(|(k, _)| *k)
    }

    /// Removes the earliest event.
    #[inline]
    pub(crate) fn pop(&mut self) -> Option<(Key, E)> {
        self.queue.pop_front()
    }
}
