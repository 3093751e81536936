//! `acrm sql`, `acrm tables`, `acrm describe`: argument handling and printing around
//! `acrm-olap`'s engine, and the interactive shell.

use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::time::Duration;

use acrm_olap::{Engine, EngineOptions, OutputFormat};
use anyhow::{Context, bail};
use clap::{Args, ValueEnum};

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
    /// Run the queries on the Ballista cluster whose scheduler is at this URL
    /// (`acrm cluster scheduler`; e.g. df://127.0.0.1:50050).
    #[arg(long, env = "ACRM_CLUSTER", value_name = "df://HOST:PORT")]
    pub cluster: Option<String>,
}

impl EngineArgs {
    /// The warehouse folder these flags name.
    pub fn warehouse(&self) -> anyhow::Result<PathBuf> {
        crate::resolve_warehouse(self.warehouse.clone(), self.config.clone())
    }

    /// Opens the warehouse's current version with these options (for the analyses: no model
    /// scoring functions).
    pub fn open(&self, rt: &tokio::runtime::Runtime) -> anyhow::Result<Engine> {
        self.open_with(rt, false)
    }

    /// Opens it for users' SQL (`acrm sql`, reports, `tables`, `describe`): with the model
    /// scoring functions and the `churn_features` view.
    pub fn open_for_queries(&self, rt: &tokio::runtime::Runtime) -> anyhow::Result<Engine> {
        self.open_with(rt, true)
    }

    fn open_with(&self, rt: &tokio::runtime::Runtime, models: bool) -> anyhow::Result<Engine> {
        let warehouse = self.warehouse()?;
        let options = EngineOptions {
            privileged: self.privileged,
            memory_limit: self
                .memory_limit
                .map_or_else(acrm_olap::default_memory_limit, |m| {
                    m.saturating_mul(1 << 20)
                }),
            timeout: Duration::from_secs(self.timeout),
            scope: None,
        };
        rt.block_on(async {
            let mut engine = match &self.cluster {
                Some(url) => {
                    let ctx = crate::serve::cluster_context(url).await?;
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

/// Where and how query results are written.
#[derive(Args, Debug, Clone)]
pub struct ResultArgs {
    /// Result format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: SqlFormat,
    /// Write the result to this file instead of standard output.
    #[arg(long, short)]
    pub output: Option<PathBuf>,
    /// After each statement, print its planning + execution time and row count to stderr
    /// (like psql's `\timing`; the time excludes formatting the output).
    #[arg(long)]
    pub timing: bool,
}

/// Output formats of `acrm sql`.
#[derive(Clone, Copy, ValueEnum, PartialEq, Debug)]
pub enum SqlFormat {
    /// Aligned table, for people.
    Table,
    /// Comma-separated values with a header.
    Csv,
    /// A JSON array of row objects.
    Json,
    /// Apache Parquet (needs --output).
    Parquet,
}

impl From<SqlFormat> for OutputFormat {
    fn from(f: SqlFormat) -> Self {
        match f {
            SqlFormat::Table => OutputFormat::Table,
            SqlFormat::Csv => OutputFormat::Csv,
            SqlFormat::Json => OutputFormat::Json,
            SqlFormat::Parquet => OutputFormat::Parquet,
        }
    }
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
    if *format == SqlFormat::Parquet && output.is_none() {
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
    match output {
        Some(path) => {
            let mut f = std::io::BufWriter::new(
                std::fs::File::create(path)
                    .with_context(|| format!("cannot create {}", path.display()))?,
            );
            acrm_olap::write_results(&schema, &batches, (*format).into(), &mut f)?;
            f.flush()?;
        }
        None => {
            let mut out = std::io::stdout().lock();
            acrm_olap::write_results(&schema, &batches, (*format).into(), &mut out)?;
        }
    }
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

/// The interactive shell: statements end with `;` and may span lines; `\d` lists tables,
/// `\d NAME` describes one, `\timing` toggles timing, `\q` quits. With piped standard input,
/// runs the statements read.
pub fn shell(
    rt: &tokio::runtime::Runtime,
    engine: &Engine,
    mut result: ResultArgs,
) -> anyhow::Result<()> {
    // The shell prints to the terminal: no output file, no binary format.
    result.output = None;
    if result.format == SqlFormat::Parquet {
        result.format = SqlFormat::Table;
    }
    if !std::io::stdin().is_terminal() {
        let mut script = String::new();
        std::io::stdin().read_to_string(&mut script)?;
        let mut failed = false;
        for stmt in split_statements(&script) {
            if let Err(e) = run_line(rt, engine, &stmt, &result) {
                eprintln!("error: {e:#}");
                failed = true;
            }
        }
        if failed {
            bail!("some statements failed");
        }
        return Ok(());
    }
    let mut editor = rustyline::DefaultEditor::new()?;
    let history = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".acrm_history"));
    if let Some(h) = &history {
        let _ = editor.load_history(h);
    }
    outln!(
        "acrm SQL shell on warehouse version {} ({}). End statements with ';'. \\d lists tables, \\d NAME describes one, \\timing times statements, \\q quits.",
        engine.version(),
        engine.dir().display()
    );
    let mut buffer = String::new();
    loop {
        let prompt = if buffer.is_empty() {
            "acrm> "
        } else {
            "   -> "
        };
        let line = match editor.readline(prompt) {
            Ok(l) => l,
            Err(rustyline::error::ReadlineError::Interrupted) => {
                buffer.clear();
                continue;
            }
            Err(rustyline::error::ReadlineError::Eof) => break,
            Err(e) => return Err(e.into()),
        };
        let trimmed = line.trim();
        if buffer.is_empty() && trimmed.starts_with('\\') {
            let _ = editor.add_history_entry(trimmed);
            if trimmed == "\\q" {
                break;
            }
            if trimmed == "\\timing" {
                result.timing = !result.timing;
                outln!("Timing is {}.", if result.timing { "on" } else { "off" });
                continue;
            }
            if let Err(e) = run_line(rt, engine, trimmed, &result) {
                eprintln!("error: {e:#}");
            }
            continue;
        }
        buffer.push_str(&line);
        buffer.push('\n');
        if trimmed.ends_with(';') {
            let _ = editor.add_history_entry(buffer.trim());
            for stmt in split_statements(&buffer) {
                if let Err(e) = run_line(rt, engine, &stmt, &result) {
                    eprintln!("error: {e:#}");
                }
            }
            buffer.clear();
        }
    }
    if let Some(h) = &history {
        let _ = editor.save_history(h);
    }
    Ok(())
}

/// One shell input: a backslash command or a statement.
fn run_line(
    rt: &tokio::runtime::Runtime,
    engine: &Engine,
    line: &str,
    result: &ResultArgs,
) -> anyhow::Result<()> {
    match line.strip_prefix("\\d") {
        Some(rest) if rest.trim().is_empty() => print_tables(engine, result.format),
        Some(rest) => print_describe(rt, engine, rest.trim(), result.format),
        None => run_query(rt, engine, line, result).map(drop),
    }
}

/// `acrm tables`.
pub fn print_tables(engine: &Engine, format: SqlFormat) -> anyhow::Result<()> {
    match format {
        SqlFormat::Json => outln!("{}", serde_json::to_string_pretty(engine.tables())?),
        SqlFormat::Csv => {
            outln!("name,kind,rows,computed_on,description");
            for t in engine.tables() {
                outln!(
                    "{},{},{},{},\"{}\"",
                    t.name,
                    t.kind.name(),
                    t.rows.map(|r| r.to_string()).unwrap_or_default(),
                    t.computed_on.map(|v| v.to_string()).unwrap_or_default(),
                    t.description.replace('"', "\"\"")
                );
            }
        }
        _ => {
            // Marts carry the version they were computed on: older than the version served
            // when a build carried them forward without refreshing them.
            outln!(
                "{:<26} {:<10} {:>12} {:>11}  description",
                "name",
                "kind",
                "rows",
                "computed_on"
            );
            for t in engine.tables() {
                outln!(
                    "{:<26} {:<10} {:>12} {:>11}  {}",
                    t.name,
                    t.kind.name(),
                    t.rows.map(|r| r.to_string()).unwrap_or_default(),
                    t.computed_on.map(|v| format!("v{v}")).unwrap_or_default(),
                    t.description
                );
            }
        }
    }
    Ok(())
}

/// `acrm describe TABLE`.
pub fn print_describe(
    rt: &tokio::runtime::Runtime,
    engine: &Engine,
    name: &str,
    format: SqlFormat,
) -> anyhow::Result<()> {
    let cols = rt.block_on(engine.describe(name))?;
    match format {
        SqlFormat::Json => outln!("{}", serde_json::to_string_pretty(&cols)?),
        SqlFormat::Csv => {
            outln!("column,type,nullable,pii,masked,description");
            for c in &cols {
                outln!(
                    "{},{},{},{},{},\"{}\"",
                    c.name,
                    c.data_type,
                    c.nullable,
                    c.pii,
                    c.masked,
                    c.description.replace('"', "\"\"")
                );
            }
        }
        _ => {
            let rows = engine
                .tables()
                .iter()
                .find(|t| t.name == name)
                .and_then(|t| t.rows);
            if let Some(n) = rows {
                outln!("{name}: {n} rows");
            }
            outln!(
                "{:<24} {:<28} {:<8} {:<10} description",
                "column",
                "type",
                "null",
                "pii"
            );
            for c in &cols {
                let pii = match (c.pii, c.masked) {
                    (true, true) => "PII masked",
                    (true, false) => "PII",
                    _ => "",
                };
                outln!(
                    "{:<24} {:<28} {:<8} {:<10} {}",
                    c.name,
                    c.data_type,
                    if c.nullable { "yes" } else { "no" },
                    pii,
                    c.description
                );
            }
        }
    }
    Ok(())
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
