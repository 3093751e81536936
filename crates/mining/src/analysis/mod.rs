//! The CRM analyses: each reads the warehouse through the OLAP layer as of a date and
//! turns kernel results into marts.
//!
//! [`ANALYSES`] is the registry: every analysis that publishes marts declares itself once,
//! as a constant [`Analysis`] in its own module — its name (the one
//! `warehouse-schema/tables.toml` gives its marts as `analysis = "…"`, and `[marts] refresh`
//! uses), the marts it writes, how the nightly refresh runs it, its chart and its section of
//! the HTML report. The refresh, the config check, `acrm mine --chart` and the report
//! iterate the registry; a test keeps it and the schema in step.

pub mod alerts;
pub mod basket;
pub mod churn;
pub mod credit;
pub mod features;
pub mod lifecycle;
pub mod refresh;
pub mod rfm;
pub mod segment;
pub mod value;

use std::future::Future;
use std::pin::Pin;

use datafusion::arrow::array::RecordBatch;

use crate::Result;
pub use refresh::Context;

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

/// Every analysis that publishes marts, in the order of `tables.toml` (the order the
/// nightly refresh runs them and the report shows them).
pub const ANALYSES: &[Analysis] = &[
    rfm::ANALYSIS,
    segment::ANALYSIS,
    value::ANALYSIS,
    lifecycle::ANALYSIS,
    alerts::ANALYSIS,
    basket::ANALYSIS,
    basket::recommend::ANALYSIS,
    churn::ANALYSIS,
    credit::ANALYSIS,
];

/// The registered analysis called `name`.
pub fn analysis(name: &str) -> Option<&'static Analysis> {
    ANALYSES.iter().find(|a| a.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_registry_and_the_declared_marts_agree() {
        let schema = acrm_schema::WarehouseSchema::builtin().expect("schema");
        let names: Vec<&str> = ANALYSES.iter().map(|a| a.name).collect();
        assert_eq!(names, schema.analyses(), "same analyses, same order");
        for a in ANALYSES {
            let declared: Vec<&str> = schema
                .marts()
                .filter(|t| t.analysis.as_deref() == Some(a.name))
                .map(|t| t.name.as_str())
                .collect();
            assert_eq!(a.tables, declared.as_slice(), "{}", a.name);
        }
    }

    #[test]
    fn charts_and_sections_belong_to_their_analysis() {
        for a in ANALYSES {
            if let Some(chart) = a.chart {
                assert!(
                    a.tables.contains(&chart.table),
                    "{}: {}",
                    a.name,
                    chart.table
                );
                assert!(chart.sql.contains(chart.table), "{}: {}", a.name, chart.sql);
            }
            assert!(
                a.section.is_none() || a.chart.is_some(),
                "{}: a report section is drawn with the analysis's chart",
                a.name
            );
            assert_eq!(analysis(a.name).map(|found| found.name), Some(a.name));
        }
        assert!(analysis("nonsense").is_none());
    }
}
