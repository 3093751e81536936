//! The Fellegi–Sunter model behind every match decision, estimated on the data itself the
//! way Splink does:
//! - **u** (how often two *different* people agree at a level): exact agreement computed
//!   from the value counts (Σ c(c−1) / N(N−1)), the other levels from random record pairs;
//! - **m** (how often the *same* person's records agree at a level): expectation
//!   maximisation over the candidate pairs of each blocking rule, leaving out the rule's own
//!   fields (they agree by construction), averaged over the rules;
//! - **λ** (the chance two random records are one person): the expected matches among the
//!   candidate pairs over all pairs.
//!
//! m or u fixed in the config (`[identity.fixed.<field>]`) replace the estimates; a fixed m
//! stays fixed through expectation maximisation and weighs the other fields' training.
//!
//! A pair's match weight is log2 of its Bayes factor Π m/u; an exact agreement on a common
//! value (a frequent surname, a shop's placeholder phone) uses that value's own frequency
//! instead of u (term-frequency adjustment), so it counts for little. Phone and address are
//! not independent among different people (a household shares both): where both agree only
//! the stronger counts.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use xxhash_rust::xxh3::xxh3_64;

use super::blocking::Pair;
use super::compare::{
    NAME_SAME_FAMILY, NAME_SAME_GIVEN, NAME_SAME_PINYIN, NULL, compare, level_names,
};
use super::features::{Features, Field};

/// Random pairs sampled for the u probabilities of the inexact levels.
const U_SAMPLE: usize = 500_000;
/// Candidate pairs of one rule used to train m (a deterministic stride over the rest).
const TRAIN_PAIRS: usize = 200_000;
/// A rule with fewer candidate pairs trains nothing.
const MIN_TRAIN_PAIRS: usize = 20;
/// Expectation-maximisation rounds at most.
const EM_ROUNDS: usize = 40;
/// Weight of the default m in the EM estimate, in matched pairs.
const PRIOR_PAIRS: f64 = 10.0;
/// The smallest probability a level is given (so no level is impossible).
const FLOOR: f64 = 1e-6;

/// Fields whose exact agreement is weighed by the value's frequency (a name's same-pinyin,
/// same-family and same-given levels by the frequency of the part that agrees).
const TERM_FREQUENCY: [Field; 5] = [
    Field::Name,
    Field::Phone,
    Field::Email,
    Field::Address,
    Field::City,
];

/// Starting m per level, where the data cannot train it (a field every rule blocks on).
fn default_m(f: Field) -> &'static [f64] {
    match f {
        Field::Name => &[0.75, 0.1, 0.03, 0.05, 0.03, 0.02, 0.01, 0.01],
        Field::BirthDate => &[0.9, 0.07, 0.03],
        Field::Phone | Field::Email => &[0.85, 0.05, 0.1],
        Field::IdNumber => &[0.9, 0.05, 0.05],
        Field::Address => &[0.8, 0.08, 0.04, 0.08],
        Field::City => &[0.9, 0.05, 0.05],
        Field::Gender => &[0.97, 0.03],
    }
}

/// m and/or u probabilities of one field's levels ([`level_names`] order) fixed by the
/// config: for a field the data cannot teach (an id number every training rule blocks on)
/// or where an analyst knows the error rates of a source.
#[derive(Debug, Clone, PartialEq)]
pub struct FixedLevels {
    /// The field.
    pub field: Field,
    /// P(level | same person), one per level, summing to 1.
    pub m: Option<Vec<f64>>,
    /// P(level | different people), one per level, summing to 1.
    pub u: Option<Vec<f64>>,
}

/// How often each record's exact value occurs among all records, per field.
pub struct Frequencies {
    /// Per field: the count of each record's value (0 when it has none).
    count: Vec<Vec<u32>>,
    /// Per field: records with a value.
    present: [u64; 8],
    /// Per field: the probability two random records (both with a value) agree exactly.
    agree: [f64; 8],
    /// The count of each record's name pinyin (0 when it has no name), and the records with
    /// one.
    name_key: (Vec<u32>, u64),
    /// The probability two random named records share the pinyin of their names.
    agree_name_key: f64,
    /// The count of each record's family name and given name (0 when not kept apart), and
    /// the records with one.
    parts: [(Vec<u32>, u64); 2],
}

impl Frequencies {
    /// Counts over `records`.
    pub fn of(records: &[Features]) -> Self {
        let counted: Vec<(Vec<u32>, u64, f64)> = Field::ALL
            .par_iter()
            .map(|&f| counts(records, |r| r.exact(f)))
            .collect();
        let (name_key_count, named, key_pairs) = counts(records, |r| r.key(Field::Name));
        let part = |get: fn(&Features) -> Option<&str>| {
            let (count, present, _) = counts(records, |r| get(r).map(str::as_bytes));
            (count, present)
        };
        let parts = [part(|r| r.family.as_deref()), part(|r| r.given.as_deref())];
        let mut count = Vec::with_capacity(8);
        let (mut present, mut agree) = ([0u64; 8], [0f64; 8]);
        for (i, (c, n, pairs)) in counted.into_iter().enumerate() {
            count.push(c);
            present[i] = n;
            agree[i] = share(pairs, n);
        }
        Self {
            count,
            present,
            agree,
            name_key: (name_key_count, named),
            agree_name_key: share(key_pairs, named),
            parts,
        }
    }

    /// The frequency (its share of the records with one) of the value of record `i` that
    /// agrees at `level` of `f`, or `None` where the level is not weighed by frequency: the
    /// exact value; of a name also its pinyin, family name or given name.
    ///
    /// A name kept in two columns is weighed by the product of its parts' frequencies, as
    /// separate given-name and surname comparisons weigh it (Splink's FEBRL example): a
    /// name's own count among n records cannot say how rare a rare combination is — held by
    /// the pair alone it is 2 / n however rare its parts.
    fn term_frequency(&self, f: Field, level: u8, i: u32) -> Option<f64> {
        let i = i as usize;
        let share = |(count, n): &(Vec<u32>, u64)| f64::from(count[i]) / (*n).max(1) as f64;
        let [family, given] = &self.parts;
        match (f, level) {
            _ if !TERM_FREQUENCY.contains(&f) => None,
            (Field::Name, 0) if family.0[i] > 0 && given.0[i] > 0 => {
                Some(share(family) * share(given))
            }
            (_, 0) => {
                Some(f64::from(self.count[f.index()][i]) / self.present[f.index()].max(1) as f64)
            }
            (Field::Name, NAME_SAME_PINYIN) => Some(share(&self.name_key)),
            (Field::Name, NAME_SAME_FAMILY) => Some(share(family)),
            (Field::Name, NAME_SAME_GIVEN) => Some(share(given)),
            _ => None,
        }
    }
}

fn share(agreeing_pairs: f64, n: u64) -> f64 {
    let n = n as f64;
    if n < 2.0 {
        0.0
    } else {
        agreeing_pairs / (n * (n - 1.0))
    }
}

/// Per record, the count of its value; the records with one; and Σ c(c−1) over values.
fn counts(
    records: &[Features],
    value: impl Fn(&Features) -> Option<&[u8]> + Sync,
) -> (Vec<u32>, u64, f64) {
    let mut keyed: Vec<(u64, u32)> = records
        .par_iter()
        .enumerate()
        .filter_map(|(i, r)| value(r).map(|v| (xxh3_64(v), i as u32)))
        .collect();
    keyed.par_sort_unstable();
    let mut count = vec![0u32; records.len()];
    let mut pairs = 0f64;
    for run in keyed.chunk_by(|x, y| x.0 == y.0) {
        let c = run.len() as u32;
        pairs += f64::from(c) * f64::from(c - 1);
        for &(_, i) in run {
            count[i as usize] = c;
        }
    }
    (count, keyed.len() as u64, pairs)
}

/// The estimated model.
#[derive(Debug, Clone, PartialEq)]
pub struct Model {
    /// Per field (in [`Field::ALL`] order) and level: P(level | same person).
    pub m: Vec<Vec<f64>>,
    /// Per field and level: P(level | different people).
    pub u: Vec<Vec<f64>>,
    /// Per field: whether m was trained on this data (else the defaults or the fixed values).
    pub trained: Vec<bool>,
    /// The chance that two random records are the same person.
    pub lambda: f64,
}

impl Model {
    /// Estimates the model from `records` and their candidate `pairs` (with comparison
    /// vectors): m from the pairs of each `training` rule (its bit in [`Pair::rules`] and its
    /// fields), λ from the pairs a rule of `blocking` (a mask of bits) found; `fixed` values
    /// in place of the estimates.
    pub fn estimate(
        records: &[Features],
        freq: &Frequencies,
        training: &[(u16, &[Field])],
        pairs: &[Pair],
        vectors: &[[u8; 8]],
        blocking: u16,
        fixed: &[FixedLevels],
    ) -> Self {
        let mut u = estimate_u(records, freq);
        let mut m: Vec<Vec<f64>> = Field::ALL.iter().map(|f| default_m(*f).to_vec()).collect();
        let mut fixed_m = [false; 8];
        for x in fixed {
            if let Some(values) = &x.u {
                u[x.field.index()].clone_from(values);
            }
            if let Some(values) = &x.m {
                m[x.field.index()].clone_from(values);
                fixed_m[x.field.index()] = true;
            }
        }
        let mut sums: Vec<Vec<f64>> = Field::ALL
            .iter()
            .map(|f| vec![0.0; level_names(*f).len()])
            .collect();
        let mut sessions = [0usize; 8];
        for &(bit, fields) in training {
            let members: Vec<usize> = (0..pairs.len())
                .filter(|&i| pairs[i].rules & bit != 0)
                .collect();
            if members.len() < MIN_TRAIN_PAIRS {
                continue;
            }
            let stride = members.len().div_ceil(TRAIN_PAIRS);
            let sample: Vec<&[u8; 8]> = members
                .iter()
                .step_by(stride)
                .map(|&i| &vectors[i])
                .collect();
            let trained = em(&sample, fields, &fixed_m, &m, &u);
            for f in Field::ALL {
                if !fields.contains(&f) && !fixed_m[f.index()] {
                    for (s, v) in sums[f.index()].iter_mut().zip(&trained[f.index()]) {
                        *s += v;
                    }
                    sessions[f.index()] += 1;
                }
            }
        }
        let mut trained = vec![false; 8];
        for f in Field::ALL {
            let k = sessions[f.index()];
            if k > 0 {
                m[f.index()] = sums[f.index()].iter().map(|s| s / k as f64).collect();
                trained[f.index()] = true;
            }
        }
        let mut model = Self {
            m,
            u,
            trained,
            lambda: 0.0,
        };
        model.lambda = model.estimate_lambda(records.len(), freq, pairs, vectors, blocking);
        model
    }

    /// The match weight (log2 Bayes factor) each field contributes to a pair of records, one
    /// of which is `a`, with comparison vector `v` (0 where a value is missing).
    pub fn weights(&self, freq: &Frequencies, a: u32, v: &[u8; 8]) -> [f64; 8] {
        let mut w = [0.0; 8];
        for f in Field::ALL {
            let l = v[f.index()];
            if l == NULL {
                continue;
            }
            let (m, u) = (self.m[f.index()][l as usize], self.u[f.index()][l as usize]);
            let mut weight = (m / u).log2();
            if let Some(tf) = freq.term_frequency(f, l, a) {
                // Splink's term-frequency adjustment: the level's Bayes factor scaled by
                // u / (the value's own frequency). Both records hold the same value (or
                // pinyin, or name part) here, so either side's count serves.
                weight += (u / tf.max(u)).log2();
            }
            w[f.index()] = weight;
        }
        // One household's members share the landline and the address: among different people
        // agreement on both is hardly rarer than on one, so the two count as one piece of
        // evidence (the stronger), not two independent ones.
        let (p, a) = (Field::Phone.index(), Field::Address.index());
        if w[p] > 0.0 && w[a] > 0.0 {
            let weaker = if w[p] < w[a] { p } else { a };
            w[weaker] = 0.0;
        }
        w
    }

    /// The match probability of a pair whose field weights sum to `weight`.
    pub fn probability(&self, weight: f64) -> f64 {
        let prior = (self.lambda / (1.0 - self.lambda)).log2();
        1.0 / (1.0 + (-(prior + weight)).exp2())
    }

    fn estimate_lambda(
        &self,
        n: usize,
        freq: &Frequencies,
        pairs: &[Pair],
        vectors: &[[u8; 8]],
        blocking: u16,
    ) -> f64 {
        let all_pairs = (n as f64) * (n as f64 - 1.0) / 2.0;
        let factors: Vec<f64> = pairs
            .par_iter()
            .zip(vectors)
            .filter(|(p, _)| p.rules & blocking != 0)
            .map(|(p, v)| self.weights(freq, p.a, v).iter().sum::<f64>().exp2())
            .collect();
        if factors.is_empty() || all_pairs < 1.0 {
            return 1e-9;
        }
        let mut lambda = (0.1 * factors.len() as f64 / all_pairs).min(0.5);
        for _ in 0..EM_ROUNDS {
            let expected: f64 = factors
                .iter()
                .map(|bf| lambda * bf / (lambda * bf + 1.0 - lambda))
                .sum();
            let next = (expected / all_pairs).clamp(1e-12, 0.5);
            if (next - lambda).abs() <= lambda * 1e-6 {
                return next;
            }
            lambda = next;
        }
        lambda
    }
}

/// u per field and level: exact (and same-pinyin) agreement from the value counts, the other
/// levels from random pairs.
fn estimate_u(records: &[Features], freq: &Frequencies) -> Vec<Vec<f64>> {
    let n = records.len();
    let mut rng = ChaCha8Rng::seed_from_u64(0x1d_e7_17);
    let all = n.saturating_mul(n.saturating_sub(1)) / 2;
    let sample: Vec<(u32, u32)> = if all <= U_SAMPLE {
        (0..n)
            .flat_map(|a| (a + 1..n).map(move |b| (a as u32, b as u32)))
            .collect()
    } else {
        (0..U_SAMPLE)
            .map(|_| {
                let a = rng.random_range(0..n);
                let b = (a + rng.random_range(1..n)) % n;
                (a as u32, b as u32)
            })
            .collect()
    };
    let vectors: Vec<[u8; 8]> = sample
        .par_iter()
        .map(|&(a, b)| compare(&records[a as usize], &records[b as usize]))
        .collect();
    Field::ALL
        .iter()
        .map(|&f| {
            let levels = level_names(f).len();
            let mut fixed: Vec<f64> = vec![freq.agree[f.index()]];
            if f == Field::Name {
                fixed.push((freq.agree_name_key - freq.agree[f.index()]).max(0.0));
            }
            let mut seen = vec![0.5f64; levels];
            for v in &vectors {
                let l = v[f.index()];
                if l != NULL && (l as usize) >= fixed.len() {
                    seen[l as usize] += 1.0;
                }
            }
            let rest = (1.0 - fixed.iter().sum::<f64>()).max(FLOOR);
            let seen_total: f64 = seen[fixed.len()..].iter().sum();
            (0..levels)
                .map(|l| {
                    if l < fixed.len() {
                        fixed[l].max(FLOOR)
                    } else {
                        (rest * seen[l] / seen_total).max(FLOOR)
                    }
                })
                .collect()
        })
        .collect()
}

/// m per field and level from expectation maximisation over one rule's pairs, the rule's
/// own fields left out (u given); a field whose m is `fixed` weighs the pairs but keeps its m.
fn em(
    sample: &[&[u8; 8]],
    blocked: &[Field],
    fixed: &[bool; 8],
    start: &[Vec<f64>],
    u: &[Vec<f64>],
) -> Vec<Vec<f64>> {
    let used: Vec<Field> = Field::ALL
        .into_iter()
        .filter(|f| !blocked.contains(f))
        .collect();
    let mut m: Vec<Vec<f64>> = start.to_vec();
    let mut lambda: f64 = 0.3;
    for _ in 0..EM_ROUNDS {
        let log_ratio: Vec<Vec<f64>> = (0..8)
            .map(|i| m[i].iter().zip(&u[i]).map(|(m, u)| (m / u).ln()).collect())
            .collect();
        let mut agree: Vec<Vec<f64>> = m.iter().map(|l| vec![0.0; l.len()]).collect();
        let mut total = 0.0;
        for v in sample {
            let mut logit = (lambda / (1.0 - lambda)).ln();
            for f in &used {
                let l = v[f.index()];
                if l != NULL {
                    logit += log_ratio[f.index()][l as usize];
                }
            }
            let p = 1.0 / (1.0 + (-logit).exp());
            total += p;
            for f in &used {
                let l = v[f.index()];
                if l != NULL {
                    agree[f.index()][l as usize] += p;
                }
            }
        }
        let next_lambda = (total / sample.len() as f64).clamp(1e-6, 1.0 - 1e-6);
        let mut change = (next_lambda - lambda).abs();
        lambda = next_lambda;
        for f in used.iter().filter(|f| !fixed[f.index()]) {
            let row = &agree[f.index()];
            let sum: f64 = row.iter().sum();
            if sum <= 0.0 {
                continue;
            }
            // The default m as PRIOR_PAIRS pseudo-matches: a level the pairs at hand never
            // show among matches (all typo'd names agree by pinyin, none exactly) keeps a
            // plausible m instead of collapsing to nothing.
            let prior = default_m(*f);
            for (l, a) in row.iter().enumerate() {
                let next = ((a + PRIOR_PAIRS * prior[l]) / (sum + PRIOR_PAIRS)).max(FLOOR);
                change = change.max((next - m[f.index()][l]).abs());
                m[f.index()][l] = next;
            }
        }
        if change < 1e-5 {
            break;
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A model with the default m and the u of `records`.
    fn untrained(records: &[Features], freq: &Frequencies) -> Model {
        Model {
            m: Field::ALL.iter().map(|f| default_m(*f).to_vec()).collect(),
            u: estimate_u(records, freq),
            trained: vec![false; 8],
            lambda: 0.01,
        }
    }

    #[test]
    fn exact_agreement_of_a_common_value_is_weak_evidence() {
        let phone = |p: &str| Features {
            phone: Some(p.into()),
            ..Features::default()
        };
        // Ten records share a placeholder phone; two share a personal one.
        let mut records: Vec<Features> = (0..10).map(|_| phone("+8613800000000")).collect();
        records.push(phone("+8613912345678"));
        records.push(phone("+8613912345678"));
        records.extend((0..50).map(|i| phone(&format!("+86139000{i:05}"))));
        let freq = Frequencies::of(&records);
        let model = untrained(&records, &freq);
        let common = model.weights(&freq, 0, &compare(&records[0], &records[1]));
        let rare = model.weights(&freq, 10, &compare(&records[10], &records[11]));
        let p = Field::Phone.index();
        assert!(rare[p] > common[p] + 2.0, "{rare:?} vs {common:?}");
        let differ = model.weights(&freq, 10, &compare(&records[10], &records[12]));
        assert!(differ[p] < 0.0, "{differ:?}");
        assert!(model.probability(rare.iter().sum()) > model.probability(common.iter().sum()));
    }

    #[test]
    fn a_name_kept_in_two_columns_is_as_rare_as_its_parts_together() {
        let named = |given: &str, family: &str, apart: bool| Features {
            name: Some(format!("{given}{family}").into()),
            name_key: Some(format!("{given}{family}").into()),
            given: apart.then(|| given.into()),
            family: apart.then(|| family.into()),
            ..Features::default()
        };
        let weight = |apart: bool| {
            let mut records = vec![named("ann", "lionis", apart), named("ann", "lionis", apart)];
            records.extend((0..50).map(|i| named(&format!("g{i}"), &format!("f{i}"), apart)));
            let freq = Frequencies::of(&records);
            let model = untrained(&records, &freq);
            model.weights(&freq, 0, &compare(&records[0], &records[1]))[Field::Name.index()]
        };
        // Held by the pair alone, the full name counts 2 in 52 either way; its parts, 2 in 52
        // each, make it about 26 times rarer.
        assert!(
            weight(true) > weight(false) + 4.0,
            "{} vs {}",
            weight(true),
            weight(false)
        );
    }

    #[test]
    fn a_fixed_m_is_kept_and_a_fixed_u_replaces_the_estimate() {
        // Pairs blocked on the e-mail, all agreeing on the name: EM alone would learn that.
        let person = |i: usize| Features {
            name: Some(format!("n{}", i / 2).into()),
            email: Some(format!("e{}", i / 2).into()),
            ..Features::default()
        };
        let records: Vec<Features> = (0..200).map(person).collect();
        let pairs: Vec<Pair> = (0..100)
            .map(|k| Pair {
                a: 2 * k,
                b: 2 * k + 1,
                rules: 1,
            })
            .collect();
        let vectors: Vec<[u8; 8]> = pairs
            .iter()
            .map(|p| compare(&records[p.a as usize], &records[p.b as usize]))
            .collect();
        let freq = Frequencies::of(&records);
        let training: [(u16, &[Field]); 1] = [(1, &[Field::Email])];
        let name_m = vec![0.3, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1, 0.1];
        let fixed = [FixedLevels {
            field: Field::Name,
            m: Some(name_m.clone()),
            u: Some(vec![0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.01, 0.93]),
        }];
        let model = Model::estimate(&records, &freq, &training, &pairs, &vectors, 1, &fixed);
        assert_eq!(model.m[Field::Name.index()], name_m);
        assert_eq!(model.u[Field::Name.index()][0], 0.01);
        assert!(!model.trained[Field::Name.index()]);
        let free = Model::estimate(&records, &freq, &training, &pairs, &vectors, 1, &[]);
        assert!(free.m[Field::Name.index()][0] > 0.9, "{:?}", free.m);
    }

    #[test]
    fn a_shared_phone_and_address_count_once() {
        let home = |name: &str| Features {
            name: Some(name.into()),
            phone: Some("+861012345678".into()),
            address: Some("人民路 1 101".into()),
            ..Features::default()
        };
        let mut records = vec![home("王伟"), home("李娜")];
        records.extend((0..50).map(|i| Features {
            phone: Some(format!("+86139000{i:05}").into()),
            address: Some(format!("人民路 {i}").into()),
            ..Features::default()
        }));
        let freq = Frequencies::of(&records);
        let model = untrained(&records, &freq);
        let w = model.weights(&freq, 0, &compare(&records[0], &records[1]));
        let (p, a) = (w[Field::Phone.index()], w[Field::Address.index()]);
        assert!(p > 0.0 && a == 0.0 || a > 0.0 && p == 0.0, "{w:?}");
    }

    #[test]
    fn a_level_em_never_sees_among_matches_keeps_a_plausible_m() {
        // 60 matched pairs that all agree on the name by pinyin only, never exactly.
        let v = [1u8, 0, NULL, NULL, NULL, NULL, NULL, NULL];
        let sample: Vec<&[u8; 8]> = (0..60).map(|_| &v).collect();
        let start: Vec<Vec<f64>> = Field::ALL.iter().map(|f| default_m(*f).to_vec()).collect();
        let u: Vec<Vec<f64>> = Field::ALL
            .iter()
            .map(|f| {
                let n = level_names(*f).len();
                let mut row = vec![1e-4; n];
                row[n - 1] = 1.0 - 1e-4 * (n - 1) as f64;
                row
            })
            .collect();
        let m = em(&sample, &[], &[false; 8], &start, &u);
        let name = &m[Field::Name.index()];
        assert!(name[0] > 0.05 && name[1] > 0.7, "{name:?}");
    }
}
