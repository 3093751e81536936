//! A protocol fuzzer for `acrm serve`: seeded mutations of valid message streams — before
//! login (startup, SSL request, SCRAM messages) and after a real SCRAM login (simple and
//! extended queries) — sent over TCP from many connections. Whatever the bytes, the server
//! must stay up, never hang a connection past the login timeout, and answer a real client
//! afterwards. `ACRM_FUZZ_CASES` sets how many cases of each kind run (default 300);
//! the seed is printed so a failure can be replayed with `ACRM_FUZZ_SEED`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use rand::{Rng, RngCore, SeedableRng};

use crate::serve::*;

/// A frontend message: type byte, then length and body.
fn message(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![kind];
    m.extend_from_slice(&((body.len() + 4) as i32).to_be_bytes());
    m.extend_from_slice(body);
    m
}

fn cstr(s: &str) -> Vec<u8> {
    let mut v = s.as_bytes().to_vec();
    v.push(0);
    v
}

fn startup(user: &str) -> Vec<u8> {
    let mut body = 196_608i32.to_be_bytes().to_vec();
    for part in ["user", user, "database", "acrm"] {
        body.extend(cstr(part));
    }
    body.push(0);
    let mut m = ((body.len() + 4) as i32).to_be_bytes().to_vec();
    m.extend(body);
    m
}

/// The SASLInitialResponse for SCRAM-SHA-256 with client nonce `nonce`.
fn sasl_initial(nonce: &str) -> Vec<u8> {
    let first = format!("n,,n=,r={nonce}");
    let mut body = cstr("SCRAM-SHA-256");
    body.extend_from_slice(&(first.len() as i32).to_be_bytes());
    body.extend_from_slice(first.as_bytes());
    message(b'p', &body)
}

/// Reads one backend message (type, body), or None when the connection ends.
fn read_message(s: &mut TcpStream) -> Option<(u8, Vec<u8>)> {
    let mut header = [0u8; 5];
    s.read_exact(&mut header).ok()?;
    let len = i32::from_be_bytes([header[1], header[2], header[3], header[4]]);
    let mut body = vec![0u8; usize::try_from(len).ok()?.checked_sub(4)?];
    s.read_exact(&mut body).ok()?;
    Some((header[0], body))
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    ring::hmac::sign(&ring::hmac::Key::new(ring::hmac::HMAC_SHA256, key), data)
        .as_ref()
        .to_vec()
}

/// A raw connection logged in as `user` with `password` through a SCRAM-SHA-256 exchange
/// done here, ready for query messages.
fn logged_in(port: u16, user: &str, password: &str) -> TcpStream {
    let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    s.write_all(&startup(user)).expect("startup");
    let (kind, _) = read_message(&mut s).expect("SASL offer");
    assert_eq!(kind, b'R');
    let client_nonce = "fuzzclientnonce0123456789";
    s.write_all(&sasl_initial(client_nonce)).expect("initial");
    let (_, body) = read_message(&mut s).expect("server-first");
    let server_first = String::from_utf8(body[4..].to_vec()).expect("utf-8");
    let attr = |k: &str| {
        server_first
            .split(',')
            .find_map(|p| p.strip_prefix(k))
            .expect("attribute")
            .to_string()
    };
    let (nonce, salt, rounds) = (attr("r="), attr("s="), attr("i="));
    let mut salted = [0u8; 32];
    ring::pbkdf2::derive(
        ring::pbkdf2::PBKDF2_HMAC_SHA256,
        rounds.parse().expect("rounds"),
        &B64.decode(salt).expect("salt"),
        password.as_bytes(),
        &mut salted,
    );
    let client_key = hmac(&salted, b"Client Key");
    let stored_key = ring::digest::digest(&ring::digest::SHA256, &client_key);
    let without_proof = format!("c=biws,r={nonce}");
    let auth_message = format!("n=,r={client_nonce},{server_first},{without_proof}");
    let signature = hmac(stored_key.as_ref(), auth_message.as_bytes());
    let proof: Vec<u8> = client_key
        .iter()
        .zip(&signature)
        .map(|(a, b)| a ^ b)
        .collect();
    let last = format!("{without_proof},p={}", B64.encode(proof));
    s.write_all(&message(b'p', last.as_bytes())).expect("final");
    loop {
        match read_message(&mut s) {
            Some((b'Z', _)) => return s,
            Some((b'E', body)) => panic!("login failed: {}", String::from_utf8_lossy(&body)),
            Some(_) => {}
            None => panic!("connection ended during login"),
        }
    }
}

/// Valid post-login traffic: simple queries, and parse / bind / describe / execute / sync.
fn post_login_corpus() -> Vec<Vec<u8>> {
    let query = |sql: &str| message(b'Q', &cstr(sql));
    let mut parse = cstr("s1");
    parse.extend(cstr("SELECT count(*) FROM fact_sales WHERE quantity > $1"));
    parse.extend_from_slice(&1i16.to_be_bytes());
    parse.extend_from_slice(&23i32.to_be_bytes());
    let mut bind = cstr("p1");
    bind.extend(cstr("s1"));
    bind.extend_from_slice(&0i16.to_be_bytes());
    bind.extend_from_slice(&1i16.to_be_bytes());
    bind.extend_from_slice(&1i32.to_be_bytes());
    bind.extend_from_slice(b"2");
    bind.extend_from_slice(&0i16.to_be_bytes());
    let mut describe = vec![b'P'];
    describe.extend(cstr("p1"));
    let mut execute = cstr("p1");
    execute.extend_from_slice(&0i32.to_be_bytes());
    let mut extended = message(b'P', &parse);
    extended.extend(message(b'B', &bind));
    extended.extend(message(b'D', &describe));
    extended.extend(message(b'E', &execute));
    extended.extend(message(b'S', &[]));
    vec![
        query("SELECT 1"),
        query("SELECT email FROM dim_customer LIMIT 3; SELECT count(*) FROM fact_sales"),
        query("SET statement_timeout = '2s'"),
        query("BEGIN; SELECT 1; COMMIT"),
        extended,
        message(b'H', &[]),
        message(b'C', &[b'S', b's', b'1', 0]),
    ]
}

/// One mutation of `input`: bit flips, overwritten bytes, lengths rewritten, cuts,
/// duplicated or inserted spans.
fn mutate(rng: &mut impl RngCore, input: &[u8]) -> Vec<u8> {
    let mut out = input.to_vec();
    for _ in 0..rng.random_range(1..=4) {
        if out.is_empty() {
            out.push(rng.random());
            continue;
        }
        let at = rng.random_range(0..out.len());
        match rng.random_range(0..6) {
            0 => out[at] ^= 1 << rng.random_range(0..8),
            1 => out[at] = rng.random(),
            2 if out.len() >= at + 4 => {
                let len: i32 = match rng.random_range(0..4) {
                    0 => -1,
                    1 => 0,
                    2 => i32::MAX,
                    _ => rng.random_range(0..20_000),
                };
                out[at..at + 4].copy_from_slice(&len.to_be_bytes());
            }
            3 => out.truncate(at),
            4 => {
                let end = rng.random_range(at..=out.len());
                let span = out[at..end].to_vec();
                out.splice(at..at, span);
            }
            _ => {
                let junk: Vec<u8> = (0..rng.random_range(1..64)).map(|_| rng.random()).collect();
                out.splice(at..at, junk);
            }
        }
    }
    out
}

/// Sends `bytes` and reads whatever comes back for a moment.
fn send_and_drain(s: &mut TcpStream, bytes: &[u8]) {
    let _ = s.write_all(bytes);
    let _ = s.set_read_timeout(Some(Duration::from_millis(50)));
    let mut buf = [0u8; 8192];
    for _ in 0..20 {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
}

#[test]
fn mutated_protocol_traffic_before_and_after_login_never_takes_the_server_down() {
    let served = serve(
        &crate::common::sample_build().copy.warehouse(),
        "login_timeout_seconds = 2\nstatement_timeout_seconds = 5",
    );
    let cases: usize = std::env::var("ACRM_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300);
    let seed: u64 = std::env::var("ACRM_FUZZ_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed_acc0);
    eprintln!("protocol fuzz: {cases} cases each, seed {seed}");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);

    // Before login.
    let mut ssl = 8i32.to_be_bytes().to_vec();
    ssl.extend_from_slice(&80_877_103i32.to_be_bytes());
    let mut pre = startup("alice");
    pre.extend(sasl_initial("abcdefghijklmnop"));
    let pre_corpus = [pre, ssl, startup("nobody"), sasl_initial("x")];
    for case in 0..cases {
        let input = &pre_corpus[case % pre_corpus.len()];
        let bytes = mutate(&mut rng, input);
        let Ok(mut s) = TcpStream::connect(("127.0.0.1", served.port)) else {
            panic!("server down after pre-login case {case}");
        };
        send_and_drain(&mut s, &bytes);
    }
    still_alive(&served, "pre-login");

    // After login, on a few long-lived sessions (a fatal error ends one; a new one follows).
    let corpus = post_login_corpus();
    let mut session = logged_in(served.port, "bo", "bo-pw");
    for case in 0..cases {
        let input = &corpus[rng.random_range(0..corpus.len())];
        let bytes = if rng.random_bool(0.2) {
            input.clone()
        } else {
            mutate(&mut rng, input)
        };
        send_and_drain(&mut session, &bytes);
        if case % 25 == 24 {
            session = logged_in(served.port, "bo", "bo-pw");
        }
    }
    still_alive(&served, "post-login");
}

fn still_alive(served: &Served, phase: &str) {
    let mut child_status = None;
    if let Ok(mut log) = served.stderr.lock() {
        if log.contains("overflowed its stack") || log.contains("fatal runtime error") {
            panic!("the server aborted during the {phase} fuzz:\n{log}");
        }
        // pgwire's decoders panic on some malformed bodies; each is caught, logged and the
        // connection closed with 08P01, never the server.
        let caught = log.matches("malformed message").count();
        eprintln!("{phase} fuzz: {caught} connections closed on malformed messages");
        log.clear();
    }
    if let Ok(status) = std::process::Command::new("kill")
        .args(["-0", &served.child.id().to_string()])
        .status()
    {
        child_status = Some(status.success());
    }
    assert_eq!(
        child_status,
        Some(true),
        "server process gone after the {phase} fuzz"
    );
    assert_eq!(
        served.psql_ok("alice", "SELECT 1"),
        "1",
        "after the {phase} fuzz"
    );
}
