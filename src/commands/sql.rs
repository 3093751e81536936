//! `acrm sql`: statements from the command line, a file or the shell.

use std::path::PathBuf;

use anyhow::{Context, bail};
use clap::Args;

use crate::commands::query::{EngineArgs, ResultArgs, TravelArgs, run_query, split_statements};
use crate::context::runtime;

/// Flags of `acrm sql`.
#[derive(Args, Debug)]
pub struct SqlArgs {
    /// The query (omit for the shell, or use --file).
    query: Option<String>,
    /// Read the statements from this file.
    #[arg(long, short = 'f', conflicts_with = "query")]
    file: Option<PathBuf>,
    #[command(flatten)]
    result: ResultArgs,
    #[command(flatten)]
    engine: EngineArgs,
    #[command(flatten)]
    travel: TravelArgs,
}

/// Runs `acrm sql`: the statements of the query or file, else the shell.
pub fn run(args: SqlArgs) -> anyhow::Result<()> {
    let rt = runtime()?;
    let engine = args.engine.open_at(rt, &args.travel)?;
    let text = match (args.query, args.file) {
        (Some(q), _) => q,
        (None, Some(f)) => {
            std::fs::read_to_string(&f).with_context(|| format!("cannot read {}", f.display()))?
        }
        (None, None) => return crate::commands::shell::run(rt, &engine, args.result),
    };
    let statements = split_statements(&text);
    if statements.is_empty() {
        bail!("no SQL statement given");
    }
    if statements.len() > 1 && args.result.output.is_some() {
        bail!(
            "--output takes the result of one statement; the script has {}",
            statements.len()
        );
    }
    for stmt in &statements {
        run_query(rt, &engine, stmt, &args.result)?;
    }
    Ok(())
}
