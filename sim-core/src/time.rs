//! Virtual time: [`SimTime`] (an instant) and [`SimDuration`] (a span), both integer
//! nanoseconds. No floating point reaches the clock, so every run is exact and
//! reproducible; seconds as `f64` exist only for output.
//!
//! Durations parse and print in humantime form (`200ms`, `60s`, `2h`, `1m 30s`) and
//! serialize that way, so scenario files read naturally.

use std::fmt;
use std::ops::{Add, AddAssign, Mul, Sub};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

const NANOS_PER_SEC: u64 = 1_000_000_000;

/// A span of virtual time, in nanoseconds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimDuration(u64);

/// An instant of virtual time: nanoseconds since the start of the run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SimTime(u64);

impl SimDuration {
    /// No time at all.
    pub const ZERO: SimDuration = SimDuration(0);
    /// The longest representable span (about 584 years).
    pub const MAX: SimDuration = SimDuration(u64::MAX);

    /// `ns` nanoseconds.
    #[inline]
    pub const fn from_nanos(ns: u64) -> Self {
        SimDuration(ns)
    }
    /// `us` microseconds.
    #[inline]
    pub const fn from_micros(us: u64) -> Self {
        SimDuration(us * 1_000)
    }
    /// `ms` milliseconds.
    #[inline]
    pub const fn from_millis(ms: u64) -> Self {
        SimDuration(ms * 1_000_000)
    }
    /// `s` seconds.
    #[inline]
    pub const fn from_secs(s: u64) -> Self {
        SimDuration(s * NANOS_PER_SEC)
    }
    /// Rounds to the nearest nanosecond; negative or NaN input gives zero.
    #[inline]
    pub fn from_secs_f64(s: f64) -> Self {
        SimDuration((s * NANOS_PER_SEC as f64).round().max(0.0) as u64)
    }
    /// The span in nanoseconds.
    #[inline]
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    /// The span in seconds, for output only (never feed it back into the clock).
    #[inline]
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }
    /// True for a zero span.
    #[inline]
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }
    /// `self + rhs`, saturating at [`SimDuration::MAX`].
    #[inline]
    pub const fn saturating_add(self, rhs: SimDuration) -> Self {
        SimDuration(self.0.saturating_add(rhs.0))
    }
    /// `self - rhs`, or zero if `rhs` is longer.
    #[inline]
    pub const fn saturating_sub(self, rhs: SimDuration) -> Self {
        SimDuration(self.0.saturating_sub(rhs.0))
    }
    /// `self * k`, saturating at [`SimDuration::MAX`].
    #[inline]
    pub const fn saturating_mul(self, k: u64) -> Self {
        SimDuration(self.0.saturating_mul(k))
    }
}

impl SimTime {
    /// The start of the run.
    pub const ZERO: SimTime = SimTime(0);
    /// The last representable instant, used as "never".
    pub const MAX: SimTime = SimTime(u64::MAX);

    /// The instant `ns` nanoseconds after the start of the run.
    #[inline]
    pub const fn from_nanos(ns: u64) -> Self {
        SimTime(ns)
    }
    /// Nanoseconds since the start of the run.
    #[inline]
    pub const fn as_nanos(self) -> u64 {
        self.0
    }
    /// Seconds since the start of the run, for output only.
    #[inline]
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NANOS_PER_SEC as f64
    }
    /// Time elapsed since `earlier`; zero if `earlier` is later than `self`.
    #[inline]
    pub const fn saturating_since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
    /// `self + d`, saturating at [`SimTime::MAX`] ("never").
    #[inline]
    pub const fn saturating_add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
}

impl Add<SimDuration> for SimTime {
    type Output = SimTime;
    #[inline]
    fn add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.checked_add(d.0).expect("SimTime overflow"))
    }
}
impl AddAssign<SimDuration> for SimTime {
    #[inline]
    fn add_assign(&mut self, d: SimDuration) {
        *self = *self + d;
    }
}
impl Sub for SimTime {
    type Output = SimDuration;
    #[inline]
    fn sub(self, rhs: SimTime) -> SimDuration {
        SimDuration(
            self.0
                .checked_sub(rhs.0)
                .expect("SimTime subtraction underflow"),
        )
    }
}
impl Add for SimDuration {
    type Output = SimDuration;
    #[inline]
    fn add(self, rhs: SimDuration) -> SimDuration {
        SimDuration(self.0.checked_add(rhs.0).expect("SimDuration overflow"))
    }
}
impl AddAssign for SimDuration {
    #[inline]
    fn add_assign(&mut self, rhs: SimDuration) {
        *self = *self + rhs;
    }
}
impl Sub for SimDuration {
    type Output = SimDuration;
    #[inline]
    fn sub(self, rhs: SimDuration) -> SimDuration {
        SimDuration(self.0.checked_sub(rhs.0).expect("SimDuration underflow"))
    }
}
impl Mul<u64> for SimDuration {
    type Output = SimDuration;
    #[inline]
    fn mul(self, k: u64) -> SimDuration {
        SimDuration(self.0.checked_mul(k).expect("SimDuration overflow"))
    }
}

impl From<std::time::Duration> for SimDuration {
    #[inline]
    fn from(d: std::time::Duration) -> Self {
        SimDuration(u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
    }
}
impl From<SimDuration> for std::time::Duration {
    #[inline]
    fn from(d: SimDuration) -> Self {
        std::time::Duration::from_nanos(d.0)
    }
}

/// The error for a duration string that is not of the form `200ms`, `60s`, `2h`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "invalid duration {input:?}: {reason} (expected e.g. \"200ms\", \"60s\", \"2h\", \"1m 30s\")"
)]
pub struct ParseDurationError {
    /// The rejected input.
    pub input: String,
    /// What is wrong with it.
    pub reason: String,
}

impl FromStr for SimDuration {
    type Err = ParseDurationError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if t == "0" {
            return Ok(SimDuration::ZERO);
        }
        humantime::parse_duration(t)
            .map(SimDuration::from)
            .map_err(|e| ParseDurationError {
                input: s.to_string(),
                reason: e.to_string(),
            })
    }
}

impl fmt::Display for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("0s");
        }
        write!(
            f,
            "{}",
            humantime::format_duration(std::time::Duration::from(*self))
        )
    }
}

impl fmt::Display for SimTime {
    /// Seconds with nanosecond precision, e.g. `61.000250000s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}.{:09}s",
            self.0 / NANOS_PER_SEC,
            self.0 % NANOS_PER_SEC
        )
    }
}

impl Serialize for SimDuration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SimDuration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_human_durations() {
        assert_eq!(
            "200ms".parse::<SimDuration>().unwrap(),
            SimDuration::from_millis(200)
        );
        assert_eq!(
            "60s".parse::<SimDuration>().unwrap(),
            SimDuration::from_secs(60)
        );
        assert_eq!(
            "2h".parse::<SimDuration>().unwrap(),
            SimDuration::from_secs(7200)
        );
        assert_eq!(
            "1m 30s".parse::<SimDuration>().unwrap(),
            SimDuration::from_secs(90)
        );
        assert_eq!("0".parse::<SimDuration>().unwrap(), SimDuration::ZERO);
    }

    #[test]
    fn rejects_garbage_with_the_input_in_the_message() {
        let e = "ten seconds".parse::<SimDuration>().unwrap_err();
        assert!(e.to_string().contains("ten seconds"), "{e}");
        assert!("-5s".parse::<SimDuration>().is_err());
    }

    #[test]
    fn display_round_trips() {
        for s in ["200ms", "1m 30s", "2h", "1s 500us", "0s"] {
            let d: SimDuration = s.parse().unwrap();
            assert_eq!(d.to_string().parse::<SimDuration>().unwrap(), d, "{s}");
        }
        assert_eq!(SimDuration::from_secs(60).to_string(), "1m");
    }

    #[test]
    fn time_arithmetic_is_exact() {
        let t = SimTime::ZERO + SimDuration::from_secs(1) + SimDuration::from_nanos(7);
        assert_eq!(t.as_nanos(), 1_000_000_007);
        assert_eq!(t - SimTime::ZERO, SimDuration::from_nanos(1_000_000_007));
        assert_eq!(t.to_string(), "1.000000007s");
        assert_eq!(SimTime::ZERO.saturating_since(t), SimDuration::ZERO);
    }
}
