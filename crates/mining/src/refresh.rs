//! The standard marts recomputed by the nightly build, each analysis with its default
//! settings as of the last sale in the version: `rfm` → `mart_rfm`, `segment` →
//! `mart_segment` + `mart_segment_profile`, `value` → `mart_value_tier`, `lifecycle` →
//! `mart_lifecycle`, `alerts` → `alerts`; and, with the champion models of the registry,
//! `churn_score` → `mart_churn_score` (as of the last sale, 90-day horizon) and
//! `credit_score` → `mart_credit_score` (every application).

use acrm_olap::Engine;
use chrono::NaiveDate;
use datafusion::arrow::array::RecordBatch;

use crate::FeatureTable;
use crate::alerts::{AlertOptions, alerts};
use crate::features::{customer_features, last_fact_date};
use crate::lifecycle::{LifecycleOptions, lifecycle};
use crate::model::registry::Registry;
use crate::model::{churn, credit, source::Source};
use crate::rfm::Rfm;
use crate::segment::{DEFAULT_FEATURES, K, LOG_FEATURES, SegmentOptions, segment};
use crate::value::{ValueOptions, value_tiers};
use crate::{Error, Result};

/// What a refresh produced: the tables of the analyses that ran, and why the others did not.
#[derive(Debug, Default)]
pub struct Refreshed {
    /// Table name → rows.
    pub tables: Vec<(String, RecordBatch)>,
    /// Analysis name → its error.
    pub failures: Vec<(String, Error)>,
}

/// Runs `analyses` (names from the build config) over `engine`'s version, scoring with the
/// champions of `models`. One analysis failing (say, too little history for a retention
/// rate, or no trained model yet) does not stop the others.
pub async fn refresh(
    engine: &Engine,
    analyses: &[String],
    segment_k: Option<usize>,
    models: &Registry,
) -> Refreshed {
    let mut out = Refreshed::default();
    let as_of = match last_fact_date(engine).await {
        Ok(d) => d,
        Err(e) => {
            out.failures.push(("all".into(), e));
            return out;
        }
    };
    let mut features = None;
    for name in analyses {
        match run(engine, name, as_of, segment_k, &mut features, models).await {
            Ok(t) => out.tables.extend(t),
            Err(e) => out.failures.push((name.clone(), e)),
        }
    }
    out
}

/// One analysis; the customer features are computed once and shared by `rfm` and `segment`.
async fn run(
    engine: &Engine,
    name: &str,
    as_of: NaiveDate,
    segment_k: Option<usize>,
    features: &mut Option<FeatureTable>,
    models: &Registry,
) -> Result<Vec<(String, RecordBatch)>> {
    if matches!(name, "rfm" | "segment") && features.is_none() {
        *features = Some(customer_features(engine, as_of).await?);
    }
    Ok(match (name, features.as_ref()) {
        ("rfm", Some(f)) => vec![("mart_rfm".into(), Rfm::score(f, as_of)?.to_batch()?)],
        ("segment", Some(f)) => {
            let options = SegmentOptions {
                k: segment_k.map_or(K::Auto { max: 10 }, K::Fixed),
                log_features: LOG_FEATURES.iter().map(|s| s.to_string()).collect(),
                kmeans: Default::default(),
            };
            let on: Vec<String> = DEFAULT_FEATURES.iter().map(|s| s.to_string()).collect();
            let s = segment(f, &on, &options)?;
            vec![
                ("mart_segment".into(), s.segment_batch()?),
                ("mart_segment_profile".into(), s.profile_batch()?),
            ]
        }
        ("value", _) => {
            let v = value_tiers(engine, as_of, &ValueOptions::default()).await?;
            vec![("mart_value_tier".into(), v.to_batch()?)]
        }
        ("lifecycle", _) => {
            let l = lifecycle(engine, as_of, &LifecycleOptions::default()).await?;
            vec![("mart_lifecycle".into(), l.to_batch()?)]
        }
        ("alerts", _) => {
            let a = alerts(engine, as_of, &AlertOptions::default()).await?;
            vec![("alerts".into(), a.to_batch()?)]
        }
        ("churn_score", _) => {
            let model = models.load(churn::TASK, "champion")?;
            let data = churn::load(engine, as_of, churn::DEFAULT_HORIZON, as_of).await?;
            let table = churn::score_table(&model, &data.frame, as_of)?;
            vec![("mart_churn_score".into(), table)]
        }
        ("credit_score", _) => {
            let model = models.load(credit::TASK, "champion")?;
            let data = Source::Sql(credit::scoring_sql())
                .load(Some(engine))
                .await?;
            let table = credit::score_table(&model, &data.frame)?;
            vec![("mart_credit_score".into(), table)]
        }
        (other, _) => return Err(Error::Invalid(format!("unknown analysis '{other}'"))),
    })
}
