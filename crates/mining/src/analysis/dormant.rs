//! Dormant product holdings as of a date D: a customer who bought a category (or
//! subcategory) **regularly** — on at least `min_purchases` days up to D — and has not bought
//! it for more than `gap_multiple` × their usual gap between those days (and at least
//! `min_days`). The usual gap is (last − first purchase day of the category) /
//! (purchase days − 1): the customer's own rhythm for that category, not the population's.
//!
//! Each dormant holding says whether the customer is **still buying** other things since
//! (a cross-sell / reactivation target for that category: the relationship lives, the
//! category lapsed) or has gone quiet altogether (a churn case, not a product one).
//! Returns are not purchases.

use acrm_olap::{Engine, Frame, TableBuilder};
use chrono::NaiveDate;
use datafusion::arrow::array::RecordBatch;

use super::registry::{Analysis, Chart, Figure, Section, boxed};
use crate::{Error, Result};

/// Product level a holding is read at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// `dim_product.category`.
    Category,
    /// `dim_product.subcategory`.
    Subcategory,
}

impl Level {
    fn column(self) -> &'static str {
        match self {
            Level::Category => "category",
            Level::Subcategory => "subcategory",
        }
    }
}

/// The thresholds of the dormancy rule.
#[derive(Debug, Clone)]
pub struct DormantOptions {
    /// Category or subcategory.
    pub level: Level,
    /// Purchase days of the category that make a regular buyer.
    pub min_purchases: u32,
    /// Silence, in usual gaps, after which a holding is dormant.
    pub gap_multiple: f64,
    /// Least silence, in days, for a holding to be dormant (keeps weekly buyers off the
    /// list after a fortnight's holiday).
    pub min_days: u32,
}

impl Default for DormantOptions {
    /// Categories; three purchase days; twice the usual gap and at least 60 days.
    fn default() -> Self {
        Self {
            level: Level::Category,
            min_purchases: 3,
            gap_multiple: 2.0,
            min_days: 60,
        }
    }
}

/// One dormant holding.
#[derive(Debug, Clone, PartialEq)]
pub struct Holding {
    /// Golden customer id.
    pub customer_id: i64,
    /// Category (or subcategory).
    pub product: String,
    /// Purchase days of it up to D.
    pub purchase_days: i64,
    /// Usual gap between them, in days.
    pub usual_gap_days: f64,
    /// Last purchase day of it.
    pub last_purchase: NaiveDate,
    /// Days from then to D.
    pub days_since: i64,
    /// The customer bought something else after it.
    pub still_buying: bool,
}

/// Every regular holding's rhythm up to `as_of` that is overdue under `o`.
fn dormant_sql(as_of: NaiveDate, o: &DormantOptions) -> String {
    let level = o.level.column();
    format!(
        "WITH days AS (
    SELECT DISTINCT s.customer_id, p.{level} AS product, s.order_date
    FROM fact_sales s JOIN dim_product p ON p.product_key = s.product_key
    WHERE s.order_date <= DATE '{as_of}' AND s.customer_id <> 0 AND s.quantity > 0
      AND p.{level} IS NOT NULL
), held AS (
    SELECT customer_id, product, count(*) AS purchase_days,
           CAST(CAST(max(order_date) AS INT) - CAST(min(order_date) AS INT) AS DOUBLE)
             / (count(*) - 1) AS usual_gap_days,
           max(order_date) AS last_purchase
    FROM days
    GROUP BY customer_id, product
    HAVING count(*) >= {min}
), latest AS (
    SELECT customer_id, max(order_date) AS last_any FROM days GROUP BY customer_id
)
SELECT h.customer_id, h.product, h.purchase_days, h.usual_gap_days, h.last_purchase,
       CAST(DATE '{as_of}' AS INT) - CAST(h.last_purchase AS INT) AS days_since,
       l.last_any > h.last_purchase AS still_buying
FROM held h JOIN latest l ON l.customer_id = h.customer_id
WHERE CAST(DATE '{as_of}' AS INT) - CAST(h.last_purchase AS INT) > {k} * h.usual_gap_days
  AND CAST(DATE '{as_of}' AS INT) - CAST(h.last_purchase AS INT) >= {min_days}
ORDER BY h.customer_id, h.product",
        min = o.min_purchases.max(2),
        k = o.gap_multiple,
        min_days = o.min_days,
    )
}

/// The dormant holdings as of `as_of`, by customer then product.
pub async fn dormant(
    engine: &Engine,
    as_of: NaiveDate,
    o: &DormantOptions,
) -> Result<Vec<Holding>> {
    if !(o.gap_multiple.is_finite() && o.gap_multiple > 0.0) {
        return Err(Error::Invalid(format!(
            "gap multiple {} must be a number > 0",
            o.gap_multiple
        )));
    }
    let (_, batches) = engine.query(&dormant_sql(as_of, o)).await?;
    let f = Frame::from_batches(&batches)?;
    let text = |name: &str, r: usize| -> Result<String> {
        f.require(name, "dormant holdings")?
            .text(r)
            .ok_or_else(|| Error::Invalid(format!("dormant holdings: {name} is null in row {r}")))
    };
    let int = |name: &str, r: usize| -> Result<i64> {
        let t = text(name, r)?;
        t.parse()
            .map_err(|_| Error::Invalid(format!("dormant holdings: {name} '{t}' is not a number")))
    };
    let mut out = Vec::with_capacity(f.rows);
    for r in 0..f.rows {
        let last = text("last_purchase", r)?;
        let gap = text("usual_gap_days", r)?;
        out.push(Holding {
            customer_id: int("customer_id", r)?,
            product: text("product", r)?,
            purchase_days: int("purchase_days", r)?,
            usual_gap_days: gap
                .parse()
                .map_err(|_| Error::Invalid(format!("dormant holdings: gap '{gap}'")))?,
            last_purchase: last
                .parse()
                .map_err(|_| Error::Invalid(format!("dormant holdings: day '{last}'")))?,
            days_since: int("days_since", r)?,
            still_buying: text("still_buying", r)? == "true",
        });
    }
    Ok(out)
}

/// `mart_dormant_product`: one row per dormant holding as of `as_of`.
pub fn to_batch(as_of: NaiveDate, h: &[Holding], level: Level) -> Result<RecordBatch> {
    TableBuilder::new()
        .date("as_of", as_of, h.len())
        .i64("customer_id", h.iter().map(|x| x.customer_id).collect())
        .utf8(
            "level",
            &h.iter().map(|_| level.column()).collect::<Vec<_>>(),
        )
        .utf8(
            "product",
            &h.iter().map(|x| x.product.as_str()).collect::<Vec<_>>(),
        )
        .i64("purchase_days", h.iter().map(|x| x.purchase_days).collect())
        .f64(
            "usual_gap_days",
            h.iter().map(|x| x.usual_gap_days).collect(),
        )
        .dates("last_purchase", h.iter().map(|x| x.last_purchase).collect())
        .i64("days_since", h.iter().map(|x| x.days_since).collect())
        .f64(
            "overdue_gaps",
            h.iter()
                .map(|x| x.days_since as f64 / x.usual_gap_days.max(1.0))
                .collect(),
        )
        .bool("still_buying", h.iter().map(|x| x.still_buying).collect())
        .finish()
}

/// The registry entry: `dormant_product` with the default thresholds.
pub const ANALYSIS: Analysis = Analysis {
    name: "dormant_product",
    tables: &["mart_dormant_product"],
    command: "acrm mine dormant",
    needs_model: false,
    run: |cx| {
        boxed(async move {
            let o = DormantOptions::default();
            let h = dormant(cx.engine, cx.as_of, &o).await?;
            Ok(vec![(
                "mart_dormant_product".into(),
                to_batch(cx.as_of, &h, o.level)?,
            )])
        })
    },
    chart: Some(Chart {
        table: "mart_dormant_product",
        figure: Figure::CountsBy {
            column: "product",
            title: "Dormant holdings by product",
        },
        sql: "SELECT product FROM mart_dormant_product",
    }),
    section: Some(Section {
        title: "Dormant products",
        text: Some(
            "Customers who bought a category regularly (three purchase days or more) and have not for more than twice their usual gap; still buying = they bought something else since (a cross-sell or reactivation target).",
        ),
        table: (
            "Dormant holdings by product",
            "SELECT product, count(*) AS customers,
                    sum(CASE WHEN still_buying THEN 1 ELSE 0 END) AS still_buying,
                    round(avg(overdue_gaps), 1) AS mean_overdue_gaps
             FROM mart_dormant_product GROUP BY product ORDER BY customers DESC",
        ),
    }),
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_reads_the_customers_own_rhythm() {
        let sql = dormant_sql(
            "2024-12-31".parse().expect("day"),
            &DormantOptions::default(),
        );
        assert!(sql.contains("HAVING count(*) >= 3"), "{sql}");
        assert!(sql.contains("> 2 * h.usual_gap_days"), "{sql}");
        assert!(sql.contains(">= 60"), "{sql}");
        let sub = DormantOptions {
            level: Level::Subcategory,
            min_purchases: 1,
            ..DormantOptions::default()
        };
        let sql = dormant_sql("2024-12-31".parse().expect("day"), &sub);
        // One purchase day has no rhythm: at least two are needed for a gap.
        assert!(
            sql.contains("p.subcategory") && sql.contains("HAVING count(*) >= 2"),
            "{sql}"
        );
    }
}
