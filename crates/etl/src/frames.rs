//! Delimited exports read by polars: after [`crate::scan`] has found the header, the
//! malformed records and every row's line, polars' streaming engine parses the good records
//! as text (every column a string, so nothing is guessed) in parallel, in chunks, on its own
//! threads, while the build stages the chunks it has already received — reading is no longer
//! on the build's thread. Row `i` of polars is row `i` of the scan; the row counts are checked.

use std::borrow::Cow;
use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, sync_channel};

use polars::prelude::*;
use rayon::prelude::*;

use crate::config::SourceConfig;
use crate::record::{CHUNK_ROWS, Event, OnChunk, Raw, RawSource, Row, Slot, hash128, slots};
use crate::scan::{Scan, scan_csv};
use crate::{Error, Result};

/// Name of the row-number column polars adds.
const ROW: &str = "__acrm_row";

fn polars_err(path: &Path) -> impl Fn(PolarsError) -> Error + '_ {
    move |e| Error::Input {
        path: path.into(),
        message: format!("reading with polars: {e}"),
    }
}

/// Chunks of the export's good records, parsed by polars on its own thread: the row number
/// column, then every column of the file as text.
fn chunks(src: &SourceConfig, scan: &Scan) -> Result<Receiver<PolarsResult<DataFrame>>> {
    let path = scan.path();
    let err = polars_err(path);
    let file = PlRefPath::try_from_path(path).map_err(&err)?;
    let lf = LazyCsvReader::new(file)
        .with_glob(false)
        .with_has_header(src.has_header)
        .with_separator(src.delimiter)
        .with_quote_char(Some(b'"'))
        .with_eol_char(b'\n')
        .with_infer_schema_length(Some(0))
        .with_missing_is_null(false)
        .with_raise_if_empty(false)
        .with_row_index(Some(RowIndex {
            name: ROW.into(),
            offset: 0,
        }))
        .finish()
        .map_err(&err)?;
    // One chunk in flight: polars parses the next while the build stages this one.
    let (send, recv) = sync_channel::<PolarsResult<DataFrame>>(1);
    let on_error = send.clone();
    let plan = lf
        .sink_batches(
            PlanCallback::new(move |df| Ok(send.send(Ok(df)).is_err())),
            true,
            NonZeroUsize::new(CHUNK_ROWS),
        )
        .map_err(&err)?;
    std::thread::spawn(move || {
        if let Err(e) = plan.collect_with_engine(Engine::Streaming) {
            let _ = on_error.send(Err(e));
        }
    });
    Ok(recv)
}

/// The text columns of one chunk polars parsed: the records of rows that are rejected are
/// rebuilt from them.
struct TextChunk {
    columns: Vec<StringChunked>,
    delimiter: String,
}

impl RawSource for TextChunk {
    fn text(&self, row: usize) -> String {
        let fields: Vec<&str> = self
            .columns
            .iter()
            .map(|c| c.get(row).unwrap_or(""))
            .collect();
        let mut text = fields.join(&self.delimiter);
        if text.ends_with('\r') {
            text.pop();
        }
        text
    }
}

/// Reads CSV export `path` of `src` (scanned first, a clean copy written into `work` when one
/// is needed), calling `on` with every chunk of rows, malformed records in their place.
pub fn read_csv(
    src: &SourceConfig,
    path: &Path,
    work: &Path,
    on: &mut OnChunk<'_>,
    progress: &mut dyn FnMut(u64),
) -> Result<()> {
    let scan = scan_csv(src, path, work, progress)?;
    // Malformed records are handed over in their place in the file, before the first row
    // after them.
    let mut malformed = scan.malformed.iter().cloned().peekable();
    let result = read_rows(src, path, &scan, &mut |rows| {
        let mut events = Vec::with_capacity(rows.len());
        for row in rows {
            while let Some(m) = malformed.next_if(|m| m.line < row.line) {
                events.push(Event::Malformed(m));
            }
            events.push(Event::Row(row));
        }
        on(events)
    });
    let rest: Vec<Event<'_>> = malformed.map(Event::Malformed).collect();
    if !rest.is_empty() {
        on(rest)?;
    }
    result
}

/// Calls `on` with every chunk of good rows of `scan`, each chunk's rows built on every core.
fn read_rows(
    src: &SourceConfig,
    path: &Path,
    scan: &Scan,
    on: &mut dyn FnMut(Vec<Row<'_>>) -> Result<()>,
) -> Result<()> {
    if scan.header.is_empty() {
        return Ok(()); // an empty file
    }
    let slots = slots(src, path, &scan.header)?;
    if scan.rows == 0 {
        return Ok(());
    }
    let err = polars_err(path);
    let delim = char::from(src.delimiter).to_string();
    let mut read = 0u64;
    for chunk in chunks(src, scan)? {
        let df = chunk.map_err(&err)?;
        let rows = df
            .column(ROW)
            .and_then(|c| c.cast(&DataType::UInt64))
            .map_err(&err)?;
        let rows: Vec<u64> = rows.u64().map_err(&err)?.iter().flatten().collect();
        let texts: Vec<StringChunked> = df
            .columns()
            .iter()
            .filter(|c| c.name().as_str() != ROW)
            .map(|c| c.str().cloned())
            .collect::<PolarsResult<_>>()
            .map_err(&err)?;
        if texts.len() != scan.header.len() || rows.len() != df.height() {
            return Err(Error::Input {
                path: path.into(),
                message: format!(
                    "polars found {} columns and {} row numbers where the header has {} columns and the chunk {} rows",
                    texts.len(),
                    rows.len(),
                    scan.header.len(),
                    df.height()
                ),
            });
        }
        let columns: Vec<Vec<&str>> = texts
            .iter()
            .map(|t| t.iter().map(|v| v.unwrap_or("")).collect())
            .collect();
        let chunk: Arc<dyn RawSource> = Arc::new(TextChunk {
            columns: texts.clone(),
            delimiter: delim.clone(),
        });
        let last = columns.len().saturating_sub(1);
        let built: Vec<Row<'_>> = rows
            .par_iter()
            .enumerate()
            .map(|(i, &row)| {
                // polars ends records at LF: the CR of a CRLF line stays on its last field.
                let field = |c: usize| -> &str {
                    let f = columns[c][i];
                    if c == last {
                        f.strip_suffix('\r').unwrap_or(f)
                    } else {
                        f
                    }
                };
                let cells = slots
                    .iter()
                    .map(|s| match s {
                        Slot::None => None,
                        Slot::Column(c) => Some(Cow::Borrowed(field(*c))),
                        Slot::Constant(c) => Some(Cow::Borrowed(c.as_str())),
                    })
                    .collect();
                Row {
                    line: scan.line(row),
                    cells,
                    hash: hash128((0..columns.len()).map(|c| field(c).as_bytes())),
                    raw: Raw::Row(Arc::clone(&chunk), i),
                }
            })
            .collect();
        read += built.len() as u64;
        on(built)?;
    }
    if read != scan.rows {
        return Err(Error::Input {
            path: path.into(),
            message: format!(
                "polars read {read} rows where the first pass found {}; the file's quoting is not understood alike",
                scan.rows
            ),
        });
    }
    Ok(())
}
