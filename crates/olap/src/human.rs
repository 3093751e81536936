//! Result tables as people read them: numbers rounded by magnitude, or by what they measure
//! (a share as %, money to the cent; full precision stays in CSV, JSON and Parquet), NULL
//! written out so a ROLLUP's total row differs from an empty value, and long results cut to
//! their first rows with a line saying how many were left.

use datafusion::arrow::array::{Array, ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::arrow::util::pretty::pretty_format_batches;
use std::sync::Arc;

use acrm_schema::Unit;

use crate::Result;

/// How NULL reads in a table.
pub const NULL: &str = "NULL";

/// The aligned text table of `batches` (with `schema`, so an empty result still shows its
/// columns), at most `rows` rows (all when `None`), then a line naming the rows left out.
pub fn human_table(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    rows: Option<usize>,
) -> Result<String> {
    let total: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let shown = rows.unwrap_or(total).min(total);
    let text_schema: SchemaRef = Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| Field::new(f.name(), DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ));
    let mut texts = Vec::new();
    let mut left = shown;
    for batch in batches {
        if left == 0 {
            break;
        }
        let part = batch.slice(0, left.min(batch.num_rows()));
        left -= part.num_rows();
        let columns = part
            .columns()
            .iter()
            .zip(schema.fields())
            .map(|(c, f)| cells(c.as_ref(), Unit::of(f)))
            .collect::<Result<Vec<ArrayRef>>>()?;
        texts.push(RecordBatch::try_new(text_schema.clone(), columns)?);
    }
    if texts.is_empty() {
        texts.push(RecordBatch::new_empty(text_schema));
    }
    let mut out = pretty_format_batches(&texts)?.to_string();
    if shown < total {
        let more = total - shown;
        out.push_str(&format!(
            "\n… {more} more row{} (use --top N, or --format csv for all)",
            if more == 1 { "" } else { "s" }
        ));
    }
    Ok(out)
}

/// One column's cells as people read them (a [`StringArray`]): floats by their `unit`
/// (a share by [`percent`], money to the cent, else [`human_float`]), decimals (money) to
/// the cent, everything else as Arrow displays it, NULL as [`NULL`].
pub fn cells(column: &dyn Array, unit: Option<Unit>) -> Result<ArrayRef> {
    let text: StringArray = match column.data_type() {
        DataType::Decimal128(_, scale) | DataType::Decimal256(_, scale) if *scale > 2 => {
            let cents = cast(column, &DataType::Decimal256(76, 2))?;
            return cells(cents.as_ref(), unit);
        }
        DataType::Float16 | DataType::Float32 | DataType::Float64 => {
            let floats = cast(column, &DataType::Float64)?;
            let floats = floats
                .as_any()
                .downcast_ref::<datafusion::arrow::array::Float64Array>()
                .ok_or_else(|| {
                    datafusion::error::DataFusionError::Internal(
                        "a float column cast to Float64 is a Float64Array".into(),
                    )
                })?;
            let show = match unit {
                Some(Unit::Share) => percent,
                Some(Unit::Money) => cents,
                None => human_float,
            };
            floats
                .iter()
                .map(|v| Some(v.map_or_else(|| NULL.to_string(), show)))
                .collect()
        }
        _ => {
            let options = FormatOptions::default().with_null(NULL);
            let f = ArrayFormatter::try_new(column, &options)?;
            (0..column.len())
                .map(|i| Some(f.value(i).to_string()))
                .collect()
        }
    };
    Ok(Arc::new(text))
}

/// A float as people read it: whole numbers without decimals (a count summed as a float
/// is `10000`, not `10000.0`), from 1 up two decimals (`-524998.17`, `549.49`), below 1
/// three significant digits (`0.373`, `0.00123`), tiny values in scientific notation.
pub fn human_float(x: f64) -> String {
    if !x.is_finite() {
        return x.to_string();
    }
    if x == 0.0 {
        return "0".into();
    }
    let a = x.abs();
    if x.fract() == 0.0 && a < 1e15 {
        format!("{x:.0}")
    } else if a >= 1.0 {
        format!("{x:.2}")
    } else if a >= 1e-6 {
        let decimals = (2 - a.log10().floor() as i32).clamp(0, 8) as usize;
        format!("{x:.decimals$}")
    } else {
        format!("{x:.2e}")
    }
}

/// A share as a percentage: one decimal from 1% (`37.3%`, `100.0%`), three significant
/// digits below (`0.123%`), so a small support still shows what it is.
pub fn percent(x: f64) -> String {
    let p = 100.0 * x;
    if !p.is_finite() {
        p.to_string()
    } else if p == 0.0 || p.abs() >= 1.0 {
        format!("{:.1}%", p + 0.0)
    } else {
        format!("{}%", human_float(p))
    }
}

/// Money kept as a float: always to the cent (`0.50`, `-524998.17`).
fn cents(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.2}")
    } else {
        x.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Decimal128Array, Float64Array, Int64Array};

    #[test]
    fn floats_read_by_magnitude() {
        assert_eq!(human_float(0.372_884_811_416_921_54), "0.373");
        assert_eq!(human_float(-524_998.169_999_999_8), "-524998.17");
        assert_eq!(human_float(549.486_242_260_465_6), "549.49");
        assert_eq!(human_float(10_000.0), "10000");
        assert_eq!(human_float(0.001_234_5), "0.00123");
        assert_eq!(human_float(-0.0), "0");
        assert_eq!(human_float(3.2e-9), "3.20e-9");
        assert_eq!(human_float(f64::NAN), "NaN");
    }

    #[test]
    fn shares_read_as_percentages_and_money_to_the_cent() {
        assert_eq!(percent(0.372_884_811), "37.3%");
        assert_eq!(percent(1.0), "100.0%");
        assert_eq!(percent(0.001_234_5), "0.123%");
        assert_eq!(percent(-0.0), "0.0%");
        assert_eq!(cents(0.5), "0.50");
        let column = Float64Array::from(vec![Some(0.25), None]);
        let shown = cells(&column, Some(Unit::Share)).expect("cells");
        let shown = shown.as_any().downcast_ref::<StringArray>().expect("text");
        assert_eq!((shown.value(0), shown.value(1)), ("25.0%", NULL));
    }

    #[test]
    fn nulls_show_and_long_results_are_cut_with_a_count() {
        let schema: SchemaRef = Arc::new(Schema::new(vec![
            Field::new("region", DataType::Utf8, true),
            Field::new("n", DataType::Int64, true),
            Field::new("share", DataType::Float64, true),
        ]));
        let batch = |from: i64| {
            RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(StringArray::from(vec![Some("north"), None, Some("")])),
                    Arc::new(Int64Array::from(vec![Some(from), Some(from + 1), None])),
                    Arc::new(Float64Array::from(vec![Some(1.0 / 3.0), None, Some(2.5)])),
                ],
            )
            .expect("batch")
        };
        let all = human_table(&schema, &[batch(1), batch(4)], None).expect("table");
        let money = Decimal128Array::from(vec![Some(265_591_768_i128), None])
            .with_precision_and_scale(20, 6)
            .expect("decimal");
        let money = cells(&money, None).expect("cells");
        let money = money.as_any().downcast_ref::<StringArray>().expect("text");
        assert_eq!((money.value(0), money.value(1)), ("265.59", NULL));
        assert!(
            all.contains("| 0.333 |") && all.contains("| 2.50  |"),
            "{all}"
        );
        assert_eq!(all.matches(NULL).count(), 6, "{all}");
        assert!(!all.contains("more row"), "{all}");
        let cut = human_table(&schema, &[batch(1), batch(4)], Some(4)).expect("table");
        assert!(cut.contains("| 4 ") && !cut.contains("| 5 "), "{cut}");
        assert!(
            cut.ends_with("… 2 more rows (use --top N, or --format csv for all)"),
            "{cut}"
        );
        let empty = human_table(&schema, &[], Some(20)).expect("table");
        assert!(
            empty.contains("region") && empty.contains("share"),
            "{empty}"
        );
    }
}
