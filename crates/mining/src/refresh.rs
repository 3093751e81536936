//! The analysis registry and the nightly mart refresh.
//!
//! [`ANALYSES`] lists every analysis that publishes marts: its name (the one
//! `warehouse-schema/tables.toml` gives its marts as `analysis = "…"`, and `[marts] refresh`
//! and `acrm mine` use) and the marts it writes. A test keeps the registry and the schema in
//! step. [`refresh`] runs a list of them as of the last sale of a version with their library
//! defaults; [`MartRefresh`] is the build's hook ([`acrm_store::DeriveTables`]) that does so
//! inside the version a build is about to publish, so the marts never lag behind its facts.

use std::path::{Path, PathBuf};

use acrm_olap::Engine;
use chrono::NaiveDate;
use datafusion::arrow::array::RecordBatch;

use crate::FeatureTable;
use crate::alerts::{AlertOptions, alerts};
use crate::basket::source::{
    BasketQuery, BasketUnit, ItemLevel, customer_histories, warehouse_baskets,
};
use crate::basket::{BasketOptions, GroupResult, recommend};
use crate::features::{customer_features, last_fact_date};
use crate::lifecycle::{LifecycleOptions, lifecycle};
use crate::model::registry::Registry;
use crate::model::{churn, credit, source::Source};
use crate::rfm::Rfm;
use crate::segment::{DEFAULT_FEATURES, DEFAULT_MAX_K, K, LOG_FEATURES, SegmentOptions, segment};
use crate::value::{ValueOptions, value_tiers};
use crate::{Error, Result};

/// An analysis that publishes marts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Analysis {
    /// Its name in `[marts] refresh`, `tables.toml` and the mart lineage.
    pub name: &'static str,
    /// The marts it publishes, as declared in `tables.toml`.
    pub tables: &'static [&'static str],
    /// Scores with the champion model of the registry (train one first with
    /// `acrm mine churn|credit train`).
    pub needs_model: bool,
}

/// Every analysis that publishes marts.
pub const ANALYSES: &[Analysis] = &[
    Analysis {
        name: "rfm",
        tables: &["mart_rfm"],
        needs_model: false,
    },
    Analysis {
        name: "segment",
        tables: &["mart_segment", "mart_segment_profile"],
        needs_model: false,
    },
    Analysis {
        name: "value",
        tables: &["mart_value_tier"],
        needs_model: false,
    },
    Analysis {
        name: "lifecycle",
        tables: &["mart_lifecycle"],
        needs_model: false,
    },
    Analysis {
        name: "alerts",
        tables: &["alerts"],
        needs_model: false,
    },
    Analysis {
        name: "basket",
        tables: &["mart_basket_rules"],
        needs_model: false,
    },
    Analysis {
        name: "cross_sell",
        tables: &["mart_cross_sell"],
        needs_model: false,
    },
    Analysis {
        name: "churn_score",
        tables: &["mart_churn_score"],
        needs_model: true,
    },
    Analysis {
        name: "credit_score",
        tables: &["mart_credit_score"],
        needs_model: true,
    },
];

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
    let mut shared = Shared::default();
    for name in analyses {
        match run(engine, name, as_of, segment_k, &mut shared, models).await {
            Ok(t) => out.tables.extend(t),
            Err(e) => out.failures.push((name.clone(), e)),
        }
    }
    out
}

/// Inputs computed once per refresh and shared by the analyses that need them.
#[derive(Default)]
struct Shared {
    /// Customer features (`rfm`, `segment`).
    features: Option<FeatureTable>,
    /// The association rules of every order up to the last sale (`basket`, `cross_sell`).
    rules: Option<GroupResult>,
}

/// The baskets the nightly refresh mines: every order up to `as_of`, items at subcategory
/// level.
fn nightly_baskets(as_of: NaiveDate) -> BasketQuery {
    BasketQuery {
        by: None,
        customers: None,
        unit: BasketUnit::Order,
        level: ItemLevel::Subcategory,
        from: None,
        to: Some(as_of),
    }
}

impl Shared {
    async fn features(&mut self, engine: &Engine, as_of: NaiveDate) -> Result<&FeatureTable> {
        if self.features.is_none() {
            self.features = Some(customer_features(engine, as_of).await?);
        }
        self.features
            .as_ref()
            .ok_or_else(|| Error::Invalid("customer features".into()))
    }

    async fn rules(&mut self, engine: &Engine, as_of: NaiveDate) -> Result<&GroupResult> {
        if self.rules.is_none() {
            let groups = warehouse_baskets(engine, &nightly_baskets(as_of)).await?;
            self.rules = BasketOptions::DEFAULT.mine(groups)?.into_iter().next();
        }
        self.rules
            .as_ref()
            .ok_or_else(|| Error::Invalid("no baskets to analyse".into()))
    }
}

/// One analysis with its library defaults, as of `as_of`.
async fn run(
    engine: &Engine,
    name: &str,
    as_of: NaiveDate,
    segment_k: Option<usize>,
    shared: &mut Shared,
    models: &Registry,
) -> Result<Vec<(String, RecordBatch)>> {
    Ok(match name {
        "rfm" => {
            let f = shared.features(engine, as_of).await?;
            vec![("mart_rfm".into(), Rfm::score(f, as_of)?.to_batch()?)]
        }
        "segment" => {
            let options = SegmentOptions {
                k: segment_k.map_or(K::Auto { max: DEFAULT_MAX_K }, K::Fixed),
                log_features: LOG_FEATURES.iter().map(|s| s.to_string()).collect(),
                kmeans: Default::default(),
            };
            let on: Vec<String> = DEFAULT_FEATURES.iter().map(|s| s.to_string()).collect();
            let s = segment(shared.features(engine, as_of).await?, &on, &options)?;
            vec![
                ("mart_segment".into(), s.segment_batch()?),
                ("mart_segment_profile".into(), s.profile_batch()?),
            ]
        }
        "value" => {
            let v = value_tiers(engine, as_of, &ValueOptions::default()).await?;
            vec![("mart_value_tier".into(), v.to_batch()?)]
        }
        "lifecycle" => {
            let l = lifecycle(engine, as_of, &LifecycleOptions::default()).await?;
            vec![("mart_lifecycle".into(), l.to_batch()?)]
        }
        "alerts" => {
            let a = alerts(engine, as_of, &AlertOptions::default()).await?;
            vec![("alerts".into(), a.to_batch()?)]
        }
        "basket" => {
            let rules = shared.rules(engine, as_of).await?.rules_batch()?;
            vec![("mart_basket_rules".into(), rules)]
        }
        "cross_sell" => {
            let histories = customer_histories(engine, &nightly_baskets(as_of)).await?;
            let all = shared.rules(engine, as_of).await?;
            let recs = recommend::recommend(
                &all.rules,
                &all.tx,
                &histories,
                BasketOptions::DEFAULT.top_n,
            );
            vec![(
                "mart_cross_sell".into(),
                recommend::recommendations_batch(&recs)?,
            )]
        }
        "churn_score" => {
            let model = models.load(churn::TASK, "champion")?;
            let data = churn::load(engine, as_of, churn::DEFAULT_HORIZON, as_of).await?;
            let table = churn::score_table(&model, &data.frame, as_of)?;
            vec![("mart_churn_score".into(), table)]
        }
        "credit_score" => {
            let model = models.load(credit::TASK, "champion")?;
            let data = Source::Sql(credit::scoring_sql())
                .load(Some(engine))
                .await?;
            let table = credit::score_table(&model, &data.frame)?;
            vec![("mart_credit_score".into(), table)]
        }
        other => return Err(Error::Invalid(format!("unknown analysis '{other}'"))),
    })
}

/// The nightly build's mart refresh (`[marts]` in the config): runs the configured analyses
/// over the version the build is about to publish, on the caller's tokio runtime.
#[derive(Debug)]
pub struct MartRefresh {
    analyses: Vec<String>,
    segment_k: Option<usize>,
    /// The warehouse root, whose model registry scores `churn_score` / `credit_score`.
    warehouse: PathBuf,
    runtime: tokio::runtime::Handle,
}

impl MartRefresh {
    /// A refresh of `analyses` (k of the segmentation: `segment_k`, or by silhouette) for
    /// the warehouse at `warehouse`, run on `runtime`; `None` when it names no analysis.
    pub fn new(
        analyses: &[String],
        segment_k: Option<usize>,
        warehouse: &Path,
        runtime: tokio::runtime::Handle,
    ) -> Option<Self> {
        (!analyses.is_empty()).then(|| Self {
            analyses: analyses.to_vec(),
            segment_k,
            warehouse: warehouse.to_path_buf(),
            runtime,
        })
    }
}

impl acrm_store::DeriveTables for MartRefresh {
    fn derive(&self, dir: &Path) -> Vec<(String, RecordBatch)> {
        let refreshed = self.runtime.block_on(async {
            let engine = Engine::open_version(dir, Default::default()).await?;
            let models = Registry::new(&self.warehouse);
            Ok::<_, Error>(refresh(&engine, &self.analyses, self.segment_k, &models).await)
        });
        match refreshed {
            Ok(r) => {
                for (analysis, error) in &r.failures {
                    tracing::warn!(analysis, %error, "mart refresh skipped");
                }
                r.tables
            }
            Err(error) => {
                tracing::warn!(%error, "marts not refreshed");
                Vec::new()
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_and_the_declared_marts_agree() {
        let schema = acrm_schema::WarehouseSchema::builtin().expect("schema");
        let names: Vec<&str> = ANALYSES.iter().map(|a| a.name).collect();
        assert_eq!(names, schema.analyses(), "same analyses, same order");
        for a in ANALYSES {
            let declared: Vec<&str> = schema
                .marts()
                .filter(|t| t.analysis.as_deref() == Some(a.name))
                .map(|t| t.name.as_str())
                .collect();
            assert_eq!(a.tables, declared.as_slice(), "{}", a.name);
        }
    }
}
