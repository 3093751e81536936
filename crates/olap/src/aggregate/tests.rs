//! Aggregates on a small hand-made version: covered queries answered from them equal the
//! facts' answers, uncovered ones fall back to the facts, a night recomputes only the years
//! it changed and equals a full recompute, and a changed dimension row recomputes all.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use acrm_schema::{TableDef, WarehouseSchema};
use acrm_store::Manifest;
use acrm_store::parquet::{link_tree, write_parquet};
use datafusion::arrow::array::{
    ArrayRef, BooleanArray, Date32Array, Decimal128Array, Int32Array, Int64Array, RecordBatch,
    StringArray,
};
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::util::pretty::pretty_format_batches;
use datafusion::common::ScalarValue;

use super::refresh::{Plan, refresh};
use crate::{Engine, EngineOptions};

/// The plans of a refresh that left no aggregate out.
fn refreshed(dir: &Path, base: Option<(&Path, &Manifest)>, m: &mut Manifest) -> Vec<Plan> {
    let done = block_on(refresh(dir, base, m)).expect("refresh");
    assert!(done.failures.is_empty(), "{:?}", done.failures);
    assert_eq!(
        done.plans.len(),
        acrm_schema::builtin_aggregates().expect("aggregates").len()
    );
    done.plans
}

/// Rows of `table` with the given columns; every other column null, or a zero value where
/// nulls are not allowed.
pub(super) fn rows(table: &str, n: usize, set: Vec<(&str, ArrayRef)>) -> (TableDef, RecordBatch) {
    let schema = WarehouseSchema::builtin().expect("schema");
    let def = schema.table(table).expect("table").clone();
    let arrow = def.arrow_schema();
    let columns = arrow
        .fields()
        .iter()
        .map(|f| match set.iter().find(|(name, _)| name == f.name()) {
            Some((_, a)) => a.clone(),
            None => {
                let value = match (f.is_nullable(), f.data_type()) {
                    (true, t) => ScalarValue::try_from(t).expect("null"),
                    (false, DataType::Utf8) => ScalarValue::Utf8(Some(String::new())),
                    (false, DataType::Boolean) => ScalarValue::Boolean(Some(false)),
                    (false, DataType::Date32) => ScalarValue::Date32(Some(0)),
                    (false, t) => ScalarValue::new_zero(t).expect("zero"),
                };
                value.to_array_of_size(n).expect("array")
            }
        })
        .collect();
    let batch = RecordBatch::try_new(arrow, columns).expect("batch");
    (def, batch)
}

pub(super) fn text(values: &[Option<&str>]) -> ArrayRef {
    Arc::new(StringArray::from(values.to_vec()))
}

pub(super) fn ints(values: &[i64]) -> ArrayRef {
    Arc::new(Int64Array::from(values.to_vec()))
}

fn money(values: &[i128]) -> ArrayRef {
    Arc::new(
        Decimal128Array::from(values.to_vec())
            .with_precision_and_scale(acrm_schema::MONEY_PRECISION, acrm_schema::MONEY_SCALE)
            .expect("decimal"),
    )
}

/// Days since 1970-01-01 of a yyyymmdd key.
fn day(key: i32) -> i32 {
    let d =
        chrono::NaiveDate::from_ymd_opt(key / 10000, (key / 100 % 100) as u32, (key % 100) as u32)
            .expect("date");
    (d - chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days() as i32
}

/// `def`'s rows into `file` (a path below the table's folder) of the version in `dir`.
pub(super) fn write(dir: &Path, (def, batch): (TableDef, RecordBatch), file: &str) {
    write_parquet(&dir.join(&def.name).join(file), &[batch], &[]).expect("write");
}

/// The columns every fact fixture has, from (date key, customer key) pairs: `date_key`,
/// the date itself as `date_column`, `customer_key` and `customer_id` (ten times the key).
fn dated_rows(
    date_column: &'static str,
    rows: impl Iterator<Item = (i32, i64)>,
) -> Vec<(&'static str, ArrayRef)> {
    let (dates, customers): (Vec<i32>, Vec<i64>) = rows.unzip();
    let ids: Vec<i64> = customers.iter().map(|k| k * 10).collect();
    vec![
        ("date_key", Arc::new(Int32Array::from(dates.clone()))),
        (
            date_column,
            Arc::new(Date32Array::from(
                dates.iter().map(|&k| day(k)).collect::<Vec<_>>(),
            )),
        ),
        ("customer_key", ints(&customers)),
        ("customer_id", ints(&ids)),
    ]
}

/// Order lines (order, date key, customer, product, channel, branch, quantity, revenue).
type Line = (&'static str, i32, i64, i64, i64, i64, i32, i128);

fn sales(dir: &Path, lines: &[Line], file: &str) {
    let n = lines.len();
    let dated = lines.iter().map(|l| (l.1, l.2));
    let (def, batch) = rows(
        "fact_sales",
        n,
        [
            dated_rows("order_date", dated),
            vec![
                (
                    "order_id",
                    text(&lines.iter().map(|l| Some(l.0)).collect::<Vec<_>>()),
                ),
                (
                    "line_number",
                    Arc::new(Int32Array::from((1..=n as i32).collect::<Vec<_>>())),
                ),
                (
                    "product_key",
                    ints(&lines.iter().map(|l| l.3).collect::<Vec<_>>()),
                ),
                (
                    "channel_key",
                    ints(&lines.iter().map(|l| l.4).collect::<Vec<_>>()),
                ),
                (
                    "branch_key",
                    ints(&lines.iter().map(|l| l.5).collect::<Vec<_>>()),
                ),
                (
                    "quantity",
                    Arc::new(Int32Array::from(
                        lines.iter().map(|l| l.6).collect::<Vec<_>>(),
                    )),
                ),
                (
                    "revenue",
                    money(&lines.iter().map(|l| l.7).collect::<Vec<_>>()),
                ),
                (
                    "cost",
                    money(&lines.iter().map(|l| l.7 / 2).collect::<Vec<_>>()),
                ),
                ("source_system", text(&vec![Some("pos"); n])),
            ],
        ]
        .concat(),
    );
    write(
        dir,
        (def, batch),
        &format!("year={}/{file}", lines[0].1 / 10000),
    );
}

/// Campaign contacts (campaign key, date key, customer key, control group, responded,
/// converted, response revenue).
type Contact = (i64, i32, i64, bool, bool, bool, i128);

fn contacts(dir: &Path, contacts: &[Contact], file: &str) {
    let flags = |f: fn(&Contact) -> bool| -> ArrayRef {
        Arc::new(BooleanArray::from(
            contacts.iter().map(f).collect::<Vec<_>>(),
        ))
    };
    let dated = contacts.iter().map(|c| (c.1, c.2));
    let (def, batch) = rows(
        "fact_campaign_response",
        contacts.len(),
        [
            dated_rows("contact_date", dated),
            vec![
                (
                    "campaign_key",
                    ints(&contacts.iter().map(|c| c.0).collect::<Vec<_>>()),
                ),
                ("control_group", flags(|c| c.3)),
                ("contacted", flags(|c| !c.3)),
                ("responded", flags(|c| c.4)),
                ("converted", flags(|c| c.5)),
                (
                    "response_revenue",
                    money(&contacts.iter().map(|c| c.6).collect::<Vec<_>>()),
                ),
            ],
        ]
        .concat(),
    );
    write(
        dir,
        (def, batch),
        &format!("year={}/{file}", contacts[0].1 / 10000),
    );
}

/// Products 1 (food) and 2 (`toy_category`) into `file` of dim_product.
fn products(dir: &Path, toy_category: &str, file: &str) {
    let category = text(&[Some("food"), Some(toy_category)]);
    let keys = ints(&[1, 2]);
    write(
        dir,
        rows(
            "dim_product",
            2,
            vec![("product_key", keys), ("category", category)],
        ),
        file,
    );
}

fn dims(dir: &Path, toy_category: &str) {
    // The days of the sales, and the first of their months (a calendar holds every day;
    // cohort_retention finds a month's label on its first day).
    let keys = [
        20230101, 20230105, 20231201, 20231231, 20240101, 20240601, 20240615, 20240616,
    ];
    let dates: Vec<_> = keys.iter().map(|&k| day(k)).collect();
    write(
        dir,
        rows(
            "dim_date",
            keys.len(),
            vec![
                ("date_key", Arc::new(Int32Array::from(keys.to_vec()))),
                ("date", Arc::new(Date32Array::from(dates))),
                (
                    "year",
                    Arc::new(Int32Array::from(
                        keys.iter().map(|k| k / 10000).collect::<Vec<_>>(),
                    )),
                ),
                (
                    "quarter",
                    Arc::new(Int32Array::from(
                        keys.iter()
                            .map(|k| (k / 100 % 100 - 1) / 3 + 1)
                            .collect::<Vec<_>>(),
                    )),
                ),
                (
                    "month",
                    Arc::new(Int32Array::from(
                        keys.iter().map(|k| k / 100 % 100).collect::<Vec<_>>(),
                    )),
                ),
                (
                    "year_month",
                    text(
                        &keys
                            .iter()
                            .map(|k| Some(format!("{}-{:02}", k / 10000, k / 100 % 100)))
                            .collect::<Vec<_>>()
                            .iter()
                            .map(|s| s.as_deref())
                            .collect::<Vec<_>>(),
                    ),
                ),
            ],
        ),
        "part-0.parquet",
    );
    products(dir, toy_category, "part-0.parquet");
    write(
        dir,
        rows(
            "dim_campaign",
            2,
            vec![
                ("campaign_key", ints(&[1, 2])),
                ("campaign_code", text(&[Some("SPRING"), Some("XMAS")])),
                ("campaign_name", text(&[Some("Spring sale"), None])),
            ],
        ),
        "part-0.parquet",
    );
    write(
        dir,
        rows(
            "dim_channel",
            2,
            vec![
                ("channel_key", ints(&[1, 2])),
                ("channel_name", text(&[Some("Store"), Some("Web")])),
                ("channel_type", text(&[Some("physical"), Some("digital")])),
            ],
        ),
        "part-0.parquet",
    );
    write(
        dir,
        rows(
            "dim_branch",
            2,
            vec![
                ("branch_key", ints(&[0, 1])),
                ("region", text(&[None, Some("east")])),
            ],
        ),
        "part-0.parquet",
    );
    write(
        dir,
        rows(
            "dim_customer",
            3,
            vec![
                ("customer_key", ints(&[1, 2, 3])),
                ("customer_id", ints(&[10, 20, 30])),
                (
                    "customer_type",
                    text(&[Some("individual"), Some("enterprise"), None]),
                ),
            ],
        ),
        "part-0.parquet",
    );
}

fn manifest(dir: &Path, version: u64) -> Manifest {
    let m = Manifest {
        version,
        built_at: "2025-01-01T00:00:00Z".into(),
        mode: "full".into(),
        files: vec![],
        tables: BTreeMap::new(),
        calendar_years: (2023, 2024),
        identity_conflicts: vec![],
        identity_changes: vec![],
        duration_ms: 0,
        keep_versions: 3,
        derived: BTreeMap::new(),
        sums: BTreeMap::new(),
        restored_from: None,
    };
    m.write(dir).expect("manifest");
    m
}

const NIGHT_1: [Line; 5] = [
    ("A1", 20230105, 1, 1, 1, 1, 2, 1000),
    ("A1", 20230105, 1, 2, 1, 1, 1, 500),
    ("A2", 20231231, 2, 2, 2, 0, 3, 900),
    ("B1", 20240101, 1, 1, 2, 0, 1, 300),
    ("B2", 20240615, 3, 2, 1, 1, -1, -250),
];

const CONTACTS: [Contact; 6] = [
    (1, 20230105, 1, false, true, true, 1200),
    (1, 20230105, 2, false, false, false, 0),
    (1, 20231231, 3, true, false, true, 800),
    (2, 20240101, 1, false, true, false, 0),
    (2, 20240615, 2, false, true, true, 4500),
    (2, 20240616, 3, false, false, false, 0),
];

/// Version 1: the dimensions, night 1's sales and the campaign contacts, its aggregates
/// computed in full.
pub(super) fn version_1(root: &Path) -> (std::path::PathBuf, Manifest, Vec<Plan>) {
    let dir = root.join("v1");
    dims(&dir, "toys");
    sales(&dir, &NIGHT_1[..3], "part-a.parquet");
    sales(&dir, &NIGHT_1[3..], "part-a.parquet");
    contacts(&dir, &CONTACTS[..3], "part-a.parquet");
    contacts(&dir, &CONTACTS[3..], "part-a.parquet");
    let mut m = manifest(&dir, 1);
    let plans = refreshed(&dir, None, &mut m);
    m.write(&dir).expect("manifest");
    (dir, m, plans)
}

/// The next version of `base`: its files linked (aggregates and dictionaries aside), then
/// changed by `change`, its aggregates refreshed on top of `base` (or in full when None).
fn next(
    root: &Path,
    name: &str,
    base: (&Path, &Manifest),
    continues: bool,
    change: impl FnOnce(&Path),
) -> (std::path::PathBuf, Manifest, Vec<Plan>) {
    let dir = root.join(name);
    for e in std::fs::read_dir(base.0).expect("base").flatten() {
        let table = e.file_name().to_string_lossy().to_string();
        if e.path().is_dir() && !acrm_store::is_aggregate_table(&table) {
            link_tree(&e.path(), &dir.join(&table)).expect("link");
        }
    }
    change(&dir);
    let mut m = manifest(&dir, base.1.version + 1);
    let plans = refreshed(&dir, continues.then_some(base), &mut m);
    m.write(&dir).expect("manifest");
    (dir, m, plans)
}

pub(super) fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// `sql`'s result on the version in `dir`, as text, with aggregates on or off, and its plan.
pub(super) fn answer(dir: &Path, aggregates: bool, sql: &str) -> (String, String) {
    let options = EngineOptions {
        aggregates,
        ..EngineOptions::default()
    };
    answer_with(dir, options, sql)
}

/// `sql`'s result on the version in `dir`, as text, with an engine opened with `options`,
/// and its plan.
pub(super) fn answer_with(dir: &Path, options: EngineOptions, sql: &str) -> (String, String) {
    block_on(async {
        let engine = Engine::open_version(dir, options).await.expect("open");
        let (_, rows) = engine.query(sql).await.expect("query");
        let (_, plan) = engine
            .query(&format!("EXPLAIN {sql}"))
            .await
            .expect("explain");
        (
            pretty_format_batches(&rows).expect("format").to_string(),
            pretty_format_batches(&plan).expect("format").to_string(),
        )
    })
}

/// Queries answered from `aggregate` and equal to the facts' answers.
fn assert_answered(dir: &Path, aggregate: &str, sql: &str) {
    let (on, plan) = answer(dir, true, sql);
    let (off, raw_plan) = answer(dir, false, sql);
    assert!(
        plan.contains(aggregate),
        "{sql} not answered from {aggregate}:\n{plan}"
    );
    assert!(!raw_plan.contains("agg_"), "{raw_plan}");
    assert_eq!(on, off, "{sql}");
}

/// The SQL of the shipped report `name`.
pub(super) fn report(name: &str) -> &'static str {
    acrm_schema::REPORTS
        .iter()
        .find(|(n, _)| *n == name)
        .expect("report")
        .1
}

#[test]
fn covered_queries_equal_the_facts_and_others_read_the_facts() {
    let root = tempfile::tempdir().expect("tmp");
    let (dir, m, plans) = version_1(root.path());
    assert!(
        plans.iter().all(|p| p.full && p.years == vec![2023, 2024]),
        "{plans:?}"
    );
    assert!(m.tables["agg_sales_region_month_category"] > 0);
    let rollup = report("sales_rollup");
    assert_answered(&dir, "agg_sales_region_month_category", rollup);
    assert_answered(
        &dir,
        "agg_sales_month_channel",
        "SELECT year_month, channel_name, count(DISTINCT customer_id) AS buyers, count(*) AS lines, \
         count(order_id) AS counted, min(order_date) AS first, max(order_date) AS last, sum(revenue) AS revenue \
         FROM sales_cube WHERE year = 2024 GROUP BY CUBE (year_month, channel_name) ORDER BY 1, 2",
    );
    let campaigns = report("campaign_response");
    assert_answered(&dir, "agg_campaign_month_type", campaigns);
    // Sums of integer expressions of grain columns: each cell's value times its rows.
    assert_answered(
        &dir,
        "agg_sales_month_channel",
        "SELECT category, sum(CASE WHEN channel_name = 'Web' THEN 1 ELSE 0 END) AS web_lines, \
         sum(year) AS years FROM sales_cube GROUP BY category ORDER BY 1",
    );
    let (on, _) = answer(
        &dir,
        true,
        "SELECT count(DISTINCT order_id) AS orders FROM sales_cube s WHERE s.category = 'food'",
    );
    assert!(on.contains("| 2 "), "A1 and B1:\n{on}");
    // Not covered: a filter on a column outside every grain, a measure not kept, a CTE
    // that shadows the view's name.
    for sql in [
        "SELECT category, count(DISTINCT order_id) AS o FROM sales_cube WHERE quantity > 0 GROUP BY category ORDER BY 1",
        "SELECT category, avg(revenue) AS a FROM sales_cube GROUP BY category ORDER BY 1",
        "WITH sales_cube AS (SELECT 'x' AS category, 1 AS revenue) SELECT category, sum(revenue) AS r FROM sales_cube GROUP BY category",
        "SELECT category, sum(CASE WHEN quantity > 1 THEN 1 ELSE 0 END) AS bulk FROM sales_cube GROUP BY category ORDER BY 1",
        "SELECT category, sum(CASE WHEN channel_name = 'Web' THEN 0.1 ELSE 0 END) AS f FROM sales_cube GROUP BY category ORDER BY 1",
    ] {
        let (on, plan) = answer(&dir, true, sql);
        assert!(!plan.contains("agg_"), "{sql}:\n{plan}");
        assert_eq!(on, answer(&dir, false, sql).0);
    }
    // The stored measures themselves, through the bitmap count.
    let (cells, _) = answer(
        &dir,
        true,
        "SELECT category, acrm_bitmap_count(count_distinct_order_id) AS orders FROM agg_sales_region_month_category GROUP BY category ORDER BY 1",
    );
    assert!(
        cells.contains("| food     | 2 ") && cells.contains("| toys     | 3 "),
        "{cells}"
    );
    // An aggregate built from another declaration (an older acrm's) is not used.
    let mut older = m.clone();
    older
        .derived
        .get_mut("agg_sales_region_month_category")
        .expect("lineage")
        .definition = Some("0123456789abcdef".into());
    older.write(&dir).expect("manifest");
    let (on, plan) = answer(&dir, true, rollup);
    assert!(!plan.contains("agg_"), "{plan}");
    assert_eq!(on, answer(&dir, false, rollup).0);
}

/// Every aggregate's cells with their bitmaps counted (ordinals may differ, counts not).
fn contents(dir: &Path) -> String {
    acrm_schema::builtin_aggregates()
        .expect("aggregates")
        .iter()
        .map(|def| answer(dir, true, &super::cells_sql(def)).0)
        .collect()
}

#[test]
fn a_night_recomputes_the_years_it_changed_and_equals_a_full_recompute() {
    let root = tempfile::tempdir().expect("tmp");
    let (v1, m1, _) = version_1(root.path());
    let night_2 = |dir: &Path| {
        sales(
            dir,
            &[
                ("C1", 20240616, 2, 1, 2, 1, 4, 800),
                ("A2", 20240616, 1, 2, 1, 0, 1, 100),
            ],
            "part-b.parquet",
        )
    };
    let (v2, m2, plans) = next(root.path(), "v2", (&v1, &m1), true, night_2);
    for p in &plans {
        // Only 2024's sales changed; no campaign contact did.
        let changed = if p.name.starts_with("agg_sales") {
            vec![2024]
        } else {
            vec![]
        };
        assert!(!p.full && p.years == changed, "{p:?}");
    }
    let (full, _, plans) = next(root.path(), "v2-full", (&v1, &m1), false, night_2);
    assert!(plans.iter().all(|p| p.full), "{plans:?}");
    assert_eq!(contents(&v2), contents(&full));
    // "A2" was an order of 2023 too: the distinct orders of all years count it once.
    let sql = "SELECT count(DISTINCT order_id) AS orders FROM sales_cube";
    assert_eq!(answer(&v2, true, sql).0, answer(&v2, false, sql).0);
    assert!(
        answer(&v2, true, sql).0.contains("| 5 "),
        "A1, A2, B1, B2, C1"
    );
    // A product moved to another category: every year is recomputed.
    let (v3, _, plans) = next(root.path(), "v3", (&v2, &m2), true, |dir| {
        std::fs::remove_dir_all(dir.join("dim_product")).expect("rm");
        products(dir, "games", "part-1.parquet");
    });
    for p in &plans {
        // The campaign aggregate does not read products: nothing of it is recomputed.
        let sales = p.name.starts_with("agg_sales");
        let years = if sales { vec![2023, 2024] } else { vec![] };
        assert!(p.full == sales && p.years == years, "{p:?}");
    }
    let rollup = report("sales_rollup");
    assert_answered(&v3, "agg_sales_region_month_category", rollup);
    assert!(answer(&v3, true, rollup).0.contains("games"));
}

#[test]
fn a_grain_of_personal_data_is_refused() {
    let root = tempfile::tempdir().expect("tmp");
    let (dir, _, _) = version_1(root.path());
    let schema = WarehouseSchema::builtin().expect("schema");
    let template = acrm_schema::builtin_aggregates().expect("aggregates")[0].clone();
    let personal = |source: &str, grain: &[&str]| {
        let def = acrm_schema::AggregateDef {
            source: source.into(),
            grain: grain.iter().map(|g| g.to_string()).collect(),
            ..template.clone()
        };
        block_on(async {
            let options = EngineOptions {
                privileged: true,
                ..EngineOptions::default()
            };
            let engine = Engine::open_version(&dir, options).await.expect("open");
            let provider = engine
                .context()
                .table_provider(source)
                .await
                .expect("source");
            let view = provider.get_logical_plan().map(|p| p.into_owned());
            super::personal_grain(&def, view.as_ref(), &provider.schema(), &schema)
        })
    };
    assert_eq!(personal("customer_360", &["customer_type"]), None);
    // Read through a view, or from the table itself.
    assert_eq!(
        personal("customer_360", &["customer_type", "email"]),
        Some("email".to_string())
    );
    assert_eq!(
        personal("dim_customer", &["phone"]),
        Some("phone".to_string())
    );
    assert_eq!(
        personal("sales_cube", &["nonexistent"]),
        Some("nonexistent".to_string())
    );
}
