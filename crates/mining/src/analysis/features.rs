//! Customer features: SQL over the warehouse → Arrow → an `ndarray` matrix.
//!
//! The built-in features are computed as of a date (`--as-of`): only facts dated on or before
//! it count, so scoring a past date never sees the future. Any other query or file with an
//! id column and numeric columns can be turned into a [`FeatureTable`] the same way.

use acrm_olap::Engine;
use chrono::NaiveDate;
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::{DataType, Date32Type, Float64Type, Int64Type};
use ndarray::{Array2, ArrayView1};

use crate::{Error, Result};

/// Numeric features per customer: row `i` of `values` belongs to `ids[i]`.
#[derive(Debug, Clone)]
pub struct FeatureTable {
    /// Customer ids (the id column), one per row.
    pub ids: Vec<i64>,
    /// Feature names, one per column of `values`.
    pub names: Vec<String>,
    /// The features, rows = customers, columns = `names`.
    pub values: Array2<f64>,
}

/// Built-in customer features, in this order. Amounts are in the warehouse currency.
pub const CUSTOMER_FEATURES: &[(&str, &str)] = &[
    (
        "recency_days",
        "Days from the last purchase to the as-of date.",
    ),
    ("frequency", "Distinct orders."),
    ("monetary", "Total revenue."),
    ("avg_order_value", "Revenue per order."),
    ("margin", "Revenue minus cost."),
    (
        "tenure_days",
        "Days from the first purchase to the as-of date.",
    ),
    ("lines_per_order", "Order lines per order (basket breadth)."),
    (
        "avg_unit_price",
        "Revenue per unit (premium vs cheap products).",
    ),
    (
        "discount_rate",
        "Discount as a share of the list value of what was bought.",
    ),
    (
        "digital_share",
        "Share of order lines bought through digital channels (web, app).",
    ),
    ("complaints", "Complaint contacts with the service centre."),
    (
        "categories",
        "Distinct product categories bought (breadth of the category mix).",
    ),
    (
        "top_category_share",
        "Share of revenue in the customer's main category (1 = buys one category only).",
    ),
];

/// The SQL behind [`customer_features`]: one row per customer with at least one purchase on
/// or before `as_of`, columns `customer_id` and [`CUSTOMER_FEATURES`]. Orders, lines and
/// purchase dates count purchases (quantity > 0); money and units are net of returns.
pub fn customer_features_sql(as_of: NaiveDate) -> String {
    format!(
        "WITH sales AS (
    SELECT s.customer_id,
           min(CASE WHEN s.quantity > 0 THEN s.order_date END) AS first_purchase,
           max(CASE WHEN s.quantity > 0 THEN s.order_date END) AS last_purchase,
           count(DISTINCT CASE WHEN s.quantity > 0 THEN s.order_id END) AS orders,
           sum(CASE WHEN s.quantity > 0 THEN 1 ELSE 0 END) AS lines,
           sum(s.quantity) AS units,
           CAST(sum(s.revenue) AS DOUBLE) AS revenue,
           CAST(sum(s.revenue - coalesce(s.cost, 0)) AS DOUBLE) AS margin,
           CAST(sum(CASE WHEN s.quantity > 0 THEN s.discount ELSE -s.discount END) AS DOUBLE) AS discount,
           sum(CASE WHEN s.quantity > 0 AND ch.channel_type = 'digital' THEN 1 ELSE 0 END) AS digital_lines
    FROM fact_sales s
    JOIN dim_channel ch ON ch.channel_key = s.channel_key
    WHERE s.order_date <= DATE '{as_of}' AND s.customer_id <> 0
    GROUP BY s.customer_id
    HAVING count(DISTINCT CASE WHEN s.quantity > 0 THEN s.order_id END) > 0
), category_revenue AS (
    SELECT s.customer_id, p.category, sum(s.revenue) AS revenue
    FROM fact_sales s
    JOIN dim_product p ON p.product_key = s.product_key
    WHERE s.order_date <= DATE '{as_of}' AND s.customer_id <> 0
    GROUP BY s.customer_id, p.category
), category_mix AS (
    SELECT customer_id,
           count(*) AS categories,
           CASE WHEN sum(revenue) > 0 THEN CAST(max(revenue) AS DOUBLE) / CAST(sum(revenue) AS DOUBLE)
                ELSE 1 END AS top_category_share
    FROM category_revenue
    GROUP BY customer_id
), service AS (
    SELECT customer_id,
           sum(CASE WHEN contact_type = 'complaint' THEN 1 ELSE 0 END) AS complaints
    FROM fact_service
    WHERE contact_date <= DATE '{as_of}'
    GROUP BY customer_id
)
SELECT s.customer_id,
       CAST(CAST(DATE '{as_of}' AS INT) - CAST(s.last_purchase AS INT) AS DOUBLE) AS recency_days,
       CAST(s.orders AS DOUBLE) AS frequency,
       s.revenue AS monetary,
       s.revenue / s.orders AS avg_order_value,
       s.margin AS margin,
       CAST(CAST(DATE '{as_of}' AS INT) - CAST(s.first_purchase AS INT) AS DOUBLE) AS tenure_days,
       CAST(s.lines AS DOUBLE) / s.orders AS lines_per_order,
       CASE WHEN s.units > 0 THEN s.revenue / s.units ELSE 0 END AS avg_unit_price,
       CASE WHEN s.revenue + s.discount > 0 THEN s.discount / (s.revenue + s.discount) ELSE 0 END
           AS discount_rate,
       CAST(s.digital_lines AS DOUBLE) / s.lines AS digital_share,
       CAST(coalesce(v.complaints, 0) AS DOUBLE) AS complaints,
       CAST(m.categories AS DOUBLE) AS categories,
       m.top_category_share
FROM sales s
JOIN category_mix m ON m.customer_id = s.customer_id
LEFT JOIN service v ON v.customer_id = s.customer_id
ORDER BY s.customer_id"
    )
}

/// The day `days` days before `date` (windows are (date − days, date]).
pub fn days_before(date: NaiveDate, days: u32) -> NaiveDate {
    date - chrono::Duration::days(i64::from(days))
}

/// The default as-of date: the last day with a sale in the warehouse (returns aside).
pub async fn last_fact_date(engine: &Engine) -> Result<NaiveDate> {
    let (_, batches) = engine
        .query("SELECT max(order_date) AS d FROM fact_sales WHERE quantity > 0")
        .await?;
    let days = batches
        .iter()
        .find(|b| b.num_rows() > 0)
        .and_then(|b| b.column(0).as_primitive_opt::<Date32Type>().cloned())
        .filter(|c| c.is_valid(0))
        .map(|c| c.value(0))
        .ok_or_else(|| Error::Invalid("the warehouse has no sales: nothing to analyse".into()))?;
    NaiveDate::default()
        .checked_add_signed(chrono::Duration::days(days.into()))
        .ok_or_else(|| Error::Invalid(format!("last sale date out of range: {days}")))
}

/// The built-in features of every customer who bought on or before `as_of`.
pub async fn customer_features(engine: &Engine, as_of: NaiveDate) -> Result<FeatureTable> {
    query_features(engine, &customer_features_sql(as_of), "customer_id").await
}

/// The rows of a warehouse query as a feature table (`id_column` the ids, every other column
/// numeric and non-null).
pub async fn query_features(engine: &Engine, sql: &str, id_column: &str) -> Result<FeatureTable> {
    let (_, batches) = engine.query(sql).await?;
    if batches.iter().all(|b| b.num_rows() == 0) {
        return Ok(FeatureTable::empty());
    }
    FeatureTable::from_batches(&batches, id_column)
}

/// A `SELECT` of one `dim_customer` row per customer (`customer_id`, `customer_type`,
/// `income`, `credit_limit`, `signup_date`): the version valid on `as_of`, or the earliest
/// one for customers whose first version starts later (a customer first loaded after the
/// date). The unknown member (0) is left out.
pub fn customer_as_of_sql(as_of: NaiveDate) -> String {
    format!(
        "SELECT customer_id, customer_type, CAST(income AS DOUBLE) AS income,
           CAST(credit_limit AS DOUBLE) AS credit_limit, signup_date
    FROM (
        SELECT *, row_number() OVER (
                      PARTITION BY customer_id
                      ORDER BY CASE WHEN valid_from <= DATE '{as_of}' AND valid_to >= DATE '{as_of}'
                                    THEN 0 ELSE 1 END,
                               valid_from) AS version_rank
        FROM dim_customer
        WHERE customer_id <> 0
    ) v
    WHERE version_rank = 1"
    )
}

/// The rows of a CSV (with header) or Parquet file as features, `id_column` the ids.
pub async fn read_file(path: &std::path::Path, id_column: &str) -> Result<FeatureTable> {
    let batches = acrm_olap::read_table_file(path).await?;
    FeatureTable::from_batches(&batches, id_column)
        .map_err(|e| Error::Features(format!("{}: {e}", path.display())))
}

impl FeatureTable {
    /// Reads `id_column` (integers) and every other column (numbers, cast to f64) of
    /// `batches`. A null or non-numeric value is an error naming the row and column: a
    /// feature matrix with holes would silently bias the clustering.
    pub fn from_batches(batches: &[RecordBatch], id_column: &str) -> Result<Self> {
        let Some(first) = batches.first() else {
            return Err(Error::Features("no rows".into()));
        };
        let schema = first.schema();
        let id_index = schema.index_of(id_column).map_err(|_| {
            Error::Features(format!(
                "no id column '{id_column}' (columns: {})",
                column_names(first).join(", ")
            ))
        })?;
        let names: Vec<String> = schema
            .fields()
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != id_index)
            .map(|(_, f)| f.name().clone())
            .collect();
        if names.is_empty() {
            return Err(Error::Features(format!(
                "only the id column '{id_column}': no features"
            )));
        }
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        let mut ids = Vec::with_capacity(rows);
        let mut values = Array2::<f64>::zeros((rows, names.len()));
        let mut offset = 0;
        for batch in batches {
            let id = cast(batch.column(id_index), &DataType::Int64).map_err(|e| {
                Error::Features(format!("id column '{id_column}' is not an integer: {e}"))
            })?;
            let id = id.as_primitive::<Int64Type>();
            for r in 0..batch.num_rows() {
                if id.is_null(r) {
                    return Err(Error::Features(format!(
                        "row {}: id column '{id_column}' is null",
                        offset + r + 1
                    )));
                }
                ids.push(id.value(r));
            }
            let mut j = 0;
            for (i, field) in schema.fields().iter().enumerate() {
                if i == id_index {
                    continue;
                }
                let col = cast(batch.column(i), &DataType::Float64).map_err(|_| {
                    Error::Features(format!(
                        "column '{}' is {}, not a number",
                        field.name(),
                        field.data_type()
                    ))
                })?;
                let col = col.as_primitive::<Float64Type>();
                for r in 0..batch.num_rows() {
                    if col.is_null(r) || !col.value(r).is_finite() {
                        return Err(Error::Features(format!(
                            "row {} (id {}): column '{}' is null or not finite",
                            offset + r + 1,
                            ids[offset + r],
                            field.name()
                        )));
                    }
                    values[[offset + r, j]] = col.value(r);
                }
                j += 1;
            }
            offset += batch.num_rows();
        }
        Ok(Self { ids, names, values })
    }

    /// The column named `name`.
    pub fn column(&self, name: &str) -> Result<ArrayView1<'_, f64>> {
        let j = self.index(name)?;
        Ok(self.values.column(j))
    }

    fn index(&self, name: &str) -> Result<usize> {
        self.names.iter().position(|n| n == name).ok_or_else(|| {
            Error::Invalid(format!(
                "no feature '{name}' (features: {})",
                self.names.join(", ")
            ))
        })
    }

    /// A table with only the features `names`, in that order.
    pub fn select(&self, names: &[String]) -> Result<Self> {
        let idx = names
            .iter()
            .map(|n| self.index(n))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            ids: self.ids.clone(),
            names: names.to_vec(),
            values: self.values.select(ndarray::Axis(1), &idx),
        })
    }

    /// A table without rows or features.
    pub fn empty() -> Self {
        Self {
            ids: Vec::new(),
            names: Vec::new(),
            values: Array2::zeros((0, 0)),
        }
    }

    /// Number of customers (rows).
    pub fn len(&self) -> usize {
        self.ids.len()
    }

    /// No customers.
    pub fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }
}

fn column_names(batch: &RecordBatch) -> Vec<String> {
    batch
        .schema()
        .fields()
        .iter()
        .map(|f| f.name().clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Float64Array, Int32Array, Int64Array};
    use datafusion::arrow::datatypes::{Field, Schema};
    use std::sync::Arc;

    fn batch(values: Vec<Option<f64>>) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("a", DataType::Int32, false),
            Field::new("b", DataType::Float64, true),
        ]));
        let n = values.len();
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from_iter_values(10..10 + n as i64)),
                Arc::new(Int32Array::from_iter_values(0..n as i32)),
                Arc::new(Float64Array::from(values)),
            ],
        )
        .expect("batch")
    }

    #[test]
    fn batches_become_a_matrix_with_ids() {
        let t = FeatureTable::from_batches(
            &[batch(vec![Some(1.5), Some(2.5)]), batch(vec![Some(3.5)])],
            "id",
        )
        .expect("table");
        assert_eq!(t.ids, vec![10, 11, 10]);
        assert_eq!(t.names, vec!["a", "b"]);
        assert_eq!(t.values[[1, 0]], 1.0);
        assert_eq!(t.values[[2, 1]], 3.5);
        let b = t.select(&["b".into()]).expect("select");
        assert_eq!(b.values.ncols(), 1);
        assert!(t.select(&["c".into()]).is_err());
    }

    #[test]
    fn a_null_feature_is_an_error_naming_row_and_column() {
        let e = FeatureTable::from_batches(&[batch(vec![Some(1.0), None])], "id")
            .expect_err("null refused")
            .to_string();
        assert!(e.contains("row 2") && e.contains("'b'"), "{e}");
        let e = FeatureTable::from_batches(&[batch(vec![Some(1.0)])], "customer")
            .expect_err("missing id")
            .to_string();
        assert!(e.contains("no id column"), "{e}");
    }
}
