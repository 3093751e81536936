//! What every command runs with: the process's one tokio runtime, and the mapping config and
//! warehouse folder it works on (flags, then environment, then defaults — one rule for all).

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use anyhow::bail;

/// The process's tokio runtime, made on first use (`acrm serve` runs its own, with the
/// large stacks its planner needs, and never asks for this one).
pub fn runtime() -> anyhow::Result<&'static tokio::runtime::Runtime> {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    if let Some(rt) = RUNTIME.get() {
        return Ok(rt);
    }
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    Ok(RUNTIME.get_or_init(|| rt))
}

/// The mapping config: `$ACRM_CONFIG`, else `./acrm.toml`, else `./sample-data/acrm.toml`.
pub fn default_config() -> anyhow::Result<PathBuf> {
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
pub fn resolve_warehouse(
    flag: Option<PathBuf>,
    config: Option<PathBuf>,
) -> anyhow::Result<PathBuf> {
    if flag.is_some() {
        return Ok(warehouse_of(flag, None));
    }
    let config = match config {
        Some(c) => Some(c),
        None => default_config().ok(),
    };
    let loaded = config
        .map(|c| acrm_etl::BuildConfig::load(&c))
        .transpose()?;
    Ok(warehouse_of(None, loaded.as_ref()))
}

/// The warehouse folder of a loaded config, by the rule of [`resolve_warehouse`].
pub fn warehouse_of(flag: Option<PathBuf>, config: Option<&acrm_etl::BuildConfig>) -> PathBuf {
    flag.or_else(|| config.and_then(|c| c.warehouse.clone()))
        .or_else(|| std::env::var_os("ACRM_WAREHOUSE").map(PathBuf::from))
        .unwrap_or_else(|| PathBuf::from("warehouse"))
}
