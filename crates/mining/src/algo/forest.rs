//! Random forest (Breiman 2001): CART trees on bootstrap samples with a random feature
//! subset per node, probabilities averaged. A bootstrap sample is drawn as row weights
//! (how often each row was drawn), so every tree shares one presort of the features.

use ndarray::ArrayView2;
use rand::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::cart::{Presorted, Tree, TreeValidParams};
use super::{Error, ParamGuard, Result};

/// Checked forest parameters (see [`ForestParams`]).
#[derive(Debug, Clone, PartialEq)]
pub struct ForestValidParams {
    trees: usize,
    tree: TreeValidParams,
    seed: u64,
}

impl ForestValidParams {
    /// Growth limits of each tree (with `max_features` = √features unless set).
    pub fn tree(&self) -> &TreeValidParams {
        &self.tree
    }

    /// Fits the trees on bootstrap samples of rows `x` with labels `y` and optional row
    /// `weights` (a drawn row counts its weight per draw).
    pub fn fit(
        &self,
        x: ArrayView2<'_, f64>,
        y: &[usize],
        weights: Option<&[f64]>,
    ) -> Result<Forest> {
        let presorted = Presorted::new(x)?;
        let n = x.nrows();
        if weights.is_some_and(|w| w.len() != n) {
            return Err(Error::Shape(format!(
                "forest: {n} rows, {} weights",
                weights.map_or(0, <[f64]>::len)
            )));
        }
        let features = self
            .tree
            .max_features()
            .unwrap_or_else(|| (x.ncols() as f64).sqrt().round() as usize);
        let trees = (0..self.trees as u64)
            .into_par_iter()
            .map(|i| {
                let seed = self.seed.wrapping_add(i);
                let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
                let mut drawn = vec![0.0; n];
                for _ in 0..n {
                    let r = rng.random_range(0..n);
                    drawn[r] += weights.map_or(1.0, |w| w[r]);
                }
                Tree::fit_presorted(
                    &presorted,
                    y,
                    Some(&drawn),
                    &self.tree.drawing(features, seed),
                )
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(Forest { trees })
    }
}

/// Forest parameters, unchecked: `ForestParams::new(tree).trees(100).seed(42)`, then
/// [`ParamGuard::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct ForestParams(ForestValidParams);

impl ForestParams {
    /// 100 trees grown as `tree` says, seed 42.
    pub fn new(tree: TreeValidParams) -> Self {
        Self(ForestValidParams {
            trees: 100,
            tree,
            seed: 42,
        })
    }
}

params! {
    ForestParams => ForestValidParams, validate: validate_forest,
    /// Number of trees.
    trees: usize,
    /// Seed: tree `i` draws its sample and features from `seed + i`.
    seed: u64,
}

/// Refuses a forest of no tree (the trees' own limits were checked as a [`TreeParams`]).
///
/// [`TreeParams`]: super::cart::TreeParams
fn validate_forest(p: &ForestValidParams) -> Result<()> {
    if p.trees == 0 {
        Err(Error::Trees)
    } else {
        Ok(())
    }
}

/// A fitted forest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Forest {
    /// The trees.
    pub trees: Vec<Tree>,
}

impl Forest {
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
    use crate::algo::cart::TreeParams;
    use ndarray::Array2;

    #[test]
    fn averages_trees_and_is_reproducible() {
        let n = 300;
        let x = Array2::from_shape_fn((n, 3), |(r, c)| ((r * (c + 3)) % 17) as f64);
        let y: Vec<usize> = (0..n).map(|r| usize::from((r * 3) % 17 > 8)).collect();
        let tree = TreeParams::new().max_depth(4).check().expect("valid");
        let params = ForestParams::new(tree)
            .trees(20)
            .seed(1)
            .check()
            .expect("valid");
        let f = params.fit(x.view(), &y, None).expect("fit");
        assert_eq!(f.trees.len(), 20);
        // Row 5 (x0 = 15) is positive, row 1 (x0 = 3) negative.
        assert!(f.probability(&x.row(5).to_vec()) > 0.8);
        assert!(f.probability(&x.row(1).to_vec()) < 0.2);
        assert_eq!(f, params.fit(x.view(), &y, None).expect("again"));
        assert!(f.importance()[0] > 0.5);
    }

    #[test]
    fn a_forest_of_no_tree_is_refused() {
        let params = ForestParams::new(TreeValidParams::default());
        assert_eq!(params.clone().trees(0).check(), Err(Error::Trees));
        assert!(params.trees(1).check().is_ok());
    }
}
