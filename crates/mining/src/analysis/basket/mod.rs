//! Market-basket analysis: baskets as dictionary-encoded transactions ([`source`]),
//! frequent itemsets by FP-Growth and association rules with their metrics ([`mine`]), and
//! cross-sell recommendations ([`recommend`]), as marts to publish.

pub mod mine;
pub mod recommend;
pub mod source;

pub use crate::algo::fpgrowth::{FpGrowthParams, FpGrowthValidParams, Itemset, frequent_itemsets};
pub use crate::algo::rules::{Rule, RuleParams, RuleValidParams, association_rules};
pub use crate::algo::transactions::Transactions;
pub use mine::{BasketOptions, GroupResult, min_count, mine_groups, names, rules_batch};

use super::registry::{Analysis, Chart, Figure, Section, boxed};

/// The registry entry: `mart_basket_rules` of every order up to the last sale, at
/// subcategory level, under the default thresholds.
pub const ANALYSIS: Analysis = Analysis {
    name: "basket",
    tables: &["mart_basket_rules"],
    command: "acrm mine basket",
    needs_model: false,
    run: |cx| {
        boxed(async move {
            let rules = cx.rules().await?.rules_batch()?;
            Ok(vec![("mart_basket_rules".into(), rules)])
        })
    },
    chart: Some(Chart {
        table: "mart_basket_rules",
        figure: Figure::RulesScatter { top: 300 },
        sql: "SELECT antecedent, consequent, support, confidence, lift FROM mart_basket_rules",
    }),
    section: Some(Section {
        title: "Association rules",
        text: None,
        table: (
            "Top rules by lift",
            "SELECT antecedent, consequent, support, confidence, lift
             FROM mart_basket_rules ORDER BY lift DESC, support DESC LIMIT 15",
        ),
    }),
};
