//! Technical indicators over closing prices, in exact decimals.
//!
//! Textbook definitions (EMA seeded with the first value, Wilder's RSI), kept free of any data
//! source so tests can check them against an independent computation.

use rust_decimal::{Decimal, MathematicalOps};

/// Exponential moving average series with smoothing `2 / (period + 1)`, seeded with the first
/// value. Same length as the input.
pub fn ema(values: &[Decimal], period: u32) -> Vec<Decimal> {
    let alpha = Decimal::TWO / Decimal::from(period + 1);
    let mut out = Vec::with_capacity(values.len());
    let mut prev: Option<Decimal> = None;
    for v in values {
        let next = match prev {
            None => *v,
            Some(p) => p + alpha * (*v - p),
        };
        out.push(next);
        prev = Some(next);
    }
    out
}

/// MACD (12, 26, 9): returns (macd, signal, histogram) at the last value.
pub fn macd(closes: &[Decimal]) -> Option<(Decimal, Decimal, Decimal)> {
    if closes.len() < 35 {
        return None;
    }
    let fast = ema(closes, 12);
    let slow = ema(closes, 26);
    let line: Vec<Decimal> = fast.iter().zip(&slow).map(|(f, s)| f - s).collect();
    let signal = ema(&line, 9);
    let m = *line.last()?;
    let s = *signal.last()?;
    Some((m, s, m - s))
}

/// Wilder's RSI over `period`, at the last value.
pub fn rsi(closes: &[Decimal], period: usize) -> Option<Decimal> {
    if period == 0 || closes.len() <= period {
        return None;
    }
    let n = Decimal::from(period as u64);
    let changes: Vec<Decimal> = closes.windows(2).map(|w| w[1] - w[0]).collect();
    let (mut gain, mut loss) =
        changes[..period]
            .iter()
            .fold((Decimal::ZERO, Decimal::ZERO), |(g, l), c| {
                if *c > Decimal::ZERO {
                    (g + c, l)
                } else {
                    (g, l - c)
                }
            });
    gain /= n;
    loss /= n;
    for c in &changes[period..] {
        let (g, l) = if *c > Decimal::ZERO {
            (*c, Decimal::ZERO)
        } else {
            (Decimal::ZERO, -*c)
        };
        gain = (gain * (n - Decimal::ONE) + g) / n;
        loss = (loss * (n - Decimal::ONE) + l) / n;
    }
    if loss.is_zero() {
        return Some(Decimal::ONE_HUNDRED);
    }
    let rs = gain / loss;
    Some(Decimal::ONE_HUNDRED - Decimal::ONE_HUNDRED / (Decimal::ONE + rs))
}

/// Simple returns between consecutive closes.
pub fn returns(closes: &[Decimal]) -> Vec<Decimal> {
    closes
        .windows(2)
        .filter(|w| !w[0].is_zero())
        .map(|w| w[1] / w[0] - Decimal::ONE)
        .collect()
}

/// Sample standard deviation of per-period returns, annualised by `periods_per_year`.
pub fn realized_vol(closes: &[Decimal], periods_per_year: u32) -> Option<Decimal> {
    let r = returns(closes);
    if r.len() < 2 {
        return None;
    }
    let n = Decimal::from(r.len() as u64);
    let mean = r.iter().sum::<Decimal>() / n;
    let var = r.iter().map(|x| (x - mean) * (x - mean)).sum::<Decimal>() / (n - Decimal::ONE);
    (var * Decimal::from(periods_per_year)).sqrt()
}

pub fn mean(values: &[Decimal]) -> Option<Decimal> {
    (!values.is_empty())
        .then(|| values.iter().sum::<Decimal>() / Decimal::from(values.len() as u64))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rust_decimal_macros::dec;

    /// Independent f64 reference implementations, written the naive way.
    fn ref_ema(v: &[f64], p: u32) -> Vec<f64> {
        let a = 2.0 / (p as f64 + 1.0);
        let mut out = vec![v[0]];
        for x in &v[1..] {
            let prev = *out.last().expect("seeded");
            out.push(prev * (1.0 - a) + x * a);
        }
        out
    }

    fn ref_rsi(v: &[f64], p: usize) -> f64 {
        let d: Vec<f64> = v.windows(2).map(|w| w[1] - w[0]).collect();
        let mut g = d[..p].iter().map(|x| x.max(0.0)).sum::<f64>() / p as f64;
        let mut l = d[..p].iter().map(|x| (-x).max(0.0)).sum::<f64>() / p as f64;
        for x in &d[p..] {
            g = (g * (p as f64 - 1.0) + x.max(0.0)) / p as f64;
            l = (l * (p as f64 - 1.0) + (-x).max(0.0)) / p as f64;
        }
        100.0 - 100.0 / (1.0 + g / l)
    }

    fn series() -> Vec<Decimal> {
        // A deterministic zig-zag with drift, 60 points.
        (0..60)
            .map(|i| {
                dec!(100)
                    + Decimal::from(i) * dec!(0.05)
                    + if i % 3 == 0 { dec!(0.4) } else { dec!(-0.1) }
            })
            .collect()
    }

    fn f(v: &[Decimal]) -> Vec<f64> {
        v.iter()
            .map(|d| d.to_string().parse::<f64>().expect("decimal text"))
            .collect()
    }

    fn close_to(a: Decimal, b: f64) -> bool {
        (a.to_string().parse::<f64>().expect("decimal") - b).abs() < 1e-9
    }

    #[test]
    fn ema_macd_and_rsi_match_a_naive_reference() {
        let s = series();
        let fs = f(&s);
        let e = ema(&s, 12);
        let re = ref_ema(&fs, 12);
        assert!(e.iter().zip(&re).all(|(a, b)| close_to(*a, *b)));
        let (m, sig, _) = macd(&s).expect("enough data");
        let line: Vec<f64> = ref_ema(&fs, 12)
            .iter()
            .zip(ref_ema(&fs, 26))
            .map(|(a, b)| a - b)
            .collect();
        assert!(close_to(m, *line.last().expect("non-empty")));
        assert!(close_to(sig, *ref_ema(&line, 9).last().expect("non-empty")));
        assert!(close_to(rsi(&s, 14).expect("enough"), ref_rsi(&fs, 14)));
    }

    #[test]
    fn rsi_of_a_rising_series_is_one_hundred() {
        let up: Vec<Decimal> = (0..20).map(Decimal::from).collect();
        assert_eq!(rsi(&up, 14), Some(Decimal::ONE_HUNDRED));
        assert_eq!(rsi(&up[..10], 14), None);
    }

    #[test]
    fn realized_vol_of_a_constant_series_is_zero() {
        let flat = vec![dec!(10); 30];
        assert_eq!(realized_vol(&flat, 252), Some(Decimal::ZERO));
    }
}
