//! acrm's warehouse on disk, and its only owner: every crate reads and writes versions
//! through this one.
//!
//! ```text
//! WAREHOUSE/
//!   .lock                      advisory lock held by a running build or publish
//!   current -> versions/v000003  the published version (a symlink, switched by rename)
//!   versions/v000003/          complete versions; the last `keep_versions` are kept
//!     manifest.json            what was loaded, reconciliation, row counts, mart lineage,
//!                              every file's size and BLAKE3
//!     .lease                   readers hold a shared lock on it; pruning waits for them
//!     dim_customer/part-0.parquet
//!     fact_sales/year=2024/part-pos-2024-12-31-1a2b3c4d.parquet
//!     mart_rfm/part-0.parquet  a derived table (computed from a version, carried forward)
//!     _state/customer_records/part-0.parquet   build state (not a published table)
//!   versions/.tmp-v000004-PID/ a version being written (removed by the next writer if it died)
//! ```
//! - [`warehouse`]: versions, the `current` link, the lock, begin / publish / prune / clean.
//! - [`manifest`]: `manifest.json`, typed.
//! - [`parquet`] and [`layout`]: how a table's Parquet files are written and laid out.
//! - [`integrity`]: sealing a version (synced, every file's checksum in its manifest) and
//!   verifying it.
//! - [`lease`]: readers' leases, so pruning never removes a version being read.
//! - [`publish`]: derived tables (marts) written into a version, or published as a new one.
#![warn(missing_docs)]

pub mod crash;
mod error;
pub mod integrity;
pub mod layout;
pub mod lease;
pub mod manifest;
pub mod parquet;
pub mod publish;
pub mod warehouse;

pub use error::{Error, Result, io};
pub use manifest::{ChangeKind, Conflict, Derived, IdentityChange, LoadedFile, Manifest};
pub use publish::{
    DeriveTables, RefreshAggregates, carry_forward, is_aggregate_table, publish_tables,
    write_tables,
};
pub use warehouse::{At, BuildLock, Pinned, Warehouse};
