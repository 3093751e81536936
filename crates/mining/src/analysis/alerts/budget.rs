//! The `expense_over_budget` alert: budget lines (expense type × branch and/or campaign of
//! `fact_expense_budget`) whose spending in `fact_expense` runs past their budget.
//!
//! Two checks, as of a day D:
//! - **level**: spending of the `window_days` days ending on D against the budget for those
//!   days (each overlapping budget month prorated by the days it shares with the window).
//!   Over `budget_ratio` (110%) fires: high over 150%, else medium.
//! - **trend**: spending of each of the last three calendar months (D's month up to D, with
//!   its budget prorated likewise) as a share of its budget. Rising month on month, by at
//!   least 5 points each time, and past 100% in the last one fires (low): a line that will
//!   overspend the quarter if nothing changes, before the level check sees it.
//!
//! Only budgeted lines are checked: spending on a line that has no budget in the months
//! looked at (a one-off booking on an odd account) raises nothing. Credit notes (negative
//! amounts) net against the spending they reverse.

use std::collections::BTreeMap;

use acrm_olap::{Engine, Frame, Values};
use chrono::{Datelike, Months, NaiveDate};
use datafusion::arrow::array::RecordBatch;

use super::evidence::money;
use crate::analysis::features::days_before;
use crate::{Error, Result};

/// Months of spending the trend check compares.
const TREND_MONTHS: usize = 3;

/// Points a month's share of budget must rise by, month on month, for the trend check.
const TREND_STEP: f64 = 0.05;

/// A budget line: what an `expense_over_budget` alert is about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct BudgetLine {
    /// Expense type.
    pub expense_type: String,
    /// dim_branch key; 0 for a line of no branch.
    pub branch_key: i64,
    /// dim_campaign key; 0 for a line of no campaign.
    pub campaign_key: i64,
}

/// A budget line's label for evidence texts: "promotion at S011", "advertising of
/// CMP-1111", "advertising (company)".
#[derive(Debug, Clone, Default)]
struct Label {
    branch: String,
    campaign: String,
}

impl Label {
    fn of(&self, line: &BudgetLine) -> String {
        let mut out = line.expense_type.clone();
        if !self.branch.is_empty() {
            out.push_str(&format!(" at {}", self.branch));
        }
        if !self.campaign.is_empty() {
            out.push_str(&format!(" of {}", self.campaign));
        }
        if self.branch.is_empty() && self.campaign.is_empty() {
            out.push_str(" (company)");
        }
        out
    }
}

/// One month of one budget line: its budget and what was spent in it up to D, and in the
/// level check's window.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Month {
    first: NaiveDate,
    budget: f64,
    spent: f64,
    spent_in_window: f64,
}

/// Days in the month starting on `first`.
fn month_days(first: NaiveDate) -> f64 {
    let next = first.checked_add_months(Months::new(1)).unwrap_or(first);
    (next - first).num_days() as f64
}

/// Days the month starting on `first` shares with `[from, to]`.
fn shared_days(first: NaiveDate, from: NaiveDate, to: NaiveDate) -> f64 {
    let last = first
        .checked_add_months(Months::new(1))
        .and_then(|d| d.pred_opt())
        .unwrap_or(first);
    ((last.min(to) - first.max(from)).num_days() + 1).max(0) as f64
}

/// First day of the month `back` months before D's.
fn month_back(as_of: NaiveDate, back: u32) -> NaiveDate {
    let first = as_of.with_day(1).unwrap_or(as_of);
    first.checked_sub_months(Months::new(back)).unwrap_or(first)
}

/// Budget and spending per budgeted line and month, from the earlier of the window's start
/// and the first trend month up to D, with the branch and campaign codes for the evidence.
fn months_sql(as_of: NaiveDate, start: NaiveDate) -> String {
    let lo = start.min(month_back(as_of, TREND_MONTHS as u32 - 1));
    let lo_month = lo.with_day(1).unwrap_or(lo);
    format!(
        "WITH budget AS (
    SELECT expense_type, branch_key, campaign_key, budget_month,
           CAST(sum(budgeted_amount) AS DOUBLE) AS budget
    FROM fact_expense_budget
    WHERE budget_month BETWEEN DATE '{lo_month}' AND DATE '{as_of}'
    GROUP BY expense_type, branch_key, campaign_key, budget_month
), spent AS (
    SELECT expense_type, branch_key, campaign_key,
           CAST(date_trunc('month', expense_date) AS DATE) AS budget_month,
           CAST(sum(amount) AS DOUBLE) AS spent,
           CAST(sum(CASE WHEN expense_date >= DATE '{start}' THEN amount ELSE 0 END) AS DOUBLE)
             AS spent_in_window
    FROM fact_expense
    WHERE expense_date BETWEEN DATE '{lo}' AND DATE '{as_of}'
    GROUP BY expense_type, branch_key, campaign_key, CAST(date_trunc('month', expense_date) AS DATE)
)
SELECT b.expense_type, b.branch_key, b.campaign_key, b.budget_month, b.budget,
       coalesce(s.spent, 0) AS spent, coalesce(s.spent_in_window, 0) AS spent_in_window,
       coalesce(br.branch_code, '') AS branch_code, coalesce(c.campaign_code, '') AS campaign_code
FROM budget b
LEFT JOIN spent s ON s.expense_type = b.expense_type AND s.branch_key = b.branch_key
     AND s.campaign_key = b.campaign_key AND s.budget_month = b.budget_month
LEFT JOIN dim_branch br ON br.branch_key = b.branch_key AND b.branch_key <> 0
LEFT JOIN dim_campaign c ON c.campaign_key = b.campaign_key AND b.campaign_key <> 0
ORDER BY b.expense_type, b.branch_key, b.campaign_key, b.budget_month"
    )
}

/// The budget lines of `batches` (rows of [`months_sql`]) with their months and labels.
fn lines(batches: &[RecordBatch]) -> Result<BTreeMap<BudgetLine, (Label, Vec<Month>)>> {
    let mut out: BTreeMap<BudgetLine, (Label, Vec<Month>)> = BTreeMap::new();
    let rows = Frame::from_batches(batches)?;
    if rows.rows == 0 {
        return Ok(out);
    }
    let text = |name: &str| -> Result<Vec<String>> {
        let c = rows.require(name, "text")?;
        Ok((0..rows.rows)
            .map(|r| c.text(r).unwrap_or_default())
            .collect())
    };
    let number = |name: &str| -> Result<Vec<f64>> {
        match &rows.require(name, "number")?.values {
            Values::Numeric(v) => Ok(v.iter().map(|x| x.unwrap_or(0.0)).collect()),
            _ => Err(Error::Features(format!(
                "budget column '{name}' is not numeric"
            ))),
        }
    };
    let Values::Date(months) = &rows.require("budget_month", "month")?.values else {
        return Err(Error::Features("budget_month is not a date".into()));
    };
    let (ty, branch_code, campaign_code) = (
        text("expense_type")?,
        text("branch_code")?,
        text("campaign_code")?,
    );
    let (branch, campaign) = (number("branch_key")?, number("campaign_key")?);
    let (budget, spent, in_window) = (
        number("budget")?,
        number("spent")?,
        number("spent_in_window")?,
    );
    for r in 0..rows.rows {
        let line = BudgetLine {
            expense_type: ty[r].clone(),
            branch_key: branch[r] as i64,
            campaign_key: campaign[r] as i64,
        };
        let day = months[r].unwrap_or_default();
        let first = NaiveDate::default() + chrono::Duration::days(i64::from(day));
        let entry = out.entry(line).or_insert_with(|| {
            (
                Label {
                    branch: branch_code[r].clone(),
                    campaign: campaign_code[r].clone(),
                },
                Vec::new(),
            )
        });
        entry.1.push(Month {
            first,
            budget: budget[r],
            spent: spent[r],
            spent_in_window: in_window[r],
        });
    }
    Ok(out)
}

/// A budget line the check flags.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// The line.
    pub line: BudgetLine,
    /// `high`, `medium` or `low`.
    pub severity: &'static str,
    /// The spent / budgeted ratio compared.
    pub value: f64,
    /// The threshold it crossed.
    pub threshold: f64,
    /// What was measured, in words.
    pub evidence: String,
}

/// The level check over `window_days`, and the trend check, of every budget line as of
/// `as_of`: what is over `budget_ratio` (see the module documentation).
pub async fn findings(
    engine: &Engine,
    as_of: NaiveDate,
    window_days: u32,
    budget_ratio: f64,
) -> Result<Vec<Finding>> {
    let window = Window {
        as_of,
        start: days_before(as_of, window_days.saturating_sub(1)),
        days: window_days,
        budget_ratio,
    };
    let (_, batches) = engine.query(&months_sql(as_of, window.start)).await?;
    let mut out = Vec::new();
    for (line, (label, months)) in lines(&batches)? {
        let what = label.of(&line);
        out.extend(check(line, &what, &months, &window));
    }
    Ok(out)
}

/// The level check's window and threshold.
#[derive(Debug, Clone, Copy)]
struct Window {
    as_of: NaiveDate,
    start: NaiveDate,
    days: u32,
    budget_ratio: f64,
}

/// The level check, else the trend check, of one line (see the module documentation).
fn check(line: BudgetLine, what: &str, months: &[Month], w: &Window) -> Option<Finding> {
    let (as_of, start) = (w.as_of, w.start);
    let budget: f64 = months
        .iter()
        .map(|m| m.budget * shared_days(m.first, start, as_of) / month_days(m.first))
        .sum();
    let spent: f64 = months.iter().map(|m| m.spent_in_window).sum();
    if budget > 0.0 && spent / budget > w.budget_ratio {
        let ratio = spent / budget;
        return Some(Finding {
            line,
            severity: if ratio > 1.5 { "high" } else { "medium" },
            value: ratio,
            threshold: w.budget_ratio,
            evidence: format!(
                "{what}: {} spent in the last {} days is {:.0}% of the budget {}",
                money(spent),
                w.days,
                100.0 * ratio,
                money(budget)
            ),
        });
    }
    let shares: Vec<f64> = (0..TREND_MONTHS as u32)
        .rev()
        .map(|back| {
            let first = month_back(as_of, back);
            let m = months.iter().find(|m| m.first == first)?;
            let budget = m.budget * shared_days(first, first, as_of) / month_days(first);
            (budget > 0.0).then(|| m.spent / budget)
        })
        .collect::<Option<_>>()?;
    let rising = shares.windows(2).all(|w| w[1] >= w[0] + TREND_STEP);
    let last = *shares.last()?;
    (rising && last > 1.0).then(|| Finding {
        line,
        severity: "low",
        value: last,
        threshold: 1.0,
        evidence: format!(
            "{what}: spending rising past the budget, {} of it in the last {TREND_MONTHS} months",
            shares
                .iter()
                .map(|s| format!("{:.0}%", 100.0 * s))
                .collect::<Vec<_>>()
                .join(" → ")
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    fn line() -> BudgetLine {
        BudgetLine {
            expense_type: "promotion".into(),
            branch_key: 3,
            campaign_key: 0,
        }
    }

    fn month(first: &str, budget: f64, spent: f64, spent_in_window: f64) -> Month {
        Month {
            first: day(first),
            budget,
            spent,
            spent_in_window,
        }
    }

    #[test]
    fn the_window_budget_is_prorated_by_the_days_each_month_shares() {
        assert_eq!(month_days(day("2024-02-01")), 29.0);
        assert_eq!(
            shared_days(day("2024-10-01"), day("2024-10-03"), day("2024-12-31")),
            29.0
        );
        assert_eq!(
            shared_days(day("2024-12-01"), day("2024-10-03"), day("2024-12-15")),
            15.0
        );
        assert_eq!(
            shared_days(day("2024-09-01"), day("2024-10-03"), day("2024-12-15")),
            0.0
        );
        assert_eq!(month_back(day("2024-03-31"), 2), day("2024-01-01"));
    }

    fn window(as_of: &str) -> Window {
        let as_of = day(as_of);
        Window {
            as_of,
            start: days_before(as_of, 89),
            days: 90,
            budget_ratio: 1.1,
        }
    }

    #[test]
    fn level_and_trend_checks() {
        let w = window("2024-12-31");
        assert_eq!(w.start, day("2024-10-03"));
        // 3,100 a month budgeted; the window holds 29 + 30 + 31 days of it = 9,000.
        let over = [
            month("2024-10-01", 3_100.0, 4_000.0, 4_000.0),
            month("2024-11-01", 3_000.0, 4_000.0, 4_000.0),
            month("2024-12-01", 3_100.0, 4_000.0, 4_000.0),
        ];
        let a = check(line(), "promotion at S011", &over, &w).expect("over");
        assert_eq!(a.severity, "medium");
        assert!((a.value - 12_000.0 / 9_000.0).abs() < 1e-12, "{}", a.value);
        assert_eq!(
            a.evidence,
            "promotion at S011: 12,000.00 spent in the last 90 days is 133% of the budget 9,000.00"
        );
        // Within budget over the quarter, but 85% → 100% → 115%: the trend check fires.
        let rising = [
            month("2024-10-01", 3_100.0, 2_635.0, 2_635.0),
            month("2024-11-01", 3_000.0, 3_000.0, 3_000.0),
            month("2024-12-01", 3_100.0, 3_565.0, 3_565.0),
        ];
        let a = check(line(), "x", &rising, &w).expect("rising");
        assert_eq!(a.severity, "low");
        assert!(a.evidence.contains("85% → 100% → 115%"), "{}", a.evidence);
        // Rising, but still within budget in the last month: nothing.
        let rising_within = [
            month("2024-10-01", 3_100.0, 2_000.0, 2_000.0),
            month("2024-11-01", 3_000.0, 2_500.0, 2_500.0),
            month("2024-12-01", 3_100.0, 3_000.0, 3_000.0),
        ];
        assert!(check(line(), "x", &rising_within, &w).is_none());
        // A month without a budget stops the trend check; no budget at all checks nothing.
        assert!(check(line(), "x", &rising[1..], &w).is_none());
        let unbudgeted = [month("2024-12-01", 0.0, 5_000.0, 5_000.0)];
        assert!(check(line(), "x", &unbudgeted, &w).is_none());
    }

    #[test]
    fn mid_month_the_current_month_is_prorated_to_date() {
        let w = window("2024-12-15");
        // Half of December's 3,100 budget is 1,500 by the 15th; 1,800 spent is 120%.
        let months = [
            month("2024-10-01", 3_100.0, 2_790.0, 2_400.0),
            month("2024-11-01", 3_000.0, 3_000.0, 3_000.0),
            month("2024-12-01", 3_100.0, 1_800.0, 1_800.0),
        ];
        let a = check(line(), "x", &months, &w).expect("trend");
        assert!(a.evidence.contains("90% → 100% → 120%"), "{}", a.evidence);
    }
}
