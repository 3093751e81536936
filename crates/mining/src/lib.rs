//! acrm's customer analysis, in three layers:
//!
//! - [`algo`]: the kernels (k-means, CART, forest, gradient-boosted trees, logistic
//!   regression, FP-Growth, rules, BG/NBD and Gamma-Gamma, splits, metrics) with linfa-style
//!   checked parameters; numbers in, numbers out, nothing of SQL or the warehouse.
//! - [`analysis`]: the CRM analyses that read the warehouse through the OLAP layer (so SQL,
//!   masking and the published version are the same as for analysts) and turn kernel
//!   results into marts: customer features, RFM, segments, lifetime value, value tiers, lifecycle stages,
//!   alerts, market baskets, churn and credit scoring. [`analysis::ANALYSES`] is the
//!   registry the nightly refresh, `acrm mine`, the charts and the HTML report iterate; the
//!   marts are declared in `warehouse-schema/tables.toml` and published with
//!   `acrm_store::publish_tables`, or by the nightly build through
//!   [`analysis::refresh::MartRefresh`].
//! - [`model`]: the training pipeline of the predictive models (encoding, splits, fitting,
//!   evaluation), their registry in the warehouse, and the SQL functions that score with
//!   them.
#![warn(missing_docs)]

pub mod algo;
pub mod analysis;
mod error;
pub mod model;

pub use analysis::features::FeatureTable;
pub use error::{Error, Result};
