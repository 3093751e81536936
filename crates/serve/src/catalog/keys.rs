//! Primary keys as PostgreSQL's catalog shows them: each key `warehouse-schema/` declares
//! (the build keeps it unique; the SQL layer does not enforce it) as an index
//! `<table>_pkey` in `pg_class` and `pg_index` and a constraint in `pg_constraint` — what
//! pgJDBC's `getPrimaryKeys`, SQLAlchemy's `get_pk_constraint` and BI tools' join
//! suggestions read. Key columns are listed as arrays, so `unnest` reads them.

use std::collections::HashMap;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int16Array, Int16Builder, ListBuilder, StringArray};
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::catalog::{SchemaProvider, TableProvider};
use datafusion::common::{Column, ScalarValue};
use datafusion::functions::expr_fn::concat;
use datafusion::logical_expr::Expr;
use datafusion::prelude::{DataFrame, JoinType, SessionContext, col, lit};

use super::frames::{Served, frame, table};
use crate::Result;

/// What is added to a table's oid to make its key index's oid (datafusion-postgres hands
/// out oids upwards from 16384, far below).
const INDEX_OID: i32 = 1 << 28;

/// What is added to a table's oid to make its key constraint's oid.
const CONSTRAINT_OID: i32 = 2 << 28;

/// `pg_class` with the key indexes, `pg_index` and `pg_constraint`.
pub(super) struct Keys {
    pub class: Arc<dyn TableProvider>,
    pub index: Arc<dyn TableProvider>,
    pub constraint: Arc<dyn TableProvider>,
}

/// Each served object's declared key as column numbers (1-based, in the order the object's
/// columns are served, as `pg_attribute.attnum` counts them), in key order.
fn declared(objects: &[Served<'_>]) -> Result<Vec<(String, Vec<i16>)>> {
    let schema = acrm_schema::WarehouseSchema::builtin().map_err(acrm_olap::Error::from)?;
    let mut keys = Vec::new();
    for (object, columns) in objects {
        let Ok(def) = schema.table(&object.name) else {
            continue;
        };
        if def.primary_key.is_empty() {
            continue;
        }
        let numbers: Option<Vec<i16>> = def
            .primary_key
            .iter()
            .map(|k| {
                let at = columns.iter().position(|c| &c.name == k)?;
                i16::try_from(at + 1).ok()
            })
            .collect();
        if let Some(numbers) = numbers {
            keys.push((object.name.clone(), numbers));
        }
    }
    Ok(keys)
}

/// Columns named after `fields`, each `given[name]` or else `default(field)`.
fn shaped(
    fields: &[Arc<Field>],
    mut given: HashMap<&str, Expr>,
    default: impl Fn(&Field) -> Result<Expr>,
) -> Result<Vec<Expr>> {
    fields
        .iter()
        .map(|f| {
            let expr = match given.remove(f.name().as_str()) {
                Some(e) => e,
                None => default(f)?,
            };
            Ok(expr.alias(f.name()))
        })
        .collect()
}

/// A typed NULL for `field`.
fn null(field: &Field) -> Result<Expr> {
    Ok(lit(ScalarValue::try_from(field.data_type())?))
}

/// `pg_class`, `pg_index` and `pg_constraint` with the keys of `objects`, over
/// `relations` ([`super::frames::relations_in`]) and the `pg_catalog` tables of `inner`.
pub(super) async fn keys(
    ctx: &SessionContext,
    objects: &[Served<'_>],
    relations: &DataFrame,
    inner: &dyn SchemaProvider,
) -> Result<Keys> {
    let declared = declared(objects)?;
    let mut numbers = ListBuilder::new(Int16Builder::new());
    for (_, key) in &declared {
        numbers.values().append_slice(key);
        numbers.append(true);
    }
    let keys = frame(
        ctx,
        vec![
            (
                "k_relation",
                Arc::new(StringArray::from_iter_values(
                    declared.iter().map(|(n, _)| n.as_str()),
                )) as ArrayRef,
                false,
            ),
            ("k_columns", Arc::new(numbers.finish()), false),
            (
                "k_count",
                Arc::new(Int16Array::from_iter_values(
                    declared.iter().map(|(_, k)| k.len() as i16),
                )),
                false,
            ),
        ],
    )?;
    let keyed =
        relations
            .clone()
            .join(keys, JoinType::Inner, &["r_name"], &["k_relation"], None)?;
    let pkey = || concat(vec![col("r_name"), lit("_pkey")]);
    let index_oid = || col("r_oid") + lit(INDEX_OID);

    let class = table(ctx, inner, "pg_class").await?;
    let class_fields = class.schema().fields().to_vec();
    let index_rows = class
        .clone()
        .join(keyed.clone(), JoinType::Inner, &["oid"], &["r_oid"], None)?
        .select(shaped(
            &class_fields,
            HashMap::from([
                ("oid", index_oid()),
                ("relname", pkey()),
                ("relkind", lit("i")),
                ("reltype", lit(0i32)),
                ("relnatts", col("k_count")),
                ("relhasindex", lit(false)),
            ]),
            |f| Ok(Expr::Column(Column::new(Some("pg_class"), f.name()))),
        )?)?;

    let index_fields = table(ctx, inner, "pg_index")
        .await?
        .schema()
        .fields()
        .to_vec();
    let yes = ["indisunique", "indisprimary", "indimmediate", "indisvalid"]
        .into_iter()
        .chain(["indisready", "indislive"])
        .map(|n| (n, lit(true)));
    let index = keyed.clone().select(shaped(
        &index_fields,
        HashMap::from_iter(
            [
                ("indexrelid", index_oid()),
                ("indrelid", col("r_oid")),
                ("indnatts", col("k_count")),
                ("indnkeyatts", col("k_count")),
                ("indkey", col("k_columns")),
            ]
            .into_iter()
            .chain(yes),
        ),
        |f| match f.data_type() {
            DataType::Boolean => Ok(lit(false)),
            _ => null(f),
        },
    )?)?;

    let constraint_fields = table(ctx, inner, "pg_constraint")
        .await?
        .schema()
        .fields()
        .to_vec();
    let constraint = keyed.select(shaped(
        &constraint_fields,
        HashMap::from([
            ("oid", col("r_oid") + lit(CONSTRAINT_OID)),
            ("conname", pkey()),
            ("connamespace", col("ns_oid")),
            ("contype", lit("p")),
            ("condeferrable", lit(false)),
            ("condeferred", lit(false)),
            ("convalidated", lit(true)),
            ("conrelid", col("r_oid")),
            ("contypid", lit(0i32)),
            ("conindid", index_oid()),
            ("conparentid", lit(0i32)),
            ("confrelid", lit(0i32)),
            ("conislocal", lit(true)),
            ("coninhcount", lit(0i16)),
            ("connoinherit", lit(true)),
            ("conkey", col("k_columns")),
        ]),
        null,
    )?)?;
    Ok(Keys {
        class: class.union(index_rows)?.into_view(),
        index: index.into_view(),
        constraint: constraint.into_view(),
    })
}
