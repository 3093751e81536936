//! A user's own exports: a transactions-only source builds a usable warehouse; bad config and
//! unusable files stop the build with a clear error and leave the published version alone.

use std::path::Path;

use crate::common::*;

/// A transactions-only source (customer, date, quantity, amount; no order id).
pub const TX_CONFIG: &str = r#"
[warehouse]
path = "wh"

[[source]]
name = "till"
entity = "sales_line"
path = "tx_*.csv"
date_format = "%d/%m/%Y"
timestamp_format = "%d/%m/%Y"
[source.columns]
customer_ref = "Customer"
order_time = "Date"
quantity = "Qty"
amount = "Amount"
"#;

const TX_ROWS: &str = "Customer,Date,Qty,Amount\n\
C1,03/01/2024,2,19.90\n\
C2,03/01/2024,1,5\n\
C1,15/02/2024,3,\"1,200.50\"\n\
C3,31/12/2023,1,7.25\n\
C2,32/01/2024,1,5.00\n\
C3,01/03/2024,0,1.00\n";

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).expect("write test file");
}

#[test]
fn transactions_only_source_builds_a_usable_warehouse() {
    let dir = tempdir();
    write(&dir.path().join("acrm.toml"), TX_CONFIG);
    write(&dir.path().join("tx_1.csv"), TX_ROWS);
    let out = run_ok(
        acrm()
            .args(["build", "--format", "json", "--config"])
            .arg(dir.path().join("acrm.toml")),
    );
    let report: serde_json::Value = serde_json::from_str(&out).expect("JSON report");
    assert_eq!(report["status"], "published");
    let file = &report["files"][0];
    assert_eq!(
        (
            &file["rows_read"],
            &file["rows_loaded"],
            &file["rows_quarantined"]
        ),
        (&6.into(), &4.into(), &2.into())
    );
    // The config's warehouse path is used when --warehouse is not given.
    let v = current(&dir.path().join("wh"));
    let sales = read_table(&v, "fact_sales");
    assert_eq!(rows(&sales), 4);
    let revenue: Vec<String> = column_text(&sales, "revenue")
        .into_iter()
        .map(|r| r.expect("revenue"))
        .collect();
    let mut sorted = revenue.clone();
    sorted.sort();
    assert_eq!(sorted, ["1200.50", "19.90", "5.00", "7.25"]);
    // Customers known only from the transactions become inferred members; the product is the
    // unknown member; the calendar covers every fact date.
    let customers = read_table(&v, "dim_customer");
    assert_eq!(rows(&customers), 4, "unknown member + C1, C2, C3");
    assert!(
        column_text(&sales, "product_key")
            .iter()
            .all(|k| k.as_deref() == Some("0"))
    );
    let years: std::collections::BTreeSet<String> =
        column_text(&read_table(&v, "dim_date"), "year")
            .into_iter()
            .flatten()
            .collect();
    assert_eq!(years.into_iter().collect::<Vec<_>>(), ["2023", "2024"]);
    let q = read_table(&v, "etl_quarantine");
    let mut reasons: Vec<(String, String)> = column_text(&q, "line")
        .into_iter()
        .zip(column_text(&q, "reason"))
        .map(|(l, r)| (l.expect("line"), r.expect("reason")))
        .collect();
    reasons.sort();
    assert_eq!(reasons[0].0, "6");
    assert!(reasons[0].1.contains("'Date'"), "{reasons:?}");
    assert_eq!(reasons[1].0, "7");
    assert!(reasons[1].1.contains("'Qty'"), "{reasons:?}");
}

/// Builds the transactions sample once, then runs `acrm build` with `config` and checks it
/// fails naming `expected`, with version 1 still published and unchanged.
fn fails_and_keeps_version_1(config: &str, data: &str, expected: &[&str]) {
    let dir = tempdir();
    let cfg = dir.path().join("acrm.toml");
    write(&cfg, TX_CONFIG);
    write(&dir.path().join("tx_1.csv"), TX_ROWS);
    run_ok(acrm().arg("build").arg("--config").arg(&cfg));
    let wh = dir.path().join("wh");
    let before = checksums(&current(&wh), &facts());
    write(&cfg, config);
    write(&dir.path().join("tx_2.csv"), data);
    let out = run(acrm().arg("build").arg("--config").arg(&cfg));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the build must fail: {stderr}");
    assert_eq!(out.status.code(), Some(1));
    for e in expected {
        assert!(stderr.contains(e), "'{e}' in: {stderr}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(current_version(&wh), 1);
    assert_eq!(checksums(&current(&wh), &facts()), before);
}

#[test]
fn unknown_field_in_config_is_named_and_nothing_changes() {
    fails_and_keeps_version_1(
        &TX_CONFIG.replace("amount = \"Amount\"", "amount = \"Amount\"\namout = \"x\""),
        TX_ROWS,
        &["acrm.toml", "'amout' is not a field of entity 'sales_line'"],
    );
}

#[test]
fn export_without_a_mapped_column_is_named_and_nothing_changes() {
    fails_and_keeps_version_1(
        TX_CONFIG,
        "Customer,Day,Qty,Amount\nC1,03/01/2024,2,19.90\n",
        &[
            "tx_2.csv",
            "maps column 'Date', which is not in the header",
            "previously published version is untouched",
        ],
    );
}

#[test]
fn rewritten_export_is_refused() {
    let dir = tempdir();
    let cfg = dir.path().join("acrm.toml");
    write(&cfg, TX_CONFIG);
    write(&dir.path().join("tx_1.csv"), TX_ROWS);
    run_ok(acrm().arg("build").arg("--config").arg(&cfg));
    write(
        &dir.path().join("tx_1.csv"),
        &TX_ROWS.replace("19.90", "29.90"),
    );
    let out = run(acrm().arg("build").arg("--config").arg(&cfg));
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("tx_1.csv") && stderr.contains("--full"),
        "{stderr}"
    );
    // Rebuilding from scratch accepts the corrected file.
    let out = run_ok(acrm().arg("build").arg("--full").arg("--config").arg(&cfg));
    assert!(out.contains("published warehouse version 2"), "{out}");
}
