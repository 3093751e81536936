//! A boosted tree as it is kept and applied: its nodes, and the way a row walks them (a
//! missing value down the branch its split learned).

use serde::{Deserialize, Serialize};

/// One node of a boosted tree: a split, or a leaf when `feature` is `None`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Node {
    /// Feature tested, for a split.
    pub feature: Option<usize>,
    /// Rows with `x[feature] <= threshold` go left.
    pub threshold: f64,
    /// Whether a missing value (NaN) goes left.
    pub missing_left: bool,
    /// Left child index.
    pub left: usize,
    /// Right child index.
    pub right: usize,
    /// The shrunk output of the node's rows as a leaf (a split's is used by contributions).
    pub value: f64,
    /// Σ hessian of the node's training rows.
    pub cover: f64,
    /// Training rows reaching the node.
    pub samples: usize,
}

/// One boosted tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BoostedTree {
    /// Nodes; 0 is the root.
    pub nodes: Vec<Node>,
}

impl BoostedTree {
    /// The child of node `n` that `row` goes to, `None` at a leaf.
    pub fn child(&self, n: usize, row: &[f64]) -> Option<usize> {
        let node = &self.nodes[n];
        let f = node.feature?;
        let v = row[f];
        let left = if v.is_nan() {
            node.missing_left
        } else {
            v <= node.threshold
        };
        Some(if left { node.left } else { node.right })
    }

    /// The output of the leaf `row` reaches.
    pub fn value(&self, row: &[f64]) -> f64 {
        let mut n = 0;
        while let Some(next) = self.child(n, row) {
            n = next;
        }
        self.nodes[n].value
    }
}
