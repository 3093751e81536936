//! Train/test splits: by time for warehouse data (train on the past, test on the later
//! window, as the model will be used), seeded and stratified for files without time.

use rand::SeedableRng;
use rand::seq::SliceRandom;
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

use super::{Error, Result};

/// Which rows train and which test, and how they were chosen.
#[derive(Debug, Clone, PartialEq)]
pub struct Split {
    /// Training rows, ascending.
    pub train: Vec<usize>,
    /// Test rows, ascending.
    pub test: Vec<usize>,
    /// How: e.g. `time: train before 2024-07-01, test from it` or `stratified 25% seed 42`.
    pub how: SplitKind,
}

/// How a split was made (saved with the model).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SplitKind {
    /// Rows dated before `cut` train, the others test.
    Time {
        /// Time column.
        column: String,
        /// First test day.
        cut: String,
    },
    /// A seeded random share of each class tests.
    Stratified {
        /// Test share.
        test_fraction: f64,
        /// Seed of the shuffle.
        seed: u64,
    },
    /// Train and test came as separate data sets.
    Given,
}

/// Rows with `day < cut` train, the others test; with no `cut`, the day that leaves
/// `test_fraction` of the dated rows (the latest) for testing. Rows without a day are left
/// out of both (they cannot be placed in time).
pub fn by_time(
    days: &[Option<i32>],
    column: &str,
    cut: Option<i32>,
    test_fraction: f64,
) -> Result<Split> {
    let cut = match cut {
        Some(c) => c,
        None => {
            let mut sorted: Vec<i32> = days.iter().flatten().copied().collect();
            sorted.sort_unstable();
            let at = ((sorted.len() as f64) * (1.0 - test_fraction)).floor() as usize;
            *sorted
                .get(at.min(sorted.len().saturating_sub(1)))
                .ok_or_else(|| Error::Data(format!("time column '{column}' has no dates")))?
        }
    };
    let train: Vec<usize> = (0..days.len())
        .filter(|&i| days[i].is_some_and(|d| d < cut))
        .collect();
    let test: Vec<usize> = (0..days.len())
        .filter(|&i| days[i].is_some_and(|d| d >= cut))
        .collect();
    if train.is_empty() || test.is_empty() {
        return Err(Error::Data(format!(
            "time split at {}: {} training and {} test rows; choose another cut",
            day_text(cut),
            train.len(),
            test.len()
        )));
    }
    Ok(Split {
        train,
        test,
        how: SplitKind::Time {
            column: column.into(),
            cut: day_text(cut),
        },
    })
}

/// `test_fraction` of each class, drawn with a seeded shuffle, test; the rest train.
pub fn stratified(labels: &[bool], test_fraction: f64, seed: u64) -> Result<Split> {
    if !(0.0..1.0).contains(&test_fraction) || test_fraction == 0.0 {
        return Err(Error::TestFraction(test_fraction));
    }
    let mut rng = Xoshiro256PlusPlus::seed_from_u64(seed);
    let mut test = Vec::new();
    for class in [false, true] {
        let mut rows: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        rows.shuffle(&mut rng);
        let take = (rows.len() as f64 * test_fraction).round() as usize;
        test.extend_from_slice(&rows[..take]);
    }
    test.sort_unstable();
    let mut is_test = vec![false; labels.len()];
    for &t in &test {
        is_test[t] = true;
    }
    let train = (0..labels.len()).filter(|&i| !is_test[i]).collect();
    Ok(Split {
        train,
        test,
        how: SplitKind::Stratified {
            test_fraction,
            seed,
        },
    })
}

/// A day number (days since 1970-01-01) as `YYYY-MM-DD`.
pub fn day_text(day: i32) -> String {
    chrono::NaiveDate::from_num_days_from_ce_opt(day + 719_163)
        .map_or_else(|| day.to_string(), |d| d.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn time_split_trains_on_the_past() {
        let days: Vec<Option<i32>> = (0..10).map(Some).chain([None]).collect();
        let s = by_time(&days, "d", None, 0.3).expect("split");
        assert_eq!(s.train, (0..7).collect::<Vec<_>>());
        assert_eq!(s.test, vec![7, 8, 9], "the undated row is in neither");
        let s = by_time(&days, "d", Some(2), 0.3).expect("split");
        assert_eq!(s.train, vec![0, 1]);
        assert!(by_time(&days, "d", Some(0), 0.3).is_err());
    }

    #[test]
    fn stratified_split_keeps_class_shares_and_is_seeded() {
        let labels: Vec<bool> = (0..100).map(|i| i % 5 == 0).collect();
        let s = stratified(&labels, 0.25, 7).expect("split");
        assert_eq!(s.test.len(), 25);
        assert_eq!(s.test.iter().filter(|&&i| labels[i]).count(), 5);
        assert_eq!(s.train.len() + s.test.len(), 100);
        assert_eq!(s, stratified(&labels, 0.25, 7).expect("again"));
        assert_ne!(
            s.test,
            stratified(&labels, 0.25, 8).expect("other seed").test
        );
    }
}
