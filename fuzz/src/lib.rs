//! Shared set-up of acrm's fuzz targets: the sample mapping the export targets read with,
//! and the in-process server the login target talks to. Each target in `fuzz_targets/`
//! states the property it checks beyond "no panic, no hang, bounded memory".

pub mod exports;
pub mod login;

use std::path::PathBuf;

/// The sample data folder of the repository (its `acrm.toml` is the mapping fuzzed with).
pub fn sample_data() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../sample-data"))
}

/// A scratch folder for one fuzzing process, in memory where the machine has `/dev/shm`.
pub fn scratch() -> tempfile::TempDir {
    let shm = std::path::Path::new("/dev/shm");
    let builder = tempfile::Builder::new()
        .prefix("acrm-fuzz-")
        .tempdir_in(shm);
    builder
        .or_else(|_| tempfile::tempdir())
        .expect("a scratch folder for the fuzz target")
}
