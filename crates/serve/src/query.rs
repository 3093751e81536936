//! Statements of a logged-in connection, over both the simple and the extended query
//! protocol. Text is parsed, checked ([`crate::statement`]: read-only, size and nesting)
//! and planned on the planner lane ([`crate::lanes`]), in a context of the statement's own
//! (the role's engine over the current version, a memory pool of the query's own, the
//! user's identity). Statements that read no table are answered there; the others run on
//! the executor lane and hand their batches over a channel of one batch, so a client that
//! reads slowly slows the query down instead of filling the server's memory (and rows in
//! flight count against the query's memory pool). One deadline — the statement timeout —
//! bounds planning, execution and sending, including a write blocked on a client that
//! stopped reading ([`crate::wire`]). Each statement writes one audit line when it ends.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::array::{Array, ArrayRef, RecordBatch, StringArray};
use datafusion::arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::{ParamValues, ScalarValue};
use datafusion::error::DataFusionError;
use datafusion::execution::memory_pool::{FairSpillPool, MemoryConsumer, MemoryReservation};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::execution::{SessionStateBuilder, TaskContext};
use datafusion::logical_expr::{ColumnarValue, LogicalPlan, ScalarUDF, Volatility, create_udf};
use datafusion::physical_plan::{
    ExecutionPlan, SendableRecordBatchStream, collect, execute_stream,
};
use datafusion::prelude::{SQLOptions, SessionContext};
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::Statement;
use datafusion_postgres::arrow_pg::datatypes::df::deserialize_parameters;
use datafusion_postgres::arrow_pg::datatypes::{
    arrow_schema_to_pg_fields, encode_recordbatch, into_pg_type,
};
use datafusion_postgres::pgwire::api::portal::{Format, Portal, PortalExecutionState};
use datafusion_postgres::pgwire::api::query::{
    ExtendedQueryHandler, SimpleQueryHandler, send_execution_response, send_query_response,
    send_ready_for_query,
};
use datafusion_postgres::pgwire::api::results::{
    DataRowEncoder, FieldFormat, FieldInfo, QueryResponse, Response, Tag,
};
use datafusion_postgres::pgwire::api::stmt::QueryParser;
use datafusion_postgres::pgwire::api::store::{Entry as PortalEntry, PortalStore};
use datafusion_postgres::pgwire::api::{
    ClientInfo, ClientPortalStore, ConnectionHandle, DEFAULT_NAME, PgWireConnectionState, Type,
};
use datafusion_postgres::pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use datafusion_postgres::pgwire::messages::PgWireBackendMessage;
use datafusion_postgres::pgwire::messages::data::DataRow;
use datafusion_postgres::pgwire::messages::extendedquery::{Execute, PortalSuspended};
use datafusion_postgres::pgwire::messages::response::{EmptyQueryResponse, TransactionStatus};
use datafusion_postgres::pgwire::messages::simplequery::Query;
use datafusion_postgres::pgwire::types::format::FormatOptions;
use futures::future::{Either, select};
use futures::{Sink, SinkExt, StreamExt, stream};
use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::audit::{Entry, Outcome};
use crate::config::Role;
use crate::session::{Login, Session, Shared};
use crate::statement::{Action, ParseError, classify, kind, parse, refusal, shows_statistics};
use crate::transaction::admit;
use crate::wire::Held;

/// An error with severity ERROR, SQLSTATE `code` and `message`.
fn error(code: &str, message: impl Into<String>) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".into(),
        code.into(),
        message.into(),
    )))
}

/// SQLSTATE of the statement timeout (`query_canceled`).
const TIMEOUT: &str = "57014";

/// SQLSTATE of a statement the role may not run (`insufficient_privilege`).
const DENIED: &str = "42501";

fn timeout_error() -> PgWireError {
    error(TIMEOUT, "canceling statement due to statement timeout")
}

/// The SQLSTATE and message a DataFusion error is reported with.
fn engine_error(e: &DataFusionError) -> (&'static str, String) {
    let code = match e.find_root() {
        DataFusionError::ResourcesExhausted(_) => "53200",
        DataFusionError::SQL(..) => "42601",
        DataFusionError::SchemaError(..) => "42703",
        DataFusionError::Plan(m) if m.contains("not found") => "42P01",
        DataFusionError::Plan(_) => "42601",
        DataFusionError::NotImplemented(_) => "0A000",
        _ => "XX000",
    };
    (code, e.to_string())
}

/// Fails the audit entry with the error's code and returns the error for the client.
fn fail(entry: &mut Entry, rows: u64, e: &DataFusionError) -> PgWireError {
    let (code, message) = engine_error(e);
    entry.finish(rows, Outcome::Error, Some(code));
    error(code, message)
}

/// The server variable `SHOW name` means: `transaction isolation level` and `time zone`
/// are the SQL-standard spellings.
fn variable(name: &str) -> &str {
    match name {
        "transaction isolation level" => "transaction_isolation",
        "time zone" => "timezone",
        other => other,
    }
}

/// A response of text columns `names` and `rows`.
fn text_rows(names: &[&str], rows: Vec<Vec<String>>) -> PgWireResult<Response> {
    let fields = Arc::new(
        names
            .iter()
            .map(|n| FieldInfo::new((*n).into(), None, None, Type::TEXT, FieldFormat::Text))
            .collect::<Vec<_>>(),
    );
    let mut encoded = Vec::with_capacity(rows.len());
    for row in rows {
        let mut encoder = DataRowEncoder::new(fields.clone());
        for value in &row {
            encoder.encode_field(&Some(value.as_str()))?;
        }
        encoded.push(Ok(encoder.take_row()));
    }
    Ok(Response::Query(QueryResponse::new(
        fields,
        stream::iter(encoded),
    )))
}

/// One statement as the planner lane parsed it: the tree, its leading keywords and the
/// text its fingerprint is taken of.
#[derive(Debug, Clone)]
pub(crate) struct Parsed {
    statement: Statement,
    kind: String,
    text: String,
}

/// A parsed extended-protocol statement and — for queries — the plan made when it was
/// parsed, with the version it was planned on (a newer version re-plans).
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    parsed: Parsed,
    plan: Option<(LogicalPlan, u64)>,
}

/// The query handlers of one connection.
pub(crate) struct Queries {
    session: Arc<Session>,
    parser: Arc<Parser>,
}

impl Queries {
    /// Handlers for `session`.
    pub(crate) fn new(session: Arc<Session>) -> Self {
        Self {
            parser: Arc::new(Parser {
                session: session.clone(),
            }),
            session,
        }
    }
}

/// Plans with the read-only options: DDL, DML and statements (SET …) are plan errors.
fn read_only() -> SQLOptions {
    SQLOptions::new()
        .with_allow_ddl(false)
        .with_allow_dml(false)
        .with_allow_statements(false)
}

/// Plans `statement` in `ctx`, read-only.
async fn plan(ctx: &SessionContext, statement: &Statement) -> Result<LogicalPlan, DataFusionError> {
    let plan = ctx
        .state()
        .statement_to_plan(DfStatement::Statement(Box::new(statement.clone())))
        .await?;
    read_only().verify_plan(&plan)?;
    Ok(plan)
}

/// Parameter types of `plan`, the type of `$n` at index n − 1. A number the plan does not
/// use (the client's statement names it, a catalog rewrite dropped it) has no type, so it
/// does not shift the types of the numbers after it.
fn parameter_types(plan: &LogicalPlan) -> PgWireResult<Vec<Option<DataType>>> {
    let types = plan
        .get_parameter_types()
        .map_err(|e| error("42P18", e.to_string()))?;
    let numbered: Vec<(usize, Option<DataType>)> = types
        .into_iter()
        .filter_map(|(name, t)| Some((name.trim_start_matches('$').parse().ok()?, t)))
        .filter(|(n, _)| *n >= 1)
        .collect();
    let count = numbered.iter().map(|(n, _)| *n).max().unwrap_or(0);
    let mut by_number = vec![None; count];
    for (n, t) in numbered {
        by_number[n - 1] = t;
    }
    Ok(by_number)
}

/// `session_user` (what `current_user` and `user` are rewritten to): the logged-in user,
/// not pg_catalog's fixed `postgres`.
fn session_user(user: &str) -> ScalarUDF {
    let user = user.to_string();
    create_udf(
        "session_user",
        vec![],
        DataType::Utf8,
        Volatility::Stable,
        Arc::new(move |_: &[ColumnarValue]| {
            Ok(ColumnarValue::Scalar(ScalarValue::Utf8(Some(user.clone()))))
        }),
    )
}

/// The engine of role `role_name` over the version current now, and the context one
/// statement of `user` is planned and run in: the engine's catalog, functions and caches,
/// a memory pool of the statement's own (`query_memory_mib`), and the user's identity.
async fn statement_context(
    shared: &Shared,
    user: &str,
    role_name: &str,
    role: &Role,
) -> Result<(Arc<acrm_olap::Engine>, SessionContext), DataFusionError> {
    let engine = shared
        .engines
        .get(role_name, role)
        .await
        .map_err(|e| DataFusionError::External(Box::new(e)))?;
    let memory = shared
        .config
        .server
        .query_memory_mib
        .saturating_mul(1 << 20);
    let runtime = RuntimeEnvBuilder::from_runtime_env(&engine.context().runtime_env())
        .with_memory_pool(Arc::new(FairSpillPool::new(memory)))
        .build_arc()?;
    let state = SessionStateBuilder::new_from_existing(engine.context().state())
        .with_runtime_env(runtime)
        .build();
    let ctx = SessionContext::new_with_state(state);
    ctx.register_udf(session_user(user));
    Ok((engine, ctx))
}

/// Whether every leaf of `plan` produces one constant row, none, or the text of a plan:
/// the statement reads no table (`SELECT 1`, `SELECT version()`, `EXPLAIN`) and is
/// answered where it was planned.
fn reads_no_table(plan: &Arc<dyn ExecutionPlan>) -> bool {
    let children = plan.children();
    if children.is_empty() {
        matches!(
            plan.name(),
            "PlaceholderRowExec" | "EmptyExec" | "ExplainExec"
        )
    } else {
        children.into_iter().all(reads_no_table)
    }
}

/// A query as the planner lane left it.
enum Planned {
    /// Answered already: its rows.
    Rows {
        schema: SchemaRef,
        batches: Vec<RecordBatch>,
    },
    /// To run on the executor lane.
    Run {
        schema: SchemaRef,
        plan: Arc<dyn ExecutionPlan>,
        task: Arc<TaskContext>,
        engine: Arc<acrm_olap::Engine>,
    },
}

/// What the executor lane hands the connection.
enum Produced {
    /// A batch, with the memory it holds reserved in the query's pool until it is sent
    /// (None for rows computed where they were planned).
    Batch(RecordBatch, Option<MemoryReservation>),
    /// The query failed.
    Failed(DataFusionError),
    /// The last batch was sent.
    Done,
}

/// Runs `plan` and sends its batches one at a time, waiting while the connection has not
/// taken the previous one; stops at `deadline` or when the connection drops the receiver.
async fn produce(
    plan: Arc<dyn ExecutionPlan>,
    task: Arc<TaskContext>,
    deadline: Instant,
    tx: mpsc::Sender<Produced>,
) {
    let pool = task.memory_pool().clone();
    let mut batches: SendableRecordBatchStream = match execute_stream(plan, task) {
        Ok(s) => s,
        Err(e) => {
            let _ = tx.send(Produced::Failed(e)).await;
            return;
        }
    };
    loop {
        if Instant::now() >= deadline {
            return;
        }
        let Ok(next) = tokio::time::timeout_at(deadline, batches.next()).await else {
            return;
        };
        let item = match next {
            None => Produced::Done,
            Some(Err(e)) => Produced::Failed(e),
            Some(Ok(batch)) => {
                let held = MemoryConsumer::new("acrm serve: rows to the client").register(&pool);
                match held.try_grow(batch.get_array_memory_size()) {
                    Ok(()) => Produced::Batch(batch, Some(held)),
                    Err(e) => Produced::Failed(e),
                }
            }
        };
        let last = !matches!(item, Produced::Batch(..));
        match tokio::time::timeout_at(deadline, tx.send(item)).await {
            Ok(Ok(())) if !last => {}
            _ => return,
        }
    }
}

/// Text of EXPLAIN output with the version folder's path left out: plans show files by
/// their path inside the warehouse, never where the server keeps it.
fn without_paths(batch: RecordBatch, dir: &str) -> RecordBatch {
    let plain = dir.trim_start_matches('/');
    let prefixes = [format!("/{plain}/"), format!("{plain}/")];
    let columns: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .map(|c| match c.as_any().downcast_ref::<StringArray>() {
            Some(text) => Arc::new(
                text.iter()
                    .map(|v| {
                        v.map(|v| prefixes.iter().fold(v.to_string(), |t, p| t.replace(p, "")))
                    })
                    .collect::<StringArray>(),
            ) as ArrayRef,
            None => c.clone(),
        })
        .collect();
    RecordBatch::try_new(batch.schema(), columns).unwrap_or(batch)
}

/// How a statement's result rows reach the client.
enum Source {
    /// Computed already.
    Ready(std::vec::IntoIter<RecordBatch>),
    /// From the executor lane; the engine is held so its version stays in use.
    Lane {
        rx: mpsc::Receiver<Produced>,
        _engine: Arc<acrm_olap::Engine>,
    },
}

/// The state of a result stream; writes the audit line when it ends or is dropped.
struct Rows {
    source: Source,
    entry: Entry,
    deadline: Instant,
    /// Strip this folder from text (EXPLAIN output).
    strip: Option<String>,
    rows: u64,
    done: bool,
    /// The memory of the batch being sent.
    _memory: Option<MemoryReservation>,
    /// The deadline applies to the connection's writes while rows are being sent.
    _held: Held,
}

impl Drop for Rows {
    fn drop(&mut self) {
        // Not finished: the client stopped reading, or a write stayed blocked past the
        // deadline and ended the connection.
        let timed_out = Instant::now() >= self.deadline;
        let (outcome, code) = if timed_out {
            (Outcome::Timeout, Some(TIMEOUT))
        } else {
            (Outcome::Abandoned, None)
        };
        self.entry.finish(self.rows, outcome, code);
    }
}

impl Rows {
    /// The next batch, or the error or end the stream closes with.
    async fn next_batch(&mut self) -> Option<Result<RecordBatch, PgWireError>> {
        // Checked before taking a batch: a receive that is always ready never times out.
        if Instant::now() >= self.deadline {
            return Some(Err(self.time_out()));
        }
        let next = match &mut self.source {
            Source::Ready(batches) => match batches.next() {
                Some(b) => Produced::Batch(b, None),
                None => Produced::Done,
            },
            Source::Lane { rx, .. } => {
                match tokio::time::timeout_at(self.deadline, rx.recv()).await {
                    Err(_) => return Some(Err(self.time_out())),
                    Ok(Some(p)) => p,
                    // The producer stopped without a last word: its deadline, or a panic.
                    Ok(None) if Instant::now() >= self.deadline => {
                        return Some(Err(self.time_out()));
                    }
                    Ok(None) => {
                        let e = DataFusionError::Internal("the query stopped unexpectedly".into());
                        self.done = true;
                        return Some(Err(fail(&mut self.entry, self.rows, &e)));
                    }
                }
            }
        };
        match next {
            Produced::Done => {
                self.done = true;
                self.entry.finish(self.rows, Outcome::Ok, None);
                None
            }
            Produced::Failed(e) => {
                self.done = true;
                Some(Err(fail(&mut self.entry, self.rows, &e)))
            }
            Produced::Batch(batch, held) => {
                self.rows += batch.num_rows() as u64;
                self._memory = held;
                Some(Ok(match &self.strip {
                    Some(dir) => without_paths(batch, dir),
                    None => batch,
                }))
            }
        }
    }

    /// Ends the stream with the statement timeout.
    fn time_out(&mut self) -> PgWireError {
        self.done = true;
        self.entry
            .finish(self.rows, Outcome::Timeout, Some(TIMEOUT));
        timeout_error()
    }

    /// The encoded rows of this result.
    fn into_stream(
        self,
        fields: Arc<Vec<FieldInfo>>,
    ) -> impl futures::Stream<Item = PgWireResult<DataRow>> + Send + 'static {
        stream::unfold(self, move |mut s| {
            let fields = fields.clone();
            async move {
                if s.done {
                    return None;
                }
                let items: Vec<PgWireResult<DataRow>> = match s.next_batch().await? {
                    Ok(batch) => encode_recordbatch(fields, batch).collect(),
                    Err(e) => vec![Err(e)],
                };
                Some((stream::iter(items), s))
            }
        })
        .flatten()
    }
}

impl Session {
    /// The statements of `sql`, parsed and checked on the planner lane; a write only
    /// DataFusion's dialect parses is refused (and audited) like any other.
    async fn parse(&self, sql: &str, whole_text: bool) -> PgWireResult<Vec<Parsed>> {
        let shared = self.shared.clone();
        let text = sql.to_string();
        let parsed = self
            .shared
            .lanes
            .plan(async move {
                parse(&shared.parser, &text).map(|statements| {
                    statements
                        .into_iter()
                        .map(|statement| Parsed {
                            kind: kind(&statement),
                            text: if whole_text {
                                text.clone()
                            } else {
                                statement.to_string()
                            },
                            statement,
                        })
                        .collect::<Vec<_>>()
                })
            })
            .await
            .map_err(|e| error("XX000", e.to_string()))?;
        parsed.map_err(|e| match e {
            ParseError::Write(_) => {
                if let Some((login, _)) = self.login() {
                    self.shared
                        .audit
                        .start(&login.user, &login.role, "(unparsed)", sql)
                        .finish(0, Outcome::Refused, Some("25006"));
                }
                error("25006", e.to_string())
            }
            ParseError::Syntax(message) => error("42601", message),
            ParseError::TooComplex(message) => error("54001", message),
        })
    }

    /// Plans (and, when it reads no table, answers) a query on the planner lane.
    async fn prepare(
        &self,
        login: &Login,
        role: &Role,
        statement: &Statement,
        prepared: Option<(LogicalPlan, u64)>,
        params: Option<ParamValues>,
    ) -> Result<(Planned, u64, String), DataFusionError> {
        let statement = statement.clone();
        self.in_statement_context(login, role, move |engine, ctx| async move {
            let version = engine.version();
            let mut plan = match prepared {
                Some((p, v)) if v == version => p,
                _ => plan(&ctx, &statement).await?,
            };
            if let Some(params) = params {
                plan = plan.replace_params_with_values(&params)?;
            }
            let schema: SchemaRef = Arc::new(plan.schema().as_arrow().clone());
            let physical = ctx.state().create_physical_plan(&plan).await?;
            let dir = engine.dir().display().to_string();
            let task = ctx.task_ctx();
            let planned = if reads_no_table(&physical) {
                Planned::Rows {
                    schema,
                    batches: collect(physical, task).await?,
                }
            } else {
                Planned::Run {
                    schema,
                    plan: physical,
                    task,
                    engine,
                }
            };
            Ok((planned, version, dir))
        })
        .await
    }

    /// Runs `work` on the planner lane with the role's engine over the current version and
    /// a context of the statement's own ([`statement_context`]).
    async fn in_statement_context<T, F, Fut>(
        &self,
        login: &Login,
        role: &Role,
        work: F,
    ) -> Result<T, DataFusionError>
    where
        T: Send + 'static,
        F: FnOnce(Arc<acrm_olap::Engine>, SessionContext) -> Fut + Send + 'static,
        Fut: std::future::Future<Output = Result<T, DataFusionError>> + Send,
    {
        let shared = self.shared.clone();
        let (user, role_name, role) = (login.user.clone(), login.role.clone(), role.clone());
        self.shared
            .lanes
            .plan(async move {
                let (engine, ctx) = statement_context(&shared, &user, &role_name, &role).await?;
                work(engine, ctx).await
            })
            .await
            .map_err(|e| DataFusionError::External(Box::new(e)))?
    }

    /// Runs transaction-control `action` (BEGIN, COMMIT, ROLLBACK, savepoints) in the block
    /// `status` describes, updating it.
    fn control(
        &self,
        status: &mut TransactionStatus,
        action: &Action,
        entry: &mut Entry,
    ) -> PgWireResult<Response> {
        let applied = self
            .savepoints
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .apply(*status, action);
        match applied {
            Some(Ok((next, tag))) => {
                *status = next;
                entry.finish(0, Outcome::Ok, None);
                Ok(Response::Execution(Tag::new(tag)))
            }
            Some(Err(r)) => {
                entry.finish(0, Outcome::Error, Some(r.code));
                Err(error(r.code, r.message))
            }
            None => {
                entry.finish(0, Outcome::Error, Some("XX000"));
                Err(error("XX000", "not a transaction-control statement"))
            }
        }
    }

    /// Runs one statement for the logged-in user in the transaction block `status`
    /// describes (and updates it); `prepared` is the plan made at parse time, `params` the
    /// bound parameter values.
    async fn run(
        &self,
        metadata: &std::collections::HashMap<String, String>,
        parsed: &Parsed,
        prepared: Option<&(LogicalPlan, u64)>,
        params: Option<ParamValues>,
        format: &Format,
        status: &mut TransactionStatus,
    ) -> PgWireResult<Response> {
        let Some((login, role)) = self.login() else {
            return Err(error("28000", "not logged in"));
        };
        let shared = &self.shared;
        let mut entry = shared
            .audit
            .start(&login.user, &login.role, &parsed.kind, &parsed.text);
        let ok = |entry: &mut Entry, r: Response| {
            entry.finish(0, Outcome::Ok, None);
            Ok(r)
        };
        let rejected = |entry: &mut Entry, code: &'static str, message: String| {
            entry.finish(0, Outcome::Error, Some(code));
            Err(error(code, message))
        };
        let deadline = Instant::now() + self.timeout();
        let action = classify(&parsed.statement);
        if let Err(r) = admit(*status, &action) {
            return rejected(&mut entry, r.code, r.message);
        }
        match action {
            Action::Refused(what) => {
                entry.finish(0, Outcome::Refused, Some("25006"));
                Err(error("25006", refusal(&what)))
            }
            Action::Begin
            | Action::Commit
            | Action::Rollback
            | Action::Savepoint(_)
            | Action::Release(_)
            | Action::RollbackTo(_) => self.control(status, &action, &mut entry),
            Action::SetTimeout(ms) => {
                self.set_timeout_ms(ms);
                ok(&mut entry, Response::Execution(Tag::new("SET")))
            }
            Action::SetTransaction => ok(&mut entry, Response::Execution(Tag::new("SET"))),
            Action::Set { name, value } => {
                match self.with_settings(metadata, |s| s.set(&name, &value)) {
                    Ok(()) => ok(&mut entry, Response::Execution(Tag::new("SET"))),
                    Err(r) => rejected(&mut entry, r.code, r.message),
                }
            }
            Action::Reset(name) => {
                let reset = match name.as_deref() {
                    Some("statement_timeout") => {
                        self.set_timeout_ms(0);
                        Ok(())
                    }
                    Some(name) => self.with_settings(metadata, |s| s.reset(Some(name))),
                    None => {
                        self.set_timeout_ms(0);
                        self.with_settings(metadata, |s| s.reset(None))
                    }
                };
                match reset {
                    Ok(()) => ok(&mut entry, Response::Execution(Tag::new("RESET"))),
                    Err(r) => rejected(&mut entry, r.code, r.message),
                }
            }
            Action::Discard(true) if *status != TransactionStatus::Idle => rejected(
                &mut entry,
                "25001",
                "DISCARD ALL cannot run inside a transaction block".into(),
            ),
            Action::Discard(all) => {
                if all {
                    self.set_timeout_ms(0);
                    // RESET ALL of a known name cannot fail.
                    let _ = self.with_settings(metadata, |s| s.reset(None));
                }
                let tag = parsed.statement.to_string().to_uppercase();
                ok(&mut entry, Response::Execution(Tag::new(&tag)))
            }
            Action::Show(name) if name == "all" => {
                let timeout = self.timeout();
                let rows: Vec<Vec<String>> = self
                    .with_settings(metadata, |s| s.all(timeout))
                    .into_iter()
                    .map(Vec::from)
                    .collect();
                entry.finish(rows.len() as u64, Outcome::Ok, None);
                text_rows(&["name", "setting", "description"], rows)
            }
            Action::Show(name) => {
                let timeout = self.timeout();
                match self.with_settings(metadata, |s| s.show(variable(&name), timeout)) {
                    Some(v) => {
                        entry.finish(1, Outcome::Ok, None);
                        text_rows(&[name.as_str()], vec![vec![v]])
                    }
                    None => rejected(
                        &mut entry,
                        "42704",
                        format!("unrecognized configuration parameter \"{name}\""),
                    ),
                }
            }
            Action::Query
                if shows_statistics(&parsed.statement)
                    && (!role.privileged || role.scope.is_some()) =>
            {
                entry.finish(0, Outcome::Refused, Some(DENIED));
                Err(error(
                    DENIED,
                    "EXPLAIN ANALYZE and EXPLAIN VERBOSE are for privileged roles without a row scope: they show row counts and value statistics of data this role may not see (plain EXPLAIN is allowed)",
                ))
            }
            Action::Query => {
                let work = self.prepare(login, role, &parsed.statement, prepared.cloned(), params);
                let (planned, version, dir) = match tokio::time::timeout_at(deadline, work).await {
                    Err(_) => {
                        entry.finish(0, Outcome::Timeout, Some(TIMEOUT));
                        return Err(timeout_error());
                    }
                    Ok(Err(e)) => return Err(fail(&mut entry, 0, &e)),
                    Ok(Ok(x)) => x,
                };
                entry.set_version(version);
                let (schema, source) = match planned {
                    Planned::Rows { schema, batches } => {
                        (schema, Source::Ready(batches.into_iter()))
                    }
                    Planned::Run {
                        schema,
                        plan,
                        task,
                        engine,
                    } => {
                        let (tx, rx) = mpsc::channel(1);
                        if let Err(e) = shared.lanes.execute(produce(plan, task, deadline, tx)) {
                            entry.finish(0, Outcome::Error, Some("XX000"));
                            return Err(error("XX000", e.to_string()));
                        }
                        (
                            schema,
                            Source::Lane {
                                rx,
                                _engine: engine,
                            },
                        )
                    }
                };
                let options = Arc::new(FormatOptions::from_client_metadata(metadata));
                let fields = Arc::new(arrow_schema_to_pg_fields(&schema, format, Some(options))?);
                let rows = Rows {
                    _held: self.link.hold(deadline),
                    source,
                    entry,
                    deadline,
                    strip: matches!(parsed.statement, Statement::Explain { .. }).then_some(dir),
                    rows: 0,
                    done: false,
                    _memory: None,
                };
                Ok(Response::Query(QueryResponse::new(
                    fields.clone(),
                    rows.into_stream(fields),
                )))
            }
        }
    }
}

/// pgwire's own `on_query` derives the transaction status from the kinds of responses, which
/// cannot say that `ROLLBACK TO` leaves a failed block; this one runs the statements of a
/// simple query one after the other with the status [`Session::run`] keeps.
#[async_trait]
impl SimpleQueryHandler for Queries {
    async fn on_query<C>(&self, client: &mut C, query: Query) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if !matches!(client.state(), PgWireConnectionState::ReadyForQuery) {
            return Err(PgWireError::NotReadyForQuery);
        }
        client.set_state(PgWireConnectionState::QueryInProgress);
        let mut status = client.transaction_status();
        let cancel = match client.session_extensions().get::<Arc<ConnectionHandle>>() {
            Some(handle) => Some(handle.start_query().await),
            None => None,
        };
        let work = self.answer(client, &query.query, &mut status);
        let outcome = match cancel {
            Some(cancelled) => match select(Box::pin(work), cancelled).await {
                Either::Left((outcome, _)) => outcome,
                Either::Right(_) => Err(PgWireError::QueryCanceled),
            },
            None => work.await,
        };
        if let Err(e) = outcome {
            // The statements before were answered; this one and the rest are not.
            client
                .feed(PgWireBackendMessage::ErrorResponse(
                    ErrorInfo::from(e).into(),
                ))
                .await?;
            status = status.to_error_state();
        }
        client.set_state(PgWireConnectionState::ReadyForQuery);
        client.set_transaction_status(status);
        send_ready_for_query(client, status).await
    }

    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        // Only `on_query` above answers simple queries; this is the trait's entry point for
        // anyone calling pgwire's default handling, kept equivalent.
        let mut status = client.transaction_status();
        self.answer(client, query, &mut status).await?;
        client.set_transaction_status(status);
        Ok(vec![])
    }
}

impl Queries {
    /// Answers the statements of simple query `text` in order, sending each one's result;
    /// stops at the first error, which it returns.
    async fn answer<C>(
        &self,
        client: &mut C,
        text: &str,
        status: &mut TransactionStatus,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let statements = self.session.parse(text, false).await?;
        if statements.is_empty() {
            client
                .feed(PgWireBackendMessage::EmptyQueryResponse(
                    EmptyQueryResponse::new(),
                ))
                .await?;
            return Ok(());
        }
        let metadata = client.metadata().clone();
        for parsed in &statements {
            let response = self
                .session
                .run(&metadata, parsed, None, None, &Format::UnifiedText, status)
                .await?;
            match response {
                Response::Query(rows) => send_query_response(client, rows, true).await?,
                Response::Execution(tag) => send_execution_response(client, tag).await?,
                Response::EmptyQuery => {
                    client
                        .feed(PgWireBackendMessage::EmptyQueryResponse(
                            EmptyQueryResponse::new(),
                        ))
                        .await?;
                }
                Response::Error(e) => return Err(PgWireError::UserError(e)),
                _ => return Err(error("0A000", "COPY is not supported")),
            }
        }
        Ok(())
    }
}

/// Parses and plans extended-protocol statements.
pub(crate) struct Parser {
    session: Arc<Session>,
}

#[async_trait]
impl QueryParser for Parser {
    type Statement = Prepared;

    async fn parse_sql<C>(
        &self,
        _client: &C,
        sql: &str,
        _types: &[Option<Type>],
    ) -> PgWireResult<Option<Prepared>>
    where
        C: ClientInfo + Unpin + Send + Sync,
    {
        let mut statements = self.session.parse(sql, true).await?;
        if statements.is_empty() {
            return Ok(None);
        }
        if statements.len() > 1 {
            return Err(error(
                "42601",
                "cannot insert multiple commands into a prepared statement",
            ));
        }
        let parsed = statements.remove(0);
        // Queries are planned now for their parameter and result types; the rest is
        // checked and answered when executed.
        let plan = match (classify(&parsed.statement), self.session.login()) {
            (Action::Query, Some((login, role))) => {
                let statement = parsed.statement.clone();
                let planned = self
                    .session
                    .in_statement_context(login, role, move |engine, ctx| async move {
                        Ok((plan(&ctx, &statement).await?, engine.version()))
                    })
                    .await;
                Some(planned.map_err(|e| {
                    let (code, message) = engine_error(&e);
                    error(code, message)
                })?)
            }
            _ => None,
        };
        Ok(Some(Prepared { parsed, plan }))
    }

    fn get_parameter_types(&self, stmt: &Prepared) -> PgWireResult<Vec<Type>> {
        let Some((plan, _)) = &stmt.plan else {
            return Ok(vec![]);
        };
        parameter_types(plan)?
            .iter()
            .map(|t| t.as_ref().map_or(Ok(Type::UNKNOWN), into_pg_type))
            .collect()
    }

    fn get_result_schema(
        &self,
        stmt: &Prepared,
        column_format: Option<&Format>,
    ) -> PgWireResult<Vec<FieldInfo>> {
        match (&stmt.plan, classify(&stmt.parsed.statement)) {
            (Some((plan, _)), _) => arrow_schema_to_pg_fields(
                plan.schema().as_arrow(),
                column_format.unwrap_or(&Format::UnifiedText),
                None,
            ),
            (None, Action::Show(name)) if name == "all" => Ok(["name", "setting", "description"]
                .into_iter()
                .map(|n| FieldInfo::new(n.into(), None, None, Type::TEXT, FieldFormat::Text))
                .collect()),
            (None, Action::Show(name)) => Ok(vec![FieldInfo::new(
                name,
                None,
                None,
                Type::TEXT,
                FieldFormat::Text,
            )]),
            _ => Ok(vec![]),
        }
    }
}

#[async_trait]
impl ExtendedQueryHandler for Queries {
    type Statement = Prepared;
    type QueryParser = Parser;

    fn query_parser(&self) -> Arc<Parser> {
        self.parser.clone()
    }

    /// pgwire's own `on_execute` collects every row of a portal executed without a row
    /// limit into memory before sending the first; this one streams them (with the
    /// socket's backpressure) and keeps a partly read portal's rows where they are.
    async fn on_execute<C>(&self, client: &mut C, message: Execute) -> PgWireResult<()>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Self::Statement>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        if !matches!(client.state(), PgWireConnectionState::ReadyForQuery) {
            return Err(PgWireError::NotReadyForQuery);
        }
        let began = client.transaction_status();
        client.set_state(PgWireConnectionState::QueryInProgress);
        let name = message.name.as_deref().unwrap_or(DEFAULT_NAME);
        let max_rows = usize::try_from(message.max_rows).unwrap_or(0);
        let portal = match client.portal_store().get_portal(name) {
            Some(PortalEntry::Value(portal)) => portal,
            Some(PortalEntry::Empty) => {
                client
                    .feed(PgWireBackendMessage::EmptyQueryResponse(
                        EmptyQueryResponse::new(),
                    ))
                    .await?;
                client.set_state(PgWireConnectionState::ReadyForQuery);
                return Ok(());
            }
            None => return Err(PgWireError::PortalNotFound(name.to_owned())),
        };
        let state = portal.state();
        let mut held = state.lock().await;
        let mut response = match std::mem::take(&mut *held) {
            PortalExecutionState::Initial => {
                match ExtendedQueryHandler::do_query(self, client, portal.as_ref(), max_rows).await
                {
                    Ok(Response::Query(q)) => Some(q),
                    Ok(Response::EmptyQuery) => {
                        client
                            .feed(PgWireBackendMessage::EmptyQueryResponse(
                                EmptyQueryResponse::new(),
                            ))
                            .await?;
                        None
                    }
                    Ok(Response::Execution(tag)) => {
                        send_execution_response(client, tag).await?;
                        // A block's end closes the unnamed portal, as PostgreSQL does.
                        if began != TransactionStatus::Idle
                            && client.transaction_status() == TransactionStatus::Idle
                        {
                            client.portal_store().rm_portal(DEFAULT_NAME);
                        }
                        None
                    }
                    Ok(Response::Error(e)) => {
                        *held = PortalExecutionState::Finished;
                        return Err(PgWireError::UserError(e));
                    }
                    Ok(_) => {
                        *held = PortalExecutionState::Finished;
                        return Err(error("0A000", "COPY is not supported"));
                    }
                    Err(e) => {
                        *held = PortalExecutionState::Finished;
                        return Err(e);
                    }
                }
            }
            PortalExecutionState::Suspended(q) => Some(q),
            PortalExecutionState::Finished => {
                Some(QueryResponse::new(Arc::new(vec![]), stream::empty()))
            }
        };
        *held = PortalExecutionState::Finished;
        if let Some(q) = response.as_mut() {
            let mut sent = 0usize;
            let mut suspended = false;
            loop {
                if max_rows > 0 && sent == max_rows {
                    suspended = true;
                    break;
                }
                match q.data_rows().next().await {
                    Some(row) => {
                        client.feed(PgWireBackendMessage::DataRow(row?)).await?;
                        sent += 1;
                    }
                    None => break,
                }
            }
            if suspended {
                client
                    .send(PgWireBackendMessage::PortalSuspended(PortalSuspended::new()))
                    .await?;
            } else {
                let tag = Tag::new(q.command_tag()).with_rows(sent);
                client
                    .send(PgWireBackendMessage::CommandComplete(tag.into()))
                    .await?;
            }
            if suspended && let Some(q) = response.take() {
                *held = PortalExecutionState::Suspended(q);
            }
        }
        client.set_state(PgWireConnectionState::ReadyForQuery);
        Ok(())
    }

    async fn do_query<C>(
        &self,
        client: &mut C,
        portal: &Portal<Prepared>,
        _max_rows: usize,
    ) -> PgWireResult<Response>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore<Statement = Prepared>,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let prepared = &portal.statement.statement;
        let params = match &prepared.plan {
            Some((plan, _)) => {
                let types = parameter_types(plan)?;
                let refs: Vec<Option<&DataType>> = types.iter().map(Option::as_ref).collect();
                Some(deserialize_parameters(portal, &refs)?)
            }
            None => None,
        };
        // The block's status after the statement; an error fails the block where pgwire
        // reports it (`process_error`).
        let mut status = client.transaction_status();
        let response = self
            .session
            .run(
                client.metadata(),
                &prepared.parsed,
                prepared.plan.as_ref(),
                params,
                &portal.result_column_format,
                &mut status,
            )
            .await?;
        client.set_transaction_status(status);
        Ok(response)
    }
}
