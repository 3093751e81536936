//! What drivers and BI tools ask a server about itself and its objects, answered as
//! PostgreSQL answers it: `version()` in PostgreSQL's shape (SQLAlchemy parses the major
//! version out of it; Npgsql asks for it on connect), object owners, the comments of every table, view and
//! column ([`comments`]) and the declared primary keys ([`keys`]), both from
//! `warehouse-schema/`. The rest of `pg_catalog` is datafusion-postgres's.

mod comments;
mod frames;
mod functions;
mod keys;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::error::{DataFusionError, Result as DfResult};

use crate::{Error, Result};

/// The schema every warehouse object is served in.
const SCHEMA: &str = "public";

/// `pg_catalog` as datafusion-postgres serves it, with acrm's tables in place of some.
#[derive(Debug)]
struct Described {
    inner: Arc<dyn SchemaProvider>,
    replaced: HashMap<&'static str, Arc<dyn TableProvider>>,
}

#[async_trait]
impl SchemaProvider for Described {
    fn table_names(&self) -> Vec<String> {
        self.inner.table_names()
    }

    async fn table(&self, name: &str) -> DfResult<Option<Arc<dyn TableProvider>>> {
        match self.replaced.get(name.to_ascii_lowercase().as_str()) {
            Some(t) => Ok(Some(t.clone())),
            None => self.inner.table(name).await,
        }
    }

    fn table_exist(&self, name: &str) -> bool {
        self.inner.table_exist(name)
    }
}

/// Registers the server-identity functions, and the comments and keys of `engine`'s objects
/// in its `pg_catalog` (datafusion-postgres's, set up already in catalog `database`).
pub(crate) async fn register(engine: &acrm_olap::Engine, database: &str) -> Result<()> {
    let ctx = engine.context();
    functions::register(ctx, database);
    let missing = |what: String| Error::DataFusion(DataFusionError::Internal(what));
    let catalog = ctx
        .catalog(database)
        .ok_or_else(|| missing(format!("the engine has no catalog named {database}")))?;
    let inner = catalog
        .schema("pg_catalog")
        .ok_or_else(|| missing("pg_catalog is not set up".into()))?;
    let relations = frames::relations_in(ctx, inner.as_ref(), SCHEMA).await?;
    let mut objects = Vec::new();
    for object in engine.tables() {
        objects.push((object, engine.describe(&object.name).await?));
    }
    let keys = keys::keys(ctx, &objects, &relations, inner.as_ref()).await?;
    let descriptions = comments::descriptions(ctx, &objects, &relations, inner.as_ref()).await?;
    let replaced = HashMap::from([
        ("pg_description", descriptions),
        ("pg_class", keys.class),
        ("pg_index", keys.index),
        ("pg_constraint", keys.constraint),
    ]);
    catalog.register_schema("pg_catalog", Arc::new(Described { inner, replaced }))?;
    Ok(())
}
