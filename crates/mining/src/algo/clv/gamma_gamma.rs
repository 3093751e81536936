//! Gamma-Gamma spend model (Fader, Hardie & Lee 2005, "RFM and CLV"): each purchase's value
//! is Gamma(p, ν) around a customer's own mean, and ν ~ Gamma(q, γ) across customers, so a
//! customer's expected spend per purchase is their observed mean shrunk towards the
//! population's, the more the fewer purchases they made. Fitted on customers with repeat
//! purchases and their mean repeat spend.

use serde::{Deserialize, Serialize};
use statrs::function::gamma::{digamma, ln_gamma};

use super::{Fit, maximise, sum_terms};
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

impl GammaGamma {
    /// One customer's log-likelihood and its gradient in (p, q, γ).
    fn log_likelihood_one(&self, s: &Spend) -> (f64, [f64; 3]) {
        let Self { p, q, gamma: v } = *self;
        let (x, m) = (s.frequency, s.mean);
        let px = p * x;
        let ll = ln_gamma(px + q) - ln_gamma(px) - ln_gamma(q)
            + q * v.ln()
            + (px - 1.0) * m.ln()
            + px * x.ln()
            - (px + q) * (v + x * m).ln();
        let d_p = x * (digamma(px + q) - digamma(px) + m.ln() + x.ln() - (v + x * m).ln());
        let d_q = digamma(px + q) - digamma(q) + v.ln() - (v + x * m).ln();
        let d_v = q / v - (px + q) / (v + x * m);
        (ll, [d_p, d_q, d_v])
    }

    /// The log-likelihood of `customers` (summed) and its gradient in (p, q, γ).
    pub fn log_likelihood(&self, customers: &[Spend]) -> (f64, [f64; 3]) {
        sum_terms(customers, |s| self.log_likelihood_one(s))
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
    /// population mean p·γ / (q − 1) without any).
    pub fn expected_spend(&self, s: &Spend) -> f64 {
        let Self { p, q, gamma: v } = *self;
        let (x, m) = if s.frequency > 0.0 {
            (s.frequency, s.mean)
        } else {
            (0.0, 0.0)
        };
        p * (v + x * m) / (p * x + q - 1.0)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::assert_gradient;
    use super::*;

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
        let population = model.expected_spend(&Spend {
            frequency: 0.0,
            mean: 0.0,
        });
        let one = model.expected_spend(&Spend {
            frequency: 1.0,
            mean: 100.0,
        });
        let many = model.expected_spend(&Spend {
            frequency: 20.0,
            mean: 100.0,
        });
        assert!(
            population < one && one < many && many < 100.0,
            "{population} {one} {many}"
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
