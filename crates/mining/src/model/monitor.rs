//! Stability monitoring: the training population's distribution, saved with a model when it
//! is trained ([`Baseline`]), and how far a population scored later has moved from it
//! ([`Baseline::compare`]): the PSI of the score over the training score's ten bands, and
//! the CSI of every input over its bins — a scorecard's own bins, for other models a
//! number's training deciles (and missing), a yes/no's two values, a text's categories.
//! Values the encoding keeps raw (missing stays missing), so a shift into missing values
//! shows.

use ndarray::Array2;
use serde::{Deserialize, Serialize};

use super::encoding::{Encoding, Missing};
use crate::algo::binning::{Rule, Source};
use crate::algo::scorecard::Scorecard;
use crate::algo::stability::{psi, quantile_edges, shares};
use crate::{Error, Result};
use acrm_olap::Frame;

/// Bands of the score.
const SCORE_BANDS: usize = 10;
/// Bands of a number that has no scorecard bins.
const INPUT_BANDS: usize = 10;

/// One input's bins and the training share in each (bins, missing, unseen categories).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputBaseline {
    /// Input column.
    pub name: String,
    /// Its bins.
    pub rule: Rule,
    /// Training share per bin.
    pub shares: Vec<f64>,
}

/// The training population, as monitoring compares with it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// Cut points of the score bands (P(positive) deciles of the training rows).
    pub score_edges: Vec<f64>,
    /// Training share per score band (bands, then two empty slots the rule's layout has).
    pub score_shares: Vec<f64>,
    /// The inputs with missing values kept missing.
    pub encoding: Encoding,
    /// Per input, its bins and training shares.
    pub inputs: Vec<InputBaseline>,
}

/// How far one population has moved from the training one.
#[derive(Debug, Clone, PartialEq)]
pub struct Stability {
    /// Rows compared.
    pub rows: usize,
    /// PSI of the score.
    pub score: f64,
    /// CSI per input, in input order.
    pub inputs: Vec<(String, f64)>,
}

impl Baseline {
    /// The baseline of a model encoded by `encoding` (a scorecard when `scorecard` is
    /// given), trained on `frame` with `exclude` not features, whose training scores were
    /// `scores`.
    pub fn fit(
        scorecard: Option<&Scorecard>,
        encoding: &Encoding,
        frame: &Frame,
        exclude: &[&str],
        max_categories: usize,
        scores: &[f64],
    ) -> Result<Self> {
        let kept = match scorecard {
            // A scorecard's encoding keeps missing values already.
            Some(_) => encoding.clone(),
            None => Encoding::fit(frame, exclude, max_categories, Missing::Keep)?.0,
        };
        let x = kept.transform(frame)?;
        let rules: Vec<Rule> = match scorecard {
            Some(s) => s
                .characteristics
                .iter()
                .map(|c| c.binning.rule.clone())
                .collect(),
            None => kept
                .sources()
                .into_iter()
                .map(|source| default_rule(&source, &x))
                .collect(),
        };
        let inputs = kept
            .inputs
            .iter()
            .zip(rules)
            .map(|(input, rule)| InputBaseline {
                name: input.name.clone(),
                shares: shares(&rule, x.view()),
                rule,
            })
            .collect();
        let score_edges = quantile_edges(scores, SCORE_BANDS);
        let score_shares = shares(&score_rule(&score_edges), score_matrix(scores).view());
        Ok(Self {
            score_edges,
            score_shares,
            encoding: kept,
            inputs,
        })
    }

    /// PSI of the score and CSI of each input between the training rows and the rows of
    /// `frame`, whose scores are `scores`.
    pub fn compare(&self, frame: &Frame, scores: &[f64]) -> Result<Stability> {
        if frame.rows == 0 {
            return Err(Error::Invalid("no rows to monitor".into()));
        }
        let score = psi(
            &self.score_shares,
            &shares(&score_rule(&self.score_edges), score_matrix(scores).view()),
        );
        let x = self.encoding.transform(frame)?;
        let inputs = self
            .inputs
            .iter()
            .map(|i| (i.name.clone(), psi(&i.shares, &shares(&i.rule, x.view()))))
            .collect();
        Ok(Stability {
            rows: frame.rows,
            score,
            inputs,
        })
    }
}

/// Bins of an input without scorecard bins: a number's deciles, a category each.
fn default_rule(source: &Source, x: &Array2<f64>) -> Rule {
    match source {
        Source::Numeric { column } => {
            let values: Vec<f64> = x.column(*column).to_vec();
            Rule::Numeric {
                column: *column,
                edges: quantile_edges(&values, INPUT_BANDS),
            }
        }
        Source::Categorical {
            first,
            categories,
            missing,
        } => Rule::Categorical {
            first: *first,
            groups: (0..*categories).collect(),
            missing: *missing,
        },
    }
}

/// The bands of scores as a rule over a one-column matrix.
fn score_rule(edges: &[f64]) -> Rule {
    Rule::Numeric {
        column: 0,
        edges: edges.to_vec(),
    }
}

/// Scores as a one-column matrix.
fn score_matrix(scores: &[f64]) -> Array2<f64> {
    Array2::from_shape_fn((scores.len(), 1), |(r, _)| scores[r])
}
