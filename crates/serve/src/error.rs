//! Errors of the serving layer.

use std::path::PathBuf;

/// What can go wrong starting or running the server or a cluster process.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The configuration file is wrong (the text says where and what).
    #[error("configuration: {0}")]
    Config(String),
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// TLS is configured but cannot be set up: the server does not start (no plaintext
    /// fallback).
    #[error("TLS: {0}")]
    Tls(String),
    /// The listen address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The warehouse could not be opened.
    #[error(transparent)]
    Olap(#[from] acrm_olap::Error),
    /// The warehouse has no published version, or its `current` link is broken.
    #[error(transparent)]
    Store(#[from] acrm_store::Error),
    /// Registering the model functions failed.
    #[error(transparent)]
    Mining(#[from] acrm_mining::Error),
    /// DataFusion failed.
    #[error(transparent)]
    DataFusion(#[from] datafusion::error::DataFusionError),
    /// A Ballista scheduler or executor failed.
    #[cfg(feature = "cluster")]
    #[error("cluster: {0}")]
    Cluster(String),
}

/// Result with [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
