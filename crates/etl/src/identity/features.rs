//! What identity resolution compares of a customer record: its fields normalised once
//! (names as written and as toneless pinyin, birth dates as digits, addresses without the
//! ways of writing a house number), so blocking and comparing never re-parse a value.

use acrm_schema::EntityDef;
use pinyin::ToPinyin;

use super::{idnumber, names};
use crate::value::{CompactString, Value};

/// A field identity resolution compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    /// Full name.
    Name,
    /// Date of birth.
    BirthDate,
    /// Phone (E.164).
    Phone,
    /// E-mail (lower case).
    Email,
    /// National id number (its salted hash).
    IdNumber,
    /// Street address.
    Address,
    /// City.
    City,
    /// Gender code.
    Gender,
}

impl Field {
    /// Every field, in the order of a comparison vector.
    pub const ALL: [Field; 8] = [
        Field::Name,
        Field::BirthDate,
        Field::Phone,
        Field::Email,
        Field::IdNumber,
        Field::Address,
        Field::City,
        Field::Gender,
    ];

    /// The canonical customer field's name (as in `sources.toml` and the config).
    pub fn name(self) -> &'static str {
        match self {
            Field::Name => "name",
            Field::BirthDate => "birth_date",
            Field::Phone => "phone",
            Field::Email => "email",
            Field::IdNumber => "id_number",
            Field::Address => "address",
            Field::City => "city",
            Field::Gender => "gender",
        }
    }

    /// The field called `name`.
    pub fn parse(name: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.name() == name)
    }

    /// Position in a comparison vector.
    pub fn index(self) -> usize {
        self as usize
    }
}

/// Where each compared field sits in a customer record's values, and the given and family
/// names of sources that keep them apart (they grade the name's comparison).
#[derive(Debug, Clone)]
pub struct FieldSlots {
    fields: [Option<usize>; 8],
    given: Option<usize>,
    family: Option<usize>,
}

impl FieldSlots {
    /// The slots of `def`'s fields (a field the entity lacks is never compared).
    pub fn new(def: &EntityDef) -> Self {
        Self {
            fields: Field::ALL.map(|f| def.index_of(f.name())),
            given: def.index_of("given_name"),
            family: def.index_of("family_name"),
        }
    }

    fn get<'a>(&self, values: &'a [Value], f: Field) -> Option<&'a Value> {
        values.get(self.fields[f.index()]?)
    }

    /// The text of field `f` in `values`, if present.
    pub fn text<'a>(&self, values: &'a [Value], f: Field) -> Option<&'a str> {
        self.get(values, f)?.as_str().filter(|s| !s.is_empty())
    }

    /// The text in `slot` of `values`, if present.
    fn slot_text(values: &[Value], slot: Option<usize>) -> Option<&str> {
        values.get(slot?)?.as_str().filter(|s| !s.is_empty())
    }
}

/// One record's fields as compared.
#[derive(Debug, Clone, Default)]
pub struct Features {
    /// Name without white space, lower case.
    pub name: Option<Box<str>>,
    /// Toneless pinyin of the name (homophones such as 伟/玮 are equal).
    pub name_key: Option<Box<str>>,
    /// The name's lower-case words ([`names::words`]), sorted: equal for `huxley claudia`
    /// and `claudia huxley`, and paired off for nicknames and initials.
    pub words: Box<[Box<str>]>,
    /// The family name's pinyin key ([`name_key`]), where the source keeps it apart.
    pub family: Option<Box<str>>,
    /// The given name's pinyin key, where the source keeps it apart.
    pub given: Option<Box<str>>,
    /// Birth date as `YYYYMMDD` digits.
    pub birth: Option<[u8; 8]>,
    /// Phone.
    pub phone: Option<CompactString>,
    /// E-mail.
    pub email: Option<CompactString>,
    /// Id number (the hash of the whole number, [`idnumber::exact`]).
    pub id_number: Option<CompactString>,
    /// Hashes of the id number's one-character deletions, sorted ([`idnumber::variants`]).
    pub id_variants: Box<[u32]>,
    /// Address, normalised ([`normalise_address`]).
    pub address: Option<Box<str>>,
    /// City.
    pub city: Option<CompactString>,
    /// Gender code.
    pub gender: Option<CompactString>,
}

impl Features {
    /// The features of a record's `values`.
    pub fn of(slots: &FieldSlots, values: &[Value]) -> Self {
        let text = |f| slots.text(values, f);
        let name: Option<Box<str>> = text(Field::Name)
            .map(|n| {
                n.chars()
                    .filter(|c| !c.is_whitespace())
                    .flat_map(char::to_lowercase)
                    .collect::<String>()
                    .into_boxed_str()
            })
            .filter(|n| !n.is_empty());
        let name_key = name.as_deref().map(|n| name_key(n).into_boxed_str());
        let mut words = text(Field::Name).map(names::words).unwrap_or_default();
        words.sort_unstable();
        let part = |slot| {
            FieldSlots::slot_text(values, slot)
                .map(|p| self::name_key(p).into_boxed_str())
                .filter(|p| !p.is_empty())
        };
        let birth = slots
            .get(values, Field::BirthDate)
            .and_then(Value::as_day)
            .and_then(birth_digits);
        Self {
            name,
            name_key,
            words: words.into_boxed_slice(),
            family: part(slots.family),
            given: part(slots.given),
            birth,
            phone: text(Field::Phone).map(Into::into),
            email: text(Field::Email).map(Into::into),
            id_number: text(Field::IdNumber).map(|k| idnumber::exact(k).into()),
            id_variants: text(Field::IdNumber)
                .map(idnumber::variants)
                .unwrap_or_default(),
            address: text(Field::Address)
                .map(|a| normalise_address(a).into_boxed_str())
                .filter(|a| !a.is_empty()),
            city: text(Field::City).map(Into::into),
            gender: text(Field::Gender).map(Into::into),
        }
    }

    /// The value of `f` as blocking and term frequencies see it (a name by its pinyin).
    pub fn key(&self, f: Field) -> Option<&[u8]> {
        match f {
            Field::Name => self.name_key.as_deref().map(str::as_bytes),
            Field::BirthDate => self.birth.as_ref().map(|b| b.as_slice()),
            _ => self.exact(f),
        }
    }

    /// The value of `f` as an exact comparison sees it (a name as written).
    pub fn exact(&self, f: Field) -> Option<&[u8]> {
        let s: Option<&str> = match f {
            Field::Name => self.name.as_deref(),
            Field::BirthDate => return self.birth.as_ref().map(|b| b.as_slice()),
            Field::Phone => self.phone.as_deref(),
            Field::Email => self.email.as_deref(),
            Field::IdNumber => self.id_number.as_deref(),
            Field::Address => self.address.as_deref(),
            Field::City => self.city.as_deref(),
            Field::Gender => self.gender.as_deref(),
        };
        s.map(str::as_bytes)
    }
}

/// Toneless pinyin of a name, spaces dropped, lower-case; non-Han characters kept.
pub fn name_key(name: &str) -> String {
    let mut out = String::with_capacity(name.len() * 2);
    for c in name.chars().filter(|c| !c.is_whitespace()) {
        match c.to_pinyin() {
            Some(p) => out.push_str(p.plain()),
            None => out.extend(c.to_lowercase()),
        }
    }
    out
}

/// `YYYYMMDD` of a day number (days since 1970-01-01).
fn birth_digits(day: i32) -> Option<[u8; 8]> {
    let d = chrono::NaiveDate::from_num_days_from_ce_opt(day.checked_add(719_163)?)?;
    let s = d.format("%Y%m%d").to_string();
    s.as_bytes().try_into().ok()
}

/// An address as compared: lower case, the common abbreviations written out (`路段`, a
/// road's section, as `路`), and house / room markers (`号`, `室`, `#`, `-`, `/`) and
/// punctuation turned into single spaces, so `建国路段12号1005室` and `建国路12-1005` are equal.
pub fn normalise_address(address: &str) -> String {
    let mut spaced = String::with_capacity(address.len());
    for c in address
        .replace("路段", "路")
        .chars()
        .flat_map(char::to_lowercase)
    {
        if c.is_alphanumeric() && !matches!(c, '号' | '室') {
            spaced.push(c);
        } else {
            spaced.push(' ');
        }
    }
    spaced
        .split_whitespace()
        .map(|w| match w {
            "st" => "street",
            "rd" => "road",
            "ave" | "av" => "avenue",
            "apt" => "apartment",
            "no" => "number",
            other => other,
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn homophone_names_share_a_pinyin_key() {
        assert_eq!(name_key("王 伟"), name_key("王玮"));
        assert_eq!(name_key("John Smith"), "johnsmith");
    }

    #[test]
    fn addresses_written_two_ways_normalise_alike() {
        assert_eq!(
            normalise_address("建国路段12号1005室"),
            normalise_address("建国路12-1005")
        );
        assert_eq!(
            normalise_address("12 Main St., Apt 4"),
            "12 main street apartment 4"
        );
        assert_ne!(
            normalise_address("建国路12号1005室"),
            normalise_address("建国路21号1005室")
        );
    }

    #[test]
    fn birth_dates_become_digits() {
        // 1985-03-12 is day 5549 since 1970-01-01.
        assert_eq!(birth_digits(5549), Some(*b"19850312"));
        assert_eq!(Field::parse("birth_date"), Some(Field::BirthDate));
        assert_eq!(Field::parse("shoe_size"), None);
    }
}
