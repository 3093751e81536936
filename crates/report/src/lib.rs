//! acrm's analyst output: every analysis drawn as SVG (plotters) or PNG (the SVG rasterised
//! by resvg with the bundled DejaVu Sans font, so no system font is needed), and the
//! self-contained HTML report of the latest warehouse.
#![warn(missing_docs)]

pub mod chart;
mod error;
pub mod figures;
pub mod html;
pub mod summary;

pub use error::{Error, Result};
