//! L2-regularised logistic regression through linfa-logistic (L-BFGS), on standardised
//! features. The penalty `alpha` is the inverse of scikit-learn's `C` (loss = Σ log-loss +
//! α/2·‖w‖², intercept not penalised), so `alpha = 1` equals `LogisticRegression()` fitted
//! on `StandardScaler` output. The fitted weights are kept as plain numbers, so a saved
//! model scores without linfa.

use linfa::prelude::*;
use linfa_logistic::LogisticRegression;
use ndarray::{Array1, Array2, ArrayView2};
use serde::{Deserialize, Serialize};

use super::{Error, ParamGuard, Result, finite_non_negative};

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
    /// Fits rows `x` to `y` (true = positive) as `params` say.
    pub fn fit(x: ArrayView2<'_, f64>, y: &[bool], params: &LogisticValidParams) -> Result<Self> {
        let n = x.nrows();
        if n == 0 || y.len() != n {
            return Err(Error::Shape(format!(
                "logistic: {n} rows, {} labels",
                y.len()
            )));
        }
        let means: Vec<f64> = x
            .columns()
            .into_iter()
            .map(|c| c.sum() / n as f64)
            .collect();
        let scales: Vec<f64> = x
            .columns()
            .into_iter()
            .zip(&means)
            .map(|(c, m)| {
                let sd = (c.iter().map(|v| (v - m) * (v - m)).sum::<f64>() / n as f64).sqrt();
                if sd > 1e-12 { sd } else { 1.0 }
            })
            .collect();
        let z = Array2::from_shape_fn(x.dim(), |(r, c)| (x[[r, c]] - means[c]) / scales[c]);
        let targets = Array1::from(y.to_vec());
        let fitted = LogisticRegression::default()
            .alpha(params.alpha)
            .max_iterations(params.max_iterations)
            .fit(&Dataset::new(z, targets))
            .map_err(|e| Error::Linfa(format!("logistic regression: {e}")))?;
        // linfa names its positive class after the data; orient the weights towards `true`.
        let sign = if fitted.labels().pos.class { 1.0 } else { -1.0 };
        Ok(Self {
            means,
            scales,
            coefficients: fitted.params().iter().map(|w| sign * w).collect(),
            intercept: sign * fitted.intercept(),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> LogisticValidParams {
        LogisticParams::new().check().expect("valid")
    }

    #[test]
    fn recovers_the_direction_of_a_planted_effect() {
        // P(positive) rises with x0, x1 is noise.
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
        let m = Logistic::fit(x.view(), &y, &defaults()).expect("fit");
        assert!(m.coefficients[0] > 1.0, "{:?}", m.coefficients);
        assert!(m.coefficients[0] > 5.0 * m.coefficients[1].abs());
        assert!(m.probability(&[19.0, 3.0]) > 0.9);
        assert!(m.probability(&[0.0, 3.0]) < 0.1);
        let flipped: Vec<bool> = y.iter().map(|v| !v).collect();
        let f = Logistic::fit(x.view(), &flipped, &defaults()).expect("fit");
        assert!((f.probability(&[19.0, 3.0]) + m.probability(&[19.0, 3.0]) - 1.0).abs() < 1e-3);
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
