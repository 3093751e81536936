//! Random forest (Breiman 2001): CART trees on bootstrap samples with a random feature
//! subset per node, probabilities averaged. A bootstrap sample is drawn as row weights
//! (how often each row was drawn), so every tree shares one presort of the features.

use ndarray::ArrayView2;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::Result;
use crate::tree::{Presorted, Tree, TreeOptions};

/// A fitted forest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forest {
    /// The trees.
    pub trees: Vec<Tree>,
}

impl Forest {
    /// Fits `trees` trees of `options` (with `max_features` = √features unless set) on
    /// bootstrap samples of rows `x` with labels `y` and optional row `weights` (a drawn
    /// row counts its weight per draw); tree `i` is seeded `seed + i`.
    pub fn fit(
        x: ArrayView2<'_, f64>,
        y: &[usize],
        weights: Option<&[f64]>,
        trees: usize,
        options: &TreeOptions,
        seed: u64,
    ) -> Result<Self> {
        let presorted = Presorted::new(x)?;
        let n = x.nrows();
        let features = options
            .max_features
            .unwrap_or_else(|| ((x.ncols() as f64).sqrt().round() as usize).max(1));
        let trees = (0..trees as u64)
            .into_par_iter()
            .map(|i| {
                let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed.wrapping_add(i));
                let mut drawn = vec![0.0; n];
                for _ in 0..n {
                    let r = rng.random_range(0..n);
                    drawn[r] += weights.map_or(1.0, |w| w[r]);
                }
                let tree_options = TreeOptions {
                    max_features: Some(features),
                    seed: seed.wrapping_add(i),
                    ..options.clone()
                };
                Tree::fit_presorted(&presorted, y, Some(&drawn), &tree_options)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Self { trees })
    }

    /// P(class 1) of one row: the mean over the trees.
    pub fn probability(&self, row: &[f64]) -> f64 {
        let sum: f64 = self.trees.iter().map(|t| t.positive(row)).sum();
        sum / self.trees.len().max(1) as f64
    }

    /// Impurity importance averaged over the trees.
    pub fn importance(&self) -> Vec<f64> {
        let width = self.trees.first().map_or(0, |t| t.importance.len());
        let mut out = vec![0.0; width];
        for t in &self.trees {
            for (o, v) in out.iter_mut().zip(&t.importance) {
                *o += v / self.trees.len() as f64;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn averages_trees_and_is_reproducible() {
        let n = 300;
        let x = Array2::from_shape_fn((n, 3), |(r, c)| ((r * (c + 3)) % 17) as f64);
        let y: Vec<usize> = (0..n).map(|r| usize::from((r * 3) % 17 > 8)).collect();
        let options = TreeOptions {
            max_depth: 4,
            ..TreeOptions::default()
        };
        let f = Forest::fit(x.view(), &y, None, 20, &options, 1).expect("fit");
        assert_eq!(f.trees.len(), 20);
        // Row 5 (x0 = 15) is positive, row 1 (x0 = 3) negative.
        assert!(f.probability(&x.row(5).to_vec()) > 0.8);
        assert!(f.probability(&x.row(1).to_vec()) < 0.2);
        assert_eq!(
            f,
            Forest::fit(x.view(), &y, None, 20, &options, 1).expect("again")
        );
        assert!(f.importance()[0] > 0.5);
    }
}
