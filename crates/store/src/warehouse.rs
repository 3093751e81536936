//! Versions of a warehouse folder: the build lock, the `current` link switched by an atomic
//! rename, new versions begun in a temporary folder and published whole, old ones pruned to
//! `keep_versions`. Readers resolve `current` once and so always see a complete version.

use std::fs::{self, File};
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};

use crate::manifest::Manifest;
use crate::parquet::link_tree;
use crate::{Error, Result, crash, integrity, io, lease};

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
                // A folder whose manifest is gone is being (or was partly) pruned.
                e.path()
                    .join("manifest.json")
                    .is_file()
                    .then(|| (n, e.path()))
            })
            .collect();
        versions.sort();
        Ok(versions)
    }

    /// Removes what writers that died left (call with the lock held): unfinished `.tmp-`
    /// folders, versions renamed into place whose `current` switch never happened, versions
    /// a prune had begun to remove (no manifest), `current` links never renamed into place,
    /// and versions past `keep_versions` a prune never reached. Returns how many folders and
    /// links it removed besides the last.
    pub fn clean_abandoned(&self) -> Result<usize> {
        let dir = self.root.join("versions");
        let published = self.current()?.map_or(0, |(n, _)| n);
        let mut n = 0;
        for e in fs::read_dir(&dir).map_err(io(&dir))? {
            let e = e.map_err(io(&dir))?;
            let name = e.file_name().to_string_lossy().to_string();
            let number = name.strip_prefix('v').and_then(|v| v.parse::<u64>().ok());
            if name.starts_with(".tmp-") || number.is_some_and(|v| v > published) {
                fs::remove_dir_all(e.path()).map_err(io(&e.path()))?;
                n += 1;
            } else if number.is_some_and(|v| v < published)
                && !e.path().join("manifest.json").exists()
                && lease::remove_unread(&e.path())?
            {
                n += 1;
            }
        }
        for e in fs::read_dir(&self.root).map_err(io(&self.root))? {
            let e = e.map_err(io(&self.root))?;
            if e.file_name().to_string_lossy().starts_with(".current-") {
                fs::remove_file(e.path()).map_err(io(&e.path()))?;
                n += 1;
            }
        }
        // A writer that died between switching `current` and pruning left one too many.
        if let Some((v, dir)) = self.current()? {
            self.prune(v, Manifest::read(&dir)?.keep_versions)?;
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

    /// Publishes the finished folder `tmp` as version `manifest.version`: seals it (every
    /// file and folder synced, every file's checksum recorded — see [`integrity::seal`];
    /// `base` is the version its hard-linked files came from), writes the manifest, renames
    /// the folder into place, switches `current` to it by an atomic rename (each step synced),
    /// and prunes to `manifest.keep_versions`.
    pub fn publish(
        &self,
        tmp: &Path,
        manifest: &mut Manifest,
        base: Option<(&Path, &Manifest)>,
    ) -> Result<PathBuf> {
        integrity::seal(tmp, manifest, base)?;
        crash::point("publish:sealed");
        manifest.write(tmp)?;
        crash::point("publish:manifest-written");
        let n = manifest.version;
        let name = format!("v{n:06}");
        let dir = self.root.join("versions").join(&name);
        fs::rename(tmp, &dir).map_err(io(&dir))?;
        sync_dir(&self.root.join("versions"))?;
        crash::point("publish:renamed");
        let tmp_link = self.root.join(format!(".current-{}", std::process::id()));
        let _ = fs::remove_file(&tmp_link);
        std::os::unix::fs::symlink(Path::new("versions").join(&name), &tmp_link)
            .map_err(io(&tmp_link))?;
        crash::point("publish:linked");
        fs::rename(&tmp_link, self.root.join("current")).map_err(io(&self.root))?;
        sync_dir(&self.root)?;
        crash::point("publish:switched");
        // Published: a version that cannot be removed now is removed by a later publish.
        if let Err(e) = self.prune(n, manifest.keep_versions) {
            tracing::warn!(error = %e, "old versions not pruned");
        }
        Ok(dir)
    }

    /// Removes all but the newest `keep` versions, never `current` nor a version a reader
    /// holds a lease on (see [`lease`]).
    fn prune(&self, current: u64, keep: usize) -> Result<()> {
        let versions = self.version_dirs()?;
        let excess = versions.len().saturating_sub(keep);
        for (n, path) in versions.into_iter().take(excess) {
            crash::point("publish:pruning");
            if n != current && !lease::remove_unread(&path)? {
                tracing::info!(version = n, "version being read: left for a later prune");
            }
        }
        Ok(())
    }

    /// Pins version `at` for reading: its number, folder and manifest, with a lease that
    /// keeps pruning away from it until dropped. A version published between resolving
    /// `current` and taking the lease is retried.
    pub fn pin(&self, at: &At) -> Result<Pinned> {
        for _ in 0..8 {
            let (n, dir) = match at {
                At::Current => self.require_current()?,
                At::Version(n) => (*n, self.version_dir(*n)?),
                At::Previous => self.previous()?,
                At::BuiltBy(t) => self.built_by(*t)?,
            };
            let Some(lease) = lease::share(&dir)? else {
                if matches!(at, At::Current) {
                    continue;
                }
                return Err(self.no_version(&format!("version {n} was just pruned")));
            };
            let manifest = Manifest::read(&dir)?;
            return Ok(Pinned {
                number: n,
                dir,
                manifest,
                _lease: lease,
            });
        }
        Err(self.no_version("versions are being published faster than one can be opened"))
    }

    fn no_version(&self, message: &str) -> Error {
        Error::Warehouse {
            path: self.root.clone(),
            message: message.to_string(),
        }
    }

    /// The folder of kept version `n`, or an error listing the kept ones.
    fn version_dir(&self, n: u64) -> Result<PathBuf> {
        let versions = self.version_dirs()?;
        versions
            .iter()
            .find(|(v, _)| *v == n)
            .map(|(_, d)| d.clone())
            .ok_or_else(|| {
                self.no_version(&format!(
                    "no version {n}; the kept versions are {}",
                    list(versions.iter().map(|(v, _)| *v))
                ))
            })
    }

    /// The newest kept version older than the current one.
    fn previous(&self) -> Result<(u64, PathBuf)> {
        let (current, _) = self.require_current()?;
        self.version_dirs()?
            .into_iter()
            .rev()
            .find(|(n, _)| *n < current)
            .ok_or_else(|| {
                self.no_version(&format!(
                    "no kept version is older than the current one ({current})"
                ))
            })
    }

    /// The newest kept version built at or before `t`.
    fn built_by(&self, t: DateTime<Utc>) -> Result<(u64, PathBuf)> {
        let mut kept = Vec::new();
        for (n, dir) in self.version_dirs()?.into_iter().rev() {
            let m = Manifest::read(&dir)?;
            if m.built_time().is_some_and(|b| b <= t) {
                return Ok((n, dir));
            }
            kept.push(format!("{n} ({})", m.built_at));
        }
        Err(self.no_version(&format!(
            "no kept version was built by {}; the kept versions are {}",
            t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            if kept.is_empty() {
                "none".to_string()
            } else {
                kept.join(", ")
            }
        )))
    }

    /// Kept versions with their manifests, oldest first.
    pub fn list(&self) -> Result<Vec<Manifest>> {
        self.version_dirs()?
            .into_iter()
            .map(|(_, dir)| Manifest::read(&dir))
            .collect()
    }

    /// Makes kept version `at` current again as a new version (its files hard-linked, its
    /// manifest with `restored_from = n`), published like a build: atomically, the versions
    /// in between kept for time travel, and the next incremental build continuing from `n`'s
    /// content (the export files loaded after `n` are loaded again). `n` is verified in full
    /// first; a damaged version is refused, naming its file. Returns the version restored and
    /// the new version's number.
    pub fn restore(&self, at: &At) -> Result<(u64, u64)> {
        let _lock = self.lock()?;
        self.clean_abandoned()?;
        let (current, _, now) = self.published()?;
        let n = match at {
            At::Current => current,
            At::Version(n) => *n,
            At::Previous => self.previous()?.0,
            At::BuiltBy(t) => self.built_by(*t)?.0,
        };
        if n == current {
            return Err(self.no_version(&format!("version {n} is already current")));
        }
        let from = self.version_dir(n)?;
        let old = Manifest::read(&from)?;
        let checked = integrity::verify(&from, &old, true)?;
        if !checked.sealed {
            return Err(self.no_version(&format!(
                "version {n} was published before checksums were recorded and cannot be verified; run `acrm build --full` instead"
            )));
        }
        checked.into_result(&from)?;
        let version = current + 1;
        let tmp = self.begin(version)?;
        let mut manifest = Manifest {
            version,
            built_at: crate::manifest::now(),
            mode: "restore".into(),
            keep_versions: now.keep_versions,
            restored_from: Some(n),
            ..old.clone()
        };
        let done = link_tree(&from, &tmp)
            .and_then(|()| self.publish(&tmp, &mut manifest, Some((&from, &old))));
        if let Err(e) = done {
            let _ = fs::remove_dir_all(&tmp);
            return Err(e);
        }
        tracing::info!(from = n, version, "version restored");
        Ok((n, version))
    }
}

/// Which version to read.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum At {
    /// The published one.
    #[default]
    Current,
    /// Kept version N.
    Version(u64),
    /// The newest kept version older than the current one (the night before, or the
    /// version a mart publish replaced).
    Previous,
    /// The newest kept version built at or before this instant.
    BuiltBy(DateTime<Utc>),
}

impl At {
    /// `--version`'s argument: a version number, or `previous`.
    pub fn version(text: &str) -> std::result::Result<Self, String> {
        if text == "previous" {
            return Ok(At::Previous);
        }
        text.parse()
            .map(At::Version)
            .map_err(|_| format!("'{text}' is not a version number or 'previous'"))
    }

    /// `--as-of-build`'s argument: a date (the end of that day, UTC) or an RFC 3339 instant.
    pub fn built_by(text: &str) -> std::result::Result<Self, String> {
        if let Ok(t) = DateTime::parse_from_rfc3339(text) {
            return Ok(At::BuiltBy(t.with_timezone(&Utc)));
        }
        let day = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| {
            format!(
                "'{text}' is not a date (YYYY-MM-DD) or an RFC 3339 time (2025-01-31T06:00:00Z)"
            )
        })?;
        let end = day
            .and_hms_opt(23, 59, 59)
            .map(|t| t.and_utc())
            .ok_or_else(|| format!("'{text}' is out of range"))?;
        Ok(At::BuiltBy(end))
    }
}

/// A version held for reading: pruning leaves it alone until this is dropped.
#[derive(Debug)]
pub struct Pinned {
    /// Its number.
    pub number: u64,
    /// Its folder.
    pub dir: PathBuf,
    /// Its manifest.
    pub manifest: Manifest,
    _lease: lease::Lease,
}

/// Numbers as "1, 2, 3" ("none" for none).
fn list(n: impl Iterator<Item = u64>) -> String {
    let v: Vec<String> = n.map(|n| n.to_string()).collect();
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

fn sync_dir(dir: &Path) -> Result<()> {
    File::open(dir).and_then(|f| f.sync_all()).map_err(io(dir))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::tests::sample;

    /// Publishes version `n` holding one file with `content`.
    fn publish(w: &Warehouse, n: u64, keep: usize, content: &str) -> PathBuf {
        let tmp = w.begin(n).expect("begin");
        fs::create_dir_all(tmp.join("t")).expect("mkdir");
        fs::write(tmp.join("t/part-0.parquet"), content).expect("write");
        w.publish(&tmp, &mut sample(n, keep), None)
            .expect("publish")
    }

    #[test]
    fn second_lock_is_refused_and_publish_switches_current() {
        let dir = tempfile::tempdir().expect("tmp");
        let w = Warehouse::new(dir.path());
        let lock = w.lock().expect("first lock");
        assert!(matches!(w.lock(), Err(Error::Locked(_))));
        assert!(w.current().expect("current").is_none());
        for n in 1..=4 {
            publish(&w, n, 2, "x");
            assert_eq!(w.current().expect("current").map(|c| c.0), Some(n));
        }
        assert_eq!(w.versions().expect("versions"), vec![3, 4]);
        let m = Manifest::read(&w.root().join("versions/v000004")).expect("manifest");
        assert_eq!(m.sums["t/part-0.parquet"].bytes, 1, "sealed on publish");
        drop(lock);
        assert!(w.lock().is_ok());
    }

    #[test]
    fn a_version_being_read_is_pruned_only_after_its_reader_lets_go() {
        let dir = tempfile::tempdir().expect("tmp");
        let w = Warehouse::new(dir.path());
        publish(&w, 1, 1, "one");
        let reader = w.pin(&At::Current).expect("pin");
        assert_eq!(reader.number, 1);
        publish(&w, 2, 1, "two");
        publish(&w, 3, 1, "three");
        assert_eq!(
            w.versions().expect("versions"),
            vec![1, 3],
            "1 is being read"
        );
        assert_eq!(
            fs::read_to_string(reader.dir.join("t/part-0.parquet")).expect("still there"),
            "one"
        );
        drop(reader);
        publish(&w, 4, 1, "four");
        assert_eq!(w.versions().expect("versions"), vec![4]);
    }

    #[test]
    fn versions_are_found_by_number_and_build_time_and_restored_as_new_ones() {
        let dir = tempfile::tempdir().expect("tmp");
        let w = Warehouse::new(dir.path());
        for n in 1..=3 {
            publish(&w, n, 5, &"v".repeat(n as usize));
        }
        // Build times: version n built on 2025-01-0n.
        for n in 1..=3u64 {
            let d = w.root().join(format!("versions/v{n:06}"));
            let mut m = Manifest::read(&d).expect("m");
            m.built_at = format!("2025-01-0{n}T06:00:00Z");
            m.write(&d).expect("w");
        }
        assert_eq!(w.pin(&At::Version(2)).expect("v2").number, 2);
        let by = At::built_by("2025-01-02").expect("date");
        assert_eq!(w.pin(&by).expect("by date").number, 2);
        let by = At::built_by("2025-01-03T05:00:00Z").expect("time");
        assert_eq!(w.pin(&by).expect("by time").number, 2);
        let e = w.pin(&At::Version(9)).expect_err("no 9").to_string();
        assert!(e.contains("kept versions are 1, 2, 3"), "{e}");
        let e = w
            .pin(&At::built_by("2024-12-31").expect("d"))
            .expect_err("none")
            .to_string();
        assert!(
            e.contains("no kept version was built by 2024-12-31T23:59:59Z"),
            "{e}"
        );
        assert!(At::built_by("yesterday").is_err());

        assert_eq!(w.pin(&At::Previous).expect("previous").number, 2);
        assert_eq!(w.restore(&At::Version(1)).expect("restore"), (1, 4));
        let (n, d, m) = w.published().expect("published");
        assert_eq!(
            (n, m.restored_from, m.mode.as_str()),
            (4, Some(1), "restore")
        );
        assert_eq!(
            fs::read_to_string(d.join("t/part-0.parquet")).expect("r"),
            "v"
        );
        assert!(
            integrity::verify(&d, &m, true)
                .expect("verify")
                .problems
                .is_empty()
        );
        assert_eq!(
            w.versions().expect("versions"),
            vec![1, 2, 3, 4],
            "history kept"
        );
        let e = w.restore(&At::Version(4)).expect_err("current").to_string();
        assert!(e.contains("already current"), "{e}");
        // A damaged version is not restored.
        fs::write(w.root().join("versions/v000003/t/part-0.parquet"), "vvX").expect("flip");
        let e = w.restore(&At::Previous).expect_err("damaged").to_string();
        assert!(e.contains("part-0.parquet is damaged"), "{e}");
        assert_eq!(w.current().expect("current").map(|c| c.0), Some(4));
    }

    #[test]
    fn a_version_renamed_but_never_switched_to_is_cleaned() {
        let dir = tempfile::tempdir().expect("tmp");
        let w = Warehouse::new(dir.path());
        let _lock = w.lock().expect("lock");
        publish(&w, 1, 3, "x");
        // A build died between renaming version 2 into place and switching `current`.
        let orphan = dir.path().join("versions/v000002");
        fs::create_dir_all(&orphan).expect("orphan");
        fs::write(orphan.join("manifest.json"), "{}").expect("write");
        let dead = w.begin(3).expect("begin");
        // And a publish died before renaming its new `current` link into place.
        let link = dir.path().join(".current-99999");
        std::os::unix::fs::symlink("versions/v000002", &link).expect("link");
        assert_eq!(w.clean_abandoned().expect("clean"), 3);
        assert!(!orphan.exists() && !dead.exists() && !link.exists());
        publish(&w, 2, 3, "y");
        assert_eq!(w.current().expect("current").map(|c| c.0), Some(2));
    }
}
