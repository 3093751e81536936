//! End-to-end tests of the `acrm` binary: each drives the real executable over real export
//! files in its own temporary folder and checks what it published against the generator's
//! planted truth. One test binary (modules per area) so the workspace links once.

mod common;

mod build_sample;
mod campaign;
mod charts;
mod clients;
#[cfg(feature = "cluster")]
mod cluster;
mod config_errors;
mod help_examples;
mod incremental;
mod messy_exports;
mod mining;
mod models;
mod olap;
mod reliability;
mod serve;
mod serve_attacks;
mod serve_fuzz;
mod serve_protocol;
mod structure;
mod targeting;
