//! The acrm star schema as data.
//!
//! `warehouse-schema/tables.toml` declares every published table (columns, types, keys,
//! partitioning, PII and history flags) and `warehouse-schema/sources.toml` the canonical
//! fields each kind of source export can feed. Both are embedded at compile time so the
//! binary and the files can never disagree; every other crate asks this one for Arrow
//! schemas instead of spelling columns out again.
#![warn(missing_docs)]

mod aggregates;
mod error;
mod markdown;
mod sources;
mod sql;
mod tables;
mod unit;

pub use aggregates::{
    AGGREGATES_TOML, AggregateDef, MATERIALIZED_PREFIX, MeasureDef, MeasureFunction,
    builtin_aggregates, builtin_materialized_reports, materialized_table, parse_aggregates,
};
pub use error::{Error, Result};
pub use markdown::render_markdown;
pub use sources::{
    ChannelDef, EntityDef, EntityKind, FieldDef, FieldType, SOURCES_TOML, SourceCatalog,
};
pub use sql::{REPORTS, VIEWS};
pub use tables::{
    ColumnDef, ColumnType, MONEY_PRECISION, MONEY_SCALE, MaskRule, TABLES_TOML, TableDef,
    TableKind, WarehouseSchema,
};
pub use unit::{UNIT_KEY, Unit};
