//! Table definitions: the published star schema and its Arrow form.

use std::sync::Arc;

use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use serde::Deserialize;

use crate::{Error, Result, Unit};

/// Text of `warehouse-schema/tables.toml` as compiled into this binary.
pub const TABLES_TOML: &str = include_str!("../../../warehouse-schema/tables.toml");

/// Precision of every money column: decimal(18, 2) holds up to 10^16 with exact cents.
pub const MONEY_PRECISION: u8 = 18;
/// Scale (decimals) of every money column.
pub const MONEY_SCALE: i8 = 2;

/// What role a table plays in the star schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TableKind {
    /// Descriptive table joined by surrogate key.
    Dimension,
    /// Measured events at a declared grain.
    Fact,
    /// Build bookkeeping (quarantine, reconciliation).
    Audit,
    /// Computed from a version by an analysis (mining results, alerts); not loaded by the build.
    Mart,
}

impl TableKind {
    /// Its name in `tables.toml` and the documentation.
    pub fn name(self) -> &'static str {
        match self {
            TableKind::Dimension => "dimension",
            TableKind::Fact => "fact",
            TableKind::Audit => "audit",
            TableKind::Mart => "mart",
        }
    }

    /// Loaded and written by the build (every kind but marts).
    pub fn is_built(self) -> bool {
        self != TableKind::Mart
    }
}

/// Logical column type; each maps to exactly one Arrow type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ColumnType {
    /// 32-bit integer.
    Int32,
    /// 64-bit integer.
    Int64,
    /// Unsigned 8-bit integer (scores 1-5).
    Uint8,
    /// Unsigned 32-bit integer (ranks, segment numbers).
    Uint32,
    /// 64-bit float (measures that are not money).
    Float64,
    /// Boolean.
    Bool,
    /// UTF-8 text.
    Utf8,
    /// Calendar day (Arrow Date32).
    Date,
    /// Instant with microsecond precision, UTC.
    Timestamp,
    /// Money: decimal(18, 2).
    Decimal,
}

impl ColumnType {
    /// The Arrow type the column is stored as.
    pub fn arrow_type(self) -> DataType {
        match self {
            ColumnType::Int32 => DataType::Int32,
            ColumnType::Int64 => DataType::Int64,
            ColumnType::Uint8 => DataType::UInt8,
            ColumnType::Uint32 => DataType::UInt32,
            ColumnType::Float64 => DataType::Float64,
            ColumnType::Bool => DataType::Boolean,
            ColumnType::Utf8 => DataType::Utf8,
            ColumnType::Date => DataType::Date32,
            ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            ColumnType::Decimal => DataType::Decimal128(MONEY_PRECISION, MONEY_SCALE),
        }
    }

    /// Name used in the schema files and documentation.
    pub fn name(self) -> &'static str {
        match self {
            ColumnType::Int32 => "int32",
            ColumnType::Int64 => "int64",
            ColumnType::Uint8 => "uint8",
            ColumnType::Uint32 => "uint32",
            ColumnType::Float64 => "float64",
            ColumnType::Bool => "bool",
            ColumnType::Utf8 => "utf8",
            ColumnType::Date => "date",
            ColumnType::Timestamp => "timestamp",
            ColumnType::Decimal => "decimal(18,2)",
        }
    }
}

/// How a PII column is shown to a caller without the privileged role.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaskRule {
    /// Nothing shown: text becomes `***`, other types null.
    #[default]
    Redact,
    /// First character, then `*` (names: 王小明 → 王*).
    FirstChar,
    /// Only the last four characters, after `*` (phones: +8613812345678 → ***5678).
    LastFour,
    /// First character of the local part and the domain (w***@example.com).
    Email,
    /// Dates: only the year (1 January of it), enough for age bands.
    Year,
}

fn yes() -> bool {
    true
}

/// One column of a published table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnDef {
    /// Column name.
    pub name: String,
    /// Logical type.
    #[serde(rename = "type")]
    pub column_type: ColumnType,
    /// Whether nulls are allowed (default true).
    #[serde(default = "yes")]
    pub nullable: bool,
    /// Personal data: masked by the OLAP layer unless privileged, never logged.
    #[serde(default)]
    pub pii: bool,
    /// How the OLAP layer masks this PII column for unprivileged users (default: redact).
    #[serde(default)]
    pub mask: MaskRule,
    /// For SCD2 dimensions: a change of this attribute opens a new version.
    #[serde(default)]
    pub history: bool,
    /// What a float column measures (a share prints as %), if it says.
    #[serde(default)]
    pub unit: Option<Unit>,
    /// What the column means.
    pub description: String,
}

/// One published table.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TableDef {
    /// Table name (also its folder name in the warehouse).
    pub name: String,
    /// Dimension, fact, audit or mart.
    pub kind: TableKind,
    /// For a mart: the analysis that computes it (`[marts] refresh` and `acrm mine` name it).
    #[serde(default)]
    pub analysis: Option<String>,
    /// What one row stands for.
    pub grain: String,
    /// What the table holds.
    pub description: String,
    /// Columns forming the (logical) primary key.
    pub primary_key: Vec<String>,
    /// Date column whose year names the hive partition folder (`year=YYYY`), if partitioned.
    #[serde(default)]
    pub partition_by: Option<String>,
    /// Row order within each written file.
    #[serde(default)]
    pub sort_by: Vec<String>,
    /// Columns whose Parquet row groups carry a bloom filter: point lookups by them (one
    /// order, one customer) skip the row groups that cannot hold the value, which min/max
    /// statistics cannot do for a column the rows are not sorted by.
    #[serde(default)]
    pub bloom_filter: Vec<String>,
    /// Columns in storage order.
    pub columns: Vec<ColumnDef>,
}

impl TableDef {
    /// The Arrow schema of the table's Parquet files (a column's unit in its metadata).
    pub fn arrow_schema(&self) -> SchemaRef {
        let fields: Vec<Field> = self
            .columns
            .iter()
            .map(|c| {
                let field = Field::new(&c.name, c.column_type.arrow_type(), c.nullable);
                match c.unit {
                    Some(unit) => unit.tag(field),
                    None => field,
                }
            })
            .collect();
        Arc::new(Schema::new(fields))
    }

    /// The column definition named `name`, if any.
    pub fn column(&self, name: &str) -> Option<&ColumnDef> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Names of the PII columns.
    pub fn pii_columns(&self) -> impl Iterator<Item = &str> {
        self.columns
            .iter()
            .filter(|c| c.pii)
            .map(|c| c.name.as_str())
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TablesFile {
    table: Vec<TableDef>,
}

/// The whole published schema.
#[derive(Debug, Clone)]
pub struct WarehouseSchema {
    tables: Vec<TableDef>,
}

impl WarehouseSchema {
    /// The schema compiled into this binary (`warehouse-schema/tables.toml`).
    pub fn builtin() -> Result<Self> {
        Self::parse(TABLES_TOML)
    }

    /// Parses and validates a `tables.toml` text.
    pub fn parse(text: &str) -> Result<Self> {
        const FILE: &str = "warehouse-schema/tables.toml";
        let file: TablesFile =
            toml::from_str(text).map_err(|source| Error::Parse { file: FILE, source })?;
        let schema = Self { tables: file.table };
        schema.validate().map_err(|message| Error::Invalid {
            file: FILE,
            message,
        })?;
        Ok(schema)
    }

    fn validate(&self) -> std::result::Result<(), String> {
        let mut names = std::collections::HashSet::new();
        for t in &self.tables {
            if !names.insert(t.name.as_str()) {
                return Err(format!("table '{}' is declared twice", t.name));
            }
            let mut cols = std::collections::HashSet::new();
            for c in &t.columns {
                if !cols.insert(c.name.as_str()) {
                    return Err(format!(
                        "table '{}': column '{}' is declared twice",
                        t.name, c.name
                    ));
                }
                if c.history && t.kind != TableKind::Dimension {
                    return Err(format!(
                        "table '{}': only dimensions track history ('{}')",
                        t.name, c.name
                    ));
                }
            }
            if (t.kind == TableKind::Mart) != t.analysis.is_some() {
                return Err(format!(
                    "table '{}': a mart names the analysis that computes it, other tables do not",
                    t.name
                ));
            }
            let named = t
                .primary_key
                .iter()
                .chain(&t.sort_by)
                .chain(&t.bloom_filter)
                .chain(t.partition_by.iter());
            for key in named {
                if t.column(key).is_none() {
                    return Err(format!(
                        "table '{}': key/sort/partition/bloom filter column '{key}' is not a column",
                        t.name
                    ));
                }
            }
            if let Some(p) = &t.partition_by
                && t.column(p).map(|c| c.column_type) != Some(ColumnType::Date)
            {
                return Err(format!(
                    "table '{}': partition column '{p}' must be a date",
                    t.name
                ));
            }
        }
        Ok(())
    }

    /// Every table, in declaration order.
    pub fn tables(&self) -> &[TableDef] {
        &self.tables
    }

    /// The tables the build loads and writes (every kind but marts), in declaration order.
    pub fn built_tables(&self) -> impl Iterator<Item = &TableDef> {
        self.tables.iter().filter(|t| t.kind.is_built())
    }

    /// The marts, in declaration order.
    pub fn marts(&self) -> impl Iterator<Item = &TableDef> {
        self.tables.iter().filter(|t| t.kind == TableKind::Mart)
    }

    /// Names of the analyses that compute marts, each once, in declaration order.
    pub fn analyses(&self) -> Vec<&str> {
        let mut out: Vec<&str> = Vec::new();
        for a in self.marts().filter_map(|t| t.analysis.as_deref()) {
            if !out.contains(&a) {
                out.push(a);
            }
        }
        out
    }

    /// The table named `name`.
    pub fn table(&self, name: &str) -> Result<&TableDef> {
        self.tables
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| Error::UnknownTable(name.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_schema_loads_with_all_required_tables() {
        let s = WarehouseSchema::builtin().expect("builtin schema");
        for name in [
            "dim_customer",
            "dim_product",
            "dim_date",
            "dim_channel",
            "dim_branch",
            "dim_campaign",
            "fact_sales",
            "fact_service",
            "fact_campaign_response",
            "fact_receivable",
            "fact_credit_application",
            "fact_sales_plan",
            "etl_quarantine",
            "etl_load_audit",
        ] {
            assert!(s.table(name).is_ok(), "{name} missing");
        }
        let cust = s.table("dim_customer").expect("dim_customer");
        assert!(cust.column("phone").expect("phone").pii);
        assert!(cust.column("city").expect("city").history);
        assert_eq!(
            cust.arrow_schema()
                .field_with_name("income")
                .expect("income")
                .data_type(),
            &DataType::Decimal128(18, 2)
        );
    }

    #[test]
    fn invalid_schema_is_rejected_with_the_reason() {
        let text = r#"
[[table]]
name = "t"
kind = "fact"
grain = "g"
description = "d"
primary_key = ["nope"]
columns = [{ name = "a", type = "int32", description = "x" }]
"#;
        let err = WarehouseSchema::parse(text)
            .expect_err("must fail")
            .to_string();
        assert!(err.contains("'nope' is not a column"), "{err}");
        let bad_type = text.replace("int32", "int128");
        assert!(WarehouseSchema::parse(&bad_type).is_err());
    }
}
