//! Fact lines leave memory as they are loaded: each (table, source) of a batch buffers its
//! clean lines only up to a row budget and then writes them as a part file (split by year,
//! sorted by the table's `sort_by`, like every part). A night of any size, or a first load
//! of years of history in one file, therefore holds at most one part's lines per open
//! source — memory is set by the budget, not by the size of the batch.
//!
//! Parts are named `part-<source>-<batch>-<tag>-<seq>`: `tag` is a hash of the checksums of
//! the source's files in the batch and `seq` counts the source's parts in the batch, so a
//! `--full` rebuild writes the same files under the same names as the nights it replays.
//! A full part is sorted, compressed and written on a thread of its own while the next
//! one fills.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use std::thread::JoinHandle;

use acrm_schema::TableDef;
use datafusion::arrow::array::RecordBatch;
use rayon::prelude::*;

use crate::{Error, Result};
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

/// The files of a part being sorted, compressed and written on its own thread.
type Writing = JoinHandle<Result<Vec<PathBuf>>>;

/// The fact parts of one batch, written as their lines arrive.
pub struct PartSink<'a> {
    dir: &'a Path,
    rows_per_part: usize,
    open: BTreeMap<(String, String), Pending>,
    written: HashSet<PathBuf>,
    /// The part being written while the next one fills (one at a time, so memory holds at
    /// most two parts).
    writing: Option<Writing>,
}

impl<'a> PartSink<'a> {
    /// A sink writing into version folder `dir`, `rows_per_part` lines a part at most.
    pub fn new(dir: &'a Path, rows_per_part: usize) -> Self {
        Self {
            dir,
            rows_per_part: rows_per_part.max(1),
            open: BTreeMap::new(),
            written: HashSet::new(),
            writing: None,
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
            let part = Self::take(p);
            self.write(part)?;
        }
        Ok(())
    }

    /// The buffered lines of `p` as the next part to write, if there are any.
    fn take(p: &mut Pending) -> Option<(TableDef, String, Vec<RecordBatch>)> {
        if p.rows == 0 {
            return None;
        }
        let stem = format!("{}-{:04}", p.prefix, p.seq);
        p.seq += 1;
        p.rows = 0;
        Some((p.table.clone(), stem, std::mem::take(&mut p.batches)))
    }

    /// Starts writing `part` on its own thread once the part before it is written: sorting
    /// and zstd compression run beside the staging of the next lines.
    fn write(&mut self, part: Option<(TableDef, String, Vec<RecordBatch>)>) -> Result<()> {
        self.wait()?;
        if let Some((table, stem, batches)) = part {
            let dir = self.dir.to_path_buf();
            self.writing = Some(std::thread::spawn(move || {
                write_table_part(&dir, &table, &stem, batches).map_err(Error::from)
            }));
        }
        Ok(())
    }

    /// Waits for the part being written, noting its files.
    fn wait(&mut self) -> Result<()> {
        if let Some(w) = self.writing.take() {
            // A panic while writing is a bug: it goes on as the panic it was.
            let files = w.join().unwrap_or_else(|p| std::panic::resume_unwind(p))?;
            self.written.extend(files);
        }
        Ok(())
    }

    /// Writes what is still buffered; returns every file the batch wrote (lines a batch
    /// replaces are removed from the other files only).
    pub fn finish(mut self) -> Result<HashSet<PathBuf>> {
        self.wait()?;
        // The last parts of every source at once, on every core.
        let parts: Vec<_> = self.open.values_mut().filter_map(Self::take).collect();
        let dir = self.dir;
        let files = parts
            .into_par_iter()
            .map(|(table, stem, batches)| {
                write_table_part(dir, &table, &stem, batches).map_err(Error::from)
            })
            .collect::<Result<Vec<_>>>()?;
        self.written.extend(files.into_iter().flatten());
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
        sink.push(table, "pos", false, prefix, rows(table, "pos"))
            .expect("push");
        let written = sink.finish().expect("finish");
        assert_eq!(written.len(), 2);
        assert_eq!(
            names(dir.path(), &table.name),
            [
                format!("{prefix}-0000.parquet"),
                format!("{prefix}-0001.parquet")
            ]
        );
        let rows_of = |seq: usize| {
            let f = dir
                .path()
                .join(&table.name)
                .join(format!("{prefix}-{seq:04}.parquet"));
            parquet_rows(&f).expect("rows")
        };
        assert_eq!(
            (rows_of(0), rows_of(1)),
            (6, 3),
            "a part once full, the rest at the end; every line once"
        );
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
