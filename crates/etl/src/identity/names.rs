//! Names written two ways: a full name from the given and family name columns some sources
//! keep, and the nicknames, diminutives and initials that make "Bob Smith", "Robert Smith"
//! and "R. Smith" one name. The nickname pairs are the `carltonnorthern/nicknames` list
//! (`data/nicknames.csv`, Apache-2.0): no Rust crate carries such a list, and a fixed table
//! compiled in keeps every build's matching the same.

use std::collections::HashMap;
use std::sync::LazyLock;

/// For each nickname or diminutive, the given names it is short for (`bob` → `robert`,
/// `rob`...), as the list has them.
static FORMAL: LazyLock<HashMap<&'static str, Vec<&'static str>>> = LazyLock::new(|| {
    let mut formal: HashMap<&'static str, Vec<&'static str>> = HashMap::new();
    for line in include_str!("../../data/nicknames.csv").lines().skip(1) {
        let mut cells = line.split(',').map(str::trim);
        if let (Some(name), Some("has_nickname"), Some(nickname)) =
            (cells.next(), cells.next(), cells.next())
        {
            formal.entry(nickname).or_default().push(name);
        }
    }
    formal
});

/// The full name of a record whose source keeps given and family names apart: given first,
/// as Western names are written; whichever part is present when one is missing.
pub fn full_name(given: Option<&str>, family: Option<&str>) -> Option<String> {
    match (
        given.filter(|g| !g.is_empty()),
        family.filter(|f| !f.is_empty()),
    ) {
        (Some(g), Some(f)) => Some(format!("{g} {f}")),
        (Some(one), None) | (None, Some(one)) => Some(one.to_string()),
        (None, None) => None,
    }
}

/// The lower-case words of a name, dots of initials dropped (`R. Smith` → `r`, `smith`).
pub fn words(name: &str) -> Vec<Box<str>> {
    name.split(|c: char| c.is_whitespace() || c == '.' || c == ',')
        .filter(|w| !w.is_empty())
        .map(|w| w.to_lowercase().into_boxed_str())
        .collect()
}

/// Two given names written for one person: one a nickname of the other, two nicknames of
/// one name (`bob` and `rob` of `robert`), or one the other's initial.
fn same_person_word(a: &str, b: &str) -> bool {
    let initial =
        |i: &str, w: &str| i.chars().count() == 1 && w.starts_with(i) && w.len() > i.len();
    let formal = |w: &str| FORMAL.get(w).map_or(&[][..], Vec::as_slice);
    let (fa, fb) = (formal(a), formal(b));
    initial(a, b)
        || initial(b, a)
        || fa.contains(&b)
        || fb.contains(&a)
        || fa.iter().any(|f| fb.contains(f))
}

/// Names of as many words, at least one of them equal (the family name), whose other words
/// pair off as nicknames or initials of each other, in any order: "Bob Smith" and "Robert
/// Smith", "J Smith" and "John Smith", "Smith Bill" and "William Smith". Names equal word
/// for word are not: they agree more strongly than this.
pub fn nickname_or_initial(a: &[Box<str>], b: &[Box<str>]) -> bool {
    if a.len() != b.len() || a.len() < 2 {
        return false;
    }
    let mut rest_b: Vec<&str> = b.iter().map(|w| &**w).collect();
    let mut rest_a: Vec<&str> = Vec::new();
    for w in a {
        match rest_b.iter().position(|x| *x == &**w) {
            Some(p) => {
                rest_b.swap_remove(p);
            }
            None => rest_a.push(w),
        }
    }
    if rest_a.is_empty() || rest_a.len() == a.len() {
        return false;
    }
    rest_a.into_iter().all(
        |w| match rest_b.iter().position(|x| same_person_word(w, x)) {
            Some(p) => {
                rest_b.swap_remove(p);
                true
            }
            None => false,
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(name: &str) -> Vec<Box<str>> {
        words(name)
    }

    #[test]
    fn nicknames_and_initials_pair_off_with_the_family_name_equal() {
        assert!(FORMAL.len() > 1000, "the list is compiled in");
        assert!(nickname_or_initial(&w("Bob Smith"), &w("Robert Smith")));
        assert!(nickname_or_initial(&w("Robert Smith"), &w("Bob Smith")));
        assert!(
            nickname_or_initial(&w("Bob Smith"), &w("Rob Smith")),
            "two nicknames of Robert"
        );
        assert!(nickname_or_initial(&w("R. Smith"), &w("Robert Smith")));
        assert!(
            nickname_or_initial(&w("Smith Bill"), &w("William Smith")),
            "words swapped"
        );
        assert!(nickname_or_initial(
            &w("Liz M Jones"),
            &w("Elizabeth Mary Jones")
        ));
        assert!(
            !nickname_or_initial(&w("Bob Smith"), &w("Robert Jones")),
            "another family"
        );
        assert!(
            !nickname_or_initial(&w("Bob Smith"), &w("Bob Smith")),
            "equal is stronger"
        );
        assert!(!nickname_or_initial(&w("Bob Smith"), &w("Alice Smith")));
        assert!(!nickname_or_initial(&w("Smith"), &w("Smith")));
        assert!(
            !nickname_or_initial(&w("A Smith"), &w("Bob Smith")),
            "another initial"
        );
        assert!(
            !nickname_or_initial(&w("王伟"), &w("王玮")),
            "one word: pinyin decides"
        );
    }

    #[test]
    fn a_full_name_is_given_then_family() {
        assert_eq!(
            full_name(Some("Claudia"), Some("Huxley")).as_deref(),
            Some("Claudia Huxley")
        );
        assert_eq!(full_name(None, Some("Huxley")).as_deref(), Some("Huxley"));
        assert_eq!(full_name(Some(""), None), None);
        assert_eq!(w("R. Smith, Jr"), w("r smith jr"));
    }
}
