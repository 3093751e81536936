//! Baskets as transactions: item names dictionary-encoded to dense ids, each basket a sorted,
//! duplicate-free run of ids in one flat array (no one-hot matrix: memory is proportional to
//! the basket lines, whatever the number of distinct items).

use std::collections::HashMap;

use foldhash::fast::FixedState;

/// A set of baskets over a dictionary of items.
#[derive(Debug, Clone, Default)]
pub struct Transactions {
    /// Item names; an item's id is its index here.
    pub items: Vec<String>,
    /// Basket `b` holds `ids[offsets[b]..offsets[b + 1]]`.
    offsets: Vec<usize>,
    ids: Vec<u32>,
}

impl Transactions {
    /// Builds transactions from baskets of item names (duplicates within a basket count once).
    pub fn from_baskets<I, B, S>(baskets: I) -> Self
    where
        I: IntoIterator<Item = B>,
        B: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut builder = Builder::default();
        for basket in baskets {
            for name in basket {
                builder.item(name.as_ref());
            }
            builder.close_basket();
        }
        builder.finish()
    }

    /// Builds transactions from (basket, item) pairs, e.g. order lines; pairs of one basket
    /// need not be adjacent.
    pub fn from_pairs<K, S>(pairs: impl IntoIterator<Item = (K, S)>) -> Self
    where
        K: std::hash::Hash + Eq,
        S: AsRef<str>,
    {
        let mut order: HashMap<K, usize, FixedState> = HashMap::default();
        let mut baskets: Vec<Vec<String>> = Vec::new();
        for (key, item) in pairs {
            let next = baskets.len();
            let b = *order.entry(key).or_insert(next);
            if b == next {
                baskets.push(Vec::new());
            }
            baskets[b].push(item.as_ref().to_string());
        }
        Self::from_baskets(baskets)
    }

    /// Number of baskets.
    pub fn len(&self) -> usize {
        self.offsets.len().saturating_sub(1)
    }

    /// No baskets.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The item ids of basket `b`, ascending.
    pub fn basket(&self, b: usize) -> &[u32] {
        &self.ids[self.offsets[b]..self.offsets[b + 1]]
    }

    /// Every basket in order.
    pub fn baskets(&self) -> impl Iterator<Item = &[u32]> {
        (0..self.len()).map(|b| self.basket(b))
    }
}

/// Builds transactions line by line: items go into the open basket, closed by
/// [`Builder::close_basket`]; only item ids are kept, one dictionary entry per distinct item.
#[derive(Debug)]
pub struct Builder {
    t: Transactions,
    dictionary: HashMap<String, u32, FixedState>,
    /// Where the open basket starts in `t.ids`.
    start: usize,
    /// Key of the open basket when fed by [`Builder::pair`].
    key: Option<String>,
}

impl Default for Builder {
    fn default() -> Self {
        Self {
            t: Transactions {
                offsets: vec![0],
                ..Transactions::default()
            },
            dictionary: HashMap::default(),
            start: 0,
            key: None,
        }
    }
}

impl Builder {
    /// Adds an item to the open basket.
    pub fn item(&mut self, name: &str) {
        let id = match self.dictionary.get(name) {
            Some(&id) => id,
            None => {
                let id = self.t.items.len() as u32;
                self.dictionary.insert(name.to_string(), id);
                self.t.items.push(name.to_string());
                id
            }
        };
        self.t.ids.push(id);
    }

    /// Closes the open basket (its items sorted, duplicates dropped).
    pub fn close_basket(&mut self) {
        let ids = &mut self.t.ids;
        ids[self.start..].sort_unstable();
        let mut kept = self.start;
        for i in self.start..ids.len() {
            if i == self.start || ids[i] != ids[kept - 1] {
                ids[kept] = ids[i];
                kept += 1;
            }
        }
        ids.truncate(kept);
        self.t.offsets.push(ids.len());
        self.start = ids.len();
    }

    /// Adds a (basket, item) line; lines of one basket must be adjacent (sorted by basket),
    /// so no basket key outlives its basket.
    pub fn pair(&mut self, basket: &str, item: &str) {
        if self.key.as_deref() != Some(basket) {
            if self.key.is_some() {
                self.close_basket();
            }
            self.key = Some(basket.to_string());
        }
        self.item(item);
    }

    /// The transactions built (an open basket is closed first).
    pub fn finish(mut self) -> Transactions {
        if self.key.is_some() {
            self.close_basket();
        }
        self.t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_are_encoded_once_and_baskets_deduplicated() {
        let t = Transactions::from_baskets([vec!["milk", "bread", "milk"], vec!["beer"], vec![]]);
        assert_eq!(t.items, vec!["milk", "bread", "beer"]);
        assert_eq!(t.len(), 3);
        assert_eq!(t.basket(0), &[0, 1]);
        assert_eq!(t.basket(1), &[2]);
        assert!(t.basket(2).is_empty());
        let p = Transactions::from_pairs([(7, "a"), (3, "b"), (7, "c"), (3, "b")]);
        assert_eq!(p.len(), 2);
        // Baskets in order of first appearance (7, then 3); items as first seen (a, c, b).
        assert_eq!(p.items, vec!["a", "c", "b"]);
        assert_eq!(p.basket(0), &[0, 1]);
        assert_eq!(p.basket(1), &[2]);
        let mut b = Builder::default();
        for (basket, item) in [("o1", "x"), ("o1", "y"), ("o1", "x"), ("o2", "y")] {
            b.pair(basket, item);
        }
        let t = b.finish();
        assert_eq!(
            (t.len(), t.basket(0), t.basket(1)),
            (2, &[0, 1][..], &[1][..])
        );
        assert!(Builder::default().finish().is_empty());
    }
}
