//! acrm's charts: every analysis drawn as SVG with plotters (text as SVG text, so no font
//! files are needed).
#![warn(missing_docs)]

pub mod chart;
mod error;
pub mod figures;

pub use error::{Error, Result};
