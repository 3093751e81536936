//! The server's configuration file: where to listen, limits, TLS, the audit log, roles and
//! users. Nothing has a default login: a server without users refuses to start.
//!
//! ```toml
//! [server]
//! listen = "127.0.0.1:5433"
//! database = "acrm"                  # the name clients connect to (dbname=acrm)
//! max_connections = 64
//! statement_timeout_seconds = 300
//! query_memory_mib = 2048
//! login_timeout_seconds = 10
//! max_pending_logins = 128             # connections not logged in yet, server-wide
//! max_pending_logins_per_address = 16
//! max_message_mib = 16                 # largest message after login (10,000 bytes before)
//! # tls_certificate = "server.crt"   # both or neither; startup fails if they cannot be loaded
//! # tls_key = "server.key"
//! # audit_log = "audit.jsonl"         # default: standard error
//!
//! [roles.analyst]                     # PII masked, every row
//! [roles.steward]
//! privileged = true                   # PII unmasked
//! [roles.east]
//! scope = { level = "region", values = ["East"] }
//!
//! [users.alice]
//! role = "analyst"
//! password = "SCRAM-SHA-256$4096:…"   # from `acrm hash-password`
//! ```

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use acrm_olap::RowScope;
use serde::Deserialize;

use crate::scram::Verifier;
use crate::{Error, Result};

/// Listener, limits and logging.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerSection {
    /// Address to listen on. Default 127.0.0.1:5433 (loopback only).
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// The database name clients connect to (`dbname`), what `current_database()` returns
    /// and the catalog `information_schema` names; a connection asking for another
    /// database is refused (SQLSTATE 3D000), as PostgreSQL does. Default `acrm`.
    #[serde(default = "default_database")]
    pub database: String,
    /// Connections served at once; more are refused with SQLSTATE 53300. Default 64.
    #[serde(default = "default_max_connections")]
    pub max_connections: usize,
    /// Longest a statement may run, planning and streaming its rows included; a session's
    /// `SET statement_timeout` may only lower it. Default 300.
    #[serde(default = "default_timeout")]
    pub statement_timeout_seconds: u64,
    /// Memory one query may hold, in MiB (operators that can spill do so past it, others
    /// fail the query; rows on their way to the client count too). Default 2048.
    #[serde(default = "default_query_memory")]
    pub query_memory_mib: usize,
    /// Seconds a connection has from its first byte to a completed login; past it the
    /// connection is closed. Default 10.
    #[serde(default = "default_login_timeout")]
    pub login_timeout_seconds: u64,
    /// Connections not logged in yet, server-wide; more are closed at once. They do not
    /// take one of the `max_connections` slots, which are for logged-in sessions. Default 128.
    #[serde(default = "default_pending_logins")]
    pub max_pending_logins: usize,
    /// Connections not logged in yet from one client address; more are closed at once, so
    /// one address cannot keep everyone else from logging in. Default 16.
    #[serde(default = "default_pending_per_address")]
    pub max_pending_logins_per_address: usize,
    /// Largest message a logged-in client may send, in MiB (a statement's text, a Bind's
    /// parameters). Before login the limit is 10,000 bytes, as in PostgreSQL. Default 16.
    #[serde(default = "default_max_message")]
    pub max_message_mib: usize,
    /// PEM certificate chain for TLS.
    pub tls_certificate: Option<PathBuf>,
    /// PEM private key (PKCS#8, PKCS#1 or SEC1) for TLS.
    pub tls_key: Option<PathBuf>,
    /// File the audit lines are appended to (default: standard error).
    pub audit_log: Option<PathBuf>,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 5433))
}
fn default_database() -> String {
    acrm_olap::DEFAULT_CATALOG.to_string()
}
fn default_max_connections() -> usize {
    64
}
fn default_timeout() -> u64 {
    300
}
fn default_query_memory() -> usize {
    2048
}
fn default_login_timeout() -> u64 {
    10
}
fn default_pending_logins() -> usize {
    128
}
fn default_pending_per_address() -> usize {
    16
}
fn default_max_message() -> usize {
    16
}

impl Default for ServerSection {
    fn default() -> Self {
        Self {
            listen: default_listen(),
            database: default_database(),
            max_connections: default_max_connections(),
            statement_timeout_seconds: default_timeout(),
            query_memory_mib: default_query_memory(),
            login_timeout_seconds: default_login_timeout(),
            max_pending_logins: default_pending_logins(),
            max_pending_logins_per_address: default_pending_per_address(),
            max_message_mib: default_max_message(),
            tls_certificate: None,
            tls_key: None,
            audit_log: None,
        }
    }
}

impl ServerSection {
    /// The statement timeout as a duration.
    pub fn statement_timeout(&self) -> Duration {
        Duration::from_secs(self.statement_timeout_seconds)
    }

    /// The login timeout as a duration.
    pub fn login_timeout(&self) -> Duration {
        Duration::from_secs(self.login_timeout_seconds)
    }

    /// The largest message after login, in bytes.
    pub fn max_message_bytes(&self) -> usize {
        self.max_message_mib.saturating_mul(1 << 20)
    }
}

/// What a role may see.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Role {
    /// See PII unmasked.
    #[serde(default)]
    pub privileged: bool,
    /// Only the rows of this part of the branch hierarchy (None: every row).
    pub scope: Option<RowScope>,
}

/// One login.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserEntry {
    role: String,
    password: String,
}

/// A login with its role and password verifier.
#[derive(Debug, Clone)]
pub struct User {
    /// Name of its role in [`ServeConfig::roles`].
    pub role: String,
    /// SCRAM-SHA-256 verifier of its password.
    pub verifier: Verifier,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    server: ServerSection,
    #[serde(default)]
    roles: BTreeMap<String, Role>,
    #[serde(default)]
    users: BTreeMap<String, UserEntry>,
}

/// The whole, checked configuration.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Listener, limits, logging.
    pub server: ServerSection,
    /// Roles by name.
    pub roles: BTreeMap<String, Role>,
    /// Users by name.
    pub users: BTreeMap<String, User>,
}

impl ServeConfig {
    /// Reads and checks the file at `path`.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            path: path.into(),
            source,
        })?;
        Self::parse(&text).map_err(|e| Error::Config(format!("{}: {e}", path.display())))
    }

    /// Parses and checks configuration text: every user has a known role and a SCRAM
    /// verifier (never a plain password), scopes name at least one value, TLS has both files.
    pub fn parse(text: &str) -> Result<Self> {
        let file: File = toml::from_str(text).map_err(|e| Error::Config(e.to_string()))?;
        for (name, role) in &file.roles {
            if role.scope.as_ref().is_some_and(|s| s.values.is_empty()) {
                return Err(Error::Config(format!(
                    "role '{name}': scope.values names no region, province, city or branch"
                )));
            }
        }
        let mut users = BTreeMap::new();
        for (name, entry) in file.users {
            if !file.roles.contains_key(&entry.role) {
                return Err(Error::Config(format!(
                    "user '{name}': role '{}' is not defined under [roles]",
                    entry.role
                )));
            }
            let verifier = Verifier::parse(&entry.password)
                .map_err(|e| Error::Config(format!("user '{name}': {e}")))?;
            users.insert(
                name,
                User {
                    role: entry.role,
                    verifier,
                },
            );
        }
        if users.is_empty() {
            return Err(Error::Config(
                "no [users.NAME] defined: the server has no default login".into(),
            ));
        }
        if file.server.tls_certificate.is_some() != file.server.tls_key.is_some() {
            return Err(Error::Config(
                "TLS needs both tls_certificate and tls_key".into(),
            ));
        }
        let s = &file.server;
        if s.database.is_empty() || s.database.len() > 63 || s.database.contains('\0') {
            return Err(Error::Config(format!(
                "database '{}': a database name has 1 to 63 characters",
                s.database
            )));
        }
        for (name, value) in [
            ("max_connections", s.max_connections),
            ("max_pending_logins", s.max_pending_logins),
            (
                "max_pending_logins_per_address",
                s.max_pending_logins_per_address,
            ),
            ("max_message_mib", s.max_message_mib),
            ("login_timeout_seconds", s.login_timeout_seconds as usize),
            (
                "statement_timeout_seconds",
                s.statement_timeout_seconds as usize,
            ),
        ] {
            if value == 0 {
                return Err(Error::Config(format!("{name} must be at least 1")));
            }
        }
        Ok(Self {
            server: file.server,
            roles: file.roles,
            users,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verifier() -> String {
        Verifier::new("pw", 4096).expect("verifier").to_text()
    }

    #[test]
    fn a_complete_file_parses_with_defaults() {
        let text = format!(
            "[roles.analyst]\n[roles.east]\nscope = {{ level = \"region\", values = [\"East\"] }}\n\
             [users.alice]\nrole = \"analyst\"\npassword = \"{v}\"\n\
             [users.erin]\nrole = \"east\"\npassword = \"{v}\"\n",
            v = verifier()
        );
        let c = ServeConfig::parse(&text).expect("parse");
        assert_eq!(c.server.listen.to_string(), "127.0.0.1:5433");
        assert_eq!(c.server.database, "acrm");
        assert_eq!(c.users["erin"].role, "east");
        assert!(c.roles["east"].scope.is_some());
        assert!(!c.roles["analyst"].privileged);
    }

    #[test]
    fn unsafe_or_incomplete_files_are_refused() {
        let v = verifier();
        for (text, expect) in [
            ("[roles.a]\n".to_string(), "no [users"),
            (
                "[roles.a]\n[users.u]\nrole = \"a\"\npassword = \"secret\"\n".into(),
                "SCRAM-SHA-256",
            ),
            (
                format!("[users.u]\nrole = \"nope\"\npassword = \"{v}\"\n"),
                "not defined",
            ),
            (
                format!(
                    "[server]\ntls_key = \"k.pem\"\n[roles.a]\n[users.u]\nrole = \"a\"\npassword = \"{v}\"\n"
                ),
                "both",
            ),
            (
                format!(
                    "[roles.a]\nscope = {{ level = \"region\", values = [] }}\n[users.u]\nrole = \"a\"\npassword = \"{v}\"\n"
                ),
                "scope.values",
            ),
            (
                format!(
                    "[server]\ndatabase = \"\"\n[roles.a]\n[users.u]\nrole = \"a\"\npassword = \"{v}\"\n"
                ),
                "1 to 63 characters",
            ),
            (
                format!(
                    "[roles.a]\nsuperuser = true\n[users.u]\nrole = \"a\"\npassword = \"{v}\"\n"
                ),
                "unknown field",
            ),
        ] {
            let err = ServeConfig::parse(&text).expect_err(&text).to_string();
            assert!(err.contains(expect), "{text}\n→ {err}");
        }
    }
}
