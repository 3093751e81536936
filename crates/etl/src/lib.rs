//! acrm's nightly build: operational exports → validated, cleansed, identity-resolved
//! Parquet star schema, published atomically.
#![warn(missing_docs)]

pub mod config;
mod error;
pub mod value;

pub use error::{Error, Result};
