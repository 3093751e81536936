//! SQL as PostgreSQL clients write it, made plannable by DataFusion and kept correct.
//!
//! - Subqueries over the warehouse in a select list are kept from datafusion-postgres's
//!   rewrite that answers them with NULL, and an unqualified `'pg_…'::regclass` is looked
//!   up in `pg_catalog` first, as PostgreSQL's search path does ([`keep_subqueries`]).
//! - Catalog functions DataFusion lacks (`obj_description`, `col_description`, `to_regtype`,
//!   `generate_subscripts`, `_pg_expandarray`, `pg_get_serial_sequence`) become the lookups
//!   PostgreSQL defines them by, and composite field access `(expr).name` becomes
//!   `get_field` ([`rewrite_catalog_functions`]).
//! - Scalar subqueries over `pg_catalog` — as drivers' introspection writes them — are
//!   aggregated, guarded or known empty, so DataFusion can decorrelate them; subqueries over
//!   the warehouse are never touched.

use std::ops::ControlFlow;

use datafusion::sql::sqlparser::ast::{
    AccessExpr, BinaryOperator, DataType, Expr, FunctionArg, FunctionArgExpr, FunctionArguments,
    GroupByExpr, Ident, ObjectName, ObjectNamePart, Query, Select, SelectItem, SetExpr, Statement,
    TableFactor, Value, Visit, VisitMut, Visitor, VisitorMut,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::parser::Parser;
use datafusion_postgres::datafusion_pg_catalog::sql::PostgresCompatibilityParser;

/// Wraps each subquery selected as a column that reads the warehouse in parentheses, which
/// datafusion-postgres's `RemoveSubqueryFromProjection` rule does not match: that rule turns
/// every such subquery it takes for correlated into NULL (any column qualified by a table
/// name without an alias counts) and adds `LIMIT 1` to the rest — a silently wrong answer
/// over data. Left as written, the subquery runs as in `acrm sql`: DataFusion plans it or
/// says why not. Subqueries over the catalog alone are left to the rule: psql's `\d` has
/// some DataFusion cannot decorrelate, whose PostgreSQL answer here is NULL anyway (no
/// column has a default or a collation of its own).
struct KeepSubqueries;

impl VisitorMut for KeepSubqueries {
    type Break = ();

    fn pre_visit_select(&mut self, select: &mut Select) -> ControlFlow<()> {
        for item in &mut select.projection {
            if let SelectItem::UnnamedExpr(expr) | SelectItem::ExprWithAlias { expr, .. } = item
                && let Expr::Subquery(query) = expr
                && reads_warehouse(query)
            {
                *expr = Expr::Nested(Box::new(expr.clone()));
            }
        }
        ControlFlow::Continue(())
    }
}

/// Whether `query` reads a relation that is not a catalog table ([`is_catalog_name`]).
fn reads_warehouse(query: &Query) -> bool {
    struct Reads;
    impl Visitor for Reads {
        type Break = ();
        fn pre_visit_relation(&mut self, relation: &ObjectName) -> ControlFlow<()> {
            if is_catalog_name(relation) {
                ControlFlow::Continue(())
            } else {
                ControlFlow::Break(())
            }
        }
    }
    query.visit(&mut Reads).is_break()
}

/// `rewritten`, the statements datafusion-postgres's parser made of `sql`, with subqueries
/// kept ([`KeepSubqueries`]) and catalog names found ([`CatalogSearchPath`]): each statement
/// is parsed again as written, mended, and given the parser's rewrites. A known client query
/// that the parser replaced as a whole with a canned one (psql's and pgcli's catalog queries
/// DataFusion cannot plan) stays replaced. Called on statements nested no deeper than [`crate::statement::MAX_NESTING`].
pub(crate) fn keep_subqueries(
    parser: &PostgresCompatibilityParser,
    sql: &str,
    rewritten: Vec<Statement>,
) -> Vec<Statement> {
    let plain = match Parser::parse_sql(&PostgreSqlDialect {}, sql) {
        Ok(plain) if plain.len() == rewritten.len() => plain,
        _ => return rewritten,
    };
    plain
        .into_iter()
        .zip(rewritten)
        .map(|(mut statement, rewritten)| {
            // Unchanged but for the rules: not a replaced client query.
            if parser.rewrite(statement.clone()) != rewritten {
                return rewritten;
            }
            let _ = VisitMut::visit(&mut statement, &mut KeepSubqueries);
            let _ = VisitMut::visit(&mut statement, &mut CatalogSearchPath);
            parser.rewrite(statement)
        })
        .collect()
}

/// `'pg_class'::regclass` as PostgreSQL resolves it, with `pg_catalog` first on the search
/// path: an unqualified `pg_…` relation name is qualified with `pg_catalog` before
/// datafusion-postgres's rule looks the name up (in `public` only, where it finds nothing
/// and fails). pgJDBC's `getTables` reads table comments this way.
struct CatalogSearchPath;

impl VisitorMut for CatalogSearchPath {
    type Break = ();

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if let Expr::Cast {
            expr: name,
            data_type,
            ..
        } = expr
            && (matches!(data_type, DataType::Regclass)
                || data_type.to_string().eq_ignore_ascii_case("regclass"))
            && let Expr::Value(value) = name.as_mut()
            && let Value::SingleQuotedString(relation) = &mut value.value
            && relation.starts_with("pg_")
            && !relation.contains('.')
        {
            *relation = format!("pg_catalog.{relation}");
        }
        ControlFlow::Continue(())
    }
}

/// The text of `sql` (an expression PostgreSQL's dialect parses) as an expression.
fn expression(sql: &str) -> Option<Expr> {
    Parser::new(&PostgreSqlDialect {})
        .try_with_sql(sql)
        .and_then(|mut p| p.parse_expr())
        .ok()
}

/// The SQL a catalog function stands for, given its arguments (as SQL text), or None when
/// it is not one of them or its arguments do not fit.
fn catalog_lookup(name: &str, args: &[String]) -> Option<String> {
    Some(match (name, args) {
        // Comments (psql, pgJDBC's REMARKS, SQLAlchemy): `pg_description` has at most one
        // an object; `max` says so to the planner of the correlated subquery.
        ("obj_description", [oid, ..]) => format!(
            "(SELECT max(description) FROM pg_catalog.pg_description \
             WHERE objoid = {oid} AND objsubid = 0)"
        ),
        ("col_description", [oid, column]) => format!(
            "(SELECT max(description) FROM pg_catalog.pg_description \
             WHERE objoid = {oid} AND objsubid = {column})"
        ),
        // A type's oid by name, or NULL where there is no such type (psycopg asks for
        // `hstore` on every SQLAlchemy connect).
        ("to_regtype", [name]) => format!(
            "(SELECT max(oid) FROM pg_catalog.pg_type \
             WHERE typname = regexp_replace(lower({name}), '^pg_catalog\\.', ''))"
        ),
        // Set-returning functions over the key arrays of `pg_index` (SQLAlchemy's and
        // pgJDBC's primary-key queries): several `unnest`s in one list run in step, as
        // PostgreSQL's set-returning functions do.
        // Arrays here have one dimension: no subscripts in any other.
        ("generate_subscripts", [array, dimension]) => format!(
            "unnest(range(1, CASE WHEN {dimension} = 1 \
             THEN CAST(cardinality({array}) AS BIGINT) ELSE 0 END + 1))"
        ),
        ("_pg_expandarray", [array]) => format!(
            "named_struct('x', unnest({array}), 'n', \
             unnest(range(1, CAST(cardinality({array}) AS BIGINT) + 1)))"
        ),
        // No column is a serial: nothing is ever inserted.
        ("pg_get_serial_sequence", [_, _]) => "CAST(NULL AS TEXT)".into(),
        _ => return None,
    })
}

/// The name and arguments (as SQL text) of a call of a plain function.
fn call(expr: &Expr) -> Option<(String, Vec<String>)> {
    let Expr::Function(f) = expr else {
        return None;
    };
    let Some(ObjectNamePart::Identifier(name)) = f.name.0.last() else {
        return None;
    };
    let args = match &f.args {
        FunctionArguments::List(list) => list
            .args
            .iter()
            .filter_map(|a| match a {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e.to_string()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    Some((name.value.to_lowercase(), args))
}

/// Aggregate functions: a subquery selecting one already returns one row.
const AGGREGATES: &[&str] = &["max", "min", "count", "sum", "avg", "array_agg", "bool_and"];

/// Whether `table` is a `pg_catalog` table (`pg_x` or `pg_catalog.pg_x`).
fn is_catalog_table(table: &TableFactor) -> bool {
    matches!(table, TableFactor::Table { name, .. } if is_catalog_name(name))
}

/// Whether `name` is a `pg_catalog` table (`pg_x` or `pg_catalog.pg_x`) or an
/// `information_schema` view.
fn is_catalog_name(name: &ObjectName) -> bool {
    let parts: Vec<String> = name
        .0
        .iter()
        .map(|p| match p {
            ObjectNamePart::Identifier(i) => i.value.to_lowercase(),
            other => other.to_string(),
        })
        .collect();
    match parts.as_slice() {
        [t] => t.starts_with("pg_"),
        [schema, t] => {
            (schema == "pg_catalog" && t.starts_with("pg_")) || schema == "information_schema"
        }
        _ => false,
    }
}

/// A scalar subquery reading `pg_catalog` tables only and selecting one plain value (as
/// SQLAlchemy's column reflection has several, correlated to `pg_attribute`) selects its
/// `max` instead: the catalog's keys make it one row at most, and DataFusion plans a
/// correlated scalar subquery only when it is aggregated.
fn aggregate_catalog_subquery(query: &mut Query) {
    let SetExpr::Select(select) = query.body.as_mut() else {
        return;
    };
    let ungrouped = matches!(&select.group_by, GroupByExpr::Expressions(e, _) if e.is_empty());
    let catalog_only = !select.from.is_empty()
        && select.from.iter().all(|t| {
            std::iter::once(&t.relation)
                .chain(t.joins.iter().map(|j| &j.relation))
                .all(is_catalog_table)
        });
    if !ungrouped || !catalog_only || select.projection.len() != 1 {
        return;
    }
    let (SelectItem::UnnamedExpr(value) | SelectItem::ExprWithAlias { expr: value, .. }) =
        &mut select.projection[0]
    else {
        return;
    };
    if call(value).is_some_and(|(name, _)| AGGREGATES.contains(&name.as_str())) {
        return;
    }
    if let Some(max) = expression(&format!("max({value})")) {
        *value = max;
    }
}

/// `pg_catalog` tables that have no row on a read-only warehouse: nothing is ever inserted,
/// so no column has a default or an identity sequence.
const EMPTY_CATALOG_TABLES: &[&str] = &["pg_attrdef", "pg_sequence"];

/// Whether `expr` is a scalar subquery selecting one value (not a count) from the tables of
/// [`EMPTY_CATALOG_TABLES`] only: it is NULL. SQLAlchemy's column reflection has one whose
/// value reads the outer row, which DataFusion cannot decorrelate.
fn reads_no_row(expr: &Expr) -> bool {
    let Expr::Subquery(query) = expr else {
        return false;
    };
    let SetExpr::Select(select) = query.body.as_ref() else {
        return false;
    };
    let value = match select.projection.as_slice() {
        [SelectItem::UnnamedExpr(v) | SelectItem::ExprWithAlias { expr: v, .. }] => v,
        _ => return false,
    };
    let empty = |t: &TableFactor| {
        let TableFactor::Table { name, .. } = t else {
            return false;
        };
        let last = name.0.last().map(|p| p.to_string().to_lowercase());
        is_catalog_table(t) && last.is_some_and(|n| EMPTY_CATALOG_TABLES.contains(&n.as_str()))
    };
    !select.from.is_empty()
        && select.from.iter().all(|t| {
            std::iter::once(&t.relation)
                .chain(t.joins.iter().map(|j| &j.relation))
                .all(empty)
        })
        && call(value).is_none_or(|(name, _)| name != "count")
}

/// The conjuncts of `condition` (`a AND b AND …`, through parentheses).
fn conjuncts(condition: &Expr) -> Vec<&Expr> {
    match condition {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => {
            let mut all = conjuncts(left);
            all.extend(conjuncts(right));
            all
        }
        Expr::Nested(inner) => conjuncts(inner),
        other => vec![other],
    }
}

/// Whether `condition` reads the outer row only: every column it names is qualified by a
/// table that is not one of `inner` (the names and aliases the subquery reads), and it has
/// no subquery of its own.
fn outer_only(condition: &Expr, inner: &[String]) -> bool {
    struct Reads<'a> {
        inner: &'a [String],
        outer: bool,
    }
    impl Visitor for Reads<'_> {
        type Break = ();
        fn pre_visit_expr(&mut self, expr: &Expr) -> ControlFlow<()> {
            match expr {
                Expr::Identifier(_) | Expr::Subquery(_) | Expr::Exists { .. } => {
                    return ControlFlow::Break(());
                }
                Expr::CompoundIdentifier(parts) => {
                    let table = parts[..parts.len().saturating_sub(1)]
                        .iter()
                        .map(|p| p.value.to_lowercase())
                        .collect::<Vec<_>>()
                        .join(".");
                    if self.inner.contains(&table) {
                        return ControlFlow::Break(());
                    }
                    self.outer = true;
                }
                _ => {}
            }
            ControlFlow::Continue(())
        }
    }
    let mut reads = Reads {
        inner,
        outer: false,
    };
    condition.visit(&mut reads).is_continue() && reads.outer
}

/// The names a query's tables are referred to by: alias, name, and schema-qualified name.
fn table_names(select: &Select) -> Vec<String> {
    let mut names = Vec::new();
    for t in &select.from {
        for factor in std::iter::once(&t.relation).chain(t.joins.iter().map(|j| &j.relation)) {
            if let TableFactor::Table { name, alias, .. } = factor {
                let full = name.to_string().to_lowercase();
                if let Some((_, last)) = full.rsplit_once('.') {
                    names.push(last.to_string());
                }
                names.push(full);
                names.extend(alias.iter().map(|a| a.name.value.to_lowercase()));
            }
        }
    }
    names
}

/// A scalar subquery over the catalog whose `WHERE` has conditions on the outer row alone
/// (`(SELECT max(v) FROM pg_attrdef d WHERE a.atthasdef AND d.adrelid = a.attrelid)`, as
/// SQLAlchemy's column reflection writes), with those conditions moved into a `CASE` around
/// it: `CASE WHEN a.atthasdef THEN (SELECT max(v) … WHERE d.adrelid = a.attrelid) END`. The
/// same value — an aggregate over no rows is NULL ([`aggregate_catalog_subquery`] made it
/// one) — in a form DataFusion can decorrelate, which it cannot a subquery filtering on the
/// outer row alone.
fn guard_outer_conditions(expr: &Expr) -> Option<Expr> {
    let Expr::Subquery(query) = expr else {
        return None;
    };
    let SetExpr::Select(select) = query.body.as_ref() else {
        return None;
    };
    let aggregated = match select.projection.as_slice() {
        [SelectItem::UnnamedExpr(v) | SelectItem::ExprWithAlias { expr: v, .. }] => {
            call(v).is_some_and(|(name, _)| name == "max")
        }
        _ => false,
    };
    let catalog_only = select.from.iter().all(|t| {
        std::iter::once(&t.relation)
            .chain(t.joins.iter().map(|j| &j.relation))
            .all(is_catalog_table)
    });
    let where_ = select.selection.as_ref()?;
    if !aggregated || !catalog_only {
        return None;
    }
    let names = table_names(select);
    let (outer, rest): (Vec<&Expr>, Vec<&Expr>) = conjuncts(where_)
        .into_iter()
        .partition(|c| outer_only(c, &names));
    if outer.is_empty() {
        return None;
    }
    let join = |parts: &[&Expr]| {
        parts
            .iter()
            .map(|c| format!("({c})"))
            .collect::<Vec<_>>()
            .join(" AND ")
    };
    let mut inner = query.clone();
    if let SetExpr::Select(select) = inner.body.as_mut() {
        select.selection = if rest.is_empty() {
            None
        } else {
            expression(&join(&rest))
        };
    }
    expression(&format!("CASE WHEN {} THEN ({inner}) END", join(&outer)))
}

/// Rewrites the catalog functions of a statement ([`rewrite_catalog_functions`]).
struct CatalogFunctions;

impl VisitorMut for CatalogFunctions {
    type Break = ();

    /// A call selected without a name keeps its function's name as PostgreSQL's column
    /// would (and two lookups in one list do not collide).
    fn pre_visit_select(&mut self, select: &mut Select) -> ControlFlow<()> {
        for item in &mut select.projection {
            if let SelectItem::UnnamedExpr(expr) = item
                && let Some((name, args)) = call(expr)
                && catalog_lookup(&name, &args).is_some()
            {
                *item = SelectItem::ExprWithAlias {
                    expr: expr.clone(),
                    alias: Ident::new(name),
                };
            }
        }
        ControlFlow::Continue(())
    }

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if reads_no_row(expr) {
            *expr = Expr::Value(Value::Null.into());
            return ControlFlow::Continue(());
        }
        if let Expr::Subquery(query) = expr {
            aggregate_catalog_subquery(query);
        }
        if let Some(guarded) = guard_outer_conditions(expr) {
            *expr = guarded;
        }
        // Fields of a composite value, `(expr).name` (pgJDBC's `_pg_expandarray` keys),
        // as `get_field`, which DataFusion plans.
        if let Expr::CompoundFieldAccess { root, access_chain } = expr
            && matches!(root.as_ref(), Expr::Nested(_))
        {
            let fields: Option<Vec<&str>> = access_chain
                .iter()
                .map(|a| match a {
                    AccessExpr::Dot(Expr::Identifier(i)) => Some(i.value.as_str()),
                    _ => None,
                })
                .collect();
            if let Some(field) = fields
                .map(|names| {
                    names.iter().fold(root.to_string(), |value, name| {
                        format!("get_field({value}, '{name}')")
                    })
                })
                .as_deref()
                .and_then(expression)
            {
                *expr = field;
            }
        }
        if let Some(lookup) = call(expr)
            .and_then(|(name, args)| catalog_lookup(&name, &args))
            .as_deref()
            .and_then(expression)
        {
            *expr = lookup;
        }
        ControlFlow::Continue(())
    }
}

/// Catalog functions drivers call and DataFusion has not — `obj_description`,
/// `col_description`, `to_regtype`, `generate_subscripts`, `_pg_expandarray`,
/// `pg_get_serial_sequence` — rewritten into the lookups of `pg_catalog` tables PostgreSQL
/// defines them by, or their equivalents ([`crate::catalog`] serves `pg_description` and
/// the key tables); scalar subqueries over the catalog aggregated
/// ([`aggregate_catalog_subquery`]).
pub(crate) fn rewrite_catalog_functions(statement: &mut Statement) {
    let _ = statement.visit(&mut CatalogFunctions);
}
