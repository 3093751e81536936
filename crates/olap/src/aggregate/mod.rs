//! Cube aggregates (`warehouse-schema/aggregates.toml`): tables of pre-summed facts that the
//! nightly build refreshes ([`refresh`]) and the engine answers covered queries from
//! ([`navigate`]), as SSAS aggregations or Kylin cuboids do. This module holds what both
//! sides share: an aggregate's schemas and the fingerprint of its declaration, and the
//! engine's registration of the aggregates a version holds.

pub mod bitmap;
pub mod materialized;
#[cfg(test)]
mod materialized_tests;
mod navigate;
pub mod refresh;
#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use acrm_schema::{AggregateDef, MeasureFunction, WarehouseSchema};
use acrm_store::{Derived, Manifest};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;

pub use navigate::Navigation;
pub use refresh::AggregateRefresh;

use crate::engine::{ObjectKind, TableInfo, listing_table};
use crate::{Error, Result};

/// Bumped when the stored form of aggregates changes, so every aggregate is recomputed.
const FORMAT: u32 = 1;

/// Whether `t` is text (kept in a `count_distinct` bitmap through a dictionary).
fn is_text(t: &DataType) -> bool {
    matches!(t, DataType::Utf8 | DataType::Utf8View | DataType::LargeUtf8)
}

/// An aggregate's error, naming it.
fn invalid(def: &AggregateDef, message: impl Into<String>) -> Error {
    Error::Aggregate {
        name: def.name.clone(),
        message: message.into(),
    }
}

/// The schema aggregate `def` is queried with, given its source's schema: the grain columns
/// exactly as the source types them (so a query's expressions over them keep their types),
/// then one column per measure — `count` Int64, `sum` the type `sum` returns, `min`/`max`
/// the column's type, `count_distinct` a binary bitmap. Refuses measures whose re-aggregation
/// would not be exact (a `sum` of floating-point values) or that have no bitmap form.
pub fn query_schema(def: &AggregateDef, source: &Schema) -> Result<SchemaRef> {
    let field = |name: &str| {
        source
            .field_with_name(name)
            .map_err(|_| invalid(def, format!("'{name}' is not a column of {}", def.source)))
    };
    let mut fields = Vec::new();
    for g in &def.grain {
        fields.push(field(g)?.clone());
    }
    for m in &def.measures {
        let name = m.stored_name();
        let column = (m.column != "*").then(|| field(&m.column)).transpose()?;
        let t = column.map(|c| c.data_type().clone());
        let f = match (m.function, t) {
            (MeasureFunction::Count, _) => Field::new(name, DataType::Int64, false),
            (MeasureFunction::Sum, Some(t)) if t.is_integer() || t.is_decimal() => {
                // `sum` widens integers to 64 bits before it types its result.
                let t = match t {
                    t if t.is_signed_integer() => DataType::Int64,
                    t if t.is_unsigned_integer() => DataType::UInt64,
                    t => t,
                };
                let summed = datafusion::functions_aggregate::sum::sum_udaf()
                    .return_type(std::slice::from_ref(&t))?;
                Field::new(name, summed, true)
            }
            (MeasureFunction::Min | MeasureFunction::Max, Some(t)) => Field::new(name, t, true),
            (MeasureFunction::CountDistinct, Some(t)) if is_text(&t) || t.is_integer() => {
                Field::new(name, DataType::Binary, true)
            }
            (f, t) => {
                return Err(invalid(
                    def,
                    format!(
                        "{} of '{}' ({}) cannot be re-aggregated exactly",
                        f.name(),
                        m.column,
                        t.map_or("rows".to_string(), |t| t.to_string())
                    ),
                ));
            }
        };
        fields.push(f);
    }
    Ok(Arc::new(Schema::new(fields)))
}

/// `schema` as an aggregate is written: text as `Utf8` (as every table is stored).
pub fn stored_schema(schema: &Schema) -> SchemaRef {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            t if is_text(t) => f.as_ref().clone().with_data_type(DataType::Utf8),
            _ => f.as_ref().clone(),
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// SQL reading aggregate `def`'s cells as a user sees them: one row per grain cell (its fact
/// partitions merged), measures re-aggregated, bitmaps counted, ordered by the grain. Two
/// versions of an aggregate hold the same data exactly when these answers are equal
/// (dictionary ordinals may differ).
pub fn cells_sql(def: &AggregateDef) -> String {
    let grain = def
        .grain
        .iter()
        .map(|g| crate::mask::ident(g))
        .collect::<Vec<_>>()
        .join(", ");
    let measures: Vec<String> = def
        .measures
        .iter()
        .map(|m| {
            let merged = match m.function {
                MeasureFunction::Count | MeasureFunction::Sum => "sum",
                MeasureFunction::Min => "min",
                MeasureFunction::Max => "max",
                MeasureFunction::CountDistinct => bitmap::COUNT,
            };
            format!("{merged}({0}) AS {0}", crate::mask::ident(&m.stored_name()))
        })
        .collect();
    format!(
        "SELECT {grain}, {} FROM {} GROUP BY {grain} ORDER BY {grain}",
        measures.join(", "),
        crate::mask::ident(&def.name)
    )
}

/// A fingerprint of what an aggregate's rows depend on besides the data: its declaration,
/// its source view's SQL and the stored format.
pub fn fingerprint(def: &AggregateDef) -> String {
    let view = acrm_schema::VIEWS
        .iter()
        .find(|(name, _)| *name == def.source)
        .map_or("", |(_, sql)| sql);
    let text = format!("{FORMAT}\n{def:?}\n{view}");
    blake3::hash(text.as_bytes()).to_hex()[..16].to_string()
}

/// The (table, column)s column `index` of `view`'s output is read or computed from: itself,
/// or each column the view's select-list expression for it uses; None when one of them has
/// no single source.
pub(crate) fn sources_of(view: &LogicalPlan, index: usize) -> Option<Vec<(String, String)>> {
    if let Some(source) = crate::lineage::source_of(view, index) {
        return Some(vec![source]);
    }
    let LogicalPlan::Projection(p) = view else {
        return None;
    };
    p.expr
        .get(index)?
        .column_refs()
        .into_iter()
        .map(|c| crate::lineage::source_of(&p.input, p.input.schema().index_of_column(c).ok()?))
        .collect()
}

/// The first grain column of aggregate `def` that is personal data — read or computed from a
/// column flagged `pii`, or from something lineage cannot trace — given its source's plan
/// (None: the source is a table) and schema. An aggregate is not masked, so one grouping by
/// personal data is neither built nor served.
pub(crate) fn personal_grain(
    def: &AggregateDef,
    view: Option<&LogicalPlan>,
    source: &Schema,
    schema: &WarehouseSchema,
) -> Option<String> {
    let personal = |(table, column): &(String, String)| {
        schema
            .table(table)
            .ok()
            .and_then(|t| t.column(column))
            .is_none_or(|c| c.pii)
    };
    def.grain
        .iter()
        .find(|g| {
            let traced = match (view, source.index_of(g)) {
                (_, Err(_)) => None,
                (Some(view), Ok(index)) => sources_of(view, index),
                (None, Ok(_)) => Some(vec![(def.source.clone(), g.to_string())]),
            };
            traced.is_none_or(|sources| sources.iter().any(personal))
        })
        .cloned()
}

/// The lineage of a table computed on `version` from `definition` (a fingerprint; none when
/// empty).
fn derived(version: u64, definition: String) -> Derived {
    Derived {
        computed_on: version,
        computed_at: acrm_store::manifest::now(),
        definition: (!definition.is_empty()).then_some(definition),
    }
}

/// Removes `folder` (a stored aggregate's or report's) and what it holds, if it exists.
fn remove(folder: &Path) -> Result<()> {
    if folder.exists() {
        std::fs::remove_dir_all(folder).map_err(|source| Error::Io {
            path: folder.into(),
            source,
        })?;
    }
    Ok(())
}

/// What each column of aggregate `def` holds, for `acrm describe`.
fn column_notes(def: &AggregateDef) -> HashMap<String, String> {
    let source = &def.source;
    let mut notes: HashMap<String, String> = def
        .grain
        .iter()
        .map(|g| (g.clone(), format!("Grain: {source}.{g}.")))
        .collect();
    for m in &def.measures {
        let what = match (m.function, m.column.as_str()) {
            (MeasureFunction::Count, "*") => "Rows of the cell.".to_string(),
            (MeasureFunction::CountDistinct, c) => format!(
                "Bitmap of the cell's distinct {c} values: acrm_bitmap_count(column) counts a union."
            ),
            (f, c) => format!("{}({c}) over the cell's rows.", f.name()),
        };
        notes.insert(m.stored_name(), what);
    }
    notes
}

/// One aggregate as the engine serves it: listed, with its columns' notes.
pub(crate) struct Registered {
    /// For `acrm tables`.
    pub info: TableInfo,
    /// Column → what it holds, for `acrm describe`.
    pub notes: HashMap<String, String>,
}

/// Registers in `ctx` the aggregates the version in `dir` (manifest `manifest`) holds, each
/// under its name, and the stored results of its materialized reports that are still their
/// reports' answers for this caller (`privileged` or not); returns them with the rule that
/// answers queries from them. Called once the views they read exist.
pub(crate) async fn register(
    ctx: &SessionContext,
    dir: &Path,
    manifest: &Manifest,
    schema: &WarehouseSchema,
    privileged: bool,
) -> Result<(Vec<Registered>, Navigation)> {
    let mut listed = Vec::new();
    let mut navigation = Navigation::default();
    // Users may count an aggregate's bitmaps themselves.
    ctx.register_udaf(bitmap::count_udaf());
    for def in acrm_schema::builtin_aggregates()? {
        let folder = dir.join(&def.name);
        let Some(&rows) = manifest.tables.get(&def.name) else {
            continue;
        };
        if !folder.is_dir() {
            continue;
        }
        // One built from another declaration (a warehouse built by an older acrm) may lack
        // a measure or sum other rows: the facts answer until the next build recomputes it.
        let built_from = manifest
            .derived
            .get(&def.name)
            .and_then(|d| d.definition.as_deref());
        if built_from != Some(fingerprint(&def).as_str()) {
            tracing::warn!(
                aggregate = def.name,
                "built from another declaration: not used until the next build refreshes it"
            );
            continue;
        }
        let source = ctx.table_provider(def.source.as_str()).await?;
        let view = source.get_logical_plan().map(|p| p.into_owned());
        // The refresh builds none; one found here all the same is never served.
        if let Some(column) = personal_grain(&def, view.as_ref(), &source.schema(), schema) {
            tracing::warn!(
                aggregate = def.name,
                column,
                "grain is personal data: not served"
            );
            continue;
        }
        let table = listing_table(&folder, query_schema(&def, &source.schema())?, false, None)?;
        ctx.register_table(def.name.as_str(), table.clone())?;
        listed.push(Registered {
            info: TableInfo {
                name: def.name.clone(),
                kind: ObjectKind::Aggregate,
                rows: Some(rows),
                computed_on: Some(manifest.computed_on(&def.name)),
                description: def.description.clone(),
            },
            notes: column_notes(&def),
        });
        navigation.add(def, view, table, rows);
    }
    for (registered, stored) in
        materialized::register(ctx, dir, manifest, schema, privileged).await?
    {
        listed.push(registered);
        navigation.add_report(stored);
    }
    Ok((listed, navigation))
}
