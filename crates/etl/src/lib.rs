//! acrm's nightly build: operational exports → validated, cleansed, identity-resolved
//! Parquet star schema, published atomically.
//!
//! Entry point: [`build::build`] with a [`config::BuildConfig`] loaded from `acrm.toml`.
#![warn(missing_docs)]

pub mod build;
pub mod config;
pub mod datefmt;
pub mod dims;
pub mod discover;
mod error;
pub mod fact_loader;
pub mod facts;
pub mod frames;
pub mod identity;
mod jsonrow;
pub mod keyfilter;
pub mod keys;
pub mod parse;
pub mod read;
pub mod record;
pub mod scan;
pub mod sink;
pub mod stage;
pub mod value;

pub use build::{BuildOptions, BuildReport, NoProgress, Outcome, Progress, build};
pub use config::{BuildConfig, MartsConfig};
pub use error::{Error, Result};
