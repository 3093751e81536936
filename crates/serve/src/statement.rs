//! What a statement may do on a read-only server: queries reach the engine; transaction
//! control and a few client settings are answered by the server; everything else — DDL,
//! DML, COPY, `CREATE EXTERNAL TABLE`, engine settings — is refused before planning. (The
//! engine also plans with DDL, DML and statements switched off, a second wall.)

use datafusion::sql::parser::{DFParser, Statement as DfStatement};
use datafusion::sql::sqlparser::ast::{Set, Statement};
use datafusion_postgres::datafusion_pg_catalog::sql::PostgresCompatibilityParser;

/// Session variables a client may `SET`: they change nothing the server does (formatting is
/// the server's), but drivers and BI tools send them on connect. `statement_timeout` is
/// honoured, never above the server's limit.
const HARMLESS_SETTINGS: &[&str] = &[
    "application_name",
    "bytea_output",
    "client_encoding",
    "client_min_messages",
    "datestyle",
    "extra_float_digits",
    "intervalstyle",
    "lc_messages",
    "search_path",
    "standard_conforming_strings",
    "timezone",
];

/// How the server handles one statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Planned and run by the engine (SELECT, WITH, VALUES, EXPLAIN of a query, SHOW and
    /// DESCRIBE of engine objects).
    Query,
    /// `BEGIN` / `START TRANSACTION`: acknowledged (reads see one version anyway).
    Begin,
    /// `COMMIT` / `END`.
    Commit,
    /// `ROLLBACK` / `ABORT`.
    Rollback,
    /// `SET statement_timeout` to this many milliseconds (0: the server's limit).
    SetTimeout(u64),
    /// A harmless client setting: acknowledged, ignored.
    SetIgnored,
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
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ParseError::Syntax(m) => f.write_str(m),
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
pub fn parse(
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

/// Decides what the server does with `statement`.
pub fn classify(statement: &Statement) -> Action {
    match statement {
        Statement::Query(_) | Statement::ExplainTable { .. } => Action::Query,
        Statement::Explain { statement, .. } => match statement.as_ref() {
            Statement::Query(_) => Action::Query,
            inner => Action::Refused(format!("EXPLAIN {}", kind(inner))),
        },
        Statement::StartTransaction { .. } => Action::Begin,
        Statement::Commit { .. } => Action::Commit,
        Statement::Rollback { .. } => Action::Rollback,
        Statement::ShowVariable { variable } => {
            let name = variable
                .iter()
                .map(|i| i.value.to_lowercase())
                .collect::<Vec<_>>()
                .join(" ");
            if name.starts_with("datafusion") || name == "all" {
                Action::Query
            } else {
                Action::Show(name)
            }
        }
        Statement::ShowTables { .. } | Statement::ShowColumns { .. } => Action::Query,
        Statement::Set(set) => match set {
            Set::SingleAssignment {
                variable, values, ..
            } => {
                let name = variable.to_string().to_lowercase();
                let value = values.first().map(ToString::to_string).unwrap_or_default();
                if name == "statement_timeout" {
                    match duration_ms(&value) {
                        Some(ms) => Action::SetTimeout(ms),
                        None => Action::Refused(format!("SET statement_timeout = {value}")),
                    }
                } else if HARMLESS_SETTINGS.contains(&name.as_str()) {
                    Action::SetIgnored
                } else {
                    Action::Refused(format!("SET {name}"))
                }
            }
            Set::SetTimeZone { .. } | Set::SetNames { .. } => Action::SetIgnored,
            other => Action::Refused(kind(&Statement::Set(other.clone()))),
        },
        other => Action::Refused(kind(other)),
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
            "SHOW ALL",
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
        assert_eq!(action("SET extra_float_digits = 3"), Action::SetIgnored);
        assert_eq!(action("SET application_name = 'x'"), Action::SetIgnored);
        assert_eq!(action("BEGIN"), Action::Begin);
        assert_eq!(action("COMMIT"), Action::Commit);
        assert_eq!(action("ROLLBACK"), Action::Rollback);
        assert_eq!(
            action("SHOW server_version"),
            Action::Show("server_version".into())
        );
    }
}
