//! The JSONL export reader with the sample's mapping: any bytes stage as rows loaded or
//! quarantined, each quarantined row naming its line ([`acrm_fuzz::exports::stage`]).
#![no_main]

use acrm_etl::config::Format;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| acrm_fuzz::exports::stage(Format::Jsonl, data));
