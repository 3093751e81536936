//! The connection's byte stream as pgwire's codec reads and writes it, with two limits the
//! codec lacks:
//! - **Message size.** pgwire buffers a whole frontend message before decoding it and
//!   accepts up to 1 GiB, even before login. [`Wire`] reads the frame headers as the bytes
//!   arrive and fails the read as soon as a header announces more than the limit: 10,000
//!   bytes before login (PostgreSQL's own limit for unauthenticated messages), the
//!   configured `max_message_mib` after.
//! - **Write deadline.** A client that stops reading blocks the server's writes forever,
//!   and the statement timeout — checked between batches — never fires. [`Wire`] fails a
//!   write that is still blocked at the deadline of a statement whose rows are being sent
//!   ([`Link::hold`]), which ends the connection (the protocol cannot resume in the middle
//!   of a row).

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// Largest message before login, as PostgreSQL's `PQ_SMALL_MESSAGE_LIMIT`.
pub(crate) const PRE_LOGIN_MESSAGE_LIMIT: usize = 10_000;

/// What the connection's handlers tell its byte stream: whether the client has logged in,
/// and the deadlines of the statements whose results are being sent.
#[derive(Debug, Default)]
pub(crate) struct Link {
    logged_in: AtomicBool,
    /// Deadlines of statements with results in flight, by a number of their own.
    deadlines: Mutex<Vec<(u64, Instant)>>,
    next: AtomicU64,
}

/// A statement's deadline in force for the connection's writes while this is held.
#[derive(Debug)]
pub(crate) struct Held {
    link: Arc<Link>,
    id: u64,
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Ok(mut d) = self.link.deadlines.lock() {
            d.retain(|(id, _)| *id != self.id);
        }
    }
}

impl Link {
    /// Messages may now be as large as the logged-in limit.
    pub(crate) fn log_in(&self) {
        self.logged_in.store(true, Ordering::Release);
    }

    /// Whether the client has logged in.
    pub(crate) fn logged_in(&self) -> bool {
        self.logged_in.load(Ordering::Acquire)
    }

    /// While the result is held, writes still blocked at `deadline` fail.
    pub(crate) fn hold(self: &Arc<Self>, deadline: Instant) -> Held {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut d) = self.deadlines.lock() {
            d.push((id, deadline));
        }
        Held {
            link: self.clone(),
            id,
        }
    }

    /// The earliest deadline of the results in flight.
    fn deadline(&self) -> Option<Instant> {
        self.deadlines
            .lock()
            .ok()
            .and_then(|d| d.iter().map(|(_, t)| *t).min())
    }
}

/// Where the reader stands in the frontend's message framing.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Frame {
    /// Reading a header: `got` of `len` bytes (4 for the untyped startup message, 5 for a
    /// type byte and length) into `header`.
    Header {
        header: [u8; 5],
        got: usize,
        len: usize,
    },
    /// Inside a body, `remaining` bytes to go.
    Body { remaining: usize },
    /// Inside the body of an untyped message (startup, SSL, GSS or cancel request), kept
    /// whole to be checked: `remaining` bytes to go.
    Untyped { body: Vec<u8>, remaining: usize },
}

/// What the reader accepts next.
#[derive(Debug, Clone, Copy)]
enum Accept {
    /// Before login: the startup message, then authentication messages (the password
    /// family, and Terminate), each of at most [`PRE_LOGIN_MESSAGE_LIMIT`] bytes. A SCRAM
    /// client sends nothing else before it has checked the server's final message, so any
    /// other message is a protocol violation, refused here as PostgreSQL refuses it (and
    /// pgwire's decoders of other messages trust their lengths and panic on some: found by
    /// the `pg_login` fuzz target).
    Login,
    /// After login: any message of at most this many bytes.
    Any(usize),
}

/// Follows message boundaries in the bytes read and checks each announced length.
#[derive(Debug, Clone)]
struct Framing {
    frame: Frame,
}

impl Framing {
    /// Framing at the start of the startup message (untyped: length first).
    fn startup() -> Self {
        Self {
            frame: untyped_header(),
        }
    }

    /// Consumes `bytes`; an error names a message that `accept` refuses (its type, or a
    /// length over the limit).
    fn feed(&mut self, mut bytes: &[u8], accept: Accept) -> Result<(), String> {
        let limit = match accept {
            Accept::Login => PRE_LOGIN_MESSAGE_LIMIT,
            Accept::Any(limit) => limit,
        };
        while !bytes.is_empty() {
            match &mut self.frame {
                Frame::Body { remaining } => {
                    let n = (*remaining).min(bytes.len());
                    *remaining -= n;
                    bytes = &bytes[n..];
                    if *remaining == 0 {
                        self.frame = typed_header();
                    }
                }
                Frame::Untyped { body, remaining } => {
                    let n = (*remaining).min(bytes.len());
                    body.extend_from_slice(&bytes[..n]);
                    *remaining -= n;
                    bytes = &bytes[n..];
                    if *remaining == 0 {
                        self.frame = after_untyped(body)?;
                    }
                }
                Frame::Header { header, got, len } => {
                    let n = (*len - *got).min(bytes.len());
                    header[*got..*got + n].copy_from_slice(&bytes[..n]);
                    *got += n;
                    bytes = &bytes[n..];
                    if *got == *len {
                        let kind = header[0];
                        if *len == 5 && matches!(accept, Accept::Login) && !b"pX".contains(&kind) {
                            return Err(format!(
                                "message type '{}' before login: only authentication messages are accepted",
                                kind.escape_ascii()
                            ));
                        }
                        let at = *len - 4;
                        let announced = i32::from_be_bytes([
                            header[at],
                            header[at + 1],
                            header[at + 2],
                            header[at + 3],
                        ]);
                        let announced = usize::try_from(announced)
                            .ok()
                            .filter(|&n| n >= 4)
                            .ok_or_else(|| format!("invalid message length {announced}"))?;
                        if announced > limit {
                            return Err(format!(
                                "message of {announced} bytes is over the limit of {limit} bytes"
                            ));
                        }
                        self.frame = match (*len, announced - 4) {
                            (4, remaining) => Frame::Untyped {
                                body: Vec::with_capacity(remaining),
                                remaining,
                            },
                            (_, 0) => typed_header(),
                            (_, remaining) => Frame::Body { remaining },
                        };
                        if let Frame::Untyped { body, remaining: 0 } = &self.frame {
                            self.frame = after_untyped(body)?;
                        }
                    }
                }
            }
        }
        Ok(())
    }
}

/// Codes of the untyped requests in place of a protocol version.
const SSL_REQUEST: u32 = 80_877_103;
const GSS_REQUEST: u32 = 80_877_104;
const CANCEL_REQUEST: u32 = 80_877_102;

/// What follows the untyped message `body` (its code or protocol version first): another
/// untyped message after an SSL or GSS request, typed messages after a startup message.
/// A startup message must be protocol 3 and laid out as PostgreSQL requires — name and
/// value strings, then an empty name as its last byte — since pgwire's decoder reads the
/// strings past the announced length otherwise, taking the next messages apart as if they
/// were the startup's (found by the `pg_login` fuzz target).
fn after_untyped(body: &[u8]) -> Result<Frame, String> {
    let code = body
        .first_chunk::<4>()
        .map(|c| u32::from_be_bytes(*c))
        .ok_or("invalid startup packet: shorter than its protocol version")?;
    match code {
        SSL_REQUEST | GSS_REQUEST if body.len() == 4 => Ok(untyped_header()),
        CANCEL_REQUEST if body.len() == 12 => Ok(typed_header()),
        _ if code >> 16 == 3 && startup_fits(&body[4..]) => Ok(typed_header()),
        _ if code >> 16 == 3 => {
            Err("invalid startup packet layout: expected a terminator as the last byte".into())
        }
        _ => Err(format!(
            "unsupported frontend protocol {}.{}: acrm serve speaks 3.0",
            code >> 16,
            code & 0xffff
        )),
    }
}

/// Whether startup `parameters` are name and value strings ending in one empty name that
/// is their last byte.
fn startup_fits(mut parameters: &[u8]) -> bool {
    let string = |p: &[u8]| p.iter().position(|&b| b == 0);
    loop {
        match string(parameters) {
            None => return false,
            Some(0) => return parameters.len() == 1,
            Some(name) => parameters = &parameters[name + 1..],
        }
        match string(parameters) {
            None => return false,
            Some(value) => parameters = &parameters[value + 1..],
        }
    }
}

fn untyped_header() -> Frame {
    Frame::Header {
        header: [0; 5],
        got: 0,
        len: 4,
    }
}

fn typed_header() -> Frame {
    Frame::Header {
        header: [0; 5],
        got: 0,
        len: 5,
    }
}

/// A connection's stream (plain or TLS, after negotiation) with the message-size limit and
/// the write deadline.
pub(crate) struct Wire<S> {
    inner: S,
    link: Arc<Link>,
    framing: Framing,
    /// The limit after login, in bytes.
    max_message: usize,
    /// A limit broken by bytes read before this stream took over.
    broken: Option<String>,
    /// The timer of the deadline writes are waiting on.
    timer: Option<(Instant, Pin<Box<Sleep>>)>,
}

impl<S> Wire<S> {
    /// `inner` at the start of the startup message, of which `read` was already read.
    pub(crate) fn new(inner: S, link: Arc<Link>, max_message: usize, read: &[u8]) -> Self {
        let mut framing = Framing::startup();
        let broken = framing.feed(read, Accept::Login).err();
        Self {
            inner,
            link,
            framing,
            max_message,
            broken,
            timer: None,
        }
    }

    /// Why the bytes read before this stream took over are refused, if they are: those
    /// bytes are in the codec's buffer already and would be decoded without a read, so the
    /// connection checks this before decoding anything.
    pub(crate) fn refused(&self) -> Option<&str> {
        self.broken.as_deref()
    }

    fn accept(&self) -> Accept {
        if self.link.logged_in() {
            Accept::Any(self.max_message)
        } else {
            Accept::Login
        }
    }

    /// After a write returned Pending: an error once the statement's deadline has passed
    /// (the timer's waker is registered too, so a client that never reads again still
    /// ends the wait).
    fn check_deadline(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        let Some(deadline) = self.link.deadline() else {
            return Poll::Pending;
        };
        let timer = match &mut self.timer {
            Some((at, timer)) if *at == deadline => timer,
            slot => {
                &mut slot
                    .insert((deadline, Box::pin(tokio::time::sleep_until(deadline))))
                    .1
            }
        };
        match timer.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(io::Error::new(
                io::ErrorKind::TimedOut,
                "statement timeout while the client was not reading its results",
            )),
            Poll::Pending => Poll::Pending,
        }
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Wire<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(message) = this.broken.take() {
            return Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, message)));
        }
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        let accept = this.accept();
        match this.framing.feed(&buf.filled()[before..], accept) {
            Ok(()) => Poll::Ready(Ok(())),
            Err(message) => Poll::Ready(Err(io::Error::new(io::ErrorKind::InvalidData, message))),
        }
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Wire<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_write(cx, buf) {
            Poll::Pending => this.check_deadline(cx).map(Err),
            done => done,
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        match Pin::new(&mut this.inner).poll_flush(cx) {
            Poll::Pending => this.check_deadline(cx).map(Err),
            done => done,
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(kind: u8, body: usize) -> Vec<u8> {
        let mut m = vec![kind];
        m.extend_from_slice(&((body + 4) as i32).to_be_bytes());
        m.extend(std::iter::repeat_n(b'x', body));
        m
    }

    /// A startup message of protocol 3.0 with a body of `body` bytes (at least 8).
    fn startup(body: usize) -> Vec<u8> {
        let mut m = ((body + 4) as i32).to_be_bytes().to_vec();
        m.extend(0x0003_0000u32.to_be_bytes());
        m.extend(b"u\0");
        m.extend(std::iter::repeat_n(b'a', body - 8));
        m.extend(b"\0\0");
        m
    }

    fn untyped(body: &[u8]) -> Vec<u8> {
        let mut m = ((body.len() + 4) as i32).to_be_bytes().to_vec();
        m.extend(body);
        m
    }

    #[test]
    fn startup_messages_are_checked_whole() {
        // An SSL and a GSS request may come before the startup message.
        let mut f = Framing::startup();
        f.feed(&untyped(&GSS_REQUEST.to_be_bytes()), Accept::Login)
            .expect("GSS request");
        f.feed(&untyped(&SSL_REQUEST.to_be_bytes()), Accept::Login)
            .expect("SSL request");
        f.feed(&startup(40), Accept::Login).expect("startup");
        f.feed(&message(b'p', 10), Accept::Login).expect("password");
        // Strings running past the announced length (pgwire's decoder would read on into
        // the next message), a value missing, another protocol.
        let mut version = 0x0003_0000u32.to_be_bytes().to_vec();
        for (parameters, what) in [
            (&b"user\0alice"[..], "layout"),
            (&b"user\0alice\0"[..], "layout"),
            (&b"user\0alice\0\0extra"[..], "layout"),
            (&b"user\0"[..], "layout"),
        ] {
            let mut body = version.clone();
            body.extend(parameters);
            let err = Framing::startup()
                .feed(&untyped(&body), Accept::Login)
                .expect_err("refused");
            assert!(err.contains(what), "{parameters:?}: {err}");
        }
        version[1] = 2;
        version.extend(b"\0");
        let err = Framing::startup()
            .feed(&untyped(&version), Accept::Login)
            .expect_err("protocol 2");
        assert!(err.contains("unsupported frontend protocol 2.0"), "{err}");
    }

    #[test]
    fn boundaries_are_followed_across_any_split() {
        let mut stream = startup(40);
        stream.extend(message(b'p', 100));
        stream.extend(message(b'p', 9_000));
        stream.extend(message(b'X', 0));
        for chunk in [1, 3, 5, 7, 64, 4096, stream.len()] {
            let mut f = Framing::startup();
            for part in stream.chunks(chunk) {
                f.feed(part, Accept::Login).expect("within the limit");
            }
            assert_eq!(f.frame, typed_header(), "chunk {chunk}");
        }
    }

    #[test]
    fn an_announced_length_over_the_limit_fails_at_its_header() {
        let mut f = Framing::startup();
        f.feed(&startup(8), Accept::Login).expect("startup");
        // Only the header of a 400 MB password message: refused before its body arrives.
        let header = &message(b'p', 0)[..1];
        f.feed(header, Accept::Login).expect("type byte");
        let err = f
            .feed(&(400_000_000i32).to_be_bytes(), Accept::Login)
            .expect_err("too large");
        assert!(err.contains("400000000"), "{err}");
        let mut f = Framing::startup();
        let err = f
            .feed(&startup(20_000), Accept::Login)
            .expect_err("startup");
        assert!(err.contains("limit"), "{err}");
        let mut f = Framing::startup();
        f.feed(&startup(8), Accept::Any(1 << 20)).expect("startup");
        f.feed(&message(b'Q', 500_000), Accept::Any(1 << 20))
            .expect("after login");
        let mut f = Framing::startup();
        let err = f
            .feed(&[0, 0, 0, 2], Accept::Any(1 << 20))
            .expect_err("length below 4");
        assert!(err.contains("invalid"), "{err}");
    }

    #[test]
    fn only_authentication_messages_are_accepted_before_login() {
        for kind in [b'Q', b'P', b'B', b'E', b'S', b'F', b'd'] {
            let mut f = Framing::startup();
            f.feed(&startup(8), Accept::Login).expect("startup");
            let err = f
                .feed(&message(kind, 4), Accept::Login)
                .expect_err("refused");
            assert!(err.contains("before login"), "{err}");
            let mut f = Framing::startup();
            f.feed(&startup(8), Accept::Any(1 << 20)).expect("startup");
            f.feed(&message(kind, 4), Accept::Any(1 << 20))
                .expect("accepted after login");
        }
    }
}
