//! `acrm generate`: deterministic synthetic CRM exports with planted ground truth.

use std::path::PathBuf;

use clap::Args;

use crate::output::Format;

/// Flags of `acrm generate`.
#[derive(Args, Debug)]
pub struct GenerateArgs {
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
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

/// Runs `acrm generate`.
pub fn run(args: GenerateArgs) -> anyhow::Result<()> {
    let format = args.format.printable()?;
    let opts = acrm_synth::GenerateOptions {
        customers: args.customers,
        seed: args.seed,
        years: args.years,
        night: args.night,
        warehouse_path: args.warehouse_path,
    };
    let r = acrm_synth::generate(&args.out, &opts)?;
    match format {
        Format::Json => outln!("{}", serde_json::to_string_pretty(&r)?),
        Format::Csv => {
            outln!("file,rows");
            for (f, n) in &r.files {
                outln!("{f},{n}");
            }
        }
        Format::Table | Format::Parquet => {
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
