//! One engine per role over the current warehouse version, opened on first use and replaced
//! when a build publishes a new version: each statement takes the engine current when it
//! starts and keeps it (an `Arc`) to its last row, so a query in flight goes on reading the
//! version it started on while new ones read the new version — no restart.
//!
//! The build keeps the last `keep_versions` versions on disk, so a reader is safe unless that
//! many builds publish while one statement runs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use acrm_olap::{Engine, EngineOptions};
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::context::EmptyContextProvider;
use datafusion_postgres::datafusion_pg_catalog::pg_catalog::setup_pg_catalog;
use tokio::sync::Mutex;

use crate::config::Role;
use crate::{Error, Result};

/// Engines of the current version by role name.
#[derive(Default)]
struct Current {
    version: u64,
    engines: HashMap<String, Arc<Engine>>,
}

/// The engines the server queries through.
pub struct Engines {
    warehouse: PathBuf,
    database: String,
    memory_limit: usize,
    current: Mutex<Current>,
}

impl Engines {
    /// Engines over `warehouse`, served as database `database`; `memory_limit` bounds what
    /// opening an engine may query (each statement then runs with its own pool of the same
    /// size, set by the handler).
    pub fn new(warehouse: &Path, database: &str, memory_limit: usize) -> Self {
        Self {
            warehouse: warehouse.to_path_buf(),
            database: database.to_string(),
            memory_limit,
            current: Mutex::new(Current::default()),
        }
    }

    /// The engine of role `name` over the version published now.
    pub async fn get(&self, name: &str, role: &Role) -> Result<Arc<Engine>> {
        let (version, _) = acrm_store::Warehouse::new(&self.warehouse).require_current()?;
        let mut current = self.current.lock().await;
        if current.version != version {
            tracing::info!(version, "serving a newly published warehouse version");
            *current = Current {
                version,
                engines: HashMap::new(),
            };
        }
        if let Some(e) = current.engines.get(name) {
            return Ok(e.clone());
        }
        let engine = Arc::new(self.open(role).await?);
        // A publish between reading the link and opening: key by what was opened.
        if engine.version() == current.version {
            current.engines.insert(name.to_string(), engine.clone());
        }
        Ok(engine)
    }

    async fn open(&self, role: &Role) -> Result<Engine> {
        let options = EngineOptions {
            privileged: role.privileged,
            memory_limit: self.memory_limit,
            scope: role.scope.clone(),
            catalog: self.database.clone(),
            ..EngineOptions::default()
        };
        let mut engine = Engine::open(&self.warehouse, options).await?;
        acrm_mining::model::udf::register(&mut engine, &self.warehouse).await?;
        // pg_catalog and the functions psql, drivers and BI tools ask about on connect.
        setup_pg_catalog(engine.context(), &self.database, EmptyContextProvider)
            .map_err(|e| Error::DataFusion(*e))?;
        crate::catalog::register(&engine, &self.database).await?;
        Ok(engine)
    }
}
