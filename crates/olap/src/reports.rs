//! Named reports: SQL files whose first line is a `--` comment describing them. The built-in
//! ones ship in `warehouse-schema/reports/`; a user's own `.sql` files in a reports folder are
//! added (and override a built-in one of the same name), so new reports need no code.

use std::path::Path;

use crate::{Error, Result};

/// One named report.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Report {
    /// Name (the file name without `.sql`).
    pub name: String,
    /// One-line description (the file's first comment line).
    pub description: String,
    /// Where it comes from: `built-in` or the file's path.
    pub origin: String,
    /// The query.
    pub sql: String,
}

fn describe(sql: &str) -> String {
    sql.lines()
        .find_map(|l| l.trim().strip_prefix("--"))
        .map(|d| d.trim().to_string())
        .unwrap_or_default()
}

/// The built-in reports and, when `dir` is given and exists, the `.sql` files in it; sorted
/// by name.
pub fn catalog(dir: Option<&Path>) -> Result<Vec<Report>> {
    let mut reports: Vec<Report> = acrm_schema::REPORTS
        .iter()
        .map(|(name, sql)| Report {
            name: name.to_string(),
            description: describe(sql),
            origin: "built-in".into(),
            sql: sql.to_string(),
        })
        .collect();
    if let Some(dir) = dir.filter(|d| d.is_dir()) {
        let entries = std::fs::read_dir(dir).map_err(|source| Error::Io {
            path: dir.into(),
            source,
        })?;
        for e in entries.flatten() {
            let path = e.path();
            if path.extension().is_none_or(|x| x != "sql") {
                continue;
            }
            let sql = std::fs::read_to_string(&path).map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
            let name = path
                .file_stem()
                .map(|s| s.to_string_lossy().to_string())
                .unwrap_or_default();
            reports.retain(|r| r.name != name);
            reports.push(Report {
                description: describe(&sql),
                origin: path.display().to_string(),
                name,
                sql,
            });
        }
    }
    reports.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(reports)
}

/// The report named `name`.
pub fn find(dir: Option<&Path>, name: &str) -> Result<Report> {
    catalog(dir)?
        .into_iter()
        .find(|r| r.name == name)
        .ok_or_else(|| Error::UnknownReport(name.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_are_described_and_a_user_file_adds_or_overrides() {
        let dir = tempfile::tempdir().expect("tmp");
        std::fs::write(
            dir.path().join("mine.sql"),
            "-- My report.\nSELECT 1 AS one",
        )
        .expect("write");
        std::fs::write(
            dir.path().join("top_customers.sql"),
            "-- Replaced.\nSELECT 2",
        )
        .expect("write");
        let all = catalog(Some(dir.path())).expect("catalog");
        assert!(all.len() >= 9);
        assert!(all.iter().all(|r| !r.description.is_empty()), "{all:?}");
        assert_eq!(
            find(Some(dir.path()), "mine").expect("mine").description,
            "My report."
        );
        assert_eq!(
            find(Some(dir.path()), "top_customers")
                .expect("top")
                .description,
            "Replaced."
        );
        assert!(matches!(find(None, "nope"), Err(Error::UnknownReport(_))));
    }
}
