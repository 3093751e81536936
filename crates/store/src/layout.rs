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

/// The rows of `batch` in each year of the table's `partition_by` column, in year order: a
/// mask per year, or the whole batch (`None`) for a table that is not partitioned.
fn year_masks(table: &TableDef, batch: &RecordBatch) -> Vec<(Option<i32>, Option<BooleanArray>)> {
    let days = table
        .partition_by
        .as_ref()
        .and_then(|col| batch.column_by_name(col))
        .map(|a| a.as_primitive::<Date32Type>().clone());
    let Some(days) = days else {
        return vec![(None, None)];
    };
    let years: Vec<i32> = (0..days.len())
        .map(|i| year_of_day(days.value(i)))
        .collect();
    let distinct: BTreeSet<i32> = years.iter().copied().collect();
    distinct
        .into_iter()
        .map(|y| {
            let mask = BooleanArray::from(years.iter().map(|v| *v == y).collect::<Vec<_>>());
            (Some(y), Some(mask))
        })
        .collect()
}

/// `batch` sorted by the table's `sort_by` columns.
fn sorted(table: &TableDef, batch: RecordBatch) -> Result<RecordBatch> {
    if table.sort_by.is_empty() || batch.num_rows() < 2 {
        return Ok(batch);
    }
    let cols: Vec<SortColumn> = table
        .sort_by
        .iter()
        .filter_map(|c| {
            batch.column_by_name(c).map(|a| SortColumn {
                values: a.clone(),
                options: None,
            })
        })
        .collect();
    let idx = lexsort_to_indices(&cols, None)?;
    Ok(take_record_batch(&batch, &idx)?)
}

/// Writes `batches` of `table` as `<stem>.parquet`, split into `year=` folders when the table
/// is partitioned and sorted by its `sort_by` columns; writes nothing for no rows. Returns
/// the files written.
///
/// One year is split off, sorted and written at a time, and the pieces are dropped once
/// joined: a part takes about twice its size while it is written (the joined rows plus one
/// year's), where splitting and sorting every year first took four times.
pub fn write_table_part(
    dir: &Path,
    table: &TableDef,
    stem: &str,
    batches: Vec<RecordBatch>,
) -> Result<Vec<PathBuf>> {
    if batches.iter().all(|b| b.num_rows() == 0) {
        return Ok(Vec::new());
    }
    let all = concat_batches(&table.arrow_schema(), &batches)?;
    drop(batches);
    let mut written = Vec::new();
    for (year, mask) in year_masks(table, &all) {
        let part = match mask {
            Some(mask) => filter_record_batch(&all, &mask)?,
            None => all.clone(),
        };
        let part = sorted(table, part)?;
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
