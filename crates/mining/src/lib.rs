//! acrm's customer analysis: features per customer as of a date (through the OLAP layer, so
//! SQL, masking and the published version are the same as for analysts), RFM scores and
//! segments, k-means segmentation with profiles, and the evaluation measures used to check
//! them against planted truth. Results are published as warehouse marts SQL can join.
#![warn(missing_docs)]

mod error;
pub mod evaluate;
pub mod features;
pub mod kmeans;
pub mod marts;
pub mod rfm;
pub mod segment;

pub use error::{Error, Result};
pub use features::FeatureTable;
