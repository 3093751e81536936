//! What a version's files must be, and the proof that they are: before a version is
//! published it is *sealed* — every file and folder synced to disk, every file's size and
//! BLAKE3 recorded in its manifest — and *verified* against that record by
//! `acrm warehouse verify`, before a build builds on it, and by the query engine as it reads.
//!
//! A file hard-linked from the version before (the same inode) keeps the checksum recorded
//! there: its bytes were hashed when first written, and hashing the whole warehouse every
//! night would cost as much as reading it.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::Serialize;

pub use crate::manifest::FileSum;
use crate::manifest::Manifest;
use crate::{Error, Result, io};

/// Files of a version folder that are not its content: the manifest (which holds the sums)
/// and the readers' lease file.
fn is_bookkeeping(rel: &str) -> bool {
    rel == "manifest.json" || rel == crate::lease::LEASE_FILE
}

/// Every file below `dir` (relative, `/`-separated, sorted) and every folder, `dir` included.
fn walk(dir: &Path) -> Result<(Vec<String>, Vec<PathBuf>)> {
    let mut files = Vec::new();
    let mut folders = vec![dir.to_path_buf()];
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).map_err(io(&d))? {
            let p = e.map_err(io(&d))?.path();
            if p.is_dir() {
                folders.push(p.clone());
                stack.push(p);
            } else if let Ok(rel) = p.strip_prefix(dir) {
                let rel = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy())
                    .collect::<Vec<_>>()
                    .join("/");
                if !is_bookkeeping(&rel) {
                    files.push(rel);
                }
            }
        }
    }
    files.sort();
    Ok((files, folders))
}

/// The sum of file `rel` of the unpublished version folder `dir`: the one `base` recorded
/// when the file is a hard link of the file at the same place there, else its hash (after
/// syncing it to disk when `sync`).
fn file_sum(
    dir: &Path,
    rel: &str,
    base: Option<(&Path, &Manifest)>,
    sync: bool,
) -> Result<FileSum> {
    let path = dir.join(rel);
    let meta = fs::metadata(&path).map_err(io(&path))?;
    let inherited = base.and_then(|(bdir, bman)| {
        let known = bman.sums.get(rel)?;
        let old = fs::metadata(bdir.join(rel)).ok()?;
        (old.ino() == meta.ino() && old.dev() == meta.dev() && known.bytes == meta.len())
            .then(|| known.clone())
    });
    match inherited {
        Some(s) => Ok(s),
        None => {
            // Written by this version: make sure its bytes are on disk, then hash them.
            if sync {
                File::open(&path)
                    .and_then(|f| f.sync_all())
                    .map_err(io(&path))?;
            }
            hash_file(&path)
        }
    }
}

/// The [`FileSum`] of every file below folder `rel` (a table's) of the unpublished version
/// folder `dir`, keyed by its path relative to `dir`, as [`seal`] will record them in
/// `manifest.sums` (files linked from `base` keep their recorded sums): what the table held
/// when something was computed from it, to be compared with the sums of a published
/// version later. Empty when there is no such folder.
pub fn folder_sums(
    dir: &Path,
    rel: &str,
    base: Option<(&Path, &Manifest)>,
) -> Result<BTreeMap<String, FileSum>> {
    let folder = dir.join(rel);
    if !folder.is_dir() {
        return Ok(BTreeMap::new());
    }
    let (files, _) = walk(&folder)?;
    files
        .into_par_iter()
        .map(|f| {
            let rel = format!("{rel}/{f}");
            let sum = file_sum(dir, &rel, base, false)?;
            Ok((rel, sum))
        })
        .collect()
}

/// BLAKE3 of the file at `path`, and its length.
pub fn hash_file(path: &Path) -> Result<FileSum> {
    let mut f = File::open(path).map_err(io(path))?;
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(io(path))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        bytes += n as u64;
    }
    Ok(FileSum {
        bytes,
        blake3: hasher.finalize().to_hex().to_string(),
    })
}

/// Seals the unpublished version folder `dir`: syncs every file and folder below it to disk
/// and records every file's [`FileSum`] in `manifest.sums` (the caller then writes the
/// manifest, which syncs itself, and publishes). `base` is the version the folder's
/// hard-linked files came from: a file that is the same inode as the file at the same place
/// there keeps the sum recorded for it.
pub fn seal(dir: &Path, manifest: &mut Manifest, base: Option<(&Path, &Manifest)>) -> Result<()> {
    let (files, folders) = walk(dir)?;
    let sums: Vec<(String, FileSum)> = files
        .into_par_iter()
        .map(|rel| {
            let sum = file_sum(dir, &rel, base, true)?;
            Ok((rel, sum))
        })
        .collect::<Result<_>>()?;
    // New folders and the hard links made into them are directory entries: synced too.
    for d in &folders {
        File::open(d).and_then(|f| f.sync_all()).map_err(io(d))?;
    }
    manifest.sums = sums.into_iter().collect();
    Ok(())
}

/// What is wrong with one file of a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "problem")]
pub enum Damage {
    /// The manifest lists it; it is gone.
    Missing,
    /// Its length differs from the recorded one (truncated, or appended to).
    Size {
        /// Recorded length.
        expected: u64,
        /// Length on disk.
        found: u64,
    },
    /// Same length, other bytes (bit rot, an overwrite).
    Checksum {
        /// Recorded BLAKE3.
        expected: String,
        /// BLAKE3 on disk.
        found: String,
    },
    /// A Parquet file in the folder that the manifest does not list: the query engine would
    /// read it.
    Unexpected,
}

impl std::fmt::Display for Damage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Damage::Missing => write!(f, "missing (the manifest lists it)"),
            Damage::Size { expected, found } => {
                write!(
                    f,
                    "{found} bytes, the manifest says {expected} (truncated or overwritten)"
                )
            }
            Damage::Checksum { expected, found } => write!(
                f,
                "content differs from the manifest's checksum (BLAKE3 {}…, expected {}…)",
                &found[..12.min(found.len())],
                &expected[..12.min(expected.len())]
            ),
            Damage::Unexpected => {
                write!(f, "not in the manifest (a stray file queries would read)")
            }
        }
    }
}

/// One damaged file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The file, relative to its version folder.
    pub file: String,
    /// What is wrong.
    #[serde(flatten)]
    pub damage: Damage,
}

/// The result of checking a version against its manifest.
#[derive(Debug, Clone, Serialize)]
pub struct Verified {
    /// Files the manifest lists.
    pub files: usize,
    /// Their recorded bytes.
    pub bytes: u64,
    /// Whether the manifest records checksums (versions published before they were recorded
    /// cannot be checked).
    pub sealed: bool,
    /// Damaged files, by name.
    pub problems: Vec<Problem>,
}

impl Verified {
    /// The first problem as an error naming the file (for commands that must stop).
    pub fn into_result(self, dir: &Path) -> Result<()> {
        match self.problems.into_iter().next() {
            None => Ok(()),
            Some(p) => Err(Error::Damaged {
                path: dir.join(&p.file),
                message: p.damage.to_string(),
            }),
        }
    }
}

/// Checks the version folder `dir` against `manifest.sums`: every listed file present with
/// its length, no unlisted Parquet file, and — with `content` — every file's BLAKE3 (read in full,
/// files in parallel). Without `content` only lengths are compared (a `stat` per file).
pub fn verify(dir: &Path, manifest: &Manifest, content: bool) -> Result<Verified> {
    let (files, _) = walk(dir)?;
    let sealed = !manifest.sums.is_empty();
    let mut problems: Vec<Problem> = if sealed {
        // Only Parquet files are read by queries: another stray file is left alone.
        files
            .iter()
            .filter(|f| f.ends_with(".parquet") && !manifest.sums.contains_key(*f))
            .map(|f| Problem {
                file: f.clone(),
                damage: Damage::Unexpected,
            })
            .collect()
    } else {
        Vec::new()
    };
    let checked: Vec<Option<Problem>> = manifest
        .sums
        .par_iter()
        .map(|(rel, sum)| {
            let path = dir.join(rel);
            let damage = match fs::metadata(&path) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Some(Damage::Missing),
                Err(source) => return Err(Error::Io { path, source }),
                Ok(m) if m.len() != sum.bytes => Some(Damage::Size {
                    expected: sum.bytes,
                    found: m.len(),
                }),
                Ok(_) if content => {
                    let found = hash_file(&path)?;
                    (found.blake3 != sum.blake3).then(|| Damage::Checksum {
                        expected: sum.blake3.clone(),
                        found: found.blake3,
                    })
                }
                Ok(_) => None,
            };
            Ok(damage.map(|damage| Problem {
                file: rel.clone(),
                damage,
            }))
        })
        .collect::<Result<_>>()?;
    problems.extend(checked.into_iter().flatten());
    problems.sort_by(|a, b| a.file.cmp(&b.file));
    Ok(Verified {
        files: manifest.sums.len(),
        bytes: manifest.sums.values().map(|s| s.bytes).sum(),
        sealed,
        problems,
    })
}

/// The recorded sums of `manifest` by absolute path below `dir` (what the query engine
/// checks the files it reads against).
pub fn sums_by_path(dir: &Path, manifest: &Manifest) -> BTreeMap<PathBuf, FileSum> {
    manifest
        .sums
        .iter()
        .map(|(rel, s)| (dir.join(rel), s.clone()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::tests::sample;

    fn sealed_version(dir: &Path) -> Manifest {
        fs::create_dir_all(dir.join("fact_sales/year=2024")).expect("mkdir");
        fs::write(
            dir.join("fact_sales/year=2024/part-a.parquet"),
            b"0123456789",
        )
        .expect("w");
        fs::write(dir.join("dim_x.parquet"), b"abc").expect("w");
        let mut m = sample(1, 3);
        seal(dir, &mut m, None).expect("seal");
        m.write(dir).expect("manifest");
        m
    }

    #[test]
    fn a_sealed_version_verifies_and_every_kind_of_damage_is_named() {
        let tmp = tempfile::tempdir().expect("tmp");
        let dir = tmp.path();
        let m = sealed_version(dir);
        assert_eq!(m.sums.len(), 2, "the manifest itself is not listed");
        let ok = verify(dir, &m, true).expect("verify");
        assert!(
            ok.sealed && ok.problems.is_empty() && ok.bytes == 13,
            "{ok:?}"
        );
        let part = dir.join("fact_sales/year=2024/part-a.parquet");
        // One flipped bit: same length, found only by the content check.
        fs::write(&part, b"0123456788").expect("flip");
        assert!(verify(dir, &m, false).expect("sizes").problems.is_empty());
        let flipped = verify(dir, &m, true).expect("content");
        assert!(
            matches!(flipped.problems[0].damage, Damage::Checksum { .. }),
            "{flipped:?}"
        );
        let e = flipped.into_result(dir).expect_err("damaged").to_string();
        assert!(
            e.contains("part-a.parquet") && e.contains("checksum"),
            "{e}"
        );
        fs::write(&part, b"01234").expect("truncate");
        assert_eq!(
            verify(dir, &m, false).expect("sizes").problems[0].damage,
            Damage::Size {
                expected: 10,
                found: 5
            }
        );
        fs::remove_file(dir.join("dim_x.parquet")).expect("rm");
        fs::write(dir.join("stray.parquet"), b"x").expect("stray");
        fs::write(dir.join("notes.txt"), b"x").expect("not read by queries");
        let all = verify(dir, &m, true).expect("verify");
        let kinds: Vec<(&str, &Damage)> = all
            .problems
            .iter()
            .map(|p| (p.file.as_str(), &p.damage))
            .collect();
        assert_eq!(kinds.len(), 3, "{kinds:?}");
        assert_eq!(kinds[0], ("dim_x.parquet", &Damage::Missing));
        assert_eq!(kinds[2], ("stray.parquet", &Damage::Unexpected));
    }

    #[test]
    fn hard_linked_files_keep_their_sum_and_new_ones_are_hashed() {
        let tmp = tempfile::tempdir().expect("tmp");
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        let ma = sealed_version(&a);
        fs::create_dir_all(b.join("fact_sales/year=2024")).expect("mkdir");
        let rel = "fact_sales/year=2024/part-a.parquet";
        fs::hard_link(a.join(rel), b.join(rel)).expect("link");
        fs::write(b.join("dim_x.parquet"), b"abcd").expect("new content");
        // Tamper with the recorded sum of the linked file: it is inherited, not recomputed.
        let mut base = ma.clone();
        base.sums.get_mut(rel).expect("sum").blake3 = "inherited".into();
        let mut mb = sample(2, 3);
        seal(&b, &mut mb, Some((&a, &base))).expect("seal");
        assert_eq!(mb.sums[rel].blake3, "inherited");
        assert_eq!(
            mb.sums["dim_x.parquet"],
            hash_file(&b.join("dim_x.parquet")).expect("h")
        );
        assert_ne!(mb.sums["dim_x.parquet"], ma.sums["dim_x.parquet"]);
    }

    #[test]
    fn an_unsealed_manifest_checks_nothing_and_says_so() {
        let tmp = tempfile::tempdir().expect("tmp");
        fs::write(tmp.path().join("x.parquet"), b"x").expect("w");
        let v = verify(tmp.path(), &sample(1, 3), true).expect("verify");
        assert!(!v.sealed && v.problems.is_empty() && v.files == 0);
    }
}
