//! The audit log: one JSON line per statement with when, who (user, role), what kind of
//! statement, a fingerprint of its text, how long it took, how many rows it returned and
//! how it ended. Never the statement text, parameter values or any result value: those may
//! hold personal data. The fingerprint (BLAKE3 of the text, 16 hex digits) lets an operator
//! match repeated statements without reading them.

use std::io::Write;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::{Error, Result};

/// Where audit lines go.
pub struct AuditLog {
    sink: Mutex<Box<dyn Write + Send>>,
}

impl std::fmt::Debug for AuditLog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AuditLog")
    }
}

/// How a statement ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Completed; every row sent.
    Ok,
    /// Refused before running (read-only rule).
    Refused,
    /// Failed (planning or execution error, memory limit).
    Error,
    /// Hit the statement timeout.
    Timeout,
    /// The client stopped reading (disconnected or cancelled) before the last row.
    Abandoned,
}

impl Outcome {
    fn name(self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Refused => "refused",
            Outcome::Error => "error",
            Outcome::Timeout => "timeout",
            Outcome::Abandoned => "abandoned",
        }
    }
}

/// A 16-hex-digit fingerprint of statement text.
pub fn fingerprint(sql: &str) -> String {
    blake3::hash(sql.trim().as_bytes()).to_hex()[..16].to_string()
}

/// One statement being audited; written once, when it ends (or is dropped unfinished).
#[derive(Debug)]
pub struct Entry {
    log: Arc<AuditLog>,
    started: Instant,
    user: String,
    role: String,
    kind: String,
    fingerprint: String,
    version: Option<u64>,
    written: bool,
}

impl AuditLog {
    /// Appends to `path` (created if missing), or writes to standard error when None.
    pub fn open(path: Option<&Path>) -> Result<Self> {
        let sink: Box<dyn Write + Send> = match path {
            Some(p) => Box::new(
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(p)
                    .map_err(|source| Error::Io {
                        path: p.into(),
                        source,
                    })?,
            ),
            None => Box::new(std::io::stderr()),
        };
        Ok(Self {
            sink: Mutex::new(sink),
        })
    }

    /// Starts the entry of one statement of `user` in `role`.
    pub fn start(self: &Arc<Self>, user: &str, role: &str, kind: &str, sql: &str) -> Entry {
        Entry {
            log: self.clone(),
            started: Instant::now(),
            user: user.into(),
            role: role.into(),
            kind: kind.into(),
            fingerprint: fingerprint(sql),
            version: None,
            written: false,
        }
    }

    fn write(&self, line: &str) {
        match self.sink.lock() {
            Ok(mut sink) => {
                if let Err(e) = writeln!(sink, "{line}").and_then(|()| sink.flush()) {
                    tracing::error!(error = %e, "cannot write the audit log");
                }
            }
            Err(_) => tracing::error!("audit log lock poisoned"),
        }
    }
}

impl Entry {
    /// Records the warehouse version the statement reads.
    pub fn set_version(&mut self, version: u64) {
        self.version = Some(version);
    }

    /// Time since the statement started.
    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Writes the line: `rows` returned, `outcome`, and the SQLSTATE of a failure.
    pub fn finish(&mut self, rows: u64, outcome: Outcome, sqlstate: Option<&str>) {
        if self.written {
            return;
        }
        self.written = true;
        let line = serde_json::json!({
            "time": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            "user": self.user,
            "role": self.role,
            "statement": self.kind,
            "fingerprint": self.fingerprint,
            "version": self.version,
            "duration_ms": (self.started.elapsed().as_secs_f64() * 1e3 * 1000.0).round() / 1000.0,
            "rows": rows,
            "outcome": outcome.name(),
            "sqlstate": sqlstate,
        });
        self.log.write(&line.to_string());
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        // Never finished: the response stream was dropped before its end.
        self.finish(0, Outcome::Abandoned, None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_hold_who_what_kind_and_outcome_but_never_the_text() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("audit.jsonl");
        let log = Arc::new(AuditLog::open(Some(&path)).expect("open"));
        let sql = "SELECT * FROM dim_customer WHERE email = 'jane@example.com'";
        let mut e = log.start("alice", "analyst", "SELECT *", sql);
        e.set_version(7);
        e.finish(3, Outcome::Ok, None);
        drop(e);
        drop(log.start("bob", "east", "SELECT count(*)", "SELECT 1"));
        let text = std::fs::read_to_string(&path).expect("read");
        let lines: Vec<serde_json::Value> = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("json"))
            .collect();
        assert_eq!(lines.len(), 2, "{text}");
        assert_eq!(lines[0]["user"], "alice");
        assert_eq!(lines[0]["rows"], 3);
        assert_eq!(lines[0]["version"], 7);
        assert_eq!(lines[0]["fingerprint"], fingerprint(sql));
        assert_eq!(lines[1]["outcome"], "abandoned");
        assert!(!text.contains("jane"), "{text}");
    }
}
