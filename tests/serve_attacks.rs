//! `acrm serve` against a hostile client: every attack of issue 15, sent as a client would
//! send it, over TCP to the real server. Each test checks that nothing out of scope or
//! unmasked came back and that the server still answers another client afterwards.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::common::*;
use crate::serve::*;

/// A raw TCP connection to the server from loopback address `127.0.0.<source>`, so tests
/// can be several clients (the login gate counts per address).
async fn connect_from(source: u8, port: u16) -> tokio::net::TcpStream {
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket
        .bind(SocketAddr::from(([127, 0, 0, source], 0)))
        .expect("bind a loopback source address");
    socket
        .connect(SocketAddr::from(([127, 0, 0, 1], port)))
        .await
        .expect("connect")
}

/// A tokio-postgres login from `127.0.0.<source>`.
async fn login_from(
    source: u8,
    port: u16,
    user: &str,
    password: &str,
) -> Result<tokio_postgres::Client, tokio_postgres::Error> {
    let stream = connect_from(source, port).await;
    let config: tokio_postgres::Config = format!("user={user} password={password} dbname=acrm")
        .parse()
        .expect("config");
    let (client, connection) = config.connect_raw(stream, tokio_postgres::NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

/// A startup message (protocol 3.0) for `user`.
fn startup(user: &str) -> Vec<u8> {
    let mut body = 196_608i32.to_be_bytes().to_vec();
    for part in ["user", user, "database", "acrm"] {
        body.extend_from_slice(part.as_bytes());
        body.push(0);
    }
    body.push(0);
    let mut m = ((body.len() + 4) as i32).to_be_bytes().to_vec();
    m.extend(body);
    m
}

/// Reads until the server closes the connection or `limit` passes; true when it closed.
fn closed_within(stream: &mut TcpStream, limit: Duration) -> bool {
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    while started.elapsed() < limit {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return true,
        }
    }
    false
}

/// `SELECT 1` as alice answers.
fn still_answers(served: &Served) {
    assert_eq!(served.psql_ok("alice", "SELECT 1"), "1");
}

/// A proxy between one client and the server that stops reading the server's replies
/// while `stall` is set: the server sees a client that does not read.
struct StallingProxy {
    port: u16,
    stall: Arc<AtomicBool>,
}

fn stalling_proxy(server: u16) -> StallingProxy {
    let listener = TcpListener::bind("127.0.0.1:0").expect("proxy listens");
    let port = listener.local_addr().expect("addr").port();
    let stall = Arc::new(AtomicBool::new(false));
    let flag = stall.clone();
    std::thread::spawn(move || {
        let Ok((client, _)) = listener.accept() else {
            return;
        };
        let upstream = TcpStream::connect(("127.0.0.1", server)).expect("proxy connects");
        let (mut c_in, mut u_out) = (
            client.try_clone().expect("clone"),
            upstream.try_clone().expect("clone"),
        );
        std::thread::spawn(move || {
            let mut buf = [0u8; 16384];
            while let Ok(n) = c_in.read(&mut buf) {
                if n == 0 || u_out.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        });
        let (mut u_in, mut c_out) = (upstream, client);
        let mut buf = [0u8; 16384];
        loop {
            if flag.load(Ordering::Acquire) {
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
            match u_in.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if c_out.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
    });
    StallingProxy { port, stall }
}

#[test]
fn deep_expressions_are_refused_and_the_server_stays_up() {
    let served = serve(&sample_build().copy.warehouse(), "");
    let sum = |n: usize| format!("SELECT {}", vec!["1"; n].join("+"));
    // Deep but allowed: planned and evaluated on the lanes' large stacks.
    assert_eq!(served.psql_ok("alice", &sum(900)), "900");
    // Attack 1 through psql (5,000 terms) and the extended protocol (2,000 terms).
    let err = served.psql_err("alice", "alice-pw", &sum(5_000));
    assert!(err.contains("too complex"), "{err}");
    let rt = runtime();
    rt.block_on(async {
        let client = served.connect("bo").await.expect("login");
        let err = client.prepare(&sum(2_000)).await.expect_err("refused");
        assert_eq!(err.code().map(|c| c.code()), Some("54001"), "{err}");
        let deep_or = format!(
            "SELECT count(*) FROM fact_sales WHERE {}",
            vec!["quantity = 1"; 3_000].join(" OR ")
        );
        let err = client.simple_query(&deep_or).await.expect_err("refused");
        assert_eq!(err.code().map(|c| c.code()), Some("54001"), "{err}");
        // The same connection goes on.
        client
            .simple_query("SELECT 1")
            .await
            .expect("same connection answers");
    });
    still_answers(&served);
}

#[test]
fn oversized_messages_idle_sockets_and_fd_exhaustion_do_not_lock_anyone_out() {
    let served = serve_with(
        &sample_build().copy.warehouse(),
        "login_timeout_seconds = 3\nmax_message_mib = 1",
        Some(128),
    );
    let rss_before = rss_kib(served.child.id());
    // Attack 2: a password message announcing 400 MB before login, its body streamed: the
    // server closes the connection at the header, without buffering the body.
    let mut s = TcpStream::connect(("127.0.0.1", served.port)).expect("connect");
    s.write_all(&startup("alice")).expect("startup");
    let mut header = vec![b'p'];
    header.extend_from_slice(&400_000_000i32.to_be_bytes());
    s.write_all(&header).expect("header");
    let chunk = vec![b'x'; 1 << 20];
    let mut sent = 0usize;
    for _ in 0..64 {
        if s.write_all(&chunk).is_err() {
            break;
        }
        sent += chunk.len();
    }
    assert!(
        closed_within(&mut s, Duration::from_secs(5)),
        "connection left open after {sent} bytes"
    );
    let rt = runtime();
    rt.block_on(async {
        // After login the limit is max_message_mib: a 2 MiB statement ends the connection,
        // 0.5 MiB is fine.
        let client = served.connect("alice").await.expect("login");
        let big = format!("SELECT length('{}')", "x".repeat(2 << 20));
        assert!(client.simple_query(&big).await.is_err());
        let client = served.connect("alice").await.expect("login");
        let fine = format!("SELECT length('{}') AS n", "x".repeat(512 << 10));
        let row = client
            .query_one(fine.as_str(), &[])
            .await
            .expect("half a MiB");
        assert_eq!(row.get::<_, i32>("n"), 512 << 10);
    });
    let grown = rss_kib(served.child.id()).saturating_sub(rss_before) / 1024;
    assert!(grown < 100, "server memory grew by {grown} MiB");

    rt.block_on(async {
        // Attack 10: 70 idle sockets from one address; others still log in at once, and the
        // idle ones are closed at the login timeout.
        let mut idle = Vec::new();
        for _ in 0..70 {
            idle.push(connect_from(2, served.port).await);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
        let t = Instant::now();
        let client = login_from(1, served.port, "alice", "alice-pw")
            .await
            .expect("login");
        client.simple_query("SELECT 1").await.expect("query");
        assert!(
            t.elapsed() < Duration::from_secs(2),
            "login took {:?}",
            t.elapsed()
        );
        let mut closed = 0;
        tokio::time::sleep(Duration::from_secs(4)).await;
        for s in &mut idle {
            let mut buf = [0u8; 256];
            match tokio::time::timeout(
                Duration::from_millis(100),
                tokio::io::AsyncReadExt::read(s, &mut buf),
            )
            .await
            {
                Ok(Ok(0)) | Ok(Err(_)) => closed += 1,
                _ => {}
            }
        }
        assert_eq!(
            closed,
            idle.len(),
            "idle unauthenticated sockets are closed at the login timeout"
        );
        drop(idle);

        // Attack 13: more sockets than the server has file descriptors (128), from many
        // addresses: accept errors back off and are summarised, and once they are gone
        // logins work again.
        let mut flood = Vec::new();
        for source in 10..30u8 {
            for _ in 0..12 {
                flood.push(connect_from(source, served.port).await);
            }
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        drop(flood);
        tokio::time::sleep(Duration::from_secs(4)).await;
        let client = login_from(1, served.port, "sam", "sam-pw")
            .await
            .expect("login after the flood");
        client.simple_query("SELECT 1").await.expect("query");
    });
    let log = served.stderr.lock().expect("log").clone();
    let accept_warnings = log.matches("accept failed").count();
    assert!(
        accept_warnings <= 3,
        "{accept_warnings} accept warnings:\n{log}"
    );
    still_answers(&served);
}

#[test]
fn slow_readers_are_bounded_in_memory_and_time() {
    let served = serve(
        &sample_build().copy.warehouse(),
        "statement_timeout_seconds = 6",
    );
    let proxy = stalling_proxy(served.port);
    let rt = runtime();
    rt.block_on(async {
        let config: tokio_postgres::Config = "user=alice password=alice-pw dbname=acrm"
            .parse()
            .expect("config");
        let stream = tokio::net::TcpStream::connect(("127.0.0.1", proxy.port))
            .await
            .expect("proxy");
        let (client, connection) = config
            .connect_raw(stream, tokio_postgres::NoTls)
            .await
            .expect("login");
        tokio::spawn(connection);
        let before = rss_kib(served.child.id());
        // Attacks 3 and 12: a large result over the extended protocol, the client not
        // reading (it stops once the statement is prepared: Bind and Execute still go out).
        let statement = client
            .prepare("SELECT x FROM generate_series(1, 20000000) AS t(x)")
            .await
            .expect("prepare");
        proxy.stall.store(true, Ordering::Release);
        let started = Instant::now();
        let query = tokio::spawn(async move {
            let params: [&(dyn tokio_postgres::types::ToSql + Sync); 0] = [];
            client.query_raw(&statement, params).await.map(|_| ())
        });
        tokio::time::sleep(Duration::from_secs(4)).await;
        let grown = rss_kib(served.child.id()).saturating_sub(before) / 1024;
        assert!(grown < 150, "the server buffered the result: +{grown} MiB");
        // The write blocked on the client is ended at the deadline: the audit says timeout,
        // with the rows that went out, while the client still does not read.
        let timed_out = loop {
            if let Some(l) = served
                .audit_lines()
                .into_iter()
                .find(|l| l["outcome"] == "timeout")
            {
                break l;
            }
            assert!(
                started.elapsed() < Duration::from_secs(12),
                "no timeout while the client stalled"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert!(
            started.elapsed() < Duration::from_secs(12),
            "{:?}",
            started.elapsed()
        );
        assert!(timed_out["rows"].as_u64().unwrap_or(0) > 0, "{timed_out}");
        query.abort();
    });
    still_answers(&served);
}

#[test]
fn password_guessing_is_slowed_per_address_and_unknown_users_answer_as_fast() {
    let served = serve(&sample_build().copy.warehouse(), "");
    let rt = runtime();
    rt.block_on(async {
        // Attack 14: wrong passwords from one address wait longer and longer.
        let t = Instant::now();
        for _ in 0..5 {
            let err = login_from(3, served.port, "alice", "guess")
                .await
                .expect_err("wrong");
            assert_eq!(err.code().map(|c| c.code()), Some("28P01"), "{err}");
        }
        // 0.25 + 0.5 + 1 + 2 s of waiting before the fifth answer.
        assert!(
            t.elapsed() >= Duration::from_millis(3_700),
            "{:?}",
            t.elapsed()
        );
        // Another address is not slowed.
        let t = Instant::now();
        login_from(4, served.port, "alice", "alice-pw")
            .await
            .expect("login");
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
        // The right password from the guessing address still works (after its turn).
        login_from(3, served.port, "alice", "alice-pw")
            .await
            .expect("login after waiting");

        // Attack 15 (timing): an unknown user's failure takes as long as a known user's
        // wrong password (each try from a fresh address, so no delay applies).
        let mut known = Vec::new();
        let mut unknown = Vec::new();
        for i in 0..15u8 {
            let t = Instant::now();
            login_from(100 + i, served.port, "alice", "wrong")
                .await
                .expect_err("wrong");
            known.push(t.elapsed());
            let t = Instant::now();
            login_from(150 + i, served.port, "nobody", "wrong")
                .await
                .expect_err("unknown");
            unknown.push(t.elapsed());
        }
        known.sort();
        unknown.sort();
        let (k, u) = (known[7], unknown[7]);
        assert!(
            u < k.mul_f64(1.5) + Duration::from_millis(2),
            "unknown {u:?} vs known {k:?}"
        );
    });
}

#[test]
fn scopes_masks_and_plans_hold_against_hostile_sql() {
    let served = serve(&sample_build().copy.warehouse(), "");
    let (_, branch) = sample_region_and_branch();
    let branches = csv_rows(&run_ok(&mut on_sample(&[
        "sql",
        "--privileged",
        "--format",
        "csv",
        "SELECT branch_key, branch_code, branch_name FROM dim_branch WHERE branch_key <> 0 ORDER BY branch_key",
    ])));
    let key = branches.iter().find(|b| b[1] == branch).expect("branch")[0].clone();
    let other = branches
        .iter()
        .find(|b| b[1] != branch)
        .expect("another branch")[0]
        .clone();
    let lines = cli_value(&format!(
        "SELECT count(*) FROM fact_sales f JOIN dim_branch b ON f.branch_key = b.branch_key WHERE b.branch_code = '{branch}'"
    ));

    // Attack 4: an expression that fails on out-of-scope values is never evaluated on them.
    let probe = format!(
        "SELECT count(*) FROM dim_branch WHERE CASE WHEN branch_key <> {key} THEN CAST(branch_code || '|' || branch_name AS INT) ELSE 0 END = 0"
    );
    assert_eq!(served.psql_ok("bo", &probe), "1");
    let probe = format!(
        "SELECT count(*) FROM fact_sales WHERE CASE WHEN branch_key <> {key} THEN CAST(CAST(revenue AS VARCHAR) || 'x' AS INT) ELSE 0 END = 0"
    );
    assert_eq!(served.psql_ok("bo", &probe), lines);
    let in_scope = served.psql_ok("bo", "SELECT count(*) FROM dim_customer");
    let probe = "SELECT count(*) FROM dim_customer WHERE 1 / (CASE WHEN customer_id IN (SELECT customer_id FROM customer_360) THEN 1 ELSE 0 END) = 1";
    assert_eq!(served.psql_ok("bo", probe), in_scope);
    let any_error = served.psql(
        "bo",
        "bo-pw",
        "SELECT count(*) FROM dim_branch WHERE CAST(branch_name AS INT) = 0",
    );
    let text = String::from_utf8_lossy(&any_error.stderr).to_string();
    for b in branches.iter().filter(|b| b[1] != branch) {
        assert!(
            !text.contains(&b[1]) && !text.contains(&b[2]),
            "out-of-scope branch in: {text}"
        );
    }
    // Attack 5: the divide-by-zero oracle sees no out-of-scope row.
    let oracle = format!(
        "SELECT count(*) FROM fact_sales WHERE 1 / (CASE WHEN branch_key = {other} THEN 0 ELSE 1 END) = 1"
    );
    assert_eq!(served.psql_ok("bo", &oracle), lines);

    // Attacks 6 and 7: EXPLAIN ANALYZE / VERBOSE only for unrestricted privileged roles.
    for (user, pw) in [("bo", "bo-pw"), ("alice", "alice-pw"), ("rita", "rita-pw")] {
        for sql in [
            "EXPLAIN ANALYZE SELECT count(*) FROM fact_sales",
            "EXPLAIN VERBOSE SELECT email FROM dim_customer",
            "EXPLAIN (ANALYZE) SELECT 1",
        ] {
            let err = served.psql_err(user, pw, sql);
            assert!(err.contains("privileged"), "{user}: {sql}: {err}");
        }
    }
    let analyzed = served.psql_ok("sam", "EXPLAIN ANALYZE SELECT count(*) FROM fact_sales");
    assert!(analyzed.contains("output_rows"), "{analyzed}");
    // Plain EXPLAIN works and names files inside the warehouse only (attack 15).
    let plan = served.psql_ok("alice", "EXPLAIN SELECT sum(revenue) FROM fact_sales");
    let warehouse = std::fs::canonicalize(sample_build().copy.warehouse()).expect("warehouse");
    let root = warehouse.display().to_string();
    assert!(plan.contains("fact_sales/"), "{plan}");
    assert!(
        !plan.contains(root.trim_start_matches('/')),
        "server path in: {plan}"
    );
    let scoped_plan = served.psql_ok(
        "bo",
        "EXPLAIN SELECT count(*) FROM fact_sales WHERE revenue > 1",
    );
    assert!(scoped_plan.contains("BarrierExec"), "{scoped_plan}");

    // Attack 9: model functions take registry names only.
    for name in ["/etc/passwd", "../../../etc/hostname", "churn-v1/../../x"] {
        let err = served.psql_err(
            "alice",
            "alice-pw",
            &format!("SELECT churn_probability('{name}', 1)"),
        );
        assert!(err.contains("not a model name"), "{name}: {err}");
        assert!(!err.contains("root:"), "{err}");
    }

    // Attack 15: the real user, no engine settings, no guard definitions.
    assert_eq!(served.psql_ok("alice", "SELECT current_user"), "alice");
    assert_eq!(served.psql_ok("bo", "SELECT session_user"), "bo");
    let all = served.psql_ok("alice", "SHOW ALL");
    assert!(
        all.contains("statement_timeout") && !all.contains("/tmp") && !all.contains("datafusion"),
        "{all}"
    );
    let views = served.psql_ok(
        "bo",
        "SELECT table_name || ':' || coalesce(definition, '') FROM information_schema.views",
    );
    assert!(
        !views.contains("concat(left") && !views.contains("raw."),
        "{views}"
    );
    for guarded in ["fact_sales", "dim_customer", "mart_rfm", "dim_branch"] {
        let line = format!("{guarded}:");
        assert!(
            views.lines().any(|l| l == line),
            "{guarded} shows a definition:\n{views}"
        );
    }
    still_answers(&served);
}

/// A customer export with bad personal values (e-mail, phone, birth date) and one bad
/// non-personal value (signup date), built into a warehouse.
fn warehouse_with_bad_personal_values() -> tempfile::TempDir {
    let dir = tempdir();
    std::fs::write(
        dir.path().join("acrm.toml"),
        "[warehouse]\npath = \"wh\"\n[[source]]\nname = \"crm\"\nentity = \"customer\"\npath = \"crm_*.csv\"\n\
         date_format = \"%Y-%m-%d\"\nmax_quarantined_share = 1.0\n[source.columns]\nsource_id = \"id\"\nname = \"name\"\nemail = \"email\"\n\
         phone = \"phone\"\nbirth_date = \"born\"\nsignup_date = \"joined\"\n",
    )
    .expect("config");
    std::fs::write(
        dir.path().join("crm_1.csv"),
        "id,name,email,phone,born,joined\n\
         A1,Wang Xiaoming,wang.xiaoming.private#gmail.com,13800138000,1980-01-01,2024-01-01\n\
         A2,Li Lei,li@example.com,12,1981-02-03,2024-01-02\n\
         A3,Han Mei,han@example.com,13900139000,1982-13-45,2024-01-03\n\
         A4,Zhao Yun,zhao@example.com,13700137000,1983-01-01,2024-99-01\n\
         A5,Qian Duo,qian@example.com,13600136000,1984-01-01,2024-01-05\n",
    )
    .expect("export");
    run_ok(
        acrm()
            .args(["build", "--config"])
            .arg(dir.path().join("acrm.toml")),
    );
    dir
}

#[test]
fn quarantine_reasons_never_repeat_personal_values() {
    // Attack 8: `etl_quarantine.reason` repeated a rejected e-mail while `raw_record` was
    // masked. Reasons about personal fields now say what was expected only.
    let dir = warehouse_with_bad_personal_values();
    let served = serve(&dir.path().join("wh"), "");
    let reasons = served.psql_ok(
        "alice",
        "SELECT \"column\" || ': ' || reason FROM etl_quarantine ORDER BY line",
    );
    let lines: Vec<&str> = reasons.lines().collect();
    assert_eq!(lines.len(), 4, "{reasons}");
    for (line, column) in lines.iter().zip(["email", "phone", "born"]) {
        assert!(
            line.starts_with(column) && line.contains("withheld"),
            "{line}"
        );
    }
    for secret in ["wang.xiaoming", "#gmail", "1982-13-45", "'12'"] {
        assert!(!reasons.contains(secret), "{secret} in: {reasons}");
    }
    // A value that is not personal is still shown, and stewards keep the raw row.
    assert!(lines[3].contains("2024-99-01"), "{}", lines[3]);
    let raw = served.psql_ok(
        "sam",
        "SELECT raw_record FROM etl_quarantine ORDER BY line LIMIT 1",
    );
    assert!(raw.contains("wang.xiaoming.private#gmail.com"), "{raw}");
    let masked = served.psql_ok(
        "alice",
        "SELECT raw_record FROM etl_quarantine ORDER BY line LIMIT 1",
    );
    assert!(!masked.contains("wang.xiaoming"), "{masked}");
}
