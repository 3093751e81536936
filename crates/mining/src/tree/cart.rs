//! CART classification trees (Breiman et al.): binary splits `x[f] <= t` chosen by the
//! largest weighted Gini impurity decrease, grown depth-first to `max_depth`, with minimum
//! samples per split and per leaf and per-row weights; each leaf keeps its weighted class
//! frequencies, so the tree predicts class probabilities (linfa-trees predicts labels only
//! and takes no weights, which credit scoring and cost-based cut-offs need).
//!
//! A split threshold is the midpoint between two consecutive distinct values, as in
//! scikit-learn, so both give the same partitions on the same data. Features are numeric;
//! categorical columns are encoded before (one-hot or ordinal) by the caller.

use ndarray::ArrayView2;

use crate::{Error, Result};

/// Growth limits.
#[derive(Debug, Clone)]
pub struct TreeOptions {
    /// Deepest level (the root is depth 0).
    pub max_depth: usize,
    /// Fewest rows a node needs to be split.
    pub min_samples_split: usize,
    /// Fewest rows each child of a split must keep.
    pub min_samples_leaf: usize,
}

impl Default for TreeOptions {
    /// Depth 5, split from 2 rows, leaves of at least 1 row.
    fn default() -> Self {
        Self {
            max_depth: 5,
            min_samples_split: 2,
            min_samples_leaf: 1,
        }
    }
}

/// One node: a split, or a leaf when `feature` is `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Feature tested, for a split.
    pub feature: Option<usize>,
    /// Rows with `x[feature] <= threshold` go left.
    pub threshold: f64,
    /// Left child index.
    pub left: usize,
    /// Right child index.
    pub right: usize,
    /// Weighted class frequencies of the rows reaching the node (sum 1).
    pub probabilities: Vec<f64>,
    /// Rows reaching the node.
    pub samples: usize,
}

/// A fitted classification tree.
#[derive(Debug, Clone, PartialEq)]
pub struct Tree {
    /// Nodes; 0 is the root.
    pub nodes: Vec<Node>,
    /// Number of classes.
    pub classes: usize,
    /// Weighted impurity decrease per feature, normalised to sum 1 (0 for unused features).
    pub importance: Vec<f64>,
}

impl Tree {
    /// Fits a tree to rows `x`, class labels `y` (0..classes) and optional row `weights`.
    pub fn fit(
        x: ArrayView2<'_, f64>,
        y: &[usize],
        weights: Option<&[f64]>,
        options: &TreeOptions,
    ) -> Result<Self> {
        let n = x.nrows();
        if n == 0 || y.len() != n || weights.is_some_and(|w| w.len() != n) {
            return Err(Error::Invalid(format!(
                "tree: {n} rows, {} labels, {} weights",
                y.len(),
                weights.map_or(n, <[f64]>::len)
            )));
        }
        if x.iter().any(|v| !v.is_finite()) {
            return Err(Error::Features(
                "tree: features must be finite numbers".into(),
            ));
        }
        let classes = y.iter().copied().max().unwrap_or(0) + 1;
        let ones = vec![1.0; n];
        let w = weights.unwrap_or(&ones);
        let mut grower = Grower {
            x: x.view(),
            y,
            w,
            classes,
            options,
            nodes: Vec::new(),
            importance: vec![0.0; x.ncols()],
        };
        grower.grow((0..n).collect(), 0);
        let total: f64 = grower.importance.iter().sum();
        let importance = grower
            .importance
            .iter()
            .map(|v| if total > 0.0 { v / total } else { 0.0 })
            .collect();
        Ok(Self {
            nodes: grower.nodes,
            classes,
            importance,
        })
    }

    /// Class probabilities of one row.
    pub fn predict_proba(&self, row: &[f64]) -> &[f64] {
        let mut n = 0;
        while let Some(f) = self.nodes[n].feature {
            n = if row[f] <= self.nodes[n].threshold {
                self.nodes[n].left
            } else {
                self.nodes[n].right
            };
        }
        &self.nodes[n].probabilities
    }
}

impl Tree {
    /// The leaves as readable rules, one per leaf in tree order: the conditions on the path,
    /// the most probable class with its probability, and the rows behind it, e.g.
    /// `income > 52000 and savings > 0.5 → good, P(good)=0.93, n=412`.
    pub fn rules(&self, features: &[String], classes: &[String]) -> Vec<String> {
        let mut out = Vec::new();
        self.rules_below(0, &mut Vec::new(), features, classes, &mut out);
        out
    }

    fn rules_below(
        &self,
        n: usize,
        path: &mut Vec<String>,
        features: &[String],
        classes: &[String],
        out: &mut Vec<String>,
    ) {
        let node = &self.nodes[n];
        let name =
            |i: usize, names: &[String]| names.get(i).cloned().unwrap_or_else(|| format!("#{i}"));
        match node.feature {
            Some(f) => {
                let feature = name(f, features);
                path.push(format!("{feature} <= {}", node.threshold));
                self.rules_below(node.left, path, features, classes, out);
                path.pop();
                path.push(format!("{feature} > {}", node.threshold));
                self.rules_below(node.right, path, features, classes, out);
                path.pop();
            }
            None => {
                let (best, p) = node
                    .probabilities
                    .iter()
                    .enumerate()
                    .fold((0, f64::MIN), |b, (c, &p)| if p > b.1 { (c, p) } else { b });
                let class = name(best, classes);
                let condition = if path.is_empty() {
                    "always".to_string()
                } else {
                    path.join(" and ")
                };
                out.push(format!(
                    "{condition} → {class}, P({class})={p:.2}, n={}",
                    node.samples
                ));
            }
        }
    }
}

struct Grower<'a> {
    x: ArrayView2<'a, f64>,
    y: &'a [usize],
    w: &'a [f64],
    classes: usize,
    options: &'a TreeOptions,
    nodes: Vec<Node>,
    importance: Vec<f64>,
}

/// The best split of a node: feature, threshold, impurity decrease, rows going left.
struct Split {
    feature: usize,
    threshold: f64,
    gain: f64,
    left: Vec<usize>,
}

impl Grower<'_> {
    /// Grows the subtree of `rows` at `depth`; returns its node index.
    fn grow(&mut self, rows: Vec<usize>, depth: usize) -> usize {
        let counts = self.class_weights(&rows);
        let total: f64 = counts.iter().sum();
        let index = self.nodes.len();
        self.nodes.push(Node {
            feature: None,
            threshold: 0.0,
            left: 0,
            right: 0,
            probabilities: counts
                .iter()
                .map(|c| if total > 0.0 { c / total } else { 0.0 })
                .collect(),
            samples: rows.len(),
        });
        let pure = counts.iter().filter(|c| **c > 0.0).count() <= 1;
        if pure || depth >= self.options.max_depth || rows.len() < self.options.min_samples_split {
            return index;
        }
        let Some(split) = self.best_split(&rows, &counts) else {
            return index;
        };
        self.importance[split.feature] += split.gain;
        let in_left: std::collections::HashSet<usize> = split.left.iter().copied().collect();
        let right: Vec<usize> = rows.into_iter().filter(|r| !in_left.contains(r)).collect();
        let left = self.grow(split.left, depth + 1);
        let right = self.grow(right, depth + 1);
        let node = &mut self.nodes[index];
        node.feature = Some(split.feature);
        node.threshold = split.threshold;
        node.left = left;
        node.right = right;
        index
    }

    fn class_weights(&self, rows: &[usize]) -> Vec<f64> {
        let mut c = vec![0.0; self.classes];
        for &r in rows {
            c[self.y[r]] += self.w[r];
        }
        c
    }

    /// The split with the largest weighted Gini decrease (ties: lowest feature, then lowest
    /// threshold), or `None` when no split keeps `min_samples_leaf` rows on each side.
    fn best_split(&self, rows: &[usize], counts: &[f64]) -> Option<Split> {
        let total: f64 = counts.iter().sum();
        let parent = total * gini(counts, total);
        let min_leaf = self.options.min_samples_leaf.max(1);
        let mut best: Option<(usize, f64, f64, usize)> = None;
        let mut order = rows.to_vec();
        for f in 0..self.x.ncols() {
            order.sort_by(|&a, &b| self.x[[a, f]].total_cmp(&self.x[[b, f]]));
            let mut left = vec![0.0; self.classes];
            let mut left_total = 0.0;
            for i in 0..order.len() - 1 {
                let r = order[i];
                left[self.y[r]] += self.w[r];
                left_total += self.w[r];
                let (v, next) = (self.x[[r, f]], self.x[[order[i + 1], f]]);
                if v == next || i + 1 < min_leaf || order.len() - i - 1 < min_leaf {
                    continue;
                }
                let right: Vec<f64> = counts.iter().zip(&left).map(|(c, l)| c - l).collect();
                let right_total = total - left_total;
                let child =
                    left_total * gini(&left, left_total) + right_total * gini(&right, right_total);
                let gain = parent - child;
                if gain > 1e-12 && best.is_none_or(|b| gain > b.2 + 1e-12) {
                    best = Some((f, v + (next - v) / 2.0, gain, i + 1));
                }
            }
        }
        let (feature, threshold, gain, _) = best?;
        let left = rows
            .iter()
            .copied()
            .filter(|&r| self.x[[r, feature]] <= threshold)
            .collect();
        Some(Split {
            feature,
            threshold,
            gain,
            left,
        })
    }
}

/// Gini impurity of weighted class counts summing to `total`.
fn gini(counts: &[f64], total: f64) -> f64 {
    if total <= 0.0 {
        return 0.0;
    }
    1.0 - counts
        .iter()
        .map(|c| (c / total) * (c / total))
        .sum::<f64>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    #[test]
    fn learns_an_axis_aligned_rule_with_leaf_probabilities() {
        // bad (1) when income < 3 and no savings; 8 rows of each combination.
        let mut rows = Vec::new();
        let mut y = Vec::new();
        for income in 0..6 {
            for savings in 0..2 {
                for k in 0..4 {
                    rows.extend([income as f64, savings as f64, k as f64]);
                    y.push(usize::from(income < 3 && savings == 0));
                }
            }
        }
        let x = Array2::from_shape_vec((y.len(), 3), rows).expect("matrix");
        let tree = Tree::fit(x.view(), &y, None, &TreeOptions::default()).expect("fit");
        for (i, row) in x.rows().into_iter().enumerate() {
            let p = tree.predict_proba(row.as_slice().expect("row"));
            assert_eq!(p[1], y[i] as f64, "row {i}");
        }
        assert_eq!(
            tree.nodes[0].threshold, 2.5,
            "midpoint threshold on income first"
        );
        assert_eq!(tree.importance[2], 0.0, "the noise column is never used");
        let names = ["income", "savings", "noise"].map(String::from);
        let rules = tree.rules(&names, &["good".into(), "bad".into()]);
        assert_eq!(
            rules,
            vec![
                "income <= 2.5 and savings <= 0.5 → bad, P(bad)=1.00, n=12",
                "income <= 2.5 and savings > 0.5 → good, P(good)=1.00, n=12",
                "income > 2.5 → good, P(good)=1.00, n=24",
            ]
        );
        assert!((tree.importance.iter().sum::<f64>() - 1.0).abs() < 1e-12);
    }

    #[test]
    fn limits_and_weights_shape_the_tree() {
        let x = Array2::from_shape_vec((6, 1), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).expect("x");
        let y = [0, 0, 0, 1, 1, 0];
        let stump = TreeOptions {
            max_depth: 1,
            ..TreeOptions::default()
        };
        let t = Tree::fit(x.view(), &y, None, &stump).expect("fit");
        assert_eq!(t.nodes.len(), 3);
        assert_eq!(t.nodes[0].threshold, 3.5);
        let right = &t.nodes[t.nodes[0].right];
        assert!((right.probabilities[1] - 2.0 / 3.0).abs() < 1e-12);
        // Leaves of at least 3 rows: the only allowed split is in the middle.
        let wide = TreeOptions {
            min_samples_leaf: 3,
            ..TreeOptions::default()
        };
        let t = Tree::fit(x.view(), &y, None, &wide).expect("fit");
        assert!(
            t.nodes
                .iter()
                .all(|n| n.feature.is_some() || n.samples >= 3)
        );
        // Weighting the last row heavily moves its class into the majority on the right.
        let w = [1.0, 1.0, 1.0, 1.0, 1.0, 10.0];
        let t = Tree::fit(x.view(), &y, Some(&w), &stump).expect("fit");
        assert!(t.predict_proba(&[6.0])[0] > 0.5);
        assert!(Tree::fit(x.view(), &y[..5], None, &stump).is_err());
    }
}
