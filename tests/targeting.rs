//! From insight to action through the binary on a build of the sample: the response model
//! against the planted response rates, target lists (size, budget, exclusions, control
//! group, seed), and a campaign run from its target list to its evaluation.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::OnceLock;

use crate::common::*;

/// A sample build of its own with a response champion (and its training rows and test
/// predictions written beside it) and the RFM segments.
struct Trained {
    copy: SampleCopy,
    /// `train`'s table output.
    report: String,
    /// The rows read (`--export-data`).
    rows: PathBuf,
    /// Test predictions (`--predictions`).
    predictions: PathBuf,
}

/// The copy the tests that only read share (a test that publishes gets one of its own: a
/// publish prunes old versions under a concurrent reader).
fn trained() -> &'static Trained {
    static CELL: OnceLock<Trained> = OnceLock::new();
    CELL.get_or_init(train)
}

/// A sample build with a response champion, its rows and test predictions, and RFM.
fn train() -> Trained {
    let copy = SampleCopy::new();
    run_ok(&mut copy.build(&copy.warehouse(), &["--no-marts"]));
    let rows = copy.dir.path().join("response_rows.csv");
    let predictions = copy.dir.path().join("response_test.csv");
    let report = run_ok(&mut copy.on(&[
        "mine",
        "response",
        "train",
        "--promote-if-better",
        "--export-data",
        rows.to_str().expect("utf-8 path"),
        "--predictions",
        predictions.to_str().expect("utf-8 path"),
    ]));
    run_ok(&mut copy.on(&["mine", "rfm"]));
    Trained {
        copy,
        report,
        rows,
        predictions,
    }
}

fn num(row: &HashMap<String, String>, column: &str) -> f64 {
    row[column]
        .parse()
        .unwrap_or_else(|e| panic!("{column} = '{}': {e}", row[column]))
}

fn read_csv(path: &std::path::Path) -> Vec<HashMap<String, String>> {
    csv_maps(&std::fs::read_to_string(path).expect("csv written"))
}

#[test]
fn response_model_beats_no_skill_by_what_the_planted_rates_support() {
    let t = trained();
    // The planted P(response | reached) of each customer's behaviour group: no model can
    // rank better than it (the Bayes ranking), so it sets what the data supports.
    let planted: HashMap<String, f64> = t
        .copy
        .planted_persons()
        .into_iter()
        .map(|(id, p)| (id.to_string(), p["response_rate"].parse().expect("rate")))
        .collect();
    let test = read_csv(&t.predictions);
    assert!(test.len() >= 200, "{} test rows", test.len());
    let labels: Vec<bool> = test.iter().map(|r| r["label"] == "true").collect();
    let model: Vec<f64> = test.iter().map(|r| num(r, "probability")).collect();
    let oracle: Vec<f64> = test
        .iter()
        .map(|r| {
            let customer = r["id"].rsplit('/').next().expect("CODE/customer");
            planted.get(customer).copied().unwrap_or(0.0)
        })
        .collect();
    let auc = |scores: &[f64]| -> f64 {
        let scored: Vec<(bool, f64)> = labels.iter().copied().zip(scores.iter().copied()).collect();
        pairwise_auc(&scored)
    };
    let (ours, best) = (auc(&model), auc(&oracle));
    println!("test AUC {ours:.3}; the planted rates rank at {best:.3}; no skill 0.5");
    assert!(
        best > 0.6,
        "the planted effect is too weak to test: {best:.3}"
    );
    // At least 60% of the margin the planted effect allows over no skill.
    assert!(
        ours >= 0.5 + 0.6 * (best - 0.5),
        "AUC {ours:.3} vs planted {best:.3}"
    );
    // The AUC printed is the one these predictions give, with lift by decile.
    let printed = t
        .report
        .lines()
        .find(|l| l.starts_with("| test "))
        .expect("test metrics row");
    assert!(
        printed.contains(&format!("{ours:.3}")),
        "{printed} vs {ours}"
    );
    assert!(t.report.contains("test lift by decile"), "{}", t.report);
}

#[test]
fn response_features_never_see_the_campaign_they_predict() {
    let t = trained();
    let rows = read_csv(&t.rows);
    let test = read_csv(&t.predictions);
    // Every contacted customer once per campaign, the test rows the latest campaigns.
    let ids: HashSet<&str> = rows.iter().map(|r| r["contact_id"].as_str()).collect();
    assert_eq!(ids.len(), rows.len());
    let cut = test
        .iter()
        .map(|r| r["id"].split('/').next().expect("code").to_string())
        .collect::<HashSet<_>>();
    assert!(!cut.is_empty() && cut.len() < 4, "{cut:?}");
    // Recomputed independently: orders and contacts strictly before each campaign's start.
    let check = csv_maps(&run_ok(&mut t.copy.on(&[
        "sql",
        "--format",
        "csv",
        "WITH r AS (
             SELECT DISTINCT c.campaign_code, c.start_date, f.customer_id
             FROM fact_campaign_response f JOIN dim_campaign c USING (campaign_key)
             WHERE NOT f.control_group
         ), orders AS (
             SELECT r.campaign_code, r.customer_id, count(DISTINCT s.order_id) AS orders
             FROM r JOIN fact_sales s ON s.customer_id = r.customer_id
             WHERE s.quantity > 0 AND s.order_date < r.start_date
             GROUP BY r.campaign_code, r.customer_id
         ), contacts AS (
             SELECT r.campaign_code, r.customer_id, count(*) AS contacts
             FROM r JOIN fact_campaign_response p ON p.customer_id = r.customer_id
             WHERE NOT p.control_group AND p.contact_date < r.start_date
             GROUP BY r.campaign_code, r.customer_id
         )
         SELECT r.campaign_code, r.customer_id, coalesce(o.orders, 0) AS orders,
                coalesce(c.contacts, 0) AS contacts
         FROM r LEFT JOIN orders o USING (campaign_code, customer_id)
         LEFT JOIN contacts c USING (campaign_code, customer_id)",
    ])));
    let expected: HashMap<String, (f64, f64)> = check
        .iter()
        .map(|r| {
            (
                format!("{}/{}", r["campaign_code"], r["customer_id"]),
                (num(r, "orders"), num(r, "contacts")),
            )
        })
        .collect();
    assert_eq!(expected.len(), rows.len(), "one row per contacted customer");
    for r in &rows {
        let (orders, contacts) = expected[&r["contact_id"]];
        let frequency = r["frequency"].parse::<f64>().unwrap_or(0.0);
        assert_eq!(
            frequency, orders,
            "{}: orders before the start",
            r["contact_id"]
        );
        assert_eq!(num(r, "contacts_before"), contacts, "{}", r["contact_id"]);
        // Recency counts from the day before the start: never negative.
        if let Ok(recency) = r["recency_days"].parse::<f64>() {
            assert!(
                recency >= 0.0,
                "{}: a purchase after the start",
                r["contact_id"]
            );
        }
    }
}

/// `campaign target` on the sample copy with `args`, as CSV maps (printed, not published).
fn target(t: &Trained, args: &[&str]) -> Vec<HashMap<String, String>> {
    let mut all = vec!["campaign", "target", "--format", "csv", "--no-write"];
    all.extend_from_slice(args);
    csv_maps(&run_ok(&mut t.copy.on(&all)))
}

fn ids_of(list: &[HashMap<String, String>], group: &str) -> Vec<i64> {
    list.iter()
        .filter(|r| r["group"] == group)
        .map(|r| num(r, "customer_id") as i64)
        .collect()
}

#[test]
fn target_lists_keep_size_budget_exclusions_and_seed() {
    let t = trained();
    let everyone = "SELECT customer_id FROM dim_customer";
    // --size: that many customers, the control share of them, best expected value first.
    let sized = target(
        t,
        &[
            "--name",
            "T-SIZE",
            "--sql",
            everyone,
            "--size",
            "120",
            "--holdout",
            "0.25",
        ],
    );
    assert_eq!(sized.len(), 120);
    assert_eq!(ids_of(&sized, "control").len(), 30);
    let values: Vec<f64> = sized.iter().map(|r| num(r, "expected_value")).collect();
    assert!(
        values.windows(2).all(|w| w[0] >= w[1]),
        "ranked by expected value"
    );
    for r in &sized {
        let ev = num(r, "p_response") * num(r, "expected_revenue");
        assert!((ev - num(r, "expected_value")).abs() < 1e-6, "{r:?}");
    }
    // --budget: as many contacts as it pays for, the control group on top of them.
    let budget = target(
        t,
        &[
            "--name",
            "T-BUDGET",
            "--sql",
            everyone,
            "--budget",
            "100",
            "--cost-per-contact",
            "2.5",
            "--holdout",
            "0.2",
        ],
    );
    assert_eq!(ids_of(&budget, "treatment").len(), 40);
    assert_eq!(ids_of(&budget, "control").len(), 10);
    for r in &budget {
        let ev = num(r, "p_response") * num(r, "expected_revenue") - 2.5;
        assert!(
            (ev - num(r, "expected_value")).abs() < 1e-6 && ev > 0.0,
            "{r:?}"
        );
    }
    // The same seed draws the same list, another seed another control group.
    let args = |seed: &'static str| {
        vec![
            "--name", "T-SEED", "--sql", everyone, "--size", "200", "--seed", seed,
        ]
    };
    let (a, b, c) = (
        target(t, &args("7")),
        target(t, &args("7")),
        target(t, &args("8")),
    );
    assert_eq!(a, b);
    assert_eq!(ids_of(&a, "control").len(), 20, "the default 10% held out");
    assert_ne!(ids_of(&a, "control"), ids_of(&c, "control"));
    let mut same = ids_of(&a, "control");
    same.extend(ids_of(&a, "treatment"));
    let mut other = ids_of(&c, "control");
    other.extend(ids_of(&c, "treatment"));
    same.sort_unstable();
    other.sort_unstable();
    assert_eq!(
        same, other,
        "the seed draws the control group, not the list"
    );
    // Exclusions: nobody who opted out (in any source: a later "no" never overrides it) and
    // nobody contacted in the window, out of every customer.
    let wide = target(
        t,
        &[
            "--name",
            "T-ALL",
            "--sql",
            everyone,
            "--exclude-contacted-within",
            "200",
        ],
    );
    let listed: HashSet<i64> = wide.iter().map(|r| num(r, "customer_id") as i64).collect();
    let out = |sql: &str| -> HashSet<i64> {
        csv_rows(&run_ok(&mut t.copy.on(&["sql", "--format", "csv", sql])))
            .into_iter()
            .map(|r| r[0].parse().expect("id"))
            .collect()
    };
    let opted_out =
        out("SELECT customer_id FROM dim_customer WHERE is_current AND marketing_opt_out");
    let recent = out("SELECT DISTINCT customer_id FROM fact_campaign_response
         WHERE NOT control_group AND contact_date > DATE '2024-12-31' - INTERVAL '200' DAY");
    assert!(
        opted_out.len() > 50 && recent.len() > 50,
        "{} {}",
        opted_out.len(),
        recent.len()
    );
    assert!(listed.is_disjoint(&opted_out) && listed.is_disjoint(&recent));
    let planted: HashSet<i64> = t
        .copy
        .planted_persons()
        .into_iter()
        .filter(|(_, p)| p["marketing_opt_out"] == "true")
        .map(|(id, _)| id)
        .collect();
    assert!(planted.len() > 50);
    assert_eq!(
        planted.difference(&opted_out).count(),
        0,
        "every planted opt-out is in the customer master, duplicates saying no included"
    );
    assert!(listed.len() > 500, "{} listed", listed.len());
}

#[test]
fn target_lists_are_published_per_campaign_and_exported_masked() {
    let t = &train();
    let list = t.copy.dir.path().join("list.csv");
    let draw = |name: &str, extra: &[&str]| {
        let mut args = vec![
            "campaign",
            "target",
            "--name",
            name,
            "--segment",
            "rfm=champions,loyal",
            "--size",
            "40",
        ];
        args.extend_from_slice(extra);
        run_ok(&mut t.copy.on(&args))
    };
    let out = draw("T-PUB-1", &["--output", list.to_str().expect("utf-8")]);
    assert!(
        out.contains("T-PUB-1: ") && out.contains("held out as the control group"),
        "{out}"
    );
    let rows = read_csv(&list);
    assert_eq!(rows.len(), 40);
    let masked = |r: &HashMap<String, String>| {
        r["name"].contains('*') && (r["phone"].is_empty() || r["phone"].starts_with("***"))
    };
    assert!(rows.iter().all(masked), "{rows:?}");
    draw("T-PUB-2", &[]);
    draw(
        "T-PUB-1",
        &[
            "--seed",
            "9",
            "--privileged",
            "--output",
            list.to_str().expect("utf-8"),
        ],
    );
    let rows = read_csv(&list);
    assert!(!rows.iter().any(masked), "privileged: unmasked");
    // Both lists published, the second T-PUB-1 replacing the first; every customer in the
    // segments asked for.
    let published = csv_maps(&run_ok(&mut t.copy.on(&[
        "sql",
        "--format",
        "csv",
        "SELECT t.campaign, count(*) AS n, count(r.customer_id) AS in_segment
         FROM mart_campaign_target t
         LEFT JOIN mart_rfm r ON r.customer_id = t.customer_id
                             AND r.rfm_segment IN ('champions', 'loyal')
         GROUP BY t.campaign ORDER BY t.campaign",
    ])));
    assert_eq!(published.len(), 2, "{published:?}");
    for p in &published {
        assert_eq!(
            (p["n"].as_str(), p["in_segment"].as_str()),
            ("40", "40"),
            "{p:?}"
        );
    }
    // A segment that matches no one names the values there are.
    let failed = run(&mut t.copy.on(&[
        "campaign",
        "target",
        "--name",
        "X",
        "--segment",
        "rfm=nosuch",
        "--no-write",
    ]));
    let e = String::from_utf8_lossy(&failed.stderr);
    assert!(!failed.status.success() && e.contains("champions"), "{e}");
}

/// The whole loop: a target list drawn, the campaign run by the campaign tool (the
/// control group held out) and its responses exported, the next night's build loading them,
/// and the evaluation measuring the uplift the simulated campaign had.
#[test]
fn a_campaign_from_target_list_to_evaluation() {
    // A copy of its own: it adds a night of exports and builds again.
    let copy = SampleCopy::new();
    run_ok(&mut copy.build(&copy.warehouse(), &["--no-marts"]));
    run_ok(&mut copy.on(&["mine", "response", "train", "--kind", "logistic"]));
    let t = &copy;
    run_ok(&mut t.on(&[
        "campaign",
        "target",
        "--name",
        "CMP-LOOP",
        "--sql",
        "SELECT customer_id FROM map_customer_source WHERE source_system = 'crm'",
        "--size",
        "900",
        "--holdout",
        "0.3",
        "--exclude-contacted-within",
        "30",
        "--seed",
        "11",
    ]));
    let list = csv_maps(&run_ok(&mut t.on(&[
        "sql",
        "--format",
        "csv",
        "SELECT m.source_id, t.\"group\" FROM mart_campaign_target t
         JOIN (SELECT customer_id, min(source_id) AS source_id FROM map_customer_source
               WHERE source_system = 'crm' GROUP BY customer_id) m USING (customer_id)
         WHERE t.campaign = 'CMP-LOOP' ORDER BY m.source_id",
    ])));
    assert_eq!(list.len(), 900);
    // The campaign tool: the contacted convert at 25%, the control group at 10% (a
    // deterministic draw), so the true uplift is 15 points.
    let marketing = t.exports().join("exports/marketing");
    std::fs::write(
        marketing.join("campaigns_2025-01-31.csv"),
        "code,name,channel,start,end,budget,target\nCMP-LOOP,回路,sms,2025-01-06,2025-01-26,9000,model\n",
    )
    .expect("campaign master");
    let mut responses = String::from(
        "campaign,customer_no,contact_day,holdout,reached,responded,converted,revenue\n",
    );
    for (i, r) in list.iter().enumerate() {
        let control = r["group"] == "control";
        let draw = (i as u64).wrapping_mul(2_654_435_761) % 1000;
        let converted = draw < if control { 100 } else { 250 };
        responses.push_str(&format!(
            "CMP-LOOP,{},2025010{},{},{},{},{},{}\n",
            r["source_id"],
            6 + i % 3,
            if control { "Y" } else { "N" },
            if control { "N" } else { "Y" },
            if !control && converted { "Y" } else { "N" },
            if converted { "Y" } else { "N" },
            if converted { "120.00" } else { "0.00" },
        ));
    }
    std::fs::write(
        marketing.join("campaign_responses_2025-01-31.csv"),
        responses,
    )
    .expect("responses");
    // Meanwhile five listed customers tell the call centre to stop marketing to them: the
    // CRM re-exports their records saying so.
    let crm = t.exports().join("exports/crm");
    let mut reader =
        csv::Reader::from_path(crm.join("crm_customers_2024-12-31.csv")).expect("crm export");
    let header = reader.headers().expect("header").clone();
    let quitting: HashSet<&str> = list
        .iter()
        .take(5)
        .map(|r| r["source_id"].as_str())
        .collect();
    let mut writer =
        csv::Writer::from_path(crm.join("crm_customers_2025-01-31.csv")).expect("crm night");
    writer.write_record(&header).expect("header");
    let last = header.len() - 1;
    assert_eq!(&header[last], "no_marketing");
    for record in reader.records() {
        let record = record.expect("crm row");
        if quitting.contains(&record[0]) {
            let mut row: Vec<&str> = record.iter().collect();
            row[last] = "是";
            row[last - 1] = "2025-01-31 02:00:00";
            writer.write_record(&row).expect("row");
        }
    }
    writer.flush().expect("flush");
    run_ok(&mut t.build(&t.warehouse(), &[]));
    let count = |sql: &str| -> usize {
        csv_rows(&run_ok(&mut t.on(&["sql", "--format", "csv", sql])))[0][0]
            .parse()
            .expect("count")
    };
    let listed = count("SELECT count(*) FROM mart_campaign_target WHERE campaign = 'CMP-LOOP'");
    let allowed = count(
        "SELECT count(*) FROM mart_campaign_target t
         JOIN dim_customer d ON d.customer_id = t.customer_id AND d.is_current
         WHERE t.campaign = 'CMP-LOOP' AND NOT coalesce(d.marketing_opt_out, false)",
    );
    assert_eq!(listed, allowed, "no opted-out customer left on the list");
    assert_eq!(900 - listed, 5, "the five who opted out removed");
    let eval = csv_maps(&run_ok(&mut t.on(&[
        "campaign",
        "evaluate",
        "--as-of",
        "2025-01-31",
        "--format",
        "csv",
        "--no-write",
    ])));
    let e = eval
        .iter()
        .find(|r| r["campaign_code"] == "CMP-LOOP")
        .expect("the campaign evaluated");
    assert_eq!(
        (e["contacted"].as_str(), e["control"].as_str()),
        ("630", "270")
    );
    let (low, high) = (num(e, "uplift_low"), num(e, "uplift_high"));
    println!(
        "CMP-LOOP uplift {:.3} [{low:.3}, {high:.3}], true 0.15",
        num(e, "uplift")
    );
    assert!(low <= 0.15 && 0.15 <= high && low > 0.0, "{e:?}");
}

/// `response_probability('champion', …)` over the `response_features` view gives exactly the
/// probabilities `mine response score` publishes, for every customer.
#[test]
fn response_scores_are_the_same_in_sql() {
    let t = trained();
    let cli = csv_maps(&run_ok(&mut t.copy.on(&[
        "mine",
        "response",
        "score",
        "--format",
        "csv",
        "--no-write",
    ])));
    let card: serde_json::Value = serde_json::from_str(&run_ok(&mut t.copy.on(&[
        "models",
        "show",
        "response-v1",
        "--format",
        "json",
    ])))
    .expect("json card");
    let call = card["sql"]
        .as_str()
        .expect("sql call")
        .replace("'response-v1'", "'champion'");
    assert!(
        call.starts_with("response_probability('champion', "),
        "{call}"
    );
    let sql = format!("SELECT customer_id, {call} AS p FROM response_features");
    let rows = csv_maps(&run_ok(&mut t.copy.on(&["sql", "--format", "csv", &sql])));
    let by_sql: HashMap<&str, f64> = rows
        .iter()
        .map(|r| (r["customer_id"].as_str(), num(r, "p")))
        .collect();
    assert_eq!(by_sql.len(), cli.len());
    assert!(cli.len() > 2000, "every customer scored: {}", cli.len());
    for r in &cli {
        assert_eq!(
            by_sql[r["customer_id"].as_str()],
            num(r, "p_response"),
            "{r:?}"
        );
    }
    let deciles: HashSet<&str> = cli.iter().map(|r| r["decile"].as_str()).collect();
    assert_eq!(deciles.len(), 10);
}
