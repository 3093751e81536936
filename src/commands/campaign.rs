//! `acrm campaign …`: evaluating campaigns against their control groups, around
//! `acrm_mining::analysis::campaign`.

use acrm_mining::analysis::campaign::{self, uplift};
use anyhow::bail;
use clap::{Args, Subcommand};

use crate::commands::mine::open_at;
use crate::commands::publish::{Common, publish};
use crate::output::{Format, print_batch};
use crate::progress;

/// The campaign commands.
#[derive(Subcommand, Debug)]
pub enum CampaignCommand {
    /// Uplift of each campaign (or one): contacted vs control group conversion, with its 95%
    /// interval, incremental revenue, cost and ROI.
    #[command(
        after_help = "Writes mart_campaign_uplift (every campaign) unless --no-write.\nExamples:\n  acrm campaign evaluate\n  acrm campaign evaluate CMP-1111-B\n  acrm campaign evaluate --as-of 2024-06-30 --format csv"
    )]
    Evaluate(EvaluateArgs),
}

/// Flags of `acrm campaign evaluate`.
#[derive(Args, Debug)]
pub struct EvaluateArgs {
    /// Campaign code: print this campaign's two groups and its evaluation (every campaign is
    /// still published).
    name: Option<String>,
    #[command(flatten)]
    common: Common,
}

/// Runs `acrm campaign …`.
pub fn run(what: CampaignCommand) -> anyhow::Result<()> {
    match what {
        CampaignCommand::Evaluate(args) => evaluate(args),
    }
}

fn evaluate(args: EvaluateArgs) -> anyhow::Result<()> {
    let EvaluateArgs { name, common } = args;
    let (rt, engine, as_of) = open_at(&common)?;
    let all = {
        let _working = progress::working("comparing contacted and control groups");
        rt.block_on(uplift::evaluate(&engine, as_of))?
    };
    if all.is_empty() {
        bail!("no campaign has contacted or held-out customers up to {as_of}");
    }
    let batch = uplift::to_batch(as_of, &all)?;
    match &name {
        Some(code) => {
            let Some(one) = all.iter().find(|e| &e.campaign_code == code) else {
                let codes: Vec<&str> = all.iter().map(|e| e.campaign_code.as_str()).collect();
                bail!(
                    "no campaign '{code}' with customers up to {as_of}; there are: {}",
                    codes.join(", ")
                );
            };
            if common.format == Format::Table {
                outln!("{}", summary(one));
            }
            print_batch(&uplift::groups_batch(one)?, common.format)?;
        }
        None => print_batch(&batch, common.format)?,
    }
    publish(&common, &campaign::ANALYSIS, vec![batch])
}

/// One campaign's evaluation in words.
fn summary(e: &uplift::Evaluation) -> String {
    let Some(u) = e.uplift else {
        return format!(
            "{}: {} contacted and no control group: the conversion rate alone cannot say what the campaign caused",
            e.campaign_code, e.treated.customers
        );
    };
    let mut out = format!(
        "{}: uplift {:+.1} points of conversion (95% interval {:+.1} to {:+.1}, p = {:.3}), {} contacted vs {} held out",
        e.campaign_code,
        100.0 * u.estimate,
        100.0 * u.low,
        100.0 * u.high,
        u.p_value,
        e.treated.customers,
        e.control.customers
    );
    if let Some((revenue, low, high)) = e.incremental_revenue {
        out.push_str(&format!(
            "; incremental revenue {revenue:.2} ({low:.2} to {high:.2})"
        ));
    }
    if let (Some(cost), Some(roi)) = (e.cost, e.roi()) {
        out.push_str(&format!(
            "; cost {cost:.2} ({}), ROI {:.0}%",
            e.cost_source,
            100.0 * roi
        ));
    }
    out
}
