//! Credit scoring on the warehouse's credit applications: the default training data
//! (approved applications whose outcome is known, with the applicant's features), the
//! `mart_credit_score` table, and a scorecard's selection report and points table.

use datafusion::arrow::array::RecordBatch;

use crate::Result;
use crate::algo::scorecard::Scorecard;
use crate::model::{Classifier, Model, Target};
use acrm_olap::Frame;
use acrm_olap::TableBuilder;

use super::registry::{Analysis, Chart, Figure, boxed};
use crate::model::source::Source;

/// Registry task name.
pub const TASK: &str = "credit";

/// Applicant columns of `fact_credit_application` used as features by default.
const APPLICANT: &str = "application_id, customer_id, application_date, age, \
    CAST(income AS DOUBLE) AS income, has_savings_account, homeowner, employment_years, \
    CAST(existing_debt AS DOUBLE) AS existing_debt, \
    CAST(requested_amount AS DOUBLE) AS requested_amount, term_months";

/// Training data: approved applications with an observed outcome (rejected ones have none:
/// their outcome was never seen).
pub fn training_sql() -> String {
    format!(
        "SELECT {APPLICANT}, outcome FROM fact_credit_application \
         WHERE decision = 'approved' AND outcome IS NOT NULL ORDER BY application_date, application_id"
    )
}

/// Data to score: every application, with its outcome where observed (not a feature).
pub fn scoring_sql() -> String {
    format!(
        "SELECT {APPLICANT}, outcome FROM fact_credit_application ORDER BY application_date, application_id"
    )
}

/// The default target: `outcome`, positive `bad`, id `application_id`; the customer id and
/// the dates are not features.
pub fn target() -> Target {
    Target {
        column: "outcome".into(),
        positive: "bad".into(),
        id: Some("application_id".into()),
        exclude: vec!["customer_id".into(), "application_date".into()],
        weight: None,
    }
}

/// `mart_credit_score`: per row of `frame` (which holds the model's id column), P(bad), the
/// points ([`Model::points`]), the decision at the model's cut-off (`decline` at or above it, else `approve`),
/// three reasons towards bad, the observed outcome (the target column, null where unknown
/// or absent) and the model name.
pub fn score_table(model: &Model, frame: &Frame) -> Result<RecordBatch> {
    let (p, reasons) = model.explain(frame, 3)?;
    let points = model.points(frame)?;
    let outcome = frame.column(&model.target.column);
    let id_name = model
        .target
        .id
        .clone()
        .unwrap_or_else(|| "application_id".into());
    let ids = frame.require(&id_name, "id")?;
    let ids: Vec<String> = (0..frame.rows)
        .map(|r| ids.text(r).unwrap_or_default())
        .collect();
    let reason =
        |k: usize| -> Vec<Option<String>> { reasons.iter().map(|r| r.get(k).cloned()).collect() };
    TableBuilder::new()
        .utf8(&id_name, &ids)
        .share("p_bad", p.clone())
        .f64("score", points)
        .utf8(
            "decision",
            &p.iter()
                .map(|&v| {
                    if v >= model.cutoff {
                        "decline"
                    } else {
                        "approve"
                    }
                })
                .collect::<Vec<_>>(),
        )
        .utf8_opt("reason_1", reason(0))
        .utf8_opt("reason_2", reason(1))
        .utf8_opt("reason_3", reason(2))
        .utf8_opt(
            "outcome",
            (0..frame.rows)
                .map(|r| outcome.and_then(|c| c.text(r)))
                .collect(),
        )
        .utf8("model", &vec![model.name.as_str(); frame.rows])
        .finish()
}

/// The usual reading of a characteristic's information value (Siddiqi).
pub fn strength(iv: f64) -> &'static str {
    match iv {
        v if v < 0.02 => "not predictive",
        v if v < 0.1 => "weak",
        v if v < 0.3 => "medium",
        v if v < 0.5 => "strong",
        _ => "suspicious (check for leakage)",
    }
}

/// The scorecard of `model`, if it is one.
pub fn scorecard(model: &Model) -> Option<&Scorecard> {
    match &model.classifier {
        Classifier::Scorecard(s) => Some(s),
        _ => None,
    }
}

/// The selection report of a scorecard model: per characteristic offered, its information
/// value, strength, bins and whether the scorecard uses it (most informative first).
pub fn characteristics_table(model: &Model, card: &Scorecard) -> Result<RecordBatch> {
    let mut order: Vec<usize> = (0..card.characteristics.len()).collect();
    order.sort_by(|&a, &b| {
        card.characteristics[b]
            .iv
            .total_cmp(&card.characteristics[a].iv)
    });
    let of = |f: &dyn Fn(usize) -> String| order.iter().map(|&j| f(j)).collect::<Vec<_>>();
    let c = &card.characteristics;
    TableBuilder::new()
        .utf8(
            "characteristic",
            &of(&|j| model.encoding.inputs[j].name.clone()),
        )
        .f64("iv", order.iter().map(|&j| c[j].iv).collect())
        .utf8("strength", &of(&|j| strength(c[j].iv).to_string()))
        .i64(
            "bins",
            order
                .iter()
                .map(|&j| c[j].binning.rule.bins() as i64)
                .collect(),
        )
        .utf8("status", &of(&|j| c[j].status.name().to_string()))
        .finish()
}

/// The points table of a scorecard model: per bin of each characteristic used, its rows,
/// share, bad rate, WoE and points, with the characteristic's neutral points.
pub fn points_table(model: &Model, card: &Scorecard) -> Result<RecordBatch> {
    let mut rows = Vec::new();
    for (j, c) in card.characteristics.iter().enumerate() {
        if c.points.is_empty() {
            continue;
        }
        let labels = model.encoding.bin_labels(j, &c.binning.rule);
        let shares = c.binning.shares();
        for (k, bin) in c.binning.bins.iter().enumerate() {
            rows.push((j, labels[k].clone(), bin, shares[k], c.points[k], c.neutral));
        }
    }
    let name = |j: usize| model.encoding.inputs[j].name.clone();
    TableBuilder::new()
        .utf8(
            "characteristic",
            &rows.iter().map(|r| name(r.0)).collect::<Vec<_>>(),
        )
        .utf8("bin", &rows.iter().map(|r| r.1.clone()).collect::<Vec<_>>())
        .f64("rows", rows.iter().map(|r| r.2.rows).collect())
        .share("share", rows.iter().map(|r| r.3).collect())
        .f64_opt(
            "bad_rate",
            rows.iter()
                .map(|r| (r.2.rows > 0.0).then(|| r.2.positives / r.2.rows))
                .collect(),
        )
        .f64("woe", rows.iter().map(|r| r.2.woe).collect())
        .f64("points", rows.iter().map(|r| r.4).collect())
        .f64("neutral_points", rows.iter().map(|r| r.5).collect())
        .finish()
}

/// The registry entry: `mart_credit_score` of the applications, by the credit champion (the
/// HTML report's credit section describes the model itself).
pub const ANALYSIS: Analysis = Analysis {
    name: "credit_score",
    tables: &["mart_credit_score"],
    command: "acrm mine credit score",
    needs_model: true,
    run: |cx| {
        boxed(async move {
            let model = cx.models.load(TASK, "champion")?;
            let data = Source::Sql(scoring_sql()).load(Some(cx.engine)).await?;
            Ok(vec![(
                "mart_credit_score".into(),
                score_table(&model, &data.frame)?,
            )])
        })
    },
    chart: Some(Chart {
        table: "mart_credit_score",
        figure: Figure::CreditScoreByOutcome,
        sql: "SELECT * FROM mart_credit_score",
    }),
    section: None,
};
