//! Errors of the OLAP layer: a warehouse that cannot be opened is the user's to fix; SQL
//! errors carry DataFusion's message (with the position of the fault) unchanged.

use std::path::PathBuf;
use std::time::Duration;

/// Everything the OLAP layer can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// No published version, or one not in the expected shape.
    #[error("warehouse {path}: {message}")]
    Warehouse {
        /// The warehouse folder or file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// Planning or running a query failed (syntax, unknown table, types, resources).
    #[error("{0}")]
    Sql(#[from] datafusion::error::DataFusionError),
    /// The query ran longer than the configured timeout and was cancelled.
    #[error("query cancelled after the {0:?} timeout (raise it with --timeout)")]
    Timeout(Duration),
    /// No table or view of that name.
    #[error("no table or view named '{0}' (acrm tables lists them)")]
    UnknownTable(String),
    /// A file given to read (`--input`) cannot be read as a table.
    #[error("{path}: {message}")]
    InputFile {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A result lacks a column the caller needs (a model's target, a chart's axis).
    #[error("no {role} column '{name}' (columns: {columns})")]
    MissingColumn {
        /// What the column is for.
        role: String,
        /// The name looked for.
        name: String,
        /// The columns there are.
        columns: String,
    },
    /// A cube aggregate that cannot be built or used as declared.
    #[error("aggregate {name}: {message}")]
    Aggregate {
        /// The aggregate.
        name: String,
        /// What is wrong.
        message: String,
    },
    /// No report of that name.
    #[error("no report named '{0}' (acrm report --list lists them)")]
    UnknownReport(String),
    /// Reading a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The built-in schema does not load.
    #[error(transparent)]
    Schema(#[from] acrm_schema::Error),
    /// The warehouse's versions cannot be read (none published, a broken manifest).
    #[error(transparent)]
    Store(#[from] acrm_store::Error),
}

impl From<datafusion::arrow::error::ArrowError> for Error {
    fn from(e: datafusion::arrow::error::ArrowError) -> Self {
        Error::Sql(e.into())
    }
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
