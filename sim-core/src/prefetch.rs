//! Software prefetch: a hint that brings a value's cache lines in ahead of use.
//!
//! For data whose address is known well before it is read, such as the next
//! TIME_WAIT expiries of a big run, whose sockets and connection records were last
//! touched 2·MSL earlier and are long out of cache. A prefetch reads nothing the
//! program can observe and never faults: it cannot change results.

/// Prefetches every cache line of `*x` into all cache levels (x86-64
/// `prefetcht0`; nothing on other targets).
#[inline(always)]
pub fn prefetch<T>(x: &T) {
    let (start, size) = ((x as *const T).cast::<u8>(), std::mem::size_of::<T>());
    if size == 0 {
        return;
    }
    // A line every 64 bytes from the start, and the line of the last byte when
    // `x` may start inside a line (a line-aligned value's loop has covered it).
    for offset in (0..size).step_by(64) {
        line(start.wrapping_add(offset));
    }
    if std::mem::align_of::<T>() < 64 {
        line(start.wrapping_add(size - 1));
    }
}

/// Prefetches the cache line of `p`, which need not point to anything: the
/// address is only a hint (for the next free slot of a buffer, say).
#[inline(always)]
pub fn prefetch_ptr<T>(p: *const T) {
    line(p.cast());
}

#[inline(always)]
fn line(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: `prefetcht0` is a hint: it reads nothing architecturally visible and
    // does not fault, whatever the address; SSE is in the x86-64 baseline.
    unsafe {
        use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
        _mm_prefetch::<_MM_HINT_T0>(p.cast());
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

#[cfg(test)]
mod tests {
    use super::prefetch;

    /// Any size, aligned or not, an empty type included; nothing changes.
    #[test]
    fn prefetching_reads_nothing_and_takes_any_size() {
        let bytes: Vec<u8> = (0..=255).collect();
        prefetch(&());
        prefetch(&bytes[3]);
        prefetch(&[0u64; 0]);
        let odd: &[u8; 130] = bytes[5..135].try_into().expect("130 bytes");
        prefetch(odd);
        prefetch(&bytes);
        #[repr(align(64))]
        struct Lines([u8; 128]);
        let lines = Lines([7; 128]);
        prefetch(&lines);
        assert_eq!(lines.0, [7; 128]);
        assert!(bytes.iter().enumerate().all(|(i, &b)| b as usize == i));
    }
}
