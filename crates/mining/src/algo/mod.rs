//! The kernels: k-means, CART, random forest, gradient-boosted trees, logistic regression,
//! optimal binning and credit scorecards, population stability, FP-Growth and association
//! rules, BG/NBD and Gamma-Gamma lifetime value, differences of proportions (campaign
//! uplift), train/test splits and the measures that check them. They take numbers (ndarray
//! matrices, dictionary-encoded baskets) and know nothing of SQL, Arrow or the warehouse,
//! so each can be tested, benchmarked and reused on its own.
//!
//! Hyper-parameters follow linfa: a `…Params` builder is checked ([`linfa::ParamGuard`])
//! into a `…ValidParams` that the kernel fits with, so a bad value is refused with its own
//! [`Error`] variant before any data is touched, and a fitted model records the checked
//! values it was trained with.

/// Writes the linfa-style pair of a kernel's parameters once per field: a getter on the
/// checked type, a setter on the unchecked newtype around it (both with the field's doc), and
/// the [`ParamGuard`] that checks with `validate` (`fn(&Valid) -> Result<()>`, one error
/// variant per bad field). The types, their defaults and `validate` are written by hand
/// beside it.
macro_rules! params {
    ($params:ident => $valid:ident, validate: $validate:ident,
     $($(#[doc = $doc:literal])* $field:ident: $ty:ty,)*) => {
        impl $valid {
            $(
                $(#[doc = $doc])*
                pub fn $field(&self) -> $ty {
                    self.$field
                }
            )*
        }

        impl $params {
            $(
                $(#[doc = $doc])*
                ///
                /// (Sets it; [`ParamGuard::check`] says whether it can work.)
                pub fn $field(mut self, $field: $ty) -> Self {
                    self.0.$field = $field;
                    self
                }
            )*
        }

        impl ParamGuard for $params {
            type Checked = $valid;
            type Error = Error;

            fn check_ref(&self) -> Result<&$valid> {
                $validate(&self.0)?;
                Ok(&self.0)
            }

            fn check(self) -> Result<$valid> {
                $validate(&self.0)?;
                Ok(self.0)
            }
        }
    };
}

pub mod binning;
pub mod cart;
pub mod clv;
mod error;
pub mod forest;
pub mod fpgrowth;
pub mod gbdt;
pub mod kmeans;
pub mod logistic;
pub mod metrics;
pub mod partition;
pub mod proportions;
pub mod rules;
pub mod scorecard;
pub mod split;
pub mod stability;
pub mod transactions;

pub use error::{Error, Result};
pub use linfa::ParamGuard;

/// The logistic function: P(positive) of log-odds `z` (logistic regression, boosted trees).
fn sigmoid(z: f64) -> f64 {
    1.0 / (1.0 + (-z).exp())
}

/// A well-mixed number in 0..100 for row `r` (SplitMix64's finaliser): label noise for tests
/// that does not repeat with any pattern of the rows.
#[cfg(test)]
fn noise(r: usize) -> u64 {
    let mut z = (r as u64)
        .wrapping_add(1)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    (z ^ (z >> 31)) % 100
}

/// Whether `value` is a finite number ≥ 0 (tolerances, penalties, pruning strengths).
fn finite_non_negative(value: f64) -> bool {
    value.is_finite() && value >= 0.0
}

#[cfg(test)]
mod tests {
    /// The kernels stay free of the warehouse: no file under `algo/` names the OLAP layer,
    /// the store, DataFusion/Arrow, or the analysis and model layers above them.
    #[test]
    fn kernels_import_nothing_of_the_warehouse() {
        fn visit(dir: &std::path::Path, found: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).expect("algo folder") {
                let path = entry.expect("entry").path();
                if path.is_dir() {
                    visit(&path, found);
                    continue;
                }
                let text = std::fs::read_to_string(&path).expect("source");
                for forbidden in [
                    "acrm_",
                    "datafusion",
                    "arrow",
                    "crate::analysis",
                    "crate::model",
                    "crate::Error",
                    "crate::Result",
                ] {
                    if text.contains(forbidden) {
                        found.push(format!("{} uses {forbidden}", path.display()));
                    }
                }
            }
        }
        let mut found = Vec::new();
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/algo");
        visit(&root, &mut found);
        // This file names them in the list above.
        found.retain(|f| !f.contains("algo/mod.rs"));
        assert!(found.is_empty(), "{found:#?}");
    }
}
