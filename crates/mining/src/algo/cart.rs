//! CART classification trees (Breiman et al.): binary splits `x[f] <= t` chosen by the
//! largest weighted Gini impurity decrease, grown depth-first to `max_depth`, with minimum
//! samples per split and per leaf, per-row weights, an optional random feature subset per
//! node (for forests) and minimal cost-complexity pruning (`ccp_alpha`, as scikit-learn's).
//! Each leaf keeps its weighted class frequencies, so the tree predicts class probabilities.
//! Our own rather than linfa-trees: that one predicts labels only, takes no weights, has no
//! pruning and scans every row at every node.
//!
//! Speed: every feature is sorted once ([`Presorted`]); a node is the same range in every
//! feature's sorted row list, and a split stably partitions each list, so no node sorts
//! again and a level of the tree costs O(rows × features). The best split of each feature is
//! found in one pass keeping Σ(count²) of both sides, and features are scanned (and
//! partitioned) in parallel with rayon on large nodes.
//!
//! A split threshold is the midpoint between two consecutive distinct values, as in
//! scikit-learn, so both give the same partitions on the same data. Features are numeric;
//! categorical columns are encoded before by the caller (see `model::encoding`).

use ndarray::ArrayView2;
use rand::SeedableRng;
use rand::seq::index::sample;
use rand_xoshiro::Xoshiro256PlusPlus;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{Error, ParamGuard, Result, finite_non_negative};

/// Checked growth limits (see [`TreeParams`]), recorded with a fitted model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TreeValidParams {
    max_depth: usize,
    min_samples_split: usize,
    min_samples_leaf: usize,
    ccp_alpha: f64,
    max_features: Option<usize>,
    seed: u64,
}

impl Default for TreeValidParams {
    /// Depth 5, split from 2 rows, leaves of at least 1 row, no pruning, all features.
    fn default() -> Self {
        Self {
            max_depth: 5,
            min_samples_split: 2,
            min_samples_leaf: 1,
            ccp_alpha: 0.0,
            max_features: None,
            seed: 42,
        }
    }
}

impl TreeValidParams {
    /// The same limits drawing `max_features` features per node with `seed` (a forest's
    /// trees); `max_features` is at least 1, so the result is still valid.
    pub(crate) fn drawing(&self, max_features: usize, seed: u64) -> Self {
        Self {
            max_features: Some(max_features.max(1)),
            seed,
            ..self.clone()
        }
    }
}

/// CART growth limits, unchecked: `TreeParams::new().max_depth(4).min_samples_leaf(20)`,
/// then [`ParamGuard::check`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TreeParams(TreeValidParams);

impl TreeParams {
    /// The defaults of [`TreeValidParams::default`].
    pub fn new() -> Self {
        Self::default()
    }
}

params! {
    TreeParams => TreeValidParams, validate: validate_tree,
    /// Deepest level (the root is depth 0).
    max_depth: usize,
    /// Fewest rows a node needs to be split.
    min_samples_split: usize,
    /// Fewest rows each child of a split must keep.
    min_samples_leaf: usize,
    /// Cost-complexity pruning strength: subtrees whose impurity reduction per extra leaf is
    /// at most this are cut back (0 = no pruning).
    ccp_alpha: f64,
    /// Features drawn at random per node (`None` = all; forests use fewer).
    max_features: Option<usize>,
    /// Seed of the feature draws.
    seed: u64,
}

/// Refuses growth limits that cannot work, each with its own error.
fn validate_tree(p: &TreeValidParams) -> Result<()> {
    if p.max_depth == 0 {
        Err(Error::MaxDepth)
    } else if p.min_samples_split < 2 {
        Err(Error::MinSamplesSplit(p.min_samples_split))
    } else if p.min_samples_leaf == 0 {
        Err(Error::MinSamplesLeaf)
    } else if !finite_non_negative(p.ccp_alpha) {
        Err(Error::CcpAlpha(p.ccp_alpha))
    } else if p.max_features == Some(0) {
        Err(Error::MaxFeatures)
    } else {
        Ok(())
    }
}

/// One node: a split, or a leaf when `feature` is `None`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// Summed weight of the rows reaching the node.
    pub weight: f64,
    /// Gini impurity of the node.
    pub impurity: f64,
}

impl Node {
    /// The node's weighted share of class 1 (the positive class of a binary tree).
    pub fn positive(&self) -> f64 {
        self.probabilities.get(1).copied().unwrap_or(0.0)
    }
}

/// A fitted classification tree.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tree {
    /// Nodes; 0 is the root, children follow their parent (pre-order).
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
        options: &TreeValidParams,
    ) -> Result<Self> {
        let presorted = Presorted::new(x)?;
        Self::fit_presorted(&presorted, y, weights, options)
    }

    /// Fits on features sorted once beforehand, so several trees (a forest) share the sort.
    pub fn fit_presorted(
        x: &Presorted,
        y: &[usize],
        weights: Option<&[f64]>,
        options: &TreeValidParams,
    ) -> Result<Self> {
        let n = x.rows;
        if n == 0 || y.len() != n || weights.is_some_and(|w| w.len() != n) {
            return Err(Error::Shape(format!(
                "tree: {n} rows, {} labels, {} weights",
                y.len(),
                weights.map_or(n, <[f64]>::len)
            )));
        }
        if weights.is_some_and(|w| w.iter().any(|v| !v.is_finite() || *v < 0.0)) {
            return Err(Error::NonFinite(
                "tree: weights must be finite and not negative".into(),
            ));
        }
        let classes = y.iter().copied().max().unwrap_or(0) + 1;
        let mut grower = Grower {
            columns: x.columns.clone(),
            goes_left: vec![false; n],
            y: y.iter().map(|&c| c as u32).collect(),
            w: weights.map(<[f64]>::to_vec),
            classes,
            options,
            nodes: Vec::new(),
            rng: Xoshiro256PlusPlus::seed_from_u64(options.seed),
        };
        grower.grow(0, n, 0);
        let mut tree = Self {
            nodes: grower.nodes,
            classes,
            importance: Vec::new(),
        };
        if options.ccp_alpha > 0.0 {
            tree.prune(options.ccp_alpha);
        }
        tree.importance = tree.impurity_decrease(x.columns.len());
        Ok(tree)
    }

    /// Class probabilities of one row.
    pub fn predict_proba(&self, row: &[f64]) -> &[f64] {
        let mut n = 0;
        while let Some(next) = self.child(n, row) {
            n = next;
        }
        &self.nodes[n].probabilities
    }

    /// P(class 1) of one row (the positive class of a binary tree).
    pub fn positive(&self, row: &[f64]) -> f64 {
        self.predict_proba(row).get(1).copied().unwrap_or(0.0)
    }

    /// The nodes a row passes, root first, its leaf last.
    pub fn path(&self, row: &[f64]) -> Vec<usize> {
        let mut path = vec![0];
        while let Some(next) = path.last().and_then(|&n| self.child(n, row)) {
            path.push(next);
        }
        path
    }

    /// The child of node `n` that `row` goes to, `None` at a leaf.
    fn child(&self, n: usize, row: &[f64]) -> Option<usize> {
        let node = &self.nodes[n];
        let f = node.feature?;
        Some(if row[f] <= node.threshold {
            node.left
        } else {
            node.right
        })
    }

    /// Number of leaves.
    pub fn leaves(&self) -> usize {
        self.nodes.iter().filter(|n| n.feature.is_none()).count()
    }

    /// Weighted impurity decrease per feature over the splits, normalised to sum 1.
    fn impurity_decrease(&self, features: usize) -> Vec<f64> {
        let mut importance = vec![0.0; features];
        for node in &self.nodes {
            if let Some(f) = node.feature {
                let (l, r) = (&self.nodes[node.left], &self.nodes[node.right]);
                importance[f] +=
                    node.weight * node.impurity - l.weight * l.impurity - r.weight * r.impurity;
            }
        }
        let total: f64 = importance.iter().sum();
        importance
            .iter()
            .map(|v| if total > 0.0 { v / total } else { 0.0 })
            .collect()
    }

    /// Minimal cost-complexity pruning: while the weakest split (smallest impurity reduction
    /// per extra leaf, the effective alpha) is at most `alpha`, turn it into a leaf. Node
    /// costs are weight share × impurity, as in scikit-learn, so `alpha` means the same.
    fn prune(&mut self, alpha: f64) {
        let total = self.nodes[0].weight.max(f64::MIN_POSITIVE);
        loop {
            // (cost of the leaves below, leaf count) per node, children before parents.
            let mut below = vec![(0.0, 0usize); self.nodes.len()];
            let mut weakest: Option<(usize, f64)> = None;
            for i in (0..self.nodes.len()).rev() {
                let node = &self.nodes[i];
                let own = node.weight / total * node.impurity;
                below[i] = match node.feature {
                    None => (own, 1),
                    Some(_) => {
                        let (l, r) = (below[node.left], below[node.right]);
                        let (cost, leaves) = (l.0 + r.0, l.1 + r.1);
                        let effective = (own - cost) / (leaves as f64 - 1.0);
                        if weakest.is_none_or(|w| effective <= w.1) {
                            weakest = Some((i, effective));
                        }
                        (cost, leaves)
                    }
                };
            }
            match weakest {
                Some((i, effective)) if effective <= alpha => self.nodes[i].feature = None,
                _ => break,
            }
        }
        self.compact();
    }

    /// Drops the nodes no longer reachable after pruning, keeping pre-order.
    fn compact(&mut self) {
        let mut kept = Vec::new();
        let mut stack = vec![0];
        let mut index = vec![usize::MAX; self.nodes.len()];
        while let Some(i) = stack.pop() {
            index[i] = kept.len();
            kept.push(i);
            if self.nodes[i].feature.is_some() {
                stack.push(self.nodes[i].right);
                stack.push(self.nodes[i].left);
            }
        }
        let mut nodes: Vec<Node> = kept.iter().map(|&i| self.nodes[i].clone()).collect();
        for node in &mut nodes {
            if node.feature.is_some() {
                node.left = index[node.left];
                node.right = index[node.right];
            } else {
                node.left = 0;
                node.right = 0;
            }
        }
        self.nodes = nodes;
    }
}

impl Tree {
    /// The leaves as readable rules, one per leaf in tree order: the conditions on the path,
    /// the most probable class with its probability, and the rows behind it, e.g.
    /// `income > 52000 and savings = yes → good, P(good)=0.93, n=412`. `condition` words one
    /// test: feature index, threshold, and whether the row went left (`<=`). Repeated tests
    /// of a feature on a path are merged into the tightest bounds.
    pub fn rules(
        &self,
        condition: &dyn Fn(usize, f64, bool) -> String,
        classes: &[String],
    ) -> Vec<String> {
        let mut out = Vec::new();
        self.rules_below(0, &mut Vec::new(), condition, classes, &mut out);
        out
    }

    fn rules_below(
        &self,
        n: usize,
        path: &mut Vec<(usize, f64, bool)>,
        condition: &dyn Fn(usize, f64, bool) -> String,
        classes: &[String],
        out: &mut Vec<String>,
    ) {
        let node = &self.nodes[n];
        match node.feature {
            Some(f) => {
                path.push((f, node.threshold, true));
                self.rules_below(node.left, path, condition, classes, out);
                path.pop();
                path.push((f, node.threshold, false));
                self.rules_below(node.right, path, condition, classes, out);
                path.pop();
            }
            None => {
                let (best, p) = node
                    .probabilities
                    .iter()
                    .enumerate()
                    .fold((0, f64::MIN), |b, (c, &p)| if p > b.1 { (c, p) } else { b });
                let class = classes
                    .get(best)
                    .cloned()
                    .unwrap_or_else(|| best.to_string());
                let conditions = merged(path)
                    .into_iter()
                    .map(|(f, t, left)| condition(f, t, left))
                    .collect::<Vec<_>>();
                let condition = if conditions.is_empty() {
                    "always".to_string()
                } else {
                    conditions.join(" and ")
                };
                out.push(format!(
                    "{condition} → {class}, P({class})={p:.2}, n={}",
                    node.samples
                ));
            }
        }
    }
}

/// The tests of a path with, per feature and direction, only the tightest kept (the lowest
/// `<=` bound, the highest `>` bound), in order of each feature's first test.
fn merged(path: &[(usize, f64, bool)]) -> Vec<(usize, f64, bool)> {
    let mut out: Vec<(usize, f64, bool)> = Vec::new();
    for &(f, t, left) in path {
        match out.iter_mut().find(|c| c.0 == f && c.2 == left) {
            Some(c) if left => c.1 = c.1.min(t),
            Some(c) => c.1 = c.1.max(t),
            None => out.push((f, t, left)),
        }
    }
    out.sort_by_key(|c| path.iter().position(|p| p.0 == c.0).unwrap_or(usize::MAX));
    out
}

/// One feature sorted: row numbers and their values in ascending value order.
#[derive(Debug, Clone)]
struct SortedColumn {
    rows: Vec<u32>,
    values: Vec<f64>,
}

/// Every feature of a matrix sorted once, the input of tree growing.
#[derive(Debug, Clone)]
pub struct Presorted {
    columns: Vec<SortedColumn>,
    rows: usize,
}

impl Presorted {
    /// Sorts each column of `x` (in parallel); refuses non-finite values and more than
    /// 2³² rows.
    pub fn new(x: ArrayView2<'_, f64>) -> Result<Self> {
        let rows = x.nrows();
        if u32::try_from(rows).is_err() {
            return Err(Error::Shape(format!("tree: {rows} rows, at most 2^32")));
        }
        if x.iter().any(|v| !v.is_finite()) {
            return Err(Error::NonFinite(
                "tree: features must be finite numbers".into(),
            ));
        }
        let columns = (0..x.ncols())
            .into_par_iter()
            .map(|f| {
                let column = x.column(f);
                let mut rows: Vec<u32> = (0..rows as u32).collect();
                rows.sort_by(|&a, &b| column[a as usize].total_cmp(&column[b as usize]));
                let values = rows.iter().map(|&r| column[r as usize]).collect();
                SortedColumn { rows, values }
            })
            .collect();
        Ok(Self { columns, rows })
    }
}

struct Grower<'a> {
    columns: Vec<SortedColumn>,
    /// Per row: goes to the left child of the node being split.
    goes_left: Vec<bool>,
    y: Vec<u32>,
    w: Option<Vec<f64>>,
    classes: usize,
    options: &'a TreeValidParams,
    nodes: Vec<Node>,
    rng: Xoshiro256PlusPlus,
}

/// The best split of one feature in a node.
#[derive(Clone, Copy)]
struct Candidate {
    feature: usize,
    threshold: f64,
    /// Σ(count²)/total of the left plus of the right side (larger = purer children).
    score: f64,
    /// Rows going left.
    left: usize,
}

/// Below this many row × feature visits a node is scanned on one thread.
const PARALLEL_WORK: usize = 200_000;

impl Grower<'_> {
    /// Grows the subtree of the rows in `lo..hi` of every sorted column, at `depth`;
    /// returns its node index.
    fn grow(&mut self, lo: usize, hi: usize, depth: usize) -> usize {
        let mut counts = vec![0.0; self.classes];
        for &r in &self.columns[0].rows[lo..hi] {
            counts[self.y[r as usize] as usize] += self.weight(r);
        }
        let total: f64 = counts.iter().sum();
        let squares: f64 = counts.iter().map(|c| c * c).sum();
        let impurity = if total > 0.0 {
            1.0 - squares / (total * total)
        } else {
            0.0
        };
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
            samples: hi - lo,
            weight: total,
            impurity,
        });
        let o = self.options;
        if impurity <= 1e-12 || depth >= o.max_depth || hi - lo < o.min_samples_split {
            return index;
        }
        let Some(split) = self.best_split(lo, hi, &counts, squares / total) else {
            return index;
        };
        self.partition(lo, hi, &split);
        let left = self.grow(lo, lo + split.left, depth + 1);
        let right = self.grow(lo + split.left, hi, depth + 1);
        let node = &mut self.nodes[index];
        node.feature = Some(split.feature);
        node.threshold = split.threshold;
        node.left = left;
        node.right = right;
        index
    }

    fn weight(&self, row: u32) -> f64 {
        self.w.as_ref().map_or(1.0, |w| w[row as usize])
    }

    /// The split with the largest Gini decrease over the node's (possibly drawn) features
    /// (ties: lowest feature, then lowest threshold), or `None` when no split improves the
    /// node while keeping `min_samples_leaf` rows on each side.
    fn best_split(
        &mut self,
        lo: usize,
        hi: usize,
        counts: &[f64],
        parent: f64,
    ) -> Option<Candidate> {
        let features: Vec<usize> = match self.options.max_features {
            Some(m) if m < self.columns.len() => {
                let mut drawn = sample(&mut self.rng, self.columns.len(), m).into_vec();
                drawn.sort_unstable();
                drawn
            }
            _ => (0..self.columns.len()).collect(),
        };
        let scan = |&f: &usize| self.scan(f, lo, hi, counts);
        let found: Vec<Option<Candidate>> = if (hi - lo) * features.len() >= PARALLEL_WORK {
            features.par_iter().map(scan).collect()
        } else {
            features.iter().map(scan).collect()
        };
        let best = found
            .into_iter()
            .flatten()
            .fold(None, |best: Option<Candidate>, c| {
                if best.is_none_or(|b| c.score > b.score + 1e-12 * c.score.abs().max(1.0)) {
                    Some(c)
                } else {
                    best
                }
            })?;
        (best.score > parent + 1e-12 * parent.abs().max(1.0)).then_some(best)
    }

    /// The best threshold of feature `f` in `lo..hi`: one pass in value order keeping the
    /// left class weights and Σ(count²) of both sides.
    fn scan(&self, f: usize, lo: usize, hi: usize, counts: &[f64]) -> Option<Candidate> {
        let column = &self.columns[f];
        let (rows, values) = (&column.rows[lo..hi], &column.values[lo..hi]);
        let total: f64 = counts.iter().sum();
        let mut left = vec![0.0; self.classes];
        let mut left_squares = 0.0;
        let mut right_squares: f64 = counts.iter().map(|c| c * c).sum();
        let mut left_total = 0.0;
        let min_leaf = self.options.min_samples_leaf;
        let n = rows.len();
        let mut best: Option<Candidate> = None;
        for i in 0..n - 1 {
            let r = rows[i];
            let c = self.y[r as usize] as usize;
            let w = self.weight(r);
            let (l, right) = (left[c], counts[c] - left[c]);
            left_squares += (l + w) * (l + w) - l * l;
            right_squares += (right - w) * (right - w) - right * right;
            left[c] = l + w;
            left_total += w;
            let (v, next) = (values[i], values[i + 1]);
            if v == next || i + 1 < min_leaf || n - i - 1 < min_leaf {
                continue;
            }
            let right_total = total - left_total;
            if left_total <= 0.0 || right_total <= 0.0 {
                continue;
            }
            let score = left_squares / left_total + right_squares / right_total;
            if best.is_none_or(|b| score > b.score + 1e-12 * score.abs().max(1.0)) {
                let mut threshold = v / 2.0 + next / 2.0;
                if threshold >= next {
                    threshold = v;
                }
                best = Some(Candidate {
                    feature: f,
                    threshold,
                    score,
                    left: i + 1,
                });
            }
        }
        best
    }

    /// Marks the rows going left, then stably partitions every other column's `lo..hi`
    /// range into left rows followed by right rows (the split column already is).
    fn partition(&mut self, lo: usize, hi: usize, split: &Candidate) {
        let mid = lo + split.left;
        for (i, &r) in self.columns[split.feature].rows[lo..hi].iter().enumerate() {
            self.goes_left[r as usize] = lo + i < mid;
        }
        let goes_left = &self.goes_left;
        let work = |(f, column): (usize, &mut SortedColumn)| {
            if f == split.feature {
                return;
            }
            let mut right = Vec::with_capacity(hi - mid);
            let mut at = lo;
            for i in lo..hi {
                let (r, v) = (column.rows[i], column.values[i]);
                if goes_left[r as usize] {
                    column.rows[at] = r;
                    column.values[at] = v;
                    at += 1;
                } else {
                    right.push((r, v));
                }
            }
            for (i, (r, v)) in right.into_iter().enumerate() {
                column.rows[mid + i] = r;
                column.values[mid + i] = v;
            }
        };
        if (hi - lo) * self.columns.len() >= PARALLEL_WORK {
            self.columns.par_iter_mut().enumerate().for_each(work);
        } else {
            self.columns.iter_mut().enumerate().for_each(work);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::Array2;

    fn words(f: usize, t: f64, left: bool) -> String {
        let name = ["income", "savings", "noise", "x"][f];
        format!("{name} {} {t}", if left { "<=" } else { ">" })
    }

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
        let tree = Tree::fit(x.view(), &y, None, &TreeValidParams::default()).expect("fit");
        for (i, row) in x.rows().into_iter().enumerate() {
            let p = tree.predict_proba(row.as_slice().expect("row"));
            assert_eq!(p[1], y[i] as f64, "row {i}");
        }
        assert_eq!(
            tree.nodes[0].threshold, 2.5,
            "midpoint threshold on income first"
        );
        assert_eq!(tree.importance[2], 0.0, "the noise column is never used");
        let rules = tree.rules(&words, &["good".into(), "bad".into()]);
        assert_eq!(
            rules,
            vec![
                "income <= 2.5 and savings <= 0.5 → bad, P(bad)=1.00, n=12",
                "income <= 2.5 and savings > 0.5 → good, P(good)=1.00, n=12",
                "income > 2.5 → good, P(good)=1.00, n=24",
            ]
        );
        assert!((tree.importance.iter().sum::<f64>() - 1.0).abs() < 1e-12);
        assert_eq!(tree.path(&[1.0, 0.0, 0.0]), vec![0, 1, 2]);
    }

    #[test]
    fn rule_paths_keep_the_tightest_bound_per_feature() {
        let path = [
            (0, 10.0, true),
            (0, 5.0, true),
            (1, 0.5, false),
            (0, 2.0, false),
        ];
        assert_eq!(
            merged(&path),
            vec![(0, 5.0, true), (0, 2.0, false), (1, 0.5, false)]
        );
    }

    #[test]
    fn limits_and_weights_shape_the_tree() {
        let x = Array2::from_shape_vec((6, 1), vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).expect("x");
        let y = [0, 0, 0, 1, 1, 0];
        let stump = TreeParams::new().max_depth(1).check().expect("valid");
        let t = Tree::fit(x.view(), &y, None, &stump).expect("fit");
        assert_eq!(t.nodes.len(), 3);
        assert_eq!(t.nodes[0].threshold, 3.5);
        let right = &t.nodes[t.nodes[0].right];
        assert!((right.probabilities[1] - 2.0 / 3.0).abs() < 1e-12);
        // Leaves of at least 3 rows: the only allowed split is in the middle.
        let wide = TreeParams::new()
            .min_samples_leaf(3)
            .check()
            .expect("valid");
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
        let nan = Array2::from_shape_vec((2, 1), vec![1.0, f64::NAN]).expect("x");
        assert!(Tree::fit(nan.view(), &[0, 1], None, &stump).is_err());
    }

    /// The per-node sorting tree this module replaced: the reference for the presorted one.
    fn brute_force_best(x: &Array2<f64>, y: &[usize], min_leaf: usize) -> Option<(usize, f64)> {
        let n = x.nrows();
        let score = |rows: &[usize]| {
            let mut c = [0.0f64; 3];
            for &r in rows {
                c[y[r]] += 1.0;
            }
            let t: f64 = c.iter().sum();
            c.iter().map(|v| v * v).sum::<f64>() / t
        };
        let mut best: Option<(usize, f64, f64)> = None;
        for f in 0..x.ncols() {
            let mut values: Vec<f64> = x.column(f).to_vec();
            values.sort_by(f64::total_cmp);
            values.dedup();
            for pair in values.windows(2) {
                let t = pair[0] / 2.0 + pair[1] / 2.0;
                let (l, r): (Vec<usize>, Vec<usize>) = (0..n).partition(|&i| x[[i, f]] <= t);
                if l.len() < min_leaf || r.len() < min_leaf {
                    continue;
                }
                let s = score(&l) + score(&r);
                if best.is_none_or(|b| s > b.2 + 1e-9) {
                    best = Some((f, t, s));
                }
            }
        }
        best.map(|b| (b.0, b.1))
    }

    #[test]
    fn root_split_equals_exhaustive_search_on_random_data() {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(7);
        use rand::Rng;
        for case in 0..200 {
            let n = rng.random_range(5..60);
            let f = rng.random_range(1..4);
            let levels = rng.random_range(2..8);
            let x = Array2::from_shape_fn((n, f), |_| rng.random_range(0..levels) as f64);
            let y: Vec<usize> = (0..n).map(|_| rng.random_range(0..3)).collect();
            let min_leaf = rng.random_range(1..4);
            let options = TreeParams::new()
                .max_depth(1)
                .min_samples_leaf(min_leaf)
                .check()
                .expect("valid");
            let tree = Tree::fit(x.view(), &y, None, &options).expect("fit");
            let expected = brute_force_best(&x, &y, min_leaf);
            let got = tree.nodes[0].feature.map(|f| (f, tree.nodes[0].threshold));
            // A split that does not reduce impurity is not taken; the exhaustive search
            // only matters where the tree split.
            if let Some(got) = got {
                assert_eq!(Some(got), expected, "case {case}");
            }
            let leaf_rows: usize = tree
                .nodes
                .iter()
                .filter(|n| n.feature.is_none())
                .map(|n| n.samples)
                .sum();
            assert_eq!(leaf_rows, n, "case {case}: leaves cover every row");
        }
    }

    #[test]
    fn pruning_cuts_weak_splits_first_and_keeps_strong_ones() {
        // A strong split on x0 and a weak one (a single noisy row) on x1 below it.
        let mut rows = Vec::new();
        let mut y = Vec::new();
        for i in 0..40 {
            let x0 = f64::from(i % 2);
            let x1 = f64::from(i % 5);
            rows.extend([x0, x1]);
            y.push(usize::from(x0 == 1.0) ^ usize::from(i == 3));
        }
        let x = Array2::from_shape_vec((40, 2), rows).expect("x");
        let full = Tree::fit(x.view(), &y, None, &TreeValidParams::default()).expect("fit");
        assert!(full.leaves() > 2);
        let pruned = Tree::fit(
            x.view(),
            &y,
            None,
            &TreeParams::new().ccp_alpha(0.01).check().expect("valid"),
        )
        .expect("fit");
        assert_eq!(pruned.leaves(), 2, "only the strong split is left");
        assert_eq!(pruned.nodes[0].feature, Some(0));
        assert_eq!(pruned.nodes.len(), 3, "unreachable nodes are dropped");
        assert_eq!(pruned.importance, vec![1.0, 0.0]);
    }

    #[test]
    fn each_bad_parameter_has_its_own_error() {
        let check = |p: TreeParams| p.check().map(|_| ());
        assert_eq!(check(TreeParams::new().max_depth(0)), Err(Error::MaxDepth));
        assert_eq!(
            check(TreeParams::new().min_samples_split(1)),
            Err(Error::MinSamplesSplit(1))
        );
        assert_eq!(
            check(TreeParams::new().min_samples_leaf(0)),
            Err(Error::MinSamplesLeaf)
        );
        assert_eq!(
            check(TreeParams::new().ccp_alpha(-0.1)),
            Err(Error::CcpAlpha(-0.1))
        );
        assert!(matches!(
            check(TreeParams::new().ccp_alpha(f64::NAN)),
            Err(Error::CcpAlpha(_))
        ));
        assert_eq!(
            check(TreeParams::new().max_features(Some(0))),
            Err(Error::MaxFeatures)
        );
        assert_eq!(check(TreeParams::new().max_features(Some(1))), Ok(()));
    }
}
