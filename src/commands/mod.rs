//! One module a command: its flags (clap `Args`) and its `run`, calling a library and
//! printing through [`crate::output`].

pub mod build;
pub mod campaign;
pub mod catalog;
pub mod champion;
pub mod generate;
pub mod identity;
pub mod mine;
pub mod models;
pub mod monitor;
pub mod publish;
pub mod query;
pub mod report;
pub mod schema;
pub mod serve;
pub mod shell;
pub mod sql;
pub mod warehouse;
