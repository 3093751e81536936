//! The bundled sample built the README's way: summary, reconciliation, quarantine and identity
//! resolution checked against the generator's planted truth, and the published Parquet read
//! by engines that know nothing of acrm.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::BufRead;
use std::process::Command;

use crate::common::*;

#[test]
fn no_argument_build_publishes_the_sample_and_prints_the_summary() {
    let b = sample_build();
    let out = &b.stdout;
    assert!(out.contains("published warehouse version 1"), "{out}");
    assert!(out.contains("(read = loaded + quarantined)"), "{out}");
    for table in ["dim_customer", "dim_date", "fact_sales", "etl_quarantine"] {
        assert!(out.contains(table), "summary lists {table}: {out}");
    }
    let wh = b.copy.warehouse();
    assert_eq!(current_version(&wh), 1);
    let dir = current(&wh);
    let m = manifest(&dir);
    for (table, n) in m["tables"].as_object().expect("tables") {
        let n = n.as_u64().expect("row count");
        assert_eq!(rows(&read_table(&dir, table)) as u64, n, "{table}");
        if !table.starts_with("etl_") {
            assert!(n > 0, "{table} is empty");
        }
    }
}

/// Data rows of an export counted independently of acrm: lines, less the CSV header and blank lines.
fn data_rows(path: &std::path::Path) -> u64 {
    let f = std::fs::File::open(path).expect("export file");
    let lines = std::io::BufReader::new(f)
        .split(b'\n')
        .map(|l| l.expect("line"))
        .filter(|l| !l.iter().all(u8::is_ascii_whitespace))
        .count() as u64;
    let is_csv = path.extension().is_some_and(|e| e == "csv");
    lines - u64::from(is_csv)
}

#[test]
fn every_file_reconciles_read_equals_loaded_plus_quarantined() {
    let b = sample_build();
    let dir = current(&b.copy.warehouse());
    let m = manifest(&dir);
    let files = m["files"].as_array().expect("files");
    assert!(files.len() >= 10, "every source loaded: {files:?}");
    let audit = read_table(&dir, "etl_load_audit");
    assert_eq!(rows(&audit), files.len());
    let quarantine = read_table(&dir, "etl_quarantine");
    let mut quarantined_per_file: HashMap<String, u64> = HashMap::new();
    for f in column_text(&quarantine, "file") {
        *quarantined_per_file.entry(f.expect("file")).or_default() += 1;
    }
    for f in files {
        let (read, loaded, quarantined) = (
            f["rows_read"].as_u64().expect("read"),
            f["rows_loaded"].as_u64().expect("loaded"),
            f["rows_quarantined"].as_u64().expect("quarantined"),
        );
        let name = f["file"].as_str().expect("file");
        assert_eq!(read, loaded + quarantined, "{name}");
        assert_eq!(
            read,
            data_rows(&b.copy.exports().join(name)),
            "{name}: rows read = rows in the file"
        );
        assert_eq!(
            quarantined,
            quarantined_per_file.get(name).copied().unwrap_or(0),
            "{name}: quarantine table agrees"
        );
    }
}

#[test]
fn quarantine_holds_exactly_the_injected_bad_rows() {
    let b = sample_build();
    let dir = current(&b.copy.warehouse());
    let q = read_table(&dir, "etl_quarantine");
    let got: BTreeSet<(String, u64, String)> = column_text(&q, "file")
        .into_iter()
        .zip(column_text(&q, "line"))
        .zip(column_text(&q, "reason_code"))
        .map(|((f, l), c)| {
            (
                f.expect("file"),
                l.expect("line").parse().expect("line number"),
                c.expect("code"),
            )
        })
        .collect();
    let truth = read_truth(&b.copy.exports().join("truth/night-1/bad_rows.csv"));
    let expected: BTreeSet<(String, u64, String)> = truth
        .iter()
        .map(|r| {
            (
                r["file"].clone(),
                r["line"].parse().expect("line"),
                r["reason_code"].clone(),
            )
        })
        .collect();
    assert!(expected.len() >= 20, "the sample plants bad rows");
    let missing: Vec<_> = expected.difference(&got).collect();
    let extra: Vec<_> = got.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "planted but not quarantined: {missing:?}\nquarantined but not planted: {extra:?}"
    );
    // Every reason names what was wrong, and the column where there is one.
    for (reason, column) in column_text(&q, "reason")
        .into_iter()
        .zip(column_text(&q, "column"))
    {
        let reason = reason.expect("reason");
        assert!(!reason.is_empty());
        if let Some(c) = column {
            assert!(reason.contains(&format!("'{c}'")), "{reason}");
        }
    }
}

/// Pairwise precision and recall of "same customer" decisions against the planted persons, on
/// a sample with typos in every identity field, households sharing a phone and an address,
/// namesakes born the same day in the same city, and a placeholder phone.
#[test]
fn identity_resolution_precision_and_recall_at_least_98_percent() {
    let b = sample_build();
    let golden = golden_ids(&current(&b.copy.warehouse()));
    let truth = read_truth(&b.copy.exports().join("truth/night-1/identity.csv"));
    let mut by_person: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    let mut by_customer: BTreeMap<String, Vec<(String, String)>> = BTreeMap::new();
    for r in &truth {
        let rec = (r["system"].clone(), r["source_id"].clone());
        let customer = golden
            .get(&rec)
            .unwrap_or_else(|| panic!("source record {rec:?} has no golden customer"));
        by_person
            .entry(r["person_id"].clone())
            .or_default()
            .push(rec.clone());
        by_customer.entry(customer.clone()).or_default().push(rec);
    }
    let pairs = |groups: &BTreeMap<String, Vec<(String, String)>>| {
        let mut out = BTreeSet::new();
        for g in groups.values() {
            for (i, a) in g.iter().enumerate() {
                for b in &g[i + 1..] {
                    out.insert(if a < b {
                        (a.clone(), b.clone())
                    } else {
                        (b.clone(), a.clone())
                    });
                }
            }
        }
        out
    };
    let (true_pairs, found_pairs) = (pairs(&by_person), pairs(&by_customer));
    let hits = true_pairs.intersection(&found_pairs).count() as f64;
    let precision = hits / found_pairs.len() as f64;
    let recall = hits / true_pairs.len() as f64;
    println!(
        "identity resolution on the sample: {} true pairs, {} merged pairs, precision {precision:.4}, recall {recall:.4}",
        true_pairs.len(),
        found_pairs.len()
    );
    assert!(true_pairs.len() >= 100, "the sample plants duplicates");
    assert!(precision >= 0.98, "precision {precision:.4}");
    assert!(recall >= 0.98, "recall {recall:.4}");
}

/// The generator's look-alikes: households (two people sharing a landline and an address) and
/// namesakes (the same name, birth date and city). A household whose members' names differ
/// (as pinyin) and whose birth dates differ is always two customers; namesakes, told apart only
/// by phone, e-mail, id number and address, in at least 80% of the pairs.
#[test]
fn households_and_namesakes_stay_apart() {
    let b = sample_build();
    let golden = golden_ids(&current(&b.copy.warehouse()));
    let truth = b.copy.exports().join("truth/night-1");
    let mut customers: HashMap<String, BTreeSet<String>> = HashMap::new();
    for r in read_truth(&truth.join("identity.csv")) {
        let c = golden[&(r["system"].clone(), r["source_id"].clone())].clone();
        customers
            .entry(r["person_id"].clone())
            .or_default()
            .insert(c);
    }
    let crm: HashMap<String, HashMap<String, String>> = read_truth(
        &b.copy
            .exports()
            .join("exports/crm/crm_customers_2024-12-31.csv"),
    )
    .into_iter()
    .map(|r| (r["cust_no"].clone(), r))
    .collect();
    let person_crm: HashMap<String, String> = read_truth(&truth.join("persons.csv"))
        .into_iter()
        .map(|p| (p["person_id"].clone(), p["crm_id"].clone()))
        .collect();
    // (name as pinyin, birthday) of a person's CRM record.
    let who = |person: &str| {
        let r = crm.get(&person_crm[person])?;
        Some((
            acrm_etl::identity::name_key(&r["full_name"]),
            r["birthday"].clone(),
        ))
    };
    let (mut households, mut namesakes, mut namesakes_apart) = (0, 0, 0);
    for l in read_truth(&truth.join("lookalikes.csv")) {
        let (a, b_) = (&l["person_a"], &l["person_b"]);
        let apart = customers[a].is_disjoint(&customers[b_]);
        match l["kind"].as_str() {
            "household" => {
                let (Some(x), Some(y)) = (who(a), who(b_)) else {
                    continue;
                };
                if x.0 != y.0 && x.1 != y.1 {
                    households += 1;
                    assert!(apart, "household {a} and {b_} merged: {x:?} / {y:?}");
                }
            }
            "namesake" => {
                namesakes += 1;
                namesakes_apart += usize::from(apart);
            }
            other => panic!("unknown look-alike kind {other}"),
        }
    }
    println!(
        "look-alikes: {households} households apart; namesakes apart {namesakes_apart} of {namesakes}"
    );
    assert!(
        households >= 50,
        "the sample plants households: {households}"
    );
    assert!(namesakes >= 8, "the sample plants namesakes: {namesakes}");
    // A namesake's web account (name, birth date, city, a phone and an e-mail that differ)
    // can look like the other person's second account: most, not all, stay apart.
    assert!(
        namesakes_apart * 10 >= namesakes * 8,
        "namesakes apart: {namesakes_apart} of {namesakes}"
    );
}

/// `acrm identity explain` shows the merged pairs behind a customer with every field's level;
/// `acrm identity review` lists only review-band pairs, most likely first.
#[test]
fn identity_explain_and_review_read_the_pair_evidence() {
    let b = sample_build();
    let golden = golden_ids(&current(&b.copy.warehouse()));
    // A customer with a CRM and a web record: the first golden id holding two systems.
    let mut systems: BTreeMap<&String, BTreeSet<&String>> = BTreeMap::new();
    for ((system, _), c) in &golden {
        systems.entry(c).or_default().insert(system);
    }
    let merged = systems
        .iter()
        .find(|(_, s)| s.len() == 2)
        .map(|(c, _)| (*c).clone())
        .expect("a customer with records in both systems");
    let out = run_ok(&mut on_sample(&[
        "identity", "explain", &merged, "--format", "csv",
    ]));
    let header: Vec<&str> = out.lines().next().unwrap_or_default().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).expect("column");
    let rows = csv_rows(&out);
    assert!(!rows.is_empty(), "{out}");
    for r in &rows {
        assert!(
            r[col("customer_id_a")] == merged || r[col("customer_id_b")] == merged,
            "{r:?}"
        );
    }
    assert!(
        rows.iter()
            .any(|r| r[col("decision")] == "merge"
                && r[col("customer_id_a")] == r[col("customer_id_b")]),
        "{out}"
    );
    let review = run_ok(&mut on_sample(&["identity", "review", "--format", "csv"]));
    let header: Vec<&str> = review
        .lines()
        .next()
        .unwrap_or_default()
        .split(',')
        .collect();
    let (p, d) = (
        header
            .iter()
            .position(|h| *h == "probability")
            .expect("column"),
        header
            .iter()
            .position(|h| *h == "decision")
            .expect("column"),
    );
    let probabilities: Vec<f64> = csv_rows(&review)
        .iter()
        .map(|r| {
            assert_eq!(r[d], "review");
            r[p].parse().expect("probability")
        })
        .collect();
    assert!(
        !probabilities.is_empty(),
        "the sample has pairs in the review band"
    );
    assert!(
        probabilities.windows(2).all(|w| w[0] >= w[1]),
        "{probabilities:?}"
    );
    assert!(
        probabilities.iter().all(|p| (0.5..0.95).contains(p)),
        "{probabilities:?}"
    );
}

/// pyarrow and DuckDB read every published table through `current/` with no acrm code.
#[test]
fn pyarrow_and_duckdb_read_every_published_table() {
    let b = sample_build();
    assert_readable_by_duckdb(&b.copy.warehouse().join("current"));
}

/// On a terminal (a pseudo-terminal from `script`), the build shows every stage on a line of
/// its own, each left with a tick and its time, the loading stage as a byte bar; an ETA is
/// only shown once the rate is known ("eta …" before), never the "2d" of a rate guessed from
/// the first file headers.
#[test]
fn a_build_on_a_terminal_shows_every_stage_with_its_time() {
    let s = SampleCopy::new();
    let build = format!(
        "'{}' build --config '{}' --warehouse '{}'",
        env!("CARGO_BIN_EXE_acrm"),
        s.config().display(),
        s.warehouse().display()
    );
    let out = run(Command::new("script")
        .args(["-qec", &build, "/dev/null"])
        .env("ACRM_LOG", "warn")
        .env("COLUMNS", "160"));
    let screen = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{screen}");
    for stage in [
        "discovering export files",
        "loading batch 2024-12-31",
        "writing dimensions",
        "refreshing marts",
    ] {
        assert!(
            screen.contains(&format!("✓ {stage}")),
            "{stage} in {screen}"
        );
    }
    assert!(screen.contains("published warehouse version 1"), "{screen}");
    assert!(
        !screen.contains("eta 2d") && !screen.contains("eta 1d"),
        "{screen}"
    );
}
