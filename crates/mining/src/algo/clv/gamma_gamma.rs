//! Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and CLV"): each purchase's value
//! is Gamma(p, ν) around a customer's own mean, and ν ~ Gamma(q, γ) across customers, so a
//! customer's expected spend per purchase is their observed mean shrunk towards the
//! population's, the more the fewer purchases they made. Fitted on customers with repeat
//! purchases and their mean repeat spend.

use serde::{Deserialize, Serialize};
use statrs::function::gamma::{digamma, ln_gamma};

use super::{Fit, maximise, sum_by_frequency};
use crate::algo::{Error, Result};

/// Fitted Gamma-Gamma parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct GammaGamma {
    /// Shape of a purchase's value.
    pub p: f64,
    /// Shape of the customers' rate ν.
    pub q: f64,
    /// Scale γ of the customers' rate ν (in money).
    pub gamma: f64,
}

/// One customer's repeat purchases and their mean value.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Spend {
    /// Repeat purchases (at least 1 to be fitted).
    pub frequency: f64,
    /// Mean value of the repeat purchases (> 0 to be fitted).
    pub mean: f64,
}

/// The gamma-function parts of a customer's likelihood, which depend on their frequency x
/// alone: ln Γ(px + q) − ln Γ(px) − ln Γ(q) and the digamma differences of its gradient.
struct ByFrequency {
    gammas: f64,
    /// ψ(px + q) − ψ(px).
    d_p: f64,
    /// ψ(px + q) − ψ(q).
    d_q: f64,
}

/// Above this z, ln Γ(z + q) − ln Γ(z) and ψ(z + q) − ψ(z) are taken from their asymptotic
/// series: the plain differences of two numbers near z·ln z lose every digit there, where a
/// fit that finds spend barely varying within a customer drives p (and z = px).
const ASYMPTOTIC: f64 = 1e7;

/// ln Γ(z + q) − ln Γ(z) for z ≥ [`ASYMPTOTIC`] and moderate q: q ln z + Σₙ (−1)ⁿ⁺¹
/// (Bₙ₊₁(q) − Bₙ₊₁(0)) / (n(n + 1) zⁿ) with Bernoulli polynomials, to n = 3, and its
/// derivative in z, ψ(z + q) − ψ(z).
fn gamma_ratio(z: f64, q: f64) -> (f64, f64) {
    let b2 = q * q - q;
    let b3 = q * q * q - 1.5 * q * q + 0.5 * q;
    let b4 = q * q * q * q - 2.0 * q * q * q + q * q;
    let ln = q * z.ln() + b2 / (2.0 * z) - b3 / (6.0 * z * z) + b4 / (12.0 * z * z * z);
    let psi = q / z - b2 / (2.0 * z * z) + b3 / (3.0 * z * z * z) - b4 / (4.0 * z * z * z * z);
    (ln, psi)
}

impl GammaGamma {
    fn by_frequency(&self, x: f64) -> ByFrequency {
        let Self { p, q, .. } = *self;
        let px = p * x;
        let (ratio, d_ratio) = if px >= ASYMPTOTIC && q * q < px.sqrt() {
            gamma_ratio(px, q)
        } else {
            (
                ln_gamma(px + q) - ln_gamma(px),
                digamma(px + q) - digamma(px),
            )
        };
        ByFrequency {
            gammas: ratio - ln_gamma(q),
            d_p: d_ratio,
            d_q: digamma(px + q) - digamma(q),
        }
    }

    /// One customer's log-likelihood and its gradient in (p, q, γ), given the parts of their
    /// frequency. px · ln(xm / (γ + xm)) is written with `ln_1p`: its two logarithms are
    /// nearly equal when γ is small beside the customer's spend.
    fn log_likelihood_one(&self, s: &Spend, f: &ByFrequency) -> (f64, [f64; 3]) {
        let Self { p, q, gamma: v } = *self;
        let (x, m) = (s.frequency, s.mean);
        let px = p * x;
        let share = (v / (x * m)).ln_1p();
        let ll = f.gammas + q * v.ln() - m.ln() - q * (v + x * m).ln() - px * share;
        let d_p = x * (f.d_p - share);
        let d_q = f.d_q + v.ln() - (v + x * m).ln();
        let d_v = q / v - (px + q) / (v + x * m);
        (ll, [d_p, d_q, d_v])
    }

    /// The log-likelihood of `customers` (summed) and its gradient in (p, q, γ).
    pub fn log_likelihood(&self, customers: &[Spend]) -> (f64, [f64; 3]) {
        sum_by_frequency(
            customers,
            |s| s.frequency,
            |x| self.by_frequency(x),
            |s, f| self.log_likelihood_one(s, f),
        )
    }

    /// The maximum-likelihood parameters of `customers`, each with at least one repeat
    /// purchase and a positive mean (others are refused: leave them out first).
    pub fn fit(customers: &[Spend]) -> Result<(Self, Fit)> {
        if let Some(bad) = customers.iter().find(|s| {
            !(s.frequency >= 1.0
                && s.frequency.fract() == 0.0
                && s.mean > 0.0
                && s.mean.is_finite())
        }) {
            return Err(Error::Data(format!(
                "gamma-gamma: {} repeat purchases of mean {} cannot be fitted (whole repeat purchases ≥ 1, mean > 0)",
                bad.frequency, bad.mean
            )));
        }
        if customers.len() < 2 {
            return Err(Error::Data(format!(
                "gamma-gamma: {} customers with repeat purchases; at least 2 are needed",
                customers.len()
            )));
        }
        let mean = customers.iter().map(|s| s.mean).sum::<f64>() / customers.len() as f64;
        let ll = |p: &[f64]| {
            let model = Self {
                p: p[0],
                q: p[1],
                gamma: p[2],
            };
            let (v, g) = model.log_likelihood(customers);
            (v, g.to_vec())
        };
        let (p, log_likelihood, iterations) =
            maximise(ll, customers.len(), &[1.0, 1.0, mean], "gamma-gamma")?;
        Ok((
            Self {
                p: p[0],
                q: p[1],
                gamma: p[2],
            },
            Fit {
                log_likelihood,
                iterations,
                customers: customers.len(),
            },
        ))
    }

    /// Expected value of a customer's purchases given their repeat purchases and mean (the
    /// population mean p·γ / (q − 1) without any); `None` where the model has no finite mean
    /// for them (p·x + q ≤ 1): a fit with q ≤ 1 says spend varies so heavy-tailed between
    /// customers that the population has no mean, and lifetimes refuses such a fit.
    pub fn expected_spend(&self, s: &Spend) -> Option<f64> {
        let Self { p, q, gamma: v } = *self;
        let (x, m) = if s.frequency > 0.0 {
            (s.frequency, s.mean)
        } else {
            (0.0, 0.0)
        };
        let shape = p * x + q - 1.0;
        (shape > 0.0).then(|| p * (v + x * m) / shape)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::assert_gradient;
    use super::*;

    #[test]
    fn the_asymptotic_gamma_ratio_meets_the_exact_one() {
        // Where both are still accurate (z = 1e7, differences of about 16 and 1e-7), and
        // for q far from 1.
        for q in [0.5, 0.956, 3.74, 20.0] {
            let z = ASYMPTOTIC;
            let (ln, psi) = gamma_ratio(z, q);
            let exact = ln_gamma(z + q) - ln_gamma(z);
            assert!(
                (ln - exact).abs() < 1e-7 * exact.abs(),
                "q {q}: {ln} vs {exact}"
            );
            let exact = digamma(z + q) - digamma(z);
            assert!(
                (psi - exact).abs() < 1e-6 * exact.abs(),
                "q {q}: {psi} vs {exact}"
            );
        }
        // At moderate z the series is the exact value to many digits.
        let (ln, _) = gamma_ratio(1e3, 2.5);
        let exact = ln_gamma(1e3 + 2.5) - ln_gamma(1e3);
        assert!((ln - exact).abs() < 1e-10, "{ln} vs {exact}");
    }

    #[test]
    fn the_gradient_is_the_likelihood_s_slope_and_spend_is_shrunk() {
        let model = GammaGamma {
            p: 6.25,
            q: 3.74,
            gamma: 15.44,
        };
        let customers = [
            Spend {
                frequency: 2.0,
                mean: 35.0,
            },
            Spend {
                frequency: 1.0,
                mean: 11.8,
            },
            Spend {
                frequency: 7.0,
                mean: 71.2,
            },
        ];
        let at = |p: [f64; 3]| {
            let m = GammaGamma {
                p: p[0],
                q: p[1],
                gamma: p[2],
            };
            m.log_likelihood(&customers)
        };
        assert_gradient(at, [model.p, model.q, model.gamma]);
        // Between the customer's own mean and the population's, nearer their own with more purchases.
        let spend = |frequency: f64, mean: f64| {
            model
                .expected_spend(&Spend { frequency, mean })
                .expect("q > 1: a finite mean")
        };
        let (population, one, many) = (spend(0.0, 0.0), spend(1.0, 100.0), spend(20.0, 100.0));
        assert!(
            population < one && one < many && many < 100.0,
            "{population} {one} {many}"
        );
        // With q ≤ 1 the population has no mean; a repeat buyer's posterior still has one.
        let heavy = GammaGamma { q: 0.9, ..model };
        let nobody = Spend {
            frequency: 0.0,
            mean: 0.0,
        };
        assert_eq!(heavy.expected_spend(&nobody), None);
        assert!(
            heavy
                .expected_spend(&Spend {
                    frequency: 1.0,
                    mean: 100.0
                })
                .is_some_and(|e| e.is_finite() && e > 0.0)
        );
        assert!(
            GammaGamma::fit(&[Spend {
                frequency: 0.0,
                mean: 3.0
            }])
            .is_err()
        );
    }
}
