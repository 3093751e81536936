//! The acrm star schema as data.
//!
//! `warehouse-schema/tables.toml` declares every published table (columns, types, keys,
//! partitioning, PII and history flags) and `warehouse-schema/sources.toml` the canonical
//! fields each kind of source export can feed. Both are embedded at compile time so the
//! binary and the files can never disagree; every other crate asks this one for Arrow
//! schemas instead of spelling columns out again.
#![warn(missing_docs)]

mod error;
mod markdown;
mod sources;
mod tables;

pub use error::{Error, Result};
pub use markdown::render_markdown;
pub use sources::{ChannelDef, EntityDef, EntityKind, FieldDef, FieldType, SourceCatalog};
pub use tables::{
    ColumnDef, ColumnType, MONEY_PRECISION, MONEY_SCALE, TableDef, TableKind, WarehouseSchema,
};

/// Text of `warehouse-schema/tables.toml` as compiled into this binary.
pub const TABLES_TOML: &str = include_str!("../../../warehouse-schema/tables.toml");
/// Text of `warehouse-schema/sources.toml` as compiled into this binary.
pub const SOURCES_TOML: &str = include_str!("../../../warehouse-schema/sources.toml");
