//! Cache hints: asking the CPU to start loading memory that will be read soon, so
//! the load overlaps useful work instead of stalling it.
//!
//! A simulation with 10^5–10^6 live sockets spread over a thousand hosts touches
//! each host's data (its links, its socket table) only once every few hundred
//! events, so that data is usually out of the core's caches when a segment reaches
//! it. Segments, though, are announced ahead: a segment put on a link at `t`
//! reaches the switch at `t + delay` and its receiver at `t + 2·delay`, with
//! hundreds of other events in between. The harness prefetches what the next hop
//! will touch when it schedules that hop, and the scheduler's heap prefetches the
//! level below the one it compares.
//!
//! A prefetch is a hint only: it reads nothing into the program, never faults, and
//! changes no result; off x86-64 it does nothing.

/// Starts loading every cache line of `value` (a struct, or a slice: all of it)
/// into the L1 data cache.
#[inline(always)]
pub fn prefetch<T: ?Sized>(value: &T) {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        let (p, bytes) = (
            (value as *const T).cast::<i8>(),
            std::mem::size_of_val(value),
        );
        // Every 64 bytes from the first, and the last byte (`value` need not start
        // on a line boundary).
        let mut offset = 0;
        while offset < bytes + 63 {
            // SAFETY: `_mm_prefetch` is `unsafe` only for its `sse` target feature,
            // which every x86-64 CPU has; a prefetch never faults, and the address
            // lies inside `value` anyway.
            unsafe {
                _mm_prefetch::<_MM_HINT_T0>(p.wrapping_add(offset.min(bytes.saturating_sub(1))))
            };
            offset += 64;
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = value;
}

#[cfg(test)]
mod tests {
    use super::prefetch;

    #[test]
    fn prefetching_reads_and_changes_nothing() {
        // Zero-sized, one-byte, multi-line and unaligned values: no fault, no change.
        let v: Vec<u64> = (0..1000).collect();
        prefetch(&v[..]);
        prefetch(&v[3..17]);
        prefetch(&v[..0]);
        prefetch(&());
        prefetch(&7u8);
        prefetch(&[0u8; 4096]);
        assert_eq!(v, (0..1000).collect::<Vec<u64>>());
    }
}
