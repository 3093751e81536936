//! The engine's view of the local disk: every file of the version it serves is checked
//! against the size and BLAKE3 its manifest records before the first byte of it reaches a
//! query, so a truncated or bit-flipped Parquet file stops the query with an error naming the
//! file instead of answering wrongly (Parquet pages written by arrow-rs carry no checksum,
//! and a flipped bit in a compressed page can decode to other values silently).
//!
//! A file is hashed whole once per process (a process-wide cache keyed by inode and
//! expected checksum, shared by every engine and role: versions hard-link unchanged files,
//! so a new version re-checks only what it added); the cost is one sequential read of each
//! file a query touches, the first time it touches it. A file in the version's folder that
//! the manifest does not list is refused (the listing would otherwise read it). Files outside
//! the version (a `--input` file) pass through unchecked.

use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::sync::{Arc, LazyLock, Mutex};

use acrm_store::integrity::{FileSum, hash_file};
use async_trait::async_trait;
use bytes::Bytes;
use datafusion::object_store::local::LocalFileSystem;
use datafusion::object_store::path::Path as StorePath;
use datafusion::object_store::{
    self, CopyOptions, GetOptions, GetResult, ListResult, MultipartUpload, ObjectMeta, ObjectStore,
    PutMultipartOptions, PutOptions, PutPayload, PutResult,
};
use futures::stream::BoxStream;
use tokio::sync::OnceCell;

/// Outcome of checking one file: None when it matches, else what is wrong.
type Checked = Arc<OnceCell<Option<String>>>;

/// A file's identity and the content it must have: (device, inode, expected BLAKE3).
type FileKey = (u64, u64, String);

/// Files already checked by this process.
static CHECKED: LazyLock<Mutex<HashMap<FileKey, Checked>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// The local file system, with the files of one version checked before they are read.
#[derive(Debug)]
pub struct VerifiedFiles {
    inner: LocalFileSystem,
    /// The version's folder as an object-store prefix.
    version: StorePath,
    /// Recorded sums by object-store path.
    sums: HashMap<StorePath, (PathBuf, FileSum)>,
}

impl std::fmt::Display for VerifiedFiles {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "VerifiedFiles({})", self.version)
    }
}

fn damaged(path: PathBuf, message: String) -> object_store::Error {
    object_store::Error::Generic {
        store: "acrm",
        source: Box::new(acrm_store::Error::Damaged { path, message }),
    }
}

impl VerifiedFiles {
    /// Checks reads below the version folder `dir` (absolute) against `sums` (absolute path
    /// → recorded sum); None when the manifest records no sums (a version published before
    /// they were), which is then read unchecked.
    pub fn new(dir: &std::path::Path, sums: BTreeMap<PathBuf, FileSum>) -> Option<Self> {
        if sums.is_empty() {
            return None;
        }
        let version = StorePath::from_absolute_path(dir).ok()?;
        let sums = sums
            .into_iter()
            .filter_map(|(p, s)| Some((StorePath::from_absolute_path(&p).ok()?, (p, s))))
            .collect();
        Some(Self {
            inner: LocalFileSystem::new(),
            version,
            sums,
        })
    }

    /// Checks `location` before it is read (see the module documentation).
    async fn check(&self, location: &StorePath) -> object_store::Result<()> {
        let Some((path, sum)) = self.sums.get(location) else {
            if location.prefix_matches(&self.version) {
                let path = PathBuf::from(format!("/{location}"));
                return Err(damaged(
                    path,
                    "not in the manifest (a stray file queries would read)".into(),
                ));
            }
            return Ok(());
        };
        let meta = std::fs::metadata(path).map_err(|e| damaged(path.clone(), e.to_string()))?;
        if meta.len() != sum.bytes {
            return Err(damaged(
                path.clone(),
                format!(
                    "{} bytes, the manifest says {} (truncated or overwritten)",
                    meta.len(),
                    sum.bytes
                ),
            ));
        }
        let cell = {
            let mut checked = CHECKED.lock().unwrap_or_else(|p| p.into_inner());
            checked
                .entry((meta.dev(), meta.ino(), sum.blake3.clone()))
                .or_default()
                .clone()
        };
        let outcome = cell
            .get_or_init(|| async {
                let (path, expected) = (path.clone(), sum.blake3.clone());
                let found = tokio::task::spawn_blocking(move || hash_file(&path)).await;
                match found {
                    Ok(Ok(found)) if found.blake3 == expected => None,
                    Ok(Ok(_)) => Some("content differs from the manifest's checksum".to_string()),
                    Ok(Err(e)) => Some(e.to_string()),
                    Err(e) => Some(format!("checking it failed: {e}")),
                }
            })
            .await;
        match outcome {
            None => Ok(()),
            Some(message) => Err(damaged(path.clone(), message.clone())),
        }
    }
}

#[async_trait]
impl ObjectStore for VerifiedFiles {
    async fn put_opts(
        &self,
        location: &StorePath,
        payload: PutPayload,
        opts: PutOptions,
    ) -> object_store::Result<PutResult> {
        self.inner.put_opts(location, payload, opts).await
    }

    async fn put_multipart_opts(
        &self,
        location: &StorePath,
        opts: PutMultipartOptions,
    ) -> object_store::Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(location, opts).await
    }

    async fn get_opts(
        &self,
        location: &StorePath,
        options: GetOptions,
    ) -> object_store::Result<GetResult> {
        if !options.head {
            self.check(location).await?;
        }
        self.inner.get_opts(location, options).await
    }

    async fn get_ranges(
        &self,
        location: &StorePath,
        ranges: &[Range<u64>],
    ) -> object_store::Result<Vec<Bytes>> {
        self.check(location).await?;
        self.inner.get_ranges(location, ranges).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, object_store::Result<StorePath>>,
    ) -> BoxStream<'static, object_store::Result<StorePath>> {
        self.inner.delete_stream(locations)
    }

    fn list(
        &self,
        prefix: Option<&StorePath>,
    ) -> BoxStream<'static, object_store::Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(
        &self,
        prefix: Option<&StorePath>,
    ) -> object_store::Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(
        &self,
        from: &StorePath,
        to: &StorePath,
        options: CopyOptions,
    ) -> object_store::Result<()> {
        self.inner.copy_opts(from, to, options).await
    }
}
