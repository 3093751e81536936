//! `acrm report html`: the latest warehouse summarised in one self-contained HTML file —
//! build and data-quality reconciliation, key KPIs, the section of every registered analysis
//! (RFM, segments, value tiers, lifecycle, alerts, association rules, churn risk; each with
//! its chart and its table, as `acrm_mining::analysis::ANALYSES` declares them), expenses
//! against budget, the credit model card and cohort retention. Every query goes through the OLAP engine it is given, so the
//! caller's masking applies; customers appear by id only.

use std::path::Path;

use acrm_mining::analysis::{ANALYSES, Analysis, Chart as MartChart, Section as MartSection};
use acrm_mining::model::registry::Registry;
use acrm_olap::Engine;
use acrm_olap::TableBuilder;
use datafusion::arrow::array::RecordBatch;

use crate::Result;
use crate::chart::Chart;
use crate::figures;
use crate::html::{Section, document};

/// Rows of `sql`.
async fn rows(engine: &Engine, sql: &str) -> Result<Vec<RecordBatch>> {
    Ok(engine.query(sql).await?.1)
}

fn has(engine: &Engine, table: &str) -> bool {
    engine.tables().iter().any(|t| t.name == table)
}

fn svg(chart: Result<Chart>) -> Result<String> {
    chart?.svg()
}

/// The whole report of the version `engine` reads, with the models of `warehouse`.
pub async fn report(engine: &Engine, warehouse: &Path) -> Result<String> {
    let mut sections = vec![build_section(engine)?, kpi_section(engine).await?];
    for a in ANALYSES {
        if let (Some(s), Some(chart)) = (&a.section, &a.chart) {
            sections.push(mart_section(engine, a, s, chart).await?);
        }
    }
    sections.push(expense_section(engine).await?);
    sections.push(credit_section(engine, warehouse).await?);
    sections.push(cohort_section(engine).await?);
    document(
        &format!("acrm warehouse report — version {}", engine.version()),
        &sections,
    )
}

/// The manifest of the version the engine reads (not `current`, which a publish may have
/// moved on since).
fn build_section(engine: &Engine) -> Result<Section> {
    let manifest = engine.manifest();
    let files = &manifest.files;
    let column = |f: fn(&acrm_store::LoadedFile) -> u64| -> Vec<i64> {
        files.iter().map(|x| f(x) as i64).collect()
    };
    let unreconciled = files
        .iter()
        .filter(|f| f.rows_read != f.rows_loaded + f.rows_quarantined)
        .count();
    let table = TableBuilder::new()
        .utf8(
            "source",
            &files.iter().map(|f| f.source.as_str()).collect::<Vec<_>>(),
        )
        .utf8(
            "file",
            &files.iter().map(|f| f.file.as_str()).collect::<Vec<_>>(),
        )
        .i64("rows_read", column(|f| f.rows_read))
        .i64("rows_loaded", column(|f| f.rows_loaded))
        .i64("rows_quarantined", column(|f| f.rows_quarantined))
        .finish::<acrm_olap::Error>()?;
    let read: u64 = files.iter().map(|f| f.rows_read).sum();
    let quarantined: u64 = files.iter().map(|f| f.rows_quarantined).sum();
    Ok(Section::new("Build and data quality")
        .text(format!(
            "Version {} ({}), built {}. {} files, {read} rows read, {quarantined} quarantined with a reason; {} where read ≠ loaded + quarantined.",
            manifest.version,
            manifest.mode,
            manifest.built_at,
            files.len(),
            if unreconciled == 0 {
                "no file".to_string()
            } else {
                format!("{unreconciled} files")
            }
        ))
        .table("Files loaded", vec![table]))
}

async fn kpi_section(engine: &Engine) -> Result<Section> {
    let kpis = rows(
        engine,
        "WITH last AS (SELECT max(order_date) AS d FROM fact_sales)
         SELECT (SELECT d FROM last) AS last_sale,
                (SELECT count(*) FROM dim_customer WHERE is_current AND customer_id <> 0) AS customers,
                count(DISTINCT s.customer_id) AS buyers_365d,
                count(DISTINCT s.order_id) AS orders_365d,
                CAST(sum(s.revenue) AS DOUBLE) AS revenue_365d,
                CAST(sum(s.revenue - coalesce(s.cost, 0)) AS DOUBLE) AS margin_365d,
                CAST(sum(s.revenue) AS DOUBLE) / count(DISTINCT s.order_id) AS avg_order_value
         FROM fact_sales s, last
         WHERE s.order_date > last.d - INTERVAL '365' DAY AND s.customer_id <> 0",
    )
    .await?;
    Ok(Section::new("Key KPIs")
        .text("The year up to the last sale.")
        .table("KPIs", kpis))
}

/// The section of a registered analysis: its chart and summary table, each from a query;
/// when the version lacks its mart, how to compute it; when the mart is empty, that it is.
async fn mart_section(
    engine: &Engine,
    a: &Analysis,
    s: &MartSection,
    chart: &MartChart,
) -> Result<Section> {
    if !has(engine, chart.table) {
        return Ok(Section::new(s.title).text(format!(
            "Not computed yet in this version: run `{}` (or add it to [marts] refresh).",
            a.command
        )));
    }
    let mut section = Section::new(s.title);
    if let Some(text) = s.text {
        section = section.text(text);
    }
    let (table_title, table_sql) = s.table;
    let rows_drawn = rows(engine, chart.sql).await?;
    if rows_drawn.iter().all(|b| b.num_rows() == 0) {
        return Ok(section.text(format!(
            "{} has no rows in this version: `{}` computes them.",
            chart.table, a.command
        )));
    }
    Ok(section
        .chart(figures::draw(chart.figure, chart.table, &rows_drawn)?.svg()?)
        .table(table_title, rows(engine, table_sql).await?))
}

async fn credit_section(engine: &Engine, warehouse: &Path) -> Result<Section> {
    let registry = Registry::new(warehouse);
    let Ok(model) = registry.load(acrm_mining::analysis::credit::TASK, "champion") else {
        return Ok(
            Section::new("Credit model").text("No credit model yet: run `acrm mine credit train`.")
        );
    };
    let t = &model.test_metrics;
    let mut section = Section::new("Credit model").text(format!(
        "Champion {} ({}), trained on {} rows ({}), tested on {}: AUC {:.3}, Gini {:.3}, KS {:.3}; cut-off P(bad) ≥ {:.3}.",
        model.name,
        model.kind.name(),
        model.data.train_rows,
        model.data.snapshot,
        model.data.test_rows,
        t.auc.unwrap_or(f64::NAN),
        t.gini.unwrap_or(f64::NAN),
        t.ks,
        model.cutoff
    ));
    for rule in &model.rules {
        section = section.text(rule.clone());
    }
    let importance = TableBuilder::new()
        .utf8(
            "feature",
            &model
                .importance
                .iter()
                .map(|f| f.0.as_str())
                .collect::<Vec<_>>(),
        )
        .f64(
            "importance",
            model
                .importance
                .iter()
                .map(|f| (f.1 * 1000.0).round() / 1000.0)
                .collect(),
        )
        .finish::<acrm_olap::Error>()?;
    section = section.table("Feature importance", vec![importance]);
    if has(engine, "mart_credit_score") {
        let scores = rows(engine, "SELECT score, outcome FROM mart_credit_score").await?;
        section = section.chart(svg(figures::credit_score_by_outcome(&scores))?);
    }
    Ok(section)
}

/// Spending against budget: the share of budget spent by type over the last year, and the
/// budget lines the `expense_over_budget` alert flags.
async fn expense_section(engine: &Engine) -> Result<Section> {
    let report = acrm_olap::reports::find(None, "expenses_vs_budget")?;
    let all = rows(engine, &report.sql).await?;
    if all.iter().all(|b| b.num_rows() == 0) {
        return Ok(Section::new("Expenses").text("No expenses or budgets loaded."));
    }
    let mut section = Section::new("Expenses")
        .text(report.description)
        .chart(svg(figures::expenses_vs_budget(&all, 12))?);
    if has(engine, "alerts") {
        let over = rows(
            engine,
            "SELECT a.expense_type, coalesce(b.branch_code, '') AS branch,
                    coalesce(c.campaign_code, '') AS campaign, a.severity, a.evidence
             FROM alerts a
             LEFT JOIN dim_branch b ON b.branch_key = a.branch_key AND a.branch_key <> 0
             LEFT JOIN dim_campaign c ON c.campaign_key = a.campaign_key AND a.campaign_key <> 0
             WHERE a.kind = 'expense_over_budget'
             ORDER BY a.value DESC",
        )
        .await?;
        section = section.table(
            "Budget lines over budget (expense_over_budget alerts)",
            over,
        );
    }
    Ok(section)
}

async fn cohort_section(engine: &Engine) -> Result<Section> {
    let report = acrm_olap::reports::find(None, "cohort_retention")?;
    let all = rows(engine, &report.sql).await?;
    Ok(Section::new("Cohort retention")
        .text(report.description)
        .chart(svg(figures::cohort_retention(&all, 12))?))
}
