//! `acrm`: the command line. `main` parses, dispatches to one module of [`commands`] a
//! command, and maps errors to exit codes (1 on any error, 0 when standard output closes
//! early); the work is done by the library crates, the printing by [`output`].
#![allow(clippy::print_stdout, clippy::print_stderr)]

#[macro_use]
mod output;
mod commands;
mod context;
mod progress;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "acrm",
    version,
    about = "Analytical CRM data warehouse and mining engine"
)]
#[command(
    after_help = "Examples:\n  acrm build                         build ./warehouse from the bundled sample-data/\n  acrm generate --out shop --customers 2000       synthetic exports with planted truth\n  acrm build --config shop/acrm.toml              (its warehouse: shop/warehouse)\n  acrm sql \"SELECT count(*) FROM customer_360\"\n\nEvery example in this help and the commands' is run by the tests (tests/help_examples.rs)."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    /// Rows a text table prints at most, the rest counted below it (0: every row); csv,
    /// json and parquet always hold every row.
    #[arg(long, global = true, default_value_t = output::DEFAULT_TOP, value_name = "N")]
    top: usize,
}

#[derive(Subcommand)]
enum Command {
    /// Load new export files into the warehouse and publish a new version.
    #[command(
        after_help = "Examples:\n  acrm build                         (config: ./acrm.toml, else ./sample-data/acrm.toml)\n  acrm build --config shop/acrm.toml --warehouse shop-warehouse\n  acrm build --full --format json    (rebuild everything; print the report as JSON)\n\nExit code 0 when the warehouse is published or already up to date, 1 on any error\n(the previous version stays published)."
    )]
    Build(commands::build::BuildArgs),
    /// Write deterministic synthetic CRM exports with planted ground truth.
    #[command(
        after_help = "Examples:\n  acrm generate --out shop                          night 1: history, acrm.toml, truth/\n  acrm generate --out shop --night 2                the next night's exports\n  acrm generate --out big --customers 20000         ~400k order lines (1000000: ~20M)"
    )]
    Generate(commands::generate::GenerateArgs),
    /// Run SQL over the current warehouse version (no query: an interactive shell).
    #[command(
        after_help = "Examples:\n  acrm sql \"SELECT branch_region, sum(revenue) FROM sales_cube GROUP BY ROLLUP(branch_region)\"\n  acrm sql -f top_customers.sql --format csv --output top.csv\n  acrm sql --format parquet --output c360.parquet \"SELECT * FROM customer_360\"\n  acrm sql                           (interactive; statements end with ';')\n  echo 'SELECT count(*) FROM fact_sales;' | acrm sql\n\nPII columns are masked unless --privileged. Only read-only statements run.\nExit code 1 on any SQL error."
    )]
    Sql(commands::sql::SqlArgs),
    /// Run a named report (SQL files: built-in ones plus your own in --reports DIR).
    #[command(
        after_help = "Examples:\n  acrm report --list\n  acrm report top_customers\n  acrm report cohort_retention --format csv --output cohorts.csv\n  acrm report --reports my-reports/ my_report      (my-reports/my_report.sql)\n  acrm report html --output report.html           (the warehouse summary, self-contained)\n  acrm report cohort_retention --chart cohorts.svg"
    )]
    Report(commands::report::ReportArgs),
    /// List the tables, views and mining marts of the current warehouse version.
    #[command(
        after_help = "Examples:\n  acrm tables\n  acrm tables --format csv\n  acrm tables --warehouse shop/warehouse"
    )]
    Tables(commands::catalog::TablesArgs),
    /// Show the columns of a table or view: type, nullability, PII flag, meaning.
    #[command(
        after_help = "Examples:\n  acrm describe customer_360          (a view's columns as the tables they come from)\n  acrm describe mart_rfm --format json"
    )]
    Describe(commands::catalog::DescribeArgs),
    /// Identity resolution: why records were merged into one customer, and the pairs left
    /// for review (from the identity_pairs table).
    #[command(
        after_help = "Examples:\n  acrm identity explain 42          the pairs behind customer 42, strongest first\n  acrm identity review --limit 20   the most likely pairs that were not merged"
    )]
    Identity {
        #[command(subcommand)]
        what: commands::identity::IdentityCommand,
    },
    /// Customer analysis: RFM, segments, value tiers, lifecycle, market baskets, credit
    /// scoring and churn (results published as mart_* tables that SQL can join).
    #[command(
        after_help = "Examples (each subcommand's --help has more):\n  acrm mine rfm\n  acrm mine segment --k 4\n  acrm mine basket --no-write\n  acrm mine churn train --kind logistic"
    )]
    Mine {
        #[command(subcommand)]
        what: commands::mine::MineCommand,
    },
    /// Early-warning alerts: over credit limit, overdue receivables, below sales plan, churn
    /// risk, purchase drop, expenses over budget (published as the alerts table).
    #[command(
        after_help = "Writes the alerts table unless --no-write. Rules: crates/mining/src/analysis/alerts/ (also in README.md).\nExamples:\n  acrm alerts\n  acrm alerts --as-of 2024-09-30 --format csv"
    )]
    Alerts(commands::mine::AlertsArgs),
    /// Campaigns: draw a target list with its control group; evaluate each campaign against
    /// its control group (uplift, incremental revenue, ROI).
    Campaign {
        #[command(subcommand)]
        what: commands::campaign::CampaignCommand,
    },
    /// The model registry: list, show, promote (champion) and delete trained models.
    #[command(
        after_help = "Models live in <warehouse>/models/. Examples:\n  acrm models list\n  acrm models show credit-v1\n  acrm models promote churn-v3\n  acrm models delete credit-v2"
    )]
    Models {
        #[command(subcommand)]
        what: commands::models::ModelsCommand,
    },
    /// Serve the warehouse over the PostgreSQL wire protocol (psql, BI tools, notebooks):
    /// SCRAM logins, read-only, PII masked and rows scoped by role, audited.
    #[command(
        after_help = "The --users file defines [server] (listen, limits, TLS, audit log), [roles.NAME] and\n[users.NAME] with SCRAM-SHA-256 password verifiers (see README, \"Serving SQL\").\nExamples:\n  echo 'pencil' | acrm hash-password         (a verifier for the users file)\n  acrm serve --users acrm-serve.toml\n  psql 'host=127.0.0.1 port=5433 user=alice dbname=acrm'"
    )]
    Serve(commands::serve::ServeArgs),
    /// Run a Ballista scheduler or executor that knows acrm's SQL functions (distributed
    /// queries: `acrm sql --cluster df://HOST:PORT`).
    #[command(
        after_help = "Examples (one machine; executors need the warehouse at the same path):\n  acrm cluster scheduler --listen 127.0.0.1:50050\n  acrm cluster executor --scheduler 127.0.0.1:50050 --flight-port 50051 --grpc-port 50052\n  acrm sql --cluster df://127.0.0.1:50050 \"SELECT count(*) FROM fact_sales\"\n  acrm report sales_rollup --cluster df://127.0.0.1:50050"
    )]
    Cluster {
        #[command(subcommand)]
        what: commands::serve::ClusterCommand,
    },
    /// Print the SCRAM-SHA-256 verifier of the password given on standard input (for the
    /// `password` of a user in the `acrm serve` users file; the password itself is never stored).
    #[command(
        after_help = "Examples:\n  echo 'pencil' | acrm hash-password\n  echo 'pencil' | acrm hash-password --iterations 100000"
    )]
    HashPassword {
        /// PBKDF2 rounds (at least 4096, PostgreSQL's default).
        #[arg(long, default_value_t = 4096, value_parser = clap::value_parser!(u32).range(4096..))]
        iterations: u32,
    },
    /// The warehouse's kept versions: list them, verify their files against their
    /// manifests, restore an older one (time travel reads them: `acrm sql --version N`).
    #[command(
        after_help = "Examples:\n  acrm warehouse versions\n  acrm warehouse verify            (the current version; exit 1 naming each damaged file)\n  acrm warehouse verify --all\n  acrm sql --version previous \"SELECT warehouse_version(), count(*) FROM fact_sales\"\n  acrm warehouse restore previous  (undo the last build or publish; or a version number)"
    )]
    Warehouse {
        #[command(subcommand)]
        what: commands::warehouse::WarehouseCommand,
    },
    /// Print the warehouse schema.
    #[command(
        after_help = "Examples:\n  acrm schema                  (tables and columns)\n  acrm schema --markdown       (warehouse-schema/README.md)"
    )]
    Schema {
        /// The Markdown reference page (as in warehouse-schema/README.md).
        #[arg(long)]
        markdown: bool,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    output::set_top(cli.top);
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let filter = tracing_subscriber::EnvFilter::try_from_env("ACRM_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(if tty { "warn" } else { "info" }));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    match run(cli.command, tty) {
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

/// Runs `command`; `tty`: standard error is a terminal (progress bars, log level).
fn run(command: Command, tty: bool) -> anyhow::Result<()> {
    use commands::*;
    match command {
        Command::Build(args) => build::run(args, tty),
        Command::Generate(args) => generate::run(args),
        Command::Sql(args) => sql::run(args),
        Command::Report(args) => report::run(args),
        Command::Tables(args) => catalog::tables(args),
        Command::Describe(args) => catalog::describe(args),
        Command::Identity { what } => identity::run(what),
        Command::Mine { what } => mine::run(what),
        Command::Alerts(args) => mine::alerts(args),
        Command::Campaign { what } => campaign::run(what),
        Command::Models { what } => models::models(what),
        Command::Serve(args) => serve::serve(args),
        Command::Cluster { what } => serve::cluster(what),
        Command::HashPassword { iterations } => serve::hash_password(iterations),
        Command::Schema { markdown } => schema::run(markdown),
        Command::Warehouse { what } => warehouse::run(what),
    }
}
