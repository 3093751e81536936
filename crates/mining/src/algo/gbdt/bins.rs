//! Quantile bins: each feature's values cut into at most `max_bins` ranges, found once on a
//! sample of the training rows, so the booster works on one byte per value and a split is a
//! bin boundary. A missing value (NaN) has a bin of its own after the value bins, so the
//! booster can learn where missing values go.
//!
//! A boundary is the midpoint between two consecutive distinct values (as in LightGBM and
//! scikit-learn), so a tree's threshold applied to the raw value puts every training row in
//! the same bin as the binned data did.

use ndarray::ArrayView2;
use rand::SeedableRng;
use rand::seq::index::sample;
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

/// Rows sampled to find the boundaries (LightGBM's `bin_construct_sample_cnt`).
const SAMPLE_ROWS: usize = 200_000;

/// The bins of every feature.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bins {
    /// Per feature, the upper bounds of its value bins but the last (value `v` is in the
    /// first bin `b` with `v <= upper[b]`, else in the last value bin).
    pub upper: Vec<Vec<f64>>,
}

impl Bins {
    /// Finds at most `max_bins` value bins per feature (column) of `x` on a seeded sample of
    /// at most 200,000 rows.
    pub fn fit(x: ArrayView2<'_, f64>, max_bins: usize, seed: u64) -> Self {
        let rows = x.nrows();
        let picked: Vec<usize> = if rows > SAMPLE_ROWS {
            let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
            let mut picked = sample(&mut rng, rows, SAMPLE_ROWS).into_vec();
            picked.sort_unstable();
            picked
        } else {
            (0..rows).collect()
        };
        let upper = (0..x.ncols())
            .into_par_iter()
            .map(|f| {
                let column = x.column(f);
                let mut values: Vec<f64> = picked
                    .iter()
                    .map(|&r| column[r])
                    .filter(|v| !v.is_nan())
                    .collect();
                values.sort_unstable_by(f64::total_cmp);
                boundaries(&values, max_bins)
            })
            .collect();
        Self { upper }
    }

    /// Number of value bins of feature `f` (its missing bin comes after them).
    pub fn values(&self, f: usize) -> usize {
        self.upper[f].len() + 1
    }

    /// The bin of value `v` of feature `f`: a value bin, or `values(f)` for NaN.
    pub fn bin(&self, f: usize, v: f64) -> u8 {
        let upper = &self.upper[f];
        let b = if v.is_nan() {
            upper.len() + 1
        } else {
            upper.partition_point(|&u| u < v)
        };
        // At most 255 value bins: bins and the missing bin fit a byte (checked by the params).
        b as u8
    }

    /// The rows of `x` as bins, row-major as `x`: row `r`'s bins are
    /// `[r * features, (r + 1) * features)`, so building a histogram reads one short run of
    /// bytes per row.
    pub fn apply(&self, x: ArrayView2<'_, f64>) -> Vec<u8> {
        let features = x.ncols().max(1);
        let mut out = vec![0u8; x.nrows() * x.ncols()];
        const CHUNK: usize = 16_384;
        out.par_chunks_mut(CHUNK * features)
            .enumerate()
            .for_each(|(c, part)| {
                for (i, row) in part.chunks_mut(features).enumerate() {
                    let values = x.row(c * CHUNK + i);
                    for (f, (cell, v)) in row.iter_mut().zip(values).enumerate() {
                        *cell = self.bin(f, *v);
                    }
                }
            });
        out
    }
}

/// Row-major `binned` rows (`features` bytes each) column by column: feature f's bins of
/// every row at `f · rows ..`. A split reads one feature of each of its rows, and rows of a
/// leaf are ascending, so from this copy it reads neighbouring bytes, not one cache line per
/// row (measured on `benches/gbdt_vs_lightgbm.py`'s data: partitioning from the row-major
/// bins took 7.6 s of a 24 s fit, from this copy 4.2 s).
pub fn by_column(binned: &[u8], features: usize) -> Vec<u8> {
    let rows = binned.len() / features.max(1);
    let mut out = vec![0u8; binned.len()];
    out.par_chunks_mut(rows.max(1))
        .enumerate()
        .for_each(|(f, column)| {
            for (r, cell) in column.iter_mut().enumerate() {
                *cell = binned[r * features + f];
            }
        });
    out
}

/// Upper bounds of at most `max_bins` bins over `sorted` (ascending, no NaN): one bin per
/// distinct value when there are few enough, else bins of about equal row counts that never
/// cut between equal values (a value more frequent than a bin's share gets a bin of its own).
fn boundaries(sorted: &[f64], max_bins: usize) -> Vec<f64> {
    let mut distinct: Vec<(f64, usize)> = Vec::new();
    for &v in sorted {
        match distinct.last_mut() {
            Some((last, n)) if *last == v => *n += 1,
            _ => distinct.push((v, 1)),
        }
    }
    let cut = |a: f64, b: f64| {
        let mid = a + (b - a) / 2.0;
        // Adjacent floats: the midpoint may round up to `b`, which would put `b` low.
        if mid < b { mid } else { a }
    };
    if distinct.len() <= max_bins {
        return distinct.windows(2).map(|w| cut(w[0].0, w[1].0)).collect();
    }
    let mut upper = Vec::with_capacity(max_bins - 1);
    let mut rest_rows = sorted.len() as f64;
    let mut rest_bins = max_bins as f64;
    let mut filled = 0usize;
    for (i, w) in distinct.windows(2).enumerate() {
        if upper.len() + 1 >= max_bins {
            break;
        }
        filled += w[0].1;
        let share = rest_rows / rest_bins;
        // Close the bin when it has its share, or when the next value alone would overfill it.
        let left = distinct.len() - i - 1;
        if filled as f64 >= share || w[1].1 as f64 >= share || left <= max_bins - 1 - upper.len() {
            upper.push(cut(w[0].0, w[1].0));
            rest_rows -= filled as f64;
            rest_bins -= 1.0;
            filled = 0;
        }
    }
    upper
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn column(values: &[f64]) -> Array2<f64> {
        Array2::from_shape_vec((values.len(), 1), values.to_vec()).expect("one column")
    }

    #[test]
    fn few_values_get_a_bin_each_and_many_equal_shares() {
        let b = Bins::fit(column(&[3.0, 1.0, 2.0, 2.0, f64::NAN]).view(), 255, 1);
        assert_eq!(b.upper[0], [1.5, 2.5]);
        assert_eq!(b.values(0), 3);
        assert_eq!(
            [1.0, 1.5, 2.0, 3.0, 9.0, f64::NAN].map(|v| b.bin(0, v)),
            [0, 0, 1, 2, 2, 3]
        );
        let many: Vec<f64> = (0..10_000).map(f64::from).collect();
        let b = Bins::fit(column(&many).view(), 10, 1);
        assert_eq!(b.values(0), 10);
        let mut counts = [0usize; 10];
        for v in &many {
            counts[usize::from(b.bin(0, *v))] += 1;
        }
        assert!(
            counts.iter().all(|&c| (900..=1100).contains(&c)),
            "{counts:?}"
        );
    }

    #[test]
    fn a_frequent_value_is_never_split_and_adjacent_floats_stay_apart() {
        let mut v = vec![0.0; 5_000];
        v.extend((1..=5_000).map(f64::from));
        let b = Bins::fit(column(&v).view(), 8, 1);
        assert_eq!(b.bin(0, 0.0), 0);
        assert!(
            b.bin(0, 1.0) > 0,
            "0 has a bin of its own: {:?}",
            b.upper[0]
        );
        let a = 1.0f64;
        let next = f64::from_bits(a.to_bits() + 1);
        let b = Bins::fit(column(&[a, next]).view(), 255, 1);
        assert_ne!(b.bin(0, a), b.bin(0, next));
    }

    #[test]
    fn applies_row_major() {
        let x = ndarray::array![[1.0, 5.0], [2.0, 5.0], [3.0, f64::NAN]];
        let b = Bins::fit(x.view(), 255, 1);
        assert_eq!(b.apply(x.view()), [0, 0, 1, 0, 2, 1]);
        assert_eq!(by_column(&b.apply(x.view()), 2), [0, 1, 2, 0, 0, 1]);
    }
}
