//! Materialized reports (`materialized_reports` in `warehouse-schema/aggregates.toml`): the
//! nightly build stores the whole result of each named canned report in `rpt_<report>`
//! ([`refresh`]), and the engine answers a query whose plan — or a subquery's — is the
//! report's plan from it ([`Stored`], through [`super::Navigation`]): the materialized view
//! with full-match query rewrite of Oracle or SQL Server, for the reports whose per-customer
//! firsts, ranks and windows no cube aggregate can answer.
//!
//! A stored result is served only while it is the answer. Its recorded definition is a hash
//! of the report's SQL and of the checksums of every file of every table the report's plan
//! reads; the engine computes the same from the SQL compiled into it and the sums of the
//! version it opened, so a mart published on its own since (or a report changed) turns the
//! result off until the next build. It holds what a caller without privileges and without a
//! row scope sees (personal data masked): never served to a caller with a row scope, and to
//! a privileged caller only when the report reads no table holding personal data (its
//! answer is then the same for both).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use acrm_schema::WarehouseSchema;
use acrm_store::Manifest;
use acrm_store::integrity::{FileSum, folder_sums};
use acrm_store::parquet::write_parquet;
use datafusion::arrow::array::{ArrayRef, Int64Array, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::DataFusionError;
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::datasource::{TableProvider, provider_as_source};
use datafusion::logical_expr::{
    Expr, LogicalPlan, LogicalPlanBuilder, Projection, Volatility, cast as cast_expr, col,
};
use datafusion::prelude::SessionContext;

use super::{Registered, derived, remove};
use crate::engine::{ObjectKind, TableInfo, listing_table};
use crate::{Engine, EngineOptions, Error, Result};

/// Bumped when the stored form changes, so no result stored before is served.
const FORMAT: u32 = 1;

/// The column holding each row's place in the report's order.
pub const ROW: &str = "__acrm_row";

/// A materialized report's error, naming it.
fn invalid(report: &str, message: impl Into<String>) -> Error {
    Error::Aggregate {
        name: acrm_schema::materialized_table(report),
        message: message.into(),
    }
}

/// The tables `plan` scans (a guarded table's raw name as the table itself).
fn read_tables(plan: &LogicalPlan) -> Result<BTreeSet<String>> {
    let mut tables = BTreeSet::new();
    plan.apply_with_subqueries(|node| {
        if let LogicalPlan::TableScan(scan) = node {
            tables.insert(scan.table_name.table().to_string());
        }
        Ok(TreeNodeRecursion::Continue)
    })?;
    Ok(tables)
}

/// Whether a plan reading `tables` reads no table holding personal data (a `pii` column of `schema`; an
/// undeclared table counts as holding some): masked or not, its answer is the same.
fn personal_free(tables: &BTreeSet<String>, schema: &WarehouseSchema) -> bool {
    tables.iter().all(|t| {
        schema
            .table(t)
            .is_ok_and(|def| def.columns.iter().all(|c| !c.pii))
    })
}

/// Whether every function `plan` calls gives the same answer on the same data (no `now()`,
/// no `random()`): only then is a stored result the report's answer later on.
pub(super) fn deterministic(plan: &LogicalPlan) -> Result<bool> {
    let mut found = false;
    plan.apply_with_subqueries(|node| {
        node.apply_expressions(|e| {
            found |= e.exists(|e| {
                Ok(matches!(e, Expr::ScalarFunction(f)
                    if f.func.signature().volatility != Volatility::Immutable))
            })?;
            Ok(TreeNodeRecursion::Continue)
        })?;
        Ok(if found {
            TreeNodeRecursion::Stop
        } else {
            TreeNodeRecursion::Continue
        })
    })?;
    Ok(!found)
}

/// What a stored result of report SQL `sql` depends on: the stored format, the SQL, and
/// the sums (`sums`, by path in the version) of the files of every table its plan reads
/// (`tables`).
fn definition(sql: &str, tables: &BTreeSet<String>, sums: &BTreeMap<String, FileSum>) -> String {
    let mut hasher = blake3::Hasher::new();
    hasher.update(format!("{FORMAT}\n{sql}\n").as_bytes());
    for table in tables {
        let prefix = format!("{table}/");
        for (path, sum) in sums
            .range(prefix.clone()..)
            .take_while(|(p, _)| p.starts_with(&prefix))
        {
            hasher.update(format!("{path}\t{}\t{}\n", sum.blake3, sum.bytes).as_bytes());
        }
        // A table with no files (a mart not published) reads differently from one with.
        hasher.update(format!("{table}\n").as_bytes());
    }
    hasher.finalize().to_hex()[..32].to_string()
}

/// The schema a report whose output is `output` is stored with: its columns (text as
/// `Utf8`, every column nullable) and then [`ROW`]. Refuses an output with two columns of
/// one name.
fn stored_schema(report: &str, output: &Schema) -> Result<SchemaRef> {
    let mut names = BTreeSet::new();
    let mut fields = Vec::new();
    for f in super::stored_schema(output).fields() {
        if !names.insert(f.name().as_str()) || f.name() == ROW {
            return Err(invalid(
                report,
                format!("its result has two columns named '{}'", f.name()),
            ));
        }
        fields.push(f.as_ref().clone().with_nullable(true));
    }
    fields.push(Field::new(ROW, DataType::Int64, false));
    Ok(Arc::new(Schema::new(fields)))
}

/// What a refresh did: the reports stored (name, rows) and why the others were left out.
#[derive(Debug, Default)]
pub struct Materialized {
    /// Report name and its result's rows.
    pub stored: Vec<(String, u64)>,
    /// Report name → why its result is not in the version.
    pub failures: Vec<(String, Error)>,
}

/// Computes every materialized report on the unpublished version `dir` (whose marts and
/// aggregates are up to date, recorded in `manifest`) and stores each result with its
/// definition in `manifest`; `base` (the version this one continues) spares hashing the
/// files it shares. A report that cannot run (a mart it reads was never published) is left
/// out, and named in the result.
pub async fn refresh(
    dir: &Path,
    base: Option<(&Path, &Manifest)>,
    manifest: &mut Manifest,
) -> Result<Materialized> {
    let reports = acrm_schema::builtin_materialized_reports()?;
    let mut done = Materialized::default();
    // Results of an older version (linked with its files) are never kept, nor those of a
    // report no longer declared.
    let stale: BTreeSet<String> = manifest
        .tables
        .keys()
        .filter(|n| n.starts_with(acrm_schema::MATERIALIZED_PREFIX))
        .cloned()
        .chain(reports.iter().map(|r| acrm_schema::materialized_table(r)))
        .collect();
    for name in stale {
        manifest.tables.remove(&name);
        manifest.derived.remove(&name);
        remove(&dir.join(&name))?;
    }
    if reports.is_empty() {
        return Ok(done);
    }
    // The engine reads the manifest from the folder: the marts and aggregates just written
    // must be in it.
    manifest.write(dir)?;
    let options = EngineOptions {
        privileged: false,
        aggregates: true,
        ..EngineOptions::default()
    };
    let engine = Engine::open_version(dir, options).await?;
    let mut sums = BTreeMap::new();
    for report in reports {
        match store(engine.context(), dir, base, &report, &mut sums).await {
            Ok((rows, definition)) => {
                tracing::info!(report, rows, "materialized report stored");
                let table = acrm_schema::materialized_table(&report);
                manifest.tables.insert(table.clone(), rows);
                manifest
                    .derived
                    .insert(table, derived(manifest.version, definition));
                done.stored.push((report, rows));
            }
            Err(error) => {
                tracing::warn!(report, %error, "report not materialized: it is computed when asked");
                remove(&dir.join(acrm_schema::materialized_table(&report)))?;
                done.failures.push((report, error));
            }
        }
    }
    Ok(done)
}

/// Runs report `report` in `ctx` and writes its result into `dir`; returns its rows and
/// definition. `sums` caches the sums of the tables hashed so far.
async fn store(
    ctx: &SessionContext,
    dir: &Path,
    base: Option<(&Path, &Manifest)>,
    report: &str,
    sums: &mut BTreeMap<String, FileSum>,
) -> Result<(u64, String)> {
    let sql = crate::reports::find(None, report)?.sql;
    let frame = ctx.sql(&sql).await?;
    let plan = frame.logical_plan().clone();
    if !deterministic(&plan)? {
        return Err(invalid(
            report,
            "it calls a function whose answer changes with time (now(), random()): its result cannot be stored",
        ));
    }
    let schema = stored_schema(report, plan.schema().as_arrow())?;
    let batches = frame.collect().await?;
    let mut stored = Vec::with_capacity(batches.len().max(1));
    let mut row = 0_i64;
    for b in &batches {
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(schema.fields().len());
        for (c, f) in b.columns().iter().zip(schema.fields()) {
            columns.push(cast(c, f.data_type()).map_err(DataFusionError::from)?);
        }
        let n = b.num_rows() as i64;
        columns.push(Arc::new(Int64Array::from_iter_values(row..row + n)));
        row += n;
        stored.push(RecordBatch::try_new(schema.clone(), columns).map_err(DataFusionError::from)?);
    }
    if stored.is_empty() {
        stored.push(RecordBatch::new_empty(schema));
    }
    let folder = dir.join(acrm_schema::materialized_table(report));
    write_parquet(&folder.join("part-0.parquet"), &stored, &[])?;
    let tables = read_tables(&plan)?;
    for table in &tables {
        // Hashed once for all the reports reading it.
        let prefix = format!("{table}/");
        let hashed = sums
            .range(prefix.clone()..)
            .next()
            .is_some_and(|(p, _)| p.starts_with(&prefix));
        if !hashed {
            sums.extend(folder_sums(dir, table, base)?);
        }
    }
    Ok((row as u64, definition(&sql, &tables, sums)))
}

/// One stored report result the engine answers its report's plan from.
#[derive(Debug)]
pub(crate) struct Stored {
    /// The report.
    pub report: String,
    /// The report's plan in this engine, as the analyzer hands it to the navigation rule.
    pub plan: LogicalPlan,
    /// The same without its final ORDER BY: the plan of the report as a subquery (`SELECT
    /// … FROM (<report>) t`), where SQL planning drops an order nothing depends on.
    pub unordered: Option<LogicalPlan>,
    /// Its stored result.
    pub table: Arc<dyn TableProvider>,
}

impl Stored {
    /// Whether `node` is the report's plan, ordered or not.
    pub fn is_plan_of(&self, node: &LogicalPlan) -> bool {
        self.plan == *node || self.unordered.as_ref() == Some(node)
    }

    /// The stored result read as `original` (the report's plan) returns it: its rows in
    /// the report's order, under the plan's names (and qualifiers) and types.
    pub fn answer(&self, original: &LogicalPlan) -> datafusion::common::Result<LogicalPlan> {
        let name = acrm_schema::materialized_table(&self.report);
        let scan = LogicalPlanBuilder::scan(name, provider_as_source(self.table.clone()), None)?
            .sort(vec![col(ROW).sort(true, false)])?
            .build()?;
        let stored = scan.schema().clone();
        let exprs = original
            .schema()
            .iter()
            .enumerate()
            .map(|(i, (qualifier, field))| {
                let mut e = Expr::Column(stored.qualified_field(i).into());
                if stored.field(i).data_type() != field.data_type() {
                    e = cast_expr(e, field.data_type().clone());
                }
                e.alias_qualified(qualifier.cloned(), field.name())
            })
            .collect();
        Ok(LogicalPlan::Projection(Projection::try_new(
            exprs,
            Arc::new(scan),
        )?))
    }
}

/// Registers in `ctx` the stored results of the version in `dir` (manifest `manifest`)
/// that are still their reports' answers for this caller (`privileged`: only those of
/// reports reading no table with a `pii` column of `schema`), each under its table's name,
/// and returns them, listed. Called once every table and view is registered.
pub(crate) async fn register(
    ctx: &SessionContext,
    dir: &Path,
    manifest: &Manifest,
    schema: &WarehouseSchema,
    privileged: bool,
) -> Result<Vec<(Registered, Stored)>> {
    let mut served = Vec::new();
    for report in acrm_schema::builtin_materialized_reports()? {
        let table = acrm_schema::materialized_table(&report);
        let folder = dir.join(&table);
        let (Some(&rows), Some(recorded)) = (
            manifest.tables.get(&table),
            manifest
                .derived
                .get(&table)
                .and_then(|d| d.definition.as_deref()),
        ) else {
            continue;
        };
        if !folder.is_dir() {
            continue;
        }
        let found = crate::reports::find(None, &report)?;
        let sql = found.sql;
        // A report this version cannot plan (a mart it reads is not published) has no
        // answer to stand for.
        let Ok(frame) = ctx.sql(&sql).await else {
            continue;
        };
        let plan = frame.into_unoptimized_plan();
        let tables = read_tables(&plan)?;
        if privileged && !personal_free(&tables, schema) {
            continue;
        }
        if definition(&sql, &tables, &manifest.sums) != recorded {
            tracing::info!(
                report,
                "stored result is not the report's answer on this version (a table it reads changed): computed when asked"
            );
            continue;
        }
        let schema = stored_schema(&report, plan.schema().as_arrow())?;
        // The rule compares what it is handed: the plan after the analyzer rules before it
        // (grouping functions resolved).
        let plan = crate::engine::analyzed_before_rule(ctx, plan)?;
        let description = format!(
            "The stored result of report {report} (its columns, then {ROW}, the row's place in the report's order): {}",
            found.description
        );
        let mut notes: std::collections::HashMap<String, String> = schema
            .fields()
            .iter()
            .map(|f| {
                (
                    f.name().clone(),
                    format!("Column {} of report {report}.", f.name()),
                )
            })
            .collect();
        notes.insert(ROW.into(), "The row's place in the report's order.".into());
        // Written in the report's order: the scan keeps it, no sort is needed.
        let provider = listing_table(&folder, schema, false, Some(ROW))?;
        ctx.register_table(table.as_str(), provider.clone())?;
        served.push((
            Registered {
                info: TableInfo {
                    name: table.clone(),
                    kind: ObjectKind::Report,
                    rows: Some(rows),
                    computed_on: Some(manifest.computed_on(&table)),
                    description,
                },
                notes,
            },
            Stored {
                report,
                unordered: match &plan {
                    LogicalPlan::Sort(s) if s.fetch.is_none() => Some(s.input.as_ref().clone()),
                    _ => None,
                },
                plan,
                table: provider,
            },
        ));
    }
    Ok(served)
}
