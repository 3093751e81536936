//! Staging: read a file, type and cleanse every canonical field, drop exact duplicates, and
//! hand chunks of clean rows to the entity's loader. Every row read ends up either loaded
//! (the loader says so) or in the quarantine with a reason; the counts are checked.

use std::collections::HashSet;
use std::path::Path;

use acrm_schema::EntityDef;

use crate::config::{FieldSource, SourceConfig};
use crate::parse::parse_cell;
use crate::read::read_file;
use crate::record::Event;
use crate::value::Value;
use crate::{Error, Result};

/// Rows handed to a loader at a time (bounds memory on files of any size).
const CHUNK_ROWS: usize = 65_536;

/// Longest raw record kept in the quarantine; a longer one is cut there (with its length
/// said), so one 10 MB field cannot bloat the quarantine table.
const MAX_RAW_BYTES: usize = 4096;

/// `raw` cut to [`MAX_RAW_BYTES`] at a character boundary, saying how long it was.
pub fn clip_raw(raw: &str) -> String {
    if raw.len() <= MAX_RAW_BYTES {
        return raw.to_string();
    }
    let mut end = MAX_RAW_BYTES;
    while !raw.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes in all)", &raw[..end], raw.len())
}

/// A rejected input row.
#[derive(Debug, Clone)]
pub struct Rejected {
    /// Source name.
    pub source: String,
    /// File relative to the config.
    pub file: String,
    /// Line in the file.
    pub line: u64,
    /// Source column at fault.
    pub column: Option<String>,
    /// Machine-readable reason.
    pub code: &'static str,
    /// Human-readable reason.
    pub reason: String,
    /// The row as read.
    pub raw: String,
}

/// A typed, cleansed row.
pub struct Staged {
    /// Line in the file.
    pub line: u64,
    /// Values of the canonical fields, in the entity's order.
    pub values: Vec<Value>,
    /// The row as read.
    pub raw: String,
}

/// Per-file reconciliation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FileCounts {
    /// Data rows read.
    pub read: u64,
    /// Rows loaded.
    pub loaded: u64,
    /// Rows quarantined.
    pub quarantined: u64,
}

/// Lets a loader reject rows with the source's own column names.
pub struct Rejector<'a> {
    src: &'a SourceConfig,
    def: &'a EntityDef,
    file: &'a str,
    /// Rows rejected so far in this file.
    pub rejected: Vec<Rejected>,
}

impl Rejector<'_> {
    /// Rejects `row` because of canonical field `field` (or the row as a whole).
    pub fn reject(
        &mut self,
        row: &Staged,
        field: Option<&str>,
        code: &'static str,
        reason: String,
    ) {
        let column = field.map(|f| self.column_name(f));
        let reason = match &column {
            Some(c) => format!("column '{c}': {reason}"),
            None => reason,
        };
        self.rejected.push(Rejected {
            source: self.src.name.clone(),
            file: self.file.to_string(),
            line: row.line,
            column,
            code,
            reason,
            raw: clip_raw(&row.raw),
        });
    }

    /// The source's name for canonical field `field`.
    pub fn column_name(&self, field: &str) -> String {
        match self.def.index_of(field).map(|i| &self.src.fields[i]) {
            Some(FieldSource::Column(c)) => c.clone(),
            Some(FieldSource::Constant(_)) => format!("{field} (constant)"),
            _ => field.to_string(),
        }
    }
}

/// Loads the rows of one chunk; returns how many it loaded (the rest it rejected).
pub type Loader<'l> = dyn FnMut(Vec<Staged>, &mut Rejector<'_>) -> Result<u64> + 'l;

/// Stages file `path` (shown as `rel`) of source `src` and feeds `loader`; `work` is a folder
/// for a clean copy of the file, if reading needs one. `seen` holds the hashes of rows
/// already loaded from this source in this batch.
#[allow(clippy::too_many_arguments)]
pub fn stage_file(
    src: &SourceConfig,
    def: &EntityDef,
    country: &str,
    path: &Path,
    rel: &str,
    work: &Path,
    seen: &mut HashSet<u128>,
    progress: &mut dyn FnMut(u64),
    loader: &mut Loader<'_>,
) -> Result<(FileCounts, Vec<Rejected>)> {
    let mut rej = Rejector {
        src,
        def,
        file: rel,
        rejected: Vec::new(),
    };
    let mut counts = FileCounts::default();
    let mut chunk: Vec<Staged> = Vec::with_capacity(CHUNK_ROWS.min(4096));
    let mut first_line_of: std::collections::HashMap<u128, u64> = std::collections::HashMap::new();
    let mut on = |ev: Event<'_>| -> Result<()> {
        counts.read += 1;
        let row = match ev {
            Event::Malformed(m) => {
                rej.rejected.push(Rejected {
                    source: src.name.clone(),
                    file: rel.to_string(),
                    line: m.line,
                    column: None,
                    code: m.code,
                    reason: m.message,
                    raw: clip_raw(&m.raw),
                });
                return Ok(());
            }
            Event::Row(r) => r,
        };
        let mut values = Vec::with_capacity(def.fields.len());
        let mut fault: Option<(usize, &'static str, String)> = None;
        for (i, f) in def.fields.iter().enumerate() {
            let v = match row.cells[i].as_deref() {
                None => Value::Null,
                Some(text) if text.len() > src.max_field_bytes => {
                    fault = Some((
                        i,
                        "field_too_long",
                        format!(
                            "{} bytes, over the limit of {} (max_field_bytes)",
                            text.len(),
                            src.max_field_bytes
                        ),
                    ));
                    break;
                }
                Some(text) => match parse_cell(src, i, f.field_type, text, country) {
                    Ok(v) => v,
                    // The value goes into the reason only where it is not personal data
                    // (the raw row, masked like any PII column, keeps it for stewards).
                    Err(e) if f.pii => {
                        fault = Some((
                            i,
                            "bad_value",
                            format!("{e} (value withheld: personal data)"),
                        ));
                        break;
                    }
                    Err(e) => {
                        fault = Some((i, "bad_value", format!("{e}, found '{}'", text.trim())));
                        break;
                    }
                },
            };
            if f.required && v.is_null() {
                fault = Some((i, "missing_value", "required value is empty".into()));
                break;
            }
            values.push(v);
        }
        let staged = Staged {
            line: row.line,
            values,
            raw: row.raw.into_owned(),
        };
        if let Some((i, code, reason)) = fault {
            rej.reject(&staged, Some(&def.fields[i].name), code, reason);
            return Ok(());
        }
        for group in &def.one_of {
            if group
                .iter()
                .all(|g| def.index_of(g).is_none_or(|i| staged.values[i].is_null()))
            {
                let cols: Vec<String> = group.iter().map(|g| rej.column_name(g)).collect();
                rej.reject(
                    &staged,
                    None,
                    "missing_value",
                    format!("one of {} is required, all are empty", cols.join(", ")),
                );
                return Ok(());
            }
        }
        if src.dedupe_exact_lines && !seen.insert(row.hash) {
            let first = first_line_of
                .get(&row.hash)
                .map_or("an earlier file of this batch".to_string(), |l| {
                    format!("line {l}")
                });
            rej.reject(
                &staged,
                None,
                "duplicate_row",
                format!("exact duplicate of {first}"),
            );
            return Ok(());
        }
        if src.dedupe_exact_lines {
            // Only a deduplicated source needs to say which line a duplicate repeats; a keyless
            // log of millions of lines would otherwise hold a map entry per line for nothing.
            first_line_of.insert(row.hash, staged.line);
        }
        chunk.push(staged);
        if chunk.len() >= CHUNK_ROWS {
            counts.loaded += loader(std::mem::take(&mut chunk), &mut rej)?;
        }
        Ok(())
    };
    read_file(src, path, work, &mut on, progress)?;
    if !chunk.is_empty() {
        counts.loaded += loader(std::mem::take(&mut chunk), &mut rej)?;
    }
    counts.quarantined = rej.rejected.len() as u64;
    if counts.read != counts.loaded + counts.quarantined {
        return Err(Error::Input {
            path: path.into(),
            message: format!(
                "internal reconciliation failure: read {} != loaded {} + quarantined {}",
                counts.read, counts.loaded, counts.quarantined
            ),
        });
    }
    Ok((counts, rej.rejected))
}
