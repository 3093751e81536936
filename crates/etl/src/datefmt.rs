//! Date and timestamp formats of a source, compiled once. `chrono`'s `parse_from_str` reads
//! its format string again for every value; a night has millions of dates, so each strftime
//! format is turned into chrono's items when the config is read, and parsing a value walks
//! those items only. The semantics are chrono's own (the same `parse` and the same checks of
//! the parsed fields), so a compiled format accepts exactly what `parse_from_str` accepts.

use chrono::format::{Item, Parsed, StrftimeItems, parse};
use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime};

/// One strftime format, compiled.
#[derive(Debug, Clone)]
pub struct DateFormat {
    /// The format as configured (for messages).
    pub text: String,
    items: Vec<Item<'static>>,
    /// For a format without a day (`%Y-%m`): the format followed by `-%d`, which parses the
    /// value followed by `-01` (the 1st of the month).
    month: Option<Vec<Item<'static>>>,
    /// The format reads a zone offset (`%z`): the value carries its own zone.
    pub zoned: bool,
}

fn compile(fmt: &str) -> Result<Vec<Item<'static>>, String> {
    StrftimeItems::new(fmt)
        .parse_to_owned()
        .map_err(|_| "not a valid strftime format".to_string())
}

impl DateFormat {
    /// Compiles `fmt`; an error when chrono cannot use it or it has no year (so a typo fails
    /// when the config is read, not on every row).
    pub fn new(fmt: &str) -> Result<Self, String> {
        let items = compile(fmt)?;
        if !["%Y", "%y", "%F", "%s"].iter().any(|p| fmt.contains(p)) {
            return Err("has no year (%Y or %y)".into());
        }
        let has_day = ["%d", "%e", "%j", "%F", "%D", "%x", "%s"]
            .iter()
            .any(|p| fmt.contains(p));
        let month = if has_day {
            None
        } else {
            Some(compile(&format!("{fmt}-%d"))?)
        };
        Ok(Self {
            text: fmt.to_string(),
            items,
            month,
            zoned: ["%z", "%:z", "%#z"].iter().any(|p| fmt.contains(p)),
        })
    }

    /// Fields of `t` as read by this format, if it matches.
    fn fields(&self, t: &str) -> Option<Parsed> {
        let mut p = Parsed::new();
        parse(&mut p, t, self.items.iter()).ok().map(|()| p)
    }

    /// `t` as a date (as `NaiveDate::parse_from_str`).
    pub fn date(&self, t: &str) -> Option<NaiveDate> {
        self.fields(t)?.to_naive_date().ok()
    }

    /// `t` as a date; with a month-only format, the 1st of the month.
    pub fn day_or_month(&self, t: &str) -> Option<NaiveDate> {
        if let Some(d) = self.date(t) {
            return Some(d);
        }
        let month = self.month.as_ref()?;
        let mut p = Parsed::new();
        parse(&mut p, &format!("{t}-01"), month.iter()).ok()?;
        p.to_naive_date().ok()
    }

    /// `t` as a local date-time (as `NaiveDateTime::parse_from_str`).
    pub fn naive(&self, t: &str) -> Option<NaiveDateTime> {
        self.fields(t)?.to_naive_datetime_with_offset(0).ok()
    }

    /// `t` as a zoned date-time (as `DateTime::parse_from_str`).
    pub fn zoned(&self, t: &str) -> Option<DateTime<FixedOffset>> {
        self.fields(t)?.to_datetime().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compiled_formats_accept_what_chrono_accepts() {
        let cases = [
            ("%d.%m.%Y %H:%M", "07.03.2024 18:45"),
            ("%d.%m.%Y %H:%M", "7.3.2024 8:05"),
            ("%d.%m.%Y %H:%M", "31.02.2024 10:00"),
            ("%Y-%m-%d %H:%M:%S", "2024-03-07 18:45:00"),
            ("%Y-%m-%d %H:%M:%S", "2024-03-07"),
            ("%Y/%m/%d %H:%M", "2024/3/7 18:45 "),
        ];
        for (fmt, t) in cases {
            let f = DateFormat::new(fmt).expect("format");
            assert_eq!(
                f.naive(t),
                NaiveDateTime::parse_from_str(t, fmt).ok(),
                "{fmt} {t}"
            );
        }
        for (fmt, t) in [("%d/%m/%Y", "31/12/2024"), ("%d/%m/%Y", "31/13/2024")] {
            let f = DateFormat::new(fmt).expect("format");
            assert_eq!(f.date(t), NaiveDate::parse_from_str(t, fmt).ok(), "{t}");
        }
        let z = DateFormat::new("%Y-%m-%dT%H:%M:%S%:z").expect("format");
        assert!(z.zoned);
        assert_eq!(
            z.zoned("2024-03-07T01:30:00+08:00"),
            DateTime::parse_from_str("2024-03-07T01:30:00+08:00", "%Y-%m-%dT%H:%M:%S%:z").ok()
        );
    }

    #[test]
    fn month_formats_mean_the_first_and_bad_formats_fail() {
        let m = DateFormat::new("%Y-%m").expect("format");
        assert_eq!(
            m.day_or_month("2024-03"),
            NaiveDate::from_ymd_opt(2024, 3, 1)
        );
        assert_eq!(m.day_or_month("2024-13"), None);
        assert_eq!(m.date("2024-03"), None, "a month alone is not a date");
        assert!(DateFormat::new("%d.%m").is_err(), "no year");
        assert!(DateFormat::new("%Y-%Q").is_err(), "not strftime");
    }
}
