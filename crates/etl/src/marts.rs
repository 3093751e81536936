//! Publishing tables computed from the warehouse (mining marts, alerts) as a new version:
//! the current version's files hard-linked, the new tables written beside them, the
//! manifest carried over, then the same atomic rename and `current` switch as a build. A
//! reader sees the old version or the new one, never a half-written table.

use std::fs;
use std::path::{Path, PathBuf};

use datafusion::arrow::array::RecordBatch;

use crate::build::Manifest;
use crate::store::{Warehouse, io, link_tree, write_parquet};
use crate::{Error, Result};

/// Publishes `tables` (name → rows) into a new version of the warehouse at `root`, replacing
/// tables of the same names; the star-schema tables cannot be replaced this way. Returns the
/// new version number and folder. Older versions are left for the next build to prune. Waits
/// up to a minute for another build or publish to finish.
pub fn publish_tables(root: &Path, tables: &[(String, RecordBatch)]) -> Result<(u64, PathBuf)> {
    check_names(root, tables)?;
    let wh = Warehouse::new(root);
    let _lock = wh.lock_waiting(std::time::Duration::from_secs(60))?;
    wh.clean_abandoned()?;
    let (n, current) = wh.current()?.ok_or_else(|| Error::Warehouse {
        path: root.into(),
        message: "no published version to add tables to: run `acrm build` first".into(),
    })?;
    let version = n + 1;
    let tmp = wh.begin(version)?;
    link_tree(&current, &tmp)?;
    let mut manifest = Manifest::read(&current)?;
    write_tables(&tmp, &mut manifest, tables)?;
    manifest.version = version;
    manifest.mode = "mine".into();
    manifest.built_at = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    manifest.write(&tmp)?;
    let dir = wh.publish(&tmp, version, usize::MAX)?;
    tracing::info!(version, tables = tables.len(), "marts published");
    Ok((version, dir))
}

/// Writes `tables` into the unpublished version folder `dir` (replacing folders of the same
/// names) and counts their rows in `manifest`; the caller writes the manifest.
pub(crate) fn write_tables(
    dir: &Path,
    manifest: &mut Manifest,
    tables: &[(String, RecordBatch)],
) -> Result<()> {
    check_names(dir, tables)?;
    for (name, batch) in tables {
        let folder = dir.join(name);
        if folder.exists() {
            fs::remove_dir_all(&folder).map_err(io(&folder))?;
        }
        write_parquet(&folder.join("part-0.parquet"), std::slice::from_ref(batch))?;
        manifest
            .tables
            .insert(name.clone(), batch.num_rows() as u64);
    }
    Ok(())
}

/// Refuses names that are not plain lowercase identifiers or that are star-schema tables.
fn check_names(root: &Path, tables: &[(String, RecordBatch)]) -> Result<()> {
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
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::Arc;

    use datafusion::arrow::array::Int64Array;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    use super::*;
    use crate::store::{parquet_rows, read_parquet};

    fn ids(n: i64) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
        RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from_iter_values(0..n))])
            .expect("batch")
    }

    /// A warehouse with version 1 holding one fact file and its manifest.
    fn warehouse(root: &Path) -> PathBuf {
        let wh = Warehouse::new(root);
        let tmp = wh.begin(1).expect("begin");
        write_parquet(&tmp.join("fact_sales/year=2024/part-a.parquet"), &[ids(3)]).expect("write");
        let manifest = Manifest {
            version: 1,
            built_at: "2025-01-01T00:00:00Z".into(),
            mode: "full".into(),
            files: vec![],
            tables: BTreeMap::from([("fact_sales".to_string(), 3)]),
            calendar_years: (2024, 2024),
            identity_conflicts: vec![],
            duration_ms: 1,
        };
        fs::write(
            tmp.join("manifest.json"),
            serde_json::to_string(&manifest).expect("json"),
        )
        .expect("manifest");
        wh.publish(&tmp, 1, 3).expect("publish")
    }

    #[test]
    fn marts_are_published_as_a_new_version_beside_the_old_files() {
        let dir = tempfile::tempdir().expect("tmp");
        let v1 = warehouse(dir.path());
        let (version, v2) =
            publish_tables(dir.path(), &[("mart_rfm".into(), ids(5))]).expect("publish");
        assert_eq!(version, 2);
        assert_eq!(
            Warehouse::new(dir.path())
                .current()
                .expect("current")
                .map(|c| c.0),
            Some(2)
        );
        assert_eq!(
            parquet_rows(&v2.join("mart_rfm/part-0.parquet")).expect("rows"),
            5
        );
        let fact = "fact_sales/year=2024/part-a.parquet";
        assert_eq!(read_parquet(&v2.join(fact)).expect("fact")[0], ids(3));
        assert!(v1.join(fact).exists(), "the old version is left whole");
        let m = Manifest::read(&v2).expect("manifest");
        assert_eq!((m.version, m.mode.as_str()), (2, "mine"));
        assert_eq!(m.tables.get("mart_rfm"), Some(&5));
        assert_eq!(m.tables.get("fact_sales"), Some(&3));
        // Publishing again replaces the mart, it does not add to it.
        let (_, v3) = publish_tables(dir.path(), &[("mart_rfm".into(), ids(2))]).expect("again");
        assert_eq!(
            parquet_rows(&v3.join("mart_rfm/part-0.parquet")).expect("rows"),
            2
        );
    }

    #[test]
    fn schema_tables_and_odd_names_are_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        warehouse(dir.path());
        for name in ["dim_customer", "Mart", "../x", "_state", ""] {
            let e = publish_tables(dir.path(), &[(name.into(), ids(1))]);
            assert!(e.is_err(), "{name} accepted");
        }
        assert_eq!(
            Warehouse::new(dir.path())
                .current()
                .expect("current")
                .map(|c| c.0),
            Some(1),
            "nothing published"
        );
        let empty = tempfile::tempdir().expect("tmp");
        assert!(publish_tables(empty.path(), &[("mart_x".into(), ids(1))]).is_err());
    }
}
