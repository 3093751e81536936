//! Errors of the report layer.

/// Everything drawing and writing charts can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A chart has nothing to draw, or values that cannot be drawn.
    #[error("chart '{title}': {message}")]
    Data {
        /// The chart's title.
        title: String,
        /// What is wrong.
        message: String,
    },
    /// plotters failed to draw.
    #[error("drawing chart '{title}': {message}")]
    Draw {
        /// The chart's title.
        title: String,
        /// plotters' message.
        message: String,
    },
    /// Rasterising the SVG to PNG failed.
    #[error("rendering chart '{title}' as PNG: {message}")]
    Render {
        /// The chart's title.
        title: String,
        /// What failed.
        message: String,
    },
    /// A warehouse query behind a report failed.
    #[error(transparent)]
    Olap(#[from] acrm_olap::Error),
    /// Reading a model or building a table failed.
    #[error(transparent)]
    Mining(#[from] acrm_mining::Error),
    /// Writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: std::path::PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The file name says neither .svg nor .png.
    #[error("{0}: give a .svg or .png file name")]
    Format(std::path::PathBuf),
}

/// Result with this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;
