//! Crash points for the crash trials (`tests/reliability.rs`): with `ACRM_CRASH_AT=<name>` in
//! its environment, a writer kills itself with SIGKILL when it reaches the named step, so
//! the trials can stop a writer exactly at a step instead of hoping a random signal lands in
//! a window of a few milliseconds: the build after staging a file (`build:staged`) and after
//! refreshing its marts (`build:marts-derived`) and its aggregates
//! (`build:aggregates-refreshed`), any writer after a Parquet file is written
//! and synced (`parquet:written`), a publish between its steps (`publish:sealed`, `…:
//! manifest-written`, `…:renamed`, `…:linked`, `…:switched`, `…:pruning`,
//! `prune:half-removed`), a model save (`registry:linked`, `registry:champions-written`).
//! Without the variable a point costs one environment lookup.

/// The environment variable naming the step to die at.
pub const CRASH_AT: &str = "ACRM_CRASH_AT";

/// Dies by SIGKILL (no destructors, no flushing: as a power cut or the OOM killer would
/// leave things) if `ACRM_CRASH_AT` names `step`.
pub fn point(step: &str) {
    if std::env::var_os(CRASH_AT).is_some_and(|v| v == step) {
        tracing::warn!(step, "crash point reached: killing this process");
        let pid = std::process::id().to_string();
        // `unsafe_code` is forbidden in the workspace, so no libc::kill: the same signal,
        // sent by kill(1).
        let _ = std::process::Command::new("kill")
            .args(["-KILL", &pid])
            .status();
        loop {
            std::thread::sleep(std::time::Duration::from_secs(1));
        }
    }
}
