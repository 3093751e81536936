//! Cleansing and typing of raw cells: every canonical field type has one parser that either
//! returns a clean value or says what it expected, for the quarantine.

use acrm_schema::FieldType;
use std::borrow::Cow;
use std::sync::LazyLock;

use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime};
use unicode_normalization::{IsNormalized, UnicodeNormalization, is_nfkc_quick};

use crate::config::SourceConfig;
use crate::datefmt::DateFormat;
use crate::value::{Value, day_number};

/// Parses `raw` as canonical field `field` of `src`. Empty text is `Value::Null`.
/// The error says what was expected, never the value (the caller adds file, line and
/// column, and the value itself only where the field holds no personal data).
pub fn parse_cell(
    src: &SourceConfig,
    field: usize,
    ty: FieldType,
    raw: &str,
    country: &str,
) -> Result<Value, String> {
    // NFKC changes nothing in ASCII text, nor in most other text (the quick check says so
    // without composing): only the rest is normalised, into a new string.
    let text = if raw.is_ascii() || is_nfkc_quick(raw.chars()) == IsNormalized::Yes {
        Cow::Borrowed(raw)
    } else {
        Cow::Owned(raw.nfkc().collect())
    };
    let t = text.trim();
    if t.is_empty() {
        return Ok(Value::Null);
    }
    match ty {
        FieldType::Id => Ok(Value::Str(t.into())),
        FieldType::Text => Ok(Value::Str(clean_text(t).as_ref().into())),
        FieldType::Code => {
            let clean = clean_text(t);
            let key = lower(&clean);
            Ok(Value::Str(match src.value_maps[field].get(key.as_ref()) {
                Some(mapped) => mapped.to_lowercase().into(),
                None => key.as_ref().into(),
            }))
        }
        FieldType::Phone => normalize_phone(t, country).map(|p| Value::Str(p.into())),
        FieldType::Email => normalize_email(t).map(|e| Value::Str(e.into())),
        FieldType::Date => parse_date(t, &src.formats[field]).map(|d| Value::Date(day_number(d))),
        FieldType::Timestamp => parse_timestamp(t, &src.formats[field], src.utc_offset_secs),
        FieldType::Decimal => parse_money(t).map(Value::Money),
        FieldType::Int => parse_int(t).map(Value::Int),
        FieldType::Bool => {
            let k = t.to_lowercase();
            if src.true_values.contains(&k) {
                Ok(Value::Bool(true))
            } else if src.false_values.contains(&k) {
                Ok(Value::Bool(false))
            } else {
                Err(format!(
                    "expected yes/no ({} / {})",
                    src.true_values.join(","),
                    src.false_values.join(",")
                ))
            }
        }
    }
}

fn is_cjk(c: char) -> bool {
    matches!(c as u32, 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xF900..=0xFAFF | 0x20000..=0x2FA1F)
}

/// `t` in lower case (borrowed when it is already).
fn lower(t: &str) -> Cow<'_, str> {
    if t.chars().any(char::is_uppercase) {
        Cow::Owned(t.to_lowercase())
    } else {
        Cow::Borrowed(t)
    }
}

/// `t` needs no cleaning: no white space but single spaces inside, none between two CJK
/// characters.
fn is_clean(t: &str) -> bool {
    let (mut prev, mut after_space) = (None::<char>, false);
    for c in t.chars() {
        if c == ' ' {
            if after_space || prev.is_none() {
                return false;
            }
            after_space = true;
        } else if c.is_whitespace() || (after_space && is_cjk(c) && prev.is_some_and(is_cjk)) {
            return false;
        } else {
            (prev, after_space) = (Some(c), false);
        }
    }
    !after_space
}

/// Trims, collapses white space, and drops spaces between CJK characters ("王 伟" → "王伟").
pub fn clean_text(t: &str) -> Cow<'_, str> {
    if is_clean(t) {
        return Cow::Borrowed(t);
    }
    let words: Vec<&str> = t.split_whitespace().collect();
    let mut out = String::with_capacity(t.len());
    for (i, w) in words.iter().enumerate() {
        if i > 0 {
            let prev_cjk = out.chars().last().is_some_and(is_cjk);
            let next_cjk = w.chars().next().is_some_and(is_cjk);
            if !(prev_cjk && next_cjk) {
                out.push(' ');
            }
        }
        out.push_str(w);
    }
    Cow::Owned(out)
}

/// Normalises a phone number to E.164: `+`, country code, subscriber number.
/// Numbers without an international prefix get `country`; a national trunk `0` is dropped.
pub fn normalize_phone(t: &str, country: &str) -> Result<String, String> {
    let plus = t.trim_start_matches(['(', ' ']).starts_with('+');
    if t.chars().any(|c| c.is_alphabetic()) {
        return Err("expected a phone number".into());
    }
    let digits: String = t.chars().filter(char::is_ascii_digit).collect();
    let e164 = if plus {
        digits
    } else if let Some(rest) = digits.strip_prefix("00") {
        rest.to_string()
    } else if let Some(rest) = digits.strip_prefix('0') {
        format!("{country}{rest}")
    } else {
        format!("{country}{digits}")
    };
    if !(8..=15).contains(&e164.len()) {
        return Err("expected a phone number (8 to 15 digits with country code)".into());
    }
    Ok(format!("+{e164}"))
}

/// Lower-cases and checks an e-mail address.
pub fn normalize_email(t: &str) -> Result<String, String> {
    let e = t.to_lowercase();
    let ok = match e.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.contains('@')
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !e.chars().any(char::is_whitespace)
        }
        None => false,
    };
    if ok {
        Ok(e)
    } else {
        Err("expected an e-mail address".into())
    }
}

/// The fallback date format, ISO 8601.
static ISO_DATE: LazyLock<DateFormat> = LazyLock::new(|| compiled("%Y-%m-%d"));

/// Timestamp forms tried after a source's own formats.
static TS_FALLBACKS: LazyLock<[DateFormat; 3]> = LazyLock::new(|| {
    [
        compiled("%Y-%m-%d %H:%M:%S"),
        compiled("%Y-%m-%dT%H:%M:%S%.f"),
        compiled("%Y-%m-%d %H:%M:%S%.f"),
    ]
});

/// A built-in format (each is valid: the date-format tests parse with every one).
fn compiled(fmt: &str) -> DateFormat {
    DateFormat::new(fmt).unwrap_or_else(|e| panic!("built-in format {fmt}: {e}"))
}

/// Parses a date with the source's formats, then ISO 8601. Month-only formats mean the 1st.
pub fn parse_date(t: &str, formats: &[DateFormat]) -> Result<NaiveDate, String> {
    formats
        .iter()
        .find_map(|f| f.day_or_month(t))
        .or_else(|| ISO_DATE.date(t))
        .ok_or_else(|| {
            format!(
                "expected a date like '{}'",
                formats.first().map_or("%Y-%m-%d", |f| f.text.as_str())
            )
        })
}

/// Parses an instant with the source's formats (zone from the text if it has one, else the
/// source's offset), then RFC 3339 and ISO forms; a date alone is midnight.
pub fn parse_timestamp(t: &str, formats: &[DateFormat], offset_secs: i32) -> Result<Value, String> {
    let local = |n: NaiveDateTime| Value::Ts {
        micros: n.and_utc().timestamp_micros() - i64::from(offset_secs) * 1_000_000,
        day: day_number(n.date()),
    };
    let zoned = |d: DateTime<chrono::FixedOffset>| Value::Ts {
        micros: d.timestamp_micros(),
        day: day_number(d.naive_local().date()),
    };
    for f in formats.iter().chain(TS_FALLBACKS.iter()) {
        if f.zoned {
            if let Some(d) = f.zoned(t) {
                return Ok(zoned(d));
            }
        } else if let Some(n) = f.naive(t) {
            return Ok(local(n));
        } else if let Some(d) = f.date(t) {
            return Ok(local(d.and_time(NaiveTime::MIN)));
        }
    }
    if let Ok(d) = DateTime::parse_from_rfc3339(t) {
        return Ok(zoned(d));
    }
    if let Some(d) = ISO_DATE.date(t) {
        return Ok(local(d.and_time(NaiveTime::MIN)));
    }
    Err(format!(
        "expected a date-time like '{}'",
        formats
            .first()
            .map_or("%Y-%m-%d %H:%M:%S", |f| f.text.as_str())
    ))
}

/// Largest amount a decimal(18,2) column holds, in cents.
const MAX_CENTS: i128 = 10i128.pow(18) - 1;

/// Parses money to cents: optional sign and currency sign, thousands separators, any number of
/// decimals (rounded half away from zero to the cent).
pub fn parse_money(t: &str) -> Result<i64, String> {
    let bad = || "expected an amount like 1234.56".to_string();
    let ignored = |c: char| matches!(c, ',' | ' ' | '_' | '¥' | '$' | '€' | '£');
    let s: Cow<str> = if t.contains(ignored) {
        Cow::Owned(t.chars().filter(|c| !ignored(*c)).collect())
    } else {
        Cow::Borrowed(t)
    };
    let (neg, s) = match s.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.strip_prefix('+').unwrap_or(&s)),
    };
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.chars().all(|c| c.is_ascii_digit())
        || !frac.chars().all(|c| c.is_ascii_digit())
    {
        return Err(bad());
    }
    let mut cents: i128 = 0;
    for c in int.chars() {
        cents = cents
            .checked_mul(10)
            .and_then(|v| v.checked_add(i128::from(c as u8 - b'0')))
            .ok_or_else(bad)?;
        if cents > MAX_CENTS {
            return Err("amount too large for decimal(18,2)".into());
        }
    }
    let f = frac.as_bytes();
    let digit = |i: usize| i128::from(f.get(i).map_or(0, |b| b - b'0'));
    cents = cents * 100 + digit(0) * 10 + digit(1);
    if digit(2) >= 5 {
        cents += 1;
    }
    if cents > MAX_CENTS {
        return Err("amount too large for decimal(18,2)".into());
    }
    Ok(if neg { -(cents as i64) } else { cents as i64 })
}

/// Parses a whole number ("12", "-3", "+4", "5.0", "1,000" with thousands grouped by three).
pub fn parse_int(t: &str) -> Result<i64, String> {
    let bad = || "expected a whole number".to_string();
    let s = t
        .strip_suffix(".0")
        .or_else(|| t.strip_suffix(".00"))
        .unwrap_or(t);
    if !s.contains(',') {
        return s.parse::<i64>().map_err(|_| bad());
    }
    let digits = s.trim_start_matches(['-', '+']);
    let mut groups = digits.split(',');
    let grouped =
        groups.next().is_some_and(|g| (1..=3).contains(&g.len())) && groups.all(|g| g.len() == 3);
    if !grouped {
        return Err(bad());
    }
    s.replace(',', "").parse::<i64>().map_err(|_| bad())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::value::date_of;

    #[test]
    fn phones_become_e164() {
        for raw in [
            "13812345678",
            "138-1234-5678",
            "+86 138 1234 5678",
            "(+86)13812345678",
            "0086 13812345678",
            "１３８１２３４５６７８",
        ] {
            let nfkc: String = raw.nfkc().collect();
            assert_eq!(
                normalize_phone(&nfkc, "86").as_deref(),
                Ok("+8613812345678"),
                "{raw}"
            );
        }
        assert_eq!(
            normalize_phone("010-6512 3456", "86").as_deref(),
            Ok("+861065123456")
        );
        assert!(normalize_phone("12", "86").is_err());
        assert!(normalize_phone("call me", "86").is_err());
    }

    #[test]
    fn emails_are_checked() {
        assert_eq!(
            normalize_email("WangWei@163.COM").as_deref(),
            Ok("wangwei@163.com")
        );
        for bad in ["a@b", "@x.com", "a@@x.com", "a b@x.com", "plain"] {
            assert!(normalize_email(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn money_parses_exactly() {
        assert_eq!(parse_money("1,299.00"), Ok(129_900));
        assert_eq!(parse_money("12.5"), Ok(1250));
        assert_eq!(parse_money("-3"), Ok(-300));
        assert_eq!(parse_money("0.125"), Ok(13));
        assert_eq!(parse_money("¥ 8"), Ok(800));
        assert!(parse_money("12,5x").is_err());
        assert!(parse_money(".").is_err());
        assert!(parse_money("99999999999999999999").is_err());
    }

    #[test]
    fn dates_and_times_follow_the_formats() {
        let f = vec![compiled("%d.%m.%Y %H:%M")];
        let v = parse_timestamp("07.03.2024 18:45", &f, 8 * 3600).expect("ts");
        let Value::Ts { micros, day } = v else {
            panic!("not a ts")
        };
        assert_eq!(date_of(day).to_string(), "2024-03-07");
        assert_eq!(
            micros,
            NaiveDate::from_ymd_opt(2024, 3, 7)
                .and_then(|d| d.and_hms_opt(10, 45, 0))
                .map(|n| n.and_utc().timestamp_micros())
                .unwrap_or(0)
        );
        assert!(parse_timestamp("31.02.2024 10:00", &f, 0).is_err());
        let zoned = vec![compiled("%Y-%m-%dT%H:%M:%S%:z")];
        let Ok(Value::Ts { day, .. }) = parse_timestamp("2024-03-07T01:30:00+08:00", &zoned, 0)
        else {
            panic!("zoned")
        };
        assert_eq!(
            date_of(day).to_string(),
            "2024-03-07",
            "local business day, not the UTC day"
        );
        assert_eq!(
            parse_date("2024-03", &[compiled("%Y-%m")]).map(|d| d.to_string()),
            Ok("2024-03-01".into())
        );
        assert!(parse_date("2024/13/01", &[compiled("%Y/%m/%d")]).is_err());
        assert_eq!(
            parse_timestamp("2024-03-07", &[], 0).map(|v| v.as_day()),
            Ok(NaiveDate::from_ymd_opt(2024, 3, 7).map(day_number)),
            "the fallbacks: a date alone is midnight"
        );
        assert!(parse_timestamp("2024-03-07T10:00:00.5", &[], 0).is_ok());
    }

    #[test]
    fn whole_numbers_may_group_thousands() {
        assert_eq!(parse_int("1,000"), Ok(1000));
        assert_eq!(parse_int("-12,345,678"), Ok(-12_345_678));
        assert_eq!(parse_int("7.0"), Ok(7));
        for bad in ["1,00", "1,0000", ",100", "1,,000", "1.5", "x"] {
            assert!(parse_int(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn text_is_cleaned() {
        assert_eq!(clean_text("  王 伟 "), "王伟");
        assert_eq!(clean_text("John   Smith"), "John Smith");
        for clean in ["John Smith", "王伟", "王 Smith", "a"] {
            assert!(matches!(clean_text(clean), Cow::Borrowed(_)), "{clean}");
        }
        for messy in ["a  b", "a\tb", "王 伟", " a", "a "] {
            assert!(!is_clean(messy), "{messy}");
        }
    }
}
