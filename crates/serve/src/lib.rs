//! acrm's serving layer: the warehouse for BI tools and notebooks over the PostgreSQL wire
//! protocol, and the same SQL on a Ballista cluster.
//!
//! `acrm serve` ([`server::Server`]) authenticates every connection with SCRAM-SHA-256
//! against users of a configuration file ([`config`]), serves each role its own engine
//! (PII masked unless privileged, rows limited to a branch-hierarchy scope behind a
//! security barrier), lets only read-only statements of bounded size and nesting through
//! ([`statement`]), answers transaction control and session parameters as a read-only
//! PostgreSQL does (`transaction`, `settings`), serves `pg_catalog` with the warehouse's
//! comments and keys and PostgreSQL's `version()` (`catalog`), makes the SQL drivers send
//! plannable without changing its answer (`compat`), bounds every statement by a timeout
//! and a memory pool of its own, runs queries apart from the protocol so logins stay quick,
//! picks up newly published warehouse versions, and audits each statement without its text
//! ([`audit`]).
//!
//! Defences against hostile clients, each at its cause: message sizes bounded before and
//! after login and writes bounded by the statement deadline (`wire`), pending logins
//! bounded per address and failed logins slowed per address (`gate`), a short login
//! timeout (`connection`), large stacks and a nesting limit for deep expressions
//! (`lanes`, [`statement`]), results streamed with backpressure (`query`).
#![warn(missing_docs)]

pub mod audit;
mod auth;
mod catalog;
#[cfg(feature = "cluster")]
pub mod cluster;
mod compat;
pub mod config;
mod connection;
mod engines;
mod error;
mod gate;
mod lanes;
mod query;
pub mod scram;
pub mod server;
mod session;
mod settings;
pub mod statement;
mod transaction;
mod wire;

/// Stack of the threads that parse and plan statements (deep expressions recurse): what a
/// caller checking statements outside the server should give its thread too.
pub use lanes::STACK_BYTES as PLANNER_STACK_BYTES;

pub use config::ServeConfig;
pub use error::{Error, Result};
pub use server::Server;
