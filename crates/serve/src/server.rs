//! The listener: TLS set up before binding (a configured certificate that cannot be loaded
//! stops the server — never a silent plaintext fallback), a connection limit, and one task
//! per connection running pgwire's protocol loop with acrm's handlers.
//!
//! datafusion-postgres' own `serve` is not used: it falls back to plaintext when TLS fails,
//! has no authentication and lets every statement through.

use std::io::BufReader;
use std::path::Path;
use std::sync::Arc;

use datafusion_postgres::pgwire::api::cancel::DefaultCancelHandler;
use datafusion_postgres::pgwire::api::{NoopHandler, PgWireServerHandlers};
use datafusion_postgres::pgwire::tokio::process_socket;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::audit::AuditLog;
use crate::auth::Auth;
use crate::config::ServeConfig;
use crate::engines::Engines;
use crate::query::Queries;
use crate::session::{Session, Shared};
use crate::{Error, Result};

/// The handlers of one connection.
struct Connection {
    auth: Arc<Auth>,
    queries: Arc<Queries>,
    cancel: Arc<DefaultCancelHandler>,
}

impl PgWireServerHandlers for Connection {
    fn simple_query_handler(
        &self,
    ) -> Arc<impl datafusion_postgres::pgwire::api::query::SimpleQueryHandler> {
        self.queries.clone()
    }

    fn extended_query_handler(
        &self,
    ) -> Arc<impl datafusion_postgres::pgwire::api::query::ExtendedQueryHandler> {
        self.queries.clone()
    }

    fn startup_handler(&self) -> Arc<impl datafusion_postgres::pgwire::api::auth::StartupHandler> {
        self.auth.clone()
    }

    fn copy_handler(&self) -> Arc<impl datafusion_postgres::pgwire::api::copy::CopyHandler> {
        // COPY never starts (refused as a statement); the no-op handler refuses its data.
        Arc::new(NoopHandler)
    }

    fn cancel_handler(&self) -> Arc<impl datafusion_postgres::pgwire::api::cancel::CancelHandler> {
        self.cancel.clone()
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
        acrm_olap::engine::current_version(warehouse)?;
        let audit = AuditLog::open(s.audit_log.as_deref())?;
        let listener = TcpListener::bind(s.listen)
            .await
            .map_err(|source| Error::Listen {
                addr: s.listen.to_string(),
                source,
            })?;
        let engines = Engines::new(warehouse, s.query_memory_mib.saturating_mul(1 << 20));
        Ok(Self {
            listener,
            tls,
            shared: Arc::new(Shared::new(config, engines, audit)),
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
        let limit = Arc::new(Semaphore::new(self.shared.config.server.max_connections));
        tokio::pin!(shutdown);
        loop {
            let (socket, peer) = tokio::select! {
                () = &mut shutdown => {
                    tracing::info!("shutting down");
                    return Ok(());
                }
                accepted = self.listener.accept() => match accepted {
                    Ok(a) => a,
                    Err(e) => {
                        tracing::warn!(error = %e, "accept failed");
                        continue;
                    }
                },
            };
            let permit = limit.clone().try_acquire_owned().ok();
            if permit.is_none() {
                tracing::warn!(%peer, "connection refused: connection limit reached");
            }
            let session = Arc::new(Session::new(self.shared.clone()));
            let handlers = Arc::new(Connection {
                auth: Arc::new(Auth::new(session.clone(), permit.is_none())),
                queries: Arc::new(Queries::new(session)),
                cancel: Arc::new(DefaultCancelHandler::new(self.shared.connections.clone())),
            });
            let tls = self.tls.clone();
            tokio::spawn(async move {
                if let Err(e) = process_socket(socket, tls, handlers).await {
                    tracing::debug!(%peer, error = %e, "connection ended with an error");
                }
                drop(permit);
            });
        }
    }
}
