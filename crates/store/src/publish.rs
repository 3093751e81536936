//! Derived tables (mining marts, alerts) in a version: written into a version being built
//! (the nightly refresh), carried forward unchanged into the next one, or published on their
//! own as a new version (`acrm mine`) — the current version's files hard-linked, the new
//! tables written beside them, then the same atomic rename and `current` switch as a build.
//! A reader sees the old version or the new one, never a half-written table; a table no one
//! replaces is never dropped.

use std::fs;
use std::path::{Path, PathBuf};

use datafusion::arrow::array::RecordBatch;

use crate::manifest::{Derived, Manifest, now};
use crate::parquet::{link_tree, write_parquet};
use crate::warehouse::Warehouse;
use crate::{Error, Result, io};

/// How long a publish waits for a running build or another publish to finish.
const LOCK_PATIENCE: std::time::Duration = std::time::Duration::from_secs(60);

/// Publishes `tables` (name → rows), computed on the current version, as a new version of
/// the warehouse at `root`: every other table is carried over, tables of the same names are
/// replaced, and old versions are pruned to the warehouse's `keep_versions`. Star-schema
/// tables cannot be replaced this way. Returns the new version number and folder.
pub fn publish_tables(root: &Path, tables: &[(String, RecordBatch)]) -> Result<(u64, PathBuf)> {
    check_names(root, tables)?;
    let wh = Warehouse::new(root);
    let _lock = wh.lock_waiting(LOCK_PATIENCE)?;
    wh.clean_abandoned()?;
    let (n, current, mut manifest) = wh.published()?;
    let version = n + 1;
    let tmp = wh.begin(version)?;
    let written = link_tree(&current, &tmp).and_then(|()| {
        write_tables(&tmp, &mut manifest, tables, n)?;
        manifest.version = version;
        manifest.mode = "mine".into();
        manifest.built_at = now();
        manifest.write(&tmp)
    });
    if let Err(e) = written {
        let _ = fs::remove_dir_all(&tmp);
        return Err(e);
    }
    let dir = wh.publish(&tmp, version, manifest.keep_versions)?;
    tracing::info!(version, tables = tables.len(), "marts published");
    Ok((version, dir))
}

/// Writes `tables`, computed on version `computed_on`, into the unpublished version folder
/// `dir` (replacing folders of the same names), and records their rows and lineage in
/// `manifest`; the caller writes the manifest.
pub fn write_tables(
    dir: &Path,
    manifest: &mut Manifest,
    tables: &[(String, RecordBatch)],
    computed_on: u64,
) -> Result<()> {
    check_names(dir, tables)?;
    let computed_at = now();
    for (name, batch) in tables {
        let folder = dir.join(name);
        if folder.exists() {
            fs::remove_dir_all(&folder).map_err(io(&folder))?;
        }
        write_parquet(&folder.join("part-0.parquet"), std::slice::from_ref(batch))?;
        manifest
            .tables
            .insert(name.clone(), batch.num_rows() as u64);
        manifest.derived.insert(
            name.clone(),
            Derived {
                computed_on,
                computed_at: computed_at.clone(),
            },
        );
    }
    Ok(())
}

/// Hard-links every derived table of the version in `from` (manifest `prev`) that the
/// unpublished version folder `dir` does not hold into it, with its rows and lineage, so a
/// build that does not refresh a mart keeps it. Returns the names carried.
pub fn carry_forward(
    from: &Path,
    prev: &Manifest,
    dir: &Path,
    manifest: &mut Manifest,
) -> Result<Vec<String>> {
    let schema = acrm_schema::WarehouseSchema::builtin()?;
    let mut carried = Vec::new();
    for (name, rows) in &prev.tables {
        // Tables of the schema are the build's own; the rest are derived (manifests written
        // before lineage was recorded have no `derived` entry for them).
        if schema.table(name).is_ok() || dir.join(name).exists() || !from.join(name).is_dir() {
            continue;
        }
        link_tree(&from.join(name), &dir.join(name))?;
        manifest.tables.insert(name.clone(), *rows);
        manifest.derived.insert(
            name.clone(),
            prev.derived.get(name).cloned().unwrap_or(Derived {
                computed_on: prev.version,
                computed_at: prev.built_at.clone(),
            }),
        );
        carried.push(name.clone());
    }
    Ok(carried)
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
    use crate::parquet::{parquet_rows, read_parquet};

    fn ids(n: i64) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
        RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from_iter_values(0..n))])
            .expect("batch")
    }

    fn manifest(version: u64, keep_versions: usize) -> Manifest {
        Manifest {
            version,
            built_at: "2025-01-01T00:00:00Z".into(),
            mode: "full".into(),
            files: vec![],
            tables: BTreeMap::from([("fact_sales".to_string(), 3)]),
            calendar_years: (2024, 2024),
            identity_conflicts: vec![],
            duration_ms: 1,
            keep_versions,
            derived: BTreeMap::new(),
        }
    }

    /// A warehouse with version 1 holding one fact file and its manifest.
    fn warehouse(root: &Path, keep_versions: usize) -> PathBuf {
        let wh = Warehouse::new(root);
        let tmp = wh.begin(1).expect("begin");
        write_parquet(&tmp.join("fact_sales/year=2024/part-a.parquet"), &[ids(3)]).expect("write");
        manifest(1, keep_versions).write(&tmp).expect("manifest");
        wh.publish(&tmp, 1, keep_versions).expect("publish")
    }

    #[test]
    fn marts_are_published_as_a_new_version_beside_the_old_files() {
        let dir = tempfile::tempdir().expect("tmp");
        let v1 = warehouse(dir.path(), 3);
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
        assert_eq!(m.computed_on("mart_rfm"), 1, "computed on version 1's data");
        // Publishing again replaces the mart, it does not add to it.
        let (_, v3) = publish_tables(dir.path(), &[("mart_rfm".into(), ids(2))]).expect("again");
        assert_eq!(
            parquet_rows(&v3.join("mart_rfm/part-0.parquet")).expect("rows"),
            2
        );
    }

    #[test]
    fn every_publish_keeps_the_other_marts_and_prunes_to_keep_versions() {
        let dir = tempfile::tempdir().expect("tmp");
        warehouse(dir.path(), 2);
        publish_tables(dir.path(), &[("mart_basket_rules".into(), ids(4))]).expect("basket");
        for _ in 0..5 {
            publish_tables(dir.path(), &[("mart_rfm".into(), ids(1))]).expect("rfm");
        }
        let wh = Warehouse::new(dir.path());
        assert_eq!(wh.versions().expect("versions"), vec![6, 7]);
        let (_, v7, m) = wh.published().expect("published");
        assert_eq!(m.tables.get("mart_basket_rules"), Some(&4));
        assert_eq!(m.computed_on("mart_basket_rules"), 1);
        assert_eq!(m.computed_on("mart_rfm"), 6);
        assert_eq!(
            parquet_rows(&v7.join("mart_basket_rules/part-0.parquet")).expect("rows"),
            4
        );
    }

    #[test]
    fn a_new_version_carries_forward_the_marts_it_does_not_replace() {
        let dir = tempfile::tempdir().expect("tmp");
        warehouse(dir.path(), 3);
        publish_tables(
            dir.path(),
            &[
                ("mart_rfm".into(), ids(5)),
                ("mart_churn_score".into(), ids(7)),
            ],
        )
        .expect("publish");
        let wh = Warehouse::new(dir.path());
        let (_, v2, prev) = wh.published().expect("published");
        // The next build: its own tables, then the refreshed mart, the other one carried.
        let tmp = wh.begin(3).expect("begin");
        let mut next = manifest(3, 3);
        write_tables(&tmp, &mut next, &[("mart_rfm".into(), ids(6))], 3).expect("refresh");
        let carried = carry_forward(&v2, &prev, &tmp, &mut next).expect("carry");
        assert_eq!(carried, vec!["mart_churn_score".to_string()]);
        assert_eq!(
            (next.computed_on("mart_rfm"), next.tables["mart_rfm"]),
            (3, 6),
            "the refreshed mart is not overwritten by the carried one"
        );
        assert_eq!(
            (
                next.computed_on("mart_churn_score"),
                next.tables["mart_churn_score"]
            ),
            (1, 7)
        );
        assert!(tmp.join("mart_churn_score/part-0.parquet").is_file());
        assert!(
            !tmp.join("fact_sales").exists(),
            "schema tables are the build's"
        );
    }

    #[test]
    fn schema_tables_and_odd_names_are_refused() {
        let dir = tempfile::tempdir().expect("tmp");
        warehouse(dir.path(), 3);
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
