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
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
}

/// Follows message boundaries in the bytes read and checks each announced length.
#[derive(Debug, Clone, Copy)]
struct Framing {
    frame: Frame,
}

impl Framing {
    /// Framing at the start of the startup message (untyped: length first).
    fn startup() -> Self {
        Self {
            frame: Frame::Header {
                header: [0; 5],
                got: 0,
                len: 4,
            },
        }
    }

    /// Consumes `bytes`; an error names a message longer than `limit`.
    fn feed(&mut self, mut bytes: &[u8], limit: usize) -> Result<(), String> {
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
                Frame::Header { header, got, len } => {
                    let n = (*len - *got).min(bytes.len());
                    header[*got..*got + n].copy_from_slice(&bytes[..n]);
                    *got += n;
                    bytes = &bytes[n..];
                    if *got == *len {
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
                        self.frame = match announced - 4 {
                            0 => typed_header(),
                            remaining => Frame::Body { remaining },
                        };
                    }
                }
            }
        }
        Ok(())
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
        let broken = framing.feed(read, PRE_LOGIN_MESSAGE_LIMIT).err();
        Self {
            inner,
            link,
            framing,
            max_message,
            broken,
            timer: None,
        }
    }

    fn limit(&self) -> usize {
        if self.link.logged_in() {
            self.max_message
        } else {
            PRE_LOGIN_MESSAGE_LIMIT
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
        let limit = this.limit();
        match this.framing.feed(&buf.filled()[before..], limit) {
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

    fn startup(body: usize) -> Vec<u8> {
        let mut m = ((body + 4) as i32).to_be_bytes().to_vec();
        m.extend(std::iter::repeat_n(0u8, body));
        m
    }

    #[test]
    fn boundaries_are_followed_across_any_split() {
        let mut stream = startup(40);
        stream.extend(message(b'p', 100));
        stream.extend(message(b'Q', 9_000));
        stream.extend(message(b'S', 0));
        for chunk in [1, 3, 5, 7, 64, 4096, stream.len()] {
            let mut f = Framing::startup();
            for part in stream.chunks(chunk) {
                f.feed(part, PRE_LOGIN_MESSAGE_LIMIT)
                    .expect("within the limit");
            }
            assert_eq!(f.frame, typed_header(), "chunk {chunk}");
        }
    }

    #[test]
    fn an_announced_length_over_the_limit_fails_at_its_header() {
        let mut f = Framing::startup();
        f.feed(&startup(8), PRE_LOGIN_MESSAGE_LIMIT)
            .expect("startup");
        // Only the header of a 400 MB query: refused before any of its body arrives.
        let header = &message(b'Q', 0)[..1];
        f.feed(header, PRE_LOGIN_MESSAGE_LIMIT).expect("type byte");
        let err = f
            .feed(&(400_000_000i32).to_be_bytes(), PRE_LOGIN_MESSAGE_LIMIT)
            .expect_err("too large");
        assert!(err.contains("400000000"), "{err}");
        let mut f = Framing::startup();
        let err = f
            .feed(&startup(20_000), PRE_LOGIN_MESSAGE_LIMIT)
            .expect_err("startup");
        assert!(err.contains("limit"), "{err}");
        let mut f = Framing::startup();
        f.feed(&startup(8), 1 << 20).expect("startup");
        f.feed(&message(b'Q', 500_000), 1 << 20)
            .expect("after login");
        let mut f = Framing::startup();
        let err = f.feed(&[0, 0, 0, 2], 1 << 20).expect_err("length below 4");
        assert!(err.contains("invalid"), "{err}");
    }
}
