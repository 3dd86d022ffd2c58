//! A global allocator that counts allocations, for tests that prove a hot path
//! allocates nothing (or nothing per connection). It wraps [`System`]; install it
//! in a test binary with
//!
//! ```ignore
//! #[global_allocator]
//! static ALLOC: sim_core::alloc_count::CountingAlloc = sim_core::alloc_count::CountingAlloc::new();
//! ```
//!
//! and compare [`CountingAlloc::allocations`] before and after the code under test.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicU64, Ordering};

/// [`System`]'s allocator, counting every `alloc` and `realloc` (frees are not counted).
#[derive(Debug, Default)]
pub struct CountingAlloc {
    count: AtomicU64,
}

impl CountingAlloc {
    /// A counter at zero.
    pub const fn new() -> Self {
        CountingAlloc {
            count: AtomicU64::new(0),
        }
    }

    /// Allocations and reallocations made so far, by every thread.
    pub fn allocations(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

// SAFETY: every call is forwarded unchanged to `System`, which upholds the
// `GlobalAlloc` contract; the counter has no effect on the memory handed out.
unsafe impl GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        self.count.fetch_add(1, Ordering::Relaxed);
        // SAFETY: the caller's guarantees for `layout` are passed on as they are.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` through `alloc`/`realloc` above.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        self.count.fetch_add(1, Ordering::Relaxed);
        // SAFETY: `ptr` came from `System`; the caller's guarantees are passed on.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_allocations_and_reallocations_but_not_frees() {
        let a = CountingAlloc::new();
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
        assert_eq!(a.allocations(), 2);
    }
}
