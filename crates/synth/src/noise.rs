//! The mistakes people and systems make when a customer record is typed in: one-character
//! typos (insert, delete, substitute, transpose), digits slipped in an id number, day and
//! month swapped in a birth date, an address written another way. Identity resolution has
//! to see through these without merging the people they make look alike.

use chrono::{Datelike, NaiveDate};
use rand::Rng;
use rand_chacha::ChaCha8Rng;

use crate::catalog::GIVEN;

/// One typo in a name: a given-name character replaced by another (a wrong input-method
/// candidate), two characters transposed, one dropped, or one doubled.
pub fn name_typo(rng: &mut ChaCha8Rng, name: &str) -> String {
    let mut chars: Vec<char> = name.chars().collect();
    if chars.len() < 2 {
        return name.to_string();
    }
    // The surname (first character) is kept in most typos: clerks rarely get it wrong.
    let i = rng.random_range(1..chars.len());
    match rng.random_range(0..4) {
        0 => {
            let (g, _, _) = GIVEN[rng.random_range(0..GIVEN.len())];
            chars[i] = g.chars().next().unwrap_or(chars[i]);
        }
        1 if chars.len() > 2 => {
            let j = if i + 1 < chars.len() { i + 1 } else { i - 1 };
            chars.swap(i, j);
        }
        2 if chars.len() > 2 => {
            chars.remove(i);
        }
        _ => chars.insert(i, chars[i]),
    }
    chars.into_iter().collect()
}

/// One slipped digit in a string of digits: a digit replaced, or two neighbours swapped.
pub fn digit_typo(rng: &mut ChaCha8Rng, s: &str) -> String {
    let mut b: Vec<u8> = s.bytes().collect();
    let digits: Vec<usize> = (0..b.len()).filter(|&i| b[i].is_ascii_digit()).collect();
    if digits.len() < 2 {
        return s.to_string();
    }
    let k = rng.random_range(0..digits.len() - 1);
    let (i, j) = (digits[k], digits[k + 1]);
    if rng.random_bool(0.5) && b[i] != b[j] {
        b.swap(i, j);
    } else {
        b[i] = b'0' + (b[i] - b'0' + rng.random_range(1..10)) % 10;
    }
    String::from_utf8(b).unwrap_or_else(|_| s.to_string())
}

/// A birth date as mistyped: day and month swapped where that is another valid date, else
/// one digit of the day or the year off.
pub fn date_typo(rng: &mut ChaCha8Rng, d: NaiveDate) -> NaiveDate {
    if d.day() <= 12
        && d.day() != d.month()
        && rng.random_bool(0.6)
        && let Some(swapped) = NaiveDate::from_ymd_opt(d.year(), d.day(), d.month())
    {
        return swapped;
    }
    let shifted = if rng.random_bool(0.5) {
        d.with_day(((d.day() + 9) % 28).max(1))
    } else {
        d.with_year(d.year() + if rng.random_bool(0.5) { 1 } else { -1 })
    };
    shifted.unwrap_or(d)
}

/// An address typed another way: house and room numbers written `123-1005` instead of
/// `123号1005室`, or one digit slipped.
pub fn address_variant(rng: &mut ChaCha8Rng, address: &str) -> String {
    if rng.random_bool(0.5) {
        address.replace('号', "-").replace('室', "")
    } else {
        digit_typo(rng, address)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn typos_change_exactly_what_they_say() {
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for _ in 0..200 {
            let n = name_typo(&mut rng, "王伟明");
            assert!(n.starts_with('王'), "{n}");
            let id = digit_typo(&mut rng, "110105198503120042");
            assert_eq!(id.len(), 18);
            let differing = id
                .bytes()
                .zip("110105198503120042".bytes())
                .filter(|(a, b)| a != b)
                .count();
            assert!((1..=2).contains(&differing), "{id}");
            let d = NaiveDate::from_ymd_opt(1985, 3, 12).expect("date");
            assert_ne!(date_typo(&mut rng, d), d);
            let a = address_variant(&mut rng, "建国路12号1005室");
            assert_ne!(a, "建国路12号1005室");
        }
    }
}
