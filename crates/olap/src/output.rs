//! Query results written for people (an aligned table, [`crate::human_table`]) or programs
//! (CSV with a header, a JSON array of objects, Parquet).

use std::io::Write;

use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::parquet::arrow::ArrowWriter;

use crate::Result;

/// Output format of query results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// Aligned text table, for people.
    Table,
    /// Comma-separated values with a header row.
    Csv,
    /// One JSON array of row objects.
    Json,
    /// Apache Parquet (binary: write it to a file).
    Parquet,
}

/// Writes `batches` (with `schema`, so an empty result still shows its columns) to `out`.
pub fn write_results(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    format: OutputFormat,
    out: &mut dyn Write,
) -> Result<()> {
    let io = |source| crate::Error::Io {
        path: "<output>".into(),
        source,
    };
    match format {
        OutputFormat::Table => {
            let text = crate::human_table(schema, batches, None)?;
            writeln!(out, "{text}").map_err(io)?;
        }
        OutputFormat::Csv => {
            if batches.iter().all(|b| b.num_rows() == 0) {
                let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
                writeln!(out, "{}", names.join(",")).map_err(io)?;
            } else {
                let mut w = datafusion::arrow::csv::WriterBuilder::new()
                    .with_header(true)
                    .build(&mut *out);
                for b in batches {
                    w.write(b)?;
                }
            }
        }
        OutputFormat::Json => {
            let mut w = datafusion::arrow::json::ArrayWriter::new(&mut *out);
            for b in batches {
                w.write(b)?;
            }
            w.finish()?;
            if batches.iter().all(|b| b.num_rows() == 0) {
                write!(out, "[]").map_err(io)?;
            }
            writeln!(out).map_err(io)?;
        }
        OutputFormat::Parquet => {
            let mut buf = Vec::new();
            let mut w = ArrowWriter::try_new(&mut buf, schema.clone(), None)
                .map_err(|e| datafusion::error::DataFusionError::ParquetError(Box::new(e)))?;
            for b in batches {
                w.write(b)
                    .map_err(|e| datafusion::error::DataFusionError::ParquetError(Box::new(e)))?;
            }
            w.close()
                .map_err(|e| datafusion::error::DataFusionError::ParquetError(Box::new(e)))?;
            out.write_all(&buf).map_err(io)?;
        }
    }
    Ok(())
}
