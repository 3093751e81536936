//! Row-level security on the region > province > city > branch hierarchy: a role limited to
//! part of the hierarchy sees, in every table and view, only the rows of its part. Like the
//! PII masking, the filter is part of the view the engine registers under each table's name
//! (over raw tables nobody can name), so no query, view or report can opt out.
//!
//! What a scope lets through, with B = the branches in scope and H = the customers whose
//! current home (`dim_customer` city/province/region) is in scope (none for a branch scope,
//! customers have no home branch):
//! - `dim_branch`: branches in B;
//! - `fact_sales`: lines sold at a branch in B, and online lines (branch 0) of customers in H;
//! - customers C = H ∪ customers who bought at a branch in B: `dim_customer` (all versions),
//!   `map_customer_source`, every fact keyed by customer only (service, campaign responses,
//!   receivables, credit applications) and every mart with a `customer_id` column;
//! - `identity_pairs`: pairs whose two records both belong to customers in C;
//! - `fact_sales_plan` and `fact_expense`: lines of branches in B, and lines of no branch
//!   that name a customer in C;
//! - `fact_expense_budget`: budgets of branches in B;
//! - `alerts`: alerts of customers in C and of budget lines of branches in B;
//! - product, date, channel and campaign dimensions, the load audit and the list of values
//!   loaded as null (`etl_nulled_values`, which names no customer): everything (no
//!   customer rows);
//! - `etl_quarantine` (raw rejected rows of any customer) and marts without `customer_id`
//!   (aggregates over all customers, such as basket rules): nothing, they are not served.

use crate::mask::ident;

/// The level of the hierarchy a scope is given at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScopeLevel {
    /// `region` of `dim_branch` and of the customer's current `dim_customer` row.
    Region,
    /// `province`, likewise.
    Province,
    /// `city`, likewise.
    City,
    /// One or more branches by `branch_code`.
    Branch,
}

impl ScopeLevel {
    /// The `dim_branch` column holding this level's values.
    fn branch_column(self) -> &'static str {
        match self {
            ScopeLevel::Region => "region",
            ScopeLevel::Province => "province",
            ScopeLevel::City => "city",
            ScopeLevel::Branch => "branch_code",
        }
    }

    /// The `dim_customer` column holding the customer's home at this level (None: customers
    /// have no home branch).
    fn customer_column(self) -> Option<&'static str> {
        match self {
            ScopeLevel::Branch => None,
            other => Some(other.branch_column()),
        }
    }
}

/// The part of the hierarchy a restricted role may see.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct RowScope {
    /// Level the values are given at.
    pub level: ScopeLevel,
    /// Values at that level (e.g. region names or branch codes); at least one.
    pub values: Vec<String>,
}

/// How one table is filtered for a scoped role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TableFilter {
    /// Served as it is.
    All,
    /// Served with this `WHERE` predicate over its own columns.
    Rows(String),
    /// Not served at all.
    Hidden,
}

/// A SQL string literal.
fn literal(v: &str) -> String {
    format!("'{}'", v.replace('\'', "''"))
}

impl RowScope {
    fn value_list(&self) -> String {
        self.values
            .iter()
            .map(|v| literal(v))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// `branch_key`s in scope, as a subquery over the raw tables.
    fn branches(&self) -> String {
        format!(
            "SELECT branch_key FROM raw.dim_branch WHERE {} IN ({})",
            ident(self.level.branch_column()),
            self.value_list()
        )
    }

    /// Customers whose current home is in scope (H).
    fn home_customers(&self) -> String {
        match self.level.customer_column() {
            Some(col) => format!(
                "SELECT customer_id FROM raw.dim_customer WHERE is_current AND {} IN ({})",
                ident(col),
                self.value_list()
            ),
            None => "SELECT customer_id FROM raw.dim_customer WHERE false".into(),
        }
    }

    /// Every customer in scope (C): home customers and buyers at branches in scope.
    fn customers(&self) -> String {
        format!(
            "{} UNION SELECT customer_id FROM raw.fact_sales WHERE branch_key IN ({})",
            self.home_customers(),
            self.branches()
        )
    }

    /// How table `name` with `columns` is filtered (see the module documentation).
    pub(crate) fn filter(&self, name: &str, columns: &[&str]) -> TableFilter {
        let has = |c: &str| columns.contains(&c);
        match name {
            "dim_branch" => TableFilter::Rows(format!("branch_key IN ({})", self.branches())),
            "fact_sales" => TableFilter::Rows(format!(
                "branch_key IN ({}) OR (branch_key = 0 AND customer_id IN ({}))",
                self.branches(),
                self.home_customers()
            )),
            "fact_sales_plan" | "fact_expense" => TableFilter::Rows(format!(
                "branch_key IN ({}) OR (branch_key = 0 AND customer_id IN ({}))",
                self.branches(),
                self.customers()
            )),
            "fact_expense_budget" => {
                TableFilter::Rows(format!("branch_key IN ({})", self.branches()))
            }
            "alerts" => TableFilter::Rows(format!(
                "customer_id IN ({}) OR branch_key IN ({})",
                self.customers(),
                self.branches()
            )),
            "etl_quarantine" => TableFilter::Hidden,
            "identity_pairs" => {
                let c = self.customers();
                TableFilter::Rows(format!("customer_id_a IN ({c}) AND customer_id_b IN ({c})"))
            }
            _ if has("customer_id") => {
                TableFilter::Rows(format!("customer_id IN ({})", self.customers()))
            }
            _ if name.starts_with("dim_") || name.starts_with("etl_") => TableFilter::All,
            // A mart without customer ids is an aggregate over every customer.
            _ => TableFilter::Hidden,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn region(v: &str) -> RowScope {
        RowScope {
            level: ScopeLevel::Region,
            values: vec![v.into()],
        }
    }

    #[test]
    fn every_table_of_the_schema_is_filtered_served_or_hidden_as_documented() {
        use acrm_schema::TableKind;
        let scope = region("East");
        let schema = acrm_schema::WarehouseSchema::builtin().expect("schema");
        for t in schema.tables() {
            let cols: Vec<&str> = t.columns.iter().map(|c| c.name.as_str()).collect();
            let f = scope.filter(&t.name, &cols);
            let expected_rows = cols.contains(&"customer_id")
                || ["dim_branch", "identity_pairs", "fact_expense_budget"]
                    .contains(&t.name.as_str());
            match f {
                TableFilter::Rows(sql) => {
                    assert!(expected_rows, "{} filtered: {sql}", t.name);
                    assert!(sql.contains("'East'"), "{sql}");
                }
                TableFilter::All => assert!(
                    !expected_rows && t.name != "etl_quarantine" && t.kind != TableKind::Mart,
                    "{} served whole",
                    t.name
                ),
                // Marts without a customer column cannot be scoped (see the next test).
                TableFilter::Hidden => assert!(
                    t.name == "etl_quarantine" || (t.kind == TableKind::Mart && !expected_rows),
                    "{} hidden",
                    t.name
                ),
            }
        }
    }

    #[test]
    fn marts_are_filtered_by_customer_or_hidden() {
        let scope = region("East");
        assert!(matches!(
            scope.filter("mart_rfm", &["customer_id", "r"]),
            TableFilter::Rows(_)
        ));
        assert_eq!(
            scope.filter("mart_basket_rules", &["antecedent", "consequent"]),
            TableFilter::Hidden
        );
    }

    #[test]
    fn values_are_quoted_as_literals_and_branch_scopes_have_no_home_customers() {
        let scope = RowScope {
            level: ScopeLevel::Branch,
            values: vec!["B'1".into(), "B2".into()],
        };
        let TableFilter::Rows(sql) = scope.filter("fact_sales", &["customer_id", "branch_key"])
        else {
            panic!("fact_sales is filtered");
        };
        assert!(sql.contains("\"branch_code\" IN ('B''1', 'B2')"), "{sql}");
        assert!(sql.contains("WHERE false"), "{sql}");
    }
}
