//! What an analysis run by the nightly refresh is given ([`Context`]): the version, the
//! as-of date, the model registry, and the inputs several analyses share.

use acrm_olap::Engine;
use chrono::NaiveDate;

use super::basket::mine::{BasketOptions, GroupResult};
use super::basket::source::{BasketQuery, BasketUnit, ItemLevel, warehouse_baskets};
use super::clv::fit::{Clv, ClvOptions, clv};
use super::features::{FeatureTable, customer_features};
use crate::model::registry::Registry;
use crate::{Error, Result};

/// What an analysis run by the refresh is given: the version, the as-of date, the model
/// registry, and the inputs several analyses share, computed once per refresh.
pub struct Context<'a> {
    /// The version being refreshed.
    pub engine: &'a Engine,
    /// The last sale of the version: every analysis runs as of it.
    pub as_of: NaiveDate,
    /// k of the segmentation (`[marts] segment_k`), or by silhouette.
    pub segment_k: Option<usize>,
    /// The champions that score `churn_score` / `credit_score`.
    pub models: &'a Registry,
    /// Customer features (`rfm`, `segment`).
    features: Option<FeatureTable>,
    /// The association rules of every order up to the last sale (`basket`, `cross_sell`).
    rules: Option<GroupResult>,
    /// BG/NBD + Gamma-Gamma lifetime value as of the last sale (`clv`, `value`).
    lifetime: Option<Clv>,
}

impl<'a> Context<'a> {
    /// A context for the version `engine` reads, as of `as_of`, nothing computed yet.
    pub fn new(
        engine: &'a Engine,
        as_of: NaiveDate,
        segment_k: Option<usize>,
        models: &'a Registry,
    ) -> Self {
        Self {
            engine,
            as_of,
            segment_k,
            models,
            features: None,
            rules: None,
            lifetime: None,
        }
    }
}

impl Context<'_> {
    /// The baskets the nightly refresh mines: every order up to `as_of`, items at
    /// subcategory level.
    pub fn baskets(&self) -> BasketQuery {
        BasketQuery {
            by: None,
            customers: None,
            unit: BasketUnit::Order,
            level: ItemLevel::Subcategory,
            from: None,
            to: Some(self.as_of),
        }
    }

    /// The customer features as of `as_of`, computed on first use.
    pub async fn features(&mut self) -> Result<&FeatureTable> {
        if self.features.is_none() {
            self.features = Some(customer_features(self.engine, self.as_of).await?);
        }
        self.features
            .as_ref()
            .ok_or_else(|| Error::Invalid("customer features".into()))
    }

    /// The association rules of [`Context::baskets`] under the default thresholds,
    /// computed on first use.
    pub async fn rules(&mut self) -> Result<&GroupResult> {
        if self.rules.is_none() {
            let groups = warehouse_baskets(self.engine, &self.baskets()).await?;
            self.rules = BasketOptions::DEFAULT.mine(groups)?.into_iter().next();
        }
        self.rules
            .as_ref()
            .ok_or_else(|| Error::Invalid("no baskets to analyse".into()))
    }

    /// Every customer's lifetime value as of `as_of` under the default horizon and
    /// discount, fitted on first use.
    pub async fn lifetime(&mut self) -> Result<&Clv> {
        if self.lifetime.is_none() {
            self.lifetime = Some(clv(self.engine, self.as_of, &ClvOptions::default()).await?);
        }
        self.lifetime
            .as_ref()
            .ok_or_else(|| Error::Invalid("lifetime value".into()))
    }
}
