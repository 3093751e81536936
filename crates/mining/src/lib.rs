//! acrm's customer analysis: features per customer as of a date (through the OLAP layer, so
//! SQL, masking and the published version are the same as for analysts), RFM scores and
//! segments, k-means segmentation with profiles, value tiers with CLV, lifecycle stages,
//! early-warning alerts, and the evaluation measures used to check them against planted
//! truth. Their result tables (marts, declared in `warehouse-schema/tables.toml`) are
//! published into the warehouse with `acrm_store::publish_tables`, or by the nightly build
//! through [`refresh::MartRefresh`], so SQL can join them; [`refresh::ANALYSES`] lists them.
#![warn(missing_docs)]

pub mod alerts;
pub mod basket;
mod error;
pub mod evaluate;
pub mod features;
pub mod kmeans;
pub mod lifecycle;
pub mod model;
pub mod refresh;
pub mod rfm;
pub mod segment;
pub mod table;
pub mod tree;
pub mod value;

pub use error::{Error, Result};
pub use features::FeatureTable;
