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
pub mod campaign;
pub mod churn;
pub mod clv;
pub mod context;
pub mod credit;
pub mod dormant;
pub mod features;
pub mod lifecycle;
pub mod monitoring;
pub mod refresh;
pub mod registry;
pub mod response;
pub mod rfm;
pub mod segment;
pub mod value;

pub use context::Context;
pub use registry::{Analysis, Chart, Figure, Run, Section, Tables};

/// Every analysis that publishes marts, in the order of `tables.toml` (the order the
/// nightly refresh runs them and the report shows them).
pub const ANALYSES: &[Analysis] = &[
    rfm::ANALYSIS,
    segment::ANALYSIS,
    clv::ANALYSIS,
    value::ANALYSIS,
    lifecycle::ANALYSIS,
    dormant::ANALYSIS,
    alerts::ANALYSIS,
    campaign::ANALYSIS,
    campaign::target::ANALYSIS,
    basket::ANALYSIS,
    basket::recommend::ANALYSIS,
    churn::ANALYSIS,
    response::ANALYSIS,
    credit::ANALYSIS,
    monitoring::ANALYSIS,
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
