//! Campaign response propensity: P(a contacted customer responds), learnt from the history
//! of `fact_campaign_response`.
//!
//! One training row per customer a campaign contacted (its control group is left out: they
//! were never asked). The features are the customer's as of the day **before the campaign
//! started** — purchases, service contacts, earlier campaign contacts and responses — so a
//! row never sees what happened during or after its campaign; the label is whether the
//! customer responded. Rows are split by campaign start: the latest campaigns test the
//! model trained on the earlier ones, as it will be used on the next campaign.
//!
//! Scoring reads the same features as of a day (default: the last sale) for every customer
//! known then, into `mart_response_score`; `acrm campaign target` ranks on the same score.
//!
//! | feature | meaning |
//! |---|---|
//! | the [`CUSTOMER_FEATURES`] | purchase behaviour up to the day (null without a purchase) |
//! | `customer_type`, `income` | the customer master's version valid on the day |
//! | `contacts_before` | campaign contacts before the day (control groups aside) |
//! | `responses_before` | responses to those contacts |
//! | `days_since_contact` | days since the last of them (null: never contacted) |

use acrm_olap::{Engine, Frame, TableBuilder, Values};
use chrono::NaiveDate;
use datafusion::arrow::array::RecordBatch;

use crate::model::source::{Loaded, Source};
use crate::model::{Model, Target};
use crate::{Error, Result};

use super::churn::reasons_and_model;
use super::features::{CUSTOMER_FEATURES, customer_as_of_sql, customer_features_sql};
use super::registry::{Analysis, Chart, Figure, Section, boxed};

/// Registry task name.
pub const TASK: &str = "response";

/// The label column: the contacted customer responded.
pub const LABEL: &str = "responded";

/// The id of a training row: campaign code and customer id (`CMP-618/1234`).
pub const CONTACT_ID: &str = "contact_id";

/// The time column of the training rows: the campaign's first day.
pub const TIME: &str = "campaign_start";

/// The response target: `responded`, positive `true`, id `contact_id`; the customer id, the
/// campaign and its start are not features.
pub fn target() -> Target {
    Target {
        column: LABEL.into(),
        positive: "true".into(),
        id: Some(CONTACT_ID.into()),
        exclude: vec!["customer_id".into(), "campaign_code".into(), TIME.into()],
        weight: None,
    }
}

/// A `SELECT` of the response features of every customer known on `as_of` (signed up by
/// then, or of unknown signup): `customer_id` and the features of the module table.
pub fn population_sql(as_of: NaiveDate) -> String {
    // One column a line, its description in the comment (what `acrm describe` shows of the
    // `response_features` view).
    let purchases: String = CUSTOMER_FEATURES
        .iter()
        .map(|(name, about)| {
            format!("\n       f.{name} AS {name},  -- {about} Null without a purchase.")
        })
        .collect();
    format!(
        "SELECT d.customer_id,  -- Golden customer id.{purchases}
       d.customer_type,  -- Customer type in the master's version valid on the day.
       d.income,  -- Declared yearly income in that version.
       CAST(coalesce(h.contacts, 0) AS DOUBLE) AS contacts_before,  -- Campaign contacts up to the day (control groups aside).
       CAST(coalesce(h.responses, 0) AS DOUBLE) AS responses_before,  -- Responses to those contacts.
       CAST(CAST(DATE '{as_of}' AS INT) - CAST(h.last_contact AS INT) AS DOUBLE) AS days_since_contact  -- Days since the last contact; null when never contacted.
FROM ({customer}) d
LEFT JOIN ({features}) f ON f.customer_id = d.customer_id
LEFT JOIN (
    SELECT customer_id, count(*) AS contacts,
           sum(CASE WHEN responded THEN 1 ELSE 0 END) AS responses,
           max(contact_date) AS last_contact
    FROM fact_campaign_response
    WHERE NOT control_group AND contact_date <= DATE '{as_of}'
    GROUP BY customer_id
) h ON h.customer_id = d.customer_id
WHERE d.signup_date IS NULL OR d.signup_date <= DATE '{as_of}'",
        customer = customer_as_of_sql(as_of),
        features = customer_features_sql(as_of),
    )
}

/// A campaign with contacted customers: its key, code and first day (its `start_date`, else
/// its first contact).
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignStart {
    /// `dim_campaign` key.
    pub key: i64,
    /// Campaign code.
    pub code: String,
    /// First day.
    pub start: NaiveDate,
}

/// The campaigns with customers contacted on or before `as_of`, earliest first.
pub async fn campaigns(engine: &Engine, as_of: NaiveDate) -> Result<Vec<CampaignStart>> {
    let sql = format!(
        "SELECT c.campaign_key, c.campaign_code,
                coalesce(c.start_date, min(r.contact_date)) AS start
         FROM fact_campaign_response r JOIN dim_campaign c ON c.campaign_key = r.campaign_key
         WHERE NOT r.control_group AND r.contact_date <= DATE '{as_of}'
         GROUP BY c.campaign_key, c.campaign_code, c.start_date
         ORDER BY start, c.campaign_code"
    );
    let (_, batches) = engine.query(&sql).await?;
    let frame = Frame::from_batches(&batches)?;
    let (keys, codes, starts) = (
        frame.require("campaign_key", "key")?,
        frame.require("campaign_code", "code")?,
        frame.require("start", "date")?,
    );
    let Values::Date(days) = &starts.values else {
        return Err(Error::Invalid("campaign start is not a date".into()));
    };
    (0..frame.rows)
        .map(|r| {
            let day = days[r].and_then(|d| {
                NaiveDate::default().checked_add_signed(chrono::Duration::days(d.into()))
            });
            match (keys.text(r), codes.text(r), day) {
                (Some(key), Some(code), Some(start)) => Ok(CampaignStart {
                    key: key.parse().map_err(|_| Error::Invalid(key.clone()))?,
                    code,
                    start,
                }),
                _ => Err(Error::Invalid(format!(
                    "campaign row {r} has no key, code or start"
                ))),
            }
        })
        .collect()
}

/// The training rows of `campaigns`: per contacted customer, [`CONTACT_ID`], the campaign
/// code, [`TIME`], the customer's features as of the day before the start, and [`LABEL`].
pub fn training_sql(campaigns: &[CampaignStart]) -> Result<String> {
    if campaigns.is_empty() {
        return Err(Error::Invalid(
            "no campaign has contacted customers: nothing to learn responses from".into(),
        ));
    }
    let parts: Vec<String> = campaigns
        .iter()
        .map(|c| {
            let code = c.code.replace('\'', "''");
            let before = c.start - chrono::Duration::days(1);
            format!(
                "SELECT concat('{code}', '/', CAST(p.customer_id AS VARCHAR)) AS {CONTACT_ID},
       '{code}' AS campaign_code, DATE '{start}' AS {TIME}, p.*, r.{LABEL}
FROM (
    SELECT customer_id, max(CASE WHEN responded THEN 1 ELSE 0 END) = 1 AS {LABEL}
    FROM fact_campaign_response
    WHERE campaign_key = {key} AND NOT control_group
    GROUP BY customer_id
) r
JOIN ({population}) p ON p.customer_id = r.customer_id",
                start = c.start,
                key = c.key,
                population = population_sql(before),
            )
        })
        .collect();
    Ok(format!(
        "SELECT * FROM (\n{}\n) t ORDER BY {TIME}, {CONTACT_ID}",
        parts.join("\nUNION ALL\n")
    ))
}

/// The training rows of every campaign with contacts on or before `as_of`.
pub async fn load_training(engine: &Engine, as_of: NaiveDate) -> Result<Loaded> {
    let campaigns = campaigns(engine, as_of).await?;
    let mut loaded = Source::Sql(training_sql(&campaigns)?)
        .load(Some(engine))
        .await?;
    loaded.source = format!(
        "response history of {} campaigns up to {as_of} ({}), features as of each start",
        campaigns.len(),
        campaigns
            .iter()
            .map(|c| c.code.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok(loaded)
}

/// The features of every customer known on `as_of`, to score.
pub async fn load_population(engine: &Engine, as_of: NaiveDate) -> Result<Loaded> {
    let mut loaded = Source::Sql(population_sql(as_of))
        .load(Some(engine))
        .await?;
    loaded.source = format!("response features as of {as_of}");
    Ok(loaded)
}

/// The customer ids of `frame`'s `customer_id` column (0 where unreadable).
pub fn customer_ids(frame: &Frame) -> Result<Vec<i64>> {
    let ids = frame.require("customer_id", "id")?;
    Ok((0..frame.rows)
        .map(|r| ids.text(r).and_then(|t| t.parse().ok()).unwrap_or(0))
        .collect())
}

/// `mart_response_score`: customer, P(response), rank and decile (1 = most likely), the
/// top 3 reasons, the as-of date and the model, most likely first.
pub fn score_table(model: &Model, data: &Frame, as_of: NaiveDate) -> Result<RecordBatch> {
    let (p, reasons) = model.explain(data, 3)?;
    let ids = customer_ids(data)?;
    let mut order: Vec<usize> = (0..data.rows).collect();
    order.sort_by(|&a, &b| p[b].total_cmp(&p[a]).then(ids[a].cmp(&ids[b])));
    let n = order.len().max(1);
    let table = TableBuilder::new()
        .i64("customer_id", order.iter().map(|&r| ids[r]).collect())
        .share("p_response", order.iter().map(|&r| p[r]).collect())
        .u32("rank", (1..=order.len() as u32).collect())
        .u8(
            "decile",
            (0..order.len()).map(|i| (1 + i * 10 / n) as u8).collect(),
        );
    reasons_and_model(table, &order, &reasons, as_of, model).finish()
}

/// The registry entry: `mart_response_score` of every customer, by the response champion.
pub const ANALYSIS: Analysis = Analysis {
    name: "response_score",
    tables: &["mart_response_score"],
    command: "acrm mine response score",
    needs_model: true,
    run: |cx| {
        boxed(async move {
            let model = cx.models.load(TASK, "champion")?;
            let data = load_population(cx.engine, cx.as_of).await?;
            let table = score_table(&model, &data.frame, cx.as_of)?;
            Ok(vec![("mart_response_score".into(), table)])
        })
    },
    chart: Some(Chart {
        table: "mart_response_score",
        figure: Figure::ResponseDeciles,
        sql: "SELECT decile, p_response FROM mart_response_score",
    }),
    section: Some(Section {
        title: "Campaign response",
        text: Some(
            "The customers most likely to respond to the next campaign, by the response champion (trained on earlier campaigns' contacts, features as of each start).",
        ),
        table: (
            "Most likely to respond",
            "SELECT rank, customer_id, p_response, decile, reason_1, reason_2, model, as_of
             FROM mart_response_score ORDER BY rank LIMIT 20",
        ),
    }),
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn training_rows_see_only_the_day_before_each_start() {
        let sql = training_sql(&[CampaignStart {
            key: 7,
            code: "O'NEIL".into(),
            start: NaiveDate::from_ymd_opt(2024, 3, 6).expect("valid"),
        }])
        .expect("valid");
        assert!(
            sql.contains("DATE '2024-03-05'"),
            "features as of the day before"
        );
        assert!(!sql.contains("<= DATE '2024-03-06'"), "never the start day");
        assert!(sql.contains("'O''NEIL'"), "codes quoted as literals");
        assert!(sql.contains("campaign_key = 7 AND NOT control_group"));
    }

    #[test]
    fn no_campaign_is_a_clear_error() {
        let e = training_sql(&[]).expect_err("refused").to_string();
        assert!(e.contains("no campaign"), "{e}");
    }
}
