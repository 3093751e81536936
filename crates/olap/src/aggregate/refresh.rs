//! The nightly refresh of the cube aggregates, inside the version a build is about to
//! publish. An aggregate is stored in its fact's year partitions (`agg_…/fact_year=YYYY/`); a
//! night recomputes the years whose fact files changed (a file added, replaced or removed)
//! and hard-links the others from the version it continues. Everything is recomputed when
//! there is nothing to continue, when the declaration or the source view changed (its
//! fingerprint), or when a dimension row the aggregate reads changed — a product moved to
//! another category changes every year's cells.
//!
//! A year is computed by the source's own SQL over that year's fact rows alone: in a
//! private engine on the new version, the fact table is shadowed by a view of one partition
//! and the semantic views are defined again over it. Text columns counted distinct go
//! through a dictionary (`aggdict_<source>_<column>`) that gives each value a lasting
//! ordinal: it only grows, so the bitmaps of years not recomputed stay valid.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use acrm_schema::{AggregateDef, MeasureFunction, TableKind, WarehouseSchema};
use acrm_store::parquet::{folder_rows, link_tree, parquet_files, read_parquet, write_parquet};
use acrm_store::{Manifest, RefreshAggregates};
use datafusion::arrow::array::{Int64Array, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;

use super::{
    bitmap, derived, fingerprint, invalid, is_text, personal_grain, query_schema, remove,
    sources_of, stored_schema,
};
use crate::engine::{PARTITION_COLUMN, as_stored, listing_table, query_schema as table_schema};
use crate::mask::ident;
use crate::{Engine, EngineOptions, Error, Result};

/// The build's hook ([`RefreshAggregates`]): refreshes every declared aggregate on the
/// caller's tokio runtime.
#[derive(Debug)]
pub struct AggregateRefresh {
    runtime: tokio::runtime::Handle,
}

impl AggregateRefresh {
    /// A refresh run on `runtime`.
    pub fn new(runtime: tokio::runtime::Handle) -> Self {
        Self { runtime }
    }
}

impl RefreshAggregates for AggregateRefresh {
    /// The cube aggregates, then the materialized reports (which the aggregates speed up).
    fn refresh(&self, dir: &Path, base: Option<(&Path, &Manifest)>, manifest: &mut Manifest) {
        let done = self.runtime.block_on(refresh(dir, base, manifest));
        if let Err(error) = done {
            tracing::warn!(%error, "aggregates not refreshed: queries read the facts");
        }
        let done = self
            .runtime
            .block_on(super::materialized::refresh(dir, base, manifest));
        if let Err(error) = done {
            tracing::warn!(%error, "reports not materialized: they are computed when asked");
        }
    }
}

/// What one night does to an aggregate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The aggregate.
    pub name: String,
    /// Recomputed in full (else only `years`).
    pub full: bool,
    /// The years computed this night.
    pub years: Vec<i32>,
}

/// What a refresh did: each refreshed aggregate's plan, and why the others were left out.
#[derive(Debug, Default)]
pub struct Refreshed {
    /// What was done to each refreshed aggregate.
    pub plans: Vec<Plan>,
    /// Aggregate name → why it is not in the version.
    pub failures: Vec<(String, Error)>,
}

/// Refreshes every declared aggregate in the unpublished version `dir`, continuing `base`;
/// records each in `manifest`. One that fails is left out (and named in a warning); the
/// others go on.
pub async fn refresh(
    dir: &Path,
    base: Option<(&Path, &Manifest)>,
    manifest: &mut Manifest,
) -> Result<Refreshed> {
    let defs = acrm_schema::builtin_aggregates()?;
    let mut done = Refreshed::default();
    if defs.is_empty() {
        return Ok(done);
    }
    let options = EngineOptions {
        privileged: true,
        aggregates: false,
        ..EngineOptions::default()
    };
    let engine = Engine::open_version(dir, options).await?;
    // Dictionaries only grow: the base's, linked, go on.
    if let Some((base_dir, base_manifest)) = base {
        for name in base_manifest
            .tables
            .keys()
            .filter(|n| n.starts_with(DICTIONARY))
        {
            let from = base_dir.join(name);
            if from.is_dir() && !dir.join(name).exists() {
                link_tree(&from, &dir.join(name))?;
            }
        }
    }
    let mut night = Night::new(&engine, dir, manifest.version)?;
    for def in &defs {
        let folder = dir.join(&def.name);
        match night.aggregate(def, base).await {
            Ok((plan, rows)) => {
                tracing::info!(aggregate = def.name, full = plan.full, years = ?plan.years, rows, "aggregate refreshed");
                manifest.tables.insert(def.name.clone(), rows);
                manifest.derived.insert(
                    def.name.clone(),
                    derived(manifest.version, fingerprint(def)),
                );
                done.plans.push(plan);
            }
            Err(error) => {
                tracing::warn!(aggregate = def.name, %error, "aggregate not refreshed: the queries it covers read the facts");
                remove(&folder)?;
                manifest.tables.remove(&def.name);
                manifest.derived.remove(&def.name);
                done.failures.push((def.name.clone(), error));
            }
        }
    }
    let entries = std::fs::read_dir(dir).map_err(|source| Error::Io {
        path: dir.into(),
        source,
    })?;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if name.starts_with(DICTIONARY) {
            let rows = folder_rows(&e.path())?;
            let lineage = base
                .and_then(|(_, m)| m.derived.get(&name))
                .filter(|_| !night.grown.contains(&name))
                .cloned()
                .unwrap_or_else(|| derived(manifest.version, String::new()));
            manifest.tables.insert(name.clone(), rows);
            manifest.derived.insert(name, lineage);
        }
    }
    Ok(done)
}

/// Name of a fact table's full listing while the fact's own name is one partition's view.
const WHOLE_FACT: &str = "acrm_refresh_fact";

/// The folder of an aggregate's rows from fact partition `year`: `fact_year=YYYY`, not
/// `year=`, so a tool reading the folders as hive partitions does not meet a partition
/// column named as a grain column (`year` of `sales_cube`).
fn partition(year: i32) -> String {
    format!("fact_{PARTITION_COLUMN}={year}")
}

/// Prefix of the dictionaries' tables.
const DICTIONARY: &str = "aggdict_";

/// One night's refresh: the private engine and the dictionaries grown so far.
struct Night<'a> {
    engine: &'a Engine,
    dir: &'a Path,
    version: u64,
    schema: WarehouseSchema,
    /// Dictionary name → its values so far.
    dictionaries: BTreeMap<String, Dictionary>,
    /// Dictionaries that took new values this night.
    grown: BTreeSet<String>,
    /// The fact whose one partition the views read now, and which.
    restricted: Option<(String, i32)>,
}

impl<'a> Night<'a> {
    fn new(engine: &'a Engine, dir: &'a Path, version: u64) -> Result<Self> {
        engine.context().register_udaf(bitmap::build_udaf());
        Ok(Self {
            engine,
            dir,
            version,
            schema: WarehouseSchema::builtin()?,
            dictionaries: BTreeMap::new(),
            grown: BTreeSet::new(),
            restricted: None,
        })
    }

    fn ctx(&self) -> &SessionContext {
        self.engine.context()
    }

    /// Refreshes `def`: recomputes what changed since `base`, links the rest. Returns what
    /// it did and the aggregate's rows.
    async fn aggregate(
        &mut self,
        def: &AggregateDef,
        base: Option<(&Path, &Manifest)>,
    ) -> Result<(Plan, u64)> {
        let source = self.ctx().table_provider(def.source.as_str()).await?;
        let schema = query_schema(def, &source.schema())?;
        let view = source.get_logical_plan().map(|p| p.into_owned());
        if let Some(column) = personal_grain(def, view.as_ref(), &source.schema(), &self.schema) {
            return Err(invalid(
                def,
                format!("grain column '{column}' is personal data: an aggregate is not masked"),
            ));
        }
        let folder = self.dir.join(&def.name);
        remove(&folder)?;
        let years = year_folders(&self.dir.join(&def.fact))?;
        let previous = base.filter(|(dir, m)| {
            dir.join(&def.name).is_dir()
                && m.derived
                    .get(&def.name)
                    .and_then(|d| d.definition.as_deref())
                    == Some(fingerprint(def).as_str())
        });
        let full = match previous {
            None => true,
            Some((base_dir, _)) => {
                self.dimensions_changed(def, view.as_ref(), &source.schema(), base_dir)
                    .await?
            }
        };
        let mut computed = Vec::new();
        for (&year, files) in &years {
            let unchanged = previous.filter(|_| !full).and_then(|(base_dir, _)| {
                let before = base_dir.join(&def.name).join(partition(year));
                let facts = base_dir
                    .join(&def.fact)
                    .join(format!("{PARTITION_COLUMN}={year}"));
                (fingerprint_files(&facts).ok().as_ref() == Some(files)).then_some(before)
            });
            let target = folder.join(partition(year));
            match unchanged {
                Some(before) => link_tree(&before, &target)?,
                None => {
                    self.compute(def, (&source.schema(), &schema), year, &target)
                        .await?;
                    computed.push(year);
                }
            }
        }
        std::fs::create_dir_all(&folder).map_err(|source| Error::Io {
            path: folder.clone(),
            source,
        })?;
        let rows = folder_rows(&folder)?;
        Ok((
            Plan {
                name: def.name.clone(),
                full,
                years: computed,
            },
            rows,
        ))
    }

    /// Whether a dimension row that `def` reads (a grain or measure column traced through
    /// the source view, or a row dropped) differs between the version in `base_dir` and
    /// this one. A column computed from several has no single source and counts as changed.
    async fn dimensions_changed(
        &self,
        def: &AggregateDef,
        view: Option<&datafusion::logical_expr::LogicalPlan>,
        source: &Schema,
        base_dir: &Path,
    ) -> Result<bool> {
        let Some(view) = view else {
            // A table source reads no dimension.
            return Ok(false);
        };
        let mut read: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        let columns = def
            .grain
            .iter()
            .chain(def.measures.iter().map(|m| &m.column))
            .filter(|c| *c != "*");
        for column in columns {
            let Ok(index) = source.index_of(column) else {
                return Ok(true);
            };
            // A computed column (margin = revenue - cost) reads the columns it is made of.
            let Some(sources) = sources_of(view, index) else {
                return Ok(true);
            };
            for (table, col) in sources {
                read.entry(table).or_default().insert(col);
            }
        }
        for (table, cols) in read {
            let Ok(t) = self.schema.table(&table) else {
                // The fact itself, under its name while one partition is read.
                if table == WHOLE_FACT {
                    continue;
                }
                return Ok(true);
            };
            if t.kind != TableKind::Dimension {
                continue;
            }
            let before = base_dir.join(&table);
            if !before.is_dir() {
                return Ok(true);
            }
            let name = format!("acrm_base_{table}");
            self.ctx().register_table(
                name.as_str(),
                listing_table(&before, table_schema(t), false, None)?,
            )?;
            let list = t
                .primary_key
                .iter()
                .chain(cols.iter().filter(|c| !t.primary_key.contains(c)))
                .map(|c| ident(c))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "SELECT count(*) FROM (SELECT {list} FROM {} EXCEPT SELECT {list} FROM {})",
                ident(&name),
                ident(&table)
            );
            let batches = self.ctx().sql(&sql).await?.collect().await?;
            self.ctx().deregister_table(name.as_str())?;
            let changed = batches
                .first()
                .and_then(|b| b.column(0).as_any().downcast_ref::<Int64Array>())
                .is_none_or(|c| c.value(0) > 0);
            if changed {
                tracing::info!(
                    aggregate = def.name,
                    dimension = table,
                    "dimension rows changed: recomputing every year"
                );
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// Makes the fact of `def` read only partition `year` in this engine: the fact's name
    /// becomes a view of that partition and the semantic views are defined again over it.
    async fn restrict(&mut self, fact: &str, year: i32) -> Result<()> {
        if self.restricted.as_ref() == Some(&(fact.to_string(), year)) {
            return Ok(());
        }
        let ctx = self.ctx().clone();
        // Another fact restricted before: it reads whole again.
        if let Some((previous, _)) = self.restricted.take()
            && previous != fact
        {
            ctx.deregister_table(previous.as_str())?;
            if let Some(whole) = ctx.deregister_table(WHOLE_FACT)? {
                ctx.register_table(previous.as_str(), whole)?;
            }
        }
        if !ctx.table_exist(WHOLE_FACT)? {
            let whole = ctx
                .deregister_table(fact)?
                .ok_or_else(|| Error::UnknownTable(fact.into()))?;
            ctx.register_table(WHOLE_FACT, whole)?;
        }
        ctx.deregister_table(fact)?;
        ctx.sql(&format!(
            "CREATE VIEW {} AS SELECT * FROM {WHOLE_FACT} WHERE {} = {year}",
            ident(fact),
            ident(PARTITION_COLUMN)
        ))
        .await?;
        for (name, sql) in acrm_schema::VIEWS {
            ctx.deregister_table(name)?;
            ctx.sql(&format!("CREATE VIEW {} AS {sql}", ident(name)))
                .await?;
        }
        self.restricted = Some((fact.to_string(), year));
        Ok(())
    }

    /// Computes `def`'s cells of fact partition `year` into the folder `target`, given
    /// the schemas of its source and of itself.
    async fn compute(
        &mut self,
        def: &AggregateDef,
        (source, schema): (&Schema, &Schema),
        year: i32,
        target: &Path,
    ) -> Result<()> {
        self.restrict(&def.fact, year).await?;
        let from = ident(&def.source);
        let mut select: Vec<String> = def
            .grain
            .iter()
            .map(|g| format!("s.{} AS {}", ident(g), ident(g)))
            .collect();
        let mut joins = String::new();
        for (i, m) in def.measures.iter().enumerate() {
            let column = format!("s.{}", ident(&m.column));
            let expr = match m.function {
                MeasureFunction::Count if m.column == "*" => "count(*)".to_string(),
                MeasureFunction::Count => format!("count({column})"),
                MeasureFunction::Sum => format!("sum({column})"),
                MeasureFunction::Min => format!("min({column})"),
                MeasureFunction::Max => format!("max({column})"),
                MeasureFunction::CountDistinct => {
                    let t = source
                        .field_with_name(&m.column)
                        .map(|f| f.data_type().clone())
                        .unwrap_or(DataType::Null);
                    if is_text(&t) {
                        let dictionary = self.grow_dictionary(def, &m.column, year).await?;
                        joins.push_str(&format!(
                            " LEFT JOIN {} d{i} ON d{i}.value = arrow_cast({column}, 'Utf8')",
                            ident(&dictionary)
                        ));
                        format!("{}(d{i}.ordinal)", bitmap::BUILD)
                    } else {
                        format!("{}(CAST({column} AS BIGINT))", bitmap::BUILD)
                    }
                }
            };
            select.push(format!("{expr} AS {}", ident(&m.stored_name())));
        }
        let keys = (1..=def.grain.len())
            .map(|i| i.to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT {} FROM {from} s{joins} GROUP BY {keys}",
            select.join(", ")
        );
        let batches = self.ctx().sql(&sql).await?.collect().await?;
        let batches = as_stored(&batches, &stored_schema(schema))?;
        if batches.iter().any(|b| b.num_rows() > 0) {
            write_parquet(&target.join("part-0.parquet"), &batches, &[])?;
        }
        Ok(())
    }

    /// Adds to the dictionary of `def`'s text `column` the values of fact partition `year`
    /// it lacks (sorted, numbered on from its last ordinal), once a night; returns the name
    /// it is registered under in this engine.
    async fn grow_dictionary(
        &mut self,
        def: &AggregateDef,
        column: &str,
        year: i32,
    ) -> Result<String> {
        let name = format!("{DICTIONARY}{}_{}", def.source, column);
        let folder = self.dir.join(&name);
        let ctx = self.ctx().clone();
        if !self.dictionaries.contains_key(&name) {
            self.dictionaries
                .insert(name.clone(), Dictionary::read(&folder)?);
        }
        let Some(dictionary) = self.dictionaries.get_mut(&name) else {
            return Err(invalid(def, "dictionary lost"));
        };
        if dictionary.years.contains(&year) {
            return Ok(name);
        }
        dictionary.register(&ctx, &name)?;
        let sql = format!(
            "SELECT n.value FROM (SELECT DISTINCT arrow_cast({}, 'Utf8') AS value FROM {} WHERE {} IS NOT NULL) n \
             LEFT ANTI JOIN {} d ON d.value = n.value ORDER BY n.value",
            ident(column),
            ident(&def.source),
            ident(column),
            ident(&name)
        );
        let new = ctx.sql(&sql).await?.collect().await?;
        let mut values: Vec<String> = Vec::new();
        for b in &new {
            let column = datafusion::arrow::compute::cast(b.column(0), &DataType::Utf8)?;
            let Some(strings) = column.as_any().downcast_ref::<StringArray>() else {
                return Err(invalid(def, "dictionary values are not text"));
            };
            values.extend(strings.iter().flatten().map(str::to_string));
        }
        if !values.is_empty() {
            let batch = dictionary.append(values)?;
            self.grown.insert(name.clone());
            write_parquet(
                &folder.join(format!("part-{}-{year}.parquet", self.version)),
                &[batch],
                &[],
            )?;
            dictionary.register(&ctx, &name)?;
        }
        dictionary.years.insert(year);
        Ok(name)
    }
}

/// A dictionary of text values and their ordinals, held in memory while a night uses it
/// (a listing table would be listed once per engine and miss the parts written since).
struct Dictionary {
    batches: Vec<RecordBatch>,
    rows: u64,
    /// The years whose values it has taken this night.
    years: BTreeSet<i32>,
}

impl Dictionary {
    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("value", DataType::Utf8, false),
            Field::new("ordinal", DataType::Int64, false),
        ]))
    }

    /// The dictionary stored in `folder` (empty when there is none yet).
    fn read(folder: &Path) -> Result<Self> {
        let mut batches = Vec::new();
        for f in parquet_files(folder)? {
            batches.extend(as_stored(&read_parquet(&f)?, &Self::schema())?);
        }
        let rows = batches.iter().map(|b| b.num_rows() as u64).sum();
        Ok(Self {
            batches,
            rows,
            years: BTreeSet::new(),
        })
    }

    /// Numbers `values` on from the last ordinal; returns the rows added.
    fn append(&mut self, values: Vec<String>) -> Result<RecordBatch> {
        let first = i64::try_from(self.rows).unwrap_or(i64::MAX);
        let ordinals: Int64Array = (first..).take(values.len()).collect();
        let batch = RecordBatch::try_new(
            Self::schema(),
            vec![Arc::new(StringArray::from(values)), Arc::new(ordinals)],
        )?;
        self.rows += batch.num_rows() as u64;
        self.batches.push(batch.clone());
        Ok(batch)
    }

    /// (Re-)registers it in `ctx` as `name`.
    fn register(&self, ctx: &SessionContext, name: &str) -> Result<()> {
        ctx.deregister_table(name)?;
        let table = MemTable::try_new(Self::schema(), vec![self.batches.clone()])?;
        ctx.register_table(name, Arc::new(table))?;
        Ok(())
    }
}

/// What tells a partition's files apart from a night's changes: each file's name, size and
/// modification time (a linked file keeps all three; a rewritten one is renamed).
type Files = BTreeSet<(String, u64, Option<std::time::SystemTime>)>;

fn fingerprint_files(folder: &Path) -> Result<Files> {
    let mut out = Files::new();
    for f in parquet_files(folder)? {
        let meta = std::fs::metadata(&f).map_err(|source| Error::Io {
            path: f.clone(),
            source,
        })?;
        let name = f
            .strip_prefix(folder)
            .map_or_else(|_| f.display().to_string(), |p| p.display().to_string());
        out.insert((name, meta.len(), meta.modified().ok()));
    }
    Ok(out)
}

/// The `year=YYYY` partitions of the fact folder `folder` and their files.
fn year_folders(folder: &Path) -> Result<BTreeMap<i32, Files>> {
    let mut out = BTreeMap::new();
    if !folder.is_dir() {
        return Ok(out);
    }
    let entries = std::fs::read_dir(folder).map_err(|source| Error::Io {
        path: folder.into(),
        source,
    })?;
    for e in entries.flatten() {
        let path: PathBuf = e.path();
        let year = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix(&format!("{PARTITION_COLUMN}=")))
            .and_then(|y| y.parse::<i32>().ok());
        if let Some(year) = year
            && path.is_dir()
        {
            out.insert(year, fingerprint_files(&path)?);
        }
    }
    Ok(out)
}
