//! Versions of a warehouse folder: the build lock, the `current` link switched by an atomic
//! rename, new versions begun in a temporary folder and published whole, old ones pruned to
//! `keep_versions`. Readers resolve `current` once and so always see a complete version.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use crate::manifest::Manifest;
use crate::{Error, Result, io};

/// A warehouse folder.
pub struct Warehouse {
    root: PathBuf,
}

/// Held while a build runs; dropping it (or the process dying) frees the lock.
pub struct BuildLock {
    _file: File,
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

    /// [`Warehouse::current`], or an error naming the fix when nothing is published yet.
    pub fn require_current(&self) -> Result<(u64, PathBuf)> {
        self.current()?.ok_or_else(|| Error::Warehouse {
            path: self.root.clone(),
            message: "no published version (no 'current' link): run `acrm build` first".into(),
        })
    }

    /// The published version's number, folder and manifest (see [`Warehouse::require_current`]).
    pub fn published(&self) -> Result<(u64, PathBuf, Manifest)> {
        let (n, dir) = self.require_current()?;
        let manifest = Manifest::read(&dir)?;
        Ok((n, dir, manifest))
    }

    /// Version numbers with a complete folder, oldest first.
    pub fn versions(&self) -> Result<Vec<u64>> {
        Ok(self.version_dirs()?.into_iter().map(|(n, _)| n).collect())
    }

    fn version_dirs(&self) -> Result<Vec<(u64, PathBuf)>> {
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
        Ok(versions)
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

    /// Removes all but the newest `keep` versions, never `current`.
    fn prune(&self, current: u64, keep: usize) -> Result<()> {
        let versions = self.version_dirs()?;
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
