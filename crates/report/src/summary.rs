//! `acrm report html`: the latest warehouse summarised in one self-contained HTML file —
//! build and data-quality reconciliation, key KPIs, RFM, segments, value tiers, churn risk,
//! the credit model card, top association rules, alerts and cohort retention, each with its
//! chart and its table. Every query goes through the OLAP engine it is given, so the
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

/// The section, or a note on how to compute what it shows when `table` is missing.
fn needs(engine: &Engine, table: &str, title: &str, command: &str) -> Option<Section> {
    (!has(engine, table)).then(|| {
        Section::new(title).text(format!(
            "Not computed yet in this version: run `{command}` (or add it to [marts] refresh)."
        ))
    })
}

fn svg(chart: Result<Chart>) -> Result<String> {
    chart?.svg()
}

/// The whole report of the version `engine` reads, with the models of `warehouse`.
pub async fn report(engine: &Engine, warehouse: &Path) -> Result<String> {
    let sections = vec![
        build_section(engine)?,
        kpi_section(engine).await?,
        rfm_section(engine).await?,
        segment_section(engine).await?,
        value_section(engine).await?,
        churn_section(engine).await?,
        credit_section(engine, warehouse).await?,
        basket_section(engine).await?,
        alert_section(engine).await?,
        cohort_section(engine).await?,
    ];
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

async fn rfm_section(engine: &Engine) -> Result<Section> {
    if let Some(s) = needs(engine, "mart_rfm", "RFM", "acrm mine rfm") {
        return Ok(s);
    }
    let all = rows(engine, "SELECT r_score, f_score, monetary FROM mart_rfm").await?;
    let summary = rows(
        engine,
        "SELECT rfm_segment, count(*) AS customers, round(avg(recency_days), 1) AS mean_recency_days,
                round(avg(frequency), 2) AS mean_orders, round(avg(monetary), 2) AS mean_monetary
         FROM mart_rfm GROUP BY rfm_segment ORDER BY customers DESC",
    )
    .await?;
    Ok(Section::new("RFM")
        .chart(svg(figures::rfm_heatmap(&all))?)
        .table("RFM segments", summary))
}

async fn segment_section(engine: &Engine) -> Result<Section> {
    if let Some(s) = needs(
        engine,
        "mart_segment_profile",
        "Segments",
        "acrm mine segment",
    ) {
        return Ok(s);
    }
    let profile = rows(engine, "SELECT * FROM mart_segment_profile").await?;
    let sizes = rows(
        engine,
        "SELECT segment, max(size) AS customers, round(max(share), 3) AS share,
                round(max(revenue_share), 3) AS revenue_share, max(distinguishing) AS distinguishing
         FROM mart_segment_profile GROUP BY segment ORDER BY segment",
    )
    .await?;
    Ok(Section::new("Segments")
        .chart(svg(figures::segment_profiles(&profile))?)
        .table("Segment sizes", sizes))
}

async fn value_section(engine: &Engine) -> Result<Section> {
    if let Some(s) = needs(engine, "mart_value_tier", "Value tiers", "acrm mine value") {
        return Ok(s);
    }
    let all = rows(engine, "SELECT revenue FROM mart_value_tier").await?;
    let tiers = rows(
        engine,
        "SELECT value_tier, count(*) AS customers, round(sum(net_value), 2) AS net_value,
                round(sum(revenue) / (SELECT sum(revenue) FROM mart_value_tier), 3) AS revenue_share,
                round(avg(clv), 2) AS mean_clv
         FROM mart_value_tier GROUP BY value_tier ORDER BY net_value DESC",
    )
    .await?;
    Ok(Section::new("Value tiers")
        .chart(svg(figures::pareto(&all, "mart_value_tier"))?)
        .table("Tiers", tiers))
}

async fn churn_section(engine: &Engine) -> Result<Section> {
    if let Some(s) = needs(
        engine,
        "mart_churn_score",
        "Churn risk",
        "acrm mine churn score",
    ) {
        return Ok(s);
    }
    let all = rows(
        engine,
        "SELECT churn_probability, risk_band FROM mart_churn_score",
    )
    .await?;
    let top = rows(
        engine,
        "SELECT rank, customer_id, round(churn_probability, 3) AS churn_probability, risk_band,
                reason_1, reason_2, reason_3, model, as_of
         FROM mart_churn_score ORDER BY rank LIMIT 20",
    )
    .await?;
    Ok(Section::new("Churn risk")
        .text("The customers most likely to buy nothing in the next 90 days, with the three inputs that raise their risk most.")
        .chart(svg(figures::churn_distribution(&all))?)
        .table("Most at risk", top))
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

async fn basket_section(engine: &Engine) -> Result<Section> {
    if let Some(s) = needs(
        engine,
        "mart_basket_rules",
        "Association rules",
        "acrm mine basket",
    ) {
        return Ok(s);
    }
    let all = rows(
        engine,
        "SELECT support, confidence, lift FROM mart_basket_rules",
    )
    .await?;
    let top = rows(
        engine,
        "SELECT antecedent, consequent, round(support, 4) AS support, round(confidence, 3) AS confidence,
                round(lift, 2) AS lift
         FROM mart_basket_rules ORDER BY lift DESC, support DESC LIMIT 15",
    )
    .await?;
    Ok(Section::new("Association rules")
        .chart(svg(figures::rules_scatter(&all, 300))?)
        .table("Top rules by lift", top))
}

async fn alert_section(engine: &Engine) -> Result<Section> {
    if let Some(s) = needs(engine, "alerts", "Alerts", "acrm alerts") {
        return Ok(s);
    }
    let all = rows(engine, "SELECT kind FROM alerts").await?;
    let by = rows(
        engine,
        "SELECT kind, severity, count(*) AS customers FROM alerts GROUP BY kind, severity ORDER BY kind, severity",
    )
    .await?;
    Ok(Section::new("Alerts")
        .chart(svg(figures::counts_by(
            &all,
            "alerts",
            "kind",
            "Alerts by kind",
        ))?)
        .table("Alerts by kind and severity", by))
}

async fn cohort_section(engine: &Engine) -> Result<Section> {
    let report = acrm_olap::reports::find(None, "cohort_retention")?;
    let all = rows(engine, &report.sql).await?;
    Ok(Section::new("Cohort retention")
        .text(report.description)
        .chart(svg(figures::cohort_retention(&all, 12))?))
}
