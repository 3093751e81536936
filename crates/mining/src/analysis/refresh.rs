//! The nightly mart refresh: [`refresh`] runs a list of analyses as of the last sale of a
//! version with their library defaults; [`MartRefresh`] is the build's hook
//! ([`acrm_store::DeriveTables`]) that does so inside the version a build is about to
//! publish, so the marts never lag behind its facts.

use std::path::{Path, PathBuf};

use acrm_olap::Engine;
use chrono::NaiveDate;
use datafusion::arrow::array::RecordBatch;

use super::basket::source::{BasketQuery, BasketUnit, ItemLevel, warehouse_baskets};
use super::basket::{BasketOptions, GroupResult};
use super::features::{FeatureTable, customer_features, last_fact_date};
use super::{Tables, analysis};
use crate::model::registry::Registry;
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
    let mut context = Context {
        engine,
        as_of,
        segment_k,
        models,
        features: None,
        rules: None,
    };
    for name in analyses {
        let ran = match analysis(name) {
            Some(a) => (a.run)(&mut context).await,
            None => Err(Error::Invalid(format!("unknown analysis '{name}'"))),
        };
        match ran {
            Ok(t) => out.tables.extend(t),
            Err(e) => out.failures.push((name.clone(), e)),
        }
    }
    out
}

/// What an analysis run by the refresh is given: the version, the as-of date, the model
/// registry, and the inputs several analyses share, computed once per refresh.
pub struct Context<'a> {
    /// The version being refreshed.
    pub engine: &'a Engine,
    /// The last sale of the version: every analysis runs as of it.
    pub as_of: NaiveDate,
    /// k of the segmentation (`[marts] segment_k`), or by silhouette.
    pub segment_k: Option<usize>,
    /// The champions that score `churn_score` / `credit_score`.
    pub models: &'a Registry,
    /// Customer features (`rfm`, `segment`).
    features: Option<FeatureTable>,
    /// The association rules of every order up to the last sale (`basket`, `cross_sell`).
    rules: Option<GroupResult>,
}

impl Context<'_> {
    /// The baskets the nightly refresh mines: every order up to `as_of`, items at
    /// subcategory level.
    pub fn baskets(&self) -> BasketQuery {
        BasketQuery {
            by: None,
            customers: None,
            unit: BasketUnit::Order,
            level: ItemLevel::Subcategory,
            from: None,
            to: Some(self.as_of),
        }
    }

    /// The customer features as of `as_of`, computed on first use.
    pub async fn features(&mut self) -> Result<&FeatureTable> {
        if self.features.is_none() {
            self.features = Some(customer_features(self.engine, self.as_of).await?);
        }
        self.features
            .as_ref()
            .ok_or_else(|| Error::Invalid("customer features".into()))
    }

    /// The association rules of [`Context::baskets`] under the default thresholds,
    /// computed on first use.
    pub async fn rules(&mut self) -> Result<&GroupResult> {
        if self.rules.is_none() {
            let groups = warehouse_baskets(self.engine, &self.baskets()).await?;
            self.rules = BasketOptions::DEFAULT.mine(groups)?.into_iter().next();
        }
        self.rules
            .as_ref()
            .ok_or_else(|| Error::Invalid("no baskets to analyse".into()))
    }
}

/// Boxes an analysis's nightly run as a [`super::Run`] future.
pub(crate) fn boxed<'a>(
    run: impl std::future::Future<Output = Result<Tables>> + 'a,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Tables>> + 'a>> {
    Box::pin(run)
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
