//! Aggregate navigation: an analyzer rule that answers a GROUP BY over a view or table from
//! the smallest declared aggregate covering it. The rule runs before type coercion, where an
//! inlined view is still the exact plan the view was registered with, so a query reads an
//! aggregate only when its input *is* the aggregate's source (a CTE of the same name is not).
//!
//! A query is covered when its `Aggregate` reads the source through filters only; every
//! column its grouping (sets, ROLLUP and CUBE included) and filters use is a grain column,
//! with no subquery or volatile function; and each of its aggregates is one the aggregate
//! keeps: `count(*)`, `count(x)`, `sum(x)`, `min(x)`, `max(x)`, `count(DISTINCT x)`, and
//! `sum` of an integer expression of grain columns (`sum(CASE WHEN responded THEN 1 ELSE 0
//! END)`, from the cells' row counts).
//! The aggregate's rows are then grouped again — counts and sums summed, minima and maxima
//! taken, distinct bitmaps unioned and counted — and cast back to the types the query had,
//! so the answer is the one the facts give, under the same names.
//!
//! Before that, a plan (or subquery) equal to a materialized report's plan is answered from
//! the report's stored result ([`super::materialized`]).

use std::collections::HashSet;
use std::sync::Arc;

use acrm_schema::{AggregateDef, MeasureFunction};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{Column, DFSchema, Result, TableReference};
use datafusion::config::ConfigOptions;
use datafusion::datasource::{TableProvider, provider_as_source};
use datafusion::functions::core::expr_fn::coalesce;
use datafusion::functions_aggregate::expr_fn::{max, min, sum};
use datafusion::logical_expr::expr::AggregateFunction;
use datafusion::logical_expr::{
    Aggregate, AggregateUDF, Expr, ExprSchemable, LogicalPlan, LogicalPlanBuilder, Projection,
    cast, lit,
};
use datafusion::optimizer::AnalyzerRule;

use super::bitmap;
use super::materialized::Stored;

/// Name of the rule (it shows in `EXPLAIN VERBOSE`).
pub const RULE: &str = "acrm_aggregate_navigation";

/// One aggregate a query may be answered from.
#[derive(Debug)]
struct Candidate {
    def: AggregateDef,
    /// The source view's plan (None: the source is a table).
    view: Option<LogicalPlan>,
    table: Arc<dyn TableProvider>,
    rows: u64,
}

/// The rule, with the aggregates of the engine's version, smallest first, and the stored
/// results of its materialized reports.
#[derive(Debug)]
pub struct Navigation {
    candidates: Vec<Candidate>,
    reports: Vec<Stored>,
    count: Arc<AggregateUDF>,
}

impl Default for Navigation {
    fn default() -> Self {
        Self {
            candidates: Vec::new(),
            reports: Vec::new(),
            count: Arc::new(bitmap::count_udaf()),
        }
    }
}

impl Navigation {
    /// Adds aggregate `def`, stored in `table` with `rows` rows, whose source is the view
    /// `view` (or a table when None).
    pub(crate) fn add(
        &mut self,
        def: AggregateDef,
        view: Option<LogicalPlan>,
        table: Arc<dyn TableProvider>,
        rows: u64,
    ) {
        self.candidates.push(Candidate {
            def,
            view,
            table,
            rows,
        });
        self.candidates.sort_by_key(|c| c.rows);
    }

    /// Adds a materialized report's stored result.
    pub(crate) fn add_report(&mut self, stored: Stored) {
        self.reports.push(stored);
    }

    /// Every part of `plan` that is a materialized report's plan answered from its stored
    /// result.
    fn stored_reports(&self, plan: LogicalPlan) -> Result<LogicalPlan> {
        if self.reports.is_empty() {
            return Ok(plan);
        }
        plan.transform_down_with_subqueries(|node| {
            match self.reports.iter().find(|r| r.is_plan_of(&node)) {
                Some(r) => {
                    tracing::debug!(
                        report = r.report,
                        "query answered from a stored report result"
                    );
                    Ok(Transformed::new(
                        r.answer(&node)?,
                        true,
                        TreeNodeRecursion::Jump,
                    ))
                }
                None => Ok(Transformed::no(node)),
            }
        })
        .map(|t| t.data)
    }

    /// `aggregate` answered from the first aggregate that covers it, or None.
    fn answer(&self, aggregate: &Aggregate) -> Result<Option<LogicalPlan>> {
        let Some(read) = Read::of(aggregate) else {
            return Ok(None);
        };
        for c in &self.candidates {
            if !read.is_source_of(c) {
                continue;
            }
            if let Some(plan) = self.rewrite(aggregate, &read, c)? {
                tracing::debug!(aggregate = c.def.name, "query answered from an aggregate");
                return Ok(Some(plan));
            }
        }
        Ok(None)
    }

    /// `aggregate` over candidate `c`'s table, or None when `c` does not cover it.
    fn rewrite(
        &self,
        aggregate: &Aggregate,
        read: &Read,
        c: &Candidate,
    ) -> Result<Option<LogicalPlan>> {
        let grain: HashSet<&str> = c.def.grain.iter().map(String::as_str).collect();
        for e in aggregate.group_expr.iter().chain(&read.predicates) {
            if !over_grain(e, &grain)? {
                return Ok(None);
            }
        }
        // Each aggregate of the query as one over the aggregate's columns, and whether its
        // result is a count (0, not null, over no rows).
        let mut measures = Vec::new();
        for (i, e) in aggregate.aggr_expr.iter().enumerate() {
            let input = aggregate.input.schema();
            let Some((measure, counts)) = self.measure(e, input, c, &grain, &read.alias)? else {
                return Ok(None);
            };
            measures.push((measure.alias(format!("__acrm_measure_{i}")), counts));
        }
        let mut input = LogicalPlanBuilder::scan(
            c.def.name.as_str(),
            provider_as_source(c.table.clone()),
            None,
        )?
        .alias(read.alias.clone())?;
        for p in read.predicates.iter().rev() {
            input = input.filter(p.clone())?;
        }
        let regrouped = Aggregate::try_new(
            Arc::new(input.build()?),
            aggregate.group_expr.clone(),
            measures.iter().map(|(m, _)| m.clone()).collect(),
        )?;
        let grouped = regrouped.schema.clone();
        let keys = aggregate.schema.fields().len() - aggregate.aggr_expr.len();
        // The query's columns under its names and types: keys as they are, measures cast.
        let mut exprs = Vec::new();
        for (i, (qualifier, field)) in aggregate.schema.iter().enumerate() {
            let mut e = Expr::Column(Column::from(grouped.qualified_field(i)));
            if i >= keys {
                if measures[i - keys].1 {
                    e = coalesce(vec![e, lit(0_i64)]);
                }
                if grouped.field(i).data_type() != field.data_type() {
                    e = cast(e, field.data_type().clone());
                }
            }
            exprs.push(e.alias_qualified(qualifier.cloned(), field.name()));
        }
        let projection = Projection::try_new(exprs, Arc::new(LogicalPlan::Aggregate(regrouped)))?;
        Ok(Some(LogicalPlan::Projection(projection)))
    }

    /// Query aggregate `e` (over `input`) as an aggregate of candidate `c`'s columns (read
    /// as `alias`; `grain` its grain columns), and whether it counts; None when `c` does not
    /// keep it.
    fn measure(
        &self,
        e: &Expr,
        input: &DFSchema,
        c: &Candidate,
        grain: &HashSet<&str>,
        alias: &TableReference,
    ) -> Result<Option<(Expr, bool)>> {
        let e = match e {
            Expr::Alias(a) => a.expr.as_ref(),
            e => e,
        };
        let Expr::AggregateFunction(AggregateFunction { func, params }) = e else {
            return Ok(None);
        };
        if params.filter.is_some()
            || !params.order_by.is_empty()
            || params.null_treatment.is_some()
            || params.args.len() != 1
        {
            return Ok(None);
        }
        let kept = |function: MeasureFunction, column: &str| {
            c.def
                .measures
                .iter()
                .find(|m| m.function == function && m.column == column)
                .map(|m| Expr::Column(Column::new(Some(alias.clone()), m.stored_name())))
        };
        let arg = &params.args[0];
        let column = match arg {
            Expr::Column(col) => Some(col),
            _ => None,
        };
        let (name, distinct) = (func.name(), params.distinct);
        let kept_measure = || match (name, distinct) {
            ("count", false) => {
                let rows = match arg {
                    Expr::Literal(v, _) => !v.is_null(),
                    // A column without nulls counts its rows.
                    Expr::Column(col) => input
                        .field_with_name(col.relation.as_ref(), &col.name)
                        .is_ok_and(|f| !f.is_nullable()),
                    _ => false,
                };
                let counted = column
                    .and_then(|col| kept(MeasureFunction::Count, &col.name))
                    .or_else(|| rows.then(|| kept(MeasureFunction::Count, "*")).flatten())?;
                Some((sum(counted), true))
            }
            ("count", true) => {
                let bitmap = kept(MeasureFunction::CountDistinct, &column?.name)?;
                Some((self.count.call(vec![bitmap]), true))
            }
            ("sum", false) => Some((sum(kept(MeasureFunction::Sum, &column?.name)?), false)),
            ("min", _) => Some((min(kept(MeasureFunction::Min, &column?.name)?), false)),
            ("max", _) => Some((max(kept(MeasureFunction::Max, &column?.name)?), false)),
            _ => None,
        };
        if let Some(measure) = kept_measure() {
            return Ok(Some(measure));
        }
        // The sum of an integer expression of grain columns (`sum(CASE WHEN responded THEN
        // 1 ELSE 0 END)`, `sum(year)`) is each cell's value times its rows: integer
        // products and sums are exact, as re-summed floats would not be.
        if (name, distinct) == ("sum", false)
            && over_grain(arg, grain)?
            && arg.get_type(input)?.is_integer()
        {
            let rows = kept(MeasureFunction::Count, "*");
            return Ok(rows.map(|rows| (sum(cast(arg.clone(), DataType::Int64) * rows), false)));
        }
        Ok(None)
    }
}

/// Whether `e` is a deterministic expression of `grain` columns alone (no subquery, outer
/// reference or parameter), which an aggregate's cells can evaluate.
fn over_grain(e: &Expr, grain: &HashSet<&str>) -> Result<bool> {
    let foreign = e.exists(|e| {
        Ok(matches!(
            e,
            Expr::ScalarSubquery(_)
                | Expr::InSubquery(_)
                | Expr::Exists(_)
                | Expr::OuterReferenceColumn(..)
                | Expr::Placeholder(_)
        ))
    })?;
    Ok(!foreign
        && !e.is_volatile()
        && e.column_refs()
            .iter()
            .all(|col| grain.contains(col.name.as_str())))
}

/// What an `Aggregate` reads: a view or table under an alias, through filters.
struct Read<'a> {
    /// The name the query's expressions qualify columns with.
    alias: TableReference,
    /// The filters between the aggregate and the source, outermost first.
    predicates: Vec<Expr>,
    /// The source: a view's name and plan, or a table's name.
    source: Source<'a>,
}

enum Source<'a> {
    View(&'a str, &'a LogicalPlan),
    Table(&'a str),
}

impl<'a> Read<'a> {
    fn of(aggregate: &'a Aggregate) -> Option<Self> {
        let mut node = aggregate.input.as_ref();
        let mut predicates = Vec::new();
        while let LogicalPlan::Filter(f) = node {
            predicates.push(f.predicate.clone());
            node = f.input.as_ref();
        }
        let mut alias = None;
        let mut innermost = None;
        while let LogicalPlan::SubqueryAlias(s) = node {
            alias.get_or_insert_with(|| s.alias.clone());
            innermost = Some(s);
            node = s.input.as_ref();
        }
        let source = match node {
            LogicalPlan::TableScan(scan)
                if scan.projection.is_none() && scan.filters.is_empty() && scan.fetch.is_none() =>
            {
                alias.get_or_insert_with(|| scan.table_name.clone());
                Source::Table(scan.table_name.table())
            }
            plan => Source::View(innermost?.alias.table(), plan),
        };
        Some(Self {
            alias: alias?,
            predicates,
            source,
        })
    }

    /// Whether candidate `c` sums this source.
    fn is_source_of(&self, c: &Candidate) -> bool {
        match (&self.source, &c.view) {
            (Source::View(name, plan), Some(view)) => *name == c.def.source && *plan == view,
            (Source::Table(name), None) => *name == c.def.source,
            _ => false,
        }
    }
}

impl AnalyzerRule for Navigation {
    fn analyze(&self, plan: LogicalPlan, _: &ConfigOptions) -> Result<LogicalPlan> {
        let plan = self.stored_reports(plan)?;
        if self.candidates.is_empty() {
            return Ok(plan);
        }
        plan.transform_up_with_subqueries(|node| match node {
            LogicalPlan::Aggregate(a) => Ok(match self.answer(&a)? {
                Some(answered) => Transformed::yes(answered),
                None => Transformed::no(LogicalPlan::Aggregate(a)),
            }),
            other => Ok(Transformed::no(other)),
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        RULE
    }
}
