//! Natural keys of fact lines: nothing is loaded twice. A fact table's `primary_key`
//! (tables.toml) names a line; a line whose key the warehouse already holds follows its
//! source's `on_existing_key` (quarantine, skip or replace), and a key repeated within one
//! batch with different content is quarantined (`duplicate_key`: which copy is right is
//! for a steward to say).
//!
//! Keys are 64-bit hashes of the key columns, checked by a [`KeyIndex`]: a Bloom filter in
//! memory and the exact keys on disk, so memory does not grow with the table or the batch.
//! A hash collision could only ever quarantine a new line as `already_loaded` — with n
//! lines held and m new ones its chance is about n·m / 2⁶⁴ (10⁻⁵ for 250 million held and
//! a million new), and the line stays in the quarantine, never silently dropped.

use std::collections::{BTreeMap, HashMap, HashSet, btree_map};
use std::fs::File;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::io::{BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use acrm_schema::TableDef;
use datafusion::arrow::array::{BooleanArray, RecordBatch};
use datafusion::arrow::compute::filter_record_batch;
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use rayon::prelude::*;

use crate::config::{ExistingKey, SourceConfig};
use crate::keyfilter::KeyFilter;
use crate::record::{PassThrough, Raw};
use crate::stage::{Rejector, Staged};
use crate::value::{FastMap, Value, cell, date_of};
use crate::{Error, Result};
use acrm_store::parquet::{parquet_files, read_parquet, write_parquet};

/// A set of key hashes.
pub type KeySet = HashSet<u64, BuildHasherDefault<PassThrough>>;

/// The hash of a key (the values of a table's primary-key columns).
pub fn key_hash<'a>(values: impl IntoIterator<Item = &'a Value>) -> u64 {
    // SipHash with fixed keys: the index lives for one build, so only stability within a
    // process matters.
    let mut h = std::hash::DefaultHasher::new();
    for v in values {
        match v {
            Value::Null => 0u8.hash(&mut h),
            Value::Str(s) => {
                1u8.hash(&mut h);
                s.hash(&mut h);
            }
            Value::Int(i) => (2u8, i).hash(&mut h),
            Value::Money(c) => (3u8, c).hash(&mut h),
            Value::Date(d) => (4u8, d).hash(&mut h),
            Value::Ts { micros, .. } => (5u8, micros).hash(&mut h),
            Value::Bool(b) => (6u8, b).hash(&mut h),
            Value::Float(f) => (7u8, f.to_bits()).hash(&mut h),
        }
    }
    h.finish()
}

/// A key as people read it: `order_id 'A1', line_number 2`.
fn show_key(table: &TableDef, pk: &[usize], row: &[Value]) -> String {
    pk.iter()
        .map(|&i| {
            let v = match &row[i] {
                Value::Null => "null".to_string(),
                Value::Str(s) => format!("'{s}'"),
                Value::Int(n) | Value::Money(n) => n.to_string(),
                Value::Date(d) => date_of(*d).to_string(),
                other => format!("{other:?}"),
            };
            format!("{} {v}", table.columns[i].name)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Positions of `table`'s primary-key columns.
fn pk_columns(table: &TableDef) -> Vec<usize> {
    table
        .primary_key
        .iter()
        .filter_map(|k| table.columns.iter().position(|c| &c.name == k))
        .collect()
}

/// The key hash of every row of the part file `path` (reading only the key columns).
fn file_key_hashes(path: &Path, table: &TableDef, pk: &[usize]) -> Result<Vec<u64>> {
    let pq = |source| Error::Parquet {
        path: path.into(),
        source,
    };
    let f = File::open(path).map_err(|source| Error::Io {
        path: path.into(),
        source,
    })?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(f).map_err(pq)?;
    let names: Vec<&str> = pk.iter().map(|&i| table.columns[i].name.as_str()).collect();
    let mask = ProjectionMask::columns(builder.parquet_schema(), names.iter().copied());
    let reader = builder
        .with_projection(mask)
        .with_batch_size(65_536)
        .build()
        .map_err(pq)?;
    let mut out = Vec::new();
    for batch in reader {
        out.extend(batch_key_hashes(&batch?, table, pk)?);
    }
    Ok(out)
}

/// The key hash of every row of `batch` (columns found by name).
fn batch_key_hashes(batch: &RecordBatch, table: &TableDef, pk: &[usize]) -> Result<Vec<u64>> {
    let arrays = pk
        .iter()
        .map(|&i| {
            let col = &table.columns[i];
            batch
                .column_by_name(&col.name)
                .map(|a| (col.column_type, a.clone()))
                .ok_or_else(|| {
                    Error::Arrow(datafusion::arrow::error::ArrowError::SchemaError(format!(
                        "{}: key column '{}' missing",
                        table.name, col.name
                    )))
                })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((0..batch.num_rows())
        .map(|r| {
            let values: Vec<Value> = arrays
                .iter()
                .map(|(ty, a)| cell(*ty, a.as_ref(), r))
                .collect();
            key_hash(&values)
        })
        .collect())
}

/// The keys of the lines of one batch that replace earlier lines, per fact table, until the
/// batch is written.
#[derive(Default)]
pub struct BatchKeys {
    /// Keys whose earlier line this batch replaces (`on_existing_key = "replace"`).
    replaced: BTreeMap<String, KeySet>,
}

impl BatchKeys {
    /// Keys whose earlier lines the batch replaces, per table.
    pub fn replaced(&self) -> impl Iterator<Item = (&str, &KeySet)> {
        self.replaced.iter().map(|(t, k)| (t.as_str(), k))
    }
}

/// Bytes of one key-file entry: a key hash and the hash of the record that loaded it.
const ENTRY: usize = 16;

/// An append-only file of (key hash, record hash) entries, read back in order.
struct KeyFile {
    path: PathBuf,
    out: BufWriter<File>,
    entries: u64,
}

impl KeyFile {
    fn create(path: PathBuf) -> Result<Self> {
        let io = |source| Error::Io {
            path: path.clone(),
            source,
        };
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let out = BufWriter::with_capacity(1 << 16, File::create(&path).map_err(io)?);
        Ok(Self {
            path,
            out,
            entries: 0,
        })
    }

    fn push(&mut self, key: u64, record: u64) -> Result<()> {
        let mut e = [0u8; ENTRY];
        e[..8].copy_from_slice(&key.to_le_bytes());
        e[8..].copy_from_slice(&record.to_le_bytes());
        self.entries += 1;
        self.out.write_all(&e).map_err(|source| Error::Io {
            path: self.path.clone(),
            source,
        })
    }

    /// Deletes the file.
    fn remove(self) {
        drop(self.out);
        if let Err(e) = std::fs::remove_file(&self.path) {
            tracing::warn!(file = %self.path.display(), error = %e, "a natural-key file could not be removed");
        }
    }

    /// Calls `f(key, record)` for every entry, in the order they were pushed.
    fn scan(&mut self, mut f: impl FnMut(u64, u64)) -> Result<()> {
        let io = |source| Error::Io {
            path: self.path.clone(),
            source,
        };
        self.out.flush().map_err(io)?;
        let mut input = BufReader::with_capacity(1 << 20, File::open(&self.path).map_err(io)?);
        let mut e = [0u8; ENTRY];
        for _ in 0..self.entries {
            input.read_exact(&mut e).map_err(io)?;
            let word = |at: usize| u64::from_le_bytes(e[at..at + 8].try_into().unwrap_or_default());
            f(word(0), word(8));
        }
        Ok(())
    }
}

/// A fact line the filter could not clear: checked against the exact keys when its file
/// ends.
struct Doubt {
    line: u64,
    raw: String,
    key: u64,
    record: u64,
    row: Vec<Value>,
}

/// What a doubted key turned out to be.
#[derive(Default)]
struct Found {
    /// A line of an earlier batch holds it.
    held: bool,
    /// The record of the line of this batch that loaded it.
    first: Option<u64>,
}

/// The natural keys of one fact table in the version being built.
struct TableKeys {
    /// Key files of the table's part files as of the batch's start, by part.
    parts: BTreeMap<PathBuf, KeyFile>,
    /// Every held key and every key this batch loaded so far (sized per batch).
    filter: KeyFilter,
    /// The keys this batch loaded so far, with their records, in line order.
    batch: KeyFile,
    /// The lines of the file being loaded that the filter could not clear, in line order.
    doubts: Vec<Doubt>,
}

/// The natural keys of the fact lines in the version being built, per fact table: a
/// split-block Bloom filter in memory and the exact keys on disk. The filter takes two bytes
/// per held key and per line the batch's input could hold at [`BYTES_PER_LINE`] — about
/// four bytes a real order line (100 MB for a million customers' first load), capped per
/// table by the build's budget.
///
/// A line whose key the filter has certainly not seen is loaded at once; nearly every new
/// line is. The others (a key loaded before, or a false positive: about one line in a
/// thousand) wait until their file ends, when they are checked against the exact keys, read
/// back from disk, in line order. Memory is therefore the filter plus the doubted lines, not
/// a map of every line: the map this replaces took 22 bytes a line by hashbrown's layout,
/// and half as much again while it grew, up to ~850 MB for the 25.7 million order lines of
/// a million-customer first load (computed, not measured).
///
/// Costs paid for this: each batch refills the filter from the held key files (one
/// sequential read of 16 bytes a held line), and each file with doubted lines reads the
/// held and batch key files once more when it ends.
///
/// The held keys are those of the table's part files at the start of each batch (each part
/// read once, its keys kept in a file), and the filter is sized from their number and the
/// batch's input: the same at every batch whether it is replayed by `--full` or loaded
/// incrementally, so both load the same lines in the same order.
pub struct KeyIndex {
    /// Folder of the key files (inside the version being built; removed with the index).
    dir: PathBuf,
    /// Largest filter, in bytes (a share of the build's memory budget).
    max_filter_bytes: usize,
    tables: HashMap<String, TableKeys>,
    /// Key files written so far (their names).
    files: u64,
}

/// Input bytes reckoned per fact line when sizing a batch's filter: fewer than any export
/// of a real order line takes (the sample's POS lines take 70, its JSON orders 168), so the
/// filter is sized for at least as many lines as come.
pub const BYTES_PER_LINE: u64 = 48;

impl KeyIndex {
    /// An index keeping its key files in `dir`, its filters at most `max_filter_bytes` each.
    pub fn new(dir: PathBuf, max_filter_bytes: usize) -> Self {
        Self {
            dir,
            max_filter_bytes,
            tables: HashMap::new(),
            files: 0,
        }
    }

    fn key_file(&mut self, table: &str) -> Result<KeyFile> {
        self.files += 1;
        KeyFile::create(self.dir.join(table).join(format!("{}.keys", self.files)))
    }

    /// Readies the index of `table` for a batch loading about `new_lines` lines: reads the
    /// keys of the table's part files in version folder `dir` that it has not read yet (only
    /// the key columns), and sizes and fills the filter. Called before the batch writes its
    /// first part, so the held keys are earlier batches' (a batch's own repeats are
    /// `duplicate_key`).
    pub fn prepare(&mut self, dir: &Path, table: &TableDef, new_lines: u64) -> Result<()> {
        let pk = pk_columns(table);
        let files = parquet_files(&dir.join(&table.name))?;
        let mut parts = match self.tables.remove(&table.name) {
            Some(t) => {
                t.batch.remove();
                t.parts
            }
            None => BTreeMap::new(),
        };
        // Parts rewritten or removed since are gone; their key files go with them.
        let (kept, gone): (BTreeMap<_, _>, BTreeMap<_, _>) = std::mem::take(&mut parts)
            .into_iter()
            .partition(|(part, _)| files.binary_search(part).is_ok());
        gone.into_values().for_each(KeyFile::remove);
        parts = kept;
        for f in files {
            if let btree_map::Entry::Vacant(slot) = parts.entry(f) {
                let mut kf = self.key_file(&table.name)?;
                for h in file_key_hashes(slot.key(), table, &pk)? {
                    kf.push(h, 0)?;
                }
                slot.insert(kf);
            }
        }
        let held: u64 = parts.values().map(|k| k.entries).sum();
        let mut filter = KeyFilter::for_keys(
            usize::try_from(held.saturating_add(new_lines)).unwrap_or(usize::MAX),
            self.max_filter_bytes,
        );
        for kf in parts.values_mut() {
            kf.scan(|key, _| {
                filter.insert(key);
            })?;
        }
        tracing::debug!(table = %table.name, held, new_lines, filter_bytes = filter.bytes(), "natural-key index ready");
        let batch = self.key_file(&table.name)?;
        self.tables.insert(
            table.name.clone(),
            TableKeys {
                parts,
                filter,
                batch,
                doubts: Vec::new(),
            },
        );
        Ok(())
    }

    fn table_keys(&mut self, table: &TableDef) -> Result<&mut TableKeys> {
        self.tables
            .get_mut(&table.name)
            .ok_or_else(|| Error::Input {
                path: table.name.clone().into(),
                message: "internal error: natural-key index used before it was prepared".into(),
            })
    }

    /// Keeps the fact lines `loaded` (from `rows`, see [`crate::facts::load_chunk`]) whose
    /// key the index has certainly not seen, in order; the others wait for [`Self::settle`].
    pub fn admit(
        &mut self,
        table: &TableDef,
        loaded: Vec<(usize, Vec<Value>)>,
        rows: &[Staged],
    ) -> Result<Vec<Vec<Value>>> {
        let pk = pk_columns(table);
        let t = self.table_keys(table)?;
        // Keys are hashed on every core; the filter is then probed once a line, in line order.
        let hashes: Vec<u64> = loaded
            .par_iter()
            .map(|(_, row)| key_hash(pk.iter().map(|&i| &row[i])))
            .collect();
        let mut kept = Vec::with_capacity(loaded.len());
        for ((n, row), key) in loaded.into_iter().zip(hashes) {
            let record = rows[n].hash as u64 ^ (rows[n].hash >> 64) as u64;
            if t.filter.insert(key) {
                t.doubts.push(Doubt {
                    line: rows[n].line,
                    raw: rows[n].raw.text().into_owned(),
                    key,
                    record,
                    row,
                });
            } else {
                t.batch.push(key, record)?;
                kept.push(row);
            }
        }
        Ok(kept)
    }

    /// At the end of a file of source `src`: checks the lines it doubted against the exact
    /// keys, in line order, and returns those to load. A key this batch loaded before is
    /// rejected through `rej` (an exact repeat as `duplicate_row` where the source
    /// deduplicates, another line as `duplicate_key`); a key an earlier batch loaded follows
    /// the source's `on_existing_key`: rejected as `already_loaded`, or under `replace`
    /// loaded, its key noted in `batch` so the earlier line is removed when the batch is
    /// written.
    pub fn settle(
        &mut self,
        table: &TableDef,
        src: &SourceConfig,
        key_field: &str,
        rej: &mut Rejector<'_>,
        batch: &mut BatchKeys,
    ) -> Result<Vec<Vec<Value>>> {
        let pk = pk_columns(table);
        let t = self.table_keys(table)?;
        let doubts = std::mem::take(&mut t.doubts);
        if doubts.is_empty() {
            return Ok(Vec::new());
        }
        let mut found: FastMap<u64, Found> =
            doubts.iter().map(|d| (d.key, Found::default())).collect();
        for kf in t.parts.values_mut() {
            kf.scan(|key, _| {
                if let Some(f) = found.get_mut(&key) {
                    f.held = true;
                }
            })?;
        }
        t.batch.scan(|key, record| {
            if let Some(f) = found.get_mut(&key) {
                f.first.get_or_insert(record);
            }
        })?;
        let mut kept = Vec::new();
        for d in doubts {
            let f = found.entry(d.key).or_default();
            let staged = Staged {
                line: d.line,
                values: Vec::new(),
                raw: Raw::Text(d.raw),
                hash: 0,
                nulled: Vec::new(),
            };
            let shown = || show_key(table, &pk, &d.row);
            if let Some(first) = f.first {
                if first == d.record && src.dedupe_exact_lines {
                    rej.reject(
                        &staged,
                        None,
                        "duplicate_row",
                        format!(
                            "exact duplicate of an earlier line of this batch ({})",
                            shown()
                        ),
                    );
                } else {
                    rej.reject(
                        &staged,
                        Some(key_field),
                        "duplicate_key",
                        format!(
                            "{} is loaded by an earlier line of this batch with other values",
                            shown()
                        ),
                    );
                }
                continue;
            }
            if f.held {
                match src.on_existing_key {
                    ExistingKey::Replace => {
                        batch
                            .replaced
                            .entry(table.name.clone())
                            .or_default()
                            .insert(d.key);
                    }
                    policy => {
                        let word = if policy == ExistingKey::Skip {
                            "skip"
                        } else {
                            "quarantine"
                        };
                        rej.reject(
                            &staged,
                            Some(key_field),
                            "already_loaded",
                            format!(
                                "{} is already in {} (on_existing_key = \"{word}\")",
                                shown(),
                                table.name
                            ),
                        );
                        continue;
                    }
                }
            }
            f.first = Some(d.record);
            t.batch.push(d.key, d.record)?;
            kept.push(d.row);
        }
        Ok(kept)
    }
}

impl KeyIndex {
    /// Removes the key files (before the version is sealed: they are not part of it).
    pub fn close(&mut self) {
        self.tables.clear();
        if self.dir.exists()
            && let Err(e) = std::fs::remove_dir_all(&self.dir)
        {
            tracing::warn!(dir = %self.dir.display(), error = %e, "the natural-key files could not be removed");
        }
    }
}

impl Drop for KeyIndex {
    fn drop(&mut self) {
        self.close();
    }
}

/// Removes the lines whose key is in `keys` from `table`'s part files in version folder `dir`
/// (the lines a batch replaces), leaving alone the files in `skip` (the batch's own parts). A part holding some is rewritten under a new name (the old
/// name plus `-r` and a hash of the keys removed, so a `--full` rebuild names it the same);
/// the old file may be a hard link into the previous version, which is left untouched.
/// Returns the number of lines removed.
pub fn remove_keys(
    dir: &Path,
    table: &TableDef,
    keys: &KeySet,
    skip: &HashSet<PathBuf>,
) -> Result<u64> {
    let pk = pk_columns(table);
    let mut sorted: Vec<u64> = keys.iter().copied().collect();
    sorted.sort_unstable();
    let tag = {
        let mut h = blake3::Hasher::new();
        for k in &sorted {
            h.update(&k.to_le_bytes());
        }
        h.finalize().to_hex()[..8].to_string()
    };
    let mut removed = 0u64;
    for f in parquet_files(&dir.join(&table.name))? {
        if skip.contains(&f) {
            continue;
        }
        let hashes = file_key_hashes(&f, table, &pk)?;
        if !hashes.iter().any(|h| keys.contains(h)) {
            continue;
        }
        let mut kept_batches = Vec::new();
        let mut offset = 0;
        for batch in read_parquet(&f)? {
            let mask: BooleanArray = hashes[offset..offset + batch.num_rows()]
                .iter()
                .map(|h| Some(!keys.contains(h)))
                .collect();
            offset += batch.num_rows();
            removed += mask.false_count() as u64;
            kept_batches.push(filter_record_batch(&batch, &mask)?);
        }
        let stem = f
            .file_stem()
            .map(|s| s.to_string_lossy().to_string())
            .unwrap_or_default();
        let new_path: PathBuf = f.with_file_name(format!("{stem}-r{tag}.parquet"));
        if kept_batches.iter().any(|b| b.num_rows() > 0) {
            write_parquet(&new_path, &kept_batches, &table.bloom_filter)?;
        }
        std::fs::remove_file(&f).map_err(|source| Error::Io {
            path: f.clone(),
            source,
        })?;
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_hashes_tell_types_and_values_apart() {
        let a = key_hash(&[Value::Str("1".into()), Value::Int(2)]);
        assert_eq!(a, key_hash(&[Value::Str("1".into()), Value::Int(2)]));
        assert_ne!(a, key_hash(&[Value::Str("1".into()), Value::Int(3)]));
        assert_ne!(a, key_hash(&[Value::Int(1), Value::Int(2)]));
        assert_ne!(
            key_hash(&[Value::Str("ab".into()), Value::Str("c".into())]),
            key_hash(&[Value::Str("a".into()), Value::Str("bc".into())]),
            "the length of a text is hashed with it"
        );
    }

    /// Keys loaded (sorted), lines rejected with their codes, keys replaced, and lines the
    /// filter let through at once.
    type Outcome = (Vec<(String, i64)>, Vec<(u64, &'static str)>, usize, usize);

    /// The outcome of loading `lines` (order id, line number, record) as two files of one
    /// batch of source `pos` under `policy`, on top of a held part with order `H` line 1, with
    /// filters of at most `filter_bytes`.
    fn load(policy: &str, filter_bytes: usize, lines: &[(&str, i64, u128)]) -> Outcome {
        use crate::config::BuildConfig;
        use acrm_schema::{EntityKind, SourceCatalog, WarehouseSchema};
        use datafusion::arrow::array::{ArrayRef, Int32Array, StringArray};
        use std::sync::Arc;

        let dir = tempfile::tempdir().expect("temp dir");
        let cfg = BuildConfig::parse(
            &dir.path().join("acrm.toml"),
            &format!(
                "[[source]]\nname = \"pos\"\nentity = \"sales_line\"\npath = \"pos.csv\"\non_existing_key = \"{policy}\"\n[source.columns]\norder_id = \"o\"\nline_number = \"l\"\ncustomer_ref = \"c\"\norder_time = \"t\"\nquantity = \"q\"\namount = \"a\"\n"
            ),
        )
        .expect("config");
        let src = &cfg.sources[0];
        let catalog = SourceCatalog::builtin().expect("catalog");
        let def = catalog.entity(EntityKind::SalesLine);
        let table = WarehouseSchema::builtin()
            .expect("schema")
            .table("fact_sales")
            .expect("fact_sales")
            .clone();
        // A part of an earlier batch: only its key columns are ever read.
        let held = RecordBatch::try_from_iter([
            (
                "source_system",
                Arc::new(StringArray::from(vec!["pos"])) as ArrayRef,
            ),
            (
                "order_id",
                Arc::new(StringArray::from(vec!["H"])) as ArrayRef,
            ),
            (
                "line_number",
                Arc::new(Int32Array::from(vec![1])) as ArrayRef,
            ),
        ])
        .expect("batch");
        let version = dir.path().join("v");
        write_parquet(&version.join("fact_sales/part-0.parquet"), &[held], &[]).expect("part");

        let col = |name: &str| {
            table
                .columns
                .iter()
                .position(|c| c.name == name)
                .expect(name)
        };
        let (sys, order, line) = (col("source_system"), col("order_id"), col("line_number"));
        let mut index = KeyIndex::new(dir.path().join("keys"), filter_bytes);
        index
            .prepare(&version, &table, lines.len() as u64)
            .expect("prepare");
        let mut batch = BatchKeys::default();
        let (mut kept, mut rejected, mut at_once) = (Vec::new(), Vec::new(), 0);
        for (file, part) in lines.chunks(lines.len().div_ceil(2)).enumerate() {
            let first_line = (file * lines.len().div_ceil(2)) as u64 + 2;
            let staged: Vec<Staged> = part
                .iter()
                .enumerate()
                .map(|(i, &(o, l, record))| Staged {
                    line: first_line + i as u64,
                    values: Vec::new(),
                    raw: Raw::Text(format!("{o},{l}")),
                    hash: record,
                    nulled: Vec::new(),
                })
                .collect();
            let rows: Vec<(usize, Vec<Value>)> = part
                .iter()
                .enumerate()
                .map(|(i, &(o, l, _))| {
                    let mut row = vec![Value::Null; table.columns.len()];
                    row[sys] = Value::Str("pos".into());
                    row[order] = Value::Str(o.into());
                    row[line] = Value::Int(l);
                    (i, row)
                })
                .collect();
            let name = format!("pos-{file}.csv");
            let mut rej = Rejector::new(src, def, &name);
            let now = index.admit(&table, rows, &staged).expect("admit");
            at_once += now.len();
            let later = index
                .settle(&table, src, &def.key[0], &mut rej, &mut batch)
                .expect("settle");
            for row in now.into_iter().chain(later) {
                let (Value::Str(o), Value::Int(l)) = (&row[order], &row[line]) else {
                    panic!("key columns");
                };
                kept.push((o.to_string(), *l));
            }
            rejected.extend(rej.rejected.iter().map(|r| (r.line, r.code)));
        }
        kept.sort();
        rejected.sort();
        let replaced = batch.replaced().map(|(_, k)| k.len()).sum();
        (kept, rejected, replaced, at_once)
    }

    #[test]
    fn doubted_lines_are_settled_exactly_as_a_map_of_every_key_would() {
        let mut lines: Vec<(&str, i64, u128)> = vec![
            ("A", 1, 1),
            ("A", 2, 2),
            ("A", 1, 1), // line 4: an exact repeat
            ("A", 1, 9), // line 5: the key again, other values
            ("H", 1, 3), // line 6: held by an earlier batch
        ];
        lines.extend((0..300).map(|i| ("B", i, 100 + i as u128)));
        lines.push(("H", 1, 3)); // line 307: held, and repeated in the second file
        lines.push(("A", 2, 2)); // line 308: an exact repeat across files
        let expected_rejects = |held: &'static str| {
            vec![
                (4, "duplicate_row"),
                (5, "duplicate_key"),
                (6, held),
                (307, held),
                (308, "duplicate_row"),
            ]
        };
        let mut loaded: Vec<(String, i64)> = vec![("A".into(), 1), ("A".into(), 2)];
        loaded.extend((0..300).map(|i| ("B".to_string(), i)));
        loaded.sort();

        // A filter of one block doubts nearly every line; one sized for the lines only the
        // repeats and a rare false positive. Both must load and reject the same lines with
        // the same reasons.
        for bytes in [32, 1 << 20] {
            let (kept, rejected, replaced, at_once) = load("quarantine", bytes, &lines);
            assert_eq!(kept, loaded, "filter of {bytes} bytes");
            assert_eq!(rejected, expected_rejects("already_loaded"));
            assert_eq!(replaced, 0);
            if bytes == 32 {
                assert!(
                    at_once < 100,
                    "the small filter let {at_once} lines through at once"
                );
            } else {
                // Sized at 16 bits a line (not at its 1 MiB cap): about one false positive
                // in a thousand.
                assert!(
                    at_once + 3 >= loaded.len(),
                    "the sized filter let only {at_once} of {} new lines through at once",
                    loaded.len()
                );
            }

            let (kept, rejected, replaced, _) = load("replace", bytes, &lines);
            let mut with_h = loaded.clone();
            with_h.push(("H".into(), 1));
            with_h.sort();
            assert_eq!(kept, with_h, "replace loads the held key once");
            // The second copy of H 1 is now a repeat of this batch's line, not a held key.
            assert_eq!(
                rejected,
                vec![
                    (4, "duplicate_row"),
                    (5, "duplicate_key"),
                    (307, "duplicate_row"),
                    (308, "duplicate_row")
                ]
            );
            assert_eq!(replaced, 1);
        }
    }

    #[test]
    fn pass_through_keeps_the_hash() {
        let mut set = KeySet::default();
        set.insert(42);
        assert!(set.contains(&42));
        assert!(!set.contains(&43));
    }
}
