//! Materialized reports on the hand-made version of the aggregate tests: each stored result
//! answers its report (alone or as a subquery) exactly as the facts do, never for a caller
//! with a row scope, for a privileged one only when the report reads no personal data, and
//! only while every table the report reads holds the files it was computed from.

use std::path::Path;

use acrm_store::Manifest;
use acrm_store::integrity::seal;

use super::materialized::{Materialized, refresh};
use super::tests::{answer, answer_with, block_on, report, rows, text, version_1, write};
use crate::{EngineOptions, RowScope, ScopeLevel};

/// Stores the materialized reports of the version in `dir`, then seals it as a publish
/// would (the sums the engine compares with).
fn materialize(dir: &Path, m: &mut Manifest) -> Materialized {
    let done = block_on(refresh(dir, None, m)).expect("refresh");
    seal(dir, m, None).expect("seal");
    m.write(dir).expect("manifest");
    done
}

/// Whether `sql` on `dir` reads report `name`'s stored result (and no fact), and gives the
/// facts' answer.
fn answered(dir: &Path, name: &str, sql: &str) -> bool {
    let (on, plan) = answer(dir, true, sql);
    let (off, raw) = answer(dir, false, sql);
    assert_eq!(on, off, "{name}: {sql}");
    assert!(!raw.contains("rpt_"), "{raw}");
    let stored = plan.contains(&format!("rpt_{name}"));
    assert!(!stored || !plan.contains("fact_"), "{plan}");
    stored
}

#[test]
fn a_stored_result_answers_its_report_while_the_tables_it_reads_are_unchanged() {
    let root = tempfile::tempdir().expect("tmp");
    let (dir, mut m, _) = version_1(root.path());
    let done = materialize(&dir, &mut m);
    // The hand-made version has no RFM mart: that report cannot run, so it is not stored.
    let failed: Vec<&str> = done.failures.iter().map(|(r, _)| r.as_str()).collect();
    assert_eq!(failed, ["product_holding"], "{:?}", done.failures);
    let stored: Vec<&str> = done.stored.iter().map(|(r, _)| r.as_str()).collect();
    assert!(stored.contains(&"top_customers") && stored.contains(&"channel_cube"));
    let unanswered: Vec<&&str> = stored
        .iter()
        .filter(|name| !answered(&dir, name, report(name)))
        .collect();
    assert!(
        unanswered.is_empty(),
        "not answered: {unanswered:?} of {stored:?}"
    );
    assert!(m.tables["rpt_cohort_retention"] > 0);
    // As a subquery too; a different query is not.
    let wrapped = format!(
        "SELECT count(*) AS n FROM ({}) t",
        report("cohort_retention")
    );
    assert!(answered(&dir, "cohort_retention", &wrapped));
    let other = report("cohort_retention").replace("months_after", "months_later");
    assert!(!answered(&dir, "cohort_retention", &other));
    // For a privileged caller only when the report reads no personal data (the stored
    // result holds masked values).
    let privileged = || EngineOptions {
        privileged: true,
        ..EngineOptions::default()
    };
    for (name, for_privileged) in [("top_customers", false), ("cohort_retention", true)] {
        let (on, plan) = answer_with(&dir, privileged(), report(name));
        assert_eq!(plan.contains("rpt_"), for_privileged, "{name}: {plan}");
        let raw = EngineOptions {
            aggregates: false,
            ..privileged()
        };
        assert_eq!(on, answer_with(&dir, raw, report(name)).0, "{name}");
    }
    // A channel renamed since (a table's files changed): the reports reading dim_channel
    // are computed again, the others still answered.
    std::fs::remove_dir_all(dir.join("dim_channel")).expect("rm");
    write(
        &dir,
        rows(
            "dim_channel",
            2,
            vec![
                ("channel_key", super::tests::ints(&[1, 2])),
                ("channel_name", text(&[Some("Shop"), Some("Online")])),
            ],
        ),
        "part-1.parquet",
    );
    seal(&dir, &mut m, None).expect("seal");
    m.write(&dir).expect("manifest");
    assert!(!answered(&dir, "channel_cube", report("channel_cube")));
    assert!(
        answer(&dir, true, report("channel_cube"))
            .0
            .contains("Online")
    );
    assert!(answered(
        &dir,
        "cohort_retention",
        report("cohort_retention")
    ));
    // Never for a caller with a row scope (whose filters need every fact's partitions).
    let schema = acrm_schema::WarehouseSchema::builtin().expect("schema");
    for t in schema.tables() {
        if t.partition_by.is_some() && !dir.join(&t.name).exists() {
            write(&dir, rows(&t.name, 0, vec![]), "year=2024/part-0.parquet");
        }
    }
    let scoped = EngineOptions {
        scope: Some(RowScope {
            level: ScopeLevel::Region,
            values: vec!["east".into()],
        }),
        ..EngineOptions::default()
    };
    let (_, plan) = answer_with(&dir, scoped, report("cohort_retention"));
    assert!(
        !plan.contains("rpt_") && plan.contains("fact_sales"),
        "{plan}"
    );
}

#[test]
fn a_report_calling_a_function_of_time_is_not_stored() {
    let root = tempfile::tempdir().expect("tmp");
    let (dir, _, _) = version_1(root.path());
    let plan = |sql: &str| {
        block_on(async {
            let engine = crate::Engine::open_version(&dir, EngineOptions::default())
                .await
                .expect("open");
            engine
                .context()
                .sql(sql)
                .await
                .expect("plan")
                .into_unoptimized_plan()
        })
    };
    assert!(super::materialized::deterministic(&plan(report("top_customers"))).expect("check"));
    for sql in [
        "SELECT now() AS t",
        "SELECT customer_id FROM fact_sales WHERE order_date > CAST(now() AS DATE) - INTERVAL '30' DAY",
        "SELECT random() AS r",
    ] {
        assert!(
            !super::materialized::deterministic(&plan(sql)).expect("check"),
            "{sql}"
        );
    }
}
