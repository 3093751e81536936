//! Everything `acrm` prints to standard output goes through here: the `out!` / `outln!`
//! macros (a closed pipe ends the command quietly instead of panicking), the one `--format`
//! vocabulary every command shares, and result tables in each format.

use std::path::Path;
use std::sync::OnceLock;

use acrm_olap::OutputFormat;
use anyhow::{Context, bail};
use clap::ValueEnum;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::SchemaRef;

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

/// `--format` of every command.
#[derive(Clone, Copy, ValueEnum, PartialEq, Eq, Debug)]
pub enum Format {
    /// Aligned text, for people (`human` is accepted too).
    #[value(alias = "human")]
    Table,
    /// Comma-separated values with a header.
    Csv,
    /// JSON (a result table: an array of row objects).
    Json,
    /// Apache Parquet: result tables of `acrm sql` and `acrm report`, with --output.
    Parquet,
}

impl From<Format> for OutputFormat {
    fn from(f: Format) -> Self {
        match f {
            Format::Table => OutputFormat::Table,
            Format::Csv => OutputFormat::Csv,
            Format::Json => OutputFormat::Json,
            Format::Parquet => OutputFormat::Parquet,
        }
    }
}

impl Format {
    /// Refuses Parquet for a command that prints a report rather than a result table.
    pub fn printable(self) -> anyhow::Result<Self> {
        if self == Format::Parquet {
            bail!(
                "--format parquet is for result tables written with --output (acrm sql, acrm report); use table, csv or json"
            );
        }
        Ok(self)
    }
}

/// Rows a text table prints unless `--top` says otherwise.
pub const DEFAULT_TOP: usize = 20;

/// `--top` of this run (a global flag, so every command's tables obey the same one).
static TOP: OnceLock<usize> = OnceLock::new();

/// Sets the rows text tables print at most (0: all), once, from the command line.
pub fn set_top(rows: usize) {
    // Set once by `main` before any command runs; a second call keeps the first value.
    let _ = TOP.set(rows);
}

/// The rows a text table on the terminal prints at most (`None`: all).
pub fn top() -> Option<usize> {
    match TOP.get().copied().unwrap_or(DEFAULT_TOP) {
        0 => None,
        n => Some(n),
    }
}

/// Writes a result table in `format` to `output` (every row), or to standard output (a text
/// table bounded by `--top`).
pub fn write_table(
    schema: &SchemaRef,
    batches: &[RecordBatch],
    format: Format,
    output: Option<&Path>,
) -> anyhow::Result<()> {
    use std::io::Write as _;
    match output {
        Some(path) => {
            let mut f = std::io::BufWriter::new(
                std::fs::File::create(path)
                    .with_context(|| format!("cannot create {}", path.display()))?,
            );
            acrm_olap::write_results(schema, batches, format.into(), &mut f)?;
            f.flush()?;
        }
        None => {
            if format == Format::Parquet {
                bail!("--format parquet writes binary data: give --output FILE.parquet");
            }
            if format == Format::Table {
                outln!("{}", acrm_olap::human_table(schema, batches, top())?);
            } else {
                let mut out = std::io::stdout().lock();
                acrm_olap::write_results(schema, batches, format.into(), &mut out)?;
            }
        }
    }
    Ok(())
}

/// Prints one result table in `format` (not Parquet: those go to a file).
pub fn print_batch(batch: &RecordBatch, format: Format) -> anyhow::Result<()> {
    write_table(
        &batch.schema(),
        std::slice::from_ref(batch),
        format.printable()?,
        None,
    )
}
