//! State shared by every connection (configuration, engines, lanes, login gate, audit log)
//! and the state of one connection (who logged in, its session slot, its statement
//! timeout and parameters, its savepoints, what its byte stream needs to know).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use base64::Engine as _;
use datafusion_postgres::datafusion_pg_catalog::sql::PostgresCompatibilityParser;
use datafusion_postgres::pgwire::api::{ConnectionManager, RandomPidSecretKeyGenerator};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::audit::AuditLog;
use crate::config::{Role, ServeConfig};
use crate::engines::Engines;
use crate::gate::Gate;
use crate::lanes::Lanes;
use crate::scram::{DEFAULT_ROUNDS, Verifier};
use crate::settings::Settings;
use crate::transaction::Savepoints;
use crate::wire::Link;

/// What every connection shares.
pub(crate) struct Shared {
    /// The configuration.
    pub config: ServeConfig,
    /// Engines per role over the current version.
    pub engines: Engines,
    /// Where statements are planned and run.
    pub lanes: Lanes,
    /// Pending logins and failed-login delays.
    pub gate: Arc<Gate>,
    /// Session slots: one per logged-in connection.
    pub sessions: Arc<Semaphore>,
    /// The audit log.
    pub audit: Arc<AuditLog>,
    /// PostgreSQL SQL, rewritten where DataFusion's dialect differs.
    pub parser: PostgresCompatibilityParser,
    /// Process ids and cancel keys of connections.
    pub pids: RandomPidSecretKeyGenerator,
    /// Connections by cancel key, for `pg_cancel_backend`-style cancel requests.
    pub connections: Arc<ConnectionManager>,
    /// Secret the decoy salts of unknown users derive from.
    decoy_secret: [u8; 32],
    /// Keys of the decoy verifier (matching no password anyone knows).
    decoy: Verifier,
}

impl Shared {
    /// State for a server with `config` over `engines`, running statements on `lanes`,
    /// writing to `audit`.
    pub fn new(config: ServeConfig, engines: Engines, lanes: Lanes, audit: AuditLog) -> Self {
        let unguessable =
            base64::engine::general_purpose::STANDARD.encode(rand::random::<[u8; 32]>());
        // Decoys use the rounds most configured users have, so the server-first message of
        // an unknown user looks like a real one's.
        let mut rounds: HashMap<u32, usize> = HashMap::new();
        for u in config.users.values() {
            *rounds.entry(u.verifier.iterations()).or_default() += 1;
        }
        let iterations = rounds
            .into_iter()
            .max_by_key(|&(i, n)| (n, i))
            .and_then(|(i, _)| std::num::NonZeroU32::new(i))
            .unwrap_or(DEFAULT_ROUNDS);
        let s = &config.server;
        Self {
            gate: Gate::new(s.max_pending_logins, s.max_pending_logins_per_address),
            sessions: Arc::new(Semaphore::new(s.max_connections)),
            decoy: Verifier::derive_rounds(&unguessable, &[0; 16], iterations),
            config,
            engines,
            lanes,
            audit: Arc::new(audit),
            parser: PostgresCompatibilityParser::new(),
            pids: RandomPidSecretKeyGenerator::default(),
            connections: Arc::new(ConnectionManager::new()),
            decoy_secret: rand::random(),
        }
    }

    /// A verifier for a user that does not exist: its salt depends on the name and this
    /// process's secret only (probing one name twice sees the same salt, as for a real
    /// user), its keys match no password anyone knows.
    pub fn decoy_verifier(&self, user: &str) -> Verifier {
        let salt = blake3::keyed_hash(&self.decoy_secret, user.as_bytes());
        self.decoy.with_salt(&salt.as_bytes()[..16])
    }
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
    /// The client's address.
    pub address: IpAddr,
    /// What the connection's byte stream is told (login, statement deadline).
    pub link: Arc<Link>,
    /// When the login must be complete.
    pub login_deadline: tokio::time::Instant,
    login: OnceLock<Login>,
    /// The session slot, held from login to the end of the connection.
    slot: OnceLock<OwnedSemaphorePermit>,
    /// `SET statement_timeout` in ms; 0 = the server's limit.
    timeout_ms: AtomicU64,
    /// Run-time parameters, from the startup message on (set at the first statement).
    settings: Mutex<Option<Settings>>,
    /// Savepoints of the open transaction block.
    pub savepoints: Mutex<Savepoints>,
}

impl Session {
    /// A connection from `address`, not logged in yet.
    pub fn new(shared: Arc<Shared>, address: IpAddr) -> Self {
        Self {
            login_deadline: tokio::time::Instant::now() + shared.config.server.login_timeout(),
            shared,
            address,
            link: Arc::new(Link::default()),
            login: OnceLock::new(),
            slot: OnceLock::new(),
            timeout_ms: AtomicU64::new(0),
            settings: Mutex::new(None),
            savepoints: Mutex::new(Savepoints::default()),
        }
    }

    /// Runs `f` on the session's parameters, which start as the startup message
    /// (`startup`, pgwire's metadata) set them.
    pub fn with_settings<T>(
        &self,
        startup: &HashMap<String, String>,
        f: impl FnOnce(&mut Settings) -> T,
    ) -> T {
        let mut held = self.settings.lock().unwrap_or_else(PoisonError::into_inner);
        f(held.get_or_insert_with(|| Settings::from_startup(startup)))
    }

    /// Takes a session slot for a login that succeeded; false when every slot is taken.
    pub fn take_slot(&self) -> bool {
        match self.shared.sessions.clone().try_acquire_owned() {
            // Login runs once per connection, so the slot is empty here.
            Ok(permit) => self.slot.set(permit).is_ok(),
            Err(_) => false,
        }
    }

    /// Records a successful login.
    pub fn log_in(&self, login: Login) {
        // A second login on one connection cannot happen (startup runs once).
        let _ = self.login.set(login);
        self.link.log_in();
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
