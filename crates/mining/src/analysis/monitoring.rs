//! Model stability monitoring → `mart_model_monitoring`: for the champion of each task
//! (credit, churn, response) that has one, how far the population it scores now has moved from the
//! one it was trained on — the PSI of its score and the CSI of each input
//! ([`crate::model::monitor`]) — with a status against the thresholds (0.1 warn, 0.25 act
//! by default) and a `model_drift` alert on every index that crosses one.
//!
//! The populations: for credit the applications of the last `window_days` (90) up to the
//! latest application, as `mine credit score` scores them; for churn the active customers
//! as of the as-of date, as `mine churn score` scores them; for response every customer as of
//! the as-of date, as `mine response score` scores them.

use acrm_olap::{Engine, Frame, TableBuilder};
use chrono::NaiveDate;
use datafusion::arrow::array::RecordBatch;

use super::registry::{Analysis, boxed};
use super::{churn, credit, response};
use crate::Result;
use crate::algo::stability::{Drift, Thresholds};
use crate::model::Model;
use crate::model::monitor::Stability;
use crate::model::registry::Registry;
use crate::model::source::Source;

/// The alert a crossed threshold raises.
pub const ALERT: &str = "model_drift";

/// The knobs of monitoring.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MonitorOptions {
    /// Days of credit applications (up to the latest) that make the population.
    pub window_days: u32,
    /// Warning and action thresholds of every index.
    pub thresholds: Thresholds,
}

impl Default for MonitorOptions {
    /// 90 days; 0.1 and 0.25.
    fn default() -> Self {
        Self {
            window_days: 90,
            thresholds: Thresholds::default(),
        }
    }
}

/// One index of one model.
#[derive(Debug, Clone, PartialEq)]
pub struct Index {
    /// Task of the model.
    pub task: String,
    /// Model name.
    pub model: String,
    /// The population compared, in words.
    pub population: String,
    /// Its rows.
    pub rows: usize,
    /// `psi` (the score) or `csi` (an input).
    pub measure: &'static str,
    /// The input, for a CSI.
    pub characteristic: Option<String>,
    /// The index.
    pub value: f64,
    /// Against the thresholds.
    pub drift: Drift,
}

/// The indexes of `model` for one population described as `population`.
pub fn indexes(
    model: &Model,
    stability: &Stability,
    population: &str,
    thresholds: &Thresholds,
) -> Vec<Index> {
    let row = |measure, characteristic: Option<&String>, value: f64| Index {
        task: model.task.clone(),
        model: model.name.clone(),
        population: population.to_string(),
        rows: stability.rows,
        measure,
        characteristic: characteristic.cloned(),
        value,
        drift: thresholds.drift(value),
    };
    std::iter::once(row("psi", None, stability.score))
        .chain(
            stability
                .inputs
                .iter()
                .map(|(name, value)| row("csi", Some(name), *value)),
        )
        .collect()
}

/// `mart_model_monitoring` of `indexes` as of `as_of`.
pub fn table(as_of: NaiveDate, indexes: &[Index]) -> Result<RecordBatch> {
    let text = |f: &dyn Fn(&Index) -> String| indexes.iter().map(f).collect::<Vec<_>>();
    TableBuilder::new()
        .date("as_of", as_of, indexes.len())
        .utf8("task", &text(&|i| i.task.clone()))
        .utf8("model", &text(&|i| i.model.clone()))
        .utf8("population", &text(&|i| i.population.clone()))
        .i64("rows", indexes.iter().map(|i| i.rows as i64).collect())
        .utf8("measure", &text(&|i| i.measure.to_string()))
        .utf8_opt(
            "characteristic",
            indexes.iter().map(|i| i.characteristic.clone()).collect(),
        )
        .f64("value", indexes.iter().map(|i| i.value).collect())
        .utf8("status", &text(&|i| i.drift.name().to_string()))
        .utf8_opt(
            "alert",
            indexes
                .iter()
                .map(|i| (i.drift != Drift::Stable).then(|| ALERT.to_string()))
                .collect(),
        )
        .finish()
}

/// The credit population: applications of the `window_days` up to the latest one.
pub fn credit_population_sql(window_days: u32) -> String {
    format!(
        "SELECT * FROM ({}) WHERE application_date > \
         (SELECT max(application_date) FROM fact_credit_application) - INTERVAL '{window_days} days'",
        credit::scoring_sql()
    )
}

/// The population `model` of `task` scores now, and its description.
pub async fn population(
    engine: &Engine,
    task: &str,
    model: &Model,
    as_of: NaiveDate,
    options: &MonitorOptions,
) -> Result<(Frame, String)> {
    if task == churn::TASK {
        let p_alive = churn::uses_p_alive(model);
        let data = churn::load(engine, as_of, churn::DEFAULT_HORIZON, as_of, p_alive).await?;
        Ok((data.frame, format!("active customers as of {as_of}")))
    } else if task == response::TASK {
        let data = response::load_population(engine, as_of).await?;
        Ok((data.frame, format!("every customer as of {as_of}")))
    } else {
        let sql = credit_population_sql(options.window_days);
        let data = Source::Sql(sql).load(Some(engine)).await?;
        Ok((
            data.frame,
            format!("applications of the last {} days", options.window_days),
        ))
    }
}

/// The indexes of the `model` of each of `tasks` (a name or `champion`) on the population
/// it scores now; `tasks` empty: every task of [`TASKS`] that has a champion.
pub async fn monitor(
    engine: &Engine,
    models: &Registry,
    tasks: &[&str],
    model: &str,
    as_of: NaiveDate,
    options: &MonitorOptions,
) -> Result<Vec<Index>> {
    let champions = models.champions()?;
    let tasks: Vec<&str> = if tasks.is_empty() {
        TASKS
            .iter()
            .copied()
            .filter(|t| champions.contains_key(*t))
            .collect()
    } else {
        tasks.to_vec()
    };
    if tasks.is_empty() {
        return Err(crate::Error::Invalid(
            "no champion model to monitor: train one with `acrm mine credit|churn|response train`"
                .into(),
        ));
    }
    let mut all = Vec::new();
    for task in tasks {
        let model = models.load(task, model)?;
        let (frame, described) = population(engine, task, &model, as_of, options).await?;
        let stability = model.stability(&frame)?;
        all.extend(indexes(&model, &stability, &described, &options.thresholds));
    }
    Ok(all)
}

/// The tasks whose champions are monitored on a population of their own.
pub const TASKS: [&str; 3] = [credit::TASK, churn::TASK, response::TASK];

/// The registry entry: every champion's indexes on the population it scores now.
pub const ANALYSIS: Analysis = Analysis {
    name: "model_monitoring",
    tables: &["mart_model_monitoring"],
    command: "acrm mine monitor",
    needs_model: true,
    run: |cx| {
        boxed(async move {
            let options = MonitorOptions::default();
            let all = monitor(cx.engine, cx.models, &[], "champion", cx.as_of, &options).await?;
            Ok(vec![(
                "mart_model_monitoring".into(),
                table(cx.as_of, &all)?,
            )])
        })
    },
    chart: None,
    section: None,
};
