//! Discovery of export files: every file matching a source's glob, with the checksum that
//! tells a new file from one already loaded and the business date of its batch.

use std::io::Read;
use std::path::{Path, PathBuf};

use chrono::NaiveDate;
use rayon::prelude::*;

use crate::config::BuildConfig;
use crate::{Error, Result};

/// One export file found for a source.
pub struct InputFile {
    /// Index of its source in the config.
    pub source: usize,
    /// Its path.
    pub path: PathBuf,
    /// Its path relative to the config's folder (how the manifest and quarantine name it).
    pub rel: String,
    /// BLAKE3 of its bytes.
    pub checksum: String,
    /// Business date of its batch (from the file name, else today).
    pub batch: NaiveDate,
    /// Its size.
    pub bytes: u64,
}

/// BLAKE3 (hex) and size of the file at `path`, read in 1 MiB blocks.
fn checksum(path: &Path) -> Result<(String, u64)> {
    let mut f = std::fs::File::open(path).map_err(|source| Error::Io {
        path: path.into(),
        source,
    })?;
    let mut h = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf).map_err(|source| Error::Io {
            path: path.into(),
            source,
        })?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
    Ok((h.finalize().to_hex().to_string(), n))
}

/// Every file matching the sources' globs, with its checksum and batch date.
pub fn discover(cfg: &BuildConfig) -> Result<Vec<InputFile>> {
    let today = chrono::Utc::now().date_naive();
    let mut found_files = Vec::new();
    for (si, s) in cfg.sources.iter().enumerate() {
        let pattern = s.pattern.to_string_lossy().to_string();
        let paths = glob::glob(&pattern).map_err(|e| Error::Config {
            path: cfg.path.clone(),
            message: format!("source '{}': path: {e}", s.name),
        })?;
        let mut found = 0;
        for p in paths {
            let path = p.map_err(|e| Error::Input {
                path: e.path().into(),
                message: e.error().to_string(),
            })?;
            if !path.is_file() {
                continue;
            }
            found += 1;
            let rel = path
                .strip_prefix(&cfg.base_dir)
                .unwrap_or(&path)
                .to_string_lossy()
                .to_string();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().to_string())
                .unwrap_or_default();
            let batch = match &cfg.batch_date_pattern {
                None => today,
                Some(re) => {
                    let text = re
                        .captures(&name)
                        .and_then(|c| c.get(1))
                        .map(|m| m.as_str().to_string());
                    let text = text.ok_or_else(|| Error::Input {
                        path: path.clone(),
                        message: format!(
                            "file name does not match [build] batch_date_pattern '{}'",
                            re.as_str()
                        ),
                    })?;
                    NaiveDate::parse_from_str(&text, &cfg.batch_date_format).map_err(|e| {
                        Error::Input {
                            path: path.clone(),
                            message: format!(
                                "batch date '{text}' does not match format '{}': {e}",
                                cfg.batch_date_format
                            ),
                        }
                    })?
                }
            };
            found_files.push((si, path, rel, batch));
        }
        if found == 0 {
            tracing::warn!(source = %s.name, pattern = %pattern, "no export file matches this source");
        }
    }
    // Files are checksummed on every core (a night's exports are read once here in full).
    found_files
        .into_par_iter()
        .map(|(source, path, rel, batch)| {
            let (checksum, bytes) = checksum(&path)?;
            Ok(InputFile {
                source,
                path,
                rel,
                checksum,
                batch,
                bytes,
            })
        })
        .collect()
}
