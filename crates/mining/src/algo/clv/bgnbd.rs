//! BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way"): while alive a
//! customer buys as a Poisson process of rate λ ~ Gamma(r, α); after each purchase they die
//! with probability p ~ Beta(a, b). From a history (x repeat purchases, the last at t_x,
//! age T) it gives the probability the customer is still alive and the purchases expected
//! in the next t.

use serde::{Deserialize, Serialize};
use statrs::function::gamma::{digamma, ln_gamma};

use super::{Fit, History, hyp2f1, maximise, sum_by_frequency};
use crate::algo::{Error, Result};

/// Fitted BG/NBD parameters.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BgNbd {
    /// Shape of the purchase-rate gamma.
    pub r: f64,
    /// Scale (in time units) of the purchase-rate gamma.
    pub alpha: f64,
    /// Beta a of the drop-out probability.
    pub a: f64,
    /// Beta b of the drop-out probability.
    pub b: f64,
}

/// The pieces of one customer's likelihood besides the part of their frequency
/// ([`ByFrequency::common`]): the log-probability of still being alive at T (`alive`) and,
/// with repeat purchases, of having died right after the last one (`dead`).
struct Terms {
    alive: f64,
    dead: Option<f64>,
}

/// The parts of the likelihood and its gradient that depend on a customer's frequency x
/// only: the gamma and digamma functions, by far the dearest part of a customer's term, are
/// worked out once per frequency in a fit rather than once per customer.
struct ByFrequency {
    /// The part of the log-likelihood every customer of the frequency has.
    common: f64,
    /// ∂common / ∂r.
    d_r: f64,
    /// ∂common / ∂a.
    d_a: f64,
    /// ∂common / ∂b.
    d_b: f64,
}

impl BgNbd {
    fn by_frequency(&self, x: f64) -> ByFrequency {
        let Self { r, alpha, a, b } = *self;
        ByFrequency {
            common: ln_gamma(r + x) - ln_gamma(r)
                + r * alpha.ln()
                + ln_gamma(a + b)
                + ln_gamma(b + x)
                - ln_gamma(b)
                - ln_gamma(a + b + x),
            d_r: digamma(r + x) - digamma(r) + alpha.ln(),
            d_a: digamma(a + b) - digamma(a + b + x),
            d_b: digamma(a + b) + digamma(b + x) - digamma(b) - digamma(a + b + x),
        }
    }

    fn terms(&self, h: &History) -> Terms {
        let Self { r, alpha, a, b } = *self;
        let x = h.frequency;
        let alive = -(r + x) * (alpha + h.age).ln();
        let dead =
            (x > 0.0).then(|| a.ln() - (b + x - 1.0).ln() - (r + x) * (alpha + h.recency).ln());
        Terms { alive, dead }
    }

    /// One customer's log-likelihood and its gradient in (r, α, a, b), given the parts of
    /// their frequency.
    fn log_likelihood_one(&self, h: &History, f: &ByFrequency) -> (f64, [f64; 4]) {
        let Self { r, alpha, a, b } = *self;
        let x = h.frequency;
        let t = self.terms(h);
        // The shares of "alive at T" and "dead after the last purchase" in the likelihood.
        let (ll_tail, w_alive, w_dead) = match t.dead {
            Some(dead) => {
                let m = t.alive.max(dead);
                let (ea, ed) = ((t.alive - m).exp(), (dead - m).exp());
                (m + (ea + ed).ln(), ea / (ea + ed), ed / (ea + ed))
            }
            None => (t.alive, 1.0, 0.0),
        };
        let d_r = f.d_r - w_alive * (alpha + h.age).ln() - w_dead * (alpha + h.recency).ln();
        let d_alpha = r / alpha
            - w_alive * (r + x) / (alpha + h.age)
            - w_dead * (r + x) / (alpha + h.recency);
        let d_a = f.d_a + w_dead / a;
        let d_b = f.d_b - if x > 0.0 { w_dead / (b + x - 1.0) } else { 0.0 };
        (f.common + ll_tail, [d_r, d_alpha, d_a, d_b])
    }

    /// The log-likelihood of `customers` (summed) and its gradient in (r, α, a, b).
    pub fn log_likelihood(&self, customers: &[History]) -> (f64, [f64; 4]) {
        sum_by_frequency(
            customers,
            |h| h.frequency,
            |x| self.by_frequency(x),
            |h, f| self.log_likelihood_one(h, f),
        )
    }

    /// The maximum-likelihood parameters of `customers` (each checked first).
    pub fn fit(customers: &[History]) -> Result<(Self, Fit)> {
        if customers.is_empty() {
            return Err(Error::Data("bg/nbd: no customers to fit".into()));
        }
        for (i, h) in customers.iter().enumerate() {
            // Which customer: a file of summaries made elsewhere is fixed by its row.
            h.check().map_err(|e| {
                Error::Data(format!("customer {} of {}: {e}", i + 1, customers.len()))
            })?;
        }
        if customers.iter().all(|h| h.frequency == 0.0) {
            return Err(Error::Data(
                "bg/nbd: no customer bought twice; repeat purchases are what the model learns from"
                    .into(),
            ));
        }
        let mean_age = customers.iter().map(|h| h.age).sum::<f64>() / customers.len() as f64;
        let ll = |p: &[f64]| {
            let model = Self {
                r: p[0],
                alpha: p[1],
                a: p[2],
                b: p[3],
            };
            let (v, g) = model.log_likelihood(customers);
            (v, g.to_vec())
        };
        let (p, log_likelihood, iterations) = maximise(
            ll,
            customers.len(),
            &[1.0, mean_age.max(1.0), 1.0, 1.0],
            "bg/nbd",
        )?;
        let model = Self {
            r: p[0],
            alpha: p[1],
            a: p[2],
            b: p[3],
        };
        Ok((
            model,
            Fit {
                log_likelihood,
                iterations,
                customers: customers.len(),
            },
        ))
    }

    /// P(alive at T | history): 1 without repeat purchases.
    pub fn p_alive(&self, h: &History) -> f64 {
        let t = self.terms(h);
        t.dead
            .map_or(1.0, |dead| 1.0 / (1.0 + (dead - t.alive).exp()))
    }

    /// The discounted value of a customer's purchases over the next `horizon` (lifetimes'
    /// `customer_lifetime_value`): month by month (`month` time units each, the last one cut
    /// at the horizon), the purchases expected in it × `spend` per purchase, discounted by
    /// `monthly_discount` per month to the month's end.
    pub fn discounted_value(
        &self,
        history: &History,
        spend: f64,
        horizon: f64,
        month: f64,
        monthly_discount: f64,
    ) -> f64 {
        let mut value = 0.0;
        let mut before = 0.0;
        for (_, end) in super::months(horizon, month) {
            let expected = self.expected_purchases(history, end);
            value += spend * (expected - before) / (1.0 + monthly_discount).powf(end / month);
            before = expected;
        }
        value
    }

    /// Purchases expected in (T, T + t] given the history (FHL 2005, eq. 10).
    pub fn expected_purchases(&self, h: &History, t: f64) -> f64 {
        let Self { r, alpha, a, b } = *self;
        let x = h.frequency;
        let (ha, hb, hc) = (r + x, b + x, a + b + x - 1.0);
        let z = t / (alpha + h.age + t);
        let mut ln_hyp = hyp2f1(ha, hb, hc, z).ln();
        if !ln_hyp.is_finite() {
            // Euler's transformation, for histories whose series overflows.
            ln_hyp = hyp2f1(hc - ha, hc - hb, hc, z).ln() + (hc - ha - hb) * (1.0 - z).ln();
        }
        let first = (a + b + x - 1.0) / (a - 1.0);
        let second = 1.0 - (ln_hyp + (r + x) * ((alpha + h.age) / (alpha + h.age + t)).ln()).exp();
        first * second * self.p_alive(h)
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::assert_gradient;
    use super::*;

    /// FHL 2005's CDNOW estimates.
    const CDNOW: BgNbd = BgNbd {
        r: 0.243,
        alpha: 4.414,
        a: 0.793,
        b: 2.426,
    };

    #[test]
    fn the_gradient_is_the_likelihood_s_slope() {
        let customers = [
            History {
                frequency: 2.0,
                recency: 30.43,
                age: 38.86,
            },
            History {
                frequency: 0.0,
                recency: 0.0,
                age: 38.86,
            },
            History {
                frequency: 7.0,
                recency: 29.43,
                age: 38.86,
            },
            History {
                frequency: 1.0,
                recency: 1.71,
                age: 38.86,
            },
        ];
        let model = |p: [f64; 4]| {
            let m = BgNbd {
                r: p[0],
                alpha: p[1],
                a: p[2],
                b: p[3],
            };
            m.log_likelihood(&customers)
        };
        assert_gradient(model, [CDNOW.r, CDNOW.alpha, CDNOW.a, CDNOW.b]);
    }

    #[test]
    fn value_is_spend_times_purchases_discounted_by_month() {
        let model = BgNbd {
            r: 0.243,
            alpha: 4.414,
            a: 0.793,
            b: 2.426,
        };
        let h = History {
            frequency: 3.0,
            recency: 30.0,
            age: 38.0,
        };
        let undiscounted = model.discounted_value(&h, 20.0, 52.0, 4.345, 0.0);
        let expected = 20.0 * model.expected_purchases(&h, 52.0);
        assert!((undiscounted / expected - 1.0).abs() < 1e-12);
        let discounted = model.discounted_value(&h, 20.0, 52.0, 4.345, 0.01);
        assert!(discounted < undiscounted && discounted > undiscounted / 1.01f64.powf(12.0));
        assert_eq!(model.discounted_value(&h, 20.0, 0.0, 4.345, 0.01), 0.0);
    }

    #[test]
    fn alive_and_expected_purchases_follow_the_history() {
        let h = |frequency, recency| History {
            frequency,
            recency,
            age: 38.86,
        };
        assert_eq!(CDNOW.p_alive(&h(0.0, 0.0)), 1.0);
        // A frequent buyer who stopped long ago is less likely alive than one who bought lately.
        assert!(CDNOW.p_alive(&h(5.0, 10.0)) < CDNOW.p_alive(&h(5.0, 38.0)));
        assert!(
            CDNOW.expected_purchases(&h(5.0, 38.0), 39.0)
                > CDNOW.expected_purchases(&h(1.0, 38.0), 39.0)
        );
        // Over no time nothing is expected; over more time, more.
        assert!(CDNOW.expected_purchases(&h(2.0, 30.0), 0.0).abs() < 1e-12);
        assert!(
            CDNOW.expected_purchases(&h(2.0, 30.0), 52.0)
                > CDNOW.expected_purchases(&h(2.0, 30.0), 26.0)
        );
    }
}
