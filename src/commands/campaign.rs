//! `acrm campaign …`: drawing a campaign's target list and control group, and evaluating
//! campaigns against their control groups, around `acrm_mining::analysis::campaign`.

use std::path::{Path, PathBuf};

use acrm_mining::analysis::campaign::target::{self, Selected, TargetOptions};
use acrm_mining::analysis::campaign::{self, uplift};
use acrm_mining::analysis::response;
use acrm_mining::model::registry::Registry;
use anyhow::{Context, bail};
use chrono::NaiveDate;
use clap::{ArgGroup, Args, Subcommand};

use crate::commands::mine::open_at;
use crate::commands::publish::{Common, publish};
use crate::output::{Format, print_batch};
use crate::progress;

/// The campaign commands.
#[derive(Subcommand, Debug)]
pub enum CampaignCommand {
    /// Draw a campaign's target list: the audience less opted-out and recently contacted
    /// customers, ranked by expected value (P(response) × expected revenue − contact cost),
    /// cut to a size or budget, with a seeded random control group that is not contacted.
    #[command(
        after_help = "Audience: --segment KIND=VALUE[,VALUE…] (repeat to intersect; KIND one of rfm, cluster,\nvalue, abc, lifecycle, churn, response, dormant: the marts' segments), or --sql returning\ncustomer_id. Size: --size N customers in all (control included); or --budget B with\n--cost-per-contact C: as many contacts as B pays for, plus their control group, never one of\nnegative expected value; else every customer of positive expected value. Writes\nmart_campaign_target (replacing the campaign's earlier list) unless --no-write; --output\nwrites the list with name, phone and e-mail (masked unless --privileged).\nExamples:\n  acrm campaign target --name SPRING-25 --segment rfm=at_risk,cant_lose --size 200\n  acrm campaign target --name BABY --segment dormant=Baby,Diapers --budget 500 --cost-per-contact 2\n  acrm campaign target --name VIP --segment value=most_valuable --exclude-contacted-within 30\n  acrm campaign target --name ALL --sql \"SELECT customer_id FROM mart_clv\" --output all.csv"
    )]
    Target(Box<TargetArgs>),
    /// Uplift of each campaign (or one): contacted vs control group conversion, with its 95%
    /// interval, incremental revenue, cost and ROI.
    #[command(
        after_help = "Writes mart_campaign_uplift (every campaign) unless --no-write.\nExamples:\n  acrm campaign evaluate\n  acrm campaign evaluate CMP-1111-B\n  acrm campaign evaluate --as-of 2024-06-30 --format csv"
    )]
    Evaluate(EvaluateArgs),
}

/// Flags of `acrm campaign target`.
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("audience").required(true).args(["segment", "sql"])))]
pub struct TargetArgs {
    /// Campaign name: the list's key in mart_campaign_target.
    #[arg(long)]
    name: String,
    /// Audience: the customers of a mart's segment, KIND=VALUE[,VALUE…]; repeat to intersect.
    #[arg(long, value_name = "KIND=VALUE")]
    segment: Vec<String>,
    /// Audience: the customer_id column of this warehouse query.
    #[arg(long, conflicts_with = "segment")]
    sql: Option<String>,
    /// Response model that scores: a name, or `champion`.
    #[arg(long, default_value = "champion")]
    model: String,
    /// Customers on the list, control group included.
    #[arg(long, conflicts_with = "budget")]
    size: Option<usize>,
    /// Money for contacts (the control group costs nothing).
    #[arg(long, requires = "cost_per_contact")]
    budget: Option<f64>,
    /// Cost of one contact, subtracted from each customer's expected value.
    #[arg(long, default_value_t = 0.0)]
    cost_per_contact: f64,
    /// Share of the list held out as the control group.
    #[arg(long, default_value_t = 0.1)]
    holdout: f64,
    /// Leave out customers a campaign contacted in the last DAYS days.
    #[arg(long, value_name = "DAYS")]
    exclude_contacted_within: Option<u32>,
    /// Revenue of a response for everyone [default: each customer's average order value]
    #[arg(long, value_name = "AMOUNT")]
    value_per_response: Option<f64>,
    /// Seed of the control group draw: the same seed, the same list.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Also write the list as CSV with each customer's name, phone and e-mail (masked unless
    /// --privileged) and group (never contact the control group).
    #[arg(long, value_name = "FILE.csv")]
    output: Option<PathBuf>,
    #[command(flatten)]
    common: Common,
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
        CampaignCommand::Target(args) => target_list(*args),
    }
}

fn target_list(args: TargetArgs) -> anyhow::Result<()> {
    let options = TargetOptions {
        campaign: args.name.clone(),
        size: args.size,
        budget: args.budget,
        cost_per_contact: args.cost_per_contact,
        holdout: args.holdout,
        exclude_contacted_within: args.exclude_contacted_within,
        value_per_response: args.value_per_response,
        seed: args.seed,
    };
    options.check()?;
    let common = &args.common;
    let model = Registry::new(&common.engine.warehouse()?)
        .load(response::TASK, &args.model)
        .context(
            "the list is ranked by a response model: train one with `acrm mine response train`",
        )?;
    let (rt, engine, as_of) = open_at(common)?;
    let audience = match &args.sql {
        Some(sql) => sql.clone(),
        None => target::segment_sql(&args.segment)?,
    };
    let eligibility = rt.block_on(target::eligibility(
        &engine,
        &audience,
        as_of,
        options.exclude_contacted_within,
    ))?;
    if eligibility.audience == 0 {
        let known = match args.segment.first() {
            Some(spec) => rt
                .block_on(target::segment_values(&engine, spec))?
                .join(", "),
            None => String::new(),
        };
        if known.is_empty() {
            bail!("the audience holds no customer");
        }
        bail!(
            "the audience holds no customer; the values of {} are: {known}",
            args.segment[0]
        );
    }
    let candidates = {
        let _working = progress::working("scoring the eligible customers");
        rt.block_on(target::candidates(
            &engine,
            &model,
            &eligibility.eligible,
            as_of,
            &options,
        ))?
    };
    let list = target::select(candidates, &options)?;
    if common.format == Format::Table {
        outln!("{}", target_summary(&options, &eligibility, &list, as_of));
    }
    let batch = target::to_batch(&options, as_of, &model.name, &list)?;
    print_batch(&batch, common.format)?;
    if let Some(path) = &args.output {
        let details = rt.block_on(target::contact_details(
            &engine,
            &list
                .iter()
                .map(|s| s.candidate.customer_id)
                .collect::<Vec<_>>(),
        ))?;
        write_list(path, &list, &details)?;
        eprintln!(
            "list written to {} ({})",
            path.display(),
            if common.engine.privileged {
                "unmasked: privileged"
            } else {
                "personal data masked; --privileged to unmask"
            }
        );
    }
    if common.no_write {
        return Ok(());
    }
    let mart = rt.block_on(target::merged(&engine, &options.campaign, batch))?;
    publish(common, &target::ANALYSIS, vec![mart])
}

/// A target list in words: the audience, who was left out, the list and its two groups.
fn target_summary(
    o: &TargetOptions,
    e: &target::Eligibility,
    list: &[Selected],
    as_of: NaiveDate,
) -> String {
    let treated: Vec<&Selected> = list.iter().filter(|s| !s.control).collect();
    let responses: f64 = treated.iter().map(|s| s.candidate.p_response).sum();
    let value: f64 = treated.iter().map(|s| s.candidate.expected_value).sum();
    let mut out = format!(
        "{}: {} in the audience, {} eligible as of {as_of} ({} opted out of marketing, {} contacted within {}, {} unknown ids); \
         {} on the list: {} to contact, {} held out as the control group (seed {}); \
         expected responses {responses:.1}, contact cost {:.2}, expected value {value:.2}",
        o.campaign,
        e.audience,
        e.eligible.len(),
        e.opted_out,
        e.recently_contacted,
        o.exclude_contacted_within.map_or_else(
            || "the window (none given)".to_string(),
            |d| format!("{d} days")
        ),
        e.unknown,
        list.len(),
        treated.len(),
        list.len() - treated.len(),
        o.seed,
        o.cost_per_contact * treated.len() as f64,
    );
    if let Some(b) = o.budget {
        out.push_str(&format!(" (budget {b:.2})"));
    }
    let losing = list
        .iter()
        .filter(|s| s.candidate.expected_value <= 0.0)
        .count();
    if losing > 0 {
        out.push_str(&format!(
            "; {losing} on the list have an expected value of 0 or less"
        ));
    }
    out
}

/// Writes the list with each customer's contact details to `path`.
fn write_list(
    path: &Path,
    list: &[Selected],
    details: &std::collections::HashMap<i64, [Option<String>; 3]>,
) -> anyhow::Result<()> {
    let mut w =
        csv::Writer::from_path(path).with_context(|| format!("cannot write {}", path.display()))?;
    w.write_record([
        "rank",
        "customer_id",
        "group",
        "name",
        "phone",
        "email",
        "p_response",
        "expected_value",
    ])?;
    let none = [None, None, None];
    for s in list {
        let [name, phone, email] = details.get(&s.candidate.customer_id).unwrap_or(&none);
        w.write_record([
            s.rank.to_string(),
            s.candidate.customer_id.to_string(),
            target::group(s).to_string(),
            name.clone().unwrap_or_default(),
            phone.clone().unwrap_or_default(),
            email.clone().unwrap_or_default(),
            format!("{:.6}", s.candidate.p_response),
            format!("{:.2}", s.candidate.expected_value),
        ])?;
    }
    w.flush()
        .with_context(|| format!("cannot write {}", path.display()))
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
