//! One-way links: propagation delay, jitter, bandwidth with a finite drop-tail queue,
//! and pluggable fault models (loss, duplication, outages).
//!
//! A [`Link`] is built from a serde-friendly [`LinkConfig`] (the `link.*` keys of a
//! scenario file). For every segment the harness calls [`Link::transmit`], which
//! returns a [`Verdict`]: deliver at a time, deliver twice, or drop (and why). The
//! link never schedules anything itself and allocates nothing per segment.
//!
//! # What happens to a segment, in order
//!
//! 1. **Fault models** ([`FaultModel`]), consulted in order: outages, then the loss
//!    model, then duplication, then any added with [`Link::with_fault`]. The first
//!    `Drop` ends the segment (like netem, which decides loss at enqueue, a lost
//!    segment takes no queue space); `Duplicate` marks it for a second copy;
//!    `Delay(d)` adds `d` to its propagation delay.
//! 2. **Queue and transmitter** (only with a finite `bandwidth`): the transmitter
//!    sends one segment at a time; a segment that finds it busy waits in a FIFO
//!    drop-tail queue of `queue` *packets* (Linux's default `txqueuelen` is 1000).
//!    A segment arriving when `queue` packets already wait is dropped
//!    ([`DropReason::QueueFull`]). Transmission takes the serialization delay
//!    `ceil(8 × bytes × 10^9 / bits_per_second)` ns.
//! 3. **Propagation**: arrival = end of transmission + `delay` + a jitter drawn
//!    uniformly from `[0, jitter]` (one-sided, so `delay` is the minimum and the mean
//!    is `delay + jitter/2`). With `reorder = false` (the default) an arrival is
//!    never earlier than the previous one on the link, so jitter cannot reorder;
//!    with `reorder = true` segments may overtake each other. A duplicate gets its
//!    own jitter draw and is delivered no earlier than the original when
//!    `reorder = false`; it takes no queue space (it is made after the wire, as by a
//!    faulty switch).
//!
//! Each link must be given its own random stream ([`crate::MasterSeed::stream`]);
//! a link with no jitter and no random fault model draws nothing.

use std::collections::VecDeque;
use std::fmt;
use std::num::NonZeroU64;
use std::str::FromStr;

use rand::Rng;
use serde::de::{self, MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::rng::{StreamRng, below, chance};
use crate::time::{SimDuration, SimTime};

// ---------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------

/// A link value that is out of range or malformed. Each variant names the value.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum LinkError {
    /// A probability outside `[0, 1]` (or NaN).
    #[error("{field} = {value} is not a probability: expected a number in [0, 1]")]
    Probability {
        /// The key, e.g. `loss.p` or `duplicate`.
        field: &'static str,
        /// The rejected value.
        value: f64,
    },
    /// A bandwidth of zero.
    #[error(
        "bandwidth {input:?} is zero: a link needs a positive rate (use \"unlimited\" for infinite bandwidth)"
    )]
    ZeroBandwidth {
        /// The rejected input.
        input: String,
    },
    /// A bandwidth string that does not parse.
    #[error(
        "invalid bandwidth {input:?}: {reason} (expected e.g. \"1Gbps\", \"100Mbps\", \"1.5Mbps\", \"64kbps\", \"9600bps\" or \"unlimited\")"
    )]
    Bandwidth {
        /// The rejected input.
        input: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An outage window whose start is not before its end.
    #[error(
        "outages[{index}] = [{from}, {until}] is inverted or empty: the start must be before the end"
    )]
    InvertedOutage {
        /// Position of the window in `outages`.
        index: usize,
        /// The window's start.
        from: SimDuration,
        /// The window's end.
        until: SimDuration,
    },
}

fn check_probability(field: &'static str, value: f64) -> Result<f64, LinkError> {
    if (0.0..=1.0).contains(&value) {
        Ok(value)
    } else {
        Err(LinkError::Probability { field, value })
    }
}

// ---------------------------------------------------------------------------------
// Bandwidth
// ---------------------------------------------------------------------------------

/// A link rate in bits per second (never zero). Parses and prints as `1Gbps`,
/// `100Mbps`, `1.5Mbps`, `64kbps`, `9600bps` (SI decimal prefixes; the unit is
/// case-insensitive, and a space before it is allowed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Bandwidth(NonZeroU64);

/// Units by decreasing size, for parsing and for `Display`.
const BANDWIDTH_UNITS: [(&str, u64); 5] = [
    ("Tbps", 1_000_000_000_000),
    ("Gbps", 1_000_000_000),
    ("Mbps", 1_000_000),
    ("kbps", 1_000),
    ("bps", 1),
];

impl Bandwidth {
    /// A rate of `bps` bits per second; zero is an error.
    pub fn from_bps(bps: u64) -> Result<Self, LinkError> {
        NonZeroU64::new(bps)
            .map(Bandwidth)
            .ok_or_else(|| LinkError::ZeroBandwidth {
                input: format!("{bps}bps"),
            })
    }

    /// The rate in bits per second.
    pub fn bits_per_sec(self) -> u64 {
        self.0.get()
    }

    /// Time to put `bytes` on the wire: `ceil(8 × bytes × 10^9 / bps)` nanoseconds.
    pub fn serialization_delay(self, bytes: u64) -> SimDuration {
        let num = u128::from(bytes) * 8 * 1_000_000_000;
        let ns = num.div_ceil(u128::from(self.0.get()));
        SimDuration::from_nanos(u64::try_from(ns).unwrap_or(u64::MAX))
    }
}

impl FromStr for Bandwidth {
    type Err = LinkError;
    fn from_str(s: &str) -> Result<Self, LinkError> {
        let bad = |reason| LinkError::Bandwidth {
            input: s.to_string(),
            reason,
        };
        let t = s.trim();
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(|| bad("missing unit"))?;
        let (number, unit) = (&t[..split], t[split..].trim_start());
        let scale = BANDWIDTH_UNITS
            .iter()
            .find(|(u, _)| u.eq_ignore_ascii_case(unit))
            .map(|&(_, m)| m)
            .ok_or_else(|| bad("unknown unit"))?;
        let (int, frac) = number.split_once('.').unwrap_or((number, ""));
        if int.is_empty() && frac.is_empty() {
            return Err(bad("missing number"));
        }
        if frac.contains('.') || frac.len() > 12 {
            return Err(bad("malformed number"));
        }
        let digits = |d: &str| -> Result<u128, LinkError> {
            if d.is_empty() {
                Ok(0)
            } else {
                d.parse::<u128>().map_err(|_| bad("malformed number"))
            }
        };
        let denom = 10u128.pow(frac.len() as u32);
        let total = (digits(int)? * denom + digits(frac)?) * u128::from(scale);
        if total % denom != 0 {
            return Err(bad("not a whole number of bits per second"));
        }
        let bps = u64::try_from(total / denom).map_err(|_| bad("too large"))?;
        NonZeroU64::new(bps)
            .map(Bandwidth)
            .ok_or_else(|| LinkError::ZeroBandwidth {
                input: s.to_string(),
            })
    }
}

impl fmt::Display for Bandwidth {
    /// The largest unit that divides the rate exactly: `1Gbps`, `1500Mbps`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bps = self.0.get();
        let (unit, scale) = BANDWIDTH_UNITS
            .iter()
            .copied()
            .find(|&(_, m)| bps % m == 0)
            .expect("bps divides by 1");
        write!(f, "{}{unit}", bps / scale)
    }
}

impl Serialize for Bandwidth {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Bandwidth {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(de::Error::custom)
    }
}

/// Serde for `Option<Bandwidth>` where `None` (infinite) is written `"unlimited"`,
/// since TOML has no null.
mod bandwidth_or_unlimited {
    use super::*;

    const UNLIMITED: &str = "unlimited";

    pub fn serialize<S: Serializer>(v: &Option<Bandwidth>, s: S) -> Result<S::Ok, S::Error> {
        match v {
            Some(b) => b.serialize(s),
            None => s.serialize_str(UNLIMITED),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Bandwidth>, D::Error> {
        let s = String::deserialize(d)?;
        if s.trim().eq_ignore_ascii_case(UNLIMITED) {
            Ok(None)
        } else {
            s.parse().map(Some).map_err(de::Error::custom)
        }
    }
}

// ---------------------------------------------------------------------------------
// Configuration
// ---------------------------------------------------------------------------------

/// The loss model of a link.
///
/// In TOML, either a bare probability (`loss = 0.01`, Bernoulli) or a table:
///
/// ```toml
/// loss = { model = "bernoulli", p = 0.01 }
/// loss = { model = "gilbert-elliott", p = 0.01, r = 0.25, h = 0.0, k = 1.0 }
/// ```
///
/// Gilbert–Elliott parameters are those of netem's `loss gemodel p r 1-h 1-k`
/// (tc-netem(8)), written here as `h` and `k` themselves:
/// `p` = P(good → bad) per packet, `r` = P(bad → good), `h` = probability a packet
/// is *delivered* in the bad state, `k` = probability it is delivered in the good
/// state. So netem's `gemodel 1% 25% 70% 0.1%` is `p = 0.01, r = 0.25, h = 0.3,
/// k = 0.999`. Omitted values take netem's defaults: `r = 1 - p`, `h = 0`, `k = 1`
/// (with all three omitted the model reduces to Bernoulli(p)).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Loss {
    /// Each segment is lost independently with probability `p`.
    Bernoulli {
        /// Loss probability.
        p: f64,
    },
    /// The two-state Gilbert–Elliott model, as netem's `gemodel`.
    GilbertElliott {
        /// P(good → bad), drawn once per segment in the good state.
        p: f64,
        /// P(bad → good), drawn once per segment in the bad state.
        r: f64,
        /// P(delivered | bad state); netem's third parameter is `1 - h`.
        h: f64,
        /// P(delivered | good state); netem's fourth parameter is `1 - k`.
        k: f64,
    },
}

impl Default for Loss {
    fn default() -> Self {
        Loss::Bernoulli { p: 0.0 }
    }
}

impl Loss {
    /// The long-run fraction of segments lost.
    ///
    /// Gilbert–Elliott: netem draws the loss of a packet from the state it finds
    /// (`loss_gilb_ell` in net/sched/sch_netem.c makes the transition draw and then
    /// the loss draw of the *current* branch), so the fraction of packets seen in
    /// the bad state is the chain's stationary `π_bad = p / (p + r)` and the loss
    /// rate is `(1 - π_bad)(1 - k) + π_bad (1 - h)`. With `p + r = 0` the chain
    /// never leaves the good state it starts in: `1 - k`.
    pub fn stationary_loss(&self) -> f64 {
        match *self {
            Loss::Bernoulli { p } => p,
            Loss::GilbertElliott { p, r, h, k } => {
                if p + r == 0.0 {
                    1.0 - k
                } else {
                    let bad = p / (p + r);
                    (1.0 - bad) * (1.0 - k) + bad * (1.0 - h)
                }
            }
        }
    }

    fn validate(&self) -> Result<(), LinkError> {
        match *self {
            Loss::Bernoulli { p } => check_probability("loss.p", p).map(drop),
            Loss::GilbertElliott { p, r, h, k } => {
                check_probability("loss.p", p)?;
                check_probability("loss.r", r)?;
                check_probability("loss.h", h)?;
                check_probability("loss.k", k).map(drop)
            }
        }
    }

    /// The fault model for this loss, or `None` if it can never lose anything.
    fn fault_model(&self) -> Option<LossModel> {
        match *self {
            Loss::Bernoulli { p: 0.0 } => None,
            Loss::Bernoulli { p } => Some(LossModel::Bernoulli(Bernoulli { p }, Ahead::EMPTY)),
            Loss::GilbertElliott { p, r, h, k } => Some(LossModel::GilbertElliott(Box::new(
                GilbertElliott::new(p, r, h, k),
            ))),
        }
    }
}

/// The table form of [`Loss`] as written in TOML.
#[derive(Serialize, Deserialize)]
#[serde(tag = "model", rename_all = "kebab-case", deny_unknown_fields)]
enum LossTable {
    Bernoulli {
        p: f64,
    },
    GilbertElliott {
        p: f64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        r: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        h: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        k: Option<f64>,
    },
}

impl Serialize for Loss {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match *self {
            Loss::Bernoulli { p } => s.serialize_f64(p),
            Loss::GilbertElliott { p, r, h, k } => LossTable::GilbertElliott {
                p,
                r: Some(r),
                h: Some(h),
                k: Some(k),
            }
            .serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Loss {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct LossVisitor;
        impl<'de> Visitor<'de> for LossVisitor {
            type Value = Loss;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(
                    "a loss probability in [0, 1], or a table like { model = \"gilbert-elliott\", p = 0.01, r = 0.25, h = 0.0, k = 1.0 }",
                )
            }
            fn visit_f64<E: de::Error>(self, p: f64) -> Result<Loss, E> {
                Ok(Loss::Bernoulli { p })
            }
            fn visit_i64<E: de::Error>(self, p: i64) -> Result<Loss, E> {
                Ok(Loss::Bernoulli { p: p as f64 })
            }
            fn visit_u64<E: de::Error>(self, p: u64) -> Result<Loss, E> {
                Ok(Loss::Bernoulli { p: p as f64 })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Loss, A::Error> {
                let table = LossTable::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(match table {
                    LossTable::Bernoulli { p } => Loss::Bernoulli { p },
                    LossTable::GilbertElliott { p, r, h, k } => Loss::GilbertElliott {
                        p,
                        r: r.unwrap_or(1.0 - p),
                        h: h.unwrap_or(0.0),
                        k: k.unwrap_or(1.0),
                    },
                })
            }
        }
        d.deserialize_any(LossVisitor)
    }
}

/// A window `[from, until)` of virtual time (offsets from the start of the run)
/// during which the link is down and drops everything. TOML: `["10s", "20s"]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "[SimDuration; 2]", into = "[SimDuration; 2]")]
pub struct Outage {
    /// First instant of the outage.
    pub from: SimDuration,
    /// First instant after the outage.
    pub until: SimDuration,
}

impl From<[SimDuration; 2]> for Outage {
    fn from([from, until]: [SimDuration; 2]) -> Self {
        Outage { from, until }
    }
}
impl From<Outage> for [SimDuration; 2] {
    fn from(o: Outage) -> Self {
        [o.from, o.until]
    }
}

/// The configuration of one direction of a link: the `link.*` keys of a scenario.
///
/// ```toml
/// delay = "1ms"          # propagation delay (default 1ms)
/// jitter = "0s"          # extra delay, uniform in [0, jitter] (default 0s)
/// reorder = false        # may jitter reorder segments? (default false)
/// bandwidth = "1Gbps"    # or "unlimited" (default): no serialization delay, no queue
/// queue = 1000           # drop-tail queue limit in packets (default 1000)
/// loss = 0.01            # or a table, see `Loss` (default 0)
/// duplicate = 0.0        # probability a segment is delivered twice (default 0)
/// outages = [["10s", "20s"]]   # windows [from, until) when the link is down
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LinkConfig {
    /// Propagation delay.
    pub delay: SimDuration,
    /// Maximum extra delay; each segment gets a uniform draw from `[0, jitter]`.
    pub jitter: SimDuration,
    /// Whether jitter may reorder segments (if false, arrivals stay in send order).
    pub reorder: bool,
    /// Transmission rate; `None` (TOML `"unlimited"`) means infinitely fast.
    #[serde(with = "bandwidth_or_unlimited")]
    pub bandwidth: Option<Bandwidth>,
    /// Drop-tail queue limit, in packets waiting for the transmitter (the one being
    /// transmitted does not count). Only used with a finite bandwidth.
    pub queue: u32,
    /// The loss model.
    pub loss: Loss,
    /// Probability that a segment is delivered twice.
    pub duplicate: f64,
    /// Windows when the link drops everything.
    pub outages: Vec<Outage>,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            delay: SimDuration::from_millis(1),
            jitter: SimDuration::ZERO,
            reorder: false,
            bandwidth: None,
            queue: 1000,
            loss: Loss::default(),
            duplicate: 0.0,
            outages: Vec::new(),
        }
    }
}

impl LinkConfig {
    /// Checks every value; the error names the first wrong one.
    pub fn validate(&self) -> Result<(), LinkError> {
        self.loss.validate()?;
        check_probability("duplicate", self.duplicate)?;
        for (index, o) in self.outages.iter().enumerate() {
            if o.from >= o.until {
                return Err(LinkError::InvertedOutage {
                    index,
                    from: o.from,
                    until: o.until,
                });
            }
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------------
// Fault models
// ---------------------------------------------------------------------------------

/// Why a segment was dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DropReason {
    /// A random loss model (Bernoulli, Gilbert–Elliott, or a custom one).
    Loss,
    /// The link was down (an outage window).
    Outage,
    /// The drop-tail queue was full.
    QueueFull,
}

/// What a [`FaultModel`] says about one segment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// No opinion: the segment goes on.
    Pass,
    /// Drop the segment (later models are not consulted).
    Drop(DropReason),
    /// Deliver the segment twice.
    Duplicate,
    /// Add this much to the segment's propagation delay.
    Delay(SimDuration),
}

/// A fault consulted once per segment, in the order the link holds them. Each
/// implementation keeps its own state and draws only from the `rng` it is given
/// (the link's own stream), so new faults plug in without touching [`Link`].
pub trait FaultModel: fmt::Debug + Send {
    /// The verdict on a segment entering the link at `now`.
    fn judge(&mut self, now: SimTime, rng: &mut StreamRng) -> Fault;
}

/// Independent loss with probability `p` (one draw per segment).
#[derive(Clone, Copy, Debug)]
pub struct Bernoulli {
    /// Loss probability.
    pub p: f64,
}

impl FaultModel for Bernoulli {
    #[inline]
    fn judge(&mut self, _now: SimTime, rng: &mut StreamRng) -> Fault {
        if chance(rng, self.p) {
            Fault::Drop(DropReason::Loss)
        } else {
            Fault::Pass
        }
    }
}

/// Gilbert–Elliott loss exactly as Linux netem's `loss_gilb_ell`
/// (net/sched/sch_netem.c): per segment, first a transition draw (good → bad with
/// `p`, bad → good with `r`), then a loss draw with the loss probability of the
/// state the segment *found* (`1 - k` in good, `1 - h` in bad). Starts good.
#[derive(Clone, Copy, Debug)]
pub struct GilbertElliott {
    p: f64,
    r: f64,
    loss_good: f64,
    loss_bad: f64,
    bad: bool,
}

impl GilbertElliott {
    /// A chain in the good state with the parameters of [`Loss::GilbertElliott`].
    pub fn new(p: f64, r: f64, h: f64, k: f64) -> Self {
        GilbertElliott {
            p,
            r,
            loss_good: 1.0 - k,
            loss_bad: 1.0 - h,
            bad: false,
        }
    }
}

impl FaultModel for GilbertElliott {
    #[inline]
    fn judge(&mut self, _now: SimTime, rng: &mut StreamRng) -> Fault {
        let (leave, loss) = if self.bad {
            (self.r, self.loss_bad)
        } else {
            (self.p, self.loss_good)
        };
        if chance(rng, leave) {
            self.bad = !self.bad;
        }
        if chance(rng, loss) {
            Fault::Drop(DropReason::Loss)
        } else {
            Fault::Pass
        }
    }
}

/// A link's loss model, held by value so the per-segment call is a direct one.
/// The Gilbert–Elliott chain (40 bytes) is boxed to keep this at 16 bytes, inside
/// the link's first cache line.
#[derive(Clone, Debug)]
enum LossModel {
    Bernoulli(Bernoulli, Ahead),
    GilbertElliott(Box<GilbertElliott>),
}

impl FaultModel for LossModel {
    #[inline]
    fn judge(&mut self, now: SimTime, rng: &mut StreamRng) -> Fault {
        match self {
            LossModel::Bernoulli(m, _) => m.judge(now, rng),
            LossModel::GilbertElliott(m) => m.judge(now, rng),
        }
    }
}

/// Bernoulli verdicts already drawn for the segments to come, for a link whose
/// stream has no other consumer (see [`LossModel::judge_ahead`]): bit 0 is the
/// next segment's (1: lost), and a marker bit above the last verdict, so that
/// only the marker is left (`bits == 1`) once every verdict is handed out.
#[derive(Clone, Copy, Debug)]
struct Ahead {
    bits: u32,
}

impl Ahead {
    /// No verdict drawn yet.
    const EMPTY: Ahead = Ahead { bits: 1 };

    /// Hands out the next verdict drawn ahead if it is a pass.
    #[inline]
    fn take_pass(&mut self) -> bool {
        let pass = self.bits & 1 == 0;
        if pass {
            self.bits >>= 1;
        }
        pass
    }
}

impl LossModel {
    /// How many verdicts [`LossModel::judge_ahead`] draws at once (one stream
    /// word each), leaving a bit of [`Ahead`] for its marker. (A 64-bit
    /// [`Ahead`] would hold twice as many, but the model would then outgrow its
    /// 16 bytes in the link's first cache line.)
    const AHEAD: usize = 31;

    /// The same verdict as [`FaultModel::judge`], for a link on which the loss
    /// draw is the only draw of each segment (no jitter, no duplication, no custom
    /// model). Bernoulli loss then draws [`Self::AHEAD`] segments' verdicts at
    /// once and hands them out one per segment: the same draws, in the same
    /// order, for the same segments, so the outcome is the same to the bit, but
    /// the stream (304 bytes, mostly out of cache when one of thousands of links
    /// is next used) is read once every 31 segments instead of once per segment.
    #[inline]
    fn judge_ahead(&mut self, now: SimTime, rng: &mut StreamRng) -> Fault {
        let LossModel::Bernoulli(m, ahead) = self else {
            return self.judge(now, rng);
        };
        if ahead.bits == 1 {
            Self::draw_ahead(m.p, ahead, rng);
        }
        if ahead.take_pass() {
            return Fault::Pass;
        }
        ahead.bits >>= 1;
        Fault::Drop(DropReason::Loss)
    }

    /// Draws the verdicts of the next [`Self::AHEAD`] segments: one `next_u64`
    /// each, in order ([`Rng::fill_bytes`] hands out the stream's words as
    /// `next_u64` does), each compared as [`chance`] does ([`loss_threshold`]).
    #[cold]
    #[inline(never)]
    fn draw_ahead(p: f64, ahead: &mut Ahead, rng: &mut StreamRng) {
        let mut words = [0u8; 8 * Self::AHEAD];
        rng.fill_bytes(&mut words);
        let threshold = loss_threshold(p);
        let bits = words.chunks_exact(8).rev().fold(1, |bits, w| {
            let x = u64::from_le_bytes(w.try_into().expect("8 bytes"));
            (bits << 1) | u32::from(x >> 11 < threshold)
        });
        ahead.bits = bits;
    }
}

/// The integer form of [`chance`]`(rng, p)`, which draws `x = next_u64()` and is
/// true if `(x >> 11) × 2^-53 < p`: the product is exact (53 bits, scaled by a
/// power of two), so that holds exactly when the integer `x >> 11` is below
/// `p × 2^53` (also exact), that is below its ceiling.
fn loss_threshold(p: f64) -> u64 {
    (p * (1u64 << 53) as f64).ceil() as u64
}

/// Delivers a segment twice with probability `p` (netem's `duplicate`).
#[derive(Clone, Copy, Debug)]
pub struct Duplication {
    /// Duplication probability.
    pub p: f64,
}

impl FaultModel for Duplication {
    #[inline]
    fn judge(&mut self, _now: SimTime, rng: &mut StreamRng) -> Fault {
        if chance(rng, self.p) {
            Fault::Duplicate
        } else {
            Fault::Pass
        }
    }
}

/// Scheduled outages: drops every segment entering the link inside a window.
/// Windows are kept sorted and merged; lookup is a binary search (no draws).
#[derive(Clone, Debug)]
pub struct Outages {
    /// Disjoint, sorted `[from, until)` windows.
    windows: Vec<(SimTime, SimTime)>,
}

impl Outages {
    /// The union of `windows` (which may overlap or be unsorted).
    pub fn new(windows: &[Outage]) -> Self {
        let mut w: Vec<(SimTime, SimTime)> = windows
            .iter()
            .map(|o| (SimTime::ZERO + o.from, SimTime::ZERO + o.until))
            .collect();
        w.sort_unstable();
        let mut merged: Vec<(SimTime, SimTime)> = Vec::with_capacity(w.len());
        for (from, until) in w {
            match merged.last_mut() {
                Some(last) if from <= last.1 => last.1 = last.1.max(until),
                _ => merged.push((from, until)),
            }
        }
        Outages { windows: merged }
    }

    /// Whether the link is down at `t`.
    pub fn is_down(&self, t: SimTime) -> bool {
        let i = self.windows.partition_point(|&(_, until)| until <= t);
        self.windows.get(i).is_some_and(|&(from, _)| from <= t)
    }
}

impl FaultModel for Outages {
    #[inline]
    fn judge(&mut self, now: SimTime, _rng: &mut StreamRng) -> Fault {
        if self.is_down(now) {
            Fault::Drop(DropReason::Outage)
        } else {
            Fault::Pass
        }
    }
}

// ---------------------------------------------------------------------------------
// The link
// ---------------------------------------------------------------------------------

/// What happens to a segment given to [`Link::transmit`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Delivered once, at this time.
    Deliver(SimTime),
    /// Delivered twice: the original, then the duplicate (times may be equal, and
    /// with `reorder = true` the second may be earlier).
    Duplicate(SimTime, SimTime),
    /// Dropped.
    Drop(DropReason),
}

/// Counters of what a link did, for reports.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LinkStats {
    /// Segments given to [`Link::transmit`].
    pub offered: u64,
    /// Segments delivered (a duplicated segment counts once here).
    pub delivered: u64,
    /// Extra copies delivered by duplication.
    pub duplicated: u64,
    /// Drops by a random loss model.
    pub lost: u64,
    /// Drops during outages.
    pub outage_drops: u64,
    /// Drops at a full queue.
    pub queue_drops: u64,
}

/// One direction of a link, built from a [`LinkConfig`]. See the module docs for
/// what happens to a segment.
///
/// Laid out for the common case: a run has thousands of links, each used once
/// every few hundred events, so a segment's pass mostly finds its link out of
/// cache. Everything a pass reads on a link with delay, jitter and loss only sits
/// in its first cache line (`repr(C)`, 64-byte aligned: 58 bytes); the other
/// fault models, the bandwidth queue and the drop counters are read only when the
/// link has them or drops.
#[derive(Debug)]
#[repr(C, align(64))]
pub struct Link {
    delay: SimDuration,
    jitter: SimDuration,
    last_arrival: SimTime,
    loss: Option<LossModel>,
    bandwidth: Option<Bandwidth>,
    /// [`LinkStats::delivered`]; the other counters are below, and `offered` is
    /// their sum (every segment offered is delivered or dropped).
    delivered: u64,
    reorder: bool,
    /// Whether any fault model besides `loss` is present (outages, duplication,
    /// custom ones): only then are they consulted.
    more_faults: bool,
    /// No other fault model, no jitter, no bandwidth limit: a segment that the
    /// loss model passes arrives `delay` after it entered (see
    /// [`Link::known_pass`]).
    plain: bool,
    duplicated: u64,
    lost: u64,
    outage_drops: u64,
    queue_drops: u64,
    // The fault models in the order they are consulted: `outages`, `loss`,
    // `duplication`, then any added with `with_fault`.
    outages: Option<Outages>,
    duplication: Option<Duplication>,
    custom: Vec<Box<dyn FaultModel>>,
    queue_limit: usize,
    /// Transmission start times of the segments waiting in the queue, in order.
    waiting: VecDeque<SimTime>,
    busy_until: SimTime,
}

impl Link {
    /// Validates `config` and builds the link with its fault models in the
    /// documented order (outages, loss, duplication).
    pub fn new(config: &LinkConfig) -> Result<Link, LinkError> {
        config.validate()?;
        let outages = (!config.outages.is_empty()).then(|| Outages::new(&config.outages));
        let duplication = (config.duplicate > 0.0).then_some(Duplication {
            p: config.duplicate,
        });
        let mut link = Link {
            more_faults: outages.is_some() || duplication.is_some(),
            plain: false,
            delay: config.delay,
            jitter: config.jitter,
            reorder: config.reorder,
            bandwidth: config.bandwidth,
            queue_limit: config.queue as usize,
            waiting: VecDeque::new(),
            busy_until: SimTime::ZERO,
            last_arrival: SimTime::ZERO,
            delivered: 0,
            duplicated: 0,
            lost: 0,
            outage_drops: 0,
            queue_drops: 0,
            outages,
            loss: config.loss.fault_model(),
            duplication,
            custom: Vec::new(),
        };
        link.plain = link.loss_draws_alone() && link.bandwidth.is_none();
        Ok(link)
    }

    /// Whether the loss model's draw is the only draw of a segment: no other fault
    /// model (which may draw), no jitter.
    fn loss_draws_alone(&self) -> bool {
        !self.more_faults && self.jitter.is_zero()
    }

    /// Whether every segment the link does not drop arrives exactly its delay after
    /// it entered, in the order it entered: no jitter, no bandwidth limit (hence no
    /// queueing), no duplication and no custom fault model (which may delay).
    /// Outages and random loss only drop.
    pub fn delays_exactly(&self) -> bool {
        self.jitter.is_zero()
            && self.bandwidth.is_none()
            && self.duplication.is_none()
            && self.custom.is_empty()
    }

    /// Appends a custom fault model, consulted after the built-in ones.
    pub fn with_fault(mut self, fault: Box<dyn FaultModel>) -> Self {
        self.custom.push(fault);
        self.more_faults = true;
        self.plain = false;
        self
    }

    /// Consults the fault models in order: whether to duplicate and the extra
    /// delay, or the reason to drop (then later models are not consulted, and draw
    /// nothing).
    #[inline]
    fn judge(
        &mut self,
        now: SimTime,
        rng: &mut StreamRng,
    ) -> Result<(bool, SimDuration), DropReason> {
        let (mut duplicate, mut extra) = (false, SimDuration::ZERO);
        let mut apply = |fault: Fault| match fault {
            Fault::Pass => Ok(()),
            Fault::Duplicate => {
                duplicate = true;
                Ok(())
            }
            Fault::Delay(d) => {
                extra += d;
                Ok(())
            }
            Fault::Drop(reason) => Err(reason),
        };
        if self.more_faults
            && let Some(m) = &mut self.outages
        {
            apply(m.judge(now, rng))?;
        }
        let alone = self.loss_draws_alone();
        if let Some(m) = &mut self.loss {
            apply(if alone {
                m.judge_ahead(now, rng)
            } else {
                m.judge(now, rng)
            })?;
        }
        if self.more_faults {
            if let Some(m) = &mut self.duplication {
                apply(m.judge(now, rng))?;
            }
            for m in &mut self.custom {
                apply(m.judge(now, rng))?;
            }
        }
        Ok((duplicate, extra))
    }

    /// What the link does with a segment of `size_bytes` (the whole packet as it
    /// occupies the wire) handed to it at `now`. `now` must not decrease between
    /// calls. Draws only from `rng`, which must be this link's own stream, used by
    /// nothing else and passed at every call: the link may draw verdicts for
    /// segments to come (Bernoulli loss draws ahead when it is the only draw).
    #[inline]
    pub fn transmit(&mut self, now: SimTime, size_bytes: u32, rng: &mut StreamRng) -> Verdict {
        self.transmit_sized(now, || size_bytes, rng)
    }

    /// [`Link::transmit`] with the size computed only when needed: not for a
    /// segment a plain link lets through without a draw (most of them), which
    /// neither queues nor serializes.
    #[inline]
    pub fn transmit_sized(
        &mut self,
        now: SimTime,
        size_bytes: impl FnOnce() -> u32,
        rng: &mut StreamRng,
    ) -> Verdict {
        match self.known_pass(now) {
            Some(at) => Verdict::Deliver(at),
            None => self.transmit_judged(now, size_bytes(), rng),
        }
    }

    /// The arrival time of a segment entering at `now` if its verdict is known
    /// without a draw to be a plain pass: a plain link (see `plain`) with no loss
    /// model, or with Bernoulli verdicts drawn ahead that pass it. The common case,
    /// kept small enough to inline into the caller.
    #[inline]
    fn known_pass(&mut self, now: SimTime) -> Option<SimTime> {
        if !self.plain {
            return None;
        }
        let passes = match &mut self.loss {
            None => true,
            Some(LossModel::Bernoulli(_, ahead)) => ahead.take_pass(),
            Some(LossModel::GilbertElliott(_)) => false,
        };
        if !passes {
            return None;
        }
        self.delivered += 1;
        Some(self.in_order(now + self.delay))
    }

    /// [`Link::transmit`] in every other case: the fault models' verdicts, the
    /// queue, jitter and duplication.
    #[inline(never)]
    fn transmit_judged(&mut self, now: SimTime, size_bytes: u32, rng: &mut StreamRng) -> Verdict {
        let (duplicate, extra) = match self.judge(now, rng) {
            Ok(judged) => judged,
            Err(reason) => return self.drop(reason),
        };
        let sent = match self.bandwidth {
            None => now,
            Some(bw) => match self.enqueue(now, size_bytes, bw) {
                Ok(sent) => sent,
                Err(reason) => return self.drop(reason),
            },
        };
        let base = sent + self.delay + extra;
        let first = self.arrival(base, rng);
        self.delivered += 1;
        if duplicate {
            self.duplicated += 1;
            Verdict::Duplicate(first, self.arrival(base, rng))
        } else {
            Verdict::Deliver(first)
        }
    }

    /// `base` plus a jitter draw, kept monotone unless reordering is allowed.
    fn arrival(&mut self, base: SimTime, rng: &mut StreamRng) -> SimTime {
        let mut t = base;
        if !self.jitter.is_zero() {
            t += SimDuration::from_nanos(below(rng, self.jitter.as_nanos().saturating_add(1)));
        }
        self.in_order(t)
    }

    /// `t`, or the previous arrival if that is later, unless reordering is allowed.
    #[inline]
    fn in_order(&mut self, t: SimTime) -> SimTime {
        if self.reorder {
            return t;
        }
        let t = t.max(self.last_arrival);
        self.last_arrival = t;
        t
    }

    /// When a segment of `size_bytes` entering at `now` has been serialized onto
    /// a link of bandwidth `bw` (after the segments queued before it), or
    /// [`DropReason::QueueFull`] if `queue_limit` segments are already waiting.
    #[inline(never)]
    fn enqueue(
        &mut self,
        now: SimTime,
        size_bytes: u32,
        bw: Bandwidth,
    ) -> Result<SimTime, DropReason> {
        while self.waiting.front().is_some_and(|&start| start <= now) {
            self.waiting.pop_front();
        }
        let start = self.busy_until.max(now);
        if start > now {
            if self.waiting.len() >= self.queue_limit {
                return Err(DropReason::QueueFull);
            }
            self.waiting.push_back(start);
        }
        self.busy_until = start + bw.serialization_delay(u64::from(size_bytes));
        Ok(self.busy_until)
    }

    #[cold]
    #[inline(never)]
    fn drop(&mut self, reason: DropReason) -> Verdict {
        match reason {
            DropReason::Loss => self.lost += 1,
            DropReason::Outage => self.outage_drops += 1,
            DropReason::QueueFull => self.queue_drops += 1,
        }
        Verdict::Drop(reason)
    }

    /// When the transmitter finishes the last accepted segment (never earlier than
    /// the last call's `now` for a busy link; `ZERO` if unused or unlimited).
    pub fn busy_until(&self) -> SimTime {
        self.busy_until
    }

    /// Segments waiting in the queue at `now` (not counting the one on the wire).
    pub fn queued(&self, now: SimTime) -> usize {
        self.waiting.iter().filter(|&&start| start > now).count()
    }

    /// What the link has done so far.
    pub fn stats(&self) -> LinkStats {
        LinkStats {
            offered: self.delivered + self.lost + self.outage_drops + self.queue_drops,
            delivered: self.delivered,
            duplicated: self.duplicated,
            lost: self.lost,
            outage_drops: self.outage_drops,
            queue_drops: self.queue_drops,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_loss_threshold_is_chance_in_integers() {
        // `x >> 11` below the threshold exactly when `chance` would be true for a
        // draw of `x`, at the boundary and either side of it, for probabilities
        // whose `p × 2^53` is an integer (0.5, 2^-20, 1) and for ones whose is not.
        let unit = |k: u64| k as f64 * (1.0 / (1u64 << 53) as f64);
        for p in [1e-9, 2f64.powi(-20), 0.01, 0.1, 1.0 / 3.0, 0.5, 0.99, 1.0] {
            let t = loss_threshold(p);
            for k in [t.saturating_sub(2), t.saturating_sub(1), t, t + 1] {
                let k = k.min((1 << 53) - 1);
                for x in [k << 11, (k << 11) | 0x7ff] {
                    assert_eq!(x >> 11 < t, unit(x >> 11) < p, "p={p} x={x:#x}");
                }
            }
        }
        assert_eq!(loss_threshold(0.0), 0);
        assert_eq!(loss_threshold(1.0), 1 << 53);
    }

    #[test]
    fn what_every_pass_reads_sits_in_the_first_cache_line() {
        use std::mem::{align_of, offset_of, size_of};
        assert_eq!(align_of::<Link>(), 64);
        assert_eq!(size_of::<Option<LossModel>>(), 16);
        let end = offset_of!(Link, plain) + 1;
        assert!(end <= 64, "the hot fields end at byte {end}");
        for hot in [
            offset_of!(Link, delay),
            offset_of!(Link, jitter),
            offset_of!(Link, last_arrival),
            offset_of!(Link, loss),
            offset_of!(Link, bandwidth),
            offset_of!(Link, delivered),
            offset_of!(Link, reorder),
            offset_of!(Link, more_faults),
        ] {
            assert!(hot < end);
        }
    }
}
