//! Customer lifetime value with BG/NBD and Gamma-Gamma ([`crate::algo::clv`]), as of a date
//! D, in days.
//!
//! Per customer with a purchase on or before D, counted in purchase days (returns are not
//! purchases; several orders on one day are one purchase occasion, as lifetimes' summary of
//! transactions counts them):
//! - **frequency** = purchase days after the first; **recency** = days from the first to the
//!   last purchase day; **age** (T) = days from the first purchase to D;
//! - **avg_repeat_spend** = mean revenue of the repeat purchase days (the first purchase left
//!   out, as lifetimes' monetary value; 0 without repeat purchases).
//!
//! BG/NBD is fitted on every such customer and Gamma-Gamma on those with repeat purchases and
//! a positive mean. Each customer then gets P(alive at D), the purchases expected in the
//! horizon (default 365 days), the expected spend per purchase and the discounted value of
//! the horizon (month by month at a monthly discount rate, default 1%, as lifetimes does).
//! `mart_clv` holds the customers, `mart_clv_fit` the parameters and log-likelihoods.
//!
//! The holdout check ([`holdout`]) fits on the customers as of D − d, predicts the purchases
//! of (D − d, D] and sets them beside the actual ones, grouped by the calibration frequency.

pub mod fit;

pub(crate) use fit::histories_as_of;
pub use fit::{
    Clv, ClvOptions, HoldoutRow, Models, YEAR_DAYS, clv, clv_inputs_sql, discounted_years, holdout,
    value,
};

use super::registry::{Analysis, boxed};

/// Lifetime value, as registered for the nightly refresh.
pub const ANALYSIS: Analysis = Analysis {
    name: "clv",
    tables: &["mart_clv", "mart_clv_fit"],
    command: "acrm mine clv",
    needs_model: false,
    run: |cx| {
        boxed(async move {
            let c = cx.lifetime().await?;
            Ok(vec![
                ("mart_clv".into(), c.customers_batch()?),
                ("mart_clv_fit".into(), c.fit_batch()?),
            ])
        })
    },
    chart: None,
    section: None,
};
