//! Mining groups of baskets: the thresholds of a run ([`BasketOptions`], shared by
//! `acrm mine basket` and the nightly refresh), frequent itemsets and rules per group, and
//! the `mart_basket_rules` table.

use acrm_olap::TableBuilder;
use datafusion::arrow::array::RecordBatch;

use crate::algo::ParamGuard;
use crate::algo::fpgrowth::{FpGrowthParams, Itemset, frequent_itemsets};
use crate::algo::rules::{Rule, RuleParams, RuleValidParams, association_rules};
use crate::algo::transactions::Transactions;
use crate::{Error, Result};

/// The thresholds of a market-basket run, with the defaults `acrm mine basket` and the nightly
/// refresh share (one place, so they cannot disagree).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BasketOptions {
    /// Minimum support: a fraction of the baskets (0.01) or a basket count (25).
    pub min_support: f64,
    /// Minimum confidence of a rule.
    pub min_confidence: f64,
    /// Minimum lift of a rule.
    pub min_lift: f64,
    /// Longest itemset.
    pub max_len: usize,
    /// Stop past this many frequent itemsets (thresholds too low).
    pub max_itemsets: usize,
    /// Cross-sell recommendations per customer.
    pub top_n: usize,
}

impl BasketOptions {
    /// The defaults.
    pub const DEFAULT: Self = Self {
        min_support: 0.01,
        min_confidence: 0.1,
        min_lift: 1.0,
        max_len: 4,
        max_itemsets: 2_000_000,
        top_n: 3,
    };

    /// Frequent itemsets and rules of each group of baskets under these thresholds; an error
    /// when there is no basket at all.
    pub fn mine(&self, groups: Vec<(String, Transactions)>) -> Result<Vec<GroupResult>> {
        let limits = FpGrowthParams::new(1)
            .max_len(self.max_len)
            .max_itemsets(self.max_itemsets);
        let filter = RuleParams::new()
            .min_confidence(self.min_confidence)
            .min_lift(self.min_lift)
            .check()?;
        let results = mine_groups(groups, self.min_support, &limits, &filter)?;
        if results.is_empty() {
            return Err(Error::Invalid("no baskets to analyse".into()));
        }
        Ok(results)
    }
}

impl Default for BasketOptions {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// The smallest basket count meeting `support`: a fraction of the `baskets` when below 1
/// (count / baskets ≥ support, as mlxtend compares), else an absolute count.
pub fn min_count(support: f64, baskets: usize) -> Result<u64> {
    if support.is_nan() || support <= 0.0 || support.is_infinite() {
        return Err(Error::Invalid(format!(
            "minimum support {support}: give a fraction (0.01) or a basket count (25)"
        )));
    }
    if support >= 1.0 {
        return Ok(support.ceil() as u64);
    }
    let n = baskets as f64;
    let mut c = (support * n).ceil().max(1.0) as u64;
    // Guard against the product rounding up past an exact boundary.
    while c > 1 && (c - 1) as f64 / n >= support {
        c -= 1;
    }
    Ok(c)
}

/// Item names of `ids`, joined by ", ".
pub fn names(tx: &Transactions, ids: &[u32]) -> String {
    let mut v: Vec<&str> = ids.iter().map(|&i| tx.items[i as usize].as_str()).collect();
    v.sort_unstable();
    v.join(", ")
}

/// What mining one group of baskets found.
pub struct GroupResult {
    /// Group name ("all" when not grouped).
    pub group: String,
    /// Its baskets.
    pub tx: Transactions,
    /// The minimum basket count the support came to.
    pub min_count: u64,
    /// Frequent itemsets.
    pub itemsets: Vec<Itemset>,
    /// Rules passing the filter.
    pub rules: Vec<Rule>,
    /// Mining time in seconds.
    pub seconds: f64,
}

/// Frequent itemsets and rules of each group, the support taken relative to the group's
/// own baskets; empty groups are left out.
pub fn mine_groups(
    groups: Vec<(String, Transactions)>,
    min_support: f64,
    limits: &FpGrowthParams,
    filter: &RuleValidParams,
) -> Result<Vec<GroupResult>> {
    let mut out = Vec::new();
    for (group, tx) in groups {
        if tx.is_empty() {
            continue;
        }
        let started = std::time::Instant::now();
        let limits = limits
            .clone()
            .min_count(min_count(min_support, tx.len())?)
            .check()?;
        let itemsets = frequent_itemsets(&tx, &limits)?;
        let rules = association_rules(&itemsets, tx.len() as u64, filter);
        out.push(GroupResult {
            group,
            tx,
            min_count: limits.min_count(),
            itemsets,
            rules,
            seconds: started.elapsed().as_secs_f64(),
        });
    }
    Ok(out)
}

impl GroupResult {
    /// Its rules as `mart_basket_rules` rows.
    pub fn rules_batch(&self) -> Result<RecordBatch> {
        rules_batch(&self.rules, &self.tx, &self.group)
    }

    /// Its frequent itemsets: items, size, count, support, group.
    pub fn itemsets_batch(&self) -> Result<RecordBatch> {
        let (sets, n) = (&self.itemsets, self.tx.len() as f64);
        TableBuilder::new()
            .utf8(
                "items",
                &sets
                    .iter()
                    .map(|s| names(&self.tx, &s.items))
                    .collect::<Vec<_>>(),
            )
            .i64("size", sets.iter().map(|s| s.items.len() as i64).collect())
            .i64("count", sets.iter().map(|s| s.count as i64).collect())
            .share("support", sets.iter().map(|s| s.count as f64 / n).collect())
            .utf8("group", &vec![self.group.as_str(); sets.len()])
            .finish()
    }
}

/// The `mart_basket_rules` table: one row per rule, items by name, and the group mined.
pub fn rules_batch(rules: &[Rule], tx: &Transactions, group: &str) -> Result<RecordBatch> {
    let text =
        |f: fn(&Rule) -> &[u32]| -> Vec<String> { rules.iter().map(|r| names(tx, f(r))).collect() };
    let num = |f: fn(&Rule) -> f64| -> Vec<f64> { rules.iter().map(f).collect() };
    let int = |f: fn(&Rule) -> u64| -> Vec<i64> { rules.iter().map(|r| f(r) as i64).collect() };
    TableBuilder::new()
        .utf8("antecedent", &text(|r| &r.antecedent))
        .utf8("consequent", &text(|r| &r.consequent))
        .i64(
            "antecedent_items",
            rules.iter().map(|r| r.antecedent.len() as i64).collect(),
        )
        .i64("baskets", vec![tx.len() as i64; rules.len()])
        .i64("count", int(|r| r.count))
        .i64("antecedent_count", int(|r| r.antecedent_count))
        .i64("consequent_count", int(|r| r.consequent_count))
        .share("support", num(|r| r.support))
        .share("antecedent_support", num(|r| r.antecedent_support))
        .share("consequent_support", num(|r| r.consequent_support))
        .share("confidence", num(|r| r.confidence))
        .f64("lift", num(|r| r.lift))
        .f64("leverage", num(|r| r.leverage))
        .f64("conviction", num(|r| r.conviction))
        .utf8("group", &vec![group; rules.len()])
        .finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn support_as_fraction_or_count() {
        assert_eq!(min_count(0.01, 1000).expect("fraction"), 10);
        assert_eq!(min_count(0.0105, 1000).expect("fraction"), 11);
        assert_eq!(min_count(0.001, 10).expect("tiny"), 1);
        assert_eq!(min_count(25.0, 1000).expect("count"), 25);
        assert!(min_count(0.0, 10).is_err() && min_count(f64::NAN, 10).is_err());
    }
}
