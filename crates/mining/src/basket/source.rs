//! Where baskets come from: the warehouse's sales lines (orders or customer-days, items at
//! product, subcategory or category level, over a period), or a file: one basket per line
//! (items separated by commas, as in the public Groceries data) or basket,item pairs (CSV
//! with a header; the first two columns).

use std::path::Path;

use acrm_olap::Engine;
use chrono::NaiveDate;
use datafusion::arrow::array::{Array, AsArray, RecordBatch};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;

use super::Transactions;
use crate::{Error, Result};

/// What one basket is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BasketUnit {
    /// One order (source system and order id).
    Order,
    /// Everything one customer bought on one day, across orders and channels.
    CustomerDay,
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

/// The baskets to take from the warehouse.
#[derive(Debug, Clone)]
pub struct BasketQuery {
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
    };
    let item = match q.level {
        ItemLevel::Product => "p.sku",
        ItemLevel::Subcategory => "p.subcategory",
        ItemLevel::Category => "p.category",
    };
    let mut filter = String::new();
    if let Some(d) = q.from {
        filter.push_str(&format!(" AND s.order_date >= DATE '{d}'"));
    }
    if let Some(d) = q.to {
        filter.push_str(&format!(" AND s.order_date <= DATE '{d}'"));
    }
    format!(
        "SELECT {basket} AS basket, {item} AS item
FROM fact_sales s
JOIN dim_product p ON p.product_key = s.product_key
WHERE s.product_key <> 0 AND s.customer_id <> 0 AND {item} IS NOT NULL{filter}"
    )
}

/// The warehouse's baskets as `q` says.
pub async fn warehouse_baskets(engine: &Engine, q: &BasketQuery) -> Result<Transactions> {
    let (_, batches) = engine.query(&basket_sql(q)).await?;
    pairs_from_batches(&batches, "warehouse baskets")
}

/// Baskets of a file: `one_per_line` for comma-separated items per line (blank lines
/// skipped), else a CSV of basket,item pairs with a header.
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
    use datafusion::prelude::{CsvReadOptions, SessionContext};
    let ctx = SessionContext::new();
    let batches = ctx
        .read_csv(name.as_str(), CsvReadOptions::new())
        .await
        .map_err(|e| Error::Features(format!("{name}: {e}")))?
        .collect()
        .await
        .map_err(|e| Error::Features(format!("{name}: {e}")))?;
    pairs_from_batches(&batches, &name)
}

/// Transactions from the first two columns (basket, item) of `batches`; null items are
/// skipped.
fn pairs_from_batches(batches: &[RecordBatch], what: &str) -> Result<Transactions> {
    let mut pairs = Vec::new();
    for b in batches {
        if b.num_columns() < 2 {
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
        for r in 0..b.num_rows() {
            if basket.is_valid(r) && item.is_valid(r) {
                pairs.push((basket.value(r).to_string(), item.value(r).to_string()));
            }
        }
    }
    Ok(Transactions::from_pairs(pairs))
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
            unit: BasketUnit::CustomerDay,
            level: ItemLevel::Subcategory,
            from: NaiveDate::from_ymd_opt(2024, 1, 1),
            to: None,
        };
        let sql = basket_sql(&q);
        assert!(sql.contains("p.subcategory AS item"), "{sql}");
        assert!(sql.contains("order_date >= DATE '2024-01-01'"), "{sql}");
        assert!(sql.contains("CAST(s.customer_id AS VARCHAR)"), "{sql}");
    }
}
