//! Credit scoring on the warehouse's credit applications: the default training data
//! (approved applications whose outcome is known, with the applicant's features), the
//! score scale, and the `mart_credit_score` table.

use datafusion::arrow::array::RecordBatch;

use crate::Result;
use crate::model::{Model, Target};
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

/// Score points from P(bad): 600 at even odds, 20 more per doubling of the good:bad odds
/// (the usual "points to double the odds" scaling), rounded.
pub fn points(p_bad: f64) -> f64 {
    let p = p_bad.clamp(1e-6, 1.0 - 1e-6);
    (600.0 + 20.0 / std::f64::consts::LN_2 * ((1.0 - p) / p).ln()).round()
}

/// `mart_credit_score`: per row of `frame` (which holds the model's id column), P(bad), the
/// points, the decision at the model's cut-off (`decline` at or above it, else `approve`),
/// three reasons towards bad, the observed outcome (the target column, null where unknown
/// or absent) and the model name.
pub fn score_table(model: &Model, frame: &Frame) -> Result<RecordBatch> {
    let (p, reasons) = model.explain(frame, 3)?;
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
        .f64("score", p.iter().map(|&v| points(v)).collect())
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn points_double_the_odds_every_20() {
        assert_eq!(points(0.5), 600.0);
        assert_eq!(points(1.0 / 3.0), 620.0, "odds 2:1");
        assert_eq!(points(0.2), 640.0, "odds 4:1");
        assert!(points(0.0).is_finite() && points(1.0).is_finite());
    }
}
