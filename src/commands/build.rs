//! `acrm build`: load new export files into the warehouse and publish a new version, with
//! the nightly refresh of marts, cube aggregates and materialized reports; prints the
//! reconciliation.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use clap::Args;

use crate::context::{default_config, runtime, warehouse_of};
use crate::output::Format;
use crate::progress;

/// Flags of `acrm build`.
#[derive(Args, Debug)]
pub struct BuildArgs {
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
    /// Do not refresh the cube aggregates and materialized reports this time: the new
    /// version has none, so queries read the facts until a build refreshes them.
    #[arg(long)]
    no_aggregates: bool,
    /// Report format.
    #[arg(long, value_enum, default_value = "table")]
    format: Format,
}

/// Runs `acrm build`; `tty` draws a progress bar.
pub fn run(args: BuildArgs, tty: bool) -> anyhow::Result<()> {
    let format = args.format.printable()?;
    let path = match args.config {
        Some(p) => p,
        None => default_config()?,
    };
    let cfg = acrm_etl::BuildConfig::load(&path)?;
    let warehouse = warehouse_of(args.warehouse, Some(&cfg));
    let progress = progress::Reporter::new(tty && format == Format::Table);
    let rt = runtime()?;
    let derive = if args.no_marts {
        None
    } else {
        acrm_mining::analysis::refresh::MartRefresh::new(
            &cfg.marts.refresh,
            cfg.marts.segment_k,
            &warehouse,
            rt.handle().clone(),
        )
        .map(|r| Arc::new(r) as Arc<dyn acrm_store::DeriveTables>)
    };
    let report = acrm_etl::build(
        &cfg,
        &acrm_etl::BuildOptions {
            warehouse: warehouse.clone(),
            full: args.full,
            derive,
            aggregates: (!args.no_aggregates).then(|| {
                Arc::new(acrm_olap::aggregate::AggregateRefresh::new(
                    rt.handle().clone(),
                )) as Arc<dyn acrm_store::RefreshAggregates>
            }),
        },
        &progress,
    );
    // The last stage's line ends, built or not.
    acrm_etl::Progress::finish(&progress);
    let report = report.with_context(|| {
        format!(
            "build of {} failed; the previously published version is untouched",
            warehouse.display()
        )
    })?;
    print_build(&report, &warehouse, format)
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
                "identity_conflicts": r.conflicts, "identity_changes": r.identity_changes,
                "duration_ms": r.duration.as_millis() as u64,
            });
            outln!("{}", serde_json::to_string_pretty(&v)?);
        }
        Format::Csv => {
            outln!("source,file,batch_date,rows_read,rows_loaded,rows_quarantined,values_nulled");
            for f in &r.loaded {
                outln!(
                    "{},{},{},{},{},{},{}",
                    f.source,
                    f.file,
                    f.batch_date,
                    f.rows_read,
                    f.rows_loaded,
                    f.rows_quarantined,
                    f.values_nulled
                );
            }
        }
        Format::Table | Format::Parquet => {
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
                let nulled: u64 = r.loaded.iter().map(|f| f.values_nulled).sum();
                if nulled > 0 {
                    outln!(
                        "{nulled} values did not parse and were loaded as null (null_invalid): see etl_nulled_values"
                    );
                }
            }
            outln!("\n{:<26} {:>12}", "table", "rows");
            for (t, n) in &r.tables {
                outln!("{t:<26} {n:>12}");
            }
            for c in &r.identity_changes {
                outln!(
                    "steward decision: customer {} {} customer {} ({} / {})",
                    c.kept,
                    match c.change {
                        acrm_etl::identity::ChangeKind::Split => "split off",
                        acrm_etl::identity::ChangeKind::Merged => "absorbed",
                    },
                    c.other,
                    c.records.0,
                    c.records.1
                );
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
