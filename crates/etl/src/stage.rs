//! Staging: read a file, type and cleanse every canonical field, drop exact duplicates, and
//! hand chunks of clean rows to the entity's loader. Every row read ends up either loaded
//! (the loader says so) or in the quarantine with a reason; the counts are checked. A value
//! of a `null_invalid` field that does not parse is loaded as null and listed instead.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::hash::BuildHasherDefault;
use std::path::Path;

use acrm_schema::EntityDef;
use rayon::prelude::*;

use crate::config::{FieldSource, SourceConfig};
use crate::parse::parse_cell;
use crate::read::read_file;
use crate::record::{CHUNK_ROWS, Event, Malformed, PassThrough, Raw, Row};
use crate::value::Value;
use crate::{Error, Result};

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

/// A value that did not parse and was loaded as null (the source's `null_invalid`).
#[derive(Debug, Clone)]
pub struct Nulled {
    /// Line in the file.
    pub line: u64,
    /// Source column.
    pub column: String,
    /// What was expected (and found, unless the field holds personal data).
    pub reason: String,
}

/// A typed, cleansed row.
pub struct Staged {
    /// Line in the file.
    pub line: u64,
    /// Values of the canonical fields, in the entity's order.
    pub values: Vec<Value>,
    /// The row as read.
    pub raw: Raw,
    /// Hash of the record (equal hashes are exact repeats).
    pub hash: u128,
    /// Fields (by position) whose invalid value was loaded as null, with the reason.
    pub nulled: Vec<(usize, String)>,
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
    /// Values of loaded rows that did not parse and were loaded as null.
    pub nulled: u64,
}

/// What staging one file produced besides the rows it loaded.
#[derive(Debug)]
pub struct Staging {
    /// Its reconciliation.
    pub counts: FileCounts,
    /// The rows it quarantined.
    pub rejected: Vec<Rejected>,
    /// The values of loaded rows it loaded as null.
    pub nulled: Vec<Nulled>,
}

/// Lets a loader reject rows with the source's own column names.
pub struct Rejector<'a> {
    src: &'a SourceConfig,
    def: &'a EntityDef,
    file: &'a str,
    /// Rows rejected so far in this file.
    pub rejected: Vec<Rejected>,
    /// Values loaded as null so far, of rows that reached a loader.
    nulled: Vec<Nulled>,
}

impl<'a> Rejector<'a> {
    /// A rejector for file `file` (as shown) of source `src`, whose fields are `def`'s.
    pub fn new(src: &'a SourceConfig, def: &'a EntityDef, file: &'a str) -> Self {
        Self {
            src,
            def,
            file,
            rejected: Vec::new(),
            nulled: Vec::new(),
        }
    }

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
            raw: clip_raw(&row.raw.text()),
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

/// The rows one source has loaded in a batch, to drop exact duplicates: the 128-bit hash of
/// each row's fields → where its first copy is (file, line). One map entry of 32 bytes a row
/// (the hash is its own bucket hash), only for sources that deduplicate without a key.
#[derive(Default)]
pub struct SeenRows {
    first: HashMap<u128, u64, BuildHasherDefault<PassThrough>>,
    /// Files of the batch, by the ordinal kept in the top 16 bits of a first copy's place.
    files: Vec<String>,
}

impl SeenRows {
    /// Bits of a place that hold the line.
    const LINE_BITS: u32 = 48;

    /// Notes row `hash` at `line` of `file`; returns where its first copy is if it was seen.
    fn insert(&mut self, hash: u128, file: &str, line: u64) -> Option<(&str, u64)> {
        if self.files.last().is_none_or(|f| f != file) {
            self.files.push(file.to_string());
        }
        let ordinal = (self.files.len() - 1) as u64;
        match self.first.entry(hash) {
            Entry::Vacant(v) => {
                v.insert(ordinal << Self::LINE_BITS | line);
                None
            }
            Entry::Occupied(o) => {
                let place = *o.get();
                let file = self.files.get((place >> Self::LINE_BITS) as usize)?;
                Some((file.as_str(), place & ((1 << Self::LINE_BITS) - 1)))
            }
        }
    }
}

/// Takes the staged rows of a file, a chunk at a time, in file order.
pub trait Loader {
    /// Loads the rows of one chunk; returns how many it loaded (the rest it rejected).
    fn load(&mut self, rows: Vec<Staged>, rej: &mut Rejector<'_>) -> Result<u64>;

    /// At the end of the file: loads or rejects the rows it held back until the whole file
    /// was seen; returns how many it loaded.
    fn finish(&mut self, rej: &mut Rejector<'_>) -> Result<u64> {
        let _ = rej;
        Ok(0)
    }
}

/// A loader that holds nothing back.
impl<F: FnMut(Vec<Staged>, &mut Rejector<'_>) -> Result<u64>> Loader for F {
    fn load(&mut self, rows: Vec<Staged>, rej: &mut Rejector<'_>) -> Result<u64> {
        self(rows, rej)
    }
}

/// A row after typing, before the checks that need the batch's state.
enum Typed {
    /// A record that could not be split into fields.
    Malformed(Malformed),
    /// A row with a field at fault: its position, reason code and reason.
    Fault(Staged, usize, &'static str, String),
    /// A row whose `one_of` group (by position) is empty.
    NoneOf(Staged, usize),
    /// A typed row.
    Clean(Staged),
}

/// Types and cleanses the cells of `row` (the work of staging that needs no state, so chunks
/// of rows are typed in parallel).
fn type_row(src: &SourceConfig, def: &EntityDef, country: &str, row: Row<'_>) -> Typed {
    let mut values = Vec::with_capacity(def.fields.len());
    let mut fault: Option<(usize, &'static str, String)> = None;
    let mut nulled = Vec::new();
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
                Err(e) => {
                    // The value goes into the reason only where it is not personal data (the
                    // raw row, masked like any PII column, keeps it for stewards).
                    let reason = if f.pii {
                        format!("{e} (value withheld: personal data)")
                    } else {
                        format!("{e}, found '{}'", text.trim())
                    };
                    if src.null_invalid[i] {
                        nulled.push((i, reason));
                        Value::Null
                    } else {
                        fault = Some((i, "bad_value", reason));
                        break;
                    }
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
        raw: row.raw,
        hash: row.hash,
        nulled,
    };
    if let Some((i, code, reason)) = fault {
        return Typed::Fault(staged, i, code, reason);
    }
    let empty_group = def.one_of.iter().position(|group| {
        group
            .iter()
            .all(|g| def.index_of(g).is_none_or(|i| staged.values[i].is_null()))
    });
    match empty_group {
        Some(g) => Typed::NoneOf(staged, g),
        None => Typed::Clean(staged),
    }
}

/// Stages file `path` (shown as `rel`) of source `src` and feeds `loader`; `work` is a folder
/// for a clean copy of the file, if reading needs one. `seen` holds the rows already loaded
/// from this source in this batch. The readers hand over chunks of rows; each chunk is typed
/// on every core, then checked for duplicates and loaded in file order.
#[allow(clippy::too_many_arguments)]
pub fn stage_file(
    src: &SourceConfig,
    def: &EntityDef,
    country: &str,
    path: &Path,
    rel: &str,
    work: &Path,
    seen: &mut SeenRows,
    progress: &mut (dyn FnMut(u64) + Send),
    loader: &mut dyn Loader,
) -> Result<Staging> {
    let mut rej = Rejector::new(src, def, rel);
    let mut counts = FileCounts::default();
    let mut chunk: Vec<Staged> = Vec::new();
    // A keyed fact source finds its exact repeats with its keys, in one map.
    let dedupe = src.dedupe_exact_lines && !src.checks_keys();
    let mut on = |events: Vec<Event<'_>>| -> Result<()> {
        counts.read += events.len() as u64;
        let typed: Vec<Typed> = events
            .into_par_iter()
            .map(|ev| match ev {
                Event::Malformed(m) => Typed::Malformed(m),
                Event::Row(r) => type_row(src, def, country, r),
            })
            .collect();
        for t in typed {
            match t {
                Typed::Malformed(m) => rej.rejected.push(Rejected {
                    source: src.name.clone(),
                    file: rel.to_string(),
                    line: m.line,
                    column: None,
                    code: m.code,
                    reason: m.message,
                    raw: clip_raw(&m.raw),
                }),
                Typed::Fault(staged, i, code, reason) => {
                    rej.reject(&staged, Some(&def.fields[i].name), code, reason);
                }
                Typed::NoneOf(staged, g) => {
                    let cols: Vec<String> =
                        def.one_of[g].iter().map(|f| rej.column_name(f)).collect();
                    rej.reject(
                        &staged,
                        None,
                        "missing_value",
                        format!("one of {} is required, all are empty", cols.join(", ")),
                    );
                }
                Typed::Clean(mut staged) => {
                    if dedupe && let Some((file, line)) = seen.insert(staged.hash, rel, staged.line)
                    {
                        let first = if file == rel {
                            format!("line {line}")
                        } else {
                            format!("line {line} of {file}")
                        };
                        rej.reject(
                            &staged,
                            None,
                            "duplicate_row",
                            format!("exact duplicate of {first}"),
                        );
                        continue;
                    }
                    for (i, reason) in std::mem::take(&mut staged.nulled) {
                        let column = rej.column_name(&def.fields[i].name);
                        rej.nulled.push(Nulled {
                            line: staged.line,
                            column,
                            reason,
                        });
                    }
                    chunk.push(staged);
                    if chunk.len() >= CHUNK_ROWS {
                        counts.loaded += loader.load(std::mem::take(&mut chunk), &mut rej)?;
                    }
                }
            }
        }
        Ok(())
    };
    read_file(src, path, work, &mut on, progress)?;
    if !chunk.is_empty() {
        counts.loaded += loader.load(std::mem::take(&mut chunk), &mut rej)?;
    }
    counts.loaded += loader.finish(&mut rej)?;
    counts.quarantined = rej.rejected.len() as u64;
    // A row a loader rejected after all is in the quarantine whole: its nulled values are not
    // loaded values.
    let rejected_lines: HashSet<u64> = rej.rejected.iter().map(|r| r.line).collect();
    let mut nulled = rej.nulled;
    nulled.retain(|n| !rejected_lines.contains(&n.line));
    counts.nulled = nulled.len() as u64;
    if counts.read != counts.loaded + counts.quarantined {
        return Err(Error::Input {
            path: path.into(),
            message: format!(
                "internal reconciliation failure: read {} != loaded {} + quarantined {}",
                counts.read, counts.loaded, counts.quarantined
            ),
        });
    }
    Ok(Staging {
        counts,
        rejected: rej.rejected,
        nulled,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_repeated_row_names_the_file_and_line_of_its_first_copy() {
        let mut seen = SeenRows::default();
        assert_eq!(seen.insert(7, "a.csv", 2), None);
        assert_eq!(seen.insert(8, "a.csv", 3), None);
        assert_eq!(seen.insert(7, "a.csv", 9), Some(("a.csv", 2)));
        assert_eq!(seen.insert(8, "b.csv", 4), Some(("a.csv", 3)));
        assert_eq!(seen.insert(9, "b.csv", 1_000_000_000), None);
        assert_eq!(seen.insert(9, "b.csv", 5), Some(("b.csv", 1_000_000_000)));
        assert_eq!(
            seen.insert(7 << 64, "b.csv", 6),
            None,
            "the hash is 128 bits wide"
        );
    }

    #[test]
    fn long_raw_records_are_cut_at_a_character_boundary() {
        let raw = "é".repeat(MAX_RAW_BYTES);
        let cut = clip_raw(&raw);
        assert!(cut.len() < MAX_RAW_BYTES + 40);
        assert!(cut.ends_with(&format!("({} bytes in all)", raw.len())));
        assert_eq!(clip_raw("short"), "short");
    }
}
