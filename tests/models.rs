//! Predictive models through the binary on their own build of the sample: the credit tree
//! recovers the planted rule, churn models rank the planted churners first on the time-based
//! holdout, the registry round-trips across processes, and SQL scoring equals CLI scoring.

use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use crate::common::*;

/// A sample build of its own: models and score marts are written into its warehouse.
fn built() -> &'static SampleCopy {
    static COPY: OnceLock<SampleCopy> = OnceLock::new();
    built_once(&COPY)
}

fn json(out: &str) -> serde_json::Value {
    serde_json::from_str(out).unwrap_or_else(|e| panic!("not JSON ({e}): {out}"))
}

/// The registry is shared by the tests of this module: one at a time.
fn registry_lock() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// The command failed, saying `why`.
fn refused(out: std::process::Output, why: &str) {
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && text.contains(why), "{text}");
}

/// Model `name`'s card and its SQL scoring call naming the champion instead.
fn champion_call(s: &SampleCopy, name: &str) -> (serde_json::Value, String) {
    let card = json(&run_ok(
        &mut s.on(&["models", "show", name, "--format", "json"]),
    ));
    let call = card["sql"]
        .as_str()
        .expect("sql call")
        .replace(&format!("'{name}'"), "'champion'");
    (card, call)
}

/// The three most important inputs of a credit model card are the planted logit's: income,
/// savings account and home ownership.
fn leads_with_the_planted_inputs(card: &serde_json::Value) {
    let top: HashSet<&str> = card["importance"]
        .as_array()
        .expect("importance")
        .iter()
        .take(3)
        .map(|f| f[0].as_str().expect("name"))
        .collect();
    assert_eq!(
        top,
        HashSet::from(["income", "has_savings_account", "homeowner"]),
        "{}",
        card["importance"]
    );
}

#[test]
fn credit_tree_recovers_the_planted_rule() {
    let _lock = registry_lock();
    let s = built();
    let out = run_ok(&mut s.on(&["mine", "credit", "train", "--no-save"]));
    println!("{out}");
    assert!(out.contains("rules ("), "{out}");
    let card = json(&run_ok(&mut s.on(&[
        "mine",
        "credit",
        "train",
        "--no-save",
        "--format",
        "json",
    ])));
    leads_with_the_planted_inputs(&card);
    let rules: Vec<&str> = card["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .map(|r| r.as_str().expect("rule"))
        .collect();
    assert!(
        rules.iter().all(|r| r.starts_with("income ")),
        "income splits first: {rules:?}"
    );
    assert!(
        rules
            .iter()
            .any(|r| r.contains("has_savings_account = false") && r.contains("→ bad")),
        "{rules:?}"
    );
    assert!(
        rules.iter().any(|r| r.contains("homeowner = ")),
        "{rules:?}"
    );
    let test = &card["test_metrics"];
    let auc = test["auc"].as_f64().expect("auc");
    println!(
        "credit tree: test AUC {auc:.3}, Gini {:.3}, KS {:.3}",
        test["gini"], test["ks"]
    );
    assert!(auc >= 0.85, "test AUC {auc}");
    assert_eq!(card["data"]["split"]["kind"], "time");
    assert!((test["gini"].as_f64().expect("gini") - (2.0 * auc - 1.0)).abs() < 1e-12);
    // Any query: its only date column drives the time split.
    let custom = json(&run_ok(&mut s.on(&[
        "mine",
        "credit",
        "train",
        "--no-save",
        "--format",
        "json",
        "--sql",
        "SELECT application_id, application_date, income, has_savings_account, homeowner, outcome \
         FROM fact_credit_application WHERE outcome IS NOT NULL",
        "--id",
        "application_id",
    ])));
    assert_eq!(custom["data"]["split"]["column"], "application_date");
    assert_eq!(
        custom["inputs"],
        serde_json::json!(["income", "has_savings_account", "homeowner"])
    );
    let c = &test["confusion"];
    let total: u64 = [
        "true_positive",
        "false_positive",
        "true_negative",
        "false_negative",
    ]
    .iter()
    .map(|k| c[k].as_u64().expect("count"))
    .sum();
    assert_eq!(total, card["data"]["test_rows"].as_u64().expect("rows"));
}

/// A credit model whose scores agree everywhere ([`credit_scores_agree`]).
struct Agreed {
    /// Its registry name.
    name: String,
    /// The CLI's (P(bad), score) per application.
    cli: HashMap<String, (f64, f64)>,
    /// The training process's test predictions (id, label, P(bad), model).
    trained: Vec<Vec<String>>,
    /// Its model card.
    card: serde_json::Value,
}

/// Trains a credit model with `args`, promotes it, and checks that a new process scores
/// every application as the training process predicted its test rows, and that SQL scoring
/// with the champion equals the CLI's.
fn credit_scores_agree(s: &SampleCopy, args: &[&str]) -> Agreed {
    let dir = tempdir();
    let predictions = dir.path().join("predictions.csv");
    let mut train = vec![
        "mine",
        "credit",
        "train",
        "--predictions",
        predictions.to_str().expect("path"),
    ];
    train.extend(args);
    run_ok(&mut s.on(&train));
    let list = json(&run_ok(&mut s.on(&["models", "list", "--format", "json"])));
    let credit: Vec<&serde_json::Value> = list
        .as_array()
        .expect("list")
        .iter()
        .filter(|m| m["task"] == "credit")
        .collect();
    let newest = credit.last().expect("a credit model");
    let name = newest["name"].as_str().expect("name").to_string();
    run_ok(&mut s.on(&["models", "promote", &name]));
    // A new process scores every application with the saved model.
    let scored = run_ok(&mut s.on(&[
        "mine", "credit", "score", "--model", &name, "--format", "csv",
    ]));
    let mut cli: HashMap<String, (f64, f64)> = HashMap::new();
    for r in csv_rows(&scored) {
        cli.insert(
            r[0].clone(),
            (r[1].parse().expect("p"), r[2].parse().expect("score")),
        );
    }
    // The training process's test predictions are identical.
    let trained = csv_rows(&std::fs::read_to_string(&predictions).expect("predictions"));
    assert!(trained.len() > 100);
    for r in &trained {
        let p: f64 = r[2].parse().expect("p");
        assert_eq!(cli[&r[0]].0, p, "application {}", r[0]);
    }
    // SQL scoring with the champion equals the CLI's.
    let (card, call) = champion_call(s, &name);
    let inputs = call.replace("credit_score(", "credit_bad_probability(");
    let sql = format!(
        "SELECT application_id, {inputs} AS p, {call} AS score FROM fact_credit_application"
    );
    let rows = csv_rows(&run_ok(&mut s.on(&["sql", "--format", "csv", &sql])));
    assert_eq!(rows.len(), cli.len());
    for r in &rows {
        let (p, score) = cli[&r[0]];
        assert_eq!(r[1].parse::<f64>().expect("p"), p, "{}", r[0]);
        assert_eq!(r[2].parse::<f64>().expect("score"), score, "{}", r[0]);
    }
    Agreed {
        name,
        cli,
        trained,
        card,
    }
}

#[test]
fn registry_round_trip_and_sql_scoring_equal_cli_scoring() {
    let _lock = registry_lock();
    let s = built();
    let Agreed {
        name,
        cli,
        trained,
        card,
    } = credit_scores_agree(s, &[]);
    // The published mart holds the same scores.
    let mart = csv_rows(&run_ok(&mut s.on(&[
        "sql",
        "--format",
        "csv",
        "SELECT application_id, p_bad FROM mart_credit_score",
    ])));
    assert_eq!(mart.len(), cli.len());
    assert!(
        mart.iter()
            .all(|r| cli[&r[0]].0 == r[1].parse::<f64>().expect("p"))
    );
    // The test AUC of the card equals an independent pairwise count over the predictions.
    let pairs: Vec<(bool, f64)> = trained
        .iter()
        .map(|r| (r[1] == "true", r[2].parse().expect("p")))
        .collect();
    let auc = card["test_metrics"]["auc"].as_f64().expect("auc");
    assert!((pairwise_auc(&pairs) - auc).abs() < 1e-12);

    // Evaluation in a new process: every labelled application, the card's cut-off.
    let e = json(&run_ok(&mut s.on(&[
        "mine", "credit", "evaluate", "--model", &name, "--format", "json",
    ])));
    let labelled = card["data"]["train_rows"].as_u64().expect("n")
        + card["data"]["test_rows"].as_u64().expect("n");
    assert_eq!(e["evaluation"]["rows"].as_u64(), Some(labelled));
    assert_eq!(e["evaluation"]["cutoff"], card["cutoff"]);

    // Data with other columns than the model's is refused by name.
    let err = run(&mut s.on(&[
        "mine",
        "credit",
        "score",
        "--no-write",
        "--sql",
        "SELECT application_id, age FROM fact_credit_application",
    ]));
    refused(err, "needs column 'income'");
    let err = run(&mut s.on(&[
        "sql",
        "SELECT credit_score('champion', age) FROM fact_credit_application",
    ]));
    refused(err, "takes 8 columns");

    // A second model; the champion cannot be deleted, the other can.
    run_ok(&mut s.on(&["mine", "credit", "train", "--kind", "logistic"]));
    let list = json(&run_ok(&mut s.on(&["models", "list", "--format", "json"])));
    let logistic = list
        .as_array()
        .expect("list")
        .iter()
        .rfind(|m| m["kind"] == "logistic")
        .expect("logistic model");
    let other = logistic["name"].as_str().expect("name");
    assert_eq!(logistic["champion"], false);
    assert!(
        !run(&mut s.on(&["models", "delete", &name]))
            .status
            .success()
    );
    run_ok(&mut s.on(&["models", "delete", other]));
    let err = run(&mut s.on(&["mine", "credit", "score", "--model", other]));
    assert!(String::from_utf8_lossy(&err.stderr).contains("no model"));
}

/// Gradient-boosted trees: the planted inputs carry the gain, the test AUC is at least the
/// single tree's, early stopping keeps fewer rounds than asked, the reasons name planted
/// inputs, and a saved booster scores alike from the CLI, a new process and SQL.
#[test]
fn credit_gbdt_finds_the_planted_inputs_and_scores_alike_everywhere() {
    let _lock = registry_lock();
    let s = built();
    let train = |args: &[&str]| {
        let mut all = vec!["mine", "credit", "train", "--no-save", "--format", "json"];
        all.extend(args);
        json(&run_ok(&mut s.on(&all)))
    };
    let tree = train(&[]);
    let gbdt = train(&[
        "--kind",
        "gbdt",
        "--trees",
        "400",
        "--learning-rate",
        "0.05",
        "--max-leaves",
        "8",
        "--early-stopping-rounds",
        "20",
    ]);
    assert_eq!(gbdt["kind"], "gbdt");
    leads_with_the_planted_inputs(&gbdt);
    let auc = |card: &serde_json::Value| card["test_metrics"]["auc"].as_f64().expect("auc");
    println!(
        "credit test AUC: tree {:.4}, gbdt {:.4}",
        auc(&tree),
        auc(&gbdt)
    );
    assert!(
        auc(&gbdt) >= auc(&tree) - 0.005,
        "gbdt {} tree {}",
        auc(&gbdt),
        auc(&tree)
    );
    let kept = gbdt["trees_kept"].as_u64().expect("trees kept");
    assert!(
        (1..400).contains(&kept),
        "early stopping kept {kept} of 400 rounds"
    );

    let Agreed { name, cli, .. } = credit_scores_agree(s, &["--kind", "gbdt", "--trees", "50"]);
    let scored = csv_rows(&run_ok(&mut s.on(&[
        "mine", "credit", "score", "--model", &name, "--format", "csv",
    ])));
    assert_eq!(scored.len(), cli.len());
    // Declined applicants are explained by inputs of the model, planted ones first.
    let declined: Vec<&Vec<String>> = scored.iter().filter(|r| r[3] == "decline").collect();
    assert!(!declined.is_empty());
    let planted = ["income = ", "has_savings_account = ", "homeowner = "];
    let explained = declined
        .iter()
        .filter(|r| planted.iter().any(|p| r[4].starts_with(p)))
        .count();
    assert!(
        explained * 5 >= declined.len() * 4,
        "{explained} of {} declines led by a planted input",
        declined.len()
    );
}

#[test]
fn churn_models_rank_the_planted_churners_first_on_the_time_holdout() {
    let _lock = registry_lock();
    let s = built();
    let trained = run(&mut s.on(&[
        "mine",
        "churn",
        "train",
        "--format",
        "json",
        "--promote-if-better",
    ]));
    let said = String::from_utf8_lossy(&trained.stderr);
    assert!(trained.status.success(), "{said}");
    let all = json(&String::from_utf8_lossy(&trained.stdout));
    let (baseline, cards): (Vec<&serde_json::Value>, Vec<&serde_json::Value>) = all
        .as_array()
        .expect("cards")
        .iter()
        .partition(|c| c["kind"] == "bgnbd");
    assert_eq!(cards.len(), 4, "tree, logistic, forest and gbdt compared");
    assert_eq!(baseline.len(), 1, "and the BG/NBD P(alive) baseline");
    let best = cards
        .iter()
        .max_by(|a, b| {
            a["test_metrics"]["auc"]
                .as_f64()
                .unwrap_or(0.0)
                .total_cmp(&b["test_metrics"]["auc"].as_f64().unwrap_or(0.0))
        })
        .expect("best");
    for c in &cards {
        println!(
            "churn {} ({}): test AUC {:.3}, top-decile lift {:.2}",
            c["name"], c["kind"], c["test_metrics"]["auc"], c["test_metrics"]["gains"][0]["lift"]
        );
    }
    let auc = best["test_metrics"]["auc"].as_f64().expect("auc");
    // 0.80 before the sample planted lapsed diaper buyers (young fathers whose spending
    // drops without churning: hard negatives), 0.797 with them.
    assert!(auc >= 0.79, "best churn test AUC {auc}");
    // The customer-base model alone ranks churners better than chance (0.55 on the sample:
    // purchase timing alone says little about a planted churn date), the trained models,
    // which see complaints, satisfaction and trends too, far better.
    let base = baseline[0]["test_metrics"]["auc"].as_f64().expect("auc");
    println!("churn BG/NBD baseline: test AUC {base:.3}");
    assert!(
        base > 0.52 && base < auc - 0.1,
        "baseline AUC {base}, best {auc}"
    );
    let test_as_of = best["data"]["split"]["cut"]
        .as_str()
        .expect("cut")
        .to_string();
    let name = best["name"].as_str().expect("name").to_string();
    // Training says what became of the champion; promoted, the best is what `score` uses.
    let champions = json(&run_ok(&mut s.on(&["models", "list", "--format", "json"])));
    let champion = champions
        .as_array()
        .expect("models")
        .iter()
        .find(|m| m["task"] == "churn" && m["champion"] == true)
        .expect("a churn champion");
    if said.contains(&format!("{name} is now the churn champion"))
        || said.contains(&format!("{name} is the churn champion"))
    {
        assert_eq!(champion["name"], name.as_str(), "{said}");
    } else {
        assert!(said.contains("the churn champion stays"), "{said}");
    }
    run_ok(&mut s.on(&["models", "promote", &name]));

    // The holdout population ranked by the model: planted churners in the top decile.
    let ranked = csv_rows(&run_ok(&mut s.on(&[
        "mine",
        "churn",
        "score",
        "--as-of",
        &test_as_of,
        "--no-write",
        "--format",
        "csv",
    ])));
    let churners: HashSet<i64> = s
        .planted_persons()
        .into_iter()
        .filter(|(_, p)| !p["churn_date"].is_empty())
        .map(|(id, _)| id)
        .collect();
    let is_churner = |r: &Vec<String>| churners.contains(&r[0].parse::<i64>().expect("id"));
    let overall = ranked.iter().filter(|r| is_churner(r)).count() as f64 / ranked.len() as f64;
    let top = &ranked[..ranked.len() / 10];
    let top_rate = top.iter().filter(|r| is_churner(r)).count() as f64 / top.len() as f64;
    let lift = top_rate / overall;
    println!(
        "planted churners: {:.1}% of the holdout, {:.1}% of its top decile, lift {lift:.2}",
        100.0 * overall,
        100.0 * top_rate
    );
    assert!(lift >= 3.0, "top-decile lift of planted churners {lift}");
    // Ranked by probability, banded, with reasons for those at risk.
    let p: Vec<f64> = ranked.iter().map(|r| r[1].parse().expect("p")).collect();
    assert!(p.windows(2).all(|w| w[0] >= w[1]));
    assert!(
        top.iter().all(|r| r[2] == "high" && !r[4].is_empty()),
        "{:?}",
        &top[..3]
    );

    // SQL scoring over the churn_features view equals the CLI scores as of the last day.
    let scored = csv_rows(&run_ok(
        &mut s.on(&["mine", "churn", "score", "--format", "csv"]),
    ));
    let cli: HashMap<String, f64> = scored
        .iter()
        .map(|r| (r[0].clone(), r[1].parse().expect("p")))
        .collect();
    let (_, call) = champion_call(s, &name);
    let sql = format!("SELECT customer_id, {call} FROM churn_features");
    let rows = csv_rows(&run_ok(&mut s.on(&["sql", "--format", "csv", &sql])));
    assert_eq!(rows.len(), cli.len());
    for r in &rows {
        assert_eq!(
            r[1].parse::<f64>().expect("p"),
            cli[&r[0]],
            "customer {}",
            r[0]
        );
    }
    let mart = csv_rows(&run_ok(&mut s.on(&[
        "sql",
        "--format",
        "csv",
        "SELECT count(*), count(DISTINCT risk_band), min(rank) FROM mart_churn_score",
    ])));
    assert_eq!(mart[0][0], cli.len().to_string());
    assert_eq!(mart[0][2], "1");
}

/// `--p-alive`: each population's P(alive) is BG/NBD's fitted on the purchases up to its own
/// date (equal to `mine clv --as-of` that date: nothing later is seen), the model reads it,
/// and SQL scoring with mart_clv's P(alive) equals the CLI's scores.
#[test]
fn churn_p_alive_is_fitted_as_of_each_population_and_scores_alike_in_sql() {
    let copy = SampleCopy::new();
    run_ok(&mut copy.build(&copy.warehouse(), &[]));
    let rows = copy.dir.path().join("churn-rows");
    let card = json(&run_ok(&mut copy.on(&[
        "mine",
        "churn",
        "train",
        "--kind",
        "logistic",
        "--p-alive",
        "--export-data",
        rows.to_str().expect("utf-8"),
        "--format",
        "json",
    ])));
    let card = &card[0];
    let name = card["name"].as_str().expect("name");
    let (_, call) = champion_call(&copy, name);
    assert!(
        call.ends_with(", p_alive)"),
        "the model reads P(alive): {call}"
    );
    // The training rows are the population one horizon before the test date.
    let test_as_of = chrono::NaiveDate::parse_from_str(
        card["data"]["split"]["cut"].as_str().expect("cut"),
        "%Y-%m-%d",
    )
    .expect("date");
    let train_as_of = (test_as_of - chrono::Duration::days(90)).to_string();
    // customer_id → the `column` of a CSV text.
    let column = |text: &str, column: &str| -> HashMap<String, f64> {
        let mut reader = csv::Reader::from_reader(text.as_bytes());
        let at = reader
            .headers()
            .expect("header")
            .iter()
            .position(|c| c == column)
            .unwrap_or_else(|| panic!("no {column} in {text:.200}"));
        reader
            .records()
            .map(|r| {
                let r = r.expect("row");
                (r[0].to_string(), r[at].parse().expect("number"))
            })
            .collect()
    };
    let exported = std::fs::read_to_string(rows.join("churn_train.csv")).expect("rows");
    let trained = column(&exported, "p_alive");
    let clv = run_ok(&mut copy.on(&[
        "mine",
        "clv",
        "--as-of",
        &train_as_of,
        "--no-write",
        "--format",
        "csv",
    ]));
    let alive = column(&clv, "p_alive");
    assert!(trained.len() > 1000, "{}", trained.len());
    for (id, p) in &trained {
        assert!(
            (p - alive[id]).abs() < 1e-9,
            "customer {id}: {p} vs {}",
            alive[id]
        );
    }

    // Scored as of the last day: the CLI fits BG/NBD as of it; SQL reads mart_clv's.
    let scored = run_ok(&mut copy.on(&["mine", "churn", "score", "--format", "csv"]));
    let cli = column(&scored, "churn_probability");
    run_ok(&mut copy.on(&["mine", "clv"]));
    let sql = format!(
        "SELECT customer_id, {call} FROM (SELECT f.*, c.p_alive FROM churn_features f
         JOIN mart_clv c ON c.customer_id = f.customer_id)"
    );
    let rows = csv_rows(&run_ok(&mut copy.on(&["sql", "--format", "csv", &sql])));
    assert_eq!(rows.len(), cli.len());
    for r in &rows {
        let p: f64 = r[1].parse().expect("p");
        assert!(
            (p - cli[&r[0]]).abs() < 1e-9,
            "customer {}: {p} vs {}",
            r[0],
            cli[&r[0]]
        );
    }
}

#[test]
fn the_nightly_build_scores_with_the_champion_models() {
    let copy = SampleCopy::new();
    run_ok(&mut copy.build(&copy.warehouse(), &["--no-marts"]));
    run_ok(&mut copy.on(&["mine", "churn", "train", "--kind", "tree"]));
    run_ok(&mut copy.on(&["mine", "credit", "train"]));
    let config = std::fs::read_to_string(copy.config()).expect("config");
    let scoring = config.replace(
        r#"refresh = ["rfm", "segment", "value", "lifecycle", "alerts", "campaign_target"]"#,
        r#"refresh = ["churn_score", "credit_score"]"#,
    );
    assert_ne!(scoring, config, "the sample config names its marts");
    std::fs::write(copy.config(), scoring).expect("write config");
    copy.generate_night(2);
    let out = run_ok(&mut copy.build(&copy.warehouse(), &[]));
    assert!(out.contains("mart_churn_score"), "{out}");
    // The refreshed mart equals scoring the new version from the CLI.
    let cli = csv_rows(&run_ok(&mut copy.on(&[
        "mine",
        "churn",
        "score",
        "--no-write",
        "--format",
        "csv",
    ])));
    let mart = csv_rows(&run_ok(&mut copy.on(&[
        "sql",
        "--format",
        "csv",
        "SELECT customer_id, churn_probability, as_of, (SELECT max(order_date) FROM fact_sales) \
         FROM mart_churn_score ORDER BY rank",
    ])));
    assert_eq!(mart.len(), cli.len());
    for (m, c) in mart.iter().zip(&cli) {
        assert_eq!((&m[0], &m[1]), (&c[0], &c[1]));
        assert_eq!(m[2], m[3], "as of the new last sale");
    }
    let credit = csv_rows(&run_ok(&mut copy.on(&[
        "sql",
        "--format",
        "csv",
        "SELECT count(*) AS scored, (SELECT count(*) FROM fact_credit_application) AS applications FROM mart_credit_score",
    ])));
    assert_eq!(credit[0][0], credit[0][1]);
}

#[test]
fn marts_mined_on_their_own_survive_the_next_build_and_versions_stay_within_keep_versions() {
    let copy = SampleCopy::new();
    let wh = copy.warehouse();
    let on_disk = || {
        std::fs::read_dir(wh.join("versions"))
            .expect("versions")
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().starts_with('v'))
            })
            .count()
    };
    // The sample keeps 3 versions: v1 (build), then four publishes of `mine`.
    run_ok(&mut copy.build(&wh, &["--no-marts"]));
    run_ok(&mut copy.on(&basket_args(&[])));
    run_ok(&mut copy.on(&["mine", "churn", "train", "--kind", "tree"]));
    run_ok(&mut copy.on(&["mine", "churn", "score"]));
    run_ok(&mut copy.on(&["mine", "rfm"]));
    run_ok(&mut copy.on(&["mine", "rfm"]));
    assert_eq!(current_version(&wh), 5);
    assert_eq!(on_disk(), 3, "every publish prunes to keep_versions");
    let before = manifest(&current(&wh))["tables"].clone();
    // The next night's build refreshes the sample's marts and keeps the others.
    copy.generate_night(2);
    run_ok(&mut copy.build(&wh, &[]));
    assert_eq!(current_version(&wh), 6);
    assert!(on_disk() <= 3);
    let tables: Vec<serde_json::Value> =
        serde_json::from_str(&run_ok(&mut copy.on(&["tables", "--format", "json"])))
            .expect("tables json");
    let entry = |name: &str| {
        tables
            .iter()
            .find(|t| t["name"] == name)
            .unwrap_or_else(|| panic!("{name} missing after the build: {tables:?}"))
    };
    for (mart, computed_on) in [
        ("mart_basket_rules", 1),
        ("mart_churn_score", 2),
        ("mart_rfm", 6),
    ] {
        let t = entry(mart);
        assert_eq!(t["kind"], "mart");
        assert_eq!(t["computed_on"], computed_on, "{mart}: {t}");
    }
    for mart in ["mart_basket_rules", "mart_churn_score"] {
        assert_eq!(
            entry(mart)["rows"],
            before[mart],
            "{mart} carried unchanged"
        );
        let n = csv_rows(&run_ok(&mut copy.on(&[
            "sql",
            "--format",
            "csv",
            &format!("SELECT count(*) FROM {mart}"),
        ])));
        assert_eq!(n[0][0], before[mart].to_string(), "{mart} queryable");
    }
}

#[test]
fn every_registered_analysis_publishes_its_declared_mart_from_the_nightly_build() {
    let copy = SampleCopy::new();
    let wh = copy.warehouse();
    run_ok(&mut copy.build(&wh, &["--no-marts"]));
    run_ok(&mut copy.on(&["mine", "churn", "train", "--kind", "tree"]));
    run_ok(&mut copy.on(&["mine", "credit", "train"]));
    run_ok(&mut copy.on(&["mine", "response", "train", "--kind", "logistic"]));
    // A target list drawn tonight: the next night's refresh checks it for new opt-outs.
    run_ok(&mut copy.on(&[
        "campaign",
        "target",
        "--name",
        "NIGHTLY",
        "--sql",
        "SELECT customer_id FROM dim_customer",
        "--size",
        "50",
    ]));
    let schema = acrm_schema::WarehouseSchema::builtin().expect("schema");
    let every: Vec<String> = schema
        .analyses()
        .iter()
        .map(|a| format!("\"{a}\""))
        .collect();
    let config = std::fs::read_to_string(copy.config()).expect("config");
    let all = config.replace(
        r#"refresh = ["rfm", "segment", "value", "lifecycle", "alerts", "campaign_target"]"#,
        &format!("refresh = [{}]", every.join(", ")),
    );
    assert_ne!(all, config, "the sample config names its marts");
    std::fs::write(copy.config(), all).expect("write config");
    copy.generate_night(2);
    let out = run(&mut copy.build(&wh, &[]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(!stderr.contains("skipped"), "every analysis ran: {stderr}");
    let dir = current(&wh);
    let m = manifest(&dir);
    // Night 1, then the target list's version, then night 2's.
    let night_2 = current_version(&wh);
    assert_eq!(night_2, 3);
    for mart in schema.marts() {
        let rows = m["tables"][&mart.name].as_u64().unwrap_or(0);
        assert!(rows > 0, "{} missing or empty: {}", mart.name, m["tables"]);
        assert_eq!(
            m["derived"][&mart.name]["computed_on"], night_2,
            "{}",
            mart.name
        );
        let batches = read_table(&dir, &mart.name);
        assert_eq!(
            batches[0].schema(),
            mart.arrow_schema(),
            "{} as written vs declared",
            mart.name
        );
        // `acrm describe` documents it from the declaration.
        let described = run_ok(&mut copy.on(&["describe", &mart.name]));
        for c in &mart.columns {
            assert!(
                described.contains(&c.name) && described.contains(&c.description),
                "{}: {described}",
                mart.name
            );
        }
    }
}

/// Does the value `v` (as `acrm sql` prints it; empty = missing) fall in the bin described
/// as `label` (`< 12.5`, `[12.5, 24.5)`, `>= 24.5`, `false`, `true`, `a, b`, `missing`,
/// `any`)? An independent reading of the points table.
fn in_bin(v: &str, label: &str) -> bool {
    if v.is_empty() {
        return label == "missing";
    }
    let number = |t: &str| t.trim().parse::<f64>().expect("cut point");
    let x = || v.parse::<f64>().expect("a number");
    if let Some(hi) = label.strip_prefix("< ") {
        x() < number(hi)
    } else if let Some(lo) = label.strip_prefix(">= ") {
        x() >= number(lo)
    } else if let Some(range) = label.strip_prefix('[') {
        let (lo, hi) = range.trim_end_matches(')').split_once(',').expect("range");
        x() >= number(lo) && x() < number(hi)
    } else {
        label == "any" || label.split(", ").any(|c| c == v)
    }
}

/// A credit scorecard on the sample, checked by hand: the planted inputs carry the most
/// information value; every applicant's score is the sum of the points of the bins its
/// values fall in (read off the printed points table), P(bad) follows 600 points at even
/// odds and 20 to double them, the first reason is the characteristic furthest below its
/// neutral points; CLI, a new process and SQL score alike. Then stability: the training
/// population itself is stable, a population shifted to low incomes raises `model_drift`,
/// and the monitoring mart is published.
#[test]
fn credit_scorecard_points_reasons_and_drift_checked_by_hand() {
    let _lock = registry_lock();
    let s = built();
    // The selection report with every characteristic offered.
    let report = json(&run_ok(&mut s.on(&[
        "mine",
        "credit",
        "scorecard",
        "--min-iv",
        "0",
        "--no-save",
        "--format",
        "json",
    ])));
    let mut ivs: Vec<(String, f64)> = report["scorecard"]["characteristics"]
        .as_array()
        .expect("characteristics")
        .iter()
        .map(|c| {
            (
                c["name"].as_str().expect("name").to_string(),
                c["iv"].as_f64().expect("iv"),
            )
        })
        .collect();
    ivs.sort_by(|a, b| b.1.total_cmp(&a.1));
    // The planted logit's inputs (income, savings account, home ownership) and existing debt,
    // which the generator draws in proportion to income, are predictive; the rest are not.
    assert_eq!(ivs[0].0, "income", "{ivs:?}");
    let top: HashSet<&str> = ivs.iter().take(4).map(|c| c.0.as_str()).collect();
    assert_eq!(
        top,
        HashSet::from([
            "income",
            "existing_debt",
            "has_savings_account",
            "homeowner"
        ]),
        "{ivs:?}"
    );
    assert!(ivs[4..].iter().all(|c| c.1 < 0.02), "{ivs:?}");

    let Agreed {
        name, cli, card, ..
    } = credit_scores_agree(s, &["--kind", "scorecard"]);
    assert_eq!(card["kind"], "scorecard");
    let used: Vec<&serde_json::Value> = card["scorecard"]["characteristics"]
        .as_array()
        .expect("characteristics")
        .iter()
        .filter(|c| c["status"] == "used")
        .collect();
    assert!(used.len() >= 3, "{}", card["scorecard"]);
    let names: Vec<&str> = used
        .iter()
        .map(|c| c["name"].as_str().expect("name"))
        .collect();
    let values = csv_rows(&run_ok(&mut s.on(&[
        "sql",
        "--format",
        "csv",
        &format!(
            "SELECT application_id, {} FROM fact_credit_application ORDER BY application_id LIMIT 40",
            names
                .iter()
                .map(|n| format!("CAST({n} AS VARCHAR)"))
                .collect::<Vec<_>>()
                .join(", ")
        ),
    ])));
    let reasons: HashMap<String, Vec<String>> = csv_rows(&run_ok(&mut s.on(&[
        "sql",
        "--format",
        "csv",
        "SELECT application_id, reason_1, reason_2, reason_3 FROM mart_credit_score",
    ])))
    .into_iter()
    .map(|r| (r[0].clone(), r[1..].to_vec()))
    .collect();
    let factor = 20.0 / std::f64::consts::LN_2;
    for row in &values {
        let mut score = 0.0;
        let mut lost: Vec<(f64, &str)> = Vec::new();
        for (j, c) in used.iter().enumerate() {
            let bins = c["bins"].as_array().expect("bins");
            let hit: Vec<&serde_json::Value> = bins
                .iter()
                .filter(|b| in_bin(&row[j + 1], b["bin"].as_str().expect("label")))
                .collect();
            assert_eq!(hit.len(), 1, "{} = {} in {bins:?}", names[j], row[j + 1]);
            let points = hit[0]["points"].as_f64().expect("points");
            score += points;
            lost.push((
                c["neutral_points"].as_f64().expect("neutral") - points,
                names[j],
            ));
        }
        let (p, cli_score) = cli[&row[0]];
        assert_eq!(cli_score, score, "application {}", row[0]);
        let by_hand = 1.0 / (1.0 + ((score - 600.0) / factor).exp());
        assert!((p - by_hand).abs() < 1e-12, "{p} vs {by_hand}");
        lost.sort_by(|a, b| b.0.total_cmp(&a.0));
        let first = &reasons[&row[0]][0];
        if lost[0].0 > 0.5 {
            assert!(
                first.starts_with(&format!("{} = ", lost[0].1)) && first.contains(" points, "),
                "application {}: {first} vs {lost:?}",
                row[0]
            );
        }
    }

    // Stability against the champion scorecard: its own training rows are stable; low
    // incomes only are a shift (score and income), raising model_drift.
    let monitor = |sql: &str| {
        csv_rows(&run_ok(&mut s.on(&[
            "mine", "monitor", "--task", "credit", "--model", &name, "--sql", sql, "--format",
            "csv",
        ])))
    };
    let training = "SELECT * FROM (SELECT application_id, customer_id, application_date, age, \
        CAST(income AS DOUBLE) AS income, has_savings_account, homeowner, employment_years, \
        CAST(existing_debt AS DOUBLE) AS existing_debt, \
        CAST(requested_amount AS DOUBLE) AS requested_amount, term_months, outcome \
        FROM fact_credit_application WHERE decision = 'approved' AND outcome IS NOT NULL)";
    let split = card["data"]["split"].to_string();
    assert!(split.contains("time"), "{split}");
    let stable = monitor(training);
    let column = |rows: &[Vec<String>], measure: &str, of: &str, k: usize| -> String {
        rows.iter()
            .find(|r| r[5] == measure && r[6] == of)
            .unwrap_or_else(|| panic!("{measure} {of}: {rows:?}"))[k]
            .clone()
    };
    // Columns: as_of, task, model, population, rows, measure, characteristic, value, status, alert.
    let psi: f64 = column(&stable, "psi", "", 7).parse().expect("psi");
    assert!(
        psi < 0.1,
        "the training population against itself: PSI {psi}"
    );
    assert_eq!(column(&stable, "psi", "", 8), "stable");
    assert!(stable.iter().all(|r| r[9].is_empty()), "{stable:?}");
    let shifted = monitor(&format!(
        "{training} WHERE income < (SELECT median(CAST(income AS DOUBLE)) FROM fact_credit_application)"
    ));
    let psi: f64 = column(&shifted, "psi", "", 7).parse().expect("psi");
    assert!(psi >= 0.25, "low incomes only: PSI {psi}");
    assert_eq!(column(&shifted, "psi", "", 8), "act");
    assert_eq!(column(&shifted, "psi", "", 9), "model_drift");
    assert_eq!(column(&shifted, "csi", "income", 9), "model_drift");
    // The nightly form: the champion on its recent applications, published.
    run_ok(&mut s.on(&["mine", "monitor"]));
    let mart = csv_rows(&run_ok(&mut s.on(&[
        "sql",
        "--format",
        "csv",
        "SELECT model, measure, count(*) FROM mart_model_monitoring WHERE task = 'credit' GROUP BY model, measure ORDER BY measure",
    ])));
    assert_eq!(mart[0][0], name);
    assert_eq!(
        (mart[0][1].as_str(), mart[0][2].as_str()),
        (
            "csi",
            &*card["inputs"].as_array().expect("inputs").len().to_string()
        )
    );
    assert_eq!((mart[1][1].as_str(), mart[1][2].as_str()), ("psi", "1"));
}
