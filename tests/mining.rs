//! Customer analysis through the binary on its own build of the sample: RFM equals a plain
//! SQL computation of the documented definitions, k-means recovers the planted behaviour
//! groups, results are reproducible and published as marts SQL can join.

use std::collections::HashMap;
use std::sync::OnceLock;

use acrm_mining::evaluate::adjusted_rand_index;

use crate::common::*;

/// A sample build of its own: mining publishes new versions, the shared build stays as is.
fn mined() -> &'static SampleCopy {
    static COPY: OnceLock<SampleCopy> = OnceLock::new();
    COPY.get_or_init(|| {
        let copy = SampleCopy::new();
        run_ok(&mut copy.build(&copy.warehouse(), &[]));
        copy
    })
}

fn on_mined(args: &[&str]) -> std::process::Command {
    let mut c = acrm();
    c.args(args).arg("--warehouse").arg(mined().warehouse());
    c
}

fn csv_rows(text: &str) -> Vec<Vec<String>> {
    csv::Reader::from_reader(text.as_bytes())
        .records()
        .map(|r| r.expect("csv row").iter().map(String::from).collect())
        .collect()
}

#[test]
fn rfm_equals_plain_sql_of_its_definitions() {
    let out = run_ok(&mut on_mined(&["mine", "rfm"]));
    assert!(out.contains("champions"), "{out}");
    // The documented definitions, written independently in SQL over the facts.
    let check = "WITH base AS (
        SELECT customer_id,
               CAST(DATE '2024-12-31' AS INT) - CAST(max(order_date) AS INT) AS recency_days,
               count(DISTINCT order_id) AS frequency,
               sum(revenue) AS monetary
        FROM fact_sales WHERE customer_id <> 0 AND order_date <= DATE '2024-12-31'
        GROUP BY customer_id
    ), scored AS (
        SELECT customer_id, recency_days, frequency, monetary,
               1 + CAST(floor(5.0 * (rank() OVER (ORDER BY recency_days DESC) - 1) / count(*) OVER ()) AS INT) AS r,
               1 + CAST(floor(5.0 * (rank() OVER (ORDER BY frequency) - 1) / count(*) OVER ()) AS INT) AS f,
               1 + CAST(floor(5.0 * (rank() OVER (ORDER BY monetary) - 1) / count(*) OVER ()) AS INT) AS m
        FROM base
    )
    SELECT count(*) AS customers,
           sum(CASE WHEN m.customer_id IS NULL THEN 1 ELSE 0 END) AS missing,
           sum(CASE WHEN m.recency_days <> s.recency_days OR m.frequency <> s.frequency
                     OR abs(m.monetary - CAST(s.monetary AS DOUBLE)) > 0.005 THEN 1 ELSE 0 END) AS value_diff,
           sum(CASE WHEN m.r_score <> s.r OR m.f_score <> s.f OR m.m_score <> s.m THEN 1 ELSE 0 END) AS score_diff,
           (SELECT count(*) FROM mart_rfm) AS mart_rows,
           (SELECT count(DISTINCT rfm_segment) FROM mart_rfm) AS segments
    FROM scored s LEFT JOIN mart_rfm m ON m.customer_id = s.customer_id";
    let rows = csv_rows(&run_ok(&mut on_mined(&["sql", "--format", "csv", check])));
    let r = &rows[0];
    println!(
        "RFM check: customers {}, missing {}, value diffs {}, score diffs {}, mart rows {}, segments {}",
        r[0], r[1], r[2], r[3], r[4], r[5]
    );
    assert!(r[0].parse::<u64>().expect("count") > 1000, "{r:?}");
    assert_eq!(&r[1..4], &["0", "0", "0"], "{r:?}");
    assert_eq!(r[4], r[0], "one mart row per buyer");
    assert!(r[5].parse::<u64>().expect("segments") >= 8, "{r:?}");
}

/// Planted behaviour group of each golden customer, via the published source-id key map.
fn planted_groups() -> HashMap<i64, String> {
    let truth = read_truth(&mined().exports().join("truth/night-1/persons.csv"));
    let keys = run_ok(&mut on_mined(&[
        "sql",
        "--format",
        "csv",
        "SELECT source_system, source_id, customer_id FROM map_customer_source",
    ]));
    let mut by_source: HashMap<(String, String), i64> = HashMap::new();
    for r in csv_rows(&keys) {
        by_source.insert((r[0].clone(), r[1].clone()), r[2].parse().expect("id"));
    }
    let mut out = HashMap::new();
    for p in truth {
        let id = [("crm", "crm_id"), ("web", "web_id")]
            .iter()
            .find_map(|(sys, col)| by_source.get(&(sys.to_string(), p[*col].clone())));
        if let Some(id) = id {
            out.insert(*id, p["group"].clone());
        }
    }
    out
}

fn segments(extra: &[&str]) -> HashMap<i64, String> {
    let mut args = vec!["mine", "segment"];
    args.extend_from_slice(extra);
    run_ok(&mut on_mined(&args));
    let out = run_ok(&mut on_mined(&[
        "sql",
        "--format",
        "csv",
        "SELECT customer_id, segment FROM mart_segment",
    ]));
    csv_rows(&out)
        .into_iter()
        .map(|r| (r[0].parse().expect("id"), r[1].clone()))
        .collect()
}

#[test]
fn kmeans_recovers_the_planted_groups_reproducibly() {
    let groups = planted_groups();
    let first = segments(&["--k", "4"]);
    let (mut truth, mut found) = (Vec::new(), Vec::new());
    for (id, seg) in &first {
        if let Some(g) = groups.get(id) {
            truth.push(g.clone());
            found.push(seg.clone());
        }
    }
    assert!(
        truth.len() > 1000,
        "{} segmented customers with known group",
        truth.len()
    );
    let ari = adjusted_rand_index(&found, &truth);
    println!(
        "k-means (k = 4) vs planted groups: ARI {ari:.3} over {} customers",
        truth.len()
    );
    assert!(ari >= 0.8, "ARI {ari}");
    let again = segments(&["--k", "4"]);
    assert_eq!(first, again, "same seed, same segments");
    let profile = run_ok(&mut on_mined(&[
        "sql",
        "--format",
        "csv",
        "SELECT count(*) AS segments, sum(size) AS customers, (SELECT count(*) FROM mart_segment) AS rows
         FROM (SELECT DISTINCT segment, size FROM mart_segment_profile)",
    ]));
    let r = &csv_rows(&profile)[0];
    assert_eq!(r[0], "4", "{profile}");
    assert_eq!(
        r[1], r[2],
        "profile sizes add up to the segmented customers: {profile}"
    );
}

#[test]
fn auto_k_prints_the_silhouette_curve_and_bad_features_are_refused() {
    let out = run_ok(&mut on_mined(&[
        "mine",
        "segment",
        "--max-k",
        "6",
        "--no-write",
    ]));
    assert!(out.contains("k = 2") && out.contains("k = 6"), "{out}");
    let bad = run(&mut on_mined(&[
        "mine",
        "segment",
        "--k",
        "3",
        "--features",
        "shoe_size",
        "--no-write",
    ]));
    assert!(!bad.status.success());
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("no feature 'shoe_size'"), "{err}");
}
