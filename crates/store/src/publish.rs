//! Derived tables (mining marts, alerts) in a version: written into a version being built
//! (the nightly refresh), carried forward unchanged into the next one, or published on their
//! own as a new version (`acrm mine`) — the current version's files hard-linked, the new
//! tables written beside them, then the same atomic rename and `current` switch as a build.
//! A reader sees the old version or the new one, never a half-written table; a table no one
//! replaces is never dropped.

use std::fs;
use std::path::{Path, PathBuf};

use acrm_schema::Unit;
use datafusion::arrow::array::RecordBatch;
use datafusion::arrow::datatypes::Field;

use crate::manifest::{Derived, Manifest, now};
use crate::parquet::{link_tree, write_parquet};
use crate::warehouse::Warehouse;
use crate::{Error, Result, io};

/// Computes tables from a loaded but not yet published version folder (the nightly marts),
/// so they are published atomically with the facts they come from and never lag behind them.
pub trait DeriveTables: std::fmt::Debug + Send + Sync {
    /// Tables (name → rows) computed from the version in `dir`. An analysis that cannot run
    /// is the implementation's to report; its table is then carried forward from the
    /// previous version, if it had one.
    fn derive(&self, dir: &Path) -> Vec<(String, RecordBatch)>;
}

/// Brings the cube aggregates and materialized reports (`warehouse-schema/aggregates.toml`)
/// of a version being built up to date with its facts and marts before it is published, so
/// neither lags behind them.
pub trait RefreshAggregates: std::fmt::Debug + Send + Sync {
    /// Refreshes the aggregates in the unpublished version folder `dir`, reusing what `base`
    /// (the version it continues: folder and manifest) holds for the partitions this build
    /// did not change, and records them in `manifest`. An aggregate that cannot be refreshed
    /// is the implementation's to report and is left out of the version (queries then read
    /// the facts): a stale one would answer wrongly.
    fn refresh(&self, dir: &Path, base: Option<(&Path, &Manifest)>, manifest: &mut Manifest);
}

/// Whether table `name` belongs to a cube aggregate (an `agg_` table or an `aggdict_`
/// dictionary of one) or is a materialized report (`rpt_`): never carried forward by a
/// build, only refreshed.
pub fn is_aggregate_table(name: &str) -> bool {
    name.starts_with("agg_")
        || name.starts_with("aggdict_")
        || name.starts_with(acrm_schema::MATERIALIZED_PREFIX)
}

/// How long a publish waits for a running build or another publish to finish.
const LOCK_PATIENCE: std::time::Duration = std::time::Duration::from_secs(60);

/// Publishes `tables` (name → rows), computed on the current version, as a new version of
/// the warehouse at `root`: every other table is carried over, tables of the same names are
/// replaced, and old versions are pruned to the warehouse's `keep_versions`. Only declared
/// marts matching their declaration are published (see [`write_tables`]). Returns the new
/// version number and folder.
pub fn publish_tables(root: &Path, tables: &[(String, RecordBatch)]) -> Result<(u64, PathBuf)> {
    // Checked before the lock is taken and the version linked, and only once.
    let tables = conforming(root, tables)?;
    let wh = Warehouse::new(root);
    let _lock = wh.lock_waiting(LOCK_PATIENCE)?;
    wh.clean_abandoned()?;
    let (n, current, mut manifest) = wh.published()?;
    let version = n + 1;
    let tmp = wh.begin(version)?;
    let base = manifest.clone();
    let published = link_tree(&current, &tmp).and_then(|()| {
        write_checked(&tmp, &mut manifest, &tables, n)?;
        manifest.version = version;
        manifest.mode = "mine".into();
        manifest.built_at = now();
        manifest.restored_from = None;
        wh.publish(&tmp, &mut manifest, Some((&current, &base)))
    });
    let dir = match published {
        Ok(dir) => dir,
        Err(e) => {
            let _ = fs::remove_dir_all(&tmp);
            return Err(e);
        }
    };
    tracing::info!(version, tables = tables.len(), "marts published");
    Ok((version, dir))
}

/// Writes `tables`, computed on version `computed_on`, into the unpublished version folder
/// `dir` (replacing folders of the same names), and records their rows and lineage in
/// `manifest`; the caller writes the manifest. Each must be a mart declared in
/// `warehouse-schema/tables.toml` and match its declaration; it is written with the declared
/// schema.
pub fn write_tables(
    dir: &Path,
    manifest: &mut Manifest,
    tables: &[(String, RecordBatch)],
    computed_on: u64,
) -> Result<()> {
    let tables = conforming(dir, tables)?;
    write_checked(dir, manifest, &tables, computed_on)
}

/// [`write_tables`] of tables [`conforming`] has already checked.
fn write_checked(
    dir: &Path,
    manifest: &mut Manifest,
    tables: &[(String, RecordBatch)],
    computed_on: u64,
) -> Result<()> {
    let computed_at = now();
    for (name, batch) in tables {
        let folder = dir.join(name);
        if folder.exists() {
            fs::remove_dir_all(&folder).map_err(io(&folder))?;
        }
        write_parquet(
            &folder.join("part-0.parquet"),
            std::slice::from_ref(batch),
            &[],
        )?;
        manifest
            .tables
            .insert(name.clone(), batch.num_rows() as u64);
        manifest.derived.insert(
            name.clone(),
            Derived {
                computed_on,
                computed_at: computed_at.clone(),
                definition: None,
            },
        );
    }
    Ok(())
}

/// Hard-links every derived table of the version in `from` (manifest `prev`) that the
/// unpublished version folder `dir` does not hold into it, with its rows and lineage, so a
/// build that does not refresh a mart keeps it. Cube aggregates are never carried: one the
/// build could not refresh would describe older facts. Returns the names carried.
pub fn carry_forward(
    from: &Path,
    prev: &Manifest,
    dir: &Path,
    manifest: &mut Manifest,
) -> Result<Vec<String>> {
    let schema = acrm_schema::WarehouseSchema::builtin()?;
    let mut carried = Vec::new();
    for (name, rows) in &prev.tables {
        // The build writes its own tables; every other table is derived (manifests written
        // before lineage was recorded have no `derived` entry for them).
        let built = schema.table(name).is_ok_and(|t| t.kind.is_built());
        if built || is_aggregate_table(name) || dir.join(name).exists() || !from.join(name).is_dir()
        {
            continue;
        }
        link_tree(&from.join(name), &dir.join(name))?;
        manifest.tables.insert(name.clone(), *rows);
        manifest.derived.insert(
            name.clone(),
            prev.derived.get(name).cloned().unwrap_or(Derived {
                computed_on: prev.version,
                computed_at: prev.built_at.clone(),
                definition: None,
            }),
        );
        carried.push(name.clone());
    }
    Ok(carried)
}

/// Each of `tables` as it is written: a declared mart (`kind = "mart"` in
/// `warehouse-schema/tables.toml`) whose rows match its declaration exactly — the same
/// columns in the same order, the same types, no nulls where none are allowed — carrying the
/// declared schema. Anything else is refused, naming the table and the first difference.
fn conforming(root: &Path, tables: &[(String, RecordBatch)]) -> Result<Vec<(String, RecordBatch)>> {
    let schema = acrm_schema::WarehouseSchema::builtin()?;
    let refuse = |message: String| Error::Warehouse {
        path: root.into(),
        message,
    };
    tables
        .iter()
        .map(|(name, batch)| {
            let def = schema
                .table(name)
                .ok()
                .filter(|t| t.kind == acrm_schema::TableKind::Mart)
                .ok_or_else(|| {
                    refuse(format!(
                        "'{name}' is not a mart declared in warehouse-schema/tables.toml (kind = \"mart\"); only declared marts are published"
                    ))
                })?;
            let declared = def.arrow_schema();
            let found = batch.schema();
            let differs = |what: String| {
                refuse(format!(
                    "mart '{name}' does not match its declaration in warehouse-schema/tables.toml: {what}"
                ))
            };
            if found.fields().len() != declared.fields().len() {
                return Err(differs(format!(
                    "{} columns, declared {}",
                    found.fields().len(),
                    declared.fields().len()
                )));
            }
            for (i, (f, d)) in found.fields().iter().zip(declared.fields()).enumerate() {
                if f.name() != d.name() || f.data_type() != d.data_type() {
                    return Err(differs(format!(
                        "column {} is '{}' {}, declared '{}' {}",
                        i + 1,
                        f.name(),
                        f.data_type(),
                        d.name(),
                        d.data_type()
                    )));
                }
                let unit = |f: &Field| Unit::of(f).map_or("no unit", Unit::as_str);
                if unit(f) != unit(d) {
                    // Printed tables read the unit from the batch the analysis built, the
                    // SQL layer from the declaration: they must agree.
                    return Err(differs(format!(
                        "column '{}' is built as {}, declared {}",
                        d.name(),
                        unit(f),
                        unit(d)
                    )));
                }
                if !d.is_nullable() && batch.column(i).null_count() > 0 {
                    return Err(differs(format!(
                        "column '{}' has nulls, declared not nullable",
                        d.name()
                    )));
                }
            }
            let batch = RecordBatch::try_new(declared, batch.columns().to_vec())?;
            Ok((name.clone(), batch))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use datafusion::arrow::array::{ArrayRef, Int64Array};
    use datafusion::arrow::compute::cast;
    use datafusion::arrow::datatypes::{DataType, Field, Schema};

    use super::*;
    use crate::manifest::tests::sample;
    use crate::parquet::{parquet_rows, read_parquet};

    /// `n` rows of declared mart `name` (zeros of every column's type).
    fn mart(name: &str, n: i64) -> (String, RecordBatch) {
        let schema = acrm_schema::WarehouseSchema::builtin().expect("schema");
        let declared = schema.table(name).expect("declared").arrow_schema();
        let zeros: ArrayRef = Arc::new(Int64Array::from(vec![0; n as usize]));
        let columns = declared
            .fields()
            .iter()
            .map(|f| cast(&zeros, f.data_type()).expect("cast"))
            .collect();
        let batch = RecordBatch::try_new(declared, columns).expect("batch");
        (name.to_string(), batch)
    }

    fn ids(n: i64) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
        RecordBatch::try_new(schema, vec![Arc::new(Int64Array::from_iter_values(0..n))])
            .expect("batch")
    }

    /// A warehouse with version 1 holding one fact file and its manifest.
    fn warehouse(root: &Path, keep_versions: usize) -> PathBuf {
        let wh = Warehouse::new(root);
        let tmp = wh.begin(1).expect("begin");
        write_parquet(
            &tmp.join("fact_sales/year=2024/part-a.parquet"),
            &[ids(3)],
            &[],
        )
        .expect("write");
        wh.publish(&tmp, &mut sample(1, keep_versions), None)
            .expect("publish")
    }

    #[test]
    fn marts_are_published_as_a_new_version_beside_the_old_files() {
        let dir = tempfile::tempdir().expect("tmp");
        let v1 = warehouse(dir.path(), 3);
        let (version, v2) = publish_tables(dir.path(), &[mart("mart_rfm", 5)]).expect("publish");
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
        let (_, v3) = publish_tables(dir.path(), &[mart("mart_rfm", 2)]).expect("again");
        assert_eq!(
            parquet_rows(&v3.join("mart_rfm/part-0.parquet")).expect("rows"),
            2
        );
    }

    #[test]
    fn every_publish_keeps_the_other_marts_and_prunes_to_keep_versions() {
        let dir = tempfile::tempdir().expect("tmp");
        warehouse(dir.path(), 2);
        publish_tables(dir.path(), &[mart("mart_basket_rules", 4)]).expect("basket");
        for _ in 0..5 {
            publish_tables(dir.path(), &[mart("mart_rfm", 1)]).expect("rfm");
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
            &[mart("mart_rfm", 5), mart("mart_churn_score", 7)],
        )
        .expect("publish");
        let wh = Warehouse::new(dir.path());
        let (_, v2, prev) = wh.published().expect("published");
        // The next build: its own tables, then the refreshed mart, the other one carried.
        let tmp = wh.begin(3).expect("begin");
        let mut next = sample(3, 3);
        write_tables(&tmp, &mut next, &[mart("mart_rfm", 6)], 3).expect("refresh");
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
    fn only_declared_marts_matching_their_declaration_are_published() {
        let dir = tempfile::tempdir().expect("tmp");
        warehouse(dir.path(), 3);
        let rfm = mart("mart_rfm", 2).1;
        let refused = [
            ("dim_customer", ids(1), "not a mart declared"),
            ("mart_x", ids(1), "not a mart declared"),
            ("Mart", ids(1), "not a mart declared"),
            ("../x", ids(1), "not a mart declared"),
            ("", ids(1), "not a mart declared"),
            ("mart_rfm", ids(1), "1 columns, declared 11"),
            (
                "mart_rfm",
                rfm.project(&[1, 0, 2, 3, 4, 5, 6, 7, 8, 9, 10])
                    .expect("project"),
                "column 1 is 'as_of' Date32, declared 'customer_id' Int64",
            ),
        ];
        for (name, batch, why) in refused {
            let e = publish_tables(dir.path(), &[(name.into(), batch)])
                .expect_err(name)
                .to_string();
            assert!(e.contains(why), "{name}: {e}");
        }
        // Money built as a plain float: the printed table and SQL would disagree on it.
        let plain = Arc::new(datafusion::arrow::datatypes::Schema::new(
            rfm.schema()
                .fields()
                .iter()
                .map(|f| f.as_ref().clone().with_metadata(Default::default()))
                .collect::<Vec<_>>(),
        ));
        let unitless = RecordBatch::try_new(plain, rfm.columns().to_vec()).expect("batch");
        let e = publish_tables(dir.path(), &[("mart_rfm".into(), unitless)])
            .expect_err("no unit")
            .to_string();
        assert!(
            e.contains("column 'monetary' is built as no unit, declared money"),
            "{e}"
        );
        // A null where the declaration allows none, in a batch whose own schema allows it.
        let nullable = Arc::new(datafusion::arrow::datatypes::Schema::new(
            rfm.schema()
                .fields()
                .iter()
                .map(|f| f.as_ref().clone().with_nullable(true))
                .collect::<Vec<_>>(),
        ));
        let with_null = RecordBatch::try_new(
            nullable,
            std::iter::once(Arc::new(Int64Array::from(vec![None, Some(1)])) as ArrayRef)
                .chain(rfm.columns()[1..].iter().cloned())
                .collect(),
        )
        .expect("batch");
        let e = publish_tables(dir.path(), &[("mart_rfm".into(), with_null)])
            .expect_err("null id")
            .to_string();
        assert!(e.contains("'customer_id' has nulls"), "{e}");
        assert_eq!(
            Warehouse::new(dir.path())
                .current()
                .expect("current")
                .map(|c| c.0),
            Some(1),
            "nothing published"
        );
        let empty = tempfile::tempdir().expect("tmp");
        assert!(publish_tables(empty.path(), &[mart("mart_rfm", 1)]).is_err());
    }
}
