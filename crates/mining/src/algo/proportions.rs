//! Comparing two proportions — a campaign's conversion rate in its contacted group against
//! its control group: the difference with Newcombe's hybrid score interval, and the pooled
//! two-proportion z-test.
//!
//! The plain Wald interval (p₁ − p₂ ± z·√(p₁q₁/n₁ + p₂q₂/n₂)) is what most tools print, but
//! it collapses to a point when a group has no conversions and undercovers with small control
//! groups. Newcombe's method 10 (Newcombe 1998, "Interval estimation for the difference
//! between independent proportions") combines the Wilson score interval of each rate and
//! keeps close to its nominal coverage at any size; it is what R's `DescTools::BinomDiffCI`
//! calls "score" and statsmodels' `confint_proportions_2indep(method="newcomb")`.

use statrs::function::erf::erfc;

use super::{Error, Result};

/// z of a two-sided 95% interval.
pub const Z95: f64 = 1.959_963_984_540_054;

/// Successes out of trials in one group.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Proportion {
    /// Successes (conversions).
    pub successes: u64,
    /// Trials (customers in the group).
    pub trials: u64,
}

impl Proportion {
    /// `successes` of `trials`; an error when there are more successes than trials or no
    /// trials (a rate of nothing).
    pub fn new(successes: u64, trials: u64) -> Result<Self> {
        if trials == 0 || successes > trials {
            return Err(Error::Data(format!(
                "a proportion needs 0 ≤ successes ≤ trials and trials > 0, got {successes} of {trials}"
            )));
        }
        Ok(Self { successes, trials })
    }

    /// The observed rate.
    pub fn rate(&self) -> f64 {
        self.successes as f64 / self.trials as f64
    }

    /// Wilson's score interval of the rate at `z`.
    pub fn wilson(&self, z: f64) -> (f64, f64) {
        let (n, p) = (self.trials as f64, self.rate());
        let z2 = z * z;
        let centre = (p + z2 / (2.0 * n)) / (1.0 + z2 / n);
        let half = z / (1.0 + z2 / n) * (p * (1.0 - p) / n + z2 / (4.0 * n * n)).sqrt();
        ((centre - half).max(0.0), (centre + half).min(1.0))
    }
}

/// The difference of two rates, `a` − `b`, with its interval and test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Difference {
    /// a's rate − b's rate.
    pub estimate: f64,
    /// Newcombe's hybrid score interval at the z given.
    pub interval: (f64, f64),
    /// Pooled two-proportion z statistic.
    pub z: f64,
    /// Two-sided p-value of z (1 when both groups have the same rate of 0 or 1).
    pub p_value: f64,
}

/// The standard normal distribution function.
pub fn normal_cdf(x: f64) -> f64 {
    0.5 * erfc(-x / std::f64::consts::SQRT_2)
}

/// `a`'s rate − `b`'s rate with Newcombe's interval at `z` and the pooled z-test.
pub fn difference(a: Proportion, b: Proportion, z: f64) -> Difference {
    let (pa, pb) = (a.rate(), b.rate());
    let ((la, ua), (lb, ub)) = (a.wilson(z), b.wilson(z));
    let estimate = pa - pb;
    let lower = estimate - ((pa - la).powi(2) + (ub - pb).powi(2)).sqrt();
    let upper = estimate + ((ua - pa).powi(2) + (pb - lb).powi(2)).sqrt();
    let (na, nb) = (a.trials as f64, b.trials as f64);
    let pooled = (a.successes + b.successes) as f64 / (na + nb);
    let se = (pooled * (1.0 - pooled) * (1.0 / na + 1.0 / nb)).sqrt();
    let (z_stat, p_value) = if se > 0.0 {
        let z_stat = estimate / se;
        (z_stat, 2.0 * (1.0 - normal_cdf(z_stat.abs())))
    } else {
        (0.0, 1.0)
    };
    Difference {
        estimate,
        interval: (lower, upper),
        z: z_stat,
        p_value,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: u64, n: u64) -> Proportion {
        Proportion::new(s, n).expect("valid")
    }

    #[test]
    fn wilson_matches_the_published_values() {
        // Newcombe (1998), Table I: 81/263 → 0.2553 to 0.3662 (Wilson, no continuity
        // correction); 0/10 → 0 to 0.2775.
        let (l, u) = p(81, 263).wilson(Z95);
        assert!(
            (l - 0.2553).abs() < 5e-5 && (u - 0.3662).abs() < 5e-5,
            "{l} {u}"
        );
        let (l, u) = p(0, 10).wilson(Z95);
        assert!(l == 0.0 && (u - 0.2775).abs() < 5e-5, "{u}");
    }

    #[test]
    fn newcombe_difference_matches_the_published_examples() {
        // Newcombe (1998), Table II, method 10: 56/70 − 48/80 → 0.0524 to 0.3339;
        // 9/10 − 3/10 → 0.1705 to 0.8090; 5/56 − 0/29 → −0.0381 to 0.1926.
        for ((a, b), (lo, hi)) in [
            ((p(56, 70), p(48, 80)), (0.0524, 0.3339)),
            ((p(9, 10), p(3, 10)), (0.1705, 0.8090)),
            ((p(5, 56), p(0, 29)), (-0.0381, 0.1926)),
        ] {
            let d = difference(a, b, Z95);
            assert!(
                (d.interval.0 - lo).abs() < 5e-5 && (d.interval.1 - hi).abs() < 5e-5,
                "{:?} vs {lo} {hi}",
                d.interval
            );
        }
    }

    #[test]
    fn the_z_test_and_its_edges() {
        // 56/70 vs 48/80: pooled p = 104/150, z = 0.2 / √(p(1−p)(1/70 + 1/80)) ≈ 2.6.
        let d = difference(p(56, 70), p(48, 80), Z95);
        let pooled: f64 = 104.0 / 150.0;
        let z = 0.2 / (pooled * (1.0 - pooled) * (1.0 / 70.0 + 1.0 / 80.0)).sqrt();
        assert!((d.z - z).abs() < 1e-12);
        assert!((d.p_value - 2.0 * (1.0 - normal_cdf(z))).abs() < 1e-12);
        assert!((normal_cdf(Z95) - 0.975).abs() < 1e-9);
        // Nobody converted anywhere: no difference, no evidence, an interval around 0.
        let d = difference(p(0, 20), p(0, 5), Z95);
        assert_eq!((d.estimate, d.z, d.p_value), (0.0, 0.0, 1.0));
        assert!(d.interval.0 < 0.0 && d.interval.1 > 0.0);
        assert!(Proportion::new(3, 2).is_err() && Proportion::new(0, 0).is_err());
    }
}
