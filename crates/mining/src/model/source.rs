//! Where model data comes from: a warehouse table or view, any SQL query over the warehouse,
//! or a CSV/Parquet file; each read records a snapshot (warehouse version or file checksum)
//! so a saved model says exactly what it learnt from.

use std::path::PathBuf;

use acrm_olap::Engine;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::csv::Writer;

use crate::{Error, Result};
use acrm_olap::Frame;

/// A data source.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    /// A query over the warehouse (a table or view is `SELECT * FROM it`).
    Sql(String),
    /// A CSV (with header) or Parquet file.
    File(PathBuf),
}

/// Rows read from a source, with where they came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The rows.
    pub frame: Frame,
    /// The same rows as read (for writing them out).
    pub batches: Vec<RecordBatch>,
    /// The query or file, as said.
    pub source: String,
    /// `warehouse v<N>` or `blake3:<hex>` of the file.
    pub snapshot: String,
}

impl Source {
    /// The rows of a table or view.
    pub fn table(name: &str) -> Self {
        Self::Sql(format!("SELECT * FROM {}", acrm_olap::mask::ident(name)))
    }

    /// Reads the rows; a query needs the warehouse `engine`.
    pub async fn load(&self, engine: Option<&Engine>) -> Result<Loaded> {
        match self {
            Self::Sql(sql) => {
                let engine = engine.ok_or_else(|| {
                    Error::Invalid("a warehouse query needs an open warehouse".into())
                })?;
                let (_, batches) = engine.query(sql).await?;
                Ok(Loaded {
                    frame: Frame::from_batches(&batches)?,
                    batches,
                    source: sql.clone(),
                    snapshot: format!("warehouse v{}", engine.version()),
                })
            }
            Self::File(path) => {
                let bytes = std::fs::read(path).map_err(|source| Error::Io {
                    path: path.clone(),
                    source,
                })?;
                let batches = acrm_olap::read_table_file(path).await?;
                Ok(Loaded {
                    frame: Frame::from_batches(&batches)?,
                    batches,
                    source: path.display().to_string(),
                    snapshot: format!("blake3:{}", blake3::hash(&bytes).to_hex()),
                })
            }
        }
    }
}

impl Loaded {
    /// Writes the rows as CSV with a header (to compare with other tools on the same data).
    pub fn write_csv(&self, path: &std::path::Path) -> Result<()> {
        let io = |source| Error::Io {
            path: path.to_path_buf(),
            source,
        };
        let file = std::fs::File::create(path).map_err(io)?;
        let mut writer = Writer::new(std::io::BufWriter::new(file));
        for batch in &self.batches {
            writer.write(batch)?;
        }
        Ok(())
    }
}
