//! acrm's serving layer: the warehouse for BI tools and notebooks over the PostgreSQL wire
//! protocol, and the same SQL on a Ballista cluster.
//!
//! `acrm serve` ([`server::Server`]) authenticates every connection with SCRAM-SHA-256
//! against users of a configuration file ([`config`]), serves each role its own engine
//! (PII masked unless privileged, rows limited to a branch-hierarchy scope), lets only
//! read-only statements through ([`statement`]), bounds every statement by a timeout and a
//! memory pool of its own, picks up newly published warehouse versions, and audits each
//! statement without its text ([`audit`]).
#![warn(missing_docs)]

pub mod audit;
mod auth;
pub mod cluster;
pub mod config;
mod engines;
mod error;
mod query;
pub mod scram;
pub mod server;
mod session;
pub mod statement;

pub use config::ServeConfig;
pub use error::{Error, Result};
pub use server::Server;
