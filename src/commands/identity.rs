//! `acrm identity`: why records are one customer (`explain`) and the pairs left for a
//! steward's decision (`review`), both read from the `identity_pairs` table.

use clap::{Args, Subcommand};

use crate::commands::query::{EngineArgs, ResultArgs, run_query};
use crate::context::runtime;

/// The columns both views show: the two records, the decision and each field's level.
const PAIR_COLUMNS: &str = "batch_date, system_a, source_id_a, customer_id_a, system_b, \
     source_id_b, customer_id_b, decision, round(match_probability, 4) AS probability, \
     round(match_weight, 2) AS weight, name_level, birth_date_level, phone_level, email_level, \
     id_number_level, address_level, city_level, gender_level";

/// Subcommands of `acrm identity`.
#[derive(Subcommand, Debug)]
pub enum IdentityCommand {
    /// The record pairs that made (or nearly made) a golden customer, strongest first, with
    /// the comparison level of every field.
    Explain(ExplainArgs),
    /// The pairs in the review band (below merge_probability, from review_probability),
    /// most likely first: candidates for a steward's must-link / cannot-link decision.
    Review(ReviewArgs),
}

/// Flags of `acrm identity explain`.
#[derive(Args, Debug)]
pub struct ExplainArgs {
    /// Golden customer id.
    customer_id: i64,
    #[command(flatten)]
    result: ResultArgs,
    #[command(flatten)]
    engine: EngineArgs,
}

/// Flags of `acrm identity review`.
#[derive(Args, Debug)]
pub struct ReviewArgs {
    /// Show at most this many pairs.
    #[arg(long, default_value_t = 100)]
    limit: u64,
    #[command(flatten)]
    result: ResultArgs,
    #[command(flatten)]
    engine: EngineArgs,
}

/// Runs `acrm identity`.
pub fn run(what: IdentityCommand) -> anyhow::Result<()> {
    let (sql, result, engine) = match what {
        // The id is a parsed integer, so it is safe to splice into the statement.
        IdentityCommand::Explain(a) => (
            format!(
                "SELECT {PAIR_COLUMNS} FROM identity_pairs WHERE customer_id_a = {id} \
                 OR customer_id_b = {id} ORDER BY match_weight DESC, system_a, source_id_a, \
                 system_b, source_id_b",
                id = a.customer_id
            ),
            a.result,
            a.engine,
        ),
        IdentityCommand::Review(a) => (
            format!(
                "SELECT {PAIR_COLUMNS} FROM identity_pairs WHERE decision = 'review' \
                 ORDER BY match_probability DESC, system_a, source_id_a, system_b, source_id_b \
                 LIMIT {}",
                a.limit
            ),
            a.result,
            a.engine,
        ),
    };
    let rt = runtime()?;
    let engine = engine.open_for_queries(rt)?;
    run_query(rt, &engine, &sql, &result)?;
    Ok(())
}
