//! The same SQL on a Ballista cluster (`acrm cluster` scheduler and executor, `--cluster` on
//! sql and report): every shipped report equals the single-node engine's answer. Built with
//! the `cluster` feature (`./test` turns it on).

use std::process::{Child, Stdio};
use std::time::Duration;

use crate::common::*;

/// A free loopback port (bound and released; the process started next takes it).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A process of the test cluster, killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn the_report_suite_on_ballista_equals_the_single_node_engine() {
    let s = SampleCopy::new();
    run_ok(&mut s.build(&s.warehouse(), &[]));
    run_ok(&mut s.on(&["mine", "credit", "train"]));
    let warehouse = s.warehouse();
    let (scheduler_port, flight, grpc) = (free_port(), free_port(), free_port());
    let logs = tempdir();
    let spawn = |args: Vec<String>, log: &str| {
        Process(
            acrm()
                .args(&args)
                .arg("--warehouse")
                .arg(&warehouse)
                .stdout(Stdio::null())
                .stderr(std::fs::File::create(logs.path().join(log)).expect("log file"))
                .spawn()
                .expect("cluster process starts"),
        )
    };
    let _scheduler = spawn(
        vec![
            "cluster".into(),
            "scheduler".into(),
            "--listen".into(),
            format!("127.0.0.1:{scheduler_port}"),
        ],
        "scheduler.log",
    );
    std::thread::sleep(Duration::from_secs(2));
    let work = logs.path().join("work");
    std::fs::create_dir_all(&work).expect("work dir");
    let _executor = spawn(
        vec![
            "cluster".into(),
            "executor".into(),
            "--scheduler".into(),
            format!("127.0.0.1:{scheduler_port}"),
            "--flight-port".into(),
            flight.to_string(),
            "--grpc-port".into(),
            grpc.to_string(),
            "--work-dir".into(),
            work.display().to_string(),
        ],
        "executor.log",
    );
    std::thread::sleep(Duration::from_secs(3));
    let url = format!("df://127.0.0.1:{scheduler_port}");
    let logs_text = || {
        ["scheduler.log", "executor.log"]
            .iter()
            .map(|f| std::fs::read_to_string(logs.path().join(f)).unwrap_or_default())
            .collect::<Vec<_>>()
            .join("\n---\n")
    };
    let list = run_ok(acrm().args(["report", "--list"]));
    let names: Vec<&str> = list
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert!(names.len() >= 8);
    for name in names {
        let local = run_ok(&mut s.on(&["report", name, "--format", "csv"]));
        let out = run(&mut s.on(&["report", name, "--format", "csv", "--cluster", &url]));
        assert!(
            out.status.success(),
            "report {name} on the cluster failed:\n{}\n{}",
            String::from_utf8_lossy(&out.stderr),
            logs_text()
        );
        assert_eq!(String::from_utf8_lossy(&out.stdout), local, "report {name}");
    }
    // Views, masking and acrm's scoring functions on the cluster.
    let card: serde_json::Value = serde_json::from_str(&run_ok(&mut s.on(&[
        "models",
        "show",
        "credit-v1",
        "--format",
        "json",
    ])))
    .expect("model card");
    let call = card["sql"].as_str().expect("sql call");
    let sql = format!(
        "SELECT count(*) AS n, sum({call}) AS points FROM fact_credit_application; \
         SELECT email FROM customer_360 WHERE email IS NOT NULL ORDER BY customer_id LIMIT 5"
    );
    let local = run_ok(&mut s.on(&["sql", "--format", "csv", &sql]));
    let out = run(&mut s.on(&["sql", "--format", "csv", "--cluster", &url, &sql]));
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        logs_text()
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), local);
    assert!(local.contains("***@"), "{local}");
}
