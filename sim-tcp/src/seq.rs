//! Sequence numbers: 32-bit, wrapping, compared only through named helpers
//! (RFC 9293 §3.4: "all arithmetic dealing with sequence numbers must be performed
//! modulo 2**32"). There is deliberately no `PartialOrd`/`Ord` on [`Seq`]: a
//! comparison must say which way round it wraps.

use std::fmt;
use std::ops::{Add, AddAssign};

/// A TCP sequence or acknowledgment number.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Seq(pub u32);

impl Seq {
    /// Signed distance `self - other` in the modulo-2^32 space.
    #[inline]
    pub fn diff(self, other: Seq) -> i32 {
        self.0.wrapping_sub(other.0) as i32
    }
    /// `self` comes strictly before `other` (Linux `before()`).
    #[inline]
    pub fn lt(self, other: Seq) -> bool {
        self.diff(other) < 0
    }
    #[inline]
    pub fn le(self, other: Seq) -> bool {
        self.diff(other) <= 0
    }
    /// `self` comes strictly after `other` (Linux `after()`).
    #[inline]
    pub fn gt(self, other: Seq) -> bool {
        self.diff(other) > 0
    }
    #[inline]
    pub fn ge(self, other: Seq) -> bool {
        self.diff(other) >= 0
    }
    /// Number of sequence numbers from `earlier` up to `self` (`self - earlier`, wrapping).
    #[inline]
    pub fn wrapping_sub(self, earlier: Seq) -> u32 {
        self.0.wrapping_sub(earlier.0)
    }
    /// `lo <= self < hi` in sequence space.
    #[inline]
    pub fn in_range(self, lo: Seq, hi: Seq) -> bool {
        self.ge(lo) && self.lt(hi)
    }
}

impl Add<u32> for Seq {
    type Output = Seq;
    #[inline]
    fn add(self, n: u32) -> Seq {
        Seq(self.0.wrapping_add(n))
    }
}
impl AddAssign<u32> for Seq {
    #[inline]
    fn add_assign(&mut self, n: u32) {
        self.0 = self.0.wrapping_add(n);
    }
}

impl fmt::Debug for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Seq({})", self.0)
    }
}
impl fmt::Display for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparisons_wrap() {
        let a = Seq(u32::MAX - 5);
        let b = a + 10;
        assert_eq!(b, Seq(4));
        assert!(a.lt(b) && b.gt(a) && a.le(a) && a.ge(a));
        assert_eq!(b.wrapping_sub(a), 10);
        assert!(Seq(0).in_range(a, b));
        assert!(!b.in_range(a, b));
    }
}
