//! A small builder for result tables (marts, reports, printed results): named columns in
//! order, one call per column, so each layout reads as a list instead of a parallel schema
//! and array list.

use std::sync::Arc;

use acrm_schema::Unit;
use chrono::NaiveDate;
use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
    UInt8Array, UInt32Array,
};
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::arrow::error::ArrowError;

/// Columns collected for one `RecordBatch`; every column is non-null unless said otherwise.
#[derive(Default)]
pub struct TableBuilder {
    fields: Vec<Field>,
    columns: Vec<ArrayRef>,
}

impl TableBuilder {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    fn push(mut self, name: &str, column: ArrayRef, nullable: bool) -> Self {
        self.fields
            .push(Field::new(name, column.data_type().clone(), nullable));
        self.columns.push(column);
        self
    }

    /// A 64-bit integer column.
    pub fn i64(self, name: &str, values: Vec<i64>) -> Self {
        self.push(name, Arc::new(Int64Array::from(values)), false)
    }

    /// A 64-bit integer column that may hold nulls (a key that does not apply).
    pub fn i64_opt(self, name: &str, values: Vec<Option<i64>>) -> Self {
        self.push(name, Arc::new(Int64Array::from(values)), true)
    }

    /// A 32-bit unsigned integer column.
    pub fn u32(self, name: &str, values: Vec<u32>) -> Self {
        self.push(name, Arc::new(UInt32Array::from(values)), false)
    }

    /// An 8-bit unsigned integer column (scores).
    pub fn u8(self, name: &str, values: Vec<u8>) -> Self {
        self.push(name, Arc::new(UInt8Array::from(values)), false)
    }

    /// A float column.
    pub fn f64(self, name: &str, values: Vec<f64>) -> Self {
        self.push(name, Arc::new(Float64Array::from(values)), false)
    }

    /// A float column of shares (fractions of a whole, printed as %).
    pub fn share(self, name: &str, values: Vec<f64>) -> Self {
        self.f64(name, values).unit(Unit::Share)
    }

    /// A float column of money (printed to the cent).
    pub fn money(self, name: &str, values: Vec<f64>) -> Self {
        self.f64(name, values).unit(Unit::Money)
    }

    /// The last column tagged with `unit` (how tables print it).
    pub fn unit(mut self, unit: Unit) -> Self {
        if let Some(last) = self.fields.pop() {
            self.fields.push(unit.tag(last));
        }
        self
    }

    /// A float column that may hold nulls (a value that does not apply).
    pub fn f64_opt(self, name: &str, values: Vec<Option<f64>>) -> Self {
        self.push(name, Arc::new(Float64Array::from(values)), true)
    }

    /// A text column.
    pub fn utf8<S: AsRef<str>>(self, name: &str, values: &[S]) -> Self {
        let array = StringArray::from_iter_values(values.iter().map(AsRef::as_ref));
        self.push(name, Arc::new(array), false)
    }

    /// A text column that may hold nulls (a reason that is not there).
    pub fn utf8_opt(self, name: &str, values: Vec<Option<String>>) -> Self {
        self.push(name, Arc::new(StringArray::from(values)), true)
    }

    /// A boolean column.
    pub fn bool(self, name: &str, values: Vec<bool>) -> Self {
        self.push(name, Arc::new(BooleanArray::from(values)), false)
    }

    /// A date column repeating `date` `rows` times (the as-of date of a result).
    pub fn date(self, name: &str, date: NaiveDate, rows: usize) -> Self {
        let days = (date - NaiveDate::default()).num_days() as i32;
        self.push(name, Arc::new(Date32Array::from(vec![days; rows])), false)
    }

    /// A date column of one day per row.
    pub fn dates(self, name: &str, dates: Vec<NaiveDate>) -> Self {
        let days: Vec<i32> = dates
            .iter()
            .map(|d| (*d - NaiveDate::default()).num_days() as i32)
            .collect();
        self.push(name, Arc::new(Date32Array::from(days)), false)
    }

    /// The finished batch (an error if the columns differ in length), in the caller's error
    /// type.
    pub fn finish<E: From<ArrowError>>(self) -> Result<RecordBatch, E> {
        Ok(RecordBatch::try_new(
            Arc::new(Schema::new(self.fields)),
            self.columns,
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_keep_their_order_and_unequal_lengths_fail() {
        let b = TableBuilder::new()
            .i64("id", vec![1, 2])
            .utf8("name", &["a", "b"])
            .f64_opt("x", vec![Some(1.0), None])
            .finish::<ArrowError>()
            .expect("batch");
        let schema = b.schema();
        let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
        assert_eq!(names, vec!["id", "name", "x"]);
        assert!(b.schema().field(2).is_nullable());
        assert!(
            TableBuilder::new()
                .i64("a", vec![1])
                .f64("b", vec![])
                .finish::<ArrowError>()
                .is_err()
        );
    }
}
