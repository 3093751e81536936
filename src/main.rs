//! `acrm`: the command line. Argument parsing and printing only; the work is done by the
//! library crates (`acrm-etl`, `acrm-olap`, `acrm-mining`, `acrm-synth`, `acrm-schema`).
#![allow(clippy::print_stdout, clippy::print_stderr)]

/// `println!` that returns an error instead of panicking when standard output is closed
/// (`acrm tables | head`); `main` ends quietly on a broken pipe.
macro_rules! outln {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        writeln!(std::io::stdout(), $($arg)*)?;
    }};
}

/// `print!` counterpart of [`outln!`].
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        write!(std::io::stdout(), $($arg)*)?;
    }};
}

mod mine;
mod models;
mod progress;
mod serve;
mod sql;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use clap::{Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "acrm",
    version,
    about = "Analytical CRM data warehouse and mining engine"
)]
#[command(
    after_help = "Examples:\n  acrm build                         build ./warehouse from the bundled sample-data/\n  acrm generate --out /tmp/shop --customers 10000\n  acrm build --config /tmp/shop/acrm.toml\n  acrm schema --markdown"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// Output format of machine-readable results.
#[derive(Clone, Copy, ValueEnum, PartialEq)]
enum Format {
    /// For people.
    Human,
    /// One JSON document.
    Json,
    /// Comma-separated values with a header.
    Csv,
}

#[derive(Subcommand)]
enum Command {
    /// Load new export files into the warehouse and publish a new version.
    #[command(
        after_help = "Examples:\n  acrm build                         (config: ./acrm.toml, else ./sample-data/acrm.toml)\n  acrm build --config exports/acrm.toml --warehouse /srv/acrm\n  acrm build --full --format json    (rebuild everything; print the report as JSON)\n\nExit code 0 when the warehouse is published or already up to date, 1 on any error\n(the previous version stays published)."
    )]
    Build {
        /// Mapping config [default: $ACRM_CONFIG, ./acrm.toml, ./sample-data/acrm.toml]
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Warehouse folder [default: the config's [warehouse] path, $ACRM_WAREHOUSE, ./warehouse]
        #[arg(long, short)]
        warehouse: Option<PathBuf>,
        /// Rebuild from every export file instead of loading only new ones.
        #[arg(long)]
        full: bool,
        /// Do not refresh the marts this time (the config's [marts] says which it refreshes).
        #[arg(long)]
        no_marts: bool,
        /// Report format.
        #[arg(long, value_enum, default_value = "human")]
        format: Format,
    },
    /// Write deterministic synthetic CRM exports with planted ground truth.
    #[command(
        after_help = "Examples:\n  acrm generate --out /tmp/shop                      night 1: history, acrm.toml, truth/\n  acrm generate --out /tmp/shop --night 2            the next night's exports\n  acrm generate --out /tmp/big --customers 1000000   ~20M order lines"
    )]
    Generate {
        /// Output folder.
        #[arg(long)]
        out: PathBuf,
        /// Number of persons.
        #[arg(long, default_value_t = 2000)]
        customers: usize,
        /// Random seed.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Years of history.
        #[arg(long, default_value_t = 2)]
        years: u32,
        /// Night to write (1 = full history; 2.. = following days, needs night 1 in --out).
        #[arg(long, default_value_t = 1)]
        night: u32,
        /// Warehouse path written into the generated acrm.toml (relative to it).
        #[arg(long, default_value = "warehouse")]
        warehouse_path: String,
        /// Report format.
        #[arg(long, value_enum, default_value = "human")]
        format: Format,
    },
    /// Run SQL over the current warehouse version (no query: an interactive shell).
    #[command(
        after_help = "Examples:\n  acrm sql \"SELECT region, sum(revenue) FROM sales_cube GROUP BY ROLLUP(region)\"\n  acrm sql -f top_customers.sql --format csv --output top.csv\n  acrm sql --format parquet --output c360.parquet \"SELECT * FROM customer_360\"\n  acrm sql                           (interactive; statements end with ';')\n  echo 'SELECT count(*) FROM fact_sales;' | acrm sql\n\nPII columns are masked unless --privileged. Only read-only statements run.\nExit code 1 on any SQL error."
    )]
    Sql {
        /// The query (omit for the shell, or use --file).
        query: Option<String>,
        /// Read the statements from this file.
        #[arg(long, short = 'f', conflicts_with = "query")]
        file: Option<PathBuf>,
        #[command(flatten)]
        result: sql::ResultArgs,
        #[command(flatten)]
        engine: sql::EngineArgs,
    },
    /// Run a named report (SQL files: built-in ones plus your own in --reports DIR).
    #[command(
        after_help = "Examples:\n  acrm report --list\n  acrm report top_customers\n  acrm report cohort_retention --format csv --output cohorts.csv\n  acrm report --reports my-reports/ my_report      (my-reports/my_report.sql)\n  acrm report html --output report.html           (the warehouse summary, self-contained)\n  acrm report cohort_retention --chart cohorts.svg"
    )]
    Report {
        /// Report name (see --list), or `html` for the HTML summary of the warehouse
        /// (written to --output, default report.html).
        #[arg(required_unless_present = "list")]
        name: Option<String>,
        /// List the reports with their descriptions.
        #[arg(long)]
        list: bool,
        /// Folder with your own report .sql files (first line: a `--` description)
        #[arg(long, env = "ACRM_REPORTS", value_name = "DIR")]
        reports: Option<PathBuf>,
        /// Also draw the report's chart into this .svg or .png file (cohort_retention: the retention
        /// heat map of the first 12 months).
        #[arg(long, value_name = "FILE.svg|png")]
        chart: Option<PathBuf>,
        #[command(flatten)]
        result: sql::ResultArgs,
        #[command(flatten)]
        engine: sql::EngineArgs,
    },
    /// List the tables, views and mining marts of the current warehouse version.
    Tables {
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: sql::SqlFormat,
        #[command(flatten)]
        engine: sql::EngineArgs,
    },
    /// Show the columns of a table or view: type, nullability, PII flag, meaning.
    Describe {
        /// Table or view name.
        table: String,
        /// Output format.
        #[arg(long, value_enum, default_value = "table")]
        format: sql::SqlFormat,
        #[command(flatten)]
        engine: sql::EngineArgs,
    },
    /// Customer analysis: RFM scores, k-means segments (results published as mart_* tables).
    Mine {
        #[command(subcommand)]
        what: mine::MineCommand,
    },
    /// Early-warning alerts: over credit limit, overdue receivables, below sales plan, churn
    /// risk, purchase drop (published as the alerts table).
    #[command(
        after_help = "Writes the alerts table unless --no-write. Rules: crates/mining/src/alerts.rs (also in README.md).\nExamples:\n  acrm alerts\n  acrm alerts --as-of 2024-09-30 --format csv"
    )]
    Alerts {
        /// Pace window of the plan and purchase-drop checks, in days.
        #[arg(long, default_value_t = 90)]
        window_days: u32,
        /// Actual / planned revenue under which a customer is below plan.
        #[arg(long, default_value_t = 0.8)]
        plan_ratio: f64,
        /// Chance of the observed silence under which a customer is at churn risk.
        #[arg(long, default_value_t = 0.4)]
        churn_probability: f64,
        #[command(flatten)]
        common: mine::Common,
    },
    /// The model registry: list, show, promote (champion) and delete trained models.
    #[command(
        after_help = "Models live in <warehouse>/models/. Examples:\n  acrm models list\n  acrm models show credit-v1\n  acrm models promote churn-v3"
    )]
    Models {
        #[command(subcommand)]
        what: models::ModelsCommand,
    },
    /// Serve the warehouse over the PostgreSQL wire protocol (psql, BI tools, notebooks):
    /// SCRAM logins, read-only, PII masked and rows scoped by role, audited.
    #[command(
        after_help = "The --users file defines [server] (listen, limits, TLS, audit log), [roles.NAME] and\n[users.NAME] with SCRAM-SHA-256 password verifiers (see README, \"Serving SQL\").\nExamples:\n  echo 'pencil' | acrm hash-password         (a verifier for the users file)\n  acrm serve --users acrm-serve.toml\n  psql 'host=127.0.0.1 port=5433 user=alice dbname=acrm'"
    )]
    Serve {
        #[command(flatten)]
        args: serve::ServeArgs,
    },
    /// Run a Ballista scheduler or executor that knows acrm's SQL functions (distributed
    /// queries: `acrm sql --cluster df://HOST:PORT`).
    #[command(
        after_help = "Examples (one machine; executors need the warehouse at the same path):\n  acrm cluster scheduler --listen 127.0.0.1:50050\n  acrm cluster executor --scheduler 127.0.0.1:50050 --flight-port 50051 --grpc-port 50052\n  acrm sql --cluster df://127.0.0.1:50050 \"SELECT count(*) FROM fact_sales\"\n  acrm report sales_rollup --cluster df://127.0.0.1:50050"
    )]
    Cluster {
        #[command(subcommand)]
        what: serve::ClusterCommand,
    },
    /// Print the SCRAM-SHA-256 verifier of the password given on standard input (for the
    /// `password` of a user in the `acrm serve` users file; the password itself is never stored).
    HashPassword {
        /// PBKDF2 rounds (at least 4096, PostgreSQL's default).
        #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u32).range(4096..))]
        iterations: u32,
    },
    /// Print the warehouse schema.
    Schema {
        /// The Markdown reference page (as in warehouse-schema/README.md).
        #[arg(long)]
        markdown: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let filter = tracing_subscriber::EnvFilter::try_from_env("ACRM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(if tty { "warn" } else { "info" }));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    match run(cli, tty) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", error_chain(&e));
            ExitCode::FAILURE
        }
    }
}

/// True when the error is standard output closing under us (the reader quit, like `head`).
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            || c.to_string().contains("Broken pipe")
    })
}

/// The error and its causes joined by ": ", leaving out a cause whose text an earlier
/// message already contains (wrapped library errors often repeat their source).
fn error_chain(e: &anyhow::Error) -> String {
    let mut messages: Vec<String> = Vec::new();
    for cause in e.chain() {
        let m = cause.to_string();
        if !messages.iter().any(|p| p.contains(&m)) {
            messages.push(m);
        }
    }
    messages.join(": ")
}

fn default_config() -> anyhow::Result<PathBuf> {
    if let Some(p) = std::env::var_os("ACRM_CONFIG") {
        return Ok(PathBuf::from(p));
    }
    for p in ["acrm.toml", "sample-data/acrm.toml"] {
        if Path::new(p).is_file() {
            return Ok(PathBuf::from(p));
        }
    }
    bail!(
        "no config: pass --config FILE, set ACRM_CONFIG, or run where ./acrm.toml or ./sample-data/acrm.toml exists"
    )
}

/// The warehouse folder: `--warehouse`, else the config's `[warehouse] path` (the config
/// given or found by default), else `$ACRM_WAREHOUSE`, else `./warehouse`.
fn resolve_warehouse(flag: Option<PathBuf>, config: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    if let Some(w) = flag {
        return Ok(w);
    }
    let config = match config {
        Some(c) => Some(c),
        None => default_config().ok(),
    };
    if let Some(c) = config
        && let Some(w) = acrm_etl::BuildConfig::load(&c)?.warehouse
    {
        return Ok(w);
    }
    Ok(std::env::var_os("ACRM_WAREHOUSE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("warehouse")))
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn run(cli: Cli, tty: bool) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve { args } => serve::serve(args),
        Command::Cluster { what } => serve::cluster(what),
        Command::HashPassword { iterations } => serve::hash_password(iterations),
        Command::Sql {
            query,
            file,
            result,
            engine,
        } => {
            let rt = runtime()?;
            let engine = engine.open_for_queries(&rt)?;
            let text = match (query, file) {
                (Some(q), _) => q,
                (None, Some(f)) => std::fs::read_to_string(&f)
                    .with_context(|| format!("cannot read {}", f.display()))?,
                (None, None) => return sql::shell(&rt, &engine, result),
            };
            let statements = sql::split_statements(&text);
            if statements.is_empty() {
                bail!("no SQL statement given");
            }
            if statements.len() > 1 && result.output.is_some() {
                bail!(
                    "--output takes the result of one statement; the script has {}",
                    statements.len()
                );
            }
            for stmt in &statements {
                sql::run_query(&rt, &engine, stmt, &result)?;
            }
            Ok(())
        }
        Command::Report {
            name,
            list,
            reports,
            chart,
            result,
            engine,
        } => {
            if list {
                let all = acrm_olap::reports::catalog(reports.as_deref())?;
                match result.format {
                    sql::SqlFormat::Json => outln!("{}", serde_json::to_string_pretty(&all)?),
                    _ => {
                        for r in &all {
                            outln!("{:<24} {}", r.name, r.description);
                        }
                    }
                }
                return Ok(());
            }
            let name = name.context("name a report (acrm report --list)")?;
            if name == "html" {
                let rt = runtime()?;
                let warehouse = engine.warehouse()?;
                let engine = engine.open(&rt)?;
                let html = rt.block_on(acrm_report::summary::report(&engine, &warehouse))?;
                let path = result
                    .output
                    .unwrap_or_else(|| PathBuf::from("report.html"));
                std::fs::write(&path, html)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                eprintln!("report written to {}", path.display());
                return Ok(());
            }
            let report = acrm_olap::reports::find(reports.as_deref(), &name)?;
            let rt = runtime()?;
            let engine = engine.open_for_queries(&rt)?;
            let rows = sql::run_query(&rt, &engine, &report.sql, &result)
                .with_context(|| format!("report {name} ({})", report.origin))?;
            if let Some(path) = chart {
                if name != "cohort_retention" {
                    anyhow::bail!("report {name} has no chart (charts: cohort_retention)");
                }
                acrm_report::figures::cohort_retention(&rows, 12)?.save(&path)?;
                eprintln!("chart written to {}", path.display());
            }
            Ok(())
        }
        Command::Tables { format, engine } => {
            let rt = runtime()?;
            sql::print_tables(&engine.open_for_queries(&rt)?, format)
        }
        Command::Mine { what } => mine::run(what),
        Command::Models { what } => models::models(what),
        Command::Alerts {
            window_days,
            plan_ratio,
            churn_probability,
            common,
        } => mine::alerts(
            common,
            acrm_mining::alerts::AlertOptions {
                window_days,
                plan_ratio,
                churn_probability,
            },
        ),
        Command::Describe {
            table,
            format,
            engine,
        } => {
            let rt = runtime()?;
            let engine = engine.open_for_queries(&rt)?;
            sql::print_describe(&rt, &engine, &table, format)
        }
        Command::Build {
            config,
            warehouse,
            full,
            no_marts,
            format,
        } => {
            let path = match config {
                Some(p) => p,
                None => default_config()?,
            };
            let cfg = acrm_etl::BuildConfig::load(&path)?;
            let warehouse = warehouse
                .or_else(|| cfg.warehouse.clone())
                .or_else(|| std::env::var_os("ACRM_WAREHOUSE").map(PathBuf::from))
                .unwrap_or_else(|| PathBuf::from("warehouse"));
            let progress = progress::Reporter::new(tty && format == Format::Human);
            let rt = runtime()?;
            let derive = if no_marts {
                None
            } else {
                acrm_mining::refresh::MartRefresh::new(
                    &cfg.marts.refresh,
                    cfg.marts.segment_k,
                    &warehouse,
                    rt.handle().clone(),
                )
                .map(|r| std::sync::Arc::new(r) as std::sync::Arc<dyn acrm_store::DeriveTables>)
            };
            let report = acrm_etl::build(
                &cfg,
                &acrm_etl::BuildOptions {
                    warehouse: warehouse.clone(),
                    full,
                    derive,
                },
                &progress,
            )
            .with_context(|| {
                format!(
                    "build of {} failed; the previously published version is untouched",
                    warehouse.display()
                )
            })?;
            print_build(&report, &warehouse, format)
        }
        Command::Generate {
            out,
            customers,
            seed,
            years,
            night,
            warehouse_path,
            format,
        } => {
            let opts = acrm_synth::GenerateOptions {
                customers,
                seed,
                years,
                night,
                warehouse_path,
            };
            let r = acrm_synth::generate(&out, &opts)?;
            match format {
                Format::Json => outln!("{}", serde_json::to_string_pretty(&r)?),
                Format::Csv => {
                    outln!("file,rows");
                    for (f, n) in &r.files {
                        outln!("{f},{n}");
                    }
                }
                Format::Human => {
                    outln!(
                        "night {} ({}) written to {}",
                        r.night,
                        r.batch_date,
                        r.out_dir.display()
                    );
                    for (f, n) in &r.files {
                        outln!("  {n:>10} rows  {f}");
                    }
                    outln!(
                        "  {:>10} injected bad rows (listed in truth/night-{}/bad_rows.csv)",
                        r.bad_rows,
                        r.night
                    );
                }
            }
            Ok(())
        }
        Command::Schema { markdown } => {
            let schema = acrm_schema::WarehouseSchema::builtin()?;
            if markdown {
                out!(
                    "{}",
                    acrm_schema::render_markdown(&schema, &acrm_schema::SourceCatalog::builtin()?)
                );
            } else {
                for t in schema.tables() {
                    outln!("{}", t.name);
                    for c in &t.columns {
                        outln!(
                            "  {:<24} {:<14}{}",
                            c.name,
                            c.column_type.name(),
                            if c.pii { " PII" } else { "" }
                        );
                    }
                }
            }
            Ok(())
        }
    }
}

fn print_build(r: &acrm_etl::BuildReport, warehouse: &Path, format: Format) -> anyhow::Result<()> {
    let (status, version, path) = match &r.outcome {
        acrm_etl::Outcome::Published { version, path } => {
            ("published", *version, Some(path.display().to_string()))
        }
        acrm_etl::Outcome::UpToDate { version } => ("up_to_date", *version, None),
    };
    match format {
        Format::Json => {
            let v = serde_json::json!({
                "status": status, "version": version, "path": path, "files": r.loaded, "tables": r.tables,
                "identity_conflicts": r.conflicts, "duration_ms": r.duration.as_millis() as u64,
            });
            outln!("{}", serde_json::to_string_pretty(&v)?);
        }
        Format::Csv => {
            outln!("source,file,batch_date,rows_read,rows_loaded,rows_quarantined");
            for f in &r.loaded {
                outln!(
                    "{},{},{},{},{},{}",
                    f.source,
                    f.file,
                    f.batch_date,
                    f.rows_read,
                    f.rows_loaded,
                    f.rows_quarantined
                );
            }
        }
        Format::Human => {
            if status == "up_to_date" {
                outln!("warehouse version {version} is up to date: no new export files");
                return Ok(());
            }
            outln!(
                "published warehouse version {version} in {:.1}s",
                r.duration.as_secs_f64()
            );
            if !r.loaded.is_empty() {
                outln!(
                    "\n{:<20} {:>10} {:>10} {:>12}  file",
                    "source",
                    "read",
                    "loaded",
                    "quarantined"
                );
                for f in &r.loaded {
                    outln!(
                        "{:<20} {:>10} {:>10} {:>12}  {}",
                        f.source,
                        f.rows_read,
                        f.rows_loaded,
                        f.rows_quarantined,
                        f.file
                    );
                }
                let (read, loaded, q) = r.loaded.iter().fold((0, 0, 0), |a, f| {
                    (
                        a.0 + f.rows_read,
                        a.1 + f.rows_loaded,
                        a.2 + f.rows_quarantined,
                    )
                });
                outln!(
                    "{:<20} {read:>10} {loaded:>10} {q:>12}  (read = loaded + quarantined)",
                    "total"
                );
            }
            outln!("\n{:<26} {:>12}", "table", "rows");
            for (t, n) in &r.tables {
                outln!("{t:<26} {n:>12}");
            }
            if r.conflicts > 0 {
                outln!(
                    "\n{} identity conflicts need review (manifest.json: identity_conflicts)",
                    r.conflicts
                );
            }
            if let Some(p) = &path {
                let version = Path::new(p)
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy();
                outln!(
                    "\n{} -> versions/{version}",
                    warehouse.join("current").display()
                );
            }
        }
    }
    Ok(())
}
