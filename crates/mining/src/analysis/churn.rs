//! Churn prediction from the warehouse. A customer **churns** after date A when they buy
//! nothing in the `horizon` days after it, (A, A + horizon]. The population at A is every
//! customer who bought in the year up to A (customers already silent for a year are lost,
//! not churning). Features are computed from facts dated on or before A only, so training
//! never sees the future it predicts:
//!
//! | feature | meaning |
//! |---|---|
//! | `recency_days` | days since the last purchase |
//! | `orders_365`, `revenue_365` | orders and revenue in the year up to A |
//! | `orders_trend`, `revenue_trend` | last 90 days minus the 90 days before |
//! | `avg_order_value` | revenue per order over the year |
//! | `expected_orders` | orders expected in the horizon at the year's pace |
//! | `avg_gap_days` | mean days between orders over all history (missing with one order) |
//! | `recency_ratio` | `recency_days` / `avg_gap_days`: how overdue the next order is |
//! | `tenure_days` | days since the first purchase |
//! | `complaints_180`, `contacts_180` | service complaints and contacts in 180 days |
//! | `avg_satisfaction_365` | mean satisfaction score in the year (missing when none) |
//! | `min_satisfaction_180` | lowest satisfaction score in 180 days (missing when none) |
//! | `main_channel` | channel type with most order lines in the year |
//! | `customer_type` | segment of the customer master as of A |
//! | `p_alive` | with `--p-alive` only: P(alive at A) by BG/NBD fitted on every customer's purchase days up to A |
//!
//! Training is time-aware: the test rows are the population at A_test = last sale day −
//! horizon (their outcome is the latest fully observed window), the training rows the
//! population at A_train = A_test − horizon, whose outcome window ends where the test
//! features begin. Scoring uses A = the last sale day.

use acrm_olap::{Engine, Frame};
use chrono::NaiveDate;
use datafusion::arrow::array::RecordBatch;

use std::collections::HashMap;

use crate::Result;
use crate::algo::clv::bgnbd::BgNbd;
use crate::algo::metrics::{Evaluation, cheapest_cutoff};
use crate::analysis::clv::histories_as_of;
use crate::analysis::features::{customer_as_of_sql, days_before};
use crate::model::source::{Loaded, Source};
use crate::model::{Costs, Model, Target};
use acrm_olap::TableBuilder;

use super::registry::{Analysis, Chart, Figure, Section, boxed};

/// Registry task name.
pub const TASK: &str = "churn";

/// Default outcome window in days.
pub const DEFAULT_HORIZON: u32 = 90;

/// The label column: `true` for a churner, null when the window is not over yet.
pub const LABEL: &str = "churned";

/// The input column a model trained with P(alive) reads.
pub const P_ALIVE: &str = "p_alive";

/// Whether `model` reads [`P_ALIVE`], so its populations need a BG/NBD fit.
pub fn uses_p_alive(model: &Model) -> bool {
    model.encoding.input_names().iter().any(|n| n == P_ALIVE)
}

/// P(alive at A) of the `s` row of [`dataset_sql`] under `model` (Fader, Hardie & Lee 2005,
/// eq. 13, in logarithms): 1 / (1 + a / (b + x − 1) · ((α + T) / (α + tₓ))^(r + x)) with
/// x = purchase days − 1, tₓ = last − first purchase day, T = A − first; 1 without a repeat
/// purchase. The fitted parameters are literals, so the population is one query.
fn p_alive_sql(model: &BgNbd, a: &str) -> String {
    let BgNbd {
        r,
        alpha,
        a: beta_a,
        b,
    } = *model;
    format!(
        "CASE WHEN s.purchase_days > 1 THEN 1.0 / (1.0 + exp(
            ln(CAST({beta_a} AS DOUBLE)) - ln({b} + CAST(s.purchase_days AS DOUBLE) - 2.0)
            + ({r} + CAST(s.purchase_days AS DOUBLE) - 1.0)
              * (ln({alpha} + CAST(CAST({a} AS INT) - CAST(s.first_purchase AS INT) AS DOUBLE))
                 - ln({alpha} + CAST(CAST(s.last_purchase AS INT) - CAST(s.first_purchase AS INT) AS DOUBLE)))))
       ELSE 1.0 END"
    )
}

/// The feature and label rows of the population at `as_of`, with a `horizon`-day outcome
/// window whose label is null when it runs past `last_day`, and [`P_ALIVE`] under `p_alive`
/// (fitted as of `as_of`) when given.
pub fn dataset_sql(
    as_of: NaiveDate,
    horizon: u32,
    last_day: NaiveDate,
    p_alive: Option<&BgNbd>,
) -> String {
    let a = format!("DATE '{as_of}'");
    let d90 = days_before(as_of, 90);
    let d180 = days_before(as_of, 180);
    let d365 = days_before(as_of, 365);
    let end = as_of + chrono::Duration::days(i64::from(horizon));
    let known = end <= last_day;
    let label = if known {
        "l.customer_id IS NULL".to_string()
    } else {
        "CAST(NULL AS BOOLEAN)".to_string()
    };
    let customer = customer_as_of_sql(as_of);
    let p_alive = p_alive.map_or(String::new(), |m| {
        format!(
            "\n       {} AS {P_ALIVE},  -- P(alive) by BG/NBD fitted on every customer's purchase days up to the as-of date.",
            p_alive_sql(m, &a)
        )
    });
    format!(
        "WITH history AS (
    -- Revenue stays a decimal until summed: a sum of doubles depends on the order the
    -- parallel aggregation adds them in, and a last-bit difference can move a customer across
    -- a tree's split (SQL scoring must equal the CLI's, run after run).
    SELECT s.customer_id, s.order_date, s.revenue, ch.channel_type,
           -- Purchases count as orders; a return only takes its money back.
           CASE WHEN s.quantity > 0 THEN s.order_id END AS order_id
    FROM fact_sales s JOIN dim_channel ch ON ch.channel_key = s.channel_key
    WHERE s.order_date <= {a} AND s.customer_id <> 0
), active AS (
    SELECT customer_id FROM history WHERE order_date > DATE '{d365}' AND order_id IS NOT NULL
    GROUP BY customer_id
), sales AS (
    SELECT h.customer_id,
           max(CASE WHEN order_id IS NOT NULL THEN order_date END) AS last_purchase,
           min(CASE WHEN order_id IS NOT NULL THEN order_date END) AS first_purchase,
           count(DISTINCT order_id) AS orders_all,
           count(DISTINCT CASE WHEN order_id IS NOT NULL THEN order_date END) AS purchase_days,
           count(DISTINCT CASE WHEN order_date > DATE '{d365}' THEN order_id END) AS orders_365,
           count(DISTINCT CASE WHEN order_date > DATE '{d90}' THEN order_id END) AS orders_90,
           count(DISTINCT CASE WHEN order_date > DATE '{d180}' AND order_date <= DATE '{d90}' THEN order_id END) AS orders_prev_90,
           CAST(sum(CASE WHEN order_date > DATE '{d365}' THEN revenue ELSE 0 END) AS DOUBLE) AS revenue_365,
           CAST(sum(CASE WHEN order_date > DATE '{d90}' THEN revenue ELSE 0 END) AS DOUBLE) AS revenue_90,
           CAST(sum(CASE WHEN order_date > DATE '{d180}' AND order_date <= DATE '{d90}' THEN revenue ELSE 0 END) AS DOUBLE)
             AS revenue_prev_90
    FROM history h JOIN active a ON a.customer_id = h.customer_id
    GROUP BY h.customer_id
), channel_lines AS (
    SELECT customer_id, channel_type, count(*) AS lines
    FROM history WHERE order_date > DATE '{d365}' AND order_id IS NOT NULL
    GROUP BY customer_id, channel_type
), main_channel AS (
    SELECT customer_id, channel_type FROM (
        SELECT *, row_number() OVER (PARTITION BY customer_id ORDER BY lines DESC, channel_type) AS k
        FROM channel_lines) c
    WHERE k = 1
), service AS (
    SELECT customer_id,
           sum(CASE WHEN contact_type = 'complaint' AND contact_date > DATE '{d180}' THEN 1 ELSE 0 END) AS complaints_180,
           sum(CASE WHEN contact_date > DATE '{d180}' THEN 1 ELSE 0 END) AS contacts_180,
           min(CASE WHEN contact_date > DATE '{d180}' THEN satisfaction END) AS min_satisfaction_180,
           avg(CASE WHEN contact_date > DATE '{d365}' THEN CAST(satisfaction AS DOUBLE) END) AS avg_satisfaction_365
    FROM fact_service
    WHERE contact_date <= {a}
    GROUP BY customer_id
), later AS (
    SELECT DISTINCT customer_id FROM fact_sales
    WHERE order_date > {a} AND order_date <= DATE '{end}' AND quantity > 0
), customer AS ({customer})
SELECT s.customer_id,
       CAST(CAST({a} AS INT) - CAST(s.last_purchase AS INT) AS DOUBLE) AS recency_days,  -- Days since the last purchase.
       CAST(s.orders_365 AS DOUBLE) AS orders_365,  -- Orders in the last 365 days.
       CAST(s.orders_90 - s.orders_prev_90 AS DOUBLE) AS orders_trend,  -- Orders in the last 90 days less the 90 before.
       s.revenue_365,  -- Net revenue in the last 365 days.
       s.revenue_90 - s.revenue_prev_90 AS revenue_trend,  -- Revenue in the last 90 days less the 90 before.
       CASE WHEN s.orders_365 > 0 THEN s.revenue_365 / s.orders_365 ELSE 0 END AS avg_order_value,  -- revenue_365 / orders_365.
       CAST(s.orders_365 AS DOUBLE) * {horizon} / 365.0 AS expected_orders,  -- Orders the last year's pace predicts for the horizon.
       CASE WHEN s.orders_all > 1
            THEN CAST(CAST(s.last_purchase AS INT) - CAST(s.first_purchase AS INT) AS DOUBLE) / (s.orders_all - 1)
       END AS avg_gap_days,  -- Mean days between orders; null with fewer than two.
       CASE WHEN s.orders_all > 1 AND s.last_purchase > s.first_purchase
            THEN CAST(CAST({a} AS INT) - CAST(s.last_purchase AS INT) AS DOUBLE)
                 / (CAST(CAST(s.last_purchase AS INT) - CAST(s.first_purchase AS INT) AS DOUBLE) / (s.orders_all - 1))
       END AS recency_ratio,  -- recency_days / avg_gap_days: above 1 the customer is late.
       CAST(CAST({a} AS INT) - CAST(s.first_purchase AS INT) AS DOUBLE) AS tenure_days,  -- Days since the first purchase.
       CAST(coalesce(v.complaints_180, 0) AS DOUBLE) AS complaints_180,  -- Complaints in the last 180 days.
       CAST(coalesce(v.contacts_180, 0) AS DOUBLE) AS contacts_180,  -- Service contacts in the last 180 days.
       v.avg_satisfaction_365,  -- Mean satisfaction rating of the last 365 days' contacts.
       CAST(v.min_satisfaction_180 AS DOUBLE) AS min_satisfaction_180,  -- Lowest satisfaction rating of the last 180 days.
       m.channel_type AS main_channel,  -- Channel type of most of the last year's lines.
       c.customer_type,{p_alive}
       {label} AS {LABEL}  -- True when no purchase followed within the horizon; null where the outcome is not known yet.
FROM sales s
LEFT JOIN main_channel m ON m.customer_id = s.customer_id
LEFT JOIN service v ON v.customer_id = s.customer_id
LEFT JOIN customer c ON c.customer_id = s.customer_id
LEFT JOIN later l ON l.customer_id = s.customer_id
ORDER BY s.customer_id"
    )
}

/// The churn target: `churned`, positive `true`, id `customer_id`.
pub fn target() -> Target {
    Target {
        column: LABEL.into(),
        positive: "true".into(),
        id: Some("customer_id".into()),
        exclude: Vec::new(),
        weight: None,
    }
}

/// Every customer's purchase history as of `as_of` and BG/NBD fitted on them (no Gamma-Gamma:
/// churn needs P(alive) only).
async fn bgnbd_as_of(
    engine: &Engine,
    as_of: NaiveDate,
) -> Result<(Vec<i64>, Vec<crate::algo::clv::History>, BgNbd)> {
    let (ids, histories) = histories_as_of(engine, as_of).await?;
    let (model, _) = BgNbd::fit(&histories)?;
    Ok((ids, histories, model))
}

/// The population and features at `as_of` read from the warehouse, with [`P_ALIVE`] when
/// `p_alive` (BG/NBD fitted on the purchase days up to `as_of`: nothing after it is seen).
pub async fn load(
    engine: &Engine,
    as_of: NaiveDate,
    horizon: u32,
    last_day: NaiveDate,
    p_alive: bool,
) -> Result<Loaded> {
    let model = if p_alive {
        Some(bgnbd_as_of(engine, as_of).await?.2)
    } else {
        None
    };
    let sql = dataset_sql(as_of, horizon, last_day, model.as_ref());
    let mut loaded = Source::Sql(sql).load(Some(engine)).await?;
    loaded.source = format!(
        "churn features{} as of {as_of}, horizon {horizon} days",
        if p_alive { " and P(alive)" } else { "" }
    );
    Ok(loaded)
}

/// The two populations of a time-aware churn training run.
#[derive(Debug, Clone)]
pub struct TrainingData {
    /// Population at `train_as_of`, labelled.
    pub train: Loaded,
    /// Population at `test_as_of`, labelled.
    pub test: Loaded,
    /// As-of date of the training rows.
    pub train_as_of: NaiveDate,
    /// As-of date of the test rows.
    pub test_as_of: NaiveDate,
    /// Outcome window in days.
    pub horizon: u32,
}

impl TrainingData {
    /// Reads the test population at `test_as_of` (default: last sale day − horizon, the
    /// latest fully observed window) and the training population one horizon earlier, each
    /// with its own P(alive) when `p_alive`.
    pub async fn load(
        engine: &Engine,
        horizon: u32,
        test_as_of: Option<NaiveDate>,
        p_alive: bool,
    ) -> Result<Self> {
        let last = crate::analysis::features::last_fact_date(engine).await?;
        let test_as_of = test_as_of.unwrap_or_else(|| days_before(last, horizon));
        let train_as_of = days_before(test_as_of, horizon);
        Ok(Self {
            train: load(engine, train_as_of, horizon, last, p_alive).await?,
            test: load(engine, test_as_of, horizon, last, p_alive).await?,
            train_as_of,
            test_as_of,
            horizon,
        })
    }

    /// Trains one model: fitted on the training population, measured on the test one.
    pub fn train(&self, options: &crate::model::TrainOptions) -> Result<crate::model::Trained> {
        let target = target();
        let (train_labels, negative) = crate::model::labels(&self.train.frame, &target)?;
        let (test_labels, _) = crate::model::labels(&self.test.frame, &target)?;
        let train = crate::model::Labelled::known(&self.train.frame, &train_labels);
        let test = crate::model::Labelled::known(&self.test.frame, &test_labels);
        let data = crate::model::DataInfo {
            source: format!(
                "churn features{}, horizon {} days: train as of {}, test as of {}",
                if self.train.frame.column(P_ALIVE).is_some() {
                    " and P(alive)"
                } else {
                    ""
                },
                self.horizon,
                self.train_as_of,
                self.test_as_of
            ),
            snapshot: self.train.snapshot.clone(),
            split: crate::algo::split::SplitKind::Time {
                column: "as_of".into(),
                cut: self.test_as_of.to_string(),
            },
            train_rows: train.labels.len(),
            test_rows: test.labels.len(),
            unlabelled_rows: 0,
        };
        crate::model::train(TASK, &train, &test, &target, &negative, options, data)
    }
}

impl TrainingData {
    /// The BG/NBD baseline of a churn comparison, measured like a model on the labelled test
    /// rows: 1 − P(alive at the test date), BG/NBD fitted on every customer's purchase days
    /// up to that date ([`super::clv`]) — what a customer-base model says with no churn
    /// label at all. Its cut-off is the cheapest on these rows under `costs` (AUC, Gini, KS
    /// and lift do not depend on it).
    pub async fn p_alive_baseline(&self, engine: &Engine, costs: Costs) -> Result<Evaluation> {
        let (ids, histories, model) = bgnbd_as_of(engine, self.test_as_of).await?;
        let alive: HashMap<i64, f64> = ids
            .into_iter()
            .zip(histories.iter().map(|h| model.p_alive(h)))
            .collect();
        let (labels, _) = crate::model::labels(&self.test.frame, &target())?;
        let test = crate::model::Labelled::known(&self.test.frame, &labels);
        let ids = test.frame.require("customer_id", "id")?;
        let scores: Vec<f64> = (0..test.frame.rows)
            .map(|r| {
                let id = ids.text(r).and_then(|t| t.parse::<i64>().ok());
                // Every active customer has bought; a customer without a history is unknown.
                1.0 - id.and_then(|id| alive.get(&id)).copied().unwrap_or(0.5)
            })
            .collect();
        let (cutoff, _) = cheapest_cutoff(
            &scores,
            &test.labels,
            costs.false_negative,
            costs.false_positive,
        );
        Ok(Evaluation::new(
            &scores,
            &test.labels,
            cutoff,
            costs.false_negative,
            costs.false_positive,
        ))
    }
}

/// Risk band of a churn probability: `high` at or above the model's cut-off, `medium` at or
/// above half of it, `low` below.
pub fn band(probability: f64, cutoff: f64) -> &'static str {
    if probability >= cutoff {
        "high"
    } else if probability >= cutoff / 2.0 {
        "medium"
    } else {
        "low"
    }
}

/// `mart_churn_score`: customer, churn probability, risk band, rank (1 = most at risk),
/// the top 3 reasons, the as-of date and the model, most at risk first.
pub fn score_table(model: &Model, data: &Frame, as_of: NaiveDate) -> Result<RecordBatch> {
    let (p, reasons) = model.explain(data, 3)?;
    let ids = data.require("customer_id", "id")?;
    let mut order: Vec<usize> = (0..data.rows).collect();
    order.sort_by(|&a, &b| p[b].total_cmp(&p[a]).then(a.cmp(&b)));
    let id = |r: usize| ids.text(r).and_then(|t| t.parse::<i64>().ok()).unwrap_or(0);
    let table = TableBuilder::new()
        .i64("customer_id", order.iter().map(|&r| id(r)).collect())
        .share("churn_probability", order.iter().map(|&r| p[r]).collect())
        .utf8(
            "risk_band",
            &order
                .iter()
                .map(|&r| band(p[r], model.cutoff))
                .collect::<Vec<_>>(),
        )
        .u32("rank", (1..=order.len() as u32).collect());
    reasons_and_model(table, &order, &reasons, as_of, model).finish()
}

/// The columns a customer score mart ends with, for its rows in `order`: the top 3
/// `reasons` of each, the as-of day and the model's name.
pub(crate) fn reasons_and_model(
    table: TableBuilder,
    order: &[usize],
    reasons: &[Vec<String>],
    as_of: NaiveDate,
    model: &Model,
) -> TableBuilder {
    let reason = |k: usize| -> Vec<Option<String>> {
        order.iter().map(|&r| reasons[r].get(k).cloned()).collect()
    };
    table
        .utf8_opt("reason_1", reason(0))
        .utf8_opt("reason_2", reason(1))
        .utf8_opt("reason_3", reason(2))
        .date("as_of", as_of, order.len())
        .utf8("model", &vec![model.name.as_str(); order.len()])
}

/// The registry entry: `mart_churn_score` of the active customers, by the churn champion.
pub const ANALYSIS: Analysis = Analysis {
    name: "churn_score",
    tables: &["mart_churn_score"],
    command: "acrm mine churn score",
    needs_model: true,
    run: |cx| {
        boxed(async move {
            let model = cx.models.load(TASK, "champion")?;
            let p_alive = uses_p_alive(&model);
            let data = load(cx.engine, cx.as_of, DEFAULT_HORIZON, cx.as_of, p_alive).await?;
            let table = score_table(&model, &data.frame, cx.as_of)?;
            Ok(vec![("mart_churn_score".into(), table)])
        })
    },
    chart: Some(Chart {
        table: "mart_churn_score",
        figure: Figure::ChurnDistribution,
        sql: "SELECT churn_probability, risk_band FROM mart_churn_score",
    }),
    section: Some(Section {
        title: "Churn risk",
        text: Some(
            "The customers most likely to buy nothing in the next 90 days, with the three inputs that raise their risk most.",
        ),
        table: (
            "Most at risk",
            "SELECT rank, customer_id, churn_probability, risk_band,
                    reason_1, reason_2, reason_3, model, as_of
             FROM mart_churn_score ORDER BY rank LIMIT 20",
        ),
    }),
};
