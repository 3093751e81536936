//! Lifecycle stage per customer as of a date D, from the customer's own purchase history:
//! the exploration → formation → stability → decline path of the relationship literature,
//! plus prospects (known, never bought) and lost customers.
//!
//! Inputs, counted in purchase days as in `mart_clv` (several orders on one day are one
//! purchase; returns are not purchases): first and last purchase, purchases, the mean gap
//! between them ((last − first) / (purchases − 1)), and the purchases of the recent window
//! of W days (default 180) ending on D. The purchases *expected* in that window are BG/NBD's
//! ([`crate::algo::clv::bgnbd`]) for the customer's history at its start, fitted on every
//! customer's history as of then: the customer's own pace, shrunk towards the population's
//! when there is little of it, times the chance they were still buying at all.
//!
//! Stages, first match wins:
//!
//! | stage       | literature  | rule                                                              |
//! |-------------|-------------|-------------------------------------------------------------------|
//! | `prospect`  | —           | in the customer master (signed up by D) but no purchase by D      |
//! | `lost`      | termination | no purchase for more than max(365 days, 3 × own mean gap)         |
//! | `new`       | exploration | first purchase within the recent window                           |
//! | `growing`   | formation   | recent purchases ≥ 1.5 × expected (expected ≥ 1.5)                |
//! | `declining` | decline     | recent purchases ≤ 0.5 × expected (same condition)                |
//! | `stable`    | stability   | everything else: a steady relationship, or too few expected to tell |
//!
//! Comparing the customer with their own past (not with other customers) keeps a rare but
//! regular buyer stable and flags a frequent buyer who slows down; the minimum expectation
//! keeps one purchase more or less of a rare buyer (chance) from counting as a trend. The
//! model's expectation reads a trend even from a short history (two purchases are weak
//! evidence of a pace, and it says how weak) where a plain pace would be noise.
//!
//! `lost` stays a silence rule, not a P(alive) threshold: BG/NBD gives a customer without a
//! repeat purchase P(alive) = 1 by construction, and on a population it finds few drop-outs
//! in, P(alive) stays high long after a regular buyer has gone quiet — it ranks customers
//! (`mart_clv`) better than it sorts them into stages. When BG/NBD cannot be fitted (nobody
//! bought twice before the window), no trend is read: buyers are `lost`, `new` or `stable`.

use std::collections::HashMap;

use acrm_olap::Engine;
use chrono::NaiveDate;
use datafusion::arrow::array::RecordBatch;

use crate::algo::clv::bgnbd::BgNbd;
use crate::analysis::clv::histories_as_of;
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
    /// Recent / expected purchases at or above which a customer is growing.
    pub growth_ratio: f64,
    /// Recent / expected purchases at or below which a customer is declining.
    pub decline_ratio: f64,
    /// Expected recent purchases below which no trend is read.
    pub min_expected: f64,
}

impl Default for LifecycleOptions {
    /// 180-day window, lost after max(365 days, 3 gaps), growing at ×1.5, declining at ×0.5,
    /// trends read from 1.5 expected purchases.
    fn default() -> Self {
        Self {
            window_days: 180,
            lost_after_days: 365.0,
            lost_after_gaps: 3.0,
            growth_ratio: 1.5,
            decline_ratio: 0.5,
            min_expected: 1.5,
        }
    }
}

/// The SQL behind [`lifecycle`]: every customer signed up by `as_of` or with a purchase by
/// then, with their purchase history summary (zeros and −1 days for prospects).
pub fn lifecycle_inputs_sql(as_of: NaiveDate, window_days: u32) -> String {
    format!(
        "WITH days AS (
    SELECT DISTINCT customer_id, order_date
    FROM fact_sales
    WHERE order_date <= DATE '{as_of}' AND customer_id <> 0 AND quantity > 0
), sales AS (
    SELECT customer_id,
           CAST(DATE '{as_of}' AS INT) - CAST(min(order_date) AS INT) AS tenure_days,
           CAST(DATE '{as_of}' AS INT) - CAST(max(order_date) AS INT) AS recency_days,
           count(*) AS purchases,
           count(CASE WHEN order_date > DATE '{recent}' THEN 1 END) AS recent_purchases
    FROM days
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
       CAST(coalesce(s.purchases, 0) AS DOUBLE) AS purchases,
       CAST(coalesce(s.recent_purchases, 0) AS DOUBLE) AS recent_purchases
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
    /// Purchase days.
    pub purchases: f64,
    /// Purchase days in the recent window.
    pub recent_purchases: f64,
}

impl History {
    /// Mean days between purchases; `None` with fewer than two.
    pub fn mean_gap(&self) -> Option<f64> {
        (self.purchases >= 2.0)
            .then(|| (self.tenure_days - self.recency_days) / (self.purchases - 1.0))
    }
}

/// The stage of one customer by the rule table, given the purchases expected in the recent
/// window (`None` when no model was fitted).
pub fn stage(h: &History, expected: Option<f64>, options: &LifecycleOptions) -> &'static str {
    if h.purchases < 1.0 {
        return "prospect";
    }
    let lost_after = h.mean_gap().map_or(options.lost_after_days, |g| {
        options.lost_after_days.max(options.lost_after_gaps * g)
    });
    if h.recency_days > lost_after {
        return "lost";
    }
    if h.tenure_days <= f64::from(options.window_days) {
        return "new";
    }
    match expected {
        Some(e) if e >= options.min_expected && h.recent_purchases >= options.growth_ratio * e => {
            "growing"
        }
        Some(e) if e >= options.min_expected && h.recent_purchases <= options.decline_ratio * e => {
            "declining"
        }
        _ => "stable",
    }
}

/// The model of the purchases expected in the recent window: BG/NBD fitted on every
/// customer's history at the window's start, and those histories by customer.
struct Expectation {
    model: BgNbd,
    histories: HashMap<i64, crate::algo::clv::History>,
    window_days: f64,
}

impl Expectation {
    /// Fits BG/NBD as of `start`; `Err` with the reason when it cannot be fitted.
    async fn fit(
        engine: &Engine,
        start: NaiveDate,
        window_days: u32,
    ) -> Result<std::result::Result<Self, String>> {
        let (ids, histories) = histories_as_of(engine, start).await?;
        if ids.is_empty() {
            return Ok(Err(format!("nobody bought on or before {start}")));
        }
        Ok(match BgNbd::fit(&histories) {
            Ok((model, _)) => Ok(Self {
                model,
                histories: ids.into_iter().zip(histories).collect(),
                window_days: f64::from(window_days),
            }),
            Err(e) => Err(e.to_string()),
        })
    }

    /// Purchases expected in the window of a customer who had bought before it.
    fn expected(&self, customer_id: i64) -> Option<f64> {
        self.histories
            .get(&customer_id)
            .map(|h| self.model.expected_purchases(h, self.window_days))
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
    /// Purchases BG/NBD expected of them in the recent window (`None` for customers who had
    /// not bought before it, and for everyone when no model was fitted).
    pub expected: Vec<Option<f64>>,
    /// Their stages (one of [`STAGES`]).
    pub stage: Vec<&'static str>,
    /// The model behind the expectations, or why there is none.
    pub model: std::result::Result<BgNbd, String>,
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
    let (tenure, recency, purchases, recent) = (
        col("tenure_days")?,
        col("recency_days")?,
        col("purchases")?,
        col("recent_purchases")?,
    );
    let history: Vec<History> = (0..t.len())
        .map(|i| History {
            tenure_days: tenure[i],
            recency_days: recency[i],
            purchases: purchases[i],
            recent_purchases: recent[i],
        })
        .collect();
    let start = days_before(as_of, options.window_days);
    let expectation = Expectation::fit(engine, start, options.window_days).await?;
    if let Err(why) = &expectation {
        tracing::warn!(%why, "no BG/NBD model of the recent window: lifecycle trends not read");
    }
    let expected: Vec<Option<f64>> = t
        .ids
        .iter()
        .map(|&id| expectation.as_ref().ok().and_then(|e| e.expected(id)))
        .collect();
    let stage = history
        .iter()
        .zip(&expected)
        .map(|(h, e)| stage(h, *e, options))
        .collect();
    Ok(Lifecycle {
        as_of,
        customer_id: t.ids.clone(),
        history,
        expected,
        stage,
        model: expectation.map(|e| e.model),
    })
}

impl Lifecycle {
    /// The `mart_lifecycle` table: one row per customer; history columns are null for prospects.
    pub fn to_batch(&self) -> Result<RecordBatch> {
        let n = self.customer_id.len();
        let bought = |f: fn(&History) -> f64| -> Vec<Option<f64>> {
            self.history
                .iter()
                .map(|h| (h.purchases >= 1.0).then(|| f(h)))
                .collect()
        };
        TableBuilder::new()
            .i64("customer_id", self.customer_id.clone())
            .date("as_of", self.as_of, n)
            .utf8("stage", &self.stage)
            .f64_opt("tenure_days", bought(|h| h.tenure_days))
            .f64_opt("recency_days", bought(|h| h.recency_days))
            .f64(
                "purchases",
                self.history.iter().map(|h| h.purchases).collect(),
            )
            .f64_opt(
                "mean_gap_days",
                self.history.iter().map(History::mean_gap).collect(),
            )
            .f64(
                "recent_purchases",
                self.history.iter().map(|h| h.recent_purchases).collect(),
            )
            .f64_opt("expected_recent_purchases", self.expected.clone())
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

    fn h(tenure: f64, recency: f64, purchases: f64, recent: f64) -> History {
        History {
            tenure_days: tenure,
            recency_days: recency,
            purchases,
            recent_purchases: recent,
        }
    }

    #[test]
    fn stages_follow_the_rule_table() {
        let o = LifecycleOptions::default();
        assert_eq!(stage(&h(-1.0, -1.0, 0.0, 0.0), None, &o), "prospect");
        // Silent for 400 days, buying every 30: lost, whatever the model expected.
        assert_eq!(stage(&h(900.0, 400.0, 17.0, 0.0), Some(0.1), &o), "lost");
        // Silent 400 days but buys every 200 (3 gaps = 600): not lost; 0.9 expected in the
        // window is too few to read a trend.
        assert_eq!(stage(&h(1200.0, 400.0, 5.0, 0.0), Some(0.9), &o), "stable");
        assert_eq!(stage(&h(100.0, 10.0, 3.0, 3.0), None, &o), "new");
        assert_eq!(stage(&h(500.0, 10.0, 19.0, 9.0), Some(5.6), &o), "growing");
        assert_eq!(
            stage(&h(500.0, 10.0, 12.0, 2.0), Some(5.0), &o),
            "declining"
        );
        assert_eq!(stage(&h(500.0, 10.0, 15.0, 5.0), Some(5.0), &o), "stable");
        // Without a model no trend is read.
        assert_eq!(stage(&h(500.0, 10.0, 12.0, 2.0), None, &o), "stable");
        // One purchase long ago: lost after the 365-day floor.
        assert_eq!(stage(&h(366.0, 366.0, 1.0, 0.0), Some(2.0), &o), "lost");
        // One purchase 250 days ago, expected 0.6 since: no trend.
        assert_eq!(stage(&h(250.0, 250.0, 1.0, 0.0), Some(0.6), &o), "stable");
    }

    #[test]
    fn gaps_are_between_purchase_days() {
        assert_eq!(h(300.0, 100.0, 5.0, 0.0).mean_gap(), Some(50.0));
        assert_eq!(h(300.0, 300.0, 1.0, 0.0).mean_gap(), None);
    }
}
