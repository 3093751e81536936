//! Errors of the kernels: one variant per parameter that can be out of range (found when the
//! parameters are checked, before any data is read), and the ways data can be unusable.

/// Everything a kernel can refuse.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Error {
    /// k-means: no cluster asked for.
    #[error("k-means: the number of clusters must be at least 1")]
    NClusters,
    /// k-means: no restart.
    #[error("k-means: n_init (restarts) must be at least 1")]
    NInit,
    /// k-means: no iteration.
    #[error("k-means: max_iter must be at least 1")]
    MaxIter,
    /// k-means: a tolerance that is negative or not a number.
    #[error("k-means: tolerance {0} must be a finite number ≥ 0")]
    Tolerance(f64),
    /// CART: a tree that cannot split.
    #[error("tree: max_depth must be at least 1")]
    MaxDepth,
    /// CART: a split needs two rows.
    #[error("tree: min_samples_split {0} must be at least 2")]
    MinSamplesSplit(usize),
    /// CART: an empty leaf.
    #[error("tree: min_samples_leaf must be at least 1")]
    MinSamplesLeaf,
    /// CART: a pruning strength that is negative or not a number.
    #[error("tree: ccp_alpha {0} must be a finite number ≥ 0")]
    CcpAlpha(f64),
    /// CART: no feature to draw at a node.
    #[error("tree: max_features must be at least 1")]
    MaxFeatures,
    /// Forest: no tree.
    #[error("forest: the number of trees must be at least 1")]
    Trees,
    /// GBDT: no boosting round.
    #[error("gbdt: the number of trees (boosting rounds) must be at least 1")]
    Rounds,
    /// GBDT: a shrinkage that is not a positive number.
    #[error("gbdt: learning_rate {0} must be a finite number > 0")]
    LearningRate(f64),
    /// GBDT: a tree of fewer than two leaves.
    #[error("gbdt: max_leaves {0} must be at least 2")]
    MaxLeaves(usize),
    /// GBDT: a hessian bound that is negative or not a number.
    #[error("gbdt: min_child_weight {0} must be a finite number ≥ 0")]
    MinChildWeight(f64),
    /// GBDT: an L2 penalty that is negative or not a number.
    #[error("gbdt: l2 {0} must be a finite number ≥ 0")]
    L2(f64),
    /// GBDT: a split gain bound that is negative or not a number.
    #[error("gbdt: min_split_gain {0} must be a finite number ≥ 0")]
    MinSplitGain(f64),
    /// GBDT: bins that do not fit a byte, or a single bin.
    #[error("gbdt: max_bins {0} must be between 2 and 255")]
    MaxBins(usize),
    /// GBDT: a row share outside (0, 1].
    #[error("gbdt: subsample {0} must be a share in (0, 1]")]
    Subsample(f64),
    /// GBDT: a feature share outside (0, 1].
    #[error("gbdt: colsample {0} must be a share in (0, 1]")]
    Colsample(f64),
    /// GBDT: a class weight that is not a positive number.
    #[error("gbdt: positive_weight {0} must be a finite number > 0")]
    PositiveWeight(f64),
    /// Binning: fewer than two pre-bins.
    #[error("binning: max_prebins {0} must be at least 2")]
    MaxPrebins(usize),
    /// Binning: a least share of rows per (pre-)bin outside [0, 0.5).
    #[error("binning: a least share of rows per bin, {0}, must be in [0, 0.5)")]
    MinShare(f64),
    /// Binning: no bin.
    #[error("binning: max_bins must be at least 1")]
    MaxBinCount,
    /// Binning: an unknown monotonic trend.
    #[error("monotonic trend '{0}': auto, ascending, descending or none")]
    Trend(String),
    /// Scorecard: points that cannot scale (a non-positive PDO or odds, non-finite base).
    #[error("scorecard: {0}")]
    Scale(String),
    /// Logistic regression: a penalty that is negative or not a number.
    #[error("logistic: alpha {0} must be a finite number ≥ 0")]
    Alpha(f64),
    /// Logistic regression: no iteration.
    #[error("logistic: max_iterations must be at least 1")]
    MaxIterations,
    /// FP-Growth: every itemset would be frequent.
    #[error("FP-Growth: min_count must be at least 1 basket")]
    MinCount,
    /// FP-Growth: itemsets of no item.
    #[error("FP-Growth: max_len must be at least 1 item")]
    MaxLen,
    /// FP-Growth: a guard that stops at once.
    #[error("FP-Growth: max_itemsets must be at least 1")]
    MaxItemsets,
    /// Rules: a confidence outside [0, 1].
    #[error("rules: min_confidence {0} must be between 0 and 1")]
    MinConfidence(f64),
    /// Rules: a lift that is negative or not a number.
    #[error("rules: min_lift {0} must be a finite number ≥ 0")]
    MinLift(f64),
    /// Splits: a test share outside (0, 1).
    #[error("test fraction {0}: give a share between 0 and 1")]
    TestFraction(f64),
    /// Data whose shape does not fit (row and label counts differ, no rows, too many).
    #[error("{0}")]
    Shape(String),
    /// Data with NaN or infinite values where a kernel needs finite numbers.
    #[error("{0}")]
    NonFinite(String),
    /// Parameters that fit no data of this size (more clusters than rows), or a result past
    /// its guard (too many itemsets).
    #[error("{0}")]
    Data(String),
    /// A linfa solver refused its input.
    #[error("{0}")]
    Linfa(String),
}

impl From<linfa::Error> for Error {
    fn from(e: linfa::Error) -> Self {
        Self::Linfa(e.to_string())
    }
}

/// Result with the kernels' [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
