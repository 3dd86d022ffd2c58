//! The per-segment path allocates nothing: once tables have grown to their steady
//! size, whole connection lifecycles (11 segments each, TIME_WAIT included) run
//! without a single heap allocation. Counted with a wrapping global allocator.
#[macro_use]
mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

use common::*;
use sim_tcp::*;

struct Counting;
static ALLOCS: AtomicU64 = AtomicU64::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.alloc(l) }
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        unsafe { System.dealloc(p, l) }
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
        unsafe { System.realloc(p, l, n) }
    }
}

#[global_allocator]
static A: Counting = Counting;

#[test]
fn steady_state_lifecycles_do_not_allocate() {
    let mut l = Lifecycles::new();
    let gap = SimDuration::from_millis(100);
    // 60 s TIME_WAIT at 10 conn/s: 600 in TIME_WAIT at steady state. Warm up past
    // two TIME_WAIT lengths so every table has reached its size.
    l.run(3000, gap);
    let before_segments = l.segments;
    let before = ALLOCS.load(Ordering::Relaxed);
    l.run(3000, gap);
    let allocs = ALLOCS.load(Ordering::Relaxed) - before;
    let segs = l.segments - before_segments;
    assert_eq!(segs, 33_000);
    assert_eq!(allocs, 0, "{allocs} allocations in {segs} segments");
    assert_eq!(l.cs.count(State::TimeWait), 600);
}
