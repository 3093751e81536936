//! Readers for CSV, JSON-lines and Parquet exports. Each yields rows with their line number,
//! the cells of the canonical fields (borrowed where possible) and a hash of the whole raw
//! record, or a malformed-row notice. Delimited files are read by polars after a first pass
//! that finds lines and malformed records ([`crate::frames`]); JSON lines and Parquet are
//! read here (moving them to polars is the next step of the columnar build).

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::sync::Arc;

use datafusion::arrow::array::{Array, AsArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use rayon::prelude::*;

use crate::config::{Format, SourceConfig};
use crate::jsonrow::JsonFields;
use crate::record::{
    CHUNK_ROWS, Event, Malformed, OnChunk, Raw, RawSource, Row, Slot, hash128, open_text, slots,
};
use crate::{Error, Result};

/// Reads `path` as a file of `src`, calling `on` with every chunk of rows (malformed records
/// in their place, in file order) and `progress` with bytes read; a delimited file may need
/// a clean copy, written into folder `work` and removed after.
pub fn read_file(
    src: &SourceConfig,
    path: &Path,
    work: &Path,
    on: &mut OnChunk<'_>,
    progress: &mut dyn FnMut(u64),
) -> Result<()> {
    match src.format {
        Format::Csv => crate::frames::read_csv(src, path, work, on, progress),
        Format::Jsonl => read_jsonl(src, path, on, progress),
        Format::Parquet => read_parquet(src, path, on),
    }
}

/// The lines of a JSON-lines file read as one chunk.
struct JsonLines(Vec<(u64, Vec<u8>)>);

impl RawSource for JsonLines {
    fn text(&self, row: usize) -> String {
        self.0
            .get(row)
            .map(|(_, bytes)| String::from_utf8_lossy(bytes).trim().to_string())
            .unwrap_or_default()
    }
}

/// The event of JSON line `line` with bytes `bytes` (`None` for a blank line); `raw` is the
/// line as the quarantine keeps it.
fn json_event<'a>(
    fields: &'a JsonFields<'a>,
    line: u64,
    bytes: &'a [u8],
    raw: impl FnOnce() -> Raw,
) -> Option<Event<'a>> {
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t.trim(),
        Err(_) => {
            return Some(Event::Malformed(Malformed {
                line,
                code: "encoding",
                message: "invalid UTF-8 (set `encoding` for this source?)".into(),
                raw: String::from_utf8_lossy(bytes).trim().to_string(),
            }));
        }
    };
    if text.is_empty() {
        return None;
    }
    let cells = match fields.cells(text) {
        Ok(Some(cells)) => cells,
        Ok(None) => {
            return Some(Event::Malformed(Malformed {
                line,
                code: "malformed_row",
                message: "expected a JSON object".into(),
                raw: text.into(),
            }));
        }
        Err(e) => {
            return Some(Event::Malformed(Malformed {
                line,
                code: "malformed_row",
                message: format!("invalid JSON: {e}"),
                raw: text.into(),
            }));
        }
    };
    Some(Event::Row(Row {
        line,
        cells,
        hash: hash128([text.as_bytes()]),
        raw: raw(),
    }))
}

/// JSON lines: a chunk of lines is read, then parsed on every core.
fn read_jsonl(
    src: &SourceConfig,
    path: &Path,
    on: &mut OnChunk<'_>,
    progress: &mut dyn FnMut(u64),
) -> Result<()> {
    let (text, consumed) = open_text(src, path)?;
    let mut rdr = BufReader::with_capacity(1 << 20, text);
    let mut line = 0u64;
    loop {
        let mut lines: Vec<(u64, Vec<u8>)> = Vec::with_capacity(CHUNK_ROWS);
        while lines.len() < CHUNK_ROWS {
            let mut buf = Vec::new();
            let n = rdr
                .read_until(b'\n', &mut buf)
                .map_err(|source| Error::Io {
                    path: path.into(),
                    source,
                })?;
            if n == 0 {
                break;
            }
            line += 1;
            progress(consumed.take());
            lines.push((line, buf));
        }
        if lines.is_empty() {
            return Ok(());
        }
        let lines = Arc::new(JsonLines(lines));
        let chunk: Arc<dyn RawSource> = lines.clone();
        let fields = JsonFields::new(src);
        let events: Vec<Event<'_>> = lines
            .0
            .par_iter()
            .enumerate()
            .filter_map(|(i, (line, bytes))| {
                json_event(&fields, *line, bytes, || Raw::Row(Arc::clone(&chunk), i))
            })
            .collect();
        on(events)?;
    }
}

fn read_parquet(src: &SourceConfig, path: &Path, on: &mut OnChunk<'_>) -> Result<()> {
    let f = File::open(path).map_err(|source| Error::Io {
        path: path.into(),
        source,
    })?;
    let pq = |source| Error::Parquet {
        path: path.into(),
        source,
    };
    let reader = ParquetRecordBatchReaderBuilder::try_new(f)
        .map_err(pq)?
        .with_batch_size(CHUNK_ROWS)
        .build()
        .map_err(pq)?;
    let mut line = 0u64;
    for batch in reader {
        let batch = batch?;
        let header: Vec<String> = batch
            .schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        let slots = slots(src, path, &header)?;
        let texts = slots
            .iter()
            .map(|s| match s {
                Slot::Column(i) => cast(batch.column(*i), &DataType::Utf8).map(Some),
                _ => Ok(None),
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let mut events = Vec::with_capacity(batch.num_rows());
        for r in 0..batch.num_rows() {
            line += 1;
            let cells: Vec<Option<Cow<'_, str>>> = slots
                .iter()
                .zip(&texts)
                .map(|(s, t)| match (s, t) {
                    (Slot::Constant(c), _) => Some(Cow::Borrowed(c.as_str())),
                    (_, Some(a)) if !a.is_null(r) => {
                        Some(Cow::Borrowed(a.as_string::<i32>().value(r)))
                    }
                    _ => None,
                })
                .collect();
            let hash = hash128(
                cells
                    .iter()
                    .map(|c| c.as_deref().unwrap_or("\u{0}").as_bytes()),
            );
            let raw = cells
                .iter()
                .map(|c| c.as_deref().unwrap_or(""))
                .collect::<Vec<_>>()
                .join(",");
            events.push(Event::Row(Row {
                line,
                cells,
                hash,
                raw: Raw::Text(raw),
            }));
        }
        on(events)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The lines `read_file` reports for `text` read as a CSV export, rows and malformed.
    fn lines_of(text: &[u8]) -> Vec<(u64, bool)> {
        let dir = tempfile::tempdir().expect("temp dir");
        let cfg = crate::BuildConfig::parse(
            &dir.path().join("acrm.toml"),
            "[[source]]\nname = \"t\"\nentity = \"product\"\npath = \"p.csv\"\n[source.columns]\nsku = \"sku\"\nproduct_name = \"name\"\n",
        )
        .expect("config");
        let path = dir.path().join("p.csv");
        std::fs::write(&path, text).expect("write");
        let mut seen = Vec::new();
        read_file(
            &cfg.sources[0],
            &path,
            dir.path(),
            &mut |events| {
                seen.extend(events.into_iter().map(|ev| match ev {
                    Event::Row(r) => (r.line, true),
                    Event::Malformed(m) => (m.line, false),
                }));
                Ok(())
            },
            &mut |_| {},
        )
        .expect("read");
        seen
    }

    #[test]
    fn lines_are_counted_alike_with_lf_and_crlf_endings() {
        let lf = b"sku,name\nA,Beer\n\"B\",\"Dia\npers\"\nC\nD,Milk";
        let expected = [(2, true), (3, true), (5, false), (6, true)];
        assert_eq!(lines_of(lf), expected);
        let crlf: Vec<u8> = String::from_utf8_lossy(lf)
            .replace('\n', "\r\n")
            .into_bytes();
        assert_eq!(lines_of(&crlf), expected, "CRLF");
        let bom: Vec<u8> = [b"\xef\xbb\xbf".as_slice(), &crlf].concat();
        assert_eq!(lines_of(&bom), expected, "BOM");
    }

    #[test]
    fn an_empty_file_has_no_rows() {
        assert!(lines_of(b"").is_empty());
        assert!(lines_of(b"\xef\xbb\xbf").is_empty());
        assert!(lines_of(b"sku,name\r\n").is_empty());
    }
}
