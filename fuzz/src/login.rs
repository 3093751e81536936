//! An in-process `acrm serve` over the sample warehouse, and one fuzzed client: the input
//! is everything a client sends from connecting on (SSL request, startup packet, SASL
//! messages), then the client half-closes and reads the server's answer to the end.
//!
//! Checked beyond "no panic": the server closes every connection within the login
//! timeout, stays up for the next one, answers only with well-formed backend messages,
//! and never says `AuthenticationOk` (the fuzzer cannot know a password). Each connection
//! comes from its own loopback address (127.0.0.0/8), so the failed-login delay of one
//! address does not slow the run; the delay itself is the unit tests' and e2e tests'.
//!
//! Any panic fails the run, pgwire's included: the server catches a decoder's panic and
//! closes the connection, but acrm's framing (`wire.rs`) is meant to keep malformed
//! messages from reaching the decoders at all.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use acrm_etl::{BuildConfig, BuildOptions, NoProgress};
use acrm_serve::{ServeConfig, Server};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;

/// The server's login timeout here: the longest a connection may stay open.
const LOGIN_TIMEOUT_SECONDS: u64 = 2;

/// The running server, started once per process.
struct Target {
    runtime: tokio::runtime::Runtime,
    address: SocketAddr,
}

/// Builds the sample warehouse and starts the server, once per process.
pub fn start() {
    target();
}

fn target() -> &'static Target {
    static TARGET: OnceLock<Target> = OnceLock::new();
    TARGET.get_or_init(launch)
}

fn launch() -> Target {
    let warehouse = crate::scratch().join("warehouse");
    let config = BuildConfig::load(&crate::sample_data().join("acrm.toml"))
        .expect("the sample mapping loads");
    let options = BuildOptions {
        warehouse: warehouse.clone(),
        full: true,
        derive: None,
        aggregates: None,
    };
    acrm_etl::build(&config, &options, &NoProgress).expect("the sample builds");
    let serve = ServeConfig::parse(&format!(
        r#"
[server]
listen = "127.0.0.1:0"
login_timeout_seconds = {LOGIN_TIMEOUT_SECONDS}
[roles.analyst]
[users.analyst]
role = "analyst"
password = "SCRAM-SHA-256$4096:wfLf5fcllNFcd0APWQGzUg==$DVz17JTEHCmGhg5Q6O6c9M+fTjk0SHPZxLmK8JfwmwQ=:lvwolJLaFe79MrI/+xgP0lMQYr37SiIXX37p0+uPmfg="
"#
    ))
    .expect("the fuzz server's configuration");
    let runtime = acrm_serve::server::runtime().expect("the server's runtime");
    let server = runtime
        .block_on(Server::bind(serve, &warehouse))
        .expect("the server binds");
    let address = server.local_addr().expect("the server's address");
    runtime.spawn(async move {
        let stopped = server.run(std::future::pending::<()>()).await;
        panic!("the server stopped: {stopped:?}");
    });
    Target { runtime, address }
}

/// Sends `data` as one client's bytes and checks the server's answer.
pub fn connect_and_send(data: &[u8]) {
    let t = target();
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    // 127.1.0.0 onwards: a fresh address for each of 16 million connections.
    let [_, b, c, d] = (n % (1 << 24)).to_be_bytes();
    let from = Ipv4Addr::new(127, b.wrapping_add(1).max(1), c, d);
    let answer = t.runtime.block_on(async {
        let socket = TcpSocket::new_v4().expect("a socket");
        socket
            .bind(SocketAddr::from((from, 0)))
            .expect("a loopback source address");
        let mut stream = socket.connect(t.address).await.expect("the server is up");
        // The server may close before reading everything (a bad startup packet): fine.
        let _ = stream.write_all(data).await;
        let _ = stream.shutdown().await;
        let mut answer = Vec::new();
        let limit = Duration::from_secs(LOGIN_TIMEOUT_SECONDS + 3);
        let read = tokio::time::timeout(limit, stream.read_to_end(&mut answer)).await;
        assert!(
            read.is_ok(),
            "the connection stayed open past the login timeout"
        );
        answer
    });
    check_answer(data, &answer);
}

/// The answer is backend messages (after a one-byte answer to each SSL or GSS request: its
/// code is what pgwire looks at, not its length field), none of them `AuthenticationOk`.
fn check_answer(sent: &[u8], answer: &[u8]) {
    const SSL_CODE: [u8; 4] = [0x04, 0xd2, 0x16, 0x2f];
    const GSS_CODE: [u8; 4] = [0x04, 0xd2, 0x16, 0x30];
    let mut rest = answer;
    // One 'N' per request the input opens with (a client may ask again).
    for request in sent.chunks_exact(8) {
        if !(request[4..] == SSL_CODE || request[4..] == GSS_CODE) {
            break;
        }
        match rest.split_first() {
            Some((&b'N', after)) => rest = after,
            _ => break,
        }
    }
    while !rest.is_empty() {
        assert!(rest.len() >= 5, "a cut backend message: {rest:?}");
        let kind = rest[0];
        let len = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
        assert!(
            len >= 4 && rest.len() > len,
            "a backend message of bad length {len} (type {})",
            kind as char
        );
        let body = &rest[5..1 + len];
        assert!(
            !(kind == b'R' && body == [0, 0, 0, 0]),
            "the server sent AuthenticationOk to a client that cannot know a password"
        );
        rest = &rest[1 + len..];
    }
}
