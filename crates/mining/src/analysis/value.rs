//! Customer value tiers after Peppers & Rogers, a Pareto (ABC) class and a customer lifetime
//! value estimate, all as of a date D over a trailing window (default 365 days).
//!
//! Per customer who bought on or before D (attributes from the customer version valid on D):
//! - revenue and margin (revenue − cost) of the orders in the window;
//! - service cost = service contacts in the window × a cost per contact;
//! - **net value** = margin − service cost (the actual value of the customer);
//! - **wallet estimate** = the 80th percentile of window revenue among the customer's peers
//!   (same customer type and income quintile; customers without income form their own peer
//!   group per type): what a customer like this one spends when they give us most of it;
//! - **share of wallet** = revenue / wallet estimate, capped at 1;
//! - **P(alive)** and the **discounted expected revenue** of the coming horizon (default 365
//!   days, 1% a month), from BG/NBD + Gamma-Gamma ([`super::clv`]): each customer's own
//!   purchase rate, drop-out and spend, as in `mart_clv`;
//! - **growth potential** = (wallet estimate − revenue, not below 0) × the peers' margin rate
//!   × P(alive): the margin we are not getting from a customer still with us (their
//!   strategic, unrealised value);
//! - **lifetime value** (CLV) = expected revenue × margin rate − expected service cost: the
//!   margin rate is the customer's window margin / revenue, between −1 and 1 (their peers'
//!   when they bought nothing in the window), and the service cost of the window goes on while the customer
//!   is alive (yearly service cost × P(alive) × the horizon's discounted years).
//!
//! Tiers, first match wins:
//!
//! | tier            | rule                                                                |
//! |-----------------|---------------------------------------------------------------------|
//! | `below_zero`    | net value < 0: they cost more to serve than they bring (BZ)         |
//! | `most_valuable` | CLV in the top 20% of all customers (MVC)                           |
//! | `most_growable` | growth potential in the top 20% of the customers left (MGC)         |
//! | `second_tier`   | everybody else: maintain at low cost                                |
//!
//! Most valuable is Peppers & Rogers' actual value — the value of the customer's future
//! business, not of their past year: a big spender who has stopped buying is not among them.
//!
//! ABC class (Pareto): customers sorted by window revenue, highest first; `A` while the
//! revenue of the customers before them is below 80% of the total, `B` below 95%, `C` after.

use std::collections::{BTreeMap, HashMap};

use acrm_olap::Engine;
use chrono::NaiveDate;
use datafusion::arrow::array::RecordBatch;

use crate::analysis::clv::{Clv, discounted_years};
use crate::analysis::features::{days_before, query_features};
use acrm_olap::TableBuilder;

use super::registry::{Analysis, Chart, Figure, Section, boxed};
use crate::{Error, Result};

/// Tier names in rule order.
pub const TIERS: &[&str] = &[
    "below_zero",
    "most_valuable",
    "most_growable",
    "second_tier",
];

/// The knobs of the value model.
#[derive(Debug, Clone)]
pub struct ValueOptions {
    /// Trailing window of orders and contacts, in days.
    pub window_days: u32,
    /// What one service contact costs, in the warehouse currency.
    pub cost_per_contact: f64,
    /// Share of customers in the MVC tier, and of the rest in the MGC tier.
    pub top_share: f64,
    /// Peer percentile taken as the wallet estimate.
    pub wallet_quantile: f64,
}

impl Default for ValueOptions {
    /// 365 days, 50 per contact, top 20%, 80th percentile.
    fn default() -> Self {
        Self {
            window_days: 365,
            cost_per_contact: 50.0,
            top_share: 0.2,
            wallet_quantile: 0.8,
        }
    }
}

/// The SQL behind [`value_tiers`]: one row per customer who bought on or before `as_of`, with
/// window revenue, margin and contacts, and a numeric peer group.
pub fn value_inputs_sql(as_of: NaiveDate, window_days: u32) -> String {
    format!(
        "WITH window_sales AS (
    SELECT customer_id,
           CAST(sum(CASE WHEN order_date > DATE '{current}' THEN revenue ELSE 0 END) AS DOUBLE) AS revenue,
           CAST(sum(CASE WHEN order_date > DATE '{current}' THEN revenue - coalesce(cost, 0) ELSE 0 END) AS DOUBLE) AS margin
    FROM fact_sales
    WHERE order_date <= DATE '{as_of}' AND customer_id <> 0
    GROUP BY customer_id
), contacts AS (
    SELECT customer_id, count(*) AS contacts
    FROM fact_service
    WHERE contact_date <= DATE '{as_of}' AND contact_date > DATE '{current}'
    GROUP BY customer_id
), customer AS (
    {customer}
), peers AS (
    SELECT customer_id,
           CASE WHEN customer_type = 'enterprise' THEN 10 ELSE 0 END
             + CASE WHEN income IS NULL THEN 0
                    -- Ties broken by id: ntile over equal incomes is otherwise free to
                    -- place them in either quintile, and a run's tiers would differ from the next.
                    ELSE ntile(5) OVER (PARTITION BY customer_type, income IS NULL
                                        ORDER BY income, customer_id) END
             AS peer_group
    FROM customer
)
SELECT s.customer_id,
       s.revenue, s.margin,
       CAST(coalesce(c.contacts, 0) AS DOUBLE) AS contacts,
       CAST(coalesce(p.peer_group, 0) AS DOUBLE) AS peer_group
FROM window_sales s
LEFT JOIN contacts c ON c.customer_id = s.customer_id
LEFT JOIN peers p ON p.customer_id = s.customer_id
ORDER BY s.customer_id",
        customer = crate::analysis::features::customer_as_of_sql(as_of),
        current = days_before(as_of, window_days),
    )
}

/// Value tiers of every customer who bought on or before the day `lifetime` is fitted as of,
/// with their lifetime value from it.
pub async fn value_tiers(
    engine: &Engine,
    options: &ValueOptions,
    lifetime: &Clv,
) -> Result<ValueTiers> {
    let as_of = lifetime.as_of;
    let inputs = query_features(
        engine,
        &value_inputs_sql(as_of, options.window_days),
        "customer_id",
    )
    .await?;
    if inputs.is_empty() {
        return Err(Error::Invalid(
            "no customers with purchases as of that date".into(),
        ));
    }
    let col = |name: &str| inputs.column(name).map(|c| c.to_vec());
    let modelled: HashMap<i64, usize> = lifetime
        .customer_id
        .iter()
        .enumerate()
        .map(|(i, &id)| (id, i))
        .collect();
    // A customer with returns only has no purchase for the models: not alive, no future.
    let per_customer = |values: &[f64]| -> Vec<f64> {
        inputs
            .ids
            .iter()
            .map(|id| modelled.get(id).map_or(0.0, |&i| values[i]))
            .collect()
    };
    ValueTiers::compute(
        as_of,
        inputs.ids.clone(),
        ValueInputs {
            revenue: col("revenue")?,
            margin: col("margin")?,
            contacts: col("contacts")?,
            peer_group: col("peer_group")?.iter().map(|&g| g as i64).collect(),
            p_alive: per_customer(&lifetime.p_alive),
            lifetime_revenue: per_customer(&lifetime.clv),
            service_years: discounted_years(&lifetime.options)
                * (crate::analysis::clv::YEAR_DAYS / f64::from(options.window_days)),
        },
        options,
    )
}

/// Per-customer inputs of the value model, parallel to the customer ids.
#[derive(Debug, Clone)]
pub struct ValueInputs {
    /// Window revenue.
    pub revenue: Vec<f64>,
    /// Window margin (revenue − cost).
    pub margin: Vec<f64>,
    /// Window service contacts.
    pub contacts: Vec<f64>,
    /// Peer group code (customer type × income quintile).
    pub peer_group: Vec<i64>,
    /// P(alive) as of the day.
    pub p_alive: Vec<f64>,
    /// Discounted expected revenue of the lifetime horizon.
    pub lifetime_revenue: Vec<f64>,
    /// What the window's service cost of a customer alive throughout is worth over the
    /// horizon, in windows: the horizon's discounted years × windows in a year.
    pub service_years: f64,
}

/// The value model's result, one entry per customer.
#[derive(Debug, Clone)]
pub struct ValueTiers {
    /// The date it is computed as of.
    pub as_of: NaiveDate,
    /// Customer ids.
    pub customer_id: Vec<i64>,
    /// The inputs.
    pub inputs: ValueInputs,
    /// Contacts × cost per contact.
    pub service_cost: Vec<f64>,
    /// Margin − service cost.
    pub net_value: Vec<f64>,
    /// Peer wallet estimate.
    pub wallet: Vec<f64>,
    /// Revenue / wallet, at most 1.
    pub share_of_wallet: Vec<f64>,
    /// Margin not yet captured, from customers still alive.
    pub growth_potential: Vec<f64>,
    /// Tier (one of [`TIERS`]).
    pub tier: Vec<&'static str>,
    /// Pareto class A/B/C.
    pub abc: Vec<&'static str>,
    /// Lifetime value estimate.
    pub clv: Vec<f64>,
}

impl ValueTiers {
    /// Applies the value model (module documentation) to `inputs`.
    pub fn compute(
        as_of: NaiveDate,
        customer_id: Vec<i64>,
        inputs: ValueInputs,
        options: &ValueOptions,
    ) -> Result<Self> {
        let n = customer_id.len();
        let service_cost: Vec<f64> = inputs
            .contacts
            .iter()
            .map(|c| c * options.cost_per_contact)
            .collect();
        let net_value: Vec<f64> = (0..n).map(|i| inputs.margin[i] - service_cost[i]).collect();
        let peers = PeerStats::new(&inputs, options.wallet_quantile);
        let wallet: Vec<f64> = inputs.peer_group.iter().map(|g| peers.wallet(*g)).collect();
        let share_of_wallet: Vec<f64> = (0..n)
            .map(|i| {
                if wallet[i] > 0.0 {
                    (inputs.revenue[i] / wallet[i]).clamp(0.0, 1.0)
                } else {
                    1.0
                }
            })
            .collect();
        let growth_potential: Vec<f64> = (0..n)
            .map(|i| {
                (wallet[i] - inputs.revenue[i]).max(0.0)
                    * peers.margin_rate(inputs.peer_group[i])
                    * inputs.p_alive[i]
            })
            .collect();
        let clv: Vec<f64> = (0..n)
            .map(|i| {
                // Returns can net a window's revenue down to cents, and margin / revenue
                // to any size: a rate is between −1 and 1 (costs past twice the revenue
                // only come from such netting).
                let margin_rate = if inputs.revenue[i] > 0.0 {
                    (inputs.margin[i] / inputs.revenue[i]).clamp(-1.0, 1.0)
                } else {
                    peers.margin_rate(inputs.peer_group[i])
                };
                inputs.lifetime_revenue[i] * margin_rate
                    - service_cost[i] * inputs.service_years * inputs.p_alive[i]
            })
            .collect();
        let tier = assign_tiers(&net_value, &clv, &growth_potential, options.top_share);
        let abc = abc_classes(&inputs.revenue);
        Ok(Self {
            as_of,
            customer_id,
            inputs,
            service_cost,
            net_value,
            wallet,
            share_of_wallet,
            growth_potential,
            tier,
            abc,
            clv,
        })
    }

    /// The `mart_value_tier` table: one row per customer.
    pub fn to_batch(&self) -> Result<RecordBatch> {
        let n = self.customer_id.len();
        TableBuilder::new()
            .i64("customer_id", self.customer_id.clone())
            .date("as_of", self.as_of, n)
            .money("revenue", self.inputs.revenue.clone())
            .money("margin", self.inputs.margin.clone())
            .f64("service_contacts", self.inputs.contacts.clone())
            .money("service_cost", self.service_cost.clone())
            .money("net_value", self.net_value.clone())
            .money("wallet_estimate", self.wallet.clone())
            .share("share_of_wallet", self.share_of_wallet.clone())
            .money("growth_potential", self.growth_potential.clone())
            .utf8("value_tier", &self.tier)
            .utf8("abc_class", &self.abc)
            .share("p_alive", self.inputs.p_alive.clone())
            .money("expected_revenue", self.inputs.lifetime_revenue.clone())
            .money("clv", self.clv.clone())
            .finish()
    }

    /// Customers, their share, and their share of net value, revenue and potential per tier.
    pub fn summary(&self) -> Vec<TierSummary> {
        let n = self.customer_id.len() as f64;
        let positive = |v: &[f64]| v.iter().filter(|x| **x > 0.0).sum::<f64>();
        let (total_net, total_revenue, total_potential) = (
            positive(&self.net_value),
            positive(&self.inputs.revenue),
            positive(&self.growth_potential),
        );
        let share = |part: f64, total: f64| if total > 0.0 { part / total } else { 0.0 };
        TIERS
            .iter()
            .map(|&t| {
                let idx: Vec<usize> = (0..self.tier.len())
                    .filter(|&i| self.tier[i] == t)
                    .collect();
                let sum = |v: &[f64]| idx.iter().map(|&i| v[i]).sum::<f64>();
                TierSummary {
                    tier: t,
                    customers: idx.len(),
                    customer_share: idx.len() as f64 / n,
                    net_value: sum(&self.net_value),
                    net_value_share: share(sum(&self.net_value), total_net),
                    revenue_share: share(sum(&self.inputs.revenue), total_revenue),
                    potential_share: share(sum(&self.growth_potential), total_potential),
                    mean_clv: if idx.is_empty() {
                        0.0
                    } else {
                        sum(&self.clv) / idx.len() as f64
                    },
                }
            })
            .collect()
    }
}

/// One line of [`ValueTiers::summary`].
#[derive(Debug, Clone, serde::Serialize)]
pub struct TierSummary {
    /// Tier name.
    pub tier: &'static str,
    /// Customers in it.
    pub customers: usize,
    /// Their share of all customers.
    pub customer_share: f64,
    /// Their summed net value.
    pub net_value: f64,
    /// Their share of the positive net value.
    pub net_value_share: f64,
    /// Their share of window revenue.
    pub revenue_share: f64,
    /// Their share of the growth potential.
    pub potential_share: f64,
    /// Mean lifetime value.
    pub mean_clv: f64,
}

/// Wallet estimate and margin rate per peer group.
struct PeerStats {
    wallet: BTreeMap<i64, f64>,
    margin_rate: BTreeMap<i64, f64>,
}

impl PeerStats {
    fn new(inputs: &ValueInputs, quantile: f64) -> Self {
        let mut revenues: BTreeMap<i64, Vec<f64>> = BTreeMap::new();
        let mut sums: BTreeMap<i64, (f64, f64)> = BTreeMap::new();
        for (i, &g) in inputs.peer_group.iter().enumerate() {
            revenues.entry(g).or_default().push(inputs.revenue[i]);
            let s = sums.entry(g).or_default();
            s.0 += inputs.revenue[i];
            s.1 += inputs.margin[i];
        }
        let wallet = revenues
            .into_iter()
            .map(|(g, mut v)| {
                v.sort_by(f64::total_cmp);
                (g, quantile_of_sorted(&v, quantile))
            })
            .collect();
        let margin_rate = sums
            .into_iter()
            .map(|(g, (r, m))| (g, if r > 0.0 { (m / r).max(0.0) } else { 0.0 }))
            .collect();
        Self {
            wallet,
            margin_rate,
        }
    }

    fn wallet(&self, group: i64) -> f64 {
        self.wallet.get(&group).copied().unwrap_or(0.0)
    }

    fn margin_rate(&self, group: i64) -> f64 {
        self.margin_rate.get(&group).copied().unwrap_or(0.0)
    }
}

/// The `q` quantile of sorted values, interpolating linearly between neighbours.
pub(crate) fn quantile_of_sorted(sorted: &[f64], q: f64) -> f64 {
    match sorted.len() {
        0 => 0.0,
        1 => sorted[0],
        n => {
            let pos = q.clamp(0.0, 1.0) * (n - 1) as f64;
            let lo = pos.floor() as usize;
            let hi = (lo + 1).min(n - 1);
            sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo as f64)
        }
    }
}

/// Tiers by the rule table: BZ by net value, then the top `top` share of all customers by
/// lifetime value, then the top `top` share of the rest by growth potential (positive values
/// only), then second tier.
fn assign_tiers(net_value: &[f64], clv: &[f64], potential: &[f64], top: f64) -> Vec<&'static str> {
    let n = net_value.len();
    let mut tier = vec!["second_tier"; n];
    for i in 0..n {
        if net_value[i] < 0.0 {
            tier[i] = "below_zero";
        }
    }
    let quota = |count: usize| (top * count as f64).round() as usize;
    let mut by_value: Vec<usize> = (0..n)
        .filter(|&i| tier[i] != "below_zero" && clv[i] > 0.0)
        .collect();
    by_value.sort_by(|&a, &b| clv[b].total_cmp(&clv[a]).then(a.cmp(&b)));
    for &i in by_value.iter().take(quota(n)) {
        tier[i] = "most_valuable";
    }
    let rest: Vec<usize> = (0..n).filter(|&i| tier[i] == "second_tier").collect();
    let mut by_potential: Vec<usize> = rest
        .iter()
        .copied()
        .filter(|&i| potential[i] > 0.0)
        .collect();
    by_potential.sort_by(|&a, &b| potential[b].total_cmp(&potential[a]).then(a.cmp(&b)));
    for &i in by_potential.iter().take(quota(rest.len())) {
        tier[i] = "most_growable";
    }
    tier
}

/// Pareto classes by revenue: A up to 80% of the total, B up to 95%, C after.
fn abc_classes(revenue: &[f64]) -> Vec<&'static str> {
    let total: f64 = revenue.iter().filter(|r| **r > 0.0).sum();
    let mut order: Vec<usize> = (0..revenue.len()).collect();
    order.sort_by(|&a, &b| revenue[b].total_cmp(&revenue[a]).then(a.cmp(&b)));
    let mut class = vec!["C"; revenue.len()];
    let mut before = 0.0;
    for i in order {
        if revenue[i] <= 0.0 || total <= 0.0 {
            break;
        }
        class[i] = if before < 0.8 * total {
            "A"
        } else if before < 0.95 * total {
            "B"
        } else {
            "C"
        };
        before += revenue[i];
    }
    class
}

/// The registry entry: `mart_value_tier` with the default window and costs, and the
/// refresh's lifetime value.
pub const ANALYSIS: Analysis = Analysis {
    name: "value",
    tables: &["mart_value_tier"],
    command: "acrm mine value",
    needs_model: false,
    run: |cx| {
        boxed(async move {
            let engine = cx.engine;
            let lifetime = cx.lifetime().await?;
            let v = value_tiers(engine, &ValueOptions::default(), lifetime).await?;
            Ok(vec![("mart_value_tier".into(), v.to_batch()?)])
        })
    },
    chart: Some(Chart {
        table: "mart_value_tier",
        figure: Figure::Pareto,
        sql: "SELECT revenue FROM mart_value_tier",
    }),
    section: Some(Section {
        title: "Value tiers",
        text: None,
        table: (
            "Tiers",
            "SELECT value_tier, count(*) AS customers, round(sum(net_value), 2) AS net_value,
                    round(sum(revenue) / (SELECT sum(revenue) FROM mart_value_tier), 3) AS revenue_share,
                    round(avg(clv), 2) AS mean_clv
             FROM mart_value_tier GROUP BY value_tier ORDER BY net_value DESC",
        ),
    }),
};

#[cfg(test)]
mod tests {
    use super::*;

    /// Customers alive for sure, who will buy in the horizon what they bought in the window.
    fn inputs(revenue: Vec<f64>, margin: Vec<f64>, contacts: Vec<f64>) -> ValueInputs {
        let n = revenue.len();
        ValueInputs {
            lifetime_revenue: revenue.clone(),
            revenue,
            margin,
            contacts,
            peer_group: vec![1; n],
            p_alive: vec![1.0; n],
            service_years: 1.0,
        }
    }

    #[test]
    fn tiers_follow_the_rule_table() {
        // Ten customers: one costs more than it earns; the second biggest spender has most
        // likely stopped buying, so the two of highest lifetime value (top 20%) are the
        // biggest and the fifth; of the rest the one with the largest wallet gap is MGC.
        let revenue = vec![
            1000.0, 900.0, 100.0, 120.0, 500.0, 480.0, 460.0, 440.0, 420.0, 50.0,
        ];
        let margin: Vec<f64> = revenue.iter().map(|r| r * 0.3).collect();
        let mut contacts = vec![0.0; 10];
        contacts[9] = 2.0; // 2 × 50 > 15 margin
        let mut i = inputs(revenue, margin, contacts);
        i.p_alive[1] = 0.05;
        i.lifetime_revenue[1] = 45.0;
        i.p_alive[3] = 0.5;
        i.service_years = 0.9;
        let v = ValueTiers::compute(
            NaiveDate::default(),
            (1..=10).collect(),
            i,
            &ValueOptions::default(),
        )
        .expect("tiers");
        assert_eq!(v.tier[9], "below_zero");
        assert_eq!(v.tier[0], "most_valuable");
        assert_eq!(v.tier[4], "most_valuable");
        assert_eq!(v.tier[1], "second_tier", "a big spender gone quiet");
        // Of the seven left, 20% (one) is MGC: the lowest spender, farthest below the
        // wallet; the next lowest is half as likely alive, and half as growable.
        assert_eq!(v.tier[2], "most_growable");
        assert_eq!(v.tier.iter().filter(|t| **t == "second_tier").count(), 6);
        // Wallet: the 80th percentile of the ten revenues (500 + 0.2 × 400).
        assert!((v.wallet[2] - 580.0).abs() < 1e-9);
        assert!((v.growth_potential[2] - 480.0 * 0.3).abs() < 1e-9);
        assert!((v.growth_potential[3] - 460.0 * 0.3 * 0.5).abs() < 1e-9);
        // CLV = expected revenue × margin rate − service cost × service years × P(alive).
        assert!((v.clv[0] - 300.0).abs() < 1e-9, "{}", v.clv[0]);
        assert!((v.clv[1] - 13.5).abs() < 1e-9, "{}", v.clv[1]);
        assert!(
            (v.clv[9] - (15.0 - 100.0 * 0.9)).abs() < 1e-9,
            "{}",
            v.clv[9]
        );
        assert!(v.share_of_wallet.iter().all(|s| (0.0..=1.0).contains(s)));
    }

    #[test]
    fn a_customer_without_window_revenue_earns_the_peers_margin_rate() {
        let mut i = inputs(
            vec![100.0, 200.0, 0.0],
            vec![20.0, 40.0, 0.0],
            vec![0.0, 0.0, 1.0],
        );
        i.lifetime_revenue[2] = 80.0;
        i.p_alive[2] = 0.4;
        let v = ValueTiers::compute(
            NaiveDate::default(),
            vec![1, 2, 3],
            i,
            &ValueOptions::default(),
        )
        .expect("tiers");
        // 80 × (60 / 300) − 50 × 1 × 0.4.
        assert!((v.clv[2] - (16.0 - 20.0)).abs() < 1e-9, "{}", v.clv[2]);
        assert_eq!(v.tier[2], "below_zero");
    }

    #[test]
    fn a_margin_rate_netted_by_returns_is_held_between_minus_one_and_one() {
        // Returns left 0.01 of revenue against 50 of cost: the rate counts as −1, not −5000.
        let mut i = inputs(vec![0.01, 100.0], vec![-50.0, 30.0], vec![0.0, 0.0]);
        i.lifetime_revenue = vec![200.0, 100.0];
        let v = ValueTiers::compute(
            NaiveDate::default(),
            vec![1, 2],
            i,
            &ValueOptions::default(),
        )
        .expect("tiers");
        assert!((v.clv[0] + 200.0).abs() < 1e-9, "{}", v.clv[0]);
        assert!((v.clv[1] - 30.0).abs() < 1e-9, "{}", v.clv[1]);
    }

    #[test]
    fn abc_classes_cut_the_revenue_at_80_and_95_percent() {
        let revenue = vec![50.0, 30.0, 10.0, 5.0, 3.0, 2.0, 0.0];
        assert_eq!(
            abc_classes(&revenue),
            vec!["A", "A", "B", "B", "C", "C", "C"]
        );
    }

    #[test]
    fn quantiles_interpolate() {
        assert_eq!(quantile_of_sorted(&[1.0, 2.0, 3.0, 4.0, 5.0], 0.8), 4.2);
        assert_eq!(quantile_of_sorted(&[7.0], 0.8), 7.0);
        assert_eq!(quantile_of_sorted(&[], 0.8), 0.0);
    }
}
