//! RFM: recency, frequency and monetary value per customer, quintile scores 1–5, the
//! three-digit RFM code and a named segment.
//!
//! Definitions (as of a date D, buyers only):
//! - recency = days from the last purchase to D; frequency = distinct orders; monetary =
//!   total revenue; average order value = monetary / frequency.
//! - A score is `1 + floor(5 × worse / n)`, where `worse` is how many of the `n` customers
//!   have a strictly worse value (a longer recency, fewer orders, less revenue). Ties share a
//!   score, 5 is best, and each score holds about a fifth of the customers. In SQL:
//!   `1 + floor(5 * (rank() OVER (ORDER BY frequency) - 1) / count(*) OVER ())`, with
//!   `ORDER BY recency_days DESC` for R.
//!
//! Segments come from the R and F scores (the widely used RFM grid), first match wins:
//!
//! | segment             | R    | F    | meaning                                   |
//! |---------------------|------|------|-------------------------------------------|
//! | champions           | 4–5  | 4–5  | bought recently, buy often                |
//! | loyal               | 3    | 4–5  | buy often, not quite lately               |
//! | potential_loyalists | 4–5  | 2–3  | recent, buying more than once             |
//! | new_customers       | 5    | 1    | first purchase just now                   |
//! | promising           | 4    | 1    | recent single purchase                    |
//! | need_attention      | 3    | 2–3  | middling on both                          |
//! | about_to_sleep      | 3    | 1    | one purchase, fading                      |
//! | cant_lose           | 1–2  | 5    | were among the most frequent, now gone    |
//! | at_risk             | 1–2  | 3–4  | bought often, long ago                    |
//! | hibernating         | 2    | 1–2  | few purchases, long ago                   |
//! | lost                | 1    | 1–2  | few purchases, longest ago                |

use chrono::NaiveDate;
use datafusion::arrow::array::RecordBatch;

use super::registry::{Analysis, Chart, Figure, Section, boxed};
use crate::analysis::features::FeatureTable;
use crate::{Error, Result};
use acrm_olap::TableBuilder;

/// Segment names in rule order (the rule table in the module documentation).
pub const SEGMENTS: &[&str] = &[
    "champions",
    "loyal",
    "potential_loyalists",
    "new_customers",
    "promising",
    "need_attention",
    "about_to_sleep",
    "cant_lose",
    "at_risk",
    "hibernating",
    "lost",
];

/// The named segment of an R and F score pair (1–5 each).
pub fn segment(r: u8, f: u8) -> &'static str {
    match (r, f) {
        (4..=5, 4..=5) => "champions",
        (3, 4..=5) => "loyal",
        (4..=5, 2..=3) => "potential_loyalists",
        (5, 1) => "new_customers",
        (4, 1) => "promising",
        (3, 2..=3) => "need_attention",
        (3, 1) => "about_to_sleep",
        (1..=2, 5) => "cant_lose",
        (1..=2, 3..=4) => "at_risk",
        (2, 1..=2) => "hibernating",
        _ => "lost",
    }
}

/// Quintile scores of `values`: `1 + floor(5 × worse / n)` where `worse` counts values
/// strictly worse (smaller when `higher_is_better`, larger otherwise).
pub fn quintile_scores(values: &[f64], higher_is_better: bool) -> Vec<u8> {
    let mut sorted: Vec<f64> = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = values.len();
    values
        .iter()
        .map(|&v| {
            let worse = if higher_is_better {
                sorted.partition_point(|&x| x < v)
            } else {
                n - sorted.partition_point(|&x| x <= v)
            };
            (1 + (5 * worse) / n) as u8
        })
        .collect()
}

/// RFM of every customer in a feature table.
#[derive(Debug, Clone)]
pub struct Rfm {
    /// The date it is computed as of.
    pub as_of: NaiveDate,
    /// Customer ids.
    pub customer_id: Vec<i64>,
    /// Days since the last purchase.
    pub recency_days: Vec<f64>,
    /// Distinct orders.
    pub frequency: Vec<f64>,
    /// Total revenue.
    pub monetary: Vec<f64>,
    /// R score 1–5 (5 = most recent).
    pub r: Vec<u8>,
    /// F score 1–5 (5 = most orders).
    pub f: Vec<u8>,
    /// M score 1–5 (5 = most revenue).
    pub m: Vec<u8>,
}

impl Rfm {
    /// Scores the `recency_days`, `frequency` and `monetary` columns of `features`.
    pub fn score(features: &FeatureTable, as_of: NaiveDate) -> Result<Self> {
        if features.is_empty() {
            return Err(Error::Invalid(
                "no customers with purchases as of that date".into(),
            ));
        }
        let recency_days = features.column("recency_days")?.to_vec();
        let frequency = features.column("frequency")?.to_vec();
        let monetary = features.column("monetary")?.to_vec();
        Ok(Self {
            as_of,
            customer_id: features.ids.clone(),
            r: quintile_scores(&recency_days, false),
            f: quintile_scores(&frequency, true),
            m: quintile_scores(&monetary, true),
            recency_days,
            frequency,
            monetary,
        })
    }

    /// The `mart_rfm` table: one row per customer.
    pub fn to_batch(&self) -> Result<RecordBatch> {
        let n = self.customer_id.len();
        let code: Vec<String> = (0..n)
            .map(|i| format!("{}{}{}", self.r[i], self.f[i], self.m[i]))
            .collect();
        let seg: Vec<&str> = (0..n).map(|i| segment(self.r[i], self.f[i])).collect();
        let aov: Vec<f64> = (0..n)
            .map(|i| self.monetary[i] / self.frequency[i].max(1.0))
            .collect();
        TableBuilder::new()
            .i64("customer_id", self.customer_id.clone())
            .date("as_of", self.as_of, n)
            .f64("recency_days", self.recency_days.clone())
            .f64("frequency", self.frequency.clone())
            .money("monetary", self.monetary.clone())
            .money("avg_order_value", aov)
            .u8("r_score", self.r.clone())
            .u8("f_score", self.f.clone())
            .u8("m_score", self.m.clone())
            .utf8("rfm_code", &code)
            .utf8("rfm_segment", &seg)
            .finish()
    }

    /// Customers, share of customers and of revenue, and mean R/F/M per segment, in rule order
    /// (segments without customers left out).
    pub fn summary(&self) -> Vec<SegmentSummary> {
        let n = self.customer_id.len() as f64;
        let total: f64 = self.monetary.iter().sum();
        let of: Vec<&str> = (0..self.customer_id.len())
            .map(|i| segment(self.r[i], self.f[i]))
            .collect();
        SEGMENTS
            .iter()
            .filter_map(|&name| {
                let idx: Vec<usize> = (0..of.len()).filter(|&i| of[i] == name).collect();
                if idx.is_empty() {
                    return None;
                }
                let k = idx.len() as f64;
                let mean = |v: &[f64]| idx.iter().map(|&i| v[i]).sum::<f64>() / k;
                let revenue: f64 = idx.iter().map(|&i| self.monetary[i]).sum();
                Some(SegmentSummary {
                    segment: name,
                    customers: idx.len(),
                    customer_share: k / n,
                    revenue_share: if total > 0.0 { revenue / total } else { 0.0 },
                    mean_recency_days: mean(&self.recency_days),
                    mean_frequency: mean(&self.frequency),
                    mean_monetary: mean(&self.monetary),
                })
            })
            .collect()
    }
}

/// One line of [`Rfm::summary`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct SegmentSummary {
    /// Segment name.
    pub segment: &'static str,
    /// Customers in it.
    pub customers: usize,
    /// Their share of all scored customers.
    pub customer_share: f64,
    /// Their share of total revenue.
    pub revenue_share: f64,
    /// Mean days since the last purchase.
    pub mean_recency_days: f64,
    /// Mean distinct orders.
    pub mean_frequency: f64,
    /// Mean revenue.
    pub mean_monetary: f64,
}

/// The registry entry: `mart_rfm` from the shared customer features.
pub const ANALYSIS: Analysis = Analysis {
    name: "rfm",
    tables: &["mart_rfm"],
    command: "acrm mine rfm",
    needs_model: false,
    run: |cx| {
        boxed(async move {
            let as_of = cx.as_of;
            let rfm = Rfm::score(cx.features().await?, as_of)?;
            Ok(vec![("mart_rfm".into(), rfm.to_batch()?)])
        })
    },
    chart: Some(Chart {
        table: "mart_rfm",
        figure: Figure::RfmHeatmap,
        sql: "SELECT r_score, f_score, monetary FROM mart_rfm",
    }),
    section: Some(Section {
        title: "RFM",
        text: None,
        table: (
            "RFM segments",
            "SELECT rfm_segment, count(*) AS customers, round(avg(recency_days), 1) AS mean_recency_days,
                    round(avg(frequency), 2) AS mean_orders, round(avg(monetary), 2) AS mean_monetary
             FROM mart_rfm GROUP BY rfm_segment ORDER BY customers DESC",
        ),
    }),
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_are_quintiles_with_ties_sharing_a_score() {
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(
            quintile_scores(&v, true),
            vec![1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
        );
        assert_eq!(
            quintile_scores(&v, false),
            vec![5, 5, 4, 4, 3, 3, 2, 2, 1, 1]
        );
        // Ten equal values: nobody is strictly worse, all share the lowest score.
        assert_eq!(quintile_scores(&[7.0; 10], true), vec![1; 10]);
        let tied = quintile_scores(&[1.0, 2.0, 2.0, 2.0, 3.0], true);
        assert_eq!(tied, vec![1, 2, 2, 2, 5]);
    }

    #[test]
    fn every_grid_cell_has_exactly_one_segment() {
        for r in 1..=5 {
            for f in 1..=5 {
                assert!(SEGMENTS.contains(&segment(r, f)), "{r}{f}");
            }
        }
        assert_eq!(segment(5, 5), "champions");
        assert_eq!(segment(1, 5), "cant_lose");
        assert_eq!(segment(1, 1), "lost");
        assert_eq!(segment(5, 1), "new_customers");
        assert_eq!(segment(2, 2), "hibernating");
    }
}
