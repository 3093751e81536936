//! The campaign side of CRM: choosing whom a campaign contacts and holds out ([`target`]),
//! and evaluating what it caused against that control group ([`uplift`]).

pub mod target;
pub mod uplift;

use super::registry::{Analysis, Chart, Figure, Section, boxed};

/// The registry entry: `campaign_uplift`, every campaign with customers up to the as-of day.
pub const ANALYSIS: Analysis = Analysis {
    name: "campaign_uplift",
    tables: &["mart_campaign_uplift"],
    command: "acrm campaign evaluate",
    needs_model: false,
    run: |cx| {
        boxed(async move {
            let e = uplift::evaluate(cx.engine, cx.as_of).await?;
            Ok(vec![(
                "mart_campaign_uplift".into(),
                uplift::to_batch(cx.as_of, &e)?,
            )])
        })
    },
    chart: Some(Chart {
        table: "mart_campaign_uplift",
        figure: Figure::CampaignUplift,
        sql: "SELECT campaign_code, conversion_rate, control_conversion_rate FROM mart_campaign_uplift",
    }),
    section: Some(Section {
        title: "Campaigns",
        text: Some(
            "Each campaign's contacted group against its control group (selected alike, never contacted): uplift = the difference of their conversion rates, with its 95% interval; incremental revenue and ROI against the campaign's expenses (else its budget).",
        ),
        table: (
            "Campaign uplift",
            "SELECT campaign_code, contacted, control, conversion_rate, control_conversion_rate, uplift, uplift_low, uplift_high, p_value, incremental_revenue, cost, cost_source, roi FROM mart_campaign_uplift",
        ),
    }),
};
