//! Customer analysis through the binary on its own build of the sample: RFM equals a plain
//! SQL computation of the documented definitions, k-means recovers the planted behaviour
//! groups, results are reproducible and published as marts SQL can join.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use acrm_mining::algo::partition::adjusted_rand_index;

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
    mined().on(args)
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

/// Golden customer id of each planted person (by person_id), via the published source-id key
/// map, with the person's truth row.
fn planted_persons() -> Vec<(i64, HashMap<String, String>)> {
    mined().planted_persons()
}

/// Planted behaviour group of each golden customer.
fn planted_groups() -> HashMap<i64, String> {
    planted_persons()
        .into_iter()
        .map(|(id, p)| (id, p["group"].clone()))
        .collect()
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
    // --k auto (the default) finds the four planted behaviours by itself.
    let auto = segments(&[]);
    let (mut truth, mut found) = (Vec::new(), Vec::new());
    for (id, seg) in &auto {
        if let Some(g) = groups.get(id) {
            truth.push(g.clone());
            found.push(seg.clone());
        }
    }
    let chosen: std::collections::BTreeSet<&String> = found.iter().collect();
    let ari = adjusted_rand_index(&found, &truth);
    println!(
        "k-means (k auto = {}) vs planted groups: ARI {ari:.3}",
        chosen.len()
    );
    assert_eq!(chosen.len(), 4, "--k auto chose {} segments", chosen.len());
    assert!(ari >= 0.8, "--k auto: ARI {ari}");
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
    // Each segment is named by the buying habits that set it apart, all four differently.
    let names = csv_rows(&run_ok(&mut on_mined(&[
        "sql",
        "--format",
        "csv",
        "SELECT DISTINCT segment, name FROM mart_segment_profile ORDER BY segment",
    ])));
    let distinct: std::collections::BTreeSet<&str> = names.iter().map(|r| r[1].as_str()).collect();
    assert_eq!(distinct.len(), 4, "{names:?}");
    assert!(
        names
            .iter()
            .all(|r| r[1].starts_with("high ") || r[1].starts_with("low ")),
        "{names:?}"
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
    assert!(out.contains("Calinski–Harabasz"), "{out}");
    // As CSV: one row per segment, its name, the means at full precision.
    let csv = run_ok(&mut on_mined(&[
        "mine",
        "segment",
        "--k",
        "4",
        "--no-write",
        "--format",
        "csv",
    ]));
    assert!(csv.starts_with("segment,name,size,share,"), "{csv}");
    let rows = csv_rows(&csv);
    assert_eq!(rows.len(), 4, "{csv}");
    assert!(
        rows.iter().any(|r| r[3].len() > 8),
        "shares are not rounded: {csv}"
    );
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

/// Recall and precision of `flagged` against the planted `truth`.
fn recall_precision(flagged: &HashSet<i64>, truth: &HashSet<i64>) -> (f64, f64) {
    let hits = flagged.intersection(truth).count() as f64;
    (
        hits / truth.len().max(1) as f64,
        hits / flagged.len().max(1) as f64,
    )
}

/// Customers with an alert of one of `kinds` in the alerts CSV printed by `acrm alerts`.
fn flagged(alerts: &[Vec<String>], kinds: &[&str]) -> HashSet<i64> {
    alerts
        .iter()
        .filter(|r| kinds.contains(&r[2].as_str()))
        .map(|r| r[1].parse().expect("customer id"))
        .collect()
}

#[test]
fn alerts_flag_the_planted_over_limit_customers_and_churners() {
    let out = run_ok(&mut on_mined(&["alerts", "--format", "csv", "--no-write"]));
    let alerts = csv_rows(&out);
    let persons = planted_persons();
    let by_crm: HashMap<String, i64> = persons
        .iter()
        .map(|(id, p)| (p["crm_id"].clone(), *id))
        .collect();
    let truth_of = |file: &str, column: &str| -> HashSet<i64> {
        read_truth(&mined().exports().join("truth/night-1").join(file))
            .into_iter()
            .filter(|r| r[column] == "true")
            .filter_map(|r| by_crm.get(&r["crm_id"]).copied())
            .collect()
    };
    let over = truth_of("receivables.csv", "over_limit");
    let (recall, precision) = recall_precision(&flagged(&alerts, &["over_limit"]), &over);
    println!(
        "over_limit: {} planted, recall {recall:.3}, precision {precision:.3}",
        over.len()
    );
    assert!(
        over.len() >= 30 && recall >= 0.9,
        "over-limit recall {recall}"
    );
    let below = truth_of("sales_plan.csv", "below_plan");
    let (recall, precision) = recall_precision(&flagged(&alerts, &["below_plan"]), &below);
    println!(
        "below_plan: {} planted, recall {recall:.3}, precision {precision:.3}",
        below.len()
    );
    assert!(
        below.len() >= 50 && recall >= 0.9,
        "below-plan recall {recall}"
    );
    let churners: HashSet<i64> = persons
        .iter()
        .filter(|(_, p)| !p["churn_date"].is_empty())
        .map(|(id, _)| *id)
        .collect();
    let warned = flagged(&alerts, &["churn_risk", "purchase_drop"]);
    let (recall, precision) = recall_precision(&warned, &churners);
    println!(
        "churn warnings: {} planted churners, recall {recall:.3}, precision {precision:.3}",
        churners.len()
    );
    assert!(
        churners.len() >= 150 && recall >= 0.9,
        "churn recall {recall}"
    );
    // Every alert carries a severity and its evidence in words.
    for r in &alerts {
        assert!(["high", "medium", "low"].contains(&r[3].as_str()), "{r:?}");
        assert!(!r[6].is_empty(), "{r:?}");
    }
    // The nightly build published the same alerts as a table SQL can join.
    let published = run_ok(&mut on_mined(&[
        "sql",
        "--format",
        "csv",
        "SELECT count(*) FROM alerts a JOIN dim_customer c ON c.customer_id = a.customer_id AND c.is_current",
    ]));
    let of_customers = alerts.iter().filter(|r| !r[1].is_empty()).count();
    assert!(
        of_customers < alerts.len(),
        "budget lines' alerts are there too"
    );
    assert_eq!(csv_rows(&published)[0][0], of_customers.to_string());
}

#[test]
fn expense_alerts_find_the_planted_overspent_budget_lines() {
    let out = run_ok(&mut on_mined(&["alerts", "--format", "csv", "--no-write"]));
    let codes = |sql: &str| -> HashMap<String, String> {
        csv_rows(&run_ok(&mut on_mined(&["sql", "--format", "csv", sql])))
            .into_iter()
            .map(|r| (r[0].clone(), r[1].clone()))
            .collect()
    };
    let branches = codes("SELECT branch_key, branch_code FROM dim_branch");
    let campaigns = codes("SELECT campaign_key, campaign_code FROM dim_campaign");
    // Key 0 is no branch (campaign): the truth leaves its code empty.
    let code = |map: &HashMap<String, String>, key: &str| match key {
        "0" => String::new(),
        k => map[k].clone(),
    };
    // Budget lines alerted, as (expense type, store code, campaign code).
    let flagged: HashSet<(String, String, String)> = csv_maps(&out)
        .into_iter()
        .filter(|r| r["kind"] == "expense_over_budget")
        .map(|r| {
            assert!(
                r["customer_id"].is_empty(),
                "a budget line's alert names no customer: {r:?}"
            );
            (
                r["expense_type"].clone(),
                code(&branches, &r["branch_key"]),
                code(&campaigns, &r["campaign_key"]),
            )
        })
        .collect();
    let truth = read_truth(&mined().exports().join("truth/night-1/expenses.csv"));
    let line = |t: &HashMap<String, String>| {
        (
            t["expense_type"].clone(),
            t["store"].clone(),
            t["campaign"].clone(),
        )
    };
    let planted: HashSet<_> = truth
        .iter()
        .filter(|t| t["alert"] == "true")
        .map(line)
        .collect();
    let hits = flagged.intersection(&planted).count() as f64;
    let (recall, precision) = (
        hits / planted.len().max(1) as f64,
        hits / flagged.len().max(1) as f64,
    );
    let caught = |kind: &str| {
        let of_kind: Vec<_> = truth
            .iter()
            .filter(|t| t["planted"] == kind)
            .map(line)
            .collect();
        let n = of_kind.iter().filter(|l| flagged.contains(*l)).count();
        (n, of_kind.len())
    };
    println!(
        "expense_over_budget: {} planted, {} flagged, recall {recall:.3}, precision {precision:.3}; \
         flagged by planted kind: over {:?}, rising {:?}, past_overspend {:?}, reversed {:?}, normal {:?}",
        planted.len(),
        flagged.len(),
        caught("over"),
        caught("rising"),
        caught("past_overspend"),
        caught("reversed"),
        caught("normal"),
    );
    assert!(planted.len() >= 20, "{} planted", planted.len());
    assert!(
        recall >= 0.95 && precision >= 0.8,
        "recall {recall}, precision {precision}"
    );
    // Within budget over the quarter, the rising lines are found by the trend check alone.
    let (rising, of) = caught("rising");
    assert_eq!(rising, of, "rising lines caught");
    // The ledger loaded whole: net spending per type equals the export's good vouchers.
    let sql =
        "SELECT expense_type, CAST(sum(amount) AS DOUBLE) FROM fact_expense GROUP BY 1 ORDER BY 1";
    let loaded: HashMap<String, f64> =
        csv_rows(&run_ok(&mut on_mined(&["sql", "--format", "csv", sql])))
            .into_iter()
            .map(|r| (r[0].clone(), r[1].parse().expect("sum")))
            .collect();
    let ledger = std::fs::read_dir(mined().exports().join("exports/finance"))
        .expect("finance exports")
        .map(|e| e.expect("entry").path())
        .find(|p| {
            p.file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with("expenses_"))
        })
        .expect("expense ledger");
    let bad: HashSet<u64> = read_truth(&mined().exports().join("truth/night-1/bad_rows.csv"))
        .into_iter()
        .filter(|r| r["file"].contains("/expenses_"))
        .map(|r| r["line"].parse().expect("line"))
        .collect();
    assert!(!bad.is_empty(), "the ledger has bad rows to quarantine");
    let types: HashMap<&str, &str> = [
        ("促销费", "promotion"),
        ("广告费", "advertising"),
        ("差旅费", "travel"),
        ("招待费", "entertainment"),
        ("外呼短信费", "contact"),
    ]
    .into();
    let mut expected: HashMap<String, f64> = HashMap::new();
    let mut rdr = csv::Reader::from_path(&ledger).expect("ledger");
    for (i, r) in rdr.records().enumerate() {
        let r = r.expect("voucher");
        if bad.contains(&(i as u64 + 2)) {
            continue;
        }
        let amount: f64 = r[3].replace(',', "").parse().expect("amount");
        *expected.entry(types[&r[2]].to_string()).or_default() += amount;
    }
    for (t, sum) in &expected {
        assert!(
            (loaded[t] - sum).abs() < 0.005,
            "{t}: loaded {} vs ledger {sum}",
            loaded[t]
        );
    }
}

#[test]
fn dormant_products_find_the_planted_lapsed_diaper_buyers() {
    let out = run_ok(&mut on_mined(&[
        "mine",
        "dormant",
        "--format",
        "csv",
        "--no-write",
    ]));
    let rows = csv_maps(&out);
    let num = |r: &HashMap<String, String>, c: &str| -> f64 { r[c].parse().expect(c) };
    // Every row follows the documented rule.
    for r in &rows {
        let (days, gap, since) = (
            num(r, "purchase_days"),
            num(r, "usual_gap_days"),
            num(r, "days_since"),
        );
        assert!(days >= 3.0 && since > 2.0 * gap && since >= 60.0, "{r:?}");
    }
    let flagged: HashSet<i64> = rows
        .iter()
        .filter(|r| r["product"] == "Baby")
        .map(|r| num(r, "customer_id") as i64)
        .collect();
    // Planted: young fathers who stopped buying diapers 250–450 days before the end, among
    // them the regular buyers (Baby bought on three days or more).
    let lapsed: HashSet<i64> = planted_persons()
        .into_iter()
        .filter(|(_, p)| !p["diapers_lapsed_on"].is_empty())
        .map(|(id, _)| id)
        .collect();
    let regular: HashSet<i64> = csv_rows(&run_ok(&mut on_mined(&[
        "sql",
        "--format",
        "csv",
        "SELECT s.customer_id FROM fact_sales s JOIN dim_product p USING (product_key)
         WHERE p.category = 'Baby' AND s.quantity > 0
         GROUP BY s.customer_id HAVING count(DISTINCT s.order_date) >= 3",
    ])))
    .into_iter()
    .map(|r| r[0].parse().expect("id"))
    .collect();
    let truth: HashSet<i64> = lapsed.intersection(&regular).copied().collect();
    let (recall, precision) = recall_precision(&flagged, &truth);
    println!(
        "dormant Baby holdings: {} planted regular lapsed buyers ({} lapsed in all), {} flagged, recall {recall:.3}, precision {precision:.3}",
        truth.len(),
        lapsed.len(),
        flagged.len()
    );
    assert!(truth.len() >= 15, "{} planted", truth.len());
    assert!(recall >= 0.9, "recall {recall}");
}

#[test]
fn value_tiers_follow_their_documented_rules() {
    // The lifetime value the tiers read, published as of the same day.
    run_ok(&mut on_mined(&["mine", "clv"]));
    let out = run_ok(&mut on_mined(&[
        "mine",
        "value",
        "--format",
        "csv",
        "--no-write",
    ]));
    let printed: HashMap<String, String> = csv_rows(&out)
        .into_iter()
        .map(|r| (r[0].clone(), r[1].clone()))
        .collect();
    // The inputs, recomputed from the facts, and the tier rules, re-applied in SQL to the
    // published mart.
    let check = "WITH facts AS (
        SELECT customer_id,
               sum(CASE WHEN order_date > DATE '2024-12-31' - INTERVAL '365' DAY THEN revenue ELSE 0 END) AS revenue,
               sum(CASE WHEN order_date > DATE '2024-12-31' - INTERVAL '365' DAY THEN revenue - coalesce(cost, 0) ELSE 0 END) AS margin
        FROM fact_sales WHERE customer_id <> 0 AND order_date <= DATE '2024-12-31' GROUP BY customer_id
    ), contacts AS (
        SELECT customer_id, count(*) AS n FROM fact_service
        WHERE contact_date > DATE '2024-12-31' - INTERVAL '365' DAY AND contact_date <= DATE '2024-12-31'
        GROUP BY customer_id
    ), ranked AS (
        SELECT v.*,
               CASE WHEN net_value >= 0 AND clv > 0
                    THEN row_number() OVER (PARTITION BY net_value >= 0 AND clv > 0
                                            ORDER BY clv DESC, customer_id) END AS value_rank,
               count(*) OVER () AS customers
        FROM mart_value_tier v
    )
    SELECT count(*) AS customers,
           sum(CASE WHEN f.customer_id IS NULL THEN 1 ELSE 0 END) AS missing,
           sum(CASE WHEN abs(r.revenue - CAST(f.revenue AS DOUBLE)) > 0.005
                     OR abs(r.margin - CAST(f.margin AS DOUBLE)) > 0.005
                     OR r.service_contacts <> coalesce(c.n, 0)
                     OR abs(r.net_value - (r.margin - 50 * r.service_contacts)) > 0.005 THEN 1 ELSE 0 END) AS input_diff,
           sum(CASE WHEN (r.net_value < 0) <> (r.value_tier = 'below_zero') THEN 1 ELSE 0 END) AS bz_diff,
           sum(CASE WHEN (r.value_tier = 'most_valuable')
                         <> coalesce(r.value_rank <= round(0.2 * r.customers), false) THEN 1 ELSE 0 END) AS mvc_diff,
           sum(CASE WHEN r.value_tier = 'most_growable' THEN 1 ELSE 0 END) AS mgc,
           sum(CASE WHEN r.value_tier = 'most_growable' AND r.growth_potential <= 0 THEN 1 ELSE 0 END) AS mgc_without_potential,
           sum(CASE WHEN r.abc_class = 'A' THEN r.revenue ELSE 0 END) / sum(r.revenue) AS a_share,
           -- BG/NBD + Gamma-Gamma as mart_clv has them; nothing for returns-only customers.
           sum(CASE WHEN abs(r.p_alive - coalesce(l.p_alive, 0)) > 1e-9
                     OR abs(r.expected_revenue - coalesce(l.clv, 0)) > 0.005 THEN 1 ELSE 0 END) AS lifetime_diff,
           -- CLV = expected revenue × margin rate − service cost × P(alive) × discounted years
           -- (365 days at 1% a month, each month discounted to its end, per 365-day window), for
           -- customers with window revenue (the others earn their peers' margin rate); the
           -- rate is held between -1 and 1.
           sum(CASE WHEN r.revenue > 0
                     AND abs(r.clv - (r.expected_revenue * greatest(-1.0, least(1.0, r.margin / r.revenue))
                                      - r.service_cost * r.p_alive * 0.937964)) > 0.0001 * (1 + abs(r.clv))
                    THEN 1 ELSE 0 END) AS clv_diff
    FROM ranked r
    LEFT JOIN facts f ON f.customer_id = r.customer_id
    LEFT JOIN contacts c ON c.customer_id = r.customer_id
    LEFT JOIN mart_clv l ON l.customer_id = r.customer_id";
    let rows = csv_rows(&run_ok(&mut on_mined(&["sql", "--format", "csv", check])));
    let r = &rows[0];
    println!(
        "value tiers: customers {}, missing {}, input diffs {}, BZ diffs {}, MVC diffs {}, MGC {}, A revenue share {}, lifetime diffs {}, CLV diffs {}",
        r[0], r[1], r[2], r[3], r[4], r[5], r[7], r[8], r[9]
    );
    assert!(r[0].parse::<u64>().expect("count") > 1000, "{r:?}");
    assert_eq!(&r[1..5], &["0", "0", "0", "0"], "{r:?}");
    assert_eq!(&r[8..10], &["0", "0"], "{r:?}");
    assert!(
        r[5].parse::<u64>().expect("mgc") > 100 && r[6] == "0",
        "{r:?}"
    );
    let a_share: f64 = r[7].parse().expect("share");
    assert!(
        (0.8..0.9).contains(&a_share),
        "class A holds just over 80% of revenue: {a_share}"
    );
    // The printed summary counts the same tiers as the table the build published.
    let counts = run_ok(&mut on_mined(&[
        "sql",
        "--format",
        "csv",
        "SELECT value_tier, count(*) FROM mart_value_tier GROUP BY value_tier",
    ]));
    for row in csv_rows(&counts) {
        assert_eq!(printed.get(&row[0]), Some(&row[1]), "{row:?} in {out}");
    }
}

#[test]
fn lifecycle_puts_planted_churners_in_decline_and_prospects_apart() {
    let out = run_ok(&mut on_mined(&[
        "mine",
        "lifecycle",
        "--format",
        "csv",
        "--no-write",
    ]));
    assert!(out.starts_with("stage,customers,share"), "{out}");
    let stages: HashMap<i64, String> = csv_rows(&run_ok(&mut on_mined(&[
        "sql",
        "--format",
        "csv",
        "SELECT customer_id, stage FROM mart_lifecycle",
    ])))
    .into_iter()
    .map(|r| (r[0].parse().expect("id"), r[1].clone()))
    .collect();
    let persons = planted_persons();
    let share_fading = |churn: bool| {
        let ids: Vec<i64> = persons
            .iter()
            .filter(|(_, p)| p["churn_date"].is_empty() != churn)
            .map(|(id, _)| *id)
            .filter(|id| stages.get(id).is_some_and(|s| s != "prospect"))
            .collect();
        let fading = ids
            .iter()
            .filter(|id| matches!(stages[id].as_str(), "declining" | "lost"))
            .count();
        fading as f64 / ids.len().max(1) as f64
    };
    let (churners, others) = (share_fading(true), share_fading(false));
    println!("declining or lost: planted churners {churners:.3}, other customers {others:.3}");
    // Against BG/NBD's expectation 0.80 and 0.24; against a plain own pace it was 0.73, 0.25.
    assert!(
        churners >= 0.77 && others <= 0.27,
        "churners {churners}, others {others}"
    );
    // Prospects are exactly the known customers without a purchase.
    let check = csv_rows(&run_ok(&mut on_mined(&[
        "sql",
        "--format",
        "csv",
        "SELECT (SELECT count(*) FROM mart_lifecycle WHERE stage = 'prospect'),
                (SELECT count(DISTINCT customer_id) FROM dim_customer
                 WHERE customer_id <> 0
                   AND customer_id NOT IN (SELECT customer_id FROM fact_sales))",
    ])));
    assert_eq!(check[0][0], check[0][1], "{check:?}");
    // Every buyer with a history at the window's start has an expectation, nobody else.
    let unexpected = csv_rows(&run_ok(&mut on_mined(&[
        "sql",
        "--format",
        "csv",
        "SELECT count(*) FROM mart_lifecycle
         WHERE (expected_recent_purchases IS NULL) <> (purchases = 0 OR tenure_days < 180)",
    ])));
    assert_eq!(unexpected[0][0], "0");
}

/// Lifetime value: the mart's histories equal a plain SQL count of purchase days, planted
/// churners are the least likely alive, and the holdout check predicts the purchase days
/// made after the calibration end.
#[test]
fn clv_histories_equal_sql_and_planted_churners_are_least_alive() {
    let fit: serde_json::Value = serde_json::from_str(&run_ok(&mut on_mined(&[
        "mine",
        "clv",
        "--holdout",
        "180",
        "--format",
        "json",
    ])))
    .expect("json");
    for p in ["r", "alpha", "a", "b"] {
        let v = fit["bg_nbd"]["parameters"][p].as_f64().expect("parameter");
        assert!(v.is_finite() && v > 0.0, "{p} = {v}");
    }
    let lines = fit["holdout"]["lines"].as_array().expect("holdout lines");
    let all = lines.iter().find(|l| l["frequency"] == "all").expect("all");
    let (predicted, actual) = (
        all["predicted"].as_f64().expect("predicted"),
        all["actual"].as_f64().expect("actual"),
    );
    println!("holdout, purchase days per customer: predicted {predicted:.3}, actual {actual:.3}");
    assert!(
        (predicted / actual - 1.0).abs() < 0.25,
        "predicted {predicted}, actual {actual}"
    );

    run_ok(&mut on_mined(&["mine", "clv"]));
    // The documented histories, written independently in SQL over the facts.
    let plain = "WITH d AS (SELECT DISTINCT customer_id, order_date FROM fact_sales
                           WHERE quantity > 0 AND customer_id <> 0
                             AND order_date <= (SELECT max(as_of) FROM mart_clv))
                 SELECT customer_id, count(*) - 1,
                        CAST(max(order_date) AS INT) - CAST(min(order_date) AS INT),
                        CAST((SELECT max(as_of) FROM mart_clv) AS INT) - CAST(min(order_date) AS INT)
                 FROM d GROUP BY customer_id ORDER BY customer_id";
    let mart = "SELECT customer_id, CAST(frequency AS BIGINT), CAST(recency_days AS BIGINT),
                       CAST(age_days AS BIGINT)
                FROM mart_clv ORDER BY customer_id";
    let sql = |q: &str| csv_rows(&run_ok(&mut on_mined(&["sql", "--format", "csv", q])));
    let (expected, got) = (sql(plain), sql(mart));
    assert!(expected.len() > 1000);
    assert_eq!(got, expected);
    let fitted = sql("SELECT model, count(*) FROM mart_clv_fit GROUP BY model ORDER BY model");
    assert_eq!(fitted, [["bg_nbd", "4"], ["gamma_gamma", "3"]]);

    // Planted churners are the least likely to be alive: P(alive) ranks them.
    let alive: HashMap<i64, f64> = sql("SELECT customer_id, p_alive FROM mart_clv")
        .into_iter()
        .map(|r| (r[0].parse().expect("id"), r[1].parse().expect("p")))
        .collect();
    let persons = planted_persons();
    let (mut churners, mut others) = (Vec::new(), Vec::new());
    for (id, p) in &persons {
        if let Some(&a) = alive.get(id) {
            let side = if p["churn_date"].is_empty() {
                &mut others
            } else {
                &mut churners
            };
            side.push(a);
        }
    }
    let ordered = churners
        .iter()
        .map(|c| others.iter().filter(|o| *o > c).count() as f64)
        .sum::<f64>()
        / (churners.len() * others.len()) as f64;
    println!(
        "P(alive): {} planted churners, {} others; a churner below another customer {ordered:.3} of the time",
        churners.len(),
        others.len()
    );
    assert!(ordered >= 0.8, "{ordered}");
}

#[test]
fn the_nightly_build_refreshes_the_configured_marts_in_its_own_version() {
    // The README's build publishes version 1 with every mart in it, as of its last sale.
    let b = sample_build();
    let dir = current(&b.copy.warehouse());
    let tables = manifest(&dir)["tables"].clone();
    for mart in [
        "mart_rfm",
        "mart_segment",
        "mart_segment_profile",
        "mart_value_tier",
        "mart_lifecycle",
        "alerts",
    ] {
        let rows = tables[mart].as_u64().unwrap_or(0);
        assert!(rows > 0, "{mart} missing from version 1: {tables}");
        assert!(b.stdout.contains(mart), "the build summary lists {mart}");
    }
    let dates = run_ok(
        acrm()
            .args(["sql", "--format", "csv", "--warehouse"])
            .arg(b.copy.warehouse())
            .arg(
                "SELECT (SELECT max(order_date) FROM fact_sales), (SELECT min(alert_date) FROM alerts),
                        (SELECT max(as_of) FROM mart_value_tier)",
            ),
    );
    let r = &csv_rows(&dates)[0];
    assert!(
        r[0] == r[1] && r[1] == r[2],
        "marts as of the last sale: {r:?}"
    );
    // `[marts] refresh` chooses the analyses.
    let copy = SampleCopy::new();
    let config = std::fs::read_to_string(copy.config()).expect("config");
    let only_rfm = config.replace(
        r#"refresh = ["rfm", "segment", "value", "lifecycle", "alerts", "campaign_target"]"#,
        r#"refresh = ["rfm"]"#,
    );
    assert_ne!(only_rfm, config, "the sample config names its marts");
    std::fs::write(copy.config(), only_rfm).expect("write config");
    run_ok(&mut copy.build(&copy.warehouse(), &[]));
    let tables = manifest(&current(&copy.warehouse()))["tables"].clone();
    assert!(tables["mart_rfm"].as_u64().unwrap_or(0) > 0, "{tables}");
    assert!(
        tables.get("alerts").is_none() && tables.get("mart_segment").is_none(),
        "{tables}"
    );
}

#[test]
fn basket_rules_find_the_planted_diapers_beer_rule() {
    let truth = &read_truth(&mined().exports().join("truth/night-1/basket.csv"))[0];
    let count = |k: &str| truth[k].parse::<f64>().expect("truth count");
    let (baskets, diapers, both) = (
        count("baskets"),
        count("diapers"),
        count("diapers_and_beer"),
    );
    let out = run_ok(&mut on_mined(&basket_args(&[
        "--format",
        "csv",
        "--no-write",
    ])));
    let rows = csv_rows(&out);
    let rule = rows
        .iter()
        .find(|r| r[0] == "Diapers" && r[1] == "Beer")
        .unwrap_or_else(|| panic!("no Diapers → Beer rule in:\n{out}"));
    let field = |i: usize| rule[i].parse::<f64>().expect("metric");
    let (support, confidence, lift) = (field(7), field(10), field(11));
    println!(
        "Diapers → Beer: support {support:.4} (planted {:.4}), confidence {confidence:.4} (planted {:.4}), lift {lift:.2}",
        both / baskets,
        both / diapers
    );
    // The warehouse holds the generated orders less the planted bad rows.
    assert!(
        (support / (both / baskets) - 1.0).abs() < 0.03,
        "support {support}"
    );
    assert!(
        (confidence / (both / diapers) - 1.0).abs() < 0.03,
        "confidence {confidence}"
    );
    assert!(lift > 1.4, "lift {lift}");
    // The rule is stronger among the planted young fathers (their baskets only).
    let fathers: Vec<String> = planted_persons()
        .into_iter()
        .filter(|(_, p)| p["young_father"] == "true")
        .map(|(id, _)| format!("({id})"))
        .collect();
    assert!(fathers.len() >= 20, "{} fathers", fathers.len());
    let only = format!("SELECT column1 FROM (VALUES {})", fathers.join(", "));
    let theirs = csv_rows(&run_ok(&mut on_mined(&basket_args(&[
        "--customers",
        &only,
        "--format",
        "csv",
        "--no-write",
    ]))));
    let father_rule = theirs
        .iter()
        .find(|r| r[0] == "Diapers" && r[1] == "Beer")
        .expect("Diapers → Beer among fathers");
    let father_confidence: f64 = father_rule[10].parse().expect("confidence");
    let planted = count("father_diapers_and_beer") / count("father_diapers");
    println!("young fathers: confidence {father_confidence:.4} (planted {planted:.4})");
    assert!(
        (father_confidence / planted - 1.0).abs() < 0.05,
        "{father_confidence}"
    );
    assert!(
        father_confidence > confidence + 0.1,
        "stronger for the planted group"
    );
    // --by mines each group on its own baskets, named in the group column.
    let by_channel = csv_rows(&run_ok(&mut on_mined(&[
        "mine",
        "basket",
        "--by",
        "channel",
        "--min-support",
        "0.01",
        "--format",
        "csv",
        "--no-write",
    ])));
    let groups: std::collections::BTreeSet<&str> =
        by_channel.iter().map(|r| r[14].as_str()).collect();
    // A file's rules print, and are not published unless --publish asks (no warehouse is
    // needed to mine a file).
    let dir = tempdir();
    let file = dir.path().join("baskets.csv");
    std::fs::write(&file, "milk,bread\nmilk,bread\nbeer\n").expect("basket file");
    let printed = run(acrm()
        .current_dir(dir.path())
        .args(["mine", "basket", "--lines", "--input"])
        .arg(&file));
    let (out, err) = (
        String::from_utf8_lossy(&printed.stdout),
        String::from_utf8_lossy(&printed.stderr),
    );
    assert!(printed.status.success(), "{err}");
    assert!(out.contains("{milk} → {bread}"), "{out}");
    assert!(!err.contains("published"), "{err}");
    assert!(!dir.path().join("warehouse").exists());
    // A period (--from … --to) holds fewer baskets than the whole history.
    let period = csv_rows(&run_ok(&mut on_mined(&basket_args(&[
        "--from",
        "2024-07-01",
        "--to",
        "2024-12-31",
        "--format",
        "csv",
        "--no-write",
    ]))));
    let baskets_in =
        |rows: &[Vec<String>]| rows.first().map(|r| r[3].parse::<u64>().expect("baskets"));
    assert!(
        baskets_in(&period) < baskets_in(&rows),
        "{:?} vs {:?}",
        baskets_in(&period),
        baskets_in(&rows)
    );
    assert!(groups.len() >= 2 && !groups.contains("all"), "{groups:?}");
    // Every printed metric follows from the printed counts.
    for r in &rows {
        let f = |i: usize| r[i].parse::<f64>().expect("number");
        let (n, c, ca, cc) = (f(3), f(4), f(5), f(6));
        assert!(
            (f(7) - c / n).abs() < 1e-12 && (f(10) - c / ca).abs() < 1e-12,
            "{r:?}"
        );
        assert!((f(11) - (c / ca) / (cc / n)).abs() < 1e-9, "{r:?}");
    }
}

#[test]
fn cross_sell_recommends_unbought_items_with_the_rule_as_reason() {
    let args = basket_args(&["recommend", "--format", "csv"]);
    let all = csv_rows(&run_ok(&mut on_mined(&args)));
    assert!(all.len() > 100, "{} recommendations", all.len());
    let check = "WITH bought AS (
        SELECT DISTINCT s.customer_id, p.subcategory AS item
        FROM fact_sales s JOIN dim_product p ON p.product_key = s.product_key
    )
    SELECT count(*) AS recs,
           sum(CASE WHEN b.customer_id IS NOT NULL THEN 1 ELSE 0 END) AS already_bought,
           sum(CASE WHEN x.reason NOT LIKE '%→ {' || x.item || '}' THEN 1 ELSE 0 END) AS reason_mismatch,
           max(x.rank) AS max_rank
    FROM mart_cross_sell x
    LEFT JOIN bought b ON b.customer_id = x.customer_id AND b.item = x.item";
    let r = &csv_rows(&run_ok(&mut on_mined(&["sql", "--format", "csv", check])))[0];
    println!(
        "cross-sell: {} recommendations, {} already bought, {} reasons not naming the item",
        r[0], r[1], r[2]
    );
    assert_eq!(
        r[0],
        all.len().to_string(),
        "the printed rows are the published ones"
    );
    assert_eq!(
        (r[1].as_str(), r[2].as_str(), r[3].as_str()),
        ("0", "0", "3"),
        "{r:?}"
    );
    // One customer on demand: the same rows as in the mart.
    let one = &all[0][0];
    let args = basket_args(&[
        "recommend",
        "--customer",
        one.as_str(),
        "--format",
        "csv",
        "--no-write",
    ]);
    let theirs = csv_rows(&run_ok(&mut on_mined(&args)));
    let expected: Vec<&Vec<String>> = all.iter().filter(|r| &r[0] == one).collect();
    assert_eq!(theirs.iter().collect::<Vec<_>>(), expected);
}
