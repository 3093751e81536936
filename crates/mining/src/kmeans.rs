//! k-means through linfa-clustering (k-means++ initialisation, several restarts, a fixed
//! seed), plus the silhouette used to choose k.
//!
//! linfa's fitted model reports the mean distance of the last iteration before its final
//! centroid update; we recompute inertia (sum of squared distances to the final centroids,
//! as scikit-learn reports it) from the labels we return, so the two are comparable.

use linfa::prelude::*;
use linfa_clustering::{KMeans, KMeansInit};
use ndarray::{Array1, Array2, ArrayView2, Axis};
use rand_xoshiro::Xoshiro256Plus;
use rand_xoshiro::rand_core::SeedableRng;
use rayon::prelude::*;

use crate::{Error, Result};

/// How to run k-means.
#[derive(Debug, Clone)]
pub struct KMeansOptions {
    /// Clusters.
    pub k: usize,
    /// Restarts with different k-means++ seeds; the lowest inertia wins.
    pub n_init: usize,
    /// Iteration cap per restart.
    pub max_iter: u64,
    /// Stop when the centroids move less than this (Frobenius norm).
    pub tolerance: f64,
    /// Random seed: same seed, same data → same clusters.
    pub seed: u64,
}

impl KMeansOptions {
    /// `k` clusters with the defaults: 10 restarts, 300 iterations, tolerance 1e-4, seed 42.
    pub fn new(k: usize) -> Self {
        Self {
            k,
            n_init: 10,
            max_iter: 300,
            tolerance: 1e-4,
            seed: 42,
        }
    }
}

/// A fitted clustering.
#[derive(Debug, Clone)]
pub struct Clustering {
    /// Cluster of each row, 0-based.
    pub labels: Vec<usize>,
    /// Centroids, one row per cluster.
    pub centroids: Array2<f64>,
    /// Sum of squared distances of the rows to their centroids.
    pub inertia: f64,
}

/// Clusters the rows of `x` (already scaled).
pub fn fit(x: ArrayView2<'_, f64>, options: &KMeansOptions) -> Result<Clustering> {
    let n = x.nrows();
    if options.k == 0 || options.k > n {
        return Err(Error::Invalid(format!(
            "k = {} needs between 1 and {n} (the number of rows)",
            options.k
        )));
    }
    let data = DatasetBase::from(x.to_owned());
    let model = KMeans::params_with_rng(options.k, Xoshiro256Plus::seed_from_u64(options.seed))
        .n_runs(options.n_init.max(1))
        .max_n_iterations(options.max_iter)
        .tolerance(options.tolerance)
        .init_method(KMeansInit::KMeansPlusPlus)
        .fit(&data)
        .map_err(|e| Error::KMeans(e.to_string()))?;
    let labels: Array1<usize> = model.predict(data.records());
    let centroids = model.centroids().clone();
    let labels = labels.to_vec();
    let inertia = inertia(x, &centroids, &labels);
    Ok(Clustering {
        labels,
        centroids,
        inertia,
    })
}

/// Sum of squared Euclidean distances of each row to its cluster's centroid.
pub fn inertia(x: ArrayView2<'_, f64>, centroids: &Array2<f64>, labels: &[usize]) -> f64 {
    x.axis_iter(Axis(0))
        .into_par_iter()
        .zip(labels.par_iter())
        .map(|(row, &c)| {
            row.iter()
                .zip(centroids.row(c).iter())
                .map(|(a, b)| (a - b) * (a - b))
                .sum::<f64>()
        })
        .sum()
}

/// Mean silhouette coefficient of the rows `sample` of `x` under `labels` (−1..1, higher is
/// better separated): for each row, (b − a) / max(a, b) with a the mean distance to its own
/// cluster and b the smallest mean distance to another cluster. O(s² · d) in the sample size.
pub fn silhouette(x: ArrayView2<'_, f64>, labels: &[usize], sample: &[usize]) -> f64 {
    let k = labels.iter().copied().max().map_or(0, |m| m + 1);
    if k < 2 || sample.len() < 2 {
        return 0.0;
    }
    let scores: Vec<f64> = sample
        .par_iter()
        .map(|&i| {
            let mut sum = vec![0.0; k];
            let mut count = vec![0usize; k];
            for &j in sample {
                if i == j {
                    continue;
                }
                let d = x
                    .row(i)
                    .iter()
                    .zip(x.row(j).iter())
                    .map(|(a, b)| (a - b) * (a - b))
                    .sum::<f64>()
                    .sqrt();
                sum[labels[j]] += d;
                count[labels[j]] += 1;
            }
            let own = labels[i];
            if count[own] == 0 {
                return 0.0;
            }
            let a = sum[own] / count[own] as f64;
            let b = (0..k)
                .filter(|&c| c != own && count[c] > 0)
                .map(|c| sum[c] / count[c] as f64)
                .fold(f64::INFINITY, f64::min);
            if !b.is_finite() || a.max(b) == 0.0 {
                0.0
            } else {
                (b - a) / a.max(b)
            }
        })
        .collect();
    scores.iter().sum::<f64>() / scores.len() as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Three tight, well separated blobs of 50 points each.
    fn blobs() -> (Array2<f64>, Vec<usize>) {
        let centres = [(0.0, 0.0), (10.0, 0.0), (0.0, 10.0)];
        let mut x = Array2::zeros((150, 2));
        let mut truth = Vec::new();
        for i in 0..150 {
            let c = i % 3;
            let jitter = ((i * 7919) % 100) as f64 / 100.0 - 0.5;
            x[[i, 0]] = centres[c].0 + jitter;
            x[[i, 1]] = centres[c].1 - jitter;
            truth.push(c);
        }
        (x, truth)
    }

    #[test]
    fn recovers_separated_blobs_reproducibly() {
        let (x, truth) = blobs();
        let a = fit(x.view(), &KMeansOptions::new(3)).expect("fit");
        let ari = crate::evaluate::adjusted_rand_index(&a.labels, &truth);
        assert!((ari - 1.0).abs() < 1e-12, "ARI {ari}");
        let b = fit(x.view(), &KMeansOptions::new(3)).expect("fit again");
        assert_eq!(a.labels, b.labels, "same seed, same clusters");
        assert!(a.inertia > 0.0 && a.inertia < 150.0 * 0.5, "{}", a.inertia);
        let all: Vec<usize> = (0..150).collect();
        let s3 = silhouette(x.view(), &a.labels, &all);
        let two = fit(x.view(), &KMeansOptions::new(2)).expect("k=2");
        let s2 = silhouette(x.view(), &two.labels, &all);
        assert!(s3 > 0.9 && s3 > s2, "silhouette k=3 {s3}, k=2 {s2}");
    }

    #[test]
    fn k_larger_than_the_rows_is_refused() {
        let (x, _) = blobs();
        assert!(fit(x.view(), &KMeansOptions::new(151)).is_err());
        assert!(fit(x.view(), &KMeansOptions::new(0)).is_err());
    }
}
