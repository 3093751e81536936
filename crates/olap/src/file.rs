//! Tables outside the warehouse: a CSV or Parquet file an analyst points a command at
//! (`--input`), read with DataFusion like the warehouse's own files.

use std::path::Path;

use datafusion::arrow::array::RecordBatch;
use datafusion::prelude::{CsvReadOptions, ParquetReadOptions, SessionContext};

use crate::{Error, Result};

/// The rows of a CSV (with header) or Parquet file, chosen by its extension; errors name
/// the file.
pub async fn read_table_file(path: &Path) -> Result<Vec<RecordBatch>> {
    let failed = |message: String| Error::InputFile {
        path: path.to_path_buf(),
        message,
    };
    let ctx = SessionContext::new();
    let name = path.to_string_lossy();
    let df = match path.extension().and_then(|e| e.to_str()) {
        Some("parquet") => {
            ctx.read_parquet(name.as_ref(), ParquetReadOptions::default())
                .await
        }
        Some("csv") => ctx.read_csv(name.as_ref(), CsvReadOptions::new()).await,
        _ => return Err(failed("give a .csv or .parquet file".into())),
    }
    .map_err(|e| failed(e.to_string()))?;
    df.collect().await.map_err(|e| failed(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reads_csv_and_names_the_file_it_cannot_read() {
        let dir = tempfile::tempdir().expect("dir");
        let csv = dir.path().join("t.csv");
        std::fs::write(&csv, "id,x\n1,2.5\n2,3.5\n").expect("write");
        let rows: usize = read_table_file(&csv)
            .await
            .expect("csv")
            .iter()
            .map(RecordBatch::num_rows)
            .sum();
        assert_eq!(rows, 2);
        let other = dir.path().join("t.xlsx");
        let e = read_table_file(&other).await.expect_err("not csv");
        assert!(e.to_string().contains("t.xlsx: give a .csv"), "{e}");
        let missing = dir.path().join("none.parquet");
        let e = read_table_file(&missing).await.expect_err("missing");
        assert!(e.to_string().contains("none.parquet"), "{e}");
    }
}
