//! What every reader hands the stager: rows with their line, the cells of the canonical
//! fields and a hash of the whole record, or a record that could not be split; and the text
//! stream every text reader starts from.

use std::borrow::Cow;
use std::cell::{Cell, RefCell};
use std::fs::File;
use std::hash::Hasher;
use std::io::{BufReader, Read};
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;

use encoding_rs_io::DecodeReaderBytesBuilder;

use crate::config::{FieldSource, SourceConfig, TextEncoding};
use crate::{Error, Result};

/// One data row as read.
pub struct Row<'a> {
    /// 1-based line in the file (CSV counts the header; Parquet: the row number).
    pub line: u64,
    /// Cells of the canonical fields, in the entity's field order (constants filled in).
    pub cells: Vec<Option<Cow<'a, str>>>,
    /// Hash of the complete raw record: equal hashes are exact duplicates.
    pub hash: u128,
    /// The record as read, for the quarantine.
    pub raw: Raw,
}

/// Where the text of records is kept while their rows are staged: a chunk a reader read.
pub trait RawSource: Send + Sync {
    /// Record `row` of the chunk as read (fields joined by the file's delimiter).
    fn text(&self, row: usize) -> String;
}

/// A record as read, for the quarantine. Most rows are loaded, so the text of a row is not
/// copied out of its chunk until the row is rejected.
#[derive(Clone)]
pub enum Raw {
    /// The text itself.
    Text(String),
    /// Record `.1` of a chunk.
    Row(Arc<dyn RawSource>, usize),
}

impl Raw {
    /// The record's text.
    pub fn text(&self) -> Cow<'_, str> {
        match self {
            Raw::Text(t) => Cow::Borrowed(t),
            Raw::Row(chunk, row) => Cow::Owned(chunk.text(*row)),
        }
    }
}

/// A row that could not be split into fields at all.
#[derive(Debug, Clone)]
pub struct Malformed {
    /// Line in the file.
    pub line: u64,
    /// `malformed_row` or `encoding`.
    pub code: &'static str,
    /// What was wrong.
    pub message: String,
    /// The bytes as text (lossy).
    pub raw: String,
}

/// What a reader hands over for each row.
pub enum Event<'a> {
    /// A row split into fields.
    Row(Row<'a>),
    /// A row that could not be.
    Malformed(Malformed),
}

/// Records handed to the stager at a time.
pub(crate) const CHUNK_ROWS: usize = 65_536;

/// Passes a key hash through unchanged (the keys are hashes already; a 128-bit one is folded).
#[derive(Default)]
pub struct PassThrough(u64);

impl Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Only `write_u64` is used; fold anything else in so the hasher stays correct.
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
    fn write_u128(&mut self, v: u128) {
        self.0 = (v as u64) ^ ((v >> 64) as u64);
    }
}

/// Receives the records of a file a chunk at a time, in file order.
pub type OnChunk<'f> = dyn FnMut(Vec<Event<'_>>) -> Result<()> + 'f;

/// A 128-bit hash of a record's fields (equal hashes are exact duplicates).
pub(crate) fn hash128<'p>(parts: impl IntoIterator<Item = &'p [u8]>) -> u128 {
    thread_local! {
        /// The fields of the record being hashed, each after its length.
        static BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
    }
    // XXH3-128, not a cryptographic hash: the only adversary is chance (the quarantine keeps
    // any row a collision would reject), and it hashes short records several times faster
    // than BLAKE3. The record is laid out in one buffer and hashed in one call: XXH3's
    // streaming state costs more than hashing a short record.
    BUF.with_borrow_mut(|buf| {
        buf.clear();
        for p in parts {
            buf.extend_from_slice(&(p.len() as u64).to_le_bytes());
            buf.extend_from_slice(p);
        }
        xxhash_rust::xxh3::xxh3_128(buf)
    })
}

/// Bytes of a file read so far and not yet reported: progress is counted in the file's
/// bytes, not in the text it decodes to (GBK text grows by half as UTF-8).
#[derive(Clone, Default)]
pub(crate) struct Consumed(Rc<Cell<u64>>);

impl Consumed {
    /// The bytes read since the last call.
    pub(crate) fn take(&self) -> u64 {
        self.0.replace(0)
    }
}

/// A reader that adds what it reads to a [`Consumed`].
struct Counting<R> {
    inner: R,
    consumed: Consumed,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let c = &self.consumed.0;
        c.set(c.get() + n as u64);
        Ok(n)
    }
}

/// `path` as a UTF-8 byte stream: other encodings transcoded, a UTF-8 BOM dropped, invalid
/// UTF-8 passed through (so it is caught per row); and the count of the file's bytes read.
pub(crate) fn open_text(src: &SourceConfig, path: &Path) -> Result<(impl Read, Consumed)> {
    let f = File::open(path).map_err(|source| Error::Io {
        path: path.into(),
        source,
    })?;
    let consumed = Consumed::default();
    let f = Counting {
        inner: f,
        consumed: consumed.clone(),
    };
    let builder = match src.encoding {
        // Pass UTF-8 through untouched (a BOM is dropped) so invalid bytes are caught per row.
        TextEncoding::Utf8 => {
            let mut b = DecodeReaderBytesBuilder::new();
            b.utf8_passthru(true).strip_bom(true);
            b
        }
        TextEncoding::Other(enc) => {
            let mut b = DecodeReaderBytesBuilder::new();
            b.encoding(Some(enc));
            b
        }
    };
    Ok((
        builder.build(BufReader::with_capacity(1 << 20, f)),
        consumed,
    ))
}

/// For each canonical field: the index of its source column, or its constant.
pub(crate) enum Slot {
    /// Not mapped: null.
    None,
    /// The column at this position.
    Column(usize),
    /// This constant.
    Constant(String),
}

/// The slot of each canonical field of `src` in a file (`path`) with columns `header`; an
/// error naming the header when a mapped column is not in it.
pub(crate) fn slots(src: &SourceConfig, path: &Path, header: &[String]) -> Result<Vec<Slot>> {
    src.fields
        .iter()
        .map(|f| match f {
            FieldSource::Missing => Ok(Slot::None),
            FieldSource::Constant(c) => Ok(Slot::Constant(c.clone())),
            FieldSource::Column(name) => header.iter().position(|h| h == name).map(Slot::Column).ok_or_else(|| Error::Input {
                path: path.into(),
                message: format!(
                    "source '{}' maps column '{name}', which is not in the header; the header has: {}",
                    src.name,
                    header.join(", ")
                ),
            }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_counts_the_bytes_of_the_file_not_of_its_utf8_text() {
        let dir = tempfile::tempdir().expect("temp dir");
        let cfg = crate::BuildConfig::parse(
            &dir.path().join("acrm.toml"),
            "[[source]]\nname = \"t\"\nentity = \"product\"\npath = \"p.csv\"\nencoding = \"gbk\"\n[source.columns]\nsku = \"sku\"\nproduct_name = \"name\"\n",
        )
        .expect("config");
        let (gbk, _, _) = encoding_rs::GBK.encode("sku,name\nA,啤酒\nB,尿布\n");
        let path = dir.path().join("p.csv");
        std::fs::write(&path, &gbk).expect("write");
        let (mut text, consumed) = open_text(&cfg.sources[0], &path).expect("open");
        let mut utf8 = String::new();
        text.read_to_string(&mut utf8).expect("read");
        assert!(utf8.contains("啤酒"));
        assert!(utf8.len() > gbk.len());
        assert_eq!(consumed.take(), gbk.len() as u64);
        assert_eq!(consumed.take(), 0, "taken once");
    }
}
