//! The listener: TLS set up before binding (a configured certificate that cannot be loaded
//! stops the server — never a silent plaintext fallback), a pending-login slot for every
//! accepted connection ([`crate::gate`]; none free: the socket is closed at once), and one
//! task per connection ([`crate::connection`]). Accept errors (out of file descriptors,
//! say) back off instead of spinning, and repeated warnings are summarised.
//!
//! datafusion-postgres' own `serve` is not used: it falls back to plaintext when TLS fails,
//! has no authentication and lets every statement through.

use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::audit::AuditLog;
use crate::config::ServeConfig;
use crate::engines::Engines;
use crate::lanes::Lanes;
use crate::session::{Session, Shared};
use crate::{Error, Result};

/// A warning that repeats, logged at most once per [`Warning::EVERY`] with how often it
/// happened in between.
struct Warning {
    what: &'static str,
    last: Option<Instant>,
    since: u64,
}

impl Warning {
    const EVERY: Duration = Duration::from_secs(10);

    fn new(what: &'static str) -> Self {
        Self {
            what,
            last: None,
            since: 0,
        }
    }

    fn happened(&mut self, detail: &dyn std::fmt::Display) {
        self.since += 1;
        let now = Instant::now();
        if self
            .last
            .is_none_or(|t| now.duration_since(t) >= Self::EVERY)
        {
            tracing::warn!(times = self.since, "{}: {detail}", self.what);
            self.last = Some(now);
            self.since = 0;
        }
    }
}

fn read_pem(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::Tls(format!("{}: {e}", path.display())))
}

/// The TLS acceptor for the certificate chain and key files; any problem is an error.
pub fn tls_acceptor(certificate: &Path, key: &Path) -> Result<TlsAcceptor> {
    let certs: Vec<CertificateDer<'static>> =
        rustls_pemfile::certs(&mut BufReader::new(read_pem(certificate)?.as_slice()))
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| Error::Tls(format!("{}: {e}", certificate.display())))?;
    if certs.is_empty() {
        return Err(Error::Tls(format!(
            "{}: no PEM certificate in the file",
            certificate.display()
        )));
    }
    let key: PrivateKeyDer<'static> =
        rustls_pemfile::private_key(&mut BufReader::new(read_pem(key)?.as_slice()))
            .map_err(|e| Error::Tls(format!("{}: {e}", key.display())))?
            .ok_or_else(|| {
                Error::Tls(format!("{}: no PEM private key in the file", key.display()))
            })?;
    let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| Error::Tls(e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| Error::Tls(format!("certificate and key do not form a valid pair: {e}")))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The runtime to run a [`Server`] on (the protocol side: connections, logins, messages):
/// one worker per core with the lanes' large stacks, since a statement nested as deep as
/// [`crate::statement::MAX_NESTING`] is cloned and dropped on these threads too.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .thread_name("acrm-wire")
        .thread_stack_size(crate::lanes::STACK_BYTES)
        .enable_all()
        .build()
}

/// A bound server, ready to run.
pub struct Server {
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    shared: Arc<Shared>,
}

impl Server {
    /// Checks TLS, opens the audit log and binds the listen address of `config` over
    /// `warehouse`. Fails — and nothing listens — when any of these fails.
    pub async fn bind(config: ServeConfig, warehouse: &Path) -> Result<Self> {
        let s = &config.server;
        let tls = match (&s.tls_certificate, &s.tls_key) {
            (Some(c), Some(k)) => Some(tls_acceptor(c, k)?),
            _ => None,
        };
        // A warehouse with no published version is a startup error, not the first user's.
        acrm_store::Warehouse::new(warehouse).require_current()?;
        let audit = AuditLog::open(s.audit_log.as_deref())?;
        let listener = TcpListener::bind(s.listen)
            .await
            .map_err(|source| Error::Listen {
                addr: s.listen.to_string(),
                source,
            })?;
        let engines = Engines::new(
            warehouse,
            &s.database,
            s.query_memory_mib.saturating_mul(1 << 20),
        );
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        let lanes = Lanes::start(threads).map_err(|source| Error::Io {
            path: "(query threads)".into(),
            source,
        })?;
        Ok(Self {
            listener,
            tls,
            shared: Arc::new(Shared::new(config, engines, lanes, audit)),
        })
    }

    /// The address it listens on (the port chosen when the configuration asked for 0).
    pub fn local_addr(&self) -> Result<std::net::SocketAddr> {
        self.listener.local_addr().map_err(|source| Error::Listen {
            addr: self.shared.config.server.listen.to_string(),
            source,
        })
    }

    /// Whether connections are encrypted.
    pub fn tls(&self) -> bool {
        self.tls.is_some()
    }

    /// Serves until `shutdown` completes; connections in progress are left to finish.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) -> Result<()> {
        tokio::pin!(shutdown);
        let mut accept_failed = Warning::new("accept failed");
        let mut refused =
            Warning::new("connection refused: too many connections waiting to log in");
        let mut backoff = Duration::ZERO;
        loop {
            let (socket, peer) = tokio::select! {
                () = &mut shutdown => {
                    tracing::info!("shutting down");
                    return Ok(());
                }
                accepted = self.listener.accept() => match accepted {
                    Ok(a) => {
                        backoff = Duration::ZERO;
                        a
                    }
                    Err(e) => {
                        // Out of file descriptors or memory: retrying at once would spin.
                        accept_failed.happened(&e);
                        backoff = (backoff * 2).clamp(Duration::from_millis(10), Duration::from_secs(1));
                        tokio::time::sleep(backoff).await;
                        continue;
                    }
                },
            };
            let Some(pending) = self.shared.gate.admit(peer.ip()) else {
                refused.happened(&peer.ip());
                continue;
            };
            let session = Arc::new(Session::new(self.shared.clone(), peer.ip()));
            let tls = self.tls.clone();
            tokio::spawn(crate::connection::serve(socket, tls, session, pending));
        }
    }
}
