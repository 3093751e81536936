//! Binary classification measures used in credit scoring and churn: ROC AUC, Gini, KS,
//! the confusion matrix at a cut-off, the cut-off of least expected cost, and the lift /
//! gains table by score decile. `scores` are predicted probabilities of the positive class
//! (bad loan, churner); `labels` are true for positives.

use serde::{Deserialize, Serialize};

/// Area under the ROC curve: the chance a random positive scores above a random negative,
/// ties counting half (the Mann–Whitney statistic with average ranks, as scikit-learn's
/// `roc_auc_score`). `None` when one class is absent.
pub fn auc(scores: &[f64], labels: &[bool]) -> Option<f64> {
    let positives = labels.iter().filter(|l| **l).count();
    let negatives = labels.len() - positives;
    if positives == 0 || negatives == 0 {
        return None;
    }
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[a].total_cmp(&scores[b]));
    let mut rank_sum = 0.0;
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && scores[order[j + 1]] == scores[order[i]] {
            j += 1;
        }
        let average_rank = (i + j) as f64 / 2.0 + 1.0;
        rank_sum += average_rank * order[i..=j].iter().filter(|&&r| labels[r]).count() as f64;
        i = j + 1;
    }
    let p = positives as f64;
    Some((rank_sum - p * (p + 1.0) / 2.0) / (p * negatives as f64))
}

/// Counts at each distinct score, highest first: the score and the positives and negatives
/// scoring at or above it (what flagging from that score down would catch).
pub fn thresholds(scores: &[f64], labels: &[bool]) -> Vec<(f64, f64, f64)> {
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let (mut tp, mut fp) = (0.0, 0.0);
    let mut out = Vec::new();
    for (k, &r) in order.iter().enumerate() {
        if labels[r] {
            tp += 1.0;
        } else {
            fp += 1.0;
        }
        if order.get(k + 1).is_none_or(|&n| scores[n] != scores[r]) {
            out.push((scores[r], tp, fp));
        }
    }
    out
}

/// The ROC curve: (false positive rate, true positive rate) from (0, 0) through every
/// distinct score.
pub fn roc_curve(scores: &[f64], labels: &[bool]) -> Vec<(f64, f64)> {
    let positives = labels.iter().filter(|l| **l).count().max(1) as f64;
    let negatives = (labels.len() as f64 - positives).max(1.0);
    std::iter::once((0.0, 0.0))
        .chain(
            thresholds(scores, labels)
                .into_iter()
                .map(|(_, tp, fp)| (fp / negatives, tp / positives)),
        )
        .collect()
}

/// The cumulative gains curve: (share of rows flagged, share of positives caught) from
/// (0, 0) through every distinct score.
pub fn gains_curve(scores: &[f64], labels: &[bool]) -> Vec<(f64, f64)> {
    let positives = labels.iter().filter(|l| **l).count().max(1) as f64;
    let n = labels.len().max(1) as f64;
    std::iter::once((0.0, 0.0))
        .chain(
            thresholds(scores, labels)
                .into_iter()
                .map(|(_, tp, fp)| ((tp + fp) / n, tp / positives)),
        )
        .collect()
}

/// Kolmogorov–Smirnov statistic: the largest gap between the score distributions of
/// positives and negatives (0 = no separation, 1 = perfect).
pub fn ks(scores: &[f64], labels: &[bool]) -> f64 {
    let positives = labels.iter().filter(|l| **l).count() as f64;
    let negatives = labels.len() as f64 - positives;
    if positives == 0.0 || negatives == 0.0 {
        return 0.0;
    }
    thresholds(scores, labels)
        .into_iter()
        .map(|(_, tp, fp)| (tp / positives - fp / negatives).abs())
        .fold(0.0, f64::max)
}

/// Counts at a cut-off: predicted positive when the score is at or above it.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Confusion {
    /// Positives predicted positive.
    pub true_positive: usize,
    /// Negatives predicted positive.
    pub false_positive: usize,
    /// Negatives predicted negative.
    pub true_negative: usize,
    /// Positives predicted negative.
    pub false_negative: usize,
}

impl Confusion {
    /// The counts of `scores` against `labels` at `cutoff`.
    pub fn at(scores: &[f64], labels: &[bool], cutoff: f64) -> Self {
        let mut c = Self {
            true_positive: 0,
            false_positive: 0,
            true_negative: 0,
            false_negative: 0,
        };
        for (&s, &l) in scores.iter().zip(labels) {
            match (s >= cutoff, l) {
                (true, true) => c.true_positive += 1,
                (true, false) => c.false_positive += 1,
                (false, false) => c.true_negative += 1,
                (false, true) => c.false_negative += 1,
            }
        }
        c
    }

    /// Share of all rows predicted right.
    pub fn accuracy(&self) -> f64 {
        let all =
            self.true_positive + self.false_positive + self.true_negative + self.false_negative;
        ratio(self.true_positive + self.true_negative, all)
    }

    /// Share of predicted positives that are positive.
    pub fn precision(&self) -> f64 {
        ratio(self.true_positive, self.true_positive + self.false_positive)
    }

    /// Share of positives predicted positive.
    pub fn recall(&self) -> f64 {
        ratio(self.true_positive, self.true_positive + self.false_negative)
    }
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

/// The cut-off with the least expected cost when a missed positive (a bad loan granted, a
/// churner not contacted) costs `cost_false_negative` and a false alarm (a good customer
/// refused, a loyal customer contacted) costs `cost_false_positive`; candidates are the
/// distinct scores (and "flag nobody"). Returns the cut-off and its total cost on the data.
pub fn cheapest_cutoff(
    scores: &[f64],
    labels: &[bool],
    cost_false_negative: f64,
    cost_false_positive: f64,
) -> (f64, f64) {
    let positives = labels.iter().filter(|l| **l).count() as f64;
    // Flag nobody: every positive is missed.
    let nobody = (f64::INFINITY, positives * cost_false_negative);
    let best = thresholds(scores, labels)
        .into_iter()
        .map(|(score, tp, fp)| {
            (
                score,
                (positives - tp) * cost_false_negative + fp * cost_false_positive,
            )
        })
        .fold(nobody, |best, c| if c.1 < best.1 { c } else { best });
    (
        if best.0.is_finite() {
            best.0
        } else {
            1.0 + f64::EPSILON
        },
        best.1,
    )
}

/// One row of a lift / gains table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decile {
    /// 1 = highest scores.
    pub decile: usize,
    /// Rows in the decile.
    pub rows: usize,
    /// Positives in it.
    pub positives: usize,
    /// Its positive rate.
    pub rate: f64,
    /// Its rate over the overall rate.
    pub lift: f64,
    /// Share of all positives in this and the higher deciles (the gains curve).
    pub cumulative_capture: f64,
    /// Cumulative rate over the overall rate.
    pub cumulative_lift: f64,
}

/// Rows sorted by descending score cut into `bins` near-equal groups (rows with equal
/// scores may fall on either side of a boundary, in input order).
pub fn gains(scores: &[f64], labels: &[bool], bins: usize) -> Vec<Decile> {
    let n = scores.len();
    let positives = labels.iter().filter(|l| **l).count();
    if n == 0 || bins == 0 {
        return Vec::new();
    }
    let overall = positives as f64 / n as f64;
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]));
    let mut out = Vec::new();
    let (mut seen, mut seen_positive) = (0, 0);
    for d in 0..bins.min(n) {
        let (lo, hi) = (d * n / bins.min(n), (d + 1) * n / bins.min(n));
        let hits = order[lo..hi].iter().filter(|&&r| labels[r]).count();
        seen += hi - lo;
        seen_positive += hits;
        let rate = hits as f64 / (hi - lo) as f64;
        let lift = |r: f64| if overall > 0.0 { r / overall } else { 0.0 };
        out.push(Decile {
            decile: d + 1,
            rows: hi - lo,
            positives: hits,
            rate,
            lift: lift(rate),
            cumulative_capture: ratio(seen_positive, positives),
            cumulative_lift: lift(seen_positive as f64 / seen as f64),
        });
    }
    out
}

/// The measures of a model on one data set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Rows scored.
    pub rows: usize,
    /// Positives among them.
    pub positives: usize,
    /// ROC AUC (`None` with one class only).
    pub auc: Option<f64>,
    /// Gini = 2·AUC − 1.
    pub gini: Option<f64>,
    /// KS statistic.
    pub ks: f64,
    /// Cut-off used for the confusion matrix.
    pub cutoff: f64,
    /// Counts at the cut-off.
    pub confusion: Confusion,
    /// Total cost at the cut-off with the model's costs.
    pub cost: f64,
    /// Lift / gains by decile.
    pub gains: Vec<Decile>,
}

impl Evaluation {
    /// Every measure of `scores` against `labels` at `cutoff`, costing errors as given.
    pub fn new(
        scores: &[f64],
        labels: &[bool],
        cutoff: f64,
        cost_false_negative: f64,
        cost_false_positive: f64,
    ) -> Self {
        let auc = auc(scores, labels);
        let confusion = Confusion::at(scores, labels, cutoff);
        Self {
            rows: scores.len(),
            positives: labels.iter().filter(|l| **l).count(),
            auc,
            gini: auc.map(|a| 2.0 * a - 1.0),
            ks: ks(scores, labels),
            cutoff,
            confusion,
            cost: confusion.false_negative as f64 * cost_false_negative
                + confusion.false_positive as f64 * cost_false_positive,
            gains: gains(scores, labels, 10),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auc_matches_known_values_with_ties() {
        // scikit-learn's roc_auc_score([0,0,1,1],[0.1,0.4,0.35,0.8]) = 0.75.
        assert_eq!(
            auc(&[0.1, 0.4, 0.35, 0.8], &[false, false, true, true]),
            Some(0.75)
        );
        // All tied: 0.5.
        assert_eq!(auc(&[0.3; 4], &[false, true, false, true]), Some(0.5));
        assert_eq!(auc(&[0.3, 0.4], &[true, true]), None);
    }

    #[test]
    fn ks_confusion_cutoff_and_gains() {
        let scores = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05];
        let labels = [
            true, true, false, true, false, false, false, false, false, false,
        ];
        // After 4 rows: 3/3 positives, 1/7 negatives → 0.857.
        assert!((ks(&scores, &labels) - 6.0 / 7.0).abs() < 1e-12);
        let c = Confusion::at(&scores, &labels, 0.6);
        assert_eq!(
            (
                c.true_positive,
                c.false_positive,
                c.true_negative,
                c.false_negative
            ),
            (3, 1, 6, 0)
        );
        assert_eq!(c.recall(), 1.0);
        // Missing a positive costs 5, a false alarm 1: flag the top 4 (cost 1).
        assert_eq!(cheapest_cutoff(&scores, &labels, 5.0, 1.0), (0.6, 1.0));
        // False alarms dearer than misses: flag the top 2 only (cost 1 miss = 1).
        assert_eq!(cheapest_cutoff(&scores, &labels, 1.0, 5.0), (0.8, 1.0));
        let g = gains(&scores, &labels, 5);
        assert_eq!(g[0].positives, 2);
        assert!((g[0].lift - 1.0 / 0.3).abs() < 1e-12);
        assert_eq!(g[1].cumulative_capture, 1.0);
        assert_eq!(g.len(), 5);
        let roc = roc_curve(&[0.9, 0.8, 0.3, 0.1], &[true, true, false, false]);
        assert_eq!(
            roc,
            vec![(0.0, 0.0), (0.0, 0.5), (0.0, 1.0), (0.5, 1.0), (1.0, 1.0)]
        );
        let gains = gains_curve(&[0.9, 0.5, 0.5, 0.1], &[true, false, true, false]);
        assert_eq!(
            gains,
            vec![(0.0, 0.0), (0.25, 0.5), (0.75, 1.0), (1.0, 1.0)]
        );
    }
}
