//! Shared set-up of acrm's fuzz targets: the sample mapping the export targets read with,
//! and the in-process server the login target talks to. Each target in `fuzz_targets/`
//! states the property it checks beyond "no panic, no hang, bounded memory".

pub mod exports;
pub mod login;

use std::path::{Path, PathBuf};

/// The sample data folder of the repository (its `acrm.toml` is the mapping fuzzed with).
pub fn sample_data() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../sample-data"))
}

/// A scratch folder for this fuzzing process (`acrm-fuzz-<pid>`, in memory where the
/// machine has `/dev/shm`). libFuzzer ends a process without running destructors, so the
/// folders of processes no longer running are removed here instead.
pub fn scratch() -> PathBuf {
    let shm = Path::new("/dev/shm");
    let parent = if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    if let Ok(entries) = std::fs::read_dir(&parent) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().to_string();
            if let Some(pid) = name.strip_prefix("acrm-fuzz-")
                && !Path::new("/proc").join(pid).exists()
            {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
    }
    let dir = parent.join(format!("acrm-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a scratch folder for the fuzz target");
    dir
}
