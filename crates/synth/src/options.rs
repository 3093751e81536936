//! What to generate ([`GenerateOptions`]) and what was written ([`GenerateReport`]).

use std::path::PathBuf;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

/// What to generate.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct GenerateOptions {
    /// Number of real persons behind the customer records (default 2,000).
    pub customers: usize,
    /// Random seed; the same seed gives the same files.
    pub seed: u64,
    /// Years of history in night 1's exports (default 2).
    pub years: u32,
    /// Which night to write: 1 is the initial history export, 2.. are the following days.
    pub night: u32,
    /// Warehouse path written into the generated `acrm.toml`, relative to it.
    pub warehouse_path: String,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        Self {
            customers: 2_000,
            seed: 42,
            years: 2,
            night: 1,
            warehouse_path: "warehouse".into(),
        }
    }
}

/// What `generate` wrote, for the CLI to print.
#[derive(Debug, Clone, Serialize)]
pub struct GenerateReport {
    /// Output folder.
    pub out_dir: PathBuf,
    /// Night written.
    pub night: u32,
    /// Business date of that night's exports.
    pub batch_date: NaiveDate,
    /// Files written, relative to `out_dir`, with their data-row counts.
    pub files: Vec<(String, u64)>,
    /// Bad rows injected (also listed in `truth/`).
    pub bad_rows: u64,
}
