//! `acrm mine monitor`: how far the populations the champion models score now have moved
//! from their training rows (PSI of the score, CSI of each input) → `mart_model_monitoring`,
//! with the `model_drift` alerts; or one model against a population given as a file or a
//! query (printed, not published).

use std::path::PathBuf;

use acrm_mining::algo::stability::{Drift, Thresholds};
use acrm_mining::analysis::features::last_fact_date;
use acrm_mining::analysis::monitoring::{self, Index, MonitorOptions};
use acrm_mining::model::registry::Registry;
use acrm_mining::model::source::Source;
use anyhow::{Context, bail};
use clap::Args;

use crate::commands::publish::{Common, publish_if};
use crate::output::print_batch;

/// Flags of `acrm mine monitor`.
#[derive(Args, Debug)]
pub struct MonitorArgs {
    /// Only this task's model (credit, churn or response) [default: every task with a champion]
    #[arg(long)]
    task: Option<String>,
    /// Model name, or `champion`, of --task.
    #[arg(long, default_value = "champion", requires = "task")]
    model: String,
    /// Compare the rows of this CSV or Parquet file instead (with --task; printed, not
    /// published).
    #[arg(long, requires = "task", conflicts_with = "sql")]
    input: Option<PathBuf>,
    /// Compare the rows of this warehouse query instead (with --task; printed, not
    /// published).
    #[arg(long, requires = "task")]
    sql: Option<String>,
    /// Days of applications (up to the latest) in the credit population.
    #[arg(long, default_value_t = MonitorOptions::default().window_days)]
    window_days: u32,
    /// Index at which a model warns (a model_drift alert).
    #[arg(long, default_value_t = Thresholds::default().warn)]
    warn: f64,
    /// Index at which a shift is to be acted on.
    #[arg(long, default_value_t = Thresholds::default().act)]
    act: f64,
    #[command(flatten)]
    common: Common,
}

/// Runs `acrm mine monitor`.
pub fn run(args: MonitorArgs) -> anyhow::Result<()> {
    if !(args.warn > 0.0 && args.warn <= args.act && args.act.is_finite()) {
        bail!(
            "--warn {} and --act {}: thresholds with 0 < warn <= act",
            args.warn,
            args.act
        );
    }
    let options = MonitorOptions {
        window_days: args.window_days,
        thresholds: Thresholds {
            warn: args.warn,
            act: args.act,
        },
    };
    let common = &args.common;
    let registry = Registry::new(&common.engine.warehouse()?);
    let rt = crate::context::runtime()?;
    let mut found: Vec<Index> = Vec::new();
    let custom = match (&args.input, &args.sql) {
        (Some(path), _) => Some((Source::File(path.clone()), path.display().to_string())),
        (None, Some(sql)) => Some((Source::Sql(sql.clone()), "the rows of --sql".to_string())),
        (None, None) => None,
    };
    let (as_of, write) = if let Some((source, described)) = custom {
        let task = args
            .task
            .as_deref()
            .context("--task names the model's task")?;
        let model = registry.load(task, &args.model)?;
        // A user's query sees what `acrm sql` sees (the `churn_features` view among it).
        let engine = match &source {
            Source::File(_) => None,
            _ => Some(common.engine.open_for_queries(rt)?),
        };
        let data = rt.block_on(source.load(engine.as_ref()))?;
        let stability = model.stability(&data.frame)?;
        found.extend(monitoring::indexes(
            &model,
            &stability,
            &described,
            &options.thresholds,
        ));
        (
            common
                .as_of
                .unwrap_or_else(|| chrono::Utc::now().date_naive()),
            false,
        )
    } else {
        let engine = common.engine.open(rt)?;
        let as_of = match common.as_of {
            Some(d) => d,
            None => rt.block_on(last_fact_date(&engine))?,
        };
        let tasks: Vec<&str> = match args.task.as_deref() {
            Some(t) if monitoring::TASKS.contains(&t) => vec![t],
            Some(other) => {
                bail!("--task {other}: credit, churn or response (or give --input / --sql)")
            }
            None => Vec::new(),
        };
        found = rt.block_on(monitoring::monitor(
            &engine,
            &registry,
            &tasks,
            &args.model,
            as_of,
            &options,
        ))?;
        (as_of, !common.no_write)
    };
    for i in found.iter().filter(|i| i.drift != Drift::Stable) {
        eprintln!(
            "{}: {} {} {}{} = {:.3} ({})",
            monitoring::ALERT,
            i.task,
            i.model,
            i.measure,
            i.characteristic
                .as_deref()
                .map(|c| format!(" of {c}"))
                .unwrap_or_default(),
            i.value,
            i.drift.name()
        );
    }
    let table = monitoring::table(as_of, &found)?;
    print_batch(&table, common.format)?;
    publish_if(common, &monitoring::ANALYSIS, vec![table], write)
}
