//! Association rules from frequent itemsets, with the usual interest measures (the
//! definitions of mlxtend's `association_rules`, so the two can be compared):
//!
//! for a rule A → C over N baskets, with s(X) = count(X) / N,
//! - support = s(A ∪ C), confidence = s(A ∪ C) / s(A), lift = confidence / s(C),
//! - leverage = s(A ∪ C) − s(A) · s(C),
//! - conviction = (1 − s(C)) / (1 − confidence), infinite when confidence is 1.
//!
//! Every split of every frequent itemset of two or more items into a non-empty antecedent
//! and consequent is a candidate; both parts are frequent (every subset of a frequent
//! itemset is), so their counts are known.

use std::collections::HashMap;

use super::fpgrowth::Itemset;
use super::{Error, ParamGuard, Result, finite_non_negative};

/// One association rule A → C.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Rule {
    /// Antecedent item ids, ascending.
    pub antecedent: Vec<u32>,
    /// Consequent item ids, ascending.
    pub consequent: Vec<u32>,
    /// Baskets holding A and C.
    pub count: u64,
    /// Baskets holding A.
    pub antecedent_count: u64,
    /// Baskets holding C.
    pub consequent_count: u64,
    /// s(A ∪ C).
    pub support: f64,
    /// s(A).
    pub antecedent_support: f64,
    /// s(C).
    pub consequent_support: f64,
    /// s(A ∪ C) / s(A).
    pub confidence: f64,
    /// confidence / s(C).
    pub lift: f64,
    /// s(A ∪ C) − s(A) s(C).
    pub leverage: f64,
    /// (1 − s(C)) / (1 − confidence).
    pub conviction: f64,
}

/// Checked rule thresholds (see [`RuleParams`]).
#[derive(Debug, Clone, PartialEq)]
pub struct RuleValidParams {
    min_confidence: f64,
    min_lift: f64,
}

/// Which rules to keep, unchecked: `RuleParams::new().min_confidence(0.1).min_lift(1.0)`,
/// then [`ParamGuard::check`]. The defaults keep every rule.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleParams(RuleValidParams);

impl Default for RuleParams {
    fn default() -> Self {
        Self(RuleValidParams {
            min_confidence: 0.0,
            min_lift: 0.0,
        })
    }
}

impl RuleParams {
    /// Every rule.
    pub fn new() -> Self {
        Self::default()
    }
}

params! {
    RuleParams => RuleValidParams, validate: validate_rules,
    /// Minimum confidence.
    min_confidence: f64,
    /// Minimum lift.
    min_lift: f64,
}

/// Refuses thresholds outside their range, each with its own error.
fn validate_rules(p: &RuleValidParams) -> Result<()> {
    if !(0.0..=1.0).contains(&p.min_confidence) {
        Err(Error::MinConfidence(p.min_confidence))
    } else if !finite_non_negative(p.min_lift) {
        Err(Error::MinLift(p.min_lift))
    } else {
        Ok(())
    }
}

/// The rules of `itemsets` (mined from `baskets` baskets) passing `filter`, sorted by lift,
/// then confidence, then support (all descending), then items.
pub fn association_rules(
    itemsets: &[Itemset],
    baskets: u64,
    filter: &RuleValidParams,
) -> Vec<Rule> {
    let counts: HashMap<&[u32], u64> = itemsets
        .iter()
        .map(|s| (s.items.as_slice(), s.count))
        .collect();
    let n = baskets.max(1) as f64;
    let mut rules = Vec::new();
    for set in itemsets
        .iter()
        .filter(|s| s.items.len() >= 2 && s.items.len() < 32)
    {
        let len = set.items.len();
        for mask in 1u32..(1u32 << len) - 1 {
            let (mut a, mut c) = (Vec::new(), Vec::new());
            for (bit, &item) in set.items.iter().enumerate() {
                if mask & (1 << bit) != 0 {
                    a.push(item);
                } else {
                    c.push(item);
                }
            }
            let (Some(&ca), Some(&cc)) = (counts.get(a.as_slice()), counts.get(c.as_slice()))
            else {
                continue;
            };
            let support = set.count as f64 / n;
            let (sa, sc) = (ca as f64 / n, cc as f64 / n);
            let confidence = set.count as f64 / ca as f64;
            let lift = confidence / sc;
            if confidence < filter.min_confidence || lift < filter.min_lift {
                continue;
            }
            rules.push(Rule {
                antecedent: a,
                consequent: c,
                count: set.count,
                antecedent_count: ca,
                consequent_count: cc,
                support,
                antecedent_support: sa,
                consequent_support: sc,
                confidence,
                lift,
                leverage: support - sa * sc,
                conviction: if confidence >= 1.0 {
                    f64::INFINITY
                } else {
                    (1.0 - sc) / (1.0 - confidence)
                },
            });
        }
    }
    rules.sort_by(|x, y| {
        y.lift
            .total_cmp(&x.lift)
            .then(y.confidence.total_cmp(&x.confidence))
            .then(y.support.total_cmp(&x.support))
            .then(x.antecedent.cmp(&y.antecedent))
            .then(x.consequent.cmp(&y.consequent))
    });
    rules
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_by_hand() {
        // 10 baskets: A in 4, C in 5, both in 3.
        let sets = vec![
            Itemset {
                items: vec![0],
                count: 4,
            },
            Itemset {
                items: vec![1],
                count: 5,
            },
            Itemset {
                items: vec![0, 1],
                count: 3,
            },
        ];
        let all = RuleParams::new().check().expect("valid");
        let rules = association_rules(&sets, 10, &all);
        assert_eq!(rules.len(), 2);
        let ac = rules.iter().find(|r| r.antecedent == [0]).expect("A → C");
        assert_eq!(
            (ac.count, ac.antecedent_count, ac.consequent_count),
            (3, 4, 5)
        );
        assert!((ac.support - 0.3).abs() < 1e-12);
        assert!((ac.confidence - 0.75).abs() < 1e-12);
        assert!((ac.lift - 1.5).abs() < 1e-12);
        assert!((ac.leverage - (0.3 - 0.4 * 0.5)).abs() < 1e-12);
        assert!((ac.conviction - 0.5 / 0.25).abs() < 1e-12);
        let strict = RuleParams::new()
            .min_confidence(0.7)
            .min_lift(1.0)
            .check()
            .expect("valid");
        assert_eq!(
            association_rules(&sets, 10, &strict).len(),
            1,
            "C → A has confidence 0.6"
        );
    }

    #[test]
    fn each_bad_parameter_has_its_own_error() {
        for c in [-0.1, 1.5, f64::NAN] {
            assert!(matches!(
                RuleParams::new().min_confidence(c).check(),
                Err(Error::MinConfidence(_))
            ));
        }
        assert_eq!(
            RuleParams::new().min_lift(-1.0).check(),
            Err(Error::MinLift(-1.0))
        );
        assert!(RuleParams::new().min_confidence(1.0).check().is_ok());
    }
}
