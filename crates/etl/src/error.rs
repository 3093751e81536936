//! Errors of the warehouse build. User errors (bad config, unreadable or unexpected input
//! files, a build already running) are separate from internal failures (Parquet, Arrow).

use std::path::PathBuf;

/// Everything that can stop a build. Row-level problems never do: those rows are
/// quarantined and the build goes on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The mapping config is wrong; nothing was read.
    #[error("config {path}: {message}")]
    Config {
        /// The config file.
        path: PathBuf,
        /// What is wrong and where.
        message: String,
    },
    /// An input file cannot be used as a whole (header lacks a mapped column, changed since loaded...).
    #[error("{path}: {message}")]
    Input {
        /// The export file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
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
    /// Reading or writing the warehouse's versions failed (locked, missing, not in shape).
    #[error(transparent)]
    Store(#[from] acrm_store::Error),
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
