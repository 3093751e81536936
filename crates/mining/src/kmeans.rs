//! k-means through linfa-clustering (k-means++ initialisation, several restarts, a fixed
//! seed), plus the silhouette used to choose k.
//!
//! linfa's fitted model reports the mean distance of the last iteration before its final
//! centroid update; we recompute inertia (sum of squared distances to the final centroids,
//! as scikit-learn reports it) from the labels we return, so the two are comparable.

use linfa::prelude::*;
use linfa_clustering::{KMeans, KMeansInit};
use ndarray::{Array1, Array2, ArrayView1, ArrayView2, Axis};
use rand_xoshiro::Xoshiro256Plus;
use rand_xoshiro::rand_core::SeedableRng;
use rayon::prelude::*;

use crate::{Error, Result};

/// How to run k-means (the number of clusters is given to [`fit`]).
#[derive(Debug, Clone)]
pub struct KMeansOptions {
    /// Restarts with different k-means++ seeds; the lowest inertia wins.
    pub n_init: usize,
    /// Iteration cap per restart.
    pub max_iter: u64,
    /// Stop when the centroids move less than this (Frobenius norm).
    pub tolerance: f64,
    /// Random seed: same seed, same data → same clusters.
    pub seed: u64,
}

impl Default for KMeansOptions {
    /// 10 restarts, 300 iterations, tolerance 1e-4, seed 42.
    fn default() -> Self {
        Self {
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
    /// Squared distance of each row to its centroid.
    pub sq_distances: Vec<f64>,
    /// Sum of `sq_distances`.
    pub inertia: f64,
}

/// Clusters the rows of `x` (already scaled) into `k` clusters.
pub fn fit(x: ArrayView2<'_, f64>, k: usize, options: &KMeansOptions) -> Result<Clustering> {
    let n = x.nrows();
    if k == 0 || k > n {
        return Err(Error::Invalid(format!(
            "k = {k} needs between 1 and {n} (the number of rows)"
        )));
    }
    let data = DatasetBase::from(x);
    let model = KMeans::params_with_rng(k, Xoshiro256Plus::seed_from_u64(options.seed))
        .n_runs(options.n_init.max(1))
        .max_n_iterations(options.max_iter)
        .tolerance(options.tolerance)
        .init_method(KMeansInit::KMeansPlusPlus)
        .fit(&data)
        .map_err(|e| Error::KMeans(e.to_string()))?;
    let labels: Array1<usize> = model.predict(data.records());
    let labels = labels.to_vec();
    let centroids = model.centroids().clone();
    let sq_distances: Vec<f64> = x
        .axis_iter(Axis(0))
        .into_par_iter()
        .zip(labels.par_iter())
        .map(|(row, &c)| sq_dist(row, centroids.row(c)))
        .collect();
    let inertia = sq_distances.iter().sum();
    Ok(Clustering {
        labels,
        centroids,
        sq_distances,
        inertia,
    })
}

/// Squared Euclidean distance of two rows.
fn sq_dist(a: ArrayView1<'_, f64>, b: ArrayView1<'_, f64>) -> f64 {
    a.iter().zip(b.iter()).map(|(x, y)| (x - y) * (x - y)).sum()
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
                let d = sq_dist(x.row(i), x.row(j)).sqrt();
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
        let a = fit(x.view(), 3, &KMeansOptions::default()).expect("fit");
        let ari = crate::evaluate::adjusted_rand_index(&a.labels, &truth);
        assert!((ari - 1.0).abs() < 1e-12, "ARI {ari}");
        let b = fit(x.view(), 3, &KMeansOptions::default()).expect("fit again");
        assert_eq!(a.labels, b.labels, "same seed, same clusters");
        assert!(a.inertia > 0.0 && a.inertia < 150.0 * 0.5, "{}", a.inertia);
        let all: Vec<usize> = (0..150).collect();
        let s3 = silhouette(x.view(), &a.labels, &all);
        let two = fit(x.view(), 2, &KMeansOptions::default()).expect("k=2");
        let s2 = silhouette(x.view(), &two.labels, &all);
        assert!(s3 > 0.9 && s3 > s2, "silhouette k=3 {s3}, k=2 {s2}");
    }

    #[test]
    fn k_larger_than_the_rows_is_refused() {
        let (x, _) = blobs();
        assert!(fit(x.view(), 151, &KMeansOptions::default()).is_err());
        assert!(fit(x.view(), 0, &KMeansOptions::default()).is_err());
    }
}
