//! The rows k-means works on: a row-major matrix borrowed as one slice with each row's
//! squared norm, split into fixed blocks for rayon (the same blocks on any number of
//! threads, so results do not depend on the thread count), and the distance and variance
//! helpers the seeding and Lloyd's iterations share.

use rayon::prelude::*;

/// Rows per parallel block: large enough to amortise scheduling, small enough to balance.
pub(super) const BLOCK: usize = 4096;

/// A row-major matrix borrowed as one slice, with the squared norm of each row.
pub(super) struct Rows<'a> {
    pub(super) data: &'a [f64],
    pub(super) dims: usize,
    norms: Vec<f64>,
}

impl<'a> Rows<'a> {
    pub(super) fn new(data: &'a [f64], dims: usize) -> Self {
        let norms = if dims == 0 {
            Vec::new()
        } else {
            data.par_chunks(dims)
                .map(|r| r.iter().map(|v| v * v).sum())
                .collect()
        };
        Self { data, dims, norms }
    }

    /// ‖row i‖².
    pub(super) fn norm(&self, i: usize) -> f64 {
        self.norms[i]
    }

    pub(super) fn len(&self) -> usize {
        self.data.len().checked_div(self.dims).unwrap_or(0)
    }

    pub(super) fn row(&self, i: usize) -> &'a [f64] {
        &self.data[i * self.dims..(i + 1) * self.dims]
    }
}

/// `f` over consecutive blocks of row numbers in parallel, results in row order.
pub(super) fn block_results<T: Send>(
    rows: &Rows<'_>,
    f: impl Fn(std::ops::Range<usize>) -> T + Sync,
) -> Vec<T> {
    let n = rows.len();
    (0..n.div_ceil(BLOCK))
        .into_par_iter()
        .map(|b| f(b * BLOCK..((b + 1) * BLOCK).min(n)))
        .collect()
}

/// Mean of the features' variances (scikit-learn scales its tolerance by it).
pub(super) fn mean_variance(rows: &Rows<'_>) -> f64 {
    let n = rows.len() as f64;
    let dims = rows.dims;
    let sums = block_results(rows, |range| {
        let mut s = vec![0.0; 2 * dims];
        for i in range {
            for (j, v) in rows.row(i).iter().enumerate() {
                s[j] += v;
                s[dims + j] += v * v;
            }
        }
        s
    });
    let mut total = vec![0.0; 2 * dims];
    for s in sums {
        total.iter_mut().zip(s).for_each(|(t, v)| *t += v);
    }
    (0..dims)
        .map(|j| (total[dims + j] / n - (total[j] / n).powi(2)).max(0.0))
        .sum::<f64>()
        / dims.max(1) as f64
}

/// Squared Euclidean distance of two equally long slices.
pub(super) fn sq_dist(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| (x - y) * (x - y)).sum()
}
