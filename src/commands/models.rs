//! `acrm mine credit …`, `acrm mine churn …`, `acrm mine response …` and `acrm models …`:
//! argument handling and printing around `acrm_mining::model`.

use std::path::PathBuf;

use acrm_mining::algo::ParamGuard;
use acrm_mining::algo::binning::optimal::BinningParams;
use acrm_mining::algo::cart::TreeParams;
use acrm_mining::algo::gbdt::GbdtParams;
use acrm_mining::algo::metrics::{self, Evaluation};
use acrm_mining::algo::scorecard::{Scale, ScorecardParams};
use acrm_mining::analysis::churn::{self, TrainingData};
use acrm_mining::analysis::{credit, response};
use acrm_mining::model::registry::Registry;
use acrm_mining::model::source::{Loaded, Source};
use acrm_mining::model::{
    self, Classifier, Costs, Kind, Model, SplitPlan, Target, TrainOptions, Trained,
};
use acrm_olap::{Engine, TableBuilder};
use anyhow::Context;
use chrono::NaiveDate;
use clap::{Args, Subcommand};

use crate::commands::champion;
use crate::commands::publish::{Common, publish};
use crate::commands::query::EngineArgs;
use crate::output::{Format, print_batch};
use crate::progress;

/// `acrm mine credit …`.
#[derive(Subcommand, Debug)]
pub enum CreditAction {
    /// Train a credit-scoring model (default: a decision tree on the approved applications
    /// with a known outcome, tested on the latest 25% by application date) and save it.
    #[command(
        after_help = "Examples:\n  acrm mine credit train\n  acrm mine credit train --kind logistic\n  acrm mine credit train --kind gbdt --trees 300 --learning-rate 0.05 --early-stopping-rounds 20\n  acrm mine credit train --input german_credit.csv --target default --positive 2 --max-depth 4"
    )]
    Train {
        /// Model kind: tree, logistic, forest, gbdt (gradient-boosted trees) or scorecard
        /// (`acrm mine credit scorecard` sets its binning and points).
        #[arg(long, default_value = "tree")]
        kind: String,
        #[command(flatten)]
        data: DataArgs,
        #[command(flatten)]
        train: TrainArgs,
    },
    /// Train a credit scorecard: optimal bins per characteristic, WoE and information value
    /// with a selection report, logistic regression on WoE, a points table; saved like any
    /// model (score it with `acrm mine credit score`, monitor it with `acrm mine monitor`).
    #[command(
        after_help = "Bins: a best-first Gini pre-binning (--max-prebins of >= --min-prebin-share), merged into the\nbins of most information value with >= --min-bin-share of the rows each, at most --max-bins,\nthe bad rate monotone as --monotonic asks; missing values get their own bin. Characteristics\nof IV < --min-iv are left out. Points: --base-points at --base-odds (good:bad), --pdo points\nto double the odds. Reasons: the characteristics whose points fall furthest below neutral.\nExamples:\n  acrm mine credit scorecard\n  acrm mine credit scorecard --min-bin-share 0.1 --max-bins 5 --min-iv 0.05\n  acrm mine credit scorecard --input german_credit.csv --target default --positive 2 --pdo 40"
    )]
    Scorecard {
        #[command(flatten)]
        data: DataArgs,
        #[command(flatten)]
        card: ScorecardArgs,
        #[command(flatten)]
        train: TrainArgs,
    },
    /// Measure a saved model on labelled data (default: every application with an outcome).
    #[command(
        after_help = "Examples:\n  acrm mine credit evaluate                      (the champion)\n  acrm mine credit evaluate --model credit-v1 --chart roc.svg"
    )]
    Evaluate(Box<EvaluateArgs>),
    /// Score applications with a saved model (default: all of them) → mart_credit_score.
    #[command(
        after_help = "Examples:\n  acrm mine credit score\n  acrm mine credit score --model credit-v1 --format csv --no-write"
    )]
    Score {
        #[command(flatten)]
        data: DataArgs,
        #[command(flatten)]
        score: ScoreArgs,
    },
}

/// Flags of `acrm mine credit scorecard`: binning, selection and points.
#[derive(Args, Debug)]
pub struct ScorecardArgs {
    /// Bad rate across a number's bins: auto (the better direction), ascending, descending
    /// or none.
    #[arg(long, default_value = "auto")]
    monotonic: String,
    /// Most pre-bins of a number.
    #[arg(long, default_value_t = 20)]
    max_prebins: usize,
    /// Least share of the non-missing rows in a pre-bin.
    #[arg(long, default_value_t = 0.05)]
    min_prebin_share: f64,
    /// Least share of the rows in a bin.
    #[arg(long, default_value_t = 0.05)]
    min_bin_share: f64,
    /// Least information value of a characteristic in the scorecard.
    #[arg(long, default_value_t = 0.02)]
    min_iv: f64,
    /// Score at --base-odds.
    #[arg(long, default_value_t = 600.0)]
    base_points: f64,
    /// Good:bad odds that score --base-points.
    #[arg(long, default_value_t = 1.0)]
    base_odds: f64,
    /// Points that double the odds.
    #[arg(long, default_value_t = 20.0)]
    pdo: f64,
}

impl ScorecardArgs {
    /// Training options of a scorecard: `fit`'s, with these binning, selection and points
    /// (`--max-bins` bounds the bins of a characteristic, `--alpha` the regression).
    fn options(&self, fit: &FitArgs) -> anyhow::Result<TrainOptions> {
        let mut options = fit.options(Kind::Scorecard)?;
        let binning = BinningParams::new()
            .max_prebins(self.max_prebins)
            .min_prebin_share(self.min_prebin_share)
            .min_bin_share(self.min_bin_share)
            .max_bins(fit.max_bins)
            .trend(self.monotonic.parse()?)
            .check()?;
        options.scorecard = ScorecardParams::new()
            .binning(binning)
            .min_iv(self.min_iv)
            .alpha(fit.alpha)
            .scale(Scale {
                base_points: self.base_points,
                base_odds: self.base_odds,
                pdo: self.pdo,
            })
            .check()?;
        Ok(options)
    }
}

/// `acrm mine churn …`.
#[derive(Subcommand, Debug)]
pub enum ChurnAction {
    /// Train churn models on the population one horizon before the test date and compare
    /// them on the test population (AUC, lift by decile); all are saved.
    #[command(
        after_help = "A churner buys nothing in the --horizon days after the as-of date; features and\nlabels: crates/mining/src/analysis/churn.rs (also in README.md).\nExamples:\n  acrm mine churn train\n  acrm mine churn train --kind logistic --horizon 120 --promote-if-better\n  acrm mine churn train --kind gbdt --p-alive"
    )]
    Train {
        /// Outcome window in days.
        #[arg(long, default_value_t = churn::DEFAULT_HORIZON)]
        horizon: u32,
        /// Add P(alive) as a feature: BG/NBD fitted on every customer's purchase days up to
        /// each population's as-of date (scoring fits it again as of the scoring date).
        #[arg(long)]
        p_alive: bool,
        /// Also write the training and test rows to DIR/churn_train.csv and churn_test.csv.
        #[arg(long, value_name = "DIR")]
        export_data: Option<PathBuf>,
        /// Model kinds to train and compare: tree, logistic, forest, gbdt.
        #[arg(
            long,
            value_delimiter = ',',
            default_value = "tree,logistic,forest,gbdt"
        )]
        kind: Vec<String>,
        #[command(flatten)]
        train: TrainArgs,
    },
    /// Measure a saved model on the population at --as-of (default: last sale − horizon).
    #[command(
        after_help = "Examples:\n  acrm mine churn evaluate\n  acrm mine churn evaluate --model churn-v2 --as-of 2024-06-30"
    )]
    Evaluate {
        /// Outcome window in days.
        #[arg(long, default_value_t = churn::DEFAULT_HORIZON)]
        horizon: u32,
        #[command(flatten)]
        run: ModelRun,
    },
    /// Churn probability, risk band and top 3 reasons per active customer as of --as-of
    /// (default: the last sale) → mart_churn_score.
    #[command(
        after_help = "Examples:\n  acrm mine churn score                          (the champion, riskiest first)\n  acrm mine churn score --top 50 --no-write"
    )]
    Score {
        #[command(flatten)]
        score: ScoreArgs,
    },
}

/// `acrm mine response …`.
#[derive(Subcommand, Debug)]
pub enum ResponseAction {
    /// Train a response model on the campaign history (default: a forest; every contacted
    /// customer of each campaign, features as of the day before its start, the latest 25%
    /// of the rows by campaign start as the test) and save it.
    #[command(
        after_help = "Features and labels: crates/mining/src/analysis/response.rs (also in README.md).\nExamples:\n  acrm mine response train\n  acrm mine response train --kind logistic --promote-if-better\n  acrm mine response train --kind gbdt --early-stopping-rounds 20 --gains-chart gains.svg"
    )]
    Train {
        /// Model kind: tree, logistic, forest or gbdt.
        #[arg(long, default_value = "forest")]
        kind: String,
        /// Also write the contact rows read (training and test, with campaign_start; not with
        /// --sql, --table or --input) to this CSV file.
        #[arg(long, value_name = "FILE.csv")]
        export_data: Option<PathBuf>,
        #[command(flatten)]
        data: Box<DataArgs>,
        #[command(flatten)]
        train: TrainArgs,
    },
    /// Measure a saved model on labelled data (default: every campaign contact up to
    /// --as-of), with lift and gains by decile.
    #[command(
        after_help = "Examples:\n  acrm mine response evaluate                    (the champion)\n  acrm mine response evaluate --model response-v1 --chart roc.svg"
    )]
    Evaluate(Box<EvaluateArgs>),
    /// P(response), rank, decile and top 3 reasons of every customer as of --as-of
    /// (default: the last sale) → mart_response_score.
    #[command(
        after_help = "Examples:\n  acrm mine response score                       (the champion, likeliest first)\n  acrm mine response score --top 50 --no-write"
    )]
    Score {
        #[command(flatten)]
        score: ScoreArgs,
    },
}

/// Flags of `train`: how to fit, and the flags every analysis takes.
#[derive(Args, Debug)]
pub struct TrainArgs {
    /// Boxed: the model parameters are most of a `train` command's size.
    #[command(flatten)]
    fit: Box<FitArgs>,
    #[command(flatten)]
    common: Common,
}

/// Flags of `evaluate` on a task's rows or any other labelled data.
#[derive(Args, Debug)]
pub struct EvaluateArgs {
    #[command(flatten)]
    data: DataArgs,
    #[command(flatten)]
    run: ModelRun,
}

/// Flags of `evaluate`: the model, and the flags every analysis takes.
#[derive(Args, Debug)]
pub struct ModelRun {
    #[command(flatten)]
    model: ModelChoice,
    #[command(flatten)]
    common: Common,
}

/// Flags of `score`: the model and the flags every analysis takes (the global `--top`
/// bounds the rows printed, highest risk first).
#[derive(Args, Debug)]
pub struct ScoreArgs {
    #[command(flatten)]
    model: ModelChoice,
    #[command(flatten)]
    common: Common,
}

/// `--model`: which saved model to use.
#[derive(Args, Debug)]
pub struct ModelChoice {
    /// Model name, or `champion`.
    #[arg(long = "model", default_value = "champion")]
    name: String,
}

/// Where model data comes from, and its target (the defaults are the task's: credit's
/// applications with `outcome` = `bad`, response's campaign contacts with `responded` =
/// `true`).
#[derive(Args, Debug)]
pub struct DataArgs {
    /// Rows of this warehouse query.
    #[arg(long, conflicts_with_all = ["table", "input"])]
    sql: Option<String>,
    /// Rows of this warehouse table or view.
    #[arg(long, conflicts_with = "input")]
    table: Option<String>,
    /// Rows of this CSV or Parquet file.
    #[arg(long)]
    input: Option<PathBuf>,
    /// Test rows from this CSV or Parquet file instead of a split (train only).
    #[arg(long)]
    test_input: Option<PathBuf>,
    /// Target column [default: the task's, e.g. outcome]
    #[arg(long)]
    target: Option<String>,
    /// Target value that counts as positive [default: the task's, e.g. bad]
    #[arg(long)]
    positive: Option<String>,
    /// Id column, kept in scores, not a feature [default: the task's, e.g. application_id]
    #[arg(long)]
    id: Option<String>,
    /// Date column of a time-aware split: train before --split-date, test from it
    /// [default: the task's (application_date, campaign_start) for its own data, a
    /// query's only date column; files split at random]
    #[arg(long)]
    time: Option<String>,
    /// Columns that are not features.
    #[arg(long, value_delimiter = ',')]
    exclude: Vec<String>,
    /// Row weight column, e.g. to reweight classes or samples (every model kind).
    #[arg(long)]
    weight: Option<String>,
    /// First test day of a time split [default: the day leaving --test-fraction for tests]
    #[arg(long, value_name = "DATE")]
    split_date: Option<NaiveDate>,
    /// Test share of the split.
    #[arg(long, default_value_t = 0.25)]
    test_fraction: f64,
}

/// Model family parameters.
#[derive(Args, Debug)]
pub struct FitArgs {
    /// Deepest tree level [default: 5 for tree and forest; gbdt: no limit but --max-leaves]
    #[arg(long)]
    max_depth: Option<usize>,
    /// Fewest rows per tree leaf.
    #[arg(long, default_value_t = 20)]
    min_samples_leaf: usize,
    /// Fewest rows to split a node.
    #[arg(long, default_value_t = 2)]
    min_samples_split: usize,
    /// Cost-complexity pruning strength (0 = none).
    #[arg(long, default_value_t = 0.0)]
    ccp_alpha: f64,
    /// Trees of a forest; boosting rounds of gbdt (at most, with early stopping).
    #[arg(long, default_value_t = 100)]
    trees: usize,
    /// L2 penalty of logistic regression (1/C of scikit-learn).
    #[arg(long, default_value_t = 1.0)]
    alpha: f64,
    /// gbdt: shrinkage of each tree's outputs.
    #[arg(long, default_value_t = 0.1)]
    learning_rate: f64,
    /// gbdt: most leaves per tree.
    #[arg(long, default_value_t = 31)]
    max_leaves: usize,
    /// gbdt: L2 penalty on leaf outputs.
    #[arg(long, default_value_t = 0.0)]
    l2: f64,
    /// gbdt: least Σ hessian per leaf.
    #[arg(long, default_value_t = 1e-3)]
    min_child_weight: f64,
    /// gbdt: most quantile bins per feature (2 to 255); scorecard: most bins per
    /// characteristic.
    #[arg(long, default_value_t = 255)]
    max_bins: usize,
    /// gbdt: share of rows drawn for each tree.
    #[arg(long, default_value_t = 1.0)]
    subsample: f64,
    /// gbdt: share of features each tree may split on.
    #[arg(long, default_value_t = 1.0)]
    colsample: f64,
    /// gbdt: stop after this many rounds without a better log-loss on a held-out 10% of the
    /// training rows, keeping the best round (0 = no early stopping).
    #[arg(long, default_value_t = 0)]
    early_stopping_rounds: usize,
    /// gbdt: weight of a positive row against a negative one (class weight).
    #[arg(long, default_value_t = 1.0)]
    positive_weight: f64,
    /// Seed of splits, forests and gbdt sampling.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Cost of a missed positive (a bad loan granted, a churner lost), for the cut-off.
    #[arg(long, default_value_t = 5.0)]
    cost_missed: f64,
    /// Cost of a false alarm (a good applicant refused, a loyal customer contacted).
    #[arg(long, default_value_t = 1.0)]
    cost_false_alarm: f64,
    /// Do not save the model in the registry.
    #[arg(long)]
    no_save: bool,
    /// Make the new model the champion (the one `score` uses) when it beats the current
    /// champion's test AUC; without it, training says how to promote it.
    #[arg(long, conflicts_with = "no_save")]
    promote_if_better: bool,
    /// Write the test rows' predictions (id, label, probability, model) to this CSV file.
    #[arg(long, value_name = "FILE")]
    predictions: Option<PathBuf>,
    /// Draw the cumulative gains curve of the test rows into this .svg or .png file (--chart draws
    /// the ROC curve).
    #[arg(long, value_name = "FILE.svg|png")]
    gains_chart: Option<PathBuf>,
}

impl FitArgs {
    fn options(&self, kind: Kind) -> anyhow::Result<TrainOptions> {
        Ok(TrainOptions {
            kind,
            tree: TreeParams::new()
                .max_depth(self.max_depth.unwrap_or(5))
                .min_samples_leaf(self.min_samples_leaf)
                .min_samples_split(self.min_samples_split)
                .ccp_alpha(self.ccp_alpha)
                .seed(self.seed)
                .check()?,
            trees: self.trees,
            gbdt: GbdtParams::new()
                .trees(self.trees)
                .learning_rate(self.learning_rate)
                .max_leaves(self.max_leaves)
                .max_depth(self.max_depth)
                .min_samples_leaf(self.min_samples_leaf)
                .min_child_weight(self.min_child_weight)
                .l2(self.l2)
                .max_bins(self.max_bins)
                .subsample(self.subsample)
                .colsample(self.colsample)
                .early_stopping_rounds(self.early_stopping_rounds)
                .positive_weight(self.positive_weight)
                .seed(self.seed)
                .check()?,
            alpha: self.alpha,
            seed: self.seed,
            costs: Costs {
                false_negative: self.cost_missed,
                false_positive: self.cost_false_alarm,
            },
            ..TrainOptions::default()
        })
    }
}

/// `acrm models …`.
#[derive(Subcommand, Debug)]
pub enum ModelsCommand {
    /// Every saved model: task, version, kind, test AUC, data snapshot, champion.
    List {
        #[command(flatten)]
        common: RegistryArgs,
    },
    /// One model's card: data, parameters, metrics, importance, rules, SQL call.
    Show {
        /// Model name (e.g. credit-v2).
        name: String,
        #[command(flatten)]
        common: RegistryArgs,
    },
    /// Make a model the champion of its task (what `champion` means from now on).
    Promote {
        /// Model name.
        name: String,
        #[command(flatten)]
        common: RegistryArgs,
    },
    /// Delete a model (not a champion).
    Delete {
        /// Model name.
        name: String,
        #[command(flatten)]
        common: RegistryArgs,
    },
}

/// Flags of `acrm models …`: the warehouse whose registry to use, and the output format.
#[derive(Args, Debug)]
pub struct RegistryArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    #[command(flatten)]
    engine: EngineArgs,
}

/// What a model task trained on its own warehouse rows defaults to.
struct Task<'a> {
    /// Registry task name.
    name: &'static str,
    /// Target, id and non-feature columns of its own rows.
    target: Target,
    /// The date column its own rows split on.
    time: &'static str,
    /// Reads its own rows from the warehouse.
    rows: &'a dyn Fn(&Engine) -> anyhow::Result<Loaded>,
}

impl DataArgs {
    /// The source given by --sql, --table or --input; `None`: the task's own rows.
    fn source(&self) -> Option<Source> {
        match (&self.sql, &self.table, &self.input) {
            (Some(q), _, _) => Some(Source::Sql(q.clone())),
            (_, Some(t), _) => Some(Source::table(t)),
            (_, _, Some(p)) => Some(Source::File(p.clone())),
            _ => None,
        }
    }

    fn target(&self, default: Target) -> Target {
        let custom = !self.is_default();
        Target {
            column: self.target.clone().unwrap_or(default.column),
            positive: self.positive.clone().unwrap_or(default.positive),
            id: self.id.clone().or(if custom { None } else { default.id }),
            exclude: if self.exclude.is_empty() && !custom {
                default.exclude
            } else {
                self.exclude.clone()
            },
            weight: self.weight.clone(),
        }
    }

    /// Time split on warehouse data (by --time, else the task's `time` column for its own
    /// rows, else the data's only date column), seeded and stratified otherwise.
    fn plan(&self, seed: u64, data: &Loaded, time: &str) -> anyhow::Result<SplitPlan> {
        let time = self.time.clone().or_else(|| {
            if self.input.is_some() {
                None
            } else if self.is_default() {
                Some(time.to_string())
            } else {
                match data.frame.date_columns().as_slice() {
                    [only] => Some(only.clone()),
                    _ => None,
                }
            }
        });
        Ok(match (&self.test_input, time) {
            (Some(path), _) => SplitPlan::Given(Box::new(load(&Source::File(path.clone()), None)?)),
            (None, Some(column)) => SplitPlan::Time {
                column,
                cut: self
                    .split_date
                    .map(|d| (d - NaiveDate::default()).num_days() as i32),
                test_fraction: self.test_fraction,
            },
            (None, None) => SplitPlan::Stratified {
                test_fraction: self.test_fraction,
                seed,
            },
        })
    }

    /// No --sql, --table or --input: the task's own warehouse query.
    fn is_default(&self) -> bool {
        self.sql.is_none() && self.table.is_none() && self.input.is_none()
    }
}

fn load(source: &Source, engine: Option<&acrm_olap::Engine>) -> anyhow::Result<Loaded> {
    let rt = crate::context::runtime()?;
    Ok(rt.block_on(source.load(engine))?)
}

/// Reads `data`'s source, or `own` rows from the warehouse without one, opening the
/// warehouse only when it is needed (not for a file).
fn read(
    common: &Common,
    data: &DataArgs,
    own: &dyn Fn(&Engine) -> anyhow::Result<Loaded>,
) -> anyhow::Result<Loaded> {
    if let Some(path) = &data.input {
        return load(&Source::File(path.clone()), None);
    }
    let rt = crate::context::runtime()?;
    let engine = common.engine.open(rt)?;
    match data.source() {
        Some(s) => Ok(rt.block_on(s.load(Some(&engine)))?),
        None => own(&engine),
    }
}

/// Credit's own rows: `query` over the warehouse.
fn credit_rows(query: fn() -> String) -> impl Fn(&Engine) -> anyhow::Result<Loaded> {
    move |engine| {
        let rt = crate::context::runtime()?;
        Ok(rt.block_on(Source::Sql(query()).load(Some(engine)))?)
    }
}

/// The credit task over its applications.
fn credit_task(rows: &dyn Fn(&Engine) -> anyhow::Result<Loaded>) -> Task<'_> {
    Task {
        name: credit::TASK,
        target: credit::target(),
        time: "application_date",
        rows,
    }
}

/// Response's own rows: every campaign contact up to `as_of` (default: the last sale).
fn response_rows(as_of: Option<NaiveDate>) -> impl Fn(&Engine) -> anyhow::Result<Loaded> {
    move |engine| {
        let rt = crate::context::runtime()?;
        let _working = progress::working("reading each campaign's contacts and features");
        rt.block_on(async {
            let as_of = match as_of {
                Some(d) => d,
                None => acrm_mining::analysis::features::last_fact_date(engine).await?,
            };
            response::load_training(engine, as_of).await
        })
        .map_err(Into::into)
    }
}

fn registry(engine: &EngineArgs) -> anyhow::Result<Registry> {
    Ok(Registry::new(&engine.warehouse()?))
}

/// Runs `acrm mine credit …`.
pub fn credit(action: CreditAction) -> anyhow::Result<()> {
    match action {
        CreditAction::Train {
            kind,
            data,
            train: TrainArgs { fit, common },
        } => {
            let options = fit.options(kind.parse()?)?;
            let rows = credit_rows(credit::training_sql);
            train_task(&credit_task(&rows), &data, &fit, &common, &options)
        }
        CreditAction::Scorecard {
            data,
            card,
            train: TrainArgs { fit, common },
        } => {
            let rows = credit_rows(credit::training_sql);
            let options = card.options(&fit)?;
            train_task(&credit_task(&rows), &data, &fit, &common, &options)
        }
        CreditAction::Evaluate(args) => {
            let EvaluateArgs {
                data,
                run: ModelRun { model, common },
            } = *args;
            let rows = credit_rows(credit::training_sql);
            evaluate_task(&credit_task(&rows), &data, &model, &common)
        }
        CreditAction::Score {
            data,
            score: ScoreArgs { model, common },
        } => {
            let m = registry(&common.engine)?.load(credit::TASK, &model.name)?;
            let loaded = read(&common, &data, &credit_rows(credit::scoring_sql))?;
            let table = credit::score_table(&m, &loaded.frame)?;
            print_batch(&table, common.format)?;
            publish(&common, &credit::ANALYSIS, vec![table])
        }
    }
}

/// Runs `acrm mine response …`.
pub fn response(action: ResponseAction) -> anyhow::Result<()> {
    match action {
        ResponseAction::Train {
            kind,
            export_data,
            data,
            train: TrainArgs { fit, common },
        } => {
            let options = fit.options(kind.parse()?)?;
            let own = response_rows(common.as_of);
            let rows = |engine: &Engine| -> anyhow::Result<Loaded> {
                let loaded = own(engine)?;
                if let Some(path) = &export_data {
                    loaded.write_csv(path)?;
                }
                Ok(loaded)
            };
            train_task(&response_task(&rows), &data, &fit, &common, &options)
        }
        ResponseAction::Evaluate(args) => {
            let EvaluateArgs {
                data,
                run: ModelRun { model, common },
            } = *args;
            let rows = response_rows(common.as_of);
            evaluate_task(&response_task(&rows), &data, &model, &common)
        }
        ResponseAction::Score {
            score: ScoreArgs { model, common },
        } => {
            let m = registry(&common.engine)?.load(response::TASK, &model.name)?;
            let rt = crate::context::runtime()?;
            let engine = common.engine.open(rt)?;
            let as_of = match common.as_of {
                Some(d) => d,
                None => rt.block_on(acrm_mining::analysis::features::last_fact_date(&engine))?,
            };
            let loaded = rt.block_on(response::load_population(&engine, as_of))?;
            let table = response::score_table(&m, &loaded.frame, as_of)?;
            print_batch(&table, common.format)?;
            publish(&common, &response::ANALYSIS, vec![table])
        }
    }
}

/// The response task over its campaign contacts.
fn response_task(rows: &dyn Fn(&Engine) -> anyhow::Result<Loaded>) -> Task<'_> {
    Task {
        name: response::TASK,
        target: response::target(),
        time: response::TIME,
        rows,
    }
}

/// Measures a saved model of `task` on `data` (default: the task's own rows).
fn evaluate_task(
    task: &Task,
    data: &DataArgs,
    model: &ModelChoice,
    common: &Common,
) -> anyhow::Result<()> {
    let m = registry(&common.engine)?.load(task.name, &model.name)?;
    let loaded = read(common, data, task.rows)?;
    let scored = model::evaluate(&m, &loaded.frame)?;
    evaluation_charts(common, &m, &scored)?;
    print_evaluation(&m, &scored.evaluation, common.format)
}

/// Trains, prints and saves a model of `task` as `options` say.
fn train_task(
    task: &Task,
    data: &DataArgs,
    fit: &FitArgs,
    common: &Common,
    options: &TrainOptions,
) -> anyhow::Result<()> {
    let loaded = read(common, data, task.rows)?;
    let trained = model::train_loaded(
        task.name,
        &loaded,
        &data.plan(fit.seed, &loaded, task.time)?,
        &data.target(task.target.clone()),
        options,
    )?;
    let trained = keep(common, fit, trained)?;
    write_outputs(common, fit, std::slice::from_ref(&trained))?;
    print_model(&trained.model, common.format, true)?;
    if !fit.no_save {
        let registry = registry(&common.engine)?;
        champion::settle(&registry, &trained.model, None, fit.promote_if_better)?;
    }
    Ok(())
}

/// Runs `acrm mine churn …`.
pub fn churn(action: ChurnAction) -> anyhow::Result<()> {
    match action {
        ChurnAction::Train {
            horizon,
            p_alive,
            export_data,
            kind,
            train: TrainArgs { fit, common },
        } => {
            let rt = crate::context::runtime()?;
            let engine = common.engine.open(rt)?;
            let data = {
                let _working = progress::working("computing the churn populations");
                rt.block_on(TrainingData::load(&engine, horizon, common.as_of, p_alive))?
            };
            if let Some(dir) = export_data {
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
                data.train.write_csv(&dir.join("churn_train.csv"))?;
                data.test.write_csv(&dir.join("churn_test.csv"))?;
            }
            let mut models = Vec::new();
            for k in &kind {
                let trained = {
                    let _working = progress::working(&format!("training a churn {k} model"));
                    data.train(&fit.options(k.parse()?)?)?
                };
                models.push(keep(&common, &fit, trained)?);
            }
            write_outputs(&common, &fit, &models)?;
            let models: Vec<Model> = models.into_iter().map(|t| t.model).collect();
            let baseline = {
                let _working = progress::working("fitting the BG/NBD baseline");
                let costs = Costs {
                    false_negative: fit.cost_missed,
                    false_positive: fit.cost_false_alarm,
                };
                rt.block_on(data.p_alive_baseline(&engine, costs))?
            };
            let best = models
                .iter()
                .max_by(|a, b| {
                    a.test_metrics
                        .auc
                        .unwrap_or(0.0)
                        .total_cmp(&b.test_metrics.auc.unwrap_or(0.0))
                })
                .context("no model kind given")?;
            if common.format != Format::Table {
                let mut cards: Vec<serde_json::Value> = models.iter().map(card).collect();
                cards.push(serde_json::json!({
                    "name": BASELINE,
                    "kind": "bgnbd",
                    "test_metrics": baseline,
                }));
                print_json(&serde_json::Value::Array(cards))?;
            } else {
                print_comparison(&data, &models, &baseline, horizon)?;
                outln!("\nbest on test AUC: {}", label_of(best));
                print_model(best, common.format, false)?;
            }
            if !fit.no_save {
                let registry = registry(&common.engine)?;
                let test = Some(&data.test.frame);
                champion::settle(&registry, best, test, fit.promote_if_better)?;
            }
            Ok(())
        }
        ChurnAction::Evaluate {
            horizon,
            run: ModelRun { model, common },
        } => {
            let m = registry(&common.engine)?.load(churn::TASK, &model.name)?;
            let rt = crate::context::runtime()?;
            let engine = common.engine.open(rt)?;
            let last = rt.block_on(acrm_mining::analysis::features::last_fact_date(&engine))?;
            let as_of = common
                .as_of
                .unwrap_or_else(|| acrm_mining::analysis::features::days_before(last, horizon));
            let p_alive = churn::uses_p_alive(&m);
            let loaded = rt.block_on(churn::load(&engine, as_of, horizon, last, p_alive))?;
            let scored = model::evaluate(&m, &loaded.frame)?;
            evaluation_charts(&common, &m, &scored)?;
            print_evaluation(&m, &scored.evaluation, common.format)
        }
        ChurnAction::Score {
            score: ScoreArgs { model, common },
        } => {
            let m = registry(&common.engine)?.load(churn::TASK, &model.name)?;
            let rt = crate::context::runtime()?;
            let engine = common.engine.open(rt)?;
            let last = rt.block_on(acrm_mining::analysis::features::last_fact_date(&engine))?;
            let as_of = common.as_of.unwrap_or(last);
            let horizon = churn::DEFAULT_HORIZON;
            let p_alive = churn::uses_p_alive(&m);
            let loaded = rt.block_on(churn::load(&engine, as_of, horizon, last, p_alive))?;
            let table = churn::score_table(&m, &loaded.frame, as_of)?;
            print_batch(&table, common.format)?;
            publish(&common, &churn::ANALYSIS, vec![table])
        }
    }
}

/// The name of the BG/NBD baseline in a churn comparison.
const BASELINE: &str = "1 - P(alive) by BG/NBD (baseline, no training on churn labels)";

/// The churn models trained side by side, and the BG/NBD baseline: test AUC, Gini, KS,
/// top-decile lift, fit time.
fn print_comparison(
    data: &TrainingData,
    models: &[Model],
    baseline: &Evaluation,
    horizon: u32,
) -> anyhow::Result<()> {
    outln!(
        "churn = no purchase within {horizon} days; trained on the {} customers active on {}, tested on the {} active on {}",
        data.train.frame.rows,
        data.train_as_of,
        data.test.frame.rows,
        data.test_as_of
    );
    let mut rows: Vec<(String, &Evaluation, Option<f64>)> = models
        .iter()
        .map(|m| (label_of(m), &m.test_metrics, Some(m.fit_seconds)))
        .collect();
    rows.push((BASELINE.to_string(), baseline, None));
    let comparison = TableBuilder::new()
        .utf8(
            "model",
            &rows.iter().map(|r| r.0.as_str()).collect::<Vec<_>>(),
        )
        .f64_opt("test_auc", rows.iter().map(|r| r.1.auc).collect())
        .f64_opt("test_gini", rows.iter().map(|r| r.1.gini).collect())
        .f64("test_ks", rows.iter().map(|r| r.1.ks).collect())
        .f64(
            "top_decile_lift",
            rows.iter()
                .map(|r| r.1.gains.first().map_or(0.0, |d| d.lift))
                .collect(),
        )
        .f64_opt("fit_seconds", rows.iter().map(|r| r.2).collect())
        .finish::<anyhow::Error>()?;
    print_batch(&comparison, Format::Table)
}

fn label_of(m: &Model) -> String {
    if m.name.is_empty() {
        m.kind.name().to_string()
    } else {
        format!("{} ({})", m.name, m.kind.name())
    }
}

/// Saves the model unless --no-save; returns it named.
fn keep(common: &Common, fit: &FitArgs, mut trained: Trained) -> anyhow::Result<Trained> {
    if !fit.no_save {
        let name = registry(&common.engine)?.save(&mut trained.model)?;
        eprintln!("saved model {name}");
    }
    Ok(trained)
}

/// The ROC curve (--chart) of an evaluation.
fn evaluation_charts(common: &Common, m: &Model, scored: &model::Scored) -> anyhow::Result<()> {
    if let Some(path) = &common.chart {
        let curve = metrics::roc_curve(&scored.scores, &scored.labels);
        acrm_report::figures::roc(&[(label_of(m), curve)]).save(path)?;
        eprintln!("chart written to {}", path.display());
    }
    Ok(())
}

/// A curve of scores against labels (ROC, gains).
type Curve = fn(&[f64], &[bool]) -> Vec<(f64, f64)>;

/// Writes --predictions (every model's test rows) and the --chart (ROC) and --gains-chart
/// of the trained models.
fn write_outputs(common: &Common, fit: &FitArgs, trained: &[Trained]) -> anyhow::Result<()> {
    if let Some(path) = &fit.predictions {
        let mut w = csv_writer(path)?;
        w.write_record(["id", "label", "probability", "model"])?;
        for t in trained {
            let rows = t.test_ids.iter().zip(&t.test_labels).zip(&t.test_scores);
            for ((id, label), p) in rows {
                w.write_record([
                    id.as_str(),
                    &label.to_string(),
                    &format!("{p:?}"),
                    &label_of(&t.model),
                ])?;
            }
        }
        w.flush()?;
    }
    let curve = |f: Curve| -> Vec<(String, Vec<(f64, f64)>)> {
        trained
            .iter()
            .map(|t| (label_of(&t.model), f(&t.test_scores, &t.test_labels)))
            .collect()
    };
    for (path, chart) in [
        (
            &common.chart,
            acrm_report::figures::roc(&curve(metrics::roc_curve)),
        ),
        (
            &fit.gains_chart,
            acrm_report::figures::gains(&curve(metrics::gains_curve)),
        ),
    ] {
        if let Some(path) = path {
            chart.save(path)?;
            eprintln!("chart written to {}", path.display());
        }
    }
    Ok(())
}

fn csv_writer(path: &std::path::Path) -> anyhow::Result<csv::Writer<std::fs::File>> {
    csv::Writer::from_path(path).with_context(|| format!("cannot write {}", path.display()))
}

/// The model card as JSON: everything but the fitted numbers.
fn card(m: &Model) -> serde_json::Value {
    serde_json::json!({
        "name": m.name,
        "task": m.task,
        "kind": m.kind.name(),
        "target": m.target,
        "negative": m.negative,
        "inputs": m.encoding.input_names(),
        "features": m.encoding.features,
        "skipped": m.skipped,
        "options": m.options,
        "data": m.data,
        "cutoff": m.cutoff,
        "train_metrics": m.train_metrics,
        "test_metrics": m.test_metrics,
        "importance": m.importance,
        "rules": m.rules,
        "trees_kept": boosted(m).map(|g| g.trees.len()),
        "scorecard": credit::scorecard(m).map(|card| scorecard_json(m, card)),
        "fit_seconds": m.fit_seconds,
        "created": m.created,
        "sql": sql_call(m),
    })
}

/// A scorecard's characteristics as JSON: name, IV, status, and per bin its words, rows,
/// bad rows, WoE and points (none for a characteristic left out).
fn scorecard_json(m: &Model, card: &acrm_mining::algo::scorecard::Scorecard) -> serde_json::Value {
    let characteristics: Vec<serde_json::Value> = card
        .characteristics
        .iter()
        .enumerate()
        .map(|(j, c)| {
            let labels = m.encoding.bin_labels(j, &c.binning.rule);
            let bins: Vec<serde_json::Value> = c
                .binning
                .bins
                .iter()
                .enumerate()
                .map(|(k, b)| {
                    serde_json::json!({
                        "bin": labels[k],
                        "rows": b.rows,
                        "bads": b.positives,
                        "woe": b.woe,
                        "iv": b.iv,
                        "points": c.points.get(k),
                    })
                })
                .collect();
            serde_json::json!({
                "name": m.encoding.inputs[j].name,
                "iv": c.iv,
                "status": c.status.name(),
                "neutral_points": c.neutral,
                "bins": bins,
            })
        })
        .collect();
    serde_json::json!({
        "scale": card.scale,
        "intercept": card.intercept,
        "characteristics": characteristics,
    })
}

/// The booster of a gbdt model.
fn boosted(m: &Model) -> Option<&acrm_mining::algo::gbdt::Gbdt> {
    match &m.classifier {
        Classifier::Gbdt(g) => Some(g),
        _ => None,
    }
}

fn sql_call(m: &Model) -> String {
    let function = match m.task.as_str() {
        "churn" => "churn_probability",
        "credit" => "credit_score",
        "response" => "response_probability",
        _ => return String::new(),
    };
    m.sql_call(function)
}

fn print_json(v: &serde_json::Value) -> anyhow::Result<()> {
    outln!("{}", serde_json::to_string_pretty(v)?);
    Ok(())
}

/// Prints a model card: data, metrics, confusion matrix, importance, rules, gains.
fn print_model(m: &Model, format: Format, header: bool) -> anyhow::Result<()> {
    if format != Format::Table {
        return print_json(&card(m));
    }
    if header {
        outln!(
            "{}: {} model of P({}) ({} training rows, {} test rows, {} without a target left out)",
            label_of(m),
            m.kind.name(),
            m.target.class_names(&m.negative)[1],
            m.data.train_rows,
            m.data.test_rows,
            m.data.unlabelled_rows
        );
    }
    outln!("data: {} [{}]", one_line(&m.data.source), m.data.snapshot);
    outln!("split: {}", serde_json::to_string(&m.data.split)?);
    if let Some(g) = boosted(m) {
        let stopped = match g.validation_loss.last() {
            Some(loss) => format!(
                " (early stopping on a held-out {:.0}% of the training rows: validation log-loss {loss:.4})",
                100.0 * m.options.gbdt.validation_fraction()
            ),
            None => String::new(),
        };
        outln!(
            "boosting: {} of at most {} trees kept{stopped}",
            g.trees.len(),
            m.options.gbdt.trees()
        );
    }
    for s in &m.skipped {
        outln!("not used: {} ({})", s.name, s.reason);
    }
    outln!();
    metrics_table(&[("train", &m.train_metrics), ("test", &m.test_metrics)])?;
    confusion(&m.test_metrics, m)?;
    outln!("\nimportance:");
    for (name, v) in m.importance.iter().filter(|(_, v)| *v > 0.0).take(10) {
        outln!("  {name:<32} {v:.3}");
    }
    if let Some(card) = credit::scorecard(m) {
        outln!("\ncharacteristics (information value):");
        print_batch(&credit::characteristics_table(m, card)?, Format::Table)?;
        outln!(
            "\npoints ({} at odds {}:1, {} to double them; a score is the sum of its bins' points):",
            card.scale.base_points,
            card.scale.base_odds,
            card.scale.pdo
        );
        print_batch(&credit::points_table(m, card)?, Format::Table)?;
    }
    if !m.rules.is_empty() {
        outln!("\nrules ({} leaves):", m.rules.len());
        for r in &m.rules {
            outln!("  {r}");
        }
    }
    outln!("\ntest lift by decile:");
    gains_table(&m.test_metrics)?;
    if !m.name.is_empty() {
        outln!("\nin SQL: {}", sql_call(m));
    }
    Ok(())
}

fn one_line(s: &str) -> String {
    let flat = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if flat.chars().count() > 120 {
        format!("{}…", flat.chars().take(120).collect::<String>())
    } else {
        flat
    }
}

fn metrics_table(rows: &[(&str, &Evaluation)]) -> anyhow::Result<()> {
    let table = TableBuilder::new()
        .utf8("data", &rows.iter().map(|r| r.0).collect::<Vec<_>>())
        .i64("rows", rows.iter().map(|r| r.1.rows as i64).collect())
        .i64(
            "positives",
            rows.iter().map(|r| r.1.positives as i64).collect(),
        )
        .f64_opt("auc", rows.iter().map(|r| r.1.auc).collect())
        .f64_opt("gini", rows.iter().map(|r| r.1.gini).collect())
        .f64("ks", rows.iter().map(|r| r.1.ks).collect())
        .share(
            "accuracy",
            rows.iter().map(|r| r.1.confusion.accuracy()).collect(),
        )
        .share(
            "precision",
            rows.iter().map(|r| r.1.confusion.precision()).collect(),
        )
        .share(
            "recall",
            rows.iter().map(|r| r.1.confusion.recall()).collect(),
        )
        .f64("cost", rows.iter().map(|r| r.1.cost).collect())
        .finish::<anyhow::Error>()?;
    print_batch(&table, Format::Table)
}

fn confusion(e: &Evaluation, m: &Model) -> anyhow::Result<()> {
    let c = &e.confusion;
    let [negative, positive] = m.target.class_names(&m.negative);
    outln!(
        "\ncut-off P({positive}) >= {:.3} (least cost on training rows: missed {positive} costs {}, false alarm {}):",
        e.cutoff,
        m.options.costs.false_negative,
        m.options.costs.false_positive
    );
    let row = |name: String, a: String, b: String| format!("  {name:<22} {a:>16} {b:>16}");
    outln!(
        "{}",
        row(
            String::new(),
            format!("pred {positive}"),
            format!("pred {negative}")
        )
    );
    outln!(
        "{}",
        row(
            format!("actual {positive}"),
            c.true_positive.to_string(),
            c.false_negative.to_string()
        )
    );
    outln!(
        "{}",
        row(
            format!("actual {negative}"),
            c.false_positive.to_string(),
            c.true_negative.to_string()
        )
    );
    Ok(())
}

fn gains_table(e: &Evaluation) -> anyhow::Result<()> {
    let g = &e.gains;
    let table = TableBuilder::new()
        .i64("decile", g.iter().map(|d| d.decile as i64).collect())
        .i64("rows", g.iter().map(|d| d.rows as i64).collect())
        .i64("positives", g.iter().map(|d| d.positives as i64).collect())
        .share("rate", g.iter().map(|d| d.rate).collect())
        .f64("lift", g.iter().map(|d| d.lift).collect())
        .share(
            "cumulative_capture",
            g.iter().map(|d| d.cumulative_capture).collect(),
        )
        .f64(
            "cumulative_lift",
            g.iter().map(|d| d.cumulative_lift).collect(),
        )
        .finish::<anyhow::Error>()?;
    print_batch(&table, Format::Table)
}

fn print_evaluation(m: &Model, e: &Evaluation, format: Format) -> anyhow::Result<()> {
    if format != Format::Table {
        return print_json(&serde_json::json!({ "model": m.name, "evaluation": e }));
    }
    outln!("{} on {} labelled rows:", label_of(m), e.rows);
    metrics_table(&[("evaluated", e)])?;
    confusion(e, m)?;
    outln!("\nlift by decile:");
    gains_table(e)
}

/// Runs `acrm models …`.
pub fn models(cmd: ModelsCommand) -> anyhow::Result<()> {
    match cmd {
        ModelsCommand::List { common } => {
            let list = registry(&common.engine)?.list()?;
            if common.format == Format::Json {
                return print_json(&serde_json::to_value(&list)?);
            }
            let table = TableBuilder::new()
                .utf8(
                    "name",
                    &list.iter().map(|s| s.name.as_str()).collect::<Vec<_>>(),
                )
                .utf8(
                    "task",
                    &list.iter().map(|s| s.task.as_str()).collect::<Vec<_>>(),
                )
                .utf8(
                    "kind",
                    &list.iter().map(|s| s.kind.as_str()).collect::<Vec<_>>(),
                )
                .f64_opt("test_auc", list.iter().map(|s| s.test_auc).collect())
                .utf8(
                    "data",
                    &list.iter().map(|s| s.snapshot.as_str()).collect::<Vec<_>>(),
                )
                .utf8(
                    "created",
                    &list.iter().map(|s| s.created.as_str()).collect::<Vec<_>>(),
                )
                .bool("champion", list.iter().map(|s| s.champion).collect())
                .finish::<anyhow::Error>()?;
            print_batch(&table, common.format)
        }
        ModelsCommand::Show { name, common } => {
            let m = registry(&common.engine)?.show(&name)?;
            print_model(&m, common.format, true)
        }
        ModelsCommand::Promote { name, common } => {
            registry(&common.engine)?.promote(&name)?;
            eprintln!("{name} is now the champion");
            Ok(())
        }
        ModelsCommand::Delete { name, common } => {
            registry(&common.engine)?.delete(&name)?;
            eprintln!("deleted {name}");
            Ok(())
        }
    }
}
