//! Binning of one characteristic for a credit scorecard and for stability monitoring: the
//! rule that sends a value to a bin (cut points of a number, groups of categories, a bin
//! for missing values), the weighted count of rows and of positives (bads) per bin, and
//! their weight of evidence and information value (Siddiqi, *Credit Risk Scorecards*):
//!
//! - WoEᵢ = ln(%goodᵢ / %badᵢ): positive where a bin is safer than the average.
//! - IVᵢ = (%goodᵢ − %badᵢ) · WoEᵢ, and the characteristic's IV is their sum.
//!
//! A bin holding goods only or bads only has no finite WoE: it counts as neutral (WoE 0,
//! IV 0), as a missing bin without rows does. [`optimal`] finds the bins.
//!
//! Values come from a feature matrix: a number is one column (NaN = missing); a text
//! characteristic is one 0/1 column per category (none set = a category not seen in
//! training, which is scored as neutral).

pub mod optimal;

use ndarray::ArrayView1;
use serde::{Deserialize, Serialize};

/// Where one characteristic's values are in a feature matrix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Source {
    /// A number (or a yes/no as 0/1) in `column`; NaN is missing.
    Numeric {
        /// Matrix column.
        column: usize,
    },
    /// Categories one-hot in columns `first ..first + categories`.
    Categorical {
        /// First matrix column.
        first: usize,
        /// Number of categories (columns).
        categories: usize,
        /// The category that stands for a missing value, if training had one.
        missing: Option<usize>,
    },
}

/// How values go to bins.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Rule {
    /// Bin k holds the numbers in [edges[k−1], edges[k]) (the first from −∞, the last to +∞).
    Numeric {
        /// Matrix column.
        column: usize,
        /// Ascending cut points: `edges.len() + 1` bins.
        edges: Vec<f64>,
    },
    /// Category c goes to bin `groups[c]`, the category `missing` to the missing bin.
    Categorical {
        /// First matrix column.
        first: usize,
        /// Bin of each category (ignored for `missing`).
        groups: Vec<usize>,
        /// The category standing for a missing value, if any.
        missing: Option<usize>,
    },
}

/// Where one value went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Slot {
    /// A regular bin.
    Bin(usize),
    /// The missing-value bin.
    Missing,
    /// A category training never saw: scored as neutral, counted nowhere.
    Unseen,
}

impl Rule {
    /// The regular bins of this rule (the missing bin not counted).
    pub fn bins(&self) -> usize {
        match self {
            Self::Numeric { edges, .. } => edges.len() + 1,
            Self::Categorical {
                groups, missing, ..
            } => (0..groups.len())
                .filter(|c| Some(*c) != *missing)
                .map(|c| groups[c] + 1)
                .max()
                .unwrap_or(0),
        }
    }

    /// The slot of one matrix row.
    pub fn slot(&self, row: ArrayView1<'_, f64>) -> Slot {
        match self {
            Self::Numeric { column, edges } => {
                let v = row[*column];
                if v.is_nan() {
                    Slot::Missing
                } else {
                    Slot::Bin(edges.partition_point(|e| *e <= v))
                }
            }
            Self::Categorical {
                first,
                groups,
                missing,
            } => match (0..groups.len()).find(|c| row[first + c] > 0.5) {
                Some(c) if Some(c) == *missing => Slot::Missing,
                Some(c) => Slot::Bin(groups[c]),
                None => Slot::Unseen,
            },
        }
    }
}

/// Weighted rows and positives of one bin, with its WoE and IV.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Bin {
    /// Σ weight of its rows.
    pub rows: f64,
    /// Σ weight of its positive (bad) rows.
    pub positives: f64,
    /// Weight of evidence ln(%good / %bad) (0 where undefined).
    pub woe: f64,
    /// Its share of the information value.
    pub iv: f64,
}

/// A characteristic's bins as fitted: the rule and, per regular bin then the missing bin,
/// the training counts with WoE and IV.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Binning {
    /// How values go to bins.
    pub rule: Rule,
    /// Regular bins in rule order, then the missing bin (last).
    pub bins: Vec<Bin>,
}

impl Binning {
    /// Counts the rows of `x` (labels `y`, weights `w`) into the bins of `rule`, with WoE
    /// and IV against the totals of these rows.
    pub fn count(rule: Rule, x: ndarray::ArrayView2<'_, f64>, y: &[bool], w: &[f64]) -> Self {
        let mut bins = vec![Bin::default(); rule.bins() + 1];
        let missing = bins.len() - 1;
        for (r, row) in x.rows().into_iter().enumerate() {
            let k = match rule.slot(row) {
                Slot::Bin(k) => k,
                Slot::Missing => missing,
                Slot::Unseen => continue,
            };
            bins[k].rows += w[r];
            if y[r] {
                bins[k].positives += w[r];
            }
        }
        with_evidence(&mut bins);
        Self { rule, bins }
    }

    /// The information value: Σ IV of the bins.
    pub fn iv(&self) -> f64 {
        self.bins.iter().map(|b| b.iv).sum()
    }

    /// Each bin's share of the rows (regular bins, then missing).
    pub fn shares(&self) -> Vec<f64> {
        let total: f64 = self.bins.iter().map(|b| b.rows).sum();
        self.bins
            .iter()
            .map(|b| if total > 0.0 { b.rows / total } else { 0.0 })
            .collect()
    }

    /// The bin index of a slot (`None` for an unseen category).
    pub fn index(&self, slot: Slot) -> Option<usize> {
        match slot {
            Slot::Bin(k) => Some(k),
            Slot::Missing => Some(self.bins.len() - 1),
            Slot::Unseen => None,
        }
    }

    /// The WoE of a matrix row's value (0 for an unseen category).
    pub fn woe(&self, row: ArrayView1<'_, f64>) -> f64 {
        self.index(self.rule.slot(row))
            .map_or(0.0, |k| self.bins[k].woe)
    }
}

/// Fills in WoE and IV of `bins` against their totals.
pub fn with_evidence(bins: &mut [Bin]) {
    let positives: f64 = bins.iter().map(|b| b.positives).sum();
    let negatives: f64 = bins.iter().map(|b| b.rows - b.positives).sum();
    for b in bins {
        let (woe, iv) = evidence(b.rows - b.positives, b.positives, negatives, positives);
        b.woe = woe;
        b.iv = iv;
    }
}

/// (WoE, IV) of a bin of `good` and `bad` weight out of `goods` and `bads`: (0, 0) unless
/// both are present.
pub fn evidence(good: f64, bad: f64, goods: f64, bads: f64) -> (f64, f64) {
    if good <= 0.0 || bad <= 0.0 || goods <= 0.0 || bads <= 0.0 {
        return (0.0, 0.0);
    }
    let (g, b) = (good / goods, bad / bads);
    let woe = (g / b).ln();
    (woe, (g - b) * woe)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::array;

    #[test]
    fn woe_and_iv_by_hand() {
        // 2 bins: (80 good, 20 bad) and (20 good, 30 bad); totals 100 good, 50 bad.
        let (woe, iv) = evidence(80.0, 20.0, 100.0, 50.0);
        assert!((woe - (0.8f64 / 0.4).ln()).abs() < 1e-12);
        assert!((iv - 0.4 * (2.0f64).ln()).abs() < 1e-12);
        assert_eq!(
            evidence(10.0, 0.0, 100.0, 50.0),
            (0.0, 0.0),
            "pure bin is neutral"
        );
    }

    #[test]
    fn rules_send_values_to_their_bins() {
        let numeric = Rule::Numeric {
            column: 0,
            edges: vec![10.0, 20.0],
        };
        let slot = |rule: &Rule, row: [f64; 3]| rule.slot(array![row[0], row[1], row[2]].view());
        assert_eq!(slot(&numeric, [5.0, 0.0, 0.0]), Slot::Bin(0));
        assert_eq!(
            slot(&numeric, [10.0, 0.0, 0.0]),
            Slot::Bin(1),
            "an edge opens its bin"
        );
        assert_eq!(slot(&numeric, [25.0, 0.0, 0.0]), Slot::Bin(2));
        assert_eq!(slot(&numeric, [f64::NAN, 0.0, 0.0]), Slot::Missing);
        let categorical = Rule::Categorical {
            first: 1,
            groups: vec![1, 0],
            missing: Some(1),
        };
        assert_eq!(slot(&categorical, [0.0, 1.0, 0.0]), Slot::Bin(1));
        assert_eq!(slot(&categorical, [0.0, 0.0, 1.0]), Slot::Missing);
        assert_eq!(slot(&categorical, [0.0, 0.0, 0.0]), Slot::Unseen);
        assert_eq!(categorical.bins(), 2);
    }

    #[test]
    fn counts_weigh_rows_and_keep_missing_last() {
        let x = array![[1.0], [1.0], [5.0], [f64::NAN]];
        let y = [true, false, false, true];
        let w = [2.0, 1.0, 1.0, 1.0];
        let b = Binning::count(
            Rule::Numeric {
                column: 0,
                edges: vec![3.0],
            },
            x.view(),
            &y,
            &w,
        );
        assert_eq!(b.bins.len(), 3);
        assert_eq!((b.bins[0].rows, b.bins[0].positives), (3.0, 2.0));
        assert_eq!((b.bins[2].rows, b.bins[2].positives), (1.0, 1.0));
        assert_eq!(b.shares(), vec![0.6, 0.2, 0.2]);
        assert_eq!(b.bins[1].woe, 0.0, "goods only: neutral");
    }
}
