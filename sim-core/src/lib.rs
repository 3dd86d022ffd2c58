//! sim-core: the discrete-event engine of tcpsim. It knows nothing of TCP.
//!
//! # Module map
//!
//! | module | what it holds |
//! |---|---|
//! | [`time`] | [`SimTime`] / [`SimDuration`]: integer nanoseconds; humantime parsing and printing (`200ms`, `60s`, `2h`) and serde |
//! | [`sim`] | [`Sim`], the scheduler: `schedule` / `schedule_cancellable` / `cancel`, one re-armable deadline per id (`set_deadline` / `update_deadline`), `step` / `step_until` / `run` / `run_until`, `events_processed` |
//! | [`queue`] | [`EventQueue`]: pending events keyed by [`Key`] = (time, insertion sequence), FIFO at equal times, lazy cancellation by [`EventKey`] |
//! | [`lane`] | FIFO lanes: events at a fixed delay after scheduling, O(1) each, merged with the heap by key ([`Sim::add_lane`] / [`Sim::schedule_in_lane`], or [`Sim::schedule_in_lane_at`] with the time the caller already has) |
//! | [`deadline`] | [`DeadlineSet`]: one pending deadline per id; [`InPlaceDeadlines`] (the default, [`FastDeadlines`]), [`LazyDeadlines`], and [`IndexedDeadlines`] on the `priority-queue` crate |
//! | [`heap`] | [`heap::QuadHeap`], the 4-ary min-heap with deferred pops under both queues |
//! | [`rng`] | [`MasterSeed`]: named ChaCha8 streams and `u64` sub-seeds; draw helpers with fixed formulas |
//! | [`alloc_count`] | [`alloc_count::CountingAlloc`], a counting global allocator for tests that prove a path allocates nothing, or holds no more heap |
//! | [`prefetch`] | [`prefetch::prefetch`]: a value's cache lines brought in ahead of use (a hint; it changes nothing) |
//! | [`link`] | [`Link`] and its serde [`LinkConfig`]: delay, jitter (reordering or not), [`Bandwidth`] with a drop-tail queue, [`FaultModel`]s (Bernoulli and Gilbert–Elliott loss, duplication, outages) returning a [`Verdict`] |
//!
//! # Determinism
//!
//! Every run is a pure function of the scenario and the master seed: time is an
//! integer, events at equal times fire in the order they were scheduled, and every
//! random draw comes from a stream derived from (master seed, stream name).
//!
//! # Random stream derivation
//!
//! For master seed `m` and stream name `name` (UTF-8), with
//! `TAG = 0x7463_7073_696d_0000` ("tcpsim\0\0"):
//!
//! ```text
//! K_i      = SipHash-2-4(k0 = m, k1 = TAG + i, message = name)      i = 0..=4
//! sub_seed = K_0
//! stream   = ChaCha8Rng::from_seed(le_bytes(K_1) ‖ le_bytes(K_2) ‖ le_bytes(K_3) ‖ le_bytes(K_4))
//! ```
//!
//! SipHash-2-4 is implemented in [`rng`] (checked against the reference vectors),
//! not taken from `std`'s `DefaultHasher`, whose algorithm may change. A stream
//! depends only on (m, name), so adding a host or a link leaves every other
//! stream's draws unchanged. Details in [`rng`].
//!
//! # Scheduler speed
//!
//! See `benches/scheduler.rs` (`cargo bench -p sim-core --bench scheduler -- --noplot`).
#![warn(missing_docs)]

pub mod alloc_count;
pub mod deadline;
pub mod heap;
pub mod lane;
pub mod link;
pub mod prefetch;
pub mod queue;
pub mod rng;
pub mod sim;
pub mod time;

pub use deadline::{DeadlineSet, FastDeadlines, InPlaceDeadlines, IndexedDeadlines, LazyDeadlines};
pub use lane::LaneId;
pub use link::{
    Bandwidth, DropReason, Fault, FaultModel, Link, LinkConfig, LinkError, LinkStats, Loss, Outage,
    Verdict,
};
pub use queue::{EventKey, EventQueue, Key};
pub use rng::{MasterSeed, StreamRng};
pub use sim::{Fired, ScheduleError, Sim};
pub use time::{SimDuration, SimTime};
