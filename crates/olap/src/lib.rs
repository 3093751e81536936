//! acrm's OLAP layer: SQL over the current published warehouse version with Apache
//! DataFusion — the star-schema tables, mining marts, the semantic views of
//! `warehouse-schema/views/`, the named reports of `warehouse-schema/reports/`, the cube
//! aggregates of `warehouse-schema/aggregates.toml` that answer covered queries, with PII
//! masked by the engine for callers without the privileged role.
#![warn(missing_docs)]

pub mod aggregate;
pub mod engine;
mod error;
mod file;
pub mod frame;
mod guarded;
mod human;
mod lineage;
pub mod mask;
pub mod output;
mod point_lookup;
pub mod reports;
pub mod scope;
pub mod table;
mod verified;

pub use engine::{
    ColumnInfo, DEFAULT_CATALOG, Engine, EngineOptions, ObjectKind, TableInfo, default_memory_limit,
};
pub use error::{Error, Result};
pub use file::read_table_file;
pub use frame::{Column, Frame, Values};
pub use human::{cells as human_cells, human_table};
pub use output::{OutputFormat, write_results};
pub use reports::Report;
pub use scope::{RowScope, ScopeLevel};
pub use table::TableBuilder;
