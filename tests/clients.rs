//! The compatibility matrix: every client an analyst connects with — SQLAlchemy + psycopg and
//! pandas, asyncpg, pgJDBC (what DBeaver, Metabase and Tableau use), node-postgres, pgx and
//! R's DBI — with its real driver against a live `acrm serve` on 127.0.0.1. Each program in
//! `tests/clients/` logs in with SCRAM as the analyst role, lists tables, views, columns and
//! a primary key through the driver's introspection, runs a parameterised query over
//! numeric, decimal, date, timestamp-with-zone and text columns, reads a masked column and
//! recovers a failed statement with a savepoint; what it prints is checked here against
//! `acrm sql` on the same warehouse.

use std::path::Path;
use std::process::Command;

use serde_json::Value;

use crate::common::*;
use crate::serve::{Served, serve};

/// The typed query every client runs (with the order id as its parameter).
const TYPED: &str = "SELECT order_id, quantity, unit_price, revenue, \
     CAST(revenue AS DOUBLE PRECISION) AS revenue_f, order_date, order_ts, source_system \
     FROM fact_sales WHERE order_id = '{order}' ORDER BY line_number";

/// PostgreSQL's names of the typed query's column types.
const TYPES: [&str; 8] = [
    "text",
    "int4",
    "numeric",
    "numeric",
    "float8",
    "date",
    "timestamptz",
    "text",
];

/// Columns of the typed query that hold numbers (compared as numbers when a driver reads a
/// decimal as a double), and of those the decimals (compared exactly when it keeps them).
const NUMBERS: [usize; 3] = [2, 3, 4];
const DECIMALS: [usize; 2] = [2, 3];

/// What `acrm sql` says the clients must see.
struct Expected {
    order: String,
    customer: String,
    rows: Vec<Vec<String>>,
    tables: Vec<String>,
    views: Vec<String>,
    columns: Vec<String>,
    masked: Vec<String>,
}

fn cli_rows(privileged: bool, sql: &str) -> Vec<Vec<String>> {
    let mut args = vec!["sql", "--format", "csv", "--top", "0"];
    if privileged {
        args.push("--privileged");
    }
    args.push(sql);
    csv_rows(&run_ok(&mut on_sample(&args)))
}

fn expected() -> Expected {
    let order = cli_rows(
        true,
        "SELECT order_id FROM fact_sales GROUP BY order_id HAVING count(*) > 2 ORDER BY order_id LIMIT 1",
    )[0][0]
        .clone();
    let customer = cli_rows(
        true,
        "SELECT customer_id FROM dim_customer WHERE is_current AND email IS NOT NULL \
         AND phone IS NOT NULL ORDER BY customer_id LIMIT 1",
    )[0][0]
        .clone();
    let listed = cli_rows(
        false,
        "SELECT table_name, table_type FROM information_schema.tables \
         WHERE table_schema = 'public' ORDER BY table_name",
    );
    let of_kind = |kind: &str| {
        listed
            .iter()
            .filter(|r| r[1] == kind)
            .map(|r| r[0].clone())
            .collect::<Vec<_>>()
    };
    let columns = cli_rows(
        false,
        "SELECT column_name FROM information_schema.columns \
         WHERE table_schema = 'public' AND table_name = 'fact_sales' ORDER BY ordinal_position",
    );
    let who = format!(
        "SELECT name, email, phone FROM dim_customer WHERE customer_id = {customer} AND is_current"
    );
    let masked = cli_rows(false, &who).remove(0);
    // The masked values are not the raw ones: the check below means something.
    assert_ne!(masked, cli_rows(true, &who).remove(0));
    Expected {
        rows: cli_rows(true, &TYPED.replace("{order}", &order)),
        tables: of_kind("BASE TABLE"),
        views: of_kind("VIEW"),
        columns: columns.into_iter().map(|r| r[0].clone()).collect(),
        masked,
        order,
        customer,
    }
}

/// A JSON value as the text `acrm sql --format csv` writes for it.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn strings(document: &Value, field: &str) -> Vec<String> {
    document[field]
        .as_array()
        .unwrap_or_else(|| panic!("{field} is not a list: {document}"))
        .iter()
        .map(text)
        .collect()
}

/// Runs `program` (from the repository root) against `served` and checks what it printed.
fn check_client(served: &Served, expected: &Expected, mut program: Command) {
    let out = program
        .current_dir(repo())
        .env("ACRM_HOST", "127.0.0.1")
        .env("ACRM_PORT", served.port.to_string())
        .env("ACRM_DATABASE", "acrm")
        .env("ACRM_USER", "alice")
        .env("ACRM_PASSWORD", "alice-pw")
        .env("ACRM_ORDER", &expected.order)
        .env("ACRM_CUSTOMER", &expected.customer)
        .output()
        .unwrap_or_else(|e| panic!("{program:?} does not run ({e}): {SET_UP}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{program:?} failed:\n{stdout}\n{}\nserver:\n{}",
        String::from_utf8_lossy(&out.stderr),
        served.stderr.lock().expect("stderr").as_str()
    );
    let line = stdout.lines().last().unwrap_or_default();
    let doc: Value = serde_json::from_str(line)
        .unwrap_or_else(|e| panic!("{program:?} printed no JSON document ({e}):\n{stdout}"));
    let client = text(&doc["client"]);

    // Connect: SCRAM login, and the server's version parsed as PostgreSQL's.
    assert_eq!(text(&doc["server_version"]), "16.6", "{client}");
    // Introspection: the role's tables and views, a table's columns, a declared key.
    assert_eq!(strings(&doc, "tables"), expected.tables, "{client}: tables");
    assert_eq!(strings(&doc, "views"), expected.views, "{client}: views");
    assert_eq!(
        strings(&doc, "columns"),
        expected.columns,
        "{client}: columns"
    );
    assert_eq!(
        strings(&doc, "primary_key"),
        ["customer_key"],
        "{client}: primary key"
    );
    // A table's comment, where the driver's introspection reads comments.
    if let Some(comment) = doc.get("comment") {
        let schema = acrm_schema::WarehouseSchema::builtin().expect("schema");
        let described = &schema.table("dim_customer").expect("table").description;
        assert_eq!(&text(comment), described, "{client}: table comment");
    }
    // The typed query: PostgreSQL's types, and every value as acrm sql has it.
    assert_eq!(strings(&doc, "types"), TYPES, "{client}: column types");
    let rows = doc["rows"].as_array().expect("rows");
    assert_eq!(rows.len(), expected.rows.len(), "{client}: rows");
    for (got, want) in rows.iter().zip(&expected.rows) {
        let got = got.as_array().expect("row");
        assert_eq!(got.len(), want.len(), "{client}: {got:?}");
        for (i, (g, w)) in got.iter().zip(want).enumerate() {
            if DECIMALS.contains(&i) && g.is_string() {
                assert_eq!(&text(g), w, "{client}: column {i} is not exact");
            } else if NUMBERS.contains(&i) {
                let g: f64 = text(g).parse().expect("a number");
                let w: f64 = w.parse().expect("a number");
                assert!(
                    (g - w).abs() < 1e-9,
                    "{client}: column {i}: {g} against {w}"
                );
            } else {
                assert_eq!(&text(g), w, "{client}: column {i}");
            }
        }
    }
    // Masking holds whatever the driver, and a savepoint recovers a failed statement.
    assert_eq!(strings(&doc, "masked"), expected.masked, "{client}: masked");
    assert_eq!(doc["transaction"], Value::Bool(true), "{client}: savepoint");
    eprintln!(
        "matrix: {client} | connect ✓ | introspection ✓ | typed query ✓ ({}) | masking ✓ | savepoint ✓",
        strings(&doc, "native").join(", ")
    );
}

/// One server and one expectation for every client of a test.
fn clients(programs: Vec<Command>) {
    let expected = expected();
    let served = serve(&sample_build().copy.warehouse(), "");
    for program in programs {
        check_client(&served, &expected, program);
    }
}

fn python(script: &str) -> Command {
    let mut c = Command::new(tool(&["python3"]));
    c.arg(Path::new("tests/clients").join(script));
    c
}

#[test]
fn python_sqlalchemy_pandas_and_asyncpg() {
    clients(vec![
        python("sqlalchemy_pandas.py"),
        python("asyncpg_client.py"),
    ]);
}

#[test]
fn jdbc_node_go_and_r() {
    let jar = Path::new("/usr/share/java/postgresql.jar");
    assert!(
        jar.is_file(),
        "pgJDBC is not installed (Debian libpostgresql-jdbc-java): {SET_UP}"
    );
    let mut jdbc = Command::new(tool(&["java"]));
    jdbc.arg("-cp").arg(jar).arg("tests/clients/Jdbc.java");
    let modules = repo().join("tests/clients/node/node_modules/pg");
    assert!(
        modules.is_dir(),
        "node-postgres is not installed in tests/clients/node: {SET_UP}"
    );
    let mut node = Command::new(tool(&["node"]));
    node.arg("tests/clients/node/pg_client.js");
    // pgx from Debian's Go sources (GOPATH mode: the Go module proxy is not used).
    let mut go = Command::new(tool(&["go"]));
    go.args(["run", "./tests/clients/go"])
        .env("GO111MODULE", "off")
        .env("GOPATH", "/usr/share/gocode");
    let mut r = Command::new(tool(&["Rscript"]));
    r.arg("tests/clients/r_dbi.R");
    clients(vec![jdbc, node, go, r]);
}
