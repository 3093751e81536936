//! The build: discover new export files, load them batch by batch (business date order),
//! and publish a new warehouse version atomically.
//!
//! A `--full` build is the same replay started from an empty state, so incremental and full
//! builds over the same files produce byte-identical tables (fact files are named by source,
//! batch and content, not by build).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use acrm_schema::{EntityKind, SourceCatalog, TableDef, WarehouseSchema};
use chrono::{Datelike, NaiveDate};
use rayon::prelude::*;

use crate::config::{BuildConfig, ExistingKey, SourceConfig};
use crate::dims::{CustomerDim, KeyedDim, calendar};
use crate::discover::{InputFile, discover};
use crate::fact_loader::FactLoader;
use crate::facts::Lookups;
use crate::identity::{
    CustomerRecord, Field, IdentityConfig, IdentityStore, full_name, id_key, record_to_row,
    records_table, row_to_record,
};
use crate::keys::{self, BatchKeys, KeyIndex, remove_keys};
use crate::sink::{PartSink, rows_per_part};
use crate::stage::{Loader, Nulled, Rejected, Rejector, SeenRows, Staged, Staging, stage_file};
use crate::value::{
    Value, batch_to_rows, day_number, items_to_batches, rows_to_batch, rows_to_batches,
};
use crate::{Error, Result};
use acrm_store::layout::write_table_part;
use acrm_store::parquet::{folder_rows, link_tree, parquet_files, read_parquet, write_parquet};
use acrm_store::{
    DeriveTables, IdentityChange, LoadedFile, Manifest, RefreshAggregates, Warehouse,
};

/// Receives progress; the CLI draws a bar on a terminal, logs otherwise.
pub trait Progress: Sync {
    /// A new stage begins.
    fn stage(&self, name: &str);
    /// Total input bytes of this build.
    fn total_bytes(&self, n: u64);
    /// `n` more bytes read.
    fn advance(&self, n: u64);
    /// Reading is over.
    fn finish(&self);
}

/// Progress that goes nowhere (library use, tests).
pub struct NoProgress;

impl Progress for NoProgress {
    fn stage(&self, _: &str) {}
    fn total_bytes(&self, _: u64) {}
    fn advance(&self, _: u64) {}
    fn finish(&self) {}
}

/// What a build is asked to do.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Warehouse folder.
    pub warehouse: PathBuf,
    /// Rebuild from scratch from every export file instead of loading only new ones.
    pub full: bool,
    /// Tables computed from the new version before it is published (the nightly marts).
    pub derive: Option<Arc<dyn DeriveTables>>,
    /// The cube aggregates' and materialized reports' refresh, run on the new version before
    /// it is published.
    pub aggregates: Option<Arc<dyn RefreshAggregates>>,
}

/// What happened.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// A new version was published.
    Published {
        /// Its number.
        version: u64,
        /// Its folder.
        path: PathBuf,
    },
    /// No new export files: the current version stands.
    UpToDate {
        /// The current version.
        version: u64,
    },
}

/// Summary of a build, for printing.
#[derive(Debug, Clone)]
pub struct BuildReport {
    /// Published or up to date.
    pub outcome: Outcome,
    /// Files loaded by this build.
    pub loaded: Vec<LoadedFile>,
    /// Rows per table of the current version.
    pub tables: BTreeMap<String, u64>,
    /// Identity conflicts found by this build.
    pub conflicts: usize,
    /// Splits and merges this build made on steward decisions.
    pub identity_changes: Vec<IdentityChange>,
    /// Wall time.
    pub duration: Duration,
}

/// Folder of a version holding build state that is not a published table (the customer
/// records behind identity resolution, with every source's raw attributes).
const STATE_DIR: &str = "_state";

/// Folder of a version being built holding the natural keys of its fact lines (removed
/// before the version is sealed).
const KEYS_DIR: &str = "_keys";

fn load_rows(dir: &Path, table: &TableDef) -> Result<Vec<Vec<Value>>> {
    let mut rows = Vec::new();
    for f in parquet_files(&dir.join(&table.name))? {
        for b in read_parquet(&f)? {
            rows.extend(batch_to_rows(table, &b)?);
        }
    }
    Ok(rows)
}

/// Runs a build with `cfg` into `opts.warehouse`.
pub fn build(
    cfg: &BuildConfig,
    opts: &BuildOptions,
    progress: &dyn Progress,
) -> Result<BuildReport> {
    let started = Instant::now();
    let schema = WarehouseSchema::builtin()?;
    let catalog = SourceCatalog::builtin()?;
    let wh = Warehouse::new(&opts.warehouse);
    let _lock = wh.lock()?;
    let abandoned = wh.clean_abandoned()?;
    if abandoned > 0 {
        tracing::warn!(
            count = abandoned,
            "removed folders of builds that did not finish"
        );
    }
    let current = wh.current()?;
    let prev = match (&current, opts.full) {
        (Some((_, dir)), false) => Some((dir.clone(), Manifest::read(dir)?)),
        _ => None,
    };
    progress.stage("discovering export files");
    let files = discover(cfg)?;
    let known: HashMap<(String, String), &LoadedFile> = prev
        .as_ref()
        .map(|(_, m)| {
            m.files
                .iter()
                .map(|f| ((f.source.clone(), f.file.clone()), f))
                .collect()
        })
        .unwrap_or_default();
    let mut new_files = Vec::new();
    for f in files {
        let key = (cfg.sources[f.source].name.clone(), f.rel.clone());
        match known.get(&key) {
            Some(done) if done.checksum == f.checksum => {}
            Some(done) => {
                return Err(Error::Input {
                    path: f.path,
                    message: format!(
                        "changed since version {} loaded it (checksum differs); exports must not be rewritten — run `acrm build --full` to reload everything",
                        done.version
                    ),
                });
            }
            None => new_files.push(f),
        }
    }
    if new_files.is_empty() {
        if let Some((version, dir)) = &current {
            let m = Manifest::read(dir)?;
            tracing::info!(version, "no new export files; the warehouse is up to date");
            return Ok(BuildReport {
                outcome: Outcome::UpToDate { version: *version },
                loaded: vec![],
                tables: m.tables,
                conflicts: 0,
                identity_changes: vec![],
                duration: started.elapsed(),
            });
        }
        return Err(Error::Config {
            path: cfg.path.clone(),
            message: "no export file matches any source path".into(),
        });
    }
    // The version this build stands on is checked in full first: its files are linked into
    // the new version and its state is read back, so damage would spread unseen. A full
    // build reads none of it, and only leaves its damaged marts behind.
    let base = match &current {
        Some((_, dir)) => {
            let m = match &prev {
                Some((_, m)) => m.clone(),
                None => Manifest::read(dir)?,
            };
            progress.stage("verifying the published version");
            let checked = acrm_store::integrity::verify(dir, &m, true)?;
            if !opts.full {
                checked.clone().into_result(dir)?;
            }
            if let Some(p) = checked.problems.first() {
                tracing::warn!(file = %p.file, damage = %p.damage, "the published version is damaged: its marts are not carried forward");
                None
            } else {
                Some((dir.clone(), m))
            }
        }
        None => None,
    };
    let version = current.as_ref().map_or(1, |(n, _)| n + 1);
    let tmp = wh.begin(version)?;
    let result = build_into(
        cfg,
        &schema,
        &catalog,
        prev.as_ref(),
        new_files,
        &tmp,
        version,
        opts.full,
        progress,
        started,
    );
    let result = result.and_then(|mut report| {
        let mut manifest = Manifest::read(&tmp)?;
        if let Some(derive) = &opts.derive {
            progress.stage("refreshing marts");
            let tables = derive.derive(&tmp);
            acrm_store::crash::point("build:marts-derived");
            acrm_store::write_tables(&tmp, &mut manifest, &tables, version)?;
        }
        // Marts this build did not refresh (mined on their own, or not in `[marts] refresh`)
        // stay, with the version they were computed on: before the materialized reports,
        // which read them.
        if let Some((dir, prev)) = &base {
            let carried = acrm_store::carry_forward(dir, prev, &tmp, &mut manifest)?;
            if !carried.is_empty() {
                tracing::info!(tables = ?carried, "marts carried forward unchanged");
            }
        }
        if let Some(aggregates) = &opts.aggregates {
            progress.stage("refreshing aggregates and materialized reports");
            aggregates.refresh(
                &tmp,
                base.as_ref().map(|(d, m)| (d.as_path(), m)),
                &mut manifest,
            );
            acrm_store::crash::point("build:aggregates-refreshed");
        }
        progress.stage("sealing and publishing");
        let path = wh.publish(
            &tmp,
            &mut manifest,
            base.as_ref().map(|(d, m)| (d.as_path(), m)),
        )?;
        report.tables = manifest.tables;
        report.outcome = Outcome::Published { version, path };
        report.duration = started.elapsed();
        Ok(report)
    });
    if result.is_err() {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

/// Entity kinds loaded first in every batch, in this order, so facts find their members.
const MASTER_ORDER: [EntityKind; 4] = [
    EntityKind::Branch,
    EntityKind::Product,
    EntityKind::Campaign,
    EntityKind::Customer,
];

/// Load order of an entity kind within a batch: masters first, then facts by kind.
fn load_rank(k: EntityKind) -> usize {
    MASTER_ORDER
        .iter()
        .position(|m| *m == k)
        .unwrap_or(MASTER_ORDER.len() + k as usize)
}

/// Loads `new_files` on top of the previous version `prev` (none for a full build) into the
/// version folder `tmp`, and writes its manifest.
#[allow(clippy::too_many_arguments)]
fn build_into(
    cfg: &BuildConfig,
    schema: &WarehouseSchema,
    catalog: &SourceCatalog,
    prev: Option<&(PathBuf, Manifest)>,
    new_files: Vec<InputFile>,
    tmp: &Path,
    version: u64,
    full: bool,
    progress: &dyn Progress,
    started: Instant,
) -> Result<BuildReport> {
    let lk = restore(
        cfg,
        schema,
        catalog,
        prev.map(|(d, _)| d.as_path()),
        tmp,
        progress,
    )?;
    let mut run = Run {
        cfg,
        schema,
        catalog,
        tmp,
        version,
        progress,
        lk,
        years: prev.map(|(_, m)| m.calendar_years),
        loaded_files: prev.map(|(_, m)| m.files.clone()).unwrap_or_default(),
        contents: HashMap::new(),
        this_build: Vec::new(),
        keys: KeyIndex::new(
            tmp.join(KEYS_DIR),
            cfg.memory_mib.saturating_mul(1 << 20) / 4,
        ),
    };
    for f in &run.loaded_files {
        remember_content(&mut run.contents, f);
    }
    progress.total_bytes(new_files.iter().map(|f| f.bytes).sum());
    let mut batches: BTreeMap<NaiveDate, Vec<InputFile>> = BTreeMap::new();
    for f in new_files {
        batches.entry(f.batch).or_default().push(f);
    }
    for (batch, files) in batches {
        run.load_batch(batch, files)?;
    }
    progress.finish();
    progress.stage("writing dimensions");
    run.finish(prev.map(|(_, m)| m), full, started)
}

/// The lookups of the previous version `prev` (empty for a first or full build), with its
/// fact, quarantine and audit files hard-linked into `tmp`.
fn restore(
    cfg: &BuildConfig,
    schema: &WarehouseSchema,
    catalog: &SourceCatalog,
    prev: Option<&Path>,
    tmp: &Path,
    progress: &dyn Progress,
) -> Result<Lookups> {
    let t = |n: &str| schema.table(n).cloned();
    let load = |table: &TableDef, folder: &str| match prev {
        Some(dir) => load_rows(&dir.join(folder), table),
        None => Ok(Vec::new()),
    };
    let dim = |name: &str| -> Result<(TableDef, Vec<Vec<Value>>)> {
        let table = t(name)?;
        let rows = load(&table, "")?;
        Ok((table, rows))
    };
    if let Some(dir) = prev {
        progress.stage("linking the previous version's facts");
        for table in schema
            .built_tables()
            .filter(|t| t.kind != acrm_schema::TableKind::Dimension)
        {
            link_tree(&dir.join(&table.name), &tmp.join(&table.name))?;
        }
    }
    let customer_def = catalog.entity(EntityKind::Customer).clone();
    let records = load(&records_table(&customer_def), STATE_DIR)?
        .into_iter()
        .filter_map(row_to_record)
        .collect();
    let (table, rows) = dim("dim_channel")?;
    let mut channels = KeyedDim::new(table, "channel_code", rows);
    for ch in catalog.channels() {
        if channels.key(&ch.code).is_none() {
            channels.upsert(
                &ch.code,
                &[
                    ("channel_name", Value::Str(ch.name.as_str().into())),
                    ("channel_type", Value::Str(ch.channel_type.as_str().into())),
                ],
            );
        }
    }
    let (table, rows) = dim("dim_branch")?;
    let branches = KeyedDim::new(table, "branch_code", rows);
    let mut province_region = HashMap::new();
    let mut city_province = HashMap::new();
    for r in &branches.rows {
        if let (Value::Str(c), Value::Str(p), Value::Str(reg)) = (&r[3], &r[4], &r[5]) {
            city_province.insert(c.clone(), p.clone());
            province_region.insert(p.clone(), reg.clone());
        }
    }
    let (customers, products, campaigns) = (
        dim("dim_customer")?,
        dim("dim_product")?,
        dim("dim_campaign")?,
    );
    let identity = IdentityStore::new(&customer_def, records);
    Ok(Lookups {
        phones: identity.contact_index(Field::Phone),
        emails: identity.contact_index(Field::Email),
        identity,
        customers: CustomerDim::new(customers.0, customers.1),
        products: KeyedDim::new(products.0, "sku", products.1),
        branches,
        campaigns: KeyedDim::new(campaigns.0, "campaign_code", campaigns.1),
        channels,
        strict_products: cfg.has_entity(EntityKind::Product),
        strict_campaigns: cfg.has_entity(EntityKind::Campaign),
        priority: cfg
            .sources
            .iter()
            .filter(|s| s.entity == EntityKind::Customer)
            .map(|s| (s.name.clone(), s.priority))
            .collect(),
        city_province,
        province_region,
        customer_def,
    })
}

/// One build in progress: the version folder being written and what carries over from
/// batch to batch.
struct Run<'a> {
    cfg: &'a BuildConfig,
    schema: &'a WarehouseSchema,
    catalog: &'a SourceCatalog,
    tmp: &'a Path,
    version: u64,
    progress: &'a dyn Progress,
    lk: Lookups,
    /// First and last year of any fact date (the calendar's span).
    years: Option<(i32, i32)>,
    /// Every file loaded into this version or the ones it continues.
    loaded_files: Vec<LoadedFile>,
    /// Checksum → the first file loaded with that content and at least one row (a file with
    /// the same bytes is a re-sent export; empty files are alike without being one).
    contents: HashMap<String, String>,
    /// The files this build loaded.
    this_build: Vec<LoadedFile>,
    /// Natural keys of the fact lines in the version being built.
    keys: KeyIndex,
}

/// What one batch produced besides its fact parts (written as they stream in), before it
/// is written.
#[derive(Default)]
struct BatchOutput {
    /// Rejected rows.
    rejected: Vec<Rejected>,
    /// Values loaded as null: (source, file, value).
    nulled: Vec<(String, String, Nulled)>,
    /// Natural keys the batch loads and replaces.
    keys: BatchKeys,
}

impl Run<'_> {
    fn table(&self, name: &str) -> Result<TableDef> {
        Ok(self.schema.table(name)?.clone())
    }

    /// Loads the files of one business day: masters first, customers resolved before the
    /// first fact file, then facts; writes the batch's fact, quarantine and audit parts.
    fn load_batch(&mut self, batch: NaiveDate, mut files: Vec<InputFile>) -> Result<()> {
        let cfg = self.cfg;
        let batch_day = day_number(batch);
        files.sort_by(|a, b| {
            let (sa, sb) = (&cfg.sources[a.source], &cfg.sources[b.source]);
            (load_rank(sa.entity), a.source, &a.rel).cmp(&(load_rank(sb.entity), b.source, &b.rel))
        });
        self.progress
            .stage(&format!("loading batch {batch} ({} files)", files.len()));
        let mut seen: HashMap<usize, SeenRows> = HashMap::new();
        let mut out = BatchOutput::default();
        // Parts are named by the checksums of their source's files in the batch.
        let mut tags: BTreeMap<usize, blake3::Hasher> = BTreeMap::new();
        for f in &files {
            tags.entry(f.source)
                .or_default()
                .update(f.checksum.as_bytes());
        }
        let prefixes: HashMap<usize, String> = tags
            .into_iter()
            .map(|(si, h)| {
                let tag = &h.finalize().to_hex()[..8];
                (si, format!("part-{}-{batch}-{tag}", cfg.sources[si].name))
            })
            .collect();
        // The natural-key index holds the lines of earlier batches only: it is read before
        // this batch writes its first part, its filter sized for the batch's input.
        let mut new_lines: BTreeMap<&str, u64> = BTreeMap::new();
        for f in &files {
            let src = &cfg.sources[f.source];
            if src.checks_keys()
                && let Some(t) = src.entity.fact_table()
            {
                *new_lines.entry(t).or_default() += f.bytes / keys::BYTES_PER_LINE + 1;
            }
        }
        for (t, lines) in new_lines {
            self.keys.prepare(self.tmp, &self.table(t)?, lines)?;
        }
        let mut sink = PartSink::new(self.tmp, rows_per_part(cfg.memory_mib));
        let mut master_customers: Vec<(String, String, Vec<Value>)> = Vec::new();
        let mut customers_done = false;
        for f in &files {
            let src: &SourceConfig = &cfg.sources[f.source];
            if let Some(first) = self.contents.get(&f.checksum).cloned() {
                tracing::warn!(source = %src.name, file = %f.rel, same_as = %first, "skipped: same content as a file already loaded (a re-sent export)");
                let lf = LoadedFile {
                    source: src.name.clone(),
                    file: f.rel.clone(),
                    checksum: f.checksum.clone(),
                    batch_date: batch,
                    rows_read: 0,
                    rows_loaded: 0,
                    rows_quarantined: 0,
                    values_nulled: 0,
                    version: self.version,
                    duplicate_of: Some(first),
                };
                self.loaded_files.push(lf.clone());
                self.this_build.push(lf);
                continue;
            }
            // Customer masters are resolved once, before the first fact file needs them.
            if load_rank(src.entity) > load_rank(EntityKind::Customer) && !customers_done {
                if !master_customers.is_empty() {
                    resolve_customers(
                        &mut self.lk,
                        std::mem::take(&mut master_customers),
                        batch_day,
                        &cfg.identity,
                    );
                }
                customers_done = true;
            }
            let def = self.catalog.entity(src.entity);
            let seen = seen.entry(f.source).or_default();
            let stem = Path::new(&f.rel)
                .file_stem()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_default();
            let progress = self.progress;
            let mut on_bytes = |n: u64| progress.advance(n);
            let mut loader: Box<dyn Loader + '_> = match src.entity {
                EntityKind::Customer => {
                    let (sid, idn) = (
                        def.index_of("source_id").unwrap_or(0),
                        def.index_of("id_number"),
                    );
                    let names = (
                        def.index_of("name"),
                        def.index_of("given_name"),
                        def.index_of("family_name"),
                    );
                    let master_customers = &mut master_customers;
                    Box::new(move |rows: Vec<Staged>, _: &mut Rejector<'_>| {
                        let n = rows.len() as u64;
                        for mut r in rows {
                            // A source keeping given and family names apart makes the name.
                            if let (Some(name), Some(given), Some(family)) = names
                                && r.values[name].is_null()
                                && let Some(full) =
                                    full_name(r.values[given].as_str(), r.values[family].as_str())
                            {
                                r.values[name] = Value::Str(full.into());
                            }
                            if let Some(i) = idn
                                && let Value::Str(s) = &r.values[i]
                            {
                                r.values[i] = Value::Str(id_key(s).into());
                            }
                            let id = r.values[sid].as_str().unwrap_or_default().to_string();
                            master_customers.push((src.name.clone(), id, r.values));
                        }
                        Ok(n)
                    })
                }
                EntityKind::Product | EntityKind::Branch | EntityKind::Campaign => {
                    let lk = &mut self.lk;
                    Box::new(move |rows: Vec<Staged>, _: &mut Rejector<'_>| {
                        let n = rows.len() as u64;
                        for r in rows {
                            load_master(lk, src.entity, def, &r.values);
                        }
                        Ok(n)
                    })
                }
                kind => {
                    let table = self.table(kind.fact_table().unwrap_or("fact_sales"))?;
                    Box::new(FactLoader {
                        kind,
                        def,
                        src,
                        table,
                        lookups: &mut self.lk,
                        sink: &mut sink,
                        prefix: prefixes.get(&f.source).map_or("", String::as_str),
                        stem: &stem,
                        batch_day,
                        years: &mut self.years,
                        keys: src.checks_keys().then_some((&mut self.keys, &mut out.keys)),
                    })
                }
            };
            let Staging {
                counts,
                rejected: rej,
                nulled,
            } = stage_file(
                src,
                def,
                &cfg.default_country_code,
                &f.path,
                &f.rel,
                self.tmp,
                seen,
                &mut on_bytes,
                &mut *loader,
            )?;
            drop(loader);
            acrm_store::crash::point("build:staged");
            tracing::info!(source = %src.name, file = %f.rel, read = counts.read, loaded = counts.loaded, quarantined = counts.quarantined, nulled = counts.nulled, "file loaded");
            if counts.read == 0 {
                tracing::warn!(source = %src.name, file = %f.rel, "the file has no data rows");
            }
            check_quarantined_share(src, &f.path, counts.read, &rej)?;
            check_nulled_share(src, &f.path, counts.read, &nulled)?;
            let lf = LoadedFile {
                source: src.name.clone(),
                file: f.rel.clone(),
                checksum: f.checksum.clone(),
                batch_date: batch,
                rows_read: counts.read,
                rows_loaded: counts.loaded,
                rows_quarantined: counts.quarantined,
                values_nulled: counts.nulled,
                version: self.version,
                duplicate_of: None,
            };
            remember_content(&mut self.contents, &lf);
            self.loaded_files.push(lf.clone());
            self.this_build.push(lf);
            out.rejected.extend(rej);
            out.nulled.extend(
                nulled
                    .into_iter()
                    .map(|n| (src.name.clone(), f.rel.clone(), n)),
            );
        }
        if !master_customers.is_empty() {
            resolve_customers(&mut self.lk, master_customers, batch_day, &cfg.identity);
        }
        let written = sink.finish()?;
        self.write_batch(batch, &files, out, &written)
    }

    /// Finishes a batch whose fact parts are `written`: removes the lines it replaces from
    /// the earlier parts, and writes its quarantined rows and its reconciliation rows.
    fn write_batch(
        &mut self,
        batch: NaiveDate,
        files: &[InputFile],
        out: BatchOutput,
        written: &HashSet<PathBuf>,
    ) -> Result<()> {
        for (table_name, keys) in out.keys.replaced() {
            let removed = remove_keys(self.tmp, &self.table(table_name)?, keys, written)?;
            tracing::info!(
                table = table_name,
                lines = removed,
                "lines replaced by this batch"
            );
        }
        let batch_day = day_number(batch);
        let batch_tag = {
            let mut h = blake3::Hasher::new();
            for f in files {
                h.update(f.checksum.as_bytes());
            }
            h.finalize().to_hex()[..8].to_string()
        };
        // The batch's rows of each audit table, one part per table with rows.
        let pairs = self.lk.identity.take_pair_rows(batch_day);
        let part = format!("part-{batch}-{batch_tag}");
        let write = |name: &str, rows: Vec<Vec<Value>>| -> Result<()> {
            if rows.is_empty() {
                return Ok(());
            }
            let table = self.table(name)?;
            write_table_part(self.tmp, &table, &part, vec![rows_to_batch(&table, &rows)?])?;
            Ok(())
        };
        let quarantined = out.rejected.into_iter().map(|r| {
            vec![
                Value::Date(batch_day),
                Value::Str(r.source.into()),
                Value::Str(r.file.into()),
                Value::Int(r.line as i64),
                r.column.map_or(Value::Null, |c| Value::Str(c.into())),
                Value::Str(r.code.into()),
                Value::Str(r.reason.into()),
                Value::Str(r.raw.into()),
            ]
        });
        write("etl_quarantine", quarantined.collect())?;
        let nulled = out.nulled.into_iter().map(|(source, file, n)| {
            vec![
                Value::Date(batch_day),
                Value::Str(source.into()),
                Value::Str(file.into()),
                Value::Int(n.line as i64),
                Value::Str(n.column.into()),
                Value::Str(n.reason.into()),
            ]
        });
        write("etl_nulled_values", nulled.collect())?;
        write("identity_pairs", pairs)?;
        let audited = self
            .loaded_files
            .iter()
            .filter(|f| {
                f.batch_date == batch
                    && f.duplicate_of.is_none()
                    && files
                        .iter()
                        .any(|x| x.rel == f.file && x.checksum == f.checksum)
            })
            .map(|f| {
                vec![
                    Value::Date(batch_day),
                    Value::Str(f.source.as_str().into()),
                    Value::Str(f.file.as_str().into()),
                    Value::Str(f.checksum.as_str().into()),
                    Value::Int(f.rows_read as i64),
                    Value::Int(f.rows_loaded as i64),
                    Value::Int(f.rows_quarantined as i64),
                    Value::Int(f.values_nulled as i64),
                ]
            });
        write("etl_load_audit", audited.collect())?;
        Ok(())
    }

    /// Replaces dimension table `name` in the version with `rows`.
    fn write_dim(&self, name: &str, rows: Vec<Vec<Value>>) -> Result<()> {
        let table = self.table(name)?;
        let dir = self.tmp.join(name);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|source| Error::Io {
                path: dir.clone(),
                source,
            })?;
        }
        let batches = rows_to_batches(&table, &rows)?;
        // The rows go before the file's writer fills its buffers.
        drop(rows);
        write_parquet(&dir.join("part-0.parquet"), &batches, &table.bloom_filter)?;
        Ok(())
    }

    /// Writes `map_customer_source`: every source record's golden id.
    fn write_key_map(&self) -> Result<()> {
        let mut key_map: Vec<Vec<Value>> = self
            .lk
            .identity
            .records()
            .iter()
            .map(|r| {
                vec![
                    Value::Str(r.system.as_str().into()),
                    Value::Str(r.source_id.as_str().into()),
                    Value::Int(r.customer_id),
                    Value::Bool(r.inferred),
                    Value::Date(r.batch_day),
                ]
            })
            .collect();
        key_map.sort_by(|a, b| {
            (a[2].as_i64(), a[0].as_str(), a[1].as_str()).cmp(&(
                b[2].as_i64(),
                b[0].as_str(),
                b[1].as_str(),
            ))
        });
        self.write_dim("map_customer_source", key_map)
    }

    /// Writes the customer records behind identity resolution into the version's state.
    fn write_records(&self) -> Result<()> {
        let state_table = records_table(&self.lk.customer_def);
        let mut records: Vec<&CustomerRecord> = self.lk.identity.records().iter().collect();
        records.sort_by_key(|r| r.seq);
        write_parquet(
            &self
                .tmp
                .join(STATE_DIR)
                .join(&state_table.name)
                .join("part-0.parquet"),
            &items_to_batches(&state_table, &records, |r| record_to_row(r))?,
            &[],
        )?;
        Ok(())
    }

    /// Writes the dimensions, the key map, the identity state and the manifest.
    fn finish(
        mut self,
        prev: Option<&Manifest>,
        full: bool,
        started: Instant,
    ) -> Result<BuildReport> {
        self.keys.close();
        let customers = self.lk.customers.take_sorted_rows();
        let this = &self;
        // The three tables of a million rows or more (dim_customer, the key map and the
        // customer records) are built and written at once, each on a core.
        let (customers, (key_map, records)) = rayon::join(
            || this.write_dim("dim_customer", customers),
            || rayon::join(|| this.write_key_map(), || this.write_records()),
        );
        customers?;
        key_map?;
        records?;
        let lk = &self.lk;
        self.write_dim("dim_product", lk.products.sorted_rows())?;
        self.write_dim("dim_branch", lk.branches.sorted_rows())?;
        self.write_dim("dim_campaign", lk.campaigns.sorted_rows())?;
        self.write_dim("dim_channel", lk.channels.sorted_rows())?;
        let fallback_year = self
            .loaded_files
            .iter()
            .map(|f| f.batch_date.year())
            .max()
            .unwrap_or(1970);
        let calendar_years = self.years.unwrap_or((fallback_year, fallback_year));
        self.write_dim("dim_date", calendar(calendar_years.0, calendar_years.1))?;
        let mut tables = BTreeMap::new();
        for table in self.schema.built_tables() {
            let rows = folder_rows(&self.tmp.join(&table.name))?;
            tables.insert(table.name.clone(), rows);
        }
        let conflicts = lk.identity.conflicts.clone();
        let mut all_conflicts = prev
            .map(|m| m.identity_conflicts.clone())
            .unwrap_or_default();
        all_conflicts.extend(conflicts.iter().cloned());
        let mut changes = prev.map(|m| m.identity_changes.clone()).unwrap_or_default();
        let this_build = lk.identity.changes.clone();
        changes.extend_from_slice(&this_build);
        let manifest = Manifest {
            version: self.version,
            built_at: acrm_store::manifest::now(),
            mode: if full { "full" } else { "incremental" }.into(),
            files: self.loaded_files,
            tables: tables.clone(),
            calendar_years,
            identity_conflicts: all_conflicts,
            identity_changes: changes,
            duration_ms: started.elapsed().as_millis() as u64,
            keep_versions: self.cfg.keep_versions,
            derived: BTreeMap::new(),
            sums: BTreeMap::new(),
            restored_from: None,
        };
        manifest.write(self.tmp)?;
        Ok(BuildReport {
            outcome: Outcome::UpToDate {
                version: self.version,
            },
            loaded: self.this_build,
            tables,
            conflicts: conflicts.len(),
            identity_changes: this_build,
            duration: started.elapsed(),
        })
    }
}

/// Notes the content of loaded file `f` in `contents` (checksum → first file), unless it was
/// a re-sent copy or had no rows (empty files are alike without being re-sent).
fn remember_content(contents: &mut HashMap<String, String>, f: &LoadedFile) {
    if f.duplicate_of.is_none() && f.rows_read > 0 {
        contents
            .entry(f.checksum.clone())
            .or_insert_with(|| f.file.clone());
    }
}

/// Fails the night when more of a file's rows were quarantined than its source allows
/// (`max_quarantined_share`): a file that is mostly rejected is a wrong mapping, encoding or
/// export, not bad rows. Lines skipped as already loaded under `on_existing_key = "skip"`
/// are expected and do not count.
fn check_quarantined_share(
    src: &SourceConfig,
    path: &Path,
    read: u64,
    rejected: &[Rejected],
) -> Result<()> {
    let counted: Vec<&Rejected> = rejected
        .iter()
        .filter(|r| !(src.on_existing_key == ExistingKey::Skip && r.code == "already_loaded"))
        .collect();
    if read == 0 || counted.len() as f64 <= src.max_quarantined_share * read as f64 {
        return Ok(());
    }
    let mut by_code: BTreeMap<&str, Vec<&Rejected>> = BTreeMap::new();
    for r in &counted {
        by_code.entry(r.code).or_default().push(r);
    }
    let (code, rows) = by_code
        .iter()
        .max_by_key(|(code, rows)| (rows.len(), std::cmp::Reverse(*code)))
        .map(|(c, r)| (*c, r.as_slice()))
        .unwrap_or(("", &[]));
    let example = rows
        .first()
        .map(|r| format!("; e.g. line {}: {}", r.line, r.reason))
        .unwrap_or_default();
    Err(Error::Input {
        path: path.into(),
        message: format!(
            "{} of {read} rows ({:.0}%) quarantined, over the max_quarantined_share of {:.0}% of source '{}'; most common reason: {code} ({} rows{example})",
            counted.len(),
            100.0 * counted.len() as f64 / read as f64,
            100.0 * src.max_quarantined_share,
            src.name,
            rows.len()
        ),
    })
}

/// Fails the night when more of a file's values of one column were loaded as null than its
/// source allows rows to be quarantined (`max_quarantined_share`): a column whose values
/// mostly fail to parse has a wrong format in the mapping, and loading it as null would lose
/// it quietly.
fn check_nulled_share(src: &SourceConfig, path: &Path, read: u64, nulled: &[Nulled]) -> Result<()> {
    let mut by_column: BTreeMap<&str, Vec<&Nulled>> = BTreeMap::new();
    for n in nulled {
        by_column.entry(n.column.as_str()).or_default().push(n);
    }
    let worst = by_column
        .into_iter()
        .max_by_key(|(column, values)| (values.len(), std::cmp::Reverse(*column)));
    match worst {
        Some((column, values))
            if read > 0 && values.len() as f64 > src.max_quarantined_share * read as f64 =>
        {
            Err(Error::Input {
                path: path.into(),
                message: format!(
                    "{} of {read} values ({:.0}%) of column '{column}' did not parse (null_invalid), over the max_quarantined_share of {:.0}% of source '{}'; e.g. line {}: {}",
                    values.len(),
                    100.0 * values.len() as f64 / read as f64,
                    100.0 * src.max_quarantined_share,
                    src.name,
                    values[0].line,
                    values[0].reason
                ),
            })
        }
        _ => Ok(()),
    }
}

fn resolve_customers(
    lk: &mut Lookups,
    batch: Vec<(String, String, Vec<Value>)>,
    day: i32,
    identity: &IdentityConfig,
) {
    let city = lk.customer_def.index_of("city");
    let province = lk.customer_def.index_of("province");
    if let (Some(c), Some(p)) = (city, province) {
        for (_, _, v) in &batch {
            if let (Value::Str(c), Value::Str(p)) = (&v[c], &v[p]) {
                lk.city_province
                    .entry(c.clone())
                    .or_insert_with(|| p.clone());
            }
        }
    }
    let touched: Vec<i64> = lk
        .identity
        .resolve_batch(batch, day, identity)
        .into_iter()
        .collect();
    // Golden records are computed on every core, then applied to dim_customer in id order.
    let shared: &Lookups = lk;
    let golden: Vec<(Vec<Value>, i32)> = touched
        .par_iter()
        .map(|&id| shared.golden(id, day))
        .collect();
    for (id, (attrs, first_day)) in touched.into_iter().zip(golden) {
        lk.customers.apply(id, attrs, day, first_day);
    }
    lk.phones = lk.identity.contact_index(Field::Phone);
    lk.emails = lk.identity.contact_index(Field::Email);
}

fn load_master(lk: &mut Lookups, kind: EntityKind, def: &acrm_schema::EntityDef, values: &[Value]) {
    let v = |n: &str| {
        def.index_of(n)
            .map(|i| values[i].clone())
            .unwrap_or(Value::Null)
    };
    let key = |n: &str| v(n).as_str().unwrap_or_default().to_string();
    match kind {
        EntityKind::Product => {
            let names = [
                "product_name",
                "category",
                "subcategory",
                "brand",
                "unit_price",
                "unit_cost",
            ];
            let attrs: Vec<(&str, Value)> = names.iter().map(|n| (*n, v(n))).collect();
            lk.products.upsert(&key("sku"), &attrs);
        }
        EntityKind::Branch => {
            let names = ["branch_name", "city", "province", "region"];
            let attrs: Vec<(&str, Value)> = names.iter().map(|n| (*n, v(n))).collect();
            if let (Value::Str(c), Value::Str(p)) = (v("city"), v("province")) {
                lk.city_province.insert(c, p);
            }
            if let (Value::Str(p), Value::Str(r)) = (v("province"), v("region")) {
                lk.province_region.insert(p, r);
            }
            lk.branches.upsert(&key("branch_code"), &attrs);
        }
        EntityKind::Campaign => {
            let attrs = vec![
                ("campaign_name", v("campaign_name")),
                ("channel_code", v("channel")),
                ("start_date", v("start_date")),
                ("end_date", v("end_date")),
                ("budget", v("budget")),
                ("target_segment", v("target_segment")),
            ];
            lk.campaigns.upsert(&key("campaign_code"), &attrs);
        }
        _ => {}
    }
}
