//! SCRAM-SHA-256 as `acrm serve` speaks it: a stored verifier's text form, then a client's
//! first and final messages (the input's three lines). Whatever the text:
//! - a verifier that parses writes back to text that parses to the same verifier;
//! - no client-final message authenticates without the password (the fuzzer cannot know
//!   it: a pass would be a bypass).
#![no_main]

use std::sync::OnceLock;

use acrm_serve::scram::{Exchange, Verifier};
use libfuzzer_sys::fuzz_target;

/// The verifier used when the input's first line is not one (derived once: PBKDF2 is slow).
fn known() -> &'static Verifier {
    static KNOWN: OnceLock<Verifier> = OnceLock::new();
    KNOWN.get_or_init(|| {
        Verifier::derive("a password no input contains", b"fuzz-salt", 4096).expect("a verifier")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines = text.splitn(3, '\n');
    let (stored, first, last) = (
        lines.next().unwrap_or_default(),
        lines.next().unwrap_or_default(),
        lines.next().unwrap_or_default(),
    );
    let verifier = match Verifier::parse(stored) {
        Ok(v) => {
            let again = Verifier::parse(&v.to_text()).expect("a verifier's text parses");
            assert!(again == v, "a verifier changed through its text form");
            v
        }
        Err(_) => known().clone(),
    };
    let Ok((exchange, server_first)) = Exchange::start(first, verifier, "fuzzservernonce") else {
        return;
    };
    assert!(
        server_first.starts_with("r="),
        "server-first: {server_first}"
    );
    assert!(
        exchange.finish(last).is_err(),
        "a client-final message authenticated without the password"
    );
});
