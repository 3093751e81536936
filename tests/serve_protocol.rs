//! `acrm serve` as drivers probe a read-only PostgreSQL: its identity (`version()`, the
//! database name, `information_schema`), transaction blocks with savepoints and the failed
//! state, session parameters (SET, SHOW, RESET, DISCARD ALL), comments and keys in
//! `pg_catalog`, catalogs that agree with each other and with the role's scope, and
//! subqueries answered as `acrm sql` answers them (never turned into NULL).

use tokio_postgres::{Client, SimpleQueryMessage};

use crate::common::*;
use crate::serve::{USERS, cli_value, runtime, serve};

/// The text of each row's first column of `sql`, run as a simple query.
async fn column(client: &Client, sql: &str) -> Vec<Option<String>> {
    client
        .simple_query(sql)
        .await
        .unwrap_or_else(|e| panic!("{sql}: {e}"))
        .into_iter()
        .filter_map(|m| match m {
            SimpleQueryMessage::Row(r) => Some(r.get(0).map(String::from)),
            _ => None,
        })
        .collect()
}

/// The one value of `sql`.
async fn value(client: &Client, sql: &str) -> String {
    column(client, sql)
        .await
        .remove(0)
        .unwrap_or_else(|| panic!("{sql}: NULL"))
}

/// The SQLSTATE `sql` fails with.
async fn fails(client: &Client, sql: &str) -> String {
    let err = client.simple_query(sql).await.expect_err(sql);
    err.code()
        .map(|c| c.code().to_string())
        .unwrap_or_else(|| panic!("{sql}: {err}"))
}

#[test]
fn identity_and_database_name_as_postgresql_reports_them() {
    let served = serve(&sample_build().copy.warehouse(), "");
    assert!(
        served
            .psql_ok("alice", "SELECT version()")
            .starts_with("PostgreSQL 16.6 (acrm "),
        "version() in PostgreSQL's shape"
    );
    assert_eq!(served.psql_ok("alice", "SELECT current_database()"), "acrm");
    assert_eq!(
        served.psql_ok(
            "alice",
            "SELECT DISTINCT table_catalog FROM information_schema.tables"
        ),
        "acrm"
    );
    assert_eq!(
        served.psql_ok("alice", "SELECT pg_get_userbyid(10)"),
        "acrm",
        "an int8 oid is accepted"
    );
    // psql's own catalog queries: `\d` describes a table.
    let described = served.psql_ok("alice", "\\d fact_sales");
    assert!(described.contains("order_id|text"), "{described}");
    // Another database name is refused once the user has logged in, as PostgreSQL does.
    let out = std::process::Command::new(tool(&["psql"]))
        .env("PGPASSWORD", "alice-pw")
        .args([
            "-X",
            "-At",
            "-h",
            "127.0.0.1",
            "-p",
            &served.port.to_string(),
        ])
        .args(["-U", "alice", "-d", "sales", "-c", "SELECT 1"])
        .output()
        .expect("psql");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("database \"sales\" does not exist"),
        "{err}"
    );
}

#[test]
fn transaction_blocks_savepoints_and_session_parameters() {
    let served = serve(&sample_build().copy.warehouse(), "");
    runtime().block_on(async {
        let mut c = served.connect("alice").await.expect("alice logs in");
        // A failed statement fails the block; ROLLBACK TO a savepoint recovers it.
        c.simple_query("BEGIN READ ONLY ISOLATION LEVEL REPEATABLE READ")
            .await
            .expect("begin");
        c.simple_query("SAVEPOINT sa_1").await.expect("savepoint");
        assert_eq!(
            fails(&c, "SELECT no_such_column FROM fact_sales").await,
            "42703"
        );
        assert_eq!(fails(&c, "SELECT 1").await, "25P02", "the block is failed");
        c.simple_query("ROLLBACK TO SAVEPOINT sa_1")
            .await
            .expect("rollback to");
        let channels: u64 = value(&c, "SELECT count(*) FROM dim_channel")
            .await
            .parse()
            .expect("a count");
        assert!(channels > 0, "the block goes on");
        assert_eq!(fails(&c, "RELEASE SAVEPOINT sa_9").await, "3B001");
        c.simple_query("ROLLBACK").await.expect("rollback");
        // Outside a block, and read-write, as a standby says.
        assert_eq!(fails(&c, "SAVEPOINT sa_1").await, "25P01");
        assert_eq!(fails(&c, "BEGIN READ WRITE").await, "25006");
        assert_eq!(fails(&c, "SET TRANSACTION READ WRITE").await, "25006");
        c.simple_query("SET TRANSACTION READ ONLY")
            .await
            .expect("read only");
        // Session parameters are kept, shown and reset.
        c.simple_query("SET application_name = 'matrix'; SET TIME ZONE 'Europe/Berlin'")
            .await
            .expect("set");
        assert_eq!(value(&c, "SHOW application_name").await, "matrix");
        assert_eq!(value(&c, "SHOW TimeZone").await, "Europe/Berlin");
        c.simple_query("RESET application_name")
            .await
            .expect("reset");
        assert_eq!(value(&c, "SHOW application_name").await, "");
        assert_eq!(fails(&c, "SET client_encoding = 'LATIN1'").await, "0A000");
        assert_eq!(fails(&c, "SET no_such_parameter = 1").await, "42704");
        assert_eq!(fails(&c, "SET server_version = '17'").await, "55P02");
        assert_eq!(fails(&c, "SET ROLE postgres").await, "25006");
        c.simple_query("SET statement_timeout = '2s'")
            .await
            .expect("timeout");
        assert_eq!(value(&c, "SHOW statement_timeout").await, "2000ms");
        c.simple_query("BEGIN").await.expect("begin");
        assert_eq!(fails(&c, "DISCARD ALL").await, "25001");
        c.simple_query("COMMIT")
            .await
            .expect("commit of a failed block");
        c.simple_query("DISCARD ALL").await.expect("discard");
        assert_eq!(value(&c, "SHOW statement_timeout").await, "300000ms");
        assert_eq!(value(&c, "SHOW TimeZone").await, "UTC");
        // The same through the extended protocol (a prepared statement per command).
        let mut tx = c.transaction().await.expect("begin");
        let nested = tx.savepoint("sa_2").await.expect("savepoint");
        nested
            .query("SELECT no_such_column FROM fact_sales", &[])
            .await
            .expect_err("fails");
        nested.rollback().await.expect("rollback to savepoint");
        let n: i64 = tx
            .query_one("SELECT count(*) FROM dim_channel", &[])
            .await
            .expect("the block goes on")
            .get(0);
        assert!(n > 0);
        tx.commit().await.expect("commit");
    });
}

#[test]
fn catalogs_carry_comments_and_keys_and_agree_with_the_role() {
    let served = serve(&sample_build().copy.warehouse(), "");
    let described = "SELECT obj_description(c.oid, 'pg_class'), col_description(c.oid, a.attnum) \
         FROM pg_catalog.pg_class c JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid \
         WHERE c.relname = 'dim_customer' AND a.attname = 'email'";
    let schema = acrm_schema::WarehouseSchema::builtin().expect("schema");
    let table = schema.table("dim_customer").expect("dim_customer");
    let email = table.column("email").expect("email");
    assert_eq!(
        served.psql_ok("alice", described),
        format!(
            "{}|{} [personal data, masked]",
            table.description, email.description
        )
    );
    assert_eq!(
        served.psql_ok("sam", described),
        format!(
            "{}|{} [personal data]",
            table.description, email.description
        )
    );
    // The declared key as PostgreSQL's catalog holds one.
    assert_eq!(
        served.psql_ok(
            "alice",
            "SELECT a.attname FROM pg_catalog.pg_index i JOIN pg_catalog.pg_attribute a \
             ON a.attrelid = i.indrelid AND a.attnum = ANY(i.indkey) \
             WHERE i.indrelid = 'dim_product'::regclass AND i.indisprimary"
        ),
        "product_key"
    );
    // information_schema and pg_class list the same objects, as each role sees them: a
    // branch's role does not see the quarantine at all.
    let listed = |user: &str| {
        let info = served.psql_ok(
            user,
            "SELECT table_name FROM information_schema.tables \
             WHERE table_schema = 'public' ORDER BY 1",
        );
        let class = served.psql_ok(
            user,
            "SELECT c.relname FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n \
             ON c.relnamespace = n.oid WHERE n.nspname = 'public' AND c.relkind IN ('r', 'v') \
             ORDER BY 1",
        );
        assert_eq!(info, class, "{user}: information_schema against pg_class");
        info
    };
    for (user, _, _) in USERS {
        let objects = listed(user);
        assert_eq!(
            objects.lines().any(|t| t == "etl_quarantine"),
            matches!(*user, "alice" | "sam"),
            "{user}: {objects}"
        );
    }
    assert_eq!(
        served.psql_ok(
            "bo",
            "SELECT count(*) FROM pg_catalog.pg_description d JOIN pg_catalog.pg_class c \
             ON d.objoid = c.oid WHERE c.relname = 'etl_quarantine'"
        ),
        "0"
    );
}

#[test]
fn subqueries_are_answered_as_acrm_sql_answers_them() {
    let served = serve(&sample_build().copy.warehouse(), "");
    // Selected subqueries, with a table-qualified column and correlated: datafusion-postgres
    // would have turned both into NULL.
    for sql in [
        "SELECT (SELECT max(fact_sales.revenue) FROM fact_sales) AS top",
        "SELECT sum(n) FROM (SELECT (SELECT count(*) FROM fact_sales s \
         WHERE s.channel_key = c.channel_key) AS n FROM dim_channel c) t",
    ] {
        let served_value = served.psql_ok("sam", sql);
        assert!(!served_value.is_empty(), "{sql} is NULL");
        assert_eq!(served_value, cli_value(sql), "{sql}");
    }
}
