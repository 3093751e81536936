//! The registry's types: what an analysis declares about itself ([`Analysis`]) — its marts,
//! how the nightly refresh runs it, its chart and its HTML report section.

use std::future::Future;
use std::pin::Pin;

use datafusion::arrow::array::RecordBatch;

use super::context::Context;
use crate::Result;

/// The marts one run of an analysis produced: (table name, rows).
pub type Tables = Vec<(String, RecordBatch)>;

/// How the nightly refresh runs an analysis: with its library defaults, as of
/// [`Context::as_of`], sharing what other analyses of the same refresh computed.
pub type Run =
    for<'a, 'b> fn(&'a mut Context<'b>) -> Pin<Box<dyn Future<Output = Result<Tables>> + 'a>>;

/// The kinds of chart an analysis draws (drawn by `acrm_report::figures::draw`, which knows
/// the plotting; the analysis says which one and from which columns).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Figure {
    /// RFM heat map: mean monetary value by recency and frequency score.
    RfmHeatmap,
    /// Segment profiles: each segment's standardised feature means.
    SegmentProfiles,
    /// Pareto curve of the revenue column.
    Pareto,
    /// Bars counting the rows by `column`.
    CountsBy {
        /// The column counted.
        column: &'static str,
        /// Chart title.
        title: &'static str,
    },
    /// Support against confidence of the `top` rules by lift.
    RulesScatter {
        /// Rules drawn.
        top: usize,
    },
    /// Distribution of churn probabilities by risk band.
    ChurnDistribution,
    /// Credit score by known outcome.
    CreditScoreByOutcome,
    /// Conversion rate of each campaign's contacted and control groups, side by side.
    CampaignUplift,
    /// Mean response probability of each score decile.
    ResponseDeciles,
}

/// An analysis's chart: which mart it is drawn from, and how.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Chart {
    /// The mart whose rows it draws.
    pub table: &'static str,
    /// The kind of chart.
    pub figure: Figure,
    /// The query the HTML report draws it from (the columns it needs).
    pub sql: &'static str,
}

/// An analysis's section of the HTML report: its chart over the mart, a summary table, and
/// a line saying how to compute the mart when the version lacks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Section {
    /// Section title.
    pub title: &'static str,
    /// What the section shows, when the chart and table do not say.
    pub text: Option<&'static str>,
    /// The summary table's title and query.
    pub table: (&'static str, &'static str),
}

/// An analysis that publishes marts.
#[derive(Debug, Clone, Copy)]
pub struct Analysis {
    /// Its name in `[marts] refresh`, `tables.toml` and the mart lineage.
    pub name: &'static str,
    /// The marts it publishes, as declared in `tables.toml`.
    pub tables: &'static [&'static str],
    /// The command that computes it by hand.
    pub command: &'static str,
    /// Scores with the champion model of the registry (train one first with
    /// `acrm mine churn|credit train`).
    pub needs_model: bool,
    /// How the nightly refresh runs it.
    pub run: Run,
    /// Its chart, if it has one.
    pub chart: Option<Chart>,
    /// Its section of the HTML report (drawn with `chart`), if it has one.
    pub section: Option<Section>,
}

impl Analysis {
    /// `batches` named after [`Analysis::tables`], in order: one batch per mart.
    pub fn named(&self, batches: Vec<RecordBatch>) -> Result<Tables> {
        if batches.len() != self.tables.len() {
            return Err(crate::Error::Invalid(format!(
                "{} publishes {} tables, not {}",
                self.name,
                self.tables.len(),
                batches.len()
            )));
        }
        Ok(self
            .tables
            .iter()
            .map(|t| t.to_string())
            .zip(batches)
            .collect())
    }
}

/// Boxes an analysis's nightly run as a [`Run`] future.
pub(crate) fn boxed<'a>(
    run: impl Future<Output = Result<Tables>> + 'a,
) -> Pin<Box<dyn Future<Output = Result<Tables>> + 'a>> {
    Box::pin(run)
}
