//! The per-segment path allocates nothing: once tables have grown to their steady
//! size, whole connection lifecycles (11 segments each, TIME_WAIT included) run
//! without a single heap allocation. Counted with a wrapping global allocator.
#[macro_use]
mod common;

use common::*;
use sim_core::alloc_count::CountingAlloc;
use sim_tcp::*;

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc::new();

#[test]
fn steady_state_lifecycles_do_not_allocate() {
    let mut l = Lifecycles::new();
    let gap = SimDuration::from_millis(100);
    // 60 s TIME_WAIT at 10 conn/s: 600 in TIME_WAIT at steady state. Warm up past
    // two TIME_WAIT lengths so every table has reached its size.
    l.run(3000, gap);
    let before_segments = l.segments;
    let before = ALLOC.allocations();
    l.run(3000, gap);
    let allocs = ALLOC.allocations() - before;
    let segs = l.segments - before_segments;
    assert_eq!(segs, 33_000);
    assert_eq!(allocs, 0, "{allocs} allocations in {segs} segments");
    assert_eq!(l.cs.count(State::TimeWait), 600);
}
