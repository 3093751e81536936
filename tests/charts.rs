//! Charts through the binary on their own build of the sample: every chart kind is drawn
//! from the sample warehouse into a valid SVG file, and what is drawn matches the data
//! (bars per segment and feature, one bar per alert kind and lifecycle stage, one point per
//! rule).

use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError};

use crate::common::*;

fn built() -> &'static SampleCopy {
    static COPY: OnceLock<SampleCopy> = OnceLock::new();
    built_once(&COPY)
}

/// Held by each test of this module for its whole run. The tests share one warehouse and
/// each publishes marts; a publish prunes the warehouse to its last `keep_versions`, and a
/// reader does not pin the version it reads, so a long read (`alerts --chart`) beside two
/// other tests' publishes could find its version's files pruned away.
fn one_at_a_time() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Draws `args … --chart FILE.svg` and returns the SVG text, checked to be a whole document
/// of sensible size.
fn chart(args: &[&str], name: &str) -> String {
    let dir = built().dir.path().join("charts");
    std::fs::create_dir_all(&dir).expect("charts dir");
    let path = dir.join(format!("{name}.svg"));
    let mut full = args.to_vec();
    full.extend(["--chart", path.to_str().expect("path")]);
    run_ok(&mut built().on(&full));
    let svg = std::fs::read_to_string(&path).expect("chart file");
    assert!(
        svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"),
        "{name}: not an SVG document"
    );
    assert!(
        svg.len() > 5_000 && svg.len() < 5_000_000,
        "{name}: {} bytes",
        svg.len()
    );
    svg
}

fn fills(svg: &str, hex: &str) -> usize {
    svg.matches(&format!("fill=\"#{hex}\"")).count()
}

fn distinct(sql: &str) -> usize {
    csv_rows(&run_ok(&mut built().on(&["sql", "--format", "csv", sql]))).len()
}

#[test]
fn every_analysis_draws_its_chart_from_the_sample() {
    let _serial = one_at_a_time();
    // Segment profiles: one bar per segment and profiled feature, plus a legend swatch.
    let svg = chart(&["mine", "segment", "--k", "4", "--no-write"], "segments");
    run_ok(&mut built().on(&["mine", "segment", "--k", "4"]));
    let features = distinct("SELECT DISTINCT feature FROM mart_segment_profile");
    let names = csv_rows(&run_ok(&mut built().on(&[
        "sql",
        "--format",
        "csv",
        "SELECT DISTINCT segment, name FROM mart_segment_profile ORDER BY segment",
    ])));
    assert_eq!(names.len(), 4, "{names:?}");
    for (s, hex) in ["4C72B0", "DD8452", "55A868", "C44E52"].iter().enumerate() {
        assert_eq!(fills(&svg, hex), features + 1, "segment {}", s + 1);
        // The legend names each segment by number and name.
        let label = format!("{}: {}", names[s][0], names[s][1]);
        assert!(svg.contains(&label), "{label}");
    }
    // RFM heat map: the 5 × 5 grid labelled, the cells written.
    let svg = chart(&["mine", "rfm", "--no-write"], "rfm");
    assert!(svg.contains("RFM") && svg.contains("recency score"));
    let cells = svg.matches("<rect").count();
    assert!(cells >= 20, "{cells} rects");
    // Pareto curve and lifecycle stages.
    let svg = chart(&["mine", "value", "--no-write"], "pareto");
    assert!(svg.contains("Revenue Pareto curve") && svg.contains("<polyline"));
    let svg = chart(&["mine", "lifecycle", "--no-write"], "lifecycle");
    let stages = {
        run_ok(&mut built().on(&["mine", "lifecycle"]));
        distinct("SELECT DISTINCT stage FROM mart_lifecycle")
    };
    assert_eq!(fills(&svg, "4C72B0"), stages, "one bar per lifecycle stage");
    // Alerts of each kind at the last 12 month ends: a line and a legend entry per kind.
    let svg = chart(&["alerts", "--no-write"], "alerts");
    assert!(svg.contains("Alerts by kind, month ends up to 2024-12-31"));
    for (kind, hex) in [
        "below_plan",
        "churn_risk",
        "expense_over_budget",
        "over_limit",
        "overdue",
        "purchase_drop",
    ]
    .iter()
    .zip(["4C72B0", "DD8452", "55A868", "C44E52", "8172B3", "937860"])
    {
        assert!(svg.contains(kind), "{kind} in the legend");
        assert_eq!(
            svg.matches(&format!("stroke=\"#{hex}\"")).count(),
            2,
            "{kind}"
        );
    }
    // Rules scatter: one filled and one outlined circle per rule.
    let svg = chart(&basket_args(&["--no-write"]), "rules");
    run_ok(&mut built().on(&basket_args(&[])));
    let rules = distinct("SELECT * FROM mart_basket_rules").min(300);
    assert!(rules > 0);
    assert_eq!(svg.matches("<circle").count(), 2 * rules);
    // Cohort retention from the report.
    let svg = chart(
        &["report", "cohort_retention", "--format", "csv"],
        "cohorts",
    );
    assert!(svg.contains("Cohort retention") && svg.contains("2023-01"));
}

#[test]
fn model_charts_show_roc_gains_and_score_distributions() {
    let _serial = one_at_a_time();
    let dir = built().dir.path().join("model-charts");
    std::fs::create_dir_all(&dir).expect("dir");
    let gains = dir.join("gains.svg");
    let svg = chart(
        &[
            "mine",
            "churn",
            "train",
            "--kind",
            "tree,logistic",
            "--gains-chart",
            gains.to_str().expect("path"),
        ],
        "roc",
    );
    assert!(svg.contains("ROC curve") && svg.contains("(tree)") && svg.contains("(logistic)"));
    let gains = std::fs::read_to_string(&gains).expect("gains chart");
    assert!(gains.contains("Cumulative gains") && gains.matches("<polyline").count() >= 2);
    let svg = chart(&["mine", "churn", "score", "--no-write"], "churn-scores");
    assert!(svg.contains("Churn probability by risk band") && svg.contains("high"));
    run_ok(&mut built().on(&["mine", "credit", "train"]));
    let svg = chart(&["mine", "credit", "evaluate"], "credit-evaluation");
    assert!(svg.contains("ROC curve") && svg.contains("(tree)"));
    let svg = chart(&["mine", "credit", "score", "--no-write"], "credit-scores");
    assert!(svg.contains("Credit score by outcome") && svg.contains("bad") && svg.contains("good"));
    // PNG too, by the file name; other names are refused; a command without a chart says so.
    let png = dir.join("rfm.png");
    run_ok(&mut built().on(&[
        "mine",
        "rfm",
        "--no-write",
        "--chart",
        png.to_str().expect("path"),
    ]));
    let bytes = std::fs::read(&png).expect("png");
    assert!(
        bytes.starts_with(b"\x89PNG") && bytes.len() > 20_000,
        "{} bytes",
        bytes.len()
    );
    let out = run(&mut built().on(&["mine", "rfm", "--no-write", "--chart", "x.jpg"]));
    assert!(String::from_utf8_lossy(&out.stderr).contains("give a .svg or .png file name"));
    let out = run(&mut built().on(&["report", "top_customers", "--chart", "x.svg"]));
    assert!(String::from_utf8_lossy(&out.stderr).contains("has no chart"));
}

#[test]
fn html_report_is_self_contained_and_renders_in_headless_chromium() {
    let _serial = one_at_a_time();
    let s = built();
    for args in [
        &["mine", "rfm"][..],
        &["mine", "segment", "--k", "4"],
        &["mine", "value"],
        &["mine", "lifecycle"],
        &["mine", "dormant"],
        &["alerts"],
        &basket_args(&[]),
        &["mine", "churn", "train", "--kind", "tree"],
        &["mine", "churn", "score"],
        &["mine", "credit", "train"],
        &["mine", "credit", "score"],
        &["campaign", "evaluate"],
        &["mine", "response", "train"],
        &["mine", "response", "score"],
        &[
            "campaign",
            "target",
            "--name",
            "REPORT",
            "--segment",
            "rfm=champions",
        ],
    ] {
        run_ok(&mut s.on(args));
    }
    let dir = s.dir.path().join("html");
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("report.html");
    run_ok(&mut s.on(&["report", "html", "--output", path.to_str().expect("path")]));
    let html = std::fs::read_to_string(&path).expect("report");
    for id in [
        "build-and-data-quality",
        "key-kpis",
        "rfm",
        "segments",
        "value-tiers",
        "lifecycle",
        "dormant-products",
        "churn-risk",
        "credit-model",
        "association-rules",
        "alerts",
        "campaigns",
        "campaign-target-lists",
        "campaign-response",
        "expenses",
        "cohort-retention",
    ] {
        assert!(
            html.contains(&format!("<section id=\"{id}\">")),
            "section {id} missing"
        );
    }
    assert!(
        !html.contains("Not computed"),
        "every mart was computed: {}",
        html.split("Not computed")
            .nth(1)
            .unwrap_or_default()
            .chars()
            .take(300)
            .collect::<String>()
    );
    // Table cells read as the terminal's do: no `549.4862422604656`.
    let raw = html
        .split("<td>")
        .skip(1)
        .filter_map(|cell| cell.split_once("</td>").map(|(c, _)| c))
        .find(|c| {
            c.parse::<f64>().is_ok_and(|x| x.abs() >= 1.0)
                && c.split_once('.').is_some_and(|(_, f)| f.len() > 2)
        });
    assert!(raw.is_none(), "raw float {raw:?} in the report");
    // RFM, segments, value tiers, lifecycle, dormant products, churn, response, credit
    // scores, rules, alerts, campaigns, target lists, expenses, cohorts.
    assert_eq!(html.matches("<svg").count(), 14, "a chart per analysis");
    let expenses = html
        .split("<section id=\"expenses\">")
        .nth(1)
        .and_then(|s| s.split("</section>").next())
        .expect("expenses section");
    assert!(
        expenses.contains("Budget lines over budget")
            && expenses.contains("spent in the last 90 days"),
        "the flagged budget lines are listed"
    );
    assert!(
        !html.contains("<script") && !html.contains("src=\"http") && !html.contains("href=\"http")
    );
    // Masking: no personal data of the customer master reaches the report.
    let pii = csv_rows(&run_ok(&mut s.on(&[
        "sql",
        "--privileged",
        "--format",
        "csv",
        "SELECT email, phone FROM dim_customer WHERE email IS NOT NULL AND phone IS NOT NULL LIMIT 50",
    ])));
    assert!(pii.len() > 10);
    for r in &pii {
        assert!(
            !html.contains(&r[0]) && !html.contains(&r[1]),
            "PII in the report"
        );
    }
    // Headless Chromium renders it without console errors and takes a screenshot.
    let chromium = tool(&["chromium", "chromium-browser"]);
    let shot = dir.join("report.png");
    let url = format!("file://{}", path.display());
    let out = std::process::Command::new(&chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--screenshot={}", shot.display()))
        .args(["--window-size=1200,4000", &url])
        .output()
        .expect("chromium runs");
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "chromium failed: {log}");
    for bad in ["CONSOLE", "Uncaught", "Failed to load resource", "ERR_"] {
        assert!(!log.contains(bad), "browser reported {bad}: {log}");
    }
    let png = std::fs::read(&shot).expect("screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 50_000,
        "screenshot {} bytes",
        png.len()
    );
    let dom = std::process::Command::new(&chromium)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--dump-dom",
            &url,
        ])
        .output()
        .expect("chromium runs");
    let dom = String::from_utf8_lossy(&dom.stdout);
    for heading in [
        "Key KPIs",
        "Lifecycle",
        "Churn risk",
        "Credit model",
        "Association rules",
        "Cohort retention",
    ] {
        assert!(
            dom.contains(&format!("<h2>{heading}</h2>")),
            "{heading} not in the rendered page"
        );
    }
}
