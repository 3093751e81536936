//! Physical layout of a table inside a version: part files named by source, batch and
//! content, hive-style `year=YYYY` folders for partitioned facts, rows sorted so Parquet
//! statistics prune well.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use acrm_schema::TableDef;
use chrono::Datelike;
use datafusion::arrow::array::{AsArray, BooleanArray, RecordBatch};
use datafusion::arrow::compute::{
    SortColumn, concat_batches, filter_record_batch, lexsort_to_indices, take_record_batch,
};
use datafusion::arrow::datatypes::Date32Type;

use crate::parquet::{parquet_files, write_parquet};
use crate::{Result, io};

/// The year of `day` (days since 1970-01-01, Arrow's Date32).
fn year_of_day(day: i32) -> i32 {
    // 719_163 days from 0001-01-01 (day 1 of the common era) to 1970-01-01.
    chrono::NaiveDate::from_num_days_from_ce_opt(day.saturating_add(719_163))
        .map_or(1970, |d| d.year())
}

/// Splits `batch` by the year of `col` (or keeps it whole) and sorts each part by `sort_by`.
fn partition_and_sort(
    table: &TableDef,
    batch: &RecordBatch,
) -> Result<Vec<(Option<i32>, RecordBatch)>> {
    let parts: Vec<(Option<i32>, RecordBatch)> = match &table.partition_by {
        None => vec![(None, batch.clone())],
        Some(col) => {
            let days = batch
                .column_by_name(col)
                .map(|a| a.as_primitive::<Date32Type>().clone());
            let Some(days) = days else {
                return Ok(vec![(None, batch.clone())]);
            };
            let years: Vec<i32> = (0..days.len())
                .map(|i| year_of_day(days.value(i)))
                .collect();
            let distinct: BTreeSet<i32> = years.iter().copied().collect();
            let mut parts = Vec::new();
            for y in distinct {
                let mask = BooleanArray::from(years.iter().map(|v| *v == y).collect::<Vec<_>>());
                parts.push((Some(y), filter_record_batch(batch, &mask)?));
            }
            parts
        }
    };
    parts
        .into_iter()
        .map(|(y, b)| {
            if table.sort_by.is_empty() || b.num_rows() < 2 {
                return Ok((y, b));
            }
            let cols: Vec<SortColumn> = table
                .sort_by
                .iter()
                .filter_map(|c| {
                    b.column_by_name(c).map(|a| SortColumn {
                        values: a.clone(),
                        options: None,
                    })
                })
                .collect();
            let idx = lexsort_to_indices(&cols, None)?;
            Ok((y, take_record_batch(&b, &idx)?))
        })
        .collect()
}

/// Writes `batches` of `table` as `<stem>.parquet`, split into `year=` folders when the table
/// is partitioned and sorted by its `sort_by` columns; writes nothing for no rows. Returns
/// the files written.
pub fn write_table_part(
    dir: &Path,
    table: &TableDef,
    stem: &str,
    batches: &[RecordBatch],
) -> Result<Vec<PathBuf>> {
    if batches.iter().all(|b| b.num_rows() == 0) {
        return Ok(Vec::new());
    }
    let all = concat_batches(&table.arrow_schema(), batches)?;
    let mut written = Vec::new();
    for (year, part) in partition_and_sort(table, &all)? {
        let folder = match year {
            Some(y) => dir.join(&table.name).join(format!("year={y}")),
            None => dir.join(&table.name),
        };
        let path = folder.join(format!("{stem}.parquet"));
        write_parquet(&path, &[part], &table.bloom_filter)?;
        written.push(path);
    }
    Ok(written)
}

/// True when part file `name` was written by `source`: `part-<source>-<YYYY-MM-DD>-…` (the
/// date after the name tells source `pos` from source `pos-web`).
fn is_part_of(name: &str, source: &str) -> bool {
    let Some(rest) = name
        .strip_prefix("part-")
        .and_then(|r| r.strip_prefix(source))
        .and_then(|r| r.strip_prefix('-'))
    else {
        return false;
    };
    let b = rest.as_bytes();
    b.len() > 11
        && b[..10].iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        })
        && b[10] == b'-'
}

/// Removes every part file `source` wrote to `table` (a snapshot source replaces its rows).
pub fn remove_source_parts(dir: &Path, table: &str, source: &str) -> Result<()> {
    for f in parquet_files(&dir.join(table))? {
        if f.file_name()
            .is_some_and(|n| is_part_of(&n.to_string_lossy(), source))
        {
            std::fs::remove_file(&f).map_err(io(&f))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_are_told_apart_by_source() {
        assert!(is_part_of("part-pos-2024-01-01-abcd1234.parquet", "pos"));
        assert!(is_part_of(
            "part-pos-2024-01-01-abcd1234-r0011aabb.parquet",
            "pos"
        ));
        assert!(!is_part_of(
            "part-pos-web-2024-01-01-abcd1234.parquet",
            "pos"
        ));
        assert!(is_part_of(
            "part-pos-web-2024-01-01-abcd1234.parquet",
            "pos-web"
        ));
        assert!(!is_part_of("part-pos-2024-2024-01-01-ab.parquet", "pos"));
    }

    #[test]
    fn days_map_to_their_year() {
        assert_eq!(year_of_day(0), 1970);
        assert_eq!(year_of_day(-1), 1969);
        assert_eq!(year_of_day(19_722), 2023); // 2023-12-31
        assert_eq!(year_of_day(19_723), 2024); // 2024-01-01
    }
}
