//! How acrm writes Parquet: zstd level 3, page-level statistics (for pruning), 1M-row groups,
//! every file synced before its version is published; and the few reads the store needs.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use datafusion::arrow::array::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};

use crate::{Error, Result, io};

/// Rows per Parquet row group: large enough for scans, small enough for pruning by statistics.
pub const ROW_GROUP_ROWS: usize = 1 << 20;

/// Writes `batches` (sharing one schema) to a new Parquet file: zstd, page statistics, 1M-row groups.
pub fn write_parquet(path: &Path, batches: &[RecordBatch]) -> Result<u64> {
    let Some(first) = batches.first() else {
        return Ok(0);
    };
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).unwrap_or_default()))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_created_by("acrm".into())
        .build();
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
