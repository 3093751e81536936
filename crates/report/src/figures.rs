//! The chart of each analysis, built from its result table (the published marts, a report's
//! rows) or its scores, so the CLI and the HTML report draw the same thing.

use std::collections::BTreeMap;

use acrm_mining::analysis::Figure;
use acrm_olap::{Column, Frame, Values};
use datafusion::arrow::array::RecordBatch;

use crate::chart::{Chart, Kind};
use crate::{Error, Result};

/// The chart an analysis declares (`figure`), drawn from `rows` of the mart `table`: the one
/// place that turns the registry's chart kinds into plots, for the CLI and the HTML report.
pub fn draw(figure: Figure, table: &str, rows: &[RecordBatch]) -> Result<Chart> {
    match figure {
        Figure::RfmHeatmap => rfm_heatmap(rows),
        Figure::SegmentProfiles => segment_profiles(rows),
        Figure::Pareto => pareto(rows, table),
        Figure::CountsBy { column, title } => counts_by(rows, table, column, title),
        Figure::RulesScatter { top } => rules_scatter(rows, top),
        Figure::ChurnDistribution => churn_distribution(rows),
        Figure::CreditScoreByOutcome => credit_score_by_outcome(rows),
        Figure::CampaignUplift => campaign_uplift(rows),
        Figure::ResponseDeciles => response_deciles(rows),
    }
}

/// Column `name` of `table`'s rows.
fn column<'a>(rows: &'a Frame, table: &str, name: &str) -> Result<&'a Column> {
    rows.column(name).ok_or_else(|| Error::Data {
        title: table.into(),
        message: format!("no column '{name}'"),
    })
}

/// Column `name` as numbers (`None` for missing values).
fn numbers(rows: &Frame, table: &str, name: &str) -> Result<Vec<Option<f64>>> {
    match &column(rows, table, name)?.values {
        Values::Numeric(v) => Ok(v.clone()),
        _ => Err(Error::Data {
            title: table.into(),
            message: format!("column '{name}' is not numeric"),
        }),
    }
}

/// Column `name` as text.
fn texts(rows: &Frame, table: &str, name: &str) -> Result<Vec<Option<String>>> {
    let c = column(rows, table, name)?;
    Ok((0..rows.rows).map(|r| c.text(r)).collect())
}

/// RFM heat map from `mart_rfm`: recency score × frequency score, each cell the customers'
/// mean monetary value.
pub fn rfm_heatmap(mart_rfm: &[RecordBatch]) -> Result<Chart> {
    let mart_rfm = &Frame::from_batches(mart_rfm)?;
    let r = numbers(mart_rfm, "mart_rfm", "r_score")?;
    let f = numbers(mart_rfm, "mart_rfm", "f_score")?;
    let m = numbers(mart_rfm, "mart_rfm", "monetary")?;
    let mut cells = [[(0.0, 0usize); 5]; 5];
    for ((r, f), m) in r.iter().zip(&f).zip(&m) {
        if let (Some(r), Some(f), Some(m)) = (r, f, m) {
            let (ri, fi) = ((*r as usize).clamp(1, 5) - 1, (*f as usize).clamp(1, 5) - 1);
            cells[ri][fi].0 += m;
            cells[ri][fi].1 += 1;
        }
    }
    let scores: Vec<String> = (1..=5).map(|s| s.to_string()).collect();
    let values = cells
        .iter()
        .map(|row| {
            row.iter()
                .map(|(sum, n)| (*n > 0).then(|| sum / *n as f64))
                .collect()
        })
        .collect();
    Ok(Chart::new(
        "RFM: mean monetary value by recency and frequency score",
        "frequency score",
        "recency score",
        Kind::Heatmap {
            columns: scores.clone(),
            rows: scores,
            values,
        },
    ))
}

/// Segment profiles from `mart_segment_profile`: each feature's mean in standard deviations
/// from the average, one bar per segment.
pub fn segment_profiles(profile: &[RecordBatch]) -> Result<Chart> {
    let profile = &Frame::from_batches(profile)?;
    let t = "mart_segment_profile";
    let segment = texts(profile, t, "segment")?;
    let name = texts(profile, t, "name")?;
    let feature = texts(profile, t, "feature")?;
    let z = numbers(profile, t, "z_mean")?;
    let mut features: Vec<String> = Vec::new();
    let mut by_segment: BTreeMap<u64, BTreeMap<String, f64>> = BTreeMap::new();
    let mut names: BTreeMap<u64, String> = BTreeMap::new();
    for (((s, f), z), n) in segment.iter().zip(&feature).zip(&z).zip(&name) {
        let (Some(s), Some(f), Some(z)) = (s, f, z) else {
            continue;
        };
        if !features.contains(f) {
            features.push(f.clone());
        }
        let key = s.parse().unwrap_or(u64::MAX);
        by_segment.entry(key).or_default().insert(f.clone(), *z);
        if let Some(n) = n {
            names.insert(key, n.clone());
        }
    }
    let series = by_segment
        .into_iter()
        .map(|(s, values)| {
            let v = features
                .iter()
                .map(|f| values.get(f).copied().unwrap_or(0.0))
                .collect();
            let label = names
                .get(&s)
                .map_or_else(|| format!("segment {s}"), |n| format!("{s}: {n}"));
            (label, v)
        })
        .collect();
    Ok(Chart::new(
        "Segment profiles",
        "feature",
        "mean (standard deviations from the average)",
        Kind::GroupedBars {
            categories: features,
            series,
        },
    ))
}

/// Revenue Pareto curve from per-customer `revenue` (e.g. `mart_value_tier`): the share of
/// revenue of the top x share of customers.
pub fn pareto(rows: &[RecordBatch], table: &str) -> Result<Chart> {
    let rows = &Frame::from_batches(rows)?;
    let mut revenue: Vec<f64> = numbers(rows, table, "revenue")?
        .into_iter()
        .flatten()
        .map(|v| v.max(0.0))
        .collect();
    revenue.sort_by(|a, b| b.total_cmp(a));
    let total: f64 = revenue.iter().sum();
    let n = revenue.len();
    let mut points = vec![(0.0, 0.0)];
    let mut cumulative = 0.0;
    // At most ~200 points: the curve, not every customer.
    let step = (n / 200).max(1);
    for (i, v) in revenue.iter().enumerate() {
        cumulative += v;
        if (i + 1) % step == 0 || i + 1 == n {
            let share = if total > 0.0 { cumulative / total } else { 0.0 };
            points.push(((i + 1) as f64 / n.max(1) as f64, share));
        }
    }
    Ok(Chart::new(
        "Revenue Pareto curve",
        "share of customers (largest revenue first)",
        "share of revenue",
        Kind::Lines {
            series: vec![("revenue".into(), points)],
            diagonal: true,
        },
    ))
}

/// Cohort retention heat map from the `cohort_retention` report: cohorts × months after
/// the first purchase (up to `months`), each cell the retention percentage.
pub fn cohort_retention(report: &[RecordBatch], months: usize) -> Result<Chart> {
    let report = &Frame::from_batches(report)?;
    let t = "cohort_retention";
    let cohort = texts(report, t, "cohort")?;
    let after = numbers(report, t, "months_after")?;
    let pct = numbers(report, t, "retention_pct")?;
    let mut grid: BTreeMap<String, Vec<Option<f64>>> = BTreeMap::new();
    for ((c, a), p) in cohort.iter().zip(&after).zip(&pct) {
        if let (Some(c), Some(a), Some(p)) = (c, a, p) {
            let row = grid
                .entry(c.clone())
                .or_insert_with(|| vec![None; months + 1]);
            if let Some(cell) = row.get_mut(*a as usize) {
                *cell = Some(*p);
            }
        }
    }
    Ok(Chart::new(
        "Cohort retention (% of the cohort buying again)",
        "months after the first purchase",
        "cohort",
        Kind::Heatmap {
            columns: (0..=months).map(|m| m.to_string()).collect(),
            rows: grid.keys().cloned().collect(),
            values: grid.into_values().collect(),
        },
    ))
}

/// Conversion rate of each campaign's contacted and control groups side by side, from
/// `mart_campaign_uplift` (a campaign without a control group shows its contacted bar only).
pub fn campaign_uplift(rows: &[RecordBatch]) -> Result<Chart> {
    let rows = &Frame::from_batches(rows)?;
    let t = "mart_campaign_uplift";
    let codes = texts(rows, t, "campaign_code")?;
    let rate = |name| -> Result<Vec<f64>> {
        Ok(numbers(rows, t, name)?
            .into_iter()
            .map(|v| 100.0 * v.unwrap_or(0.0))
            .collect())
    };
    Ok(Chart::new(
        "Conversion rate: contacted vs control group (%)",
        "campaign",
        "% converted",
        Kind::GroupedBars {
            categories: codes.into_iter().map(Option::unwrap_or_default).collect(),
            series: vec![
                ("contacted".into(), rate("conversion_rate")?),
                ("control".into(), rate("control_conversion_rate")?),
            ],
        },
    ))
}

/// Share of budget spent by expense type and month from the `expenses_vs_budget` report, as
/// a heat map of the last `months` months (the report's subtotal rows are left out).
pub fn expenses_vs_budget(report: &[RecordBatch], months: usize) -> Result<Chart> {
    let report = &Frame::from_batches(report)?;
    let t = "expenses_vs_budget";
    let month = texts(report, t, "month")?;
    let kind = texts(report, t, "expense_type")?;
    let pct = numbers(report, t, "spent_pct")?;
    let mut grid: BTreeMap<String, BTreeMap<String, f64>> = BTreeMap::new();
    for ((m, k), p) in month.iter().zip(&kind).zip(&pct) {
        if let (Some(m), Some(k), Some(p)) = (m, k, p) {
            let m = m.chars().take(7).collect::<String>();
            grid.entry(k.clone()).or_default().insert(m, *p);
        }
    }
    let mut columns: Vec<String> = grid.values().flat_map(|row| row.keys().cloned()).collect();
    columns.sort();
    columns.dedup();
    let columns = columns.split_off(columns.len().saturating_sub(months));
    let values = grid
        .values()
        .map(|row| columns.iter().map(|c| row.get(c).copied()).collect())
        .collect();
    Ok(Chart::new(
        "Expenses as % of budget",
        "month",
        "expense type",
        Kind::Heatmap {
            columns,
            rows: grid.keys().cloned().collect(),
            values,
        },
    ))
}

/// ROC curves of models: per model, its name and (false positive rate, true positive rate)
/// points.
pub fn roc(curves: &[(String, Vec<(f64, f64)>)]) -> Chart {
    curve_chart(
        curves,
        "ROC curve (test rows)",
        "false positive rate",
        "true positive rate",
    )
}

/// Cumulative gains of models: per model, its name and (share of rows flagged, share of
/// positives caught) points.
pub fn gains(curves: &[(String, Vec<(f64, f64)>)]) -> Chart {
    curve_chart(
        curves,
        "Cumulative gains (test rows)",
        "share of rows, highest score first",
        "share of positives found",
    )
}

fn curve_chart(curves: &[(String, Vec<(f64, f64)>)], title: &str, x: &str, y: &str) -> Chart {
    let series = curves
        .iter()
        .map(|(name, points)| (name.clone(), thin(points.clone())))
        .collect();
    Chart::new(
        title,
        x,
        y,
        Kind::Lines {
            series,
            diagonal: true,
        },
    )
}

/// Credit score distribution by observed outcome from `mart_credit_score` (`score`,
/// `outcome`; applications without an outcome are left out), one histogram per outcome.
pub fn credit_score_by_outcome(mart: &[RecordBatch]) -> Result<Chart> {
    histogram_by(
        &Frame::from_batches(mart)?,
        "mart_credit_score",
        ("score", "outcome"),
        "Credit score by outcome",
        "score points",
        "share of applications",
    )
}

/// Association rules from `mart_basket_rules`: support × confidence, coloured by lift (the
/// first `top` rules by lift), the strongest named (`{antecedent} → {consequent}`).
pub fn rules_scatter(rules: &[RecordBatch], top: usize) -> Result<Chart> {
    let rules = &Frame::from_batches(rules)?;
    let t = "mart_basket_rules";
    let support = numbers(rules, t, "support")?;
    let confidence = numbers(rules, t, "confidence")?;
    let lift = numbers(rules, t, "lift")?;
    let antecedent = texts(rules, t, "antecedent")?;
    let consequent = texts(rules, t, "consequent")?;
    let mut rows: Vec<((f64, f64, f64), String)> = (0..support.len())
        .filter_map(|i| {
            let point = (support[i]?, confidence[i]?, lift[i]?);
            let name = format!(
                "{{{}}} → {{{}}}",
                antecedent[i].as_deref().unwrap_or_default(),
                consequent[i].as_deref().unwrap_or_default()
            );
            Some((point, name))
        })
        .collect();
    rows.sort_by(|a, b| b.0.2.total_cmp(&a.0.2));
    rows.truncate(top);
    let (points, labels) = rows.into_iter().unzip();
    Ok(Chart::new(
        "Association rules",
        "support (share of baskets)",
        "confidence",
        Kind::Scatter {
            points,
            color_label: "lift".into(),
            labels,
        },
    ))
}

/// Alerts per kind over time: `history` holds per date (oldest first, as text) the count of
/// each kind; x is the months before the last date.
pub fn alerts_over_time(history: &[(String, Vec<(String, f64)>)]) -> Chart {
    let last = history.len().saturating_sub(1) as f64;
    let mut by_kind: BTreeMap<String, Vec<(f64, f64)>> = BTreeMap::new();
    for (i, (_, counts)) in history.iter().enumerate() {
        for (kind, n) in counts {
            by_kind
                .entry(kind.clone())
                .or_default()
                .push((i as f64 - last, *n));
        }
    }
    let to = history.last().map(|h| h.0.as_str()).unwrap_or_default();
    Chart::new(
        &format!("Alerts by kind, month ends up to {to}"),
        &format!("months before {to}"),
        "alerts raised",
        Kind::Lines {
            series: by_kind.into_iter().collect(),
            diagonal: false,
        },
    )
}

/// Rows per value of `column` of `table` as bars (alerts by kind, customers by lifecycle
/// stage or value tier).
pub fn counts_by(batches: &[RecordBatch], table: &str, column: &str, title: &str) -> Result<Chart> {
    let batches = &Frame::from_batches(batches)?;
    let mut counts: BTreeMap<String, f64> = BTreeMap::new();
    for k in texts(batches, table, column)?.into_iter().flatten() {
        *counts.entry(k).or_default() += 1.0;
    }
    Ok(Chart::new(
        title,
        column,
        "rows",
        Kind::Bars(counts.into_iter().collect()),
    ))
}

/// Mean response probability per decile of `mart_response_score` (1 = the customers most
/// likely to respond): how steeply the model separates them.
pub fn response_deciles(mart: &[RecordBatch]) -> Result<Chart> {
    let rows = &Frame::from_batches(mart)?;
    let table = "mart_response_score";
    let mut sums: BTreeMap<u32, (f64, f64)> = BTreeMap::new();
    let deciles = numbers(rows, table, "decile")?;
    for (d, p) in deciles.iter().zip(numbers(rows, table, "p_response")?) {
        if let (Some(d), Some(p)) = (d, p) {
            let s = sums.entry(*d as u32).or_default();
            *s = (s.0 + p, s.1 + 1.0);
        }
    }
    Ok(Chart::new(
        "Response probability by score decile",
        "decile (1 = most likely to respond)",
        "mean P(response)",
        Kind::Bars(
            sums.into_iter()
                .map(|(d, (sum, n))| (d.to_string(), sum / n))
                .collect(),
        ),
    ))
}

/// Churn probabilities of the scored customers from `mart_churn_score`, by risk band.
pub fn churn_distribution(mart: &[RecordBatch]) -> Result<Chart> {
    histogram_by(
        &Frame::from_batches(mart)?,
        "mart_churn_score",
        ("churn_probability", "risk_band"),
        "Churn probability by risk band",
        "churn probability",
        "share of the band's customers",
    )
}

/// One histogram of column `value` per value of column `group` (rows missing either are
/// left out).
fn histogram_by(
    rows: &Frame,
    table: &str,
    (value, group): (&str, &str),
    title: &str,
    x_label: &str,
    y_label: &str,
) -> Result<Chart> {
    let values = numbers(rows, table, value)?;
    let groups = texts(rows, table, group)?;
    let mut by: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for (v, g) in values.iter().zip(groups) {
        if let (Some(v), Some(g)) = (v, g) {
            by.entry(g).or_default().push(*v);
        }
    }
    Ok(Chart::new(
        title,
        x_label,
        y_label,
        Kind::Histogram {
            series: by.into_iter().collect(),
            bins: 20,
        },
    ))
}

/// At most ~300 points of a curve, keeping the ends.
fn thin(points: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    let step = (points.len() / 300).max(1);
    let last = points.len().saturating_sub(1);
    points
        .into_iter()
        .enumerate()
        .filter(|(i, _)| i % step == 0 || *i == last)
        .map(|(_, p)| p)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_curves_are_thinned_keeping_their_ends() {
        let thinned = thin((0..1000).map(|i| (i as f64, 0.0)).collect());
        assert_eq!(thinned.len(), 334);
        assert_eq!(thinned.last(), Some(&(999.0, 0.0)));
    }
}
