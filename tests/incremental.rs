//! Nightly operation: a second night's exports give SCD2 history, a re-run is a no-op, a
//! `--full` rebuild equals the incremental result, and a build killed with SIGKILL leaves
//! the published version readable.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::common::*;

/// Night 1 and 2 of the sample, built incrementally (two versions).
fn two_nights() -> SampleCopy {
    let s = SampleCopy::new();
    run_ok(&mut s.build(&s.warehouse(), &[]));
    s.generate_night(2);
    let out = run_ok(&mut s.build(&s.warehouse(), &[]));
    assert!(out.contains("published warehouse version 2"), "{out}");
    s
}

#[test]
fn second_night_closes_changed_customers_and_opens_new_versions() {
    let s = two_nights();
    let dir = current(&s.warehouse());
    let changes = read_truth(&s.exports().join("truth/night-2/changes.csv"));
    let map = read_table(&dir, "map_customer_source");
    let crm_to_customer: HashMap<String, String> = column_text(&map, "source_system")
        .into_iter()
        .zip(column_text(&map, "source_id"))
        .zip(column_text(&map, "customer_id"))
        .filter(|((s, _), _)| s.as_deref() == Some("crm"))
        .map(|((_, i), c)| (i.expect("id"), c.expect("customer")))
        .collect();
    let dim = read_table(&dir, "dim_customer");
    let cols = [
        "customer_id",
        "valid_from",
        "valid_to",
        "is_current",
        "city",
        "phone",
    ];
    let data: Vec<Vec<Option<String>>> = cols.iter().map(|c| column_text(&dim, c)).collect();
    let versions_of = |customer: &str| -> Vec<Vec<Option<String>>> {
        (0..data[0].len())
            .filter(|&r| data[0][r].as_deref() == Some(customer))
            .map(|r| data.iter().map(|c| c[r].clone()).collect())
            .collect()
    };
    let mut checked = 0;
    // Changes of CRM attributes (a new web account of a known customer is not one).
    for c in changes
        .iter()
        .filter(|c| !["new_customer", "web_account"].contains(&c["attribute"].as_str()))
    {
        let customer = &crm_to_customer[&c["crm_id"]];
        let versions = versions_of(customer);
        let current: Vec<_> = versions
            .iter()
            .filter(|v| v[3].as_deref() == Some("true"))
            .collect();
        assert_eq!(current.len(), 1, "one current version: {versions:?}");
        let closed = versions
            .iter()
            .find(|v| v[2].as_deref() == Some("2024-12-31"))
            .unwrap_or_else(|| panic!("a version closed on 2024-12-31: {versions:?}"));
        assert_eq!(closed[3].as_deref(), Some("false"));
        assert_eq!(current[0][1].as_deref(), Some("2025-01-01"));
        assert_eq!(current[0][2].as_deref(), Some("9999-12-31"));
        let (col, old, new) = match c["attribute"].as_str() {
            "city" => (4, c["old"].clone(), c["new"].clone()),
            "phone" => (5, format!("+86{}", c["old"]), format!("+86{}", c["new"])),
            other => panic!("unexpected change {other}"),
        };
        assert_eq!(closed[col].as_deref(), Some(old.as_str()), "{versions:?}");
        assert_eq!(
            current[0][col].as_deref(),
            Some(new.as_str()),
            "{versions:?}"
        );
        checked += 1;
    }
    assert!(checked >= 2, "the second night plants attribute changes");
    // New customers of night 2 are in the dimension.
    let newcomers = changes
        .iter()
        .filter(|c| c["attribute"] == "new_customer")
        .count();
    assert!(newcomers >= 2);
    let v1 = read_table(&s.warehouse().join("versions/v000001"), "dim_customer");
    assert!(rows(&dim) >= rows(&v1) + checked + newcomers);
}

/// Night 2 changes no golden id of a record night 1 resolved; the records of a person who
/// first appears on night 2 share one new id; and a customer who opens a web account on
/// night 2 with a new phone and e-mail (the CRM keeps the old ones) never joins another
/// person: most accounts join their customer or, where only name, birth date and city tie
/// them (as they tie namesakes), are left in the review band beside it.
#[test]
fn golden_ids_are_stable_across_nights() {
    let s = two_nights();
    let wh = s.warehouse();
    let (v1, v2) = (
        golden_ids(&wh.join("versions/v000001")),
        golden_ids(&current(&wh)),
    );
    for (record, id) in &v1 {
        assert_eq!(v2.get(record), Some(id), "{record:?} changed its golden id");
    }
    // Night 1's customers of each person.
    let mut known: HashMap<String, Vec<&String>> = HashMap::new();
    for r in read_truth(&s.exports().join("truth/night-1/identity.csv")) {
        let record = (r["system"].clone(), r["source_id"].clone());
        known
            .entry(r["person_id"].clone())
            .or_default()
            .push(&v1[&record]);
    }
    let old_ids: std::collections::HashSet<&String> = v1.values().collect();
    let pairs = read_table(&current(&wh), "identity_pairs");
    let review: std::collections::HashSet<(String, String)> = column_text(&pairs, "source_id_a")
        .into_iter()
        .zip(column_text(&pairs, "source_id_b"))
        .zip(column_text(&pairs, "decision"))
        .filter(|(_, d)| d.as_deref() == Some("review"))
        .map(|((a, b), _)| (a.expect("a"), b.expect("b")))
        .collect();
    let mut newcomers: HashMap<String, Vec<&String>> = HashMap::new();
    let (mut accounts, mut joined, mut reviewed) = (0, 0, 0);
    for r in read_truth(&s.exports().join("truth/night-2/identity.csv")) {
        let record = (r["system"].clone(), r["source_id"].clone());
        if v1.contains_key(&record) {
            continue;
        }
        let id = &v2[&record];
        match known.get(&r["person_id"]) {
            None => newcomers
                .entry(r["person_id"].clone())
                .or_default()
                .push(id),
            Some(theirs) => {
                accounts += 1;
                if theirs.contains(&id) {
                    joined += 1;
                    continue;
                }
                assert!(
                    !old_ids.contains(id),
                    "{record:?} of person {} joined another person's customer {id}",
                    r["person_id"]
                );
                let beside_theirs = v1.iter().any(|(old, c)| {
                    theirs.contains(&c) && review.contains(&(old.1.clone(), record.1.clone()))
                });
                reviewed += usize::from(beside_theirs);
            }
        }
    }
    assert!(newcomers.len() >= 2, "night 2 brings new persons");
    for (person, ids) in &newcomers {
        assert!(
            ids.iter().all(|id| *id == ids[0] && !old_ids.contains(id)),
            "person {person}: {ids:?}"
        );
    }
    println!(
        "night 2: of {accounts} new web accounts of known customers, {joined} joined them, {reviewed} left for review"
    );
    assert!(
        accounts >= 4,
        "night 2 brings web accounts of known customers"
    );
    // An account whose name is mistyped as well shares only a birth date and a city with
    // its customer: nothing tells it from another person, and it is missed.
    assert!(
        (joined + reviewed) * 3 >= accounts * 2,
        "{joined} joined and {reviewed} left for review of {accounts} accounts"
    );
}

/// A steward's decisions file, read on the next night: a `cannot_link` splits a wrong merge
/// (the second record leaves for a customer of its own), a `must_link` merges a missed pair.
#[test]
fn steward_decisions_split_a_wrong_merge_and_join_a_missed_pair_on_the_next_night() {
    let s = SampleCopy::new();
    run_ok(&mut s.build(&s.warehouse(), &[]));
    let v1 = golden_ids(&current(&s.warehouse()));
    let person: HashMap<(String, String), String> =
        read_truth(&s.exports().join("truth/night-1/identity.csv"))
            .into_iter()
            .map(|r| {
                (
                    (r["system"].clone(), r["source_id"].clone()),
                    r["person_id"].clone(),
                )
            })
            .collect();
    let mut records: Vec<&(String, String)> = person.keys().collect();
    records.sort();
    // A wrong merge (one customer, two persons) and a missed pair (one person, two customers).
    let mut wrong = None;
    let mut missed = None;
    for (i, a) in records.iter().enumerate() {
        for b in &records[i + 1..] {
            let same_customer = v1[*a] == v1[*b];
            let same_person = person[*a] == person[*b];
            if same_customer && !same_person && wrong.is_none() {
                wrong = Some((*a, *b));
            }
            if !same_customer && same_person && missed.is_none() {
                missed = Some((*a, *b));
            }
        }
    }
    let (wrong, missed) = (
        wrong.expect("the sample has a wrong merge"),
        missed.expect("the sample has a missed pair"),
    );
    let line = |d: &str, (a, b): (&(String, String), &(String, String))| {
        format!("{d},{},{},{},{}\n", a.0, a.1, b.0, b.1)
    };
    std::fs::write(
        s.exports().join("decisions.csv"),
        format!(
            "decision,system_a,source_id_a,system_b,source_id_b\n{}{}",
            line("cannot_link", wrong),
            line("must_link", missed)
        ),
    )
    .expect("decisions file");
    let config = std::fs::read_to_string(s.config()).expect("config");
    std::fs::write(
        s.config(),
        config.replace(
            "[identity]\n",
            "[identity]\ndecisions = \"decisions.csv\"\n",
        ),
    )
    .expect("config");
    s.generate_night(2);
    run_ok(&mut s.build(&s.warehouse(), &[]));
    let v2 = golden_ids(&current(&s.warehouse()));
    assert_ne!(v2[wrong.0], v2[wrong.1], "cannot_link splits {wrong:?}");
    assert_eq!(
        v2[wrong.0], v1[wrong.0],
        "the first record keeps its customer"
    );
    assert!(
        !v1.values().any(|c| *c == v2[wrong.1]),
        "the second record gets a new customer"
    );
    assert_eq!(v2[missed.0], v2[missed.1], "must_link merges {missed:?}");
    // Both are recorded in the manifest, with the records and customers they changed.
    let changes = manifest(&current(&s.warehouse()))["identity_changes"].clone();
    let record = |r: &(String, String)| format!("{}:{}", r.0, r.1);
    let expected = serde_json::json!([
        {"change": "split", "kept": v1[wrong.0].parse::<i64>().expect("id"),
         "other": v2[wrong.1].parse::<i64>().expect("id"),
         "records": [record(wrong.0), record(wrong.1)], "batch_date": "2025-01-01"},
        {"change": "merged", "kept": v1[missed.0].parse::<i64>().expect("id"),
         "other": v1[missed.1].parse::<i64>().expect("id"),
         "records": [record(missed.0), record(missed.1)], "batch_date": "2025-01-01"},
    ]);
    assert_eq!(changes, expected);
}

#[test]
fn rerun_is_a_no_op_and_full_rebuild_equals_incremental() {
    let s = two_nights();
    let wh = s.warehouse();
    let v2 = current(&wh);
    let before = checksums(&v2, &facts());
    let counts = manifest(&v2)["tables"].clone();
    let out = run_ok(&mut s.build(&wh, &[]));
    assert!(out.contains("up to date"), "{out}");
    assert_eq!(current_version(&wh), 2, "no new version for the same night");
    assert_eq!(checksums(&current(&wh), &facts()), before);
    assert_eq!(manifest(&current(&wh))["tables"], counts);

    let full_wh = s.dir.path().join("warehouse-full");
    run_ok(&mut s.build(&full_wh, &["--full"]));
    let full = current(&full_wh);
    let all: Vec<String> = acrm_schema::WarehouseSchema::builtin()
        .expect("schema")
        .built_tables()
        .map(|t| t.name.clone())
        .collect();
    assert_eq!(
        checksums(&full, &all),
        checksums(&v2, &all),
        "--full gives byte-identical tables"
    );
    assert_eq!(manifest(&full)["tables"], counts);
    // The aggregates v2 refreshed on top of v1 hold what a full recompute holds (their
    // distinct-value bitmaps counted: dictionary ordinals are numbered as values came).
    assert_eq!(aggregate_cells(&full_wh), aggregate_cells(&wh));
}

/// Every aggregate's cells in the warehouse `wh` as CSV (a cell's partitions merged, its
/// bitmaps counted).
fn aggregate_cells(wh: &std::path::Path) -> String {
    let mut out = String::new();
    for a in acrm_schema::builtin_aggregates().expect("aggregates") {
        let sql = acrm_olap::aggregate::cells_sql(&a);
        let mut cmd = acrm();
        cmd.args(["sql", "--format", "csv", &sql, "--warehouse"])
            .arg(wh);
        let cells = run_ok(&mut cmd);
        assert!(cells.lines().count() > 1, "{} has rows", a.name);
        out.push_str(&cells);
    }
    out
}

#[test]
fn sigkill_during_a_build_leaves_the_previous_version_readable() {
    let s = two_nights();
    let wh = s.warehouse();
    let before = checksums(&current(&wh), &facts());
    // A full rebuild takes long enough to be caught in the middle.
    let mut child = s
        .build(&wh, &["--full"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn build");
    let started = Instant::now();
    let in_progress = || {
        std::fs::read_dir(wh.join("versions"))
            .expect("versions")
            .filter_map(Result::ok)
            .any(|e| e.file_name().to_string_lossy().starts_with(".tmp-"))
    };
    while !in_progress() {
        assert!(
            child.try_wait().expect("wait").is_none(),
            "build ended before it could be killed"
        );
        assert!(started.elapsed() < Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(Duration::from_millis(150));
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    assert_eq!(current_version(&wh), 2, "the published version stands");
    let dir = current(&wh);
    assert_eq!(checksums(&dir, &facts()), before);
    for t in tables_of(acrm_schema::TableKind::Dimension)
        .iter()
        .chain(facts().iter())
    {
        assert!(rows(&read_table(&dir, t)) > 0, "{t} readable");
    }
    // The next build cleans up and succeeds.
    let out = run_ok(&mut s.build(&wh, &["--full"]));
    assert!(out.contains("published warehouse version 3"), "{out}");
    assert_eq!(checksums(&current(&wh), &facts()), before);
    assert!(!in_progress(), "the killed build's folder is gone");
}

#[test]
fn a_second_build_is_refused_while_one_holds_the_lock() {
    let s = SampleCopy::new();
    let wh = s.warehouse();
    run_ok(&mut s.build(&wh, &[]));
    // Hold the build lock the way a running build does.
    let lock = std::fs::File::options()
        .write(true)
        .open(wh.join(".lock"))
        .expect("lock file exists after a build");
    lock.try_lock().expect("nobody else holds it");
    s.generate_night(2);
    let out = run(&mut s.build(&wh, &[]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("another build is running"), "{stderr}");
    assert_eq!(current_version(&wh), 1);
    drop(lock);
    let out = run_ok(&mut s.build(&wh, &[]));
    assert!(out.contains("published warehouse version 2"), "{out}");
}
