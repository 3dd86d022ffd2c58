//! A global allocator that counts allocations, for tests that prove a hot path
//! allocates nothing (or nothing per connection). It wraps [`System`]; install it
//! in a test binary with
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOC: sim_core::alloc_count::CountingAlloc = sim_core::alloc_count::CountingAlloc::new();
//! ```
//!
//! and compare [`CountingAlloc::allocations`] before and after the code under test,
//! or [`CountingAlloc::peak_bytes`] after [`CountingAlloc::reset_peak`] for how much
//! heap it held at most.
//! Counts are per thread, so what the test harness's own threads allocate meanwhile
//! (libtest reports, a slow test's warning) cannot make a test fail: the code under
//! test must run on the calling thread.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

thread_local! {
    /// This thread's allocations. Const-initialized and without a destructor, so the
    /// allocator can use it without allocating.
    static ALLOCATIONS: Cell<u64> = const { Cell::new(0) };
    /// Bytes this thread allocated minus those it freed (negative if it frees
    /// memory another thread allocated), and the highest that reached since the
    /// last [`CountingAlloc::reset_peak`].
    static LIVE: Cell<i64> = const { Cell::new(0) };
    static PEAK: Cell<i64> = const { Cell::new(0) };
    /// `LIVE` at the last [`CountingAlloc::reset_peak`].
    static BASE: Cell<i64> = const { Cell::new(0) };
}

/// [`System`]'s allocator, counting every `alloc` and `realloc` (frees are not
/// counted) of each thread, and the bytes each thread holds.
#[derive(Debug, Default)]
pub struct CountingAlloc;

impl CountingAlloc {
    /// The allocator (the counts live in thread-local storage).
    pub const fn new() -> Self {
        CountingAlloc
    }

    /// Allocations and reallocations made so far by the calling thread.
    pub fn allocations(&self) -> u64 {
        ALLOCATIONS.with(Cell::get)
    }

    /// The most heap bytes the calling thread held (allocated and not yet freed)
    /// since its last [`CountingAlloc::reset_peak`], relative to what it held
    /// then.
    pub fn peak_bytes(&self) -> i64 {
        PEAK.with(Cell::get) - BASE.with(Cell::get)
    }

    /// Starts a new peak at what the calling thread holds now.
    pub fn reset_peak(&self) {
        let live = LIVE.with(Cell::get);
        PEAK.with(|p| p.set(live));
        BASE.with(|b| b.set(live));
    }

    fn count(&self) {
        // `try_with`: a thread being torn down may still free and allocate.
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
    }

    /// The calling thread holds `delta` more bytes.
    fn hold(&self, delta: i64) {
        let _ = LIVE.try_with(|live| {
            let now = live.get() + delta;
            live.set(now);
            let _ = PEAK.try_with(|p| p.set(p.get().max(now)));
        });
    }
}

// SAFETY: every call is forwarded unchanged to `System`, which upholds the
// `GlobalAlloc` contract; the counter has no effect on the memory handed out.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.count();
        self.hold(layout.size() as i64);
        // SAFETY: the caller's guarantees for `layout` are passed on as they are.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        self.hold(-(layout.size() as i64));
        // SAFETY: `ptr` came from `System` through `alloc`/`realloc` above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        self.count();
        // Counted as held at the new size only: a reallocation that moves holds
        // both blocks for a moment, which this does not see.
        self.hold(new_size as i64 - layout.size() as i64);
        // SAFETY: `ptr` came from `System`; the caller's guarantees are passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_allocations_and_reallocations_but_not_frees_of_this_thread_only_and_peak_bytes() {
        let a = CountingAlloc::new();
        let before = a.allocations();
        let layout = Layout::from_size_align(64, 8).unwrap();
        // SAFETY: a non-zero-size layout; each pointer is freed once with the
        // layout (or the new size) it was last allocated with.
        unsafe {
            let p = a.alloc(layout);
            assert!(!p.is_null());
            let q = a.realloc(p, layout, 128);
            assert!(!q.is_null());
            a.dealloc(q, Layout::from_size_align(128, 8).unwrap());
        }
        assert_eq!(a.allocations() - before, 2);
        let other = std::thread::spawn(|| {
            let b = CountingAlloc::new();
            // SAFETY: as above.
            unsafe { b.dealloc(b.alloc(Layout::new::<u64>()), Layout::new::<u64>()) };
            b.allocations()
        });
        assert_eq!(other.join().unwrap(), 1, "a new thread starts at zero");
        assert_eq!(
            a.allocations() - before,
            2,
            "another thread's are not counted"
        );
        a.reset_peak();
        // SAFETY: as above.
        unsafe {
            let p = a.alloc(Layout::from_size_align(1000, 8).unwrap());
            let q = a.realloc(p, Layout::from_size_align(1000, 8).unwrap(), 3000);
            a.dealloc(q, Layout::from_size_align(3000, 8).unwrap());
            let r = a.alloc(Layout::from_size_align(500, 8).unwrap());
            a.dealloc(r, Layout::from_size_align(500, 8).unwrap());
        }
        assert_eq!(
            a.peak_bytes(),
            3000,
            "the most held at once since the reset"
        );
    }
}
