//! Statements of a logged-in connection, over both the simple and the extended query
//! protocol: read-only check ([`crate::statement`]), the role's engine over the current
//! version, planning, a memory pool of the query's own, and a result stream bounded by the
//! statement timeout from the first byte of planning to the last row sent. Each statement
//! writes one audit line when it ends.

use std::fmt::Debug;
use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::ParamValues;
use datafusion::error::DataFusionError;
use datafusion::execution::SessionStateBuilder;
use datafusion::execution::memory_pool::FairSpillPool;
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use datafusion::logical_expr::LogicalPlan;
use datafusion::physical_plan::SendableRecordBatchStream;
use datafusion::prelude::{SQLOptions, SessionContext};
use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::Statement;
use datafusion_postgres::arrow_pg::datatypes::df::deserialize_parameters;
use datafusion_postgres::arrow_pg::datatypes::{
    arrow_schema_to_pg_fields, encode_recordbatch, into_pg_type,
};
use datafusion_postgres::pgwire::api::portal::{Format, Portal};
use datafusion_postgres::pgwire::api::query::{ExtendedQueryHandler, SimpleQueryHandler};
use datafusion_postgres::pgwire::api::results::{
    DataRowEncoder, FieldFormat, FieldInfo, QueryResponse, Response, Tag,
};
use datafusion_postgres::pgwire::api::stmt::QueryParser;
use datafusion_postgres::pgwire::api::store::PortalStore;
use datafusion_postgres::pgwire::api::{ClientInfo, ClientPortalStore, Type};
use datafusion_postgres::pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use datafusion_postgres::pgwire::messages::PgWireBackendMessage;
use datafusion_postgres::pgwire::types::format::FormatOptions;
use futures::{Sink, StreamExt, stream};

use crate::audit::{Entry, Outcome};
use crate::session::Session;
use crate::statement::{Action, ParseError, classify, kind, parse, refusal};

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

/// The value of a server variable for `SHOW` (lower-case name), as PostgreSQL spells it.
fn show_value(session: &Session, name: &str) -> Option<String> {
    Some(match name {
        "server_version" => crate::session::server_version(),
        "server_version_num" => "160006".into(),
        "server_encoding" | "client_encoding" => "UTF8".into(),
        "statement_timeout" => format!("{}ms", session.timeout().as_millis()),
        "transaction_isolation" | "transaction isolation level" => "read committed".into(),
        "transaction_read_only" | "default_transaction_read_only" => "on".into(),
        "standard_conforming_strings" | "integer_datetimes" => "on".into(),
        "is_superuser" => "off".into(),
        "datestyle" => "ISO, MDY".into(),
        "timezone" | "time zone" => "UTC".into(),
        "search_path" => "public".into(),
        "max_identifier_length" => "63".into(),
        _ => return None,
    })
}

/// A one-row, one-text-column response.
fn single_value(name: &str, value: &str) -> PgWireResult<Response> {
    let fields = Arc::new(vec![FieldInfo::new(
        name.into(),
        None,
        None,
        Type::TEXT,
        FieldFormat::Text,
    )]);
    let mut encoder = DataRowEncoder::new(fields.clone());
    encoder.encode_field(&Some(value))?;
    let row = encoder.take_row();
    Ok(Response::Query(QueryResponse::new(
        fields,
        stream::iter([Ok(row)]),
    )))
}

/// A parsed extended-protocol statement: its text, AST and — for queries — the plan made
/// when it was parsed, with the version it was planned on (a newer version re-plans).
#[derive(Debug, Clone)]
pub(crate) struct Prepared {
    sql: String,
    statement: Statement,
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

/// Parameter types of `plan` in `$1, $2, …` order.
fn parameter_types(plan: &LogicalPlan) -> PgWireResult<Vec<Option<DataType>>> {
    let types = plan
        .get_parameter_types()
        .map_err(|e| error("42P18", e.to_string()))?;
    let mut numbered: Vec<(usize, Option<DataType>)> = types
        .into_iter()
        .filter_map(|(name, t)| Some((name.trim_start_matches('$').parse().ok()?, t)))
        .collect();
    numbered.sort_by_key(|(n, _)| *n);
    Ok(numbered.into_iter().map(|(_, t)| t).collect())
}

impl Session {
    /// The statements of `sql`; a write only DataFusion's dialect parses is refused (and
    /// audited) like any other.
    fn parse(&self, sql: &str) -> PgWireResult<Vec<Statement>> {
        parse(&self.shared.parser, sql).map_err(|e| match e {
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
        })
    }

    /// Runs one statement for the logged-in user; `sql` is its text for the fingerprint,
    /// `prepared` the plan made at parse time, `params` the bound parameter values.
    async fn run(
        &self,
        metadata: &std::collections::HashMap<String, String>,
        sql: &str,
        statement: &Statement,
        prepared: Option<&(LogicalPlan, u64)>,
        params: Option<ParamValues>,
        format: &Format,
    ) -> PgWireResult<Response> {
        let Some((login, role)) = self.login() else {
            return Err(error("28000", "not logged in"));
        };
        let shared = &self.shared;
        let mut entry = shared
            .audit
            .start(&login.user, &login.role, &kind(statement), sql);
        let ok = |entry: &mut Entry, r: Response| {
            entry.finish(0, Outcome::Ok, None);
            Ok(r)
        };
        match classify(statement) {
            Action::Refused(what) => {
                entry.finish(0, Outcome::Refused, Some("25006"));
                Err(error("25006", refusal(&what)))
            }
            Action::Begin => ok(&mut entry, Response::TransactionStart(Tag::new("BEGIN"))),
            Action::Commit => ok(&mut entry, Response::TransactionEnd(Tag::new("COMMIT"))),
            Action::Rollback => ok(&mut entry, Response::TransactionEnd(Tag::new("ROLLBACK"))),
            Action::SetTimeout(ms) => {
                self.set_timeout_ms(ms);
                ok(&mut entry, Response::Execution(Tag::new("SET")))
            }
            Action::SetIgnored => ok(&mut entry, Response::Execution(Tag::new("SET"))),
            Action::Show(name) => match show_value(self, &name) {
                Some(v) => {
                    let r = single_value(&name, &v)?;
                    entry.finish(1, Outcome::Ok, None);
                    Ok(r)
                }
                None => {
                    entry.finish(0, Outcome::Error, Some("42704"));
                    Err(error(
                        "42704",
                        format!("unrecognized configuration parameter \"{name}\""),
                    ))
                }
            },
            Action::Query => {
                let deadline = tokio::time::Instant::now() + self.timeout();
                let started = Instant::now();
                let work = async {
                    let engine = shared
                        .engines
                        .get(&login.role, role)
                        .await
                        .map_err(|e| DataFusionError::External(Box::new(e)))?;
                    let version = engine.version();
                    let mut plan = match prepared {
                        Some((p, v)) if *v == version => p.clone(),
                        _ => plan(engine.context(), statement).await?,
                    };
                    if let Some(params) = params {
                        plan = plan.replace_params_with_values(&params)?;
                    }
                    // The query's own memory pool; the engine's Parquet metadata and file
                    // listing caches, spill folder and object stores are shared, so footers
                    // are not read again for every statement.
                    let runtime =
                        RuntimeEnvBuilder::from_runtime_env(&engine.context().runtime_env())
                            .with_memory_pool(Arc::new(FairSpillPool::new(
                                shared
                                    .config
                                    .server
                                    .query_memory_mib
                                    .saturating_mul(1 << 20),
                            )))
                            .build_arc()?;
                    let state = SessionStateBuilder::new_from_existing(engine.context().state())
                        .with_runtime_env(runtime)
                        .build();
                    let ctx = SessionContext::new_with_state(state);
                    let df = ctx.execute_logical_plan(plan).await?;
                    let schema = Arc::new(df.schema().as_arrow().clone());
                    let stream = df.execute_stream().await?;
                    Ok::<_, DataFusionError>((engine, version, schema, stream))
                };
                let (engine, version, schema, stream) =
                    match tokio::time::timeout_at(deadline, work).await {
                        Err(_) => {
                            entry.finish(0, Outcome::Timeout, Some(TIMEOUT));
                            return Err(timeout_error());
                        }
                        Ok(Err(e)) => return Err(fail(&mut entry, 0, &e)),
                        Ok(Ok(x)) => x,
                    };
                entry.set_version(version);
                let options = Arc::new(FormatOptions::from_client_metadata(metadata));
                let fields = Arc::new(arrow_schema_to_pg_fields(&schema, format, Some(options))?);
                tracing::debug!(elapsed_ms = started.elapsed().as_millis() as u64, "planned");
                Ok(Response::Query(QueryResponse::new(
                    fields.clone(),
                    rows(stream, fields, deadline, entry, engine),
                )))
            }
        }
    }
}

/// The result rows, ending with an error at `deadline`; the audit line is written at the
/// end (or when the client stops reading and the stream is dropped). `engine` is held to
/// the last row: the version it reads stays in use.
fn rows(
    batches: SendableRecordBatchStream,
    fields: Arc<Vec<FieldInfo>>,
    deadline: tokio::time::Instant,
    entry: Entry,
    engine: Arc<acrm_olap::Engine>,
) -> impl futures::Stream<Item = PgWireResult<datafusion_postgres::pgwire::messages::data::DataRow>>
+ Send
+ 'static {
    struct State {
        batches: SendableRecordBatchStream,
        entry: Entry,
        rows: u64,
        done: bool,
        _engine: Arc<acrm_olap::Engine>,
    }
    let state = State {
        batches,
        entry,
        rows: 0,
        done: false,
        _engine: engine,
    };
    stream::unfold(state, move |mut s| {
        let fields = fields.clone();
        async move {
            if s.done {
                return None;
            }
            let item = match tokio::time::timeout_at(deadline, s.batches.next()).await {
                Err(_) => {
                    s.done = true;
                    s.entry.finish(s.rows, Outcome::Timeout, Some(TIMEOUT));
                    vec![Err(timeout_error())]
                }
                Ok(None) => {
                    s.entry.finish(s.rows, Outcome::Ok, None);
                    return None;
                }
                Ok(Some(Err(e))) => {
                    s.done = true;
                    vec![Err(fail(&mut s.entry, s.rows, &e))]
                }
                Ok(Some(Ok(batch))) => {
                    s.rows += batch.num_rows() as u64;
                    encode_recordbatch(fields, batch).collect()
                }
            };
            Some((stream::iter(item), s))
        }
    })
    .flatten()
}

#[async_trait]
impl SimpleQueryHandler for Queries {
    async fn do_query<C>(&self, client: &mut C, query: &str) -> PgWireResult<Vec<Response>>
    where
        C: ClientInfo + ClientPortalStore + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::PortalStore: PortalStore,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        let statements = self.session.parse(query)?;
        if statements.is_empty() {
            return Ok(vec![Response::EmptyQuery]);
        }
        let mut responses = Vec::with_capacity(statements.len());
        for statement in &statements {
            let sql = statement.to_string();
            match self
                .session
                .run(
                    client.metadata(),
                    &sql,
                    statement,
                    None,
                    None,
                    &Format::UnifiedText,
                )
                .await
            {
                Ok(r) => responses.push(r),
                Err(e) => {
                    // Like PostgreSQL: the statements before are answered, the rest skipped.
                    responses.push(Response::Error(Box::new(e.into())));
                    break;
                }
            }
        }
        Ok(responses)
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
        let mut statements = self.session.parse(sql)?;
        if statements.is_empty() {
            return Ok(None);
        }
        if statements.len() > 1 {
            return Err(error(
                "42601",
                "cannot insert multiple commands into a prepared statement",
            ));
        }
        let statement = statements.remove(0);
        // Queries are planned now for their parameter and result types; the rest is
        // checked and answered when executed.
        let plan = match (classify(&statement), self.session.login()) {
            (Action::Query, Some((login, role))) => {
                let engine = self
                    .session
                    .shared
                    .engines
                    .get(&login.role, role)
                    .await
                    .map_err(|e| error("XX000", e.to_string()))?;
                let p = plan(engine.context(), &statement).await.map_err(|e| {
                    let (code, message) = engine_error(&e);
                    error(code, message)
                })?;
                Some((p, engine.version()))
            }
            _ => None,
        };
        Ok(Some(Prepared {
            sql: sql.to_string(),
            statement,
            plan,
        }))
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
        match (&stmt.plan, classify(&stmt.statement)) {
            (Some((plan, _)), _) => arrow_schema_to_pg_fields(
                plan.schema().as_arrow(),
                column_format.unwrap_or(&Format::UnifiedText),
                None,
            ),
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
        self.session
            .run(
                client.metadata(),
                &prepared.sql,
                &prepared.statement,
                prepared.plan.as_ref(),
                params,
                &portal.result_column_format,
            )
            .await
    }
}
