//! `manifest.json`: what a version holds and where it came from — the export files loaded
//! (with their reconciliation), rows per table, the lineage of its derived tables, and the
//! retention every later publish applies.

use std::collections::BTreeMap;
use std::path::Path;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::{Error, Result, io};

/// Size and content hash of one file of a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileSum {
    /// Length in bytes.
    pub bytes: u64,
    /// BLAKE3 of its bytes, hex.
    pub blake3: String,
}

/// One loaded export file, with its reconciliation.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct LoadedFile {
    /// Source name.
    pub source: String,
    /// File relative to the config.
    pub file: String,
    /// BLAKE3 of its bytes.
    pub checksum: String,
    /// Business date of its batch.
    pub batch_date: NaiveDate,
    /// Data rows read.
    pub rows_read: u64,
    /// Rows loaded.
    pub rows_loaded: u64,
    /// Rows quarantined.
    pub rows_quarantined: u64,
    /// Values of loaded rows that did not parse and were loaded as null (`null_invalid`);
    /// 0 in manifests written before they were counted.
    #[serde(default)]
    pub values_nulled: u64,
    /// Version that loaded it.
    pub version: u64,
    /// Set when the file was not loaded because its content is that of this file, loaded
    /// before (a re-sent export): its rows are already in the warehouse.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<String>,
}

/// A pair of golden customers that new records say are one person (for data stewards).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    /// The id the records joined.
    pub kept: i64,
    /// The other id.
    pub other: i64,
}

/// What a steward's decision did to golden customers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    /// A `cannot_link` took a record out of its customer into a new one.
    Split,
    /// A `must_link` joined two customers.
    Merged,
}

/// What a steward's decision changed (`[identity] decisions`), on the night it was applied.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityChange {
    /// Split or merged.
    pub change: ChangeKind,
    /// The customer that kept its records (split) or absorbed the other's (merged).
    pub kept: i64,
    /// The new customer of the split-off record, or the customer absorbed (its
    /// `dim_customer` rows stay as published; its records and later facts are `kept`'s).
    pub other: i64,
    /// The decision's two records, `system:source_id`.
    pub records: (String, String),
    /// Business date of the batch that applied it.
    pub batch_date: NaiveDate,
}

/// Where a derived table (a mart) of a version comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Derived {
    /// The version whose data it was computed from: older than the version holding it when
    /// it was carried forward unchanged.
    pub computed_on: u64,
    /// When it was computed (UTC, RFC 3339).
    pub computed_at: String,
    /// For a cube aggregate: a fingerprint of its declaration and source, so a changed
    /// declaration is recomputed in full rather than refreshed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub definition: Option<String>,
}

/// Versions kept when a manifest does not say (written before `keep_versions` was recorded).
pub const DEFAULT_KEEP_VERSIONS: usize = 3;

fn default_keep_versions() -> usize {
    DEFAULT_KEEP_VERSIONS
}

/// `manifest.json` of a version.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// Version number.
    pub version: u64,
    /// When it was written (UTC, RFC 3339).
    pub built_at: String,
    /// "incremental" or "full" (a build), "mine" (derived tables published on their own).
    pub mode: String,
    /// Every file loaded into this version or an earlier one it continues.
    pub files: Vec<LoadedFile>,
    /// Rows per published table (schema tables and derived tables).
    pub tables: BTreeMap<String, u64>,
    /// Years covered by dim_date.
    pub calendar_years: (i32, i32),
    /// New source records that tie existing golden customers together (for data stewards).
    pub identity_conflicts: Vec<Conflict>,
    /// Splits and merges made by steward decisions, this version's and every earlier one's.
    #[serde(default)]
    pub identity_changes: Vec<IdentityChange>,
    /// Build time in milliseconds.
    pub duration_ms: u64,
    /// Versions kept on disk (the build's `keep_versions`); every later publish prunes to it.
    #[serde(default = "default_keep_versions")]
    pub keep_versions: usize,
    /// Derived tables of this version (name → lineage). Tables without an entry are
    /// schema tables loaded by the build.
    #[serde(default)]
    pub derived: BTreeMap<String, Derived>,
    /// Every file of the version (relative path → size and BLAKE3), recorded when it was
    /// sealed ([`crate::integrity::seal`]); empty in manifests written before they were.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sums: BTreeMap<String, FileSum>,
    /// For a version made by `acrm warehouse restore`: the version whose content it holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restored_from: Option<u64>,
}

impl Manifest {
    /// Reads the manifest of version folder `dir`.
    pub fn read(dir: &Path) -> Result<Self> {
        let path = dir.join("manifest.json");
        let text = std::fs::read_to_string(&path).map_err(io(&path))?;
        serde_json::from_str(&text).map_err(|e| Error::Warehouse {
            path,
            message: e.to_string(),
        })
    }

    /// Writes it as `manifest.json` into version folder `dir` and syncs it to disk.
    pub fn write(&self, dir: &Path) -> Result<()> {
        let path = dir.join("manifest.json");
        let text = serde_json::to_string_pretty(self).map_err(|e| Error::Warehouse {
            path: path.clone(),
            message: e.to_string(),
        })?;
        std::fs::write(&path, text).map_err(io(&path))?;
        std::fs::File::open(&path)
            .and_then(|f| f.sync_all())
            .map_err(io(&path))
    }

    /// When it was written, parsed (None for a manifest whose time does not parse).
    pub fn built_time(&self) -> Option<chrono::DateTime<chrono::Utc>> {
        chrono::DateTime::parse_from_rfc3339(&self.built_at)
            .ok()
            .map(|t| t.with_timezone(&chrono::Utc))
    }

    /// The version a table's rows were computed on: its own version for schema tables and
    /// for derived tables refreshed in it, an older one for derived tables carried forward.
    pub fn computed_on(&self, table: &str) -> u64 {
        self.derived
            .get(table)
            .map_or(self.version, |d| d.computed_on)
    }
}

/// Now, as manifests write it.
pub fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A manifest of `version` with three `fact_sales` rows, keeping `keep_versions`.
    pub(crate) fn sample(version: u64, keep_versions: usize) -> Manifest {
        Manifest {
            version,
            built_at: "2025-01-01T00:00:00Z".into(),
            mode: "full".into(),
            files: vec![],
            tables: BTreeMap::from([("fact_sales".to_string(), 3)]),
            calendar_years: (2024, 2024),
            identity_conflicts: vec![],
            identity_changes: vec![],
            duration_ms: 1,
            keep_versions,
            derived: BTreeMap::new(),
            sums: BTreeMap::new(),
            restored_from: None,
        }
    }

    #[test]
    fn a_manifest_written_before_lineage_was_recorded_still_reads() {
        let dir = tempfile::tempdir().expect("tmp");
        let old = r#"{"version": 4, "built_at": "2025-01-01T00:00:00Z", "mode": "full",
            "files": [], "tables": {"fact_sales": 3, "mart_rfm": 2},
            "calendar_years": [2024, 2024], "identity_conflicts": [], "duration_ms": 1}"#;
        std::fs::write(dir.path().join("manifest.json"), old).expect("write");
        let m = Manifest::read(dir.path()).expect("read");
        assert_eq!(m.keep_versions, DEFAULT_KEEP_VERSIONS);
        assert_eq!(m.computed_on("mart_rfm"), 4);
        m.write(dir.path()).expect("write back");
        assert_eq!(Manifest::read(dir.path()).expect("again").tables, m.tables);
    }

    #[test]
    fn a_broken_manifest_names_its_file() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(dir.path().join("manifest.json"), "{\"version\": ").expect("write");
        let e = Manifest::read(dir.path()).expect_err("broken").to_string();
        assert!(e.contains("manifest.json"), "{e}");
    }
}
