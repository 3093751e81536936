//! Lifecycle stage per customer as of a date D, from the customer's own purchase history:
//! the exploration → formation → stability → decline path of the relationship literature,
//! plus prospects (known, never bought) and lost customers.
//!
//! Inputs: first and last purchase, distinct orders, the mean gap between orders
//! ((last − first) / (orders − 1)), and the orders of the recent window of W days (default
//! 180) ending on D. The customer's own pace before that window (orders before it / days
//! from the first purchase to its start) gives the orders *expected* in it.
//!
//! Stages, first match wins:
//!
//! | stage       | literature  | rule                                                              |
//! |-------------|-------------|-------------------------------------------------------------------|
//! | `prospect`  | —           | in the customer master (signed up by D) but no purchase by D      |
//! | `lost`      | termination | no purchase for more than max(365 days, 3 × own mean gap)         |
//! | `new`       | exploration | first purchase within the recent window                           |
//! | `growing`   | formation   | recent orders ≥ 1.5 × expected (expected ≥ 1.5, from ≥ 2 orders)  |
//! | `declining` | decline     | recent orders ≤ 0.5 × expected (same condition)                   |
//! | `stable`    | stability   | everything else: a steady relationship, or too few orders to tell |
//!
//! Comparing the customer with their own past (not with other customers) keeps a rare but
//! regular buyer stable and flags a frequent buyer who slows down; the minimum expectation
//! keeps one order more or less of a rare buyer (chance) from counting as a trend.

use acrm_olap::Engine;
use chrono::NaiveDate;
use datafusion::arrow::array::RecordBatch;

use crate::analysis::features::{days_before, query_features};
use acrm_olap::TableBuilder;

use super::registry::{Analysis, Chart, Figure, Section, boxed};
use crate::{Error, Result};

/// Stage names in rule order.
pub const STAGES: &[&str] = &["prospect", "lost", "new", "growing", "declining", "stable"];

/// The thresholds of the stage rules.
#[derive(Debug, Clone)]
pub struct LifecycleOptions {
    /// Length of the recent and of the previous window, in days.
    pub window_days: u32,
    /// Minimum silence before a customer is lost, in days.
    pub lost_after_days: f64,
    /// Silence, in mean gaps, before a customer is lost.
    pub lost_after_gaps: f64,
    /// Recent / expected orders at or above which a customer is growing.
    pub growth_ratio: f64,
    /// Recent / expected orders at or below which a customer is declining.
    pub decline_ratio: f64,
    /// Expected recent orders below which no trend is read.
    pub min_expected_orders: f64,
}

impl Default for LifecycleOptions {
    /// 180-day window, lost after max(365 days, 3 gaps), growing at ×1.5, declining at ×0.5,
    /// trends read from 1.5 expected orders.
    fn default() -> Self {
        Self {
            window_days: 180,
            lost_after_days: 365.0,
            lost_after_gaps: 3.0,
            growth_ratio: 1.5,
            decline_ratio: 0.5,
            min_expected_orders: 1.5,
        }
    }
}

/// The SQL behind [`lifecycle`]: every customer signed up by `as_of` or with a purchase by
/// then, with their purchase history summary (zeros and −1 days for prospects).
pub fn lifecycle_inputs_sql(as_of: NaiveDate, window_days: u32) -> String {
    format!(
        "WITH sales AS (
    SELECT customer_id,
           CAST(DATE '{as_of}' AS INT) - CAST(min(order_date) AS INT) AS tenure_days,
           CAST(DATE '{as_of}' AS INT) - CAST(max(order_date) AS INT) AS recency_days,
           count(DISTINCT order_id) AS orders,
           count(DISTINCT CASE WHEN order_date > DATE '{recent}' THEN order_id END) AS recent_orders
    FROM fact_sales
    WHERE order_date <= DATE '{as_of}' AND customer_id <> 0 AND quantity > 0
    GROUP BY customer_id
), known AS (
    SELECT customer_id FROM ({customer}) c
    WHERE signup_date IS NULL OR signup_date <= DATE '{as_of}'
    UNION
    SELECT customer_id FROM sales
)
SELECT k.customer_id,
       CAST(coalesce(s.tenure_days, -1) AS DOUBLE) AS tenure_days,
       CAST(coalesce(s.recency_days, -1) AS DOUBLE) AS recency_days,
       CAST(coalesce(s.orders, 0) AS DOUBLE) AS orders,
       CAST(coalesce(s.recent_orders, 0) AS DOUBLE) AS recent_orders
FROM known k
LEFT JOIN sales s ON s.customer_id = k.customer_id
ORDER BY k.customer_id",
        customer = crate::analysis::features::customer_as_of_sql(as_of),
        recent = days_before(as_of, window_days),
    )
}

/// One customer's purchase history summary (days are −1 and counts 0 for prospects).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct History {
    /// Days from the first purchase to D.
    pub tenure_days: f64,
    /// Days from the last purchase to D.
    pub recency_days: f64,
    /// Distinct orders.
    pub orders: f64,
    /// Distinct orders in the recent window.
    pub recent_orders: f64,
}

impl History {
    /// Mean days between orders; `None` with fewer than two orders.
    pub fn mean_gap(&self) -> Option<f64> {
        (self.orders >= 2.0).then(|| (self.tenure_days - self.recency_days) / (self.orders - 1.0))
    }

    /// Orders expected in the recent window of `window_days` at the pace before it; `None`
    /// for customers whose first purchase falls inside it.
    pub fn expected_recent_orders(&self, window_days: u32) -> Option<f64> {
        let window = f64::from(window_days);
        let before_days = self.tenure_days - window;
        (before_days > 0.0).then(|| (self.orders - self.recent_orders) / before_days * window)
    }
}

/// The stage of one customer by the rule table.
pub fn stage(h: &History, options: &LifecycleOptions) -> &'static str {
    if h.orders < 1.0 {
        return "prospect";
    }
    let lost_after = h.mean_gap().map_or(options.lost_after_days, |g| {
        options.lost_after_days.max(options.lost_after_gaps * g)
    });
    if h.recency_days > lost_after {
        return "lost";
    }
    let Some(expected) = h.expected_recent_orders(options.window_days) else {
        return "new";
    };
    if expected < options.min_expected_orders || h.orders - h.recent_orders < 2.0 {
        "stable"
    } else if h.recent_orders >= options.growth_ratio * expected {
        "growing"
    } else if h.recent_orders <= options.decline_ratio * expected {
        "declining"
    } else {
        "stable"
    }
}

/// Lifecycle stages of every customer as of a date.
#[derive(Debug, Clone)]
pub struct Lifecycle {
    /// The date it is computed as of.
    pub as_of: NaiveDate,
    /// Customer ids.
    pub customer_id: Vec<i64>,
    /// Their history summaries.
    pub history: Vec<History>,
    /// Their stages (one of [`STAGES`]).
    pub stage: Vec<&'static str>,
    /// The recent window the stages were read over, in days.
    pub window_days: u32,
}

/// Lifecycle stages of every customer known on `as_of`.
pub async fn lifecycle(
    engine: &Engine,
    as_of: NaiveDate,
    options: &LifecycleOptions,
) -> Result<Lifecycle> {
    let t = query_features(
        engine,
        &lifecycle_inputs_sql(as_of, options.window_days),
        "customer_id",
    )
    .await?;
    if t.is_empty() {
        return Err(Error::Invalid("no customers known as of that date".into()));
    }
    let col = |name: &str| t.column(name);
    let (tenure, recency, orders, recent) = (
        col("tenure_days")?,
        col("recency_days")?,
        col("orders")?,
        col("recent_orders")?,
    );
    let history: Vec<History> = (0..t.len())
        .map(|i| History {
            tenure_days: tenure[i],
            recency_days: recency[i],
            orders: orders[i],
            recent_orders: recent[i],
        })
        .collect();
    let stage = history.iter().map(|h| stage(h, options)).collect();
    Ok(Lifecycle {
        as_of,
        customer_id: t.ids.clone(),
        history,
        stage,
        window_days: options.window_days,
    })
}

impl Lifecycle {
    /// The `mart_lifecycle` table: one row per customer; history columns are null for prospects.
    pub fn to_batch(&self) -> Result<RecordBatch> {
        let n = self.customer_id.len();
        let bought = |f: fn(&History) -> f64| -> Vec<Option<f64>> {
            self.history
                .iter()
                .map(|h| (h.orders >= 1.0).then(|| f(h)))
                .collect()
        };
        TableBuilder::new()
            .i64("customer_id", self.customer_id.clone())
            .date("as_of", self.as_of, n)
            .utf8("stage", &self.stage)
            .f64_opt("tenure_days", bought(|h| h.tenure_days))
            .f64_opt("recency_days", bought(|h| h.recency_days))
            .f64("orders", self.history.iter().map(|h| h.orders).collect())
            .f64_opt(
                "mean_gap_days",
                self.history.iter().map(History::mean_gap).collect(),
            )
            .f64(
                "recent_orders",
                self.history.iter().map(|h| h.recent_orders).collect(),
            )
            .f64_opt(
                "expected_recent_orders",
                self.history
                    .iter()
                    .map(|h| h.expected_recent_orders(self.window_days))
                    .collect(),
            )
            .finish()
    }

    /// Customers per stage, in rule order.
    pub fn counts(&self) -> Vec<(&'static str, usize)> {
        STAGES
            .iter()
            .map(|&s| (s, self.stage.iter().filter(|t| **t == s).count()))
            .collect()
    }
}

/// The registry entry: `mart_lifecycle` with the default windows.
pub const ANALYSIS: Analysis = Analysis {
    name: "lifecycle",
    tables: &["mart_lifecycle"],
    command: "acrm mine lifecycle",
    needs_model: false,
    run: |cx| {
        boxed(async move {
            let l = lifecycle(cx.engine, cx.as_of, &LifecycleOptions::default()).await?;
            Ok(vec![("mart_lifecycle".into(), l.to_batch()?)])
        })
    },
    chart: Some(Chart {
        table: "mart_lifecycle",
        figure: Figure::CountsBy {
            column: "stage",
            title: "Customers by lifecycle stage",
        },
        sql: "SELECT stage FROM mart_lifecycle",
    }),
    section: Some(Section {
        title: "Lifecycle",
        text: None,
        table: (
            "Customers by stage",
            "SELECT stage, count(*) AS customers,
                    round(count(*) / CAST((SELECT count(*) FROM mart_lifecycle) AS DOUBLE), 3) AS share
             FROM mart_lifecycle GROUP BY stage ORDER BY customers DESC",
        ),
    }),
};

#[cfg(test)]
mod tests {
    use super::*;

    fn h(tenure: f64, recency: f64, orders: f64, recent: f64) -> History {
        History {
            tenure_days: tenure,
            recency_days: recency,
            orders,
            recent_orders: recent,
        }
    }

    #[test]
    fn stages_follow_the_rule_table() {
        let o = LifecycleOptions::default();
        assert_eq!(stage(&h(-1.0, -1.0, 0.0, 0.0), &o), "prospect");
        // Silent for 400 days, buying every 30: lost.
        assert_eq!(stage(&h(900.0, 400.0, 17.0, 0.0), &o), "lost");
        // Silent 400 days but buys every 200 (3 gaps = 600): not lost; 5 orders in 1020 days
        // before the window expect 0.9 in it, too few to read a trend.
        assert_eq!(stage(&h(1200.0, 400.0, 5.0, 0.0), &o), "stable");
        assert_eq!(stage(&h(100.0, 10.0, 3.0, 3.0), &o), "new");
        // 10 orders in the 320 days before the window expect 5.6 in it.
        assert_eq!(stage(&h(500.0, 10.0, 19.0, 9.0), &o), "growing");
        assert_eq!(stage(&h(500.0, 10.0, 12.0, 2.0), &o), "declining");
        assert_eq!(stage(&h(500.0, 10.0, 15.0, 5.0), &o), "stable");
        // One purchase long ago: lost after the 365-day floor.
        assert_eq!(stage(&h(366.0, 366.0, 1.0, 0.0), &o), "lost");
        // One purchase 250 days ago: no pace to compare with yet.
        assert_eq!(stage(&h(250.0, 250.0, 1.0, 0.0), &o), "stable");
    }

    #[test]
    fn gaps_and_expectations() {
        assert_eq!(h(300.0, 100.0, 5.0, 0.0).mean_gap(), Some(50.0));
        assert_eq!(h(300.0, 300.0, 1.0, 0.0).mean_gap(), None);
        assert_eq!(
            h(540.0, 5.0, 8.0, 2.0).expected_recent_orders(180),
            Some(3.0)
        );
        assert_eq!(h(100.0, 5.0, 8.0, 8.0).expected_recent_orders(180), None);
    }
}
