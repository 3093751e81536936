//! The generator's calendar: the last day of the history and each night's business date.

use chrono::{Days, NaiveDate};

/// Last day of night 1's history; night n exports the day `END + (n - 1)`.
pub fn history_end() -> NaiveDate {
    NaiveDate::from_ymd_opt(2024, 12, 31).unwrap_or(NaiveDate::MIN)
}

/// Business date of night `night`.
pub fn batch_date(night: u32) -> NaiveDate {
    history_end()
        .checked_add_days(Days::new(u64::from(night.saturating_sub(1))))
        .unwrap_or(NaiveDate::MAX)
}
