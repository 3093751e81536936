//! Optimal binning of one characteristic, as optbinning does it (Navas-Palencia 2020,
//! "Optimal binning: mathematical programming formulation"), with an exact dynamic program
//! where optbinning calls a constraint solver:
//!
//! 1. **Pre-bins.** Numbers: a best-first CART on the one feature (Gini), leaves of at least
//!    `min_prebin_share` of the non-missing rows, at most `max_prebins` of them, cut at the
//!    midpoints between distinct values — optbinning's default pre-binning. Categories: each
//!    its own pre-bin, ordered by bad rate.
//! 2. **Merging.** Adjacent pre-bins are merged into the bins of greatest total information
//!    value such that each bin holds at least `min_bin_share` of all rows and both goods and
//!    bads, there are at most `max_bins`, and the bad rate rises (or falls) from bin to bin
//!    as `trend` asks. Information value adds up over bins, so the best binning of the first
//!    j pre-bins ending in bin [i, j) extends the best one ending at i: O(bins · pre-bins³)
//!    with at most a few dozen pre-bins. A contiguous grouping of categories ordered by bad
//!    rate is monotone by construction.
//! 3. Missing values form their own bin; a category that stood for missing in the encoding
//!    goes there too.

use ndarray::ArrayView2;
use serde::{Deserialize, Serialize};

use super::{Binning, Rule, Source, evidence};
use crate::algo::{Error, ParamGuard, Result};

/// How the bad rate may move across the bins of a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Trend {
    /// Ascending or descending, whichever keeps more information value.
    Auto,
    /// Rising with the value.
    Ascending,
    /// Falling with the value.
    Descending,
    /// Any shape.
    Free,
}

impl std::str::FromStr for Trend {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "auto" => Ok(Self::Auto),
            "ascending" => Ok(Self::Ascending),
            "descending" => Ok(Self::Descending),
            "none" | "free" => Ok(Self::Free),
            _ => Err(Error::Trend(s.into())),
        }
    }
}

/// Checked binning parameters (see [`BinningParams`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BinningValidParams {
    max_prebins: usize,
    min_prebin_share: f64,
    min_bin_share: f64,
    max_bins: usize,
    trend: Trend,
}

impl Default for BinningValidParams {
    /// optbinning's pre-binning (≤ 20 pre-bins of ≥ 5%), bins of ≥ 5% of the rows, at most
    /// 255 of them (no limit in practice), a monotone bad rate in the better direction.
    fn default() -> Self {
        Self {
            max_prebins: 20,
            min_prebin_share: 0.05,
            min_bin_share: 0.05,
            max_bins: 255,
            trend: Trend::Auto,
        }
    }
}

/// Binning parameters, unchecked: `BinningParams::new().max_bins(6)`, then
/// [`ParamGuard::check`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct BinningParams(BinningValidParams);

impl BinningParams {
    /// The defaults of [`BinningValidParams::default`].
    pub fn new() -> Self {
        Self::default()
    }
}

params! {
    BinningParams => BinningValidParams, validate: validate_binning,
    /// Most pre-bins of a number.
    max_prebins: usize,
    /// Least share of the non-missing rows in a pre-bin.
    min_prebin_share: f64,
    /// Least share of all rows in a bin.
    min_bin_share: f64,
    /// Most bins (the missing bin not counted).
    max_bins: usize,
    /// How the bad rate of a number's bins may move.
    trend: Trend,
}

/// Refuses limits that no binning can meet.
fn validate_binning(p: &BinningValidParams) -> Result<()> {
    let share = |v: f64| (0.0..0.5).contains(&v);
    if p.max_prebins < 2 {
        Err(Error::MaxPrebins(p.max_prebins))
    } else if p.max_bins < 1 {
        Err(Error::MaxBinCount)
    } else if !share(p.min_prebin_share) {
        Err(Error::MinShare(p.min_prebin_share))
    } else if !share(p.min_bin_share) {
        Err(Error::MinShare(p.min_bin_share))
    } else {
        Ok(())
    }
}

/// Weighted rows and positives of one pre-bin.
#[derive(Debug, Clone, Copy, Default)]
struct Counts {
    rows: f64,
    positives: f64,
}

impl BinningValidParams {
    /// Bins the characteristic at `source` of rows `x` (labels `y`, weights `w`).
    pub fn fit(&self, source: &Source, x: ArrayView2<'_, f64>, y: &[bool], w: &[f64]) -> Binning {
        let total: f64 = w.iter().sum();
        let bads: f64 = w.iter().zip(y).filter(|(_, y)| **y).map(|(w, _)| w).sum();
        let totals = Totals {
            rows: total,
            goods: total - bads,
            bads,
        };
        let rule = match source {
            Source::Numeric { column } => {
                let mut values: Vec<(f64, f64, bool)> = (0..x.nrows())
                    .filter(|&r| !x[[r, *column]].is_nan() && w[r] > 0.0)
                    .map(|r| (x[[r, *column]], w[r], y[r]))
                    .collect();
                values.sort_by(|a, b| a.0.total_cmp(&b.0));
                let (distinct, counts) = distinct_values(&values);
                let prebin_cuts = self.prebins(&counts);
                let prebins = merge_counts(&counts, &prebin_cuts);
                let cuts = self.merge(&prebins, &totals, self.trend);
                // A cut before pre-bin k is a cut before its first distinct value.
                let mut starts = vec![0];
                starts.extend(&prebin_cuts);
                let edges = cuts
                    .iter()
                    .map(|&k| {
                        let d = starts[k];
                        (distinct[d - 1] + distinct[d]) / 2.0
                    })
                    .collect();
                Rule::Numeric {
                    column: *column,
                    edges,
                }
            }
            Source::Categorical {
                first,
                categories,
                missing,
            } => {
                let mut counts = vec![Counts::default(); *categories];
                for r in 0..x.nrows() {
                    if let Some(c) = (0..*categories).find(|c| x[[r, first + c]] > 0.5) {
                        counts[c].rows += w[r];
                        if y[r] {
                            counts[c].positives += w[r];
                        }
                    }
                }
                let mut order: Vec<usize> = (0..*categories)
                    .filter(|&c| Some(c) != *missing && counts[c].rows > 0.0)
                    .collect();
                let rate = |c: usize| counts[c].positives / counts[c].rows;
                order.sort_by(|&a, &b| rate(a).total_cmp(&rate(b)).then(a.cmp(&b)));
                let sorted: Vec<Counts> = order.iter().map(|&c| counts[c]).collect();
                let cuts = self.merge(&sorted, &totals, Trend::Free);
                // Categories without training rows join the largest bin.
                let sizes = merge_counts(&sorted, &cuts);
                let largest = (0..sizes.len())
                    .max_by(|&a, &b| sizes[a].rows.total_cmp(&sizes[b].rows))
                    .unwrap_or(0);
                let mut groups = vec![largest; *categories];
                for (k, &c) in order.iter().enumerate() {
                    groups[c] = cuts.partition_point(|&cut| cut <= k);
                }
                Rule::Categorical {
                    first: *first,
                    groups,
                    missing: *missing,
                }
            }
        };
        Binning::count(rule, x, y, w)
    }

    /// Best-first Gini splits of the distinct values `counts` (in value order): the indices
    /// where pre-bins 1.. start.
    fn prebins(&self, counts: &[Counts]) -> Vec<usize> {
        let sums = Prefix::new(counts);
        let least = self.min_prebin_share * sums.range(0, counts.len()).rows;
        // Weighted Gini impurity of a range: rows · 2p(1 − p).
        let impurity = |c: Counts| {
            if c.rows <= 0.0 {
                0.0
            } else {
                2.0 * c.positives * (c.rows - c.positives) / c.rows
            }
        };
        // (Gini decrease, first distinct value of the right side) of a range's best split.
        let best_split = |lo: usize, hi: usize| -> Option<(f64, usize)> {
            let parent = impurity(sums.range(lo, hi));
            (lo + 1..hi)
                .filter_map(|s| {
                    let (left, right) = (sums.range(lo, s), sums.range(s, hi));
                    (left.rows >= least
                        && right.rows >= least
                        && left.rows > 0.0
                        && right.rows > 0.0)
                        .then(|| (parent - impurity(left) - impurity(right), s))
                })
                .filter(|(gain, _)| *gain > 1e-12)
                .max_by(|a, b| a.0.total_cmp(&b.0).then(b.1.cmp(&a.1)))
        };
        // Leaves as (first, end, best split) over the distinct values.
        let mut leaves: Vec<Leaf> = vec![(0, counts.len(), best_split(0, counts.len()))];
        while leaves.len() < self.max_prebins {
            let Some(at) = (0..leaves.len())
                .filter(|&i| leaves[i].2.is_some())
                .max_by(|&a, &b| {
                    let gain = |i: usize| leaves[i].2.map_or(0.0, |g| g.0);
                    gain(a).total_cmp(&gain(b)).then(b.cmp(&a))
                })
            else {
                break;
            };
            let (lo, hi, split) = leaves[at];
            let Some((_, s)) = split else { break };
            leaves[at] = (lo, s, best_split(lo, s));
            leaves.insert(at + 1, (s, hi, best_split(s, hi)));
        }
        leaves.iter().skip(1).map(|l| l.0).collect()
    }

    /// The pre-bin indices where bins 1.. start: the feasible binning of most information
    /// value under `trend` (none: one bin).
    fn merge(&self, prebins: &[Counts], totals: &Totals, trend: Trend) -> Vec<usize> {
        match trend {
            Trend::Auto => {
                let up = self.best(prebins, totals, Trend::Ascending);
                let down = self.best(prebins, totals, Trend::Descending);
                if down.0 > up.0 + 1e-12 { down.1 } else { up.1 }
            }
            _ => self.best(prebins, totals, trend).1,
        }
    }

    /// The dynamic program of the module doc: (information value, cuts).
    fn best(&self, prebins: &[Counts], totals: &Totals, trend: Trend) -> (f64, Vec<usize>) {
        let n = prebins.len();
        if n == 0 {
            return (0.0, Vec::new());
        }
        let sums = Prefix::new(prebins);
        let least = self.min_bin_share * totals.rows;
        let bin = |i: usize, j: usize| -> Option<(f64, f64)> {
            let c = sums.range(i, j);
            let goods = c.rows - c.positives;
            (c.rows >= least && c.positives > 0.0 && goods > 0.0).then(|| {
                let (_, iv) = evidence(goods, c.positives, totals.goods, totals.bads);
                (iv, c.positives / c.rows)
            })
        };
        let ordered = |before: f64, after: f64| match trend {
            Trend::Ascending => before <= after,
            Trend::Descending => before >= after,
            Trend::Auto | Trend::Free => true,
        };
        let most = self.max_bins.min(n);
        // value[c][i][j]: best IV of pre-bins [0, j) in c + 1 bins, the last [i, j).
        let idx = |c: usize, i: usize, j: usize| (c * n + i) * (n + 1) + j;
        let mut value = vec![f64::NEG_INFINITY; most * n * (n + 1)];
        let mut from = vec![usize::MAX; most * n * (n + 1)];
        for j in 1..=n {
            if let Some((iv, _)) = bin(0, j) {
                value[idx(0, 0, j)] = iv;
            }
        }
        for c in 1..most {
            for j in 1..=n {
                for i in 1..j {
                    let Some((iv, rate)) = bin(i, j) else {
                        continue;
                    };
                    for k in 0..i {
                        let before = value[idx(c - 1, k, i)];
                        if before == f64::NEG_INFINITY {
                            continue;
                        }
                        let Some((_, previous)) = bin(k, i) else {
                            continue;
                        };
                        if ordered(previous, rate) && before + iv > value[idx(c, i, j)] {
                            value[idx(c, i, j)] = before + iv;
                            from[idx(c, i, j)] = k;
                        }
                    }
                }
            }
        }
        let mut end = None;
        for c in 0..most {
            for i in 0..n {
                let v = value[idx(c, i, n)];
                if v > end.map_or(f64::NEG_INFINITY, |(best, _, _)| best) + 1e-12 {
                    end = Some((v, c, i));
                }
            }
        }
        let Some((iv, mut c, mut i)) = end else {
            return (0.0, Vec::new());
        };
        let mut cuts = Vec::new();
        let mut j = n;
        while c > 0 {
            cuts.push(i);
            let k = from[idx(c, i, j)];
            (j, i, c) = (i, k, c - 1);
        }
        cuts.reverse();
        (iv, cuts)
    }
}

/// A pre-binning leaf: its range of distinct values [first, end) and its best split.
type Leaf = (usize, usize, Option<(f64, usize)>);

/// Totals over every row (missing ones included).
struct Totals {
    rows: f64,
    goods: f64,
    bads: f64,
}

/// Prefix sums of counts, for the counts of any range in O(1).
struct Prefix(Vec<Counts>);

impl Prefix {
    fn new(counts: &[Counts]) -> Self {
        let mut sums = vec![Counts::default()];
        for c in counts {
            let last = sums[sums.len() - 1];
            sums.push(Counts {
                rows: last.rows + c.rows,
                positives: last.positives + c.positives,
            });
        }
        Self(sums)
    }

    /// Counts of items [lo, hi).
    fn range(&self, lo: usize, hi: usize) -> Counts {
        Counts {
            rows: self.0[hi].rows - self.0[lo].rows,
            positives: self.0[hi].positives - self.0[lo].positives,
        }
    }
}

/// The distinct values of sorted (value, weight, label) rows and their counts.
fn distinct_values(sorted: &[(f64, f64, bool)]) -> (Vec<f64>, Vec<Counts>) {
    let mut values: Vec<f64> = Vec::new();
    let mut counts: Vec<Counts> = Vec::new();
    for &(v, w, y) in sorted {
        if values.last() != Some(&v) {
            values.push(v);
            counts.push(Counts::default());
        }
        let c = counts.len() - 1;
        counts[c].rows += w;
        if y {
            counts[c].positives += w;
        }
    }
    (values, counts)
}

/// Counts merged into the groups that start at `cuts` (and at 0).
fn merge_counts(counts: &[Counts], cuts: &[usize]) -> Vec<Counts> {
    let sums = Prefix::new(counts);
    let mut bounds = vec![0];
    bounds.extend(cuts);
    bounds.push(counts.len());
    bounds.windows(2).map(|b| sums.range(b[0], b[1])).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn defaults() -> BinningValidParams {
        BinningParams::new().check().expect("valid")
    }

    /// Brute force over every set of cuts of `n` pre-bins: the best feasible IV.
    fn brute(p: &BinningValidParams, prebins: &[Counts], totals: &Totals, trend: Trend) -> f64 {
        let n = prebins.len();
        let mut best = f64::NEG_INFINITY;
        for mask in 0u32..(1 << (n - 1)) {
            let cuts: Vec<usize> = (1..n).filter(|k| mask & (1 << (k - 1)) != 0).collect();
            if cuts.len() + 1 > p.max_bins {
                continue;
            }
            let bins = merge_counts(prebins, &cuts);
            let feasible = bins.iter().all(|b| {
                b.rows >= p.min_bin_share * totals.rows && b.positives > 0.0 && b.rows > b.positives
            });
            let rates: Vec<f64> = bins.iter().map(|b| b.positives / b.rows).collect();
            let monotone = rates.windows(2).all(|r| match trend {
                Trend::Ascending => r[0] <= r[1],
                Trend::Descending => r[0] >= r[1],
                _ => true,
            });
            if feasible && monotone {
                let iv: f64 = bins
                    .iter()
                    .map(|b| {
                        evidence(b.rows - b.positives, b.positives, totals.goods, totals.bads).1
                    })
                    .sum();
                best = best.max(iv);
            }
        }
        best
    }

    #[test]
    fn the_dynamic_program_finds_the_brute_force_optimum() {
        // Ten pre-bins of uneven sizes and bad rates that go up and down.
        let prebins: Vec<Counts> = (0..10)
            .map(|k| {
                let rows = 20.0 + ((k * 37) % 11) as f64 * 6.0;
                let rate = 0.1 + 0.05 * k as f64 + if k % 3 == 0 { 0.12 } else { 0.0 };
                Counts {
                    rows,
                    positives: (rows * rate).round(),
                }
            })
            .collect();
        let rows: f64 = prebins.iter().map(|c| c.rows).sum();
        let bads: f64 = prebins.iter().map(|c| c.positives).sum();
        let totals = Totals {
            rows,
            goods: rows - bads,
            bads,
        };
        for (trend, max_bins, share) in [
            (Trend::Ascending, usize::MAX, 0.05),
            (Trend::Descending, usize::MAX, 0.05),
            (Trend::Free, usize::MAX, 0.05),
            (Trend::Ascending, 3, 0.1),
            (Trend::Free, 4, 0.15),
        ] {
            let p = BinningParams::new()
                .max_bins(max_bins)
                .min_bin_share(share)
                .check()
                .expect("valid");
            let (iv, cuts) = p.best(&prebins, &totals, trend);
            let expected = brute(&p, &prebins, &totals, trend);
            assert!(
                (iv - expected).abs() < 1e-9,
                "{trend:?} {max_bins}: {iv} vs {expected}"
            );
            let again: f64 = merge_counts(&prebins, &cuts)
                .iter()
                .map(|b| evidence(b.rows - b.positives, b.positives, totals.goods, totals.bads).1)
                .sum();
            assert!((again - iv).abs() < 1e-9, "the cuts give the IV");
        }
    }

    #[test]
    fn a_rising_risk_gets_rising_bins_and_missing_its_own() {
        // Bad rate rises with x in steps at 30 and 70; every 10th row is missing and mostly bad.
        let n = 20_000;
        let x = Array2::from_shape_fn((n, 1), |(r, _)| {
            if r % 10 == 0 {
                f64::NAN
            } else {
                (r % 100) as f64
            }
        });
        let y: Vec<bool> = (0..n)
            .map(|r| {
                let v = r % 100;
                let risk = match (r % 10, v) {
                    (0, _) => 60,
                    (_, 0..30) => 10,
                    (_, 30..70) => 30,
                    _ => 60,
                };
                crate::algo::noise(r) < risk
            })
            .collect();
        let w = vec![1.0; n];
        let b = defaults().fit(&Source::Numeric { column: 0 }, x.view(), &y, &w);
        let Rule::Numeric { edges, .. } = &b.rule else {
            panic!("numeric")
        };
        // Cut at the steps, give or take the noise of 180 rows a value.
        assert!(edges.iter().any(|e| (e - 29.5).abs() <= 2.0), "{edges:?}");
        assert!(edges.iter().any(|e| (e - 69.5).abs() <= 2.0), "{edges:?}");
        let rates: Vec<f64> = b.bins[..b.bins.len() - 1]
            .iter()
            .map(|b| b.positives / b.rows)
            .collect();
        assert!(rates.windows(2).all(|r| r[0] <= r[1]), "{rates:?}");
        let missing = b.bins[b.bins.len() - 1];
        assert_eq!(missing.rows, 2000.0);
        assert!(missing.woe < 0.0, "missing rows are mostly bad");
        assert!(b.iv() > 0.3, "{}", b.iv());
        assert!(b.shares().iter().take(b.bins.len() - 1).all(|s| *s >= 0.05));
    }

    #[test]
    fn categories_are_grouped_by_bad_rate() {
        // Four categories: a and c are safe (10% bad), b and d risky (50%); column 4 is missing.
        // Two bins at most (without a limit each category keeps its own bin: merging never
        // adds information value).
        let n = 1000;
        let x = Array2::from_shape_fn((n, 5), |(r, c)| f64::from(u8::from(r % 5 == c)));
        let y: Vec<bool> = (0..n)
            .map(|r| match r % 5 {
                0 | 2 => crate::algo::noise(r) < 10,
                _ => crate::algo::noise(r) < 50,
            })
            .collect();
        let b = BinningParams::new()
            .max_bins(2)
            .check()
            .expect("valid")
            .fit(
                &Source::Categorical {
                    first: 0,
                    categories: 5,
                    missing: Some(4),
                },
                x.view(),
                &y,
                &vec![1.0; n],
            );
        let Rule::Categorical {
            groups, missing, ..
        } = &b.rule
        else {
            panic!("categorical")
        };
        assert_eq!(groups[0], groups[2]);
        assert_eq!(groups[1], groups[3]);
        assert_ne!(groups[0], groups[1]);
        assert_eq!(*missing, Some(4), "the missing category is the missing bin");
        assert_eq!(b.bins.len(), 3, "two groups and the missing bin");
    }

    #[test]
    fn bad_limits_are_refused() {
        assert_eq!(
            BinningParams::new().max_prebins(1).check(),
            Err(Error::MaxPrebins(1))
        );
        assert_eq!(
            BinningParams::new().min_bin_share(0.6).check(),
            Err(Error::MinShare(0.6))
        );
        assert_eq!(
            BinningParams::new().max_bins(0).check(),
            Err(Error::MaxBinCount)
        );
        assert!("upwards".parse::<Trend>().is_err());
        assert_eq!("none".parse::<Trend>(), Ok(Trend::Free));
    }
}
