//! The flags every command that queries the warehouse shares ([`EngineArgs`]: which
//! warehouse, role, limits; [`ResultArgs`]: how results are printed), running one statement
//! ([`run_query`]) and splitting a script into statements ([`split_statements`]); used by
//! `acrm sql`, the shell, the catalog commands and the analyses.

use std::path::PathBuf;
use std::time::Duration;

use acrm_olap::{Engine, EngineOptions};
use acrm_store::At;
use anyhow::{Context, bail};
use clap::Args;

use crate::output::{Format, write_table};

/// Flags every command that queries the warehouse takes.
#[derive(Args, Debug, Clone)]
pub struct EngineArgs {
    /// Warehouse folder [default: the config's [warehouse] path, $ACRM_WAREHOUSE, ./warehouse]
    #[arg(long, short)]
    pub warehouse: Option<PathBuf>,
    /// Mapping config whose [warehouse] path to use [default: $ACRM_CONFIG, ./acrm.toml, ./sample-data/acrm.toml]
    #[arg(long, short)]
    pub config: Option<PathBuf>,
    /// Show personal data unmasked (privileged role; also $ACRM_PRIVILEGED=1).
    #[arg(long, env = "ACRM_PRIVILEGED", value_parser = clap::builder::FalseyValueParser::new())]
    pub privileged: bool,
    /// Memory all running queries may use, in MiB (operators spill to disk past it)
    /// [default: half the physical memory]
    #[arg(long, value_name = "MIB")]
    pub memory_limit: Option<usize>,
    /// Cancel a query after this many seconds.
    #[arg(long, default_value_t = 600, value_name = "SECONDS")]
    pub timeout: u64,
    /// Read the facts even where a cube aggregate covers a query (aggregate navigation
    /// off: to compare, or to time the raw query).
    #[arg(long)]
    pub no_aggregates: bool,
    /// Run the queries on the Ballista cluster whose scheduler is at this URL
    /// (`acrm cluster scheduler`; e.g. df://127.0.0.1:50050).
    #[arg(long, env = "ACRM_CLUSTER", value_name = "df://HOST:PORT")]
    pub cluster: Option<String>,
}

impl EngineArgs {
    /// The warehouse folder these flags name.
    pub fn warehouse(&self) -> anyhow::Result<PathBuf> {
        crate::context::resolve_warehouse(self.warehouse.clone(), self.config.clone())
    }

    /// Opens the warehouse's current version with these options (for the analyses: no model
    /// scoring functions).
    pub fn open(&self, rt: &tokio::runtime::Runtime) -> anyhow::Result<Engine> {
        self.open_with(rt, false, At::Current)
    }

    /// Opens it for users' SQL (`acrm sql`, reports, `tables`, `describe`): with the model
    /// scoring functions and the `churn_features` view.
    pub fn open_for_queries(&self, rt: &tokio::runtime::Runtime) -> anyhow::Result<Engine> {
        self.open_with(rt, true, At::Current)
    }

    /// [`EngineArgs::open_for_queries`] on the kept version `travel` names.
    pub fn open_at(
        &self,
        rt: &tokio::runtime::Runtime,
        travel: &TravelArgs,
    ) -> anyhow::Result<Engine> {
        self.open_with(rt, true, travel.at())
    }

    fn open_with(
        &self,
        rt: &tokio::runtime::Runtime,
        models: bool,
        at: At,
    ) -> anyhow::Result<Engine> {
        let warehouse = self.warehouse()?;
        let options = EngineOptions {
            at,
            privileged: self.privileged,
            memory_limit: self
                .memory_limit
                .map_or_else(acrm_olap::default_memory_limit, |m| {
                    m.saturating_mul(1 << 20)
                }),
            timeout: Duration::from_secs(self.timeout),
            aggregates: !self.no_aggregates,
            ..EngineOptions::default()
        };
        rt.block_on(async {
            let mut engine = match &self.cluster {
                Some(url) => {
                    let ctx = crate::commands::serve::cluster_context(url).await?;
                    Engine::open_in_context(&warehouse, ctx, options).await?
                }
                None => Engine::open(&warehouse, options).await?,
            };
            if models {
                acrm_mining::model::udf::register(&mut engine, &warehouse).await?;
            }
            anyhow::Ok(engine)
        })
        .with_context(|| format!("cannot open warehouse {}", warehouse.display()))
    }
}

/// Time travel: which kept version a reading command reads (`acrm warehouse versions`
/// lists them).
#[derive(Args, Debug, Clone, Default)]
pub struct TravelArgs {
    /// Read kept version N (or `previous`: the newest one older than the current one).
    #[arg(long = "version", value_name = "N|previous", value_parser = At::version, conflicts_with = "as_of_build")]
    pub version: Option<At>,
    /// Read the newest kept version built by this date (end of day, UTC) or RFC 3339 time.
    #[arg(long, value_name = "DATE", value_parser = At::built_by)]
    pub as_of_build: Option<At>,
}

impl TravelArgs {
    /// The version these flags name.
    pub fn at(&self) -> At {
        self.version
            .clone()
            .or_else(|| self.as_of_build.clone())
            .unwrap_or_default()
    }
}

/// Where and how query results are written.
#[derive(Args, Debug, Clone)]
pub struct ResultArgs {
    /// Result format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Write the result to this file instead of standard output.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// After each statement, print its planning + execution time and row count to stderr
    /// (like psql's `\timing`; the time excludes formatting the output).
    #[arg(long)]
    pub timing: bool,
}

/// Runs `sql` and writes its result as `result` says: in its format, to its output file or
/// standard output, with the engine's time and row count on stderr when it asks for timing.
/// Returns the rows (a report's chart is drawn from them).
pub fn run_query(
    rt: &tokio::runtime::Runtime,
    engine: &Engine,
    sql: &str,
    result: &ResultArgs,
) -> anyhow::Result<Vec<datafusion::arrow::array::RecordBatch>> {
    let ResultArgs {
        format,
        output,
        timing,
    } = result;
    if *format == Format::Parquet && output.is_none() {
        bail!("--format parquet writes binary data: give --output FILE.parquet");
    }
    let started = std::time::Instant::now();
    let (schema, batches) = rt.block_on(engine.query(sql))?;
    if *timing {
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        eprintln!(
            "Time: {:.3} ms, {rows} rows",
            started.elapsed().as_secs_f64() * 1e3
        );
    }
    write_table(&schema, &batches, *format, output.as_deref())?;
    Ok(batches)
}

/// Splits a script into statements at semicolons outside quotes and comments.
pub fn split_statements(script: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = script.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                cur.push(c);
                if c == q {
                    quote = None;
                }
            }
            None if c == '\'' || c == '"' => {
                quote = Some(c);
                cur.push(c);
            }
            None if c == '-' && chars.peek() == Some(&'-') => {
                for c in chars.by_ref() {
                    if c == '\n' {
                        cur.push('\n');
                        break;
                    }
                }
            }
            None if c == ';' => {
                if !cur.trim().is_empty() {
                    out.push(cur.trim().to_string());
                }
                cur.clear();
            }
            None => cur.push(c),
        }
    }
    if !cur.trim().is_empty() {
        out.push(cur.trim().to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::split_statements;

    #[test]
    fn statements_split_outside_quotes_and_comments() {
        let s = split_statements("SELECT ';' AS a; -- no; split\nSELECT 2;\n\n");
        assert_eq!(s, vec!["SELECT ';' AS a", "SELECT 2"]);
    }
}
