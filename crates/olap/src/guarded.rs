//! Tables served through a guard: PII masks and row scopes as part of the table itself, so
//! no query can get around them or read what they hide.
//!
//! A masked table is a view-like plan (`SELECT <masked columns> FROM raw`) that is inlined
//! into every query, as DataFusion inlines views: a user expression over a masked column
//! is rewritten onto the masking expression and can only ever see the masked value.
//!
//! A row-scoped table is a **security barrier**, after PostgreSQL's `security_barrier`
//! views. Inlined like a view, the optimizer would push a user's `WHERE` below the scope's
//! filter and evaluate it on every raw row, and an expression that fails on a value
//! (`CAST(branch_name AS INT)`, `1 / (CASE WHEN revenue > x THEN 0 ELSE 1 END)`) would
//! read rows out of scope through its error message, or bit by bit through whether it
//! fails. So a scoped table is not inlined: it plans its own rows (scope filter first) when
//! scanned, accepts no filter from the query above ([`TableProvider::supports_filters_pushdown`]
//! says unsupported), and wraps its physical plan in [`BarrierExec`], which lets no filter,
//! projection or sort through from the plan above and reports no statistics (which would
//! give away row counts and value ranges of the whole table). Columns the query does not
//! use are still pruned (the scan's projection is applied to the scoped plan) and a
//! `LIMIT` directly over the table is applied after the scope.
//!
//! Neither kind shows its definition: `information_schema.views` and `pg_catalog` list them
//! as the base tables they stand for.

use std::borrow::Cow;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{Session, TableProvider};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::datasource::TableType;
use datafusion::error::Result;
use datafusion::execution::TaskContext;
use datafusion::logical_expr::{Expr, LogicalPlan, LogicalPlanBuilder};
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PhysicalExpr, PlanProperties,
    SendableRecordBatchStream,
};

/// A table shown through masks (inlined) or through a row scope (a barrier).
#[derive(Debug)]
pub(crate) struct GuardedTable {
    /// The guarded rows: masked projection and scope filter over the raw table.
    plan: LogicalPlan,
    schema: SchemaRef,
    /// A row scope applies: plan separately, behind [`BarrierExec`].
    barrier: bool,
}

impl GuardedTable {
    /// The table whose rows are those of `plan`; `barrier` when `plan` filters rows by a
    /// scope (never inlined into a query).
    pub(crate) fn new(plan: LogicalPlan, barrier: bool) -> Self {
        let schema = Arc::new(plan.schema().as_arrow().clone());
        Self {
            plan,
            schema,
            barrier,
        }
    }
}

#[async_trait]
impl TableProvider for GuardedTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Base
    }

    fn get_logical_plan(&'_ self) -> Option<Cow<'_, LogicalPlan>> {
        // Masks alone are inlined like a view; a scope never is.
        (!self.barrier).then_some(Cow::Borrowed(&self.plan))
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        _filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let mut builder = LogicalPlanBuilder::from(self.plan.clone());
        if let Some(columns) = projection {
            builder = builder.select(columns.iter().copied())?;
        }
        if limit.is_some() {
            builder = builder.limit(0, limit)?;
        }
        let plan = state.create_physical_plan(&builder.build()?).await?;
        Ok(if self.barrier {
            Arc::new(BarrierExec::new(plan))
        } else {
            plan
        })
    }
}

/// The top of a row-scoped table's plan: passes its input's rows through unchanged, and
/// lets nothing from the plan above cross into the input — no filter (static or dynamic),
/// no projection, no sort, no limit — and tells no statistics.
#[derive(Debug, Clone)]
pub(crate) struct BarrierExec {
    input: Arc<dyn ExecutionPlan>,
    properties: Arc<PlanProperties>,
}

impl BarrierExec {
    /// The barrier over `input`.
    pub(crate) fn new(input: Arc<dyn ExecutionPlan>) -> Self {
        let properties = Arc::new(PlanProperties::clone(input.properties()));
        Self { input, properties }
    }
}

impl DisplayAs for BarrierExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BarrierExec: row scope")
    }
}

impl ExecutionPlan for BarrierExec {
    fn name(&self) -> &str {
        "BarrierExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        match (children.pop(), children.is_empty()) {
            (Some(input), true) => Ok(Arc::new(Self::new(input))),
            _ => datafusion::common::internal_err!("BarrierExec has exactly one input"),
        }
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        self.input.execute(partition, context)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int64Array, StringArray};
    use datafusion::arrow::datatypes::{DataType, Field, Schema};
    use datafusion::arrow::record_batch::RecordBatch;
    use datafusion::datasource::MemTable;
    use datafusion::prelude::SessionContext;

    /// A context with `raw` (k, s) = (1, 'a'), (2, 'secret') and `t` = the rows of `raw`
    /// with k = 1, guarded with or without a barrier.
    async fn context(barrier: bool) -> SessionContext {
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, false),
            Field::new("s", DataType::Utf8, false),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int64Array::from(vec![1, 2])),
                Arc::new(StringArray::from(vec!["a", "secret"])),
            ],
        )
        .expect("batch");
        let ctx = SessionContext::new();
        let raw = MemTable::try_new(schema, vec![vec![batch]]).expect("table");
        ctx.register_table("raw", Arc::new(raw)).expect("register");
        let plan = ctx
            .sql("SELECT k, s FROM raw WHERE k = 1")
            .await
            .expect("plan")
            .into_unoptimized_plan();
        ctx.register_table("t", Arc::new(GuardedTable::new(plan, barrier)))
            .expect("register");
        ctx
    }

    /// Fails on any row but the one in scope, naming the row's value.
    const PROBE: &str =
        "SELECT count(*) AS n FROM t WHERE CASE WHEN k <> 1 THEN CAST(s AS INT) ELSE 0 END = 0";

    #[tokio::test]
    async fn user_expressions_see_only_the_rows_behind_the_barrier() {
        let ctx = context(true).await;
        let batches = ctx
            .sql(PROBE)
            .await
            .expect("plan")
            .collect()
            .await
            .expect("run");
        let n = batches[0]
            .column(0)
            .as_any()
            .downcast_ref::<Int64Array>()
            .expect("count")
            .value(0);
        assert_eq!(n, 1);
        let plan = ctx
            .sql("EXPLAIN SELECT s FROM t WHERE s = 'a'")
            .await
            .expect("plan")
            .collect()
            .await
            .expect("explain");
        let text = datafusion::arrow::util::pretty::pretty_format_batches(&plan)
            .expect("format")
            .to_string();
        assert!(text.contains("BarrierExec"), "{text}");
    }

    #[tokio::test]
    async fn without_the_barrier_the_pushed_down_expression_reads_other_rows() {
        // What the barrier prevents: inlined, the probe is evaluated on the raw rows.
        let ctx = context(false).await;
        let err = match ctx.sql(PROBE).await {
            Ok(df) => df
                .collect()
                .await
                .expect_err("cast fails on the hidden row"),
            Err(e) => e,
        };
        assert!(err.to_string().contains("secret"), "{err}");
    }
}
