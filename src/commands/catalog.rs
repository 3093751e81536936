//! `acrm tables` and `acrm describe` (and the shell's `\d`): what the current version serves,
//! with row counts, mart lineage, column types, PII flags and meanings.

use acrm_olap::Engine;
use clap::Args;

use crate::commands::query::{EngineArgs, TravelArgs};
use crate::context::runtime;
use crate::output::Format;

/// Flags of `acrm tables`.
#[derive(Args, Debug)]
pub struct TablesArgs {
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    #[command(flatten)]
    engine: EngineArgs,
    #[command(flatten)]
    travel: TravelArgs,
}

/// Flags of `acrm describe`.
#[derive(Args, Debug)]
pub struct DescribeArgs {
    /// Table or view name.
    table: String,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
    #[command(flatten)]
    engine: EngineArgs,
    #[command(flatten)]
    travel: TravelArgs,
}

/// Runs `acrm tables`.
pub fn tables(args: TablesArgs) -> anyhow::Result<()> {
    let engine = args.engine.open_at(runtime()?, &args.travel)?;
    print_tables(&engine, args.format.printable()?)
}

/// Runs `acrm describe`.
pub fn describe(args: DescribeArgs) -> anyhow::Result<()> {
    let rt = runtime()?;
    let engine = args.engine.open_at(rt, &args.travel)?;
    print_describe(rt, &engine, &args.table, args.format.printable()?)
}

/// `acrm tables`.
pub fn print_tables(engine: &Engine, format: Format) -> anyhow::Result<()> {
    match format {
        Format::Json => outln!("{}", serde_json::to_string_pretty(engine.tables())?),
        Format::Csv => {
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
                "{:<32} {:<10} {:>12} {:>11}  description",
                "name",
                "kind",
                "rows",
                "computed_on"
            );
            for t in engine.tables() {
                outln!(
                    "{:<32} {:<10} {:>12} {:>11}  {}",
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
    format: Format,
) -> anyhow::Result<()> {
    let cols = rt.block_on(engine.describe(name))?;
    match format {
        Format::Json => outln!("{}", serde_json::to_string_pretty(&cols)?),
        Format::Csv => {
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
            if let Some(t) = engine.tables().iter().find(|t| t.name == name) {
                let rows = t.rows.map_or(String::new(), |n| format!(", {n} rows"));
                outln!("{name} ({}{rows}): {}", t.kind.name(), t.description);
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
