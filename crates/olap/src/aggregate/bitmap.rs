//! Exact distinct counts that merge: a `count_distinct` measure keeps each cell's distinct
//! values as a Roaring bitmap (the values themselves for integer columns, their dictionary
//! ordinals for text), serialised in a binary column. `acrm_bitmap(x)` builds one from rows
//! (the refresh); `acrm_bitmap_count(b)` unions the bitmaps of the cells a group covers and
//! counts the union — exactly `count(DISTINCT x)` over the rows, at any coarser grain, the way
//! Kylin's precise count distinct works. Roaring (the `roaring` crate) is the standard
//! compressed bitmap: cells of one month hold ordinals of one range, so they stay small.

use std::sync::Arc;

use datafusion::arrow::array::{Array, ArrayRef, AsArray};
use datafusion::arrow::datatypes::{DataType, Int64Type};
use datafusion::common::{Result, ScalarValue, exec_err};
use datafusion::logical_expr::{Accumulator, AggregateUDF, Volatility, create_udaf};
use roaring::RoaringTreemap;

/// Name of the function that builds a bitmap of its (Int64) argument's distinct values.
pub const BUILD: &str = "acrm_bitmap";
/// Name of the function that counts the union of its (bitmap) argument's values.
pub const COUNT: &str = "acrm_bitmap_count";

/// `acrm_bitmap(Int64) -> Binary`: the distinct non-null values of the group, serialised.
pub fn build_udaf() -> AggregateUDF {
    udaf(BUILD, DataType::Int64, DataType::Binary, false)
}

/// `acrm_bitmap_count(Binary) -> Int64`: how many distinct values the group's bitmaps hold
/// together (0 for none).
pub fn count_udaf() -> AggregateUDF {
    udaf(COUNT, DataType::Binary, DataType::Int64, true)
}

/// A bitmap aggregate named `name` over `input`, returning `output`; its state is a bitmap
/// either way, evaluated to its size when `counts`.
fn udaf(name: &str, input: DataType, output: DataType, counts: bool) -> AggregateUDF {
    create_udaf(
        name,
        vec![input],
        Arc::new(output),
        Volatility::Immutable,
        Arc::new(move |_| Ok(Box::new(Bitmap::new(counts)))),
        Arc::new(vec![DataType::Binary]),
    )
}

/// The union so far; `counts`: evaluate to its size rather than to the bitmap.
#[derive(Debug)]
struct Bitmap {
    set: RoaringTreemap,
    counts: bool,
}

impl Bitmap {
    fn new(counts: bool) -> Self {
        Self {
            set: RoaringTreemap::new(),
            counts,
        }
    }

    fn serialised(&self) -> Result<Vec<u8>> {
        let mut bytes = Vec::with_capacity(self.set.serialized_size());
        self.set.serialize_into(&mut bytes)?;
        Ok(bytes)
    }

    /// ORs every bitmap of a binary column into the union.
    fn merge_column(&mut self, column: &ArrayRef) -> Result<()> {
        let Some(bitmaps) = column.as_binary_opt::<i32>() else {
            return exec_err!(
                "{COUNT} takes a binary bitmap column, not {}",
                column.data_type()
            );
        };
        for bytes in bitmaps.iter().flatten() {
            self.set |= RoaringTreemap::deserialize_from(bytes)?;
        }
        Ok(())
    }
}

impl Accumulator for Bitmap {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let Some(column) = values.first() else {
            return Ok(());
        };
        if self.counts {
            return self.merge_column(column);
        }
        let Some(ints) = column.as_primitive_opt::<Int64Type>() else {
            return exec_err!("{BUILD} takes an Int64 column, not {}", column.data_type());
        };
        // Two's complement keeps negative values distinct; the count is all that is read.
        self.set.extend(ints.iter().flatten().map(|v| v as u64));
        Ok(())
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        match states.first() {
            Some(column) => self.merge_column(column),
            None => Ok(()),
        }
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![ScalarValue::Binary(Some(self.serialised()?))])
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        if self.counts {
            Ok(ScalarValue::Int64(Some(
                i64::try_from(self.set.len()).unwrap_or(i64::MAX),
            )))
        } else {
            Ok(ScalarValue::Binary(Some(self.serialised()?)))
        }
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.set.serialized_size()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{BinaryArray, Int64Array};

    fn bitmap_of(values: &[Option<i64>]) -> Vec<u8> {
        let mut b = Bitmap::new(false);
        let column: ArrayRef = Arc::new(Int64Array::from(values.to_vec()));
        b.update_batch(&[column]).expect("update");
        match b.evaluate().expect("evaluate") {
            ScalarValue::Binary(Some(bytes)) => bytes,
            other => panic!("not a bitmap: {other:?}"),
        }
    }

    #[test]
    fn unions_count_each_value_once_and_ignore_nulls() {
        let a = bitmap_of(&[Some(1), Some(2), None, Some(2), Some(-7)]);
        let b = bitmap_of(&[Some(2), Some(3), Some(1 << 40)]);
        let mut count = Bitmap::new(true);
        let column: ArrayRef = Arc::new(BinaryArray::from(vec![
            Some(a.as_slice()),
            None,
            Some(b.as_slice()),
        ]));
        count.update_batch(&[column]).expect("update");
        // {1, 2, -7} ∪ {2, 3, 2^40}
        assert_eq!(
            count.evaluate().expect("count"),
            ScalarValue::Int64(Some(5))
        );
        // The partial state of one accumulator merges into another.
        let state = count.state().expect("state");
        let mut merged = Bitmap::new(true);
        merged
            .merge_batch(&[state[0].to_array().expect("array")])
            .expect("merge");
        assert_eq!(
            merged.evaluate().expect("count"),
            ScalarValue::Int64(Some(5))
        );
        assert_eq!(
            Bitmap::new(true).evaluate().expect("empty"),
            ScalarValue::Int64(Some(0))
        );
    }

    #[test]
    fn a_wrong_column_is_an_error_not_a_panic() {
        let text: ArrayRef = Arc::new(datafusion::arrow::array::StringArray::from(vec!["x"]));
        assert!(
            Bitmap::new(true)
                .update_batch(std::slice::from_ref(&text))
                .is_err()
        );
        assert!(Bitmap::new(false).update_batch(&[text]).is_err());
        let garbage: ArrayRef = Arc::new(BinaryArray::from(vec![Some(&b"nope"[..])]));
        assert!(Bitmap::new(true).update_batch(&[garbage]).is_err());
    }
}
