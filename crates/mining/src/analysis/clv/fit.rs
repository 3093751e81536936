//! The lifetime value computed: the customers' histories from the warehouse, both models
//! fitted on them, each customer valued, and the holdout check (the models and definitions
//! are in the parent module's documentation).

use acrm_olap::{Engine, TableBuilder};
use chrono::NaiveDate;
use datafusion::arrow::array::RecordBatch;

use crate::algo::clv::bgnbd::BgNbd;
use crate::algo::clv::gamma_gamma::{GammaGamma, Spend};
use crate::algo::clv::{Fit, History};
use crate::analysis::features::{FeatureTable, days_before, query_features};
use crate::{Error, Result};

/// Days in a year.
pub const YEAR_DAYS: f64 = 365.25;

/// Days in a month when discounting month by month.
const MONTH_DAYS: f64 = YEAR_DAYS / 12.0;

/// The knobs of the lifetime value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ClvOptions {
    /// Days after D the expected purchases and value cover.
    pub horizon_days: u32,
    /// Discount rate per month.
    pub monthly_discount: f64,
}

impl Default for ClvOptions {
    /// A year, 1% a month.
    fn default() -> Self {
        Self {
            horizon_days: 365,
            monthly_discount: 0.01,
        }
    }
}

/// The horizon of `options` in years, each month discounted to its end as the purchases of
/// [`BgNbd::discounted_value`] are: what one unit a year paid throughout the horizon is worth.
pub fn discounted_years(options: &ClvOptions) -> f64 {
    crate::algo::clv::months(f64::from(options.horizon_days), MONTH_DAYS)
        .map(|(start, end)| {
            (end - start) / YEAR_DAYS / (1.0 + options.monthly_discount).powf(end / MONTH_DAYS)
        })
        .sum()
}

/// The SQL behind [`clv`]: one row per customer with a purchase on or before `as_of`, with
/// `frequency`, `recency_days`, `age_days` and `avg_repeat_spend`.
pub fn clv_inputs_sql(as_of: NaiveDate) -> String {
    format!(
        "WITH days AS (
    SELECT customer_id, order_date, CAST(sum(revenue) AS DOUBLE) AS revenue
    FROM fact_sales
    WHERE order_date <= DATE '{as_of}' AND customer_id <> 0 AND quantity > 0
    GROUP BY customer_id, order_date
), firsts AS (
    SELECT customer_id, min(order_date) AS first_day FROM days GROUP BY customer_id
)
SELECT d.customer_id,
       CAST(count(*) - 1 AS DOUBLE) AS frequency,
       CAST(CAST(max(d.order_date) AS INT) - CAST(f.first_day AS INT) AS DOUBLE) AS recency_days,
       CAST(CAST(DATE '{as_of}' AS INT) - CAST(f.first_day AS INT) AS DOUBLE) AS age_days,
       coalesce(CAST(avg(CASE WHEN d.order_date > f.first_day THEN d.revenue END) AS DOUBLE), 0.0)
         AS avg_repeat_spend
FROM days d JOIN firsts f ON f.customer_id = d.customer_id
GROUP BY d.customer_id, f.first_day
ORDER BY d.customer_id"
    )
}

/// Every customer's purchase history as of `as_of` ([`clv_inputs_sql`]): their ids and
/// histories, both empty when nobody had bought by then.
pub(crate) async fn histories_as_of(
    engine: &Engine,
    as_of: NaiveDate,
) -> Result<(Vec<i64>, Vec<History>)> {
    let table = query_features(engine, &clv_inputs_sql(as_of), "customer_id").await?;
    if table.is_empty() {
        return Ok((Vec::new(), Vec::new()));
    }
    let (histories, _) = histories(&table)?;
    Ok((table.ids.clone(), histories))
}

/// The purchase histories of a feature table of [`clv_inputs_sql`]'s columns.
fn histories(t: &FeatureTable) -> Result<(Vec<History>, Vec<Spend>)> {
    let (x, tx, age, spend) = (
        t.column("frequency")?,
        t.column("recency_days")?,
        t.column("age_days")?,
        t.column("avg_repeat_spend")?,
    );
    let histories = (0..t.len())
        .map(|i| History {
            frequency: x[i],
            recency: tx[i],
            age: age[i],
        })
        .collect();
    let spends = (0..t.len())
        .map(|i| Spend {
            frequency: x[i],
            mean: spend[i],
        })
        .collect();
    Ok((histories, spends))
}

/// Both models fitted on one population.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Models {
    /// Purchases and drop-out.
    pub bgnbd: BgNbd,
    /// How the BG/NBD fit went.
    pub bgnbd_fit: Fit,
    /// Spend per purchase.
    pub gamma_gamma: GammaGamma,
    /// How the Gamma-Gamma fit went.
    pub gamma_gamma_fit: Fit,
    /// Seconds both fits took.
    pub fit_seconds: f64,
    /// Mean of the repeat customers' mean spend: what Gamma-Gamma was fitted on, and the
    /// value of a customer the model has no finite mean for ([`GammaGamma::expected_spend`]).
    pub observed_spend: f64,
}

impl Models {
    /// Fits BG/NBD on `histories` and Gamma-Gamma on the `spends` with repeat purchases and a
    /// positive mean.
    pub fn fit(histories: &[History], spends: &[Spend]) -> Result<Self> {
        let started = std::time::Instant::now();
        let (bgnbd, bgnbd_fit) = BgNbd::fit(histories)?;
        let repeat: Vec<Spend> = spends
            .iter()
            .copied()
            .filter(|s| s.frequency >= 1.0 && s.mean > 0.0)
            .collect();
        let (gamma_gamma, gamma_gamma_fit) = GammaGamma::fit(&repeat)?;
        let observed_spend = repeat.iter().map(|s| s.mean).sum::<f64>() / repeat.len() as f64;
        let models = Self {
            bgnbd,
            bgnbd_fit,
            gamma_gamma,
            gamma_gamma_fit,
            fit_seconds: started.elapsed().as_secs_f64(),
            observed_spend,
        };
        if let Some(warning) = models.spend_warning() {
            tracing::warn!("{warning}");
        }
        Ok(models)
    }

    /// Expected revenue per purchase day of a customer: Gamma-Gamma's, or where it has no
    /// finite mean the customer's own mean of repeat purchases, else [`Models::observed_spend`].
    pub fn expected_spend(&self, s: &Spend) -> f64 {
        self.gamma_gamma
            .expected_spend(s)
            .unwrap_or(if s.frequency >= 1.0 && s.mean > 0.0 {
                s.mean
            } else {
                self.observed_spend
            })
    }

    /// Why some customers are not valued by Gamma-Gamma: a fit with q ≤ 1.
    pub fn spend_warning(&self) -> Option<String> {
        let q = self.gamma_gamma.q;
        (q <= 1.0).then(|| {
            format!(
                "Gamma-Gamma fitted q = {q:.4} ≤ 1: spend per customer is too heavy-tailed for a \
                 population mean; customers without repeat purchases are valued at the observed \
                 mean repeat spend, {:.2}",
                self.observed_spend
            )
        })
    }
}

/// Every customer's lifetime value as of a date.
#[derive(Debug, Clone)]
pub struct Clv {
    /// The date.
    pub as_of: NaiveDate,
    /// How far ahead and at what discount.
    pub options: ClvOptions,
    /// The fitted models.
    pub models: Models,
    /// Customer ids.
    pub customer_id: Vec<i64>,
    /// Each customer's history.
    pub histories: Vec<History>,
    /// Each customer's repeat purchases and their mean value.
    pub spends: Vec<Spend>,
    /// P(alive at as_of).
    pub p_alive: Vec<f64>,
    /// Purchase days expected in the horizon.
    pub expected_purchases: Vec<f64>,
    /// Expected revenue per purchase day.
    pub expected_spend: Vec<f64>,
    /// Discounted expected revenue of the horizon.
    pub clv: Vec<f64>,
}

/// Fits the models on the customers as of `as_of` and values every customer.
pub async fn clv(engine: &Engine, as_of: NaiveDate, options: &ClvOptions) -> Result<Clv> {
    let table = query_features(engine, &clv_inputs_sql(as_of), "customer_id").await?;
    if table.is_empty() {
        return Err(Error::Invalid(format!(
            "no customer bought on or before {as_of}: no lifetime value to model"
        )));
    }
    value(&table, as_of, options)
}

/// Fits the models on the customers of `table` (the columns of [`clv_inputs_sql`], e.g. a
/// file of summaries made elsewhere) and values every customer as of `as_of`.
pub fn value(table: &FeatureTable, as_of: NaiveDate, options: &ClvOptions) -> Result<Clv> {
    let (histories, spends) = histories(table)?;
    let models = Models::fit(&histories, &spends)?;
    tracing::info!(
        customers = histories.len(),
        fit_seconds = models.fit_seconds,
        "BG/NBD and Gamma-Gamma fitted"
    );
    let horizon = f64::from(options.horizon_days);
    let bg = &models.bgnbd;
    let p_alive = histories.iter().map(|h| bg.p_alive(h)).collect();
    let expected_purchases = histories
        .iter()
        .map(|h| bg.expected_purchases(h, horizon))
        .collect();
    let expected_spend: Vec<f64> = spends.iter().map(|s| models.expected_spend(s)).collect();
    let clv = histories
        .iter()
        .zip(&expected_spend)
        .map(|(h, &spend)| {
            bg.discounted_value(h, spend, horizon, MONTH_DAYS, options.monthly_discount)
        })
        .collect();
    Ok(Clv {
        as_of,
        options: *options,
        models,
        customer_id: table.ids.clone(),
        histories,
        spends,
        p_alive,
        expected_purchases,
        expected_spend,
        clv,
    })
}

impl Clv {
    /// `mart_clv`: one row per customer.
    pub fn customers_batch(&self) -> Result<RecordBatch> {
        let n = self.customer_id.len();
        let of = |f: fn(&History) -> f64| self.histories.iter().map(f).collect::<Vec<_>>();
        TableBuilder::new()
            .i64("customer_id", self.customer_id.clone())
            .date("as_of", self.as_of, n)
            .f64("frequency", of(|h| h.frequency))
            .f64("recency_days", of(|h| h.recency))
            .f64("age_days", of(|h| h.age))
            .money(
                "avg_repeat_spend",
                self.spends.iter().map(|s| s.mean).collect(),
            )
            .share("p_alive", self.p_alive.clone())
            .f64("expected_purchases", self.expected_purchases.clone())
            .money("expected_spend", self.expected_spend.clone())
            .money("clv", self.clv.clone())
            .i64(
                "horizon_days",
                vec![i64::from(self.options.horizon_days); n],
            )
            .finish()
    }

    /// `mart_clv_fit`: one row per fitted parameter.
    pub fn fit_batch(&self) -> Result<RecordBatch> {
        let m = &self.models;
        let rows = [
            ("bg_nbd", "r", m.bgnbd.r, &m.bgnbd_fit),
            ("bg_nbd", "alpha", m.bgnbd.alpha, &m.bgnbd_fit),
            ("bg_nbd", "a", m.bgnbd.a, &m.bgnbd_fit),
            ("bg_nbd", "b", m.bgnbd.b, &m.bgnbd_fit),
            ("gamma_gamma", "p", m.gamma_gamma.p, &m.gamma_gamma_fit),
            ("gamma_gamma", "q", m.gamma_gamma.q, &m.gamma_gamma_fit),
            (
                "gamma_gamma",
                "gamma",
                m.gamma_gamma.gamma,
                &m.gamma_gamma_fit,
            ),
        ];
        TableBuilder::new()
            .utf8("model", &rows.iter().map(|r| r.0).collect::<Vec<_>>())
            .utf8("parameter", &rows.iter().map(|r| r.1).collect::<Vec<_>>())
            .f64("value", rows.iter().map(|r| r.2).collect())
            .f64(
                "log_likelihood",
                rows.iter().map(|r| r.3.log_likelihood).collect(),
            )
            .i64(
                "customers",
                rows.iter().map(|r| r.3.customers as i64).collect(),
            )
            .date("as_of", self.as_of, rows.len())
            .finish()
    }
}

/// One line of the holdout check: the customers of a calibration frequency.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct HoldoutRow {
    /// Repeat purchase days in the calibration period (`7+` gathers the rest).
    pub frequency: String,
    /// Customers.
    pub customers: usize,
    /// Mean purchase days BG/NBD expected in the holdout days.
    pub predicted: f64,
    /// Mean purchase days they made.
    pub actual: f64,
}

/// Highest calibration frequency with a line of its own in the holdout check.
const HOLDOUT_FREQUENCIES: usize = 7;

/// The holdout check: the models fitted as of `as_of` − `days`, their expected purchases of
/// the `days` after it beside the actual purchase days, by calibration frequency (0 … 6, 7+),
/// and a line for all customers.
pub async fn holdout(
    engine: &Engine,
    as_of: NaiveDate,
    days: u32,
) -> Result<(Models, Vec<HoldoutRow>)> {
    let calibration = days_before(as_of, days);
    let table = query_features(engine, &clv_inputs_sql(calibration), "customer_id").await?;
    if table.is_empty() {
        return Err(Error::Invalid(format!(
            "no customer bought on or before {calibration} (the calibration end): nothing to check"
        )));
    }
    let (histories, spends) = histories(&table)?;
    let models = Models::fit(&histories, &spends)?;
    let actual_sql = format!(
        "SELECT customer_id, CAST(count(DISTINCT order_date) AS DOUBLE) AS purchases
         FROM fact_sales
         WHERE order_date > DATE '{calibration}' AND order_date <= DATE '{as_of}'
           AND customer_id <> 0 AND quantity > 0
         GROUP BY customer_id"
    );
    let actual = query_features(engine, &actual_sql, "customer_id").await?;
    let bought: std::collections::HashMap<i64, f64> = if actual.is_empty() {
        Default::default()
    } else {
        let p = actual.column("purchases")?;
        actual.ids.iter().copied().zip(p.iter().copied()).collect()
    };
    let mut sums = vec![(0usize, 0.0, 0.0); HOLDOUT_FREQUENCIES + 2];
    for (h, id) in histories.iter().zip(&table.ids) {
        let line = (h.frequency as usize).min(HOLDOUT_FREQUENCIES);
        let predicted = models.bgnbd.expected_purchases(h, f64::from(days));
        let made = bought.get(id).copied().unwrap_or(0.0);
        for at in [line, HOLDOUT_FREQUENCIES + 1] {
            sums[at].0 += 1;
            sums[at].1 += predicted;
            sums[at].2 += made;
        }
    }
    let rows = sums
        .into_iter()
        .enumerate()
        .filter(|(_, (n, _, _))| *n > 0)
        .map(|(line, (n, predicted, made))| HoldoutRow {
            frequency: match line {
                HOLDOUT_FREQUENCIES => format!("{HOLDOUT_FREQUENCIES}+"),
                l if l > HOLDOUT_FREQUENCIES => "all".into(),
                l => l.to_string(),
            },
            customers: n,
            predicted: predicted / n as f64,
            actual: made / n as f64,
        })
        .collect();
    Ok((models, rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discounted_years_discount_each_month_to_its_end() {
        let undiscounted = ClvOptions {
            horizon_days: 730,
            monthly_discount: 0.0,
        };
        assert!((discounted_years(&undiscounted) - 730.0 / 365.25).abs() < 1e-12);
        // A year at 1% a month: twelve months of 365.25 / 12 days, the last cut at day 365,
        // each discounted to its end (the figure worked out apart from this code).
        let y = discounted_years(&ClvOptions::default());
        assert!((y - 0.937_321_691_590_501_2).abs() < 1e-12, "{y}");
    }
}
