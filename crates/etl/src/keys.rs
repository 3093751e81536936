//! Natural keys of fact lines: nothing is loaded twice. A fact table's `primary_key`
//! (tables.toml) names a line; a line whose key the warehouse already holds follows its
//! source's `on_existing_key` (quarantine, skip or replace), and a key repeated within one
//! batch with different content is quarantined (`duplicate_key`: which copy is right is
//! for a steward to say).
//!
//! The warehouse side is an index of 64-bit key hashes per table, built on first use in a
//! build from the key columns of the table's part files (only those columns are read) and
//! kept up to date batch by batch: 10 bytes a line, where the lines themselves are never
//! held. A hash collision could only ever quarantine a new line as `already_loaded` — with
//! n lines held and m new ones its chance is about n·m / 2⁶⁴ (10⁻⁵ for 250 million held
//! and a million new), and the line stays in the quarantine, never silently dropped.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs::File;
use std::hash::{BuildHasherDefault, Hash, Hasher};
use std::path::{Path, PathBuf};

use acrm_schema::TableDef;
use datafusion::arrow::array::{BooleanArray, RecordBatch};
use datafusion::arrow::compute::filter_record_batch;
use datafusion::parquet::arrow::ProjectionMask;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use rayon::prelude::*;

use crate::config::{ExistingKey, SourceConfig};
use crate::record::PassThrough;
use crate::stage::{Rejector, Staged};
use crate::value::date_of;
use crate::value::{Value, cell};
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

/// Key hash → a 64-bit hash of the whole record that loaded it.
type KeyRecords = HashMap<u64, u64, BuildHasherDefault<PassThrough>>;

/// The keys of the lines of one batch, per fact table, until the batch is written.
#[derive(Default)]
pub struct BatchKeys {
    /// Keys loaded by this batch, with the record of each (a repeated key with the same
    /// record is an exact repeat): 16 bytes a line, the batch's only map of its lines.
    new: BTreeMap<String, KeyRecords>,
    /// Keys whose earlier line this batch replaces (`on_existing_key = "replace"`).
    replaced: BTreeMap<String, KeySet>,
}

impl BatchKeys {
    /// Keys whose earlier lines the batch replaces, per table.
    pub fn replaced(&self) -> impl Iterator<Item = (&str, &KeySet)> {
        self.replaced.iter().map(|(t, k)| (t.as_str(), k))
    }
}

/// Key hashes of the lines in the version being built, per fact table (built on first use).
#[derive(Default)]
pub struct KeyIndex {
    tables: HashMap<String, KeySet>,
}

impl KeyIndex {
    /// Reads the keys of `table` from its part files in version folder `dir`, unless they
    /// are held already. Called before a batch writes its first part, so the index holds
    /// earlier batches' lines only (a batch's own repeats are `duplicate_key`).
    pub fn prepare(&mut self, dir: &Path, table: &TableDef) -> Result<()> {
        if !self.tables.contains_key(&table.name) {
            let pk = pk_columns(table);
            let mut set = KeySet::default();
            for f in parquet_files(&dir.join(&table.name))? {
                set.extend(file_key_hashes(&f, table, &pk)?);
            }
            tracing::debug!(table = %table.name, keys = set.len(), "natural-key index built");
            self.tables.insert(table.name.clone(), set);
        }
        Ok(())
    }

    /// Keeps the fact lines `loaded` (from `rows`, see [`crate::facts::load_chunk`]) of
    /// source `src` whose key is new; the others are rejected through `rej` (an exact
    /// repeat within the batch as `duplicate_row` where the source deduplicates, another
    /// line with the same key as `duplicate_key`) or, under `replace`, kept and their key
    /// noted in `batch` so the earlier line is removed when the batch is written.
    #[allow(clippy::too_many_arguments)]
    pub fn admit(
        &mut self,
        table: &TableDef,
        src: &SourceConfig,
        key_field: &str,
        loaded: Vec<(usize, Vec<Value>)>,
        rows: &[Staged],
        rej: &mut Rejector<'_>,
        batch: &mut BatchKeys,
    ) -> Result<Vec<Vec<Value>>> {
        let pk = pk_columns(table);
        let empty = KeySet::default();
        let held = self.tables.get(&table.name).unwrap_or(&empty);
        let new = batch.new.entry(table.name.clone()).or_default();
        let mut kept = Vec::with_capacity(loaded.len());
        let policy = src.on_existing_key;
        // Keys are hashed on every core; the map is then probed once a line, in line order.
        let hashes: Vec<u64> = loaded
            .par_iter()
            .map(|(_, row)| key_hash(pk.iter().map(|&i| &row[i])))
            .collect();
        for ((n, row), h) in loaded.into_iter().zip(hashes) {
            let record = rows[n].hash as u64 ^ (rows[n].hash >> 64) as u64;
            let slot = match new.entry(h) {
                Entry::Occupied(first) => {
                    if *first.get() == record && src.dedupe_exact_lines {
                        rej.reject(
                            &rows[n],
                            None,
                            "duplicate_row",
                            format!(
                                "exact duplicate of an earlier line of this batch ({})",
                                show_key(table, &pk, &row)
                            ),
                        );
                    } else {
                        rej.reject(
                            &rows[n],
                            Some(key_field),
                            "duplicate_key",
                            format!(
                                "{} is loaded by an earlier line of this batch with other values",
                                show_key(table, &pk, &row)
                            ),
                        );
                    }
                    continue;
                }
                Entry::Vacant(slot) => slot,
            };
            if held.contains(&h) {
                if policy == ExistingKey::Replace {
                    batch
                        .replaced
                        .entry(table.name.clone())
                        .or_default()
                        .insert(h);
                } else {
                    let word = if policy == ExistingKey::Skip {
                        "skip"
                    } else {
                        "quarantine"
                    };
                    rej.reject(
                        &rows[n],
                        Some(key_field),
                        "already_loaded",
                        format!(
                            "{} is already in {} (on_existing_key = \"{word}\")",
                            show_key(table, &pk, &row),
                            table.name
                        ),
                    );
                    continue;
                }
            }
            slot.insert(record);
            kept.push(row);
        }
        Ok(kept)
    }

    /// Adds the keys a written batch loaded to the tables already indexed.
    pub fn written(&mut self, batch: BatchKeys) {
        for (table, keys) in batch.new {
            if let Some(set) = self.tables.get_mut(&table) {
                set.extend(keys.into_keys());
            }
        }
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

    #[test]
    fn pass_through_keeps_the_hash() {
        let mut set = KeySet::default();
        set.insert(42);
        assert!(set.contains(&42));
        assert!(!set.contains(&43));
    }
}
