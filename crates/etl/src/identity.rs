//! Identity resolution: which source customer records are the same person.
//!
//! Rules (documented in README "Identity resolution"):
//! 1. A record keeps the golden id its (system, source id) got before: ids are sticky.
//! 2. New records are the same customer as any record sharing a normalised e-mail, E.164
//!    phone or id number (deterministic match), or sharing birth date and city with a name
//!    whose toneless pinyin has Jaro-Winkler similarity ≥ `name_similarity` (fuzzy match;
//!    pinyin makes homophone typos such as 伟/玮 equal).
//! 3. Matches are closed transitively (union-find). A cluster touching one existing golden
//!    customer joins it; one touching none gets the next id; one touching several joins the
//!    smallest and is reported for review (existing golden customers are never merged
//!    silently, so facts already published keep their meaning).
//!
//! Survivorship: per attribute, the first non-null value ordered by source priority (1 wins),
//! then the most recent batch, then the latest record; signup date is the earliest.

use std::collections::BTreeSet;

use acrm_schema::{ColumnDef, ColumnType, EntityDef, FieldType, TableDef, TableKind};
use pinyin::ToPinyin;
use rayon::prelude::*;

use crate::record::FastMap;
use crate::value::{CompactString, Value};

/// One source customer record as kept in the build state.
#[derive(Debug, Clone)]
pub struct CustomerRecord {
    /// Customer id system (the customer source's name).
    pub system: CompactString,
    /// Id in that system.
    pub source_id: CompactString,
    /// Golden customer id.
    pub customer_id: i64,
    /// Global load order.
    pub seq: i64,
    /// Batch day the record (last) arrived.
    pub batch_day: i32,
    /// Created from a fact's reference, not from a master record.
    pub inferred: bool,
    /// Canonical customer fields (id number replaced by its hash).
    pub values: Vec<Value>,
}

pub use acrm_store::Conflict;

fn union_find_root(parent: &mut [usize], mut i: usize) -> usize {
    while parent[i] != i {
        parent[i] = parent[parent[i]];
        i = parent[i];
    }
    i
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

/// All customer records plus the indexes that resolve references to them.
pub struct IdentityStore {
    records: Vec<CustomerRecord>,
    /// System → source id → record: looked up by `&str` on every fact line, so without
    /// allocating a key, and each system's name held once.
    by_ref: FastMap<CompactString, FastMap<CompactString, usize>>,
    members: FastMap<i64, Vec<usize>>,
    next_customer_id: i64,
    next_seq: i64,
    f_email: usize,
    f_phone: usize,
    f_id: usize,
    f_name: usize,
    f_birth: usize,
    f_city: usize,
    /// Conflicts found so far in this build.
    pub conflicts: Vec<Conflict>,
}

impl IdentityStore {
    /// A store holding `records` (from the previous version's state).
    pub fn new(def: &EntityDef, records: Vec<CustomerRecord>) -> Self {
        let idx = |n: &str| def.index_of(n).unwrap_or(usize::MAX);
        let mut s = Self {
            next_customer_id: records.iter().map(|r| r.customer_id).max().unwrap_or(0) + 1,
            next_seq: records.iter().map(|r| r.seq).max().unwrap_or(0) + 1,
            records: Vec::new(),
            by_ref: FastMap::default(),
            members: FastMap::default(),
            f_email: idx("email"),
            f_phone: idx("phone"),
            f_id: idx("id_number"),
            f_name: idx("name"),
            f_birth: idx("birth_date"),
            f_city: idx("city"),
            conflicts: Vec::new(),
        };
        for r in records {
            s.push(r);
        }
        s
    }

    fn push(&mut self, r: CustomerRecord) -> usize {
        let i = self.records.len();
        self.by_ref
            .entry(r.system.clone())
            .or_default()
            .insert(r.source_id.clone(), i);
        self.members.entry(r.customer_id).or_default().push(i);
        self.records.push(r);
        i
    }

    /// Every record.
    pub fn records(&self) -> &[CustomerRecord] {
        &self.records
    }

    /// The record of (system, source id), if known.
    fn record_of(&self, system: &str, id: &str) -> Option<usize> {
        self.by_ref.get(system)?.get(id).copied()
    }

    /// Golden id of (system, source id), if known.
    pub fn lookup(&self, system: &str, id: &str) -> Option<i64> {
        self.record_of(system, id)
            .map(|i| self.records[i].customer_id)
    }

    /// Golden id for a reference no master record knows: an inferred customer carrying only
    /// what the fact said (e.g. a caller's phone), created once per reference.
    pub fn infer(&mut self, system: &str, id: &str, day: i32, values: Vec<Value>) -> i64 {
        if let Some(c) = self.lookup(system, id) {
            return c;
        }
        let customer_id = self.next_customer_id;
        self.next_customer_id += 1;
        let seq = self.next_seq;
        self.next_seq += 1;
        self.push(CustomerRecord {
            system: system.into(),
            source_id: id.into(),
            customer_id,
            seq,
            batch_day: day,
            inferred: true,
            values,
        });
        customer_id
    }

    /// Index of a contact key (e-mail or phone value) to golden ids, over current values.
    pub fn contact_index(&self, field: &str) -> FastMap<CompactString, i64> {
        let f = if field == "email" {
            self.f_email
        } else {
            self.f_phone
        };
        let mut m = FastMap::default();
        for r in &self.records {
            if let Some(Value::Str(k)) = r.values.get(f) {
                m.entry(k.clone())
                    .and_modify(|c: &mut i64| *c = (*c).min(r.customer_id))
                    .or_insert(r.customer_id);
            }
        }
        m
    }

    /// Resolves one batch of master records `(system, source id, values)` in load order and
    /// returns the golden ids whose records changed.
    pub fn resolve_batch(
        &mut self,
        batch: Vec<(String, String, Vec<Value>)>,
        day: i32,
        name_similarity: f64,
    ) -> BTreeSet<i64> {
        let mut touched = BTreeSet::new();
        let mut fresh: Vec<CustomerRecord> = Vec::new();
        let mut fresh_ref: FastMap<(String, String), usize> = FastMap::default();
        for (system, source_id, values) in batch {
            let seq = self.next_seq;
            self.next_seq += 1;
            let key = (system.clone(), source_id.clone());
            if let Some(i) = self.record_of(&system, &source_id) {
                let r = &mut self.records[i];
                r.values = values;
                r.seq = seq;
                r.batch_day = day;
                r.inferred = false;
                touched.insert(r.customer_id);
            } else if let Some(&j) = fresh_ref.get(&key) {
                fresh[j].values = values;
                fresh[j].seq = seq;
            } else {
                fresh_ref.insert(key, fresh.len());
                fresh.push(CustomerRecord {
                    system: system.into(),
                    source_id: source_id.into(),
                    customer_id: 0,
                    seq,
                    batch_day: day,
                    inferred: false,
                    values,
                });
            }
        }
        // The match keys and name block of every record, on every core (the pinyin of a
        // name is the dearest part).
        let this = &*self;
        let keys_of = |r: &CustomerRecord| (this.keys(r), this.block(r));
        let (old_keys, fresh_keys): (Vec<_>, Vec<_>) = rayon::join(
            || this.records.par_iter().map(keys_of).collect(),
            || fresh.par_iter().map(keys_of).collect(),
        );
        // Indexes over the records that already have an id.
        let mut keyed: FastMap<(u8, CompactString), i64> = FastMap::default();
        let mut blocks: FastMap<(i32, CompactString), Vec<(CompactString, i64)>> =
            FastMap::default();
        for (r, (keys, block)) in self.records.iter().zip(old_keys) {
            for (tag, k) in keys {
                keyed
                    .entry((tag, k))
                    .and_modify(|c| *c = (*c).min(r.customer_id))
                    .or_insert(r.customer_id);
            }
            if let Some((b, n)) = block {
                blocks.entry(b).or_default().push((n, r.customer_id));
            }
        }
        let n = fresh.len();
        let mut parent: Vec<usize> = (0..n).collect();
        let mut links: Vec<BTreeSet<i64>> = vec![BTreeSet::new(); n];
        let mut owner: FastMap<(u8, CompactString), usize> = FastMap::default();
        let mut new_blocks: FastMap<(i32, CompactString), Vec<(CompactString, usize)>> =
            FastMap::default();
        for (i, (keys, block)) in fresh_keys.into_iter().enumerate() {
            for key in keys {
                if let Some(c) = keyed.get(&key) {
                    links[i].insert(*c);
                }
                match owner.get(&key) {
                    Some(&j) => {
                        let (a, b) = (
                            union_find_root(&mut parent, i),
                            union_find_root(&mut parent, j),
                        );
                        parent[a.max(b)] = a.min(b);
                    }
                    None => {
                        owner.insert(key, i);
                    }
                }
            }
            if let Some((b, name)) = block {
                for (other, c) in blocks.get(&b).into_iter().flatten() {
                    if strsim::jaro_winkler(&name, other) >= name_similarity {
                        links[i].insert(*c);
                    }
                }
                let peers = new_blocks.entry(b).or_default();
                for (other, j) in peers.iter() {
                    if strsim::jaro_winkler(&name, other) >= name_similarity {
                        let (a, b) = (
                            union_find_root(&mut parent, i),
                            union_find_root(&mut parent, *j),
                        );
                        parent[a.max(b)] = a.min(b);
                    }
                }
                peers.push((name, i));
            }
        }
        // Clusters in order of their first record; ids follow that order.
        let mut cluster_links: FastMap<usize, BTreeSet<i64>> = FastMap::default();
        for (i, l) in links.into_iter().enumerate() {
            let root = union_find_root(&mut parent, i);
            cluster_links.entry(root).or_default().extend(l);
        }
        let mut cluster_id: FastMap<usize, i64> = FastMap::default();
        for (i, record) in fresh.iter_mut().enumerate() {
            let root = union_find_root(&mut parent, i);
            let id = *cluster_id.entry(root).or_insert_with(|| {
                let existing = &cluster_links[&root];
                match existing.first() {
                    Some(&kept) => {
                        for &other in existing.iter().skip(1) {
                            self.conflicts.push(Conflict { kept, other });
                        }
                        kept
                    }
                    None => {
                        let id = self.next_customer_id;
                        self.next_customer_id += 1;
                        id
                    }
                }
            });
            record.customer_id = id;
        }
        for r in fresh {
            touched.insert(r.customer_id);
            self.push(r);
        }
        touched
    }

    fn keys(&self, r: &CustomerRecord) -> Vec<(u8, CompactString)> {
        [(0u8, self.f_email), (1, self.f_phone), (2, self.f_id)]
            .into_iter()
            .filter_map(|(tag, f)| match r.values.get(f) {
                Some(Value::Str(s)) => Some((tag, s.clone())),
                _ => None,
            })
            .collect()
    }

    fn block(&self, r: &CustomerRecord) -> Option<((i32, CompactString), CompactString)> {
        let birth = r.values.get(self.f_birth)?.as_day()?;
        let city = r.values.get(self.f_city)?.as_str()?;
        let name = name_key(r.values.get(self.f_name)?.as_str()?);
        (!name.is_empty()).then(|| ((birth, city.into()), name.into()))
    }

    /// Member records of golden customer `id`.
    pub fn members(&self, id: i64) -> impl Iterator<Item = &CustomerRecord> {
        self.members
            .get(&id)
            .into_iter()
            .flatten()
            .map(|i| &self.records[*i])
    }

    /// Every golden id, ascending.
    pub fn customer_ids(&self) -> BTreeSet<i64> {
        self.members.keys().copied().collect()
    }
}

/// The state table holding every customer record (internal to the build, never published:
/// it lives under `_state/`).
pub fn records_table(def: &EntityDef) -> TableDef {
    let col = |name: &str, ty: ColumnType| ColumnDef {
        name: name.into(),
        column_type: ty,
        nullable: true,
        pii: false,
        mask: Default::default(),
        history: false,
        description: String::new(),
    };
    let mut columns = vec![
        col("_system", ColumnType::Utf8),
        col("_source_id", ColumnType::Utf8),
        col("_customer_id", ColumnType::Int64),
        col("_seq", ColumnType::Int64),
        col("_batch_day", ColumnType::Date),
        col("_inferred", ColumnType::Bool),
    ];
    for f in &def.fields {
        columns.push(col(&f.name, field_column_type(f.field_type)));
    }
    TableDef {
        name: "customer_records".into(),
        kind: TableKind::Audit,
        analysis: None,
        grain: String::new(),
        description: String::new(),
        primary_key: vec![],
        partition_by: None,
        sort_by: vec![],
        columns,
    }
}

/// Storage type of a staged canonical field.
pub fn field_column_type(t: FieldType) -> ColumnType {
    match t {
        FieldType::Date => ColumnType::Date,
        FieldType::Timestamp => ColumnType::Timestamp,
        FieldType::Decimal => ColumnType::Decimal,
        FieldType::Int => ColumnType::Int64,
        FieldType::Bool => ColumnType::Bool,
        _ => ColumnType::Utf8,
    }
}

/// Converts a record to a state-table row.
pub fn record_to_row(r: &CustomerRecord) -> Vec<Value> {
    let mut row = vec![
        Value::Str(r.system.clone()),
        Value::Str(r.source_id.clone()),
        Value::Int(r.customer_id),
        Value::Int(r.seq),
        Value::Date(r.batch_day),
        Value::Bool(r.inferred),
    ];
    row.extend(r.values.iter().cloned());
    row
}

/// Converts a state-table row back to a record.
pub fn row_to_record(mut row: Vec<Value>) -> Option<CustomerRecord> {
    let values = row.split_off(6);
    let mut it = row.into_iter();
    let s = |v: Option<Value>| match v {
        Some(Value::Str(s)) => Some(s),
        _ => None,
    };
    Some(CustomerRecord {
        system: s(it.next())?,
        source_id: s(it.next())?,
        customer_id: it.next()?.as_i64()?,
        seq: it.next()?.as_i64()?,
        batch_day: it.next()?.as_day()?,
        inferred: it.next()?.as_bool()?,
        values,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def() -> EntityDef {
        acrm_schema::SourceCatalog::builtin()
            .expect("catalog")
            .entity(acrm_schema::EntityKind::Customer)
            .clone()
    }

    fn rec(def: &EntityDef, pairs: &[(&str, Value)]) -> Vec<Value> {
        let mut v = vec![Value::Null; def.fields.len()];
        for (k, val) in pairs {
            v[def.index_of(k).expect("field")] = val.clone();
        }
        v
    }

    #[test]
    fn homophone_names_share_a_pinyin_key() {
        assert_eq!(name_key("王 伟"), name_key("王玮"));
        assert_eq!(name_key("John Smith"), "johnsmith");
    }

    #[test]
    fn deterministic_fuzzy_and_transitive_matches() {
        let d = def();
        let mut s = IdentityStore::new(&d, vec![]);
        let s_ = |x: &str| Value::Str(x.into());
        let batch = vec![
            (
                "crm".into(),
                "C1".into(),
                rec(
                    &d,
                    &[
                        ("name", s_("王伟")),
                        ("phone", s_("+8613800000001")),
                        ("birth_date", Value::Date(5000)),
                        ("city", s_("北京")),
                    ],
                ),
            ),
            (
                "web".into(),
                "W1".into(),
                rec(
                    &d,
                    &[
                        ("name", s_("王玮")),
                        ("birth_date", Value::Date(5000)),
                        ("city", s_("北京")),
                        ("email", s_("w@x.cn")),
                    ],
                ),
            ),
            (
                "crm".into(),
                "C2".into(),
                rec(&d, &[("email", s_("w@x.cn"))]),
            ),
            (
                "crm".into(),
                "C3".into(),
                rec(
                    &d,
                    &[
                        ("name", s_("李娜")),
                        ("birth_date", Value::Date(5000)),
                        ("city", s_("北京")),
                    ],
                ),
            ),
        ];
        s.resolve_batch(batch, 100, 0.9);
        let id = |sys: &str, x: &str| s.lookup(sys, x).expect("known");
        assert_eq!(
            id("crm", "C1"),
            id("web", "W1"),
            "fuzzy: same birth date, city, pinyin name"
        );
        assert_eq!(
            id("web", "W1"),
            id("crm", "C2"),
            "deterministic: same e-mail"
        );
        assert_ne!(
            id("crm", "C1"),
            id("crm", "C3"),
            "different name in the same block"
        );
        // A later batch: sticky ids, and a new record matching by phone joins the customer.
        let first = id("crm", "C1");
        s.resolve_batch(
            vec![(
                "web".into(),
                "W9".into(),
                rec(&d, &[("phone", s_("+8613800000001"))]),
            )],
            101,
            0.9,
        );
        assert_eq!(s.lookup("web", "W9"), Some(first));
    }
}
