//! The warehouse on disk: immutable versions and an atomically switched `current` link.
//!
//! ```text
//! WAREHOUSE/
//!   .lock                      advisory lock held by a running build (freed if it dies)
//!   current -> versions/v000003  the published version (a symlink, switched by rename)
//!   versions/v000003/          complete versions; the last `keep_versions` are kept
//!     manifest.json            what was loaded, reconciliation, row counts
//!     dim_customer/part-0.parquet
//!     fact_sales/year=2024/part-pos-2024-12-31-1a2b3c4d.parquet
//!     _state/customer_records/part-0.parquet   build state (not a published table)
//!   versions/.tmp-v000004-PID/ a build in progress (removed by the next build if it died)
//! ```
//! A build writes a whole new version beside the old one — fact files of earlier batches are
//! hard links, never rewritten — then renames it into place and switches `current`.
//! Readers resolve `current` once and so always see a complete version.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use datafusion::arrow::array::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use datafusion::parquet::basic::{Compression, ZstdLevel};
use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};

use crate::{Error, Result};

/// Rows per Parquet row group: large enough for scans, small enough for pruning by statistics.
pub const ROW_GROUP_ROWS: usize = 1 << 20;

/// A warehouse folder.
pub struct Warehouse {
    root: PathBuf,
}

/// Held while a build runs; dropping it (or the process dying) frees the lock.
pub struct BuildLock {
    _file: File,
}

/// Maps an I/O error to [`Error::Io`] naming `path`.
pub(crate) fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.into(),
        source,
    }
}

impl Warehouse {
    /// The warehouse at `root` (created on first build).
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// Its folder.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Takes the build lock, failing at once if another build holds it.
    pub fn lock(&self) -> Result<BuildLock> {
        fs::create_dir_all(self.root.join("versions")).map_err(io(&self.root))?;
        let path = self.root.join(".lock");
        let file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(io(&path))?;
        match file.try_lock() {
            Ok(()) => Ok(BuildLock { _file: file }),
            Err(fs::TryLockError::WouldBlock) => Err(Error::Locked(self.root.clone())),
            Err(fs::TryLockError::Error(source)) => Err(Error::Io { path, source }),
        }
    }

    /// [`Warehouse::lock`], waiting up to `patience` for another writer to finish (a second
    /// mart publish waits for the first instead of failing).
    pub fn lock_waiting(&self, patience: std::time::Duration) -> Result<BuildLock> {
        let started = std::time::Instant::now();
        loop {
            match self.lock() {
                Err(Error::Locked(_)) if started.elapsed() < patience => {
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                other => return other,
            }
        }
    }

    /// The published version number and folder, if any.
    pub fn current(&self) -> Result<Option<(u64, PathBuf)>> {
        let link = self.root.join("current");
        let target = match fs::read_link(&link) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(Error::Io { path: link, source }),
        };
        let dir = self.root.join(&target);
        let n = target
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_prefix('v'))
            .and_then(|n| n.parse().ok())
            .ok_or_else(|| Error::Warehouse {
                path: link.clone(),
                message: format!("'current' points to {}", target.display()),
            })?;
        if !dir.join("manifest.json").is_file() {
            return Err(Error::Warehouse {
                path: dir,
                message: "published version has no manifest.json".into(),
            });
        }
        Ok(Some((n, dir)))
    }

    /// Removes folders of builds that died (call with the lock held): unfinished `.tmp-`
    /// folders, and versions renamed into place whose `current` switch never happened.
    pub fn clean_abandoned(&self) -> Result<usize> {
        let dir = self.root.join("versions");
        let published = self.current()?.map_or(0, |(n, _)| n);
        let mut n = 0;
        for e in fs::read_dir(&dir).map_err(io(&dir))? {
            let e = e.map_err(io(&dir))?;
            let name = e.file_name().to_string_lossy().to_string();
            let unpublished = name
                .strip_prefix('v')
                .and_then(|v| v.parse::<u64>().ok())
                .is_some_and(|v| v > published);
            if name.starts_with(".tmp-") || unpublished {
                fs::remove_dir_all(e.path()).map_err(io(&e.path()))?;
                n += 1;
            }
        }
        Ok(n)
    }

    /// A fresh folder for building version `n`.
    pub fn begin(&self, n: u64) -> Result<PathBuf> {
        let dir = self
            .root
            .join("versions")
            .join(format!(".tmp-v{n:06}-{}", std::process::id()));
        fs::create_dir_all(&dir).map_err(io(&dir))?;
        Ok(dir)
    }

    /// Publishes the finished folder `tmp` as version `n`, switches `current`, and keeps the
    /// newest `keep` versions.
    pub fn publish(&self, tmp: &Path, n: u64, keep: usize) -> Result<PathBuf> {
        let name = format!("v{n:06}");
        let dir = self.root.join("versions").join(&name);
        fs::rename(tmp, &dir).map_err(io(&dir))?;
        sync_dir(&self.root.join("versions"))?;
        let tmp_link = self.root.join(format!(".current-{}", std::process::id()));
        let _ = fs::remove_file(&tmp_link);
        std::os::unix::fs::symlink(Path::new("versions").join(&name), &tmp_link)
            .map_err(io(&tmp_link))?;
        fs::rename(&tmp_link, self.root.join("current")).map_err(io(&self.root))?;
        sync_dir(&self.root)?;
        self.prune(n, keep)?;
        Ok(dir)
    }

    fn prune(&self, current: u64, keep: usize) -> Result<()> {
        let dir = self.root.join("versions");
        let mut versions: Vec<(u64, PathBuf)> = fs::read_dir(&dir)
            .map_err(io(&dir))?
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let n = e
                    .file_name()
                    .to_str()?
                    .strip_prefix('v')?
                    .parse::<u64>()
                    .ok()?;
                Some((n, e.path()))
            })
            .collect();
        versions.sort();
        let excess = versions.len().saturating_sub(keep);
        for (n, path) in versions.into_iter().take(excess) {
            if n != current {
                fs::remove_dir_all(&path).map_err(io(&path))?;
            }
        }
        Ok(())
    }
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|f| f.sync_all()).map_err(io(dir))
}

/// Writes `batches` (sharing one schema) to a new Parquet file: zstd, page statistics, 1M-row groups.
pub fn write_parquet(path: &Path, batches: &[RecordBatch]) -> Result<u64> {
    let Some(first) = batches.first() else {
        return Ok(0);
    };
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let props = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(3).unwrap_or_default()))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_created_by("acrm".into())
        .build();
    let file = File::create(path).map_err(io(path))?;
    let pq = |source| Error::Parquet {
        path: path.into(),
        source,
    };
    let mut w = ArrowWriter::try_new(file, first.schema(), Some(props)).map_err(pq)?;
    let mut rows = 0;
    for b in batches {
        w.write(b).map_err(pq)?;
        rows += b.num_rows() as u64;
    }
    let file = w.into_inner().map_err(pq)?;
    file.sync_all().map_err(io(path))?;
    Ok(rows)
}

/// Reads every row of a Parquet file.
pub fn read_parquet(path: &Path) -> Result<Vec<RecordBatch>> {
    let f = File::open(path).map_err(io(path))?;
    let pq = |source| Error::Parquet {
        path: path.into(),
        source,
    };
    let reader = ParquetRecordBatchReaderBuilder::try_new(f)
        .map_err(pq)?
        .build()
        .map_err(pq)?;
    Ok(reader.collect::<std::result::Result<Vec<_>, _>>()?)
}

/// Row count of a Parquet file from its footer.
pub fn parquet_rows(path: &Path) -> Result<u64> {
    let f = File::open(path).map_err(io(path))?;
    let b = ParquetRecordBatchReaderBuilder::try_new(f).map_err(|source| Error::Parquet {
        path: path.into(),
        source,
    })?;
    Ok(b.metadata().file_metadata().num_rows() as u64)
}

/// Every `.parquet` file below `dir`, sorted.
pub fn parquet_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    if !dir.is_dir() {
        return Ok(out);
    }
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).map_err(io(&d))? {
            let p = e.map_err(io(&d))?.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet") {
                out.push(p);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Hard-links every file below `from` into the same place below `to`.
pub fn link_tree(from: &Path, to: &Path) -> Result<()> {
    for f in parquet_files(from)? {
        let rel = f.strip_prefix(from).map_err(|_| Error::Warehouse {
            path: f.clone(),
            message: "outside its table".into(),
        })?;
        let dst = to.join(rel);
        if let Some(p) = dst.parent() {
            fs::create_dir_all(p).map_err(io(p))?;
        }
        fs::hard_link(&f, &dst)
            .or_else(|_| fs::copy(&f, &dst).map(|_| ()))
            .map_err(io(&dst))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_is_refused_and_publish_switches_current() {
        let dir = tempfile::tempdir().expect("tmp");
        let w = Warehouse::new(dir.path());
        let lock = w.lock().expect("first lock");
        assert!(matches!(w.lock(), Err(Error::Locked(_))));
        assert!(w.current().expect("current").is_none());
        for n in 1..=4 {
            let tmp = w.begin(n).expect("begin");
            fs::write(tmp.join("manifest.json"), "{}").expect("write");
            w.publish(&tmp, n, 2).expect("publish");
            assert_eq!(w.current().expect("current").map(|c| c.0), Some(n));
        }
        assert_eq!(
            fs::read_dir(dir.path().join("versions"))
                .expect("dir")
                .count(),
            2
        );
        drop(lock);
        assert!(w.lock().is_ok());
    }

    #[test]
    fn a_version_renamed_but_never_switched_to_is_cleaned() {
        let dir = tempfile::tempdir().expect("tmp");
        let w = Warehouse::new(dir.path());
        let _lock = w.lock().expect("lock");
        let tmp = w.begin(1).expect("begin");
        fs::write(tmp.join("manifest.json"), "{}").expect("write");
        w.publish(&tmp, 1, 3).expect("publish");
        // A build died between renaming version 2 into place and switching `current`.
        let orphan = dir.path().join("versions/v000002");
        fs::create_dir_all(&orphan).expect("orphan");
        fs::write(orphan.join("manifest.json"), "{}").expect("write");
        let dead = w.begin(3).expect("begin");
        assert_eq!(w.clean_abandoned().expect("clean"), 2);
        assert!(!orphan.exists() && !dead.exists());
        let tmp = w.begin(2).expect("begin");
        fs::write(tmp.join("manifest.json"), "{}").expect("write");
        w.publish(&tmp, 2, 3)
            .expect("the next build publishes version 2");
        assert_eq!(w.current().expect("current").map(|c| c.0), Some(2));
    }
}
