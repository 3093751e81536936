//! `acrm serve` through real PostgreSQL clients — `psql` and the `tokio-postgres` driver —
//! on the sample warehouse: SCRAM logins, masking and row scopes by role compared with the
//! CLI, read-only refusals, the statement timeout and connection limit, TLS, new versions
//! without a restart, the audit log, and a bounded load test.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::common::*;

/// Users of the test servers: (name, role, password).
pub(crate) const USERS: &[(&str, &str, &str)] = &[
    ("alice", "analyst", "alice-pw"),
    ("sam", "steward", "sam-pw"),
    ("rita", "region", "rita-pw"),
    ("bo", "branch", "bo-pw"),
];

/// The SCRAM verifier `acrm hash-password` prints for `password`.
pub(crate) fn verifier(password: &str) -> String {
    let out = run_with_input(
        acrm().arg("hash-password"),
        format!("{password}\n").as_bytes(),
    );
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).expect("utf-8");
    // (The test passwords are long enough not to turn up in base64 by chance.)
    assert!(!text.contains(password));
    text.trim().to_string()
}

/// A region and one of its branch codes in the sample.
pub(crate) fn sample_region_and_branch() -> (String, String) {
    let rows = csv_rows(&run_ok(&mut on_sample(&[
        "sql",
        "--format",
        "csv",
        "SELECT region, branch_code FROM dim_branch WHERE branch_key <> 0 ORDER BY branch_key LIMIT 1",
    ])));
    (rows[0][0].clone(), rows[0][1].clone())
}

/// The single value a CLI query over the sample returns (privileged).
pub(crate) fn cli_value(sql: &str) -> String {
    let rows = csv_rows(&run_ok(&mut on_sample(&[
        "sql",
        "--privileged",
        "--format",
        "csv",
        sql,
    ])));
    rows[0][0].clone()
}

/// A running `acrm serve`, stopped when dropped.
pub(crate) struct Served {
    pub(crate) child: Child,
    pub(crate) port: u16,
    pub(crate) audit: PathBuf,
    pub(crate) stderr: Arc<Mutex<String>>,
    _dir: tempfile::TempDir,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Served {
    /// Runs `psql -c sql` as `user` with `password`; `ssl` is the sslmode.
    pub(crate) fn psql_ssl(&self, user: &str, password: &str, sql: &str, ssl: &str) -> Output {
        Command::new(tool(&["psql"]))
            .env("PGPASSWORD", password)
            .env("PGCONNECT_TIMEOUT", "20")
            .env("PGSSLMODE", ssl)
            .args(["-X", "-At", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1"])
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                user,
                "-d",
                "acrm",
                "-c",
                sql,
            ])
            .output()
            .expect("psql runs (Debian postgresql-client)")
    }

    pub(crate) fn psql(&self, user: &str, password: &str, sql: &str) -> Output {
        self.psql_ssl(user, password, sql, "disable")
    }

    /// psql's output for a query that must succeed.
    pub(crate) fn psql_ok(&self, user: &str, sql: &str) -> String {
        let password = USERS.iter().find(|u| u.0 == user).expect("user").2;
        let out = self.psql(user, password, sql);
        assert!(
            out.status.success(),
            "psql as {user}: {sql}\n{}\nserver:\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.stderr.lock().expect("stderr").as_str()
        );
        String::from_utf8(out.stdout)
            .expect("utf-8")
            .trim()
            .to_string()
    }

    /// psql's error text for a statement that must fail.
    pub(crate) fn psql_err(&self, user: &str, password: &str, sql: &str) -> String {
        let out = self.psql(user, password, sql);
        assert!(!out.status.success(), "{sql} succeeded as {user}");
        String::from_utf8_lossy(&out.stderr).to_string()
    }

    /// A tokio-postgres connection as `user` (its driver task spawned on the runtime).
    pub(crate) async fn connect(
        &self,
        user: &str,
    ) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
        let password = USERS.iter().find(|u| u.0 == user).map_or("nope", |u| u.2);
        let (client, connection) = tokio_postgres::connect(
            &format!(
                "host=127.0.0.1 port={} user={user} password={password} dbname=acrm",
                self.port
            ),
            tokio_postgres::NoTls,
        )
        .await?;
        tokio::spawn(connection);
        Ok(client)
    }

    /// The audit log's lines.
    pub(crate) fn audit_lines(&self) -> Vec<serde_json::Value> {
        std::fs::read_to_string(&self.audit)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("audit line is JSON"))
            .collect()
    }
}

/// Starts `acrm serve` over `warehouse` with extra `[server]` lines; roles: analyst (masked),
/// steward (privileged), region (sample region), branch (one sample branch).
pub(crate) fn serve(warehouse: &Path, server: &str) -> Served {
    serve_with(warehouse, server, None)
}

/// [`serve`], the server process limited to `open_files` file descriptors when given.
pub(crate) fn serve_with(warehouse: &Path, server: &str, open_files: Option<u32>) -> Served {
    let (region, branch) = sample_region_and_branch();
    let dir = tempdir();
    let audit = dir.path().join("audit.jsonl");
    let mut text = format!(
        "[server]\nlisten = \"127.0.0.1:0\"\naudit_log = \"{}\"\n{server}\n\
         [roles.analyst]\n[roles.steward]\nprivileged = true\n\
         [roles.region]\nscope = {{ level = \"region\", values = [\"{region}\"] }}\n\
         [roles.branch]\nscope = {{ level = \"branch\", values = [\"{branch}\"] }}\n",
        audit.display()
    );
    for (name, role, password) in USERS {
        text.push_str(&format!(
            "[users.{name}]\nrole = \"{role}\"\npassword = \"{}\"\n",
            verifier(password)
        ));
    }
    let users = dir.path().join("acrm-serve.toml");
    std::fs::write(&users, text).expect("users file");
    let mut command = match open_files {
        // The shell lowers its own limit, then becomes the server.
        Some(n) => {
            let mut c = Command::new("sh");
            c.arg("-c")
                .arg(format!("ulimit -n {n} && exec \"$0\" \"$@\""))
                .arg(env!("CARGO_BIN_EXE_acrm"));
            c
        }
        None => acrm(),
    };
    let mut child = command
        .env("ACRM_LOG", "info")
        .args(["serve", "--users"])
        .arg(&users)
        .arg("--warehouse")
        .arg(warehouse)
        .stderr(Stdio::piped())
        .spawn()
        .expect("acrm serve starts");
    let mut lines = BufReader::new(child.stderr.take().expect("stderr")).lines();
    let mut seen = String::new();
    let port = loop {
        let line = match lines.next() {
            Some(Ok(l)) => l,
            _ => panic!("acrm serve ended before listening:\n{seen}"),
        };
        seen.push_str(&line);
        seen.push('\n');
        if let Some(rest) = line.split("listening on 127.0.0.1:").nth(1) {
            let port: String = rest.chars().take_while(char::is_ascii_digit).collect();
            break port.parse().expect("port");
        }
    };
    // Keep reading the server's log so it never blocks on a full pipe.
    let stderr = Arc::new(Mutex::new(seen));
    let sink = stderr.clone();
    std::thread::spawn(move || {
        for l in lines.map_while(Result::ok) {
            if let Ok(mut s) = sink.lock() {
                s.push_str(&l);
                s.push('\n');
            }
        }
    });
    Served {
        child,
        port,
        audit,
        stderr,
        _dir: dir,
    }
}

pub(crate) fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn logins_masking_scopes_and_read_only_through_psql() {
    let served = serve(&sample_build().copy.warehouse(), "");
    let (region, branch) = sample_region_and_branch();

    // Login: good password, wrong password, unknown user (same message, no hint).
    assert_eq!(served.psql_ok("alice", "SELECT 1"), "1");
    let wrong = served.psql_err("alice", "not-her-password", "SELECT 1");
    assert!(
        wrong.contains("password authentication failed for user \"alice\""),
        "{wrong}"
    );
    let unknown = served.psql_err("mallory", "x", "SELECT 1");
    assert!(
        unknown.contains("password authentication failed for user \"mallory\""),
        "{unknown}"
    );
    // No default superuser with an empty password.
    let postgres = served.psql_err("postgres", "", "SELECT 1");
    assert!(postgres.contains("password"), "{postgres}");
    let postgres = served.psql_err("postgres", "postgres", "SELECT 1");
    assert!(
        postgres.contains("password authentication failed"),
        "{postgres}"
    );

    // Views: the same counts as the CLI.
    let c360 = cli_value("SELECT count(*) FROM customer_360");
    assert_eq!(
        served.psql_ok("alice", "SELECT count(*) FROM customer_360"),
        c360
    );

    // Masking by role: the analyst sees masked e-mails, the steward the CLI's privileged values.
    let q = "SELECT email FROM dim_customer WHERE email IS NOT NULL ORDER BY customer_key LIMIT 20";
    let masked = served.psql_ok("alice", q);
    let raw = served.psql_ok("sam", q);
    let cli_raw: Vec<String> = csv_rows(&run_ok(&mut on_sample(&[
        "sql",
        "--privileged",
        "--format",
        "csv",
        q,
    ])))
    .into_iter()
    .map(|r| r[0].clone())
    .collect();
    assert_eq!(raw.lines().collect::<Vec<_>>(), cli_raw);
    for (m, r) in masked.lines().zip(raw.lines()) {
        assert!(m.contains("***@") && m != r, "{m} vs {r}");
    }

    // Branch scope: the branch user's fact_sales is the CLI's fact_sales of that branch.
    let branch_lines = cli_value(&format!(
        "SELECT count(*) FROM fact_sales f JOIN dim_branch b ON f.branch_key = b.branch_key WHERE b.branch_code = '{branch}'"
    ));
    assert_ne!(branch_lines, "0");
    assert_eq!(
        served.psql_ok("bo", "SELECT count(*) FROM fact_sales"),
        branch_lines
    );
    assert_eq!(
        served.psql_ok("bo", "SELECT count(DISTINCT branch_key) FROM fact_sales"),
        "1"
    );
    // Its customers are the branch's buyers, in every table and view that reaches them.
    let buyers = cli_value(&format!(
        "SELECT count(DISTINCT customer_id) FROM fact_sales f JOIN dim_branch b ON f.branch_key = b.branch_key WHERE b.branch_code = '{branch}' AND f.customer_id <> 0"
    ));
    assert_eq!(
        served.psql_ok("bo", "SELECT count(*) FROM customer_360"),
        buyers
    );
    let buyer_contacts = cli_value(&format!(
        "SELECT count(*) FROM fact_service WHERE customer_id IN (SELECT customer_id FROM fact_sales f JOIN dim_branch b ON f.branch_key = b.branch_key WHERE b.branch_code = '{branch}')"
    ));
    assert_eq!(
        served.psql_ok("bo", "SELECT count(*) FROM fact_service"),
        buyer_contacts
    );
    // Region scope: the region's branches plus online lines of customers living there.
    let region_lines = cli_value(&format!(
        "SELECT count(*) FROM fact_sales f JOIN dim_branch b ON f.branch_key = b.branch_key WHERE b.region = '{region}' \
         OR (f.branch_key = 0 AND f.customer_id IN (SELECT customer_id FROM dim_customer WHERE is_current AND region = '{region}'))"
    ));
    assert_eq!(
        served.psql_ok("rita", "SELECT count(*) FROM fact_sales"),
        region_lines
    );
    let all_lines = cli_value("SELECT count(*) FROM fact_sales");
    assert_ne!(region_lines, all_lines);
    // The raw rejected rows are not served to scoped roles.
    let quarantine = served.psql_err("bo", "bo-pw", "SELECT count(*) FROM etl_quarantine");
    assert!(quarantine.contains("etl_quarantine"), "{quarantine}");

    // Read-only: DDL, DML, COPY, external tables, engine settings refused; nothing written.
    let target = tempdir();
    let out_file = target.path().join("leak.csv");
    for sql in [
        "CREATE TABLE t AS SELECT 1".to_string(),
        "INSERT INTO dim_channel VALUES (9, 'x', 'x', 'x')".into(),
        "DROP VIEW customer_360".into(),
        format!(
            "COPY (SELECT * FROM dim_customer) TO '{}'",
            out_file.display()
        ),
        "CREATE EXTERNAL TABLE pw STORED AS CSV LOCATION '/etc/passwd'".into(),
        "SET datafusion.execution.target_partitions = 1".into(),
    ] {
        let err = served.psql_err("sam", "sam-pw", &sql);
        assert!(err.contains("read-only"), "{sql}: {err}");
    }
    assert!(!out_file.exists());
    let files = served.psql_err("sam", "sam-pw", "SELECT * FROM '/etc/passwd'");
    assert!(!files.contains("root:"), "{files}");

    // Audit: one line per statement, with user and role, never values or statement text.
    let lines = served.audit_lines();
    assert!(
        lines
            .iter()
            .any(|l| l["user"] == "bo" && l["role"] == "branch" && l["outcome"] == "ok")
    );
    assert!(
        lines
            .iter()
            .any(|l| l["user"] == "sam" && l["outcome"] == "refused")
    );
    let text = std::fs::read_to_string(&served.audit).expect("audit");
    for e in cli_raw.iter().take(5) {
        assert!(!text.contains(e.as_str()), "audit log holds an e-mail");
    }
    for fragment in [
        "dim_customer",
        "branch_code",
        "customer_key LIMIT",
        "etc/passwd",
    ] {
        assert!(
            !text.contains(fragment),
            "audit log holds statement text: {fragment}"
        );
    }
}

#[test]
fn tokio_postgres_prepared_statements_masking_and_bad_password() {
    let served = serve(&sample_build().copy.warehouse(), "");
    let expected = cli_value("SELECT count(*) FROM fact_sales WHERE quantity > 2");
    let rt = runtime();
    rt.block_on(async {
        let alice = served.connect("alice").await.expect("alice logs in");
        // Extended protocol with a bound parameter.
        let stmt = alice
            .prepare("SELECT count(*) AS n FROM fact_sales WHERE quantity > $1")
            .await
            .expect("prepare");
        let row = alice.query_one(&stmt, &[&2i32]).await.expect("query");
        assert_eq!(row.get::<_, i64>("n").to_string(), expected);
        // Types come through: text, dates, decimals as text via the simple protocol.
        let rows = alice
            .simple_query(
                "SELECT email, birth_date FROM dim_customer WHERE email IS NOT NULL LIMIT 5",
            )
            .await
            .expect("simple query");
        let mut seen = 0;
        for m in rows {
            if let tokio_postgres::SimpleQueryMessage::Row(r) = m {
                let email = r.get(0).expect("email");
                assert!(email.contains("***@"), "{email}");
                seen += 1;
            }
        }
        assert_eq!(seen, 5);
        // Refusals carry SQLSTATE 25006.
        let err = alice
            .simple_query("DELETE FROM fact_sales")
            .await
            .expect_err("refused");
        assert_eq!(err.code().map(|c| c.code()), Some("25006"), "{err}");
        let err = served
            .connect("mallory")
            .await
            .expect_err("unknown user refused");
        assert_eq!(err.code().map(|c| c.code()), Some("28P01"), "{err}");
    });
}

#[test]
fn statement_timeout_ends_a_slow_query_while_other_connections_work() {
    let served = serve(
        &sample_build().copy.warehouse(),
        "statement_timeout_seconds = 3\nmax_connections = 3",
    );
    let rt = runtime();
    rt.block_on(async {
        let slow = served.connect("alice").await.expect("login");
        let fast = served.connect("sam").await.expect("login");
        let started = Instant::now();
        let slow_query = tokio::spawn(async move {
            let r = slow
                .simple_query(
                    "SELECT count(*) FROM generate_series(1, 20000000000) AS t(x) WHERE x % 7 = 9",
                )
                .await;
            (r, slow)
        });
        // While it runs, another connection is served quickly.
        tokio::time::sleep(Duration::from_millis(500)).await;
        let t = Instant::now();
        let rows = fast
            .simple_query("SELECT count(*) FROM dim_channel")
            .await
            .expect("second connection works");
        assert!(!rows.is_empty());
        assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
        let (result, slow) = slow_query.await.expect("task");
        let err = result.expect_err("the slow query is cancelled");
        assert_eq!(err.code().map(|c| c.code()), Some("57014"), "{err}");
        let took = started.elapsed();
        assert!(
            took >= Duration::from_secs(3) && took < Duration::from_secs(15),
            "{took:?}"
        );
        // The connection that timed out keeps working; a session may lower its timeout.
        slow.simple_query("SELECT 1").await.expect("still usable");
        slow.simple_query("SET statement_timeout = '500ms'")
            .await
            .expect("SET");
        let t = Instant::now();
        let err = slow
            .simple_query(
                "SELECT count(*) FROM generate_series(1, 20000000000) AS t(x) WHERE x % 7 = 9",
            )
            .await
            .expect_err("lower timeout");
        assert_eq!(err.code().map(|c| c.code()), Some("57014"));
        assert!(t.elapsed() < Duration::from_secs(3), "{:?}", t.elapsed());
        // Connection limit: a fourth connection is refused with 53300.
        let third = served.connect("bo").await.expect("third connection");
        let err = served.connect("rita").await.expect_err("over the limit");
        assert_eq!(err.code().map(|c| c.code()), Some("53300"), "{err}");
        drop(third);
    });
    let lines = served.audit_lines();
    assert_eq!(
        lines.iter().filter(|l| l["outcome"] == "timeout").count(),
        2,
        "{lines:?}"
    );
}

#[test]
fn query_memory_limit_ends_that_query_only() {
    let served = serve(&sample_build().copy.warehouse(), "query_memory_mib = 16");
    let err = served.psql_err(
        "alice",
        "alice-pw",
        "SELECT count(*) FROM generate_series(1, 4000000) AS a(x) JOIN generate_series(1, 4000000) AS b(y) ON x = y",
    );
    assert!(
        err.contains("Resources exhausted") || err.contains("memory"),
        "{err}"
    );
    assert_eq!(
        served.psql_ok("alice", "SELECT count(*) FROM dim_channel"),
        cli_value("SELECT count(*) FROM dim_channel")
    );
}

/// A self-signed certificate and key for 127.0.0.1 in `dir` (the openssl command).
fn certificate(dir: &Path) -> (PathBuf, PathBuf) {
    let (cert, key) = (dir.join("server.crt"), dir.join("server.key"));
    let out = Command::new(tool(&["openssl"]))
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-keyout",
        ])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    (cert, key)
}

#[test]
fn tls_is_required_when_configured_and_a_missing_key_stops_startup() {
    let dir = tempdir();
    let (cert, key) = certificate(dir.path());
    let served = serve(
        &sample_build().copy.warehouse(),
        &format!(
            "tls_certificate = \"{}\"\ntls_key = \"{}\"",
            cert.display(),
            key.display()
        ),
    );
    let out = served.psql_ssl(
        "alice",
        "alice-pw",
        "SELECT ssl FROM (SELECT 1 AS one, true AS ssl)",
        "require",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let plain = served.psql_err("alice", "alice-pw", "SELECT 1");
    assert!(plain.contains("requires TLS"), "{plain}");
    drop(served);

    // A configured key that cannot be loaded: the server does not start (no plaintext fallback).
    let users = dir.path().join("bad.toml");
    std::fs::write(
        &users,
        format!(
            "[server]\nlisten = \"127.0.0.1:0\"\ntls_certificate = \"{}\"\ntls_key = \"{}\"\n[roles.a]\n[users.u]\nrole = \"a\"\npassword = \"{}\"\n",
            cert.display(),
            dir.path().join("missing.key").display(),
            verifier("tls-test-password")
        ),
    )
    .expect("write");
    let started = Instant::now();
    let out = run(acrm()
        .args(["serve", "--users"])
        .arg(&users)
        .arg("--warehouse")
        .arg(sample_build().copy.warehouse()));
    assert!(!out.status.success());
    assert!(started.elapsed() < Duration::from_secs(30));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("TLS") && err.contains("missing.key"), "{err}");
    assert!(!err.contains("listening"), "{err}");
}

#[test]
fn a_newly_published_version_is_served_without_restart() {
    let s = SampleCopy::new();
    run_ok(&mut s.build(&s.warehouse(), &["--no-marts"]));
    let served = serve(&s.warehouse(), "");
    let before = served.psql_ok("sam", "SELECT count(*) FROM fact_sales");
    let rt = runtime();
    let mut conn = rt.block_on(served.connect("sam")).expect("login");
    // A statement in flight across the publish: a portal read 100 rows at a time.
    let tx = rt.block_on(conn.transaction()).expect("BEGIN");
    let portal = rt
        .block_on(tx.bind("SELECT order_id FROM fact_sales", &[]))
        .expect("bind");
    let first = rt
        .block_on(tx.query_portal(&portal, 100))
        .expect("first rows");
    assert_eq!(first.len(), 100);

    s.generate_night(2);
    run_ok(&mut s.build(&s.warehouse(), &["--no-marts"]));
    let after = served.psql_ok("sam", "SELECT count(*) FROM fact_sales");
    assert_ne!(before, after, "night 2 adds sales");

    // The statement in flight finishes on the version it started on.
    let rest = rt.block_on(tx.query_portal(&portal, 0)).expect("rest");
    assert_eq!((first.len() + rest.len()).to_string(), before);
    rt.block_on(tx.commit()).expect("COMMIT");
    // The connection opened before the publish sees the new version in its next statement.
    let n: i64 = rt
        .block_on(conn.query_one("SELECT count(*) FROM fact_sales", &[]))
        .expect("query")
        .get(0);
    assert_eq!(n.to_string(), after);
    let versions: Vec<u64> = served
        .audit_lines()
        .iter()
        .filter_map(|l| l["version"].as_u64())
        .collect();
    assert!(versions.windows(2).any(|w| w[1] > w[0]), "{versions:?}");
}

/// Resident memory of process `pid` in KiB.
pub(crate) fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .expect("proc status")
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .expect("VmRSS")
}

/// Memory the server may grow by between the first and the last round of the load test.
const LOAD_RSS_GROWTH_BOUND_MIB: u64 = 256;

#[test]
fn load_32_clients_by_200_queries_beside_a_heavy_query_with_quick_select_1() {
    let served = serve(&sample_build().copy.warehouse(), "");
    let queries = [
        "SELECT count(*) FROM fact_sales",
        "SELECT channel_code, sum(revenue) FROM sales_cube GROUP BY channel_code",
        "SELECT customer_id, revenue FROM customer_360 ORDER BY revenue DESC, customer_id LIMIT 10",
        "SELECT region, count(*) FROM dim_customer WHERE is_current GROUP BY region",
    ];
    let rt = runtime();
    let round = |clients: usize, per_client: usize| -> Vec<Duration> {
        rt.block_on(async {
            let mut tasks = Vec::new();
            for c in 0..clients {
                let user = USERS[c % USERS.len()].0;
                let client = served.connect(user).await.expect("login");
                tasks.push(tokio::spawn(async move {
                    let mut times = Vec::with_capacity(per_client);
                    for i in 0..per_client {
                        let t = Instant::now();
                        client
                            .simple_query(queries[(c + i) % queries.len()])
                            .await
                            .unwrap_or_else(|e| panic!("client {c} query {i}: {e}"));
                        times.push(t.elapsed());
                    }
                    times
                }));
            }
            let mut all = Vec::new();
            for t in tasks {
                all.extend(t.await.expect("client task"));
            }
            all
        })
    };
    round(32, 10);
    let warm = rss_kib(served.child.id());
    // Beside the load: a heavy query, again and again, and a client timing `SELECT 1`
    // (what connection pools send to check a connection).
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (heavy, probe) = rt.block_on(async {
        let heavy_client = served.connect("sam").await.expect("login");
        let probe_client = served.connect("alice").await.expect("login");
        let flag = stop.clone();
        let heavy = tokio::spawn(async move {
            let mut runs = 0;
            while !flag.load(std::sync::atomic::Ordering::Acquire) {
                heavy_client
                    .simple_query(
                        "SELECT count(*) FROM generate_series(1, 20000) AS a(x) CROSS JOIN generate_series(1, 20000) AS b(y) WHERE x + y = 7",
                    )
                    .await
                    .expect("heavy query");
                runs += 1;
            }
            runs
        });
        let flag = stop.clone();
        let probe = tokio::spawn(async move {
            let mut times = Vec::new();
            while !flag.load(std::sync::atomic::Ordering::Acquire) {
                let t = Instant::now();
                probe_client.simple_query("SELECT 1").await.expect("SELECT 1");
                times.push(t.elapsed());
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            times
        });
        (heavy, probe)
    });
    let mut times = round(32, 200);
    stop.store(true, std::sync::atomic::Ordering::Release);
    let (heavy_runs, mut probes) =
        rt.block_on(async { (heavy.await.expect("heavy"), probe.await.expect("probe")) });
    let grown = rss_kib(served.child.id()).saturating_sub(warm) / 1024;
    probes.sort();
    let probe_p99 = probes[((probes.len() - 1) as f64 * 0.99) as usize].as_secs_f64() * 1e3;
    eprintln!(
        "beside the load: {heavy_runs} heavy queries; SELECT 1 x {}: p50 {:.1} ms, p99 {probe_p99:.1} ms, max {:.1} ms",
        probes.len(),
        probes[probes.len() / 2].as_secs_f64() * 1e3,
        probes[probes.len() - 1].as_secs_f64() * 1e3
    );
    assert!(
        heavy_runs >= 1,
        "the heavy query never completed beside the load"
    );
    assert!(
        probe_p99 < 100.0,
        "SELECT 1 p99 {probe_p99:.1} ms beside the load and a heavy query"
    );
    assert_eq!(times.len(), 32 * 200);
    times.sort();
    let p = |q: f64| times[((times.len() - 1) as f64 * q) as usize].as_secs_f64() * 1e3;
    eprintln!(
        "load: 32 clients x 200 queries, p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms, RSS after warm-up {} MiB, growth {grown} MiB",
        p(0.5),
        p(0.99),
        p(1.0),
        warm / 1024
    );
    assert!(
        grown < LOAD_RSS_GROWTH_BOUND_MIB,
        "server memory grew by {grown} MiB over 6,400 queries"
    );
    let errors = served
        .audit_lines()
        .iter()
        .filter(|l| l["outcome"] != "ok")
        .count();
    assert_eq!(errors, 0);
}
