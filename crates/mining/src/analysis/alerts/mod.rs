//! Early-warning alerts as of a date D, one row per customer (or budget line) and kind, each
//! with a severity and the numbers behind it:
//!
//! | kind            | fires when                                                                    | severity                                        |
//! |-----------------|-------------------------------------------------------------------------------|-------------------------------------------------|
//! | `over_limit`    | open receivables (invoiced by D, not paid by D) exceed the credit limit        | high above 125% of the limit, else medium       |
//! | `overdue`       | some open receivable is past its due date                                      | high over 90 days late, medium over 30, else low|
//! | `below_plan`    | revenue of the last 90 days is under 80% of the plan for those days            | high under 50%, else medium                     |
//! | `churn_risk`    | the customer has been silent longer than their own pace makes likely           | high when that chance is under 5%, else medium  |
//! | `purchase_drop` | orders of the last 90 days are at most half of what the year before predicts   | medium                                          |
//! | `expense_over_budget` | a budget line spent over 110% of its budget in the last 90 days, or its monthly share of budget rose past 100% | high over 150%, medium; low for the trend |
//!
//! Details: the credit limit is the one of the customer version valid on D. The plan for the
//! 90 days is each overlapping plan month's amount prorated by the days it shares with them.
//! Churn risk: a customer buying at their own pace λ = orders / days from first to last
//! purchase (one a year for single-purchase customers) stays silent for the R days since
//! their last purchase with probability e^(−λR); under 40% is a warning (a warning list
//! favours recall: rare buyers who stopped are hard to tell from rare buyers between orders). Purchase drop needs
//! an expectation of at least two orders (orders in the 365 days before the last 90 × 90/365)
//! and is not raised for customers already under churn risk. The expense check is in
//! [`budget`].

mod budget;
mod evidence;

pub use budget::BudgetLine;
use evidence::money;

use acrm_olap::Engine;
use chrono::{Datelike, NaiveDate};
use datafusion::arrow::array::RecordBatch;

use crate::Result;
use crate::analysis::features::{days_before, query_features};
use acrm_olap::TableBuilder;

use super::registry::{Analysis, Chart, Figure, Section, boxed};

/// Alert kinds, in the order they are reported.
pub const KINDS: &[&str] = &[
    "over_limit",
    "overdue",
    "below_plan",
    "churn_risk",
    "purchase_drop",
    "expense_over_budget",
];

/// Thresholds of the alert rules.
#[derive(Debug, Clone)]
pub struct AlertOptions {
    /// Pace window of the plan and purchase-drop checks, in days.
    pub window_days: u32,
    /// Actual / planned revenue under which a customer is below plan.
    pub plan_ratio: f64,
    /// Chance of the observed silence under which a customer is at churn risk.
    pub churn_probability: f64,
    /// Spent / budgeted over the window above which a budget line is over budget.
    pub budget_ratio: f64,
}

impl Default for AlertOptions {
    /// 90 days, 80% of plan, 40% silence chance, 110% of budget.
    fn default() -> Self {
        Self {
            window_days: 90,
            plan_ratio: 0.8,
            churn_probability: 0.4,
            budget_ratio: 1.1,
        }
    }
}

/// Who or what an alert is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub enum Subject {
    /// A customer, by golden id.
    Customer(i64),
    /// A budget line.
    Budget(BudgetLine),
}

impl Subject {
    /// The customer's golden id; `None` for a budget line.
    pub fn customer_id(&self) -> Option<i64> {
        match self {
            Subject::Customer(id) => Some(*id),
            Subject::Budget(_) => None,
        }
    }

    fn budget_line(&self) -> Option<&BudgetLine> {
        match self {
            Subject::Customer(_) => None,
            Subject::Budget(line) => Some(line),
        }
    }
}

/// One alert.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Alert {
    /// The customer or budget line.
    pub subject: Subject,
    /// One of [`KINDS`].
    pub kind: &'static str,
    /// `high`, `medium` or `low`.
    pub severity: &'static str,
    /// The measured value the rule looked at (balance, days, ratio, probability…).
    pub value: f64,
    /// The threshold it crossed.
    pub threshold: f64,
    /// The evidence in words, with the numbers.
    pub evidence: String,
}

/// All alerts as of a date.
#[derive(Debug, Clone)]
pub struct Alerts {
    /// The date they are computed as of.
    pub as_of: NaiveDate,
    /// The alerts, by kind (in [`KINDS`] order) then subject.
    pub alerts: Vec<Alert>,
}

/// Computes every alert kind as of `as_of`.
pub async fn alerts(engine: &Engine, as_of: NaiveDate, options: &AlertOptions) -> Result<Alerts> {
    let mut alerts = Vec::new();
    let credit = query_features(engine, &credit_sql(as_of), "customer_id").await?;
    if !credit.is_empty() {
        let (balance, limit, overdue, late) = (
            credit.column("open_balance")?,
            credit.column("credit_limit")?,
            credit.column("overdue_amount")?,
            credit.column("max_days_overdue")?,
        );
        for (i, &id) in credit.ids.iter().enumerate() {
            alerts.extend(over_limit(id, balance[i], limit[i]));
            alerts.extend(overdue_alert(id, overdue[i], late[i]));
        }
    }
    let plan = query_features(engine, &plan_sql(as_of, options.window_days), "customer_id").await?;
    if !plan.is_empty() {
        let (planned, actual) = (plan.column("planned")?, plan.column("actual")?);
        for (i, &id) in plan.ids.iter().enumerate() {
            alerts.extend(below_plan(id, actual[i], planned[i], options));
        }
    }
    let pace = query_features(engine, &pace_sql(as_of, options.window_days), "customer_id").await?;
    if !pace.is_empty() {
        let orders = pace.column("orders")?;
        let span = pace.column("span_days")?;
        let recency = pace.column("recency_days")?;
        let recent = pace.column("recent_orders")?;
        let baseline = pace.column("baseline_orders")?;
        for (i, &id) in pace.ids.iter().enumerate() {
            let p = Pace {
                orders: orders[i],
                span_days: span[i],
                recency_days: recency[i],
                recent_orders: recent[i],
                baseline_orders: baseline[i],
            };
            alerts.extend(p.alert(id, options));
        }
    }
    let findings = budget::findings(engine, as_of, options.window_days, options.budget_ratio);
    alerts.extend(findings.await?.into_iter().map(|f| Alert {
        subject: Subject::Budget(f.line),
        kind: "expense_over_budget",
        severity: f.severity,
        value: f.value,
        threshold: f.threshold,
        evidence: f.evidence,
    }));
    alerts.sort_by(|a, b| {
        let kind = |x: &Alert| KINDS.iter().position(|k| *k == x.kind);
        (kind(a), &a.subject).cmp(&(kind(b), &b.subject))
    });
    Ok(Alerts { as_of, alerts })
}

/// Alert counts per kind (in [`KINDS`] order) at the end of each of the `months` months up
/// to `as_of` (the last one is `as_of` itself), oldest first: how the warnings evolved.
pub async fn history(
    engine: &Engine,
    as_of: NaiveDate,
    months: u32,
    options: &AlertOptions,
) -> Result<Vec<(NaiveDate, Vec<(&'static str, usize)>)>> {
    let mut dates = vec![as_of];
    let mut month_end = as_of.with_day(1).and_then(|d| d.pred_opt());
    while dates.len() < months as usize {
        let Some(d) = month_end else { break };
        dates.push(d);
        month_end = d.with_day(1).and_then(|first| first.pred_opt());
    }
    dates.reverse();
    let mut out = Vec::new();
    for date in dates {
        let found = alerts(engine, date, options).await?;
        let counts = KINDS
            .iter()
            .map(|&k| (k, found.alerts.iter().filter(|a| a.kind == k).count()))
            .collect();
        out.push((date, counts));
    }
    Ok(out)
}

impl Alerts {
    /// The `alerts` table: one row per alert.
    pub fn to_batch(&self) -> Result<RecordBatch> {
        let a = &self.alerts;
        TableBuilder::new()
            .date("alert_date", self.as_of, a.len())
            .i64_opt(
                "customer_id",
                a.iter().map(|x| x.subject.customer_id()).collect(),
            )
            .utf8("kind", &a.iter().map(|x| x.kind).collect::<Vec<_>>())
            .utf8(
                "severity",
                &a.iter().map(|x| x.severity).collect::<Vec<_>>(),
            )
            .f64("value", a.iter().map(|x| x.value).collect())
            .f64("threshold", a.iter().map(|x| x.threshold).collect())
            .utf8(
                "evidence",
                &a.iter().map(|x| x.evidence.as_str()).collect::<Vec<_>>(),
            )
            .utf8_opt("expense_type", budget_column(a, |l| l.expense_type.clone()))
            .i64_opt("branch_key", budget_column(a, |l| l.branch_key))
            .i64_opt("campaign_key", budget_column(a, |l| l.campaign_key))
            .finish()
    }

    /// Alerts per kind and severity (kinds in report order, severities high → low).
    pub fn counts(&self) -> Vec<(&'static str, &'static str, usize)> {
        let mut out = Vec::new();
        for &kind in KINDS {
            for severity in ["high", "medium", "low"] {
                let n = self
                    .alerts
                    .iter()
                    .filter(|a| a.kind == kind && a.severity == severity)
                    .count();
                if n > 0 {
                    out.push((kind, severity, n));
                }
            }
        }
        out
    }
}

/// A column of the budget lines of `alerts`: null for customers' alerts.
fn budget_column<T>(alerts: &[Alert], f: impl Fn(&BudgetLine) -> T) -> Vec<Option<T>> {
    alerts
        .iter()
        .map(|x| x.subject.budget_line().map(&f))
        .collect()
}

/// Open balance, overdue amount and lateness per customer with receivables, and the credit
/// limit valid on `as_of` (−1 when none is known).
fn credit_sql(as_of: NaiveDate) -> String {
    format!(
        "WITH items AS (
    SELECT customer_id, due_date,
           -- Decimals until summed: a double sum depends on the order rows are added in.
           amount
             - CASE WHEN paid_date IS NOT NULL AND paid_date <= DATE '{as_of}'
                    THEN paid_amount ELSE 0 END AS open_amount
    FROM fact_receivable
    WHERE invoice_date <= DATE '{as_of}' AND customer_id <> 0
), balances AS (
    SELECT customer_id,
           CAST(sum(open_amount) AS DOUBLE) AS open_balance,
           CAST(sum(CASE WHEN due_date < DATE '{as_of}' AND open_amount > 0 THEN open_amount ELSE 0 END)
             AS DOUBLE) AS overdue_amount,
           max(CASE WHEN due_date < DATE '{as_of}' AND open_amount > 0
                    THEN CAST(DATE '{as_of}' AS INT) - CAST(due_date AS INT) ELSE 0 END)
             AS max_days_overdue
    FROM items
    GROUP BY customer_id
)
SELECT b.customer_id, b.open_balance, coalesce(c.credit_limit, -1) AS credit_limit,
       b.overdue_amount, CAST(b.max_days_overdue AS DOUBLE) AS max_days_overdue
FROM balances b
LEFT JOIN ({customer}) c ON c.customer_id = b.customer_id
ORDER BY b.customer_id",
        customer = crate::analysis::features::customer_as_of_sql(as_of),
    )
}

/// Planned and actual revenue of the `days` days ending on `as_of`, per customer with a plan.
fn plan_sql(as_of: NaiveDate, days: u32) -> String {
    let start = days_before(as_of, days.saturating_sub(1));
    format!(
        "WITH months AS (
    SELECT customer_id, CAST(planned_amount AS DOUBLE) AS planned_amount,
           CAST(least(plan_month + INTERVAL '1' MONTH - INTERVAL '1' DAY, DATE '{as_of}') AS INT)
             - CAST(greatest(plan_month, DATE '{start}') AS INT) + 1 AS shared_days,
           CAST(plan_month + INTERVAL '1' MONTH AS INT) - CAST(plan_month AS INT) AS month_days
    FROM fact_sales_plan
    WHERE customer_id <> 0
), plan AS (
    SELECT customer_id, sum(planned_amount * shared_days / month_days) AS planned
    FROM months
    WHERE shared_days > 0
    GROUP BY customer_id
), actual AS (
    SELECT customer_id, CAST(sum(revenue) AS DOUBLE) AS actual
    FROM fact_sales
    WHERE order_date BETWEEN DATE '{start}' AND DATE '{as_of}' AND customer_id <> 0
    GROUP BY customer_id
)
SELECT p.customer_id, p.planned, coalesce(a.actual, 0) AS actual
FROM plan p
LEFT JOIN actual a ON a.customer_id = p.customer_id
ORDER BY p.customer_id"
    )
}

/// Each buyer's pace: orders, days from first to last purchase, recency, orders in the last
/// `days` days and in the 365 days before them.
fn pace_sql(as_of: NaiveDate, days: u32) -> String {
    format!(
        "SELECT customer_id,
       CAST(count(DISTINCT order_id) AS DOUBLE) AS orders,
       CAST(CAST(max(order_date) AS INT) - CAST(min(order_date) AS INT) AS DOUBLE) AS span_days,
       CAST(CAST(DATE '{as_of}' AS INT) - CAST(max(order_date) AS INT) AS DOUBLE) AS recency_days,
       CAST(count(DISTINCT CASE WHEN order_date > DATE '{recent}'
                                THEN order_id END) AS DOUBLE) AS recent_orders,
       CAST(count(DISTINCT CASE WHEN order_date <= DATE '{recent}'
                                 AND order_date > DATE '{baseline}'
                                THEN order_id END) AS DOUBLE) AS baseline_orders
FROM fact_sales
WHERE order_date <= DATE '{as_of}' AND customer_id <> 0 AND quantity > 0
GROUP BY customer_id
ORDER BY customer_id",
        recent = days_before(as_of, days),
        baseline = days_before(as_of, days + 365),
    )
}

fn over_limit(customer_id: i64, balance: f64, limit: f64) -> Option<Alert> {
    (limit >= 0.0 && balance > limit).then(|| Alert {
        subject: Subject::Customer(customer_id),
        kind: "over_limit",
        severity: if balance > 1.25 * limit {
            "high"
        } else {
            "medium"
        },
        value: balance,
        threshold: limit,
        evidence: if limit > 0.0 {
            format!(
                "open balance {} is {:.0}% of the credit limit {}",
                money(balance),
                100.0 * balance / limit,
                money(limit)
            )
        } else {
            format!("open balance {} without a credit limit", money(balance))
        },
    })
}

fn overdue_alert(customer_id: i64, amount: f64, days: f64) -> Option<Alert> {
    (amount > 0.0).then(|| Alert {
        subject: Subject::Customer(customer_id),
        kind: "overdue",
        severity: if days > 90.0 {
            "high"
        } else if days > 30.0 {
            "medium"
        } else {
            "low"
        },
        value: days,
        threshold: 0.0,
        evidence: format!(
            "{} overdue, the oldest {days:.0} days past due",
            money(amount)
        ),
    })
}

fn below_plan(
    customer_id: i64,
    actual: f64,
    planned: f64,
    options: &AlertOptions,
) -> Option<Alert> {
    if planned <= 0.0 {
        return None;
    }
    let ratio = actual / planned;
    (ratio < options.plan_ratio).then(|| Alert {
        subject: Subject::Customer(customer_id),
        kind: "below_plan",
        severity: if ratio < 0.5 { "high" } else { "medium" },
        value: ratio,
        threshold: options.plan_ratio,
        evidence: format!(
            "revenue {} in the last {} days is {:.0}% of the plan {}",
            money(actual),
            options.window_days,
            100.0 * ratio,
            money(planned)
        ),
    })
}

/// One buyer's purchase pace (see [`pace_sql`]).
struct Pace {
    orders: f64,
    span_days: f64,
    recency_days: f64,
    recent_orders: f64,
    baseline_orders: f64,
}

impl Pace {
    /// Chance that a customer still buying at their own pace is silent this long.
    fn silence_probability(&self) -> f64 {
        let rate = if self.orders >= 2.0 && self.span_days > 0.0 {
            self.orders / self.span_days
        } else {
            1.0 / 365.0
        };
        (-rate * self.recency_days).exp()
    }

    fn alert(&self, customer_id: i64, options: &AlertOptions) -> Option<Alert> {
        let p = self.silence_probability();
        if p < options.churn_probability {
            return Some(Alert {
                subject: Subject::Customer(customer_id),
                kind: "churn_risk",
                severity: if p < 0.05 { "high" } else { "medium" },
                value: p,
                threshold: options.churn_probability,
                evidence: format!(
                    "no purchase for {:.0} days; at their pace of {:.0} orders in {:.0} days that silence has a {:.0}% chance",
                    self.recency_days,
                    self.orders,
                    self.span_days,
                    100.0 * p
                ),
            });
        }
        let expected = self.baseline_orders * f64::from(options.window_days) / 365.0;
        (expected >= 2.0 && self.recent_orders <= 0.5 * expected).then(|| Alert {
            subject: Subject::Customer(customer_id),
            kind: "purchase_drop",
            severity: "medium",
            value: self.recent_orders,
            threshold: 0.5 * expected,
            evidence: format!(
                "{:.0} orders in the last {} days where the year before predicts {expected:.1}",
                self.recent_orders, options.window_days
            ),
        })
    }
}

/// The registry entry: `alerts` with the default thresholds.
pub const ANALYSIS: Analysis = Analysis {
    name: "alerts",
    tables: &["alerts"],
    command: "acrm alerts",
    needs_model: false,
    run: |cx| {
        boxed(async move {
            let a = alerts(cx.engine, cx.as_of, &AlertOptions::default()).await?;
            Ok(vec![("alerts".into(), a.to_batch()?)])
        })
    },
    chart: Some(Chart {
        table: "alerts",
        figure: Figure::CountsBy {
            column: "kind",
            title: "Alerts by kind",
        },
        sql: "SELECT kind FROM alerts",
    }),
    section: Some(Section {
        title: "Alerts",
        text: None,
        table: (
            "Alerts by kind and severity",
            "SELECT kind, severity, count(*) AS customers FROM alerts GROUP BY kind, severity ORDER BY kind, severity",
        ),
    }),
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credit_rules_and_their_evidence() {
        let a = over_limit(7, 33_361.09, 24_000.0).expect("over");
        assert_eq!((a.kind, a.severity), ("over_limit", "high"));
        assert_eq!(
            a.evidence,
            "open balance 33,361.09 is 139% of the credit limit 24,000.00"
        );
        assert!(over_limit(7, 24_000.0, 24_000.0).is_none());
        assert!(over_limit(7, 10.0, -1.0).is_none(), "no known limit");
        assert_eq!(
            over_limit(7, 25_000.0, 24_000.0).map(|a| a.severity),
            Some("medium")
        );
        assert_eq!(
            overdue_alert(1, 5.0, 120.0).map(|a| a.severity),
            Some("high")
        );
        assert_eq!(
            overdue_alert(1, 5.0, 31.0).map(|a| a.severity),
            Some("medium")
        );
        assert_eq!(overdue_alert(1, 5.0, 3.0).map(|a| a.severity), Some("low"));
        assert!(overdue_alert(1, 0.0, 0.0).is_none());
    }

    #[test]
    fn plan_and_pace_rules() {
        let o = AlertOptions::default();
        assert_eq!(
            below_plan(1, 40.0, 100.0, &o).map(|a| a.severity),
            Some("high")
        );
        assert_eq!(
            below_plan(1, 70.0, 100.0, &o).map(|a| a.severity),
            Some("medium")
        );
        assert!(below_plan(1, 80.0, 100.0, &o).is_none());
        assert!(below_plan(1, 0.0, 0.0, &o).is_none());
        // Ten orders in 300 days (one per 30), silent 120 days: e^(−4) ≈ 1.8% → high.
        let silent = Pace {
            orders: 10.0,
            span_days: 300.0,
            recency_days: 120.0,
            recent_orders: 0.0,
            baseline_orders: 10.0,
        };
        let a = silent.alert(1, &o).expect("churn");
        assert_eq!((a.kind, a.severity), ("churn_risk", "high"));
        assert!((a.value - (-4.0f64).exp()).abs() < 1e-12);
        // Rare buyer (one per 200 days) silent 120 days: e^(−0.6) ≈ 55%, no alert.
        let rare = Pace {
            orders: 4.0,
            span_days: 800.0,
            recency_days: 120.0,
            recent_orders: 0.0,
            baseline_orders: 2.0,
        };
        assert!(rare.alert(1, &o).is_none());
        // Bought last week but only twice in 90 days after 24 orders the year before.
        let slower = Pace {
            orders: 40.0,
            span_days: 700.0,
            recency_days: 7.0,
            recent_orders: 2.0,
            baseline_orders: 24.0,
        };
        let a = slower.alert(1, &o).expect("drop");
        assert_eq!(a.kind, "purchase_drop");
    }
}
