//! Publishing tables computed from the warehouse (mining marts, alerts) as a new version:
//! the current version's files hard-linked, the new tables written beside them, the
//! manifest carried over, then the same atomic rename and `current` switch as a build. A
//! reader sees the old version or the new one, never a half-written table.

use std::fs;
use std::path::{Path, PathBuf};

use datafusion::arrow::array::RecordBatch;

use crate::build::Manifest;
use crate::store::{Warehouse, link_tree, write_parquet};
use crate::{Error, Result};

/// Publishes `tables` (name → rows) into a new version of the warehouse at `root`, replacing
/// tables of the same names; the star-schema tables cannot be replaced this way. Returns the
/// new version number and folder. Older versions are left for the next build to prune.
pub fn publish_tables(root: &Path, tables: &[(String, RecordBatch)]) -> Result<(u64, PathBuf)> {
    let schema = acrm_schema::WarehouseSchema::builtin()?;
    for (name, _) in tables {
        let valid = !name.is_empty()
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && !name.starts_with('_');
        if !valid || schema.table(name).is_ok() {
            return Err(Error::Warehouse {
                path: root.into(),
                message: format!(
                    "'{name}' cannot be published as a mart (lowercase letters, digits and _, not a schema table)"
                ),
            });
        }
    }
    let wh = Warehouse::new(root);
    let _lock = wh.lock()?;
    wh.clean_abandoned()?;
    let (n, current) = wh.current()?.ok_or_else(|| Error::Warehouse {
        path: root.into(),
        message: "no published version to add tables to: run `acrm build` first".into(),
    })?;
    let version = n + 1;
    let tmp = wh.begin(version)?;
    let io = |path: &Path| {
        let path = path.to_path_buf();
        move |source| Error::Io { path, source }
    };
    link_tree(&current, &tmp)?;
    let mut manifest = Manifest::read(&current)?;
    for (name, batch) in tables {
        let dir = tmp.join(name);
        if dir.exists() {
            fs::remove_dir_all(&dir).map_err(io(&dir))?;
        }
        write_parquet(&dir.join("part-0.parquet"), std::slice::from_ref(batch))?;
        manifest
            .tables
            .insert(name.clone(), batch.num_rows() as u64);
    }
    manifest.version = version;
    manifest.mode = "mine".into();
    manifest.built_at = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%SZ").to_string();
    let path = tmp.join("manifest.json");
    let text = serde_json::to_string_pretty(&manifest).map_err(|e| Error::Warehouse {
        path: path.clone(),
        message: e.to_string(),
    })?;
    fs::write(&path, text).map_err(io(&path))?;
    let dir = wh.publish(&tmp, version, usize::MAX)?;
    tracing::info!(version, tables = tables.len(), "marts published");
    Ok((version, dir))
}
