//! Cross-sell recommendations from association rules: for each customer, the items they have
//! not bought yet that rules fire on from what they have bought, best first.
//!
//! A rule A → {c} fires for a customer whose history holds every item of A but not c. Each
//! candidate item keeps its best firing rule (highest confidence, then lift, then support);
//! the customer's top N candidates by that order are recommended, with the rule as the
//! reason. Rules with several consequent items are not used (their items are recommended by
//! their single-item rules). Rules are indexed by their first antecedent item, so a customer
//! is only checked against rules that can fire.

use std::collections::HashMap;

use datafusion::arrow::array::RecordBatch;
use rayon::prelude::*;

use acrm_olap::TableBuilder;

use super::mine::{BasketOptions, names};
use super::source::customer_histories;
use crate::Result;
use crate::algo::rules::Rule;
use crate::algo::transactions::Transactions;
use crate::analysis::registry::{Analysis, boxed};

/// One recommendation.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Recommendation {
    /// Customer id.
    pub customer_id: i64,
    /// 1 = best.
    pub rank: u32,
    /// The recommended item.
    pub item: String,
    /// Confidence of the reason rule: the share of baskets with its antecedent that also
    /// held the item.
    pub confidence: f64,
    /// Lift of the reason rule.
    pub lift: f64,
    /// The reason rule, "{A, B} → {item}".
    pub reason: String,
}

/// The top `top_n` recommendations of each customer in `histories` (customer id → item
/// names bought), from `rules` mined on `tx`'s item dictionary. Customers in the order
/// given; customers with nothing to recommend get no row.
pub fn recommend(
    rules: &[Rule],
    tx: &Transactions,
    histories: &[(i64, Vec<String>)],
    top_n: usize,
) -> Vec<Recommendation> {
    let ids: HashMap<&str, u32> = tx
        .items
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i as u32))
        .collect();
    let mut by_first: HashMap<u32, Vec<&Rule>> = HashMap::new();
    for r in rules.iter().filter(|r| r.consequent.len() == 1) {
        if let Some(&first) = r.antecedent.first() {
            by_first.entry(first).or_default().push(r);
        }
    }
    histories
        .par_iter()
        .flat_map_iter(|(customer, bought)| {
            let mut history: Vec<u32> = bought
                .iter()
                .filter_map(|n| ids.get(n.as_str()).copied())
                .collect();
            history.sort_unstable();
            history.dedup();
            let has = |i: &u32| history.binary_search(i).is_ok();
            let mut best: HashMap<u32, &Rule> = HashMap::new();
            for first in &history {
                for &r in by_first.get(first).map(Vec::as_slice).unwrap_or(&[]) {
                    let item = r.consequent[0];
                    if has(&item) || !r.antecedent.iter().all(has) {
                        continue;
                    }
                    let better = best.get(&item).is_none_or(|b| rank_key(r) > rank_key(b));
                    if better {
                        best.insert(item, r);
                    }
                }
            }
            let mut found: Vec<(u32, &Rule)> = best.into_iter().collect();
            found.sort_by(|a, b| {
                rank_key(b.1)
                    .partial_cmp(&rank_key(a.1))
                    .unwrap_or(std::cmp::Ordering::Equal)
                    .then(a.0.cmp(&b.0))
            });
            found
                .into_iter()
                .take(top_n)
                .enumerate()
                .map(|(k, (item, r))| Recommendation {
                    customer_id: *customer,
                    rank: k as u32 + 1,
                    item: tx.items[item as usize].clone(),
                    confidence: r.confidence,
                    lift: r.lift,
                    reason: format!(
                        "{{{}}} → {{{}}}",
                        names(tx, &r.antecedent),
                        names(tx, &r.consequent)
                    ),
                })
                .collect::<Vec<_>>()
        })
        .collect()
}

/// Order of reasons: confidence, then lift, then support.
fn rank_key(r: &Rule) -> (f64, f64, f64) {
    (r.confidence, r.lift, r.support)
}

/// The `mart_cross_sell` table.
pub fn recommendations_batch(recs: &[Recommendation]) -> Result<RecordBatch> {
    TableBuilder::new()
        .i64("customer_id", recs.iter().map(|r| r.customer_id).collect())
        .u32("rank", recs.iter().map(|r| r.rank).collect())
        .utf8(
            "item",
            &recs.iter().map(|r| r.item.as_str()).collect::<Vec<_>>(),
        )
        .share("confidence", recs.iter().map(|r| r.confidence).collect())
        .f64("lift", recs.iter().map(|r| r.lift).collect())
        .utf8(
            "reason",
            &recs.iter().map(|r| r.reason.as_str()).collect::<Vec<_>>(),
        )
        .finish()
}

/// The registry entry: `mart_cross_sell` from the nightly rules and each customer's
/// history, the default number of recommendations per customer.
pub const ANALYSIS: Analysis = Analysis {
    name: "cross_sell",
    tables: &["mart_cross_sell"],
    command: "acrm mine basket recommend",
    needs_model: false,
    run: |cx| {
        boxed(async move {
            let histories = customer_histories(cx.engine, &cx.baskets()).await?;
            let all = cx.rules().await?;
            let recs = recommend(
                &all.rules,
                &all.tx,
                &histories,
                BasketOptions::DEFAULT.top_n,
            );
            Ok(vec![(
                "mart_cross_sell".into(),
                recommendations_batch(&recs)?,
            )])
        })
    },
    chart: None,
    section: None,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::algo::ParamGuard;
    use crate::algo::fpgrowth::{FpGrowthParams, frequent_itemsets};
    use crate::algo::rules::{RuleParams, association_rules};

    #[test]
    fn recommends_what_fires_and_is_not_bought_yet() {
        // Diapers come with beer 3 times in 4; milk with bread twice in 3.
        let tx = Transactions::from_baskets([
            vec!["diapers", "beer"],
            vec!["diapers", "beer"],
            vec!["diapers", "beer", "milk"],
            vec!["diapers"],
            vec!["milk", "bread"],
            vec!["milk", "bread"],
        ]);
        let sets = frequent_itemsets(
            &tx,
            &FpGrowthParams::new(2)
                .max_len(3)
                .max_itemsets(1000)
                .check()
                .expect("valid"),
        )
        .expect("itemsets");
        let rules = association_rules(
            &sets,
            tx.len() as u64,
            &RuleParams::new()
                .min_confidence(0.5)
                .check()
                .expect("valid"),
        );
        let histories = vec![
            (1, vec!["diapers".to_string()]),
            (2, vec!["diapers".into(), "beer".into()]),
            (3, vec!["milk".into(), "diapers".into()]),
            (4, vec!["unknown".into()]),
        ];
        let recs = recommend(&rules, &tx, &histories, 2);
        let of = |c: i64| -> Vec<(&str, &str)> {
            recs.iter()
                .filter(|r| r.customer_id == c)
                .map(|r| (r.item.as_str(), r.reason.as_str()))
                .collect()
        };
        assert_eq!(of(1), vec![("beer", "{diapers} → {beer}")]);
        assert!(
            of(2).is_empty(),
            "bought everything the rules know: {:?}",
            of(2)
        );
        // Customer 3: beer (confidence 0.75) before bread (milk → bread, 2 of 3).
        assert_eq!(
            of(3),
            vec![
                ("beer", "{diapers} → {beer}"),
                ("bread", "{milk} → {bread}")
            ]
        );
        assert!(of(4).is_empty());
        assert!((recs[0].confidence - 0.75).abs() < 1e-12);
    }
}
