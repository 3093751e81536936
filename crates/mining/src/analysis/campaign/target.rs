//! Campaign target lists: from an audience (a segment of the marts, or any query's
//! customers) to the customers a campaign contacts and the control group it holds out.
//!
//! 1. **Audience**: the customers of `--segment`s (every one must hold) or of a query.
//! 2. **Exclusions**: customers who refused marketing (`dim_customer.marketing_opt_out`, as
//!    the customer master says now), customers a campaign contacted in the last `DAYS` days,
//!    and ids the warehouse does not know.
//! 3. **Ranking** by expected value = P(response) × expected revenue of a response − the
//!    contact cost. P(response) is the response model's ([`super::super::response`]), with
//!    features as of the as-of day; the expected revenue is the customer's own average order
//!    value (the population's median for a customer without orders), or one given value.
//! 4. **Size**: the top `--size` customers; or as many as `--budget` pays contacts for (the
//!    control group costs nothing), never a customer of zero or negative expected value;
//!    else every customer of positive expected value.
//! 5. **Control group**: a seeded random `holdout` share of the selected customers, drawn
//!    uniformly so it is like the contacted group in every respect; it is not contacted, and
//!    `acrm campaign evaluate` later measures the campaign's uplift against it.
//!
//! Every night the published lists are checked again ([`recheck`]): a customer who opted out
//! after a list was drawn leaves it before the campaign tool reads it.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use acrm_olap::{Engine, Frame, TableBuilder, Values};
use chrono::NaiveDate;
use datafusion::arrow::array::{AsArray, BooleanArray, RecordBatch};
use datafusion::arrow::compute::{concat_batches, filter_record_batch};
use datafusion::arrow::datatypes::Int64Type;
use rand::SeedableRng;
use rand_xoshiro::Xoshiro256PlusPlus;

use crate::analysis::features::days_before;
use crate::analysis::registry::{Analysis, Chart, Figure, Section, boxed};
use crate::analysis::response;
use crate::model::Model;
use crate::model::source::Source;
use crate::{Error, Result};

/// The mart target lists are published to.
pub const TABLE: &str = "mart_campaign_target";

/// The segment kinds `--segment KIND=VALUE[,VALUE…]` takes: kind, mart, its column.
pub const SEGMENTS: &[(&str, &str, &str)] = &[
    ("rfm", "mart_rfm", "rfm_segment"),
    ("cluster", "mart_segment", "segment"),
    ("value", "mart_value_tier", "value_tier"),
    ("abc", "mart_value_tier", "abc_class"),
    ("lifecycle", "mart_lifecycle", "stage"),
    ("churn", "mart_churn_score", "risk_band"),
    ("response", "mart_response_score", "decile"),
    ("dormant", "mart_dormant_product", "product"),
];

/// How to build a target list.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetOptions {
    /// Campaign name (the list's key in the mart).
    pub campaign: String,
    /// Customers on the list, control group included.
    pub size: Option<usize>,
    /// Money for contacts: the list holds as many contacted customers as it pays for.
    pub budget: Option<f64>,
    /// Cost of one contact.
    pub cost_per_contact: f64,
    /// Share of the list held out as the control group.
    pub holdout: f64,
    /// Leave out customers a campaign contacted in this many days up to the as-of day.
    pub exclude_contacted_within: Option<u32>,
    /// Revenue of a response for every customer, instead of their average order value.
    pub value_per_response: Option<f64>,
    /// Seed of the control group draw.
    pub seed: u64,
}

impl TargetOptions {
    /// Checks the numbers: a share in [0, 1), costs and budgets not negative, a budget only
    /// with a positive contact cost.
    pub fn check(&self) -> Result<()> {
        let invalid = |m: String| Err(Error::Invalid(m));
        if self.campaign.trim().is_empty() {
            return invalid("the campaign name is empty".into());
        }
        if !(0.0..1.0).contains(&self.holdout) {
            return invalid(format!(
                "--holdout is the control group's share: 0 to below 1, got {}",
                self.holdout
            ));
        }
        if !(self.cost_per_contact >= 0.0 && self.cost_per_contact.is_finite()) {
            return invalid(format!(
                "--cost-per-contact must be 0 or more, got {}",
                self.cost_per_contact
            ));
        }
        if let Some(b) = self.budget {
            if !(b >= 0.0 && b.is_finite()) {
                return invalid(format!("--budget must be 0 or more, got {b}"));
            }
            if self.cost_per_contact <= 0.0 {
                return invalid("--budget needs a --cost-per-contact above 0".into());
            }
        }
        if self.size == Some(0) {
            return invalid("--size must be at least 1".into());
        }
        Ok(())
    }
}

/// The audience query of `--segment` specs (`rfm=champions,loyal`): the customers in every
/// one of them.
pub fn segment_sql(specs: &[String]) -> Result<String> {
    if specs.is_empty() {
        return Err(Error::Invalid("no --segment given".into()));
    }
    let parts: Vec<String> = specs
        .iter()
        .map(|spec| {
            let (kind, values) = spec.split_once('=').ok_or_else(|| unknown_segment(spec))?;
            let (_, table, column) = SEGMENTS
                .iter()
                .find(|(k, _, _)| *k == kind.trim())
                .ok_or_else(|| unknown_segment(spec))?;
            let values: Vec<String> = values
                .split(',')
                .map(|v| format!("'{}'", v.trim().replace('\'', "''")))
                .collect();
            Ok(format!(
                "SELECT customer_id FROM {table} WHERE CAST({column} AS VARCHAR) IN ({})",
                values.join(", ")
            ))
        })
        .collect::<Result<_>>()?;
    Ok(parts.join("\nINTERSECT\n"))
}

fn unknown_segment(spec: &str) -> Error {
    let kinds: Vec<String> = SEGMENTS
        .iter()
        .map(|(k, t, c)| format!("{k} ({t}.{c})"))
        .collect();
    Error::Invalid(format!(
        "--segment '{spec}': give KIND=VALUE[,VALUE…] with KIND one of {}",
        kinds.join(", ")
    ))
}

/// The values a segment kind has in the warehouse, to name them when a spec matches no one.
pub async fn segment_values(engine: &Engine, spec: &str) -> Result<Vec<String>> {
    let kind = spec.split_once('=').map_or(spec, |(k, _)| k).trim();
    let Some((_, table, column)) = SEGMENTS.iter().find(|(k, _, _)| *k == kind) else {
        return Ok(Vec::new());
    };
    if !engine.tables().iter().any(|t| t.name == *table) {
        return Err(Error::Invalid(format!(
            "--segment {kind}: {table} is not in this warehouse version (compute it first)"
        )));
    }
    let (_, batches) = engine
        .query(&format!(
            "SELECT DISTINCT CAST({column} AS VARCHAR) AS v FROM {table} ORDER BY v"
        ))
        .await?;
    let frame = Frame::from_batches(&batches)?;
    let v = frame.require("v", "value")?;
    Ok((0..frame.rows).filter_map(|r| v.text(r)).collect())
}

/// Who of the audience may be contacted, and who was left out why.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Eligibility {
    /// Customers the audience named (distinct).
    pub audience: usize,
    /// Left out: refused marketing.
    pub opted_out: usize,
    /// Left out: a campaign contacted them within the window (and they did not opt out).
    pub recently_contacted: usize,
    /// Left out: no such customer in the warehouse.
    pub unknown: usize,
    /// The customers left, ascending.
    pub eligible: Vec<i64>,
}

/// Reads the audience of `audience_sql` (which returns a `customer_id` column) and leaves
/// out the opted-out, the recently contacted (contacts in the `within` days up to `as_of`,
/// control groups aside) and unknown ids.
pub async fn eligibility(
    engine: &Engine,
    audience_sql: &str,
    as_of: NaiveDate,
    within: Option<u32>,
) -> Result<Eligibility> {
    let recent = match within {
        Some(days) => format!(
            "SELECT DISTINCT customer_id FROM fact_campaign_response
             WHERE NOT control_group AND contact_date > DATE '{}' AND contact_date <= DATE '{as_of}'",
            days_before(as_of, days)
        ),
        None => "SELECT CAST(NULL AS BIGINT) AS customer_id WHERE false".into(),
    };
    let sql = format!(
        "WITH audience AS (
    SELECT DISTINCT CAST(customer_id AS BIGINT) AS customer_id FROM ({audience_sql}) a
    WHERE customer_id IS NOT NULL
)
SELECT a.customer_id,
       d.customer_id IS NULL AS unknown,
       coalesce(d.marketing_opt_out, false) AS opted_out,
       r.customer_id IS NOT NULL AS recent
FROM audience a
LEFT JOIN (SELECT customer_id, marketing_opt_out FROM dim_customer WHERE is_current AND customer_id <> 0) d
       ON d.customer_id = a.customer_id
LEFT JOIN ({recent}) r ON r.customer_id = a.customer_id
ORDER BY a.customer_id"
    );
    let (_, batches) = engine.query(&sql).await.map_err(|e| {
        Error::Invalid(format!(
            "the audience query must return a customer_id column of golden customer ids: {e}"
        ))
    })?;
    let frame = Frame::from_batches(&batches)?;
    if frame.rows == 0 {
        return Ok(Eligibility::default());
    }
    let ids = response::customer_ids(&frame)?;
    let flag = |name: &str| -> Result<Vec<bool>> {
        match &frame.require(name, "flag")?.values {
            Values::Boolean(v) => Ok(v.iter().map(|b| b.unwrap_or(false)).collect()),
            _ => Err(Error::Invalid(format!(
                "audience flag '{name}' is not a bool"
            ))),
        }
    };
    let (unknown, opted_out, recent) = (flag("unknown")?, flag("opted_out")?, flag("recent")?);
    let mut e = Eligibility {
        audience: frame.rows,
        ..Eligibility::default()
    };
    for r in 0..frame.rows {
        if unknown[r] {
            e.unknown += 1;
        } else if opted_out[r] {
            e.opted_out += 1;
        } else if recent[r] {
            e.recently_contacted += 1;
        } else {
            e.eligible.push(ids[r]);
        }
    }
    Ok(e)
}

/// A customer who may be contacted, valued.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    /// Golden customer id.
    pub customer_id: i64,
    /// P(response) by the model.
    pub p_response: f64,
    /// Revenue of a response.
    pub expected_revenue: f64,
    /// p_response × expected_revenue − the contact cost.
    pub expected_value: f64,
}

/// Values the `eligible` customers with `model` on their response features as of `as_of`.
pub async fn candidates(
    engine: &Engine,
    model: &Model,
    eligible: &[i64],
    as_of: NaiveDate,
    options: &TargetOptions,
) -> Result<Vec<Candidate>> {
    let population = Source::Sql(response::population_sql(as_of))
        .load(Some(engine))
        .await?
        .frame;
    let ids = response::customer_ids(&population)?;
    let wanted: HashSet<i64> = eligible.iter().copied().collect();
    let rows: Vec<usize> = (0..population.rows)
        .filter(|&r| wanted.contains(&ids[r]))
        .collect();
    let Values::Numeric(order_value) = &population.require("avg_order_value", "revenue")?.values
    else {
        return Err(Error::Invalid("avg_order_value is not numeric".into()));
    };
    let value_of = |r: usize| order_value[r];
    let median = {
        let mut known: Vec<f64> = (0..population.rows).filter_map(value_of).collect();
        known.sort_by(f64::total_cmp);
        known.get(known.len() / 2).copied().unwrap_or(0.0)
    };
    let frame = population.take(&rows);
    let p = model.probabilities(&frame)?;
    Ok(rows
        .iter()
        .zip(p)
        .map(|(&r, p_response)| {
            let expected_revenue = options
                .value_per_response
                .unwrap_or_else(|| value_of(r).unwrap_or(median));
            Candidate {
                customer_id: ids[r],
                p_response,
                expected_revenue,
                expected_value: p_response * expected_revenue - options.cost_per_contact,
            }
        })
        .collect())
}

/// A customer on the list.
#[derive(Debug, Clone, PartialEq)]
pub struct Selected {
    /// The valued customer.
    pub candidate: Candidate,
    /// 1 = the highest expected value.
    pub rank: u32,
    /// Held out as the control group (not contacted).
    pub control: bool,
}

/// Ranks `candidates` by expected value (ties: lower id first), keeps the list's size and
/// draws its control group, as the module documentation says.
pub fn select(mut candidates: Vec<Candidate>, options: &TargetOptions) -> Result<Vec<Selected>> {
    options.check()?;
    candidates.sort_by(|a, b| {
        b.expected_value
            .total_cmp(&a.expected_value)
            .then(a.customer_id.cmp(&b.customer_id))
    });
    let control_of = |m: usize| (m as f64 * options.holdout).round() as usize;
    let worth = candidates.iter().filter(|c| c.expected_value > 0.0).count();
    let size = match (options.size, options.budget) {
        (Some(n), _) => n.min(candidates.len()),
        (None, Some(budget)) => {
            let contacts = (budget / options.cost_per_contact + 1e-9).floor() as usize;
            (0..=worth)
                .rev()
                .find(|&m| m - control_of(m) <= contacts)
                .unwrap_or(0)
        }
        (None, None) => worth,
    };
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(options.seed);
    let held: HashSet<usize> = rand::seq::index::sample(&mut rng, size, control_of(size))
        .into_iter()
        .collect();
    Ok(candidates
        .into_iter()
        .take(size)
        .enumerate()
        .map(|(i, candidate)| Selected {
            candidate,
            rank: i as u32 + 1,
            control: held.contains(&i),
        })
        .collect())
}

/// The group a list row is in.
pub fn group(s: &Selected) -> &'static str {
    if s.control { "control" } else { "treatment" }
}

/// The rows of `mart_campaign_target` for one list.
pub fn to_batch(
    options: &TargetOptions,
    as_of: NaiveDate,
    model: &str,
    list: &[Selected],
) -> Result<RecordBatch> {
    let n = list.len();
    TableBuilder::new()
        .utf8("campaign", &vec![options.campaign.as_str(); n])
        .date("as_of", as_of, n)
        .i64(
            "customer_id",
            list.iter().map(|s| s.candidate.customer_id).collect(),
        )
        .u32("rank", list.iter().map(|s| s.rank).collect())
        .utf8("group", &list.iter().map(group).collect::<Vec<_>>())
        .share(
            "p_response",
            list.iter().map(|s| s.candidate.p_response).collect(),
        )
        .money(
            "expected_revenue",
            list.iter().map(|s| s.candidate.expected_revenue).collect(),
        )
        .money(
            "expected_value",
            list.iter().map(|s| s.candidate.expected_value).collect(),
        )
        .utf8("model", &vec![model; n])
        .finish()
}

/// The mart after publishing `list`: the other campaigns' lists as the current version
/// holds them, and this one (replacing an earlier list of the same campaign).
pub async fn merged(engine: &Engine, campaign: &str, list: RecordBatch) -> Result<RecordBatch> {
    if !engine.tables().iter().any(|t| t.name == TABLE) {
        return Ok(list);
    }
    let (_, batches) = engine
        .query(&format!(
            "SELECT * FROM {TABLE} WHERE campaign <> '{}'",
            campaign.replace('\'', "''")
        ))
        .await?;
    let schema = list.schema();
    let mut all = acrm_olap::engine::as_stored(&batches, &schema)?;
    all.push(list);
    Ok(concat_batches(&schema, &all)?)
}

/// The lists `engine`'s version holds (a version being built holds none yet: then those of
/// the version published in `warehouse`), less the customers who have opted out of marketing
/// since, as `engine`'s customer master says: the nightly refresh of the mart. `None` when
/// no list was ever drawn (nothing to publish).
pub async fn recheck(engine: &Engine, warehouse: &Path) -> Result<Option<RecordBatch>> {
    // The mart as declared: the shape of the lists, also when there are none.
    let schema = acrm_schema::WarehouseSchema::builtin()
        .and_then(|w| Ok(w.table(TABLE)?.arrow_schema()))
        .map_err(|e| Error::Invalid(e.to_string()))?;
    let lists_sql = format!("SELECT * FROM {TABLE} ORDER BY campaign, rank");
    let has_lists = |e: &Engine| e.tables().iter().any(|t| t.name == TABLE);
    let batches = if has_lists(engine) {
        engine.query(&lists_sql).await?.1
    } else {
        // Nothing published yet: no list drawn.
        let published = acrm_store::Warehouse::new(warehouse).current();
        if published.map_err(acrm_olap::Error::from)?.is_none() {
            return Ok(None);
        }
        let published = Engine::open(warehouse, Default::default()).await?;
        if !has_lists(&published) {
            return Ok(None);
        }
        published.query(&lists_sql).await?.1
    };
    let lists = concat_batches(&schema, &acrm_olap::engine::as_stored(&batches, &schema)?)?;
    let (_, batches) = engine
        .query("SELECT customer_id FROM dim_customer WHERE is_current AND marketing_opt_out")
        .await?;
    let opted_out: HashSet<i64> = response::customer_ids(&Frame::from_batches(&batches)?)
        .unwrap_or_default()
        .into_iter()
        .collect();
    let ids = lists
        .column_by_name("customer_id")
        .and_then(|c| c.as_primitive_opt::<Int64Type>())
        .ok_or_else(|| Error::Invalid(format!("{TABLE} has no int64 customer_id")))?;
    let keep: BooleanArray = ids
        .iter()
        .map(|id| Some(!id.is_some_and(|id| opted_out.contains(&id))))
        .collect();
    let kept = filter_record_batch(&lists, &keep)?;
    tracing::info!(
        kept = kept.num_rows(),
        removed = lists.num_rows() - kept.num_rows(),
        "campaign target lists checked against marketing opt-outs"
    );
    Ok(Some(kept))
}

/// Name, phone and e-mail of the current version of each customer of `ids`, as the engine
/// shows them (masked unless it is privileged).
pub async fn contact_details(
    engine: &Engine,
    ids: &[i64],
) -> Result<HashMap<i64, [Option<String>; 3]>> {
    let wanted: HashSet<i64> = ids.iter().copied().collect();
    let (_, batches) = engine
        .query("SELECT customer_id, name, phone, email FROM dim_customer WHERE is_current")
        .await?;
    let frame = Frame::from_batches(&batches)?;
    let all = response::customer_ids(&frame)?;
    let text = |name: &str| frame.require(name, "contact");
    let (name, phone, email) = (text("name")?, text("phone")?, text("email")?);
    Ok((0..frame.rows)
        .filter(|&r| wanted.contains(&all[r]))
        .map(|r| (all[r], [name.text(r), phone.text(r), email.text(r)]))
        .collect())
}

/// The registry entry: `mart_campaign_target`, the lists `acrm campaign target` publishes.
/// A list is a decision taken once for a campaign, with its own audience and size, so the
/// nightly refresh does not draw it again: it removes the customers who have opted out since
/// ([`recheck`]).
pub const ANALYSIS: Analysis = Analysis {
    name: "campaign_target",
    tables: &[TABLE],
    command: "acrm campaign target --name NAME --segment KIND=VALUE",
    // Drawing a list needs the response model; the nightly recheck does not.
    needs_model: false,
    run: |cx| {
        boxed(async move {
            let lists = recheck(cx.engine, cx.models.warehouse()).await?;
            Ok(lists.map(|l| (TABLE.into(), l)).into_iter().collect())
        })
    },
    chart: Some(Chart {
        table: TABLE,
        figure: Figure::CountsBy {
            column: "campaign",
            title: "Customers on each campaign's target list",
        },
        sql: "SELECT campaign FROM mart_campaign_target",
    }),
    section: Some(Section {
        title: "Campaign target lists",
        text: Some(
            "Each list's contacted (treatment) and held-out (control) customers: ranked by expected value = P(response) × expected revenue − contact cost, opted-out and recently contacted customers left out.",
        ),
        table: (
            "Target lists",
            "SELECT campaign, as_of, \"group\", count(*) AS customers, avg(p_response) AS mean_p_response,
                    sum(expected_value) AS expected_value, min(model) AS model
             FROM mart_campaign_target GROUP BY campaign, as_of, \"group\" ORDER BY as_of, campaign, \"group\" DESC",
        ),
    }),
};

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> TargetOptions {
        TargetOptions {
            campaign: "TEST".into(),
            size: None,
            budget: None,
            cost_per_contact: 1.0,
            holdout: 0.1,
            exclude_contacted_within: None,
            value_per_response: None,
            seed: 7,
        }
    }

    /// Customers 1..=n, expected value n − id (so id order is rank order, the last ≤ 0).
    fn candidates(n: i64) -> Vec<Candidate> {
        (1..=n)
            .rev()
            .map(|id| Candidate {
                customer_id: id,
                p_response: 0.5,
                expected_revenue: 2.0 * (n - id + 1) as f64,
                expected_value: (n - id) as f64,
            })
            .collect()
    }

    #[test]
    fn a_size_keeps_the_best_and_holds_out_its_share() {
        let o = TargetOptions {
            size: Some(50),
            ..options()
        };
        let list = select(candidates(200), &o).expect("valid");
        assert_eq!(list.len(), 50);
        assert_eq!(list.iter().filter(|s| s.control).count(), 5);
        let ids: Vec<i64> = list.iter().map(|s| s.candidate.customer_id).collect();
        assert_eq!(
            ids,
            (1..=50).collect::<Vec<_>>(),
            "ranked by expected value"
        );
        assert_eq!(list[0].rank, 1);
    }

    #[test]
    fn a_budget_pays_the_contacts_only_and_never_a_loss() {
        let o = TargetOptions {
            budget: Some(45.0),
            ..options()
        };
        let list = select(candidates(200), &o).expect("valid");
        let contacted = list.iter().filter(|s| !s.control).count();
        assert_eq!(contacted, 45, "45 contacts at 1 each");
        assert_eq!(list.len(), 50, "and 5 held out on top");
        // A budget larger than the worthwhile customers stops at them.
        let rich = TargetOptions {
            budget: Some(1e6),
            ..options()
        };
        let list = select(candidates(200), &rich).expect("valid");
        assert!(list.iter().all(|s| s.candidate.expected_value > 0.0));
        assert_eq!(list.len(), 199);
    }

    #[test]
    fn the_control_group_is_reproducible_with_the_seed() {
        let o = TargetOptions {
            size: Some(100),
            holdout: 0.3,
            ..options()
        };
        let held = |o: &TargetOptions| -> Vec<i64> {
            select(candidates(300), o)
                .expect("valid")
                .into_iter()
                .filter(|s| s.control)
                .map(|s| s.candidate.customer_id)
                .collect()
        };
        assert_eq!(held(&o), held(&o));
        assert_eq!(held(&o).len(), 30);
        let other = TargetOptions {
            seed: 8,
            ..o.clone()
        };
        assert_ne!(held(&o), held(&other));
    }

    #[test]
    fn bad_numbers_are_refused() {
        for o in [
            TargetOptions {
                holdout: 1.0,
                ..options()
            },
            TargetOptions {
                budget: Some(10.0),
                cost_per_contact: 0.0,
                ..options()
            },
            TargetOptions {
                size: Some(0),
                ..options()
            },
        ] {
            assert!(select(candidates(10), &o).is_err(), "{o:?}");
        }
    }

    #[test]
    fn segments_intersect_and_quote_their_values() {
        let sql =
            segment_sql(&["rfm=champions,loyal".into(), "dormant=O'Baby".into()]).expect("valid");
        assert!(
            sql.contains("mart_rfm WHERE CAST(rfm_segment AS VARCHAR) IN ('champions', 'loyal')")
        );
        assert!(sql.contains("INTERSECT"));
        assert!(sql.contains("'O''Baby'"));
        let e = segment_sql(&["nosuch=1".into()])
            .expect_err("refused")
            .to_string();
        assert!(e.contains("rfm (mart_rfm.rfm_segment)"), "{e}");
    }
}
