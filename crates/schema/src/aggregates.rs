//! Cube aggregates: `warehouse-schema/aggregates.toml` declares tables of pre-summed facts
//! (a grain of dimension columns of a view or fact table, and measures over its rows) that
//! the nightly build keeps up to date and the OLAP layer answers covered queries from; and
//! the materialized reports, canned reports whose whole result the build stores.

use serde::Deserialize;

use crate::sql::{REPORTS, VIEWS};
use crate::{Error, Result, TableKind, WarehouseSchema};

/// Text of `warehouse-schema/aggregates.toml` as compiled into this binary.
pub const AGGREGATES_TOML: &str = include_str!("../../../warehouse-schema/aggregates.toml");

/// How a measure summarises the rows of a cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MeasureFunction {
    /// Rows (`column = "*"`) or non-null values.
    Count,
    /// Sum of an integer or decimal column (exact, so sums of sums are the sum).
    Sum,
    /// Least value.
    Min,
    /// Greatest value.
    Max,
    /// The set of distinct values, as a bitmap: unions of cells count exactly what
    /// `count(DISTINCT column)` over their rows counts.
    CountDistinct,
}

impl MeasureFunction {
    /// Its name in `aggregates.toml` and in stored column names.
    pub fn name(self) -> &'static str {
        match self {
            MeasureFunction::Count => "count",
            MeasureFunction::Sum => "sum",
            MeasureFunction::Min => "min",
            MeasureFunction::Max => "max",
            MeasureFunction::CountDistinct => "count_distinct",
        }
    }
}

/// One measure of an aggregate.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeasureDef {
    /// Column of the source it summarises; `*` for `count` of rows.
    pub column: String,
    /// How.
    pub function: MeasureFunction,
}

impl MeasureDef {
    /// Name of the stored column: `count_all` for rows, else `<function>_<column>`.
    pub fn stored_name(&self) -> String {
        if self.column == "*" {
            format!("{}_all", self.function.name())
        } else {
            format!("{}_{}", self.function.name(), self.column)
        }
    }
}

/// One declared aggregate.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AggregateDef {
    /// Table name (`agg_…`).
    pub name: String,
    /// What it holds.
    pub description: String,
    /// The view or table whose rows it sums.
    pub source: String,
    /// The partitioned fact table the source's rows come from: the aggregate is stored in the
    /// same year partitions, and a night recomputes only those whose fact files changed.
    pub fact: String,
    /// Columns of the source it groups by (no personal data: an aggregate is not masked).
    pub grain: Vec<String>,
    /// What it keeps of each cell.
    pub measures: Vec<MeasureDef>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AggregatesFile {
    #[serde(default)]
    materialized_reports: Vec<String>,
    #[serde(default)]
    aggregate: Vec<AggregateDef>,
}

const FILE: &str = "warehouse-schema/aggregates.toml";

/// The aggregates compiled into this binary, checked against the built-in schema.
pub fn builtin_aggregates() -> Result<Vec<AggregateDef>> {
    parse_aggregates(AGGREGATES_TOML, &WarehouseSchema::builtin()?)
}

/// The table holding materialized report `report`'s result: `rpt_<report>`.
pub fn materialized_table(report: &str) -> String {
    format!("{MATERIALIZED_PREFIX}{report}")
}

/// Prefix of the materialized reports' tables.
pub const MATERIALIZED_PREFIX: &str = "rpt_";

/// The built-in reports (by name) whose whole result the nightly build stores, as
/// `aggregates.toml` compiled into this binary names them.
pub fn builtin_materialized_reports() -> Result<Vec<String>> {
    Ok(parse_file(AGGREGATES_TOML, &WarehouseSchema::builtin()?)?.materialized_reports)
}

/// Parses and checks an `aggregates.toml` text against `schema`: unique `agg_` names that
/// no table has, a source that is a view or table, a partitioned fact, a grain and
/// measures without repeats, `*` only for `count`; materialized reports that are built-in
/// reports, each named once.
pub fn parse_aggregates(text: &str, schema: &WarehouseSchema) -> Result<Vec<AggregateDef>> {
    Ok(parse_file(text, schema)?.aggregate)
}

fn parse_file(text: &str, schema: &WarehouseSchema) -> Result<AggregatesFile> {
    let file: AggregatesFile =
        toml::from_str(text).map_err(|source| Error::Parse { file: FILE, source })?;
    validate(&file.aggregate, schema)
        .and_then(|()| validate_reports(&file.materialized_reports))
        .map_err(|message| Error::Invalid {
            file: FILE,
            message,
        })?;
    Ok(file)
}

fn validate_reports(reports: &[String]) -> std::result::Result<(), String> {
    let mut seen = std::collections::HashSet::new();
    for r in reports {
        if !REPORTS.iter().any(|(name, _)| name == r) {
            return Err(format!(
                "materialized report '{r}' is not a built-in report (warehouse-schema/reports/)"
            ));
        }
        if !seen.insert(r) {
            return Err(format!("materialized report '{r}' is named twice"));
        }
    }
    Ok(())
}

fn validate(
    aggregates: &[AggregateDef],
    schema: &WarehouseSchema,
) -> std::result::Result<(), String> {
    let mut names = std::collections::HashSet::new();
    for a in aggregates {
        let name = &a.name;
        if !names.insert(name.as_str()) {
            return Err(format!("aggregate '{name}' is declared twice"));
        }
        if !name.starts_with("agg_") || schema.table(name).is_ok() {
            return Err(format!(
                "aggregate '{name}': its name must start with agg_ and be no table's"
            ));
        }
        if schema.table(&a.source).is_err() && !VIEWS.iter().any(|(v, _)| *v == a.source) {
            return Err(format!(
                "aggregate '{name}': source '{}' is neither a table nor a view",
                a.source
            ));
        }
        let fact = schema.table(&a.fact).ok();
        if !fact.is_some_and(|t| t.kind == TableKind::Fact && t.partition_by.is_some()) {
            return Err(format!(
                "aggregate '{name}': '{}' is not a partitioned fact table",
                a.fact
            ));
        }
        if a.grain.is_empty() || a.measures.is_empty() {
            return Err(format!("aggregate '{name}' needs a grain and measures"));
        }
        let mut stored = std::collections::HashSet::new();
        for column in a
            .grain
            .iter()
            .cloned()
            .chain(a.measures.iter().map(MeasureDef::stored_name))
        {
            if !stored.insert(column.clone()) {
                return Err(format!(
                    "aggregate '{name}': column '{column}' is declared twice"
                ));
            }
        }
        if let Some(m) = a
            .measures
            .iter()
            .find(|m| m.column == "*" && m.function != MeasureFunction::Count)
        {
            return Err(format!(
                "aggregate '{name}': only count takes '*', not {}",
                m.function.name()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> WarehouseSchema {
        WarehouseSchema::builtin().expect("schema")
    }

    #[test]
    fn builtin_aggregates_parse() {
        let aggregates = parse_aggregates(AGGREGATES_TOML, &schema()).expect("aggregates");
        assert!(!aggregates.is_empty());
        assert!(aggregates.iter().all(|a| a.name.starts_with("agg_")));
        assert!(!builtin_materialized_reports().expect("reports").is_empty());
    }

    #[test]
    fn mistakes_are_named() {
        let base = |extra: &str| {
            format!(
                "[[aggregate]]\nname = \"agg_x\"\ndescription = \"d\"\nsource = \"sales_cube\"\nfact = \"fact_sales\"\n{extra}"
            )
        };
        let cases = [
            (
                base("grain = [\"category\"]\nmeasures = [{ column = \"*\", function = \"sum\" }]"),
                "only count takes '*'",
            ),
            (
                base("grain = [\"category\", \"category\"]\nmeasures = [{ column = \"*\", function = \"count\" }]"),
                "declared twice",
            ),
            (
                base("grain = []\nmeasures = []"),
                "needs a grain",
            ),
            (
                "[[aggregate]]\nname = \"agg_x\"\ndescription = \"d\"\nsource = \"nope\"\nfact = \"fact_sales\"\ngrain = [\"a\"]\nmeasures = [{ column = \"*\", function = \"count\" }]".to_string(),
                "neither a table nor a view",
            ),
            (
                "[[aggregate]]\nname = \"agg_x\"\ndescription = \"d\"\nsource = \"sales_cube\"\nfact = \"dim_date\"\ngrain = [\"a\"]\nmeasures = [{ column = \"*\", function = \"count\" }]".to_string(),
                "not a partitioned fact",
            ),
            (
                "materialized_reports = [\"nope\"]".to_string(),
                "not a built-in report",
            ),
            (
                "materialized_reports = [\"top_customers\", \"top_customers\"]".to_string(),
                "named twice",
            ),
            (
                "[[aggregate]]\nname = \"dim_date\"\ndescription = \"d\"\nsource = \"sales_cube\"\nfact = \"fact_sales\"\ngrain = [\"a\"]\nmeasures = [{ column = \"*\", function = \"count\" }]".to_string(),
                "must start with agg_",
            ),
        ];
        for (text, expected) in cases {
            let err = parse_aggregates(&text, &schema())
                .expect_err(&text)
                .to_string();
            assert!(err.contains(expected), "{err} lacks {expected}");
        }
    }
}
