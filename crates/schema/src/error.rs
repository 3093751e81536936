//! Errors raised while loading the schema definitions.

/// Everything that can go wrong loading `warehouse-schema/`.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The TOML text does not parse or does not match the expected shape.
    #[error("{file}: {source}")]
    Parse {
        /// Which definition file.
        file: &'static str,
        /// The TOML error, with line and column.
        #[source]
        source: toml::de::Error,
    },
    /// The definitions parse but contradict themselves (unknown column in a key, duplicates...).
    #[error("{file}: {message}")]
    Invalid {
        /// Which definition file.
        file: &'static str,
        /// What is wrong.
        message: String,
    },
    /// A table name that the schema does not declare.
    #[error("unknown table '{0}'")]
    UnknownTable(String),
}

/// Result with this crate's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;
