//! What a statement may do on a read-only server: queries reach the engine; transaction
//! control and a few client settings are answered by the server; everything else — DDL,
//! DML, COPY, `CREATE EXTERNAL TABLE`, engine settings — is refused before planning. (The
//! engine also plans with DDL, DML and statements switched off, a second wall.)

use std::ops::ControlFlow;

use datafusion::sql::parser::{DFParser, Statement as DfStatement};
use datafusion::sql::sqlparser::ast::{
    DiscardObject, Expr, Query, Reset, Set, SetExpr, Statement, TransactionAccessMode,
    TransactionMode, Value, Visit, Visitor,
};
use datafusion::sql::sqlparser::dialect::PostgreSqlDialect;
use datafusion::sql::sqlparser::keywords::Keyword;
use datafusion::sql::sqlparser::tokenizer::{Token, Tokenizer, Word};
use datafusion_postgres::datafusion_pg_catalog::sql::PostgresCompatibilityParser;

/// Deepest nesting of expressions and subqueries a statement may have. Planning and
/// evaluating recurse once per level; a left-deep chain like `1+1+…+1` or a long
/// `a OR b OR …` nests one level per operator. Deeper statements are refused (SQLSTATE
/// 54001) before anything walks them.
pub const MAX_NESTING: usize = 1_000;

/// Most tokens one request's text may have. The parser builds operator chains without
/// recursing, but the rewrites after it recurse once per nesting level: this bound is
/// checked on the tokens (an iterative pass) so no text can nest deeper than those
/// rewrites' stack allows before [`MAX_NESTING`] is checked. 200,000 tokens are an
/// `IN` list of 100,000 values.
pub const MAX_TOKENS: usize = 200_000;

/// How the server handles one statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Planned and run by the engine (SELECT, WITH, VALUES, EXPLAIN of a query, SHOW and
    /// DESCRIBE of engine objects).
    Query,
    /// `BEGIN` / `START TRANSACTION` (read-only, any isolation level).
    Begin,
    /// `COMMIT` / `END`.
    Commit,
    /// `ROLLBACK` / `ABORT`.
    Rollback,
    /// `SAVEPOINT name`.
    Savepoint(String),
    /// `RELEASE [SAVEPOINT] name`.
    Release(String),
    /// `ROLLBACK TO [SAVEPOINT] name`.
    RollbackTo(String),
    /// `SET statement_timeout` to this many milliseconds (0: the server's limit).
    SetTimeout(u64),
    /// `SET name = value` of a session parameter ([`crate::settings`] checks it).
    Set {
        /// Parameter name as written.
        name: String,
        /// Value, without quotes.
        value: String,
    },
    /// `SET TRANSACTION` / `SET SESSION CHARACTERISTICS` with read-only modes: every
    /// transaction is read-only already.
    SetTransaction,
    /// `RESET name`, or `RESET ALL` (None).
    Reset(Option<String>),
    /// `DISCARD ALL` (true) or `DISCARD PLANS | SEQUENCES | TEMP` (false).
    Discard(bool),
    /// A server variable answered by the server (lower-case name).
    Show(String),
    /// Not allowed; the text names what was refused.
    Refused(String),
}

/// Second words that name what a leading keyword acts on.
const OBJECT_WORDS: &[&str] = &[
    "ANALYZE",
    "CATALOG",
    "DATABASE",
    "EXTERNAL",
    "FUNCTION",
    "INDEX",
    "INTO",
    "OR",
    "ROLE",
    "SCHEMA",
    "TABLE",
    "TEMP",
    "TEMPORARY",
    "TRANSACTION",
    "USER",
    "VIEW",
];

/// The statement's leading keywords (e.g. `SELECT`, `CREATE TABLE`, `INSERT INTO`) for
/// messages and the audit log: keywords only, never a name, literal or value.
pub fn kind(statement: &Statement) -> String {
    let text = statement.to_string();
    let mut words = text.split_whitespace().map(str::to_uppercase);
    let first: String = words
        .next()
        .unwrap_or_default()
        .chars()
        .take_while(char::is_ascii_alphabetic)
        .collect();
    match words.next() {
        Some(w) if OBJECT_WORDS.contains(&w.as_str()) => format!("{first} {w}"),
        _ => first,
    }
}

/// Milliseconds of a PostgreSQL duration setting (`5000`, `'5s'`, `'250ms'`, `'2min'`).
fn duration_ms(value: &str) -> Option<u64> {
    let v = value.trim().trim_matches(['\'', '"']).trim();
    let (number, unit) = v
        .find(|c: char| !c.is_ascii_digit())
        .map_or((v, ""), |i| v.split_at(i));
    let n: u64 = number.parse().ok()?;
    let factor = match unit.trim() {
        "" | "ms" => 1,
        "s" => 1000,
        "min" => 60_000,
        "h" => 3_600_000,
        _ => return None,
    };
    n.checked_mul(factor)
}

/// Why statement text was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseError {
    /// Not SQL the server understands (the parser's message).
    Syntax(String),
    /// A write only DataFusion's own dialect parses; the text names it.
    Write(String),
    /// Too long or nested too deeply to be planned safely (the text says which limit).
    TooComplex(String),
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParseError::Syntax(m) | ParseError::TooComplex(m) => f.write_str(m),
            ParseError::Write(what) => f.write_str(&refusal(what)),
        }
    }
}

/// The message refusing statement `what` on the read-only server.
pub fn refusal(what: &str) -> String {
    format!(
        "cannot execute {what}: acrm serve is read-only (SELECT, WITH, VALUES, EXPLAIN and SHOW are allowed)"
    )
}

/// The statements of `sql` as PostgreSQL writes them. Text only DataFusion's own dialect
/// parses (`CREATE EXTERNAL TABLE … STORED AS CSV`, `COPY … TO`) is a [`ParseError::Write`],
/// refused as a write rather than reported as a syntax error.
///
/// Text with more than [`MAX_TOKENS`] tokens, or a statement nested deeper than
/// [`MAX_NESTING`], is a [`ParseError::TooComplex`].
pub fn parse(
    parser: &PostgresCompatibilityParser,
    sql: &str,
) -> Result<Vec<Statement>, ParseError> {
    let tokens = Tokenizer::new(&PostgreSqlDialect {}, sql)
        .tokenize()
        .map_err(|e| ParseError::Syntax(e.to_string()))?;
    let counted = tokens
        .iter()
        .filter(|t| !matches!(t, Token::Whitespace(_)))
        .count();
    if counted > MAX_TOKENS {
        return Err(ParseError::TooComplex(format!(
            "statement too long: {counted} tokens, at most {MAX_TOKENS} are accepted"
        )));
    }
    let statements = parse_text(parser, sql)?;
    if statements.iter().any(too_deep) {
        return Err(ParseError::TooComplex(format!(
            "statement too complex: expressions or subqueries nested more than {MAX_NESTING} deep"
        )));
    }
    // Parsed again as written only where datafusion-postgres's rules can have changed what
    // it answers: a subquery (a second SELECT) or a `regclass` cast.
    let words = |keep: &dyn Fn(&Word) -> bool| {
        tokens
            .iter()
            .filter(|t| matches!(t, Token::Word(w) if keep(w)))
            .count()
    };
    let rewritten = words(&|w| w.keyword == Keyword::SELECT) > 1
        || words(&|w| w.value.eq_ignore_ascii_case("regclass")) > 0;
    let mut statements = if rewritten {
        crate::compat::keep_subqueries(parser, sql, statements)
    } else {
        statements
    };
    statements
        .iter_mut()
        .for_each(crate::compat::rewrite_catalog_functions);
    Ok(statements)
}

/// Counts nesting on the way down and stops descending past [`MAX_NESTING`], so the walk
/// itself stays shallow.
struct Nesting {
    depth: usize,
}

impl Nesting {
    fn enter(&mut self) -> ControlFlow<()> {
        self.depth += 1;
        if self.depth > MAX_NESTING {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    }

    fn leave(&mut self) -> ControlFlow<()> {
        self.depth -= 1;
        ControlFlow::Continue(())
    }
}

impl Visitor for Nesting {
    type Break = ();

    fn pre_visit_expr(&mut self, _: &Expr) -> ControlFlow<()> {
        self.enter()
    }

    fn post_visit_expr(&mut self, _: &Expr) -> ControlFlow<()> {
        self.leave()
    }

    fn pre_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
        self.enter()
    }

    fn post_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
        self.leave()
    }
}

/// Whether `statement` nests deeper than [`MAX_NESTING`].
pub fn too_deep(statement: &Statement) -> bool {
    statement.visit(&mut Nesting { depth: 0 }).is_break()
}

/// Whether `statement` shows what only an unrestricted role may see: `EXPLAIN ANALYZE`
/// (row counts of every operator, below any row scope) and `EXPLAIN VERBOSE` (plan
/// statistics: Parquet minimum and maximum values of raw, unmasked columns).
pub fn shows_statistics(statement: &Statement) -> bool {
    let Statement::Explain {
        analyze,
        verbose,
        options,
        ..
    } = statement
    else {
        return false;
    };
    *analyze
        || *verbose
        || options.iter().flatten().any(|o| {
            let name = o.name.value.to_lowercase();
            name == "analyze" || name == "verbose"
        })
}

fn parse_text(
    parser: &PostgresCompatibilityParser,
    sql: &str,
) -> Result<Vec<Statement>, ParseError> {
    parser.parse(sql).map_err(|e| {
        let write = DFParser::parse_sql(sql).ok().and_then(|statements| {
            statements
                .iter()
                .find(|s| !matches!(s, DfStatement::Statement(_)))
                .map(|s| {
                    s.to_string()
                        .split_whitespace()
                        .take(3)
                        .collect::<Vec<_>>()
                        .join(" ")
                })
        });
        write.map_or_else(|| ParseError::Syntax(e.to_string()), ParseError::Write)
    })
}

/// Whether `modes` ask for a read-write transaction.
fn read_write(modes: &[TransactionMode]) -> bool {
    modes.iter().any(|m| {
        matches!(
            m,
            TransactionMode::AccessMode(TransactionAccessMode::ReadWrite)
        )
    })
}

/// A `SET` value as the client meant it: a quoted string without its quotes, anything
/// else (numbers, identifiers, lists) as written.
fn setting_value(values: &[Expr]) -> String {
    values
        .iter()
        .map(|v| match v {
            Expr::Value(v) => match &v.value {
                Value::SingleQuotedString(s) => s.clone(),
                other => other.to_string(),
            },
            other => other.to_string(),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Decides what the server does with `statement`.
pub fn classify(statement: &Statement) -> Action {
    match statement {
        Statement::Query(_) => match query_write(statement) {
            Some(write) => Action::Refused(write),
            None => Action::Query,
        },
        Statement::ExplainTable { .. } => Action::Query,
        Statement::Explain { statement, .. } => match statement.as_ref() {
            Statement::Query(_) => match query_write(statement) {
                Some(write) => Action::Refused(format!("EXPLAIN {write}")),
                None => Action::Query,
            },
            inner => Action::Refused(format!("EXPLAIN {}", kind(inner))),
        },
        // A BEGIN … END block with statements inside is a procedure, not a transaction.
        Statement::StartTransaction { statements, .. } if !statements.is_empty() => {
            Action::Refused("BEGIN … END".into())
        }
        Statement::StartTransaction { modes, .. } if read_write(modes) => {
            Action::Refused("BEGIN READ WRITE".into())
        }
        Statement::StartTransaction { .. } => Action::Begin,
        Statement::Commit { .. } => Action::Commit,
        Statement::Rollback {
            savepoint: Some(name),
            ..
        } => Action::RollbackTo(name.value.clone()),
        Statement::Rollback { .. } => Action::Rollback,
        Statement::Savepoint { name } => Action::Savepoint(name.value.clone()),
        Statement::ReleaseSavepoint { name } => Action::Release(name.value.clone()),
        Statement::Reset(reset) => Action::Reset(match &reset.reset {
            Reset::ALL => None,
            Reset::ConfigurationParameter(name) => Some(name.to_string().to_lowercase()),
        }),
        Statement::Discard { object_type } => Action::Discard(*object_type == DiscardObject::ALL),
        Statement::ShowVariable { variable } => {
            let name = variable
                .iter()
                .map(|i| i.value.to_lowercase())
                .collect::<Vec<_>>()
                .join(" ");
            // Every variable is the server's: engine settings (`datafusion.*`) are not
            // shown, they name server paths and are nobody's business on the wire.
            Action::Show(name)
        }
        Statement::ShowTables { .. } | Statement::ShowColumns { .. } => Action::Query,
        Statement::Set(set) => match set {
            Set::SingleAssignment {
                variable, values, ..
            } => {
                let name = variable.to_string().to_lowercase();
                let value = setting_value(values);
                if name == "statement_timeout" {
                    match duration_ms(&value) {
                        Some(ms) => Action::SetTimeout(ms),
                        None => Action::Refused(format!("SET statement_timeout = {value}")),
                    }
                } else if name.contains('.') {
                    // Engine settings (`datafusion.*`) are the server's.
                    Action::Refused(format!("SET {name}"))
                } else {
                    Action::Set { name, value }
                }
            }
            Set::SetTimeZone { value, .. } => Action::Set {
                name: "timezone".into(),
                value: setting_value(std::slice::from_ref(value)),
            },
            Set::SetNames { charset_name, .. } => Action::Set {
                name: "client_encoding".into(),
                value: charset_name.value.clone(),
            },
            Set::SetTransaction { modes, .. } if read_write(modes) => {
                Action::Refused("SET TRANSACTION READ WRITE".into())
            }
            Set::SetTransaction { .. } => Action::SetTransaction,
            other => Action::Refused(kind(&Statement::Set(other.clone()))),
        },
        other => Action::Refused(kind(other)),
    }
}

/// The write a query statement carries, if any: a data-modifying statement as the body
/// of a query or of one of its CTEs (`WITH a AS (…) INSERT …`, `WITH d AS (DELETE …
/// RETURNING *) SELECT …`), or `SELECT … INTO` (which creates a table) — anywhere,
/// subqueries included. PostgreSQL runs these; here they are refused before planning like
/// any other write.
fn query_write(statement: &Statement) -> Option<String> {
    /// Stops at the first query whose body writes.
    struct Writes(Option<String>);
    impl Visitor for Writes {
        type Break = ();
        fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
            self.0 = body_write(&query.body);
            if self.0.is_some() {
                ControlFlow::Break(())
            } else {
                ControlFlow::Continue(())
            }
        }
    }
    let mut writes = Writes(None);
    let _ = statement.visit(&mut writes);
    writes.0
}

/// The write of one query body (its set operations included; nested queries are the
/// visitor's).
fn body_write(body: &SetExpr) -> Option<String> {
    match body {
        SetExpr::Insert(s) | SetExpr::Update(s) | SetExpr::Delete(s) | SetExpr::Merge(s) => {
            Some(kind(s))
        }
        SetExpr::Select(select) if select.into.is_some() => Some("SELECT INTO".into()),
        SetExpr::SetOperation { left, right, .. } => body_write(left).or_else(|| body_write(right)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn action(sql: &str) -> Action {
        let statements = PostgresCompatibilityParser::new()
            .parse(sql)
            .unwrap_or_else(|e| panic!("{sql}: {e}"));
        classify(&statements[0])
    }

    #[test]
    fn queries_reach_the_engine() {
        for sql in [
            "SELECT 1",
            "WITH a AS (SELECT 1 AS x) SELECT x FROM a",
            "EXPLAIN SELECT * FROM fact_sales",
            "VALUES (1)",
            "SHOW TABLES",
        ] {
            assert_eq!(action(sql), Action::Query, "{sql}");
        }
    }

    #[test]
    fn writes_and_file_access_are_refused() {
        for (sql, what) in [
            ("CREATE TABLE t (a INT)", "CREATE TABLE"),
            ("CREATE VIEW v AS SELECT 1", "CREATE VIEW"),
            (
                "CREATE EXTERNAL TABLE t STORED AS PARQUET LOCATION '/etc'",
                "CREATE EXTERNAL",
            ),
            ("INSERT INTO dim_customer VALUES (1)", "INSERT INTO"),
            ("DELETE FROM fact_sales", "DELETE"),
            ("UPDATE fact_sales SET amount = 0", "UPDATE"),
            ("DROP TABLE fact_sales", "DROP TABLE"),
            ("COPY fact_sales TO '/tmp/out.csv'", "COPY"),
            ("EXPLAIN ANALYZE INSERT INTO t VALUES (1)", "EXPLAIN INSERT"),
            // Writes inside a query (the property the `sql_statement` fuzz target checks).
            (
                "WITH a AS (SELECT 1) INSERT INTO t SELECT * FROM a",
                "INSERT INTO",
            ),
            (
                "WITH d AS (DELETE FROM fact_sales RETURNING *) SELECT * FROM d",
                "DELETE",
            ),
            (
                "SELECT * FROM (WITH u AS (UPDATE t SET a = 1 RETURNING a) SELECT a FROM u) s",
                "UPDATE",
            ),
            ("SELECT 1 UNION SELECT * INTO t2 FROM t", "SELECT INTO"),
            ("SELECT * INTO copy FROM dim_customer", "SELECT INTO"),
            (
                "EXPLAIN WITH a AS (SELECT 1) INSERT INTO t SELECT * FROM a",
                "EXPLAIN INSERT INTO",
            ),
            (
                "SET datafusion.execution.target_partitions = 1",
                "SET datafusion",
            ),
        ] {
            match action(sql) {
                Action::Refused(text) => assert!(text.starts_with(what), "{sql}: {text}"),
                other => panic!("{sql} was not refused: {other:?}"),
            }
        }
    }

    #[test]
    fn datafusion_only_writes_are_refused_as_writes_not_syntax_errors() {
        let parser = PostgresCompatibilityParser::new();
        for sql in [
            "CREATE EXTERNAL TABLE t STORED AS CSV LOCATION '/etc/passwd'",
            "COPY fact_sales TO '/tmp/x.parquet' STORED AS PARQUET",
        ] {
            let err = parse(&parser, sql).expect_err(sql).to_string();
            assert!(err.contains("read-only"), "{sql}: {err}");
        }
        let err = parse(&parser, "SELEC 1").expect_err("syntax").to_string();
        assert!(!err.contains("read-only"), "{err}");
    }

    /// Runs `f` on a thread with the lanes' stack, where the server parses.
    fn on_lane_stack(f: impl FnOnce() + Send + 'static) {
        std::thread::Builder::new()
            .stack_size(crate::lanes::STACK_BYTES)
            .spawn(f)
            .expect("thread")
            .join()
            .expect("no panic");
    }

    #[test]
    fn the_deepest_chain_the_token_limit_lets_through_is_refused_cleanly() {
        on_lane_stack(|| {
            let parser = PostgresCompatibilityParser::new();
            let terms = MAX_TOKENS / 2;
            let sql = format!("SELECT {}", vec!["1"; terms].join("+"));
            assert!(matches!(
                parse(&parser, &sql),
                Err(ParseError::TooComplex(_))
            ));
        });
    }

    #[test]
    fn nesting_and_length_are_bounded_before_any_deep_walk() {
        on_lane_stack(nesting_and_length);
    }

    fn nesting_and_length() {
        let parser = PostgresCompatibilityParser::new();
        let chain = |n: usize| format!("SELECT {}", vec!["1"; n].join("+"));
        // A statement as deep as allowed parses; one level more is refused, and so is a
        // chain far deeper than any stack.
        assert!(parse(&parser, &chain(MAX_NESTING - 1)).is_ok());
        for sql in [
            chain(MAX_NESTING + 1),
            format!("SELECT 1 WHERE {}", vec!["true"; 5_000].join(" OR ")),
        ] {
            match parse(&parser, &sql) {
                Err(ParseError::TooComplex(m)) => assert!(m.contains("nested"), "{m}"),
                other => panic!("not refused: {:?}", other.map(|s| s.len())),
            }
        }
        let long = format!("SELECT 1 WHERE 1 IN ({})", vec!["1"; MAX_TOKENS].join(","));
        match parse(&parser, &long) {
            Err(ParseError::TooComplex(m)) => assert!(m.contains("tokens"), "{m}"),
            other => panic!("not refused: {:?}", other.map(|s| s.len())),
        }
        // Wide is not deep: a long IN list and many CASE branches are fine.
        let wide = format!("SELECT 1 WHERE 1 IN ({})", vec!["1"; 20_000].join(","));
        assert!(parse(&parser, &wide).is_ok());
    }

    #[test]
    fn explain_analyze_and_verbose_show_statistics() {
        let parser = PostgresCompatibilityParser::new();
        for (sql, shows) in [
            ("EXPLAIN SELECT 1", false),
            ("EXPLAIN ANALYZE SELECT 1", true),
            ("EXPLAIN VERBOSE SELECT 1", true),
            ("EXPLAIN (ANALYZE) SELECT 1", true),
            ("EXPLAIN (verbose true) SELECT 1", true),
            ("SELECT 1", false),
        ] {
            let statements = parse(&parser, sql).expect(sql);
            assert_eq!(shows_statistics(&statements[0]), shows, "{sql}");
        }
    }

    #[test]
    fn comment_functions_read_pg_description() {
        let parser = PostgresCompatibilityParser::new();
        let statements = parse(
            &parser,
            "SELECT pg_catalog.obj_description(c.oid, 'pg_class'), col_description(c.oid, 2) FROM pg_catalog.pg_class c",
        )
        .expect("parse");
        let text = statements[0].to_string();
        assert!(!text.contains("_description("), "{text}");
        let regtype = parse(
            &parser,
            "SELECT oid FROM pg_type t WHERE t.oid = to_regtype($1)",
        )
        .expect("parse")[0]
            .to_string();
        assert!(
            regtype.contains("WHERE typname = regexp_replace(lower($1)"),
            "{regtype}"
        );
        assert!(
            text.contains("WHERE objoid = c.oid AND objsubid = 0")
                && text.contains("WHERE objoid = c.oid AND objsubid = 2"),
            "{text}"
        );
    }

    #[test]
    fn a_catalog_subquery_filtering_on_the_outer_row_is_guarded_by_case() {
        let parser = PostgresCompatibilityParser::new();
        let sql = "SELECT coalesce((SELECT t.typname FROM pg_catalog.pg_type t \
                   WHERE a.atthasdef AND t.oid = a.atttypid), '') FROM pg_catalog.pg_attribute a";
        let text = parse(&parser, sql).expect("parse")[0].to_string();
        assert!(
            text.contains("CASE WHEN (a.atthasdef) THEN (SELECT max(t.typname) FROM pg_catalog.pg_type t WHERE (t.oid = a.atttypid)) END"),
            "{text}"
        );
        // A subquery of a table acrm never fills (no column has a default) is NULL.
        let sql = "SELECT CASE WHEN a.atthasdef THEN (SELECT pg_get_expr(d.adbin, d.adrelid) \
                   FROM pg_catalog.pg_attrdef d WHERE d.adrelid = a.attrelid) END \
                   FROM pg_catalog.pg_attribute a";
        let text = parse(&parser, sql).expect("parse")[0].to_string();
        assert_eq!(
            text,
            "SELECT CASE WHEN a.atthasdef THEN NULL END FROM pg_catalog.pg_attribute a"
        );
        // A subquery over the warehouse is left as written: never NULL, never cut to one row.
        for sql in [
            "SELECT (SELECT x FROM t WHERE t.k = u.k) FROM u",
            "SELECT (SELECT max(fact_sales.revenue) FROM fact_sales) AS top",
        ] {
            let kept = parse(&parser, sql).expect("parse")[0].to_string();
            let inner = &sql[sql.find("(SELECT").expect("subquery")..];
            let inner = &inner[..=inner.find(')').expect("end")];
            assert!(kept.contains(inner), "{sql} → {kept}");
            assert!(!kept.contains("NULL") && !kept.contains("LIMIT"), "{kept}");
        }
    }

    #[test]
    fn kinds_are_keywords_only() {
        let parser = PostgresCompatibilityParser::new();
        for (sql, expected) in [
            ("SELECT 'jane@example.com'", "SELECT"),
            ("select email from dim_customer", "SELECT"),
            ("WITH a AS (SELECT 1) SELECT * FROM a", "WITH"),
            ("CREATE TABLE secret_name (a INT)", "CREATE TABLE"),
            ("INSERT INTO t VALUES ('x')", "INSERT INTO"),
        ] {
            let statements = parse(&parser, sql).expect("parse");
            assert_eq!(kind(&statements[0]), expected, "{sql}");
        }
    }

    #[test]
    fn client_settings_and_transactions_are_answered_by_the_server() {
        assert_eq!(
            action("SET statement_timeout = '2s'"),
            Action::SetTimeout(2000)
        );
        assert_eq!(
            action("SET statement_timeout TO 150"),
            Action::SetTimeout(150)
        );
        assert_eq!(
            action("SET extra_float_digits = 3"),
            Action::Set {
                name: "extra_float_digits".into(),
                value: "3".into()
            }
        );
        assert_eq!(
            action("SET application_name = 'x'"),
            Action::Set {
                name: "application_name".into(),
                value: "x".into()
            }
        );
        assert_eq!(
            action("SET TIME ZONE 'Europe/Berlin'"),
            Action::Set {
                name: "timezone".into(),
                value: "Europe/Berlin".into()
            }
        );
        assert_eq!(action("BEGIN READ ONLY"), Action::Begin);
        assert_eq!(
            action("START TRANSACTION ISOLATION LEVEL REPEATABLE READ"),
            Action::Begin
        );
        assert_eq!(
            action("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY"),
            Action::SetTransaction
        );
        assert_eq!(
            action("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE"),
            Action::SetTransaction
        );
        assert_eq!(action("SAVEPOINT sa_1"), Action::Savepoint("sa_1".into()));
        assert_eq!(
            action("RELEASE SAVEPOINT sa_1"),
            Action::Release("sa_1".into())
        );
        assert_eq!(
            action("ROLLBACK TO SAVEPOINT sa_1"),
            Action::RollbackTo("sa_1".into())
        );
        assert_eq!(action("RESET ALL"), Action::Reset(None));
        assert_eq!(
            action("RESET Application_Name"),
            Action::Reset(Some("application_name".into()))
        );
        assert_eq!(action("DISCARD ALL"), Action::Discard(true));
        for (sql, what) in [
            ("BEGIN READ WRITE", "BEGIN READ WRITE"),
            ("SET TRANSACTION READ WRITE", "SET TRANSACTION READ WRITE"),
            ("SET ROLE postgres", "SET"),
            ("SET SESSION AUTHORIZATION postgres", "SET"),
        ] {
            match action(sql) {
                Action::Refused(text) => assert!(text.starts_with(what), "{sql}: {text}"),
                other => panic!("{sql} was not refused: {other:?}"),
            }
        }
        assert_eq!(action("BEGIN"), Action::Begin);
        assert_eq!(action("COMMIT"), Action::Commit);
        assert_eq!(action("ROLLBACK"), Action::Rollback);
        assert_eq!(
            action("SHOW server_version"),
            Action::Show("server_version".into())
        );
        // Engine settings are not shown on the wire (they name server paths).
        assert_eq!(action("SHOW ALL"), Action::Show("all".into()));
        assert_eq!(
            action("SHOW datafusion.runtime.temp_directory"),
            Action::Show("datafusion runtime temp_directory".into())
        );
    }
}
