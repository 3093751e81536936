//! From typed input columns to the numeric feature matrix a model trains on, fitted on the
//! training rows and saved with the model so scoring encodes the same way.
//!
//! - **Numbers** are used as they are. Missing values are filled with the training median,
//!   and when the training rows had any, a 0/1 feature `<name> is missing` is added, so the
//!   model can learn that a missing value means something (it often does in credit data).
//!   A model that learns where missing values go by itself (gradient-boosted trees) keeps
//!   them missing instead ([`Missing::Keep`]): NaN, no fill, no flag.
//! - **Yes/no** columns become 0/1, missing handled as for numbers.
//! - **Text** columns are one-hot encoded: one 0/1 feature `<name> = <value>` per value seen
//!   in training, in sorted order; a missing value is its own category `(missing)` when
//!   training had it. A value never seen in training sets none of them (the model then
//!   treats the row as "none of the known values"). Text columns with more than
//!   `max_categories` distinct values (ids, names, free text) are not used, and reported.
//! - **Dates** are not used as features (a date's meaning drifts with time; derive a
//!   duration in SQL, e.g. days since signup), and reported.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use crate::algo::binning::{Rule, Source};
use crate::{Error, Result};
use acrm_olap::{Column, Frame, Values};

/// How one input column becomes features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum InputKind {
    /// A number: the value, missing filled with `fill`.
    Numeric {
        /// Training median, used for missing values (`None`: kept missing, as NaN).
        fill: Option<f64>,
        /// A `<name> is missing` feature follows.
        missing_flag: bool,
    },
    /// Yes/no as 1/0, missing filled with `fill`.
    Boolean {
        /// Training median (0 or 1), used for missing values (`None`: kept missing).
        fill: Option<f64>,
        /// A `<name> is missing` feature follows.
        missing_flag: bool,
    },
    /// One 0/1 feature per training category.
    Categorical {
        /// The categories, sorted; `(missing)` stands for a missing value.
        categories: Vec<String>,
    },
}

/// One input column of a model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Input {
    /// Column name in the training data (and in any data to score).
    pub name: String,
    /// Its encoding.
    pub kind: InputKind,
}

/// A column the encoding left out, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    /// Column name.
    pub name: String,
    /// Why it is not a feature.
    pub reason: String,
}

/// The fitted encoding: inputs in order and the features they produce.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Encoding {
    /// Input columns, in feature order.
    pub inputs: Vec<Input>,
    /// Feature names, one per matrix column.
    pub features: Vec<String>,
    /// For each feature, the input it comes from.
    pub feature_input: Vec<usize>,
}

/// What becomes of a missing number or yes/no.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Missing {
    /// Filled with the training median, plus an `is missing` flag when training had any.
    Impute,
    /// Kept as NaN, for a model that sends missing values down a learned branch.
    Keep,
}

/// Text for a missing category.
const MISSING: &str = "(missing)";

impl Encoding {
    /// Fits the encoding of every column of `frame` except those in `exclude`, with missing
    /// numbers and yes/no values handled as `missing` says; returns it with the columns it
    /// left out.
    pub fn fit(
        frame: &Frame,
        exclude: &[&str],
        max_categories: usize,
        missing: Missing,
    ) -> Result<(Self, Vec<Skipped>)> {
        let fill = |v: &[Option<f64>]| match missing {
            Missing::Impute => {
                let (median, flag) = median_fill(v);
                (Some(median), flag)
            }
            Missing::Keep => (None, false),
        };
        let mut inputs = Vec::new();
        let mut skipped = Vec::new();
        for column in frame
            .columns
            .iter()
            .filter(|c| !exclude.contains(&c.name.as_str()))
        {
            let kind = match &column.values {
                Values::Numeric(v) => {
                    let (fill, missing_flag) = fill(v);
                    InputKind::Numeric { fill, missing_flag }
                }
                Values::Boolean(v) => {
                    let numbers: Vec<Option<f64>> = v
                        .iter()
                        .map(|b| b.map(|b| f64::from(u8::from(b))))
                        .collect();
                    let (fill, missing_flag) = fill(&numbers);
                    InputKind::Boolean { fill, missing_flag }
                }
                Values::Text(v) => {
                    let mut categories: Vec<String> = v
                        .iter()
                        .map(|s| s.clone().unwrap_or_else(|| MISSING.into()))
                        .collect::<std::collections::BTreeSet<_>>()
                        .into_iter()
                        .collect();
                    if categories.len() > max_categories {
                        skipped.push(Skipped {
                            name: column.name.clone(),
                            reason: format!(
                                "{} distinct values (more than {max_categories}: an id or free text)",
                                categories.len()
                            ),
                        });
                        continue;
                    }
                    categories.sort();
                    InputKind::Categorical { categories }
                }
                Values::Date(_) => {
                    skipped.push(Skipped {
                        name: column.name.clone(),
                        reason: "a date (derive a duration in SQL to use it)".into(),
                    });
                    continue;
                }
            };
            inputs.push(Input {
                name: column.name.clone(),
                kind,
            });
        }
        if inputs.is_empty() {
            return Err(Error::Invalid(format!(
                "no usable feature columns (columns: {})",
                frame.names().join(", ")
            )));
        }
        Ok((Self::with_inputs(inputs), skipped))
    }

    fn with_inputs(inputs: Vec<Input>) -> Self {
        let mut features = Vec::new();
        let mut feature_input = Vec::new();
        for (i, input) in inputs.iter().enumerate() {
            let names: Vec<String> = match &input.kind {
                InputKind::Numeric { missing_flag, .. }
                | InputKind::Boolean { missing_flag, .. } => {
                    let mut n = vec![input.name.clone()];
                    if *missing_flag {
                        n.push(format!("{} is missing", input.name));
                    }
                    n
                }
                InputKind::Categorical { categories } => categories
                    .iter()
                    .map(|c| format!("{} = {c}", input.name))
                    .collect(),
            };
            feature_input.extend(std::iter::repeat_n(i, names.len()));
            features.extend(names);
        }
        Self {
            inputs,
            features,
            feature_input,
        }
    }

    /// Where each input's values are in the matrix, for binning: a number or yes/no is its
    /// first column (its value, NaN when kept missing), text its one-hot columns.
    pub fn sources(&self) -> Vec<Source> {
        self.inputs
            .iter()
            .enumerate()
            .map(|(i, input)| {
                let first = self.feature_input.partition_point(|&f| f < i);
                match &input.kind {
                    InputKind::Numeric { .. } | InputKind::Boolean { .. } => {
                        Source::Numeric { column: first }
                    }
                    InputKind::Categorical { categories } => Source::Categorical {
                        first,
                        categories: categories.len(),
                        missing: categories.iter().position(|c| c == MISSING),
                    },
                }
            })
            .collect()
    }

    /// Words for each bin of input `input`'s `rule` (then `missing`): `< 12.5`,
    /// `[12.5, 24.5)`, `>= 24.5`; `true` / `false`; `A11, A12`.
    pub fn bin_labels(&self, input: usize, rule: &Rule) -> Vec<String> {
        let mut labels: Vec<String> = match (rule, &self.inputs[input].kind) {
            (Rule::Numeric { edges, .. }, InputKind::Boolean { .. }) if edges.len() == 1 => {
                vec!["false".into(), "true".into()]
            }
            (Rule::Numeric { edges, .. }, _) => {
                let n = short_number;
                (0..=edges.len())
                    .map(
                        |k| match (k.checked_sub(1).map(|j| edges[j]), edges.get(k)) {
                            (None, Some(hi)) => format!("< {}", n(*hi)),
                            (Some(lo), Some(hi)) => format!("[{}, {})", n(lo), n(*hi)),
                            (Some(lo), None) => format!(">= {}", n(lo)),
                            (None, None) => "any".into(),
                        },
                    )
                    .collect()
            }
            (
                Rule::Categorical {
                    groups, missing, ..
                },
                InputKind::Categorical { categories },
            ) => (0..rule.bins())
                .map(|k| {
                    categories
                        .iter()
                        .enumerate()
                        .filter(|(c, _)| groups[*c] == k && Some(*c) != *missing)
                        .map(|(_, name)| name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .collect(),
            (Rule::Categorical { .. }, _) => {
                (0..rule.bins()).map(|k| format!("group {k}")).collect()
            }
        };
        labels.push("missing".into());
        labels
    }

    /// Input column names, in order (the argument order of the SQL scoring functions).
    pub fn input_names(&self) -> Vec<String> {
        self.inputs.iter().map(|i| i.name.clone()).collect()
    }

    /// The feature matrix of `frame`, which must have every input column with a compatible
    /// type (a model trained on other columns is refused, naming what is missing).
    pub fn transform(&self, frame: &Frame) -> Result<Array2<f64>> {
        let columns = self
            .inputs
            .iter()
            .map(|input| {
                frame.column(&input.name).ok_or_else(|| {
                    Error::Invalid(format!(
                        "the model needs column '{}', which the data lacks (model inputs: {}; data columns: {})",
                        input.name,
                        self.input_names().join(", "),
                        frame.names().join(", ")
                    ))
                })
            })
            .collect::<Result<Vec<&Column>>>()?;
        let mut x = Array2::zeros((frame.rows, self.features.len()));
        let mut at = 0;
        for (input, column) in self.inputs.iter().zip(columns) {
            let wrong = |expected: &str| {
                Error::Invalid(format!(
                    "column '{}' should hold {expected} as in training",
                    input.name
                ))
            };
            match (&input.kind, &column.values) {
                (InputKind::Numeric { fill, missing_flag }, Values::Numeric(v)) => {
                    fill_numbers(&mut x, at, v.iter().copied(), *fill, *missing_flag);
                    at += 1 + usize::from(*missing_flag);
                }
                (InputKind::Boolean { fill, missing_flag }, Values::Boolean(v)) => {
                    let numbers = v.iter().map(|b| b.map(|b| f64::from(u8::from(b))));
                    fill_numbers(&mut x, at, numbers, *fill, *missing_flag);
                    at += 1 + usize::from(*missing_flag);
                }
                (InputKind::Categorical { categories }, _) => {
                    for r in 0..frame.rows {
                        let value = column.text(r).unwrap_or_else(|| MISSING.into());
                        if let Ok(k) = categories.binary_search(&value) {
                            x[[r, at + k]] = 1.0;
                        }
                    }
                    at += categories.len();
                }
                (InputKind::Numeric { .. }, _) => return Err(wrong("numbers")),
                (InputKind::Boolean { .. }, _) => return Err(wrong("true/false values")),
            }
        }
        Ok(x)
    }

    /// One tree test in words: `income <= 52000`, `homeowner = false`,
    /// `channel ≠ web`, `income is missing`.
    pub fn condition(&self, feature: usize, threshold: f64, left: bool) -> String {
        let name = &self.features[feature];
        let input = &self.inputs[self.feature_input[feature]];
        // Every feature but a number's own value is 0/1: a flag, a yes/no, a category.
        let binary = name != &input.name || !matches!(input.kind, InputKind::Numeric { .. });
        let flag = name != &input.name && name.ends_with(" is missing");
        if binary && (0.0..1.0).contains(&threshold) {
            return match (&input.kind, flag, left) {
                (_, true, true) => format!("{} is known", input.name),
                (_, true, false) => name.clone(),
                (InputKind::Boolean { .. }, _, l) => format!("{name} = {}", !l),
                (_, _, true) => name.replacen(" = ", " ≠ ", 1),
                (_, _, false) => name.clone(),
            };
        }
        format!(
            "{name} {} {}",
            if left { "<=" } else { ">" },
            round_threshold(threshold)
        )
    }
}

/// A threshold as printed: at most 4 significant decimals, no trailing zeros.
fn round_threshold(t: f64) -> String {
    let s = format!("{t:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// The median of the present values (0 when there are none) and whether any is missing.
fn median_fill(v: &[Option<f64>]) -> (f64, bool) {
    let mut present: Vec<f64> = v
        .iter()
        .flatten()
        .copied()
        .filter(|x| x.is_finite())
        .collect();
    let missing = present.len() < v.len();
    if present.is_empty() {
        return (0.0, missing);
    }
    present.sort_by(f64::total_cmp);
    let m = present.len() / 2;
    let median = if present.len() % 2 == 1 {
        present[m]
    } else {
        (present[m - 1] + present[m]) / 2.0
    };
    (median, missing)
}

fn fill_numbers(
    x: &mut Array2<f64>,
    at: usize,
    values: impl Iterator<Item = Option<f64>>,
    fill: Option<f64>,
    flag: bool,
) {
    for (r, v) in values.enumerate() {
        let v = v.filter(|v| v.is_finite());
        x[[r, at]] = v.or(fill).unwrap_or(f64::NAN);
        if flag {
            x[[r, at + 1]] = f64::from(u8::from(v.is_none()));
        }
    }
}

/// A cut point in words: whole numbers as they are, others with at most 4 decimals.
fn short_number(v: f64) -> String {
    if v.fract() == 0.0 {
        format!("{v}")
    } else {
        let text = format!("{v:.4}");
        text.trim_end_matches('0').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame() -> Frame {
        Frame {
            columns: vec![
                Column {
                    name: "income".into(),
                    values: Values::Numeric(vec![Some(10.0), None, Some(30.0), Some(20.0)]),
                },
                Column {
                    name: "homeowner".into(),
                    values: Values::Boolean(vec![Some(true), Some(false), Some(true), None]),
                },
                Column {
                    name: "channel".into(),
                    values: Values::Text(vec![
                        Some("web".into()),
                        Some("shop".into()),
                        None,
                        Some("web".into()),
                    ]),
                },
                Column {
                    name: "id".into(),
                    values: Values::Text((0..4).map(|i| Some(format!("A{i}"))).collect()),
                },
            ],
            rows: 4,
        }
    }

    #[test]
    fn encodes_numbers_flags_and_categories_as_documented() {
        let (enc, skipped) = Encoding::fit(&frame(), &["target"], 3, Missing::Impute).expect("fit");
        assert_eq!(skipped.len(), 1, "the id column has 4 > 3 values");
        assert_eq!(
            enc.features,
            [
                "income",
                "income is missing",
                "homeowner",
                "homeowner is missing",
                "channel = (missing)",
                "channel = shop",
                "channel = web"
            ]
        );
        let x = enc.transform(&frame()).expect("x");
        assert_eq!(
            x.row(1).to_vec(),
            [20.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0],
            "median fill"
        );
        assert_eq!(x.row(3).to_vec(), [20.0, 0.0, 1.0, 1.0, 0.0, 0.0, 1.0]);
        // An unseen category sets no one-hot feature.
        let mut other = frame();
        other.columns[2].values = Values::Text(vec![Some("app".into()); 4]);
        let y = enc.transform(&other).expect("x");
        assert_eq!(y.row(0).to_vec()[4..], [0.0, 0.0, 0.0]);
        // Other columns than in training are refused by name.
        other.columns.remove(0);
        let err = enc
            .transform(&other)
            .expect_err("missing income")
            .to_string();
        assert!(err.contains("'income'"), "{err}");
        assert_eq!(enc.condition(2, 0.5, true), "homeowner = false");
        assert_eq!(enc.condition(6, 0.5, false), "channel = web");
        assert_eq!(enc.condition(6, 0.5, true), "channel ≠ web");
        assert_eq!(enc.condition(0, 15.25, false), "income > 15.25");
        assert_eq!(enc.condition(1, 0.5, false), "income is missing");
        // Kept missing: NaN in the number's own feature, and no flags.
        let (keep, _) = Encoding::fit(&frame(), &["target"], 3, Missing::Keep).expect("fit");
        assert_eq!(keep.features[..2], ["income", "homeowner"]);
        let x = keep.transform(&frame()).expect("x");
        assert!(x[[1, 0]].is_nan() && x[[3, 1]].is_nan());
        assert_eq!((x[[0, 0]], x[[0, 1]]), (10.0, 1.0));
    }
}
