//! The first pass over a delimited export, before polars parses it. polars reads a file fast
//! and in parallel but cannot say which line a row came from, nor which rows were ragged or
//! not valid UTF-8 (it pads or stops). This pass, streaming over the (transcoded) bytes with
//! a quote-aware record splitter, finds what polars cannot: the header, every record that
//! cannot be split into the header's fields or is not UTF-8 (each with its line), and the
//! line of every other record. Where the file is not clean UTF-8 polars can read as it is
//! (another encoding, malformed records, blank lines), a clean UTF-8 copy holding only the
//! good records is written beside the build, so row `i` of polars is record `i` here.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use crate::config::{SourceConfig, TextEncoding};
use crate::record::{Malformed, open_text};
use crate::{Error, Result};

/// Bytes read at a time.
const BLOCK: usize = 1 << 20;

/// What the pass found in one export file.
#[derive(Debug)]
pub struct Scan {
    /// Column names (trimmed), or 1, 2, 3… for a file without a header; empty for an empty
    /// file.
    pub header: Vec<String>,
    /// Good data records: the rows polars reads from [`Scan::path`].
    pub rows: u64,
    /// Records left out of [`Scan::path`]: not splittable into the header's fields, or not
    /// UTF-8.
    pub malformed: Vec<Malformed>,
    /// Line breakpoints: from row `.0` on, rows are on consecutive lines starting at `.1`.
    lines: Vec<(u64, u64)>,
    /// The export itself.
    source: PathBuf,
    /// The clean UTF-8 copy polars reads instead, when one was needed (removed on drop).
    copy: Option<PathBuf>,
}

impl Scan {
    /// The file polars reads: the export itself or its clean copy.
    pub fn path(&self) -> &Path {
        self.copy.as_deref().unwrap_or(&self.source)
    }

    /// The 1-based line in the export where good row `row` (0-based) starts.
    pub fn line(&self, row: u64) -> u64 {
        let i = self.lines.partition_point(|(first, _)| *first <= row);
        match i.checked_sub(1).map(|i| self.lines[i]) {
            Some((first, line)) => line + (row - first),
            None => row + 1,
        }
    }
}

impl Drop for Scan {
    fn drop(&mut self) {
        if let Some(copy) = &self.copy {
            let _ = std::fs::remove_file(copy);
        }
    }
}

/// Where the splitter is within a record.
#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    /// At the start of a field: a quote here opens a quoted field.
    FieldStart,
    /// Inside an unquoted field.
    Unquoted,
    /// Inside a quoted field.
    Quoted,
    /// Just after a quote inside a quoted field: another quote is an escaped quote.
    QuoteInQuoted,
}

/// One record as split: its bytes (without the line feed), its field count and the number of
/// line feeds inside it (quoted line breaks).
struct Record<'a> {
    bytes: &'a [u8],
    fields: usize,
    inner_newlines: u64,
    /// A quoted field was still open where the record ended (the end of the file).
    unclosed: bool,
}

/// A streaming, quote-aware record splitter (RFC 4180: a quote opens a quoted field only at
/// a field's start; `""` inside one is a quote). Written here, not taken from the `csv`
/// crate, because the pass needs each record's raw bytes and line span, which csv-core only
/// gives after copying every field out.
struct Splitter {
    delimiter: u8,
    state: State,
    fields: usize,
    inner_newlines: u64,
}

impl Splitter {
    fn new(delimiter: u8) -> Self {
        Self {
            delimiter,
            state: State::FieldStart,
            fields: 1,
            inner_newlines: 0,
        }
    }

    /// The end of the next record in `buf` (the index of its line feed), if it ends there.
    fn next_end(&mut self, buf: &[u8]) -> Option<usize> {
        for (i, &b) in buf.iter().enumerate() {
            match self.state {
                State::Quoted => match b {
                    b'"' => self.state = State::QuoteInQuoted,
                    b'\n' => self.inner_newlines += 1,
                    _ => {}
                },
                State::QuoteInQuoted if b == b'"' => self.state = State::Quoted,
                State::FieldStart if b == b'"' => self.state = State::Quoted,
                _ => {
                    if b == self.delimiter {
                        self.fields += 1;
                        self.state = State::FieldStart;
                    } else if b == b'\n' {
                        return Some(i);
                    } else {
                        self.state = State::Unquoted;
                    }
                }
            }
        }
        None
    }

    /// The record `bytes` ends; resets for the next.
    fn take<'a>(&mut self, bytes: &'a [u8]) -> Record<'a> {
        let r = Record {
            bytes,
            fields: self.fields,
            inner_newlines: self.inner_newlines,
            unclosed: self.state == State::Quoted,
        };
        *self = Self::new(self.delimiter);
        r
    }
}

/// The fields of one record, unquoted, by the `csv` crate (used for the header and for the
/// few records that go to the quarantine).
fn split_fields(record: &[u8], delimiter: u8) -> Vec<Vec<u8>> {
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .from_reader(record);
    let mut rec = csv::ByteRecord::new();
    match rdr.read_byte_record(&mut rec) {
        Ok(true) => rec.iter().map(<[u8]>::to_vec).collect(),
        _ => vec![record.to_vec()],
    }
}

/// Reads `src`'s export `path` once; writes a clean UTF-8 copy into folder `work` when polars
/// cannot read the file as it is. `progress` gets the bytes read.
pub fn scan_csv(
    src: &SourceConfig,
    path: &Path,
    work: &Path,
    progress: &mut dyn FnMut(u64),
) -> Result<Scan> {
    let transcode = matches!(src.encoding, TextEncoding::Other(_));
    let first = pass(src, path, None, progress)?;
    if !transcode && first.malformed.is_empty() && !first.skipped_lines {
        return Ok(first.into_scan(path, None));
    }
    // Another encoding, or records polars must not see: read again, writing the good
    // records (header first) as UTF-8.
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_default();
    let copy = work.join(format!(".clean-{}-{name}", std::process::id()));
    let io = |source| Error::Io {
        path: copy.clone(),
        source,
    };
    let mut out = BufWriter::with_capacity(BLOCK, File::create(&copy).map_err(io)?);
    let second = pass(src, path, Some(&mut out), &mut |_| {})?;
    out.flush().map_err(io)?;
    drop(out);
    Ok(second.into_scan(path, Some(copy)))
}

/// What one pass found.
struct Pass {
    header: Vec<String>,
    rows: u64,
    malformed: Vec<Malformed>,
    lines: Vec<(u64, u64)>,
    /// Some line was skipped (blank, or a malformed record): row and line drift apart.
    skipped_lines: bool,
}

impl Pass {
    fn into_scan(self, source: &Path, copy: Option<PathBuf>) -> Scan {
        Scan {
            header: self.header,
            rows: self.rows,
            malformed: self.malformed,
            lines: self.lines,
            source: source.into(),
            copy,
        }
    }
}

/// One pass over the records of `path`; with `out`, the header and the good records are
/// written to it.
fn pass(
    src: &SourceConfig,
    path: &Path,
    mut out: Option<&mut dyn Write>,
    progress: &mut dyn FnMut(u64),
) -> Result<Pass> {
    let (mut input, consumed) = open_text(src, path)?;
    let io = |source| Error::Io {
        path: path.into(),
        source,
    };
    let mut p = Pass {
        header: Vec::new(),
        rows: 0,
        malformed: Vec::new(),
        lines: Vec::new(),
        skipped_lines: false,
    };
    let mut splitter = Splitter::new(src.delimiter);
    let mut buf: Vec<u8> = Vec::with_capacity(2 * BLOCK);
    // `buf[..scanned]` has been split up to the current record's start `start`.
    let (mut start, mut scanned) = (0usize, 0usize);
    let mut line = 1u64; // line of the current record's start
    let mut header_done = !src.has_header;
    let mut expected_line = 1u64;
    let mut eof = false;
    let mut block = vec![0u8; BLOCK];
    loop {
        let end = match splitter.next_end(&buf[scanned..]) {
            Some(i) => Some(scanned + i),
            None if eof => (start < buf.len()).then_some(buf.len()),
            None => {
                scanned = buf.len();
                buf.drain(..start);
                scanned -= start;
                start = 0;
                let n = input.read(&mut block).map_err(io)?;
                progress(consumed.take());
                if n == 0 {
                    eof = true;
                } else {
                    buf.extend_from_slice(&block[..n]);
                }
                continue;
            }
        };
        let Some(end) = end else { break };
        let rec = splitter.take(&buf[start..end]);
        let record_line = line;
        line += rec.inner_newlines + 1;
        let next = (end + 1).min(buf.len());
        let bytes = rec.bytes.strip_suffix(b"\r").unwrap_or(rec.bytes);
        if bytes.iter().all(u8::is_ascii_whitespace) {
            p.skipped_lines = true;
        } else if !header_done {
            p.header = split_fields(bytes, src.delimiter)
                .iter()
                .map(|h| String::from_utf8_lossy(h).trim().to_string())
                .collect();
            header_done = true;
            expected_line = record_line + rec.inner_newlines + 1;
            if let Some(w) = out.as_deref_mut() {
                w.write_all(rec.bytes).map_err(io)?;
                w.write_all(b"\n").map_err(io)?;
            }
        } else {
            if p.header.is_empty() {
                p.header = (1..=rec.fields).map(|i| i.to_string()).collect();
            }
            let fields = if rec.unclosed { 0 } else { rec.fields };
            match check(bytes, fields, &p.header, src.delimiter, record_line) {
                Some(m) => {
                    p.malformed.push(m);
                    p.skipped_lines = true;
                }
                None => {
                    if record_line != expected_line || p.lines.is_empty() {
                        p.lines.push((p.rows, record_line));
                    }
                    expected_line = record_line + 1;
                    p.rows += 1;
                    if let Some(w) = out.as_deref_mut() {
                        w.write_all(rec.bytes).map_err(io)?;
                        w.write_all(b"\n").map_err(io)?;
                    }
                }
            }
        }
        start = next;
        scanned = next;
        if eof && start >= buf.len() {
            break;
        }
    }
    Ok(p)
}

/// Why record `bytes` (with `fields` fields, on `line`; 0 for a quoted field left open)
/// cannot be loaded, if it cannot.
fn check(
    bytes: &[u8],
    fields: usize,
    header: &[String],
    delimiter: u8,
    line: u64,
) -> Option<Malformed> {
    let utf8 = std::str::from_utf8(bytes).is_ok();
    if fields == header.len() && utf8 {
        return None;
    }
    let cells = split_fields(bytes, delimiter);
    let raw = cells
        .iter()
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(&char::from(delimiter).to_string());
    if fields == 0 {
        return Some(Malformed {
            line,
            code: "malformed_row",
            message: "a quoted field is not closed before the end of the file".into(),
            raw,
        });
    }
    if fields != header.len() {
        return Some(Malformed {
            line,
            code: "malformed_row",
            message: format!("expected {} fields, found {fields}", header.len()),
            raw,
        });
    }
    let column = cells
        .iter()
        .position(|c| std::str::from_utf8(c).is_err())
        .and_then(|i| header.get(i))
        .map_or_else(String::new, |h| format!("column '{h}': "));
    Some(Malformed {
        line,
        code: "encoding",
        message: format!("{column}invalid UTF-8 (set `encoding` for this source?)"),
        raw,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(extra: &str) -> SourceConfig {
        let text = format!(
            "[[source]]\nname = \"t\"\nentity = \"product\"\npath = \"p.csv\"\n{extra}\n[source.columns]\nsku = \"sku\"\nproduct_name = \"name\"\n"
        );
        crate::BuildConfig::parse(Path::new("/x/acrm.toml"), &text)
            .expect("config")
            .sources
            .remove(0)
    }

    /// Scans `bytes`; returns the scan, the copy's text (if one was written) and the lines
    /// of its rows.
    fn scan(bytes: &[u8], extra: &str) -> (Scan, Option<String>, Vec<u64>) {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join("p.csv");
        std::fs::write(&path, bytes).expect("write");
        let s = scan_csv(&source(extra), &path, dir.path(), &mut |_| {}).expect("scan");
        let copy = s
            .copy
            .as_ref()
            .map(|c| std::fs::read_to_string(c).expect("copy"));
        let lines = (0..s.rows).map(|r| s.line(r)).collect();
        (s, copy, lines)
    }

    #[test]
    fn a_clean_file_is_read_as_it_is() {
        let (s, copy, lines) = scan(b"sku,name\nA,Beer\nB,\"Dia,pers\"\n", "");
        assert_eq!(s.header, ["sku", "name"]);
        assert_eq!(s.rows, 2);
        assert!(copy.is_none());
        assert_eq!(lines, [2, 3]);
        assert!(s.malformed.is_empty());
    }

    #[test]
    fn quoted_line_breaks_blank_lines_and_crlf_keep_true_lines() {
        let text = "sku,name\r\nA,\"Be\r\ner\"\r\n\r\nB,\"say \"\"hi\"\"\"\r\nC,Milk";
        let (s, copy, lines) = scan(text.as_bytes(), "");
        assert_eq!(s.rows, 3);
        assert_eq!(lines, [2, 5, 6]);
        let copy = copy.expect("a blank line means a clean copy");
        assert_eq!(
            copy,
            "sku,name\r\nA,\"Be\r\ner\"\r\nB,\"say \"\"hi\"\"\"\r\nC,Milk\n"
        );
    }

    #[test]
    fn ragged_and_non_utf8_records_are_left_out_with_their_lines() {
        let mut bytes = b"sku,name\nA,Beer\nB\nC,x,y\nD,".to_vec();
        bytes.extend_from_slice(&[0xCD, 0xF5]);
        bytes.extend_from_slice(b"\nE,\"open quote\nF,Milk\n");
        let (s, copy, lines) = scan(&bytes, "");
        let bad: Vec<(u64, &str)> = s.malformed.iter().map(|m| (m.line, m.code)).collect();
        assert_eq!(
            bad,
            [
                (3, "malformed_row"),
                (4, "malformed_row"),
                (5, "encoding"),
                (6, "malformed_row")
            ],
            "an unclosed quote runs to the end of the file: one ragged record"
        );
        assert!(
            s.malformed[2]
                .message
                .starts_with("column 'name': invalid UTF-8")
        );
        assert_eq!(s.rows, 1);
        assert_eq!(lines, [2]);
        assert_eq!(copy.as_deref(), Some("sku,name\nA,Beer\n"));
    }

    #[test]
    fn other_encodings_are_transcoded_into_the_copy() {
        let mut bytes = b"sku,name\nA,".to_vec();
        bytes.extend_from_slice(&[0xCD, 0xF5, 0xCE, 0xB0]); // 王伟 in GBK
        bytes.push(b'\n');
        let (s, copy, _) = scan(&bytes, "encoding = \"gbk\"");
        assert!(s.malformed.is_empty());
        assert_eq!(copy.as_deref(), Some("sku,name\nA,王伟\n"));
    }

    #[test]
    fn empty_and_header_only_files_have_no_rows() {
        for text in ["", "\u{feff}", "sku,name\n", "\n\n"] {
            let (s, _, _) = scan(text.as_bytes(), "");
            assert_eq!(s.rows, 0, "{text:?}");
            assert!(s.malformed.is_empty(), "{text:?}");
        }
    }

    #[test]
    fn records_spanning_blocks_are_split_alike() {
        let mut text = String::from("sku,name\n");
        for i in 0..60_000 {
            text.push_str(&format!("S{i},\"name {i}\nsecond line\"\n"));
        }
        let (s, copy, lines) = scan(text.as_bytes(), "");
        assert_eq!(s.rows, 60_000);
        assert!(copy.is_none());
        assert_eq!(lines[59_999], 2 + 2 * 59_999);
    }
}
