//! Real exports are messy: re-sent files, overlapping order lines, keyless transaction logs
//! with real repeat purchases, empty and header-only files, a file in the wrong encoding,
//! returns, quoted fields with line breaks, oversized fields, and every bad-row kind the build
//! knows. Each test builds small hand-written exports through the binary and checks that
//! nothing is loaded twice or lost: per file, read = loaded + quarantined, and the fact
//! totals are what the exports say.

use std::collections::BTreeMap;
use std::path::PathBuf;

use crate::common::*;

/// A customer master, a product master and a POS order-line source, loaded night by night
/// (the batch date is in each file's name). `{pos}` is where extra POS settings go.
const CONFIG: &str = r#"
[warehouse]
path = "wh"

[build]
batch_date_pattern = '_(\d{4}-\d{2}-\d{2})\.'

[marts]
refresh = []

[[source]]
name = "crm"
entity = "customer"
path = "crm/crm_*.csv"
[source.columns]
source_id = "id"
name = "name"
address = "address"
city = "city"

[[source]]
name = "catalog"
entity = "product"
path = "catalog/products_*.csv"
[source.columns]
sku = "sku"
product_name = "name"
unit_price = "price"

[[source]]
name = "pos"
entity = "sales_line"
path = "pos/pos_*.csv"
customer_system = "crm"
timestamp_format = "%Y-%m-%d %H:%M"
{pos}
[source.columns]
order_id = "order"
line_number = "line"
order_time = "time"
customer_ref = "customer"
sku = "sku"
quantity = "qty"
amount = "amount"
"#;

const CRM: &str =
    "id,name,address,city\nC1,王伟,1 Nanjing Rd,Shanghai\nC2,李娜,2 Wangfujing,Beijing\n";
const PRODUCTS: &str = "sku,name,price\nA,Beer,5.00\nB,Diapers,20.00\n";
const POS_HEADER: &str = "order,line,time,customer,sku,qty,amount\n";

/// One company's export folder and warehouse.
struct Exports {
    dir: tempfile::TempDir,
}

impl Exports {
    /// The masters of 2024-03-01 and the config with `pos_settings` in the POS source.
    fn new(pos_settings: &str) -> Self {
        let e = Self { dir: tempdir() };
        e.config(pos_settings);
        e.write("crm/crm_2024-03-01.csv", CRM.as_bytes());
        e.write("catalog/products_2024-03-01.csv", PRODUCTS.as_bytes());
        e
    }

    fn config(&self, pos_settings: &str) {
        self.write(
            "acrm.toml",
            CONFIG.replace("{pos}", pos_settings).as_bytes(),
        );
    }

    fn write(&self, rel: &str, bytes: &[u8]) {
        let path = self.dir.path().join(rel);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("folder");
        std::fs::write(path, bytes).expect("write export");
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn build_cmd(&self, extra: &[&str]) -> std::process::Command {
        let mut c = acrm();
        c.arg("build")
            .args(extra)
            .arg("--config")
            .arg(self.path("acrm.toml"));
        c
    }

    /// Builds; fails the test unless it succeeds. Returns stderr (the warnings).
    fn build(&self) -> String {
        let out = run(&mut self.build_cmd(&[]));
        let stderr = String::from_utf8_lossy(&out.stderr).to_string();
        assert!(
            out.status.success(),
            "build failed:\n{stderr}\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        stderr
    }

    fn warehouse(&self) -> PathBuf {
        self.path("wh")
    }

    fn table(&self, name: &str) -> Vec<datafusion::arrow::array::RecordBatch> {
        read_table(&current(&self.warehouse()), name)
    }

    /// Per file of the current version: (read, loaded, quarantined), each file checked to
    /// reconcile, in the manifest and in etl_load_audit alike.
    fn reconciliation(&self) -> BTreeMap<String, (u64, u64, u64)> {
        let m = manifest(&current(&self.warehouse()));
        let mut out = BTreeMap::new();
        for f in m["files"].as_array().expect("files") {
            let n = |k: &str| f[k].as_u64().expect("count");
            let counts = (n("rows_read"), n("rows_loaded"), n("rows_quarantined"));
            assert_eq!(
                counts.0,
                counts.1 + counts.2,
                "read = loaded + quarantined: {f}"
            );
            out.insert(f["file"].as_str().expect("file").to_string(), counts);
        }
        let audit = self.table("etl_load_audit");
        let files = column_text(&audit, "file");
        let read = column_text(&audit, "rows_read");
        let loaded = column_text(&audit, "rows_loaded");
        let quarantined = column_text(&audit, "rows_quarantined");
        for i in 0..files.len() {
            let num = |c: &[Option<String>]| c[i].as_deref().expect("n").parse::<u64>().expect("n");
            let file = files[i].clone().expect("file");
            assert_eq!(
                out.get(&file),
                Some(&(num(&read), num(&loaded), num(&quarantined))),
                "etl_load_audit agrees with the manifest on {file}"
            );
        }
        out
    }

    /// The quarantine of the current version: (file, line, column, code), sorted.
    fn quarantine(&self) -> Vec<(String, u64, Option<String>, String)> {
        let q = self.table("etl_quarantine");
        let mut rows: Vec<_> = column_text(&q, "file")
            .into_iter()
            .zip(column_text(&q, "line"))
            .zip(column_text(&q, "column"))
            .zip(column_text(&q, "reason_code"))
            .map(|(((f, l), c), r)| {
                (
                    f.expect("file"),
                    l.expect("line").parse().expect("line"),
                    c,
                    r.expect("code"),
                )
            })
            .collect();
        rows.sort();
        rows
    }

    /// fact_sales: (order id, line, quantity, revenue) sorted, and total revenue in cents.
    fn sales(&self) -> (Vec<(String, i64, i64, String)>, i64) {
        let s = self.table("fact_sales");
        let text = |c: &str| column_text(&s, c);
        let (orders, lines, qty, revenue) = (
            text("order_id"),
            text("line_number"),
            text("quantity"),
            text("revenue"),
        );
        let mut rows: Vec<_> = (0..orders.len())
            .map(|i| {
                (
                    orders[i].clone().expect("order"),
                    lines[i].as_deref().expect("line").parse().expect("line"),
                    qty[i].as_deref().expect("qty").parse().expect("qty"),
                    revenue[i].clone().expect("revenue"),
                )
            })
            .collect();
        rows.sort();
        let cents = rows.iter().map(|r| cents(&r.3)).sum();
        (rows, cents)
    }
}

/// "12.50" → 1250.
fn cents(text: &str) -> i64 {
    let (int, frac) = text.split_once('.').unwrap_or((text, "0"));
    let sign = if int.starts_with('-') { -1 } else { 1 };
    let int: i64 = int.trim_start_matches('-').parse().expect("amount");
    let frac: i64 = format!("{frac:0<2}")[..2].parse().expect("cents");
    sign * (int * 100 + frac)
}

const NIGHT_1: &str = "O1,1,2024-03-01 10:00,C1,A,2,10.00\n\
O1,2,2024-03-01 10:00,C1,B,1,20.00\n\
O2,1,2024-03-01 11:30,C2,A,1,5.00\n";

#[test]
fn a_resent_export_is_skipped_not_loaded_twice() {
    let e = Exports::new("");
    let night_1 = format!("{POS_HEADER}{NIGHT_1}");
    e.write("pos/pos_2024-03-01.csv", night_1.as_bytes());
    e.build();
    let before = e.sales();
    assert_eq!(before.0.len(), 3);
    assert_eq!(before.1, 3500);
    // The same file copied under the next night's name.
    e.write("pos/pos_2024-03-02.csv", night_1.as_bytes());
    let stderr = e.build();
    assert!(
        stderr.contains("same content as a file already loaded")
            && stderr.contains("pos/pos_2024-03-02.csv"),
        "{stderr}"
    );
    assert_eq!(e.sales(), before, "nothing loaded twice");
    let rec = e.reconciliation();
    assert_eq!(rec["pos/pos_2024-03-02.csv"], (0, 0, 0));
    let m = manifest(&current(&e.warehouse()));
    let resent = m["files"]
        .as_array()
        .expect("files")
        .iter()
        .find(|f| f["file"] == "pos/pos_2024-03-02.csv")
        .expect("the re-sent file is recorded");
    assert_eq!(resent["duplicate_of"], "pos/pos_2024-03-01.csv");
    let audit = column_text(&e.table("etl_load_audit"), "file");
    assert!(
        !audit.contains(&Some("pos/pos_2024-03-02.csv".into())),
        "etl_load_audit lists loads only: {audit:?}"
    );
    // The next night does not reconsider it, and --full decides the same.
    assert!(run_ok(&mut e.build_cmd(&[])).contains("up to date"));
    let full = e.path("wh-full");
    run_ok(&mut e.build_cmd(&["--full", "--warehouse", full.to_str().expect("path")]));
    assert_eq!(
        checksums(&current(&full), &facts()),
        checksums(&current(&e.warehouse()), &facts())
    );
}

/// Night 2 repeats order O2 line 1 with a corrected amount and adds order O3.
const NIGHT_2: &str = "O2,1,2024-03-01 11:30,C2,A,1,4.50\nO3,1,2024-03-02 09:15,C1,B,2,40.00\n";

#[test]
fn order_lines_already_loaded_follow_on_existing_key() {
    for policy in ["", "quarantine", "skip", "replace"] {
        let setting = if policy.is_empty() {
            String::new()
        } else {
            format!("on_existing_key = \"{policy}\"")
        };
        let e = Exports::new(&setting);
        e.write(
            "pos/pos_2024-03-01.csv",
            format!("{POS_HEADER}{NIGHT_1}").as_bytes(),
        );
        e.build();
        e.write(
            "pos/pos_2024-03-02.csv",
            format!("{POS_HEADER}{NIGHT_2}").as_bytes(),
        );
        e.build();
        let rec = e.reconciliation();
        let (rows, revenue) = e.sales();
        let orders: Vec<(&str, i64, &str)> = rows
            .iter()
            .map(|r| (r.0.as_str(), r.1, r.3.as_str()))
            .collect();
        let replace = policy == "replace";
        // Under replace the corrected line takes the place of the first; otherwise the first
        // stands and the repeat is quarantined with the key it repeats.
        let o2 = if replace { "4.50" } else { "5.00" };
        assert_eq!(
            orders,
            [
                ("O1", 1, "10.00"),
                ("O1", 2, "20.00"),
                ("O2", 1, o2),
                ("O3", 1, "40.00")
            ],
            "{policy}"
        );
        assert_eq!(revenue, 1000 + 2000 + cents(o2) + 4000, "{policy}");
        let quarantined = u64::from(!replace);
        assert_eq!(
            rec["pos/pos_2024-03-02.csv"],
            (2, 2 - quarantined, quarantined),
            "{policy}"
        );
        if replace {
            assert!(e.quarantine().is_empty(), "{policy}");
            // A --full rebuild makes the same replacement, byte for byte.
            let full = e.path("wh-full");
            run_ok(&mut e.build_cmd(&["--full", "--warehouse", full.to_str().expect("path")]));
            assert_eq!(
                checksums(&current(&full), &facts()),
                checksums(&current(&e.warehouse()), &facts())
            );
        } else {
            assert_eq!(
                e.quarantine(),
                [(
                    "pos/pos_2024-03-02.csv".to_string(),
                    2,
                    Some("order".to_string()),
                    "already_loaded".to_string()
                )],
                "{policy}"
            );
            let reasons = column_text(&e.table("etl_quarantine"), "reason");
            assert!(
                reasons[0]
                    .as_deref()
                    .is_some_and(|r| r.contains("order_id 'O2', line_number 1")),
                "{reasons:?}"
            );
        }
    }
}

#[test]
fn a_key_repeated_within_a_night_is_quarantined_as_a_duplicate_key() {
    let e = Exports::new("");
    let rows = format!(
        "{POS_HEADER}{NIGHT_1}O1,1,2024-03-01 10:00,C1,A,2,10.00\nO1,1,2024-03-01 10:00,C1,A,3,15.00\n"
    );
    e.write("pos/pos_2024-03-01.csv", rows.as_bytes());
    e.build();
    assert_eq!(e.reconciliation()["pos/pos_2024-03-01.csv"], (5, 3, 2));
    let q: Vec<(u64, String)> = e.quarantine().into_iter().map(|q| (q.1, q.3)).collect();
    assert_eq!(
        q,
        [(5, "duplicate_row".into()), (6, "duplicate_key".into())],
        "an exact repeat is a duplicate row; the same key with other values a duplicate key"
    );
    assert_eq!(e.sales().1, 3500);
}

#[test]
fn keyless_exports_keep_identical_lines_unless_told_to_dedupe() {
    // The transactions-only export of config_errors: no order id, so identical lines are
    // real repeat purchases.
    let rows = "Customer,Date,Qty,Amount\nC1,01/03/2024,1,2.50\nC1,01/03/2024,1,2.50\nC2,01/03/2024,3,9.00\n";
    for (setting, loaded) in [("", 3), ("dedupe_exact_lines = true", 2)] {
        let e = Exports { dir: tempdir() };
        let config = crate::config_errors::TX_CONFIG
            .replace("[source.columns]", &format!("{setting}\n[source.columns]"));
        e.write(
            "acrm.toml",
            format!("[marts]\nrefresh = []\n{config}").as_bytes(),
        );
        e.write("tx_1.csv", rows.as_bytes());
        e.build();
        let rec = e.reconciliation();
        assert_eq!(rec["tx_1.csv"], (3, loaded, 3 - loaded), "{setting}");
        let (sales, revenue) = e.sales();
        assert_eq!(sales.len() as u64, loaded, "{setting}");
        assert_eq!(revenue, if loaded == 3 { 1400 } else { 1150 }, "{setting}");
        let codes: Vec<String> = e.quarantine().into_iter().map(|q| q.3).collect();
        let expected: &[&str] = if loaded == 3 { &[] } else { &["duplicate_row"] };
        assert_eq!(codes, expected, "{setting}");
    }
}

#[test]
fn empty_and_header_only_files_read_no_rows_and_the_night_goes_on() {
    let e = Exports::new("");
    e.write("pos/pos_2024-03-01.csv", b"");
    e.write("pos/pos_2024-03-01.b.csv", POS_HEADER.as_bytes());
    e.write(
        "pos/pos_2024-03-01.c.csv",
        format!("{POS_HEADER}{NIGHT_1}").as_bytes(),
    );
    let stderr = e.build();
    assert!(stderr.contains("no data rows"), "{stderr}");
    let rec = e.reconciliation();
    assert_eq!(rec["pos/pos_2024-03-01.csv"], (0, 0, 0));
    assert_eq!(rec["pos/pos_2024-03-01.b.csv"], (0, 0, 0));
    assert_eq!(rec["pos/pos_2024-03-01.c.csv"], (3, 3, 0));
    assert_eq!(e.sales().1, 3500);
    // The next night's empty file has the same (empty) content: it is not a re-sent export.
    e.write("pos/pos_2024-03-02.csv", b"");
    e.build();
    let m = manifest(&current(&e.warehouse()));
    let second = m["files"]
        .as_array()
        .expect("files")
        .iter()
        .find(|f| f["file"] == "pos/pos_2024-03-02.csv")
        .expect("recorded");
    assert!(second.get("duplicate_of").is_none(), "{second}");
}

/// "王伟" and "李娜" in GBK.
const GBK_NAMES: [&[u8]; 2] = [&[0xCD, 0xF5, 0xCE, 0xB0], &[0xC0, 0xEE, 0xC4, 0xC8]];

fn gbk_crm() -> Vec<u8> {
    let mut out = b"id,name,address,city\n".to_vec();
    for (i, name) in GBK_NAMES.iter().enumerate() {
        out.extend_from_slice(format!("G{i},").as_bytes());
        out.extend_from_slice(name);
        out.extend_from_slice(b",9 Some Rd,Hangzhou\n");
    }
    out
}

#[test]
fn a_mostly_quarantined_file_fails_the_night_and_publishes_nothing() {
    let e = Exports::new("");
    e.write(
        "pos/pos_2024-03-01.csv",
        format!("{POS_HEADER}{NIGHT_1}").as_bytes(),
    );
    e.build();
    let before = checksums(&current(&e.warehouse()), &facts());
    // A GBK export, with no `encoding` in the config.
    e.write("crm/crm_2024-03-02.csv", &gbk_crm());
    let out = run(&mut e.build_cmd(&[]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    for expected in [
        "crm/crm_2024-03-02.csv",
        "2 of 2 rows (100%) quarantined",
        "max_quarantined_share of 50%",
        "most common reason: encoding",
        "previously published version is untouched",
    ] {
        assert!(stderr.contains(expected), "'{expected}' in: {stderr}");
    }
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(current_version(&e.warehouse()), 1);
    assert_eq!(checksums(&current(&e.warehouse()), &facts()), before);
}

#[test]
fn a_field_past_the_size_limit_is_quarantined() {
    let e = Exports::new("");
    let huge = "x".repeat(100 * 1024);
    let crm = format!("{CRM}C3,Big,\"{huge}\",Shanghai\n");
    e.write("crm/crm_2024-03-01.csv", crm.as_bytes());
    e.write(
        "pos/pos_2024-03-01.csv",
        format!("{POS_HEADER}{NIGHT_1}").as_bytes(),
    );
    e.build();
    assert_eq!(e.reconciliation()["crm/crm_2024-03-01.csv"], (3, 2, 1));
    let q = e.table("etl_quarantine");
    assert_eq!(
        column_text(&q, "reason_code"),
        [Some("field_too_long".into())]
    );
    assert_eq!(column_text(&q, "column"), [Some("address".into())]);
    let reason = column_text(&q, "reason")[0].clone().expect("reason");
    assert!(
        reason.contains("102400 bytes, over the limit of 65536"),
        "{reason}"
    );
    let raw = column_text(&q, "raw_record")[0].clone().expect("raw");
    assert!(
        raw.len() < 5000 && raw.ends_with("bytes in all)"),
        "the quarantine keeps a clipped copy: {} bytes",
        raw.len()
    );
}

#[test]
fn a_line_break_inside_a_quoted_field_opens_no_new_customer_version() {
    let e = Exports::new("");
    let night_1 = "id,name,address,city\nC1,王伟,\"Room 5\nBuilding 2\",Shanghai\nC2,李娜,2 Wangfujing,Beijing\n";
    e.write("crm/crm_2024-03-01.csv", night_1.as_bytes());
    e.build();
    // The next nights' exports hold the same customer, the address written with the line
    // break as before, then with spaces, then with CRLF; the other customer moves.
    let night_2 = night_1.replace("Beijing", "Tianjin");
    e.write("crm/crm_2024-03-02.csv", night_2.as_bytes());
    e.build();
    e.write(
        "crm/crm_2024-03-03.csv",
        night_2
            .replace("Room 5\nBuilding 2", "Room 5  Building 2")
            .as_bytes(),
    );
    e.build();
    e.write(
        "crm/crm_2024-03-04.csv",
        night_2.replace('\n', "\r\n").as_bytes(),
    );
    e.build();
    let dim = e.table("dim_customer");
    let names = column_text(&dim, "name");
    let versions = |who: &str| names.iter().filter(|n| n.as_deref() == Some(who)).count();
    assert_eq!(versions("王伟"), 1, "unchanged: one version");
    assert_eq!(versions("李娜"), 2, "moved: a second version");
    let rec = e.reconciliation();
    assert_eq!(
        rec["crm/crm_2024-03-01.csv"],
        (2, 2, 0),
        "a quoted line break splits no row"
    );
}

#[test]
fn every_bad_input_kind_is_quarantined_with_file_line_column_and_reason() {
    // Most of this file is bad on purpose: let the night go on.
    let e = Exports::new("max_quarantined_share = 1.0");
    // Line by line (line 1 is the header; the BOM and CRLF endings must not matter).
    let pos = [
        "\u{feff}order,line,time,customer,sku,qty,amount",
        "O1,1,2024-03-01 10:00,C1,A,2,10.00",        // 2 loads
        "O2,1,2024-03-01 10:00,C1,A,1,\"1,299.00\"", // 3 loads: thousands separator
        "O3,1,2024-31-03 10:00,C1,A,1,5.00",         // 4 bad date
        "O4,1,2024-03-01 10:00,C1,A,-1,5.00",        // 5 negative quantity
        "O5,1,2024-03-01 10:00,C1,Z,1,5.00",         // 6 unknown product
        "O6,1,2024-03-01 10:00,,A,1,5.00",           // 7 missing customer
        "O1,1,2024-03-01 10:00,C1,A,2,10.00",        // 8 exact duplicate of line 2
        "O7,1,2024-03-01 10:00,C1,A,1",              // 9 ragged row
        "O8,1,2024-03-01 10:00,C1,\"A\",\"1\",\"5.00\"", // 10 loads: quoted fields
        "O9,1,2024-03-01 10:00,C1,A,1,5.x0",         // 11 bad amount
        "O10,1,2024-03-01 10:00,C1,A,1,5.00",        // 12 loads
        "O11,1,2024-03-01 10:00,C1,A,\"1,000\",\"5,000.00\"", // 13 loads: 1000 units
        "O12,1,2024-03-01 10:00,C1,A,1",             // 14 truncated last line
    ]
    .join("\r\n");
    e.write("pos/pos_2024-03-01.csv", pos.as_bytes());
    e.write("pos/pos_2024-03-01.empty.csv", b"");
    e.write("pos/pos_2024-03-01.header.csv", POS_HEADER.as_bytes());
    // A quoted line break in the master (lines 2-3 are one row; the row without an id is line 5).
    e.write(
        "crm/crm_2024-03-01.csv",
        "id,name,address,city\nC1,王伟,\"Room 5\nBuilding 2\",Shanghai\nC2,李娜,2 Wangfujing,Beijing\n,Nobody,,\n"
            .as_bytes(),
    );
    e.build();
    let rec = e.reconciliation();
    assert_eq!(rec["pos/pos_2024-03-01.csv"], (13, 5, 8));
    assert_eq!(rec["pos/pos_2024-03-01.empty.csv"], (0, 0, 0));
    assert_eq!(rec["pos/pos_2024-03-01.header.csv"], (0, 0, 0));
    assert_eq!(rec["crm/crm_2024-03-01.csv"], (3, 2, 1));
    let q = e.quarantine();
    let pos_file = "pos/pos_2024-03-01.csv";
    let expected: Vec<(String, u64, Option<String>, String)> = [
        ("crm/crm_2024-03-01.csv", 5, Some("id"), "missing_value"),
        (pos_file, 4, Some("time"), "bad_value"),
        (pos_file, 5, Some("qty"), "non_positive_quantity"),
        (pos_file, 6, Some("sku"), "unknown_product"),
        (pos_file, 7, Some("customer"), "missing_value"),
        (pos_file, 8, None, "duplicate_row"),
        (pos_file, 9, None, "malformed_row"),
        (pos_file, 11, Some("amount"), "bad_value"),
        (pos_file, 14, None, "malformed_row"),
    ]
    .into_iter()
    .map(|(f, l, c, r)| (f.to_string(), l, c.map(str::to_string), r.to_string()))
    .collect();
    assert_eq!(q, expected);
    let (sales, revenue) = e.sales();
    assert_eq!(sales.len(), 5);
    assert_eq!(revenue, 1000 + 129_900 + 500 + 500 + 500_000);
    assert!(
        sales.iter().any(|s| s.0 == "O11" && s.2 == 1000),
        "{sales:?}"
    );
    // Every reason says what was expected.
    let reasons = column_text(&e.table("etl_quarantine"), "reason");
    for r in reasons.iter().flatten() {
        assert!(r.len() > 10, "{r}");
    }
    assert!(
        reasons
            .iter()
            .flatten()
            .any(|r| r.contains("expected 7 fields, found 6")),
        "{reasons:?}"
    );
}

#[test]
fn a_gbk_export_loads_when_its_encoding_is_set() {
    let e = Exports::new("");
    let config = CONFIG.replace("{pos}", "").replace(
        "path = \"crm/crm_*.csv\"",
        "path = \"crm/crm_*.csv\"\nencoding = \"gbk\"",
    );
    e.write("acrm.toml", config.as_bytes());
    e.write("crm/crm_2024-03-01.csv", &gbk_crm());
    e.write(
        "pos/pos_2024-03-01.csv",
        format!("{POS_HEADER}O1,1,2024-03-01 10:00,G0,A,1,5.00\n").as_bytes(),
    );
    e.build();
    assert_eq!(e.reconciliation()["crm/crm_2024-03-01.csv"], (2, 2, 0));
    let names = column_text(&e.table("dim_customer"), "name");
    assert!(names.contains(&Some("王伟".into())), "{names:?}");
    assert!(names.contains(&Some("李娜".into())), "{names:?}");
}

#[test]
fn returns_load_as_negative_lines_and_leave_the_basket() {
    let e = Exports::new("returns = true");
    let config = std::fs::read_to_string(e.path("acrm.toml")).expect("config");
    e.write(
        "acrm.toml",
        config
            .replace(
                "amount = \"amount\"",
                "amount = \"amount\"\noriginal_order_id = \"of\"",
            )
            .as_bytes(),
    );
    let header = "order,line,time,customer,sku,qty,amount,of\n";
    e.write(
        "pos/pos_2024-03-01.csv",
        format!(
            "{header}O1,1,2024-03-01 10:00,C1,A,2,10.00,\nO1,2,2024-03-01 10:00,C1,B,1,20.00,\n\
             O2,1,2024-03-01 11:00,C2,A,1,5.00,\nO2,2,2024-03-01 11:00,C2,B,1,20.00,\n\
             O3,1,2024-03-01 12:00,C2,A,1,5.00,\n"
        )
        .as_bytes(),
    );
    // The diapers of O1 come back (amount written negative), and one beer without a receipt
    // (amount written positive); a zero quantity is still an error.
    e.write(
        "pos/pos_2024-03-02.csv",
        format!(
            "{header}R1,1,2024-03-02 09:00,C1,B,-1,-20.00,O1\nR2,1,2024-03-02 09:30,C2,A,-1,5.00,\n\
             R3,1,2024-03-02 09:45,C2,A,0,0.00,\n"
        )
        .as_bytes(),
    );
    e.build();
    assert_eq!(e.reconciliation()["pos/pos_2024-03-02.csv"], (3, 2, 1));
    let (sales, revenue) = e.sales();
    assert_eq!(revenue, 6000 - 2000 - 500, "revenue is net of returns");
    let returns: Vec<(&str, i64, &str)> = sales
        .iter()
        .filter(|s| s.2 < 0)
        .map(|s| (s.0.as_str(), s.2, s.3.as_str()))
        .collect();
    assert_eq!(returns, [("R1", -1, "-20.00"), ("R2", -1, "-5.00")]);
    let linked = column_text(&e.table("fact_sales"), "returned_order_id");
    assert_eq!(
        linked.iter().flatten().collect::<Vec<_>>(),
        ["O1"],
        "R1 names the order it returns"
    );
    let wh = e.warehouse();
    let wh = wh.to_str().expect("path");
    // RFM by default is as of the last sale, not the last return: the returns come later.
    let rfm_as_of = |extra: &[&str]| {
        let out = run_ok(
            acrm()
                .args(["mine", "rfm", "--no-write", "--format", "csv", "-w", wh])
                .args(extra),
        );
        assert!(out.starts_with("segment,customers,customer_share,revenue_share,mean_recency_days,mean_orders,mean_monetary"), "{out}");
        let mut rows: Vec<(String, String, String)> = csv_rows(&out)
            .into_iter()
            .map(|r| (r[4].clone(), r[5].clone(), r[6].clone()))
            .collect();
        rows.sort();
        rows
    };
    let t = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
    assert_eq!(
        rfm_as_of(&[]),
        [t("0.0", "1.0", "30.0"), t("0.0", "2.0", "30.0")]
    );
    // As of the day of the returns: C1 bought once for 10.00 net, C2 twice (a return is no
    // order) for 25.00 net, and neither bought that day.
    assert_eq!(
        rfm_as_of(&["--as-of", "2024-03-02"]),
        [t("1.0", "1.0", "10.0"), t("1.0", "2.0", "25.0")]
    );
    // Baskets: O1 lost its returned diapers, so beer and diapers share one basket (O2).
    let baskets = run_ok(acrm().args([
        "mine",
        "basket",
        "--itemsets",
        "--no-write",
        "--level",
        "product",
        "--min-support",
        "0.1",
        "--format",
        "csv",
        "-w",
        wh,
    ]));
    assert!(baskets.starts_with("items,size,count,"), "{baskets}");
    let rows = csv_rows(&baskets);
    let count = |items: &str| {
        rows.iter()
            .find(|r| r[0] == items)
            .map(|r| r[2].clone())
            .unwrap_or_default()
    };
    assert_eq!(
        (
            count("A").as_str(),
            count("B").as_str(),
            count("A, B").as_str()
        ),
        ("3", "1", "1"),
        "{baskets}"
    );
}

#[test]
fn an_unparsable_optional_value_loads_as_null_listed_and_counted() {
    let e = Exports::new("");
    let config = CONFIG
        .replace("{pos}", "")
        .replace(
            "path = \"crm/crm_*.csv\"\n",
            "path = \"crm/crm_*.csv\"\nnull_invalid = [\"birth_date\"]\n",
        )
        .replace(
            "city = \"city\"\n\n[[source]]\nname = \"catalog\"",
            "city = \"city\"\nbirth_date = \"born\"\n\n[[source]]\nname = \"catalog\"",
        );
    assert!(config.contains("born"), "the crm source maps a birth date");
    e.write("acrm.toml", config.as_bytes());
    // C2's birth date (day 99 of month 24) cannot be a date; C3 has none.
    e.write(
        "crm/crm_2024-03-01.csv",
        "id,name,address,city,born\nC1,王伟,1 Nanjing Rd,Shanghai,1985-03-12\n\
         C2,李娜,2 Wangfujing,Beijing,1931-99-24\nC3,张敏,3 Huaihai Rd,Shanghai,\n"
            .as_bytes(),
    );
    let stdout = String::from_utf8_lossy(&run(&mut e.build_cmd(&[])).stdout).to_string();
    assert!(
        stdout.contains("1 values did not parse and were loaded as null"),
        "{stdout}"
    );
    assert_eq!(
        e.reconciliation().get("crm/crm_2024-03-01.csv"),
        Some(&(3, 3, 0)),
        "every customer record is loaded"
    );
    assert!(e.quarantine().is_empty(), "{:?}", e.quarantine());
    let nulled = e.table("etl_nulled_values");
    let line = column_text(&nulled, "line");
    let column = column_text(&nulled, "column");
    let reason = column_text(&nulled, "reason");
    assert_eq!(line, [Some("3".to_string())], "C2 is on line 3");
    assert_eq!(column, [Some("born".to_string())]);
    let reason = reason[0].clone().expect("reason");
    assert!(
        reason.contains("value withheld: personal data") && !reason.contains("1931"),
        "a birth date is personal data: {reason}"
    );
    let audit = e.table("etl_load_audit");
    let files = column_text(&audit, "file");
    let counts = column_text(&audit, "values_nulled");
    let crm = files
        .iter()
        .position(|f| f.as_deref() == Some("crm/crm_2024-03-01.csv"))
        .expect("crm file audited");
    assert_eq!(counts[crm].as_deref(), Some("1"));
    let m = manifest(&current(&e.warehouse()));
    let crm_file = m["files"]
        .as_array()
        .expect("files")
        .iter()
        .find(|f| f["file"] == "crm/crm_2024-03-01.csv")
        .expect("crm in the manifest");
    assert_eq!(crm_file["values_nulled"], 1);
    let dim = e.table("dim_customer");
    let births: BTreeMap<String, Option<String>> = column_text(&dim, "name")
        .into_iter()
        .map(Option::unwrap_or_default)
        .zip(column_text(&dim, "birth_date"))
        .collect();
    assert_eq!(
        births,
        BTreeMap::from([
            ("Unknown".to_string(), None),
            ("张敏".to_string(), None),
            ("李娜".to_string(), None),
            ("王伟".to_string(), Some("1985-03-12".to_string())),
        ])
    );

    // A night whose birth dates mostly do not parse has a wrong format in the mapping: it
    // fails rather than loading every date as null.
    e.write(
        "crm/crm_2024-03-02.csv",
        "id,name,address,city,born\nC4,刘洋,4 Nanjing Rd,Shanghai,12.03.1985\n\
         C5,陈静,5 Wangfujing,Beijing,01.02.1990\n"
            .as_bytes(),
    );
    let out = run(&mut e.build_cmd(&[]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    for expected in [
        "crm/crm_2024-03-02.csv",
        "2 of 2 values (100%) of column 'born' did not parse (null_invalid)",
        "e.g. line 2",
    ] {
        assert!(stderr.contains(expected), "'{expected}' in: {stderr}");
    }
    assert_eq!(current_version(&e.warehouse()), 1);
}

#[test]
fn names_kept_in_given_and_family_columns_make_the_full_name() {
    let e = Exports::new("");
    let config = CONFIG.replace("{pos}", "").replace(
        "source_id = \"id\"\nname = \"name\"\n",
        "source_id = \"id\"\ngiven_name = \"first\"\nfamily_name = \"last\"\n",
    );
    assert!(
        config.contains("given_name"),
        "the crm source maps two name columns"
    );
    e.write("acrm.toml", config.as_bytes());
    e.write(
        "crm/crm_2024-03-01.csv",
        "id,first,last,address,city\nC1,Claudia,Huxley,1 King St,Sydney\n\
         C2,,Nguyen,2 George St,Sydney\nC3,Bob,,3 Pitt St,Sydney\n"
            .as_bytes(),
    );
    e.build();
    let mut names: Vec<String> = column_text(&e.table("dim_customer"), "name")
        .into_iter()
        .flatten()
        .filter(|n| n != "Unknown")
        .collect();
    names.sort();
    assert_eq!(names, ["Bob", "Claudia Huxley", "Nguyen"]);
}
