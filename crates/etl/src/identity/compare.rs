//! Comparison levels: how alike two records are in each field, as the index of the first
//! level that holds (0 is the strongest agreement, the last level is "disagree"), or `None`
//! when either side lacks the value (no evidence either way). The levels follow the ones
//! Splink's comparison library uses for the same kinds of field.

use super::features::{Features, Field};
use super::idnumber::share_variant;
use super::names::nickname_or_initial;

/// Level of a missing value: neither for nor against.
pub const NULL: u8 = u8::MAX;

/// The name's level where the names sound alike (same pinyin) or hold the same words.
pub const NAME_SAME_PINYIN: u8 = 1;
/// The name's level where the names differ but the family names (kept apart by the source)
/// agree: how Splink's separate surname comparison credits `kynan sincovich` and `matthew
/// sincovich` — strong for a rare surname, weak for 王 (term frequencies weigh it).
pub const NAME_SAME_FAMILY: u8 = 5;
/// The name's level where only the given names agree (a family name changed on marriage).
pub const NAME_SAME_GIVEN: u8 = 6;

/// The levels of each field, strongest first; the last is "disagree".
pub fn level_names(f: Field) -> &'static [&'static str] {
    match f {
        Field::Name => &[
            "exact",
            "same pinyin or words reordered",
            "nickname or initial",
            "pinyin jaro-winkler >= 0.92",
            "pinyin jaro-winkler >= 0.80",
            "same family name",
            "same given name",
            "different",
        ],
        Field::BirthDate => &["exact", "one typo or day/month swapped", "different"],
        Field::Phone | Field::IdNumber => &["exact", "one typo", "different"],
        Field::Email => &["exact", "same local part", "different"],
        Field::Address => &[
            "exact",
            "jaro-winkler >= 0.90",
            "one within the other",
            "different",
        ],
        Field::City => &["exact", "jaro-winkler >= 0.90", "different"],
        Field::Gender => &["exact", "different"],
    }
}

/// The comparison vector of records `a` and `b`: one level per field of [`Field::ALL`].
pub fn compare(a: &Features, b: &Features) -> [u8; 8] {
    Field::ALL.map(|f| level(f, a, b))
}

fn level(f: Field, a: &Features, b: &Features) -> u8 {
    match f {
        Field::Name => {
            let (Some(x), Some(y)) = (a.name.as_deref(), b.name.as_deref()) else {
                return NULL;
            };
            if x == y {
                return 0;
            }
            let (kx, ky) = (a.name_key.as_deref(), b.name_key.as_deref());
            if kx == ky || (!a.words.is_empty() && a.words == b.words) {
                return NAME_SAME_PINYIN;
            }
            if nickname_or_initial(&a.words, &b.words) {
                return 2;
            }
            let sim = strsim::jaro_winkler(kx.unwrap_or(x), ky.unwrap_or(y));
            let part_agrees = |x: &Option<Box<str>>, y: &Option<Box<str>>| x.is_some() && x == y;
            if sim >= 0.92 {
                3
            } else if sim >= 0.80 {
                4
            } else if part_agrees(&a.family, &b.family) {
                NAME_SAME_FAMILY
            } else if part_agrees(&a.given, &b.given) {
                NAME_SAME_GIVEN
            } else {
                7
            }
        }
        Field::BirthDate => match (&a.birth, &b.birth) {
            (Some(x), Some(y)) if x == y => 0,
            (Some(x), Some(y)) if one_slip(x, y) || day_month_swapped(x, y) => 1,
            (Some(_), Some(_)) => 2,
            _ => NULL,
        },
        Field::Phone => match (a.phone.as_deref(), b.phone.as_deref()) {
            (Some(x), Some(y)) if x == y => 0,
            (Some(x), Some(y)) if x.len() == y.len() && one_slip(x.as_bytes(), y.as_bytes()) => 1,
            (Some(_), Some(_)) => 2,
            _ => NULL,
        },
        Field::Email => match (a.email.as_deref(), b.email.as_deref()) {
            (Some(x), Some(y)) if x == y => 0,
            (Some(x), Some(y)) if x.split('@').next() == y.split('@').next() => 1,
            (Some(_), Some(_)) => 2,
            _ => NULL,
        },
        Field::Address => match (a.address.as_deref(), b.address.as_deref()) {
            (Some(x), Some(y)) => match fuzzy(Some(x), Some(y)) {
                // Not alike as a whole, but one holds all the other's words.
                2 if within(x, y) => 2,
                2 => 3,
                level => level,
            },
            _ => NULL,
        },
        Field::City => fuzzy(a.city.as_deref(), b.city.as_deref()),
        Field::IdNumber => match (a.id_number.as_deref(), b.id_number.as_deref()) {
            (Some(x), Some(y)) if x == y => 0,
            (Some(_), Some(_)) if share_variant(&a.id_variants, &b.id_variants) => 1,
            (Some(_), Some(_)) => 2,
            _ => NULL,
        },
        Field::Gender => match (a.exact(f), b.exact(f)) {
            (Some(x), Some(y)) => u8::from(x != y),
            _ => NULL,
        },
    }
}

/// Exact, Jaro-Winkler at least 0.90 (a typo: `rylstone` and `rylstine`), or different.
fn fuzzy(x: Option<&str>, y: Option<&str>) -> u8 {
    match (x, y) {
        (Some(x), Some(y)) if x == y => 0,
        (Some(x), Some(y)) if strsim::jaro_winkler(x, y) >= 0.90 => 1,
        (Some(_), Some(_)) => 2,
        _ => NULL,
    }
}

/// Whether every word of the address with fewer words is a word of the other: one export
/// dropped the house number (`fitchett street`, `137 fitchett street`) or the room.
fn within(x: &str, y: &str) -> bool {
    let (mut short, mut long): (Vec<&str>, Vec<&str>) =
        (x.split(' ').collect(), y.split(' ').collect());
    if short.len() > long.len() {
        std::mem::swap(&mut short, &mut long);
    }
    short.iter().all(|w| long.contains(w))
}

/// Equal-length byte strings that differ in one position, or in two neighbouring positions
/// swapped (a transposition).
fn one_slip(x: &[u8], y: &[u8]) -> bool {
    if x.len() != y.len() {
        return false;
    }
    let diff: Vec<usize> = (0..x.len()).filter(|&i| x[i] != y[i]).take(3).collect();
    match diff.as_slice() {
        [_] => true,
        [i, j] => *j == i + 1 && x[*i] == y[*j] && x[*j] == y[*i],
        _ => false,
    }
}

/// `YYYYMMDD` dates with the same year and day and month swapped.
fn day_month_swapped(x: &[u8; 8], y: &[u8; 8]) -> bool {
    x[..4] == y[..4] && x[4..6] == y[6..8] && x[6..8] == y[4..6]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn person(name: &str, birth: &[u8; 8], phone: &str) -> Features {
        Features {
            name: Some(name.into()),
            name_key: Some(super::super::features::name_key(name).into_boxed_str()),
            birth: Some(*birth),
            phone: Some(phone.into()),
            ..Features::default()
        }
    }

    #[test]
    fn levels_grade_agreement_and_missing_values_are_neutral() {
        let a = person("王伟", b"19850312", "+8613800000001");
        let same = compare(&a, &a);
        assert_eq!(&same[..3], &[0, 0, 0]);
        assert_eq!(same[Field::Email.index()], NULL, "no e-mail on either side");
        let homophone = person("王玮", b"19851203", "+8613800000010");
        let c = compare(&a, &homophone);
        assert_eq!(c[Field::Name.index()], 1, "same pinyin");
        assert_eq!(c[Field::BirthDate.index()], 1, "day and month swapped");
        assert_eq!(c[Field::Phone.index()], 1, "two digits transposed");
        let words: Box<[Box<str>]> = Box::new(["claudia".into(), "huxley".into()]);
        let swapped = Features {
            words: words.clone(),
            ..person("huxley claudia", b"19441020", "+8613800000001")
        };
        let written = Features {
            words,
            ..person("claudia huxley", b"19441020", "+8613800000001")
        };
        assert_eq!(
            compare(&swapped, &written)[Field::Name.index()],
            1,
            "words reordered"
        );
        let other = person("李娜", b"19700101", "+8613911112222");
        let c = compare(&a, &other);
        assert_eq!(&c[..3], &[7, 2, 2]);
    }

    #[test]
    fn addresses_and_cities_grade_typos_and_dropped_parts() {
        let at = |address: &str, city: &str| Features {
            address: Some(address.into()),
            city: Some(city.into()),
            ..Features::default()
        };
        let home = at("137 fitchett street", "rylstone");
        let (a, c) = (Field::Address.index(), Field::City.index());
        let v = compare(&home, &at("fitchett street", "rylstine"));
        assert_eq!((v[a], v[c]), (2, 1), "number dropped, city misspelt");
        let v = compare(&home, &at("137 fitchett stret", "dundowran"));
        assert_eq!((v[a], v[c]), (1, 2));
        let v = compare(&home, &at("12 grylls crescent", "rylstone"));
        assert_eq!((v[a], v[c]), (3, 0));
    }

    #[test]
    fn names_kept_apart_credit_an_agreeing_family_or_given_name() {
        let kept = |given: &str, family: &str| Features {
            family: Some(family.into()),
            given: Some(given.into()),
            ..person(&format!("{given}{family}"), b"19600731", "+61200000000")
        };
        let name = |a: &Features, b: &Features| compare(a, b)[Field::Name.index()];
        let matthew = kept("matthew", "sincovich");
        assert_eq!(
            name(&matthew, &kept("kynan", "sincovich")),
            NAME_SAME_FAMILY
        );
        assert_eq!(name(&matthew, &kept("matthew", "huxley")), NAME_SAME_GIVEN);
        assert_eq!(name(&matthew, &kept("claudia", "huxley")), 7);
        let unkept = person("kynansincovich", b"19600731", "+61200000000");
        assert_eq!(name(&matthew, &unkept), 7, "no family name to agree on");
    }

    #[test]
    fn one_slip_is_one_substitution_or_one_transposition() {
        assert!(one_slip(b"19850312", b"19850322"));
        assert!(one_slip(b"19850312", b"19850321"));
        assert!(!one_slip(b"19850312", b"19860322"));
        assert!(!one_slip(b"123", b"1234"));
    }
}
