//! `acrm warehouse`: the kept versions (what time travel can read), verifying a version's
//! files against the sizes and checksums its manifest recorded, and restoring an older
//! version as the current one.

use std::path::PathBuf;

use acrm_olap::TableBuilder;
use acrm_store::integrity::{Verified, verify};
use acrm_store::{At, Manifest, Warehouse};
use anyhow::bail;
use clap::{Args, Subcommand};

use crate::output::{Format, print_batch};

/// Which warehouse.
#[derive(Args, Debug)]
pub struct Location {
    /// Warehouse folder [default: the config's [warehouse] path, $ACRM_WAREHOUSE, ./warehouse]
    #[arg(long, short)]
    warehouse: Option<PathBuf>,
    /// Mapping config whose [warehouse] path to use [default: $ACRM_CONFIG, ./acrm.toml, ./sample-data/acrm.toml]
    #[arg(long, short)]
    config: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

impl Location {
    fn open(&self) -> anyhow::Result<(Warehouse, Format)> {
        let root = crate::context::resolve_warehouse(self.warehouse.clone(), self.config.clone())?;
        Ok((Warehouse::new(root), self.format.printable()?))
    }
}

/// `acrm warehouse` subcommands.
#[derive(Subcommand, Debug)]
pub enum WarehouseCommand {
    /// List the kept versions: when and how each was built, what it loaded, its size.
    Versions(Location),
    /// Check every file of a version against the size and BLAKE3 its manifest recorded
    /// (exit 1 naming each damaged, missing or stray file).
    Verify {
        /// The version to check [default: the current one].
        #[arg(long = "version", value_name = "N", conflicts_with = "all")]
        version: Option<u64>,
        /// Check every kept version.
        #[arg(long)]
        all: bool,
        #[command(flatten)]
        at: Location,
    },
    /// Make kept version N current again, as a new version (the versions in between stay
    /// for time travel; the next build continues from N's content).
    Restore {
        /// The kept version to restore: its number, or `previous` (the newest one older
        /// than the current one: undoes the last build or publish).
        #[arg(value_name = "N|previous", value_parser = At::version)]
        version: At,
        #[command(flatten)]
        at: Location,
    },
}

/// Runs `acrm warehouse …`.
pub fn run(what: WarehouseCommand) -> anyhow::Result<()> {
    match what {
        WarehouseCommand::Versions(at) => versions(&at),
        WarehouseCommand::Verify { version, all, at } => check(&at, version, all),
        WarehouseCommand::Restore { version, at } => {
            let (wh, _) = at.open()?;
            let (from, n) = wh.restore(&version)?;
            eprintln!("version {from} restored as version {n}, now current");
            Ok(())
        }
    }
}

/// Rows the version itself loaded (its files, less those an earlier version loaded).
fn loaded_by(m: &Manifest) -> (usize, u64, u64) {
    let own: Vec<_> = m.files.iter().filter(|f| f.version == m.version).collect();
    (
        own.len(),
        own.iter().map(|f| f.rows_loaded).sum(),
        own.iter().map(|f| f.rows_quarantined).sum(),
    )
}

fn versions(at: &Location) -> anyhow::Result<()> {
    let (wh, format) = at.open()?;
    let current = wh.current()?.map(|(n, _)| n);
    let kept = wh.list()?;
    if kept.is_empty() {
        bail!(
            "{}: no version kept yet (run `acrm build`)",
            wh.root().display()
        );
    }
    let loaded: Vec<(usize, u64, u64)> = kept.iter().map(loaded_by).collect();
    let table = TableBuilder::new()
        .i64("version", kept.iter().map(|m| m.version as i64).collect())
        .bool(
            "current",
            kept.iter().map(|m| Some(m.version) == current).collect(),
        )
        .utf8(
            "built_at",
            &kept.iter().map(|m| m.built_at.as_str()).collect::<Vec<_>>(),
        )
        .utf8(
            "mode",
            &kept.iter().map(|m| m.mode.as_str()).collect::<Vec<_>>(),
        )
        .i64_opt(
            "restored_from",
            kept.iter()
                .map(|m| m.restored_from.map(|v| v as i64))
                .collect(),
        )
        .i64("files_loaded", loaded.iter().map(|l| l.0 as i64).collect())
        .i64("rows_loaded", loaded.iter().map(|l| l.1 as i64).collect())
        .i64(
            "rows_quarantined",
            loaded.iter().map(|l| l.2 as i64).collect(),
        )
        .i64(
            "fact_sales_rows",
            kept.iter()
                .map(|m| m.tables.get("fact_sales").copied().unwrap_or(0) as i64)
                .collect(),
        )
        .i64(
            "tables",
            kept.iter().map(|m| m.tables.len() as i64).collect(),
        )
        .i64(
            "bytes",
            kept.iter()
                .map(|m| m.sums.values().map(|s| s.bytes).sum::<u64>() as i64)
                .collect(),
        )
        .finish::<anyhow::Error>()?;
    print_batch(&table, format)
}

fn check(at: &Location, version: Option<u64>, all: bool) -> anyhow::Result<()> {
    let (wh, format) = at.open()?;
    let numbers = match (version, all) {
        (Some(n), _) => vec![n],
        (None, true) => wh.versions()?,
        (None, false) => vec![wh.require_current()?.0],
    };
    let mut results: Vec<(u64, Verified)> = Vec::new();
    for n in numbers {
        let pinned = wh.pin(&At::Version(n))?;
        results.push((n, verify(&pinned.dir, &pinned.manifest, true)?));
    }
    let summary = TableBuilder::new()
        .i64("version", results.iter().map(|r| r.0 as i64).collect())
        .i64("files", results.iter().map(|r| r.1.files as i64).collect())
        .i64("bytes", results.iter().map(|r| r.1.bytes as i64).collect())
        .utf8(
            "status",
            &results
                .iter()
                .map(|(_, v)| match (v.sealed, v.problems.len()) {
                    (false, _) => "not sealed (published before checksums were recorded)".into(),
                    (true, 0) => "ok".to_string(),
                    (true, k) => format!("damaged: {k} file(s)"),
                })
                .collect::<Vec<_>>(),
        )
        .finish::<anyhow::Error>()?;
    let problems: Vec<(u64, &acrm_store::integrity::Problem)> = results
        .iter()
        .flat_map(|(n, v)| v.problems.iter().map(move |p| (*n, p)))
        .collect();
    if format == Format::Json {
        let json: Vec<serde_json::Value> = results
            .iter()
            .map(|(n, v)| serde_json::json!({"version": n, "verified": v}))
            .collect();
        outln!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        print_batch(&summary, format)?;
        if !problems.is_empty() && format == Format::Table {
            let detail = TableBuilder::new()
                .i64("version", problems.iter().map(|p| p.0 as i64).collect())
                .utf8(
                    "file",
                    &problems
                        .iter()
                        .map(|p| p.1.file.as_str())
                        .collect::<Vec<_>>(),
                )
                .utf8(
                    "problem",
                    &problems
                        .iter()
                        .map(|p| p.1.damage.to_string())
                        .collect::<Vec<_>>(),
                )
                .finish::<anyhow::Error>()?;
            print_batch(&detail, format)?;
        }
    }
    if let Some((n, p)) = problems.first() {
        bail!(
            "version {n}: {} damaged file(s), the first {}: {}",
            problems.len(),
            p.file,
            p.damage
        );
    }
    Ok(())
}
