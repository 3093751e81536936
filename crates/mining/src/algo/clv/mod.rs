//! Customer lifetime value with "buy till you die" models (Fader, Hardie & Lee): how often a
//! customer buys while alive and when they quietly stop ([`bgnbd`], BG/NBD), and what they
//! spend per purchase ([`gamma_gamma`], Gamma-Gamma), fitted by maximum likelihood on each
//! customer's frequency (repeat purchases), recency (time of the last purchase after the
//! first), age T (time since the first purchase) and mean spend of the repeat purchases.
//!
//! Both are fitted as lifetimes does it (the reference they are tested against): the
//! negative log-likelihood and its analytic gradient over the logarithms of the parameters,
//! minimised by L-BFGS (argmin), so every parameter stays positive. The time unit is the
//! data's: the parameters, the horizon and the discounting all count in it.

pub mod bgnbd;
pub mod gamma_gamma;

use argmin::core::{CostFunction, Executor, Gradient, State};
use argmin::solver::linesearch::MoreThuenteLineSearch;
use argmin::solver::quasinewton::LBFGS;
use ndarray::Array1;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{Error, Result};

/// The months of a `horizon` as (start, end) times, `month` long each but the last, which
/// ends at the horizon: the steps in which values are discounted.
pub fn months(horizon: f64, month: f64) -> impl Iterator<Item = (f64, f64)> {
    let mut end = 0.0;
    std::iter::from_fn(move || {
        (end < horizon && month > 0.0).then(|| {
            let start = end;
            end = (end + month).min(horizon);
            (start, end)
        })
    })
}

/// One customer's purchase history as of a date.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// Repeat purchases: purchase occasions after the first.
    pub frequency: f64,
    /// Time from the first to the last purchase (0 without repeat purchases).
    pub recency: f64,
    /// Time from the first purchase to the date (the customer's age, T).
    pub age: f64,
}

impl History {
    /// Refuses a history that no model can hold: negative or non-finite values, a fractional
    /// frequency, a recency past the age, or repeat purchases at recency 0. (Age 0, a first
    /// purchase on the day itself, is a history: it adds nothing to the likelihood.)
    pub fn check(&self) -> Result<()> {
        let Self {
            frequency: x,
            recency: t,
            age,
        } = *self;
        let fine = [x, t, age].iter().all(|v| v.is_finite() && *v >= 0.0)
            && x.fract() == 0.0
            && t <= age
            && (x == 0.0) == (t == 0.0);
        if fine {
            Ok(())
        } else {
            Err(Error::Data(format!(
                "clv: frequency {x}, recency {t}, age {age} is not a purchase history \
                 (whole repeat purchases ≥ 0; 0 < recency ≤ age with repeat purchases, recency 0 without)"
            )))
        }
    }
}

/// How a fit went: the maximised log-likelihood (summed over the customers) and the
/// optimiser's iterations.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Fit {
    /// Log-likelihood at the parameters.
    pub log_likelihood: f64,
    /// L-BFGS iterations.
    pub iterations: u64,
    /// Customers the fit used.
    pub customers: usize,
}

/// Rows per chunk of a parallel sum: chunks are summed in order, so a likelihood is the
/// same on any number of threads.
const CHUNK: usize = 16_384;

/// Σ over `items` of `term` (the log-likelihood and its gradient of one item), summed in
/// fixed chunks on every core.
fn sum_terms<T: Sync, const N: usize>(
    items: &[T],
    term: impl Fn(&T) -> (f64, [f64; N]) + Sync,
) -> (f64, [f64; N]) {
    let add = |(a, ga): (f64, [f64; N]), (b, gb): (f64, [f64; N])| {
        let mut g = ga;
        for (x, y) in g.iter_mut().zip(gb) {
            *x += y;
        }
        (a + b, g)
    };
    let parts: Vec<(f64, [f64; N])> = items
        .par_chunks(CHUNK)
        .map(|chunk| chunk.iter().map(&term).fold((0.0, [0.0; N]), add))
        .collect();
    parts.into_iter().fold((0.0, [0.0; N]), add)
}

/// [`sum_terms`] for terms with a part that depends on the item's frequency alone (gamma
/// and digamma functions, the dearest part of a term): `parts` is worked out once per whole
/// frequency up to the largest, and looked up (a fractional frequency works its own out).
fn sum_by_frequency<T: Sync, P: Sync, const N: usize>(
    items: &[T],
    frequency: impl Fn(&T) -> f64 + Sync,
    parts: impl Fn(f64) -> P + Sync,
    term: impl Fn(&T, &P) -> (f64, [f64; N]) + Sync,
) -> (f64, [f64; N]) {
    let most = items.iter().map(&frequency).fold(0.0, f64::max);
    let table: Vec<P> = (0..=most as usize).map(|x| parts(x as f64)).collect();
    sum_terms(items, |item| {
        let x = frequency(item);
        match table.get(x as usize) {
            Some(known) if x.fract() == 0.0 => term(item, known),
            _ => term(item, &parts(x)),
        }
    })
}

/// A log-likelihood over positive parameters, minimised as −LL / n over their logarithms
/// (per customer, as lifetimes does: the gradient's scale, and so L-BFGS's first step, does
/// not grow with the number of customers).
struct Problem<F> {
    /// Log-likelihood and its gradient at the (positive) parameters.
    ll: F,
    /// 1 / customers.
    scale: f64,
}

impl<F: Fn(&[f64]) -> (f64, Vec<f64>)> CostFunction for Problem<F> {
    type Param = Array1<f64>;
    type Output = f64;

    fn cost(&self, logs: &Self::Param) -> std::result::Result<f64, argmin::core::Error> {
        let theta: Vec<f64> = logs.iter().map(|l| l.exp()).collect();
        let (ll, _) = (self.ll)(&theta);
        // Outside the likelihood's domain (an overflow): a cost the line search backs away from.
        Ok(if ll.is_finite() {
            -ll * self.scale
        } else {
            f64::INFINITY
        })
    }
}

impl<F: Fn(&[f64]) -> (f64, Vec<f64>)> Gradient for Problem<F> {
    type Param = Array1<f64>;
    type Gradient = Array1<f64>;

    fn gradient(
        &self,
        logs: &Self::Param,
    ) -> std::result::Result<Array1<f64>, argmin::core::Error> {
        let theta: Vec<f64> = logs.iter().map(|l| l.exp()).collect();
        let (_, grad) = (self.ll)(&theta);
        // d(−LL)/d log θ = −θ · dLL/dθ.
        Ok(theta
            .iter()
            .zip(grad)
            .map(|(t, g)| -t * g * self.scale)
            .collect())
    }
}

/// The positive parameters maximising `ll` (log-likelihood and gradient, summed over
/// `customers`), from `start`.
fn maximise(
    ll: impl Fn(&[f64]) -> (f64, Vec<f64>),
    customers: usize,
    start: &[f64],
    what: &str,
) -> Result<(Vec<f64>, f64, u64)> {
    let fail = |e: argmin::core::Error| Error::Data(format!("{what}: the fit failed: {e}"));
    let solver = LBFGS::new(MoreThuenteLineSearch::new(), 10)
        .with_tolerance_grad(1e-10)
        .and_then(|s| s.with_tolerance_cost(1e-14))
        .map_err(fail)?;
    let init: Array1<f64> = start.iter().map(|v| v.ln()).collect();
    let problem = Problem {
        ll: &ll,
        scale: 1.0 / customers.max(1) as f64,
    };
    let result = Executor::new(problem, solver)
        .configure(|state| state.param(init).max_iters(500))
        .run()
        .map_err(fail)?;
    let state = result.state();
    let best = state
        .get_best_param()
        .ok_or_else(|| Error::Data(format!("{what}: the fit found no parameters")))?;
    let theta: Vec<f64> = best.iter().map(|l| l.exp()).collect();
    let (value, _) = ll(&theta);
    if !value.is_finite() || theta.iter().any(|t| !t.is_finite()) {
        return Err(Error::Data(format!(
            "{what}: the likelihood has no finite maximum on these customers (parameters {theta:?})"
        )));
    }
    Ok((theta, value, state.get_iter()))
}

/// Gauss's hypergeometric function ₂F₁(a, b; c; z) for 0 ≤ z < 1 by its series, summed until
/// a term no longer changes the sum (the BG/NBD expectation's z = t / (α + T + t)).
fn hyp2f1(a: f64, b: f64, c: f64, z: f64) -> f64 {
    let (mut term, mut sum) = (1.0, 1.0);
    for k in 0..1_000_000 {
        let k = f64::from(k);
        term *= (a + k) * (b + k) / ((c + k) * (k + 1.0)) * z;
        sum += term;
        if term.abs() <= sum.abs() * 1e-17 {
            break;
        }
    }
    sum
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// Checks the analytic gradient `ll` returns against central differences of its value
    /// at `at`.
    pub fn assert_gradient<const N: usize>(ll: impl Fn([f64; N]) -> (f64, [f64; N]), at: [f64; N]) {
        let (_, g) = ll(at);
        for (k, gk) in g.iter().enumerate() {
            let moved = |d: f64| {
                let mut p = at;
                p[k] += d;
                ll(p).0
            };
            let numeric = (moved(1e-6) - moved(-1e-6)) / 2e-6;
            assert!(
                (numeric - gk).abs() < 1e-6 * gk.abs().max(1.0),
                "parameter {k}: {numeric} vs {gk}"
            );
        }
    }

    #[test]
    fn hypergeometric_series_matches_closed_forms() {
        // ₂F₁(1, 1; 2; z) = −ln(1 − z) / z; ₂F₁(a, b; b; z) = (1 − z)^−a.
        for z in [0.1, 0.5, 0.9, 0.99] {
            let exact = -(1.0f64 - z).ln() / z;
            assert!(
                (hyp2f1(1.0, 1.0, 2.0, z) / exact - 1.0).abs() < 1e-12,
                "z {z}"
            );
            let exact = (1.0f64 - z).powf(-2.5);
            assert!(
                (hyp2f1(2.5, 3.0, 3.0, z) / exact - 1.0).abs() < 1e-12,
                "z {z}"
            );
        }
    }

    #[test]
    fn histories_that_cannot_be_are_refused() {
        let h = |frequency, recency, age| History {
            frequency,
            recency,
            age,
        };
        assert!(h(2.0, 30.0, 38.0).check().is_ok());
        assert!(h(0.0, 0.0, 38.0).check().is_ok());
        assert!(h(0.0, 0.0, 0.0).check().is_ok(), "first bought on the day");
        for bad in [
            h(1.5, 3.0, 9.0),
            h(2.0, 40.0, 38.0),
            h(2.0, 0.0, 38.0),
            h(0.0, 3.0, 9.0),
            h(-1.0, 0.0, 1.0),
            h(0.0, 0.0, f64::NAN),
        ] {
            assert!(bad.check().is_err(), "{bad:?}");
        }
    }
}
