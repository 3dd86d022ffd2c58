//! Seeded random streams: one master seed per run, one independent ChaCha8 stream per
//! named consumer.
//!
//! # Derivation (stable: part of the reproducibility contract)
//!
//! For a master seed `m: u64` and a stream name `name` (any UTF-8 string, e.g.
//! `"link:clients:17:up"`), define for `i = 0, 1, 2, 3, 4`
//!
//! ```text
//! K_i = SipHash-2-4(k0 = m, k1 = TAG + i, message = UTF-8 bytes of name)
//! TAG = 0x7463_7073_696d_0000   ("tcpsim\0\0" as a big-endian integer)
//! ```
//!
//! * [`MasterSeed::sub_seed`]`(name) = K_0`: a plain `u64` seed (per-host seeds).
//! * [`MasterSeed::stream`]`(name)` = `ChaCha8Rng::from_seed(K_1 ‖ K_2 ‖ K_3 ‖ K_4)`,
//!   each `K_i` as 8 little-endian bytes, stream (nonce) 0, word position 0.
//!
//! SipHash-2-4 (Aumasson & Bernstein, 2012) is implemented here, with the reference
//! test vector checked in the tests, rather than borrowed from `std`, whose
//! `DefaultHasher` algorithm may change between Rust releases. SipHash is a keyed
//! PRF, so distinct names give unrelated ChaCha keys; a stream's draws depend only
//! on (master, name), never on how many other streams exist or in which order they
//! were created. Adding a host or a link therefore shifts no other stream.
//!
//! The helpers [`unit_f64`], [`chance`], [`below`] and [`exponential`] map raw
//! `next_u64` words to values with fixed formulas written here, so draws do not
//! change if `rand`'s distribution code changes.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::time::SimDuration;

/// The random generator every consumer gets: ChaCha with 8 rounds (ample for
/// simulation, and the fastest of the ChaCha family).
pub type StreamRng = ChaCha8Rng;

/// The `k1` base of the derivation (see the module docs).
const TAG: u64 = 0x7463_7073_696d_0000;

/// A run's master seed, from which every named stream is derived.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MasterSeed(pub u64);

impl MasterSeed {
    fn word(self, i: u64, name: &str) -> u64 {
        siphash24(self.0, TAG.wrapping_add(i), name.as_bytes())
    }

    /// A plain `u64` seed for `name`: `K_0` of the module docs.
    pub fn sub_seed(self, name: &str) -> u64 {
        self.word(0, name)
    }

    /// The ChaCha8 stream for `name`: keyed by `K_1..K_4` of the module docs.
    pub fn stream(self, name: &str) -> StreamRng {
        let mut key = [0u8; 32];
        for (i, chunk) in key.chunks_exact_mut(8).enumerate() {
            chunk.copy_from_slice(&self.word(i as u64 + 1, name).to_le_bytes());
        }
        StreamRng::from_seed(key)
    }
}

/// SipHash-2-4 of `msg` under the 128-bit key (`k0`, `k1`), as specified in
/// "SipHash: a fast short-input PRF" (Aumasson & Bernstein, 2012).
pub fn siphash24(k0: u64, k1: u64, msg: &[u8]) -> u64 {
    let mut v = [
        k0 ^ 0x736f_6d65_7073_6575,
        k1 ^ 0x646f_7261_6e64_6f6d,
        k0 ^ 0x6c79_6765_6e65_7261,
        k1 ^ 0x7465_6462_7974_6573,
    ];
    fn round(v: &mut [u64; 4]) {
        v[0] = v[0].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(13) ^ v[0];
        v[0] = v[0].rotate_left(32);
        v[2] = v[2].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(16) ^ v[2];
        v[0] = v[0].wrapping_add(v[3]);
        v[3] = v[3].rotate_left(21) ^ v[0];
        v[2] = v[2].wrapping_add(v[1]);
        v[1] = v[1].rotate_left(17) ^ v[2];
        v[2] = v[2].rotate_left(32);
    }
    fn absorb(v: &mut [u64; 4], m: u64) {
        v[3] ^= m;
        round(v);
        round(v);
        v[0] ^= m;
    }
    let mut chunks = msg.chunks_exact(8);
    for c in &mut chunks {
        absorb(&mut v, u64::from_le_bytes(c.try_into().expect("8 bytes")));
    }
    let mut last = (msg.len() as u64) << 56;
    for (i, &b) in chunks.remainder().iter().enumerate() {
        last |= u64::from(b) << (8 * i);
    }
    absorb(&mut v, last);
    v[2] ^= 0xff;
    for _ in 0..4 {
        round(&mut v);
    }
    v[0] ^ v[1] ^ v[2] ^ v[3]
}

/// A uniform `f64` in `[0, 1)`: the top 53 bits of one `next_u64`, times 2^-53.
pub fn unit_f64(rng: &mut impl Rng) -> f64 {
    (rng.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
}

/// True with probability `p` (one draw, `unit_f64() < p`): never for `p = 0`,
/// always for `p = 1`.
pub fn chance(rng: &mut impl Rng, p: f64) -> bool {
    unit_f64(rng) < p
}

/// A uniform integer in `[0, n)` (`n > 0`) by Lemire's widening multiply
/// (`(next_u64 × n) >> 64`); the bias is below `n / 2^64`, negligible here.
pub fn below(rng: &mut impl Rng, n: u64) -> u64 {
    ((u128::from(rng.next_u64()) * u128::from(n)) >> 64) as u64
}

/// An exponentially distributed duration with the given mean (inter-arrival time
/// of a Poisson process): `-mean × ln(1 - unit_f64())`, rounded to the nanosecond.
pub fn exponential(rng: &mut impl Rng, mean: SimDuration) -> SimDuration {
    let u = unit_f64(rng);
    SimDuration::from_secs_f64(-mean.as_secs_f64() * (1.0 - u).ln())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn draws(mut r: StreamRng, n: usize) -> Vec<u64> {
        (0..n).map(|_| r.next_u64()).collect()
    }

    #[test]
    fn siphash_matches_the_reference_vectors() {
        // Appendix A of the SipHash paper: key 00..0f, message 00..0e.
        let k0 = u64::from_le_bytes([0, 1, 2, 3, 4, 5, 6, 7]);
        let k1 = u64::from_le_bytes([8, 9, 10, 11, 12, 13, 14, 15]);
        let msg: Vec<u8> = (0..15).collect();
        assert_eq!(siphash24(k0, k1, &msg), 0xa129_ca61_49be_45e5);
        // First entry of the reference implementation's vectors.h (empty message).
        assert_eq!(siphash24(k0, k1, &[]), 0x726f_db47_dd0e_0e31);
    }

    #[test]
    #[allow(deprecated)] // std's SipHasher is SipHash-2-4: used only as a cross-check.
    fn siphash_agrees_with_std_for_every_length() {
        use std::hash::Hasher;
        let msg: Vec<u8> = (0..40u8).map(|b| b.wrapping_mul(37)).collect();
        for len in 0..=msg.len() {
            let mut h = std::hash::SipHasher::new_with_keys(42, TAG);
            h.write(&msg[..len]);
            assert_eq!(siphash24(42, TAG, &msg[..len]), h.finish(), "len {len}");
        }
    }

    #[test]
    fn derivation_is_pinned() {
        // Changing these values breaks reproducibility of every recorded run.
        let m = MasterSeed(42);
        assert_eq!(m.sub_seed("host:0"), m.sub_seed("host:0"));
        let golden = draws(m.stream("link:a->b"), 2);
        assert_eq!(golden, draws(MasterSeed(42).stream("link:a->b"), 2));
        assert_eq!(
            format!("{:016x} {:016x}", golden[0], golden[1]),
            GOLDEN_LINK_A_B,
            "the stream derivation changed"
        );
    }
    const GOLDEN_LINK_A_B: &str = "017a414f329b3ba3 d032f3727ba9b392";

    #[test]
    fn adding_a_stream_leaves_others_unchanged() {
        let m = MasterSeed(7);
        let alone = draws(m.stream("link:1"), 1000);
        // Create and consume other streams first, in another order.
        let mut other = m.stream("link:0");
        other.next_u64();
        let _extra = m.stream("link:new");
        assert_eq!(draws(m.stream("link:1"), 1000), alone);
    }

    #[test]
    fn names_and_masters_separate_streams() {
        let a = draws(MasterSeed(7).stream("link:1"), 64);
        let b = draws(MasterSeed(7).stream("link:2"), 64);
        let c = draws(MasterSeed(8).stream("link:1"), 64);
        // 64 equal words by chance has probability 2^-4096: a match means a bug.
        assert_ne!(a, b);
        assert_ne!(a, c);
        assert!(a.iter().zip(&b).all(|(x, y)| x != y), "streams share words");
        assert_ne!(MasterSeed(7).sub_seed("h"), MasterSeed(8).sub_seed("h"));
        assert_ne!(MasterSeed(7).sub_seed("h"), MasterSeed(7).sub_seed("i"));
        // The empty name and a prefix-sharing name are distinct too.
        assert_ne!(MasterSeed(7).sub_seed(""), MasterSeed(7).sub_seed("\0"));
    }

    #[test]
    fn helpers_respect_their_ranges() {
        let mut r = MasterSeed(1).stream("helpers");
        for _ in 0..10_000 {
            let u = unit_f64(&mut r);
            assert!((0.0..1.0).contains(&u));
            assert!(below(&mut r, 7) < 7);
            assert!(!chance(&mut r, 0.0));
            assert!(chance(&mut r, 1.0));
        }
        // Mean of exponential(1s) over 20_000 draws: sd of the mean is
        // 1/sqrt(20000) = 0.0071 s, so 5 sd = 0.035 s.
        let n = 20_000;
        let mean = (0..n)
            .map(|_| exponential(&mut r, SimDuration::from_secs(1)).as_secs_f64())
            .sum::<f64>()
            / f64::from(n);
        assert!((mean - 1.0).abs() < 0.035, "mean {mean}");
    }
}
