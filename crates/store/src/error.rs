//! Errors of the warehouse store: a warehouse that is locked, missing or not in the expected
//! shape is the user's to see plainly; I/O and Parquet failures name their file.

use std::path::PathBuf;

/// Everything reading or writing the warehouse folder can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Another build or publish holds the warehouse lock.
    #[error("another build is running on {0} (lock file held); try again when it has finished")]
    Locked(PathBuf),
    /// The warehouse folder is not in the expected shape, or a request does not fit it.
    #[error("warehouse {path}: {message}")]
    Warehouse {
        /// The warehouse folder or file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A file of a version is not what its manifest recorded (truncated, altered, missing).
    #[error(
        "{path} is damaged: {message}; the warehouse needs repair (`acrm warehouse verify` lists every damaged file; `acrm warehouse restore N` or `acrm build --full`)"
    )]
    Damaged {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// Parquet encoding or decoding failed.
    #[error("{path}: {source}")]
    Parquet {
        /// The Parquet file.
        path: PathBuf,
        /// The Parquet error.
        #[source]
        source: datafusion::parquet::errors::ParquetError,
    },
    /// Building an Arrow batch failed (an internal bug: the schema and the rows disagree).
    #[error("arrow: {0}")]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    /// The built-in schema does not load.
    #[error(transparent)]
    Schema(#[from] acrm_schema::Error),
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Maps an I/O error to [`Error::Io`] naming `path`.
pub fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.into(),
        source,
    }
}
