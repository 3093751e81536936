//! Where baskets come from: the warehouse's sales lines (orders or customer-days, items at
//! product, subcategory or category level, over a period), or a file: one basket per line
//! (items separated by commas, as in the public Groceries data) or basket,item pairs (CSV
//! with a header; the first two columns).

use std::collections::BTreeMap;
use std::path::Path;

use acrm_olap::Engine;
use chrono::NaiveDate;
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;

use crate::algo::transactions::{Builder, Transactions};
use crate::{Error, Result};

/// What one basket is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BasketUnit {
    /// One order (source system and order id).
    Order,
    /// Everything one customer bought on one day, across orders and channels.
    CustomerDay,
    /// Everything one customer bought in the period (their purchase history).
    Customer,
}

/// What one item is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ItemLevel {
    /// The product (SKU).
    Product,
    /// The product's subcategory.
    Subcategory,
    /// The product's category.
    Category,
}

/// What rules are mined per group of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    /// The customer's k-means segment (`mart_segment`).
    Segment,
    /// The sales channel of the line.
    Channel,
    /// The customer's region (the `dim_customer` version valid on the order date).
    Region,
}

/// The baskets to take from the warehouse.
#[derive(Debug, Clone)]
pub struct BasketQuery {
    /// Mine each group separately (`None`: one group, "all").
    pub by: Option<GroupBy>,
    /// Only the customers this query returns (its first column holds customer ids).
    pub customers: Option<String>,
    /// Basket unit.
    pub unit: BasketUnit,
    /// Item level.
    pub level: ItemLevel,
    /// First day of the period, if bounded.
    pub from: Option<NaiveDate>,
    /// Last day of the period, if bounded.
    pub to: Option<NaiveDate>,
}

/// The `(basket, item)` SQL of `q` over `fact_sales` (unknown products and customers left out).
pub fn basket_sql(q: &BasketQuery) -> String {
    let basket = match q.unit {
        BasketUnit::Order => "s.source_system || ':' || s.order_id",
        BasketUnit::CustomerDay => {
            "CAST(s.customer_id AS VARCHAR) || ':' || CAST(s.order_date AS VARCHAR)"
        }
        BasketUnit::Customer => "CAST(s.customer_id AS VARCHAR)",
    };
    let item = match q.level {
        ItemLevel::Product => "p.sku",
        ItemLevel::Subcategory => "p.subcategory",
        ItemLevel::Category => "p.category",
    };
    let (group, join) = match q.by {
        None => ("'all'", ""),
        Some(GroupBy::Segment) => (
            "CAST(g.segment AS VARCHAR)",
            "\nJOIN mart_segment g ON g.customer_id = s.customer_id",
        ),
        Some(GroupBy::Channel) => (
            "g.channel_name",
            "\nJOIN dim_channel g ON g.channel_key = s.channel_key",
        ),
        Some(GroupBy::Region) => (
            "coalesce(g.region, 'unknown')",
            "\nJOIN dim_customer g ON g.customer_key = s.customer_key",
        ),
    };
    let mut filter = String::new();
    if let Some(customers) = &q.customers {
        filter.push_str(&format!(
            " AND s.customer_id IN (SELECT * FROM ({customers}) c)"
        ));
    }
    if let Some(d) = q.from {
        filter.push_str(&format!(" AND s.order_date >= DATE '{d}'"));
    }
    if let Some(d) = q.to {
        filter.push_str(&format!(" AND s.order_date <= DATE '{d}'"));
    }
    // A returned item leaves the basket of the order it was returned from (when the return
    // names it); return lines themselves are no items.
    format!(
        "SELECT {basket} AS basket, {item} AS item, {group} AS grp
FROM fact_sales s
JOIN dim_product p ON p.product_key = s.product_key{join}
LEFT JOIN (
    SELECT source_system, returned_order_id, product_key, sum(quantity) AS returned
    FROM fact_sales
    WHERE quantity < 0 AND returned_order_id IS NOT NULL
    GROUP BY source_system, returned_order_id, product_key
) r ON r.source_system = s.source_system AND r.returned_order_id = s.order_id
   AND r.product_key = s.product_key
WHERE s.product_key <> 0 AND s.customer_id <> 0 AND {item} IS NOT NULL
  AND s.quantity > 0 AND s.quantity + coalesce(r.returned, 0) > 0{filter}
ORDER BY basket"
    )
}

/// The warehouse's baskets as `q` says, per group (sorted by group name).
pub async fn warehouse_baskets(
    engine: &Engine,
    q: &BasketQuery,
) -> Result<Vec<(String, Transactions)>> {
    if q.by == Some(GroupBy::Segment) && !engine.tables().iter().any(|t| t.name == "mart_segment") {
        return Err(Error::Invalid(
            "--by segment needs mart_segment: run `acrm mine segment` (or a build with marts) first"
                .into(),
        ));
    }
    let (_, batches) = engine.query(&basket_sql(q)).await?;
    // Rows come sorted by basket: each group's baskets are built line by line, keeping only
    // item ids (no basket keys, no per-line strings).
    let mut groups: BTreeMap<String, Builder> = BTreeMap::new();
    for_each_line(
        &batches,
        "warehouse baskets",
        true,
        |group, basket, item| {
            if !groups.contains_key(group) {
                groups.insert(group.to_string(), Builder::default());
            }
            if let Some(builder) = groups.get_mut(group) {
                builder.pair(basket, item);
            }
            Ok(())
        },
    )?;
    Ok(groups.into_iter().map(|(g, b)| (g, b.finish())).collect())
}

/// What each customer of `q` (its level, period and customer filter) has bought: customer
/// id → item names, by customer id.
pub async fn customer_histories(
    engine: &Engine,
    q: &BasketQuery,
) -> Result<Vec<(i64, Vec<String>)>> {
    let q = BasketQuery {
        unit: BasketUnit::Customer,
        by: None,
        ..q.clone()
    };
    let (_, batches) = engine.query(&basket_sql(&q)).await?;
    let mut histories: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for_each_line(
        &batches,
        "customer histories",
        false,
        |_, customer, item| {
            let id = customer.parse::<i64>().map_err(|e| {
                Error::Features(format!("customer histories: customer id '{customer}': {e}"))
            })?;
            histories.entry(id).or_default().push(item.to_string());
            Ok(())
        },
    )?;
    Ok(histories.into_iter().collect())
}

/// Baskets of a file: `one_per_line` for comma-separated items per line (blank lines
/// skipped), else basket,item pairs (a CSV with a header, or Parquet).
pub async fn file_baskets(path: &Path, one_per_line: bool) -> Result<Transactions> {
    let name = path.display().to_string();
    if one_per_line {
        let text =
            std::fs::read_to_string(path).map_err(|e| Error::Features(format!("{name}: {e}")))?;
        let baskets = text.lines().filter(|l| !l.trim().is_empty()).map(|l| {
            l.split(',')
                .map(str::trim)
                .filter(|i| !i.is_empty())
                .collect::<Vec<_>>()
        });
        return Ok(Transactions::from_baskets(baskets));
    }
    let batches = acrm_olap::read_table_file(path).await?;
    pairs_from_batches(&batches, &name)
}

/// Transactions from the first two columns (basket, item) of `batches`, lines of a basket
/// in any order; rows with a null basket or item are skipped.
fn pairs_from_batches(batches: &[RecordBatch], what: &str) -> Result<Transactions> {
    let mut pairs = Vec::new();
    for_each_line(batches, what, false, |_, basket, item| {
        pairs.push((basket.to_string(), item.to_string()));
        Ok(())
    })?;
    Ok(Transactions::from_pairs(pairs))
}

/// Calls `f(group, basket, item)` for each row of `batches` whose first two columns (basket,
/// item) are not null; the group is the third column when `grouped` ("unknown" when null),
/// else "all".
fn for_each_line(
    batches: &[RecordBatch],
    what: &str,
    grouped: bool,
    mut f: impl FnMut(&str, &str, &str) -> Result<()>,
) -> Result<()> {
    let needed = if grouped { 3 } else { 2 };
    for b in batches {
        if b.num_columns() < needed {
            return Err(Error::Features(format!(
                "{what}: need two columns (basket, item), found {}",
                b.num_columns()
            )));
        }
        let text = |i: usize| {
            cast(b.column(i), &DataType::Utf8)
                .map_err(|e| Error::Features(format!("{what}: column {}: {e}", i + 1)))
        };
        let (basket, item) = (text(0)?, text(1)?);
        let (basket, item) = (basket.as_string::<i32>(), item.as_string::<i32>());
        let group = if grouped { Some(text(2)?) } else { None };
        let group = group.as_ref().map(|g| g.as_string::<i32>());
        for r in 0..b.num_rows() {
            if !(basket.is_valid(r) && item.is_valid(r)) {
                continue;
            }
            let name = match group {
                Some(g) if g.is_valid(r) => g.value(r),
                Some(_) => "unknown",
                None => "all",
            };
            f(name, basket.value(r), item.value(r))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn files_in_both_layouts() {
        let dir = std::env::temp_dir().join(format!("acrm-baskets-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let lines = dir.join("lines.csv");
        std::fs::write(&lines, "milk,bread\n\nbeer, diapers ,milk\n").expect("write");
        let t = file_baskets(&lines, true).await.expect("lines");
        assert_eq!(t.len(), 2);
        assert_eq!(t.items, vec!["milk", "bread", "beer", "diapers"]);
        let pairs = dir.join("pairs.csv");
        std::fs::write(&pairs, "order,item\n1,milk\n2,beer\n1,bread\n").expect("write");
        let t = file_baskets(&pairs, false).await.expect("pairs");
        assert_eq!(t.len(), 2);
        assert_eq!(t.basket(0).len(), 2);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn sql_follows_the_query() {
        let q = BasketQuery {
            by: Some(GroupBy::Channel),
            customers: Some("SELECT 7".into()),
            unit: BasketUnit::CustomerDay,
            level: ItemLevel::Subcategory,
            from: NaiveDate::from_ymd_opt(2024, 1, 1),
            to: None,
        };
        let sql = basket_sql(&q);
        assert!(sql.contains("p.subcategory AS item"), "{sql}");
        assert!(sql.contains("order_date >= DATE '2024-01-01'"), "{sql}");
        assert!(sql.contains("CAST(s.customer_id AS VARCHAR)"), "{sql}");
        assert!(
            sql.contains("g.channel_name AS grp") && sql.contains("JOIN dim_channel g"),
            "{sql}"
        );
        assert!(sql.contains("IN (SELECT * FROM (SELECT 7) c)"), "{sql}");
    }
}
