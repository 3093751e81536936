//! Blocking: the record pairs worth comparing. Each rule names fields whose values must be
//! equal (a name by its pinyin); the rules are OR-ed, so a typo in one field hides a pair
//! from one rule only. Pairs are found by sorting records on a hash of each rule's key, so
//! the work grows with the records and the pairs, never with all pairs.

use rayon::prelude::*;
use xxhash_rust::xxh3::Xxh3;

use super::features::{Features, Field};

/// A candidate pair: records `a < b` (indexes into the resolver's records) and the rules
/// (one bit each) that put them together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pair {
    /// First record.
    pub a: u32,
    /// Second record.
    pub b: u32,
    /// Bit `r` set when rule `r` blocks the pair.
    pub rules: u16,
}

/// A block left out because it holds more records than the limit (e.g. a placeholder phone
/// typed for hundreds of customers): reported by rule and size, never by value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedBlock {
    /// Index of the rule.
    pub rule: usize,
    /// Records in the block.
    pub size: usize,
}

/// The candidate pairs of `records` under `rules`, sorted by `(a, b)`, without pairs of two
/// records below `first_fresh` unless `all` (older records were resolved by earlier nights;
/// their pairs are still wanted to train the model). Blocks above `max_block` records are
/// skipped and reported.
pub fn candidates(
    records: &[Features],
    rules: &[Vec<Field>],
    first_fresh: usize,
    all: bool,
    max_block: usize,
) -> (Vec<Pair>, Vec<SkippedBlock>) {
    let per_rule: Vec<(Vec<Pair>, Vec<SkippedBlock>)> = rules
        .par_iter()
        .enumerate()
        .map(|(r, fields)| rule_pairs(records, r, fields, first_fresh, all, max_block))
        .collect();
    let mut skipped = Vec::new();
    let mut pairs: Vec<Pair> = Vec::with_capacity(per_rule.iter().map(|(p, _)| p.len()).sum());
    for (p, s) in per_rule {
        pairs.extend(p);
        skipped.extend(s);
    }
    pairs.par_sort_unstable_by_key(|p| (p.a, p.b));
    let mut merged: Vec<Pair> = Vec::with_capacity(pairs.len());
    for p in pairs {
        match merged.last_mut() {
            Some(last) if (last.a, last.b) == (p.a, p.b) => last.rules |= p.rules,
            _ => merged.push(p),
        }
    }
    (merged, skipped)
}

fn rule_pairs(
    records: &[Features],
    rule: usize,
    fields: &[Field],
    first_fresh: usize,
    all: bool,
    max_block: usize,
) -> (Vec<Pair>, Vec<SkippedBlock>) {
    let mut keyed: Vec<(u64, u32)> = records
        .par_iter()
        .enumerate()
        .filter_map(|(i, r)| block_key(r, fields).map(|k| (k, i as u32)))
        .collect();
    keyed.par_sort_unstable();
    let bit = 1u16 << rule;
    let (mut pairs, mut skipped) = (Vec::new(), Vec::new());
    for block in keyed.chunk_by(|x, y| x.0 == y.0) {
        if block.len() < 2 || (!all && block.last().is_none_or(|x| (x.1 as usize) < first_fresh)) {
            continue;
        }
        if block.len() > max_block {
            skipped.push(SkippedBlock {
                rule,
                size: block.len(),
            });
            continue;
        }
        for (i, &(_, a)) in block.iter().enumerate() {
            for &(_, b) in &block[i + 1..] {
                if all || b as usize >= first_fresh {
                    pairs.push(Pair { a, b, rules: bit });
                }
            }
        }
    }
    (pairs, skipped)
}

/// A hash of the rule's fields of `r`, if it has them all (a 64-bit collision only adds a
/// pair to compare, never decides one).
fn block_key(r: &Features, fields: &[Field]) -> Option<u64> {
    let mut h = Xxh3::new();
    for f in fields {
        let v = r.key(*f)?;
        h.update(&(v.len() as u32).to_le_bytes());
        h.update(v);
    }
    Some(h.digest())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(phone: Option<&str>, city: Option<&str>) -> Features {
        Features {
            phone: phone.map(Into::into),
            city: city.map(Into::into),
            ..Features::default()
        }
    }

    #[test]
    fn rules_are_ored_and_pairs_carry_every_rule_that_found_them() {
        let records = vec![
            rec(Some("1"), Some("x")),
            rec(Some("1"), Some("y")),
            rec(Some("2"), Some("x")),
            rec(None, Some("x")),
        ];
        let rules = vec![vec![Field::Phone], vec![Field::City]];
        let (pairs, skipped) = candidates(&records, &rules, 0, true, 10);
        assert!(skipped.is_empty());
        let got: Vec<(u32, u32, u16)> = pairs.iter().map(|p| (p.a, p.b, p.rules)).collect();
        assert_eq!(got, vec![(0, 1, 1), (0, 2, 2), (0, 3, 2), (2, 3, 2)]);
        // Only pairs with a record at or after `first_fresh`.
        let (pairs, _) = candidates(&records, &rules, 3, false, 10);
        assert!(pairs.iter().all(|p| p.b == 3), "{pairs:?}");
        // A block over the limit is skipped and reported.
        let (pairs, skipped) = candidates(&records, &rules, 0, true, 2);
        assert_eq!(pairs.len(), 1);
        assert_eq!(skipped, vec![SkippedBlock { rule: 1, size: 3 }]);
    }
}
