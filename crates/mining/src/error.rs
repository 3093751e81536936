//! Errors of the mining layer.

/// Everything mining can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The warehouse query behind the features failed.
    #[error(transparent)]
    Olap(#[from] acrm_olap::Error),
    /// Building the result tables failed.
    #[error(transparent)]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
    /// A feature table is not usable as given (missing, non-numeric or null values).
    #[error("feature table: {0}")]
    Features(String),
    /// Parameters that cannot work (k larger than the customers, unknown feature...).
    #[error("{0}")]
    Invalid(String),
    /// Reading or writing a file (the model registry) failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// A kernel refused its parameters or data.
    #[error(transparent)]
    Algo(#[from] crate::algo::Error),
}

/// Result with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
