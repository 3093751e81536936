//! The OLAP layer through the binary on the sample warehouse: every report against its
//! golden file, `acrm sql` in each output format, clean SQL errors, the shell on piped
//! input, read-only enforcement, and PII masking by default.

use std::io::Write;
use std::process::Stdio;

use crate::common::*;

#[test]
fn every_report_matches_its_golden_file() {
    let list = run_ok(acrm().args(["report", "--list"]));
    let names: Vec<&str> = list
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(names.len() >= 8, "{list}");
    let golden = repo().join("tests/golden/reports");
    for name in names {
        let out = run_ok(&mut on_sample(&["report", name, "--format", "csv"]));
        assert!(out.lines().count() > 1, "{name} returns rows:\n{out}");
        assert_golden(&golden.join(format!("{name}.csv")), &out, "every_report");
    }
}

#[test]
fn sql_writes_each_output_format() {
    let q = "SELECT channel_code, count(*) AS lines FROM sales_cube GROUP BY channel_code ORDER BY channel_code";
    let table = run_ok(&mut on_sample(&["sql", q]));
    assert!(table.contains("| channel_code | lines |"), "{table}");
    let csv = run_ok(&mut on_sample(&["sql", "--format", "csv", q]));
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "channel_code,lines");
    let total: u64 = lines[1..]
        .iter()
        .map(|l| {
            l.split(',')
                .nth(1)
                .expect("count")
                .parse::<u64>()
                .expect("number")
        })
        .sum();
    let json = run_ok(&mut on_sample(&["sql", "--format", "json", q]));
    let rows: Vec<serde_json::Value> = serde_json::from_str(&json).expect("JSON array");
    assert_eq!(rows.len(), lines.len() - 1);
    let dir = tempdir();
    let file = dir.path().join("out.parquet");
    run_ok(
        on_sample(&["sql", "--format", "parquet", q])
            .arg("--output")
            .arg(&file),
    );
    let f = std::fs::File::open(&file).expect("parquet written");
    let reader =
        datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f)
            .expect("valid parquet");
    assert_eq!(
        reader.metadata().file_metadata().num_rows() as usize,
        rows.len()
    );
    // The lines of every channel add up to the fact table.
    let facts = manifest(&current(&sample_build().copy.warehouse()))["tables"]["fact_sales"]
        .as_u64()
        .expect("rows");
    assert_eq!(total, facts);
}

#[test]
fn sql_errors_are_reported_cleanly() {
    for (query, expected) in [
        ("SELEC 1", "SELEC"),
        ("SELECT * FROM no_such_table", "no_such_table"),
        ("SELECT nope FROM fact_sales", "nope"),
        (
            "CREATE EXTERNAL TABLE x STORED AS PARQUET LOCATION '/tmp'",
            "not supported",
        ),
        ("COPY (SELECT 1) TO '/tmp/x.csv'", "not supported"),
    ] {
        let out = run(&mut on_sample(&["sql", query]));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{query}: {stderr}");
        assert!(stderr.contains(expected), "{query}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn pii_is_masked_unless_privileged() {
    let q = "SELECT name, phone, email, birth_date FROM customer_360 WHERE customer_id = 1";
    let masked = run_ok(&mut on_sample(&["sql", "--format", "json", q]));
    let raw = run_ok(&mut on_sample(&[
        "sql",
        "--privileged",
        "--format",
        "json",
        q,
    ]));
    let (m, r): (serde_json::Value, serde_json::Value) = (
        serde_json::from_str(&masked).expect("json"),
        serde_json::from_str(&raw).expect("json"),
    );
    let (m, r) = (&m[0], &r[0]);
    let name = r["name"].as_str().expect("name");
    assert!(name.chars().count() >= 2);
    assert_eq!(
        m["name"].as_str(),
        Some(format!("{}*", name.chars().next().expect("char")).as_str())
    );
    let phone = r["phone"].as_str().expect("phone");
    assert!(phone.starts_with("+86"));
    assert_eq!(
        m["phone"].as_str(),
        Some(format!("***{}", &phone[phone.len() - 4..]).as_str())
    );
    assert!(m["birth_date"].as_str().expect("date").ends_with("-01-01"));
    assert_ne!(m["email"], r["email"]);
    // Masked in every table that holds the column, and in the quarantine's raw rows.
    let raw_rows = run_ok(&mut on_sample(&[
        "sql",
        "--format",
        "csv",
        "SELECT DISTINCT raw_record FROM etl_quarantine",
    ]));
    assert_eq!(raw_rows.trim(), "raw_record\n***");
    let describe = run_ok(&mut on_sample(&["describe", "dim_customer"]));
    assert!(describe.contains("PII masked"), "{describe}");
}

/// `acrm describe` documents every column of every table, mart and view it serves, and a
/// view's PII columns are flagged and masked as in the table they are read from.
#[test]
fn describe_documents_every_column_and_flags_pii_in_views() {
    let tables = run_ok(&mut on_sample(&["tables", "--format", "json"]));
    let tables: Vec<serde_json::Value> = serde_json::from_str(&tables).expect("json");
    assert!(tables.iter().any(|t| t["kind"] == "view"), "{tables:?}");
    for t in &tables {
        let name = t["name"].as_str().expect("name");
        let columns = run_ok(&mut on_sample(&["describe", name, "--format", "json"]));
        let columns: Vec<serde_json::Value> = serde_json::from_str(&columns).expect("json");
        for c in &columns {
            assert_ne!(
                c["description"], "",
                "{name}.{} has no description",
                c["name"]
            );
        }
    }
    let view = run_ok(&mut on_sample(&[
        "describe",
        "customer_360",
        "--format",
        "json",
    ]));
    let view: Vec<serde_json::Value> = serde_json::from_str(&view).expect("json");
    let flags = |column: &str| {
        let c = view
            .iter()
            .find(|c| c["name"] == column)
            .unwrap_or_else(|| panic!("{column} in {view:?}"));
        (c["pii"].as_bool(), c["masked"].as_bool())
    };
    for pii in ["name", "phone", "email", "birth_date"] {
        assert_eq!(flags(pii), (Some(true), Some(true)), "{pii}");
    }
    assert_eq!(flags("revenue"), (Some(false), Some(false)));
    // Text has one type name, key text (customer_id of dim_customer is not) or not.
    let types = |table: &str| {
        let json = run_ok(&mut on_sample(&["describe", table, "--format", "json"]));
        let columns: Vec<serde_json::Value> = serde_json::from_str(&json).expect("json");
        columns
            .iter()
            .map(|c| {
                (
                    c["name"].as_str().unwrap_or("").to_string(),
                    c["data_type"].clone(),
                )
            })
            .collect::<std::collections::HashMap<_, _>>()
    };
    let sales = types("fact_sales");
    assert_eq!(sales["order_id"], "Utf8", "key text");
    assert_eq!(sales["source_system"], "Utf8", "other text");
    let text = run_ok(&mut on_sample(&["describe", "customer_360"]));
    assert!(
        text.starts_with("customer_360 (view): one row per current golden customer"),
        "{text}"
    );
}

#[test]
fn shell_runs_piped_statements() {
    let out = run_with_input(
        &mut on_sample(&["sql"]),
        b"SELECT 40 + 2\n  AS answer;\n-- a comment; ignored\nSELECT count(*) AS n FROM dim_channel;\n",
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("| 42 "), "{stdout}");
    assert!(stdout.contains("| n "), "{stdout}");
}

#[test]
fn tables_lists_schema_tables_and_views() {
    let out = run_ok(&mut on_sample(&["tables", "--format", "json"]));
    let tables: Vec<serde_json::Value> = serde_json::from_str(&out).expect("json");
    let names: Vec<&str> = tables.iter().filter_map(|t| t["name"].as_str()).collect();
    for n in ["dim_customer", "fact_sales", "customer_360", "sales_cube"] {
        assert!(names.contains(&n), "{names:?}");
    }
    // Every declared aggregate, with its rows, as an aggregate.
    for a in acrm_schema::builtin_aggregates().expect("aggregates") {
        let t = tables.iter().find(|t| t["name"] == a.name.as_str());
        let t = t.unwrap_or_else(|| panic!("{} not listed: {names:?}", a.name));
        assert_eq!(t["kind"], "aggregate");
        assert!(t["rows"].as_u64().is_some_and(|r| r > 0), "{t}");
    }
    let raw = run_ok(&mut on_sample(&[
        "tables",
        "--format",
        "json",
        "--no-aggregates",
    ]));
    assert!(!raw.contains("agg_"), "{raw}");
    let columns = run_ok(&mut on_sample(&[
        "describe",
        "agg_sales_region_month_category",
    ]));
    for note in [
        "Grain: sales_cube.category",
        "sum(revenue)",
        "acrm_bitmap_count",
    ] {
        assert!(columns.contains(note), "{columns}");
    }
}

/// `EXPLAIN` of shipped report `name`'s SQL, read from its file.
fn explain_report(name: &str) -> String {
    let path = repo().join(format!("warehouse-schema/reports/{name}.sql"));
    let sql = std::fs::read_to_string(path).expect("report");
    format!("EXPLAIN {sql}")
}

/// Every report gives the same bytes with aggregate navigation on and off; the covered
/// ones name their aggregate in `EXPLAIN`, the materialized ones their stored result, an
/// uncovered query reads the facts.
#[test]
fn aggregates_answer_reports_byte_identically_and_show_in_explain() {
    let list = run_ok(acrm().args(["report", "--list"]));
    for name in list.lines().filter_map(|l| l.split_whitespace().next()) {
        // Unprivileged (stored results answer) and privileged (aggregates answer the
        // reports that read personal data).
        for privileged in [&[][..], &["--privileged"][..]] {
            let report = |extra: &[&str]| {
                let mut args = vec!["report", name, "--format", "csv"];
                args.extend_from_slice(privileged);
                args.extend_from_slice(extra);
                run_ok(&mut on_sample(&args))
            };
            assert_eq!(
                report(&[]),
                report(&["--no-aggregates"]),
                "{name} {privileged:?}"
            );
        }
    }
    // The reports the aggregates answer, each from the one its grain covers, asked by a
    // privileged caller (for whom no stored result of a report reading personal data
    // answers first, as below).
    for (report, aggregate, fact) in [
        (
            "sales_rollup",
            "agg_sales_region_month_category",
            "fact_sales",
        ),
        (
            "campaign_response",
            "agg_campaign_month_type",
            "fact_campaign_response",
        ),
    ] {
        let explain = explain_report(report);
        let plan = run_ok(&mut on_sample(&["sql", "--privileged", &explain]));
        assert!(
            plan.contains(aggregate) && !plan.contains(fact),
            "{report}: {plan}"
        );
        let raw = run_ok(&mut on_sample(&["sql", "--no-aggregates", &explain]));
        assert!(
            !raw.contains("agg_") && raw.contains(fact),
            "{report}: {raw}"
        );
    }
    // The materialized reports, each from its stored result — for a privileged caller only
    // when the report reads no personal data (the stored result holds masked values).
    let tables = run_ok(&mut on_sample(&["tables", "--format", "json"]));
    let tables: Vec<serde_json::Value> = serde_json::from_str(&tables).expect("json");
    for name in acrm_schema::builtin_materialized_reports().expect("reports") {
        let stored = format!("rpt_{name}");
        let listed = tables.iter().find(|t| t["name"] == stored.as_str());
        assert!(
            listed.is_some_and(|t| t["kind"] == "report"),
            "{stored} not listed"
        );
        let explain = explain_report(&name);
        let plan = run_ok(&mut on_sample(&["sql", &explain]));
        assert!(
            plan.contains(&stored) && !plan.contains("fact_"),
            "{name}: {plan}"
        );
        let raw = run_ok(&mut on_sample(&["sql", "--no-aggregates", &explain]));
        assert!(!raw.contains("rpt_"), "{name}: {raw}");
        let personal = [
            "campaign_response",
            "channel_cube",
            "receivables_ageing",
            "sales_rollup",
            "top_customers",
        ];
        let privileged = run_ok(&mut on_sample(&["sql", "--privileged", &explain]));
        assert_eq!(
            privileged.contains(&stored),
            !personal.contains(&name.as_str()),
            "{name}: {privileged}"
        );
    }
    let privileged = run_ok(&mut on_sample(&[
        "report",
        "top_customers",
        "--format",
        "csv",
        "--privileged",
    ]));
    let masked = run_ok(&mut on_sample(&[
        "report",
        "top_customers",
        "--format",
        "csv",
    ]));
    assert_ne!(
        privileged, masked,
        "names are masked for an unprivileged caller"
    );
    let uncovered = "EXPLAIN SELECT category, sum(revenue) FROM sales_cube WHERE quantity > 0 GROUP BY category";
    let plan = run_ok(&mut on_sample(&["sql", uncovered]));
    assert!(
        !plan.contains("agg_") && plan.contains("fact_sales"),
        "{plan}"
    );
}

#[test]
fn timeout_and_memory_limit_end_a_query_with_an_error() {
    let slow =
        "SELECT count(*) FROM fact_sales a CROSS JOIN fact_sales b WHERE a.revenue > b.revenue";
    let started = std::time::Instant::now();
    let out = run(&mut on_sample(&["sql", "--timeout", "1", slow]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("timeout"), "{stderr}");
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    let hungry = "SELECT order_id, array_agg(product_name) FROM sales_cube GROUP BY order_id ORDER BY order_id";
    let out = run(&mut on_sample(&[
        "sql",
        "--memory-limit",
        "1",
        "--format",
        "csv",
        hungry,
    ]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("Resources exhausted"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

/// Every shipped report and a set of ad-hoc queries give the same answers in DuckDB, an
/// independent engine reading the same Parquet files.
#[test]
fn reports_and_ad_hoc_queries_agree_with_duckdb() {
    let out = std::process::Command::new(tool(&["python3"]))
        .arg(repo().join("tests/olap_vs_duckdb.py"))
        .arg(env!("CARGO_BIN_EXE_acrm"))
        .arg(sample_build().copy.warehouse())
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}");
    assert!(
        out.status.success(),
        "{stdout}\n{}\n(if duckdb is missing: {SET_UP})",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains(" 0 failed"), "{stdout}");
}

/// The interactive shell under a real pseudo-terminal (util-linux `script`): a statement over
/// two lines runs when it ends with ';', and `\q` quits.
#[test]
fn shell_under_a_terminal_runs_multi_line_statements() {
    let command = format!(
        "{} sql --warehouse {}",
        env!("CARGO_BIN_EXE_acrm"),
        sample_build().copy.warehouse().display()
    );
    let mut child = std::process::Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("ACRM_LOG", "warn")
        .env("HOME", sample_build().copy.dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("util-linux `script` runs");
    let mut stdin = child.stdin.take().expect("stdin");
    for line in ["SELECT 40 +\n", " 2 AS answer;\n", "\\q\n"] {
        std::thread::sleep(std::time::Duration::from_millis(700));
        stdin.write_all(line.as_bytes()).expect("type a line");
        stdin.flush().expect("flush");
    }
    std::thread::sleep(std::time::Duration::from_millis(700));
    drop(stdin);
    let out = child.wait_with_output().expect("shell ends");
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(screen.contains("acrm SQL shell"), "{screen}");
    assert!(screen.contains("-> "), "continuation prompt: {screen}");
    assert!(screen.contains("| 42 "), "{screen}");
}

/// A reader that stops early (`acrm sql … | head`) ends acrm quietly, not with a panic.
#[test]
fn closed_output_pipe_ends_quietly() {
    use std::io::BufRead;
    let mut child = on_sample(&["sql", "--format", "csv", "SELECT * FROM fact_sales"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let mut first = String::new();
    std::io::BufReader::new(child.stdout.take().expect("stdout"))
        .read_line(&mut first)
        .expect("header line");
    assert!(first.starts_with("order_id,"), "{first}");
    let out = child.wait_with_output().expect("ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(out.status.success(), "{stderr}");
}

#[test]
fn timing_reports_each_statement_on_stderr() {
    let out = run(&mut on_sample(&[
        "sql",
        "--timing",
        "--format",
        "csv",
        "SELECT channel_code FROM dim_channel; SELECT 1 AS one",
    ]));
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    let times: Vec<&str> = err.lines().filter(|l| l.starts_with("Time: ")).collect();
    assert_eq!(times.len(), 2, "{err}");
    assert!(times[0].ends_with(" ms, 9 rows"), "{err}");
    assert!(times[1].ends_with(" ms, 1 rows"), "{err}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("Time:"));
}

/// The text tables people read, against golden files: numbers rounded (money to the cent,
/// no `0.37288481141692154`), NULL visible (a ROLLUP's total rows differ from an empty
/// value), long results cut at `--top` (default 20) with the rows left counted.
#[test]
fn human_tables_round_show_null_and_stop_at_top() {
    const ROLLUP: &str = "SELECT branch_region, channel_code, count(*) AS lines, \
        sum(revenue) AS revenue, avg(revenue) AS avg_line, avg(CAST(discount AS DOUBLE)) AS avg_discount \
        FROM sales_cube GROUP BY ROLLUP (branch_region, channel_code) \
        ORDER BY branch_region NULLS LAST, channel_code NULLS LAST, lines";
    const CUSTOMERS: &str = "SELECT customer_id, city FROM dim_customer ORDER BY customer_id";
    // A mart's declared units hold through SQL that selects its columns as they are.
    const UNITS: &str = "SELECT customer_id, share_of_wallet, clv FROM mart_value_tier \
        ORDER BY customer_id LIMIT 5";
    let cases: [(&str, Vec<&str>); 8] = [
        ("sql_rollup", vec!["sql", ROLLUP]),
        ("sql_units", vec!["sql", UNITS]),
        ("mine_value", vec!["mine", "value", "--no-write"]),
        ("sql_default_top", vec!["sql", CUSTOMERS]),
        ("sql_top_3", vec!["sql", "--top", "3", CUSTOMERS]),
        ("alerts", vec!["alerts", "--no-write"]),
        ("mine_rfm", vec!["mine", "rfm", "--no-write"]),
        (
            "basket_recommend",
            basket_args(&["recommend", "--no-write"]),
        ),
    ];
    let golden = repo().join("tests/golden/human");
    let mut outputs = std::collections::HashMap::new();
    for (name, args) in cases {
        let out = run_ok(&mut on_sample(&args));
        assert_golden(&golden.join(format!("{name}.txt")), &out, "human_tables");
        outputs.insert(name, out);
    }
    // What the goldens must show, whatever they were blessed with.
    for (name, column) in [
        ("sql_units", "share_of_wallet"),
        ("mine_value", "customer_share"),
    ] {
        let table = &outputs[name];
        let at = table
            .lines()
            .find(|l| l.starts_with("| "))
            .and_then(|header| header.split('|').position(|c| c.trim() == column))
            .unwrap_or_else(|| panic!("{column} in {table}"));
        let body = table.lines().skip(3).filter(|l| l.starts_with("| "));
        for row in body {
            let cell = row.split('|').nth(at).unwrap_or_default().trim();
            assert!(
                cell.ends_with('%'),
                "{name}: {column} '{cell}' is not a percentage"
            );
        }
    }
    let rollup = &outputs["sql_rollup"];
    assert!(rollup.contains("| NULL "), "{rollup}");
    let long_fraction = long_fraction(rollup);
    assert!(long_fraction.is_none(), "{long_fraction:?} in\n{rollup}");
    let data_rows = |t: &str| t.lines().filter(|l| l.starts_with("| ")).count() - 1;
    let top = &outputs["sql_default_top"];
    assert_eq!(data_rows(top), 20, "{top}");
    assert!(
        top.trim_end()
            .ends_with("more rows (use --top N, or --format csv for all)"),
        "{top}"
    );
    assert_eq!(data_rows(&outputs["sql_top_3"]), 3);
    let all = run_ok(&mut on_sample(&["sql", "--top", "0", CUSTOMERS]));
    let csv = run_ok(&mut on_sample(&["sql", "--format", "csv", CUSTOMERS]));
    assert_eq!(
        data_rows(&all),
        csv.lines().count() - 1,
        "--top 0 prints every row"
    );
    assert!(!all.contains("more row"));
}

/// A number with more than two decimals at or above 1 (`549.4862422604656`), if any.
fn long_fraction(text: &str) -> Option<String> {
    text.split(|c: char| c.is_whitespace() || c == '|')
        .filter(|cell| cell.parse::<f64>().is_ok_and(|x| x.abs() >= 1.0))
        .find(|cell| cell.split_once('.').is_some_and(|(_, f)| f.len() > 2))
        .map(str::to_string)
}

/// Exit codes as the README documents them (0 success, 1 an error, 2 a usage error), and the
/// report list in CSV for scripts.
#[test]
fn exit_codes_and_the_report_list_as_csv() {
    let code = |args: &[&str]| run(&mut on_sample(args)).status.code();
    assert_eq!(code(&["tables"]), Some(0));
    assert_eq!(code(&["sql", "SELEC 1"]), Some(1), "an SQL error");
    assert_eq!(
        code(&["sql", "--no-such-flag", "SELECT 1"]),
        Some(2),
        "a usage error"
    );
    assert_eq!(code(&["no-such-command"]), Some(2));
    let list = run_ok(acrm().args(["report", "--list", "--format", "csv"]));
    assert_eq!(list.lines().next(), Some("name,description"), "{list}");
    let rows = csv_rows(&list);
    assert!(
        rows.len() >= 8 && rows.iter().all(|r| r.len() == 2),
        "{list}"
    );
    assert!(rows.iter().any(|r| r[0] == "sales_rollup"), "{list}");
}
