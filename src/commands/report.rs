//! `acrm report`: the named SQL reports (built-in and the user's own), their charts, and the
//! self-contained HTML summary of the warehouse.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;

use crate::commands::query::{EngineArgs, ResultArgs, TravelArgs, run_query};
use crate::context::runtime;
use crate::output::Format;

/// Flags of `acrm report`.
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// Report name (see --list), or `html` for the HTML summary of the warehouse
    /// (written to --output, default report.html).
    #[arg(required_unless_present = "list")]
    name: Option<String>,
    /// List the reports with their descriptions.
    #[arg(long)]
    list: bool,
    /// Folder with your own report .sql files (first line: a `--` description)
    #[arg(long, env = "ACRM_REPORTS", value_name = "DIR")]
    reports: Option<PathBuf>,
    /// Also draw the report's chart into this .svg or .png file (cohort_retention: the retention
    /// heat map of the first 12 months).
    #[arg(long, value_name = "FILE.svg|png")]
    chart: Option<PathBuf>,
    #[command(flatten)]
    result: ResultArgs,
    #[command(flatten)]
    engine: EngineArgs,
    #[command(flatten)]
    travel: TravelArgs,
}

/// Runs `acrm report`.
pub fn run(args: ReportArgs) -> anyhow::Result<()> {
    let ReportArgs {
        name,
        list,
        reports,
        chart,
        result,
        engine,
        travel,
    } = args;
    if list {
        let all = acrm_olap::reports::catalog(reports.as_deref())?;
        match result.format {
            Format::Json => outln!("{}", serde_json::to_string_pretty(&all)?),
            Format::Csv => {
                let mut w = csv::Writer::from_writer(std::io::stdout().lock());
                w.write_record(["name", "description"])?;
                for r in &all {
                    w.write_record([r.name.as_str(), r.description.as_str()])?;
                }
                w.flush()?;
            }
            _ => {
                for r in &all {
                    outln!("{:<24} {}", r.name, r.description);
                }
            }
        }
        return Ok(());
    }
    let name = name.context("name a report (acrm report --list)")?;
    let rt = runtime()?;
    if name == "html" {
        let warehouse = engine.warehouse()?;
        let engine = engine.open_at(rt, &travel)?;
        let html = rt.block_on(acrm_report::summary::report(&engine, &warehouse))?;
        let path = result
            .output
            .unwrap_or_else(|| PathBuf::from("report.html"));
        std::fs::write(&path, html).with_context(|| format!("cannot write {}", path.display()))?;
        eprintln!("report written to {}", path.display());
        return Ok(());
    }
    let report = acrm_olap::reports::find(reports.as_deref(), &name)?;
    let engine = engine.open_at(rt, &travel)?;
    let rows = run_query(rt, &engine, &report.sql, &result)
        .with_context(|| format!("report {name} ({})", report.origin))?;
    if let Some(path) = chart {
        if name != "cohort_retention" {
            anyhow::bail!("report {name} has no chart (charts: cohort_retention)");
        }
        acrm_report::figures::cohort_retention(&rows, 12)?.save(&path)?;
        eprintln!("chart written to {}", path.display());
    }
    Ok(())
}
