//! L2-regularised logistic regression on standardised features, with optional row weights,
//! fitted by L-BFGS (argmin). The penalty `alpha` is the inverse of scikit-learn's `C`
//! (loss = Σ wᵢ·log-lossᵢ + α/2·‖w‖², intercept not penalised), so `alpha = 1` equals
//! `LogisticRegression()` fitted on `StandardScaler` output. The fitted weights are kept as
//! plain numbers, so a saved model scores without the solver.
//!
//! Why our own objective: linfa-logistic (which this replaced, with the same loss and
//! solver) takes no row weights, and weighted samples are how credit scorecards correct for
//! the applicants a sample under-represents (reject inference, stratified sampling).

use argmin::core::{CostFunction, Executor, Gradient, State};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use ndarray::{Array1, Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use super::{Error, ParamGuard, Result, finite_non_negative, sigmoid};

/// Checked logistic-regression parameters (see [`LogisticParams`]).
#[derive(Debug, Clone, PartialEq)]
pub struct LogisticValidParams {
    alpha: f64,
    max_iterations: u64,
}

/// Logistic-regression parameters, unchecked: `LogisticParams::new().alpha(0.5)`, then
/// [`ParamGuard::check`].
#[derive(Debug, Clone, PartialEq)]
pub struct LogisticParams(LogisticValidParams);

impl Default for LogisticParams {
    /// α = 1 (scikit-learn's C = 1), 200 iterations.
    fn default() -> Self {
        Self(LogisticValidParams {
            alpha: 1.0,
            max_iterations: 200,
        })
    }
}

impl LogisticParams {
    /// The defaults.
    pub fn new() -> Self {
        Self::default()
    }
}

params! {
    LogisticParams => LogisticValidParams, validate: validate_logistic,
    /// L2 penalty (1/C of scikit-learn).
    alpha: f64,
    /// L-BFGS iteration cap.
    max_iterations: u64,
}

/// Refuses a penalty or iteration cap that cannot work, each with its own error.
fn validate_logistic(p: &LogisticValidParams) -> Result<()> {
    if !finite_non_negative(p.alpha) {
        Err(Error::Alpha(p.alpha))
    } else if p.max_iterations == 0 {
        Err(Error::MaxIterations)
    } else {
        Ok(())
    }
}

/// A fitted logistic regression of P(positive) on standardised features.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Logistic {
    /// Training mean per feature.
    pub means: Vec<f64>,
    /// Training standard deviation per feature (1 for constant features).
    pub scales: Vec<f64>,
    /// Weight per standardised feature, towards the positive class.
    pub coefficients: Vec<f64>,
    /// Intercept (log-odds of a row at the training means).
    pub intercept: f64,
}

impl Logistic {
    /// Fits rows `x` to `y` (true = positive) as `params` say, each row counting
    /// `weights[i]` times (all 1 without weights).
    pub fn fit(
        x: ArrayView2<'_, f64>,
        y: &[bool],
        weights: Option<&[f64]>,
        params: &LogisticValidParams,
    ) -> Result<Self> {
        let n = x.nrows();
        if n == 0 || y.len() != n || weights.is_some_and(|w| w.len() != n) {
            return Err(Error::Shape(format!(
                "logistic: {n} rows, {} labels, {} weights",
                y.len(),
                weights.map_or(n, <[f64]>::len)
            )));
        }
        if x.iter().any(|v| !v.is_finite()) {
            return Err(Error::NonFinite(
                "logistic: features must be finite numbers (fill missing values first)".into(),
            ));
        }
        let w: Vec<f64> = weights.map_or_else(|| vec![1.0; n], <[f64]>::to_vec);
        if w.iter().any(|v| !finite_non_negative(*v)) {
            return Err(Error::Data(
                "logistic: weights must be finite and not negative".into(),
            ));
        }
        let total: f64 = w.iter().sum();
        let positive: f64 = w.iter().zip(y).filter(|(_, y)| **y).map(|(w, _)| w).sum();
        if positive <= 0.0 || positive >= total {
            return Err(Error::Data(
                "logistic: the weighted rows hold one class only".into(),
            ));
        }
        let moment = |c: ndarray::ArrayView1<'_, f64>, f: &dyn Fn(f64) -> f64| {
            c.iter().zip(&w).map(|(v, w)| w * f(*v)).sum::<f64>() / total
        };
        let means: Vec<f64> = x.columns().into_iter().map(|c| moment(c, &|v| v)).collect();
        let scales: Vec<f64> = x
            .columns()
            .into_iter()
            .zip(&means)
            .map(|(c, m)| {
                let sd = moment(c, &|v| (v - m) * (v - m)).sqrt();
                if sd > 1e-12 { sd } else { 1.0 }
            })
            .collect();
        let z = Array2::from_shape_fn(x.dim(), |(r, c)| (x[[r, c]] - means[c]) / scales[c]);
        let problem = Objective {
            x: z,
            y: y.iter().map(|&b| f64::from(u8::from(b))).collect(),
            w,
            alpha: params.alpha,
            scale: 1.0 / total,
        };
        let fail = |e: argmin::core::Error| Error::Data(format!("logistic: the fit failed: {e}"));
        let solver = LBFGS::new(MoreThuenteLineSearch::new(), 10)
            .with_tolerance_grad(1e-9)
            .and_then(|s| s.with_tolerance_cost(1e-15))
            .map_err(fail)?;
        // Start at the base rate's log-odds, every weight 0.
        let mut init = Array1::zeros(x.ncols() + 1);
        init[0] = (positive / (total - positive)).ln();
        let result = Executor::new(problem, solver)
            .configure(|state| state.param(init).max_iters(params.max_iterations))
            .run()
            .map_err(fail)?;
        let best = result
            .state()
            .get_best_param()
            .ok_or_else(|| Error::Data("logistic: the fit found no weights".into()))?;
        if best.iter().any(|v| !v.is_finite()) {
            return Err(Error::Data(
                "logistic: the weights diverged (separable data? raise alpha)".into(),
            ));
        }
        Ok(Self {
            means,
            scales,
            coefficients: best.iter().skip(1).copied().collect(),
            intercept: best[0],
        })
    }

    /// Per-feature contributions to the log-odds of one row (they sum, with the intercept,
    /// to the log-odds).
    pub fn contributions(&self, row: &[f64]) -> Vec<f64> {
        row.iter()
            .zip(&self.coefficients)
            .enumerate()
            .map(|(j, (v, w))| w * (v - self.means[j]) / self.scales[j])
            .collect()
    }

    /// P(positive) of one row.
    pub fn probability(&self, row: &[f64]) -> f64 {
        super::sigmoid(self.intercept + self.contributions(row).iter().sum::<f64>())
    }
}

/// The penalised, weighted log-loss over standardised rows, per unit of weight; its
/// parameter is (intercept, weights…).
struct Objective {
    /// Standardised features.
    x: Array2<f64>,
    /// 1 for positive rows, else 0.
    y: Vec<f64>,
    /// Row weights.
    w: Vec<f64>,
    /// L2 penalty on the weights (not the intercept).
    alpha: f64,
    /// 1 / Σ weights: the loss per unit of weight, so L-BFGS's tolerances do not depend on
    /// the number of rows (scaling the whole loss leaves its minimum where it is).
    scale: f64,
}

impl Objective {
    /// Log-odds of each row at `theta`.
    fn log_odds(&self, theta: &Array1<f64>) -> Array1<f64> {
        self.x
            .dot(&theta.slice_axis(ndarray::Axis(0), ndarray::Slice::from(1..)))
            + theta[0]
    }
}

impl CostFunction for Objective {
    type Param = Array1<f64>;
    type Output = f64;

    fn cost(&self, theta: &Self::Param) -> std::result::Result<f64, argmin::core::Error> {
        let z = self.log_odds(theta);
        // log(1 + eᶻ) − y·z, written to stay finite for large |z|.
        let loss: f64 = z
            .iter()
            .zip(&self.y)
            .zip(&self.w)
            .map(|((z, y), w)| w * (z.max(0.0) + (-z.abs()).exp().ln_1p() - y * z))
            .sum();
        let penalty = theta.iter().skip(1).map(|b| b * b).sum::<f64>() * self.alpha / 2.0;
        Ok((loss + penalty) * self.scale)
    }
}

impl Gradient for Objective {
    type Param = Array1<f64>;
    type Gradient = Array1<f64>;

    fn gradient(
        &self,
        theta: &Self::Param,
    ) -> std::result::Result<Array1<f64>, argmin::core::Error> {
        let z = self.log_odds(theta);
        let residual: Array1<f64> = z
            .iter()
            .zip(&self.y)
            .zip(&self.w)
            .map(|((z, y), w)| w * (sigmoid(*z) - y))
            .collect();
        let mut grad = Array1::zeros(theta.len());
        grad[0] = residual.sum();
        let slopes = self.x.t().dot(&residual);
        for (j, g) in slopes.iter().enumerate() {
            grad[j + 1] = g + self.alpha * theta[j + 1];
        }
        Ok(grad * self.scale)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> LogisticValidParams {
        LogisticParams::new().check().expect("valid")
    }

    /// 400 rows whose P(positive) rises with x0; x1 is noise.
    fn planted() -> (Array2<f64>, Vec<bool>) {
        let n = 400;
        let x = Array2::from_shape_fn((n, 2), |(r, c)| {
            if c == 0 {
                (r % 20) as f64
            } else {
                ((r * 7) % 13) as f64
            }
        });
        let y: Vec<bool> = (0..n)
            .map(|r| (r % 20) as f64 + ((r * 31) % 7) as f64 > 12.0)
            .collect();
        (x, y)
    }

    #[test]
    fn recovers_the_direction_of_a_planted_effect() {
        let (x, y) = planted();
        let m = Logistic::fit(x.view(), &y, None, &defaults()).expect("fit");
        assert!(m.coefficients[0] > 1.0, "{:?}", m.coefficients);
        assert!(m.coefficients[0] > 5.0 * m.coefficients[1].abs());
        assert!(m.probability(&[19.0, 3.0]) > 0.9);
        assert!(m.probability(&[0.0, 3.0]) < 0.1);
        let flipped: Vec<bool> = y.iter().map(|v| !v).collect();
        let f = Logistic::fit(x.view(), &flipped, None, &defaults()).expect("fit");
        assert!((f.probability(&[19.0, 3.0]) + m.probability(&[19.0, 3.0]) - 1.0).abs() < 1e-3);
    }

    /// scikit-learn 1.9 `LogisticRegression(C=1, tol=1e-10)` on `StandardScaler` output of
    /// the rows below (and with `sample_weight` 1, 2, 3, … on the rows standardised with the
    /// same weights): the same loss, so the same minimum.
    #[test]
    fn matches_scikit_learn_with_and_without_weights() {
        let (x, y) = planted();
        let n = y.len();
        let close = |m: &Logistic, coef: [f64; 2], intercept: f64| {
            for (a, b) in m.coefficients.iter().zip(coef) {
                assert!((a - b).abs() < 1e-5, "{:?} vs {coef:?}", m.coefficients);
            }
            assert!((m.intercept - intercept).abs() < 1e-5, "{}", m.intercept);
        };
        let plain = Logistic::fit(x.view(), &y, None, &defaults()).expect("fit");
        close(&plain, [4.18021607, 0.05350011], -0.00078399);
        let w: Vec<f64> = (0..n).map(|r| 1.0 + (r % 3) as f64).collect();
        let weighted = Logistic::fit(x.view(), &y, Some(&w), &defaults()).expect("fit");
        close(&weighted, [4.55287064, 0.11692603], -0.01843653);
    }

    #[test]
    fn a_weight_of_two_is_a_row_twice() {
        let n = 120;
        let x = Array2::from_shape_fn((n, 1), |(r, _)| ((r * 13) % 17) as f64);
        let y: Vec<bool> = (0..n).map(|r| (r * 13) % 17 + (r % 5) > 10).collect();
        let w: Vec<f64> = (0..n).map(|r| if r % 4 == 0 { 2.0 } else { 1.0 }).collect();
        let rows: Vec<usize> = (0..n).flat_map(|r| vec![r; w[r] as usize]).collect();
        let doubled = x.select(ndarray::Axis(0), &rows);
        let doubled_y: Vec<bool> = rows.iter().map(|&r| y[r]).collect();
        let a = Logistic::fit(x.view(), &y, Some(&w), &defaults()).expect("fit");
        let b = Logistic::fit(doubled.view(), &doubled_y, None, &defaults()).expect("fit");
        for (p, q) in [
            (a.intercept, b.intercept),
            (a.coefficients[0], b.coefficients[0]),
        ] {
            assert!((p - q).abs() < 1e-6, "{a:?} vs {b:?}");
        }
        assert!(Logistic::fit(x.view(), &y, Some(&w[1..]), &defaults()).is_err());
        let mut negative = w.clone();
        negative[3] = -1.0;
        assert!(Logistic::fit(x.view(), &y, Some(&negative), &defaults()).is_err());
    }

    #[test]
    fn each_bad_parameter_has_its_own_error() {
        assert_eq!(
            LogisticParams::new().alpha(-1.0).check(),
            Err(Error::Alpha(-1.0))
        );
        assert!(matches!(
            LogisticParams::new().alpha(f64::NAN).check(),
            Err(Error::Alpha(_))
        ));
        assert_eq!(
            LogisticParams::new().max_iterations(0).check(),
            Err(Error::MaxIterations)
        );
        assert!(LogisticParams::new().alpha(0.0).check().is_ok());
    }
}
