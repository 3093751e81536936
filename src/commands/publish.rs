//! What every analysis command shares: its flags ([`Common`]: as-of date, format, chart,
//! whether to publish, the warehouse) and [`publish`], which draws the analysis's declared
//! chart and publishes its marts as a new warehouse version.

use std::path::PathBuf;

use acrm_mining::analysis::Analysis;
use anyhow::Context;
use chrono::NaiveDate;
use clap::Args;
use datafusion::arrow::array::RecordBatch;

use crate::commands::query::EngineArgs;
use crate::output::Format;

/// Flags every analysis takes.
#[derive(Args, Debug)]
pub struct Common {
    /// Analyse as of this date (YYYY-MM-DD): later facts are ignored; for baskets, the last
    /// day of the period (alias --to) [default: the last sale]
    #[arg(long, value_name = "DATE", alias = "to")]
    pub as_of: Option<NaiveDate>,
    /// Print only; do not publish the result tables.
    #[arg(long)]
    pub no_write: bool,
    /// Output format of the printed summary.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Also draw the analysis's chart into this .svg or .png file (RFM heat map, segment profiles,
    /// revenue Pareto curve, lifecycle stages, rules scatter, alerts by kind, score
    /// distributions; the ROC curve for `train`).
    #[arg(long, value_name = "FILE.svg|png")]
    pub chart: Option<PathBuf>,
    #[command(flatten)]
    pub engine: EngineArgs,
}

/// Draws the analysis's chart if --chart asks, then publishes its marts (`marts`, one batch
/// per table of `analysis`, in order) as a new warehouse version unless --no-write.
pub fn publish(
    common: &Common,
    analysis: &Analysis,
    marts: Vec<RecordBatch>,
) -> anyhow::Result<()> {
    publish_if(common, analysis, marts, !common.no_write)
}

/// [`publish`] for a command that decides itself whether to `write` (rules mined from a
/// file are printed, and published only when asked).
pub fn publish_if(
    common: &Common,
    analysis: &Analysis,
    marts: Vec<RecordBatch>,
    write: bool,
) -> anyhow::Result<()> {
    let tables = analysis.named(marts)?;
    if let Some(path) = &common.chart {
        let chart = analysis.chart.context("this command has no chart")?;
        let rows = tables
            .iter()
            .find(|(name, _)| name == chart.table)
            .map(|(_, batch)| std::slice::from_ref(batch))
            .context("the chart's mart was not computed")?;
        acrm_report::figures::draw(chart.figure, chart.table, rows)?.save(path)?;
        eprintln!("chart written to {}", path.display());
    }
    if !write {
        return Ok(());
    }
    let (version, _) = acrm_store::publish_tables(&common.engine.warehouse()?, &tables)?;
    let names: Vec<&str> = tables.iter().map(|(n, _)| n.as_str()).collect();
    eprintln!(
        "published {} as warehouse version {version}",
        names.join(", ")
    );
    Ok(())
}
