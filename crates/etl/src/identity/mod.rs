//! Identity resolution: which source customer records are the same person — probabilistic
//! record linkage (Fellegi–Sunter, as Splink and fastLink do it), documented in README
//! "Identity resolution":
//! 1. A record keeps the golden id its (system, source id) got before: ids are sticky.
//! 2. New records are compared with the records they share a blocking key with
//!    ([`blocking`]: several rules, OR-ed), field by field at graded levels ([`compare`]).
//! 3. Each pair gets a match weight and probability from a model estimated on the data
//!    itself ([`model`]: u from value counts and random pairs, m by expectation
//!    maximisation, common values weighed by their frequency). Pairs at or above
//!    `merge_probability` are merged; pairs from `review_probability` up are kept as
//!    evidence for review. A shared phone alone does not merge two people whose names and
//!    birth dates disagree.
//! 4. Merged pairs form customers strongest first ([`cluster`]), never past
//!    `max_cluster_size`, never merging two existing customers silently (reported as a
//!    conflict instead).
//!
//! Survivorship: per attribute, the first non-null value ordered by source priority (1 wins),
//! then the most recent batch, then the latest record; signup date is the earliest; a
//! marketing opt-out in any record wins.

mod blocking;
mod cluster;
mod compare;
mod features;
mod idnumber;
mod model;
mod names;

use std::collections::BTreeSet;

use acrm_schema::{ColumnDef, ColumnType, EntityDef, FieldType, TableDef, TableKind};
use rayon::prelude::*;
use tracing::{debug, info, warn};

use crate::value::{CompactString, FastMap, Value};

pub use compare::level_names;
pub use features::{Field, name_key};
pub use idnumber::id_key;
pub use model::FixedLevels;
pub use names::full_name;

use blocking::candidates;
use cluster::{Assigned, Joined, cluster};
use compare::compare;
use features::{Features, FieldSlots};
use model::{Frequencies, Model};

/// How records are matched (`[identity]` in the config).
#[derive(Debug, Clone, PartialEq)]
pub struct IdentityConfig {
    /// Blocking rules: each the fields whose values must be equal for a pair to be compared.
    pub blocking: Vec<Vec<Field>>,
    /// Training rules: the blocking rules whose pairs train the m probabilities of the other
    /// fields (as in Splink, personal keys: a shared phone or address also blocks people
    /// of one household together, who would teach the model that matches differ in name
    /// and birth date).
    pub training: Vec<Vec<Field>>,
    /// Pairs with at least this match probability are the same customer.
    pub merge_probability: f64,
    /// Pairs with at least this probability (and below `merge_probability`) are kept for
    /// review.
    pub review_probability: f64,
    /// A customer never grows past this many records through matching.
    pub max_cluster_size: usize,
    /// A blocking key shared by more records than this is not used to find pairs.
    pub max_block_size: usize,
    /// A data steward's decisions on pairs of records (`[identity] decisions`, a CSV file).
    pub decisions: Vec<Decision>,
    /// m or u probabilities fixed in the config instead of estimated (`[identity.fixed.*]`).
    pub fixed: Vec<FixedLevels>,
}

/// A steward's decision on two source records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// Same person (merge) or not (keep apart).
    pub link: Link,
    /// The first record: (system, source id).
    pub a: (String, String),
    /// The second record.
    pub b: (String, String),
}

/// What a [`Decision`] says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    /// One person: the records are merged whatever the model says.
    Must,
    /// Two people: the second record leaves the first one's customer, and they are never
    /// merged again.
    Cannot,
}

impl Default for IdentityConfig {
    fn default() -> Self {
        use Field::*;
        Self {
            blocking: vec![
                vec![Phone],
                vec![Email],
                vec![IdNumber],
                vec![BirthDate, City],
                vec![Name, BirthDate],
                vec![Name, City],
                vec![Address],
            ],
            training: vec![vec![Name, BirthDate], vec![Email], vec![IdNumber]],
            merge_probability: 0.95,
            review_probability: 0.5,
            max_cluster_size: 50,
            max_block_size: 1000,
            decisions: Vec::new(),
            fixed: Vec::new(),
        }
    }
}

/// The evidence for one pair of records that was merged or left for review.
#[derive(Debug, Clone, PartialEq)]
pub struct PairEvidence {
    /// First record (index into [`IdentityStore::records`]).
    pub a: u32,
    /// Second record.
    pub b: u32,
    /// Match weight (log2 Bayes factor, prior excluded).
    pub weight: f64,
    /// Match probability.
    pub probability: f64,
    /// Comparison level per field ([`Field::ALL`] order; `u8::MAX` where a value is missing).
    pub levels: [u8; 8],
    /// Weight contributed by each field.
    pub contributions: [f64; 8],
    /// Merged (else left for review).
    pub merged: bool,
}

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
    /// Canonical customer fields (id number replaced by its kept form, [`id_key`]).
    pub values: Vec<Value>,
}

pub use acrm_store::{ChangeKind, Conflict, IdentityChange};

/// The manifest's note of decision `d` changing customers `kept` and `other` on `day`.
fn change(what: ChangeKind, kept: i64, other: i64, d: &Decision, day: i32) -> IdentityChange {
    IdentityChange {
        change: what,
        kept,
        other,
        records: (
            format!("{}:{}", d.a.0, d.a.1),
            format!("{}:{}", d.b.0, d.b.1),
        ),
        batch_date: crate::value::date_of(day),
    }
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
    slots: FieldSlots,
    /// Conflicts found so far in this build.
    pub conflicts: Vec<Conflict>,
    /// Splits and merges made by steward decisions in this build.
    pub changes: Vec<IdentityChange>,
    /// Evidence of the pairs this build merged or left for review.
    pub pairs: Vec<PairEvidence>,
}

impl IdentityStore {
    /// A store holding `records` (from the previous version's state).
    pub fn new(def: &EntityDef, records: Vec<CustomerRecord>) -> Self {
        let mut s = Self {
            next_customer_id: records.iter().map(|r| r.customer_id).max().unwrap_or(0) + 1,
            next_seq: records.iter().map(|r| r.seq).max().unwrap_or(0) + 1,
            records: Vec::new(),
            by_ref: FastMap::default(),
            members: FastMap::default(),
            slots: FieldSlots::new(def),
            conflicts: Vec::new(),
            changes: Vec::new(),
            pairs: Vec::new(),
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

    /// Index of a contact key (e-mail or phone value) to golden ids, over current values. A
    /// key that several customers hold (a household's landline, a shop's placeholder number)
    /// is left out: a contact by it cannot be told apart, so it is not pinned on one of them.
    pub fn contact_index(&self, field: Field) -> FastMap<CompactString, i64> {
        let mut m: FastMap<CompactString, Option<i64>> = FastMap::default();
        for r in &self.records {
            if let Some(k) = self.slots.text(&r.values, field) {
                m.entry(CompactString::from(k))
                    .and_modify(|c| {
                        if *c != Some(r.customer_id) {
                            *c = None;
                        }
                    })
                    .or_insert(Some(r.customer_id));
            }
        }
        m.into_iter().filter_map(|(k, c)| Some((k, c?))).collect()
    }

    /// Resolves one batch of master records `(system, source id, values)` in load order and
    /// returns the golden ids whose records changed.
    pub fn resolve_batch(
        &mut self,
        batch: Vec<(String, String, Vec<Value>)>,
        day: i32,
        cfg: &IdentityConfig,
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
        touched.extend(self.apply_decisions(&cfg.decisions, day));
        if fresh.is_empty() {
            return touched;
        }
        let (scored, assigned) = self.match_fresh(&fresh, cfg);
        let mut new_ids: Vec<i64> = Vec::new();
        for (record, assigned) in fresh.iter_mut().zip(assigned) {
            record.customer_id = match assigned {
                Assigned::Existing(c) => c,
                Assigned::New(k) => {
                    if k == new_ids.len() {
                        new_ids.push(self.next_customer_id);
                        self.next_customer_id += 1;
                    }
                    new_ids[k]
                }
            };
        }
        for r in fresh {
            touched.insert(r.customer_id);
            self.push(r);
        }
        self.pairs.extend(scored);
        touched
    }

    /// Applies a steward's decisions to records resolved on earlier nights: a cannot-link
    /// pair in one customer sends the second record to a customer of its own; a must-link
    /// pair in two customers moves the second customer's records to the first. Returns the
    /// golden ids whose records changed. A decision naming a record not (yet) loaded waits.
    fn apply_decisions(&mut self, decisions: &[Decision], day: i32) -> BTreeSet<i64> {
        let mut touched = BTreeSet::new();
        for d in decisions {
            let (Some(a), Some(b)) = (
                self.record_of(&d.a.0, &d.a.1),
                self.record_of(&d.b.0, &d.b.1),
            ) else {
                continue;
            };
            let (ca, cb) = (self.records[a].customer_id, self.records[b].customer_id);
            match d.link {
                Link::Cannot if ca == cb => {
                    let id = self.next_customer_id;
                    self.next_customer_id += 1;
                    self.move_record(b, id);
                    info!(
                        kept = ca,
                        split_off = id,
                        "cannot_link: a record leaves its customer"
                    );
                    touched.extend([ca, id]);
                    self.changes.push(change(ChangeKind::Split, ca, id, d, day));
                }
                Link::Must if ca != cb => {
                    let moved: Vec<usize> = self.members.remove(&cb).unwrap_or_default();
                    for i in moved {
                        self.move_record(i, ca);
                    }
                    info!(kept = ca, merged = cb, "must_link: two customers merged");
                    touched.insert(ca);
                    self.changes
                        .push(change(ChangeKind::Merged, ca, cb, d, day));
                }
                _ => {}
            }
        }
        touched
    }

    /// Moves record `i` to golden customer `to`.
    fn move_record(&mut self, i: usize, to: i64) {
        let from = self.records[i].customer_id;
        if let Some(m) = self.members.get_mut(&from) {
            m.retain(|&r| r != i);
            if m.is_empty() {
                self.members.remove(&from);
            }
        }
        self.records[i].customer_id = to;
        self.members.entry(to).or_default().push(i);
    }

    /// Compares the new records `fresh` (indexes from `records.len()` on) with every record
    /// sharing a blocking key, and clusters them: the evidence of the pairs merged or left
    /// for review, and where each new record goes.
    fn match_fresh(
        &mut self,
        fresh: &[CustomerRecord],
        cfg: &IdentityConfig,
    ) -> (Vec<PairEvidence>, Vec<Assigned>) {
        let first_fresh = self.records.len();
        let features: Vec<Features> = self
            .records
            .par_iter()
            .chain(fresh.par_iter())
            .map(|r| Features::of(&self.slots, &r.values))
            .collect();
        // One pass finds the pairs of the blocking rules and of the training rules (those not
        // blocking too follow them, one bit each). Pairs of older records are found as well:
        // they train the model, they are not decided again.
        let mut rules = cfg.blocking.clone();
        let mut training: Vec<(u16, &[Field])> = Vec::new();
        for t in &cfg.training {
            let bit = match rules.iter().position(|r| r == t) {
                Some(i) => i,
                None => {
                    rules.push(t.clone());
                    rules.len() - 1
                }
            };
            training.push((1u16 << bit, t.as_slice()));
        }
        let blocking = u16::MAX >> (16 - cfg.blocking.len());
        let (pairs, skipped) = candidates(&features, &rules, first_fresh, true, cfg.max_block_size);
        for s in &skipped {
            warn!(
                rule = s.rule,
                records = s.size,
                "a blocking key is shared by more records than max_block_size: not used to find pairs"
            );
        }
        let vectors: Vec<[u8; 8]> = pairs
            .par_iter()
            .map(|p| compare(&features[p.a as usize], &features[p.b as usize]))
            .collect();
        let freq = Frequencies::of(&features);
        let model = Model::estimate(
            &features, &freq, &training, &pairs, &vectors, blocking, &cfg.fixed,
        );
        for f in Field::ALL {
            debug!(
                field = f.name(),
                m = ?model.m[f.index()],
                u = ?model.u[f.index()],
                trained = model.trained[f.index()],
                "identity model"
            );
        }
        let scored: Vec<PairEvidence> = pairs
            .par_iter()
            .zip(&vectors)
            .filter(|(p, _)| p.b as usize >= first_fresh && p.rules & blocking != 0)
            .filter_map(|(p, v)| {
                let contributions = model.weights(&freq, p.a, v);
                let weight: f64 = contributions.iter().sum();
                let probability = model.probability(weight);
                (probability >= cfg.review_probability).then_some(PairEvidence {
                    a: p.a,
                    b: p.b,
                    weight,
                    probability,
                    levels: *v,
                    contributions,
                    merged: probability >= cfg.merge_probability,
                })
            })
            .collect();
        info!(
            records = features.len(),
            new = fresh.len(),
            candidate_pairs = pairs.len(),
            merged = scored.iter().filter(|e| e.merged).count(),
            review = scored.iter().filter(|e| !e.merged).count(),
            lambda = model.lambda,
            "identity resolution"
        );
        let links: Vec<Joined> = scored
            .iter()
            .filter(|e| e.merged)
            .map(|e| Joined {
                a: e.a,
                b: e.b,
                weight: e.weight,
            })
            .collect();
        // A steward's decisions on pairs with a new record: must-links join first, cannot-
        // links are never joined.
        let fresh_index: FastMap<(&str, &str), u32> = fresh
            .iter()
            .enumerate()
            .map(|(j, r)| {
                (
                    (r.system.as_str(), r.source_id.as_str()),
                    (first_fresh + j) as u32,
                )
            })
            .collect();
        let index = |(system, id): &(String, String)| {
            fresh_index
                .get(&(system.as_str(), id.as_str()))
                .copied()
                .or_else(|| self.record_of(system, id).map(|i| i as u32))
        };
        let mut links = links;
        let mut apart = Vec::new();
        for d in &cfg.decisions {
            if let (Some(a), Some(b)) = (index(&d.a), index(&d.b)) {
                match d.link {
                    Link::Must => links.push(Joined {
                        a: a.min(b),
                        b: a.max(b),
                        weight: f64::INFINITY,
                    }),
                    Link::Cannot => apart.push((a, b)),
                }
            }
        }
        let (records, members) = (&self.records, &self.members);
        let clustering = cluster(
            first_fresh,
            fresh.len(),
            links,
            &apart,
            |r| records[r as usize].customer_id,
            |c| members.get(&c).map_or(0, Vec::len),
            cfg.max_cluster_size,
        );
        if clustering.refused_as_apart > 0 {
            info!(
                refused = clustering.refused_as_apart,
                "matches not merged: a cannot_link decision keeps the records apart"
            );
        }
        if clustering.refused_for_size > 0 {
            warn!(
                refused = clustering.refused_for_size,
                "matches not merged: the customer would pass max_cluster_size"
            );
        }
        self.conflicts.extend(
            clustering
                .conflicts
                .iter()
                .map(|&(kept, other)| Conflict { kept, other }),
        );
        (scored, clustering.assigned)
    }

    /// The rows of `identity_pairs` for the pairs decided since the last call (they are
    /// taken out of the store), as of batch day `day`, in the table's column order.
    pub fn take_pair_rows(&mut self, day: i32) -> Vec<Vec<Value>> {
        let pairs = std::mem::take(&mut self.pairs);
        pairs
            .into_iter()
            .map(|e| {
                let (a, b) = (&self.records[e.a as usize], &self.records[e.b as usize]);
                let mut row = vec![
                    Value::Date(day),
                    Value::Str(a.system.clone()),
                    Value::Str(a.source_id.clone()),
                    Value::Int(a.customer_id),
                    Value::Str(b.system.clone()),
                    Value::Str(b.source_id.clone()),
                    Value::Int(b.customer_id),
                    Value::Str(if e.merged { "merge" } else { "review" }.into()),
                    Value::Float(e.probability),
                    Value::Float(e.weight),
                ];
                for f in Field::ALL {
                    let level = e.levels[f.index()];
                    match level_names(f).get(level as usize) {
                        Some(name) => {
                            row.push(Value::Str((*name).into()));
                            row.push(Value::Float(e.contributions[f.index()]));
                        }
                        None => row.extend([Value::Null, Value::Null]),
                    }
                }
                row
            })
            .collect()
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
        unit: None,
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
        bloom_filter: vec![],
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

    const SURNAMES: [&str; 10] = ["王", "李", "张", "刘", "陈", "杨", "黄", "赵", "吴", "周"];
    const GIVEN: [(&str, &str); 4] = [("伟", "玮"), ("芳", "方"), ("静", "婧"), ("磊", "蕾")];
    const CITIES: [&str; 5] = ["北京", "上海", "广州", "成都", "西安"];

    /// Person `k`'s CRM record; `homophone` writes the last given name as its homophone.
    fn person(d: &EntityDef, k: usize, homophone: bool) -> Vec<Value> {
        let s_ = |x: String| Value::Str(x.into());
        let (g1, g2) = (GIVEN[k % 4], GIVEN[(k / 4) % 4]);
        let name = format!(
            "{}{}{}",
            SURNAMES[(k / 16) % 10],
            g1.0,
            if homophone { g2.1 } else { g2.0 }
        );
        rec(
            d,
            &[
                ("name", s_(name)),
                ("birth_date", Value::Date(3000 + (k as i32 * 37) % 15000)),
                ("city", s_(CITIES[k % 5].into())),
                // Scattered the way real values are: neighbours share no digits by design.
                (
                    "phone",
                    s_(format!(
                        "+86139{:08}",
                        (k * 7_919_993 + 12_345) % 100_000_000
                    )),
                ),
                ("email", s_(format!("p{k}@x.cn"))),
                ("id_number", s_(format!("{:018}", k * 99_999_989 + 7))),
                (
                    "address",
                    s_(format!(
                        "{}路{}号{}室",
                        ["人民", "建国", "中山"][k % 3],
                        (k * 37) % 300,
                        (k * 101) % 2000
                    )),
                ),
                (
                    "gender",
                    s_(if k.is_multiple_of(2) { "m" } else { "f" }.into()),
                ),
            ],
        )
    }

    fn set(d: &EntityDef, mut v: Vec<Value>, field: &str, value: Value) -> Vec<Value> {
        v[d.index_of(field).expect("field")] = value;
        v
    }

    /// 300 persons in the CRM; every fifth also a web account (homophone name, no phone, id
    /// or address); a household (298 and 299 share phone and address) and namesakes (297 has
    /// 296's name, birth date and city).
    fn population(d: &EntityDef) -> Vec<(String, String, Vec<Value>)> {
        let mut batch = Vec::new();
        for k in 0..300 {
            let mut v = person(d, k, false);
            if k == 299 {
                let neighbour = person(d, 298, false);
                for f in ["phone", "address"] {
                    let i = d.index_of(f).expect("field");
                    v[i] = neighbour[i].clone();
                }
            }
            if k == 297 {
                let twin = person(d, 296, false);
                for f in ["name", "birth_date", "city"] {
                    let i = d.index_of(f).expect("field");
                    v[i] = twin[i].clone();
                }
            }
            batch.push(("crm".into(), format!("C{k}"), v));
            if k.is_multiple_of(5) {
                let mut w = person(d, k, true);
                for f in ["phone", "id_number", "address", "gender"] {
                    w = set(d, w, f, Value::Null);
                }
                batch.push(("web".into(), format!("W{k}"), w));
            }
        }
        batch
    }

    #[test]
    fn duplicates_merge_households_and_namesakes_do_not_and_ids_stick() {
        let d = def();
        let mut s = IdentityStore::new(&d, vec![]);
        let cfg = IdentityConfig::default();
        s.resolve_batch(population(&d), 100, &cfg);
        let id = |s: &IdentityStore, sys: &str, x: &str| s.lookup(sys, x).expect("known");
        for k in (0..300).step_by(5) {
            assert_eq!(
                id(&s, "crm", &format!("C{k}")),
                id(&s, "web", &format!("W{k}")),
                "person {k}: homophone name, same birth date, city and e-mail"
            );
        }
        assert_ne!(id(&s, "crm", "C298"), id(&s, "crm", "C299"), "household");
        assert_ne!(id(&s, "crm", "C296"), id(&s, "crm", "C297"), "namesakes");
        assert_eq!(s.customer_ids().len(), 300, "one customer per person");
        let merged = s.pairs.iter().filter(|p| p.merged).count();
        assert_eq!(merged, 60, "one merged pair per web account");
        // A later night: ids are sticky, and a new record with person 1's name and phone joins
        // it.
        let first = id(&s, "crm", "C1");
        let later = set(&d, person(&d, 1, false), "email", Value::Null);
        let later = set(&d, later, "id_number", Value::Null);
        s.resolve_batch(vec![("web".into(), "W9001".into(), later)], 101, &cfg);
        assert_eq!(s.lookup("web", "W9001"), Some(first));
        assert_eq!(id(&s, "crm", "C1"), first);
        assert!(s.conflicts.is_empty(), "{:?}", s.conflicts);
    }
}
