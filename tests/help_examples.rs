//! Every example printed by `acrm --help` and by every subcommand's `--help` is run, as
//! printed, in a folder holding the bundled sample and the small files the examples name:
//! an example that stops working fails here (the `sql --help` example once queried a column
//! that had been renamed). Servers (`serve`, `cluster scheduler|executor`) must start and
//! listen, and stay up for the examples after them (the `psql` line connects to the served
//! warehouse); they are stopped when the test ends.

use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use datafusion::arrow::array::{Float64Array, Int64Array, RecordBatch};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::parquet::arrow::ArrowWriter;

use crate::common::*;

/// The port the users file of the `serve` example listens on (the `psql` example's).
const SERVE_PORT: u16 = 5433;

/// Processes started by server examples, killed when the test ends (passed or failed).
struct Servers(Vec<Child>);

impl Drop for Servers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

#[test]
fn every_help_example_runs() {
    let dir = tempdir();
    let root = dir.path();
    copy_dir(&repo().join("sample-data"), &root.join("sample-data"));
    fixtures(root);
    let examples = examples(&[]);
    assert!(examples.len() >= 60, "{} examples found", examples.len());
    let mut servers = Servers(Vec::new());
    for (help, line) in &examples {
        let (stdin, words) = parse(line);
        let (program, args) = words.split_first().expect("an example has a command");
        let mut command = match program.as_str() {
            "acrm" => acrm(),
            "psql" => {
                let mut c = Command::new(tool(&["psql"]));
                c.env("PGPASSWORD", "pencil");
                c
            }
            other => panic!("example of `acrm {help} --help` runs {other}: {line}"),
        };
        command.current_dir(root).args(args);
        if let Some(port) = server_port(args) {
            let log = root.join(format!("server-{}.log", servers.0.len()));
            servers.0.push(start(command, port, line, &log));
            continue;
        }
        let started = Instant::now();
        let out = match stdin {
            Some(text) => run_with_input(&mut command, text.as_bytes()),
            None => run(command.stdin(Stdio::null())),
        };
        assert!(
            out.status.success(),
            "example of `acrm {help} --help` failed: {line}\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        println!("{:>6.1} s  {line}", started.elapsed().as_secs_f64());
    }
    assert!(!servers.0.is_empty(), "the serve example started a server");
}

/// (command path, example) of `acrm PATH --help` and of every subcommand below it, depth
/// first in the order the help lists them.
fn examples(path: &[String]) -> Vec<(String, String)> {
    let help = run_ok(acrm().args(path).arg("--help"));
    let name = path.join(" ");
    let mut found: Vec<(String, String)> = example_lines(&help)
        .into_iter()
        .map(|e| (name.clone(), e))
        .collect();
    for sub in subcommands(&help) {
        let mut deeper = path.to_vec();
        deeper.push(sub);
        found.extend(examples(&deeper));
    }
    found
}

/// The subcommands a help text lists under `Commands:` (not `help`).
fn subcommands(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| *l != "Commands:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter(|l| l.starts_with("  ") && !l.starts_with("   "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|c| *c != "help")
        .map(str::to_string)
        .collect()
}

/// The example commands of a help text: the indented lines after a line that introduces
/// examples (`Examples:`, `Example:`, `Examples (…):`), each without its trailing comment
/// (set off by two or more spaces).
fn example_lines(help: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let mut inside = false;
    for line in help.lines() {
        if line.contains("Example") && line.trim_end().ends_with(':') {
            inside = true;
        } else if inside && line.starts_with("  ") {
            let command = line.trim_start().split("  ").next().unwrap_or_default();
            lines.push(command.trim().to_string());
        } else {
            inside = false;
        }
    }
    lines
}

/// An example split into words as a shell would (quotes kept together), with the text an
/// `echo '…' | ` before it sends to standard input.
fn parse(example: &str) -> (Option<String>, Vec<String>) {
    match example.split_once(" | ") {
        Some((echo, rest)) => {
            let text = words(echo)[1..].join(" ");
            (Some(format!("{text}\n")), words(rest))
        }
        None => (None, words(example)),
    }
}

/// `text` split at spaces outside single or double quotes, the quotes removed.
fn words(text: &str) -> Vec<String> {
    let (mut out, mut word, mut quote) = (Vec::new(), String::new(), None);
    for c in text.chars() {
        match (quote, c) {
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), _) if c == q => quote = None,
            (None, ' ') => {
                if !word.is_empty() {
                    out.push(std::mem::take(&mut word));
                }
            }
            _ => word.push(c),
        }
    }
    if !word.is_empty() {
        out.push(word);
    }
    out
}

/// The port a server example listens on, or `None` for a command that ends by itself.
fn server_port(args: &[String]) -> Option<u16> {
    let flag = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .map(String::as_str)
    };
    match args.first().map(String::as_str) {
        Some("serve") => Some(SERVE_PORT),
        Some("cluster") => flag("--listen")
            .and_then(|l| l.rsplit(':').next())
            .or_else(|| flag("--grpc-port"))
            .map(|p| p.parse().expect("port")),
        _ => None,
    }
}

/// Starts a server example and waits until it accepts connections on `port`; its log goes to
/// `log` (a file: an unread pipe would fill and stall the server). A port some other program
/// already holds fails the test naming it: else that program's answer would pass for ours.
fn start(mut command: Command, port: u16, line: &str, log: &Path) -> Child {
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "port {port} is taken by another program: `{line}` needs it free"
    );
    let file = std::fs::File::create(log).expect("server log");
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(file)
        .spawn()
        .expect("spawn server");
    let deadline = Instant::now() + Duration::from_secs(120);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Some(status) = child.try_wait().expect("server status") {
            let err = std::fs::read_to_string(log).unwrap_or_default();
            panic!("example {line} exited with {status} before listening:\n{err}");
        }
        assert!(Instant::now() < deadline, "{line} did not listen on {port}");
        std::thread::sleep(Duration::from_millis(200));
    }
    if line.contains(" executor ") {
        // Listening, the executor still has to register with the scheduler.
        std::thread::sleep(Duration::from_secs(3));
    }
    println!("listening  {line}");
    child
}

/// The files the examples name, in the folder they run in.
fn fixtures(root: &Path) {
    let write = |name: &str, text: &str| {
        let path = root.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("folder");
        }
        std::fs::write(path, text).expect("fixture");
    };
    write(
        "top_customers.sql",
        "SELECT customer_id, revenue FROM customer_360 ORDER BY revenue DESC LIMIT 10",
    );
    write(
        "my-reports/my_report.sql",
        "-- Customers per region.\nSELECT region, count(*) AS customers FROM customer_360 GROUP BY region ORDER BY region",
    );
    let baskets: String = (0..200)
        .map(|i| match i % 4 {
            0 => "whole milk,rolls/buns,yogurt\n",
            1 => "whole milk,yogurt\n",
            2 => "soda,rolls/buns\n",
            _ => "whole milk,other vegetables\n",
        })
        .collect();
    write("groceries.csv", &baskets);
    // A German-credit-like table: a long duration and a high amount make a default (2)
    // likelier, with noise so no split is perfect.
    let mut credit = String::from("duration,amount,age,default\n");
    for i in 0..400_u64 {
        let duration = 6 + (i * 7) % 60;
        let amount = 500 + (i * 937) % 15_000;
        let age = 19 + (i * 13) % 55;
        let risky = duration > 36 || amount > 11_000;
        let default = if risky != (i % 7 == 0) { 2 } else { 1 };
        credit.push_str(&format!("{duration},{amount},{age},{default}\n"));
    }
    write("german_credit.csv", &credit);
    // Purchase histories in mart_clv's columns: some buy steadily, some stopped long ago.
    let mut summaries =
        String::from("customer_id,frequency,recency_days,age_days,avg_repeat_spend\n");
    for i in 0..300_u64 {
        let age = 200 + (i * 37) % 500;
        let frequency = (i * 7) % 12;
        let recency = if frequency == 0 {
            0
        } else {
            age * (3 + i % 7) / 10
        };
        let spend = if frequency == 0 {
            0
        } else {
            20 + (i * 13) % 80
        };
        summaries.push_str(&format!("{i},{frequency},{recency},{age},{spend}\n"));
    }
    write("summaries.csv", &summaries);
    write_features(&root.join("features.parquet"));
    let verifier = crate::serve::verifier("pencil");
    write(
        "acrm-serve.toml",
        &format!(
            "[server]\nlisten = \"127.0.0.1:{SERVE_PORT}\"\n[roles.analyst]\n[users.alice]\nrole = \"analyst\"\npassword = \"{verifier}\"\n"
        ),
    );
}

/// `features.parquet` of the segment example: ids and two features in three clear groups.
fn write_features(path: &Path) {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("x", DataType::Float64, false),
        Field::new("y", DataType::Float64, false),
    ]));
    let n = 90_i64;
    let centre = |i: i64| [(0.0, 0.0), (10.0, 0.0), (0.0, 10.0)][(i % 3) as usize];
    let jitter = |i: i64| ((i * 37) % 11) as f64 / 10.0;
    let batch = RecordBatch::try_new(
        schema.clone(),
        vec![
            Arc::new(Int64Array::from_iter_values(0..n)),
            Arc::new(Float64Array::from_iter_values(
                (0..n).map(|i| centre(i).0 + jitter(i)),
            )),
            Arc::new(Float64Array::from_iter_values(
                (0..n).map(|i| centre(i).1 + jitter(i + 5)),
            )),
        ],
    )
    .expect("batch");
    let file = std::fs::File::create(path).expect("features file");
    let mut writer = ArrowWriter::try_new(file, schema, None).expect("writer");
    writer.write(&batch).expect("write");
    writer.close().expect("close");
}

#[test]
fn example_lines_are_read_without_their_comments() {
    let help = "Usage: acrm x\n\nExamples:\n  acrm build                 (config)\n  echo 'a b' | acrm sql\n\nExit code 0.\n";
    assert_eq!(
        example_lines(help),
        vec!["acrm build", "echo 'a b' | acrm sql"]
    );
    let (stdin, args) = parse("echo 'SELECT 1;' | acrm sql --format csv");
    assert_eq!(stdin.as_deref(), Some("SELECT 1;\n"));
    assert_eq!(args, vec!["acrm", "sql", "--format", "csv"]);
    assert_eq!(
        words(r#"acrm sql "SELECT a, b FROM t" -f x"#),
        vec!["acrm", "sql", "SELECT a, b FROM t", "-f", "x"]
    );
    assert_eq!(
        subcommands("Commands:\n  build  Load\n  help   Print\n\nOptions:\n"),
        vec!["build"]
    );
}
