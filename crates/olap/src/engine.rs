//! The query engine over one published warehouse version: every table of the schema as a
//! Parquet listing table (hive `year=` partitions and Parquet statistics used for pruning),
//! the marts the version holds, the semantic views, PII masking, a memory pool that spills
//! and a query timeout.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use acrm_schema::{TableKind, WarehouseSchema};
use acrm_store::integrity::{sums_by_path, verify};
use acrm_store::{At, Manifest, Pinned, Warehouse};
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::{DataType, Schema, SchemaRef};
use datafusion::catalog::MemorySchemaProvider;
use datafusion::datasource::MemTable;
use datafusion::datasource::TableProvider;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::{
    ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl,
};
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::object_store::ObjectStoreUrl;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::logical_expr::LogicalPlan;
use datafusion::optimizer::AnalyzerRule;
use datafusion::prelude::{SQLOptions, SessionConfig, SessionContext};

use crate::aggregate;
use crate::guarded::GuardedTable;
use crate::lineage::{column_notes, source_of};
use crate::mask::{ident, masked_projection};
use crate::point_lookup::{DYNAMIC_FILTER_PUSHDOWN, PointLookups};
use crate::scope::{RowScope, TableFilter};
use crate::verified::VerifiedFiles;
use crate::{Error, Result};

/// Name of the hive partition column of partitioned fact tables.
pub const PARTITION_COLUMN: &str = "year";

/// How the engine runs queries.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    /// See PII unmasked (the privileged role). Default false.
    pub privileged: bool,
    /// Memory all running queries may hold, in bytes; operators that can spill to disk do so
    /// past it, the others fail the query. Default [`default_memory_limit`].
    pub memory_limit: usize,
    /// Wall time after which a query is cancelled. Default 10 minutes.
    pub timeout: Duration,
    /// The part of the branch hierarchy whose rows this caller sees (None: all rows).
    pub scope: Option<RowScope>,
    /// Name of the catalog the tables are registered in (`information_schema`'s
    /// `table_catalog`); `acrm serve` names it after the database clients connect to.
    /// Default [`DEFAULT_CATALOG`].
    pub catalog: String,
    /// Which kept version to read (time travel). Default: the published one.
    pub at: At,
    /// Answer queries an aggregate covers from it (`--no-aggregates` turns this off).
    /// Aggregates are never served to a caller with a row scope: they sum every branch.
    /// Default true.
    pub aggregates: bool,
}

/// The catalog name of an engine opened on this machine unless the options name another.
pub const DEFAULT_CATALOG: &str = "acrm";

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            privileged: false,
            memory_limit: default_memory_limit(),
            timeout: Duration::from_secs(600),
            scope: None,
            catalog: DEFAULT_CATALOG.to_string(),
            at: At::Current,
            aggregates: true,
        }
    }
}

/// Half the machine's physical memory (`MemTotal` in /proc/meminfo), or 4 GiB where that is
/// unknown: room for the shipped reports on a million customers (their distinct counts and
/// CUBE aggregations cannot all spill), yet one query cannot take the machine down.
pub fn default_memory_limit() -> usize {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| {
            m.lines()
                .find_map(|l| l.strip_prefix("MemTotal:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<usize>().ok())
        })
        .map_or(4 << 30, |kib| kib.saturating_mul(1024) / 2)
}

/// What a table or view is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ObjectKind {
    /// A dimension of the star schema.
    Dimension,
    /// A fact table.
    Fact,
    /// Build bookkeeping (quarantine, reconciliation).
    Audit,
    /// A semantic view.
    View,
    /// A table written by mining (`mart_*`, `alerts`).
    Mart,
    /// A cube aggregate (`agg_*`) that answers the queries it covers.
    Aggregate,
    /// A materialized report's stored result (`rpt_*`) that answers its report.
    Report,
}

impl ObjectKind {
    /// Its name as printed and serialised (`dimension`, `fact`, `audit`, `view`, `mart`,
    /// `aggregate`, `report`).
    pub fn name(self) -> &'static str {
        match self {
            ObjectKind::Dimension => "dimension",
            ObjectKind::Fact => "fact",
            ObjectKind::Audit => "audit",
            ObjectKind::View => "view",
            ObjectKind::Mart => "mart",
            ObjectKind::Aggregate => "aggregate",
            ObjectKind::Report => "report",
        }
    }
}

/// A table or view the engine serves.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TableInfo {
    /// Name to query it by.
    pub name: String,
    /// What it is.
    pub kind: ObjectKind,
    /// Rows, from the build manifest or Parquet footers (None for views).
    pub rows: Option<u64>,
    /// For a mart: the version whose data it was computed on (older than the engine's
    /// version when the mart was carried forward unchanged).
    pub computed_on: Option<u64>,
    /// What it holds.
    pub description: String,
}

/// One column of a table or view.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ColumnInfo {
    /// Column name.
    pub name: String,
    /// Arrow type, text always as `Utf8` (how it is stored, whichever way it is decoded).
    pub data_type: String,
    /// Nulls allowed.
    pub nullable: bool,
    /// Personal data per the schema.
    pub pii: bool,
    /// Shown masked to this caller.
    pub masked: bool,
    /// What it means (empty when the schema does not say).
    pub description: String,
}

/// SQL over one published warehouse version.
pub struct Engine {
    ctx: SessionContext,
    version: u64,
    dir: PathBuf,
    manifest: Manifest,
    options: EngineOptions,
    objects: Vec<TableInfo>,
    /// The built-in schema (PII flags and descriptions for `describe`).
    schema: WarehouseSchema,
    /// Per view: what its SQL's comments say of its columns ([`column_notes`]); per
    /// aggregate: what its columns hold.
    view_notes: HashMap<String, HashMap<String, String>>,
    /// The lease that keeps the version's files from being pruned while this engine lives
    /// (none for a version not yet published).
    _pinned: Option<Pinned>,
}

/// The version `at` of `warehouse`, pinned for reading (see [`Pinned`]), its folder made
/// absolute and every file of its manifest checked present at its recorded size (a `stat`
/// each: a truncated or missing file is named now, not mid-query).
fn pin(warehouse: &Path, at: &At) -> Result<(PathBuf, Manifest, Pinned)> {
    let pinned = Warehouse::new(warehouse).pin(at)?;
    let dir = std::fs::canonicalize(&pinned.dir).map_err(|source| Error::Io {
        path: pinned.dir.clone(),
        source,
    })?;
    verify(&dir, &pinned.manifest, false)?.into_result(&dir)?;
    Ok((dir, pinned.manifest.clone(), pinned))
}

/// The schema a table is queried with: its Parquet schema with text columns as
/// `Utf8View`, which the Parquet reader decodes into directly, except the text columns of
/// the primary key. DataFusion's string kernels (comparisons, `LIKE`, CASE over text,
/// grouping by a few distinct values) take their fast paths on views: measured on a million
/// customers, `complaints_by_channel` 130 → 69 ms, `top3_products_per_category` 1.3 →
/// 0.76 s, `weekend_by_category` 2.1 → 1.4 s. Identifiers (order ids: as many distinct
/// values as orders) are counted distinct and grouped by in hash tables that are faster on
/// `Utf8`: with `order_id` as a view `sales_rollup` took 27 s instead of 16 s.
pub(crate) fn query_schema(table: &acrm_schema::TableDef) -> SchemaRef {
    let schema = table.arrow_schema();
    let fields: Vec<_> = schema
        .fields()
        .iter()
        .map(|f| {
            let identifier = table.primary_key.iter().any(|k| k == f.name());
            match f.data_type() {
                DataType::Utf8 if !identifier => {
                    Arc::new(f.as_ref().clone().with_data_type(DataType::Utf8View))
                }
                _ => f.clone(),
            }
        })
        .collect();
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// `batches` (rows of a table as a query returned them) in `schema`, the table's stored
/// schema: text read as `Utf8View` ([`query_schema`]) back to `Utf8`, so they concatenate
/// with rows built in that schema and are written as declared.
pub fn as_stored(batches: &[RecordBatch], schema: &SchemaRef) -> Result<Vec<RecordBatch>> {
    batches
        .iter()
        .map(|b| {
            let columns = b
                .columns()
                .iter()
                .zip(schema.fields())
                .map(|(c, f)| datafusion::arrow::compute::cast(c, f.data_type()))
                .collect::<std::result::Result<Vec<_>, _>>()?;
            Ok(RecordBatch::try_new(schema.clone(), columns)?)
        })
        .collect()
}

/// A listing table over the Parquet files below `dir` read with `schema` (hive `year=`
/// partitions when `partitioned`); with `sorted_by`, the column each file's rows ascend by,
/// so a sort on it is not done again.
pub(crate) fn listing_table(
    dir: &Path,
    schema: SchemaRef,
    partitioned: bool,
    sorted_by: Option<&str>,
) -> Result<Arc<dyn TableProvider>> {
    let mut options =
        ListingOptions::new(Arc::new(ParquetFormat::default())).with_file_extension(".parquet");
    if partitioned {
        options = options
            .with_table_partition_cols(vec![(PARTITION_COLUMN.to_string(), DataType::Int32)]);
    }
    if let Some(column) = sorted_by {
        options = options.with_file_sort_order(vec![vec![
            datafusion::prelude::col(column).sort(true, false),
        ]]);
    }
    let url = ListingTableUrl::parse(format!("{}/", dir.display()))?;
    let config = ListingTableConfig::new(url)
        .with_listing_options(options)
        .with_schema(schema);
    Ok(Arc::new(ListingTable::try_new(config)?))
}

/// A context on this machine with the options' memory pool (spilling past it) and the
/// information schema; with `checked` (a version's folder and manifest), its files are
/// checked against the manifest's sums as they are read ([`VerifiedFiles`]); scans pinning
/// one of `schema`'s point-lookup keys filter while decoding ([`PointLookups`]).
pub(crate) fn local_context(
    options: &EngineOptions,
    checked: Option<(&Path, &Manifest)>,
    schema: &WarehouseSchema,
) -> Result<SessionContext> {
    let runtime = RuntimeEnvBuilder::new()
        .with_memory_pool(Arc::new(FairSpillPool::new(options.memory_limit)))
        .build_arc()?;
    if let Some(files) = checked.and_then(|(dir, m)| VerifiedFiles::new(dir, sums_by_path(dir, m)))
    {
        runtime.register_object_store(ObjectStoreUrl::local_filesystem().as_ref(), Arc::new(files));
    }
    // Statistics from Parquet footers are collected when a table is registered
    // (`datafusion.execution.collect_statistics`, on by default) and used to prune.
    // DataFusion settings can be tuned per process with DATAFUSION_* environment
    // variables (e.g. DATAFUSION_EXECUTION_TARGET_PARTITIONS=8).
    let config = SessionConfig::from_env()?
        .with_information_schema(true)
        .with_default_catalog_and_schema(&options.catalog, "public");
    let state = SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(runtime)
        .with_default_features()
        .build();
    // Point lookups filter while decoding: before the dynamic filters are pushed, so that
    // pushdown sees the scans it switched.
    let mut rules = state.physical_optimizers().to_vec();
    let at = rules
        .iter()
        .position(|r| r.name() == DYNAMIC_FILTER_PUSHDOWN)
        .unwrap_or(rules.len());
    rules.insert(at, Arc::new(PointLookups::new(schema)));
    Ok(SessionContext::new_with_state(
        SessionStateBuilder::new_from_existing(state)
            .with_physical_optimizer_rules(rules)
            .build(),
    ))
}

/// A column's type as `describe` shows it: text as `Utf8` whether the engine decodes it as
/// `Utf8View` (most text, [`query_schema`]) or `Utf8` (key text), so one declared type has
/// one name — the one it is stored with.
fn shown_type(t: &DataType) -> String {
    match t {
        DataType::Utf8View => DataType::Utf8.to_string(),
        t => t.to_string(),
    }
}

/// Name of DataFusion's type coercion analyzer rule, before which acrm's own runs.
const TYPE_COERCION: &str = "type_coercion";

/// `plan` (as SQL planning made it in `ctx`) as the analyzer hands it to a rule added by
/// [`with_analyzer_rule`]: the analyzer rules that run before that one applied.
pub(crate) fn analyzed_before_rule(
    ctx: &SessionContext,
    plan: LogicalPlan,
) -> datafusion::common::Result<LogicalPlan> {
    let state = ctx.state();
    let mut plan = plan;
    for rule in state
        .analyzer()
        .rules
        .iter()
        .take_while(|r| r.name() != TYPE_COERCION)
    {
        plan = rule.analyze(plan, state.config_options())?;
    }
    Ok(plan)
}

/// `ctx` with `rule` run before type coercion (and after the grouping functions are
/// resolved), where an inlined view is still the plan it was registered with
/// ([`aggregate::Navigation`] compares them). Same catalogs, functions and runtime.
fn with_analyzer_rule(
    ctx: SessionContext,
    rule: Arc<dyn AnalyzerRule + Send + Sync>,
) -> SessionContext {
    let state = ctx.state();
    let mut rules = state.analyzer().rules.clone();
    let at = rules
        .iter()
        .position(|r| r.name() == TYPE_COERCION)
        .unwrap_or(rules.len());
    rules.insert(at, rule);
    SessionContext::new_with_state(
        SessionStateBuilder::new_from_existing(state)
            .with_analyzer_rules(rules)
            .build(),
    )
}

impl Drop for Engine {
    /// Deregisters every schema of the engine's catalogs. A schema provider may hold the
    /// catalog list it is registered in — datafusion-pg-catalog's `pg_catalog` does, which
    /// `acrm serve` adds — and that reference cycle would keep every table of every version
    /// a server ever opened in memory (measured: ~6 MiB a version per role, without end).
    fn drop(&mut self) {
        for name in self.ctx.catalog_names() {
            if let Some(catalog) = self.ctx.catalog(&name) {
                for schema in catalog.schema_names() {
                    let _ = catalog.deregister_schema(&schema, true);
                }
            }
        }
    }
}

/// `warehouse_version()`: the number of the version the query reads, so a client can tell
/// which version answered it (every statement reads one version from start to end).
fn version_function(version: u64) -> datafusion::logical_expr::ScalarUDF {
    use datafusion::common::ScalarValue;
    use datafusion::logical_expr::{ColumnarValue, Volatility, create_udf};
    let value = ScalarValue::Int64(Some(i64::try_from(version).unwrap_or(i64::MAX)));
    create_udf(
        "warehouse_version",
        vec![],
        DataType::Int64,
        Volatility::Immutable,
        Arc::new(move |_: &[ColumnarValue]| Ok(ColumnarValue::Scalar(value.clone()))),
    )
}

impl Engine {
    /// Opens the version `options.at` names (by default the one `warehouse/current` points
    /// to at this moment) and holds it: later publishes neither change nor prune what this
    /// engine reads. Every file is checked against the manifest as it is first read.
    pub async fn open(warehouse: &Path, options: EngineOptions) -> Result<Self> {
        let (dir, manifest, pinned) = pin(warehouse, &options.at)?;
        let schema = WarehouseSchema::builtin()?;
        let ctx = local_context(&options, Some((&dir, &manifest)), &schema)?;
        Self::open_in((dir, manifest), Some(pinned), ctx, options, schema).await
    }

    /// Opens that version in `ctx`, a context the caller made: a Ballista remote session
    /// runs the same catalog, views and masking on a cluster (whose executors read the files
    /// themselves: sizes are checked here, content by `acrm warehouse verify`). Aggregates
    /// do not answer there: the executors do not know their bitmap functions.
    pub async fn open_in_context(
        warehouse: &Path,
        ctx: SessionContext,
        options: EngineOptions,
    ) -> Result<Self> {
        let options = EngineOptions {
            aggregates: false,
            ..options
        };
        let (dir, manifest, pinned) = pin(warehouse, &options.at)?;
        let schema = WarehouseSchema::builtin()?;
        Self::open_in((dir, manifest), Some(pinned), ctx, options, schema).await
    }

    /// Opens the version in folder `dir` whether or not it is published yet: the nightly
    /// build computes its marts from the version it is about to publish (and holds the lock
    /// that keeps it in place).
    pub async fn open_version(dir: &Path, options: EngineOptions) -> Result<Self> {
        let schema = WarehouseSchema::builtin()?;
        let ctx = local_context(&options, None, &schema)?;
        let manifest = Manifest::read(dir)?;
        Self::open_in((dir.to_path_buf(), manifest), None, ctx, options, schema).await
    }

    async fn open_in(
        (dir, manifest): (PathBuf, Manifest),
        pinned: Option<Pinned>,
        ctx: SessionContext,
        options: EngineOptions,
        schema: WarehouseSchema,
    ) -> Result<Self> {
        // The context's own default catalog: a Ballista session names it itself.
        let name = ctx.state().config_options().catalog.default_catalog.clone();
        let catalog = ctx.catalog(&name).ok_or_else(|| Error::Warehouse {
            path: dir.clone(),
            message: format!("the query context has no catalog {name}"),
        })?;
        // Tables that are masked or filtered for this caller are registered in a schema that
        // is dropped once the guarded tables over them exist ([`GuardedTable`]): they keep
        // their plans, nobody can query the raw tables by name.
        catalog.register_schema("raw", Arc::new(MemorySchemaProvider::new()))?;
        let version = manifest.version;
        let mut objects = Vec::new();
        // (name, raw SELECT list, filter) of each table served through a view.
        let mut guarded: Vec<(String, String, TableFilter)> = Vec::new();
        for t in schema.tables() {
            let folder = dir.join(&t.name);
            // A mart is served once an analysis has published it; the build's tables always.
            if t.kind == TableKind::Mart && !folder.is_dir() {
                continue;
            }
            let provider: Arc<dyn TableProvider> = if folder.is_dir() {
                listing_table(&folder, query_schema(t), t.partition_by.is_some(), None)?
            } else {
                Arc::new(MemTable::try_new(query_schema(t), vec![vec![]])?)
            };
            let columns: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
            let filter = options
                .scope
                .as_ref()
                .map_or(TableFilter::All, |s| s.filter(&t.name, &columns));
            let masked = !options.privileged && t.columns.iter().any(|c| c.pii);
            if filter == TableFilter::Hidden {
                continue;
            }
            if masked || filter != TableFilter::All {
                ctx.register_table(format!("raw.{}", t.name).as_str(), provider)?;
                let mut projection = if options.privileged {
                    columns
                        .iter()
                        .map(|c| ident(c))
                        .collect::<Vec<_>>()
                        .join(", ")
                } else {
                    masked_projection(t)
                };
                if t.partition_by.is_some() {
                    projection.push_str(&format!(", {}", ident(PARTITION_COLUMN)));
                }
                guarded.push((t.name.clone(), projection, filter));
            } else {
                ctx.register_table(t.name.as_str(), provider)?;
            }
            objects.push(TableInfo {
                name: t.name.clone(),
                kind: match t.kind {
                    TableKind::Dimension => ObjectKind::Dimension,
                    TableKind::Fact => ObjectKind::Fact,
                    TableKind::Audit => ObjectKind::Audit,
                    TableKind::Mart => ObjectKind::Mart,
                },
                rows: manifest.tables.get(&t.name).copied(),
                computed_on: (t.kind == TableKind::Mart).then(|| manifest.computed_on(&t.name)),
                description: t.description.clone(),
            });
        }
        // Guards only once every raw table exists: a scope's filters read other raw tables.
        for (name, projection, filter) in guarded {
            let (predicate, scoped) = match filter {
                TableFilter::Rows(p) => (format!(" WHERE {p}"), true),
                TableFilter::All | TableFilter::Hidden => (String::new(), false),
            };
            let plan = ctx
                .sql(&format!(
                    "SELECT {projection} FROM raw.{}{predicate}",
                    ident(&name)
                ))
                .await?
                .into_unoptimized_plan();
            ctx.register_table(name.as_str(), Arc::new(GuardedTable::new(plan, scoped)))?;
        }
        let mut view_notes = HashMap::new();
        for (name, sql) in acrm_schema::VIEWS {
            ctx.sql(&format!("CREATE VIEW {} AS {sql}", ident(name)))
                .await?;
            view_notes.insert(name.to_string(), column_notes(sql));
            objects.push(TableInfo {
                name: name.to_string(),
                kind: ObjectKind::View,
                rows: None,
                computed_on: None,
                // The opening comment, less the view's name that starts it.
                description: sql
                    .lines()
                    .map_while(|l| l.trim().strip_prefix("--"))
                    .map(str::trim)
                    .collect::<Vec<_>>()
                    .join(" ")
                    .trim_start_matches(&format!("{name}:"))
                    .trim_start()
                    .to_string(),
            });
        }
        catalog.deregister_schema("raw", true)?;
        ctx.register_udf(version_function(version));
        // Aggregates and stored reports cover every branch: never for a caller who sees
        // some of them.
        let ctx = if options.aggregates && options.scope.is_none() {
            let (listed, navigation) =
                aggregate::register(&ctx, &dir, &manifest, &schema, options.privileged).await?;
            for a in listed {
                view_notes.insert(a.info.name.clone(), a.notes);
                objects.push(a.info);
            }
            with_analyzer_rule(ctx, Arc::new(navigation))
        } else {
            ctx
        };
        tracing::debug!(version, dir = %dir.display(), "warehouse opened");
        Ok(Self {
            ctx,
            version,
            dir,
            manifest,
            options,
            objects,
            schema,
            view_notes,
            _pinned: pinned,
        })
    }

    /// The version this engine reads.
    pub fn version(&self) -> u64 {
        self.version
    }

    /// The DataFusion context holding its catalog and functions (the PostgreSQL-wire server
    /// plans and streams through it).
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// Its folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The manifest of the version it reads (not of `current`, which a publish may have
    /// moved since).
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Tables, marts and views served, in schema order.
    pub fn tables(&self) -> &[TableInfo] {
        &self.objects
    }

    /// Registers a scalar function for the queries that follow (the mining layer's model
    /// scoring functions such as `churn_probability`).
    pub fn register_udf(&self, udf: datafusion::logical_expr::ScalarUDF) {
        self.ctx.register_udf(udf);
    }

    /// Adds view `name` defined by `sql` over the objects served (their masking applies),
    /// listed with `description`, for the queries that follow.
    pub async fn add_view(&mut self, name: &str, description: &str, sql: &str) -> Result<()> {
        self.ctx
            .sql(&format!("CREATE VIEW {} AS {sql}", ident(name)))
            .await?;
        self.view_notes.insert(name.to_string(), column_notes(sql));
        self.objects.push(TableInfo {
            name: name.to_string(),
            kind: ObjectKind::View,
            rows: None,
            computed_on: None,
            description: description.to_string(),
        });
        Ok(())
    }

    /// Runs one read-only statement (SELECT, WITH, EXPLAIN, SHOW, DESCRIBE) and returns its
    /// schema and rows. DDL, DML, COPY and `SET` are refused: the warehouse is read-only here,
    /// and an external table over the raw files would get around the masking.
    pub async fn query(&self, sql: &str) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        let read_only = SQLOptions::new()
            .with_allow_ddl(false)
            .with_allow_dml(false)
            .with_allow_statements(false);
        let df = self.ctx.sql_with_options(sql, read_only).await?;
        let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
        let batches = tokio::time::timeout(self.options.timeout, df.collect())
            .await
            .map_err(|_| Error::Timeout(self.options.timeout))??;
        Ok((schema, batches))
    }

    /// Columns of table or view `name`, with the schema's PII flags and descriptions.
    pub async fn describe(&self, name: &str) -> Result<Vec<ColumnInfo>> {
        if !self.objects.iter().any(|o| o.name == name) {
            return Err(Error::UnknownTable(name.into()));
        }
        let provider = self.ctx.table_provider(name).await?;
        let def = self.schema.table(name).ok();
        // A view's plan, to trace its columns to the tables they are read from.
        let plan = provider.get_logical_plan();
        let notes = self.view_notes.get(name);
        Ok(provider
            .schema()
            .fields()
            .iter()
            .enumerate()
            .map(|(i, f)| {
                // The declared column: the table's own, or the one a view reads unchanged
                // (a masked name in customer_360 is dim_customer's name, masked).
                let col =
                    match def {
                        Some(d) => d.column(f.name()),
                        None => plan.as_deref().and_then(|p| source_of(p, i)).and_then(
                            |(table, column)| self.schema.table(&table).ok()?.column(&column),
                        ),
                    };
                let pii = col.is_some_and(|c| c.pii);
                // The hive partition column the engine adds to a partitioned table.
                let partition = def
                    .and_then(|d| d.partition_by.as_ref())
                    .filter(|_| f.name() == PARTITION_COLUMN)
                    .map(|by| format!("Year of {by}: the year=YYYY folder the row is stored in (prunes files)."));
                let note = notes
                    .and_then(|n| n.get(f.name()))
                    .cloned()
                    .or(partition);
                ColumnInfo {
                    name: f.name().clone(),
                    data_type: shown_type(f.data_type()),
                    nullable: f.is_nullable(),
                    pii,
                    masked: pii && !self.options.privileged,
                    description: note
                        .or_else(|| col.map(|c| c.description.clone()))
                        .unwrap_or_default(),
                }
            })
            .collect())
    }
}
