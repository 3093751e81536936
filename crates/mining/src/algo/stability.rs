//! Population stability: how far a population scored today has moved from the one a model
//! was trained on, per score band (PSI) and per characteristic's bins (CSI, the same
//! measure on a characteristic):
//!
//! PSI = Σᵢ (actualᵢ − expectedᵢ) · ln(actualᵢ / expectedᵢ) over the bins' shares, an empty
//! bin's share taken as 0.0001 so a bin that empties (or fills) counts heavily but finitely.
//! The usual reading, and the default thresholds: under 0.1 stable, 0.1 to 0.25 worth a
//! look, 0.25 and over a shift to act on (Siddiqi; Yurdakul 2018 derives them).

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use super::binning::{Rule, Slot};

/// Share of an empty bin in the PSI sum.
const EMPTY_SHARE: f64 = 1e-4;

/// PSI between the bin shares a model expected and the ones observed (same bins, same order).
pub fn psi(expected: &[f64], actual: &[f64]) -> f64 {
    expected
        .iter()
        .zip(actual)
        .map(|(&e, &a)| {
            let (e, a) = (e.max(EMPTY_SHARE), a.max(EMPTY_SHARE));
            (a - e) * (a / e).ln()
        })
        .sum()
}

/// Where a stability index stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Drift {
    /// Under the warning threshold.
    Stable,
    /// At or over the warning threshold.
    Warn,
    /// At or over the action threshold.
    Act,
}

impl Drift {
    /// Its name in tables and reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Stable => "stable",
            Self::Warn => "warn",
            Self::Act => "act",
        }
    }
}

/// The thresholds that turn an index into a [`Drift`].
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Thresholds {
    /// Warning threshold.
    pub warn: f64,
    /// Action threshold.
    pub act: f64,
}

impl Default for Thresholds {
    /// 0.1 and 0.25.
    fn default() -> Self {
        Self {
            warn: 0.1,
            act: 0.25,
        }
    }
}

impl Thresholds {
    /// The drift of an index.
    pub fn drift(&self, index: f64) -> Drift {
        if index >= self.act {
            Drift::Act
        } else if index >= self.warn {
            Drift::Warn
        } else {
            Drift::Stable
        }
    }
}

/// Cut points splitting `values` into `bands` bands of (about) equal size: the distinct
/// band boundaries, so ties never straddle a cut.
pub fn quantile_edges(values: &[f64], bands: usize) -> Vec<f64> {
    let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
    sorted.sort_by(f64::total_cmp);
    let mut edges: Vec<f64> = (1..bands)
        .filter_map(|k| sorted.get(k * sorted.len() / bands).copied())
        .collect();
    edges.dedup();
    // An edge at the smallest value would leave the first band empty.
    edges.retain(|e| sorted.first().is_some_and(|first| e > first));
    edges
}

/// The share of the rows of `x` in each bin of `rule`, then missing, then unseen categories.
pub fn shares(rule: &Rule, x: ArrayView2<'_, f64>) -> Vec<f64> {
    let bins = rule.bins();
    let mut counts = vec![0.0; bins + 2];
    for row in x.rows() {
        counts[match rule.slot(row) {
            Slot::Bin(k) => k,
            Slot::Missing => bins,
            Slot::Unseen => bins + 1,
        }] += 1.0;
    }
    let n = x.nrows().max(1) as f64;
    counts.iter().map(|c| c / n).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn psi_by_hand() {
        let e = [0.5, 0.5];
        let a = [0.6, 0.4];
        let by_hand = 0.1 * (0.6f64 / 0.5).ln() + (-0.1) * (0.4f64 / 0.5).ln();
        assert!((psi(&e, &a) - by_hand).abs() < 1e-12);
        assert_eq!(psi(&e, &e), 0.0);
        assert!(
            psi(&[1.0, 0.0], &[0.5, 0.5]) > 1.0,
            "a bin that fills counts heavily"
        );
        let t = Thresholds::default();
        assert_eq!(t.drift(0.05), Drift::Stable);
        assert_eq!(t.drift(0.1), Drift::Warn);
        assert_eq!(t.drift(0.3), Drift::Act);
    }

    #[test]
    fn bands_of_equal_size_and_shares_that_sum_to_one() {
        let values: Vec<f64> = (0..1000).map(f64::from).collect();
        let edges = quantile_edges(&values, 10);
        assert_eq!(edges.len(), 9);
        assert_eq!(edges[0], 100.0);
        let x = Array2::from_shape_fn((1000, 1), |(r, _)| if r < 10 { f64::NAN } else { r as f64 });
        let s = shares(&Rule::Numeric { column: 0, edges }, x.view());
        assert_eq!(s.len(), 12);
        assert!((s.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert_eq!(s[10], 0.01, "missing");
        assert_eq!(
            quantile_edges(&[3.0; 50], 10),
            Vec::<f64>::new(),
            "one value, one band"
        );
    }
}
