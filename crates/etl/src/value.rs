//! Typed cell values and their conversion to and from Arrow, driven by the schema's column
//! types, so dimension and fact code build plain rows and never touch Arrow builders.

use std::sync::Arc;

use acrm_schema::{ColumnType, TableDef};
pub use compact_str::CompactString;
use datafusion::arrow::array::{
    Array, ArrayRef, AsArray, BooleanBuilder, Date32Builder, Decimal128Builder, Float64Builder,
    Int64Builder, RecordBatch, StringBuilder, TimestampMicrosecondBuilder,
};
use datafusion::arrow::compute::{CastOptions, cast_with_options, concat_batches, max, min};
use datafusion::arrow::datatypes::{
    Date32Type, Decimal128Type, Float64Type, Int32Type, Int64Type, TimestampMicrosecondType,
    UInt8Type, UInt32Type,
};

use rayon::prelude::*;

use crate::{Error, Result};

/// A hash map for the build's in-memory lookups (dimension keys, source ids): foldhash, with
/// a fixed seed. SipHash's resistance to flooding is not needed for keys the company's own
/// exports bring, and these maps are probed for every fact line.
pub type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::FixedState>;

/// One cell. Money is held in cents, dates as days since 1970-01-01, instants as UTC microseconds.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Missing.
    Null,
    /// Text: held inline up to 24 bytes (names, phones, codes, cities — most of a
    /// customer's fields), so a million customer records and their dimension rows are not
    /// ten million small heap allocations.
    Str(CompactString),
    /// Whole number.
    Int(i64),
    /// Money in cents.
    Money(i64),
    /// Days since the epoch.
    Date(i32),
    /// An instant (UTC microseconds) and its calendar day in the source's time zone.
    Ts {
        /// Microseconds since the epoch, UTC.
        micros: i64,
        /// Local day.
        day: i32,
    },
    /// Yes/no.
    Bool(bool),
    /// Float measure.
    Float(f64),
}

impl Value {
    /// True for [`Value::Null`].
    pub fn is_null(&self) -> bool {
        matches!(self, Value::Null)
    }

    /// The text, if this is text.
    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    /// The number, for whole numbers and money (cents).
    pub fn as_i64(&self) -> Option<i64> {
        match self {
            Value::Int(v) | Value::Money(v) => Some(*v),
            _ => None,
        }
    }

    /// The day, for dates and instants (local day).
    pub fn as_day(&self) -> Option<i32> {
        match self {
            Value::Date(d) | Value::Ts { day: d, .. } => Some(*d),
            _ => None,
        }
    }

    /// The yes/no, if this is one.
    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }
}

/// Rows converted to Arrow at a time, each piece on a core of its own.
const PIECE_ROWS: usize = 16_384;

/// Builds a batch with `table`'s schema from rows in column order. Rows are read once, row
/// by row, into every column's builder (a row's cells lie together in memory; walking all
/// rows once per column missed the cache on every cell of a large chunk), a piece of rows
/// on each core.
pub fn rows_to_batch(table: &TableDef, rows: &[Vec<Value>]) -> Result<RecordBatch> {
    if rows.len() <= PIECE_ROWS {
        return piece_to_batch(table, rows);
    }
    let pieces = rows_to_batches(table, rows)?;
    Ok(concat_batches(&table.arrow_schema(), &pieces)?)
}

/// [`rows_to_batch`] without joining the pieces: for a table written to a file as it is, a
/// million rows are not held twice (the pieces and their concatenation). At least one batch,
/// so an empty table still gets its file and schema.
pub fn rows_to_batches(table: &TableDef, rows: &[Vec<Value>]) -> Result<Vec<RecordBatch>> {
    if rows.len() <= PIECE_ROWS {
        return Ok(vec![piece_to_batch(table, rows)?]);
    }
    rows.par_chunks(PIECE_ROWS)
        .map(|piece| piece_to_batch(table, piece))
        .collect()
}

/// Rows made by `row` from `items` and converted a piece at a time on every core, so that
/// only the pieces in flight exist as rows (a copy of a million customer records as rows
/// would cost more than the records).
pub fn items_to_batches<T: Sync>(
    table: &TableDef,
    items: &[T],
    row: impl Fn(&T) -> Vec<Value> + Sync,
) -> Result<Vec<RecordBatch>> {
    if items.is_empty() {
        return Ok(vec![piece_to_batch(table, &[])?]);
    }
    items
        .par_chunks(PIECE_ROWS)
        .map(|piece| piece_to_batch(table, &piece.iter().map(&row).collect::<Vec<_>>()))
        .collect()
}

/// [`rows_to_batch`] of one piece of rows.
fn piece_to_batch(table: &TableDef, rows: &[Vec<Value>]) -> Result<RecordBatch> {
    let mut builders: Vec<ColumnBuilder> = table
        .columns
        .iter()
        .map(|c| ColumnBuilder::new(c.column_type, rows.len()))
        .collect();
    for row in rows {
        for (i, b) in builders.iter_mut().enumerate() {
            let v = row.get(i).unwrap_or(&Value::Null);
            if !b.push(v) {
                let col = &table.columns[i];
                return Err(Error::Arrow(
                    datafusion::arrow::error::ArrowError::InvalidArgumentError(format!(
                        "{}.{}: value {v:?} does not fit {}",
                        table.name,
                        col.name,
                        col.column_type.name()
                    )),
                ));
            }
        }
    }
    let arrays = builders
        .into_iter()
        .zip(&table.columns)
        .map(|(b, c)| b.finish(c.column_type))
        .collect::<Result<Vec<ArrayRef>>>()?;
    Ok(RecordBatch::try_new(table.arrow_schema(), arrays)?)
}

/// An Arrow builder for one column type.
enum ColumnBuilder {
    Str(StringBuilder),
    /// Every integer type is built as Int64 and narrowed at the end.
    Int(Int64Builder),
    Float(Float64Builder),
    Bool(BooleanBuilder),
    Date(Date32Builder),
    Ts(TimestampMicrosecondBuilder),
    Money(Decimal128Builder),
}

impl ColumnBuilder {
    fn new(ty: ColumnType, rows: usize) -> Self {
        match ty {
            ColumnType::Utf8 => Self::Str(StringBuilder::with_capacity(rows, rows * 8)),
            ColumnType::Int32 | ColumnType::Int64 | ColumnType::Uint8 | ColumnType::Uint32 => {
                Self::Int(Int64Builder::with_capacity(rows))
            }
            ColumnType::Float64 => Self::Float(Float64Builder::with_capacity(rows)),
            ColumnType::Bool => Self::Bool(BooleanBuilder::with_capacity(rows)),
            ColumnType::Date => Self::Date(Date32Builder::with_capacity(rows)),
            ColumnType::Timestamp => {
                Self::Ts(TimestampMicrosecondBuilder::with_capacity(rows).with_timezone("UTC"))
            }
            ColumnType::Decimal => Self::Money(Decimal128Builder::with_capacity(rows)),
        }
    }

    /// Appends `v`; false when it does not fit the column's type.
    fn push(&mut self, v: &Value) -> bool {
        match (self, v) {
            (Self::Str(b), Value::Str(s)) => b.append_value(s),
            (Self::Int(b), Value::Int(n)) => b.append_value(*n),
            (Self::Float(b), Value::Float(f)) => b.append_value(*f),
            (Self::Bool(b), Value::Bool(x)) => b.append_value(*x),
            (Self::Date(b), Value::Date(d) | Value::Ts { day: d, .. }) => b.append_value(*d),
            (Self::Ts(b), Value::Ts { micros, .. }) => b.append_value(*micros),
            (Self::Money(b), Value::Money(c)) => b.append_value(i128::from(*c)),
            (Self::Str(b), Value::Null) => b.append_null(),
            (Self::Int(b), Value::Null) => b.append_null(),
            (Self::Float(b), Value::Null) => b.append_null(),
            (Self::Bool(b), Value::Null) => b.append_null(),
            (Self::Date(b), Value::Null) => b.append_null(),
            (Self::Ts(b), Value::Null) => b.append_null(),
            (Self::Money(b), Value::Null) => b.append_null(),
            _ => return false,
        }
        true
    }

    /// The column as an array of column type `ty`.
    fn finish(self, ty: ColumnType) -> Result<ArrayRef> {
        Ok(match self {
            Self::Str(mut b) => Arc::new(b.finish()),
            Self::Int(mut b) => {
                let wide: ArrayRef = Arc::new(b.finish());
                // A value out of the narrower type's range is an error, not a wrapped number.
                let strict = CastOptions {
                    safe: false,
                    ..Default::default()
                };
                cast_with_options(&wide, &ty.arrow_type(), &strict)?
            }
            Self::Float(mut b) => Arc::new(b.finish()),
            Self::Bool(mut b) => Arc::new(b.finish()),
            Self::Date(mut b) => Arc::new(b.finish()),
            Self::Ts(mut b) => Arc::new(b.finish()),
            Self::Money(mut b) => Arc::new(b.finish().with_precision_and_scale(
                acrm_schema::MONEY_PRECISION,
                acrm_schema::MONEY_SCALE,
            )?),
        })
    }
}

/// The first and last day of the first date column of `batch` (a fact row's own date), if
/// it has one with a value.
pub fn day_range(batch: &RecordBatch) -> Option<(i32, i32)> {
    let dates = batch
        .columns()
        .iter()
        .find_map(|c| c.as_primitive_opt::<Date32Type>())?;
    Some((min(dates)?, max(dates)?))
}

const EPOCH: chrono::NaiveDate = match chrono::NaiveDate::from_ymd_opt(1970, 1, 1) {
    Some(d) => d,
    None => chrono::NaiveDate::MIN,
};

/// Days since 1970-01-01.
pub fn day_number(d: chrono::NaiveDate) -> i32 {
    (d - EPOCH).num_days() as i32
}

/// The date of a day number.
pub fn date_of(day: i32) -> chrono::NaiveDate {
    EPOCH + chrono::Days::new(0) + chrono::Duration::days(i64::from(day))
}

/// Reads rows back from a batch written by [`rows_to_batch`] (columns matched by name).
pub fn batch_to_rows(table: &TableDef, batch: &RecordBatch) -> Result<Vec<Vec<Value>>> {
    let mut rows = vec![Vec::with_capacity(table.columns.len()); batch.num_rows()];
    for col in &table.columns {
        let Some(array) = batch.column_by_name(&col.name) else {
            // A nullable column added to the schema after the part was written reads as
            // null (additive schema evolution); a missing required column is an error.
            if col.nullable {
                rows.iter_mut().for_each(|row| row.push(Value::Null));
                continue;
            }
            return Err(Error::Arrow(
                datafusion::arrow::error::ArrowError::SchemaError(format!(
                    "{}: column '{}' missing",
                    table.name, col.name
                )),
            ));
        };
        for (r, row) in rows.iter_mut().enumerate() {
            row.push(cell(col.column_type, array.as_ref(), r));
        }
    }
    Ok(rows)
}

/// The value of row `r` of array `a`, a column of type `ty`.
pub(crate) fn cell(ty: ColumnType, a: &dyn Array, r: usize) -> Value {
    if a.is_null(r) {
        return Value::Null;
    }
    match ty {
        ColumnType::Utf8 => Value::Str(a.as_string::<i32>().value(r).into()),
        ColumnType::Int32 => Value::Int(i64::from(a.as_primitive::<Int32Type>().value(r))),
        ColumnType::Int64 => Value::Int(a.as_primitive::<Int64Type>().value(r)),
        ColumnType::Uint8 => Value::Int(i64::from(a.as_primitive::<UInt8Type>().value(r))),
        ColumnType::Uint32 => Value::Int(i64::from(a.as_primitive::<UInt32Type>().value(r))),
        ColumnType::Float64 => Value::Float(a.as_primitive::<Float64Type>().value(r)),
        ColumnType::Bool => Value::Bool(a.as_boolean().value(r)),
        ColumnType::Date => Value::Date(a.as_primitive::<Date32Type>().value(r)),
        ColumnType::Timestamp => {
            let micros = a.as_primitive::<TimestampMicrosecondType>().value(r);
            Value::Ts {
                micros,
                day: micros.div_euclid(86_400_000_000) as i32,
            }
        }
        ColumnType::Decimal => Value::Money(a.as_primitive::<Decimal128Type>().value(r) as i64),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use acrm_schema::WarehouseSchema;

    fn audit_row(i: i64) -> Vec<Value> {
        vec![
            Value::Date(20_000 + (i % 7) as i32),
            Value::Str(format!("source {i}").into()),
            Value::Str(if i % 3 == 0 { "f.csv" } else { "é.jsonl" }.into()),
            Value::Str("c".into()),
            Value::Int(i),
            Value::Int(i * 2),
            Value::Int(-i),
            if i % 2 == 0 {
                Value::Null
            } else {
                Value::Int(i % 5)
            },
        ]
    }

    #[test]
    fn rows_made_a_piece_at_a_time_are_the_rows_in_order() {
        let schema = WarehouseSchema::builtin().expect("schema");
        let table = schema.table("etl_load_audit").expect("audit table");
        let ids: Vec<i64> = (0..(PIECE_ROWS as i64 + 7)).collect();
        let batches = items_to_batches(table, &ids, |&i| audit_row(i)).expect("batches");
        assert_eq!(batches.len(), 2, "one batch a piece, none joined");
        let back: Vec<Vec<Value>> = batches
            .iter()
            .flat_map(|b| batch_to_rows(table, b).expect("rows"))
            .collect();
        assert_eq!(back, ids.iter().map(|&i| audit_row(i)).collect::<Vec<_>>());
        let empty = items_to_batches(table, &[] as &[i64], |&i| audit_row(i)).expect("empty");
        assert_eq!(empty.len(), 1, "an empty table still has its schema");
        assert_eq!(empty[0].num_rows(), 0);
    }

    #[test]
    fn a_nullable_column_added_after_a_part_was_written_reads_as_null() {
        let schema = WarehouseSchema::builtin().expect("schema");
        let table = schema.table("etl_load_audit").expect("audit table");
        let mut old = table.clone();
        old.columns.retain(|c| c.name != "values_nulled");
        let rows: Vec<Vec<Value>> = (0..3).map(|i| audit_row(i)[..7].to_vec()).collect();
        let batch = rows_to_batch(&old, &rows).expect("an old part");
        let read = batch_to_rows(table, &batch).expect("read with today's schema");
        assert!(
            read.iter().all(|r| r.len() == 8 && r[7] == Value::Null),
            "{read:?}"
        );
        old.columns.retain(|c| c.name != "rows_read");
        let rows: Vec<Vec<Value>> = (0..3).map(|i| audit_row(i)[..6].to_vec()).collect();
        let batch = rows_to_batch(&old, &rows).expect("a damaged part");
        let e = batch_to_rows(table, &batch).expect_err("a required column is missing");
        assert!(e.to_string().contains("column 'rows_read' missing"), "{e}");
    }

    #[test]
    fn rows_of_many_pieces_come_back_in_order() {
        let schema = WarehouseSchema::builtin().expect("schema");
        let table = schema.table("etl_load_audit").expect("audit table");
        let rows: Vec<Vec<Value>> = (0..(2 * PIECE_ROWS as i64 + 5)).map(audit_row).collect();
        let batch = rows_to_batch(table, &rows).expect("batch");
        assert_eq!(batch.num_rows(), rows.len());
        assert_eq!(batch_to_rows(table, &batch).expect("rows"), rows);
        assert_eq!(day_range(&batch), Some((20_000, 20_006)));
    }

    #[test]
    fn a_value_of_the_wrong_type_or_range_is_an_error_naming_the_column() {
        let schema = WarehouseSchema::builtin().expect("schema");
        let audit = schema.table("etl_load_audit").expect("audit table");
        let mut rows: Vec<Vec<Value>> = (0..(PIECE_ROWS as i64 + 3)).map(audit_row).collect();
        rows[PIECE_ROWS + 1][4] = Value::Str("12".into());
        let e = rows_to_batch(audit, &rows).expect_err("text in an int64 column");
        assert!(e.to_string().contains("etl_load_audit.rows_read"), "{e}");
        let cust = schema.table("dim_customer").expect("dim_customer");
        let records = cust
            .columns
            .iter()
            .position(|c| c.name == "source_records")
            .expect("an int32 column");
        let mut row = vec![Value::Null; cust.columns.len()];
        row[records] = Value::Int(1 << 40);
        let e = rows_to_batch(cust, &[row]).expect_err("a value past int32 is not wrapped");
        assert!(e.to_string().to_lowercase().contains("cast"), "{e}");
    }
}
