//! Campaigns through the binary on a build of the sample: each campaign's contacted group
//! against its control group, checked against the planted uplift and recomputed in SQL.

use std::collections::HashMap;
use std::sync::OnceLock;

use crate::common::*;

/// A sample build of its own: evaluation publishes marts.
fn built() -> &'static SampleCopy {
    static COPY: OnceLock<SampleCopy> = OnceLock::new();
    built_once(&COPY)
}

fn num(row: &HashMap<String, String>, column: &str) -> f64 {
    row[column]
        .parse()
        .unwrap_or_else(|e| panic!("{column} = '{}': {e}", row[column]))
}

#[test]
fn uplift_intervals_cover_the_planted_effects_and_match_sql() {
    let s = built();
    let out = run_ok(&mut s.on(&["campaign", "evaluate", "--format", "csv"]));
    let rows = csv_maps(&out);
    let truth: HashMap<String, f64> = read_truth(&s.exports().join("truth/night-1/campaigns.csv"))
        .into_iter()
        .map(|t| (t["campaign"].clone(), t["uplift"].parse().expect("uplift")))
        .collect();
    let mut covered = 0;
    for r in &rows {
        let (low, high) = (num(r, "uplift_low"), num(r, "uplift_high"));
        let planted = truth[&r["campaign_code"]];
        covered += usize::from(low <= planted && planted <= high);
        println!(
            "{}: uplift {:.4} [{low:.4}, {high:.4}], planted {planted}, {} vs {} customers",
            r["campaign_code"],
            num(r, "uplift"),
            r["contacted"],
            r["control"]
        );
    }
    assert!(rows.len() >= 6, "{out}");
    // 95% intervals: most cover the truth (all but one at least, with this many campaigns).
    assert!(
        covered + 1 >= rows.len(),
        "{covered} of {} cover their planted uplift",
        rows.len()
    );
    let row = |code: &str| {
        rows.iter()
            .find(|r| r["campaign_code"] == code)
            .expect(code)
    };
    // The effective campaign: its interval covers the planted 10 points and excludes 0.
    let effective = row("CMP-1111-B");
    assert!(num(effective, "uplift_low") > 0.0 && num(effective, "p_value") < 0.05);
    assert!(num(effective, "uplift_low") <= 0.10 && 0.10 <= num(effective, "uplift_high"));
    // The ineffective one (planted 0): its interval covers 0.
    let ineffective = row("CMP-SPRING");
    assert!(num(ineffective, "uplift_low") <= 0.0 && 0.0 <= num(ineffective, "uplift_high"));
    // The rates and the cost recomputed independently in SQL over the facts.
    let sql = "SELECT c.campaign_code,
            avg(CASE WHEN r.converted THEN 1.0 ELSE 0.0 END) FILTER (WHERE NOT r.control_group) AS t,
            avg(CASE WHEN r.converted THEN 1.0 ELSE 0.0 END) FILTER (WHERE r.control_group) AS c,
            (SELECT CAST(sum(e.amount) AS DOUBLE) FROM fact_expense e WHERE e.campaign_key = c.campaign_key) AS cost
        FROM fact_campaign_response r JOIN dim_campaign c USING (campaign_key)
        GROUP BY c.campaign_code, c.campaign_key";
    let check = csv_maps(&run_ok(&mut s.on(&["sql", "--format", "csv", sql])));
    assert_eq!(check.len(), rows.len());
    for c in &check {
        let r = row(&c["campaign_code"]);
        let uplift = num(c, "t") - num(c, "c");
        assert!((num(r, "uplift") - uplift).abs() < 1e-9, "{c:?} vs {r:?}");
        assert!(
            (num(r, "cost") - num(c, "cost")).abs() < 0.005,
            "{c:?} vs {r:?}"
        );
        assert_eq!(r["cost_source"], "expenses");
    }
    // One campaign's two groups, and the evaluation published for SQL to join.
    let one = run_ok(&mut s.on(&["campaign", "evaluate", "CMP-1111-B", "--no-write"]));
    assert!(
        one.contains("CMP-1111-B: uplift +") && one.contains("| control "),
        "{one}"
    );
    let published = run_ok(&mut s.on(&[
        "sql",
        "--format",
        "csv",
        "SELECT count(*) FROM mart_campaign_uplift u JOIN dim_campaign c USING (campaign_key)",
    ]));
    assert_eq!(csv_rows(&published)[0][0], rows.len().to_string());
    let err = run(&mut s.on(&["campaign", "evaluate", "NO-SUCH", "--no-write"]));
    let stderr = String::from_utf8_lossy(&err.stderr);
    assert!(
        !err.status.success() && stderr.contains("CMP-1111-B"),
        "{stderr}"
    );
}

#[test]
fn uplift_intervals_and_tests_equal_statsmodels() {
    let s = built();
    let rows = csv_maps(&run_ok(&mut s.on(&[
        "campaign",
        "evaluate",
        "--format",
        "csv",
        "--no-write",
    ])));
    // The counts behind each campaign, and statsmodels' Newcombe interval and pooled z-test
    // on them: an independent implementation of the same statistics.
    let sql = "SELECT c.campaign_code,
            sum(CASE WHEN r.converted AND NOT r.control_group THEN 1 ELSE 0 END) AS c1,
            sum(CASE WHEN NOT r.control_group THEN 1 ELSE 0 END) AS n1,
            sum(CASE WHEN r.converted AND r.control_group THEN 1 ELSE 0 END) AS c2,
            sum(CASE WHEN r.control_group THEN 1 ELSE 0 END) AS n2
        FROM fact_campaign_response r JOIN dim_campaign c USING (campaign_key)
        GROUP BY c.campaign_code";
    let counts = run_ok(&mut s.on(&["sql", "--format", "json", sql]));
    let script = r#"
import json, sys
from statsmodels.stats.proportion import confint_proportions_2indep, proportions_ztest
out = {}
for r in json.loads(sys.stdin.read()):
    c1, n1, c2, n2 = (int(r[k]) for k in ("c1", "n1", "c2", "n2"))
    low, high = confint_proportions_2indep(c1, n1, c2, n2, method="newcomb", compare="diff")
    _, p = proportions_ztest([c1, c2], [n1, n2])
    out[r["campaign_code"]] = [float(low), float(high), float(p)]
print(json.dumps(out))
"#;
    let mut child = std::process::Command::new(tool(&["python3"]))
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("python3 runs");
    {
        use std::io::Write as _;
        let mut stdin = child.stdin.take().expect("stdin");
        stdin.write_all(counts.as_bytes()).expect("counts written");
    }
    let out = child.wait_with_output().expect("statsmodels answers");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let peer: HashMap<String, [f64; 3]> =
        serde_json::from_slice(&out.stdout).expect("statsmodels JSON");
    assert_eq!(peer.len(), rows.len());
    for r in &rows {
        let [low, high, p] = peer[&r["campaign_code"]];
        for (ours, theirs, what) in [
            (num(r, "uplift_low"), low, "interval low"),
            (num(r, "uplift_high"), high, "interval high"),
            (num(r, "p_value"), p, "p-value"),
        ] {
            assert!(
                (ours - theirs).abs() < 1e-9,
                "{} {what}: acrm {ours}, statsmodels {theirs}",
                r["campaign_code"]
            );
        }
    }
}
