//! How acrm writes Parquet: zstd level 3, page-level statistics (for pruning), 1M-row groups,
//! bloom filters on a table's point-lookup keys, every file synced before its version is
//! published; and the few reads the store needs.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use datafusion::arrow::array::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};
use datafusion::parquet::schema::types::ColumnPath;

use crate::{Error, Result, io};

/// Rows per Parquet row group: large enough for scans, small enough for pruning by statistics.
pub const ROW_GROUP_ROWS: usize = 1 << 20;

/// False-positive rate of the bloom filters: 1% keeps a filter near 10 bits per distinct
/// value (about 1.2 MB for a row group of a million distinct order ids) while a lookup
/// skips 99% of the row groups that do not hold its value.
const BLOOM_FPP: f64 = 0.01;

/// Writes `batches` (sharing one schema) to a new Parquet file: zstd, page statistics, 1M-row
/// groups, a bloom filter per row group for each column of `bloom_filter` (the table's
/// point-lookup keys; columns the file does not have are skipped).
pub fn write_parquet(path: &Path, batches: &[RecordBatch], bloom_filter: &[String]) -> Result<u64> {
    let Some(first) = batches.first() else {
        return Ok(0);
    };
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let mut props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).unwrap_or_default()))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_created_by("acrm".into());
    for column in bloom_filter {
        if first.schema().column_with_name(column).is_some() {
            let column = ColumnPath::from(column.as_str());
            // Sized for a row group's rows (every value distinct); the writer folds each
            // filter down to the distinct values it saw.
            let ndv = rows.clamp(1, ROW_GROUP_ROWS) as u64;
            props = props
                .set_column_bloom_filter_enabled(column.clone(), true)
                .set_column_bloom_filter_fpp(column.clone(), BLOOM_FPP)
                .set_column_bloom_filter_max_ndv(column, ndv);
        }
    }
    let props = props.build();
    let file = File::create(path).map_err(io(path))?;
    let pq = |source| Error::Parquet {
        path: path.into(),
        source,
    };
    let mut w = ArrowWriter::try_new(file, first.schema(), Some(props)).map_err(pq)?;
    let mut rows = 0;
    for b in batches {
        w.write(b).map_err(pq)?;
        rows += b.num_rows() as u64;
    }
    let file = w.into_inner().map_err(pq)?;
    file.sync_all().map_err(io(path))?;
    crate::crash::point("parquet:written");
    Ok(rows)
}

/// Reads every row of a Parquet file.
pub fn read_parquet(path: &Path) -> Result<Vec<RecordBatch>> {
    let f = File::open(path).map_err(io(path))?;
    let pq = |source| Error::Parquet {
        path: path.into(),
        source,
    };
    let reader = ParquetRecordBatchReaderBuilder::try_new(f)
        .map_err(pq)?
        .build()
        .map_err(pq)?;
    Ok(reader.collect::<std::result::Result<Vec<_>, _>>()?)
}

/// Row count of a Parquet file from its footer.
pub fn parquet_rows(path: &Path) -> Result<u64> {
    let f = File::open(path).map_err(io(path))?;
    let b = ParquetRecordBatchReaderBuilder::try_new(f).map_err(|source| Error::Parquet {
        path: path.into(),
        source,
    })?;
    Ok(b.metadata().file_metadata().num_rows() as u64)
}

/// Rows of every Parquet file below `dir`, from their footers (0 when there is no folder).
pub fn folder_rows(dir: &Path) -> Result<u64> {
    let mut rows = 0;
    for f in parquet_files(dir)? {
        rows += parquet_rows(&f)?;
    }
    Ok(rows)
}

/// Every `.parquet` file below `dir`, sorted.
pub fn parquet_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    if !dir.is_dir() {
        return Ok(out);
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).map_err(io(&d))? {
            let p = e.map_err(io(&d))?.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet") {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Hard-links every file below `from` into the same place below `to`.
pub fn link_tree(from: &Path, to: &Path) -> Result<()> {
    for f in parquet_files(from)? {
        let rel = f.strip_prefix(from).map_err(|_| Error::Warehouse {
            path: f.clone(),
            message: "outside its table".into(),
        })?;
        let dst = to.join(rel);
        if let Some(p) = dst.parent() {
            fs::create_dir_all(p).map_err(io(p))?;
        }
        fs::hard_link(&f, &dst)
            .or_else(|_| fs::copy(&f, &dst).map(|_| ()))
            .map_err(io(&dst))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::parquet::bloom_filter::Sbbf;
    use datafusion::parquet::file::properties::ReaderProperties;
    use datafusion::parquet::file::reader::{FileReader, SerializedFileReader};
    use datafusion::parquet::file::serialized_reader::ReadOptionsBuilder;

    use super::*;

    fn orders(n: i64) -> RecordBatch {
        let schema = Schema::new(vec![
            Field::new("order_id", DataType::Utf8, false),
            Field::new("customer_id", DataType::Int64, false),
        ]);
        RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(StringArray::from_iter_values(
                    (0..n).map(|i| format!("O{i:08}")),
                )),
                Arc::new(Int64Array::from_iter_values((0..n).map(|i| i % 97))),
            ],
        )
        .expect("batch")
    }

    /// (column name, bloom filter) of each column chunk of the file's first row group.
    fn blooms(path: &Path) -> Vec<(String, Option<Sbbf>)> {
        let options = ReadOptionsBuilder::new().with_reader_properties(
            ReaderProperties::builder()
                .set_read_bloom_filter(true)
                .build(),
        );
        let reader = SerializedFileReader::new_with_options(
            File::open(path).expect("open"),
            options.build(),
        )
        .expect("reader");
        let group = reader.get_row_group(0).expect("row group");
        let schema = reader.metadata().file_metadata().schema_descr_ptr();
        (0..schema.num_columns())
            .map(|i| {
                (
                    schema.column(i).name().to_string(),
                    group.get_column_bloom_filter(i).cloned(),
                )
            })
            .collect()
    }

    #[test]
    fn lookup_keys_get_bloom_filters_that_tell_absent_values() {
        let dir = tempfile::tempdir().expect("tmp");
        let path = dir.path().join("t/part-0.parquet");
        let keys = vec!["order_id".to_string(), "not_in_file".to_string()];
        assert_eq!(
            write_parquet(&path, &[orders(5_000)], &keys).expect("write"),
            5_000
        );
        let found = blooms(&path);
        let (_, order_bloom) = found
            .iter()
            .find(|(c, _)| c == "order_id")
            .expect("order_id");
        let bloom = order_bloom
            .as_ref()
            .expect("order_id carries a bloom filter");
        for i in [0, 17, 4_999] {
            assert!(
                bloom.check(&format!("O{i:08}").as_str()),
                "O{i:08} is in the file"
            );
        }
        let false_hits = (5_000..15_000)
            .filter(|i| bloom.check(&format!("O{i:08}").as_str()))
            .count();
        assert!(
            false_hits < 300,
            "{false_hits} of 10,000 absent ids pass the filter"
        );
        let (_, customer_bloom) = found.iter().find(|(c, _)| c == "customer_id").expect("col");
        assert!(customer_bloom.is_none(), "only the named columns carry one");

        let plain = dir.path().join("plain.parquet");
        write_parquet(&plain, &[orders(10)], &[]).expect("write");
        assert!(blooms(&plain).iter().all(|(_, b)| b.is_none()));
        assert_eq!(read_parquet(&plain).expect("read")[0], orders(10));
    }
}
