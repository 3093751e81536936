//! Fact lines leave memory as they are loaded: each (table, source) of a batch buffers its
//! clean lines only up to a row budget and then writes them as a part file (split by year,
//! sorted by the table's `sort_by`, like every part). A night of any size, or a first load
//! of years of history in one file, therefore holds at most one part's lines per open
//! source — memory is set by the budget, not by the size of the batch.
//!
//! Parts are named `part-<source>-<batch>-<tag>-<seq>`: `tag` is a hash of the checksums of
//! the source's files in the batch and `seq` counts the source's parts in the batch, so a
//! `--full` rebuild writes the same files under the same names as the nights it replays.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use acrm_schema::TableDef;
use datafusion::arrow::array::RecordBatch;

use crate::Result;
use acrm_store::layout::{remove_source_parts, write_table_part};

/// Bytes a fact line is reckoned to take while it waits in a part's buffer (Arrow arrays of
/// about fifteen columns, a few of them short strings), to turn a memory budget into rows.
const BYTES_PER_LINE: usize = 256;

/// Rows per part for a budget of `memory_mib`: an eighth of the budget goes to part
/// buffers (two sources are rarely open at once; the rest is for polars' chunks, the
/// lookups and the key index), never under 64 Ki rows (tiny files hurt every scan) nor
/// over the Parquet row group.
pub fn rows_per_part(memory_mib: usize) -> usize {
    (memory_mib.saturating_mul(1 << 20) / 8 / BYTES_PER_LINE)
        .clamp(1 << 16, acrm_store::parquet::ROW_GROUP_ROWS)
}

/// Lines of one (table, source) waiting to be written.
struct Pending {
    table: TableDef,
    /// File stem before the sequence number.
    prefix: String,
    batches: Vec<RecordBatch>,
    rows: usize,
    /// Parts written so far.
    seq: usize,
}

/// The fact parts of one batch, written as their lines arrive.
pub struct PartSink<'a> {
    dir: &'a Path,
    rows_per_part: usize,
    open: BTreeMap<(String, String), Pending>,
    written: HashSet<PathBuf>,
}

impl<'a> PartSink<'a> {
    /// A sink writing into version folder `dir`, `rows_per_part` lines a part at most.
    pub fn new(dir: &'a Path, rows_per_part: usize) -> Self {
        Self {
            dir,
            rows_per_part: rows_per_part.max(1),
            open: BTreeMap::new(),
            written: HashSet::new(),
        }
    }

    /// Adds `batch` of `table` from `source`, whose parts are named `prefix-<seq>`. The first
    /// call for a snapshot source removes the parts it wrote in earlier batches (its new
    /// export replaces them), even when this one brings no lines.
    pub fn push(
        &mut self,
        table: &TableDef,
        source: &str,
        snapshot: bool,
        prefix: &str,
        batch: RecordBatch,
    ) -> Result<()> {
        let key = (table.name.clone(), source.to_string());
        if !self.open.contains_key(&key) {
            if snapshot {
                remove_source_parts(self.dir, &table.name, source)?;
            }
            self.open.insert(
                key.clone(),
                Pending {
                    table: table.clone(),
                    prefix: prefix.to_string(),
                    batches: Vec::new(),
                    rows: 0,
                    seq: 0,
                },
            );
        }
        let Some(p) = self.open.get_mut(&key) else {
            return Ok(());
        };
        p.rows += batch.num_rows();
        p.batches.push(batch);
        if p.rows >= self.rows_per_part {
            Self::flush(self.dir, p, &mut self.written)?;
        }
        Ok(())
    }

    fn flush(dir: &Path, p: &mut Pending, written: &mut HashSet<PathBuf>) -> Result<()> {
        if p.rows == 0 {
            return Ok(());
        }
        let stem = format!("{}-{:04}", p.prefix, p.seq);
        written.extend(write_table_part(dir, &p.table, &stem, &p.batches)?);
        p.seq += 1;
        p.batches.clear();
        p.rows = 0;
        Ok(())
    }

    /// Writes what is still buffered; returns every file the batch wrote (lines a batch
    /// replaces are removed from the other files only).
    pub fn finish(mut self) -> Result<HashSet<PathBuf>> {
        for p in self.open.values_mut() {
            Self::flush(self.dir, p, &mut self.written)?;
        }
        Ok(self.written)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::{Value, rows_to_batch};
    use acrm_schema::WarehouseSchema;
    use acrm_store::parquet::{parquet_files, parquet_rows};

    /// Three audit rows of `source` as one batch.
    fn rows(table: &TableDef, source: &str) -> RecordBatch {
        let rows: Vec<Vec<Value>> = (0..3)
            .map(|i| {
                vec![
                    Value::Date(20_000),
                    Value::Str(source.into()),
                    Value::Str(format!("f{i}.csv").into()),
                    Value::Str("c".into()),
                    Value::Int(1),
                    Value::Int(1),
                    Value::Int(0),
                ]
            })
            .collect();
        rows_to_batch(table, &rows).expect("audit rows")
    }

    fn names(dir: &Path, table: &str) -> Vec<String> {
        let mut n: Vec<String> = parquet_files(&dir.join(table))
            .expect("list parts")
            .iter()
            .map(|f| {
                f.file_name()
                    .expect("file name")
                    .to_string_lossy()
                    .to_string()
            })
            .collect();
        n.sort();
        n
    }

    #[test]
    fn lines_are_written_once_a_part_is_full_and_the_rest_at_the_end() {
        let dir = tempfile::tempdir().expect("temp dir");
        let schema = WarehouseSchema::builtin().expect("schema");
        let table = schema.table("etl_load_audit").expect("audit table");
        let prefix = "part-pos-2024-01-02-aaaa";
        let mut sink = PartSink::new(dir.path(), 5);
        sink.push(table, "pos", false, prefix, rows(table, "pos"))
            .expect("push");
        assert!(names(dir.path(), &table.name).is_empty(), "3 of 5: held");
        sink.push(table, "pos", false, prefix, rows(table, "pos"))
            .expect("push");
        assert_eq!(
            names(dir.path(), &table.name),
            [format!("{prefix}-0000.parquet")]
        );
        sink.push(table, "pos", false, prefix, rows(table, "pos"))
            .expect("push");
        let written = sink.finish().expect("finish");
        assert_eq!(written.len(), 2);
        let files = parquet_files(&dir.path().join(&table.name)).expect("push");
        let total: u64 = files.iter().map(|f| parquet_rows(f).expect("rows")).sum();
        assert_eq!(total, 9, "every line written, none twice");
    }

    #[test]
    fn a_snapshot_source_clears_its_earlier_parts_once_and_no_one_elses() {
        let dir = tempfile::tempdir().expect("temp dir");
        let schema = WarehouseSchema::builtin().expect("schema");
        let table = schema.table("etl_load_audit").expect("audit table");
        let mut night1 = PartSink::new(dir.path(), 100);
        night1
            .push(
                table,
                "ar",
                true,
                "part-ar-2024-01-01-aaaa",
                rows(table, "ar"),
            )
            .expect("push");
        night1
            .push(
                table,
                "ar-web",
                true,
                "part-ar-web-2024-01-01-bbbb",
                rows(table, "ar-web"),
            )
            .expect("push");
        night1.finish().expect("finish");
        let mut night2 = PartSink::new(dir.path(), 4);
        for _ in 0..3 {
            night2
                .push(
                    table,
                    "ar",
                    true,
                    "part-ar-2024-01-02-cccc",
                    rows(table, "ar"),
                )
                .expect("push");
        }
        night2.finish().expect("finish");
        assert_eq!(
            names(dir.path(), &table.name),
            [
                "part-ar-2024-01-02-cccc-0000.parquet",
                "part-ar-2024-01-02-cccc-0001.parquet",
                "part-ar-web-2024-01-01-bbbb-0000.parquet",
            ],
            "night 1 of `ar` gone, night 2's first part kept when its second was written"
        );
    }

    #[test]
    fn the_budget_sets_the_part_size_within_bounds() {
        assert_eq!(rows_per_part(2048), 1 << 20);
        assert_eq!(rows_per_part(512), 1 << 18);
        assert_eq!(rows_per_part(1), 1 << 16, "never tiny parts");
        assert_eq!(rows_per_part(1 << 20), acrm_store::parquet::ROW_GROUP_ROWS);
    }
}
