//! The read-only statement check of `acrm serve`: any text parses into statements or is
//! refused with a message, on a stack as deep as the server's planner lane, and:
//! - a statement the check lets through to the engine writes nothing: no statement nested
//!   in it (an `INSERT`, `UPDATE`, `DELETE` or `MERGE` in a CTE or as a query's body) and
//!   no `SELECT … INTO`;
//! - the kind the audit log records is keywords only (never a name, literal or value).
#![no_main]

use std::ops::ControlFlow;

use acrm_serve::statement::{self, Action};
use datafusion::sql::sqlparser::ast::{
    Query, SetExpr, Statement, Visit, Visitor, visit_statements,
};
use datafusion_postgres::datafusion_pg_catalog::sql::PostgresCompatibilityParser;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(sql) = std::str::from_utf8(data) else {
        return;
    };
    let sql = sql.to_string();
    std::thread::Builder::new()
        .stack_size(acrm_serve::PLANNER_STACK_BYTES)
        .spawn(move || check(&sql))
        .expect("a thread for the statement")
        .join()
        .expect("the check does not panic");
});

fn check(sql: &str) {
    let parser = PostgresCompatibilityParser::new();
    let Ok(statements) = statement::parse(&parser, sql) else {
        return;
    };
    for s in &statements {
        let kind = statement::kind(s);
        assert!(
            kind.chars().all(|c| c.is_ascii_uppercase() || c == ' ')
                && kind.matches(' ').count() <= 1,
            "the audit kind of {s} carries more than keywords: {kind:?}"
        );
        if statement::classify(s) == Action::Query {
            assert_no_write(s);
        }
    }
}

/// Panics when `s`, let through as a query, holds a write.
fn assert_no_write(s: &Statement) {
    let _ = visit_statements(s, |inner| {
        assert!(
            matches!(inner, Statement::Query(_) | Statement::Explain { .. })
                || std::ptr::eq(inner, s),
            "a query let through holds a {} statement: {s}",
            statement::kind(inner)
        );
        ControlFlow::<()>::Continue(())
    });
    let mut into = SelectsInto(false);
    let _ = s.visit(&mut into);
    assert!(!into.0, "a query let through holds SELECT … INTO: {s}");
}

/// Finds a `SELECT … INTO` in any query of a statement.
struct SelectsInto(bool);

impl Visitor for SelectsInto {
    type Break = ();

    fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
        fn into(body: &SetExpr) -> bool {
            match body {
                SetExpr::Select(select) => select.into.is_some(),
                SetExpr::SetOperation { left, right, .. } => into(left) || into(right),
                _ => false,
            }
        }
        self.0 |= into(&query.body);
        ControlFlow::Continue(())
    }
}
