//! The figures of a policy's run: counts, hit rate, mean net bps, a bootstrap interval,
//! cumulative net and drawdown; and the calibration of a confidence.
//!
//! Returns are bps statistics, not money, so they are `f64` here; prices and returns per trade
//! stay `Decimal` up to this point.

use serde::Serialize;

/// One decision of a policy, scored at one horizon.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Scored {
    /// Index of the decision's symbol-day: the bootstrap resamples whole days, since the
    /// decisions of one symbol on one day share its moves.
    pub block: usize,
    pub traded: bool,
    pub filled: bool,
    /// Net bps of the decision: the trade's when filled, else 0 (holding earns nothing).
    pub net_bps: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub decisions: usize,
    pub trades: usize,
    pub fills: usize,
    /// Of filled trades, the share that paid net of costs.
    pub hit_rate: Option<f64>,
    pub mean_net_bps_per_trade: Option<f64>,
    pub mean_net_bps_per_decision: f64,
    /// Bootstrap 95% interval of the per-decision mean (symbol-days resampled).
    pub ci95: (f64, f64),
    pub cumulative_net_bps: f64,
    /// Largest fall of the cumulative net from a previous peak, bps (>= 0).
    pub max_drawdown_bps: f64,
}

/// A small deterministic generator (SplitMix64): the report must be reproducible from its seed.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`), by rejection so that no value is favoured.
    pub fn below(&mut self, n: usize) -> usize {
        let n = n.max(1) as u64;
        let zone = u64::MAX - (u64::MAX % n);
        loop {
            let v = self.next_u64();
            if v < zone {
                return (v % n) as usize;
            }
        }
    }
}

fn mean(xs: &[f64]) -> Option<f64> {
    (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
}

/// The `q` quantile of sorted values (linear interpolation).
fn quantile(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let pos = q * (sorted.len() - 1) as f64;
    let lo = pos.floor() as usize;
    let hi = pos.ceil() as usize;
    sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
}

/// Block bootstrap of the per-decision mean: resample blocks (symbol-days) with replacement.
pub fn bootstrap_ci(scores: &[Scored], resamples: usize, seed: u64) -> (f64, f64) {
    let mut blocks: Vec<(f64, usize)> = Vec::new();
    for s in scores {
        if blocks.len() <= s.block {
            blocks.resize(s.block + 1, (0.0, 0));
        }
        blocks[s.block].0 += s.net_bps;
        blocks[s.block].1 += 1;
    }
    blocks.retain(|b| b.1 > 0);
    if blocks.is_empty() {
        return (0.0, 0.0);
    }
    let mut rng = Rng::new(seed);
    let mut means = Vec::with_capacity(resamples);
    for _ in 0..resamples.max(1) {
        let (mut sum, mut n) = (0.0, 0usize);
        for _ in 0..blocks.len() {
            let b = blocks[rng.below(blocks.len())];
            sum += b.0;
            n += b.1;
        }
        means.push(sum / n.max(1) as f64);
    }
    means.sort_by(f64::total_cmp);
    (quantile(&means, 0.025), quantile(&means, 0.975))
}

/// The summary of a policy's decisions, in time order.
pub fn summarise(scores: &[Scored], resamples: usize, seed: u64) -> Summary {
    let trades = scores.iter().filter(|s| s.traded).count();
    let filled: Vec<f64> = scores
        .iter()
        .filter(|s| s.filled)
        .map(|s| s.net_bps)
        .collect();
    let per_decision: Vec<f64> = scores.iter().map(|s| s.net_bps).collect();
    let (mut cum, mut peak, mut dd) = (0.0f64, 0.0f64, 0.0f64);
    for x in &per_decision {
        cum += x;
        peak = peak.max(cum);
        dd = dd.max(peak - cum);
    }
    Summary {
        decisions: scores.len(),
        trades,
        fills: filled.len(),
        hit_rate: (!filled.is_empty())
            .then(|| filled.iter().filter(|x| **x > 0.0).count() as f64 / filled.len() as f64),
        mean_net_bps_per_trade: mean(&filled),
        mean_net_bps_per_decision: mean(&per_decision).unwrap_or(0.0),
        ci95: bootstrap_ci(scores, resamples, seed),
        cumulative_net_bps: cum,
        max_drawdown_bps: dd,
    }
}

/// One bucket of a calibration table.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CalibrationBucket {
    pub min_confidence: f64,
    pub max_confidence: f64,
    pub trades: usize,
    pub mean_confidence: f64,
    pub hit_rate: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CalibrationReport {
    pub buckets: Vec<CalibrationBucket>,
    pub trades: usize,
    /// Mean squared error of the confidence against the outcome (1 paid, 0 did not).
    pub brier: f64,
    /// The same for a constant forecast at `base_rate`.
    pub brier_constant: f64,
    pub base_rate: f64,
}

/// Buckets `(confidence, paid)` pairs into about `k` groups of equal count, ties kept together,
/// with the realised hit rate of each, and the Brier score against a constant `base_rate`.
pub fn calibration(pairs: &[(f64, bool)], k: usize, base_rate: f64) -> CalibrationReport {
    let mut sorted = pairs.to_vec();
    sorted.sort_by(|a, b| a.0.total_cmp(&b.0));
    let target = sorted.len().div_ceil(k.max(1)).max(1);
    let mut buckets = Vec::new();
    let mut start = 0;
    while start < sorted.len() {
        let mut end = (start + target).min(sorted.len());
        while end < sorted.len() && sorted[end].0 == sorted[end - 1].0 {
            end += 1;
        }
        let group = &sorted[start..end];
        buckets.push(CalibrationBucket {
            min_confidence: group[0].0,
            max_confidence: group[group.len() - 1].0,
            trades: group.len(),
            mean_confidence: group.iter().map(|p| p.0).sum::<f64>() / group.len() as f64,
            hit_rate: group.iter().filter(|p| p.1).count() as f64 / group.len() as f64,
        });
        start = end;
    }
    let outcome = |paid: bool| if paid { 1.0 } else { 0.0 };
    let n = sorted.len().max(1) as f64;
    CalibrationReport {
        trades: sorted.len(),
        brier: sorted
            .iter()
            .map(|(c, w)| (c - outcome(*w)).powi(2))
            .sum::<f64>()
            / n,
        brier_constant: sorted
            .iter()
            .map(|(_, w)| (base_rate - outcome(*w)).powi(2))
            .sum::<f64>()
            / n,
        base_rate,
        buckets,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(block: usize, net: f64, traded: bool) -> Scored {
        Scored {
            block,
            traded,
            filled: traded,
            net_bps: if traded { net } else { 0.0 },
        }
    }

    #[test]
    fn summary_counts_means_and_drawdown() {
        let scores = [
            s(0, 10.0, true),
            s(0, -30.0, true),
            s(1, 0.0, false),
            s(1, 5.0, true),
        ];
        let sum = summarise(&scores, 200, 7);
        assert_eq!((sum.decisions, sum.trades, sum.fills), (4, 3, 3));
        assert_eq!(sum.hit_rate, Some(2.0 / 3.0));
        assert_eq!(sum.mean_net_bps_per_trade, Some(-5.0));
        assert_eq!(sum.mean_net_bps_per_decision, -15.0 / 4.0);
        assert_eq!(sum.cumulative_net_bps, -15.0);
        assert_eq!(sum.max_drawdown_bps, 30.0);
        assert!(sum.ci95.0 <= sum.mean_net_bps_per_decision + 1e-9);
    }

    #[test]
    fn always_hold_has_a_zero_interval_and_the_bootstrap_is_reproducible() {
        let holds: Vec<Scored> = (0..50).map(|i| s(i % 5, 0.0, false)).collect();
        assert_eq!(summarise(&holds, 500, 1).ci95, (0.0, 0.0));
        let noisy: Vec<Scored> = (0..200)
            .map(|i| s(i % 20, (i % 7) as f64 - 3.0, true))
            .collect();
        let a = bootstrap_ci(&noisy, 500, 42);
        assert_eq!(a, bootstrap_ci(&noisy, 500, 42));
        assert!(a.0 < a.1);
    }

    #[test]
    fn a_perfect_forecast_beats_the_base_rate_and_ties_share_a_bucket() {
        let pairs: Vec<(f64, bool)> = (0..100)
            .map(|i| if i < 50 { (0.0, false) } else { (1.0, true) })
            .collect();
        let r = calibration(&pairs, 5, 0.5);
        assert_eq!(r.brier, 0.0);
        assert_eq!(r.brier_constant, 0.25);
        assert_eq!(r.buckets.len(), 2, "{r:?}");
    }

    #[test]
    fn rng_below_stays_in_range() {
        let mut r = Rng::new(3);
        assert!((0..1000).all(|_| r.below(7) < 7));
    }
}
