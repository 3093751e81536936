//! Export files with line tracking: every injected bad row is recorded in
//! `truth/night-N/bad_rows.csv` with its file, line and the reason acrm should give.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use chrono::NaiveDate;

use crate::{Error, GenerateReport, Result};

/// Writes `text` to `path`, creating parent folders.
pub fn write_text(path: &Path, text: &str) -> Result<()> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| Error::Io {
            path: parent.into(),
            source,
        })?;
    }
    std::fs::write(path, text).map_err(|source| Error::Io {
        path: path.into(),
        source,
    })
}

fn create(path: &Path) -> Result<BufWriter<File>> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| Error::Io {
            path: parent.into(),
            source,
        })?;
    }
    let f = File::create(path).map_err(|source| Error::Io {
        path: path.into(),
        source,
    })?;
    Ok(BufWriter::with_capacity(1 << 20, f))
}

/// The files of one night, plus its truth folder.
pub struct ExportSet {
    root: PathBuf,
    pub date: NaiveDate,
    night: u32,
    files: Vec<(String, u64)>,
    bad_rows: Vec<(String, u64, &'static str)>,
}

enum Sink {
    Csv(Box<csv::Writer<BufWriter<File>>>),
    Jsonl(BufWriter<File>),
}

/// One export file being written.
pub struct Export {
    rel: String,
    path: PathBuf,
    sink: Sink,
    /// Line number of the last row written (the CSV header is line 1).
    line: u64,
    rows: u64,
    bad: Vec<(u64, &'static str)>,
}

impl ExportSet {
    pub fn new(root: &Path, date: NaiveDate, night: u32) -> Result<Self> {
        Ok(Self {
            root: root.into(),
            date,
            night,
            files: Vec::new(),
            bad_rows: Vec::new(),
        })
    }

    fn rel_path(&self, dir: &str, stem: &str, ext: &str) -> String {
        format!(
            "exports/{dir}/{stem}_{}.{ext}",
            self.date.format("%Y-%m-%d")
        )
    }

    /// A CSV export `exports/DIR/STEM_DATE.csv` with `header`.
    pub fn csv(&self, dir: &str, stem: &str, header: &[&str]) -> Result<Export> {
        let rel = self.rel_path(dir, stem, "csv");
        let path = self.root.join(&rel);
        let mut w = csv::WriterBuilder::new().from_writer(create(&path)?);
        w.write_record(header).map_err(|source| Error::Csv {
            path: path.clone(),
            source,
        })?;
        Ok(Export {
            rel,
            path,
            sink: Sink::Csv(Box::new(w)),
            line: 1,
            rows: 0,
            bad: Vec::new(),
        })
    }

    /// A JSON-lines export `exports/DIR/STEM_DATE.jsonl`.
    pub fn jsonl(&self, dir: &str, stem: &str) -> Result<Export> {
        let rel = self.rel_path(dir, stem, "jsonl");
        let path = self.root.join(&rel);
        Ok(Export {
            rel,
            sink: Sink::Jsonl(create(&path)?),
            path,
            line: 0,
            rows: 0,
            bad: Vec::new(),
        })
    }

    /// A truth CSV `truth/night-N/NAME.csv`.
    pub fn truth(&self, name: &str, header: &[&str]) -> Result<TruthFile> {
        let path = self
            .root
            .join(format!("truth/night-{}/{name}.csv", self.night));
        let mut w = csv::Writer::from_writer(create(&path)?);
        w.write_record(header).map_err(|source| Error::Csv {
            path: path.clone(),
            source,
        })?;
        Ok(TruthFile { path, w })
    }

    /// Closes `export` and records its rows and bad rows.
    pub fn close(&mut self, export: Export) -> Result<()> {
        let Export {
            rel,
            path,
            sink,
            rows,
            bad,
            ..
        } = export;
        match sink {
            Sink::Csv(mut w) => w.flush().map_err(|source| Error::Io { path, source })?,
            Sink::Jsonl(mut w) => w.flush().map_err(|source| Error::Io { path, source })?,
        }
        self.files.push((rel.clone(), rows));
        self.bad_rows.extend(
            bad.into_iter()
                .map(|(line, reason)| (rel.clone(), line, reason)),
        );
        Ok(())
    }

    /// Writes the bad-row truth and returns the report.
    pub fn finish(self) -> Result<GenerateReport> {
        let mut t = self.truth("bad_rows", &["file", "line", "reason_code"])?;
        for (file, line, reason) in &self.bad_rows {
            t.row(&[file.clone(), line.to_string(), (*reason).to_string()])?;
        }
        t.finish()?;
        Ok(GenerateReport {
            out_dir: self.root,
            night: self.night,
            batch_date: self.date,
            files: self.files,
            bad_rows: self.bad_rows.len() as u64,
        })
    }
}

impl Export {
    fn write(&mut self, fields: &[String], json: Option<&serde_json::Value>) -> Result<()> {
        match (&mut self.sink, json) {
            (Sink::Csv(w), _) => w.write_record(fields).map_err(|source| Error::Csv {
                path: self.path.clone(),
                source,
            })?,
            (Sink::Jsonl(w), Some(v)) => {
                serde_json::to_writer(&mut *w, v).map_err(|e| Error::Invalid(e.to_string()))?;
                w.write_all(b"\n").map_err(|source| Error::Io {
                    path: self.path.clone(),
                    source,
                })?;
            }
            (Sink::Jsonl(_), None) => {
                return Err(Error::Invalid("JSON export needs a JSON row".into()));
            }
        }
        self.line += 1;
        self.rows += 1;
        Ok(())
    }

    /// Writes a good CSV row.
    pub fn row(&mut self, fields: &[String]) -> Result<()> {
        self.write(fields, None)
    }

    /// Writes a CSV row acrm must quarantine with `reason`.
    pub fn bad_row(&mut self, fields: &[String], reason: &'static str) -> Result<()> {
        self.write(fields, None)?;
        self.bad.push((self.line, reason));
        Ok(())
    }

    /// Writes a good JSON row.
    pub fn json(&mut self, v: &serde_json::Value) -> Result<()> {
        self.write(&[], Some(v))
    }

    /// Writes a JSON row acrm must quarantine with `reason`.
    pub fn bad_json(&mut self, v: &serde_json::Value, reason: &'static str) -> Result<()> {
        self.write(&[], Some(v))?;
        self.bad.push((self.line, reason));
        Ok(())
    }
}

/// A ground-truth CSV.
pub struct TruthFile {
    path: PathBuf,
    w: csv::Writer<BufWriter<File>>,
}

impl TruthFile {
    pub fn row(&mut self, fields: &[String]) -> Result<()> {
        self.w.write_record(fields).map_err(|source| Error::Csv {
            path: self.path.clone(),
            source,
        })
    }

    pub fn finish(mut self) -> Result<()> {
        self.w.flush().map_err(|source| Error::Io {
            path: self.path,
            source,
        })
    }
}
