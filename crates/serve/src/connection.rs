//! One client connection, from TLS negotiation to its last message: pgwire's codec and
//! message dispatch over acrm's guarded byte stream ([`crate::wire`]), with the login
//! deadline on everything before login and the pending-login slot held until then.
//!
//! pgwire's own `process_socket` is not used: it gives a connection 60 s to log in, reads
//! messages of up to 1 GiB before login, and has no way to bound a blocked write.

use std::sync::Arc;

use datafusion_postgres::pgwire::api::cancel::DefaultCancelHandler;
use datafusion_postgres::pgwire::api::{ClientInfo, NoopHandler, PgWireConnectionState};
use datafusion_postgres::pgwire::error::{ErrorInfo, PgWireError};
use datafusion_postgres::pgwire::messages::PgWireFrontendMessage;
use datafusion_postgres::pgwire::tokio::server::{
    PgWireMessageServerCodec, negotiate_tls, process_error, process_message,
};
use std::panic::AssertUnwindSafe;

use futures::{FutureExt, StreamExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tokio_util::codec::{Framed, FramedParts};

use crate::auth::{Auth, fatal};
use crate::gate::Pending;
use crate::query::{Prepared, Queries};
use crate::session::Session;
use crate::wire::Wire;

/// How long a last error message may take to reach a client that is not logged in.
const GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// Serves `socket` for `session` until the client leaves, a fatal error, or the login
/// deadline passes before login; `pending` is released at login.
pub(crate) async fn serve(
    socket: TcpStream,
    tls: Option<TlsAcceptor>,
    session: Arc<Session>,
    pending: Pending,
) {
    let peer = session.address;
    let deadline = session.login_deadline;
    let negotiated =
        tokio::time::timeout_at(deadline, negotiate_tls::<Prepared>(socket, tls)).await;
    let framed = match negotiated {
        Ok(Ok(Some(framed))) => framed,
        Ok(Ok(None)) => return, // direct TLS without a certificate configured
        Ok(Err(e)) => {
            tracing::debug!(%peer, error = %e, "connection ended during negotiation");
            return;
        }
        Err(_) => {
            tracing::debug!(%peer, "login timeout during negotiation");
            return;
        }
    };
    let old = framed.into_parts();
    let max_message = session.shared.config.server.max_message_bytes();
    let wire = Wire::new(old.io, session.link.clone(), max_message, &old.read_buf);
    let mut parts = FramedParts::new(wire, old.codec);
    parts.read_buf = old.read_buf;
    parts.write_buf = old.write_buf;
    let mut socket = Framed::from_parts(parts);
    if let Some(message) = socket.get_ref().refused() {
        tracing::debug!(%peer, error = %message, "connection closed: bad message");
        let e = fatal("08P01", message.to_string());
        let _ = tokio::time::timeout(GRACE, process_error(&mut socket, e, false)).await;
        return;
    }

    let auth = Arc::new(Auth::new(session.clone()));
    let queries = Arc::new(Queries::new(session.clone()));
    let copy = Arc::new(NoopHandler);
    let cancel = Arc::new(DefaultCancelHandler::new(
        session.shared.connections.clone(),
    ));
    let mut pending = Some(pending);
    loop {
        let logged_in = session.link.logged_in();
        if logged_in {
            pending = None;
        }
        // pgwire's decoders trust the lengths inside a message body and panic on some
        // malformed ones: a panic is answered like any malformed message.
        let read = AssertUnwindSafe(socket.next()).catch_unwind();
        let next = if logged_in {
            Some(read.await)
        } else {
            tokio::time::timeout_at(deadline, read).await.ok()
        };
        let next = match next {
            Some(Err(_)) => {
                malformed(&mut socket, peer).await;
                break;
            }
            Some(Ok(next)) => Some(next),
            None => None,
        };
        let message = match next {
            None => {
                tracing::debug!(%peer, "login timeout");
                let e = fatal(
                    "08006",
                    "login timed out: authentication was not completed in time",
                );
                let _ = tokio::time::timeout(GRACE, process_error(&mut socket, e, false)).await;
                break;
            }
            Some(None) | Some(Some(Ok(PgWireFrontendMessage::Terminate(_)))) => break,
            Some(Some(Err(e))) => {
                // A message over the size limit, or bytes that are not the protocol.
                tracing::debug!(%peer, error = %e, "connection closed: bad message");
                let e = fatal("08P01", e.to_string());
                let _ = tokio::time::timeout(GRACE, process_error(&mut socket, e, false)).await;
                break;
            }
            Some(Some(Ok(message))) => message,
        };
        let extended = match socket.state() {
            PgWireConnectionState::CopyInProgress(extended) => extended,
            _ => message.is_extended_query(),
        };
        let work = AssertUnwindSafe(process_message(
            message,
            &mut socket,
            auth.clone(),
            queries.clone(),
            queries.clone(),
            copy.clone(),
            cancel.clone(),
        ))
        .catch_unwind();
        let outcome = if logged_in {
            work.await
        } else {
            match tokio::time::timeout_at(deadline, work).await {
                Ok(outcome) => outcome,
                Err(_) => break,
            }
        };
        let Ok(outcome) = outcome else {
            malformed(&mut socket, peer).await;
            break;
        };
        if let Err(e) = outcome {
            if is_closed(&e) {
                break;
            }
            let info = ErrorInfo::from(e);
            // Before login every error ends the connection, as in PostgreSQL: a message
            // the startup could not take whole leaves the stream out of step.
            let end = info.is_fatal() || !logged_in;
            let answer = process_error(
                &mut socket,
                PgWireError::UserError(Box::new(info)),
                extended,
            );
            let answered = if logged_in {
                answer.await.is_ok()
            } else {
                matches!(tokio::time::timeout(GRACE, answer).await, Ok(Ok(())))
            };
            if end || !answered {
                break;
            }
        }
    }
    tracing::debug!(%peer, logged_in = session.link.logged_in(), "connection closed");
    drop(pending);
}

/// Answers a message pgwire could not take apart (its decoder panicked) and ends the
/// connection: the stream cannot be trusted past it.
async fn malformed<S>(
    socket: &mut Framed<S, PgWireMessageServerCodec<Prepared>>,
    peer: std::net::IpAddr,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + Sync + 'static,
{
    tracing::warn!(%peer, "connection closed: malformed message");
    let e = fatal("08P01", "malformed message");
    let _ = tokio::time::timeout(GRACE, process_error(socket, e, false)).await;
}

/// Whether `e` is the connection itself failing (no answer can reach the client).
fn is_closed(e: &PgWireError) -> bool {
    matches!(e, PgWireError::IoError(_))
}
