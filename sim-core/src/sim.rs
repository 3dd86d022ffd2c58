//! The simulation clock and scheduler: [`Sim`] owns virtual time, the pending events
//! (any payload type `E`) and one re-armable deadline per id, and hands them out in
//! (time, insertion sequence) order.
//!
//! Shape follows nexosim's `step` / `step_until` / `run` (src/simulation.rs) and its
//! `SchedulingError::InvalidScheduledTime`: scheduling in the past is an error, not a
//! panic. One sequence counter is shared by events and deadlines, so an event and a
//! deadline at the same instant fire in the order they were scheduled.
//!
//! Limits (from the 16-byte heap entries, see [`crate::queue`]): at most
//! [`MAX_PENDING`](crate::queue::MAX_PENDING) = 2^24 events pending at once in the
//! heap, and [`SEQ_LIMIT`] = 2^40 sequence numbers per run, one per event (lane
//! events included) or deadline scheduled: about 3 days of scheduling at 4 M
//! events/s. Past either, [`Sim::schedule`] and [`Sim::set_deadline`] return a
//! [`ScheduleError`] instead of corrupting the order.

use crate::deadline::{DeadlineSet, FastDeadlines};
use crate::lane::{Lane, LaneId, Slot};
use crate::queue::{EventKey, EventQueue, Key, NO_KEY, SEQ_LIMIT};
use crate::time::{SimDuration, SimTime};

/// Why an event could not be scheduled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The requested time is earlier than the current virtual time.
    #[error("cannot schedule at {at}: it is before the current time {now}")]
    InPast {
        /// The requested time.
        at: SimTime,
        /// The scheduler's current time.
        now: SimTime,
    },
    /// As many events as the heap holds are already pending:
    /// [`MAX_PENDING`](crate::queue::MAX_PENDING) (2^24). Lanes and deadlines do
    /// not count.
    #[error("cannot schedule: {limit} events are already pending, the most the event queue holds")]
    TooManyPending {
        /// The cap on pending events.
        limit: usize,
    },
    /// The run has used all [`SEQ_LIMIT`] (2^40) sequence numbers: one per event
    /// (lane events included) or deadline ever scheduled.
    #[error("cannot schedule: this run already scheduled 2^40 events and deadlines")]
    SequenceExhausted,
}

/// What [`Sim::step`] hands back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fired<E> {
    /// A scheduled event.
    Event(E),
    /// The re-armable deadline of this id expired (it is now disarmed).
    Deadline(usize),
}

/// The discrete-event scheduler. `E` is the event payload; `D` the deadline-set
/// design (the benchmarked faster one by default).
///
/// ```
/// use sim_core::{Fired, Sim, SimDuration, SimTime};
/// let mut sim: Sim<&str> = Sim::new();
/// sim.schedule(SimTime::from_nanos(20), "b").unwrap();
/// sim.schedule(SimTime::from_nanos(10), "a").unwrap();
/// sim.set_deadline(0, SimTime::from_nanos(15)).unwrap();
/// let mut seen = Vec::new();
/// sim.run(|sim, fired| seen.push((sim.now().as_nanos(), fired)));
/// assert_eq!(seen, [(10, Fired::Event("a")), (15, Fired::Deadline(0)), (20, Fired::Event("b"))]);
/// assert_eq!(sim.events_processed(), 3);
/// ```
pub struct Sim<E, D = FastDeadlines> {
    now: SimTime,
    next_seq: u64,
    events: EventQueue<E>,
    deadlines: D,
    /// Each id's armed deadline key, packed ([`Key::packed`]; [`NO_KEY`] when
    /// none): what [`Sim::set_deadline`] checks without asking `deadlines`.
    armed: Vec<u128>,
    /// The earlier of the heap's top and the earliest deadline, packed
    /// ([`NO_KEY`] if neither), and which it is ([`Source::EVENTS`] or
    /// [`Source::DEADLINES`]): kept up to date whenever either changes (see
    /// [`Sim::refresh`]), so a step that fires from a lane looks at neither.
    soonest: (u128, Source),
    /// FIFO lanes for fixed delays (see [`crate::lane`]).
    lanes: Vec<Lane<E>>,
    processed: u64,
    /// Per bucket of times ([`time_bucket`]), the latest sequence number given to a
    /// key at a time in that bucket: see [`Sim::set_deadline`].
    /// A fixed-size array, so indexing it by a bucket needs no bounds check.
    recent: Box<[u64; TIME_BUCKETS]>,
}

/// Number of buckets in [`Sim`]'s `recent`.
const TIME_BUCKETS: usize = 1 << 10;

/// The bucket of a time: a multiplicative (Fibonacci) hash of its nanoseconds.
#[inline]
fn time_bucket(at: SimTime) -> usize {
    (at.as_nanos().wrapping_mul(0x9E37_79B9_7F4A_7C15) >> (64 - TIME_BUCKETS.trailing_zeros()))
        as usize
}

/// Where the next key to fire is: lane `i` as `Source(i)`, or the heap or the
/// deadlines, as two indices no lane has (there are fewer than 2^32 lanes). One
/// integer, so choosing the earliest moves one word and firing from a lane takes
/// one comparison.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Source(usize);

impl Source {
    const EVENTS: Source = Source(usize::MAX);
    const DEADLINES: Source = Source(usize::MAX - 1);
}

impl<E, D: DeadlineSet> Default for Sim<E, D> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E, D: DeadlineSet> Sim<E, D> {
    /// An empty scheduler at time zero.
    pub fn new() -> Self {
        Sim {
            now: SimTime::ZERO,
            next_seq: 0,
            events: EventQueue::new(),
            deadlines: D::default(),
            armed: Vec::new(),
            soonest: (NO_KEY, Source::EVENTS),
            lanes: Vec::new(),
            processed: 0,
            recent: Box::new([0; TIME_BUCKETS]),
        }
    }

    /// The current virtual time: the time of the event being handled.
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// How many events and deadlines have fired so far.
    pub fn events_processed(&self) -> u64 {
        self.processed
    }

    /// Pending events plus armed deadlines.
    pub fn pending(&self) -> usize {
        self.events.len() + self.deadlines.len() + self.lanes.iter().map(Lane::len).sum::<usize>()
    }

    /// The key of something to fire at `at`: the next sequence number.
    fn key(&mut self, at: SimTime) -> Result<Key, ScheduleError> {
        if at < self.now {
            return Err(ScheduleError::InPast { at, now: self.now });
        }
        if self.next_seq >= SEQ_LIMIT {
            return Err(ScheduleError::SequenceExhausted);
        }
        Ok(Key {
            time: at,
            seq: self.take_seq(at),
        })
    }

    /// The next sequence number, for a key at `at`.
    #[inline]
    fn take_seq(&mut self, at: SimTime) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.recent[time_bucket(at)] = seq;
        seq
    }

    /// The key of a new heap event, if the queue has room for it.
    fn event_key(&mut self, at: SimTime) -> Result<Key, ScheduleError> {
        if self.events.is_full() {
            return Err(ScheduleError::TooManyPending {
                limit: self.events.max_pending(),
            });
        }
        self.key(at)
    }

    /// Schedules `event` at `at` (which may equal [`Sim::now`]); it cannot be
    /// cancelled.
    ///
    /// Fails if `at` is in the past, if [`MAX_PENDING`](crate::queue::MAX_PENDING)
    /// (2^24) events are already pending in the heap, or if the run's sequence
    /// numbers are exhausted (see [`ScheduleError`]).
    pub fn schedule(&mut self, at: SimTime, event: E) -> Result<(), ScheduleError> {
        let key = self.event_key(at)?;
        self.events.push(key, event);
        self.lower_soonest(key, Source::EVENTS);
        Ok(())
    }

    /// Schedules `event` after `delay` from now (never in the past). Panics if
    /// `now + delay` overflows virtual time (about 584 years), or with the
    /// [`ScheduleError`] of a full queue or exhausted sequence numbers.
    pub fn schedule_in(&mut self, delay: SimDuration, event: E) {
        let at = self.now + delay;
        if let Err(e) = self.schedule(at, event) {
            panic!("schedule_in: {e}");
        }
    }

    /// Adds a FIFO lane for events that fire `delay` after they are scheduled
    /// ([`Sim::schedule_in_lane`]). Events in lanes fire in exactly the order they
    /// would have through [`Sim::schedule_in`]; a lane only makes them cheaper
    /// (O(1) instead of a heap operation, see [`crate::lane`]). Keep lanes few: each
    /// [`Sim::step`] compares every lane's front.
    pub fn add_lane(&mut self, delay: SimDuration) -> LaneId {
        let id = u32::try_from(self.lanes.len()).expect("fewer than 2^32 lanes");
        self.lanes.push(Lane::new(delay));
        LaneId(id)
    }

    /// The fixed delay of `lane`.
    pub fn lane_delay(&self, lane: LaneId) -> SimDuration {
        self.lanes[lane.0 as usize].delay
    }

    /// Schedules `event` at now + the lane's delay; it cannot be cancelled. Panics
    /// if that overflows virtual time (about 584 years). Always inlined: it is a
    /// few dozen instructions, run once per event in a lane.
    #[inline(always)]
    pub fn schedule_in_lane(&mut self, lane: LaneId, event: E) {
        let at = self.now + self.lanes[lane.0 as usize].delay;
        self.schedule_in_lane_at(lane, at, event);
    }

    /// Schedules `event` in `lane` at `at`, which must be now + the lane's delay:
    /// for a caller that has just computed `at` and matched it to the lane (as
    /// tcpsim's harness does), so the sum is not made twice. Checked in debug
    /// builds only; another `at` would break the lane's order.
    #[inline(always)]
    pub fn schedule_in_lane_at(&mut self, lane: LaneId, at: SimTime, event: E) {
        self.push_lane(lane, at, Slot::Fire(event));
    }

    /// Schedules `event` to cross `lane` twice, like a segment crossing two links
    /// of the same delay: at `at` (now + the lane's delay, as for
    /// [`Sim::schedule_in_lane_at`]) it counts as an event and is scheduled in the
    /// lane again, and it fires one delay later. The second crossing gets its
    /// sequence number at `at`, as if a handler had re-scheduled the event then, so
    /// it fires exactly where that event would, without the handler being called.
    #[inline(always)]
    pub fn schedule_in_lane_twice_at(&mut self, lane: LaneId, at: SimTime, event: E) {
        self.push_lane(lane, at, Slot::Again(event));
    }

    #[inline(always)]
    fn push_lane(&mut self, lane: LaneId, at: SimTime, slot: Slot<E>) {
        let i = lane.0 as usize;
        debug_assert_eq!(at, self.now + self.lanes[i].delay);
        let key = Key {
            time: at,
            seq: self.take_seq(at),
        };
        self.lanes[i].push(key, slot);
    }

    /// Schedules `event` at `at` and returns a handle for [`Sim::cancel`]. Fails
    /// like [`Sim::schedule`].
    pub fn schedule_cancellable(
        &mut self,
        at: SimTime,
        event: E,
    ) -> Result<EventKey, ScheduleError> {
        let key = self.event_key(at)?;
        let handle = self.events.push_cancellable(key, event);
        self.lower_soonest(key, Source::EVENTS);
        Ok(handle)
    }

    /// Cancels a pending event; returns whether it was still pending.
    pub fn cancel(&mut self, handle: EventKey) -> bool {
        let cancelled = self.events.cancel(handle);
        if cancelled {
            self.refresh_from(Source::EVENTS);
        }
        cancelled
    }

    /// Arms (or re-arms, replacing the previous one) the deadline of `id`.
    /// When it expires, [`Sim::step`] returns [`Fired::Deadline`]`(id)`. Fails if
    /// `at` is in the past or the run's sequence numbers are exhausted.
    ///
    /// Re-arming at the time already armed keeps the old key when no other key at
    /// that time was made since (none in its time bucket has a later sequence
    /// number): a new key would sort exactly where the old one does among
    /// everything pending. A harness that re-arms a host's deadline after every
    /// segment mostly re-arms it at an unchanged time.
    pub fn set_deadline(&mut self, id: usize, at: SimTime) -> Result<(), ScheduleError> {
        // `NO_KEY` (not armed) never passes: its `seq` part is above every real one.
        let armed = self.armed.get(id).copied().unwrap_or(NO_KEY);
        if (armed >> 64) as u64 == at.as_nanos() && self.recent[time_bucket(at)] == armed as u64 {
            return Ok(());
        }
        let key = self.key(at)?;
        self.deadlines.set(id, key);
        if id >= self.armed.len() {
            self.armed.resize(id + 1, NO_KEY);
        }
        self.armed[id] = key.packed();
        // The earliest deadline is now `key` or what it was before `id` moved.
        if !self.lower_soonest(key, Source::DEADLINES) {
            self.refresh_from(Source::DEADLINES);
        }
        Ok(())
    }

    /// Disarms the deadline of `id`; returns whether one was armed.
    pub fn clear_deadline(&mut self, id: usize) -> bool {
        let cleared = self.deadlines.clear(id);
        if cleared {
            self.armed[id] = NO_KEY;
            self.refresh_from(Source::DEADLINES);
        }
        cleared
    }

    /// The armed deadline of `id`, if any.
    pub fn deadline(&self, id: usize) -> Option<SimTime> {
        let armed = self.armed.get(id).copied().unwrap_or(NO_KEY);
        (armed != NO_KEY).then(|| Key::unpacked(armed).time)
    }

    /// The ids of the next deadlines to fire (unless events come first), earliest
    /// first: up to two ([`DeadlineSet::next_ids`]). For a caller that
    /// prefetches what they will touch; it changes nothing.
    #[inline]
    pub fn next_deadline_ids(&self) -> [Option<usize>; 2] {
        self.deadlines.next_ids()
    }

    /// Re-arms `id` to `at`, or disarms it when `at` is `None`: the one call a
    /// harness makes after polling a host's earliest timer.
    pub fn update_deadline(&mut self, id: usize, at: Option<SimTime>) -> Result<(), ScheduleError> {
        match at {
            Some(t) => self.set_deadline(id, t),
            None => {
                self.clear_deadline(id);
                Ok(())
            }
        }
    }

    /// The time of the next event or deadline, if any (for an event scheduled to
    /// cross a lane twice, the time of the crossing it comes to next: the clock
    /// stops there too).
    pub fn peek_time(&self) -> Option<SimTime> {
        let (k, _) = self.next_key();
        (k != NO_KEY).then(|| Key::unpacked(k).time)
    }

    /// Makes `key`, just added to `from` (the heap or the deadlines), the soonest
    /// if it is earlier; returns whether it was. Otherwise the soonest stays
    /// right unless it came from `from` and `from` also lost or moved a key.
    #[inline]
    fn lower_soonest(&mut self, key: Key, from: Source) -> bool {
        let k = key.packed();
        let lower = k < self.soonest.0;
        if lower {
            self.soonest = (k, from);
        }
        lower
    }

    /// Recomputes [`Sim::soonest`] if it came from `from`, which lost or moved a
    /// key. If it came from the other source it is still the earliest: `from`
    /// gained no key earlier than it (for a moved key, the caller checked with
    /// [`Sim::lower_soonest`] first), and losing keys only makes `from` later.
    #[inline]
    fn refresh_from(&mut self, from: Source) {
        if self.soonest.1 == from {
            self.refresh();
        }
    }

    /// Recomputes [`Sim::soonest`] after the heap or the deadlines changed.
    #[inline]
    fn refresh(&mut self) {
        let e = self.events.peek_key().map_or(NO_KEY, Key::packed);
        let d = self.deadlines.peek().map_or(NO_KEY, |(k, _)| k.packed());
        self.soonest = if d < e {
            (d, Source::DEADLINES)
        } else {
            (e, Source::EVENTS)
        };
    }

    /// The earliest key, packed ([`NO_KEY`] when nothing is pending), and where
    /// it is.
    #[inline]
    fn next_key(&self) -> (u128, Source) {
        // One lane (every delay the same: the usual run) skips the loop's set-up.
        if let [lane] = &self.lanes[..] {
            return if lane.front < self.soonest.0 {
                (lane.front, Source(0))
            } else {
                self.soonest
            };
        }
        self.lanes
            .iter()
            .map(|l| l.front)
            .enumerate()
            .fold(
                self.soonest,
                |best, (i, f)| {
                    if f < best.0 { (f, Source(i)) } else { best }
                },
            )
    }

    /// Fires the key `k`, which [`Sim::next_key`] found at `from`; `None` if it
    /// was the first crossing of an event scheduled to cross a lane twice, which
    /// is now in the lane again.
    #[inline]
    fn fire(&mut self, k: u128, from: Source) -> Option<Fired<E>> {
        let time = Key::unpacked(k).time;
        debug_assert!(time >= self.now);
        self.now = time;
        self.processed += 1;
        Some(if from.0 < Source::DEADLINES.0 {
            match self.lanes[from.0].pop() {
                Slot::Fire(e) => Fired::Event(e),
                Slot::Again(e) => {
                    self.schedule_in_lane(LaneId(from.0 as u32), e);
                    return None;
                }
                Slot::Free => unreachable!("a lane's front is pending"),
            }
        } else if from == Source::DEADLINES {
            let id = self.deadlines.pop().expect("peeked").1;
            self.armed[id] = NO_KEY;
            self.refresh();
            Fired::Deadline(id)
        } else {
            let e = self.events.pop().expect("peeked").1;
            self.refresh();
            Fired::Event(e)
        })
    }

    /// Fires the next key below `bound` (packed) and returns what fired, moving
    /// on the events met on their first of two lane crossings; `None` if nothing
    /// is pending below `bound`. No real key equals `bound`: it is [`NO_KEY`],
    /// or the last key at some time (`seq` bits all ones, where a real key's
    /// stay below [`SEQ_LIMIT`]), so one comparison also stops at [`NO_KEY`].
    #[inline(always)]
    fn fire_next(&mut self, bound: u128) -> Option<Fired<E>> {
        loop {
            let (k, from) = self.next_key();
            if k >= bound {
                return None;
            }
            if let Some(fired) = self.fire(k, from) {
                return Some(fired);
            }
        }
    }

    /// Advances to the next event or deadline and returns it; `None` when nothing
    /// is pending (time then stays where it was).
    pub fn step(&mut self) -> Option<Fired<E>> {
        self.fire_next(NO_KEY)
    }

    /// Like [`Sim::step`], but only fires something due at or before `limit`.
    /// Otherwise returns `None` and advances the clock to `limit` (if later than
    /// now), so a run can stop at a fixed horizon with later events still pending.
    #[inline(always)]
    pub fn step_until(&mut self, limit: SimTime) -> Option<Fired<E>> {
        // The last key at `limit`.
        let bound = (u128::from(limit.as_nanos()) << 64) | u128::from(u64::MAX);
        let fired = self.fire_next(bound);
        if fired.is_none() {
            self.now = self.now.max(limit);
        }
        fired
    }

    /// Fires everything until nothing is pending, passing each to `handler`, which
    /// may schedule more.
    pub fn run(&mut self, mut handler: impl FnMut(&mut Self, Fired<E>)) {
        while let Some(f) = self.step() {
            handler(self, f);
        }
    }

    /// Fires everything due at or before `limit` (see [`Sim::step_until`]); the
    /// clock ends at `limit`.
    pub fn run_until(&mut self, limit: SimTime, mut handler: impl FnMut(&mut Self, Fired<E>)) {
        while let Some(f) = self.step_until(limit) {
            handler(self, f);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deadline::{InPlaceDeadlines, IndexedDeadlines, LazyDeadlines};

    fn t(ns: u64) -> SimTime {
        SimTime::from_nanos(ns)
    }

    #[test]
    fn same_time_events_run_fifo_and_deadlines_share_the_order() {
        let mut sim: Sim<u32> = Sim::new();
        sim.schedule(t(5), 1).unwrap();
        sim.set_deadline(9, t(5)).unwrap();
        sim.schedule(t(5), 2).unwrap();
        sim.schedule(t(1), 0).unwrap();
        let mut seen = Vec::new();
        sim.run(|_, f| seen.push(f));
        use Fired::*;
        assert_eq!(seen, [Event(0), Event(1), Deadline(9), Event(2)]);
    }

    #[test]
    fn scheduling_in_the_past_is_a_typed_error() {
        let mut sim: Sim<()> = Sim::new();
        sim.schedule(t(100), ()).unwrap();
        assert_eq!(sim.step(), Some(Fired::Event(())));
        let err = sim.schedule(t(99), ()).unwrap_err();
        assert_eq!(
            err,
            ScheduleError::InPast {
                at: t(99),
                now: t(100)
            }
        );
        assert!(err.to_string().contains("before the current time"), "{err}");
        assert!(sim.set_deadline(0, t(50)).is_err());
        assert!(sim.schedule_cancellable(t(0), ()).is_err());
        sim.schedule(t(100), ()).expect("now itself is allowed");
        assert_eq!(sim.pending(), 1);
    }

    #[test]
    fn a_full_queue_is_a_typed_error_and_frees_up_as_events_fire() {
        let mut sim: Sim<u8> = Sim::new();
        sim.events = EventQueue::with_max_pending(2); // empty, like the one replaced
        sim.schedule(t(1), 1).unwrap();
        let b = sim.schedule_cancellable(t(2), 2).unwrap();
        let full = ScheduleError::TooManyPending { limit: 2 };
        assert_eq!(sim.schedule(t(3), 3), Err(full));
        assert_eq!(sim.schedule_cancellable(t(3), 3), Err(full));
        assert!(
            full.to_string().contains("2 events are already pending"),
            "{full}"
        );
        sim.set_deadline(0, t(3)).expect("deadlines do not count");
        assert!(sim.cancel(b));
        sim.schedule(t(4), 4).expect("cancelling made room");
        assert_eq!(sim.step(), Some(Fired::Event(1)));
        sim.schedule(t(5), 5).expect("firing made room");
        let mut seen = Vec::new();
        sim.run(|_, f| seen.push(f));
        assert_eq!(seen, [Fired::Deadline(0), Fired::Event(4), Fired::Event(5)]);
    }

    #[test]
    fn exhausted_sequence_numbers_are_a_typed_error() {
        let mut sim: Sim<u8> = Sim::new();
        sim.next_seq = SEQ_LIMIT - 2;
        let last = sim.schedule_cancellable(t(1), 1).unwrap();
        assert_eq!(last.seq(), SEQ_LIMIT - 2);
        sim.set_deadline(0, t(1)).unwrap();
        let gone = ScheduleError::SequenceExhausted;
        assert_eq!(sim.schedule(t(1), 2), Err(gone));
        assert_eq!(sim.set_deadline(1, t(1)), Err(gone));
        assert!(gone.to_string().contains("2^40"), "{gone}");
        // What was scheduled before still fires, in order.
        assert_eq!(sim.step(), Some(Fired::Event(1)));
        assert_eq!(sim.step(), Some(Fired::Deadline(0)));
        assert_eq!(sim.step(), None);
    }

    #[test]
    fn cancelled_events_do_not_fire() {
        let mut sim: Sim<&str> = Sim::new();
        let a = sim.schedule_cancellable(t(10), "a").unwrap();
        let b = sim.schedule_cancellable(t(20), "b").unwrap();
        sim.schedule(t(30), "c").unwrap();
        assert!(sim.cancel(b));
        assert_eq!(sim.step(), Some(Fired::Event("a")));
        assert!(!sim.cancel(a), "a already fired");
        assert_eq!(sim.step(), Some(Fired::Event("c")));
        assert_eq!(sim.step(), None);
        assert_eq!(sim.events_processed(), 2);
    }

    fn rearm_script<D: DeadlineSet>() -> Vec<(u64, Fired<u8>)> {
        let mut sim: Sim<u8, D> = Sim::new();
        sim.set_deadline(0, t(100)).unwrap();
        sim.set_deadline(1, t(50)).unwrap();
        sim.schedule(t(60), 7).unwrap();
        sim.set_deadline(0, t(40)).unwrap(); // re-armed earlier
        sim.update_deadline(1, None).unwrap(); // disarmed
        assert_eq!(sim.deadline(0), Some(t(40)));
        assert_eq!(sim.deadline(1), None);
        let mut seen = Vec::new();
        sim.run(|sim, f| {
            if f == Fired::Deadline(0) && sim.now() == t(40) {
                sim.update_deadline(0, Some(t(80))).unwrap();
            }
            seen.push((sim.now().as_nanos(), f));
        });
        seen
    }

    #[test]
    fn deadlines_rearm_and_disarm_identically_in_every_design() {
        let want = vec![
            (40, Fired::Deadline(0)),
            (60, Fired::Event(7)),
            (80, Fired::Deadline(0)),
        ];
        assert_eq!(rearm_script::<LazyDeadlines>(), want);
        assert_eq!(rearm_script::<IndexedDeadlines>(), want);
        assert_eq!(rearm_script::<InPlaceDeadlines>(), want);
    }

    #[test]
    fn step_until_stops_at_the_horizon_and_leaves_later_events() {
        let mut sim: Sim<u8> = Sim::new();
        sim.schedule(t(10), 1).unwrap();
        sim.schedule(t(30), 3).unwrap();
        let mut seen = Vec::new();
        sim.run_until(t(20), |_, f| seen.push(f));
        assert_eq!(seen, [Fired::Event(1)]);
        assert_eq!(sim.now(), t(20));
        assert_eq!(sim.peek_time(), Some(t(30)));
        assert_eq!(sim.step_until(t(30)), Some(Fired::Event(3)));
        assert_eq!(sim.now(), t(30));
        sim.schedule_in(SimDuration::from_nanos(5), 4);
        assert_eq!(sim.step(), Some(Fired::Event(4)));
        assert_eq!(sim.now(), t(35));
    }

    /// Drives two schedulers with the same random workload: one schedules every
    /// event through the heap, the other sends fixed-delay events through lanes.
    /// They must fire the same events in the same order at the same times,
    /// deadlines and equal-time ties included.
    #[test]
    fn lanes_fire_in_exactly_the_order_of_the_heap() {
        lanes_against_the_heap(&[0, 7, 20]);
        // One lane takes a path of its own in `next_key`.
        lanes_against_the_heap(&[7]);
    }

    fn lanes_against_the_heap(delays: &[u64]) {
        use crate::rng::{MasterSeed, below};
        let mut rng = MasterSeed(5).stream("lanes");
        let mut plain: Sim<u32> = Sim::new();
        let mut laned: Sim<u32> = Sim::new();
        let lanes: Vec<LaneId> = delays
            .iter()
            .map(|&d| laned.add_lane(SimDuration::from_nanos(d)))
            .collect();
        assert_eq!(
            laned.lane_delay(lanes[0]),
            SimDuration::from_nanos(delays[0])
        );
        for i in 0..20u32 {
            plain.schedule(t(u64::from(i) * 3), i).unwrap();
            laned.schedule(t(u64::from(i) * 3), i).unwrap();
        }
        let mut next = 20u32;
        let mut fired = 0;
        while let Some(f) = plain.step() {
            assert_eq!(laned.step(), Some(f.clone()));
            assert_eq!(laned.now(), plain.now());
            fired += 1;
            // Each firing schedules one or two more: through a lane, at a random
            // (often equal) time through the heap, or re-arms a deadline.
            for _ in 0..1 + below(&mut rng, 2) {
                if next > 5_000 {
                    break;
                }
                match below(&mut rng, 4) {
                    0 | 1 => {
                        let k = below(&mut rng, delays.len() as u64) as usize;
                        let delay = SimDuration::from_nanos(delays[k]);
                        plain.schedule_in(delay, next);
                        // Both ways into a lane: by its delay, or at a time the
                        // caller already has.
                        if next % 2 == 0 {
                            laned.schedule_in_lane(lanes[k], next);
                        } else {
                            laned.schedule_in_lane_at(lanes[k], laned.now() + delay, next);
                        }
                    }
                    2 => {
                        let d = SimDuration::from_nanos(below(&mut rng, 25));
                        plain.schedule_in(d, next);
                        laned.schedule_in(d, next);
                    }
                    _ => {
                        let at = plain.now() + SimDuration::from_nanos(below(&mut rng, 25));
                        let id = below(&mut rng, 4) as usize;
                        plain.set_deadline(id, at).unwrap();
                        laned.set_deadline(id, at).unwrap();
                    }
                }
                next += 1;
            }
            assert_eq!(laned.pending(), plain.pending());
        }
        assert_eq!(laned.step(), None);
        assert!(fired > 2_000, "the workload ran: {fired} firings");
    }

    /// An event scheduled to cross a lane twice fires exactly where it would if a
    /// handler re-scheduled it in the lane on its first arrival, among lane and
    /// heap events and deadlines that often fall at the same instants, and each
    /// first crossing counts as an event; `step_until` stops at its limit in both.
    #[test]
    fn crossing_a_lane_twice_is_rescheduling_on_arrival() {
        use crate::rng::{MasterSeed, below};
        const DELAY: SimDuration = SimDuration::from_nanos(5);
        const FIRST: u32 = 1 << 31;
        let mut rng = MasterSeed(6).stream("twice");
        let mut handled: Sim<u32> = Sim::new();
        let mut twice: Sim<u32> = Sim::new();
        let (lh, lt) = (handled.add_lane(DELAY), twice.add_lane(DELAY));
        for i in 0..10u32 {
            handled.schedule(t(u64::from(i) * 2), i).unwrap();
            twice.schedule(t(u64::from(i) * 2), i).unwrap();
        }
        let (mut next, mut fired, mut relayed) = (10u32, 0, 0);
        while handled.pending() > 0 {
            let limit = handled.now() + SimDuration::from_nanos(below(&mut rng, 12));
            // The handler re-schedules first crossings (marked `FIRST`) itself.
            let f = loop {
                match handled.step_until(limit) {
                    Some(Fired::Event(e)) if e & FIRST != 0 => {
                        handled.schedule_in_lane(lh, e & !FIRST);
                        relayed += 1;
                    }
                    other => break other,
                }
            };
            assert_eq!(twice.step_until(limit), f);
            assert_eq!(twice.now(), handled.now());
            assert_eq!(twice.events_processed(), handled.events_processed());
            assert_eq!(twice.pending(), handled.pending());
            if f.is_none() {
                continue;
            }
            fired += 1;
            for _ in 0..1 + below(&mut rng, 2) {
                if next > 5_000 {
                    break;
                }
                let now = handled.now();
                match below(&mut rng, 4) {
                    0 => {
                        handled.schedule_in_lane(lh, next | FIRST);
                        twice.schedule_in_lane_twice_at(lt, now + DELAY, next);
                    }
                    1 => {
                        handled.schedule_in_lane(lh, next);
                        twice.schedule_in_lane(lt, next);
                    }
                    2 => {
                        let at = now + SimDuration::from_nanos(below(&mut rng, 12));
                        handled.schedule(at, next).unwrap();
                        twice.schedule(at, next).unwrap();
                    }
                    _ => {
                        let at = now + SimDuration::from_nanos(below(&mut rng, 12));
                        let id = below(&mut rng, 4) as usize;
                        handled.set_deadline(id, at).unwrap();
                        twice.set_deadline(id, at).unwrap();
                    }
                }
                next += 1;
            }
        }
        assert_eq!(twice.pending(), 0);
        assert!(
            fired > 2_000 && relayed > 500,
            "ran: {fired} firings, {relayed} relayed"
        );
    }

    #[test]
    #[cfg(debug_assertions)]
    #[should_panic(expected = "assertion `left == right` failed")]
    fn a_lane_time_other_than_now_plus_its_delay_is_caught_in_debug_builds() {
        let mut sim: Sim<u8> = Sim::new();
        let lane = sim.add_lane(SimDuration::from_nanos(10));
        sim.schedule_in_lane_at(lane, t(11), 0);
    }

    /// Against a naive model (an ordered map of every pending key, in which every
    /// arming takes a fresh sequence number: no skipped re-arming), under a random
    /// mix of every way to add or remove a key: heap events (cancellable or not),
    /// cancelling, two lanes, deadlines re-armed (often at the time already armed,
    /// with and without keys made in between) and disarmed, steps, and steps up to
    /// a horizon. Same firings in the same order at the same times; the same
    /// pending count, next time and armed deadlines after every operation.
    fn matches_the_fresh_key_model<D: DeadlineSet>() {
        use crate::rng::{MasterSeed, below};
        use std::collections::BTreeMap;
        const DELAYS: [u64; 2] = [1, 2];
        let mut rng = MasterSeed(9).stream("rearm-model");
        let mut sim: Sim<u64, D> = Sim::new();
        let lanes: Vec<LaneId> = DELAYS
            .iter()
            .map(|&d| sim.add_lane(SimDuration::from_nanos(d)))
            .collect();
        // Model: key -> what fires; each id's current key; each handle's key.
        let mut model: BTreeMap<(u64, u64), Fired<u64>> = BTreeMap::new();
        let mut armed: Vec<Option<(u64, u64)>> = vec![None; 3];
        let mut handles: Vec<(EventKey, (u64, u64))> = Vec::new();
        let mut seq = 0u64;
        let mut fired = 0;
        for n in 0..40_000u64 {
            let now = sim.now().as_nanos();
            match below(&mut rng, 12) {
                0 | 1 => {
                    let at = now + below(&mut rng, 3);
                    if below(&mut rng, 2) == 0 {
                        handles.push((sim.schedule_cancellable(t(at), n).unwrap(), (at, seq)));
                    } else {
                        sim.schedule(t(at), n).unwrap();
                    }
                    model.insert((at, seq), Fired::Event(n));
                    seq += 1;
                }
                2 if !handles.is_empty() => {
                    let i = below(&mut rng, handles.len() as u64) as usize;
                    let (h, key) = handles.swap_remove(i);
                    assert_eq!(sim.cancel(h), model.remove(&key).is_some(), "cancel {n}");
                }
                3 | 4 => {
                    let k = below(&mut rng, DELAYS.len() as u64) as usize;
                    sim.schedule_in_lane(lanes[k], n);
                    model.insert((now + DELAYS[k], seq), Fired::Event(n));
                    seq += 1;
                }
                5..=7 => {
                    let id = below(&mut rng, 3) as usize;
                    // Often the time already armed, to exercise the skip.
                    let at = match armed[id] {
                        Some((at, _)) if below(&mut rng, 2) == 0 => at,
                        _ => now + below(&mut rng, 3),
                    };
                    sim.set_deadline(id, t(at)).unwrap();
                    if let Some(old) = armed[id].take() {
                        model.remove(&old);
                    }
                    armed[id] = Some((at, seq));
                    model.insert((at, seq), Fired::Deadline(id));
                    seq += 1;
                }
                8 => {
                    let id = below(&mut rng, 3) as usize;
                    let old = armed[id].take();
                    if let Some(key) = old {
                        model.remove(&key);
                    }
                    assert_eq!(sim.clear_deadline(id), old.is_some(), "clear {n}");
                }
                step => {
                    // Half of them only up to a horizon that may come first.
                    let limit = if step == 9 {
                        now + below(&mut rng, 3)
                    } else {
                        u64::MAX
                    };
                    let want = match model.first_key_value() {
                        Some((&(at, _), _)) if at <= limit => model.pop_first(),
                        _ => None,
                    };
                    if let Some((_, Fired::Deadline(id))) = &want {
                        armed[*id] = None;
                    }
                    let got = sim.step_until(t(limit));
                    assert_eq!(got, want.as_ref().map(|(_, f)| f.clone()), "step {n}");
                    match want {
                        Some(((at, _), _)) => {
                            assert_eq!(sim.now(), t(at));
                            fired += 1;
                        }
                        None => assert_eq!(sim.now(), t(now.max(limit))),
                    }
                }
            }
            assert_eq!(sim.pending(), model.len(), "pending after {n}");
            assert_eq!(sim.peek_time(), model.keys().next().map(|&(at, _)| t(at)));
            for (id, key) in armed.iter().enumerate() {
                assert_eq!(sim.deadline(id), key.map(|(at, _)| t(at)), "id {id}");
            }
        }
        assert!(fired > 5_000, "{fired} firings");
    }

    #[test]
    fn every_way_of_adding_and_removing_keys_fires_like_fresh_keys() {
        matches_the_fresh_key_model::<InPlaceDeadlines>();
        matches_the_fresh_key_model::<LazyDeadlines>();
        matches_the_fresh_key_model::<IndexedDeadlines>();
    }
}
