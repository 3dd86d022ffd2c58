//! Small statistics: percentiles, time-weighted means, and the Student-t 95 %
//! confidence interval used across seeds.

/// The p-quantile (0 < p ≤ 1) of `sorted` by the nearest-rank method: the
/// ⌈p·n⌉-th smallest value. `None` for an empty slice.
pub fn percentile_sorted(sorted: &[f64], p: f64) -> Option<f64> {
    let rank = nearest_rank(p, sorted.len() as u64)?;
    Some(sorted[rank as usize - 1])
}

/// The nearest rank of the p-quantile among `n` values: ⌈p·n⌉, at least 1 and at
/// most `n` (1-based). `None` when `n` is 0.
pub fn nearest_rank(p: f64, n: u64) -> Option<u64> {
    (n > 0).then(|| ((p * n as f64).ceil() as u64).clamp(1, n))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64, eps: f64) -> bool {
        (a - b).abs() <= eps
    }

    /// Worked example: 10, 12, 9, 11, 13. Mean 11; squared deviations 1+1+4+0+4 =
    /// 10, variance 10/4 = 2.5, sd 1.58114; standard error sd/√5 = 0.707107;
    /// t_{0.975,4} = 2.776 (textbook table), half-width 1.9630; CI [9.037, 12.963].
    #[test]
    fn confidence_interval_worked_example() {
        let iv = Interval::of(&[10.0, 12.0, 9.0, 11.0, 13.0]).unwrap();
        assert_eq!(iv.n, 5);
        assert!(close(iv.mean, 11.0, 1e-12));
        assert!(close(iv.sd.unwrap(), 2.5f64.sqrt(), 1e-12));
        assert!(close(iv.ci_low.unwrap(), 9.037, 1e-3), "{iv:?}");
        assert!(close(iv.ci_high.unwrap(), 12.963, 1e-3), "{iv:?}");
        // Exactly mean ± t·sd/√n with the 4-decimal table value.
        let half = 2.7764 * 2.5f64.sqrt() / 5f64.sqrt();
        assert!(close(iv.ci_high.unwrap() - iv.mean, half, 1e-12));
    }

    #[test]
    fn single_value_has_no_interval() {
        let iv = Interval::of(&[3.0]).unwrap();
        assert_eq!((iv.n, iv.mean, iv.sd, iv.ci_low), (1, 3.0, None, None));
        assert!(Interval::of(&[]).is_none());
    }

    /// Against published quantiles (R `qt(0.975, df)`): the table, the switch to
    /// the Cornish–Fisher expansion after df = 30, and the normal limit.
    #[test]
    fn t_quantiles() {
        assert_eq!(t_975(4), 2.7764);
        assert_eq!(t_975(30), 2.0423);
        for (df, expected) in [
            (31, 2.039513),
            (40, 2.021075),
            (60, 2.000298),
            (120, 1.979930),
            (1000, 1.962339),
        ] {
            assert!(close(t_975(df), expected, 1e-4), "df {df}: {}", t_975(df));
        }
    }

    #[test]
    fn nearest_rank_percentiles() {
        let xs: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(percentile_sorted(&xs, 0.5), Some(5.0));
        assert_eq!(percentile_sorted(&xs, 0.9), Some(9.0));
        assert_eq!(percentile_sorted(&xs, 0.99), Some(10.0));
        assert_eq!(percentile_sorted(&[7.0], 0.5), Some(7.0));
        assert_eq!(percentile_sorted(&[], 0.5), None);
        // Ranks: ⌈p·n⌉, clamped to 1..=n.
        assert_eq!(nearest_rank(0.5, 10), Some(5));
        assert_eq!(nearest_rank(0.51, 10), Some(6));
        assert_eq!(nearest_rank(0.0, 10), Some(1));
        assert_eq!(nearest_rank(1.0, 10), Some(10));
        assert_eq!(nearest_rank(0.99, 1), Some(1));
        assert_eq!(nearest_rank(0.5, 0), None);
    }

    /// 0 for 10 s, 10 for 10 s, 0 for 10 s: mean 100 / 30.
    #[test]
    fn step_function_mean() {
        let m = time_weighted_mean(&[(0.0, 0.0), (10.0, 10.0), (20.0, 0.0)], 30.0).unwrap();
        assert!(close(m, 100.0 / 30.0, 1e-12));
        assert_eq!(time_weighted_mean(&[(5.0, 1.0)], 5.0), None);
    }
}
