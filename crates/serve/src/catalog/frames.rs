//! The `pg_catalog` tables datafusion-postgres serves, and small in-memory tables, as
//! DataFusion frames to join: what the comment and key tables are built of.

use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, RecordBatch};
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::catalog::SchemaProvider;
use datafusion::common::Column;
use datafusion::datasource::MemTable;
use datafusion::error::DataFusionError;
use datafusion::logical_expr::Expr;
use datafusion::prelude::{DataFrame, JoinType, SessionContext, col, lit};

use crate::{Error, Result};

/// A served object and its columns as the role sees them (`Engine::describe`), described
/// once for both the comments and the keys.
pub(super) type Served<'a> = (&'a acrm_olap::TableInfo, Vec<acrm_olap::ColumnInfo>);

/// A frame of `columns` (name, values, nullable), for joining to the catalog.
pub(super) fn frame(
    ctx: &SessionContext,
    columns: Vec<(&str, ArrayRef, bool)>,
) -> Result<DataFrame> {
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
pub(super) async fn table(
    ctx: &SessionContext,
    inner: &dyn SchemaProvider,
    name: &str,
) -> Result<DataFrame> {
    let provider = inner.table(name).await?.ok_or_else(|| {
        Error::DataFusion(DataFusionError::Internal(format!(
            "pg_catalog has no {name}"
        )))
    })?;
    Ok(ctx.read_table(provider)?.alias(name)?)
}

/// The relations of schema `schema` as `pg_class` lists them: `r_oid`, `r_name`, and
/// `ns_oid` (the schema's oid).
pub(super) async fn relations_in(
    ctx: &SessionContext,
    inner: &dyn SchemaProvider,
    schema: &str,
) -> Result<DataFrame> {
    let namespaces = table(ctx, inner, "pg_namespace")
        .await?
        .filter(col("nspname").eq(lit(schema)))?;
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
