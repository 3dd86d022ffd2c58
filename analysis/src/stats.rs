//! Small statistics: percentiles, time-weighted means, and the Student-t 95 %
//! confidence interval used across seeds.

/// The p-quantile (0 < p ≤ 1) of `sorted` by the nearest-rank method: the
/// ⌈p·n⌉-th smallest value. `None` for an empty slice.
pub fn percentile_sorted(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Arithmetic mean; `None` when empty.
pub fn mean(xs: &[f64]) -> Option<f64> {
    (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
}

/// Sample standard deviation (divisor n − 1); `None` for fewer than two values.
pub fn sample_sd(xs: &[f64]) -> Option<f64> {
    if xs.len() < 2 {
        return None;
    }
    let m = mean(xs)?;
    let ss: f64 = xs.iter().map(|x| (x - m) * (x - m)).sum();
    Some((ss / (xs.len() - 1) as f64).sqrt())
}

/// Mean of a step function sampled at `(time, value)` points (sorted by time): each
/// value holds until the next sample; the last sample holds until `end` (if `end` is
/// after it). `None` when no time elapses.
pub fn time_weighted_mean(samples: &[(f64, f64)], end: f64) -> Option<f64> {
    let first = samples.first()?.0;
    let mut area = 0.0;
    for (i, &(t, v)) in samples.iter().enumerate() {
        let next = samples.get(i + 1).map_or(end, |s| s.0);
        if next > t {
            area += v * (next - t);
        }
    }
    let span = end.max(samples.last()?.0) - first;
    (span > 0.0).then(|| area / span)
}

/// Two-sided 97.5 % quantile of Student's t distribution, t_{0.975, df}: the factor
/// of a 95 % confidence interval. Exact table (4 decimals) for df ≤ 30, the
/// Cornish–Fisher expansion around z = 1.959964 beyond (error < 1e-4 for df > 30).
pub fn t_975(df: u64) -> f64 {
    const TABLE: [f64; 30] = [
        12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281, 2.2010,
        2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860, 2.0796, 2.0739,
        2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
    ];
    assert!(df > 0, "t quantile needs at least one degree of freedom");
    if let Some(t) = TABLE.get(df as usize - 1) {
        return *t;
    }
    let z: f64 = 1.959_963_985;
    let n = df as f64;
    let (z3, z5, z7, z9) = (z.powi(3), z.powi(5), z.powi(7), z.powi(9));
    z + (z3 + z) / (4.0 * n)
        + (5.0 * z5 + 16.0 * z3 + 3.0 * z) / (96.0 * n * n)
        + (3.0 * z7 + 19.0 * z5 + 17.0 * z3 - 15.0 * z) / (384.0 * n.powi(3))
        + (79.0 * z9 + 776.0 * z7 + 1482.0 * z5 - 1920.0 * z3 - 945.0 * z) / (92160.0 * n.powi(4))
}

/// Mean, sample standard deviation and Student-t 95 % confidence interval of a
/// sample (one value per seed).
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Interval {
    pub n: usize,
    pub mean: f64,
    /// `None` for n = 1.
    pub sd: Option<f64>,
    /// mean ∓ t_{0.975, n−1} · sd / √n; `None` for n = 1.
    pub ci_low: Option<f64>,
    pub ci_high: Option<f64>,
}

impl Interval {
    /// `None` for an empty sample.
    pub fn of(xs: &[f64]) -> Option<Self> {
        let m = mean(xs)?;
        let sd = sample_sd(xs);
        let half = sd.map(|s| t_975(xs.len() as u64 - 1) * s / (xs.len() as f64).sqrt());
        Some(Interval {
            n: xs.len(),
            mean: m,
            sd,
            ci_low: half.map(|h| m - h),
            ci_high: half.map(|h| m + h),
        })
    }
}
