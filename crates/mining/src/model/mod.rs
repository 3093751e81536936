//! Predictive models for credit scoring and churn: training data as typed columns
//! ([`frame`]), encoded into features ([`encoding`]), split by time or stratified
//! ([`split`]), fitted as a CART tree, a logistic regression, a random forest or
//! gradient-boosted trees, measured
//! with the credit and churn metrics ([`metrics`]), saved in the warehouse's model registry
//! ([`registry`]) and applied from the CLI or from SQL ([`udf`]).
//!
//! Every model predicts P(positive) for a binary target (bad loan, churner), explains each
//! prediction by per-input contributions (the reasons), and carries its encoding, so data to
//! score is encoded exactly as the training data was.

pub mod encoding;
mod file;
pub mod monitor;
pub mod registry;
pub mod source;
pub mod udf;

use std::str::FromStr;

use ndarray::{Array2, ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

use acrm_olap::{Frame, Values};

use crate::algo::ParamGuard;
use crate::algo::cart::{Tree, TreeParams, TreeValidParams};
use crate::algo::forest::{Forest, ForestParams};
use crate::algo::gbdt::{Gbdt, GbdtValidParams};
use crate::algo::logistic::{Logistic, LogisticParams};
use crate::algo::metrics::{self, Evaluation};
use crate::algo::scorecard::{Scale, Scorecard, ScorecardValidParams};
use crate::algo::split::{self, SplitKind};
use crate::{Error, Result};
use encoding::{Encoding, Missing, Skipped};
use source::Loaded;

/// The model families acrm trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// One CART tree: readable rules.
    Tree,
    /// L2 logistic regression on standardised features.
    Logistic,
    /// Random forest of CART trees.
    Forest,
    /// Gradient-boosted trees (histogram-based, log-loss).
    Gbdt,
    /// A credit scorecard: optimal bins, WoE logistic regression, a points table.
    Scorecard,
}

impl Kind {
    /// Its name on the command line and in the registry.
    pub fn name(self) -> &'static str {
        match self {
            Self::Tree => "tree",
            Self::Logistic => "logistic",
            Self::Forest => "forest",
            Self::Gbdt => "gbdt",
            Self::Scorecard => "scorecard",
        }
    }
}

impl FromStr for Kind {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self> {
        match s {
            "tree" => Ok(Self::Tree),
            "logistic" => Ok(Self::Logistic),
            "forest" => Ok(Self::Forest),
            "gbdt" => Ok(Self::Gbdt),
            "scorecard" => Ok(Self::Scorecard),
            _ => Err(Error::Invalid(format!(
                "unknown model kind '{s}' (tree, logistic, forest, gbdt, scorecard)"
            ))),
        }
    }
}

/// A fitted classifier of any kind.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Classifier {
    /// A CART tree (class 1 = positive).
    Tree(Tree),
    /// A logistic regression.
    Logistic(Logistic),
    /// A random forest (class 1 = positive).
    Forest(Forest),
    /// Gradient-boosted trees.
    Gbdt(Gbdt),
    /// A scorecard (its points give P(bad)).
    Scorecard(Scorecard),
}

impl Classifier {
    /// P(positive) of each row.
    pub fn probabilities(&self, x: ArrayView2<'_, f64>) -> Vec<f64> {
        x.rows()
            .into_iter()
            .map(|row| with_slice(row, |row| self.probability(row)))
            .collect()
    }

    /// P(positive) of one row.
    pub fn probability(&self, row: &[f64]) -> f64 {
        match self {
            Self::Tree(t) => t.positive(row),
            Self::Logistic(l) => l.probability(row),
            Self::Forest(f) => f.probability(row),
            Self::Gbdt(g) => g.probability(row),
            Self::Scorecard(s) => s.probability(ArrayView1::from(row)),
        }
    }

    /// Per-feature contributions to one row's prediction: for trees the change in
    /// P(positive) at each split on the row's path, credited to the split's feature
    /// (Saabas), averaged over a forest's trees; for boosted trees the same in log-odds,
    /// summed over the trees; for logistic regression each feature's share of the log-odds.
    pub fn contributions(&self, row: &[f64], features: usize) -> Vec<f64> {
        let tree_path = |t: &Tree, out: &mut Vec<f64>, scale: f64| {
            let path = t.path(row);
            for pair in path.windows(2) {
                let (parent, child) = (&t.nodes[pair[0]], &t.nodes[pair[1]]);
                if let Some(f) = parent.feature {
                    out[f] += scale * (child.positive() - parent.positive());
                }
            }
        };
        let mut out = vec![0.0; features];
        match self {
            Self::Tree(t) => tree_path(t, &mut out, 1.0),
            Self::Forest(f) => {
                for t in &f.trees {
                    tree_path(t, &mut out, 1.0 / f.trees.len() as f64);
                }
            }
            Self::Logistic(l) => out = l.contributions(row),
            Self::Gbdt(g) => out = g.contributions(row, features),
            Self::Scorecard(s) => out = s.contributions(ArrayView1::from(row), features),
        }
        out
    }

    /// Importance per feature (normalised impurity decrease for trees and forests, split
    /// gain for boosted trees; |weight| share on standardised features for logistic
    /// regression; information value share for a scorecard, on each characteristic's first
    /// feature). `features` is the number of matrix columns.
    pub fn importance(&self, features: usize) -> Vec<f64> {
        match self {
            Self::Tree(t) => t.importance.clone(),
            Self::Forest(f) => f.importance(),
            Self::Gbdt(g) => g.importance.clone(),
            Self::Scorecard(s) => s.importance(features),
            Self::Logistic(l) => {
                let total: f64 = l.coefficients.iter().map(|w| w.abs()).sum();
                l.coefficients
                    .iter()
                    .map(|w| if total > 0.0 { w.abs() / total } else { 0.0 })
                    .collect()
            }
        }
    }
}

/// Calls `f` with a matrix row as a slice, copying only a row that is not contiguous (the
/// encoded matrices are, so scoring allocates nothing per row).
fn with_slice<T>(row: ndarray::ArrayView1<'_, f64>, f: impl FnOnce(&[f64]) -> T) -> T {
    match row.as_slice() {
        Some(slice) => f(slice),
        None => f(&row.to_vec()),
    }
}

/// What the errors of a model cost, for choosing its cut-off.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Costs {
    /// Cost of a missed positive (a bad loan granted, a churner not contacted).
    pub false_negative: f64,
    /// Cost of a false alarm (a good applicant refused, a loyal customer contacted).
    pub false_positive: f64,
}

/// How to train.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainOptions {
    /// Model family.
    pub kind: Kind,
    /// Tree growth (trees and forests).
    pub tree: TreeValidParams,
    /// Trees in a forest.
    pub trees: usize,
    /// Boosting (rounds, leaves, shrinkage, sampling, early stopping); its seed is `seed`.
    #[serde(default)]
    pub gbdt: GbdtValidParams,
    /// Scorecard binning, IV bound, penalty and points scaling.
    #[serde(default)]
    pub scorecard: ScorecardValidParams,
    /// L2 penalty of logistic regression (1/C of scikit-learn).
    pub alpha: f64,
    /// Seed of everything random (splits, forests).
    pub seed: u64,
    /// Error costs for the cut-off.
    pub costs: Costs,
    /// Text columns with more distinct values are not used.
    pub max_categories: usize,
}

impl Default for TrainOptions {
    /// A depth-5 tree with leaves of ≥ 20 rows; 100-tree forests; α = 1; seed 42; a missed
    /// positive costs 5 false alarms; at most 30 categories per text column.
    fn default() -> Self {
        Self {
            kind: Kind::Tree,
            // Valid by construction (`defaults_are_valid` checks): the fallback never runs.
            tree: TreeParams::new()
                .min_samples_leaf(20)
                .check()
                .unwrap_or_default(),
            trees: 100,
            gbdt: GbdtValidParams::default(),
            scorecard: ScorecardValidParams::default(),
            alpha: 1.0,
            seed: 42,
            costs: Costs {
                false_negative: 5.0,
                false_positive: 1.0,
            },
            max_categories: 30,
        }
    }
}

/// The target of a model and the columns that are not features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    /// Target column.
    pub column: String,
    /// Its value that counts as positive (e.g. `bad`, `true`).
    pub positive: String,
    /// Id column, kept for scoring output (not a feature).
    pub id: Option<String>,
    /// Columns that are not features (ids, dates, leakage).
    pub exclude: Vec<String>,
    /// Row weight column (not a feature).
    #[serde(default)]
    pub weight: Option<String>,
}

impl Target {
    /// Display names of the (negative, positive) classes: the values themselves, or for a
    /// true/false target the column name and "not" it (`churned`, `not churned`).
    pub fn class_names(&self, negative: &str) -> [String; 2] {
        if self.positive == "true" && negative == "false" {
            [format!("not {}", self.column), self.column.clone()]
        } else {
            [negative.to_string(), self.positive.clone()]
        }
    }
}

/// Where the training data came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DataInfo {
    /// The table, query or file.
    pub source: String,
    /// Warehouse version (`warehouse v12`) or file checksum (`blake3:…`).
    pub snapshot: String,
    /// How train and test were split.
    pub split: SplitKind,
    /// Training rows.
    pub train_rows: usize,
    /// Test rows.
    pub test_rows: usize,
    /// Rows without a target value, left out.
    pub unlabelled_rows: usize,
}

/// A trained model with everything needed to apply, explain and audit it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Model {
    /// Registry name (`credit-v3`), set when saved.
    pub name: String,
    /// Task: `credit`, `churn` or any other name.
    pub task: String,
    /// Version within the task.
    pub version: u32,
    /// Model family.
    pub kind: Kind,
    /// Target and non-feature columns.
    pub target: Target,
    /// The other target value.
    pub negative: String,
    /// How inputs become features.
    pub encoding: Encoding,
    /// Columns not used, and why.
    pub skipped: Vec<Skipped>,
    /// The fitted classifier.
    pub classifier: Classifier,
    /// Training parameters and seed.
    pub options: TrainOptions,
    /// Training data.
    pub data: DataInfo,
    /// Cut-off: P(positive) at or above it is flagged (least cost on the training rows).
    pub cutoff: f64,
    /// Measures on the training rows.
    pub train_metrics: Evaluation,
    /// Measures on the test rows.
    pub test_metrics: Evaluation,
    /// Importance per feature, largest first.
    pub importance: Vec<(String, f64)>,
    /// A tree's leaves as rules (empty for other kinds).
    pub rules: Vec<String>,
    /// Seconds the fit took (the classifier only, not reading or encoding the data).
    pub fit_seconds: f64,
    /// The training population's score and input distributions, for stability monitoring
    /// (absent from models saved before monitoring existed).
    #[serde(default)]
    pub baseline: Option<monitor::Baseline>,
    /// Creation time (RFC 3339, UTC).
    pub created: String,
}

/// Binary labels of `frame`'s target: `Some(true)` for `positive`, `None` where the target
/// is missing. Errors unless the target has exactly two values, one of them `positive`.
/// Returns the labels and the negative value.
pub fn labels(frame: &Frame, target: &Target) -> Result<(Vec<Option<bool>>, String)> {
    let column = frame.require(&target.column, "target")?;
    let texts: Vec<Option<String>> = (0..frame.rows).map(|r| column.text(r)).collect();
    let values: std::collections::BTreeSet<&String> = texts.iter().flatten().collect();
    if values.len() != 2 || !values.contains(&target.positive) {
        return Err(Error::Invalid(format!(
            "target '{}' must have two values, one of them '{}'; it has {:?}",
            target.column,
            target.positive,
            values.iter().take(10).collect::<Vec<_>>()
        )));
    }
    let negative = values
        .iter()
        .find(|v| **v != &target.positive)
        .map(|v| (*v).clone())
        .unwrap_or_default();
    let labels = texts
        .iter()
        .map(|t| t.as_ref().map(|t| t == &target.positive))
        .collect();
    Ok((labels, negative))
}

/// Fits a classifier of `options.kind` to rows `x` (encoded by `encoding`) with labels `y`
/// and optional row `weights`.
pub fn fit_classifier(
    x: ArrayView2<'_, f64>,
    y: &[bool],
    weights: Option<&[f64]>,
    encoding: &Encoding,
    options: &TrainOptions,
) -> Result<Classifier> {
    let classes: Vec<usize> = y.iter().map(|&b| usize::from(b)).collect();
    Ok(match options.kind {
        Kind::Tree => Classifier::Tree(Tree::fit(x, &classes, weights, &options.tree)?),
        Kind::Logistic => {
            let params = LogisticParams::new().alpha(options.alpha).check()?;
            Classifier::Logistic(Logistic::fit(x, y, weights, &params)?)
        }
        Kind::Scorecard => {
            Classifier::Scorecard(options.scorecard.fit(x, y, weights, &encoding.sources())?)
        }
        Kind::Forest => {
            let params = ForestParams::new(options.tree.clone())
                .trees(options.trees)
                .seed(options.seed)
                .check()?;
            Classifier::Forest(params.fit(x, &classes, weights)?)
        }
        Kind::Gbdt => Classifier::Gbdt(options.gbdt.fit(x, y, weights)?),
    })
}

/// The weights of `frame`'s rows from column `name`: numbers, finite and not negative.
fn row_weights(frame: &Frame, name: &str) -> Result<Vec<f64>> {
    let column = frame.require(name, "weight")?;
    let Values::Numeric(values) = &column.values else {
        return Err(Error::Invalid(format!(
            "weight column '{name}' is not numeric"
        )));
    };
    values
        .iter()
        .enumerate()
        .map(|(r, v)| match v {
            Some(w) if w.is_finite() && *w >= 0.0 => Ok(*w),
            _ => Err(Error::Invalid(format!(
                "weight column '{name}', row {}: {v:?} is not a weight (a number ≥ 0)",
                r + 1
            ))),
        })
        .collect()
}

/// Labelled rows for training or testing: the frame and one label per row.
#[derive(Debug, Clone)]
pub struct Labelled {
    /// Rows (the target column included; it is not a feature).
    pub frame: Frame,
    /// Label per row.
    pub labels: Vec<bool>,
}

impl Labelled {
    /// The rows of `frame` that have a label, with their labels.
    pub fn known(frame: &Frame, labels: &[Option<bool>]) -> Self {
        let rows: Vec<usize> = (0..frame.rows).filter(|&r| labels[r].is_some()).collect();
        Self {
            frame: frame.take(&rows),
            labels: rows.iter().filter_map(|&r| labels[r]).collect(),
        }
    }

    /// The rows at `rows`.
    pub fn take(&self, rows: &[usize]) -> Self {
        Self {
            frame: self.frame.take(rows),
            labels: rows.iter().map(|&r| self.labels[r]).collect(),
        }
    }
}

/// A freshly trained model with its predictions on the test rows.
#[derive(Debug, Clone)]
pub struct Trained {
    /// The model.
    pub model: Model,
    /// Test row ids (the id column as text; the row number without one).
    pub test_ids: Vec<String>,
    /// Test labels.
    pub test_labels: Vec<bool>,
    /// P(positive) of each test row.
    pub test_scores: Vec<f64>,
}

/// Trains a model of `task` on `train`, measures it on `test`, and fills in everything but
/// its registry name and version. `data` says where the rows came from.
pub fn train(
    task: &str,
    train: &Labelled,
    test: &Labelled,
    target: &Target,
    negative: &str,
    options: &TrainOptions,
    data: DataInfo,
) -> Result<Trained> {
    if train.labels.iter().all(|&l| l) || !train.labels.iter().any(|&l| l) {
        return Err(Error::Invalid(format!(
            "the {} training rows hold one target value only",
            train.labels.len()
        )));
    }
    let mut exclude: Vec<&str> = vec![target.column.as_str()];
    exclude.extend(target.id.as_deref());
    exclude.extend(target.weight.as_deref());
    exclude.extend(target.exclude.iter().map(String::as_str));
    // Boosted trees learn where missing values go, and a scorecard bins them on their own;
    // the other kinds see them filled.
    let missing = match options.kind {
        Kind::Gbdt | Kind::Scorecard => Missing::Keep,
        Kind::Tree | Kind::Logistic | Kind::Forest => Missing::Impute,
    };
    let (encoding, skipped) =
        Encoding::fit(&train.frame, &exclude, options.max_categories, missing)?;
    for s in &skipped {
        tracing::info!(column = %s.name, reason = %s.reason, "column not used as a feature");
    }
    let x_train = encoding.transform(&train.frame)?;
    let x_test = encoding.transform(&test.frame)?;
    let started = std::time::Instant::now();
    let weights = match &target.weight {
        Some(name) => Some(row_weights(&train.frame, name)?),
        None => None,
    };
    let classifier = fit_classifier(
        x_train.view(),
        &train.labels,
        weights.as_deref(),
        &encoding,
        options,
    )?;
    let fit_seconds = started.elapsed().as_secs_f64();
    tracing::info!(kind = options.kind.name(), fit_seconds, "model fitted");
    let train_scores = classifier.probabilities(x_train.view());
    let scorecard = match &classifier {
        Classifier::Scorecard(s) => Some(s),
        _ => None,
    };
    let baseline = monitor::Baseline::fit(
        scorecard,
        &encoding,
        &train.frame,
        &exclude,
        options.max_categories,
        &train_scores,
    )?;
    let test_scores = classifier.probabilities(x_test.view());
    let costs = options.costs;
    let (cutoff, _) = metrics::cheapest_cutoff(
        &train_scores,
        &train.labels,
        costs.false_negative,
        costs.false_positive,
    );
    let evaluate = |scores: &[f64], labels: &[bool]| {
        Evaluation::new(
            scores,
            labels,
            cutoff,
            costs.false_negative,
            costs.false_positive,
        )
    };
    let mut importance: Vec<(String, f64)> = encoding
        .features
        .iter()
        .cloned()
        .zip(classifier.importance(encoding.features.len()))
        .collect();
    importance.sort_by(|a, b| b.1.total_cmp(&a.1));
    let rules = match &classifier {
        Classifier::Tree(t) => t.rules(
            &|f, threshold, left| encoding.condition(f, threshold, left),
            &target.class_names(negative),
        ),
        _ => Vec::new(),
    };
    let id_column = target.id.as_deref().and_then(|id| test.frame.column(id));
    let test_ids = (0..test.frame.rows)
        .map(|r| {
            id_column
                .and_then(|c| c.text(r))
                .unwrap_or_else(|| r.to_string())
        })
        .collect();
    let model = Model {
        name: String::new(),
        task: task.into(),
        version: 0,
        kind: options.kind,
        target: target.clone(),
        negative: negative.into(),
        encoding,
        skipped,
        train_metrics: evaluate(&train_scores, &train.labels),
        test_metrics: evaluate(&test_scores, &test.labels),
        classifier,
        options: options.clone(),
        data,
        cutoff,
        importance,
        rules,
        fit_seconds,
        baseline: Some(baseline),
        created: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    };
    Ok(Trained {
        model,
        test_ids,
        test_labels: test.labels.clone(),
        test_scores,
    })
}

/// How to split labelled rows into training and test rows.
#[derive(Debug, Clone)]
pub enum SplitPlan {
    /// By a date column: rows before `cut` train; no cut = the latest `test_fraction` test.
    Time {
        /// Date column.
        column: String,
        /// First test day (days since 1970-01-01).
        cut: Option<i32>,
        /// Test share when no cut is given.
        test_fraction: f64,
    },
    /// Seeded, stratified by the label.
    Stratified {
        /// Test share.
        test_fraction: f64,
        /// Shuffle seed.
        seed: u64,
    },
    /// A separate test set.
    Given(Box<Loaded>),
}

/// Trains a model of `task` on the labelled rows of `data`, split as `plan` says; rows
/// without a target value are left out (and counted).
pub fn train_loaded(
    task: &str,
    data: &Loaded,
    plan: &SplitPlan,
    target: &Target,
    options: &TrainOptions,
) -> Result<Trained> {
    let (row_labels, negative) = labels(&data.frame, target)?;
    let known = Labelled::known(&data.frame, &row_labels);
    let unlabelled_rows = data.frame.rows - known.frame.rows;
    let (train_rows, test_rows, how) = match plan {
        SplitPlan::Given(test) => {
            let (test_labels, test_negative) = labels(&test.frame, target)?;
            if test_negative != negative {
                return Err(Error::Invalid(format!(
                    "the test data's target values differ from training ('{test_negative}' vs '{negative}')"
                )));
            }
            let test = Labelled::known(&test.frame, &test_labels);
            let data = info(
                data,
                SplitKind::Given,
                known.labels.len(),
                test.labels.len(),
                unlabelled_rows,
            );
            return train(task, &known, &test, target, &negative, options, data);
        }
        SplitPlan::Time {
            column,
            cut,
            test_fraction,
        } => {
            let days = match &known.frame.require(column, "time")?.values {
                Values::Date(d) => d.clone(),
                _ => {
                    return Err(Error::Invalid(format!(
                        "time column '{column}' is not a date"
                    )));
                }
            };
            let s = split::by_time(&days, column, *cut, *test_fraction)?;
            (s.train, s.test, s.how)
        }
        SplitPlan::Stratified {
            test_fraction,
            seed,
        } => {
            let s = split::stratified(&known.labels, *test_fraction, *seed)?;
            (s.train, s.test, s.how)
        }
    };
    let data = info(
        data,
        how,
        train_rows.len(),
        test_rows.len(),
        unlabelled_rows,
    );
    let (train_set, test_set) = (known.take(&train_rows), known.take(&test_rows));
    train(
        task, &train_set, &test_set, target, &negative, options, data,
    )
}

fn info(
    data: &Loaded,
    split: SplitKind,
    train_rows: usize,
    test_rows: usize,
    unlabelled_rows: usize,
) -> DataInfo {
    DataInfo {
        source: data.source.clone(),
        snapshot: data.snapshot.clone(),
        split,
        train_rows,
        test_rows,
        unlabelled_rows,
    }
}

/// A model's scores on labelled rows: P(positive) and the label of each.
#[derive(Debug, Clone, PartialEq)]
pub struct Scored {
    /// P(positive) per row.
    pub scores: Vec<f64>,
    /// True label per row.
    pub labels: Vec<bool>,
    /// The measures at the model's cut-off and costs.
    pub evaluation: Evaluation,
}

/// Measures `model` on the rows of `frame` that have a target value, at the model's
/// cut-off and costs.
pub fn evaluate(model: &Model, frame: &Frame) -> Result<Scored> {
    let (row_labels, negative) = labels(frame, &model.target)?;
    if negative != model.negative {
        return Err(Error::Invalid(format!(
            "the data's target values are '{}' and '{negative}', the model's '{}' and '{}'",
            model.target.positive, model.target.positive, model.negative
        )));
    }
    let known = Labelled::known(frame, &row_labels);
    let scores = model.probabilities(&known.frame)?;
    let costs = model.options.costs;
    let evaluation = Evaluation::new(
        &scores,
        &known.labels,
        model.cutoff,
        costs.false_negative,
        costs.false_positive,
    );
    Ok(Scored {
        scores,
        labels: known.labels,
        evaluation,
    })
}

impl Model {
    /// P(positive) of every row of `frame` (which must hold the model's input columns).
    pub fn probabilities(&self, frame: &Frame) -> Result<Vec<f64>> {
        Ok(self
            .classifier
            .probabilities(self.encoding.transform(frame)?.view()))
    }

    /// PSI of the score and CSI of each input between the training rows and `frame` (which
    /// holds the model's inputs). Errors for a model saved before monitoring existed.
    pub fn stability(&self, frame: &Frame) -> Result<monitor::Stability> {
        let baseline = self.baseline.as_ref().ok_or_else(|| {
            Error::Invalid(format!(
                "model {} has no training baseline to monitor against (it was trained before monitoring existed): retrain it",
                self.name
            ))
        })?;
        baseline.compare(frame, &self.probabilities(frame)?)
    }

    /// The credit score of every row of `frame`: a scorecard's points, or for the other
    /// kinds P(bad) on the default scale (600 points at even odds, 20 to double them).
    pub fn points(&self, frame: &Frame) -> Result<Vec<f64>> {
        let x = self.encoding.transform(frame)?;
        Ok(match &self.classifier {
            Classifier::Scorecard(s) => x.rows().into_iter().map(|row| s.points(row)).collect(),
            c => c
                .probabilities(x.view())
                .into_iter()
                .map(|p| Scale::default().points(p))
                .collect(),
        })
    }

    /// P(positive) of every row of `frame` and, per row, up to `top` reasons pushing it
    /// towards positive, strongest first: the input and its value, e.g.
    /// `recency_days = 143` (for a scorecard with the points of its bin and how far they
    /// fall below the characteristic's neutral points). Contributions of an input's
    /// features (one-hot, missing flag) are summed. The rows are encoded once for both.
    pub fn explain(&self, frame: &Frame, top: usize) -> Result<(Vec<f64>, Vec<Vec<String>>)> {
        let x: Array2<f64> = self.encoding.transform(frame)?;
        let inputs = self.encoding.inputs.len();
        let columns: Vec<_> = self
            .encoding
            .inputs
            .iter()
            .map(|i| frame.column(&i.name))
            .collect();
        let reason = |r: usize, row: &[f64]| -> Vec<String> {
            let per_feature = self
                .classifier
                .contributions(row, self.encoding.features.len());
            let mut per_input = vec![0.0; inputs];
            for (f, c) in per_feature.iter().enumerate() {
                per_input[self.encoding.feature_input[f]] += c;
            }
            let mut order: Vec<usize> = (0..inputs).filter(|&i| per_input[i] > 1e-9).collect();
            order.sort_by(|&a, &b| per_input[b].total_cmp(&per_input[a]));
            order
                .into_iter()
                .take(top)
                .map(|i| {
                    let name = &self.encoding.inputs[i].name;
                    let value = columns[i]
                        .and_then(|c| c.text(r))
                        .map_or_else(|| "missing".to_string(), |v| short_number(&v));
                    match &self.classifier {
                        Classifier::Scorecard(s) => {
                            let (points, lost) =
                                s.characteristics[i].attribute(ArrayView1::from(row));
                            format!("{name} = {value} ({points} points, {lost:.0} below neutral)")
                        }
                        _ => format!("{name} = {value}"),
                    }
                })
                .collect()
        };
        Ok(x.rows()
            .into_iter()
            .enumerate()
            .map(|(r, row)| {
                with_slice(row, |row| {
                    (self.classifier.probability(row), reason(r, row))
                })
            })
            .unzip())
    }

    /// The SQL call that scores with this model: the function, the model name, then its
    /// input columns in order.
    pub fn sql_call(&self, function: &str) -> String {
        format!(
            "{function}('{}', {})",
            self.name,
            self.encoding.input_names().join(", ")
        )
    }
}

/// A number printed with at most 2 decimals; other text as it is.
fn short_number(v: &str) -> String {
    match v.parse::<f64>() {
        Ok(x) if x.fract() != 0.0 => format!("{x:.2}"),
        _ => v.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use acrm_olap::Column;

    fn outcome_bad() -> Target {
        Target {
            column: "outcome".into(),
            positive: "bad".into(),
            id: None,
            exclude: vec![],
            weight: None,
        }
    }

    /// 400 applicants: bad when low income and no savings (plus 5% noise).
    fn applicants() -> (Frame, Vec<Option<bool>>) {
        let n = 400;
        let income: Vec<Option<f64>> = (0..n)
            .map(|i| Some(20_000.0 + (i % 40) as f64 * 2_000.0))
            .collect();
        let savings: Vec<Option<bool>> = (0..n).map(|i| Some(i % 3 == 0)).collect();
        let city: Vec<Option<String>> = (0..n)
            .map(|i| Some(["a", "b"][i % 2].to_string()))
            .collect();
        let outcome: Vec<Option<String>> = (0..n)
            .map(|i| {
                let bad = (i % 40) < 15 && i % 3 != 0;
                let flip = i % 20 == 7;
                (i % 50 != 49).then(|| if bad ^ flip { "bad" } else { "good" }.to_string())
            })
            .collect();
        let frame = Frame {
            columns: vec![
                Column {
                    name: "income".into(),
                    values: Values::Numeric(income),
                },
                Column {
                    name: "savings".into(),
                    values: Values::Boolean(savings),
                },
                Column {
                    name: "city".into(),
                    values: Values::Text(city),
                },
                Column {
                    name: "outcome".into(),
                    values: Values::Text(outcome),
                },
            ],
            rows: n,
        };
        let target = outcome_bad();
        let (labels, negative) = labels(&frame, &target).expect("labels");
        assert_eq!(negative, "good");
        (frame, labels)
    }

    /// Where the rows came from when a test trains and tests on the same `data`.
    fn given(data: &Labelled) -> DataInfo {
        DataInfo {
            source: "test".into(),
            snapshot: "none".into(),
            split: SplitKind::Given,
            train_rows: data.labels.len(),
            test_rows: data.labels.len(),
            unlabelled_rows: 0,
        }
    }

    /// Boosted trees see a missing number as missing (no fill, no flag) and learn where it
    /// goes: applicants without a stated income are planted bad.
    #[test]
    fn gbdt_keeps_missing_numbers_missing_and_learns_where_they_go() {
        let (mut frame, _) = applicants();
        if let Values::Numeric(income) = &mut frame.columns[0].values {
            for (i, v) in income.iter_mut().enumerate() {
                if i % 5 == 3 {
                    *v = None;
                }
            }
        }
        if let Values::Text(outcome) = &mut frame.columns[3].values {
            for (i, v) in outcome.iter_mut().enumerate() {
                if i % 5 == 3 && v.is_some() {
                    *v = Some("bad".into());
                }
            }
        }
        let target = outcome_bad();
        let (labels, _) = labels(&frame, &target).expect("labels");
        let data = Labelled::known(&frame, &labels);
        let options = TrainOptions {
            kind: Kind::Gbdt,
            ..TrainOptions::default()
        };
        let m = train(
            "credit",
            &data,
            &data,
            &target,
            "good",
            &options,
            given(&data),
        )
        .expect("train")
        .model;
        assert!(
            !m.encoding
                .features
                .iter()
                .any(|f| f.ends_with("is missing"))
        );
        // Row 3: income missing (planted bad), savings (else good).
        let (p, reasons) = m.explain(&frame.take(&[3, 6]), 2).expect("explain");
        assert!(p[0] > 0.8 && p[1] < 0.5, "{p:?}");
        assert_eq!(
            reasons[0].first().map(String::as_str),
            Some("income = missing")
        );
    }

    /// The default training options are what their doc says: the tree's checked limits are
    /// the ones asked for, not `TreeValidParams::default()` (leaves of 1 row), which
    /// `TrainOptions::default` would fall back to if its parameters failed their check.
    #[test]
    fn defaults_are_valid() {
        let tree = TrainOptions::default().tree;
        assert_eq!(tree.min_samples_leaf(), 20);
        assert_eq!(tree.max_depth(), 5);
        assert!(
            TreeParams::new()
                .min_samples_leaf(tree.min_samples_leaf())
                .check()
                .is_ok()
        );
    }

    #[test]
    fn trains_every_kind_and_explains_with_the_planted_inputs() {
        let (frame, labels) = applicants();
        let data = Labelled::known(&frame, &labels);
        assert_eq!(
            data.labels.len(),
            392,
            "8 rows without outcome are left out"
        );
        let s = split::stratified(&data.labels, 0.25, 1).expect("split");
        let target = outcome_bad();
        for kind in [Kind::Tree, Kind::Logistic, Kind::Forest, Kind::Gbdt] {
            let options = TrainOptions {
                kind,
                trees: 20,
                ..TrainOptions::default()
            };
            let info = DataInfo {
                source: "test".into(),
                snapshot: "none".into(),
                split: s.how.clone(),
                train_rows: s.train.len(),
                test_rows: s.test.len(),
                unlabelled_rows: 8,
            };
            let m = train(
                "credit",
                &data.take(&s.train),
                &data.take(&s.test),
                &target,
                "good",
                &options,
                info,
            )
            .expect("train")
            .model;
            let auc = m.test_metrics.auc.expect("auc");
            assert!(auc > 0.85, "{kind:?}: test AUC {auc}");
            let top: Vec<&str> = m
                .importance
                .iter()
                .take(2)
                .map(|(n, _)| n.as_str())
                .collect();
            assert!(
                top.contains(&"income") && top.contains(&"savings"),
                "{kind:?}: {top:?}"
            );
            let (_, reasons) = m.explain(&frame, 3).expect("reasons");
            // Row 1: income 22 000, no savings: a planted bad.
            assert!(
                reasons[1].iter().any(|r| r.starts_with("income = ")),
                "{kind:?}: {:?}",
                reasons[1]
            );
            if kind == Kind::Tree {
                assert!(
                    m.rules
                        .iter()
                        .any(|r| r.contains("savings = false") && r.contains("→ bad")),
                    "{:?}",
                    m.rules
                );
            }
        }
        // Row weights: not a feature; refused by logistic regression and when negative.
        let mut weighted = frame.clone();
        weighted.columns.push(Column {
            name: "w".into(),
            values: Values::Numeric((0..frame.rows).map(|i| Some((i % 3) as f64)).collect()),
        });
        let labels_w = super::labels(&weighted, &target).expect("labels").0;
        let data_w = Labelled::known(&weighted, &labels_w);
        let with_weight = Target {
            weight: Some("w".into()),
            ..target.clone()
        };
        let fit = |kind, data: &Labelled| {
            let info = given(data);
            let options = TrainOptions {
                kind,
                trees: 5,
                ..TrainOptions::default()
            };
            train("credit", data, data, &with_weight, "good", &options, info)
        };
        let tree = fit(Kind::Tree, &data_w).expect("weighted tree").model;
        assert!(!tree.encoding.input_names().contains(&"w".to_string()));
        // Logistic regression weighs rows too: the weights move its fit.
        let weighted_logistic = fit(Kind::Logistic, &data_w).expect("weighted logistic");
        let plain = train(
            "credit",
            &data_w,
            &data_w,
            &target,
            "good",
            &TrainOptions {
                kind: Kind::Logistic,
                ..TrainOptions::default()
            },
            given(&data_w),
        )
        .expect("logistic")
        .model;
        assert_ne!(weighted_logistic.model.classifier, plain.classifier);
        let mut negative = data_w.clone();
        if let Some(Values::Numeric(v)) = negative.frame.columns.last_mut().map(|c| &mut c.values) {
            v[4] = Some(-1.0);
        }
        let err = fit(Kind::Tree, &negative)
            .expect_err("negative")
            .to_string();
        assert!(err.contains("row 5"), "{err}");
        let wrong = Target {
            positive: "late".into(),
            ..target
        };
        assert!(super::labels(&frame, &wrong).is_err());
    }
}
