//! Login: SCRAM-SHA-256 against the configured users' verifiers ([`crate::scram`]), driven
//! over pgwire's startup messages. An unknown user goes through the same exchange with a
//! decoy verifier, answered as fast as a real one, and fails like a wrong password, so
//! replies never tell whether a user exists. An address with failed logins waits for its
//! turn ([`crate::gate`]). A login that succeeds takes a session slot; past
//! `max_connections` it is refused with SQLSTATE 53300.

use std::fmt::Debug;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion_postgres::pgwire::api::auth::{
    DefaultServerParameterProvider, StartupHandler, finish_authentication, protocol_negotiation,
    save_startup_parameters_to_metadata,
};
use datafusion_postgres::pgwire::api::{
    ClientInfo, METADATA_DATABASE, METADATA_USER, PgWireConnectionState, PidSecretKeyGenerator,
};
use datafusion_postgres::pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use datafusion_postgres::pgwire::messages::startup::{Authentication, PasswordMessageFamily};
use datafusion_postgres::pgwire::messages::{PgWireBackendMessage, PgWireFrontendMessage};
use futures::{Sink, SinkExt};
use tokio::sync::Mutex;

use crate::gate::Turn;
use crate::scram::{Exchange, Failure, Verifier};
use crate::session::{Login, Session};

/// The one SASL mechanism offered.
const SCRAM: &str = "SCRAM-SHA-256";

/// Where one connection's login stands.
enum State {
    /// Waiting for the client's first SCRAM message.
    Initial,
    /// Server-first sent for `user`; `role` is None for a user that is not configured.
    Started {
        user: String,
        role: Option<String>,
        exchange: Box<Exchange>,
    },
    /// Logged in, or failed.
    Done,
}

/// A fatal error with `code` (SQLSTATE) and `message`.
pub(crate) fn fatal(code: &str, message: impl Into<String>) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "FATAL".into(),
        code.into(),
        message.into(),
    )))
}

/// The startup handler of one connection.
pub(crate) struct Auth {
    session: Arc<Session>,
    state: Mutex<State>,
}

impl Auth {
    /// The login of `session`'s connection.
    pub(crate) fn new(session: Arc<Session>) -> Self {
        Self {
            session,
            state: Mutex::new(State::Initial),
        }
    }

    /// Waits for this address's turn to be answered (after failed logins); refuses when the
    /// turn comes after the login deadline.
    async fn wait_turn(&self) -> PgWireResult<()> {
        let session = &self.session;
        if let Turn::At(at) = session.shared.gate.turn(session.address) {
            if at > session.login_deadline {
                return Err(fatal(
                    "28000",
                    "too many failed logins from this address: try again later",
                ));
            }
            tokio::time::sleep_until(at).await;
        }
        Ok(())
    }

    /// Server parameters reported after login: not a superuser, read-only transactions.
    fn parameters() -> DefaultServerParameterProvider {
        let mut p = DefaultServerParameterProvider::default();
        p.server_version = crate::settings::server_version();
        p.is_superuser = false;
        p.default_transaction_read_only = true;
        p
    }

    /// The verifier to run the exchange with and the user's role: the configured user's, or
    /// a decoy stable per name (so probing one name twice sees the same salt, as for a real
    /// user) and no role.
    fn verifier_for(&self, user: &str) -> (Verifier, Option<String>) {
        match self.session.shared.config.users.get(user) {
            Some(u) => (u.verifier.clone(), Some(u.role.clone())),
            None => (self.session.shared.decoy_verifier(user), None),
        }
    }
}

fn text(data: &[u8]) -> PgWireResult<&str> {
    std::str::from_utf8(data).map_err(|_| fatal("08P01", "SCRAM message is not UTF-8"))
}

/// The mechanism and data of a SASLInitialResponse: the mechanism as a C string, then the
/// data's length (-1: none) and exactly that many bytes. Decoded here, not by pgwire, whose
/// decoder trusts the length and panics on a short body or a length past its end (found by
/// the `pg_login` fuzz target).
fn sasl_initial(message: PasswordMessageFamily) -> PgWireResult<(String, Vec<u8>)> {
    let body = match message {
        PasswordMessageFamily::Raw(body) => body,
        PasswordMessageFamily::SASLInitialResponse(m) => {
            return Ok((
                m.auth_method,
                m.data.map(|d| d.to_vec()).unwrap_or_default(),
            ));
        }
        _ => return Err(fatal("08P01", "expected a SASLInitialResponse message")),
    };
    let malformed = || fatal("08P01", "malformed SASLInitialResponse message");
    let (mechanism, rest) = body
        .iter()
        .position(|&b| b == 0)
        .map(|nul| (&body[..nul], &body[nul + 1..]))
        .ok_or_else(malformed)?;
    let mechanism = std::str::from_utf8(mechanism).map_err(|_| malformed())?;
    let (length, data) = rest.split_first_chunk::<4>().ok_or_else(malformed)?;
    let data = match i32::from_be_bytes(*length) {
        -1 if data.is_empty() => &[][..],
        n if usize::try_from(n).is_ok_and(|n| n == data.len()) => data,
        _ => return Err(malformed()),
    };
    Ok((mechanism.to_string(), data.to_vec()))
}

fn failed(user: &str) -> PgWireError {
    fatal(
        "28P01",
        format!("password authentication failed for user \"{user}\""),
    )
}

#[async_trait]
impl StartupHandler for Auth {
    async fn on_startup<C>(
        &self,
        client: &mut C,
        message: PgWireFrontendMessage,
    ) -> PgWireResult<()>
    where
        C: ClientInfo + Sink<PgWireBackendMessage> + Unpin + Send + Sync,
        C::Error: Debug,
        PgWireError: From<<C as Sink<PgWireBackendMessage>>::Error>,
    {
        match message {
            PgWireFrontendMessage::Startup(ref startup) => {
                if self.session.shared.config.server.tls_certificate.is_some()
                    && !client.is_secure()
                {
                    return Err(fatal(
                        "28000",
                        "this server requires TLS: connect with sslmode=require",
                    ));
                }
                protocol_negotiation(client, startup).await?;
                save_startup_parameters_to_metadata(client, startup);
                client.set_state(PgWireConnectionState::AuthenticationInProgress);
                client
                    .send(PgWireBackendMessage::Authentication(Authentication::SASL(
                        vec![SCRAM.to_string()],
                    )))
                    .await?;
            }
            PgWireFrontendMessage::PasswordMessageFamily(msg) => {
                let user = client
                    .metadata()
                    .get(METADATA_USER)
                    .cloned()
                    .unwrap_or_default();
                let mut state = self.state.lock().await;
                match std::mem::replace(&mut *state, State::Done) {
                    State::Initial => {
                        let (mechanism, data) = sasl_initial(msg)?;
                        if mechanism != SCRAM {
                            return Err(fatal(
                                "28000",
                                format!(
                                    "authentication method {mechanism} is not supported: use {SCRAM}"
                                ),
                            ));
                        }
                        self.wait_turn().await?;
                        let (verifier, role) = self.verifier_for(&user);
                        let nonce = crate::session::random_nonce();
                        let (exchange, server_first) =
                            Exchange::start(text(&data)?, verifier, &nonce).map_err(
                                |f| match f {
                                    Failure::Protocol(m) => fatal("08P01", m),
                                    Failure::WrongPassword => failed(&user),
                                },
                            )?;
                        client
                            .send(PgWireBackendMessage::Authentication(
                                Authentication::SASLContinue(server_first.into_bytes().into()),
                            ))
                            .await?;
                        *state = State::Started {
                            user,
                            role,
                            exchange: Box::new(exchange),
                        };
                    }
                    State::Started {
                        user,
                        role,
                        exchange,
                    } => {
                        let response = msg.into_sasl_response()?;
                        let outcome = exchange.finish(text(&response.data)?);
                        let shared = &self.session.shared;
                        let (Ok(server_final), Some(role)) = (outcome, role) else {
                            shared.gate.failed(self.session.address);
                            tracing::warn!(user = %user, peer = %client.socket_addr(), "login refused");
                            return Err(failed(&user));
                        };
                        shared.gate.succeeded(self.session.address);
                        // Checked once the user is known, so no one learns the name
                        // without logging in; a client naming none asks for the user's
                        // name, as libpq does.
                        let database = client
                            .metadata()
                            .get(METADATA_DATABASE)
                            .cloned()
                            .unwrap_or_else(|| user.clone());
                        if database != shared.config.server.database {
                            return Err(fatal(
                                "3D000",
                                format!(
                                    "database \"{database}\" does not exist (this server serves \"{}\")",
                                    shared.config.server.database
                                ),
                            ));
                        }
                        if !self.session.take_slot() {
                            return Err(fatal(
                                "53300",
                                format!(
                                    "sorry, too many clients already (the server serves {} sessions at once)",
                                    shared.config.server.max_connections
                                ),
                            ));
                        }
                        client
                            .send(PgWireBackendMessage::Authentication(
                                Authentication::SASLFinal(server_final.into_bytes().into()),
                            ))
                            .await?;
                        let (pid, key) = shared.pids.generate(client);
                        client.set_pid_and_secret_key(pid, key.clone());
                        let (handle, guard) = shared.connections.register(pid, key);
                        client.session_extensions().insert(handle);
                        client.session_extensions().insert(guard);
                        tracing::info!(user = %user, role = %role, peer = %client.socket_addr(), tls = client.is_secure(), "login");
                        self.session.log_in(Login { user, role });
                        finish_authentication(client, &Self::parameters()).await?;
                    }
                    State::Done => {
                        return Err(fatal("08P01", "unexpected authentication message"));
                    }
                }
            }
            _ => {}
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio_util::bytes::BytesMut;

    fn initial(body: &[u8]) -> PgWireResult<(String, Vec<u8>)> {
        sasl_initial(PasswordMessageFamily::Raw(BytesMut::from(body)))
    }

    #[test]
    fn sasl_initial_responses_decode_or_are_refused_as_malformed() {
        let mut body = b"SCRAM-SHA-256\0".to_vec();
        body.extend(5i32.to_be_bytes());
        body.extend(b"n,,n=");
        assert_eq!(
            initial(&body).expect("well formed"),
            ("SCRAM-SHA-256".into(), b"n,,n=".to_vec())
        );
        let mut none = b"SCRAM-SHA-256\0".to_vec();
        none.extend((-1i32).to_be_bytes());
        assert_eq!(initial(&none).expect("no data").1, Vec::<u8>::new());
        // The fuzz target's input: a negative length other than -1 (pgwire panicked on it).
        let mut negative = b"SCRAM-SHA-256\0".to_vec();
        negative.extend((-27i32).to_be_bytes());
        negative.extend(b"n,,n=,r=abc");
        for bad in [
            &negative[..],
            b"SCRAM-SHA-256\0\0\0",          // length cut short
            b"SCRAM-SHA-256\0\0\0\0\x09n,,", // length past the end
            b"SCRAM-SHA-256\0\0\0\0\x01n,,", // bytes after the data
            b"SCRAM-SHA-256",                // no terminating NUL
        ] {
            let e = initial(bad).expect_err("malformed");
            assert!(e.to_string().contains("malformed"), "{e}");
        }
    }
}
