//! `acrm report html`: the latest warehouse summarised in one self-contained HTML file —
//! build and data-quality reconciliation, key KPIs, RFM, segments, value tiers, lifecycle,
//! churn risk, the credit model card, top association rules, alerts and cohort retention,
//! each with its chart and its table. Every query goes through the OLAP engine it is given, so the
//! caller's masking applies; customers appear by id only.

use std::path::Path;

use acrm_mining::model::registry::Registry;
use acrm_mining::table::TableBuilder;
use acrm_olap::Engine;
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
    for s in MART_SECTIONS {
        sections.push(mart_section(engine, s).await?);
    }
    sections.push(credit_section(engine, warehouse).await?);
    for s in LATE_MART_SECTIONS {
        sections.push(mart_section(engine, s).await?);
    }
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
        .finish()?;
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

/// Draws a chart from the rows of its query.
type Draw = fn(&[RecordBatch]) -> Result<Chart>;

/// A report section over one mart: its chart and its summary table, each from a query; or,
/// when the version lacks the mart, how to compute it.
struct MartSection {
    /// The mart it reads.
    mart: &'static str,
    /// Section title.
    title: &'static str,
    /// The command that computes the mart.
    command: &'static str,
    /// What the section shows, when the chart and table do not say.
    text: Option<&'static str>,
    /// The rows the chart is drawn from, and the chart.
    chart: (&'static str, Draw),
    /// The summary table's title and query.
    table: (&'static str, &'static str),
}

/// The mart sections, in report order (the credit model and the cohorts have their own).
const MART_SECTIONS: &[MartSection] = &[
    MartSection {
        mart: "mart_rfm",
        title: "RFM",
        command: "acrm mine rfm",
        text: None,
        chart: (
            "SELECT r_score, f_score, monetary FROM mart_rfm",
            figures::rfm_heatmap,
        ),
        table: (
            "RFM segments",
            "SELECT rfm_segment, count(*) AS customers, round(avg(recency_days), 1) AS mean_recency_days,
                    round(avg(frequency), 2) AS mean_orders, round(avg(monetary), 2) AS mean_monetary
             FROM mart_rfm GROUP BY rfm_segment ORDER BY customers DESC",
        ),
    },
    MartSection {
        mart: "mart_segment_profile",
        title: "Segments",
        command: "acrm mine segment",
        text: None,
        chart: (
            "SELECT * FROM mart_segment_profile",
            figures::segment_profiles,
        ),
        table: (
            "Segment sizes",
            "SELECT segment, max(size) AS customers, round(max(share), 3) AS share,
                    round(max(revenue_share), 3) AS revenue_share, max(distinguishing) AS distinguishing
             FROM mart_segment_profile GROUP BY segment ORDER BY segment",
        ),
    },
    MartSection {
        mart: "mart_value_tier",
        title: "Value tiers",
        command: "acrm mine value",
        text: None,
        chart: ("SELECT revenue FROM mart_value_tier", |rows| {
            figures::pareto(rows, "mart_value_tier")
        }),
        table: (
            "Tiers",
            "SELECT value_tier, count(*) AS customers, round(sum(net_value), 2) AS net_value,
                    round(sum(revenue) / (SELECT sum(revenue) FROM mart_value_tier), 3) AS revenue_share,
                    round(avg(clv), 2) AS mean_clv
             FROM mart_value_tier GROUP BY value_tier ORDER BY net_value DESC",
        ),
    },
    MartSection {
        mart: "mart_lifecycle",
        title: "Lifecycle",
        command: "acrm mine lifecycle",
        text: None,
        chart: ("SELECT stage FROM mart_lifecycle", |rows| {
            figures::counts_by(rows, "mart_lifecycle", "stage", "Customers by lifecycle stage")
        }),
        table: (
            "Customers by stage",
            "SELECT stage, count(*) AS customers,
                    round(count(*) / CAST((SELECT count(*) FROM mart_lifecycle) AS DOUBLE), 3) AS share
             FROM mart_lifecycle GROUP BY stage ORDER BY customers DESC",
        ),
    },
    MartSection {
        mart: "mart_churn_score",
        title: "Churn risk",
        command: "acrm mine churn score",
        text: Some(
            "The customers most likely to buy nothing in the next 90 days, with the three inputs that raise their risk most.",
        ),
        chart: (
            "SELECT churn_probability, risk_band FROM mart_churn_score",
            figures::churn_distribution,
        ),
        table: (
            "Most at risk",
            "SELECT rank, customer_id, round(churn_probability, 3) AS churn_probability, risk_band,
                    reason_1, reason_2, reason_3, model, as_of
             FROM mart_churn_score ORDER BY rank LIMIT 20",
        ),
    },
];

/// The mart sections after the credit model, in report order.
const LATE_MART_SECTIONS: &[MartSection] = &[
    MartSection {
        mart: "mart_basket_rules",
        title: "Association rules",
        command: "acrm mine basket",
        text: None,
        chart: (
            "SELECT support, confidence, lift FROM mart_basket_rules",
            |rows| figures::rules_scatter(rows, 300),
        ),
        table: (
            "Top rules by lift",
            "SELECT antecedent, consequent, round(support, 4) AS support, round(confidence, 3) AS confidence,
                    round(lift, 2) AS lift
             FROM mart_basket_rules ORDER BY lift DESC, support DESC LIMIT 15",
        ),
    },
    MartSection {
        mart: "alerts",
        title: "Alerts",
        command: "acrm alerts",
        text: None,
        chart: ("SELECT kind FROM alerts", |rows| {
            figures::counts_by(rows, "alerts", "kind", "Alerts by kind")
        }),
        table: (
            "Alerts by kind and severity",
            "SELECT kind, severity, count(*) AS customers FROM alerts GROUP BY kind, severity ORDER BY kind, severity",
        ),
    },
];

async fn mart_section(engine: &Engine, s: &MartSection) -> Result<Section> {
    if !has(engine, s.mart) {
        return Ok(Section::new(s.title).text(format!(
            "Not computed yet in this version: run `{}` (or add it to [marts] refresh).",
            s.command
        )));
    }
    let mut section = Section::new(s.title);
    if let Some(text) = s.text {
        section = section.text(text);
    }
    let (chart_sql, draw) = s.chart;
    let (table_title, table_sql) = s.table;
    Ok(section
        .chart(draw(&rows(engine, chart_sql).await?)?.svg()?)
        .table(table_title, rows(engine, table_sql).await?))
}

async fn credit_section(engine: &Engine, warehouse: &Path) -> Result<Section> {
    let registry = Registry::new(warehouse);
    let Ok(model) = registry.load(acrm_mining::model::credit::TASK, "champion") else {
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
        .finish()?;
    section = section.table("Feature importance", vec![importance]);
    if has(engine, "mart_credit_score") {
        let scores = rows(engine, "SELECT score, outcome FROM mart_credit_score").await?;
        section = section.chart(svg(figures::credit_score_by_outcome(&scores))?);
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
