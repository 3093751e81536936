//! What drivers and BI tools ask a server about itself and its objects, answered as
//! PostgreSQL answers it: `version()` in PostgreSQL's shape (SQLAlchemy, pgJDBC and others
//! parse the major version out of it), object owners, the comments of every table, view and
//! column ([`comments`]) and the declared primary keys ([`keys`]), both from
//! `warehouse-schema/`. The rest of `pg_catalog` is datafusion-postgres's.

mod comments;
mod functions;
mod keys;

use std::collections::HashMap;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{ArrayRef, RecordBatch};
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::common::Column;
use datafusion::datasource::MemTable;
use datafusion::error::{DataFusionError, Result as DfResult};
use datafusion::logical_expr::Expr;
use datafusion::prelude::{DataFrame, JoinType, SessionContext, col, lit};

use crate::{Error, Result};

/// The schema every warehouse object is served in.
const SCHEMA: &str = "public";

/// A frame of `columns` (name, values, nullable), for joining to the catalog.
fn frame(ctx: &SessionContext, columns: Vec<(&str, ArrayRef, bool)>) -> Result<DataFrame> {
    let schema = Arc::new(Schema::new(
        columns
            .iter()
            .map(|(name, values, nullable)| {
                Field::new(*name, values.data_type().clone(), *nullable)
            })
            .collect::<Vec<_>>(),
    ));
    let batch = RecordBatch::try_new(schema.clone(), columns.into_iter().map(|c| c.1).collect())
        .map_err(DataFusionError::from)?;
    Ok(ctx.read_table(Arc::new(MemTable::try_new(schema, vec![vec![batch]])?))?)
}

/// `pg_catalog` table `name` as datafusion-postgres serves it (`inner`), named `name`.
async fn table(ctx: &SessionContext, inner: &dyn SchemaProvider, name: &str) -> Result<DataFrame> {
    let provider = inner.table(name).await?.ok_or_else(|| {
        Error::DataFusion(DataFusionError::Internal(format!(
            "pg_catalog has no {name}"
        )))
    })?;
    Ok(ctx.read_table(provider)?.alias(name)?)
}

/// The relations of schema `public` as `pg_class` lists them: `r_oid`, `r_name`, and
/// `ns_oid` (the schema's oid).
async fn relations(ctx: &SessionContext, inner: &dyn SchemaProvider) -> Result<DataFrame> {
    let namespaces = table(ctx, inner, "pg_namespace")
        .await?
        .filter(col("nspname").eq(lit(SCHEMA)))?;
    Ok(table(ctx, inner, "pg_class")
        .await?
        .join(
            namespaces,
            JoinType::Inner,
            &["relnamespace"],
            &["oid"],
            None,
        )?
        .select(vec![
            Expr::Column(Column::new(Some("pg_class"), "oid")).alias("r_oid"),
            col("relname").alias("r_name"),
            Expr::Column(Column::new(Some("pg_namespace"), "oid")).alias("ns_oid"),
        ])?)
}

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
    let relations = relations(ctx, inner.as_ref()).await?;
    let keys = keys::keys(ctx, engine, &relations, inner.as_ref()).await?;
    let descriptions = comments::descriptions(ctx, engine, &relations, inner.as_ref()).await?;
    let replaced = HashMap::from([
        ("pg_description", descriptions),
        ("pg_class", keys.class),
        ("pg_index", keys.index),
        ("pg_constraint", keys.constraint),
    ]);
    catalog.register_schema("pg_catalog", Arc::new(Described { inner, replaced }))?;
    Ok(())
}
