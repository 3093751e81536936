//! Campaign evaluation: did a campaign cause anything? Each campaign's contacted group is
//! compared with its control group (selected alike, held out, never contacted), both as of
//! a day D:
//!
//! - **uplift** = conversion rate of the contacted group − that of the control group, with
//!   Newcombe's 95% score interval and the pooled two-proportion z-test
//!   ([`crate::algo::proportions`]). Intention to treat: a contacted customer the campaign did
//!   not reach still counts as contacted, so the estimate is what sending the campaign did.
//! - **incremental revenue** = (revenue per contacted − revenue per control customer) ×
//!   contacted customers, with a 95% interval from the two groups' revenue variances
//!   (Welch's normal approximation).
//! - **cost** = the expenses charged to the campaign in `fact_expense` up to D, or its budget
//!   in `dim_campaign` when none are booked (`cost_source` says which).
//! - **ROI** = (incremental revenue × margin rate − cost) / cost, the margin rate being
//!   (revenue − cost) / revenue of every sale in the campaign's days.
//!
//! A campaign without a control group (or without contacted customers) has rates but no
//! uplift: nothing can say what would have happened without it.

use std::collections::HashMap;

use acrm_olap::{Engine, Frame, TableBuilder, Values};
use chrono::NaiveDate;
use datafusion::arrow::array::RecordBatch;

use crate::Result;
use crate::algo::proportions::{Proportion, Z95, difference};

/// One group of one campaign, as counted by [`groups_sql`].
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Group {
    /// Customers in the group.
    pub customers: u64,
    /// Reached by the contact.
    pub reached: u64,
    /// Responded (opened, clicked, called back).
    pub responded: u64,
    /// Converted (bought during the campaign).
    pub converted: u64,
    /// Revenue of the conversions.
    pub revenue: f64,
    /// Sum of each customer's revenue squared (for the revenue interval).
    pub revenue_sq: f64,
}

impl Group {
    fn rate(&self, n: u64) -> f64 {
        if self.customers == 0 {
            f64::NAN
        } else {
            n as f64 / self.customers as f64
        }
    }

    /// Revenue per customer and its variance (sample variance over customers).
    fn revenue_mean_var(&self) -> (f64, f64) {
        let n = self.customers as f64;
        let mean = self.revenue / n;
        let var = if self.customers > 1 {
            ((self.revenue_sq - n * mean * mean) / (n - 1.0)).max(0.0)
        } else {
            0.0
        };
        (mean, var)
    }
}

/// The evaluation of one campaign.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// dim_campaign key.
    pub campaign_key: i64,
    /// Campaign code.
    pub campaign_code: String,
    /// The contacted group.
    pub treated: Group,
    /// The control group.
    pub control: Group,
    /// Conversion uplift with its interval and p-value; `None` without both groups.
    pub uplift: Option<Uplift>,
    /// Incremental revenue and its interval; `None` without both groups.
    pub incremental_revenue: Option<(f64, f64, f64)>,
    /// Margin rate of all sales in the campaign's days (`None` without sales).
    pub margin_rate: Option<f64>,
    /// Cost: booked expenses, else the budget (`None` when neither is known).
    pub cost: Option<f64>,
    /// "expenses" or "budget".
    pub cost_source: &'static str,
}

/// A conversion uplift.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Uplift {
    /// Contacted − control conversion rate.
    pub estimate: f64,
    /// Newcombe's 95% interval.
    pub low: f64,
    /// Its upper end.
    pub high: f64,
    /// Two-sided p-value of the pooled z-test.
    pub p_value: f64,
}

impl Evaluation {
    /// The evaluation from the two groups' counts and the campaign's money.
    pub fn new(
        campaign_key: i64,
        campaign_code: String,
        (treated, control): (Group, Group),
        margin_rate: Option<f64>,
        (expenses, budget): (Option<f64>, Option<f64>),
    ) -> Result<Self> {
        let both = treated.customers > 0 && control.customers > 0;
        let uplift = if both {
            let d = difference(
                Proportion::new(treated.converted, treated.customers)?,
                Proportion::new(control.converted, control.customers)?,
                Z95,
            );
            Some(Uplift {
                estimate: d.estimate,
                low: d.interval.0,
                high: d.interval.1,
                p_value: d.p_value,
            })
        } else {
            None
        };
        let incremental_revenue = both.then(|| {
            let ((mt, vt), (mc, vc)) = (treated.revenue_mean_var(), control.revenue_mean_var());
            let n = treated.customers as f64;
            let se = (vt / n + vc / control.customers as f64).sqrt();
            let per = mt - mc;
            (per * n, (per - Z95 * se) * n, (per + Z95 * se) * n)
        });
        let (cost, cost_source) = match (expenses, budget) {
            (Some(e), _) => (Some(e), "expenses"),
            (None, b) => (b, "budget"),
        };
        Ok(Self {
            campaign_key,
            campaign_code,
            treated,
            control,
            uplift,
            incremental_revenue,
            margin_rate,
            cost,
            cost_source,
        })
    }

    /// Incremental margin: incremental revenue × margin rate.
    pub fn incremental_margin(&self) -> Option<f64> {
        Some(self.incremental_revenue?.0 * self.margin_rate?)
    }

    /// (incremental margin − cost) / cost.
    pub fn roi(&self) -> Option<f64> {
        let cost = self.cost.filter(|c| *c > 0.0)?;
        Some((self.incremental_margin()? - cost) / cost)
    }
}

/// Each campaign's two groups up to `as_of`, with its budget and the margin rate of the
/// sales in its days.
fn groups_sql(as_of: NaiveDate) -> String {
    format!(
        "WITH g AS (
    SELECT campaign_key, control_group,
           count(*) AS customers,
           sum(CASE WHEN contacted THEN 1 ELSE 0 END) AS reached,
           sum(CASE WHEN responded THEN 1 ELSE 0 END) AS responded,
           sum(CASE WHEN converted THEN 1 ELSE 0 END) AS converted,
           -- Decimal sums, exact whatever order the rows are added in.
           CAST(sum(response_revenue) AS DOUBLE) AS revenue,
           CAST(sum(response_revenue * response_revenue) AS DOUBLE) AS revenue_sq
    FROM fact_campaign_response
    WHERE contact_date <= DATE '{as_of}'
    GROUP BY campaign_key, control_group
), margin AS (
    SELECT c.campaign_key,
           CAST(sum(s.revenue - coalesce(s.cost, 0)) AS DOUBLE)
             / nullif(CAST(sum(s.revenue) AS DOUBLE), 0) AS margin_rate
    FROM dim_campaign c
    JOIN fact_sales s ON s.order_date BETWEEN c.start_date AND least(c.end_date, DATE '{as_of}')
    GROUP BY c.campaign_key
)
SELECT g.campaign_key, c.campaign_code, CAST(g.control_group AS INT) AS control_group,
       g.customers, g.reached, g.responded, g.converted, g.revenue, g.revenue_sq,
       CAST(c.budget AS DOUBLE) AS budget, m.margin_rate
FROM g
JOIN dim_campaign c ON c.campaign_key = g.campaign_key
LEFT JOIN margin m ON m.campaign_key = g.campaign_key
ORDER BY c.start_date, c.campaign_code, g.campaign_key, control_group"
    )
}

/// Expenses charged to each campaign up to `as_of`.
fn expenses_sql(as_of: NaiveDate) -> String {
    format!(
        "SELECT campaign_key, CAST(sum(amount) AS DOUBLE) AS expenses
FROM fact_expense
WHERE campaign_key <> 0 AND expense_date <= DATE '{as_of}'
GROUP BY campaign_key"
    )
}

/// Every campaign with customers up to `as_of`, oldest first.
pub async fn evaluate(engine: &Engine, as_of: NaiveDate) -> Result<Vec<Evaluation>> {
    let (_, batches) = engine.query(&groups_sql(as_of)).await?;
    let groups = Frame::from_batches(&batches)?;
    if groups.rows == 0 {
        return Ok(Vec::new());
    }
    let mut booked: HashMap<i64, f64> = HashMap::new();
    if engine.tables().iter().any(|t| t.name == "fact_expense") {
        let (_, batches) = engine.query(&expenses_sql(as_of)).await?;
        let expenses = Frame::from_batches(&batches)?;
        if expenses.rows > 0 {
            let (keys, amounts) = (
                numbers(&expenses, "campaign_key")?,
                numbers(&expenses, "expenses")?,
            );
            for (k, a) in keys.iter().zip(amounts) {
                if let (Some(k), Some(a)) = (k, a) {
                    booked.insert(*k as i64, *a);
                }
            }
        }
    }
    let codes = groups.require("campaign_code", "campaign code")?;
    let col = |name: &str| numbers(&groups, name);
    let (key, control, customers, reached, responded, converted) = (
        col("campaign_key")?,
        col("control_group")?,
        col("customers")?,
        col("reached")?,
        col("responded")?,
        col("converted")?,
    );
    let (revenue, revenue_sq, budget, margin) = (
        col("revenue")?,
        col("revenue_sq")?,
        col("budget")?,
        col("margin_rate")?,
    );
    let count = |v: &[Option<f64>], r: usize| v[r].unwrap_or(0.0) as u64;
    let mut out: Vec<Evaluation> = Vec::new();
    let mut i = 0;
    while i < groups.rows {
        let this = key[i];
        let (mut treated, mut held_out) = (Group::default(), Group::default());
        let mut j = i;
        while j < groups.rows && key[j] == this {
            let g = Group {
                customers: count(customers, j),
                reached: count(reached, j),
                responded: count(responded, j),
                converted: count(converted, j),
                revenue: revenue[j].unwrap_or(0.0),
                revenue_sq: revenue_sq[j].unwrap_or(0.0),
            };
            if control[j] == Some(1.0) {
                held_out = g;
            } else {
                treated = g;
            }
            j += 1;
        }
        let campaign_key = this.unwrap_or(0.0) as i64;
        out.push(Evaluation::new(
            campaign_key,
            codes.text(i).unwrap_or_default(),
            (treated, held_out),
            margin[i],
            (booked.get(&campaign_key).copied(), budget[i]),
        )?);
        i = j;
    }
    Ok(out)
}

/// Column `name` of `frame` as numbers.
fn numbers<'a>(frame: &'a Frame, name: &str) -> Result<&'a [Option<f64>]> {
    match &frame.require(name, "number")?.values {
        Values::Numeric(v) => Ok(v),
        _ => Err(crate::Error::Invalid(format!(
            "column '{name}' is not numeric"
        ))),
    }
}

/// One campaign's two groups side by side: customers, reached, responded, converted,
/// their rates and revenue per customer.
pub fn groups_batch(e: &Evaluation) -> Result<RecordBatch> {
    let groups = [("contacted", e.treated), ("control", e.control)];
    let col =
        |f: fn(&Group) -> u64| -> Vec<i64> { groups.iter().map(|(_, g)| f(g) as i64).collect() };
    let rate = |f: fn(&Group) -> u64| -> Vec<Option<f64>> {
        groups
            .iter()
            .map(|(_, g)| Some(g.rate(f(g))).filter(|r| r.is_finite()))
            .collect()
    };
    TableBuilder::new()
        .utf8("group", &groups.iter().map(|(n, _)| *n).collect::<Vec<_>>())
        .i64("customers", col(|g| g.customers))
        .i64("reached", col(|g| g.reached))
        .i64("responded", col(|g| g.responded))
        .i64("converted", col(|g| g.converted))
        .f64_opt("response_rate", rate(|g| g.responded))
        .unit(acrm_schema::Unit::Share)
        .f64_opt("conversion_rate", rate(|g| g.converted))
        .unit(acrm_schema::Unit::Share)
        .f64_opt(
            "revenue_per_customer",
            groups
                .iter()
                .map(|(_, g)| (g.customers > 0).then(|| g.revenue / g.customers as f64))
                .collect(),
        )
        .unit(acrm_schema::Unit::Money)
        .finish()
}

/// `mart_campaign_uplift`: one row per evaluated campaign, as of `as_of`.
pub fn to_batch(as_of: NaiveDate, e: &[Evaluation]) -> Result<RecordBatch> {
    let f = |g: fn(&Evaluation) -> Option<f64>| -> Vec<Option<f64>> { e.iter().map(g).collect() };
    let n = |g: fn(&Evaluation) -> u64| -> Vec<i64> { e.iter().map(|x| g(x) as i64).collect() };
    TableBuilder::new()
        .date("as_of", as_of, e.len())
        .i64("campaign_key", e.iter().map(|x| x.campaign_key).collect())
        .utf8(
            "campaign_code",
            &e.iter()
                .map(|x| x.campaign_code.as_str())
                .collect::<Vec<_>>(),
        )
        .i64("contacted", n(|x| x.treated.customers))
        .i64("control", n(|x| x.control.customers))
        .f64_opt(
            "response_rate",
            f(|x| Some(x.treated.rate(x.treated.responded)).filter(|r| r.is_finite())),
        )
        .unit(acrm_schema::Unit::Share)
        .f64_opt(
            "conversion_rate",
            f(|x| Some(x.treated.rate(x.treated.converted)).filter(|r| r.is_finite())),
        )
        .unit(acrm_schema::Unit::Share)
        .f64_opt(
            "control_conversion_rate",
            f(|x| Some(x.control.rate(x.control.converted)).filter(|r| r.is_finite())),
        )
        .unit(acrm_schema::Unit::Share)
        .f64_opt("uplift", f(|x| x.uplift.map(|u| u.estimate)))
        .unit(acrm_schema::Unit::Share)
        .f64_opt("uplift_low", f(|x| x.uplift.map(|u| u.low)))
        .unit(acrm_schema::Unit::Share)
        .f64_opt("uplift_high", f(|x| x.uplift.map(|u| u.high)))
        .unit(acrm_schema::Unit::Share)
        .f64_opt("p_value", f(|x| x.uplift.map(|u| u.p_value)))
        .f64_opt(
            "incremental_conversions",
            f(|x| x.uplift.map(|u| u.estimate * x.treated.customers as f64)),
        )
        .f64_opt(
            "incremental_revenue",
            f(|x| x.incremental_revenue.map(|r| r.0)),
        )
        .unit(acrm_schema::Unit::Money)
        .f64_opt(
            "incremental_revenue_low",
            f(|x| x.incremental_revenue.map(|r| r.1)),
        )
        .unit(acrm_schema::Unit::Money)
        .f64_opt(
            "incremental_revenue_high",
            f(|x| x.incremental_revenue.map(|r| r.2)),
        )
        .unit(acrm_schema::Unit::Money)
        .f64_opt("margin_rate", f(|x| x.margin_rate))
        .unit(acrm_schema::Unit::Share)
        .f64_opt("cost", f(|x| x.cost))
        .unit(acrm_schema::Unit::Money)
        .utf8(
            "cost_source",
            &e.iter().map(|x| x.cost_source).collect::<Vec<_>>(),
        )
        .f64_opt("roi", f(Evaluation::roi))
        .unit(acrm_schema::Unit::Share)
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(customers: u64, converted: u64, revenue: f64, revenue_sq: f64) -> Group {
        Group {
            customers,
            reached: customers,
            responded: converted,
            converted,
            revenue,
            revenue_sq,
        }
    }

    #[test]
    fn uplift_revenue_and_roi_follow_their_definitions() {
        // 100 contacted, 20 converted for 10 each; 50 held out, 5 converted for 10 each.
        let e = Evaluation::new(
            1,
            "C".into(),
            (group(100, 20, 200.0, 2_000.0), group(50, 5, 50.0, 500.0)),
            Some(0.5),
            (Some(4.0), Some(100.0)),
        )
        .expect("evaluation");
        let u = e.uplift.expect("uplift");
        assert!((u.estimate - 0.1).abs() < 1e-12);
        assert!(u.low < 0.1 && u.high > 0.1);
        // Revenue per customer 2 vs 1: +1 × 100 contacted.
        let (inc, low, high) = e.incremental_revenue.expect("revenue");
        assert!((inc - 100.0).abs() < 1e-9 && low < inc && high > inc);
        // Variances: contacted (2000 − 100·4)/99, control (500 − 50·1)/49.
        let se = ((1600.0 / 99.0) / 100.0 + (450.0 / 49.0) / 50.0_f64).sqrt();
        assert!((high - (1.0 + Z95 * se) * 100.0).abs() < 1e-9);
        assert_eq!((e.cost, e.cost_source), (Some(4.0), "expenses"));
        assert!((e.roi().expect("roi") - (50.0 - 4.0) / 4.0).abs() < 1e-12);
        // No expenses booked: the budget is the cost.
        let b = Evaluation::new(
            1,
            "C".into(),
            (group(100, 20, 200.0, 2_000.0), group(50, 5, 50.0, 500.0)),
            Some(0.5),
            (None, Some(100.0)),
        )
        .expect("evaluation");
        assert_eq!((b.cost, b.cost_source), (Some(100.0), "budget"));
    }

    #[test]
    fn a_campaign_without_a_control_group_has_no_uplift() {
        let e = Evaluation::new(
            1,
            "C".into(),
            (group(100, 20, 200.0, 2_000.0), Group::default()),
            Some(0.5),
            (None, None),
        )
        .expect("evaluation");
        assert!(e.uplift.is_none() && e.incremental_revenue.is_none() && e.roi().is_none());
        let batch = to_batch(NaiveDate::default(), &[e]).expect("batch");
        assert_eq!(batch.num_rows(), 1);
    }
}
