//! Where a view's column comes from: followed down the view's logical plan through
//! projections, aliases, joins, filters and group keys to the table it reads, so `acrm
//! describe` shows a view column's meaning and PII flag as its source table declares them.
//! A column computed from others (a sum, a `coalesce`) has no single source: `None`.

use std::collections::HashMap;

use datafusion::logical_expr::{Distinct, Expr, LogicalPlan};

/// The (table, column) that column `index` of `plan`'s output is read unchanged from.
pub fn source_of(plan: &LogicalPlan, index: usize) -> Option<(String, String)> {
    match plan {
        LogicalPlan::TableScan(scan) => {
            let field = scan.projected_schema.fields().get(index)?;
            Some((scan.table_name.table().to_string(), field.name().clone()))
        }
        LogicalPlan::Projection(p) => column_source(&p.input, p.expr.get(index)?),
        LogicalPlan::Aggregate(a) => column_source(&a.input, a.group_expr.get(index)?),
        LogicalPlan::Join(j) => {
            let left = j.left.schema().fields().len();
            if index < left {
                source_of(&j.left, index)
            } else {
                source_of(&j.right, index - left)
            }
        }
        LogicalPlan::SubqueryAlias(s) => source_of(&s.input, index),
        LogicalPlan::Filter(f) => source_of(&f.input, index),
        LogicalPlan::Sort(s) => source_of(&s.input, index),
        LogicalPlan::Limit(l) => source_of(&l.input, index),
        LogicalPlan::Distinct(Distinct::All(input)) => source_of(input, index),
        LogicalPlan::Window(w) => {
            (index < w.input.schema().fields().len()).then(|| source_of(&w.input, index))?
        }
        _ => None,
    }
}

/// The source of `expr` evaluated over `input`, when it is a column (aliased or not), or an
/// expression of one column kept under that column's name: the masks of PII columns
/// (`mask(name) AS name`, inlined from a masked table) stay that column.
fn column_source(input: &LogicalPlan, expr: &Expr) -> Option<(String, String)> {
    match expr {
        Expr::Alias(a) => match a.expr.as_ref() {
            Expr::Column(_) => column_source(input, &a.expr),
            inner => {
                let columns = inner.column_refs();
                let only = columns.iter().next().filter(|_| columns.len() == 1)?;
                (only.name == a.name)
                    .then(|| source_of(input, input.schema().index_of_column(only).ok()?))?
            }
        },
        Expr::Column(c) => source_of(input, input.schema().index_of_column(c).ok()?),
        _ => None,
    }
}

/// What a view's SQL says of its output columns: a `-- text` comment closing the line that
/// selects a column (`coalesce(o.orders, 0) AS orders,  -- Distinct orders.`), by column
/// name. The last such line for a name wins (the outer SELECT comes after its CTEs).
pub fn column_notes(sql: &str) -> HashMap<String, String> {
    let mut notes = HashMap::new();
    for line in sql.lines() {
        let Some((select, note)) = line.split_once("--") else {
            continue;
        };
        let select = select.trim().trim_end_matches(',').trim_end();
        let note = note.trim();
        if select.is_empty() || note.is_empty() {
            continue;
        }
        // The alias after the last AS, else the column after the last qualifier dot.
        let name = select
            .rsplit_once(" AS ")
            .or_else(|| select.rsplit_once(" as "))
            .map_or_else(|| select.rsplit('.').next().unwrap_or(select), |(_, a)| a)
            .trim();
        if !name.is_empty() && name.chars().all(|c| c.is_alphanumeric() || c == '_') {
            notes.insert(name.to_string(), note.to_string());
        }
    }
    notes
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::datasource::MemTable;
    use datafusion::prelude::SessionContext;
    use std::sync::Arc;

    #[test]
    fn notes_are_read_from_the_comment_closing_a_select_line() {
        let notes = column_notes(
            "-- the view\nSELECT c.city AS customer_city,  -- Where the customer lives.\n  \
             coalesce(o.orders, 0) AS orders, -- Distinct orders.\n  c.name,\n  s.total -- Sum.\nFROM t",
        );
        assert_eq!(notes["customer_city"], "Where the customer lives.");
        assert_eq!(notes["orders"], "Distinct orders.");
        assert_eq!(notes["total"], "Sum.");
        assert_eq!(notes.len(), 3, "{notes:?}");
    }

    #[tokio::test]
    async fn a_view_column_is_traced_to_its_table_through_aliases_joins_and_groups() {
        let ctx = SessionContext::new();
        for (name, columns) in [
            ("person", ["id", "name"]),
            ("sale", ["person_id", "amount"]),
        ] {
            let schema = Arc::new(Schema::new(
                columns
                    .iter()
                    .map(|c| Field::new(*c, DataType::Int64, true))
                    .collect::<Vec<_>>(),
            ));
            let table = MemTable::try_new(schema, vec![vec![]]).expect("table");
            ctx.register_table(name, Arc::new(table)).expect("register");
        }
        let plan = ctx
            .sql(
                "WITH s AS (SELECT person_id, sum(amount) AS total FROM sale GROUP BY person_id)
                 SELECT p.name AS who, s.total, s.person_id, p.id + 1 AS next, abs(p.id) AS id
                 FROM person p LEFT JOIN s ON s.person_id = p.id WHERE p.id > 0",
            )
            .await
            .expect("plan")
            .into_unoptimized_plan();
        let source = |i| source_of(&plan, i);
        assert_eq!(source(0), Some(("person".into(), "name".into())));
        assert_eq!(source(1), None, "a sum is computed");
        assert_eq!(source(2), Some(("sale".into(), "person_id".into())));
        assert_eq!(source(3), None, "an expression is computed");
        assert_eq!(
            source(4),
            Some(("person".into(), "id".into())),
            "one column under its own name (a mask) stays that column"
        );
    }
}
