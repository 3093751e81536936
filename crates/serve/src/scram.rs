//! SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL does it, server side.
//!
//! Passwords are kept as PostgreSQL's own verifier text,
//! `SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>` (what `pg_authid` holds and
//! `acrm hash-password` prints). Neither key lets anyone log in: the client proves it knows
//! `ClientKey` with `H(ClientKey) = StoredKey`. pgwire's own SCRAM wants the salted password
//! itself, which is enough to log in, so acrm checks proofs here.

use std::num::NonZeroU32;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ring::{digest, hmac, pbkdf2};

use crate::{Error, Result};

/// PBKDF2 rounds of new verifiers (PostgreSQL's default).
pub const DEFAULT_ITERATIONS: u32 = 4096;

/// [`DEFAULT_ITERATIONS`] as a non-zero count.
pub(crate) const DEFAULT_ROUNDS: NonZeroU32 =
    NonZeroU32::MIN.saturating_add(DEFAULT_ITERATIONS - 1);

/// A stored SCRAM-SHA-256 password verifier.
#[derive(Clone, PartialEq, Eq)]
pub struct Verifier {
    iterations: u32,
    salt: Vec<u8>,
    stored_key: Vec<u8>,
    server_key: Vec<u8>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys are not secrets that log in, but they allow offline guessing: never printed.
        f.debug_struct("Verifier")
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data)
        .as_ref()
        .to_vec()
}

fn sha256(data: &[u8]) -> Vec<u8> {
    digest::digest(&digest::SHA256, data).as_ref().to_vec()
}

/// Byte equality in time independent of where the first difference is (ring's own is
/// deprecated for outside use).
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The password as SCRAM hashes it: SASLprep-normalised where that succeeds, as given
/// otherwise (what libpq and PostgreSQL do).
fn normalise(password: &str) -> String {
    stringprep::saslprep(password).map_or_else(|_| password.to_string(), |p| p.into_owned())
}

impl Verifier {
    /// The verifier of `password` with `salt` and `iterations` rounds.
    pub fn derive(password: &str, salt: &[u8], iterations: u32) -> Result<Self> {
        let rounds = NonZeroU32::new(iterations)
            .ok_or_else(|| Error::Config("SCRAM iterations must be at least 1".into()))?;
        Ok(Self::derive_rounds(password, salt, rounds))
    }

    /// [`Verifier::derive`] with a round count that cannot be zero.
    pub(crate) fn derive_rounds(password: &str, salt: &[u8], rounds: NonZeroU32) -> Self {
        let mut salted = [0u8; 32];
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            rounds,
            salt,
            normalise(password).as_bytes(),
            &mut salted,
        );
        Self {
            iterations: rounds.get(),
            salt: salt.to_vec(),
            stored_key: sha256(&hmac_sha256(&salted, b"Client Key")),
            server_key: hmac_sha256(&salted, b"Server Key"),
        }
    }

    /// A new verifier of `password` with a random 16-byte salt.
    pub fn new(password: &str, iterations: u32) -> Result<Self> {
        Self::derive(password, &rand::random::<[u8; 16]>(), iterations)
    }

    /// Parses PostgreSQL's text form.
    pub fn parse(text: &str) -> Result<Self> {
        let bad = |what: &str| {
            Error::Config(format!(
                "password verifier is not SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey> ({what}); make one with `acrm hash-password`"
            ))
        };
        let rest = text
            .strip_prefix("SCRAM-SHA-256$")
            .ok_or_else(|| bad("no SCRAM-SHA-256$ prefix"))?;
        let (params, keys) = rest.split_once('$').ok_or_else(|| bad("no keys"))?;
        let (iterations, salt) = params.split_once(':').ok_or_else(|| bad("no salt"))?;
        let (stored, server) = keys.split_once(':').ok_or_else(|| bad("no server key"))?;
        let decode = |s: &str, what: &str| B64.decode(s).map_err(|_| bad(what));
        let v = Self {
            iterations: iterations
                .parse()
                .ok()
                .filter(|&i| i > 0)
                .ok_or_else(|| bad("iterations"))?,
            salt: decode(salt, "salt is not base64")?,
            stored_key: decode(stored, "StoredKey is not base64")?,
            server_key: decode(server, "ServerKey is not base64")?,
        };
        if v.stored_key.len() != 32 || v.server_key.len() != 32 {
            return Err(bad("keys are not 32 bytes"));
        }
        Ok(v)
    }

    /// This verifier's keys and rounds with another salt: decoys for unknown users are
    /// made from one verifier derived at startup, so answering one costs no more than
    /// answering a real user (no PBKDF2 per attempt, nothing to time).
    pub(crate) fn with_salt(&self, salt: &[u8]) -> Self {
        Self {
            salt: salt.to_vec(),
            ..self.clone()
        }
    }

    /// Its PBKDF2 rounds.
    pub(crate) fn iterations(&self) -> u32 {
        self.iterations
    }

    /// PostgreSQL's text form.
    pub fn to_text(&self) -> String {
        format!(
            "SCRAM-SHA-256${}:{}${}:{}",
            self.iterations,
            B64.encode(&self.salt),
            B64.encode(&self.stored_key),
            B64.encode(&self.server_key)
        )
    }
}

/// Why an exchange failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The client's message is not SCRAM as expected (the text says what).
    Protocol(String),
    /// The proof does not match: wrong password (or unknown user).
    WrongPassword,
}

/// The server side of one exchange, between its first and final message.
#[derive(Debug)]
pub struct Exchange {
    verifier: Verifier,
    gs2_header: String,
    client_first_bare: String,
    server_first: String,
    nonce: String,
}

/// Splits `a=value,b=value` attributes.
fn attribute(part: Option<&str>, name: char) -> std::result::Result<&str, Failure> {
    part.and_then(|p| p.strip_prefix(name)?.strip_prefix('='))
        .ok_or_else(|| Failure::Protocol(format!("expected attribute {name}=")))
}

impl Exchange {
    /// Answers the client-first message with the server-first message, for `verifier` (a
    /// made-up one for an unknown user, so the reply does not tell that the user is unknown).
    pub fn start(
        client_first: &str,
        verifier: Verifier,
        server_nonce: &str,
    ) -> std::result::Result<(Self, String), Failure> {
        // gs2-header: "n,," (no channel binding) or "y,," (client could, thinks we cannot);
        // "p=…" asks for channel binding, which acrm does not offer.
        let (cbind, rest) = client_first
            .split_once(',')
            .ok_or_else(|| Failure::Protocol("no GS2 header".into()))?;
        if cbind != "n" && cbind != "y" {
            return Err(Failure::Protocol(
                "channel binding is not supported (SCRAM-SHA-256 without -PLUS)".into(),
            ));
        }
        let (authzid, bare) = rest
            .split_once(',')
            .ok_or_else(|| Failure::Protocol("no GS2 header".into()))?;
        let gs2_header = format!("{cbind},{authzid},");
        let mut parts = bare.split(',');
        // The user name in the SCRAM message is ignored, as PostgreSQL does: the startup
        // packet's user is the one logging in.
        attribute(parts.next(), 'n')?;
        let client_nonce = attribute(parts.next(), 'r')?;
        if client_nonce.is_empty() {
            return Err(Failure::Protocol("empty client nonce".into()));
        }
        let nonce = format!("{client_nonce}{server_nonce}");
        let server_first = format!(
            "r={nonce},s={},i={}",
            B64.encode(&verifier.salt),
            verifier.iterations
        );
        Ok((
            Self {
                verifier,
                gs2_header,
                client_first_bare: bare.to_string(),
                server_first: server_first.clone(),
                nonce,
            },
            server_first,
        ))
    }

    /// Checks the client-final message's proof; on success returns the server-final message
    /// (the server's signature, proving it knows the verifier too).
    pub fn finish(&self, client_final: &str) -> std::result::Result<String, Failure> {
        let (without_proof, proof) = client_final
            .rsplit_once(",p=")
            .ok_or_else(|| Failure::Protocol("no proof".into()))?;
        let mut parts = without_proof.split(',');
        let binding = attribute(parts.next(), 'c')?;
        if B64.decode(binding).ok().as_deref() != Some(self.gs2_header.as_bytes()) {
            return Err(Failure::Protocol("channel binding data mismatch".into()));
        }
        if attribute(parts.next(), 'r')? != self.nonce {
            return Err(Failure::Protocol("nonce mismatch".into()));
        }
        let proof = B64
            .decode(proof)
            .map_err(|_| Failure::Protocol("proof is not base64".into()))?;
        let auth_message = format!(
            "{},{},{without_proof}",
            self.client_first_bare, self.server_first
        );
        let signature = hmac_sha256(&self.verifier.stored_key, auth_message.as_bytes());
        if proof.len() != signature.len() {
            return Err(Failure::WrongPassword);
        }
        let client_key: Vec<u8> = proof.iter().zip(&signature).map(|(p, s)| p ^ s).collect();
        if !same_bytes(&sha256(&client_key), &self.verifier.stored_key) {
            return Err(Failure::WrongPassword);
        }
        let server_signature = hmac_sha256(&self.verifier.server_key, auth_message.as_bytes());
        Ok(format!("v={}", B64.encode(server_signature)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The client's side, to test the server against.
    fn client_final(password: &str, salt: &[u8], iterations: u32, first: &str, sf: &str) -> String {
        let mut salted = [0u8; 32];
        pbkdf2::derive(
            pbkdf2::PBKDF2_HMAC_SHA256,
            NonZeroU32::new(iterations).expect("iterations"),
            salt,
            password.as_bytes(),
            &mut salted,
        );
        let client_key = hmac_sha256(&salted, b"Client Key");
        let nonce = sf.split(',').next().expect("nonce");
        let without_proof = format!("c=biws,{nonce}");
        let bare = first.trim_start_matches("n,,");
        let auth = format!("{bare},{sf},{without_proof}");
        let sig = hmac_sha256(&sha256(&client_key), auth.as_bytes());
        let proof: Vec<u8> = client_key.iter().zip(&sig).map(|(a, b)| a ^ b).collect();
        format!("{without_proof},p={}", B64.encode(proof))
    }

    #[test]
    fn rfc7677_example_exchange_verifies_and_signs_as_the_rfc_says() {
        // RFC 7677 section 3: user "user", password "pencil".
        let salt = B64.decode("W22ZaJ0SNY7soEsUEjb6gQ==").expect("salt");
        let verifier = Verifier::derive("pencil", &salt, 4096).expect("derive");
        let (exchange, server_first) = Exchange::start(
            "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
            verifier,
            "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
        )
        .expect("start");
        assert_eq!(
            server_first,
            "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096"
        );
        let server_final = exchange
            .finish("c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=")
            .expect("proof accepted");
        assert_eq!(
            server_final,
            "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4="
        );
    }

    #[test]
    fn wrong_password_and_tampered_messages_are_refused() {
        let verifier = Verifier::new("right horse", 4096).expect("verifier");
        let first = "n,,n=,r=abcdef";
        let (exchange, sf) = Exchange::start(first, verifier.clone(), "XYZ").expect("start");
        let good = client_final("right horse", &verifier.salt, 4096, first, &sf);
        assert!(exchange.finish(&good).is_ok());
        let wrong = client_final("wrong horse", &verifier.salt, 4096, first, &sf);
        assert_eq!(exchange.finish(&wrong), Err(Failure::WrongPassword));
        let other_nonce = good.replace("r=abcdefXYZ", "r=abcdefXYW");
        assert!(matches!(
            exchange.finish(&other_nonce),
            Err(Failure::Protocol(_))
        ));
        assert!(matches!(
            Exchange::start("p=tls-server-end-point,,n=,r=a", verifier, "X"),
            Err(Failure::Protocol(_))
        ));
    }

    #[test]
    fn verifier_text_round_trips_and_bad_text_is_refused() {
        let v = Verifier::new("s3cret", 4096).expect("verifier");
        let text = v.to_text();
        assert!(text.starts_with("SCRAM-SHA-256$4096:"), "{text}");
        assert!(!text.contains("s3cret"));
        assert_eq!(Verifier::parse(&text).expect("parse"), v);
        for bad in [
            "s3cret",
            "md5abcdef",
            "SCRAM-SHA-256$4096:c2FsdA==$AAAA:AAAA",
            "SCRAM-SHA-256$0:c2FsdA==$x:y",
        ] {
            assert!(Verifier::parse(bad).is_err(), "{bad}");
        }
        // Two verifiers of one password differ (random salt).
        assert_ne!(Verifier::new("s3cret", 4096).expect("v").to_text(), text);
    }
}
