//! Readers' leases on a version: a reader holds a shared `flock` on the version's `.lease`
//! file for as long as it reads the version, and pruning removes a version only when it can
//! take that lock exclusively — so a query that began on version N is never left without its
//! files by builds publishing N+1, N+2, … while it runs. A version left because it was
//! being read is removed by a later prune. The lock dies with its process, so a reader that
//! is killed never blocks pruning.
//!
//! The race between a reader opening version N and a pruner removing it is closed by order:
//! the pruner removes `manifest.json` first, under its exclusive lock; a reader checks for
//! the manifest only after its shared lock is granted, and finding none, knows the version
//! is gone.

use std::fs::{self, File, TryLockError};
use std::path::Path;

use crate::{Error, Result, io};

/// Name of the lease file in a version folder.
pub const LEASE_FILE: &str = ".lease";

/// A held lease (shared for a reader, exclusive for the pruner); dropping it releases it.
#[derive(Debug)]
pub struct Lease {
    _file: File,
}

/// Opens (creating it if needed) the lease file of version folder `dir`; None when the
/// folder is gone. A read-only warehouse (the file cannot be created) yields None too: such
/// a warehouse is not pruned under its readers either.
fn open(dir: &Path) -> Result<Option<File>> {
    let path = dir.join(LEASE_FILE);
    match File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
    {
        Ok(f) => Ok(Some(f)),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound
                    | std::io::ErrorKind::PermissionDenied
                    | std::io::ErrorKind::ReadOnlyFilesystem
            ) =>
        {
            // ENOENT: the version was removed; EACCES/EROFS: a warehouse we cannot write.
            match File::open(&path) {
                Ok(f) => Ok(Some(f)),
                Err(_) => Ok(None),
            }
        }
        Err(source) => Err(Error::Io { path, source }),
    }
}

/// A shared lease on version folder `dir`, granted once no pruner holds it, and only if the
/// version is still there (its manifest present after the lock was granted): None when it
/// was pruned, or cannot be leased (a read-only warehouse: then it is read unleased).
pub fn share(dir: &Path) -> Result<Option<Lease>> {
    let Some(file) = open(dir)? else {
        return Ok(None);
    };
    file.lock_shared().map_err(io(&dir.join(LEASE_FILE)))?;
    if !dir.join("manifest.json").is_file() {
        return Ok(None);
    }
    Ok(Some(Lease { _file: file }))
}

/// Removes version folder `dir` unless a reader holds a lease on it; returns whether it was
/// removed.
pub fn remove_unread(dir: &Path) -> Result<bool> {
    let Some(file) = open(dir)? else {
        return Ok(false);
    };
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => return Ok(false),
        Err(TryLockError::Error(source)) => {
            return Err(Error::Io {
                path: dir.join(LEASE_FILE),
                source,
            });
        }
    }
    let manifest = dir.join("manifest.json");
    match fs::remove_file(&manifest) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => {
            return Err(Error::Io {
                path: manifest,
                source,
            });
        }
    }
    crate::crash::point("prune:half-removed");
    fs::remove_dir_all(dir).map_err(io(dir))?;
    drop(file);
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_leased_version_is_not_removed_until_its_reader_is_done() {
        let tmp = tempfile::tempdir().expect("tmp");
        let dir = tmp.path().join("v000001");
        fs::create_dir_all(&dir).expect("mkdir");
        fs::write(dir.join("manifest.json"), "{}").expect("manifest");
        let reader = share(&dir).expect("share").expect("leased");
        let second = share(&dir).expect("share").expect("readers share");
        assert!(!remove_unread(&dir).expect("prune"), "being read");
        assert!(dir.join("manifest.json").is_file());
        drop((reader, second));
        assert!(remove_unread(&dir).expect("prune"));
        assert!(!dir.exists());
        assert!(share(&dir).expect("share").is_none(), "gone: no lease");
    }
}
