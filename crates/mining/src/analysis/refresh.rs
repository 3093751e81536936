//! The nightly mart refresh: [`refresh`] runs a list of analyses as of the last sale of a
//! version with their library defaults; [`MartRefresh`] is the build's hook
//! ([`acrm_store::DeriveTables`]) that does so inside the version a build is about to
//! publish, so the marts never lag behind its facts.

use std::path::{Path, PathBuf};

use acrm_olap::Engine;
use datafusion::arrow::array::RecordBatch;

use super::analysis;
use super::context::Context;
use super::features::last_fact_date;
use crate::Error;
use crate::model::registry::Registry;

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
    let mut context = Context::new(engine, as_of, segment_k, models);
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
