//! State shared by every connection (configuration, engines, audit log) and the state of one
//! connection (who logged in, its statement timeout).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use base64::Engine as _;
use datafusion_postgres::datafusion_pg_catalog::sql::PostgresCompatibilityParser;
use datafusion_postgres::pgwire::api::{ConnectionManager, RandomPidSecretKeyGenerator};

use crate::audit::AuditLog;
use crate::config::{Role, ServeConfig};
use crate::engines::Engines;
use crate::scram::{DEFAULT_ROUNDS, Verifier};

/// What every connection shares.
pub(crate) struct Shared {
    /// The configuration.
    pub config: ServeConfig,
    /// Engines per role over the current version.
    pub engines: Engines,
    /// The audit log.
    pub audit: Arc<AuditLog>,
    /// PostgreSQL SQL, rewritten where DataFusion's dialect differs.
    pub parser: PostgresCompatibilityParser,
    /// Process ids and cancel keys of connections.
    pub pids: RandomPidSecretKeyGenerator,
    /// Connections by cancel key, for `pg_cancel_backend`-style cancel requests.
    pub connections: Arc<ConnectionManager>,
    /// Secret the made-up verifiers of unknown users derive from.
    mock_secret: [u8; 32],
}

impl Shared {
    /// State for a server with `config` over `engines`, writing to `audit`.
    pub fn new(config: ServeConfig, engines: Engines, audit: AuditLog) -> Self {
        Self {
            config,
            engines,
            audit: Arc::new(audit),
            parser: PostgresCompatibilityParser::new(),
            pids: RandomPidSecretKeyGenerator::default(),
            connections: Arc::new(ConnectionManager::new()),
            mock_secret: rand::random(),
        }
    }

    /// A verifier for a user that does not exist: its salt depends on the name and this
    /// process's secret only, its keys match no password anyone knows.
    pub fn mock_verifier(&self, user: &str) -> Verifier {
        let salt = blake3::keyed_hash(&self.mock_secret, user.as_bytes());
        let unguessable =
            base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>());
        Verifier::derive_rounds(&unguessable, &salt.as_bytes()[..16], DEFAULT_ROUNDS)
    }
}

/// The `server_version` reported to clients: the PostgreSQL protocol level pgwire speaks,
/// and acrm's version.
pub(crate) fn server_version() -> String {
    format!("16.6 (acrm {})", env!("CARGO_PKG_VERSION"))
}

/// A random SCRAM server nonce (printable, no comma).
pub(crate) fn random_nonce() -> String {
    base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 18]>())
}

/// Who is logged in on a connection.
#[derive(Debug, Clone)]
pub(crate) struct Login {
    /// User name.
    pub user: String,
    /// Role name.
    pub role: String,
}

/// One connection.
pub(crate) struct Session {
    /// What all connections share.
    pub shared: Arc<Shared>,
    login: OnceLock<Login>,
    /// `SET statement_timeout` in ms; 0 = the server's limit.
    timeout_ms: AtomicU64,
}

impl Session {
    /// A connection not logged in yet.
    pub fn new(shared: Arc<Shared>) -> Self {
        Self {
            shared,
            login: OnceLock::new(),
            timeout_ms: AtomicU64::new(0),
        }
    }

    /// Records a successful login.
    pub fn log_in(&self, login: Login) {
        // A second login on one connection cannot happen (startup runs once).
        let _ = self.login.set(login);
    }

    /// The login with its role, or None before login.
    pub fn login(&self) -> Option<(&Login, &Role)> {
        let login = self.login.get()?;
        let role = self.shared.config.roles.get(&login.role)?;
        Some((login, role))
    }

    /// Sets the session's statement timeout (0: the server's).
    pub fn set_timeout_ms(&self, ms: u64) {
        self.timeout_ms.store(ms, Ordering::Relaxed);
    }

    /// The statement timeout in force: the session's, never above the server's.
    pub fn timeout(&self) -> Duration {
        let server = self.shared.config.server.statement_timeout();
        match self.timeout_ms.load(Ordering::Relaxed) {
            0 => server,
            ms => Duration::from_millis(ms).min(server),
        }
    }
}
