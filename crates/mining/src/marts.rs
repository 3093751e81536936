//! Writing mining results back into the warehouse as `mart_*` tables, published atomically
//! as a new version (see `acrm_etl::marts`), so SQL can join them to the star schema.

use std::path::Path;

use chrono::NaiveDate;
use datafusion::arrow::array::RecordBatch;

use crate::Result;

/// Arrow `Date32` value (days since 1970-01-01) of a date.
pub fn date32(d: NaiveDate) -> i32 {
    (d - NaiveDate::default()).num_days() as i32
}

/// Publishes `tables` into a new version of the warehouse at `root`; returns its number.
pub fn publish(root: &Path, tables: &[(String, RecordBatch)]) -> Result<u64> {
    let (version, _) = acrm_etl::marts::publish_tables(root, tables)?;
    Ok(version)
}
