//! Query results as typed columns with missing values: what a warehouse query or a
//! CSV/Parquet file gives, read once into numbers, yes/no values, text and days, for the
//! code that works row by row on them (model training and scoring, charts).

use datafusion::arrow::array::{AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Date32Type, Float64Type};

use datafusion::arrow::temporal_conversions::date32_to_datetime;

use crate::{Error, Result};

/// The values of one column; `None` is missing.
#[derive(Debug, Clone, PartialEq)]
pub enum Values {
    /// Numbers (integers, decimals, floats).
    Numeric(Vec<Option<f64>>),
    /// Yes/no values.
    Boolean(Vec<Option<bool>>),
    /// Text (categories, ids).
    Text(Vec<Option<String>>),
    /// Calendar days since 1970-01-01 (time columns of a time-aware split).
    Date(Vec<Option<i32>>),
}

/// A named column.
#[derive(Debug, Clone, PartialEq)]
pub struct Column {
    /// Column name.
    pub name: String,
    /// Its values, one per row.
    pub values: Values,
}

impl Column {
    /// The value of row `i` as text (classes and ids): numbers without a trailing `.0`.
    pub fn text(&self, i: usize) -> Option<String> {
        match &self.values {
            Values::Numeric(v) => v[i].map(|x| {
                if x.fract() == 0.0 && x.abs() < 1e15 {
                    format!("{}", x as i64)
                } else {
                    x.to_string()
                }
            }),
            Values::Boolean(v) => v[i].map(|b| b.to_string()),
            Values::Text(v) => v[i].clone(),
            Values::Date(v) => v[i].map(day_text),
        }
    }

    fn take(&self, rows: &[usize]) -> Self {
        fn pick<T: Clone>(v: &[T], rows: &[usize]) -> Vec<T> {
            rows.iter().map(|&r| v[r].clone()).collect()
        }
        let values = match &self.values {
            Values::Numeric(v) => Values::Numeric(pick(v, rows)),
            Values::Boolean(v) => Values::Boolean(pick(v, rows)),
            Values::Text(v) => Values::Text(pick(v, rows)),
            Values::Date(v) => Values::Date(pick(v, rows)),
        };
        Self {
            name: self.name.clone(),
            values,
        }
    }
}

/// Rows of typed columns.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Frame {
    /// Columns in source order.
    pub columns: Vec<Column>,
    /// Number of rows.
    pub rows: usize,
}

impl Frame {
    /// Reads every column of `batches`: integer, decimal and float columns as numbers,
    /// booleans, dates, and text (any other type is read as its text form).
    pub fn from_batches(batches: &[RecordBatch]) -> Result<Self> {
        let Some(first) = batches.first() else {
            return Ok(Self::default());
        };
        let schema = first.schema();
        let mut columns = Vec::new();
        for (c, field) in schema.fields().iter().enumerate() {
            let arrays: Vec<_> = batches.iter().map(|b| b.column(c).clone()).collect();
            let cast_all = |to: &DataType| -> Result<Vec<_>> {
                arrays
                    .iter()
                    .map(|a| cast(a, to).map_err(Error::from))
                    .collect()
            };
            let values = match field.data_type() {
                t if t.is_numeric() => Values::Numeric(
                    cast_all(&DataType::Float64)?
                        .iter()
                        .flat_map(|a| a.as_primitive::<Float64Type>().iter().collect::<Vec<_>>())
                        .collect(),
                ),
                DataType::Boolean => Values::Boolean(
                    arrays
                        .iter()
                        .flat_map(|a| a.as_boolean().iter().collect::<Vec<_>>())
                        .collect(),
                ),
                DataType::Date32 | DataType::Date64 | DataType::Timestamp(..) => Values::Date(
                    cast_all(&DataType::Date32)?
                        .iter()
                        .flat_map(|a| a.as_primitive::<Date32Type>().iter().collect::<Vec<_>>())
                        .collect(),
                ),
                _ => Values::Text(
                    cast_all(&DataType::Utf8)?
                        .iter()
                        .flat_map(|a| {
                            a.as_string::<i32>()
                                .iter()
                                .map(|v| v.map(str::to_string))
                                .collect::<Vec<_>>()
                        })
                        .collect(),
                ),
            };
            columns.push(Column {
                name: field.name().clone(),
                values,
            });
        }
        let rows = batches.iter().map(RecordBatch::num_rows).sum();
        Ok(Self { columns, rows })
    }

    /// The column called `name`.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// The column called `name`, or an error listing the columns there are.
    pub fn require(&self, name: &str, role: &str) -> Result<&Column> {
        self.column(name).ok_or_else(|| Error::MissingColumn {
            role: role.to_string(),
            name: name.to_string(),
            columns: self.names().join(", "),
        })
    }

    /// Column names in order.
    pub fn names(&self) -> Vec<String> {
        self.columns.iter().map(|c| c.name.clone()).collect()
    }

    /// Names of the date columns.
    pub fn date_columns(&self) -> Vec<String> {
        self.columns
            .iter()
            .filter(|c| matches!(c.values, Values::Date(_)))
            .map(|c| c.name.clone())
            .collect()
    }

    /// The rows at `rows`, in that order.
    pub fn take(&self, rows: &[usize]) -> Self {
        Self {
            columns: self.columns.iter().map(|c| c.take(rows)).collect(),
            rows: rows.len(),
        }
    }
}

/// A day number (days since 1970-01-01) as `YYYY-MM-DD`.
fn day_text(day: i32) -> String {
    date32_to_datetime(day).map_or_else(|| day.to_string(), |d| d.date().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{BooleanArray, Date32Array, Int32Array, StringArray};
    use datafusion::arrow::datatypes::{Field, Schema};
    use std::sync::Arc;

    #[test]
    fn reads_typed_columns_with_missing_values_across_batches() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("n", DataType::Int32, true),
            Field::new("b", DataType::Boolean, true),
            Field::new("s", DataType::Utf8, true),
            Field::new("d", DataType::Date32, true),
        ]));
        let batch = |n: Vec<Option<i32>>, b, s: Vec<Option<&str>>, d| {
            RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(Int32Array::from(n)),
                    Arc::new(BooleanArray::from(b)),
                    Arc::new(StringArray::from(s)),
                    Arc::new(Date32Array::from(d)),
                ],
            )
            .expect("batch")
        };
        let frame = Frame::from_batches(&[
            batch(
                vec![Some(1)],
                vec![Some(true)],
                vec![Some("a")],
                vec![Some(0)],
            ),
            batch(vec![None], vec![None], vec![None], vec![Some(365)]),
        ])
        .expect("frame");
        assert_eq!(frame.rows, 2);
        assert_eq!(
            frame.columns[0].values,
            Values::Numeric(vec![Some(1.0), None])
        );
        assert_eq!(
            frame.columns[1].values,
            Values::Boolean(vec![Some(true), None])
        );
        assert_eq!(frame.columns[2].text(0).as_deref(), Some("a"));
        assert_eq!(frame.columns[3].text(1).as_deref(), Some("1971-01-01"));
        assert_eq!(frame.columns[0].text(0).as_deref(), Some("1"));
        assert_eq!(
            frame.take(&[1]).columns[3].values,
            Values::Date(vec![Some(365)])
        );
        assert!(frame.require("x", "target").is_err());
    }
}
